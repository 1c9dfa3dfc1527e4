//! BBRv1's state machine, on the fluid path of BBRv3's tests.
use super::super::bbr::tests::{near, Model, Path, MSS};
use super::super::congestion::tests::ack;
use super::*;

/// The state, and ProbeBW's phase (seen after every ACK).
impl Model for Bbr1 {
    type State = (State, usize);
    fn state(&self) -> (State, usize) {
        (self.state, self.cycle_index)
    }
    fn pacing(&self) -> f64 {
        self.pacing_rate
    }
    fn recovering(&self) -> bool {
        self.in_recovery
    }
}

/// The distinct states a run of `rounds` rounds passed through.
fn run(p: &mut Path, b: &mut Bbr1, rounds: usize) -> Vec<State> {
    let mut states = vec![b.state];
    for _ in 0..rounds {
        for (s, _) in p.round(b, Duration::ZERO) {
            if states.last() != Some(&s) {
                states.push(s);
            }
        }
    }
    states
}

/// §4.3.2–4.3.4: Startup, Drain, then ProbeBW with the model at the
/// bottleneck — bandwidth within a few per cent, the window two BDPs
/// and the quantization allowance, the pacing rate about the bandwidth.
#[test]
fn startup_drain_then_probe_bw_at_the_bottleneck() {
    let mut p = Path::new(12_500_000.0, 20); // 100 Mbit/s, 20 ms
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    let states = run(&mut p, &mut b, 60);
    assert_eq!(states[0], State::Startup);
    assert!(!states[1..].contains(&State::Startup), "{states:?}");
    assert_eq!(b.state, State::ProbeBw, "{states:?}");
    let info = b.info();
    assert!(near(info.bw as f64, p.bw, 0.05), "bw {}", info.bw);
    assert_eq!(info.min_rtt, Some(p.rtt));
    assert_eq!(info.cwnd_gain, 2.0);
    assert!(
        near(b.cwnd() as f64, 2.0 * p.bdp(), 0.25),
        "cwnd {} for a BDP of {}",
        b.cwnd(),
        p.bdp()
    );
    let rate = b.pacing_rate().unwrap() as f64;
    assert!(rate >= 0.7 * p.bw && rate <= 1.3 * p.bw, "pacing {rate}");
}

/// §4.3.4.2–4.3.4.3: the eight phases in order, each about a minimum
/// RTT; the cycle never starts in the draining phase, and the probing
/// phase lasts until the flight reaches 5/4 of the BDP or a loss says
/// the path is full.
#[test]
fn probe_bw_cycles_through_its_eight_gains() {
    for seed in 1..50 {
        let mut b = Bbr1::new(10 * MSS, MSS, seed);
        b.enter_probe_bw(Instant::ZERO);
        assert_ne!(b.pacing_gain, 0.75, "seed {seed} starts draining");
    }
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr1::new(10 * MSS, MSS, 3);
    run(&mut p, &mut b, 40);
    assert_eq!(b.state, State::ProbeBw);
    // The probe, a minimum RTT on: a flight short of 5/4 BDP keeps it,
    // one at 5/4 BDP (with the quantization allowance) ends it.
    b.cycle_index = 0;
    b.pacing_gain = 1.25;
    b.cycle_stamp = p.now;
    let later = p.now + p.rtt + Duration::from_millis(1);
    let probe = b.inflight(1.25).ceil() as usize;
    let at = |prior_in_flight| AckEvent {
        now: later,
        prior_in_flight,
        ..ack(MSS)
    };
    b.check_cycle_phase(&at(probe - MSS));
    assert_eq!(b.pacing_gain, 1.25);
    b.check_cycle_phase(&at(probe));
    assert_eq!(b.pacing_gain, 0.75);
    // The draining phase ends as soon as the flight is one BDP, before
    // its minimum RTT is up.
    b.cycle_stamp = later;
    b.check_cycle_phase(&at(b.inflight(1.0) as usize));
    assert_eq!((b.cycle_index, b.pacing_gain), (2, 1.0));
    // The fluid path keeps no queue, so its flight never grows past
    // 5/4 BDP: a loss every 50 segments ends each probe instead. Each
    // phase lasts about a minimum RTT (the draining one less): a probe
    // every eight, or seven, round trips.
    p.lossy = 50;
    let mut indexes = vec![b.cycle_index];
    let start = p.now;
    while p.now.saturating_since(start) < Duration::from_millis(20 * 24) {
        for (_, i) in p.round(&mut b, Duration::ZERO) {
            if indexes.last() != Some(&i) {
                indexes.push(i);
            }
        }
    }
    for w in indexes.windows(2) {
        assert_eq!(w[1], (w[0] + 1) % 8, "{indexes:?}");
    }
    let probes = indexes.iter().filter(|&&i| i == 0).count();
    assert!((3..=4).contains(&probes), "{indexes:?}");
}

