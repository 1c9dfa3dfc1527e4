//! BBR (draft-ietf-ccwg-bbr, the algorithm Linux ships as BBRv3): a
//! model of the path — its bottleneck bandwidth (a windowed maximum of
//! delivery-rate samples) and its minimum RTT — from which the sender
//! paces at about the bottleneck rate and keeps about one BDP in flight.
//! Loss is not the signal; it only bounds the model: more than 2 % lost in
//! a round while probing caps the long-term inflight (`inflight_longterm`,
//! BBRv3's inflight_hi), and loss outside probing cuts the short-term
//! bounds by at most 30 % a round.
//!
//! The states (§5.3): Startup (pacing gain 2.77 until the bandwidth stops
//! growing 25 % a round), Drain (the queue Startup built), ProbeBW's cycle
//! — DOWN, CRUISE, REFILL, UP — probing for more bandwidth every 2–3 s (or
//! as often as Reno would, for coexistence), and ProbeRTT (cwnd at half a
//! BDP for 200 ms when the minimum RTT is 5 s old).
//!
//! Rates are bytes per second and gains plain `f64` arithmetic (+, −, ×,
//! ÷ only, so runs are bit-for-bit reproducible); the randomness of the
//! probing schedule comes from a per-connection seed.

use std::time::Duration;

use super::congestion::{AckEvent, Congestion, Controller, LostPacket};
use super::filter::{Extreme, WindowedFilter};
use super::rate::RateSample;
use crate::time::Instant;

const STARTUP_PACING_GAIN: f64 = 2.77;
const DEFAULT_CWND_GAIN: f64 = 2.0;
const DRAIN_PACING_GAIN: f64 = 0.5;
const DOWN_PACING_GAIN: f64 = 0.9;
const UP_PACING_GAIN: f64 = 1.25;
const UP_CWND_GAIN: f64 = 2.25;
const PROBE_RTT_CWND_GAIN: f64 = 0.5;
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
const PROBE_RTT_INTERVAL: Duration = Duration::from_secs(5);
const MIN_RTT_FILTER: Duration = Duration::from_secs(10);
const PACING_MARGIN: f64 = 0.99;
const LOSS_THRESH: f64 = 0.02;
const FULL_LOSS_COUNT: u32 = 6;
const BETA: f64 = 0.7;
const HEADROOM: f64 = 0.15;
const FULL_BW_GROWTH: f64 = 1.25;
const FULL_BW_ROUNDS: u32 = 3;
/// The extra-ACKed filter's window, in rounds (§5.5.9).
const EXTRA_ACKED_ROUNDS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Startup,
    Drain,
    ProbeBwDown,
    ProbeBwCruise,
    ProbeBwRefill,
    ProbeBwUp,
    ProbeRtt,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Startup => "startup",
            State::Drain => "drain",
            State::ProbeBwDown => "probe_bw down",
            State::ProbeBwCruise => "probe_bw cruise",
            State::ProbeBwRefill => "probe_bw refill",
            State::ProbeBwUp => "probe_bw up",
            State::ProbeRtt => "probe_rtt",
        }
    }

    fn probe_bw(self) -> bool {
        matches!(
            self,
            State::ProbeBwDown | State::ProbeBwCruise | State::ProbeBwRefill | State::ProbeBwUp
        )
    }
}

/// Where the ACKs are in a bandwidth probe (§5.3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckPhase {
    Init,
    Refilling,
    ProbeStarting,
    ProbeFeedback,
    ProbeStopping,
}

/// What `ss -i` shows of BBR: `bbr:(bw:…,mrtt:…,pacing_gain:…,cwnd_gain:…)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BbrInfo {
    pub bw: u64,
    pub min_rtt: Option<Duration>,
    pub pacing_gain: f64,
    pub cwnd_gain: f64,
    pub state: &'static str,
    /// The model's bounds (BBRv3's inflight_hi, inflight_lo, bw_lo), in
    /// bytes and bytes per second; `None` while unbounded.
    pub inflight_longterm: Option<u64>,
    pub inflight_shortterm: Option<u64>,
    pub bw_shortterm: Option<u64>,
}

