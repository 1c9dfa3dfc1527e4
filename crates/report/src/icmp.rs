//! ICMP and UDP probes hop by hop (ping, traceroute, DNS), and
//! fragmentation: which router split which datagram, and where it was
//! put back together.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use tcplab_sim::scenario::NodeKind;
use tcplab_sim::Scenario;
use tcplab_stack::Instant;

use crate::model::{IpHead, Pkt};
use crate::svg::{esc, n, open};

/// What a probe was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// ICMP echo request (ping, traceroute -I): id and sequence.
    Echo { id: u16, seq: u16 },
    /// A UDP datagram (traceroute's probes, DNS): ports.
    Udp { sport: u16, dport: u16 },
}

/// What answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An echo reply or a UDP datagram back, from the destination.
    Reply,
    /// An ICMP error from a node: its type and code.
    Error { ty: u8, code: u8, mtu: Option<u16> },
}

/// A probe and its fate.
#[derive(Debug, Clone)]
pub struct Probe {
    pub origin: usize,
    pub dst: Ipv4Addr,
    pub sent: Instant,
    pub ttl: u8,
    pub len: usize,
    pub kind: Kind,
    /// Nodes it reached, in order, with the times.
    pub path: Vec<(usize, Instant)>,
    /// The answer: which node sent it, when it left and when it arrived
    /// back at the origin (`None`: lost on the way back).
    pub answer: Option<(Answer, usize, Instant, Option<Instant>)>,
}

/// Probes of one origin to one destination: a ping or a traceroute.
#[derive(Debug, Clone)]
pub struct ProbeFlow {
    pub origin: usize,
    pub dst: Ipv4Addr,
    pub udp: bool,
    pub probes: Vec<Probe>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The ICMP or UDP header after the IP header, if whole in the record.
fn l4<'p>(p: &'p Pkt<'_>) -> Option<(&'p IpHead, &'p [u8])> {
    let ip = p.ip.as_ref()?;
    if ip.fragment && ip.frag_offset > 0 {
        return None;
    }
    Some((ip, p.rec.head.get(ip.header_len..)?))
}

fn is_host(s: &Scenario, n: usize) -> bool {
    s.nodes.get(n).is_some_and(|x| x.kind == NodeKind::Host)
}

fn owns(s: &Scenario, n: usize, a: Ipv4Addr) -> bool {
    s.nodes
        .get(n)
        .is_some_and(|x| x.ifaces.iter().any(|f| f.addr.address() == a))
}

/// The probe a datagram is: (kind) when it is an echo request or UDP.
fn probe_kind(ip: &IpHead, b: &[u8]) -> Option<Kind> {
    match ip.proto {
        1 if b.first() == Some(&8) => Some(Kind::Echo {
            id: be16(b, 4)?,
            seq: be16(b, 6)?,
        }),
        17 => Some(Kind::Udp {
            sport: be16(b, 0)?,
            dport: be16(b, 2)?,
        }),
        _ => None,
    }
}

/// How long after a probe an answer is still taken as its answer.
const ANSWER_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

/// What an answer arriving somewhere answers, as a key to look it up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AnswerKey {
    /// An echo reply: (id, sequence).
    Echo(u16, u16),
    /// A UDP datagram: (its source port, its destination port).
    Udp(u16, u16),
    /// An ICMP error quoting (source, destination, ident, protocol).
    Error(Ipv4Addr, Ipv4Addr, u16, u8),
}

/// The key of a datagram that may answer a probe.
fn answer_key(ip: &IpHead, b: &[u8]) -> Option<AnswerKey> {
    match ip.proto {
        1 => match b.first()? {
            0 => Some(AnswerKey::Echo(be16(b, 4)?, be16(b, 6)?)),
            3 | 4 | 5 | 11 | 12 => {
                let q = crate::model::parse_ip(b.get(8..)?)?;
                Some(AnswerKey::Error(q.src, q.dst, q.ident, q.proto))
            }
            _ => None,
        },
        17 => Some(AnswerKey::Udp(be16(b, 0)?, be16(b, 2)?)),
        _ => None,
    }
}

