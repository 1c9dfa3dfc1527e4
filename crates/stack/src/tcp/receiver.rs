//! The receive side of a connection: RFC 9293 §3.3.1's receive sequence
//! variables, the receive buffer with out-of-order data, the peer's FIN and
//! urgent pointer, the window we advertise and when an ACK is due.
//!
//! The receive window is fixed when the peer's ISN is learned, from the
//! window our SYN (or SYN-ACK) offers, so in-window data is accepted from
//! the first segment on, whether or not our ACK has gone out yet.
//!
//! Selective acknowledgments (RFC 2018 §4): the blocks of data held beyond
//! a gap, the block of the latest arrival first, then the blocks reported
//! most recently; and a D-SACK block (RFC 2883 §4) once for each duplicate
//! that arrives.

use std::collections::VecDeque;

use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::buffer::{Assembler, Ring};
use super::compact::OptMillis;
use crate::time::Instant;

/// The most quick ACKs armed at once (Linux's TCP_MAX_QUICKACKS).
const MAX_QUICK_ACKS: usize = 16;
/// `Receiver::quick`'s interactive-exchange bit.
const PINGPONG: u8 = 0x80;
/// `Receiver::pushed`: a segment smaller than the peer's arrived, or
/// several did.
const PUSHED: u8 = 1;
const PUSHED2: u8 = 2;

/// When the next acknowledgment is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDue {
    No,
    /// Within the delayed-ACK time.
    Delayed,
    Now,
}

/// What an in-window piece of text did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Bytes that became readable (RCV.NXT moved by this much).
    pub in_order: usize,
    /// The segment filled (part of) a gap: RFC 5681 §4.2 asks for an ACK now.
    pub filled_gap: bool,
    /// Stored beyond a gap.
    pub out_of_order: bool,
    /// Could not be stored (the assembler's range limit).
    pub dropped: bool,
}

/// Data held beyond a gap.
#[derive(Debug, Clone, Default)]
struct Held {
    /// Offsets from RCV.NXT of the blocks stored in the ring.
    ooo: Assembler,
    /// A sequence number in each out-of-order block, the block of the
    /// latest arrival first (RFC 2018 §4's order of reporting).
    sack_recent: VecDeque<SeqNumber>,
}

/// Receive sequence variables, buffer and acknowledgment state.
#[derive(Debug, Clone)]
pub struct Receiver {
    irs: SeqNumber,
    nxt: SeqNumber,
    /// Right edge of the window last advertised (RCV.NXT + RCV.WND then);
    /// it never moves left (RFC 9293 §3.8.6).
    adv_right: SeqNumber,
    /// Our window shift (RFC 7323 §2).
    wscale: u8,
    /// Urgent pointer received: the byte after the urgent data (RFC 6093).
    up: Option<SeqNumber>,
    /// The peer's FIN, once seen (it may lie beyond missing data).
    fin: Option<SeqNumber>,
    /// In-order bytes not yet read, out-of-order bytes stored beyond.
    buf: Ring,
    /// Out-of-order blocks and their SACK marks: only while some are held
    /// (a box, so an in-order connection carries 8 bytes for them, not 56
    /// — issue 13's memory per idle endpoint).
    held: Option<Box<Held>>,
    /// When an ACK is due, and full-sized segments since the last one.
    ack: AckDue,
    unacked_segments: u8,
    /// Linux's quick-ACK mode: the ACKs left to send at once rather than
    /// delayed (armed by the first data and after an idle spell), and in
    /// the top bit whether the exchange is interactive — our data
    /// answered the peer's within the delayed-ACK time, so ACKs wait to
    /// ride on the answers (Linux's pingpong mode) even with quick ACKs
    /// left. One byte: the control block stays small (issue 13).
    quick: u8,
    /// Segments smaller than the peer's arrived since the last ACK: one
    /// (`PUSHED`) or more (`PUSHED2`), as Linux's ICSK_ACK_PUSHED bits.
    pushed: u8,
    /// A duplicate to report in the next ACK's first block (RFC 2883 §4).
    dsack: Option<(SeqNumber, SeqNumber)>,
    /// The receiver's silly-window rule.
    sws: ReceiverSws,
}

