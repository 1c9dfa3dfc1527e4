//! A configured peer: its configuration, session state and counters.
//!
//! Key rotation follows paper §5.4.5 and §6 as the reference implements it:
//! a peer holds up to three keypairs. `current` encrypts outgoing data;
//! `previous` still decrypts stragglers after a rotation; `next` is a
//! responder's fresh keypair, which it may not send with until the initiator
//! has used it (key confirmation, §5.4.5 last paragraph), and which moves to
//! `current` on the first transport message received with it.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_base::Instant;
use zeroize::Zeroizing;

use crate::allowed_ips::AllowedIp;
use crate::cookie::CookieGenerator;
use crate::keys::{PresharedKey, PublicKey};
use crate::noise::{InitiatorState, SessionKeys, TIMESTAMP_LEN};
use crate::replay::ReplayWindow;
use crate::timers::TimerTable;

/// Packets waiting for a session, per peer (the reference's `QueueStagedSize`).
pub const MAX_STAGED_PACKETS: usize = 128;

/// Identifies a peer within its [`Device`](crate::Device): the order of
/// `add_peer` calls, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub usize);

/// What `wg set <iface> peer ...` configures.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub public_key: PublicKey,
    pub preshared_key: Option<PresharedKey>,
    /// Where to send; learned from authenticated packets when `None`.
    pub endpoint: Option<SocketAddrV4>,
    pub allowed_ips: Vec<AllowedIp>,
    /// Seconds between keepalives sent in silence (§6.5), `None` = off.
    pub persistent_keepalive: Option<u16>,
}

impl PeerConfig {
    /// A peer with only a public key; fill in the rest field by field.
    pub fn new(public_key: PublicKey) -> PeerConfig {
        PeerConfig {
            public_key,
            preshared_key: None,
            endpoint: None,
            allowed_ips: Vec::new(),
            persistent_keepalive: None,
        }
    }
}

/// A snapshot of one peer for a `wg show`-like tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub id: PeerId,
    pub public_key: PublicKey,
    pub has_preshared_key: bool,
    pub endpoint: Option<SocketAddrV4>,
    pub allowed_ips: Vec<AllowedIp>,
    /// Wall-clock time (since the Unix epoch) of the last completed handshake.
    pub latest_handshake: Option<Duration>,
    /// UDP payload bytes received from this peer (authenticated messages).
    pub rx_bytes: u64,
    /// UDP payload bytes sent to this peer.
    pub tx_bytes: u64,
    pub persistent_keepalive: Option<u16>,
    /// True when the last handshake attempt ran out of retries
    /// (REKEY_ATTEMPT_TIME, §6.4) without a response: the peer is unreachable.
    /// Cleared by the next completed handshake.
    pub handshake_failed: bool,
    /// True while a session key can be used to send.
    pub has_session: bool,
}

/// One session's transport state (paper §5.4.6).
pub(crate) struct Keypair {
    pub send_key: Zeroizing<[u8; 32]>,
    pub recv_key: Zeroizing<[u8; 32]>,
    pub send_counter: u64,
    pub replay: ReplayWindow,
    pub created: Instant,
    pub is_initiator: bool,
    pub local_index: u32,
    pub remote_index: u32,
}

impl Keypair {
    pub fn new(
        keys: SessionKeys,
        now: Instant,
        is_initiator: bool,
        local_index: u32,
        remote_index: u32,
    ) -> Keypair {
        Keypair {
            send_key: keys.send,
            recv_key: keys.recv,
            send_counter: 0,
            replay: ReplayWindow::default(),
            created: now,
            is_initiator,
            local_index,
            remote_index,
        }
    }
}

/// Which of the three keypair slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Current,
    Previous,
    Next,
}

#[derive(Default)]
pub(crate) struct Keypairs {
    pub current: Option<Keypair>,
    pub previous: Option<Keypair>,
    pub next: Option<Keypair>,
}

impl Keypairs {
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Keypair> {
        match slot {
            Slot::Current => self.current.as_mut(),
            Slot::Previous => self.previous.as_mut(),
            Slot::Next => self.next.as_mut(),
        }
    }

