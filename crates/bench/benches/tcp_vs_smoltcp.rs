//! tcplab's TCP against smoltcp 0.14, in one process, with one harness.
//!
//! `cargo bench -p tcplab-bench`
//!
//! Two endpoints joined by an in-memory link (MTU 1500, IPv4, checksums
//! computed on send and verified on receipt by both stacks), a virtual clock
//! advanced 10 µs per loop iteration, and the same loop for both stacks:
//! the applications write and read as much as they can, then each endpoint
//! processes what arrived and sends what it has.
//!
//! * **bulk**: one connection moves 256 MiB with 256 KiB socket buffers;
//!   the figure is payload bytes per second of wall time.
//! * **cycles**: connect, send 4 KiB, close both ways, until the client is
//!   in TIME-WAIT (tcplab keeps it in its table for 2·MSL, as a kernel
//!   does; the smoltcp harness drops the socket then), repeated; the figure
//!   is cycles per second.
//!
//! tcplab runs with NewReno congestion control, delayed ACKs and Nagle on.
//! smoltcp runs twice: with its default (no congestion control) and with
//! its Reno. Each figure is the median of 7 runs after a warm-up run; the ratio column is
//! tcplab ÷ smoltcp.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as WallClock};

use tcplab_stack::tcp::State as TcpState;
use tcplab_stack::{Config, IfaceId, Instant, RecvError, SendError, Stack, TcpHandle};

const MTU: usize = 1500;
const BUFFER: usize = 256 * 1024;
const BULK_BYTES: usize = 256 << 20;
const CYCLE_BYTES: usize = 4096;
const CYCLES: usize = 2000;
const STEP_MICROS: u64 = 10;
const RUNS: usize = 7;

/// The one place that reads the real clock: a benchmark measures wall time.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time"
)]
fn wall_clock() -> WallClock {
    WallClock::now()
}

// --- tcplab ------------------------------------------------------------------

struct TcplabPair {
    a: Stack,
    b: Stack,
    now: Instant,
    buf: Vec<u8>,
}

impl TcplabPair {
    fn new() -> TcplabPair {
        let mk = |seed: u64, addr: &str| {
            let mut config = Config {
                seed,
                ..Config::default()
            };
            config.tcp.send_buffer = BUFFER;
            config.tcp.recv_buffer = BUFFER;
            let mut s = Stack::new(config);
            s.add_interface("eth0", addr.parse().unwrap(), MTU).unwrap();
            s
        };
        TcplabPair {
            a: mk(1, "10.0.0.1/24"),
            b: mk(2, "10.0.0.2/24"),
            now: Instant::from_secs(1),
            buf: Vec::with_capacity(2048),
        }
    }

