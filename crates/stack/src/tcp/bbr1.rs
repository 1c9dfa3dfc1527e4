//! BBR version 1 (draft-cardwell-iccrg-bbr-congestion-control-00, the
//! algorithm Linux's mainline `tcp_bbr` still ships): the same model of
//! the path as BBRv3 in `bbr.rs` — a windowed maximum of delivery-rate
//! samples and a windowed minimum RTT — without v3's loss-based bounds.
//! Loss does not change the model at all; it only costs the window what
//! was lost, with packet conservation for the first round of a recovery.
//! That is why v1 keeps a lossy path full where v3 and the loss-based
//! algorithms back off, and why it takes more than its share from CUBIC
//! at a shallow queue (the lesson the goodput table shows).
//!
//! The states (§4.3): Startup (pacing and window gain 2/ln 2 until the
//! bandwidth stops growing 25 % a round for three rounds), Drain (gain
//! ln 2 / 2 until the queue Startup built is gone), ProbeBW (eight
//! phases of one minimum RTT each: pacing gain 5/4, 3/4, then six of 1)
//! and ProbeRTT (four segments in flight for 200 ms and a round when the
//! minimum RTT is 10 s old).
//!
//! Not here: Linux v1's long-term bandwidth sampling for token-bucket
//! policers (`lt_bw`, not in the draft) and its ACK-aggregation
//! allowance (added to Linux in 2019, after the draft).

use std::time::Duration;

use super::bbr::BbrInfo;
use super::congestion::{AckEvent, Congestion, Controller};
use super::filter::{Extreme, WindowedFilter};
use super::rate::RateSample;
use crate::time::Instant;

/// §4.3.2: 2/ln(2), the smallest gain that doubles the delivery rate
/// each round — as Linux's tcp_bbr.c has it in 1/256 units
/// (`BBR_UNIT * 2885 / 1000 + 1`, 739: a hair above, so `ss` shows
/// 2.88672).
const HIGH_GAIN: f64 = 739.0 / 256.0;
/// §4.3.3: the inverse, to drain in one round what Startup queued
/// (Linux: `BBR_UNIT * 1000 / 2885`, 88).
const DRAIN_GAIN: f64 = 88.0 / 256.0;
/// §4.3.4: ProbeBW's window gain, and its cycle of pacing gains.
const PROBE_BW_CWND_GAIN: f64 = 2.0;
const GAIN_CYCLE: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// §4.1.1: the bandwidth filter's window, in rounds.
const BTL_BW_FILTER_ROUNDS: u32 = 10;
/// §4.1.2: the minimum RTT's window.
const RTPROP_FILTER: Duration = Duration::from_secs(10);
/// §4.3.5: ProbeRTT's least duration.
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
/// §4.3.2.2: Startup is over after three rounds of less than 25 % growth.
const FULL_BW_GROWTH: f64 = 1.25;
const FULL_BW_ROUNDS: u32 = 3;
/// Linux's `bbr_pacing_margin_percent`: pace 1 % under the estimate so
/// a queue at the bottleneck drains.
const PACING_MARGIN: f64 = 0.99;

/// BBRv1's states (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Startup,
    Drain,
    ProbeBw,
    ProbeRtt,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Startup => "startup",
            State::Drain => "drain",
            State::ProbeBw => "probe_bw",
            State::ProbeRtt => "probe_rtt",
        }
    }
}

