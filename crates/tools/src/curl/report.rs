//! What curl reports besides the body: timings and sizes, the progress
//! meter, and `-w`'s write-out.

use std::net::SocketAddrV4;
use std::time::Duration;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;

use tcplab_host::{Host, Instant, Output};

/// A meter row each second while a body is read, whether or not data
/// comes (curl's progress callback runs on its clock: a stalled download
/// shows rows with Current falling to 0). Never returns; the reader it
/// races ends the wait.
pub(super) async fn tick(
    host: &Host,
    meter: &RefCell<Option<Meter>>,
    err: &RefCell<&mut Output>,
    total: u64,
    got: &Cell<u64>,
) -> Infallible {
    loop {
        let next = meter.borrow().as_ref().filter(|m| m.shown).map(|m| m.next);
        match next {
            Some(at) => host.sleep_until(at).await,
            None => std::future::pending::<()>().await,
        }
        if let Some(m) = meter.borrow_mut().as_mut() {
            m.update(host.now(), total, got.get(), &mut err.borrow_mut());
        }
    }
}

/// Timings and sizes for `-w` and the progress meter.
#[derive(Debug, Default, Clone)]
pub(super) struct Stats {
    pub(super) start: Option<Instant>,
    pub(super) namelookup: Duration,
    pub(super) connect: Duration,
    pub(super) starttransfer: Duration,
    pub(super) total: Duration,
    pub(super) http_code: u16,
    pub(super) size_download: u64,
    pub(super) size_upload: u64,
    pub(super) size_header: u64,
    pub(super) num_redirects: u32,
    pub(super) remote: Option<SocketAddrV4>,
    pub(super) local: Option<SocketAddrV4>,
    pub(super) content_type: String,
    pub(super) url_effective: String,
    pub(super) redirect_url: String,
    /// The last response's header fields, in order (`%header{name}`,
    /// `%{header_json}`).
    pub(super) headers: Vec<(String, String)>,
    /// Connections opened for this URL (redirects included).
    pub(super) num_connects: u32,
    pub(super) num_headers: u32,
    pub(super) size_request: u64,
    /// `1.1`, or `1` for HTTP/1.0, as curl names versions; `0` for none.
    pub(super) http_version: &'static str,
    pub(super) method: String,
    /// A connection was made (curl's `scheme` is known then).
    pub(super) scheme: bool,
    /// The URL was https.
    pub(super) https: bool,
    /// OpenSSL's verdict on the server's certificate (0 ok).
    pub(super) ssl_verify_result: u32,
    /// Certificates the server presented.
    pub(super) num_certs: u64,
    /// Until the TLS handshake was done.
    pub(super) appconnect: Duration,
    /// Connecting, when `-m` expires.
    pub(super) connecting: bool,
    /// The body's length, when the response gave it.
    pub(super) size_expected: Option<u64>,
    /// The last response's Content-Length (a HEAD's too), for the meter.
    pub(super) content_length: Option<u64>,
    pub(super) errormsg: Option<String>,
    /// Where the body went; `None` for standard output.
    pub(super) filename_effective: Option<String>,
    pub(super) referer: Option<String>,
    /// The URL as given, and its position on the command line.
    pub(super) url: String,
    pub(super) urlnum: usize,
    pub(super) pretransfer: Duration,
    /// Time spent on redirects before the last request.
    pub(super) redirect: Duration,
}

/// The progress meter on stderr (curl's `progress.c` layout).
pub(super) struct Meter {
    pub(super) shown: bool,
    pub(super) start: Instant,
    pub(super) next: Instant,
    /// (time, bytes) samples for the current speed, the last five seconds.
    pub(super) samples: Vec<(Instant, u64)>,
}

