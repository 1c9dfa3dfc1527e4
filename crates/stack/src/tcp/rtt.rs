//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use std::time::Duration;

/// Clock granularity G of RFC 6298 §2 (our clock has microseconds; Linux's
/// jiffies are coarser, we use 1 ms).
const GRANULARITY: Duration = Duration::from_millis(1);

/// SRTT, RTTVAR and RTO of a connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    /// The RTO before backoff and slop: the initial value, or SRTT +
    /// 4·RTTVAR clamped.
    base: Duration,
    min: Duration,
    max: Duration,
    /// Added to each computed RTO (BSD's `rexmit_slop`).
    slop: Duration,
    /// Number of consecutive backoffs (RFC 6298 §5.5).
    backoff: u32,
    latest: Option<Duration>,
}

impl RttEstimator {
    /// RFC 6298 §2.1: before a sample, RTO is the initial value.
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            base: initial.clamp(min, max),
            min,
            max,
            slop: Duration::ZERO,
            backoff: 0,
            latest: None,
        }
    }

    /// Add `slop` to every RTO computed from samples and to every
    /// backed-off RTO (BSD's `TCPT_RANGESET`); the initial RTO has none.
    pub fn with_slop(mut self, slop: Duration) -> RttEstimator {
        self.slop = slop;
        self
    }

    /// Take a sample R (never from a retransmitted segment: Karn's rule is
    /// the caller's, RFC 6298 §3).
    pub fn sample(&mut self, r: Duration) {
        self.latest = Some(r);
        match self.srtt {
            // §2.2: the first measurement.
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            // §2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT <- 7/8 SRTT + 1/8 R'.
            Some(srtt) => {
                let delta = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        // RTO <- SRTT + max(G, K*RTTVAR), K = 4; clamped (§2.4, §2.5).
        let srtt = self.srtt.unwrap_or(r);
        self.base = (srtt + GRANULARITY.max(self.rttvar * 4)).clamp(self.min, self.max);
        self.rto = (self.base + self.slop).clamp(self.min, self.max);
        self.backoff = 0;
    }

    /// The timer expired: back off (RFC 6298 §5.5).
    pub fn back_off(&mut self) {
        self.backoff += 1;
        if self.slop.is_zero() {
            self.rto = (self.rto * 2).min(self.max);
        } else {
            // BSD: each backed-off timeout is base·2ⁿ plus the slop.
            let factor = 1u32 << self.backoff.min(16);
            self.rto = (self.base.saturating_mul(factor) + self.slop).min(self.max);
        }
    }

    /// RFC 6298 §5.7: the SYN (or SYN-ACK) was retransmitted and no RTT
    /// was measured, so data transmission begins with an RTO of 3 s (the
    /// backoff of the handshake does not carry over).
    pub fn after_lost_syn(&mut self) {
        if self.srtt.is_none() {
            self.rto = Duration::from_secs(3).clamp(self.min, self.max);
            self.base = self.rto;
        }
        self.backoff = 0;
    }

    /// The current RTO.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    pub fn latest(&self) -> Option<Duration> {
        self.latest
    }

    pub fn backoff(&self) -> u32 {
        self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn first_and_later_samples() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // RTO = 100 + 4 × 50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(200));
        // RTTVAR = 3/4·50 + 1/4·100 = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5.
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn three_seconds_after_a_lost_syn() {
        let mut e = est();
        e.back_off();
        e.back_off();
        e.after_lost_syn();
        assert_eq!(e.rto(), Duration::from_secs(3));
        assert_eq!(e.backoff(), 0);
    }

    #[test]
    fn minimum_backoff_and_maximum() {
        let mut e = est();
        e.sample(Duration::from_millis(1));
        assert_eq!(e.rto(), Duration::from_millis(200));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        assert_eq!(e.backoff(), 20);
        e.sample(Duration::from_millis(10));
        assert_eq!(e.backoff(), 0);
    }
}
