//! The TCP-over-TCP meltdown, measured: one inner TCP bulk transfer
//! (client → server, CUBIC with SACK) crosses an outer path between two
//! tunnel gateways that loses packets, with no tunnel, through a UDP tunnel
//! and through a TCP tunnel, at several losses and round-trip times, several
//! seeds each.
//!
//! ```text
//! client ── gwA ═══ outer path: 10 Mbit/s, RTT, loss p each way ═══ gwB ── server
//! ```
//!
//! The table is a reviewable snapshot, like docs/goodput.md:
//! `docs/tunnels.md` holds what this test prints, and the test fails when
//! the numbers change (regenerate with `UPDATE_SNAPSHOTS=1 cargo test
//! --release -p tcplab-tools --test meltdown -- --include-ignored`).
#![allow(clippy::print_stderr)]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::Stream;
use tcplab_sim::{load_checked, Commands, Sim, SimOptions, TranscriptEvent};
use tcplab_stack::Instant;
use tcplab_tools::Tools;

const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB_A: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const KEY_B: &str = "WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=";
const PUB_B: &str = "K5sF9yESrSBsOXPd6TcpKNgqoy1Ik3ZFKl4FolzrRyI=";

/// How the inner flow crosses the outer path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Plain,
    Udp,
    Wg,
    Tcp,
    WgOverTcp,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Plain => "no tunnel",
            Via::Udp => "UDP tunnel",
            Via::Wg => "WireGuard",
            Via::Tcp => "TCP tunnel",
            Via::WgOverTcp => "WireGuard over TCP",
        }
    }
}

/// The outer gateways' TCP (what carries the TCP tunnel).
#[derive(Debug, Clone, Copy)]
struct Outer {
    label: &'static str,
    congestion: &'static str,
    sack: bool,
}

const CUBIC: Outer = Outer {
    label: "CUBIC+SACK",
    congestion: "cubic",
    sack: true,
};

const OUTERS: [Outer; 4] = [
    Outer {
        label: "NewReno",
        congestion: "newreno",
        sack: false,
    },
    Outer {
        label: "NewReno+SACK",
        congestion: "newreno",
        sack: true,
    },
    CUBIC,
    Outer {
        label: "BBR",
        congestion: "bbr",
        sack: true,
    },
];

/// Bytes the inner flow moves, and how long a run may take.
const SIZE: u64 = 8_000_000;
const LIMIT: Duration = Duration::from_secs(600);
const RATE_MBIT: f64 = 10.0;

/// One point of the experiment.
#[derive(Debug, Clone, Copy)]
struct Case {
    via: Via,
    loss_pct: f64,
    rtt_ms: u64,
    seed: u64,
    outer: Outer,
    /// Inner flows at once, SIZE / flows bytes each.
    flows: u64,
}

