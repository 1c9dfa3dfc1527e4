//! curl against `serve https` in the reference network: a PKI made on the
//! server, its root fetched by the client over plain HTTP, and every way a
//! certificate check ends, in curl's words and exit codes.

mod common;

use common::{find, run_in, www_net, Ran};

const SERVER_PKI: [(&str, &str, &str); 8] = [
    ("0s", "server", "cert ca 'Lab Root CA' --out /etc/ssl/root.pem --key-out /etc/ssl/root.key --days 3650"),
    ("0s", "server", "cert intermediate 'Lab Issuing CA' --ca /etc/ssl/root.pem --ca-key /etc/ssl/root.key --out /etc/ssl/int.pem --key-out /etc/ssl/int.key"),
    ("0s", "server", "cert leaf server --san server --ca /etc/ssl/int.pem --ca-key /etc/ssl/int.key --out /etc/ssl/leaf.pem --key-out /etc/ssl/leaf.key"),
    ("0s", "server", "cert leaf server --san server --ca /etc/ssl/int.pem --ca-key /etc/ssl/int.key --start -30d --days 10 --out /etc/ssl/old.pem --key-out /etc/ssl/old.key"),
    ("0.2s", "server", "serve https --cert /etc/ssl/leaf.pem --chain /etc/ssl/int.pem --key /etc/ssl/leaf.key"),
    ("0.2s", "server", "serve https --port 8443 --cert /etc/ssl/leaf.pem --key /etc/ssl/leaf.key"),
    ("0.2s", "server", "serve https --port 9443 --cert /etc/ssl/old.pem --chain /etc/ssl/int.pem --key /etc/ssl/old.key"),
    ("0.2s", "server", "serve http --port 8080 --root /etc/ssl"),
];

fn with_pki(client: &[(&str, &str)]) -> Vec<Ran> {
    let mut runs: Vec<(&str, &str, &str)> = SERVER_PKI.to_vec();
    runs.push(("0.2s", "server", "serve https --port 7443"));
    runs.push(("0.2s", "server", "serve discard"));
    runs.push(("0.2s", "server", "serve https --port 6443 --tls-max 1.2 --cert /etc/ssl/leaf.pem --chain /etc/ssl/int.pem --key /etc/ssl/leaf.key"));
    runs.push((
        "1s",
        "client",
        "curl -sS -o /etc/ssl/root.pem http://server:8080/root.pem",
    ));
    for (at, cmd) in client {
        runs.push((at, "client", cmd));
    }
    run_in(&www_net(), &runs)
}

fn ran<'a>(r: &'a [Ran], cmd: &str) -> &'a Ran {
    find(r, "client", cmd, 0)
}

const HELP: [&str; 5] = [
    "More details here: https://curl.se/docs/sslcerts.html",
    "",
    "curl failed to verify the legitimacy of the server and therefore could not",
    "establish a secure connection to it. To learn more about this situation and",
    "how to fix it, please visit the web page mentioned above.",
];

fn refused(r: &Ran, message: &str) {
    assert_eq!(r.exit, Some(60), "{r:?}");
    let mut want = vec![format!("curl: (60) {message}")];
    want.extend(HELP.iter().map(|s| s.to_string()));
    assert_eq!(r.stderr, want, "{r:?}");
}

