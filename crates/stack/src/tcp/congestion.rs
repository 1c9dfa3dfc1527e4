//! Congestion control: the `Controller` trait and NewReno.
//!
//! The connection owns loss detection and recovery bookkeeping (duplicate
//! ACK counting, the recovery point of RFC 6582, what to retransmit); the
//! controller owns the window arithmetic and answers "how much may be in
//! flight" (and, for a pacing algorithm, "how fast"). Every event carries
//! what modern algorithms need — the time, the RTT sample of the ACK, the
//! bytes in flight, whether the sender was limited by the window — so CUBIC
//! (RFC 9438) or BBR can implement the same handful of events.

use core::fmt;
use std::time::Duration;

use crate::time::Instant;

/// What an acknowledgment of new data tells the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEvent {
    pub now: Instant,
    /// Sequence space newly acknowledged.
    pub acked: usize,
    /// RTT measured from this ACK, if it gave a sample (Karn's rule).
    pub rtt: Option<Duration>,
    /// The smoothed RTT after the sample.
    pub srtt: Option<Duration>,
    /// Bytes in flight before the ACK arrived.
    pub prior_in_flight: usize,
    /// Bytes in flight after it.
    pub in_flight: usize,
    /// Whether the window was what limited the sender (RFC 7661 §4.3,
    /// Linux's `tcp_is_cwnd_limited`); if not, it should not grow.
    pub cwnd_limited: bool,
    pub smss: usize,
}

/// Why the window is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    /// Loss detected by duplicate ACKs: fast retransmit and recovery.
    FastRetransmit,
    /// The retransmission timer expired.
    Timeout,
}

/// Window arithmetic of a congestion control algorithm.
pub trait Controller: fmt::Debug {
    /// The name `ss -i` prints ("reno", "cubic", ...).
    fn name(&self) -> &'static str;
    /// Bytes that may be in flight.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// Bytes per second to pace at, for algorithms that pace.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }
    /// New data was cumulatively acknowledged outside loss recovery.
    fn on_ack(&mut self, ack: &AckEvent);
    /// Loss was detected (or the timer expired) with `in_flight` bytes out.
    fn on_congestion(&mut self, now: Instant, kind: Congestion, in_flight: usize, smss: usize);
    /// Another duplicate ACK during fast recovery.
    fn on_dup_ack_in_recovery(&mut self, now: Instant, smss: usize);
    /// A partial ACK during fast recovery.
    fn on_partial_ack(&mut self, ack: &AckEvent);
    /// Recovery ended with a full ACK; `in_flight` bytes are still out.
    fn on_recovery_end(&mut self, now: Instant, in_flight: usize, smss: usize);
}

/// The initial window of RFC 6928: min(10·MSS, max(2·MSS, 14600)).
pub fn initial_window(smss: usize) -> usize {
    (10 * smss).min((2 * smss).max(14_600))
}

/// RFC 5681 slow start and congestion avoidance with RFC 6582 NewReno
/// fast recovery.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged towards the next cwnd increase in congestion
    /// avoidance (RFC 5681 §3.1, the byte-counting variant).
    bytes_acked: usize,
}

impl NewReno {
    /// A controller whose first window is `initial` bytes.
    pub fn new(initial: usize) -> NewReno {
        NewReno {
            cwnd: initial,
            // RFC 5681 §3.1: "SHOULD be set arbitrarily high".
            ssthresh: usize::MAX,
            bytes_acked: 0,
        }
    }
}