/// BBR.
#[derive(Debug, Clone)]
pub struct Bbr {
    state: State,
    smss: usize,
    initial_cwnd: usize,
    cwnd: usize,
    prior_cwnd: usize,
    pacing_rate: f64,
    pacing_gain: f64,
    cwnd_gain: f64,
    // The model.
    max_bw: WindowedFilter,
    bw_shortterm: f64,
    bw: f64,
    min_rtt: Option<Duration>,
    min_rtt_stamp: Instant,
    inflight_longterm: f64,
    inflight_shortterm: f64,
    bw_latest: f64,
    inflight_latest: f64,
    extra_acked: WindowedFilter,
    extra_acked_interval_start: Instant,
    extra_acked_delivered: u64,
    // Rounds.
    delivered: u64,
    round_count: u64,
    round_start: bool,
    next_round_delivered: u64,
    // Startup's end.
    full_bw: f64,
    full_bw_count: u32,
    full_bw_now: bool,
    full_bw_reached: bool,
    drain_start_round: u64,
    // ProbeBW's cycle.
    cycle_count: u64,
    cycle_stamp: Instant,
    bw_probe_wait: Duration,
    rounds_since_probe: u64,
    ack_phase: AckPhase,
    bw_probe_samples: bool,
    bw_probe_up_rounds: u32,
    bw_probe_up_acked: usize,
    probe_up_acked_per_inc: usize,
    prev_probe_too_high: bool,
    prev_probe_precautionary: bool,
    // Loss in the current round.
    loss_in_round: bool,
    loss_events_in_round: u32,
    loss_round_delivered: u64,
    loss_round_start: bool,
    // ProbeRTT.
    probe_rtt_min_delay: Option<Duration>,
    probe_rtt_min_stamp: Instant,
    probe_rtt_expired: bool,
    probe_rtt_done_stamp: Option<Instant>,
    probe_rtt_round_done: bool,
    idle_restart: bool,
    // Recovery: packet conservation for the first round (§5.6.4.4).
    in_recovery: bool,
    conservation_until: Option<u64>,
    // Undo (§5.5.11).
    undo_state: Option<State>,
    /// inflight_longterm before the loss episode began.
    undo: f64,
    rng: u64,
}

impl Bbr {
    /// BBR with a first window of `initial` bytes (RFC 6928's), SMSS
    /// `smss`, and `seed` for the probing schedule's randomness.
    pub fn new(initial: usize, smss: usize, seed: u64) -> Bbr {
        let smss = smss.max(1);
        let mut b = Bbr {
            state: State::Startup,
            smss,
            initial_cwnd: initial,
            cwnd: initial,
            prior_cwnd: initial,
            pacing_rate: 0.0,
            pacing_gain: STARTUP_PACING_GAIN,
            cwnd_gain: DEFAULT_CWND_GAIN,
            // Two ProbeBW cycles, counted in cycles (§5.5.5).
            max_bw: WindowedFilter::new(Extreme::Max, 2),
            bw_shortterm: f64::INFINITY,
            bw: 0.0,
            min_rtt: None,
            min_rtt_stamp: Instant::ZERO,
            inflight_longterm: f64::INFINITY,
            inflight_shortterm: f64::INFINITY,
            bw_latest: 0.0,
            inflight_latest: 0.0,
            extra_acked: WindowedFilter::new(Extreme::Max, EXTRA_ACKED_ROUNDS),
            extra_acked_interval_start: Instant::ZERO,
            extra_acked_delivered: 0,
            delivered: 0,
            round_count: 0,
            round_start: false,
            next_round_delivered: 0,
            full_bw: 0.0,
            full_bw_count: 0,
            full_bw_now: false,
            full_bw_reached: false,
            drain_start_round: 0,
            cycle_count: 0,
            cycle_stamp: Instant::ZERO,
            bw_probe_wait: Duration::from_secs(2),
            rounds_since_probe: 0,
            ack_phase: AckPhase::Init,
            bw_probe_samples: false,
            bw_probe_up_rounds: 0,
            bw_probe_up_acked: 0,
            probe_up_acked_per_inc: usize::MAX,
            prev_probe_too_high: false,
            prev_probe_precautionary: false,
            loss_in_round: false,
            loss_events_in_round: 0,
            loss_round_delivered: 0,
            loss_round_start: false,
            probe_rtt_min_delay: None,
            probe_rtt_min_stamp: Instant::ZERO,
            probe_rtt_expired: false,
            probe_rtt_done_stamp: None,
            probe_rtt_round_done: false,
            idle_restart: false,
            in_recovery: false,
            conservation_until: None,
            undo_state: None,
            undo: f64::INFINITY,
            rng: seed | 1,
        };
        // §5.6.2: until the handshake gives an RTT, assume 1 ms.
        b.pacing_rate = STARTUP_PACING_GAIN * initial as f64 / 0.001;
        b
    }

