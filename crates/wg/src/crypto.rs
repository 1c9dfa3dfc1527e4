//! The primitives of the construction, composed as WireGuard composes them.
//!
//! Paper §5.4 ("Protocol messages") defines the helpers used throughout the
//! handshake: `HASH` is BLAKE2s-256, `MAC` is keyed BLAKE2s with a 16-byte
//! output, `HMAC` is HMAC-BLAKE2s-256, `KDF_n` is HKDF built on that HMAC, and
//! `AEAD` / `XAEAD` are ChaCha20-Poly1305 with a 64-bit little-endian counter
//! nonce and XChaCha20-Poly1305 with a 24-byte random nonce. Every primitive
//! comes from a RustCrypto crate; this module only wires them together.

use blake2::digest::consts::U16;
use blake2::digest::{Digest, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Tag, XChaCha20Poly1305, XNonce};
use hmac::SimpleHmac;

/// Length of `HASH` output, chaining keys and symmetric keys.
pub const HASH_LEN: usize = 32;
/// Length of a `MAC` output and of the AEAD tag.
pub const MAC_LEN: usize = 16;
/// Length of the Poly1305 tag appended by `AEAD` and `XAEAD`.
pub const TAG_LEN: usize = 16;

/// `HASH(parts[0] || parts[1] || ...)`: BLAKE2s-256 (paper §5.4).
pub(crate) fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut h = Blake2s256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `MAC(key, parts...)`: keyed BLAKE2s with a 16-byte digest (paper §5.4).
///
/// `key` is 32 bytes for mac1 and the cookie secret, 16 bytes for mac2 (the
/// cookie itself). BLAKE2s accepts keys of 1..=32 bytes; every caller passes a
/// fixed-size array within that range.
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut m = <Blake2sMac<U16> as Mac>::new_from_slice(key)
        .expect("internal invariant: MAC keys are 16 or 32 bytes");
    for p in parts {
        Mac::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

/// `HMAC(key, parts...)`: HMAC-BLAKE2s-256 (RFC 2104 over BLAKE2s, 64-byte block).
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut m = <SimpleHmac<Blake2s256> as Mac>::new_from_slice(key)
        .expect("internal invariant: HMAC accepts keys of any length");
    for p in parts {
        Mac::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

/// `KDF_n(key, input)`: HKDF with HMAC-BLAKE2s (paper §5.4). Returns τ1..τn.
pub(crate) fn kdf<const N: usize>(key: &[u8; HASH_LEN], input: &[u8]) -> [[u8; HASH_LEN]; N] {
    let prk = hmac(key, &[input]);
    let mut out = [[0u8; HASH_LEN]; N];
    let mut prev: Option<[u8; HASH_LEN]> = None;
    for (i, slot) in out.iter_mut().enumerate() {
        let counter = [u8::try_from(i + 1).expect("internal invariant: KDF_n has n <= 3")];
        let t = match prev {
            None => hmac(&prk, &[&counter]),
            Some(p) => hmac(&prk, &[&p, &counter]),
        };
        *slot = t;
        prev = Some(t);
    }
    out
}

/// The 96-bit ChaCha20-Poly1305 nonce: 32 zero bits then the 64-bit
/// little-endian counter (paper §5.4, `AEAD`).
fn counter_nonce(counter: u64) -> chacha20poly1305::Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n.into()
}

/// `AEAD(key, counter, plaintext, aad)` into `buf`, which holds the plaintext
/// on entry and the ciphertext followed by the 16-byte tag on return.
pub(crate) fn aead_seal_in_place(key: &[u8; 32], counter: u64, buf: &mut Vec<u8>, aad: &[u8]) {
    let cipher = ChaCha20Poly1305::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(&counter_nonce(counter), aad, buf)
        .expect("internal invariant: WireGuard messages are far below the AEAD length limit");
    buf.extend_from_slice(&tag);
}

/// `AEAD` over a short plaintext, returning ciphertext || tag.
pub(crate) fn aead_seal(key: &[u8; 32], counter: u64, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut buf = plaintext.to_vec();
    aead_seal_in_place(key, counter, &mut buf, aad);
    buf
}

/// Opens ciphertext || tag; `None` when authentication fails.
pub(crate) fn aead_open(
    key: &[u8; 32],
    counter: u64,
    sealed: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    let body_len = sealed.len().checked_sub(TAG_LEN)?;
    let (body, tag) = sealed.split_at(body_len);
    let mut buf = body.to_vec();
    let cipher = ChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(&counter_nonce(counter), aad, &mut buf, Tag::from_slice(tag))
        .ok()?;
    Some(buf)
}

/// `XAEAD(key, nonce, plaintext, aad)` (paper §5.4.7, the cookie reply).
pub(crate) fn xaead_seal(
    key: &[u8; 32],
    nonce: &[u8; 24],
    plaintext: &[u8],
    aad: &[u8],
) -> Vec<u8> {
    let mut buf = plaintext.to_vec();
    let cipher = XChaCha20Poly1305::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut buf)
        .expect("internal invariant: a cookie is 16 bytes");
    buf.extend_from_slice(&tag);
    buf
}

/// Opens an `XAEAD` box; `None` when authentication fails.
pub(crate) fn xaead_open(
    key: &[u8; 32],
    nonce: &[u8; 24],
    sealed: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    let body_len = sealed.len().checked_sub(TAG_LEN)?;
    let (body, tag) = sealed.split_at(body_len);
    let mut buf = body.to_vec();
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            &mut buf,
            Tag::from_slice(tag),
        )
        .ok()?;
    Some(buf)
}

/// Constant-time equality for MACs.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}
