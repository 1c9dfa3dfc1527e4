//! IPv4 input and output for one host (RFC 791, RFC 1122 §3.3, RFC 1812 §5
//! when forwarding).
//!
//! `IpLayer` owns what every transport needs to send: interfaces, routes,
//! the path-MTU cache, the identification counter and the output queues. The
//! transports (ICMP, UDP, TCP) are separate values that borrow it to send, so
//! that no module holds the whole stack.

mod frag;
mod pmtu;
mod reasm;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use tcplab_wire::ip::is_unicast_source;
use tcplab_wire::{ipv4, Protocol};

pub use frag::fragment;
pub use pmtu::PmtuCache;
pub use reasm::{Discard, Reassembler, ReassemblyOutcome};

use crate::config::{Config, LoopbackCost};
use crate::hash::KeyedState;
use crate::iface::{IfaceId, Interface};
use crate::rand::Rng;
use crate::route::{Route, RouteOrigin, RouteTable};
use crate::socket::{PmtuDisc, SendError};
use crate::stats::IpStats;
use crate::time::Instant;

/// A datagram ready for a link.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub iface: IfaceId,
    /// The link-layer destination: the gateway, or the destination itself.
    pub next_hop: Ipv4Addr,
    pub bytes: Vec<u8>,
}

/// How a datagram to a local address is received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// One of this host's addresses (or 127/8 on loopback).
    Local,
    /// The limited broadcast or a directed broadcast of the arrival subnet.
    Broadcast,
    /// Somebody else's.
    Other,
}

/// The outcome of routing a datagram this host originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    pub iface: IfaceId,
    pub next_hop: Ipv4Addr,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Largest datagram that crosses the path unfragmented, as known now.
    pub mtu: usize,
}

/// Header fields a transport chooses for a datagram it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    pub protocol: Protocol,
    pub ttl: u8,
    pub tos: u8,
    pub pmtudisc: PmtuDisc,
}

/// Buckets of identification counters (`IpLayer::next_ident`): Linux
/// sizes its table by memory; 1,024 keep two flows apart unless their
/// hashes meet.
const IDENT_BUCKETS: usize = 1024;

/// Interfaces, routes and output of one host.
#[derive(Debug)]
pub struct IpLayer {
    pub ifaces: Vec<Interface>,
    pub routes: RouteTable,
    pub pmtu: PmtuCache,
    pub stats: IpStats,
    /// Datagrams for links, in order.
    pub out: VecDeque<Outgoing>,
    /// Datagrams to this host itself, with the time each is delivered;
    /// they never reach a link.
    pub loopback: VecDeque<(Instant, Vec<u8>)>,
    /// When the loopback path finishes its queued work.
    loopback_busy: Instant,
    loopback_cost: LoopbackCost,
    /// The stack's current time.
    pub now: Instant,
    /// Identification counters, one per bucket of (source, destination,
    /// protocol) (`next_ident`).
    idents: Box<[u16]>,
    ident_key: KeyedState,
    /// The last triple `next_ident` hashed and its hash: a host talking
    /// to one peer asks for the same triple datagram after datagram, and
    /// the hash depends on nothing else (the key never changes).
    ident_memo: Option<(u64, Protocol, u64)>,
    pub default_ttl: u8,
    pub forwarding: bool,
    /// Buffers given back by the driver, reused to avoid allocation.
    pool: Vec<Vec<u8>>,
}

impl IpLayer {
    pub fn new(config: &Config, rng: &mut Rng) -> IpLayer {
        IpLayer {
            ifaces: vec![Interface::loopback()],
            routes: RouteTable::default(),
            pmtu: PmtuCache::new(config.pmtu_expires),
            stats: IpStats::default(),
            out: VecDeque::new(),
            loopback: VecDeque::new(),
            loopback_busy: Instant::ZERO,
            loopback_cost: config.loopback_cost,
            now: Instant::ZERO,
            // RFC 6864 §4.3: a non-atomic datagram's ID must not repeat
            // within one maximum datagram lifetime per (src, dst, protocol);
            // atomic ones (§4.1) may carry any. A counter per bucket of
            // that triple meets it below about 546 non-atomic datagrams a
            // second to one destination (docs/compliance.md). The key comes
            // from the seed (random on a real network) and the one value
            // the layer has always drawn, so the rest of a seeded run's
            // choices stay where they were.
            idents: vec![0; IDENT_BUCKETS].into_boxed_slice(),
            ident_key: {
                let start = u64::from(rng.next_u16());
                KeyedState::with_keys(
                    config.seed ^ start.rotate_left(48) ^ 0x6970_2d69_6465_6e74,
                    config.seed.rotate_left(31) ^ start ^ 0x7263_3737_3339_2e33,
                )
            },
            ident_memo: None,
            default_ttl: config.default_ttl,
            forwarding: config.forwarding,
            pool: Vec::new(),
        }
    }

    pub fn iface(&self, id: IfaceId) -> Option<&Interface> {
        self.ifaces.get(id.0)
    }

