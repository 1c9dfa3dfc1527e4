//! The retransmission queue: one record per segment in flight, covering
//! SND.UNA .. SND.NXT exactly, in order and without gaps.
//!
//! A record is a span of sequence space — the SYN, data, the FIN, or a mix —
//! with when it was last sent and how often. Loss detection marks records
//! lost (three duplicate ACKs, a partial ACK of NewReno, the retransmission
//! timer marking everything); the sender retransmits lost records that have
//! not been retransmitted since. SND.NXT is never moved back: the next
//! retransmission is found here, not by rewinding a variable other rules
//! read. The pipe estimate of RFC 6675 §4 ("octets sent and not yet known
//! to have left the network") follows from the flags.

use std::collections::VecDeque;

use tcplab_wire::tcp::SeqNumber;

use crate::time::Instant;

/// One segment's worth of sequence space in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// When it was last (re)transmitted.
    pub sent: Instant,
    /// How many times it was transmitted (Karn's rule: RTT samples only
    /// from records sent once).
    pub xmits: u16,
    /// Deemed lost: to be retransmitted.
    pub lost: bool,
    /// Retransmitted since it was last marked lost (counts in the pipe
    /// again, RFC 6675 §4 SetPipe).
    pub retransmitted: bool,
}

impl Sent {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Bytes this record contributes to the pipe.
    fn in_pipe(&self) -> usize {
        let n = self.len();
        usize::from(!self.lost) * n + usize::from(self.retransmitted) * n
    }

    /// Whether it waits for a retransmission.
    pub fn needs_retransmission(&self) -> bool {
        self.lost && !self.retransmitted
    }
}

/// What a cumulative acknowledgment took off the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acked {
    /// Send time of the oldest fully acknowledged record sent only once
    /// (the RTT sample of RFC 6298, Karn's rule applied).
    pub oldest_once: Option<Instant>,
    /// Send time of the newest such record.
    pub newest_once: Option<Instant>,
    /// Whether any acknowledged record had been retransmitted.
    pub any_retransmitted: bool,
}

/// The records, oldest first, and the sums kept with them.
#[derive(Debug, Clone, Default)]
pub struct RtxQueue {
    records: VecDeque<Sent>,
    /// Sum of `in_pipe` over the records.
    pipe: usize,
    /// Records that need a retransmission.
    pending: usize,
}

impl RtxQueue {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn front(&self) -> Option<&Sent> {
        self.records.front()
    }

    /// RFC 6675 §4's pipe: bytes believed to be in the network.
    pub fn pipe(&self) -> usize {
        self.pipe
    }

    /// Whether some record waits for a retransmission.
    pub fn has_lost(&self) -> bool {
        self.pending > 0
    }

    /// A new transmission of `start .. end`, which must begin where the
    /// queue ends.
    pub fn push(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        debug_assert!(self.records.back().is_none_or(|r| r.end == start));
        let r = Sent {
            start,
            end,
            sent: now,
            xmits: 1,
            lost: false,
            retransmitted: false,
        };
        self.pipe += r.in_pipe();
        self.records.push_back(r);
    }

    fn update(&mut self, i: usize, f: impl FnOnce(&mut Sent)) {
        let Some(r) = self.records.get_mut(i) else {
            return;
        };
        self.pipe -= r.in_pipe();
        self.pending -= usize::from(r.needs_retransmission());
        f(r);
        self.pipe += r.in_pipe();
        self.pending += usize::from(r.needs_retransmission());
    }

    /// Take everything below `ack` off the queue; a record `ack` falls in
    /// is trimmed at the front.
    pub fn ack(&mut self, ack: SeqNumber) -> Acked {
        let mut out = Acked::default();
        while let Some(front) = self.records.front() {
            if front.end <= ack {
                let r = *front;
                self.pipe -= r.in_pipe();
                self.pending -= usize::from(r.needs_retransmission());
                self.records.pop_front();
                if r.xmits == 1 {
                    out.oldest_once.get_or_insert(r.sent);
                    out.newest_once = Some(r.sent);
                } else {
                    out.any_retransmitted = true;
                }
            } else {
                if front.start < ack {
                    self.update(0, |r| r.start = ack);
                }
                break;
            }
        }
        out
    }

    /// Mark the first record lost (fast retransmit, NewReno's partial ACK);
    /// true if it was not already waiting for a retransmission.
    pub fn mark_first_lost(&mut self) -> bool {
        match self.records.front() {
            Some(r) if !r.needs_retransmission() => {
                self.update(0, |r| {
                    r.lost = true;
                    r.retransmitted = false;
                });
                true
            }
            _ => false,
        }
    }

