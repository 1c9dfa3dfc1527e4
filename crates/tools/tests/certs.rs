//! `cert`: a lesson's PKI made on a host, shown and verified with
//! OpenSSL's verdicts.

mod common;

use common::{find, run_in, Ran};

const NET: &str = r#"
seed = 3
end = "30h"

[[host]]
name = "a"
addr = "10.0.1.2/24"
"#;

fn pki(extra: &[(&str, &str, &str)]) -> Vec<Ran> {
    let mut runs = vec![
        ("0s", "a", "cert ca 'Lab Root CA' --out /etc/ssl/root.pem --key-out /etc/ssl/root.key --days 3650"),
        ("0s", "a", "cert intermediate 'Lab Issuing CA' --ca /etc/ssl/root.pem --ca-key /etc/ssl/root.key --out /etc/ssl/int.pem --key-out /etc/ssl/int.key"),
        ("0s", "a", "cert leaf www.lab.test --san www.lab.test --san 10.0.2.2 --ca /etc/ssl/int.pem --ca-key /etc/ssl/int.key --out /etc/ssl/www.pem --key-out /etc/ssl/www.key"),
    ];
    runs.extend_from_slice(extra);
    run_in(NET, &runs)
}

#[test]
fn a_chain_made_on_a_host_verifies_and_reads_like_openssl() {
    let r = pki(&[
        ("1s", "a", "cert show /etc/ssl/www.pem"),
        (
            "1s",
            "a",
            "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem /etc/ssl/www.pem",
        ),
        (
            "1s",
            "a",
            "cert verify --CAfile /etc/ssl/root.pem /etc/ssl/www.pem",
        ),
        ("1s", "a", "sha256sum /etc/ssl/www.pem"),
    ]);
    let made = find(
        &r,
        "a",
        "cert ca 'Lab Root CA' --out /etc/ssl/root.pem --key-out /etc/ssl/root.key --days 3650",
        0,
    );
    assert_eq!(
        made.stdout,
        ["cert: wrote /etc/ssl/root.pem and its key /etc/ssl/root.key"]
    );
    let show = find(&r, "a", "cert show /etc/ssl/www.pem", 0)
        .stdout
        .join("\n");
    assert!(
        show.contains("        Issuer: CN = Lab Issuing CA\n"),
        "{show}"
    );
    assert!(
        show.contains("        Subject: CN = www.lab.test\n"),
        "{show}"
    );
    assert!(
        show.contains("DNS:www.lab.test, IP Address:10.0.2.2"),
        "{show}"
    );
    assert!(
        show.contains("Not Before: Jan  1 00:00:00 2025 GMT"),
        "the simulator's clock starts at 2025-01-01: {show}"
    );
    let ok = find(
        &r,
        "a",
        "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem /etc/ssl/www.pem",
        0,
    );
    assert_eq!(
        (ok.exit, ok.stdout.as_slice()),
        (Some(0), &["/etc/ssl/www.pem: OK".to_string()][..])
    );
    let missing = find(
        &r,
        "a",
        "cert verify --CAfile /etc/ssl/root.pem /etc/ssl/www.pem",
        0,
    );
    assert_eq!(missing.exit, Some(2));
    assert_eq!(
        missing.stderr,
        [
            "CN = www.lab.test",
            "error 20 at 0 depth lookup: unable to get local issuer certificate",
            "error /etc/ssl/www.pem: verification failed"
        ]
    );
    // The seed made the keys: the same run makes the same certificate.
    let again = pki(&[("1s", "a", "sha256sum /etc/ssl/www.pem")]);
    assert_eq!(
        find(&r, "a", "sha256sum /etc/ssl/www.pem", 0).stdout,
        find(&again, "a", "sha256sum /etc/ssl/www.pem", 0).stdout
    );
}

#[test]
fn self_signed_and_expired_certificates_fail_as_openssl_says() {
    let r = pki(&[
        ("0s", "a", "cert self-signed selfie.lab.test --out /tmp/self.pem --key-out /tmp/self.key"),
        ("0s", "a", "cert leaf old.lab.test --ca /etc/ssl/int.pem --ca-key /etc/ssl/int.key --days 1 --out /tmp/old.pem --key-out /tmp/old.key"),
        ("1s", "a", "cert verify --CAfile /etc/ssl/root.pem /tmp/self.pem"),
        ("1s", "a", "cert verify --CAfile /tmp/self.pem /tmp/self.pem"),
        // A day and an hour later, the one-day certificate has expired.
        ("90000s", "a", "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem /tmp/old.pem"),
        ("1s", "a", "cert show /nonexistent.pem"),
    ]);
    let selfie = find(
        &r,
        "a",
        "cert verify --CAfile /etc/ssl/root.pem /tmp/self.pem",
        0,
    );
    assert_eq!(
        selfie.stderr[1],
        "error 18 at 0 depth lookup: self-signed certificate"
    );
    let trusted = find(
        &r,
        "a",
        "cert verify --CAfile /tmp/self.pem /tmp/self.pem",
        0,
    );
    assert_eq!(trusted.exit, Some(0), "{trusted:?}");
    let old = find(
        &r,
        "a",
        "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem /tmp/old.pem",
        0,
    );
    assert_eq!(
        old.stderr[1], "error 10 at 0 depth lookup: certificate has expired",
        "{old:?}"
    );
    let none = find(&r, "a", "cert show /nonexistent.pem", 0);
    assert_eq!(
        none.stderr,
        ["cert: /nonexistent.pem: No such file or directory"]
    );
    assert_eq!(none.exit, Some(1));
}

