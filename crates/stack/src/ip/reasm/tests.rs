use super::*;
use crate::ip::fragment;

fn datagram(len: usize, ident: u16) -> Vec<u8> {
    let repr = ipv4::Repr {
        src_addr: Ipv4Addr::new(10, 0, 1, 2),
        dst_addr: Ipv4Addr::new(10, 0, 2, 2),
        protocol: Protocol::Udp,
        payload_len: len,
        ttl: 64,
        tos: 0,
        ident,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20 + len];
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    for (i, x) in b[20..].iter_mut().enumerate() {
        *x = (i * 7) as u8;
    }
    b
}

fn reasm() -> Reassembler {
    Reassembler::new(Duration::from_secs(30), 1 << 20, 16)
}

fn add(r: &mut Reassembler, now: Instant, bytes: &[u8]) -> ReassemblyOutcome {
    r.add(now, &ipv4::Packet::new_checked(bytes).unwrap())
}

#[test]
fn in_order_and_reversed() {
    let d = datagram(3000, 1);
    let frags = fragment(&d, 576).unwrap();
    for order in [false, true] {
        let mut r = reasm();
        let mut fs = frags.clone();
        if order {
            fs.reverse();
        }
        let n = fs.len();
        for (i, f) in fs.iter().enumerate() {
            let out = add(&mut r, Instant::ZERO, f);
            if i + 1 < n {
                assert_eq!(out, ReassemblyOutcome::Held);
            } else {
                assert_eq!(out, ReassemblyOutcome::Complete(d.clone()));
            }
        }
        assert_eq!(r.held_bytes(), 0);
        assert!(r.is_empty());
    }
}

#[test]
fn exact_duplicate_dropped_alone() {
    let d = datagram(1000, 2);
    let frags = fragment(&d, 576).unwrap();
    let mut r = reasm();
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[0]),
        ReassemblyOutcome::Held
    );
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[0]),
        ReassemblyOutcome::Duplicate
    );
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[1]),
        ReassemblyOutcome::Complete(d)
    );
}

/// A duplicate of a fragment already merged with its neighbours (a
/// duplicating link) is dropped alone, in any arrival order: the datagram
/// still completes.
#[test]
fn duplicates_of_merged_fragments_dropped_alone() {
    let d = datagram(2900, 4);
    let frags = fragment(&d, 1000).unwrap();
    assert_eq!(frags.len(), 3);
    for order in [
        [0, 1, 1, 2],
        [1, 2, 2, 0],
        [0, 2, 1, 1],
        [2, 1, 0, 1],
        [0, 0, 1, 2],
        [1, 0, 2, 0],
    ] {
        let mut r = reasm();
        let mut complete = None;
        for (k, &i) in order.iter().enumerate() {
            match add(&mut r, Instant::ZERO, &frags[i]) {
                ReassemblyOutcome::Complete(x) => complete = Some(x),
                ReassemblyOutcome::Held | ReassemblyOutcome::Duplicate => {}
                other => panic!("{order:?}: fragment {k}: {other:?}"),
            }
        }
        assert_eq!(complete.as_ref(), Some(&d), "{order:?}");
    }
}

/// An empty last fragment at the end of what is held is no duplicate to
/// ignore (it would leave the datagram waiting): the datagram goes, as
/// Linux discards it.
#[test]
fn an_empty_fragment_discards_the_datagram() {
    let d = datagram(2900, 5);
    let frags = fragment(&d, 1000).unwrap();
    let mut r = reasm();
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[0]),
        ReassemblyOutcome::Held
    );
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[1]),
        ReassemblyOutcome::Held
    );
    // frags[2] with its payload cut off: offset 1952, MF clear, no data.
    let mut empty = frags[2][..20].to_vec();
    let mut p = ipv4::Packet::new_unchecked(&mut empty[..]);
    p.set_total_len(20);
    p.fill_checksum();
    assert!(matches!(
        add(&mut r, Instant::ZERO, &empty),
        ReassemblyOutcome::Discarded(_)
    ));
    assert!(r.is_empty());
}

#[test]
fn overlap_discards_the_datagram() {
    let d = datagram(1000, 3);
    let frags = fragment(&d, 576).unwrap();
    // A forged fragment overlapping the first one's tail.
    let mut forged = fragment(&d, 300).unwrap()[1].clone();
    assert_eq!(
        ipv4::Packet::new_checked(&forged[..])
            .unwrap()
            .frag_offset(),
        280
    );
    forged[30] ^= 0xff;
    let mut p = ipv4::Packet::new_unchecked(&mut forged[..]);
    p.fill_checksum();
    let mut r = reasm();
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[0]),
        ReassemblyOutcome::Held
    );
    assert_eq!(
        add(&mut r, Instant::ZERO, &forged),
        ReassemblyOutcome::Discarded(Discard::Overlap)
    );
    assert!(r.is_empty());
    // The rest of the original then starts a new, incomplete datagram.
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[1]),
        ReassemblyOutcome::Held
    );
}

#[test]
fn conflicting_last_fragments() {
    let d = datagram(1000, 4);
    let frags = fragment(&d, 576).unwrap();
    let short = datagram(600, 4);
    let short_frags = fragment(&short, 576).unwrap();
    let mut r = reasm();
    assert_eq!(
        add(&mut r, Instant::ZERO, &frags[1]),
        ReassemblyOutcome::Held
    );
    assert_eq!(
        add(&mut r, Instant::ZERO, &short_frags[1]),
        ReassemblyOutcome::Discarded(Discard::Inconsistent)
    );
}

