//! rustls sessions pumped in memory: handshakes over TLS 1.3 and 1.2, the
//! lab provider's determinism, the certificate check's findings (curl's
//! `ssl_verify_result`), and sessions fed garbage.

use std::time::Duration;

mod common;

use common::{req, T2025};
use tcplab_tls::pki::{make, Made, Role};
use tcplab_tls::session::{client_config, server_config, Finding, Identity};
use tcplab_tls::{pem_certificates, Check, ClientOptions, Clock, Entropy, Read, Session, Version};

struct Pki {
    root: Made,
    inter: Made,
    leaf: Made,
}

fn pki(leaf_days: i64) -> Pki {
    let root = make(&req(Role::Root, "Lab Root CA", 1, None)).unwrap();
    let inter = make(&req(
        Role::Intermediate,
        "Lab Intermediate CA",
        2,
        Some(&root),
    ))
    .unwrap();
    let mut l = req(Role::Leaf, "www.lab.test", 3, Some(&inter));
    l.sans = vec!["www.lab.test".into(), "10.0.2.2".into()];
    l.not_after = T2025 + leaf_days * 86_400;
    let leaf = make(&l).unwrap();
    Pki { root, inter, leaf }
}

fn id(chain: &str, key: &str) -> Identity {
    Identity {
        chain_pem: chain.as_bytes().to_vec(),
        key_pem: key.as_bytes().to_vec(),
    }
}

fn clock() -> Clock {
    Clock::new(Duration::from_secs((T2025 + 30 * 86_400) as u64))
}

struct Setup {
    chain: String,
    key: String,
    roots: Vec<Vec<u8>>,
    insecure: bool,
    server_versions: Vec<Version>,
    client_versions: Vec<Version>,
    name: &'static str,
    seed: u8,
}

fn setup(p: &Pki) -> Setup {
    Setup {
        chain: format!("{}{}", p.leaf.cert_pem, p.inter.cert_pem),
        key: p.leaf.key_pem.clone(),
        roots: pem_certificates(p.root.cert_pem.as_bytes()).unwrap(),
        insecure: false,
        server_versions: vec![Version::Tls13, Version::Tls12],
        client_versions: vec![Version::Tls13, Version::Tls12],
        name: "www.lab.test",
        seed: 7,
    }
}

struct Outcome {
    client: Session,
    server: Session,
    finding: Option<Check>,
    /// Every byte each side sent.
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    error: Option<String>,
    response: Vec<u8>,
}

