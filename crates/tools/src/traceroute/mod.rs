//! `traceroute`, as Debian's traceroute 2.1 (Butskoy) prints it.
//!
//! Probes go out with TTL 1, 2, ... (`-q` per hop, default 3), up to `-N`
//! (16) in flight at once. Each router whose TTL check fails answers with
//! ICMP time exceeded; the destination answers with port unreachable (UDP,
//! the default, to ports from 33434 up, one per probe), an echo reply
//! (`-I`), or a SYN-ACK or RST (`-T`, to port 80 unless `-p`). A probe
//! unanswered within the wait (`-w MAX,HERE,NEAR`, default 5,3,10: at most
//! MAX seconds, or HERE times the round trip of an answered probe of the
//! same hop, or NEAR times one of a later hop) prints `*`. Unreachables
//! print `!N !H !P !F-mtu !X !S !V !C !<code>` and end the trace like
//! reaching the destination does. Exit status 0 whether or not the
//! destination was reached; 2 for bad arguments or an unknown host.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_host::{Host, Output, PingSocket, RawSocket, UdpSocket};
use tcplab_stack::{
    IcmpErrorReport, Instant, PingMessage, PmtuDisc, RawDatagram, SendError, SocketKind,
};
use tcplab_wire::icmpv4::{self, DstUnreachable, Quote};
use tcplab_wire::{tcp, Protocol};

use crate::format::ms3;
use crate::resolve;
use crate::select::{select, select_all, Either};

mod args;

/// How probes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// UDP to ports from 33434, one port per probe (the default).
    Udp,
    /// `-U`: UDP to one fixed port (53 unless `-p`).
    UdpFixed,
    /// `-I`: ICMP echo requests.
    Icmp,
    /// `-T`: TCP SYNs (port 80 unless `-p`).
    Tcp,
}

/// `traceroute`'s arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct TracerouteArgs {
    pub method: Method,
    pub first_ttl: u8,
    pub max_ttl: u8,
    pub queries: usize,
    pub wait_max: Duration,
    pub wait_here: f64,
    pub wait_near: f64,
    pub sim_queries: usize,
    pub port: Option<u16>,
    pub numeric: bool,
    /// `-F`: set DF on probes.
    pub dont_frag: bool,
    pub packet_len: Option<usize>,
    pub target: String,
}

/// One probe and what became of it.
#[derive(Debug, Clone, Default)]
struct Probe {
    sent: Option<Instant>,
    answered: Option<(Ipv4Addr, Instant)>,
    /// Annotation (`!H`, ...).
    note: String,
    done: bool,
    /// Reached the destination or an unreachable: the trace ends here.
    last: bool,
    /// When the host itself refused a probe as too big for the path MTU
    /// it knows (the local error traceroute reads from the error queue).
    local_error: Option<Instant>,
}

/// The socket(s) a method uses.
enum Prober {
    /// One socket per probe, as traceroute's udp module does it: the error
    /// queue of the socket a probe left from says which probe it was.
    Udp(BTreeMap<usize, UdpSocket>),
    Icmp(PingSocket),
    /// A raw TCP socket for the SYNs and the answers, a raw ICMP socket for
    /// the errors; each probe leaves from a source port of its own (so that
    /// a listener's half-open connection from one probe never swallows the
    /// next), reserved in the port table while the probe is out.
    Tcp {
        tcp: RawSocket,
        icmp: RawSocket,
        src: Ipv4Addr,
        isn: u32,
        by_port: BTreeMap<u16, usize>,
    },
}

/// What came back, matched to the probe it answers.
struct Answer {
    index: usize,
    from: Ipv4Addr,
    /// When it arrived (the stack's timestamp, like traceroute's
    /// SO_TIMESTAMP), so time spent printing never inflates a round trip.
    at: Instant,
    /// Annotation, for unreachables.
    note: String,
    last: bool,
}

/// The `!X` of an ICMP destination unreachable (traceroute's
/// `parse_icmp_res`); `None` for port unreachable, which means arrived.
fn unreachable_note(code: u8, info: u32) -> Option<String> {
    use DstUnreachable as D;
    Some(match D::from(code) {
        D::NetUnreachable | D::DstNetUnknown | D::SrcHostIsolated | D::NetUnreachToS => "!N".into(),
        D::HostUnreachable | D::DstHostUnknown | D::HostUnreachToS => "!H".into(),
        D::ProtoUnreachable => "!P".into(),
        D::PortUnreachable => return None,
        D::FragRequired => format!("!F-{info}"),
        D::SrcRouteFailed => "!S".into(),
        D::NetProhibited | D::HostProhibited | D::CommProhibited => "!X".into(),
        D::HostPrecedViol => "!V".into(),
        D::PrecedCutoff => "!C".into(),
        D::Unknown(c) => format!("!{c}"),
    })
}