#[test]
fn verified_chain_and_every_refusal() {
    let ok = "curl -v --cacert /etc/ssl/root.pem https://server/hello.txt";
    let w = "curl -s --cacert /etc/ssl/root.pem -w %{ssl_verify_result},%{scheme},%{num_certs}. https://server/hello.txt https://server/sub/a.txt";
    let missing =
        "curl -sS --cacert /etc/ssl/root.pem -w %{ssl_verify_result} https://server:8443/hello.txt";
    let expired =
        "curl -sS --cacert /etc/ssl/root.pem -w %{ssl_verify_result} https://server:9443/hello.txt";
    let by_ip =
        "curl -sS --cacert /etc/ssl/root.pem -w %{ssl_verify_result} https://10.99.3.2/hello.txt";
    let untrusted = "curl -sS -w %{ssl_verify_result} https://server/hello.txt";
    let r = with_pki(&[
        ("2s", ok),
        ("3s", w),
        ("4s", missing),
        ("5s", expired),
        ("6s", by_ip),
        ("7s", untrusted),
    ]);
    let v = ran(&r, ok);
    assert_eq!((v.exit, v.out()), (Some(0), "plain text file\n".into()));
    let want_prefix = [
        "*   Trying 10.99.3.2:443...",
        "* Connected to server (10.99.3.2) port 443 (#0)",
        "* ALPN: offers http/1.1",
        "* TLSv1.3 (OUT), TLS handshake, Client hello (1):",
        "*  CAfile: /etc/ssl/root.pem",
        "*  CApath: none",
        "* TLSv1.3 (IN), TLS handshake, Server hello (2):",
        "* TLSv1.3 (IN), TLS handshake, Encrypted Extensions (8):",
        "* TLSv1.3 (IN), TLS handshake, Certificate (11):",
        "* TLSv1.3 (IN), TLS handshake, CERT verify (15):",
        "* TLSv1.3 (IN), TLS handshake, Finished (20):",
        "* TLSv1.3 (OUT), TLS change cipher, Change cipher spec (1):",
        "* TLSv1.3 (OUT), TLS handshake, Finished (20):",
        "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384",
        "* ALPN: server accepted http/1.1",
        "* Server certificate:",
        "*  subject: CN=server",
        "*  start date: Jan  1 00:00:00 2025 GMT",
        "*  expire date: Jan  1 00:00:00 2026 GMT",
        "*  subjectAltName: host \"server\" matched cert's \"server\"",
        "*  issuer: CN=Lab Issuing CA",
        "*  SSL certificate verify ok.",
        "* using HTTP/1.1",
        "> GET /hello.txt HTTP/1.1\r",
    ];
    assert_eq!(
        &v.stderr[..want_prefix.len()],
        want_prefix,
        "{:#?}",
        v.stderr
    );

    // The server's two TLS 1.3 session tickets, read on the way to the
    // response, as curl 7.88 shows them (the second replaces the first in
    // its session cache).
    let at = v
        .stderr
        .iter()
        .position(|l| l.starts_with("< HTTP/1.1 200"))
        .expect("a response");
    assert_eq!(
        v.stderr[at - 3..at],
        [
            "* TLSv1.3 (IN), TLS handshake, Newsession Ticket (4):",
            "* TLSv1.3 (IN), TLS handshake, Newsession Ticket (4):",
            "* old SSL session ID is stale, removing",
        ],
        "{:#?}",
        v.stderr
    );

    // The second transfer reuses the connection and reports its check.
    assert_eq!(
        ran(&r, w).out(),
        "plain text file\n0,HTTPS,2.a\n0,HTTPS,2.\n"
    );

    let m = ran(&r, missing);
    refused(
        m,
        "SSL certificate problem: unable to get local issuer certificate",
    );
    assert_eq!(m.stdout, ["20"]);

    let e = ran(&r, expired);
    refused(e, "SSL certificate problem: certificate has expired");
    assert_eq!(e.stdout, ["10"]);

    let n = ran(&r, by_ip);
    refused(
        n,
        "SSL: no alternative certificate subject name matches target host name '10.99.3.2'",
    );
    assert_eq!(n.stdout, ["1"]);

    // No --cacert and no bundle on the host: nothing is trusted.
    let u = ran(&r, untrusted);
    refused(
        u,
        "SSL certificate problem: unable to get local issuer certificate",
    );
    assert_eq!(u.stdout, ["20"]);
}

