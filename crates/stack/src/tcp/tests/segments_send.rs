//! Segment-level tests (crafted segments against one stack, `segments`'s
//! bench): ABORT, retransmission and its back-off, fast retransmit,
//! Nagle, the send and receive windows, sequence wrap and keep-alive.

use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::pair::sa;
use super::segments::*;
use crate::socket::{RecvError, SocketError, TcpHandle};
use crate::tcp::State;

// --- ABORT, retransmission, windows ----------------------------------------------

/// ABORT's reset (RFC 9293 §3.10.5: SEQ=SND.NXT) carries the ACK bit and
/// RCV.NXT, as Linux's and FreeBSD's do.
#[test]
fn abort_sends_rst() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_abort(b.now, c);
    assert_eq!(b.one(), Seg::new(RST | ACK, iss + 1, IRS + 1).win(0));
    assert!(b.s.tcp_info(c).is_none());
}

#[test]
fn close_with_unread_data_resets() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).data(b"unread"));
    b.recv();
    b.s.tcp_close(b.now, c);
    assert_eq!(b.one(), Seg::new(RST | ACK, iss + 1, IRS + 7).win(0));
}

#[test]
fn retransmission_backoff_and_karn() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // The handshake gave an RTT sample of 0: RTO is the 200 ms minimum.
    assert_eq!(b.s.tcp_info(c).unwrap().rto, Duration::from_millis(200));
    b.s.tcp_send(c, b"data").unwrap();
    b.one();
    // RFC 6298 §5.5: doubling on each expiry.
    for wait in [200, 400, 800] {
        b.advance(Duration::from_millis(wait - 1));
        b.nothing();
        b.advance(Duration::from_millis(1));
        let r = b.one();
        assert_eq!((r.seq, r.data.as_slice()), (iss + 1, &b"data"[..]));
    }
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.retrans_segs, 3);
    assert_eq!(info.backoff, 3);
    // Karn: the ACK of a retransmitted segment (1.4 s after the first
    // transmission) gives no sample; SRTT stays at the handshake's 0.
    b.send(Seg::new(ACK, IRS + 1, iss + 5));
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.srtt, Some(Duration::ZERO));
    assert_eq!(
        info.rto,
        Duration::from_millis(1600),
        "backoff kept until a new sample"
    );
}

#[test]
fn data_retries_end_in_timeout() {
    let mut b = Bench::new(|c| {
        c.data_retries = 2;
        c.rto_max = Duration::from_secs(2);
    });
    let (c, _) = established(&mut b);
    b.s.tcp_send(c, b"x").unwrap();
    b.advance(Duration::from_secs(10));
    assert_eq!(b.recv().len(), 3);
    assert_eq!(b.state(c), State::Closed);
    let mut buf = [0u8; 1];
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::TimedOut))
    );
}

/// NewReno without SACK, 5,000 bytes written: four full segments of the
/// peer's MSS (1,200) out, the 200-byte tail held (Nagle as RFC 9293
/// writes it).
fn four_segments_out() -> (Bench, TcpHandle, u32) {
    let mut b = Bench::new(|c| {
        c.send_buffer = 65536;
        c.congestion = crate::tcp::CongestionAlgorithm::NewReno;
        c.nagle_minshall = false;
    });
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, &[9u8; 5000]).unwrap();
    let segs = b.recv();
    assert_eq!(
        segs.len(),
        4,
        "{:?}",
        segs.iter().map(|s| s.data.len()).collect::<Vec<_>>()
    );
    (b, c, iss)
}

#[test]
fn fast_retransmit_on_third_duplicate_ack() {
    let (mut b, c, iss) = four_segments_out();
    for _ in 0..2 {
        b.send(Seg::new(ACK, IRS + 1, iss + 1));
        b.nothing();
    }
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    let r = b.one();
    // The peer announced MSS 1200; four full segments are out, the last
    // 200 bytes wait (Nagle).
    assert_eq!((r.seq, r.data.len()), (iss + 1, 1200));
    let info = b.s.tcp_info(c).unwrap();
    assert!(info.in_recovery);
    assert_eq!(info.ssthresh, 2400, "max(FlightSize/2, 2·SMSS)");
    assert_eq!(b.s.stats().tcp.fast_retransmits, 1);
}

