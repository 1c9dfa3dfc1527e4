//! The `virtio_net_hdr` a TUN device opened with `IFF_VNET_HDR` puts before
//! every packet: how the kernel hands over offloaded work.
//!
//! With checksum offload (`TUN_F_CSUM`) the kernel may leave a packet's
//! transport checksum partial — the field holds only the pseudo-header's
//! sum, and the header says from where to sum and where to store
//! (`NEEDS_CSUM`, `csum_start`, `csum_offset`), as a network card would
//! be told. With segmentation offload (`TUN_F_TSO4`) one read may carry a
//! TCP segment of up to 64 KiB that the kernel would otherwise have cut
//! into MSS-sized ones (`gso_type` TCPV4, `gso_size` the MSS): the stack
//! takes it whole, as Linux's own receive path takes a GRO super-packet.
//!
//! The header is the legacy one (10 bytes, the host's byte order: the
//! device was not told otherwise with TUNSETVNETLE/BE). Everything in it
//! is checked before it is used; a header that points outside its packet
//! is malformed and the packet is dropped.

use tcplab_wire::checksum;

/// Bytes of the header before each packet.
pub const LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is to be completed.
pub const F_NEEDS_CSUM: u8 = 1;

/// Where UDP's checksum field lies in its header (`csum_offset`).
const UDP_CHECKSUM_AT: u16 = 6;

/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;

/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl Header {
    /// The header of a packet with nothing left to do (what we write).
    pub const PLAIN: [u8; LEN] = [0; LEN];

    /// The header's bytes, as the device reads them.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        for (i, w) in [
            self.hdr_len,
            self.gso_size,
            self.csum_start,
            self.csum_offset,
        ]
        .into_iter()
        .enumerate()
        {
            b[2 + 2 * i..4 + 2 * i].copy_from_slice(&w.to_ne_bytes());
        }
        b
    }

    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let b: &[u8; LEN] = bytes.get(..LEN)?.try_into().ok()?;
        let word = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(Header {
            flags: b[0],
            gso_type: b[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        })
    }
}

/// Why a packet from the device was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than the header.
    Short,
    /// The checksum's start or field lies outside the packet.
    ChecksumOutside,
}

