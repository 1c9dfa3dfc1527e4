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

/// Options read as Linux and BSD read them: a length that cannot be
/// skipped ends the options (those before it kept), a known option of the
/// wrong length is passed over; the segment is kept either way.
#[test]
fn bad_option_lengths() {
    fn parse(seg: &[u8]) -> Repr<'_> {
        Repr::parse(&Packet::new_checked(seg).unwrap()).unwrap()
    }
    for len in [0, 1] {
        // The MSS option's length: nothing can be read past it.
        let mut seg = SYN;
        seg[21] = len;
        let r = parse(&seg);
        assert_eq!(r.flags, Flags::SYN);
        assert_eq!(
            (
                r.max_seg_size,
                r.sack_permitted,
                r.timestamp,
                r.window_scale
            ),
            (None, false, None, None)
        );
    }
    // An unknown option running past the header ends the list there.
    let mut seg = SYN;
    seg[37] = 99;
    seg[38] = 200;
    let r = parse(&seg);
    assert_eq!((r.max_seg_size, r.window_scale), (Some(1460), None));
    assert!(r.sack_permitted && r.timestamp.is_some());
    // Window scale of length 2 is passed over (and the byte after it,
    // a kind with no length, ends the list).
    let mut seg = SYN;
    seg[38] = 2;
    let r = parse(&seg);
    assert_eq!((r.max_seg_size, r.window_scale), (Some(1460), None));
    // SACK-permitted of length 3 is passed over, what follows is read.
    let mut seg = SYN;
    seg[25] = 3;
    seg[27] = 1; // what was the timestamp's length byte is now skipped...
    let r = parse(&seg);
    assert!(!r.sack_permitted);
    assert_eq!(r.max_seg_size, Some(1460));
    // A SACK option that is not whole blocks is passed over.
    let mut seg = SYN;
    seg[24..26].copy_from_slice(&[5, 2]); // SACK with no blocks
    let r = parse(&seg);
    assert_eq!(r.sack_ranges, [None; 4]);
    assert!(r.timestamp.is_some());
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
        "nop,nop,TS val 9 ecr 8,nop,nop,sack 3 {200:300}{400:500}{600:700}"
    );
}

/// The options of `r` as emitted, after the fixed header.
fn emitted_options(r: &Repr<'_>) -> Vec<u8> {
    let mut out = vec![0u8; r.buffer_len()];
    r.emit_header(&mut Packet::new_unchecked(&mut out[..]));
    out[HEADER_LEN..r.header_len()].to_vec()
}

#[test]
fn bsd_layout_as_freebsd_sends_it() {
    // An active SYN: <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>.
    let mut r = Repr::new(49152, 8080, Flags::SYN, SeqNumber(1), SeqNumber(0));
    r.layout = OptionLayout::Bsd;
    r.max_seg_size = Some(1460);
    r.window_scale = Some(6);
    r.sack_permitted = true;
    r.timestamp = Some(Timestamp {
        tsval: 100,
        tsecr: 0,
    });
    assert_eq!(
        emitted_options(&r),
        [2, 4, 5, 180, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0]
    );
    // A SYN-ACK to <mss,sackOK>: <mss 1460,sackOK,eol,eol>.
    let mut r = Repr::new(
        8080,
        49152,
        Flags::SYN | Flags::ACK,
        SeqNumber(1),
        SeqNumber(1),
    );
    r.layout = OptionLayout::Bsd;
    r.max_seg_size = Some(1460);
    r.sack_permitted = true;
    assert_eq!(emitted_options(&r), [2, 4, 5, 180, 4, 2, 0, 0]);
    // An ACK with SACK blocks: <nop,nop,sack a:b>.
    let mut r = Repr::new(8080, 49152, Flags::ACK, SeqNumber(1), SeqNumber(100));
    r.layout = OptionLayout::Bsd;
    r.sack_ranges = [Some((200, 300)), None, None, None];
    assert_eq!(
        emitted_options(&r),
        [1, 1, 5, 10, 0, 0, 0, 200, 0, 0, 1, 44]
    );
}

#[test]
fn bsd_layout_round_trips_and_says_when_it_does_not_fit() {
    let blocks = [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))];
    for ts in [None, Some(Timestamp { tsval: 7, tsecr: 9 })] {
        for n in 0..=4 {
            let mut r = Repr::new(1, 2, Flags::ACK, SeqNumber(1), SeqNumber(2));
            r.layout = OptionLayout::Bsd;
            r.timestamp = ts;
            for (i, b) in blocks.iter().take(n).enumerate() {
                r.sack_ranges[i] = *b;
            }
            // Three blocks fit beside TSopt, four without; more is the
            // caller's error, as with Linux's layout.
            let room = if ts.is_some() { 3 } else { 4 };
            assert_eq!(r.options_fit(), n <= room, "{n} blocks, ts {ts:?}");
            assert!(r.header_len() <= MAX_HEADER_LEN);
            if n > room {
                continue;
            }
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut out[..]), SRC, DST);
            let back = Repr::parse(&Packet::new_checked(&out[..]).unwrap()).unwrap();
            assert_eq!(back.timestamp, ts);
            assert_eq!(back.sack_ranges, r.sack_ranges, "{n} blocks, ts {ts:?}");
        }
    }
}
