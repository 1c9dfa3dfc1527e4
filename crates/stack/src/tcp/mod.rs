//! TCP (RFC 9293), sans-IO.
//!
//! What is here: all eleven states and the transitions of RFC 9293's state
//! diagram, simultaneous open and close, TIME-WAIT for 2·MSL with reopening
//! by a new SYN (RFC 6191); segment arrival exactly per §3.10.7 with RFC
//! 5961's protections (exact-match RST, challenge ACKs, the blind data
//! injection bound); ISNs per RFC 6528; retransmission per RFC 6298 with
//! Karn's rule and backoff and the R1/R2 limits of §3.8.3; flow control with
//! zero-window probing, window updates, sender and receiver SWS avoidance,
//! Nagle, delayed ACKs; RFC 5681 congestion control with RFC 6582 NewReno
//! behind the [`Controller`] trait; MSS option and effective MSS (§3.7.1),
//! RFC 1191 path MTU, RFC 5927 soft ICMP errors; urgent data per RFC 6093;
//! keep-alive; window scaling (RFC 7323 §2).
//!
//! What is deliberately left out, with the reason (see docs/compliance.md):
//! SACK (RFC 2018) — the receiver keeps out-of-order data, but the sender
//! recovers with NewReno's one-hole-per-RTT; timestamps (RFC 7323 §3–5) —
//! RTT is timed one segment at a time (Karn), PAWS is not needed at the
//! speeds simulated; SYN cookies — the SYN queue is bounded instead; the
//! obsolete security/precedence checks.
//!
//! Module map: `tcb` (state and variables), `input` (segment arrival, one
//! function per §3.10.7 step), `output` (what to send and when, timers),
//! `table` (demultiplexing, listeners, ISNs, resets, emission), `api` (the
//! user interface of §3.9.1), `buffer`, `rtt`, `congestion`, `timers`.

mod api;
mod buffer;
mod config;
mod congestion;
mod input;
mod output;
mod rtt;
mod table;
mod tcb;
mod timers;

pub use api::{ConnectError, Readiness, SocketSnapshot};
pub use buffer::{Assembler, Ring};
pub use config::{CongestionAlgorithm, TcpConfig};
pub use congestion::{initial_window, Controller, NewReno};
pub use rtt::RttEstimator;
pub use table::{mss_for, Emitted, Listener, TcpLayer, TcpSocket};
pub use tcb::{State, TcpInfo};
pub use timers::Timer;

#[cfg(test)]
mod tests;