/// RFC 5681 §2 (d): a duplicate ACK acknowledges exactly SND.UNA. Old
/// ACKs below it (reordered on the way, as acceptable as RFC 9293
/// §3.10.7.4 lets them be) are not duplicates: three of them start no
/// fast retransmit.
#[test]
fn old_acks_are_not_duplicate_acks() {
    let (mut b, _, iss) = four_segments_out();
    // Two true duplicates of ISS+1, then an old ACK in between (it
    // neither counts nor ends the run), then the third: fast retransmit.
    for _ in 0..2 {
        b.send(Seg::new(ACK, IRS + 1, iss + 1));
    }
    b.send(Seg::new(ACK, IRS + 1, iss));
    b.nothing();
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    assert_eq!(b.one().seq, iss + 1);
    assert_eq!(b.s.stats().tcp.fast_retransmits, 1);
    let (mut b, c, iss) = four_segments_out();
    // The first segment is acknowledged (a new one may go out).
    b.send(Seg::new(ACK, IRS + 1, iss + 1201));
    b.recv();
    for _ in 0..3 {
        b.send(Seg::new(ACK, IRS + 1, iss + 1));
        b.nothing();
    }
    let info = b.s.tcp_info(c).unwrap();
    assert!(!info.in_recovery);
    assert_eq!(b.s.stats().tcp.fast_retransmits, 0);
    // Three true duplicates of the new SND.UNA do.
    for _ in 0..3 {
        b.send(Seg::new(ACK, IRS + 1, iss + 1201));
    }
    assert_eq!(b.one().seq, iss + 1201);
    assert_eq!(b.s.stats().tcp.fast_retransmits, 1);
}

#[test]
fn nagle_holds_small_segments_until_acked() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, b"a").unwrap();
    assert_eq!(b.one().data, b"a");
    b.s.tcp_send(c, b"b").unwrap();
    b.s.tcp_send(c, b"c").unwrap();
    b.nothing();
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    assert_eq!(b.one().data, b"bc");
    // TCP_NODELAY sends at once.
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send(c, b"d").unwrap();
    assert_eq!(b.one().data, b"d");
}

/// A write and a close before the stack is polled go out as a kernel
/// sends them, where a write transmits at once (Linux's tcp_push): the
/// data, then the FIN alone. Data still held back when the close comes
/// (here by Nagle, behind an unacknowledged small segment) takes the FIN
/// along, as Linux's tcp_send_fin marks an unsent tail.
#[test]
fn a_fin_rides_only_on_data_held_back() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, b"hello").unwrap();
    b.s.tcp_shutdown(c).unwrap();
    let v = b.recv();
    let got: Vec<_> = v.iter().map(|s| (s.flags, s.seq, s.data.clone())).collect();
    assert_eq!(
        got,
        [
            (PSH | ACK, iss + 1, b"hello".to_vec()),
            (FIN | ACK, iss + 6, Vec::new()),
        ]
    );

    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_send(c, b"a").unwrap();
    assert_eq!(b.one().data, b"a");
    b.s.tcp_send(c, b"bc").unwrap();
    b.nothing();
    b.s.tcp_shutdown(c).unwrap();
    let s = b.one();
    assert_eq!(
        (s.flags, s.seq, s.data.as_slice()),
        (FIN | PSH | ACK, iss + 2, &b"bc"[..])
    );
}

/// The tail of a write behind full-sized segments: Linux's Minshall
/// variant (the default) sends it at once, since no small segment is
/// unacknowledged; RFC 9293 §3.7.4's rule as written (FreeBSD's) holds it
/// until everything is acknowledged. Either way a second small segment
/// waits while the first is out.
#[test]
fn nagle_minshall_sends_the_tail_behind_full_segments() {
    for minshall in [true, false] {
        let mut b = Bench::new(|c| {
            c.nagle_minshall = minshall;
            c.send_buffer = 65535;
        });
        let (c, iss) = established_with_mss(&mut b, 1000);
        b.s.tcp_send(c, &[7u8; 2500]).unwrap();
        let out: Vec<usize> = b.recv().iter().map(|s| s.data.len()).collect();
        if minshall {
            assert_eq!(out, [1000, 1000, 500], "minshall");
            b.s.tcp_send(c, b"x").unwrap();
            b.nothing();
            // The full segments' ACK leaves the small one out: still held.
            b.send(Seg::new(ACK, IRS + 1, iss + 2001));
            b.nothing();
            b.send(Seg::new(ACK, IRS + 1, iss + 2501));
            assert_eq!(b.one().data, b"x");
        } else {
            assert_eq!(out, [1000, 1000], "classic");
            b.send(Seg::new(ACK, IRS + 1, iss + 1001));
            b.nothing();
            b.send(Seg::new(ACK, IRS + 1, iss + 2001));
            assert_eq!(b.one().data.len(), 500);
        }
    }
}

