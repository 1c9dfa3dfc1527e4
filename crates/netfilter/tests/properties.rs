//! Properties over random rules and random traffic:
//!
//! * no datagram that the ACLs deny is ever forwarded (checked against an
//!   independent model of first-match-by-number evaluation);
//! * the stateful firewall never admits an unsolicited inbound flow;
//! * NAT brings every flow's replies back to the inside endpoint that
//!   started it, and never gives one outside port to two inside endpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use proptest::prelude::*;
use tcplab_netfilter::packet::{parse, TCP, UDP};
use tcplab_netfilter::{
    Acl, AclList, AclRule, Action, Filtering, Hook, Match, Nat, NatConfig, Netfilter, PortRange,
    SecurityGroup, SgRule, Verdict,
};
use tcplab_wire::{ipv4, tcp, udp, Cidr, Protocol};

const INSIDE: usize = 1;
const OUTSIDE: usize = 2;
const EXTERNAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn datagram(
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u16,
) -> Vec<u8> {
    let payload = b"x";
    let (protocol, body) = if proto == TCP {
        let mut r = tcp::Repr::new(
            sport,
            dport,
            tcp::Flags(flags),
            tcp::SeqNumber(100),
            tcp::SeqNumber(50),
        );
        r.window_len = 1000;
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut tcp::Packet::new_unchecked(&mut b[..]), src, dst);
        (Protocol::Tcp, b)
    } else {
        let r = udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload,
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut udp::Packet::new_unchecked(&mut b[..]), src, dst);
        (Protocol::Udp, b)
    };
    ipv4_around(src, dst, protocol, &body, true, 0)
}

/// `body` behind an IPv4 header (TTL 64, identification 1).
fn ipv4_around(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: Protocol,
    body: &[u8],
    dont_frag: bool,
    tos: u8,
) -> Vec<u8> {
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len: body.len(),
        ttl: 64,
        tos,
        ident: 1,
        dont_frag,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    b.extend_from_slice(body);
    b
}

/// A router masquerading 10.0.1.0/24 behind EXTERNAL with `filtering`,
/// and no other policy.
fn nat_router(filtering: Filtering) -> Netfilter {
    let mut nf = Netfilter::new(vec![Ipv4Addr::new(10, 0, 1, 1), EXTERNAL], 4096, 5);
    nf.nat = Some(Nat::new(
        NatConfig {
            outside: OUTSIDE,
            external: EXTERNAL,
            inside: vec!["10.0.1.0/24".parse().unwrap()],
            forwards: vec![],
            filtering,
        },
        9,
    ));
    nf
}

/// Through all three hooks, in at `from`, out at `to`.
fn cross(nf: &mut Netfilter, now: u64, from: usize, to: usize, b: &mut [u8]) -> Verdict {
    let t = Duration::from_millis(now);
    for (hook, out) in [
        (Hook::Prerouting, None),
        (Hook::Forward, Some(to)),
        (Hook::Postrouting, Some(to)),
    ] {
        let v = nf.hook(hook, t, from, out, b);
        if v != Verdict::Accept {
            return v;
        }
    }
    Verdict::Accept
}

fn addr_pool() -> impl Strategy<Value = Ipv4Addr> {
    prop::sample::select(vec![
        Ipv4Addr::new(10, 0, 1, 2),
        Ipv4Addr::new(10, 0, 1, 3),
        Ipv4Addr::new(10, 0, 2, 2),
        Ipv4Addr::new(172, 16, 5, 9),
    ])
}

fn prefix_pool() -> impl Strategy<Value = Cidr> {
    prop::sample::select(vec![
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.0.1.0/24",
        "10.0.2.0/24",
        "10.0.1.3/32",
        "172.16.0.0/12",
    ])
    .prop_map(|s| s.parse().unwrap())
}

/// Ports from several blocks of 256, so that the ACL's port index is
/// exercised across its buckets and their edges.
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![0u16..100, 200u16..800, 65000u16..=65535]
}

