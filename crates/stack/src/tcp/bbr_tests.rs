//! BBR's state machine driven by a fluid model of one bottleneck.
use super::super::congestion::tests::ack;
use super::*;

pub(crate) const MSS: usize = 1000;

/// What the fluid path reads of a BBR (v3 here, v1 in `bbr1_tests.rs`).
pub(crate) trait Model: Controller {
    type State: Copy + PartialEq;
    fn state(&self) -> Self::State;
    fn pacing(&self) -> f64;
    fn recovering(&self) -> bool;
}

impl Model for Bbr {
    type State = State;
    fn state(&self) -> State {
        self.state
    }
    fn pacing(&self) -> f64 {
        self.pacing_rate
    }
    fn recovering(&self) -> bool {
        self.in_recovery
    }
}

/// A fluid path for the model to measure: a bottleneck of `bw` bytes
/// per second and a base RTT; the queue adds delay when the sender
/// keeps more than one BDP in flight.
pub(crate) struct Path {
    pub bw: f64,
    pub rtt: Duration,
    pub now: Instant,
    delivered: u64,
    /// Every `lossy`-th ACK reports a lost segment (0: none).
    pub lossy: u64,
}

impl Path {
    pub fn new(bw: f64, rtt_ms: u64) -> Path {
        Path {
            bw,
            rtt: Duration::from_millis(rtt_ms),
            now: Instant::ZERO,
            delivered: 0,
            lossy: 0,
        }
    }

    pub fn bdp(&self) -> f64 {
        self.bw * self.rtt.as_secs_f64()
    }

    /// One round trip: what BBR lets out (its window, or its pacing
    /// rate over the round) comes back as one ACK per segment at the
    /// rate the bottleneck allows. `rtt_extra` delays every sample.
    /// Returns the states BBR passed through, one per ACK.
    pub fn round<B: Model>(&mut self, b: &mut B, rtt_extra: Duration) -> Vec<B::State> {
        let mut states = Vec::new();
        let round_start = self.delivered;
        let base = self.rtt + rtt_extra;
        let paced = b.pacing() * base.as_secs_f64();
        let flight = (b.cwnd() as f64).min(paced).max(MSS as f64);
        let queue = (flight - self.bw * base.as_secs_f64()).max(0.0) / self.bw;
        let rtt = base + Duration::from_secs_f64(queue);
        // Delivered at the pacing rate, the bottleneck's, or a flight a
        // round trip, whichever is least.
        let rate = b.pacing().min(self.bw).min(flight / rtt.as_secs_f64());
        let n = (flight / MSS as f64).round().max(1.0) as u64;
        let step = rtt / n as u32;
        let mut lost = 0u64;
        for i in 0..n {
            let loses = self.lossy > 0 && i % self.lossy == 0;
            if loses {
                if lost == 0 && !b.recovering() {
                    b.on_congestion(
                        self.now,
                        Congestion::FastRetransmit,
                        flight as usize,
                        flight as usize,
                        MSS,
                    );
                }
                lost += MSS as u64;
            }
            self.now += step;
            self.delivered += MSS as u64;
            // The sender refills the flight as the ACKs come back.
            let in_flight = flight as usize - MSS;
            b.on_ack(&AckEvent {
                now: self.now,
                rtt: Some(rtt),
                min_rtt: Some(self.rtt),
                prior_in_flight: in_flight + MSS,
                in_flight,
                lost: if loses { MSS } else { 0 },
                rate: Some(RateSample {
                    delivered: (i + 1) * MSS as u64,
                    prior_delivered: round_start,
                    interval: rtt,
                    rate: Some(rate as u64),
                    app_limited: false,
                    tx_in_flight: n as usize * MSS,
                    // Lost while this one was in flight: the
                    // round's share.
                    lost: (n * MSS as u64).checked_div(self.lossy).unwrap_or(0),
                    newly_acked: MSS,
                    rtt: Some(rtt),
                }),
                ..ack(MSS)
            });
            states.push(b.state());
        }
        states
    }
}

