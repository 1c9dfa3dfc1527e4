//! The port table: who holds which (address, port), and ephemeral ports.
//!
//! Ports fall into three ranges (RFC 6335 §6): well-known (system) ports
//! 0–1023, registered (user) ports 1024–49151 and dynamic (private, ephemeral)
//! ports 49152–65535. A second bind of the same address and port — or of a
//! wildcard and a specific address on the same port — fails with "Address
//! already in use", as Linux without `SO_REUSEADDR` does — unless every
//! socket on the port asked to share it with `SO_REUSEPORT` before binding
//! (Linux's rule, which also wants the same owning user: a tcplab host has
//! one), as OpenBSD `nc -l` does.
//!
//! Ephemeral ports of connections (TCP, ping and raw identifiers) are
//! chosen with RFC 6056 §3.3.4 Algorithm 4 ("double-hash port selection"):
//! a keyed hash of the connection's endpoints picks an offset into the
//! range, a second hash picks one of 256 counters that step through it, so
//! ports of different destinations are unrelated while ports to one
//! destination do not repeat soon. An unconnected UDP socket's starts
//! anew at an unpredictable place each time (§3.3.1, as Linux's UDP; RFC
//! 5452 §10 for a resolver's queries). The keys come from the seeded RNG.

use std::hash::{BuildHasher, Hash};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;

use crate::hash::KeyedState;
use crate::rand::Rng;
use crate::socket::{BindError, SocketId, SocketKind};

/// The three ranges of the port space (RFC 6335 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRange {
    /// 0–1023: assigned by IETF review; privileged on Unix.
    WellKnown,
    /// 1024–49151: assigned by IANA on request.
    Registered,
    /// 49152–65535: never assigned; for ephemeral use.
    Dynamic,
}

impl PortRange {
    pub fn of(port: u16) -> PortRange {
        match port {
            0..=1023 => PortRange::WellKnown,
            1024..=49151 => PortRange::Registered,
            _ => PortRange::Dynamic,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PortRange::WellKnown => "well-known",
            PortRange::Registered => "registered",
            PortRange::Dynamic => "dynamic",
        }
    }
}

/// Size of the RFC 6056 Algorithm 4 counter table.
const TABLE_SIZE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Binding {
    addr: Ipv4Addr,
    /// Set for connected sockets: they may share a port with other
    /// connections to different remotes (the 4-tuple stays unique).
    remote: Option<SocketAddrV4>,
    owner: SocketId,
    /// Bound with `SO_REUSEPORT`: shares the port with other such sockets.
    shared: bool,
}

impl Binding {
    fn conflicts(&self, addr: Ipv4Addr, remote: Option<SocketAddrV4>, shared: bool) -> bool {
        if shared && self.shared {
            return false;
        }
        let addrs_overlap =
            self.addr == addr || self.addr.is_unspecified() || addr.is_unspecified();
        let remotes_overlap = match (self.remote, remote) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        addrs_overlap && remotes_overlap
    }
}

/// The bindings of one (protocol, port). Most ports hold one — every
/// client connection binds an ephemeral port of its own — so one is kept
/// in place, and only a shared port (a server's, or ephemeral ports reused
/// towards different remotes) has a vector: no allocation per connection.
#[derive(Debug)]
enum Held {
    One(Binding),
    Many(Vec<Binding>),
}

