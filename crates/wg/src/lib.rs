//! WireGuard, sans-IO: the protocol of "WireGuard: Next Generation Kernel
//! Network Tunnel" (Donenfeld, NDSS 2017; "the paper" below), as a value that
//! takes packets, datagrams and time in and hands actions out. It
//! interoperates byte for byte with wireguard-go and the Linux module
//! (`tests/wireguard_go.rs` proves it against wireguard-go in a namespace).
//!
//! # Driving a [`Device`]
//!
//! ```text
//! tunnel packet  ──► Device::send(now, wall, packet)           ─┐
//! UDP datagram   ──► Device::receive(now, wall, from, datagram) ├─► Vec<Action>
//! deadline       ──► Device::handle_timeout(now, wall)         ─┘
//!                    Device::poll_timeout() -> Option<Instant>  (when to call again)
//! ```
//!
//! [`Action::Send`] is one UDP payload for an address; [`Action::Deliver`]
//! is one decrypted IPv4 packet for the tunnel interface. Carry them out in
//! the order given. `now` is the driver's monotonic clock
//! ([`tcplab_base::Instant`]); `wall` is the time since the Unix epoch, used
//! only for the TAI64N timestamp of initiations (§5.1) and for a peer's
//! `latest_handshake`. The crate never reads a clock and never reads OS
//! randomness: every random byte comes from the [`Entropy`] the device was
//! built with ([`OsEntropy`] for real tunnels, [`SeededEntropy`] for the
//! simulator, where the same seed gives byte-identical messages).
//!
//! # What is implemented, and where the paper decides
//!
//! - Keys ([`PrivateKey`], [`PublicKey`], [`PresharedKey`]) in `wg`'s base64.
//! - Cryptokey routing (§2): longest-prefix match of the destination over all
//!   peers' [`AllowedIp`]s on send; on receive, the inner source must route
//!   back to the sending peer.
//! - The Noise_IKpsk2 handshake (§5.4.2–§5.4.5), with the TAI64N replay check
//!   (§5.1) and the reference's 20 ms per-peer initiation rate limit.
//! - mac1 on every handshake message, and under load mac2 with cookie
//!   replies (§5.3, §5.4.4, §5.4.7); the cookie secret is renewed every
//!   COOKIE_REFRESH_TIME. "Under load" is deterministic: more than
//!   [`DEFAULT_UNDER_LOAD_THRESHOLD`] handshake messages within a second (the
//!   reference's queue-depth heuristic, recast for sans-IO), lasting one
//!   second, or forced with [`Device::set_under_load`].
//! - Transport data (§5.4.6): padding to 16 within the MTU, a 64-bit counter
//!   nonce, an 8192-bit RFC 6479 replay window, key confirmation by the
//!   responder (`next` → `current`, §5.4.5), endpoint roaming to the source
//!   of the latest authenticated message (§2.1).
//! - Timers (§6), one table per peer, following the reference's `timers.go`:
//!   rekey after REKEY_AFTER_TIME / REKEY_AFTER_MESSAGES, refuse keys after
//!   REJECT_AFTER_TIME / REJECT_AFTER_MESSAGES, retry a handshake every
//!   REKEY_TIMEOUT plus up to 333 ms of jitter and give up after
//!   REKEY_ATTEMPT_TIME ([`PeerStatus::handshake_failed`] then says the peer
//!   is unreachable and staged packets are dropped), keepalive after
//!   KEEPALIVE_TIMEOUT, a new handshake when sent data goes unanswered,
//!   persistent keepalive, and erasure of all keys after 3 × REJECT_AFTER_TIME.
//! - Counters for a `wg show`-like tool ([`Device::peers`], [`PeerStatus`])
//!   and for every drop ([`Device::stats`], [`Stats`]). A peer's misbehaviour
//!   is never an `Err`: it is dropped or answered, and counted.
//! - The message layout constants ([`messages`]) so a tunnel interface can
//!   size its MTU: 1420 on a 1500-byte path ([`DEFAULT_MTU`]).
//!
//! # What is not
//!
//! - IPv6, inside or outside the tunnel: inner IPv6 packets are dropped and
//!   counted ([`Stats::ipv6_dropped`]); endpoints are `SocketAddrV4`.
//! - The reference's per-source-IP token-bucket rate limiter for handshakes
//!   under load (only the cookie mechanism is here).
//! - Removing or reconfiguring peers after `add_peer`, and changing the
//!   private key; a `Device` is configured once.
//! - Keys are zeroed on drop where this crate holds them (session keys,
//!   chaining keys, private and preshared keys); copies inside the RustCrypto
//!   ciphers are dropped with them.
//!
//! All cryptography comes from RustCrypto crates (x25519-dalek,
//! chacha20poly1305, blake2, hmac); the module `crypto` only composes them.

mod allowed_ips;
mod cookie;
mod crypto;
mod device;
mod entropy;
mod keys;
pub mod messages;
mod noise;
mod peer;
mod ratelimit;
mod replay;
pub mod timers;

pub use allowed_ips::{AllowedIp, AllowedIpParseError};
pub use device::{Action, AddPeerError, Device, Stats, DEFAULT_UNDER_LOAD_THRESHOLD};
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use keys::{KeyParseError, PresharedKey, PrivateKey, PublicKey, KEY_LEN, KEY_TEXT_LEN};
pub use messages::{
    COOKIE_REPLY_LEN, DEFAULT_MTU, INITIATION_LEN, KEEPALIVE_LEN, RESPONSE_LEN,
    TRANSPORT_HEADER_LEN, TRANSPORT_OVERHEAD,
};
pub use noise::tai64n;
pub use peer::{PeerConfig, PeerId, PeerStatus, MAX_STAGED_PACKETS};
pub use replay::{ReplayWindow, WINDOW_SIZE};

#[cfg(test)]
mod tests;
