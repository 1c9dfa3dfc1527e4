//! `nc`, as OpenBSD netcat (Debian's netcat-openbsd 1.219) behaves.
//!
//! ```text
//! nc [-46dhnNuvz] [-p port] [-q secs] [-s addr] [-w secs] HOST PORT[-PORT]
//! nc -l [-46dhknNuv] [-p PORT] [-q secs] [ADDR] [PORT]
//! nc -U [-dlNuv] PATH
//! ```
//!
//! Standard input goes to the peer as it comes (the previous stage of a
//! pipeline, the terminal of `tcplab run`, or an attached client's input);
//! at its end the sending side is closed (a half-close: what `nc -N` does —
//! tcplab always does it, so that `echo hi | nc host 7` ends), and nc keeps
//! reading until the peer closes, or for `-q` seconds. Received bytes go to
//! standard output unchanged. Messages and errors go to standard error in
//! netcat's words; the exit status is 1 when the connection (or every
//! scanned port) failed.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_host::{
    timeout, Host, LocalDatagram, LocalListener, LocalStream, Output, Stdin, TcpListener,
    TcpStream, UdpSocket,
};
use tcplab_stack::services::{self, Transport};
use tcplab_stack::tcp::SocketOptions;
use tcplab_stack::SocketError;

use crate::args::{getopt, Opt};
use crate::select::{select, Either};

mod udp;
use crate::stream::Duplex;
use crate::Usage;
use udp::udp_client;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcArgs {
    pub listen: bool,
    pub udp: bool,
    pub verbose: bool,
    pub scan: bool,
    pub keep: bool,
    /// `-n`: no name or service lookups.
    pub numeric: bool,
    /// `-d`: do not read standard input.
    pub no_stdin: bool,
    /// `-w`: timeout for connecting and for idle reads.
    pub wait: Option<Duration>,
    /// `-q`: quit this long after the end of standard input.
    pub quit: Option<Duration>,
    /// `-s`: the local address.
    pub source: Option<Ipv4Addr>,
    /// `-p`: the local port (of a client) or the port to listen on.
    pub source_port: Option<u16>,
    pub host: Option<String>,
    /// The first port or range; a client's further ones in `more_ports`
    /// (`nc -zv host http 20 22-23`, as OpenBSD nc takes them).
    pub ports: (u16, u16),
    pub more_ports: Vec<(u16, u16)>,
    /// `-6` (the last of -4/-6 given): IPv6 only. tcplab has no IPv6, so
    /// a client finds no address; a listener, like Linux's dual-stack
    /// `[::]`, still takes IPv4.
    pub ipv6: bool,
    /// `-U`: the path of a local socket instead of a host and port.
    pub unix: Option<String>,
}

/// The usage lines of Debian's netcat-openbsd.
pub const USAGE: &str = "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]
\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]
\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]
\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]
\t  [destination] [port]";

/// `nc -h`: the version line, the usage and the options tcplab's nc has.
fn help() -> String {
    format!(
        "OpenBSD netcat (Debian patchlevel 1.219-1; tcplab)
{USAGE}
\tCommand Summary:
\t\t-4\t\tUse IPv4
\t\t-d\t\tDetach from stdin
\t\t-h\t\tThis help text
\t\t-k\t\tKeep inbound sockets open for multiple connects
\t\t-l\t\tListen mode, for inbound connects
\t\t-N\t\tShutdown the network socket after EOF on stdin
\t\t-n\t\tSuppress name/port resolutions
\t\t-p port\t\tSpecify local port for remote connects
\t\t-q secs\t\tquit after EOF on stdin and delay of secs
\t\t-s sourceaddr\tLocal source address
\t\t-U\t\tUse UNIX domain socket
\t\t-u\t\tUDP mode
\t\t-v\t\tVerbose
\t\t-w timeout\tTimeout for connects and final net reads
\t\t-z\t\tZero-I/O mode [used for scanning]
\tPort numbers can be individual or ranges: lo-hi [inclusive]"
    )
}

