//! What arrives: loopback, martians, malformed input, reassembly, raw
//! sockets, the packet hook, redirects.

use super::*;

#[test]
fn loopback_never_leaves_the_host() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    let h = net.nodes[a].ping_open().unwrap();
    for (seq, dst) in [
        (1, Ipv4Addr::LOCALHOST),
        (2, Ipv4Addr::new(127, 45, 6, 7)),
        (3, Ipv4Addr::new(10, 0, 0, 1)),
    ] {
        net.nodes[a]
            .ping_send(Instant::ZERO, h, dst, seq, b"lo")
            .unwrap();
        net.run(Instant::ZERO);
        match recv_all(&mut net.nodes[a], h).as_slice() {
            [PingMessage::Reply {
                from,
                seq: s,
                ttl: 64,
                ..
            }] => {
                assert_eq!(*from, dst);
                assert_eq!(*s, seq);
            }
            other => panic!("{dst}: {other:?}"),
        }
    }
    assert!(net.wire.is_empty(), "loopback traffic appeared on a link");
    // UDP over loopback too.
    let srv = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9))
        .unwrap();
    let cli = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    net.nodes[a]
        .udp_send_to(
            Instant::ZERO,
            cli,
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9),
            &[5; 30000],
        )
        .unwrap();
    net.run(Instant::ZERO);
    assert_eq!(net.nodes[a].udp_recv(srv).unwrap().data.len(), 30000);
    assert!(net.wire.is_empty());
}

#[test]
fn datagrams_to_127_from_a_link_are_martians() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    let (_, ib) = net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    let d = raw_udp([10, 0, 0, 1], [127, 0, 0, 1], 7, b"x");
    net.nodes[b].handle_packet(Instant::ZERO, ib, &d);
    let d = raw_udp([127, 0, 0, 1], [10, 0, 0, 2], 7, b"x");
    net.nodes[b].handle_packet(Instant::ZERO, ib, &d);
    assert_eq!(net.nodes[b].stats().ip.in_addr_errors, 2);
    assert_eq!(net.nodes[b].stats().udp.no_ports, 0);
}

/// A router forwards no datagram to network 127 or network 0 (RFC 1122
/// §3.2.1.3, RFC 1812 §5.3.7: they never appear on a link), even with a
/// default route, and answers none with an ICMP error (nothing goes on
/// the wire); the limited broadcast is not forwarded either (§5.3.5.1:
/// it is the router's own to receive), nor a directed broadcast to a
/// connected subnet (RFC 2644's default).
#[test]
fn a_router_forwards_no_martian_destination() {
    let mut net = Net::new();
    let c = net.node(host(1));
    let r = net.node(Config {
        seed: 2,
        ..Config::router()
    });
    let s = net.node(host(3));
    let (_, rc) = net.link(c, "10.0.1.2/24", r, "10.0.1.1/24", 1500);
    net.link(r, "10.0.2.1/24", s, "10.0.2.2/24", 1500);
    net.nodes[r]
        .set_default_gateway(Ipv4Addr::new(10, 0, 2, 2))
        .unwrap();
    for dst in [
        [127, 0, 0, 1],
        [127, 9, 9, 9],
        [0, 1, 2, 3],
        [255, 255, 255, 255],
        [10, 0, 2, 255],
    ] {
        let d = raw_udp([10, 0, 1, 2], dst, 7, b"x");
        net.nodes[r].handle_packet(Instant::ZERO, rc, &d);
    }
    net.run(Instant::ZERO);
    let ip = net.nodes[r].stats().ip;
    assert_eq!((ip.in_addr_errors, ip.forw_datagrams), (4, 0));
    assert!(net.wire.is_empty());
    // The control: an ordinary destination is forwarded by the default
    // route.
    let d = raw_udp([10, 0, 1, 2], [192, 0, 2, 1], 7, b"x");
    net.nodes[r].handle_packet(Instant::ZERO, rc, &d);
    assert_eq!(net.nodes[r].stats().ip.forw_datagrams, 1);
}

#[test]
fn malformed_input_is_counted_never_panics() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let good = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 7, b"abc");
    // Bad IP checksum.
    let mut bad = good.clone();
    bad[10] ^= 1;
    s.handle_packet(Instant::ZERO, i, &bad);
    // Bad UDP checksum.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    s.handle_packet(Instant::ZERO, i, &bad);
    // Truncated.
    s.handle_packet(Instant::ZERO, i, &good[..25]);
    // A nonexistent interface.
    s.handle_packet(Instant::ZERO, IfaceId(9), &good);
    let st = s.stats();
    assert_eq!(st.ip.in_csum_errors, 1);
    assert_eq!(st.udp.in_csum_errors, 1);
    assert_eq!(st.ip.in_hdr_errors, 1);
    assert_eq!(st.ip.in_discards, 1);
    let mut buf = Vec::new();
    assert!(
        s.poll_transmit(Instant::ZERO, &mut buf).is_none(),
        "nothing answered"
    );
}

