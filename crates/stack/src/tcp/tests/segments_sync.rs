//! Segment-level tests (crafted segments against one stack, `segments`'s
//! bench) for a synchronized connection, in RFC 9293 §3.10.7.4's order:
//! acceptability, RST, SYN, ACK, URG, text, FIN.

use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::segments::*;
use crate::socket::{RecvError, SocketError, TcpHandle};
use crate::tcp::State;

// --- §3.10.7.4 first: acceptability --------------------------------------------------

#[test]
fn acceptability_four_cases() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    let nxt = IRS + 1;
    // Case 2 (length 0, window > 0): in window is accepted silently...
    b.send(Seg::new(ACK, nxt + 100, iss + 1));
    b.nothing();
    // ... outside it gets an ACK.
    b.send(Seg::new(ACK, nxt + 9000, iss + 1));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, nxt).win(8192));
    // Case 4 (length > 0, window > 0): a segment starting before RCV.NXT
    // but ending inside is accepted and trimmed.
    b.send(Seg::new(ACK, nxt - 2, iss + 1).data(b"xyab"));
    b.advance(Duration::from_millis(50));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, nxt + 2).win(8190));
    let mut buf = [0u8; 8];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"ab");
    // Fill the window: case 3 (length > 0, window 0) is not acceptable...
    // (Reading 2 bytes did not move the window edge: receiver SWS
    // avoidance; 8190 bytes are left.)
    let nxt = nxt + 2;
    let big = vec![7u8; 8190];
    let mut seq = nxt;
    for chunk in big.chunks(1460) {
        b.send(Seg::new(ACK, seq, iss + 1).data(chunk));
        seq += chunk.len() as u32;
    }
    let acks = b.recv();
    assert_eq!(acks.last().unwrap().win, 0);
    assert_eq!(acks.last().unwrap().ack, seq);
    b.send(Seg::new(ACK, seq, iss + 1).data(b"z"));
    // ... but at RCV.NXT it is a probe: ACKed, text dropped.
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, seq).win(0));
    // Case 1 (length 0, window 0): only SEG.SEQ = RCV.NXT is acceptable.
    // (ACKs to unacceptable segments without text are rate-limited: the
    // last one went out at the start of the test.)
    b.advance(Duration::from_millis(500));
    b.send(Seg::new(ACK, seq + 1, iss + 1));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, seq).win(0));
    b.send(Seg::new(ACK, seq, iss + 1));
    b.nothing();
}

// --- second: RST (RFC 5961 §3) ------------------------------------------------------

#[test]
fn rst_exact_in_window_and_outside() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // Outside the window: silently dropped.
    b.send(Seg::new(RST, IRS + 1 + 100_000, 0));
    b.nothing();
    // In the window but not RCV.NXT: challenge ACK.
    b.send(Seg::new(RST, IRS + 50, 0));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.state(c), State::Established);
    assert_eq!(b.s.stats().tcp.challenge_acks, 1);
    // Exactly RCV.NXT: reset.
    b.send(Seg::new(RST, IRS + 1, 0));
    b.nothing();
    assert_eq!(b.state(c), State::Closed);
    let mut buf = [0u8; 1];
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::ConnectionReset))
    );
}

/// A reset after the peer's FIN: a read ends the stream first (Linux's
/// tcp_recvmsg looks at the FIN before the error), and the error waits
/// for a send.
#[test]
fn a_reset_after_the_fin_reads_as_end_of_stream() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 1));
    assert_eq!(b.state(c), State::CloseWait);
    b.send(Seg::new(RST, IRS + 2, 0));
    assert_eq!(b.state(c), State::Closed);
    let mut buf = [0u8; 1];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(0));
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(0));
    assert!(b.s.tcp_send(c, b"x").is_err());
}