/// A host without a port, or `-l` without one: nc's one line, no usage.
fn missing_port() -> Usage {
    Usage {
        status: 1,
        ..Usage::new("nc", "missing port number".into())
    }
}

fn usage_error(message: String) -> Usage {
    Usage {
        status: 1,
        ..Usage::with_usage("nc", message, USAGE)
    }
}

/// A port by number or service name, as OpenBSD nc's strtoport takes it
/// (strtonum between 1 and 65535, then a service name): its messages say
/// whether the number was too small, too large or no number at all.
/// `zero_ok`: a listener's port 0 asks for any free port (Debian's nc
/// listens on one).
fn port(s: &str, numeric: bool, zero_ok: bool) -> Result<u16, Usage> {
    let bad = |why: &str| Usage {
        status: 1,
        ..Usage::new("nc", format!("port number {why}: {s}"))
    };
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let value = s.parse::<i128>().unwrap_or(if s.starts_with('-') {
            i128::MIN
        } else {
            i128::MAX
        });
        return match u16::try_from(value) {
            Ok(0) if zero_ok => Ok(0),
            Ok(p) if p > 0 => Ok(p),
            _ if value > 0 => Err(bad("too large")),
            _ => Err(bad("too small")),
        };
    }
    (!numeric)
        .then(|| services::port(s, Transport::Tcp))
        .flatten()
        .ok_or_else(|| bad("invalid"))
}

/// OpenBSD's `strtonum(v, min, max)`: a decimal integer in range, or the
/// reason it is not (`invalid`, `too small`, `too large`).
fn strtonum(v: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let t = v.trim_start();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    match t.parse::<i64>() {
        Ok(n) if n < min => Err("too small"),
        Ok(n) if n > max => Err("too large"),
        Ok(n) => Ok(n),
        Err(_) if t.starts_with('-') => Err("too small"),
        Err(_) => Err("too large"),
    }
}

fn strtonum_error(what: &str, why: &str, v: &str) -> Usage {
    Usage {
        status: 1,
        ..Usage::new("nc", format!("{what} {why}: {v}"))
    }
}

