//! The state × event table, kept as a snapshot in docs/tcp-state-table.md,
//! and the state diagram generated from it. Every cell is computed by
//! driving a real connection into the row's state and applying the event.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p tcplab-stack state_event_table`
//! rewrites the file after a deliberate change.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::Duration;

use tcplab_wire::tcp::Flags;

use super::pair::sa;
use super::segments::{Bench, Seg};
use crate::socket::TcpHandle;
use crate::tcp::{SocketSnapshot, State};

const US: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 1);
const THEM: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 2);
const IRS: u32 = 1000;

/// A connection in a given state, and what the test knows of it.
struct Setup {
    b: Bench,
    conn: Option<TcpHandle>,
    iss: u32,
    /// The peer's next sequence number (our RCV.NXT).
    rcv_nxt: u32,
    /// Our SND.MAX.
    snd_max: u32,
}

const STATES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN-SENT",
    "SYN-RECEIVED",
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "CLOSE-WAIT",
    "CLOSING",
    "LAST-ACK",
    "TIME-WAIT",
];

const EVENTS: [&str; 12] = [
    "SYN",
    "SYN,ACK",
    "ACK",
    "ACK > SND.NXT",
    "RST exact",
    "RST in window",
    "FIN",
    "data",
    "old data",
    "CLOSE",
    "ABORT",
    "timeout",
];

fn setup(state: &str) -> Setup {
    let mut b = Bench::new(|c| c.msl = Duration::from_secs(30));
    let mut s = Setup {
        b: Bench::new(|_| {}),
        conn: None,
        iss: 0,
        rcv_nxt: IRS + 1,
        snd_max: 0,
    };
    match state {
        "CLOSED" => {}
        "LISTEN" => {
            b.s.tcp_listen(sa(US, 80), 4).unwrap();
        }
        "SYN-SENT" => {
            let c =
                b.s.tcp_connect(b.now, sa(THEM, 4000), Some(sa(US, 80)))
                    .unwrap();
            s.iss = b.one().seq;
            s.conn = Some(c);
            s.snd_max = s.iss + 1;
            s.rcv_nxt = IRS;
        }
        _ => {
            let l = b.s.tcp_listen(sa(US, 80), 4).unwrap();
            b.send(Seg::new(Flags::SYN, IRS, 0));
            s.iss = b.one().seq;
            s.snd_max = s.iss + 1;
            if state == "SYN-RECEIVED" {
                s.conn =
                    b.s.tcp_sockets()
                        .into_iter()
                        .find(|(_, x)| matches!(x, SocketSnapshot::Connection(_)))
                        .map(|(h, _)| h);
            } else {
                b.send(Seg::new(Flags::ACK, IRS + 1, s.iss + 1));
                let c = b.s.tcp_accept(l).unwrap();
                s.conn = Some(c);
                let close = |b: &mut Bench, s: &mut Setup| {
                    b.s.tcp_shutdown(c).unwrap();
                    b.recv();
                    s.snd_max += 1;
                };
                let peer_fin = |b: &mut Bench, s: &mut Setup, ack: u32| {
                    b.send(Seg::new(Flags::ACK | Flags::FIN, s.rcv_nxt, ack));
                    b.recv();
                    s.rcv_nxt += 1;
                };
                let first = s.iss + 1;
                match state {
                    "ESTABLISHED" => {}
                    "FIN-WAIT-1" => close(&mut b, &mut s),
                    "FIN-WAIT-2" => {
                        close(&mut b, &mut s);
                        b.send(Seg::new(Flags::ACK, s.rcv_nxt, s.snd_max));
                    }
                    "CLOSE-WAIT" => {
                        peer_fin(&mut b, &mut s, first);
                        // The FIN's ACK waits for a close (Linux's
                        // delayed ACK in pingpong mode): let it go.
                        b.advance(std::time::Duration::from_millis(40));
                        b.recv();
                    }
                    "CLOSING" => {
                        close(&mut b, &mut s);
                        peer_fin(&mut b, &mut s, first);
                    }
                    "LAST-ACK" => {
                        peer_fin(&mut b, &mut s, first);
                        close(&mut b, &mut s);
                    }
                    "TIME-WAIT" => {
                        close(&mut b, &mut s);
                        let ack = s.snd_max;
                        peer_fin(&mut b, &mut s, ack);
                    }
                    other => panic!("no setup for {other}"),
                }
            }
        }
    }
    b.recv();
    let actual = s.conn.map(|c| b.state(c).to_string());
    if let Some(actual) = actual {
        assert_eq!(actual, state, "setup reached the wrong state");
    }
    s.b = b;
    s
}

