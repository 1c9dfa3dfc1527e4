//! `serve http [--port 80] [--root /srv/www] [--log]`: a file server.
//!
//! GET and HEAD serve files under the root (a directory redirects to its
//! name with a slash, and then serves `index.html` or a listing, sent with
//! chunked transfer coding to HTTP/1.1 clients); POST echoes the request
//! body back; other methods get 501. Connections persist as HTTP/1.1 says
//! (RFC 9112 §9.3): a new connection waits [`FIRST_REQUEST`] for its first
//! request, an idle one is closed [`KEEPALIVE`] after its last, and a
//! request's head and then its body must each arrive within
//! [`FIRST_REQUEST`]. Every connection has its own task, so clients are
//! served concurrently, at most [`MAX_CONNECTIONS`] at once. With every
//! place taken, a new connection takes the place of the one that holds
//! its place for least: the one waiting longest for a request (or its TLS
//! handshake), else the one whose response has made no progress for
//! longest, at least [`STALLED`] — so clients that open connections and
//! send nothing, trickle their requests (slowloris) or never read their
//! responses cannot lock others out; a newcomer is refused only when
//! every place is busy with a request that is moving. A response that
//! makes no progress for [`SEND_STALL`] is given up. Limits: request
//! heads 16 KiB, request bodies [`MAX_BODY`], all the bodies held at once
//! [`BODIES_MAX`] (counted as they arrive; past it, 503). A request body
//! comes with Content-Length or chunked (RFC 9112 §6: another transfer
//! coding is 501, both framings at once 400); targets in origin or
//! absolute form.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{timeout, FileSystem, Host, Output, TcpStream};

pub use crate::places::{Places, Slot, PROGRESS, STALLED};

use crate::tls::Stream;

use super::{http_date, Conn, Head, HttpError};

/// How long a new connection may take to bring its first request: long
/// enough for a request delayed by loss and retransmission, as Apache's
/// `Timeout` (60 s) is.
pub const FIRST_REQUEST: Duration = Duration::from_secs(60);
/// Idle time after which a persistent connection is closed between
/// requests (Apache's `KeepAliveTimeout` is 5 s).
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// The largest request body accepted.
pub const MAX_BODY: u64 = 16 << 20;
/// Request bodies held at once, all connections together: a request
/// whose body would pass this waits for nothing and is answered 503, so
/// that memory stays bounded however many connections send large
/// bodies together.
pub const BODIES_MAX: u64 = 64 << 20;
/// Connections served at once; more are closed as they come, so that
/// memory stays bounded (each may hold a 16 MiB body, and over TLS about
/// 100 KiB of buffers) while the slow ones time out.
pub const MAX_CONNECTIONS: usize = 512;
/// A response that makes no progress for this long is given up (Apache's
/// `Timeout`, nginx's `send_timeout`: 60 s).
pub const SEND_STALL: Duration = Duration::from_secs(60);

/// What the server needs for every request.
#[derive(Debug)]
pub struct Site {
    pub host: Host,
    pub root: String,
    pub log: Option<RefCell<Output>>,
    /// The connections being served.
    pub places: Rc<Places>,
    /// Bytes of request bodies being read or answered now
    /// ([`BODIES_MAX`]).
    pub bodies: Cell<u64>,
}

/// A connection's share of [`BODIES_MAX`]: the body bytes it holds,
/// counted as they arrive (a length declared and not sent holds
/// nothing), given back when dropped.
struct BodyShare<'a> {
    site: &'a Site,
    bytes: u64,
}

impl<'a> BodyShare<'a> {
    fn new(site: &'a Site) -> BodyShare<'a> {
        BodyShare { site, bytes: 0 }
    }

    /// Count `n` more bytes, or say that they would pass the limit.
    fn grow(&mut self, n: u64) -> Result<(), HttpError> {
        let held = self.site.bodies.get();
        if held + n > BODIES_MAX {
            return Err(HttpError::Refused);
        }
        self.site.bodies.set(held + n);
        self.bytes += n;
        Ok(())
    }
}

impl Drop for BodyShare<'_> {
    fn drop(&mut self) {
        self.site.bodies.set(self.site.bodies.get() - self.bytes);
    }
}

