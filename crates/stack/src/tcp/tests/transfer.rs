//! Connections and transfers between two stacks.

use std::time::Duration;

use super::pair::{sa, Faults, Pair, B};
use crate::socket::{RecvError, SendError, SocketError, TcpHandle};
use crate::tcp::State;

/// Connect a → b:80; returns (client, server) handles once both are
/// established.
pub fn connect(p: &mut Pair) -> (TcpHandle, TcpHandle) {
    let l = p.b.tcp_listen(sa(B, 80), 8).unwrap();
    let c = p.a.tcp_connect(p.now, sa(B, 80), None).unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(60), |p| {
        if s.is_none() {
            s = p.b.tcp_accept(l).ok();
        }
        s.is_some()
            && p.a
                .tcp_info(c)
                .is_some_and(|i| i.state == State::Established)
    }));
    (c, s.unwrap())
}

/// Move `data` from `from` (on a) to `to` (on b), reading everything and
/// checking it; the sender closes when done. Returns what b read.
pub fn transfer(p: &mut Pair, c: TcpHandle, s: TcpHandle, data: &[u8], limit: Duration) -> Vec<u8> {
    let mut sent = 0;
    let mut closed = false;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    let mut eof = false;
    let ok = p.run_until(limit, |p| {
        while sent < data.len() {
            match p.a.tcp_send(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(SendError::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == data.len() && !closed {
            p.a.tcp_shutdown(c).unwrap();
            closed = true;
        }
        loop {
            match p.b.tcp_recv(s, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(RecvError::WouldBlock) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        eof
    });
    assert!(
        ok,
        "transfer did not finish: {} of {} bytes at {}",
        got.len(),
        data.len(),
        p.now
    );
    got
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut r = crate::Rng::new(seed);
    let mut v = vec![0u8; n];
    r.fill(&mut v);
    v
}

#[test]
fn handshake_transfer_and_four_way_close() {
    let mut p = Pair::new(1, 1500, |_| {});
    let (c, s) = connect(&mut p);
    let info = p.a.tcp_info(c).unwrap();
    // 1460 less the 12 bytes of TSopt every segment carries (RFC 7323 §3).
    assert_eq!(info.mss, 1448);
    assert_eq!(info.snd_wscale, 3);
    let data = pattern(100_000, 1);
    let got = transfer(&mut p, c, s, &data, Duration::from_secs(30));
    assert_eq!(got, data);
    p.run_for(Duration::from_millis(100));
    // Server side is in CLOSE-WAIT, client in FIN-WAIT-2.
    assert_eq!(p.b.tcp_info(s).unwrap().state, State::CloseWait);
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::FinWait2);
    p.b.tcp_close(p.now, s);
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::TimeWait);
    // TIME-WAIT lasts 2·MSL (60 s by default).
    p.run_for(Duration::from_secs(59));
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::TimeWait);
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::Closed);
    p.a.tcp_close(p.now, c);
    assert!(p.a.tcp_sockets().is_empty());
    assert!(p
        .b
        .tcp_sockets()
        .iter()
        .all(|(_, s)| matches!(s, crate::tcp::SocketSnapshot::Listener { .. })));
}

#[test]
fn refused_by_rst() {
    let mut p = Pair::new(2, 1500, |_| {});
    let c = p.a.tcp_connect(p.now, sa(B, 81), None).unwrap();
    p.run_for(Duration::from_secs(1));
    let mut buf = [0u8; 4];
    assert_eq!(
        p.a.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::ConnectionRefused))
    );
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::Closed);
}

#[test]
fn syn_retries_end_in_timeout() {
    let mut p = Pair::new(3, 1500, |c| c.tcp.syn_retries = 3);
    p.faults.loss = 1.0;
    let c = p.a.tcp_connect(p.now, sa(B, 80), None).unwrap();
    let start = p.now;
    p.run_until(Duration::from_secs(600), |p| {
        p.a.tcp_info(c).unwrap().state == State::Closed
    });
    // 1 + 2 + 4 + 8 s of backoff.
    assert_eq!(p.now.saturating_since(start), Duration::from_secs(15));
    let mut buf = [0u8; 1];
    assert_eq!(
        p.a.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::TimedOut))
    );
    assert_eq!(p.sent.0, 4);
}

