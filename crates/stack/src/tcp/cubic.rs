//! CUBIC (RFC 9438) with HyStart++ (RFC 9406) for the first slow start:
//! Linux's default, and tcplab's.
//!
//! The window follows W(t) = C·(t − K)³ + W_max: concave up to where the
//! last loss happened, then convex, probing beyond it; a Reno estimate
//! keeps it at least as fast as Reno where Reno would be faster (short
//! RTTs, small windows). Windows are kept in bytes (the RFC's segments ×
//! SMSS) and time in seconds as `f64`: only +, −, ×, ÷ are used, which
//! IEEE 754 makes exact and identical everywhere, and the cube root is
//! computed on integers, so runs are reproducible bit for bit.

use std::time::Duration;

use super::compact::{OptDuration, OptInstant};
use super::congestion::{AckEvent, Congestion, Controller};
use crate::time::Instant;

/// C, in segments per second cubed (RFC 9438 §5.1).
const C: f64 = 0.4;
/// β_cubic, the multiplicative decrease (§4.6).
const BETA: f64 = 0.7;
/// α_cubic = 3(1 − β)/(1 + β) (§4.3).
const ALPHA_AIMD: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// HyStart++'s constants (RFC 9406 §4.3).
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u8 = 8;
const CSS_GROWTH_DIVISOR: usize = 4;
const CSS_ROUNDS: u8 = 5;
/// L: growth per ACK is capped at L·SMSS for a sender that does not pace.
const L: usize = 8;

/// The integer cube root (the largest r with r³ ≤ n).
fn icbrt(n: u128) -> u128 {
    let (mut lo, mut hi) = (0u128, 1u128 << 43);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if mid.checked_pow(3).is_some_and(|m| m <= n) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// K of RFC 9438 eq. (2), in seconds: the time the curve takes from
/// `cwnd` back to `w_max` (bytes).
fn k_seconds(w_max: f64, cwnd: f64, smss: f64) -> f64 {
    if cwnd >= w_max {
        return 0.0;
    }
    // (W_max − cwnd)/C in seconds³, as microseconds³.
    let s3 = (w_max - cwnd) / (C * smss);
    let us3 = (s3 * 1e18).min(u128::MAX as f64) as u128;
    icbrt(us3) as f64 / 1e6
}

/// HyStart++'s measurements (RFC 9406 §4.2): made at the first ACK of
/// data and dropped when the first slow start ends, so a connection that
/// has not sent yet, or is past slow start, carries 8 bytes for them
/// (issue 13's memory per idle endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct HyStart {
    last_round_min: OptDuration,
    round_min: OptDuration,
    samples: u8,
    /// Set in Conservative Slow Start: the RTT that started it.
    css_baseline: OptDuration,
    css_rounds: u8,
}

/// What an undo restores (RFC 9438 §4.9).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Saved {
    cwnd: f64,
    ssthresh: usize,
    cwnd_prior: f64,
    w_max: f64,
    k: f64,
    epoch: OptInstant,
    w_est: f64,
}

/// CUBIC.
#[derive(Debug, Clone)]
pub struct Cubic {
    cwnd: f64,
    ssthresh: usize,
    /// The window before the last reduction, and W_max (after fast
    /// convergence), in bytes; K in seconds.
    cwnd_prior: f64,
    w_max: f64,
    k: f64,
    /// The start of the current congestion-avoidance epoch.
    epoch: OptInstant,
    /// Reno's window estimate (§4.3) and its slope.
    w_est: f64,
    /// α is 1 (once W_est reached cwnd_prior), not α_cubic (§4.3).
    alpha_one: bool,
    /// §4.7 (SHOULD): give up bandwidth faster to a newcomer.
    fast_convergence: bool,
    last_sent: OptInstant,
    /// Boxed: it exists only after a reduction (issue 13's memory).
    saved: Option<Box<Saved>>,
    /// HyStart++ runs in the first slow start only.
    hystart_on: bool,
    hystart: Option<Box<HyStart>>,
    /// HyStart++'s round ends when data sent after this much was
    /// delivered.
    round_end: u64,
    /// Bytes delivered so far (for HyStart++'s rounds).
    delivered: u64,
}

