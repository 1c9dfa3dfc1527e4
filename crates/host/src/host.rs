//! The `Host` handle: a stack, its applications, their timers and output.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use tcplab_stack::{IfaceId, Instant, SocketId, Stack, Transmit};

use crate::executor::{Executor, JoinHandle, Pid};
use crate::fs::{FileSystem, MemFs};
use crate::io::{IoTable, Output, OutputChunk, OutputSink, Signal, Signals, Stdin, Stream};
use crate::local::{LocalCost, LocalInfo, LocalNet};
use crate::names::{Names, ResolverConfig};
use crate::time::Sleep;
use crate::tundev::DeviceQueue;

/// A process as `ss -p` and the transcript know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: Pid,
    /// The program name ("ping", "nc", ...).
    pub name: String,
    /// The whole command line.
    pub cmdline: String,
    /// Exit status, once it exited.
    pub exit: Option<i32>,
}

struct Inner {
    name: Rc<str>,
    stack: RefCell<Stack>,
    now: Cell<Instant>,
    /// Wall-clock time (since the Unix epoch) at the host's time zero.
    epoch: Cell<Duration>,
    executor: Executor,
    timers: RefCell<BTreeMap<(Instant, u64), Waker>>,
    timer_deadlines: RefCell<BTreeMap<u64, Instant>>,
    next_timer: Cell<u64>,
    socket_wakers: RefCell<BTreeMap<SocketId, Vec<Waker>>>,
    names: RefCell<Rc<RefCell<Names>>>,
    resolver: RefCell<ResolverConfig>,
    fs: RefCell<Rc<dyn FileSystem>>,
    /// File systems of processes that see another one than the host's
    /// (an attached command's, with its own working directory).
    process_fs: RefCell<BTreeMap<Pid, Rc<dyn FileSystem>>>,
    local: Rc<RefCell<LocalNet>>,
    output: RefCell<Option<OutputSink>>,
    io: IoTable,
    next_pid: Cell<Pid>,
    current_pid: Cell<Option<Pid>>,
    /// How many processes have exited (`exits`).
    exits: Cell<u64>,
    processes: RefCell<BTreeMap<Pid, ProcessInfo>>,
    socket_owner: RefCell<BTreeMap<SocketId, (Pid, u32)>>,
    next_fd: RefCell<BTreeMap<Pid, u32>>,
    tx_buf: RefCell<Vec<u8>>,
    taps: RefCell<Vec<std::rc::Weak<RefCell<TapQueue>>>>,
    /// Applications' randomness comes from the operating system (over a
    /// TUN device) instead of the seed (the simulator).
    os_random: Cell<bool>,
    /// The driver writes output after its turns and says so
    /// ([`Host::output_written`]); the simulator takes it at once.
    driver_writes_later: Cell<bool>,
    /// Turns in which the driver wrote output, and who waits for one.
    writes: Cell<u64>,
    write_waiters: RefCell<Vec<Waker>>,
    /// Processes whose writes the driver holds back (their reader is
    /// behind): their waits for a write go on.
    output_held: RefCell<std::collections::BTreeSet<Pid>>,
    /// Tunnel interfaces and their devices' queues (see [`crate::tundev`]).
    tunnels: RefCell<Vec<(IfaceId, Rc<RefCell<DeviceQueue>>)>>,
}

/// Which way a tapped datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    In,
    Out,
}

/// A datagram seen by a tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    pub time: Instant,
    pub direction: TapDirection,
    pub iface: IfaceId,
    pub bytes: Vec<u8>,
}

/// Datagrams a tap has seen and not yet handed out.
#[derive(Debug, Default)]
pub struct TapQueue {
    queue: std::collections::VecDeque<Tapped>,
    /// Bytes the queue holds.
    bytes: usize,
    waker: Option<Waker>,
    dropped: u64,
}

/// Queue limit of a tap; beyond it datagrams are counted as dropped, as a
/// kernel's capture buffer drops them.
const TAP_LIMIT: usize = 4096;
/// And at most this many bytes (loopback datagrams are up to 64 KiB).
const TAP_BYTES: usize = 16 << 20;

/// A packet capture on a host's interfaces (what tcpdump reads).
#[derive(Debug)]
pub struct Tap {
    queue: Rc<RefCell<TapQueue>>,
}

impl Tap {
    /// The next datagram seen.
    pub async fn next(&self) -> Tapped {
        std::future::poll_fn(|cx| {
            let mut q = self.queue.borrow_mut();
            match q.queue.pop_front() {
                Some(t) => {
                    q.bytes -= t.bytes.len();
                    std::task::Poll::Ready(t)
                }
                None => {
                    q.waker = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
            }
        })
        .await
    }

    /// Datagrams lost because the tap's queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.borrow().dropped
    }
}

