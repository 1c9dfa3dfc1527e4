//! The event loop of `tcplab run`: one host stack on a TUN device, driven
//! by the real clock.
//!
//! Each turn: read every datagram the kernel queued on the device (through
//! the receive-side impairments) and hand it to the stack; deliver delayed
//! datagrams that are due; fire the stack's and the applications' timers;
//! run the applications and send what the stack emits (through the
//! send-side impairments); serve the control socket. Then sleep in `poll`
//! until the device or the control socket has something or the next
//! deadline comes — no busy polling, no fixed tick.

use std::cell::RefCell;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tcplab_host::{Host, Names, OutputChunk, Pid, ResolverConfig, Signal, Stream};
use tcplab_link::{Copies, Direction, LinkParams, Offer};
use tcplab_stack::tcp::SocketSnapshot;
use tcplab_stack::{Config, IfaceId, Instant, Rng, Stack, TcpState};
use tcplab_wire::pcap::{LinkType, PcapWriter};

use crate::control::{ClientInput, ControlServer, INPUT_HIGH};
use crate::device::{Device, DeviceSpec, Received, SetupError};
use crate::fs::RealFs;
use crate::gso::Coalescer;
use crate::sys::{self, Wait};

/// Output of an attached command not yet written to its client at most,
/// before the command is told its writes are not done.
const OUTPUT_HIGH: usize = 1 << 20;

/// A command the launcher started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    pub pid: Pid,
    /// A server that runs until stopped.
    pub daemon: bool,
    /// It reads its standard input (nc): the terminal's input goes to it.
    pub reads_stdin: bool,
}

/// Starts tool commands on a host (the cli gives the tools crate's).
pub trait Launcher {
    /// Start `cmdline`, its standard output and error terminals or not.
    fn start(&self, host: &Host, cmdline: &str, terminal: (bool, bool))
        -> Result<Launched, String>;
}

/// Everything `tcplab run` was told.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub device: DeviceSpec,
    pub gateway: Option<Ipv4Addr>,
    pub seed: u64,
    /// Impairments of each direction across the device.
    pub impair: Option<LinkParams>,
    pub pcap: Option<PathBuf>,
    pub nameservers: Vec<Ipv4Addr>,
    /// The stack's TCP settings (`--cc`, `--no-sack`, `--no-timestamps`).
    pub tcp: tcplab_stack::tcp::TcpConfig,
    /// Record the run for a report (`--report`): filled as it runs.
    pub record: Option<Rc<RefCell<TunRecording>>>,
}

/// Datagrams recorded at most; later ones are counted only.
pub const MAX_RECORDED: usize = 1_000_000;

/// The stack's TCP events recorded at most (as the simulator's
/// recording: its state changes, timers and congestion samples).
pub const MAX_TCP_EVENTS: usize = 2_000_000;

/// Bytes of each datagram kept (every IPv4 and TCP header).
pub const RECORDED_HEAD: usize = 120;

/// One datagram across the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunPacket {
    /// When the stack sent it, or when it came from the kernel.
    pub time: Instant,
    /// From the kernel to the stack (else the stack to the kernel).
    pub to_stack: bool,
    pub len: usize,
    pub head: Box<[u8]>,
    /// When it reached the other side; `None`: an impairment lost it, or
    /// the device's queue was full.
    pub arrived: Option<Instant>,
}

/// What `tcplab run --report` records: the datagrams across the device,
/// the stack's TCP events, and the processes' output.
#[derive(Debug, Default)]
pub struct TunRecording {
    pub packets: Vec<TunPacket>,
    pub unrecorded: u64,
    pub tcp: Vec<tcplab_stack::tcp::TraceEvent>,
    /// TCP events past [`MAX_TCP_EVENTS`], not recorded.
    pub tcp_unrecorded: u64,
    pub output: Vec<OutputChunk>,
    /// When the run ended.
    pub end: Instant,
}

