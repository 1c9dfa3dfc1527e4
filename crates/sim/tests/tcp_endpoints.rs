//! Two-endpoint TCP behaviour in the simulator: simultaneous open and
//! close, a storm of spoofed resets against a live transfer, and a transfer
//! across the 2³² wrap of the sequence space.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{Host, TcpListener, TcpStream};
use tcplab_sim::{load, Commands, Outcome, Sim, SimOptions, Started};
use tcplab_stack::tcp::{SocketSnapshot, State};
use tcplab_stack::{IfaceId, Instant, Rng};
use tcplab_wire::tcp::{self, Flags, SeqNumber};
use tcplab_wire::{ipv4, Protocol};

#[derive(Debug, Default)]
struct Log {
    states: Vec<(String, State)>,
    errors: Vec<String>,
    received: u64,
    iss: Option<SeqNumber>,
    final_una: Option<SeqNumber>,
}

struct Apps(Rc<RefCell<Log>>);

impl Commands for Apps {
    fn check(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        let w: Vec<String> = cmdline.split_whitespace().map(String::from).collect();
        let pid = host.new_process(&w[0], cmdline);
        let h = host.clone();
        let log = self.0.clone();
        match w[0].as_str() {
            // peer LOCALPORT HOST PORT: simultaneous open, a word each way,
            // then both close at t = 2 s.
            "peer" => {
                let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, w[1].parse().unwrap());
                let remote = SocketAddrV4::new(host.lookup(&w[2]).unwrap(), w[3].parse().unwrap());
                host.spawn(pid, async move {
                    let name = h.name().to_string();
                    let s = match TcpStream::connect_from(&h, remote, Some(local)).await {
                        Ok(s) => s,
                        Err(e) => {
                            log.borrow_mut().errors.push(format!("{name}: {e}"));
                            h.set_exit(pid, 1);
                            return;
                        }
                    };
                    s.write_all(b"hi").await.unwrap();
                    let mut buf = [0u8; 8];
                    assert_eq!(s.read(&mut buf).await.unwrap(), 2);
                    h.sleep_until(Instant::from_secs(2)).await;
                    s.shutdown().unwrap();
                    let mut last = None;
                    for _ in 0..2000 {
                        let st = s.info().map_or(State::Closed, |i| i.state);
                        if last != Some(st) {
                            log.borrow_mut().states.push((name.clone(), st));
                            last = Some(st);
                        }
                        if st == State::TimeWait {
                            break;
                        }
                        h.sleep(Duration::from_millis(1)).await;
                    }
                    h.set_exit(pid, 0);
                });
                Ok(Started { pid, daemon: false })
            }
            "sink" => {
                let l = TcpListener::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001), 4)
                    .unwrap();
                host.spawn(pid, async move {
                    let s = l.accept().await.unwrap();
                    let mut buf = vec![0u8; 65536];
                    let mut expect = 0u8;
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                for &b in &buf[..n] {
                                    if b != expect {
                                        log.borrow_mut().errors.push("corrupted".into());
                                    }
                                    expect = expect.wrapping_add(1);
                                }
                                log.borrow_mut().received += n as u64;
                            }
                            Err(e) => {
                                log.borrow_mut().errors.push(format!("sink: {e}"));
                                break;
                            }
                        }
                    }
                    h.set_exit(pid, 0);
                });
                Ok(Started { pid, daemon: false })
            }
            "source" => {
                let size: u64 = w[1].parse().unwrap();
                let remote = SocketAddrV4::new(host.lookup("server").unwrap(), 5001);
                host.spawn(pid, async move {
                    let s = TcpStream::connect(&h, remote).await.unwrap();
                    log.borrow_mut().iss = s.info().map(|i| i.iss);
                    let block: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
                    let mut sent = 0;
                    while sent < size {
                        let n = (size - sent).min(block.len() as u64) as usize;
                        if let Err(e) = s.write_all(&block[..n]).await {
                            log.borrow_mut().errors.push(format!("source: {e}"));
                            h.set_exit(pid, 1);
                            return;
                        }
                        sent += n as u64;
                    }
                    s.shutdown().unwrap();
                    s.flush().await.unwrap();
                    log.borrow_mut().final_una = s.info().map(|i| i.snd_una);
                    h.set_exit(pid, 0);
                });
                Ok(Started { pid, daemon: false })
            }
            other => Err(format!("unknown {other}")),
        }
    }
}

const TWO_HOSTS: &str = r#"
seed = 9
[[host]]
name = "client"
addr = "10.0.0.1/24"
[[host]]
name = "server"
addr = "10.0.0.2/24"
[[link]]
ends = ["client", "server"]
delay = "10ms"
rate = "20Mbit"
"#;

