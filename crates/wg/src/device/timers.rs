//! Timer events and expiry handlers (paper §6, as the reference's
//! `timers.go` arranges them).

use std::time::Duration;

use tcplab_base::Instant;

use super::{Action, Device};
use crate::peer::{HandshakeState, PeerId};
use crate::timers::{
    Timer, KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, REJECT_AFTER_TIME, REKEY_TIMEOUT,
};

impl Device {
    /// Runs every timer due at `now`. Call when `now >= poll_timeout()`;
    /// calling early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant, wall: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        for i in 0..self.peers.len() {
            let id = PeerId(i);
            for timer in self.peers[i].timers.expire(now) {
                match timer {
                    Timer::RetransmitHandshake => {
                        self.expired_retransmit_handshake(id, now, wall, &mut out)
                    }
                    Timer::SendKeepalive => self.expired_send_keepalive(id, now, wall, &mut out),
                    // §6.5: we sent data and heard nothing back: start over.
                    Timer::NewHandshake => {
                        self.send_handshake_initiation(id, now, wall, false, &mut out)
                    }
                    Timer::ZeroKeyMaterial => self.expired_zero_key_material(id),
                    Timer::PersistentKeepalive => {
                        if self.peers[i]
                            .config
                            .persistent_keepalive
                            .is_some_and(|s| s > 0)
                        {
                            self.send_keepalive(id, now, wall, &mut out);
                        }
                    }
                }
            }
        }
        out
    }

    /// §6.4: retry every REKEY_TIMEOUT (+ jitter); after
    /// MAX_TIMER_HANDSHAKES retries (REKEY_ATTEMPT_TIME) give up, drop what
    /// was staged, and mark the peer unreachable.
    fn expired_retransmit_handshake(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        let peer = &mut self.peers[id.0];
        if peer.handshake_attempts > MAX_TIMER_HANDSHAKES {
            peer.timers.stop(Timer::SendKeepalive);
            self.stats.staged_dropped += peer.staged.len() as u64;
            peer.staged.clear();
            peer.handshake_failed = true;
            self.stats.handshakes_given_up += 1;
            if !peer.timers.is_armed(Timer::ZeroKeyMaterial) {
                peer.timers
                    .set(Timer::ZeroKeyMaterial, now + REJECT_AFTER_TIME * 3);
            }
        } else {
            peer.handshake_attempts += 1;
            self.send_handshake_initiation(id, now, wall, true, out);
        }
    }

    fn expired_send_keepalive(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        self.send_keepalive(id, now, wall, out);
        let peer = &mut self.peers[id.0];
        if peer.need_another_keepalive {
            peer.need_another_keepalive = false;
            peer.timers
                .set(Timer::SendKeepalive, now + KEEPALIVE_TIMEOUT);
        }
    }

    /// §6.3: after 3 × REJECT_AFTER_TIME without a new session, erase every
    /// key and half-finished handshake of this peer.
    fn expired_zero_key_material(&mut self, id: PeerId) {
        let peer = &mut self.peers[id.0];
        peer.keypairs.clear();
        peer.handshake = HandshakeState::None;
        self.stats.staged_dropped += peer.staged.len() as u64;
        peer.staged.clear();
        self.sync_indices(id);
    }

    /// §6.2: as initiator, if our keys are nearly REJECT_AFTER_TIME old and
    /// data still arrives, rekey once now rather than lose the session.
    pub(super) fn keep_key_fresh_receiving(
        &mut self,
        id: PeerId,
        now: Instant,
        wall: Duration,
        out: &mut Vec<Action>,
    ) {
        let peer = &mut self.peers[id.0];
        if peer.sent_last_minute_handshake {
            return;
        }
        let old = peer.keypairs.current.as_ref().is_some_and(|k| {
            k.is_initiator
                && now.saturating_since(k.created)
                    > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT
        });
        if old {
            peer.sent_last_minute_handshake = true;
            self.send_handshake_initiation(id, now, wall, false, out);
        }
    }

    pub(super) fn timer_data_sent(&mut self, id: PeerId, now: Instant) {
        if !self.peers[id.0].timers.is_armed(Timer::NewHandshake) {
            let at = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + self.jitter();
            self.peers[id.0].timers.set(Timer::NewHandshake, at);
        }
    }

    pub(super) fn timer_data_received(&mut self, id: PeerId, now: Instant) {
        let peer = &mut self.peers[id.0];
        if peer.timers.is_armed(Timer::SendKeepalive) {
            peer.need_another_keepalive = true;
        } else {
            peer.timers
                .set(Timer::SendKeepalive, now + KEEPALIVE_TIMEOUT);
        }
    }

    pub(super) fn timer_any_authenticated_packet_sent(&mut self, id: PeerId) {
        self.peers[id.0].timers.stop(Timer::SendKeepalive);
    }

    pub(super) fn timer_any_authenticated_packet_received(&mut self, id: PeerId) {
        self.peers[id.0].timers.stop(Timer::NewHandshake);
    }

    pub(super) fn timer_handshake_initiated(&mut self, id: PeerId, now: Instant) {
        let at = now + REKEY_TIMEOUT + self.jitter();
        self.peers[id.0].timers.set(Timer::RetransmitHandshake, at);
    }

    pub(super) fn timer_handshake_complete(&mut self, id: PeerId, wall: Duration) {
        let peer = &mut self.peers[id.0];
        peer.timers.stop(Timer::RetransmitHandshake);
        peer.handshake_attempts = 0;
        peer.sent_last_minute_handshake = false;
        peer.handshake_failed = false;
        peer.latest_handshake = Some(wall);
    }

    pub(super) fn timer_session_derived(&mut self, id: PeerId, now: Instant) {
        self.peers[id.0]
            .timers
            .set(Timer::ZeroKeyMaterial, now + REJECT_AFTER_TIME * 3);
    }

    pub(super) fn timer_any_authenticated_packet_traversal(&mut self, id: PeerId, now: Instant) {
        let peer = &mut self.peers[id.0];
        if let Some(secs) = peer.config.persistent_keepalive.filter(|&s| s > 0) {
            peer.timers.set(
                Timer::PersistentKeepalive,
                now + Duration::from_secs(u64::from(secs)),
            );
        }
    }
}
