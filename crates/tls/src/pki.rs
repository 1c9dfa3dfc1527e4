//! Making certificates: a self-signed root, intermediates and leaves,
//! Ed25519 by default, with explicit serials and validity, so that the
//! same inputs give the same bytes. ECDSA P-256 keys (what browsers take;
//! none takes Ed25519) come from the operating system's randomness, and
//! their signatures are random too: for real networks, not for runs that
//! must repeat.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
};
use rustls_pki_types::PrivatePkcs8KeyDer;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A self-signed root CA.
    Root,
    /// A CA signed by another (path length 0: it signs leaves only).
    Intermediate,
    /// A server's certificate.
    Leaf,
}

/// The kind of key a certificate is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// From `key_seed`; deterministic signatures (RFC 8032).
    #[default]
    Ed25519,
    /// ECDSA on P-256 (FIPS 186-4), a fresh key from the operating
    /// system (`key_seed` unused).
    EcdsaP256,
}

/// A certificate to make.
#[derive(Debug, Clone)]
pub struct Request {
    pub role: Role,
    pub common_name: String,
    /// Subject alternative names: host names and IPv4/IPv6 addresses.
    pub sans: Vec<String>,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// 32 random bytes: the Ed25519 private key.
    pub key_seed: [u8; 32],
    pub key_kind: KeyKind,
    /// A positive serial number.
    pub serial: u64,
    /// The issuer's certificate and key (PEM), unless it is a root.
    pub issuer: Option<(String, String)>,
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Ed25519 PKCS#8 v1 (RFC 8410 §7) around a 32-byte private key.
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v.extend_from_slice(seed);
    v
}

fn datetime(secs: i64) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| format!("bad time {secs}: {e}"))
}

/// Whether `ca_pem` can issue certificates signed with `key`: a CA's
/// certificate (basicConstraints CA:TRUE) whose public key is the key's —
/// what `openssl x509 -req -CA -CAkey` refuses otherwise ("CA certificate
/// and CA private key do not match"), since what it signed would name one
/// issuer and carry another's signature.
fn check_issuer(ca_pem: &str, key: &KeyPair, role: Role) -> Result<(), String> {
    let der = crate::pem_certificates(ca_pem.as_bytes())
        .map_err(|e| format!("issuer certificate: {e}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der[0])
        .map_err(|_| "the CA certificate does not parse".to_string())?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err("CA certificate and CA private key do not match".into());
    }
    let constraints = cert.basic_constraints().ok().flatten().map(|b| b.value);
    if !constraints.is_some_and(|b| b.ca) {
        return Err("the CA certificate is not a CA's (basicConstraints has no CA:TRUE)".into());
    }
    // RFC 5280 §4.2.1.9: pathlen:0 allows no CA below it — what it would
    // issue, no client would accept ("path length constraint exceeded").
    if role != Role::Leaf && constraints.and_then(|b| b.path_len_constraint) == Some(0) {
        return Err(
            "the CA certificate allows no CA under it (pathlen:0): issue intermediates with the root, leaves with this one"
                .into(),
        );
    }
    Ok(())
}

/// Whether a private key (PEM) is Ed25519, whose signatures need no
/// random numbers (RFC 8032 §5.1.6); false for one that does not parse.
pub fn key_is_ed25519(key_pem: &str) -> bool {
    KeyPair::from_pem(key_pem).is_ok_and(|k| k.algorithm() == &PKCS_ED25519)
}

/// Make the certificate `r` asks for.
pub fn make(r: &Request) -> Result<Made, String> {
    let key = match r.key_kind {
        KeyKind::Ed25519 => KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(ed25519_pkcs8(&r.key_seed)),
            &PKCS_ED25519,
        ),
        KeyKind::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
    }
    .map_err(|e| format!("key: {e}"))?;
    let mut p = CertificateParams::new(match r.role {
        Role::Leaf => r.sans.clone(),
        _ => Vec::new(),
    })
    .map_err(|e| format!("names: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, r.common_name.as_str());
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from_slice(&r.serial.max(1).to_be_bytes()));
    p.not_before = datetime(r.not_before)?;
    p.not_after = datetime(r.not_after)?;
    p.use_authority_key_identifier_extension = r.role != Role::Root;
    match r.role {
        Role::Root | Role::Intermediate => {
            p.is_ca = IsCa::Ca(if r.role == Role::Root {
                BasicConstraints::Unconstrained
            } else {
                BasicConstraints::Constrained(0)
            });
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
        }
        Role::Leaf => {
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            // No SAN asked for, none written: the subject's CN is then the
            // only name (as `openssl req` makes one; `cert leaf` gives
            // its name as a SAN when no --san is given).
        }
    }
    let cert = match &r.issuer {
        None => p.self_signed(&key),
        Some((issuer_pem, issuer_key_pem)) => {
            let issuer_key =
                KeyPair::from_pem(issuer_key_pem).map_err(|e| format!("issuer key: {e}"))?;
            check_issuer(issuer_pem, &issuer_key, r.role)?;
            let issuer_params = CertificateParams::from_ca_cert_pem(issuer_pem)
                .map_err(|e| format!("issuer certificate: {e}"))?;
            // rcgen signs with an issuer *certificate* object; only its
            // name and key identifier are used, which the parse keeps.
            let issuer = issuer_params
                .self_signed(&issuer_key)
                .map_err(|e| format!("issuer: {e}"))?;
            p.signed_by(&key, &issuer, &issuer_key)
        }
    }
    .map_err(|e| format!("signing: {e}"))?;
    Ok(Made {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