impl Held {
    fn as_slice(&self) -> &[Binding] {
        match self {
            Held::One(b) => std::slice::from_ref(b),
            Held::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Binding] {
        match self {
            Held::One(b) => std::slice::from_mut(b),
            Held::Many(v) => v,
        }
    }

    fn push(&mut self, b: Binding) {
        match self {
            Held::One(first) => *self = Held::Many(vec![*first, b]),
            // Short lists grow one at a time: a vector's first growth
            // reserves four (issue 13's memory per connection, a million of
            // them in one stack); longer ones double as usual.
            Held::Many(v) => {
                if v.len() < 8 {
                    v.reserve_exact(1);
                }
                v.push(b);
            }
        }
    }

    /// Keep the bindings `keep` accepts; `false` when none is left (the
    /// caller then removes the entry: a `One` cannot be empty).
    fn retain(&mut self, keep: impl Fn(&Binding) -> bool) -> bool {
        match self {
            Held::One(b) => keep(b),
            Held::Many(v) => {
                v.retain(|b| keep(b));
                if let [only] = v[..] {
                    *self = Held::One(only);
                }
                !self.as_slice().is_empty()
            }
        }
    }
}

/// Ports a page of [`Bindings`] holds.
const PAGE: usize = 64;

/// The bindings of every (protocol, port): per protocol, pages of 64
/// ports, each made when a port in it is first bound and freed when its
/// last binding goes (so a host holds pages only for the ports it uses:
/// about 2 KB each, at most 2 MB a protocol). A lookup is two indexings;
/// the B-tree this replaced walked its nodes, about 4 % of a connection
/// cycle when a client held ten thousand ports through TIME-WAIT.
#[derive(Debug, Default)]
struct Bindings {
    kinds: [Vec<Option<Box<Page>>>; 4],
    len: usize,
}

/// The bindings of 64 consecutive ports, and how many of them are bound.
#[derive(Debug)]
struct Page {
    held: [Option<Held>; PAGE],
    used: usize,
}

fn kind_index(kind: SocketKind) -> usize {
    match kind {
        SocketKind::Udp => 0,
        SocketKind::Ping => 1,
        SocketKind::Tcp => 2,
        SocketKind::Raw => 3,
    }
}

impl Bindings {
    fn get(&self, kind: SocketKind, port: u16) -> Option<&Held> {
        let page = self.kinds[kind_index(kind)].get(usize::from(port) / PAGE)?;
        page.as_ref()?.held[usize::from(port) % PAGE].as_ref()
    }

    fn get_mut(&mut self, kind: SocketKind, port: u16) -> Option<&mut Held> {
        let page = self.kinds[kind_index(kind)].get_mut(usize::from(port) / PAGE)?;
        page.as_mut()?.held[usize::from(port) % PAGE].as_mut()
    }

    /// Add `b` to the bindings of (`kind`, `port`).
    fn add(&mut self, kind: SocketKind, port: u16, b: Binding) {
        let pages = &mut self.kinds[kind_index(kind)];
        let p = usize::from(port) / PAGE;
        if pages.len() <= p {
            pages.resize_with(p + 1, || None);
        }
        let page = pages[p].get_or_insert_with(|| {
            Box::new(Page {
                held: [const { None }; PAGE],
                used: 0,
            })
        });
        match &mut page.held[usize::from(port) % PAGE] {
            Some(held) => held.push(b),
            slot @ None => {
                *slot = Some(Held::One(b));
                page.used += 1;
                self.len += 1;
            }
        }
    }

    /// Keep the bindings of (`kind`, `port`) that `keep` accepts.
    fn retain(&mut self, kind: SocketKind, port: u16, keep: impl Fn(&Binding) -> bool) {
        let Some(entry) = self.kinds[kind_index(kind)].get_mut(usize::from(port) / PAGE) else {
            return;
        };
        let Some(page) = entry.as_mut() else {
            return;
        };
        let slot = &mut page.held[usize::from(port) % PAGE];
        if slot.as_mut().is_some_and(|held| !held.retain(keep)) {
            *slot = None;
            self.len -= 1;
            page.used -= 1;
            if page.used == 0 {
                *entry = None;
            }
        }
    }
}

/// Which sockets hold which ports, per protocol.
#[derive(Debug)]
pub struct PortTable {
    bindings: Bindings,
    ephemeral: RangeInclusive<u16>,
    offset_key: KeyedState,
    index_key: KeyedState,
    table: Box<[u32; TABLE_SIZE]>,
    /// Ephemeral UDP ports chosen so far: each choice starts at a keyed
    /// hash of this count (unpredictable from outside, and no draw from
    /// the stack's random stream).
    udp_draws: u64,
}

impl PortTable {
    pub fn new(ephemeral: RangeInclusive<u16>, rng: &mut Rng) -> PortTable {
        assert!(
            !ephemeral.is_empty() && *ephemeral.start() > 0,
            "empty ephemeral port range"
        );
        PortTable {
            bindings: Bindings::default(),
            ephemeral,
            offset_key: KeyedState::new(rng),
            index_key: KeyedState::new(rng),
            table: Box::new([0; TABLE_SIZE]),
            udp_draws: 0,
        }
    }

