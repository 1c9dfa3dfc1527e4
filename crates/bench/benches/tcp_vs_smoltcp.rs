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
//! Both stacks are driven the way their authors would: smoltcp's two
//! endpoints share one pool of packet buffers (what one receives, the other
//! sends from — no allocation or zeroing per segment), and its socket
//! buffers are allocated once and reused from cycle to cycle, as tcplab
//! pools its rings. Both run Reno/NewReno congestion control (smoltcp
//! also without, for reference), with the same buffer sizes.
//!
//! * **bulk**: one connection moves 256 MiB with 64 KiB, 256 KiB and 1 MiB
//!   socket buffers; the figure is payload bits per second.
//! * **cycles**: connect, send 4 KiB (or nothing), close both ways, until
//!   the client is in TIME-WAIT (tcplab keeps it in its table for 2·MSL, as
//!   a kernel does; smoltcp's client socket is reused at once), repeated.
//!
//! Runs alternate between the stacks (RUNS of each after a warm-up); each
//! figure is the median with the lowest and highest, by wall time and by
//! the thread's CPU time (/proc/thread-self/schedstat).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_bench::{spread, start, StackPair, Took};
use tcplab_stack::tcp::{CongestionAlgorithm, State as TcpState};
use tcplab_stack::{RecvError, SendError, TcpHandle};

const MTU: usize = 1500;
const BULK_BYTES: usize = 256 << 20;
const CYCLE_BYTES: usize = 4096;
/// Socket buffers of the cycle test.
const CYCLE_BUFFER: usize = 256 * 1024;
const CYCLES: usize = 10_000;
const STEP_MICROS: u64 = 10;
const RUNS: usize = 7;
const BUFFERS: [usize; 3] = [64 * 1024, 256 * 1024, 1024 * 1024];

// --- tcplab ------------------------------------------------------------------

/// tcplab's two endpoints, as the harness drives them.
fn tcplab_pair(buffer: usize) -> StackPair {
    StackPair::new(|config| {
        config.tcp.send_buffer = buffer;
        config.tcp.recv_buffer = buffer;
        config.tcp.congestion = CongestionAlgorithm::NewReno;
    })
}

/// One step of the clock, then run timers and move packets until both
/// are quiet.
fn pump(p: &mut StackPair) {
    p.now += Duration::from_micros(STEP_MICROS);
    p.exchange();
}

/// Open a connection from `a` to `b`'s listener; both ends.
fn connect(p: &mut StackPair, listener: TcpHandle) -> (TcpHandle, TcpHandle) {
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let c = p.a.tcp_connect(p.now, server, None).unwrap();
    loop {
        pump(p);
        if let Ok(s) = p.b.tcp_accept(listener) {
            return (c, s);
        }
    }
}

fn tcplab_bulk(buffer: usize) -> Took {
    let mut p = tcplab_pair(buffer);
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
    let (c, s) = connect(&mut p, l);
    let data = vec![0x5au8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let t0 = start();
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
        pump(&mut p);
    }
    Took::since(t0)
}