/// RFC 5961 §7: challenge ACKs are throttled, per connection (one per
/// `invalid_ack_interval`, 500 ms, as Linux's last_oow_ack_time paces
/// them) and then per stack (`challenge_ack_limit` a second).
#[test]
fn rst_storm_only_exact_match_counts_and_challenges_are_limited() {
    let storm = |b: &mut Bench| {
        let mut challenges = 0;
        for i in 2..2000u32 {
            b.send(Seg::new(RST, IRS + i, 0));
            challenges += b.recv().len();
        }
        challenges
    };
    let mut b = Bench::new(|c| c.challenge_ack_limit = 5);
    let (c, _) = established(&mut b);
    assert_eq!(storm(&mut b), 1, "one challenge ACK per connection");
    assert_eq!(b.state(c), State::Established);
    b.advance(Duration::from_millis(400));
    b.send(Seg::new(RST, IRS + 3, 0));
    assert!(b.recv().is_empty(), "still within the interval");
    b.advance(Duration::from_millis(100));
    b.send(Seg::new(RST, IRS + 3, 0));
    assert_eq!(b.recv().len(), 1, "after 500 ms, another");
    // Without the per-connection interval, the stack's budget.
    let mut b = Bench::new(|c| {
        c.challenge_ack_limit = 5;
        c.invalid_ack_interval = Duration::ZERO;
    });
    let (c, _) = established(&mut b);
    assert_eq!(storm(&mut b), 5, "challenge ACKs are rate-limited");
    assert_eq!(b.state(c), State::Established);
    b.advance(Duration::from_secs(1));
    b.send(Seg::new(RST, IRS + 3, 0));
    assert_eq!(b.recv().len(), 1, "the limit refills each second");
}

// --- fourth: SYN (RFC 5961 §4) -------------------------------------------------------

#[test]
fn syn_in_established_gets_challenge_ack() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(SYN, IRS + 10, 0));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.state(c), State::Established);
}

// --- fifth: ACK ----------------------------------------------------------------------

#[test]
fn ack_checks() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // No ACK bit: dropped.
    b.send(Seg::new(PSH, IRS + 1, 0).data(b"hi"));
    b.nothing();
    let mut buf = [0u8; 4];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::WouldBlock));
    // ACK of something not yet sent: ACK back, segment dropped.
    b.send(Seg::new(ACK, IRS + 1, iss + 100).data(b"hi"));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::WouldBlock));
    // Blind data injection (RFC 5961 §5): an ACK far below SND.UNA − MAX.SND.WND.
    b.send(Seg::new(ACK, IRS + 1, iss.wrapping_sub(1_000_000)).data(b"hi"));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::WouldBlock));
    // An old but plausible ACK (within MAX.SND.WND) carries data fine.
    b.send(Seg::new(ACK, IRS + 1, iss).data(b"hi"));
    b.advance(Duration::from_millis(50));
    assert_eq!(b.one().ack, IRS + 3);
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(2));
}

#[test]
fn sending_and_acknowledgment() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    assert_eq!(b.s.tcp_send(c, b"hello"), Ok(5));
    assert_eq!(
        b.one(),
        Seg::new(ACK | PSH, iss + 1, IRS + 1)
            .win(8192)
            .data(b"hello")
    );
    b.send(Seg::new(ACK, IRS + 1, iss + 6).win(1000));
    b.nothing();
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.snd_una, SeqNumber(iss + 6));
    assert_eq!(info.snd_wnd, 1000);
    assert!(info.srtt.is_some(), "the ACK gave an RTT sample");
}

// --- sixth: URG (RFC 6093) ---------------------------------------------------------

#[test]
fn urgent_pointer_both_ways() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // Receiving: 5 bytes, the last 2 urgent: the pointer is the offset of
    // the byte after them.
    b.send(Seg::new(ACK | PSH, IRS + 1, iss + 1).data(b"abcXY").urg(5));
    assert_eq!(b.s.tcp_urgent(c), Some(5));
    let mut buf = [0u8; 3];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(3));
    assert_eq!(b.s.tcp_urgent(c), Some(2));
    let mut buf = [0u8; 8];
    b.s.tcp_recv(c, &mut buf).unwrap();
    assert_eq!(b.s.tcp_urgent(c), None);
    b.advance(Duration::from_millis(50));
    b.recv();
    // Sending: URG set and the pointer at the end of the urgent data.
    b.s.tcp_send(c, b"12").unwrap();
    b.recv();
    b.send(Seg::new(ACK, IRS + 6, iss + 3));
    b.s.tcp_send_urgent(c, b"!!").unwrap();
    let seg = b.one();
    assert!(seg.flags.urg());
    assert_eq!(seg.urg, 2);
    assert_eq!(seg.data, b"!!");
}

// --- seventh: text ------------------------------------------------------------------