/// What an ICMP error says about a probe: (annotation, last).
fn classify(report_type: u8, code: u8, info: u32, from: Ipv4Addr, dst: Ipv4Addr) -> (String, bool) {
    match report_type {
        11 => (String::new(), false),
        3 => match unreachable_note(code, info) {
            Some(n) => (n, true),
            None => (String::new(), true),
        },
        _ => (String::new(), from == dst),
    }
}

impl Prober {
    fn open(
        host: &Host,
        method: Method,
        pmtudisc: PmtuDisc,
        dst: Ipv4Addr,
        seed: u32,
    ) -> Result<Prober, String> {
        match method {
            Method::Udp | Method::UdpFixed => Ok(Prober::Udp(BTreeMap::new())),
            Method::Icmp => {
                let s = PingSocket::open(host).map_err(|e| e.to_string())?;
                s.set_pmtudisc(pmtudisc);
                Ok(Prober::Icmp(s))
            }
            Method::Tcp => {
                let tcp = RawSocket::open(host, Protocol::Tcp);
                tcp.set_pmtudisc(pmtudisc);
                let icmp = RawSocket::open(host, Protocol::Icmp);
                let src = tcp.source_addr_for(dst).map_err(|e| e.to_string())?;
                Ok(Prober::Tcp {
                    tcp,
                    icmp,
                    src,
                    isn: seed,
                    by_port: BTreeMap::new(),
                })
            }
        }
    }

    fn send(
        &mut self,
        host: &Host,
        a: &TracerouteArgs,
        dst: Ipv4Addr,
        index: usize,
        ttl: u8,
    ) -> Result<(), SendError> {
        let data_len = a.probe_len() - 28;
        match self {
            Prober::Udp(sockets) => {
                let port = match a.method {
                    Method::UdpFixed => a.port.unwrap_or(53),
                    _ => a.port.unwrap_or(33434).wrapping_add(index as u16),
                };
                let s = UdpSocket::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                    .map_err(|_| SendError::InvalidHandle)?;
                s.set_recv_err(true);
                s.set_ttl(Some(ttl));
                s.set_pmtudisc(pmtudisc(a));
                s.send_to(&probe_data(data_len), SocketAddrV4::new(dst, port))?;
                sockets.insert(index, s);
                Ok(())
            }
            Prober::Icmp(s) => {
                s.set_ttl(Some(ttl));
                s.send(dst, seq_of(a, index), &probe_data(data_len))
            }
            Prober::Tcp {
                tcp,
                src,
                isn,
                by_port,
                ..
            } => {
                let sport = tcp
                    .reserve_port(SocketKind::Tcp)
                    .map_err(|_| SendError::InvalidHandle)?;
                by_port.insert(sport, index);
                let mut repr = tcp::Repr::new(
                    sport,
                    a.port.unwrap_or(80),
                    tcp::Flags::SYN,
                    tcp::SeqNumber(*isn),
                    tcp::SeqNumber(0),
                );
                repr.window_len = 64240;
                repr.max_seg_size = Some(1460);
                repr.sack_permitted = true;
                repr.timestamp = Some(tcp::Timestamp {
                    tsval: index as u32,
                    tsecr: 0,
                });
                repr.window_scale = Some(7);
                let mut bytes = vec![0u8; repr.buffer_len()];
                repr.emit(&mut tcp::Packet::new_unchecked(&mut bytes[..]), *src, dst);
                tcp.set_ttl(Some(ttl));
                tcp.send(dst, &bytes)
            }
        }
    }

    /// A probe is finished with: close its socket, if it has its own.
    fn forget(&mut self, index: usize) {
        match self {
            Prober::Udp(sockets) => {
                sockets.remove(&index);
            }
            Prober::Tcp { tcp, by_port, .. } => {
                if let Some(port) = by_port
                    .iter()
                    .find_map(|(&p, &i)| (i == index).then_some(p))
                {
                    by_port.remove(&port);
                    tcp.release_port(SocketKind::Tcp, port);
                }
            }
            Prober::Icmp(_) => {}
        }
    }

