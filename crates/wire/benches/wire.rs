//! Parse + emit throughput of IPv4 and TCP headers (issue 2's benchmark).
//!
//! `cargo bench -p tcplab-wire`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcplab_wire::tcp::{Flags, SeqNumber, Timestamp};
use tcplab_wire::{ipv4, tcp, Protocol};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn segment(payload_len: usize) -> Vec<u8> {
    let payload = vec![0x5au8; payload_len];
    let mut seg = tcp::Repr::new(
        49152,
        80,
        Flags::ACK | Flags::PSH,
        SeqNumber(1),
        SeqNumber(2),
    );
    seg.window_len = 502;
    seg.timestamp = Some(Timestamp { tsval: 1, tsecr: 2 });
    seg.payload = &payload;
    let ip = ipv4::Repr {
        src_addr: SRC,
        dst_addr: DST,
        protocol: Protocol::Tcp,
        payload_len: seg.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; 20 + seg.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
    seg.emit(&mut tcp::Packet::new_unchecked(&mut bytes[20..]), SRC, DST);
    bytes
}

fn parse_and_emit(bytes: &[u8], out: &mut [u8]) -> usize {
    let ip_packet = ipv4::Packet::new_checked(bytes).unwrap();
    assert!(ip_packet.verify_checksum());
    let ip = ipv4::Repr::parse(&ip_packet).unwrap();
    let tcp_packet = tcp::Packet::new_checked(ip_packet.payload()).unwrap();
    assert!(tcp_packet.verify_checksum(ip.src_addr, ip.dst_addr));
    let seg = tcp::Repr::parse(&tcp_packet).unwrap();
    let len = ip.buffer_len() + seg.buffer_len();
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut out[..len]));
    seg.emit(
        &mut tcp::Packet::new_unchecked(&mut out[20..len]),
        ip.src_addr,
        ip.dst_addr,
    );
    len
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ipv4+tcp parse+emit");
    for payload in [0usize, 1448] {
        let bytes = segment(payload);
        let mut out = vec![0u8; bytes.len()];
        group.throughput(Throughput::Elements(1));
        group.bench_function(
            format!("payload {payload}B, checksums verified+computed"),
            |b| b.iter(|| black_box(parse_and_emit(black_box(&bytes), &mut out))),
        );
    }
    group.finish();
    let mut group = c.benchmark_group("headers only");
    let bytes = segment(0);
    group.throughput(Throughput::Elements(1));
    group.bench_function("ipv4 parse", |b| {
        b.iter(|| {
            let p = ipv4::Packet::new_checked(black_box(&bytes[..])).unwrap();
            black_box(ipv4::Repr::parse(&p).unwrap())
        })
    });
    group.bench_function("tcp parse (TS option)", |b| {
        b.iter(|| {
            let p = tcp::Packet::new_checked(black_box(&bytes[20..])).unwrap();
            black_box(tcp::Repr::parse(&p).unwrap().seq_number)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
