//! SACK (RFC 2018), D-SACK (RFC 2883) and timestamps (RFC 7323) at the
//! segment level: negotiation, the blocks a receiver reports, PAWS, the
//! TSval echoed, RTT measurement, and TIME-WAIT reopening (RFC 6191).

use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::pair::sa;
use super::segments::{Bench, Seg, ACK, FIN, IRS, PORT, RST, SYN, US};
use crate::socket::{RecvError, TcpHandle};
use crate::tcp::State;

/// The peer's first TSval.
const TSV: u32 = 5000;

/// A passive open whose SYN offers SACK and/or timestamps; returns the
/// connection, our ISS and our TSval on the <SYN,ACK>.
fn open(b: &mut Bench, sack: bool, ts: bool) -> (TcpHandle, u32, Option<u32>) {
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let mut syn = Seg::new(SYN, IRS, 0).mss(1200);
    if sack {
        syn = syn.sack_ok();
    }
    if ts {
        syn = syn.ts(TSV, 0);
    }
    b.send(syn);
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    let mut ack = Seg::new(ACK, IRS + 1, synack.seq + 1);
    if ts {
        ack = ack.ts(TSV, synack.ts.unwrap().0);
    }
    b.send(ack);
    b.nothing();
    let c = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.state(c), State::Established);
    (c, synack.seq, synack.ts.map(|t| t.0))
}

#[test]
fn rfc2018_rfc7323_negotiated_when_both_syns_offer() {
    let mut b = Bench::new(|_| {});
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).mss(1200).sack_ok().ts(TSV, 0));
    let synack = b.one();
    // RFC 2018 §2 and RFC 7323 §3.2: answered only because offered.
    assert!(synack.sack_ok);
    let (our_ts, echo) = synack.ts.unwrap();
    assert_eq!(echo, TSV, "TS.Recent starts at the SYN's TSval");
    b.send(Seg::new(ACK, IRS + 1, synack.seq + 1).ts(TSV + 1, our_ts));
    let c = b.s.tcp_accept(l).unwrap();
    // RFC 9293 §3.7.1: the 12 bytes of TSopt come off the MSS.
    assert_eq!(b.s.tcp_info(c).unwrap().mss, 1188);
    b.s.tcp_send(c, b"hi").unwrap();
    let seg = b.one();
    let (val, ecr) = seg.ts.expect("TSopt on every segment (RFC 7323 §3.2)");
    assert_eq!(ecr, TSV + 1);
    assert!(val >= our_ts);
    assert!(!seg.sack_ok, "SACK-permitted only on SYNs");
}

#[test]
fn nothing_negotiated_without_an_offer_or_when_switched_off() {
    let mut b = Bench::new(|_| {});
    let (c, _, ts) = open(&mut b, false, false);
    assert_eq!(ts, None);
    b.s.tcp_send(c, b"x").unwrap();
    let seg = b.one();
    assert_eq!((seg.ts, seg.sack_ok), (None, false));
    assert_eq!(b.s.tcp_info(c).unwrap().mss, 1200);

    // Linux's tcp_sack=0 / tcp_timestamps=0: offered options are refused.
    let mut b = Bench::new(|t| {
        t.sack = false;
        t.timestamps = false;
    });
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).sack_ok().ts(TSV, 0));
    let synack = b.one();
    assert_eq!((synack.ts, synack.sack_ok), (None, false));
}

#[test]
fn active_open_offers_both_and_keeps_what_the_peer_answers() {
    let mut b = Bench::new(|_| {});
    let c =
        b.s.tcp_connect(b.now, sa(super::segments::THEM, 4000), Some(sa(US, PORT)))
            .unwrap();
    let syn = b.one();
    assert!(syn.sack_ok);
    let (val, ecr) = syn.ts.unwrap();
    assert_eq!(ecr, 0, "TSecr is zero without the ACK bit (RFC 7323 §3.2)");
    // The peer answers with SACK but no timestamps.
    b.send(Seg::new(SYN | ACK, IRS, syn.seq + 1).mss(1460).sack_ok());
    let ack = b.one();
    assert_eq!(ack.ts, None, "timestamps need both SYNs");
    assert!(val > 0);
    assert_eq!(b.state(c), State::Established);
    assert_eq!(b.s.tcp_info(c).unwrap().mss, 1460);
}