fn port_range() -> impl Strategy<Value = PortRange> {
    prop_oneof![
        Just(PortRange::ANY),
        port().prop_map(|p| PortRange { lo: p, hi: p }),
        (port(), port()).prop_map(|(a, b)| PortRange {
            lo: a.min(b),
            hi: a.max(b)
        }),
    ]
}

fn a_match() -> impl Strategy<Value = Match> {
    (
        prop::sample::select(vec![None, Some(TCP), Some(UDP)]),
        prefix_pool(),
        prefix_pool(),
        port_range(),
        port_range(),
    )
        .prop_map(|(proto, src, dst, sport, dport)| {
            let (sport, dport) = if proto.is_some() {
                (sport, dport)
            } else {
                (PortRange::ANY, PortRange::ANY)
            };
            Match {
                proto,
                src,
                dst,
                sport,
                dport,
                icmp_type: None,
                icmp_code: None,
            }
        })
}

fn acl_list() -> impl Strategy<Value = Vec<(u16, bool, Match)>> {
    prop::collection::vec((1u16..200, any::<bool>(), a_match()), 0..12)
}

fn build(rules: &[(u16, bool, Match)]) -> AclList {
    let mut l = AclList::default();
    for (n, allow, m) in rules {
        let _ = l.add(AclRule {
            number: *n,
            action: if *allow { Action::Allow } else { Action::Deny },
            matches: *m,
            packets: 0,
            bytes: 0,
        });
    }
    l
}