/// An IPv6 packet (a TUN link carries the kernel's router
/// solicitations) is the interface's drop, not an IPv4 header error.
#[test]
fn an_ipv6_packet_is_the_interfaces_drop() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let mut v6 = vec![0u8; 48];
    v6[0] = 0x60;
    v6[6] = 58;
    s.handle_packet(Instant::ZERO, i, &v6);
    let st = s.stats();
    assert_eq!((st.ip.in_hdr_errors, st.ip.in_receives), (0, 0));
    assert_eq!(s.interfaces()[i.0].counters.rx_dropped, 1);
}

#[test]
fn unknown_protocol_gets_protocol_unreachable() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let mut d = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 7, b"abc");
    d[9] = 99;
    let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
    p.fill_checksum();
    s.handle_packet(Instant::ZERO, i, &d);
    let mut buf = Vec::new();
    s.poll_transmit(Instant::ZERO, &mut buf).unwrap();
    let ip = ipv4::Packet::new_checked(&buf[..]).unwrap();
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::Message::DstUnreachable);
    assert_eq!(icmp.msg_code(), 2);
}

/// An ICMP message of `body` (its checksum filled) from 10.0.0.1 to
/// 10.0.0.2.
fn icmp_to_us(body: Vec<u8>) -> Vec<u8> {
    icmp_datagram([10, 0, 0, 1], [10, 0, 0, 2], body)
}

/// Linux answers an echo request whatever its code (RFC 792 defines only
/// 0) and a timestamp request (RFC 792 type 13) with a timestamp reply:
/// the identifier, sequence number and originate time sent back, the
/// receive and transmit times the stack's milliseconds with the high bit
/// set (not since midnight UT, as RFC 792 marks them). A timestamp
/// request with no originate time is dropped.
#[test]
fn echo_of_any_code_and_timestamp_requests_are_answered() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let mut buf = Vec::new();
    s.handle_packet(
        Instant::ZERO,
        i,
        &icmp_to_us(vec![8, 5, 0, 0, 0, 7, 0, 1, b'h', b'i']),
    );
    s.poll_transmit(Instant::ZERO, &mut buf).unwrap();
    let ip = ipv4::Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(ip.payload()[..2], [0, 0], "an echo reply, code 0");
    assert_eq!(ip.payload()[4..], [0, 7, 0, 1, b'h', b'i']);

    let now = Instant::from_millis(1234);
    let mut ts = vec![13, 0, 0, 0, 0x12, 0x34, 0, 9];
    ts.extend_from_slice(&[0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.handle_packet(now, i, &icmp_to_us(ts));
    s.poll_transmit(now, &mut buf).unwrap();
    let ip = ipv4::Packet::new_checked(&buf[..]).unwrap();
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    let stamp = (1234u32 | 0x8000_0000).to_be_bytes();
    let mut want = vec![14, 0];
    want.extend_from_slice(&ip.payload()[2..4]);
    want.extend_from_slice(&[0x12, 0x34, 0, 9, 0, 0, 0, 42]);
    want.extend_from_slice(&stamp);
    want.extend_from_slice(&stamp);
    assert_eq!(ip.payload(), &want[..]);

    s.handle_packet(now, i, &icmp_to_us(vec![13, 0, 0, 0, 0, 1, 0, 1, 0, 0]));
    assert!(s.poll_transmit(now, &mut buf).is_none());
}

/// RFC 1122 §3.2.1.8 and §3.2.2.5: an IP option whose length breaks the
/// header is a header error, answered with a Parameter Problem pointing
/// at it; well-formed options pass.
#[test]
fn a_broken_ip_option_gets_a_parameter_problem() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let srv = s
        .udp_bind(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7))
        .unwrap();
    let with_options = |opts: [u8; 4]| {
        let plain = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 7, b"abc");
        let mut d = vec![0x46];
        d.extend_from_slice(&plain[1..20]);
        d.extend_from_slice(&opts);
        d.extend_from_slice(&plain[20..]);
        let total = d.len() as u16;
        d[2..4].copy_from_slice(&total.to_be_bytes());
        let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
        p.fill_checksum();
        d
    };
    // Record route with length 0 at byte 21.
    s.handle_packet(Instant::ZERO, i, &with_options([1, 7, 0, 0]));
    let mut buf = Vec::new();
    s.poll_transmit(Instant::ZERO, &mut buf).unwrap();
    let ip = ipv4::Packet::new_checked(&buf[..]).unwrap();
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::Message::ParamProblem);
    match icmpv4::Repr::parse(&icmp).unwrap() {
        icmpv4::Repr::ParamProblem { pointer, .. } => assert_eq!(pointer, 21),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.stats().ip.in_hdr_errors, 1);
    assert!(s.udp_recv(srv).is_err(), "the datagram was delivered");
    // NOPs and End of List are well formed: delivered.
    s.handle_packet(Instant::ZERO, i, &with_options([1, 1, 0, 0]));
    assert!(s.udp_recv(srv).is_ok());
    assert_eq!(s.stats().ip.in_hdr_errors, 1);
}

