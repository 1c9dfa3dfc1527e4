//! The sender's loss recovery at the segment level: the SACK scoreboard
//! repairing several holes in one round trip (RFC 6675), RACK's time-based
//! detection and reordering window (RFC 8985 §6), the tail loss probe
//! (§7), PRR (RFC 6937), and undoing a spurious reduction (RFC 3708 with
//! D-SACK, RFC 3522 with timestamps).

use std::time::Duration;

use super::pair::sa;
use super::segments::{Bench, Seg, ACK, FIN, IRS, PORT, SYN, US};
use crate::socket::TcpHandle;
use crate::tcp::{CongestionAlgorithm, State, TcpConfig};

const RTT: Duration = Duration::from_millis(20);
const MSS: u32 = 1200;

/// A passive open with a 20 ms handshake RTT; the peer offers SACK and,
/// with `ts`, timestamps. Returns the connection, the first sequence
/// number of our data and our TSval on the <SYN,ACK>.
fn open(b: &mut Bench, ts: bool) -> (TcpHandle, u32) {
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let mut syn = Seg::new(SYN, IRS, 0).mss(MSS as u16).sack_ok();
    if ts {
        syn = syn.ts(1, 0);
    }
    b.send(syn);
    let synack = b.one();
    b.advance(RTT);
    let mut ack = Seg::new(ACK, IRS + 1, synack.seq + 1);
    if ts {
        ack = ack.ts(2, synack.ts.unwrap().0);
    }
    b.send(ack);
    let c = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.state(c), State::Established);
    assert_eq!(b.s.tcp_info(c).unwrap().srtt, Some(RTT));
    (c, synack.seq + 1)
}

fn bench(f: impl FnOnce(&mut TcpConfig)) -> Bench {
    Bench::new(|t| {
        t.send_buffer = 256 * 1024;
        t.recv_buffer = 65535;
        f(t);
    })
}

/// An ACK from the peer of everything below `ack`, SACKing `blocks`
/// (given as segment numbers `from..to` relative to `base`).
fn sack(base: u32, ack_seg: u32, blocks: &[(u32, u32)]) -> Seg {
    let blocks: Vec<(u32, u32)> = blocks
        .iter()
        .map(|&(a, z)| (base + a * MSS, base + z * MSS))
        .collect();
    Seg::new(ACK, IRS + 1, base + ack_seg * MSS).sacks(&blocks)
}

/// Send `n` full segments of data and return them.
fn send_segments(b: &mut Bench, c: TcpHandle, n: u32) -> Vec<Seg> {
    b.s.tcp_send(c, &vec![7u8; (n * MSS) as usize]).unwrap();
    let out = b.recv();
    assert!(out.iter().all(|s| s.data.len() == MSS as usize), "{out:#?}");
    out
}

#[test]
fn rfc6675_two_holes_repaired_in_one_round_trip() {
    let mut b = bench(|t| t.congestion = CongestionAlgorithm::NewReno);
    let (c, base) = open(&mut b, false);
    // RFC 6928: ten segments go out at once.
    assert_eq!(send_segments(&mut b, c, 10).len(), 10);
    b.advance(RTT);
    // Segments 1 and 3 were lost; the others arrive and are SACKed.
    b.send(sack(base, 1, &[]));
    b.recv();
    b.send(sack(base, 1, &[(2, 3)]));
    b.send(sack(base, 1, &[(4, 5), (2, 3)]));
    assert!(b
        .recv()
        .iter()
        .all(|s| s.data.is_empty() || s.seq >= base + 10 * MSS));
    // The third SACKed segment: no reordering seen, so RACK's window is
    // zero (RFC 8985 §6.2 step 4) and both holes are lost at once.
    b.send(sack(base, 1, &[(4, 6), (2, 3)]));
    let out = b.recv();
    let seqs: Vec<u32> = out
        .iter()
        .filter(|s| !s.data.is_empty())
        .map(|s| s.seq)
        .collect();
    assert_eq!(seqs, vec![base + MSS], "PRR: the first ACK sends one");
    let info = b.s.tcp_info(c).unwrap();
    assert!(info.in_recovery);
    assert_eq!(
        info.ssthresh, 5400,
        "FlightSize 10 800 halved (RFC 5681 (4))"
    );
    // PRR (RFC 6937 §3) lets the second hole out as the SACKs of the same
    // round trip bring the pipe down — not a round trip later.
    let mut resent = Vec::new();
    for top in 7..=10 {
        b.send(sack(base, 1, &[(4, top), (2, 3)]));
        resent.extend(
            b.recv()
                .into_iter()
                .filter(|s| !s.data.is_empty())
                .map(|s| s.seq),
        );
    }
    assert_eq!(resent, vec![base + 3 * MSS]);
    assert_eq!(b.s.stats().tcp.sack_recoveries, 1);
    // The retransmissions arrive: one ACK covers everything.
    b.send(sack(base, 10, &[]));
    let info = b.s.tcp_info(c).unwrap();
    assert!(!info.in_recovery);
    assert_eq!(info.cwnd, 5400, "RFC 6937: cwnd = ssthresh at the end");
    assert_eq!(info.retrans_segs, 2);
}