pub(crate) fn near(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= b * tolerance
}

/// §5.3.1–5.3.3: Startup doubles the rate each round until the
/// bandwidth stops growing, Drain empties the queue it built, and
/// ProbeBW settles with the model at the bottleneck: bw within a few
/// per cent, the window about two BDPs, the pacing rate about bw.
#[test]
fn startup_finds_the_bottleneck_then_probe_bw_keeps_it() {
    let mut p = Path::new(12_500_000.0, 20); // 100 Mbit/s, 20 ms
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    let mut states = vec![b.state];
    for _ in 0..60 {
        for s in p.round(&mut b, Duration::ZERO) {
            if states.last() != Some(&s) {
                states.push(s);
            }
        }
    }
    // Drain lasts while the queue Startup built is there (it may be
    // gone at the very ACK Startup ends); Startup never comes back.
    assert_eq!(states[0], State::Startup);
    assert!(!states[1..].contains(&State::Startup), "{states:?}");
    assert!(b.state.probe_bw(), "{:?}", b.state);
    let info = b.info();
    assert!(near(info.bw as f64, p.bw, 0.05), "bw {}", info.bw);
    assert_eq!(info.min_rtt, Some(p.rtt));
    assert!(
        near(b.cwnd() as f64, 2.0 * p.bdp(), 0.25),
        "cwnd {} for a BDP of {}",
        b.cwnd(),
        p.bdp()
    );
    let rate = b.pacing_rate().unwrap() as f64;
    assert!(rate >= 0.85 * p.bw && rate <= 1.3 * p.bw, "pacing {rate}");
}

/// §5.3.4: when the minimum RTT has not been seen again for 5 s, the
/// window falls to half a BDP for ProbeRTT (at least 200 ms and a
/// round), then ProbeBW resumes.
#[test]
fn probe_rtt_after_five_seconds_without_a_new_minimum() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    for _ in 0..30 {
        p.round(&mut b, Duration::ZERO);
    }
    let mut probe_rtt_cwnd = None;
    let start = p.now;
    while p.now.saturating_since(start) < Duration::from_secs(7) {
        p.round(&mut b, Duration::from_millis(5));
        if b.state == State::ProbeRtt {
            probe_rtt_cwnd = Some(probe_rtt_cwnd.unwrap_or(usize::MAX).min(b.cwnd()));
        }
    }
    let low = probe_rtt_cwnd.expect("ProbeRTT entered");
    assert!(
        near(low as f64, 0.5 * p.bdp(), 0.3),
        "ProbeRTT window {low} for a BDP of {}",
        p.bdp()
    );
    assert!(b.state.probe_bw(), "ProbeBW resumed: {:?}", b.state);
}

/// §5.5.10: more than 2 % of the flight lost while probing bounds the
/// long-term inflight; a loss proved spurious (§5.5.11) takes the
/// bound back.
#[test]
fn loss_while_probing_bounds_inflight_and_undo_lifts_it() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    while b.state != State::ProbeBwUp {
        p.round(&mut b, Duration::ZERO);
        assert!(p.now < Instant::from_secs(30), "never probed up");
    }
    assert_eq!(b.info().inflight_longterm, None);
    let flight = b.cwnd();
    b.on_congestion(p.now, Congestion::FastRetransmit, flight, flight, MSS);
    // Three per cent of the flight.
    let lost = (flight / MSS * 3 / 100) as u64;
    for k in 1..=lost {
        b.on_lost(
            p.now,
            &LostPacket {
                bytes: MSS,
                tx_in_flight: flight,
                lost_before: 0,
                lost_total: k * MSS as u64,
                app_limited: false,
            },
        );
    }
    let bound = b.info().inflight_longterm.expect("bounded");
    assert!(bound <= flight as u64, "{bound} above the flight {flight}");
    assert_eq!(b.state, State::ProbeBwDown, "the probe ends at the loss");
    b.on_spurious(p.now);
    assert_eq!(b.info().inflight_longterm, None);
    assert_ne!(b.state, State::ProbeBwDown, "the probe resumes");
}