#[test]
fn out_of_order_kept_and_delivered_in_order() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    let s = IRS + 1;
    b.send(Seg::new(ACK, s + 6, iss + 1).data(b"world"));
    // Immediate duplicate ACK for an out-of-order segment (RFC 5681 §4.2).
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, s).win(8192));
    b.send(Seg::new(ACK, s + 11, iss + 1).data(b"!"));
    assert_eq!(b.one().ack, s);
    let mut buf = [0u8; 32];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::WouldBlock));
    // The missing piece: everything is delivered and ACKed at once.
    b.send(Seg::new(ACK, s, iss + 1).data(b"hello "));
    let ack = b.one();
    assert_eq!(ack.ack, s + 12);
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(12));
    assert_eq!(&buf[..12], b"hello world!");
}

#[test]
fn duplicates_and_overlaps_trimmed() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    let s = IRS + 1;
    b.send(Seg::new(ACK, s, iss + 1).data(b"abcd"));
    b.send(Seg::new(ACK, s, iss + 1).data(b"abcd"));
    b.send(Seg::new(ACK, s + 2, iss + 1).data(b"cdef"));
    let mut buf = [0u8; 32];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
}

#[test]
fn delayed_ack_and_every_second_segment() {
    let mut b = Bench::new(|c| {
        c.recv_buffer = 65535;
        // The delayed-ACK rules themselves: no quick ACKs first.
        c.quickack = false;
    });
    let (_, iss) = established(&mut b);
    let s = IRS + 1;
    b.send(Seg::new(ACK, s, iss + 1).data(&[1; 100]));
    b.nothing();
    b.advance(Duration::from_millis(39));
    b.nothing();
    b.advance(Duration::from_millis(1));
    assert_eq!(b.one().ack, s + 100);
    // Two full-sized segments: ACKed at once.
    let full = vec![2u8; 1460];
    b.send(Seg::new(ACK, s + 100, iss + 1).data(&full));
    b.nothing();
    b.send(Seg::new(ACK, s + 1560, iss + 1).data(&full));
    assert_eq!(b.one().ack, s + 3020);
}

/// Quick-ACK mode (Linux's, on by default): the first data segments are
/// acknowledged at once, up to half the window's worth (at most 16); then
/// the delayed-ACK rules apply. Data after a silence longer than the RTO
/// arms them again.
#[test]
fn quick_acks_at_the_start_and_after_idle() {
    let mut b = Bench::new(|c| c.recv_buffer = 3000);
    let (_, iss) = established(&mut b);
    let s = IRS + 1;
    let seg = vec![1u8; 100];
    // Half of a 3,000-byte window holds two segments of 536 (the least
    // measure of a peer's segments before a larger one): two quick ACKs.
    let mut at = s;
    for _ in 0..2 {
        b.send(Seg::new(ACK, at, iss + 1).data(&seg));
        at += 100;
        assert_eq!(b.one().ack, at, "a quick ACK");
    }
    b.send(Seg::new(ACK, at, iss + 1).data(&seg));
    at += 100;
    b.nothing();
    b.advance(Duration::from_millis(40));
    assert_eq!(b.one().ack, at, "the delayed ACK");
    // Longer than the RTO (1 s before any RTT sample) without data.
    b.advance(Duration::from_millis(1100));
    b.recv();
    b.send(Seg::new(ACK, at, iss + 1).data(&seg));
    assert_eq!(b.one().ack, at + 100, "quick again after idle");
}

/// A segment of several full-sized ones (a sender's segmentation offload
/// left whole, as a TUN device with GSO hands them over) is acknowledged
/// at once, as two full-sized segments would be (RFC 5681 §4.2), and the
/// peer's MSS as seen stays at most the MSS announced (Linux's rcv_mss).
#[test]
fn a_segment_of_several_full_ones_is_acked_at_once() {
    let mut b = Bench::new(|c| c.recv_buffer = 65535);
    let (c, iss) = established(&mut b);
    let s = IRS + 1;
    let big = vec![3u8; 2 * 1460];
    b.send(Seg::new(ACK, s, iss + 1).data(&big));
    assert_eq!(b.one().ack, s + 2920);
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.rcv_mss, 1460);
}