impl Cubic {
    pub fn new(initial: usize) -> Cubic {
        Cubic {
            cwnd: initial as f64,
            ssthresh: usize::MAX,
            cwnd_prior: initial as f64,
            w_max: 0.0,
            k: 0.0,
            epoch: OptInstant::NONE,
            w_est: initial as f64,
            alpha_one: false,
            fast_convergence: true,
            last_sent: OptInstant::NONE,
            saved: None,
            hystart_on: true,
            hystart: None,
            round_end: 0,
            delivered: 0,
        }
    }

    /// W_cubic(t) of eq. (1), in bytes, `t` seconds into the epoch.
    fn w_cubic(&self, t: f64, smss: f64) -> f64 {
        let d = t - self.k;
        C * smss * d * d * d + self.w_max
    }

    /// RFC 9406 §4.2, once per ACK in slow start: rounds, the RTT of each,
    /// and the move to Conservative Slow Start and on to avoidance.
    fn hystart(&mut self, ack: &AckEvent) {
        let h = self.hystart.get_or_insert_with(Box::default);
        let round_start = ack
            .rate
            .is_some_and(|r| r.prior_delivered >= self.round_end);
        if round_start {
            self.round_end = self.delivered;
            h.last_round_min = h.round_min;
            h.round_min = OptDuration::NONE;
            h.samples = 0;
            if h.css_baseline.is_some() {
                h.css_rounds = h.css_rounds.saturating_add(1);
                if h.css_rounds >= CSS_ROUNDS {
                    // §4.2: enough rounds of CSS: congestion avoidance.
                    self.end_hystart();
                    self.ssthresh = self.cwnd as usize;
                    self.start_avoidance_at_cwnd();
                    return;
                }
            }
        }
        if let Some(rtt) = ack.rtt {
            h.round_min = OptDuration::some(h.round_min.get().map_or(rtt, |m| m.min(rtt)));
            h.samples = h.samples.saturating_add(1);
        }
        if h.samples < N_RTT_SAMPLE {
            return;
        }
        let (Some(cur), Some(last)) = (h.round_min.get(), h.last_round_min.get()) else {
            return;
        };
        match h.css_baseline.get() {
            None => {
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if cur >= last + thresh {
                    h.css_baseline = OptDuration::some(cur);
                    h.css_rounds = 0;
                }
            }
            // The RTT fell again: the exit was spurious, back to slow start.
            Some(base) if cur < base => h.css_baseline = OptDuration::NONE,
            Some(_) => {}
        }
    }

    /// Which of its optional boxes CUBIC holds.
    #[cfg(test)]
    pub fn boxes(&self) -> Vec<&'static str> {
        let mut held = Vec::new();
        if self.hystart.is_some() {
            held.push("HyStart++");
        }
        if self.saved.is_some() {
            held.push("CUBIC undo");
        }
        held
    }

    /// HyStart++ is over for this connection (RFC 9406 §4.2: it runs in
    /// the first slow start only).
    fn end_hystart(&mut self) {
        self.hystart_on = false;
        self.hystart = None;
    }

    /// In Conservative Slow Start.
    fn in_css(&self) -> bool {
        self.hystart
            .as_ref()
            .is_some_and(|h| h.css_baseline.is_some())
    }

    /// Slow start ended without a loss (HyStart++): W_max is where we
    /// are, K = 0 (RFC 9438 §4.10).
    fn start_avoidance_at_cwnd(&mut self) {
        self.cwnd_prior = self.cwnd;
        self.w_max = self.cwnd;
        self.k = 0.0;
        self.epoch = OptInstant::NONE;
    }

    /// The additive increase's α (§4.3).
    fn alpha(&self) -> f64 {
        if self.alpha_one {
            1.0
        } else {
            ALPHA_AIMD
        }
    }

    fn save(&mut self) {
        self.saved = Some(Box::new(Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            cwnd_prior: self.cwnd_prior,
            w_max: self.w_max,
            k: self.k,
            epoch: self.epoch,
            w_est: self.w_est,
        }));
    }
}

