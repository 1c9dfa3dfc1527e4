//! Connection tracking: every flow a router forwards, known by the tuples
//! of both its directions, with its protocol state and a timeout.
//!
//! A packet is **NEW** when it starts a flow (a TCP SYN, the first UDP
//! datagram, an ICMP echo request) or belongs to one that has not been
//! answered yet; **ESTABLISHED** once the flow has been seen both ways;
//! **RELATED** when it is an ICMP error quoting a packet of a known flow;
//! **INVALID** otherwise: a TCP segment with impossible flags, a TCP
//! segment with no flow that is neither a SYN nor a bare ACK (an ACK is
//! picked up mid-stream as Linux's default `nf_conntrack_tcp_loose=1`
//! does; [`Conntrack::tcp_loose`] off makes it INVALID too), an echo reply
//! or ICMP error that answers nothing.
//!
//! TCP is followed through SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT,
//! CLOSE_WAIT, LAST_ACK, TIME_WAIT and CLOSE (after a RST; a RST before
//! any reply, a refused connection, ends the flow at once), by flags,
//! with no window checks on ordinary segments ("be liberal") but a RST's
//! sequence number checked as Linux's conntrack checks it (RFC 5961
//! §3.2): one below the receiver's highest ACK or past its window is
//! INVALID (so a blind RST is neither translated nor closes the flow),
//! one in the window but not at the exact next byte passes without
//! closing an established flow (the receiver answers it with a challenge
//! ACK). Timeouts are Linux's, raised where
//! RFC 5382 and RFC 4787 ask more of a NAT: transitory TCP states 240 s
//! (REQ-5: not under 4 minutes), established TCP 5 days, UDP 30 s
//! unanswered (120 s when NAT translated it and the destination port is
//! not well-known: RFC 4787 REQ-5) and 300 s once a stream (below; REQ-5:
//! 5 minutes recommended), ICMP 60 s (RFC 5508), GRE 30 s unanswered and
//! 180 s once answered (Linux's `nf_conntrack_proto_gre`, keys 0 for a
//! GRE that is not PPTP's), other protocols 600 s.
//!
//! A UDP (or other) flow is *assured* when it is a stream: answered, and
//! still carrying traffic two seconds after it began (Linux's
//! `nf_conntrack_proto_udp.c`); a single query and its answer is not, and
//! keeps the unanswered timeout. A TCP flow is assured once established.
//!
//! The table is bounded ([`Conntrack::max`]). When it is full, a new flow
//! first evicts the flow closest to expiry that is unassured or a TCP
//! flow that is closing (FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT,
//! CLOSE: Linux's early drop and `tcp_can_early_drop`, looking at most 64
//! entries); if every candidate is an assured live flow, the new one is
//! refused (INVALID, counted in `table_full`). So closed connections and
//! one-shot exchanges cannot fill the table against others for minutes;
//! established flows are never evicted for new ones.
//!
//! An entry whose time is up is never found, even before the expiry queue
//! (worked through in batches) removes it: a packet for it starts a new
//! flow, as Linux's lookup skips expired entries (`nf_ct_is_expired`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use tcplab_base::hash::KeyedState;

use crate::packet::{flags, Info, Tuple, GRE, ICMP, TCP, UDP};

/// The state a packet is in, as `ct state` matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
}

/// Which direction of its flow a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    Orig,
    Reply,
}

/// TCP as conntrack follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpCt {
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
}

impl fmt::Display for TcpCt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpCt::SynSent => "SYN_SENT",
            TcpCt::SynRecv => "SYN_RECV",
            TcpCt::Established => "ESTABLISHED",
            TcpCt::FinWait => "FIN_WAIT",
            TcpCt::CloseWait => "CLOSE_WAIT",
            TcpCt::LastAck => "LAST_ACK",
            TcpCt::TimeWait => "TIME_WAIT",
            TcpCt::Close => "CLOSE",
        })
    }
}

