//! Running a script against one tcplab stack on virtual time.
//!
//! The script's clock drives the stack: before an event at script time T
//! the runner moves the stack to T, firing its timers on the way and
//! recording every datagram it sends with the virtual time it left. An
//! inbound line is built and handed to the stack; an outbound line takes
//! the next recorded segment of the socket under test and checks it field
//! by field in packetdrill's order (`run_packet.c`), timing last. Nothing
//! sleeps and nothing touches a real network, so a run is a function of the
//! script and the profile.

mod code;
mod packet;
mod profile;
mod shell;
mod syscall;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_stack::socket::TcpHandle;
use tcplab_stack::tcp::SocketOptions;
use tcplab_stack::time::Instant;
use tcplab_stack::{Cidr, IfaceId, Stack};

use crate::{Action, Event, Script, Time};

pub use profile::Profile;

/// Parse `text` with `options.defines` and run it.
pub fn run_text(text: &str, options: &RunOptions) -> Result<Outcome, crate::Error> {
    let names: Vec<&str> = options.defines.iter().map(String::as_str).collect();
    let script = crate::parse(text, &names)?;
    Ok(run(&script, options))
}

/// The stack's address (packetdrill's `--local_ip` default).
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
/// The peer the script plays (`--remote_ip`).
pub const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The port a passive socket binds and `connect()` goes to.
pub const SCRIPT_PORT: u16 = 8080;
/// Script time 0 on the stack's clock (any origin works; not zero, so
/// "never" and "the start" stay apart).
const ORIGIN_US: u64 = 1_000_000;
/// Without a timer due, an outbound line waits at most this long past
/// its time before the runner gives up (packetdrill would wait for ever).
const GIVE_UP_US: i64 = 2_000_000;
/// The latest script time an event may have.
const MAX_SCRIPT_US: i64 = 24 * 3600 * 1_000_000;
/// How long a `*` outbound line waits for a packet (packetdrill: for ever;
/// ten minutes of virtual time here, past any retransmission timeout).
const GIVE_UP_STAR_US: i64 = 600_000_000;

/// `text` in at most `max` characters, cut with `…` (a report quotes a
/// script, which may be of any length).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Script time (µs) of a stack instant; far future saturates.
fn script_time(t: Instant) -> i64 {
    i64::try_from(t.total_micros())
        .unwrap_or(i64::MAX)
        .saturating_sub(ORIGIN_US as i64)
}

/// The share of the time since the previous event an event may be off
/// by, when the script and the command line do not say (nplab
/// packetdrill's on FreeBSD, whose suite tcplab runs).
pub const DEFAULT_TOLERANCE_PERCENT: f64 = 5.0;

/// Why a command line's tolerances cannot be used, if they cannot:
/// microseconds from 0 to a day, a percentage from 0 to 100.
pub fn check_tolerance(usecs: Option<i64>, percent: Option<f64>) -> Result<(), String> {
    if let Some(t) = usecs.filter(|t| !(0..=MAX_SCRIPT_US).contains(t)) {
        return Err(format!(
            "--tolerance-usecs {t}: expected 0 to {MAX_SCRIPT_US}"
        ));
    }
    if let Some(p) = percent.filter(|p| !(0.0..=100.0).contains(p)) {
        return Err(format!("--tolerance-percent {p}: expected 0 to 100"));
    }
    Ok(())
}

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides the script's `--tolerance_usecs`.
    pub tolerance_usecs: Option<i64>,
    /// Overrides the script's `--tolerance_percent`.
    pub tolerance_percent: Option<f64>,
    pub profile: Profile,
    /// Keep a line per event in [`Outcome::log`].
    pub verbose: bool,
    /// Seed of the stack's random choices (ISNs, ports).
    pub seed: u64,
    /// The definitions, `NAME` or `NAME=VALUE` (for `#ifdef`, and words
    /// that stand for values; with the FreeBSD profile, `FreeBSD` selects
    /// the branches that expect FreeBSD's own TIME-WAIT reopening).
    pub defines: Vec<String>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            tolerance_usecs: None,
            tolerance_percent: None,
            profile: Profile::Tcplab,
            verbose: false,
            seed: 1,
            defines: Vec::new(),
        }
    }
}

/// Why a script failed: packetdrill's message and the dump lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub line: usize,
    pub message: String,
    pub detail: Vec<String>,
}