/// The model: rules by number (the first given wins a duplicate number),
/// first match decides, nothing matching denies.
fn model_allows(
    rules: &[(u16, bool, Match)],
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
) -> bool {
    let mut by_number: BTreeMap<u16, (bool, Match)> = BTreeMap::new();
    for (n, a, m) in rules {
        by_number.entry(*n).or_insert((*a, *m));
    }
    let contains = |c: &Cidr, a: Ipv4Addr| {
        let mask = if c.prefix_len() == 0 {
            0
        } else {
            u32::MAX << (32 - c.prefix_len())
        };
        u32::from(a) & mask == u32::from(c.address()) & mask
    };
    for (allow, m) in by_number.values() {
        let proto_ok = m.proto.is_none_or(|p| p == proto);
        let ports_ok = (m.sport.lo..=m.sport.hi).contains(&sport)
            && (m.dport.lo..=m.dport.hi).contains(&dport);
        if proto_ok && contains(&m.src, src) && contains(&m.dst, dst) && ports_ok {
            return *allow;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn acl_denied_never_crosses(
        out_rules in acl_list(),
        in_rules in acl_list(),
        traffic in prop::collection::vec((prop::sample::select(vec![TCP, UDP]), addr_pool(), addr_pool(), port(), port()), 1..40),
    ) {
        let mut nf = Netfilter::new(vec![], 1024, 5);
        // Packets arrive on OUTSIDE (leaving the subnet behind it: its
        // outbound list) and leave on INSIDE (entering: its inbound list).
        nf.acls.insert(OUTSIDE, Acl { inbound: AclList::default(), outbound: build(&out_rules) });
        nf.acls.insert(INSIDE, Acl { inbound: build(&in_rules), outbound: AclList::default() });
        for (i, (proto, src, dst, sport, dport)) in traffic.into_iter().enumerate() {
            let mut b = datagram(proto, src, dst, sport, dport, 0x02);
            let v = cross(&mut nf, i as u64, OUTSIDE, INSIDE, &mut b);
            let want = model_allows(&out_rules, proto, src, dst, sport, dport)
                && model_allows(&in_rules, proto, src, dst, sport, dport);
            prop_assert_eq!(v == Verdict::Accept, want, "{:?} {} -> {} {}->{}", proto, src, dst, sport, dport);
        }
    }

    #[test]
    fn firewall_never_admits_unsolicited_inbound(
        inbound_rules in prop::collection::vec(a_match(), 0..3),
        events in prop::collection::vec(
            (any::<bool>(), prop::sample::select(vec![TCP, UDP]), 0u16..6, 0u16..6,
             prop::sample::select(vec![0x02u16, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18])),
            1..60),
    ) {
        let inside = Ipv4Addr::new(10, 0, 1, 2);
        let outside = Ipv4Addr::new(198, 51, 100, 7);
        let mut nf = Netfilter::new(vec![], 4096, 5);
        nf.groups.insert(INSIDE, SecurityGroup {
            inbound: inbound_rules.iter().map(|m| SgRule { matches: *m, packets: 0, bytes: 0 }).collect(),
            outbound: vec![SgRule { matches: Match::all(), packets: 0, bytes: 0 }],
            reject: false, refused: [0; 2], invalid: 0,
        });
        // Flows the inside started (proto, inside port, outside port).
        let mut opened: BTreeSet<(u8, u16, u16)> = BTreeSet::new();
        // Flows an inbound rule admitted.
        let mut admitted: BTreeSet<(u8, u16, u16)> = BTreeSet::new();
        for (i, (from_inside, proto, a, b, flags)) in events.into_iter().enumerate() {
            let (ip, op) = (1000 + a, 2000 + b);
            if from_inside {
                let f = if proto == TCP { 0x02 } else { 0 };
                let mut d = datagram(proto, inside, outside, ip, op, f);
                if cross(&mut nf, i as u64, INSIDE, OUTSIDE, &mut d) == Verdict::Accept {
                    opened.insert((proto, ip, op));
                }
            } else {
                let mut d = datagram(proto, outside, inside, op, ip, flags);
                let info = parse(&d).unwrap();
                if cross(&mut nf, i as u64, OUTSIDE, INSIDE, &mut d) == Verdict::Accept {
                    let reply_to_inside = opened.contains(&(proto, ip, op));
                    let known = admitted.contains(&(proto, ip, op));
                    // A new flow: UDP, a SYN, or (mid-stream pickup, as
                    // Linux's default tcp_loose) a bare ACK, PSH or not.
                    let allowed_new = inbound_rules.iter().any(|m| m.matches(&info))
                        && (proto == UDP || matches!(flags, 0x02 | 0x10 | 0x18));
                    prop_assert!(reply_to_inside || known || allowed_new,
                        "unsolicited {:?} flags {:#x} {}:{} -> {}:{} admitted", proto, flags, outside, op, inside, ip);
                    if allowed_new {
                        admitted.insert((proto, ip, op));
                    }
                }
            }
        }
    }

    #[test]
    fn nat_returns_every_reply_to_its_inside_endpoint(
        flows in prop::collection::vec(
            (prop::sample::select(vec![TCP, UDP]), 0u8..4, prop::sample::select(vec![53u16, 80, 1024, 40000, 40001]),
             0u8..3, prop::sample::select(vec![53u16, 80, 443])),
            1..40),
        filtering in prop::sample::select(vec![Filtering::EndpointIndependent, Filtering::AddressDependent, Filtering::AddressAndPortDependent]),
    ) {
        let mut nf = Netfilter::new(vec![Ipv4Addr::new(10, 0, 1, 1), EXTERNAL], 4096, 5);
        nf.nat = Some(Nat::new(NatConfig {
            outside: OUTSIDE,
            external: EXTERNAL,
            inside: vec!["10.0.1.0/24".parse().unwrap()],
            forwards: vec![],
            filtering,
        }, 9));
        // (proto, outside port) -> inside endpoint, for live mappings.
        let mut owner: BTreeMap<(u8, u16), (Ipv4Addr, u16)> = BTreeMap::new();
        for (i, (proto, host, sport, remote, dport)) in flows.into_iter().enumerate() {
            let now = i as u64;
            let src = Ipv4Addr::new(10, 0, 1, 10 + host);
            let dst = Ipv4Addr::new(203, 0, 113, 1 + remote);
            let mut d = datagram(proto, src, dst, sport, dport, 0x02);
            prop_assert_eq!(cross(&mut nf, now, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
            let out = parse(&d).unwrap();
            prop_assert_eq!(out.src, EXTERNAL);
            prop_assert_eq!((out.dst, out.dport), (dst, dport));
            let o = owner.entry((proto, out.sport)).or_insert((src, sport));
            prop_assert_eq!(*o, (src, sport), "one outside port, two inside endpoints");
            // The reply comes back to exactly that endpoint.
            let mut r = datagram(proto, dst, EXTERNAL, dport, out.sport, 0x12);
            prop_assert_eq!(cross(&mut nf, now, OUTSIDE, INSIDE, &mut r), Verdict::Accept);
            let back = parse(&r).unwrap();
            prop_assert_eq!((back.dst, back.dport), (src, sport));
            prop_assert_eq!((back.src, back.sport), (dst, dport));
        }
    }
}

/// RFC 4787 REQ-5: an unanswered UDP mapping lives at least two minutes,
/// except towards a well-known port (REQ-5a), where Linux's 30 s holds.
#[test]
fn nat_udp_mappings_live_two_minutes() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let inside = Ipv4Addr::new(10, 0, 1, 10);
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    // Three flows at t = 0, none answered yet.
    let mut mapped = Vec::new();
    for (sport, dport) in [(40000, 5000), (40001, 5001), (40002, 53)] {
        let mut d = datagram(UDP, inside, remote, sport, dport, 0);
        assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
        mapped.push(parse(&d).unwrap().sport);
    }
    // A reply reaches the inside host only while the mapping lives.
    let reply = |nf: &mut Netfilter, at_secs: u64, dport: u16, port: u16| {
        let mut r = datagram(UDP, remote, EXTERNAL, dport, port, 0);
        let v = cross(nf, at_secs * 1000, OUTSIDE, INSIDE, &mut r);
        v == Verdict::Accept && parse(&r).unwrap().dst == inside
    };
    assert!(!reply(&mut nf, 35, 53, mapped[2]), "DNS: Linux's 30 s");
    assert!(reply(&mut nf, 110, 5000, mapped[0]), "alive at 110 s");
    assert!(!reply(&mut nf, 125, 5001, mapped[1]), "gone after 120 s");
    // The answered one now lives 300 s from its last packet.
    assert!(reply(&mut nf, 400, 5000, mapped[0]));
}

/// `fw -L`'s "packets translated" counts every datagram NAT rewrote once:
/// the first one out, the replies in, and later ones out too.
#[test]
fn nat_counts_each_translated_packet_once() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let inside = Ipv4Addr::new(10, 0, 1, 10);
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    for round in 0..2 {
        let mut d = datagram(UDP, inside, remote, 40000, 7, 0);
        assert_eq!(
            cross(&mut nf, round * 1000, INSIDE, OUTSIDE, &mut d),
            Verdict::Accept
        );
        let port = parse(&d).unwrap().sport;
        let mut r = datagram(UDP, remote, EXTERNAL, 7, port, 0);
        assert_eq!(
            cross(&mut nf, round * 1000 + 1, OUTSIDE, INSIDE, &mut r),
            Verdict::Accept
        );
        assert_eq!(parse(&r).unwrap().dst, inside);
    }
    assert_eq!(nf.counters.translated, 4);
}

/// `conntrack -L` shows live flows only: one whose time is up is not
/// listed, though the expiry queue may not have removed it yet.
#[test]
fn conntrack_lists_no_expired_flow() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let mut d = datagram(
        UDP,
        Ipv4Addr::new(10, 0, 1, 10),
        Ipv4Addr::new(203, 0, 113, 1),
        4000,
        9,
        0,
    );
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    let (lines, count) = nf.list_flows(Duration::from_secs(10), None);
    assert_eq!(lines.len(), 1, "{count}");
    assert!(lines[0].starts_with("udp      17 20 "), "{lines:?}");
    let (lines, count) = nf.list_flows(Duration::from_secs(31), None);
    assert!(lines.is_empty(), "{lines:?}");
    assert!(count.contains(" 0 flow entries"), "{count}");
}

/// RFC 4787 REQ-9 (MUST): hairpinning for ordinary mappings, not only
/// port forwards. With endpoint-independent filtering, inside host C
/// sending to the outside address and port of A's mapping reaches A, from
/// C's own outside address; A's answer goes back to C from A's mapping.
#[test]
fn nat_hairpins_to_a_mapping() {
    let mut nf = nat_router(Filtering::EndpointIndependent);
    let (a, c) = (Ipv4Addr::new(10, 0, 1, 10), Ipv4Addr::new(10, 0, 1, 11));
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    let mut d = datagram(UDP, a, remote, 4000, 3478, 0);
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    let a_port = parse(&d).unwrap().sport;
    let mut h = datagram(UDP, c, EXTERNAL, 5000, a_port, 0);
    assert_eq!(cross(&mut nf, 10, INSIDE, INSIDE, &mut h), Verdict::Accept);
    let seen = parse(&h).unwrap();
    assert_eq!((seen.dst, seen.dport, seen.src), (a, 4000, EXTERNAL));
    let mut back = datagram(UDP, a, EXTERNAL, 4000, seen.sport, 0);
    assert_eq!(
        cross(&mut nf, 20, INSIDE, INSIDE, &mut back),
        Verdict::Accept
    );
    let got = parse(&back).unwrap();
    assert_eq!(
        (got.src, got.sport, got.dst, got.dport),
        (EXTERNAL, a_port, c, 5000)
    );
}

/// RFC 4787 REQ-3 (no port overloading): a flow admitted from outside
/// through an inside endpoint's mapping (endpoint-independent filtering)
/// holds the mapping, so when the endpoint's own outbound flow expires the
/// outside port is not handed to another inside host while the admitted
/// flow still carries traffic to the first.
#[test]
fn a_flow_admitted_through_a_mapping_holds_it() {
    let mut nf = nat_router(Filtering::EndpointIndependent);
    let (a, c) = (Ipv4Addr::new(10, 0, 1, 10), Ipv4Addr::new(10, 0, 1, 11));
    let (peer, server) = (Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2));
    let mut d = datagram(UDP, a, peer, 4000, 9, 0);
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    assert_eq!(parse(&d).unwrap().sport, 4000);
    // The server reaches a through the mapping, now and at 20 s.
    for at in [2_000, 20_000] {
        let mut i = datagram(UDP, server, EXTERNAL, 6000, 4000, 0);
        assert_eq!(cross(&mut nf, at, OUTSIDE, INSIDE, &mut i), Verdict::Accept);
        assert_eq!(parse(&i).unwrap().dst, a);
    }
    // a's own flow (30 s towards port 9) is gone at 45 s; c's new flow
    // from the same port must not take the outside port 4000.
    let mut d = datagram(UDP, c, peer, 4000, 9, 0);
    assert_eq!(
        cross(&mut nf, 45_000, INSIDE, OUTSIDE, &mut d),
        Verdict::Accept
    );
    assert_ne!(parse(&d).unwrap().sport, 4000);
    let mut i = datagram(UDP, server, EXTERNAL, 6000, 4000, 0);
    assert_eq!(
        cross(&mut nf, 50_000, OUTSIDE, INSIDE, &mut i),
        Verdict::Accept
    );
    assert_eq!(parse(&i).unwrap().dst, a);
    // Once the admitted flow is gone too, the mapping is released.
    nf.flush();
    assert_eq!(nf.nat.as_ref().unwrap().mappings().count(), 0);
}