    pub fn info(&self) -> BbrInfo {
        BbrInfo {
            bw: self.bw as u64,
            min_rtt: self.min_rtt,
            pacing_gain: self.pacing_gain,
            cwnd_gain: self.cwnd_gain,
            state: self.state.name(),
            inflight_longterm: self
                .inflight_longterm
                .is_finite()
                .then_some(self.inflight_longterm as u64),
            inflight_shortterm: self
                .inflight_shortterm
                .is_finite()
                .then_some(self.inflight_shortterm as u64),
            bw_shortterm: self
                .bw_shortterm
                .is_finite()
                .then_some(self.bw_shortterm as u64),
        }
    }

    /// The probing schedule's randomness.
    fn random(&mut self) -> u64 {
        xorshift(&mut self.rng)
    }

    fn smss_f(&self) -> f64 {
        self.smss as f64
    }

    fn min_pipe_cwnd(&self) -> f64 {
        4.0 * self.smss_f()
    }

    /// The BDP at `gain` (§5.6.4.2): the initial window until the minimum
    /// RTT is known.
    fn bdp_multiple(&self, gain: f64) -> f64 {
        match self.min_rtt {
            Some(rtt) if self.bw > 0.0 => gain * self.bw * rtt.as_secs_f64(),
            _ => self.initial_cwnd as f64,
        }
    }

    /// §5.6.4.2: room for the stretch of ACKs and offloads.
    fn quantization_budget(&self, inflight: f64) -> f64 {
        let offload = 3.0 * self.send_quantum();
        let mut x = inflight.max(offload).max(self.min_pipe_cwnd());
        if self.state == State::ProbeBwUp {
            x += 2.0 * self.smss_f();
        }
        x
    }

    fn inflight(&self, gain: f64) -> f64 {
        self.quantization_budget(self.bdp_multiple(gain))
    }

    fn send_quantum(&self) -> f64 {
        // §5.6.1's order: at most 64 KB, then at least two segments (which
        // wins with a loopback MSS of 65483).
        (self.pacing_rate * 0.001)
            .min(65536.0)
            .max(2.0 * self.smss_f())
    }

    fn target_inflight(&self) -> f64 {
        self.bdp_multiple(1.0).min(self.cwnd as f64)
    }

    /// §5.3.3.5: the long-term bound less 15 % headroom for others.
    fn inflight_with_headroom(&self) -> f64 {
        if self.inflight_longterm.is_infinite() {
            return f64::INFINITY;
        }
        let headroom = (HEADROOM * self.inflight_longterm).max(self.smss_f());
        (self.inflight_longterm - headroom).max(self.min_pipe_cwnd())
    }

    fn enter_startup(&mut self) {
        self.state = State::Startup;
        self.pacing_gain = STARTUP_PACING_GAIN;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
    }

    fn enter_drain(&mut self) {
        self.state = State::Drain;
        self.pacing_gain = DRAIN_PACING_GAIN;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
        self.drain_start_round = self.round_count;
    }

    fn start_round(&mut self) {
        self.next_round_delivered = self.delivered;
    }

    fn reset_full_bw(&mut self) {
        self.full_bw = 0.0;
        self.full_bw_count = 0;
        self.full_bw_now = false;
    }

    fn reset_short_term_model(&mut self) {
        self.bw_shortterm = f64::INFINITY;
        self.inflight_shortterm = f64::INFINITY;
    }

    fn reset_congestion_signals(&mut self) {
        self.loss_in_round = false;
        self.loss_events_in_round = 0;
        self.bw_latest = 0.0;
        self.inflight_latest = 0.0;
    }

    fn pick_probe_wait(&mut self) {
        // §5.3.3.5: 0 or 1 rounds of head start, and 2 to 3 s.
        self.rounds_since_probe = self.random() % 2;
        let frac = (self.random() % 1_000_000) as f64 / 1e6;
        self.bw_probe_wait = Duration::from_secs_f64(2.0 + frac);
    }

    fn start_down(&mut self, now: Instant) {
        self.reset_congestion_signals();
        self.probe_up_acked_per_inc = usize::MAX;
        self.pick_probe_wait();
        self.cycle_stamp = now;
        self.ack_phase = AckPhase::ProbeStopping;
        self.start_round();
        self.state = State::ProbeBwDown;
        self.pacing_gain = DOWN_PACING_GAIN;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
    }

    fn start_cruise(&mut self) {
        self.state = State::ProbeBwCruise;
        self.pacing_gain = 1.0;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
    }

