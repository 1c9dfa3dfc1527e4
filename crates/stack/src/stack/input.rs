//! Datagram input: validation, local delivery, reassembly, and ICMP.

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_wire::icmpv4::{self, DstUnreachable, Quote};
use tcplab_wire::{ipv4, udp, Protocol};

use super::Stack;
use crate::hook::{HookPoint, HookVerdict};
use crate::icmp::IcmpError;
use crate::iface::IfaceId;
use crate::ip::{Destination, ReassemblyOutcome};
use crate::raw::RawDatagram;
use crate::route::{Route, RouteOrigin};
use crate::socket::{IcmpErrorReport, PingMessage, UdpDatagram};
use crate::time::Instant;

impl Stack {
    /// A datagram arrived on `iface`. Anything malformed is dropped and
    /// counted; nothing from the network can make this fail or panic.
    pub fn handle_packet(&mut self, now: Instant, iface: IfaceId, bytes: &[u8]) {
        self.receive(now, iface, Cow::Borrowed(bytes));
    }

    /// [`handle_packet`](Self::handle_packet) for a datagram the caller
    /// hands over: one this stack forwards leaves in the same buffer (its
    /// TTL and checksum patched in place) rather than in a copy — a router
    /// copies nothing. Returns a buffer for the caller to reuse: the one
    /// handed over when the stack did not keep it (local delivery, most
    /// drops), else a spare of the stack's own (one a caller gave
    /// `poll_transmit`; empty, without capacity, when it has none), so a
    /// driver that recycles buffers neither runs dry at a router nor grows.
    pub fn handle_datagram(&mut self, now: Instant, iface: IfaceId, bytes: Vec<u8>) -> Vec<u8> {
        self.receive(now, iface, Cow::Owned(bytes))
            .unwrap_or_else(|| self.ip.buffer())
    }

    /// Both of the above; returns an owned buffer it did not keep.
    fn receive(
        &mut self,
        now: Instant,
        iface: IfaceId,
        mut arrived: Arrived<'_>,
    ) -> Option<Vec<u8>> {
        self.advance(now);
        // An IPv6 packet (a TUN link carries the kernel's too): no
        // protocol here takes it, so it is the interface's drop, as a
        // kernel without IPv6 counts a frame no handler takes — not an
        // IPv4 datagram with a bad header.
        if arrived.first().is_some_and(|b| b >> 4 == 6) {
            if let Some(i) = self.ip.ifaces.get_mut(iface.0) {
                i.counters.rx_packets += 1;
                i.counters.rx_bytes += arrived.len() as u64;
                i.counters.rx_dropped += 1;
            }
            return give_back(arrived);
        }
        self.ip.stats.in_receives += 1;
        if let Some(i) = self.ip.ifaces.get_mut(iface.0) {
            i.counters.rx_packets += 1;
            i.counters.rx_bytes += arrived.len() as u64;
        } else {
            self.ip.stats.in_discards += 1;
            return give_back(arrived);
        }
        let Ok(packet) = ipv4::Packet::new_checked(&arrived[..]) else {
            self.ip.stats.in_hdr_errors += 1;
            return give_back(arrived);
        };
        // Counted by ECN field before the checksum is checked, as Linux's
        // ip_rcv_core counts them.
        self.ip.stats.in_ecn[usize::from(arrived[1] & 3)] += 1;
        // RFC 1122 §3.2.1.2: a datagram with a bad header checksum MUST be
        // silently discarded.
        if !packet.verify_checksum() {
            self.ip.stats.in_csum_errors += 1;
            return give_back(arrived);
        }
        let Ok(repr) = ipv4::Repr::parse(&packet) else {
            self.ip.stats.in_hdr_errors += 1;
            return give_back(arrived);
        };
        let bad_option = packet.bad_option();
        // Drop link padding beyond the total length.
        let total = usize::from(packet.total_len());
        truncate(&mut arrived, total);
        if !self.ip.valid_source(repr.src_addr, iface) {
            self.ip.stats.in_addr_errors += 1;
            return give_back(arrived);
        }
        if self.hook.is_some() {
            self.hooked_input(now, iface, arrived, &repr);
            return None;
        }
        // (Read once routing has taken the datagram: a host that does not
        // forward drops one for another address first, as Linux does.)
        let routed =
            self.config.forwarding || self.ip.classify(repr.dst_addr, iface) != Destination::Other;
        if let (Some(at), true) = (bad_option, routed) {
            self.option_problem(now, iface, &arrived, at);
            return give_back(arrived);
        }
        match self.ip.classify(repr.dst_addr, iface) {
            Destination::Other if self.config.forwarding => {
                self.forward(now, iface, arrived, &repr, None);
                None
            }
            Destination::Other => {
                self.ip.stats.in_addr_errors += 1;
                give_back(arrived)
            }
            dest => {
                self.local_input(now, iface, &arrived[..], &repr, dest);
                give_back(arrived)
            }
        }
    }