/// curl's five-character sizes: `12345`, ` 976k`, `10.5M`, ` 123M`, `1.2G`.
pub(super) fn max5(bytes: u64) -> String {
    pub(super) const K: u64 = 1024;
    pub(super) const M: u64 = K * K;
    pub(super) const G: u64 = M * K;
    if bytes < 100_000 {
        format!("{bytes:5}")
    } else if bytes < 10_000 * K {
        format!("{:4}k", bytes / K)
    } else if bytes < 100 * M {
        format!("{:2}.{}M", bytes / M, (bytes % M) / (M / 10))
    } else if bytes < 10_000 * M {
        format!("{:4}M", bytes / M)
    } else if bytes < 100 * G {
        format!("{:2}.{}G", bytes / G, (bytes % G) / (G / 10))
    } else {
        format!("{:4}G", bytes / G)
    }
}

/// curl's eight-character times: ` 0:00:05`, or `--:--:--` when unknown.
pub(super) fn time8(secs: u64) -> String {
    if secs == 0 {
        return "--:--:--".into();
    }
    let h = secs / 3600;
    if h < 100 {
        format!("{h:2}:{:02}:{:02}", (secs / 60) % 60, secs % 60)
    } else if secs / 86_400 < 1000 {
        format!("{:3}d {:02}h", secs / 86_400, h % 24)
    } else {
        format!("{:7}d", secs / 86_400)
    }
}

impl Meter {
    pub(super) fn new(shown: bool, now: Instant, err: &mut Output) -> Meter {
        if shown {
            err.line(
                "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current",
            );
            err.line(
                "                                 Dload  Upload   Total   Spent    Left  Speed",
            );
            // Rows are redrawn in place: each starts with a carriage
            // return, the last ends the line.
            let first = Self::row(0, 0, 0, 0, Duration::ZERO, 0, false);
            err.write_bytes(format!("\r{first}").as_bytes());
        }
        Meter {
            shown,
            start: now,
            next: now + Duration::from_secs(1),
            samples: vec![(now, 0)],
        }
    }

    /// One row: `total` 0 when the size is unknown (its "% Received"
    /// stays 0, as curl's); `done` for the last, whose "% Total" counts
    /// what came when the size was unknown.
    pub(super) fn row(
        total: u64,
        got: u64,
        up_total: u64,
        up: u64,
        spent: Duration,
        current: u64,
        done: bool,
    ) -> String {
        let pct = |a: u64, t: u64| (a.min(t) * 100).checked_div(t).unwrap_or(0);
        // curl's trspeed: under a microsecond counts as one, so a
        // transfer done in no time has a speed, not 0.
        let secs = spent.as_secs_f64().max(1e-6);
        let dl_speed = (got as f64 / secs) as u64;
        let ul_speed = (up as f64 / secs) as u64;
        let (total_t, left_t) = if total > 0 && dl_speed > 0 {
            let whole = total / dl_speed;
            (whole, whole.saturating_sub(spent.as_secs()))
        } else {
            (0, 0)
        };
        let expected = if done {
            (total + up_total).max(got + up)
        } else {
            total + up_total
        };
        format!(
            "{:3} {}  {:3} {}  {:3} {}  {}  {} {} {} {} {}",
            pct(got + up, expected),
            max5(expected),
            pct(got, total),
            max5(got),
            pct(up, up_total),
            max5(up),
            max5(dl_speed),
            max5(ul_speed),
            time8(total_t),
            time8(spent.as_secs()),
            time8(left_t),
            max5(current)
        )
    }

    pub(super) fn current_speed(&self, now: Instant, got: u64) -> u64 {
        let (t0, b0) = self
            .samples
            .iter()
            .find(|(t, _)| now.saturating_since(*t) <= Duration::from_secs(5))
            .copied()
            .unwrap_or((now, got));
        let dt = now.saturating_since(t0).as_secs_f64();
        if dt > 0.0 {
            ((got - b0.min(got)) as f64 / dt) as u64
        } else {
            0
        }
    }

    /// Called as data arrives: a row every second.
    pub(super) fn update(&mut self, now: Instant, total: u64, got: u64, err: &mut Output) {
        if !self.shown || now < self.next {
            return;
        }
        self.samples.push((now, got));
        self.samples
            .retain(|(t, _)| now.saturating_since(*t) <= Duration::from_secs(6));
        let cur = self.current_speed(now, got);
        let row = Self::row(
            total,
            got,
            0,
            0,
            now.saturating_since(self.start),
            cur,
            false,
        );
        err.write_bytes(format!("\r{row}").as_bytes());
        while self.next <= now {
            self.next += Duration::from_secs(1);
        }
    }

