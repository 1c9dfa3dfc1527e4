//! `cert`: a small PKI for lessons — make a root CA, intermediates and
//! server certificates, show one, verify a chain (`crates/tls`).
//!
//! ```text
//! cert ca NAME --out CERT --key-out KEY [--days N] [--start OFFSET]
//! cert intermediate NAME --ca CERT --ca-key KEY --out CERT --key-out KEY [--days N] [--start OFFSET]
//! cert leaf NAME [--san NAME|IP]... --ca CERT --ca-key KEY --out CERT --key-out KEY [--days N] [--start OFFSET]
//! cert self-signed NAME [--san NAME|IP]... --out CERT --key-out KEY [--days N] [--start OFFSET]
//! cert show FILE                                  (openssl x509 -text -noout)
//! cert verify --CAfile FILE [--untrusted FILE]... FILE   (openssl verify)
//! ```
//!
//! Keys are Ed25519, drawn from the host's randomness (the scenario's seed
//! in the simulator, so a lesson's certificates are the same every run;
//! the operating system's over TUN). Validity starts at the host's wall
//! clock (2025-01-01 00:00 UTC at the start of a simulated run), moved by
//! `--start` (`-30d`, `+1h`), and lasts `--days` (365).

use tcplab_host::{Host, Output};
use tcplab_tls::pki::{make, KeyKind, Request, Role};
use tcplab_tls::{pem_certificates, verify_chain_with, x509_text, Verdict};

use crate::args::{getopt, Opt};
use crate::Usage;

const USAGE: &str = "usage: cert ca|intermediate|leaf|self-signed NAME [--san NAME|IP]... [--ca CERT --ca-key KEY] --out CERT --key-out KEY [--days N] [--start OFFSET] [--key-type ed25519|ecdsa]
       cert show FILE
       cert verify --CAfile FILE [--untrusted FILE]... FILE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeArgs {
    pub role: Role,
    pub name: String,
    pub sans: Vec<String>,
    pub ca: Option<(String, String)>,
    pub out: String,
    pub key_out: String,
    pub days: i64,
    pub start: i64,
    pub key_kind: KeyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertArgs {
    Make(MakeArgs),
    Show(String),
    Verify {
        ca_file: String,
        /// Every `--untrusted` file, in order (openssl takes them all).
        untrusted: Vec<String>,
        file: String,
    },
}

fn usage(m: String) -> Usage {
    Usage::with_usage("cert", m, USAGE)
}

/// `-30d`, `+1h`, `90s`, `0`: seconds.
fn parse_offset(v: &str) -> Option<i64> {
    let (sign, rest) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let (num, unit) = rest.split_at(
        rest.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len()),
    );
    let n: i64 = num.parse().ok()?;
    let mul = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    // At most a hundred years either way: certificates' times (RFC 5280
    // §4.1.2.5) are years 1950 to 9999.
    n.checked_mul(mul)
        .filter(|s| *s <= 36_500 * 86_400)
        .map(|s| sign * s)
}

