//! A small PKI made, shown and verified; OpenSSL agrees where it is
//! installed.

mod common;

use common::{req, T2025, YEAR};
use tcplab_tls::pki::{make, Made, Role};
use tcplab_tls::{pem_certificates, verify_chain, verify_chain_with, x509_text, Verdict};

struct Pki {
    root: Made,
    inter: Made,
    leaf: Made,
}

fn pki() -> Pki {
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
    let leaf = make(&l).unwrap();
    Pki { root, inter, leaf }
}

fn der(pem: &str) -> Vec<u8> {
    pem_certificates(pem.as_bytes()).unwrap().remove(0)
}

fn now() -> u64 {
    (T2025 + YEAR) as u64
}

fn code(v: &Verdict) -> (u32, usize) {
    match v {
        Verdict::Ok => (0, 0),
        Verdict::Error { code, depth, .. } => (*code, *depth),
    }
}

#[test]
fn a_chain_verifies_with_the_root_alone_in_the_store() {
    let p = pki();
    let v = verify_chain(
        &der(&p.leaf.cert_pem),
        &[der(&p.inter.cert_pem)],
        &[der(&p.root.cert_pem)],
        now(),
    );
    assert_eq!(v, Verdict::Ok);
}

#[test]
fn openssl_verdicts_for_what_goes_wrong() {
    let p = pki();
    let (leaf, inter, root) = (
        der(&p.leaf.cert_pem),
        der(&p.inter.cert_pem),
        der(&p.root.cert_pem),
    );
    // The server forgot the intermediate.
    let v = verify_chain(&leaf, &[], std::slice::from_ref(&root), now());
    assert_eq!(code(&v), (20, 0), "{v:?}");
    assert!(matches!(
        v,
        Verdict::Error {
            text: "unable to get local issuer certificate",
            ..
        }
    ));
    // A self-signed leaf.
    let selfsigned = make(&req(Role::Leaf, "selfie.lab.test", 9, None)).unwrap();
    let v = verify_chain(
        &der(&selfsigned.cert_pem),
        &[],
        std::slice::from_ref(&root),
        now(),
    );
    assert_eq!(code(&v), (18, 0), "{v:?}");
    // ... trusted when it is its own root (curl --cacert self.pem).
    let v = verify_chain(
        &der(&selfsigned.cert_pem),
        &[],
        &[der(&selfsigned.cert_pem)],
        now(),
    );
    assert_eq!(v, Verdict::Ok);
    // The whole chain sent, but the root is not in the store.
    let other_root = make(&req(Role::Root, "Other Root", 7, None)).unwrap();
    let v = verify_chain(
        &leaf,
        &[inter.clone(), root.clone()],
        &[der(&other_root.cert_pem)],
        now(),
    );
    assert_eq!(code(&v), (19, 2), "{v:?}");
    // Expired, and not yet valid.
    let late = (T2025 + 6 * YEAR) as u64;
    assert_eq!(
        code(&verify_chain(
            &leaf,
            std::slice::from_ref(&inter),
            std::slice::from_ref(&root),
            late
        ))
        .0,
        10
    );
    let early = (T2025 - YEAR) as u64;
    assert_eq!(
        code(&verify_chain(
            &leaf,
            std::slice::from_ref(&inter),
            std::slice::from_ref(&root),
            early
        ))
        .0,
        9
    );
    // OpenSSL builds the chain before it looks at dates: an expired
    // certificate nobody vouches for is "self-signed" (18) or "unable to
    // get local issuer" (20), not "expired" (curl -k loads no CA file).
    let v = verify_chain(&der(&selfsigned.cert_pem), &[], &[], late);
    assert_eq!(code(&v), (18, 0), "{v:?}");
    let v = verify_chain(&leaf, std::slice::from_ref(&inter), &[], late);
    assert_eq!(code(&v).0, 20, "{v:?}");
    // The whole chain sent, its root not trusted, and the leaf expired:
    // the trust failure comes first (19 at the root's depth), as
    // `openssl verify -CAfile other.pem -untrusted chain.pem` says.
    let other_root = make(&req(Role::Root, "Other Root", 7, None)).unwrap();
    let v = verify_chain(
        &leaf,
        &[inter.clone(), root.clone()],
        &[der(&other_root.cert_pem)],
        late,
    );
    assert_eq!(code(&v), (19, 2), "{v:?}");
    // With its root trusted, an expired leaf is expired.
    let v = verify_chain(&leaf, &[inter], std::slice::from_ref(&root), late);
    assert_eq!(code(&v).0, 10, "{v:?}");
}