    /// Move packets both ways until both are quiet; run due timers.
    fn pump(&mut self) {
        self.now += Duration::from_micros(STEP_MICROS);
        let now = self.now;
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        loop {
            let mut moved = false;
            while self.a.poll_transmit(now, &mut self.buf).is_some() {
                self.b.handle_packet(now, IfaceId(1), &self.buf);
                moved = true;
            }
            while self.b.poll_transmit(now, &mut self.buf).is_some() {
                self.a.handle_packet(now, IfaceId(1), &self.buf);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn connect(&mut self, listener: TcpHandle) -> (TcpHandle, TcpHandle) {
        let c = self
            .a
            .tcp_connect(
                self.now,
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
                None,
            )
            .unwrap();
        loop {
            self.pump();
            if let Ok(s) = self.b.tcp_accept(listener) {
                return (c, s);
            }
        }
    }
}

fn tcplab_bulk() -> Duration {
    let mut p = TcplabPair::new();
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
    let (c, s) = p.connect(l);
    let data = vec![0x5au8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let start = wall_clock();
    while got < BULK_BYTES {
        while sent < BULK_BYTES {
            match p
                .a
                .tcp_send(c, &data[..(BULK_BYTES - sent).min(data.len())])
            {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match p.b.tcp_recv(s, &mut sink) {
                Ok(0) | Err(RecvError::WouldBlock) => break,
                Ok(n) => got += n,
                Err(e) => panic!("{e:?}"),
            }
        }
        p.pump();
    }
    start.elapsed()
}

fn tcplab_cycles() -> Duration {
    let mut p = TcplabPair::new();
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
    let data = vec![0x33u8; CYCLE_BYTES];
    let mut sink = vec![0u8; 8192];
    let start = wall_clock();
    for _ in 0..CYCLES {
        let (c, s) = p.connect(l);
        assert_eq!(p.a.tcp_send(c, &data), Ok(CYCLE_BYTES));
        p.a.tcp_close(p.now, c);
        let mut got = 0;
        loop {
            p.pump();
            match p.b.tcp_recv(s, &mut sink) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(got, CYCLE_BYTES);
        p.b.tcp_close(p.now, s);
        // Until the client side reaches TIME-WAIT: the FIN was ACKed.
        while p
            .a
            .tcp_info(c)
            .is_some_and(|i| i.state != TcpState::TimeWait)
        {
            p.pump();
        }
    }
    start.elapsed()
}

// --- smoltcp -------------------------------------------------------------------

mod smol {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
    use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
    use smoltcp::socket::tcp;
    use smoltcp::time::{Duration, Instant};
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

    /// One end of the in-memory link; packet buffers are recycled so that
    /// the measurement is of the stack, not of the allocator.
    pub struct End {
        pub inbox: VecDeque<Vec<u8>>,
        pub outbox: VecDeque<Vec<u8>>,
        pub pool: Rc<RefCell<Vec<Vec<u8>>>>,
    }

    pub struct Rx(Vec<u8>, Rc<RefCell<Vec<Vec<u8>>>>);
    pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>, Rc<RefCell<Vec<Vec<u8>>>>);

    impl RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            let r = f(&self.0);
            self.1.borrow_mut().push(self.0);
            r
        }
    }

    impl TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut v = self.1.borrow_mut().pop().unwrap_or_default();
            v.resize(len, 0);
            let r = f(&mut v);
            self.0.push_back(v);
            r
        }
    }

    impl Device for End {
        type RxToken<'a> = Rx;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
            let p = self.inbox.pop_front()?;
            Some((
                Rx(p, self.pool.clone()),
                Tx(&mut self.outbox, self.pool.clone()),
            ))
        }

        fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
            Some(Tx(&mut self.outbox, self.pool.clone()))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ip;
            c.max_transmission_unit = super::MTU;
            c
        }
    }

    pub struct Node {
        pub iface: Interface,
        pub dev: End,
        pub sockets: SocketSet<'static>,
    }

    pub fn node(addr: [u8; 4], seed: u64) -> Node {
        let mut dev = End {
            inbox: VecDeque::new(),
            outbox: VecDeque::new(),
            pool: Rc::new(RefCell::new(Vec::new())),
        };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, Instant::from_secs(1));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from(addr)), 24))
                .unwrap();
        });
        Node {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    pub fn socket(reno: bool) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; super::BUFFER]),
            tcp::SocketBuffer::new(vec![0; super::BUFFER]),
        );
        if reno {
            s.set_congestion_control(tcp::CongestionControl::Reno);
        }
        s
    }

    pub struct Pair {
        pub a: Node,
        pub b: Node,
        pub now: Instant,
    }

    impl Pair {
        pub fn new() -> Pair {
            Pair {
                a: node([10, 0, 0, 1], 1),
                b: node([10, 0, 0, 2], 2),
                now: Instant::from_secs(1),
            }
        }

        pub fn pump(&mut self) {
            self.now += Duration::from_micros(super::STEP_MICROS);
            loop {
                self.a
                    .iface
                    .poll(self.now, &mut self.a.dev, &mut self.a.sockets);
                self.b.dev.inbox.extend(self.a.dev.outbox.drain(..));
                self.b
                    .iface
                    .poll(self.now, &mut self.b.dev, &mut self.b.sockets);
                self.a.dev.inbox.extend(self.b.dev.outbox.drain(..));
                if self.a.dev.inbox.is_empty() && self.b.dev.inbox.is_empty() {
                    break;
                }
            }
        }

        pub fn connect(&mut self, reno: bool, local_port: u16) -> (SocketHandle, SocketHandle) {
            let mut server = socket(reno);
            server.listen(80).unwrap();
            let s = self.b.sockets.add(server);
            let mut client = socket(reno);
            client
                .connect(
                    self.a.iface.context(),
                    (IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 80),
                    local_port,
                )
                .unwrap();
            let c = self.a.sockets.add(client);
            while !self.a.sockets.get::<tcp::Socket<'_>>(c).may_send() {
                self.pump();
            }
            (c, s)
        }
    }
}