#[test]
fn rfc8985_reordering_within_the_window_is_not_loss() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 4);
    b.advance(RTT);
    // Segment 0 is overtaken by segment 1.
    b.send(sack(base, 0, &[(1, 2)]));
    b.nothing();
    // A quarter of the minimum RTT later it arrives: nothing was resent.
    b.advance(Duration::from_millis(2));
    b.send(sack(base, 2, &[]));
    b.advance(Duration::from_millis(10));
    let out = b.recv();
    assert!(out.iter().all(|s| s.data.is_empty()), "{out:#?}");
    assert_eq!(b.s.tcp_info(c).unwrap().retrans_segs, 0);
    assert_eq!(b.s.stats().tcp.rack_lost, 0);
}

#[test]
fn rfc8985_reordering_timer_marks_the_loss_later() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 4);
    b.advance(RTT);
    b.send(sack(base, 0, &[(1, 2)]));
    b.nothing();
    // Not reordered after all: once RTT + min_RTT/4 have passed since it
    // was sent, the reordering timer finds segment 0 lost.
    b.advance(Duration::from_millis(4));
    b.nothing();
    b.advance(Duration::from_millis(2));
    let out = b.recv();
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].seq, base);
    assert_eq!(b.s.stats().tcp.rack_lost, 1);
}

#[test]
fn rfc8985_tail_loss_probe_instead_of_a_timeout() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 5);
    b.advance(RTT);
    // The last two segments are lost: only three are acknowledged.
    b.send(sack(base, 3, &[]));
    b.nothing();
    // PTO = 2·SRTT + 2 ms, well before the RTO: the last segment again.
    b.advance(Duration::from_millis(41));
    b.nothing();
    let sent_before = b.s.stats().tcp.out_segs;
    b.advance(Duration::from_millis(2));
    let probe = b.one();
    assert_eq!(probe.seq, base + 4 * MSS);
    assert_eq!(b.s.stats().tcp.loss_probes, 1);
    // Its SACK shows segment 3 missing: RACK marks it, fast recovery
    // resends it — no timeout.
    b.advance(RTT);
    b.send(sack(base, 3, &[(4, 5)]));
    let out = b.recv();
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].seq, base + 3 * MSS);
    b.send(sack(base, 5, &[]));
    assert_eq!(b.s.stats().tcp.timeouts, 0);
    assert_eq!(b.s.tcp_info(c).unwrap().retrans_segs, 2);
    // As Linux files them: the probe is a loss probe, not a fast
    // retransmit; the repair RACK found is; neither is a segment "sent
    // out" (RFC 1213's tcpOutSegs leaves retransmissions out).
    let st = b.s.stats().tcp;
    assert_eq!((st.fast_retransmits, st.slow_start_retrans), (1, 0));
    assert_eq!((st.out_segs, st.retrans_segs), (sent_before, 2));
}