/// A datagram the router drops before forwarding it (its TTL ran out, no
/// route, too big with DF) leaves no flow behind: the entry prerouting
/// made is forgotten, as Linux never confirms one whose packet is dropped
/// — twenty traceroute probes cannot fill a table of sixteen.
#[test]
fn a_datagram_dropped_before_forwarding_leaves_no_flow() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    nf.conntrack.max = 16;
    let inside = Ipv4Addr::new(10, 0, 1, 10);
    for port in 33434..33454 {
        let mut d = datagram(UDP, inside, Ipv4Addr::new(203, 0, 113, 1), 40000, port, 0);
        let v = nf.hook(Hook::Prerouting, Duration::ZERO, INSIDE, None, &mut d);
        assert_eq!(v, Verdict::Accept);
        nf.not_forwarded();
    }
    assert!(nf.conntrack.is_empty());
    assert_eq!(nf.conntrack.stats.early_drop, 0);
    // A real flow still gets in.
    let mut d = datagram(UDP, inside, Ipv4Addr::new(203, 0, 113, 1), 40000, 9, 0);
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    assert_eq!(nf.conntrack.len(), 1);
}

/// An ICMP echo request or reply with identifier `id`.
fn echo(src: Ipv4Addr, dst: Ipv4Addr, request: bool, id: u16) -> Vec<u8> {
    let mut icmp = vec![if request { 8 } else { 0 }, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&[0, 1, b'x', b'y']);
    let sum = !tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(&icmp));
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ipv4_around(src, dst, Protocol::Icmp, &icmp, false, 0)
}

