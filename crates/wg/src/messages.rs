//! The four WireGuard messages on the wire (paper §5.4): parse and emit.
//!
//! Untrusted bytes enter only through [`Message::parse`], which checks the
//! type word and the exact (or minimum) length once; after that the view's
//! accessors index fixed offsets that the check guaranteed, so none can panic.
//! Integers are little-endian (paper §5.4). The three reserved bytes after the
//! type must be zero, as the reference implementation reads the first four
//! bytes as one little-endian `u32`.

use crate::crypto::{MAC_LEN, TAG_LEN};

/// Message type 1, handshake initiation (paper §5.4.2).
pub const TYPE_INITIATION: u8 = 1;
/// Message type 2, handshake response (paper §5.4.3).
pub const TYPE_RESPONSE: u8 = 2;
/// Message type 3, cookie reply (paper §5.4.7).
pub const TYPE_COOKIE_REPLY: u8 = 3;
/// Message type 4, transport data (paper §5.4.6).
pub const TYPE_TRANSPORT: u8 = 4;

/// Size of a handshake initiation.
pub const INITIATION_LEN: usize = 148;
/// Size of a handshake response.
pub const RESPONSE_LEN: usize = 92;
/// Size of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
/// Size of the transport data header (type, receiver, counter).
pub const TRANSPORT_HEADER_LEN: usize = 16;
/// Bytes a transport message adds to an inner packet: header plus tag.
pub const TRANSPORT_OVERHEAD: usize = TRANSPORT_HEADER_LEN + TAG_LEN;
/// Smallest transport message: an encrypted empty packet, the keepalive.
pub const KEEPALIVE_LEN: usize = TRANSPORT_OVERHEAD;
/// Inner packets are zero-padded to a multiple of this (paper §5.4.6).
pub const PADDING_MULTIPLE: usize = 16;
/// Outer IPv4 (20) plus UDP (8) headers.
pub const OUTER_IPV4_UDP_LEN: usize = 28;
/// Tunnel MTU that fits a 1500-byte path whatever the outer IP version, as
/// `wg-quick` picks it: 1500 minus 40 (IPv6) minus 8 (UDP) minus 32
/// ([`TRANSPORT_OVERHEAD`]) = 1420.
pub const DEFAULT_MTU: usize = 1420;

/// Byte offsets of each message's fields.
pub mod field {
    use core::ops::Range;

    pub const TYPE: Range<usize> = 0..4;

    pub mod initiation {
        use core::ops::Range;
        pub const SENDER: Range<usize> = 4..8;
        pub const EPHEMERAL: Range<usize> = 8..40;
        pub const STATIC: Range<usize> = 40..88;
        pub const TIMESTAMP: Range<usize> = 88..116;
        pub const MAC1: Range<usize> = 116..132;
        pub const MAC2: Range<usize> = 132..148;
    }

    pub mod response {
        use core::ops::Range;
        pub const SENDER: Range<usize> = 4..8;
        pub const RECEIVER: Range<usize> = 8..12;
        pub const EPHEMERAL: Range<usize> = 12..44;
        pub const EMPTY: Range<usize> = 44..60;
        pub const MAC1: Range<usize> = 60..76;
        pub const MAC2: Range<usize> = 76..92;
    }

    pub mod cookie_reply {
        use core::ops::Range;
        pub const RECEIVER: Range<usize> = 4..8;
        pub const NONCE: Range<usize> = 8..32;
        pub const COOKIE: Range<usize> = 32..64;
    }

    pub mod transport {
        use core::ops::{Range, RangeFrom};
        pub const RECEIVER: Range<usize> = 4..8;
        pub const COUNTER: Range<usize> = 8..16;
        pub const PAYLOAD: RangeFrom<usize> = 16..;
    }
}

/// Why a datagram is not a WireGuard message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("datagram shorter than the 4-byte type field")]
    Truncated,
    #[error("unknown message type or non-zero reserved bytes")]
    UnknownType,
    #[error("wrong length for its message type")]
    BadLength,
}