fn scenario(c: Case) -> String {
    let Case {
        via,
        loss_pct,
        rtt_ms,
        seed,
        outer,
        flows,
    } = c;
    // The outer link carries all but 1 ms of the round trip (0.25 ms on
    // each LAN link, each way).
    let one_way_us = rtt_ms * 500 - 500;
    // A queue of one BDP (at least 20 packets).
    let bdp_packets = ((RATE_MBIT * 1e6 / 8.0 * rtt_ms as f64 / 1000.0) / 1500.0).ceil() as u64;
    let queue = bdp_packets.max(20);
    let loss = if loss_pct > 0.0 {
        format!("loss = \"{loss_pct}%\"")
    } else {
        String::new()
    };
    let mut s = format!(
        r#"
seed = {seed}

[[host]]
name = "client"
addr = "10.1.0.2/24"
gateway = "10.1.0.1"

[[host]]
name = "server"
addr = "10.2.0.2/24"
gateway = "10.2.0.1"

[[router]]
name = "gwA"
addrs = ["10.1.0.1/24", "10.0.0.1/24"]
[router.tcp]
congestion = "{cc}"
sack = {sack}

[[router]]
name = "gwB"
addrs = ["10.0.0.2/24", "10.2.0.1/24"]
[router.tcp]
congestion = "{cc}"
sack = {sack}

[[link]]
ends = ["client", "gwA"]
delay = "250us"
rate = "1Gbit"

[[link]]
ends = ["gwA", "gwB"]
delay = "{one_way_us}us"
rate = "{RATE_MBIT}Mbit"
queue = {queue}
{loss}

[[link]]
ends = ["gwB", "server"]
delay = "250us"
rate = "1Gbit"

[[run]]
at = "0s"
on = "server"
cmd = "serve discard"
"#,
        cc = outer.congestion,
        sack = outer.sack,
    );
    let kind = match via {
        Via::Plain | Via::Wg | Via::WgOverTcp => None,
        Via::Udp => Some("udp"),
        Via::Tcp => Some("tcp"),
    };
    if matches!(via, Via::Wg | Via::WgOverTcp) {
        // The keys of wg(8)'s examples; the handshake's randomness comes
        // from the seed. The keepalive makes gwA shake hands at once, so
        // the transfer finds the tunnel up, as a long-lived VPN is. Over
        // TCP, gwA's WireGuard talks to a udp2tcp relay on its own
        // loopback, which carries the datagrams over TCP port 443 to gwB's
        // tcp2udp relay (mullvad's udp-over-tcp arrangement), with wg-quick's
        // MTU, since the outer path no longer bounds it.
        let (endpoint, mtu) = if via == Via::Wg {
            ("10.0.0.2:7000", "")
        } else {
            ("127.0.0.1:5000", " --mtu 1420")
        };
        let _ = write!(
            s,
            r#"
[[run]]
at = "0s"
on = "gwB"
cmd = "tunnel wg t0 10.9.0.2/24 --private-key {KEY_B} --listen-port 7000{mtu} --peer {PUB_A} --allowed-ips 10.9.0.1/32,10.1.0.0/24"

[[run]]
at = "0s"
on = "gwA"
cmd = "tunnel wg t0 10.9.0.1/24 --private-key {KEY_A}{mtu} --peer {PUB_B} --endpoint {endpoint} --allowed-ips 10.9.0.2/32,10.2.0.0/24 --persistent-keepalive 25"
"#
        );
        if via == Via::WgOverTcp {
            let _ = write!(
                s,
                r#"
[[run]]
at = "0s"
on = "gwB"
cmd = "tunnel tcp2udp --tcp-listen 443 --udp-forward 127.0.0.1:7000"

[[run]]
at = "0s"
on = "gwA"
cmd = "tunnel udp2tcp --udp-listen 5000 --tcp-forward 10.0.0.2:443"
"#
            );
        }
    }
    if let Some(kind) = kind {
        let _ = write!(
            s,
            r#"
[[run]]
at = "0s"
on = "gwB"
cmd = "tunnel {kind} t0 10.9.0.2/24 -l 7000 --route 10.1.0.0/24"

[[run]]
at = "0s"
on = "gwA"
cmd = "tunnel {kind} t0 10.9.0.1/24 -c 10.0.0.2:7000 --route 10.2.0.0/24"
"#
        );
    }
    for _ in 0..flows {
        let _ = write!(
            s,
            r#"
[[run]]
at = "1s"
on = "client"
cmd = "transfer -s {} 10.2.0.2"
"#,
            SIZE / flows
        );
    }
    s
}

/// What one run measured.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Seconds to move SIZE bytes (the transfer's own clock), or None
    /// when it did not finish within LIMIT.
    seconds: Option<f64>,
    /// Inner goodput, Mbit/s (bytes acknowledged over LIMIT if unfinished).
    goodput: f64,
    inner_retrans: u64,
    /// The inner connection's largest RTO while it ran, ms (once it had
    /// an RTT sample).
    inner_rto_max: f64,
    /// The inner connection's largest smoothed RTT, ms.
    inner_srtt_max: f64,
    /// Outer TCP segments retransmitted (TCP tunnel only).
    outer_retrans: u64,
}