#[test]
fn reassembly_timeout_sends_time_exceeded_code_1() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let whole = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 7, &[3; 1000]);
    let frags = crate::ip::fragment(&whole, 576).unwrap();
    s.handle_packet(Instant::ZERO, i, &frags[0]);
    assert_eq!(s.poll_timeout(), Some(Instant::from_secs(30)));
    s.handle_timeout(Instant::from_secs(30));
    let mut buf = Vec::new();
    let t = s.poll_transmit(Instant::from_secs(30), &mut buf).unwrap();
    assert_eq!(t.next_hop, Ipv4Addr::new(10, 0, 0, 1));
    let ip = ipv4::Packet::new_checked(&buf[..]).unwrap();
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::Message::TimeExceeded);
    assert_eq!(icmp.msg_code(), 1);
    assert_eq!(s.stats().ip.reasm_timeout, 1);
    assert_eq!(s.reassembly_bytes(), 0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn redirect_on_a_shared_lan() {
    // client and both routers on one LAN: client's gateway r1 forwards back
    // out the same interface to r2, and tells the client so.
    let mut net = Net::new();
    let c = net.node(host(1));
    let r1 = net.node(Config {
        seed: 2,
        ..Config::router()
    });
    let r2 = net.node(Config {
        seed: 3,
        ..Config::router()
    });
    let s = net.node(host(4));
    // Model the LAN as: client—r1 and r1... a shared segment needs more than
    // point-to-point links, so give each a leg and let r1 "see" r2 and the
    // client on one interface by routing: the test harness delivers by
    // next hop among all nodes on links of that interface.
    let ic = net.nodes[c]
        .add_interface("eth0", cidr("10.0.1.2/24"), 1500)
        .unwrap();
    let i1 = net.nodes[r1]
        .add_interface("eth0", cidr("10.0.1.1/24"), 1500)
        .unwrap();
    let i2 = net.nodes[r2]
        .add_interface("eth0", cidr("10.0.1.3/24"), 1500)
        .unwrap();
    let (_, _) = net.link(r2, "10.0.2.1/24", s, "10.0.2.2/24", 1500);
    net.nodes[c]
        .set_default_gateway(Ipv4Addr::new(10, 0, 1, 1))
        .unwrap();
    net.nodes[r1]
        .add_route(cidr("10.0.2.0/24"), Ipv4Addr::new(10, 0, 1, 3))
        .unwrap();
    net.nodes[s]
        .set_default_gateway(Ipv4Addr::new(10, 0, 2, 1))
        .unwrap();
    let lan = [(c, ic), (r1, i1), (r2, i2)];
    let h = net.nodes[c].ping_open().unwrap();
    let mut redirected = false;
    for seq in 1..=2 {
        net.nodes[c]
            .ping_send(Instant::ZERO, h, SERVER, seq, b"x")
            .unwrap();
        // Deliver by hand on the LAN.
        let mut buf = Vec::new();
        let mut r1_saw = 0;
        loop {
            let mut moved = false;
            for &(n, iface) in &lan {
                while let Some(t) = net.nodes[n].poll_transmit(Instant::ZERO, &mut buf) {
                    moved = true;
                    let bytes = buf[..t.len].to_vec();
                    if t.iface != iface {
                        // r2's link to the server.
                        net.nodes[s].handle_packet(Instant::ZERO, IfaceId(1), &bytes);
                        continue;
                    }
                    let &(dst, diface) = lan
                        .iter()
                        .find(|(m, _)| net.nodes[*m].is_local_addr(t.next_hop))
                        .unwrap();
                    if dst == r1 {
                        r1_saw += 1;
                    }
                    net.nodes[dst].handle_packet(Instant::ZERO, diface, &bytes);
                }
            }
            let mut sbuf = Vec::new();
            while let Some(_t) = net.nodes[s].poll_transmit(Instant::ZERO, &mut sbuf) {
                moved = true;
                let bytes = sbuf.clone();
                net.nodes[r2].handle_packet(Instant::ZERO, IfaceId(2), &bytes);
            }
            if !moved {
                break;
            }
        }
        let msgs = recv_all(&mut net.nodes[c], h);
        assert!(
            msgs.iter().any(|m| matches!(m, PingMessage::Reply { .. })),
            "{msgs:?}"
        );
        if seq == 1 {
            assert_eq!(r1_saw, 1);
            let route = net.nodes[c].route_to(SERVER).unwrap();
            redirected = route.gateway == Some(Ipv4Addr::new(10, 0, 1, 3));
        } else {
            assert_eq!(
                r1_saw, 0,
                "after the redirect the client goes straight to r2"
            );
        }
    }
    assert!(redirected);
    assert_eq!(net.nodes[r1].stats().icmp.out_type[5], 1);
}

#[test]
fn reassembly_memory_bounded_under_fragment_flood() {
    let config = Config {
        reassembly_max_bytes: 200_000,
        reassembly_max_datagrams: 32,
        ..host(1)
    };
    let mut s = Stack::new(config);
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    for ident in 0..5000u16 {
        let mut d = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 7, &[0; 1400]);
        let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
        p.set_ident(ident);
        p.fill_checksum();
        let frags = crate::ip::fragment(&d, 576).unwrap();
        s.handle_packet(Instant::from_micros(u64::from(ident)), i, &frags[1]);
        assert!(s.reassembly_bytes() <= 200_000);
    }
    // Every datagram held, given up or timed out is accounted for: the
    // evicted ones count as failed reassemblies too.
    let held = s.reassembly_queues() as u64;
    assert!(held > 0 && held <= 32);
    assert_eq!(s.stats().ip.reasm_fails + held, 5000);
    s.handle_timeout(Instant::from_secs(100));
    assert_eq!(s.reassembly_bytes(), 0);
    assert_eq!(s.reassembly_queues(), 0);
    assert_eq!(s.stats().ip.reasm_fails, 5000);
    let _ = Duration::ZERO;
}