    /// Wait for the next answer to one of our probes.
    async fn recv(&self, host: &Host, a: &TracerouteArgs, dst: Ipv4Addr, probes: usize) -> Answer {
        loop {
            let answer = match self {
                Prober::Udp(sockets) => {
                    // An ICMP error on a probe's socket, or a reply on it:
                    // a service listening on the port answered, and the
                    // destination is reached (traceroute's udp module takes
                    // data on the probe socket as the final reply).
                    let waits = sockets
                        .iter()
                        .map(|(&i, s)| async move {
                            match select(s.recv_error(), s.recv_from()).await {
                                Either::Left(r) => (i, Ok(r)),
                                Either::Right(d) => (i, Err(d)),
                            }
                        })
                        .collect();
                    match select_all(waits).await {
                        Some((_, (index, Ok(r)))) => udp_answer(dst, index, &r),
                        Some((_, (index, Err(Ok(d))))) => (*d.from.ip() == dst).then(|| Answer {
                            index,
                            from: dst,
                            at: host.now(),
                            note: String::new(),
                            last: true,
                        }),
                        Some((_, (_, Err(Err(_))))) => None,
                        None => std::future::pending().await,
                    }
                }
                Prober::Icmp(s) => match s.recv().await {
                    PingMessage::Reply {
                        from,
                        seq,
                        received,
                        ..
                    } => index_of_seq(a, seq).map(|index| Answer {
                        index,
                        from,
                        at: received,
                        note: String::new(),
                        last: from == dst,
                    }),
                    PingMessage::Error { seq, report } => index_of_seq(a, seq).map(|index| {
                        let (note, last) =
                            classify(report.icmp_type, report.code, report.info, report.from, dst);
                        Answer {
                            index,
                            from: report.from,
                            at: report.received,
                            note,
                            last,
                        }
                    }),
                },
                Prober::Tcp {
                    tcp,
                    icmp,
                    isn,
                    by_port,
                    ..
                } => match select(tcp.recv(), icmp.recv()).await {
                    Either::Left(d) => tcp_answer(a, dst, by_port, *isn, &d),
                    Either::Right(d) => icmp_tcp_answer(a, dst, by_port, &d),
                },
            };
            if let Some(ans) = answer.filter(|x| x.index < probes) {
                return ans;
            }
        }
    }
}

/// Probes may be fragmented on the way unless `-F` asks for DF; then, as
/// traceroute 2.1.2 asks for `IP_PMTUDISC_PROBE`, a path MTU the host
/// learnt earlier does not stop a probe, only the interface's does.
fn pmtudisc(a: &TracerouteArgs) -> PmtuDisc {
    if a.dont_frag {
        PmtuDisc::Probe
    } else {
        PmtuDisc::Dont
    }
}

/// traceroute's probe payload: the bytes 0x40, 0x41, ... (`@ABC...`).
fn probe_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| 0x40 + (i % 64) as u8).collect()
}

fn seq_of(a: &TracerouteArgs, index: usize) -> u16 {
    a.port.unwrap_or(1).wrapping_add(index as u16)
}

fn index_of_seq(a: &TracerouteArgs, seq: u16) -> Option<usize> {
    Some(usize::from(seq.wrapping_sub(a.port.unwrap_or(1))))
}

fn udp_answer(dst: Ipv4Addr, index: usize, r: &IcmpErrorReport) -> Option<Answer> {
    if r.original_dst != dst {
        return None;
    }
    let (note, last) = classify(r.icmp_type, r.code, r.info, r.from, dst);
    Some(Answer {
        index,
        from: r.from,
        at: r.received,
        note,
        last,
    })
}

fn tcp_answer(
    a: &TracerouteArgs,
    dst: Ipv4Addr,
    by_port: &BTreeMap<u16, usize>,
    isn: u32,
    d: &RawDatagram,
) -> Option<Answer> {
    let from = d.src;
    let packet = tcp::Packet::new_checked(&d.payload[..]).ok()?;
    let repr = tcp::Repr::parse(&packet).ok()?;
    if from != dst || repr.src_port != a.port.unwrap_or(80) {
        return None;
    }
    // A SYN-ACK or a RST acknowledging our SYN (RFC 9293 §3.10.7.1 and
    // §3.10.7.3): nothing else answers a probe.
    let acks_syn = repr.flags.ack() && repr.ack_number.0 == isn.wrapping_add(1);
    if !acks_syn || !(repr.flags.rst() || repr.flags.syn()) {
        return None;
    }
    let index = *by_port.get(&repr.dst_port)?;
    Some(Answer {
        index,
        from,
        at: d.received,
        note: String::new(),
        last: true,
    })
}