#[test]
fn zero_window_probing_with_backoff_then_update() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // The peer's window closes.
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.s.tcp_send(c, b"blocked").unwrap();
    b.nothing();
    // Probes carry one byte and back off.
    let mut times = Vec::new();
    let start = b.now;
    for _ in 0..3 {
        let t0 = b.now;
        loop {
            b.advance(Duration::from_millis(100));
            let v = b.recv();
            if !v.is_empty() {
                assert_eq!(v[0].data, b"b");
                times.push(b.now.saturating_since(t0));
                b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
                break;
            }
            assert!(b.now.saturating_since(start) < Duration::from_secs(60));
        }
    }
    assert!(times[1] > times[0] && times[2] > times[1], "{times:?}");
    assert_eq!(b.state(c), State::Established);
    // A window update lets everything go.
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(1000));
    assert_eq!(b.one().data, b"blocked");
    // The probes' byte going again is no retransmission (Linux's probes
    // carry none): counted as window probes only, not as retransmitted
    // segments nor fast retransmits.
    let st = b.s.stats().tcp;
    assert_eq!(
        (st.win_probes, st.retrans_segs, st.fast_retransmits),
        (3, 0, 0),
        "{st:?}"
    );
    assert_eq!(b.s.tcp_info(c).unwrap().retrans_segs, 0);
}

/// An established connection whose 8 KiB receive window the peer filled
/// in 1 KiB segments; its handle, ISS and the peer's next sequence number.
fn window_filled(b: &mut Bench) -> (TcpHandle, u32, u32) {
    let (c, iss) = established(b);
    let mut seq = IRS + 1;
    for chunk in vec![1u8; 8192].chunks(1024) {
        b.send(Seg::new(ACK, seq, iss + 1).data(chunk));
        seq += 1024;
    }
    (c, iss, seq)
}

#[test]
fn receive_window_closes_and_reopens() {
    let mut b = Bench::new(|_| {});
    let (c, _, seq) = window_filled(&mut b);
    b.advance(Duration::from_millis(50));
    assert_eq!(b.recv().last().unwrap().win, 0);
    // Reading a little does not reopen (receiver SWS avoidance) ...
    let mut buf = vec![0u8; 100];
    b.s.tcp_recv(c, &mut buf).unwrap();
    b.nothing();
    // ... reading half the buffer does, with a window update at once.
    let mut buf = vec![0u8; 4000];
    b.s.tcp_recv(c, &mut buf).unwrap();
    let upd = b.one();
    assert_eq!(upd.ack, seq);
    assert_eq!(upd.win, 4100);
}

/// Once the peer's FIN is in, nothing more can arrive, so reading what
/// the window held sends no window update (Linux's `tcp_cleanup_rbuf`
/// after RCV_SHUTDOWN): a request and its FIN read by a server cost one
/// ACK, not an ACK and then an update. Before the FIN the same read does
/// send one (`receive_window_closes_and_reopens`).
#[test]
fn no_window_update_after_the_peers_fin() {
    let mut b = Bench::new(|_| {});
    let (c, iss, seq) = window_filled(&mut b);
    b.send(Seg::new(FIN | ACK, seq, iss + 1));
    b.advance(Duration::from_millis(50));
    let acks = b.recv();
    assert_eq!(acks.last().unwrap().ack, seq + 1, "the FIN is acknowledged");
    assert_eq!(b.state(c), State::CloseWait);
    let mut buf = vec![0u8; 8192];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(8192));
    b.nothing();
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(0));
    b.nothing();
}

#[test]
fn sequence_numbers_wrap() {
    // Our ISS just below 2^32 and the peer's too.
    let mut b = Bench::new(|c| c.isn_offset = 0);
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let irs = u32::MAX - 2;
    b.send(Seg::new(SYN, irs, 0));
    let iss = b.one().seq;
    b.send(Seg::new(ACK, irs.wrapping_add(1), iss.wrapping_add(1)));
    let c = b.s.tcp_accept(l).unwrap();
    let mut seq = irs.wrapping_add(1);
    for _ in 0..4 {
        b.send(Seg::new(ACK, seq, iss.wrapping_add(1)).data(b"wrap"));
        seq = seq.wrapping_add(4);
    }
    let mut buf = [0u8; 32];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(16));
    assert_eq!(&buf[..16], b"wrapwrapwrapwrap");
    // 2^32 − 2 + 16 wraps to 14.
    assert_eq!(b.s.tcp_info(c).unwrap().rcv_nxt, SeqNumber(14));
}

