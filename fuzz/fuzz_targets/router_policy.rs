//! A router with NAT, ACLs, a security group and a tiny flow table, fed
//! arbitrary datagrams on both interfaces: nothing from the network may
//! panic the stack or its packet policy, and the flow table never grows
//! past its limit.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tcplab_host::NetfilterHook;
use tcplab_netfilter::{Acl, AclList, Filtering, Nat, NatConfig, Netfilter, PortForward, SecurityGroup};
use tcplab_stack::{Config, IfaceId, Instant, Stack};
use tcplab_wire::ipv4;

const MAX_FLOWS: usize = 16;

fn router() -> Stack {
    let mut s = Stack::new(Config {
        reassembly_max_bytes: 100_000,
        ..Config::router()
    });
    let inside = s.add_interface("eth0", "10.0.1.1/24".parse().unwrap(), 1500).unwrap();
    let outside = s.add_interface("eth1", "192.0.2.1/24".parse().unwrap(), 576).unwrap();
    s.set_default_gateway(Ipv4Addr::new(192, 0, 2, 254)).unwrap();
    let mut nf = Netfilter::new(
        vec![Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(192, 0, 2, 1)],
        MAX_FLOWS,
        1,
    );
    nf.acls.insert(
        outside.0,
        Acl {
            inbound: AclList::parse(&["100 deny udp port 9", "200 allow all"]).unwrap(),
            outbound: AclList::parse(&["100 allow all"]).unwrap(),
        },
    );
    nf.groups.insert(
        inside.0,
        SecurityGroup::parse(&["allow tcp port 80", "allow icmp"], &["allow all"], true).unwrap(),
    );
    nf.nat = Some(Nat::new(
        NatConfig {
            outside: outside.0,
            external: Ipv4Addr::new(192, 0, 2, 1),
            inside: vec!["10.0.1.0/24".parse().unwrap()],
            forwards: vec![PortForward::parse("tcp 8080 10.0.1.2:80").unwrap()],
            filtering: Filtering::AddressDependent,
        },
        2,
    ));
    s.set_hook(Box::new(NetfilterHook(nf)));
    s
}

fuzz_target!(|data: &[u8]| {
    let mut s = router();
    let mut rest = data;
    let mut t = 0u64;
    let mut buf = Vec::new();
    // A sequence of datagrams, each prefixed by a 2-byte length whose top
    // bit picks the interface and a time step.
    while rest.len() >= 3 {
        let head = u16::from_be_bytes([rest[0], rest[1]]);
        let step = u64::from(rest[2]);
        rest = &rest[3..];
        let take = usize::from(head & 0x7ff).min(rest.len());
        let (packet, tail) = rest.split_at(take);
        rest = tail;
        // Up to about 4 minutes apart, so flows expire too.
        t += step * step * 4000;
        let now = Instant::from_micros(t);
        let iface = IfaceId(if head & 0x8000 != 0 { 2 } else { 1 });
        // Bit 14 asks for a correct header checksum, so that the datagram
        // gets past the stack's checks to the policy.
        let mut packet = packet.to_vec();
        let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
        if head & 0x4000 != 0 && ihl >= 20 && packet.len() >= ihl {
            ipv4::Packet::new_unchecked(&mut packet[..]).fill_checksum();
        }
        s.handle_packet(now, iface, &packet);
        while s.poll_transmit(now, &mut buf).is_some() {}
        s.handle_timeout(now);
        let flows = s
            .hook_mut()
            .and_then(|h| h.as_any_mut().downcast_mut::<NetfilterHook>())
            .map(|h| h.0.conntrack.len())
            .unwrap_or(0);
        assert!(flows <= MAX_FLOWS, "{flows} flows in a table of {MAX_FLOWS}");
    }
});
