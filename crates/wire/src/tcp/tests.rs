use super::*;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

// A SYN as Linux sends it: mss 1460, sackOK, TS, nop, wscale 7.
static SYN: [u8; 40] = [
    0xc0, 0x00, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
];

#[test]
fn parse_linux_syn() {
    let p = Packet::new_checked(&SYN[..]).unwrap();
    let r = Repr::parse(&p).unwrap();
    assert_eq!(r.src_port, 49152);
    assert_eq!(r.dst_port, 80);
    assert_eq!(r.seq_number, SeqNumber(0x12345678));
    assert_eq!(r.flags, Flags::SYN);
    assert_eq!(r.window_len, 64240);
    assert_eq!(r.max_seg_size, Some(1460));
    assert!(r.sack_permitted);
    assert_eq!(r.timestamp, Some(Timestamp { tsval: 1, tsecr: 0 }));
    assert_eq!(r.window_scale, Some(7));
    assert_eq!(r.segment_len(), 1);
    // Emitting gives the same bytes Linux sent.
    let mut out = vec![0u8; r.buffer_len()];
    r.emit_header(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out[..], &SYN[..]);
    let mut s = String::new();
    write_options(&mut s, p.options()).unwrap();
    assert_eq!(s, "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7");
}

#[test]
fn unknown_options_kept() {
    let mut r = Repr::new(1, 2, Flags::ACK, SeqNumber(5), SeqNumber(9));
    r.unknown_options.push((30, &[1, 2, 3, 4]));
    r.unknown_options.push((253, &[]));
    r.payload = b"data";
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut Packet::new_unchecked(&mut out[..]), SRC, DST);
    let p = Packet::new_checked(&out[..]).unwrap();
    assert!(p.verify_checksum(SRC, DST));
    assert_eq!(Repr::parse(&p).unwrap(), r);
}

#[test]
fn bad_option_lengths() {
    let mut seg = SYN;
    seg[21] = 1; // MSS with length 1
    assert_eq!(
        Repr::parse(&Packet::new_checked(&seg[..]).unwrap()),
        Err(Error::Malformed)
    );
    let mut seg = SYN;
    seg[21] = 0; // length 0: cannot be skipped
    assert_eq!(
        Repr::parse(&Packet::new_checked(&seg[..]).unwrap()),
        Err(Error::Malformed)
    );
    let mut seg = SYN;
    seg[39] = 0x07;
    seg[38] = 200; // an unknown option running past the header
    seg[37] = 99;
    assert!(Repr::parse(&Packet::new_checked(&seg[..]).unwrap()).is_err());
}

#[test]
fn header_length_checked() {
    let mut seg = SYN;
    seg[12] = 0x40; // data offset 4 (16 bytes)
    assert_eq!(Packet::new_checked(&seg[..]).unwrap_err(), Error::Malformed);
    seg[12] = 0xf0; // 60 bytes, buffer has 40
    assert_eq!(Packet::new_checked(&seg[..]).unwrap_err(), Error::Truncated);
    assert_eq!(
        Packet::new_checked(&SYN[..19]).unwrap_err(),
        Error::Truncated
    );
}

#[test]
fn every_flag() {
    let all = Flags(0x1ff);
    let mut r = Repr::new(1, 2, all, SeqNumber(1), SeqNumber(2));
    r.urgent_pointer = 77;
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut Packet::new_unchecked(&mut out[..]), SRC, DST);
    let parsed = Repr::parse(&Packet::new_checked(&out[..]).unwrap()).unwrap();
    assert_eq!(parsed.flags, all);
    assert_eq!(all.to_string(), "FSRP.UEWA");
    assert_eq!((Flags::SYN | Flags::ACK).to_string(), "S.");
    assert_eq!(Flags::NONE.to_string(), "none");
}

#[test]
fn sack_blocks() {
    let mut r = Repr::new(1000, 2000, Flags::ACK, SeqNumber(1), SeqNumber(100));
    r.sack_ranges = [Some((200, 300)), Some((400, 500)), Some((600, 700)), None];
    r.timestamp = Some(Timestamp { tsval: 9, tsecr: 8 });
    let mut out = vec![0u8; r.buffer_len()];
    r.emit(&mut Packet::new_unchecked(&mut out[..]), SRC, DST);
    let p = Packet::new_checked(&out[..]).unwrap();
    assert_eq!(Repr::parse(&p).unwrap(), r);
    let mut s = String::new();
    write_options(&mut s, p.options()).unwrap();
    assert_eq!(
        s,
        "nop,nop,TS val 9 ecr 8,nop,nop,sack 3 {200:300} {400:500} {600:700}"
    );
}
