//! TLS sessions driven sans-IO: bytes from the network go in with
//! [`Session::receive`], bytes for the network come out of
//! [`Session::outgoing`], plaintext goes through [`Session::read`] and
//! [`Session::write`]. rustls does the protocol (TLS 1.2, RFC 5246, and
//! TLS 1.3, RFC 8446); this module builds its configurations from PEM
//! files, checks server certificates the way curl with OpenSSL reports
//! them, and names what was negotiated in curl's words.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    ServerName, UnixTime,
};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, ClientConnection, Connection,
    DigitallySignedStruct, ProtocolVersion, ServerConfig, ServerConnection, SignatureScheme,
};

use crate::lab::{provider, Clock, Entropy};
use crate::verify::{error_text, verify_chain, Verdict};
use crate::{pem_blocks, pem_certificates};

/// A TLS version to offer or accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

fn versions(v: &[Version]) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let mut out = Vec::new();
    if v.contains(&Version::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if v.contains(&Version::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    out
}

/// The private key in a PEM text: PKCS#8 (`PRIVATE KEY`, what `cert`
/// and `openssl genpkey` write), SEC1 (`EC PRIVATE KEY`) or PKCS#1
/// (`RSA PRIVATE KEY`).
pub fn pem_private_key(text: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    let mut encrypted = false;
    for (tag, der) in pem_blocks(text)? {
        match tag.as_str() {
            "PRIVATE KEY" => return Ok(PrivatePkcs8KeyDer::from(der).into()),
            "EC PRIVATE KEY" => return Ok(PrivateSec1KeyDer::from(der).into()),
            "RSA PRIVATE KEY" => return Ok(PrivatePkcs1KeyDer::from(der).into()),
            "ENCRYPTED PRIVATE KEY" => encrypted = true,
            _ => {}
        }
    }
    if encrypted {
        // No passphrase is asked for: the key must be given in the clear.
        return Err(
            "the private key in it is encrypted (decrypt it first: openssl pkey -in FILE -out KEY)"
                .into(),
        );
    }
    Err("no private key in it (expected -----BEGIN PRIVATE KEY-----)".into())
}

/// A certificate a server presents: its chain (leaf first, then the
/// intermediates it sends) and the leaf's key, both PEM.
#[derive(Debug, Clone)]
pub struct Identity {
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Picks the certificate for the name a client asks for in SNI (RFC 6066
/// §3): the first whose DNS names cover it, else the first of all — a
/// client that sends no name, or a name no certificate has, gets the
/// default, as with nginx's default server.
#[derive(Debug)]
struct BySni {
    certs: Vec<(Vec<String>, Arc<rustls::sign::CertifiedKey>)>,
}

impl rustls::server::ResolvesServerCert for BySni {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let chosen = hello.server_name().and_then(|want| {
            self.certs
                .iter()
                .find(|(names, _)| names.iter().any(|n| dns_name_covers(n, want)))
        });
        chosen.or(self.certs.first()).map(|(_, c)| c.clone())
    }
}

/// A SAN DNS name covers a host name (`*.lab.test` one label deep,
/// RFC 6125 §6.4.3).
pub fn dns_name_covers(san: &str, host: &str) -> bool {
    if san.eq_ignore_ascii_case(host) {
        return true;
    }
    match (san.strip_prefix("*."), host.split_once('.')) {
        (Some(rest), Some((_, host_rest))) => rest.eq_ignore_ascii_case(host_rest),
        _ => false,
    }
}

/// Which file of an identity a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The certificate chain (`--cert`, `--chain`).
    Certificate,
    /// The private key (`--key`).
    Key,
    /// The two together: the key is not the certificate's.
    Both,
}

/// An identity's certificate chain and key, checked: the chain has a
/// certificate, the key is one rustls signs with, and it is the
/// certificate's. What is wrong comes with the file it is in, so a server
/// can name the file (`serve https`).
pub fn check_identity(id: &Identity) -> Result<(), (Part, String)> {
    let provider = rustls::crypto::ring::default_provider();
    load_identity(provider.key_provider, id, false).map(|_| ())
}

type Loaded = (Vec<String>, rustls::sign::CertifiedKey);

/// `only_ed25519`: the simulator's, whose runs must be the same for a
/// seed.
fn load_identity(
    keys: &dyn rustls::crypto::KeyProvider,
    id: &Identity,
    only_ed25519: bool,
) -> Result<Loaded, (Part, String)> {
    let chain: Vec<CertificateDer<'static>> = pem_certificates(&id.chain_pem)
        .map_err(|e| (Part::Certificate, e))?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    // A block that is no certificate is the certificate file's problem,
    // not a mismatch with the key.
    for c in &chain {
        crate::show::x509_text(c).map_err(|e| (Part::Certificate, e))?;
    }
    let key = keys
        .load_private_key(pem_private_key(&id.key_pem).map_err(|e| (Part::Key, e))?)
        .map_err(|_| {
            (
                Part::Key,
                "not a key this TLS can sign with (it takes Ed25519, ECDSA P-256 or P-384, and RSA keys)"
                    .to_string(),
            )
        })?;
    // ECDSA and RSA-PSS signatures draw on ring's own (operating system)
    // randomness, out of the lab provider's reach: in the simulator only
    // Ed25519 keeps a run the same for a seed.
    if only_ed25519 && key.algorithm() != rustls::SignatureAlgorithm::ED25519 {
        return Err((
            Part::Key,
            format!(
                "{:?} in the simulator would sign with the operating system's randomness; use an Ed25519 key (as `cert` makes)",
                key.algorithm()
            ),
        ));
    }
    let names = crate::show::summary(&chain[0])
        .map(|s| s.dns)
        .unwrap_or_default();
    let certified = rustls::sign::CertifiedKey::new(chain, key);
    // The key must be the certificate's (rustls checks the public keys).
    certified.keys_match().map_err(|e| {
        let text = match e {
            // OpenSSL's words for it (X509_check_private_key).
            rustls::Error::InconsistentKeys(_) => {
                "key values mismatch (the key is not the certificate's)".to_string()
            }
            other => other.to_string(),
        };
        (Part::Both, text)
    })?;
    Ok((names, certified))
}

/// A server's configuration: one certificate per identity, chosen by SNI
/// (the first is the default); ALPN `http/1.1` (RFC 7301).
pub fn server_config(
    identities: &[Identity],
    allow: &[Version],
    entropy: &Entropy,
    clock: &Clock,
) -> Result<Arc<ServerConfig>, String> {
    let provider = provider(entropy);
    let mut certs = Vec::new();
    for id in identities {
        let seeded = matches!(entropy, Entropy::Seeded(_));
        let (names, certified) =
            load_identity(provider.key_provider, id, seeded).map_err(|(part, e)| match part {
                Part::Certificate => e,
                Part::Key => format!("key: {e}"),
                Part::Both => format!("certificate and key: {e}"),
            })?;
        certs.push((names, Arc::new(certified)));
    }
    if certs.is_empty() {
        return Err("no certificate".into());
    }
    let mut config = ServerConfig::builder_with_details(provider, Arc::new(clock.clone()))
        .with_protocol_versions(&versions(allow))
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { certs }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the client's check of the server's certificate found, in
/// OpenSSL's terms (curl's `ssl_verify_result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The chain: OpenSSL's X509_V_ERR number, 0 when it verified.
    pub code: u32,
    /// The name or address asked for is among the certificate's.
    pub name_ok: bool,
    /// The certificates the server presented (DER), leaf first.
    pub presented: Vec<Vec<u8>>,
}

impl Check {
    /// OpenSSL's words for the chain's verdict.
    pub fn text(&self) -> &'static str {
        error_text(self.code)
    }
}

