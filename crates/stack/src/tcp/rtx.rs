//! The retransmission queue and SACK scoreboard: one record per segment in
//! flight, covering SND.UNA .. SND.NXT exactly, in order and without gaps.
//!
//! A record is a span of sequence space — the SYN, data, the FIN, or a mix —
//! with when it was last sent, how often, the TSval it carried and the
//! delivery-rate snapshot taken then. Its flags are the scoreboard of RFC
//! 6675 §3: `sacked` (the peer holds it, RFC 2018), `lost` (loss detection
//! says so: RACK's clock, RFC 6675's IsLost, NewReno's duplicate ACKs, the
//! retransmission timer) and `retransmitted` (sent again since). A SACK
//! block that covers part of a record splits it, so the flags are exact.
//! SND.NXT is never moved back: the next retransmission is found here.
//!
//! RFC 6675 §4's pipe ("octets sent and not yet known to have left the
//! network") follows from the flags: a record counts once unless SACKed or
//! lost, and once more if retransmitted — kept as a running sum.

use core::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use crate::time::Instant;

mod delivery;
mod spare;

pub use delivery::Delivery;
use spare::{recycle_flight, spare_flight};

/// The delivery-rate sampler's state when a record was sent
/// (draft-ietf-ccwg-bbr §4.1.2.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSnap {
    /// Bytes delivered on the connection so far, and when that last grew.
    pub delivered: u64,
    pub delivered_time: Instant,
    /// Send time of the most recently delivered record then.
    pub first_send_time: Instant,
    /// Sent while the application, not the network, limited the sender.
    pub app_limited: bool,
    /// Bytes in flight just after this record went out.
    pub tx_in_flight: usize,
    /// Bytes the connection had marked lost so far.
    pub lost: u64,
}

/// Where a transmission stands in RACK's time order (RFC 8985 §6.2):
/// by time, then send order (compared as sequence numbers), then end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentKey {
    pub sent: Instant,
    pub order: u32,
    /// The end as a stream offset.
    pub end: u64,
}

impl Ord for SentKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sent
            .cmp(&other.sent)
            .then_with(|| serial_cmp(self.order, other.order))
            .then_with(|| self.end.cmp(&other.end))
    }
}

impl PartialOrd for SentKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Two send orders compared as RFC 1982 serial numbers (the ones
/// compared are never more than a burst apart).
fn serial_cmp(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

/// One segment's worth of sequence space in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// `start` as a 64-bit offset into the stream (it never wraps): the
    /// key of the queue's indexes.
    pub off: u64,
    /// When it was last (re)transmitted (RACK's xmit_ts).
    pub sent: Instant,
    /// Its place among the connection's transmissions, counted from 1
    /// (both halves of a split record share it): which of two segments
    /// stamped with the same time went out later (RFC 8985 §6.2's
    /// RACK_sent_after breaks that tie by sequence number, a proxy for
    /// send order that a retransmission sent in the same instant as new
    /// data contradicts — in the simulator every event of an instant
    /// shares its time). It wraps, and compares as sequence numbers do:
    /// only transmissions of one instant are ever told apart by it.
    pub order: u32,
    /// How many times it was transmitted (Karn's rule: RTT samples only
    /// from records sent once).
    pub xmits: u16,
    /// Deemed lost: to be retransmitted.
    pub lost: bool,
    /// Sent again since it was last marked lost (or, outside loss, sent
    /// again by a rule that did not mark it: it then counts twice).
    pub retransmitted: bool,
    /// Selectively acknowledged (RFC 2018): the peer holds it.
    pub sacked: bool,
    /// Sent only as a zero-window probe so far: sending it again when the
    /// window opens repairs nothing that was lost (Linux probes with no
    /// data at all), so it is not counted as a retransmission.
    pub probe: bool,
    /// The TSval its last transmission carried (RFC 8985 §6.2 step 2),
    /// and the one its first retransmission carried (RFC 3522's
    /// RetransmitTS).
    pub tsval: u32,
    pub first_rtx_tsval: u32,
    pub rate: RateSnap,
    /// Which entry of the queue's time-ordered list is this record's
    /// (each time it enters the list it gets a new stamp; older entries
    /// for it are stale).
    stamp: u64,
}

impl Sent {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Bytes of data: the span less our FIN's sequence number (at `fin`)
    /// if the span holds it.
    fn data_len(&self, fin: Option<SeqNumber>) -> usize {
        self.len() - usize::from(fin.is_some_and(|f| self.start <= f && f < self.end))
    }

    /// Bytes this record contributes to the pipe.
    fn in_pipe(&self) -> usize {
        if self.sacked {
            return 0;
        }
        let n = self.len();
        usize::from(!self.lost) * n + usize::from(self.retransmitted) * n
    }

    /// Whether it waits for a retransmission.
    pub fn needs_retransmission(&self) -> bool {
        self.lost && !self.retransmitted && !self.sacked
    }

    /// RFC 8985 §6.2's ordering: sent later, or at the same time and
    /// later in send order, or (halves of one record) ending further.
    pub fn sent_after(&self, other: &Sent) -> bool {
        self.sent_after_parts(other.sent, other.order, other.end)
    }

    /// `sent_after` against a transmission known by its parts.
    pub fn sent_after_parts(&self, sent: Instant, order: u32, end: SeqNumber) -> bool {
        match self.sent.cmp(&sent) {
            Ordering::Equal => match serial_cmp(self.order, order) {
                Ordering::Equal => self.end > end,
                o => o == Ordering::Greater,
            },
            o => o == Ordering::Greater,
        }
    }

    /// What `sent_after` compares: send time, send order, end.
    pub fn sent_key(&self) -> SentKey {
        SentKey {
            sent: self.sent,
            order: self.order,
            end: self.end_off(),
        }
    }

    /// In flight as far as RACK knows: not SACKed, not waiting to be sent
    /// again.
    fn in_flight(&self) -> bool {
        !self.sacked && !self.needs_retransmission()
    }

    fn end_off(&self) -> u64 {
        self.off + self.len() as u64
    }
}

/// Running sums over the records (`u32`: a window holds less than 2³¹
/// bytes, RFC 7323 §2.3, and fewer records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    pipe: u32,
    /// Records that need a retransmission.
    pending: u32,
    sacked_bytes: u32,
    sacked_records: u32,
    lost_bytes: u32,
    lost_records: u32,
    /// Records sent again and not known delivered (Linux's retrans_out).
    retrans_records: u32,
    /// Records transmitted more than once.
    resent: u32,
}