#[test]
fn self_signed_insecure_and_trusted_directly() {
    let plain = "curl -sS -w %{ssl_verify_result} https://server:7443/hello.txt";
    let k = "curl -sS -k -w %{ssl_verify_result} https://server:7443/hello.txt";
    let kv = "curl -v -k https://server:7443/hello.txt";
    let r = with_pki(&[("2s", plain), ("3s", k), ("4s", kv)]);
    let p = ran(&r, plain);
    refused(p, "SSL certificate problem: self-signed certificate");
    assert_eq!(p.stdout, ["18"]);
    let k = ran(&r, k);
    assert_eq!(k.exit, Some(0));
    assert_eq!(k.stdout, ["plain text file", "18"]);
    let kv = ran(&r, kv);
    assert!(
        kv.stderr.iter().all(|l| !l.contains("CAfile")),
        "-k loads no CA file: {:#?}",
        kv.stderr
    );
    assert!(
        kv.stderr.contains(
            &"*  SSL certificate verify result: self-signed certificate (18), continuing anyway."
                .to_string()
        ),
        "{:#?}",
        kv.stderr
    );
}

#[test]
fn versions_handshake_failures_and_reuse() {
    let tls12 = "curl -v --cacert /etc/ssl/root.pem https://server:6443/hello.txt";
    let only13 = "curl -sS --tlsv1.3 --cacert /etc/ssl/root.pem https://server:6443/hello.txt";
    let not_tls = "curl -sS https://server:8080/root.pem";
    let two =
        "curl -v --cacert /etc/ssl/root.pem https://server/hello.txt https://server/sub/a.txt";
    let post = "curl -sS --cacert /etc/ssl/root.pem -d hello=tls https://server/echo";
    let cafile =
        "curl -sS --cacert /etc/ssl/none.pem -w [%{ssl_verify_result}] https://server/hello.txt";
    let silent = "curl -sS --connect-timeout 2 https://server:9/";
    let max_time = "curl -sS -m 2 https://server:9/";
    let r = with_pki(&[
        ("9s", max_time),
        ("2s", tls12),
        ("3s", only13),
        ("4s", not_tls),
        ("5s", two),
        ("6s", post),
        ("7s", cafile),
        ("8s", silent),
    ]);
    let t = ran(&r, tls12);
    assert_eq!(t.exit, Some(0), "{t:?}");
    let handshake: Vec<&str> = t
        .stderr
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains("TLS handshake") || l.contains("TLS change cipher"))
        .collect();
    // As curl with OpenSSL lists a TLS 1.2 handshake: the ServerHello
    // under the version offered.
    assert_eq!(
        handshake,
        [
            "* TLSv1.3 (OUT), TLS handshake, Client hello (1):",
            "* TLSv1.3 (IN), TLS handshake, Server hello (2):",
            "* TLSv1.2 (IN), TLS handshake, Certificate (11):",
            "* TLSv1.2 (IN), TLS handshake, Server key exchange (12):",
            "* TLSv1.2 (IN), TLS handshake, Server finished (14):",
            "* TLSv1.2 (OUT), TLS handshake, Client key exchange (16):",
            "* TLSv1.2 (OUT), TLS change cipher, Change cipher spec (1):",
            "* TLSv1.2 (OUT), TLS handshake, Finished (20):",
            "* TLSv1.2 (IN), TLS handshake, Finished (20):",
        ]
    );
    for line in [
        "* SSL connection using TLSv1.2 / ECDHE-ECDSA-AES256-GCM-SHA384",
        "*  SSL certificate verify ok.",
    ] {
        assert!(
            t.stderr.contains(&line.to_string()),
            "{line}: {:#?}",
            t.stderr
        );
    }
    let o = ran(&r, only13);
    assert_eq!(o.exit, Some(35), "{o:?}");
    assert_eq!(
        o.stderr,
        ["curl: (35) OpenSSL/3.0.19: error:0A00042E:SSL routines::tlsv1 alert protocol version"]
    );
    let n = ran(&r, not_tls);
    assert_eq!(n.exit, Some(35), "{n:?}");
    // What answered was not TLS: OpenSSL's "wrong version number".
    assert_eq!(
        n.stderr,
        ["curl: (35) OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number"],
        "{n:?}"
    );
    let two = ran(&r, two);
    assert_eq!(two.stdout, ["plain text file", "a"]);
    assert!(
        two.stderr
            .contains(&"* Re-using existing connection #0 with host server".to_string()),
        "{:#?}",
        two.stderr
    );
    assert_eq!(
        two.stderr
            .iter()
            .filter(|l| l.contains("Client hello"))
            .count(),
        1,
        "one handshake for both URLs"
    );
    assert_eq!(ran(&r, post).stdout, ["hello=tls"]);
    let c = ran(&r, cafile);
    assert_eq!(c.exit, Some(77));
    // No check could happen: curl 7.88 reports 1 (X509_V_ERR_UNSPECIFIED).
    assert_eq!(c.stdout, ["[1]"]);
    assert_eq!(
        c.stderr,
        ["curl: (77) error setting certificate file: /etc/ssl/none.pem"]
    );
    // A server that takes the connection and never answers the hello:
    // the connect timeout covers the handshake.
    let s = ran(&r, silent);
    assert_eq!(
        (s.exit, s.stderr.clone()),
        (
            Some(28),
            vec!["curl: (28) SSL connection timeout".to_string()]
        )
    );
    // -m running out in the handshake is worded as in the connect.
    let m = ran(&r, max_time);
    assert_eq!(m.exit, Some(28), "{m:?}");
    assert!(
        m.stderr[0].starts_with("curl: (28) Connection timed out after 20"),
        "{m:?}"
    );
}