fn icmp_tcp_answer(
    a: &TracerouteArgs,
    dst: Ipv4Addr,
    by_port: &BTreeMap<u16, usize>,
    d: &RawDatagram,
) -> Option<Answer> {
    let from = d.src;
    let packet = icmpv4::Packet::new_checked(&d.payload[..]).ok()?;
    let repr = icmpv4::Repr::parse(&packet).ok()?;
    let (t, code, info) = match repr {
        icmpv4::Repr::TimeExceeded { reason, .. } => (11, u8::from(reason), 0),
        icmpv4::Repr::DstUnreachable {
            reason,
            next_hop_mtu,
            ..
        } => (3, u8::from(reason), u32::from(next_hop_mtu)),
        _ => return None,
    };
    let quote = Quote::parse(repr.quote()?).ok()?;
    if quote.header.protocol != Protocol::Tcp || quote.header.dst_addr != dst {
        return None;
    }
    let (qs, qd) = quote.ports()?;
    if qd != a.port.unwrap_or(80) {
        return None;
    }
    let index = *by_port.get(&qs)?;
    let (note, last) = classify(t, code, info, from, dst);
    Some(Answer {
        index,
        from,
        at: d.received,
        note,
        last,
    })
}

/// How long to wait for `probes[i]` (traceroute's `get_timeout`).
fn wait_for(a: &TracerouteArgs, probes: &[Probe], i: usize) -> Duration {
    let rtt = |p: &Probe| match (p.sent, p.answered) {
        (Some(s), Some((_, r))) if r > s => Some(r.saturating_since(s)),
        _ => None,
    };
    let hop = i / a.queries;
    let max = a.wait_max;
    if a.wait_here > 0.0 {
        let same = &probes[hop * a.queries..((hop + 1) * a.queries).min(probes.len())];
        if let Some(r) = same.iter().filter_map(rtt).next() {
            return r.mul_f64(a.wait_here).min(max);
        }
    }
    if a.wait_near > 0.0 {
        if let Some(r) = probes[((hop + 1) * a.queries).min(probes.len())..]
            .iter()
            .filter_map(rtt)
            .next()
        {
            return r.mul_f64(a.wait_near).min(max);
        }
    }
    max
}

