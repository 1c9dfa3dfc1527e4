//! curl's command line, and the URLs it takes.

use std::time::Duration;

use super::Failure;
use crate::args::{getopt, Opt};
use crate::Usage;

/// How a `-d`-like option takes its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// `-d`, `--data`: `@FILE` reads a file and drops CR and LF.
    Ascii,
    /// `--data-binary`: `@FILE` reads a file, unchanged.
    Binary,
    /// `--data-raw`: the text itself, `@` included.
    Raw,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurlArgs {
    pub urls: Vec<String>,
    pub method: Option<String>,
    pub data: Vec<(DataKind, String)>,
    /// Each `-T FILE`: the file uploaded with PUT to the URL in the same
    /// place (the first -T to the first URL...).
    pub uploads: Vec<String>,
    /// `-u USER:PASSWORD`: Basic authentication.
    pub user: Option<String>,
    /// `-e URL`: the Referer header.
    pub referer: Option<String>,
    /// `--compressed`: ask for a compressed body and decode it.
    pub compressed: bool,
    pub headers: Vec<String>,
    /// `-o FILE` and `-O`, in order: the first goes with the first URL,
    /// the next with the second... (`None`: `-O`, the remote name); a URL
    /// without one writes to standard output, as in curl.
    pub outputs: Vec<Option<String>>,
    pub head: bool,
    pub include: bool,
    pub follow: bool,
    /// `--max-redirs`: -1 for no limit (curl's manual), else at least 0.
    pub max_redirs: i64,
    pub silent: bool,
    pub show_error: bool,
    pub verbose: bool,
    pub write_out: Option<String>,
    pub fail: bool,
    pub connect_timeout: Option<Duration>,
    pub max_time: Option<Duration>,
    pub user_agent: Option<String>,
    pub http10: bool,
    /// `--cacert FILE`: the CA bundle to verify servers with.
    pub cacert: Option<String>,
    /// `-k`: go on when the server's certificate does not verify.
    pub insecure: bool,
    /// `--tlsv1.3`: nothing older; `--tls-max 1.2`: nothing newer.
    pub tls13_only: bool,
    pub tls12_max: bool,
    /// `--limit-rate RATE`: read the response no faster than this many
    /// bytes a second on average (0: no limit). curl pauses reading the
    /// socket, so the receive buffer fills and the window closes.
    pub limit_rate: Option<u64>,
    /// `-D FILE`: the response headers, every response's (redirects'
    /// too), to FILE (`-` standard output).
    pub dump_header: Option<String>,
    /// `--resolve HOST:PORT:ADDR`: answers given before any lookup.
    pub resolve: Vec<String>,
}

/// `curl -h`: curl 7.88's short help, every option of which this curl has.
const HELP: &str = "Usage: curl [options...] <url>
 -d, --data <data>          HTTP POST data
 -f, --fail                 Fail fast with no output on HTTP errors
 -h, --help <category>      Get help for commands
 -i, --include              Include protocol response headers in the output
 -o, --output <file>        Write to file instead of stdout
 -O, --remote-name          Write output to a file named as the remote file
 -s, --silent               Silent mode
 -T, --upload-file <file>   Transfer local FILE to destination
 -u, --user <user:password> Server user and password
 -A, --user-agent <name>    Send User-Agent <name> to server
 -v, --verbose              Make the operation more talkative
 -V, --version              Show version number and quit

This is not the full help, this menu is stripped into categories.
Use \"--help category\" to get an overview of all categories.
For all options use the manual or \"--help all\".";

/// `curl -V`: what this curl is and has.
pub(super) fn version_text() -> String {
    format!(
        "curl {v} (tcplab) libcurl/{v} OpenSSL/3.0.19 zlib\nRelease-Date: 2023-02-20\nProtocols: http https\nFeatures: libz SSL",
        v = super::VERSION
    )
}

pub(super) fn usage(msg: String) -> Usage {
    Usage {
        tool: "curl".into(),
        message: msg,
        usage: Some("curl: try 'curl --help' or 'curl --manual' for more information".into()),
        status: 2,
        help: None,
        bare: false,
    }
}

