//! `ping`, as iputils 20221126 prints it.
//!
//! Options: `-c COUNT -i INTERVAL -s SIZE -t TTL -W TIMEOUT -w DEADLINE -q -n
//! -M do|want|dont -D -O -I ADDR|IFACE -p PATTERN -4 -h`. The header and
//! the statistics name the canonical name (`getaddrinfo`'s
//! `AI_CANONNAME`: the end of a CNAME chain). Like iputils run as root, it
//! also reads a raw ICMP socket, which is how redirects about its requests
//! reach it (`From GW: icmp_seq=N Redirect Host(New nexthop: ...)`).
//! Exit status 0 if any reply came back, 1 if none, 2 on other errors
//! (iputils' man page); usage errors exit as iputils' do (1 without a
//! destination or for a bad value, 2 for an unknown option, 2 after `-h`).
//! Left out, refused as unknown options: flood, preload, record route,
//! timestamps options, marks, QoS, IPv6.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_host::{Host, Output, PingSocket, RawSocket, Signal};
use tcplab_stack::{Instant, PingMessage, PmtuDisc, SendError};
use tcplab_wire::{icmpv4, Protocol};

use crate::args::{getopt, Opt};
use crate::format::{g, ms3};
use crate::resolve;
use crate::select::{select, Either};
use crate::Usage;

/// `ping`'s arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct PingArgs {
    pub count: Option<u64>,
    pub interval: Duration,
    pub size: usize,
    pub ttl: Option<u8>,
    /// `-W`: how long to wait for replies after the last request.
    pub linger: Duration,
    pub deadline: Option<Duration>,
    pub quiet: bool,
    pub numeric: bool,
    pub pmtudisc: Option<PmtuDisc>,
    /// `-D`: each line starts with the wall-clock time.
    pub timestamps: bool,
    /// `-O`: say when a request had no answer by the time of the next.
    pub outstanding: bool,
    /// `-I`: the source address, or an interface to send from.
    pub source: Option<String>,
    /// `-p`: the bytes that fill the payload (up to 16).
    pub pattern: Option<Vec<u8>>,
    /// `-b`: a broadcast address may be pinged.
    pub broadcast: bool,
    /// `-v`: the sockets and the address lookup said first, and each
    /// reply's identifier.
    pub verbose: bool,
    /// `-4`: IPv4 only (no IPv6 socket is made).
    pub ipv4: bool,
    pub target: String,
    /// What iputils warns of while reading its options and goes on
    /// (printed as the run starts).
    pub warnings: Vec<String>,
}

/// iputils' `-h` text, with the options this ping has.
const HELP: &str = "
Usage
  ping [options] <destination>

Options:
  <destination>      dns name or ip address
  -b                 allow pinging broadcast
  -c <count>         stop after <count> replies
  -D                 print timestamps
  -h                 print help and exit
  -I <interface>     either interface name or address
  -i <interval>      seconds between sending each packet
  -M <pmtud opt>     define mtu discovery, can be one of <do|dont|want>
  -n                 no dns name resolution
  -O                 report outstanding replies
  -p <pattern>       contents of padding byte
  -q                 quiet output
  -s <size>          use <size> as number of data bytes to be sent
  -t <ttl>           define time to live
  -v                 verbose output
  -w <deadline>      reply wait <deadline> in seconds
  -W <timeout>       time to wait for response

IPv4 options:
  -4                 use IPv4

For more details see ping(8).";

/// A bad option value: iputils exits 1 for these.
fn bad_value(message: String) -> Usage {
    Usage {
        status: 1,
        ..Usage::new("ping", message)
    }
}

/// What strtod reads from the start of `v` (0 when nothing), and whether
/// something follows it.
fn strtod_prefix(v: &str) -> (f64, bool) {
    let t = v.trim_start();
    // The longest start that is a number (a few dozen characters at most
    // are tried: longer ones are no number strtod would give).
    for end in (1..=t.len().min(64)).rev() {
        if !t.is_char_boundary(end) {
            continue;
        }
        let head = &t[..end];
        // Rust reads "infinity" and "nan" as strtod does, but not hex
        // floats or a trailing dot's absence of digits alike: close enough.
        if let Ok(x) = head.parse::<f64>() {
            return (x, end < t.len());
        }
    }
    (0.0, !t.is_empty())
}

fn seconds(value: &str) -> Result<Duration, Usage> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e7)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| bad_value(format!("invalid argument: '{value}'")))
}

/// iputils' strtoll_or_err: an integer in `min..=max`, or its words for
/// one that is not (`invalid argument: 'x'`), does not fit a long long
/// (`: Numerical result out of range`) or is out of the option's range.
fn number<T: std::str::FromStr>(value: &str, min: u64, max: u64) -> Result<T, Usage> {
    let invalid = |more: &str| bad_value(format!("invalid argument: '{value}'{more}"));
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(""));
    }
    let n: i64 = value
        .parse()
        .map_err(|_| invalid(": Numerical result out of range"))?;
    if i128::from(n) < i128::from(min) || i128::from(n) > i128::from(max) {
        return Err(invalid(&format!(": out of range: {min} <= value <= {max}")));
    }
    n.to_string().parse().map_err(|_| invalid(""))
}

