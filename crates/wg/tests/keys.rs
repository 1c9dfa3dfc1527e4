//! Key text round trips, `wg`-compatible generation, peer configuration errors.

use std::process::{Command, Stdio};

use std::io::Write as _;

use tcplab_wg::{
    AddPeerError, AllowedIp, Device, KeyParseError, PeerConfig, PresharedKey, PrivateKey,
    PublicKey, SeededEntropy,
};

// RFC 7748 §6.1, Alice's key pair, in wg's base64.
const ALICE_PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
const ALICE_PUB: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

#[test]
fn rfc7748_pair_in_base64() {
    let k: PrivateKey = ALICE_PRIV.parse().expect("valid");
    assert_eq!(k.public_key().to_string(), ALICE_PUB);
    assert_eq!(k.to_string(), ALICE_PRIV);
    let p: PublicKey = ALICE_PUB.parse().expect("valid");
    assert_eq!(p, k.public_key());
}

#[test]
fn generated_keys_round_trip_and_are_clamped() {
    let mut e = SeededEntropy::new(7);
    for _ in 0..50 {
        let k = PrivateKey::generate(&mut e);
        let b = k.as_bytes();
        assert_eq!(b[0] & 7, 0);
        assert_eq!(b[31] & 0xc0, 0x40);
        let text = k.to_string();
        assert_eq!(text.len(), 44);
        assert!(text.ends_with('='));
        assert_eq!(text.parse::<PrivateKey>().expect("round trip"), k);
        let psk = PresharedKey::generate(&mut e);
        assert_eq!(
            psk.to_string().parse::<PresharedKey>().expect("round trip"),
            psk
        );
    }
}

#[test]
fn parse_errors_say_what_is_wrong() {
    assert_eq!("abc".parse::<PublicKey>(), Err(KeyParseError::WrongLength));
    assert_eq!(
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=".parse::<PublicKey>(),
        Err(KeyParseError::NotBase64)
    );
    // 44 characters without padding decode to 33 bytes.
    assert_eq!(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".parse::<PublicKey>(),
        Err(KeyParseError::WrongDecodedLength)
    );
    assert_eq!(
        KeyParseError::WrongLength.to_string(),
        "key is not 44 base64 characters"
    );
    assert_eq!(
        KeyParseError::WrongDecodedLength.to_string(),
        "key does not decode to 32 bytes"
    );
    // Debug never shows a secret.
    let k: PrivateKey = ALICE_PRIV.parse().expect("valid");
    assert!(!format!("{k:?}").contains(ALICE_PRIV));
}

#[test]
fn allowed_ip_parsing() {
    let ip: AllowedIp = "10.0.0.77/24".parse().expect("valid");
    assert_eq!(ip.to_string(), "10.0.0.0/24");
    assert!(ip.contains("10.0.0.200".parse().expect("addr")));
    assert!(!ip.contains("10.0.1.1".parse().expect("addr")));
    assert_eq!("10.1.2.3".parse::<AllowedIp>().expect("bare").prefix, 32);
    assert!("0.0.0.0/0"
        .parse::<AllowedIp>()
        .expect("default")
        .contains("1.2.3.4".parse().expect("addr")));
    assert!("10.0.0.0/33".parse::<AllowedIp>().is_err());
    assert!("fe80::/64".parse::<AllowedIp>().is_err());
}

#[test]
fn add_peer_refuses_duplicates_and_self() {
    let mut e = SeededEntropy::new(1);
    let own = PrivateKey::generate(&mut e);
    let other = PrivateKey::generate(&mut e).public_key();
    let own_pub = own.public_key();
    let mut d = Device::new(own, Box::new(SeededEntropy::new(2)));
    assert_eq!(
        d.add_peer(PeerConfig::new(own_pub)).err(),
        Some(AddPeerError::OwnPublicKey)
    );
    let mut first = PeerConfig::new(other);
    first.allowed_ips = vec!["10.0.0.0/24".parse().expect("valid")];
    assert!(d.add_peer(first).is_ok());
    assert_eq!(
        d.add_peer(PeerConfig::new(other)).err(),
        Some(AddPeerError::DuplicatePeer)
    );
    // An allowed IP moves to the newest peer that claims it, as with `wg set`.
    let third = PrivateKey::generate(&mut e).public_key();
    let mut cfg = PeerConfig::new(third);
    cfg.allowed_ips = vec!["10.0.0.0/24".parse().expect("valid")];
    d.add_peer(cfg).expect("new peer");
    let peers: Vec<_> = d.peers().collect();
    assert!(peers[0].allowed_ips.is_empty());
    assert_eq!(peers[1].allowed_ips.len(), 1);
}

/// Cross-check against `wg pubkey` when wireguard-tools is installed.
#[test]
fn pubkey_matches_wg_tool() {
    let Ok(mut child) = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let k = PrivateKey::generate(&mut SeededEntropy::new(99));
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{k}").expect("write key");
    }
    let out = child.wait_with_output().expect("wg pubkey runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        k.public_key().to_string()
    );
}