impl Tally {
    const ZERO: Tally = Tally {
        pipe: 0,
        pending: 0,
        sacked_bytes: 0,
        sacked_records: 0,
        lost_bytes: 0,
        lost_records: 0,
        retrans_records: 0,
        resent: 0,
    };

    fn of(r: &Sent) -> Tally {
        Tally {
            pipe: r.in_pipe() as u32,
            pending: u32::from(r.needs_retransmission()),
            sacked_bytes: u32::from(r.sacked) * r.len() as u32,
            sacked_records: u32::from(r.sacked),
            lost_bytes: u32::from(r.lost && !r.sacked) * r.len() as u32,
            lost_records: u32::from(r.lost && !r.sacked),
            retrans_records: u32::from(r.retransmitted && !r.sacked),
            resent: u32::from(r.xmits > 1),
        }
    }

    fn add(&mut self, o: Tally) {
        self.pipe += o.pipe;
        self.pending += o.pending;
        self.sacked_bytes += o.sacked_bytes;
        self.sacked_records += o.sacked_records;
        self.lost_bytes += o.lost_bytes;
        self.lost_records += o.lost_records;
        self.retrans_records += o.retrans_records;
        self.resent += o.resent;
    }

    fn sub(&mut self, o: Tally) {
        self.pipe -= o.pipe;
        self.pending -= o.pending;
        self.sacked_bytes -= o.sacked_bytes;
        self.sacked_records -= o.sacked_records;
        self.lost_bytes -= o.lost_bytes;
        self.lost_records -= o.lost_records;
        self.retrans_records -= o.retrans_records;
        self.resent -= o.resent;
    }
}

/// The records, oldest first, and the sums and indexes kept with them.
///
/// What exists only while something is unacknowledged lives in a box
/// that an emptied queue gives back (issue 13's memory per idle endpoint:
/// an idle connection holds a null pointer and two offsets, 24 bytes,
/// instead of the containers and sums, 160, and a burst's worth of
/// storage).
#[derive(Debug, Clone, Default)]
pub struct RtxQueue {
    flight: Option<Box<Flight>>,
    /// The offset the next record starts at.
    next_off: u64,
    /// The send order of the last transmission (`Sent::order`).
    last_order: u32,
    /// Bytes ever marked lost (the rate sampler's C.lost).
    lost_total: u64,
}

/// The part of the queue that exists while records do.
#[derive(Debug, Clone, Default)]
struct Flight {
    records: VecDeque<Sent>,
    tally: Tally,
    /// RACK's time-ordered list (RFC 8985 §6.2 step 5 looks at the
    /// oldest first and stops at the first sent after the RACK segment):
    /// (send key, stamp) of records in flight, sorted by key. A
    /// record sent now goes at the back, so sending costs a push; records
    /// leave lazily — an entry whose stamp is not its record's any more
    /// (acknowledged, SACKed, marked lost, sent again, split) is stale,
    /// skipped, dropped at the front, and the list is rebuilt when stale
    /// entries outnumber live ones (so its length stays within twice the
    /// records plus a constant).
    in_flight: VecDeque<(SentKey, u64)>,
    /// Records in flight (live entries of `in_flight`).
    live: usize,
    /// The next stamp (stamps only compare within one `Flight`).
    next_stamp: u64,
    /// Start offsets of the records waiting for a retransmission.
    pending: BTreeSet<u64>,
    /// Records newly marked lost, for the controller: drained after every
    /// ACK and timer, so never more than the records in flight.
    lost_log: Vec<Sent>,
}