/// When our own segments are smaller than the peer's (it announced a
/// small MSS), the peer's ordinary full-sized segments still count as one
/// each: ACKed every second one, not each.
#[test]
fn a_peer_with_larger_segments_is_acked_every_second_one() {
    let mut b = Bench::new(|c| {
        c.recv_buffer = 65535;
        // The delayed-ACK rules themselves: no quick ACKs first.
        c.quickack = false;
    });
    let (_, iss) = established_with_mss(&mut b, 536);
    let s = IRS + 1;
    let full = vec![4u8; 1460];
    b.send(Seg::new(ACK, s, iss + 1).data(&full));
    b.nothing();
    b.send(Seg::new(ACK, s + 1460, iss + 1).data(&full));
    assert_eq!(b.one().ack, s + 2920);
}

/// A peer whose path MTU is smaller than either MSS announced sends
/// smaller segments; they are its full-sized ones (Linux's rcv_mss), so
/// every second one is acknowledged at once rather than each waiting for
/// the delayed-ACK timer.
#[test]
fn segments_of_a_smaller_path_mtu_count_as_full() {
    let mut b = Bench::new(|c| {
        c.recv_buffer = 65535;
        // The delayed-ACK rules themselves: no quick ACKs first.
        c.quickack = false;
    });
    let (c, iss) = established_with_mss(&mut b, 1460);
    let s = IRS + 1;
    let seg = vec![5u8; 1200];
    b.send(Seg::new(ACK, s, iss + 1).data(&seg));
    b.nothing();
    b.send(Seg::new(ACK, s + 1200, iss + 1).data(&seg));
    assert_eq!(b.one().ack, s + 2400);
    assert_eq!(b.s.tcp_info(c).unwrap().rcv_mss, 1200);
    // Smaller ones still wait.
    b.send(Seg::new(ACK, s + 2400, iss + 1).data(&[6; 600]));
    b.send(Seg::new(ACK, s + 3000, iss + 1).data(&[6; 600]));
    b.nothing();
}

/// Below the initial 536 bytes (a 576-byte MTU with timestamps leaves
/// 524), the measure shrinks to a size seen twice in a row, as Linux's
/// tcp_measure_rcv_mss does; segments with PSH below 536 do not move it
/// (they are the ends of the sender's writes).
#[test]
fn a_small_mtu_path_shrinks_the_measure_of_full() {
    let mut b = Bench::new(|c| {
        c.recv_buffer = 65535;
        // The delayed-ACK rules themselves: no quick ACKs first.
        c.quickack = false;
    });
    let (c, iss) = established(&mut b);
    let s = IRS + 1;
    b.send(Seg::new(ACK | PSH, s, iss + 1).data(&[1; 300]));
    b.send(Seg::new(ACK | PSH, s + 300, iss + 1).data(&[1; 300]));
    b.nothing();
    b.advance(Duration::from_millis(40));
    assert_eq!(b.one().ack, s + 600);
    assert_eq!(b.s.tcp_info(c).unwrap().rcv_mss, 536);
    let seg = vec![2u8; 500];
    b.send(Seg::new(ACK, s + 600, iss + 1).data(&seg));
    b.nothing();
    // The second of one size is the first to count as full.
    b.send(Seg::new(ACK, s + 1100, iss + 1).data(&seg));
    b.nothing();
    assert_eq!(b.s.tcp_info(c).unwrap().rcv_mss, 500);
    b.send(Seg::new(ACK, s + 1600, iss + 1).data(&seg));
    assert_eq!(b.one().ack, s + 2100);
    b.send(Seg::new(ACK, s + 2100, iss + 1).data(&seg));
    b.nothing();
    b.send(Seg::new(ACK, s + 2600, iss + 1).data(&seg));
    assert_eq!(b.one().ack, s + 3100);
}

// --- eighth: FIN ---------------------------------------------------------------------

#[test]
fn fin_ahead_of_missing_data_waits() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    let s = IRS + 1;
    b.send(Seg::new(ACK | FIN, s + 3, iss + 1).data(b"def"));
    assert_eq!(b.one().ack, s);
    assert_eq!(b.state(c), State::Established);
    b.send(Seg::new(ACK, s, iss + 1).data(b"abc"));
    assert_eq!(b.one().ack, s + 7, "data and FIN acknowledged");
    assert_eq!(b.state(c), State::CloseWait);
    let mut buf = [0u8; 16];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(6));
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(0), "then end of stream");
}

