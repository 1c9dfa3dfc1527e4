//! The retransmission queue and scoreboard, record by record: the RFC
//! rules each operation follows, and the run-ACK against the per-record
//! reference.
use super::spare::{SPARE, SPARE_BYTES, SPARE_FLIGHTS};
use super::*;

fn s(n: u32) -> SeqNumber {
    SeqNumber(n)
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// Four records of ten bytes from 100, sent at 1, 2, 3, 4 ms.
fn queue() -> RtxQueue {
    let mut q = RtxQueue::default();
    for i in 0..4 {
        q.push(
            s(100 + i * 10),
            s(110 + i * 10),
            ms(1 + u64::from(i)),
            0,
            RateSnap::default(),
        );
    }
    q
}

fn d() -> Delivery {
    Delivery::new(ms(10), None, Duration::ZERO)
}

#[test]
fn acks_trim_and_time() {
    let mut q = queue();
    assert_eq!(q.pipe(), 40);
    let mut a = d();
    q.ack(s(125), &mut a);
    assert_eq!(a.oldest_once, Some(ms(1)));
    assert_eq!(a.newest_once, Some(ms(2)));
    assert_eq!(a.bytes, 25);
    assert_eq!(q.front().unwrap().start, s(125));
    assert_eq!(q.pipe(), 15);
    q.check(s(125), s(140)).unwrap();
}

#[test]
fn loss_marking_and_pipe() {
    let mut q = queue();
    assert!(q.mark_first_lost());
    assert!(!q.mark_first_lost(), "already waiting");
    assert_eq!(q.pipe(), 30);
    let (i, a, b) = q.next_lost(1460).unwrap();
    assert_eq!((i, a, b), (0, s(100), s(110)));
    q.retransmitted(i, ms(5), 0, RateSnap::default());
    assert_eq!(q.pipe(), 40);
    assert!(q.next_lost(1460).is_none());
    // Everything lost (a closed window): nothing is in the pipe.
    q.mark_all_lost();
    assert_eq!(q.pipe(), 0);
    // Karn: the ACK of a retransmitted record gives no sample.
    q.retransmitted(0, ms(9), 0, RateSnap::default());
    let mut a = d();
    q.ack(s(110), &mut a);
    assert_eq!(a.oldest_once, None);
    assert!(a.any_retransmitted);
    q.check(s(110), s(140)).unwrap();
}

#[test]
fn a_smaller_segment_size_splits_a_lost_record() {
    let mut q = queue();
    q.mark_all_lost();
    let (i, a, b) = q.next_lost(4).unwrap();
    assert_eq!((i, a, b), (0, s(100), s(104)));
    q.retransmitted(i, ms(2), 0, RateSnap::default());
    let (i, a, b) = q.next_lost(4).unwrap();
    assert_eq!((i, a, b), (1, s(104), s(108)));
    assert_eq!(q.len(), 6);
    q.check(s(100), s(140)).unwrap();
}

/// RFC 8985 §6.2 step 2 with timestamps: the echo of a SACK is the TSval
/// of the last segment in order (RFC 7323 §4.3), older than any
/// retransmission it SACKs, so it does not make a SACKed retransmission
/// suspect — only an RTT under the minimum does. A cumulative ACK's echo
/// does: older than the retransmission, it was the original that came.
#[test]
fn rfc8985_a_sacked_retransmission_is_judged_by_its_rtt_not_the_echo() {
    let min_rtt = Duration::from_millis(5);
    let mut q = queue();
    q.retransmitted(3, ms(20), 99, RateSnap::default());
    // SACKed at 30 ms (10 ms after it went again), echoing TSval 0.
    let mut a = Delivery::new(ms(30), Some(0), min_rtt);
    q.sack(s(130), s(140), &mut a);
    assert_eq!(a.rack.map(|r| r.start), Some(s(130)), "a RACK segment");
    // SACKed 2 ms after it went again: faster than any round trip.
    let mut q = queue();
    q.retransmitted(3, ms(20), 99, RateSnap::default());
    let mut a = Delivery::new(ms(22), Some(0), min_rtt);
    q.sack(s(130), s(140), &mut a);
    assert!(a.rack.is_none(), "the original's delivery, perhaps");
    // Acknowledged cumulatively with an echo older than the retransmission.
    let mut q = queue();
    q.retransmitted(0, ms(20), 99, RateSnap::default());
    let mut a = Delivery::new(ms(30), Some(0), min_rtt);
    q.ack(s(110), &mut a);
    assert!(a.rack.is_none(), "the echo says the original arrived");
    let mut a = Delivery::new(ms(30), Some(99), min_rtt);
    let mut q2 = queue();
    q2.retransmitted(0, ms(20), 99, RateSnap::default());
    q2.ack(s(110), &mut a);
    assert_eq!(a.rack.map(|r| r.start), Some(s(100)));
    // Before any RTT sample (minimum unknown: the longest), no
    // retransmission's delivery is trusted, SACKed or not.
    let mut q = queue();
    q.retransmitted(3, ms(20), 99, RateSnap::default());
    let mut a = Delivery::new(ms(900), Some(99), Duration::MAX);
    q.sack(s(130), s(140), &mut a);
    assert!(a.rack.is_none());
}

#[test]
fn rfc6675_scoreboard_sack_blocks_split_and_leave_the_pipe() {
    let mut q = queue();
    let mut a = d();
    // A block over the second half of record 1 and all of record 2.
    q.sack(s(115), s(130), &mut a);
    assert_eq!(a.bytes, 15);
    assert_eq!(q.len(), 5, "record 1 split at 115");
    assert_eq!((q.sacked_bytes(), q.sacked_records()), (15, 2));
    assert_eq!(q.pipe(), 25);
    // The same block again delivers nothing (SACK is idempotent).
    let mut again = d();
    q.sack(s(115), s(130), &mut again);
    assert_eq!(again.bytes, 0);
    // The cumulative ACK does not deliver SACKed bytes twice.
    let mut a = d();
    q.ack(s(130), &mut a);
    assert_eq!(a.bytes, 15);
    assert_eq!(q.sacked_records(), 0);
    q.check(s(130), s(140)).unwrap();
}

#[test]
fn rfc6675_is_lost_by_count_and_by_bytes() {
    // Three SACKed segments above: lost (DupThresh = 3).
    let mut q = queue();
    q.sack(s(110), s(140), &mut d());
    assert_eq!(q.mark_lost_by_sacks(3, 10, s(100)), 10);
    assert!(q.front().unwrap().lost);
    // Two SACKed segments, 20 bytes ≤ 2·SMSS: not yet.
    let mut q = queue();
    q.sack(s(120), s(140), &mut d());
    assert_eq!(q.mark_lost_by_sacks(3, 10, s(100)), 0);
    // More than (DupThresh − 1)·SMSS bytes in fewer segments: lost.
    assert_eq!(q.mark_lost_by_sacks(3, 9, s(100)), 20);
    q.check(s(100), s(140)).unwrap();
}

/// A segment NextSeg rule 3 already sent again (RFC 6675 §4: below the
/// highest SACK, not yet deemed lost) is not deemed lost by later SACKs
/// and sent a third time: it lies below HighRxt, where rule 1 does not
/// look.
#[test]
fn rfc6675_a_rule_three_retransmission_is_not_sent_a_third_time() {
    let mut q = queue();
    q.sack(s(130), s(140), &mut d());
    let (i, a, b) = q.next_unsacked(s(100), 100).unwrap();
    assert_eq!((a, b), (s(100), s(110)));
    q.retransmitted(i, ms(5), 0, RateSnap::default());
    // HighRxt is past it. Two SACKed records (DupThresh 2 here) now lie
    // above records 0 and 1: both are lost in their first transmission,
    // but only record 1 waits to be sent; record 0's copy in flight
    // counts once in the pipe (SetPipe: (a) no longer, (b) still).
    q.sack(s(120), s(130), &mut d());
    assert_eq!(q.pipe(), 30, "record 0 twice, record 1 once");
    assert_eq!(q.mark_lost_by_sacks(2, 10, s(110)), 20);
    assert!(q.front().unwrap().lost && !q.front().unwrap().needs_retransmission());
    assert!(q.get(1).unwrap().needs_retransmission());
    assert_eq!(q.pipe(), 10, "record 0's copy only");
    q.check(s(100), s(140)).unwrap();
    // The rescue retransmission (rule 4) does not move HighRxt: above it,
    // a lost rescue is rule 1's to send again.
    let mut q = queue();
    q.sack(s(130), s(140), &mut d());
    let (i, a, b) = q.last_unsacked(10, None).unwrap();
    assert_eq!((a, b), (s(120), s(130)));
    q.retransmitted(i, ms(5), 0, RateSnap::default());
    for k in 0..3 {
        q.push(
            s(140 + k * 10),
            s(150 + k * 10),
            ms(6),
            0,
            RateSnap::default(),
        );
    }
    q.sack(s(140), s(170), &mut d());
    q.mark_lost_by_sacks(3, 10, s(100));
    assert!(
        q.get(2).unwrap().needs_retransmission(),
        "the rescue, again"
    );
    q.check(s(100), s(170)).unwrap();
}

#[test]
fn rfc8985_rack_marks_only_what_was_sent_before_and_long_enough_ago() {
    let mut q = queue();
    // Record 2 (sent at 3 ms) was delivered at 10 ms.
    q.sack(s(120), s(130), &mut d());
    // Wait 5 ms: records 0 (1 ms) and 1 (2 ms) sent before it; 0 is
    // due at 6 ms, 1 at 7 ms. At 6.5 ms only record 0 is lost, and 1
    // is due in half a millisecond; record 3 was sent after: never.
    let r = q.get(2).unwrap();
    let rack = (r.sent, r.order, r.end);
    let now = Instant::from_micros(6_500);
    let (lost, left) = q.rack_detect(now, rack, Duration::from_millis(5));
    assert_eq!(lost, 10);
    assert_eq!(left, Some(Duration::from_micros(500)));
    assert!(q.front().unwrap().lost && !q.get(1).unwrap().lost);
    assert!(!q.get(3).unwrap().lost);
    // A retransmission sent after the RACK segment is not judged by it.
    q.retransmitted(0, ms(8), 0, RateSnap::default());
    let (lost, _) = q.rack_detect(ms(20), rack, Duration::from_millis(5));
    assert_eq!(lost, 10, "record 1 only");
    assert!(!q.front().unwrap().needs_retransmission());
    q.check(s(100), s(140)).unwrap();
}

/// Two transmissions stamped with the same time are ordered by when they
/// went out, not by sequence number (RFC 8985 §6.2's tie-break assumes
/// the two agree): a retransmission sent in the same instant as, and
/// after, new data is not judged lost when that data is delivered. The
/// simulator stamps every event of an instant with one time, so a fast
/// retransmission and the new segment its ACK released are such a pair.
#[test]
fn rack_orders_a_retransmission_after_new_data_sent_in_the_same_instant() {
    let mut q = queue();
    // Record 3 went out at 4 ms; then, still at 4 ms, record 0 again.
    q.mark_first_lost();
    q.retransmitted(0, ms(4), 0, RateSnap::default());
    assert!(q.get(0).unwrap().sent_after(q.get(3).unwrap()));
    assert!(!q.get(3).unwrap().sent_after(q.get(0).unwrap()));
    // Record 3 is delivered: RACK's segment. Record 0 was sent after it.
    q.sack(s(130), s(140), &mut d());
    let r = q.get(3).unwrap();
    let rack = (r.sent, r.order, r.end);
    let (lost, _) = q.rack_detect(ms(20), rack, Duration::from_millis(5));
    assert_eq!(lost, 20, "records 1 and 2, not the retransmission");
    assert!(!q.get(0).unwrap().needs_retransmission());
    q.check(s(100), s(140)).unwrap();
    // Both delivered by one ACK: the RACK segment is the one sent later
    // in that instant, the retransmission.
    let mut q = queue();
    q.mark_first_lost();
    q.retransmitted(0, ms(4), 0, RateSnap::default());
    let mut a = d();
    q.sack(s(130), s(140), &mut a);
    q.sack(s(100), s(110), &mut a);
    assert_eq!(a.rack.map(|r| r.start), Some(s(100)));
    let mut a = d();
    let mut q = queue();
    q.mark_first_lost();
    q.retransmitted(0, ms(4), 0, RateSnap::default());
    q.sack(s(100), s(110), &mut a);
    q.sack(s(130), s(140), &mut a);
    assert_eq!(
        a.rack.map(|r| r.start),
        Some(s(100)),
        "whatever the order of the blocks"
    );
}

#[test]
fn rfc2018_reneging_forgets_sacks_on_timeout() {
    let mut q = queue();
    // The peer SACKed the first record, so it must have reneged.
    q.sack(s(100), s(110), &mut d());
    q.sack(s(120), s(130), &mut d());
    q.mark_timeout(ms(50), None);
    assert_eq!(q.sacked_records(), 0);
    assert!(q.front().unwrap().needs_retransmission());
    // Without reneging, SACKed records stay SACKed and RACK's age
    // rule spares what was sent recently.
    let mut q = queue();
    q.sack(s(120), s(130), &mut d());
    let lost = q.mark_timeout(Instant::from_micros(3_500), Some(Duration::from_millis(1)));
    assert_eq!(lost, 20, "records 0 and 1; 3 was sent at 4 ms");
    q.check(s(100), s(140)).unwrap();
}

#[test]
fn nextseg_rules_three_and_four() {
    let mut q = queue();
    q.sack(s(130), s(140), &mut d());
    // Rule 3: the first unSACKed record below the highest SACK.
    assert_eq!(q.next_unsacked(s(100), 100), Some((0, s(100), s(110))));
    assert_eq!(q.next_unsacked(s(110), 100), Some((1, s(110), s(120))));
    assert_eq!(q.next_unsacked(s(130), 100), None);
    // Rule 4 / TLP: the highest unSACKed record, cut from its end.
    assert_eq!(q.last_unsacked(4, None), Some((3, s(126), s(130))));
    q.check(s(100), s(140)).unwrap();
}

/// A record that ends with our FIN holds one byte of sequence space more
/// than of data: the probe (RFC 8985 §7.3) and the rescue are its last
/// `max_len` bytes of data and the FIN, rule 3 its first `max_len` bytes.
#[test]
fn a_fin_takes_no_room_when_records_are_cut() {
    // The last record is 130..141: ten bytes of data and the FIN at 140.
    let mut q = RtxQueue::default();
    q.push(s(120), s(130), ms(1), 0, RateSnap::default());
    q.push(s(130), s(141), ms(2), 0, RateSnap::default());
    let fin = Some(s(140));
    assert_eq!(
        q.last_unsacked(10, fin),
        Some((1, s(130), s(141))),
        "not cut"
    );
    assert_eq!(q.last_unsacked(4, fin), Some((2, s(136), s(141))));
    q.check(s(120), s(141)).unwrap();
    // Without the FIN counted apart the same call would have taken a
    // byte too few of data: 137..141, leaving 136 a hole of one byte.
    let mut q = RtxQueue::default();
    q.push(s(130), s(141), ms(2), 0, RateSnap::default());
    assert_eq!(q.last_unsacked(4, None), Some((1, s(137), s(141))));
}

/// The cumulative ACK as it was before runs: each record delivered in
/// turn (the reference `ack_plain_run` must agree with).
fn ack_each(q: &mut RtxQueue, ack: SeqNumber, d: &mut Delivery) {
    while let Some(&r) = q.front() {
        if r.end <= ack {
            q.remove(&r);
            q.fl_mut().records.pop_front();
            if !r.sacked {
                d.deliver(&r, r.len(), true, true);
            }
        } else {
            if r.start < ack {
                if !r.sacked {
                    d.deliver(&r, ack - r.start, false, true);
                }
                q.update(0, |r| {
                    r.off += (ack - r.start) as u64;
                    r.start = ack;
                });
            }
            break;
        }
    }
    q.release_if_empty();
}

proptest::proptest! {
    /// A cumulative ACK delivers the same, and leaves the same queue,
    /// whether runs of records sent once go in one step or each in
    /// turn — after any mix of sends, SACKs, losses and
    /// retransmissions.
    #[test]
    fn a_run_of_plain_records_is_acked_as_each_would_be(
        ops in proptest::collection::vec((0u8..9, 0u32..40, 0u32..40), 1..60),
        acks in proptest::collection::vec(0u32..1000, 1..4),
        wrap in proptest::bool::ANY,
    ) {
        let mut q = RtxQueue::default();
        // Also across the 2^32 wrap of sequence numbers.
        let una = s(if wrap { u32::MAX - 300 } else { 1000 });
        let (mut nxt, mut now) = (una, 1u64);
        for (op, a, b) in ops {
            let len = q.fl().records.len();
            match op {
                0 | 1 => {
                    let end = nxt + (a as usize % 20 + 1);
                    q.push(nxt, end, ms(now), a, RateSnap::default());
                    nxt = end;
                    now += u64::from(b % 3);
                }
                2 if nxt > una => {
                    let span = (nxt - una) as u32;
                    let (l, r) = ((a * 7) % span, (b * 11) % span + 1);
                    if l < r {
                        q.sack(una + l as usize, una + r as usize, &mut d());
                    }
                }
                3 if len > 0 => {
                    q.mark_lost(a as usize % len);
                }
                4 if len > 0 => {
                    now += 1;
                    q.retransmitted(a as usize % len, ms(now), b, RateSnap::default());
                }
                // What puts records back in the time-ordered list at
                // older places, or resends without the flag.
                5 => q.unmark_lost(),
                6 => q.clear_sacks(),
                7 => {
                    let age = (b % 2 == 0).then(|| Duration::from_millis(u64::from(a % 4)));
                    q.mark_timeout(ms(now), age);
                }
                8 if len > 0 => {
                    now += 1;
                    q.resent_first(ms(now), b);
                }
                _ => {}
            }
        }
        // One to three cumulative ACKs in a row, each at or above the
        // last.
        let mut other = q.clone();
        let mut at = una;
        for step in acks {
            let ack = at + (step as usize % ((nxt - at) + 1));
            let (mut run, mut each) = (d(), d());
            q.ack(ack, &mut run);
            ack_each(&mut other, ack, &mut each);
            proptest::prop_assert_eq!(format!("{run:?}"), format!("{each:?}"));
            let records = |q: &RtxQueue| q.fl().records.iter().copied().collect::<Vec<_>>();
            proptest::prop_assert_eq!(records(&q), records(&other));
            proptest::prop_assert_eq!(q.pipe(), other.pipe());
            if let Err(e) = q.check(ack, nxt) {
                return Err(proptest::test_runner::TestCaseError::fail(e));
            }
            at = ack;
        }
    }
}

/// An emptied queue's box goes to the thread's spare list with its
/// storage and the next burst takes it back, within the list's budget;
/// what the box reads afterwards is an empty queue's.
#[test]
fn emptied_boxes_are_kept_within_the_budget() {
    // (Each test runs on a thread of its own, so the list starts empty.)
    let burst = |q: &mut RtxQueue, n: u32| {
        for i in 0..n {
            q.push(s(i * 10), s(i * 10 + 10), ms(1), 0, RateSnap::default());
        }
    };
    let spares = || SPARE.with(|s| (s.borrow().boxes.len(), s.borrow().bytes));
    let mut q = RtxQueue::default();
    burst(&mut q, 300);
    let grown = q.fl().storage();
    q.ack(s(3000), &mut d());
    assert!(!q.holds_flight(), "an empty queue gives its box back");
    assert_eq!(spares(), (1, grown));
    // The next burst takes the grown box: no growing again.
    let mut r = RtxQueue::default();
    burst(&mut r, 1);
    assert_eq!(r.fl().storage(), grown);
    assert_eq!(r.len(), 1);
    assert_eq!(r.pipe(), 10);
    assert_eq!(spares(), (0, 0));
    r.check(s(0), s(10)).unwrap();
    // A box beyond the budget is freed, not kept.
    let mut big = RtxQueue::default();
    burst(
        &mut big,
        (SPARE_BYTES / core::mem::size_of::<Sent>()) as u32 + 1,
    );
    assert!(big.fl().storage() > SPARE_BYTES);
    big.clear();
    assert_eq!(spares(), (0, 0));
    // Boxes are kept while their storage fits in the budget together.
    let mut queues: Vec<RtxQueue> = (0..SPARE_FLIGHTS + 4)
        .map(|_| RtxQueue::default())
        .collect();
    for q in &mut queues {
        burst(q, 200);
    }
    for q in &mut queues {
        q.clear();
    }
    let (n, bytes) = spares();
    assert!(
        n <= SPARE_FLIGHTS && bytes <= SPARE_BYTES,
        "{n} boxes, {bytes} bytes"
    );
    assert!(n >= 1);
}

/// SACK blocks count whole segments (Linux's tcp_match_skb_to_sack): a
/// block that covers part of a record marks nothing and splits nothing,
/// so blocks of a byte (CVE-2019-11478's pattern) cannot cut the queue
/// into pieces; a record larger than a segment is split only at segment
/// boundaries from its start.
#[test]
fn sack_blocks_count_whole_segments() {
    let mut q = queue();
    for b in 100..140 {
        q.sack_by(s(b), s(b + 1), 10, &mut d());
    }
    assert_eq!(q.len(), 4, "no record split by one-byte blocks");
    assert_eq!(q.sacked_records(), 0);
    // A block over one and a half records marks the whole one only.
    let mut a = d();
    q.sack_by(s(105), s(125), 10, &mut a);
    assert_eq!((q.len(), q.sacked_records(), a.bytes), (4, 1, 10));
    assert_eq!(q.get(1).map(|r| (r.start, r.sacked)), Some((s(110), true)));
    q.check(s(100), s(140)).unwrap();
    // One record of 30 bytes (a segment of 10 bytes now: a smaller path
    // MTU): split at 10 and 20 from its start, never between.
    let mut q = RtxQueue::default();
    q.push(s(100), s(130), ms(1), 0, RateSnap::default());
    let mut a = d();
    q.sack_by(s(103), s(127), 10, &mut a);
    assert_eq!(a.bytes, 10, "only 110..120 is a whole segment inside");
    let spans: Vec<_> = (0..q.len())
        .filter_map(|i| q.get(i))
        .map(|r| (r.start.0, r.end.0, r.sacked))
        .collect();
    assert_eq!(
        spans,
        [(100, 110, false), (110, 120, true), (120, 130, false)]
    );
    q.check(s(100), s(130)).unwrap();
}