/// What an empty queue reads.
static EMPTY: Flight = Flight {
    records: VecDeque::new(),
    tally: Tally::ZERO,
    in_flight: VecDeque::new(),
    live: 0,
    next_stamp: 0,
    pending: BTreeSet::new(),
    lost_log: Vec::new(),
};

impl RtxQueue {
    /// Whether the queue holds its in-flight box.
    #[cfg(test)]
    pub fn holds_flight(&self) -> bool {
        self.flight.is_some()
    }

    fn fl(&self) -> &Flight {
        self.flight.as_deref().unwrap_or(&EMPTY)
    }

    fn fl_mut(&mut self) -> &mut Flight {
        self.flight.get_or_insert_with(spare_flight)
    }

    pub fn is_empty(&self) -> bool {
        self.fl().records.is_empty()
    }

    pub fn len(&self) -> usize {
        self.fl().records.len()
    }

    pub fn front(&self) -> Option<&Sent> {
        self.fl().records.front()
    }

    pub fn back(&self) -> Option<&Sent> {
        self.fl().records.back()
    }

    pub fn get(&self, i: usize) -> Option<&Sent> {
        self.fl().records.get(i)
    }

    /// RFC 6675 §4's pipe: bytes believed to be in the network.
    pub fn pipe(&self) -> usize {
        self.fl().tally.pipe as usize
    }

    /// Whether some record waits for a retransmission.
    pub fn has_lost(&self) -> bool {
        self.fl().tally.pending > 0
    }

    /// Bytes and records SACKed and not yet cumulatively acknowledged.
    #[cfg(test)]
    pub fn sacked_bytes(&self) -> usize {
        self.fl().tally.sacked_bytes as usize
    }

    pub fn sacked_records(&self) -> usize {
        self.fl().tally.sacked_records as usize
    }

    /// Records marked lost and not SACKed since (Linux's lost_out).
    pub fn lost_records(&self) -> usize {
        self.fl().tally.lost_records as usize
    }

    /// Records sent again and not known delivered (Linux's retrans_out).
    pub fn retrans_records(&self) -> usize {
        self.fl().tally.retrans_records as usize
    }

    /// A new transmission of `start .. end`, which must begin where the
    /// queue ends.
    pub fn push(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        now: Instant,
        tsval: u32,
        rate: RateSnap,
    ) {
        debug_assert!(self.fl().records.back().is_none_or(|r| r.end == start));
        let mut r = Sent {
            start,
            end,
            off: self.next_off,
            sent: now,
            order: self.last_order.wrapping_add(1),
            xmits: 1,
            lost: false,
            retransmitted: false,
            sacked: false,
            probe: false,
            tsval,
            first_rtx_tsval: 0,
            rate,
            stamp: 0,
        };
        self.next_off += r.len() as u64;
        self.last_order = self.last_order.wrapping_add(1);
        self.add(&mut r);
        self.fl_mut().records.push_back(r);
    }

    /// Count `r` in the sums and indexes (it gets a new stamp).
    fn add(&mut self, r: &mut Sent) {
        let f = self.fl_mut();
        f.tally.add(Tally::of(r));
        f.next_stamp += 1;
        r.stamp = f.next_stamp;
        if r.in_flight() {
            let entry = (r.sent_key(), r.stamp);
            // Sent now: at the back. A split or a record back in flight
            // keeps its older send time: at its place.
            match f.in_flight.back() {
                Some(last) if last.0 > entry.0 => {
                    let at = f.in_flight.partition_point(|e| e.0 <= entry.0);
                    f.in_flight.insert(at, entry);
                }
                _ => f.in_flight.push_back(entry),
            }
            f.live += 1;
        }
        if r.needs_retransmission() {
            f.pending.insert(r.off);
        }
    }

    /// Take `r` out of the sums and indexes (its entry in the time-ordered
    /// list goes stale).
    fn remove(&mut self, r: &Sent) {
        let f = self.fl_mut();
        f.tally.sub(Tally::of(r));
        if r.needs_retransmission() {
            f.pending.remove(&r.off);
        }
        if r.in_flight() {
            f.live -= 1;
            self.compact_if_stale();
        }
    }

    /// Drop the stale entries of the time-ordered list once they
    /// outnumber the live ones (so its length stays within twice the
    /// records in flight plus a constant).
    fn compact_if_stale(&mut self) {
        let f = self.fl();
        if f.in_flight.len() > 2 * f.live + 64 {
            self.compact();
        }
    }

