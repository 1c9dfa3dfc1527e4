//! Packet policy for routers, as rule chains that return verdicts: a
//! stateless ACL (like a cloud network ACL), connection tracking, a
//! stateful firewall (like a security group), and NAT with port
//! forwarding.
//!
//! A router calls [`Netfilter::hook`] at three points of forwarding, as
//! Linux's netfilter hooks sit:
//!
//! 1. **prerouting**, for every datagram that arrives (reassembled): the
//!    connection tracker places it in a flow; destination NAT happens here
//!    (a port forward for a new flow, the reverse of source NAT for a
//!    reply), and ICMP errors about translated flows are translated;
//! 2. **forward**, once the route is known: the ACLs of the interface the
//!    datagram came in by (its outbound list) and of the one it leaves by
//!    (inbound list), then the security groups of both;
//! 3. **postrouting**, just before it leaves: source NAT (masquerade,
//!    hairpin), and a new flow is entered in the table.
//!
//! Datagrams for the router itself are not tracked unless they belong to a
//! translated flow or a port forward. Time comes from the caller; the only
//! randomness (NAT's port choice) from a seed.

pub mod acl;
pub mod conntrack;
pub mod firewall;
pub mod nat;
pub mod packet;
pub mod rule;
pub mod show;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

pub use acl::{Acl, AclList, AclRule, Action};
pub use conntrack::{Conntrack, CtState, Dir, Entry, TcpCt, Timeouts};
pub use firewall::{SecurityGroup, SgRule, SgVerdict};
pub use nat::{Filtering, Nat, NatConfig, PortForward};
pub use packet::{Info, Tuple};
pub use rule::{Match, PortRange};

use crate::packet::{parse, quoted, refresh_icmp_error, set_addr, set_port, Side, ICMP, TCP, UDP};

/// Where in forwarding a datagram is, and what becomes of it: the stack's
/// own hook types (one definition, in `tcplab-base`).
pub use tcplab_base::{HookPoint as Hook, HookVerdict as Verdict};

/// Counters of what the hooks did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub acl_dropped: u64,
    pub sg_dropped: u64,
    pub sg_rejected: u64,
    pub nat_dropped: u64,
    /// New flows dropped because the connection-tracking table was full.
    pub table_full: u64,
    pub translated: u64,
}

/// The datagram between hooks.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    state: CtState,
    flow: Option<(u64, Dir)>,
    in_iface: usize,
    /// Counted in `translated` already (a packet may be rewritten at
    /// both prerouting and postrouting; it counts once).
    translated: bool,
}

/// Everything a router's packet policy holds.
#[derive(Debug, Clone)]
pub struct Netfilter {
    /// ACL per interface.
    pub acls: BTreeMap<usize, Acl>,
    /// Security group per interface.
    pub groups: BTreeMap<usize, SecurityGroup>,
    pub nat: Option<Nat>,
    pub conntrack: Conntrack,
    /// The router's own addresses.
    pub local: Vec<Ipv4Addr>,
    /// Names of the interfaces, for listings.
    pub iface_names: BTreeMap<usize, String>,
    pub counters: Counters,
    ctx: Option<Ctx>,
}

impl Netfilter {
    /// A router's policy: its own addresses, the flow table's size, and a
    /// seed for the table's hash keys.
    pub fn new(local: Vec<Ipv4Addr>, conntrack_max: usize, seed: u64) -> Netfilter {
        Netfilter {
            acls: BTreeMap::new(),
            groups: BTreeMap::new(),
            nat: None,
            conntrack: Conntrack::new(conntrack_max, seed),
            local,
            iface_names: BTreeMap::new(),
            counters: Counters::default(),
            ctx: None,
        }
    }

    /// Whether anything needs connection tracking.
    fn tracking(&self) -> bool {
        self.nat.is_some() || !self.groups.is_empty()
    }

