//! A router's forwarding path: packets per second through one tcplab stack.
//!
//! `cargo bench -p tcplab-bench --bench forwarding`
//!
//! One stack in forwarding mode (`Config::router()`) with two interfaces,
//! 10.0.1.1/24 and 10.0.2.1/24. UDP datagrams from 250 sources on the first
//! network to 250 hosts on the second are handed to it one at a time
//! (`handle_packet`) and taken from it (`poll_transmit`): per packet it
//! checks the IPv4 header and its checksum, looks up the route, decrements
//! the TTL with an incremental checksum update (RFC 1624) and writes the
//! datagram out. No packet policy is installed (the netfilter benchmark
//! measures that), and the datagrams are below the MTU (no fragmentation).
//! Every datagram must come out; the virtual clock moves 1 µs per packet.
//!
//! smoltcp has no forwarding between interfaces, so there is no peer figure
//! from it here. Each size runs RUNS times after a warm-up; the figure is
//! the median with the lowest and highest, by wall and by CPU time.

#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::net::Ipv4Addr;

use tcplab_bench::{spread, start, udp_datagram, Took};
use tcplab_stack::{Cidr, Config, IfaceId, Instant, Stack};
use tcplab_wire::ipv4;

const PACKETS: usize = 1_000_000;
const RUNS: usize = 7;
/// Datagrams of these IPv4 total lengths: the smallest UDP datagram a
/// 64-byte Ethernet frame carries, and a full 1500-byte MTU.
const SIZES: [usize; 2] = [46, 1500];

/// 256 datagrams of `total` bytes, from 250 sources to 250 destinations.
fn datagrams(total: usize) -> Vec<Vec<u8>> {
    (0..=255u8)
        .map(|i| {
            // Hosts .2 to .251: not the router, not the broadcast address.
            let host = 2 + i % 250;
            let src = (Ipv4Addr::new(10, 0, 1, host), 40_000 + u16::from(i));
            udp_datagram(src, Ipv4Addr::new(10, 0, 2, host), total, u16::from(i))
        })
        .collect()
}

/// The router and its two interfaces.
fn router() -> (Stack, IfaceId, IfaceId) {
    let mut s = Stack::new(Config {
        seed: 1,
        ..Config::router()
    });
    let cidr = |c: &str| c.parse::<Cidr>().expect("a valid prefix");
    let eth0 = s
        .add_interface("eth0", cidr("10.0.1.1/24"), 1500)
        .expect("eth0");
    let eth1 = s
        .add_interface("eth1", cidr("10.0.2.1/24"), 1500)
        .expect("eth1");
    (s, eth0, eth1)
}

/// Forward PACKETS datagrams; returns the time taken.
fn forward(total: usize) -> Took {
    let packets = datagrams(total);
    let (mut s, eth0, eth1) = router();
    let mut buf = Vec::with_capacity(2048);
    let mut now = Instant::from_secs(1);
    let mut out = 0usize;
    let t0 = start();
    for i in 0..PACKETS {
        now += std::time::Duration::from_micros(1);
        s.handle_packet(now, eth0, &packets[i % packets.len()]);
        while let Some(t) = s.poll_transmit(now, &mut buf) {
            assert_eq!((t.iface, t.len), (eth1, total));
            out += 1;
        }
    }
    let took = Took::since(t0);
    assert_eq!(out, PACKETS, "every datagram is forwarded");
    took
}

fn main() {
    // `cargo test --benches` runs this without --bench: a smoke run only.
    if !std::env::args().any(|a| a == "--bench") {
        let s = datagrams(1500);
        let (mut r, eth0, _) = router();
        r.handle_packet(Instant::from_secs(1), eth0, &s[7]);
        let mut buf = Vec::new();
        let t = r.poll_transmit(Instant::from_secs(1), &mut buf);
        assert!(t.is_some_and(|t| t.len == 1500), "forwarded");
        let p = ipv4::Packet::new_checked(&buf[..1500]).expect("IPv4");
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
        return;
    }
    let mut rows = Vec::new();
    for total in SIZES {
        let _ = forward(total);
        let runs: Vec<Took> = (0..RUNS).map(|_| forward(total)).collect();
        rows.push((total, runs));
    }
    println!("\nforwarding, {PACKETS} datagrams per run: median (lowest–highest) of {RUNS} runs\n");
    println!("| datagram | packets per wall-second | per CPU-second | Gbit/s (wall) |");
    println!("|---|---|---|---|");
    for (total, runs) in &rows {
        let (m, lo, hi) = spread(PACKETS as f64, runs, false);
        let (cm, clo, chi) = spread(PACKETS as f64, runs, true);
        println!(
            "| {total} bytes | {:.2} M ({:.2}–{:.2}) | {:.2} M ({:.2}–{:.2}) | {:.2} |",
            m / 1e6,
            lo / 1e6,
            hi / 1e6,
            cm / 1e6,
            clo / 1e6,
            chi / 1e6,
            m * *total as f64 * 8.0 / 1e9
        );
    }
}