/// How a receiver avoids the silly window syndrome (RFC 9293 §3.8.6.2.2,
/// MUST-39). Both never shrink the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiverSws {
    /// RFC 9293's algorithm (Linux): hold the right edge until it can
    /// move by min(buffer/2, MSS).
    #[default]
    HoldRightEdge,
    /// BSD's `tcp_output()`: offer all the free space, but nothing when
    /// it is below both a quarter of the buffer and one MSS.
    FreeSpace,
}

/// Blocks remembered for RFC 2018 §4's recency order.
const SACK_RECENT: usize = 8;

impl Receiver {
    pub fn new(buffer: usize, wscale: u8) -> Receiver {
        Receiver {
            irs: SeqNumber(0),
            nxt: SeqNumber(0),
            adv_right: SeqNumber(0),
            wscale,
            up: None,
            fin: None,
            buf: Ring::new(buffer),
            held: None,
            ack: AckDue::No,
            unacked_segments: 0,
            quick: 0,
            pushed: 0,
            dsack: None,
            sws: ReceiverSws::default(),
        }
    }

    pub fn set_sws(&mut self, sws: ReceiverSws) {
        self.sws = sws;
    }

    /// The peer's SYN arrived with sequence number `irs`; our SYN offers
    /// (or offered) `window` bytes, unscaled (RFC 7323 §2.2).
    pub fn synchronize(&mut self, irs: SeqNumber, window: u16) {
        self.irs = irs;
        self.nxt = irs + 1;
        self.adv_right = self.nxt + usize::from(window);
    }

    pub fn irs(&self) -> SeqNumber {
        self.irs
    }
    pub fn nxt(&self) -> SeqNumber {
        self.nxt
    }
    pub fn wscale(&self) -> u8 {
        self.wscale
    }
    pub fn set_wscale(&mut self, shift: u8) {
        self.wscale = shift;
    }
    pub fn buffer(&self) -> &Ring {
        &self.buf
    }
    pub fn buffer_mut(&mut self) -> &mut Ring {
        &mut self.buf
    }
    pub fn ack_due(&self) -> AckDue {
        self.ack
    }

    /// The right edge of the window last advertised.
    pub fn right_edge(&self) -> SeqNumber {
        self.adv_right.max(self.nxt)
    }

    /// RCV.WND as currently advertised.
    pub fn wnd(&self) -> usize {
        self.right_edge() - self.nxt
    }

    /// The sequence number of the next byte the application will read.
    pub fn read_seq(&self) -> SeqNumber {
        self.nxt - self.buf.len() - usize::from(self.fin_received())
    }

    /// Whether the peer's FIN was received in order (the stream ended).
    pub fn fin_received(&self) -> bool {
        self.fin.is_some_and(|f| self.nxt > f)
    }

    /// The peer's FIN was seen at `at`; true if it is now in order (and
    /// RCV.NXT moved past it).
    pub fn take_fin(&mut self, at: SeqNumber) -> bool {
        if self.fin_received() {
            return true;
        }
        if self.fin.is_none_or(|f| at < f) {
            // The stream ends here: nothing stored beyond it may become
            // readable.
            self.fin = Some(at);
            if let Some(h) = &mut self.held {
                h.ooo.truncate(at - self.nxt);
            }
            self.settle();
        }
        self.consume_fin_if_due()
    }

    fn consume_fin_if_due(&mut self) -> bool {
        match self.fin {
            Some(f) if f == self.nxt => {
                self.nxt += 1;
                true
            }
            _ => false,
        }
    }

