//! Verifying a chain as `openssl verify -CAfile ROOTS -untrusted INTER
//! LEAF` does, with webpki (the verifier rustls uses) at a given time, and
//! OpenSSL's verdicts: its error numbers and wording, which curl repeats
//! (`SSL certificate problem: ...`).
//!
//! webpki says `UnknownIssuer` for three cases OpenSSL words differently;
//! they are told apart from the certificates themselves: a leaf that
//! issued itself (18), a chain that ends at a self-issued certificate the
//! store does not hold (19), anything else (20).

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, ALL_VERIFICATION_ALGS};
use x509_parser::prelude::*;

/// OpenSSL's verdict on a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Error {
        /// OpenSSL's X509_V_ERR number (`-w '%{ssl_verify_result}'`).
        code: u32,
        /// Which certificate: 0 the leaf, 1 its issuer, ...
        depth: usize,
        /// The subject of that certificate, `CN = ...`.
        subject: String,
        /// OpenSSL's words for `code`.
        text: &'static str,
    },
}

/// OpenSSL's words for its verification error numbers.
pub fn error_text(code: u32) -> &'static str {
    match code {
        0 => "ok",
        2 => "unable to get issuer certificate",
        7 => "certificate signature failure",
        9 => "certificate is not yet valid",
        10 => "certificate has expired",
        18 => "self-signed certificate",
        19 => "self-signed certificate in certificate chain",
        20 => "unable to get local issuer certificate",
        25 => "path length constraint exceeded",
        26 => "unsuitable certificate purpose",
        62 => "hostname mismatch",
        64 => "IP address mismatch",
        // OpenSSL 3's number (1.1 had 24, now "unable to get issuer
        // public key").
        79 => "invalid CA certificate",
        _ => "unspecified certificate verification error",
    }
}

#[derive(Clone)]
struct Parsed {
    subject: Vec<u8>,
    issuer: Vec<u8>,
    subject_text: String,
    not_before: i64,
    not_after: i64,
}

fn parse(der: &[u8]) -> Option<Parsed> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    Some(Parsed {
        subject: c.subject().as_raw().to_vec(),
        issuer: c.issuer().as_raw().to_vec(),
        subject_text: crate::show::name_text(c.subject()),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
    })
}

/// Verify `leaf` (DER) against `roots` with `untrusted` intermediates at
/// `now` (seconds since the Unix epoch), for a TLS server, as curl has
/// OpenSSL do it: any certificate in the store may end the chain
/// (X509_V_FLAG_PARTIAL_CHAIN, which curl sets).
pub fn verify_chain(leaf: &[u8], untrusted: &[Vec<u8>], roots: &[Vec<u8>], now: u64) -> Verdict {
    verify_chain_with(leaf, untrusted, roots, now, true)
}

/// [`verify_chain`]; without `partial_chain` (`openssl verify`'s
/// default) only a self-signed certificate of the store ends a chain, and
/// one that is not is taken as an issuer whose own issuer must be found
/// ("unable to get issuer certificate", 2, when it is not).
pub fn verify_chain_with(
    leaf: &[u8],
    untrusted: &[Vec<u8>],
    roots: &[Vec<u8>],
    now: u64,
    partial_chain: bool,
) -> Verdict {
    let self_signed = |d: &Vec<u8>| parse(d).is_some_and(|p| p.subject == p.issuer);
    if !partial_chain && roots.iter().any(|r| !self_signed(r)) {
        let (anchors, issuers): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            roots.iter().cloned().partition(|r| self_signed(r));
        let mut more = untrusted.to_vec();
        more.extend(issuers.iter().cloned());
        return match verify_chain_with(leaf, &more, &anchors, now, true) {
            // The chain stopped at a certificate of the store that is no
            // anchor: OpenSSL looks for its issuer and finds none.
            Verdict::Error {
                code: 20, depth, ..
            } => {
                let path = issuer_path(leaf, &more);
                match path.last() {
                    Some(top) if path.len() > 1 && issuers.contains(&top.0) => {
                        err(2, path.len() - 1, top.1.subject_text.clone())
                    }
                    _ => err(
                        20,
                        depth,
                        path.last()
                            .map(|t| t.1.subject_text.clone())
                            .unwrap_or_default(),
                    ),
                }
            }
            v => v,
        };
    }
    // With a partial chain any certificate of the store is trusted as
    // it is, the server's own among them (pinning it with curl's
    // --cacert): only its dates are left to check.
    if partial_chain && roots.iter().any(|r| r == leaf) {
        if let Some(p) = parse(leaf) {
            let now = i64::try_from(now).unwrap_or(i64::MAX);
            if p.not_before > now {
                return err(9, 0, p.subject_text);
            }
            if p.not_after < now {
                return err(10, 0, p.subject_text);
            }
            return Verdict::Ok;
        }
    }
    if is_ca(leaf) {
        return verify_ca(leaf, untrusted, roots, now);
    }
    verify_leaf(leaf, untrusted, roots, now)
}