    /// Whether a time-ordered entry is its record's current one.
    fn is_live(&self, &(key, stamp): &(SentKey, u64)) -> bool {
        let end = key.end;
        let Some(last) = end.checked_sub(1) else {
            return false;
        };
        // The entries asked about are nearly always the oldest record or
        // already acknowledged below it: those need no search.
        let i = match self.fl().records.front() {
            None => None,
            Some(f) if last < f.off => None,
            Some(f) if last < f.end_off() => Some(0),
            Some(_) => self.index_of_off(last),
        };
        i.is_some_and(|i| {
            let r = &self.fl().records[i];
            r.stamp == stamp && r.in_flight() && r.end_off() == end
        })
    }

    /// Drop the stale entries of the time-ordered list.
    fn compact(&mut self) {
        let mut list = std::mem::take(&mut self.fl_mut().in_flight);
        list.retain(|e| self.is_live(e));
        self.fl_mut().in_flight = list;
    }

    fn update(&mut self, i: usize, f: impl FnOnce(&mut Sent)) {
        let Some(before) = self.fl().records.get(i).copied() else {
            return;
        };
        let mut r = before;
        f(&mut r);
        if before.in_flight() && r.in_flight() && before.sent_key() == r.sent_key() {
            // Same place in the time-ordered list (a front trim, a lost
            // mark undone on a record not marked): only the sums change.
            // In flight means not waiting for a retransmission, so the
            // pending index is untouched too.
            let tally = &mut self.fl_mut().tally;
            tally.sub(Tally::of(&before));
            tally.add(Tally::of(&r));
            self.fl_mut().records[i] = r;
            return;
        }
        self.remove(&before);
        self.add(&mut r);
        self.fl_mut().records[i] = r;
    }

    /// Split record `i` at `cut` (strictly inside it); both halves keep
    /// the record's history.
    fn split(&mut self, i: usize, cut: SeqNumber) {
        let r = self.fl().records[i];
        debug_assert!(r.start < cut && cut < r.end);
        self.update(i, |r| r.end = cut);
        let mut tail = Sent {
            start: cut,
            off: r.off + (cut - r.start) as u64,
            ..r
        };
        self.add(&mut tail);
        self.fl_mut().records.insert(i + 1, tail);
    }

    /// The index of the record holding stream offset `off`.
    fn index_of_off(&self, off: u64) -> Option<usize> {
        let i = self.fl().records.partition_point(|r| r.end_off() <= off);
        self.fl().records.get(i).filter(|r| r.off <= off).map(|_| i)
    }

    /// The stream offset of sequence number `seq` (which may lie below
    /// the queue, once acknowledged).
    fn off_of(&self, seq: SeqNumber) -> u64 {
        match self.fl().records.front() {
            Some(f) if seq >= f.start => f.off + (seq - f.start) as u64,
            Some(f) => f.off.saturating_sub((f.start - seq) as u64),
            None => self.next_off,
        }
    }

    /// The span of the record holding `seq`, if any.
    pub fn span_of(&self, seq: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let r = self.fl().records.get(self.index_of(seq)?)?;
        Some((r.start, r.end))
    }

    /// The index of the record holding `seq`, if any.
    fn index_of(&self, seq: SeqNumber) -> Option<usize> {
        let first = self.fl().records.front()?.start;
        let last = self.fl().records.back()?.end;
        if seq < first || seq >= last {
            return None;
        }
        let off = seq - first;
        let i = self.fl().records.partition_point(|r| r.end - first <= off);
        (i < self.fl().records.len()).then_some(i)
    }

    /// Take everything below `ack` off the queue; a record `ack` falls in
    /// is trimmed at the front. What was not SACKed before is delivered.
    pub fn ack(&mut self, ack: SeqNumber, d: &mut Delivery) {
        loop {
            self.ack_plain_run(ack, d);
            let Some(front) = self.fl().records.front() else {
                break;
            };
            if front.end <= ack {
                let r = *front;
                self.remove(&r);
                self.fl_mut().records.pop_front();
                if !r.sacked {
                    d.deliver(&r, r.len(), true, true);
                }
            } else {
                if front.start < ack {
                    let r = *front;
                    if !r.sacked {
                        d.deliver(&r, ack - r.start, false, true);
                    }
                    self.update(0, |r| {
                        r.off += (ack - r.start) as u64;
                        r.start = ack;
                    });
                }
                break;
            }
        }
        self.release_if_empty();
    }

