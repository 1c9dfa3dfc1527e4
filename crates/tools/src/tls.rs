//! TLS over a tcplab TCP connection: a [`Session`] (rustls, sans-IO)
//! pumped by the host's executor, and [`Stream`], the connection HTTP
//! runs over, plain or TLS.
//!
//! Bytes read from TCP that the session cannot take yet (rustls holds at
//! most 16 KiB of unread plaintext) wait in `pending` until the
//! application reads; so a slow reader slows the sender through TCP's
//! window, as with a kernel socket. One task uses a stream at a time
//! (HTTP is request/response); `flushing` keeps records in order even if
//! two writers meet.

use std::cell::{Cell, RefCell};
use std::net::SocketAddrV4;
use std::sync::Arc;

use tcplab_host::{Host, TcpStream};
use tcplab_stack::SocketError;
use tcplab_tls::rustls;
use tcplab_tls::session::{client_config_counting, server_config, Finding, Identity};
use tcplab_tls::{ClientOptions, Clock, Entropy, Read, Session, Tickets, Version};

/// Why a handshake or a read failed.
#[derive(Debug)]
pub enum TlsFailure {
    /// The TLS layer: a bad message, an alert, a refused certificate.
    Tls(rustls::Error),
    /// The connection underneath.
    Socket(SocketError),
    /// The peer closed before the handshake finished.
    Closed,
}

/// The time and randomness a host's TLS uses: the operating system's over
/// TUN; in the simulator the host's seeded randomness (the LABORATORY
/// provider of `tcplab_tls::lab`) and its virtual wall clock.
pub fn entropy(host: &Host) -> Entropy {
    if host.uses_os_random() {
        Entropy::Os
    } else {
        let mut seed = [0u8; 32];
        // The simulator's source is a seeded generator: it cannot fail.
        let _ = host.fill_random(&mut seed);
        Entropy::Seeded(seed)
    }
}

/// A clock that reads the host's wall clock now.
pub fn clock(host: &Host) -> Clock {
    Clock::new(host.wall_clock())
}

/// A server configuration for `host` from PEM files' contents (the first
/// identity is the default; the others are chosen by SNI).
pub fn server(
    host: &Host,
    identities: &[Identity],
    versions: &[Version],
) -> Result<(Arc<rustls::ServerConfig>, Clock), String> {
    let clock = clock(host);
    let config = server_config(identities, versions, &entropy(host), &clock)?;
    Ok((config, clock))
}

/// A client: its configuration, where its certificate check reports, its
/// clock, and the count of session tickets its connections receive.
pub type Client = (Arc<rustls::ClientConfig>, Finding, Clock, Arc<Tickets>);

/// A client configuration for `host`.
pub fn client(host: &Host, opts: &ClientOptions) -> Result<Client, String> {
    let clock = clock(host);
    let (config, found, tickets) = client_config_counting(opts, &entropy(host), &clock)?;
    Ok((config, found, clock, tickets))
}

/// A TLS session over a TCP connection.
#[derive(Debug)]
pub struct TlsStream {
    tcp: TcpStream,
    host: Host,
    clock: Clock,
    session: RefCell<Session>,
    /// Received from TCP: `pending[taken..]` is not yet taken by the
    /// session. The buffer is kept from read to read.
    pending: RefCell<Vec<u8>>,
    taken: Cell<usize>,
    eof: Cell<bool>,
    /// Records waiting for the writer that is sending.
    queue: RefCell<Vec<u8>>,
    flushing: Cell<bool>,
    /// Why reading failed, in words (curl's `SSL_read` errors).
    error: RefCell<Option<String>>,
    /// A FIN without close_notify ends the stream rather than failing the
    /// read ([`TlsStream::ignore_unexpected_eof`]).
    eof_ends: Cell<bool>,
    /// The records that crossed, when someone asked ([`TlsStream::tap`]).
    tap: RefCell<Option<crate::tls_tap::Tap>>,
}

impl TlsStream {
    pub fn new(host: &Host, tcp: TcpStream, session: Session, clock: Clock) -> TlsStream {
        TlsStream {
            tcp,
            host: host.clone(),
            clock,
            session: RefCell::new(session),
            pending: RefCell::new(Vec::new()),
            taken: Cell::new(0),
            eof: Cell::new(false),
            queue: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            error: RefCell::new(None),
            eof_ends: Cell::new(false),
            tap: RefCell::new(None),
        }
    }

