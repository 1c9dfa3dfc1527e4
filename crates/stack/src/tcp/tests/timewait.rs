//! A connection in TIME-WAIT kept as a small record (`timewait.rs`) answers
//! exactly as its whole control block would: two stacks, alike but for
//! `compact_time_wait`, are brought into TIME-WAIT the same way and then
//! fed the same random segments, clock steps and calls; every byte they
//! send, every state and every counter must agree. The seed of a failing
//! case is in the message.

use std::time::Duration;

use tcplab_wire::tcp::Flags;

use super::pair::sa;
use super::segments::{Bench, Seg, ACK, FIN, IRS, PORT, PSH, RST, SYN, US};
use crate::socket::TcpHandle;
use crate::tcp::table::TcpSocket;
use crate::tcp::{SocketOptions, State, TcpConfig};
use crate::Rng;

/// The settings a case draws: what TIME-WAIT's answers depend on.
#[derive(Debug, Clone, Copy)]
struct Case {
    sack: bool,
    ts: bool,
    wscale: bool,
    rfc1337: bool,
    rst_challenge: bool,
    syn_challenge: bool,
    reopen: bool,
    fin_on_acks: bool,
    /// TTL and TOS set on the listener, inherited by the connection.
    socket_options: bool,
    /// Our data is lost once and sent again after a timeout (an episode
    /// whose undo a late D-SACK could ask for).
    timeout: bool,
    /// Data each way before the close.
    data_in: usize,
    data_out: usize,
}

impl Case {
    fn draw(rng: &mut Rng) -> Case {
        Case {
            sack: rng.chance(0.7),
            ts: rng.chance(0.7),
            wscale: rng.chance(0.5),
            rfc1337: rng.chance(0.5),
            rst_challenge: rng.chance(0.7),
            syn_challenge: rng.chance(0.7),
            reopen: rng.chance(0.7),
            fin_on_acks: rng.chance(0.3),
            socket_options: rng.chance(0.3),
            timeout: rng.chance(0.4),
            data_in: [0, 1, 700, 3000][rng.below(4) as usize],
            data_out: [0, 1, 900][rng.below(3) as usize],
        }
    }

    fn config(&self, compact: bool) -> impl FnOnce(&mut TcpConfig) + '_ {
        move |c| {
            c.sack = self.sack;
            c.timestamps = self.ts;
            c.window_scaling = self.wscale;
            c.rfc1337 = self.rfc1337;
            c.rst_challenge = self.rst_challenge;
            c.syn_challenge = self.syn_challenge;
            c.time_wait_reopen = self.reopen;
            c.fin_on_acks = self.fin_on_acks;
            c.compact_time_wait = compact;
        }
    }
}

/// What the peer knows: its next sequence number, ours, and its clock.
#[derive(Debug, Clone, Copy)]
struct Peer {
    nxt: u32,
    our_nxt: u32,
    tsval: u32,
    /// Our last TSval seen.
    our_ts: u32,
    /// The span of our data, for SACK blocks.
    data: (u32, u32),
}

impl Peer {
    fn seg(&self, flags: Flags, seq: u32, ack: u32, ts: bool) -> Seg {
        let s = Seg::new(flags, seq, ack);
        if ts {
            s.ts(self.tsval, self.our_ts)
        } else {
            s
        }
    }
}