    /// Take off the front run of records wholly below `ack` that were
    /// sent once and are plainly in flight (not SACKed, not marked lost)
    /// in one step: for them queue order is send order, so delivering the
    /// run is delivering its first and last record (`Delivery::deliver_run`
    /// gives what delivering each in turn would), and each one's sums are
    /// its length in the pipe. In a bulk transfer one ACK covers dozens of
    /// such records. Their entries in the time-ordered list, at its front,
    /// leave with them (otherwise they would wait as stale entries, and
    /// the list would be compacted — every entry looked up — after each
    /// large ACK).
    fn ack_plain_run(&mut self, ack: SeqNumber, d: &mut Delivery) {
        let f = self.fl();
        let plain = |r: &Sent| r.xmits == 1 && !r.sacked && !r.lost && !r.retransmitted;
        let mut n = 0;
        let mut sent = None;
        for r in &f.records {
            if r.end > ack || !plain(r) || sent.is_some_and(|t| r.sent < t) {
                break;
            }
            sent = Some(r.sent);
            n += 1;
        }
        if n == 0 {
            return;
        }
        let (first, last) = (f.records[0], f.records[n - 1]);
        let bytes = last.end - first.start;
        let f = self.fl_mut();
        f.tally.pipe -= bytes as u32;
        f.live -= n;
        f.records.drain(..n);
        let acked_off = last.end_off();
        while f.in_flight.front().is_some_and(|e| e.0.end <= acked_off) {
            f.in_flight.pop_front();
        }
        self.compact_if_stale();
        d.deliver_run(&first, &last, bytes);
    }

    /// Give the storage of an empty queue back: an idle connection holds
    /// none (the record of its SYN, or a burst's worth of records, would
    /// otherwise stay allocated for as long as it lives — issue 13's
    /// memory per idle endpoint). The next burst allocates again.
    /// Records marked lost and not yet reported keep it until they are.
    fn release_if_empty(&mut self) {
        let f = self.fl();
        if f.records.is_empty() {
            debug_assert_eq!(f.live, 0, "records in flight, none recorded");
            debug_assert_eq!(f.tally, Tally::ZERO, "sums over no records");
            if f.lost_log.is_empty() {
                if let Some(f) = self.flight.take() {
                    recycle_flight(f);
                }
            }
        }
    }

    /// A SACK block `left .. right` (RFC 2018 §3), already checked to lie
    /// above SND.UNA and at most SND.NXT: records inside it are marked,
    /// records across its edges split first.
    #[cfg(test)]
    pub fn sack(&mut self, left: SeqNumber, right: SeqNumber, d: &mut Delivery) {
        self.sack_by(left, right, 1, d);
    }

    /// [`sack`](Self::sack) at the granularity of whole segments of `mss`
    /// bytes, counted from each record's start, as Linux's
    /// `tcp_match_skb_to_sack` rounds a block's edges: a record is split
    /// only at a multiple of `mss` from its start, and a part a block
    /// covers less than a segment of is not SACKed. A record holds at most
    /// a segment, so a block that does not cover one whole is no news:
    /// otherwise blocks of a byte or two (a hostile peer's, CVE-2019-11478)
    /// would cut the queue into pieces without bound — memory, a search
    /// per ACK that grows with them, and a retransmission per hole of a
    /// few bytes. RFC 6675 retransmits segments, not sub-segment holes.
    pub fn sack_by(&mut self, left: SeqNumber, right: SeqNumber, mss: usize, d: &mut Delivery) {
        let mss = mss.max(1);
        let Some(mut i) = self.index_of(left) else {
            return;
        };
        let r = self.fl().records[i];
        if r.start < left && !r.sacked {
            // The left edge rounded up to a segment boundary of the record.
            let cut = r.start + (left - r.start).next_multiple_of(mss);
            if cut < r.end {
                self.split(i, cut);
            }
            i += 1;
        }
        while i < self.fl().records.len() && self.fl().records[i].start < right {
            let r = self.fl().records[i];
            if !r.sacked {
                if r.end > right {
                    // The right edge rounded down; less than a segment
                    // covered is not SACKed.
                    let keep = (right - r.start) / mss * mss;
                    if keep == 0 {
                        break;
                    }
                    self.split(i, r.start + keep);
                }
                let r = self.fl().records[i];
                d.deliver(&r, r.len(), true, false);
                self.update(i, |r| r.sacked = true);
            }
            i += 1;
        }
    }

    /// Mark record `i` lost; returns the bytes newly lost. A lost
    /// retransmission is lost again (RFC 8985 §6.2 step 5).
    pub fn mark_lost(&mut self, i: usize) -> usize {
        self.mark(i, true)
    }

    /// Mark record `i` lost; `log`: for congestion control (not for a
    /// smaller path MTU or a closed window, which are no congestion).
    fn mark(&mut self, i: usize, log: bool) -> usize {
        match self.fl().records.get(i) {
            Some(r) if !r.sacked && !r.needs_retransmission() => {
                let r = *r;
                self.update(i, |r| {
                    r.lost = true;
                    r.retransmitted = false;
                });
                if !log {
                    return 0;
                }
                self.lost_total += r.len() as u64;
                self.fl_mut().lost_log.push(r);
                if r.lost {
                    0
                } else {
                    r.len()
                }
            }
            _ => 0,
        }
    }