#[test]
fn a_ca_certificate_verifies_as_openssl_verify_checks_it() {
    // `openssl verify -CAfile root.pem root.pem` and `... inter.pem`:
    // OK, where webpki alone would call a CA no end entity (24).
    let p = pki();
    let (inter, root) = (der(&p.inter.cert_pem), der(&p.root.cert_pem));
    let store = std::slice::from_ref(&root);
    assert_eq!(verify_chain(&root, &[], store, now()), Verdict::Ok);
    assert_eq!(verify_chain(&inter, &[], store, now()), Verdict::Ok);
    // Not trusted: the root is self-signed (18), the intermediate has no
    // issuer in the store (20), or its chain ends at an untrusted root (19).
    let other = der(&make(&req(Role::Root, "Other Root", 7, None))
        .unwrap()
        .cert_pem);
    let elsewhere = std::slice::from_ref(&other);
    assert_eq!(code(&verify_chain(&root, &[], elsewhere, now())), (18, 0));
    assert_eq!(code(&verify_chain(&inter, &[], elsewhere, now())), (20, 0));
    assert_eq!(
        code(&verify_chain(
            &inter,
            std::slice::from_ref(&root),
            elsewhere,
            now()
        )),
        (19, 1)
    );
    // Dates, from the top down as OpenSSL's internal_verify goes.
    let late = (T2025 + 6 * YEAR) as u64;
    assert_eq!(code(&verify_chain(&inter, &[], store, late)), (10, 1));
    // A signature by another key under the same issuer name (7).
    let impostor = make(&req(Role::Root, "Lab Root CA", 5, None)).unwrap();
    let signed_by_impostor = make(&req(
        Role::Intermediate,
        "Lab Intermediate CA",
        2,
        Some(&impostor),
    ))
    .unwrap();
    assert_eq!(
        code(&verify_chain(
            &der(&signed_by_impostor.cert_pem),
            &[],
            store,
            now()
        )),
        (7, 0)
    );
}

/// `openssl verify` without -partial_chain: a certificate of the CA file
/// that is not self-signed ends no chain (checked against OpenSSL 3.0:
/// `-CAfile i.pem i.pem` is error 20 at 0, `-CAfile i.pem l.pem` error 2
/// at 1); curl sets X509_V_FLAG_PARTIAL_CHAIN, and there both verify.
#[test]
fn only_a_self_signed_certificate_ends_a_chain_without_partial_chain() {
    let p = pki();
    let (leaf, inter) = (der(&p.leaf.cert_pem), der(&p.inter.cert_pem));
    let store = std::slice::from_ref(&inter);
    assert_eq!(
        code(&verify_chain_with(&inter, &[], store, now(), false)),
        (20, 0)
    );
    assert_eq!(
        code(&verify_chain_with(&leaf, &[], store, now(), false)),
        (2, 1)
    );
    assert_eq!(
        verify_chain_with(&leaf, &[], store, now(), true),
        Verdict::Ok
    );
    assert_eq!(verify_chain(&inter, &[], store, now()), Verdict::Ok);
}