impl NcArgs {
    pub fn parse(args: &[String]) -> Result<NcArgs, Usage> {
        // OpenBSD netcat's letters, for options tcplab's nc lacks.
        const REAL: &str = "46bCDdFhI:i:klM:m:NnO:P:p:q:rSs:T:tUuV:vW:w:X:x:Zz";
        let (opts, rest) = getopt(args, "46dhklnNuUvzp:q:s:w:", &[])
            .map_err(|e| usage_error(crate::args::unsupported(e, REAL)))?;
        let mut a = NcArgs {
            listen: false,
            ipv6: false,
            udp: false,
            verbose: false,
            scan: false,
            keep: false,
            numeric: false,
            no_stdin: false,
            wait: None,
            quit: None,
            source: None,
            source_port: None,
            host: None,
            ports: (0, 0),
            more_ports: Vec::new(),
            unix: None,
        };
        let mut unix = false;
        if opts.contains(&Opt::Short('n', None)) {
            a.numeric = true;
        }
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            let v = v.unwrap_or_default();
            match c {
                'h' => return Err(Usage::help("nc", help(), false, 0)),
                '4' => a.ipv6 = false,
                '6' => a.ipv6 = true,
                'N' | 'n' => {}
                'l' => a.listen = true,
                'u' => a.udp = true,
                'k' => a.keep = true,
                'v' => a.verbose = true,
                'z' => a.scan = true,
                'd' => a.no_stdin = true,
                'U' => unix = true,
                // Not range-checked by nc: 0 is any port. A name that
                // is no service is getaddrinfo's error.
                'p' => {
                    a.source_port = Some(port(&v, a.numeric, true).map_err(|e| {
                        if e.message.starts_with("port number invalid") {
                            Usage {
                                status: 1,
                                ..Usage::new(
                                    "nc",
                                    "getaddrinfo: Servname not supported for ai_socktype".into(),
                                )
                            }
                        } else {
                            e
                        }
                    })?)
                }
                // OpenBSD nc: whole seconds, as strtonum reads them; a
                // negative -q waits for ever (Debian's patch).
                'q' => {
                    let q = strtonum(&v, i64::from(i32::MIN), i64::from(i32::MAX))
                        .map_err(|why| strtonum_error("quit timer", why, &v))?;
                    a.quit = u64::try_from(q).ok().map(Duration::from_secs);
                }
                'w' => {
                    // 0 is taken and means no timeout at all (Debian's
                    // netcat-openbsd 1.219, measured: `-w 0` to a silent
                    // host waits for the kernel's own verdict).
                    let w = strtonum(&v, 0, i64::from(i32::MAX / 1000))
                        .map_err(|why| strtonum_error("timeout", why, &v))?;
                    a.wait = (w > 0).then(|| Duration::from_secs(w as u64));
                }
                's' => {
                    a.source = Some(v.parse().map_err(|_| Usage {
                        status: 1,
                        ..Usage::new("nc", "getaddrinfo: Name or service not known".into())
                    })?)
                }
                _ => {}
            }
        }
        // Debian's netcat-openbsd 1.219's own checks, in its words.
        let refuse = |m: &str| Usage {
            status: 1,
            ..Usage::new("nc", m.into())
        };
        if a.listen && a.scan {
            return Err(refuse("cannot use -z and -l"));
        }
        if a.keep && !a.listen {
            return Err(refuse("must use -l with -k"));
        }
        if unix {
            let [path] = rest.as_slice() else {
                if rest.is_empty() && a.listen {
                    return Err(refuse("missing socket pathname"));
                }
                return Err(usage_error(String::new()));
            };
            a.unix = Some(path.clone());
            return Ok(a);
        }
        if a.listen {
            // A listener's address is its first argument, not -s
            // (Debian's netcat-openbsd prints its usage for -l -s).
            if a.source.is_some() {
                return Err(usage_error(String::new()));
            }
            let p = match (rest.as_slice(), a.source_port) {
                // A port given twice, with -p and as an argument: the
                // usage.
                ([_, ..], Some(_)) => return Err(usage_error(String::new())),
                ([p], _) => port(p, a.numeric, true)?,
                // `nc -l ADDR PORT`: the address to listen on.
                ([h, p], _) => {
                    a.host = Some(h.clone());
                    port(p, a.numeric, true)?
                }
                ([], Some(p)) => p,
                _ => return Err(missing_port()),
            };
            a.ports = (p, p);
            return Ok(a);
        }
        let (host, ports) = match rest.as_slice() {
            [host, ports @ ..] if !ports.is_empty() => (host, ports),
            // No arguments at all: the usage alone, as nc prints it.
            [] => return Err(usage_error(String::new())),
            _ => return Err(missing_port()),
        };
        a.host = Some(host.clone());
        let range = |arg: &String| -> Result<(u16, u16), Usage> {
            Ok(match arg.split_once('-').filter(|(lo, _)| !lo.is_empty()) {
                Some((lo, hi)) => {
                    // A range is numbers only (build_ports, checked
                    // against netcat-openbsd 1.219): one that does not
                    // begin with a number is invalid whole (a service
                    // name with a dash too), else the half that fails is
                    // named.
                    let numbers = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
                    if !numbers(lo) {
                        return Err(refuse(&format!("port number invalid: {arg}")));
                    }
                    if !numbers(hi) {
                        return Err(refuse(&format!("port number invalid: {hi}")));
                    }
                    let (lo, hi) = (port(lo, true, false)?, port(hi, true, false)?);
                    // A range given high to low is taken low to high
                    // (OpenBSD nc's build_ports swaps them).
                    (lo.min(hi), lo.max(hi))
                }
                None => {
                    let p = port(arg, a.numeric, false)?;
                    (p, p)
                }
            })
        };
        a.ports = range(&ports[0])?;
        a.more_ports = ports[1..].iter().map(range).collect::<Result<_, _>>()?;
        Ok(a)
    }
}