/// Eight 500-byte segments from the peer, some lost: the SACK blocks of
/// RFC 2018 §7's third case, newest first.
#[test]
fn rfc2018_section7_blocks_newest_first() {
    let mut b = Bench::new(|t| t.recv_buffer = 65535);
    let (_, iss, _) = open(&mut b, true, false);
    let s = IRS + 1;
    let seg = |i: u32| Seg::new(ACK, s + 500 * i, iss + 1).data(&[i as u8; 500]);
    b.send(seg(0));
    b.send(seg(2));
    let a = b.one();
    assert_eq!(
        (a.ack, a.sack.clone()),
        (s + 500, vec![(s + 1000, s + 1500)])
    );
    b.send(seg(4));
    assert_eq!(
        b.one().sack,
        vec![(s + 2000, s + 2500), (s + 1000, s + 1500)]
    );
    b.send(seg(6));
    assert_eq!(
        b.one().sack,
        vec![
            (s + 3000, s + 3500),
            (s + 2000, s + 2500),
            (s + 1000, s + 1500)
        ]
    );
    // The hole between the first two blocks fills: the merged block, which
    // holds the latest arrival, comes first.
    b.send(seg(3));
    assert_eq!(
        b.one().sack,
        vec![(s + 1000, s + 2500), (s + 3000, s + 3500)]
    );
    // The first hole: the cumulative ACK moves past the merged block.
    b.send(seg(1));
    let a = b.one();
    assert_eq!((a.ack, a.sack), (s + 2500, vec![(s + 3000, s + 3500)]));
    b.send(seg(5));
    let a = b.one();
    assert_eq!((a.ack, a.sack), (s + 3500, vec![]));
}

#[test]
fn at_most_four_blocks_or_three_beside_timestamps() {
    for (ts, max) in [(false, 4), (true, 3)] {
        let mut b = Bench::new(|t| t.recv_buffer = 65535);
        let (_, iss, our) = open(&mut b, true, ts);
        let s = IRS + 1;
        for i in 0..6u32 {
            let mut seg = Seg::new(ACK, s + 100 + 200 * i, iss + 1).data(&[1; 100]);
            if ts {
                seg = seg.ts(TSV + 1, our.unwrap());
            }
            b.send(seg);
        }
        let acks = b.recv();
        let last = acks.last().unwrap();
        assert_eq!(last.sack.len(), max, "ts {ts}");
        assert_eq!(last.sack[0], (s + 1100, s + 1200), "newest first");
    }
}

#[test]
fn rfc2883_dsack_for_duplicates() {
    let mut b = Bench::new(|t| t.recv_buffer = 65535);
    let (_, iss, _) = open(&mut b, true, false);
    let s = IRS + 1;
    b.send(Seg::new(ACK, s, iss + 1).data(&[1; 500]));
    b.advance(Duration::from_millis(200));
    b.recv();
    // §4.1.1: a duplicate below the cumulative ACK is reported first, once.
    b.send(Seg::new(ACK, s, iss + 1).data(&[1; 500]));
    let a = b.one();
    assert_eq!((a.ack, a.sack), (s + 500, vec![(s, s + 500)]));
    assert_eq!(b.s.stats().tcp.dsack_sent, 1);
    // §4.1.2: a duplicate of out-of-order data: the duplicate, then the
    // block that encloses it.
    b.send(Seg::new(ACK, s + 1000, iss + 1).data(&[2; 1000]));
    assert_eq!(b.one().sack, vec![(s + 1000, s + 2000)]);
    b.send(Seg::new(ACK, s + 1500, iss + 1).data(&[2; 200]));
    assert_eq!(
        b.one().sack,
        vec![(s + 1500, s + 1700), (s + 1000, s + 2000)]
    );
    // §4.2: partly old, partly new: the old part is the D-SACK.
    b.send(Seg::new(ACK, s + 300, iss + 1).data(&[1; 300]));
    let a = b.one();
    assert_eq!(a.ack, s + 600);
    assert_eq!(a.sack, vec![(s + 300, s + 500), (s + 1000, s + 2000)]);
}

#[test]
fn rfc7323_paws_drops_old_segments_and_acknowledges_them() {
    let mut b = Bench::new(|_| {});
    let (c, iss, our) = open(&mut b, true, true);
    let our = our.unwrap();
    let s = IRS + 1;
    b.send(Seg::new(ACK, s, iss + 1).data(b"new").ts(TSV + 10, our));
    b.advance(Duration::from_millis(200));
    b.recv();
    // R1: an in-window segment with an older TSval is an old duplicate.
    b.send(Seg::new(ACK, s + 3, iss + 1).data(b"old").ts(TSV + 5, our));
    let a = b.one();
    assert_eq!(a.ack, s + 3, "answered with an ACK, not taken");
    assert_eq!(a.ts.unwrap().1, TSV + 10);
    assert_eq!(b.s.stats().tcp.paws_rejected, 1);
    let mut buf = [0u8; 8];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(3));
    assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::WouldBlock));
    // §3.2: a segment without TSopt is dropped silently.
    b.send(Seg::new(ACK, s + 3, iss + 1).data(b"bare"));
    b.nothing();
    assert_eq!(b.s.stats().tcp.ts_missing, 1);
    // The TSval may wrap: 2^31 ahead counts as newer (§5.2).
    let wrapped = (TSV + 10).wrapping_add(0x7fff_0000);
    b.send(Seg::new(ACK, s + 3, iss + 1).data(b"wrap").ts(wrapped, our));
    b.advance(Duration::from_millis(200));
    assert_eq!(b.recv().last().unwrap().ack, s + 7);
    // §5.2: a reset is never PAWS-checked.
    b.send(Seg::new(RST, s + 7, 0).ts(1, 0));
    assert_eq!(b.state(c), State::Closed);
}

