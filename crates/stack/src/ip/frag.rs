//! Fragmentation on output (RFC 791 §3.2, "An Example Fragmentation
//! Procedure").

use tcplab_wire::ipv4;

/// Split the datagram in `bytes` (a whole datagram or itself a fragment)
/// into fragments of at most `mtu` bytes. The first fragment keeps every
/// option; later ones keep only options whose "copied" flag is set (RFC 791
/// §3.1). Returns `None` when the MTU cannot hold the header and 8 bytes.
pub fn fragment(bytes: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    let packet = ipv4::Packet::new_checked(bytes).ok()?;
    let header = packet.header();
    let payload = packet.payload();
    let copied = copied_options(packet.options());
    let later_header_len = ipv4::HEADER_LEN + copied.len();
    let first_room = mtu.checked_sub(header.len())? & !7;
    let later_room = mtu.checked_sub(later_header_len)? & !7;
    if first_room == 0 || later_room == 0 {
        return None;
    }
    let base = usize::from(packet.frag_offset());
    let last_has_mf = packet.more_frags();
    let mut frags = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let first = offset == 0;
        let room = if first { first_room } else { later_room };
        let end = (offset + room).min(payload.len());
        let more = end < payload.len() || last_has_mf;
        let hlen = if first {
            header.len()
        } else {
            later_header_len
        };
        let mut f = vec![0u8; hlen + (end - offset)];
        f[..ipv4::HEADER_LEN].copy_from_slice(&header[..ipv4::HEADER_LEN]);
        if first {
            f[ipv4::HEADER_LEN..hlen].copy_from_slice(&header[ipv4::HEADER_LEN..]);
        } else {
            f[ipv4::HEADER_LEN..hlen].copy_from_slice(&copied);
        }
        f[hlen..].copy_from_slice(&payload[offset..end]);
        let flen = f.len() as u16;
        let mut p = ipv4::Packet::new_unchecked(&mut f[..]);
        p.set_version_and_header_len(hlen);
        p.set_total_len(flen);
        p.set_frag(false, more, (base + offset) as u16);
        p.fill_checksum();
        frags.push(f);
        offset = end;
    }
    Some(frags)
}

/// The options with the copied flag (bit 7 of the type), padded to four bytes.
fn copied_options(options: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let kind = options[i];
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let len = options.get(i + 1).map_or(0, |&l| usize::from(l));
                if len < 2 || i + len > options.len() {
                    break;
                }
                if kind & 0x80 != 0 {
                    out.extend_from_slice(&options[i..i + len]);
                }
                i += len;
            }
        }
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use tcplab_wire::Protocol;

    fn datagram(payload_len: usize, options: &[u8]) -> Vec<u8> {
        let hlen = 20 + options.len();
        let mut b = vec![0u8; hlen + payload_len];
        let repr = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: Protocol::Udp,
            payload_len: hlen - 20 + payload_len,
            ttl: 64,
            tos: 0,
            ident: 42,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        };
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        b[20..hlen].copy_from_slice(options);
        for (i, x) in b[hlen..].iter_mut().enumerate() {
            *x = i as u8;
        }
        let mut p = ipv4::Packet::new_unchecked(&mut b[..]);
        p.set_version_and_header_len(hlen);
        p.fill_checksum();
        b
    }

    #[test]
    fn splits_on_eight_byte_boundaries() {
        let d = datagram(1000, &[]);
        let frags = fragment(&d, 576).unwrap();
        assert_eq!(frags.len(), 2);
        let a = ipv4::Packet::new_checked(&frags[0][..]).unwrap();
        let b = ipv4::Packet::new_checked(&frags[1][..]).unwrap();
        assert!(a.verify_checksum() && b.verify_checksum());
        assert_eq!(a.payload().len(), 552);
        assert!(a.more_frags());
        assert_eq!(b.frag_offset(), 552);
        assert!(!b.more_frags());
        assert_eq!(b.payload().len(), 448);
        assert_eq!(a.ident(), 42);
        assert_eq!(b.ident(), 42);
        let mut joined = a.payload().to_vec();
        joined.extend_from_slice(b.payload());
        assert_eq!(&joined[..], &d[20..]);
    }

    #[test]
    fn refragmenting_a_fragment_keeps_offsets_and_mf() {
        let d = datagram(1000, &[]);
        let frags = fragment(&d, 576).unwrap();
        let again = fragment(&frags[0], 300).unwrap();
        let offs: Vec<(u16, bool)> = again
            .iter()
            .map(|f| {
                let p = ipv4::Packet::new_checked(&f[..]).unwrap();
                (p.frag_offset(), p.more_frags())
            })
            .collect();
        assert_eq!(offs, vec![(0, true), (280, true)]);
    }

    #[test]
    fn only_copied_options_repeat() {
        // A copied option (type 0x83, loose source route, length 4 stub) and
        // a non-copied one (type 0x07, record route, length 4).
        let d = datagram(100, &[0x83, 4, 0, 0, 0x07, 4, 0, 0]);
        let frags = fragment(&d, 68).unwrap();
        let first = ipv4::Packet::new_checked(&frags[0][..]).unwrap();
        assert_eq!(first.options(), &[0x83, 4, 0, 0, 0x07, 4, 0, 0]);
        let second = ipv4::Packet::new_checked(&frags[1][..]).unwrap();
        assert_eq!(second.options(), &[0x83, 4, 0, 0]);
        let total: usize = frags
            .iter()
            .map(|f| ipv4::Packet::new_checked(&f[..]).unwrap().payload().len())
            .sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn too_small_mtu() {
        assert!(fragment(&datagram(100, &[]), 27).is_none());
    }
}
