//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use std::time::Duration;

/// Clock granularity G of RFC 6298 §2 (our clock has microseconds; Linux's
/// jiffies are coarser, we use 1 ms).
const GRANULARITY_NS: u64 = 1_000_000;

/// SRTT, RTTVAR and RTO of a connection. Times are kept as nanoseconds
/// in a `u64` (half a `Duration`'s size; floor division on the whole
/// count, which `Duration`'s division by an integer matches to within a
/// nanosecond above a second — the goodput and tunnel snapshots did not
/// move): a control block lives as long as its connection, a million of
/// them in one stack (issue 13).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttEstimator {
    /// `NONE` until the first sample.
    srtt: u64,
    rttvar: u64,
    rto: u64,
    /// The RTO before backoff and slop: the initial value, or SRTT +
    /// 4·RTTVAR clamped.
    base: u64,
    /// The latest sample; `NONE` before the first.
    latest: u64,
    /// Number of consecutive backoffs (RFC 6298 §5.5).
    backoff: u32,
}

/// The RTO's bounds and slop, from the configuration: the same for every
/// connection of a stack, so kept once and passed in (see `tcb::Shared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttBounds {
    min: u64,
    max: u64,
    /// Added to each computed RTO (BSD's `rexmit_slop`).
    slop: u64,
}

impl RttBounds {
    /// RTOs within `min ..= max`; `slop` is added to every RTO computed
    /// from samples and to every backed-off RTO (BSD's `TCPT_RANGESET`);
    /// the initial RTO has none. No RTO is shorter than the clock's
    /// granularity G (RFC 6298 §2.4's bound is 1 s; a configuration may
    /// lower it, never to 0, where a timer that expires at once and
    /// doubles 0 would retransmit without end at one instant).
    pub fn new(min: Duration, max: Duration, slop: Duration) -> RttBounds {
        let (min, max) = (ns(min).max(GRANULARITY_NS), ns(max));
        RttBounds {
            min,
            max: max.max(min),
            slop: ns(slop),
        }
    }
}

/// No value yet (for `srtt` and `latest`).
const NONE: u64 = u64::MAX;

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NONE - 1)
}

fn dur(n: u64) -> Duration {
    Duration::from_nanos(n)
}

fn some(n: u64) -> Option<Duration> {
    (n != NONE).then(|| dur(n))
}

impl RttEstimator {
    /// RFC 6298 §2.1: before a sample, RTO is the initial value.
    pub fn new(initial: Duration, b: &RttBounds) -> RttEstimator {
        let initial = ns(initial).clamp(b.min, b.max);
        RttEstimator {
            srtt: NONE,
            rttvar: 0,
            rto: initial,
            base: initial,
            latest: NONE,
            backoff: 0,
        }
    }

    /// Take a sample R (never from a retransmitted segment: Karn's rule is
    /// the caller's, RFC 6298 §3).
    pub fn sample(&mut self, r: Duration, b: &RttBounds) {
        let r = ns(r);
        self.latest = r;
        if self.srtt == NONE {
            // §2.2: the first measurement.
            self.srtt = r;
            self.rttvar = r / 2;
        } else {
            // §2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT <- 7/8 SRTT + 1/8 R'.
            let delta = self.srtt.abs_diff(r);
            self.rttvar = self.rttvar.saturating_mul(3).saturating_add(delta) / 4;
            self.srtt = self.srtt.saturating_mul(7).saturating_add(r) / 8;
        }
        // RTO <- SRTT + max(G, K*RTTVAR), K = 4; clamped (§2.4, §2.5).
        let spread = GRANULARITY_NS.max(self.rttvar.saturating_mul(4));
        self.base = self.srtt.saturating_add(spread).clamp(b.min, b.max);
        self.rto = self.base.saturating_add(b.slop).clamp(b.min, b.max);
        self.backoff = 0;
    }

    /// The timer expired: back off (RFC 6298 §5.5).
    pub fn back_off(&mut self, b: &RttBounds) {
        self.backoff += 1;
        if b.slop == 0 {
            self.rto = self.rto.saturating_mul(2).min(b.max);
        } else {
            // BSD: each backed-off timeout is base·2ⁿ plus the slop.
            let factor = 1u64 << self.backoff.min(16);
            self.rto = self
                .base
                .saturating_mul(factor)
                .saturating_add(b.slop)
                .min(b.max);
        }
    }

    /// RFC 6298 §5.7: the SYN (or SYN-ACK) was retransmitted and no RTT
    /// was measured, so data transmission begins with an RTO of 3 s (the
    /// backoff of the handshake does not carry over).
    pub fn after_lost_syn(&mut self, b: &RttBounds) {
        if self.srtt == NONE {
            self.rto = ns(Duration::from_secs(3)).clamp(b.min, b.max);
            self.base = self.rto;
        }
        self.backoff = 0;
    }

    /// The current RTO.
    pub fn rto(&self) -> Duration {
        dur(self.rto)
    }

    pub fn srtt(&self) -> Option<Duration> {
        some(self.srtt)
    }

    pub fn rttvar(&self) -> Duration {
        dur(self.rttvar)
    }

    pub fn latest(&self) -> Option<Duration> {
        some(self.latest)
    }

    pub fn backoff(&self) -> u32 {
        self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: RttBounds = RttBounds {
        min: 200_000_000,
        max: 60_000_000_000,
        slop: 0,
    };

    fn est() -> RttEstimator {
        RttEstimator::new(Duration::from_secs(1), &B)
    }

    #[test]
    fn first_and_later_samples() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100), &B);
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // RTO = 100 + 4 × 50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(200), &B);
        // RTTVAR = 3/4·50 + 1/4·100 = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5.
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn three_seconds_after_a_lost_syn() {
        let mut e = est();
        e.back_off(&B);
        e.back_off(&B);
        e.after_lost_syn(&B);
        assert_eq!(e.rto(), Duration::from_secs(3));
        assert_eq!(e.backoff(), 0);
    }

    #[test]
    fn minimum_backoff_and_maximum() {
        let mut e = est();
        e.sample(Duration::from_millis(1), &B);
        assert_eq!(e.rto(), Duration::from_millis(200));
        for _ in 0..20 {
            e.back_off(&B);
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        assert_eq!(e.backoff(), 20);
        e.sample(Duration::from_millis(10), &B);
        assert_eq!(e.backoff(), 0);
    }

    /// A minimum of 0 is one of G: an initial RTO of 0 still backs off.
    #[test]
    fn no_rto_of_zero() {
        let b = RttBounds::new(Duration::ZERO, Duration::from_secs(60), Duration::ZERO);
        let mut e = RttEstimator::new(Duration::ZERO, &b);
        assert_eq!(e.rto(), Duration::from_millis(1));
        e.back_off(&b);
        assert_eq!(e.rto(), Duration::from_millis(2));
    }
}
