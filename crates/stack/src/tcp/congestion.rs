//! Congestion control: the `Controller` trait and NewReno.
//!
//! The connection owns loss detection and recovery bookkeeping (duplicate
//! ACK counting, the recovery point of RFC 6582, what to retransmit); the
//! controller owns the window arithmetic and answers "how much may be in
//! flight". That split lets CUBIC or BBR replace NewReno by implementing the
//! same handful of events.

use core::fmt;

/// Window arithmetic of a congestion control algorithm.
pub trait Controller: fmt::Debug {
    /// The name `ss -i` prints ("reno", "cubic", ...).
    fn name(&self) -> &'static str;
    /// Bytes that may be in flight.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// `acked` new bytes were cumulatively acknowledged outside recovery.
    fn on_ack(&mut self, acked: usize, smss: usize);
    /// Three duplicate ACKs: entering fast recovery with `flight` bytes out.
    fn on_fast_retransmit(&mut self, flight: usize, smss: usize);
    /// Another duplicate ACK during fast recovery.
    fn on_dup_ack_in_recovery(&mut self, smss: usize);
    /// A partial ACK during fast recovery acknowledged `acked` bytes.
    fn on_partial_ack(&mut self, acked: usize, smss: usize);
    /// Recovery ended with a full ACK; `flight` bytes are still out.
    fn on_recovery_end(&mut self, flight: usize, smss: usize);
    /// The retransmission timer expired with `flight` bytes out.
    fn on_timeout(&mut self, flight: usize, smss: usize);
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
    pub fn new(smss: usize) -> NewReno {
        NewReno {
            cwnd: initial_window(smss),
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

    fn on_ack(&mut self, acked: usize, smss: usize) {
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 eq. (2): cwnd += min(N, SMSS) per ACK.
            self.cwnd += acked.min(smss);
        } else {
            // Congestion avoidance: about one SMSS per RTT (RFC 5681 §3.1,
            // appropriate byte counting per RFC 3465).
            self.bytes_acked += acked;
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd += smss;
            }
        }
    }

    fn on_fast_retransmit(&mut self, flight: usize, smss: usize) {
        // RFC 5681 eq. (4) and §3.2 step 3; RFC 6582 §3.2 step 2.
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = self.ssthresh + 3 * smss;
        self.bytes_acked = 0;
    }

    fn on_dup_ack_in_recovery(&mut self, smss: usize) {
        // RFC 6582 §3.2 step 3: inflate by one SMSS.
        self.cwnd += smss;
    }

    fn on_partial_ack(&mut self, acked: usize, smss: usize) {
        // RFC 6582 §3.2 step 5: deflate by the amount acknowledged, add back
        // one SMSS if that was at least one SMSS.
        self.cwnd = self.cwnd.saturating_sub(acked);
        if acked >= smss {
            self.cwnd += smss;
        }
        self.cwnd = self.cwnd.max(smss);
    }

    fn on_recovery_end(&mut self, flight: usize, smss: usize) {
        // RFC 6582 §3.2 step 4, option (1): min(ssthresh, max(FlightSize,
        // SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight.max(smss) + smss);
    }

    fn on_timeout(&mut self, flight: usize, smss: usize) {
        // RFC 5681 eq. (4) and §3.1: the loss window is one segment.
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = smss;
        self.bytes_acked = 0;
    }
}

/// A controller for `algorithm`.
pub fn new_controller(
    algorithm: super::config::CongestionAlgorithm,
    smss: usize,
) -> Box<dyn Controller> {
    match algorithm {
        super::config::CongestionAlgorithm::NewReno => Box::new(NewReno::new(smss)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6928_initial_window() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(536), 5_360);
        assert_eq!(initial_window(8960), 17_920);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut c = NewReno::new(1000);
        assert_eq!(c.cwnd(), 10_000);
        c.on_ack(1000, 1000);
        assert_eq!(c.cwnd(), 11_000);
        // Counting is per ACK, capped at SMSS.
        c.on_ack(5000, 1000);
        assert_eq!(c.cwnd(), 12_000);
        c.on_timeout(12_000, 1000);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 6000));
        for _ in 0..5 {
            c.on_ack(1000, 1000);
        }
        assert_eq!(c.cwnd(), 6000);
        // Now in congestion avoidance: one SMSS per cwnd of bytes acked.
        for _ in 0..6 {
            c.on_ack(1000, 1000);
        }
        assert_eq!(c.cwnd(), 7000);
    }

    #[test]
    fn fast_recovery() {
        let mut c = NewReno::new(1000);
        c.on_fast_retransmit(20_000, 1000);
        assert_eq!((c.ssthresh(), c.cwnd()), (10_000, 13_000));
        c.on_dup_ack_in_recovery(1000);
        assert_eq!(c.cwnd(), 14_000);
        c.on_partial_ack(3000, 1000);
        assert_eq!(c.cwnd(), 12_000);
        c.on_recovery_end(4000, 1000);
        assert_eq!(c.cwnd(), 5000);
    }
}
