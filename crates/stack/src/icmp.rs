//! ICMP: echo, and the generation and reception of error messages.
//!
//! Errors are generated only where RFC 1122 §3.2.2 allows: never about an
//! ICMP error message, a datagram sent to a broadcast or multicast address,
//! a non-initial fragment, or a datagram whose source is not a single host.
//! They quote as much of the invoking datagram as fits in 576 bytes (RFC
//! 1812 §4.3.2.3) and are rate-limited as Linux does: a token bucket over
//! all errors and, optionally, a minimum spacing per destination. Errors to
//! this host itself (loopback) are never limited.

use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_wire::icmpv4::{self, DstUnreachable, Message};
use tcplab_wire::{ipv4, Protocol};

use crate::config::Config;
use crate::hash::{new_map, Map};
use crate::iface::IfaceId;
use crate::ip::{Destination, IpLayer, SendOptions};
use crate::rand::Rng;
use crate::socket::PmtuDisc;
use crate::stats::IcmpStats;
use crate::time::Instant;

/// Largest ICMP error datagram (RFC 1812 §4.3.2.3).
pub(crate) const MAX_ERROR_DATAGRAM: usize = 576;
/// Per-destination limiter entries kept at most.
const PER_DEST_CAPACITY: usize = 4096;

/// An error to send about a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    DstUnreachable(DstUnreachable),
    /// Fragmentation needed and DF set, with the next-hop MTU (RFC 1191 §4).
    FragNeeded(u16),
    TimeExceeded(icmpv4::TimeExceeded),
    /// A host redirect to a better first hop (RFC 1812 §5.2.7.2).
    RedirectHost(Ipv4Addr),
    ParamProblem(u8),
}

/// The ICMP layer of a host.
#[derive(Debug)]
pub struct IcmpLayer {
    pub stats: IcmpStats,
    credit: u32,
    last_refill: Instant,
    per_sec: u32,
    burst: u32,
    ratelimit: Duration,
    /// Per destination: when its bucket was last filled, and its tokens
    /// (microseconds of `ratelimit`, at most [`BURST_FACTOR`] of them).
    last_sent: Map<Ipv4Addr, (Instant, u64)>,
    /// Per host told of a better first hop: when it last needed telling,
    /// and how many redirects it has had since it last went quiet.
    redirected: Map<Ipv4Addr, (Instant, u32)>,
    pub echo_ignore_broadcasts: bool,
}

/// A host that keeps sending through us after this many redirects is not
/// told again until it goes quiet (Linux's ip_rt_redirect_number).
const REDIRECT_NUMBER: u32 = 9;
/// The unit of the gaps between redirects to one host: after the n-th,
/// 2^n of it (Linux's ip_rt_redirect_load, HZ/50).
const REDIRECT_LOAD: Duration = Duration::from_millis(20);
/// A host that sent nothing needing a redirect for this long starts
/// over (Linux's ip_rt_redirect_silence, the load shifted by 10).
const REDIRECT_SILENCE: Duration = Duration::from_millis(20 << 10);

/// Precedence 6, internetwork control (RFC 791 §3.1), in the TOS byte.
const IPTOS_PREC_INTERNETCONTROL: u8 = 0xc0;
/// The TOS bits proper (RFC 1349), without precedence or ECN.
const IPTOS_TOS_MASK: u8 = 0x1e;

impl IcmpLayer {
    pub fn new(config: &Config, rng: &mut Rng) -> IcmpLayer {
        // The redirect table shares the rate table's key rather than
        // drawing its own: one more draw would move every later random
        // choice of the stack (ports, sequence numbers) for a seed.
        let last_sent: Map<Ipv4Addr, (Instant, u64)> = new_map(rng);
        let redirected = Map::with_hasher(*last_sent.hasher());
        IcmpLayer {
            stats: IcmpStats::default(),
            credit: config.icmp_msgs_burst,
            last_refill: Instant::ZERO,
            per_sec: config.icmp_msgs_per_sec,
            burst: config.icmp_msgs_burst,
            ratelimit: config.icmp_ratelimit,
            last_sent,
            redirected,
            echo_ignore_broadcasts: config.echo_ignore_broadcasts,
        }
    }