    fn start_refill(&mut self) {
        self.reset_short_term_model();
        self.bw_probe_up_rounds = 0;
        self.bw_probe_up_acked = 0;
        self.prev_probe_precautionary = false;
        self.ack_phase = AckPhase::Refilling;
        self.start_round();
        self.state = State::ProbeBwRefill;
        self.pacing_gain = 1.0;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
    }

    fn start_up(&mut self, rs: &RateSample) {
        self.ack_phase = AckPhase::ProbeStarting;
        self.start_round();
        self.reset_full_bw();
        self.full_bw = rs.rate.unwrap_or(0) as f64;
        self.state = State::ProbeBwUp;
        self.pacing_gain = UP_PACING_GAIN;
        self.cwnd_gain = UP_CWND_GAIN;
        self.raise_inflight_longterm_slope();
    }

    fn raise_inflight_longterm_slope(&mut self) {
        let growth = 1usize << self.bw_probe_up_rounds.min(30);
        self.bw_probe_up_rounds = (self.bw_probe_up_rounds + 1).min(30);
        self.probe_up_acked_per_inc = (self.cwnd / growth).max(self.smss);
    }

    fn probe_inflight_longterm_upward(&mut self, rs: &RateSample, cwnd_limited: bool) {
        if !cwnd_limited || (self.cwnd as f64) < self.inflight_longterm {
            return;
        }
        self.bw_probe_up_acked += rs.newly_acked;
        if self.bw_probe_up_acked >= self.probe_up_acked_per_inc {
            let d = self.bw_probe_up_acked / self.probe_up_acked_per_inc;
            self.bw_probe_up_acked -= d * self.probe_up_acked_per_inc;
            self.inflight_longterm += (d * self.smss) as f64;
        }
        if self.round_start {
            self.raise_inflight_longterm_slope();
        }
    }

    /// §5.5.10.2: more than 2 % of what was in flight was lost.
    fn inflight_too_high(&self, rs: &RateSample) -> bool {
        rs.lost as f64 > rs.tx_in_flight as f64 * LOSS_THRESH
    }

    fn handle_inflight_too_high(&mut self, rs: &RateSample, now: Instant) {
        self.prev_probe_too_high = true;
        self.bw_probe_samples = false;
        if !rs.app_limited {
            self.inflight_longterm = (rs.tx_in_flight as f64).max(self.target_inflight() * BETA);
        }
        if self.state == State::ProbeBwUp {
            self.undo_state = Some(State::ProbeBwUp);
            self.start_down(now);
        }
    }

    /// §5.3.3.6: the long-term model after a probe; true if the cycle
    /// moved on.
    fn adapt_long_term_model(&mut self, rs: &RateSample, now: Instant, cwnd_limited: bool) -> bool {
        if self.ack_phase == AckPhase::ProbeStarting && self.round_start {
            self.ack_phase = AckPhase::ProbeFeedback;
        }
        if self.ack_phase == AckPhase::ProbeStopping && self.round_start {
            self.bw_probe_samples = false;
            self.ack_phase = AckPhase::Init;
            if self.state.probe_bw() && !rs.app_limited {
                self.cycle_count += 1;
            }
            if self.state.probe_bw() && self.prev_probe_precautionary && !self.prev_probe_too_high {
                self.start_refill();
                return true;
            }
        }
        if self.inflight_too_high(rs) {
            if self.bw_probe_samples {
                self.handle_inflight_too_high(rs, now);
                return true;
            }
            return false;
        }
        if self.inflight_longterm.is_infinite() {
            return false;
        }
        if rs.tx_in_flight as f64 > self.inflight_longterm {
            self.inflight_longterm = rs.tx_in_flight as f64;
        }
        if self.state == State::ProbeBwUp {
            self.probe_inflight_longterm_upward(rs, cwnd_limited);
        }
        false
    }

    fn time_to_probe_bw(&mut self, now: Instant) -> bool {
        let reno_rounds = ((self.target_inflight() / self.smss_f()) as u64).min(63);
        if now.saturating_since(self.cycle_stamp) > self.bw_probe_wait
            || self.rounds_since_probe >= reno_rounds
        {
            self.start_refill();
            return true;
        }
        false
    }

    fn time_to_cruise(&self, inflight: f64) -> bool {
        inflight <= self.inflight_with_headroom() && inflight <= self.inflight(1.0)
    }

    fn time_to_go_down(&mut self, rs: &RateSample, cwnd_limited: bool, inflight: f64) -> bool {
        // §5.3.3.6 IsTimeToGoDown: a precautionary probe (the last one
        // went too high) ends when the flight reaches the long-term bound.
        if self.prev_probe_too_high && inflight >= self.inflight_longterm {
            self.prev_probe_precautionary = true;
            return true;
        }
        if cwnd_limited && self.cwnd as f64 >= self.inflight_longterm {
            self.reset_full_bw();
            self.full_bw = rs.rate.unwrap_or(0) as f64;
        } else if self.full_bw_now {
            return true;
        }
        false
    }