/// BBR version 1.
#[derive(Debug, Clone)]
pub struct Bbr1 {
    state: State,
    smss: usize,
    initial_cwnd: usize,
    cwnd: usize,
    prior_cwnd: usize,
    pacing_rate: f64,
    pacing_gain: f64,
    cwnd_gain: f64,
    // The model (§4.1).
    btl_bw: WindowedFilter,
    rtprop: Option<Duration>,
    rtprop_stamp: Instant,
    rtprop_expired: bool,
    // Rounds (§4.1.1.3).
    delivered: u64,
    round_count: u64,
    round_start: bool,
    next_round_delivered: u64,
    // Startup's end (§4.3.2.2).
    full_bw: f64,
    full_bw_count: u32,
    filled_pipe: bool,
    // ProbeBW's cycle (§4.3.4).
    cycle_index: usize,
    cycle_stamp: Instant,
    // ProbeRTT (§4.3.5).
    probe_rtt_done_stamp: Option<Instant>,
    probe_rtt_round_done: bool,
    /// Samples of data sent from `probe_rtt_delivered` (ProbeRTT's
    /// start) until the flight at its end is delivered are
    /// application-limited (§4.3.5, the draft's `C.app_limited` mark):
    /// ProbeRTT's four segments must not pull the bandwidth down.
    probe_rtt_delivered: u64,
    app_limited_until: u64,
    idle_restart: bool,
    // Recovery (§4.2.3.4).
    in_recovery: bool,
    /// Packet conservation, for the round that begins with a recovery.
    conservation: bool,
    /// Fast recovery began and the ACK that began it (if any) is still
    /// to come: the round of conservation starts after it is counted.
    entering_recovery: bool,
    rng: u64,
}

impl Bbr1 {
    /// BBRv1 with a first window of `initial` bytes (RFC 6928's), SMSS
    /// `smss`, and `seed` for the phase ProbeBW starts in.
    pub fn new(initial: usize, smss: usize, seed: u64) -> Bbr1 {
        let smss = smss.max(1);
        Bbr1 {
            state: State::Startup,
            smss,
            initial_cwnd: initial,
            cwnd: initial,
            prior_cwnd: initial,
            // §4.2.1: until the handshake gives an RTT, assume 1 ms.
            pacing_rate: HIGH_GAIN * initial as f64 / 0.001,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            btl_bw: WindowedFilter::new(Extreme::Max, BTL_BW_FILTER_ROUNDS),
            rtprop: None,
            rtprop_stamp: Instant::ZERO,
            rtprop_expired: false,
            delivered: 0,
            round_count: 0,
            round_start: false,
            next_round_delivered: 0,
            full_bw: 0.0,
            full_bw_count: 0,
            filled_pipe: false,
            cycle_index: 0,
            cycle_stamp: Instant::ZERO,
            probe_rtt_done_stamp: None,
            probe_rtt_round_done: false,
            probe_rtt_delivered: 0,
            app_limited_until: 0,
            idle_restart: false,
            in_recovery: false,
            conservation: false,
            entering_recovery: false,
            rng: seed | 1,
        }
    }

    pub fn info(&self) -> BbrInfo {
        BbrInfo {
            bw: self.bw() as u64,
            min_rtt: self.rtprop,
            pacing_gain: self.pacing_gain,
            cwnd_gain: self.cwnd_gain,
            state: self.state.name(),
            inflight_longterm: None,
            inflight_shortterm: None,
            bw_shortterm: None,
        }
    }

    fn bw(&self) -> f64 {
        self.btl_bw.get().unwrap_or(0) as f64
    }

    fn min_pipe_cwnd(&self) -> usize {
        4 * self.smss
    }

    /// §4.2.2: one segment below 1.2 Mbit/s, two below 24 Mbit/s, else a
    /// millisecond's worth up to 64 KB.
    fn send_quantum(&self) -> f64 {
        let s = self.smss as f64;
        if self.pacing_rate < 150_000.0 {
            s
        } else if self.pacing_rate < 3_000_000.0 {
            2.0 * s
        } else {
            (self.pacing_rate * 0.001).min(65536.0).max(2.0 * s)
        }
    }

