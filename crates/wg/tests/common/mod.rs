//! A two-device harness on virtual time: datagrams cross an ideal (or
//! tampered-with) network at once, and the clock jumps to the next deadline.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_base::Instant;
use tcplab_wg::{Action, AllowedIp, Device, PeerConfig, PresharedKey, PrivateKey, SeededEntropy};

pub const A_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 51820);
pub const B_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 51820);
pub const A_TUN: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B_TUN: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Wall-clock origin of the simulation (2023-11-14).
pub const WALL_ORIGIN: Duration = Duration::from_secs(1_700_000_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// One datagram on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub at: Instant,
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    pub datagram: Vec<u8>,
}

/// What the network does with a datagram.
pub enum Verdict {
    Pass,
    Drop,
}

pub struct Pair {
    pub a: Device,
    pub b: Device,
    pub now: Instant,
    pub a_delivered: Vec<Vec<u8>>,
    pub b_delivered: Vec<Vec<u8>>,
    pub log: Vec<Wire>,
    /// Where A's datagrams appear to come from (NAT rebinding tests).
    pub a_source: SocketAddrV4,
    pub filter: Box<dyn FnMut(&Wire) -> Verdict>,
}

pub struct PairConfig {
    pub seed: u64,
    pub psk: bool,
    pub b_knows_a_endpoint: bool,
    pub a_keepalive: Option<u16>,
}

impl Default for PairConfig {
    fn default() -> PairConfig {
        PairConfig {
            seed: 1,
            psk: true,
            b_knows_a_endpoint: false,
            a_keepalive: None,
        }
    }
}

impl Pair {
    pub fn new(cfg: PairConfig) -> Pair {
        let mut keygen = SeededEntropy::new(cfg.seed ^ 0x6b65_7973);
        let a_key = PrivateKey::generate(&mut keygen);
        let b_key = PrivateKey::generate(&mut keygen);
        let psk = cfg.psk.then(|| PresharedKey::generate(&mut keygen));
        let a_pub = a_key.public_key();
        let b_pub = b_key.public_key();
        let mut a = Device::new(a_key, Box::new(SeededEntropy::new(cfg.seed)));
        let mut b = Device::new(
            b_key,
            Box::new(SeededEntropy::new(cfg.seed.wrapping_add(1))),
        );
        let mut pa = PeerConfig::new(b_pub);
        pa.preshared_key = psk.clone();
        pa.endpoint = Some(B_ADDR);
        pa.allowed_ips = vec![AllowedIp::new(B_TUN, 32).expect("prefix")];
        pa.persistent_keepalive = cfg.a_keepalive;
        a.add_peer(pa).expect("peer b");
        let mut pb = PeerConfig::new(a_pub);
        pb.preshared_key = psk;
        pb.endpoint = cfg.b_knows_a_endpoint.then_some(A_ADDR);
        pb.allowed_ips = vec![AllowedIp::new(A_TUN, 32).expect("prefix")];
        b.add_peer(pb).expect("peer a");
        Pair {
            a,
            b,
            now: Instant::ZERO,
            a_delivered: Vec::new(),
            b_delivered: Vec::new(),
            log: Vec::new(),
            a_source: A_ADDR,
            filter: Box::new(|_| Verdict::Pass),
        }
    }

    pub fn wall(&self) -> Duration {
        WALL_ORIGIN + self.now.since_origin()
    }

    /// A packet from `side`'s tunnel interface.
    pub fn send(&mut self, side: Side, packet: &[u8]) {
        let (now, wall) = (self.now, self.wall());
        let actions = match side {
            Side::A => self.a.send(now, wall, packet),
            Side::B => self.b.send(now, wall, packet),
        };
        self.deliver(side, actions);
    }

    /// Feeds one datagram straight into a device, bypassing the network.
    pub fn inject(&mut self, to: Side, from: SocketAddrV4, datagram: &[u8]) {
        let (now, wall) = (self.now, self.wall());
        let actions = match to {
            Side::A => self.a.receive(now, wall, from, datagram),
            Side::B => self.b.receive(now, wall, from, datagram),
        };
        self.deliver(to, actions);
    }

    /// Carries out `actions` of `side` and everything they cause.
    pub fn deliver(&mut self, side: Side, actions: Vec<Action>) {
        let mut queue: VecDeque<(Side, Action)> = actions.into_iter().map(|a| (side, a)).collect();
        while let Some((side, action)) = queue.pop_front() {
            match action {
                Action::Deliver(p) => match side {
                    Side::A => self.a_delivered.push(p),
                    Side::B => self.b_delivered.push(p),
                },
                Action::Send { to, datagram } => {
                    let from = match side {
                        Side::A => self.a_source,
                        Side::B => B_ADDR,
                    };
                    let wire = Wire {
                        at: self.now,
                        from,
                        to,
                        datagram,
                    };
                    let verdict = (self.filter)(&wire);
                    self.log.push(wire.clone());
                    if matches!(verdict, Verdict::Drop) {
                        continue;
                    }
                    let (now, wall) = (self.now, self.wall());
                    let (dest, out) = if to == B_ADDR {
                        (Side::B, self.b.receive(now, wall, from, &wire.datagram))
                    } else if to == A_ADDR || to == self.a_source {
                        (Side::A, self.a.receive(now, wall, from, &wire.datagram))
                    } else {
                        continue;
                    };
                    queue.extend(out.into_iter().map(|a| (dest, a)));
                }
            }
        }
    }

    /// Advances virtual time to `until`, running every deadline on the way.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let (now, wall) = (self.now, self.wall());
                    let out = self.a.handle_timeout(now, wall);
                    self.deliver(Side::A, out);
                    let out = self.b.handle_timeout(now, wall);
                    self.deliver(Side::B, out);
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Datagrams in the log of a given message type.
    pub fn count_type(&self, ty: u8) -> usize {
        self.log
            .iter()
            .filter(|w| w.datagram.first() == Some(&ty))
            .count()
    }
}

/// A minimal IPv4/UDP packet with a correct total length.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(28 + payload.len()).expect("small");
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0x30, 0x39, 0x30, 0x39]);
    p.extend_from_slice(
        &u16::try_from(8 + payload.len())
            .expect("small")
            .to_be_bytes(),
    );
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

pub fn a_to_b(payload: &[u8]) -> Vec<u8> {
    ipv4_packet(A_TUN, B_TUN, payload)
}

pub fn b_to_a(payload: &[u8]) -> Vec<u8> {
    ipv4_packet(B_TUN, A_TUN, payload)
}