/// RFC 9293 §3.8.3 MUST-20: R2 for a SYN covers at least three minutes.
/// With the defaults an unanswered connect sends its SYN 8 times (the
/// last at 127 s) and ends 120 s later (the timer's ceiling).
#[test]
fn default_syn_retries_cover_three_minutes() {
    let mut p = Pair::new(3, 1500, |_| {});
    p.faults.loss = 1.0;
    let c = p.a.tcp_connect(p.now, sa(B, 80), None).unwrap();
    let start = p.now;
    p.run_until(Duration::from_secs(600), |p| {
        p.a.tcp_info(c).unwrap().state == State::Closed
    });
    let took = p.now.saturating_since(start);
    assert!(took >= Duration::from_secs(180), "gave up after {took:?}");
    assert_eq!(took, Duration::from_secs(127 + 120));
    assert_eq!(p.sent.0, 8);
}

#[test]
fn bulk_through_loss_duplication_reordering() {
    for seed in 0..8 {
        let mut p = Pair::new(100 + seed, 1500, |_| {});
        p.faults = Faults {
            loss: 0.05,
            dup: 0.02,
            reorder: 0.05,
            corrupt: 0.01,
        };
        let (c, s) = connect(&mut p);
        let data = pattern(300_000, seed);
        let got = transfer(&mut p, c, s, &data, Duration::from_secs(600));
        assert_eq!(got.len(), data.len(), "seed {seed}");
        if let Some(i) = got.iter().zip(&data).position(|(x, y)| x != y) {
            panic!("seed {seed}: first difference at byte {i}");
        }
    }
}

#[test]
fn half_close_peer_can_still_send() {
    let mut p = Pair::new(4, 1500, |_| {});
    let (c, s) = connect(&mut p);
    p.a.tcp_shutdown(c).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.tcp_info(c).unwrap().state, State::FinWait2);
    assert_eq!(p.b.tcp_info(s).unwrap().state, State::CloseWait);
    let mut buf = [0u8; 16];
    assert_eq!(p.b.tcp_recv(s, &mut buf), Ok(0), "end of stream at b");
    assert_eq!(p.b.tcp_send(s, b"still here"), Ok(10));
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.tcp_recv(c, &mut buf), Ok(10));
    assert_eq!(&buf[..10], b"still here");
    assert_eq!(
        p.a.tcp_send(c, b"x"),
        Err(SendError::Pending(SocketError::BrokenPipe))
    );
}

#[test]
fn time_wait_holds_no_buffers() {
    // Many short connections: each client ends in TIME-WAIT (kept for
    // 2·MSL), but buffer memory stays bounded by the reuse pool.
    let mut p = Pair::new(6, 1500, |_| {});
    let l = p.b.tcp_listen(sa(B, 80), 8).unwrap();
    for _ in 0..200 {
        let c = p.a.tcp_connect(p.now, sa(B, 80), None).unwrap();
        let mut s = None;
        p.run_until(Duration::from_secs(5), |p| {
            s = s.or_else(|| p.b.tcp_accept(l).ok());
            s.is_some()
        });
        p.a.tcp_send(c, &[7; 3000]).unwrap();
        p.a.tcp_close(p.now, c);
        let s = s.unwrap();
        let mut buf = [0u8; 4096];
        p.run_until(Duration::from_secs(5), |p| {
            matches!(p.b.tcp_recv(s, &mut buf), Ok(0))
        });
        p.b.tcp_close(p.now, s);
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.tcp_info(c).unwrap().state, State::TimeWait);
    }
    let time_wait = p.a.tcp_sockets().len();
    assert_eq!(time_wait, 200);
    // 16 pooled buffers of 256 KiB at most, not 200 connections' worth.
    assert!(
        p.a.tcp_buffer_bytes() <= 16 * 256 * 1024,
        "{}",
        p.a.tcp_buffer_bytes()
    );
    assert!(
        p.b.tcp_buffer_bytes() <= 16 * 256 * 1024,
        "{}",
        p.b.tcp_buffer_bytes()
    );
}

/// Connect a to b:80 through the listener `l`.
fn connect_to(p: &mut Pair, l: TcpHandle) -> (TcpHandle, TcpHandle) {
    let c = p.a.tcp_connect(p.now, sa(B, 80), None).unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(10), |p| {
        s = s.or_else(|| p.b.tcp_accept(l).ok());
        s.is_some()
            && p.a
                .tcp_info(c)
                .is_some_and(|i| i.state == State::Established)
    }));
    (c, s.unwrap())
}

/// Open and close (the client closing first) `n` connections from a to
/// b:80; every one leaves its port in TIME-WAIT on a.
fn churn(p: &mut Pair, l: TcpHandle, n: usize) {
    for _ in 0..n {
        let (c, s) = connect_to(p, l);
        p.a.tcp_close(p.now, c);
        p.run_for(Duration::from_millis(50));
        p.b.tcp_close(p.now, s);
        p.run_for(Duration::from_millis(50));
        assert_eq!(p.a.tcp_info(c).unwrap().state, State::TimeWait);
    }
}