fn smoltcp_bulk(reno: bool) -> Duration {
    use smoltcp::socket::tcp;
    let mut p = smol::Pair::new();
    let (c, s) = p.connect(reno, 49152);
    let data = vec![0x5au8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let start = wall_clock();
    while got < BULK_BYTES {
        {
            let sock = p.a.sockets.get_mut::<tcp::Socket<'_>>(c);
            while sent < BULK_BYTES && sock.can_send() {
                let n = sock
                    .send_slice(&data[..(BULK_BYTES - sent).min(data.len())])
                    .unwrap();
                if n == 0 {
                    break;
                }
                sent += n;
            }
        }
        {
            let sock = p.b.sockets.get_mut::<tcp::Socket<'_>>(s);
            while sock.can_recv() {
                let n = sock.recv_slice(&mut sink).unwrap();
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        p.pump();
    }
    start.elapsed()
}

fn smoltcp_cycles(reno: bool) -> Duration {
    use smoltcp::socket::tcp;
    let mut p = smol::Pair::new();
    let data = vec![0x33u8; CYCLE_BYTES];
    let mut sink = vec![0u8; 8192];
    let start = wall_clock();
    for i in 0..CYCLES {
        let (c, s) = p.connect(reno, 49152 + (i % 16000) as u16);
        {
            let sock = p.a.sockets.get_mut::<tcp::Socket<'_>>(c);
            assert_eq!(sock.send_slice(&data).unwrap(), CYCLE_BYTES);
            sock.close();
        }
        let mut got = 0;
        loop {
            p.pump();
            let sock = p.b.sockets.get_mut::<tcp::Socket<'_>>(s);
            while sock.can_recv() {
                got += sock.recv_slice(&mut sink).unwrap();
            }
            if !sock.may_recv() && got == CYCLE_BYTES {
                break;
            }
        }
        p.b.sockets.get_mut::<tcp::Socket<'_>>(s).close();
        loop {
            p.pump();
            if p.a.sockets.get::<tcp::Socket<'_>>(c).state() == tcp::State::TimeWait {
                break;
            }
        }
        p.a.sockets.remove(c);
        p.b.sockets.remove(s);
    }
    start.elapsed()
}

// --- report ----------------------------------------------------------------------

/// The median of RUNS runs, after one warm-up run.
fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let _ = f();
    let mut v: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    v.sort();
    v[RUNS / 2]
}

fn main() {
    // `cargo test --benches` runs this binary with --bench absent: do a quick
    // smoke run only, so the test suite stays fast.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        let _ = tcplab_bulk_smoke();
        return;
    }
    // TCPLAB_BENCH_ONLY=tcplab-bulk (etc.) runs one measurement, for profiling.
    if let Ok(only) = std::env::var("TCPLAB_BENCH_ONLY") {
        let d = match only.as_str() {
            "tcplab-bulk" => tcplab_bulk(),
            "smoltcp-bulk" => smoltcp_bulk(false),
            "tcplab-cycles" => tcplab_cycles(),
            "smoltcp-cycles" => smoltcp_cycles(false),
            other => panic!("unknown measurement {other}"),
        };
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{only}: {d:?}");
        return;
    }
    let rate = |bytes: usize, d: Duration| bytes as f64 * 8.0 / d.as_secs_f64() / 1e9;
    let cps = |d: Duration| CYCLES as f64 / d.as_secs_f64();
    let tb = median(tcplab_bulk);
    let sb = median(|| smoltcp_bulk(false));
    let sbr = median(|| smoltcp_bulk(true));
    let tc = median(tcplab_cycles);
    let sc = median(|| smoltcp_cycles(false));
    let scr = median(|| smoltcp_cycles(true));
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    let _ = writeln!(
        out,
        "\n| measure | tcplab | smoltcp 0.14 (no CC) | ratio | smoltcp 0.14 (Reno) | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| bulk, 256 MiB, Gbit/s | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        rate(BULK_BYTES, tb),
        rate(BULK_BYTES, sb),
        rate(BULK_BYTES, tb).max(1e-9) / rate(BULK_BYTES, sb),
        rate(BULK_BYTES, sbr),
        rate(BULK_BYTES, tb) / rate(BULK_BYTES, sbr)
    );
    let _ = writeln!(
        out,
        "| connect+4 KiB+close, cycles/s | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |",
        cps(tc),
        cps(sc),
        cps(tc) / cps(sc),
        cps(scr),
        cps(tc) / cps(scr)
    );
    let _ = writeln!(
        out,
        "\n(median of {RUNS} runs each; ratio = tcplab / smoltcp)"
    );
}

/// A small exchange, to check the harness still works under `cargo test`.
fn tcplab_bulk_smoke() -> usize {
    let mut p = TcplabPair::new();
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
            .unwrap();
    let (c, s) = p.connect(l);
    p.a.tcp_send(c, &[1; 1000]).unwrap();
    p.pump();
    let mut buf = [0u8; 2000];
    p.b.tcp_recv(s, &mut buf).unwrap()
}