#[test]
fn active_close_through_time_wait() {
    let mut b = Bench::new(|c| c.msl = Duration::from_secs(5));
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    assert_eq!(b.one(), Seg::new(ACK | FIN, iss + 1, IRS + 1).win(8192));
    assert_eq!(b.state(c), State::FinWait1);
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    assert_eq!(b.state(c), State::FinWait2);
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    // The FIN takes a sequence number but no buffer space; receiver SWS
    // avoidance does not move the window edge by one byte.
    assert_eq!(b.one(), Seg::new(ACK, iss + 2, IRS + 2).win(8191));
    assert_eq!(b.state(c), State::TimeWait);
    // A retransmitted FIN is ACKed again and restarts 2·MSL.
    b.advance(Duration::from_secs(8));
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    assert_eq!(b.one(), Seg::new(ACK, iss + 2, IRS + 2).win(8191));
    b.advance(Duration::from_secs(9));
    assert_eq!(b.state(c), State::TimeWait);
    b.advance(Duration::from_secs(1));
    assert_eq!(b.state(c), State::Closed);
}

/// An established passive connection closed by us first, the peer's FIN
/// acknowledged: TIME-WAIT. (connection, ISS)
fn into_time_wait(b: &mut Bench) -> (TcpHandle, u32) {
    let (c, iss) = established(b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    b.one();
    assert_eq!(b.state(c), State::TimeWait);
    (c, iss)
}

/// TIME-WAIT by RFC 9293 §3.10.7.4 and as FreeBSD's tcp_twcheck judges it
/// (`time_wait_bsd`): a FIN without ACK outside the window is answered
/// (first step) or dropped (no ACK bit); an acceptable ACK beyond RCV.NXT
/// gets nothing or an ACK (anything but an exact duplicate ACK); an exact
/// duplicate ACK gets nothing either way.
#[test]
fn time_wait_by_the_rfc_and_as_bsd() {
    for bsd in [false, true] {
        let mut b = Bench::new(|c| {
            c.msl = Duration::from_secs(5);
            c.time_wait_bsd = bsd;
        });
        let (c, iss) = into_time_wait(&mut b);
        let ack = Seg::new(ACK, iss + 2, IRS + 2).win(8191);
        b.send(Seg::new(FIN, IRS + 60_000, 0));
        if bsd {
            b.nothing();
        } else {
            assert_eq!(b.one(), ack);
        }
        b.advance(Duration::from_secs(1));
        b.send(Seg::new(ACK, IRS + 10, iss + 2));
        if bsd {
            assert_eq!(b.one(), ack);
        } else {
            b.nothing();
        }
        b.send(Seg::new(ACK, IRS + 2, iss + 2));
        b.nothing();
        assert_eq!(b.state(c), State::TimeWait, "bsd {bsd}");
    }
}

/// A simultaneous open whose peer's SYN carried text and a FIN: RFC 9293
/// §3.10.7.3 queues both for ESTABLISHED; FreeBSD keeps the text and
/// loses the FIN (`keep_fin_with_syn_text` off).
#[test]
fn a_fin_on_a_simultaneous_opens_syn() {
    for keep in [true, false] {
        let mut b = Bench::new(|c| c.keep_fin_with_syn_text = keep);
        let (c, iss) = syn_sent(&mut b);
        b.send(Seg::new(SYN | FIN, IRS, 0).mss(1460).data(b"abc"));
        let synack = b.one();
        assert_eq!((synack.flags, synack.ack), (SYN | ACK, IRS + 1));
        b.send(Seg::new(ACK, IRS + 4, iss + 1));
        // (With the FIN, the ACK may wait the delayed-ACK time: Linux.)
        let mut acks: Vec<u32> = b.recv().iter().map(|s| s.ack).collect();
        b.advance(Duration::from_millis(40));
        acks.extend(b.recv().iter().map(|s| s.ack));
        let mut got = [0u8; 8];
        assert_eq!(b.s.tcp_recv(c, &mut got), Ok(3));
        if keep {
            assert_eq!(b.state(c), State::CloseWait);
            assert_eq!(acks.last(), Some(&(IRS + 5)), "{acks:?}");
        } else {
            assert_eq!(b.state(c), State::Established);
            assert!(acks.iter().all(|a| *a != IRS + 5), "{acks:?}");
        }
    }
}

/// Each retransmitted FIN restarts TIME-WAIT (RFC 9293 §3.10.7.4) and
/// is acknowledged, but files no wake-up of its own: the one queued comes,
/// finds the wait restarted and files its new end. A peer repeating FINs
/// cannot grow the timer queue; the wait still ends 2·MSL after the last.
#[test]
fn repeated_fins_in_time_wait_file_one_wakeup() {
    for closed in [false, true] {
        let mut b = Bench::new(|c| c.msl = Duration::from_secs(5));
        let (c, iss) = into_time_wait(&mut b);
        if closed {
            // Nobody holds it: it waits as a TIME-WAIT record.
            b.s.tcp_close(b.now, c);
        }
        for _ in 0..200 {
            b.advance(Duration::from_millis(20));
            b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
            assert_eq!(b.one().ack, IRS + 2);
            let (set, queue) = b.s.tcp.filed_wakeups();
            assert!(
                set + queue <= 2,
                "closed {closed}: {set} + {queue} wake-ups filed"
            );
        }
        b.s.tcp.check_invariants().unwrap();
        let sockets = b.s.tcp_sockets().len();
        b.advance(Duration::from_millis(9_900));
        assert_eq!(
            b.s.tcp_sockets().len(),
            sockets,
            "closed {closed}: ended early"
        );
        b.advance(Duration::from_millis(200));
        if closed {
            assert_eq!(b.s.tcp_sockets().len(), sockets - 1, "did not end");
        } else {
            assert_eq!(b.state(c), State::Closed);
        }
    }
}

/// Data that came after our FIN and with the peer's, unread when the
/// application closes in TIME-WAIT: nothing is reset (nothing could be
/// lost any more), the data goes and the wait stays — a retransmitted FIN
/// is still acknowledged — as Linux's timewait socket does.
#[test]
fn closing_in_time_wait_with_unread_data_keeps_the_wait() {
    let mut b = Bench::new(|c| c.msl = Duration::from_secs(5));
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(
        Seg::new(ACK | FIN | PSH, IRS + 1, iss + 2)
            .data(b"late\n")
            .win(8192),
    );
    assert_eq!(b.one().ack, IRS + 7);
    assert_eq!(b.state(c), State::TimeWait);
    b.s.tcp_close(b.now, c);
    b.nothing();
    b.advance(Duration::from_secs(1));
    b.send(Seg::new(ACK | FIN | PSH, IRS + 1, iss + 2).data(b"late\n"));
    let again = b.one();
    assert_eq!((again.flags, again.ack), (ACK, IRS + 7), "{again:?}");
}

#[test]
fn passive_close_through_last_ack() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 1));
    // No data came before: Linux's delayed-ACK time is still zero, so the
    // FIN's ACK goes at the next tick (packetdrill's
    // close-remote-fin-then-close.pkt sees it at once) — unless a close
    // comes first and carries it.
    b.nothing();
    b.advance(Duration::from_millis(1));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 2).win(8191));
    assert_eq!(b.state(c), State::CloseWait);
    b.s.tcp_shutdown(c).unwrap();
    assert_eq!(b.one(), Seg::new(ACK | FIN, iss + 1, IRS + 2).win(8191));
    assert_eq!(b.state(c), State::LastAck);
    b.send(Seg::new(ACK, IRS + 2, iss + 2));
    assert_eq!(b.state(c), State::Closed);
}