    /// Record `i`, already sent again, is lost in its first transmission:
    /// it counts once in the pipe and waits for nothing (RFC 6675 SetPipe
    /// with a retransmission below HighRxt). Returns its bytes.
    fn mark_sent_again_lost(&mut self, i: usize) -> usize {
        let r = self.fl().records[i];
        self.update(i, |r| r.lost = true);
        self.lost_total += r.len() as u64;
        self.fl_mut().lost_log.push(r);
        r.len()
    }

    /// Bytes ever marked lost.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// The records marked lost since `take_lost_log` was last called.
    pub fn lost_log(&self) -> &[Sent] {
        &self.fl().lost_log
    }

    /// The records marked lost since the last call. An empty queue gives
    /// its storage back once they are all taken.
    pub fn take_lost_log(&mut self, mut each: impl FnMut(&Sent)) {
        if let Some(f) = self.flight.as_mut() {
            f.lost_log.drain(..).for_each(|r| each(&r));
        }
        self.release_if_empty();
    }

    /// The loss was spurious: every mark goes; what was sent again stays
    /// counted twice (both copies may be in flight).
    pub fn unmark_lost(&mut self) {
        for i in 0..self.fl().records.len() {
            self.update(i, |r| r.lost = false);
        }
        if let Some(f) = self.flight.as_mut() {
            f.lost_log.clear();
        }
        self.release_if_empty();
    }

    /// Mark the first record lost (fast retransmit, NewReno's partial ACK);
    /// true if it was not already waiting for a retransmission.
    pub fn mark_first_lost(&mut self) -> bool {
        match self.fl().records.front() {
            Some(r) if !r.needs_retransmission() && !r.sacked => {
                self.mark_lost(0);
                true
            }
            _ => false,
        }
    }

    /// Everything not SACKed is deemed lost, and nothing retransmitted
    /// counts in the pipe any more (the peer's window closed on it).
    pub fn mark_all_lost(&mut self) {
        for i in 0..self.fl().records.len() {
            self.mark(i, false);
        }
    }

    /// The retransmission timer expired (RFC 8985 §6.3, RFC 6675 §5.1):
    /// the first record is lost whatever its marks say — if the peer had
    /// SACKed it, the peer reneged and every SACK mark is forgotten (RFC
    /// 2018 §8) — and so is every other record not SACKed that was sent at
    /// least `age` ago (every one, without RACK).
    pub fn mark_timeout(&mut self, now: Instant, age: Option<Duration>) -> usize {
        if self.fl().records.front().is_some_and(|r| r.sacked) {
            self.clear_sacks();
        }
        let mut lost = 0;
        for i in 0..self.fl().records.len() {
            let r = self.fl().records[i];
            let old = age.is_none_or(|a| r.sent + a <= now);
            if i == 0 || old {
                lost += self.mark_lost(i);
            }
        }
        lost
    }

    /// Forget every SACK mark (the peer reneged, RFC 2018 §8).
    pub fn clear_sacks(&mut self) {
        for i in 0..self.fl().records.len() {
            self.update(i, |r| r.sacked = false);
        }
    }

    /// Mark lost every record `f` picks (a smaller path MTU: the records
    /// that no longer fit, RFC 1191 §6.4).
    pub fn mark_lost_if(&mut self, f: impl Fn(&Sent) -> bool) {
        for i in 0..self.fl().records.len() {
            if f(&self.fl().records[i]) {
                self.mark(i, false);
            }
        }
    }

    /// RFC 6675 §4 IsLost for every record at once: a record not SACKed is
    /// lost when `dupthresh` SACKed segments, or more than `(dupthresh −
    /// 1)·smss` SACKed bytes, lie above it. Returns the bytes newly lost.
    pub fn mark_lost_by_sacks(
        &mut self,
        dupthresh: usize,
        smss: usize,
        high_rxt: SeqNumber,
    ) -> usize {
        if self.fl().tally.sacked_records == 0 {
            return 0;
        }
        let (mut count, mut bytes, mut lost) = (0, 0, 0);
        for i in (0..self.fl().records.len()).rev() {
            let r = self.fl().records[i];
            if r.sacked {
                count += 1;
                bytes += r.len();
            } else if !r.lost && (count >= dupthresh || bytes > (dupthresh - 1) * smss) {
                lost += if r.retransmitted && r.start < high_rxt {
                    // Sent again by NextSeg rule 3 before it was deemed
                    // lost: its first transmission is lost (SetPipe now
                    // counts it once), but it lies below HighRxt, where
                    // rule 1 does not go back — the copy in flight is
                    // judged by time (RACK) or the timer. (The rescue,
                    // above HighRxt, is rule 1's to send again.)
                    self.mark_sent_again_lost(i)
                } else {
                    self.mark_lost(i)
                };
            }
        }
        lost
    }