/// Two inside hosts pinging one server with the same identifier: the
/// second is given another one outside, and each host's replies come back
/// to it with its own identifier (the identifier is the "port" in both
/// directions of an echo flow).
#[test]
fn nat_keeps_two_pings_with_one_identifier_apart() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    let hosts = [Ipv4Addr::new(10, 0, 1, 2), Ipv4Addr::new(10, 0, 1, 3)];
    let mut ids = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let mut d = echo(*h, remote, true, 4321);
        assert_eq!(
            cross(&mut nf, i as u64, INSIDE, OUTSIDE, &mut d),
            Verdict::Accept
        );
        let p = parse(&d).unwrap();
        assert_eq!(p.src, EXTERNAL);
        ids.push(p.sport);
    }
    assert_eq!(ids[0], 4321, "the first keeps its identifier");
    assert_ne!(ids[1], ids[0]);
    for (i, h) in hosts.iter().enumerate().rev() {
        let mut r = echo(remote, EXTERNAL, false, ids[i]);
        assert_eq!(
            cross(&mut nf, 10 + i as u64, OUTSIDE, INSIDE, &mut r),
            Verdict::Accept,
            "reply to {h}"
        );
        let p = parse(&r).unwrap();
        assert_eq!((p.dst, p.sport), (*h, 4321));
        let sum = tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(&r[20..]));
        assert_eq!(sum, 0xffff, "the ICMP checksum follows the identifier");
    }
}