#[test]
fn keepalive_probes_then_timeout() {
    let mut b = Bench::new(|c| {
        c.keepalive_time = Duration::from_secs(60);
        c.keepalive_interval = Duration::from_secs(10);
        c.keepalive_probes = 3;
    });
    let (c, iss) = established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    b.advance(Duration::from_secs(59));
    b.nothing();
    b.advance(Duration::from_secs(1));
    // RFC 9293 §3.8.4: SEG.SEQ = SND.NXT − 1, no data.
    assert_eq!(b.one(), Seg::new(ACK, iss, IRS + 1).win(8192));
    // An answer resets the count.
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    b.advance(Duration::from_secs(60));
    assert_eq!(b.recv().len(), 1);
    // Two more probes, 10 s apart; no answer to the third: closed.
    b.advance(Duration::from_secs(29));
    assert_eq!(b.recv().len(), 2);
    assert_eq!(b.state(c), State::Established);
    b.advance(Duration::from_secs(1));
    assert_eq!(b.state(c), State::Closed);
    // The peer is told, as Linux and FreeBSD tell it: <SEQ=SND.NXT><CTL=RST,ACK>.
    assert_eq!(b.one(), Seg::new(RST | ACK, iss + 1, IRS + 1).win(0));
    let mut buf = [0u8; 1];
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::TimedOut))
    );
}

#[test]
fn keepalive_is_off_by_default() {
    let mut b = Bench::new(|c| c.keepalive_time = Duration::from_secs(1));
    let (c, _) = established(&mut b);
    b.advance(Duration::from_secs(3600));
    b.nothing();
    assert_eq!(b.state(c), State::Established);
}

/// A sender grown to a large window, everything acknowledged: its window
/// in segments and the RTO.
fn grown_and_idle(ssai: bool) -> (Bench, TcpHandle, u32, usize, Duration) {
    grown_and_idle_after(ssai, false, crate::tcp::CongestionAlgorithm::NewReno)
}

/// As [`grown_and_idle`]; with `cut`, the first flight's first segment is
/// reported missing by three duplicate ACKs, so the window grows from a
/// halved ssthresh in congestion avoidance.
fn grown_and_idle_after(
    ssai: bool,
    cut: bool,
    cc: crate::tcp::CongestionAlgorithm,
) -> (Bench, TcpHandle, u32, usize, Duration) {
    let mut b = Bench::new(|c| {
        c.send_buffer = 1 << 20;
        c.congestion = cc;
        c.slow_start_after_idle = ssai;
    });
    let (c, iss) = established_with_mss(&mut b, 1000);
    let mut una = iss + 1;
    for round in 0..4 {
        b.s.tcp_send(c, &[7u8; 60_000]).unwrap();
        b.advance(Duration::from_millis(10));
        let first = b.recv();
        if cut && round == 0 {
            for _ in 0..3 {
                b.send(Seg::new(ACK, IRS + 1, iss + 1).win(65535));
            }
            b.advance(Duration::from_millis(1));
            let again = b.recv();
            assert_eq!(again[0].seq, iss + 1, "the fast retransmission");
        }
        for s in first {
            una = una.max(s.seq + s.data.len() as u32);
            b.send(Seg::new(ACK, IRS + 1, s.seq + s.data.len() as u32).win(65535));
        }
        // Whatever the window held back goes and is acknowledged too.
        loop {
            b.advance(Duration::from_millis(10));
            let segs = b.recv();
            if segs.is_empty() {
                break;
            }
            for s in segs {
                una = una.max(s.seq + s.data.len() as u32);
                b.send(Seg::new(ACK, IRS + 1, s.seq + s.data.len() as u32).win(65535));
            }
        }
    }
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.snd_una, SeqNumber(una));
    assert_eq!(info.send_queue, 0);
    (b, c, una, info.cwnd / 1000, info.rto)
}

/// RFC 5681 §4.1 as Linux does it: after an idle spell longer than the
/// RTO the window restarts — halved once per RTO of the pause, never
/// below the initial window (RFC 6928's ten segments here); ssthresh is
/// not lowered. Off, the whole old window goes at once.
#[test]
fn restart_after_idle_halves_per_rto_down_to_the_initial_window() {
    let sent_after = |ssai: bool, rtos: f64| {
        let (mut b, c, _, cwnd, rto) = grown_and_idle(ssai);
        assert!(cwnd >= 80, "the window grew to {cwnd} segments");
        b.advance(rto.mul_f64(rtos));
        b.s.tcp_send(c, &[1u8; 200_000]).unwrap();
        let n = b.recv().len();
        let info = b.s.tcp_info(c).unwrap();
        assert_eq!(info.ssthresh, usize::MAX, "ssthresh is not lowered");
        (cwnd, n)
    };
    // Less than one RTO: no restart — as much as the peer's window
    // (65,535 bytes) takes.
    let (cwnd, n) = sent_after(true, 0.9);
    assert_eq!(n, cwnd.min(65));
    // 2.5 RTOs: halved twice.
    let (cwnd, n) = sent_after(true, 2.5);
    assert_eq!(n, cwnd / 4);
    // Long: down to the initial window, no lower.
    let (_, n) = sent_after(true, 100.0);
    assert_eq!(n, 10);
    // Off: the old window.
    let (cwnd, n) = sent_after(false, 100.0);
    assert_eq!(n, cwnd.min(65));
}