    /// Add an interface and its connected routes.
    pub fn add_iface(&mut self, iface: Interface) -> IfaceId {
        let id = IfaceId(self.ifaces.len());
        for cidr in &iface.addrs {
            self.routes.add(Route {
                dest: cidr.network(),
                gateway: None,
                iface: id,
                origin: RouteOrigin::Connected,
            });
        }
        self.ifaces.push(iface);
        id
    }

    /// The identification of the next datagram from `src` to `dst` of
    /// `protocol` (RFC 7739 §5.3's hash-based selection, as Linux's
    /// ip_idents): a counter in one of `IDENT_BUCKETS` buckets chosen by a
    /// keyed hash of the triple, plus an offset from the same hash. One
    /// counter for every datagram would let anyone who talks to the host
    /// count what it sends to others (the "idle scan", RFC 7739 §3);
    /// these tell a destination only about its own traffic.
    pub fn next_ident(&mut self, src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol) -> u16 {
        // (Words, not `Hash` of the addresses: the same on every Rust
        // release, so a seeded capture keeps its identifications.)
        let pair = u64::from(u32::from(src)) << 32 | u64::from(u32::from(dst));
        let h = match self.ident_memo {
            Some((p, proto, h)) if p == pair && proto == protocol => h,
            _ => {
                let h = self
                    .ident_key
                    .hash_words(pair, u64::from(u8::from(protocol)));
                self.ident_memo = Some((pair, protocol, h));
                h
            }
        };
        let slot = &mut self.idents[(h as usize) % IDENT_BUCKETS];
        *slot = slot.wrapping_add(1);
        slot.wrapping_add((h >> 32) as u16)
    }

