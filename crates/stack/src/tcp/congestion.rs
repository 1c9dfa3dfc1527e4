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

use super::rate::RateSample;
use crate::time::Instant;

/// What an acknowledgment tells the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEvent {
    pub now: Instant,
    /// Sequence space newly acknowledged cumulatively.
    pub acked: usize,
    /// Bytes newly delivered, cumulatively or by SACK (RFC 6937's
    /// DeliveredData).
    pub delivered: usize,
    /// Bytes this ACK is the first to report delivered: `delivered`,
    /// less what earlier duplicate ACKs already stood for when SACK is
    /// off (RFC 6675 §5's SACKed bytes are reported by the ACK that SACKs
    /// them) — on an ACK that advances SND.UNA, or on any once reordering
    /// beyond DupThresh was seen; else zero. What the loss-based windows
    /// grow by — Linux's `acked_sacked` — so a segment the peer reported
    /// out of order is not counted twice when the cumulative ACK covers it.
    pub newly_reported: usize,
    /// Bytes newly marked lost while processing this ACK.
    pub lost: usize,
    /// RTT measured from this ACK, if it gave a sample.
    pub rtt: Option<Duration>,
    /// The smoothed and the (windowed) minimum RTT after the sample.
    pub srtt: Option<Duration>,
    pub min_rtt: Option<Duration>,
    /// Bytes in flight before the ACK arrived, and after it.
    pub prior_in_flight: usize,
    pub in_flight: usize,
    /// Whether the window was what limited the sender (RFC 7661 §4.3,
    /// Linux's `tcp_is_cwnd_limited`); if not, it should not grow.
    pub cwnd_limited: bool,
    /// The connection is in fast recovery: window growth waits (RFC 5681
    /// §3.2, RFC 6937), model updates do not. (After a timeout the window
    /// grows in slow start from one segment, RFC 5681 §3.1.)
    pub in_recovery: bool,
    /// The delivery-rate sample of this ACK, if any.
    pub rate: Option<RateSample>,
    pub smss: usize,
}

/// A packet found lost, with what it saw when it was sent (BBR's
/// `HandleLostPacket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostPacket {
    pub bytes: usize,
    /// Bytes in flight when it was sent, lost bytes counted by then, and
    /// lost bytes counted now (this one included).
    pub tx_in_flight: usize,
    pub lost_before: u64,
    pub lost_total: u64,
    pub app_limited: bool,
}

/// Why the window is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    /// Loss found by duplicate ACKs, SACK or RACK: fast recovery.
    FastRetransmit,
    /// The retransmission timer expired.
    Timeout,
    /// The retransmission timer expired during fast recovery: the window
    /// falls to one segment but the threshold set when recovery began
    /// stands, since FlightSize now counts the losses too (Linux's
    /// `tcp_enter_loss` keeps it the same way).
    TimeoutInRecovery,
    /// A tail loss probe repaired a loss no other ACK reported (RFC 8985
    /// §7.4.2): one reduction, no retransmissions to pace.
    ProbeRepair,
}

/// A congestion control algorithm: the window arithmetic and, for those
/// that pace, the rate. The connection owns loss detection and recovery
/// (SACK, RACK-TLP, PRR); the controller hears of each event.
pub trait Controller: fmt::Debug {
    /// The name `ss -i` prints ("reno", "cubic", "bbr", "bbr1").
    fn name(&self) -> &'static str;
    /// Bytes that may be in flight.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// Bytes per second to pace at, for algorithms that pace.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }
    /// Whether the connection bounds fast recovery with PRR (RFC 6937);
    /// an algorithm that keeps its own window throughout says no.
    fn uses_prr(&self) -> bool {
        true
    }
    /// Data went out with `in_flight` bytes already in flight (idle
    /// restarts: CUBIC's epoch, BBR's pacing).
    fn on_sent(&mut self, _now: Instant, _bytes: usize, _in_flight: usize) {}
    /// An ACK delivered data (or marked some lost).
    fn on_ack(&mut self, ack: &AckEvent);
    /// A segment was found lost.
    fn on_lost(&mut self, _now: Instant, _lost: &LostPacket) {}
    /// Congestion: fast recovery begins, the timer expired, or a probe
    /// repaired a loss; `in_flight` bytes are out (RFC 5681's FlightSize,
    /// the loss-based algorithms' base) of which `pipe` are still thought
    /// to be in the network (RFC 6675's pipe, BBR's packet conservation).
    fn on_congestion(
        &mut self,
        now: Instant,
        kind: Congestion,
        in_flight: usize,
        pipe: usize,
        smss: usize,
    );
    /// Fast recovery ended with a full ACK; `in_flight` bytes are out.
    fn on_recovery_end(&mut self, now: Instant, in_flight: usize, smss: usize);
    /// The episode a retransmission timeout began is over (everything
    /// outstanding then is acknowledged); slow start simply goes on for
    /// the loss-based algorithms.
    fn on_loss_end(&mut self, _now: Instant) {}
    /// The last reduction proved spurious (D-SACK, RFC 3708; timestamps,
    /// RFC 3522): undo it.
    fn on_spurious(&mut self, _now: Instant) {}
    /// `TCP_CONGESTION` switched a running connection to this controller:
    /// `delivered` bytes were delivered so far (the rate sampler's count,
    /// which rate samples' `prior_delivered` refer to) and ssthresh was
    /// `ssthresh` (kept, as Linux keeps snd_ssthresh).
    fn adopt(&mut self, _delivered: u64, _ssthresh: usize) {}
    /// The handshake completed, with its RTT sample if it gave one.
    fn on_established(&mut self, _srtt: Option<Duration>) {}
    /// The sender restarts after an idle spell (RFC 5681 §4.1): the
    /// connection worked out the window to restart from and the raised
    /// threshold. Algorithms that keep a model of the path (BBR) ignore
    /// it, as Linux exempts them.
    fn on_idle_restart(&mut self, _cwnd: usize, _ssthresh: usize) {}
    /// BBR's model, for `ss -i`.
    fn bbr_info(&self) -> Option<super::bbr::BbrInfo> {
        None
    }
}