/// RFC 6191 on the active side (Linux's `tcp_tw_reuse`): with every
/// ephemeral port held by TIME-WAIT towards the same server, a new
/// connection takes over one whose timestamps are more than a second old;
/// not before, not without timestamps, not when switched off.
#[test]
fn rfc6191_time_wait_port_reused_for_a_new_connection() {
    use crate::socket::BindError;
    use crate::tcp::ConnectError;
    let small = |ts: bool, reuse: bool| {
        move |c: &mut crate::Config| {
            c.ephemeral_ports = 50000..=50003;
            c.tcp.timestamps = ts;
            c.tcp.tw_reuse = reuse;
        }
    };
    let exhausted = Err(ConnectError::Bind(BindError::NoPortsAvailable));
    for (ts, reuse) in [(false, true), (true, false)] {
        let mut p = Pair::new(7, 1500, small(ts, reuse));
        let l = p.b.tcp_listen(sa(B, 80), 8).unwrap();
        churn(&mut p, l, 4);
        p.run_for(Duration::from_secs(2));
        assert_eq!(p.a.tcp_connect(p.now, sa(B, 80), None), exhausted);
    }
    let mut p = Pair::new(7, 1500, small(true, true));
    let l = p.b.tcp_listen(sa(B, 80), 8).unwrap();
    churn(&mut p, l, 4);
    // The last timestamps are fresh: nothing can be reused yet.
    assert_eq!(p.a.tcp_connect(p.now, sa(B, 80), None), exhausted);
    p.run_for(Duration::from_secs(2));
    let before = p.a.tcp_sockets().len();
    let (c, s) = connect_to(&mut p, l);
    assert_eq!(p.a.stats().tcp.time_wait_reused, 1);
    // The TIME-WAIT connection gave way to it.
    assert_eq!(p.a.tcp_sockets().len(), before);
    let data = pattern(20_000, 3);
    assert_eq!(transfer(&mut p, c, s, &data, Duration::from_secs(10)), data);
}

/// A connection entering TIME-WAIT files its wake-up in the TIME-WAIT
/// queue at its real deadline: the ordered set of timers keeps live
/// connections only, however many closed ones wait out their 2·MSL (the
/// wake-up its retransmission timer filed is not left behind there).
#[test]
fn time_wait_wakeups_leave_the_timer_set() {
    let mut p = Pair::new(5, 1500, |_| {});
    let l = p.b.tcp_listen(sa(B, 80), 8).unwrap();
    churn(&mut p, l, 20);
    let (set, queue) = p.a.tcp.filed_wakeups();
    assert_eq!(set, 0, "TIME-WAIT wake-ups left in the ordered set");
    assert_eq!(queue, 20);
    p.a.tcp.check_invariants().unwrap();
    // They still end on time.
    p.run_for(Duration::from_secs(121));
    assert!(p.a.tcp_sockets().is_empty(), "{:?}", p.a.tcp_sockets());
}

/// The optional parts of both ends of `c`/`s`.
fn boxes(p: &Pair, c: TcpHandle, s: TcpHandle) -> (Vec<&'static str>, Vec<&'static str>) {
    let a = p.a.tcp.conn(c.0).expect("client").boxes();
    let b = p.b.tcp.conn(s.0).expect("server").boxes();
    (a, b)
}

#[test]
fn an_idle_connection_holds_no_optional_state() {
    // Issue 13's memory per idle endpoint: what exists only while data is
    // in flight, held out of order or being recovered is boxed and given
    // back. Established and idle: nothing.
    let mut p = Pair::new(21, 1500, |_| {});
    let (c, s) = connect(&mut p);
    p.run_for(Duration::from_secs(1));
    let none: Vec<&str> = Vec::new();
    assert_eq!(boxes(&p, c, s), (none.clone(), none.clone()));
    // A transfer through loss and reordering: every part is made ...
    p.faults = Faults {
        loss: 0.03,
        reorder: 0.03,
        ..Faults::default()
    };
    let data = pattern(400_000, 21);
    let got = transfer(&mut p, c, s, &data, Duration::from_secs(120));
    assert_eq!(got, data);
    // ... and once everything is acknowledged and in order, only what
    // an episode keeps for a late undo (RFC 3708) stays; HyStart++ ended
    // with the first loss.
    p.faults = Faults::default();
    p.run_for(Duration::from_secs(2));
    let (a, b) = boxes(&p, c, s);
    for part in ["retransmission queue", "out-of-order data", "HyStart++"] {
        assert!(!a.contains(&part), "client keeps its {part}: {a:?}");
        assert!(!b.contains(&part), "server keeps its {part}: {b:?}");
    }
    assert!(a.contains(&"recovery episode"), "the loss was seen: {a:?}");
}