    pub fn ephemeral_range(&self) -> RangeInclusive<u16> {
        self.ephemeral.clone()
    }

    /// Whether `port` could be bound at `addr` (towards `remote`).
    pub fn is_free(
        &self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        remote: Option<SocketAddrV4>,
    ) -> bool {
        self.is_free_for(kind, addr, port, remote, false)
    }

    /// Whether bind(2) of `port` at `addr` (the wildcard: any address)
    /// would succeed before the peer is known: no socket holds the port at
    /// an overlapping address, whatever its peer, unless all of them and
    /// this one share it (`SO_REUSEPORT`).
    pub fn is_free_to_bind(
        &self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        shared: bool,
    ) -> bool {
        self.is_free_for(kind, addr, port, None, shared)
    }

    fn is_free_for(
        &self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        remote: Option<SocketAddrV4>,
        shared: bool,
    ) -> bool {
        self.bindings.get(kind, port).is_none_or(|v| {
            !v.as_slice()
                .iter()
                .any(|b| b.conflicts(addr, remote, shared))
        })
    }

    /// Bind a specific port.
    pub fn bind(
        &mut self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        remote: Option<SocketAddrV4>,
        owner: SocketId,
    ) -> Result<(), BindError> {
        self.bind_shared(kind, addr, port, remote, owner, false)
    }

    /// Bind a specific port; `shared` is `SO_REUSEPORT`: the port may be
    /// bound again by other sockets that set it too (and only by those).
    pub fn bind_shared(
        &mut self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        remote: Option<SocketAddrV4>,
        owner: SocketId,
        shared: bool,
    ) -> Result<(), BindError> {
        if !self.is_free_for(kind, addr, port, remote, shared) {
            return Err(BindError::AddrInUse { addr, port });
        }
        let b = Binding {
            addr,
            remote,
            owner,
            shared,
        };
        self.bindings.add(kind, port, b);
        Ok(())
    }

    /// Choose and bind an ephemeral port (RFC 6056 Algorithm 4).
    pub fn bind_ephemeral(
        &mut self,
        kind: SocketKind,
        addr: Ipv4Addr,
        remote: Option<SocketAddrV4>,
        owner: SocketId,
    ) -> Result<u16, BindError> {
        let min = u32::from(*self.ephemeral.start());
        let num = u32::from(*self.ephemeral.end()) - min + 1;
        if kind == SocketKind::Udp && remote.is_none() {
            return self.bind_random(addr, owner, min, num);
        }
        let endpoints = (kind, addr, remote);
        let offset = hash32(&self.offset_key, &endpoints);
        let index = hash32(&self.index_key, &endpoints) as usize % TABLE_SIZE;
        for _ in 0..num {
            let port = (min + offset.wrapping_add(self.table[index]) % num) as u16;
            self.table[index] = self.table[index].wrapping_add(1);
            if self.is_free(kind, addr, port, remote) {
                return Ok(self.hold(kind, addr, port, remote, owner));
            }
        }
        Err(BindError::NoPortsAvailable)
    }

    /// Bind a free ephemeral `port` found by the search (not shared).
    fn hold(
        &mut self,
        kind: SocketKind,
        addr: Ipv4Addr,
        port: u16,
        remote: Option<SocketAddrV4>,
        owner: SocketId,
    ) -> u16 {
        let b = Binding {
            addr,
            remote,
            owner,
            shared: false,
        };
        self.bindings.add(kind, port, b);
        port
    }