/// The leaf and the issuers found for it among `pool`, by name, as
/// (DER, parsed).
fn issuer_path(leaf: &[u8], pool: &[Vec<u8>]) -> Vec<(Vec<u8>, Parsed)> {
    let Some(first) = parse(leaf) else {
        return Vec::new();
    };
    let mut path = vec![(leaf.to_vec(), first)];
    while path.len() < 10 {
        let last = &path.last().expect("non-empty").1;
        if last.subject == last.issuer {
            break;
        }
        let issuer = last.issuer.clone();
        match pool
            .iter()
            .filter(|d| !path.iter().any(|(p, _)| p == *d))
            .find_map(|d| {
                parse(d)
                    .filter(|p| p.subject == issuer)
                    .map(|p| (d.clone(), p))
            }) {
            Some(next) => path.push(next),
            None => break,
        }
    }
    path
}

fn verify_leaf(leaf: &[u8], untrusted: &[Vec<u8>], roots: &[Vec<u8>], now: u64) -> Verdict {
    let Some(leaf_p) = parse(leaf) else {
        return err(7, 0, String::new());
    };
    // The path OpenSSL would build from the presented certificates: the
    // leaf, then each issuer found among the untrusted ones.
    let mut path = vec![leaf_p];
    while path.len() < 8 {
        let last = path.last().expect("non-empty");
        if last.subject == last.issuer {
            break;
        }
        let next = untrusted
            .iter()
            .filter_map(|d| parse(d))
            .find(|p| p.subject == last.issuer);
        match next {
            Some(p) => path.push(p),
            None => break,
        }
    }
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now));
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors: Vec<_> = root_ders
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();
    let inter: Vec<CertificateDer<'_>> = untrusted
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let leaf_der = CertificateDer::from(leaf);
    let ee = match EndEntityCert::try_from(&leaf_der) {
        Ok(e) => e,
        Err(_) => return err(7, 0, path[0].subject_text.clone()),
    };
    let verify_at = |time: UnixTime| {
        ee.verify_for_usage(
            ALL_VERIFICATION_ALGS,
            &anchors,
            &inter,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
    };
    let mut result = verify_at(time);
    // webpki looks at a certificate's dates before its issuer; OpenSSL
    // builds the chain first (the issuers found by name among the
    // untrusted certificates, then a trusted one), so an out-of-date
    // certificate whose chain ends at no trusted root is "self-signed" or
    // "unable to get local issuer" to it.
    if matches!(
        result,
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
    ) {
        let top = path.last().expect("non-empty");
        let self_signed = top.subject == top.issuer;
        let anchored = roots.iter().any(|r| {
            if self_signed {
                // The same certificate trusted.
                untrusted
                    .iter()
                    .chain(std::iter::once(&leaf.to_vec()))
                    .any(|d| d == r)
                    && parse(r).is_some_and(|rp| rp.subject == top.subject)
            } else {
                parse(r).is_some_and(|rp| rp.subject == top.issuer)
            }
        });
        if !anchored {
            result = Err(webpki::Error::UnknownIssuer);
        }
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    match result {
        // webpki takes a trust anchor as a name and a key; OpenSSL checks
        // its dates like any certificate's (internal_verify, from the top
        // of the chain down).
        Ok(_) => anchor_dates(leaf, untrusted, roots, now),
        Err(e) => {
            use webpki::Error as E;
            let at = |pred: &dyn Fn(&Parsed) -> bool| path.iter().position(pred).unwrap_or(0);
            match e {
                E::CertExpired { .. } => {
                    let d = at(&|p| p.not_after < now);
                    err(10, d, path[d].subject_text.clone())
                }
                E::CertNotValidYet { .. } => {
                    let d = at(&|p| p.not_before > now);
                    err(9, d, path[d].subject_text.clone())
                }
                E::UnknownIssuer => {
                    let last = path.len() - 1;
                    let top = &path[last];
                    if top.subject == top.issuer {
                        let code = if last == 0 { 18 } else { 19 };
                        err(code, last, top.subject_text.clone())
                    } else {
                        err(20, last, top.subject_text.clone())
                    }
                }
                E::InvalidSignatureForPublicKey
                | E::UnsupportedSignatureAlgorithmContext(_)
                | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                    signature_verdict(leaf, untrusted, roots, now)
                }
                E::CaUsedAsEndEntity => err(79, 0, path[0].subject_text.clone()),
                // Named at the issuer that is no CA, as OpenSSL's
                // check_chain names it.
                E::EndEntityUsedAsCa => {
                    let path = issuer_path(leaf, untrusted);
                    match (1..path.len()).find(|&i| !is_ca(&path[i].0)) {
                        Some(d) => err(79, d, path[d].1.subject_text.clone()),
                        None => err(
                            79,
                            0,
                            path.first()
                                .map(|p| p.1.subject_text.clone())
                                .unwrap_or_default(),
                        ),
                    }
                }
                E::RequiredEkuNotFoundContext(_) => err(26, 0, path[0].subject_text.clone()),
                E::PathLenConstraintViolated => {
                    let (d, subject) = path_len_exceeded(leaf, untrusted)
                        .unwrap_or((0, path[0].subject_text.clone()));
                    err(25, d, subject)
                }
                _ => err(1, 0, path[0].subject_text.clone()),
            }
        }
    }
}

