//! Random interleavings of every driver and socket call on two stacks.
//!
//! The driver contract lets `handle_packet`, `handle_timeout`,
//! `poll_transmit` and the socket calls come in any order at any time. Here
//! a seeded scheduler picks the next call at random — deliver a packet (or
//! lose, duplicate, reorder or corrupt it), take one packet out, run the
//! timers early or late, let time jump, send, read, toggle Nagle, switch
//! the congestion control (each stack starts with one of the four), close —
//! and after every call checks the invariants of both stacks: the sequence
//! variables, the retransmission queue, timers armed when they must be,
//! and no segment beyond the receiver's advertised window (a one-byte
//! window probe aside). Then the path turns clean and every byte must
//! arrive, in order, both ways, and both ends must close: no stall.
//!
//! `TCPLAB_SEEDS=N` runs N seeds (default 200), `TCPLAB_SEED=S` one; a
//! failure names its seed.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_wire::{ipv4, tcp, Protocol};

use crate::socket::{RecvError, SendError, SocketError, TcpHandle};
use crate::tcp::{CongestionAlgorithm, State};
use crate::{Config, IfaceId, Instant, Rng, Stack};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A seeded byte stream that does not depend on how it is cut.
struct Stream {
    rng: Rng,
    word: [u8; 8],
    used: usize,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            rng: Rng::new(seed),
            word: [0; 8],
            used: 8,
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                if self.used == 8 {
                    self.word = self.rng.next_u64().to_le_bytes();
                    self.used = 0;
                }
                self.used += 1;
                self.word[self.used - 1]
            })
            .collect()
    }
}

/// One direction of the conversation: what the sender has queued and what
/// the receiver has read and checked.
struct Flow {
    total: usize,
    out: Stream,
    check: Stream,
    /// Bytes generated but not yet accepted by `send`.
    pending: Vec<u8>,
    queued: usize,
    read: usize,
    shut: bool,
    eof: bool,
}

impl Flow {
    fn new(seed: u64, total: usize) -> Flow {
        Flow {
            total,
            out: Stream::new(seed),
            check: Stream::new(seed),
            pending: Vec::new(),
            queued: 0,
            read: 0,
            shut: false,
            eof: false,
        }
    }
}

struct Packet {
    to_b: bool,
    bytes: Vec<u8>,
    /// Not delivered before this time (the path's delay).
    due: Instant,
}

