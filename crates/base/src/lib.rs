//! The small types every layer of tcplab shares, at the bottom of the crate
//! graph: the link model, the packet policy and the stack all use these
//! definitions, so none of them depends on another just for a type.
//!
//! * [`Instant`]: virtual time (protocol code never reads a clock);
//! * [`Rng`]: the seeded random generator every random choice comes from;
//! * [`hash`]: hash maps keyed with secrets from that generator;
//! * [`IfaceId`]: an interface's index in its stack;
//! * [`HookPoint`] and [`HookVerdict`]: where forwarding consults a packet
//!   policy, and what the policy decides.
#![forbid(unsafe_code)]

pub mod hash;
pub mod rand;
pub mod time;

pub use rand::Rng;
pub use time::Instant;

/// Index of an interface in its stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfaceId(pub usize);

impl IfaceId {
    pub const LOOPBACK: IfaceId = IfaceId(0);
}

/// Where in forwarding a packet policy is consulted (as Linux's netfilter
/// hooks sit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    Prerouting,
    Forward,
    Postrouting,
}

/// What a packet policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookVerdict {
    Accept,
    Drop,
    /// Drop and tell the sender: a TCP reset (from the destination it
    /// tried), or ICMP port unreachable for anything else.
    Reject,
}
