//! The device: peers, cryptokey routing, and the driver-facing API.
//!
//! A [`Device`] is a value. The driver pushes in packets from the tunnel
//! interface ([`Device::send`]), datagrams from the UDP socket
//! ([`Device::receive`]) and timer expiries ([`Device::handle_timeout`]);
//! each call returns the [`Action`]s it caused, in order. Between calls the
//! driver sleeps until [`Device::poll_timeout`] or the next input.

mod receive;
mod send;
mod timers;

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_base::Instant;

use crate::cookie::CookieChecker;
use crate::entropy::{next_u32, Entropy};
use crate::keys::{PrivateKey, PublicKey};
use crate::messages::DEFAULT_MTU;
use crate::noise::Identity;
use crate::peer::{Peer, PeerConfig, PeerId, PeerStatus};
use crate::timers::UNDER_LOAD_AFTER_TIME;

/// What the driver must do after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `datagram` as the payload of one UDP datagram to `to`.
    Send { to: SocketAddrV4, datagram: Vec<u8> },
    /// Write this decrypted inner IPv4 packet to the tunnel interface.
    Deliver(Vec<u8>),
}

/// The caller's mistakes when configuring a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error("a peer with this public key is already configured")]
    DuplicatePeer,
    #[error("the peer's public key is this device's own public key")]
    OwnPublicKey,
}

/// Counters of everything the device dropped, answered or completed.
/// A peer's misbehaviour shows up here, never as an `Err`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams that are no WireGuard message (type, reserved bytes, length).
    pub invalid_messages: u64,
    /// Handshake messages whose mac1 did not verify (§5.4.4).
    pub bad_mac1: u64,
    /// Handshake messages that did not decrypt or had a low-order key.
    pub invalid_handshakes: u64,
    /// Initiations from a static key that is not a configured peer.
    pub unknown_peer: u64,
    /// Initiations whose TAI64N timestamp was not newer than the last (§5.1).
    pub replayed_initiations: u64,
    /// Initiations arriving faster than the per-peer rate limit.
    pub initiation_flood: u64,
    /// Handshake messages under load beyond the per-source rate (20 a
    /// second, bursts of 5) though their mac2 verified.
    pub rate_limited: u64,
    /// Responses, cookie replies or data naming a receiver index we do not hold.
    pub unknown_index: u64,
    pub cookie_replies_sent: u64,
    pub cookie_replies_received: u64,
    /// Cookie replies that did not decrypt.
    pub invalid_cookie_replies: u64,
    pub initiations_sent: u64,
    pub responses_sent: u64,
    /// Completed handshakes: the initiator counts on the response, the
    /// responder on the first data message under the new keys.
    pub handshakes_completed: u64,
    /// Handshake attempts abandoned after REKEY_ATTEMPT_TIME (§6.4).
    pub handshakes_given_up: u64,
    /// Transport messages under keys older than REJECT_AFTER_TIME.
    pub expired_keypair: u64,
    /// Transport messages that failed authentication.
    pub decrypt_failures: u64,
    /// Transport messages whose counter was seen or is behind the window.
    pub replayed_packets: u64,
    pub keepalives_received: u64,
    pub keepalives_sent: u64,
    pub data_packets_received: u64,
    pub data_packets_sent: u64,
    /// Decrypted packets whose inner source is not in the peer's allowed IPs.
    pub wrong_source: u64,
    /// Decrypted packets that are not a well-formed IPv4 header and length.
    pub invalid_inner: u64,
    /// Inner IPv6 packets (not implemented), either direction.
    pub ipv6_dropped: u64,
    /// Packets from the tunnel that are not IPv4.
    pub invalid_outgoing: u64,
    /// Packets from the tunnel whose destination no peer's allowed IPs cover.
    pub no_route: u64,
    /// Packets or messages for a peer whose endpoint is unknown.
    pub no_endpoint: u64,
    /// Staged packets dropped: queue overflow or a handshake that gave up.
    pub staged_dropped: u64,
}