/// Run traceroute; returns the exit status.
pub async fn run(host: Host, a: TracerouteArgs, mut out: Output, mut err: Output) -> i32 {
    let dst = match resolve::lookup(&host, &a.target).await {
        Ok(d) => d,
        Err(e) => {
            err.line(format!("{}: {e}", a.target));
            err.line(format!(
                "Cannot handle \"host\" cmdline arg `{}' on position 1 (argc 1)",
                a.target
            ));
            return 2;
        }
    };
    let header = format!(
        "traceroute to {} ({}), {} hops max, {} byte packets",
        a.target,
        dst,
        a.max_ttl,
        a.probe_len()
    );
    // connect(2) to a broadcast address without SO_BROADCAST is EACCES,
    // whichever the method (traceroute 2.1.2 connects every probe socket).
    if host.with_stack(|s| s.is_broadcast_addr(dst)) {
        out.line(header);
        err.line("connect: Permission denied");
        return 1;
    }
    // Linux takes 0.0.0.0 as this host itself: the probes go over the
    // loopback, and 127.0.0.1 answers (the header keeps 0.0.0.0).
    let dst = if dst.is_unspecified() {
        Ipv4Addr::LOCALHOST
    } else {
        dst
    };
    // TCP probes need a source address first: with no route, traceroute's
    // connect(2) fails after its header line, as the other methods' sends
    // do below.
    let no_route =
        host.with_stack(|s| matches!(s.source_addr_for(dst), Err(SendError::NoRoute(_))));
    if a.method == Method::Tcp && no_route {
        out.line(header);
        err.line("connect: Network is unreachable");
        return 1;
    }
    let seed = host.now().total_micros() as u32 ^ 0x5a17_c0de;
    let mut prober = match Prober::open(&host, a.method, pmtudisc(&a), dst, seed) {
        Ok(p) => p,
        Err(e) => {
            err.line(format!("traceroute: {e}"));
            return 2;
        }
    };
    let hops = usize::from(a.max_ttl - a.first_ttl) + 1;
    let total = hops * a.queries;
    let mut probes = vec![Probe::default(); total];
    out.line(header);
    let mut end = total;
    let mut next = 0usize;
    let mut printed_hops = 0usize;
    let mut names: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    loop {
        // Keep up to -N probes in flight.
        while next < end && probes[..next].iter().filter(|p| !p.done).count() < a.sim_queries {
            let ttl = a.first_ttl + (next / a.queries) as u8;
            probes[next].sent = Some(host.now());
            match prober.send(&host, &a, dst, next, ttl) {
                Ok(()) => {}
                // traceroute's error() and exit(1): UDP and TCP probes go
                // through connect(2) first, ICMP ones straight to send.
                Err(SendError::NoRoute(_)) => {
                    let call = if a.method == Method::Icmp {
                        "send"
                    } else {
                        "connect"
                    };
                    err.line(format!("{call}: Network is unreachable"));
                    return 1;
                }
                // With -F, a probe larger than the path MTU this host
                // knows is refused here (EMSGSIZE): traceroute takes the
                // send as done ("recverr will say more") and reads the
                // local error its socket then holds, so each probe of the
                // hop shows `*  t ms !F-<mtu>` and the trace ends there
                // (traceroute 2.1.2, checked over a veth of MTU 1500).
                Err(SendError::MessageTooLong { mtu }) => {
                    let p = &mut probes[next];
                    p.done = true;
                    p.last = true;
                    p.local_error = Some(host.now());
                    p.note = format!("!F-{mtu}");
                    prober.forget(next);
                    end = end.min((next / a.queries + 1) * a.queries);
                }
                // Anything else refused locally counts as silence.
                Err(_) => probes[next].done = true,
            }
            next += 1;
        }
        // Print every hop whose probes are all done, in order.
        while printed_hops * a.queries < end {
            let range = printed_hops * a.queries..(printed_hops + 1) * a.queries;
            if !probes[range.clone()].iter().all(|p| p.done) {
                break;
            }
            let ttl = usize::from(a.first_ttl) + printed_hops;
            let line = hop_line(&host, &a, ttl, &probes[range], &mut names).await;
            out.line(line);
            printed_hops += 1;
        }
        if printed_hops * a.queries >= end {
            break;
        }
        // Wait for an answer or the first probe's time to give up.
        let deadline = probes[..next]
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.done)
            .filter_map(|(i, p)| p.sent.map(|s| s + wait_for(&a, &probes, i)))
            .min();
        // Answers already queued are taken even when a deadline has passed
        // meanwhile (the left side of `select` is polled first).
        let answer = match deadline {
            Some(d) => match select(prober.recv(&host, &a, dst, next), host.sleep_until(d)).await {
                Either::Left(ans) => Some(ans),
                Either::Right(()) => None,
            },
            None => Some(prober.recv(&host, &a, dst, next).await),
        };
        let now = host.now();
        if let Some(ans) = answer {
            let p = &mut probes[ans.index];
            if !p.done {
                p.done = true;
                p.answered = Some((ans.from, ans.at));
                p.note = ans.note;
                p.last = ans.last;
                prober.forget(ans.index);
                if ans.last {
                    let hop_end = (ans.index / a.queries + 1) * a.queries;
                    end = end.min(hop_end);
                }
            }
        }
        for i in 0..next {
            if !probes[i].done {
                if let Some(s) = probes[i].sent {
                    if now >= s + wait_for(&a, &probes, i) {
                        probes[i].done = true;
                        prober.forget(i);
                    }
                }
            }
        }
    }
    0
}

/// One hop's line: ` 3  name (addr)  0.123 ms !H  0.120 ms  *`.
async fn hop_line(
    host: &Host,
    a: &TracerouteArgs,
    ttl: usize,
    probes: &[Probe],
    names: &mut BTreeMap<Ipv4Addr, String>,
) -> String {
    let mut line = format!("{ttl:2} ");
    let mut last_addr: Option<Ipv4Addr> = None;
    for p in probes {
        let (Some(sent), Some((from, at))) = (p.sent, p.answered) else {
            line.push_str(" *");
            // A local error has a time and a note, but no address.
            if let (Some(sent), Some(at)) = (p.sent, p.local_error) {
                line.push_str(&format!(
                    "  {} ms {}",
                    ms3(at.saturating_since(sent).as_micros() as u64),
                    p.note
                ));
            }
            continue;
        };
        if last_addr != Some(from) {
            if a.numeric {
                line.push_str(&format!(" {from}"));
            } else {
                let name = match names.get(&from) {
                    Some(n) => n.clone(),
                    None => {
                        let n = resolve::reverse(host, from)
                            .await
                            .unwrap_or_else(|| from.to_string());
                        names.insert(from, n.clone());
                        n
                    }
                };
                line.push_str(&format!(" {name} ({from})"));
            }
            last_addr = Some(from);
        }
        line.push_str(&format!(
            "  {} ms",
            ms3(at.saturating_since(sent).as_micros() as u64)
        ));
        if !p.note.is_empty() {
            line.push(' ');
            line.push_str(&p.note);
        }
    }
    line
}

#[cfg(test)]
mod tests;