fn tcplab_cycles(bytes: usize) -> Took {
    let mut p = tcplab_pair(CYCLE_BUFFER);
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
            .unwrap();
    let data = vec![0x33u8; bytes];
    let mut sink = vec![0u8; 8192];
    let t0 = start();
    for _ in 0..CYCLES {
        let (c, s) = connect(&mut p, l);
        if bytes > 0 {
            assert_eq!(p.a.tcp_send(c, &data), Ok(bytes));
        }
        p.a.tcp_close(p.now, c);
        let mut got = 0;
        loop {
            pump(&mut p);
            match p.b.tcp_recv(s, &mut sink) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(RecvError::WouldBlock) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(got, bytes);
        p.b.tcp_close(p.now, s);
        // Until the client side reaches TIME-WAIT: the FIN was ACKed.
        // The state alone, as smoltcp's `state()` (not all of `tcp_info`).
        while p.a.tcp_state(c).is_some_and(|s| s != TcpState::TimeWait) {
            pump(&mut p);
        }
    }
    Took::since(t0)
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

    /// One end of the in-memory link. Both ends share one pool of packet
    /// buffers: a received packet's buffer goes back to the pool the
    /// sender draws from, so no segment allocates or zeroes memory.
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

    pub fn node(addr: [u8; 4], seed: u64, pool: Rc<RefCell<Vec<Vec<u8>>>>) -> Node {
        let mut dev = End {
            inbox: VecDeque::new(),
            outbox: VecDeque::new(),
            pool,
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

    pub fn socket(reno: bool, buffer: usize) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buffer]),
            tcp::SocketBuffer::new(vec![0; buffer]),
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
        /// The client and server sockets, made once (socket buffers are
        /// allocated once, as tcplab pools its rings).
        pub client: SocketHandle,
        pub server: SocketHandle,
    }

    impl Pair {
        pub fn new(reno: bool, buffer: usize) -> Pair {
            let pool = Rc::new(RefCell::new(Vec::new()));
            let mut a = node([10, 0, 0, 1], 1, pool.clone());
            let mut b = node([10, 0, 0, 2], 2, pool);
            let client = a.sockets.add(socket(reno, buffer));
            let server = b.sockets.add(socket(reno, buffer));
            Pair {
                a,
                b,
                now: Instant::from_secs(1),
                client,
                server,
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

        /// Connect the client socket to the listening server socket. A
        /// client left in TIME-WAIT by the last cycle is reused at once:
        /// abort() then connect() before any poll, so no RST goes out.
        pub fn connect(&mut self, local_port: u16) -> (SocketHandle, SocketHandle) {
            let (c, s) = (self.client, self.server);
            let server = self.b.sockets.get_mut::<tcp::Socket<'_>>(s);
            server.abort();
            server.listen(80).unwrap();
            let client = self.a.sockets.get_mut::<tcp::Socket<'_>>(c);
            client.abort();
            client
                .connect(
                    self.a.iface.context(),
                    (IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 80),
                    local_port,
                )
                .unwrap();
            while !self.a.sockets.get::<tcp::Socket<'_>>(c).may_send() {
                self.pump();
            }
            (c, s)
        }
    }
}

fn smoltcp_bulk(reno: bool, buffer: usize) -> Took {
    use smoltcp::socket::tcp;
    let mut p = smol::Pair::new(reno, buffer);
    let (c, s) = p.connect(49152);
    let data = vec![0x5au8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let t0 = start();
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
    Took::since(t0)
}

fn smoltcp_cycles(reno: bool, bytes: usize) -> Took {
    use smoltcp::socket::tcp;
    let mut p = smol::Pair::new(reno, CYCLE_BUFFER);
    let data = vec![0x33u8; bytes];
    let mut sink = vec![0u8; 8192];
    let t0 = start();
    for i in 0..CYCLES {
        let (c, s) = p.connect(49152 + (i % 16000) as u16);
        {
            let sock = p.a.sockets.get_mut::<tcp::Socket<'_>>(c);
            if bytes > 0 {
                assert_eq!(sock.send_slice(&data).unwrap(), bytes);
            }
            sock.close();
        }
        let mut got = 0;
        loop {
            p.pump();
            let sock = p.b.sockets.get_mut::<tcp::Socket<'_>>(s);
            while sock.can_recv() {
                got += sock.recv_slice(&mut sink).unwrap();
            }
            if !sock.may_recv() && got == bytes {
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
    }
    Took::since(t0)
}

// --- report ----------------------------------------------------------------------

/// A measurement of the three contenders, run alternately.
struct Row {
    label: String,
    /// Units of work per run (bits or cycles), and the unit's name.
    work: f64,
    unit: &'static str,
    runs: [Vec<Took>; 3],
}

fn fmt_rate(unit: &str, (m, lo, hi): (f64, f64, f64)) -> String {
    if unit == "Gbit/s" {
        format!("{:.2} ({:.2}–{:.2})", m / 1e9, lo / 1e9, hi / 1e9)
    } else {
        format!("{m:.0} ({lo:.0}–{hi:.0})")
    }
}

/// Run each contender once in turn, RUNS times after one warm-up round.
fn alternate(label: String, work: f64, unit: &'static str, fs: [&dyn Fn() -> Took; 3]) -> Row {
    for f in fs {
        let _ = f();
    }
    let mut runs: [Vec<Took>; 3] = Default::default();
    for _ in 0..RUNS {
        for (i, f) in fs.iter().enumerate() {
            runs[i].push(f());
        }
    }
    Row {
        label,
        work,
        unit,
        runs,
    }
}

fn main() {
    // `cargo test --benches` runs this binary with --bench absent: do a quick
    // smoke run only, so the test suite stays fast.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        let _ = tcplab_bulk_smoke();
        return;
    }
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    // TCPLAB_BENCH_ONLY=tcplab-bulk (etc.; `-cycles-empty` for cycles with no
    // data) runs one measurement, for profiling.
    if let Ok(only) = std::env::var("TCPLAB_BENCH_ONLY") {
        let b = 256 * 1024;
        let t = match only.as_str() {
            "tcplab-bulk" => tcplab_bulk(b),
            "smoltcp-bulk" => smoltcp_bulk(true, b),
            "tcplab-cycles" => tcplab_cycles(CYCLE_BYTES),
            "smoltcp-cycles" => smoltcp_cycles(true, CYCLE_BYTES),
            "tcplab-cycles-empty" => tcplab_cycles(0),
            "smoltcp-cycles-empty" => smoltcp_cycles(true, 0),
            other => panic!("unknown measurement {other}"),
        };
        let _ = writeln!(out, "{only}: {t:?}");
        return;
    }
    let bits = BULK_BYTES as f64 * 8.0;
    let mut rows = Vec::new();
    for b in BUFFERS {
        rows.push(alternate(
            format!("bulk, 256 MiB, {} KiB buffers", b / 1024),
            bits,
            "Gbit/s",
            [&|| tcplab_bulk(b), &|| smoltcp_bulk(true, b), &|| {
                smoltcp_bulk(false, b)
            }],
        ));
    }
    for bytes in [CYCLE_BYTES, 0] {
        rows.push(alternate(
            format!(
                "connect + {} + close",
                if bytes > 0 { "4 KiB" } else { "nothing" }
            ),
            CYCLES as f64,
            "cycles/s",
            [
                &|| tcplab_cycles(bytes),
                &|| smoltcp_cycles(true, bytes),
                &|| smoltcp_cycles(false, bytes),
            ],
        ));
    }
    for cpu in [false, true] {
        let per = if cpu {
            "per CPU-second"
        } else {
            "per wall-second"
        };
        let _ = writeln!(
            out,
            "\n{per}: median (lowest–highest) of {RUNS} alternating runs\n\n| measure | tcplab (NewReno) | smoltcp 0.14 (Reno) | ratio | smoltcp 0.14 (no CC) | ratio |\n|---|---|---|---|---|---|"
        );
        for r in &rows {
            let t = spread(r.work, &r.runs[0], cpu);
            let sr = spread(r.work, &r.runs[1], cpu);
            let sn = spread(r.work, &r.runs[2], cpu);
            let _ = writeln!(
                out,
                "| {}, {} | {} | {} | {:.2} | {} | {:.2} |",
                r.label,
                r.unit,
                fmt_rate(r.unit, t),
                fmt_rate(r.unit, sr),
                t.0 / sr.0,
                fmt_rate(r.unit, sn),
                t.0 / sn.0
            );
        }
    }
}

/// A small exchange, to check the harness still works under `cargo test`.
fn tcplab_bulk_smoke() -> usize {
    let mut p = tcplab_pair(64 * 1024);
    let l =
        p.b.tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 4)
            .unwrap();
    let (c, s) = connect(&mut p, l);
    p.a.tcp_send(c, &[1; 1000]).unwrap();
    pump(&mut p);
    let mut buf = [0u8; 2000];
    p.b.tcp_recv(s, &mut buf).unwrap()
}
