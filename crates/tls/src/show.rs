//! A certificate as `openssl x509 -text -noout` prints it (the fields a
//! learner reads: version, serial, algorithms, issuer, validity, subject,
//! public key, extensions, signature), and its SHA-256 fingerprint.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::*;

/// OpenSSL's short names for the algorithms a lab meets.
fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.3.101.112" => "ED25519".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.1" => "rsaEncryption".into(),
        "1.2.840.10045.2.1" => "id-ecPublicKey".into(),
        other => other.into(),
    }
}

/// `CN = a, O = b`, in the certificate's order, as openssl -text writes it.
pub fn name_text(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            let key = match atv.attr_type().to_id_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                other => other.to_string(),
            };
            let value = atv.as_str().unwrap_or("?");
            parts.push(format!("{key} = {}", quoted_value(value)));
        }
    }
    parts.join(", ")
}

/// A name's value as OpenSSL prints it with ASN1_STRFLGS_ESC_QUOTE: in
/// double quotes when it holds a character RFC 2253 would escape (`,+<>;`
/// and the quote and backslash, which are escaped inside) or begins with
/// `#` or a space or ends with one — so `CN = "Acme, Inc"` does not read
/// as two parts.
fn quoted_value(v: &str) -> String {
    let special = v.contains([',', '+', '<', '>', ';', '"', '\\'])
        || v.starts_with(['#', ' '])
        || v.ends_with(' ');
    if !special {
        return v.to_string();
    }
    let inner = v.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{inner}\"")
}

/// `Jan  1 00:00:00 2025 GMT`.
pub fn time_text(t: &ASN1Time) -> String {
    let d = t.to_datetime();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.year()
    )
}

fn hex_lines(bytes: &[u8], per_line: usize, indent: &str) -> String {
    let mut s = String::new();
    for (i, chunk) in bytes.chunks(per_line).enumerate() {
        let last = (i + 1) * per_line >= bytes.len();
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(
            s,
            "{indent}{}{}",
            hex.join(":"),
            if last { "" } else { ":" }
        );
    }
    s
}