    fn update_probe_bw_cycle_phase(&mut self, rs: &RateSample, ack: &AckEvent) {
        if !self.full_bw_reached {
            return;
        }
        if self.adapt_long_term_model(rs, ack.now, ack.cwnd_limited) || !self.state.probe_bw() {
            return;
        }
        let inflight = ack.in_flight as f64;
        match self.state {
            State::ProbeBwDown => {
                if self.time_to_probe_bw(ack.now) {
                    return;
                }
                if self.time_to_cruise(inflight) {
                    self.start_cruise();
                }
            }
            State::ProbeBwCruise => {
                self.time_to_probe_bw(ack.now);
            }
            State::ProbeBwRefill if self.round_start => {
                self.bw_probe_samples = true;
                self.start_up(rs);
            }
            State::ProbeBwUp => {
                let down = self.time_to_go_down(rs, ack.cwnd_limited, inflight);
                if down {
                    self.prev_probe_too_high = false;
                    self.start_down(ack.now);
                }
            }
            _ => {}
        }
    }

    /// §5.5.3 and §5.5.5: rounds, and the maximum bandwidth.
    fn update_max_bw(&mut self, rs: &RateSample) {
        self.round_start = false;
        if rs.prior_delivered >= self.next_round_delivered {
            self.start_round();
            self.round_count += 1;
            self.rounds_since_probe += 1;
            self.round_start = true;
        }
        if let Some(rate) = rs.rate {
            if rate as f64 >= self.max_bw.get().unwrap_or(0) as f64 || !rs.app_limited {
                self.max_bw.update(self.cycle_count, rate);
            }
        }
    }

    /// §5.5.10.3: loss outside probing cuts the short-term bounds.
    fn update_congestion_signals(&mut self, rs: &RateSample) {
        self.update_max_bw(rs);
        if !self.loss_round_start {
            return;
        }
        let probing = matches!(
            self.state,
            State::Startup | State::ProbeBwRefill | State::ProbeBwUp
        );
        if !probing && self.loss_in_round {
            let max_bw = self.max_bw.get().unwrap_or(0) as f64;
            if self.bw_shortterm.is_infinite() {
                self.bw_shortterm = max_bw;
            }
            if self.inflight_shortterm.is_infinite() {
                self.inflight_shortterm = self.cwnd as f64;
            }
            self.bw_shortterm = self.bw_latest.max(BETA * self.bw_shortterm);
            self.inflight_shortterm = self.inflight_latest.max(BETA * self.inflight_shortterm);
        }
        self.loss_in_round = false;
    }

    fn update_ack_aggregation(&mut self, rs: &RateSample, now: Instant) {
        let interval = now.saturating_since(self.extra_acked_interval_start);
        let mut expected = self.bw * interval.as_secs_f64();
        if self.extra_acked_delivered as f64 <= expected {
            self.extra_acked_delivered = 0;
            self.extra_acked_interval_start = now;
            expected = 0.0;
        }
        self.extra_acked_delivered += rs.newly_acked as u64;
        let extra = (self.extra_acked_delivered as f64 - expected).min(self.cwnd as f64);
        let window = if self.full_bw_reached {
            EXTRA_ACKED_ROUNDS
        } else {
            1
        };
        self.extra_acked.set_window(window);
        self.extra_acked
            .update(self.round_count, extra.max(0.0) as u64);
    }