/// What the wire shows of a's data segments to b: payload bytes, data
/// segments, and the payload bytes at or below the highest byte sent
/// before (sent again: retransmissions and window probes).
fn wire_data_out(log: &[(bool, Vec<u8>)]) -> (u64, u64, u64) {
    use tcplab_wire::{ipv4, tcp};
    let (mut bytes, mut segs, mut again) = (0u64, 0u64, 0u64);
    // Unwrapped sequence numbers, from the first segment's.
    let mut base: Option<u32> = None;
    let mut high = 0u64;
    let mut last = 0u64;
    for (_, d) in log.iter().filter(|(to_b, _)| *to_b) {
        let ip = ipv4::Packet::new_checked(&d[..]).unwrap();
        let p = tcp::Packet::new_checked(ip.payload()).unwrap();
        let r = tcp::Repr::parse(&p).unwrap();
        let b = *base.get_or_insert(r.seq_number.0);
        // Unwrap near the last one seen (segments stay within 2^31).
        let off = r.seq_number.0.wrapping_sub(b.wrapping_add(last as u32)) as i32;
        let start = (last as i64 + i64::from(off)) as u64;
        last = start;
        let len = r.payload.len() as u64;
        if len == 0 {
            continue;
        }
        bytes += len;
        segs += 1;
        again += high.saturating_sub(start).min(len);
        high = high.max(start + len);
    }
    (bytes, segs, again)
}

/// `tcp_info`'s bytes_sent, bytes_retrans and data_segs_* (Linux's
/// tcpi_bytes_sent, ... , as `ss -i` prints them) agree with the segments
/// on the wire, through loss, duplication, reordering and a receiver that
/// stops reading (window probes), with and without SACK.
#[test]
fn sent_and_retransmitted_bytes_match_the_wire() {
    let mut probed = 0;
    for seed in 0..24u64 {
        let sack = seed % 2 == 0;
        let stall = seed % 3 == 0;
        let mut p = Pair::new(seed, 1500, |c| c.tcp.sack = sack);
        p.keep_log = true;
        let lossy = seed % 4 != 1;
        if lossy {
            p.faults = Faults {
                loss: 0.02 + (seed % 5) as f64 * 0.01,
                dup: 0.01,
                reorder: 0.02,
                corrupt: 0.0,
            };
        }
        let (c, s) = connect(&mut p);
        // A stalled receiver's buffer (256 KiB) fills, and its window
        // closes.
        let n = if stall { 400_000 } else { 20_000 } + (seed as usize * 104_729) % 300_000;
        let data = pattern(n, seed);
        let (mut sent, mut got, mut closed) = (0, 0usize, false);
        let mut buf = vec![0u8; 65536];
        let pause = (
            p.now + Duration::from_millis(200),
            p.now + Duration::from_secs(3),
        );
        let mut ok = false;
        for round in 0..2 {
            // (Nothing may be left to happen during the pause: the second
            // round starts after it.)
            if round == 1 {
                p.now = p.now.max(pause.1);
            }
            ok = ok
                || p.run_until(Duration::from_secs(600), |p| {
                    while sent < n {
                        match p.a.tcp_send(c, &data[sent..]) {
                            Ok(k) => sent += k,
                            Err(_) => break,
                        }
                    }
                    if sent == n && !closed {
                        p.a.tcp_shutdown(c).unwrap();
                        closed = true;
                    }
                    if !(stall && p.now >= pause.0 && p.now < pause.1) {
                        while let Ok(k) = p.b.tcp_recv(s, &mut buf) {
                            if k == 0 {
                                return true;
                            }
                            got += k;
                        }
                    }
                    false
                });
        }
        assert!(
            ok,
            "seed {seed}: transfer stalled at {got} of {n} at {}: {:?} {:?}",
            p.now,
            p.a.tcp_info(c),
            p.b.tcp_info(s)
        );
        let ia = p.a.tcp_info(c).unwrap();
        let ib = p.b.tcp_info(s).unwrap();
        let (bytes, segs, again) = wire_data_out(&p.log);
        let msg = format!("seed {seed} (sack {sack}, stall {stall}, lossy {lossy})");
        assert_eq!(ia.bytes_sent, bytes, "{msg}: bytes_sent");
        assert_eq!(ia.data_segs_out, segs, "{msg}: data_segs_out");
        // A window probe sends its byte again without retransmitting it.
        if stall {
            assert!(ia.bytes_retrans <= again, "{msg}: bytes_retrans");
            probed += usize::from(ia.bytes_retrans < again);
        } else {
            assert_eq!(ia.bytes_retrans, again, "{msg}: bytes_retrans");
        }
        assert_eq!(ia.bytes_sent - again, n as u64, "{msg}: sent once");
        assert_eq!((ib.data_segs_out, ib.bytes_sent), (0, 0), "{msg}");
        if lossy {
            assert!(ia.bytes_retrans > 0, "{msg}: no loss to see");
        } else {
            assert_eq!(ib.data_segs_in, segs, "{msg}: data_segs_in");
        }
    }
    assert!(probed > 0, "no run probed a closed window");
}