#[test]
fn a_ca_key_that_is_not_the_ca_certificates_is_refused() {
    let p = pki();
    // The intermediate's certificate with the root's key: what it signed
    // would name one issuer and carry another's signature.
    let mut r = req(Role::Leaf, "www.lab.test", 3, Some(&p.inter));
    r.issuer = Some((p.inter.cert_pem.clone(), p.root.key_pem.clone()));
    assert_eq!(
        make(&r).unwrap_err(),
        "CA certificate and CA private key do not match"
    );
    // A leaf's certificate cannot issue.
    let r = req(Role::Leaf, "other.lab.test", 4, Some(&p.leaf));
    assert!(make(&r).unwrap_err().contains("not a CA"), "{:?}", make(&r));
}

#[test]
fn the_same_seed_makes_the_same_bytes() {
    let a = pki();
    let b = pki();
    assert_eq!(a.leaf, b.leaf);
    assert_eq!(a.inter, b.inter);
    let other = make(&req(Role::Root, "Lab Root CA", 8, None)).unwrap();
    assert_ne!(other.cert_pem, a.root.cert_pem);
}

#[test]
fn a_certificate_reads_like_openssl_x509_text() {
    let p = pki();
    let t = x509_text(&der(&p.leaf.cert_pem)).unwrap();
    for want in [
        "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Serial Number: 3 (0x3)\n        Signature Algorithm: ED25519\n",
        "        Issuer: CN = Lab Intermediate CA\n        Validity\n            Not Before: Jan  1 00:00:00 2025 GMT\n            Not After : Dec 31 00:00:00 2029 GMT\n        Subject: CN = www.lab.test\n",
        "            Public Key Algorithm: ED25519\n                ED25519 Public-Key:\n                pub:\n",
        "            X509v3 Subject Alternative Name: \n                DNS:www.lab.test, IP Address:10.0.2.2\n",
        "                TLS Web Server Authentication\n",
        "                CA:FALSE\n",
        "sha256 Fingerprint=",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    // A value with a comma is quoted, as OpenSSL prints it.
    let acme = make(&req(Role::Root, "Acme, Inc", 11, None)).unwrap();
    let t = x509_text(&der(&acme.cert_pem)).unwrap();
    assert!(t.contains("        Subject: CN = \"Acme, Inc\"\n"), "{t}");
    let root = x509_text(&der(&p.root.cert_pem)).unwrap();
    assert!(root.contains("                CA:TRUE\n"), "{root}");
    assert!(root.contains("Issuer: CN = Lab Root CA\n"), "{root}");
    // Words for a person, not the DER parser's debugging value.
    for der in [&b"not a certificate"[..], &[0, 0, 0], &[0x30, 0x82, 0x01]] {
        assert_eq!(
            x509_text(der).unwrap_err(),
            "not an X.509 certificate (its DER encoding does not parse)"
        );
    }
    assert!(pem_certificates(b"nothing here").is_err());
}

#[test]
fn openssl_accepts_the_chain_and_reads_the_same_fields() {
    let Ok(out) = std::process::Command::new("openssl")
        .arg("version")
        .output()
    else {
        // CI installs openssl and says so with TCPLAB_REQUIRE_ROOT=1.
        assert!(
            std::env::var("TCPLAB_REQUIRE_ROOT").as_deref() != Ok("1"),
            "no openssl, and TCPLAB_REQUIRE_ROOT=1 requires this test to run"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped openssl_accepts_the_chain_and_reads_the_same_fields: no openssl");
        }
        return;
    };
    assert!(out.status.success());
    let p = pki();
    let dir = std::env::temp_dir().join(format!("tcplab-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let w = |n: &str, s: &str| {
        let f = dir.join(n);
        std::fs::write(&f, s).unwrap();
        f
    };
    let (root, inter, leaf) = (
        w("root.pem", &p.root.cert_pem),
        w("int.pem", &p.inter.cert_pem),
        w("leaf.pem", &p.leaf.cert_pem),
    );
    // openssl verify's clock is the real one: these certificates are valid
    // from 2025 to 2029.
    let v = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&inter)
        .arg(&leaf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&v.stdout);
    let x = std::process::Command::new("openssl")
        .args(["x509", "-text", "-noout", "-in"])
        .arg(&leaf)
        .output()
        .unwrap();
    let openssl = String::from_utf8_lossy(&x.stdout).to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.trim_end().ends_with(": OK"), "{text}");
    let ours = x509_text(&der(&p.leaf.cert_pem)).unwrap();
    for field in [
        "Serial Number:",
        "Issuer:",
        "Not Before:",
        "Not After :",
        "Subject:",
        "DNS:",
    ] {
        let pick = |t: &str| {
            t.lines()
                .find(|l| l.contains(field))
                .map(str::trim)
                .map(String::from)
        };
        assert_eq!(
            pick(&ours),
            pick(&openssl),
            "{field}\nours:\n{ours}\nopenssl:\n{openssl}"
        );
    }
}