    pub(super) fn done(&mut self, now: Instant, total: u64, got: u64, up: u64, err: &mut Output) {
        if !self.shown {
            return;
        }
        let spent = now.saturating_since(self.start);
        let cur = self
            .current_speed(now, got)
            .max((got as f64 / spent.as_secs_f64().max(1e-6)) as u64);
        let row = Self::row(total, got, up, up, spent, cur, true);
        err.write_bytes(format!("\r{row}\n").as_bytes());
    }
}

/// What `-w` expands to: text for standard output or (after
/// `%{stderr}`) standard error, and the names of unknown variables.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct WriteOut {
    /// (to standard error, text)
    pub(super) parts: Vec<(bool, String)>,
    pub(super) warnings: Vec<String>,
}

/// A `-w` variable's value: a JSON number, a string, or null.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// An HTTP status: three digits as text, a plain number in JSON.
    Code(u16),
    Num(String),
    Str(String),
    Null,
}

impl Value {
    /// As `%{name}` prints it (null is empty).
    fn text(&self) -> String {
        match self {
            Value::Code(c) => format!("{c:03}"),
            Value::Num(s) | Value::Str(s) => s.clone(),
            Value::Null => String::new(),
        }
    }

    fn json(&self) -> String {
        match self {
            Value::Code(c) => c.to_string(),
            Value::Num(s) => s.clone(),
            Value::Str(s) => json_string(s),
            Value::Null => "null".into(),
        }
    }
}

/// curl's `%{header_json}`: each header name once, in lower case, with
/// the array of its values in the order they came, one name a line.
fn header_json(headers: &[(String, String)]) -> String {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in headers {
        let n = n.to_ascii_lowercase();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let fields: Vec<String> = names
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| json_string(v))
                .collect();
            format!("{}:[{}]", json_string(name), values.join(","))
        })
        .collect();
    format!("{{{}\n}}", fields.join(",\n"))
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The variables of curl 7.88's `-w`, in the order of `%{json}`, with
/// their values (`curl_version` last, as curl writes it).
fn variables(s: &Stats, exit: i32) -> Vec<(&'static str, Value)> {
    let secs = |d: Duration| Value::Num(format!("{:.6}", d.as_secs_f64()));
    let num = |n: u64| Value::Num(n.to_string());
    let text = |t: &str| Value::Str(t.to_string());
    let opt = |t: &Option<String>| t.as_ref().map_or(Value::Null, |t| Value::Str(t.clone()));
    let per_sec = |bytes: u64| {
        let t = s.total.as_secs_f64();
        num(if t > 0.0 {
            (bytes as f64 / t) as u64
        } else {
            0
        })
    };
    let nonempty = |t: &str| {
        if t.is_empty() {
            Value::Null
        } else {
            Value::Str(t.to_string())
        }
    };
    vec![
        ("certs", text("")),
        ("content_type", nonempty(&s.content_type)),
        ("errormsg", opt(&s.errormsg)),
        ("exitcode", num(exit as u64)),
        ("filename_effective", opt(&s.filename_effective)),
        ("ftp_entry_path", Value::Null),
        ("http_code", Value::Code(s.http_code)),
        ("http_connect", num(0)),
        (
            "http_version",
            text(if s.http_version.is_empty() {
                "0"
            } else {
                s.http_version
            }),
        ),
        (
            "local_ip",
            text(&s.local.map_or(String::new(), |r| r.ip().to_string())),
        ),
        (
            "local_port",
            num(s.local.map_or(0, |r| u64::from(r.port()))),
        ),
        ("method", text(&s.method)),
        ("num_certs", num(s.num_certs)),
        ("num_connects", num(u64::from(s.num_connects))),
        ("num_headers", num(u64::from(s.num_headers))),
        ("num_redirects", num(u64::from(s.num_redirects))),
        ("proxy_ssl_verify_result", num(0)),
        ("redirect_url", nonempty(&s.redirect_url)),
        ("referer", opt(&s.referer)),
        (
            "remote_ip",
            text(&s.remote.map_or(String::new(), |r| r.ip().to_string())),
        ),
        (
            "remote_port",
            num(s.remote.map_or(0, |r| u64::from(r.port()))),
        ),
        ("response_code", Value::Code(s.http_code)),
        (
            "scheme",
            match (s.scheme, s.https) {
                (false, _) => Value::Null,
                (true, false) => text("HTTP"),
                (true, true) => text("HTTPS"),
            },
        ),
        ("size_download", num(s.size_download)),
        ("size_header", num(s.size_header)),
        ("size_request", num(s.size_request)),
        ("size_upload", num(s.size_upload)),
        ("speed_download", per_sec(s.size_download)),
        ("speed_upload", per_sec(s.size_upload)),
        ("ssl_verify_result", num(u64::from(s.ssl_verify_result))),
        ("time_appconnect", secs(s.appconnect)),
        ("time_connect", secs(s.connect)),
        ("time_namelookup", secs(s.namelookup)),
        ("time_pretransfer", secs(s.pretransfer)),
        ("time_redirect", secs(s.redirect)),
        ("time_starttransfer", secs(s.starttransfer)),
        ("time_total", secs(s.total)),
        ("url", text(&s.url)),
        ("url_effective", text(&s.url_effective)),
        ("urlnum", num(s.urlnum as u64)),
        (
            "curl_version",
            Value::Str(format!("libcurl/{}", super::VERSION)),
        ),
    ]
}