#[test]
fn raw_tcp_socket_sees_replies_and_tcp_still_resets_the_stray_syn_ack() {
    use tcplab_wire::tcp;
    let (mut net, c, _, _, s) = three_hops(1500);
    let listener = net.nodes[s]
        .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 8)
        .unwrap();
    let raw = net.nodes[c].raw_open(Protocol::Tcp);
    let sport = net.nodes[c].raw_reserve_port(raw, SocketKind::Tcp).unwrap();
    let src = net.nodes[c].source_addr_for(SERVER).unwrap();
    assert_eq!(src, Ipv4Addr::new(10, 0, 1, 2));
    for (dport, expect) in [
        (80, tcp::Flags::SYN | tcp::Flags::ACK),
        (81, tcp::Flags::RST | tcp::Flags::ACK),
    ] {
        let syn = raw_syn(src, SERVER, sport, dport);
        net.nodes[c]
            .raw_send(Instant::ZERO, raw, SERVER, &syn)
            .unwrap();
        net.run(Instant::ZERO);
        let got = net.nodes[c].raw_recv(raw).unwrap();
        assert_eq!(got.src, SERVER);
        let packet = tcp::Packet::new_checked(&got.payload[..]).unwrap();
        let repr = tcp::Repr::parse(&packet).unwrap();
        assert_eq!(repr.flags, expect, "reply to a SYN for port {dport}");
        assert_eq!(repr.ack_number, tcp::SeqNumber(1001));
        assert_eq!(net.nodes[c].raw_recv(raw), Err(RecvError::WouldBlock));
    }
    // Our TCP knew nothing of the SYN-ACK and reset it, so the server's
    // half-open connection is gone and nothing waits to be accepted.
    let resets = net
        .wire
        .iter()
        .filter(|(n, b)| *n == c && b[9] == 6 && b[33] & 0x04 != 0)
        .count();
    assert_eq!(resets, 1);
    assert_eq!(
        net.nodes[s].tcp_accept(listener),
        Err(RecvError::WouldBlock)
    );
    // The reserved port is released on close.
    net.nodes[c].raw_close(raw);
    assert!(net.nodes[c]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, sport))
        .is_ok());
}

#[test]
fn raw_socket_for_an_unknown_protocol_takes_it_without_protocol_unreachable() {
    let (mut net, c, _, _, s) = three_hops(1500);
    let raw_s = net.nodes[s].raw_open(Protocol::Unknown(253));
    let raw_c = net.nodes[c].raw_open(Protocol::Unknown(253));
    net.nodes[c]
        .raw_send(Instant::ZERO, raw_c, SERVER, b"experiment")
        .unwrap();
    net.run(Instant::ZERO);
    let got = net.nodes[s].raw_recv(raw_s).unwrap();
    assert_eq!(got.payload, b"experiment");
    assert_eq!(got.ttl, 62);
    assert_eq!(net.nodes[s].stats().ip.in_unknown_protos, 0);
    assert_eq!(net.nodes[c].stats().icmp.in_type[3], 0);
}

#[test]
fn loopback_cost_delays_delivery_one_datagram_after_another() {
    let mut s = Stack::new(Config {
        loopback_cost: crate::LoopbackCost {
            per_packet: Duration::from_micros(2),
            per_byte_ps: 1000,
        },
        ..host(1)
    });
    let rx = s
        .udp_bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9))
        .unwrap();
    let tx = s
        .udp_bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9);
    // Two datagrams of 72 bytes (28 of headers): 2 us + 72 ns each, in turn.
    s.udp_send_to(Instant::ZERO, tx, to, &[0u8; 44]).unwrap();
    s.udp_send_to(Instant::ZERO, tx, to, &[1u8; 44]).unwrap();
    let mut buf = Vec::new();
    assert!(s.poll_transmit(Instant::ZERO, &mut buf).is_none());
    assert_eq!(s.udp_recv(rx), Err(RecvError::WouldBlock));
    let first = Instant::ZERO + Duration::from_nanos(2072);
    assert_eq!(s.poll_timeout(), Some(first));
    s.handle_timeout(first);
    assert!(s.poll_transmit(first, &mut buf).is_none());
    assert_eq!(s.udp_recv(rx).unwrap().data, [0u8; 44]);
    assert_eq!(s.udp_recv(rx), Err(RecvError::WouldBlock));
    let second = first + Duration::from_nanos(2072);
    assert_eq!(s.poll_timeout(), Some(second));
    s.handle_timeout(second);
    s.poll_transmit(second, &mut buf);
    assert_eq!(s.udp_recv(rx).unwrap().data, [1u8; 44]);
}

/// A hook that records what it is shown and lets everything pass.
#[derive(Debug, Default)]
struct Recorder {
    seen: std::rc::Rc<std::cell::RefCell<Vec<(crate::hook::HookPoint, usize, bool)>>>,
}