/// Passive open, data both ways, our close, the peer's FIN: TIME-WAIT.
fn to_time_wait(b: &mut Bench, case: &Case) -> (TcpHandle, Peer) {
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    if case.socket_options {
        let opts = SocketOptions {
            ttl: Some(33),
            tos: 0x20,
            ..SocketOptions::UNSET
        };
        assert!(b.s.tcp_set_options(l, opts));
    }
    let mut syn = Seg::new(SYN, IRS, 0).mss(1460);
    if case.sack {
        syn = syn.sack_ok();
    }
    if case.ts {
        syn = syn.ts(5000, 0);
    }
    if case.wscale {
        syn.wscale = Some(7);
    }
    b.send(syn);
    let synack = b.one();
    let mut p = Peer {
        nxt: IRS + 1,
        our_nxt: synack.seq.wrapping_add(1),
        tsval: 5001,
        our_ts: synack.ts.map_or(0, |t| t.0),
        data: (0, 0),
    };
    b.send(p.seg(ACK, p.nxt, p.our_nxt, case.ts));
    let c = b.s.tcp_accept(l).unwrap();
    // The peer's data, read by the application.
    let mut sent = 0;
    while sent < case.data_in {
        let n = (case.data_in - sent).min(1000);
        p.tsval += 1;
        b.send(
            p.seg(ACK | PSH, p.nxt, p.our_nxt, case.ts)
                .data(&vec![7u8; n]),
        );
        p.nxt = p.nxt.wrapping_add(n as u32);
        sent += n;
        let mut buf = vec![0u8; 4096];
        while b.s.tcp_recv(c, &mut buf).is_ok_and(|n| n > 0) {}
    }
    b.advance(Duration::from_millis(300));
    b.recv();
    // Ours, acknowledged.
    if case.data_out > 0 {
        p.data.0 = p.our_nxt;
        assert_eq!(
            b.s.tcp_send(c, &vec![9u8; case.data_out]),
            Ok(case.data_out)
        );
        for s in b.recv() {
            p.our_ts = s.ts.map_or(p.our_ts, |t| t.0);
            p.our_nxt = s.seq.wrapping_add(s.data.len() as u32);
        }
        p.data.1 = p.our_nxt;
        if case.timeout {
            // Lost: the retransmission timer sends it again.
            b.advance(Duration::from_millis(1500));
            for s in b.recv() {
                p.our_ts = s.ts.map_or(p.our_ts, |t| t.0);
            }
        }
        p.tsval += 1;
        b.send(p.seg(ACK, p.nxt, p.our_nxt, case.ts));
    }
    b.s.tcp_close(b.now, c);
    for s in b.recv() {
        p.our_ts = s.ts.map_or(p.our_ts, |t| t.0);
        if s.flags.fin() {
            p.our_nxt = s.seq.wrapping_add(s.data.len() as u32 + 1);
        }
    }
    p.tsval += 1;
    b.send(p.seg(ACK | FIN, p.nxt, p.our_nxt, case.ts));
    p.nxt = p.nxt.wrapping_add(1);
    b.recv();
    assert_eq!(b.state(c), State::TimeWait);
    (c, p)
}

/// A sequence number near `at`: the edges of the window and far away.
fn near(rng: &mut Rng, at: u32) -> u32 {
    let d: i64 = match rng.below(9) {
        0 => 0,
        1 => -1,
        2 => 1,
        3 => -1000,
        4 => 1000,
        5 => 70_000,
        6 => -70_000,
        7 => i64::from(rng.below(1 << 31) as u32),
        _ => rng.below(65536) as i64 - 32768,
    };
    (i64::from(at) + d) as u32
}

