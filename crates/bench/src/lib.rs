//! Shared timing for the benchmarks (see benches/tcp_vs_smoltcp.rs and
//! benches/forwarding.rs): wall and CPU time of a run, and the median and
//! spread of several.

use std::time::{Duration, Instant as WallClock};

/// Time on the CPU of this thread so far (the scheduler's count, in ns).
pub fn cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Wall and CPU time of one run.
#[derive(Debug, Clone, Copy)]
pub struct Took {
    pub wall: Duration,
    pub cpu: Duration,
}

impl Took {
    /// From `start` (wall, CPU) until now.
    pub fn since(start: (WallClock, Duration)) -> Took {
        Took {
            wall: start.0.elapsed(),
            cpu: cpu_time().saturating_sub(start.1),
        }
    }
}

/// Wall and CPU time now, to measure from.
pub fn start() -> (WallClock, Duration) {
    (wall_clock(), cpu_time())
}

/// The one place that reads the real clock: a benchmark measures wall time.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time"
)]
fn wall_clock() -> WallClock {
    WallClock::now()
}

/// Median, lowest and highest of `work / time` over the runs.
pub fn spread(work: f64, runs: &[Took], cpu: bool) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs
        .iter()
        .map(|t| work / if cpu { t.cpu } else { t.wall }.as_secs_f64().max(1e-9))
        .collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}