/// The "under load" rule (paper §5.3): more than `threshold` handshake
/// messages within one second puts the device under load for a further
/// second, during which handshakes must carry a valid mac2.
#[derive(Debug)]
struct LoadMonitor {
    arrivals: VecDeque<Instant>,
    threshold: usize,
    until: Option<Instant>,
    forced: Option<bool>,
}

/// Default load threshold, the reference's `QueueHandshakeSize / 8`.
pub const DEFAULT_UNDER_LOAD_THRESHOLD: usize = 128;

impl LoadMonitor {
    fn note_handshake(&mut self, now: Instant) {
        while self
            .arrivals
            .front()
            .is_some_and(|&t| now.saturating_since(t) >= Duration::from_secs(1))
        {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        if self.arrivals.len() > self.threshold {
            self.until = Some(now + UNDER_LOAD_AFTER_TIME);
            self.arrivals.pop_front();
        }
    }

    fn is_under_load(&self, now: Instant) -> bool {
        match self.forced {
            Some(f) => f,
            None => self.until.is_some_and(|u| now < u),
        }
    }
}

/// A WireGuard interface without its sockets: see the module docs for the
/// calling convention.
pub struct Device {
    identity: Identity,
    entropy: Box<dyn Entropy>,
    peers: Vec<Peer>,
    by_key: BTreeMap<PublicKey, PeerId>,
    /// Receiver index → peer (paper §5.4.2: indices are random per session).
    index: BTreeMap<u32, PeerId>,
    checker: CookieChecker,
    load: LoadMonitor,
    limiter: crate::ratelimit::RateLimiter,
    mtu: usize,
    stats: Stats,
}

impl core::fmt::Debug for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("public_key", &self.identity.public)
            .field("peers", &self.peers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device with this static identity, drawing all randomness from
    /// `entropy`.
    pub fn new(private_key: PrivateKey, entropy: Box<dyn Entropy>) -> Device {
        let identity = Identity::new(private_key);
        Device {
            checker: CookieChecker::new(&identity.public),
            identity,
            entropy,
            peers: Vec::new(),
            by_key: BTreeMap::new(),
            index: BTreeMap::new(),
            load: LoadMonitor {
                arrivals: VecDeque::new(),
                threshold: DEFAULT_UNDER_LOAD_THRESHOLD,
                until: None,
                forced: None,
            },
            limiter: crate::ratelimit::RateLimiter::default(),
            mtu: DEFAULT_MTU,
            stats: Stats::default(),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.identity.public
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.identity.private
    }

    /// Configures a peer. An allowed IP already held by another peer moves
    /// to this one, as with `wg set`. With a persistent keepalive and an
    /// endpoint, a keepalive (and so a handshake) is due at once: the next
    /// [`poll_timeout`](Device::poll_timeout) returns [`Instant::ZERO`].
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<PeerId, AddPeerError> {
        if config.public_key == self.identity.public {
            return Err(AddPeerError::OwnPublicKey);
        }
        if self.by_key.contains_key(&config.public_key) {
            return Err(AddPeerError::DuplicatePeer);
        }
        for other in &mut self.peers {
            other
                .config
                .allowed_ips
                .retain(|ip| !config.allowed_ips.contains(ip));
        }
        let id = PeerId(self.peers.len());
        self.by_key.insert(config.public_key, id);
        let mut peer = Peer::new(config);
        if peer.config.persistent_keepalive.is_some_and(|s| s > 0) && peer.config.endpoint.is_some()
        {
            peer.timers
                .set(crate::timers::Timer::PersistentKeepalive, Instant::ZERO);
        }
        self.peers.push(peer);
        Ok(id)
    }

    /// Snapshot of every peer, in the order they were added.
    pub fn peers(&self) -> impl Iterator<Item = PeerStatus> + '_ {
        self.peers
            .iter()
            .enumerate()
            .map(|(i, p)| p.status(PeerId(i)))
    }

    pub fn peer(&self, id: PeerId) -> Option<PeerStatus> {
        self.peers.get(id.0).map(|p| p.status(id))
    }

    pub fn peer_by_key(&self, key: &PublicKey) -> Option<PeerId> {
        self.by_key.get(key).copied()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The tunnel MTU, used to bound padding (default [`DEFAULT_MTU`]).
    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = mtu;
    }

    /// Forces the under-load state (`Some`) or returns to the automatic rule.
    pub fn set_under_load(&mut self, forced: Option<bool>) {
        self.load.forced = forced;
    }

    /// Handshake messages per second above which the device is under load.
    pub fn set_under_load_threshold(&mut self, threshold: usize) {
        self.load.threshold = threshold;
    }

    /// The earliest instant at which [`handle_timeout`](Device::handle_timeout)
    /// has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers.iter().filter_map(|p| p.timers.next()).min()
    }

