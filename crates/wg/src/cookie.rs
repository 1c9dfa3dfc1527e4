//! mac1, mac2 and cookies: the DoS mitigation of paper §5.3 and §5.4.4/§5.4.7.
//!
//! Every handshake message carries `mac1 = MAC(HASH(Label-Mac1 || S_recv^pub),
//! msg_a)`, which proves the sender knows the receiver's public key. Under
//! load, a receiver also demands `mac2 = MAC(cookie, msg_b)`, where
//! `cookie = MAC(R_m, source IP || source port)` and `R_m` is a secret changed
//! every two minutes; a message without a valid mac2 is answered with an
//! encrypted cookie reply instead of being processed.

use std::net::SocketAddrV4;

use tcplab_base::Instant;

use crate::crypto::{ct_eq, hash, mac, xaead_open, xaead_seal, MAC_LEN};
use crate::entropy::{bytes32, Entropy};
use crate::keys::PublicKey;
use crate::messages::{
    emit_cookie_reply, mac1_field, mac1_input, mac2_field, mac2_input, CookieReply,
    COOKIE_REPLY_LEN,
};
use crate::noise::{LABEL_COOKIE, LABEL_MAC1};
use crate::timers::COOKIE_REFRESH_TIME;

/// The source "address" a cookie binds to: IPv4 address then UDP port, both
/// in network byte order.
fn source_bytes(src: SocketAddrV4) -> [u8; 6] {
    let mut b = [0u8; 6];
    b[..4].copy_from_slice(&src.ip().octets());
    b[4..].copy_from_slice(&src.port().to_be_bytes());
    b
}

/// The receiving side: checks mac1 and mac2 of messages sent to us, and makes
/// cookie replies.
pub(crate) struct CookieChecker {
    mac1_key: [u8; 32],
    reply_key: [u8; 32],
    secret: [u8; 32],
    secret_set: Option<Instant>,
}

impl CookieChecker {
    pub fn new(local: &PublicKey) -> CookieChecker {
        CookieChecker {
            mac1_key: hash(&[LABEL_MAC1, local.as_bytes()]),
            reply_key: hash(&[LABEL_COOKIE, local.as_bytes()]),
            secret: [0; 32],
            secret_set: None,
        }
    }

    /// Paper §5.4.4: mac1 over everything before the MACs, keyed by our key.
    pub fn check_mac1(&self, msg: &[u8]) -> bool {
        ct_eq(&mac(&self.mac1_key, &[mac1_input(msg)]), mac1_field(msg))
    }

    fn secret_fresh(&self, now: Instant) -> bool {
        self.secret_set
            .is_some_and(|set| now.saturating_since(set) <= COOKIE_REFRESH_TIME)
    }

    fn cookie_for(&self, src: SocketAddrV4) -> [u8; MAC_LEN] {
        mac(&self.secret, &[&source_bytes(src)])
    }

    /// Paper §5.4.4: mac2 under the cookie we would give `src` now. A secret
    /// older than two minutes validates nothing.
    pub fn check_mac2(&self, msg: &[u8], src: SocketAddrV4, now: Instant) -> bool {
        if !self.secret_fresh(now) {
            return false;
        }
        let cookie = self.cookie_for(src);
        ct_eq(&mac(&cookie, &[mac2_input(msg)]), mac2_field(msg))
    }

    /// Paper §5.4.7: the cookie reply to `msg` (whose sender index is
    /// `receiver`), renewing `R_m` first if it is stale.
    pub fn create_reply(
        &mut self,
        msg: &[u8],
        receiver: u32,
        src: SocketAddrV4,
        now: Instant,
        entropy: &mut dyn Entropy,
    ) -> [u8; COOKIE_REPLY_LEN] {
        if !self.secret_fresh(now) {
            self.secret = bytes32(entropy);
            self.secret_set = Some(now);
        }
        let cookie = self.cookie_for(src);
        let mut nonce = [0u8; 24];
        entropy.fill(&mut nonce);
        let sealed = xaead_seal(&self.reply_key, &nonce, &cookie, mac1_field(msg));
        emit_cookie_reply(receiver, &nonce, &sealed)
    }
}

/// The sending side, one per peer: fills in mac1/mac2 of messages to that
/// peer and keeps the cookie it gave us.
pub(crate) struct CookieGenerator {
    mac1_key: [u8; 32],
    reply_key: [u8; 32],
    last_mac1: Option<[u8; MAC_LEN]>,
    cookie: Option<([u8; MAC_LEN], Instant)>,
}

impl CookieGenerator {
    pub fn new(remote: &PublicKey) -> CookieGenerator {
        CookieGenerator {
            mac1_key: hash(&[LABEL_MAC1, remote.as_bytes()]),
            reply_key: hash(&[LABEL_COOKIE, remote.as_bytes()]),
            last_mac1: None,
            cookie: None,
        }
    }

    /// Writes mac1, and mac2 if we hold a cookie younger than two minutes
    /// (otherwise mac2 stays zero, paper §5.4.4).
    pub fn add_macs(&mut self, msg: &mut [u8], now: Instant) {
        let len = msg.len();
        let mac1 = mac(&self.mac1_key, &[mac1_input(msg)]);
        msg[len - 2 * MAC_LEN..len - MAC_LEN].copy_from_slice(&mac1);
        self.last_mac1 = Some(mac1);
        if let Some((cookie, set)) = self.cookie {
            if now.saturating_since(set) <= COOKIE_REFRESH_TIME {
                let mac2 = mac(&cookie, &[mac2_input(msg)]);
                msg[len - MAC_LEN..].copy_from_slice(&mac2);
            }
        }
    }

    /// Paper §5.4.7: decrypts a cookie reply, authenticated against the mac1
    /// of the last message we sent this peer. False if it does not open.
    pub fn consume_reply(&mut self, reply: &CookieReply<'_>, now: Instant) -> bool {
        let Some(last_mac1) = self.last_mac1 else {
            return false;
        };
        let Some(cookie) = xaead_open(
            &self.reply_key,
            &reply.nonce(),
            reply.encrypted_cookie(),
            &last_mac1,
        ) else {
            return false;
        };
        let Ok(cookie) = <[u8; MAC_LEN]>::try_from(cookie.as_slice()) else {
            return false;
        };
        self.cookie = Some((cookie, now));
        true
    }
}