impl Controller for NewReno {
    fn name(&self) -> &'static str {
        "reno"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        if !ack.cwnd_limited {
            return;
        }
        let smss = ack.smss;
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 eq. (2): cwnd += min(N, SMSS) per ACK.
            self.cwnd += ack.acked.min(smss);
        } else {
            // Congestion avoidance: about one SMSS per RTT (RFC 5681 §3.1,
            // appropriate byte counting per RFC 3465).
            self.bytes_acked += ack.acked;
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd += smss;
            }
        }
    }

    fn on_congestion(&mut self, _now: Instant, kind: Congestion, in_flight: usize, smss: usize) {
        // RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2·SMSS).
        self.ssthresh = (in_flight / 2).max(2 * smss);
        self.bytes_acked = 0;
        self.cwnd = match kind {
            // §3.2 step 3, RFC 6582 §3.2 step 2: ssthresh + 3·SMSS.
            Congestion::FastRetransmit => self.ssthresh + 3 * smss,
            // §3.1: the loss window is one segment.
            Congestion::Timeout => smss,
        };
    }

    fn on_dup_ack_in_recovery(&mut self, _now: Instant, smss: usize) {
        // RFC 6582 §3.2 step 3: inflate by one SMSS.
        self.cwnd += smss;
    }

    fn on_partial_ack(&mut self, ack: &AckEvent) {
        // RFC 6582 §3.2 step 5: deflate by the amount acknowledged, add back
        // one SMSS if that was at least one SMSS.
        self.cwnd = self.cwnd.saturating_sub(ack.acked);
        if ack.acked >= ack.smss {
            self.cwnd += ack.smss;
        }
        self.cwnd = self.cwnd.max(ack.smss);
    }

    fn on_recovery_end(&mut self, _now: Instant, in_flight: usize, smss: usize) {
        // RFC 6582 §3.2 step 4, option (1): min(ssthresh, max(FlightSize,
        // SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(in_flight.max(smss) + smss);
    }
}

/// A controller for `algorithm` whose first window is `initial` bytes.
pub fn new_controller(
    algorithm: super::config::CongestionAlgorithm,
    initial: usize,
) -> Box<dyn Controller> {
    match algorithm {
        super::config::CongestionAlgorithm::NewReno => Box::new(NewReno::new(initial)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(acked: usize) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            acked,
            rtt: None,
            srtt: None,
            prior_in_flight: 0,
            in_flight: 0,
            cwnd_limited: true,
            smss: 1000,
        }
    }

    #[test]
    fn rfc6928_initial_window() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(536), 5_360);
        assert_eq!(initial_window(8960), 17_920);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut c = NewReno::new(initial_window(1000));
        assert_eq!(c.cwnd(), 10_000);
        c.on_ack(&ack(1000));
        assert_eq!(c.cwnd(), 11_000);
        // Counting is per ACK, capped at SMSS.
        c.on_ack(&ack(5000));
        assert_eq!(c.cwnd(), 12_000);
        // Not limited by the window: no growth (RFC 7661 §4.3).
        c.on_ack(&AckEvent {
            cwnd_limited: false,
            ..ack(1000)
        });
        assert_eq!(c.cwnd(), 12_000);
        c.on_congestion(Instant::ZERO, Congestion::Timeout, 12_000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 6000));
        for _ in 0..5 {
            c.on_ack(&ack(1000));
        }
        assert_eq!(c.cwnd(), 6000);
        // Now in congestion avoidance: one SMSS per cwnd of bytes acked.
        for _ in 0..6 {
            c.on_ack(&ack(1000));
        }
        assert_eq!(c.cwnd(), 7000);
    }

    #[test]
    fn fast_recovery() {
        let mut c = NewReno::new(initial_window(1000));
        c.on_congestion(Instant::ZERO, Congestion::FastRetransmit, 20_000, 1000);
        assert_eq!((c.ssthresh(), c.cwnd()), (10_000, 13_000));
        c.on_dup_ack_in_recovery(Instant::ZERO, 1000);
        assert_eq!(c.cwnd(), 14_000);
        c.on_partial_ack(&ack(3000));
        assert_eq!(c.cwnd(), 12_000);
        c.on_recovery_end(Instant::ZERO, 4000, 1000);
        assert_eq!(c.cwnd(), 5000);
    }
}