/// Timeouts per protocol state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp_syn_sent: Duration,
    pub tcp_syn_recv: Duration,
    pub tcp_fin_wait: Duration,
    pub tcp_close_wait: Duration,
    pub tcp_last_ack: Duration,
    /// A connection picked up mid-stream, not answered yet.
    pub tcp_unacknowledged: Duration,
    pub tcp_established: Duration,
    pub tcp_time_wait: Duration,
    pub tcp_close: Duration,
    /// UDP, not (yet) a stream (Linux's `nf_conntrack_udp_timeout`).
    pub udp: Duration,
    /// UDP, not a stream but translated by NAT, to a port from 1024 up.
    pub udp_nat_min: Duration,
    /// UDP, a stream: assured (`nf_conntrack_udp_timeout_stream`).
    pub udp_stream: Duration,
    pub icmp: Duration,
    /// GRE, not answered yet (Linux's `GRE_TIMEOUT_UNREPLIED`).
    pub gre: Duration,
    /// GRE, answered (`GRE_TIMEOUT_REPLIED`).
    pub gre_stream: Duration,
    pub generic: Duration,
}

impl Default for Timeouts {
    /// Linux's, raised where a NAT's RFCs ask more: the transitory TCP
    /// states 240 s (RFC 5382 REQ-5), UDP mappings 120 s towards ports
    /// from 1024 and 300 s as a stream (RFC 4787 REQ-5), ICMP 60 s (RFC
    /// 5508 REQ-2).
    fn default() -> Timeouts {
        let transitory = Duration::from_secs(240);
        Timeouts {
            tcp_syn_sent: transitory,
            tcp_syn_recv: transitory,
            tcp_fin_wait: transitory,
            tcp_close_wait: transitory,
            tcp_last_ack: transitory,
            tcp_unacknowledged: transitory,
            tcp_established: Duration::from_secs(432_000),
            tcp_time_wait: Duration::from_secs(120),
            tcp_close: Duration::from_secs(10),
            udp: Duration::from_secs(30),
            udp_nat_min: Duration::from_secs(120),
            udp_stream: Duration::from_secs(300),
            icmp: Duration::from_secs(60),
            gre: Duration::from_secs(30),
            gre_stream: Duration::from_secs(180),
            generic: Duration::from_secs(600),
        }
    }
}

impl Timeouts {
    /// Linux 6.1's defaults (`nf_conntrack_tcp_timeout_*`,
    /// `nf_conntrack_udp_timeout{,_stream}`, `nf_conntrack_icmp_timeout`,
    /// `nf_conntrack_generic_timeout`), for comparing a listing with a
    /// kernel's.
    pub fn linux() -> Timeouts {
        let s = Duration::from_secs;
        Timeouts {
            tcp_syn_sent: s(120),
            tcp_syn_recv: s(60),
            tcp_fin_wait: s(120),
            tcp_close_wait: s(60),
            tcp_last_ack: s(30),
            tcp_unacknowledged: s(300),
            tcp_established: s(432_000),
            tcp_time_wait: s(120),
            tcp_close: s(10),
            udp: s(30),
            udp_nat_min: s(30),
            udp_stream: s(120),
            icmp: s(30),
            gre: s(30),
            gre_stream: s(180),
            generic: s(600),
        }
    }
}

/// One tracked flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    /// The first packet's tuple, as it arrived.
    pub orig: Tuple,
    /// The tuple replies arrive with (after NAT: towards the translated
    /// addresses and ports).
    pub reply: Tuple,
    pub tcp: Option<TcpCt>,
    pub seen_reply: bool,
    pub assured: bool,
    /// When its first packet came.
    pub created: Duration,
    pub expires: Duration,
    /// Entered in the table (its first packet was forwarded).
    pub confirmed: bool,
    pub snat: bool,
    pub dnat: bool,
    /// The inside endpoint whose NAT mapping let this flow in (RFC 4787
    /// filtering): the mapping lives while such a flow does.
    pub holds: Option<(std::net::Ipv4Addr, u16)>,
    fin: [bool; 2],
    /// What each direction's TCP segments said (for checking a RST).
    seen: [Seen; 2],
    /// The direction and end of the last segment other than a RST (a RST
    /// right behind its sender's own last segment is exact too).
    last_segment: Option<(usize, u32)>,
    /// The time this flow is filed under in the expiry queue (at most its
    /// `expires`: the queue is brought up to date lazily).
    queued: Duration,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