/// How a client checks the server's certificate.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Trusted roots (DER).
    pub roots: Vec<Vec<u8>>,
    /// `curl -k`: go on whatever the check finds (the finding is still
    /// kept, for `ssl_verify_result`).
    pub insecure: bool,
    pub versions: Vec<Version>,
    /// ALPN protocols to offer (RFC 7301).
    pub alpn: Vec<Vec<u8>>,
}

/// Checks the chain as OpenSSL would (webpki underneath, at rustls's
/// time), keeps the finding, and refuses the handshake for a bad chain
/// unless told to go on. A name that does not match is only noted: curl
/// with OpenSSL finishes the handshake and then refuses, and so does
/// tcplab's curl.
#[derive(Debug)]
struct CurlVerifier {
    roots: Vec<Vec<u8>>,
    insecure: bool,
    algorithms: WebPkiSupportedAlgorithms,
    found: Arc<Mutex<Option<Check>>>,
}

impl ServerCertVerifier for CurlVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let inter: Vec<Vec<u8>> = intermediates.iter().map(|c| c.to_vec()).collect();
        let verdict = verify_chain(end_entity, &inter, &self.roots, now.as_secs());
        // RFC 6125 §6 (via webpki): DNS names against dNSName SANs, an
        // address against iPAddress SANs; the subject CN is not used.
        let name_ok = webpki::EndEntityCert::try_from(end_entity)
            .map(|ee| ee.verify_is_valid_for_subject_name(server_name).is_ok())
            .unwrap_or(false);
        let code = match verdict {
            Verdict::Ok => 0,
            Verdict::Error { code, .. } => code,
        };
        let mut presented = vec![end_entity.to_vec()];
        presented.extend(inter);
        *self.found.lock().unwrap_or_else(|p| p.into_inner()) = Some(Check {
            code,
            name_ok,
            presented,
        });
        if code == 0 || self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        // The alert rustls sends follows from the error (RFC 8446 §6.2):
        // unknown_ca, certificate_expired, decrypt_error, bad_certificate.
        Err(rustls::Error::InvalidCertificate(match code {
            10 => CertificateError::Expired,
            9 => CertificateError::NotValidYet,
            18..=20 => CertificateError::UnknownIssuer,
            7 => CertificateError::BadSignature,
            _ => CertificateError::BadEncoding,
        }))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The finding of a client session's certificate check, filled in during