    /// The retransmission timer expired: everything outstanding is deemed
    /// lost and nothing retransmitted counts in the pipe any more (RFC 6675
    /// §5.1, RFC 5681 §3.1's go-back).
    pub fn mark_all_lost(&mut self) {
        for r in &mut self.records {
            r.lost = true;
            r.retransmitted = false;
        }
        self.pipe = 0;
        self.pending = self.records.len();
    }

    /// Mark lost every record `f` picks (a smaller path MTU: the records
    /// that no longer fit, RFC 1191 §6.4).
    pub fn mark_lost_if(&mut self, f: impl Fn(&Sent) -> bool) {
        for i in 0..self.records.len() {
            if f(&self.records[i]) && !self.records[i].needs_retransmission() {
                self.update(i, |r| {
                    r.lost = true;
                    r.retransmitted = false;
                });
            }
        }
    }

    /// The oldest record waiting for a retransmission, cut to at most
    /// `max_len` bytes of sequence space; returns its index and span.
    pub fn next_lost(&mut self, max_len: usize) -> Option<(usize, SeqNumber, SeqNumber)> {
        if self.pending == 0 {
            return None;
        }
        let i = self.records.iter().position(Sent::needs_retransmission)?;
        let r = self.records[i];
        if r.len() > max_len.max(1) {
            // The segment size went down (path MTU): split the record.
            let cut = r.start + max_len.max(1);
            self.update(i, |r| r.end = cut);
            let tail = Sent { start: cut, ..r };
            self.pipe += tail.in_pipe();
            self.pending += usize::from(tail.needs_retransmission());
            self.records.insert(i + 1, tail);
        }
        let r = self.records[i];
        Some((i, r.start, r.end))
    }

    /// Record `i` was retransmitted now.
    pub fn retransmitted(&mut self, i: usize, now: Instant) {
        self.update(i, |r| {
            r.sent = now;
            r.xmits = r.xmits.saturating_add(1);
            r.retransmitted = true;
        });
    }

    /// The first record was sent again outside loss recovery (a window
    /// probe repeated): only its time and count change.
    pub fn resent_first(&mut self, now: Instant) {
        self.update(0, |r| {
            r.sent = now;
            r.xmits = r.xmits.saturating_add(1);
        });
    }

    /// Forget everything (the connection closed).
    pub fn clear(&mut self) {
        self.records.clear();
        self.pipe = 0;
        self.pending = 0;
    }

    /// Check the queue's invariants against `una .. nxt`; a description of
    /// the first broken one.
    pub fn check(&self, una: SeqNumber, nxt: SeqNumber) -> Result<(), String> {
        let mut at = una;
        let (mut pipe, mut pending) = (0, 0);
        for r in &self.records {
            if r.start != at || r.end <= r.start {
                return Err(format!(
                    "record {:?}..{:?} does not continue at {:?}",
                    r.start, r.end, at
                ));
            }
            at = r.end;
            pipe += r.in_pipe();
            pending += usize::from(r.needs_retransmission());
        }
        if !self.records.is_empty() && at != nxt {
            return Err(format!("records end at {at:?}, SND.NXT is {nxt:?}"));
        }
        if self.records.is_empty() && una != nxt {
            return Err(format!("nothing recorded for {una:?}..{nxt:?}"));
        }
        if pipe != self.pipe || pending != self.pending {
            return Err(format!(
                "pipe {} / pending {} kept, {pipe} / {pending} counted",
                self.pipe, self.pending
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn queue() -> RtxQueue {
        let mut q = RtxQueue::default();
        let t = Instant::from_millis(1);
        for i in 0..4 {
            q.push(s(100 + i * 10), s(110 + i * 10), t);
        }
        q
    }

    #[test]
    fn acks_trim_and_time() {
        let mut q = queue();
        assert_eq!(q.pipe(), 40);
        let a = q.ack(s(125));
        assert_eq!(a.oldest_once, Some(Instant::from_millis(1)));
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
        q.retransmitted(i, Instant::from_millis(5));
        assert_eq!(q.pipe(), 40);
        assert!(q.next_lost(1460).is_none());
        // A timeout: nothing is in the pipe until it is sent again.
        q.mark_all_lost();
        assert_eq!(q.pipe(), 0);
        // Karn: the ACK of a retransmitted record gives no sample.
        q.retransmitted(0, Instant::from_millis(9));
        let a = q.ack(s(110));
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
        q.retransmitted(i, Instant::from_millis(2));
        let (i, a, b) = q.next_lost(4).unwrap();
        assert_eq!((i, a, b), (1, s(104), s(108)));
        assert_eq!(q.len(), 6);
        q.check(s(100), s(140)).unwrap();
    }
}