#[test]
fn big_download_over_tls_is_byte_exact() {
    let get = "curl -sS --cacert /etc/ssl/root.pem -o /tmp/big.bin https://server/big.bin";
    let mut runs: Vec<(&str, &str, &str)> = SERVER_PKI.to_vec();
    runs.push((
        "1s",
        "client",
        "curl -sS -o /etc/ssl/root.pem http://server:8080/root.pem",
    ));
    runs.push(("2s", "client", get));
    runs.push(("20s", "client", "sha256sum /tmp/big.bin"));
    runs.push(("20s", "server", "sha256sum /srv/www/big.bin"));
    let net = www_net().replace("delay = \"200us\"", "delay = \"200us\"\nloss = \"2%\"");
    let r = run_in(&net, &runs);
    assert_eq!(ran(&r, get).exit, Some(0), "{:?}", ran(&r, get));
    let theirs = find(&r, "server", "sha256sum /srv/www/big.bin", 0).stdout[0]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let ours = ran(&r, "sha256sum /tmp/big.bin").stdout[0]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(ours, theirs);
}

#[test]
fn a_bad_certificate_or_key_file_is_named() {
    let mut runs: Vec<(&str, &str, &str)> = SERVER_PKI[..4].to_vec();
    let cases = [
        "serve https --port 1001 --cert /etc/ssl/root.key --key /etc/ssl/leaf.key",
        "serve https --port 1002 --cert /etc/ssl/leaf.pem --key /etc/ssl/leaf.pem",
        "serve https --port 1003 --cert /etc/ssl/leaf.pem --key /etc/ssl/int.key",
        "serve https --port 1004 --cert /etc/ssl/leaf.pem --chain /etc/ssl/int.key --key /etc/ssl/leaf.key",
        "serve https --port 1005 --cert /etc/ssl/leaf.pem --chain /tmp/bad.pem --key /etc/ssl/leaf.key",
    ];
    for c in cases {
        runs.push(("1s", "server", c));
    }
    let net = format!(
        "{}\n[[file]]\non = \"server\"\npath = \"/tmp/bad.pem\"\ntext = \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
        www_net()
    );
    let r = run_in(&net, &runs);
    let said = |cmd: &str| {
        let r = find(&r, "server", cmd, 0);
        assert_eq!(r.exit, Some(1), "{r:?}");
        r.stderr.join("\n")
    };
    assert_eq!(
        said(cases[0]),
        "serve: /etc/ssl/root.key: no certificate in it (expected -----BEGIN CERTIFICATE-----)"
    );
    assert_eq!(
        said(cases[1]),
        "serve: /etc/ssl/leaf.pem: no private key in it (expected -----BEGIN PRIVATE KEY-----)"
    );
    assert_eq!(
        said(cases[2]),
        "serve: /etc/ssl/leaf.pem and /etc/ssl/int.key: key values mismatch (the key is not the certificate's)"
    );
    assert_eq!(
        said(cases[3]),
        "serve: /etc/ssl/int.key: no certificate in it (expected -----BEGIN CERTIFICATE-----)"
    );
    assert_eq!(
        said(cases[4]),
        "serve: /tmp/bad.pem: not an X.509 certificate (its DER encoding does not parse)"
    );
}