    /// Run `hook` on datagram `b` (which NAT may rewrite). `in_iface` is
    /// the arrival interface; `out_iface` the departure one (forward and
    /// postrouting).
    pub fn hook(
        &mut self,
        hook: Hook,
        now: Duration,
        in_iface: usize,
        out_iface: Option<usize>,
        b: &mut [u8],
    ) -> Verdict {
        match hook {
            Hook::Prerouting => self.prerouting(now, in_iface, b),
            Hook::Forward => self.forward(in_iface, out_iface.unwrap_or(in_iface), b),
            Hook::Postrouting => self.postrouting(now, out_iface.unwrap_or(in_iface), b),
        }
    }

    /// Forget the flows whose time is up at `now` (and the NAT mappings
    /// only they held): what the next datagram would do first, done for a
    /// listing, so `fw -L` counts no mapping of a flow gone while the
    /// router was idle.
    pub fn expire(&mut self, now: Duration) {
        loop {
            let gone = self.conntrack.expire(now);
            if gone.is_empty() {
                break;
            }
            self.release(gone);
        }
    }

    fn release(&mut self, gone: Vec<Entry>) {
        if let Some(nat) = &mut self.nat {
            for e in gone {
                if e.snat {
                    nat.release(e.orig.proto, e.orig.src, e.orig.sport);
                }
                if let Some((ip, port)) = e.holds {
                    nat.release(e.orig.proto, ip, port);
                }
            }
        }
    }

    /// `conntrack -F`: forget every flow (and the mappings they held);
    /// returns how many there were.
    pub fn flush(&mut self) -> usize {
        let ids: Vec<u64> = self.conntrack.entries().map(|e| e.id).collect();
        for &id in &ids {
            self.forget(id);
        }
        ids.len()
    }

    /// Remove a flow and give back the mappings it held.
    pub(crate) fn forget(&mut self, id: u64) {
        if let Some(e) = self.conntrack.remove(id) {
            self.release(vec![e]);
        }
    }

    fn prerouting(&mut self, now: Duration, in_iface: usize, b: &mut [u8]) -> Verdict {
        self.ctx = None;
        if !self.tracking() {
            return Verdict::Accept;
        }
        // A bounded batch per datagram.
        let gone = self.conntrack.expire(now);
        self.release(gone);
        let Some(p) = parse(b) else {
            return Verdict::Accept;
        };
        let to_me = self.local.contains(&p.dst);
        let mut gone = Vec::new();
        self.conntrack.reap_stale(now, &p.tuple(), &mut gone);
        let known = self.conntrack.lookup(&p.tuple()).is_some()
            || p.is_icmp_error()
            || self.forward_target(&p, in_iface).is_some();
        if to_me && !known {
            // To a mapping's outside port from someone its filtering does
            // not admit: dropped, as the filtering of RFC 4787 §5 drops
            // it, not handed to the router's own TCP to be reset (RFC 5382
            // REQ-4: no answer to an unsolicited SYN; hole punching keeps
            // working). Anything else is for the router itself, untracked
            // (a ping to it too, whatever its identifier).
            let filtered = self.nat.as_ref().is_some_and(|nat| {
                in_iface == nat.config.outside
                    && p.dst == nat.config.external
                    && matches!(p.proto, TCP | UDP)
                    && p.has_ports
                    && nat.is_mapped(p.proto, p.dport)
            });
            if filtered {
                // Counted as NAT's drop (`fw -L`'s "by NAT").
                self.counters.nat_dropped += 1;
                return Verdict::Drop;
            }
            return Verdict::Accept;
        }
        let full_before = self.conntrack.stats.table_full;
        let t = self.conntrack.track(now, &p, b, &mut gone);
        self.release(gone);
        // A new flow the full table refused: dropped here, before any
        // rule sees it (Linux's nf_conntrack_in: "table full, dropping
        // packet"), and counted as that, not as an invalid packet.
        if self.conntrack.stats.table_full > full_before {
            self.counters.table_full += 1;
            self.ctx = None;
            return Verdict::Drop;
        }
        self.ctx = Some(Ctx {
            state: t.state,
            flow: t.flow,
            in_iface,
            translated: false,
        });
        let Some((id, dir)) = t.flow else {
            return Verdict::Accept;
        };
        match t.state {
            CtState::Related => {
                if t.quoted_translated {
                    self.translate_error(id, dir, &p, b);
                }
            }
            CtState::New if dir == Dir::Orig && !self.is_confirmed(id) => {
                // A port forward, or an unsolicited packet a mapping admits.
                if let Some((ip, port)) = self.forward_target(&p, in_iface) {
                    if let Some(nat) = &mut self.nat {
                        // Counted for `fw -L`; a flow a mapping admitted
                        // holds the mapping while it lives.
                        let held = self.conntrack.entry(id).is_some_and(|e| e.holds.is_some());
                        if nat.forward_for(p.proto, p.dport).is_none() && !held {
                            nat.hold(p.proto, ip, port);
                            self.conntrack.set_holds(id, (ip, port));
                        }
                    }
                    let _ = set_addr(b, 0, Side::Dst, ip);
                    let _ = set_port(b, 0, Side::Dst, port);
                    if let Some(e) = self.conntrack.entry(id) {
                        let mut reply = e.reply;
                        reply.src = ip;
                        reply.sport = port;
                        self.set_reply(id, reply);
                    }
                    self.conntrack.set_nat(now, id, false, true);
                    self.note_translated();
                }
            }
            CtState::New | CtState::Established => self.translate_dst(id, dir, b),
            CtState::Invalid => {}
        }
        Verdict::Accept
    }