    /// An unconnected UDP socket's port: a fresh unpredictable start each
    /// time, then the next free one (RFC 6056 §3.3.1, as Linux's
    /// udp_lib_get_port starts at random). A resolver's queries must not
    /// be guessable by port (RFC 5452 §9.2, §10); RFC 6056's Algorithm 4
    /// would hand one socket after another the next port.
    fn bind_random(
        &mut self,
        addr: Ipv4Addr,
        owner: SocketId,
        min: u32,
        num: u32,
    ) -> Result<u16, BindError> {
        self.udp_draws = self.udp_draws.wrapping_add(1);
        let start = hash32(&self.offset_key, &(SocketKind::Udp, addr, self.udp_draws));
        for k in 0..num {
            let port = (u64::from(min) + (u64::from(start) + u64::from(k)) % u64::from(num)) as u16;
            if self.is_free(SocketKind::Udp, addr, port, None) {
                return Ok(self.hold(SocketKind::Udp, addr, port, None, owner));
            }
        }
        Err(BindError::NoPortsAvailable)
    }

    /// `bind_ephemeral` for a connection to `remote`; when every port is
    /// taken, a port held only by a connection to the same remote that
    /// `reusable` says may go (RFC 6191's TIME-WAIT reuse; it returns that
    /// connection's owner) passes to `owner`. Returns the port and the
    /// owner it was taken from, if any.
    pub fn bind_ephemeral_reusing(
        &mut self,
        kind: SocketKind,
        addr: Ipv4Addr,
        remote: SocketAddrV4,
        owner: SocketId,
        mut reusable: impl FnMut(u16) -> Option<SocketId>,
    ) -> Result<(u16, Option<SocketId>), BindError> {
        match self.bind_ephemeral(kind, addr, Some(remote), owner) {
            Err(BindError::NoPortsAvailable) => {}
            other => return other.map(|p| (p, None)),
        }
        let min = u32::from(*self.ephemeral.start());
        let num = u32::from(*self.ephemeral.end()) - min + 1;
        let endpoints = (kind, addr, Some(remote));
        let offset = hash32(&self.offset_key, &endpoints);
        let index = hash32(&self.index_key, &endpoints) as usize % TABLE_SIZE;
        for _ in 0..num {
            let port = (min + offset.wrapping_add(self.table[index]) % num) as u16;
            self.table[index] = self.table[index].wrapping_add(1);
            let Some(old) = reusable(port) else { continue };
            // Only that connection's binding may stand in the way.
            let Some(list) = self.bindings.get(kind, port) else {
                continue;
            };
            let others = list
                .as_slice()
                .iter()
                .filter(|b| b.owner != old && b.conflicts(addr, Some(remote), false))
                .count();
            if others > 0 {
                continue;
            }
            self.bindings.retain(kind, port, |b| b.owner != old);
            self.bind(kind, addr, port, Some(remote), owner)?;
            return Ok((port, Some(old)));
        }
        Err(BindError::NoPortsAvailable)
    }

    /// Record that a bound socket is now connected to `remote`, so that other
    /// connections to other remotes may share its ephemeral port.
    pub fn set_remote(
        &mut self,
        kind: SocketKind,
        port: u16,
        owner: SocketId,
        remote: SocketAddrV4,
    ) {
        if let Some(v) = self.bindings.get_mut(kind, port) {
            for b in v.as_mut_slice().iter_mut().filter(|b| b.owner == owner) {
                b.remote = Some(remote);
            }
        }
    }

    /// Give back every port `owner` holds on `port`.
    pub fn release(&mut self, kind: SocketKind, port: u16, owner: SocketId) {
        self.bindings.retain(kind, port, |b| b.owner != owner);
    }

