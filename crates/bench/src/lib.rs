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

/// Two tcplab stacks, 10.0.0.1 (`a`) and 10.0.0.2 (`b`), on an in-memory
/// link with MTU 1500, and the virtual clock they run on.
#[derive(Debug)]
pub struct StackPair {
    pub a: tcplab_stack::Stack,
    pub b: tcplab_stack::Stack,
    pub now: tcplab_stack::Instant,
    buf: Vec<u8>,
}

impl StackPair {
    /// Both stacks from `Config::default()` with seeds 1 and 2, changed by
    /// `tweak` first.
    pub fn new(tweak: impl Fn(&mut tcplab_stack::Config)) -> StackPair {
        let mk = |seed: u64, addr: &str| {
            let mut config = tcplab_stack::Config {
                seed,
                ..tcplab_stack::Config::default()
            };
            tweak(&mut config);
            let mut s = tcplab_stack::Stack::new(config);
            s.add_interface("eth0", addr.parse().expect("a prefix"), 1500)
                .expect("an interface");
            s
        };
        StackPair {
            a: mk(1, "10.0.0.1/24"),
            b: mk(2, "10.0.0.2/24"),
            now: tcplab_stack::Instant::from_secs(1),
            buf: Vec::with_capacity(2048),
        }
    }

    /// At the current time: run the timers that are due, then move
    /// packets both ways until both stacks are quiet.
    pub fn exchange(&mut self) {
        let now = self.now;
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        let eth0 = tcplab_stack::IfaceId(1);
        loop {
            let mut moved = false;
            while self.a.poll_transmit(now, &mut self.buf).is_some() {
                self.b.handle_packet(now, eth0, &self.buf);
                moved = true;
            }
            while self.b.poll_transmit(now, &mut self.buf).is_some() {
                self.a.handle_packet(now, eth0, &self.buf);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

/// A UDP datagram in IPv4 of `len` bytes in all (at least 28), DF set,
/// TTL 64, checksums filled in.
pub fn udp_datagram(
    (src, src_port): (std::net::Ipv4Addr, u16),
    dst: std::net::Ipv4Addr,
    len: usize,
    ident: u16,
) -> Vec<u8> {
    use tcplab_wire::{ipv4, udp, Protocol};
    let payload = vec![0x5au8; len.saturating_sub(ipv4::HEADER_LEN + udp::HEADER_LEN)];
    let u = udp::Repr {
        src_port,
        dst_port: 9,
        payload: &payload,
    };
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Udp,
        payload_len: u.buffer_len(),
        ttl: 64,
        tos: 0,
        ident,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; ip.buffer_len() + u.buffer_len()];
    let (h, p) = bytes.split_at_mut(ip.buffer_len());
    ip.emit(&mut ipv4::Packet::new_unchecked(h));
    u.emit(&mut udp::Packet::new_unchecked(p), src, dst);
    bytes
}