/// A bundle with a block that is base64 but no certificate is refused
/// whole, as OpenSSL's loader fails the file: curl's exit 77.
#[test]
fn a_bundle_with_a_broken_certificate_is_unusable() {
    let net = format!(
        "{}\n[[file]]\non = \"client\"\npath = \"/tmp/bad.pem\"\ntext = \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
        www_net()
    );
    let mut runs: Vec<(&str, &str, &str)> = SERVER_PKI.to_vec();
    let cmd = "curl -sS --cacert /tmp/bad.pem -w [%{ssl_verify_result}] https://server/hello.txt";
    runs.push(("1s", "client", cmd));
    let r = run_in(&net, &runs);
    let c = find(&r, "client", cmd, 0);
    assert_eq!(c.exit, Some(77), "{c:?}");
    assert_eq!(
        c.stderr,
        ["curl: (77) error setting certificate file: /tmp/bad.pem"]
    );
    assert_eq!(c.stdout, ["[1]"]);
}

/// `serve https --log` says why a handshake failed in words, stamped as
/// its request lines are: a client that wants only TLS 1.3 from a 1.2
/// server, one that does not trust the chain (its alert), plain text.
#[test]
fn handshake_failures_are_logged_in_words() {
    let mut runs: Vec<(&str, &str, &str)> = SERVER_PKI.to_vec();
    runs.push(("0.2s", "server", "serve https --log --port 5443 --tls-max 1.2 --cert /etc/ssl/leaf.pem --chain /etc/ssl/int.pem --key /etc/ssl/leaf.key"));
    runs.push((
        "1s",
        "client",
        "curl -sS -o /etc/ssl/root.pem http://server:8080/root.pem",
    ));
    runs.push((
        "2s",
        "client",
        "curl -sS --tlsv1.3 --cacert /etc/ssl/root.pem https://server:5443/hello.txt",
    ));
    runs.push(("3s", "client", "curl -sS https://server:5443/hello.txt"));
    runs.push(("4s", "client", "echo hello | nc -w 1 server 5443"));
    // (And curl's words for an echo server sending its hello back.)
    runs.push(("0.2s", "server", "serve echo"));
    runs.push(("5s", "client", "curl -sS https://server:7/"));
    let r = run_in(&www_net(), &runs);
    let echo = find(&r, "client", "curl -sS https://server:7/", 0);
    assert_eq!(echo.exit, Some(35), "{echo:?}");
    assert!(
        echo.stderr[0].ends_with(":SSL routines::unexpected message"),
        "{echo:?}"
    );
    let log = &find(&r, "server", "serve https --log --port 5443 --tls-max 1.2 --cert /etc/ssl/leaf.pem --chain /etc/ssl/int.pem --key /etc/ssl/leaf.key", 0).stdout;
    let why: Vec<&str> = log
        .iter()
        .map(|l| {
            assert!(l.starts_with("10.99.1.2 - - ["), "{l}");
            l.split("] ").nth(1).unwrap_or_default()
        })
        .collect();
    assert_eq!(
        why,
        [
            "TLS handshake failed: no protocol version in common with the client",
            "TLS handshake failed: the client sent alert unknown CA (48)",
            "TLS handshake failed: not TLS: no TLS record from the client",
        ],
        "{log:?}"
    );
}

