//! `curl`, as curl 7.88 behaves for HTTP/1.1.
//!
//! Options: `-X METHOD`, `-d DATA` (repeatable, joined with `&`; `@FILE`
//! reads a file without its newlines), `--data-binary` (`@FILE` unchanged),
//! `--data-raw`, `-T FILE` (PUT), `-H 'Name: value'`, `-u USER:PASSWORD`
//! (Basic), `-e URL` (Referer), `--compressed` (gzip and deflate, decoded),
//! `-o FILE` (`-` for stdout), `-O`, `-I`, `-i`, `-L` (`--max-redirs N`,
//! default 50, -1 for no limit), `-s`, `-S`, `-v`, `-w FORMAT` (curl's variables, `%{json}`,
//! `%{stderr}`/`%{stdout}`; unknown names warned about), `-f`,
//! `--connect-timeout S`, `-m S`, `-A AGENT`, `-0` (HTTP/1.0), `-h`, `-V`.
//! Several URLs are fetched in turn over one persistent connection when
//! the server allows it. Responses are read by Content-Length, chunked
//! coding or connection close. `https://` runs HTTP over TLS 1.3 or 1.2
//! (rustls), verifying the server against `--cacert FILE` (default
//! `/etc/ssl/certs/ca-certificates.crt` in the host's files), or not with
//! `-k`; `--tlsv1.3` and `--tls-max 1.2` limit the versions. Not here:
//! HTTP/2, proxies, cookies, forms (`-F`), brotli and zstd.
//!
//! A scenario's transcript counts as a terminal: the body goes there unless
//! `-o`/`-O` says otherwise, binary bodies are refused as curl refuses them
//! on a terminal, and the progress meter is shown (on stderr, one row per
//! second of transfer) only when the body goes to a file. Exit codes are
//! curl's: 1 unsupported protocol, 2 bad usage, 3 bad URL, 6 resolve, 7
//! connect, 18 partial body, 22 HTTP error with `-f`, 23 write error, 26
//! read error, 28 timeout (also TCP's own connect timeout, as curl 7.88
//! reports it), 47 too many redirects, 52 empty reply, 56 receive failure,
//! 61 bad content encoding, 35 TLS handshake failure, 60 certificate
//! problem, 77 unreadable CA bundle.

use std::cell::{Cell, RefCell};
use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_host::{timeout, Host, Output, Stdin, TcpStream};
use tcplab_stack::SocketError;

use crate::http::{Conn, Head, HttpError};
use crate::resolve;
use crate::select::{select, Either};
use crate::tls::Stream;

mod args;
mod body;
mod exchange;
mod report;
mod tls;

pub use args::CurlArgs;
use args::{Pin, Url};
use body::{base64, head_text, request_body, Decoder, Stop};
use exchange::exchange;
use report::{write_out, Meter, Stats};

const VERSION: &str = "7.88.1";

/// A failure: curl's exit code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    code: i32,
    message: String,
    /// Ends curl without its `curl: (N)` line (what it has to say it
    /// said already).
    unsaid: bool,
}

impl Failure {
    fn new(code: i32, message: String) -> Failure {
        Failure {
            code,
            message,
            unsaid: false,
        }
    }
}

/// Where the body goes.
#[derive(Debug, Clone)]
enum Sink {
    Terminal,
    File(String),
    Null,
}

/// An open connection that a later request may reuse.
struct Open {
    key: (bool, String, u16),
    conn: Conn,
    number: u32,
    /// Taken again from an earlier transfer (a request on it that gets
    /// nothing back is asked again on a fresh connection).
    reused: bool,
    /// Over TLS: the certificate check's verdict and the certificates
    /// seen, reported again for every transfer that reuses it.
    verified: (u32, u64),
}

