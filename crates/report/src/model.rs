//! The run's datagrams read back from their recorded headers, and TCP
//! connections put together from them: which two hosts, which segments,
//! when each left and arrived or where it was dropped.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_sim::record::{Fate, PacketRecord};
use tcplab_sim::scenario::NodeKind;
use tcplab_sim::Scenario;
use tcplab_stack::Instant;

/// The IPv4 header fields a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHead {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ident: u16,
    pub ttl: u8,
    /// A fragment (more fragments, or an offset).
    pub fragment: bool,
    /// The fragment's offset in bytes and the more-fragments flag.
    pub frag_offset: usize,
    pub more_fragments: bool,
    pub dont_fragment: bool,
    pub header_len: usize,
    pub total_len: usize,
}

/// The TCP header fields a report shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpHead {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    /// Payload bytes.
    pub len: u32,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<(u32, u32)>,
    pub sack: Vec<(u32, u32)>,
}

pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;
pub const ACK: u16 = 0x10;
pub const URG: u16 = 0x20;

impl TcpHead {
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// Sequence space the segment takes (payload, SYN, FIN).
    pub fn seg_len(&self) -> u32 {
        self.len + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }

    /// Flags as tcpdump writes them: `S`, `S.`, `P.`, `F.`, `R`.
    pub fn flag_text(&self) -> String {
        let mut s = String::new();
        for (f, c) in [(SYN, 'S'), (FIN, 'F'), (PSH, 'P'), (RST, 'R'), (URG, 'U')] {
            if self.has(f) {
                s.push(c);
            }
        }
        if self.has(ACK) {
            s.push('.');
        }
        if s.is_empty() {
            s.push_str("none");
        }
        s
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Read an IPv4 header from recorded bytes (checked: `None` if short).
pub fn parse_ip(b: &[u8]) -> Option<IpHead> {
    let v = *b.first()?;
    if v >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(v & 0x0f) * 4;
    if header_len < 20 || b.len() < 20 {
        return None;
    }
    let frag = be16(b, 6)?;
    Some(IpHead {
        total_len: usize::from(be16(b, 2)?),
        ident: be16(b, 4)?,
        fragment: frag & 0x2000 != 0 || frag & 0x1fff != 0,
        frag_offset: usize::from(frag & 0x1fff) * 8,
        more_fragments: frag & 0x2000 != 0,
        dont_fragment: frag & 0x4000 != 0,
        ttl: b[8],
        proto: b[9],
        src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        header_len,
    })
}

/// Read a TCP header (and its options) that follows `ip` in `b`.
pub fn parse_tcp(ip: &IpHead, b: &[u8]) -> Option<TcpHead> {
    if ip.proto != 6 || ip.fragment {
        return None;
    }
    let t = b.get(ip.header_len..)?;
    let doff = usize::from(*t.get(12)? >> 4) * 4;
    if doff < 20 {
        return None;
    }
    let mut h = TcpHead {
        sport: be16(t, 0)?,
        dport: be16(t, 2)?,
        seq: be32(t, 4)?,
        ack: be32(t, 8)?,
        flags: be16(t, 12)? & 0x01ff,
        window: be16(t, 14)?,
        len: ip.total_len.saturating_sub(ip.header_len + doff) as u32,
        ..TcpHead::default()
    };
    // Options, as far as they were recorded.
    let opts = t.get(20..doff.min(t.len())).unwrap_or(&[]);
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        let Some(&l) = opts.get(i + 1) else { break };
        let l = usize::from(l);
        let Some(body) = opts.get(i + 2..i + l.max(2)) else {
            break;
        };
        if l < 2 {
            break;
        }
        match (kind, body.len()) {
            (2, 2) => h.mss = be16(body, 0),
            // RFC 7323 §2.3: a larger shift is taken as 14.
            (3, 1) => h.wscale = Some(body[0].min(14)),
            (4, 0) => h.sack_ok = true,
            (5, n) if n % 8 == 0 => {
                for k in 0..n / 8 {
                    if let (Some(a), Some(z)) = (be32(body, k * 8), be32(body, k * 8 + 4)) {
                        h.sack.push((a, z));
                    }
                }
            }
            (8, 8) => h.ts = Some((be32(body, 0)?, be32(body, 4)?)),
            _ => {}
        }
        i += l;
    }
    Some(h)
}

/// One recorded datagram, read.
#[derive(Debug, Clone)]
pub struct Pkt<'a> {
    pub rec: &'a PacketRecord,
    pub ip: Option<IpHead>,
    pub tcp: Option<TcpHead>,
}