    /// §4.2.3.2: `gain` BDPs plus room for the quantization of sending
    /// and ACKing; the initial window until the model has an RTT.
    fn inflight(&self, gain: f64) -> f64 {
        let bw = self.bw();
        let Some(rtt) = self.rtprop.filter(|_| bw > 0.0) else {
            return self.initial_cwnd as f64;
        };
        let mut target = gain * bw * rtt.as_secs_f64() + 3.0 * self.send_quantum();
        // Linux's bbr_target_cwnd: two more segments while probing up, so
        // a delayed ACK cannot keep the flight under 5/4 of the BDP.
        if self.state == State::ProbeBw && self.cycle_index == 0 {
            target += 2.0 * self.smss as f64;
        }
        target
    }

    fn enter_startup(&mut self) {
        self.state = State::Startup;
        self.pacing_gain = HIGH_GAIN;
        self.cwnd_gain = HIGH_GAIN;
    }

    /// §4.3.4.2: ProbeBW starts in a random phase other than the draining
    /// one, so flows that start together do not probe together.
    fn enter_probe_bw(&mut self, now: Instant) {
        self.state = State::ProbeBw;
        self.cwnd_gain = PROBE_BW_CWND_GAIN;
        let r = (super::bbr::xorshift(&mut self.rng) % 7) as usize;
        self.cycle_index = if r == 0 { 0 } else { r + 1 };
        self.cycle_stamp = now;
        self.pacing_gain = GAIN_CYCLE[self.cycle_index];
    }

    /// §4.1.1.3–4.1.1.5: rounds, and the bandwidth filter (an
    /// application-limited sample counts only if it raises it); returns
    /// whether the sample was application-limited.
    fn update_btl_bw(&mut self, rs: &RateSample) -> bool {
        self.round_start = false;
        if rs.prior_delivered >= self.next_round_delivered {
            self.next_round_delivered = self.delivered;
            self.round_count += 1;
            self.round_start = true;
            self.conservation = false;
        }
        let app_limited = rs.app_limited
            || (rs.prior_delivered >= self.probe_rtt_delivered
                && rs.prior_delivered < self.app_limited_until);
        if let Some(rate) = rs.rate {
            if rate as f64 >= self.bw() || !app_limited {
                self.btl_bw.update(self.round_count, rate);
            }
        }
        app_limited
    }

    /// §4.3.4.3: the next phase after a minimum RTT — but 5/4 lasts until
    /// the flight reaches 5/4 of the BDP (or a loss says the path is
    /// full), and 3/4 ends as soon as the flight is down to one BDP.
    fn check_cycle_phase(&mut self, ack: &AckEvent) {
        if self.state != State::ProbeBw {
            return;
        }
        let full_length = self
            .rtprop
            .is_some_and(|r| ack.now.saturating_since(self.cycle_stamp) > r);
        let prior = ack.prior_in_flight as f64;
        let next = if self.pacing_gain > 1.0 {
            full_length && (ack.lost > 0 || prior >= self.inflight(self.pacing_gain))
        } else if self.pacing_gain < 1.0 {
            full_length || prior <= self.inflight(1.0)
        } else {
            full_length
        };
        if next {
            self.cycle_index = (self.cycle_index + 1) % GAIN_CYCLE.len();
            self.cycle_stamp = ack.now;
            self.pacing_gain = GAIN_CYCLE[self.cycle_index];
        }
    }

