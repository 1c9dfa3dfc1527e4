//! TLS sessions, a server and a client (after its ClientHello), fed
//! arbitrary bytes from "the network" in pieces, with reads, writes and
//! end-of-stream in between: errors are expected, panics and plaintext
//! from nowhere are not.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tcplab_tls::pki::{make, Request, Role};
use tcplab_tls::rustls;
use tcplab_tls::session::{client_config, server_config, Identity};
use tcplab_tls::{ClientOptions, Clock, Entropy, Read, Session, Version};

fn configs() -> &'static (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    static C: OnceLock<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> = OnceLock::new();
    C.get_or_init(|| {
        let made = make(&Request {
            role: Role::Leaf,
            common_name: "www.lab.test".into(),
            sans: vec!["www.lab.test".into()],
            not_before: 1_735_689_600,
            not_after: 1_735_689_600 + 86_400 * 365,
            key_seed: [7; 32],
            key_kind: tcplab_tls::KeyKind::Ed25519,
            serial: 1,
            issuer: None,
        })
        .expect("certificate");
        let clock = Clock::new(Duration::from_secs(1_735_700_000));
        let versions = [Version::Tls13, Version::Tls12];
        let server = server_config(
            &[Identity {
                chain_pem: made.cert_pem.clone().into_bytes(),
                key_pem: made.key_pem.clone().into_bytes(),
            }],
            &versions,
            &Entropy::Seeded([1; 32]),
            &clock,
        )
        .expect("server config");
        let (client, _) = client_config(
            &ClientOptions {
                roots: tcplab_tls::pem_certificates(made.cert_pem.as_bytes()).expect("pem"),
                insecure: false,
                versions: versions.to_vec(),
                alpn: vec![b"http/1.1".to_vec()],
            },
            &Entropy::Seeded([2; 32]),
            &clock,
        )
        .expect("client config");
        (server, client)
    })
}

fuzz_target!(|data: &[u8]| {
    let (server, client) = configs();
    let Some((&which, mut rest)) = data.split_first() else {
        return;
    };
    let mut s = if which & 1 == 0 {
        Session::server(server.clone()).expect("session")
    } else {
        let mut c = Session::client(client.clone(), "www.lab.test").expect("session");
        let mut hello = Vec::new();
        c.outgoing(&mut hello);
        c
    };
    // Pieces: 1 byte of length (0 = end of stream), then the bytes.
    let mut buf = [0u8; 512];
    while let [len, tail @ ..] = rest {
        if *len == 0 {
            let _ = s.receive_eof();
            rest = tail;
        } else {
            let n = usize::from(*len).min(tail.len());
            let (piece, next) = tail.split_at(n);
            rest = next;
            if s.receive(piece).is_err() {
                let mut out = Vec::new();
                s.outgoing(&mut out);
            }
        }
        if let Read::Data(n) = s.read(&mut buf) {
            // Plaintext needs a finished handshake, which random bytes
            // cannot complete against these keys.
            assert!(n == 0 || !s.is_handshaking());
        }
        let _ = s.write(b"x");
        let mut out = Vec::new();
        s.outgoing(&mut out);
    }
});
