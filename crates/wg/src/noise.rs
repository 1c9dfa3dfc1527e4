//! The Noise_IKpsk2 handshake as WireGuard instantiates it (paper §5.4.2–5.4.5).
//!
//! Four pure steps, each a function of keys, the message and caller-supplied
//! randomness: [`create_initiation`], [`consume_initiation`],
//! [`create_response`], [`consume_response`]. Peer lookup, timestamp replay
//! checks and rate limits belong to the device, which calls these.
//! Every Diffie-Hellman result that comes out all zeros (a low-order point
//! from the network) fails the handshake, as the reference implementations do.

use std::time::Duration;

use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::{aead_open, aead_seal, hash, kdf, HASH_LEN, TAG_LEN};
use crate::keys::{PrivateKey, PublicKey};
use crate::messages::{
    emit_initiation, emit_response, Initiation, Response, INITIATION_LEN, RESPONSE_LEN,
};

/// Paper §5.4: `Construction`.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// Paper §5.4: `Identifier`.
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// Paper §5.4.4: `Label-Mac1`.
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Paper §5.4.4: `Label-Cookie`.
pub const LABEL_COOKIE: &[u8] = b"cookie--";
/// Length of a TAI64N timestamp.
pub const TIMESTAMP_LEN: usize = 12;

type Key = Zeroizing<[u8; HASH_LEN]>;

/// The local static identity with the values derived from it once.
pub(crate) struct Identity {
    pub private: PrivateKey,
    pub secret: StaticSecret,
    pub public: PublicKey,
}

impl Identity {
    pub fn new(private: PrivateKey) -> Identity {
        Identity {
            secret: private.secret(),
            public: private.public_key(),
            private,
        }
    }
}

/// Transport keys of one session (paper §5.4.5).
pub(crate) struct SessionKeys {
    pub send: Key,
    pub recv: Key,
}

/// What the initiator remembers between sending an initiation and receiving
/// the response.
pub(crate) struct InitiatorState {
    pub local_index: u32,
    hash: [u8; HASH_LEN],
    chaining_key: Key,
    ephemeral: StaticSecret,
}

/// A decrypted, not yet accepted, initiation.
pub(crate) struct ConsumedInitiation {
    pub peer: PublicKey,
    pub timestamp: [u8; TIMESTAMP_LEN],
    pub remote_index: u32,
    remote_ephemeral: [u8; 32],
    hash: [u8; HASH_LEN],
    chaining_key: Key,
}

/// TAI64N of a wall-clock reading (paper §5.4.2), with the nanoseconds
/// rounded down to a multiple of 2^24 as the reference does, so the
/// timestamp does not reveal the sender's clock precisely.
pub fn tai64n(wall: Duration) -> [u8; TIMESTAMP_LEN] {
    const TAI64_BASE: u64 = 0x4000_0000_0000_000a;
    const WHITENER: u32 = 0x00ff_ffff;
    let mut t = [0u8; TIMESTAMP_LEN];
    t[..8].copy_from_slice(&TAI64_BASE.wrapping_add(wall.as_secs()).to_be_bytes());
    t[8..].copy_from_slice(&(wall.subsec_nanos() & !WHITENER).to_be_bytes());
    t
}

/// `C_i = HASH(Construction)`, `H_i = HASH(C_i || Identifier || S_r^pub)`.
fn initial_state(responder: &PublicKey) -> (Key, [u8; HASH_LEN]) {
    let ck = hash(&[CONSTRUCTION]);
    let h = hash(&[&ck, IDENTIFIER]);
    let h = hash(&[&h, responder.as_bytes()]);
    (Zeroizing::new(ck), h)
}

/// `DH(private, public)`, refusing an all-zero result.
fn dh(private: &StaticSecret, public: &[u8; 32]) -> Option<Key> {
    let shared = private.diffie_hellman(&XPublic::from(*public));
    if !shared.was_contributory() {
        return None;
    }
    Some(Zeroizing::new(shared.to_bytes()))
}

fn kdf1(ck: &Key, input: &[u8]) -> Key {
    let [a] = kdf::<1>(ck, input);
    Zeroizing::new(a)
}

fn kdf2(ck: &Key, input: &[u8]) -> (Key, Key) {
    let [a, b] = kdf::<2>(ck, input);
    (Zeroizing::new(a), Zeroizing::new(b))
}

fn kdf3(ck: &Key, input: &[u8]) -> (Key, [u8; HASH_LEN], Key) {
    let [a, b, c] = kdf::<3>(ck, input);
    (Zeroizing::new(a), b, Zeroizing::new(c))
}