pub(super) fn secs(v: &str, opt: &str) -> Result<Duration, Usage> {
    // curl's str2udouble: a number (strtod's: `nan` too, which curl takes
    // as no limit), not negative, at most LONG_MAX milliseconds.
    let proper = || {
        usage(format!(
            "option {opt}: expected a proper numerical parameter"
        ))
    };
    // strtod takes hexadecimal too (`0x10` is 16); nothing may follow.
    let x = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16)
            .map(|n| n as f64)
            .map_err(|_| proper())?,
        None => v.parse::<f64>().map_err(|_| proper())?,
    };
    if x < 0.0 {
        return Err(usage(format!(
            "option {opt}: expected a positive numerical parameter"
        )));
    }
    if x > i64::MAX as f64 / 1000.0 {
        return Err(usage(format!("option {opt}: too large number")));
    }
    // (Kept within what a clock can add: past a hundred days a limit is
    // as good as none in a run.)
    Ok(if x.is_nan() {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(x.min(1e7))
    })
}

/// `--limit-rate`'s value as curl's GetSizeParameter reads it: a whole
/// number of bytes, or with one unit letter, K, M or G (powers of 1024),
/// or B.
fn rate(v: &str) -> Result<u64, Usage> {
    let bad = || usage("option --limit-rate: is badly used here".into());
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let value: u64 = v[..digits].parse().map_err(|_| bad())?;
    let scale: u64 = match &v[digits..] {
        "" | "b" | "B" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    value.checked_mul(scale).ok_or_else(bad)
}

/// The short options of curl 7.88.1.
const REAL_SHORT: &str = "aEKCbcdqDfFPGgIHh0ik46jlLMmnNoZ#xUpQreJORXSsYy23tz1TBuAvVw";

/// The long options of curl 7.88.1 (`curl --help all`): one of these
/// this curl lacks is said to be unsupported, not unknown.
const REAL_LONG: &str = "\
    abstract-unix-socket alt-svc anyauth append aws-sigv4 basic cacert capath cert \
    cert-status cert-type ciphers compressed compressed-ssh config connect-timeout \
    connect-to continue-at cookie cookie-jar create-dirs create-file-mode crlf crlfile \
    curves data data-ascii data-binary data-raw data-urlencode delegation digest disable \
    disable-eprt disable-epsv disallow-username-in-url dns-interface dns-ipv4-addr \
    dns-ipv6-addr dns-servers doh-cert-status doh-insecure doh-url dump-header egd-file \
    engine etag-compare etag-save expect100-timeout fail fail-early fail-with-body \
    false-start form form-escape form-string ftp-account ftp-alternative-to-user \
    ftp-create-dirs ftp-method ftp-pasv ftp-port ftp-pret ftp-skip-pasv-ip ftp-ssl-ccc \
    ftp-ssl-ccc-mode ftp-ssl-control get globoff happy-eyeballs-timeout-ms \
    haproxy-protocol head header help hostpubmd5 hostpubsha256 hsts http0.9 http1.0 \
    http1.1 http2 http2-prior-knowledge http3 http3-only ignore-content-length include \
    insecure interface ipv4 ipv6 json junk-session-cookies keepalive-time key key-type krb \
    libcurl limit-rate list-only local-port location location-trusted login-options \
    mail-auth mail-from mail-rcpt mail-rcpt-allowfails manual max-filesize max-redirs \
    max-time metalink negotiate netrc netrc-file netrc-optional next no-alpn no-buffer \
    no-clobber no-keepalive no-npn no-progress-meter no-sessionid noproxy ntlm ntlm-wb \
    oauth2-bearer output output-dir parallel parallel-immediate parallel-max pass \
    path-as-is pinnedpubkey post301 post302 post303 preproxy progress-bar proto \
    proto-default proto-redir proxy proxy-anyauth proxy-basic proxy-cacert proxy-capath \
    proxy-cert proxy-cert-type proxy-ciphers proxy-crlfile proxy-digest proxy-header \
    proxy-insecure proxy-key proxy-key-type proxy-negotiate proxy-ntlm proxy-pass \
    proxy-pinnedpubkey proxy-service-name proxy-ssl-allow-beast proxy-ssl-auto-client-cert \
    proxy-tls13-ciphers proxy-tlsauthtype proxy-tlspassword proxy-tlsuser proxy-tlsv1 \
    proxy-user proxy1.0 proxytunnel pubkey quote random-file range rate raw referer \
    remote-header-name remote-name remote-name-all remote-time remove-on-error request \
    request-target resolve retry retry-all-errors retry-connrefused retry-delay \
    retry-max-time sasl-authzid sasl-ir service-name show-error silent socks4 socks4a \
    socks5 socks5-basic socks5-gssapi socks5-gssapi-nec socks5-gssapi-service \
    socks5-hostname speed-limit speed-time ssl ssl-allow-beast ssl-auto-client-cert \
    ssl-no-revoke ssl-reqd ssl-revoke-best-effort sslv2 sslv3 stderr styled-output \
    suppress-connect-headers tcp-fastopen tcp-nodelay telnet-option tftp-blksize \
    tftp-no-options time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser tlsv1 \
    tlsv1.0 tlsv1.1 tlsv1.2 tlsv1.3 tr-encoding trace trace-ascii trace-time unix-socket \
    upload-file url url-query use-ascii user user-agent verbose version write-out xattr";

/// A file name curl reads as its standard input: `-`, or the device
/// that is it.
pub fn is_stdin(path: &str) -> bool {
    path == "-" || path == "/dev/stdin"
}

impl CurlArgs {
    /// Whether a body comes from standard input: `-d @-` (any `-d`-like
    /// option but `--data-raw`) or `-T -`.
    pub fn reads_stdin(&self) -> bool {
        self.uploads.iter().any(|u| is_stdin(u))
            || self.data.iter().any(|(kind, d)| {
                *kind != DataKind::Raw && d.strip_prefix('@').is_some_and(is_stdin)
            })
    }

    pub fn parse(args: &[String]) -> Result<CurlArgs, Usage> {
        let (opts, urls) = getopt(
            args,
            "X:d:D:H:o:OIiLsSvw:fm:A:0u:e:T:hVk4",
            &[
                // IPv4 only: what this curl always does.
                "ipv4",
                "request=",
                "data=",
                "data-raw=",
                "data-binary=",
                "header=",
                "output=",
                "remote-name",
                "head",
                "include",
                "location",
                "max-redirs=",
                "silent",
                "show-error",
                "verbose",
                "write-out=",
                "fail",
                "connect-timeout=",
                "max-time=",
                "user-agent=",
                "http1.0",
                "http1.1",
                "url=",
                "user=",
                "referer=",
                "compressed",
                "upload-file=",
                "help",
                "version",
                "cacert=",
                "insecure",
                "tlsv1.2",
                "tlsv1.3",
                "tls-max=",
                "limit-rate=",
                "dump-header=",
                "resolve=",
            ],
        )
        .map_err(|e| {
            // getopt says "invalid option -- 'Z'"; curl says "option -Z: is unknown"
            // — or, for an option curl has and this one lacks, that it is
            // not supported here (as every tool says).
            let opt = e
                .split('\'')
                .nth(1)
                .map(|o| {
                    if o.starts_with('-') {
                        o.to_string()
                    } else {
                        format!("-{o}")
                    }
                })
                .unwrap_or_default();
            let name = opt.trim_start_matches('-');
            let real = if opt.starts_with("--") {
                REAL_LONG.split_whitespace().any(|l| l == name)
            } else {
                name.chars().count() == 1 && REAL_SHORT.contains(name)
            };
            if e.contains("requires an argument") {
                usage(format!("option {opt}: requires parameter"))
            } else if real {
                usage(format!("option {opt}: is not supported in tcplab"))
            } else {
                usage(format!("option {opt}: is unknown"))
            }
        })?;
        let mut a = CurlArgs {
            urls,
            max_redirs: 50,
            ..CurlArgs::default()
        };
        for o in opts {
            let (name, v) = match o {
                Opt::Short(c, v) => (c.to_string(), v.unwrap_or_default()),
                Opt::Long(n, v) => (n, v.unwrap_or_default()),
            };
            match name.as_str() {
                "X" | "request" => a.method = Some(v),
                "d" | "data" => a.data.push((DataKind::Ascii, v)),
                "data-binary" => a.data.push((DataKind::Binary, v)),
                "data-raw" => a.data.push((DataKind::Raw, v)),
                "T" | "upload-file" => a.uploads.push(v),
                "u" | "user" => a.user = Some(v),
                "e" | "referer" => a.referer = Some(v),
                "compressed" => a.compressed = true,
                "h" | "help" => return Err(Usage::help("curl", HELP.into(), true, 0)),
                "V" | "version" => return Err(Usage::help("curl", version_text(), true, 0)),
                "H" | "header" => a.headers.push(v),
                // curl 7.88 refuses an empty name (after a warning, "output
                // file name has no length"), naming the option as typed.
                "o" | "output" if v.is_empty() => {
                    let typed = if name == "o" { "-o" } else { "--output" };
                    return Err(usage(format!("option {typed}: is badly used here")));
                }
                "o" | "output" => a.outputs.push(Some(v)),
                "D" | "dump-header" => a.dump_header = Some(v),
                "resolve" => a.resolve.push(v),
                "O" | "remote-name" => a.outputs.push(None),
                "I" | "head" => a.head = true,
                "i" | "include" => a.include = true,
                "L" | "location" => a.follow = true,
                "max-redirs" => {
                    // A C long, -1 meaning no limit; below -1 is refused
                    // (tool_getparam.c).
                    a.max_redirs = v.parse().ok().filter(|&n: &i64| n >= -1).ok_or_else(|| {
                        usage("option --max-redirs: expected a proper numerical parameter".into())
                    })?
                }
                "s" | "silent" => a.silent = true,
                "S" | "show-error" => a.show_error = true,
                "v" | "verbose" => a.verbose = true,
                "w" | "write-out" => a.write_out = Some(v),
                "f" | "fail" => a.fail = true,
                // Zero means no limit of one's own, as in curl: the
                // connect phase keeps its default, the transfer none.
                "connect-timeout" => {
                    a.connect_timeout =
                        Some(secs(&v, "--connect-timeout")?).filter(|d| !d.is_zero())
                }
                "m" | "max-time" => a.max_time = Some(secs(&v, "-m")?).filter(|d| !d.is_zero()),
                "limit-rate" => a.limit_rate = Some(rate(&v)?).filter(|r| *r > 0),
                "A" | "user-agent" => a.user_agent = Some(v),
                "0" | "http1.0" => a.http10 = true,
                "http1.1" => a.http10 = false,
                "url" => a.urls.push(v),
                "cacert" => a.cacert = Some(v),
                "k" | "insecure" => a.insecure = true,
                "tlsv1.3" => a.tls13_only = true,
                "tls-max" => match v.as_str() {
                    "1.2" => a.tls12_max = true,
                    "1.3" | "default" => a.tls12_max = false,
                    _ => return Err(usage(format!("option --tls-max: `{v}` is not 1.2 or 1.3"))),
                },
                _ => {}
            }
        }
        if a.urls.is_empty() {
            // curl with no arguments at all says only where help is.
            let message = if args.is_empty() {
                ""
            } else {
                "no URL specified!"
            };
            return Err(usage(message.into()));
        }
        if a.head && !a.data.is_empty() {
            return Err(Usage {
                tool: "Warning".into(),
                message: "You can only select one HTTP request method! You asked for both POST (-d, --data) and HEAD (-I, --head).".into(),
                usage: None,
                status: 2,
                help: None,
                bare: false,
            });
        }
        Ok(a)
    }
}

/// A URL curl can fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Url {
    /// https.
    pub(super) tls: bool,
    pub(super) host: String,
    pub(super) port: u16,
    /// Path and query, starting with `/`.
    pub(super) target: String,
    /// `user:password@` as written in the URL (percent-encoded), sent as
    /// Basic credentials unless `-u` gives others.
    pub(super) userinfo: Option<String>,
}

