//! The receive side: one handler per message type (paper §5.4), each
//! dropping and counting whatever fails a check.

use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_base::Instant;

use super::{allowed_source, parse_inner, Action, Device, Inner};
use crate::crypto::aead_open;
use crate::messages::{CookieReply, Initiation, Message, Response, Transport};
use crate::noise;
use crate::peer::{HandshakeState, Keypair, PeerId};
use crate::timers::{HANDSHAKE_INITIATION_RATE, REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME};

impl Device {
    /// A UDP payload that arrived from `from`.
    pub fn receive(
        &mut self,
        now: Instant,
        wall: Duration,
        from: SocketAddrV4,
        datagram: &[u8],
    ) -> Vec<Action> {
        let mut out = Vec::new();
        match Message::parse(datagram) {
            Err(_) => self.stats.invalid_messages += 1,
            Ok(Message::Initiation(m)) => self.receive_initiation(now, from, m, &mut out),
            Ok(Message::Response(m)) => self.receive_response(now, wall, from, m, &mut out),
            Ok(Message::CookieReply(m)) => self.receive_cookie_reply(now, m),
            Ok(Message::Transport(m)) => {
                self.receive_transport(now, wall, from, m, datagram.len(), &mut out)
            }
        }
        out
    }

    /// §5.3 and §5.4.4: mac1 always; under load, mac2 or a cookie reply,
    /// and the per-source rate.
    /// True when the message may be processed further.
    fn check_macs(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        msg: &[u8],
        sender: u32,
        out: &mut Vec<Action>,
    ) -> bool {
        self.load.note_handshake(now);
        if !self.checker.check_mac1(msg) {
            self.stats.bad_mac1 += 1;
            return false;
        }
        if !self.load.is_under_load(now) {
            return true;
        }
        if !self.checker.check_mac2(msg, from, now) {
            let reply = self
                .checker
                .create_reply(msg, sender, from, now, &mut *self.entropy);
            self.stats.cookie_replies_sent += 1;
            out.push(Action::Send {
                to: from,
                datagram: reply.to_vec(),
            });
            return false;
        }
        // The source is real (it answered a cookie): at most so many
        // handshakes a second from it (the reference's rate limiter).
        if !self.limiter.allow(now, *from.ip()) {
            self.stats.rate_limited += 1;
            return false;
        }
        true
    }

    /// Paper §5.4.2, responder: authenticate, check the timestamp is newer
    /// than any before from this peer (§5.1), answer with a response.
    fn receive_initiation(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        msg: Initiation<'_>,
        out: &mut Vec<Action>,
    ) {
        if !self.check_macs(now, from, msg.bytes(), msg.sender(), out) {
            return;
        }
        let Some(consumed) = noise::consume_initiation(&self.identity, &msg) else {
            self.stats.invalid_handshakes += 1;
            return;
        };
        let Some(&id) = self.by_key.get(&consumed.peer) else {
            self.stats.unknown_peer += 1;
            return;
        };
        let peer = &mut self.peers[id.0];
        if peer
            .last_timestamp
            .is_some_and(|last| consumed.timestamp <= last)
        {
            self.stats.replayed_initiations += 1;
            return;
        }
        if peer
            .last_initiation_consumed
            .is_some_and(|t| now.saturating_since(t) < HANDSHAKE_INITIATION_RATE)
        {
            self.stats.initiation_flood += 1;
            return;
        }
        peer.last_timestamp = Some(consumed.timestamp);
        peer.last_initiation_consumed = Some(now);
        // Our own pending initiation, if any, is superseded (the reference
        // keeps one handshake per peer).
        peer.handshake = HandshakeState::None;
        peer.config.endpoint = Some(from);
        peer.rx_bytes += msg.bytes().len() as u64;
        self.timer_any_authenticated_packet_traversal(id, now);
        self.timer_any_authenticated_packet_received(id);
        self.send_handshake_response(id, &consumed, now, out);
    }

