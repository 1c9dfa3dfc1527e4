//! One segment-level test per bug of issue 9 (found by review, by an
//! external probe over TUN, and by a soak of seeded transfers), each
//! reproducing the failure first. Numbers refer to the list.

use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_wire::icmpv4::DstUnreachable;
use tcplab_wire::tcp::SeqNumber;
use tcplab_wire::{ipv4, Protocol};

use super::pair::sa;
use super::segments::{
    established, icmp_unreachable, syn_received, syn_sent, Bench, Seg, ACK, FIN, IRS, PEER_PORT,
    PORT, PSH, RST, SYN, THEM, US,
};
use crate::socket::TcpHandle;
use crate::tcp::{State, Timer};
use crate::IfaceId;

/// An ICMP "fragmentation needed" from a router, quoting `datagram`.
fn frag_needed(b: &mut Bench, datagram: &[u8], mtu: u16) {
    icmp_unreachable(b, datagram, DstUnreachable::FragRequired, mtu);
}

/// Run the timers due by `d` from now without polling any output.
fn expire_without_polling(b: &mut Bench, d: Duration) {
    b.now += d;
    b.s.handle_timeout(b.now);
}

fn invariants(b: &Bench) {
    b.s.tcp.check_invariants().unwrap();
}

// 1. RFC 9293 §3.10.7.3: a <SYN,ACK> handled between a retransmission
// timeout and `poll_transmit` completes the handshake like any other: the
// ACK carries SEQ = ISS + 1 and data then flows under a running timer.
#[test]
fn synack_between_timeout_and_poll_transmit() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    expire_without_polling(&mut b, Duration::from_secs(1));
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1460));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.state(c), State::Established);
    invariants(&b);
    b.s.tcp_send(c, b"data").unwrap();
    let d = b.one();
    assert_eq!((d.seq, d.data.as_slice()), (iss + 1, &b"data"[..]));
    // The timer runs: the data is sent again if not acknowledged (RFC
    // 6298 §5.7 makes the RTO 3 s after a lost SYN).
    b.advance(Duration::from_secs(3));
    assert_eq!(b.one().seq, iss + 1);
}

// 1b. The same through "fragmentation needed" about the SYN, which used
// to rewind SND.NXT to ISS as well.
#[test]
fn synack_after_frag_needed_for_the_syn() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    let syn = b.sent.last().unwrap().clone();
    frag_needed(&mut b, &syn, 576);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1460));
    let ack = b.one();
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, iss + 1, IRS + 1));
    assert_eq!(b.state(c), State::Established);
    invariants(&b);
}

/// Simultaneous open: SYN-SENT, then the peer's bare SYN.
fn simultaneous(b: &mut Bench) -> (TcpHandle, u32) {
    let (c, iss) = syn_sent(b);
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    let synack = b.one();
    assert_eq!((synack.flags, synack.seq), (SYN | ACK, iss));
    assert_eq!(b.state(c), State::SynReceived);
    (c, iss)
}

// 2. RFC 9293 §3.10.4: CLOSE in SYN-RECEIVED with data queued is held
// until ESTABLISHED; meanwhile our unacknowledged SYN keeps being
// retransmitted. Then the data and the FIN follow.
#[test]
fn close_in_syn_received_waits_for_established() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = simultaneous(&mut b);
    assert_eq!(b.s.tcp_send(c, b"hello"), Ok(5));
    b.s.tcp_shutdown(c).unwrap();
    b.nothing();
    assert_eq!(b.state(c), State::SynReceived);
    // The <SYN,ACK> is lost: the timer sends it again, and only it.
    b.advance(Duration::from_secs(1));
    let again = b.one();
    assert_eq!((again.flags, again.seq), (SYN | ACK, iss));
    invariants(&b);
    // The peer acknowledges our SYN: ESTABLISHED, and at once FIN-WAIT-1
    // with the queued data and FIN.
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    assert_eq!(b.state(c), State::FinWait1);
    let seg = b.one();
    assert_eq!(seg.flags, ACK | PSH | FIN);
    assert_eq!((seg.seq, seg.data.as_slice()), (iss + 1, &b"hello"[..]));
    invariants(&b);
}