/// The initial window of RFC 6928: min(10·MSS, max(2·MSS, 14600)).
pub fn initial_window(smss: usize) -> usize {
    (10 * smss).min((2 * smss).max(14_600))
}

/// RFC 5681 slow start and congestion avoidance; the connection runs the
/// recovery (RFC 6582 NewReno without SACK, RFC 6675 with it, PRR).
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged towards the next cwnd increase in congestion
    /// avoidance (RFC 5681 §3.1, the byte-counting variant).
    bytes_acked: usize,
    /// What the last reduction replaced, for an undo.
    prior: Option<(usize, usize)>,
}

impl NewReno {
    /// A controller whose first window is `initial` bytes.
    pub fn new(initial: usize) -> NewReno {
        NewReno {
            cwnd: initial,
            // RFC 5681 §3.1: "SHOULD be set arbitrarily high".
            ssthresh: usize::MAX,
            bytes_acked: 0,
            prior: None,
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
        if !ack.cwnd_limited || ack.in_recovery || ack.newly_reported == 0 {
            return;
        }
        let smss = ack.smss;
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 eq. (2): cwnd += min(N, SMSS) per ACK.
            self.cwnd = self.cwnd.saturating_add(ack.newly_reported.min(smss));
        } else {
            // Congestion avoidance: about one SMSS per RTT (RFC 5681 §3.1,
            // appropriate byte counting per RFC 3465).
            self.bytes_acked += ack.newly_reported;
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd += smss;
            }
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
        if kind == Congestion::TimeoutInRecovery {
            self.bytes_acked = 0;
            self.cwnd = smss;
            return;
        }
        self.prior = Some((self.cwnd, self.ssthresh));
        // RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2·SMSS).
        self.ssthresh = (in_flight / 2).max(2 * smss);
        self.bytes_acked = 0;
        self.cwnd = match kind {
            // PRR brings the window down to ssthresh over the recovery.
            Congestion::FastRetransmit | Congestion::ProbeRepair => self.ssthresh,
            // §3.1: the loss window is one segment.
            Congestion::Timeout | Congestion::TimeoutInRecovery => smss,
        };
    }

    fn adopt(&mut self, _delivered: u64, ssthresh: usize) {
        self.ssthresh = ssthresh;
    }

    fn on_recovery_end(&mut self, _now: Instant, _in_flight: usize, _smss: usize) {
        // RFC 6937 §3: at the end of recovery cwnd = ssthresh — when this
        // controller set one: a recovery that began under BBR (whose
        // ssthresh is unbounded) and ends after `TCP_CONGESTION` chose
        // NewReno keeps its window, as Linux's tcp_end_cwnd_reduction
        // does for an infinite ssthresh.
        if self.ssthresh != usize::MAX {
            self.cwnd = self.ssthresh;
        }
    }

    fn on_idle_restart(&mut self, cwnd: usize, ssthresh: usize) {
        self.cwnd = cwnd;
        self.ssthresh = ssthresh;
        self.bytes_acked = 0;
    }

    fn on_spurious(&mut self, _now: Instant) {
        if let Some((cwnd, ssthresh)) = self.prior.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = self.ssthresh.max(ssthresh);
        }
    }
}

/// A controller for `algorithm` whose first window is `initial` bytes, for
/// segments of `smss`; `seed` feeds an algorithm's randomness (BBR's
/// probing schedule).
pub fn new_controller(
    algorithm: super::config::CongestionAlgorithm,
    initial: usize,
    smss: usize,
    seed: u64,
) -> Held {
    use super::config::CongestionAlgorithm as A;
    match algorithm {
        A::NewReno => Held::NewReno(NewReno::new(initial)),
        A::Cubic => Held::Cubic(super::cubic::Cubic::new(initial)),
        A::Bbr => Held::Bbr(Box::new(super::bbr::Bbr::new(initial, smss, seed))),
        A::Bbr1 => Held::Bbr1(Box::new(super::bbr1::Bbr1::new(initial, smss, seed))),
    }
}