    /// Watch the records from now on, as OpenSSL's message callback
    /// would report them (curl -v).
    pub fn tap(&self) {
        self.tap.borrow_mut().get_or_insert_with(Default::default);
    }

    /// What the watch saw since the last look (nothing without [`Self::tap`]).
    pub fn seen(&self) -> Vec<(bool, crate::tls_tap::Seen)> {
        self.tap
            .borrow_mut()
            .as_mut()
            .map_or_else(Vec::new, |t| t.take())
    }

    /// Take what the session has made to send, without sending it yet (so
    /// that the watch sees the ClientHello before the handshake runs).
    pub fn prime(&self) {
        self.pull(&mut self.queue.borrow_mut());
    }

    /// The session's output onto `out`, shown to the watch.
    fn pull(&self, out: &mut Vec<u8>) {
        let before = out.len();
        self.session.borrow_mut().outgoing(out);
        if let Some(t) = self.tap.borrow_mut().as_mut() {
            t.feed(true, &out[before..]);
        }
    }

    /// Take the peer's FIN without close_notify as the end of the stream,
    /// as OpenSSL's `SSL_OP_IGNORE_UNEXPECTED_EOF` does (curl sets it: a
    /// truncated body is then HTTP's to detect, by its framing). RFC 8446
    /// §6.1 asks for close_notify before end-of-data only where the
    /// application protocol could carry data after the close; HTTP/1.1
    /// cannot.
    pub fn ignore_unexpected_eof(&self) {
        self.eof_ends.set(true);
    }

    pub fn session(&self) -> std::cell::Ref<'_, Session> {
        self.session.borrow()
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Send what the session has to send, in the order it was made. One
    /// task sends at a time; another's records wait in `queue` behind
    /// what is being sent. Cancel-safe: bytes not yet written go back to
    /// the front of the queue.
    async fn send_pending(&self) -> Result<(), SocketError> {
        self.pull(&mut self.queue.borrow_mut());
        if self.flushing.replace(true) {
            return Ok(());
        }
        let mut g = Sending {
            s: self,
            out: Vec::new(),
        };
        loop {
            if g.out.is_empty() {
                g.out = std::mem::take(&mut *self.queue.borrow_mut());
                self.pull(&mut g.out);
                if g.out.is_empty() {
                    return Ok(());
                }
            }
            // A write either takes bytes or waits having taken none.
            let n = self.tcp.write(&g.out).await?;
            g.out.drain(..n);
        }
    }