pub fn read(packets: &[PacketRecord]) -> Vec<Pkt<'_>> {
    packets
        .iter()
        .map(|rec| {
            let ip = parse_ip(&rec.head);
            let tcp = ip.as_ref().and_then(|i| parse_tcp(i, &rec.head));
            Pkt { rec, ip, tcp }
        })
        .collect()
}

/// One end of a connection: a node and the addresses as that node sees
/// them (NAT may make the two ends disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct End {
    pub node: usize,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
}

/// A segment as the connection saw it: sent by one end and arrived at the
/// other, or dropped on the way.
#[derive(Debug, Clone)]
pub struct Flight {
    /// Which end sent it (0: the end that sent the first segment).
    pub by: usize,
    pub sent: Instant,
    pub tcp: TcpHead,
    /// Datagram index in the recording (the first link it crossed).
    pub packet: usize,
    /// When it reached the other end.
    pub arrived: Option<Instant>,
    /// Where it was dropped.
    pub dropped: Option<Drop>,
    /// Arrived corrupted (the receiver drops it on the checksum).
    pub corrupted: bool,
    /// Its data had been sent before (a retransmission, as tcptrace
    /// marks them: sequence space below the highest already sent).
    pub retransmission: bool,
    /// Each link it crossed, in order.
    pub hops: Vec<Hop>,
}

/// One link a segment crossed (or was dropped on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The node that sent it on this link, and when.
    pub from: usize,
    pub sent: Instant,
    pub link: usize,
    /// The node it reached, and when (`None`: dropped on the link).
    pub to: Option<(usize, Instant)>,
    pub fate: Fate,
    /// Its addresses on this link (NAT rewrites them on the way).
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
}

/// Where and why a segment was dropped on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// By a link: (time, link, fate).
    Link(Instant, usize, Fate),
    /// A router received it and sent nothing on: a filter, NAT, no route,
    /// or its TTL ran out. (time it reached the router, router node)
    NotForwarded(Instant, usize),
}

impl Drop {
    pub fn time(&self) -> Instant {
        match *self {
            Drop::Link(t, ..) | Drop::NotForwarded(t, _) => t,
        }
    }

    /// "lost on r1-server", "not forwarded by r1".
    pub fn describe(&self, s: &Scenario) -> String {
        match *self {
            Drop::Link(_, link, fate) => format!(
                "{} on {}",
                fate.name(),
                s.segments.get(link).map_or("?", |l| l.name.as_str())
            ),
            Drop::NotForwarded(_, node) => format!(
                "not forwarded by {}",
                s.nodes.get(node).map_or("?", |n| n.name.as_str())
            ),
        }
    }
}

/// A TCP connection seen in the run.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Index in the report (0, 1, ...), in order of the first segment.
    pub id: usize,
    /// End 0 sent the first segment (the client, for a normal open); end
    /// 1 is the far end, when something arrived there.
    pub ends: [Option<End>; 2],
    pub flights: Vec<Flight>,
    /// Initial sequence numbers of each end (from its SYN, or its first
    /// segment), for relative numbers.
    pub isn: [Option<u32>; 2],
    /// Window scale each end announced (applied when both did).
    pub wscale: [u8; 2],
    /// The SYN each end sent (its sequence number), while putting the
    /// connection together: a SYN with another number on the same
    /// addresses is a new connection.
    syn: [Option<u32>; 2],
    /// Until when each end's stack events belong to this connection: the
    /// start of a later one on the same addresses.
    pub until: [Option<Instant>; 2],
}

impl Conn {
    /// The nodes a ladder draws as columns, left to right: end 0, the
    /// routers its segments crossed in the order they crossed them (end
    /// 1's segments add any they alone crossed, in reverse), end 1 (or
    /// `None` when nothing reached a far host).
    pub fn columns(&self) -> Vec<Option<usize>> {
        let mut mid: Vec<usize> = Vec::new();
        let ends: Vec<usize> = self.ends.iter().flatten().map(|e| e.node).collect();
        for by in [0, 1] {
            for f in self.flights.iter().filter(|f| f.by == by) {
                let mut seen: Vec<usize> = f
                    .hops
                    .iter()
                    .filter_map(|h| h.to.map(|t| t.0))
                    .filter(|n| !ends.contains(n))
                    .collect();
                if by == 1 {
                    seen.reverse();
                }
                for n in seen {
                    if !mid.contains(&n) {
                        mid.push(n);
                    }
                }
            }
        }
        let mut cols = vec![self.ends[0].map(|e| e.node)];
        cols.extend(mid.into_iter().map(Some));
        cols.push(self.ends[1].map(|e| e.node));
        cols
    }
}