/// The peer closes its window; `data` waits to be sent.
fn zero_window(b: &mut Bench, data: &[u8]) -> (TcpHandle, u32) {
    let (c, iss) = established(b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.s.tcp_send(c, data).unwrap();
    b.nothing();
    (c, iss)
}

// 3. RFC 1122 §4.2.2.17 / RFC 9293 §3.8.6.1: a zero window may stay zero
// indefinitely as long as the receiver answers the probes — here for an
// hour of virtual time and more than 60 probes.
#[test]
fn zero_window_stays_open_while_the_peer_answers() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = zero_window(&mut b, b"waiting");
    let start = b.now;
    let mut probes = 0;
    while b.now.saturating_since(start) < Duration::from_secs(3600) {
        b.advance(Duration::from_secs(1));
        for p in b.recv() {
            assert!(p.data.len() <= 1, "only one-byte probes: {p:?}");
            probes += 1;
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
        invariants(&b);
    }
    assert!(probes > 60, "{probes} probes in an hour");
    assert_eq!(b.state(c), State::Established);
    assert_eq!(
        b.s.tcp_info(c).unwrap().timer.map(|t| t.0),
        Some(Timer::Persist)
    );
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(1000));
    assert_eq!(b.one().data, b"waiting");
}

// 3b. ... and a peer that stops answering is given up on (R2).
#[test]
fn unanswered_zero_window_probes_time_out() {
    let mut b = Bench::new(|c| c.data_retries = 4);
    let (c, _) = zero_window(&mut b, b"x");
    b.advance(Duration::from_secs(600));
    assert_eq!(b.recv().len(), 4, "four probes, then give up");
    assert_eq!(b.state(c), State::Closed);
}

// 4. RFC 1122 §4.2.3.4 and §4.2.2.17: a small window and nothing in
// flight: sender SWS avoidance holds the data, and if the window update
// is lost, the persist timer sends what the window takes anyway.
#[test]
fn lost_window_update_does_not_stall_the_sender() {
    let mut b = Bench::new(|c| c.send_buffer = 65536);
    let (c, iss) = established(&mut b);
    // 1000 bytes go out and are acknowledged with a window of 100 (a slow
    // reader); 1000 more are queued.
    b.s.tcp_send(c, &[1u8; 1000]).unwrap();
    assert_eq!(b.one().data.len(), 1000);
    b.send(Seg::new(ACK, IRS + 1, iss + 1001).win(100));
    b.s.tcp_send(c, &[2u8; 1000]).unwrap();
    b.nothing();
    assert_eq!(
        b.s.tcp_info(c).unwrap().timer.map(|t| t.0),
        Some(Timer::Persist)
    );
    // The reader empties its buffer; its window update is lost. The
    // override sends the 100 bytes the window allows (after one RTO)...
    b.advance(Duration::from_millis(250));
    let seg = b.one();
    assert_eq!((seg.seq, seg.data.len()), (iss + 1001, 100));
    // ... whose ACK carries the open window: the rest follows.
    b.send(Seg::new(ACK, IRS + 1, iss + 1101).win(8192));
    let rest: usize = b.recv().iter().map(|s| s.data.len()).sum();
    assert_eq!(rest, 900);
    invariants(&b);
}

// 5. RFC 5681 §3: never send beyond SND.UNA + min(cwnd, rwnd). ACKs that
// answer zero-window probes are not duplicate ACKs (RFC 5681 §2: the
// window must be unchanged and the probe is not data in flight) and must
// not set off a fast retransmit into the closed window.
#[test]
fn probe_acks_are_not_duplicate_acks() {
    let mut b = Bench::new(|_| {});
    let (_, iss) = zero_window(&mut b, &[5u8; 100]);
    for _ in 0..6 {
        b.advance(Duration::from_secs(2));
        for p in b.recv() {
            assert!(p.data.len() <= 1, "data into a zero window: {p:?}");
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
        b.advance(Duration::from_millis(10));
        for p in b.recv() {
            assert!(p.data.len() <= 1, "data into a zero window: {p:?}");
        }
    }
    assert_eq!(b.s.stats().tcp.fast_retransmits, 0);
}

// 6. RFC 5681 §3.1: after a lost SYN the initial window MUST be one
// segment; RFC 6298 §5.7: the RTO is re-initialised to 3 s.
#[test]
fn one_segment_initial_window_after_a_lost_syn() {
    let mut b = Bench::new(|c| c.send_buffer = 65536);
    let (c, iss) = syn_sent(&mut b);
    b.advance(Duration::from_secs(1));
    assert_eq!(b.one().flags, SYN, "the SYN again");
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1000));
    b.recv();
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.cwnd, 1000);
    assert_eq!(info.rto, Duration::from_secs(3));
    b.s.tcp_send(c, &[0u8; 10_000]).unwrap();
    assert_eq!(b.recv().len(), 1, "one segment until it is acknowledged");
}

// 6b. The same on the passive side when the <SYN,ACK> was retransmitted.
#[test]
fn one_segment_initial_window_after_a_lost_synack() {
    let mut b = Bench::new(|c| c.send_buffer = 65536);
    let (l, iss) = syn_received(&mut b);
    b.advance(Duration::from_secs(1));
    assert_eq!(b.one().flags, SYN | ACK);
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    let c = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.s.tcp_info(c).unwrap().cwnd, 1200);
    b.s.tcp_send(c, &[0u8; 10_000]).unwrap();
    assert_eq!(b.recv().len(), 1);
}