fn run(via: Via, loss_pct: f64, rtt_ms: u64, seed: u64, outer: Outer) -> Run {
    run_case(Case {
        via,
        loss_pct,
        rtt_ms,
        seed,
        outer,
        flows: 1,
    })
}

fn run_case(c: Case) -> Run {
    let via = c.via;
    let each = SIZE / c.flows;
    let text = scenario(c);
    let sc = load_checked("meltdown.toml", &text, &|c| Tools.check(c))
        .unwrap_or_else(|e| panic!("scenario: {e}"));
    let mut sim = Sim::new(&sc, &SimOptions::default()).expect("build");
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = lines.clone();
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| {
        if let TranscriptEvent::Output(l) = ev {
            if &*l.host == "client" && l.stream == Stream::Stdout {
                sink.borrow_mut().push(l.text.clone());
            }
        }
    }));
    let mut r = Run::default();
    // Per inner connection (by local port): retransmissions, bytes acked.
    let mut inner: std::collections::BTreeMap<u16, (u64, u64)> = Default::default();
    let step = Duration::from_millis(20);
    let mut t = Instant::ZERO;
    let end = Instant::ZERO + Duration::from_secs(1) + LIMIT;
    while t < end {
        t += step;
        sim.run_until(t, &Tools);
        let client = sim.host("client").expect("client");
        client.with_stack(|s| {
            for (h, _) in s.tcp_sockets() {
                let Some(i) = s.tcp_info(h) else { continue };
                if i.remote.port() == 9 {
                    // Once measured: before the first sample the RTO is
                    // RFC 6298's initial 1 s.
                    if let Some(srtt) = i.srtt {
                        r.inner_rto_max = r.inner_rto_max.max(i.rto.as_secs_f64() * 1000.0);
                        r.inner_srtt_max = r.inner_srtt_max.max(srtt.as_secs_f64() * 1000.0);
                    }
                    let e = inner.entry(i.local.port()).or_default();
                    e.0 = e.0.max(i.retrans_segs);
                    e.1 = e.1.max(i.bytes_acked);
                }
            }
        });
        if matches!(via, Via::Tcp | Via::WgOverTcp) {
            sim.host("gwA").expect("gwA").with_stack(|s| {
                for (h, _) in s.tcp_sockets() {
                    let Some(i) = s.tcp_info(h) else { continue };
                    if i.remote.port() == 7000 || i.remote.port() == 443 {
                        r.outer_retrans = r.outer_retrans.max(i.retrans_segs);
                    }
                }
            });
        }
        r.inner_retrans = inner.values().map(|e| e.0).sum();
        let prefix = format!("transfer: sent {each} bytes to 10.2.0.2:9 in ");
        let times: Vec<f64> = lines
            .borrow()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| {
                let mut w = rest.split_whitespace();
                let v: f64 = w
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("transfer's time");
                if w.next() == Some("ms") {
                    v / 1000.0
                } else {
                    v
                }
            })
            .collect();
        // All started at once: the last to finish ends the run.
        if times.len() as u64 == c.flows {
            let secs = times.iter().copied().fold(0.0, f64::max);
            r.seconds = Some(secs);
            r.goodput = (each * c.flows) as f64 * 8.0 / secs / 1e6;
            return r;
        }
    }
    let acked: u64 = inner.values().map(|e| e.1).sum();
    r.goodput = acked as f64 * 8.0 / LIMIT.as_secs_f64() / 1e6;
    r
}

