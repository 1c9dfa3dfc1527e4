//! UDP sockets (RFC 768, RFC 1122 §4.1).
//!
//! A socket is bound to a local address (possibly the wildcard) and port and
//! may be connected to one remote. Incoming datagrams go to the most specific
//! match: connected to exactly this remote, then bound to this address, then
//! bound to the wildcard. Datagrams nobody wants get ICMP port unreachable
//! (RFC 1122 §4.1.3.1). ICMP errors about datagrams a socket sent are queued
//! for it when it asked (`IP_RECVERR`), and a hard error on a connected
//! socket is reported by its next call, as "Connection refused" for a port
//! unreachable (Linux semantics).

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::hash::{new_map, Map};
use crate::rand::Rng;
use crate::slab::{Key, Slab};
use crate::socket::{IcmpErrorReport, PmtuDisc, SocketError, UdpDatagram, UdpHandle};
use crate::stats::UdpStats;

/// Error reports queued per socket at most (the rest are dropped).
const ERROR_QUEUE_LIMIT: usize = 64;

/// One UDP socket.
#[derive(Debug, Clone)]
pub struct UdpSocket {
    pub local: SocketAddrV4,
    pub remote: Option<SocketAddrV4>,
    /// TTL override (`IP_TTL`); the stack default otherwise.
    pub ttl: Option<u8>,
    pub tos: u8,
    pub pmtudisc: PmtuDisc,
    /// Queue ICMP errors for the application (`IP_RECVERR`).
    pub recv_err: bool,
    /// May send to broadcast addresses (`SO_BROADCAST`).
    pub broadcast: bool,
    /// Bound with `SO_REUSEPORT`: shares its port with other such sockets,
    /// which take datagrams from different senders in turn (see
    /// [`UdpLayer::lookup`]).
    pub reuse_port: bool,
    pub(crate) rx: VecDeque<UdpDatagram>,
    pub(crate) rx_bytes: usize,
    pub rcvbuf: usize,
    pub(crate) errors: VecDeque<IcmpErrorReport>,
    /// A hard error waiting to be returned by the next call (`SO_ERROR`).
    pub(crate) pending: Option<SocketError>,
    /// Bytes sent, for `ss`.
    pub tx_bytes: u64,
}

impl UdpSocket {
    fn new(local: SocketAddrV4, rcvbuf: usize) -> UdpSocket {
        UdpSocket {
            local,
            remote: None,
            ttl: None,
            tos: 0,
            pmtudisc: PmtuDisc::Want,
            recv_err: false,
            broadcast: false,
            reuse_port: false,
            rx: VecDeque::new(),
            rx_bytes: 0,
            rcvbuf,
            errors: VecDeque::new(),
            pending: None,
            tx_bytes: 0,
        }
    }

    /// Bytes queued for the application (`Recv-Q`).
    pub fn recv_queue(&self) -> usize {
        self.rx_bytes
    }
}

/// What a queued datagram costs beyond its payload when a receive buffer
/// is filled: the queue entry, its addresses and its allocation.
const DATAGRAM_OVERHEAD: usize = 256;

/// All UDP sockets of a host.
#[derive(Debug)]
pub struct UdpLayer {
    pub(crate) sockets: Slab<UdpSocket>,
    by_port: Map<u16, Vec<Key>>,
    pub stats: UdpStats,
}

/// How well a socket matches an incoming datagram; higher is better.
fn score(s: &UdpSocket, dst: Ipv4Addr, from: SocketAddrV4) -> Option<u8> {
    let mut score = 0;
    if !s.local.ip().is_unspecified() {
        if *s.local.ip() != dst {
            return None;
        }
        score += 2;
    }
    if let Some(remote) = s.remote {
        if remote != from {
            return None;
        }
        score += 4;
    }
    Some(score)
}

impl UdpLayer {
    pub fn new(rng: &mut Rng) -> UdpLayer {
        UdpLayer {
            sockets: Slab::default(),
            by_port: new_map(rng),
            stats: UdpStats::default(),
        }
    }

    /// Reserve a slot; the caller binds the port and then calls `attach`.
    pub fn insert(&mut self, local: SocketAddrV4, rcvbuf: usize) -> UdpHandle {
        UdpHandle(self.sockets.insert(UdpSocket::new(local, rcvbuf)))
    }

    /// Make the socket reachable by its (now final) local port.
    pub fn attach(&mut self, h: UdpHandle) {
        if let Some(s) = self.sockets.get(h.0) {
            self.by_port.entry(s.local.port()).or_default().push(h.0);
        }
    }