impl CertArgs {
    pub fn parse(args: &[String]) -> Result<CertArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("cert", USAGE.into(), true, 0));
        }
        let Some((verb, rest)) = args.split_first() else {
            return Err(usage(
                "what should cert do? (ca, intermediate, leaf, self-signed, show, verify)".into(),
            ));
        };
        let (opts, operands) = getopt(
            rest,
            "",
            &[
                "out=",
                "key-out=",
                "ca=",
                "ca-key=",
                "san=",
                "days=",
                "start=",
                "key-type=",
                "CAfile=",
                "untrusted=",
            ],
        )
        .map_err(usage)?;
        let mut get = std::collections::BTreeMap::<String, Vec<String>>::new();
        for o in opts {
            if let Opt::Long(k, Some(v)) = o {
                get.entry(k).or_default().push(v);
            }
        }
        let one = |k: &str| get.get(k).and_then(|v| v.last().cloned());
        match verb.as_str() {
            "show" => match operands.as_slice() {
                [f] => Ok(CertArgs::Show(f.clone())),
                _ => Err(usage("cert show takes one FILE".into())),
            },
            "verify" => {
                let ca_file =
                    one("CAfile").ok_or_else(|| usage("cert verify needs --CAfile FILE".into()))?;
                match operands.as_slice() {
                    [f] => Ok(CertArgs::Verify {
                        ca_file,
                        untrusted: get.get("untrusted").cloned().unwrap_or_default(),
                        file: f.clone(),
                    }),
                    _ => Err(usage("cert verify takes one FILE to verify".into())),
                }
            }
            "ca" | "intermediate" | "leaf" | "self-signed" => {
                let role = match verb.as_str() {
                    "ca" => Role::Root,
                    "intermediate" => Role::Intermediate,
                    _ => Role::Leaf,
                };
                let [name] = operands.as_slice() else {
                    return Err(usage(format!(
                        "cert {verb} takes one NAME (the subject's common name)"
                    )));
                };
                // X.509's CommonName is 1 to 64 characters (RFC 5280's
                // ub-common-name); openssl refuses an empty field too.
                if name.trim().is_empty() || name.chars().count() > 64 {
                    return Err(usage(format!(
                        "cert {verb}: the common name must be 1 to 64 characters, not `{name}`"
                    )));
                }
                let needs_ca = matches!(verb.as_str(), "intermediate" | "leaf");
                let ca = match (one("ca"), one("ca-key")) {
                    (Some(c), Some(k)) if needs_ca => Some((c, k)),
                    (None, None) if !needs_ca => None,
                    _ if needs_ca => {
                        return Err(usage(format!(
                            "cert {verb} needs --ca CERT and --ca-key KEY"
                        )))
                    }
                    _ => return Err(usage(format!("cert {verb} is self-signed: no --ca"))),
                };
                let days = match one("days") {
                    None => 365,
                    Some(d) => d
                        .parse::<i64>()
                        .ok()
                        .filter(|d| (1..=36_500).contains(d))
                        .ok_or_else(|| usage(format!("--days: `{d}` is not 1..36500")))?,
                };
                let start = match one("start") {
                    None => 0,
                    Some(s) => parse_offset(&s).ok_or_else(|| {
                        usage(format!(
                            "--start: `{s}` is not an offset like -30d or +1h (at most 36500d)"
                        ))
                    })?,
                };
                let sans = get.get("san").cloned().unwrap_or_default();
                if let Some(bad) = sans.iter().find(|s| !valid_san(s)) {
                    return Err(usage(format!(
                        "--san: `{bad}` is neither an IPv4 address nor a DNS name"
                    )));
                }
                if role != Role::Leaf && !sans.is_empty() {
                    return Err(usage(
                        "--san is for leaf and self-signed certificates".into(),
                    ));
                }
                let out =
                    one("out").ok_or_else(|| usage(format!("cert {verb} needs --out FILE")))?;
                let key_out = one("key-out")
                    .ok_or_else(|| usage(format!("cert {verb} needs --key-out FILE")))?;
                // One file for both would keep only the key.
                if tcplab_host::fs::normalize(&out) == tcplab_host::fs::normalize(&key_out) {
                    return Err(usage(format!(
                        "--out and --key-out are the same file ({out}): the key would replace the certificate"
                    )));
                }
                // Ed25519 keeps a simulated run repeatable; ECDSA P-256 is
                // what browsers take.
                let key_kind = match one("key-type").as_deref() {
                    None | Some("ed25519") => KeyKind::Ed25519,
                    Some("ecdsa" | "p256" | "ec") => KeyKind::EcdsaP256,
                    Some(other) => {
                        return Err(usage(format!(
                            "--key-type: `{other}` is not ed25519 or ecdsa"
                        )))
                    }
                };
                Ok(CertArgs::Make(MakeArgs {
                    role,
                    name: name.clone(),
                    sans,
                    ca,
                    out,
                    key_out,
                    days,
                    start,
                    key_kind,
                }))
            }
            other => Err(usage(format!("unknown command `{other}`"))),
        }
    }
}