/// A checked view of one received message.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Initiation(Initiation<'a>),
    Response(Response<'a>),
    CookieReply(CookieReply<'a>),
    Transport(Transport<'a>),
}

impl<'a> Message<'a> {
    /// The one entry point for untrusted bytes.
    pub fn parse(datagram: &'a [u8]) -> Result<Message<'a>, MessageError> {
        let ty = datagram.get(field::TYPE).ok_or(MessageError::Truncated)?;
        if ty[1..] != [0, 0, 0] {
            return Err(MessageError::UnknownType);
        }
        let len = datagram.len();
        match ty[0] {
            TYPE_INITIATION if len == INITIATION_LEN => {
                Ok(Message::Initiation(Initiation { b: datagram }))
            }
            TYPE_RESPONSE if len == RESPONSE_LEN => Ok(Message::Response(Response { b: datagram })),
            TYPE_COOKIE_REPLY if len == COOKIE_REPLY_LEN => {
                Ok(Message::CookieReply(CookieReply { b: datagram }))
            }
            TYPE_TRANSPORT if len >= KEEPALIVE_LEN => {
                Ok(Message::Transport(Transport { b: datagram }))
            }
            TYPE_INITIATION | TYPE_RESPONSE | TYPE_COOKIE_REPLY | TYPE_TRANSPORT => {
                Err(MessageError::BadLength)
            }
            _ => Err(MessageError::UnknownType),
        }
    }
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

/// Handshake initiation view (exactly [`INITIATION_LEN`] bytes).
#[derive(Debug, Clone, Copy)]
pub struct Initiation<'a> {
    b: &'a [u8],
}

impl<'a> Initiation<'a> {
    pub fn sender(&self) -> u32 {
        le32(&self.b[field::initiation::SENDER])
    }
    pub fn ephemeral(&self) -> [u8; 32] {
        arr(&self.b[field::initiation::EPHEMERAL])
    }
    pub fn encrypted_static(&self) -> &'a [u8] {
        &self.b[field::initiation::STATIC]
    }
    pub fn encrypted_timestamp(&self) -> &'a [u8] {
        &self.b[field::initiation::TIMESTAMP]
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.b
    }
}

/// Handshake response view (exactly [`RESPONSE_LEN`] bytes).
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    b: &'a [u8],
}

impl<'a> Response<'a> {
    pub fn sender(&self) -> u32 {
        le32(&self.b[field::response::SENDER])
    }
    pub fn receiver(&self) -> u32 {
        le32(&self.b[field::response::RECEIVER])
    }
    pub fn ephemeral(&self) -> [u8; 32] {
        arr(&self.b[field::response::EPHEMERAL])
    }
    pub fn encrypted_nothing(&self) -> &'a [u8] {
        &self.b[field::response::EMPTY]
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.b
    }
}

/// Cookie reply view (exactly [`COOKIE_REPLY_LEN`] bytes).
#[derive(Debug, Clone, Copy)]
pub struct CookieReply<'a> {
    b: &'a [u8],
}

impl<'a> CookieReply<'a> {
    pub fn receiver(&self) -> u32 {
        le32(&self.b[field::cookie_reply::RECEIVER])
    }
    pub fn nonce(&self) -> [u8; 24] {
        arr(&self.b[field::cookie_reply::NONCE])
    }
    pub fn encrypted_cookie(&self) -> &'a [u8] {
        &self.b[field::cookie_reply::COOKIE]
    }
}

/// Transport data view (at least [`KEEPALIVE_LEN`] bytes).
#[derive(Debug, Clone, Copy)]
pub struct Transport<'a> {
    b: &'a [u8],
}

impl<'a> Transport<'a> {
    pub fn receiver(&self) -> u32 {
        le32(&self.b[field::transport::RECEIVER])
    }
    pub fn counter(&self) -> u64 {
        u64::from_le_bytes(arr(&self.b[field::transport::COUNTER]))
    }
    pub fn encrypted_packet(&self) -> &'a [u8] {
        &self.b[field::transport::PAYLOAD]
    }
}

