//! Forwarding datagrams not addressed to this host (RFC 1812 §5.2, §5.3).

use std::borrow::Cow;

use tcplab_wire::icmpv4::{DstUnreachable, TimeExceeded};
use tcplab_wire::ipv4;

use super::input::{into_buffer, Arrived, ArrivedHead};
use super::Stack;
use crate::hook::{HookPoint, HookVerdict};
use crate::icmp::IcmpError;
use crate::iface::IfaceId;
use crate::time::Instant;

/// Bytes of a datagram an ICMP error can quote at most (RFC 1812
/// §4.3.2.3: the error datagram stays within 576 bytes).
const QUOTE_LIMIT: usize =
    crate::icmp::MAX_ERROR_DATAGRAM - ipv4::HEADER_LEN - tcplab_wire::icmpv4::HEADER_LEN;

/// What the router's own ICMP errors about `bytes` quote: the datagram as
/// it arrived, before prerouting translated it (see `ArrivedHead`); made
/// only when an error is sent.
fn as_arrived<'a>(bytes: &'a [u8], pre_nat: Option<&ArrivedHead>) -> Cow<'a, [u8]> {
    match pre_nat {
        Some(h) => Cow::Owned(h.restore(bytes, QUOTE_LIMIT)),
        None => Cow::Borrowed(bytes),
    }
}

impl Stack {
    /// The router's ICMP error about a datagram it does not forward,
    /// quoting it as it arrived.
    fn error_as_arrived(
        &mut self,
        now: Instant,
        in_iface: IfaceId,
        bytes: &[u8],
        pre_nat: Option<&ArrivedHead>,
        error: IcmpError,
    ) {
        let quoted = as_arrived(bytes, pre_nat);
        self.icmp
            .send_error(now, &mut self.ip, &quoted, Some(in_iface), error);
    }

    pub(super) fn forward(
        &mut self,
        now: Instant,
        in_iface: IfaceId,
        arrived: Arrived<'_>,
        repr: &ipv4::Repr,
        pre_nat: Option<&ArrivedHead>,
    ) {
        let bytes = &arrived[..];
        let Some(route) = self.forward_route(now, in_iface, bytes, pre_nat, repr) else {
            self.not_forwarded();
            return;
        };
        let next_hop = route.gateway.unwrap_or(repr.dst_addr);
        // RFC 1812 §5.2.7.2: going back out the arrival interface to a next
        // hop on the sender's own subnet means the sender could have sent
        // there directly: tell it (a host redirect; never a network one).
        // Not for a datagram prerouting translated (a port forward, a
        // hairpin): the sender would be told to go straight to an address
        // it should never see, and would then talk past the translation —
        // Linux's NAT drops such redirects (nf_nat_icmp_reply_translation).
        if route.iface == in_iface && self.config.send_redirects && pre_nat.is_none() {
            let iface = &self.ip.ifaces[in_iface.0];
            if iface.on_link(repr.src_addr) && iface.on_link(next_hop) && next_hop != repr.src_addr
            {
                self.error_as_arrived(
                    now,
                    in_iface,
                    bytes,
                    pre_nat,
                    IcmpError::RedirectHost(next_hop),
                );
            }
        }
        // The datagram's own buffer when the caller handed it over (no copy).
        let mut out = into_buffer(arrived, &mut self.ip);
        // RFC 1812 §5.3.1 + RFC 1624: decrement and patch the checksum.
        ipv4::Packet::new_unchecked(&mut out[..]).decrement_ttl();
        if let Some(h) = self.hook.as_mut() {
            let mut v = h.process(
                HookPoint::Forward,
                now,
                in_iface,
                Some(route.iface),
                &mut out,
            );
            if v == HookVerdict::Accept {
                v = h.process(
                    HookPoint::Postrouting,
                    now,
                    in_iface,
                    Some(route.iface),
                    &mut out,
                );
            }
            if v != HookVerdict::Accept {
                self.ip.stats.filtered += 1;
                if v == HookVerdict::Reject {
                    // Answered as the datagram arrived: a reset from the
                    // address and port its sender tried (a port forward's
                    // public one), an error quoting what it sent — with
                    // the TTL this router took one from, as the quote of
                    // an untranslated one shows it and as Linux quotes
                    // both (`ip_forward` decrements before the FORWARD
                    // hook where REJECT runs).
                    match pre_nat {
                        Some(h) => {
                            let mut whole = h.restore(&out, usize::MAX);
                            ipv4::Packet::new_unchecked(&mut whole[..]).decrement_ttl();
                            self.reject(now, in_iface, &whole);
                        }
                        None => self.reject(now, in_iface, &out),
                    }
                }
                self.ip.recycle(out);
                return;
            }
        }
        self.ip.stats.forw_datagrams += 1;
        self.ip.transmit(route.iface, next_hop, out);
    }