/// A certificate with no DNS or address SAN (`cert` always writes one;
/// this one is made here): curl 7.88 checks the host against the
/// subject's commonName (ossl_verifyhost), in its own words either way.
#[test]
fn a_certificate_without_sans_is_checked_by_its_common_name() {
    use tcplab_tls::pki::{make, Request, Role};
    let req = |role, cn: &str, seed: u8, issuer: Option<&tcplab_tls::Made>| Request {
        role,
        common_name: cn.into(),
        sans: Vec::new(),
        not_before: 1_735_689_600 - 86_400,
        not_after: 1_735_689_600 + 365 * 86_400,
        key_seed: [seed; 32],
        key_kind: tcplab_tls::KeyKind::Ed25519,
        serial: u64::from(seed),
        issuer: issuer.map(|m| (m.cert_pem.clone(), m.key_pem.clone())),
    };
    let root = make(&req(Role::Root, "CN Root", 41, None)).unwrap();
    let leaf = make(&req(Role::Leaf, "server", 42, Some(&root))).unwrap();
    let file = |on: &str, path: &str, text: &str| {
        format!("\n[[file]]\non = \"{on}\"\npath = \"{path}\"\ntext = \'\'\'\n{text}\'\'\'\n")
    };
    let net = format!(
        "{}{}{}{}",
        www_net(),
        file("server", "/etc/ssl/cn.pem", &leaf.cert_pem),
        file("server", "/etc/ssl/cn.key", &leaf.key_pem),
        file("client", "/tmp/root.pem", &root.cert_pem),
    );
    let by_name = "curl -sv --cacert /tmp/root.pem https://server:5555/hello.txt";
    let by_addr = "curl -sS --cacert /tmp/root.pem https://10.99.3.2:5555/hello.txt";
    let r = run_in(
        &net,
        &[
            (
                "0s",
                "server",
                "serve https --port 5555 --cert /etc/ssl/cn.pem --key /etc/ssl/cn.key",
            ),
            ("1s", "client", by_name),
            ("2s", "client", by_addr),
        ],
    );
    let n = ran(&r, by_name);
    assert_eq!(n.exit, Some(0), "{n:?}");
    assert!(
        n.stderr
            .iter()
            .any(|l| l == "*  common name: server (matched)"),
        "{n:?}"
    );
    assert!(
        !n.stderr.iter().any(|l| l.contains("subjectAltName")),
        "{n:?}"
    );
    refused(
        ran(&r, by_addr),
        "SSL: certificate subject name 'server' does not match target host name '10.99.3.2'",
    );
}

/// Closing a TLS connection, curl -v shows the close_notify it sends
/// after "Closing connection", as OpenSSL's trace does.
#[test]
fn closing_says_close_notify() {
    let cmd = "curl -sv --http1.0 --cacert /etc/ssl/root.pem https://server/hello.txt";
    let r = with_pki(&[("2s", cmd)]);
    let c = ran(&r, cmd);
    assert_eq!(c.exit, Some(0), "{c:?}");
    let n = c.stderr.len();
    assert_eq!(
        c.stderr[n - 2..],
        [
            "* Closing connection 0".to_string(),
            "* TLSv1.3 (OUT), TLS alert, close notify (256):".to_string()
        ],
        "{c:?}"
    );
}

