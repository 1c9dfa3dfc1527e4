//! Known-answer tests for the construction. The expected values were
//! computed independently with Python's `hashlib.blake2s`, `hmac` and the
//! `cryptography` package (OpenSSL's X25519 and ChaCha20-Poly1305), composing
//! the primitives as paper §5.4 describes; RFC 7748 §6.1 gives the X25519 pair.

use std::time::Duration;

use crate::cookie::{CookieChecker, CookieGenerator};
use crate::crypto::{aead_open, aead_seal, hash, hmac, kdf, mac};
use crate::keys::{PrivateKey, PublicKey};
use crate::messages::{padding_len, transport_header, Initiation, Message, Response};
use crate::noise::{self, tai64n, Identity, CONSTRUCTION, IDENTIFIER};
use crate::replay::{ReplayWindow, WINDOW_SIZE};
use crate::timers::REJECT_AFTER_MESSAGES;
use tcplab_base::Instant;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vector is hex"))
        .collect()
}

fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32-byte vector")
}

const ALICE_PRIV: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUB: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIV: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUB: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

#[test]
fn rfc7748_public_keys() {
    let alice = PrivateKey::from_bytes(hex32(ALICE_PRIV));
    let bob = PrivateKey::from_bytes(hex32(BOB_PRIV));
    assert_eq!(alice.public_key().as_bytes(), &hex32(ALICE_PUB));
    assert_eq!(bob.public_key().as_bytes(), &hex32(BOB_PUB));
    let shared = alice
        .secret()
        .diffie_hellman(&x25519_dalek::PublicKey::from(hex32(BOB_PUB)));
    assert_eq!(
        shared.as_bytes(),
        &hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    );
}

