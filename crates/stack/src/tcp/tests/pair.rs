//! Two stacks joined by a pipe with delay and seeded impairments; the clock
//! jumps to the next arrival or deadline (quinn-proto's `Pair`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::tcp::TraceEvent;
use crate::{Config, IfaceId, Instant, Rng, Stack};

pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Impairments of the pipe, per datagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
    pub corrupt: f64,
}

/// A datagram in the pipe: (arrival, order, towards b, bytes).
type InFlight = Reverse<(Instant, u64, bool, Vec<u8>)>;

pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    pub delay: Duration,
    pub faults: Faults,
    pub rng: Rng,
    /// (arrival, sequence, to_b, bytes)
    flight: BinaryHeap<InFlight>,
    seq: u64,
    /// Datagrams put on the pipe, a→b and b→a.
    pub sent: (u64, u64),
    /// Every datagram, with its direction, for inspection.
    pub log: Vec<(bool, Vec<u8>)>,
    pub keep_log: bool,
    /// What a and b recorded (`Stack::set_tracing`), taken after each step.
    pub trace: (Vec<TraceEvent>, Vec<TraceEvent>),
}

impl Pair {
    pub fn new(seed: u64, mtu: usize, config: impl Fn(&mut Config)) -> Pair {
        let mut ca = Config {
            seed,
            ..Config::default()
        };
        let mut cb = Config {
            seed: seed ^ 0x5555,
            ..Config::default()
        };
        config(&mut ca);
        config(&mut cb);
        let mut a = Stack::new(ca);
        let mut b = Stack::new(cb);
        a.add_interface("eth0", "10.0.0.1/24".parse().unwrap(), mtu)
            .unwrap();
        b.add_interface("eth0", "10.0.0.2/24".parse().unwrap(), mtu)
            .unwrap();
        Pair {
            a,
            b,
            now: Instant::from_secs(1),
            delay: Duration::from_millis(10),
            faults: Faults::default(),
            rng: Rng::new(seed ^ 0xabcdef),
            flight: BinaryHeap::new(),
            seq: 0,
            sent: (0, 0),
            log: Vec::new(),
            keep_log: false,
            trace: (Vec::new(), Vec::new()),
        }
    }

    /// Move every datagram either stack wants to send into the pipe.
    fn drain(&mut self) {
        let mut buf = Vec::new();
        for to_b in [true, false] {
            loop {
                let stack = if to_b { &mut self.a } else { &mut self.b };
                let Some(t) = stack.poll_transmit(self.now, &mut buf) else {
                    break;
                };
                let bytes = buf[..t.len].to_vec();
                if to_b {
                    self.sent.0 += 1;
                } else {
                    self.sent.1 += 1;
                }
                if self.keep_log {
                    self.log.push((to_b, bytes.clone()));
                }
                self.put(to_b, bytes);
            }
        }
    }

    fn put(&mut self, to_b: bool, mut bytes: Vec<u8>) {
        let f = self.faults;
        let copies = if self.rng.chance(f.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(f.loss) {
                continue;
            }
            if self.rng.chance(f.corrupt) {
                let i = self.rng.below(bytes.len() as u64) as usize;
                bytes[i] ^= 1 << self.rng.below(8);
            }
            let extra = if self.rng.chance(f.reorder) {
                self.delay
            } else {
                Duration::ZERO
            };
            self.seq += 1;
            self.flight.push(Reverse((
                self.now + self.delay + extra,
                self.seq,
                to_b,
                bytes.clone(),
            )));
        }
    }

    /// Advance to the next event and handle it; false when nothing is left.
    pub fn step(&mut self) -> bool {
        self.drain();
        let next = [
            self.flight.peek().map(|Reverse((t, ..))| *t),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        while let Some(Reverse((t, ..))) = self.flight.peek() {
            if *t > self.now {
                break;
            }
            let Reverse((_, _, to_b, bytes)) = self.flight.pop().unwrap();
            if to_b {
                self.b.handle_packet(self.now, IfaceId(1), &bytes);
            } else {
                self.a.handle_packet(self.now, IfaceId(1), &bytes);
            }
        }
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
        self.drain();
        self.trace.0.extend(self.a.take_trace());
        self.trace.1.extend(self.b.take_trace());
        true
    }

    /// Step until `done` holds (checked between steps) or `limit` passes.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.now > end || !self.step() {
                return done(self);
            }
        }
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            let next = [
                self.flight.peek().map(|Reverse((t, ..))| *t),
                self.a.poll_timeout(),
                self.b.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => {
                    self.now = end;
                    break;
                }
            }
        }
    }
}

pub fn sa(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip, port)
}
