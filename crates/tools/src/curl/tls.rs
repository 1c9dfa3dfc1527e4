//! curl's TLS: the CA bundle, the handshake, its `-v` lines and its
//! failures, in curl 7.88's (with OpenSSL 3) words and exit codes: 35 a
//! failed handshake, 60 a certificate that does not verify (OpenSSL's
//! reason; since curl 7.62 also a name that does not match), 77 a CA
//! bundle that cannot be read.
//!
//! rustls shows no handshake message by message, and TLS 1.3 encrypts all
//! but the hellos, so the `(IN)`/`(OUT)` lines are those of a full
//! handshake of the version that was negotiated, as far as it got.
//! Session tickets after the handshake are not shown.

use std::sync::Arc;

use tcplab_host::TcpStream;
use tcplab_tls::rustls;
use tcplab_tls::session::{alert_words, dns_name_covers, Finding};
use tcplab_tls::show::summary;
use tcplab_tls::{pem_certificates, ClientOptions, Clock, Session, Version};

use super::args::Url;
use super::report::Stats;
use super::{Failure, Run};
use crate::tls::{Stream, TlsFailure, TlsStream};
use crate::tls_tap::Seen;

/// Where curl looks for CAs without `--cacert` (Debian's bundle). A host
/// without the file trusts nothing.
pub(super) const DEFAULT_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One client configuration serves every connection of a run.
pub(super) struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    found: Finding,
    clock: Clock,
    cafile: String,
    /// Session tickets received, and how many `-v` has shown.
    tickets: Arc<tcplab_tls::Tickets>,
    shown: usize,
}

/// The lines after `curl: (60) ...` that curl prints for every
/// certificate problem.
pub(super) const SSLCERTS_HELP: &str = "More details here: https://curl.se/docs/sslcerts.html

curl failed to verify the legitimacy of the server and therefore could not
establish a secure connection to it. To learn more about this situation and
how to fix it, please visit the web page mentioned above.";