/// `-p`: up to 16 bytes written as hex digits.
fn pattern(value: &str) -> Result<Vec<u8>, Usage> {
    let bad = || bad_value(format!("patterns must be specified as hex digits: {value}"));
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let digits: Vec<u8> = value
        .bytes()
        .map(|c| (c as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    Ok(digits
        .chunks(2)
        .take(16)
        .map(|p| if p.len() == 2 { p[0] << 4 | p[1] } else { p[0] })
        .collect())
}

impl PingArgs {
    pub fn parse(args: &[String]) -> Result<PingArgs, Usage> {
        // iputils 20221126's letters, for options tcplab's ping lacks.
        const REAL: &str = "46aAbBCc:dDe:F:fhI:i:L:l:M:m:N:nOp:Q:qRrS:s:T:t:UVvW:w:";
        let (opts, operands) = getopt(args, "4bc:DhI:i:M:nOp:qs:t:vW:w:", &[])
            .map_err(|e| Usage::with_usage("ping", crate::args::unsupported(e, REAL), HELP))?;
        let mut a = PingArgs {
            count: None,
            interval: Duration::from_secs(1),
            size: 56,
            ttl: None,
            linger: Duration::from_secs(10),
            deadline: None,
            quiet: false,
            numeric: false,
            pmtudisc: None,
            timestamps: false,
            outstanding: false,
            source: None,
            pattern: None,
            broadcast: false,
            verbose: false,
            ipv4: false,
            target: String::new(),
            warnings: Vec::new(),
        };
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            let v = v.unwrap_or_default();
            match c {
                'h' => return Err(Usage::help("ping", HELP.into(), false, 2)),
                'c' => a.count = Some(number(&v, 1, i64::MAX as u64)?),
                'i' => {
                    // iputils' ping_strtod, then its bound: a value strtod
                    // cannot give (nan, inf, past a double) and one past
                    // INT_MAX/1000 s are "bad timing interval", status 2.
                    let bad = |more: &str| Usage {
                        status: 2,
                        ..Usage::new("ping", format!("bad timing interval: {v}{more}"))
                    };
                    // Garbage after the number is warned of and the
                    // number taken (`1abc` is 1 s), as ping_strtod does.
                    let (secs, garbage) = strtod_prefix(&v);
                    if garbage {
                        a.warnings
                            .push(format!("ping: option argument contains garbage: {v}"));
                        a.warnings
                            .push("ping: this will become fatal error in the future".into());
                    }
                    if !secs.is_finite() || (secs != 0.0 && secs.abs() < f64::MIN_POSITIVE) {
                        return Err(bad(": Numerical result out of range"));
                    }
                    if secs > f64::from(i32::MAX) / 1000.0 {
                        return Err(bad(""));
                    }
                    a.interval = Duration::try_from_secs_f64(secs.max(0.0)).map_err(|_| bad(""))?;
                    // iputils as root takes any interval, 0 included
                    // (back to back, slowed only by a full device queue);
                    // a simulated host has no such queue to slow it.
                    if a.interval < Duration::from_millis(1) {
                        return Err(bad_value(format!(
                            "-i {v}: intervals under 1 ms are not supported in tcplab"
                        )));
                    }
                }
                // iputils takes any int; what does not fit in a datagram
                // fails as it is sent (below).
                's' => a.size = number(&v, 0, i32::MAX as u64)?,
                't' => a.ttl = Some(number(&v, 0, 255)?),
                'W' => {
                    // iputils 20221126: a negative reply wait (or one
                    // beyond INT_MAX/1000 s) is "bad linger time"; 0 is
                    // taken, and disarms the exit timer (see the loop).
                    let t = seconds(&v)
                        .ok()
                        .filter(|t| t.as_secs() <= 2_147_483)
                        .ok_or_else(|| Usage {
                            // error(2, ...) in iputils
                            status: 2,
                            ..Usage::new("ping", format!("bad linger time: {v}"))
                        })?;
                    // Kept in whole milliseconds, as iputils' int.
                    a.linger = Duration::from_millis(t.as_millis() as u64);
                }
                // A whole number of seconds; 0 is no deadline (iputils
                // tests `if (rts->deadline)`).
                'w' => {
                    let secs: u64 = number(&v, 0, i32::MAX as u64)?;
                    a.deadline = (secs > 0).then(|| Duration::from_secs(secs));
                }
                'q' => a.quiet = true,
                'v' => a.verbose = true,
                '4' => a.ipv4 = true,
                'n' => a.numeric = true,
                'D' => a.timestamps = true,
                'O' => a.outstanding = true,
                'b' => a.broadcast = true,
                'I' => a.source = Some(v),
                'p' => a.pattern = Some(pattern(&v)?),
                'M' => {
                    a.pmtudisc = Some(match v.as_str() {
                        "do" => PmtuDisc::Do,
                        "want" => PmtuDisc::Want,
                        "dont" => PmtuDisc::Dont,
                        _ => return Err(Usage::new("ping", format!("invalid -M argument: {v}"))),
                    })
                }
                _ => {}
            }
        }
        match operands.as_slice() {
            [t] => a.target = t.clone(),
            // iputils says this alone, and exits 1.
            [] => {
                return Err(bad_value(
                    "usage error: Destination address required".into(),
                ))
            }
            _ => {
                return Err(Usage::with_usage(
                    "ping",
                    "usage error: only one destination allowed (no source routing here)".into(),
                    HELP,
                ))
            }
        }
        Ok(a)
    }
}

/// iputils' reply-line RTT: 3, 2, 1 or 0 decimals by magnitude.
pub fn rtt(micros: u64) -> String {
    if micros >= 100_000 - 50 {
        format!("{}", (micros + 500) / 1000)
    } else if micros >= 10_000 - 5 {
        format!("{}.{}", (micros + 50) / 1000, ((micros + 50) % 1000) / 100)
    } else if micros >= 1000 {
        format!("{}.{:02}", (micros + 5) / 1000, ((micros + 5) % 1000) / 10)
    } else {
        format!("{}.{:03}", micros / 1000, micros % 1000)
    }
}

/// The statistics iputils keeps.
#[derive(Debug, Default)]
struct Stats {
    transmitted: u64,
    received: u64,
    repeats: u64,
    errors: u64,
    tsum: u64,
    tsum2: f64,
    tmin: u64,
    tmax: u64,
    /// iputils' `rtt`: a moving average of the round trips, eight times
    /// the microseconds (`rtt += trip - rtt / 8`), for SIGQUIT's status.
    ewma: u64,
    pipesize: u64,
}

/// iputils' `status()`, what SIGQUIT (Ctrl-\\) prints on standard error
/// while ping goes on: `\r3/4 packets, 25% loss, min/avg/ewma/max =
/// 0.041/0.052/0.049/0.067 ms`.
fn status_line(st: &Stats, timing: bool) -> String {
    let loss = (st.transmitted.saturating_sub(st.received) * 100)
        .checked_div(st.transmitted)
        .unwrap_or(0);
    let mut line = format!("\r{}/{} packets, {loss}% loss", st.received, st.transmitted);
    if st.received > 0 && timing {
        let avg = st.tsum / (st.received + st.repeats);
        line.push_str(&format!(
            ", min/avg/ewma/max = {}/{}/{}.{:03}/{} ms",
            ms3(st.tmin),
            ms3(avg),
            st.ewma / 8000,
            (st.ewma / 8) % 1000,
            ms3(st.tmax)
        ));
    }
    line
}

/// What ping waits for.
enum Heard {
    Ping(PingMessage),
    /// An ICMP datagram on the raw socket.
    Raw(tcplab_stack::raw::RawDatagram),
}

/// An echo reply to `ident` whose ICMP checksum is wrong: iputils run as
/// root reads replies from its raw socket and does not check that
/// checksum for IPv4 (it passes `csfailed` as 0), so a reply corrupted on
/// the way counts as one. The stack's ping socket drops it (as Linux's
/// ICMP layer does), so only the raw socket brings it: (seq, data).
fn corrupted_reply(payload: &[u8], ident: u16) -> Option<(u16, Vec<u8>)> {
    let packet = icmpv4::Packet::new_checked(payload).ok()?;
    if packet.verify_checksum() || payload[0] != 0 {
        return None;
    }
    let id = u16::from_be_bytes([payload[4], payload[5]]);
    let seq = u16::from_be_bytes([payload[6], payload[7]]);
    (id == ident).then(|| (seq, payload[8..].to_vec()))
}

/// iputils' check of a reply's data past its timestamp against what was
/// sent: the first byte that differs, then the data 32 bytes a line.
fn data_check(data: &[u8], pattern: Option<&[u8]>) -> Vec<String> {
    const TV: usize = 16;
    let sent = |i: usize| fill(i, pattern);
    let Some(i) = (TV..data.len()).find(|&i| data[i] != sent(i)) else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "wrong data byte #{i} should be 0x{:x} but was 0x{:x}",
        sent(i),
        data[i]
    )];
    for (k, chunk) in data[TV..].chunks(32).enumerate() {
        let mut line = format!("#{}\t", TV + 32 * k);
        for b in chunk {
            line.push_str(&format!("{b:x} "));
        }
        lines.push(line);
    }
    lines
}

