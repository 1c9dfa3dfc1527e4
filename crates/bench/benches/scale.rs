//! Many concurrent connections in one stack (issue 13's scale aim).
//!
//! `cargo bench -p tcplab-bench --bench scale` (TCPLAB_SCALE_MAX=100000 to
//! stop earlier, TCPLAB_SCALE_ONLY=N for one size; the 1,000,000 step needs
//! about 5 GB of memory).
//!
//! Two stacks on an in-memory link, as in the smoltcp comparison: the
//! client opens N connections to a server listening on 20 ports (2 KiB
//! socket buffers, so that the connections touched below stay small), all
//! ESTABLISHED and idle. Then:
//!
//! * **memory per idle endpoint**: the growth of the process's resident
//!   memory while the N connections were opened, divided by 2N (both ends
//!   are in this process; idle connections hold no buffer storage);
//! * **per-packet cost**: 100,000 one-byte writes on 1,000 connections
//!   (all of them when N is smaller) spread over the whole table, each used
//!   once before so its buffers exist; each write is delivered and read,
//!   then the clock moves on so its delayed ACK goes: one data segment and
//!   one ACK per write at every size. Wall time divided by the segments
//!   both stacks sent.
//!
//! Each size runs in a process of its own. `TCPLAB_SCALE_OPS=N` makes the
//! measured phase N writes instead of 100,000 (longer, for a profile).
//!
//! The aims: at most 1 KB per idle endpoint, and a packet at 1,000,000
//! connections costing at most twice what it costs at 10.

#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_bench::{start, StackPair, Took};
use tcplab_stack::{Stack, TcpHandle};

const PORTS: u16 = 20;
const FIRST_PORT: u16 = 1000;
const BUFFER: usize = 2048;
const OPS: usize = 100_000;
/// Connections the traffic goes to.
const WORKING_SET: usize = 1000;
const SIZES: [usize; 4] = [10, 1_000, 100_000, 1_000_000];

/// The client's and the server's stacks.
fn pair() -> StackPair {
    StackPair::new(|config| {
        config.ephemeral_ports = 1024..=65535;
        config.tcp.recv_buffer = BUFFER;
        config.tcp.send_buffer = BUFFER;
    })
}

/// Segments both stacks sent.
fn segments(p: &StackPair) -> u64 {
    p.a.stats().tcp.out_segs + p.b.stats().tcp.out_segs
}

/// Resident memory of the process, in bytes.
fn resident() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One size: (bytes per idle endpoint, ns per segment, segments, open time).
fn measure(n: usize) -> (f64, f64, u64, Took) {
    let mut p = pair();
    let listeners: Vec<TcpHandle> = (0..PORTS)
        .map(|i| {
            p.b.tcp_listen(
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, FIRST_PORT + i),
                4096,
            )
            .expect("listen")
        })
        .collect();
    // The benchmark's own bookkeeping is allocated (and touched) before
    // the baseline, so that only the stacks' memory is counted.
    let mut pairs: Vec<(TcpHandle, TcpHandle)> = vec![(listeners[0], listeners[0]); n];
    pairs.clear();
    let before = resident();
    let t0 = start();
    while pairs.len() < n {
        let batch = (n - pairs.len()).min(1000);
        let mut clients = Vec::with_capacity(batch);
        for k in 0..batch {
            let port = FIRST_PORT + ((pairs.len() + k) % usize::from(PORTS)) as u16;
            let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), port);
            let c = p.a.tcp_connect(p.now, remote, None).expect("connect");
            // Each write goes at once (no Nagle wait for the last ACK).
            p.a.tcp_set_nodelay(c, true);
            clients.push(c);
        }
        p.exchange();
        let mut servers = Vec::with_capacity(batch);
        for l in &listeners {
            while let Ok(s) = p.b.tcp_accept(*l) {
                servers.push(s);
            }
        }
        assert_eq!(servers.len(), batch, "every connection was accepted");
        // Pair them by the client's local port (accept order differs).
        // Both ends by (client address, server address).
        let key = |s: &Stack, h: TcpHandle, server: bool| {
            let i = s.tcp_info(h).expect("a connection");
            if server {
                (i.remote, i.local)
            } else {
                (i.local, i.remote)
            }
        };
        let mut by_tuple: std::collections::HashMap<_, TcpHandle> = servers
            .into_iter()
            .map(|s| (key(&p.b, s, true), s))
            .collect();
        for c in clients {
            let s = by_tuple
                .remove(&key(&p.a, c, false))
                .expect("its server end");
            pairs.push((c, s));
        }
    }
    let opened = Took::since(t0);
    let per_endpoint = resident().saturating_sub(before) as f64 / (2 * n) as f64;
    let mut sink = [0u8; 64];
    // The traffic goes to a working set spread over the whole table, each
    // connection used once first (its buffers allocated): what is
    // measured is a packet among N connections, not a first use.
    let working: Vec<(TcpHandle, TcpHandle)> = (0..WORKING_SET.min(n))
        .map(|k| pairs[k * n / WORKING_SET.min(n)])
        .collect();
    let mut one = |p: &mut StackPair, (c, s): (TcpHandle, TcpHandle)| {
        p.a.tcp_send(c, b"x").expect("send");
        p.exchange();
        match p.b.tcp_recv(s, &mut sink) {
            Ok(1) => {}
            other => panic!("expected the byte, got {other:?}"),
        }
    };
    for &w in &working {
        one(&mut p, w);
        p.now += Duration::from_millis(50);
        p.exchange();
    }
    p.now += Duration::from_millis(500);
    p.exchange();
    let ops = std::env::var("TCPLAB_SCALE_OPS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(OPS);
    let segs0 = segments(&p);
    let t1 = start();
    for op in 0..ops {
        one(&mut p, working[op.wrapping_mul(7919) % working.len()]);
        // The delayed ACK is due: every write is one data segment and one
        // ACK, whatever the number of connections.
        p.now += Duration::from_millis(50);
        p.exchange();
    }
    p.now += Duration::from_millis(500);
    p.exchange();
    let took = Took::since(t1);
    let segs = segments(&p) - segs0;
    let ns = took.wall.as_nanos() as f64 / segs as f64;
    (per_endpoint, ns, segs, opened)
}

fn main() {
    // `cargo test --benches` runs this without --bench: a small run only.
    if !std::env::args().any(|a| a == "--bench") {
        let _ = measure(50);
        return;
    }
    // TCPLAB_SCALE_ONLY=N measures one size in this process (for
    // profiling, and how the table's rows are made).
    if let Some(n) = std::env::var("TCPLAB_SCALE_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let (mem, ns, segs, opened) = measure(n);
        let mem = if n >= 100_000 {
            format!("{mem:.0} B")
        } else {
            "— (too few to see)".to_string()
        };
        println!(
            "| {n} | {mem} | {ns:.0} | {segs} | {:.0} |",
            n as f64 / opened.wall.as_secs_f64()
        );
        return;
    }
    let max: usize = std::env::var("TCPLAB_SCALE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("\n| connections | memory per idle endpoint | ns per segment | segments | opening, connections/s |");
    println!("|---|---|---|---|---|");
    // Each size in a process of its own: the memory one size freed does
    // not make the next look smaller.
    let exe = std::env::current_exe().expect("this benchmark's path");
    for n in SIZES.into_iter().filter(|&n| n <= max) {
        let status = std::process::Command::new(&exe)
            .arg("--bench")
            .env("TCPLAB_SCALE_ONLY", n.to_string())
            .status()
            .expect("run one size");
        assert!(status.success(), "the {n} run failed");
    }
}