#[test]
fn initial_chaining_key_and_hash() {
    // The well-known starting values every WireGuard implementation shares.
    let ck = hash(&[CONSTRUCTION]);
    assert_eq!(
        ck,
        hex32("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
    );
    let h = hash(&[&ck, IDENTIFIER]);
    assert_eq!(
        h,
        hex32("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
    );
}

#[test]
fn keyed_blake2s_128_and_hmac_blake2s() {
    let k32: Vec<u8> = (0..32).collect();
    let k16: Vec<u8> = (0..16).collect();
    assert_eq!(
        mac(&k32, &[b"abc"]).to_vec(),
        hex("61ba5f165c194692e09d12520cc4c74a")
    );
    assert_eq!(
        mac(&k16, &[b"a", b"bc"]).to_vec(),
        hex("75296c2d2c0f51210b383f386bc8b1ff")
    );
    assert_eq!(
        hmac(&k32, &[b"abc"]),
        hex32("82623be5bc0a391b24dce53e67d028eff92d586de0485ac37822e597d049c74f")
    );
}

#[test]
fn kdf_is_hkdf_over_hmac_blake2s() {
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let [t1, t2, t3] = kdf::<3>(&key, b"abc");
    assert_eq!(
        t1,
        hex32("c67e0b211ebf48c12c6d41da8fcee207d4c325a8c30f054d97401b14ed212f9f")
    );
    assert_eq!(
        t2,
        hex32("923b032867c597d1df124053325e553b104bf3b76180a46e0c21b44001ec50f6")
    );
    assert_eq!(
        t3,
        hex32("73e5eae9c5d230ea6becb29ab8a49f627aff1eb27586b938a71ae090d4c7a184")
    );
    let [u1, u2] = kdf::<2>(&key, b"abc");
    assert_eq!((u1, u2), (t1, t2));
}

#[test]
fn tai64n_layout() {
    assert_eq!(
        tai64n(Duration::ZERO).to_vec(),
        hex("400000000000000a00000000")
    );
    // Nanoseconds are whitened to multiples of 2^24.
    let t = tai64n(Duration::new(1, 0x0123_4567));
    assert_eq!(t.to_vec(), hex("400000000000000b01000000"));
}

const INITIATION: &str = "0100000044332211a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209457e11eb0b14db8417238a3d2ca5a887cd1012116a77756266543a44f8eb51ec2b17a88b2608516243e17708f4cb64f21be74212f3309161db4dc78eeab9daba48e43e4e4c3a6d052dbd4f90bd696987665e14647989ca29a2aed88c00000000000000000000000000000000";
const RESPONSE: &str = "020000008877665544332211ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59ba029d35356e8460ea41fc08080ee107d63a6ed8cc7fd6138e4b9e7dff0aff1200000000000000000000000000000000";
const TRANSPORT: &str = "04000000887766550000000000000000f0f7922245a1242b058601e34d77fa5c0acf653b683f7adc273425c39111566dda43cdcc99d5c87a021f37745e685d6f";

/// Paper §5.4.2–§5.4.6 end to end with fixed keys, ephemerals, indices, a
/// preshared key and timestamp, against an independent computation.
#[test]
fn full_handshake_known_answer() {
    let alice = Identity::new(PrivateKey::from_bytes(hex32(ALICE_PRIV)));
    let bob = Identity::new(PrivateKey::from_bytes(hex32(BOB_PRIV)));
    let psk = [3u8; 32];
    let now = Instant::ZERO;

    let (mut init, state) = noise::create_initiation(
        &alice,
        &bob.public,
        0x1122_3344,
        [1; 32],
        tai64n(Duration::ZERO),
    )
    .expect("valid keys");
    CookieGenerator::new(&bob.public).add_macs(&mut init, now);
    assert_eq!(init.to_vec(), hex(INITIATION));

    let Ok(Message::Initiation(view)) = Message::parse(&init) else {
        panic!("initiation parses");
    };
    assert!(CookieChecker::new(&bob.public).check_mac1(view.bytes()));
    let consumed = noise::consume_initiation(&bob, &view).expect("bob accepts");
    assert_eq!(consumed.peer, alice.public);
    assert_eq!(consumed.timestamp, tai64n(Duration::ZERO));

    let (mut resp, bob_keys) =
        noise::create_response(&consumed, &psk, 0x5566_7788, [2; 32]).expect("valid keys");
    CookieGenerator::new(&alice.public).add_macs(&mut resp, now);
    assert_eq!(resp.to_vec(), hex(RESPONSE));

    let Ok(Message::Response(view)) = Message::parse(&resp) else {
        panic!("response parses");
    };
    let alice_keys = noise::consume_response(&state, &alice, &psk, &view).expect("alice accepts");
    assert_eq!(*alice_keys.send, *bob_keys.recv);
    assert_eq!(*alice_keys.recv, *bob_keys.send);

    let packet: Vec<u8> = (0..20).collect();
    let mut padded = packet.clone();
    padded.resize(20 + padding_len(20, 1420), 0);
    let mut datagram = transport_header(0x5566_7788, 0).to_vec();
    datagram.extend(aead_seal(&alice_keys.send, 0, &padded, &[]));
    assert_eq!(datagram, hex(TRANSPORT));
    let opened = aead_open(&bob_keys.recv, 0, &datagram[16..], &[]).expect("opens");
    assert_eq!(opened, padded);
}

#[test]
fn wrong_psk_fails_response() {
    let alice = Identity::new(PrivateKey::from_bytes(hex32(ALICE_PRIV)));
    let bob = Identity::new(PrivateKey::from_bytes(hex32(BOB_PRIV)));
    let (init, state) =
        noise::create_initiation(&alice, &bob.public, 1, [1; 32], tai64n(Duration::ZERO))
            .expect("keys");
    let view = match Message::parse(&init) {
        Ok(Message::Initiation(v)) => v,
        _ => panic!("parses"),
    };
    let consumed = noise::consume_initiation(&bob, &view).expect("accepts");
    let (resp, _) = noise::create_response(&consumed, &[9; 32], 2, [2; 32]).expect("keys");
    let view: Response<'_> = match Message::parse(&resp) {
        Ok(Message::Response(v)) => v,
        _ => panic!("parses"),
    };
    assert!(noise::consume_response(&state, &alice, &[0; 32], &view).is_none());
}

#[test]
fn initiation_to_someone_else_does_not_decrypt() {
    let alice = Identity::new(PrivateKey::from_bytes(hex32(ALICE_PRIV)));
    let bob = Identity::new(PrivateKey::from_bytes(hex32(BOB_PRIV)));
    let carol = Identity::new(PrivateKey::from_bytes([7; 32]));
    let (init, _) =
        noise::create_initiation(&alice, &bob.public, 1, [1; 32], tai64n(Duration::ZERO))
            .expect("keys");
    let view: Initiation<'_> = match Message::parse(&init) {
        Ok(Message::Initiation(v)) => v,
        _ => panic!("parses"),
    };
    assert!(!CookieChecker::new(&carol.public).check_mac1(&init));
    assert!(noise::consume_initiation(&carol, &view).is_none());
}