impl crate::hook::PacketHook for Recorder {
    fn process(
        &mut self,
        point: crate::hook::HookPoint,
        _now: Instant,
        _in_iface: IfaceId,
        _out_iface: Option<IfaceId>,
        datagram: &mut [u8],
    ) -> crate::hook::HookVerdict {
        let p = ipv4::Packet::new_unchecked(&datagram[..]);
        let fragment = p.more_frags() || p.frag_offset() != 0;
        self.seen
            .borrow_mut()
            .push((point, datagram.len(), fragment));
        crate::hook::HookVerdict::Accept
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The hook sees whole datagrams: fragments are reassembled first, for
/// the router itself as for transit (NAT's port forwards need the ports
/// of a datagram to the router's own address).
#[test]
fn the_hook_sees_reassembled_datagrams() {
    use crate::hook::HookPoint::*;
    let (mut net, c, r1, _, s) = three_hops(1500);
    let seen = std::rc::Rc::default();
    net.nodes[r1].set_hook(Box::new(Recorder {
        seen: std::rc::Rc::clone(&seen),
    }));
    let sock = net.nodes[r1]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let _ = (c, s);
    let to_router = raw_udp([10, 0, 1, 2], [10, 0, 1, 1], 9, &[7; 3000]);
    let transit = raw_udp([10, 0, 1, 2], [10, 0, 2, 2], 9, &[7; 3000]);
    let r1_in = net.links[0].1 .1;
    for whole in [&to_router, &transit] {
        for f in crate::ip::fragment(whole, 1500).unwrap() {
            net.nodes[r1].handle_packet(Instant::ZERO, r1_in, &f);
        }
    }
    net.run(Instant::ZERO);
    assert_eq!(net.nodes[r1].udp_recv(sock).unwrap().data.len(), 3000);
    let seen = seen.borrow();
    // The two datagrams, whole; then the server's port unreachable (576
    // bytes) on its way back through r1.
    let pre: Vec<_> = seen.iter().filter(|x| x.0 == Prerouting).collect();
    assert_eq!(
        pre,
        [
            &(Prerouting, 3028, false),
            &(Prerouting, 3028, false),
            &(Prerouting, 576, false)
        ],
        "{seen:?}"
    );
    assert!(seen.iter().any(|x| x.0 == Forward && x.1 == 3028));
    assert!(seen.iter().any(|x| x.0 == Postrouting && x.1 == 3028));
}

/// An application that never asks for events (it polls readiness) must not
/// see the event queue grow with every socket it ever had: events of freed
/// sockets go, and the queue stays within twice the live sockets' events.
#[test]
fn events_of_freed_sockets_do_not_pile_up() {
    let mut net = Net::new();
    let c = net.node(host(1));
    let s = net.node(host(2));
    net.link(c, "10.0.0.1/24", s, "10.0.0.2/24", 1500);
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let l = net.nodes[s]
        .tcp_listen(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), 16)
        .unwrap();
    let mut now = Instant::from_secs(1);
    let mut most = 0;
    for i in 0..500 {
        let h = net.nodes[c].tcp_connect(now, server, None).unwrap();
        net.run(now);
        let a = net.nodes[s].tcp_accept(l).unwrap();
        net.nodes[c].tcp_close(now, h);
        net.nodes[s].tcp_close(now, a);
        net.run(now);
        now += Duration::from_millis(1);
        // Both ends are gone but the client's TIME-WAIT (which ends by
        // itself, 2·MSL later): every 100 connections, let those expire.
        if i % 100 == 99 {
            now += Duration::from_secs(300);
            for n in [c, s] {
                net.nodes[n].handle_timeout(now);
            }
            net.run(now);
        }
        most = most.max(net.nodes[c].events.len() + net.nodes[s].events.len());
    }
    let live = net.nodes[c].tcp.iter().count() + net.nodes[s].tcp.iter().count();
    assert!(
        most <= 2 * 2 * 100 + 2 * 64 + 4,
        "the event queues reached {most} entries"
    );
    // What is left is for live sockets (the listener and connections still
    // in TIME-WAIT), each once; those events are still delivered.
    let queued = net.nodes[s].queued_events.len() + net.nodes[c].queued_events.len();
    assert!(queued <= live, "{queued} queued events for {live} sockets");
    let mut seen = 0;
    while net.nodes[s].poll_event().is_some() {
        seen += 1;
    }
    assert!(seen >= 1, "the listener's event was lost");
}

/// RFC 1122 §3.3.2: a host reassembles datagrams up to EMTU_R; here the
/// largest IPv4 can carry (65,535 bytes: 65,507 of UDP payload), sent
/// across a link of MTU 1500 in 45 fragments.
#[test]
fn the_largest_datagram_is_reassembled() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    let srv = net.nodes[b]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9))
        .unwrap();
    let cli = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    let payload: Vec<u8> = (0..65_507u32).map(|i| i as u8).collect();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9);
    net.nodes[a]
        .udp_send_to(Instant::ZERO, cli, to, &payload)
        .unwrap();
    net.run(Instant::ZERO);
    assert_eq!(net.wire.len(), 45);
    assert_eq!(net.nodes[b].udp_recv(srv).unwrap().data, payload);
    // One byte more does not fit IPv4 at all.
    assert!(net.nodes[a]
        .udp_send_to(Instant::ZERO, cli, to, &[0; 65_508])
        .is_err());
}

