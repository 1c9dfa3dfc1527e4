//! HTTP/1.1 (RFC 9112) as curl and a small file server speak it: message
//! heads, bodies by Content-Length, chunked transfer coding or connection
//! close, and persistent connections. Everything read from the peer is
//! bounded: a head is at most [`MAX_HEAD`] bytes, a chunk-size line at most
//! 1 KiB.

pub mod server;

use std::time::Duration;

use crate::tls::Stream;
use tcplab_stack::SocketError;

/// The largest message head (start line and header fields) accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Socket(SocketError),
    /// The peer closed before a complete message.
    #[error("connection closed")]
    Closed,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("message head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// A request line longer than the head may be.
    #[error("request line longer than {MAX_HEAD} bytes")]
    LineTooLong,
    /// A response header line longer than curl takes.
    #[error("response header line too long")]
    ResponseLineTooLong,
    /// A response head larger in all than curl takes (its size so far).
    #[error("response head too large: {0} bytes")]
    ResponseHeadTooLarge(usize),
    /// A body past what its reader takes (a server's 413).
    #[error("message body too large")]
    BodyTooLarge,
    /// The body's reader wanted no more of it (it could not keep it).
    #[error("body refused by its reader")]
    Refused,
    /// A response that does not begin `HTTP/`: an HTTP/0.9 reply, a body
    /// with no head.
    #[error("not an HTTP/1 response")]
    NotHttp,
}

impl From<SocketError> for HttpError {
    fn from(e: SocketError) -> Self {
        HttpError::Socket(e)
    }
}

/// A start line and header fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header field (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header field has `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Content-Length, if present and valid. Several differing values or a
    /// non-number are an error (RFC 9112 §6.3 item 5).
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found: Option<u64> = None;
        for (n, v) in &self.headers {
            if !n.eq_ignore_ascii_case("content-length") {
                continue;
            }
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 15 {
                    return Err(HttpError::Malformed("bad Content-Length"));
                }
                let len: u64 = part
                    .parse()
                    .map_err(|_| HttpError::Malformed("bad Content-Length"))?;
                if found.is_some_and(|f| f != len) {
                    return Err(HttpError::Malformed("conflicting Content-Length"));
                }
                found = Some(len);
            }
        }
        Ok(found)
    }

    /// Whether the message is chunked (the final coding is `chunked`).
    pub fn is_chunked(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
            .flat_map(|(_, v)| v.split(','))
            .last()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
    }
}

/// Parse a head from `bytes` (which end with the blank line), of at most
/// 100 header fields (a server's bound on a request).
pub fn parse_head(bytes: &[u8]) -> Result<Head, HttpError> {
    parse_head_max(bytes, 100, false)
}

/// [`parse_head`] with `max_fields` header fields at most; with
/// `response`, folded lines are joined (a user agent's duty, RFC 9112
/// §5.2) where a server refuses them.
fn parse_head_max(bytes: &[u8], max_fields: usize, response: bool) -> Result<Head, HttpError> {
    // RFC 9110 §5.5: a field value may hold obs-text (bytes 0x80-0xFF),
    // which need not be UTF-8: such a head is read as Latin-1, byte by
    // byte.
    let latin1: String;
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            latin1 = bytes.iter().map(|&b| char::from(b)).collect();
            &latin1
        }
    };
    // RFC 9112 §2.2: a bare LF may end a line too (curl and servers take
    // it), a CR before it ignored.
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or(HttpError::Malformed("empty start line"))?
        .to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        // RFC 9112 §5.2: obsolete line folding. A server rejects it (a
        // request); a user agent MUST replace it with a space (a
        // response, as curl reads one).
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, value)) if response => {
                    let more = line.trim();
                    if !more.is_empty() {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(more);
                    }
                    continue;
                }
                _ => return Err(HttpError::Malformed("folded header line")),
            }
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::Malformed("header line without a colon"))?;
        // RFC 9112 §5.1: no whitespace between the name and the colon —
        // a server refuses a request with some; a user agent may take a
        // response's (curl 7.88 does); RFC 9110 §5.1: the name is a token.
        let name = if response {
            name.trim_end_matches([' ', '\t'])
        } else {
            name
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HttpError::Malformed("bad header name"));
        }
        // RFC 9112 §2.2: a bare CR is invalid (a framing an LF-splitting
        // recipient and a CRLF one would read apart).
        if value.contains('\r') {
            return Err(HttpError::Malformed("bare CR in a header"));
        }
        // RFC 9110 §5.5: no control character but HTAB in a field value;
        // a server refuses a request with one (curl takes a response's).
        if !response && value.chars().any(|c| c.is_ascii_control() && c != '\t') {
            return Err(HttpError::Malformed("control character in a header"));
        }
        headers.push((name.to_string(), value.trim().to_string()));
        if headers.len() > max_fields {
            return Err(HttpError::HeadTooLarge);
        }
    }
    Ok(Head { start, headers })
}