/// §4.3.5: with the minimum RTT not seen again for 10 s, ProbeRTT holds
/// four segments for 200 ms; the window comes back after it.
#[test]
fn probe_rtt_after_ten_seconds_holds_four_segments() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    run(&mut p, &mut b, 30);
    let before = b.cwnd();
    let start = p.now;
    let (mut entered, mut left, mut low) = (None, None, usize::MAX);
    while p.now.saturating_since(start) < Duration::from_secs(12) {
        p.round(&mut b, Duration::from_millis(5));
        if b.state == State::ProbeRtt {
            entered.get_or_insert(p.now);
            low = low.min(b.cwnd());
        } else if entered.is_some() && left.is_none() {
            left = Some(p.now);
        }
    }
    let entered = entered.expect("ProbeRTT entered");
    assert!(
        entered.saturating_since(start) > Duration::from_secs(9),
        "ProbeRTT after {:?}",
        entered.saturating_since(start)
    );
    assert_eq!(low, 4 * MSS);
    let left = left.expect("ProbeRTT left");
    assert!(left.saturating_since(entered) >= Duration::from_millis(200));
    assert_eq!(b.state, State::ProbeBw);
    // The window saved on entry came back (a little under, if this ACK
    // found the flow in its draining phase).
    assert!(
        b.cwnd() >= before * 9 / 10,
        "{} after, {before} before",
        b.cwnd()
    );
    assert!(near(b.info().bw as f64, p.bw, 0.05), "bw {}", b.info().bw);
}

/// An ACK for `b` at `now` delivering one segment, with `in_flight` left
/// and `lost` newly marked lost; `fresh`: its newest segment was sent
/// after the last ACK (a new round may start at it).
fn one_ack(b: &Bbr1, now: Instant, in_flight: usize, lost: usize, fresh: bool) -> AckEvent {
    AckEvent {
        now,
        lost,
        in_flight,
        prior_in_flight: in_flight + MSS + lost,
        rate: Some(RateSample {
            delivered: MSS as u64,
            prior_delivered: if fresh { b.delivered } else { 0 },
            interval: Duration::from_millis(20),
            rate: None,
            app_limited: false,
            tx_in_flight: in_flight,
            lost: lost as u64,
            newly_acked: MSS,
            rtt: None,
        }),
        ..ack(MSS)
    }
}

/// §4.3.5: ProbeRTT lasts 200 ms and at least a round trip: with the
/// 200 ms over but no round completed, it holds on.
#[test]
fn probe_rtt_lasts_a_round_as_well() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    run(&mut p, &mut b, 30);
    while b.state != State::ProbeRtt {
        p.round(&mut b, Duration::from_millis(5));
    }
    let mut now = p.now;
    // Down to four segments: the 200 ms start.
    b.on_ack(&one_ack(&b, now, 3 * MSS, 0, false));
    assert!(b.probe_rtt_done_stamp.is_some());
    // Half a second of ACKs from before the round's start.
    for _ in 0..50 {
        now += Duration::from_millis(10);
        b.on_ack(&one_ack(&b, now, 3 * MSS, 0, false));
        assert_eq!(b.state, State::ProbeRtt, "left before a round");
    }
    // The first ACK of the next round ends it.
    now += Duration::from_millis(10);
    b.on_ack(&one_ack(&b, now, 3 * MSS, 0, true));
    assert_eq!(b.state, State::ProbeBw);
}

/// §4.3.5: what is sent in ProbeRTT counts as application-limited, so
/// its four segments' low rate does not replace the bandwidth estimate
/// even when ProbeRTT outlasts the filter's ten rounds (rounds of a
/// short RTT, or a ProbeRTT that waited for a deep queue to drain).
#[test]
fn probe_rtt_samples_do_not_pull_the_bandwidth_down() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    run(&mut p, &mut b, 30);
    while b.state != State::ProbeRtt {
        p.round(&mut b, Duration::from_millis(5));
        assert!(p.now < Instant::from_secs(20), "no ProbeRTT");
    }
    let bw = b.info().bw;
    let mut rounds = 0;
    let mut now = p.now;
    while b.state == State::ProbeRtt {
        // Every ACK a round of its own: four segments in 5 ms.
        now += Duration::from_millis(5);
        let prior = b.delivered;
        b.on_ack(&AckEvent {
            now,
            in_flight: 3 * MSS,
            prior_in_flight: 4 * MSS,
            rate: Some(RateSample {
                delivered: 4 * MSS as u64,
                prior_delivered: prior,
                interval: Duration::from_millis(5),
                rate: Some(800_000),
                app_limited: false,
                tx_in_flight: 4 * MSS,
                lost: 0,
                newly_acked: MSS,
                rtt: None,
            }),
            ..ack(MSS)
        });
        rounds += 1;
        assert_eq!(b.info().bw, bw, "after {rounds} rounds of ProbeRTT");
        assert!(rounds < 100, "ProbeRTT never ends");
    }
    assert!(rounds > 2 * BTL_BW_FILTER_ROUNDS, "{rounds} rounds");
}

