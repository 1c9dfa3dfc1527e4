use super::*;

/// Straightforward RFC 1071 reference: 16-bit words, 32-bit accumulator.
fn reference(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for pair in data.chunks(2) {
        let word = if pair.len() == 2 {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from_be_bytes([pair[0], 0])
        };
        acc += u32::from(word);
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[test]
fn rfc1071_example() {
    // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
    assert_eq!(
        data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
        0xddf2
    );
}

#[test]
fn wide_sum_matches_reference_for_every_length() {
    let bytes: Vec<u8> = (0..600u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for len in 0..bytes.len() {
        for start in 0..3.min(len + 1) {
            assert_eq!(
                data(&bytes[start..len]),
                reference(&bytes[start..len]),
                "len {len} start {start}"
            );
        }
    }
}

#[test]
fn all_ones_does_not_overflow() {
    // Half a megabyte with every word at its largest: lanes and folds carry.
    let bytes = vec![0xffu8; (1 << 19) + 77];
    assert_eq!(data(&bytes), reference(&bytes));
}

#[test]
fn incremental_update_matches_recomputation() {
    // A small "header": change each word in turn and compare with a full sum.
    let mut header = [0x45u8, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01];
    let mut checksum = !data(&header);
    for i in (0..header.len()).step_by(2) {
        let old = u16::from_be_bytes([header[i], header[i + 1]]);
        let new = old.wrapping_mul(31).wrapping_add(7);
        header[i..i + 2].copy_from_slice(&new.to_be_bytes());
        checksum = update_word(checksum, old, new);
        assert_eq!(checksum, !data(&header), "word {i}");
    }
}

#[test]
fn rfc1624_corner_case() {
    // RFC 1624 §3: a header whose sum becomes 0xffff must yield checksum 0x0000
    // only via eqn. 3 semantics; recomputation is the arbiter.
    let mut words = [0xcd7au16, 0x0000];
    let checksum = !fold(words.iter().map(|&w| u64::from(w)).sum());
    words[1] = 0x3285;
    let updated = update_word(checksum, 0x0000, 0x3285);
    assert_eq!(updated, !fold(words.iter().map(|&w| u64::from(w)).sum()));
}

#[test]
fn u32_update() {
    let mut buf = [10u8, 0, 1, 2, 10, 0, 2, 2, 0, 17, 0, 8];
    let c0 = !data(&buf);
    let old = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let new = u32::from(Ipv4Addr::new(192, 168, 7, 9));
    buf[..4].copy_from_slice(&new.to_be_bytes());
    assert_eq!(update_u32(c0, old, new), !data(&buf));
}

#[test]
fn copy_sum_copies_and_matches_sum() {
    let bytes: Vec<u8> = (0..700u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    for len in 0..bytes.len() {
        let src = &bytes[bytes.len() - len..];
        let mut dst = vec![0xa5u8; len];
        let s = copy_sum(&mut dst, src);
        assert_eq!(dst, src, "len {len}");
        assert_eq!(fold(s), reference(src), "len {len}");
    }
}

#[test]
fn pieces_at_odd_offsets_add_up_after_a_swap() {
    let bytes: Vec<u8> = (0..301u32).map(|i| (i * 37 + 11) as u8).collect();
    for cut in 0..bytes.len() {
        let (a, b) = bytes.split_at(cut);
        let sb = if cut % 2 == 1 {
            swap_odd(sum(b))
        } else {
            sum(b)
        };
        assert_eq!(fold(sum(a) + sb), reference(&bytes), "cut {cut}");
    }
}