const RESPONSE_MAX_LINE: usize = 100 * 1024;
const RESPONSE_MAX_TOTAL: usize = 300 * 1024;

/// curl's bounds on a response head, counted line by line as the head
/// arrives (so the work is linear however it trickles in): a line of
/// 100 KiB or more — with its terminating NUL it would not fit curl's
/// 100 KiB header buffer (CURL_MAX_HTTP_HEADER) — is "Out of memory"; a
/// head past 300 KiB in all (MAX_HTTP_RESP_HEADER_SIZE, counted to the
/// line that passes it) is refused. (The total came with curl 8.3.0's
/// fix for CVE-2023-38039, which Debian's 7.88.1, the reference here,
/// carries.)
#[derive(Debug, Default)]
struct HeadLimits {
    /// Where the line not yet ended starts (from the head's start).
    line_start: usize,
    /// The bytes of the lines ended so far.
    total: usize,
}

impl HeadLimits {
    fn check(&mut self, head: &[u8]) -> Result<(), HttpError> {
        while let Some(i) = head
            .get(self.line_start..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            let len = i + 1;
            if len >= RESPONSE_MAX_LINE {
                return Err(HttpError::ResponseLineTooLong);
            }
            self.total += len;
            if self.total > RESPONSE_MAX_TOTAL {
                return Err(HttpError::ResponseHeadTooLarge(self.total));
            }
            self.line_start += len;
        }
        if head.len().saturating_sub(self.line_start) >= RESPONSE_MAX_LINE {
            return Err(HttpError::ResponseLineTooLong);
        }
        Ok(())
    }
}

/// RFC 9110 §5.6.2's tchar.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Whether `b` can begin a request line: a method token (RFC 9110 §5.6.2
/// tchar) up to the first space.
fn method_prefix(b: &[u8]) -> bool {
    let token = b.split(|c| *c == b' ').next().unwrap_or(b"");
    token.iter().all(|c| {
        // CR and LF are left for the head's parser to judge.
        c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~\r\n".contains(c)
    })
}

/// A connection with a read buffer.
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    buf: Vec<u8>,
    pos: usize,
    /// A server's side: a request line must start with a method token,
    /// so bytes that cannot (a TLS ClientHello on a plain port) are a bad
    /// request at once, not after the head timeout.
    pub requests: bool,
    /// curl's `--limit-rate`: reads wait to keep the average under it.
    pub pace: Option<Pace>,
}

/// A reader's rate limit, as curl keeps it: the bytes read since `start`
/// may not run ahead of `rate` a second, so a read waits until they would
/// not, and takes at most a second's worth (curl's `max_recv_speed` cuts
/// its reads the same way). Meanwhile the socket's receive buffer fills
/// and the sender sees the window close.
#[derive(Debug)]
pub struct Pace {
    host: tcplab_host::Host,
    rate: u64,
    start: tcplab_stack::Instant,
    read: u64,
}

impl Pace {
    /// A limit of `rate` bytes a second (at least 1), from now.
    pub fn new(host: &tcplab_host::Host, rate: u64) -> Pace {
        Pace {
            host: host.clone(),
            rate: rate.max(1),
            start: host.now(),
            read: 0,
        }
    }