/// Paper §5.4.2, initiator side. Returns the message with MAC fields zero.
pub(crate) fn create_initiation(
    local: &Identity,
    remote: &PublicKey,
    local_index: u32,
    ephemeral: [u8; 32],
    timestamp: [u8; TIMESTAMP_LEN],
) -> Option<([u8; INITIATION_LEN], InitiatorState)> {
    let (ck, h) = initial_state(remote);
    let e_priv = StaticSecret::from(ephemeral);
    let e_pub = XPublic::from(&e_priv).to_bytes();
    let ck = kdf1(&ck, &e_pub);
    let h = hash(&[&h, &e_pub]);
    let (ck, k) = kdf2(&ck, &*dh(&e_priv, remote.as_bytes())?);
    let enc_static = aead_seal(&k, 0, local.public.as_bytes(), &h);
    let h = hash(&[&h, &enc_static]);
    let (ck, k) = kdf2(&ck, &*dh(&local.secret, remote.as_bytes())?);
    let enc_time = aead_seal(&k, 0, &timestamp, &h);
    let h = hash(&[&h, &enc_time]);
    let msg = emit_initiation(local_index, &e_pub, &enc_static, &enc_time);
    let state = InitiatorState {
        local_index,
        hash: h,
        chaining_key: ck,
        ephemeral: e_priv,
    };
    Some((msg, state))
}

/// Paper §5.4.2, responder side: decrypts the initiator's identity and
/// timestamp. The caller checks that the identity is a configured peer and
/// that the timestamp is newer than the last one from it.
pub(crate) fn consume_initiation(
    local: &Identity,
    msg: &Initiation<'_>,
) -> Option<ConsumedInitiation> {
    let (ck, h) = initial_state(&local.public);
    let e_pub = msg.ephemeral();
    let ck = kdf1(&ck, &e_pub);
    let h = hash(&[&h, &e_pub]);
    let (ck, k) = kdf2(&ck, &*dh(&local.secret, &e_pub)?);
    let peer_static = aead_open(&k, 0, msg.encrypted_static(), &h)?;
    let peer = PublicKey::from_bytes(<[u8; 32]>::try_from(peer_static.as_slice()).ok()?);
    let h = hash(&[&h, msg.encrypted_static()]);
    let (ck, k) = kdf2(&ck, &*dh(&local.secret, peer.as_bytes())?);
    let ts = aead_open(&k, 0, msg.encrypted_timestamp(), &h)?;
    let timestamp = <[u8; TIMESTAMP_LEN]>::try_from(ts.as_slice()).ok()?;
    let h = hash(&[&h, msg.encrypted_timestamp()]);
    Some(ConsumedInitiation {
        peer,
        timestamp,
        remote_index: msg.sender(),
        remote_ephemeral: e_pub,
        hash: h,
        chaining_key: ck,
    })
}

/// Paper §5.4.3 and §5.4.5, responder side: the response (MAC fields zero)
/// and the session keys.
pub(crate) fn create_response(
    consumed: &ConsumedInitiation,
    psk: &[u8; 32],
    local_index: u32,
    ephemeral: [u8; 32],
) -> Option<([u8; RESPONSE_LEN], SessionKeys)> {
    let e_priv = StaticSecret::from(ephemeral);
    let e_pub = XPublic::from(&e_priv).to_bytes();
    let ck = kdf1(&consumed.chaining_key, &e_pub);
    let h = hash(&[&consumed.hash, &e_pub]);
    let ck = kdf1(&ck, &*dh(&e_priv, &consumed.remote_ephemeral)?);
    let ck = kdf1(&ck, &*dh(&e_priv, consumed.peer.as_bytes())?);
    let (ck, tau, k) = kdf3(&ck, psk);
    let h = hash(&[&h, &tau]);
    let enc_nothing = aead_seal(&k, 0, &[], &h);
    debug_assert_eq!(enc_nothing.len(), TAG_LEN);
    let msg = emit_response(local_index, consumed.remote_index, &e_pub, &enc_nothing);
    // §5.4.5: (T_i^send = T_r^recv, T_i^recv = T_r^send) = KDF2(C, ε).
    let (first, second) = kdf2(&ck, &[]);
    Some((
        msg,
        SessionKeys {
            send: second,
            recv: first,
        },
    ))
}

/// Paper §5.4.3 and §5.4.5, initiator side.
pub(crate) fn consume_response(
    state: &InitiatorState,
    local: &Identity,
    psk: &[u8; 32],
    msg: &Response<'_>,
) -> Option<SessionKeys> {
    let e_pub = msg.ephemeral();
    let ck = kdf1(&state.chaining_key, &e_pub);
    let h = hash(&[&state.hash, &e_pub]);
    let ck = kdf1(&ck, &*dh(&state.ephemeral, &e_pub)?);
    let ck = kdf1(&ck, &*dh(&local.secret, &e_pub)?);
    let (ck, tau, k) = kdf3(&ck, psk);
    let h = hash(&[&h, &tau]);
    let nothing = aead_open(&k, 0, msg.encrypted_nothing(), &h)?;
    if !nothing.is_empty() {
        return None;
    }
    let (first, second) = kdf2(&ck, &[]);
    Some(SessionKeys {
        send: first,
        recv: second,
    })
}