impl TunRecording {
    /// Record a datagram; its index, to say later when it arrived.
    fn note(
        &mut self,
        time: Instant,
        to_stack: bool,
        bytes: &[u8],
        arrived: Option<Instant>,
    ) -> Option<usize> {
        if self.packets.len() >= MAX_RECORDED {
            self.unrecorded += 1;
            return None;
        }
        self.packets.push(TunPacket {
            time,
            to_stack,
            len: bytes.len(),
            head: bytes[..bytes.len().min(RECORDED_HEAD)].into(),
            arrived,
        });
        Some(self.packets.len() - 1)
    }

    /// A recorded datagram (its first copy) reached the other side.
    fn reached(&mut self, index: Option<usize>, at: Instant) {
        if let Some(p) = index.and_then(|i| self.packets.get_mut(i)) {
            p.arrived.get_or_insert(at);
        }
    }
}

/// The real clock, as the stack's `Instant` since the start.
#[derive(Debug)]
struct Clock {
    start: std::time::Instant,
}

impl Clock {
    #[allow(clippy::disallowed_methods)] // the runtime is where real time enters
    fn new() -> Clock {
        Clock {
            start: std::time::Instant::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }
}

/// A datagram held back by the delay impairment.
#[derive(Debug, PartialEq, Eq)]
struct Delayed {
    at: Instant,
    seq: u64,
    to_stack: bool,
    /// The device it arrived on or leaves by.
    device: usize,
    bytes: Vec<u8>,
    /// Its index in the recording, if one is kept.
    record: Option<usize>,
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // A min-heap on (time, order of arrival).
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Where the output of each process goes: the terminal of `tcplab run`, or
/// the control client that started it.
#[derive(Default)]
struct Routes {
    /// pid → index of the control client.
    client_of: BTreeMap<Pid, usize>,
    /// Output for control clients: (pid, stream, bytes).
    pending: Vec<(Pid, Stream, Vec<u8>)>,
}

/// Output for `tcplab run`'s own terminal, in order.
type TerminalQueue = Vec<(Stream, Vec<u8>)>;

/// What is on its way out of one device.
#[derive(Debug, Default)]
struct Outgoing {
    /// Segments being joined into one write.
    join: Coalescer,
    /// Their places in the recording.
    records: Vec<usize>,
}

type Recording = Option<Rc<RefCell<TunRecording>>>;

impl Outgoing {
    /// Write one datagram as it is.
    fn send(
        &mut self,
        device: &mut Device,
        bytes: &[u8],
        index: Option<usize>,
        now: Instant,
        drops: &mut u64,
        record: &Recording,
    ) {
        if sent(device.send(bytes), 1, drops) {
            mark_reached(record, index.into_iter(), now);
        }
    }