    /// Wait until another read is within the rate; how much it may take.
    async fn wait(&self) -> usize {
        let due = self.start + Duration::from_secs_f64(self.read as f64 / self.rate as f64);
        if due > self.host.now() {
            self.host.sleep_until(due).await;
        }
        usize::try_from(self.rate).unwrap_or(usize::MAX)
    }
}

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            requests: false,
            pace: None,
        }
    }

    /// How many bytes were read past what was asked for so far.
    pub fn excess(&self) -> usize {
        self.buffered().len()
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Read more into the buffer; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, HttpError> {
        // What was consumed goes before more comes: a client that always
        // sends the start of its next request with one would otherwise
        // keep every request it ever sent.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let mut most = chunk.len();
        if let Some(p) = &self.pace {
            most = most.min(p.wait().await);
        }
        let n = self.stream.read(&mut chunk[..most]).await?;
        if let Some(p) = &mut self.pace {
            p.read += n as u64;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Whether the peer has sent anything yet, or closed (for idle waits).
    pub async fn wait_readable(&mut self) -> Result<bool, HttpError> {
        if !self.buffered().is_empty() {
            return Ok(true);
        }
        self.fill().await
    }

    /// The next message head; `Ok(None)` if the stream ended cleanly first.
    pub async fn read_head(&mut self) -> Result<Option<Head>, HttpError> {
        // How far the buffer was searched for the head's end already (a
        // head trickled in byte by byte is searched once, not once per
        // byte).
        let mut scanned = 0;
        // A response's lines counted against curl's limits so far.
        let mut limits = HeadLimits::default();
        // RFC 9112 §2.2: ignore empty lines before a request line.
        loop {
            loop {
                if self.buffered().starts_with(b"\r\n") {
                    self.pos += 2;
                } else if self.buffered().starts_with(b"\n") {
                    self.pos += 1;
                } else {
                    break;
                }
                scanned = 0;
                limits = HeadLimits::default();
            }
            // A response must begin `HTTP/` (curl's checkhttpprefix, in any
            // case): told from its first bytes, before any line ends.
            if !self.requests && !self.buffered().is_empty() {
                let n = self.buffered().len().min(5);
                if !self.buffered()[..n].eq_ignore_ascii_case(&b"HTTP/"[..n]) {
                    return Err(HttpError::NotHttp);
                }
            }
            let found = head_len_from(self.buffered(), scanned);
            // (The end's pattern may straddle what comes next.)
            scanned = self.buffered().len().saturating_sub(3);
            // A response may be as large as curl takes (its limits are
            // per line and in all, not per field), checked as its lines
            // come, so one that passes them fails at once.
            if !self.requests {
                let upto = found.unwrap_or(self.buffered().len());
                limits.check(&self.buf[self.pos..self.pos + upto])?;
            }
            if let Some(len) = found {
                let head = if self.requests {
                    parse_head_max(&self.buf[self.pos..self.pos + len], 100, false)?
                } else {
                    parse_head_max(&self.buf[self.pos..self.pos + len], usize::MAX, true)?
                };
                self.pos += len;
                return Ok(Some(head));
            }
            if self.requests && self.buffered().len() > MAX_HEAD {
                // A request line that alone passes the limit is its
                // target's fault (RFC 9112 §3: 414, as Apache's
                // LimitRequestLine answers).
                if self.requests && find(self.buffered(), b"\n").is_none() {
                    return Err(HttpError::LineTooLong);
                }
                return Err(HttpError::HeadTooLarge);
            }
            if self.requests && !method_prefix(self.buffered()) {
                return Err(HttpError::Malformed("not a request line"));
            }
            let had = !self.buffered().is_empty();
            if !self.fill().await? {
                return if had {
                    Err(HttpError::Closed)
                } else {
                    Ok(None)
                };
            }
        }
    }

    /// Up to `max` bytes of body (from the buffer first); empty at the end.
    pub async fn read_some(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        if self.buffered().is_empty() && !self.fill().await? {
            return Ok(Vec::new());
        }
        let n = self.buffered().len().min(max);
        let out = self.buffered()[..n].to_vec();
        self.pos += n;
        Ok(out)
    }

    /// A line (without CRLF) of at most `max` bytes.
    async fn read_line(&mut self, max: usize) -> Result<String, HttpError> {
        loop {
            // Ended as a head's lines end (RFC 9112 §2.2: LF, a CR before
            // it dropped), so chunk lines and trailers frame alike.
            if let Some(end) = find(self.buffered(), b"\n") {
                let text = &self.buffered()[..end];
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                let line = String::from_utf8_lossy(text).into_owned();
                self.pos += end + 1;
                return Ok(line);
            }
            if self.buffered().len() > max {
                return Err(HttpError::Malformed("line too long"));
            }
            if !self.fill().await? {
                return Err(HttpError::Closed);
            }
        }
    }

    /// Exactly `n` bytes, handed to `sink` piece by piece (an error from
    /// it ends the read).
    pub async fn read_exact_into(
        &mut self,
        mut n: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<(), HttpError> {
        while n > 0 {
            let piece = self.read_some(n.min(64 * 1024) as usize).await?;
            if piece.is_empty() {
                return Err(HttpError::Closed);
            }
            n -= piece.len() as u64;
            sink(&piece)?;
        }
        Ok(())
    }

    /// A chunked body (RFC 9112 §7.1), decoded into `sink`; trailers are
    /// read and dropped.
    pub async fn read_chunked_into(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<(), HttpError> {
        loop {
            let line = self.read_line(1024).await?;
            // RFC 9112 §7.1: chunk-size = 1*HEXDIG, whitespace only before
            // an extension's `;` (no sign, no leading space).
            let size_text = line
                .split(';')
                .next()
                .unwrap_or("")
                .trim_end_matches([' ', '\t']);
            if size_text.is_empty()
                || size_text.len() > 12
                || !size_text.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(HttpError::Malformed("bad chunk size"));
            }
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed("bad chunk size"))?;
            if size == 0 {
                // Trailer fields, up to the blank line.
                let mut total = 0;
                loop {
                    let t = self.read_line(MAX_HEAD).await?;
                    total += t.len();
                    if t.is_empty() {
                        return Ok(());
                    }
                    if total > MAX_HEAD {
                        return Err(HttpError::HeadTooLarge);
                    }
                }
            }
            self.read_exact_into(size, sink).await?;
            if !self.read_line(2).await?.is_empty() {
                return Err(HttpError::Malformed("chunk not followed by CRLF"));
            }
        }
    }

    /// Everything until the peer closes.
    pub async fn read_to_close_into(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<(), HttpError> {
        loop {
            let piece = self.read_some(64 * 1024).await?;
            if piece.is_empty() {
                return Ok(());
            }
            sink(&piece)?;
        }
    }
}

/// The length of the head at the start of `b`, its empty line included:
/// lines end in CRLF or a bare LF (RFC 9112 §2.2).
#[cfg(test)]
fn head_len(b: &[u8]) -> Option<usize> {
    head_len_from(b, 0)
}

/// [`head_len`], searching for line ends from `from` on.
fn head_len_from(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from.min(b.len());
    while let Some(i) = b[at..].iter().position(|&c| c == b'\n') {
        let next = at + i + 1;
        match b.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => at = next,
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP date for the host's clock: the epoch plus virtual time, so that
/// runs are reproducible (RFC 9110 §5.6.7 IMF-fixdate).
pub fn http_date(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let (y, m, d) = civil_from_days(days as i64);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The time as C's `ctime` prints it (what inetd's daytime service sends):
/// `Thu Jan  1 00:00:05 1970`.
pub fn ctime(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let (y, m, d) = civil_from_days(days as i64);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{weekday} {month} {d:2} {:02}:{:02}:{:02} {y}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (the well-known era-based conversion).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\nConnection: keep-alive, Upgrade\r\n\r\n").unwrap();
        assert_eq!(h.start, "HTTP/1.1 200 OK");
        assert_eq!(h.header("content-length"), Some("5"));
        assert_eq!(h.content_length(), Ok(Some(5)));
        assert!(h.is_chunked());
        assert!(h.has_token("Connection", "upgrade"));
        assert!(parse_head(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").is_err());
        // Bare LFs end lines too.
        let lf = parse_head(b"HTTP/1.1 200 OK\nContent-Length: 3\r\nA: b\n\n").unwrap();
        assert_eq!(lf.start, "HTTP/1.1 200 OK");
        assert_eq!(lf.headers.len(), 2);
        assert_eq!(head_len(b"HTTP/1.1 200 OK\nA: b\n\nabc"), Some(22));
        assert_eq!(head_len(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nabc"), Some(25));
        assert_eq!(head_len(b"HTTP/1.1 200 OK\nA: b\r\n\r\nabc"), Some(24));
        assert_eq!(head_len(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
        // Searched again as more arrives, from three bytes before where
        // the last search ended: the same end is found however the head
        // was cut.
        for head in [
            &b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nabc"[..],
            b"HTTP/1.1 200 OK\nA: b\n\nx",
        ] {
            let whole = head_len(head);
            for cut in 0..head.len() {
                let first = head_len(&head[..cut]);
                let resumed = first.or_else(|| head_len_from(head, cut.saturating_sub(3)));
                assert_eq!(resumed, whole, "cut at {cut}");
            }
        }
        assert!(parse_head(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n").is_err());
        // RFC 9110 §5.5: obs-text in a value is taken (as Latin-1), a
        // control character but HTAB refused.
        let zoe = parse_head(b"GET / HTTP/1.1\r\nX-Name: Zo\xeb\r\nX-Tab: a\tb\r\n\r\n").unwrap();
        assert_eq!(zoe.header("x-name"), Some("Zo\u{eb}"));
        assert!(parse_head(b"GET / HTTP/1.1\r\nX-Ctl: a\x01b\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nX-Del: a\x7fb\r\n\r\n").is_err());
        // Whitespace before the colon: refused in a request, taken in a
        // response (as curl takes it).
        assert!(parse_head(b"GET / HTTP/1.1\r\nX-A : a\r\n\r\n").is_err());
        let sp = parse_head_max(b"HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n", 100, true).unwrap();
        assert_eq!(sp.header("x-a"), Some("a"));
        let two = parse_head(b"X 1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").unwrap();
        assert!(two.content_length().is_err());
        let neg = parse_head(b"X 1\r\nContent-Length: -1\r\n\r\n").unwrap();
        assert!(neg.content_length().is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(ctime(5_000_000), "Thu Jan  1 00:00:05 1970");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(5_000_000), "Thu, 01 Jan 1970 00:00:05 GMT");
        // 2026-11-21 is day 20_778.
        assert_eq!(
            http_date(20_778 * 86_400 * 1_000_000 + 3_600_000_000),
            "Sat, 21 Nov 2026 01:00:00 GMT"
        );
    }
}