impl NcArgs {
    /// Every port a client tries, in the order given.
    fn each_port(&self) -> impl Iterator<Item = u16> + '_ {
        std::iter::once(self.ports)
            .chain(self.more_ports.iter().copied())
            .flat_map(|(lo, hi)| lo..=hi)
    }
}

/// `tcp/http`, or `tcp/*` for a port without a name or with `-n`.
fn service(port: u16, t: Transport, numeric: bool) -> String {
    let proto = if t == Transport::Tcp { "tcp" } else { "udp" };
    let name = if numeric {
        None
    } else {
        services::name(port, t)
    };
    format!("{proto}/{}", name.unwrap_or("*"))
}

/// The standard input nc reads, unless `-d`.
struct Input {
    stdin: Option<Stdin>,
}

impl Input {
    /// The next piece of input; `None` at its end (or with `-d`, never).
    async fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        match &self.stdin {
            Some(s) => {
                let n = s.read(buf).await;
                if n == 0 {
                    self.stdin = None;
                    None
                } else {
                    Some(n)
                }
            }
            None => std::future::pending().await,
        }
    }

    fn open(&self) -> bool {
        self.stdin.is_some()
    }

    /// Whether input has ended or will never come.
    fn done(&self) -> bool {
        self.stdin.as_ref().is_none_or(Stdin::is_idle)
    }
}

/// Run nc; returns the exit status. `piped` says the input came from a
/// pipeline stage (and has an end).
pub async fn run(
    host: Host,
    a: NcArgs,
    stdin: Stdin,
    _piped: bool,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let mut input = Input {
        stdin: (!a.no_stdin).then_some(stdin),
    };
    if let Some(path) = &a.unix {
        return unix(&host, &a, path, &mut input, &mut out, &mut err).await;
    }
    if a.listen {
        return listen(&host, &a, &mut input, &mut out, &mut err).await;
    }
    let name = a.host.clone().unwrap_or_default();
    if a.ipv6 {
        // getaddrinfo with AF_INET6: an IPv4 literal is the wrong family,
        // a name has no IPv6 address here.
        let why = if crate::resolve::inet_aton(&name).is_some() {
            "Address family for hostname not supported"
        } else {
            "Name or service not known"
        };
        err.line(format!(
            "nc: getaddrinfo for host \"{name}\" port {}: {why}",
            a.ports.0
        ));
        return 1;
    }
    // getaddrinfo takes any form inet_aton does (`127.1`), also with -n.
    let addrs = match crate::resolve::inet_aton(&name).ok_or(()) {
        Ok(addr) => vec![addr],
        Err(_) if a.numeric => {
            err.line(format!(
                "nc: getaddrinfo for host \"{name}\" port {}: Name or service not known",
                a.ports.0
            ));
            return 1;
        }
        Err(_) => match crate::resolve::lookup_all(&host, &name).await {
            Ok((addrs, _)) => addrs,
            Err(e) => {
                err.line(format!(
                    "nc: getaddrinfo for host \"{name}\" port {}: {e}",
                    a.ports.0
                ));
                return 1;
            }
        },
    };
    if a.udp {
        // (A datagram socket's connect succeeds at once: the first.)
        return udp_client(&host, &a, addrs[0], &mut input, &mut out, &mut err).await;
    }
    let local = SocketAddrV4::new(
        a.source.unwrap_or(Ipv4Addr::UNSPECIFIED),
        a.source_port.unwrap_or(0),
    );
    let local = (!local.ip().is_unspecified() || local.port() != 0).then_some(local);
    let mut any_ok = false;
    for p in a.each_port() {
        // netcat's remote_connect: each of the name's addresses in turn
        // until one connects, a failure said (with -v) for each.
        for &addr in &addrs {
            let remote = SocketAddrV4::new(addr, p);
            let attempt = TcpStream::connect_from(&host, remote, local);
            let result = match a.wait {
                Some(w) => match timeout(&host, w, attempt).await {
                    Ok(r) => r,
                    Err(_) => {
                        // Said only with -v, as OpenBSD nc warns (the
                        // status alone tells otherwise).
                        if a.verbose {
                            err.line(format!(
                                "nc: connect to {} port {p} (tcp) timed out: Operation now in progress",
                                shown(&name, addr, a.numeric)
                            ));
                        }
                        continue;
                    }
                },
                None => attempt.await,
            };
            let stream = match result {
                Ok(s) => s,
                // The source address or port could not be taken:
                // netcat's bind(2) before connect fails, and it exits
                // (err(1, ...)).
                Err(e @ (SocketError::AddrNotAvailable | SocketError::AddrInUse))
                    if local.is_some() =>
                {
                    err.line(format!("nc: bind failed: {e}"));
                    return 1;
                }
                Err(e) => {
                    if a.verbose {
                        err.line(format!(
                            "nc: connect to {} port {p} (tcp) failed: {e}",
                            shown(&name, addr, a.numeric)
                        ));
                    }
                    continue;
                }
            };
            any_ok = true;
            if a.verbose {
                err.line(succeeded(&name, addr, p, Transport::Tcp, a.numeric));
            }
            if a.scan {
                // close(2): the connection ends with a FIN, as the
                // scanned service sees from netcat.
                drop(stream);
                break;
            }
            return exchange(&host, &a, &stream, &mut input, &mut out, &mut err).await;
        }
    }
    if any_ok {
        0
    } else {
        1
    }
}