#[test]
fn low_order_peer_key_is_refused() {
    let alice = Identity::new(PrivateKey::from_bytes(hex32(ALICE_PRIV)));
    let zero = PublicKey::from_bytes([0; 32]);
    assert!(noise::create_initiation(&alice, &zero, 1, [1; 32], tai64n(Duration::ZERO)).is_none());
}

#[test]
fn replay_window_rfc6479() {
    let mut w = ReplayWindow::default();
    let limit = REJECT_AFTER_MESSAGES;
    assert!(w.check_and_update(0, limit));
    assert!(!w.check_and_update(0, limit));
    assert!(w.check_and_update(5, limit));
    assert!(
        w.check_and_update(3, limit),
        "older but unseen, inside window"
    );
    assert!(!w.check_and_update(3, limit));
    assert!(w.check_and_update(10_000, limit));
    assert!(
        w.check_and_update(10_000 - WINDOW_SIZE, limit),
        "exactly at the window's edge"
    );
    assert!(
        !w.check_and_update(10_000 - WINDOW_SIZE - 1, limit),
        "behind the window"
    );
    assert!(!w.check_and_update(5, limit));
    // A jump far ahead clears everything in between.
    assert!(w.check_and_update(1_000_000, limit));
    assert!(w.check_and_update(1_000_000 - 64, limit));
    assert!(!w.check_and_update(limit, limit));
    assert!(w.check_and_update(limit - 1, limit));
}

#[test]
fn replay_window_every_counter_once() {
    let mut w = ReplayWindow::default();
    for c in (0..20_000u64)
        .rev()
        .step_by(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        assert!(w.check_and_update(c, REJECT_AFTER_MESSAGES));
        assert!(!w.check_and_update(c, REJECT_AFTER_MESSAGES));
    }
}

#[test]
fn padding_as_reference() {
    assert_eq!(padding_len(0, 1420), 0);
    assert_eq!(padding_len(1, 1420), 15);
    assert_eq!(padding_len(16, 1420), 0);
    assert_eq!(padding_len(84, 1420), 12);
    assert_eq!(padding_len(1419, 1420), 1);
    assert_eq!(padding_len(1415, 1420), 5, "never beyond the MTU");
    assert_eq!(padding_len(1420, 1420), 0);
    assert_eq!(padding_len(20, 0), 12);
}

#[test]
fn message_parse_lengths() {
    for len in 0..200usize {
        for ty in 0u8..6 {
            let mut d = vec![0u8; len];
            if let Some(b) = d.first_mut() {
                *b = ty;
            }
            let parsed = Message::parse(&d);
            let ok = matches!((ty, len), (1, 148) | (2, 92) | (3, 64) | (4, 32..));
            assert_eq!(parsed.is_ok(), ok, "type {ty} len {len}");
        }
    }
    let mut d = vec![0u8; 148];
    d[0] = 1;
    d[2] = 1;
    assert!(Message::parse(&d).is_err(), "reserved bytes must be zero");
}