impl Entry {
    /// Whether early drop may evict it for a new flow: unassured, or a
    /// TCP flow on its way out (Linux's `tcp_can_early_drop`).
    fn may_early_drop(&self) -> bool {
        !self.assured
            || matches!(
                self.tcp,
                Some(
                    TcpCt::FinWait
                        | TcpCt::CloseWait
                        | TcpCt::LastAck
                        | TcpCt::TimeWait
                        | TcpCt::Close
                )
            )
    }
}

/// What one direction of a TCP flow has sent, as far as a RST's check
/// needs it (Linux's `ip_ct_tcp_state`, reduced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    /// Any segment seen (the numbers below mean something).
    known: bool,
    /// One past the highest sequence number sent (SYN and FIN count).
    end: u32,
    /// An ACK seen: `max_ack` and `edge` mean something.
    acked: bool,
    /// The highest acknowledgment sent: the next byte it expects.
    max_ack: u32,
    /// The highest right edge of the window it offered (ACK + window).
    edge: u32,
    /// Its SYN's window scale option, if it sent one.
    scale: Option<u8>,
}

/// A TCP segment's numbers, read from the datagram `b` (`None` when the
/// header is not all there).
struct Numbers {
    seq: u32,
    ack: u32,
    window: u32,
    /// Sequence space taken: data, SYN and FIN.
    len: u32,
    wscale: Option<u8>,
}

fn tcp_numbers(p: &Info, b: &[u8]) -> Option<Numbers> {
    let t = b.get(p.ihl..p.len)?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(t.get(at..at + 4)?.try_into().ok()?))
    };
    let doff = usize::from(*t.get(12)? >> 4) * 4;
    if doff < 20 || t.len() < doff {
        return None;
    }
    let f = t[13];
    let syn = u32::from(f & flags::SYN != 0);
    let fin = u32::from(f & flags::FIN != 0);
    let mut wscale = None;
    if syn == 1 {
        // RFC 7323 §2.2: kind 3, length 3, the shift (at most 14).
        let mut o = &t[20..doff];
        while let Some(&kind) = o.first() {
            match kind {
                0 => break,
                1 => o = &o[1..],
                _ => {
                    let Some(&n) = o.get(1) else { break };
                    let n = usize::from(n);
                    if n < 2 || o.len() < n {
                        break;
                    }
                    if kind == 3 && n == 3 {
                        wscale = Some(o[2].min(14));
                    }
                    o = &o[n..];
                }
            }
        }
    }
    Some(Numbers {
        seq: word(4)?,
        ack: word(8)?,
        window: u32::from(u16::from_be_bytes([t[14], t[15]])),
        len: u32::try_from(t.len() - doff).ok()? + syn + fin,
        wscale,
    })
}

/// `a` is after `b` in sequence space (RFC 9293 §3.4's arithmetic).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// What a RST does to its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RstCheck {
    /// At the exact next sequence number: the flow closes.
    Closes,
    /// In the window but not exact: passed on (the receiver answers with
    /// a challenge ACK, RFC 5961 §3.2), the flow stays as it is.
    InWindow,
    /// Outside the receiver's window: INVALID.
    Outside,
}