    /// §4.3.2.2: the pipe is full when the bandwidth estimate grew less
    /// than 25 % in three rounds that were not application-limited.
    fn check_full_pipe(&mut self, app_limited: bool) {
        if self.filled_pipe || !self.round_start || app_limited {
            return;
        }
        let bw = self.bw();
        if bw >= self.full_bw * FULL_BW_GROWTH {
            self.full_bw = bw;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        self.filled_pipe = self.full_bw_count >= FULL_BW_ROUNDS;
    }

    /// §4.3.3: Drain after Startup, ProbeBW when the flight is one BDP.
    fn check_drain(&mut self, ack: &AckEvent) {
        if self.state == State::Startup && self.filled_pipe {
            self.state = State::Drain;
            self.pacing_gain = DRAIN_GAIN;
            self.cwnd_gain = HIGH_GAIN;
        }
        if self.state == State::Drain && ack.in_flight as f64 <= self.inflight(1.0) {
            self.enter_probe_bw(ack.now);
        }
    }

    /// §4.1.2.3: the minimum RTT over 10 s; an expired one is replaced by
    /// the next sample, and sends the flow to ProbeRTT.
    fn update_rtprop(&mut self, rs: &RateSample, now: Instant) {
        self.rtprop_expired =
            self.rtprop.is_some() && now.saturating_since(self.rtprop_stamp) > RTPROP_FILTER;
        let Some(rtt) = rs.rtt else { return };
        if self.rtprop.is_none_or(|r| rtt <= r) || self.rtprop_expired {
            self.rtprop = Some(rtt);
            self.rtprop_stamp = now;
        }
    }

    /// §4.3.5: ProbeRTT when the minimum RTT is stale; it holds four
    /// segments in flight for 200 ms and at least a round, then the
    /// flow returns to where it was.
    fn check_probe_rtt(&mut self, ack: &AckEvent) {
        if self.state != State::ProbeRtt && self.rtprop_expired && !self.idle_restart {
            self.state = State::ProbeRtt;
            self.pacing_gain = 1.0;
            self.cwnd_gain = 1.0;
            self.save_cwnd();
            self.probe_rtt_done_stamp = None;
            self.probe_rtt_delivered = self.delivered;
        }
        if self.state == State::ProbeRtt {
            self.app_limited_until = self.delivered + ack.in_flight as u64;
            self.handle_probe_rtt(ack);
        }
        self.idle_restart = false;
    }

    fn handle_probe_rtt(&mut self, ack: &AckEvent) {
        match self.probe_rtt_done_stamp {
            None if ack.in_flight <= self.min_pipe_cwnd() => {
                self.probe_rtt_done_stamp = Some(ack.now + PROBE_RTT_DURATION);
                self.probe_rtt_round_done = false;
                self.next_round_delivered = self.delivered;
            }
            Some(done) => {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done && ack.now > done {
                    self.exit_probe_rtt(ack.now);
                }
            }
            None => {}
        }
    }

    fn exit_probe_rtt(&mut self, now: Instant) {
        self.rtprop_stamp = now;
        self.restore_cwnd();
        if self.filled_pipe {
            self.enter_probe_bw(now);
        } else {
            self.enter_startup();
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

    /// §4.2.1: pace at gain × bandwidth; before the pipe is full, never
    /// slower than already.
    fn set_pacing_rate(&mut self) {
        let rate = self.pacing_gain * self.bw() * PACING_MARGIN;
        if rate > 0.0 && (self.filled_pipe || rate > self.pacing_rate) {
            self.pacing_rate = rate;
        }
    }

    /// §4.2.3: the window — what was lost comes off it, the first round
    /// of a recovery conserves packets, and otherwise it grows by what
    /// was delivered towards the model's target (§4.2.3.6).
    fn set_cwnd(&mut self, ack: &AckEvent, newly_acked: usize) {
        let mut cwnd = self.cwnd;
        if self.entering_recovery {
            // §4.2.3.4: what is still in flight, and room for the fast
            // retransmit. (The ACK's losses are already out of
            // `in_flight`; they do not come off the window again.) The
            // round of conservation starts now that this ACK is counted.
            self.entering_recovery = false;
            self.conservation = true;
            self.next_round_delivered = self.delivered;
            cwnd = ack.in_flight + newly_acked.max(self.smss);
        } else if ack.lost > 0 {
            cwnd = cwnd.saturating_sub(ack.lost).max(self.smss);
        }
        if self.conservation {
            cwnd = cwnd.max(ack.in_flight + newly_acked);
        } else {
            let target = self.inflight(self.cwnd_gain);
            if self.filled_pipe {
                cwnd = (cwnd.saturating_add(newly_acked) as f64).min(target) as usize;
            } else if (cwnd as f64) < target || self.delivered < self.initial_cwnd as u64 {
                cwnd = cwnd.saturating_add(newly_acked);
            }
            cwnd = cwnd.max(self.min_pipe_cwnd());
        }
        // §4.2.3.5: ProbeRTT's four segments.
        if self.state == State::ProbeRtt {
            cwnd = cwnd.min(self.min_pipe_cwnd());
        }
        self.cwnd = cwnd;
    }
}

impl Controller for Bbr1 {
    fn name(&self) -> &'static str {
        "bbr1"
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
    }

    fn on_established(&mut self, srtt: Option<Duration>) {
        // §4.2.1: the first window over the handshake's RTT, at Startup's
        // gain.
        if let Some(srtt) = srtt.filter(|d| !d.is_zero()) {
            if self.delivered == 0 {
                self.pacing_rate = HIGH_GAIN * self.cwnd as f64 / srtt.as_secs_f64();
            }
        }
    }

    fn on_sent(&mut self, now: Instant, _bytes: usize, in_flight: usize) {
        // §4.3.4.4 (restarting from idle): pace at the estimate, not a
        // phase's gain; a ProbeRTT that idled long enough is over.
        // (Not a retransmission after a timeout: nothing is thought in
        // flight then either, but the connection is not idle.)
        if in_flight == 0 && self.delivered > 0 && !self.in_recovery {
            self.idle_restart = true;
            if self.state == State::ProbeBw {
                let rate = self.bw() * PACING_MARGIN;
                if rate > 0.0 {
                    self.pacing_rate = rate;
                }
            } else if self.state == State::ProbeRtt
                && self.probe_rtt_done_stamp.is_some_and(|d| now > d)
            {
                self.exit_probe_rtt(now);
            }
        }
    }

    fn on_ack(&mut self, ack: &AckEvent) {
        self.smss = ack.smss.max(1);
        self.delivered += ack.delivered as u64;
        let Some(rs) = ack.rate else {
            self.set_cwnd(ack, ack.delivered);
            return;
        };
        let app_limited = self.update_btl_bw(&rs);
        self.check_cycle_phase(ack);
        self.check_full_pipe(app_limited);
        self.check_drain(ack);
        self.update_rtprop(&rs, ack.now);
        self.check_probe_rtt(ack);
        self.set_pacing_rate();
        self.set_cwnd(ack, rs.newly_acked);
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
                // §4.2.3.4: save the window, then conserve packets for a
                // round: what is still in the network and one segment for
                // the fast retransmit (set again, with this ACK's delivery,
                // when the ACK that began the recovery comes).
                self.save_cwnd();
                self.in_recovery = true;
                self.cwnd = pipe + smss;
                self.conservation = true;
                self.entering_recovery = true;
            }
            Congestion::Timeout | Congestion::TimeoutInRecovery => {
                // §4.2.3.4: one segment after a timeout.
                self.save_cwnd();
                self.in_recovery = true;
                self.conservation = false;
                self.entering_recovery = false;
                self.cwnd = smss;
            }
            // A repaired tail loss: v1's model does not read loss.
            Congestion::ProbeRepair => {}
        }
    }

    fn on_loss_end(&mut self, now: Instant) {
        self.on_recovery_end(now, 0, self.smss);
    }

    fn on_recovery_end(&mut self, _now: Instant, _in_flight: usize, _smss: usize) {
        // §4.2.3.4: the window from before the recovery comes back.
        self.in_recovery = false;
        self.conservation = false;
        self.entering_recovery = false;
        self.restore_cwnd();
    }

    fn on_spurious(&mut self, now: Instant) {
        self.on_recovery_end(now, 0, self.smss);
        // As Linux's bbr_undo_cwnd: a loss that was reordering must not
        // count towards the end of Startup either.
        self.full_bw = 0.0;
        self.full_bw_count = 0;
    }
}

#[cfg(test)]
#[path = "bbr1_tests.rs"]
mod tests;