/// A place for a new connection among the [`MAX_CONNECTIONS`] (see
/// [`Places::admit`] for whose place a newcomer takes when all are taken).
pub fn admit(site: &Rc<Site>, stream: &TcpStream) -> Option<Slot> {
    site.places.admit(stream.peer_addr().map(|a| *a.ip()))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        503 => "Service Unavailable",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A file's media type by its extension, as Python's `mimetypes` and
/// nginx's `mime.types` give them (browsers insist on the right one for
/// module scripts and streamed WebAssembly).
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html",
        Some("txt" | "zone" | "conf") => "text/plain",
        Some("css") => "text/css",
        Some("csv") => "text/csv",
        Some("js" | "mjs") => "text/javascript",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/vnd.microsoft.icon",
        Some("svg") => "image/svg+xml",
        Some("mp4") => "video/mp4",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `&`, `<` and `>` as character references, so text shows as itself.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A path's bytes percent-encoded but the unreserved characters of RFC
/// 3986 §2.3 and `/` (what python's `urllib.parse.quote` leaves).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 9112 §3.2's Host value, `uri-host [ ":" port ]` (RFC 3986 §3.2.2):
/// a name of unreserved characters, sub-delimiters and escapes, or a
/// bracketed literal, then digits after a colon. Empty is allowed (an
/// empty authority).
fn valid_host(v: &str) -> bool {
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        match rest.split_once(']') {
            Some((lit, after)) => {
                if lit.is_empty()
                    || !lit
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
                {
                    return false;
                }
                match after.strip_prefix(':') {
                    Some(p) => ("", Some(p)),
                    None if after.is_empty() => ("", None),
                    None => return false,
                }
            }
            None => return false,
        }
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (v, None),
        }
    };
    let host_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b));
    host_ok && port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// A query as received, with anything that may not stand in a header
/// or a URL (controls, spaces, bytes past ASCII) percent-encoded; what was
/// already encoded stays so.
fn percent_encode_query(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for b in q.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decode a path (RFC 3986 §2.1); `None` for bad escapes.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A response about to be written.
struct Response {
    code: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

enum Body {
    Bytes(Rc<[u8]>),
    /// Sent with chunked coding (or until close to an HTTP/1.0 client).
    Chunked(Vec<u8>),
}

impl Response {
    fn new(code: u16, ctype: &str, body: impl Into<Rc<[u8]>>) -> Response {
        Response {
            code,
            headers: vec![("Content-Type".into(), ctype.into())],
            body: Body::Bytes(body.into()),
        }
    }

    fn error(code: u16) -> Response {
        let text = format!(
            "<html><head><title>{code} {r}</title></head><body><h1>{code} {r}</h1></body></html>\n",
            r = reason(code)
        );
        Response::new(code, "text/html", text.into_bytes())
    }
}

impl Site {
    fn route(&self, method: &str, target: &str, body: &[u8], req: &Head) -> Response {
        // RFC 9112 §3.2.2: a server MUST accept the absolute form
        // (`http://host/path`), as a proxy's client sends it.
        let target = match target.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
            {
                match rest.find(['/', '?']) {
                    Some(i) if rest[i..].starts_with('/') => &rest[i..],
                    _ => "/",
                }
            }
            _ => target,
        };
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let Some(path) = percent_decode(path).filter(|p| p.starts_with('/')) else {
            return Response::error(400);
        };
        // (The query, as sent, goes with a directory's redirect.)
        let query = target
            .split('#')
            .next()
            .and_then(|t| t.split_once('?'))
            .map(|(_, q)| q);
        match method {
            "GET" | "HEAD" => self.file(&path, query),
            "POST" => {
                let ctype = req.header("content-type").unwrap_or("text/plain");
                Response::new(200, ctype, body.to_vec())
            }
            _ => {
                let mut r = Response::error(501);
                r.headers.push(("Allow".into(), "GET, HEAD, POST".into()));
                r
            }
        }
    }

    fn file(&self, path: &str, query: Option<&str>) -> Response {
        let fs = self.host.fs();
        let Some(full) = tcplab_host::fs::normalize(&format!("{}/{}", self.root, path)) else {
            return Response::error(403);
        };
        let root = tcplab_host::fs::normalize(&self.root).unwrap_or_else(|| "/".into());
        if full != root && !full.starts_with(&format!("{}/", root.trim_end_matches('/'))) {
            return Response::error(403);
        }
        if fs.is_dir(&full) {
            if !path.ends_with('/') {
                // The path percent-encoded again (a name may hold `%`,
                // `#`, `?`, spaces or even a line end, which must not
                // reach the header raw), the query kept.
                let mut to = format!("{}/", percent_encode(path));
                if let Some(q) = query {
                    to.push('?');
                    to.push_str(&percent_encode_query(q));
                }
                let mut r = Response::new(301, "text/html", Vec::new());
                r.headers.push(("Location".into(), to));
                return r;
            }
            if let Ok(index) = fs.read(&format!("{full}/index.html")) {
                return Response::new(200, "text/html", index);
            }
            return self.listing(&*fs, path, &full);
        }
        // A file named as a directory (`/index.html/`) is not found, as
        // open(2) says ENOTDIR: served, its relative links would resolve
        // against the wrong base.
        if path.ends_with('/') {
            return Response::error(404);
        }
        match fs.read(&full) {
            Ok(data) => Response::new(200, content_type(&full), data),
            Err(_) => Response::error(404),
        }
    }

    fn listing(&self, fs: &dyn FileSystem, path: &str, full: &str) -> Response {
        let mut names: Vec<String> = Vec::new();
        for p in fs.list(full) {
            if let Some(rest) = p.strip_prefix(&format!("{}/", full.trim_end_matches('/'))) {
                let entry = match rest.split_once('/') {
                    Some((dir, _)) => format!("{dir}/"),
                    None => rest.to_string(),
                };
                if !names.contains(&entry) {
                    names.push(entry);
                }
            }
        }
        // Names are text in the page (markup escaped) and each link is
        // the name percent-encoded, as python's http.server writes them:
        // a file called `<b>` or `a#b` is shown and reached as itself.
        let path = html_escape(path);
        let mut html = format!("<html><head><title>Index of {path}</title></head><body>\n<h1>Index of {path}</h1>\n<ul>\n");
        for n in names {
            html.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                percent_encode(&n),
                html_escape(&n)
            ));
        }
        html.push_str("</ul>\n</body></html>\n");
        Response {
            code: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: Body::Chunked(html.into_bytes()),
        }
    }
}

