//! Pings, errors and path MTU across routers.

use super::*;

#[test]
fn ping_across_two_routers() {
    let (mut net, c, _, _, _) = three_hops(1500);
    let h = net.nodes[c].ping_open().unwrap();
    net.nodes[c]
        .ping_send(Instant::ZERO, h, SERVER, 1, &[7; 56])
        .unwrap();
    net.run(Instant::ZERO);
    let msgs = recv_all(&mut net.nodes[c], h);
    assert_eq!(msgs.len(), 1);
    match &msgs[0] {
        PingMessage::Reply {
            from,
            seq,
            ttl,
            data,
            ..
        } => {
            assert_eq!(*from, SERVER);
            assert_eq!(*seq, 1);
            assert_eq!(*ttl, 62, "two routers decrement the TTL");
            assert_eq!(data, &vec![7; 56]);
        }
        other => panic!("{other:?}"),
    }
    assert!(net.nodes[c].poll_event().is_some());
}

/// A router given the datagram's buffer forwards in it: the same bytes go
/// out as when it is lent the datagram (TTL and checksum patched), in the
/// very buffer handed over; a datagram for the router itself hands its
/// buffer back.
#[test]
fn a_handed_over_datagram_is_forwarded_in_its_own_buffer() {
    let (mut lent, c, r1, _, _) = three_hops(1500);
    let (mut given, c2, r1b, _, _) = three_hops(1500);
    let mut datagrams = Vec::new();
    for net in [&mut lent, &mut given] {
        let h = net.nodes[c].ping_open().unwrap();
        net.nodes[c]
            .ping_send(Instant::ZERO, h, SERVER, 1, &[7; 100])
            .unwrap();
        let mut buf = Vec::new();
        let t = net.nodes[c].poll_transmit(Instant::ZERO, &mut buf).unwrap();
        datagrams.push(buf[..t.len].to_vec());
    }
    assert_eq!(datagrams[0], datagrams[1]);
    let mut out = [Vec::new(), Vec::with_capacity(2048)];
    let given_buffer = out[1].as_ptr();
    lent.nodes[r1].handle_packet(Instant::ZERO, IfaceId(1), &datagrams[0]);
    lent.nodes[r1]
        .poll_transmit(Instant::ZERO, &mut out[0])
        .unwrap();
    let handed = datagrams[1].clone();
    let at = handed.as_ptr();
    // The router keeps the buffer and has no spare yet: an empty one back.
    let spare = given.nodes[r1b].handle_datagram(Instant::ZERO, IfaceId(1), handed);
    assert_eq!(spare.capacity(), 0);
    given.nodes[r1b]
        .poll_transmit(Instant::ZERO, &mut out[1])
        .unwrap();
    assert_eq!(out[0], out[1]);
    assert_eq!(out[1].as_ptr(), at, "forwarded in the buffer handed over");
    let p = ipv4::Packet::new_checked(&out[1][..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(p.ttl(), 63);
    // The buffer `poll_transmit` took in exchange is the router's spare
    // now: the next datagram it keeps hands that very one back.
    let second = datagrams[1].clone();
    let spare = given.nodes[r1b].handle_datagram(Instant::ZERO, IfaceId(1), second);
    assert_eq!(spare.as_ptr(), given_buffer, "the router's spare back");
    // To the router itself: an echo request is answered, the buffer returned.
    let h = given.nodes[c2].ping_open().unwrap();
    given.nodes[c2]
        .ping_send(Instant::ZERO, h, Ipv4Addr::new(10, 0, 1, 1), 2, &[1; 8])
        .unwrap();
    let mut buf = Vec::new();
    let t = given.nodes[c2]
        .poll_transmit(Instant::ZERO, &mut buf)
        .unwrap();
    let request = buf[..t.len].to_vec();
    let at = request.as_ptr();
    let back = given.nodes[r1b].handle_datagram(Instant::ZERO, IfaceId(1), request);
    assert_eq!(back.as_ptr(), at, "not kept: the same buffer back");
    assert_eq!(back, buf[..t.len]);
    assert_eq!(given.nodes[r1].stats().ip.forw_datagrams, 2);
}

#[test]
fn ttl_expiry_reports_the_router() {
    let (mut net, c, _, _, _) = three_hops(1500);
    let h = net.nodes[c].ping_open().unwrap();
    for (ttl, expect_from) in [(1, [10, 0, 1, 1]), (2, [10, 0, 12, 2])] {
        net.nodes[c].ping_set_ttl(h, Some(ttl));
        net.nodes[c]
            .ping_send(Instant::ZERO, h, SERVER, 5, &[0; 8])
            .unwrap();
        net.run(Instant::ZERO);
        match recv_all(&mut net.nodes[c], h).as_slice() {
            [PingMessage::Error { seq: 5, report }] => {
                assert_eq!(report.from, Ipv4Addr::from(expect_from));
                assert_eq!(report.describe(), "Time to live exceeded");
            }
            other => panic!("ttl {ttl}: {other:?}"),
        }
    }
}

/// Ping `dst` from the client of `three_hops(1500)`; the one error that
/// comes back.
fn ping_error(dst: Ipv4Addr) -> crate::socket::IcmpErrorReport {
    let (mut net, c, _, _, _) = three_hops(1500);
    let h = net.nodes[c].ping_open().unwrap();
    net.nodes[c]
        .ping_send(Instant::ZERO, h, dst, 1, &[])
        .unwrap();
    net.run(Instant::ZERO);
    match recv_all(&mut net.nodes[c], h).as_slice() {
        [PingMessage::Error { report, .. }] => *report,
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_route_at_router_is_net_unreachable() {
    let report = ping_error(Ipv4Addr::new(10, 9, 9, 9));
    assert_eq!(report.from, Ipv4Addr::new(10, 0, 1, 1));
    assert_eq!(report.describe(), "Destination Net Unreachable");
}

#[test]
fn unknown_neighbour_is_host_unreachable() {
    let report = ping_error(Ipv4Addr::new(10, 0, 2, 77));
    assert_eq!(report.from, Ipv4Addr::new(10, 0, 12, 2));
    assert_eq!(report.describe(), "Destination Host Unreachable");
}

#[test]
fn large_ping_learns_pmtu_then_fragments() {
    let (mut net, c, _, _, s) = three_hops(576);
    let h = net.nodes[c].ping_open().unwrap();
    // Linux's default (`want`): DF set while the datagram fits the known
    // path MTU, so the first request comes back as "frag needed".
    net.nodes[c]
        .ping_send(Instant::ZERO, h, SERVER, 1, &[1; 1000])
        .unwrap();
    net.run(Instant::ZERO);
    match recv_all(&mut net.nodes[c], h).as_slice() {
        [PingMessage::Error { report, .. }] => {
            assert_eq!(report.describe(), "Frag needed and DF set (mtu = 576)");
            assert_eq!(report.from, Ipv4Addr::new(10, 0, 1, 1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nodes[c].path_mtu(SERVER), Some(576));
    // Now the client fragments; the server reassembles and its reply (DF
    // clear, as ICMP replies are) is fragmented by r2.
    net.nodes[c]
        .ping_send(Instant::ZERO, h, SERVER, 2, &[2; 1000])
        .unwrap();
    net.run(Instant::ZERO);
    match recv_all(&mut net.nodes[c], h).as_slice() {
        [PingMessage::Reply { seq: 2, data, .. }] => assert_eq!(data.len(), 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nodes[s].stats().ip.reasm_oks, 1);
    assert_eq!(net.nodes[c].stats().ip.reasm_oks, 1);
    assert!(net.nodes[c].stats().ip.frag_creates >= 2);
}

#[test]
fn dont_fragment_policy_dont_lets_router_fragment() {
    let (mut net, c, r1, _, s) = three_hops(576);
    let h = net.nodes[c].ping_open().unwrap();
    net.nodes[c].ping_set_pmtudisc(h, PmtuDisc::Dont);
    net.nodes[c]
        .ping_send(Instant::ZERO, h, SERVER, 1, &[1; 1000])
        .unwrap();
    net.run(Instant::ZERO);
    assert!(matches!(
        recv_all(&mut net.nodes[c], h).as_slice(),
        [PingMessage::Reply { seq: 1, .. }]
    ));
    assert_eq!(net.nodes[r1].stats().ip.frag_oks, 1);
    assert_eq!(net.nodes[s].stats().ip.reasm_oks, 1);
}

#[test]
fn pmtudisc_do_refuses_locally() {
    let (mut net, c, _, _, _) = three_hops(1500);
    let h = net.nodes[c].ping_open().unwrap();
    net.nodes[c].ping_set_pmtudisc(h, PmtuDisc::Do);
    assert_eq!(
        net.nodes[c].ping_send(Instant::ZERO, h, SERVER, 1, &[0; 2000]),
        Err(SendError::MessageTooLong { mtu: 1500 })
    );
    // Refused to the caller, not sent and dropped: no IP counter moves
    // (Linux's ip_append_data counts no IpOutDiscards for EMSGSIZE).
    let ip = net.nodes[c].stats().ip;
    assert_eq!((ip.out_requests, ip.out_discards), (0, 0));
}