    /// Write the segments joined so far.
    fn flush(&mut self, device: &mut Device, now: Instant, drops: &mut u64, record: &Recording) {
        let segments = self.join.segments as u64;
        if let Some(write) = self.join.take() {
            if sent(device.send_with_header(write), segments, drops) {
                mark_reached(record, self.records.iter().copied(), now);
            }
        }
        self.records.clear();
    }
}

/// Pass an attached client's signals to its command at once and its input
/// in order, while the command's standard input has room (the rest waits
/// in the client, bounded by its window: see `Client::acknowledge`), then
/// acknowledge what the command has read.
fn feed_client(c: &mut crate::control::Client, host: &Host) {
    let Some(pid) = c.pid else { return };
    let mut held = Vec::new();
    for input in std::mem::take(&mut c.input) {
        match input {
            ClientInput::Signal(2) => host.signal(pid, Signal::Interrupt),
            ClientInput::Signal(3) => host.signal(pid, Signal::Quit),
            ClientInput::Signal(13) => host.signal(pid, Signal::Pipe(Stream::Stdout)),
            ClientInput::Signal(_) => host.signal(pid, Signal::Terminate),
            other if !held.is_empty() || host.stdin_queued(pid) >= INPUT_HIGH => held.push(other),
            ClientInput::Stdin(bytes) => {
                c.fed += bytes.len() as u64;
                host.feed_stdin(pid, &bytes);
            }
            ClientInput::StdinClosed => host.close_stdin(pid),
        }
    }
    c.input = held;
    // What the command has read of it so far.
    let queued = host.stdin_queued(pid) as u64;
    c.acknowledge(c.fed.saturating_sub(queued));
}

/// Whether a write went out; counts the datagrams lost if not.
fn sent(outcome: std::io::Result<bool>, datagrams: u64, drops: &mut u64) -> bool {
    let ok = matches!(outcome, Ok(true));
    if !ok {
        *drops += datagrams;
    }
    ok
}

fn mark_reached(record: &Recording, indices: impl Iterator<Item = usize>, at: Instant) {
    if let Some(r) = record {
        let mut r = r.borrow_mut();
        for i in indices {
            r.reached(Some(i), at);
        }
    }
}

/// The parts of a run the loop works on.
struct Runner {
    host: Host,
    /// The devices and the stack interface each one is.
    devices: Vec<(Device, IfaceId)>,
    /// What leaves by each device, in the same order.
    outgoing: Vec<Outgoing>,
    clock: Clock,
    tx: Option<Direction>,
    rx: Option<Direction>,
    delayed: BinaryHeap<Delayed>,
    seq: u64,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    /// Wall-clock time of the start, for pcap timestamps.
    epoch: Duration,
    /// Datagrams lost because the device's queue was full.
    pub send_drops: u64,
    /// The buffer datagrams are read into (64 KiB, kept between turns).
    rx_buf: Vec<u8>,
    /// What a recording run keeps (`RunOptions::record`).
    record: Option<Rc<RefCell<TunRecording>>>,
}

/// Write a datagram to the capture, if there is one (wall-clock stamps:
/// `epoch` plus the run's time).
fn capture_to(
    pcap: &mut Option<PcapWriter<BufWriter<File>>>,
    epoch: Duration,
    now: Instant,
    bytes: &[u8],
) {
    if let Some(p) = pcap {
        let t = epoch + Duration::from_micros(now.total_micros());
        let _ = p.write_packet(t, bytes);
    }
}

impl Runner {
    fn capture(&mut self, now: Instant, bytes: &[u8]) {
        capture_to(&mut self.pcap, self.epoch, now, bytes);
    }

    /// A datagram from the kernel, through the receive-side impairments
    /// (without any, straight to the stack: no copy).
    fn arrived(&mut self, now: Instant, device: usize, bytes: &[u8]) {
        self.capture(now, bytes);
        let iface = self.devices[device].1;
        let record = self
            .record
            .as_ref()
            .and_then(|r| r.borrow_mut().note(now, true, bytes, None));
        let copies = match &mut self.rx {
            None => {
                self.reached(record, now);
                self.host.handle_packet(now, iface, bytes);
                return;
            }
            Some(d) => match d.offer(now, bytes.to_vec()) {
                Offer::Dropped => Copies::new(),
                Offer::Sent(v) => v,
            },
        };
        for (at, b) in copies {
            if at <= now {
                self.reached(record, now);
                self.host.handle_packet(now, iface, &b);
            } else {
                self.seq += 1;
                self.delayed.push(Delayed {
                    at,
                    seq: self.seq,
                    to_stack: true,
                    device,
                    bytes: b,
                    record,
                });
            }
        }
    }

    /// Say in the recording that a datagram reached the other side.
    fn reached(&self, record: Option<usize>, at: Instant) {
        if let Some(r) = &self.record {
            r.borrow_mut().reached(record, at);
        }
    }

    /// A datagram from the stack, through the send-side impairments.
    fn departing(&mut self, now: Instant, device: usize, bytes: Vec<u8>) {
        let record = self
            .record
            .as_ref()
            .and_then(|r| r.borrow_mut().note(now, false, &bytes, None));
        let copies = match &mut self.tx {
            None => Copies::from_iter([(now, bytes)]),
            Some(d) => match d.offer(now, bytes) {
                Offer::Dropped => Copies::new(),
                Offer::Sent(v) => v,
            },
        };
        for (at, b) in copies {
            if at <= now {
                if self.write(now, device, &b) {
                    self.reached(record, now);
                }
            } else {
                self.seq += 1;
                self.delayed.push(Delayed {
                    at,
                    seq: self.seq,
                    to_stack: false,
                    device,
                    bytes: b,
                    record,
                });
            }
        }
    }