    /// `data` at `seq` without what lies before RCV.NXT (taken already).
    pub fn trim_taken<'a>(&self, seq: SeqNumber, data: &'a [u8]) -> (SeqNumber, &'a [u8]) {
        if seq >= self.nxt {
            return (seq, data);
        }
        let old = (self.nxt - seq).min(data.len());
        (seq + old, &data[old..])
    }

    /// Store in-window text at `seq` (trimmed to the window); nothing
    /// before RCV.NXT or beyond a FIN already seen is taken.
    pub fn accept_text(&mut self, seq: SeqNumber, data: &[u8], max_ranges: usize) -> Delivered {
        let mut d = Delivered::default();
        let (seq, data) = self.trim_taken(seq, data);
        let data = match self.fin {
            Some(f) if f <= seq => &[][..],
            Some(f) => &data[..data.len().min(f - seq)],
            None => data,
        };
        if data.is_empty() {
            return d;
        }
        let offset = seq - self.nxt;
        let had_holes = self.held.is_some();
        // RFC 2883 §4.1.3/§4.2: data already held beyond a gap is reported
        // (its first duplicate part) as a D-SACK.
        if let Some(&(s, e)) = self
            .ranges()
            .iter()
            .find(|(s, e)| *s < offset + data.len() && offset < *e)
        {
            let (s, e) = (s.max(offset), e.min(offset + data.len()));
            self.note_duplicate(self.nxt + s, self.nxt + e);
        }
        if offset == 0 {
            let n = self.buf.push(data);
            let more = self.held.as_mut().map_or(0, |h| {
                h.ooo.advance(n);
                h.ooo.take_front()
            });
            self.buf.extend(more);
            d.in_order = n + more;
            d.filled_gap = had_holes;
            self.nxt += d.in_order;
        } else {
            let n = self.buf.write_at(offset, data);
            let held = self.held.get_or_insert_with(Box::default);
            if n > 0 && held.ooo.add(offset, offset + n, max_ranges) {
                d.out_of_order = true;
                self.sack_arrived(seq);
            } else {
                d.dropped = true;
            }
        }
        self.settle();
        d
    }

    /// Whether out-of-order state is held.
    #[cfg(test)]
    pub fn holds_out_of_order(&self) -> bool {
        self.held.is_some()
    }

    /// Offsets from RCV.NXT of the blocks held beyond a gap.
    fn ranges(&self) -> &[(usize, usize)] {
        self.held.as_ref().map_or(&[], |h| h.ooo.ranges())
    }

    /// Nothing held beyond a gap: the box goes (its SACK marks name no
    /// block any more).
    fn settle(&mut self) {
        if self.held.as_ref().is_some_and(|h| h.ooo.is_empty()) {
            self.held = None;
        }
    }

    /// Out-of-order data arrived at `seq`: its block goes first in the
    /// next SACK option (RFC 2018 §4); other marks of the same block go.
    fn sack_arrived(&mut self, seq: SeqNumber) {
        let block = self.block_of(seq);
        if let Some(h) = &mut self.held {
            let recent = &mut h.sack_recent;
            recent.retain(|s| block.is_none_or(|(l, r)| !(l <= *s && *s < r)));
            recent.push_front(seq);
            recent.truncate(SACK_RECENT);
        }
    }

    /// The out-of-order block holding `seq`, in sequence numbers.
    fn block_of(&self, seq: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        if seq < self.nxt {
            return None;
        }
        let off = seq - self.nxt;
        let ranges = self.ranges();
        let i = ranges.partition_point(|&(_, e)| e <= off);
        ranges
            .get(i)
            .filter(|&&(s, _)| s <= off)
            .map(|&(s, e)| (self.nxt + s, self.nxt + e))
    }

    /// A duplicate `start .. end` arrived: the next ACK reports it first
    /// (RFC 2883 §4; only the first duplicate until it is sent, §4.2).
    pub fn note_duplicate(&mut self, start: SeqNumber, end: SeqNumber) {
        if start < end && self.dsack.is_none() {
            self.dsack = Some((start, end));
        }
    }

    /// Whether a D-SACK waits to be reported.
    pub fn dsack_pending(&self) -> bool {
        self.dsack.is_some()
    }

    /// How many SACK blocks the next ACK would report if the option had
    /// room for all: the held blocks and a pending D-SACK (at most 4).
    #[inline]
    pub fn pending_sack_blocks(&self) -> usize {
        if self.dsack.is_none() && self.held.is_none() {
            return 0;
        }
        (self.ranges().len() + usize::from(self.dsack.is_some())).min(4)
    }

    /// The SACK blocks for the next ACK, at most `max` (RFC 2018 §3: four,
    /// three beside timestamps): a pending D-SACK first, with the block
    /// enclosing it second (RFC 2883 §4.1.2); then the block of the latest
    /// arrival and the others most recently reported (RFC 2018 §4), then
    /// any other held block. The D-SACK is reported once.
    #[inline]
    pub fn sack_blocks(&mut self, max: usize) -> [Option<(u32, u32)>; 4] {
        if self.dsack.is_none() && self.held.is_none() {
            // In order, nothing to report: the usual case, without work
            // (and inlined, without a call).
            return [None; 4];
        }
        self.reported_blocks(max)
    }

    /// `sack_blocks` when there is something to report.
    fn reported_blocks(&mut self, max: usize) -> [Option<(u32, u32)>; 4] {
        let max = max.min(4);
        let mut out: Vec<(SeqNumber, SeqNumber)> = Vec::with_capacity(4);
        // The D-SACK block is not one of the held blocks, even if equal.
        let mut skip = 0;
        if let Some((l, r)) = self.dsack.take() {
            skip = 1;
            out.push((l, r));
            if let Some(b) = self.block_of(l).filter(|b| b.0 <= l && r <= b.1) {
                out.push(b);
            }
        }
        // Marks whose data became in order (or was dropped) are forgotten.
        let marks = self
            .held
            .as_mut()
            .map(|h| std::mem::take(&mut h.sack_recent))
            .unwrap_or_default();
        let mut kept = VecDeque::new();
        for s in marks {
            if let Some(b) = self.block_of(s) {
                kept.push_back(s);
                if out.len() < max && !out.iter().skip(skip).any(|o| *o == b) {
                    out.push(b);
                }
            }
        }
        if let Some(h) = &mut self.held {
            h.sack_recent = kept;
        }
        let nxt = self.nxt;
        for &(s, e) in self.ranges() {
            if out.len() >= max {
                break;
            }
            let b = (nxt + s, nxt + e);
            if !out.iter().skip(skip).any(|o| *o == b) {
                out.push(b);
            }
        }
        let mut blocks = [None; 4];
        for (slot, (l, r)) in blocks.iter_mut().zip(out.into_iter().take(max)) {
            *slot = Some((l.0, r.0));
        }
        blocks
    }

    /// A FIN seen earlier beyond a gap may be in order now.
    pub fn fin_now_due(&mut self) -> bool {
        !self.fin_received() && self.consume_fin_if_due()
    }

    /// A new urgent pointer from the peer (RFC 6093): kept if it lies ahead
    /// of what was read and of the pointer already known.
    pub fn take_urgent(&mut self, up: SeqNumber) {
        let read = self.read_seq();
        let current = self.up.filter(|cur| *cur > read);
        if up > read && up > self.nxt && current.is_none_or(|cur| up > cur) {
            self.up = Some(up);
        }
    }

    /// Bytes of urgent data not yet read, counted from the read position.
    pub fn urgent(&self) -> Option<usize> {
        let read = self.read_seq();
        self.up.filter(|up| *up > read).map(|up| up - read)
    }

    /// Read in-order bytes; the urgent pointer is forgotten once read past,
    /// so it can never wrap around into a bogus count (RFC 6093).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.buf.pop(out);
        if self.up.is_some_and(|up| up <= self.read_seq()) {
            self.up = None;
        }
        n
    }

    /// Ask for an ACK now.
    pub fn ack_now(&mut self) {
        self.ack = AckDue::Now;
    }

    /// In-order text of `len` bytes arrived: RFC 9293 §3.8.6.3 / RFC 1122
    /// §4.2.3.2 — acknowledge at least every second full-sized segment,
    /// others within the delayed-ACK time. Returns whether the delayed-ACK
    /// timer must be started.
    ///
    /// `full` is the size that counts as full (zero: every segment counts);
    /// `most` is the MSS we announced, the largest segment a peer may send.
    /// A segment larger than that holds several (the sender's segmentation
    /// offload left it whole, as a TUN device with GSO hands them over): it
    /// counts as two, so it is acknowledged at once — RFC 5681 §4.2's
    /// "every second full-sized segment" is about the data.
    pub fn ack_in_order(&mut self, len: usize, full: usize, most: usize) -> bool {
        let segments: u8 = if len > most { 2 } else { u8::from(len >= full) };
        self.unacked_segments = self.unacked_segments.saturating_add(segments);
        if self.unacked_segments >= 2 || self.ack == AckDue::Now {
            self.ack = AckDue::Now;
            false
        } else {
            self.ack = AckDue::Delayed;
            true
        }
    }

    /// In-order data arrived at `now`: arm quick ACKs for the first data
    /// and for data after a silence longer than `rto`, as Linux's
    /// `tcp_event_data_recv()` does — as many as half the window holds
    /// segments of `mss`, at least 2, at most 16. Returns whether this
    /// data is to be acknowledged at once (quick ACKs left, and not in an
    /// interactive exchange).
    ///
    /// `last` is when the last data arrived (none before any): kept by
    /// the connection, where it costs no room in the control block.
    pub fn data_arrived(
        &mut self,
        last: &mut OptMillis,
        now: Instant,
        rto: Duration,
        mss: usize,
    ) -> bool {
        let idle = last.since(now).is_none_or(|t| t > rto.as_millis() as u32);
        if idle {
            let n = (self.wnd() / (2 * mss.max(1))).clamp(2, MAX_QUICK_ACKS) as u8;
            if n > self.quick & !PINGPONG {
                self.quick = self.quick & PINGPONG | n;
            }
        }
        *last = OptMillis::at(now);
        self.quick & !PINGPONG > 0 && self.quick & PINGPONG == 0
    }

    /// Our data went out at `now`: within `ato` of the peer's last data
    /// it answers it, and an interactive exchange begins (Linux's
    /// `tcp_event_data_sent()`), in which ACKs wait to ride on answers.
    pub fn data_sent(&mut self, last: OptMillis, now: Instant, ato: Duration) {
        if last.since(now).is_some_and(|t| t < ato.as_millis() as u32) {
            self.quick |= PINGPONG;
        }
    }

    /// A segment smaller than the peer's full ones arrived (Linux's
    /// tcp_measure_rcv_mss marks it ICSK_ACK_PUSHED, a second PUSHED2).
    pub fn small_segment(&mut self) {
        if self.pushed & PUSHED != 0 {
            self.pushed |= PUSHED2;
        }
        self.pushed |= PUSHED;
    }

    /// The peer's FIN: the exchange turns interactive (Linux's tcp_fin
    /// enters pingpong mode) and the ACK, unless due now (`at_once`, or
    /// already), waits to ride on what the application answers — its
    /// FIN, typically. Returns whether the delayed-ACK timer must be
    /// started.
    pub fn delay_ack_of_fin(&mut self, at_once: bool) -> bool {
        self.quick |= PINGPONG;
        if at_once {
            self.ack = AckDue::Now;
        }
        if self.ack == AckDue::Now {
            return false;
        }
        self.ack = AckDue::Delayed;
        true
    }

    /// After the application read: whether the delayed ACK goes now
    /// (Linux's tcp_cleanup_rbuf) — more than one full segment of
    /// `rcv_mss` waits for it (`unacked` bytes since the last ACK), or the
    /// read emptied the buffer and a small segment came (twice: even in an
    /// interactive exchange).
    pub fn ack_after_read(&self, unacked: usize, rcv_mss: usize) -> bool {
        if self.ack != AckDue::Delayed {
            return false;
        }
        let drained = self.buf.is_empty() && self.held.is_none();
        unacked > rcv_mss
            || drained
                && (self.pushed & PUSHED2 != 0
                    || self.pushed & PUSHED != 0 && self.quick & PINGPONG == 0)
    }

    /// The delayed-ACK timer expired.
    pub fn delayed_ack_expired(&mut self) -> bool {
        if self.ack == AckDue::Delayed {
            self.ack = AckDue::Now;
            // No answer came to carry the ACK: the exchange is not
            // interactive (Linux leaves pingpong mode here).
            self.quick &= !PINGPONG;
            true
        } else {
            false
        }
    }

    /// A segment carrying our ACK went out.
    pub fn acked(&mut self) {
        // An ACK of new data spends a quick ACK (`tcp_dec_quickack_mode`).
        if self.ack != AckDue::No && self.quick & !PINGPONG > 0 {
            self.quick -= 1;
        }
        self.ack = AckDue::No;
        self.unacked_segments = 0;
        self.pushed = 0;
    }

    /// The window field to put in a segment; moves the advertised right
    /// edge, never left. Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): with
    /// `HoldRightEdge` the edge moves right only by at least min(buffer/2,
    /// MSS), or to the largest window the field can show; with `FreeSpace`
    /// it offers the free space unless that is below min(buffer/4, MSS).
    pub fn advertise(&mut self, our_mss: usize) -> u16 {
        let free = self.buf.free();
        let offered = self.nxt + free;
        let current = self.adv_right.max(self.nxt);
        let threshold = (self.buf.capacity() / 2).min(our_mss).max(1);
        // A window the field cannot show any larger is not silly: when
        // the free space exceeds it, advertise it in full (a 64 KiB window
        // without scaling stays at 65,535 as each segment is read).
        let max_wnd = 65535usize << self.wscale;
        let right = if self.sws == ReceiverSws::FreeSpace {
            let capacity = self.buf.capacity();
            let usable = if free < capacity / 4 && free < our_mss {
                0
            } else {
                free
            };
            (self.nxt + usable.min(max_wnd)).max(current)
        } else if offered > current && offered - current >= threshold {
            offered
        } else if free >= max_wnd && self.nxt + max_wnd > current {
            self.nxt + max_wnd
        } else {
            current
        };
        let wnd = right - self.nxt;
        let mut field = (wnd >> self.wscale).min(65535);
        // RFC 9293 §3.8.6 (SHLD-14): the field counts 2^shift bytes, and
        // rounding down after data of an odd size would move the edge
        // already offered left by a few bytes; round up then, as Linux's
        // tcp_select_window aligns the window (a byte or seven past the
        // buffer, which takes what fits and acknowledges only that).
        if self.nxt + (field << self.wscale) < current && field < 65535 {
            field = wnd.div_ceil(1 << self.wscale).min(65535);
        }
        let edge = self.nxt + (field << self.wscale);
        if edge > self.adv_right {
            self.adv_right = edge;
        }
        field as u16
    }

    /// The window for a SYN: never scaled (RFC 7323 §2.2).
    pub fn syn_window(&self) -> u16 {
        self.buf.free().min(65535) as u16
    }

    /// Whether reading opened the window enough to tell the peer now.
    /// Never once the peer's FIN is in: it sends nothing more that a window
    /// could admit (as Linux's `tcp_cleanup_rbuf` skips the update after
    /// RCV_SHUTDOWN), so the update would be a segment for nothing — one
    /// of every short connection's, whose server reads the request after
    /// the client's FIN came with it.
    pub fn window_update_due(&self, our_mss: usize) -> bool {
        if self.fin_received() {
            return false;
        }
        // Never more than the window field can show.
        let offered = self.nxt + self.buf.free().min(65535usize << self.wscale);
        let current = self.adv_right.max(self.nxt);
        let threshold = (self.buf.capacity() / 2).min(2 * our_mss).max(1);
        offered > current && offered - current >= threshold
    }

    /// Drop out-of-order state (the connection can no longer use it).
    pub fn clear_out_of_order(&mut self) {
        self.held = None;
    }

    /// The invariants of this side.
    pub fn check(&self) -> Result<(), String> {
        if let Some(f) = self.fin {
            if self.nxt > f + 1 {
                return Err(format!("RCV.NXT {:?} beyond the FIN {f:?}", self.nxt));
            }
        }
        if self.buf.len() > self.buf.capacity() {
            return Err("receive buffer over capacity".into());
        }
        if self.held.as_ref().is_some_and(|h| h.ooo.is_empty()) {
            return Err("an out-of-order box with nothing held".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that starts before RCV.NXT is taken from RCV.NXT on (its old
    /// part was taken already), never a panic: the caller's trim may be
    /// older than RCV.NXT (a simultaneous open's queued SYN text).
    #[test]
    fn text_before_rcv_nxt_is_trimmed_not_a_panic() {
        let mut r = Receiver::new(1024, 0);
        let d = r.accept_text(SeqNumber(0), b"hello", 4);
        assert_eq!(d.in_order, 5);
        let d = r.accept_text(SeqNumber(2), b"llo, world", 4);
        assert_eq!(d.in_order, 7);
        assert_eq!(r.nxt, SeqNumber(12));
        let d = r.accept_text(SeqNumber(1), b"ell", 4);
        assert_eq!(d.in_order, 0);
        assert_eq!(r.nxt, SeqNumber(12));
    }
}