/// A redirect about one of our echo requests to `dst`: (gateway, code,
/// sequence number).
fn redirect_about(payload: &[u8], dst: Ipv4Addr, ident: u16) -> Option<(Ipv4Addr, u8, u16)> {
    let packet = icmpv4::Packet::new_checked(payload).ok()?;
    let icmpv4::Repr::Redirect {
        reason,
        gateway,
        quote,
    } = icmpv4::Repr::parse(&packet).ok()?
    else {
        return None;
    };
    let q = icmpv4::Quote::parse(quote).ok()?;
    let echo = q.payload;
    let ours = q.header.dst_addr == dst
        && q.header.protocol == Protocol::Icmp
        && echo.len() >= 8
        && echo[0] == 8
        && u16::from_be_bytes([echo[4], echo[5]]) == ident;
    ours.then(|| {
        (
            gateway,
            u8::from(reason),
            u16::from_be_bytes([echo[6], echo[7]]),
        )
    })
}

/// iputils' words for a redirect's code.
fn redirect_text(code: u8) -> &'static str {
    match code {
        0 => "Redirect Network",
        1 => "Redirect Host",
        2 => "Redirect Type of Service and Network",
        3 => "Redirect Type of Service and Host",
        _ => "Redirect, Bad Code",
    }
}