/// the handshake.
pub type Finding = Arc<Mutex<Option<Check>>>;

/// The TLS 1.3 session tickets (RFC 8446 §4.6.1) a client configuration's
/// connections received, counted and never kept: nothing is resumed (a
/// fresh configuration per run), but curl's `-v` shows each ticket as it
/// comes. The ClientHello is the same as with no store (no TLS 1.2
/// tickets asked for, no ticket offered).
#[derive(Debug, Default)]
pub struct Tickets(std::sync::atomic::AtomicUsize);

impl Tickets {
    /// How many have come so far.
    pub fn received(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl rustls::client::ClientSessionStore for Tickets {
    fn set_kx_hint(&self, _: ServerName<'static>, _: rustls::NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }

    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls12ClientSessionValue,
    ) {
    }

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {}

    fn insert_tls13_ticket(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls13ClientSessionValue,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn take_tls13_ticket(
        &self,
        _: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        None
    }
}

/// A client's configuration and the cell its certificate check reports
/// into. One configuration serves every connection of a run.
pub fn client_config(
    opts: &ClientOptions,
    entropy: &Entropy,
    clock: &Clock,
) -> Result<(Arc<ClientConfig>, Finding), String> {
    client_config_counting(opts, entropy, clock).map(|(c, f, _)| (c, f))
}

/// [`client_config`], and the count of session tickets its connections
/// receive.
pub fn client_config_counting(
    opts: &ClientOptions,
    entropy: &Entropy,
    clock: &Clock,
) -> Result<(Arc<ClientConfig>, Finding, Arc<Tickets>), String> {
    let provider = provider(entropy);
    let found: Finding = Arc::new(Mutex::new(None));
    let verifier = CurlVerifier {
        roots: opts.roots.clone(),
        insecure: opts.insecure,
        algorithms: provider.signature_verification_algorithms,
        found: found.clone(),
    };
    let mut config = ClientConfig::builder_with_details(provider, Arc::new(clock.clone()))
        .with_protocol_versions(&versions(&opts.versions))
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = opts.alpn.clone();
    // A fresh configuration per run: no session to resume; tickets are
    // counted, not kept.
    let tickets = Arc::new(Tickets::default());
    config.resumption = rustls::client::Resumption::store(tickets.clone())
        .tls12_resumption(rustls::client::Tls12Resumption::Disabled);
    Ok((Arc::new(config), found, tickets))
}

/// What [`Session::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Plaintext.
    Data(usize),
    /// Nothing yet: more bytes from the network are needed.
    WouldBlock,
    /// The peer closed with close_notify (RFC 8446 §6.1).
    Closed,
    /// The connection ended without close_notify.
    Truncated,
}

/// One TLS connection, client or server.
#[derive(Debug)]
pub struct Session {
    conn: Connection,
}

impl Session {
    /// A client session to `name` (a host name is sent as SNI, RFC 6066
    /// §3; an address is not).
    pub fn client(config: Arc<ClientConfig>, name: &str) -> Result<Session, String> {
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| format!("`{name}` is not a host name or address"))?;
        let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        Ok(Session { conn: conn.into() })
    }

    pub fn server(config: Arc<ServerConfig>) -> Result<Session, String> {
        let conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
        Ok(Session { conn: conn.into() })
    }

    /// Take bytes from the network; returns how many were used (fewer than
    /// offered while unread plaintext fills rustls's buffer: offer the rest
    /// after [`Session::read`]). An error is fatal; the alert it caused
    /// waits in [`Session::outgoing`].
    pub fn receive(&mut self, mut data: &[u8]) -> Result<usize, rustls::Error> {
        let offered = data.len();
        while !data.is_empty() {
            match self.conn.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {
                    self.conn.process_new_packets()?;
                }
                Err(e) => {
                    // Back-pressure only while unread plaintext fills
                    // rustls's buffer; anything else (a handshake message
                    // larger than rustls holds) is fatal — taking nothing
                    // forever would leave the caller spinning.
                    let state = self.conn.process_new_packets()?;
                    if state.plaintext_bytes_to_read() == 0 {
                        return Err(rustls::Error::General(format!("TLS input: {e}")));
                    }
                    break;
                }
            }
        }
        Ok(offered - data.len())
    }

