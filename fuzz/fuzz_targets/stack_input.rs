//! A host and a router fed arbitrary datagrams: nothing from the network may
//! panic them, and reassembly memory stays under its limit.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use tcplab_stack::{Config, IfaceId, Instant, Stack};

fn stack(router: bool) -> Stack {
    let config = Config {
        reassembly_max_bytes: 100_000,
        ..if router { Config::router() } else { Config::default() }
    };
    let mut s = Stack::new(config);
    s.add_interface("eth0", "10.0.0.2/24".parse().unwrap(), 1500).unwrap();
    s.add_interface("eth1", "10.0.1.1/24".parse().unwrap(), 576).unwrap();
    s.set_default_gateway(Ipv4Addr::new(10, 0, 0, 1)).unwrap();
    let _ = s.udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53));
    let _ = s.ping_open();
    s
}

fuzz_target!(|data: &[u8]| {
    // The input is a sequence of datagrams, each prefixed by a 2-byte length.
    for router in [false, true] {
        let mut s = stack(router);
        let mut rest = data;
        let mut t = 0u64;
        let mut buf = Vec::new();
        while rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 2048;
            rest = &rest[2..];
            let take = len.min(rest.len());
            let (packet, tail) = rest.split_at(take);
            rest = tail;
            t += 1000;
            let now = Instant::from_micros(t);
            let iface = IfaceId(1 + (t as usize / 1000) % 2);
            // Every other datagram handed over (`handle_datagram`, which a
            // router forwards in place), the rest lent (`handle_packet`).
            if t % 2000 == 0 {
                let back = s.handle_datagram(now, iface, packet.to_vec());
                assert!(back.capacity() <= 70_000, "a spare of bounded size");
            } else {
                s.handle_packet(now, iface, packet);
            }
            while s.poll_transmit(now, &mut buf).is_some() {}
            while s.poll_event().is_some() {}
            assert!(s.reassembly_bytes() <= 100_000 + 65_535);
        }
        s.handle_timeout(Instant::from_secs(3600));
        while s.poll_transmit(Instant::from_secs(3600), &mut buf).is_some() {}
        assert_eq!(s.reassembly_bytes(), 0);
    }
});