/// `-D`'s prefix: the wall-clock time of `at`, `[seconds.micros] `.
fn stamp(host: &Host, at: Instant) -> String {
    let wall = host
        .wall_clock()
        .saturating_sub(host.now().saturating_since(at));
    format!("[{}.{:06}] ", wall.as_secs(), wall.subsec_micros())
}

/// Bind the socket as `-I` says; the header's "from ..." part, or the
/// error iputils prints.
fn bind_source(host: &Host, sock: &PingSocket, source: &str) -> Result<String, String> {
    let (addr, device) = match source.parse::<Ipv4Addr>() {
        Ok(a) => (a, String::new()),
        Err(_) => {
            let found = host.with_stack(|s| {
                s.interfaces()
                    .iter()
                    .find(|i| i.name == source)
                    .and_then(|i| i.addrs.first().map(|c| c.address()))
            });
            match found {
                Some(a) => (a, source.to_string()),
                None => return Err(format!("SO_BINDTODEVICE {source}: No such device")),
            }
        }
    };
    sock.bind(addr)
        .map_err(|_| "bind: Cannot assign requested address".to_string())?;
    Ok(format!("from {addr} {device}: "))
}

/// Run ping; returns the exit status.
pub async fn run(host: Host, a: PingArgs, mut out: Output, mut err: Output) -> i32 {
    for w in &a.warnings {
        err.line(w);
    }
    // iputils -v, as its sockets are made (root: raw ones; the format's
    // own newline leaves an empty line), then getaddrinfo's answer.
    if a.verbose {
        let six = if a.ipv4 {
            "-1 (socktype: 0)"
        } else {
            "4 (socktype: SOCK_RAW)"
        };
        let family = if a.ipv4 { "AF_INET" } else { "AF_UNSPEC" };
        err.line(format!(
            "ping: sock4.fd: 3 (socktype: SOCK_RAW), sock6.fd: {six}, hints.ai_family: {family}"
        ));
        err.line("");
    }
    let (mut dst, canonical) = match resolve::lookup_canonical(&host, &a.target).await {
        Ok(d) => d,
        Err(e) => {
            err.line(format!("ping: {}: {e}", a.target));
            return 2;
        }
    };
    if a.verbose {
        out.line(format!(
            "ai->ai_family: AF_INET, ai->ai_canonname: '{canonical}'"
        ));
    }
    // Linux takes 0.0.0.0 as a destination for this host itself; iputils
    // then pings the source its probe socket was given, 127.0.0.1.
    if dst.is_unspecified() {
        dst = Ipv4Addr::LOCALHOST;
    }
    // iputils: a target inet_aton takes is printed as numbers.
    let numeric = a.numeric || crate::resolve::inet_aton(&a.target).is_some();
    let sock = match PingSocket::open(&host) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("ping: socket: {e}"));
            return 2;
        }
    };
    if a.ttl == Some(0) {
        err.line("ping: cannot set unicast time-to-live: Invalid argument");
        return 2;
    }
    sock.set_ttl(a.ttl);
    if let Some(p) = a.pmtudisc {
        sock.set_pmtudisc(p);
    }
    let from = match a.source.as_deref().map(|s| bind_source(&host, &sock, s)) {
        None => String::new(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            err.line(format!("ping: {e}"));
            return 2;
        }
    };
    // iputils' probe socket cannot connect to a broadcast address without
    // SO_BROADCAST: it asks for -b, and with it warns (ping4_run).
    if host.with_stack(|s| s.is_broadcast_addr(dst)) {
        if !a.broadcast {
            err.line(
                "ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules",
            );
            return 2;
        }
        err.line("WARNING: pinging broadcast address");
        sock.set_broadcast(true);
    }
    // iputils run as root reads a raw ICMP socket: redirects come that way.
    let raw = RawSocket::open(&host, Protocol::Icmp);
    let ident = sock.ident();
    // iputils connects a probe socket first to learn the route.
    if let Err(SendError::NoRoute(_)) = host.with_stack(|s| {
        if s.is_local_addr(dst) || s.route_to(dst).is_some() {
            Ok(())
        } else {
            Err(SendError::NoRoute(dst))
        }
    }) {
        err.line("ping: connect: Network is unreachable");
        return 2;
    }
    // Reverse names, looked up once per address (iputils caches the last).
    let mut names: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    if let Some(p) = &a.pattern {
        let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
        out.line(format!("PATTERN: 0x{hex}"));
    }
    out.line(format!(
        "PING {canonical} ({dst}) {from}{}({}) bytes of data.",
        a.size,
        a.size + 28
    ));
    let timing = a.size >= 16;
    let start = host.now();
    // The statistics' "time": from the start to the last request sent
    // (iputils keeps `cur_time` in its pinger, so `-c 1` says `time 0ms`).
    let mut last_sent = start;
    let mut st = Stats {
        tmin: u64::MAX,
        ..Stats::default()
    };
    let mut sent_at: BTreeMap<u16, Instant> = BTreeMap::new();
    let mut received: BTreeMap<u16, bool> = BTreeMap::new();
    let mut next_send = start;
    let mut exit_at: Option<Instant> = None;
    let deadline_at = a.deadline.map(|d| start + d);
    // Ctrl-C ends the run with the statistics, as iputils' ping does;
    // Ctrl-\ (SIGQUIT) prints a status line and ping goes on. (SIGTERM
    // is not among them: iputils sets handlers for SIGINT, SIGQUIT and
    // SIGALRM only, so it stops ping without statistics, status 143.)
    let signals = host.current_pid().map(|p| {
        host.leave_sigterm(p);
        host.catch_sigquit(p);
        host.catch_signals(p)
    });
    let interrupted = || async {
        match &signals {
            Some(s) => s.next().await,
            None => std::future::pending().await,
        }
    };
    loop {
        let now = host.now();
        if a.count.is_some_and(|c| st.received + st.errors >= c) {
            break;
        }
        // iputils' main_loop: with a deadline (-w), the first error ends
        // the run (`if (rts->deadline && rts->nerrors) break;`).
        if a.deadline.is_some() && st.errors > 0 {
            break;
        }
        if deadline_at.is_some_and(|d| now >= d) || exit_at.is_some_and(|e| now >= e) {
            break;
        }
        // With a deadline (-w) the count does not stop the sending, only
        // the replies do (iputils' pinger: `npackets && ntransmitted >=
        // npackets && !deadline`): `ping -c 1 -w 10` probes until a reply.
        let more = a.deadline.is_some() || a.count.is_none_or(|c| st.transmitted < c);
        if more && now >= next_send {
            // -O: the previous request is still unanswered.
            let last = st.transmitted as u16;
            if a.outstanding && st.transmitted > 0 && !received.contains_key(&last) {
                let ts = if a.timestamps {
                    stamp(&host, now)
                } else {
                    String::new()
                };
                out.line(format!("{ts}no answer yet for icmp_seq={last}"));
            }
            let seq = (st.transmitted + 1) as u16;
            // The sequence numbers wrap after 65,535: a new request clears
            // the mark of the one sent 65,536 earlier (iputils' rcvd_clear),
            // so its reply is not taken for a duplicate.
            received.remove(&seq);
            st.transmitted += 1;
            last_sent = now;
            let sent = if a.size + 8 > usize::from(u16::MAX) {
                // An ICMP message longer than an IP datagram can carry: the
                // kernel refuses it at once (EMSGSIZE) and iputils says
                // nothing of it.
                Ok(false)
            } else {
                let payload = payload(a.size, now, a.pattern.as_deref());
                sock.send(dst, seq, &payload).map(|()| true)
            };
            match sent {
                Ok(true) => {
                    sent_at.insert(seq, now);
                }
                Ok(false) => {}
                Err(SendError::MessageTooLong { mtu }) => {
                    st.errors += 1;
                    if !a.quiet {
                        err.line(format!("ping: local error: message too long, mtu={mtu}"));
                    }
                }
                // No route (ENETUNREACH): iputils 20221126 looks in the
                // socket's error queue, finds nothing queued, and counts the
                // probe as sent and lost — no message, no error (pinger's
                // "local errors" with receive_error_msg below zero).
                Err(SendError::NoRoute(_)) => {}
                Err(e) => {
                    st.errors += 1;
                    err.line(format!("ping: sendmsg: {e}"));
                }
            }
            next_send = now + a.interval;
            if a.count.is_some_and(|c| st.transmitted >= c) && a.deadline.is_none() {
                // iputils' schedule_exit: wait 2 × the longest RTT (at least
                // one interval) if anything came back, else the -W linger;
                // with a deadline (-w) no exit timer at all, and a wait of
                // 0 (-W 0) disarms it (setitimer) — ping then waits for a
                // reply, the deadline or an interrupt.
                let wait = if st.received > 0 {
                    Duration::from_micros(2 * st.tmax).max(a.interval)
                } else {
                    a.linger
                };
                exit_at = (!wait.is_zero()).then(|| now + wait);
            }
            continue;
        }
        let wake = [more.then_some(next_send), exit_at, deadline_at]
            .into_iter()
            .flatten()
            .min();
        let heard = async {
            match select(sock.recv(), raw.recv()).await {
                Either::Left(m) => Heard::Ping(m),
                Either::Right(d) => Heard::Raw(d),
            }
        };
        let wait = async {
            match wake {
                Some(w) => match select(heard, host.sleep_until(w)).await {
                    Either::Left(m) => Some(m),
                    Either::Right(()) => None,
                },
                None => Some(heard.await),
            }
        };
        let msg = match select(wait, interrupted()).await {
            Either::Left(Some(m)) => m,
            Either::Left(None) => continue,
            Either::Right(Signal::Quit) => {
                err.line(status_line(&st, timing));
                continue;
            }
            Either::Right(_) => break,
        };
        let now = host.now();
        let ts = |at: Instant| {
            if a.timestamps {
                stamp(&host, at)
            } else {
                String::new()
            }
        };
        // A corrupted reply, as iputils reading its raw socket takes it.
        let msg = match msg {
            Heard::Raw(d) => match corrupted_reply(&d.payload, ident) {
                Some((seq, data)) => Heard::Ping(PingMessage::Reply {
                    from: d.src,
                    seq,
                    ttl: d.ttl,
                    data,
                    received: d.received,
                }),
                None => Heard::Raw(d),
            },
            other => other,
        };
        match msg {
            Heard::Raw(d) => {
                let from = d.src;
                // Not an error: the request was forwarded all the same.
                let Some((gateway, code, seq)) = redirect_about(&d.payload, dst, ident) else {
                    continue;
                };
                if !sent_at.contains_key(&seq) || a.quiet {
                    continue;
                }
                let line = format!(
                    "{}From {}: icmp_seq={seq} {}(New nexthop: {})",
                    ts(now),
                    addr_name(&host, numeric, &mut names, from).await,
                    redirect_text(code),
                    addr_name(&host, numeric, &mut names, gateway).await
                );
                out.line(line);
            }
            Heard::Ping(PingMessage::Reply {
                from,
                seq,
                ttl,
                data,
                received: arrived,
            }) => {
                let Some(&sent) = sent_at.get(&seq) else {
                    continue;
                };
                // The arrival time the stack stamped, as iputils uses
                // SO_TIMESTAMP, less the send time the reply carries back
                // (iputils reads it from the data, so a reply corrupted
                // there shows what the bytes say; a negative trip is
                // warned of and taken as 0).
                let trip = match data.get(..16) {
                    Some(tv) if timing => {
                        let word = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                        let stamp = word(&tv[..8])
                            .wrapping_mul(1_000_000)
                            .wrapping_add(word(&tv[8..]));
                        let t = (arrived.total_micros() as i64).wrapping_sub(stamp);
                        if t < 0 {
                            err.line(format!(
                                "ping: Warning: time of day goes back ({t}us), taking countermeasures"
                            ));
                        }
                        t.max(0) as u64
                    }
                    _ => arrived.saturating_since(sent).as_micros() as u64,
                };
                st.received += 1;
                let diff = (st.transmitted as u16).wrapping_sub(seq);
                if diff <= 0x7fff {
                    st.pipesize = st.pipesize.max(u64::from(diff) + 1);
                }
                if timing {
                    // (A corrupted stamp can make a trip of centuries:
                    // the sum saturates rather than overflows.)
                    st.tsum = st.tsum.saturating_add(trip);
                    st.tsum2 += (trip as f64) * (trip as f64);
                    st.tmin = st.tmin.min(trip);
                    st.tmax = st.tmax.max(trip);
                    st.ewma = if st.ewma == 0 {
                        trip.saturating_mul(8)
                    } else {
                        (st.ewma + trip).saturating_sub(st.ewma / 8)
                    };
                }
                let dup = received.insert(seq, true).is_some();
                if dup {
                    st.repeats += 1;
                    st.received -= 1;
                }
                if !a.quiet {
                    // (-v adds the identifier, as iputils' pr_echo_reply.)
                    let id = if a.verbose {
                        format!(" ident={ident}")
                    } else {
                        String::new()
                    };
                    let mut line = format!(
                        "{}{} bytes from {}: icmp_seq={}{id} ttl={}",
                        ts(arrived),
                        data.len() + 8,
                        addr_name(&host, numeric, &mut names, from).await,
                        seq,
                        ttl
                    );
                    if timing {
                        line.push_str(&format!(" time={} ms", rtt(trip)));
                    }
                    if dup {
                        line.push_str(" (DUP!)");
                    }
                    out.line(line);
                    for l in data_check(&data, a.pattern.as_deref()) {
                        out.line(l);
                    }
                }
            }
            Heard::Ping(PingMessage::Error { seq, report }) => {
                if !sent_at.contains_key(&seq) {
                    continue;
                }
                st.errors += 1;
                let diff = (st.transmitted as u16).wrapping_sub(seq);
                if diff <= 0x7fff {
                    st.pipesize = st.pipesize.max(u64::from(diff) + 1);
                }
                if !a.quiet {
                    let line = format!(
                        "{}From {} icmp_seq={} {}",
                        ts(report.received),
                        addr_name(&host, numeric, &mut names, report.from).await,
                        seq,
                        report.describe()
                    );
                    out.line(line);
                }
            }
        }
    }
    summary(
        &mut out,
        &canonical,
        &st,
        last_sent.saturating_since(start),
        timing,
    );
    // iputils: no reply at all, or with a deadline (-w) fewer replies than
    // -c asked for, is a failure.
    let short = a.deadline.is_some() && a.count.is_some_and(|c| st.received < c);
    if st.received == 0 || short {
        1
    } else {
        0
    }
}

