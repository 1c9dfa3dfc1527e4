use super::*;

// An ICMP echo request captured from Linux ping: 84 bytes total.
static HEADER: [u8; 20] = [
    0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x02,
    0x0a, 0x00, 0x02, 0x02,
];

fn packet_bytes() -> Vec<u8> {
    let mut bytes = HEADER.to_vec();
    bytes.resize(84, 0xaa);
    let mut p = Packet::new_unchecked(&mut bytes[..]);
    p.fill_checksum();
    bytes
}

#[test]
fn accessors() {
    let bytes = packet_bytes();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.total_len(), 84);
    assert_eq!(p.ident(), 0x1c46);
    assert!(p.dont_frag());
    assert!(!p.more_frags());
    assert_eq!(p.frag_offset(), 0);
    assert_eq!(p.ttl(), 64);
    assert_eq!(p.protocol(), Protocol::Icmp);
    assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 1, 2));
    assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 2, 2));
    assert!(p.verify_checksum());
    assert_eq!(p.payload().len(), 64);
}

#[test]
fn bad_checksum_detected() {
    let mut bytes = packet_bytes();
    bytes[8] = 63;
    assert!(!Packet::new_checked(&bytes[..]).unwrap().verify_checksum());
}

#[test]
fn truncations_are_rejected() {
    let bytes = packet_bytes();
    for len in 0..bytes.len() {
        assert!(Packet::new_checked(&bytes[..len]).is_err(), "len {len}");
    }
    // Link padding after the datagram is fine and not part of the payload.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(
        Packet::new_checked(&padded[..]).unwrap().payload().len(),
        64
    );
}

#[test]
fn malformed_headers_are_rejected() {
    let mut bytes = packet_bytes();
    bytes[0] = 0x65; // version 6
    assert_eq!(
        Packet::new_checked(&bytes[..]).unwrap_err(),
        Error::Malformed
    );
    bytes[0] = 0x44; // IHL 4 (16 bytes)
    assert_eq!(
        Packet::new_checked(&bytes[..]).unwrap_err(),
        Error::Malformed
    );
    bytes[0] = 0x4f; // IHL 15 (60 bytes) but total length 84 fits
    assert!(Packet::new_checked(&bytes[..]).is_ok());
    bytes[2..4].copy_from_slice(&10u16.to_be_bytes()); // total < header
    assert_eq!(
        Packet::new_checked(&bytes[..]).unwrap_err(),
        Error::Malformed
    );
}

#[test]
fn options_are_skipped() {
    // IHL 6: four bytes of options (a NOP-padded record route stub).
    let mut bytes = vec![
        0x46, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    bytes.extend_from_slice(&[1, 1, 1, 0]);
    bytes.extend_from_slice(&[9; 8]);
    let mut p = Packet::new_unchecked(&mut bytes[..]);
    p.fill_checksum();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(p.options(), &[1, 1, 1, 0]);
    assert_eq!(p.payload(), &[9; 8]);
    assert_eq!(Repr::parse(&p).unwrap().payload_len, 8);
}

/// Options that break their framing are found, and where.
#[test]
fn bad_options_are_located() {
    let with = |opts: &[u8]| {
        let ihl = 5 + opts.len().div_ceil(4);
        let mut bytes = vec![
            0x40 | ihl as u8,
            0,
            0,
            0,
            0,
            1,
            0,
            0,
            64,
            17,
            0,
            0,
            10,
            0,
            0,
            1,
            10,
            0,
            0,
            2,
        ];
        bytes.extend_from_slice(opts);
        bytes.resize(ihl * 4, 0);
        let total = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&total.to_be_bytes());
        Packet::new_checked(bytes).unwrap().bad_option()
    };
    assert_eq!(with(&[]), None);
    assert_eq!(with(&[1, 1, 1, 0]), None);
    // A record route of 7 bytes, then padding; junk after End of List.
    assert_eq!(with(&[7, 7, 4, 0, 0, 0, 0, 0]), None);
    assert_eq!(with(&[0, 99, 0, 0]), None);
    // Length 0 or 1, past the header, or missing.
    assert_eq!(with(&[1, 7, 0, 0]), Some(21));
    assert_eq!(with(&[7, 1, 0, 0]), Some(20));
    assert_eq!(with(&[1, 1, 7, 9]), Some(22));
    assert_eq!(with(&[1, 1, 1, 131]), Some(23));
}

#[test]
fn ping_of_death_rejected() {
    let mut bytes = packet_bytes();
    {
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_frag(false, false, 65528);
        p.fill_checksum();
    }
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(Repr::parse(&p), Err(Error::Malformed));
}

#[test]
fn decrement_ttl_keeps_checksum_valid() {
    let mut bytes = packet_bytes();
    for _ in 0..70 {
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.decrement_ttl();
        assert!(Packet::new_unchecked(&bytes[..]).verify_checksum());
    }
}

#[test]
fn emit_then_parse() {
    let repr = Repr {
        src_addr: Ipv4Addr::new(192, 0, 2, 1),
        dst_addr: Ipv4Addr::new(198, 51, 100, 7),
        protocol: Protocol::Udp,
        payload_len: 12,
        ttl: 3,
        tos: 0x10,
        ident: 777,
        dont_frag: false,
        more_frags: true,
        frag_offset: 1480,
    };
    let mut bytes = vec![0u8; repr.buffer_len() + 12];
    repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(Repr::parse(&p).unwrap(), repr);
}

/// The reserved flag bit set is no reason to refuse a datagram (RFC 791
/// §3.1 asks only the sender for zero; Linux and FreeBSD take it).
#[test]
fn the_reserved_flag_bit_is_taken() {
    let mut bytes = vec![
        0x45, 0, 0, 28, 0, 1, 0x80, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    bytes.extend_from_slice(&[9; 8]);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.reserved_flag());
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(
        (repr.payload_len, repr.dont_frag, repr.more_frags),
        (8, false, false)
    );
    // What the stack sends from it has the bit clear.
    let mut out = [0xff; 28];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
    assert!(!Packet::new_checked(&out[..]).unwrap().reserved_flag());
}