/// Everything a run keeps.
struct Run<'a> {
    host: Host,
    a: &'a CurlArgs,
    out: &'a mut Output,
    err: &'a mut Output,
    open: Option<Open>,
    /// Standard input, when a body comes from it (read before the first
    /// transfer).
    stdin: Vec<u8>,
    /// This URL's `-T` file, if it has one.
    upload: Option<String>,
    /// The transfer's reused connection died before any answer: ask
    /// again (see [`Run::retry`]).
    died: bool,
    next_conn: u32,
    /// The connection this URL's transfer uses, once it has one.
    current: Option<u32>,
    /// The progress meter, shared with a transfer's reader and ticker
    /// and left here when a transfer is cut short (-m), so its last row
    /// can still be drawn.
    meter: RefCell<Option<Meter>>,
    /// The meter's row is on screen and not ended by a newline yet.
    meter_open: bool,
    /// TLS, once an https URL needed it.
    tls: Option<tls::TlsClient>,
    /// Servers whose session curl's cache holds (a session ticket was
    /// received from them), by host and port.
    sessions: std::collections::BTreeSet<(String, u16)>,
    /// The body arriving now, and where it goes: curl writes as data
    /// arrives, so a transfer cut short (-m, Ctrl-C, a connection lost)
    /// leaves what came.
    body: Vec<u8>,
    body_sink: Option<Sink>,
    /// The body of this transfer is being written to its file as it
    /// arrives, and the file was made: `body` holds only what is not
    /// written yet.
    streamed: bool,
    /// This response's body goes to the output at all (not the body of a
    /// redirect being followed or of an error with -f).
    body_kept: bool,
    /// `-D FILE`: every response head of the run so far, as written.
    dumped: Vec<u8>,
    /// Interim (1xx) heads of the current exchange, for -i on a terminal:
    /// they print before the final one.
    interim: Vec<Head>,
    /// With -i or -I and -o FILE: the file holds this run's heads so far.
    heads_in_file: bool,
    /// This URL's transfer had an HTTP/1.0 answer (a redirect followed
    /// from it asks in HTTP/1.0).
    answered_http10: bool,
    /// `--resolve`'s answers by (host, port): IPv4 addresses, or none
    /// (an entry of IPv6 addresses only).
    pins: std::collections::BTreeMap<(String, u16), Vec<std::net::Ipv4Addr>>,
    /// `-v` with the body not going to a terminal: curl's trace shows
    /// `[N bytes data]` lines (tool_cb_dbg.c).
    data_lines: bool,
    /// A data line was shown since the last text or header line (curl
    /// shows one, then none until the next line of text).
    traced: bool,
}

