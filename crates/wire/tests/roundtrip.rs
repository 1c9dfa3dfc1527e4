//! Property tests: every representation survives emit → parse unchanged, and
//! no parser panics on arbitrary bytes.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use tcplab_wire::tcp::{Flags, SeqNumber, Timestamp};
use tcplab_wire::{icmpv4, ipv4, tcp, udp, PacketDisplay, Protocol};

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

prop_compose! {
    fn ipv4_repr()(src in addr(), dst in addr(), proto in any::<u8>(), payload_len in 0usize..2000,
                   ttl in any::<u8>(), tos in any::<u8>(), ident in any::<u16>(), df in any::<bool>(),
                   mf in any::<bool>(), off in 0u16..(60000 / 8)) -> ipv4::Repr {
        ipv4::Repr {
            src_addr: src, dst_addr: dst, protocol: Protocol::from(proto), payload_len, ttl, tos,
            ident, dont_frag: df, more_frags: mf, frag_offset: off * 8,
        }
    }
}

fn quote_bytes() -> impl Strategy<Value = Vec<u8>> {
    (ipv4_repr(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(h, tail)| {
        let mut bytes = vec![0u8; 20];
        ipv4::Repr {
            payload_len: h.payload_len.max(tail.len()),
            ..h
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
        bytes.extend_from_slice(&tail);
        bytes
    })
}

proptest! {
    #[test]
    fn ipv4_round_trip(repr in ipv4_repr()) {
        let mut bytes = vec![0u8; repr.buffer_len() + repr.payload_len];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
        let p = ipv4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(ipv4::Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn udp_round_trip(src in addr(), dst in addr(), sport in any::<u16>(), dport in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let repr = udp::Repr { src_port: sport, dst_port: dport, payload: &payload };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut udp::Packet::new_unchecked(&mut bytes[..]), src, dst);
        let p = udp::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum(src, dst));
        prop_assert_eq!(udp::Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn icmp_echo_round_trip(request in any::<bool>(), ident in any::<u16>(), seq in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let repr = if request {
            icmpv4::Repr::EchoRequest { ident, seq_no: seq, data: &data }
        } else {
            icmpv4::Repr::EchoReply { ident, seq_no: seq, data: &data }
        };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]));
        let p = icmpv4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(icmpv4::Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn icmp_error_round_trip(kind in 0u8..5, code in any::<u8>(), mtu in any::<u16>(), gw in addr(), ptr in any::<u8>(), quote in quote_bytes()) {
        let repr = match kind {
            0 => {
                let reason = icmpv4::DstUnreachable::from(code);
                let next_hop_mtu = if reason == icmpv4::DstUnreachable::FragRequired { mtu } else { 0 };
                icmpv4::Repr::DstUnreachable { reason, next_hop_mtu, quote: &quote }
            }
            1 => icmpv4::Repr::TimeExceeded { reason: code.into(), quote: &quote },
            2 => icmpv4::Repr::Redirect { reason: code.into(), gateway: gw, quote: &quote },
            3 => icmpv4::Repr::SourceQuench { quote: &quote },
            _ => icmpv4::Repr::ParamProblem { pointer: ptr, quote: &quote },
        };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]));
        let p = icmpv4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(icmpv4::Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn tcp_round_trip(
        sport in 1u16.., dport in 1u16.., flags in 0u16..0x200, seq in any::<u32>(), ack in any::<u32>(),
        win in any::<u16>(), urg in any::<u16>(), mss in proptest::option::of(any::<u16>()),
        ws in proptest::option::of(any::<u8>()), sack_perm in any::<bool>(),
        ts in proptest::option::of((any::<u32>(), any::<u32>())),
        sacks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..4),
        unknown in proptest::collection::vec((9u8..=255, proptest::collection::vec(any::<u8>(), 0..6)), 0..3),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
        src in addr(), dst in addr(),
    ) {
        let mut repr = tcp::Repr::new(sport, dport, Flags(flags), SeqNumber(seq), SeqNumber(ack));
        repr.window_len = win;
        repr.urgent_pointer = urg;
        repr.max_seg_size = mss;
        repr.window_scale = ws;
        repr.sack_permitted = sack_perm;
        repr.timestamp = ts.map(|(tsval, tsecr)| Timestamp { tsval, tsecr });
        for (slot, s) in repr.sack_ranges.iter_mut().zip(&sacks) {
            *slot = Some(*s);
        }
        for (k, d) in &unknown {
            repr.unknown_options.push((*k, &d[..]));
        }
        repr.payload = &payload;
        prop_assume!(repr.options_fit());
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut tcp::Packet::new_unchecked(&mut bytes[..]), src, dst);
        let p = tcp::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum(src, dst));
        prop_assert_eq!(tcp::Repr::parse(&p).unwrap(), repr);
    }

    /// `Repr::parse` reads an option area as Linux's tcp_parse_options
    /// and BSD's tcp_dooptions do, here walked option by option with
    /// `TcpOption::parse`: a length that cannot be skipped ends the list,
    /// a known option of the wrong length is passed over, the segment is
    /// never refused for its options. Option areas are built from
    /// well-formed options, near-misses (wrong lengths, truncation) and
    /// raw bytes.
    #[test]
    fn repr_options_read_as_linux_and_bsd_read_them(
        pieces in proptest::collection::vec(prop_oneof![
            any::<u16>().prop_map(|m| { let b = m.to_be_bytes(); vec![2, 4, b[0], b[1]] }),
            any::<u8>().prop_map(|s| vec![3, 3, s]),
            Just(vec![4, 2]),
            (1usize..=5, any::<u32>()).prop_map(|(n, x)| {
                let mut v = vec![5, (2 + 8 * n) as u8];
                for i in 0..n as u32 {
                    v.extend_from_slice(&x.wrapping_add(i).to_be_bytes());
                    v.extend_from_slice(&x.wrapping_add(i + 7).to_be_bytes());
                }
                v
            }),
            (any::<u32>(), any::<u32>()).prop_map(|(a, b)| {
                let mut v = vec![8, 10];
                v.extend_from_slice(&a.to_be_bytes());
                v.extend_from_slice(&b.to_be_bytes());
                v
            }),
            Just(vec![1]),
            Just(vec![0]),
            (any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..12))
                .prop_map(|(k, l, d)| { let mut v = vec![k, l]; v.extend(d); v }),
        ], 0..8),
    ) {
        let mut area: Vec<u8> = pieces.concat();
        area.truncate(40);
        while area.len() % 4 != 0 {
            area.push(0);
        }
        let mut bytes = vec![0u8; 20];
        tcp::Repr::new(1, 2, Flags::ACK, SeqNumber(3), SeqNumber(4))
            .emit_header(&mut tcp::Packet::new_unchecked(&mut bytes[..]));
        bytes[12] = (((20 + area.len()) / 4) << 4) as u8;
        bytes.extend_from_slice(&area);
        let p = tcp::Packet::new_checked(&bytes[..]).unwrap();
        let mut want = tcp::Repr::new(1, 2, Flags::ACK, SeqNumber(3), SeqNumber(4));
        let mut rest = &area[..];
        while let Some(&kind) = rest.first() {
            match kind {
                0 => break,
                1 => {
                    rest = &rest[1..];
                    continue;
                }
                _ => {}
            }
            let len = match rest.get(1) {
                Some(&l) if l >= 2 && usize::from(l) <= rest.len() => usize::from(l),
                _ => break,
            };
            match tcp::TcpOption::parse(&rest[..len]) {
                Ok((_, tcp::TcpOption::MaxSegmentSize(m))) => want.max_seg_size = Some(m),
                Ok((_, tcp::TcpOption::WindowScale(s))) => want.window_scale = Some(s),
                Ok((_, tcp::TcpOption::SackPermitted)) => want.sack_permitted = true,
                Ok((_, tcp::TcpOption::SackRange(b))) => want.sack_ranges = b,
                Ok((_, tcp::TcpOption::Timestamp { tsval, tsecr })) => {
                    want.timestamp = Some(Timestamp { tsval, tsecr })
                }
                Ok((_, tcp::TcpOption::Unknown { kind, data })) => {
                    want.unknown_options.push((kind, data))
                }
                Ok(_) | Err(_) => {}
            }
            rest = &rest[len..];
        }
        let got = tcp::Repr::parse(&p).unwrap();
        prop_assert_eq!(got.max_seg_size, want.max_seg_size);
        prop_assert_eq!(got.window_scale, want.window_scale);
        prop_assert_eq!(got.sack_permitted, want.sack_permitted);
        prop_assert_eq!(got.sack_ranges, want.sack_ranges);
        prop_assert_eq!(got.timestamp, want.timestamp);
        prop_assert_eq!(got.unknown_options, want.unknown_options);
    }

    /// Arbitrary bytes never make a parser or the printer panic.
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = ipv4::Packet::new_checked(&bytes[..]) {
            let _ = ipv4::Repr::parse(&p);
            let _ = p.verify_checksum();
        }
        if let Ok(p) = icmpv4::Packet::new_checked(&bytes[..]) {
            let _ = icmpv4::Repr::parse(&p).map(|r| r.to_string());
        }
        if let Ok(p) = udp::Packet::new_checked(&bytes[..]) {
            let _ = udp::Repr::parse(&p);
        }
        if let Ok(p) = tcp::Packet::new_checked(&bytes[..]) {
            let _ = tcp::Repr::parse(&p);
        }
        let _ = icmpv4::Quote::parse(&bytes).map(|q| (q.ports(), q.echo()));
        let _ = PacketDisplay(&bytes).to_string();
    }

    /// The printer copes with any mutation of a valid datagram.
    #[test]
    fn printer_survives_mutations(repr in ipv4_repr(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let repr = ipv4::Repr { payload_len: repr.payload_len.min(100), frag_offset: 0, ..repr };
        let mut bytes = vec![0u8; 20 + repr.payload_len];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x;
        }
        let _ = PacketDisplay(&bytes).to_string();
    }
}