/// RFC 8985 §7.2 in any state with something to deliver: a lone FIN
/// lost in FIN-WAIT-1 is probed for (here at the RTO's deadline, since
/// one segment's PTO — 2·SRTT plus the delayed-ACK allowance — comes
/// later), and the probe does not back the RTO off: the timeout after it
/// comes one RTO later, not two.
#[test]
fn rfc8985_a_lone_fin_is_probed_at_the_rto_deadline() {
    // A 20 ms SRTT keeps the RTO at its 200 ms floor, under the PTO of
    // 2·20 + 200 ms.
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    let rto = b.s.tcp_info(c).unwrap().rto;
    b.s.tcp_close(b.now, c);
    let fin = b.one();
    assert!(fin.flags.contains(FIN) && fin.seq == base, "{fin:?}");
    let start = b.now;
    let mut at = Vec::new();
    while at.len() < 3 {
        b.advance(Duration::from_millis(1));
        for s in b.recv() {
            assert!(s.flags.contains(FIN) && s.seq == base, "{s:?}");
            at.push(b.now.saturating_since(start));
        }
    }
    assert_eq!(b.s.stats().tcp.loss_probes, 1);
    // The probe at the RTO's deadline; the timeout one RTO after it; the
    // next after twice that.
    assert_eq!(at, [rto, rto * 2, rto * 4], "RTO {rto:?}");
    assert_eq!(b.s.stats().tcp.timeouts, 2);
    // Both count as TCPTimeouts; the first struck with nothing in
    // recovery, and only a series' first is filed by its state (Linux
    // 6.1's tcp_retransmit_timer): no TCPLossFailures.
    let st = b.s.stats().tcp;
    assert_eq!(
        (st.timeouts, st.rto_loss, st.rto_sack_disorder),
        (2, 0, 0),
        "{st:?}"
    );
}

/// The probe's deadline never moves the RTO's: a peer that keeps sending
/// data (ACKs that acknowledge nothing new re-arm the probe timer) does not
/// put off the repair of a lost segment — it goes at the RTO's deadline.
#[test]
fn rfc8985_a_talking_peer_does_not_delay_the_repair() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    let rto = b.s.tcp_info(c).unwrap().rto;
    b.s.tcp_send(c, &[5u8; 100]).unwrap();
    let first = b.one();
    let start = b.now;
    let mut peer_seq = IRS + 1;
    let mut again = None;
    for step in 1..=1000u32 {
        b.advance(Duration::from_millis(1));
        if step % 50 == 0 {
            // Peer data, acknowledging nothing new.
            b.send(Seg::new(ACK, peer_seq, base).data(&[1u8; 10]));
            peer_seq += 10;
        }
        if let Some(s) = b.recv().into_iter().find(|s| !s.data.is_empty()) {
            again = Some((s, b.now.saturating_since(start)));
            break;
        }
    }
    let (again, after) = again.expect("the segment is sent again");
    assert_eq!((again.seq, again.data.len()), (first.seq, 100));
    assert!(
        after <= rto + Duration::from_millis(2),
        "after {after:?}, RTO {rto:?}"
    );
}

/// A shut window is the persist timer's to probe: data outstanding when
/// the peer closes its window gets no loss probe and no timeouts, and a
/// peer that answers every window probe keeps the connection (RFC 1122
/// §4.2.2.17), however long it keeps its window shut.
#[test]
fn a_shut_window_is_probed_by_the_persist_timer_only() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send(c, &[5u8; MSS as usize + 100]).unwrap();
    assert_eq!(b.recv().len(), 2);
    b.advance(RTT);
    // The peer takes the first segment and shuts its window: the second
    // stays outstanding.
    let una = base + MSS;
    b.send(Seg::new(ACK, IRS + 1, una).win(0));
    for _ in 0..600 {
        b.advance(Duration::from_millis(100));
        if !b.recv().is_empty() {
            b.send(Seg::new(ACK, IRS + 1, una).win(0));
        }
    }
    assert_eq!(b.state(c), State::Established);
    assert_eq!(b.s.stats().tcp.loss_probes, 0);
    assert_eq!(b.s.stats().tcp.timeouts, 0);
    // Window probes are counted as such (Linux's TCPWinProbe), not as
    // retransmitted segments, on the stack and on the connection.
    let stats = b.s.stats().tcp;
    assert!(stats.win_probes > 5, "{stats:?}");
    assert_eq!(stats.retrans_segs, 0, "{stats:?}");
    assert_eq!(b.s.tcp_info(c).unwrap().retrans_segs, 0);
}

/// A probe in the RTO's place counts as that timeout for the user
/// timeout: a connection whose user timeout is shorter than the RTO gives
/// up at the RTO's deadline, as without the probe.
#[test]
fn a_probe_in_the_rtos_place_does_not_extend_the_user_timeout() {
    let mut b = bench(|_| {});
    let (c, _) = open(&mut b, false);
    let rto = b.s.tcp_info(c).unwrap().rto;
    let opts = crate::tcp::SocketOptions {
        user_timeout: Some(rto / 2),
        ..Default::default()
    };
    assert!(b.s.tcp_set_options(c, opts));
    b.s.tcp_send(c, &[5u8; 100]).unwrap();
    b.one();
    let start = b.now;
    while b.state(c) != State::Closed && b.now.saturating_since(start) < rto * 10 {
        b.advance(Duration::from_millis(1));
        b.recv();
    }
    assert_eq!(b.state(c), State::Closed);
    let took = b.now.saturating_since(start);
    assert!(
        took <= rto + Duration::from_millis(1),
        "gave up after {took:?}, RTO {rto:?}"
    );
}