    fn is_confirmed(&self, id: u64) -> bool {
        self.conntrack.entry(id).is_some_and(|e| e.confirmed)
    }

    fn set_reply(&mut self, id: u64, reply: Tuple) {
        // Unconfirmed entries carry their tentative reply tuple; the table
        // indexes it at confirmation.
        let _ = self.conntrack.confirm_tentative(id, reply);
    }

    /// Where an inbound packet to the outside address goes: a port forward
    /// or a mapping the filtering lets it through.
    fn forward_target(&self, p: &Info, in_iface: usize) -> Option<(Ipv4Addr, u16)> {
        let nat = self.nat.as_ref()?;
        if p.dst != nat.config.external || !p.has_ports {
            return None;
        }
        if let Some(f) = nat
            .config
            .forwards
            .iter()
            .find(|f| f.proto == p.proto && f.port == p.dport)
        {
            return Some((*f.to.ip(), f.to.port()));
        }
        if in_iface != nat.config.outside {
            // Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): an inside host
            // sending to a mapping's outside address and port reaches the
            // endpoint behind it, seen (and filtered) as coming from its
            // own outside address and port — postrouting then translates
            // its source, as for a port forward reached from inside.
            if !nat.is_inside(p.src) {
                return None;
            }
            let from_port = nat
                .external_port(p.proto, p.src, p.sport)
                .unwrap_or(p.sport);
            return nat.inbound(p.proto, p.dport, (nat.config.external, from_port));
        }
        nat.inbound(p.proto, p.dport, (p.src, p.sport))
    }

    /// The destination half of a known flow's translation.
    fn translate_dst(&mut self, id: u64, dir: Dir, b: &mut [u8]) {
        let Some(e) = self.conntrack.entry(id) else {
            return;
        };
        let (addr, port) = match dir {
            Dir::Orig if e.dnat => (e.reply.src, e.reply.sport),
            Dir::Reply if e.snat => (e.orig.src, e.orig.sport),
            _ => return,
        };
        let _ = set_addr(b, 0, Side::Dst, addr);
        let _ = set_port(b, 0, Side::Dst, port);
        self.note_translated();
    }

    /// The source half of a known flow's translation.
    fn translate_src(&mut self, id: u64, dir: Dir, b: &mut [u8]) {
        let Some(e) = self.conntrack.entry(id) else {
            return;
        };
        let (addr, port) = match dir {
            Dir::Orig if e.snat => (e.reply.dst, e.reply.dport),
            Dir::Reply if e.dnat => (e.orig.dst, e.orig.dport),
            _ => return,
        };
        let _ = set_addr(b, 0, Side::Src, addr);
        let _ = set_port(b, 0, Side::Src, port);
        self.note_translated();
    }