    /// §5.3.1.2: Startup ends when the bandwidth stopped growing, or on
    /// heavy loss.
    fn check_full_bw_reached(&mut self, rs: &RateSample) {
        if self.full_bw_now || !self.round_start || rs.app_limited {
            return;
        }
        let Some(rate) = rs.rate else { return };
        let rate = rate as f64;
        if rate >= self.full_bw * FULL_BW_GROWTH {
            self.full_bw = rate;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        self.full_bw_now = self.full_bw_count >= FULL_BW_ROUNDS;
        if self.full_bw_now {
            self.full_bw_reached = true;
        }
    }

    /// §5.3.1.3 (as Linux's bbr_check_loss_too_high_in_startup): a round
    /// that ends in recovery with six or more ACKs reporting loss and more
    /// than 2 % lost ends Startup. The count is of loss events (ACKs), read
    /// before the round's reset.
    fn check_startup_high_loss(&mut self, rs: &RateSample, lost: bool) {
        if lost {
            self.loss_events_in_round = self.loss_events_in_round.saturating_add(1);
        }
        if self.state == State::Startup
            && !self.full_bw_reached
            && self.loss_round_start
            && self.in_recovery
            && self.loss_events_in_round >= FULL_LOSS_COUNT
            && self.inflight_too_high(rs)
        {
            self.full_bw_reached = true;
            self.inflight_longterm = self.bdp_multiple(1.0).max(self.inflight_latest);
        }
        if self.loss_round_start {
            self.loss_events_in_round = 0;
        }
    }

    fn check_startup_done(&mut self, rs: &RateSample, lost: bool) {
        self.check_startup_high_loss(rs, lost);
        if self.state == State::Startup && self.full_bw_reached {
            self.enter_drain();
        }
    }

    fn check_drain_done(&mut self, inflight: f64, now: Instant) {
        if self.state == State::Drain
            && (inflight <= self.inflight(1.0) || self.round_count > self.drain_start_round + 3)
        {
            self.start_down(now);
        }
    }

    /// §5.3.4.3: the minimum RTT, and when ProbeRTT is due.
    fn update_min_rtt(&mut self, rs: &RateSample, now: Instant) {
        // Nothing expires before the first sample (the clock need not
        // start at zero when the connection does).
        self.probe_rtt_expired = self.probe_rtt_min_delay.is_some()
            && now.saturating_since(self.probe_rtt_min_stamp) > PROBE_RTT_INTERVAL;
        let Some(rtt) = rs.rtt else { return };
        if self.probe_rtt_min_delay.is_none_or(|d| rtt < d) || self.probe_rtt_expired {
            self.probe_rtt_min_delay = Some(rtt);
            self.probe_rtt_min_stamp = now;
        }
        let min_expired = now.saturating_since(self.min_rtt_stamp) > MIN_RTT_FILTER;
        if let Some(d) = self.probe_rtt_min_delay {
            if self.min_rtt.is_none_or(|m| d < m) || min_expired {
                self.min_rtt = Some(d);
                self.min_rtt_stamp = self.probe_rtt_min_stamp;
            }
        }
    }

    fn probe_rtt_cwnd(&self) -> f64 {
        self.bdp_multiple(PROBE_RTT_CWND_GAIN)
            .max(self.min_pipe_cwnd())
    }

    fn check_probe_rtt(&mut self, rs: &RateSample, ack: &AckEvent) {
        if self.state != State::ProbeRtt && self.probe_rtt_expired && !self.idle_restart {
            self.state = State::ProbeRtt;
            self.pacing_gain = 1.0;
            self.cwnd_gain = PROBE_RTT_CWND_GAIN;
            self.save_cwnd();
            self.probe_rtt_done_stamp = None;
            self.ack_phase = AckPhase::ProbeStopping;
            self.start_round();
        }
        if self.state == State::ProbeRtt {
            self.handle_probe_rtt(ack);
        }
        if rs.delivered > 0 {
            self.idle_restart = false;
        }
    }

    fn handle_probe_rtt(&mut self, ack: &AckEvent) {
        match self.probe_rtt_done_stamp {
            None if ack.in_flight as f64 <= self.probe_rtt_cwnd() => {
                self.probe_rtt_done_stamp = Some(ack.now + PROBE_RTT_DURATION);
                self.probe_rtt_round_done = false;
                self.start_round();
            }
            Some(_) => {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done {
                    self.check_probe_rtt_done(ack.now);
                }
            }
            None => {}
        }
    }

    fn check_probe_rtt_done(&mut self, now: Instant) {
        if self.probe_rtt_done_stamp.is_some_and(|d| now > d) {
            self.probe_rtt_min_stamp = now;
            self.restore_cwnd();
            self.reset_short_term_model();
            if self.full_bw_reached {
                self.start_down(now);
                self.start_cruise();
            } else {
                self.enter_startup();
            }
        }
    }

    fn save_cwnd(&mut self) {
        self.prior_cwnd = if !self.in_recovery && self.state != State::ProbeRtt {
            self.cwnd
        } else {
            self.prior_cwnd.max(self.cwnd)
        };
    }

    fn restore_cwnd(&mut self) {
        self.cwnd = self.cwnd.max(self.prior_cwnd);
    }

    fn set_pacing_rate(&mut self) {
        let rate = self.pacing_gain * self.bw * PACING_MARGIN;
        if rate > 0.0 && (self.full_bw_reached || rate > self.pacing_rate) {
            self.pacing_rate = rate;
        }
    }

    /// §5.6.4: the window from the model, bounded by it.
    fn set_cwnd(&mut self, ack: &AckEvent, rs: Option<&RateSample>) {
        let newly_acked = rs.map_or(ack.delivered, |r| r.newly_acked);
        let extra = self.extra_acked.get().unwrap_or(0) as f64;
        let max_inflight = self.quantization_budget(self.bdp_multiple(self.cwnd_gain) + extra);
        let mut cwnd = self.cwnd as f64;
        if let Some(until) = self.conservation_until {
            if self.delivered >= until {
                self.conservation_until = None;
            } else {
                // The first round of recovery: no more out than came in.
                cwnd = cwnd.max((ack.in_flight + newly_acked) as f64);
            }
        }
        if self.conservation_until.is_none() {
            if self.full_bw_reached {
                cwnd = (cwnd + newly_acked as f64).min(max_inflight);
            } else if cwnd < max_inflight || self.delivered < self.initial_cwnd as u64 {
                cwnd += newly_acked as f64;
            }
        }
        cwnd = cwnd.max(self.min_pipe_cwnd());
        if self.state == State::ProbeRtt {
            cwnd = cwnd.min(self.probe_rtt_cwnd());
        }
        // BoundCwndForModel.
        let mut cap = f64::INFINITY;
        if self.state.probe_bw() && self.state != State::ProbeBwCruise {
            cap = self.inflight_longterm;
        } else if matches!(self.state, State::ProbeRtt | State::ProbeBwCruise) {
            cap = self.inflight_with_headroom();
        }
        cap = cap.min(self.inflight_shortterm).max(self.min_pipe_cwnd());
        self.cwnd = cwnd.min(cap) as usize;
    }
}

impl Controller for Bbr {
    fn name(&self) -> &'static str {
        "bbr"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        usize::MAX
    }