#[test]
fn rfc8985_probe_prefers_new_data() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 10);
    // More is queued than the window takes.
    b.s.tcp_send(c, &[1u8; 600]).unwrap();
    b.nothing();
    b.advance(RTT);
    // Nothing comes back. The probe is the new data, beyond cwnd.
    b.advance(RTT + Duration::from_millis(3));
    let probe = b.one();
    assert_eq!((probe.seq, probe.data.len()), (base + 10 * MSS, 600));
}

/// Six segments out; segment 0 is deemed lost (three others SACKed) and
/// sent again; then everything is acknowledged. Returns the bench, the
/// connection, the first sequence number and the state before recovery.
fn fast_retransmit_then_all_acked() -> (Bench, TcpHandle, u32, crate::tcp::TcpInfo) {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 6);
    b.advance(RTT);
    let before = b.s.tcp_info(c).unwrap();
    b.send(sack(base, 0, &[(1, 4)]));
    assert_eq!(b.recv()[0].seq, base);
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
    b.send(sack(base, 6, &[]));
    (b, c, base, before)
}

#[test]
fn rfc3708_dsack_undoes_a_spurious_fast_retransmit() {
    // Segment 0 was only late: the original arrived, then the
    // retransmission is reported back as a duplicate — the reduction was
    // for nothing.
    let (mut b, c, base, before) = fast_retransmit_then_all_acked();
    b.send(Seg::new(ACK, IRS + 1, base + 6 * MSS).sacks(&[(base, base + MSS)]));
    let after = b.s.tcp_info(c).unwrap();
    assert_eq!(b.s.stats().tcp.spurious_undos, 1);
    assert_eq!(b.s.stats().tcp.dsack_recv, 1);
    assert!(
        after.cwnd >= before.cwnd,
        "{} < {}",
        after.cwnd,
        before.cwnd
    );
    assert_eq!(after.ssthresh, before.ssthresh);
}

/// RFC 3708 §2 counts duplicates of the episode's retransmissions only:
/// a D-SACK of data never retransmitted (the network duplicated a
/// segment) says nothing about the retransmission, and the reduction for
/// a real loss stays.
#[test]
fn rfc3708_a_duplicate_of_data_never_retransmitted_is_no_proof() {
    // The retransmission repaired the hole; then a copy of segment 3 the
    // network duplicated comes back as a D-SACK.
    let (mut b, c, base, before) = fast_retransmit_then_all_acked();
    b.send(Seg::new(ACK, IRS + 1, base + 6 * MSS).sacks(&[(base + 3 * MSS, base + 4 * MSS)]));
    assert_eq!(b.s.stats().tcp.dsack_recv, 1);
    assert_eq!(b.s.stats().tcp.spurious_undos, 0);
    let after = b.s.tcp_info(c).unwrap();
    assert!(after.ssthresh < before.ssthresh, "{after:?}");
}

#[test]
fn rfc3522_timestamps_undo_a_spurious_timeout() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, true);
    // A full segment: the MSS less the 12 bytes of TSopt.
    let len = MSS - 12;
    b.s.tcp_send(c, &vec![3u8; len as usize]).unwrap();
    let first = b.one();
    let (orig_ts, _) = first.ts.unwrap();
    let before = b.s.tcp_info(c).unwrap();
    // The ACK is delayed past the RTO: at its deadline the tail loss
    // probe goes in its place (RFC 8985 §7.2), then, unanswered, the
    // timeout sends the segment again.
    b.advance(before.rto);
    let probe = b.one();
    assert_eq!(probe.seq, base);
    assert!(!b.s.tcp_info(c).unwrap().in_recovery);
    let rto = b.s.tcp_info(c).unwrap().rto;
    b.advance(rto);
    let again = b.one();
    assert_eq!(again.seq, base);
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
    // The late ACK echoes the original's TSval: the timeout was spurious.
    b.send(Seg::new(ACK, IRS + 1, base + len).ts(3, orig_ts));
    let after = b.s.tcp_info(c).unwrap();
    assert_eq!(b.s.stats().tcp.spurious_undos, 1);
    assert!(!after.in_recovery);
    assert!(
        after.cwnd >= before.cwnd,
        "{} < {}",
        after.cwnd,
        before.cwnd
    );
    assert_eq!(after.ssthresh, before.ssthresh);
}