    /// Give the session more bytes from the network.
    async fn fill(&self) -> Result<(), TlsFailure> {
        // Out of the cell while the read waits (no borrow across await).
        let mut data = std::mem::take(&mut *self.pending.borrow_mut());
        if self.taken.get() >= data.len() {
            if self.eof.get() {
                *self.pending.borrow_mut() = data;
                return Err(TlsFailure::Closed);
            }
            data.resize(16 * 1024, 0);
            let read = self.tcp.read(&mut data).await;
            self.clock.set(self.host.wall_clock());
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    data.clear();
                    *self.pending.borrow_mut() = data;
                    return Err(TlsFailure::Socket(e));
                }
            };
            data.truncate(n);
            if let Some(t) = self.tap.borrow_mut().as_mut() {
                t.feed(false, &data);
            }
            self.taken.set(0);
            if n == 0 {
                *self.pending.borrow_mut() = data;
                self.eof.set(true);
                let r = self.session.borrow_mut().receive_eof();
                return r.map_err(TlsFailure::Tls);
            }
        }
        let r = self.session.borrow_mut().receive(&data[self.taken.get()..]);
        *self.pending.borrow_mut() = data;
        match r {
            Ok(used) => {
                self.taken.set(self.taken.get() + used);
                Ok(())
            }
            Err(e) => {
                // The alert rustls queued goes out before we give up.
                let _ = self.send_pending().await;
                Err(TlsFailure::Tls(e))
            }
        }
    }

    /// Run the handshake to its end.
    pub async fn handshake(&self) -> Result<(), TlsFailure> {
        loop {
            self.send_pending().await.map_err(TlsFailure::Socket)?;
            if !self.session.borrow().is_handshaking() {
                return Ok(());
            }
            self.fill().await?;
            if self.eof.get() && self.session.borrow().is_handshaking() {
                return Err(TlsFailure::Closed);
            }
        }
    }

    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        loop {
            let r = self.session.borrow_mut().read(buf);
            match r {
                Read::Data(n) => return Ok(n),
                Read::Closed => return Ok(0),
                // A FIN without close_notify may be a truncation attack
                // (RFC 8446 §6.1): an error, as OpenSSL 3 makes it —
                // unless the application reads the end by its own framing.
                Read::Truncated if self.eof_ends.get() => return Ok(0),
                Read::Truncated => {
                    self.note("unexpected eof while reading".into());
                    return Err(SocketError::ConnectionReset);
                }
                Read::WouldBlock => {}
            }
            self.send_pending().await?;
            match self.fill().await {
                Ok(()) => {}
                Err(TlsFailure::Closed) if self.eof_ends.get() => return Ok(0),
                Err(TlsFailure::Closed) => {
                    self.note("unexpected eof while reading".into());
                    return Err(SocketError::ConnectionReset);
                }
                Err(TlsFailure::Socket(e)) => return Err(e),
                // A fatal alert from the peer, in OpenSSL's words as
                // curl's SSL_read error shows it.
                Err(TlsFailure::Tls(rustls::Error::AlertReceived(a))) => {
                    self.note(openssl_alert_reason(a));
                    return Err(SocketError::ConnectionReset);
                }
                Err(TlsFailure::Tls(e)) => {
                    self.note(e.to_string());
                    return Err(SocketError::ConnectionReset);
                }
            }
        }
    }

    pub async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        if data.is_empty() {
            return Ok(0);
        }
        loop {
            if self.session.borrow().is_handshaking() {
                self.handshake()
                    .await
                    .map_err(|_| SocketError::ConnectionReset)?;
            }
            let n = self.session.borrow_mut().write(data);
            let stuck = n == Some(0) && !self.session.borrow().wants_write();
            self.send_pending().await?;
            match n {
                Some(n) if n > 0 => return Ok(n),
                // Closed or failed, or taking nothing with nothing to
                // send: writing again would spin.
                None => return Err(SocketError::BrokenPipe),
                _ if stuck => return Err(SocketError::BrokenPipe),
                _ => {}
            }
        }
    }

    fn note(&self, why: String) {
        self.error.borrow_mut().get_or_insert(why);
    }

    /// Why a read failed at the TLS layer, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }

    /// close_notify, then TCP's FIN.
    pub async fn shutdown(&self) -> Result<(), SocketError> {
        self.session.borrow_mut().close();
        self.send_pending().await?;
        self.tcp.shutdown()
    }
}

/// The bytes a sender holds; on drop (done, failed or cancelled) what was
/// not written goes back in front of the queue and sending is free again.
struct Sending<'a> {
    s: &'a TlsStream,
    out: Vec<u8>,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if !self.out.is_empty() {
            let mut q = self.s.queue.borrow_mut();
            let later = std::mem::take(&mut *q);
            *q = std::mem::take(&mut self.out);
            q.extend_from_slice(&later);
        }
        self.s.flushing.set(false);
    }
}

/// The connection HTTP runs over.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.tcp(),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddrV4> {
        self.tcp().peer_addr()
    }

    pub fn local_addr(&self) -> Option<SocketAddrV4> {
        self.tcp().local_addr()
    }

    /// The TLS version agreed (`TLSv1.3`), on a TLS connection.
    pub fn tls_version(&self) -> Option<&'static str> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => t.session().version(),
        }
    }

    /// What the records' watch saw since the last look (a TLS stream
    /// being watched; nothing otherwise).
    pub fn seen(&self) -> Vec<(bool, crate::tls_tap::Seen)> {
        match self {
            Stream::Plain(_) => Vec::new(),
            Stream::Tls(t) => t.seen(),
        }
    }

    /// Why the last read failed at the TLS layer (curl words it as an
    /// `SSL_read` error rather than a socket's).
    pub fn tls_error(&self) -> Option<String> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => t.error(),
        }
    }

    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(t) => t.read(buf).await,
        }
    }

    /// Write what fits now (waiting for room if none does); how much.
    pub async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        match self {
            Stream::Plain(s) => s.write(data).await,
            Stream::Tls(t) => t.write(data).await,
        }
    }

    pub async fn write_all(&self, mut data: &[u8]) -> Result<(), SocketError> {
        match self {
            Stream::Plain(s) => s.write_all(data).await,
            Stream::Tls(t) => {
                while !data.is_empty() {
                    let n = t.write(data).await?;
                    data = &data[n..];
                }
                Ok(())
            }
        }
    }

    /// Close the sending side (TLS: close_notify first).
    pub async fn shutdown(&self) -> Result<(), SocketError> {
        match self {
            Stream::Plain(s) => s.shutdown(),
            Stream::Tls(t) => t.shutdown().await,
        }
    }

    /// Wait until what was written has been acknowledged.
    pub async fn flush(&self) -> Result<(), SocketError> {
        self.tcp().flush().await
    }
}