/// Copy standard input to the stream and the stream to standard output,
/// both at once, until the peer closes. At the end of the input the
/// sending side is closed; with `-q` nc quits that long after it; with
/// `-w` it quits when nothing arrives for that long.
async fn exchange(
    host: &Host,
    a: &NcArgs,
    stream: &impl Duplex,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let mut inbuf = vec![0u8; 16384];
    let mut netbuf = vec![0u8; 16384];
    let mut quit_at = None;
    if !input.open() {
        // Nothing to send (`-d`): like an input at its end, without the
        // half-close a terminal user could not have asked for.
        quit_at = a.quit.map(|q| host.now() + q);
    }
    loop {
        let idle = a.wait.unwrap_or(Duration::MAX);
        let until_quit = quit_at.map_or(Duration::MAX, |t: tcplab_host::Instant| {
            t.saturating_since(host.now())
        });
        let wait = idle.min(until_quit);
        let read_input = async {
            if input.open() {
                input.next(&mut inbuf).await
            } else {
                std::future::pending().await
            }
        };
        let event = select(
            select(stream.read(&mut netbuf), read_input),
            host.sleep(wait.min(Duration::from_secs(365 * 86400))),
        )
        .await;
        match event {
            Either::Left(Either::Left(Ok(0))) => return 0,
            Either::Left(Either::Left(Ok(n))) => {
                out.write_bytes(&netbuf[..n]);
                // As nc's write(2) blocks on a full pipe: nothing more is
                // read from the connection until a reader takes this, so
                // a slow reader closes the window instead of filling
                // memory (at once in the simulator).
                out.written().await;
            }
            Either::Left(Either::Left(Err(e))) => {
                err.line(format!("nc: read failed: {e}"));
                return 1;
            }
            Either::Left(Either::Right(Some(n))) => {
                if let Err(e) = stream.write_all(&inbuf[..n]).await {
                    err.line(format!("nc: write failed: {e}"));
                    return 1;
                }
            }
            Either::Left(Either::Right(None)) => {
                let _ = stream.shutdown();
                quit_at = a.quit.map(|q| host.now() + q);
            }
            Either::Right(()) => return 0,
        }
    }
}