    /// The route a datagram to forward takes, after the checks that may
    /// stop it here (counted, and answered with an ICMP error where RFC
    /// 1812 asks for one); `None` if it stops.
    fn forward_route(
        &mut self,
        now: Instant,
        in_iface: IfaceId,
        bytes: &[u8],
        pre_nat: Option<&ArrivedHead>,
        repr: &ipv4::Repr,
    ) -> Option<crate::route::Route> {
        let dst = repr.dst_addr;
        // Never forward limited broadcasts (RFC 1812 §5.3.5.1) or multicast
        // (no multicast routing), nor to network 0 or 127, which never
        // appear on a link (RFC 1122 §3.2.1.3(a), (b), (g); RFC 1812 §5.3.7:
        // martians are discarded, not answered).
        if dst.is_broadcast() || dst.is_multicast() || dst.is_loopback() || dst.octets()[0] == 0 {
            self.ip.stats.in_addr_errors += 1;
            return None;
        }
        let Some(route) = self.ip.routes.lookup(dst).copied() else {
            // RFC 1812 §5.2.7.1: no route is "network unreachable".
            self.ip.stats.out_no_routes += 1;
            self.error_as_arrived(
                now,
                in_iface,
                bytes,
                pre_nat,
                IcmpError::DstUnreachable(DstUnreachable::NetUnreachable),
            );
            return None;
        };
        // RFC 1812 §5.3.1: a datagram whose TTL would reach zero is discarded
        // with time exceeded (code 0). Like Linux, the route is looked up
        // first, so an unroutable datagram gets net unreachable whatever its
        // TTL (what `traceroute` shows as `!N` at the first hop).
        if repr.ttl <= 1 {
            self.ip.stats.in_hdr_errors += 1;
            self.error_as_arrived(
                now,
                in_iface,
                bytes,
                pre_nat,
                IcmpError::TimeExceeded(TimeExceeded::TtlExpired),
            );
            return None;
        }
        let out_iface = &self.ip.ifaces[route.iface.0];
        // A directed broadcast to a connected subnet is not forwarded (RFC
        // 2644 makes that the default).
        if route.gateway.is_none() && out_iface.is_subnet_broadcast(dst) {
            self.ip.stats.in_addr_errors += 1;
            return None;
        }
        let mtu = out_iface.mtu;
        // Linux checks the MTU before decrementing the TTL, so the quoted
        // header is the one that arrived.
        if bytes.len() > mtu && repr.dont_frag {
            self.ip.stats.frag_fails += 1;
            self.error_as_arrived(
                now,
                in_iface,
                bytes,
                pre_nat,
                IcmpError::FragNeeded(u16::try_from(mtu).unwrap_or(u16::MAX)),
            );
            return None;
        }
        Some(route)
    }

    /// The datagram will not be forwarded: the policy forgets any flow
    /// prerouting began for it.
    fn not_forwarded(&mut self) {
        if let Some(h) = self.hook.as_mut() {
            h.not_forwarded();
        }
    }

    /// Tell the sender of a datagram the policy refused: a TCP reset that
    /// seems to come from the destination it tried (as Linux's REJECT
    /// `with tcp reset`), or ICMP port unreachable from this router.
    fn reject(&mut self, now: Instant, in_iface: IfaceId, datagram: &[u8]) {
        let Ok(packet) = ipv4::Packet::new_checked(datagram) else {
            return;
        };
        let Ok(ip) = ipv4::Repr::parse(&packet) else {
            return;
        };
        if ip.protocol == tcplab_wire::Protocol::Tcp && !ip.is_fragment() {
            if let Some(rst) = reset_for(&ip, packet.payload()) {
                let Some(route) = self.ip.routes.lookup(ip.src_addr).copied() else {
                    return;
                };
                let info = crate::ip::RouteInfo {
                    iface: route.iface,
                    next_hop: route.gateway.unwrap_or(ip.src_addr),
                    src: ip.dst_addr,
                    dst: ip.src_addr,
                    mtu: self.ip.ifaces[route.iface.0].mtu,
                };
                let opts = crate::ip::SendOptions {
                    protocol: tcplab_wire::Protocol::Tcp,
                    ttl: self.config.default_ttl,
                    tos: 0,
                    pmtudisc: crate::socket::PmtuDisc::Want,
                };
                let _ = self.ip.send(&info, opts, &rst);
            }
            return;
        }
        self.icmp.send_error(
            now,
            &mut self.ip,
            datagram,
            Some(in_iface),
            IcmpError::DstUnreachable(DstUnreachable::PortUnreachable),
        );
    }
}

/// The reset answering a TCP segment (RFC 9293 §3.10.7.1's rule for a
/// segment that reaches no connection); `None` for a reset.
fn reset_for(ip: &ipv4::Repr, segment: &[u8]) -> Option<Vec<u8>> {
    use tcplab_wire::tcp;
    let packet = tcp::Packet::new_checked(segment).ok()?;
    let seg = tcp::Repr::parse(&packet).ok()?;
    if seg.flags.rst() {
        return None;
    }
    let rst = if seg.flags.ack() {
        tcp::Repr::new(
            seg.dst_port,
            seg.src_port,
            tcp::Flags::RST,
            seg.ack_number,
            tcp::SeqNumber(0),
        )
    } else {
        let len = seg.payload.len() + usize::from(seg.flags.syn()) + usize::from(seg.flags.fin());
        tcp::Repr::new(
            seg.dst_port,
            seg.src_port,
            tcp::Flags::RST | tcp::Flags::ACK,
            tcp::SeqNumber(0),
            seg.seq_number + len,
        )
    };
    let mut out = vec![0u8; rst.buffer_len()];
    rst.emit(
        &mut tcp::Packet::new_unchecked(&mut out[..]),
        ip.dst_addr,
        ip.src_addr,
    );
    Some(out)
}
