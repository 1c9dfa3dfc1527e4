//! UDP (RFC 768).

use core::fmt;
use std::net::Ipv4Addr;

use crate::checksum;
use crate::ip::Protocol;
use crate::{Error, Result};

pub const HEADER_LEN: usize = 8;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap untrusted bytes: the header must be present and the length field
    /// must cover the header and fit the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let claimed = usize::from(p.len());
        if claimed < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if claimed > len {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    fn read_u16(&self, field: field::Field) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[field.start], d[field.start + 1]])
    }

    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Whether the checksum is right. A zero checksum means the sender did not
    /// compute one, which IPv4 allows (RFC 768); such datagrams pass.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        checksum::combine(&[
            checksum::pseudo_header(src, dst, Protocol::Udp, u32::from(len)),
            checksum::data(data),
        ]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn write_u16(&mut self, field: field::Field, value: u16) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value)
    }

    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value)
    }

    pub fn set_len(&mut self, value: u16) {
        self.write_u16(field::LENGTH, value)
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Compute and store the checksum. A computed zero is sent as all ones
    /// (RFC 768), since zero means "no checksum".
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src, dst, Protocol::Udp, u32::from(len)),
            checksum::data(&self.buffer.as_ref()[..usize::from(len)]),
        ]);
        let c = !sum;
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// A validated UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Read a datagram; destination port 0 is not valid. The checksum is not
    /// verified here.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        if packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let payload = &packet.buffer.as_ref()[HEADER_LEN..usize::from(packet.len())];
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Write header, payload and checksum into `packet` (exactly
    /// [`Repr::buffer_len`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.buffer_len() as u16);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src, dst);
    }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UDP, length {}", self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    #[test]
    fn round_trip_with_checksum() {
        let repr = Repr {
            src_port: 5353,
            dst_port: 53,
            payload: b"hello, world",
        };
        let mut bytes = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), SRC, DST);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, Ipv4Addr::new(192, 168, 1, 3)));
        assert_eq!(Repr::parse(&p).unwrap(), repr);
    }

    /// RFC 768: a checksum that computes to zero is sent as all ones (zero
    /// means "none"). Two payload bytes equal to the checksum of the same
    /// datagram with zeros there make the sum all ones, the checksum zero.
    #[test]
    fn a_computed_zero_is_sent_as_all_ones() {
        let emit = |payload: &[u8]| {
            let repr = Repr {
                src_port: 5353,
                dst_port: 53,
                payload,
            };
            let mut bytes = vec![0; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), SRC, DST);
            bytes
        };
        let first = emit(&[0, 0]);
        let c0 = Packet::new_checked(&first[..]).unwrap().checksum();
        let bytes = emit(&c0.to_be_bytes());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(SRC, DST));
    }

    #[test]
    fn zero_checksum_means_none() {
        let mut bytes = vec![0, 1, 0, 2, 0, 9, 0, 0, 42];
        assert!(Packet::new_checked(&bytes[..])
            .unwrap()
            .verify_checksum(SRC, DST));
        bytes[8] = 43;
        assert!(Packet::new_checked(&bytes[..])
            .unwrap()
            .verify_checksum(SRC, DST));
    }

    #[test]
    fn lengths_checked() {
        assert_eq!(
            Packet::new_checked(&[0u8, 1, 0, 2, 0, 7, 0, 0][..]).unwrap_err(),
            Error::Malformed
        );
        assert_eq!(
            Packet::new_checked(&[0u8, 1, 0, 2, 0, 20, 0, 0][..]).unwrap_err(),
            Error::Truncated
        );
        let p = Packet::new_checked(&[0u8, 1, 0, 0, 0, 8, 0, 0][..]).unwrap();
        assert_eq!(Repr::parse(&p), Err(Error::Malformed));
    }
}