    /// A cleared buffer, recycled when possible.
    pub fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Give a buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < 64 && buf.capacity() <= 70_000 {
            self.pool.push(buf);
        }
    }

    /// Whether `addr` is one of this host's addresses.
    pub fn is_local_addr(&self, addr: Ipv4Addr) -> bool {
        self.ifaces.iter().any(|i| i.owns(addr))
    }

    /// How a datagram to `dst` arriving on `iface` is received.
    pub fn classify(&self, dst: Ipv4Addr, iface: IfaceId) -> Destination {
        if self.is_local_addr(dst) {
            // RFC 1122 §3.2.1.3(g): 127/8 must never appear off-host.
            if dst.is_loopback() && iface != IfaceId::LOOPBACK {
                return Destination::Other;
            }
            return Destination::Local;
        }
        if dst.is_broadcast() {
            return Destination::Broadcast;
        }
        if self
            .iface(iface)
            .is_some_and(|i| i.is_subnet_broadcast(dst))
        {
            return Destination::Broadcast;
        }
        Destination::Other
    }

    /// Whether a received source address is acceptable (RFC 1122 §3.2.1.3,
    /// RFC 1812 §5.3.7: no martians).
    pub fn valid_source(&self, src: Ipv4Addr, iface: IfaceId) -> bool {
        if !is_unicast_source(src) {
            return false;
        }
        if src.is_loopback() && iface != IfaceId::LOOPBACK {
            return false;
        }
        // RFC 1122 §3.2.1.3: one of our own addresses as the source of a
        // datagram from outside is a martian (a LAND attack, CVE-1999-0016,
        // would otherwise open a connection to itself); Linux drops it too.
        if iface != IfaceId::LOOPBACK && self.is_local_addr(src) {
            return false;
        }
        !self.ifaces.iter().any(|i| i.is_subnet_broadcast(src))
    }

    /// The MTU of the interface `route` leaves by (the path's MTU may be
    /// smaller).
    pub fn link_mtu(&self, route: &RouteInfo) -> usize {
        self.ifaces.get(route.iface.0).map_or(route.mtu, |i| i.mtu)
    }

    /// Route a datagram this host originates. `src` is the socket's bound
    /// address, if any.
    pub fn route_local(
        &self,
        now: Instant,
        dst: Ipv4Addr,
        src: Option<Ipv4Addr>,
    ) -> Result<RouteInfo, SendError> {
        let src = src.filter(|s| !s.is_unspecified());
        if let Some(s) = src {
            if !self.is_local_addr(s) {
                return Err(SendError::AddrNotAvailable(s));
            }
        }
        if self.is_local_addr(dst) {
            let lo = &self.ifaces[IfaceId::LOOPBACK.0];
            let src = src.unwrap_or(if dst.is_loopback() {
                Ipv4Addr::LOCALHOST
            } else {
                dst
            });
            return Ok(RouteInfo {
                iface: IfaceId::LOOPBACK,
                next_hop: dst,
                src,
                dst,
                mtu: lo.mtu,
            });
        }
        if dst.is_loopback() {
            return Err(SendError::NoRoute(dst));
        }
        // RFC 1122 §3.2.1.3: 127/8 "MUST NOT appear outside a host".
        if src.is_some_and(|s| s.is_loopback()) {
            return Err(SendError::InvalidArgument);
        }
        let route = self.routes.lookup(dst).ok_or(SendError::NoRoute(dst))?;
        let iface = &self.ifaces[route.iface.0];
        let src = match src {
            Some(s) => s,
            None => iface.source_for(dst).ok_or(SendError::NoRoute(dst))?,
        };
        let mtu = self
            .pmtu
            .get(now, dst)
            .map_or(iface.mtu, |p| p.min(iface.mtu));
        Ok(RouteInfo {
            iface: route.iface,
            next_hop: route.gateway.unwrap_or(dst),
            src,
            dst,
            mtu,
        })
    }

    /// Send a datagram with `payload` along `route`, fragmenting it when it
    /// exceeds the path MTU and the PMTU policy allows (RFC 1191 §3; Linux
    /// `__ip_make_skb`: with `Want`, DF is set only when the datagram fits).
    pub fn send(
        &mut self,
        route: &RouteInfo,
        opts: SendOptions,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let total = ipv4::HEADER_LEN + payload.len();
        // The MTU a datagram must fit: the path's, or for a prober the
        // interface's alone (Linux's ip_sk_use_pmtu: IP_PMTUDISC_PROBE
        // ignores the learnt path MTU).
        let limit = match opts.pmtudisc {
            PmtuDisc::Probe => self.link_mtu(route),
            _ => route.mtu,
        };
        if total > ipv4::MAX_DATAGRAM {
            // Linux's ip_append_data reports the MTU it fragments at here
            // too (ip_local_error with the fragment size, at most 65,535:
            // the loopback's 65,536 shows as 65,535), as iputils shows.
            return Err(SendError::MessageTooLong {
                mtu: limit.min(ipv4::MAX_DATAGRAM),
            });
        }
        let dont_frag = match opts.pmtudisc {
            PmtuDisc::Dont => false,
            PmtuDisc::Want => total <= limit,
            PmtuDisc::Do | PmtuDisc::Probe => true,
        };
        if dont_frag && total > limit {
            // Refused to the caller (EMSGSIZE), not dropped: Linux's
            // ip_append_data counts nothing (no IpOutDiscards).
            return Err(SendError::MessageTooLong { mtu: limit });
        }
        self.stats.out_requests += 1;
        let repr = ipv4::Repr {
            src_addr: route.src,
            dst_addr: route.dst,
            protocol: opts.protocol,
            payload_len: payload.len(),
            ttl: opts.ttl,
            tos: opts.tos,
            ident: self.next_ident(route.src, route.dst, opts.protocol),
            dont_frag,
            more_frags: false,
            frag_offset: 0,
        };
        let mut bytes = self.buffer();
        bytes.resize(total, 0);
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
        bytes[ipv4::HEADER_LEN..].copy_from_slice(payload);
        // Fragment at the path MTU, which may be below the interface's (a
        // datagram with DF fits `limit` and is never cut).
        let mtu = if dont_frag {
            limit
        } else {
            route.mtu.min(self.ifaces[route.iface.0].mtu)
        };
        self.transmit_mtu(route.iface, route.next_hop, bytes, mtu);
        Ok(())
    }

    /// Put a complete datagram on `iface`, fragmenting it if it is larger than
    /// the interface MTU (DF must already have been checked).
    pub fn transmit(&mut self, iface: IfaceId, next_hop: Ipv4Addr, bytes: Vec<u8>) {
        let mtu = self.ifaces[iface.0].mtu;
        self.transmit_mtu(iface, next_hop, bytes, mtu)
    }

    fn transmit_mtu(&mut self, iface: IfaceId, next_hop: Ipv4Addr, bytes: Vec<u8>, mtu: usize) {
        if bytes.len() <= mtu {
            self.enqueue(iface, next_hop, bytes);
            return;
        }
        match fragment(&bytes, mtu) {
            Some(frags) => {
                self.stats.frag_oks += 1;
                self.stats.frag_creates += frags.len() as u64;
                for f in frags {
                    self.enqueue(iface, next_hop, f);
                }
            }
            None => {
                self.stats.frag_fails += 1;
                self.stats.out_discards += 1;
            }
        }
        self.recycle(bytes);
    }

    /// Queue a datagram for this host itself, due when the loopback path
    /// has done its work for it (see [`LoopbackCost`]).
    pub fn push_loopback(&mut self, bytes: Vec<u8>) {
        let start = self.loopback_busy.max(self.now);
        let ready = start + self.loopback_cost.of(bytes.len());
        self.loopback_busy = ready;
        self.loopback.push_back((ready, bytes));
    }

    /// When the next loopback datagram is due.
    pub fn loopback_due(&self) -> Option<Instant> {
        self.loopback.front().map(|(t, _)| *t)
    }

    fn enqueue(&mut self, iface: IfaceId, next_hop: Ipv4Addr, bytes: Vec<u8>) {
        let i = &mut self.ifaces[iface.0];
        i.counters.tx_packets += 1;
        i.counters.tx_bytes += bytes.len() as u64;
        if iface == IfaceId::LOOPBACK {
            self.push_loopback(bytes);
        } else {
            self.out.push_back(Outgoing {
                iface,
                next_hop,
                bytes,
            });
        }
    }
}