/// The part of a handshake message that mac1 covers (paper §5.4.4):
/// everything before the two MAC fields.
pub(crate) fn mac1_input(msg: &[u8]) -> &[u8] {
    &msg[..msg.len() - 2 * MAC_LEN]
}

/// The part that mac2 covers: everything before mac2.
pub(crate) fn mac2_input(msg: &[u8]) -> &[u8] {
    &msg[..msg.len() - MAC_LEN]
}

/// The mac1 field of a handshake message.
pub(crate) fn mac1_field(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 2 * MAC_LEN..msg.len() - MAC_LEN]
}

/// The mac2 field of a handshake message.
pub(crate) fn mac2_field(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - MAC_LEN..]
}

/// Builds an initiation with zeroed MAC fields, for the cookie layer to fill.
pub(crate) fn emit_initiation(
    sender: u32,
    ephemeral: &[u8; 32],
    encrypted_static: &[u8],
    encrypted_timestamp: &[u8],
) -> [u8; INITIATION_LEN] {
    let mut m = [0u8; INITIATION_LEN];
    m[0] = TYPE_INITIATION;
    m[field::initiation::SENDER].copy_from_slice(&sender.to_le_bytes());
    m[field::initiation::EPHEMERAL].copy_from_slice(ephemeral);
    m[field::initiation::STATIC].copy_from_slice(encrypted_static);
    m[field::initiation::TIMESTAMP].copy_from_slice(encrypted_timestamp);
    m
}

/// Builds a response with zeroed MAC fields.
pub(crate) fn emit_response(
    sender: u32,
    receiver: u32,
    ephemeral: &[u8; 32],
    encrypted_nothing: &[u8],
) -> [u8; RESPONSE_LEN] {
    let mut m = [0u8; RESPONSE_LEN];
    m[0] = TYPE_RESPONSE;
    m[field::response::SENDER].copy_from_slice(&sender.to_le_bytes());
    m[field::response::RECEIVER].copy_from_slice(&receiver.to_le_bytes());
    m[field::response::EPHEMERAL].copy_from_slice(ephemeral);
    m[field::response::EMPTY].copy_from_slice(encrypted_nothing);
    m
}

/// Builds a cookie reply.
pub(crate) fn emit_cookie_reply(
    receiver: u32,
    nonce: &[u8; 24],
    encrypted_cookie: &[u8],
) -> [u8; COOKIE_REPLY_LEN] {
    let mut m = [0u8; COOKIE_REPLY_LEN];
    m[0] = TYPE_COOKIE_REPLY;
    m[field::cookie_reply::RECEIVER].copy_from_slice(&receiver.to_le_bytes());
    m[field::cookie_reply::NONCE].copy_from_slice(nonce);
    m[field::cookie_reply::COOKIE].copy_from_slice(encrypted_cookie);
    m
}

/// Writes the transport header in front of an (empty) buffer.
pub(crate) fn transport_header(receiver: u32, counter: u64) -> [u8; TRANSPORT_HEADER_LEN] {
    let mut h = [0u8; TRANSPORT_HEADER_LEN];
    h[0] = TYPE_TRANSPORT;
    h[field::transport::RECEIVER].copy_from_slice(&receiver.to_le_bytes());
    h[field::transport::COUNTER].copy_from_slice(&counter.to_le_bytes());
    h
}

/// Zero padding for an inner packet of `len` bytes under tunnel `mtu`, as the
/// reference computes it: round up to 16 but never beyond the MTU.
pub fn padding_len(len: usize, mtu: usize) -> usize {
    if mtu == 0 {
        return (PADDING_MULTIPLE - len % PADDING_MULTIPLE) % PADDING_MULTIPLE;
    }
    let last = if len > mtu { len % mtu } else { len };
    let padded = (last.div_ceil(PADDING_MULTIPLE) * PADDING_MULTIPLE).min(mtu);
    padded.saturating_sub(last)
}