/// ICMP queries other than echo (timestamp, RFC 792) are tracked by
/// identifier as echo is: translated out, their replies back in; an ICMP
/// message tracking leaves alone (a router solicitation) never leaves
/// the inside with its inside source.
#[test]
fn nat_translates_icmp_queries_and_leaks_no_inside_address() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    let inside = Ipv4Addr::new(10, 0, 1, 2);
    let icmp = |src: Ipv4Addr, dst: Ipv4Addr, kind: u8, id: u16| {
        let mut d = echo(src, dst, true, id);
        d[20] = kind;
        d[22..24].copy_from_slice(&[0, 0]);
        let sum = !tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(&d[20..]));
        d[22..24].copy_from_slice(&sum.to_be_bytes());
        d
    };
    let mut q = icmp(inside, remote, 13, 777);
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut q), Verdict::Accept);
    assert_eq!(parse(&q).unwrap().src, EXTERNAL);
    let id = parse(&q).unwrap().sport;
    let mut r = icmp(remote, EXTERNAL, 14, id);
    assert_eq!(cross(&mut nf, 1, OUTSIDE, INSIDE, &mut r), Verdict::Accept);
    let p = parse(&r).unwrap();
    assert_eq!((p.dst, p.dport), (inside, 777));
    // A timestamp reply nobody asked for is not let in.
    let mut r = icmp(remote, EXTERNAL, 14, 4242);
    cross(&mut nf, 2, OUTSIDE, INSIDE, &mut r);
    assert_ne!(parse(&r).unwrap().dst, inside);
    // A router solicitation (type 10) from inside: not out untranslated.
    let mut rs = icmp(inside, remote, 10, 0);
    let v = cross(&mut nf, 3, INSIDE, OUTSIDE, &mut rs);
    assert!(
        v != Verdict::Accept || parse(&rs).unwrap().src != inside,
        "{v:?}"
    );
}