    /// Paper §5.4.3, initiator: complete the handshake, derive the session
    /// (§5.4.5) and confirm it with data or a keepalive.
    fn receive_response(
        &mut self,
        now: Instant,
        wall: Duration,
        from: SocketAddrV4,
        msg: Response<'_>,
        out: &mut Vec<Action>,
    ) {
        if !self.check_macs(now, from, msg.bytes(), msg.sender(), out) {
            return;
        }
        let Some(&id) = self.index.get(&msg.receiver()) else {
            self.stats.unknown_index += 1;
            return;
        };
        let peer = &mut self.peers[id.0];
        let HandshakeState::InitiationSent(state) = &peer.handshake else {
            self.stats.unknown_index += 1;
            return;
        };
        if state.local_index != msg.receiver() {
            self.stats.unknown_index += 1;
            return;
        }
        let Some(keys) = noise::consume_response(state, &self.identity, &peer.psk, &msg) else {
            self.stats.invalid_handshakes += 1;
            return;
        };
        let local_index = state.local_index;
        peer.handshake = HandshakeState::None;
        peer.config.endpoint = Some(from);
        peer.rx_bytes += msg.bytes().len() as u64;
        peer.keypairs
            .install(Keypair::new(keys, now, true, local_index, msg.sender()));
        self.sync_indices(id);
        self.timer_any_authenticated_packet_traversal(id, now);
        self.timer_any_authenticated_packet_received(id);
        self.timer_session_derived(id, now);
        self.timer_handshake_complete(id, wall);
        self.stats.handshakes_completed += 1;
        self.send_keepalive(id, now, wall, out);
    }

    /// Paper §5.4.7: store the cookie for mac2 of our next handshake message.
    fn receive_cookie_reply(&mut self, now: Instant, msg: CookieReply<'_>) {
        let Some(&id) = self.index.get(&msg.receiver()) else {
            self.stats.unknown_index += 1;
            return;
        };
        if self.peers[id.0].cookies.consume_reply(&msg, now) {
            self.stats.cookie_replies_received += 1;
        } else {
            self.stats.invalid_cookie_replies += 1;
        }
    }

    /// Paper §5.4.6: find the keys by receiver index, authenticate, check
    /// the counter window, then hand the inner packet up if its source is
    /// one of the peer's allowed IPs (§2).
    fn receive_transport(
        &mut self,
        now: Instant,
        wall: Duration,
        from: SocketAddrV4,
        msg: Transport<'_>,
        datagram_len: usize,
        out: &mut Vec<Action>,
    ) {
        let Some(&id) = self.index.get(&msg.receiver()) else {
            self.stats.unknown_index += 1;
            return;
        };
        let Some(plain) = self.open_transport(id, now, wall, from, &msg, datagram_len, out) else {
            return;
        };
        if plain.is_empty() {
            self.stats.keepalives_received += 1;
            return;
        }
        self.timer_data_received(id, now);
        match parse_inner(&plain) {
            Inner::V4(h) => {
                if !allowed_source(self, id, h.src) {
                    self.stats.wrong_source += 1;
                    return;
                }
                let mut packet = plain;
                packet.truncate(h.total_len);
                self.stats.data_packets_received += 1;
                out.push(Action::Deliver(packet));
            }
            Inner::V6 => self.stats.ipv6_dropped += 1,
            Inner::Invalid => self.stats.invalid_inner += 1,
        }
    }

    /// Decrypts and accepts a transport message for peer `id`, running the
    /// bookkeeping every authenticated message triggers. `None` = dropped.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the inputs are distinct facts"
    )]
    fn open_transport(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        from: SocketAddrV4,
        msg: &Transport<'_>,
        datagram_len: usize,
        out: &mut Vec<Action>,
    ) -> Option<Vec<u8>> {
        let peer = &mut self.peers[id.0];
        let Some(slot) = peer.keypairs.find(msg.receiver()) else {
            self.stats.unknown_index += 1;
            return None;
        };
        let keypair = peer.keypairs.get_mut(slot)?;
        if now.saturating_since(keypair.created) >= REJECT_AFTER_TIME {
            self.stats.expired_keypair += 1;
            return None;
        }
        let counter = msg.counter();
        if counter >= REJECT_AFTER_MESSAGES {
            self.stats.replayed_packets += 1;
            return None;
        }
        let Some(plain) = aead_open(&keypair.recv_key, counter, msg.encrypted_packet(), &[]) else {
            self.stats.decrypt_failures += 1;
            return None;
        };
        // The window moves only for authenticated messages (RFC 6479 §3).
        if !keypair
            .replay
            .check_and_update(counter, REJECT_AFTER_MESSAGES)
        {
            self.stats.replayed_packets += 1;
            return None;
        }
        peer.config.endpoint = Some(from);
        peer.rx_bytes += datagram_len as u64;
        if peer.keypairs.confirm(slot) {
            // §5.4.5: the responder's keys are confirmed by the initiator's
            // first transport message; it may now send with them.
            self.sync_indices(id);
            self.timer_handshake_complete(id, wall);
            self.stats.handshakes_completed += 1;
            self.send_staged_packets(id, now, wall, out);
        }
        self.keep_key_fresh_receiving(id, now, wall, out);
        self.timer_any_authenticated_packet_traversal(id, now);
        self.timer_any_authenticated_packet_received(id);
        Some(plain)
    }
}