impl Url {
    pub(super) fn parse(text: &str) -> Result<Url, Failure> {
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("http".to_string(), text),
        };
        let tls = scheme == "https";
        if scheme != "http" && !tls {
            return Err(Failure::new(
                1,
                format!("Protocol \"{scheme}\" not supported or disabled in libcurl"),
            ));
        }
        let bad = || Failure::new(3, "URL using bad/illegal format or missing URL".into());
        let rest = rest.split('#').next().unwrap_or("");
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else if target.is_empty() {
            "/".to_string()
        } else {
            normalize_target(target)
        };
        if target.contains([' ', '\t']) {
            return Err(bad());
        }
        // RFC 3986 §3.2.1: user information before the `@` — the first,
        // as curl 7.88's parse_hostname_login splits (a second `@` then
        // makes the host illegal); no space or control character in it.
        let (userinfo, authority) = match authority.split_once('@') {
            Some((u, a)) => {
                if u.chars().any(|c| c == ' ' || c.is_control()) {
                    return Err(bad());
                }
                (Some(u.to_string()), a)
            }
            None => (None, authority),
        };
        let default_port = if tls { 443 } else { 80 };
        // An IPv6 literal in brackets (RFC 3986 §3.2.2), kept without them.
        let (host, port_text) = match authority.strip_prefix('[') {
            Some(rest) => {
                let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
                let v6: std::net::Ipv6Addr = inside.parse().map_err(|_| bad())?;
                match after {
                    "" => (v6.to_string(), None),
                    _ => (
                        v6.to_string(),
                        Some(after.strip_prefix(':').ok_or_else(bad)?),
                    ),
                }
            }
            // (The first colon: a second one, `host:80:80`, leaves a
            // port that is not a number.)
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            },
        };
        // curl 7.88: an empty port is the scheme's; 0 is taken (and
        // refused when connecting).
        let port = match port_text {
            None | Some("") => default_port,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u16>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && (host.contains(':')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')));
        if !valid {
            return Err(bad());
        }
        let host =
            ipv4_normalize(&host).map_or_else(|| host.to_ascii_lowercase(), |a| a.to_string());
        Ok(Url {
            tls,
            host,
            port,
            target,
            userinfo,
        })
    }

    /// The URL's credentials, percent-decoded, as `user:password`.
    pub(super) fn credentials(&self) -> Option<Vec<u8>> {
        let raw = self.userinfo.as_deref()?;
        let b = raw.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            match (
                b[i],
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (b'%', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (c, _, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        if !raw.contains(':') {
            out.push(b':');
        }
        Some(out)
    }

    pub(super) fn authority(&self) -> String {
        let host = if self.is_ipv6() {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The host is an IPv6 literal (`http://[::1]/`), which no tcplab
    /// host can reach.
    pub(super) fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    pub(super) fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    pub(super) fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    pub(super) fn to_text(&self) -> String {
        let user = self
            .userinfo
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        format!(
            "{}://{user}{}{}",
            self.scheme(),
            self.authority(),
            self.target
        )
    }

    /// Resolve a `Location` against this URL (RFC 3986 §5.2.2): absolute,
    /// network-path, absolute-path, query-only and relative references,
    /// the fragment left out (it never goes on the wire) and the dot
    /// segments removed.
    pub(super) fn join(&self, location: &str) -> Result<Url, Failure> {
        let location = encode_location(location.split('#').next().unwrap_or(""))?;
        let location = location.as_str();
        // Absolute when a scheme comes first (`/r?u=http://x` is a path).
        let absolute = location
            .find("://")
            .is_some_and(|i| i > 0 && !location[..i].contains(['/', '?']));
        if absolute {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme()));
        }
        let path = self.target.split('?').next().unwrap_or("/");
        let target = if location.is_empty() {
            self.target.clone()
        } else if location.starts_with('?') {
            format!("{path}{location}")
        } else if location.starts_with('/') {
            location.to_string()
        } else {
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        Ok(Url {
            target: normalize_target(&target),
            ..self.clone()
        })
    }
}

/// A `Location` made fit for a request line as curl 7.88.1 makes it
/// (checked against it): a space is `%20` in the path and `+` in the
/// query, a byte past ASCII `%xx` in lower case; a control character makes
/// the target one curl cannot parse (exit 3, "Bad path" or "Bad query").
fn encode_location(location: &str) -> Result<String, Failure> {
    let mut out = String::with_capacity(location.len());
    let mut query = false;
    for b in location.bytes() {
        match b {
            b'?' => {
                query = true;
                out.push('?');
            }
            b' ' if query => out.push('+'),
            b' ' => out.push_str("%20"),
            0..0x20 | 0x7f => {
                let part = if query { "query" } else { "path" };
                return Err(Failure::new(
                    3,
                    format!("The redirect target URL could not be parsed: Bad {part}"),
                ));
            }
            0x80.. => out.push_str(&format!("%{b:02x}")),
            _ => out.push(char::from(b)),
        }
    }
    Ok(out)
}

/// A target (path and query) with the path's `.` and `..` segments
/// removed (RFC 3986 §5.2.4's remove_dot_segments, as curl does unless
/// --path-as-is); the query is left as it is.
fn normalize_target(target: &str) -> String {
    let (path, query) = match target.find('?') {
        Some(i) => target.split_at(i),
        None => (target, ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                // A path ending in a dot segment ends in a slash.
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut path = String::with_capacity(target.len());
    for seg in &out {
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() {
        path.push('/');
    }
    path + query
}

/// A host written as an IPv4 address in one of the forms curl 7.88's URL
/// parser takes (`ipv4_normalize` in urlapi.c, after WHATWG's URL
/// standard): one to four parts, each decimal, octal with a leading `0`
/// or hexadecimal with `0x`, the last filling the bytes left —
/// `167772674`, `0x0a000202`, `10.514`, `010.0.2.2`. Anything else is a
/// name.
pub(super) fn ipv4_normalize(host: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        // strtoul(p, &end, 0) with nothing left over, and no sign.
        let (radix, digits) = match p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            Some(h) => (16, h),
            None if p.len() > 1 && p.starts_with('0') => (8, &p[1..]),
            None => (10, *p),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        values.push(u32::from_str_radix(digits, radix).ok()?);
    }
    let (last, first) = values.split_last()?;
    if first.iter().any(|&v| v > 0xff) {
        return None;
    }
    let room = 8 * (4 - first.len()) as u32;
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let mut n: u32 = 0;
    for (i, &v) in first.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    Some(std::net::Ipv4Addr::from(n | last))
}

/// One `--resolve` entry, as libcurl 7.88's Curl_loadhostpairs reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pin {
    /// `[+]HOST:PORT:ADDR[,ADDR]...`: `addrs` as written (for the `-v`
    /// line), `v4` the IPv4 addresses among them (this curl's only kind),
    /// in order; `+` makes it non-permanent. HOST `*` answers for any
    /// host.
    Add {
        host: String,
        port: u16,
        addrs: String,
        v4: Vec<std::net::Ipv4Addr>,
        permanent: bool,
    },
    /// `-HOST:PORT`: forget an entry.
    Remove { host: String, port: u16 },
    /// A removal libcurl cannot read: an info line, nothing else.
    BadRemoval,
}

/// An error when libcurl would refuse the entry (exit 49), with the
/// address it found illegal if that was the reason.
pub(super) fn resolve_entry(text: &str) -> Result<Pin, Option<String>> {
    if let Some(rest) = text.strip_prefix('-') {
        // sscanf("%255[^:]:%d"): a host of one character or more, a port.
        let parsed = rest.split_once(':').and_then(|(h, p)| {
            let digits = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            let port: u16 = p[..digits].parse().ok()?;
            (!h.is_empty()).then(|| (h.to_ascii_lowercase(), port))
        });
        return Ok(match parsed {
            Some((host, port)) => Pin::Remove { host, port },
            None => Pin::BadRemoval,
        });
    }
    let (permanent, text) = match text.strip_prefix('+') {
        Some(t) => (false, t),
        None => (true, text),
    };
    let (host, rest) = text.split_once(':').ok_or(None)?;
    let (port, addrs) = rest.split_once(':').ok_or(None)?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(None);
    }
    let port: u16 = port.parse().map_err(|_| None)?;
    let mut v4 = Vec::new();
    for a in addrs.split(',') {
        let a = a.trim();
        let a = a
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(a);
        match a.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(x)) => {
                v4.push(x);
            }
            Ok(std::net::IpAddr::V6(_)) => {}
            Err(_) => return Err(Some(a.to_string())),
        }
    }
    Ok(Pin::Add {
        host: host.to_string(),
        port,
        addrs: addrs.to_string(),
        v4,
        permanent,
    })
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    /// `--limit-rate` as curl's GetSizeParameter reads it.
    #[test]
    fn limit_rates_take_curls_units() {
        assert_eq!(rate("1000"), Ok(1000));
        assert_eq!(rate("500K"), Ok(512_000));
        assert_eq!(rate("2m"), Ok(2 << 20));
        assert_eq!(rate("1G"), Ok(1 << 30));
        assert_eq!(rate("7b"), Ok(7));
        for bad in ["", "5x", "1KB", "-1", "k", "99999999999999999999G"] {
            let e = rate(bad).unwrap_err();
            assert_eq!(
                e.message, "option --limit-rate: is badly used here",
                "{bad}"
            );
        }
        let a = CurlArgs::parse(&["--limit-rate".into(), "0".into(), "h".into()]).unwrap();
        assert_eq!(a.limit_rate, None, "0 is no limit");
    }

    /// `--max-redirs`: a C long, -1 for no limit; below -1 refused.
    #[test]
    fn max_redirs_takes_minus_one_for_no_limit() {
        let max = |v: &str| {
            CurlArgs::parse(&["--max-redirs".into(), v.into(), "h".into()]).map(|a| a.max_redirs)
        };
        assert_eq!(max("-1").unwrap(), -1);
        assert_eq!(max("0").unwrap(), 0);
        assert_eq!(max("99999999999999").unwrap(), 99_999_999_999_999);
        for bad in ["-2", "x", ""] {
            assert_eq!(
                max(bad).unwrap_err().message,
                "option --max-redirs: expected a proper numerical parameter",
                "{bad}"
            );
        }
    }

    /// `--resolve`'s entries as libcurl's Curl_loadhostpairs takes them.
    #[test]
    fn resolve_entries() {
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        let add = |host: &str, port, addrs: &str, v4: Vec<&str>, permanent| Pin::Add {
            host: host.into(),
            port,
            addrs: addrs.into(),
            v4: v4.into_iter().map(ip).collect(),
            permanent,
        };
        assert_eq!(
            resolve_entry("WWW.lab:443:10.0.0.1"),
            Ok(add("WWW.lab", 443, "10.0.0.1", vec!["10.0.0.1"], true))
        );
        assert_eq!(
            resolve_entry("+a:80:[::1],10.0.0.2,10.0.0.4"),
            Ok(add(
                "a",
                80,
                "[::1],10.0.0.2,10.0.0.4",
                vec!["10.0.0.2", "10.0.0.4"],
                false
            ))
        );
        assert_eq!(
            resolve_entry("*:80:10.0.0.3"),
            Ok(add("*", 80, "10.0.0.3", vec!["10.0.0.3"], true))
        );
        assert_eq!(
            resolve_entry("a:0:::1"),
            Ok(add("a", 0, "::1", vec![], true))
        );
        assert_eq!(
            resolve_entry("-A:80"),
            Ok(Pin::Remove {
                host: "a".into(),
                port: 80
            })
        );
        assert_eq!(resolve_entry("-a"), Ok(Pin::BadRemoval));
        assert_eq!(resolve_entry("-:80"), Ok(Pin::BadRemoval));
        assert_eq!(
            resolve_entry("a:80:10.0.0.1,nope"),
            Err(Some("nope".into()))
        );
        for bad in [
            "a",
            "a:80",
            "a:x:10.0.0.1",
            "a:80:nope",
            "a:80:nope,10.0.0.1",
            "a:99999:10.0.0.1",
            "a:80:",
        ] {
            assert!(resolve_entry(bad).is_err(), "{bad}");
        }
        let a = CurlArgs::parse(&[
            "-D".into(),
            "-".into(),
            "--resolve".into(),
            "a:1:1.2.3.4".into(),
            "h".into(),
        ])
        .unwrap();
        assert_eq!(a.dump_header.as_deref(), Some("-"));
        assert_eq!(a.resolve, ["a:1:1.2.3.4"]);
        for (args, says) in [
            (&["h", "-d"][..], "option -d: requires parameter"),
            (&["h", "--data"][..], "option --data: requires parameter"),
            (&["h", "-W"][..], "option -W: is unknown"),
            (
                &["h", "--frobnicate"][..],
                "option --frobnicate: is unknown",
            ),
            // curl's own, not this one's.
            (&["h", "-Z"][..], "option -Z: is not supported in tcplab"),
            (&["h", "-x"][..], "option -x: is not supported in tcplab"),
            (
                &["h", "--http2"][..],
                "option --http2: is not supported in tcplab",
            ),
            (
                &["h", "--fail-with-body"][..],
                "option --fail-with-body: is not supported in tcplab",
            ),
            (&["h", "-o", ""][..], "option -o: is badly used here"),
        ] {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(CurlArgs::parse(&args).unwrap_err().message, says);
        }
    }
}