    /// Count the packet under way as translated, once.
    fn note_translated(&mut self) {
        if let Some(ctx) = &mut self.ctx {
            if std::mem::replace(&mut ctx.translated, true) {
                return;
            }
        }
        self.counters.translated += 1;
    }

    /// An ICMP error quoting a translated packet: put back what its
    /// recipient sent, inside and out.
    fn translate_error(&mut self, id: u64, dir: Dir, p: &Info, b: &mut [u8]) {
        let Some(e) = self.conntrack.entry(id).cloned() else {
            return;
        };
        if !(e.snat || e.dnat) {
            return;
        }
        let Some((at, _)) = quoted(b, p) else { return };
        // The quoted packet went `dir`; restore it as its sender sent it.
        let (sent, translated) = match dir {
            Dir::Orig => (e.orig, e.reply.invert()),
            Dir::Reply => (e.reply, e.orig.invert()),
        };
        let _ = set_addr(b, at, Side::Src, sent.src);
        let _ = set_addr(b, at, Side::Dst, sent.dst);
        let _ = set_port(b, at, Side::Src, sent.sport);
        let _ = set_port(b, at, Side::Dst, sent.dport);
        // The error came from the far endpoint itself, or from a router
        // inside on its way: either way its recipient must see the
        // address it sent to (Linux's nf_nat_icmp_reply_translation sets
        // the outer header from the flow), not an inside one.
        let from_inside = self.nat.as_ref().is_some_and(|n| n.is_inside(p.src));
        if p.src == translated.dst || from_inside {
            let _ = set_addr(b, 0, Side::Src, sent.dst);
        }
        let _ = set_addr(b, 0, Side::Dst, sent.src);
        refresh_icmp_error(b, p.ihl, p.len, at);
        self.note_translated();
    }

    fn forward(&mut self, in_iface: usize, out_iface: usize, b: &mut [u8]) -> Verdict {
        let Some(p) = parse(b) else {
            return Verdict::Accept;
        };
        let ctx = self.ctx.filter(|c| c.in_iface == in_iface);
        let state = ctx.map_or(CtState::New, |c| c.state);
        let mut verdict = Verdict::Accept;
        if let Some(acl) = self.acls.get_mut(&in_iface) {
            if !acl.outbound.check(&p) {
                verdict = Verdict::Drop;
            }
        }
        if verdict == Verdict::Accept {
            if let Some(acl) = self.acls.get_mut(&out_iface) {
                if !acl.inbound.check(&p) {
                    verdict = Verdict::Drop;
                }
            }
        }
        if verdict == Verdict::Drop {
            self.counters.acl_dropped += 1;
        }
        if verdict == Verdict::Accept {
            for (iface, inbound) in [(in_iface, false), (out_iface, true)] {
                if let Some(sg) = self.groups.get_mut(&iface) {
                    match sg.check(&p, state, inbound) {
                        SgVerdict::Accept => {}
                        SgVerdict::Drop => {
                            self.counters.sg_dropped += 1;
                            verdict = Verdict::Drop;
                            break;
                        }
                        SgVerdict::Reject => {
                            self.counters.sg_rejected += 1;
                            verdict = Verdict::Reject;
                            break;
                        }
                    }
                }
            }
        }
        // Never let an inside address out untranslated: INVALID packets
        // and those tracking leaves alone (ICMP messages that are neither
        // queries nor errors), which NAT does not touch, bound for the
        // outside are dropped.
        let untracked = ctx.is_none_or(|c| c.flow.is_none()) && state != CtState::Related;
        if verdict == Verdict::Accept && (state == CtState::Invalid || untracked) {
            if let Some(nat) = &self.nat {
                if out_iface == nat.config.outside && nat.is_inside(p.src) {
                    self.counters.nat_dropped += 1;
                    verdict = Verdict::Drop;
                }
            }
        }
        if verdict != Verdict::Accept {
            self.abandon();
        }
        verdict
    }