/// The other half of Linux's tcp_cwnd_restart(): an ssthresh below ¾ of
/// the old window is raised to it, so the restarted window slow-starts
/// back to most of where it was.
#[test]
fn restart_after_idle_raises_a_low_ssthresh_to_three_quarters() {
    let (mut b, c, _, cwnd, rto) =
        grown_and_idle_after(true, true, crate::tcp::CongestionAlgorithm::NewReno);
    let before = b.s.tcp_info(c).unwrap();
    assert!(
        before.ssthresh < before.cwnd / 2,
        "grown in avoidance: cwnd {} ssthresh {}",
        before.cwnd,
        before.ssthresh
    );
    b.advance(rto * 100);
    b.s.tcp_send(c, &[1u8; 200_000]).unwrap();
    assert_eq!(
        b.recv().len(),
        10,
        "the initial window, not {cwnd} segments"
    );
    let after = b.s.tcp_info(c).unwrap();
    assert_eq!(after.ssthresh, before.cwnd / 2 + before.cwnd / 4);
}

/// BBR keeps its model over an idle spell: the restart leaves its window
/// alone (its own pacing restarts the flow at the estimated bandwidth).
#[test]
fn restart_after_idle_leaves_bbr_its_model() {
    let (mut b, c, _, _, rto) =
        grown_and_idle_after(true, false, crate::tcp::CongestionAlgorithm::Bbr);
    let before = b.s.tcp_info(c).unwrap();
    assert!(
        before.cwnd > 10 * 1000,
        "BBR's window grew: {}",
        before.cwnd
    );
    b.advance(rto * 100);
    b.s.tcp_send(c, &[1u8; 200_000]).unwrap();
    assert!(!b.recv().is_empty());
    let after = b.s.tcp_info(c).unwrap();
    assert_eq!(after.cwnd, before.cwnd);
}

/// A SYN sent again on its timer is no fast retransmission (Linux counts
/// it as TCPSynRetrans, not TCPFastRetrans).
#[test]
fn a_syn_sent_again_is_no_fast_retransmit() {
    let mut b = Bench::new(|_| {});
    let _ = syn_sent(&mut b);
    b.advance(Duration::from_secs(4));
    assert!(b.recv().iter().any(|s| s.flags == SYN), "the SYN again");
    assert_eq!(b.s.stats().tcp.fast_retransmits, 0);
    assert!(b.s.stats().tcp.retrans_segs >= 1);
}

/// A close that would keep one orphan more than `max_orphans` (Linux's
/// tcp_max_orphans) resets the connection instead, counted as
/// TCPAbortOnMemory: peers that keep their windows shut cannot make
/// closed sockets hold their send buffers without bound.
#[test]
fn a_close_beyond_max_orphans_resets() {
    let mut b = Bench::new(|c| c.max_orphans = 2);
    let l = b.s.tcp_listen(sa(US, PORT), 8).unwrap();
    let mut conns = Vec::new();
    for i in 0..3 {
        b.from = sa(THEM, PEER_PORT + i);
        b.send(Seg::new(SYN, IRS, 0));
        let iss = b.one().seq;
        // A shut window: what the server writes stays queued.
        b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        let c = b.s.tcp_accept(l).unwrap();
        b.s.tcp_send(c, b"held").unwrap();
        conns.push((c, iss));
    }
    b.nothing();
    for (i, &(c, iss)) in conns.iter().enumerate() {
        b.s.tcp_close(b.now, c);
        let v = b.recv();
        let reset = v.iter().any(|s| s.flags.rst() && s.seq == iss + 1);
        assert_eq!(reset, i == 2, "close {i}: {v:?}");
    }
    assert_eq!(b.s.stats().tcp.abort_on_memory, 1);
    assert!(b
        .s
        .stats()
        .to_string()
        .contains("    1 connections aborted due to memory pressure\n"));
}