    fn pacing_rate(&self) -> Option<u64> {
        Some(self.pacing_rate.max(1.0) as u64)
    }

    fn uses_prr(&self) -> bool {
        false
    }

    fn bbr_info(&self) -> Option<BbrInfo> {
        Some(self.info())
    }

    fn adopt(&mut self, delivered: u64, _ssthresh: usize) {
        self.delivered = delivered;
        self.next_round_delivered = delivered;
        self.loss_round_delivered = delivered;
    }

    fn on_established(&mut self, srtt: Option<Duration>) {
        // §5.6.2 (BBRInitPacingRate): the first window over the
        // handshake's RTT, at the Startup gain.
        if let Some(srtt) = srtt.filter(|d| !d.is_zero()) {
            if self.delivered == 0 {
                self.pacing_rate = STARTUP_PACING_GAIN * self.cwnd as f64 / srtt.as_secs_f64();
            }
        }
    }

    fn on_sent(&mut self, now: Instant, _bytes: usize, in_flight: usize) {
        // §5.4.2 (HandleRestartFromIdle): after idle, pace at the
        // estimated bandwidth, not a phase's gain.
        // (Not a retransmission after a timeout: nothing is thought in
        // flight then either, but the connection is not idle.)
        if in_flight == 0 && self.delivered > 0 && !self.in_recovery {
            self.idle_restart = true;
            self.extra_acked_interval_start = now;
            if self.state.probe_bw() {
                let rate = self.bw * PACING_MARGIN;
                if rate > 0.0 {
                    self.pacing_rate = rate;
                }
            } else if self.state == State::ProbeRtt {
                self.check_probe_rtt_done(now);
            }
        }
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        self.smss = ack.smss.max(1);
        self.delivered += ack.delivered as u64;
        let Some(rs) = ack.rate else {
            self.set_cwnd(ack, None);
            return;
        };
        // UpdateLatestDeliverySignals.
        self.loss_round_start = false;
        if let Some(r) = rs.rate {
            self.bw_latest = self.bw_latest.max(r as f64);
        }
        self.inflight_latest = self.inflight_latest.max(rs.delivered as f64);
        if rs.prior_delivered >= self.loss_round_delivered {
            self.loss_round_delivered = self.delivered;
            self.loss_round_start = true;
        }
        self.update_congestion_signals(&rs);
        self.update_ack_aggregation(&rs, ack.now);
        self.check_full_bw_reached(&rs);
        self.check_startup_done(&rs, ack.lost > 0);
        self.check_drain_done(ack.in_flight as f64, ack.now);
        self.update_probe_bw_cycle_phase(&rs, ack);
        self.update_min_rtt(&rs, ack.now);
        self.check_probe_rtt(&rs, ack);
        // AdvanceLatestDeliverySignals.
        if self.loss_round_start {
            self.bw_latest = rs.rate.unwrap_or(0) as f64;
            self.inflight_latest = rs.delivered as f64;
        }
        // BoundBWForModel.
        let max_bw = self.max_bw.get().unwrap_or(0) as f64;
        self.bw = max_bw.min(self.bw_shortterm);
        self.set_pacing_rate();
        self.set_cwnd(ack, Some(&rs));
    }