// 7. RFC 9293 §3.10.7.3: RCV.WND after SYN-SENT is the window our SYN
// offered; data right behind the <SYN,ACK> is taken before our ACK left.
#[test]
fn data_right_behind_the_synack_is_accepted() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1460));
    b.send(Seg::new(ACK | PSH, IRS + 1, iss + 1).data(b"early"));
    let acks = b.recv();
    assert_eq!(acks.last().unwrap().ack, IRS + 6, "{acks:?}");
    let mut buf = [0u8; 8];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"early");
}

// 8. RFC 6093 / RFC 9293 §3.8.5: RCV.UP is forgotten once the urgent data
// is read, so the modular comparison cannot flip 2^31 bytes later (which
// gave a bogus urgent count and ignored new pointers).
#[test]
fn urgent_pointer_forgotten_after_reading_across_two_gigabytes() {
    use crate::tcp::receiver::Receiver;
    let chunk = 1 << 20;
    let mut r = Receiver::new(chunk, 0);
    r.synchronize(SeqNumber(u32::MAX - 100), 0);
    let data = vec![0u8; chunk];
    let mut out = vec![0u8; chunk];
    let start = r.nxt();
    r.take_urgent(start + 10);
    assert_eq!(r.urgent(), Some(10));
    let mut moved: u64 = 0;
    while moved <= (1u64 << 31) + (1 << 20) {
        let seq = r.nxt();
        let d = r.accept_text(seq, &data, 4);
        assert_eq!(d.in_order, chunk);
        assert_eq!(r.read(&mut out), chunk);
        moved += chunk as u64;
        assert_eq!(r.urgent(), None, "after {moved} bytes");
    }
    // A new pointer is honoured.
    let up = r.nxt() + 5;
    r.take_urgent(up);
    assert_eq!(r.urgent(), Some(5));
}

// 9. RFC 4987 §3.6: a SYN flood fills the SYN queue; SYN cookies keep the
// listener serving: a real client connects at once, memory stays bounded.
#[test]
fn syn_flood_gets_cookies_and_a_real_client_gets_in() {
    let mut b = Bench::new(|c| c.max_syn_backlog = 256);
    b.s.set_default_gateway(Ipv4Addr::new(10, 0, 0, 254))
        .unwrap();
    let l = b.s.tcp_listen(sa(US, PORT), 128).unwrap();
    let mut rng = crate::Rng::new(99);
    for i in 0..20_000u32 {
        let addr = Ipv4Addr::from(0x0a00_0000 | (rng.next_u32() & 0x00ff_fffe) | 2);
        if addr == US || addr.octets()[3] == 255 {
            continue;
        }
        b.from = sa(addr, 1024 + (i % 60_000) as u16);
        b.send(Seg::new(SYN, rng.next_u32(), 0).mss(1460));
        if i % 64 == 0 {
            b.now += Duration::from_micros(1000);
            b.recv();
        }
    }
    b.recv();
    let stats = b.s.stats().tcp;
    assert!(stats.syncookies_sent > 19_000, "{stats:?}");
    assert!(b.s.tcp_sockets().len() <= 257, "memory is bounded");
    // A real client: SYN, cookie <SYN,ACK>, ACK with data.
    b.from = sa(THEM, 40_000);
    b.send(Seg::new(SYN, 7000, 0).mss(1460));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.wscale, None, "a cookie remembers no window scale");
    b.send(Seg::new(ACK | PSH, 7001, synack.seq + 1).data(b"GET /"));
    let c = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.state(c), State::Established);
    let mut buf = [0u8; 16];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(5));
    // The connection's first data: acknowledged at once (quick ACKs).
    assert_eq!(b.one().ack, 7006);
    assert_eq!(b.s.stats().tcp.syncookies_recv, 1);
    // A forged cookie is refused with a reset.
    b.from = sa(THEM, 40_001);
    b.send(Seg::new(ACK, 9001, 12345));
    assert_eq!(b.one().flags, RST);
    assert_eq!(b.s.stats().tcp.syncookies_failed, 1);
    invariants(&b);
}

// 9b. The half-open connections of the flood give up after
// `synack_retries` (Linux's 5) and leave the queue.
#[test]
fn half_open_connections_give_up() {
    let mut b = Bench::new(|c| c.max_syn_backlog = 4);
    b.s.tcp_listen(sa(US, PORT), 16).unwrap();
    for port in 0..4 {
        b.from = sa(THEM, 5000 + port);
        b.send(Seg::new(SYN, IRS, 0));
    }
    b.advance(Duration::from_secs(200));
    assert_eq!(b.s.tcp_sockets().len(), 1, "only the listener is left");
    assert_eq!(b.s.stats().tcp.embryonic_timeouts, 4);
}