impl Controller for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_sent(&mut self, now: Instant, _bytes: usize, in_flight: usize) {
        // §5.8: time the application kept the sender idle is not time on
        // the curve: the epoch moves forward by it (as Linux does).
        if in_flight == 0 {
            if let (Some(epoch), Some(last)) = (self.epoch.get(), self.last_sent.get()) {
                let idle = now.saturating_since(last);
                self.epoch = OptInstant::some((epoch + idle).min(now));
            }
        }
        self.last_sent = OptInstant::some(now);
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        self.delivered += ack.delivered as u64;
        if ack.in_recovery || ack.acked == 0 && ack.newly_reported == 0 {
            return;
        }
        let smss = ack.smss as f64;
        let in_slow_start = (self.cwnd as usize) < self.ssthresh;
        // HyStart++ rounds and RTT samples from every ACK that advances
        // SND.UNA, whether or not it reports anything new.
        if ack.acked > 0 && in_slow_start && self.hystart_on && self.ssthresh == usize::MAX {
            self.hystart(ack);
        }
        // §5.8 / RFC 7661: no growth when the window did not limit us.
        if !ack.cwnd_limited || ack.newly_reported == 0 {
            return;
        }
        if (self.cwnd as usize) < self.ssthresh {
            let n = ack.newly_reported.min(L * ack.smss);
            let n = if self.in_css() {
                n / CSS_GROWTH_DIVISOR
            } else {
                n
            };
            self.cwnd += n as f64;
            return;
        }
        let now = ack.now;
        let epoch = match self.epoch.get() {
            Some(e) => e,
            None => {
                // §4.2: a new epoch: K from where the window stands.
                self.epoch = OptInstant::some(now);
                if self.cwnd < self.w_max {
                    self.k = k_seconds(self.w_max, self.cwnd, smss);
                } else {
                    self.k = 0.0;
                    self.w_max = self.cwnd;
                }
                self.w_est = self.cwnd;
                now
            }
        };
        let t = now.saturating_since(epoch).as_secs_f64();
        let rtt = ack.srtt.or(ack.rtt).unwrap_or_default().as_secs_f64();
        // §4.2: the target one RTT ahead, never below cwnd nor above 1.5×.
        let target = self
            .w_cubic(t + rtt, smss)
            .clamp(self.cwnd, 1.5 * self.cwnd);
        // §4.3: Reno's estimate, eq. (4), in bytes.
        let acked = ack.newly_reported as f64;
        self.w_est += self.alpha() * acked * smss / self.cwnd;
        if self.w_est >= self.cwnd_prior {
            self.alpha_one = true;
        }
        if self.w_cubic(t, smss) < self.w_est {
            // The Reno-friendly region.
            self.cwnd = self.cwnd.max(self.w_est);
        } else {
            // Concave and convex regions alike (§4.4, §4.5).
            self.cwnd += (target - self.cwnd) * acked / self.cwnd;
        }
    }

    fn on_congestion(
        &mut self,
        _now: Instant,
        kind: Congestion,
        in_flight: usize,
        _pipe: usize,
        smss: usize,
    ) {
        let smss_f = smss as f64;
        if kind == Congestion::TimeoutInRecovery {
            // The reduction of this episode stands; only the window
            // falls, and avoidance resumes from ssthresh with K = 0.
            self.cwnd = smss_f;
            self.epoch = OptInstant::NONE;
            self.w_max = 0.0;
            self.k = 0.0;
            self.w_est = self.cwnd;
            return;
        }
        self.save();
        self.end_hystart();
        self.epoch = OptInstant::NONE;
        // §4.7 fast convergence: a second loss below the last W_max
        // releases bandwidth to newer flows.
        self.w_max = if self.fast_convergence && self.cwnd < self.w_max {
            self.cwnd * (1.0 + BETA) / 2.0
        } else {
            self.cwnd
        };
        self.cwnd_prior = self.cwnd;
        // §4.6: ssthresh = FlightSize · β, at least two segments.
        self.ssthresh = ((in_flight as f64 * BETA) as usize).max(2 * smss);
        self.alpha_one = false;
        match kind {
            Congestion::FastRetransmit | Congestion::ProbeRepair => {
                self.cwnd = self.ssthresh as f64;
            }
            Congestion::Timeout | Congestion::TimeoutInRecovery => {
                // §4.8: one segment; the next epoch starts with K = 0 at
                // the window avoidance resumes from.
                self.cwnd = smss_f;
                self.w_max = 0.0;
                self.k = 0.0;
            }
        }
        self.w_est = self.cwnd;
    }

    fn adopt(&mut self, delivered: u64, ssthresh: usize) {
        self.delivered = delivered;
        self.round_end = delivered;
        self.ssthresh = ssthresh;
        // Out of slow start already: no HyStart++ round to measure.
        if ssthresh != usize::MAX {
            self.end_hystart();
        }
    }

    fn on_recovery_end(&mut self, _now: Instant, _in_flight: usize, _smss: usize) {
        // RFC 6937: PRR ends with cwnd = ssthresh — if this controller set
        // one (not after a switch from BBR in mid-recovery; as NewReno's).
        if self.ssthresh != usize::MAX {
            self.cwnd = self.ssthresh as f64;
        }
    }

    fn on_idle_restart(&mut self, cwnd: usize, ssthresh: usize) {
        // Slow start again up to the raised threshold; W_max is kept, as
        // Linux's CUBIC keeps it, and the next avoidance phase starts a
        // new epoch from where the window then stands — not from the
        // Reno estimate of the old window, which would jump back to it.
        self.cwnd = cwnd as f64;
        self.ssthresh = ssthresh;
        self.epoch = OptInstant::NONE;
        self.w_est = self.w_est.min(self.cwnd);
    }

    fn on_spurious(&mut self, _now: Instant) {
        // §4.9: restore the state from before the reduction.
        if let Some(s) = self.saved.take() {
            if self.cwnd < s.cwnd {
                self.cwnd = s.cwnd;
                self.ssthresh = s.ssthresh;
                self.cwnd_prior = s.cwnd_prior;
                self.w_max = s.w_max;
                self.k = s.k;
                self.epoch = s.epoch;
                self.w_est = s.w_est;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::congestion::tests::ack;
    use super::super::rate::RateSample;
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn integer_cube_root() {
        assert_eq!(icbrt(0), 0);
        assert_eq!(icbrt(26), 2);
        assert_eq!(icbrt(27), 3);
        assert_eq!(icbrt(1_000_000_000_000_000_000), 1_000_000);
        assert_eq!(icbrt(u128::MAX), 6_981_463_658_331);
    }

    #[test]
    fn rfc9438_the_curve_of_section_4_2() {
        // W_max = 100 segments, cwnd_epoch = 70: K = cbrt(75) = 4.2172 s.
        let mut c = Cubic::new(70 * MSS);
        c.w_max = (100 * MSS) as f64;
        c.k = k_seconds(c.w_max, c.cwnd, MSS as f64);
        assert!((c.k - 4.2172).abs() < 1e-4, "{}", c.k);
        let w = |t: f64| c.w_cubic(t, MSS as f64) / MSS as f64;
        for (t, want) in [
            (0.0, 70.000),
            (1.0, 86.681),
            (2.0, 95.640),
            (3.0, 99.279),
            (5.0, 100.192),
            (6.0, 102.267),
            (8.0, 121.653),
        ] {
            assert!((w(t) - want).abs() < 2e-3, "W({t}) = {}", w(t));
        }
        assert!((w(c.k) - 100.0).abs() < 1e-6);
    }

    fn ca_ack(now_ms: u64, acked: usize, srtt_ms: u64) -> AckEvent {
        AckEvent {
            now: Instant::from_millis(now_ms),
            srtt: Some(Duration::from_millis(srtt_ms)),
            ..ack(acked)
        }
    }

    #[test]
    fn rfc9438_concave_then_convex_growth_after_a_loss() {
        let mut c = Cubic::new(100 * MSS);
        c.end_hystart();
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            100 * MSS,
            100 * MSS,
            MSS,
        );
        assert_eq!(c.ssthresh(), 70 * MSS, "β = 0.7 of the flight");
        assert_eq!(c.cwnd(), 70 * MSS);
        c.on_recovery_end(Instant::ZERO, 0, MSS);
        // One ACK per segment, one window per 100 ms RTT, for 10 s.
        let mut now = 0;
        let mut at = Vec::new();
        while now <= 10_000 {
            let w = c.cwnd() / MSS;
            for _ in 0..w {
                c.on_ack(&ca_ack(now, MSS, 100));
            }
            now += 100;
            at.push(c.cwnd() as f64 / MSS as f64);
        }
        // It approaches W_max = 100 around K = 4.2 s, flat near it, then
        // accelerates (convex) beyond.
        let near_k = at[42];
        assert!((97.0..103.0).contains(&near_k), "{near_k}");
        let slope_before = at[30] - at[20];
        let slope_plateau = at[45] - at[40];
        let slope_after = at[90] - at[80];
        assert!(slope_before > slope_plateau && slope_after > slope_plateau);
        assert!(at[99] > 140.0, "{}", at[99]);
    }

    #[test]
    fn rfc9438_fast_convergence_and_timeout() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            100 * MSS,
            100 * MSS,
            MSS,
        );
        assert_eq!(c.w_max, (100 * MSS) as f64);
        c.cwnd = (80 * MSS) as f64;
        // A second loss below W_max: W_max = cwnd (1 + β) / 2 = 68.
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            80 * MSS,
            80 * MSS,
            MSS,
        );
        assert_eq!(c.w_max, (68 * MSS) as f64);
        assert_eq!(c.ssthresh(), 56 * MSS);
        // §4.8: a timeout: one segment, and K = 0 from there.
        c.on_congestion(Instant::ZERO, Congestion::Timeout, 10 * MSS, 10 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 7 * MSS));
        assert_eq!(c.w_max, 0.0);
        // ... and the two-segment floor.
        c.on_congestion(Instant::ZERO, Congestion::FastRetransmit, MSS, MSS, MSS);
        assert_eq!(c.ssthresh(), 2 * MSS);
    }

    #[test]
    fn rfc9438_reno_friendly_region_at_small_windows() {
        // W_max 10, RTT 10 ms: Reno's estimate outgrows the cubic curve.
        let mut c = Cubic::new(10 * MSS);
        c.end_hystart();
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            10 * MSS,
            10 * MSS,
            MSS,
        );
        c.on_recovery_end(Instant::ZERO, 0, MSS);
        let mut now = 0;
        for _ in 0..100 {
            for _ in 0..c.cwnd() / MSS {
                c.on_ack(&ca_ack(now, MSS, 10));
            }
            now += 10;
        }
        // A second in: the cubic curve alone (K = 1.96 s) would still be
        // below W_max; Reno's ~0.53 segment per RTT over 100 RTTs is not.
        assert!(c.cwnd() > 12 * MSS, "{}", c.cwnd());
        assert!(c.w_est >= c.cwnd_prior);
        assert_eq!(c.alpha(), 1.0, "α is 1 once W_est passes cwnd_prior");
    }

    #[test]
    fn rfc9438_idle_time_is_not_on_the_curve() {
        let mut c = Cubic::new(50 * MSS);
        c.end_hystart();
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            50 * MSS,
            50 * MSS,
            MSS,
        );
        c.on_recovery_end(Instant::ZERO, 0, MSS);
        c.on_sent(Instant::ZERO, MSS, 1);
        c.on_ack(&ca_ack(0, MSS, 50));
        let epoch = c.epoch.get().unwrap();
        // Ten idle seconds: the epoch moves with them.
        c.on_sent(Instant::from_secs(10), MSS, 0);
        assert_eq!(c.epoch.get(), Some(epoch + Duration::from_secs(10)));
    }

    #[test]
    fn rfc9438_spurious_reduction_undone() {
        let mut c = Cubic::new(40 * MSS);
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            40 * MSS,
            40 * MSS,
            MSS,
        );
        c.on_spurious(Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (40 * MSS, usize::MAX));
    }

    /// An ACK in slow start: `acked` bytes with an RTT sample; `round`
    /// marks the first ACK of a round.
    fn ss_ack(rtt_ms: u64, round_start: bool, delivered_before: u64) -> AckEvent {
        AckEvent {
            rtt: Some(Duration::from_millis(rtt_ms)),
            rate: Some(RateSample {
                delivered: 0,
                prior_delivered: if round_start { delivered_before } else { 0 },
                interval: Duration::ZERO,
                rate: None,
                app_limited: false,
                tx_in_flight: 0,
                lost: 0,
                newly_acked: MSS,
                rtt: Some(Duration::from_millis(rtt_ms)),
            }),
            ..ack(MSS)
        }
    }

    #[test]
    fn rfc9406_thresholds_and_conservative_slow_start() {
        let mut c = Cubic::new(10 * MSS);
        // Round 1 at 20 ms.
        let mut delivered = 0u64;
        for i in 0..10 {
            c.on_ack(&ss_ack(20, i == 0, delivered));
            delivered += MSS as u64;
        }
        assert_eq!(c.cwnd(), 20 * MSS, "standard slow start");
        // Round 2: the RTT rises by 3 ms, under the 4 ms floor: no exit.
        let start = c.round_end;
        for i in 0..10 {
            c.on_ack(&ss_ack(23, i == 0, start));
        }
        assert!(c
            .hystart
            .as_ref()
            .and_then(|h| h.css_baseline.get())
            .is_none());
        // Round 3: up by 5 ms on 23 (threshold max(4, 23/8) = 4 ms): after
        // eight samples, CSS.
        let start = c.round_end;
        for i in 0..7 {
            c.on_ack(&ss_ack(28, i == 0, start));
        }
        assert!(
            c.hystart
                .as_ref()
                .and_then(|h| h.css_baseline.get())
                .is_none(),
            "seven samples are not enough"
        );
        c.on_ack(&ss_ack(28, false, 0));
        assert_eq!(
            c.hystart.as_ref().and_then(|h| h.css_baseline.get()),
            Some(Duration::from_millis(28))
        );
        // CSS grows a quarter as fast.
        let before = c.cwnd();
        c.on_ack(&ss_ack(28, false, 0));
        assert_eq!(c.cwnd() - before, MSS / 4);
        // Five CSS rounds later: avoidance, with ssthresh = cwnd.
        for _ in 0..5 {
            let start = c.round_end;
            c.on_ack(&ss_ack(28, true, start));
        }
        assert!(!c.hystart_on && c.hystart.is_none());
        // ssthresh is the window then; the same ACK grows it a little in
        // avoidance.
        assert!(c.ssthresh() <= c.cwnd() && c.cwnd() - c.ssthresh() < MSS);
    }

    #[test]
    fn rfc9406_rtt_threshold_bounds() {
        let t = |last_ms: u64| {
            (Duration::from_millis(last_ms) / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH)
        };
        assert_eq!(t(20), Duration::from_millis(4));
        assert_eq!(t(80), Duration::from_millis(10));
        assert_eq!(t(200), Duration::from_millis(16));
    }
}
