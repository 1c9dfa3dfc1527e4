//! Recording for reports (issue 14): every transition of the state
//! machine, as the connection took it, and congestion-control samples.

use std::time::Duration;

use super::pair::{sa, Faults, Pair, B};
use super::transfer::{connect, transfer};
use crate::tcp::{State, Timer, TraceEvent};

fn states(trace: &[TraceEvent]) -> Vec<String> {
    trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Open { passive, state, .. } => Some(format!(
                "{}->{state:?}",
                if *passive { "Listen" } else { "Closed" }
            )),
            TraceEvent::State { from, to, .. } => Some(format!("{from:?}->{to:?}")),
            TraceEvent::Cc { .. } | TraceEvent::Timer { .. } => None,
        })
        .collect()
}

#[test]
fn the_whole_life_of_a_connection_is_recorded_on_both_sides() {
    let mut p = Pair::new(14, 1500, |_| {});
    p.a.set_tracing(true);
    p.b.set_tracing(true);
    let (c, s) = connect(&mut p);
    let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    p.faults = Faults {
        loss: 0.02,
        ..Faults::default()
    };
    let got = transfer(&mut p, c, s, &data, Duration::from_secs(120));
    assert_eq!(got, data);
    p.faults = Faults::default();
    p.b.tcp_close(p.now, s);
    p.a.tcp_close(p.now, c);
    // Past TIME-WAIT: the client's connection is removed, and what it
    // recorded is still reported.
    p.run_for(Duration::from_secs(300));
    assert_eq!(
        states(&p.trace.0),
        [
            "Closed->SynSent",
            "SynSent->Established",
            "Established->FinWait1",
            "FinWait1->FinWait2",
            "FinWait2->TimeWait",
            "TimeWait->Closed"
        ]
    );
    assert_eq!(
        states(&p.trace.1),
        [
            "Listen->SynReceived",
            "SynReceived->Established",
            "Established->CloseWait",
            "CloseWait->LastAck",
            "LastAck->Closed"
        ]
    );
    // Times never go backwards, and TIME-WAIT lasted 2·MSL.
    let time = |e: &TraceEvent| e.time();
    assert!(p.trace.0.windows(2).all(|w| time(&w[0]) <= time(&w[1])));
    let at = |to: State| {
        p.trace
            .0
            .iter()
            .find(|e| matches!(e, TraceEvent::State { to: t, .. } if *t == to))
            .map(time)
            .unwrap()
    };
    assert_eq!(
        at(State::Closed) - at(State::TimeWait),
        Duration::from_secs(60)
    );
    // The timers that fired: 2·MSL ended TIME-WAIT, at the same moment.
    let fired: Vec<(Timer, crate::Instant)> = p
        .trace
        .0
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Timer { timer, time, .. } => Some((*timer, *time)),
            _ => None,
        })
        .collect();
    assert!(
        fired.contains(&(Timer::TimeWait, at(State::Closed))),
        "{fired:?}"
    );

    // The sender's samples: the window grew, losses cut it, and the RTT
    // estimate settled near the pipe's 20 ms.
    let samples: Vec<_> = p
        .trace
        .0
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Cc { sample, .. } => Some(*sample),
            _ => None,
        })
        .collect();
    assert!(samples.len() > 20, "{} samples", samples.len());
    assert!(
        samples.windows(2).all(|w| w[0] != w[1]),
        "only changes are reported"
    );
    let max = samples.iter().map(|s| s.cwnd).max().unwrap();
    assert!(max > samples[0].cwnd);
    assert!(samples.iter().any(|s| s.ssthresh.is_some()));
    assert!(samples
        .iter()
        .any(|s| s.ca_state == "recovery" || s.ca_state == "loss"));
    let srtt = samples.iter().rev().find_map(|s| s.srtt_us).unwrap();
    assert!((15_000..40_000).contains(&srtt), "srtt {srtt} µs");
}

#[test]
fn nothing_is_recorded_unless_asked() {
    let mut p = Pair::new(3, 1500, |_| {});
    let (c, s) = connect(&mut p);
    let got = transfer(&mut p, c, s, b"hello", Duration::from_secs(10));
    assert_eq!(got, b"hello");
    assert!(p.trace.0.is_empty() && p.trace.1.is_empty());
    // Turned on later, it follows connections made from then on only.
    p.a.set_tracing(true);
    p.b.set_tracing(true);
    let _ = p.b.tcp_listen(sa(B, 81), 1).unwrap();
    let c2 = p.a.tcp_connect(p.now, sa(B, 81), None).unwrap();
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.tcp_info(c2).unwrap().state, State::Established);
    assert_eq!(
        states(&p.trace.0),
        ["Closed->SynSent", "SynSent->Established"]
    );
    assert_eq!(
        states(&p.trace.1),
        ["Listen->SynReceived", "SynReceived->Established"]
    );
}

#[test]
fn retransmission_timeouts_are_recorded_as_they_fire() {
    let mut p = Pair::new(9, 1500, |_| {});
    p.a.set_tracing(true);
    let (c, _s) = connect(&mut p);
    // Everything is lost for a while: the retransmission timer fires,
    // backing off (RFC 6298 §5.5), until the path comes back.
    p.faults = Faults {
        loss: 1.0,
        ..Faults::default()
    };
    p.a.tcp_send(c, b"hello").unwrap();
    p.run_for(Duration::from_secs(4));
    p.faults = Faults::default();
    p.run_for(Duration::from_secs(10));
    let rto: Vec<crate::Instant> = p
        .trace
        .0
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Timer {
                timer: Timer::Retransmit,
                time,
                ..
            } => Some(*time),
            _ => None,
        })
        .collect();
    assert!(rto.len() >= 2, "{rto:?}");
    // Each wait at least as long as the one before.
    let gaps: Vec<_> = rto.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
}