/// A host: cheap to clone, every clone is the same host.
#[derive(Clone)]
pub struct Host {
    inner: Rc<Inner>,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.inner.name)
            .finish()
    }
}

/// The wall-clock time at a simulated host's time zero: 2025-01-01
/// 00:00:00 UTC. HTTP dates, daytime, pcap timestamps and certificate
/// validity all count from it, so the same seed gives the same bytes, and a
/// certificate made in a lesson is valid from a plausible date.
pub const LAB_EPOCH: Duration = Duration::from_secs(1_735_689_600);

impl Host {
    pub fn new(name: &str, stack: Stack) -> Host {
        Host {
            inner: Rc::new(Inner {
                name: Rc::from(name),
                stack: RefCell::new(stack),
                now: Cell::new(Instant::ZERO),
                epoch: Cell::new(LAB_EPOCH),
                executor: Executor::new(),
                timers: RefCell::new(BTreeMap::new()),
                timer_deadlines: RefCell::new(BTreeMap::new()),
                next_timer: Cell::new(1),
                socket_wakers: RefCell::new(BTreeMap::new()),
                names: RefCell::new(Rc::new(RefCell::new(Names::default()))),
                resolver: RefCell::new(ResolverConfig::default()),
                fs: RefCell::new(Rc::new(MemFs::new())),
                process_fs: RefCell::default(),
                local: Rc::new(RefCell::new(LocalNet::default())),
                output: RefCell::new(None),
                io: RefCell::default(),
                next_pid: Cell::new(100),
                current_pid: Cell::new(None),
                exits: Cell::new(0),
                processes: RefCell::new(BTreeMap::new()),
                socket_owner: RefCell::new(BTreeMap::new()),
                next_fd: RefCell::new(BTreeMap::new()),
                tx_buf: RefCell::new(Vec::new()),
                taps: RefCell::new(Vec::new()),
                tunnels: RefCell::new(Vec::new()),
                os_random: Cell::new(false),
                driver_writes_later: Cell::new(false),
                writes: Cell::new(0),
                write_waiters: RefCell::new(Vec::new()),
                output_held: RefCell::default(),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The host's current time.
    pub fn now(&self) -> Instant {
        self.inner.now.get()
    }

    /// Set the wall-clock time of the host's time zero (the TUN runtime
    /// gives the real one; in the simulator it is [`LAB_EPOCH`]).
    pub fn set_epoch(&self, since_unix_epoch: Duration) {
        self.inner.epoch.set(since_unix_epoch);
    }

    /// Wall-clock time now, since the Unix epoch (HTTP dates, daytime).
    pub fn wall_clock(&self) -> Duration {
        self.inner.epoch.get() + Duration::from_micros(self.now().total_micros())
    }

    /// Take applications' randomness ([`Host::fill_random`]) from the
    /// operating system from now on. The TUN runtime does; the simulator
    /// never does, so that a seed gives the same run.
    pub fn use_os_random(&self) {
        self.inner.os_random.set(true);
    }

    /// Whether [`Host::fill_random`] draws from the operating system.
    pub fn uses_os_random(&self) -> bool {
        self.inner.os_random.get()
    }

    /// Fill `out` with random bytes, as `getrandom` does for a process:
    /// keys, nonces. In the simulator they come from the stack's seed (a
    /// laboratory source, predictable to whoever knows the seed, and so
    /// never for real secrets); over a TUN device from the operating
    /// system.
    /// Fails only when the operating system has no randomness to give.
    pub fn fill_random(&self, out: &mut [u8]) -> Result<(), String> {
        if self.inner.os_random.get() {
            return getrandom::getrandom(out).map_err(|e| format!("getrandom: {e}"));
        }
        self.with_stack(|s| {
            for chunk in out.chunks_mut(8) {
                let r = s.random_u64().to_le_bytes();
                chunk.copy_from_slice(&r[..chunk.len()]);
            }
        });
        Ok(())
    }

    /// Run `f` with the stack. Never hold on across an `.await`.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        f(&mut self.inner.stack.borrow_mut())
    }

    /// Share a names table (the network's hosts file).
    pub fn set_names(&self, names: Rc<RefCell<Names>>) {
        *self.inner.names.borrow_mut() = names;
    }

    /// Resolve a host name or dotted quad through the hosts table: the
    /// host's own `/etc/hosts` first if it has one (a scenario's
    /// `[[file]]`, or one written while it runs; glibc reads the file at
    /// every lookup too), then the network's table.
    pub fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        self.lookup_canonical(name).map(|(addr, _)| addr)
    }

    /// [`Host::lookup`] with the canonical name of the entry that
    /// matched: a hosts-file line's first name (glibc's `h_name`), else
    /// the name itself.
    pub fn lookup_canonical(&self, name: &str) -> Option<(Ipv4Addr, String)> {
        if let Some(found) = self.hosts_file().and_then(|f| f.listed_official(name)) {
            return Some(found);
        }
        let table = self.inner.names.borrow().clone();
        let table = table.borrow();
        table
            .listed_official(name)
            .or_else(|| table.lookup(name).map(|a| (a, name.to_string())))
    }

    /// The name of an address, if the hosts table has one (the host's
    /// `/etc/hosts` first).
    pub fn reverse(&self, addr: Ipv4Addr) -> Option<String> {
        if let Some(name) = self
            .hosts_file()
            .and_then(|f| f.listed_name(addr).map(str::to_string))
        {
            return Some(name);
        }
        self.inner
            .names
            .borrow()
            .borrow()
            .reverse(addr)
            .map(str::to_string)
    }

    /// The host's `/etc/hosts`, if it has one (at most 1 MiB of it read).
    fn hosts_file(&self) -> Option<Names> {
        let bytes = self.fs().read_prefix("/etc/hosts", 1 << 20).ok()?;
        Some(Names::from_hosts_file(&String::from_utf8_lossy(&bytes)))
    }

    /// The host's `resolv.conf`.
    pub fn resolver(&self) -> ResolverConfig {
        self.inner.resolver.borrow().clone()
    }

    pub fn set_resolver(&self, config: ResolverConfig) {
        *self.inner.resolver.borrow_mut() = config;
    }

    /// The host's files — the file system the running process sees: its own if it was given
    /// one ([`Host::set_process_fs`]), else the host's.
    pub fn fs(&self) -> Rc<dyn FileSystem> {
        let own = self
            .current_pid()
            .and_then(|pid| self.inner.process_fs.borrow().get(&pid).cloned());
        own.unwrap_or_else(|| self.inner.fs.borrow().clone())
    }

    /// Give one process a file system of its own (`None`: the host's
    /// again, as when it is gone).
    pub fn set_process_fs(&self, pid: Pid, fs: Option<Rc<dyn FileSystem>>) {
        let mut map = self.inner.process_fs.borrow_mut();
        match fs {
            Some(fs) => {
                map.insert(pid, fs);
            }
            None => {
                map.remove(&pid);
            }
        }
    }

    pub fn set_fs(&self, fs: Rc<dyn FileSystem>) {
        *self.inner.fs.borrow_mut() = fs;
    }

    /// Where processes' output lines go.
    pub fn set_output(&self, sink: OutputSink) {
        *self.inner.output.borrow_mut() = Some(sink);
    }

    /// The driver writes processes' output to the terminal after it runs
    /// them, and calls [`Host::output_written`] when it has (the TUN
    /// runtime): a process can then wait to learn whether its write
    /// reached a reader ([`crate::Output::written`]).
    pub fn set_output_written_later(&self) {
        self.inner.driver_writes_later.set(true);
    }

    /// The driver wrote what processes had output (and sent SIGPIPE for a
    /// stream whose reader is gone).
    pub fn output_written(&self) {
        self.inner.writes.set(self.inner.writes.get() + 1);
        for w in self.inner.write_waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Ready once the driver has written what was output before the call.
    /// Hold back (or release) what `pid` writes: while held, its waits
    /// for a write ([`crate::Output::written`]) go on, as a writer to a
    /// full pipe blocks — for that process alone.
    pub fn hold_output(&self, pid: Pid, held: bool) {
        let mut set = self.inner.output_held.borrow_mut();
        if held {
            set.insert(pid);
        } else {
            set.remove(&pid);
        }
    }

    pub(crate) fn poll_written(&self, since: u64, pid: Pid, waker: &Waker) -> std::task::Poll<()> {
        let held = self.inner.output_held.borrow().contains(&pid);
        if !self.inner.driver_writes_later.get() || self.inner.writes.get() != since && !held {
            return std::task::Poll::Ready(());
        }
        self.inner.write_waiters.borrow_mut().push(waker.clone());
        std::task::Poll::Pending
    }

    pub(crate) fn writes(&self) -> u64 {
        self.inner.writes.get()
    }

    pub(crate) fn emit(&self, pid: Pid, stream: Stream, bytes: Vec<u8>) {
        let sink = self.inner.output.borrow().clone();
        if let Some(sink) = sink {
            sink(OutputChunk {
                time: self.now(),
                host: self.inner.name.clone(),
                pid,
                stream,
                bytes,
            });
        }
    }

    // --- processes ---------------------------------------------------------

    /// Create a process entry; its tasks are spawned with [`Host::spawn`].
    pub fn new_process(&self, name: &str, cmdline: &str) -> Pid {
        let pid = self.inner.next_pid.get();
        self.inner.next_pid.set(pid + 1);
        self.inner.processes.borrow_mut().insert(
            pid,
            ProcessInfo {
                pid,
                name: name.to_string(),
                cmdline: cmdline.to_string(),
                exit: None,
            },
        );
        pid
    }

    /// A process's standard output.
    pub fn stdout(&self, pid: Pid) -> Output {
        Output {
            host: self.clone(),
            pid,
            stream: Stream::Stdout,
        }
    }

    /// A process's standard error.
    pub fn stderr(&self, pid: Pid) -> Output {
        Output {
            host: self.clone(),
            pid,
            stream: Stream::Stderr,
        }
    }

    /// A process's standard input: open and empty until the driver feeds
    /// it ([`Host::feed_stdin`]) or closes it ([`Host::close_stdin`]).
    pub fn stdin(&self, pid: Pid) -> Stdin {
        Stdin {
            host: self.clone(),
            pid,
        }
    }

    /// Bytes fed to a process's standard input that it has not read yet:
    /// a driver stops feeding while this is high, as a pipe's writer
    /// blocks once the pipe is full.
    pub fn stdin_queued(&self, pid: Pid) -> usize {
        self.inner
            .io
            .borrow()
            .get(&pid)
            .map_or(0, |p| p.stdin.len())
    }

    /// Bytes for a process's standard input.
    pub fn feed_stdin(&self, pid: Pid, bytes: &[u8]) {
        let waker = {
            let mut io = self.inner.io.borrow_mut();
            let p = io.entry(pid).or_default();
            if p.stdin_closed {
                return;
            }
            p.stdin.extend(bytes);
            p.stdin_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Nothing will be fed to a process's standard input, and it never
    /// ends: what a program sees on a terminal nobody types into.
    pub fn set_stdin_idle(&self, pid: Pid) {
        self.inner
            .io
            .borrow_mut()
            .entry(pid)
            .or_default()
            .stdin_idle = true;
    }

    pub(crate) fn stdin_idle(&self, pid: Pid) -> bool {
        self.inner
            .io
            .borrow()
            .get(&pid)
            .is_some_and(|p| p.stdin_idle && p.stdin.is_empty())
    }

    /// The end of a process's standard input.
    pub fn close_stdin(&self, pid: Pid) {
        let waker = {
            let mut io = self.inner.io.borrow_mut();
            let p = io.entry(pid).or_default();
            p.stdin_closed = true;
            p.stdin_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(crate) fn poll_stdin(
        &self,
        pid: Pid,
        buf: &mut [u8],
        waker: &std::task::Waker,
    ) -> std::task::Poll<usize> {
        let mut io = self.inner.io.borrow_mut();
        let p = io.entry(pid).or_default();
        if !p.stdin.is_empty() && !buf.is_empty() {
            let n = buf.len().min(p.stdin.len());
            for (dst, src) in buf.iter_mut().zip(p.stdin.drain(..n)) {
                *dst = src;
            }
            return std::task::Poll::Ready(n);
        }
        if p.stdin_closed {
            return std::task::Poll::Ready(0);
        }
        p.stdin_waker = Some(waker.clone());
        std::task::Poll::Pending
    }

    /// Say whether a process's standard output and error are terminals.
    pub fn set_terminal(&self, pid: Pid, stdout: bool, stderr: bool) {
        self.inner.io.borrow_mut().entry(pid).or_default().tty = (stdout, stderr);
    }

    /// Whether a process's stream is a terminal.
    pub fn is_terminal(&self, pid: Pid, stream: Stream) -> bool {
        let io = self.inner.io.borrow();
        let tty = io.get(&pid).map_or((false, false), |p| p.tty);
        match stream {
            Stream::Stdout => tty.0,
            Stream::Stderr => tty.1,
        }
    }

    /// The process handles signals itself from now on (ping prints its
    /// statistics on Ctrl-C); without this a signal stops it.
    pub fn catch_signals(&self, pid: Pid) -> Signals {
        self.inner.io.borrow_mut().entry(pid).or_default().catches = true;
        Signals {
            host: self.clone(),
            pid,
        }
    }

    /// The process catches its signals but SIGTERM, which stops it as by
    /// default (status 143): iputils' ping handles SIGINT, not SIGTERM.
    pub fn leave_sigterm(&self, pid: Pid) {
        self.inner
            .io
            .borrow_mut()
            .entry(pid)
            .or_default()
            .default_sigterm = true;
    }

    /// The process catches SIGQUIT too (with [`Host::catch_signals`]), as
    /// iputils' ping does for its status line; others are stopped by it.
    pub fn catch_sigquit(&self, pid: Pid) {
        self.inner
            .io
            .borrow_mut()
            .entry(pid)
            .or_default()
            .catches_quit = true;
    }

    /// The process ignores SIGPIPE (`signal(SIGPIPE, SIG_IGN)`): a
    /// standard stream whose reader is gone is marked broken instead of
    /// stopping it ([`crate::Output::is_broken`]).
    pub fn ignore_sigpipe(&self, pid: Pid) {
        self.inner
            .io
            .borrow_mut()
            .entry(pid)
            .or_default()
            .ignores_sigpipe = true;
    }

    /// The process catches SIGPIPE with its other signals (tcpdump ends
    /// with its counts, as on Ctrl-C); it must catch signals too.
    pub fn catch_sigpipe(&self, pid: Pid) {
        self.inner
            .io
            .borrow_mut()
            .entry(pid)
            .or_default()
            .catches_sigpipe = true;
    }

    /// Whether a process's stream lost its reader.
    pub fn stream_broken(&self, pid: Pid, stream: Stream) -> bool {
        let io = self.inner.io.borrow();
        let broken = io.get(&pid).map_or((false, false), |p| p.broken);
        match stream {
            Stream::Stdout => broken.0,
            Stream::Stderr => broken.1,
        }
    }

    /// Send a process a signal: it hears it if it catches signals, or is
    /// stopped with status 128 + the signal's number, its sockets closed.
    /// SIGPIPE marks the stream broken and stops the process, unless it
    /// ignores SIGPIPE (curl) or catches it with its other signals
    /// (tcpdump).
    pub fn signal(&self, pid: Pid, signal: Signal) {
        if self.process(pid).is_none_or(|p| p.exit.is_some()) {
            return;
        }
        let caught = {
            let mut io = self.inner.io.borrow_mut();
            let p = io.entry(pid).or_default();
            if let Signal::Pipe(stream) = signal {
                match stream {
                    Stream::Stdout => p.broken.0 = true,
                    Stream::Stderr => p.broken.1 = true,
                }
                if p.ignores_sigpipe {
                    Some(None)
                } else if p.catches_sigpipe && p.catches {
                    p.pending.push_back(signal);
                    Some(p.signal_waker.take())
                } else {
                    None
                }
            } else if p.catches
                && !(p.default_sigterm && matches!(signal, Signal::Terminate))
                && (p.catches_quit || !matches!(signal, Signal::Quit))
            {
                p.pending.push_back(signal);
                Some(p.signal_waker.take())
            } else {
                None
            }
        };
        match caught {
            Some(waker) => {
                if let Some(w) = waker {
                    w.wake();
                }
            }
            None => {
                self.inner.executor.kill(pid);
                self.set_exit(pid, 128 + signal.number());
            }
        }
    }

    pub(crate) fn take_signal(&self, pid: Pid, waker: &std::task::Waker) -> Option<Signal> {
        let mut io = self.inner.io.borrow_mut();
        let p = io.entry(pid).or_default();
        match p.pending.pop_front() {
            Some(s) => Some(s),
            None => {
                p.signal_waker = Some(waker.clone());
                None
            }
        }
    }

    /// Run `future` as a task of process `pid`.
    pub fn spawn(&self, pid: Pid, future: impl Future<Output = ()> + 'static) -> JoinHandle {
        self.inner.executor.spawn(pid, Box::pin(future))
    }

    /// Record a process's exit status.
    pub fn set_exit(&self, pid: Pid, code: i32) {
        if let Some(p) = self.inner.processes.borrow_mut().get_mut(&pid) {
            if p.exit.is_none() {
                self.inner.exits.set(self.inner.exits.get() + 1);
            }
            p.exit = Some(code);
        }
        self.inner.io.borrow_mut().remove(&pid);
        // As an exiting process's descriptors close: its other tasks stop
        // and their sockets close (a server stopped on Ctrl-C takes its
        // UDP side and the connections it serves with it). The task
        // calling this ends after its poll (it is not in the table then).
        self.inner.executor.kill(pid);
    }

    /// How many of the host's processes have exited so far: a driver that
    /// looks for exits need not look again while it stays the same.
    pub fn exits(&self) -> u64 {
        self.inner.exits.get()
    }

    pub fn process(&self, pid: Pid) -> Option<ProcessInfo> {
        self.inner.processes.borrow().get(&pid).cloned()
    }

    /// A process's exit status, once it has exited (without copying its
    /// record, as `process` does).
    pub fn exit_status(&self, pid: Pid) -> Option<i32> {
        self.inner.processes.borrow().get(&pid).and_then(|p| p.exit)
    }

    pub fn processes(&self) -> Vec<ProcessInfo> {
        self.inner.processes.borrow().values().cloned().collect()
    }

    /// Stop every task of a process; its sockets close as they drop.
    pub fn kill(&self, pid: Pid) {
        self.inner.executor.kill(pid);
        self.inner.io.borrow_mut().remove(&pid);
        let mut procs = self.inner.processes.borrow_mut();
        if let Some(p) = procs.get_mut(&pid) {
            if p.exit.is_none() {
                self.inner.exits.set(self.inner.exits.get() + 1);
            }
            p.exit.get_or_insert(-9);
        }
    }

    /// Stop everything (the end of a run).
    pub fn shutdown(&self) {
        self.inner.executor.clear();
    }

    /// The process running right now, if a task is being polled.
    pub fn current_pid(&self) -> Option<Pid> {
        self.inner.current_pid.get()
    }

    /// Attribute a socket to the running process (for `ss -p`).
    pub(crate) fn claim(&self, socket: SocketId) {
        if let Some(owner) = self.allocate_fd() {
            self.inner.socket_owner.borrow_mut().insert(socket, owner);
        }
    }

    /// The next file descriptor of the running process, if a process runs.
    pub(crate) fn allocate_fd(&self) -> Option<(Pid, u32)> {
        let pid = self.current_pid()?;
        // File descriptors 0–2 are the standard streams.
        let mut fds = self.inner.next_fd.borrow_mut();
        let fd = fds.entry(pid).or_insert(3);
        let owned = (pid, *fd);
        *fd += 1;
        Some(owned)
    }

    /// The host's local (`AF_UNIX`) sockets.
    pub(crate) fn local_net(&self) -> Rc<RefCell<LocalNet>> {
        self.inner.local.clone()
    }

    /// What local socket calls cost (see [`LocalCost`]).
    pub fn set_local_cost(&self, cost: LocalCost) {
        self.inner.local.borrow_mut().cost = cost;
    }

    /// Calls and bytes that went through local sockets so far.
    pub fn local_traffic(&self) -> (u64, u64) {
        let n = self.inner.local.borrow();
        (n.calls, n.bytes_moved)
    }

    /// Every local socket, for `ss -x` and `netstat -x`.
    pub fn local_sockets(&self) -> Vec<LocalInfo> {
        self.inner.local.borrow().list()
    }

    /// The name of a process.
    pub fn process_name(&self, pid: Pid) -> Option<String> {
        self.inner
            .processes
            .borrow()
            .get(&pid)
            .map(|p| p.name.clone())
    }

    pub(crate) fn release(&self, socket: SocketId) {
        self.inner.socket_owner.borrow_mut().remove(&socket);
        self.inner.socket_wakers.borrow_mut().remove(&socket);
    }

    /// The process owning a socket: its name, pid and the socket's fd.
    pub fn socket_owner(&self, socket: SocketId) -> Option<(String, Pid, u32)> {
        let (pid, fd) = *self.inner.socket_owner.borrow().get(&socket)?;
        let name = self.inner.processes.borrow().get(&pid)?.name.clone();
        Some((name, pid, fd))
    }

    // --- timers --------------------------------------------------------------

    /// Sleep for `duration` of the host's time.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }

    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            host: self.clone(),
            deadline,
            registered: None,
        }
    }

    pub(crate) fn register_timer(
        &self,
        existing: Option<u64>,
        deadline: Instant,
        waker: &Waker,
    ) -> u64 {
        let mut timers = self.inner.timers.borrow_mut();
        let mut deadlines = self.inner.timer_deadlines.borrow_mut();
        let id = match existing {
            Some(id) => {
                if let Some(old) = deadlines.remove(&id) {
                    timers.remove(&(old, id));
                }
                id
            }
            None => {
                let id = self.inner.next_timer.get();
                self.inner.next_timer.set(id + 1);
                id
            }
        };
        timers.insert((deadline, id), waker.clone());
        deadlines.insert(id, deadline);
        id
    }

    pub(crate) fn cancel_timer(&self, id: u64) {
        if let Some(deadline) = self.inner.timer_deadlines.borrow_mut().remove(&id) {
            self.inner.timers.borrow_mut().remove(&(deadline, id));
        }
    }

    fn fire_timers(&self, now: Instant) {
        loop {
            let due = {
                let mut timers = self.inner.timers.borrow_mut();
                match timers.first_key_value() {
                    Some((&(t, id), _)) if t <= now => {
                        let w = timers.remove(&(t, id)).expect("present");
                        self.inner.timer_deadlines.borrow_mut().remove(&id);
                        Some(w)
                    }
                    _ => None,
                }
            };
            match due {
                Some(w) => w.wake(),
                None => break,
            }
        }
    }

    // --- sockets' readiness --------------------------------------------------

    /// Wake `waker` when the stack reports an event on `socket`.
    pub(crate) fn wait_for(&self, socket: SocketId, waker: &Waker) {
        let mut map = self.inner.socket_wakers.borrow_mut();
        let list = map.entry(socket).or_default();
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
    }

    fn dispatch_events(&self) {
        loop {
            let event = self.inner.stack.borrow_mut().poll_event();
            let Some(event) = event else { break };
            let wakers = self.inner.socket_wakers.borrow_mut().remove(&event.socket);
            for w in wakers.into_iter().flatten() {
                w.wake();
            }
        }
    }

    // --- packet taps ---------------------------------------------------------

    /// Start capturing what crosses the host's interfaces.
    pub fn tap(&self) -> Tap {
        let queue = Rc::new(RefCell::new(TapQueue::default()));
        self.inner.taps.borrow_mut().push(Rc::downgrade(&queue));
        Tap { queue }
    }

    fn feed_taps(&self, direction: TapDirection, iface: IfaceId, bytes: &[u8]) {
        let mut taps = self.inner.taps.borrow_mut();
        if taps.is_empty() {
            return;
        }
        taps.retain(|w| w.strong_count() > 0);
        for t in taps.iter().filter_map(std::rc::Weak::upgrade) {
            let mut q = t.borrow_mut();
            if q.queue.len() >= TAP_LIMIT || q.bytes + bytes.len() > TAP_BYTES {
                q.dropped += 1;
                continue;
            }
            q.bytes += bytes.len();
            q.queue.push_back(Tapped {
                time: self.now(),
                direction,
                iface,
                bytes: bytes.to_vec(),
            });
            if let Some(w) = q.waker.take() {
                w.wake();
            }
        }
    }

    // --- the driver's side ---------------------------------------------------

    /// A datagram arrived on `iface`.
    pub fn handle_packet(&self, now: Instant, iface: IfaceId, bytes: &[u8]) {
        self.set_now(now);
        self.feed_taps(TapDirection::In, iface, bytes);
        self.inner
            .stack
            .borrow_mut()
            .handle_packet(now, iface, bytes);
    }

    /// [`Stack::handle_datagram`]: a datagram handed over, a buffer to
    /// reuse given back (its own, or a spare when the stack kept it).
    pub fn handle_datagram(&self, now: Instant, iface: IfaceId, bytes: Vec<u8>) -> Vec<u8> {
        self.set_now(now);
        self.feed_taps(TapDirection::In, iface, &bytes);
        self.inner
            .stack
            .borrow_mut()
            .handle_datagram(now, iface, bytes)
    }

    /// The neighbour for a datagram could not be reached.
    pub fn handle_unreachable(
        &self,
        now: Instant,
        iface: IfaceId,
        next_hop: Ipv4Addr,
        bytes: &[u8],
    ) {
        self.set_now(now);
        self.inner
            .stack
            .borrow_mut()
            .handle_unreachable(now, iface, next_hop, bytes);
    }

    /// A deadline from `poll_timeout` passed.
    pub fn handle_timeout(&self, now: Instant) {
        self.set_now(now);
        let due = self
            .inner
            .stack
            .borrow()
            .poll_timeout()
            .is_some_and(|t| t <= now);
        if due {
            self.inner.stack.borrow_mut().handle_timeout(now);
        }
    }

    fn set_now(&self, now: Instant) {
        if now > self.inner.now.get() {
            self.inner.now.set(now);
        }
    }

    /// Bring the host's clock to `now` without running anything (before a
    /// signal whose process ends at once and closes its sockets then: a
    /// reset it sends carries this time, not the last the host saw).
    pub fn set_time(&self, now: Instant) {
        self.set_now(now);
    }

    /// Run applications and drain the stack until nothing is left to do at
    /// `now`; every datagram for a link goes to `emit`.
    ///
    /// The stack's output is drained *before* applications run, as a kernel
    /// sends what protocol processing owes (an ACK for a FIN, a SYN-ACK) at
    /// packet arrival, before the application is scheduled; what an
    /// application then writes follows in the next round.
    pub fn service(&self, now: Instant, emit: &mut dyn FnMut(Transmit, &[u8])) {
        self.service_taking(now, &mut |t, buf| emit(t, &buf[..t.len]));
    }

    /// [`service`](Self::service) for a driver that keeps datagrams: `emit`
    /// gets the buffer holding each (its first `Transmit::len` bytes) and
    /// may take it, leaving another in its place for the next one — a
    /// datagram moves to the link without a copy.
    pub fn service_taking(&self, now: Instant, emit: &mut dyn FnMut(Transmit, &mut Vec<u8>)) {
        self.service_bounded(now, emit, usize::MAX);
    }

    /// [`service_taking`](Self::service_taking) that stops after `budget`
    /// rounds (a process run, or a drain of the stack), for a driver that
    /// must not spin for ever when the host never runs out of work at one
    /// instant (a tunnel whose datagrams route back into itself, two
    /// processes feeding each other without time passing). Returns the
    /// rounds done and whether work was left (call again at `now`).
    pub fn service_bounded(
        &self,
        now: Instant,
        emit: &mut dyn FnMut(Transmit, &mut Vec<u8>),
        budget: usize,
    ) -> Serviced {
        self.set_now(now);
        self.fire_timers(now);
        let set_pid = |pid: Option<Pid>| self.inner.current_pid.set(pid);
        let mut rounds = 0usize;
        loop {
            self.transmit_all(now, emit);
            self.dispatch_events();
            rounds += 1;
            let mut ran = false;
            while rounds < budget && self.inner.executor.run_one(&set_pid) {
                ran = true;
                rounds += 1;
                self.dispatch_events();
            }
            self.fire_timers(now);
            if rounds >= budget {
                self.transmit_all(now, emit);
                self.dispatch_events();
                return Serviced {
                    rounds,
                    more: self.inner.executor.has_ready(),
                };
            }
            if !ran && !self.inner.executor.has_ready() {
                self.transmit_all(now, emit);
                self.dispatch_events();
                if !self.inner.executor.has_ready() {
                    return Serviced {
                        rounds,
                        more: false,
                    };
                }
            }
        }
    }

    fn transmit_all(&self, now: Instant, emit: &mut dyn FnMut(Transmit, &mut Vec<u8>)) {
        // A tap sees the loopback too (as one datagram, inbound: libpcap
        // drops the outgoing copy on `lo`).
        let tapping = {
            let mut taps = self.inner.taps.borrow_mut();
            if !taps.is_empty() {
                taps.retain(|w| w.strong_count() > 0);
            }
            !taps.is_empty()
        };
        {
            let mut stack = self.inner.stack.borrow_mut();
            if stack.capturing_loopback() != tapping {
                stack.capture_loopback(tapping);
            }
        }
        loop {
            let mut buf = std::mem::take(&mut *self.inner.tx_buf.borrow_mut());
            let t = self.inner.stack.borrow_mut().poll_transmit(now, &mut buf);
            if tapping {
                let (looped, lost) = self.inner.stack.borrow_mut().take_loopback_captured();
                for bytes in looped {
                    self.feed_taps(TapDirection::In, IfaceId::LOOPBACK, &bytes);
                }
                if lost > 0 {
                    for t in self
                        .inner
                        .taps
                        .borrow()
                        .iter()
                        .filter_map(std::rc::Weak::upgrade)
                    {
                        t.borrow_mut().dropped += lost;
                    }
                }
            }
            match t {
                Some(t) => {
                    self.feed_taps(TapDirection::Out, t.iface, &buf[..t.len]);
                    if !self.to_tunnel(t.iface, &buf[..t.len]) {
                        emit(t, &mut buf);
                    }
                    *self.inner.tx_buf.borrow_mut() = buf;
                }
                None => {
                    *self.inner.tx_buf.borrow_mut() = buf;
                    break;
                }
            }
        }
    }

    /// Hand a datagram for a tunnel interface to its device; false when
    /// `iface` is not a tunnel (the driver's link takes it).
    fn to_tunnel(&self, iface: IfaceId, bytes: &[u8]) -> bool {
        let tunnels = self.inner.tunnels.borrow();
        if tunnels.is_empty() {
            return false;
        }
        let Some((_, q)) = tunnels.iter().find(|(i, _)| *i == iface) else {
            return false;
        };
        if !q.borrow_mut().offer(bytes) {
            self.inner.stack.borrow_mut().note_tx_dropped(iface);
        }
        true
    }

    pub(crate) fn tunnel_queues(&self) -> Vec<(IfaceId, Rc<RefCell<DeviceQueue>>)> {
        self.inner.tunnels.borrow().clone()
    }

    /// The queue of tunnel interface `iface`, made on first use.
    pub(crate) fn tunnel_queue(&self, iface: IfaceId) -> Rc<RefCell<DeviceQueue>> {
        let mut tunnels = self.inner.tunnels.borrow_mut();
        if let Some((_, q)) = tunnels.iter().find(|(i, _)| *i == iface) {
            return q.clone();
        }
        let q = Rc::new(RefCell::new(DeviceQueue::default()));
        tunnels.push((iface, q.clone()));
        q
    }

    /// When the driver must come back: the stack's next deadline or the
    /// applications' next timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stack = self.inner.stack.borrow().poll_timeout();
        let timer = self
            .inner
            .timers
            .borrow()
            .first_key_value()
            .map(|(k, _)| k.0);
        let ready = self.inner.executor.has_ready().then_some(self.now());
        [stack, timer, ready].into_iter().flatten().min()
    }

    /// Whether any application task is still alive.
    pub fn has_tasks(&self) -> bool {
        !self.inner.executor.is_empty()
    }
}

/// What one [`Host::service_bounded`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serviced {
    /// Rounds run: processes run and drains of the stack.
    pub rounds: usize,
    /// Whether the budget ran out with work left at the same instant.
    pub more: bool,
}