impl Run<'_> {
    fn tls_client(&mut self) -> Result<&TlsClient, Failure> {
        if self.tls.is_none() {
            let cafile = self.a.cacert.clone().unwrap_or_else(|| DEFAULT_CA.into());
            // With -k curl does not load the bundle at all.
            let roots = if self.a.insecure {
                Vec::new()
            } else {
                let unusable =
                    || Failure::new(77, format!("error setting certificate file: {cafile}"));
                match self.host.fs().read(&cafile) {
                    // Every certificate in it must read as one (OpenSSL's
                    // X509_load_cert_crl_file fails the file on a block
                    // whose DER does not parse).
                    Ok(text) => {
                        let certs = pem_certificates(&text).map_err(|_| unusable())?;
                        if certs.iter().any(|d| tcplab_tls::x509_text(d).is_err()) {
                            return Err(unusable());
                        }
                        certs
                    }
                    // No bundle on the host: nothing is trusted.
                    Err(_) if self.a.cacert.is_none() => Vec::new(),
                    Err(_) => return Err(unusable()),
                }
            };
            let versions = if self.a.tls13_only {
                vec![Version::Tls13]
            } else if self.a.tls12_max {
                vec![Version::Tls12]
            } else {
                vec![Version::Tls13, Version::Tls12]
            };
            let opts = ClientOptions {
                roots,
                insecure: self.a.insecure,
                versions,
                alpn: vec![b"http/1.1".to_vec()],
            };
            let (config, found, clock, tickets) = crate::tls::client(&self.host, &opts)
                .map_err(|e| Failure::new(35, format!("TLS setup: {e}")))?;
            self.tls = Some(TlsClient {
                config,
                found,
                clock,
                cafile,
                tickets,
                shown: 0,
            });
        }
        Ok(self.tls.as_ref().expect("made above"))
    }

    /// Under `-v`, the TLS 1.3 session tickets that came since the last
    /// look, as curl 7.88 with OpenSSL shows them while it reads the
    /// response: each one's message, and for each after the first to this
    /// server the cache dropping the one before ("old SSL session ID is
    /// stale, removing").
    pub(super) fn show_tickets(&mut self, server: &(String, u16), seen: &[(bool, Seen)]) {
        let Some(c) = self.tls.as_mut() else {
            return;
        };
        let now = c.tickets.received();
        let new = now.saturating_sub(c.shown);
        c.shown = now;
        // Each ticket came sealed in a record of its own, before the
        // response's.
        let mut sizes = seen.iter().filter_map(|&(out, s)| match s {
            Seen::Sealed(n) if !out => Some(n),
            _ => None,
        });
        for _ in 0..new {
            self.info("TLSv1.3 (IN), TLS handshake, Newsession Ticket (4):".into());
            if let Some(n) = sizes.next() {
                self.data(false, n);
            }
            if !self.sessions.insert(server.clone()) {
                self.info("old SSL session ID is stale, removing".into());
            }
        }
    }

    /// The TLS handshake over a fresh connection, with curl's `-v` lines
    /// and its verdict on the certificate.
    pub(super) async fn tls_connect(
        &mut self,
        url: &Url,
        tcp: TcpStream,
        stats: &mut Stats,
    ) -> Result<Stream, Failure> {
        let (config, found, clock, cafile) = {
            let c = match self.tls_client() {
                Ok(c) => c,
                Err(e) => {
                    // No verification could happen: curl reports
                    // X509_V_ERR_UNSPECIFIED for it.
                    stats.ssl_verify_result = 1;
                    return Err(e);
                }
            };
            (
                c.config.clone(),
                c.found.clone(),
                c.clock.clone(),
                c.cafile.clone(),
            )
        };
        *found.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // (A name rustls cannot send as SNI; curl's resolver would have
        // refused most such names before.)
        let session = Session::client(config, &url.host).map_err(|_| {
            Failure::new(
                35,
                format!(
                    "OpenSSL SSL_connect: SSL_ERROR_SSL in connection to {}:{} ",
                    url.host, url.port
                ),
            )
        })?;
        clock.set(self.host.wall_clock());
        let hello = if self.a.tls12_max {
            "TLSv1.2"
        } else {
            "TLSv1.3"
        };
        let stream = TlsStream::new(&self.host, tcp, session, clock);
        if self.data_lines {
            // OpenSSL's message callback, for `[N bytes data]`: the
            // ClientHello is made before the handshake runs.
            stream.tap();
            stream.prime();
        }
        let client_hello = stream.seen().iter().find_map(|&(_, s)| match s {
            Seen::Handshake(1, n) => Some(n),
            _ => None,
        });
        self.info("ALPN: offers http/1.1".into());
        self.data(true, 5);
        self.info(format!("{hello} (OUT), TLS handshake, Client hello (1):"));
        if let Some(n) = client_hello {
            self.data(true, n);
        }
        if !self.a.insecure {
            self.info(format!(" CAfile: {cafile}"));
            self.info(" CApath: none".into());
        }
        // curl sets SSL_OP_IGNORE_UNEXPECTED_EOF: HTTP's framing decides
        // whether a close without close_notify cut the body short (18).
        stream.ignore_unexpected_eof();
        let result = stream.handshake().await;
        stats.appconnect = self
            .host
            .now()
            .saturating_since(stats.start.unwrap_or(self.host.now()));
        let finding = found.lock().unwrap_or_else(|p| p.into_inner()).take();
        let version = stream.session().version().unwrap_or(hello);
        if let Some(f) = &finding {
            stats.ssl_verify_result = f.code;
            stats.num_certs = f.presented.len() as u64;
        }
        let tls13 = version == "TLSv1.3";
        let facts = {
            let session = stream.session();
            Flight {
                sni: url.host.parse::<std::net::Ipv4Addr>().is_err(),
                alpn: session.alpn(),
                certs: finding
                    .as_ref()
                    .map(|f| f.presented.iter().map(Vec::len).collect())
                    .unwrap_or_default(),
                hash: if session.cipher().unwrap_or_default().contains("SHA384") {
                    48
                } else {
                    32
                },
            }
        };
        match result {
            Ok(()) => {}
            Err(e) => {
                let (code, message) = match (&e, &finding) {
                    (TlsFailure::Tls(rustls::Error::InvalidCertificate(c)), Some(f))
                        if f.code != 0 =>
                    {
                        let seen = stream.seen();
                        self.server_flight(hello, version, false, (&seen, &facts));
                        let alert = match c {
                            rustls::CertificateError::Expired
                            | rustls::CertificateError::NotValidYet => {
                                rustls::AlertDescription::CertificateExpired
                            }
                            rustls::CertificateError::UnknownIssuer => {
                                rustls::AlertDescription::UnknownCA
                            }
                            _ => rustls::AlertDescription::BadCertificate,
                        };
                        let (words, n) = alert_words(alert);
                        self.info(format!("{version} (OUT), TLS alert, {words} ({n}):"));
                        (60, format!("SSL certificate problem: {}", f.text()))
                    }
                    // curl 7.88 with OpenSSL 3 words each as below
                    // (ossl_connect_step2: OpenSSL's error string, or
                    // SSL_connect's with the peer when OpenSSL has none).
                    (TlsFailure::Tls(rustls::Error::AlertReceived(a)), _) => {
                        let (words, n) = alert_words(*a);
                        self.info(format!("{version} (IN), TLS alert, {words} ({n}):"));
                        (35, openssl_alert_error(*a))
                    }
                    // What answered was not TLS (a plain HTTP server).
                    (
                        TlsFailure::Tls(
                            rustls::Error::InvalidMessage(_)
                            | rustls::Error::InappropriateMessage { .. },
                        ),
                        _,
                    ) => (
                        35,
                        format!("{OPENSSL}: error:0A00010B:SSL routines::wrong version number"),
                    ),
                    // A handshake message out of place (an echo server
                    // sending the ClientHello back).
                    (TlsFailure::Tls(rustls::Error::InappropriateHandshakeMessage { .. }), _) => (
                        35,
                        format!("{OPENSSL}: error:0A0000F4:SSL routines::unexpected message"),
                    ),
                    (TlsFailure::Tls(_), _) => (
                        35,
                        format!(
                            "OpenSSL SSL_connect: SSL_ERROR_SSL in connection to {}:{} ",
                            url.host, url.port
                        ),
                    ),
                    (TlsFailure::Socket(e), _) => (35, format!("Recv failure: {e}")),
                    (TlsFailure::Closed, _) => (
                        35,
                        format!(
                            "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to {}:{} ",
                            url.host, url.port
                        ),
                    ),
                };
                return Err(Failure::new(code, message));
            }
        }
        let seen = stream.seen();
        self.server_flight(hello, version, true, (&seen, &facts));
        if tls13 {
            self.info(format!(
                "{version} (OUT), TLS change cipher, Change cipher spec (1):"
            ));
            self.data(true, 1);
            self.info(format!("{version} (OUT), TLS handshake, Finished (20):"));
            let finished = seen.iter().find_map(|&(out, s)| match s {
                Seen::Sealed(n) if out => Some(n),
                _ => None,
            });
            if let Some(n) = finished {
                self.data(true, n);
            }
        }
        let (cipher, alpn) = {
            let s = stream.session();
            (s.cipher().unwrap_or_default(), s.alpn())
        };
        self.info(format!("SSL connection using {version} / {cipher}"));
        match &alpn {
            Some(p) => self.info(format!("ALPN: server accepted {p}")),
            None => self.info("ALPN: server did not agree on a protocol. Uses default.".into()),
        }
        let leaf = finding
            .as_ref()
            .and_then(|f| f.presented.first())
            .and_then(|d| summary(d));
        if let Some(s) = &leaf {
            self.info("Server certificate:".into());
            self.info(format!(" subject: {}", s.subject));
            self.info(format!(" start date: {}", s.start));
            self.info(format!(" expire date: {}", s.expire));
        }
        let name_ok = finding.as_ref().is_some_and(|f| f.name_ok);
        // curl 7.88's ossl_verifyhost: with no DNS or address SAN at all,
        // the host is checked against the subject's last commonName.
        let by_cn = leaf.as_ref().filter(|s| !s.has_names).map(|s| s.cn.clone());
        if !self.a.insecure && !name_ok {
            if let Some(cn) = &by_cn {
                let matched = cn.as_deref().filter(|cn| {
                    url.host
                        .parse::<std::net::Ipv4Addr>()
                        .map_or_else(|_| dns_name_covers(cn, &url.host), |_| *cn == url.host)
                });
                if let Some(cn) = matched {
                    self.info(format!(" common name: {cn} (matched)"));
                } else {
                    if stats.ssl_verify_result == 0 {
                        stats.ssl_verify_result = 1;
                    }
                    let _ = stream.shutdown().await;
                    return Err(Failure::new(
                        60,
                        match cn.as_deref() {
                            Some(cn) => format!(
                                "SSL: certificate subject name '{cn}' does not match target host name '{}'",
                                url.host
                            ),
                            None => "SSL: unable to obtain common name from peer certificate".into(),
                        },
                    ));
                }
            }
        }
        let name_ok = name_ok || by_cn.is_some();
        if !self.a.insecure {
            if !name_ok {
                self.info(format!(" subjectAltName does not match {}", url.host));
                if stats.ssl_verify_result == 0 {
                    // What curl 7.88 reports then (X509_V_ERR_UNSPECIFIED).
                    stats.ssl_verify_result = 1;
                }
                let _ = stream.shutdown().await;
                return Err(Failure::new(
                    60,
                    format!(
                        "SSL: no alternative certificate subject name matches target host name '{}'",
                        url.host
                    ),
                ));
            }
            if let Some(s) = leaf.as_ref().filter(|_| by_cn.is_none()) {
                let matched = if s.ips.contains(&url.host) {
                    "IP address!".to_string()
                } else {
                    let m = s
                        .dns
                        .iter()
                        .find(|d| dns_name_covers(d, &url.host))
                        .cloned()
                        .unwrap_or_else(|| url.host.clone());
                    format!("\"{m}\"")
                };
                self.info(format!(
                    " subjectAltName: host \"{}\" matched cert's {matched}",
                    url.host
                ));
            }
        }
        if let Some(s) = &leaf {
            self.info(format!(" issuer: {}", s.issuer));
        }
        match &finding {
            Some(f) if f.code != 0 => self.info(format!(
                " SSL certificate verify result: {} ({}), continuing anyway.",
                f.text(),
                f.code
            )),
            _ => self.info(" SSL certificate verify ok.".into()),
        }
        // curl names the version ALPN agreed, else the family.
        self.info(
            if alpn.is_some() {
                "using HTTP/1.1"
            } else {
                "using HTTP/1.x"
            }
            .into(),
        );
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// The server's handshake messages as curl lists them (`done`: all of
    /// them; otherwise up to its certificate). OpenSSL labels the
    /// ServerHello with the version the client offered.
    /// The handshake's lines after the ClientHello, each with its
    /// message's size when the records were watched (`seen`): OpenSSL
    /// reports a message's length with its 4-byte header; TLS 1.3's
    /// sealed messages come one to a record (rustls and OpenSSL send
    /// them so), TLS 1.2's Finished is 16 bytes.
    fn server_flight(
        &mut self,
        offered: &str,
        version: &str,
        done: bool,
        (seen, facts): (&[(bool, Seen)], &Flight),
    ) {
        let i = |s: &str| format!("{version} (IN), TLS handshake, {s}");
        let handshake = |out: bool, t: u8| {
            seen.iter().find_map(|&(o, s)| match s {
                Seen::Handshake(k, n) if o == out && k == t => Some(n),
                _ => None,
            })
        };
        let mut sealed = sealed_flight(seen, facts).into_iter();
        // (line, out, size)
        let mut lines: Vec<(String, bool, Option<usize>)> = vec![(
            format!("{offered} (IN), TLS handshake, Server hello (2):"),
            false,
            handshake(false, 2),
        )];
        if version == "TLSv1.3" {
            lines.push((i("Encrypted Extensions (8):"), false, sealed.next()));
            lines.push((i("Certificate (11):"), false, sealed.next()));
            if done {
                lines.push((i("CERT verify (15):"), false, sealed.next()));
                lines.push((i("Finished (20):"), false, sealed.next()));
            }
        } else {
            lines.push((i("Certificate (11):"), false, handshake(false, 11)));
            if done {
                let o = |s: &str| format!("{version} (OUT), {s}");
                let watched = (!seen.is_empty()).then_some(16);
                lines.push((i("Server key exchange (12):"), false, handshake(false, 12)));
                lines.push((i("Server finished (14):"), false, handshake(false, 14)));
                lines.push((
                    o("TLS handshake, Client key exchange (16):"),
                    true,
                    handshake(true, 16),
                ));
                lines.push((
                    o("TLS change cipher, Change cipher spec (1):"),
                    true,
                    watched.map(|_| 1),
                ));
                lines.push((o("TLS handshake, Finished (20):"), true, watched));
                lines.push((i("Finished (20):"), false, watched));
            }
        }
        // The first of the server's records, after its header.
        self.data(false, 5);
        for (l, out, size) in lines {
            self.info(l);
            if let Some(n) = size {
                self.data(out, n);
            }
        }
    }
}