    /// Write to the device; false if its queue was full.
    fn write(&mut self, now: Instant, device: usize, bytes: &[u8]) -> bool {
        self.capture(now, bytes);
        match self.devices[device].0.send(bytes) {
            Ok(true) => true,
            Ok(false) | Err(_) => {
                self.send_drops += 1;
                false
            }
        }
    }

    /// Run the host and send what it emits.
    fn service(&mut self, now: Instant) {
        if self.tx.is_none() {
            // No send-side impairments: each datagram goes to its device as
            // the host emits it — written at once from the host's buffer,
            // or, on a device with offloads, copied into the write that
            // joins consecutive segments of one connection for the kernel
            // to segment (`gso`); the capture and the recording see each.
            let Runner {
                host,
                devices,
                outgoing,
                pcap,
                epoch,
                send_drops,
                record,
                ..
            } = self;
            host.service(now, &mut |t, bytes| {
                let Some(d) = devices.iter().position(|(_, i)| *i == t.iface) else {
                    return;
                };
                capture_to(pcap, *epoch, now, bytes);
                let index = record
                    .as_ref()
                    .and_then(|r| r.borrow_mut().note(now, false, bytes, None));
                let (device, out) = (&mut devices[d].0, &mut outgoing[d]);
                if device.offloads() {
                    if !out.join.push(bytes) {
                        out.flush(device, now, send_drops, record);
                        if !out.join.push(bytes) {
                            out.send(device, bytes, index, now, send_drops, record);
                            return;
                        }
                    }
                    out.records.extend(index);
                } else {
                    out.send(device, bytes, index, now, send_drops, record);
                }
            });
            for (d, out) in outgoing.iter_mut().enumerate() {
                out.flush(&mut devices[d].0, now, send_drops, record);
            }
            self.take_trace();
            return;
        }
        let mut out: Vec<(IfaceId, Vec<u8>)> = Vec::new();
        self.host
            .service(now, &mut |t, bytes| out.push((t.iface, bytes.to_vec())));
        for (iface, b) in out {
            if let Some(d) = self.devices.iter().position(|(_, i)| *i == iface) {
                self.departing(now, d, b);
            }
        }
        self.take_trace();
    }