/// Track what a segment from direction `d` says; for a RST, say what it
/// does (RFC 5961 §3.2's check, as Linux's conntrack makes it: below the
/// receiver's highest ACK or past its window is invalid; the state changes
/// only at its exact next sequence number, or right after the sender's
/// own last segment).
fn track_numbers(e: &mut Entry, d: usize, f: u8, n: &Numbers) -> RstCheck {
    let r = 1 - d;
    if f & flags::RST != 0 {
        // A RST is judged, and changes nothing of what is known: an
        // in-window one that closes nothing must not make the next one
        // with the same number "exact".
        // Its ACK must fall within what the other side has sent, not
        // past its end nor more than a window before it (Linux's
        // tcp_in_window: MAXACKWINDOW, the sender's window or 66,000 when
        // none is known), so a RST forged against a SYN without its ISN
        // is INVALID. An ACK of 0 in a RST counts as right (Linux lets
        // stacks that send one pass).
        if f & flags::ACK != 0 && n.ack != 0 && e.seen[r].known {
            let end = e.seen[r].end;
            let s = &e.seen[d];
            let window = if s.acked {
                s.edge.wrapping_sub(s.max_ack)
            } else {
                0
            };
            let lowest = end.wrapping_sub(window.max(66_000)).wrapping_sub(1);
            if after(n.ack, end) || !after(n.ack, lowest) {
                return RstCheck::Outside;
            }
        }
        if !e.seen[r].acked {
            return RstCheck::Closes;
        }
        let (max_ack, edge) = (e.seen[r].max_ack, e.seen[r].edge);
        return if after(max_ack, n.seq) || after(n.seq, edge) {
            RstCheck::Outside
        } else if n.seq == max_ack || e.last_segment == Some((d, n.seq)) {
            RstCheck::Closes
        } else {
            RstCheck::InWindow
        };
    }
    let end = n.seq.wrapping_add(n.len);
    e.last_segment = Some((d, end));
    let s = &mut e.seen[d];
    if !s.known || after(end, s.end) {
        s.end = end;
    }
    s.known = true;
    if f & flags::SYN != 0 {
        s.scale = n.wscale;
    }
    if f & flags::ACK != 0 {
        // A SYN's window is never scaled; the rest are when both SYNs
        // offered scaling (RFC 7323 §2.2).
        let shift = match (e.seen[d].scale, e.seen[r].scale) {
            (Some(mine), Some(_)) if f & flags::SYN == 0 => mine,
            _ => 0,
        };
        let s = &mut e.seen[d];
        let edge = n.ack.wrapping_add(n.window << shift);
        if !s.acked || after(n.ack, s.max_ack) {
            s.max_ack = n.ack;
        }
        if !s.acked || after(edge, s.edge) {
            s.edge = edge;
        }
        s.acked = true;
    }
    RstCheck::Closes
}

/// What tracking said about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    pub state: CtState,
    /// The flow and the packet's direction in it.
    pub flow: Option<(u64, Dir)>,
    /// For RELATED: whether the quoted packet is as it was after
    /// translation (so NAT must translate the error back).
    pub quoted_translated: bool,
}

impl Track {
    fn invalid() -> Track {
        Track {
            state: CtState::Invalid,
            flow: None,
            quoted_translated: false,
        }
    }
}

/// A flow's reply tuple is already another flow's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clash;

/// Counters, as `conntrack -S` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtStats {
    pub found: u64,
    /// Flows entered in the table (confirmed).
    pub new: u64,
    pub invalid: u64,
    pub early_drop: u64,
    pub table_full: u64,
    pub expired: u64,
}

/// The connection table.
#[derive(Debug, Clone)]
pub struct Conntrack {
    entries: BTreeMap<u64, Entry>,
    /// Keyed SipHash (tuples come from the network, so an attacker must
    /// not be able to aim them at one bucket); never iterated, so its order
    /// cannot reach any output.
    index: HashMap<Tuple, (u64, Dir), KeyedState>,
    by_expiry: BTreeSet<(Duration, u64)>,
    next_id: u64,
    /// Entries the table holds at most.
    pub max: usize,
    /// Mid-stream pickup (Linux's `nf_conntrack_tcp_loose`, 1 by default
    /// there and here): a TCP segment with ACK and no SYN, FIN or RST that
    /// belongs to no flow starts one as ESTABLISHED (the packet is NEW to
    /// the rules), so connections survive a flush or a policy installed
    /// under them. Off: it is INVALID.
    pub tcp_loose: bool,
    pub timeouts: Timeouts,
    pub stats: CtStats,
}

/// Entries checked for early drop when the table is full.
const EARLY_DROP_SCAN: usize = 64;
/// Expired entries removed per packet at most (the rest on later ones).
const GC_BATCH: usize = 64;
/// An answered flow still busy this long after it began is a stream
/// (assured): Linux's UDP rule (`stream_ts`, two seconds).
const STREAM_AFTER: Duration = Duration::from_secs(2);