/// Serve one connection until it closes or idles.
pub async fn connection(site: Rc<Site>, stream: Stream, slot: &Slot) {
    let peer = stream.peer_addr();
    let mut conn = Conn::new(stream);
    conn.requests = true;
    let mut wait = FIRST_REQUEST;
    loop {
        slot.waiting();
        match timeout(&site.host, wait, conn.wait_readable()).await {
            Ok(Ok(true)) => {}
            _ => break,
        }
        // The whole head, and then the whole body, each within the time
        // a first request may take: a client that trickles bytes does
        // not hold its connection longer.
        let head = match timeout(&site.host, FIRST_REQUEST, conn.read_head()).await {
            Err(_) => break,
            Ok(Ok(Some(h))) => h,
            Ok(Ok(None)) => break,
            Ok(Err(HttpError::HeadTooLarge)) => {
                refuse(&mut conn, &site, slot, 431, "1.1").await;
                break;
            }
            Ok(Err(HttpError::LineTooLong)) => {
                refuse(&mut conn, &site, slot, 414, "1.1").await;
                break;
            }
            Ok(Err(_)) => {
                refuse(&mut conn, &site, slot, 400, "1.1").await;
                break;
            }
        };
        slot.busy();
        let parts: Vec<&str> = head.start.split(' ').collect();
        let [method, target, version] = parts[..] else {
            refuse(&mut conn, &site, slot, 400, "1.1").await;
            break;
        };
        let minor = match version {
            "HTTP/1.1" => "1.1",
            "HTTP/1.0" => "1.0",
            _ => {
                refuse(&mut conn, &site, slot, 505, "1.1").await;
                break;
            }
        };
        // RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request
        // with more than one, is a 400.
        let hosts = head
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
            .count();
        let bad_host = head.header("host").is_some_and(|h| !valid_host(h));
        if (minor == "1.1" && hosts == 0) || hosts > 1 || bad_host {
            refuse(&mut conn, &site, slot, 400, minor).await;
            break;
        }
        let coded = head
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
        let length = match head.content_length() {
            Ok(l) => l,
            Err(_) => {
                refuse(&mut conn, &site, slot, 400, minor).await;
                break;
            }
        };
        // RFC 9112 §6.3: a coded body must end in chunked (else 400), and
        // a request with both framings may be refused (smuggling); §6.1:
        // a coding the server does not know is 501. Only chunked is known.
        if coded {
            let codings: Vec<&str> = head
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
                .flat_map(|(_, v)| v.split(','))
                .map(str::trim)
                .collect();
            let only_chunked = codings.iter().all(|t| t.eq_ignore_ascii_case("chunked"));
            // §6.1: chunked applied more than once is an error too.
            let twice = codings
                .iter()
                .filter(|t| t.eq_ignore_ascii_case("chunked"))
                .count()
                > 1;
            let code = if !head.is_chunked() || length.is_some() || minor == "1.0" || twice {
                400
            } else if !only_chunked {
                501
            } else {
                0
            };
            if code != 0 {
                refuse(&mut conn, &site, slot, code, minor).await;
                break;
            }
        }
        let length = length.unwrap_or(0);
        if length > MAX_BODY {
            refuse(&mut conn, &site, slot, 413, minor).await;
            break;
        }
        // RFC 9110 §10.1.1: a client that expects 100-continue waits for
        // it before sending the body (curl for a second); a server that
        // will read the body SHOULD say so at once. An HTTP/1.0 request's
        // expectation is ignored.
        let expects =
            minor == "1.1" && (coded || length > 0) && head.has_token("expect", "100-continue");
        if expects
            && send(&conn, &site, slot, b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            break;
        }
        let mut share = BodyShare::new(&site);
        let mut body = Vec::new();
        let mut sink = |b: &[u8]| {
            // (A chunked body's length is known only as it comes.)
            if (body.len() + b.len()) as u64 > MAX_BODY {
                return Err(HttpError::BodyTooLarge);
            }
            share.grow(b.len() as u64)?;
            body.extend_from_slice(b);
            Ok(())
        };
        let read = if coded {
            timeout(&site.host, FIRST_REQUEST, conn.read_chunked_into(&mut sink)).await
        } else {
            timeout(
                &site.host,
                FIRST_REQUEST,
                conn.read_exact_into(length, &mut sink),
            )
            .await
        };
        let code = match read {
            Ok(Ok(())) => None,
            // Every connection's bodies together would pass BODIES_MAX.
            Ok(Err(HttpError::Refused)) => Some(503),
            Ok(Err(HttpError::BodyTooLarge)) => Some(413),
            // A chunked body's trailer section past the head's limit.
            Ok(Err(HttpError::HeadTooLarge)) => Some(431),
            Ok(Err(HttpError::Malformed(_))) => Some(400),
            _ => break,
        };
        if let Some(code) = code {
            // (The body's share is given back before the answer goes.)
            drop(body);
            drop(share);
            refuse(&mut conn, &site, slot, code, minor).await;
            break;
        }
        let keep = if minor == "1.1" {
            !head.has_token("connection", "close")
        } else {
            head.has_token("connection", "keep-alive")
        };
        let response = site.route(method, target, &body, &head);
        let code = response.code;
        let sent = write(
            &mut conn,
            &site,
            slot,
            response,
            method == "HEAD",
            keep,
            minor,
        )
        .await;
        if let Some(log) = &site.log {
            let who = peer.map_or("-".to_string(), |p| p.ip().to_string());
            log.borrow_mut().line(format!(
                "{who} - - [{}] \"{}\" {code} {}",
                http_date(site.host.wall_clock().as_micros() as u64),
                head.start,
                sent.as_ref().map_or("-".to_string(), |n| n.to_string())
            ));
        }
        match sent {
            Ok(_) if keep => wait = KEEPALIVE,
            _ => break,
        }
    }
    let _ = conn.stream.shutdown().await;
    let _ = timeout(&site.host, SEND_STALL, conn.stream.flush()).await;
}

