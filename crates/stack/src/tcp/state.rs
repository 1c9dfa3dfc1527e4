//! A connection's place in RFC 9293's state diagram (§3.3.2, figure 5).
//!
//! [`State`] is the plain name that users see (`ss`, STATUS). [`Phase`] is
//! what the connection keeps: the state together with the data that exists
//! only in it — the handshake's role and a CLOSE waiting for ESTABLISHED in
//! SYN-RECEIVED, the orphan timeout of FIN-WAIT-2, the 2·MSL deadline of
//! TIME-WAIT. A connection moves between phases only through
//! [`Phase::transition`], which checks that the move is an edge of the
//! diagram (a broken internal invariant, panicking in debug builds and
//! tests, as quinn-proto's `state.rs` does).

use core::fmt;

use crate::time::Instant;

/// The states of RFC 9293 §3.3.2, LISTEN aside (a listener is its own kind
/// of socket, [`super::Listener`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

impl State {
    /// Whether the handshake completed (RFC 9293's "synchronized states").
    pub fn synchronized(self) -> bool {
        !matches!(self, State::SynSent | State::SynReceived | State::Closed)
    }

    /// Whether our data or FIN may be sent in this state: synchronized,
    /// and not past the acknowledgment of our FIN (FIN-WAIT-2 and
    /// TIME-WAIT have nothing left to send).
    pub fn sends(self) -> bool {
        matches!(
            self,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// `ss`'s spelling.
    pub fn ss_name(self) -> &'static str {
        match self {
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::Established => "ESTAB",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "UNCONN",
        }
    }

    /// `netstat`'s spelling.
    pub fn netstat_name(self) -> &'static str {
        match self {
            State::SynSent => "SYN_SENT",
            State::SynReceived => "SYN_RECV",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
            State::Closed => "CLOSE",
        }
    }

    /// Whether RFC 9293's diagram (figure 5, with the LISTEN-side and
    /// user-call edges of §3.10) has an edge `self → to`. Every state may go
    /// to CLOSED (ABORT, a reset, a timeout); LISTEN is not a connection
    /// state here, so "SYN-RECEIVED → LISTEN" is a removal, not an edge.
    pub fn has_edge_to(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (_, Closed)
                | (SynSent, SynReceived)
                | (SynSent, Established)
                | (SynReceived, Established)
                | (SynReceived, FinWait1)
                | (Established, FinWait1)
                | (Established, CloseWait)
                | (FinWait1, FinWait2)
                | (FinWait1, Closing)
                | (FinWait1, TimeWait)
                | (FinWait2, TimeWait)
                | (CloseWait, LastAck)
                | (Closing, TimeWait)
        )
    }
}

impl fmt::Display for State {
    /// RFC 9293's spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "CLOSED",
        })
    }
}

/// How a connection reached SYN-RECEIVED, which decides what a RST or a SYN
/// does there (RFC 9293 §3.10.7.4, second and fourth steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// From LISTEN: a RST or a SYN returns the connection to LISTEN.
    Passive,
    /// From SYN-SENT (simultaneous open): a RST means "connection refused".
    Active,
}

/// The state with the data that lives only in it.
///
/// Both enums are `repr(u8)` with their variants in the same order, so
/// `Phase::state` is the phase's tag read as the state (asked several
/// times a segment) rather than a decoding of niche values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    SynSent,
    SynReceived {
        opening: Opening,
        /// The application called CLOSE: RFC 9293 §3.10.4 queues it until
        /// ESTABLISHED, when the FIN follows the queued data.
        close_queued: bool,
    },
    Established,
    FinWait1,
    FinWait2 {
        /// An orphan does not wait for the peer's FIN forever (Linux's
        /// `tcp_fin_timeout`): closed at this time.
        orphan_deadline: super::compact::OptInstant,
    },
    CloseWait,
    Closing,
    LastAck,
    TimeWait {
        /// End of the 2·MSL wait (RFC 9293 §3.6.1).
        until: Instant,
    },
    Closed,
}

impl Phase {
    pub fn state(&self) -> State {
        match self {
            Phase::SynSent => State::SynSent,
            Phase::SynReceived { .. } => State::SynReceived,
            Phase::Established => State::Established,
            Phase::FinWait1 => State::FinWait1,
            Phase::FinWait2 { .. } => State::FinWait2,
            Phase::CloseWait => State::CloseWait,
            Phase::Closing => State::Closing,
            Phase::LastAck => State::LastAck,
            Phase::TimeWait { .. } => State::TimeWait,
            Phase::Closed => State::Closed,
        }
    }

    /// The deadline the phase itself carries, if any.
    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            Phase::TimeWait { until } => Some(until),
            Phase::FinWait2 { orphan_deadline } => orphan_deadline.get(),
            _ => None,
        }
    }

    /// Move to `to`. A move that is not an edge of RFC 9293's diagram is an
    /// internal bug: it panics in debug builds (tests, fuzzing) and is
    /// taken anyway in release builds, where CLOSED is always reachable.
    pub fn transition(&mut self, to: Phase) {
        let (from, next) = (self.state(), to.state());
        debug_assert!(
            from == next || from.has_edge_to(next),
            "TCP state machine: {from} -> {next} is not a transition of RFC 9293"
        );
        *self = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(State::SynReceived.to_string(), "SYN-RECEIVED");
        assert_eq!(State::SynReceived.ss_name(), "SYN-RECV");
        assert_eq!(State::FinWait2.netstat_name(), "FIN_WAIT2");
    }

    #[test]
    fn edges_of_the_diagram() {
        // RFC 9293 figure 5, edge by edge.
        assert!(State::SynSent.has_edge_to(State::Established));
        assert!(State::SynSent.has_edge_to(State::SynReceived));
        assert!(State::FinWait1.has_edge_to(State::TimeWait));
        assert!(State::TimeWait.has_edge_to(State::Closed));
        // Not edges: no way back to an earlier state, no skipping a FIN.
        assert!(!State::Established.has_edge_to(State::SynReceived));
        assert!(!State::CloseWait.has_edge_to(State::FinWait1));
        assert!(!State::FinWait2.has_edge_to(State::Closing));
        assert!(!State::SynSent.has_edge_to(State::FinWait1));
        assert!(!State::TimeWait.has_edge_to(State::Established));
    }

    #[test]
    #[should_panic(expected = "not a transition")]
    fn an_invalid_transition_is_a_bug() {
        let mut p = Phase::CloseWait;
        p.transition(Phase::FinWait1);
    }
}