fn step(rng: &mut Rng, p: &mut Peer, case: &Case) -> Step {
    match rng.below(10) {
        0 => Step::Advance(Duration::from_millis(rng.below(5000))),
        1 => Step::Advance(Duration::from_secs(20 + rng.below(30))),
        2 => Step::Info,
        3 => Step::Recv,
        _ => {
            let flags = [
                ACK,
                ACK,
                FIN | ACK,
                FIN | ACK,
                RST,
                RST | ACK,
                SYN,
                SYN | ACK,
                ACK | PSH,
                Flags(0),
            ][rng.below(10) as usize];
            let seq = near(rng, p.nxt);
            let ack = near(rng, p.our_nxt);
            // The peer's clock moves on, stands still or goes back.
            match rng.below(4) {
                0 => {}
                1 => p.tsval = p.tsval.wrapping_sub(1 + rng.below(10) as u32),
                _ => p.tsval = p.tsval.wrapping_add(1 + rng.below(2000) as u32),
            }
            let with_ts = if case.ts {
                rng.chance(0.9)
            } else {
                rng.chance(0.1)
            };
            let mut s = p.seg(flags, seq, ack, with_ts);
            if flags.ack() && rng.chance(0.3) {
                s = s.data(&vec![1u8; [1, 10, 1400][rng.below(3) as usize]]);
            }
            if rng.chance(0.2) {
                s = s.win(rng.below(65536) as u16);
            }
            // SACK blocks: a D-SACK of our (retransmitted) data, or blocks
            // anywhere near what we sent.
            if flags.ack() && rng.chance(0.4) {
                let block = match rng.below(3) {
                    0 if p.data.1 != p.data.0 => p.data,
                    _ => {
                        let l = near(rng, p.our_nxt);
                        (l, l.wrapping_add(1 + rng.below(3000) as u32))
                    }
                };
                s = s.sacks(&[block]);
            }
            Step::Send(s)
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Advance(Duration),
    Send(Seg),
    Info,
    Recv,
}

fn apply(b: &mut Bench, c: TcpHandle, s: &Step) -> String {
    match s {
        Step::Advance(d) => {
            b.advance(*d);
            String::new()
        }
        Step::Send(seg) => {
            b.send(seg.clone());
            String::new()
        }
        // What a record keeps of `tcp_info` (congestion control reads as
        // a new connection's).
        Step::Info => format!(
            "{:?} {:?} {:?}",
            b.s.tcp_state(c),
            b.s.tcp_readiness(c),
            b.s.tcp_info(c).map(|i| (
                (i.state, i.snd_una, i.snd_nxt, i.rcv_nxt, i.rcv_wnd, i.snd_wnd),
                (i.srtt, i.rto, i.timer, i.sack, i.timestamps, i.mss),
                (
                    i.bytes_acked,
                    i.bytes_received,
                    i.segs_in,
                    i.segs_out,
                    i.retrans_segs
                ),
            ))
        ),
        Step::Recv => {
            let mut buf = [0u8; 64];
            format!("{:?}", b.s.tcp_recv(c, &mut buf))
        }
    }
}

fn is_record(b: &Bench, c: TcpHandle) -> bool {
    matches!(b.s.tcp.sockets.get(c.0), Some(TcpSocket::TimeWait(_)))
}

#[test]
fn a_time_wait_record_answers_as_the_control_block_would() {
    let mut records = 0;
    for seed in 0..300u64 {
        let mut rng = Rng::new(seed);
        let case = Case::draw(&mut rng);
        let mut whole = Bench::new(case.config(false));
        let mut small = Bench::new(case.config(true));
        let (c, mut p) = to_time_wait(&mut whole, &case);
        let (c2, p2) = to_time_wait(&mut small, &case);
        assert_eq!(
            (c, p.nxt, p.our_nxt),
            (c2, p2.nxt, p2.our_nxt),
            "seed {seed}"
        );
        assert!(!is_record(&whole, c), "seed {seed}");
        records += usize::from(is_record(&small, c));
        for i in 0..40 {
            let s = step(&mut rng, &mut p, &case);
            let a = apply(&mut whole, c, &s);
            let b = apply(&mut small, c, &s);
            let (wa, wb) = (whole.recv(), small.recv());
            let ctx = format!("seed {seed}, step {i}: {s:?}, {case:?}");
            assert_eq!(a, b, "{ctx}");
            assert_eq!(wa, wb, "{ctx}");
            assert_eq!(whole.sent, small.sent, "{ctx}");
            assert_eq!(whole.s.stats().tcp, small.s.stats().tcp, "{ctx}");
            assert_eq!(whole.state(c), small.state(c), "{ctx}");
            small
                .s
                .tcp
                .check_invariants()
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            for s in &wa {
                p.our_ts = s.ts.map_or(p.our_ts, |t| t.0);
            }
        }
    }
    // Most cases spent their TIME-WAIT as a record (a case whose first
    // step revives it still counts: it began as one).
    assert!(records > 250, "only {records} of 300 cases kept a record");
}

// A late D-SACK in TIME-WAIT (RFC 3708: it would undo the last episode)
// is taken the same way whether the connection is kept whole or as a
// record: TIME-WAIT keeps no undo (`enter_time_wait`).
#[test]
fn a_late_dsack_in_time_wait_undoes_nothing_either_way() {
    let case = Case {
        sack: true,
        ts: true,
        wscale: false,
        rfc1337: false,
        rst_challenge: true,
        syn_challenge: true,
        reopen: true,
        fin_on_acks: false,
        socket_options: false,
        timeout: true,
        data_in: 0,
        data_out: 900,
    };
    let mut whole = Bench::new(case.config(false));
    let mut small = Bench::new(case.config(true));
    let (c, p) = to_time_wait(&mut whole, &case);
    to_time_wait(&mut small, &case);
    assert!(is_record(&small, c));
    let dsack = p.seg(ACK, p.nxt, p.our_nxt, true).sacks(&[p.data]);
    // One for each copy the timer sent (a whole block would undo at the
    // last).
    let copies = whole.s.stats().tcp.retrans_segs;
    assert!(copies > 0);
    for b in [&mut whole, &mut small] {
        for _ in 0..copies {
            b.send(dsack.clone());
            b.recv();
        }
        assert_eq!(b.s.stats().tcp.spurious_undos, 0);
    }
    assert_eq!(whole.sent, small.sent);
    assert_eq!(whole.s.stats().tcp, small.s.stats().tcp);
}