/// With window scaling the window field counts units of 2^shift bytes:
/// rounding the window down as data arrives in odd sizes would move the
/// right edge left by a few bytes. RFC 9293 §3.8.6 (SHLD-14): it never
/// moves left — the field rounds up when rounding down would shrink it,
/// as Linux's tcp_select_window aligns it.
#[test]
fn the_scaled_right_edge_never_moves_left() {
    use tcplab_wire::{ipv4, tcp};
    for seed in 0..16u64 {
        let mut p = Pair::new(seed, 1500, |_| {});
        p.keep_log = true;
        let (c, s) = connect(&mut p);
        let mut rng = crate::Rng::new(seed);
        let mut buf = vec![0u8; 4096];
        for _ in 0..200 {
            let n = 1 + rng.below(3000) as usize;
            let _ = p.a.tcp_send(c, &vec![7u8; n]);
            p.run_for(Duration::from_millis(rng.below(30)));
            if rng.chance(0.7) {
                let want = 1 + rng.below(4096) as usize;
                let _ = p.b.tcp_recv(s, &mut buf[..want]);
            }
        }
        // b's shift, from its <SYN,ACK>; then every segment b sent after.
        let mut shift = None;
        let mut last = None;
        let mut seen = 0;
        for (to_b, d) in &p.log {
            if *to_b {
                continue;
            }
            let ip = ipv4::Packet::new_checked(&d[..]).unwrap();
            let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
            let r = tcp::Repr::parse(&seg).unwrap();
            if r.flags.syn() {
                shift = Some(r.window_scale.unwrap_or(0));
                continue;
            }
            if !r.flags.ack() || r.flags.rst() {
                continue;
            }
            let edge = r.ack_number + (usize::from(r.window_len) << shift.unwrap());
            if let Some(prev) = last {
                assert!(edge >= prev, "seed {seed}: right edge {prev:?} -> {edge:?}");
            }
            last = Some(edge);
            seen += 1;
        }
        assert!(
            shift.is_some_and(|s| s > 0) && seen > 50,
            "seed {seed}: {seen}"
        );
    }
}

/// A connection reset with data out and unsent still reports what it
/// sent (closing discards the queue; the count is kept, not re-derived).
#[test]
fn bytes_sent_survive_a_reset_with_data_in_flight() {
    for seed in 0..6u64 {
        let mut p = Pair::new(seed, 1500, |_| {});
        p.keep_log = true;
        p.faults.loss = 0.03;
        let (c, s) = connect(&mut p);
        let data = pattern(600_000, seed);
        let mut sent = 0;
        let mut buf = vec![0u8; 65536];
        for _ in 0..40 {
            if let Ok(k) = p.a.tcp_send(c, &data[sent..]) {
                sent += k;
            }
            p.run_for(Duration::from_millis(5));
            while p.b.tcp_recv(s, &mut buf).is_ok_and(|k| k > 0) {}
        }
        let now = p.now;
        p.b.tcp_abort(now, s);
        // Until the reset has arrived and nothing more moves.
        p.run_for(Duration::from_millis(100));
        let i = p.a.tcp_info(c).unwrap();
        assert_eq!(i.state, State::Closed, "seed {seed}");
        let (bytes, segs, again) = wire_data_out(&p.log);
        assert!(i.bytes_sent > 0, "seed {seed}");
        assert_eq!(
            (i.bytes_sent, i.data_segs_out),
            (bytes, segs),
            "seed {seed}"
        );
        assert_eq!(i.bytes_retrans, again, "seed {seed}");
    }
}