/// An ICMP error an inside router sends about a port-forwarded flow
/// leaves with the outside address as its source (and the quoted packet
/// as the outside client sent it): no inside address goes out, as with
/// Linux's nf_nat_icmp_reply_translation.
#[test]
fn nat_gives_an_inside_routers_error_the_outside_address() {
    let mut nf = Netfilter::new(vec![Ipv4Addr::new(10, 0, 1, 1), EXTERNAL], 4096, 5);
    nf.nat = Some(Nat::new(
        NatConfig {
            outside: OUTSIDE,
            external: EXTERNAL,
            inside: vec!["10.0.1.0/24".parse().unwrap()],
            forwards: vec![tcplab_netfilter::PortForward::parse("tcp 8080 10.0.1.5:80").unwrap()],
            filtering: Filtering::AddressAndPortDependent,
        },
        9,
    ));
    let client = Ipv4Addr::new(203, 0, 113, 7);
    let mut syn = datagram(TCP, client, EXTERNAL, 40000, 8080, 0x02);
    assert_eq!(
        cross(&mut nf, 0, OUTSIDE, INSIDE, &mut syn),
        Verdict::Accept
    );
    let p = parse(&syn).unwrap();
    assert_eq!((p.dst, p.dport), (Ipv4Addr::new(10, 0, 1, 5), 80));
    // A router inside (10.0.1.9) finds the SYN's TTL run out.
    let mut icmp = vec![11, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&syn[..28]);
    let sum = !tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(&icmp));
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut err = ipv4_around(
        Ipv4Addr::new(10, 0, 1, 9),
        client,
        Protocol::Icmp,
        &icmp,
        false,
        0xc0,
    );
    assert_eq!(
        cross(&mut nf, 1, INSIDE, OUTSIDE, &mut err),
        Verdict::Accept
    );
    let outer = parse(&err).unwrap();
    assert_eq!((outer.src, outer.dst), (EXTERNAL, client));
    let inner = parse(&err[28..]).unwrap();
    assert_eq!(
        (inner.src, inner.sport, inner.dst, inner.dport),
        (client, 40000, EXTERNAL, 8080)
    );
    let check = |b: &[u8]| tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(b));
    assert_eq!(check(&err[..20]), 0xffff, "outer header checksum");
    assert_eq!(check(&err[20..]), 0xffff, "ICMP checksum");
}