fn run(extra: &str) -> (Sim, Rc<RefCell<Log>>) {
    let scenario = load("t.toml", &format!("{TWO_HOSTS}{extra}")).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(sim.run(&Apps(log.clone())), Outcome::Finished);
    (sim, log)
}

#[test]
fn simultaneous_open_and_close() {
    let (_, log) = run(r#"
[[run]]
at = "1s"
on = "client"
cmd = "peer 7000 server 7001"
[[run]]
at = "1s"
on = "server"
cmd = "peer 7001 client 7000"
"#);
    let log = log.borrow();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    for host in ["client", "server"] {
        let seen: Vec<State> = log
            .states
            .iter()
            .filter(|(h, _)| h == host)
            .map(|(_, s)| *s)
            .collect();
        // Both FINs cross in flight: FIN-WAIT-1 → CLOSING → TIME-WAIT.
        assert_eq!(
            seen,
            vec![State::FinWait1, State::Closing, State::TimeWait],
            "{host}"
        );
    }
}

fn rst(src: SocketAddrV4, dst: SocketAddrV4, seq: u32) -> Vec<u8> {
    let r = tcp::Repr::new(
        src.port(),
        dst.port(),
        Flags::RST,
        SeqNumber(seq),
        SeqNumber(0),
    );
    let ip = ipv4::Repr {
        src_addr: *src.ip(),
        dst_addr: *dst.ip(),
        protocol: Protocol::Tcp,
        payload_len: r.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20 + r.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    r.emit(
        &mut tcp::Packet::new_unchecked(&mut b[20..]),
        *src.ip(),
        *dst.ip(),
    );
    b
}

#[test]
fn rst_storm_does_not_break_a_transfer() {
    let scenario = load(
        "t.toml",
        &format!(
            "{TWO_HOSTS}
[[run]]
at = \"0s\"
on = \"server\"
cmd = \"sink\"
[[run]]
at = \"0.1s\"
on = \"client\"
cmd = \"source 5000000\"
"
        ),
    )
    .unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    let apps = Apps(log.clone());
    sim.run_until(Instant::from_millis(600), &apps);
    let server = sim.host("server").unwrap().clone();
    let (local, remote, rcv_nxt) = server
        .with_stack(|s| {
            s.tcp_sockets().into_iter().find_map(|(_, x)| match x {
                SocketSnapshot::Connection(i) => Some((i.local, i.remote, i.rcv_nxt)),
                _ => None,
            })
        })
        .expect("a connection");
    // 20,000 spoofed resets from the client's address: blind guesses, some
    // inside the window; none exactly at RCV.NXT.
    let mut rng = Rng::new(77);
    for i in 0..20_000u32 {
        let seq = if i % 2 == 0 {
            rcv_nxt.0.wrapping_add(1 + rng.below(200_000) as u32)
        } else {
            rng.next_u32()
        };
        if seq == rcv_nxt.0 {
            continue;
        }
        server.handle_packet(sim.now(), IfaceId(1), &rst(remote, local, seq));
    }
    assert_eq!(sim.run(&apps), Outcome::Finished);
    let log = log.borrow();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert_eq!(log.received, 5_000_000);
    let stats = server.with_stack(|s| s.stats());
    assert_eq!(stats.tcp.estab_resets, 0);
    assert!(
        stats.tcp.challenge_acks > 0 && stats.tcp.challenge_acks <= 1000,
        "{}",
        stats.tcp.challenge_acks
    );
}

#[test]
fn transfer_across_the_sequence_wrap() {
    let transfer = "
[[run]]
at = \"0s\"
on = \"server\"
cmd = \"sink\"
[[run]]
at = \"0.1s\"
on = \"client\"
cmd = \"source 10000000\"
";
    // Learn the ISS this seed gives, then shift it to 4 MB below 2^32.
    let (_, log) = run(transfer);
    let iss = log.borrow().iss.unwrap();
    let offset = (u32::MAX - 4_000_000).wrapping_sub(iss.0);
    let text = TWO_HOSTS.replace(
        "addr = \"10.0.0.1/24\"",
        &format!("addr = \"10.0.0.1/24\"\n[host.tcp]\nisn_offset = {offset}"),
    );
    let scenario = load("t.toml", &format!("{text}{transfer}")).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let log = Rc::new(RefCell::new(Log::default()));
    assert_eq!(sim.run(&Apps(log.clone())), Outcome::Finished);
    let log = log.borrow();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert_eq!(log.received, 10_000_000);
    assert_eq!(log.iss, Some(SeqNumber(u32::MAX - 4_000_000)));
    // The last acknowledged sequence number wrapped past zero.
    let una = log.final_una.unwrap();
    assert!(una.0 < 7_000_000, "SND.UNA {una} did not wrap");
    assert!(una > log.iss.unwrap());
}