/// The Mathis et al. bound for the plain path, Mbit/s:
/// MSS / RTT × sqrt(3/2) / sqrt(p), capped by the link.
fn mathis(loss_pct: f64, rtt_ms: u64) -> f64 {
    if loss_pct == 0.0 {
        return RATE_MBIT;
    }
    let mss_bits = 1448.0 * 8.0;
    let bound = mss_bits / (rtt_ms as f64 / 1000.0) * (1.5f64).sqrt() / (loss_pct / 100.0).sqrt();
    (bound / 1e6).min(RATE_MBIT)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const LOSSES: [f64; 5] = [0.0, 0.5, 1.0, 2.0, 5.0];
const RTTS: [u64; 3] = [10, 50, 200];
const VIAS: [Via; 5] = [Via::Plain, Via::Udp, Via::Wg, Via::Tcp, Via::WgOverTcp];

/// One cell: median goodput (min–max) and the medians of the rest.
struct Cell {
    goodput: f64,
    lo: f64,
    hi: f64,
    unfinished: usize,
    inner_retrans: f64,
    rto_max: f64,
    srtt_max: f64,
    outer_retrans: f64,
}

fn cell(via: Via, loss: f64, rtt: u64, outer: Outer) -> Cell {
    cell_of(|seed| Case {
        via,
        loss_pct: loss,
        rtt_ms: rtt,
        seed,
        outer,
        flows: 1,
    })
}

fn cell_of(case: impl Fn(u64) -> Case) -> Cell {
    let runs: Vec<Run> = SEEDS.iter().map(|&s| run_case(case(s))).collect();
    let mut g: Vec<f64> = runs.iter().map(|r| r.goodput).collect();
    let lo = g.iter().copied().fold(f64::MAX, f64::min);
    let hi = g.iter().copied().fold(0.0, f64::max);
    Cell {
        goodput: median(&mut g),
        lo,
        hi,
        unfinished: runs.iter().filter(|r| r.seconds.is_none()).count(),
        inner_retrans: median(
            &mut runs
                .iter()
                .map(|r| r.inner_retrans as f64)
                .collect::<Vec<_>>(),
        ),
        rto_max: median(&mut runs.iter().map(|r| r.inner_rto_max).collect::<Vec<_>>()),
        srtt_max: median(&mut runs.iter().map(|r| r.inner_srtt_max).collect::<Vec<_>>()),
        outer_retrans: median(
            &mut runs
                .iter()
                .map(|r| r.outer_retrans as f64)
                .collect::<Vec<_>>(),
        ),
    }
}

fn goodput_text(c: &Cell) -> String {
    let mark = if c.unfinished > 0 {
        format!(" ({} unfinished)", c.unfinished)
    } else {
        String::new()
    };
    format!("{:.2} ({:.2}–{:.2}){mark}", c.goodput, c.lo, c.hi)
}

fn tables() -> String {
    let mut out = String::new();
    let names: Vec<&str> = VIAS.iter().map(|v| v.label()).collect();
    for rtt in RTTS {
        let _ = writeln!(out, "\n### RTT {rtt} ms\n");
        let _ = writeln!(
            out,
            "| outer loss | Mathis bound | {} | inner retrans ({}) | inner RTO max, ms | inner sRTT max, ms | outer retrans (TCP / WG over TCP) |",
            names.join(" | "),
            names.join(" / ")
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for loss in LOSSES {
            let cells: Vec<Cell> = VIAS.iter().map(|&v| cell(v, loss, rtt, CUBIC)).collect();
            let join =
                |f: &dyn Fn(&Cell) -> String| cells.iter().map(f).collect::<Vec<_>>().join(" / ");
            let _ = writeln!(
                out,
                "| {loss} % | {:.2} | {} | {} | {} | {} | {:.0} / {:.0} |",
                mathis(loss, rtt),
                cells
                    .iter()
                    .map(goodput_text)
                    .collect::<Vec<_>>()
                    .join(" | "),
                join(&|c| format!("{:.0}", c.inner_retrans)),
                join(&|c| format!("{:.0}", c.rto_max)),
                join(&|c| format!("{:.0}", c.srtt_max)),
                cells[3].outer_retrans,
                cells[4].outer_retrans,
            );
        }
    }
    out
}

/// The TCP tunnel at 50 ms with each outer congestion control.
fn outer_table() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| outer loss | WireGuard | {} |",
        OUTERS
            .map(|o| format!("TCP tunnel, outer {}", o.label))
            .join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for loss in [1.0, 2.0, 5.0] {
        let udp = cell(Via::Wg, loss, 50, CUBIC);
        let tcp: Vec<String> = OUTERS
            .iter()
            .map(|&o| {
                let c = cell(Via::Tcp, loss, 50, o);
                format!("{} · RTO {:.0} ms", goodput_text(&c), c.rto_max)
            })
            .collect();
        let _ = writeln!(
            out,
            "| {loss} % | {} · RTO {:.0} ms | {} |",
            goodput_text(&udp),
            udp.rto_max,
            tcp.join(" | ")
        );
    }
    out
}

/// Several inner flows at once at 50 ms: each UDP-tunnelled flow runs its
/// own congestion control against the path; through a TCP tunnel they all
/// share one outer connection's window and wait behind its repairs.
fn flows_table() -> String {
    let vias = [Via::Plain, Via::Wg, Via::Tcp, Via::WgOverTcp];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| outer loss | inner flows | {} | inner sRTT max, ms ({}) |",
        vias.map(Via::label).join(" | "),
        vias.map(Via::label).join(" / ")
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for loss in [1.0, 2.0] {
        for flows in [1, 4, 16] {
            let cells: Vec<Cell> = vias
                .iter()
                .map(|&via| {
                    cell_of(|seed| Case {
                        via,
                        loss_pct: loss,
                        rtt_ms: 50,
                        seed,
                        outer: CUBIC,
                        flows,
                    })
                })
                .collect();
            let _ = writeln!(
                out,
                "| {loss} % | {flows} | {} | {} |",
                cells
                    .iter()
                    .map(goodput_text)
                    .collect::<Vec<_>>()
                    .join(" | "),
                cells
                    .iter()
                    .map(|c| format!("{:.0}", c.srtt_max))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
    }
    out
}

#[test]
fn one_point_shows_the_direction() {
    // 2 % loss each way at 50 ms: through the UDP tunnels the inner TCP
    // sees the losses and repairs them; through the TCP tunnels it sees
    // none, but its RTT and RTO swell, because the outer TCP turns every
    // loss into a delay.
    let udp = run(Via::Udp, 2.0, 50, 1, CUBIC);
    let wg = run(Via::Wg, 2.0, 50, 1, CUBIC);
    let tcp = run(Via::Tcp, 2.0, 50, 1, CUBIC);
    let wg_tcp = run(Via::WgOverTcp, 2.0, 50, 1, CUBIC);
    eprintln!("udp {udp:?}\nwg {wg:?}\ntcp {tcp:?}\nwg over tcp {wg_tcp:?}");
    for u in [udp, wg] {
        assert!(u.seconds.is_some() && u.inner_retrans > 0, "{u:?}");
        for t in [tcp, wg_tcp] {
            assert!(t.outer_retrans > 0, "{t:?}");
            assert!(t.inner_srtt_max > 4.0 * u.inner_srtt_max, "{u:?} {t:?}");
            assert!(t.inner_rto_max > 2.0 * u.inner_rto_max, "{u:?} {t:?}");
            // The outer TCP hid every loss: the inner one retransmitted
            // only the first flight, which PMTU discovery cut down to the
            // tunnel's MTU.
            assert!(t.inner_retrans <= 20, "{t:?}");
        }
    }
}

#[test]
#[ignore = "minutes of simulation: run in release (CI does)"]
fn meltdown_snapshot() {
    let doc = format!(
        "{}\n{}\n\n{}\n\n{}\n\n{}\n\n{}\n\n{}\n",
        include_str!("meltdown_head.md").trim_end(),
        tables().trim_end(),
        include_str!("meltdown_flows.md").trim_end(),
        flows_table().trim_end(),
        include_str!("meltdown_middle.md").trim_end(),
        outer_table().trim_end(),
        include_str!("meltdown_tail.md").trim_end()
    );
    eprintln!("{doc}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tunnels.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, format!("{doc}\n")).expect("write docs/tunnels.md");
    } else {
        let kept = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            kept.trim_end() == doc.trim_end(),
            "docs/tunnels.md is out of date; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
        );
    }
}