/// §5.3.1.3: heavy loss in Startup (six loss events and over 2 % of
/// the flight in a round, in recovery) ends it before the bandwidth
/// plateaus, with the long-term bound set.
#[test]
fn startup_ends_on_heavy_loss() {
    // A path far faster than the rounds measured so far.
    let mut p = Path::new(1e10, 20);
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    for _ in 0..4 {
        p.round(&mut b, Duration::ZERO);
    }
    assert_eq!(b.state, State::Startup);
    p.lossy = 10;
    for _ in 0..3 {
        p.round(&mut b, Duration::ZERO);
    }
    assert_ne!(b.state, State::Startup);
    assert!(b.info().inflight_longterm.is_some());
}

/// Loopback's MSS (65483) is more than half of the 64 KB send quantum:
/// two segments win (§5.6.1), and nothing panics.
#[test]
fn a_loopback_mss_is_two_segments_of_quantum() {
    let mss = 65_483;
    let mut b = Bbr::new(10 * mss, mss, 1);
    assert_eq!(b.send_quantum(), 2.0 * mss as f64);
    b.on_ack(&AckEvent {
        smss: mss,
        rate: Some(RateSample {
            delivered: mss as u64,
            prior_delivered: 0,
            interval: Duration::from_micros(100),
            rate: Some(1_000_000_000),
            app_limited: false,
            tx_in_flight: mss,
            lost: 0,
            newly_acked: mss,
            rtt: Some(Duration::from_micros(100)),
        }),
        ..ack(mss)
    });
    assert!(b.cwnd() >= 4 * mss);
}

/// §5.6.4.4: the window saved at a timeout comes back when the
/// timeout's episode ends, as after a fast recovery.
#[test]
fn the_window_comes_back_after_a_timeout_episode() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    for _ in 0..20 {
        p.round(&mut b, Duration::ZERO);
    }
    let before = b.cwnd();
    b.on_congestion(p.now, Congestion::Timeout, before, before, MSS);
    assert_eq!(b.cwnd(), MSS);
    // The retransmission leaves with nothing thought in flight: no
    // restart from idle (§5.4.2 is about an idle connection).
    b.on_sent(p.now, MSS, 0);
    assert!(!b.idle_restart);
    b.on_loss_end(p.now);
    assert!(!b.in_recovery);
    assert!(b.cwnd() >= before, "{} < {before}", b.cwnd());
}

/// A connection that starts late on the clock does not think its
/// first RTT sample is five seconds old (no ProbeRTT at the start).
#[test]
fn a_late_start_is_not_a_stale_min_rtt() {
    let mut p = Path::new(12_500_000.0, 20);
    p.now = Instant::from_secs(29);
    let mut b = Bbr::new(10 * MSS, MSS, 7);
    for _ in 0..100 {
        let states = p.round(&mut b, Duration::ZERO);
        assert!(
            !states.contains(&State::ProbeRtt),
            "ProbeRTT at {:?}",
            p.now
        );
    }
    assert!(b.state.probe_bw());
}

/// The same seed gives the same probing schedule; BBR's state is a
/// function of its inputs.
#[test]
fn runs_are_reproducible() {
    let run = |seed| {
        let mut p = Path::new(5_000_000.0, 30);
        let mut b = Bbr::new(10 * MSS, MSS, seed);
        let mut trace = Vec::new();
        for _ in 0..400 {
            p.round(&mut b, Duration::ZERO);
            trace.push((b.state, b.cwnd(), b.pacing_rate));
        }
        trace
    };
    assert_eq!(run(1), run(1));
}