    /// Registers a fresh random receiver index for peer `id`.
    fn new_index(&mut self, id: PeerId) -> u32 {
        loop {
            let i = next_u32(&mut *self.entropy);
            if let std::collections::btree_map::Entry::Vacant(e) = self.index.entry(i) {
                e.insert(id);
                self.peers[id.0].indices.push(i);
                return i;
            }
        }
    }

    /// Drops index-table entries for handshakes and keypairs peer `id` no
    /// longer holds.
    fn sync_indices(&mut self, id: PeerId) {
        let peer = &mut self.peers[id.0];
        let live = peer.live_indices();
        let index = &mut self.index;
        peer.indices.retain(|i| {
            let keep = live.contains(i);
            if !keep {
                index.remove(i);
            }
            keep
        });
    }

    /// Cryptokey routing (paper §2): the peer whose allowed IPs hold `dst`
    /// with the longest prefix.
    fn route(&self, dst: Ipv4Addr) -> Option<PeerId> {
        let mut best: Option<(u8, PeerId)> = None;
        for (i, peer) in self.peers.iter().enumerate() {
            for ip in &peer.config.allowed_ips {
                if ip.contains(dst) && best.is_none_or(|(p, _)| ip.prefix > p) {
                    best = Some((ip.prefix, PeerId(i)));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Sends `datagram` to the peer's endpoint, counting its bytes.
    fn transmit(&mut self, id: PeerId, datagram: Vec<u8>, out: &mut Vec<Action>) {
        let peer = &mut self.peers[id.0];
        match peer.config.endpoint {
            Some(to) => {
                peer.tx_bytes += datagram.len() as u64;
                out.push(Action::Send { to, datagram });
            }
            None => self.stats.no_endpoint += 1,
        }
    }

    fn jitter(&mut self) -> Duration {
        let ms = next_u32(&mut *self.entropy) % crate::timers::REKEY_TIMEOUT_JITTER_MAX_MS;
        Duration::from_millis(u64::from(ms))
    }
}

/// The facts about an inner IPv4 packet that routing and filtering use.
struct InnerIpv4 {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    total_len: usize,
}

enum Inner {
    V4(InnerIpv4),
    V6,
    Invalid,
}

/// Checks the IPv4 header's version, IHL and total length against `packet`.
fn parse_inner(packet: &[u8]) -> Inner {
    let Some(&first) = packet.first() else {
        return Inner::Invalid;
    };
    match first >> 4 {
        4 if packet.len() >= 20 => {
            let ihl = usize::from(first & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            if ihl < 20 || total_len < ihl || total_len > packet.len() {
                return Inner::Invalid;
            }
            Inner::V4(InnerIpv4 {
                src: Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]),
                dst: Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]),
                total_len,
            })
        }
        6 => Inner::V6,
        _ => Inner::Invalid,
    }
}

/// Longest-prefix check that `src` belongs to peer `id`.
fn allowed_source(device: &Device, id: PeerId, src: Ipv4Addr) -> bool {
    device.route(src) == Some(id)
}