#[test]
fn non_final_fragment_must_be_multiple_of_eight() {
    let mut d = datagram(100, 5);
    let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
    p.set_frag(false, true, 0);
    p.set_total_len(20 + 13);
    p.fill_checksum();
    let mut r = reasm();
    assert_eq!(
        add(&mut r, Instant::ZERO, &d[..33]),
        ReassemblyOutcome::Discarded(Discard::BadLength)
    );
}

#[test]
fn timeout_quotes_fragment_zero() {
    let d = datagram(1000, 6);
    let frags = fragment(&d, 576).unwrap();
    let mut r = reasm();
    add(&mut r, Instant::ZERO, &frags[0]);
    assert_eq!(r.poll_at(), Some(Instant::from_secs(30)));
    assert!(r.expire(Instant::from_secs(29)).is_empty());
    let expired = r.expire(Instant::from_secs(30));
    assert_eq!(expired.len(), 1);
    // Fragment zero's header and all of its data that arrived (552
    // bytes here), as Linux quotes it; the ICMP layer cuts the error to
    // 576 bytes.
    let quote = expired[0].quote.as_ref().unwrap();
    assert_eq!(quote.len(), 20 + 552);
    assert_eq!(&quote[20..], &d[20..572]);
    assert_eq!(r.held_bytes(), 0);

    // Without fragment zero there is nothing to quote: no ICMP is sent.
    add(&mut r, Instant::ZERO, &frags[1]);
    assert_eq!(r.expire(Instant::from_secs(60))[0].quote, None);
}

#[test]
fn memory_is_bounded_and_oldest_evicted() {
    let mut r = Reassembler::new(Duration::from_secs(30), 100_000, 8);
    for ident in 0..1000u16 {
        let d = datagram(1400, ident);
        let f = fragment(&d, 576).unwrap();
        add(&mut r, Instant::ZERO, &f[0]);
        assert!(r.len() <= 8);
        assert!(r.held_bytes() <= 100_000);
    }
    assert!(r.evicted >= 992);
    // The newest datagram survives and can complete.
    let d = datagram(1400, 999);
    let f = fragment(&d, 576).unwrap();
    add(&mut r, Instant::ZERO, &f[1]);
    assert_eq!(
        add(&mut r, Instant::ZERO, &f[2]),
        ReassemblyOutcome::Complete(d)
    );
}

#[test]
fn huge_datagram_bounded() {
    // Fragments claiming data beyond 65535 bytes are refused.
    let mut d = datagram(16, 7);
    let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
    p.set_frag(false, true, 65528);
    p.fill_checksum();
    let mut r = reasm();
    // wire's Repr::parse would already reject this; the reassembler, given
    // only a checked packet, refuses it too.
    assert_eq!(
        add(&mut r, Instant::ZERO, &d),
        ReassemblyOutcome::Discarded(Discard::Inconsistent)
    );
}

/// A fragment `len` bytes long at `offset`, with a header of `header`
/// bytes (options as NOPs).
fn fragment_with_header(header: usize, offset: u16, more: bool, len: usize) -> Vec<u8> {
    let mut b = vec![1u8; header + len];
    b[0] = 0x40 | (header / 4) as u8;
    b[8] = 64;
    b[9] = u8::from(Protocol::Udp);
    b[4..6].copy_from_slice(&9u16.to_be_bytes());
    b[12..16].copy_from_slice(&[10, 0, 1, 2]);
    b[16..20].copy_from_slice(&[10, 0, 2, 2]);
    let mut p = ipv4::Packet::new_unchecked(&mut b[..]);
    p.set_total_len((header + len) as u16);
    p.set_frag(false, more, offset);
    p.fill_checksum();
    b
}

/// Each fragment fits in 65,535 bytes with its own header, but the whole
/// does not with fragment zero's (60 bytes, options): the datagram is
/// discarded rather than given a wrapped total length (Linux's
/// ip_frag_reasm, "Oversized IP packet").
#[test]
fn a_datagram_too_long_with_fragment_zeros_header_is_discarded() {
    let first = fragment_with_header(60, 0, true, 65_472);
    let last = fragment_with_header(20, 65_472, false, 43);
    let mut r = reasm();
    assert_eq!(add(&mut r, Instant::ZERO, &first), ReassemblyOutcome::Held);
    assert_eq!(
        add(&mut r, Instant::ZERO, &last),
        ReassemblyOutcome::Discarded(Discard::Inconsistent)
    );
    assert!(r.is_empty());
    assert_eq!(r.held_bytes(), 0);
    // With a 20-byte header first, the same fragments make 65,535 bytes.
    let first = fragment_with_header(20, 0, true, 65_472);
    assert_eq!(add(&mut r, Instant::ZERO, &first), ReassemblyOutcome::Held);
    match add(&mut r, Instant::ZERO, &last) {
        ReassemblyOutcome::Complete(d) => {
            assert_eq!(d.len(), 65_535);
            let p = ipv4::Packet::new_checked(&d[..]).unwrap();
            assert_eq!(p.total_len(), 65_535);
        }
        other => panic!("{other:?}"),
    }
}
