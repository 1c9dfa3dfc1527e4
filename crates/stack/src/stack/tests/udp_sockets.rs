//! UDP sockets: exchanges, errors, binding and sharing a port.

use super::*;

#[test]
fn udp_exchange_and_port_unreachable() {
    let (mut net, c, _, _, s) = three_hops(1500);
    let server = net.nodes[s]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let client = net.nodes[c]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    let cport = net.nodes[c].udp_local_addr(client).unwrap().port();
    assert!(
        cport >= 49152,
        "ephemeral port {cport} outside the dynamic range"
    );
    net.nodes[c]
        .udp_send_to(
            Instant::ZERO,
            client,
            SocketAddrV4::new(SERVER, 7),
            b"hello",
        )
        .unwrap();
    net.run(Instant::ZERO);
    let d = net.nodes[s].udp_recv(server).unwrap();
    assert_eq!(d.data, b"hello");
    assert_eq!(d.from, SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 2), cport));
    assert_eq!(d.to, SERVER);
    // Echo it back.
    net.nodes[s]
        .udp_send_to(Instant::ZERO, server, d.from, &d.data)
        .unwrap();
    net.run(Instant::ZERO);
    assert_eq!(net.nodes[c].udp_recv(client).unwrap().data, b"hello");

    // A connected socket hears "Connection refused" from a closed port.
    net.nodes[c]
        .udp_connect(Instant::ZERO, client, SocketAddrV4::new(SERVER, 9999))
        .unwrap();
    net.nodes[c].udp_send(Instant::ZERO, client, b"x").unwrap();
    net.run(Instant::ZERO);
    assert_eq!(
        net.nodes[c].udp_recv(client),
        Err(RecvError::Socket(SocketError::ConnectionRefused))
    );
    assert_eq!(net.nodes[s].stats().udp.no_ports, 1);
    assert_eq!(net.nodes[c].udp_recv(client), Err(RecvError::WouldBlock));
}

/// A connected UDP socket hears only its peer (what a stub resolver's
/// RFC 5452 §9.1 source check rests on): a datagram from another address
/// or port is no one's, and answered with port unreachable.
#[test]
fn a_connected_udp_socket_hears_only_its_peer() {
    let mut net = Net::new();
    let a = net.node(host(1));
    let b = net.node(host(2));
    let (ia, _) = net.link(a, "10.0.0.1/24", b, "10.0.0.2/24", 1500);
    let sock = net.nodes[a]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 40000))
        .unwrap();
    let peer = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 53);
    net.nodes[a].udp_connect(Instant::ZERO, sock, peer).unwrap();
    for (src, sport) in [([10, 0, 0, 2], 54), ([10, 0, 0, 3], 53)] {
        let d = raw_udp_from(src, sport, [10, 0, 0, 1], 40000, b"forged");
        net.nodes[a].handle_packet(Instant::ZERO, ia, &d);
    }
    assert_eq!(net.nodes[a].udp_recv(sock), Err(RecvError::WouldBlock));
    assert_eq!(net.nodes[a].stats().udp.no_ports, 2);
    let d = raw_udp_from([10, 0, 0, 2], 53, [10, 0, 0, 1], 40000, b"answer");
    net.nodes[a].handle_packet(Instant::ZERO, ia, &d);
    let got = net.nodes[a].udp_recv(sock).unwrap();
    assert_eq!((got.from, got.data.as_slice()), (peer, &b"answer"[..]));
}

#[test]
fn unconnected_udp_ignores_errors_unless_recverr() {
    let (mut net, c, _, _, _) = three_hops(1500);
    let sock = net.nodes[c]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    net.nodes[c]
        .udp_send_to(Instant::ZERO, sock, SocketAddrV4::new(SERVER, 9999), b"x")
        .unwrap();
    net.run(Instant::ZERO);
    assert_eq!(net.nodes[c].udp_recv(sock), Err(RecvError::WouldBlock));
    // With IP_RECVERR and TTL 1, the router's time exceeded is queued.
    net.nodes[c].udp_set_recv_err(sock, true);
    net.nodes[c].udp_set_ttl(sock, Some(1));
    net.nodes[c]
        .udp_send_to(
            Instant::ZERO,
            sock,
            SocketAddrV4::new(SERVER, 33434),
            b"probe",
        )
        .unwrap();
    net.run(Instant::ZERO);
    let report = net.nodes[c].udp_recv_error(sock).unwrap();
    assert_eq!(report.from, Ipv4Addr::new(10, 0, 1, 1));
    assert_eq!(report.icmp_type, 11);
    assert_eq!(report.original_dst_port, 33434);
    assert_eq!(report.quoted_ttl, 1);
}

