//! Bugs found by an independent review of the rebuilt core, each with the
//! test that showed it (R1–R8), and a control that passed from the start.

use std::time::Duration;

use tcplab_wire::{ipv4, tcp};

use super::pair::sa;
use super::segments::{
    established, syn_sent, Bench, Seg, ACK, FIN, IRS, PEER_PORT, PORT, SYN, THEM, US,
};
use crate::socket::TcpHandle;
use crate::tcp::State;
use crate::IfaceId;

// R1. RFC 7323 §2.2: the window of a <SYN,ACK> is never scaled — also
// when it completes a simultaneous open.
#[test]
fn simultaneous_open_synack_window_is_not_scaled() {
    let mut b = Bench::new(|c| {
        c.window_scaling = true;
        c.recv_buffer = 256 * 1024;
        c.send_buffer = 256 * 1024;
    });
    let (c, iss) = syn_sent(&mut b);
    let mut syn = Seg::new(SYN, IRS, 0).mss(1460);
    syn.wscale = Some(7);
    b.send(syn);
    assert_eq!(b.one().flags, SYN | ACK);
    let mut sa = Seg::new(SYN | ACK, IRS, iss + 1).mss(1460).win(1000);
    sa.wscale = Some(7);
    b.send(sa);
    assert_eq!(b.state(c), State::Established);
    b.recv();
    b.s.tcp_send(c, &[7u8; 20_000]).unwrap();
    let sent: usize = b.recv().iter().map(|s| s.data.len()).sum();
    let wnd = b.s.tcp_info(c).unwrap().snd_wnd;
    assert!(
        wnd == 1000 && sent <= 1000,
        "the <SYN,ACK> offered 1000 bytes: SND.WND is {wnd}, {sent} bytes sent"
    );
}

// R2. RFC 6298 §5.4 / RFC 1122 §4.2.2.17: a FIN sent into a zero window
// and lost is sent again, and the connection lives while the peer answers.
#[test]
fn lost_fin_into_a_zero_window_is_sent_again() {
    let mut b = Bench::new(|c| c.data_retries = 4);
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.nothing();
    b.s.tcp_shutdown(c).unwrap();
    let fin = b.one();
    assert_eq!((fin.flags, fin.seq), (ACK | FIN, iss + 1));
    let mut resent = 0;
    for _ in 0..600 {
        b.advance(Duration::from_secs(1));
        for _ in b.recv() {
            resent += 1;
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
    }
    assert!(
        resent > 0 && b.state(c) != State::Closed,
        "FIN sent again {resent} times in 10 minutes; state {:?}",
        b.state(c)
    );
}

// R3. RFC 9293 §3.10.7.4: every retransmitted FIN in TIME-WAIT is
// acknowledged — the rate limit of answers is for bare ACKs only.
#[test]
fn every_retransmitted_fin_in_time_wait_is_acknowledged() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    b.one();
    assert_eq!(b.state(c), State::TimeWait);
    b.advance(Duration::from_millis(200));
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    assert_eq!(b.one().ack, IRS + 2);
    b.advance(Duration::from_millis(400));
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    let v = b.recv();
    assert_eq!(
        v.len(),
        1,
        "the retransmitted FIN must be acknowledged: {v:?}"
    );
}

// R4. An orphan probing a window its peer keeps shut is dropped after
// `orphan_retries` probes (Linux's tcp_orphan_retries), not kept for ever.
#[test]
fn an_orphan_in_persist_is_not_kept_for_ever() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.s.tcp_send(c, &[1u8; 4000]).unwrap();
    b.s.tcp_close(b.now, c);
    assert_eq!(b.state(c), State::FinWait1);
    for _ in 0..(24 * 60) {
        b.advance(Duration::from_secs(60));
        for _ in b.recv() {
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
    }
    assert!(
        b.s.tcp_info(c).is_none(),
        "orphan still alive after a day in {:?}, holding {} buffer bytes",
        b.state(c),
        b.s.tcp_buffer_bytes()
    );
}

/// Drain what the stack sends, failing if it does not stop.
fn capped_drain(b: &mut Bench, what: &str) -> usize {
    let mut buf = Vec::new();
    let mut n = 0;
    let mut first = Vec::new();
    while let Some(t) = b.s.poll_transmit(b.now, &mut buf) {
        n += 1;
        assert!(
            n <= 10_000,
            "{what}: the stack does not stop sending; first segments: {first:#?}"
        );
        let p = ipv4::Packet::new_checked(&buf[..t.len]).unwrap();
        let seg = tcp::Packet::new_checked(p.payload()).unwrap();
        let r = tcp::Repr::parse(&seg).unwrap();
        if first.len() < 8 {
            first.push(format!(
                "#{n} {} seq={} ack={} win={} len={}",
                r.flags,
                r.seq_number,
                r.ack_number,
                r.window_len,
                r.payload.len()
            ));
        }
    }
    n
}