// 10. RFC 1122 §3.2.1.3: a datagram from outside whose source is one of
// our own addresses (a LAND attack, CVE-1999-0016) is a martian.
#[test]
fn land_packet_is_dropped() {
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let before = b.s.stats().ip.in_addr_errors;
    // A SYN from our own address and port to themselves, from the link.
    b.from = sa(US, PORT);
    b.send(Seg::new(SYN, 1, 0).mss(1460));
    b.nothing();
    assert_eq!(b.s.stats().ip.in_addr_errors, before + 1);
    assert_eq!(b.s.tcp_sockets().len(), 1);
    b.from = sa(THEM, PEER_PORT);
    b.send(Seg::new(SYN, IRS, 0));
    assert_eq!(b.one().flags, SYN | ACK);
}

// 10b. The second bug behind LAND: a connection to itself (possible over
// the loopback) ping-ponged ACKs with itself and held the output queue, so
// no other connection got a turn and the stack spun. Now connections take
// turns, and ACKs to unacceptable segments without text are rate-limited
// (Linux's tcp_invalid_ratelimit).
#[test]
fn a_connection_to_itself_cannot_monopolise_the_stack() {
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 13), 4).unwrap();
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    // SYN 127.0.0.1:13 -> 127.0.0.1:13 on the loopback.
    let mut r = tcplab_wire::tcp::Repr::new(13, 13, SYN, SeqNumber(1), SeqNumber(0));
    r.window_len = 1000;
    let lo = Ipv4Addr::LOCALHOST;
    let ip = ipv4::Repr {
        src_addr: lo,
        dst_addr: lo,
        protocol: Protocol::Tcp,
        payload_len: r.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; 20 + r.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
    r.emit(
        &mut tcplab_wire::tcp::Packet::new_unchecked(&mut bytes[20..]),
        lo,
        lo,
    );
    b.s.handle_packet(b.now, IfaceId::LOOPBACK, &bytes);
    // Another client is served at once.
    b.send(Seg::new(SYN, IRS, 0));
    let v = b.recv();
    assert!(v.iter().any(|s| s.flags == SYN | ACK), "{v:?}");
    // And the stack goes quiet: over ten seconds of virtual time it is not
    // asked to run more than a few hundred times.
    let end = b.now + Duration::from_secs(10);
    let mut wakeups = 0;
    while let Some(t) = b.s.poll_timeout() {
        if t > end {
            break;
        }
        b.now = b.now.max(t);
        b.s.handle_timeout(b.now);
        b.recv();
        wakeups += 1;
        assert!(wakeups < 500, "the stack spins");
    }
    assert!(b.s.stats().tcp.oow_rate_limited > 0);
    invariants(&b);
}

// 11. RFC 9293 §3.10.7.4: a bare ACK carries the sequence number the peer
// expects next — SND.NXT, never a value pulled back by a timeout, which
// the peer would drop as unacceptable (the ACK ping-pong of the soak).
#[test]
fn bare_acks_after_a_timeout_carry_snd_nxt() {
    let mut b = Bench::new(|c| c.send_buffer = 65536);
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, &[1u8; 3600]).unwrap();
    let out: usize = b.recv().iter().map(|s| s.data.len()).sum();
    assert_eq!(out, 3600);
    // The retransmission timer fires: the first segment goes again.
    b.advance(Duration::from_millis(200));
    let r = b.one();
    assert_eq!(r.seq, iss + 1);
    // Data from the peer: our ACK says SEQ = SND.NXT = ISS + 3601.
    b.send(Seg::new(ACK | PSH, IRS + 1, iss + 1).data(b"hi"));
    b.advance(Duration::from_millis(40));
    let ack = b.one();
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, iss + 3601, IRS + 3));
    invariants(&b);
}

// 12. RFC 1191 §5: below the smallest MTU the stack segments for (Linux's
// min_pmtu, 552) DF is cleared and routers fragment, so TCP crosses any
// legal IPv4 path, down to MTU 68.
#[test]
fn a_path_mtu_of_68_clears_df() {
    let mut b = Bench::new(|c| c.send_buffer = 65536);
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(65535));
    b.s.tcp_send(c, &[3u8; 1200]).unwrap();
    let first = b.one();
    assert!(first.df);
    let datagram = b.sent.last().unwrap().clone();
    frag_needed(&mut b, &datagram, 68);
    let again = b.recv();
    assert!(!again.is_empty());
    for s in &again {
        assert!(!s.df, "DF cleared: {s:?}");
        assert!(s.data.len() <= 512, "{}", s.data.len());
    }
    assert_eq!(again[0].seq, iss + 1);
    assert_eq!(b.s.tcp_info(c).unwrap().mss, 512);
    invariants(&b);
}