/// Expand `-w` variables (`%{name}`, `%{json}`, `%{stderr}` and
/// `%{stdout}` to switch streams) and escapes (`\n`, `\t`, `\\`, `%%`).
pub(super) fn write_out(fmt: &str, s: &Stats, exit: i32) -> WriteOut {
    let vars = variables(s, exit);
    let mut w = WriteOut::default();
    let mut to_stderr = false;
    let mut cur = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some('r') => cur.push('\r'),
                Some(other) => cur.push(other),
                None => cur.push('\\'),
            },
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                cur.push('%');
            }
            // curl 7.84's %header{name}: that header's value(s) in the
            // last response, joined by ", "; nothing if it has none.
            // An opening brace that nothing closes is text, as curl's
            // ourWriteOut prints it ("%{" or "%header{", then the rest).
            '%' if chars.clone().take(7).collect::<String>() == "header{"
                && !chars.clone().any(|c| c == '}') =>
            {
                chars.by_ref().take(7).for_each(drop);
                cur.push_str("%header{");
            }
            '%' if chars.peek() == Some(&'{') && !chars.clone().any(|c| c == '}') => {
                chars.next();
                cur.push_str("%{");
            }
            '%' if chars.clone().take(7).collect::<String>() == "header{" => {
                chars.by_ref().take(7).for_each(drop);
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let values: Vec<&str> = s
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .map(|(_, v)| v.as_str())
                    .collect();
                cur.push_str(&values.join(", "));
            }
            '%' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                match name.as_str() {
                    // curl 7.75: the rest only when the transfer failed.
                    "onerror" if exit == 0 => break,
                    "onerror" => {}
                    "stderr" | "stdout" => {
                        w.parts.push((to_stderr, std::mem::take(&mut cur)));
                        to_stderr = name == "stderr";
                    }
                    "header_json" => cur.push_str(&header_json(&s.headers)),
                    "json" => {
                        let fields: Vec<String> = vars
                            .iter()
                            .map(|(k, v)| format!("\"{k}\":{}", v.json()))
                            .collect();
                        cur.push_str(&format!("{{{}}}", fields.join(",")));
                    }
                    _ => match vars.iter().find(|(k, _)| *k == name) {
                        Some((_, v)) => cur.push_str(&v.text()),
                        None => w.warnings.push(name),
                    },
                }
            }
            c => cur.push(c),
        }
    }
    w.parts.push((to_stderr, cur));
    w.parts.retain(|(_, t)| !t.is_empty());
    w
}