/// A FIN before any data, answered by a close at once: Linux's ACK, due
/// at the next tick, rides on the FIN (one segment).
#[test]
fn a_close_at_once_carries_the_ack_of_a_fin_before_any_data() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 1));
    b.s.tcp_shutdown(c).unwrap();
    let out = b.recv();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].flags, out[0].ack), (ACK | FIN, IRS + 2));
    b.advance(Duration::from_millis(50));
    b.nothing();
}

/// After data, the peer's FIN turns the exchange interactive (Linux's
/// tcp_fin): its ACK waits the delayed-ACK time to ride on our FIN, and
/// goes alone if no close comes; BSD (`quickack` off, the FreeBSD profile)
/// sends it at once. A close within the time carries it.
#[test]
fn the_ack_of_a_fin_waits_for_the_close_as_linux_delays_it() {
    for (linux, close) in [(true, false), (true, true), (false, false)] {
        let mut b = Bench::new(|c| c.quickack = linux);
        let (c, iss) = established(&mut b);
        b.send(Seg::new(ACK | PSH, IRS + 1, iss + 1).data(b"hello"));
        let mut buf = [0u8; 8];
        assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(5));
        b.advance(Duration::from_millis(100));
        b.recv();
        b.send(Seg::new(ACK | FIN, IRS + 6, iss + 1));
        assert_eq!(b.state(c), State::CloseWait);
        if linux {
            b.nothing();
            b.advance(Duration::from_millis(20));
            b.nothing();
            if close {
                b.s.tcp_shutdown(c).unwrap();
                let fin = b.one();
                assert_eq!((fin.flags, fin.seq, fin.ack), (ACK | FIN, iss + 1, IRS + 7));
                continue;
            }
            b.advance(Duration::from_millis(20));
        }
        let ack = b.one();
        assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, iss + 1, IRS + 7));
    }
}