/// A passive connection over a 65535-byte MTU, the peer's window scaled
/// by 7.
fn big_pipe(b: &mut Bench) -> (TcpHandle, u32) {
    b.s.set_mtu(IfaceId(1), 65535).unwrap();
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let mut syn = Seg::new(SYN, IRS, 0).mss(65495);
    syn.wscale = Some(7);
    b.send(syn);
    let iss = b.one().seq;
    b.send(Seg::new(ACK, IRS + 1, iss.wrapping_add(1)));
    (b.s.tcp_accept(l).unwrap(), iss)
}

fn big_bench() -> Bench {
    Bench::new(|c| {
        c.window_scaling = true;
        c.send_buffer = 1 << 20;
        c.recv_buffer = 65535;
    })
}

/// Send and acknowledge at least `bytes` more; returns SND.UNA.
fn push(b: &mut Bench, c: TcpHandle, mut una: u32, bytes: u64) -> u32 {
    let chunk = vec![0u8; 1 << 20];
    let mut moved = 0u64;
    let mut rounds = 0;
    while moved < bytes {
        rounds += 1;
        while b.s.tcp_send(c, &chunk).is_ok_and(|n| n > 0) {}
        b.sent.clear();
        capped_drain(b, &format!("round {rounds}, {moved} bytes acknowledged"));
        let nxt = b.s.tcp_info(c).unwrap().snd_nxt.0;
        assert_ne!(nxt, una, "no progress after {moved} bytes");
        b.send(Seg::new(ACK, IRS + 1, nxt));
        moved += u64::from(nxt.wrapping_sub(una));
        una = nxt;
    }
    una
}

// R6. The sender keeps sending past 2^31 bytes: nothing compares with ISS
// once the handshake is over.
#[test]
fn sending_more_than_two_gigabytes() {
    let mut b = big_bench();
    let (c, iss) = big_pipe(&mut b);
    push(&mut b, c, iss.wrapping_add(1), (1u64 << 31) + (8 << 20));
    b.s.tcp_check_invariants().unwrap();
}

// R5. RFC 6582 §3.2 step 1: the recovery point is forgotten once
// acknowledged, so fast retransmit still works 2^31 bytes later.
#[test]
fn fast_retransmit_two_gigabytes_after_a_recovery() {
    let mut b = big_bench();
    let (c, iss) = big_pipe(&mut b);
    let mut una = iss.wrapping_add(1);
    while b.s.tcp_send(c, &[0u8; 1 << 20]).is_ok_and(|n| n > 0) {}
    assert!(!b.recv().is_empty());
    for _ in 0..3 {
        b.send(Seg::new(ACK, IRS + 1, una));
    }
    assert!(
        b.recv().iter().any(|s| s.seq == una),
        "first fast retransmit"
    );
    una = push(&mut b, c, una, (1u64 << 31) + (4 << 20));
    assert!(!b.s.tcp_info(c).unwrap().in_recovery);
    while b.s.tcp_send(c, &[0u8; 1 << 20]).is_ok_and(|n| n > 0) {}
    assert!(!b.recv().is_empty());
    for _ in 0..3 {
        b.send(Seg::new(ACK, IRS + 1, una));
    }
    let again = b.recv();
    assert!(
        again.iter().any(|s| s.seq == una),
        "no fast retransmit on the third duplicate ACK: {} segments, in_recovery {}",
        again.len(),
        b.s.tcp_info(c).unwrap().in_recovery
    );
}

// Control: the receive side across 2^31 bytes (it was right).
#[test]
fn receiving_more_than_two_gigabytes() {
    let mut b = Bench::new(|c| {
        c.window_scaling = true;
        c.send_buffer = 65535;
        c.recv_buffer = 1 << 20;
    });
    let (c, iss) = big_pipe(&mut b);
    let data = vec![9u8; 65_000];
    let mut out = vec![0u8; 1 << 20];
    let mut seq = IRS + 1;
    let mut moved: u64 = 0;
    while moved < (1u64 << 31) + (8 << 20) {
        b.send(Seg::new(ACK, seq, iss.wrapping_add(1)).data(&data));
        seq = seq.wrapping_add(data.len() as u32);
        moved += data.len() as u64;
        let mut got = 0;
        while let Ok(n) = b.s.tcp_recv(c, &mut out) {
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, data.len(), "after {moved} bytes");
        b.sent.clear();
        capped_drain(&mut b, "receiver");
    }
}