/// RFC 3522's test reads the echo of an ACK that acknowledges the
/// retransmission cumulatively. A SACK of a retransmission above a hole
/// that remains echoes the older TS.Recent (RFC 7323 §4.3: a segment after
/// a hole does not update it), which proves nothing: recovery goes on.
/// (Before this was kept apart, nearly every recovery at 10 % loss was
/// undone as spurious and the window never came down.)
#[test]
fn rfc3522_a_sacked_retransmission_above_a_hole_is_no_proof() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, true);
    let len = MSS - 12;
    b.s.tcp_send(c, &vec![7u8; (10 * len) as usize]).unwrap();
    let sent = b.recv();
    assert_eq!(sent.len(), 10);
    let echo = sent[0].ts.unwrap().0;
    b.advance(RTT);
    // Segments 1 and 3 were lost; the ACKs echo segment 0's TSval.
    let ack = |upto: u32, blocks: &[(u32, u32)]| {
        let blocks: Vec<(u32, u32)> = blocks
            .iter()
            .map(|&(a, z)| (base + a * len, base + z * len))
            .collect();
        Seg::new(ACK, IRS + 1, base + upto * len)
            .sacks(&blocks)
            .ts(9, echo)
    };
    b.send(ack(1, &[]));
    b.send(ack(1, &[(2, 3)]));
    b.send(ack(1, &[(4, 5), (2, 3)]));
    b.send(ack(1, &[(4, 6), (2, 3)]));
    let mut resent: Vec<Seg> = b
        .recv()
        .into_iter()
        .filter(|s| !s.data.is_empty())
        .collect();
    for top in 7..=10 {
        b.send(ack(1, &[(4, top), (2, 3)]));
        resent.extend(b.recv().into_iter().filter(|s| !s.data.is_empty()));
    }
    let seqs: Vec<u32> = resent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![base + len, base + 3 * len]);
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
    b.advance(Duration::from_millis(5));
    // Segment 3's retransmission arrives, segment 1's does not: the SACK
    // covers it and echoes the old TSval.
    b.send(ack(1, &[(2, 10)]));
    assert_eq!(b.s.stats().tcp.spurious_undos, 0);
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
}

/// Fast recovery with timestamps: segments `holes` of ten are missing at
/// first; every ACK echoes the originals' TSval. Returns the bench, the
/// connection, the first data sequence number, the segment length and
/// the ACK builder's inputs.
fn eifel_setup(holes: &[u32]) -> (Bench, TcpHandle, u32, u32, u32) {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, true);
    let len = MSS - 12;
    b.s.tcp_send(c, &vec![7u8; (10 * len) as usize]).unwrap();
    let sent = b.recv();
    let echo = sent[0].ts.unwrap().0;
    b.advance(RTT);
    // Everything else arrives and is SACKed.
    let mut blocks = Vec::new();
    let mut start = 0;
    for &h in holes.iter().chain([10].iter()) {
        if start < h {
            blocks.push((base + start * len, base + h * len));
        }
        start = h + 1;
    }
    let first = holes[0];
    b.send(
        Seg::new(ACK, IRS + 1, base + first * len)
            .sacks(&blocks[blocks.len().saturating_sub(3)..])
            .ts(9, echo),
    );
    b.recv();
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
    (b, c, base, len, echo)
}

/// RFC 3522 in fast recovery: the ACK that ends the episode echoes the
/// original's TSval, older than the retransmission's: the original
/// arrived, the reduction is given back.
#[test]
fn rfc3522_timestamps_undo_a_spurious_fast_retransmit() {
    let (mut b, c, base, len, echo) = eifel_setup(&[0]);
    b.send(Seg::new(ACK, IRS + 1, base + 10 * len).ts(10, echo));
    assert_eq!(b.s.stats().tcp.spurious_undos, 1);
    assert!(!b.s.tcp_info(c).unwrap().in_recovery);
}

