use super::*;

fn quoted_udp() -> Vec<u8> {
    let ip = ipv4::Repr {
        src_addr: Ipv4Addr::new(10, 0, 1, 2),
        dst_addr: Ipv4Addr::new(10, 0, 2, 2),
        protocol: Protocol::Udp,
        payload_len: 40,
        ttl: 1,
        tos: 0,
        ident: 9,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; 28];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
    bytes[20..28].copy_from_slice(&[0xc0, 0x00, 0x82, 0x9a, 0, 40, 0, 0]);
    bytes
}

fn round_trip(repr: Repr<'_>) {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert!(packet.verify_checksum());
    assert_eq!(Repr::parse(&packet).unwrap(), repr);
}

#[test]
fn echo_round_trip() {
    round_trip(Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data: b"abcdefgh",
    });
    round_trip(Repr::EchoReply {
        ident: 1,
        seq_no: 65535,
        data: &[],
    });
}

#[test]
fn errors_round_trip_and_quote() {
    let q = quoted_udp();
    round_trip(Repr::DstUnreachable {
        reason: DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        quote: &q,
    });
    round_trip(Repr::DstUnreachable {
        reason: DstUnreachable::FragRequired,
        next_hop_mtu: 576,
        quote: &q,
    });
    round_trip(Repr::TimeExceeded {
        reason: TimeExceeded::TtlExpired,
        quote: &q,
    });
    round_trip(Repr::Redirect {
        reason: Redirect::Host,
        gateway: Ipv4Addr::new(10, 0, 1, 3),
        quote: &q,
    });
    round_trip(Repr::SourceQuench { quote: &q });
    round_trip(Repr::ParamProblem {
        pointer: 9,
        quote: &q,
    });
    let quote = Quote::parse(&q).unwrap();
    assert_eq!(quote.ports(), Some((49152, 33434)));
    assert_eq!(quote.header.payload_len, 40);
    assert_eq!(quote.payload.len(), 8);
}

#[test]
fn unknown_types_and_codes_kept() {
    round_trip(Repr::Other {
        msg_type: 42,
        code: 3,
        rest: [1, 2, 3, 4],
        data: b"xyz",
    });
    let q = quoted_udp();
    round_trip(Repr::DstUnreachable {
        reason: DstUnreachable::Unknown(99),
        next_hop_mtu: 0,
        quote: &q,
    });
}

#[test]
fn error_with_garbage_quote_is_malformed() {
    let mut bytes = vec![3u8, 1, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&[0x60; 28]);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(Repr::parse(&p), Err(Error::Malformed));
    let short = [11u8, 0, 0, 0, 0, 0, 0, 0, 0x45, 0];
    let p = Packet::new_checked(&short[..]).unwrap();
    assert_eq!(Repr::parse(&p), Err(Error::Truncated));
}

#[test]
fn display_like_tcpdump() {
    let q = quoted_udp();
    let r = Repr::DstUnreachable {
        reason: DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        quote: &q,
    };
    assert_eq!(r.to_string(), "ICMP 10.0.2.2 udp port 33434 unreachable");
    // A quoted ICMP message (a rejected ping): the protocol by number and
    // its bytes 2-3 (the checksum) as the port, as print-icmp.c does.
    let mut icmp = quoted_udp();
    icmp[9] = 1;
    let r = Repr::DstUnreachable {
        reason: DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        quote: &icmp,
    };
    assert_eq!(
        r.to_string(),
        "ICMP 10.0.2.2 protocol 1 port 33434 unreachable"
    );
    let r = Repr::DstUnreachable {
        reason: DstUnreachable::FragRequired,
        next_hop_mtu: 576,
        quote: &q,
    };
    assert_eq!(
        r.to_string(),
        "ICMP 10.0.2.2 unreachable - need to frag (mtu 576)"
    );
    let r = Repr::TimeExceeded {
        reason: TimeExceeded::TtlExpired,
        quote: &q,
    };
    assert_eq!(r.to_string(), "ICMP time exceeded in-transit");
}

/// tcpdump 4.99's words for timestamp messages (print-icmp.c), on the
/// bytes Linux sent answering one.
#[test]
fn timestamp_messages_print_as_tcpdump_prints_them() {
    let query = [
        0x0d, 0x00, 0xe0, 0x98, 0x12, 0x34, 0x00, 0x09, 0, 0, 0, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let reply = [
        0x0e, 0x00, 0x47, 0xe2, 0x12, 0x34, 0x00, 0x09, 0, 0, 0, 0x2a, 0x04, 0x16, 0x47, 0xc5,
        0x04, 0x16, 0x47, 0xc5,
    ];
    let show = |b: &[u8]| {
        Repr::parse(&Packet::new_checked(b).unwrap())
            .unwrap()
            .to_string()
    };
    assert_eq!(show(&query), "ICMP time stamp query id 4660 seq 9");
    assert_eq!(
        show(&reply),
        "ICMP time stamp reply id 4660 seq 9: org 00:00:00.042, recv 19:02:49.029, xmit 19:02:49.029"
    );
    assert_eq!(show(&[40, 0, 0, 0, 0, 0, 0, 0]), "ICMP type-#40");
}