impl Run<'_> {
    /// A transfer cut short: the body so far goes to its output file, as
    /// curl's writes as data arrives would have left it.
    fn keep_partial(&mut self) {
        let body = std::mem::take(&mut self.body);
        let streamed = std::mem::take(&mut self.streamed);
        if body.is_empty() || !std::mem::take(&mut self.body_kept) {
            return;
        }
        match self.body_sink.take() {
            Some(Sink::File(path)) if streamed => {
                let _ = self.host.fs().append(&path, &body);
            }
            Some(Sink::File(path)) => {
                let _ = self.host.fs().write(&path, &body);
            }
            Some(Sink::Terminal) if !self.a.head => self.out.write_bytes(&body),
            _ => {}
        }
    }

    /// `-D`: a response head as it arrives — to standard output, or
    /// added to the file (which holds every head of the run).
    fn dump_head(&mut self, head: &Head) {
        match self.a.dump_header.as_deref() {
            Some("-") => self.out.write_bytes(head_text(head).as_bytes()),
            Some(path) => {
                self.dumped.extend_from_slice(head_text(head).as_bytes());
                // Opened before the transfer: it could be written then.
                let _ = self.host.fs().write(path, &self.dumped);
            }
            None => {}
        }
    }

    /// libcurl's multi_done for a connection kept: said under -v.
    fn say_intact(&mut self) {
        if let Some(open) = self.open.as_ref().filter(|_| self.a.verbose) {
            self.err.line(format!(
                "* Connection #{} to host {} left intact",
                open.number, open.key.1
            ));
            self.traced = false;
        }
    }

    fn info(&mut self, text: String) {
        if self.a.verbose {
            self.err.line(format!("* {text}"));
            self.traced = false;
        }
    }

    /// A header line of -v (`> `, `< `): like text, it lets the next data
    /// line show.
    fn header_line(&mut self, line: String) {
        self.err.line(line);
        self.traced = false;
    }

    /// curl's trace of data that went out (`}`) or came in (`{`): one
    /// `[N bytes data]` line after a line of text or a header, none until
    /// the next (tool_cb_dbg.c's traced_data), and only when the body does
    /// not go to a terminal.
    fn data(&mut self, out: bool, n: usize) {
        if self.data_lines && !self.traced {
            let mark = if out { '}' } else { '{' };
            self.err.line(format!("{mark} [{n} bytes data]"));
            self.traced = true;
        }
    }

    /// What OpenSSL's trace shows as curl closes a TLS connection: the
    /// close_notify it sends (SSL_shutdown), after its record's header.
    fn say_close_notify(&mut self, stream: &crate::tls::Stream) {
        if let Some(version) = stream.tls_version() {
            self.data(true, 5);
            self.info(format!("{version} (OUT), TLS alert, close notify (256):"));
            self.data(true, 2);
        }
    }

    /// A reused connection that gave nothing back: closed, to be asked
    /// again on a fresh one (the caller sees `died`). The failure
    /// returned is not reported.
    async fn retry(&mut self, open: Open) -> Failure {
        self.info("Connection died, retrying a fresh connect (retry count: 1)".into());
        self.info(format!("Closing connection {}", open.number));
        self.say_close_notify(&open.conn.stream);
        let _ = open.conn.stream.shutdown().await;
        self.died = true;
        Failure::new(0, String::new())
    }

    /// Connect (or reuse a connection) to `url`.
    async fn connection(&mut self, url: &Url, stats: &mut Stats) -> Result<Open, Failure> {
        let key = (url.tls, url.host.clone(), url.port);
        // libcurl's liveness check: a kept connection whose server has
        // closed or reset it (the end of the stream or an error, seen by a
        // peek; bytes waiting leave it alive) is not used again.
        if let Some(open) = self
            .open
            .take_if(|o| o.key == key && o.conn.stream.tcp().peer_gone())
        {
            self.info(format!("Connection {} seems to be dead", open.number));
            self.info(format!("Closing connection {}", open.number));
            self.say_close_notify(&open.conn.stream);
            let _ = open.conn.stream.shutdown().await;
        }
        if let Some(mut open) = self.open.take() {
            if open.key == key {
                open.reused = true;
                self.info(format!(
                    "Re-using existing connection #{} with host {}",
                    open.number, url.host
                ));
                self.current = Some(open.number);
                stats.remote = open.conn.stream.peer_addr();
                stats.local = open.conn.stream.local_addr();
                stats.scheme = true;
                stats.https = url.tls;
                (stats.ssl_verify_result, stats.num_certs) = open.verified;
                return Ok(open);
            }
            self.info(format!("Closing connection {}", open.number));
            self.say_close_notify(&open.conn.stream);
            let _ = open.conn.stream.shutdown().await;
        }
        let t0 = self.host.now();
        // An IPv6 literal: the socket cannot be made on an IPv4-only host,
        // which curl reports as a connect that failed at once.
        if url.is_ipv6() {
            if self.a.verbose {
                self.err
                    .line(format!("*   Trying [{}]:{}...", url.host, url.port));
            }
            self.info(format!(
                "Immediate connect fail for {}: Address family not supported by protocol",
                url.host
            ));
            return Err(Failure::new(
                7,
                format!(
                    "Failed to connect to {} port {} after 0 ms: Couldn't connect to server",
                    url.host, url.port
                ),
            ));
        }
        // --resolve's answers come first: for their host and port, then
        // a `*` entry for the port.
        let pinned = self
            .pins
            .get(&(url.host.clone(), url.port))
            .or_else(|| self.pins.get(&("*".to_string(), url.port)))
            .cloned();
        let found = match pinned {
            Some(ips) => {
                self.info(format!("Hostname {} was found in DNS cache", url.host));
                // (An entry of IPv6 addresses only: none this curl can use.)
                Some(ips).filter(|ips| !ips.is_empty())
            }
            None => {
                let found = resolve::lookup_all(&self.host, &url.host)
                    .await
                    .ok()
                    .map(|(ips, _)| ips);
                // Kept for the run's later transfers: libcurl's DNS cache,
                // shared by them (IP literals too).
                if let Some(ips) = &found {
                    self.pins.insert((url.host.clone(), url.port), ips.clone());
                }
                found
            }
        };
        let Some(ips) = found else {
            return Err(Failure::new(
                6,
                format!("Could not resolve host: {}", url.host),
            ));
        };
        stats.namelookup = self.host.now().saturating_since(t0);
        let limit = self.a.connect_timeout.unwrap_or(Duration::from_secs(300));
        stats.connecting = true;
        let mut last = None;
        let mut connected = None;
        for (k, &ip) in ips.iter().enumerate() {
            if self.a.verbose {
                self.err.line(format!("*   Trying {ip}:{}...", url.port));
                self.traced = false;
            }
            // libcurl 7.88 gives each address but the last half of the
            // connect time left (`timeoutms_per_addr`), the last all of it.
            // (In whole milliseconds, as libcurl counts.)
            let spent = self.host.now().saturating_since(t0).as_millis();
            let left = limit.as_millis().saturating_sub(spent);
            let allow = if k + 1 == ips.len() { left } else { left / 2 };
            let allow = Duration::from_millis(allow.try_into().unwrap_or(u64::MAX));
            let remote = SocketAddrV4::new(ip, url.port);
            let connecting_at = self.host.now();
            match timeout(&self.host, allow, TcpStream::connect(&self.host, remote)).await {
                Ok(Ok(s)) => {
                    connected = Some((s, ip, remote));
                    break;
                }
                Ok(Err(e)) => {
                    // curl 7.88 says which error only in -v's lines: one
                    // that connect(2) returned at once (no route) is an
                    // "immediate" failure, one that came back from the
                    // network (a refusal, an ICMP error) a failed
                    // connect. (No time passed: nothing went out and came
                    // back.)
                    let immediate = self.host.now() == connecting_at
                        && matches!(
                            e,
                            SocketError::NetworkUnreachable | SocketError::HostUnreachable
                        );
                    if immediate {
                        self.info(format!("Immediate connect fail for {ip}: {e}"));
                    } else {
                        self.info(format!("connect to {ip} port {} failed: {}", url.port, e));
                    }
                    last = Some(Some(e));
                }
                Err(_) => {
                    self.info(format!(
                        "ipv4 connect timeout after {}ms, move on!",
                        allow.as_millis()
                    ));
                    last = Some(None);
                }
            }
        }
        stats.connecting = false;
        let elapsed_ms = self.host.now().saturating_since(t0).as_millis();
        let Some((stream, ip, remote)) = connected else {
            let (code, why) = match last.flatten() {
                // curl 7.88 words TCP's own give-up (ETIMEDOUT) like a
                // refusal, with the timeout's exit status.
                Some(SocketError::TimedOut) => (28, "Couldn't connect to server"),
                Some(_) => (7, "Couldn't connect to server"),
                // The connect timeout ran out on the last address.
                None => (28, "Timeout was reached"),
            };
            return Err(Failure::new(
                code,
                format!(
                    "Failed to connect to {} port {} after {elapsed_ms} ms: {why}",
                    url.host, url.port
                ),
            ));
        };
        // curl 7.88's socket: TCP_NODELAY (on by default since 7.50.2),
        // and keep-alive after 60 s idle, a probe each 60 s
        // (CURLOPT_TCP_KEEPALIVE on in the tool, --keepalive-time 60).
        stream.set_nodelay(true);
        stream.set_keepalive(true);
        stream.set_keepalive_times(Duration::from_secs(60), Duration::from_secs(60));
        stats.connect = self.host.now().saturating_since(stats.start.unwrap_or(t0));
        stats.num_connects += 1;
        stats.scheme = true;
        stats.https = url.tls;
        // The address connected to, as getpeername says (0.0.0.0 is this
        // host: 127.0.0.1).
        stats.remote = stream.peer_addr().or(Some(remote));
        stats.local = stream.local_addr();
        let number = self.next_conn;
        self.next_conn += 1;
        self.current = Some(number);
        self.info(format!(
            "Connected to {} ({ip}) port {} (#{number})",
            url.host, url.port
        ));
        let stream = if url.tls {
            // curl's connect timeout covers the TLS handshake too, and
            // -m's expiry during it is worded as during the connect.
            let left = limit.saturating_sub(self.host.now().saturating_since(t0));
            let host = self.host.clone();
            stats.connecting = true;
            let r = timeout(&host, left, self.tls_connect(url, stream, stats)).await;
            stats.connecting = false;
            match r {
                Ok(r) => r?,
                Err(_) => return Err(Failure::new(28, "SSL connection timeout".into())),
            }
        } else {
            Stream::Plain(stream)
        };
        Ok(Open {
            key,
            conn: Conn::new(stream),
            number,
            reused: false,
            verified: (stats.ssl_verify_result, stats.num_certs),
        })
    }
}