struct World {
    seed: u64,
    a: Stack,
    b: Stack,
    now: Instant,
    rng: Rng,
    wire: Vec<Packet>,
    /// The client on a, once connect was called.
    a_conn: Option<TcpHandle>,
    /// (client on a, server on b)
    ends: Option<(TcpHandle, TcpHandle)>,
    listener: TcpHandle,
    /// a → b and b → a.
    flows: [Flow; 2],
    loss: f64,
    dup: f64,
    corrupt: f64,
    steps: u64,
    /// FNV-1a over every packet the stacks emitted, with its time.
    digest: u64,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let mtu = [1500, 576, 296, 68][rng.below(4) as usize];
        let small = rng.chance(0.3);
        let config = |s: u64| {
            let mut c = Config {
                seed: s,
                ..Config::default()
            };
            if small {
                c.tcp.recv_buffer = 4096;
                c.tcp.send_buffer = 4096;
            }
            c.tcp.window_scaling = rng_bool(s);
            c.tcp.nagle = rng_bool(s >> 1);
            // SACK, timestamps, RACK and TLP on or off (each on more
            // often than not): every loss-recovery path gets its turn.
            c.tcp.sack = (s >> 8) % 4 != 0;
            c.tcp.timestamps = (s >> 10) % 4 != 0;
            c.tcp.rack = (s >> 12) % 4 != 0;
            c.tcp.tlp = (s >> 14) % 4 != 0;
            c.tcp.congestion = ALGORITHMS[(s.wrapping_mul(0xd6e8_feb8_6659_fd93) >> 62) as usize];
            c
        };
        let mut a = Stack::new(config(seed));
        let mut b = Stack::new(config(seed ^ 0x9e37));
        a.add_interface("eth0", "10.0.0.1/24".parse().unwrap(), mtu)
            .unwrap();
        b.add_interface("eth0", "10.0.0.2/24".parse().unwrap(), mtu)
            .unwrap();
        let listener = b.tcp_listen(SocketAddrV4::new(B, 80), 4).unwrap();
        let ab = rng.below(300_000) as usize;
        let ba = rng.below(100_000) as usize;
        World {
            seed,
            a,
            b,
            now: Instant::from_secs(1),
            wire: Vec::new(),
            a_conn: None,
            ends: None,
            listener,
            flows: [Flow::new(seed * 3 + 1, ab), Flow::new(seed * 3 + 2, ba)],
            loss: [0.0, 0.01, 0.05, 0.1, 0.3][rng.below(5) as usize],
            dup: [0.0, 0.02, 0.1][rng.below(3) as usize],
            corrupt: [0.0, 0.01][rng.below(2) as usize],
            rng,
            steps: 0,
            digest: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn stack(&mut self, on_a: bool) -> &mut Stack {
        if on_a {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    /// After every call: both stacks' invariants.
    fn check(&self, what: &str) {
        for (name, s) in [("a", &self.a), ("b", &self.b)] {
            if let Err(e) = s.tcp.check_invariants() {
                panic!(
                    "seed {}: step {} ({what}): stack {name}: {e}",
                    self.seed, self.steps
                );
            }
        }
    }

    /// Take one packet out of a stack; check it against the receiver's
    /// window.
    fn poll_one(&mut self, on_a: bool) -> bool {
        let now = self.now;
        let mut buf = Vec::new();
        let Some(t) = self.stack(on_a).poll_transmit(now, &mut buf) else {
            return false;
        };
        let bytes = buf[..t.len].to_vec();
        for b in now.total_micros().to_le_bytes().iter().chain(&bytes) {
            self.digest = (self.digest ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.check_window(on_a, &bytes);
        let delay = Duration::from_millis(5 + self.rng.below(20));
        self.wire.push(Packet {
            to_b: on_a,
            bytes,
            due: now + delay,
        });
        true
    }

    /// RFC 5681 §3 / RFC 9293 §3.8.6: nothing beyond the window the
    /// receiver advertised, except a one-byte zero-window probe.
    fn check_window(&self, from_a: bool, bytes: &[u8]) {
        let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
            return;
        };
        if ip.protocol() != Protocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
            return;
        }
        let Ok(p) = tcp::Packet::new_checked(ip.payload()) else {
            return;
        };
        let Ok(seg) = tcp::Repr::parse(&p) else {
            return;
        };
        if seg.payload.len() <= 1 || seg.flags.syn() {
            return;
        }
        let receiver = if from_a { &self.b } else { &self.a };
        let local = SocketAddrV4::new(ip.dst_addr(), seg.dst_port);
        let remote = SocketAddrV4::new(ip.src_addr(), seg.src_port);
        let Some(key) = receiver.tcp.find(local, remote) else {
            return;
        };
        let Some(c) = receiver.tcp.conn(key) else {
            return;
        };
        if !c.state().synchronized() {
            return;
        }
        let end = seg.seq_number + seg.payload.len();
        let edge = c.rcv.right_edge();
        let sender = if from_a { &self.a } else { &self.b };
        let view = sender
            .tcp
            .find(remote, local)
            .and_then(|k| sender.tcp.conn(k))
            .map(|c| (c.state(), c.snd.una(), c.snd.wnd()));
        assert!(
            end <= edge,
            "seed {}: step {}: {} bytes at {:?} end at {end:?}, beyond the advertised edge \
             {edge:?} (sender's state, SND.UNA, SND.WND: {view:?})",
            self.seed,
            self.steps,
            seg.payload.len(),
            seg.seq_number
        );
    }

    /// Deliver (or lose, duplicate, corrupt) one packet that is due —
    /// chosen at random, so packets overtake each other.
    fn deliver_one(&mut self, clean: bool) -> bool {
        let due: Vec<usize> = (0..self.wire.len())
            .filter(|&i| self.wire[i].due <= self.now)
            .collect();
        if due.is_empty() {
            return false;
        }
        let pick = if clean {
            due[0]
        } else {
            due[self.rng.below(due.len() as u64) as usize]
        };
        let mut p = self.wire.remove(pick);
        if !clean {
            if self.rng.chance(self.loss) {
                return true;
            }
            if self.rng.chance(self.dup) {
                self.wire.push(Packet {
                    to_b: p.to_b,
                    bytes: p.bytes.clone(),
                    due: self.now + Duration::from_millis(self.rng.below(30)),
                });
            }
            if self.rng.chance(self.corrupt) {
                let i = self.rng.below(p.bytes.len() as u64) as usize;
                p.bytes[i] ^= 1 << self.rng.below(8);
            }
        }
        let now = self.now;
        let to_b = p.to_b;
        self.stack(!to_b).handle_packet(now, IfaceId(1), &p.bytes);
        true
    }

    fn connect(&mut self) {
        if self.ends.is_none() {
            if let Ok(s) = self.b.tcp_accept(self.listener) {
                let c = self.a_conn.expect("the client connected first");
                self.ends = Some((c, s));
            }
        }
    }

    /// The handshake may end half-open: the client ESTABLISHED, the
    /// server's embryo given up after its SYN-ACK retries (every ACK lost).
    /// A real client finds out when it writes — a reset — and connects
    /// again; so does this one.
    fn recover_half_open(&mut self) {
        let (None, Some(c)) = (self.ends, self.a_conn) else {
            return;
        };
        let Some(local) = self.a.tcp_local_addr(c) else {
            return self.reconnect();
        };
        let remote = SocketAddrV4::new(B, 80);
        let ready = self.a.tcp_readiness(c);
        if ready.is_none_or(|r| r.error.is_some() || r.state == Some(State::Closed)) {
            return self.reconnect();
        }
        let server_has_it = self.b.tcp.find(remote, local).is_some();
        if !server_has_it && ready.is_some_and(|r| r.state == Some(State::Established)) {
            let _ = self.a.tcp_send(c, b"?");
        }
    }

    fn reconnect(&mut self) {
        let now = self.now;
        if let Some(c) = self.a_conn.take() {
            self.a.tcp_abort(now, c);
        }
        let c = self
            .a
            .tcp_connect(now, SocketAddrV4::new(B, 80), None)
            .unwrap();
        self.a_conn = Some(c);
        let (ab, ba) = (self.flows[0].total, self.flows[1].total);
        self.flows = [
            Flow::new(self.seed * 3 + 1, ab),
            Flow::new(self.seed * 3 + 2, ba),
        ];
    }

    /// The application calls of one side.
    fn app(&mut self, on_a: bool) {
        let Some((c, s)) = self.ends else { return };
        let (h, out_i, in_i) = if on_a { (c, 0, 1) } else { (s, 1, 0) };
        match self.rng.below(5) {
            0 | 1 => {
                let flow = &mut self.flows[out_i];
                let left = flow.total - flow.queued - flow.pending.len();
                if flow.pending.is_empty() && left > 0 {
                    let n = (1 + self.rng.below(20_000) as usize).min(left);
                    flow.pending = flow.out.take(n);
                }
                let flow = &mut self.flows[out_i];
                if !flow.pending.is_empty() {
                    let stack = if on_a { &mut self.a } else { &mut self.b };
                    match stack.tcp_send(h, &flow.pending) {
                        Ok(n) => {
                            flow.pending.drain(..n);
                            flow.queued += n;
                        }
                        Err(SendError::WouldBlock) => {}
                        Err(e) => panic!("seed {}: send: {e}", self.seed),
                    }
                } else if flow.queued == flow.total && !flow.shut {
                    let stack = if on_a { &mut self.a } else { &mut self.b };
                    stack.tcp_shutdown(h).unwrap();
                    flow.shut = true;
                }
            }
            2 | 3 => {
                let size = [1, 7, 100, 1500, 65536][self.rng.below(5) as usize];
                let mut buf = vec![0u8; size];
                let stack = if on_a { &mut self.a } else { &mut self.b };
                let sent_all = self.flows[out_i].read == self.flows[out_i].total;
                let flow = &mut self.flows[in_i];
                match stack.tcp_recv(h, &mut buf) {
                    Ok(0) => flow.eof = true,
                    Ok(n) => {
                        let expect = flow.check.take(n);
                        assert!(
                            buf[..n] == expect[..],
                            "seed {}: corrupted stream at byte {}",
                            self.seed,
                            flow.read
                        );
                        flow.read += n;
                    }
                    Err(RecvError::WouldBlock) => {}
                    // Every byte arrived both ways, but the ACKs of this
                    // end's last segments were lost until the peer's
                    // TIME-WAIT (2·MSL) ended: the peer answers with a
                    // reset (RFC 9293 §3.10.7.1), as Linux's would.
                    Err(RecvError::Socket(SocketError::ConnectionReset))
                        if flow.read == flow.total && sent_all =>
                    {
                        flow.eof = true;
                    }
                    Err(e) => panic!("seed {}: recv: {e:?}", self.seed),
                }
            }
            _ => {
                let on = self.rng.chance(0.5);
                // Now and then TCP_CONGESTION, whatever state the
                // connection is in (recovery, a timeout's episode, ...).
                let switch = self
                    .rng
                    .chance(0.1)
                    .then(|| ALGORITHMS[self.rng.below(ALGORITHMS.len() as u64) as usize]);
                let stack = if on_a { &mut self.a } else { &mut self.b };
                stack.tcp_set_nodelay(h, on);
                if let Some(algorithm) = switch {
                    stack.tcp_set_congestion(h, algorithm);
                }
                let _ = stack.tcp_info(h);
                let _ = stack.tcp_readiness(h);
            }
        }
    }

    /// One random call.
    fn step(&mut self) {
        self.steps += 1;
        let on_a = self.rng.chance(0.5);
        let what = match self.rng.below(12) {
            0..=2 => {
                self.deliver_one(false);
                "handle_packet"
            }
            3..=5 => {
                self.poll_one(on_a);
                "poll_transmit"
            }
            6 => {
                // Timers at a random moment: early (harmless) or due.
                let now = self.now;
                self.stack(on_a).handle_timeout(now);
                "handle_timeout"
            }
            7 => {
                let d = if self.rng.chance(0.1) {
                    Duration::from_millis(self.rng.below(3000))
                } else {
                    Duration::from_millis(self.rng.below(30))
                };
                self.now += d;
                "time passes"
            }
            8 => {
                let now = self.now;
                while let Some(e) = self.stack(on_a).poll_event() {
                    let _ = (e, now);
                }
                "poll_event"
            }
            _ => {
                self.connect();
                self.app(on_a);
                "socket call"
            }
        };
        self.check(what);
    }

    /// A clean path and a well-behaved driver: run until both flows are
    /// complete and both ends closed.
    fn finish(&mut self) {
        let limit = self.now + Duration::from_secs(1800);
        loop {
            self.steps += 1;
            self.connect();
            self.recover_half_open();
            for on_a in [true, false] {
                for _ in 0..8 {
                    self.app(on_a);
                }
                while self.poll_one(on_a) {}
            }
            self.check("draining");
            self.check_quiet();
            while self.deliver_one(true) {}
            if self.done() {
                return;
            }
            let next = [
                self.wire.iter().map(|p| p.due).min(),
                self.a.poll_timeout(),
                self.b.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.now + Duration::from_millis(10));
            self.now = self.now.max(next).max(self.now + Duration::from_micros(1));
            for on_a in [true, false] {
                let now = self.now;
                let s = self.stack(on_a);
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
            assert!(
                self.now < limit,
                "seed {}: stalled: a→b {}/{} read, b→a {}/{} read, states {:?}, client {:?}",
                self.seed,
                self.flows[0].read,
                self.flows[0].total,
                self.flows[1].read,
                self.flows[1].total,
                self.ends.map(|(c, s)| (
                    self.a.tcp_info(c).map(|i| i.state),
                    self.b.tcp_info(s).map(|i| i.state)
                )),
                self.a_conn.map(|c| self.a.tcp_readiness(c)),
            );
        }
    }

    /// After a full drain, whatever waits to be sent has a timer that will
    /// send it: nothing can sit forever.
    fn check_quiet(&self) {
        for (name, s) in [("a", &self.a), ("b", &self.b)] {
            if let Err(e) = s.tcp.check_quiescent() {
                panic!("seed {}: stack {name} after draining: {e}", self.seed);
            }
        }
    }

    fn done(&self) -> bool {
        let Some((c, s)) = self.ends else {
            return false;
        };
        let closed =
            |st: Option<State>| st.is_none_or(|s| matches!(s, State::TimeWait | State::Closed));
        self.flows
            .iter()
            .all(|f| f.read == f.total && f.eof && f.shut)
            && closed(self.a.tcp_info(c).map(|i| i.state))
            && closed(self.b.tcp_info(s).map(|i| i.state))
    }
}

const ALGORITHMS: [CongestionAlgorithm; 4] = [
    CongestionAlgorithm::NewReno,
    CongestionAlgorithm::Cubic,
    CongestionAlgorithm::Bbr,
    CongestionAlgorithm::Bbr1,
];

fn rng_bool(s: u64) -> bool {
    s.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 63 == 1
}

#[expect(
    clippy::print_stderr,
    reason = "a summary per seed with TCPLAB_VERBOSE"
)]
/// Runs seed `seed`; returns the digest of everything both stacks sent.
fn run(seed: u64) -> u64 {
    let mut w = World::new(seed);
    let now = w.now;
    let c =
        w.a.tcp_connect(now, SocketAddrV4::new(B, 80), Some(SocketAddrV4::new(A, 0)))
            .unwrap();
    w.a_conn = Some(c);
    let steps = 2000 + w.rng.below(4000);
    for _ in 0..steps {
        w.step();
    }
    w.finish();
    if std::env::var("TCPLAB_VERBOSE").is_ok() {
        eprintln!(
            "seed {seed}: {} steps, {} + {} bytes, loss {} dup {} corrupt {}, {:?} of virtual time",
            w.steps,
            w.flows[0].read,
            w.flows[1].read,
            w.loss,
            w.dup,
            w.corrupt,
            w.now.saturating_since(Instant::from_secs(1))
        );
    }
    w.digest
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("TCPLAB_SEED") {
        return vec![s.parse().expect("TCPLAB_SEED is a number")];
    }
    let n = std::env::var("TCPLAB_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    (0..n).collect()
}

#[test]
fn random_interleavings_keep_every_invariant_and_every_byte() {
    for seed in seeds() {
        let outcome = std::panic::catch_unwind(|| run(seed));
        if outcome.is_err() {
            panic!("seed {seed} failed; rerun it alone with TCPLAB_SEED={seed}");
        }
    }
}

/// The ACK path's shortcut (`Connection::nothing_to_learn`) is only a
/// shortcut: with every ACK sent through the general path instead, every
/// interleaving emits the same packets at the same times.
#[test]
fn the_quiet_ack_shortcut_changes_no_packet() {
    use crate::tcp::recovery::{GENERAL_ACK_PATH, QUIET_ACKS};
    // Each seed runs twice: 50 unless TCPLAB_SEEDS / TCPLAB_SEED say.
    let chosen = std::env::var("TCPLAB_SEEDS").is_ok() || std::env::var("TCPLAB_SEED").is_ok();
    let seeds = if chosen { seeds() } else { (0..50).collect() };
    for seed in seeds {
        let fast = std::panic::catch_unwind(|| run(seed));
        GENERAL_ACK_PATH.with(|g| g.set(true));
        let general = std::panic::catch_unwind(|| run(seed));
        GENERAL_ACK_PATH.with(|g| g.set(false));
        match (fast, general) {
            (Ok(f), Ok(g)) => assert_eq!(
                f, g,
                "seed {seed}: the shortcut changed what was sent; rerun with TCPLAB_SEED={seed}"
            ),
            _ => panic!("seed {seed} failed; rerun it alone with TCPLAB_SEED={seed}"),
        }
    }
    // The shortcut did run (the general runs count nothing).
    assert!(
        QUIET_ACKS.with(std::cell::Cell::get) > 0,
        "no ACK took the shortcut"
    );
}

/// Seeds that once found a bug, run whatever `TCPLAB_SEEDS` says.
const SEEDS_THAT_FOUND_BUGS: &[u64] = &[
    // A window taken from an ACK below SND.UNA (RFC 9293 §3.10.7.4, fifth
    // step).
    97,
];

#[test]
fn seeds_that_found_bugs() {
    for &seed in SEEDS_THAT_FOUND_BUGS {
        run(seed);
    }
}