/// Take the header off a packet read from the device and finish what the
/// kernel left to do: complete a partial checksum in place. Returns the
/// header and where the packet is in `read`.
pub fn receive(read: &mut [u8]) -> Result<(Header, std::ops::Range<usize>), Malformed> {
    let header = Header::parse(read).ok_or(Malformed::Short)?;
    let packet = &mut read[LEN..];
    if header.flags & F_NEEDS_CSUM != 0 {
        let start = usize::from(header.csum_start);
        let field = start + usize::from(header.csum_offset);
        if field + 2 > packet.len() {
            return Err(Malformed::ChecksumOutside);
        }
        // The field holds the pseudo-header's sum; summing from the start
        // of the transport header over it gives the whole sum (RFC 1071),
        // whose complement is the checksum. A result of zero is written as
        // its other form, 0xffff, in UDP's field only (offset 6), where
        // zero means "no checksum" (RFC 768). TCP's stays 0x0000, what a
        // checksum computed from scratch is (RFC 1624 §3): a receiver
        // accepts either, but a capture's reader (Wireshark) calls 0xffff
        // wrong — one ACK in about 65,536 from the kernel showed so.
        let sum = checksum::data(&packet[start..]);
        let value = match !sum {
            0 if header.csum_offset == UDP_CHECKSUM_AT => 0xffff,
            v => v,
        };
        packet[field..field + 2].copy_from_slice(&value.to_be_bytes());
    }
    Ok((header, LEN..read.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, gso_type: u8, start: u16, offset: u16) -> [u8; LEN] {
        Header {
            flags,
            gso_type,
            hdr_len: 0,
            gso_size: 0,
            csum_start: start,
            csum_offset: offset,
        }
        .to_bytes()
    }

    /// A UDP datagram from 10.0.0.1:1000 to 10.0.0.2:2000 with `payload`,
    /// its checksum field holding only the pseudo-header's sum, as the
    /// kernel leaves it for offload.
    fn partial_udp(payload: &[u8]) -> (Vec<u8>, u16) {
        let src = std::net::Ipv4Addr::new(10, 0, 0, 1);
        let dst = std::net::Ipv4Addr::new(10, 0, 0, 2);
        let len = 8 + payload.len();
        let mut udp = Vec::new();
        udp.extend_from_slice(&1000u16.to_be_bytes());
        udp.extend_from_slice(&2000u16.to_be_bytes());
        udp.extend_from_slice(&(len as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        let pseudo = checksum::pseudo_header(src, dst, tcplab_wire::ip::Protocol::Udp, len as u32);
        let full = !checksum::combine(&[pseudo, checksum::data(&udp)]);
        udp[6..8].copy_from_slice(&pseudo.to_be_bytes());
        (udp, full)
    }

    #[test]
    fn completes_a_partial_checksum() {
        for payload in [&b"hello"[..], b"", b"\x00\x01\x02\x03", &[0xff; 1473]] {
            let (udp, want) = partial_udp(payload);
            let mut read = header(F_NEEDS_CSUM, GSO_NONE, 0, 6).to_vec();
            read.extend_from_slice(&udp);
            let (h, range) = receive(&mut read).unwrap();
            assert_eq!(h.gso_type, GSO_NONE);
            let got = u16::from_be_bytes([read[range.start + 6], read[range.start + 7]]);
            let want = if want == 0 { 0xffff } else { want };
            assert_eq!(got, want, "payload of {} bytes", payload.len());
        }
    }

    /// A TCP segment whose checksum comes out as zero keeps 0x0000 (a
    /// capture reader calls 0xffff wrong for TCP); UDP's zero is 0xffff
    /// (above).
    #[test]
    fn a_tcp_checksum_of_zero_stays_zero() {
        let src = std::net::Ipv4Addr::new(10, 7, 0, 1);
        let dst = std::net::Ipv4Addr::new(10, 7, 0, 2);
        let mut tcp = vec![0u8; 32];
        tcp[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
        tcp[12] = 8 << 4;
        tcp[13] = 0x10;
        let pseudo = checksum::pseudo_header(src, dst, tcplab_wire::ip::Protocol::Tcp, 32);
        // Choose the last word so that the whole sums to all ones.
        let rest = checksum::combine(&[pseudo, checksum::data(&tcp)]);
        tcp[30..32].copy_from_slice(&(!rest).to_be_bytes());
        assert_eq!(checksum::combine(&[pseudo, checksum::data(&tcp)]), 0xffff);
        tcp[16..18].copy_from_slice(&pseudo.to_be_bytes());
        let mut read = header(F_NEEDS_CSUM, GSO_NONE, 0, 16).to_vec();
        read.extend_from_slice(&tcp);
        let (_, range) = receive(&mut read).unwrap();
        let got = u16::from_be_bytes([read[range.start + 16], read[range.start + 17]]);
        assert_eq!(got, 0);
    }

    #[test]
    fn a_complete_packet_is_left_alone() {
        let (udp, _) = partial_udp(b"abc");
        let mut read = Header::PLAIN.to_vec();
        read.extend_from_slice(&udp);
        let (_, range) = receive(&mut read).unwrap();
        assert_eq!(&read[range], &udp[..]);
    }

    #[test]
    fn headers_pointing_outside_are_refused() {
        assert_eq!(receive(&mut [0u8; 9]), Err(Malformed::Short));
        for (start, offset) in [(0, 7), (8, 0), (u16::MAX, u16::MAX), (2, 5), (0, 6), (2, 4)] {
            let mut read = header(F_NEEDS_CSUM, GSO_NONE, start, offset).to_vec();
            read.extend_from_slice(&[0u8; 8]);
            let r = receive(&mut read);
            if usize::from(start) + usize::from(offset) + 2 <= 8 {
                assert!(r.is_ok());
            } else {
                assert_eq!(r, Err(Malformed::ChecksumOutside), "{start} {offset}");
            }
        }
    }

    /// Headers with small offsets, so that many land inside the packet:
    /// the completed checksum, with the partial sum the field held before
    /// (the pseudo-header's), always makes the region sum to all ones —
    /// what a receiver verifies.
    #[test]
    fn any_offsets_inside_give_a_checksum_that_verifies() {
        let mut rng = 0x1234_5678_u64;
        let mut completed = 0;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = (rng % 40) as usize;
            let start = ((rng >> 8) as u16 % 24) & !1;
            let offset = ((rng >> 16) as u16 % 24) & !1;
            let mut read = header(F_NEEDS_CSUM, GSO_NONE, start, offset).to_vec();
            read.extend((0..len).map(|i| (rng >> (i % 8 * 8)) as u8 ^ i as u8));
            let field = LEN + usize::from(start + offset);
            let partial = read
                .get(field..field + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]));
            match receive(&mut read) {
                Ok((_, range)) => {
                    let region = &read[range.start + usize::from(start)..];
                    let total = checksum::combine(&[partial.unwrap(), checksum::data(region)]);
                    assert_eq!(total, 0xffff, "{start} {offset} {len}");
                    completed += 1;
                }
                Err(e) => assert_eq!(e, Malformed::ChecksumOutside),
            }
        }
        assert!(completed > 1000, "{completed}");
    }
}