/// Put probes together: each echo request or UDP datagram a host sent
/// from its own address, the nodes it reached, and the echo reply, UDP
/// datagram back or ICMP error that answered it — found where it arrived
/// back at the probe's host, so that a NAT on the way (which rewrites the
/// answer's destination, and may remap an echo id) is crossed.
pub fn probes(s: &Scenario, pkts: &[Pkt<'_>]) -> Vec<ProbeFlow> {
    // A probe's hops by (destination, ident, protocol): NAT rewrites its
    // source on the way out, not these. An answer's first hop by (source,
    // ident, protocol): NAT rewrites its destination on the way back.
    let mut out_hops: BTreeMap<(Ipv4Addr, u16, u8), Vec<usize>> = BTreeMap::new();
    let mut back_hops: BTreeMap<(Ipv4Addr, u16, u8), Vec<usize>> = BTreeMap::new();
    // Datagrams arriving at each node that may answer a probe, by key.
    let mut arriving: BTreeMap<(usize, AnswerKey), Vec<usize>> = BTreeMap::new();
    for (i, p) in pkts.iter().enumerate() {
        let Some(ip) = &p.ip else { continue };
        out_hops
            .entry((ip.dst, ip.ident, ip.proto))
            .or_default()
            .push(i);
        back_hops
            .entry((ip.src, ip.ident, ip.proto))
            .or_default()
            .push(i);
        if let (Some((_, to)), Some((ip, b))) = (p.rec.arrival, l4(p)) {
            if let Some(k) = answer_key(ip, b) {
                arriving.entry((to, k)).or_default().push(i);
            }
        }
    }
    // Each host's UDP datagrams by (host, source, destination, ports), in
    // order: a datagram back with the ports reversed answers the latest
    // one sent before it, not one sent before that (a WireGuard
    // keepalive, a DNS query that went unanswered: nothing answers them,
    // and the next exchange's reply is not theirs).
    let mut udp_sends: BTreeMap<(usize, Ipv4Addr, Ipv4Addr, u16, u16), Vec<usize>> =
        BTreeMap::new();
    for (i, p) in pkts.iter().enumerate() {
        if let Some((ip, b)) = l4(p) {
            if let Some(Kind::Udp { sport, dport }) = probe_kind(ip, b) {
                udp_sends
                    .entry((p.rec.node, ip.src, ip.dst, sport, dport))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut flows: Vec<ProbeFlow> = Vec::new();
    let mut index: BTreeMap<(usize, Ipv4Addr, bool, Option<u16>), usize> = BTreeMap::new();
    // Datagrams that answered a probe (by their first hop: a DNS reply
    // is not a probe of its own), and the arrivals taken.
    let mut answered: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    let mut taken: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    for (pi, p) in pkts.iter().enumerate() {
        if answered.contains(&pi) {
            continue;
        }
        let Some((ip, b)) = l4(p) else { continue };
        let origin = p.rec.node;
        if !is_host(s, origin) || !owns(s, origin, ip.src) {
            continue;
        }
        let Some(kind) = probe_kind(ip, b) else {
            continue;
        };
        let until = p.rec.time + ANSWER_WINDOW;
        // Where it went.
        let mut path = Vec::new();
        for &h in out_hops
            .get(&(ip.dst, ip.ident, ip.proto))
            .map_or(&[][..], |v| &v[..])
        {
            let q = &pkts[h];
            if q.rec.time < p.rec.time || q.rec.time > until {
                continue;
            }
            if let Some((at, to)) = q.rec.arrival {
                if to != origin && !path.iter().any(|&(n, _)| n == to) {
                    path.push((to, at));
                }
            }
        }
        // What answered: the first datagram that arrived back at the
        // origin after it with its key, not taken by an earlier probe.
        let keys = match kind {
            Kind::Echo { id, seq } => vec![(AnswerKey::Echo(id, seq), until)],
            Kind::Udp { sport, dport } => {
                // Until the next datagram of the same ports goes.
                let next = udp_sends
                    .get(&(origin, ip.src, ip.dst, sport, dport))
                    .and_then(|v| v.iter().find(|&&j| j > pi))
                    .map_or(until, |&j| pkts[j].rec.time.min(until));
                vec![(AnswerKey::Udp(dport, sport), next)]
            }
        };
        let keys = keys
            .into_iter()
            .chain([(AnswerKey::Error(ip.src, ip.dst, ip.ident, ip.proto), until)]);
        let mut best: Option<usize> = None;
        for (k, until) in keys {
            let list = arriving.get(&(origin, k)).map_or(&[][..], |v| &v[..]);
            let start = list.partition_point(|&a| pkts[a].rec.time < p.rec.time);
            let found = list[start..]
                .iter()
                .copied()
                .take_while(|&a| pkts[a].rec.time <= until)
                .find(|a| !taken.contains(a));
            if let Some(a) = found {
                if best.is_none_or(|b| pkts[a].rec.time < pkts[b].rec.time) {
                    best = Some(a);
                }
            }
        }
        let mut answer = None;
        if let Some(a) = best {
            let q = &pkts[a];
            if let Some((qi, qb)) = l4(q) {
                let ans = match qi.proto {
                    1 if qb.first() != Some(&0) => Answer::Error {
                        ty: qb.first().copied().unwrap_or(0),
                        code: qb.get(1).copied().unwrap_or(0),
                        mtu: (qb.first() == Some(&3) && qb.get(1) == Some(&4))
                            .then(|| be16(qb, 6))
                            .flatten(),
                    },
                    _ => Answer::Reply,
                };
                // Who sent it, and when: its first hop.
                let first = back_hops
                    .get(&(qi.src, qi.ident, qi.proto))
                    .and_then(|v| {
                        v.iter()
                            .copied()
                            .filter(|&h| pkts[h].rec.time <= q.rec.time)
                            .find(|&h| owns(s, pkts[h].rec.node, qi.src))
                    })
                    .unwrap_or(a);
                taken.insert(a);
                answered.insert(first);
                answer = Some((
                    ans,
                    pkts[first].rec.node,
                    pkts[first].rec.time,
                    q.rec.arrival.map(|(t, _)| t),
                ));
            }
        }
        let udp = matches!(kind, Kind::Udp { .. });
        // UDP to a well-known port (DNS) apart from UDP to high ports
        // (traceroute's probes).
        let service = match kind {
            Kind::Udp { dport, .. } if dport < 1024 => Some(dport),
            _ => None,
        };
        let key = (origin, ip.dst, udp, service);
        let fi = *index.entry(key).or_insert_with(|| {
            flows.push(ProbeFlow {
                origin,
                dst: ip.dst,
                udp,
                probes: Vec::new(),
            });
            flows.len() - 1
        });
        flows[fi].probes.push(Probe {
            origin,
            dst: ip.dst,
            sent: p.rec.time,
            ttl: ip.ttl,
            len: ip.total_len,
            kind,
            path,
            answer,
        });
    }
    flows
}

/// ICMP's words for an error.
pub fn error_name(ty: u8, code: u8, mtu: Option<u16>) -> String {
    match (ty, code) {
        (11, 0) => "time exceeded in transit".into(),
        (11, 1) => "fragment reassembly time exceeded".into(),
        (3, 0) => "net unreachable".into(),
        (3, 1) => "host unreachable".into(),
        (3, 2) => "protocol unreachable".into(),
        (3, 3) => "port unreachable".into(),
        (3, 4) => match mtu {
            Some(m) => format!("frag needed (mtu {m})"),
            None => "frag needed".into(),
        },
        (3, 13) => "communication administratively prohibited".into(),
        (5, _) => "redirect".into(),
        _ => format!("ICMP type {ty} code {code}"),
    }
}

/// Probes at most drawn per flow.
pub const MAX_PROBES: usize = 60;

/// A flow's probes hop by hop: columns are the nodes on the way, each
/// probe a row — out to the node where it stopped, and its answer back.
pub fn probe_diagram(s: &Scenario, f: &ProbeFlow) -> String {
    // Columns: the origin, then nodes in the order probes reached them.
    let mut cols = vec![f.origin];
    for p in &f.probes {
        for &(node, _) in &p.path {
            if !cols.contains(&node) {
                cols.push(node);
            }
        }
        if let Some((_, node, _, _)) = p.answer {
            if !cols.contains(&node) {
                cols.push(node);
            }
        }
    }
    let ncols = cols.len().max(2);
    // Room on the right for what answered.
    let width = (350.0 + 160.0 * (ncols - 1) as f64).max(700.0);
    let colx = |k: usize| 110.0 + (width - 350.0) * k as f64 / (ncols - 1) as f64;
    let col = |node: usize| cols.iter().position(|&c| c == node).unwrap_or(ncols - 1);
    let rows = f.probes.len().min(MAX_PROBES);
    let row_h = 30.0;
    let h = 60.0 + row_h * rows as f64 + 20.0;
    let mut out = open(width, h, "probes");
    out.push_str("<defs><marker id=\"parr\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" fill=\"context-stroke\"/></marker></defs>");
    for (k, &node) in cols.iter().enumerate() {
        let x = colx(k);
        let name = s.nodes.get(node).map_or("?", |n| n.name.as_str());
        let host = is_host(s, node);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-weight=\"{}\">{}</text><path d=\"M{} 30V{}\" stroke=\"{}\"/>",
            n(x),
            if host { "bold" } else { "normal" },
            esc(name),
            n(x),
            n(h - 15.0),
            if host { "#333" } else { "#aaa" }
        );
    }
    let t0 = f.probes.first().map_or(Instant::ZERO, |p| p.sent);
    for (r, p) in f.probes.iter().take(MAX_PROBES).enumerate() {
        let y = 50.0 + row_h * r as f64;
        let what = match &p.kind {
            Kind::Echo { seq, .. } => format!("echo seq {seq}"),
            Kind::Udp { dport, .. } => format!("UDP to port {dport}"),
        };
        // Out: to the last node it reached.
        let reach = p.path.last().map(|&(node, _)| col(node));
        let (x0, x1) = (colx(0), reach.map_or(colx(0) + 30.0, colx));
        let lost_out = reach.is_none();
        let _ = write!(
            out,
            "<g><title>{:.3} ms: {what}, TTL {}, {} bytes</title><path d=\"M{} {}L{} {}\" stroke=\"#1f618d\" stroke-width=\"1.4\" marker-end=\"url(#parr)\"/>",
            p.sent.saturating_since(t0).as_secs_f64() * 1000.0,
            p.ttl,
            p.len,
            n(x0),
            n(y),
            n(x1),
            n(y + 8.0)
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" fill=\"#1f618d\" font-size=\"10\">{} TTL {}</text>",
            n(x0 + 6.0),
            n(y - 3.0),
            esc(&what),
            p.ttl
        );
        match &p.answer {
            Some((ans, from, _, back)) => {
                let xa = colx(col(*from));
                let (text, colour) = match ans {
                    Answer::Reply => ("reply".to_string(), "#27ae60"),
                    Answer::Error { ty, code, mtu } => (error_name(*ty, *code, *mtu), "#c0392b"),
                };
                let xe = if back.is_some() { x0 } else { (xa + x0) / 2.0 };
                let _ = write!(
                    out,
                    "<path d=\"M{} {}L{} {}\" stroke=\"{colour}\" stroke-width=\"1.4\" stroke-dasharray=\"5 3\" marker-end=\"url(#parr)\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\" font-size=\"10\">{} from {}{}</text></g>",
                    n(xa),
                    n(y + 10.0),
                    n(xe),
                    n(y + 18.0),
                    n(colx(ncols - 1) + 10.0),
                    n(y + 14.0),
                    esc(&text),
                    esc(s.nodes.get(*from).map_or("?", |x| x.name.as_str())),
                    match back {
                        Some(t) => format!(", {:.3} ms", t.saturating_since(p.sent).as_secs_f64() * 1000.0),
                        None => " (lost on the way back)".into(),
                    }
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<path d=\"M{} {}l8 8m0 -8l-8 8\" stroke=\"#c0392b\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" fill=\"#c0392b\" font-size=\"10\">{}</text></g>",
                    n(x1 - 4.0),
                    n(y + 4.0),
                    n(x1 + 8.0),
                    n(y + 12.0),
                    if lost_out { "lost on the first link" } else { "no answer" }
                );
            }
        }
    }
    if f.probes.len() > MAX_PROBES {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">… {} more not drawn</text>",
            n(width / 2.0),
            n(h - 4.0),
            f.probes.len() - MAX_PROBES
        );
    }
    out.push_str("</svg>");
    out
}

/// One datagram that was fragmented: who sent it, who split it, where the
/// pieces arrived.
#[derive(Debug, Clone)]
pub struct Fragmented {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ident: u16,
    pub proto: u8,
    /// The whole datagram's payload length (from the last fragment).
    pub total: usize,
    /// Each node that sent fragments of it, with the pieces it sent:
    /// (offset, payload length).
    pub splits: Vec<(usize, Vec<(usize, usize)>)>,
    /// Nodes where the pieces arrived and no node sent them on (where it
    /// was put back together, or given up).
    pub ends: Vec<usize>,
    pub first: Instant,
}

/// Pieces of one ident further apart than this are different datagrams
/// (RFC 791's reassembly timer is at most a few tens of seconds).
const REASSEMBLY_GAP: std::time::Duration = std::time::Duration::from_secs(30);

/// Fragmented datagrams, in order of their first piece.
pub fn fragments(s: &Scenario, pkts: &[Pkt<'_>]) -> Vec<Fragmented> {
    // The group each (source, destination, ident, protocol) is in now: a
    // new one when the ident comes back after the reassembly timeout.
    let mut current: BTreeMap<(Ipv4Addr, Ipv4Addr, u16, u8), usize> = BTreeMap::new();
    let mut out: Vec<Fragmented> = Vec::new();
    let mut last_seen: Vec<Instant> = Vec::new();
    for p in pkts {
        let Some(ip) = &p.ip else { continue };
        if !ip.fragment {
            continue;
        }
        let key = (ip.src, ip.dst, ip.ident, ip.proto);
        let gi = match current.get(&key) {
            Some(&g) if p.rec.time <= last_seen[g] + REASSEMBLY_GAP => g,
            _ => {
                out.push(Fragmented {
                    src: ip.src,
                    dst: ip.dst,
                    ident: ip.ident,
                    proto: ip.proto,
                    total: 0,
                    splits: Vec::new(),
                    ends: Vec::new(),
                    first: p.rec.time,
                });
                last_seen.push(p.rec.time);
                current.insert(key, out.len() - 1);
                out.len() - 1
            }
        };
        last_seen[gi] = p.rec.time;
        let e = &mut out[gi];
        let piece = (ip.frag_offset, ip.total_len.saturating_sub(ip.header_len));
        // The whole is as long as the furthest piece reaches (the last
        // piece may be lost).
        e.total = e.total.max(piece.0 + piece.1);
        match e.splits.iter_mut().find(|(n, _)| *n == p.rec.node) {
            Some((_, pieces)) => {
                if !pieces.contains(&piece) {
                    pieces.push(piece);
                }
            }
            None => e.splits.push((p.rec.node, vec![piece])),
        }
        if let Some((_, to)) = p.rec.arrival {
            if is_host(s, to) && !e.ends.contains(&to) {
                e.ends.push(to);
            }
        }
    }
    // A node that only passed pieces on did not split: keep the first
    // node that sent each distinct set of pieces.
    for f in &mut out {
        let mut kept: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        for (node, mut pieces) in std::mem::take(&mut f.splits) {
            pieces.sort();
            if !kept.iter().any(|(_, p)| *p == pieces) {
                kept.push((node, pieces));
            }
        }
        f.splits = kept;
    }
    out
}

/// A fragmented datagram drawn: the whole as a bar, below it the pieces
/// each splitting node made, at their offsets.
pub fn fragment_diagram(s: &Scenario, f: &Fragmented) -> String {
    let w = 760.0;
    let h = 50.0 + 34.0 * (f.splits.len() + 1) as f64;
    let mut out = open(w, h, "fragments");
    let total = f.total.max(1) as f64;
    let (x0, x1) = (170.0, w - 20.0);
    let x = |b: usize| x0 + (x1 - x0) * b as f64 / total;
    let _ = write!(
        out,
        "<text x=\"10\" y=\"34\">whole datagram</text><rect x=\"{}\" y=\"20\" width=\"{}\" height=\"20\" fill=\"#d6eaf8\" stroke=\"#2c3e50\"/><text x=\"{}\" y=\"34\" text-anchor=\"middle\" font-size=\"10\">{} bytes of payload, id {}</text>",
        n(x0),
        n(x1 - x0),
        n((x0 + x1) / 2.0),
        f.total,
        f.ident
    );
    for (k, (node, pieces)) in f.splits.iter().enumerate() {
        let y = 54.0 + 34.0 * k as f64;
        let who = s.nodes.get(*node).map_or("?", |x| x.name.as_str());
        let _ = write!(
            out,
            "<text x=\"10\" y=\"{}\">split by {}</text>",
            n(y + 14.0),
            esc(who)
        );
        for (off, len) in pieces {
            let _ = write!(
                out,
                "<g><title>offset {off}, {len} bytes</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"20\" fill=\"#fdebd0\" stroke=\"#e67e22\"/><text x=\"{}\" y=\"{}\" font-size=\"9\">{off}+{len}</text></g>",
                n(x(*off)),
                n(y),
                n((x(off + len) - x(*off)).max(1.0)),
                n(x(*off) + 3.0),
                n(y + 14.0)
            );
        }
    }
    let ends: Vec<&str> = f
        .ends
        .iter()
        .map(|&e| s.nodes.get(e).map_or("?", |x| x.name.as_str()))
        .collect();
    let _ = write!(
        out,
        "<text x=\"10\" y=\"{}\" fill=\"#555\">put back together at {}</text>",
        n(h - 8.0),
        esc(&if ends.is_empty() {
            "no host (never arrived)".to_string()
        } else {
            ends.join(", ")
        })
    );
    out.push_str("</svg>");
    out
}

/// The path the first traceroute found (probes with TTL 1 and 2): its
/// origin, then the node that answered each TTL in turn (the destination
/// last). Empty without one.
pub fn traced_path(flows: &[ProbeFlow]) -> Vec<usize> {
    // A traceroute sends TTL 1, then 2, ... (a ping with -t 1 does not).
    let traceroute =
        |f: &&ProbeFlow| f.probes.iter().any(|p| p.ttl == 1) && f.probes.iter().any(|p| p.ttl == 2);
    let Some(f) = flows.iter().find(traceroute) else {
        return Vec::new();
    };
    let mut by_ttl: BTreeMap<u8, usize> = BTreeMap::new();
    for p in &f.probes {
        if let Some((_, from, _, _)) = &p.answer {
            by_ttl.entry(p.ttl).or_insert(*from);
        }
    }
    let mut path = vec![f.origin];
    for (_, node) in by_ttl {
        if !path.contains(&node) {
            path.push(node);
        }
    }
    path
}