// R7. RFC 9293 §3.7.1 / RFC 4987 §3.6: a SYN cookie never raises the
// peer's MSS.
#[test]
fn a_cookie_connection_respects_a_small_peer_mss() {
    let mut b = Bench::new(|c| c.max_syn_backlog = 1);
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.from = sa(THEM, 5000);
    b.send(Seg::new(SYN, 1, 0));
    b.recv();
    b.from = sa(THEM, PEER_PORT);
    b.send(Seg::new(SYN, IRS, 0).mss(100));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(b.s.stats().tcp.syncookies_sent, 1);
    b.send(Seg::new(ACK, IRS + 1, synack.seq.wrapping_add(1)));
    let c = b.s.tcp_accept(l).unwrap();
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send(c, &[3u8; 1000]).unwrap();
    let sizes: Vec<usize> = b.recv().iter().map(|s| s.data.len()).collect();
    assert!(
        sizes.iter().all(|n| *n <= 100),
        "segments {sizes:?} to a peer with MSS 100 (SendMSS {})",
        b.s.tcp_info(c).unwrap().mss
    );
}

// R8. RFC 5681 §3.1 / RFC 6298 §5.7: a simultaneous open that lost
// nothing starts with the full initial window and a measured RTO.
#[test]
fn a_simultaneous_open_is_not_a_lost_syn() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    assert_eq!(b.one().flags, SYN | ACK);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1460));
    assert_eq!(b.state(c), State::Established);
    let info = b.s.tcp_info(c).unwrap();
    assert!(
        info.cwnd > 1460 && info.rto < Duration::from_secs(3),
        "no segment was lost, yet cwnd {} and RTO {:?} (retrans_segs {})",
        info.cwnd,
        info.rto,
        info.retrans_segs
    );
}

// Keep-alive sees the peer alive only through acceptable segments: anyone
// who knows the four-tuple can send unacceptable ones.
#[test]
fn unacceptable_segments_do_not_keep_a_dead_peer_alive() {
    let mut b = Bench::new(|c| {
        c.keepalive_time = Duration::from_secs(60);
        c.keepalive_interval = Duration::from_secs(10);
        c.keepalive_probes = 3;
    });
    let (c, iss) = established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    for _ in 0..200 {
        b.advance(Duration::from_secs(1));
        b.recv();
        // Far outside the window.
        b.send(Seg::new(ACK, IRS + 1_000_000, iss + 1));
    }
    assert_eq!(b.state(c), State::Closed, "the peer never answered a probe");
}

// A black-box review over TUN: one forged "fragmentation needed" quoting a
// connection that did not exist lowered the path MTU to its destination
// for ten minutes (every later connection's MSS 88). RFC 5927 §7.2: it
// counts only if it quotes data in flight on a connection of ours.
#[test]
fn frag_needed_counts_only_for_data_in_flight() {
    use tcplab_wire::icmpv4::DstUnreachable;
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, &[7u8; 1000]).unwrap();
    let data = b.recv().pop().unwrap();
    assert_eq!(data.data.len(), 1000);
    let sent = b.sent.last().unwrap().clone();
    let errors = |b: &Bench| b.s.stats().icmp.in_errors;
    let before = errors(&b);
    // Another port: no such connection.
    let mut forged = sent.clone();
    forged[20..22].copy_from_slice(&(PORT + 1).to_be_bytes());
    super::segments::icmp_unreachable(&mut b, &forged, DstUnreachable::FragRequired, 296);
    assert_eq!(b.s.path_mtu(THEM), None);
    // The connection, but a sequence number not in flight.
    let mut stale = sent.clone();
    stale[24..28].copy_from_slice(&(iss + 5000).to_be_bytes());
    super::segments::icmp_unreachable(&mut b, &stale, DstUnreachable::FragRequired, 296);
    assert_eq!(b.s.path_mtu(THEM), None);
    assert_eq!(errors(&b), before + 2, "counted as ICMP InErrors");
    // The data segment itself, in flight: believed.
    super::segments::icmp_unreachable(&mut b, &sent, DstUnreachable::FragRequired, 576);
    assert_eq!(b.s.path_mtu(THEM), Some(576));
}

// The same review: 18,000 connections that each sent one byte held 5 GB,
// every ring allocated whole at its first byte. Storage grows with the
// contents now: one byte in and out costs a few KiB, a burst grows it.
#[test]
fn a_few_bytes_hold_a_few_kib_of_buffers() {
    let mut b = Bench::new(|c| {
        c.recv_buffer = 256 * 1024;
        c.send_buffer = 256 * 1024;
        c.window_scaling = true;
    });
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK | super::segments::PSH, IRS + 1, iss + 1).data(b"x"));
    b.s.tcp_send(c, b"y").unwrap();
    b.recv();
    let small = b.s.tcp.buffer_bytes();
    assert!(
        small <= 2 * crate::tcp::buffer::MIN_STORAGE,
        "{small} bytes"
    );
    b.s.tcp_send(c, &[1u8; 100_000]).unwrap();
    assert!(b.s.tcp.buffer_bytes() >= 100_000);
}
