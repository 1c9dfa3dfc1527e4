//! The send side: packets from the tunnel, handshake initiations and
//! responses, transport data (paper §5.4.2, §5.4.3, §5.4.6).

use std::time::Duration;

use tcplab_base::Instant;

use super::{parse_inner, Action, Device, Inner};
use crate::crypto::aead_seal_in_place;
use crate::entropy::bytes32;
use crate::messages::{padding_len, transport_header};
use crate::noise::{self, tai64n, ConsumedInitiation};
use crate::peer::{HandshakeState, Keypair, PeerId, MAX_STAGED_PACKETS};
use crate::timers::{
    REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT,
};

impl Device {
    /// An IPv4 packet read from the tunnel interface. Routed by destination
    /// (paper §2); encrypted at once when a session exists, otherwise staged
    /// (at most [`MAX_STAGED_PACKETS`], oldest dropped) while a handshake
    /// starts.
    pub fn send(&mut self, now: Instant, wall: Duration, ip_packet: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let dst = match parse_inner(ip_packet) {
            Inner::V4(h) => h.dst,
            Inner::V6 => {
                self.stats.ipv6_dropped += 1;
                return out;
            }
            Inner::Invalid => {
                self.stats.invalid_outgoing += 1;
                return out;
            }
        };
        let Some(id) = self.route(dst) else {
            self.stats.no_route += 1;
            return out;
        };
        let peer = &mut self.peers[id.0];
        if peer.config.endpoint.is_none() {
            self.stats.no_endpoint += 1;
            return out;
        }
        if peer.staged.len() >= MAX_STAGED_PACKETS {
            peer.staged.pop_front();
            self.stats.staged_dropped += 1;
        }
        peer.staged.push_back(ip_packet.to_vec());
        self.send_staged_packets(id, now, wall, &mut out);
        out
    }

    /// Stages a keepalive (an empty packet) unless something is already
    /// waiting, then flushes (reference `SendKeepalive`, paper §6.5).
    pub(super) fn send_keepalive(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        let peer = &mut self.peers[id.0];
        if peer.staged.is_empty() {
            peer.staged.push_back(Vec::new());
        }
        self.send_staged_packets(id, now, wall, out);
    }

    /// Encrypts every staged packet under the current keypair, or starts a
    /// handshake when there is no usable one (§6.1: never send with keys past
    /// REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES).
    pub(super) fn send_staged_packets(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        let usable = |k: &Keypair| {
            k.send_counter < REJECT_AFTER_MESSAGES
                && now.saturating_since(k.created) < REJECT_AFTER_TIME
        };
        loop {
            let peer = &mut self.peers[id.0];
            let Some(keypair) = peer.keypairs.current.as_mut().filter(|k| usable(k)) else {
                self.send_handshake_initiation(id, now, wall, false, out);
                return;
            };
            let Some(packet) = peer.staged.pop_front() else {
                break;
            };
            let counter = keypair.send_counter;
            keypair.send_counter += 1;
            let datagram = seal_transport(keypair, counter, &packet, self.mtu);
            self.timer_any_authenticated_packet_traversal(id, now);
            self.timer_any_authenticated_packet_sent(id);
            if packet.is_empty() {
                self.stats.keepalives_sent += 1;
            } else {
                self.stats.data_packets_sent += 1;
                self.timer_data_sent(id, now);
            }
            self.transmit(id, datagram, out);
        }
        self.keep_key_fresh_sending(id, now, wall, out);
    }

    /// §6.2: the initiator rekeys once its current keys are REKEY_AFTER_TIME
    /// old or have sent REKEY_AFTER_MESSAGES.
    fn keep_key_fresh_sending(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        let Some(k) = &self.peers[id.0].keypairs.current else {
            return;
        };
        if k.send_counter > REKEY_AFTER_MESSAGES
            || (k.is_initiator && now.saturating_since(k.created) >= REKEY_AFTER_TIME)
        {
            self.send_handshake_initiation(id, now, wall, false, out);
        }
    }

    /// Paper §5.4.2: builds and sends an initiation, at most one per
    /// REKEY_TIMEOUT (§6.4). `is_retry` is false for a fresh attempt, which
    /// resets the retry count as the reference does.
    pub(super) fn send_handshake_initiation(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        is_retry: bool,
        out: &mut Vec<Action>,
    ) {
        let peer = &mut self.peers[id.0];
        if !is_retry {
            peer.handshake_attempts = 0;
        }
        if peer
            .last_sent_handshake
            .is_some_and(|t| now.saturating_since(t) < REKEY_TIMEOUT)
        {
            return;
        }
        peer.last_sent_handshake = Some(now);
        let local_index = self.new_index(id);
        let ephemeral = bytes32(&mut *self.entropy);
        let peer = &mut self.peers[id.0];
        let created = noise::create_initiation(
            &self.identity,
            &peer.config.public_key,
            local_index,
            ephemeral,
            tai64n(wall),
        );
        let Some((mut msg, state)) = created else {
            // The peer's public key is a low-order point: no handshake can work.
            self.stats.invalid_handshakes += 1;
            self.sync_indices(id);
            return;
        };
        peer.handshake = HandshakeState::InitiationSent(state);
        peer.cookies.add_macs(&mut msg, now);
        self.sync_indices(id);
        self.timer_any_authenticated_packet_traversal(id, now);
        self.timer_any_authenticated_packet_sent(id);
        self.stats.initiations_sent += 1;
        self.transmit(id, msg.to_vec(), out);
        self.timer_handshake_initiated(id, now);
    }

    /// Paper §5.4.3: answers an accepted initiation and installs the
    /// responder's keypair as `next` (it waits for key confirmation).
    pub(super) fn send_handshake_response(
        &mut self,
        id: PeerId,
        consumed: &ConsumedInitiation,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.peers[id.0].last_sent_handshake = Some(now);
        let local_index = self.new_index(id);
        let ephemeral = bytes32(&mut *self.entropy);
        let peer = &mut self.peers[id.0];
        let Some((mut msg, keys)) =
            noise::create_response(consumed, &peer.psk, local_index, ephemeral)
        else {
            self.stats.invalid_handshakes += 1;
            self.sync_indices(id);
            return;
        };
        peer.handshake = HandshakeState::None;
        peer.cookies.add_macs(&mut msg, now);
        peer.keypairs.install(Keypair::new(
            keys,
            now,
            false,
            local_index,
            consumed.remote_index,
        ));
        self.sync_indices(id);
        self.timer_session_derived(id, now);
        self.timer_any_authenticated_packet_traversal(id, now);
        self.timer_any_authenticated_packet_sent(id);
        self.stats.responses_sent += 1;
        self.transmit(id, msg.to_vec(), out);
    }
}

/// Paper §5.4.6: `msg = 4 || receiver || counter || AEAD(T^send, counter,
/// P || padding, ε)`, with P zero-padded to a multiple of 16 within the MTU.
fn seal_transport(keypair: &Keypair, counter: u64, packet: &[u8], mtu: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(packet.len() + 16 + 16);
    body.extend_from_slice(packet);
    body.resize(packet.len() + padding_len(packet.len(), mtu), 0);
    aead_seal_in_place(&keypair.send_key, counter, &mut body, &[]);
    let mut datagram = transport_header(keypair.remote_index, counter).to_vec();
    datagram.extend_from_slice(&body);
    datagram
}