/// Handshake, one request and one response, pumped until quiet.
fn run(s: &Setup) -> Outcome {
    let clock = clock();
    let sc = server_config(
        &[id(&s.chain, &s.key)],
        &s.server_versions,
        &Entropy::Seeded([s.seed; 32]),
        &clock,
    )
    .unwrap();
    let (cc, found): (_, Finding) = client_config(
        &ClientOptions {
            roots: s.roots.clone(),
            insecure: s.insecure,
            versions: s.client_versions.clone(),
            alpn: vec![b"http/1.1".to_vec()],
        },
        &Entropy::Seeded([s.seed.wrapping_add(100); 32]),
        &clock,
    )
    .unwrap();
    let mut client = Session::client(cc, s.name).unwrap();
    let mut server = Session::server(sc).unwrap();
    assert_eq!(client.write(b"GET / HTTP/1.1\r\n\r\n"), Some(18));
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let mut error = None;
    let mut response = Vec::new();
    let mut answered = false;
    for _ in 0..20 {
        let mut out = Vec::new();
        client.outgoing(&mut out);
        c2s.extend_from_slice(&out);
        if let Err(e) = server.receive(&out) {
            error.get_or_insert(format!("server: {e}"));
        }
        let mut buf = [0u8; 256];
        if let Read::Data(n) = server.read(&mut buf) {
            assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
            if !answered {
                server.write(b"HTTP/1.1 200 OK\r\n\r\nhello");
                answered = true;
            }
        }
        let mut back = Vec::new();
        server.outgoing(&mut back);
        s2c.extend_from_slice(&back);
        if let Err(e) = client.receive(&back) {
            error.get_or_insert(format!("client: {e}"));
        }
        while let Read::Data(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        if out.is_empty() && back.is_empty() {
            break;
        }
    }
    let finding = found.lock().unwrap().clone();
    Outcome {
        client,
        server,
        finding,
        c2s,
        s2c,
        error,
        response,
    }
}

#[test]
fn tls13_chain_verified_with_sni_and_alpn() {
    let p = pki(90);
    let o = run(&setup(&p));
    assert_eq!(o.error, None);
    assert_eq!(o.response, b"HTTP/1.1 200 OK\r\n\r\nhello");
    assert_eq!(o.client.version(), Some("TLSv1.3"));
    assert_eq!(o.client.cipher().as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(o.client.alpn().as_deref(), Some("http/1.1"));
    assert_eq!(o.server.sni().as_deref(), Some("www.lab.test"));
    let f = o.finding.unwrap();
    assert_eq!((f.code, f.name_ok), (0, true));
    // The server sent leaf and intermediate, not the root.
    assert_eq!(f.presented.len(), 2);
    assert_eq!(o.client.peer_certificates().len(), 2);
}

#[test]
fn tls12_when_the_server_allows_only_that() {
    let p = pki(90);
    let mut s = setup(&p);
    s.server_versions = vec![Version::Tls12];
    let o = run(&s);
    assert_eq!(o.error, None);
    assert_eq!(o.client.version(), Some("TLSv1.2"));
    assert_eq!(
        o.client.cipher().as_deref(),
        Some("ECDHE-ECDSA-AES256-GCM-SHA384")
    );
    assert_eq!(o.response, b"HTTP/1.1 200 OK\r\n\r\nhello");
}

#[test]
fn version_mismatch_fails_the_handshake() {
    let p = pki(90);
    let mut s = setup(&p);
    s.server_versions = vec![Version::Tls12];
    s.client_versions = vec![Version::Tls13];
    let o = run(&s);
    let e = o.error.unwrap();
    assert!(e.contains("server:"), "{e}");
    assert!(o.response.is_empty());
}

#[test]
fn lab_provider_is_deterministic_per_seed() {
    let p = pki(90);
    let a = run(&setup(&p));
    let b = run(&setup(&p));
    assert_eq!(a.c2s, b.c2s);
    assert_eq!(a.s2c, b.s2c);
    let mut s = setup(&p);
    s.seed = 8;
    let c = run(&s);
    assert_ne!(a.c2s, c.c2s);
    assert_ne!(a.s2c, c.s2c);
    // The SNI travels in clear in the ClientHello.
    assert!(a.c2s.windows(12).any(|w| w == b"www.lab.test"));
}

#[test]
fn os_entropy_differs_every_time() {
    let p = pki(90);
    let clock = clock();
    let sc = server_config(
        &[id(&p.leaf.cert_pem, &p.leaf.key_pem)],
        &[Version::Tls13],
        &Entropy::Os,
        &clock,
    )
    .unwrap();
    let mut first = Vec::new();
    for _ in 0..2 {
        let mut s = Session::server(sc.clone()).unwrap();
        let (cc, _) = client_config(
            &ClientOptions {
                versions: vec![Version::Tls13],
                ..Default::default()
            },
            &Entropy::Os,
            &clock,
        )
        .unwrap();
        let mut c = Session::client(cc, "www.lab.test").unwrap();
        let mut hello = Vec::new();
        c.outgoing(&mut hello);
        s.receive(&hello).unwrap();
        first.push(hello);
    }
    assert_ne!(first[0], first[1]);
}

fn verdict(s: &Setup) -> (Option<String>, Check) {
    let o = run(s);
    (o.error, o.finding.expect("the check ran"))
}

#[test]
fn findings_match_openssl_numbers() {
    let p = pki(90);
    // Self-signed leaf, not trusted: 18, handshake refused (unknown_ca).
    let own = make(&{
        let mut r = req(Role::Leaf, "www.lab.test", 9, None);
        r.sans = vec!["www.lab.test".into()];
        r
    })
    .unwrap();
    let mut s = setup(&p);
    s.chain = own.cert_pem.clone();
    s.key = own.key_pem.clone();
    let (e, f) = verdict(&s);
    assert_eq!(f.code, 18);
    assert!(e.unwrap().contains("UnknownIssuer"));
    // ... trusted as its own root: fine.
    s.roots = pem_certificates(own.cert_pem.as_bytes()).unwrap();
    let (e, f) = verdict(&s);
    assert_eq!((e, f.code), (None, 0));
    // -k: the finding is kept, the handshake goes on.
    s.roots.clear();
    s.insecure = true;
    let (e, f) = verdict(&s);
    assert_eq!((e, f.code), (None, 18));

    // The server forgets its intermediate: 20.
    let mut s = setup(&p);
    s.chain = p.leaf.cert_pem.clone();
    let (e, f) = verdict(&s);
    assert_eq!(f.code, 20);
    assert!(e.is_some());
    // The root is sent but not trusted: 19.
    let mut s = setup(&p);
    s.chain = format!("{}{}{}", p.leaf.cert_pem, p.inter.cert_pem, p.root.cert_pem);
    s.roots.clear();
    assert_eq!(verdict(&s).1.code, 19);
    // Expired (the leaf lived 10 days; the clock is at day 30): 10, and
    // rustls's alert is certificate_expired.
    let old = pki(10);
    let (e, f) = verdict(&setup(&old));
    assert_eq!(f.code, 10);
    assert!(e.unwrap().contains("Expired"));
    // Name mismatch: the chain is fine, the name is not; the handshake
    // finishes (curl refuses afterwards, as with OpenSSL).
    let mut s = setup(&p);
    s.name = "other.lab.test";
    let (e, f) = verdict(&s);
    assert_eq!((e, f.code, f.name_ok), (None, 0, false));
    // By address: the IP SAN matches.
    let mut s = setup(&p);
    s.name = "10.0.2.2";
    let (e, f) = verdict(&s);
    assert_eq!((e, f.code, f.name_ok), (None, 0, true));
}

#[test]
fn garbage_from_the_network_is_an_error_not_a_panic() {
    let p = pki(90);
    let s = setup(&p);
    let clock = clock();
    let sc = server_config(
        &[id(&s.chain, &s.key)],
        &s.server_versions,
        &Entropy::Seeded([1; 32]),
        &clock,
    )
    .unwrap();
    let mut rng = 0x1234_5678_9abc_def0u64;
    for round in 0..200 {
        let mut server = Session::server(sc.clone()).unwrap();
        let mut junk = vec![0u8; 1 + round * 7 % 600];
        for b in junk.iter_mut() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *b = rng as u8;
        }
        // Sometimes a plausible record header first.
        if round % 2 == 0 {
            junk[0] = 22;
            if junk.len() > 3 {
                junk[1] = 3;
                junk[2] = 1;
            }
        }
        let _ = server.receive(&junk);
        let _ = server.receive_eof();
        let mut out = Vec::new();
        server.outgoing(&mut out);
        let mut buf = [0u8; 64];
        assert_ne!(
            server.read(&mut buf),
            Read::Data(1),
            "no plaintext from junk"
        );
    }
    // "HTTP/1.1 ..." where a ServerHello should be.
    let (cc, _) = client_config(
        &ClientOptions {
            versions: vec![Version::Tls13],
            ..Default::default()
        },
        &Entropy::Seeded([2; 32]),
        &clock,
    )
    .unwrap();
    let mut c = Session::client(cc, "www.lab.test").unwrap();
    let mut hello = Vec::new();
    c.outgoing(&mut hello);
    assert!(c.receive(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
}

#[test]
fn sni_chooses_among_certificates() {
    let p = pki(90);
    let mut api = req(Role::Leaf, "api.lab.test", 4, Some(&p.inter));
    api.sans = vec!["api.lab.test".into(), "*.api.lab.test".into()];
    let api = make(&api).unwrap();
    let www_chain = format!("{}{}", p.leaf.cert_pem, p.inter.cert_pem);
    let api_chain = format!("{}{}", api.cert_pem, p.inter.cert_pem);
    let clock = clock();
    let sc = server_config(
        &[
            id(&www_chain, &p.leaf.key_pem),
            id(&api_chain, &api.key_pem),
        ],
        &[Version::Tls13, Version::Tls12],
        &Entropy::Seeded([3; 32]),
        &clock,
    )
    .unwrap();
    let roots = pem_certificates(p.root.cert_pem.as_bytes()).unwrap();
    let subject = |name: &str| -> (String, bool) {
        let (cc, found) = client_config(
            &ClientOptions {
                roots: roots.clone(),
                versions: vec![Version::Tls13],
                ..Default::default()
            },
            &Entropy::Seeded([4; 32]),
            &clock,
        )
        .unwrap();
        let mut c = Session::client(cc, name).unwrap();
        let mut s = Session::server(sc.clone()).unwrap();
        for _ in 0..4 {
            let mut out = Vec::new();
            c.outgoing(&mut out);
            s.receive(&out).unwrap();
            let mut back = Vec::new();
            s.outgoing(&mut back);
            c.receive(&back).unwrap();
        }
        assert!(!c.is_handshaking());
        let f = found.lock().unwrap().clone().unwrap();
        let leaf = tcplab_tls::show::summary(&f.presented[0]).unwrap();
        (leaf.subject, f.name_ok)
    };
    assert_eq!(subject("api.lab.test"), ("CN=api.lab.test".into(), true));
    assert_eq!(subject("v2.api.lab.test"), ("CN=api.lab.test".into(), true));
    assert_eq!(subject("www.lab.test"), ("CN=www.lab.test".into(), true));
    // No certificate has the name, or none is sent: the first, by default.
    assert_eq!(subject("other.lab.test"), ("CN=www.lab.test".into(), false));
    assert_eq!(subject("10.0.2.2"), ("CN=www.lab.test".into(), true));
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let p = pki(90);
    let e = server_config(
        &[id(&p.leaf.cert_pem, &p.inter.key_pem)],
        &[Version::Tls13],
        &Entropy::Seeded([3; 32]),
        &clock(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        "certificate and key: key values mismatch (the key is not the certificate's)"
    );
}

/// A huge handshake message (a 65,000-byte ClientHello in 16 KiB
/// records, near rustls's 64 KiB limit) ends in an error, never in "took
/// 0 bytes" — which would leave a driver spinning on the same input.
#[test]
fn an_oversized_handshake_message_is_an_error() {
    let p = pki(90);
    let sc = server_config(
        &[id(&p.leaf.cert_pem, &p.leaf.key_pem)],
        &[Version::Tls13],
        &Entropy::Seeded([5; 32]),
        &clock(),
    )
    .unwrap();
    let mut server = Session::server(sc).unwrap();
    let len: usize = 65_000;
    let mut message = vec![1u8, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    message.resize(4 + len, 0x41);
    let mut wire = Vec::new();
    for chunk in message.chunks(16_384) {
        wire.extend_from_slice(&[22, 3, 1, (chunk.len() >> 8) as u8, chunk.len() as u8]);
        wire.extend_from_slice(chunk);
    }
    let mut rest = &wire[..];
    let mut failed = false;
    while !rest.is_empty() {
        match server.receive(rest) {
            Ok(0) => panic!("took nothing of {} bytes and said nothing", rest.len()),
            Ok(n) => rest = &rest[n..],
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "a 65,000-byte ClientHello of junk was accepted");
}

#[test]
fn the_lab_takes_only_ed25519_keys() {
    let p = pki(90);
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let key = ec.serialize_pem();
    let lab = server_config(
        &[id(&p.leaf.cert_pem, &key)],
        &[Version::Tls13],
        &Entropy::Seeded([5; 32]),
        &clock(),
    )
    .unwrap_err();
    assert!(lab.contains("Ed25519"), "{lab}");
    // Over TUN (the operating system's randomness) it is the pairing that
    // is wrong here, not the algorithm.
    let os = server_config(
        &[id(&p.leaf.cert_pem, &key)],
        &[Version::Tls13],
        &Entropy::Os,
        &clock(),
    )
    .unwrap_err();
    assert!(os.contains("certificate and key"), "{os}");
}

/// close_notify (RFC 8446 §6.1) reaches the peer as a clean end; a bare
/// end of stream is a truncation.
#[test]
fn close_notify_is_a_clean_end_and_eof_a_truncation() {
    let p = pki(90);
    let o = run(&setup(&p));
    let (mut client, mut server) = (o.client, o.server);
    server.close();
    let mut out = Vec::new();
    server.outgoing(&mut out);
    client.receive(&out).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(client.read(&mut buf), Read::Closed);
    let o = run(&setup(&p));
    let mut client = o.client;
    client.receive_eof().unwrap_or(());
    assert_eq!(client.read(&mut buf), Read::Truncated);
}
