//! How fast the simulator runs one 1 Gbit/s TCP flow (issue 13's aim).
//!
//! `cargo bench -p tcplab-sim --bench tcp_flow`
//!
//! client – r1 – r2 – server, every link 1 Gbit/s (1 ms, 5 ms, 1 ms: a
//! 14 ms round trip) with 4 MiB socket buffers and CUBIC, the client
//! writing as fast as it can to a sink on the server. After a warm-up of
//! 1 s of virtual time (slow start is over), it simulates SECONDS more and
//! reports how many times faster than real time that ran, the simulator's
//! events and the datagrams forwarded by the routers per second of wall
//! time, and the flow's goodput (to show the flow filled the path). RUNS
//! runs; the median with the lowest and highest.

#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use tcplab_sim::bulk::BulkApps;
use tcplab_sim::{load, Sim, SimOptions};
use tcplab_stack::Instant;

const RUNS: usize = 5;
const WARMUP_SECS: u64 = 1;
const SECONDS: u64 = 3;

const PATH: &str = r#"
seed = 1
end = "1h"
[[host]]
name = "client"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[host.tcp]
recv_buffer = 4194304
send_buffer = 4194304
[[host]]
name = "server"
addr = "10.0.3.2/24"
gateway = "10.0.3.1"
[host.tcp]
recv_buffer = 4194304
send_buffer = 4194304
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.12.1/30"]
[[router]]
name = "r2"
addrs = ["10.0.12.2/30", "10.0.3.1/24"]
[[link]]
ends = ["client", "r1"]
delay = "1ms"
rate = "1Gbit"
[[link]]
ends = ["r1", "r2"]
delay = "5ms"
rate = "1Gbit"
[[link]]
ends = ["r2", "server"]
delay = "1ms"
rate = "1Gbit"
[[run]]
at = "0s"
on = "server"
cmd = "sink 5001"
[[run]]
at = "0.01s"
on = "client"
cmd = "source server 5001"
"#;

/// One run: (× real time, events per wall-second, forwarded datagrams per
/// wall-second, goodput in Mbit/s).
fn run() -> (f64, f64, f64, f64) {
    let scenario = load("tcp_flow.toml", PATH).expect("the benchmark's scenario");
    let mut sim = Sim::new(&scenario, &SimOptions::default()).expect("build");
    let apps = BulkApps::new(1);
    sim.run_until(Instant::from_secs(WARMUP_SECS), &apps);
    let forwarded = |sim: &Sim| -> u64 {
        ["r1", "r2"]
            .iter()
            .filter_map(|r| sim.host(r))
            .map(|h| h.with_stack(|s| s.stats().ip.forw_datagrams))
            .sum()
    };
    let (bytes0, events0, fwd0) = (apps.received(0), sim.events(), forwarded(&sim));
    let t0 = tcplab_bench_clock::now();
    sim.run_until(Instant::from_secs(WARMUP_SECS + SECONDS), &apps);
    let wall = t0.elapsed().as_secs_f64().max(1e-9);
    let goodput = (apps.received(0) - bytes0) as f64 * 8.0 / SECONDS as f64 / 1e6;
    (
        SECONDS as f64 / wall,
        (sim.events() - events0) as f64 / wall,
        (forwarded(&sim) - fwd0) as f64 / wall,
        goodput,
    )
}

/// The one place that reads the real clock: a benchmark measures wall time.
mod tcplab_bench_clock {
    #[expect(
        clippy::disallowed_methods,
        reason = "a benchmark measures wall-clock time"
    )]
    pub fn now() -> std::time::Instant {
        std::time::Instant::now()
    }
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    // `cargo test --benches` runs this without --bench: no measurement.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: Vec<_> = (0..RUNS).map(|_| run()).collect();
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| median(runs.iter().map(f).collect());
    let (x, xl, xh) = col(|r| r.0);
    let (e, el, eh) = col(|r| r.1);
    let (p, pl, ph) = col(|r| r.2);
    let (g, gl, gh) = col(|r| r.3);
    println!("\none TCP flow, 1 Gbit/s, client–r1–r2–server, {SECONDS} s of virtual time after {WARMUP_SECS} s: median (lowest–highest) of {RUNS} runs\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!("| × real time | {x:.2} ({xl:.2}–{xh:.2}) |");
    println!(
        "| simulator events per wall-second | {:.2} M ({:.2}–{:.2}) |",
        e / 1e6,
        el / 1e6,
        eh / 1e6
    );
    println!(
        "| datagrams forwarded by the routers per wall-second | {:.2} M ({:.2}–{:.2}) |",
        p / 1e6,
        pl / 1e6,
        ph / 1e6
    );
    println!("| the flow's goodput, Mbit/s | {g:.0} ({gl:.0}–{gh:.0}) |");
}
