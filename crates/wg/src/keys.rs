//! Curve25519 keys and preshared keys, in `wg`'s base64 text form.
//!
//! `wg genkey` prints 32 random bytes clamped as RFC 7748 §5 describes,
//! `wg pubkey` prints X25519(k, 9), `wg genpsk` prints 32 unclamped random
//! bytes; all three use standard base64 with padding, 44 characters.

use core::fmt;
use core::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroize;

use crate::entropy::{bytes32, Entropy};

/// Length of every key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a key in base64 text.
pub const KEY_TEXT_LEN: usize = 44;

/// Why a key's text was rejected (the caller's input is to blame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("key is not 44 base64 characters")]
    WrongLength,
    #[error("key is not valid base64")]
    NotBase64,
    #[error("key does not decode to 32 bytes")]
    WrongDecodedLength,
}

fn parse_key(text: &str) -> Result<[u8; KEY_LEN], KeyParseError> {
    let text = text.trim();
    if text.len() != KEY_TEXT_LEN {
        return Err(KeyParseError::WrongLength);
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| KeyParseError::NotBase64)?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| KeyParseError::WrongDecodedLength)
}

fn format_key(f: &mut fmt::Formatter<'_>, bytes: &[u8; KEY_LEN]) -> fmt::Result {
    f.write_str(&STANDARD.encode(bytes))
}

/// A Curve25519 static private key.
///
/// `Display` prints the secret in base64 (as `wg show ... private-key` does);
/// `Debug` does not.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    bytes: [u8; KEY_LEN],
}

impl PrivateKey {
    /// Like `wg genkey`: 32 random bytes, clamped (RFC 7748 §5).
    pub fn generate(entropy: &mut dyn Entropy) -> PrivateKey {
        let mut bytes = bytes32(entropy);
        bytes[0] &= 248;
        bytes[31] = (bytes[31] & 127) | 64;
        PrivateKey { bytes }
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PrivateKey {
        PrivateKey { bytes }
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Like `wg pubkey`: X25519(self, 9).
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            bytes: XPublic::from(&self.secret()).to_bytes(),
        }
    }

    pub(crate) fn secret(&self) -> StaticSecret {
        StaticSecret::from(self.bytes)
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl FromStr for PrivateKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<PrivateKey, KeyParseError> {
        parse_key(s).map(|bytes| PrivateKey { bytes })
    }
}

impl fmt::Display for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_key(f, &self.bytes)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(public {})", self.public_key())
    }
}

/// A Curve25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey {
    bytes: [u8; KEY_LEN],
}

impl PublicKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PublicKey {
        PublicKey { bytes }
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<PublicKey, KeyParseError> {
        parse_key(s).map(|bytes| PublicKey { bytes })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_key(f, &self.bytes)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A 32-byte symmetric preshared key `Q` (paper §5.2, mixed in by IKpsk2).
#[derive(Clone, PartialEq, Eq)]
pub struct PresharedKey {
    bytes: [u8; KEY_LEN],
}

impl PresharedKey {
    /// Like `wg genpsk`: 32 random bytes, not clamped.
    pub fn generate(entropy: &mut dyn Entropy) -> PresharedKey {
        PresharedKey {
            bytes: bytes32(entropy),
        }
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> PresharedKey {
        PresharedKey { bytes }
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl Drop for PresharedKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl FromStr for PresharedKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<PresharedKey, KeyParseError> {
        parse_key(s).map(|bytes| PresharedKey { bytes })
    }
}

impl fmt::Display for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_key(f, &self.bytes)
    }
}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresharedKey(..)")
    }
}