#[test]
fn rfc7323_ts_recent_goes_stale_after_24_days() {
    let mut b = Bench::new(|_| {});
    let (c, iss, our) = open(&mut b, false, true);
    let s = IRS + 1;
    b.advance(Duration::from_secs(25 * 86_400));
    b.recv();
    // §5.5: an idle connection's TS.Recent is invalid: the older TSval is
    // accepted and becomes TS.Recent.
    b.send(Seg::new(ACK, s, iss + 1).data(b"late").ts(7, our.unwrap()));
    b.advance(Duration::from_millis(200));
    let a = b.recv().pop().unwrap();
    assert_eq!(a.ack, s + 4);
    assert_eq!(a.ts.unwrap().1, 7);
    assert_eq!(b.s.tcp_info(c).unwrap().bytes_received, 4);
}

#[test]
fn rfc7323_section4_3_which_tsval_is_echoed() {
    let mut b = Bench::new(|t| t.recv_buffer = 65535);
    let (_, iss, our) = open(&mut b, false, true);
    let our = our.unwrap();
    let s = IRS + 1;
    let full = vec![0u8; 1188];
    // (A) Delayed ACKs: the ACK for two segments echoes the first's TSval.
    b.send(Seg::new(ACK, s, iss + 1).data(&full).ts(10_001, our));
    b.send(Seg::new(ACK, s + 1188, iss + 1).data(&full).ts(10_002, our));
    assert_eq!(b.one().ts.unwrap().1, 10_001);
    // (B) Out of order: the echo does not move to a segment beyond the
    // last ACK sent.
    let n = s + 2 * 1188;
    b.send(Seg::new(ACK, n + 1188, iss + 1).data(&full).ts(10_004, our));
    assert_eq!(b.one().ts.unwrap().1, 10_001);
    // (C) The segment that fills the hole is echoed.
    b.send(Seg::new(ACK, n, iss + 1).data(&full).ts(10_003, our));
    assert_eq!(b.one().ts.unwrap().1, 10_003);
}

#[test]
fn rfc7323_rtt_measured_from_the_echo_of_a_retransmission() {
    let mut b = Bench::new(|_| {});
    let (c, iss, _) = open(&mut b, false, true);
    b.s.tcp_send(c, b"data").unwrap();
    let first = b.one();
    // Lost; the retransmission timer sends it again.
    let before = b.s.tcp_info(c).unwrap();
    assert_eq!(before.srtt, Some(Duration::ZERO), "the handshake's sample");
    b.advance(before.rto);
    let again = b.one();
    assert_eq!(again.seq, first.seq);
    let (rtx_val, _) = again.ts.unwrap();
    b.advance(Duration::from_millis(30));
    // The ACK echoes the retransmission: a 30 ms sample, Karn or not
    // (SRTT moves by 1/8 of it, RFC 6298 §2.3).
    b.send(Seg::new(ACK, IRS + 1, iss + 5).ts(TSV + 1, rtx_val));
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.srtt, Some(Duration::from_micros(3750)));
}

#[test]
fn rfc6191_time_wait_reopened_by_newer_timestamps() {
    let mut b = Bench::new(|_| {});
    let (c, iss, our) = open(&mut b, false, true);
    let our = our.unwrap();
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2).ts(TSV + 1, our));
    b.one();
    assert_eq!(b.state(c), State::TimeWait);
    // An older TSval with a higher sequence number: not new, a challenge.
    b.send(Seg::new(SYN, IRS + 100_000, 0).ts(TSV - 1, 0));
    let a = b.one();
    assert_eq!(a.flags, ACK);
    // A newer TSval proves a new incarnation even below the old sequence
    // numbers (§2).
    b.send(Seg::new(SYN, IRS.wrapping_sub(50_000), 0).ts(TSV + 2, 0));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert!(SeqNumber(synack.seq) > SeqNumber(iss + 2));
    assert_eq!(b.s.stats().tcp.time_wait_recycled, 1);
}