impl Conn {
    pub fn first_time(&self) -> Instant {
        self.flights.first().map_or(Instant::ZERO, |f| f.sent)
    }

    pub fn last_time(&self) -> Instant {
        self.flights
            .iter()
            .map(|f| f.arrived.unwrap_or(f.sent).max(f.sent))
            .max()
            .unwrap_or(Instant::ZERO)
    }

    /// Sequence number relative to the sending end's ISN.
    pub fn rel_seq(&self, by: usize, seq: u32) -> u32 {
        seq.wrapping_sub(self.isn[by].unwrap_or(seq))
    }

    /// Acknowledgment number relative to the other end's ISN.
    pub fn rel_ack(&self, by: usize, ack: u32) -> u32 {
        ack.wrapping_sub(self.isn[1 - by].unwrap_or(ack))
    }

    /// "client 10.0.0.1:40000 → server 10.0.2.2:80".
    pub fn title(&self, scenario: &Scenario) -> String {
        let name = |e: &Option<End>| match e {
            Some(e) => format!(
                "{} {}",
                scenario.nodes.get(e.node).map_or("?", |n| n.name.as_str()),
                e.local
            ),
            None => "?".into(),
        };
        let far = match (&self.ends[1], &self.ends[0]) {
            (Some(_), _) => name(&self.ends[1]),
            (None, Some(e)) => format!("{} (nothing arrived)", e.remote),
            (None, None) => "?".into(),
        };
        format!("{} → {}", name(&self.ends[0]), far)
    }
}

/// A datagram's identity across hops: what no router changes (NAT
/// rewrites addresses and ports, routers the TTL).
fn identity(ip: &IpHead, t: &TcpHead) -> (u16, u32, u32, u16, u32) {
    (ip.ident, t.seq, t.ack, t.flags, t.len)
}