/// What webpki leaves out and OpenSSL checks: the trusted root's own
/// dates (an expired or not yet valid root is refused at its depth), and
/// a trusted certificate with the issuer's name but another key, which is
/// no issuer at all ("unable to get local issuer certificate", or
/// "self-signed certificate" for a self-signed leaf), not a signature
/// failure.
#[test]
fn a_roots_dates_and_key_count_as_openssl_counts_them() {
    let p = pki();
    let (leaf, inter) = (der(&p.leaf.cert_pem), der(&p.inter.cert_pem));
    // A root valid only from 2025 + 2 years, and one that expired after
    // 2025 + 6 months, each with the real root's name and key (seed 1).
    let mut late = req(Role::Root, "Lab Root CA", 1, None);
    late.not_before = T2025 + 2 * YEAR;
    late.not_after = T2025 + 5 * YEAR;
    let mut old = req(Role::Root, "Lab Root CA", 1, None);
    old.not_after = T2025 + YEAR / 2;
    let chain = std::slice::from_ref(&inter);
    let v = verify_chain(&leaf, chain, &[der(&make(&late).unwrap().cert_pem)], now());
    assert_eq!(code(&v), (9, 2), "{v:?}");
    let v = verify_chain(&leaf, chain, &[der(&make(&old).unwrap().cert_pem)], now());
    assert_eq!(code(&v), (10, 2), "{v:?}");
    // The same name, another key (seed 5).
    let imposter = der(&make(&req(Role::Root, "Lab Root CA", 5, None))
        .unwrap()
        .cert_pem);
    let v = verify_chain(&leaf, chain, std::slice::from_ref(&imposter), now());
    assert_eq!(code(&v), (20, 1), "{v:?}");
    let a = make(&req(Role::Leaf, "self.lab.test", 11, None)).unwrap();
    let b = make(&req(Role::Leaf, "self.lab.test", 12, None)).unwrap();
    let v = verify_chain(&der(&a.cert_pem), &[], &[der(&b.cert_pem)], now());
    assert_eq!(code(&v), (18, 0), "{v:?}");
    // The real root still does — also behind an expired copy of itself
    // in the store (OpenSSL takes the issuer that is valid now).
    let v = verify_chain(&leaf, chain, &[der(&p.root.cert_pem)], now());
    assert_eq!(v, Verdict::Ok);
    let both = [der(&make(&old).unwrap().cert_pem), der(&p.root.cert_pem)];
    let v = verify_chain(&leaf, chain, &both, now());
    assert_eq!(v, Verdict::Ok);
}