/// `fw -L`'s count of NAT mappings drops a flow that expired while no
/// datagram passed (the listing forgets expired flows first).
#[test]
fn mappings_of_flows_expired_while_idle_are_not_counted() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let mut d = datagram(
        UDP,
        Ipv4Addr::new(10, 0, 1, 10),
        Ipv4Addr::new(203, 0, 113, 1),
        4000,
        5000,
        0,
    );
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    let count = |nf: &Netfilter| {
        nf.list_rules()
            .iter()
            .find_map(|l| {
                l.trim()
                    .strip_suffix(" allocations failed")
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    assert!(
        count(&nf).starts_with("1 mappings in use"),
        "{}",
        count(&nf)
    );
    nf.expire(Duration::from_secs(100));
    assert!(
        count(&nf).starts_with("1 mappings in use"),
        "alive at 100 s"
    );
    nf.expire(Duration::from_secs(200));
    assert!(
        count(&nf).starts_with("0 mappings in use"),
        "{}",
        count(&nf)
    );
}

/// RFC 4787 §5 and RFC 5382 REQ-4: a packet to a mapping's outside port
/// from someone the filtering does not admit is dropped by the NAT, not
/// handed to the router's own TCP (which would reset an unsolicited SYN,
/// and break hole punching); the endpoint the mapping was made for gets
/// through, and a port nobody is mapped to stays the router's own.
/// The drop is counted as NAT's.
#[test]
fn a_filtered_packet_to_a_mapping_is_dropped_unanswered() {
    let mut nf = nat_router(Filtering::AddressAndPortDependent);
    let a = Ipv4Addr::new(10, 0, 1, 10);
    let (peer, stranger) = (Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 9));
    let syn = 0x002;
    let mut d = datagram(TCP, a, peer, 40000, 7, syn);
    assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
    let port = parse(&d).unwrap().sport;
    let mut s = datagram(TCP, stranger, EXTERNAL, 9999, port, syn);
    assert_eq!(
        nf.hook(
            Hook::Prerouting,
            Duration::from_millis(10),
            OUTSIDE,
            None,
            &mut s
        ),
        Verdict::Drop
    );
    // Counted where `fw -L` says "by NAT".
    assert_eq!(nf.counters.nat_dropped, 1);
    // The peer's answer is the flow's: translated to a.
    let mut r = datagram(TCP, peer, EXTERNAL, 7, port, 0x012);
    assert_eq!(cross(&mut nf, 20, OUTSIDE, INSIDE, &mut r), Verdict::Accept);
    assert_eq!(parse(&r).unwrap().dst, a);
    // Another port: the router's own.
    let mut o = datagram(TCP, stranger, EXTERNAL, 9999, port.wrapping_add(1), syn);
    assert_eq!(
        nf.hook(
            Hook::Prerouting,
            Duration::from_millis(30),
            OUTSIDE,
            None,
            &mut o
        ),
        Verdict::Accept
    );
}

/// `untranslate`: a datagram that left translated is put back as it
/// arrived — both directions of a masqueraded flow, checksums valid — and
/// one that was never translated is left alone.
#[test]
fn untranslate_puts_back_what_nat_rewrote_and_nothing_else() {
    let mut nf = nat_router(Filtering::EndpointIndependent);
    let inside = Ipv4Addr::new(10, 0, 1, 10);
    let remote = Ipv4Addr::new(203, 0, 113, 1);
    for proto in [UDP, TCP] {
        let sent = datagram(proto, inside, remote, 40000, 80, 0x02);
        let mut d = sent.clone();
        assert_eq!(cross(&mut nf, 0, INSIDE, OUTSIDE, &mut d), Verdict::Accept);
        assert_eq!(parse(&d).unwrap().src, EXTERNAL);
        let mut back = d.clone();
        assert!(nf.untranslate(&mut back));
        assert_eq!(back, sent, "the outbound datagram as it arrived");
        // The reply direction: in to the inside host, back to the outside
        // address and port it was sent to.
        let port = parse(&d).unwrap().sport;
        let answer = datagram(proto, remote, EXTERNAL, 80, port, 0x12);
        let mut r = answer.clone();
        assert_eq!(cross(&mut nf, 1, OUTSIDE, INSIDE, &mut r), Verdict::Accept);
        assert_eq!(parse(&r).unwrap().dst, inside);
        assert!(nf.untranslate(&mut r));
        assert_eq!(r, answer, "the reply as it arrived");
    }
    // A flow NAT did not touch (outside to outside, not masqueraded).
    let other = Ipv4Addr::new(198, 51, 100, 7);
    let sent = datagram(UDP, remote, other, 1234, 53, 0);
    let mut d = sent.clone();
    assert_eq!(cross(&mut nf, 2, OUTSIDE, OUTSIDE, &mut d), Verdict::Accept);
    assert!(!nf.untranslate(&mut d));
    assert_eq!(d, sent);
    // Nothing tracked at all, and bytes that are not a datagram.
    let mut lone = datagram(UDP, other, remote, 9, 9, 0);
    assert!(!nf.untranslate(&mut lone));
    let mut junk = vec![0x45u8, 0, 0];
    assert!(!nf.untranslate(&mut junk));
}