    /// Input through the packet-policy hook: fragments are reassembled
    /// first, as Linux's conntrack defragments (so that ports can be
    /// matched and translated, also for a datagram to a forwarded port of
    /// the router's own address), then prerouting may rewrite or drop the
    /// datagram before it is routed.
    fn hooked_input(
        &mut self,
        now: Instant,
        iface: IfaceId,
        arrived: Arrived<'_>,
        repr: &ipv4::Repr,
    ) {
        let mut owned = if repr.is_fragment() {
            self.ip.stats.reasm_reqds += 1;
            match self
                .reasm
                .add(now, &ipv4::Packet::new_unchecked(&arrived[..]))
            {
                ReassemblyOutcome::Complete(whole) => {
                    self.ip.stats.reasm_oks += 1;
                    whole
                }
                ReassemblyOutcome::Held => return,
                ReassemblyOutcome::Duplicate => {
                    self.ip.stats.reasm_duplicates += 1;
                    return;
                }
                ReassemblyOutcome::Discarded(reason) => {
                    self.ip.stats.reasm_fails += 1;
                    if reason == crate::ip::Discard::Overlap {
                        self.ip.stats.reasm_overlaps += 1;
                    }
                    return;
                }
            }
        } else {
            into_buffer(arrived, &mut self.ip)
        };
        // What prerouting may rewrite (NAT: addresses, ports, checksums),
        // as it arrived: the router's own errors about the datagram quote
        // it so (see `ArrivedHead`).
        let head = ArrivedHead::of(&owned);
        let verdict = match self.hook.as_mut() {
            Some(h) => h.process(HookPoint::Prerouting, now, iface, None, &mut owned),
            None => HookVerdict::Accept,
        };
        if verdict != HookVerdict::Accept {
            self.ip.stats.filtered += 1;
            return;
        }
        let Ok(packet) = ipv4::Packet::new_checked(&owned[..]) else {
            self.ip.stats.in_hdr_errors += 1;
            return;
        };
        let Ok(repr) = ipv4::Repr::parse(&packet) else {
            self.ip.stats.in_hdr_errors += 1;
            return;
        };
        // Options are read after prerouting, as Linux's ip_rcv_finish
        // reads them after the hook (and a datagram once reassembled).
        if let Some(at) = packet.bad_option() {
            self.option_problem(now, iface, &owned, at);
            return;
        }
        match self.ip.classify(repr.dst_addr, iface) {
            Destination::Other if self.config.forwarding => {
                let rewritten = head.filter(|h| !owned.starts_with(h.bytes()));
                self.forward(now, iface, Cow::Owned(owned), &repr, rewritten.as_ref());
            }
            Destination::Other => self.ip.stats.in_addr_errors += 1,
            dest => self.local_input(now, iface, &owned, &repr, dest),
        }
    }

    /// RFC 1122 §3.2.1.8: options are honoured by their length; one
    /// whose length breaks the header (at byte `at`) makes the datagram a
    /// header error, answered with a Parameter Problem pointing at it
    /// (§3.2.2.5, as Linux's ip_options_compile does).
    fn option_problem(&mut self, now: Instant, iface: IfaceId, datagram: &[u8], at: usize) {
        self.ip.stats.in_hdr_errors += 1;
        let pointer = u8::try_from(at).unwrap_or(u8::MAX);
        self.icmp.send_error(
            now,
            &mut self.ip,
            datagram,
            Some(iface),
            IcmpError::ParamProblem(pointer),
        );
    }