    pub fn count_in(&mut self, msg: Message) {
        self.stats.in_msgs += 1;
        if let Some(n) = self.stats.in_type.get_mut(usize::from(u8::from(msg))) {
            *n += 1;
        }
    }

    fn count_out(&mut self, msg: Message) {
        self.stats.out_msgs += 1;
        if let Some(n) = self.stats.out_type.get_mut(usize::from(u8::from(msg))) {
            *n += 1;
        }
    }

    /// Send an ICMP message from this host. `src` is the source to use, or
    /// `None` to let routing choose; `tos` the IP header's.
    pub fn send(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        src: Option<Ipv4Addr>,
        dst: Ipv4Addr,
        repr: &icmpv4::Repr<'_>,
        tos: u8,
    ) {
        let Ok(route) = ip.route_local(now, dst, src) else {
            ip.stats.out_no_routes += 1;
            return;
        };
        let mut payload = vec![0u8; repr.buffer_len()];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut payload[..]));
        let opts = SendOptions {
            protocol: Protocol::Icmp,
            ttl: ip.default_ttl,
            tos,
            // Linux's ICMP control socket uses IP_PMTUDISC_DONT: replies and
            // errors are fragmented on the way rather than lost.
            pmtudisc: PmtuDisc::Dont,
        };
        if ip.send(&route, opts, &payload).is_ok() {
            self.count_out(repr.message());
        }
    }

    /// Answer an echo request (RFC 792; RFC 1122 §3.2.2.6: the reply carries
    /// the request's data and is sent from the address the request was sent
    /// to).
    pub fn reply_echo(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        request: &ipv4::Repr,
        dest_kind: Destination,
        echo: &icmpv4::Repr<'_>,
    ) {
        let icmpv4::Repr::EchoRequest {
            ident,
            seq_no,
            data,
        } = *echo
        else {
            return;
        };
        if dest_kind == Destination::Broadcast && self.echo_ignore_broadcasts {
            return;
        }
        let src = (dest_kind == Destination::Local).then_some(request.dst_addr);
        let reply = icmpv4::Repr::EchoReply {
            ident,
            seq_no,
            data,
        };
        // The request's TOS, as Linux's icmp_reply keeps it.
        self.send(now, ip, src, request.src_addr, &reply, request.tos);
    }

    /// Answer a timestamp request (RFC 792: type 13, its identifier and
    /// sequence number and originate timestamp sent back in a type 14 with
    /// the receive and transmit timestamps), as Linux's `icmp_timestamp`
    /// answers one. RFC 792's timestamps are milliseconds since midnight
    /// UT; a stack has no wall clock, so they are its own clock's
    /// milliseconds with the high bit set — the RFC's mark for a time
    /// that is not since midnight UT. A request too short to hold the
    /// originate timestamp is dropped.
    pub fn reply_timestamp(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        request: &ipv4::Repr,
        dest_kind: Destination,
        rest: [u8; 4],
        data: &[u8],
    ) {
        let Some(originate) = data.get(..4) else {
            return;
        };
        if dest_kind == Destination::Broadcast && self.echo_ignore_broadcasts {
            return;
        }
        let ms = (now.total_millis() as u32 & 0x7fff_ffff) | 0x8000_0000;
        let mut times = [0u8; 12];
        times[..4].copy_from_slice(originate);
        times[4..8].copy_from_slice(&ms.to_be_bytes());
        times[8..].copy_from_slice(&ms.to_be_bytes());
        let src = (dest_kind == Destination::Local).then_some(request.dst_addr);
        let reply = icmpv4::Repr::Other {
            msg_type: 14,
            code: 0,
            rest,
            data: &times,
        };
        self.send(now, ip, src, request.src_addr, &reply, request.tos);
    }

    /// Send `error` about the datagram in `original` (received on `in_iface`,
    /// or generated here when `None`), if RFC 1122 §3.2.2 and the rate
    /// limits allow.
    pub fn send_error(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        original: &[u8],
        in_iface: Option<IfaceId>,
        error: IcmpError,
    ) {
        // Read leniently: a reassembly timeout quotes a truncated datagram.
        let Ok(quote) = icmpv4::Quote::parse(original) else {
            return;
        };
        if !may_answer(ip, &quote, in_iface) {
            return;
        }
        let dst = quote.header.src_addr;
        let to_self = ip.is_local_addr(dst);
        // Linux's icmp_ratemask (0x1818): unreachables, source quench,
        // time exceeded and parameter problems are limited; redirects (with
        // their own backoff) and "fragmentation needed" ("don't limit PMTU
        // discovery", icmpv4_mask_allow) are not, by either bucket.
        let exempt = matches!(error, IcmpError::RedirectHost(_) | IcmpError::FragNeeded(_));
        if !to_self && !exempt && !self.allow(now, dst) {
            self.stats.out_rate_limited += 1;
            return;
        }
        // (Not counted as rate limited: Linux's SNMP counter is the
        // buckets' alone.)
        if matches!(error, IcmpError::RedirectHost(_)) && !self.may_redirect(now, dst) {
            return;
        }
        let claimed = quote.header_bytes.len() + quote.header.payload_len;
        let quote_len = original
            .len()
            .min(claimed)
            .min(MAX_ERROR_DATAGRAM - ipv4::HEADER_LEN - icmpv4::HEADER_LEN);
        let original_dst = quote.header.dst_addr;
        let quote = &original[..quote_len];
        let repr = match error {
            IcmpError::DstUnreachable(reason) => icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu: 0,
                quote,
            },
            IcmpError::FragNeeded(mtu) => icmpv4::Repr::DstUnreachable {
                reason: DstUnreachable::FragRequired,
                next_hop_mtu: mtu,
                quote,
            },
            IcmpError::TimeExceeded(reason) => icmpv4::Repr::TimeExceeded { reason, quote },
            IcmpError::RedirectHost(gateway) => icmpv4::Repr::Redirect {
                reason: icmpv4::Redirect::Host,
                gateway,
                quote,
            },
            IcmpError::ParamProblem(pointer) => icmpv4::Repr::ParamProblem { pointer, quote },
        };
        // An error about a datagram addressed to us comes from that address
        // (Linux icmp_send); otherwise routing picks the interface address.
        let src = Some(original_dst).filter(|a| ip.is_local_addr(*a));
        // Internetwork control precedence (RFC 791 §3.1, precedence 110;
        // RFC 1812 §4.3.2.5: a router's errors SHOULD carry 6 or 7) with
        // the offending datagram's TOS bits, as Linux's icmp_send sets it.
        let tos =
            IPTOS_PREC_INTERNETCONTROL | (original.get(1).copied().unwrap_or(0) & IPTOS_TOS_MASK);
        self.send(now, ip, src, dst, &repr, tos);
    }

    /// Whether a host may be sent another redirect now: the gap after the
    /// n-th is 20 ms × 2^n, and after nine it is told no more until
    /// it has needed none for about 20 s — a host that ignores redirects
    /// (or a flood claiming to be one) gets a few, not one per datagram
    /// (RFC 1812 §5.2.7.2 leaves the rate to the router; this is Linux's
    /// ip_rt_send_redirect). The table of hosts is bounded.
    fn may_redirect(&mut self, now: Instant, host: Ipv4Addr) -> bool {
        let (last, count) = match self.redirected.get(&host) {
            Some(&(last, _)) if now.saturating_since(last) > REDIRECT_SILENCE => (last, 0),
            Some(&entry) => entry,
            None => {
                if self.redirected.len() >= PER_DEST_CAPACITY {
                    self.redirected
                        .retain(|_, (t, _)| now.saturating_since(*t) <= REDIRECT_SILENCE);
                    if self.redirected.len() >= PER_DEST_CAPACITY {
                        return false;
                    }
                }
                (now, 0)
            }
        };
        if count >= REDIRECT_NUMBER {
            // Still sending through us: the silence starts again.
            self.redirected.insert(host, (now, count));
            return false;
        }
        let gap = REDIRECT_LOAD * (1u32 << count);
        if count > 0 && now.saturating_since(last) <= gap {
            return false;
        }
        self.redirected.insert(host, (now, count + 1));
        true
    }

    /// The global token bucket and the per-destination one: `ratelimit`
    /// apart on average, in bursts of up to [`BURST_FACTOR`], a new
    /// destination's bucket full (Linux's `inet_peer_xrlim_allow`).
    fn allow(&mut self, now: Instant, dst: Ipv4Addr) -> bool {
        let elapsed = now.saturating_since(self.last_refill);
        let add = elapsed.as_micros() * u128::from(self.per_sec) / 1_000_000;
        if add > 0 {
            self.credit = (u128::from(self.credit) + add).min(u128::from(self.burst)) as u32;
            self.last_refill = now;
        }
        if self.credit == 0 {
            return false;
        }
        if !self.ratelimit.is_zero() {
            let step = u64::try_from(self.ratelimit.as_micros()).unwrap_or(u64::MAX);
            let most = step.saturating_mul(BURST_FACTOR);
            let tokens = match self.last_sent.get(&dst) {
                Some(&(last, tokens)) => {
                    let more =
                        u64::try_from(now.saturating_since(last).as_micros()).unwrap_or(u64::MAX);
                    tokens.saturating_add(more).min(most)
                }
                None => most,
            };
            if tokens < step {
                self.last_sent.insert(dst, (now, tokens));
                return false;
            }
            if self.last_sent.len() >= PER_DEST_CAPACITY && !self.last_sent.contains_key(&dst) {
                // Forget destinations whose buckets are full again.
                let full = self.ratelimit * BURST_FACTOR as u32;
                self.last_sent
                    .retain(|_, (t, _)| now.saturating_since(*t) < full);
                if self.last_sent.len() >= PER_DEST_CAPACITY {
                    self.last_sent.clear();
                }
            }
            self.last_sent.insert(dst, (now, tokens - step));
        }
        self.credit -= 1;
        true
    }
}