    /// Move what the stack recorded into the recording.
    fn take_trace(&mut self) {
        if let Some(r) = &self.record {
            let events = self.host.with_stack(|s| s.take_trace());
            let mut r = r.borrow_mut();
            let room = MAX_TCP_EVENTS.saturating_sub(r.tcp.len());
            r.tcp_unrecorded += events.len().saturating_sub(room) as u64;
            r.tcp.extend(events.into_iter().take(room));
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [self.host.poll_timeout(), self.delayed.peek().map(|d| d.at)]
            .into_iter()
            .flatten()
            .min()
    }

    /// One turn of the loop at `now`.
    fn turn(&mut self, now: Instant) -> std::io::Result<()> {
        // The receive buffer is the runner's, kept from turn to turn.
        let mut buf = std::mem::take(&mut self.rx_buf);
        buf.resize(Device::RECV_BUF, 0);
        let read = self.read_devices(now, &mut buf);
        self.rx_buf = buf;
        read?;
        let now = self.clock.now().max(now);
        while self.delayed.peek().is_some_and(|d| d.at <= now) {
            let d = self.delayed.pop().expect("peeked");
            if d.to_stack {
                let iface = self.devices[d.device].1;
                self.reached(d.record, now);
                self.host.handle_packet(now, iface, &d.bytes);
            } else if self.write(now, d.device, &d.bytes) {
                self.reached(d.record, now);
            }
        }
        self.host.handle_timeout(now);
        self.service(now);
        Ok(())
    }

    /// Read what the devices have, into `buf`: a bounded batch per device,
    /// so that a flood cannot starve the timers or the other device.
    fn read_devices(&mut self, now: Instant, buf: &mut [u8]) -> std::io::Result<()> {
        for d in 0..self.devices.len() {
            for _ in 0..1024 {
                match self.devices[d].0.recv(buf)? {
                    // Each datagram is stamped when it was read, not when
                    // the batch began: traceroute's probes of one batch
                    // come back at different times and show it.
                    Received::Datagram(range) => {
                        let at = self.clock.now().max(now);
                        self.arrived(at, d, &buf[range]);
                    }
                    Received::Dropped => {}
                    Received::Nothing => break,
                }
            }
        }
        Ok(())
    }

    /// Reset every open connection (as a kernel does when a process with
    /// connections is killed) and send the resets.
    fn abort_all(&mut self, now: Instant) {
        // What the emulated link still holds (a --rate queue, --delay)
        // goes out first, in its order: it was on the wire before the
        // resets, and a reset behind it carries the sequence number the
        // peer then expects (one ahead of it is discarded, RFC 5961 §3.2).
        self.flush_delayed(now);
        self.host.with_stack(|s| {
            for (h, snap) in s.tcp_sockets() {
                if let SocketSnapshot::Connection(info) = snap {
                    if !matches!(info.state, TcpState::TimeWait | TcpState::Closed) {
                        s.tcp_abort(now, h);
                    }
                }
            }
        });
        self.host.shutdown();
        self.service(now);
        self.flush_delayed(now);
    }

    /// Write every delayed datagram for the kernel now, earliest first
    /// (the heap pops in time order); those for the stack are dropped.
    fn flush_delayed(&mut self, now: Instant) {
        while let Some(d) = self.delayed.pop() {
            if !d.to_stack && self.write(now, d.device, &d.bytes) {
                self.reached(d.record, now);
            }
        }
    }
}

/// The hosts file of this machine, for names on the TUN host.
fn etc_hosts() -> Names {
    std::fs::read_to_string("/etc/hosts")
        .map(|text| Names::from_hosts_file(&text))
        .unwrap_or_default()
}

#[allow(clippy::disallowed_methods)] // pcap timestamps are wall-clock time
fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Set up the device and the stack, run `command` (and whatever the
/// control socket brings) until it ends or a signal arrives, tear down.
/// Returns the command's exit status.
pub fn run(
    opts: &RunOptions,
    command: &str,
    launcher: &dyn Launcher,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SetupError> {
    let spec = &opts.device;
    let mut stack = Stack::new(Config {
        seed: opts.seed,
        tcp: opts.tcp.clone(),
        ..Config::default()
    });
    let iface = stack
        .add_interface(&spec.name, spec.addr, spec.mtu)
        .map_err(|e| SetupError(format!("{}: {e}", spec.name)))?;
    if let Some(gw) = opts.gateway {
        stack
            .set_default_gateway(gw)
            .map_err(|e| SetupError(format!("--gateway {gw}: {e}")))?;
    }
    let host = Host::new(&spec.name, stack);
    host.set_resolver(ResolverConfig {
        nameservers: opts.nameservers.clone(),
        ..ResolverConfig::default()
    });
    let device = Device::open(spec)?;
    let devices = vec![(device, iface)];
    drive(
        host,
        devices,
        opts.impair.clone(),
        opts.pcap.as_deref(),
        opts.seed,
        Some(command),
        opts.record.clone(),
        launcher,
        out,
        err,
    )
}

/// What `tcplab route` is told: the devices (each an interface of the
/// router), the static routes, and the packet policy.
#[derive(Debug, Clone)]
pub struct RouteOptions {
    pub devices: Vec<DeviceSpec>,
    /// Extra routes (destination, gateway) beyond the connected prefixes.
    pub routes: Vec<(tcplab_wire::Cidr, Ipv4Addr)>,
    pub seed: u64,
    pub pcap: Option<PathBuf>,
}

/// Builds a router's packet policy from its interfaces' indices.
pub type Policy<'a> = dyn Fn(&[IfaceId]) -> tcplab_netfilter::Netfilter + 'a;

/// Run a router between TUN devices until a signal arrives. `policy`
/// builds the packet policy once the interfaces exist (it is given each
/// device's interface index); `None` forwards everything.
pub fn route(
    opts: &RouteOptions,
    policy: Option<&Policy<'_>>,
    launcher: &dyn Launcher,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SetupError> {
    let mut stack = Stack::new(Config {
        seed: opts.seed,
        ..Config::router()
    });
    let mut ifaces = Vec::new();
    for spec in &opts.devices {
        ifaces.push(
            stack
                .add_interface(&spec.name, spec.addr, spec.mtu)
                .map_err(|e| SetupError(format!("{}: {e}", spec.name)))?,
        );
    }
    for (dest, gw) in &opts.routes {
        stack
            .add_route(*dest, *gw)
            .map_err(|e| SetupError(format!("route {dest} via {gw}: {e}")))?;
    }
    let name = opts
        .devices
        .first()
        .map(|d| d.name.clone())
        .ok_or_else(|| SetupError("a router needs at least one --tun".into()))?;
    let host = Host::new(&name, stack);
    if let Some(build) = policy {
        host.install_netfilter(build(&ifaces));
    }
    let mut devices = Vec::new();
    for (spec, iface) in opts.devices.iter().zip(ifaces) {
        devices.push((Device::open(spec)?, iface));
    }
    let list: Vec<String> = opts
        .devices
        .iter()
        .map(|d| {
            let ns = d
                .netns
                .as_ref()
                .map(|n| format!(" in netns {n}"))
                .unwrap_or_default();
            format!("{} {} (kernel {}{ns})", d.name, d.addr, d.peer)
        })
        .collect();
    let _ = writeln!(err, "tcplab route: {}; Ctrl-C stops", list.join(", "));
    let code = drive(
        host.clone(),
        devices,
        None,
        opts.pcap.as_deref(),
        opts.seed,
        None,
        None,
        launcher,
        out,
        err,
    )?;
    let ip = host.with_stack(|s| s.stats().ip);
    let _ = writeln!(
        err,
        "tcplab route: forwarded {} datagrams; dropped {} by policy, {} with no route",
        ip.forw_datagrams, ip.filtered, ip.out_no_routes
    );
    Ok(code)
}

/// The loop: `command` (if any) on the host, the control socket of the
/// first device, until the command ends or a signal arrives.
#[allow(clippy::too_many_arguments)]
fn drive(
    host: Host,
    devices: Vec<(Device, IfaceId)>,
    impair: Option<LinkParams>,
    pcap: Option<&std::path::Path>,
    seed: u64,
    command: Option<&str>,
    record: Option<Rc<RefCell<TunRecording>>>,
    launcher: &dyn Launcher,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SetupError> {
    let name = devices[0].0.name.clone();
    if record.is_some() {
        host.with_stack(|s| s.set_tracing(true));
    }
    host.set_epoch(wall_clock());
    host.use_os_random();
    host.set_fs(Rc::new(RealFs::new()));
    host.set_names(Rc::new(RefCell::new(etc_hosts())));
    let pcap = match pcap {
        Some(path) => {
            let f = File::create(path).map_err(|e| {
                SetupError(format!(
                    "cannot create {}: {}",
                    path.display(),
                    crate::device::os_text(&e)
                ))
            })?;
            Some(
                PcapWriter::new(BufWriter::new(f), LinkType::Raw)
                    .map_err(|e| SetupError(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let mut control = ControlServer::open(&name)?;

    // Ctrl-C and SIGTERM go to the command, which decides (ping prints
    // its statistics); a second one, or any for a router, stops the run.
    // Ctrl-\ (SIGQUIT) goes to the command too (ping prints a status line
    // and goes on, others stop) and never stops the run itself.
    let interrupt = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    let quit = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGINT, &interrupt),
        (signal_hook::consts::SIGTERM, &terminate),
        (signal_hook::consts::SIGQUIT, &quit),
    ] {
        signal_hook::flag::register(sig, flag.clone())
            .map_err(|e| SetupError(format!("cannot handle signals: {e}")))?;
    }

    let routes: Rc<RefCell<Routes>> = Rc::default();
    let terminal: Rc<RefCell<TerminalQueue>> = Rc::default();
    {
        let routes = routes.clone();
        let terminal = terminal.clone();
        let record = record.clone();
        host.set_output_written_later();
        host.set_output(Rc::new(move |chunk: OutputChunk| {
            if let Some(r) = &record {
                r.borrow_mut().output.push(chunk.clone());
            }
            let mut r = routes.borrow_mut();
            if r.client_of.contains_key(&chunk.pid) {
                r.pending.push((chunk.pid, chunk.stream, chunk.bytes));
            } else {
                terminal.borrow_mut().push((chunk.stream, chunk.bytes));
            }
        }));
    }

    let mut rng = Rng::new(seed ^ 0x7475_6e21);
    let mut runner = Runner {
        host: host.clone(),
        outgoing: devices.iter().map(|_| Outgoing::default()).collect(),
        devices,
        clock: Clock::new(),
        tx: impair.clone().map(|p| Direction::new(p, rng.fork())),
        rx: impair.map(|p| Direction::new(p, rng.fork())),
        delayed: BinaryHeap::new(),
        seq: 0,
        pcap,
        epoch: wall_clock(),
        send_drops: 0,
        rx_buf: Vec::new(),
        record: record.clone(),
    };

    // No command: a server (the router) until stopped.
    use std::io::IsTerminal;
    let own_terminal = (
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );
    let main = match command {
        Some(c) => Some(launcher.start(&host, c, own_terminal).map_err(SetupError)?),
        None => None,
    };
    let daemon = main.is_none_or(|m| m.daemon);
    // The command's standard input is ours, if it reads any.
    let mut stdin_open = main.is_some_and(|m| m.reads_stdin);
    if let Some(m) = main {
        if !m.reads_stdin {
            host.close_stdin(m.pid);
        }
    }
    // Returns whether standard output / error lost their reader (EPIPE:
    // `tcplab run -- curl ... | head -c 100`).
    let flush_terminal = |out: &mut dyn Write, err: &mut dyn Write| {
        let mut broken = (false, false);
        let gone =
            |r: std::io::Result<()>| r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        for (stream, bytes) in terminal.borrow_mut().drain(..) {
            match stream {
                Stream::Stdout => broken.0 |= gone(out.write_all(&bytes)),
                Stream::Stderr => broken.1 |= gone(err.write_all(&bytes)),
            }
        }
        broken.0 |= gone(out.flush());
        broken.1 |= gone(err.flush());
        broken
    };
    // SIGPIPE is sent once per stream, as the kernel's first EPIPE would.
    let mut piped = (false, false);
    let mut signalled = 0;

    let code = loop {
        let now = runner.clock.now();
        runner
            .turn(now)
            .map_err(|e| SetupError(format!("{name}: {e}")))?;
        // Control clients: start their commands, pass their input and
        // signals, forward their output.
        control.poll();
        for (i, c) in control.clients.iter_mut().enumerate() {
            if c.pid.is_none() && !c.finished {
                if let Some(req) = c.request.clone() {
                    match launcher.start(&host, &req.cmdline, req.terminal) {
                        Ok(l) => {
                            // Its relative paths start where it was run.
                            if let Some(dir) = req.cwd.clone() {
                                host.set_process_fs(l.pid, Some(Rc::new(RealFs::in_dir(dir))));
                            }
                            c.pid = Some(l.pid);
                            routes.borrow_mut().client_of.insert(l.pid, i);
                        }
                        Err(e) => {
                            c.output(true, format!("tcplab: {e}\n").as_bytes());
                            c.exit(127);
                        }
                    }
                }
            }
            feed_client(c, &host);
        }
        // Our own standard input, for the command, while it has room for
        // more (a pipe's writer blocks once the pipe is full).
        let stdin_room = main.is_some_and(|m| host.stdin_queued(m.pid) < INPUT_HIGH);
        if stdin_open && stdin_room {
            let mut ready = [Wait::read(0)];
            if sys::poll(&mut ready, Some(Duration::ZERO)).is_ok() && ready[0].ready {
                let mut buf = [0u8; 16384];
                let pid = main.map(|m| m.pid).expect("stdin is read for a command");
                match std::io::Read::read(&mut std::io::stdin().lock(), &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        host.close_stdin(pid);
                    }
                    Ok(n) => host.feed_stdin(pid, &buf[..n]),
                }
            }
        }
        // Signals for us.
        if quit.swap(false, Ordering::Relaxed) {
            if let Some(m) = &main {
                host.signal(m.pid, Signal::Quit);
            }
        }
        for (flag, sig) in [
            (&interrupt, Signal::Interrupt),
            (&terminate, Signal::Terminate),
        ] {
            if flag.swap(false, Ordering::Relaxed) {
                signalled += 1;
                match main {
                    Some(m) if signalled == 1 => host.signal(m.pid, sig),
                    _ => signalled = 99,
                }
            }
        }
        // Commands may have output, or have ended.
        runner.service(now);
        {
            let mut r = routes.borrow_mut();
            for (pid, stream, bytes) in std::mem::take(&mut r.pending) {
                if let Some(&i) = r.client_of.get(&pid) {
                    if let Some(c) = control.clients.get_mut(i) {
                        c.output(stream == Stream::Stderr, &bytes);
                    }
                }
            }
        }
        for c in control.clients.iter_mut() {
            // The commands may have read their input: what was held comes
            // now and the client hears how much was read, before this loop
            // sleeps (a client at the end of its window sends nothing more
            // until it does, so nothing else would wake us for it).
            feed_client(c, &host);
            if let Some(pid) = c.pid {
                if c.gone {
                    host.kill(pid);
                } else if !c.finished {
                    if let Some(code) = host.process(pid).and_then(|p| p.exit) {
                        c.exit(code);
                    }
                }
            }
            c.flush();
        }
        {
            // Indices in `client_of` go stale when clients are reaped;
            // rebuild the map afterwards.
            control.reap();
            let mut r = routes.borrow_mut();
            let before = std::mem::take(&mut r.client_of);
            r.client_of = control
                .clients
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.pid.map(|p| (p, i)))
                .collect();
            // A reaped client's command keeps no file system of its own,
            // and nothing of it is held.
            for pid in before.keys().filter(|p| !r.client_of.contains_key(p)) {
                host.set_process_fs(*pid, None);
                host.hold_output(*pid, false);
            }
        }
        let broken = flush_terminal(out, err);
        if let Some(m) = main {
            for (now_broken, sent, stream) in [
                (broken.0, &mut piped.0, Stream::Stdout),
                (broken.1, &mut piped.1, Stream::Stderr),
            ] {
                if now_broken && !*sent {
                    *sent = true;
                    host.signal(m.pid, Signal::Pipe(stream));
                }
            }
        }
        // What waits for its output to be written may look now (an
        // attached client's output went to its socket above; a SIGPIPE
        // from its end comes later) — except a command whose client is
        // not reading what it wrote: that one waits, as a writer to a
        // full pipe does.
        for c in &control.clients {
            if let Some(pid) = c.pid {
                host.hold_output(pid, c.unsent() >= OUTPUT_HIGH);
            }
        }
        host.output_written();

        if let Some(code) = main.and_then(|m| host.process(m.pid)).and_then(|p| p.exit) {
            break code;
        }
        if signalled > 1 || (signalled > 0 && daemon && main.is_none()) {
            break if daemon { 0 } else { 130 };
        }

        let mut waits: Vec<Wait> = runner
            .devices
            .iter()
            .map(|(d, _)| Wait::read(d.fd()))
            .collect();
        waits.push(Wait::read(control.fd()));
        for c in &control.clients {
            waits.push(Wait {
                writable: c.wants_write(),
                ..Wait::read(c.fd())
            });
        }
        let stdin_room = main.is_some_and(|m| host.stdin_queued(m.pid) < INPUT_HIGH);
        if stdin_open && stdin_room {
            waits.push(Wait::read(0));
        }
        let timeout = runner.next_deadline().map(|d| {
            Duration::from_micros(
                d.total_micros()
                    .saturating_sub(runner.clock.now().total_micros()),
            )
        });
        sys::poll(&mut waits, timeout).map_err(|e| SetupError(format!("poll: {e}")))?;
    };

    let now = runner.clock.now();
    runner.abort_all(now);
    for (device, _) in &runner.devices {
        if device.malformed > 0 {
            let _ = writeln!(
                err,
                "tcplab: {}: dropped {} datagrams from the kernel with a malformed offload header",
                device.name, device.malformed
            );
        }
    }
    runner.take_trace();
    if let Some(r) = &runner.record {
        r.borrow_mut().end = now;
    }
    let _ = flush_terminal(out, err);
    if let Some(p) = &mut runner.pcap {
        let _ = p.flush();
    }
    Ok(code)
}