    fn local_input(
        &mut self,
        now: Instant,
        iface: IfaceId,
        bytes: &[u8],
        repr: &ipv4::Repr,
        dest: Destination,
    ) {
        if repr.is_fragment() {
            self.ip.stats.reasm_reqds += 1;
            let packet = ipv4::Packet::new_unchecked(bytes);
            let evicted = self.reasm.evicted;
            let outcome = self.reasm.add(now, &packet);
            // Datagrams given up to make room are failed reassemblies
            // (Linux counts its evictor's in ReasmFails too).
            self.ip.stats.reasm_fails += self.reasm.evicted - evicted;
            match outcome {
                ReassemblyOutcome::Held => {}
                ReassemblyOutcome::Duplicate => self.ip.stats.reasm_duplicates += 1,
                ReassemblyOutcome::Discarded(reason) => {
                    self.ip.stats.reasm_fails += 1;
                    if reason == crate::ip::Discard::Overlap {
                        self.ip.stats.reasm_overlaps += 1;
                    }
                }
                ReassemblyOutcome::Complete(whole) => {
                    self.ip.stats.reasm_oks += 1;
                    let Ok(packet) = ipv4::Packet::new_checked(&whole[..]) else {
                        self.ip.stats.reasm_fails += 1;
                        return;
                    };
                    let Ok(whole_repr) = ipv4::Repr::parse(&packet) else {
                        self.ip.stats.reasm_fails += 1;
                        return;
                    };
                    self.deliver(now, iface, &whole, &whole_repr, dest);
                }
            }
            return;
        }
        self.deliver(now, iface, bytes, repr, dest);
    }

    /// Hand a whole datagram to its transport.
    fn deliver(
        &mut self,
        now: Instant,
        iface: IfaceId,
        bytes: &[u8],
        repr: &ipv4::Repr,
        dest: Destination,
    ) {
        let packet = ipv4::Packet::new_unchecked(bytes);
        let payload = packet.payload();
        self.ip.stats.in_delivers += 1;
        let raw_taken = !self.raw.is_empty() && self.raw_input(repr, payload);
        match repr.protocol {
            Protocol::Icmp => self.icmp_input(now, repr, dest, payload),
            Protocol::Udp => self.udp_input(now, iface, bytes, repr, dest, payload),
            Protocol::Tcp => {
                self.tcp.input(now, &mut self.ip, repr, dest, payload);
                self.after_tcp();
            }
            // A protocol only a raw socket speaks: it was delivered there.
            Protocol::Unknown(_) if raw_taken => {}
            Protocol::Unknown(_) => {
                self.ip.stats.in_delivers -= 1;
                self.ip.stats.in_unknown_protos += 1;
                if dest == Destination::Local {
                    self.icmp.send_error(
                        now,
                        &mut self.ip,
                        bytes,
                        Some(iface),
                        IcmpError::DstUnreachable(DstUnreachable::ProtoUnreachable),
                    );
                }
            }
        }
    }

    /// Raw sockets see every datagram of their protocol before the protocol
    /// does (Linux `raw_v4_input`).
    fn raw_input(&mut self, repr: &ipv4::Repr, payload: &[u8]) -> bool {
        let datagram = RawDatagram {
            src: repr.src_addr,
            dst: repr.dst_addr,
            ttl: repr.ttl,
            payload: payload.to_vec(),
            received: self.now,
        };
        let woken = self.raw.deliver(repr.protocol, &datagram);
        for h in &woken {
            self.notify(h.id());
        }
        !woken.is_empty()
    }