/// IP identification: each datagram a host sends to a destination takes
/// the next value of that destination's counter (RFC 6864 §4.3 asks that
/// non-atomic datagrams not repeat one within a datagram lifetime; see
/// docs/compliance.md for the limit), and what goes to one destination
/// does not move another's: no shared counter for an idle scan to read
/// (RFC 7739 §3).
#[test]
fn identifications_count_per_destination() {
    use crate::ip::IpLayer;
    use tcplab_wire::Protocol;
    let mut rng = crate::Rng::new(7);
    let mut ip = IpLayer::new(&crate::Config::default(), &mut rng);
    let me = Ipv4Addr::new(10, 0, 0, 1);
    let (x, y) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3));
    let first = ip.next_ident(me, x, Protocol::Udp);
    let probe = ip.next_ident(me, y, Protocol::Udp);
    for _ in 0..100 {
        ip.next_ident(me, x, Protocol::Udp);
    }
    assert_eq!(ip.next_ident(me, x, Protocol::Udp), first.wrapping_add(101));
    assert_eq!(ip.next_ident(me, y, Protocol::Udp), probe.wrapping_add(1));
    // Sequences of different destinations start apart.
    assert_ne!(first, probe);
    // Another protocol to the same destination is another sequence (the
    // layer remembers the last triple's hash: each part of it counts).
    let tcp = ip.next_ident(me, x, Protocol::Tcp);
    assert_eq!(ip.next_ident(me, x, Protocol::Tcp), tcp.wrapping_add(1));
    assert_eq!(ip.next_ident(me, x, Protocol::Udp), first.wrapping_add(102));
    assert_eq!(ip.next_ident(x, me, Protocol::Udp), {
        let mut fresh = IpLayer::new(&crate::Config::default(), &mut crate::Rng::new(7));
        fresh.next_ident(x, me, Protocol::Udp)
    });
}

#[test]
fn each_datagram_takes_a_new_identification() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    let cli = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9);
    for _ in 0..3 {
        net.nodes[a]
            .udp_send_to(Instant::ZERO, cli, to, b"x")
            .unwrap();
    }
    net.run(Instant::ZERO);
    let ids: Vec<u16> = net
        .wire
        .iter()
        .filter(|(n, _)| *n == a)
        .map(|(_, d)| ipv4::Packet::new_checked(&d[..]).unwrap().ident())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], ids[0].wrapping_add(1));
    assert_eq!(ids[2], ids[1].wrapping_add(1));
}

/// Source quench (RFC 6633: obsolete, ignored) and ICMP types a host does
/// not know (RFC 1122 §3.2.2: silently discarded) change nothing: no
/// error reaches a socket, nothing is sent in answer.
#[test]
fn source_quench_and_unknown_icmp_types_are_ignored() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    let (ia, _) = net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    // The socket the quoted datagram came from (raw_udp's port 40000).
    let sock = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 40000))
        .unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9);
    net.nodes[a].udp_connect(Instant::ZERO, sock, to).unwrap();
    net.nodes[a].udp_set_recv_err(sock, true);
    let sent = raw_udp([10, 0, 0, 1], [10, 0, 0, 2], 9, b"x");
    // The last, port unreachable, is the control: it does reach the socket.
    for (ty, code) in [(4u8, 0u8), (42, 0), (3, 3)] {
        let d = icmp_quoting(
            [10, 0, 0, 2],
            [10, 0, 0, 1],
            [ty, code, 0, 0, 0, 0, 0, 0],
            &sent,
        );
        net.nodes[a].handle_packet(Instant::ZERO, ia, &d);
    }
    net.run(Instant::ZERO);
    assert!(net.wire.is_empty());
    let report = net.nodes[a].udp_recv_error(sock).expect("the control");
    assert_eq!((report.icmp_type, report.code), (3, 3));
    assert!(net.nodes[a].udp_recv_error(sock).is_none());
    // RFC 1122 §3.2.2.1: a destination unreachable with a code this host
    // does not know still goes to the transport, code and all.
    let d = icmp_quoting(
        [10, 0, 0, 2],
        [10, 0, 0, 1],
        [3, 42, 0, 0, 0, 0, 0, 0],
        &sent,
    );
    net.nodes[a].handle_packet(Instant::ZERO, ia, &d);
    let report = net.nodes[a].udp_recv_error(sock).expect("an unknown code");
    assert_eq!((report.icmp_type, report.code), (3, 42));
}

/// An ICMP message from `src` to `dst` with the 8-byte `head` (type, code,
/// checksum, the rest of the header) quoting the first 28 bytes of
/// `quoted`.
fn icmp_quoting(src: [u8; 4], dst: [u8; 4], head: [u8; 8], quoted: &[u8]) -> Vec<u8> {
    let mut body = head.to_vec();
    body.extend_from_slice(&quoted[..28]);
    icmp_datagram(src, dst, body)
}

/// An ICMP message of `body` (its checksum filled) from `src` to `dst`.
fn icmp_datagram(src: [u8; 4], dst: [u8; 4], mut body: Vec<u8>) -> Vec<u8> {
    let sum = !tcplab_wire::checksum::data(&body);
    body[2..4].copy_from_slice(&sum.to_be_bytes());
    let ip = ipv4::Repr {
        src_addr: Ipv4Addr::from(src),
        dst_addr: Ipv4Addr::from(dst),
        protocol: Protocol::Icmp,
        payload_len: body.len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut d = vec![0u8; 20];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut d[..]));
    d.extend_from_slice(&body);
    d
}