/// `name (addr)` when the address has a name and `-n` was not given.
async fn addr_name(
    host: &Host,
    numeric: bool,
    cache: &mut BTreeMap<Ipv4Addr, String>,
    addr: Ipv4Addr,
) -> String {
    if numeric {
        return addr.to_string();
    }
    if let Some(s) = cache.get(&addr) {
        return s.clone();
    }
    let s = match resolve::reverse(host, addr).await {
        Some(name) => format!("{name} ({addr})"),
        None => addr.to_string(),
    };
    cache.insert(addr, s.clone());
    s
}

/// Byte `i` of a request's data before its timestamp goes in: `i mod 256`,
/// or `-p`'s pattern repeated.
fn fill(i: usize, pattern: Option<&[u8]>) -> u8 {
    match pattern {
        Some(p) if !p.is_empty() => p[i % p.len()],
        _ => i as u8,
    }
}

/// The request payload: a timestamp (as iputils' `struct timeval`) when
/// there is room, then the bytes `i mod 256`, or `-p`'s pattern repeated.
fn payload(size: usize, now: Instant, pattern: Option<&[u8]>) -> Vec<u8> {
    let mut p: Vec<u8> = (0..size).map(|i| fill(i, pattern)).collect();
    if size >= 16 {
        let micros = now.total_micros();
        p[..8].copy_from_slice(&(micros / 1_000_000).to_le_bytes());
        p[8..16].copy_from_slice(&(micros % 1_000_000).to_le_bytes());
    }
    p
}