/// The first CA of `leaf`'s chain (by name among `untrusted`) with more
/// CAs below it than its pathLenConstraint allows (RFC 5280 §4.2.1.9;
/// OpenSSL's check_chain: self-issued ones below do not count), as
/// (depth, subject).
fn path_len_exceeded(leaf: &[u8], untrusted: &[Vec<u8>]) -> Option<(usize, String)> {
    let path = issuer_path(leaf, untrusted);
    let mut below = 0u64;
    for (i, (der, p)) in path.iter().enumerate().skip(1) {
        let limit = X509Certificate::from_der(der).ok().and_then(|(_, c)| {
            c.basic_constraints()
                .ok()
                .flatten()
                .and_then(|b| b.value.path_len_constraint)
        });
        if limit.is_some_and(|l| below > u64::from(l)) {
            return Some((i, p.subject_text.clone()));
        }
        if p.subject != p.issuer {
            below += 1;
        }
    }
    None
}

/// A certificate as found: its DER and what was read of it.
type Found = (Vec<u8>, Parsed);

/// The chain OpenSSL would build for `leaf`, trusted issuers first at
/// each step (X509_V_FLAG_TRUSTED_FIRST) and, among trusted candidates,
/// one valid at `now` first (X509_STORE_CTX_get1_issuer), then the
/// untrusted ones by name and key identifier; and the trusted
/// certificate that ends it, if any (the top itself when it is in the
/// store: a partial chain, or a self-signed certificate trusted as is).
fn anchored_path(
    leaf: &[u8],
    untrusted: &[Vec<u8>],
    roots: &[Vec<u8>],
    now: i64,
) -> (Vec<Found>, Option<Found>) {
    let Some(first) = parse(leaf) else {
        return (Vec::new(), None);
    };
    let mut path: Vec<Found> = vec![(leaf.to_vec(), first)];
    while path.len() < 10 {
        let (der, top) = path.last().expect("non-empty");
        if roots.iter().any(|r| r == der) {
            let anchor = path.last().cloned();
            return (path, anchor);
        }
        let self_issued = top.subject == top.issuer;
        let mut trusted: Vec<Found> = roots
            .iter()
            .filter(|r| !self_issued && issued(r, der))
            .filter_map(|r| parse(r).map(|p| (r.clone(), p)))
            .collect();
        if !trusted.is_empty() {
            let valid = trusted
                .iter()
                .position(|(_, p)| p.not_before <= now && now <= p.not_after)
                .unwrap_or(0);
            return (path, Some(trusted.swap_remove(valid)));
        }
        if self_issued {
            break;
        }
        let next = untrusted
            .iter()
            .filter(|d| !path.iter().any(|(p, _)| p == *d))
            .find(|d| issued(d, der))
            .and_then(|d| parse(d).map(|p| (d.clone(), p)));
        match next {
            Some(n) => path.push(n),
            None => break,
        }
    }
    (path, None)
}