    /// A datagram this router forwarded, as it left (both halves of its
    /// flow's translation applied), put back as it arrived: what an ICMP
    /// error the router makes about it afterwards — the next hop never
    /// answered (host unreachable) — must quote, so its sender can match
    /// it and no inside address leaks (Linux's conntrack translates such
    /// an error as RELATED, `nf_nat_icmp_reply_translation`; RFC 5508
    /// §4.2). Returns whether it was translated.
    pub fn untranslate(&mut self, b: &mut [u8]) -> bool {
        let Some(p) = parse(b) else { return false };
        if !p.has_ports || p.is_icmp_error() {
            return false;
        }
        // As it left it is the inverse of the tuple its answers will carry.
        let Some((id, dir)) = self.conntrack.lookup(&p.tuple().invert()) else {
            return false;
        };
        let Some(e) = self.conntrack.entry(id) else {
            return false;
        };
        if !(e.snat || e.dnat) {
            return false;
        }
        // Found as the answers' direction: it went the other way.
        let sent = match dir {
            Dir::Reply => e.orig,
            Dir::Orig => e.reply,
        };
        if sent == p.tuple() {
            return false;
        }
        let _ = set_addr(b, 0, Side::Src, sent.src);
        let _ = set_addr(b, 0, Side::Dst, sent.dst);
        let _ = set_port(b, 0, Side::Src, sent.sport);
        let _ = set_port(b, 0, Side::Dst, sent.dport);
        true
    }

    /// The router dropped the datagram prerouting last saw before the
    /// forward hook (TTL, no route, too big): forget a flow it started, so
    /// such datagrams fill no table entries (Linux confirms an entry only
    /// when its first packet leaves).
    pub fn not_forwarded(&mut self) {
        self.abandon();
    }

    /// The current datagram will not be forwarded: forget a flow it started.
    fn abandon(&mut self) {
        if let Some(Ctx {
            state: CtState::New,
            flow: Some((id, Dir::Orig)),
            ..
        }) = self.ctx.take()
        {
            if !self.is_confirmed(id) {
                self.forget(id);
            }
        }
    }

    fn postrouting(&mut self, now: Duration, out_iface: usize, b: &mut [u8]) -> Verdict {
        // Left in place until the next datagram's prerouting: it says
        // whether this one was counted as translated already.
        let Some(ctx) = self.ctx else {
            return Verdict::Accept;
        };
        let Some((id, dir)) = ctx.flow else {
            return Verdict::Accept;
        };
        if ctx.state == CtState::Related || ctx.state == CtState::Invalid {
            return Verdict::Accept;
        }
        if self.is_confirmed(id) {
            self.translate_src(id, dir, b);
            return Verdict::Accept;
        }
        // A new flow leaves: source NAT if it goes out through the outside
        // interface from inside, or hairpins back inside after a forward.
        let Some(e) = self.conntrack.entry(id).cloned() else {
            return Verdict::Accept;
        };
        let mut reply = e.reply;
        let mut snat = false;
        if let Some(nat) = &mut self.nat {
            let leaving = out_iface == nat.config.outside && nat.is_inside(e.orig.src);
            let hairpin = e.dnat && ctx.in_iface != nat.config.outside && nat.is_inside(e.orig.src);
            if leaving || hairpin {
                let remote = (reply.src, reply.sport);
                match nat.map(e.orig.proto, e.orig.src, e.orig.sport, remote) {
                    Some(port) => {
                        reply.dst = nat.config.external;
                        reply.dport = port;
                        // An echo flow's identifier is its "port" both
                        // ways: the replies carry the new one in each.
                        if e.orig.proto == ICMP {
                            reply.sport = port;
                        }
                        snat = true;
                    }
                    None => {
                        self.counters.nat_dropped += 1;
                        self.forget(id);
                        return Verdict::Drop;
                    }
                }
            }
        }
        if self.conntrack.confirm(id, reply).is_err() {
            if snat {
                if let Some(nat) = &mut self.nat {
                    nat.release(e.orig.proto, e.orig.src, e.orig.sport);
                }
            }
            self.counters.nat_dropped += 1;
            self.forget(id);
            return Verdict::Drop;
        }
        if snat {
            self.conntrack.set_nat(now, id, true, false);
            self.translate_src(id, Dir::Orig, b);
        }
        Verdict::Accept
    }
}
