//! The simulator's event rate on a 3-router path (issue 2's benchmark).
//!
//! `cargo bench -p tcplab-sim`. A UDP client keeps 16 datagrams of 512
//! bytes in flight to an echo server four hops away (three routers, rate
//! and delay on every link) until 2,000 have come back; the throughput is
//! simulator events (packet arrivals, timers, ...) per second of wall time.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcplab_host::{Host, UdpSocket};
use tcplab_sim::{load, Commands, Sim, SimOptions, Started};

const PATH: &str = r#"
seed = 1
[[host]]
name = "client"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[[host]]
name = "server"
addr = "10.0.4.2/24"
gateway = "10.0.4.1"
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.12.1/30"]
[[router]]
name = "r2"
addrs = ["10.0.12.2/30", "10.0.23.1/30"]
[[router]]
name = "r3"
addrs = ["10.0.23.2/30", "10.0.4.1/24"]
[[link]]
ends = ["client", "r1"]
delay = "1ms"
rate = "1Gbit"
[[link]]
ends = ["r1", "r2"]
delay = "5ms"
rate = "100Mbit"
[[link]]
ends = ["r2", "r3"]
delay = "5ms"
rate = "100Mbit"
[[link]]
ends = ["r3", "server"]
delay = "1ms"
rate = "1Gbit"
"#;

const ROUND_TRIPS: u32 = 2000;

struct Echo;

impl Commands for Echo {
    fn check(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        let pid = host.new_process(cmdline, cmdline);
        let h = host.clone();
        if cmdline == "server" {
            let sock = UdpSocket::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
                .map_err(|e| e.to_string())?;
            host.spawn(pid, async move {
                while let Ok(d) = sock.recv_from().await {
                    let _ = sock.send_to(&d.data, d.from);
                }
            });
            Ok(Started { pid, daemon: true })
        } else {
            let sock = UdpSocket::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .map_err(|e| e.to_string())?;
            host.spawn(pid, async move {
                let dst = SocketAddrV4::new(Ipv4Addr::new(10, 0, 4, 2), 7);
                let payload = [0x42u8; 512];
                for _ in 0..16 {
                    let _ = sock.send_to(&payload, dst);
                }
                let mut back = 0;
                while back < ROUND_TRIPS {
                    if sock.recv_from().await.is_ok() {
                        back += 1;
                        if back + 16 <= ROUND_TRIPS {
                            let _ = sock.send_to(&payload, dst);
                        }
                    }
                }
                h.set_exit(pid, 0);
            });
            Ok(Started { pid, daemon: false })
        }
    }
}

fn run_once() -> u64 {
    let scenario = load("bench", PATH).expect("valid scenario");
    let mut sim = Sim::new(&scenario, &SimOptions::default()).expect("builds");
    let server = scenario.node_index("server").expect("server");
    let client = scenario.node_index("client").expect("client");
    sim.start(server, "server", &Echo).expect("server starts");
    sim.start(client, "client", &Echo).expect("client starts");
    sim.run(&Echo);
    sim.events()
}

fn bench(c: &mut Criterion) {
    let events = run_once();
    let mut group = c.benchmark_group("simulator");
    group.throughput(Throughput::Elements(events));
    group.bench_function(
        format!("3-router path, {ROUND_TRIPS} UDP echoes ({events} events)"),
        |b| b.iter(|| black_box(run_once())),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