fn summary(out: &mut Output, target: &str, st: &Stats, elapsed: Duration, timing: bool) {
    out.line("");
    out.line(format!("--- {target} ping statistics ---"));
    let mut line = format!(
        "{} packets transmitted, {} received",
        st.transmitted, st.received
    );
    if st.repeats > 0 {
        line.push_str(&format!(", +{} duplicates", st.repeats));
    }
    if st.errors > 0 {
        line.push_str(&format!(", +{} errors", st.errors));
    }
    if st.transmitted > 0 {
        let loss = ((st.transmitted - st.received.min(st.transmitted)) as f64 * 100.0
            / st.transmitted as f64) as f32;
        let micros = elapsed.as_micros() as u64;
        line.push_str(&format!(
            ", {}% packet loss, time {}ms",
            g(f64::from(loss)),
            (micros + 500) / 1000
        ));
    }
    out.line(line);
    let mut last = String::new();
    let mut comma = "";
    if st.received > 0 && timing {
        let n = st.received + st.repeats;
        let avg = st.tsum / n;
        let mdev = mdev(st.tsum, st.tsum2, n);
        last = format!(
            "rtt min/avg/max/mdev = {}/{}/{}/{} ms",
            ms3(st.tmin),
            ms3(avg),
            ms3(st.tmax),
            ms3(mdev)
        );
        comma = ", ";
    }
    if st.pipesize > 1 {
        last.push_str(&format!("{comma}pipe {}", st.pipesize));
    }
    out.line(last);
}