    /// The network said end of stream (TCP FIN).
    pub fn receive_eof(&mut self) -> Result<(), rustls::Error> {
        let _ = self.conn.read_tls(&mut &[][..]);
        self.conn.process_new_packets().map(|_| ())
    }

    /// Append what is to be sent to `out`.
    pub fn outgoing(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Plaintext received.
    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        if buf.is_empty() {
            return Read::Data(0);
        }
        match self.conn.reader().read(buf) {
            Ok(0) => Read::Closed,
            Ok(n) => Read::Data(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::WouldBlock,
            Err(_) => Read::Truncated,
        }
    }

    /// Plaintext to send: returns how much rustls took (it buffers up to
    /// 64 KiB; 0 means drain [`Session::outgoing`] first), or `None` when
    /// nothing more can be sent (after close_notify or a fatal error).
    pub fn write(&mut self, data: &[u8]) -> Option<usize> {
        self.conn.writer().write(data).ok()
    }

    /// Send close_notify (RFC 8446 §6.1).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// `TLSv1.3`, once the server has chosen.
    pub fn version(&self) -> Option<&'static str> {
        match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            _ => Some("TLS"),
        }
    }

    /// The cipher suite as curl with OpenSSL names it.
    pub fn cipher(&self) -> Option<String> {
        Some(curl_cipher_name(
            self.conn.negotiated_cipher_suite()?.suite(),
        ))
    }

    /// The ALPN protocol agreed on.
    pub fn alpn(&self) -> Option<String> {
        self.conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// The SNI name a client sent (server side).
    pub fn sni(&self) -> Option<String> {
        match &self.conn {
            Connection::Server(s) => s.server_name().map(str::to_string),
            Connection::Client(_) => None,
        }
    }

    /// The peer's certificates (DER), leaf first.
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        self.conn
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.to_vec()).collect())
            .unwrap_or_default()
    }
}

/// OpenSSL's names for TLS 1.2 suites, IANA's for TLS 1.3 (as curl with
/// OpenSSL prints them: `ECDHE-ECDSA-AES256-GCM-SHA384`,
/// `TLS_AES_256_GCM_SHA384`).
pub fn curl_cipher_name(s: CipherSuite) -> String {
    let name = match s {
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => return format!("{other:?}"),
    };
    name.to_string()
}

/// A TLS alert's description in OpenSSL's words and curl's number for it
/// (256 × level + description: `unknown CA (560)`).
pub fn alert_words(alert: rustls::AlertDescription) -> (String, u16) {
    use rustls::AlertDescription as A;
    let words = match alert {
        A::CloseNotify => "close notify",
        A::UnexpectedMessage => "unexpected message",
        A::BadRecordMac => "bad record mac",
        A::HandshakeFailure => "handshake failure",
        A::BadCertificate => "bad certificate",
        A::CertificateExpired => "certificate expired",
        A::UnknownCA => "unknown CA",
        A::DecodeError => "decode error",
        A::DecryptError => "decrypt error",
        A::ProtocolVersion => "protocol version",
        A::InternalError => "internal error",
        A::NoApplicationProtocol => "no application protocol",
        A::IllegalParameter => "illegal parameter",
        A::UnrecognisedName => "unrecognized name",
        _ => "unknown",
    };
    let level = if alert == A::CloseNotify { 1 } else { 2 };
    (words.to_string(), level * 256 + u16::from(u8::from(alert)))
}

#[cfg(test)]
mod tests {
    use super::{dns_name_covers, pem_private_key};

    #[test]
    fn an_encrypted_key_is_named_so() {
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(pem_private_key(pem).is_err_and(|e| e.contains("is encrypted")));
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(dns_name_covers("www.lab.test", "WWW.lab.test"));
        assert!(dns_name_covers("*.lab.test", "www.lab.test"));
        assert!(!dns_name_covers("*.lab.test", "a.b.lab.test"));
        assert!(!dns_name_covers("*.lab.test", "lab.test"));
        assert!(!dns_name_covers("www.lab.test", "lab.test"));
    }
}