/// Whether `issuer` may have issued `cert` as OpenSSL's X509_check_issued
/// judges it: the names, and the key identifiers where both are given
/// (the signature is checked later: a bad one is error 7).
fn issued(issuer: &[u8], cert: &[u8]) -> bool {
    let (Ok((_, i)), Ok((_, c))) = (
        X509Certificate::from_der(issuer),
        X509Certificate::from_der(cert),
    ) else {
        return false;
    };
    if i.subject().as_raw() != c.issuer().as_raw() {
        return false;
    }
    let ski = i
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    let aki = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    !matches!((ski, aki), (Some(s), Some(a)) if s != a)
}

/// Whether `issuer`'s key verifies `cert`'s signature.
fn signs(issuer: &[u8], cert: &[u8]) -> bool {
    match (
        X509Certificate::from_der(issuer),
        X509Certificate::from_der(cert),
    ) {
        (Ok((_, i)), Ok((_, c))) => c.verify_signature(Some(i.public_key())).is_ok(),
        _ => false,
    }
}

/// After webpki accepted the chain: the dates of the trusted certificate
/// that ends it, which webpki does not look at (9 or 10 at its depth).
fn anchor_dates(leaf: &[u8], untrusted: &[Vec<u8>], roots: &[Vec<u8>], now: i64) -> Verdict {
    let (path, anchor) = anchored_path(leaf, untrusted, roots, now);
    let Some((der, p)) = anchor else {
        return Verdict::Ok;
    };
    let depth = if path.last().is_some_and(|(d, _)| *d == der) {
        path.len() - 1
    } else {
        path.len()
    };
    if p.not_before > now {
        return err(9, depth, p.subject_text);
    }
    if p.not_after < now {
        return err(10, depth, p.subject_text);
    }
    Verdict::Ok
}

/// A signature webpki could not verify: where OpenSSL would stop. A
/// trusted certificate with the issuer's name but another key identifier
/// is no issuer to it: "self-signed certificate" (18, 19) or "unable to
/// get local issuer certificate" (20) at the top of the chain; otherwise
/// the first certificate, from the top down, whose issuer's key does not
/// verify it (7).
fn signature_verdict(leaf: &[u8], untrusted: &[Vec<u8>], roots: &[Vec<u8>], now: i64) -> Verdict {
    let (path, anchor) = anchored_path(leaf, untrusted, roots, now);
    let Some((top_der, top)) = path.last() else {
        return err(7, 0, String::new());
    };
    let last = path.len() - 1;
    let Some((anchor_der, _)) = anchor else {
        let code = match (top.subject == top.issuer, last) {
            (true, 0) => 18,
            (true, _) => 19,
            (false, _) => 20,
        };
        return err(code, last, top.subject_text.clone());
    };
    if anchor_der != *top_der && !signs(&anchor_der, top_der) {
        return err(7, last, top.subject_text.clone());
    }
    for i in (0..last).rev() {
        if !signs(&path[i + 1].0, &path[i].0) {
            return err(7, i, path[i].1.subject_text.clone());
        }
    }
    err(7, 0, path[0].1.subject_text.clone())
}