/// RFC 1122 §3.2.2.2: a host takes a redirect only from its current first
/// hop for the destination, only to a gateway on the same network, and
/// treats a network redirect as one for the quoted host alone.
#[test]
fn redirects_only_from_the_first_hop_to_an_on_link_gateway() {
    let mut s = Stack::new(host(1));
    let eth = s.add_interface("eth0", cidr("10.0.1.2/24"), 1500).unwrap();
    s.set_default_gateway(Ipv4Addr::new(10, 0, 1, 1)).unwrap();
    let quoted = raw_udp([10, 0, 1, 2], [10, 0, 2, 2], 9, b"x");
    let redirect = |code: u8, gw: [u8; 4]| [5, code, 0, 0, gw[0], gw[1], gw[2], gw[3]];
    let redirected = |s: &Stack| -> Vec<String> {
        s.routes()
            .filter(|r| r.origin == RouteOrigin::Redirect)
            .map(|r| format!("{} via {:?}", r.dest, r.gateway))
            .collect()
    };
    // Not from the first hop (10.0.1.9 is a neighbour, not our gateway).
    let d = icmp_quoting(
        [10, 0, 1, 9],
        [10, 0, 1, 2],
        redirect(1, [10, 0, 1, 3]),
        &quoted,
    );
    s.handle_packet(Instant::ZERO, eth, &d);
    // From the first hop, to a gateway off the network.
    let d = icmp_quoting(
        [10, 0, 1, 1],
        [10, 0, 1, 2],
        redirect(1, [10, 0, 7, 3]),
        &quoted,
    );
    s.handle_packet(Instant::ZERO, eth, &d);
    // From the first hop, to itself or to us, or to an address of the
    // subnet that is no host (its broadcast and network addresses).
    for gw in [[10, 0, 1, 1], [10, 0, 1, 2], [10, 0, 1, 255], [10, 0, 1, 0]] {
        let d = icmp_quoting([10, 0, 1, 1], [10, 0, 1, 2], redirect(1, gw), &quoted);
        s.handle_packet(Instant::ZERO, eth, &d);
    }
    assert_eq!(redirected(&s), Vec::<String>::new());
    // A network redirect (code 0) from the first hop: a host route for
    // the quoted destination only.
    let d = icmp_quoting(
        [10, 0, 1, 1],
        [10, 0, 1, 2],
        redirect(0, [10, 0, 1, 3]),
        &quoted,
    );
    s.handle_packet(Instant::ZERO, eth, &d);
    assert_eq!(redirected(&s), ["10.0.2.2/32 via Some(10.0.1.3)"]);
    // Once redirected, the old first hop is no longer the one to listen to.
    let other = raw_udp([10, 0, 1, 2], [10, 0, 2, 2], 10, b"y");
    let d = icmp_quoting(
        [10, 0, 1, 1],
        [10, 0, 1, 2],
        redirect(1, [10, 0, 1, 4]),
        &other,
    );
    s.handle_packet(Instant::ZERO, eth, &d);
    assert_eq!(redirected(&s), ["10.0.2.2/32 via Some(10.0.1.3)"]);
}

/// A route learned from a redirect lasts `REDIRECT_LIFETIME` (Linux's
/// route-cache exception, `gc_timeout` 300 s): then the configured route
/// is used again, until the next redirect.
#[test]
fn redirect_routes_expire() {
    let mut s = Stack::new(host(1));
    let eth = s.add_interface("eth0", cidr("10.0.1.2/24"), 1500).unwrap();
    s.set_default_gateway(Ipv4Addr::new(10, 0, 1, 1)).unwrap();
    let quoted = raw_udp([10, 0, 1, 2], [10, 0, 2, 2], 9, b"x");
    let d = icmp_quoting(
        [10, 0, 1, 1],
        [10, 0, 1, 2],
        [5, 1, 0, 0, 10, 0, 1, 3],
        &quoted,
    );
    let first_hop = |s: &Stack| {
        s.route_to(Ipv4Addr::new(10, 0, 2, 2))
            .and_then(|r| r.gateway)
    };
    let t = |secs: u64| Instant::ZERO + Duration::from_secs(secs);
    s.handle_packet(t(10), eth, &d);
    assert_eq!(first_hop(&s), Some(Ipv4Addr::new(10, 0, 1, 3)));
    assert_eq!(
        s.route_expires(cidr("10.0.2.2/32")),
        Some(t(10) + crate::route::REDIRECT_LIFETIME)
    );
    s.handle_timeout(t(309));
    assert_eq!(first_hop(&s), Some(Ipv4Addr::new(10, 0, 1, 3)));
    s.handle_timeout(t(310));
    assert_eq!(first_hop(&s), Some(Ipv4Addr::new(10, 0, 1, 1)));
    assert_eq!(s.route_expires(cidr("10.0.2.2/32")), None);
    // Learned again from the next redirect, for as long.
    s.handle_packet(t(400), eth, &d);
    s.handle_timeout(t(699));
    assert_eq!(first_hop(&s), Some(Ipv4Addr::new(10, 0, 1, 3)));
    s.handle_timeout(t(700));
    assert_eq!(first_hop(&s), Some(Ipv4Addr::new(10, 0, 1, 1)));
}