/// Apply an event; returns (state after, replies as tcpdump flags).
fn apply(s: &mut Setup, event: &str) -> (String, String) {
    let b = &mut s.b;
    let (nxt, max, iss) = (s.rcv_nxt, s.snd_max, s.iss);
    match event {
        "SYN" => b.send(Seg::new(Flags::SYN, nxt.wrapping_add(5), 0)),
        "SYN,ACK" => b.send(Seg::new(Flags::SYN | Flags::ACK, IRS, iss + 1)),
        "ACK" => b.send(Seg::new(Flags::ACK, nxt, max)),
        "ACK > SND.NXT" => b.send(Seg::new(Flags::ACK, nxt, max + 1000)),
        "RST exact" => b.send(Seg::new(Flags::RST, nxt, 0)),
        "RST in window" => b.send(Seg::new(Flags::RST, nxt + 10, 0)),
        "FIN" => b.send(Seg::new(Flags::ACK | Flags::FIN, nxt, max)),
        "data" => b.send(Seg::new(Flags::ACK | Flags::PSH, nxt, max).data(b"abc")),
        "old data" => b.send(Seg::new(Flags::ACK, nxt.wrapping_sub(100), max).data(b"abc")),
        "CLOSE" => match s.conn {
            Some(c) => {
                let now = b.now;
                b.s.tcp_close(now, c)
            }
            None => {
                for (h, _) in b.s.tcp_sockets() {
                    let now = b.now;
                    b.s.tcp_close(now, h);
                }
            }
        },
        "ABORT" => match s.conn {
            Some(c) => {
                let now = b.now;
                b.s.tcp_abort(now, c)
            }
            None => {
                for (h, _) in b.s.tcp_sockets() {
                    let now = b.now;
                    b.s.tcp_abort(now, h);
                }
            }
        },
        "timeout" => {
            // The next timer that does something: the table files wake-ups
            // lazily, so one may come early and do nothing.
            let before = s.conn.map(|c| b.state(c));
            for _ in 0..16 {
                let Some(t) = b.s.poll_timeout() else { break };
                let d = t.saturating_since(b.now);
                b.advance(d);
                if b.has_output() || s.conn.map(|c| b.state(c)) != before {
                    break;
                }
            }
        }
        other => panic!("unknown event {other}"),
    }
    if event != "timeout" {
        b.advance(Duration::from_millis(50));
    }
    let replies: Vec<String> = b.recv().iter().map(|r| format!("[{}]", r.flags)).collect();
    let state = state_now(s);
    (
        state,
        if replies.is_empty() {
            "–".into()
        } else {
            replies.join(" ")
        },
    )
}

fn state_now(s: &Setup) -> String {
    let sockets = s.b.s.tcp_sockets();
    let conn_state = |h: TcpHandle| {
        sockets.iter().find(|(k, _)| *k == h).map(|(_, x)| match x {
            SocketSnapshot::Connection(i) => i.state.to_string(),
            SocketSnapshot::Listener { .. } => "LISTEN".into(),
        })
    };
    match s.conn {
        Some(c) => conn_state(c).unwrap_or_else(|| State::Closed.to_string()),
        None => {
            // LISTEN and CLOSED rows: a connection the event created, else
            // the listener, else nothing.
            let conn = sockets.iter().find_map(|(_, x)| match x {
                SocketSnapshot::Connection(i) => Some(i.state.to_string()),
                _ => None,
            });
            let listening = sockets
                .iter()
                .any(|(_, x)| matches!(x, SocketSnapshot::Listener { .. }));
            match (conn, listening) {
                (Some(c), _) => c,
                (None, true) => "LISTEN".into(),
                (None, false) => "CLOSED".into(),
            }
        }
    }
}

#[test]
fn state_event_table() {
    let mut table = String::new();
    let mut transitions = BTreeSet::new();
    let _ = writeln!(
        table,
        "# TCP state × event table\n\n\
         Generated by `crates/stack/src/tcp/tests/table.rs` from the running code: each cell\n\
         drives a connection into the row's state, applies the column's event, and records the\n\
         state afterwards and the segments sent in reply (tcpdump flag letters: S SYN, F FIN,\n\
         R RST, P PSH, `.` ACK; – for none). Segments are from the peer and, unless the column\n\
         says otherwise, carry SEG.SEQ = RCV.NXT and SEG.ACK = SND.NXT. \"old data\" starts 100\n\
         bytes below RCV.NXT; \"timeout\" runs the connection's next timer. CLOSE is the\n\
         application closing its socket, ABORT is RFC 9293's ABORT.\n\n\
         Do not edit: `UPDATE_SNAPSHOTS=1 cargo test -p tcplab-stack state_event_table`.\n"
    );
    let _ = write!(table, "| state |");
    for e in EVENTS {
        let _ = write!(table, " {e} |");
    }
    let _ = write!(table, "\n|---|");
    for _ in EVENTS {
        let _ = write!(table, "---|");
    }
    table.push('\n');
    for state in STATES {
        let _ = write!(table, "| **{state}** |");
        for event in EVENTS {
            let mut s = setup(state);
            let (after, replies) = apply(&mut s, event);
            let _ = write!(table, " {after} {replies} |");
            if after != state {
                transitions.insert((state.to_string(), after, event.to_string()));
            }
        }
        table.push('\n');
    }
    let mut diagram = String::from(
        "\n## State diagram\n\nThe transitions observed above, as a Mermaid state diagram (GitHub renders it).\n\n```mermaid\nstateDiagram-v2\n",
    );
    for (from, to, event) in &transitions {
        let _ = writeln!(diagram, "    {} --> {}: {}", ident(from), ident(to), event);
    }
    diagram.push_str("```\n");
    table.push_str(&diagram);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tcp-state-table.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &table).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != table {
        let first = committed
            .lines()
            .zip(table.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "docs/tcp-state-table.md is out of date (first difference at line {}):\n  committed: {}\n  now:       {}\nRun UPDATE_SNAPSHOTS=1 cargo test -p tcplab-stack state_event_table",
            first + 1,
            committed.lines().nth(first).unwrap_or(""),
            table.lines().nth(first).unwrap_or("")
        );
    }
}

fn ident(state: &str) -> String {
    state.replace('-', "_")
}