/// A subject alternative name a client could match: an IPv4 address, or
/// a host name (RFC 1123 §2.1: labels of letters, digits and inner
/// hyphens, at most 63 bytes each and 253 in all, the last not all digits),
/// optionally `*.` for a wildcard (RFC 6125 §6.4.3).
fn valid_san(s: &str) -> bool {
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let name = s.strip_prefix("*.").unwrap_or(s);
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && !labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

fn read(host: &Host, path: &str) -> Result<Vec<u8>, String> {
    host.fs()
        .read(path)
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

pub async fn run(host: Host, a: CertArgs, mut out: Output, mut err: Output) -> i32 {
    let now = host.wall_clock().as_secs();
    match a {
        CertArgs::Show(f) => {
            let text =
                read(&host, &f).and_then(|b| pem_certificates(&b).map_err(|e| format!("{f}: {e}")));
            match text.and_then(|certs| x509_text(&certs[0]).map_err(|e| format!("{f}: {e}"))) {
                Ok(t) => {
                    for l in t.lines() {
                        out.line(l);
                    }
                    0
                }
                Err(e) => {
                    err.line(format!("cert: {e}"));
                    1
                }
            }
        }
        CertArgs::Verify {
            ca_file,
            untrusted,
            file,
        } => {
            let load = |p: &str| {
                read(&host, p).and_then(|b| pem_certificates(&b).map_err(|e| format!("{p}: {e}")))
            };
            let parts = (|| -> Result<_, String> {
                let roots = load(&ca_file)?;
                let mut inter = Vec::new();
                for u in &untrusted {
                    inter.extend(load(u)?);
                }
                let leaf = load(&file)?;
                Ok((roots, inter, leaf))
            })();
            let (roots, inter, leaf) = match parts {
                Ok(p) => p,
                Err(e) => {
                    err.line(format!("cert: {e}"));
                    return 2;
                }
            };
            // `openssl verify`: only a self-signed certificate of the
            // CA file ends a chain (no -partial_chain).
            match verify_chain_with(&leaf[0], &inter, &roots, now, false) {
                Verdict::Ok => {
                    out.line(format!("{file}: OK"));
                    0
                }
                Verdict::Error {
                    code,
                    depth,
                    subject,
                    text,
                } => {
                    err.line(subject);
                    err.line(format!("error {code} at {depth} depth lookup: {text}"));
                    err.line(format!("error {file}: verification failed"));
                    2
                }
            }
        }
        CertArgs::Make(m) => match make_files(&host, &m, now) {
            Ok(line) => {
                out.line(line);
                0
            }
            Err(e) => {
                err.line(format!("cert: {e}"));
                1
            }
        },
    }
}

fn make_files(host: &Host, m: &MakeArgs, now: u64) -> Result<String, String> {
    // An ECDSA key and its signatures take the operating system's
    // randomness, which a seed cannot repeat.
    if m.key_kind == KeyKind::EcdsaP256 && !host.uses_os_random() {
        return Err(
            "--key-type ecdsa is for real networks (tcplab run): its keys and signatures are random, and a simulated run must repeat from its seed"
                .into(),
        );
    }
    let mut seed = [0u8; 32];
    host.fill_random(&mut seed)?;
    let mut serial = [0u8; 8];
    host.fill_random(&mut serial)?;
    let issuer = match &m.ca {
        Some((c, k)) => {
            let c = String::from_utf8(read(host, c)?).map_err(|_| format!("{c}: not PEM text"))?;
            let k = String::from_utf8(read(host, k)?).map_err(|_| format!("{k}: not PEM text"))?;
            Some((c, k))
        }
        None => None,
    };
    // An issuer's ECDSA or RSA key would sign with random numbers too.
    if let (Some((_, k)), Some((_, key_file))) = (&issuer, &m.ca) {
        if !host.uses_os_random() && !tcplab_tls::pki::key_is_ed25519(k) {
            return Err(format!(
                "{key_file}: not an Ed25519 key; its signatures are random, and a simulated run must repeat from its seed (make the CA here with cert ca)"
            ));
        }
    }
    let start = i64::try_from(now).unwrap_or(i64::MAX) + m.start;
    // A leaf with no --san is named by a SAN of its name (clients match
    // SANs; curl falls back to the CN only when there are none).
    let sans = if m.role == Role::Leaf && m.sans.is_empty() {
        if !valid_san(&m.name) {
            return Err(format!(
                "`{}` is not a host name or an address (give --san NAME)",
                m.name
            ));
        }
        vec![m.name.clone()]
    } else {
        m.sans.clone()
    };
    let made = make(&Request {
        role: m.role,
        common_name: m.name.clone(),
        sans,
        not_before: start,
        not_after: start + m.days * 86_400,
        key_seed: seed,
        key_kind: m.key_kind,
        // Positive and never zero, as RFC 5280 §4.1.2.2 asks.
        serial: (u64::from_be_bytes(serial) >> 1).max(1),
        issuer,
    })
    .map_err(|e| match &m.ca {
        // Name the files an issuer's problem comes from.
        Some((c, k)) if e.contains("CA ") || e.starts_with("issuer") => format!("{c}, {k}: {e}"),
        _ => e,
    })?;
    let fs = host.fs();
    // (The file system's errors name the path themselves.)
    fs.write(&m.out, made.cert_pem.as_bytes())
        .map_err(|e| e.to_string())?;
    fs.write_private(&m.key_out, made.key_pem.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(format!("cert: wrote {} and its key {}", m.out, m.key_out))
}