/// `nc -U`: a local stream socket (`-l` to listen), or with `-u` a local
/// datagram socket.
async fn unix(
    host: &Host,
    a: &NcArgs,
    path: &str,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    if a.udp {
        return unix_datagram(host, a, path, input, out, err).await;
    }
    if !a.listen {
        let stream = match LocalStream::connect(host, path) {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: {path}: {e}"));
                return 1;
            }
        };
        // -z: the connect is the whole of it (netcat-openbsd 1.219 says
        // nothing, -v or not, and exits 0).
        if a.scan {
            return 0;
        }
        return exchange(host, a, &stream, input, out, err).await;
    }
    // OpenBSD nc unlinks the path before it binds (a stale socket file,
    // or another listener's, is replaced).
    tcplab_host::unlink_local(host, path);
    let listener = match LocalListener::bind(host, path, 5) {
        Ok(l) => l,
        Err(e) => {
            // OpenBSD nc's err(1, NULL): the error alone, no path.
            err.line(format!("nc: {e}"));
            return 1;
        }
    };
    if a.verbose {
        err.line(format!("Bound on {path}"));
        err.line(format!("Listening on {path}"));
    }
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: accept failed: {e}"));
                return 1;
            }
        };
        if a.verbose {
            err.line(format!("Connection received on {path}"));
        }
        let code = exchange(host, a, &stream, input, out, err).await;
        if !a.keep {
            return code;
        }
    }
}

/// A datagram socket's client side: each piece of input is a datagram;
/// what comes back is printed. UDP has no end: nc waits for replies for the
/// `-w` time after its input ended (1 s if not given, so that a scenario's
/// `nc -u` finishes).
async fn datagram_client<S, R>(
    host: &Host,
    a: &NcArgs,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
    send: impl Fn(&[u8]) -> S,
    recv: impl Fn() -> R,
) -> i32
where
    S: std::future::Future<Output = Result<(), String>>,
    R: std::future::Future<Output = Result<Vec<u8>, SocketError>>,
{
    let wait = a.wait.unwrap_or(Duration::from_secs(1));
    // netcat.c's BUFSIZE: each read of the input, at most 16 KiB, is one
    // datagram (70,000 bytes go as four of 16,384 and one of 4,464).
    let mut buf = vec![0u8; 16384];
    // The -w wait for replies runs once the input is over (or when none
    // will ever come, as in a scenario).
    let mut ended_at = if input.done() { Some(host.now()) } else { None };
    // With -q, netcat quits that long after the end of its input,
    // whatever comes meanwhile (its alarm); without, after `wait` quiet.
    let linger = a.quit.unwrap_or(wait);
    loop {
        let quiet = ended_at.map_or(Duration::MAX, |t| (t + linger).saturating_since(host.now()));
        let read_input = async {
            if input.open() {
                input.next(&mut buf).await
            } else {
                std::future::pending().await
            }
        };
        let event = select(
            select(recv(), read_input),
            host.sleep(quiet.min(Duration::from_secs(365 * 86400))),
        )
        .await;
        match event {
            Either::Left(Either::Left(Ok(data))) => {
                out.write_bytes(&data);
                if let Some(t) = ended_at.as_mut().filter(|_| a.quit.is_none()) {
                    *t = host.now();
                }
            }
            Either::Left(Either::Left(Err(e))) => {
                // ICMP port unreachable on a connected socket: OpenBSD nc
                // just stops, saying nothing, unless asked to talk.
                if !a.verbose {
                    return 0;
                }
                err.line(format!("nc: read failed: {e}"));
                return 1;
            }
            Either::Left(Either::Right(Some(n))) => {
                if let Err(e) = send(&buf[..n]).await {
                    err.line(format!("nc: write failed: {e}"));
                    return 1;
                }
            }
            Either::Left(Either::Right(None)) => ended_at = Some(host.now()),
            Either::Right(()) => return 0,
        }
    }
}