/// With the body not going to a terminal, curl -v's trace shows the TLS
/// data as OpenSSL's message callback reports it: one `[N bytes data]`
/// line after each line of text (tool_cb_dbg.c), the record headers (5
/// bytes) where no data line came since the last text, each handshake
/// message with its header (the server's sealed flight worked out when it
/// comes in one record); to a terminal, none.
#[test]
fn the_trace_shows_tls_data_as_curl_does() {
    let v13 = "curl -sv --cacert /etc/ssl/root.pem -o /tmp/a https://server/hello.txt";
    let v12 =
        "curl -sv --tls-max 1.2 --cacert /etc/ssl/root.pem -o /tmp/b https://server/hello.txt";
    let tty = "curl -sv --cacert /etc/ssl/root.pem https://server/hello.txt";
    let r = with_pki(&[("2s", v13), ("3s", v12), ("4s", tty)]);
    let after = |c: &Ran, line: &str| -> String {
        let i = c
            .stderr
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no {line:?} in {c:?}"));
        c.stderr[i + 1].clone()
    };
    let data = |s: String, mark: char| -> usize {
        let n = s
            .strip_prefix(&format!("{mark} ["))
            .and_then(|s| s.strip_suffix(" bytes data]"))
            .unwrap_or_else(|| panic!("not a data line: {s:?}"));
        n.parse().unwrap()
    };
    let c = ran(&r, v13);
    assert_eq!(c.exit, Some(0), "{c:?}");
    assert_eq!(data(after(c, "* ALPN: offers http/1.1"), '}'), 5);
    assert!(
        data(
            after(c, "* TLSv1.3 (OUT), TLS handshake, Client hello (1):"),
            '}'
        ) > 100
    );
    assert_eq!(data(after(c, "*  CApath: none"), '{'), 5);
    assert_eq!(
        data(
            after(c, "* TLSv1.3 (IN), TLS handshake, Server hello (2):"),
            '{'
        ),
        122
    );
    let mut flight = 0;
    for m in [
        "Encrypted Extensions (8)",
        "Certificate (11)",
        "CERT verify (15)",
        "Finished (20)",
    ] {
        let n = data(
            after(c, &format!("* TLSv1.3 (IN), TLS handshake, {m}:")),
            '{',
        );
        assert!(n > 4, "{m}: {n}");
        flight += n;
    }
    // Two certificates presented (leaf and intermediate): the
    // Certificate message is most of the flight.
    assert!(flight > 600, "{flight}");
    assert_eq!(
        data(
            after(
                c,
                "* TLSv1.3 (OUT), TLS change cipher, Change cipher spec (1):"
            ),
            '}'
        ),
        1
    );
    assert_eq!(
        data(
            after(c, "* TLSv1.3 (OUT), TLS handshake, Finished (20):"),
            '}'
        ),
        52
    );
    // The request's record, then the request.
    assert_eq!(data(after(c, "* using HTTP/1.1"), '}'), 5);
    assert!(after(c, "< \r").starts_with("{ ["), "{c:?}");
    // One data line per line of text: never two in a row.
    assert!(
        !c.stderr
            .windows(2)
            .any(|w| w[0].ends_with("bytes data]") && w[1].ends_with("bytes data]")),
        "{c:?}"
    );
    let c = ran(&r, v12);
    for (line, mark, n) in [
        (
            "* TLSv1.2 (IN), TLS handshake, Server finished (14):",
            '{',
            Some(4),
        ),
        (
            "* TLSv1.2 (OUT), TLS handshake, Client key exchange (16):",
            '}',
            None,
        ),
        (
            "* TLSv1.2 (OUT), TLS change cipher, Change cipher spec (1):",
            '}',
            Some(1),
        ),
        (
            "* TLSv1.2 (OUT), TLS handshake, Finished (20):",
            '}',
            Some(16),
        ),
        (
            "* TLSv1.2 (IN), TLS handshake, Finished (20):",
            '{',
            Some(16),
        ),
    ] {
        let got = data(after(c, line), mark);
        if let Some(n) = n {
            assert_eq!(got, n, "{line}");
        }
    }
    let c = ran(&r, tty);
    assert!(!c.stderr.iter().any(|l| l.contains("bytes data")), "{c:?}");
}