#[test]
fn bad_command_lines_say_what_is_wrong() {
    for (cmd, want) in [
        ("cert", "what should cert do?"),
        (
            "cert self-signed '' --out a --key-out b",
            "the common name must be 1 to 64 characters",
        ),
        (
            "cert leaf x --out a --key-out b",
            "needs --ca CERT and --ca-key KEY",
        ),
        ("cert ca x --out a", "needs --key-out FILE"),
        (
            "cert ca x --out /tmp/a --key-out /tmp/./a",
            "--out and --key-out are the same file (/tmp/a)",
        ),
        (
            "cert ca x --out a --key-out b --days 0",
            "--days: `0` is not 1..36500",
        ),
        (
            "cert ca x --out a --key-out b --start yesterday",
            "--start: `yesterday`",
        ),
        (
            "cert ca x --out a --key-out b --start -99999999d",
            "--start: `-99999999d` is not an offset like -30d or +1h (at most 36500d)",
        ),
        (
            "cert ca x --out a --key-out b --start 999999999999999999d",
            "(at most 36500d)",
        ),
        ("cert ca x --san y --out a --key-out b", "--san is for leaf"),
        (
            "cert self-signed x --san 'not a name!' --out a --key-out b",
            "--san: `not a name!` is neither an IPv4 address nor a DNS name",
        ),
        (
            "cert self-signed x --san 999.1.1.1 --out a --key-out b",
            "`999.1.1.1` is neither",
        ),
        (
            "cert self-signed x --san -bad.test --out a --key-out b",
            "`-bad.test` is neither",
        ),
        (
            "cert self-signed x --san a..test --out a --key-out b",
            "`a..test` is neither",
        ),
        ("cert verify x.pem", "needs --CAfile"),
        ("cert frob", "unknown command `frob`"),
    ] {
        let u = tcplab_tools::Command::parse(cmd).expect_err(cmd);
        assert!(u.to_string().contains(want), "{cmd}: {u}");
    }
    // Names, wildcards and addresses are taken.
    let ok = "cert self-signed x --san www.lab.test --san '*.lab.test' --san 10.0.0.1 --san localhost --san a-b.c9 --out a --key-out b";
    tcplab_tools::Command::parse(ok).unwrap_or_else(|u| panic!("{ok}: {u}"));
}

#[test]
fn cas_verify_untrusted_files_add_up_and_a_wrong_ca_key_is_refused() {
    let r = pki(&[
        ("0s", "a", "cert ca 'Other Root' --out /tmp/other.pem --key-out /tmp/other.key"),
        // The intermediate's certificate with the root's key.
        ("0s", "a", "cert leaf bad.lab.test --ca /etc/ssl/int.pem --ca-key /etc/ssl/root.key --out /tmp/bad.pem --key-out /tmp/bad.key"),
        ("0s", "a", "cert leaf bad.lab.test --ca /etc/ssl/www.pem --ca-key /etc/ssl/www.key --out /tmp/bad.pem --key-out /tmp/bad.key"),
        ("1s", "a", "cert verify --CAfile /etc/ssl/root.pem /etc/ssl/root.pem"),
        ("1s", "a", "cert verify --CAfile /etc/ssl/root.pem /etc/ssl/int.pem"),
        ("1s", "a", "cert verify --CAfile /tmp/other.pem /etc/ssl/int.pem"),
        ("1s", "a", "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem --untrusted /tmp/other.pem /etc/ssl/www.pem"),
    ]);
    let wrong_key = find(
        &r,
        "a",
        "cert leaf bad.lab.test --ca /etc/ssl/int.pem --ca-key /etc/ssl/root.key --out /tmp/bad.pem --key-out /tmp/bad.key",
        0,
    );
    assert_eq!(
        (wrong_key.exit, wrong_key.stderr.as_slice()),
        (
            Some(1),
            &["cert: /etc/ssl/int.pem, /etc/ssl/root.key: CA certificate and CA private key do not match".to_string()][..]
        )
    );
    let leaf_as_ca = find(
        &r,
        "a",
        "cert leaf bad.lab.test --ca /etc/ssl/www.pem --ca-key /etc/ssl/www.key --out /tmp/bad.pem --key-out /tmp/bad.key",
        0,
    );
    assert_eq!(leaf_as_ca.exit, Some(1), "{leaf_as_ca:?}");
    assert!(leaf_as_ca.stderr[0].contains("not a CA"), "{leaf_as_ca:?}");
    for (cmd, out) in [
        ("cert verify --CAfile /etc/ssl/root.pem /etc/ssl/root.pem", "/etc/ssl/root.pem: OK"),
        ("cert verify --CAfile /etc/ssl/root.pem /etc/ssl/int.pem", "/etc/ssl/int.pem: OK"),
        (
            "cert verify --CAfile /etc/ssl/root.pem --untrusted /etc/ssl/int.pem --untrusted /tmp/other.pem /etc/ssl/www.pem",
            "/etc/ssl/www.pem: OK",
        ),
    ] {
        let v = find(&r, "a", cmd, 0);
        assert_eq!((v.exit, v.stdout.as_slice()), (Some(0), &[out.to_string()][..]), "{cmd}: {v:?}");
    }
    let other = find(
        &r,
        "a",
        "cert verify --CAfile /tmp/other.pem /etc/ssl/int.pem",
        0,
    );
    assert_eq!(other.exit, Some(2));
    assert_eq!(
        other.stderr[1],
        "error 20 at 0 depth lookup: unable to get local issuer certificate"
    );
}