impl Conntrack {
    /// A table of at most `max` flows; `seed` keys its hash index.
    pub fn new(max: usize, seed: u64) -> Conntrack {
        let k1 = seed.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
        Conntrack {
            entries: BTreeMap::new(),
            index: HashMap::with_hasher(KeyedState::with_keys(seed, k1)),
            by_expiry: BTreeSet::new(),
            next_id: 1,
            max: max.max(1),
            tcp_loose: true,
            timeouts: Timeouts::default(),
            stats: CtStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn lookup(&self, t: &Tuple) -> Option<(u64, Dir)> {
        self.index.get(t).copied()
    }

    /// Whether a tuple is in use (by an entry's either direction).
    pub fn in_use(&self, t: &Tuple) -> bool {
        self.index.contains_key(t)
    }

    fn timeout(&self, e: &Entry) -> Duration {
        let t = &self.timeouts;
        match (e.orig.proto, e.tcp) {
            // A connection picked up mid-stream and not answered yet
            // keeps a transitory timeout (Linux caps it too, at its
            // "unacknowledged" 300 s): a flood of stray ACKs cannot hold
            // the table for days.
            (TCP, Some(TcpCt::Established)) if !e.seen_reply => t.tcp_unacknowledged,
            (TCP, Some(TcpCt::Established)) => t.tcp_established,
            (TCP, Some(TcpCt::TimeWait)) => t.tcp_time_wait,
            (TCP, Some(TcpCt::Close)) => t.tcp_close,
            (TCP, Some(TcpCt::SynRecv)) => t.tcp_syn_recv,
            (TCP, Some(TcpCt::FinWait)) => t.tcp_fin_wait,
            (TCP, Some(TcpCt::CloseWait)) => t.tcp_close_wait,
            (TCP, Some(TcpCt::LastAck)) => t.tcp_last_ack,
            (TCP, _) => t.tcp_syn_sent,
            (UDP, _) if e.assured => t.udp_stream,
            // RFC 4787 REQ-5: a NAT's UDP mapping lives at least two
            // minutes, answered or not; REQ-5a allows less towards the
            // well-known ports (DNS answers fast or not at all).
            (UDP, _) if (e.snat || e.dnat) && e.orig.dport >= 1024 => t.udp.max(t.udp_nat_min),
            (UDP, _) => t.udp,
            (ICMP, _) => t.icmp,
            (GRE, _) if e.seen_reply => t.gre_stream,
            (GRE, _) => t.gre,
            _ => t.generic,
        }
    }

    /// A packet moved the flow's timeout. The expiry queue keeps the old
    /// time and is corrected when that time comes (so a busy flow costs no
    /// queue operation per packet).
    fn refresh(&mut self, id: u64, now: Duration) {
        let Some(e) = self.entries.get(&id) else {
            return;
        };
        let new = now + self.timeout(e);
        self.expire_at(id, new);
    }

    /// Set a flow's expiry; one sooner than filed (a new flow, a state
    /// with a shorter timeout, a flow ended) is filed again.
    fn expire_at(&mut self, id: u64, at: Duration) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.expires = at;
            if at < e.queued {
                self.by_expiry.remove(&(e.queued, id));
                e.queued = at;
                self.by_expiry.insert((at, id));
            }
        }
    }