/// Put TCP connections together from the datagrams: a segment leaves a
/// host (its first hop), crosses routers, and arrives at a host; the two
/// ends are the views of the sending and the receiving host.
pub fn connections(scenario: &Scenario, pkts: &[Pkt<'_>], end: Instant) -> Vec<Conn> {
    let is_host = |n: usize| {
        scenario
            .nodes
            .get(n)
            .is_some_and(|s| s.kind == NodeKind::Host)
    };
    let initial_ttl = |n: usize| {
        scenario
            .nodes
            .get(n)
            .and_then(|s| s.default_ttl)
            .unwrap_or(64)
    };
    // What each router sent of its own, by (router, source, destination):
    // evidence that a segment to a router's address ended there (it
    // answered) rather than being dropped after a NAT rewrote it.
    let answered: std::collections::HashSet<(usize, SocketAddrV4, SocketAddrV4)> = pkts
        .iter()
        .filter(|q| {
            scenario
                .nodes
                .get(q.rec.node)
                .is_some_and(|s| s.kind == NodeKind::Router)
        })
        .filter_map(|q| {
            let (qi, qt) = (q.ip.as_ref()?, q.tcp.as_ref()?);
            Some((
                q.rec.node,
                SocketAddrV4::new(qi.src, qt.sport),
                SocketAddrV4::new(qi.dst, qt.dport),
            ))
        })
        .collect();
    let owns = |n: usize, addr: std::net::Ipv4Addr| {
        scenario
            .nodes
            .get(n)
            .is_some_and(|s| s.ifaces.iter().any(|f| f.addr.address() == addr))
    };
    // Hops of each datagram by identity, in time order.
    let mut hops: HashMap<(u16, u32, u32, u16, u32), Vec<usize>> = HashMap::new();
    for (i, p) in pkts.iter().enumerate() {
        if let (Some(ip), Some(t)) = (&p.ip, &p.tcp) {
            hops.entry(identity(ip, t)).or_default().push(i);
        }
    }
    let mut conns: Vec<Conn> = Vec::new();
    let mut by_end: BTreeMap<End, (usize, usize)> = BTreeMap::new();
    for (i, p) in pkts.iter().enumerate() {
        let (Some(ip), Some(t)) = (&p.ip, &p.tcp) else {
            continue;
        };
        // A first hop: sent by a host from one of its own addresses, or
        // by a router that did not receive it first — from its own
        // address (a TCP tunnel's gateway, a service on the router, a
        // RST for a closed port), or a RST on another's behalf (a
        // firewall's reject). (What a router sends out of a tunnel on
        // another's address came in whole, encapsulated: not its own.)
        let node = p.rec.node;
        let same = hops.get(&identity(ip, t)).map_or(&[][..], |v| &v[..]);
        let origin = match scenario.nodes.get(node).map(|n| n.kind) {
            Some(NodeKind::Host) => owns(node, ip.src),
            // (With the router's own initial TTL: what it forwards, even
            // out of a tunnel or put back together from fragments, left
            // with one less.)
            Some(NodeKind::Router) => {
                (owns(node, ip.src) || t.has(RST))
                    && ip.ttl == initial_ttl(node)
                    && !same.iter().any(|&h| {
                        pkts[h]
                            .rec
                            .arrival
                            .is_some_and(|(at, to)| to == node && at <= p.rec.time)
                    })
            }
            None => false,
        };
        if !origin {
            continue;
        }
        let from = End {
            node,
            local: SocketAddrV4::new(ip.src, t.sport),
            remote: SocketAddrV4::new(ip.dst, t.dport),
        };
        // Follow it: the hop that reached a host other than the sender.
        let mut arrived = None;
        let mut dropped = None;
        let mut corrupted = false;
        let mut far = None;
        // The last router it reached, and when.
        let mut at_router = None;
        let mut path: Vec<Hop> = Vec::new();
        for &h in same {
            let q = &pkts[h];
            if q.rec.time < p.rec.time || (h != i && q.rec.node == node) {
                continue;
            }
            // A copy lost while another copy (a link duplicated it on the
            // way) left the same node and went on: the datagram did not
            // end here.
            if q.rec.arrival.is_none()
                && q.rec.node != node
                && same.iter().any(|&d| {
                    d != h
                        && pkts[d].rec.node == q.rec.node
                        && pkts[d].rec.time >= p.rec.time
                        && pkts[d].rec.arrival.is_some()
                })
            {
                continue;
            }
            // A bit flipped on any hop stays flipped.
            corrupted |= q.rec.fate == Fate::Corrupted;
            if let (Some(qi), Some(qt)) = (&q.ip, &q.tcp) {
                path.push(Hop {
                    from: q.rec.node,
                    sent: q.rec.time,
                    link: q.rec.link,
                    to: q.rec.arrival.map(|(t, n)| (n, t)),
                    fate: q.rec.fate,
                    src: SocketAddrV4::new(qi.src, qt.sport),
                    dst: SocketAddrV4::new(qi.dst, qt.dport),
                });
            }
            // It ends at a host, or at a router that has its destination
            // address, does not send it on (as a NAT does) and answers on
            // that pair of addresses (a router that drops what its NAT
            // rewrote does not).
            let ends_at = |to: usize, at: Instant| {
                is_host(to)
                    || (q.ip.as_ref()).zip(q.tcp.as_ref()).is_some_and(|(qi, qt)| {
                        owns(to, qi.dst)
                            && answered.contains(&(
                                to,
                                SocketAddrV4::new(qi.dst, qt.dport),
                                SocketAddrV4::new(qi.src, qt.sport),
                            ))
                    }) && !same
                        .iter()
                        .any(|&f| pkts[f].rec.node == to && pkts[f].rec.time >= at)
            };
            match q.rec.arrival {
                // Still on its way when the run ended.
                Some((at, _)) if at > end => {
                    at_router = None;
                    break;
                }
                Some((at, to)) if to != node && ends_at(to, at) => {
                    if let (Some(qi), Some(qt)) = (&q.ip, &q.tcp) {
                        far = Some(End {
                            node: to,
                            local: SocketAddrV4::new(qi.dst, qt.dport),
                            remote: SocketAddrV4::new(qi.src, qt.sport),
                        });
                    }
                    arrived = Some(at);
                    at_router = None;
                    break;
                }
                Some((at, to)) => at_router = Some((at, to)),
                None => {
                    dropped = Some(Drop::Link(q.rec.time, q.rec.link, q.rec.fate));
                    at_router = None;
                    break;
                }
            }
        }
        // Reached a router before the run ended, and nothing went on.
        if let Some((at, router)) = at_router {
            if at < end {
                dropped = Some(Drop::NotForwarded(at, router));
            }
        }
        // A SYN with a new number on addresses already seen: the old
        // connection is over (a port reused after TIME-WAIT, `nc -p`).
        // (A SYN-ACK with a new number is the far end of a new one.)
        if let Some(&(ci, by)) = by_end.get(&from) {
            let c = &conns[ci];
            let reused = t.has(SYN) && c.syn[by].is_some_and(|s| s != t.seq);
            if reused {
                for e in c.ends.iter().flatten() {
                    by_end.remove(e);
                }
            }
        }
        if let Some(f) = far {
            if t.has(SYN) {
                if let Some(&(ci, b)) = by_end.get(&f) {
                    if conns[ci].syn[b].is_some() && !by_end.contains_key(&from) {
                        // The far end is known from an earlier connection.
                        let old = conns[ci].ends;
                        for e in old.iter().flatten() {
                            by_end.remove(e);
                        }
                    }
                }
            }
        }
        let known = by_end.get(&from).copied();
        let (ci, by) = match known {
            Some(k) => k,
            None => {
                let mut found = None;
                if let Some(f) = far {
                    found = by_end.get(&f).map(|&(c, b)| (c, 1 - b));
                }
                match found {
                    Some(k) => k,
                    None => {
                        let id = conns.len();
                        conns.push(Conn {
                            id,
                            ends: [Some(from), None],
                            flights: Vec::new(),
                            isn: [None, None],
                            wscale: [0, 0],
                            syn: [None, None],
                            until: [None, None],
                        });
                        (id, 0)
                    }
                }
            }
        };
        if t.has(SYN) && conns[ci].syn[by].is_none() {
            conns[ci].syn[by] = Some(t.seq);
        }
        by_end.insert(from, (ci, by));
        let conn = &mut conns[ci];
        if conn.ends[by].is_none() {
            conn.ends[by] = Some(from);
        }
        if let Some(f) = far {
            if conn.ends[1 - by].is_none() {
                conn.ends[1 - by] = Some(f);
                by_end.insert(f, (ci, 1 - by));
            }
        }
        conn.flights.push(Flight {
            by,
            sent: p.rec.time,
            tcp: t.clone(),
            packet: i,
            arrived,
            dropped,
            corrupted,
            retransmission: false,
            hops: path,
        });
    }
    for c in &mut conns {
        finish(c);
    }
    // Each end's events belong to a connection until a later one on the
    // same addresses began: from the last connection back, the start of
    // the nearest later one on each end (one pass, not a search of the
    // later connections for each).
    let mut next: HashMap<End, Instant> = HashMap::new();
    for c in conns.iter_mut().rev() {
        for k in 0..2 {
            c.until[k] = c.ends[k].and_then(|e| next.get(&e).copied());
        }
        let start = c.first_time();
        for e in c.ends.iter().flatten() {
            next.insert(*e, start);
        }
    }
    conns
}

/// ISNs, window scales and retransmission marks, once all segments are in.
fn finish(c: &mut Conn) {
    let mut ws: [Option<u8>; 2] = [None, None];
    for f in &c.flights {
        if c.isn[f.by].is_none() {
            c.isn[f.by] = Some(f.tcp.seq);
        }
        if f.tcp.has(SYN) {
            c.isn[f.by] = Some(f.tcp.seq);
            ws[f.by] = f.tcp.wscale;
        }
    }
    if let [Some(a), Some(b)] = ws {
        c.wscale = [a, b];
    }
    let mut highest: [Option<u32>; 2] = [None, None];
    let isn = c.isn;
    for f in &mut c.flights {
        let len = f.tcp.seg_len();
        if len == 0 {
            continue;
        }
        let rel = f.tcp.seq.wrapping_sub(isn[f.by].unwrap_or(f.tcp.seq));
        let end = rel.wrapping_add(len);
        match highest[f.by] {
            Some(h) if rel < h => f.retransmission = true,
            _ => {}
        }
        highest[f.by] = Some(highest[f.by].map_or(end, |h| h.max(end)));
    }
}