    /// Number of (protocol, port) pairs in use.
    pub fn len(&self) -> usize {
        self.bindings.len
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.len == 0
    }
}

fn hash32(key: &KeyedState, value: &impl Hash) -> u32 {
    key.hash_one(value) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Key;

    fn owner(n: u32) -> SocketId {
        SocketId {
            kind: SocketKind::Udp,
            key: Key {
                index: n,
                generation: 0,
            },
        }
    }

    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn ranges() {
        assert_eq!(PortRange::of(80), PortRange::WellKnown);
        assert_eq!(PortRange::of(1023), PortRange::WellKnown);
        assert_eq!(PortRange::of(1024), PortRange::Registered);
        assert_eq!(PortRange::of(49151), PortRange::Registered);
        assert_eq!(PortRange::of(49152), PortRange::Dynamic);
        assert_eq!(PortRange::of(65535), PortRange::Dynamic);
    }

    #[test]
    fn second_bind_refused() {
        let mut t = PortTable::new(49152..=65535, &mut Rng::new(1));
        t.bind(SocketKind::Udp, A, 53, None, owner(1)).unwrap();
        assert_eq!(
            t.bind(SocketKind::Udp, A, 53, None, owner(2)),
            Err(BindError::AddrInUse { addr: A, port: 53 })
        );
        // The wildcard overlaps every address.
        assert!(t.bind(SocketKind::Udp, ANY, 53, None, owner(2)).is_err());
        // Another address, or another protocol, is fine.
        t.bind(SocketKind::Udp, B, 53, None, owner(2)).unwrap();
        t.bind(SocketKind::Tcp, A, 53, None, owner(3)).unwrap();
        t.release(SocketKind::Udp, 53, owner(1));
        t.bind(SocketKind::Udp, A, 53, None, owner(4)).unwrap();
    }

    #[test]
    fn ephemeral_ports_are_dynamic_and_distinct() {
        let mut t = PortTable::new(49152..=65535, &mut Rng::new(2));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let p = t
                .bind_ephemeral(SocketKind::Udp, ANY, None, owner(i))
                .unwrap();
            assert_eq!(PortRange::of(p), PortRange::Dynamic);
            assert!(seen.insert(p), "port {p} handed out twice");
        }
    }

    /// Unconnected UDP sockets get unpredictable ports (RFC 6056 §3.3.1,
    /// RFC 5452 §10): not one after the other, and not the same from a
    /// stack with another seed.
    #[test]
    fn udp_ephemeral_ports_are_not_sequential() {
        let ports = |seed: u64| -> Vec<u16> {
            let mut t = PortTable::new(49152..=65535, &mut Rng::new(seed));
            (0..20)
                .map(|i| {
                    t.bind_ephemeral(SocketKind::Udp, ANY, None, owner(i))
                        .unwrap()
                })
                .collect()
        };
        let p = ports(5);
        let steps_of_one = p
            .windows(2)
            .filter(|w| w[1] == w[0].wrapping_add(1))
            .count();
        assert!(steps_of_one < 3, "{p:?}");
        assert_ne!(p, ports(6));
        assert_eq!(p, ports(5), "deterministic per seed");
    }

    #[test]
    fn ephemeral_range_exhausts_cleanly() {
        let mut t = PortTable::new(60000..=60009, &mut Rng::new(3));
        for i in 0..10 {
            t.bind_ephemeral(SocketKind::Udp, ANY, None, owner(i))
                .unwrap();
        }
        assert_eq!(
            t.bind_ephemeral(SocketKind::Udp, ANY, None, owner(99)),
            Err(BindError::NoPortsAvailable)
        );
    }

    #[test]
    fn connected_sockets_share_a_port_across_remotes() {
        let mut t = PortTable::new(50000..=50000, &mut Rng::new(4));
        let r1 = SocketAddrV4::new(B, 80);
        let r2 = SocketAddrV4::new(B, 443);
        let p1 = t
            .bind_ephemeral(SocketKind::Tcp, A, Some(r1), owner(1))
            .unwrap();
        let p2 = t
            .bind_ephemeral(SocketKind::Tcp, A, Some(r2), owner(2))
            .unwrap();
        assert_eq!(p1, p2);
        assert_eq!(
            t.bind_ephemeral(SocketKind::Tcp, A, Some(r1), owner(3)),
            Err(BindError::NoPortsAvailable)
        );
    }