    fn icmp_input(
        &mut self,
        now: Instant,
        ip_repr: &ipv4::Repr,
        dest: Destination,
        payload: &[u8],
    ) {
        let Ok(packet) = icmpv4::Packet::new_checked(payload) else {
            self.icmp.stats.in_errors += 1;
            return;
        };
        if !packet.verify_checksum() {
            self.icmp.stats.in_csum_errors += 1;
            return;
        }
        let Ok(repr) = icmpv4::Repr::parse(&packet) else {
            self.icmp.stats.in_errors += 1;
            return;
        };
        self.icmp.count_in(repr.message());
        match repr {
            icmpv4::Repr::EchoRequest { .. } => {
                self.icmp
                    .reply_echo(now, &mut self.ip, ip_repr, dest, &repr)
            }
            icmpv4::Repr::Other {
                msg_type: 13,
                rest,
                data,
                ..
            } => self
                .icmp
                .reply_timestamp(now, &mut self.ip, ip_repr, dest, rest, data),
            icmpv4::Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                if let Some(h) = self.ping.lookup(ident) {
                    let msg = PingMessage::Reply {
                        from: ip_repr.src_addr,
                        seq: seq_no,
                        ttl: ip_repr.ttl,
                        data: data.to_vec(),
                        received: now,
                    };
                    if self.ping.deliver(h, msg) {
                        self.notify(h.id());
                    }
                }
            }
            icmpv4::Repr::Redirect {
                reason,
                gateway,
                quote,
            } => self.redirect_input(ip_repr, reason, gateway, quote),
            icmpv4::Repr::DstUnreachable { .. }
            | icmpv4::Repr::TimeExceeded { .. }
            | icmpv4::Repr::ParamProblem { .. } => {
                if dest == Destination::Local {
                    self.icmp_error_input(now, ip_repr, &repr);
                }
            }
            // RFC 6633 §3: source quench is obsolete and silently discarded
            // (Linux's icmp_discard); unknown types likewise (RFC 1122
            // §3.2.2).
            icmpv4::Repr::SourceQuench { .. } | icmpv4::Repr::Other { .. } => {}
        }
    }

    /// An ICMP error about a datagram we sent: learn from it and tell the
    /// socket it concerns (RFC 1122 §3.2.2, §4.1.3.3).
    fn icmp_error_input(&mut self, now: Instant, ip_repr: &ipv4::Repr, repr: &icmpv4::Repr<'_>) {
        let Some(Ok(quote)) = repr.quote().map(Quote::parse) else {
            return;
        };
        let original = quote.header;
        if !self.ip.is_local_addr(original.src_addr) {
            return;
        }
        let (icmp_type, code, info) = match *repr {
            icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => (3, u8::from(reason), u32::from(next_hop_mtu)),
            icmpv4::Repr::TimeExceeded { reason, .. } => (11, u8::from(reason), 0),
            icmpv4::Repr::ParamProblem { pointer, .. } => (12, 0, u32::from(pointer)),
            _ => return,
        };
        let (sport, dport) = quote.ports().or_else(|| quote.echo()).unwrap_or((0, 0));
        let local = SocketAddrV4::new(original.src_addr, sport);
        let remote = SocketAddrV4::new(original.dst_addr, dport);
        // RFC 5927 §7.2 (and Linux, whose protocols' error handlers update
        // the path MTU only for a socket they found): an error counts only
        // if it quotes what one of our sockets sent — for TCP, data still
        // in flight — so a forged "fragmentation needed" for a connection
        // that does not exist cannot shrink the path MTU to a destination.
        let raw_sender = self
            .raw
            .iter()
            .any(|(_, r)| r.protocol == original.protocol);
        let ours = raw_sender
            || match original.protocol {
                Protocol::Tcp if quote.payload.len() >= 8 => {
                    let p = quote.payload;
                    let seq =
                        tcplab_wire::tcp::SeqNumber(u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
                    self.tcp.icmp_in_flight(local, remote, seq)
                }
                Protocol::Udp if quote.ports().is_some() => {
                    self.udp.sender(local, remote).is_some()
                }
                Protocol::Icmp => quote
                    .echo()
                    .is_some_and(|(ident, _)| self.ping.lookup(ident).is_some()),
                _ => false,
            };
        if !ours {
            // Linux counts an error no socket of its protocol takes as
            // an ICMP InError.
            self.icmp.stats.in_errors += 1;
        }
        if let icmpv4::Repr::DstUnreachable {
            reason: DstUnreachable::FragRequired,
            next_hop_mtu,
            ..
        } = *repr
        {
            if !ours {
                return;
            }
            let sent = quote.header_bytes.len() + original.payload_len;
            let link_mtu = self
                .ip
                .routes
                .lookup(original.dst_addr)
                .and_then(|r| self.ip.iface(r.iface))
                .map_or(sent, |i| i.mtu);
            self.ip
                .pmtu
                .learn(now, original.dst_addr, next_hop_mtu, sent, link_mtu);
        }
        let report = IcmpErrorReport {
            from: ip_repr.src_addr,
            icmp_type,
            code,
            info,
            original_dst: original.dst_addr,
            original_src_port: sport,
            original_dst_port: dport,
            quoted_ttl: original.ttl,
            ttl: ip_repr.ttl,
            received: now,
        };
        match original.protocol {
            Protocol::Udp if quote.ports().is_some() => {
                if let Some(h) = self.udp.report_error(local, remote, report) {
                    self.notify(h.id());
                }
            }
            Protocol::Tcp if quote.payload.len() >= 8 => {
                let p = quote.payload;
                let seq = tcplab_wire::tcp::SeqNumber(u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
                self.tcp
                    .icmp_error(now, &self.ip, local, remote, seq, &report);
                self.after_tcp();
            }
            Protocol::Icmp => {
                if let Some((ident, seq)) = quote.echo() {
                    if let Some(h) = self.ping.lookup(ident) {
                        if self.ping.deliver(h, PingMessage::Error { seq, report }) {
                            self.notify(h.id());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// RFC 1122 §3.2.2.2: a host SHOULD act on a redirect from its current
    /// first hop for the destination, to a gateway on a connected network;
    /// network redirects are treated as host redirects. Routers ignore them.
    fn redirect_input(
        &mut self,
        ip_repr: &ipv4::Repr,
        reason: icmpv4::Redirect,
        gateway: Ipv4Addr,
        quote: &[u8],
    ) {
        let _ = reason;
        if self.config.forwarding || !self.config.accept_redirects {
            return;
        }
        let Ok(quote) = Quote::parse(quote) else {
            return;
        };
        let target = quote.header.dst_addr;
        let Some(current) = self.ip.routes.lookup(target).copied() else {
            return;
        };
        if current.gateway != Some(ip_repr.src_addr) {
            return;
        }
        let on_link = self.ip.routes.iter().any(|r| {
            r.origin == RouteOrigin::Connected
                && r.iface == current.iface
                && r.dest.contains(gateway)
        });
        if !on_link || self.ip.is_local_addr(gateway) || gateway == ip_repr.src_addr {
            return;
        }
        // The new gateway must be a unicast address (Linux's
        // __ip_do_redirect: not multicast, and of type RTN_UNICAST — a
        // subnet's broadcast address, or its network address, which Linux
        // also files as broadcast, is not a router).
        let subnet_edge = self.ip.ifaces.iter().flat_map(|i| &i.addrs).any(|c| {
            c.broadcast()
                .is_some_and(|b| b == gateway || c.network().address() == gateway)
        });
        if gateway.is_multicast() || subnet_edge {
            return;
        }
        let now = self.now;
        self.ip.routes.add_learned(
            Route {
                dest: tcplab_wire::Cidr::host(target),
                gateway: Some(gateway),
                iface: current.iface,
                origin: RouteOrigin::Redirect,
            },
            now,
        );
    }

    fn udp_input(
        &mut self,
        now: Instant,
        iface: IfaceId,
        bytes: &[u8],
        ip_repr: &ipv4::Repr,
        dest: Destination,
        payload: &[u8],
    ) {
        let Ok(packet) = udp::Packet::new_checked(payload) else {
            self.udp.stats.in_errors += 1;
            return;
        };
        if !packet.verify_checksum(ip_repr.src_addr, ip_repr.dst_addr) {
            self.udp.stats.in_csum_errors += 1;
            return;
        }
        let Ok(repr) = udp::Repr::parse(&packet) else {
            self.udp.stats.in_errors += 1;
            return;
        };
        let from = SocketAddrV4::new(ip_repr.src_addr, repr.src_port);
        match self.udp.lookup(ip_repr.dst_addr, repr.dst_port, from) {
            Some(h) => {
                let datagram = UdpDatagram {
                    from,
                    to: ip_repr.dst_addr,
                    ttl: ip_repr.ttl,
                    data: repr.payload.to_vec(),
                };
                if self.udp.deliver(h, datagram) {
                    self.notify(h.id());
                }
            }
            None => {
                self.udp.stats.no_ports += 1;
                // RFC 1122 §4.1.3.1: port unreachable, but never about a
                // broadcast (checked again by the ICMP layer).
                if dest == Destination::Local {
                    self.icmp.send_error(
                        now,
                        &mut self.ip,
                        bytes,
                        Some(iface),
                        IcmpError::DstUnreachable(DstUnreachable::PortUnreachable),
                    );
                }
            }
        }
    }
}

/// A datagram as it arrived: lent by the caller, or handed over.
pub(super) type Arrived<'a> = Cow<'a, [u8]>;

/// Drop link padding beyond `len`, the datagram's total length.
fn truncate(arrived: &mut Arrived<'_>, len: usize) {
    match arrived {
        Cow::Borrowed(b) => *b = &b[..len.min(b.len())],
        Cow::Owned(v) => v.truncate(len),
    }
}

/// A buffer of its own holding the datagram: the one handed over, or a
/// copy of the lent bytes in a pooled buffer (not `Cow::into_owned`'s
/// fresh allocation).
pub(super) fn into_buffer(arrived: Arrived<'_>, ip: &mut crate::ip::IpLayer) -> Vec<u8> {
    match arrived {
        Cow::Borrowed(b) => {
            let mut out = ip.buffer();
            out.extend_from_slice(b);
            out
        }
        Cow::Owned(v) => v,
    }
}

/// The buffer handed over, back to its owner.
fn give_back(arrived: Arrived<'_>) -> Option<Vec<u8>> {
    match arrived {
        Cow::Borrowed(_) => None,
        Cow::Owned(v) => Some(v),
    }
}

/// The front of a datagram as it arrived, before prerouting translated
/// it: the IP header and the first 20 bytes after it, which hold every NAT
/// rewrite of a datagram the router may answer with an error of its own
/// (addresses and the header checksum; TCP and UDP ports and checksums;
/// the ICMP echo identifier and checksum). Translated ICMP errors are
/// also rewritten deeper, in the header they quote, but the router never
/// answers an ICMP error with one (RFC 1122 §3.2.2). So the head and the
/// rest of the datagram after prerouting are the datagram as sent.
///
/// An ICMP error the router itself makes about a datagram it forwards
/// (time exceeded, unreachable, fragmentation needed) and a policy's
/// reject quote that datagram as it arrived, so its sender can match the
/// quote to what it sent — as Linux's conntrack translates such errors
/// back as RELATED packets (RFC 5508 §4.2; RFC 5382 REQ-9; without it a
/// NAT router's own "fragmentation needed" quotes an inside address and
/// path-MTU discovery through it fails, RFC 4787 REQ-13).
#[derive(Debug, Clone, Copy)]
pub(super) struct ArrivedHead {
    bytes: [u8; ArrivedHead::MAX],
    len: usize,
}

impl ArrivedHead {
    /// The longest IP header and 20 bytes of transport header.
    const MAX: usize = 80;

    fn of(datagram: &[u8]) -> Option<ArrivedHead> {
        let ihl = usize::from(datagram.first()? & 0x0f) * 4;
        let len = (ihl + 20).min(datagram.len()).min(Self::MAX);
        let mut bytes = [0; Self::MAX];
        bytes[..len].copy_from_slice(&datagram[..len]);
        Some(ArrivedHead { bytes, len })
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// `now` (the datagram after prerouting, of the same length) as it
    /// arrived, up to `limit` bytes (what an ICMP error can quote).
    pub(super) fn restore(&self, now: &[u8], limit: usize) -> Vec<u8> {
        let end = now.len().min(limit.max(self.len));
        let mut v = Vec::with_capacity(end);
        v.extend_from_slice(self.bytes());
        v.extend_from_slice(now.get(self.len..end).unwrap_or_default());
        v
    }
}