    /// RFC 8985 §6.2 step 5: every record not delivered that was sent
    /// before the RACK segment (sent at `rack_sent`, `rack_order`th,
    /// ending at `rack_end`) and more than
    /// `wait` (RACK.rtt + RACK.reo_wnd) ago is lost. Returns the bytes newly
    /// lost and, if some candidate is not due yet, how long until it is.
    pub fn rack_detect(
        &mut self,
        now: Instant,
        (rack_sent, rack_order, rack_end): (Instant, u32, SeqNumber),
        wait: Duration,
    ) -> (usize, Option<Duration>) {
        let rack = SentKey {
            sent: rack_sent,
            order: rack_order,
            end: self.off_of(rack_end),
        };
        let mut due_now = Vec::new();
        let mut timeout = None;
        while self
            .fl()
            .in_flight
            .front()
            .is_some_and(|e| !self.is_live(e))
        {
            self.fl_mut().in_flight.pop_front();
        }
        for e in &self.fl().in_flight {
            let &(key, _) = e;
            let (sent, end) = (key.sent, key.end);
            // Oldest first: from the RACK segment on (its own remainder
            // included) nothing was sent before it.
            if key >= rack {
                break;
            }
            if !self.is_live(e) {
                continue;
            }
            let due = sent + wait;
            if due <= now {
                due_now.push(end);
            } else {
                // Later ones are due later: this is the longest wait yet.
                timeout = Some(due - now);
            }
        }
        let mut lost = 0;
        for end in due_now {
            if let Some(i) = self.index_of_off(end - 1) {
                lost += self.mark_lost(i);
            }
        }
        (lost, timeout)
    }

    /// The oldest record waiting for a retransmission, cut to at most
    /// `max_len` bytes of sequence space; returns its index and span.
    pub fn next_lost(&mut self, max_len: usize) -> Option<(usize, SeqNumber, SeqNumber)> {
        let off = *self.fl().pending.first()?;
        let i = self.index_of_off(off)?;
        Some(self.cut(i, max_len, None))
    }

    /// Record `i`'s span, split first if it holds more than `max_len`
    /// bytes of data (our FIN, at `fin`, takes sequence space but no room
    /// in a segment).
    fn cut(
        &mut self,
        i: usize,
        max_len: usize,
        fin: Option<SeqNumber>,
    ) -> (usize, SeqNumber, SeqNumber) {
        let r = self.fl().records[i];
        if r.data_len(fin) > max_len.max(1) {
            self.split(i, r.start + max_len.max(1));
        }
        let r = self.fl().records[i];
        (i, r.start, r.end)
    }

    /// The end of the highest SACKed record.
    pub fn highest_sacked(&self) -> Option<SeqNumber> {
        if self.fl().tally.sacked_records == 0 {
            return None;
        }
        self.fl()
            .records
            .iter()
            .rev()
            .find(|r| r.sacked)
            .map(|r| r.end)
    }

    /// RFC 6675 §4 NextSeg rule 3: the first record not SACKed, not lost
    /// and not yet sent again, starting at or above `high_rxt` and below
    /// the highest SACKed byte.
    pub fn next_unsacked(
        &mut self,
        high_rxt: SeqNumber,
        max_len: usize,
    ) -> Option<(usize, SeqNumber, SeqNumber)> {
        let top = self.highest_sacked()?;
        let i = self.fl().records.iter().position(|r| {
            !r.sacked && !r.lost && !r.retransmitted && r.start >= high_rxt && r.end <= top
        })?;
        // (Below the highest SACK: never the record with our FIN.)
        Some(self.cut(i, max_len, None))
    }

    /// The highest record not SACKed (RFC 6675 rule 4's rescue, RFC 8985
    /// §7.3's probe), cut to at most `max_len` bytes of data from its end
    /// (with our FIN, at `fin`, if the record holds it: the probe of a
    /// full last segment and its FIN is that segment again, not one that
    /// starts a byte later and leaves a byte's hole).
    pub fn last_unsacked(
        &mut self,
        max_len: usize,
        fin: Option<SeqNumber>,
    ) -> Option<(usize, SeqNumber, SeqNumber)> {
        let i = self.fl().records.iter().rposition(|r| !r.sacked)?;
        let r = self.fl().records[i];
        if r.data_len(fin) > max_len.max(1) {
            let keep = max_len.max(1) + (r.len() - r.data_len(fin));
            self.split(i, r.end - keep);
            return Some((i + 1, self.fl().records[i + 1].start, r.end));
        }
        Some((i, r.start, r.end))
    }

