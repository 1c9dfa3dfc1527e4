//! What one acknowledgment delivered: the bytes, and the send times,
//! ends and echoes of the records it covered that RTT measurement, RACK
//! (RFC 8985 §6.2), the rate sampler and congestion control read.

use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::Sent;
use crate::tcp::tcb::ts_before;
use crate::time::Instant;

/// What one acknowledgment delivered, cumulatively or selectively: what
/// RTT measurement, RACK, the rate sampler and congestion control need.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery {
    /// Bytes newly delivered (not SACKed before).
    pub bytes: usize,
    /// Send time of the oldest and newest fully acknowledged records sent
    /// only once (the RTT sample of RFC 6298 with Karn's rule).
    pub oldest_once: Option<Instant>,
    pub newest_once: Option<Instant>,
    /// Whether any newly delivered record had been retransmitted.
    pub any_retransmitted: bool,
    /// The most recently sent newly delivered record (the rate sample's).
    pub newest: Option<Sent>,
    /// The most recently sent one whose delivery time is trustworthy (RFC
    /// 8985 §6.2 step 2: a retransmission acknowledged faster than the
    /// minimum RTT, or whose ACK echoes an older TSval, is not).
    pub rack: Option<Sent>,
    /// The oldest TSval carried by the first retransmission of a record
    /// this ACK acknowledged cumulatively (RFC 3522's test compares the
    /// echo with it).
    pub oldest_rtx_tsval: Option<u32>,
    /// The lowest end of a newly delivered record sent once, and the
    /// highest end of any (RFC 8985 §6.2 step 3: reordering detection).
    pub lowest_once_end: Option<SeqNumber>,
    /// Where the lowest delivered record sent once starts.
    pub lowest_once_start: Option<SeqNumber>,
    pub highest_end: Option<SeqNumber>,
    /// What decides whether a retransmission's delivery is trusted.
    pub now: Instant,
    pub tsecr: Option<u32>,
    pub min_rtt: Duration,
}

impl Delivery {
    pub fn new(now: Instant, tsecr: Option<u32>, min_rtt: Duration) -> Delivery {
        Delivery {
            now,
            tsecr,
            min_rtt,
            ..Delivery::default()
        }
    }

    /// `bytes` of `r` were delivered; `whole`: all of it; `cumulative`:
    /// by the ACK number, not a SACK block.
    pub(super) fn deliver(&mut self, r: &Sent, bytes: usize, whole: bool, cumulative: bool) {
        self.bytes += bytes;
        // Only a cumulative ACK's echo says which transmission arrived: a
        // SACKed segment above a hole does not update TS.Recent (RFC 7323
        // §4.3), so the SACK echoes an older TSval whichever copy came.
        if whole && cumulative && r.xmits > 1 && !r.sacked {
            let first = r.first_rtx_tsval;
            self.oldest_rtx_tsval = Some(match self.oldest_rtx_tsval {
                Some(t) if ts_before(t, first) => t,
                _ => first,
            });
        }
        if whole {
            if r.xmits == 1 {
                self.oldest_once.get_or_insert(r.sent);
                self.newest_once = Some(self.newest_once.map_or(r.sent, |t| t.max(r.sent)));
            } else {
                self.any_retransmitted = true;
            }
        } else if r.xmits > 1 {
            self.any_retransmitted = true;
        }
        if self.newest.is_none_or(|n| r.sent_after(&n)) {
            self.newest = Some(*r);
        }
        // RFC 8985 §6.2 step 2: a retransmission is no RACK segment if
        // the original may be what arrived — the echo is older than the
        // retransmission's TSval, or the retransmission's RTT would be
        // below the minimum. The echo tells only for a cumulative ACK: a
        // SACK echoes the TSval of the last segment in order (above), so
        // a SACKed retransmission is judged by the RTT alone, as Linux's
        // tcp_rack_advance judges it (else the SACK of a loss probe that
        // repaired a tail could never show the hole below it lost).
        let suspect = r.xmits > 1
            && (cumulative && self.tsecr.is_some_and(|ecr| ts_before(ecr, r.tsval))
                || self.now.saturating_since(r.sent) < self.min_rtt);
        if !suspect && self.rack.is_none_or(|n| r.sent_after(&n)) {
            self.rack = Some(*r);
        }
        if r.xmits == 1 {
            self.lowest_once_end = Some(self.lowest_once_end.map_or(r.end, |e| e.min(r.end)));
            self.lowest_once_start =
                Some(self.lowest_once_start.map_or(r.start, |s| s.min(r.start)));
        }
        self.highest_end = Some(self.highest_end.map_or(r.end, |e| e.max(r.end)));
    }

    /// `bytes` delivered cumulatively, whole records from `first` to
    /// `last`, each sent once, none SACKed, in send order: the same as
    /// `deliver` on each in turn (the earliest send time and lowest end
    /// are the first's, the latest and highest the last's, and no record
    /// sent once is suspect).
    pub(super) fn deliver_run(&mut self, first: &Sent, last: &Sent, bytes: usize) {
        debug_assert!(first.xmits == 1 && last.xmits == 1);
        debug_assert!(first == last || last.sent_after(first));
        self.bytes += bytes;
        self.oldest_once.get_or_insert(first.sent);
        self.newest_once = Some(self.newest_once.map_or(last.sent, |t| t.max(last.sent)));
        if self.newest.is_none_or(|n| last.sent_after(&n)) {
            self.newest = Some(*last);
        }
        if self.rack.is_none_or(|n| last.sent_after(&n)) {
            self.rack = Some(*last);
        }
        self.lowest_once_end = Some(self.lowest_once_end.map_or(first.end, |e| e.min(first.end)));
        self.lowest_once_start = Some(
            self.lowest_once_start
                .map_or(first.start, |s| s.min(first.start)),
        );
        self.highest_end = Some(self.highest_end.map_or(last.end, |e| e.max(last.end)));
    }
}