    // A port shared by several connections goes back to one binding, then
    // to none, as they are released; a reused port (TIME-WAIT reuse) passes
    // from its old owner to the new one alone.
    #[test]
    fn a_shared_port_shrinks_back_and_is_freed() {
        let mut t = PortTable::new(50000..=50000, &mut Rng::new(5));
        let remotes: Vec<_> = (0..4).map(|i| SocketAddrV4::new(B, 80 + i)).collect();
        for (i, r) in remotes.iter().enumerate() {
            t.bind_ephemeral(SocketKind::Tcp, A, Some(*r), owner(i as u32))
                .unwrap();
        }
        assert_eq!(t.len(), 1);
        for i in 0..3 {
            t.release(SocketKind::Tcp, 50000, owner(i));
            assert!(t.is_free(SocketKind::Tcp, A, 50000, Some(remotes[i as usize])));
            assert!(!t.is_free(SocketKind::Tcp, A, 50000, Some(remotes[3])));
        }
        // The last one, to the same remote, is taken over when reusable.
        let (port, old) = t
            .bind_ephemeral_reusing(SocketKind::Tcp, A, remotes[3], owner(9), |_| Some(owner(3)))
            .unwrap();
        assert_eq!((port, old), (50000, Some(owner(3))));
        t.release(SocketKind::Tcp, 50000, owner(3));
        assert!(!t.is_free(SocketKind::Tcp, A, 50000, Some(remotes[3])));
        t.release(SocketKind::Tcp, 50000, owner(9));
        assert!(t.is_empty());
    }

    /// Ports on either side of a page's edge, the last port, and the same
    /// port under two protocols are bound, counted and freed apart.
    #[test]
    fn ports_at_page_edges_and_of_each_protocol_are_kept_apart() {
        let mut t = PortTable::new(49152..=65535, &mut Rng::new(6));
        let ports = [1, 255, 256, 511, 65535];
        for (i, &p) in ports.iter().enumerate() {
            t.bind(SocketKind::Tcp, A, p, None, owner(i as u32))
                .unwrap();
        }
        t.bind(SocketKind::Udp, A, 256, None, owner(50)).unwrap();
        t.bind(SocketKind::Ping, A, 256, None, owner(51)).unwrap();
        assert_eq!(t.len(), ports.len() + 2);
        for &p in &ports {
            assert!(!t.is_free(SocketKind::Tcp, A, p, None), "{p}");
            assert!(t.is_free(SocketKind::Raw, A, p, None), "{p}");
        }
        assert!(t.is_free(SocketKind::Tcp, A, 257, None));
        assert!(t.is_free(SocketKind::Udp, A, 255, None));
        t.release(SocketKind::Tcp, 256, owner(2));
        assert!(t.is_free(SocketKind::Tcp, A, 256, None));
        assert!(!t.is_free(SocketKind::Udp, A, 256, None));
        assert!(!t.is_free(SocketKind::Ping, A, 256, None));
        t.release(SocketKind::Ping, 256, owner(51));
        assert!(t.is_free(SocketKind::Ping, A, 256, None));
        assert!(!t.is_free(SocketKind::Udp, A, 256, None));
        // Releasing what another socket holds, or a port never bound,
        // changes nothing.
        t.release(SocketKind::Tcp, 255, owner(7));
        t.release(SocketKind::Ping, 40000, owner(1));
        assert!(!t.is_free(SocketKind::Tcp, A, 255, None));
        assert_eq!(t.len(), ports.len());
        for (i, &p) in ports.iter().enumerate() {
            t.release(SocketKind::Tcp, p, owner(i as u32));
        }
        t.release(SocketKind::Udp, 256, owner(50));
        assert!(t.is_empty());
        // Every page went with its last binding; a port binds again.
        assert!(t.bindings.kinds.iter().flatten().all(Option::is_none));
        t.bind(SocketKind::Tcp, A, 255, None, owner(60)).unwrap();
        assert!(!t.is_free(SocketKind::Tcp, A, 255, None));
    }

    #[test]
    fn same_seed_same_ports() {
        let pick = |seed| {
            let mut t = PortTable::new(49152..=65535, &mut Rng::new(seed));
            t.bind_ephemeral(SocketKind::Udp, A, None, owner(1))
                .unwrap()
        };
        assert_eq!(pick(9), pick(9));
    }
}