    /// Record `i` was sent again now, carrying `tsval`.
    pub fn retransmitted(&mut self, i: usize, now: Instant, tsval: u32, rate: RateSnap) {
        self.last_order = self.last_order.wrapping_add(1);
        let order = self.last_order;
        self.update(i, |r| {
            // (A record a window probe's resend already sent twice has
            // its first real retransmission now.)
            if r.xmits == 1 || (!r.retransmitted && r.first_rtx_tsval == 0) {
                r.first_rtx_tsval = tsval;
            }
            r.sent = now;
            r.order = order;
            r.xmits = r.xmits.saturating_add(1);
            r.retransmitted = true;
            r.probe = false;
            r.tsval = tsval;
            r.rate = rate;
        });
    }

    /// The last record grows to `end` (new data that went out in the
    /// same segment as its bytes: one record for one segment).
    pub fn grow_last(&mut self, end: SeqNumber) {
        let Some(i) = self.fl().records.len().checked_sub(1) else {
            return;
        };
        let old = self.fl().records[i].end;
        debug_assert!(end > old);
        self.update(i, |r| r.end = end);
        self.next_off += (end - old) as u64;
    }

    /// Record `i`, which only a zero-window probe had carried, went out
    /// again as the window opened: sent anew, not a retransmission (no
    /// retransmitted mark, no loss left on it).
    pub fn resent_probe(&mut self, i: usize, now: Instant, tsval: u32, rate: RateSnap) {
        self.last_order = self.last_order.wrapping_add(1);
        let order = self.last_order;
        self.update(i, |r| {
            r.sent = now;
            r.order = order;
            r.xmits = r.xmits.saturating_add(1);
            r.lost = false;
            r.probe = false;
            r.tsval = tsval;
            r.rate = rate;
        });
    }

    /// The last record went out as a zero-window probe.
    pub fn mark_last_probe(&mut self) {
        let last = self.fl().records.len().checked_sub(1);
        if let Some(i) = last {
            self.update(i, |r| r.probe = true);
        }
    }

    /// The first record was sent again outside loss recovery (a window
    /// probe repeated): only its time and count change.
    pub fn resent_first(&mut self, now: Instant, tsval: u32) {
        self.last_order = self.last_order.wrapping_add(1);
        let order = self.last_order;
        self.update(0, |r| {
            if r.xmits == 1 {
                r.first_rtx_tsval = tsval;
            }
            r.sent = now;
            r.order = order;
            r.xmits = r.xmits.saturating_add(1);
            r.tsval = tsval;
        });
    }

    /// Forget everything (the connection closed).
    pub fn clear(&mut self) {
        if let Some(f) = self.flight.take() {
            recycle_flight(f);
        }
    }

    /// Check the queue's invariants against `una .. nxt`; a description of
    /// the first broken one.
    pub fn check(&self, una: SeqNumber, nxt: SeqNumber) -> Result<(), String> {
        let mut at = una;
        let mut tally = Tally::default();
        for r in &self.fl().records {
            if r.start != at || r.end <= r.start {
                return Err(format!(
                    "record {:?}..{:?} does not continue at {:?}",
                    r.start, r.end, at
                ));
            }
            at = r.end;
            tally.add(Tally::of(r));
        }
        if !self.fl().records.is_empty() && at != nxt {
            return Err(format!("records end at {at:?}, SND.NXT is {nxt:?}"));
        }
        if self.fl().records.is_empty() && una != nxt {
            return Err(format!("nothing recorded for {una:?}..{nxt:?}"));
        }
        if tally != self.fl().tally {
            return Err(format!(
                "sums {:?} kept, {tally:?} counted",
                self.fl().tally
            ));
        }
        let mut offs = self.fl().records.iter().map(|r| r.off);
        if let Some(first) = offs.next() {
            let mut at = first;
            for r in &self.fl().records {
                if r.off != at {
                    return Err(format!(
                        "record {:?} at offset {}, not {at}",
                        r.start, r.off
                    ));
                }
                at = r.end_off();
            }
        }
        let flying: BTreeSet<(SentKey, u64)> = self
            .fl()
            .records
            .iter()
            .filter(|r| r.in_flight())
            .map(|r| (r.sent_key(), r.stamp))
            .collect();
        let listed: BTreeSet<(SentKey, u64)> = self
            .fl()
            .in_flight
            .iter()
            .filter(|e| self.is_live(e))
            .copied()
            .collect();
        let sorted = self
            .fl()
            .in_flight
            .iter()
            .zip(self.fl().in_flight.iter().skip(1))
            .all(|(a, b)| a.0 <= b.0);
        if !sorted || self.fl().live != flying.len() {
            return Err("the time-ordered list is out of order or miscounted".into());
        }
        let pending: BTreeSet<u64> = self
            .fl()
            .records
            .iter()
            .filter(|r| r.needs_retransmission())
            .map(|r| r.off)
            .collect();
        if self.flight.is_some() && self.fl().records.is_empty() && self.fl().lost_log.is_empty() {
            return Err("an empty queue keeps its in-flight box".into());
        }
        if flying != listed || pending != self.fl().pending {
            return Err("the in-flight or pending index disagrees with the records".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "rtx_tests.rs"]
mod tests;
