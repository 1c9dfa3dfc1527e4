//! What the tests share: a request for a lesson certificate.
#![allow(dead_code)]

use tcplab_tls::pki::{Made, Request, Role};

/// 2025-01-01T00:00:00Z.
pub const T2025: i64 = 1_735_689_600;
pub const YEAR: i64 = 365 * 86_400;

/// A certificate valid for five years from 2025, its key and serial from
/// `seed`, signed by `issuer` (self-signed without one).
pub fn req(role: Role, cn: &str, seed: u8, issuer: Option<&Made>) -> Request {
    Request {
        role,
        common_name: cn.into(),
        sans: Vec::new(),
        not_before: T2025,
        not_after: T2025 + 5 * YEAR,
        key_seed: [seed; 32],
        key_kind: tcplab_tls::KeyKind::Ed25519,
        serial: u64::from(seed),
        issuer: issuer.map(|m| (m.cert_pem.clone(), m.key_pem.clone())),
    }
}