/// A partial ACK that a late original filled proves nothing about the
/// other hole, whose retransmission repairs a real loss: no undo until
/// the episode's end (Linux's tcp_try_undo_recovery).
#[test]
fn rfc3522_a_partial_ack_does_not_undo_the_episode() {
    let (mut b, c, base, len, echo) = eifel_setup(&[0, 5]);
    // Let both retransmissions out.
    for _ in 0..3 {
        b.send(
            Seg::new(ACK, IRS + 1, base)
                .sacks(&[
                    (base + 6 * len, base + 10 * len),
                    (base + len, base + 5 * len),
                ])
                .ts(9, echo),
        );
        b.recv();
    }
    assert_eq!(b.s.tcp_info(c).unwrap().retrans_segs, 2);
    // Segment 0's original arrives late; segment 5 is still missing.
    b.send(
        Seg::new(ACK, IRS + 1, base + 5 * len)
            .sacks(&[(base + 6 * len, base + 10 * len)])
            .ts(10, echo),
    );
    assert_eq!(b.s.stats().tcp.spurious_undos, 0);
    assert!(b.s.tcp_info(c).unwrap().in_recovery);
}

#[test]
fn rfc6675_without_rack_dupthresh_sacked_segments_mean_loss() {
    let mut b = bench(|t| t.rack = false);
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 6);
    b.advance(RTT);
    b.send(sack(base, 0, &[(1, 2)]));
    b.send(sack(base, 0, &[(1, 3)]));
    b.nothing();
    // The third SACKed segment above it: IsLost (RFC 6675 §4).
    b.send(sack(base, 0, &[(1, 4)]));
    let out = b.recv();
    assert_eq!(out[0].seq, base);
    // Rule 3: the unSACKed segment below the highest SACK goes too once
    // the window allows; then the rescue (rule 4) at most once.
    b.send(sack(base, 0, &[(1, 4), (5, 6)]));
    let out = b.recv();
    let seqs: Vec<u32> = out.iter().map(|s| (s.seq - base) / MSS).collect();
    assert!(out.iter().any(|s| s.seq == base + 4 * MSS), "{seqs:?}");
    let info = b.s.tcp_info(c).unwrap();
    assert!(info.in_recovery);
}

#[test]
fn newreno_without_sack_still_repairs_one_hole_per_round_trip() {
    let mut b = bench(|t| t.sack = false);
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 10);
    b.advance(RTT);
    let dup = Seg::new(ACK, IRS + 1, base);
    b.send(dup.clone());
    // RFC 3042: each of the first two duplicates lets new data out.
    b.s.tcp_send(c, &[1u8; 2 * MSS as usize]).unwrap();
    let out = b.recv();
    assert_eq!(out.len(), 1, "{out:#?}");
    b.send(dup.clone());
    assert_eq!(b.recv().len(), 1);
    b.send(dup);
    let out = b.recv();
    assert_eq!(out[0].seq, base, "fast retransmit on the third");
    assert_eq!(b.s.stats().tcp.reno_recoveries, 1);
    // A partial ACK: the next hole goes at once (RFC 6582 §3.2 step 5).
    b.advance(RTT);
    b.send(Seg::new(ACK, IRS + 1, base + 2 * MSS));
    let out = b.recv();
    assert_eq!(out[0].seq, base + 2 * MSS, "{out:#?}");
    let _ = c;
}

/// BBR paces (draft-ietf-ccwg-bbr §5.6.2, §4.2): the first window goes
/// out at 2.77 × IW / SRTT, a couple of segments at a time, each burst at
/// a deadline `poll_timeout` reports (the sender never sleeps); no timer
/// but the pacing one wakes it.
#[test]
fn bbr_paces_the_first_window_at_deadlines_from_poll_timeout() {
    first_window_paced(CongestionAlgorithm::Bbr, 2.77);
}

/// BBRv1 the same way, at its Startup gain of 2/ln 2 (draft-cardwell-
/// iccrg-bbr-congestion-control-00 §4.2.1).
#[test]
fn bbr1_paces_the_first_window_at_deadlines_from_poll_timeout() {
    first_window_paced(CongestionAlgorithm::Bbr1, 2.885);
}