impl Failure {
    fn at(line: usize, message: impl Into<String>) -> Failure {
        Failure {
            line,
            message: message.into(),
            detail: Vec::new(),
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<(), Failure>,
    /// With `verbose`: one line per event as it ran.
    pub log: Vec<String>,
    /// What the script's `%{ print(...) }%` blocks printed, in order.
    pub printed: Vec<String>,
}

/// Why a script cannot apply to tcplab at all, if so: one written for
/// IPv6 (`--ip_version=ipv6`, or the dual-stack `ipv4-mapped-ipv6`) tests
/// a protocol tcplab does not have. `run` reports such a script as a
/// failure; a runner over a suite counts it apart.
pub fn not_applicable(script: &Script) -> Option<String> {
    script.options.iter().find_map(|o| {
        let v = o.value.as_deref().unwrap_or("");
        (o.name == "ip_version" && v != "ipv4" && v.contains("ipv6"))
            .then(|| format!("--ip_version={v}: tcplab is an IPv4 stack"))
    })
}

/// Run a parsed script.
pub fn run(script: &Script, options: &RunOptions) -> Outcome {
    let mut r = match Runner::new(script, options) {
        Ok(r) => r,
        Err(f) => {
            return Outcome {
                result: Err(f),
                log: Vec::new(),
                printed: Vec::new(),
            }
        }
    };
    let result = r.run(script);
    Outcome {
        result,
        log: r.log,
        printed: r.printed,
    }
}

/// Where packetdrill's bookkeeping has a socket (`socket.h`'s states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SockState {
    New,
    Listening,
    PassivePacketReceived,
    SynackSent,
    SynackAcked,
    ActiveConnecting,
    SynSent,
    SynAcked,
}

/// One socket the script knows: packetdrill's script and live views of it
/// and the stack socket behind it.
#[derive(Debug, Clone)]
struct Sock {
    state: SockState,
    script_local_isn: u32,
    script_remote_isn: u32,
    live_local_isn: u32,
    live_remote_isn: u32,
    /// The live tuple; `None` until known.
    local: Option<SocketAddrV4>,
    remote: Option<SocketAddrV4>,
    /// The stack's socket, once there is one the runner holds.
    handle: Option<TcpHandle>,
    /// The script's fd for it.
    fd: Option<i64>,
    /// `close()` was called.
    closed: bool,
    /// `TCP_CONGESTION` as set, applied when the socket gets a
    /// connection or listens.
    congestion: Option<tcplab_stack::tcp::CongestionAlgorithm>,
    /// The listener a passive child belongs to.
    parent: Option<usize>,
    nonblocking: bool,
    /// `bind()` was called: the stack's socket holding the address until
    /// `listen()` (which makes it the listener) or `connect()`.
    bound: bool,
    bound_handle: Option<TcpHandle>,
    /// SO_RCVBUF, SO_SNDBUF, TCP_MAXSEG, TCP_KEEP*, IP_TOS and IP_TTL as set.
    opts: SocketOptions,
    /// Script TS val → live TS val of sent segments (§5.3 of the notes).
    ts_map: Vec<(u32, u32)>,
    /// The first sent TS val, in the script and live: the baseline that
    /// maps later live values into script space.
    first_ts: Option<(u32, u32)>,
    /// SO_ERROR was read: report no error again.
    error_taken: bool,
    /// SO_LINGER on with a zero timeout: close() aborts (a RST).
    linger_abort: bool,
    /// SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY and TCP_CORK as set.
    reuseaddr: bool,
    keepalive: bool,
    nodelay: bool,
    cork: bool,
    /// shutdown(SHUT_RD) or SHUT_RDWR: reads end at the queue's end.
    read_shut: bool,
    /// TCP_INQ (Linux): `recvmsg` reports the bytes left to read.
    inq: bool,
}

impl Sock {
    fn new(state: SockState) -> Sock {
        Sock {
            state,
            script_local_isn: 0,
            script_remote_isn: 0,
            live_local_isn: 0,
            live_remote_isn: 0,
            local: None,
            remote: None,
            handle: None,
            fd: None,
            closed: false,
            congestion: None,
            parent: None,
            nonblocking: false,
            bound: false,
            bound_handle: None,
            opts: SocketOptions::default(),
            ts_map: Vec::new(),
            first_ts: None,
            error_taken: false,
            linger_abort: false,
            reuseaddr: false,
            keepalive: false,
            nodelay: false,
            cork: false,
            inq: false,
            read_shut: false,
        }
    }
}

/// A datagram the stack sent, with its script time.
#[derive(Debug, Clone)]
struct Sent {
    at: i64,
    bytes: Vec<u8>,
}

/// A blocking call under way (`T1...T2 call(...)`).
#[derive(Debug, Clone)]
struct Blocking {
    line: usize,
    call: crate::Syscall,
    sock: usize,
    start: i64,
    end: i64,
}

struct Runner {
    stack: Stack,
    iface: IfaceId,
    options: RunOptions,
    /// Absolute tolerance (µs) and the percentage of the gap since the
    /// previous event; the larger of the two applies (packetdrill's
    /// run.c; the percentage is 5 in its FreeBSD build, nplab's
    /// config.c, 12.5 in Google's Linux one).
    tolerance: i64,
    tolerance_percent: f64,
    /// `--tcp_ts_tick_usecs` was given: sent TS vals are checked against
    /// the script's, within the tolerance (packetdrill's
    /// verify_outbound_tcp_option).
    ts_tick_usecs: Option<i64>,
    /// Script time (µs) the runner has reached.
    now: i64,
    /// The adjusted script time of the previous event.
    prev_time: i64,
    sent: VecDeque<Sent>,
    sockets: Vec<Sock>,
    /// The script fds of open sockets → their place in `sockets` (a
    /// script of many sockets looks each up without a scan).
    fds: std::collections::BTreeMap<i64, usize>,
    under_test: Option<usize>,
    next_remote_port: u16,
    blocking: Option<Blocking>,
    /// Settings the `sysctl` lines change (see `shell.rs`).
    sysctl: profile::Sysctl,
    /// Names the `%{ }%` blocks assigned (see `code.rs`).
    code_vars: std::collections::HashMap<String, code::Value>,
    printed: Vec<String>,
    log: Vec<String>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Runner {
    fn new(script: &Script, options: &RunOptions) -> Result<Runner, Failure> {
        let mut tolerance = 4_000;
        let mut tolerance_line = 1;
        let mut tolerance_percent = DEFAULT_TOLERANCE_PERCENT;
        let mut ts_tick_usecs = None;
        let mut mtu = 1500;
        for crate::ScriptOption { name, value, line } in &script.options {
            let line = *line;
            let int = |v: &Option<String>| -> Result<i64, Failure> {
                v.as_deref()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| Failure::at(line, format!("option --{name} needs a number")))
            };
            match name.as_str() {
                "tolerance_usecs" => {
                    tolerance = int(value)?;
                    tolerance_line = line;
                }
                "tolerance_percent" => {
                    tolerance_percent = value
                        .as_deref()
                        .and_then(|v| v.parse::<f64>().ok())
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(|| {
                            Failure::at(
                                line,
                                format!(
                                    "bad --tolerance_percent: {} (expected 0 to 100)",
                                    value.as_deref().unwrap_or("")
                                ),
                            )
                        })?;
                }
                "mtu" => mtu = int(value)?,
                "ip_version" => {
                    if value.as_deref() != Some("ipv4") {
                        return Err(Failure::at(
                            line,
                            format!(
                                "--ip_version={}: only ipv4 is supported (tcplab is an IPv4 stack)",
                                value.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                }
                // The TSval clock's tick: tcplab's ticks every millisecond
                // (Linux's too); scripts that assume another cannot match.
                "tcp_ts_tick_usecs" => {
                    let tick = int(value)?;
                    if tick != 1000 {
                        return Err(Failure::at(
                            line,
                            format!("--tcp_ts_tick_usecs={tick}: tcplab's TSval clock ticks every 1000 µs"),
                        ));
                    }
                    ts_tick_usecs = Some(tick);
                }
                _ => return Err(Failure::at(line, format!("option '{name}' unknown"))),
            }
        }
        if !(0..=MAX_SCRIPT_US).contains(&tolerance) {
            return Err(Failure::at(
                tolerance_line,
                format!("tolerance of {tolerance} µs: expected 0 to {MAX_SCRIPT_US}"),
            ));
        }
        // The command line's, checked by the caller (`check_tolerance`).
        if let Some(t) = options.tolerance_usecs {
            tolerance = t;
        }
        if let Some(p) = options.tolerance_percent {
            tolerance_percent = p;
        }
        let mtu = usize::try_from(mtu)
            .map_err(|_| Failure::at(1, format!("--mtu={mtu}: not a valid MTU")))?;
        let mut sysctl = profile::Sysctl::new(options.profile);
        if options
            .defines
            .iter()
            .any(|d| crate::define_name(d) == "FreeBSD")
        {
            sysctl.tcp.time_wait_reopen = true;
        }
        let config = sysctl.stack_config(options.seed);
        let mut stack = Stack::new(config);
        let iface = stack
            .add_interface(
                "tun0",
                Cidr::new(LOCAL_IP, 16).expect("a /16 is a valid prefix"),
                mtu,
            )
            .map_err(|e| Failure::at(1, format!("--mtu={mtu}: {e}")))?;
        stack
            .set_default_gateway(Ipv4Addr::new(192, 168, 0, 2))
            .map_err(|e| Failure::at(1, format!("gateway: {e}")))?;
        Ok(Runner {
            stack,
            iface,
            options: options.clone(),
            tolerance,
            tolerance_percent,
            ts_tick_usecs,
            now: 0,
            prev_time: 0,
            sent: VecDeque::new(),
            sockets: Vec::new(),
            fds: std::collections::BTreeMap::new(),
            under_test: None,
            next_remote_port: 47_000,
            blocking: None,
            sysctl,
            code_vars: std::collections::HashMap::new(),
            printed: Vec::new(),
            log: Vec::new(),
        })
    }

    fn instant(t: i64) -> Instant {
        Instant::from_micros(ORIGIN_US + t.max(0) as u64)
    }

    fn stack_now(&self) -> Instant {
        Runner::instant(self.now)
    }

    /// Move the stack to script time `t`: fire every timer due on the
    /// way and record what it sends.
    fn advance(&mut self, t: i64) -> Result<(), Failure> {
        loop {
            self.drain(self.now);
            self.check_blocking()?;
            match self.stack.poll_timeout() {
                Some(at) if at <= Runner::instant(t) => {
                    self.now = self.now.max(script_time(at));
                    self.stack.handle_timeout(Runner::instant(self.now));
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.stack.handle_timeout(self.stack_now());
        self.drain(self.now);
        self.check_blocking()
    }

    /// Record every datagram the stack has ready.
    fn drain(&mut self, at: i64) {
        let now = Runner::instant(at);
        let mut buf = Vec::new();
        while self.stack.poll_transmit(now, &mut buf).is_some() {
            self.sent.push_back(Sent {
                at,
                bytes: std::mem::take(&mut buf),
            });
        }
    }

    fn log(&mut self, line: usize, text: impl FnOnce() -> String) {
        if self.options.verbose {
            let t = self.now as f64 / 1e6;
            self.log.push(format!("{line}: {t:.6} {}", text()));
        }
    }

    /// The tolerance around an event `gap` µs after the previous one.
    fn tolerance_for(&self, gap: i64) -> i64 {
        // The product is below 2^63 µs: gaps are at most a day.
        let dynamic = (self.tolerance_percent / 100.0 * gap.max(0) as f64) as i64;
        self.tolerance.max(dynamic)
    }

    fn run(&mut self, script: &Script) -> Result<(), Failure> {
        // packetdrill runs the init command before the first event and
        // the cleanup command after the last.
        if let Some((line, cmd)) = &script.init {
            self.shell(*line, cmd)?;
        }
        for ev in &script.events {
            self.event(ev)?;
        }
        if let Some(b) = &self.blocking {
            return Err(Failure::at(
                b.line,
                "exiting while a blocking system call is in progress",
            ));
        }
        if let Some((line, cmd)) = &script.cleanup {
            self.shell(*line, cmd)?;
        }
        Ok(())
    }

    fn event(&mut self, ev: &Event) -> Result<(), Failure> {
        // nplab anchors a relative time on when the previous event ended.
        let (start, end) = match ev.time {
            Time::Absolute(t) => (Some(t), Some(t)),
            Time::Relative(d) => (Some(self.now + d), Some(self.now + d)),
            Time::Any => (None, None),
            Time::Range {
                start,
                end,
                relative,
            }
            | Time::Blocking {
                start,
                end,
                relative,
            } => {
                let base = if relative { self.now } else { 0 };
                (Some(base + start), Some(base + end))
            }
        };
        // Scripts describe seconds to hours; a day bounds the work.
        if [start, end]
            .into_iter()
            .flatten()
            .any(|t| t > MAX_SCRIPT_US)
        {
            return Err(Failure::at(
                ev.line,
                "event time beyond 24 hours of script time",
            ));
        }
        if let Action::Packet(p) = &ev.action {
            if p.direction == crate::Direction::Outbound {
                let r = self.outbound(ev.line, p, start, end);
                // `*` takes the time the packet was matched (run.c).
                self.prev_time = start.unwrap_or(self.now);
                return r;
            }
        }
        let Some(t) = start else {
            return Err(Failure::at(
                ev.line,
                "event time <star> can only be used with outbound packets",
            ));
        };
        let tol = self.tolerance_for(t - self.prev_time);
        if self.now > t + tol {
            let what = match &ev.action {
                Action::Packet(_) | Action::Icmp(_) => "inbound packet",
                Action::Syscall(_) => "system call start",
                Action::Shell(_) => "command",
                Action::Code(_) => "data collection for code",
            };
            return Err(Failure::at(
                ev.line,
                format!(
                    "timing error: expected {what} at {:.6} sec but happened at {:.6} sec",
                    t as f64 / 1e6,
                    self.now as f64 / 1e6
                ),
            ));
        }
        self.advance(t)?;
        self.prev_time = t;
        match &ev.action {
            Action::Packet(p) => self.inbound(ev.line, p),
            Action::Icmp(i) => self.inbound_icmp(ev.line, i),
            Action::Syscall(call) => {
                let blocking = matches!(ev.time, Time::Blocking { .. });
                self.syscall(ev.line, call, blocking.then(|| end.unwrap_or(t)))
            }
            Action::Shell(cmd) => self.shell(ev.line, cmd),
            Action::Code(code) => self.code(ev.line, code),
        }
    }
}
