//! IPv4 (RFC 791).
//!
//! Options are not interpreted, but their length (IHL) is honoured: the
//! payload starts after them and the header checksum covers them. Emitted
//! headers never carry options.

use core::fmt;
use std::net::Ipv4Addr;

use crate::checksum;
use crate::ip::Protocol;
use crate::{Error, Result};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Largest datagram the 16-bit total length can describe.
pub const MAX_DATAGRAM: usize = 65535;
/// Every IPv4 host must accept datagrams of this size (RFC 791, RFC 1122 §3.3.2).
pub const MIN_MTU: usize = 68;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; accessors may panic on short buffers.
    /// Use only on buffers this program built itself.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap untrusted bytes, checking every length the accessors rely on.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the header, its options and the claimed total length all fit
    /// in the buffer. A buffer longer than the total length is allowed (link
    /// padding); [`Packet::payload`] stops at the total length.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 || self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < self.header_len() {
            return Err(Error::Malformed);
        }
        if len < total {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, field: field::Field) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[field.start], data[field.start + 1]])
    }

    fn read_addr(&self, field: field::Field) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[field];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The type-of-service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    pub fn total_len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    pub fn reserved_flag(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_RESERVED != 0
    }

    pub fn dont_frag(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.read_u16(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        self.read_addr(field::SRC_ADDR)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        self.read_addr(field::DST_ADDR)
    }

    /// Whether the header checksum (over header and options) is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    /// The option bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Where the options break their own framing (RFC 791 §3.1: an option
    /// is one byte — End of Option List or No Operation — or a type, a
    /// length of at least 2 counting both, and its data within the
    /// header), as the offset of the bad option's type byte from the start
    /// of the header: what an ICMP Parameter Problem points at (Linux's
    /// ip_options_compile). `None` when the options are well formed; what
    /// they say is not checked.
    pub fn bad_option(&self) -> Option<usize> {
        let options = self.options();
        let mut i = 0;
        while i < options.len() {
            match options[i] {
                0 => return None,
                1 => i += 1,
                _ => match options.get(i + 1) {
                    Some(&len) if len >= 2 && i + usize::from(len) <= options.len() => {
                        i += usize::from(len);
                    }
                    _ => return Some(HEADER_LEN + i),
                },
            }
        }
        None
    }

    /// The payload, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// The header bytes, options included.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn write_u16(&mut self, field: field::Field, value: u16) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        debug_assert!(header_len % 4 == 0 && (HEADER_LEN..=60).contains(&header_len));
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | (header_len / 4) as u8;
    }

    pub fn set_tos(&mut self, value: u8) {
        self.buffer.as_mut()[field::TOS] = value;
    }

    pub fn set_total_len(&mut self, value: u16) {
        self.write_u16(field::LENGTH, value)
    }

    pub fn set_ident(&mut self, value: u16) {
        self.write_u16(field::IDENT, value)
    }

    /// Set DF, MF and the fragment offset (in bytes; must be a multiple of 8).
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        debug_assert!(offset % 8 == 0);
        let mut raw = (offset >> 3) & OFFSET_MASK;
        if dont_frag {
            raw |= FLAG_DF;
        }
        if more_frags {
            raw |= FLAG_MF;
        }
        self.write_u16(field::FLG_OFF, raw)
    }

    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    pub fn set_protocol(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.into();
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets())
    }

    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets())
    }

    /// Compute and store the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(!sum)
    }

    /// Decrement the TTL and patch the checksum incrementally (RFC 1624), as a
    /// router does on every hop (RFC 1812 §5.3.1).
    pub fn decrement_ttl(&mut self) {
        let ttl = self.ttl();
        let proto = u8::from(self.protocol());
        let old = u16::from_be_bytes([ttl, proto]);
        let new = u16::from_be_bytes([ttl.wrapping_sub(1), proto]);
        self.set_ttl(ttl.wrapping_sub(1));
        let c = checksum::update_word(self.checksum(), old, new);
        self.set_checksum(c);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// A validated IPv4 header (without options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: Protocol,
    /// Bytes after the header (and after any options).
    pub payload_len: usize,
    pub ttl: u8,
    /// DSCP and ECN.
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Offset of this fragment's data in the original datagram, in bytes.
    pub frag_offset: u16,
}

impl Repr {
    /// Read the header of a checked packet. The checksum is not verified here.
    ///
    /// Rejects a fragment that would end past 65535 bytes (the "ping of death":
    /// RFC 791 limits a datagram to 65535 octets). A set reserved flag bit is
    /// taken: RFC 791 §3.1 asks the sender for zero and gives the receiver
    /// no rule, and Linux and FreeBSD accept and forward such datagrams.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        let payload_len = usize::from(packet.total_len()) - packet.header_len();
        if usize::from(packet.frag_offset()) + payload_len + HEADER_LEN > MAX_DATAGRAM {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len,
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// Header length when emitted.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Whether this is a fragment of a larger datagram.
    pub const fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Write the header (with checksum) to the start of `packet`; the payload
    /// is the caller's. Panics if the datagram would exceed 65535 bytes: that is
    /// a bug in the caller, never a property of received bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let total = HEADER_LEN + self.payload_len;
        assert!(total <= MAX_DATAGRAM, "IPv4 datagram of {total} bytes");
        packet.set_version_and_header_len(HEADER_LEN);
        packet.set_tos(self.tos);
        packet.set_total_len(total as u16);
        packet.set_ident(self.ident);
        packet.set_frag(self.dont_frag, self.more_frags, self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP {} > {}: {} ttl {} id {} len {}",
            self.src_addr,
            self.dst_addr,
            self.protocol,
            self.ttl,
            self.ident,
            self.payload_len + HEADER_LEN
        )?;
        if self.dont_frag {
            f.write_str(" [DF]")?;
        }
        if self.is_fragment() {
            write!(
                f,
                " (frag {}:{}@{}{})",
                self.ident,
                self.payload_len,
                self.frag_offset,
                if self.more_frags { "+" } else { "" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