/// Redirects for ever new destinations (spoofed as coming from the first
/// hop) keep at most `MAX_REDIRECT_ROUTES` routes, the newest ones.
#[test]
fn redirect_routes_are_bounded() {
    let mut s = Stack::new(host(1));
    let eth = s.add_interface("eth0", cidr("10.0.1.2/24"), 1500).unwrap();
    s.set_default_gateway(Ipv4Addr::new(10, 0, 1, 1)).unwrap();
    let before = s.routes().count();
    let n = crate::route::MAX_REDIRECT_ROUTES + 100;
    for i in 0..n {
        let [a, b] = (i as u16).to_be_bytes();
        let quoted = raw_udp([10, 0, 1, 2], [10, 9, a, b], 9, b"x");
        let d = icmp_quoting(
            [10, 0, 1, 1],
            [10, 0, 1, 2],
            [5, 1, 0, 0, 10, 0, 1, 3],
            &quoted,
        );
        s.handle_packet(Instant::ZERO, eth, &d);
    }
    let learned: Vec<String> = s
        .routes()
        .filter(|r| r.origin == RouteOrigin::Redirect)
        .map(|r| r.dest.to_string())
        .collect();
    assert_eq!(learned.len(), crate::route::MAX_REDIRECT_ROUTES);
    assert_eq!(s.routes().count(), before + learned.len());
    // The oldest went; the newest stayed and are used.
    assert!(!learned.contains(&"10.9.0.0/32".to_string()));
    let last = Ipv4Addr::new(10, 9, ((n - 1) >> 8) as u8, (n - 1) as u8);
    assert_eq!(
        s.routes()
            .find(|r| r.origin == RouteOrigin::Redirect && r.dest.contains(last))
            .and_then(|r| r.gateway),
        Some(Ipv4Addr::new(10, 0, 1, 3))
    );
}

/// A router tells a host of a better first hop with a gap of 20 ms × 2^n
/// after the n-th redirect, nine at most while the host keeps
/// sending through it, and again once it has been quiet for ~20 s
/// (Linux's ip_rt_send_redirect); every datagram is still forwarded.
#[test]
fn redirects_to_one_host_back_off() {
    let mut r = Stack::new(Config {
        seed: 2,
        ..Config::router()
    });
    let eth = r.add_interface("eth0", cidr("10.0.1.1/24"), 1500).unwrap();
    r.add_route(cidr("10.0.2.0/24"), Ipv4Addr::new(10, 0, 1, 3))
        .unwrap();
    let mut buf = Vec::new();
    let mut send = |r: &mut Stack, at_ms: u64| -> (usize, usize) {
        let now = Instant::from_millis(at_ms);
        let d = raw_udp([10, 0, 1, 2], [10, 0, 2, 2], 9, b"x");
        r.handle_packet(now, eth, &d);
        let (mut redirects, mut forwarded) = (0, 0);
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            let p = ipv4::Packet::new_checked(&buf[..t.len]).unwrap();
            if p.protocol() == Protocol::Icmp {
                assert_eq!(p.payload()[0], 5, "a redirect");
                redirects += 1;
            } else {
                forwarded += 1;
            }
        }
        (redirects, forwarded)
    };
    // The first at once; the second not within 40 ms, then after it.
    assert_eq!(send(&mut r, 0), (1, 1));
    assert_eq!(send(&mut r, 40), (0, 1));
    assert_eq!(send(&mut r, 41), (1, 1));
    // A datagram every millisecond for 20 s: nine redirects in all.
    let mut total = 2;
    for ms in 42..20_000 {
        total += send(&mut r, ms).0;
    }
    assert_eq!(total, 9);
    // Quiet for a while, then one more: told again.
    assert_eq!(send(&mut r, 20_000 + 21_000).0, 1);
}

/// A gateway must be a neighbour's address: not this host's own, nor the
/// connected network's network or broadcast address (Linux: "Nexthop has
/// invalid gateway"); on a /31 both addresses are hosts' (RFC 3021).
#[test]
fn a_gateway_must_be_a_neighbours_address() {
    let mut s = Stack::new(host(1));
    s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    s.add_interface("eth1", cidr("10.0.9.0/31"), 1500).unwrap();
    let dest = cidr("10.5.0.0/16");
    for gw in [[10, 0, 0, 2], [10, 0, 0, 0], [10, 0, 0, 255], [10, 0, 9, 0]] {
        let gw = Ipv4Addr::from(gw);
        assert_eq!(
            s.add_route(dest, gw),
            Err(ConfigError::InvalidGateway(gw)),
            "{gw}"
        );
    }
    assert_eq!(
        s.set_default_gateway(Ipv4Addr::new(10, 0, 0, 255)),
        Err(ConfigError::InvalidGateway(Ipv4Addr::new(10, 0, 0, 255)))
    );
    assert_eq!(s.add_route(dest, Ipv4Addr::new(10, 0, 0, 1)), Ok(()));
    assert_eq!(s.add_route(dest, Ipv4Addr::new(10, 0, 9, 1)), Ok(()));
}
