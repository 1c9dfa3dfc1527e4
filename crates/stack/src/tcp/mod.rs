//! TCP (RFC 9293), sans-IO.
//!
//! What is here: all eleven states and the transitions of RFC 9293's state
//! diagram, each move checked against it; simultaneous open and close,
//! TIME-WAIT for 2·MSL with reopening by a new SYN (RFC 6191); segment
//! arrival per §3.10.7, one function per step in the RFC's order, with RFC
//! 5961's protections (exact-match RST, challenge ACKs, the blind data
//! injection bound) and rate-limited answers to out-of-window segments;
//! ISNs per RFC 6528; SYN cookies when the SYN queue is full (RFC 4987
//! §3.6); retransmission per RFC 6298 with Karn's rule and backoff and the
//! R1/R2 limits of §3.8.3; flow control with zero-window probing that lasts
//! as long as the peer answers (RFC 1122 §4.2.2.17), the SWS override
//! (§4.2.3.4), window updates, sender and receiver SWS avoidance, Nagle,
//! delayed ACKs; RFC 5681 congestion control with RFC 6582 NewReno behind
//! the [`Controller`] trait; MSS option and effective MSS (§3.7.1), RFC
//! 1191 path MTU down to 68 (DF cleared below `min_pmtu`), RFC 5927 soft
//! ICMP errors; urgent data per RFC 6093; keep-alive; window scaling (RFC
//! 7323 §2).
//!
//! How the send side works: the SYN, the data and the FIN are items in one
//! sequence space, each sent whenever it is unacknowledged and due,
//! whatever the state; SND.NXT only moves forward, and every segment in
//! flight has a record in the retransmission queue (`rtx`), which loss
//! detection marks and the sender repairs from. No rule reads a variable
//! that another rule has rewound.
//!
//! What is deliberately left out, with the reason (see docs/compliance.md):
//! SACK (RFC 2018) — the receiver keeps out-of-order data, but the sender
//! recovers with NewReno's one-hole-per-RTT (the queue's lost/retransmitted
//! marks are where a scoreboard will go); timestamps (RFC 7323 §3–5) — RTT
//! is sampled per ACK from the queue's send times, with Karn's rule; the
//! obsolete security/precedence checks.
//!
//! Module map: `state` (the states, per-state data, checked transitions),
//! `sender` and `receiver` (the two halves' sequence variables and
//! buffers), `rtx` (the retransmission queue), `tcb` (one connection),
//! `input` (segment arrival, one function per §3.10.7 step), `output` (what
//! to send and when, timers), `table` (demultiplexing, timers, output
//! order), `listen` (LISTEN, CLOSED, SYN cookies), `syncookie`, `emit`
//! (datagrams), `api` (the user interface of §3.9.1), `buffer`, `rtt`,
//! `congestion`, `timers`.

mod api;
mod buffer;
mod config;
mod congestion;
mod emit;
mod filter;
mod input;
mod listen;
mod output;
mod rate;
mod receiver;
mod recovery;
mod rtt;
mod rtx;
mod sender;
mod state;
mod syncookie;
mod table;
mod tcb;
mod timers;

pub use api::{ConnectError, Readiness, SocketSnapshot};
pub use buffer::{Assembler, Ring};
pub use config::{CongestionAlgorithm, TcpConfig};
pub use congestion::{initial_window, AckEvent, Congestion, Controller, NewReno};
pub use emit::mss_for;
pub use rtt::RttEstimator;
pub use state::State;
pub use table::{Emitted, Listener, TcpLayer, TcpSocket};
pub use tcb::TcpInfo;
pub use timers::Timer;

#[cfg(test)]
mod tests;
