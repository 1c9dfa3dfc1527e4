//! A place for packet policy in forwarding: what a router's firewall and
//! NAT (the `netfilter` crate, attached by the host) plug into.
//!
//! A stack with a hook calls it at three points, as Linux's netfilter
//! hooks sit: **prerouting** for every datagram that arrives (after header
//! checks; fragments are reassembled first, as Linux's
//! `nf_defrag` does, and leave fragmented again if the next link needs it),
//! **forward** once the route is known, and **postrouting** just before the
//! datagram is queued for its link. The hook may rewrite the datagram (NAT)
//! and decides whether it goes on.

use std::any::Any;
use std::fmt;

use crate::iface::IfaceId;
use crate::time::Instant;

pub use tcplab_base::{HookPoint, HookVerdict};

/// Packet policy the stack consults.
pub trait PacketHook: fmt::Debug {
    fn process(
        &mut self,
        point: HookPoint,
        now: Instant,
        in_iface: IfaceId,
        out_iface: Option<IfaceId>,
        datagram: &mut [u8],
    ) -> HookVerdict;

    /// The datagram prerouting last saw will not be forwarded: the router
    /// dropped it before the forward hook (TTL expired, no route, too big
    /// with DF, a martian destination). A policy that began tracking a
    /// flow for it forgets the flow, as Linux never confirms the
    /// connection-tracking entry of a packet that is dropped.
    fn not_forwarded(&mut self) {}

    /// A datagram the stack forwarded, as it left, put back as it arrived
    /// (NAT undone) for an ICMP error the stack makes about it after it
    /// left the hooks — its next hop never answered. Nothing by default.
    fn untranslate(&mut self, _datagram: &mut [u8]) {}

    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}