async fn unix_datagram(
    host: &Host,
    a: &NcArgs,
    path: &str,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    if a.listen {
        tcplab_host::unlink_local(host, path);
        let sock = match LocalDatagram::bind(host, Some(path)) {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: {e}"));
                return 1;
            }
        };
        if a.verbose {
            err.line(format!("Bound on {path}"));
        }
        return datagram_server(
            input,
            out,
            err,
            || sock.recv_from(),
            |data: Vec<u8>, to: &Option<String>| {
                let to = to.clone();
                let sock = &sock;
                async move {
                    if let Some(to) = to {
                        let _ = sock.send_to(&data, Some(&to)).await;
                    }
                }
            },
            // netcat connects to its first sender, then (-v) reports the
            // socket by the path it listens on (report_sock with `host`).
            |from: &String| {
                // (-k: not connected, datagrams from anyone.)
                if !a.keep {
                    let _ = sock.connect(from);
                }
                a.verbose.then(|| format!("Connection received on {path}"))
            },
        )
        .await;
    }
    // OpenBSD nc binds the client to a temporary path so replies can come.
    let me = format!("/tmp/nc.{:08x}", host.with_stack(|s| s.random_u64()) as u32);
    let sock = match LocalDatagram::bind(host, Some(&me)) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("nc: {me}: {e}"));
            return 1;
        }
    };
    if let Err(e) = sock.connect(path) {
        err.line(format!("nc: {path}: {e}"));
        tcplab_host::unlink_local(host, &me);
        return 1;
    }
    let status = datagram_client(
        host,
        a,
        input,
        out,
        err,
        |data| {
            let data = data.to_vec();
            let sock = &sock;
            async move { sock.send_to(&data, None).await.map_err(|e| e.to_string()) }
        },
        || async { sock.recv_from().await.map(|(_, d)| d) },
    )
    .await;
    // nc removes its temporary path as it exits.
    tcplab_host::unlink_local(host, &me);
    status
}

/// A datagram socket's server side: print what arrives; input goes to the
/// peer of the last datagram (OpenBSD nc connects to its first peer).
async fn datagram_server<P, R, S>(
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
    recv: impl Fn() -> R,
    send: impl Fn(Vec<u8>, &Option<P>) -> S,
    first: impl Fn(&P) -> Option<String>,
) -> i32
where
    R: std::future::Future<Output = Result<(Option<P>, Vec<u8>), SocketError>>,
    S: std::future::Future<Output = ()>,
{
    let mut peer: Option<P> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        let read_input = async {
            if input.open() {
                input.next(&mut buf).await
            } else {
                std::future::pending().await
            }
        };
        let event = select(recv(), read_input).await;
        match event {
            Either::Left(Ok((from, data))) => {
                // What the first sender makes nc say (-v), before its data.
                if let (None, Some(f)) = (&peer, &from) {
                    if let Some(line) = first(f) {
                        err.line(line);
                    }
                }
                out.write_bytes(&data);
                if from.is_some() {
                    peer = from;
                }
            }
            Either::Left(Err(e)) => {
                err.line(format!("nc: recv failed: {e}"));
                return 1;
            }
            Either::Right(Some(n)) => send(buf[..n].to_vec(), &peer).await,
            Either::Right(None) => {}
        }
    }
}

