//! TCP (RFC 9293), sans-IO.
//!
//! What is here: all eleven states and the transitions of RFC 9293's state
//! diagram, each move checked against it; simultaneous open and close,
//! TIME-WAIT for 2·MSL with reopening by a new SYN (RFC 6191), a closed
//! connection kept meanwhile as a small record (`timewait`); segment
//! arrival per §3.10.7, one function per step in the RFC's order, with RFC
//! 5961's protections (exact-match RST, challenge ACKs, the blind data
//! injection bound) and rate-limited answers to out-of-window segments;
//! ISNs per RFC 6528; SYN cookies when the SYN queue is full (RFC 4987
//! §3.6); retransmission per RFC 6298 with Karn's rule and backoff and the
//! R1/R2 limits of §3.8.3; flow control with zero-window probing that lasts
//! as long as the peer answers (RFC 1122 §4.2.2.17), the SWS override
//! (§4.2.3.4), window updates, sender and receiver SWS avoidance, Nagle
//! (Minshall's variant by default, as Linux), delayed ACKs with "full-sized"
//! as the peer's segments show it (Linux's rcv_mss); MSS option and effective MSS (§3.7.1), RFC 1191 path MTU
//! down to 68 (DF cleared below `min_pmtu`), RFC 5927 soft ICMP errors;
//! urgent data per RFC 6093; keep-alive; window scaling (RFC 7323 §2).
//!
//! Loss recovery and congestion control: SACK (RFC 2018) with D-SACK (RFC
//! 2883) both ways, a scoreboard in the retransmission queue and RFC
//! 6675's pipe and NextSeg; timestamps (RFC 7323 §3–5: RTTM, PAWS) and RFC
//! 6191's TIME-WAIT test; RACK-TLP (RFC 8985); PRR (RFC 6937); undo of
//! spurious reductions (RFC 3708 D-SACK, RFC 3522 Eifel); the delivery-
//! rate sampler; NewReno (RFC 5681/6582), CUBIC (RFC 9438, the default,
//! with HyStart++ RFC 9406), BBR (draft-ietf-ccwg-bbr, v3) and BBRv1
//! (draft-cardwell-iccrg-bbr-congestion-control-00) behind the
//! [`Controller`] trait, paced when the algorithm asks for it.
//!
//! How the send side works: the SYN, the data and the FIN are items in one
//! sequence space, each sent whenever it is unacknowledged and due,
//! whatever the state; SND.NXT only moves forward, and every segment in
//! flight has a record in the retransmission queue (`rtx`), which loss
//! detection marks and the sender repairs from. No rule reads a variable
//! that another rule has rewound.
//!
//! What is deliberately left out, with the reason (see docs/compliance.md):
//! the obsolete security/precedence checks; ECN (flags carried, not acted
//! on).
//!
//! Module map: `state` (the states, per-state data, checked transitions),
//! `sender` and `receiver` (the two halves' sequence variables and
//! buffers), `rtx` (the retransmission queue), `tcb` (one connection),
//! `input` (segment arrival, one function per §3.10.7 step), `output` (what
//! to send and when, timers), `table` (demultiplexing, timers, output
//! order), `listen` (LISTEN, CLOSED, SYN cookies), `syncookie`, `emit`
//! (datagrams), `api` (the user interface of §3.9.1), `buffer`, `rtt`,
//! `timers`; loss recovery in `recovery` (SACK/RACK-TLP/PRR/undo), `rate`
//! (delivery rate), `filter` (windowed min/max); the algorithms in
//! `congestion` (trait, NewReno), `cubic`, `bbr`, `bbr1`.

mod api;
mod bbr;
mod bbr1;
mod buffer;
mod chrono;
mod compact;
mod config;
mod congestion;
mod conns;
mod cubic;
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
mod timewait;
mod trace;

pub use api::{ConnectError, Readiness, SocketSnapshot};
pub use bbr::BbrInfo;
pub use buffer::{Assembler, Ring};
pub use config::{
    CongestionAlgorithm, OptionLayout, ReceiverSws, SocketOptions, TcpConfig, MAX_SOCKET_BUFFER,
};
pub use congestion::{initial_window, AckEvent, Congestion, Controller, NewReno};
pub use emit::mss_for;
pub use rtt::RttEstimator;
pub use state::State;
pub use table::{Emitted, Listener, TcpLayer, TcpSocket};
pub use tcb::TcpInfo;
pub use timers::Timer;
pub use trace::{CcSample, TraceEvent};

#[cfg(test)]
mod tests;