/// A connection's controller. NewReno and CUBIC (the default) are held
/// in the connection itself, which spares an allocation per connection
/// and the box's header (issue 13's memory per endpoint); BBR's models
/// are larger and boxed.
#[derive(Debug)]
pub enum Held {
    NewReno(NewReno),
    Cubic(super::cubic::Cubic),
    Bbr(Box<super::bbr::Bbr>),
    Bbr1(Box<super::bbr1::Bbr1>),
}

/// `$e` with `$c` bound to the controller `$held` holds, whichever it is.
macro_rules! each_controller {
    ($held:expr, $c:ident => $e:expr) => {
        match $held {
            Held::NewReno($c) => $e,
            Held::Cubic($c) => $e,
            Held::Bbr($c) => $e,
            Held::Bbr1($c) => $e,
        }
    };
}

/// The calls made for every segment, dispatched to the algorithm directly
/// (so they inline) rather than through `Deref` to `dyn Controller`, which
/// picks a vtable and calls through it each time (issue 13: the match and
/// indirect calls were some 80 instructions a segment in the bulk
/// benchmark). The rest of the interface goes through `Deref`.
impl Held {
    #[inline]
    pub fn cwnd(&self) -> usize {
        each_controller!(self, c => c.cwnd())
    }

    #[inline]
    pub fn ssthresh(&self) -> usize {
        each_controller!(self, c => c.ssthresh())
    }

    #[inline]
    pub fn pacing_rate(&self) -> Option<u64> {
        each_controller!(self, c => c.pacing_rate())
    }

    #[inline]
    pub fn uses_prr(&self) -> bool {
        each_controller!(self, c => c.uses_prr())
    }

    #[inline]
    pub fn on_sent(&mut self, now: Instant, bytes: usize, in_flight: usize) {
        each_controller!(self, c => c.on_sent(now, bytes, in_flight))
    }

    #[inline]
    pub fn on_ack(&mut self, ack: &AckEvent) {
        each_controller!(self, c => c.on_ack(ack))
    }
}

impl std::ops::Deref for Held {
    type Target = dyn Controller;

    fn deref(&self) -> &(dyn Controller + 'static) {
        match self {
            Held::NewReno(c) => c,
            Held::Cubic(c) => c,
            Held::Bbr(c) => &**c,
            Held::Bbr1(c) => &**c,
        }
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut (dyn Controller + 'static) {
        match self {
            Held::NewReno(c) => c,
            Held::Cubic(c) => c,
            Held::Bbr(c) => &mut **c,
            Held::Bbr1(c) => &mut **c,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn ack(acked: usize) -> AckEvent {
        AckEvent {
            now: Instant::ZERO,
            acked,
            delivered: acked,
            newly_reported: acked,
            lost: 0,
            rtt: None,
            srtt: None,
            min_rtt: None,
            prior_in_flight: 0,
            in_flight: 0,
            cwnd_limited: true,
            in_recovery: false,
            rate: None,
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
    fn rfc5681_slow_start_then_avoidance() {
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
        c.on_congestion(Instant::ZERO, Congestion::Timeout, 12_000, 12_000, 1000);
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
    fn rfc5681_fast_recovery_halves_and_undoes() {
        let mut c = NewReno::new(initial_window(1000));
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            20_000,
            20_000,
            1000,
        );
        assert_eq!((c.ssthresh(), c.cwnd()), (10_000, 10_000));
        // No growth while recovering.
        c.on_ack(&AckEvent {
            in_recovery: true,
            ..ack(1000)
        });
        assert_eq!(c.cwnd(), 10_000);
        c.on_recovery_end(Instant::ZERO, 4000, 1000);
        assert_eq!(c.cwnd(), 10_000);
        // A spurious reduction is undone.
        c.on_spurious(Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (10_000, usize::MAX));
    }

    /// A recovery that began under BBR (whose ssthresh is unbounded) and
    /// ends after `TCP_CONGESTION` chose NewReno or CUBIC keeps the
    /// window; it does not become "ssthresh", which would lift every
    /// limit. (Found by the random interleavings, which switch.)
    #[test]
    fn recovery_ending_after_a_switch_from_bbr_keeps_the_window() {
        use super::super::config::CongestionAlgorithm as A;
        for algorithm in [A::NewReno, A::Cubic] {
            let mut c = new_controller(algorithm, 20_000, 1000, 1);
            c.adopt(0, usize::MAX);
            c.on_recovery_end(Instant::ZERO, 10_000, 1000);
            assert_eq!(c.cwnd(), 20_000, "{algorithm:?}");
        }
    }

    #[test]
    fn timeout_during_recovery_keeps_the_threshold() {
        let mut c = NewReno::new(initial_window(1000));
        c.on_congestion(
            Instant::ZERO,
            Congestion::FastRetransmit,
            20_000,
            20_000,
            1000,
        );
        assert_eq!(c.ssthresh(), 10_000);
        // FlightSize at the timeout counts the lost segments too; halving
        // it would set the threshold above the window recovery chose.
        c.on_congestion(
            Instant::ZERO,
            Congestion::TimeoutInRecovery,
            40_000,
            40_000,
            1000,
        );
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 10_000));
        // A later undo still restores the window from before recovery.
        c.on_spurious(Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (10_000, usize::MAX));
    }
}