fn err(code: u32, depth: usize, subject: String) -> Verdict {
    Verdict::Error {
        code,
        depth,
        subject,
        text: error_text(code),
    }
}

/// Whether a certificate says it is a CA (basicConstraints CA:TRUE).
fn is_ca(der: &[u8]) -> bool {
    X509Certificate::from_der(der)
        .ok()
        .and_then(|(_, c)| c.basic_constraints().ok().flatten().map(|b| b.value.ca))
        .unwrap_or(false)
}

/// OpenSSL's verification of a chain whose first certificate is a CA's,
/// done by hand (webpki verifies only end-entity certificates): the chain
/// built by name — a trusted issuer first, as OpenSSL's default
/// `X509_V_FLAG_TRUSTED_FIRST`, then the untrusted ones — its issuers
/// CAs (79), then from the top down each signature by its issuer's key
/// (7) and each certificate's dates (9, 10). No purpose is checked, as
/// `openssl verify` checks none unless asked.
/// (A CA certificate as the one to verify — `openssl verify -CAfile
/// root.pem intermediate.pem` — OpenSSL checks like any other, where
/// webpki takes only end-entity certificates. Without a partial chain
/// every certificate of `roots` is self-signed here.)
fn verify_ca(target: &[u8], untrusted: &[Vec<u8>], roots: &[Vec<u8>], now: u64) -> Verdict {
    let parse_all = |ders: &[Vec<u8>]| -> Vec<(Vec<u8>, Parsed)> {
        ders.iter()
            .filter_map(|d| parse(d).map(|p| (d.clone(), p)))
            .collect()
    };
    let (roots, untrusted) = (parse_all(roots), parse_all(untrusted));
    let Some(first) = parse(target) else {
        return err(7, 0, String::new());
    };
    let mut chain: Vec<(Vec<u8>, Parsed)> = vec![(target.to_vec(), first)];
    let mut anchored = false;
    while chain.len() < 10 {
        let (der, last) = chain.last().expect("non-empty");
        if roots.iter().any(|(r, _)| r == der) {
            anchored = true;
            break;
        }
        let self_issued = last.subject == last.issuer;
        if let Some((d, p)) = roots
            .iter()
            .find(|(_, p)| p.subject == last.issuer && !self_issued)
        {
            chain.push((d.clone(), p.clone()));
            anchored = true;
            break;
        }
        if self_issued {
            break;
        }
        match untrusted.iter().find(|(_, p)| p.subject == last.issuer) {
            Some((d, p)) if !chain.iter().any(|(c, _)| c == d) => {
                chain.push((d.clone(), p.clone()));
            }
            _ => break,
        }
    }
    let top = chain.len() - 1;
    if !anchored {
        let (_, t) = &chain[top];
        let code = match (t.subject == t.issuer, top) {
            (true, 0) => 18,
            (true, _) => 19,
            (false, _) => 20,
        };
        return err(code, top, t.subject_text.clone());
    }
    if let Some(d) = (1..chain.len()).find(|&i| !is_ca(&chain[i].0)) {
        return err(79, d, chain[d].1.subject_text.clone());
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    for i in (0..chain.len()).rev() {
        let (der, p) = &chain[i];
        // The trust anchor's own signature is not checked (OpenSSL checks
        // it only with X509_V_FLAG_CHECK_SS_SIGNATURE).
        if i < top {
            let signed = X509Certificate::from_der(der)
                .ok()
                .zip(X509Certificate::from_der(&chain[i + 1].0).ok());
            let good = signed.is_some_and(|((_, c), (_, issuer))| {
                c.verify_signature(Some(issuer.public_key())).is_ok()
            });
            if !good {
                return err(7, i, p.subject_text.clone());
            }
        }
        if p.not_before > now {
            return err(9, i, p.subject_text.clone());
        }
        if p.not_after < now {
            return err(10, i, p.subject_text.clone());
        }
    }
    Verdict::Ok
}
