//! Certificates for the laboratory: a small PKI (root, intermediates,
//! leaves for names and addresses) made with rcgen, shown as `openssl x509
//! -text -noout` shows them, and verified with webpki with `openssl
//! verify`'s verdicts.
//!
//! Nothing here reads a clock or draws randomness: the caller passes the
//! time ("now", seconds since the Unix epoch — the host's wall clock,
//! virtual in the simulator) and the key material (32 random bytes from
//! the host: the scenario's seed in the simulator, the operating system
//! over TUN). Keys are Ed25519, whose signatures are deterministic, so the
//! same seed makes byte-identical certificates.
//!
//! [`session`] drives rustls sans-IO for `serve https` and curl, with time
//! and randomness from [`lab`]: the operating system's over TUN, and in
//! the simulator a seeded LABORATORY provider that must never be used
//! outside it.
#![forbid(unsafe_code)]

pub mod lab;
pub mod pki;
pub mod session;
pub mod show;
pub mod verify;

pub use lab::{Clock, Entropy};
pub use pki::{KeyKind, Made, Request, Role};
/// The rustls this crate drives, for its types.
pub use rustls;
pub use session::{check_identity, Check, ClientOptions, Part, Read, Session, Tickets, Version};
pub use show::x509_text;
pub use verify::{verify_chain, verify_chain_with, Verdict};

/// The certificates in a PEM text, in order (DER).
pub fn pem_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem_blocks(text)?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|(tag, _)| tag == "CERTIFICATE")
        .map(|(_, der)| der)
        .collect();
    if certs.is_empty() {
        return Err("no certificate in it (expected -----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// Every PEM block of `text`: (tag, DER).
pub fn pem_blocks(text: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let from = &rest[start..];
        let (block, used) = match x509_parser::pem::Pem::read(std::io::Cursor::new(from)) {
            Ok((pem, used)) => (pem, used),
            Err(e) => return Err(format!("bad PEM: {e}")),
        };
        out.push((block.label, block.contents));
        rest = &from[used.max(1)..];
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