/// OpenSSL 3's error string for a fatal alert the peer sent
/// (`error:0A00045C:SSL routines::tlsv13 alert certificate required`:
/// SSL_R_ALERT base 1000 plus the alert's number).
pub fn openssl_alert_reason(alert: rustls::AlertDescription) -> String {
    use rustls::AlertDescription as A;
    let n = u8::from(alert);
    let words = match alert {
        A::UnexpectedMessage => "sslv3 alert unexpected message",
        A::BadRecordMac => "sslv3 alert bad record mac",
        A::HandshakeFailure => "sslv3 alert handshake failure",
        A::BadCertificate => "sslv3 alert bad certificate",
        A::UnsupportedCertificate => "sslv3 alert unsupported certificate",
        A::CertificateRevoked => "sslv3 alert certificate revoked",
        A::CertificateExpired => "sslv3 alert certificate expired",
        A::CertificateUnknown => "sslv3 alert certificate unknown",
        A::IllegalParameter => "sslv3 alert illegal parameter",
        A::UnknownCA => "tlsv1 alert unknown ca",
        A::AccessDenied => "tlsv1 alert access denied",
        A::DecodeError => "tlsv1 alert decode error",
        A::DecryptError => "tlsv1 alert decrypt error",
        A::ProtocolVersion => "tlsv1 alert protocol version",
        A::InsufficientSecurity => "tlsv1 alert insufficient security",
        A::InternalError => "tlsv1 alert internal error",
        A::InappropriateFallback => "tlsv1 alert inappropriate fallback",
        A::UserCanceled => "tlsv1 alert user cancelled",
        A::MissingExtension => "tlsv13 alert missing extension",
        A::UnsupportedExtension => "tlsv1 unsupported extension",
        A::UnrecognisedName => "tlsv1 unrecognized name",
        A::BadCertificateStatusResponse => "tlsv1 bad certificate status response",
        A::CertificateRequired => "tlsv13 alert certificate required",
        A::NoApplicationProtocol => "tlsv1 alert no application protocol",
        _ => "ssl/tls alert",
    };
    format!(
        "error:{:08X}:SSL routines::{words}",
        0x0A00_0000u32 + 1000 + u32::from(n)
    )
}

/// Why a client's handshake failed, in words for a server's log (not
/// rustls's variant names).
pub fn handshake_failure(e: &TlsFailure) -> String {
    use rustls::{Error as E, InvalidMessage as M, PeerIncompatible as P};
    let e = match e {
        TlsFailure::Tls(e) => e,
        TlsFailure::Socket(e) => return format!("connection error: {e}"),
        TlsFailure::Closed => return "the client closed during the handshake".into(),
    };
    match e {
        E::AlertReceived(a) => {
            // (The alert's own number, not curl's 512 + it.)
            let (words, _) = tcplab_tls::session::alert_words(*a);
            format!("the client sent alert {words} ({})", u8::from(*a))
        }
        E::PeerIncompatible(
            P::Tls12NotOffered
            | P::Tls12NotOfferedOrEnabled
            | P::Tls13RequiredForQuic
            | P::SupportedVersionsExtensionRequired,
        ) => "no protocol version in common with the client".into(),
        E::PeerIncompatible(_) => {
            "the client offered nothing this server takes (cipher suites, groups or signature algorithms)"
                .into()
        }
        E::InvalidMessage(M::InvalidContentType) => "not TLS: no TLS record from the client".into(),
        E::InvalidMessage(M::HandshakePayloadTooLarge | M::MessageTooLarge) => {
            "a TLS message from the client too large".into()
        }
        E::InvalidMessage(_) => "a malformed TLS message from the client".into(),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "an unexpected TLS message from the client".into()
        }
        E::PeerMisbehaved(_) => "the client broke the TLS protocol".into(),
        E::NoCertificatesPresented => "the client presented no certificate".into(),
        E::InvalidCertificate(_) => "the client's certificate was refused".into(),
        E::DecryptError => "a record from the client did not decrypt".into(),
        _ => "handshake failure".into(),
    }
}