/// RFC 5280 §4.2.1.9: a CA under an issuer with pathlen:0 is refused when
/// asked for, and a chain that holds one (made here with rcgen directly)
/// is "path length constraint exceeded" (25) at the constrained CA's
/// depth, as OpenSSL says.
#[test]
fn path_length_constraints_are_kept() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let p = pki();
    let refused = make(&req(Role::Intermediate, "Sub CA", 21, Some(&p.inter)));
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("pathlen:0")),
        "{:?}",
        refused.map(|m| m.cert_pem)
    );
    let ca = |name: &str, limit: BasicConstraints| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(limit);
        params
    };
    let root_key = KeyPair::generate().unwrap();
    let root = ca("R", BasicConstraints::Unconstrained)
        .self_signed(&root_key)
        .unwrap();
    let int_key = KeyPair::generate().unwrap();
    let int = ca("I", BasicConstraints::Constrained(0))
        .signed_by(&int_key, &root, &root_key)
        .unwrap();
    let sub_key = KeyPair::generate().unwrap();
    let sub = ca("S", BasicConstraints::Unconstrained)
        .signed_by(&sub_key, &int, &int_key)
        .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["www.lab.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &sub, &sub_key)
        .unwrap();
    let v = verify_chain(
        leaf.der(),
        &[sub.der().to_vec(), int.der().to_vec()],
        &[root.der().to_vec()],
        now(),
    );
    assert_eq!(code(&v), (25, 2), "{v:?}");
}

/// curl sets X509_V_FLAG_PARTIAL_CHAIN: the server's own certificate in
/// `--cacert` is trusted as it is, though it is no CA and not
/// self-signed (its dates still checked); `openssl verify`, without the
/// flag, does not take it.
#[test]
fn a_pinned_leaf_is_trusted_with_a_partial_chain() {
    let p = pki();
    let leaf = der(&p.leaf.cert_pem);
    let store = std::slice::from_ref(&leaf);
    assert_eq!(verify_chain(&leaf, &[], store, now()), Verdict::Ok);
    assert_ne!(
        verify_chain_with(&leaf, &[], store, now(), false),
        Verdict::Ok
    );
    let late = (T2025 + 6 * YEAR) as u64;
    assert_eq!(code(&verify_chain(&leaf, &[], store, late)), (10, 0));
}

/// A certificate signed by one that is no CA (made with openssl, as
/// tcplab's own `make` refuses to): OpenSSL 3's "invalid CA certificate"
/// (X509_V_ERR_INVALID_CA, 79), at the depth of the issuer that is not a
/// CA, as `openssl verify` reports it.
#[test]
fn an_issuer_that_is_no_ca_is_named_at_its_depth() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("TCPLAB_REQUIRE_ROOT").as_deref() != Ok("1"),
            "no openssl, and TCPLAB_REQUIRE_ROOT=1 requires this test to run"
        );
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped an_issuer_that_is_no_ca_is_named_at_its_depth: no openssl");
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("tcplab-notca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sh = |script: &str| {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    sh(&format!(
        "openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 30 -subj /CN=Root \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
    ));
    sh(&format!(
        "openssl req {ec} -keyout notca.key -out notca.csr -subj /CN=notca && \
         printf 'basicConstraints=CA:FALSE\\n' > notca.ext && \
         openssl x509 -req -in notca.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
           -out notca.pem -days 30 -extfile notca.ext"
    ));
    sh(&format!(
        "openssl req {ec} -keyout leaf.key -out leaf.csr -subj /CN=leaf.test && \
         printf 'subjectAltName=DNS:leaf.test\\nextendedKeyUsage=serverAuth\\n' > leaf.ext && \
         openssl x509 -req -in leaf.csr -CA notca.pem -CAkey notca.key -CAcreateserial \
           -out leaf.pem -days 30 -extfile leaf.ext"
    ));
    let read = |n: &str| der(&std::fs::read_to_string(dir.join(n)).unwrap());
    // (openssl stamps the certificates with the real clock.)
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let v = verify_chain(
        &read("leaf.pem"),
        &[read("notca.pem")],
        &[read("ca.pem")],
        now,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code(&v), (79, 1), "{v:?}");
    match v {
        Verdict::Error { subject, text, .. } => {
            assert_eq!(subject, "CN = notca");
            assert_eq!(text, "invalid CA certificate");
        }
        Verdict::Ok => unreachable!(),
    }
}
