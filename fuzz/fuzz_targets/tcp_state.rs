//! TCP connection state driven by the fuzzer, which plays the peer: it
//! reads what the stack sends (ISS, SND.NXT, windows) and crafts segments
//! with valid checksums and sequence numbers near the connection's own,
//! interleaved with every application call (connect, accept, send, recv,
//! shutdown, close, abort, options), ICMP errors and jumps of time. After
//! every step the stack's TCP invariants must hold; nothing may panic.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use tcplab_stack::{Config, IfaceId, Instant, Stack, TcpHandle};
use tcplab_wire::tcp::{self, Flags, SeqNumber};
use tcplab_wire::{icmpv4, ipv4, Protocol};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// The peer's view of one connection, learned from what the stack sent.
#[derive(Default, Clone, Copy)]
struct View {
    /// The peer's next sequence number (its ISN + what it sent).
    peer_nxt: u32,
    /// One past the highest sequence number the stack sent.
    our_nxt: u32,
    seen: bool,
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

fn datagram(src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol, payload: &[u8]) -> Vec<u8> {
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20 + payload.len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    b[20..].copy_from_slice(payload);
    b
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.tcp.recv_buffer = 4096;
    config.tcp.send_buffer = 4096;
    config.tcp.max_syn_backlog = 4;
    let mut s = Stack::new(config);
    s.add_interface("eth0", "10.0.0.1/24".parse().unwrap(), 1500)
        .unwrap();
    let listener = s.tcp_listen(SocketAddrV4::new(US, 80), 2).unwrap();
    let mut conns: Vec<TcpHandle> = Vec::new();
    let mut views = [View::default(); 4];
    let mut last_sent: Vec<u8> = Vec::new();
    let mut now = Instant::from_secs(1);
    let mut buf = Vec::new();
    let mut input = Input(data);
    let mut steps = 0;
    while !input.done() && steps < 400 {
        steps += 1;
        let op = input.byte();
        let slot = usize::from(input.byte() % 4);
        let peer_port = 4000 + slot as u16;
        match op % 12 {
            0..=4 => {
                // A segment from the peer.
                let v = &mut views[slot];
                let flags = Flags(u16::from(input.byte()));
                let seq_delta = input.u16() as i16 as i32;
                let ack_delta = i32::from(input.byte() as i8);
                let len = usize::from(input.byte()) * 3;
                let mut r = tcp::Repr::new(
                    peer_port,
                    80 + (slot as u16 & 1) * 1000,
                    flags,
                    SeqNumber(v.peer_nxt.wrapping_add(seq_delta as u32)),
                    SeqNumber(v.our_nxt.wrapping_add(ack_delta as u32)),
                );
                r.window_len = input.u16();
                r.urgent_pointer = u16::from(input.byte());
                let opt = input.byte();
                if flags.contains(Flags::SYN) {
                    r.max_seg_size = (opt & 1 != 0).then_some(536 + u16::from(opt));
                    r.window_scale = (opt & 2 != 0).then_some(opt >> 4);
                }
                let payload = vec![0x5a; len];
                r.payload = &payload;
                let mut seg = vec![0u8; r.buffer_len()];
                r.emit(&mut tcp::Packet::new_unchecked(&mut seg[..]), PEER, US);
                if !v.seen || flags.contains(Flags::SYN) {
                    v.peer_nxt = r.seq_number.0;
                }
                v.peer_nxt = r
                    .seq_number
                    .0
                    .wrapping_add(r.segment_len() as u32)
                    .max(v.peer_nxt);
                s.handle_packet(now, IfaceId(1), &datagram(PEER, US, Protocol::Tcp, &seg));
            }
            5 => now += std::time::Duration::from_millis(u64::from(input.u16()) * 4),
            6 => {
                if let Some(&c) = conns.get(slot) {
                    let n = usize::from(input.u16() % 9000);
                    let _ = s.tcp_send(c, &vec![0xa5; n]);
                }
            }
            7 => {
                if let Some(&c) = conns.get(slot) {
                    let mut out = vec![0u8; usize::from(input.u16() % 9000)];
                    let _ = s.tcp_recv(c, &mut out);
                }
            }
            8 => {
                if let Some(&c) = conns.get(slot) {
                    match input.byte() % 5 {
                        0 => {
                            let _ = s.tcp_shutdown(c);
                        }
                        1 => s.tcp_close(now, c),
                        2 => s.tcp_abort(now, c),
                        3 => s.tcp_set_nodelay(c, true),
                        _ => s.tcp_set_keepalive(c, true),
                    }
                }
            }
            9 => {
                let local = SocketAddrV4::new(US, 2000 + slot as u16);
                if let Ok(c) = s.tcp_connect(now, SocketAddrV4::new(PEER, peer_port), Some(local)) {
                    conns.push(c);
                }
            }
            10 => {
                if let Ok(c) = s.tcp_accept(listener) {
                    conns.push(c);
                }
            }
            _ => {
                // An ICMP error quoting the last segment the stack sent.
                if last_sent.len() >= 28 {
                    let (code, mtu) = match input.byte() % 3 {
                        0 => (
                            icmpv4::DstUnreachable::FragRequired,
                            68 + input.u16() % 1500,
                        ),
                        1 => (icmpv4::DstUnreachable::HostUnreachable, 0),
                        _ => (icmpv4::DstUnreachable::PortUnreachable, 0),
                    };
                    let msg = icmpv4::Repr::DstUnreachable {
                        reason: code,
                        next_hop_mtu: mtu,
                        quote: &last_sent[..28],
                    };
                    let mut b = vec![0u8; msg.buffer_len()];
                    msg.emit(&mut icmpv4::Packet::new_unchecked(&mut b[..]));
                    let router = Ipv4Addr::new(10, 0, 0, 254);
                    s.handle_packet(now, IfaceId(1), &datagram(router, US, Protocol::Icmp, &b));
                }
            }
        }
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
        // Read what the stack sends, to aim the next segments.
        while let Some(t) = s.poll_transmit(now, &mut buf) {
            let bytes = &buf[..t.len];
            let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
                continue;
            };
            if ip.protocol() != Protocol::Tcp {
                continue;
            }
            let Ok(p) = tcp::Packet::new_checked(ip.payload()) else {
                continue;
            };
            let Ok(r) = tcp::Repr::parse(&p) else {
                continue;
            };
            last_sent = bytes.to_vec();
            let slot = usize::from(r.dst_port.wrapping_sub(4000)) % 4;
            let v = &mut views[slot];
            let end = r.seq_number.0.wrapping_add(r.segment_len() as u32);
            if !v.seen || (end.wrapping_sub(v.our_nxt) as i32) > 0 {
                v.our_nxt = end;
            }
            if r.flags.contains(Flags::ACK) && !v.seen {
                v.peer_nxt = r.ack_number.0;
            }
            v.seen = true;
        }
        while s.poll_event().is_some() {}
        if let Err(e) = s.tcp_check_invariants() {
            panic!("step {steps}: {e}");
        }
    }
});