/// Linux's XRLIM_BURST_FACTOR: a destination may receive this many errors
/// at once before the rate limit spaces them.
const BURST_FACTOR: u64 = 6;

/// RFC 1122 §3.2.2: an ICMP error message MUST NOT be sent about
/// * an ICMP error message,
/// * a datagram destined to an IP broadcast or multicast address,
/// * a non-initial fragment,
/// * a datagram whose source address does not define a single host.
fn may_answer(ip: &IpLayer, quote: &icmpv4::Quote<'_>, in_iface: Option<IfaceId>) -> bool {
    let dst = quote.header.dst_addr;
    let src = quote.header.src_addr;
    if dst.is_broadcast() || dst.is_multicast() {
        return false;
    }
    if ip.ifaces.iter().any(|i| i.is_subnet_broadcast(dst)) {
        return false;
    }
    if quote.header.frag_offset != 0 {
        return false;
    }
    match in_iface {
        Some(i) if !ip.valid_source(src, i) => return false,
        None if !tcplab_wire::ip::is_unicast_source(src) => return false,
        _ => {}
    }
    if quote.header.protocol == Protocol::Icmp {
        if let Some(&t) = quote.payload.first() {
            if !is_query(t) {
                return false;
            }
        }
    }
    true
}

/// An ICMP type an error may be sent about: the queries and their replies
/// (echo, timestamp, information, address mask: 0, 8, 13–18). Any other —
/// an error, a router advertisement or solicitation, an unassigned or
/// unknown type — is taken as an error (RFC 1122 §3.2.2's rule then
/// applies), as Linux's `icmp_send` does ("assume any unknown ICMP type is
/// an error").
fn is_query(t: u8) -> bool {
    matches!(t, 0 | 8 | 13..=18)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::Interface;
    use tcplab_wire::Cidr;

    fn layer_with(config: Config) -> (IcmpLayer, IpLayer) {
        let mut rng = Rng::new(1);
        let mut ip = IpLayer::new(&config, &mut rng);
        ip.add_iface(Interface {
            name: "eth0".into(),
            addrs: vec!["10.0.1.1/24".parse::<Cidr>().unwrap()],
            mtu: 1500,
            loopback: false,
            tunnel: false,
            counters: Default::default(),
        });
        (IcmpLayer::new(&config, &mut rng), ip)
    }

    fn datagram(
        src: [u8; 4],
        dst: [u8; 4],
        protocol: Protocol,
        payload: &[u8],
        frag_offset: u16,
    ) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: Ipv4Addr::from(src),
            dst_addr: Ipv4Addr::from(dst),
            protocol,
            payload_len: payload.len(),
            ttl: 1,
            tos: 0,
            ident: 1,
            dont_frag: false,
            more_frags: false,
            frag_offset,
        };
        let mut b = vec![0u8; 20 + payload.len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        b[20..].copy_from_slice(payload);
        b
    }

    fn sent(ip: &mut IpLayer) -> usize {
        let n = ip.out.len();
        ip.out.clear();
        n
    }

    #[test]
    fn rfc1122_never_answers() {
        let (mut icmp, mut ip) = layer_with(Config::default());
        let e = IcmpError::TimeExceeded(icmpv4::TimeExceeded::TtlExpired);
        let iface = Some(IfaceId(1));
        let udp = [0u8; 8];
        // Ordinary datagram: answered.
        icmp.send_error(
            Instant::ZERO,
            &mut ip,
            &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &udp, 0),
            iface,
            e,
        );
        assert_eq!(sent(&mut ip), 1);
        // About an ICMP error: never.
        let err_msg = [3u8, 3, 0, 0, 0, 0, 0, 0];
        icmp.send_error(
            Instant::ZERO,
            &mut ip,
            &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Icmp, &err_msg, 0),
            iface,
            e,
        );
        assert_eq!(sent(&mut ip), 0);
        // About an echo request: yes.
        let echo = [8u8, 0, 0, 0, 0, 1, 0, 1];
        icmp.send_error(
            Instant::ZERO,
            &mut ip,
            &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Icmp, &echo, 0),
            iface,
            e,
        );
        assert_eq!(sent(&mut ip), 1);
        // About a type that is no query (unassigned, router discovery,
        // unknown): taken as an error, as Linux takes it; about the
        // timestamp, information and address mask queries: yes.
        for (t, answered) in [
            (1, 0),
            (2, 0),
            (6, 0),
            (7, 0),
            (9, 0),
            (10, 0),
            (19, 0),
            (42, 0),
            (200, 0),
            (13, 1),
            (15, 1),
            (17, 1),
        ] {
            let msg = [t, 0, 0, 0, 0, 1, 0, 1];
            icmp.send_error(
                Instant::ZERO,
                &mut ip,
                &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Icmp, &msg, 0),
                iface,
                e,
            );
            assert_eq!(sent(&mut ip), answered, "type {t}");
        }
        // To a broadcast address (limited, directed, multicast): never.
        for dst in [[255, 255, 255, 255], [10, 0, 1, 255], [224, 0, 0, 1]] {
            icmp.send_error(
                Instant::ZERO,
                &mut ip,
                &datagram([10, 0, 1, 2], dst, Protocol::Udp, &udp, 0),
                iface,
                e,
            );
            assert_eq!(sent(&mut ip), 0, "{dst:?}");
        }
        // A non-initial fragment: never.
        icmp.send_error(
            Instant::ZERO,
            &mut ip,
            &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &udp, 8),
            iface,
            e,
        );
        assert_eq!(sent(&mut ip), 0);
        // From a source that is not one host: never.
        for src in [
            [0, 0, 0, 0],
            [224, 1, 1, 1],
            [255, 255, 255, 255],
            [127, 0, 0, 1],
            [240, 0, 0, 1],
        ] {
            icmp.send_error(
                Instant::ZERO,
                &mut ip,
                &datagram(src, [10, 9, 9, 9], Protocol::Udp, &udp, 0),
                iface,
                e,
            );
            assert_eq!(sent(&mut ip), 0, "{src:?}");
        }
    }

    /// An echo reply keeps the request's TOS (Linux's icmp_reply).
    #[test]
    fn an_echo_reply_keeps_the_requests_tos() {
        let (mut icmp, mut ip) = layer_with(Config::default());
        let request = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 1, 2),
            dst_addr: Ipv4Addr::new(10, 0, 1, 1),
            protocol: Protocol::Icmp,
            payload_len: 12,
            ttl: 64,
            tos: 0x10,
            ident: 1,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        };
        let echo = icmpv4::Repr::EchoRequest {
            ident: 7,
            seq_no: 1,
            data: b"abcd",
        };
        icmp.reply_echo(Instant::ZERO, &mut ip, &request, Destination::Local, &echo);
        let out = ip.out.pop_front().unwrap();
        let p = ipv4::Packet::new_checked(&out.bytes[..]).unwrap();
        assert_eq!((p.tos(), p.dst_addr()), (0x10, request.src_addr));
    }

    #[test]
    fn quote_is_bounded_to_576() {
        let (mut icmp, mut ip) = layer_with(Config::default());
        let big = vec![0u8; 1400];
        icmp.send_error(
            Instant::ZERO,
            &mut ip,
            &datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &big, 0),
            Some(IfaceId(1)),
            IcmpError::FragNeeded(576),
        );
        let out = ip.out.pop_front().unwrap();
        assert_eq!(out.bytes.len(), 576);
        let p = ipv4::Packet::new_checked(&out.bytes[..]).unwrap();
        let icmp_p = icmpv4::Packet::new_checked(p.payload()).unwrap();
        assert!(icmp_p.verify_checksum());
        assert_eq!(icmp_p.next_hop_mtu(), 576);
        // Internetwork control precedence, as Linux's errors carry.
        assert_eq!(p.tos(), 0xc0);
    }

    #[test]
    fn global_token_bucket() {
        let config = Config {
            icmp_msgs_per_sec: 10,
            icmp_msgs_burst: 5,
            icmp_ratelimit: Duration::ZERO,
            ..Config::default()
        };
        let (mut icmp, mut ip) = layer_with(config);
        let d = datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &[0; 8], 0);
        let e = IcmpError::DstUnreachable(DstUnreachable::HostUnreachable);
        for _ in 0..20 {
            icmp.send_error(Instant::from_secs(1), &mut ip, &d, Some(IfaceId(1)), e);
        }
        assert_eq!(sent(&mut ip), 5);
        assert_eq!(icmp.stats.out_rate_limited, 15);
        // 300 ms later three tokens have come back.
        for _ in 0..20 {
            icmp.send_error(Instant::from_millis(1300), &mut ip, &d, Some(IfaceId(1)), e);
        }
        assert_eq!(sent(&mut ip), 3);
    }

    /// Linux's default: a second apart on average per destination, in
    /// bursts of up to six (a new destination may have six at once).
    #[test]
    fn per_destination_spacing() {
        let config = Config::default();
        assert_eq!(config.icmp_ratelimit, Duration::from_secs(1));
        let (mut icmp, mut ip) = layer_with(config);
        let d = datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &[0; 8], 0);
        let e = IcmpError::DstUnreachable(DstUnreachable::HostUnreachable);
        for _ in 0..10 {
            icmp.send_error(Instant::from_secs(5), &mut ip, &d, Some(IfaceId(1)), e);
        }
        assert_eq!(sent(&mut ip), 6, "a burst of six");
        icmp.send_error(Instant::from_millis(5500), &mut ip, &d, Some(IfaceId(1)), e);
        assert_eq!(sent(&mut ip), 0);
        icmp.send_error(Instant::from_secs(6), &mut ip, &d, Some(IfaceId(1)), e);
        assert_eq!(sent(&mut ip), 1, "one more a second later");
        icmp.send_error(Instant::from_secs(6), &mut ip, &d, Some(IfaceId(1)), e);
        assert_eq!(sent(&mut ip), 0);
        // Redirects and "fragmentation needed" are not limited.
        let r = IcmpError::RedirectHost(std::net::Ipv4Addr::new(10, 0, 1, 9));
        icmp.send_error(Instant::from_secs(6), &mut ip, &d, Some(IfaceId(1)), r);
        assert_eq!(sent(&mut ip), 1);
        let big = datagram([10, 0, 1, 2], [10, 9, 9, 9], Protocol::Udp, &[0; 1400], 0);
        for _ in 0..10 {
            let e = IcmpError::FragNeeded(576);
            icmp.send_error(Instant::from_secs(6), &mut ip, &big, Some(IfaceId(1)), e);
        }
        assert_eq!(sent(&mut ip), 10);
        // Another destination is not held back.
        let d2 = datagram([10, 0, 1, 3], [10, 9, 9, 9], Protocol::Udp, &[0; 8], 0);
        icmp.send_error(Instant::from_secs(6), &mut ip, &d2, Some(IfaceId(1)), e);
        assert_eq!(sent(&mut ip), 1);
    }
}