    fn on_lost(&mut self, now: Instant, lost: &LostPacket) {
        // §5.5.10.2 (NoteLoss, HandleLostPacket).
        if !self.loss_in_round {
            self.loss_round_delivered = self.delivered;
            // The model as it was before this loss episode: later rounds
            // of the same recovery must not overwrite it with the values
            // they have already cut.
            if !self.in_recovery {
                self.save_undo();
            }
        }
        self.loss_in_round = true;
        if !self.bw_probe_samples {
            return;
        }
        // What was in flight when it was sent, and lost since (itself
        // included).
        let rs = RateSample {
            delivered: 0,
            prior_delivered: 0,
            interval: Duration::ZERO,
            rate: None,
            app_limited: lost.app_limited,
            tx_in_flight: lost.tx_in_flight,
            lost: lost.lost_total.saturating_sub(lost.lost_before),
            newly_acked: 0,
            rtt: None,
        };
        if self.inflight_too_high(&rs) {
            // §5.5.10.2 InflightAtLoss: where the loss rate crossed 2 %.
            let size = lost.bytes as f64;
            let inflight_prev = rs.tx_in_flight as f64 - size;
            let lost_prev = rs.lost as f64 - size;
            let prefix = (LOSS_THRESH * inflight_prev - lost_prev) / (1.0 - LOSS_THRESH);
            let rs = RateSample {
                tx_in_flight: (inflight_prev + prefix).max(0.0) as usize,
                ..rs
            };
            self.handle_inflight_too_high(&rs, now);
        }
    }

    fn on_congestion(
        &mut self,
        _now: Instant,
        kind: Congestion,
        _in_flight: usize,
        pipe: usize,
        smss: usize,
    ) {
        match kind {
            Congestion::FastRetransmit => {
                self.save_cwnd();
                self.in_recovery = true;
                // §5.6.4.4: packet conservation for one round, from what
                // is in the network (lost and SACKed bytes are not).
                self.cwnd = pipe.max(self.min_pipe_cwnd() as usize);
                self.conservation_until = Some(self.delivered + pipe as u64);
            }
            Congestion::Timeout | Congestion::TimeoutInRecovery => {
                self.save_cwnd();
                self.in_recovery = true;
                self.conservation_until = None;
                self.cwnd = smss;
            }
            Congestion::ProbeRepair => {
                // A repaired tail: the short-term model learns of the loss.
                self.loss_in_round = true;
            }
        }
    }

    fn on_loss_end(&mut self, now: Instant) {
        // §5.6.4.4: upon exiting loss recovery, RTO recovery included.
        self.on_recovery_end(now, 0, self.smss);
    }

    fn on_recovery_end(&mut self, _now: Instant, _in_flight: usize, _smss: usize) {
        self.in_recovery = false;
        self.conservation_until = None;
        self.restore_cwnd();
    }

    fn on_spurious(&mut self, _now: Instant) {
        // §5.5.11: the loss was not real: undo its effects on the model.
        self.in_recovery = false;
        self.conservation_until = None;
        self.restore_cwnd();
        self.loss_in_round = false;
        self.reset_full_bw();
        // The short-term bounds restart (as Linux's bbr_undo_cwnd resets
        // the lower bounds); the long-term one comes back from before the
        // episode.
        self.reset_short_term_model();
        self.inflight_longterm = self.inflight_longterm.max(self.undo);
        match self.undo_state.take() {
            Some(State::Startup)
                if self.state != State::Startup && self.state != State::ProbeRtt =>
            {
                self.full_bw_reached = false;
                self.enter_startup();
            }
            Some(State::ProbeBwUp)
                if self.state != State::ProbeBwUp && self.state != State::ProbeRtt =>
            {
                self.start_refill();
            }
            _ => {}
        }
    }
}

/// A 64-bit xorshift step (both BBRs' seeded randomness).
pub(super) fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

impl Bbr {
    fn save_undo(&mut self) {
        self.undo_state = None;
        self.undo = self.inflight_longterm;
    }
}

#[cfg(test)]
#[path = "bbr_tests.rs"]
pub(super) mod tests;
