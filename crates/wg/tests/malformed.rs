//! Bytes from the network never panic the device and never get through.

mod common;

use common::*;
use proptest::prelude::*;
use tcplab_wg::{Entropy, SeededEntropy};

fn total_drops(p: &Pair) -> u64 {
    let s = p.b.stats();
    s.invalid_messages
        + s.bad_mac1
        + s.invalid_handshakes
        + s.unknown_index
        + s.decrypt_failures
        + s.replayed_packets
        + s.invalid_cookie_replies
        + s.replayed_initiations
}

#[test]
fn every_length_and_type_is_dropped_and_counted() {
    let mut p = established_pair();
    let delivered = p.b_delivered.len();
    let mut fed = 0u64;
    for len in 0..200usize {
        for ty in 0u8..=5 {
            for fill in [0x00u8, 0xff, 0x5a] {
                let mut d = vec![fill; len];
                if let Some(b) = d.first_mut() {
                    *b = ty;
                }
                if len >= 4 && fill == 0xff {
                    d[1..4].fill(0);
                }
                p.inject(Side::B, A_ADDR, &d);
                fed += 1;
            }
        }
    }
    assert_eq!(total_drops(&p), fed);
    assert_eq!(p.b_delivered.len(), delivered);
}

#[test]
fn seeded_random_datagrams_never_panic() {
    let mut p = established_pair();
    let mut e = SeededEntropy::new(2024);
    for _ in 0..5000 {
        let mut len = [0u8; 1];
        e.fill(&mut len);
        let mut d = vec![0u8; usize::from(len[0])];
        e.fill(&mut d);
        // Bias towards valid type words so the deeper parsers are reached.
        if d.len() >= 4 && d[1] & 1 == 0 {
            d[0] = 1 + d[0] % 4;
            d[1..4].fill(0);
        }
        p.inject(Side::B, A_ADDR, &d);
        p.inject(Side::A, B_ADDR, &d);
    }
    assert_eq!(p.b_delivered.len(), 1);
}

#[test]
fn every_single_bit_flip_of_real_messages_is_refused() {
    let p = established_pair();
    let real: Vec<Vec<u8>> = p.log.iter().map(|w| w.datagram.clone()).collect();
    for msg in real {
        for i in 0..msg.len() {
            for bit in 0..8 {
                let mut q = established_pair();
                let before = q.b_delivered.len();
                let mut bad = msg.clone();
                bad[i] ^= 1 << bit;
                q.inject(Side::B, A_ADDR, &bad);
                q.inject(Side::A, B_ADDR, &bad);
                assert_eq!(q.b_delivered.len(), before);
                assert!(q.a_delivered.is_empty());
            }
        }
    }
}

fn established_pair() -> Pair {
    let mut p = Pair::new(PairConfig::default());
    p.send(Side::A, &a_to_b(b"hello"));
    assert_eq!(p.b_delivered.len(), 1);
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn arbitrary_datagrams_are_harmless(ty in 0u8..6, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut p = established_pair();
        let mut d = vec![ty, 0, 0, 0];
        d.extend(body);
        p.inject(Side::B, A_ADDR, &d);
        p.inject(Side::A, B_ADDR, &d);
        prop_assert_eq!(p.b_delivered.len(), 1);
        prop_assert!(p.a_delivered.is_empty());
    }
}