    /// The slot holding the keypair with this local index.
    pub fn find(&self, local_index: u32) -> Option<Slot> {
        let is = |k: &Option<Keypair>| k.as_ref().is_some_and(|k| k.local_index == local_index);
        if is(&self.current) {
            Some(Slot::Current)
        } else if is(&self.previous) {
            Some(Slot::Previous)
        } else if is(&self.next) {
            Some(Slot::Next)
        } else {
            None
        }
    }

    /// Installs a freshly derived keypair (reference `BeginSymmetricSession`).
    /// The initiator may send with it at once; the responder parks it in
    /// `next` until the initiator confirms it.
    pub fn install(&mut self, keypair: Keypair) {
        if keypair.is_initiator {
            if let Some(next) = self.next.take() {
                self.previous = Some(next);
            } else {
                self.previous = self.current.take();
            }
            self.current = Some(keypair);
        } else {
            self.next = Some(keypair);
            self.previous = None;
        }
    }

    /// Called when a message authenticated under `slot`: if that is `next`,
    /// rotate it into `current`. True when a rotation happened.
    pub fn confirm(&mut self, slot: Slot) -> bool {
        if slot != Slot::Next {
            return false;
        }
        self.previous = self.current.take();
        self.current = self.next.take();
        true
    }

    pub fn clear(&mut self) {
        self.current = None;
        self.previous = None;
        self.next = None;
    }

    pub fn local_indices(&self) -> impl Iterator<Item = u32> + '_ {
        [&self.current, &self.previous, &self.next]
            .into_iter()
            .flatten()
            .map(|k| k.local_index)
    }
}

/// Where the handshake with this peer stands.
pub(crate) enum HandshakeState {
    None,
    /// We sent an initiation and await the response (§5.4.2).
    InitiationSent(InitiatorState),
}

pub(crate) struct Peer {
    pub config: PeerConfig,
    pub psk: [u8; 32],
    pub cookies: CookieGenerator,
    pub handshake: HandshakeState,
    /// Greatest TAI64N timestamp accepted from this peer (§5.1 replay guard).
    pub last_timestamp: Option<[u8; TIMESTAMP_LEN]>,
    pub last_initiation_consumed: Option<Instant>,
    pub last_sent_handshake: Option<Instant>,
    pub keypairs: Keypairs,
    pub staged: VecDeque<Vec<u8>>,
    pub timers: TimerTable,
    pub handshake_attempts: u32,
    pub need_another_keepalive: bool,
    pub sent_last_minute_handshake: bool,
    pub latest_handshake: Option<Duration>,
    pub handshake_failed: bool,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Indices this peer has registered in the device's index table.
    pub indices: Vec<u32>,
}

impl Peer {
    pub fn new(config: PeerConfig) -> Peer {
        let psk = config
            .preshared_key
            .as_ref()
            .map_or([0u8; 32], |k| *k.as_bytes());
        Peer {
            cookies: CookieGenerator::new(&config.public_key),
            config,
            psk,
            handshake: HandshakeState::None,
            last_timestamp: None,
            last_initiation_consumed: None,
            last_sent_handshake: None,
            keypairs: Keypairs::default(),
            staged: VecDeque::new(),
            timers: TimerTable::default(),
            handshake_attempts: 0,
            need_another_keepalive: false,
            sent_last_minute_handshake: false,
            latest_handshake: None,
            handshake_failed: false,
            rx_bytes: 0,
            tx_bytes: 0,
            indices: Vec::new(),
        }
    }

    /// Indices that still name something of this peer's.
    pub fn live_indices(&self) -> Vec<u32> {
        let mut live: Vec<u32> = self.keypairs.local_indices().collect();
        if let HandshakeState::InitiationSent(s) = &self.handshake {
            live.push(s.local_index);
        }
        live
    }

    pub fn status(&self, id: PeerId) -> PeerStatus {
        PeerStatus {
            id,
            public_key: self.config.public_key,
            has_preshared_key: self.config.preshared_key.is_some(),
            endpoint: self.config.endpoint,
            allowed_ips: self.config.allowed_ips.clone(),
            latest_handshake: self.latest_handshake,
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
            persistent_keepalive: self.config.persistent_keepalive,
            handshake_failed: self.handshake_failed,
            has_session: self.keypairs.current.is_some(),
        }
    }
}