/// curl's 23: what it received could not be written out.
fn output_failure() -> Failure {
    Failure::new(23, "Failure writing output to destination".into())
}

/// curl's 23 for an output file it could not write: it warns as the open
/// fails (silenced by -s, -S or not); the file system's message names
/// the path.
fn write_failure(err: &mut Output, silent: bool, path: &str, e: &std::io::Error) -> Failure {
    if !silent {
        let text = e.to_string();
        let why = text.strip_prefix(&format!("{path}: ")).unwrap_or(&text);
        err.line(format!("Warning: Failed to open the file {path}: {why}"));
    }
    output_failure()
}

/// curl's 56: a socket's error, or over TLS the TLS layer's
/// (`SSL_read`), e.g. a connection closed without close_notify.
fn recv_failure(open: &Open, e: SocketError) -> Failure {
    match open.conn.stream.tls_error() {
        // ossl_recv's words: SSL_read's error, the errno after it.
        Some(why) => Failure::new(
            56,
            format!("OpenSSL SSL_read: {}: {why}, errno 0", tls::OPENSSL),
        ),
        None => Failure::new(56, format!("Recv failure: {e}")),
    }
}

/// Run curl; returns the exit status.
pub async fn run(host: Host, a: CurlArgs, stdin: Stdin, mut out: Output, mut err: Output) -> i32 {
    let limit = a.max_time;
    let start = host.now();
    // `-d @-`, `-T -`: curl reads its standard input once, for every URL
    // — here at most what a host's disk holds (input from a pipeline
    // that could be fed from the network is bounded like a download).
    let stdin = if a.reads_stdin() {
        match stdin.read_to_end_within(exchange::MAX_HELD).await {
            Some(all) => all,
            None => {
                if !a.silent || a.show_error {
                    err.line("curl: (26) Failed to open/read local data from file/application");
                }
                return 26;
            }
        }
    } else {
        Vec::new()
    };
    let mut code = 0;
    let urls = a.urls.clone();
    let mut run = Run {
        host: host.clone(),
        a: &a,
        out: &mut out,
        err: &mut err,
        open: None,
        stdin,
        upload: None,
        died: false,
        next_conn: 0,
        current: None,
        meter: RefCell::new(None),
        meter_open: false,
        tls: None,
        sessions: std::collections::BTreeSet::new(),
        body: Vec::new(),
        body_sink: None,
        streamed: false,
        heads_in_file: false,
        answered_http10: false,
        body_kept: false,
        dumped: Vec::new(),
        interim: Vec::new(),
        pins: std::collections::BTreeMap::new(),
        data_lines: false,
        traced: false,
    };
    // Ctrl-C (or the end of a run) stops curl; what arrived stays in the
    // output file, as it would on disk.
    let signals = host.current_pid().map(|p| host.catch_signals(p));
    // curl sets SIGPIPE to be ignored and reports a failed write as 23.
    if let Some(p) = host.current_pid() {
        host.ignore_sigpipe(p);
    }
    // `-w @FILE`: the format is the file's text; one that cannot be read
    // is an empty format, with curl's warning (no line end of its own).
    let write_fmt = match a.write_out.as_deref() {
        Some(f) if f.starts_with('@') => {
            let path = &f[1..];
            match host.fs().read(path) {
                // (curl's file2string drops the file's line ends.)
                Ok(d) => Some(
                    String::from_utf8_lossy(&d)
                        .chars()
                        .filter(|c| !matches!(c, '\r' | '\n'))
                        .collect(),
                ),
                Err(_) => {
                    if !a.silent {
                        run.err
                            .write_bytes(format!("Warning: Failed to read {path}").as_bytes());
                    }
                    Some(String::new())
                }
            }
        }
        other => other.map(str::to_string),
    };
    for (urlnum, url_text) in urls.iter().enumerate() {
        run.current = None;
        run.answered_http10 = false;
        // Each URL's -o file is its own: a new one, heads and all.
        run.heads_in_file = false;
        let mut stats = Stats {
            start: Some(host.now()),
            urlnum,
            url: url_text.clone(),
            referer: a.referer.clone(),
            ..Stats::default()
        };
        let transfer = async {
            match &signals {
                Some(sig) => {
                    match select(fetch(&mut run, url_text, &mut stats), sig.next()).await {
                        Either::Left(r) => Ok(r),
                        Either::Right(signal) => Err(signal),
                    }
                }
                None => Ok(fetch(&mut run, url_text, &mut stats).await),
            }
        };
        let result = match limit {
            Some(l) => {
                let left = l.saturating_sub(host.now().saturating_since(start));
                match timeout(&host, left, transfer).await {
                    Ok(r) => r,
                    // curl 7.88 words -m's expiry by where the transfer was.
                    Err(_) if stats.connecting => Ok(Err(Failure::new(
                        28,
                        format!(
                            "Connection timed out after {} milliseconds",
                            host.now().saturating_since(start).as_millis()
                        ),
                    ))),
                    Err(_) => {
                        let got = match stats.size_expected {
                            Some(n) => format!("{} out of {n}", stats.size_download),
                            None => stats.size_download.to_string(),
                        };
                        Ok(Err(Failure::new(
                            28,
                            format!(
                                "Operation timed out after {} milliseconds with {got} bytes received",
                                host.now().saturating_since(start).as_millis(),
                            ),
                        )))
                    }
                }
            }
            None => transfer.await,
        };
        let result = match result {
            Ok(r) => r,
            Err(signal) => {
                // Stopped: what arrived stays; the status is the signal's.
                run.keep_partial();
                return 128 + signal.number();
            }
        };
        stats.total = host.now().saturating_since(stats.start.expect("set"));
        let this = match result {
            Ok(()) => 0,
            Err(f) => {
                // A transfer cut short (-m, a connection closed or reset
                // mid-body) leaves what arrived, as curl's own writes would.
                run.keep_partial();
                stats.errormsg = Some(f.message.clone());
                // curl ends the meter with a last row when a transfer
                // ends, also a failed one (7, 52, 28 ...; curl 7.88.1,
                // checked) — except when the name did not resolve: then
                // the first row stays as it is and the error follows on
                // its line.
                if std::mem::take(&mut run.meter_open) {
                    match run.meter.get_mut().take() {
                        _ if f.code == 6 => {}
                        Some(mut m) => m.done(
                            run.host.now(),
                            stats.content_length.unwrap_or(0),
                            stats.size_download,
                            stats.size_upload,
                            run.err,
                        ),
                        None => run.err.write_bytes(b"\n"),
                    }
                }
                // A transfer that ended early closes its connection
                // (libcurl's multi_done with premature set); one that came
                // to its end keeps it — too many redirects is such a one.
                // (A failure before this transfer had a connection — a
                // bad URL — leaves the previous transfer's kept one.)
                let kept = f.code == 47 && run.open.is_some();
                if !kept && run.current.is_some() {
                    if let Some(open) = run.open.take() {
                        let _ = open.conn.stream.shutdown().await;
                    }
                }
                // -v's lines are not silenced by -s; "curl: (N)" is. The
                // connection closed, as libcurl numbers it: none yet (-1)
                // for a URL it could not use; the one being made, whose
                // number is then spent, when resolving or connecting
                // failed. Nothing for a --resolve entry refused (before
                // any), nor for a kept connection or one already said
                // closed (too many redirects), nor for unreadable -d data.
                let closing = match f.code {
                    49 | 47 | 26 => None,
                    1 | 3 => Some("-1".to_string()),
                    _ if kept => None,
                    _ => Some(match run.current {
                        Some(n) => n.to_string(),
                        None => {
                            run.next_conn += 1;
                            (run.next_conn - 1).to_string()
                        }
                    }),
                };
                if a.verbose {
                    if kept {
                        run.say_intact();
                    }
                    // (A bad URL's message is curl's own line only.)
                    if f.code != 3 {
                        run.err.line(format!("* {}", f.message));
                    }
                    if let Some(n) = closing {
                        run.err.line(format!("* Closing connection {n}"));
                    }
                }
                if (!a.silent || a.show_error) && !f.unsaid {
                    run.err.line(format!("curl: ({}) {}", f.code, f.message));
                    if f.code == 60 {
                        run.err.line(tls::SSLCERTS_HELP);
                    }
                }
                f.code
            }
        };
        // libcurl's multi_done, at the end of each transfer that keeps its
        // connection: before the -w output, which curl writes afterwards.
        if this == 0 {
            run.say_intact();
        }
        if let Some(fmt) = &write_fmt {
            // Exactly what the format says: no newline of curl's own.
            let w = write_out(fmt, &stats, this);
            for warning in &w.warnings {
                run.err
                    .line(format!("curl: unknown --write-out variable: '{warning}'"));
            }
            for (to_stderr, text) in &w.parts {
                let stream = if *to_stderr {
                    &mut *run.err
                } else {
                    &mut *run.out
                };
                stream.write_bytes(text.as_bytes());
            }
        }
        // curl's status is the last transfer's.
        code = this;
    }
    if let Some(open) = run.open.take() {
        // Leaving, curl closes what it kept open; over TLS with
        // close_notify first (RFC 8446 §6.1).
        if matches!(open.conn.stream, Stream::Tls(_)) {
            let _ = open.conn.stream.shutdown().await;
        }
    }
    out.flush();
    code
}

