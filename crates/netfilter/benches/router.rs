//! Packets per second through a router's packet policy with 1,000 ACL
//! rules and 100,000 tracked flows: every packet goes through prerouting
//! (connection tracking), forward (both interfaces' ACLs, the security
//! group) and postrouting, as the stack calls them.
//!
//! The ACL is 999 deny rules that do not match, then the allow rule that
//! does. In the first case the deny rules name other source prefixes, so
//! the candidate index by source skips them (the usual shape of real
//! ACLs); in the second they match any source and the packets' port block
//! and differ only in destination prefix, so neither index helps and every
//! packet is compared with all 1,000 rules (the worst case for first-match
//! evaluation). Packets belong to established flows taken round-robin
//! over all 100,000, so the flow table does not stay in cache.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcplab_netfilter::{
    Acl, AclList, AclRule, Hook, Nat, NatConfig, Netfilter, SecurityGroup, Verdict,
};
use tcplab_wire::{ipv4, tcp, Protocol};

const INSIDE: usize = 1;
const OUTSIDE: usize = 2;
const FLOWS: u32 = 100_000;

fn segment(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: u16) -> Vec<u8> {
    let mut r = tcp::Repr::new(
        sport,
        dport,
        tcp::Flags(flags),
        tcp::SeqNumber(1),
        tcp::SeqNumber(1),
    );
    r.window_len = 1000;
    r.payload = &[0u8; 100];
    let mut body = vec![0u8; r.buffer_len()];
    r.emit(&mut tcp::Packet::new_unchecked(&mut body[..]), src, dst);
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Tcp,
        payload_len: body.len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    b.extend_from_slice(&body);
    b
}

fn cross(nf: &mut Netfilter, t: Duration, from: usize, to: usize, b: &mut [u8]) -> Verdict {
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

/// Flow `i`: an outside client to an inside server.
fn endpoints(i: u32) -> (Ipv4Addr, Ipv4Addr, u16) {
    let client = Ipv4Addr::from(0xc633_0000 | (i / 50_000)); // 198.51.0.x
    let server = Ipv4Addr::new(10, 0, 1, 2 + (i % 200) as u8);
    (client, server, 1024 + (i % 50_000) as u16)
}

fn router(nat: bool, any_source: bool) -> Netfilter {
    let mut nf = Netfilter::new(
        vec![Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(192, 0, 2, 1)],
        200_000,
        5,
    );
    let mut inbound = AclList::default();
    for n in 1..1000u16 {
        let third = (n % 250) as u8;
        let rule = if any_source {
            format!("{n} deny tcp to 172.16.{third}.0/24 port 0-255")
        } else {
            format!("{n} deny tcp from 172.16.{third}.0/24 port {}", 1000 + n)
        };
        inbound.add(AclRule::parse(&rule).unwrap()).unwrap();
    }
    inbound
        .add(AclRule::parse("1000 allow all").unwrap())
        .unwrap();
    let mut outbound = AclList::default();
    outbound
        .add(AclRule::parse("100 allow all").unwrap())
        .unwrap();
    nf.acls.insert(INSIDE, Acl { inbound, outbound });
    nf.groups.insert(
        INSIDE,
        SecurityGroup::parse(&["allow tcp port 80"], &["allow all"], false).unwrap(),
    );
    if nat {
        nf.nat = Some(Nat::new(
            NatConfig {
                outside: OUTSIDE,
                external: Ipv4Addr::new(192, 0, 2, 1),
                inside: vec!["10.0.1.0/24".parse().unwrap()],
                forwards: vec![],
                filtering: Default::default(),
            },
            1,
        ));
    }
    // 100,000 established flows.
    let t = Duration::ZERO;
    for i in 0..FLOWS {
        let (c, s, p) = endpoints(i);
        assert_eq!(
            cross(&mut nf, t, OUTSIDE, INSIDE, &mut segment(c, s, p, 80, 0x02)),
            Verdict::Accept
        );
        assert_eq!(
            cross(&mut nf, t, INSIDE, OUTSIDE, &mut segment(s, c, 80, p, 0x12)),
            Verdict::Accept
        );
        assert_eq!(
            cross(&mut nf, t, OUTSIDE, INSIDE, &mut segment(c, s, p, 80, 0x10)),
            Verdict::Accept
        );
    }
    assert_eq!(nf.conntrack.len(), FLOWS as usize);
    nf
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(1));
    for (nat, any_source, name) in [
        (
            false,
            false,
            "1000 ACL rules (indexed) + 100k flows, per packet",
        ),
        (
            true,
            false,
            "1000 ACL rules (indexed) + 100k flows + NAT, per packet",
        ),
        (
            false,
            true,
            "1000 ACL rules (every one compared) + 100k flows, per packet",
        ),
    ] {
        let mut nf = router(nat, any_source);
        let packets: Vec<Vec<u8>> = (0..FLOWS)
            .map(|i| {
                let (c, s, p) = endpoints(i);
                segment(c, s, p, 80, 0x10)
            })
            .collect();
        let mut i = 0usize;
        let mut buf = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&packets[i % packets.len()]);
                i += 1;
                black_box(cross(
                    &mut nf,
                    Duration::from_secs(1),
                    OUTSIDE,
                    INSIDE,
                    &mut buf,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