#[test]
fn second_bind_is_address_in_use() {
    let mut s = Stack::new(host(1));
    s.udp_bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 53))
        .unwrap();
    assert_eq!(
        s.udp_bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 53)),
        Err(BindError::AddrInUse {
            addr: Ipv4Addr::LOCALHOST,
            port: 53
        })
    );
    assert_eq!(
        s.udp_bind(SocketAddrV4::new(Ipv4Addr::new(10, 1, 1, 1), 53)),
        Err(BindError::AddrNotAvailable(Ipv4Addr::new(10, 1, 1, 1)))
    );
}

/// SO_REUSEPORT (Linux): sockets that all set it share a port, one that
/// did not is refused; datagrams from different senders are spread over
/// the unconnected ones by a hash of the two ends, each sender's always to
/// the same socket; a connected socket takes its peer's; one that closes
/// leaves its senders to the others.
#[test]
fn reuse_port_udp_sockets_share_a_port() {
    let mut s = Stack::new(host(1));
    let i = s.add_interface("eth0", cidr("10.0.0.2/24"), 1500).unwrap();
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53);
    let a = s.udp_bind_with(any, true).unwrap();
    let b = s.udp_bind_with(any, true).unwrap();
    assert_eq!(
        s.udp_bind(any),
        Err(BindError::AddrInUse {
            addr: Ipv4Addr::UNSPECIFIED,
            port: 53
        })
    );
    let now = Instant::from_secs(1);
    let send = |s: &mut Stack, sport: u16| {
        let d = raw_udp_from(
            [10, 0, 0, 1],
            sport,
            [10, 0, 0, 2],
            53,
            &sport.to_be_bytes(),
        );
        s.handle_packet(now, i, &d);
    };
    let took = |s: &mut Stack, h| {
        let mut ports = Vec::new();
        while let Ok(d) = s.udp_recv(h) {
            assert_eq!(d.from.port().to_be_bytes()[..], d.data[..]);
            ports.push(d.from.port());
        }
        ports
    };
    for sport in 1000..1064 {
        send(&mut s, sport);
    }
    let (to_a, to_b) = (took(&mut s, a), took(&mut s, b));
    assert_eq!(to_a.len() + to_b.len(), 64);
    assert!(to_a.len() >= 16 && to_b.len() >= 16, "{to_a:?} {to_b:?}");
    // The same senders again: each to the socket it reached before.
    for sport in 1000..1064 {
        send(&mut s, sport);
    }
    assert_eq!(
        (took(&mut s, a), took(&mut s, b)),
        (to_a.clone(), to_b.clone())
    );
    // A socket connected to one of b's senders takes that sender's.
    let c = s.udp_bind_with(any, true).unwrap();
    let peer = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), to_b[0]);
    s.udp_connect(now, c, peer).unwrap();
    send(&mut s, to_b[0]);
    assert_eq!(took(&mut s, c), vec![to_b[0]]);
    assert!(took(&mut s, b).is_empty());
    // b closes: a takes every other sender.
    s.udp_close(b);
    for sport in 1000..1064 {
        send(&mut s, sport);
    }
    assert_eq!(took(&mut s, a).len(), 63);
    assert_eq!(s.stats().udp.no_ports, 0);
}

/// Empty datagrams fill a receive buffer too: each queued one is charged
/// its bookkeeping, so a flood to a socket that does not read is refused
/// (and counted) once the buffer is full instead of queueing forever.
#[test]
fn a_flood_of_empty_datagrams_is_bounded() {
    let (mut net, c, _, _, s) = three_hops(1500);
    let server = net.nodes[s]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    let client = net.nodes[c]
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    for _ in 0..5_000 {
        net.nodes[c]
            .udp_send_to(Instant::ZERO, client, SocketAddrV4::new(SERVER, 7), b"")
            .unwrap();
        net.run(Instant::ZERO);
    }
    let stats = net.nodes[s].stats().udp;
    assert!(stats.rcvbuf_errors > 0, "{stats:?}");
    let mut queued = 0;
    while net.nodes[s].udp_recv(server).is_ok() {
        queued += 1;
    }
    assert_eq!(queued + stats.rcvbuf_errors, 5_000);
    assert!(queued < 2_000, "{queued} empty datagrams queued");
    // Read, the socket takes datagrams again.
    net.nodes[c]
        .udp_send_to(Instant::ZERO, client, SocketAddrV4::new(SERVER, 7), b"x")
        .unwrap();
    net.run(Instant::ZERO);
    assert_eq!(net.nodes[s].udp_recv(server).unwrap().data, b"x");
}