    /// Remove a flow; returns it.
    pub fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.entries.remove(&id)?;
        self.by_expiry.remove(&(e.queued, id));
        if self.index.get(&e.orig).is_some_and(|(i, _)| *i == id) {
            self.index.remove(&e.orig);
        }
        if self.index.get(&e.reply).is_some_and(|(i, _)| *i == id) {
            self.index.remove(&e.reply);
        }
        Some(e)
    }

    /// Remove flows whose time is up (a bounded batch); returns them, for
    /// NAT to release their mappings.
    pub fn expire(&mut self, now: Duration) -> Vec<Entry> {
        let mut gone = Vec::new();
        while gone.len() < GC_BATCH {
            let Some(&(at, id)) = self.by_expiry.first() else {
                break;
            };
            if at > now {
                break;
            }
            self.by_expiry.remove(&(at, id));
            match self.entries.get_mut(&id) {
                Some(e) if e.expires > now => {
                    // Refreshed since it was filed: file it again.
                    e.queued = e.expires;
                    self.by_expiry.insert((e.expires, id));
                }
                Some(_) => {
                    if let Some(e) = self.remove(id) {
                        self.stats.expired += 1;
                        gone.push(e);
                    }
                }
                None => {}
            }
        }
        gone
    }

    /// Remove the flow of tuple `t` if its time is up by `now` (the queue
    /// removes expired flows in batches, so one may linger): it must not
    /// be found — Linux's lookup skips it (`nf_ct_is_expired`) — or an
    /// expired flow would let unsolicited packets through as its replies.
    pub fn reap_stale(&mut self, now: Duration, t: &Tuple, gone: &mut Vec<Entry>) {
        let Some((id, _)) = self.lookup(t) else {
            return;
        };
        if self.entries.get(&id).is_some_and(|e| e.expires <= now) {
            if let Some(e) = self.remove(id) {
                self.stats.expired += 1;
                gone.push(e);
            }
        }
    }

    /// Make room for a new flow; false if the table is full of flows that
    /// must not be evicted. Evicted flows are returned in `gone`.
    fn make_room(&mut self, gone: &mut Vec<Entry>) -> bool {
        if self.entries.len() < self.max {
            return true;
        }
        let victim = self
            .by_expiry
            .iter()
            .take(EARLY_DROP_SCAN)
            .map(|&(_, id)| id)
            .find(|id| self.entries.get(id).is_some_and(Entry::may_early_drop));
        match victim {
            Some(id) => {
                if let Some(e) = self.remove(id) {
                    self.stats.early_drop += 1;
                    gone.push(e);
                }
                true
            }
            None => {
                self.stats.table_full += 1;
                false
            }
        }
    }

    fn create(&mut self, now: Duration, p: &Info, tcp: Option<TcpCt>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let orig = p.tuple();
        let e = Entry {
            id,
            orig,
            reply: orig.invert(),
            tcp,
            seen_reply: false,
            assured: false,
            created: now,
            expires: now,
            confirmed: false,
            snat: false,
            dnat: false,
            holds: None,
            fin: [false; 2],
            seen: [Seen::default(); 2],
            last_segment: None,
            queued: Duration::MAX,
            packets: [1, 0],
            bytes: [p.len as u64, 0],
        };
        self.entries.insert(id, e);
        self.index.insert(orig, (id, Dir::Orig));
        self.refresh(id, now);
        id
    }

    /// Enter a flow in the table with its final reply tuple (after NAT
    /// chose it). Fails if another flow already uses that tuple.
    pub fn confirm(&mut self, id: u64, reply: Tuple) -> Result<(), Clash> {
        let Some(e) = self.entries.get(&id) else {
            return Err(Clash);
        };
        if e.confirmed {
            return Ok(());
        }
        if let Some(&(other, _)) = self.index.get(&reply) {
            if other != id {
                return Err(Clash);
            }
        }
        let old = e.reply;
        if self.index.get(&old).is_some_and(|(i, _)| *i == id) {
            self.index.remove(&old);
        }
        self.index.insert(reply, (id, Dir::Reply));
        if let Some(e) = self.entries.get_mut(&id) {
            e.reply = reply;
            e.confirmed = true;
        }
        // Counted when entered, as Linux's `insert`: a flow whose first
        // packet was dropped never was.
        self.stats.new += 1;
        Ok(())
    }

    /// Change the reply tuple an unconfirmed flow will be entered with.
    pub fn confirm_tentative(&mut self, id: u64, reply: Tuple) -> bool {
        match self.entries.get_mut(&id) {
            Some(e) if !e.confirmed => {
                e.reply = reply;
                true
            }
            _ => false,
        }
    }

    /// The flow came in through the mapping of inside endpoint `ep`.
    pub fn set_holds(&mut self, id: u64, ep: (std::net::Ipv4Addr, u16)) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.holds = Some(ep);
        }
    }

    /// NAT translates the flow (its timeout may change: RFC 4787 REQ-5).
    pub fn set_nat(&mut self, now: Duration, id: u64, snat: bool, dnat: bool) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.snat |= snat;
            e.dnat |= dnat;
        }
        self.refresh(id, now);
    }

    /// Track one packet at `now`. A NEW flow is created unconfirmed: call
    /// [`Conntrack::confirm`] when its first packet is forwarded, or
    /// [`Conntrack::remove`] if it is dropped. Flows evicted to make room
    /// are returned in `gone`.
    pub fn track(&mut self, now: Duration, p: &Info, b: &[u8], gone: &mut Vec<Entry>) -> Track {
        if p.later_fragment {
            // The stack reassembles before tracking; a lone later fragment
            // cannot be placed in a flow.
            self.stats.invalid += 1;
            return Track::invalid();
        }
        if p.proto == ICMP && p.is_icmp_error() {
            return self.related(now, p, b);
        }
        if p.proto == ICMP && !p.is_echo() {
            // Other ICMP queries are not tracked: each is judged alone.
            return Track {
                state: CtState::New,
                flow: None,
                quoted_translated: false,
            };
        }
        if matches!(p.proto, TCP | UDP | ICMP) && !p.has_ports {
            self.stats.invalid += 1;
            return Track::invalid();
        }
        let t = p.tuple();
        self.reap_stale(now, &t, gone);
        match self.lookup(&t) {
            Some((id, dir)) => self.existing(now, p, b, id, dir, gone),
            None => self.first(now, p, b, gone),
        }
    }

    fn first(&mut self, now: Duration, p: &Info, b: &[u8], gone: &mut Vec<Entry>) -> Track {
        let tcp = match p.proto {
            TCP => {
                let f = p.tcp_flags & 0x3f & !(flags::PSH | flags::URG);
                match f {
                    flags::SYN => Some(TcpCt::SynSent),
                    // Linux's tcp_conntracks[sNO][ack] with tcp_loose: a
                    // connection picked up in the middle.
                    flags::ACK if self.tcp_loose => Some(TcpCt::Established),
                    _ => {
                        self.stats.invalid += 1;
                        return Track::invalid();
                    }
                }
            }
            // An echo reply nobody asked for.
            ICMP if p
                .icmp
                .is_some_and(|(t, _)| crate::packet::is_query_reply(t)) =>
            {
                self.stats.invalid += 1;
                return Track::invalid();
            }
            _ => None,
        };
        // A full table is counted as `drop` (table_full) only, as Linux's
        // nf_conntrack_in counts it: the packet itself was valid.
        if !self.make_room(gone) {
            return Track::invalid();
        }
        let id = self.create(now, p, tcp);
        if tcp.is_some() {
            if let (Some(n), Some(e)) = (tcp_numbers(p, b), self.entries.get_mut(&id)) {
                track_numbers(e, 0, p.tcp_flags, &n);
            }
        }
        Track {
            state: CtState::New,
            flow: Some((id, Dir::Orig)),
            quoted_translated: false,
        }
    }

    fn existing(
        &mut self,
        now: Duration,
        p: &Info,
        b: &[u8],
        id: u64,
        dir: Dir,
        gone: &mut Vec<Entry>,
    ) -> Track {
        self.stats.found += 1;
        let d = if dir == Dir::Orig { 0 } else { 1 };
        let Some(e) = self.entries.get_mut(&id) else {
            return Track::invalid();
        };
        e.packets[d] += 1;
        e.bytes[d] += p.len as u64;
        let answered = e.seen_reply;
        if dir == Dir::Reply {
            e.seen_reply = true;
        }
        let mut killed = false;
        if let Some(state) = e.tcp {
            let f = p.tcp_flags & 0x3f & !(flags::PSH | flags::URG);
            let valid = matches!(
                f,
                flags::SYN
                    | 0x12 // SYN|ACK
                    | flags::RST
                    | 0x14 // RST|ACK
                    | 0x11 // FIN|ACK
                    | flags::ACK
            );
            if !valid {
                self.stats.invalid += 1;
                return Track::invalid();
            }
            // A new SYN on a closed flow's tuple starts the flow afresh.
            if dir == Dir::Orig
                && f == flags::SYN
                && matches!(state, TcpCt::TimeWait | TcpCt::Close)
            {
                if let Some(old) = self.remove(id) {
                    gone.push(old);
                }
                return self.first(now, p, b, gone);
            }
            // A RST is judged by its sequence number when the segments
            // seen let it be (a blind RST must not close the flow).
            let rst_check = match tcp_numbers(p, b) {
                Some(n) => track_numbers(e, d, f, &n),
                // A RST whose sequence number cannot be read (a header
                // cut short, a data offset past it) is INVALID, as
                // Linux's tcp_error makes it; other segments pass.
                None if f & flags::RST != 0 && !b.is_empty() => RstCheck::Outside,
                None => RstCheck::Closes,
            };
            if rst_check == RstCheck::Outside {
                self.stats.invalid += 1;
                return Track::invalid();
            }
            // Flags that matter here; PSH and URG ride along with data.
            let syn = f & flags::SYN != 0;
            let fin = f & flags::FIN != 0;
            // An ACK that is not part of a SYN or a FIN (data may come too).
            let plain_ack = f & flags::ACK != 0 && !syn && !fin;
            let next = if f & flags::RST != 0 {
                // In the window but not exact: ESTABLISHED stays (the
                // receiver answers with a challenge ACK); any other state
                // closes, as Linux's conntrack does.
                match rst_check {
                    RstCheck::InWindow if state == TcpCt::Established => state,
                    _ => TcpCt::Close,
                }
            } else {
                match (state, dir) {
                    // SYN-ACK, or a bare SYN: simultaneous open.
                    (TcpCt::SynSent, Dir::Reply) if syn => TcpCt::SynRecv,
                    (TcpCt::SynRecv, Dir::Orig) if plain_ack => TcpCt::Established,
                    (
                        TcpCt::SynRecv | TcpCt::Established | TcpCt::FinWait | TcpCt::CloseWait,
                        _,
                    ) if fin && !syn => {
                        e.fin[d] = true;
                        if e.fin[1 - d] {
                            TcpCt::LastAck
                        } else {
                            TcpCt::FinWait
                        }
                    }
                    (TcpCt::FinWait, _) if plain_ack && e.fin[1 - d] && !e.fin[d] => {
                        TcpCt::CloseWait
                    }
                    (TcpCt::LastAck, _) if plain_ack => TcpCt::TimeWait,
                    (s, _) => s,
                }
            };
            e.tcp = Some(next);
            if next == TcpCt::Established && e.seen_reply {
                e.assured = true;
            }
            // Linux's tcp_packet: a RST before any reply (a refused
            // connection, an aborted attempt) ends the flow at once
            // (nf_ct_kill_acct) rather than leaving it in CLOSE.
            killed = f & flags::RST != 0 && !answered;
        } else if e.seen_reply && e.orig.proto != ICMP && now >= e.created + STREAM_AFTER {
            // A stream: answered and still busy after two seconds (Linux's
            // UDP rule); a query and its answer stays unassured, so
            // one-shot exchanges can be evicted. ICMP echo flows never are.
            e.assured = true;
        }
        let state = if e.seen_reply || dir == Dir::Reply {
            CtState::Established
        } else {
            CtState::New
        };
        self.refresh(id, now);
        if killed {
            self.kill(id, now);
        }
        Track {
            state,
            flow: Some((id, dir)),
            quoted_translated: false,
        }
    }

    /// End a flow now: it is listed and found no more, and goes (with the
    /// mappings it holds) when expired flows are next collected — after
    /// the packet that ended it has been translated on its way.
    fn kill(&mut self, id: u64, now: Duration) {
        self.expire_at(id, now);
    }

    /// An ICMP error: RELATED to the flow of the packet it quotes, whether
    /// that packet is quoted as it was before or after translation.
    fn related(&mut self, now: Duration, p: &Info, b: &[u8]) -> Track {
        let Some((_, inner)) = crate::packet::quoted(b, p) else {
            self.stats.invalid += 1;
            return Track::invalid();
        };
        if !inner.has_ports && matches!(inner.proto, TCP | UDP | ICMP) {
            self.stats.invalid += 1;
            return Track::invalid();
        }
        // An error goes back to whoever sent the packet it quotes (as
        // both stand on the wire here, before any translation): one
        // addressed elsewhere — a reply of the flow quoted to the host
        // that received it — is forged, and INVALID (Linux's
        // nf_conntrack_inet_error: "outer daddr != inner").
        if p.dst != inner.src {
            self.stats.invalid += 1;
            return Track::invalid();
        }
        let t = inner.tuple();
        let live = |(id, dir): (u64, Dir)| {
            self.entries
                .get(&id)
                .is_some_and(|e| e.expires > now)
                .then_some((id, dir))
        };
        if let Some((id, dir)) = self.lookup(&t).and_then(live) {
            return Track {
                state: CtState::Related,
                flow: Some((id, dir)),
                quoted_translated: false,
            };
        }
        if let Some((id, dir)) = self.lookup(&t.invert()).and_then(live) {
            // The quoted packet went the other way, as translated.
            let d = if dir == Dir::Orig {
                Dir::Reply
            } else {
                Dir::Orig
            };
            return Track {
                state: CtState::Related,
                flow: Some((id, d)),
                quoted_translated: true,
            };
        }
        self.stats.invalid += 1;
        Track::invalid()
    }
}

#[cfg(test)]
mod tests;