async fn listen(
    host: &Host,
    a: &NcArgs,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let addr = match &a.host {
        // `nc -l ADDR PORT`: getaddrinfo with AI_PASSIVE.
        Some(name) => match crate::resolve::inet_aton(name).ok_or(()) {
            Ok(addr) => addr,
            Err(_) if a.numeric => {
                err.line("nc: getaddrinfo: Name or service not known");
                return 1;
            }
            Err(_) => match crate::resolve::lookup(host, name).await {
                Ok(addr) => addr,
                Err(e) => {
                    err.line(format!("nc: getaddrinfo: {e}"));
                    return 1;
                }
            },
        },
        None => a.source.unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    let local = SocketAddrV4::new(addr, a.ports.0);
    // OpenBSD nc sets SO_REUSEPORT on a listening socket (TCP or UDP), so
    // a second `nc -l` on the same port binds too and shares the traffic
    // (checked with Debian's netcat-openbsd 1.219).
    if a.udp {
        let sock = match UdpSocket::bind_with(host, local, true) {
            Ok(s) => s,
            // A listener's bind fails as OpenBSD nc's err(1, NULL) says
            // it: the error alone.
            Err(e) => {
                err.line(format!("nc: {}", e.strerror()));
                return 1;
            }
        };
        if a.verbose {
            // The port bound (any free one for port 0).
            err.line(format!("Bound on {addr} {}", sock.local_addr().port()));
        }
        // OpenBSD nc connects the socket to the first sender: later
        // datagrams from anyone else are the kernel's to refuse, and ss
        // shows the pair ESTAB.
        let connected = std::cell::Cell::new(false);
        // The first sender's name, looked up (report_sock's getnameinfo)
        // unless -n.
        let name = std::cell::RefCell::new(None::<String>);
        return datagram_server(
            input,
            out,
            err,
            || async {
                let d = sock.recv_from().await?;
                // (-k: not connected, datagrams from anyone.)
                if !a.keep && !connected.replace(true) {
                    let _ = sock.connect(d.from);
                    if a.verbose && !a.numeric {
                        let found = crate::resolve::reverse(host, *d.from.ip()).await;
                        *name.borrow_mut() = found;
                    }
                }
                Ok((Some(d.from), d.data))
            },
            |data: Vec<u8>, to: &Option<SocketAddrV4>| {
                if let Some(to) = to {
                    let _ = sock.send_to(&data, *to);
                }
                async {}
            },
            // netcat-openbsd connects to the first sender and, with -v,
            // reports it as a TCP listener reports a connection, by name
            // unless -n; with -k it connects to none and says nothing.
            |from: &SocketAddrV4| {
                (a.verbose && !a.keep).then(|| {
                    let shown = name.borrow().clone();
                    format!(
                        "Connection received on {} {}",
                        shown.unwrap_or_else(|| from.ip().to_string()),
                        from.port()
                    )
                })
            },
        )
        .await;
    }
    let opts = SocketOptions {
        reuse_port: true,
        ..SocketOptions::UNSET
    };
    let listener = match TcpListener::bind_with(host, local, 1, opts) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("nc: {}", e.strerror()));
            return 1;
        }
    };
    if a.verbose {
        // The port bound (any free one for port 0).
        let port = listener.local_addr().map_or(a.ports.0, |l| l.port());
        err.line(format!("Listening on {addr} {port}"));
    }
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: accept failed: {e}"));
                return 1;
            }
        };
        if a.verbose {
            if let Some(peer) = stream.peer_addr() {
                // report_sock: getnameinfo, numeric only with -n (or when
                // the address has no name).
                let name = match a.numeric {
                    true => None,
                    false => crate::resolve::reverse(host, *peer.ip()).await,
                };
                err.line(format!(
                    "Connection received on {} {}",
                    name.unwrap_or_else(|| peer.ip().to_string()),
                    peer.port()
                ));
            }
        }
        let code = exchange(host, a, &stream, input, out, err).await;
        if !a.keep {
            return code;
        }
    }
}

/// netcat's `-v` line for a port that answered.
fn succeeded(name: &str, addr: Ipv4Addr, p: u16, t: Transport, numeric: bool) -> String {
    format!(
        "Connection to {} {p} port [{}] succeeded!",
        shown(name, addr, numeric),
        service(p, t, numeric)
    )
}

/// The peer as netcat-openbsd names it in its messages: the name given,
/// with the address it resolved to when that says more (not under -n,
/// not when the name was the address).
fn shown(name: &str, addr: Ipv4Addr, numeric: bool) -> String {
    if numeric || name == addr.to_string() {
        name.to_string()
    } else {
        format!("{name} ({addr})")
    }
}

#[cfg(test)]
mod tests;