    pub fn remove(&mut self, h: UdpHandle) -> Option<UdpSocket> {
        let s = self.sockets.remove(h.0)?;
        if let Some(v) = self.by_port.get_mut(&s.local.port()) {
            v.retain(|k| *k != h.0);
            if v.is_empty() {
                self.by_port.remove(&s.local.port());
            }
        }
        Some(s)
    }

    pub fn get(&self, h: UdpHandle) -> Option<&UdpSocket> {
        self.sockets.get(h.0)
    }

    pub fn get_mut(&mut self, h: UdpHandle) -> Option<&mut UdpSocket> {
        self.sockets.get_mut(h.0)
    }

    /// The socket that should receive a datagram to `dst:port` from `from`:
    /// the best match, the oldest among equals — except that among
    /// unconnected sockets sharing the port with `SO_REUSEPORT`, a keyed
    /// hash of the two ends picks one (scaled to their number, as Linux's
    /// `reuseport_select_sock`), so each sender's datagrams keep going to
    /// the same socket and different senders are spread over them.
    pub fn lookup(&self, dst: Ipv4Addr, port: u16, from: SocketAddrV4) -> Option<UdpHandle> {
        let keys = self.by_port.get(&port)?;
        let scored = || {
            keys.iter().filter_map(|k| {
                let s = self.sockets.get(*k)?;
                score(s, dst, from).map(|sc| (sc, *k, s))
            })
        };
        let (best, key, s) = scored().max_by_key(|(sc, k, _)| (*sc, std::cmp::Reverse(*k)))?;
        if !s.reuse_port || s.remote.is_some() {
            return Some(UdpHandle(key));
        }
        let group =
            || scored().filter(|(sc, _, s)| *sc == best && s.reuse_port && s.remote.is_none());
        let n = group().count();
        let hash = self.by_port.hasher().hash_one((dst, port, from)) as u32;
        let pick = ((u64::from(hash) * n as u64) >> 32) as usize;
        group().nth(pick).map(|(_, k, _)| UdpHandle(k))
    }

    /// Queue a datagram for a socket; false if its buffer is full.
    pub fn deliver(&mut self, h: UdpHandle, datagram: UdpDatagram) -> bool {
        let Some(s) = self.sockets.get_mut(h.0) else {
            return false;
        };
        // Always accept one datagram into an empty queue, however large.
        // Each queued datagram is charged its bookkeeping as well as its
        // bytes (as Linux charges an skb's truesize), so a flood of empty
        // ones fills the buffer too rather than growing the queue forever.
        let charged = |bytes: usize, n: usize| bytes + n * DATAGRAM_OVERHEAD;
        if !s.rx.is_empty() && charged(s.rx_bytes + datagram.data.len(), s.rx.len() + 1) > s.rcvbuf
        {
            self.stats.rcvbuf_errors += 1;
            return false;
        }
        s.rx_bytes += datagram.data.len();
        s.rx.push_back(datagram);
        self.stats.in_datagrams += 1;
        true
    }

    /// The socket that sent a datagram from `local` to `remote`, if any
    /// (what an ICMP error quoting it concerns).
    pub fn sender(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<UdpHandle> {
        let keys = self.by_port.get(&local.port())?;
        keys.iter()
            .copied()
            .find(|k| {
                self.sockets.get(*k).is_some_and(|s| {
                    (s.local.ip().is_unspecified() || *s.local.ip() == *local.ip())
                        && s.remote.is_none_or(|r| r == remote)
                })
            })
            .map(UdpHandle)
    }

    /// Report an ICMP error about a datagram sent from `local` to `remote`;
    /// returns the socket it concerned, if any.
    pub fn report_error(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        report: IcmpErrorReport,
    ) -> Option<UdpHandle> {
        let key = self.sender(local, remote)?.0;
        let s = self.sockets.get_mut(key)?;
        if s.recv_err {
            if s.errors.len() < ERROR_QUEUE_LIMIT {
                s.errors.push_back(report);
            }
            if let Some(e) = report.socket_error() {
                if s.remote.is_some() && report.is_hard() {
                    s.pending = Some(e);
                }
            }
        } else if s.remote.is_some() && report.is_hard() {
            // Linux (__udp4_lib_err): without IP_RECVERR only connected
            // sockets hear of hard errors.
            s.pending = report.socket_error();
        } else {
            return None;
        }
        Some(UdpHandle(key))
    }

    pub fn iter(&self) -> impl Iterator<Item = (UdpHandle, &UdpSocket)> {
        self.sockets.iter().map(|(k, s)| (UdpHandle(k), s))
    }
}