/// §4.1 and §4.2.3.4: loss is not a signal to v1. Startup ends at the
/// plateau, not at the loss (v3 ends it at heavy loss), and the model
/// keeps the bottleneck's bandwidth with one ACK in ten reporting loss.
#[test]
fn ten_per_cent_loss_leaves_the_model_alone() {
    let mut p = Path::new(12_500_000.0, 20);
    p.lossy = 10;
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    while b.state == State::Startup {
        p.round(&mut b, Duration::ZERO);
        assert!(p.now < Instant::from_secs(5), "Startup never ends");
    }
    // It left Startup with the bottleneck's bandwidth found, not at the
    // first lossy round.
    assert!(near(b.bw(), p.bw, 0.05), "Startup ended at {}", b.bw());
    let states = run(&mut p, &mut b, 60);
    assert_eq!(b.state, State::ProbeBw, "{states:?}");
    let info = b.info();
    assert!(near(info.bw as f64, p.bw, 0.05), "bw {}", info.bw);
    assert!(b.cwnd() as f64 >= p.bdp(), "cwnd {}", b.cwnd());
}

/// §4.2.3.4: fast recovery conserves packets for a round — the window
/// is what is still in flight and what each ACK delivers, with room for
/// the fast retransmit as it begins — lost bytes come off the window
/// after that (once: the connection's pipe excludes them already), and
/// the window saved at the start comes back at the end. A timeout's
/// window is one segment.
#[test]
fn recovery_conserves_packets_then_restores_the_window() {
    let mut p = Path::new(12_500_000.0, 20);
    let mut b = Bbr1::new(10 * MSS, MSS, 7);
    run(&mut p, &mut b, 40);
    let before = b.cwnd();
    let now = p.now;
    // Three segments found lost: pipe is the flight without them.
    let pipe = before / 2;
    b.on_congestion(now, Congestion::FastRetransmit, before, pipe, MSS);
    assert_eq!(b.cwnd(), pipe + MSS, "room for the retransmission");
    // The ACK that began it (its losses already out of the pipe), even
    // one whose newest segment is fresh enough to start a round.
    let round = b.round_count;
    b.on_ack(&one_ack(&b, now, pipe, 3 * MSS, true));
    assert_eq!(b.cwnd(), pipe + MSS);
    assert!(b.conservation, "conservation starts after the first ACK");
    // A duplicate ACK without SACK delivers nothing: one segment of room
    // all the same.
    let mut c = b.clone();
    c.entering_recovery = true;
    c.on_ack(&AckEvent {
        delivered: 0,
        acked: 0,
        ..one_ack(&c, now, pipe, 0, false)
    });
    assert_eq!(c.cwnd(), pipe + MSS);
    // Within the round, a further loss: what is in flight and was
    // delivered may still go out.
    b.on_ack(&one_ack(&b, now, pipe - 2 * MSS, MSS, false));
    assert_eq!(b.cwnd(), pipe + MSS - MSS);
    assert!(b.conservation);
    // The round ends: conservation is over, and the window grows again
    // (the pipe is full, so towards the target, two BDPs).
    b.on_ack(&one_ack(&b, now, pipe - 2 * MSS, 0, true));
    assert!(!b.conservation);
    assert!(b.round_count > round);
    assert_eq!(b.cwnd(), pipe + MSS);
    b.on_recovery_end(now, pipe, MSS);
    assert_eq!(b.cwnd(), before);
    // A timeout: one segment, and the window back when its episode ends.
    b.on_congestion(now, Congestion::Timeout, before, before, MSS);
    assert_eq!(b.cwnd(), MSS);
    // Its retransmission leaves with nothing thought in flight; that is
    // no restart from idle.
    b.on_sent(now, MSS, 0);
    assert!(!b.idle_restart);
    b.on_loss_end(now);
    assert_eq!(b.cwnd(), before);
}

/// The same seed, the same run.
#[test]
fn runs_are_reproducible() {
    let trace = |seed| {
        let mut p = Path::new(5_000_000.0, 30);
        let mut b = Bbr1::new(10 * MSS, MSS, seed);
        (0..400)
            .map(|_| {
                p.round(&mut b, Duration::ZERO);
                (b.state, b.cwnd(), b.pacing_rate)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(trace(1), trace(1));
    // Seeds that start ProbeBW in different phases run differently.
    let phase = |seed| {
        let mut b = Bbr1::new(10 * MSS, MSS, seed);
        b.enter_probe_bw(Instant::ZERO);
        b.cycle_index
    };
    let other = (2..100).find(|&s| phase(s) != phase(1)).expect("a seed");
    assert_ne!(trace(1), trace(other));
}