/// The mean deviation as iputils computes it from the sums of the round
/// trips and of their squares (µs): (Σt² − (Σt)²/n) / n, the integer
/// division first, while Σt fits an int; with more, Σt²/n − avg². (The
/// variance from the truncated mean, avg², is off by about the mean
/// itself — 160 µs at a 26 ms round trip.)
fn mdev(tsum: u64, tsum2: f64, n: u64) -> u64 {
    let n = n.max(1);
    let var = if tsum < i32::MAX as u64 {
        let square = u128::from(tsum) * u128::from(tsum) / u128::from(n);
        (tsum2 - square as f64) / n as f64
    } else {
        let avg = tsum / n;
        tsum2 / n as f64 - (avg as f64) * (avg as f64)
    };
    isqrt(var.max(0.0) as u64)
}

fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    // (Squares in 128 bits: near u64::MAX they do not fit in 64.)
    let sq = |x: u64| u128::from(x) * u128::from(x);
    let mut x = (n as f64).sqrt() as u64;
    while sq(x) > u128::from(n) {
        x -= 1;
    }
    while sq(x + 1) <= u128::from(n) {
        x += 1;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdev_as_iputils_computes_it() {
        let mdev_of = |trips: &[u64]| {
            let tsum = trips.iter().sum();
            let tsum2 = trips.iter().map(|&t| (t * t) as f64).sum();
            mdev(tsum, tsum2, trips.len() as u64)
        };
        // Round trips 26.164 to 26.232 ms: the deviation is tens of µs
        // (the truncated mean squared had given 179).
        let trips = [26_164, 26_170, 26_232, 26_165, 26_181, 26_164, 26_177];
        let m = mdev_of(&trips);
        assert!((15..=30).contains(&m), "{m}");
        assert_eq!(mdev_of(&[800, 800, 800]), 0);
        // 1 and 3 ms: exactly 1 ms either side.
        assert_eq!(mdev_of(&[1_000, 3_000]), 1_000);
        // Σt beyond an int: the other order, still sane.
        assert_eq!(mdev_of(&[3_000_000_000, 3_000_000_000]), 0);
        // Trips a corrupted stamp makes (near i64::MAX µs): no overflow,
        // no endless loop.
        let wild = [2_000u64, 9_000_000_000_000_000_000];
        let tsum = wild.iter().fold(0u64, |a, &t| a.saturating_add(t));
        let tsum2 = wild.iter().map(|&t| (t as f64) * (t as f64)).sum();
        assert!(mdev(tsum, tsum2, 2) > 0);
        assert_eq!(isqrt(u64::MAX), u64::from(u32::MAX));
        assert_eq!(isqrt(u64::MAX - 1), u64::from(u32::MAX));
    }

    #[test]
    fn rtt_precision_like_iputils() {
        assert_eq!(rtt(184), "0.184");
        assert_eq!(rtt(1_234), "1.23");
        assert_eq!(rtt(20_412), "20.4");
        assert_eq!(rtt(123_456), "123");
        assert_eq!(rtt(9_999), "10.0");
    }

    #[test]
    fn parse_options() {
        let args: Vec<String> = "-c 3 -s 1000 -t 5 -W 2 -M dont -q server"
            .split(' ')
            .map(String::from)
            .collect();
        let a = PingArgs::parse(&args).unwrap();
        assert_eq!(a.count, Some(3));
        assert_eq!(a.size, 1000);
        assert_eq!(a.ttl, Some(5));
        assert_eq!(a.linger, Duration::from_secs(2));
        assert_eq!(a.pmtudisc, Some(PmtuDisc::Dont));
        assert!(a.quiet);
        assert_eq!(a.target, "server");
    }

    #[test]
    fn bad_arguments() {
        let parse = |s: &str| PingArgs::parse(&s.split(' ').map(String::from).collect::<Vec<_>>());
        assert_eq!(
            parse("-c x h").unwrap_err().message,
            "invalid argument: 'x'"
        );
        // iputils takes TTL 0 here and fails at the socket.
        assert_eq!(parse("-t 0 h").unwrap().ttl, Some(0));
        assert!(parse("-t 256 h")
            .unwrap_err()
            .message
            .contains("out of range: 0 <= value <= 255"));
        assert!(parse("-z h")
            .unwrap_err()
            .message
            .contains("invalid option -- 'z'"));
        assert!(parse("-c 1")
            .unwrap_err()
            .message
            .contains("Destination address required"));
        assert!(parse("-M maybe h").is_err());
        // iputils refuses a negative reply wait; 0 is one.
        let e = parse("-W -1 h").unwrap_err();
        assert_eq!((e.message.as_str(), e.status), ("bad linger time: -1", 2));
        assert_eq!(parse("-W 0 h").unwrap().linger, Duration::ZERO);
        assert_eq!(parse("-W 0.0005 h").unwrap().linger, Duration::ZERO);
        assert_eq!(
            parse("-W 0.001 h").unwrap().linger,
            Duration::from_millis(1)
        );
    }

    #[test]
    fn integer_sqrt() {
        for n in [0u64, 1, 2, 3, 4, 15, 16, 17, 1 << 40, u32::MAX as u64] {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
    }
}