/// The SHA-256 fingerprint, `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The certificate in `der` as text.
pub fn x509_text(der: &[u8]) -> Result<String, String> {
    // (The parser's own error is a debugging value, not words for a
    // person: openssl says only that it could not load one.)
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|_| "not an X.509 certificate (its DER encoding does not parse)".to_string())?;
    let mut s = String::new();
    let _ = writeln!(s, "Certificate:\n    Data:");
    let v = c.version().0;
    let _ = writeln!(s, "        Version: {} (0x{v:x})", v + 1);
    let serial = &c.tbs_certificate.serial;
    let bytes = serial.to_bytes_be();
    if bytes.len() <= 8 {
        let n = bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        let _ = writeln!(s, "        Serial Number: {n} (0x{n:x})");
    } else {
        let _ = writeln!(s, "        Serial Number:");
        s.push_str(&hex_lines(&bytes, 16, "            "));
    }
    let sig = algorithm_name(&c.signature_algorithm.algorithm.to_id_string());
    let _ = writeln!(s, "        Signature Algorithm: {sig}");
    let _ = writeln!(s, "        Issuer: {}", name_text(c.issuer()));
    let _ = writeln!(s, "        Validity");
    let _ = writeln!(
        s,
        "            Not Before: {}",
        time_text(&c.validity().not_before)
    );
    let _ = writeln!(
        s,
        "            Not After : {}",
        time_text(&c.validity().not_after)
    );
    let _ = writeln!(s, "        Subject: {}", name_text(c.subject()));
    let _ = writeln!(s, "        Subject Public Key Info:");
    let spki = c.public_key();
    let alg = algorithm_name(&spki.algorithm.algorithm.to_id_string());
    let _ = writeln!(s, "            Public Key Algorithm: {alg}");
    let key = spki.subject_public_key.data.as_ref();
    if alg == "ED25519" {
        let _ = writeln!(
            s,
            "                ED25519 Public-Key:\n                pub:"
        );
    } else {
        let _ = writeln!(
            s,
            "                Public-Key: ({} bit)\n                pub:",
            key.len().saturating_sub(1) * 4
        );
    }
    s.push_str(&hex_lines(key, 15, "                    "));
    let exts = c.extensions();
    if !exts.is_empty() {
        let _ = writeln!(s, "        X509v3 extensions:");
    }
    for e in exts {
        // X509V3_extensions_print: ": critical" or ": " (a trailing space).
        let critical = if e.critical { " critical" } else { " " };
        match e.parsed_extension() {
            ParsedExtension::BasicConstraints(b) => {
                let _ = writeln!(s, "            X509v3 Basic Constraints:{critical}");
                let path = b
                    .path_len_constraint
                    .map(|p| format!(", pathlen:{p}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "                CA:{}{path}",
                    if b.ca { "TRUE" } else { "FALSE" }
                );
            }
            ParsedExtension::KeyUsage(k) => {
                let _ = writeln!(s, "            X509v3 Key Usage:{critical}");
                let mut u = Vec::new();
                if k.digital_signature() {
                    u.push("Digital Signature");
                }
                if k.key_cert_sign() {
                    u.push("Certificate Sign");
                }
                if k.crl_sign() {
                    u.push("CRL Sign");
                }
                let _ = writeln!(s, "                {}", u.join(", "));
            }
            ParsedExtension::ExtendedKeyUsage(k) => {
                let _ = writeln!(s, "            X509v3 Extended Key Usage:{critical}");
                let mut u = Vec::new();
                if k.server_auth {
                    u.push("TLS Web Server Authentication");
                }
                if k.client_auth {
                    u.push("TLS Web Client Authentication");
                }
                let _ = writeln!(s, "                {}", u.join(", "));
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                let _ = writeln!(s, "            X509v3 Subject Alternative Name:{critical}");
                let names: Vec<String> = san
                    .general_names
                    .iter()
                    .map(|n| match n {
                        GeneralName::DNSName(d) => format!("DNS:{d}"),
                        GeneralName::IPAddress(b) if b.len() == 4 => {
                            format!("IP Address:{}.{}.{}.{}", b[0], b[1], b[2], b[3])
                        }
                        other => format!("{other:?}"),
                    })
                    .collect();
                let _ = writeln!(s, "                {}", names.join(", "));
            }
            ParsedExtension::SubjectKeyIdentifier(k) => {
                let _ = writeln!(s, "            X509v3 Subject Key Identifier:{critical}");
                let _ = writeln!(s, "                {}", upper_hex(k.0));
            }
            ParsedExtension::AuthorityKeyIdentifier(k) => {
                let _ = writeln!(s, "            X509v3 Authority Key Identifier:{critical}");
                if let Some(id) = &k.key_identifier {
                    let _ = writeln!(s, "                {}", upper_hex(id.0));
                }
            }
            _ => {
                let _ = writeln!(s, "            {}:{critical}", e.oid.to_id_string());
            }
        }
    }
    let _ = writeln!(s, "    Signature Algorithm: {sig}\n    Signature Value:");
    s.push_str(&hex_lines(c.signature_value.data.as_ref(), 18, "        "));
    // OpenSSL 3.0's `x509 -fingerprint -sha256` line.
    let _ = writeln!(s, "sha256 Fingerprint={}", fingerprint(der));
    Ok(s)
}

fn upper_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What `curl -v` says of a server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `O=tcplab; CN=www.lab.test`: curl's form of the names.
    pub subject: String,
    pub issuer: String,
    /// `Jan  1 00:00:00 2025 GMT`.
    pub start: String,
    pub expire: String,
    /// The SANs: DNS names, and addresses as text.
    pub dns: Vec<String>,
    pub ips: Vec<String>,
    /// Whether any SAN is a DNS name or an address (of either family):
    /// without one, curl checks the name against the subject's CN.
    pub has_names: bool,
    /// The subject's last commonName, the most significant (curl's
    /// `peer_CN`).
    pub cn: Option<String>,
}

/// The fields curl prints under `* Server certificate:`; `None` if `der`
/// does not parse.
pub fn summary(der: &[u8]) -> Option<Summary> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    let curl_name = |n: &X509Name<'_>| name_text(n).replace(" = ", "=").replace(", ", "; ");
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    let mut has_names = false;
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for g in &san.value.general_names {
            match g {
                GeneralName::DNSName(d) => {
                    has_names = true;
                    dns.push(d.to_string())
                }
                GeneralName::IPAddress(b) => {
                    has_names = true;
                    if b.len() == 4 {
                        ips.push(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
                    }
                }
                _ => {}
            }
        }
    }
    let cn = c
        .subject()
        .iter_common_name()
        .last()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    Some(Summary {
        subject: curl_name(c.subject()),
        issuer: curl_name(c.issuer()),
        start: time_text(&c.validity().not_before),
        expire: time_text(&c.validity().not_after),
        dns,
        ips,
        has_names,
        cn,
    })
}