fn first_window_paced(algorithm: CongestionAlgorithm, gain: f64) {
    let mut b = bench(|t| t.congestion = algorithm);
    let (c, _) = open(&mut b, false);
    let rate = b.s.tcp_info(c).unwrap().pacing_rate.unwrap();
    let expected = gain * f64::from(10 * MSS) / RTT.as_secs_f64();
    assert!((rate as f64 - expected).abs() < 0.01 * expected, "{rate}");
    b.s.tcp_send(c, &vec![7u8; (10 * MSS) as usize]).unwrap();
    let start = b.now;
    let mut bursts = vec![(b.now, b.recv().len())];
    assert!(bursts[0].1 <= 3, "a burst of {} segments", bursts[0].1);
    let mut sent = bursts[0].1;
    while sent < 10 {
        let t = b.s.poll_timeout().expect("a pacing deadline");
        assert!(
            t > b.now && t < b.now + RTT,
            "deadline {t:?} at {:?}",
            b.now
        );
        b.now = t;
        b.s.handle_timeout(t);
        let n = b.recv().len();
        assert!(n <= 3, "a burst of {n} segments");
        sent += n;
        bursts.push((t, n));
    }
    // Ten segments at the pacing rate, less the first burst's credit.
    let took = b.now.saturating_since(start).as_secs_f64();
    let ideal = f64::from(10 * MSS) / rate as f64;
    assert!(
        took > 0.6 * ideal && took < 1.1 * ideal,
        "{took} s for {ideal} s of data: {bursts:?}"
    );
}

/// `TCP_CONGESTION` on a listener chooses the algorithm of the connections
/// it accepts; on a connection it switches, keeping the window.
#[test]
fn tcp_congestion_on_listener_and_connection() {
    let mut b = bench(|t| t.congestion = CongestionAlgorithm::Cubic);
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    assert!(b.s.tcp_set_congestion(l, CongestionAlgorithm::Bbr));
    b.send(Seg::new(SYN, IRS, 0).mss(MSS as u16).sack_ok());
    let synack = b.one();
    b.advance(RTT);
    b.send(Seg::new(ACK, IRS + 1, synack.seq + 1));
    let c = b.s.tcp_accept(l).unwrap();
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.congestion, "bbr");
    assert!(info.pacing_rate.is_some());
    let cwnd = info.cwnd;
    assert!(b.s.tcp_set_congestion(c, CongestionAlgorithm::NewReno));
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!((info.congestion, info.cwnd), ("reno", cwnd));
    assert_eq!(info.pacing_rate, None);
    // And to BBRv1: the window kept, paced, its model in `ss -i`.
    assert!(b.s.tcp_set_congestion(c, CongestionAlgorithm::Bbr1));
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!((info.congestion, info.cwnd), ("bbr1", cwnd));
    assert!(info.pacing_rate.is_some());
    assert_eq!(info.bbr.map(|m| m.state), Some("startup"));
    b.s.tcp_abort(b.now, c);
    assert!(!b.s.tcp_set_congestion(c, CongestionAlgorithm::Bbr));
}

/// Linux files a timeout's own resend of the first segment under
/// TCPTimeouts alone (tcp_retransmit_timer sends it) and the repairs that
/// follow in the loss state as TCPSlowStartRetrans
/// (tcp_xmit_retransmit_queue): `netstat -s` tells them apart.
#[test]
fn a_timeouts_own_resend_is_no_slow_start_retransmission() {
    let mut b = bench(|_| {});
    let (c, base) = open(&mut b, false);
    send_segments(&mut b, c, 5);
    // Nothing comes back: the loss probe, then the timeout.
    let rto = b.s.tcp_info(c).unwrap().rto;
    b.advance(rto);
    let probe = b.one();
    assert_eq!(probe.seq, base + 4 * MSS);
    let rto = b.s.tcp_info(c).unwrap().rto;
    b.advance(rto);
    let head = b.one();
    assert_eq!(head.seq, base);
    let st = b.s.stats().tcp;
    assert_eq!((st.timeouts, st.slow_start_retrans), (1, 0));
    assert_eq!((st.loss_probes, st.fast_retransmits), (1, 0));
    // The head's ACK opens the window to two: the next two holes go,
    // each a slow-start retransmission.
    b.advance(RTT);
    b.send(sack(base, 1, &[]));
    let out = b.recv();
    assert_eq!(
        out.iter().map(|s| s.seq).collect::<Vec<_>>(),
        [base + MSS, base + 2 * MSS]
    );
    let st = b.s.stats().tcp;
    assert_eq!((st.timeouts, st.slow_start_retrans), (1, 2));
    assert_eq!(st.retrans_segs, 4);
}