/// `--key-type ecdsa` is for real networks: in the simulator its random
/// keys and signatures would make a run unrepeatable, so it is refused in
/// one line; a key type that is none is refused when the scenario loads.
#[test]
fn ecdsa_keys_are_for_real_networks() {
    let cmd = "cert ca 'EC Root' --key-type ecdsa --out /etc/ssl/r.pem --key-out /etc/ssl/r.key";
    let r = run_in(&www_net(), &[("0s", "server", cmd)]);
    let c = find(&r, "server", cmd, 0);
    assert_eq!(c.exit, Some(1), "{c:?}");
    assert_eq!(
        c.stderr,
        ["cert: --key-type ecdsa is for real networks (tcplab run): its keys and signatures are random, and a simulated run must repeat from its seed"]
    );
    // An ECDSA CA (made by openssl) would sign the leaf with random
    // numbers: refused too, naming its key file.
    let net = format!(
        "{}\n[[file]]\non = \"server\"\npath = \"/etc/ssl/ec.key\"\ntext = \"\"\"\n{}\"\"\"\n\
         [[file]]\non = \"server\"\npath = \"/etc/ssl/ec.pem\"\ntext = \"\"\"\n{}\"\"\"\n",
        www_net(),
        EC_KEY,
        EC_CERT
    );
    let leaf = "cert leaf www --ca /etc/ssl/ec.pem --ca-key /etc/ssl/ec.key --out /etc/ssl/w.pem --key-out /etc/ssl/w.key";
    let r = run_in(&net, &[("0s", "server", leaf)]);
    let c = find(&r, "server", leaf, 0);
    assert_eq!(c.exit, Some(1), "{c:?}");
    assert!(
        c.stderr.len() == 1
            && c.stderr[0].starts_with("cert: /etc/ssl/ec.key: not an Ed25519 key;"),
        "{c:?}"
    );
    let bad = "cert ca X --key-type rsa --out /a --key-out /b";
    let text = format!(
        "{}\n[[run]]\nat = \"0s\"\non = \"server\"\ncmd = \"{bad}\"\n",
        www_net()
    );
    let e = tcplab_sim::load_checked("t.toml", &text, &|c| {
        tcplab_sim::Commands::check(&tcplab_tools::Tools, c)
    })
    .expect_err("refused");
    assert!(
        e.to_string()
            .contains("--key-type: `rsa` is not ed25519 or ecdsa"),
        "{e}"
    );
}

/// A P-256 CA made by `openssl req -x509 -newkey ec` (test data).
const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglwK9l2fQg6m91DuE
37CNSBM2cZOHYX9O1QWkfC6y4oqhRANCAAQ2iajxxmhR5NLyjLITl6bXAGJiSMpi
gek2oWWKyVZdLKTtVAErVAy9SjRhUVyONQX2PBhwGTJq6kdx3FT6VDTO
-----END PRIVATE KEY-----
";
const EC_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBcDCCARWgAwIBAgIUCKjndq7VLhUZeD073gmOa++wF80wCgYIKoZIzj0EAwIw
DTELMAkGA1UEAwwCRUMwHhcNMjYxMjA3MTgxOTE5WhcNMzYxMjA0MTgxOTE5WjAN
MQswCQYDVQQDDAJFQzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDaJqPHGaFHk
0vKMshOXptcAYmJIymKB6TahZYrJVl0spO1UAStUDL1KNGFRXI41BfY8GHAZMmrq
R3HcVPpUNM6jUzBRMB0GA1UdDgQWBBSvDO8TlJjb830cHbQpzJir8Fo4RjAfBgNV
HSMEGDAWgBSvDO8TlJjb830cHbQpzJir8Fo4RjAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0kAMEYCIQCAlx3xlKq+cU/qR0WWDko6aZM+v9n9snDrBEiiQcAc
NAIhANlxAPIobFF8Orn5Injz7nOP89ARgLzLkViic2WrUyYT
-----END CERTIFICATE-----
";