/// What is known of a server's handshake besides its records, for
/// [`sealed_flight`].
pub(super) struct Flight {
    /// The client sent a name (SNI), which the server acknowledges.
    sni: bool,
    alpn: Option<String>,
    /// The lengths of the certificates it presented.
    certs: Vec<usize>,
    /// The length of the suite's hash (the Finished's verify data).
    hash: usize,
}

/// The sizes of the server's sealed TLS 1.3 messages — Encrypted
/// Extensions, Certificate, CertificateVerify, Finished — as OpenSSL
/// would report each. One to a record, they are the records'; a
/// server that seals them together (rustls) gives only the total, and
/// then the parts are worked out from what is known of them: the
/// extensions it acknowledged (the name sent, the protocol agreed),
/// the certificates it presented, the Finished's hash; the signature
/// is the rest.
fn sealed_flight(seen: &[(bool, Seen)], f: &Flight) -> Vec<usize> {
    let sizes: Vec<usize> = seen
        .iter()
        .filter_map(|&(o, s)| match s {
            Seen::Sealed(n) if !o => Some(n),
            _ => None,
        })
        .collect();
    if sizes.len() >= 4 || sizes.is_empty() {
        return sizes;
    }
    let total: usize = sizes.iter().sum();
    let mut ee = 4 + 2;
    if f.sni {
        ee += 4;
    }
    if let Some(p) = &f.alpn {
        ee += 2 + 2 + 2 + 1 + p.len();
    }
    let cert = 4 + 1 + 3 + f.certs.iter().map(|c| 3 + c + 2).sum::<usize>();
    let fin = 4 + f.hash;
    match total.checked_sub(ee + cert + fin) {
        Some(cv) if cv > 8 => vec![ee, cert, cv, fin],
        _ => Vec::new(),
    }
}

/// The OpenSSL curl names in its errors (the one of this Debian release).
pub(super) const OPENSSL: &str = "OpenSSL/3.0.19";

/// An alert from the server as curl with OpenSSL 3 reports it: OpenSSL's
/// reason for alert N is 1000 + N in the SSL library (0x0A), with
/// OpenSSL's words for it.
fn openssl_alert_error(alert: rustls::AlertDescription) -> String {
    format!("{OPENSSL}: {}", crate::tls::openssl_alert_reason(alert))
}

#[cfg(test)]
mod openssl_words {
    use super::*;

    #[test]
    fn alerts_as_openssl_3_reports_them() {
        // Both seen from curl 7.88.1 / OpenSSL 3.0.19 on this system.
        assert_eq!(
            openssl_alert_error(rustls::AlertDescription::HandshakeFailure),
            "OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure"
        );
        assert_eq!(
            openssl_alert_error(rustls::AlertDescription::ProtocolVersion),
            "OpenSSL/3.0.19: error:0A00042E:SSL routines::tlsv1 alert protocol version"
        );
    }
}