/// Answer with an error page and no more (the connection closes after).
async fn refuse(conn: &mut Conn, site: &Site, slot: &Slot, code: u16, minor: &str) {
    let _ = write(conn, site, slot, Response::error(code), false, false, minor).await;
}

/// Write all of `data`, each piece within [`SEND_STALL`] (a client that
/// stops reading is given up), telling the slot whenever it moved.
async fn send(conn: &Conn, site: &Site, slot: &Slot, mut data: &[u8]) -> Result<(), HttpError> {
    while !data.is_empty() {
        match timeout(&site.host, SEND_STALL, conn.stream.write(data)).await {
            Ok(Ok(n)) => {
                data = &data[n..];
                slot.moved(n);
            }
            Ok(Err(e)) => return Err(HttpError::Socket(e)),
            Err(_) => return Err(HttpError::Socket(tcplab_stack::SocketError::TimedOut)),
        }
    }
    Ok(())
}

/// Write a response; returns the body bytes sent. `keep`: the connection
/// stays open after it (said in `Connection:` when that differs from the
/// version's default).
async fn write(
    conn: &mut Conn,
    site: &Site,
    slot: &Slot,
    mut r: Response,
    head_only: bool,
    keep: bool,
    minor: &str,
) -> Result<u64, HttpError> {
    // RFC 9110 §2.5: the highest version the server conforms to with the
    // request's major version — HTTP/1.1 also to an HTTP/1.0 request (as
    // nginx and Apache answer); what a 1.0 client can take (no chunked
    // coding, a close unless it asked to keep) follows its version.
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.code, reason(r.code));
    head.push_str("Server: tcplab-http/0.1\r\n");
    head.push_str(&format!(
        "Date: {}\r\n",
        http_date(site.host.wall_clock().as_micros() as u64)
    ));
    let chunked = matches!(r.body, Body::Chunked(_)) && minor == "1.1";
    match &r.body {
        Body::Bytes(b) => r
            .headers
            .push(("Content-Length".into(), b.len().to_string())),
        Body::Chunked(b) if !chunked => r
            .headers
            .push(("Content-Length".into(), b.len().to_string())),
        Body::Chunked(_) => r
            .headers
            .push(("Transfer-Encoding".into(), "chunked".into())),
    }
    if !keep {
        r.headers.push(("Connection".into(), "close".into()));
    } else if minor == "1.0" {
        r.headers.push(("Connection".into(), "keep-alive".into()));
    }
    for (n, v) in &r.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    send(conn, site, slot, head.as_bytes()).await?;
    if head_only {
        return Ok(0);
    }
    match &r.body {
        Body::Bytes(b) => {
            send(conn, site, slot, b).await?;
            Ok(b.len() as u64)
        }
        Body::Chunked(b) if !chunked => {
            send(conn, site, slot, b).await?;
            Ok(b.len() as u64)
        }
        Body::Chunked(b) => {
            // Two chunks, to show the coding at work.
            let mid = b.len() / 2;
            for part in [&b[..mid], &b[mid..]] {
                if part.is_empty() {
                    continue;
                }
                send(conn, site, slot, format!("{:x}\r\n", part.len()).as_bytes()).await?;
                send(conn, site, slot, part).await?;
                send(conn, site, slot, b"\r\n").await?;
            }
            send(conn, site, slot, b"0\r\n\r\n").await?;
            Ok(b.len() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Request bodies are counted against one budget as their bytes
    /// arrive, and the share goes back when the connection is done with
    /// its body.
    #[test]
    fn bodies_share_one_budget() {
        let host = Host::new(
            "web",
            tcplab_stack::Stack::new(tcplab_stack::Config::default()),
        );
        let site = Site {
            places: crate::places::Places::new(&host, 4),
            host,
            root: "/".into(),
            log: None,
            bodies: Cell::new(0),
        };
        let mut a = BodyShare::new(&site);
        a.grow(BODIES_MAX - 10).unwrap();
        {
            let mut b = BodyShare::new(&site);
            b.grow(10).unwrap();
            assert!(b.grow(1).is_err(), "past the budget");
            assert_eq!(site.bodies.get(), BODIES_MAX);
        }
        assert_eq!(site.bodies.get(), BODIES_MAX - 10);
        drop(a);
        assert_eq!(site.bodies.get(), 0);
    }

    #[test]
    fn decoding_and_types() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        for name in [
            "<script>alert(1)<",
            "hash#.txt",
            "q?.txt",
            "pct%41.txt",
            "a b/",
            "é",
        ] {
            let link = percent_encode(name);
            assert!(link
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"<>\"#?".contains(&b)));
            assert_eq!(percent_decode(&link).as_deref(), Some(name));
        }
        assert_eq!(html_escape("<a&b>"), "&lt;a&amp;b&gt;");
        for ok in [
            "server",
            "server:8080",
            "10.0.0.1:80",
            "[::1]:8080",
            "",
            "a,b",
        ] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in ["x, y", "a b", "host:80a", "[::1", "[zz]", "h/x", "h\tx"] {
            assert!(!valid_host(bad), "{bad}");
        }
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(content_type("/x/index.HTML"), "text/html");
        assert_eq!(content_type("/big.bin"), "application/octet-stream");
        assert_eq!(content_type("/app.mjs"), "text/javascript");
        assert_eq!(content_type("/a.wasm"), "application/wasm");
        assert_eq!(content_type("/favicon.ico"), "image/vnd.microsoft.icon");
    }
}
