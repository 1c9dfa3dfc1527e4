//! The simulator core's own tests.

use super::*;

/// Datagrams for a neighbour being resolved wait together, at most
/// `NEIGHBOUR_QUEUE` of them (the newest), and all are answered when
/// the resolution gives up; the next begins a new try.
#[test]
fn a_neighbour_being_resolved_holds_a_bounded_queue() {
    let scenario =
        crate::scenario::load("t.toml", "[[host]]\nname = \"a\"\naddr = \"10.0.0.1/24\"\n")
            .unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let t = Transmit {
        iface: IfaceId(0),
        next_hop: Ipv4Addr::new(10, 0, 0, 9),
        len: 1,
    };
    for i in 0..NEIGHBOUR_QUEUE + 10 {
        sim.no_neighbour(0, &t, vec![i as u8]);
    }
    let key = (0, t.iface, t.next_hop);
    let held = &sim.resolving[&key];
    assert_eq!(held.len(), NEIGHBOUR_QUEUE);
    assert_eq!(held.front(), Some(&vec![10u8]));
    // One event for the whole queue, at the timeout.
    assert_eq!(sim.queue.len(), 1);
    struct NoCommands;
    impl Commands for NoCommands {
        fn check(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn start(&self, _: &Host, _: &str) -> Result<Started, String> {
            Err("none".into())
        }
    }
    sim.run_until(Instant::ZERO + NEIGHBOUR_TIMEOUT, &NoCommands);
    assert!(sim.resolving.is_empty());
    sim.no_neighbour(0, &t, vec![0]);
    assert_eq!(sim.resolving[&key].len(), 1);
}

/// Output past `TRANSCRIPT_KEEP_BYTES` is counted, not kept; the
/// other events are always kept.
#[test]
fn the_kept_transcript_is_bounded() {
    let mut kept = Kept::default();
    let line = |text: String| {
        TranscriptEvent::Output(OutputLine {
            time: Instant::ZERO,
            host: "a".into(),
            pid: 1,
            stream: tcplab_host::Stream::Stdout,
            text,
        })
    };
    let chunk = "x".repeat(1 << 20);
    for _ in 0..20 {
        kept.push(line(chunk.clone()));
    }
    kept.push(TranscriptEvent::Say {
        time: Instant::ZERO,
        text: "still kept".into(),
    });
    assert_eq!(kept.events.len(), 17);
    assert_eq!(kept.dropped, 4);
    assert!(kept.output_bytes <= TRANSCRIPT_KEEP_BYTES);
    assert!(matches!(
        kept.events.last(),
        Some(TranscriptEvent::Say { .. })
    ));
}