async fn fetch(run: &mut Run<'_>, url_text: &str, stats: &mut Stats) -> Result<(), Failure> {
    let a = run.a;
    let mut url = Url::parse(url_text)?;
    // Each -T goes to the URL in its place; a URL whose path ends in `/`
    // gets the file's name added, as curl adds it.
    run.upload = a.uploads.get(stats.urlnum).cloned();
    if let Some(file) = run.upload.as_deref().filter(|f| !args::is_stdin(f)) {
        let name = file.rsplit('/').next().unwrap_or(file);
        let (path, query) = match url.target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url.target.clone(), None),
        };
        if path.ends_with('/') && !name.is_empty() {
            url.target = format!("{path}{name}");
            if let Some(q) = query {
                url.target = format!("{}?{q}", url.target);
            }
        }
    }
    let output = a.outputs.get(stats.urlnum);
    let sink = match output {
        Some(Some(o)) if o == "-" => Sink::Terminal,
        Some(Some(o)) if o == "/dev/null" => Sink::Null,
        Some(Some(o)) => Sink::File(o.clone()),
        Some(None) => {
            let path = url.target.split('?').next().unwrap_or("");
            let name = path.rsplit('/').next().unwrap_or("");
            if name.is_empty() {
                if !a.silent || a.show_error {
                    run.err.line("curl: Remote file name has no length!");
                }
                return Err(Failure::new(
                    23,
                    "Failed writing received data to disk/application".into(),
                ));
            }
            // In the working directory, as curl writes it.
            Sink::File(name.to_string())
        }
        None => Sink::Terminal,
    };
    // curl shows its meter unless the body goes to a terminal (it would
    // mix with it), or -s.
    let to_terminal = matches!(sink, Sink::Terminal) && run.out.is_terminal();
    let show_meter = !to_terminal && !a.silent;
    run.data_lines = a.verbose && !to_terminal;
    stats.filename_effective = match &sink {
        Sink::File(p) => Some(p.clone()),
        Sink::Null => Some("/dev/null".into()),
        Sink::Terminal => None,
    };
    run.body.clear();
    run.body_sink = Some(sink.clone());
    let body = request_body(&run.host, a, run.upload.as_deref(), &run.stdin, run.err)?;
    let inferred = match (a.head, &body) {
        _ if run.upload.is_some() => "PUT",
        (true, _) => "HEAD",
        (false, Some(_)) => "POST",
        (false, None) => "GET",
    };
    let mut method = a.method.clone().unwrap_or_else(|| inferred.to_string());
    // A note of -v, silenced by -s as curl's notes are.
    if a.verbose && !a.silent && a.method.as_deref() == Some(inferred) {
        run.err.line(format!(
            "Note: Unnecessary use of -X or --request, {inferred} is already inferred."
        ));
    }
    // libcurl loads --resolve's entries as each transfer starts, in
    // order, into the DNS cache the run's transfers share: a later entry
    // for the same host and port replaces an earlier one.
    for entry in &a.resolve {
        match args::resolve_entry(entry) {
            Err(illegal) => {
                if let Some(addr) = illegal {
                    run.info(format!("Resolve address '{addr}' found illegal"));
                }
                return Err(Failure::new(
                    49,
                    format!("Couldn't parse CURLOPT_RESOLVE entry '{entry}'"),
                ));
            }
            Ok(Pin::BadRemoval) => run.info(format!(
                "Bad syntax CURLOPT_RESOLVE removal entry '{entry}'"
            )),
            Ok(Pin::Remove { host, port }) => {
                run.pins.remove(&(host, port));
            }
            Ok(Pin::Add {
                host,
                port,
                addrs,
                v4,
                permanent,
            }) => {
                if run
                    .pins
                    .insert((host.to_ascii_lowercase(), port), v4)
                    .is_some()
                {
                    run.info(format!(
                        "RESOLVE {host}:{port} is - old addresses discarded"
                    ));
                }
                let temporary = if permanent { "" } else { " (non-permanent)" };
                run.info(format!(
                    "Added {host}:{port}:{addrs} to DNS cache{temporary}"
                ));
                if host == "*" {
                    run.info(format!(
                        "RESOLVE *:{port} is wildcard, enabling wildcard checks"
                    ));
                }
            }
        }
    }
    // curl opens the -D file before the transfer, and does not start one
    // it could not open.
    if let Some(path) = a.dump_header.as_deref().filter(|p| *p != "-") {
        if run.host.fs().write(path, &run.dumped).is_err() {
            if !a.silent {
                run.err.line(format!("Warning: Failed to open {path}"));
            }
            return Err(Failure::new(
                23,
                "Failed writing received data to disk/application".into(),
            ));
        }
    }
    let now = run.host.now();
    *run.meter.get_mut() = Some(Meter::new(show_meter, now, run.err));
    run.meter_open = show_meter;
    let mut body = body;
    let mut printed = Vec::new();
    let (head, data) = loop {
        stats.method = method.clone();
        let began = run.host.now();
        let (head, data) =
            exchange(run, &url, &method, body.as_deref(), to_terminal, stats).await?;
        if (a.include || a.head) && matches!(sink, Sink::Terminal) {
            printed.append(&mut run.interim);
            printed.push(head.clone());
        }
        run.interim.clear();
        let code = stats.http_code;
        // An empty Location leads nowhere: curl does not follow it.
        let location = head
            .header("location")
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string);
        // curl's redirect_url: where the last response would have led (a
        // 3xx with a Location), so empty after -L has followed it.
        stats.redirect_url = match (&location, code) {
            (Some(loc), 300..=399) => url.join(loc).map(|u| u.to_text()).unwrap_or_default(),
            _ => String::new(),
        };
        stats.headers.clone_from(&head.headers);
        match (a.follow, location, code) {
            (true, Some(loc), 301 | 302 | 303 | 307 | 308) => {
                if a.max_redirs >= 0 && i64::from(stats.num_redirects) >= a.max_redirs {
                    return Err(Failure::new(
                        47,
                        format!("Maximum ({}) redirects followed", a.max_redirs),
                    ));
                }
                stats.num_redirects += 1;
                stats.redirect += run.host.now().saturating_since(began);
                let next = url.join(&loc)?;
                run.say_intact();
                run.info(format!(
                    "Issue another request to this URL: '{}'",
                    next.to_text()
                ));
                // RFC 9110 §15.4: curl turns POST into GET for 301-303,
                // and any method but GET and HEAD (an upload's PUT too)
                // for 303 (Curl_follow).
                let switch = match code {
                    301 | 302 => method == "POST",
                    303 => method != "GET" && method != "HEAD",
                    _ => false,
                };
                if switch && a.method.is_none() {
                    // (curl 7.88's Curl_follow words each.)
                    run.info(if code == 303 {
                        "Switch to GET".to_string()
                    } else {
                        "Switch from POST to GET".to_string()
                    });
                    method = "GET".into();
                    body = None;
                } else if matches!(code, 301..=303) && a.method.is_some() {
                    // -X keeps its method through the redirect, but
                    // curl sends the body only to the first URL.
                    body = None;
                }
                url = next;
            }
            _ => break (head, data),
        }
    };
    stats.url_effective = url.to_text();
    // Headers first (-i, -I), then the body.
    for h in printed {
        run.out.write_bytes(head_text(&h).as_bytes());
    }
    let now = run.host.now();
    run.meter_open = false;
    if let Some(mut m) = run.meter.get_mut().take() {
        m.done(
            now,
            stats.content_length.unwrap_or(0),
            stats.size_download,
            stats.size_upload,
            run.err,
        );
    }
    if a.fail && stats.http_code >= 400 {
        return Err(Failure::new(
            22,
            format!("The requested URL returned error: {}", stats.http_code),
        ));
    }
    let _ = head;
    match sink {
        Sink::Null => {}
        Sink::File(path) => {
            // What the transfer did not write as it came: the tail of a
            // streamed body, or the whole of one decoded or empty.
            let wrote = if std::mem::take(&mut run.streamed) {
                if data.is_empty() {
                    Ok(())
                } else {
                    run.host.fs().append(&path, &data)
                }
            } else {
                run.host.fs().write(&path, &data)
            };
            if let Err(e) = wrote {
                return Err(write_failure(run.err, a.silent, &path, &e));
            }
        }
        Sink::Terminal if a.head => {}
        Sink::Terminal => {
            // Binary data is refused only on a terminal (a redirected
            // standard output takes anything), unless --output - says so.
            let dash = matches!(output, Some(Some(o)) if o == "-");
            if data.contains(&0) && !dash && run.out.is_terminal() {
                // curl 7.88.1 (checked): the warning (not under -s),
                // then status 23 without a line of its own.
                if !a.silent {
                    run.err.line(
                        "Warning: Binary output can mess up your terminal. Use \"--output -\" to tell ",
                    );
                    run.err.line(
                        "Warning: curl to output it to your terminal anyway, or consider \"--output ",
                    );
                    run.err.line("Warning: <FILE>\" to save to a file.");
                }
                return Err(Failure {
                    unsaid: true,
                    ..output_failure()
                });
            }
            run.out.write_bytes(&data);
            // curl ignores SIGPIPE and learns of a reader gone from the
            // write's EPIPE: look once the driver has written it.
            run.out.written().await;
            if run.out.is_broken() {
                return Err(output_failure());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