/// Linux's tcp_cleanup_rbuf: a segment smaller than the peer's, once the
/// application has read it all, is acknowledged at once rather than at
/// the delayed-ACK time; in an interactive exchange the ACK waits for
/// the answer unless two small segments came. Past the quick ACKs of the
/// start, so only the read decides.
#[test]
fn a_read_that_drains_a_small_segment_acknowledges_it() {
    let mut b = Bench::new(|c| c.quickack = true);
    let (c, iss) = established(&mut b);
    let mut seq = IRS + 1;
    let mut buf = [0u8; 4096];
    // The quick ACKs of the start (at most 16) are spent first.
    for _ in 0..20 {
        b.send(Seg::new(ACK | PSH, seq, iss + 1).data(&[1; 10]));
        seq += 10;
        b.recv();
        b.s.tcp_recv(c, &mut buf).unwrap();
        b.recv();
        b.advance(Duration::from_millis(60));
        b.recv();
    }
    // Not read: the ACK waits.
    b.send(Seg::new(ACK | PSH, seq, iss + 1).data(&[1; 10]));
    seq += 10;
    b.nothing();
    // Read, and the buffer is empty: the ACK goes now.
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(10));
    let ack = b.one();
    assert_eq!(ack.ack, seq);
    // A read that leaves data behind does not.
    b.send(Seg::new(ACK | PSH, seq, iss + 1).data(&[1; 10]));
    seq += 10;
    b.nothing();
    assert_eq!(b.s.tcp_recv(c, &mut buf[..4]), Ok(4));
    b.nothing();
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(6));
    assert_eq!(b.one().ack, seq);
}

#[test]
fn simultaneous_close_through_closing() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 1));
    assert_eq!(b.one(), Seg::new(ACK, iss + 2, IRS + 2).win(8191));
    assert_eq!(b.state(c), State::Closing);
    b.send(Seg::new(ACK, IRS + 2, iss + 2));
    assert_eq!(b.state(c), State::TimeWait);
}

#[test]
fn time_wait_reopened_by_higher_syn_only() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    b.one();
    assert_eq!(b.state(c), State::TimeWait);
    // An old SYN (below RCV.NXT) gets a challenge ACK.
    b.send(Seg::new(SYN, IRS.wrapping_sub(5000), 0));
    assert_eq!(b.one(), Seg::new(ACK, iss + 2, IRS + 2).win(8191));
    // A new incarnation's SYN reopens (RFC 6191), with a larger ISS.
    b.send(Seg::new(SYN, IRS + 100_000, 0));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert!(SeqNumber(synack.seq) > SeqNumber(iss + 2));
    assert_eq!(b.s.stats().tcp.time_wait_recycled, 1);
}

/// Send-Q (`send_queue`, what `ss` shows) counts as Linux's write_seq −
/// snd_una: the data not yet acknowledged and the FIN once queued, until
/// the FIN is acknowledged.
#[test]
fn the_send_queue_counts_the_fin_until_it_is_acknowledged() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    assert_eq!(b.s.tcp_send(c, b"hi\n").unwrap(), 3);
    b.s.tcp_shutdown(c).unwrap();
    let segs = b.recv();
    assert!(segs.iter().any(|s| s.flags.fin()), "{segs:?}");
    assert_eq!(b.s.tcp_info(c).unwrap().send_queue, 4);
    b.send(Seg::new(ACK, IRS + 1, iss + 4));
    assert_eq!(b.s.tcp_info(c).unwrap().send_queue, 1, "the FIN");
    b.send(Seg::new(ACK, IRS + 1, iss + 5));
    assert_eq!(b.s.tcp_info(c).unwrap().send_queue, 0);
}
