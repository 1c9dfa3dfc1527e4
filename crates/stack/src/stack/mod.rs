//! `Stack`: one host's TCP/IP stack, sans-IO.
//!
//! # Driving a stack
//!
//! The stack never reads a clock, touches a device or draws unseeded
//! randomness. The driver (the simulator, or the TUN runtime) pushes packets
//! and time in and polls packets, deadlines and events out:
//!
//! 1. `handle_packet(now, iface, bytes)` for each datagram that arrived;
//!    `handle_timeout(now)` when the deadline from `poll_timeout` passed;
//!    socket calls (`udp_send_to`, ...) whenever applications run.
//! 2. Then `poll_transmit(now, buf)` until it returns `None`: each call
//!    yields one datagram for a link. Datagrams to this host itself are
//!    delivered inside this call and never returned.
//! 3. `poll_event()` until `None`: each event names a socket whose state
//!    changed, so whoever waits on it should look again.
//! 4. `poll_timeout()`: when to call `handle_timeout` next, if nothing else
//!    happens first.
//!
//! `now` must never go backwards between calls.

mod forward;
mod input;
mod ping_api;
mod queued;
mod raw_api;
mod tcp_api;
mod udp_api;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_wire::Cidr;

use crate::config::Config;
use crate::hook::PacketHook;
use crate::icmp::{IcmpError, IcmpLayer};
use crate::iface::{IfaceCounters, IfaceId, Interface};
use crate::ip::{IpLayer, Reassembler};
use crate::ping::PingLayer;
use crate::ports::PortTable;
use crate::rand::Rng;
use crate::raw::RawLayer;
use crate::route::{Route, RouteOrigin};
use crate::socket::{Event, SocketId};
use crate::stats::Stats;
use crate::tcp::{Emitted, TcpLayer};
use crate::time::Instant;
use crate::udp::UdpLayer;
use queued::Queued;

/// A datagram `poll_transmit` wrote for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub iface: IfaceId,
    /// The neighbour to hand it to: the gateway, or the destination itself.
    pub next_hop: Ipv4Addr,
    /// Bytes written to the buffer.
    pub len: usize,
}

/// Errors of configuring interfaces and routes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("MTU {0} is below the IPv4 minimum of 68")]
    MtuTooSmall(usize),
    #[error("address {0} is already assigned to this host")]
    DuplicateAddress(Ipv4Addr),
    #[error("gateway {0} is not on a directly connected network")]
    GatewayNotOnLink(Ipv4Addr),
    /// One of this host's own addresses, or the network or broadcast
    /// address of the connected network (Linux: "Nexthop has invalid
    /// gateway").
    #[error("gateway {0} is not a neighbour's address (it is this host's own, or its network's network or broadcast address)")]
    InvalidGateway(Ipv4Addr),
    #[error("no interface #{0}")]
    NoSuchInterface(usize),
    #[error("no static route to {0}")]
    NoSuchRoute(Cidr),
    #[error("an interface called {0} exists")]
    DuplicateName(String),
}

/// Loopback datagrams processed per `poll_transmit` call at most, so that
/// a local ping-pong cannot hold the driver forever.
const LOOPBACK_BUDGET: usize = 4096;

/// One host's stack. See the module documentation for the polling order.
#[derive(Debug)]
pub struct Stack {
    pub(crate) config: Config,
    pub(crate) ip: IpLayer,
    pub(crate) reasm: Reassembler,
    pub(crate) icmp: IcmpLayer,
    pub(crate) udp: UdpLayer,
    pub(crate) ping: PingLayer,
    pub(crate) tcp: TcpLayer,
    pub(crate) raw: RawLayer,
    pub(crate) ports: PortTable,
    events: VecDeque<Event>,
    queued_events: Queued,
    /// Randomness handed to applications (`getrandom`), seeded like the rest.
    app_rng: Rng,
    /// Packet policy for forwarding (firewall, NAT), if any.
    pub(crate) hook: Option<Box<dyn PacketHook>>,
    pub(crate) now: Instant,
    /// Copies of the datagrams that crossed the loopback, while a capture
    /// wants them ([`Stack::capture_loopback`]), and their bytes; at most
    /// [`LOOPBACK_CAPTURE_BYTES`] until taken.
    loopback_captured: Option<LoopbackCapture>,
}

/// How many bytes of looped datagrams a capture holds before it drops the
/// next (the host takes them after every datagram it polls).
const LOOPBACK_CAPTURE_BYTES: usize = 4 << 20;

/// Looped datagrams copied for a capture, until taken.
#[derive(Debug, Default)]
struct LoopbackCapture {
    copies: Vec<Vec<u8>>,
    bytes: usize,
    /// Datagrams not copied for lack of room.
    dropped: u64,
}

impl Stack {
    /// A stack with only the loopback interface.
    pub fn new(config: Config) -> Stack {
        let mut rng = Rng::new(config.seed);
        let ip = IpLayer::new(&config, &mut rng);
        let icmp = IcmpLayer::new(&config, &mut rng);
        let udp = UdpLayer::new(&mut rng);
        let ping = PingLayer::new(&mut rng);
        let ports = PortTable::new(config.ephemeral_ports.clone(), &mut rng);
        // Two words were once drawn here for the event set's hash keys;
        // still drawn, so the ISNs, ports and secrets after them (and every
        // capture a seed gives) stay the same.
        let _ = (rng.next_u64(), rng.next_u64());
        let tcp = TcpLayer::new(config.tcp.clone(), &mut rng);
        let app_rng = Rng::new(rng.next_u64());
        Stack {
            reasm: Reassembler::new(
                config.reassembly_timeout,
                config.reassembly_max_bytes,
                config.reassembly_max_datagrams,
            ),
            config,
            ip,
            icmp,
            udp,
            ping,
            tcp,
            raw: RawLayer::default(),
            ports,
            events: VecDeque::new(),
            queued_events: Queued::default(),
            app_rng,
            hook: None,
            now: Instant::ZERO,
            loopback_captured: None,
        }
    }

    /// Keep a copy of each datagram that crosses the loopback interface,
    /// for a capture on `lo` (tcpdump); off again with `false`.
    pub fn capture_loopback(&mut self, on: bool) {
        match (on, self.loopback_captured.is_some()) {
            (true, false) => self.loopback_captured = Some(LoopbackCapture::default()),
            (false, true) => self.loopback_captured = None,
            _ => {}
        }
    }

    /// Whether looped datagrams are being copied (`capture_loopback`).
    #[inline]
    pub fn capturing_loopback(&self) -> bool {
        self.loopback_captured.is_some()
    }

    /// The looped datagrams copied since the last call, and how many were
    /// not for lack of room.
    pub fn take_loopback_captured(&mut self) -> (Vec<Vec<u8>>, u64) {
        match self.loopback_captured.as_mut().map(std::mem::take) {
            Some(c) => (c.copies, c.dropped),
            None => (Vec::new(), 0),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Attach packet policy to forwarding (see [`crate::hook`]).
    pub fn set_hook(&mut self, hook: Box<dyn PacketHook>) {
        self.hook = Some(hook);
    }

    pub fn hook(&self) -> Option<&dyn PacketHook> {
        self.hook.as_deref()
    }

    pub fn hook_mut(&mut self) -> Option<&mut (dyn PacketHook + 'static)> {
        self.hook.as_deref_mut()
    }

    /// Random bits for applications (what `getrandom` is to a process):
    /// DNS query IDs, nonces. Derived from the stack's seed.
    pub fn random_u64(&mut self) -> u64 {
        self.app_rng.next_u64()
    }

    /// Add a network interface with one address; its subnet becomes a
    /// connected route.
    pub fn add_interface(
        &mut self,
        name: &str,
        addr: Cidr,
        mtu: usize,
    ) -> Result<IfaceId, ConfigError> {
        self.new_interface(name, addr, mtu, false)
    }

    /// Add a tunnel interface (see [`Interface::tunnel`]): its datagrams
    /// come out of `poll_transmit` like any other, and the driver hands
    /// them to the tunnel's process rather than a link.
    pub fn add_tunnel_interface(
        &mut self,
        name: &str,
        addr: Cidr,
        mtu: usize,
    ) -> Result<IfaceId, ConfigError> {
        self.new_interface(name, addr, mtu, true)
    }

    fn new_interface(
        &mut self,
        name: &str,
        addr: Cidr,
        mtu: usize,
        tunnel: bool,
    ) -> Result<IfaceId, ConfigError> {
        if mtu < tcplab_wire::ipv4::MIN_MTU {
            return Err(ConfigError::MtuTooSmall(mtu));
        }
        if self.ip.is_local_addr(addr.address()) {
            return Err(ConfigError::DuplicateAddress(addr.address()));
        }
        // Tools find a tunnel by its name; other interfaces may share one
        // (tests call several "eth").
        if tunnel && self.ip.ifaces.iter().any(|i| i.name == name) {
            return Err(ConfigError::DuplicateName(name.to_string()));
        }
        Ok(self.ip.add_iface(Interface {
            name: name.to_string(),
            addrs: vec![addr],
            mtu,
            loopback: false,
            tunnel,
            counters: IfaceCounters::default(),
        }))
    }

    /// The interface called `name`.
    pub fn interface_named(&self, name: &str) -> Option<IfaceId> {
        self.ip
            .ifaces
            .iter()
            .position(|i| i.name == name)
            .map(IfaceId)
    }

    /// A datagram for `iface` was dropped before it left (its device's
    /// queue was full, or nobody serves the device): counted as the
    /// kernel counts a full TUN queue.
    pub fn note_tx_dropped(&mut self, iface: IfaceId) {
        self.ip.stats.out_discards += 1;
        if let Some(i) = self.ip.ifaces.get_mut(iface.0) {
            i.counters.tx_dropped += 1;
        }
    }

    pub fn set_mtu(&mut self, iface: IfaceId, mtu: usize) -> Result<(), ConfigError> {
        if mtu < tcplab_wire::ipv4::MIN_MTU {
            return Err(ConfigError::MtuTooSmall(mtu));
        }
        let i = self
            .ip
            .ifaces
            .get_mut(iface.0)
            .ok_or(ConfigError::NoSuchInterface(iface.0))?;
        i.mtu = mtu;
        Ok(())
    }

    /// Add a static route via `gateway`, which must be on a connected network.
    pub fn add_route(&mut self, dest: Cidr, gateway: Ipv4Addr) -> Result<(), ConfigError> {
        let iface = self
            .ip
            .routes
            .iter()
            .find(|r| r.origin == RouteOrigin::Connected && r.dest.contains(gateway))
            .map(|r| (r.iface, r.dest))
            .ok_or(ConfigError::GatewayNotOnLink(gateway))?;
        let (iface, net) = iface;
        // A /31 has neither a network nor a broadcast address (RFC 3021).
        let edge = net.prefix_len() <= 30
            && (gateway == net.network().address() || Some(gateway) == net.broadcast());
        if edge
            || self
                .ip
                .ifaces
                .iter()
                .any(|i| i.addrs.iter().any(|a| a.address() == gateway))
        {
            return Err(ConfigError::InvalidGateway(gateway));
        }
        self.ip.routes.add(Route {
            dest: dest.network(),
            gateway: Some(gateway),
            iface,
            origin: RouteOrigin::Static,
        });
        Ok(())
    }

    /// Route `dest` straight out of `iface`, with no gateway, replacing
    /// any static route to the same prefix (`ip route replace DEST dev
    /// IFACE`): how a VPN takes over a network it carries.
    pub fn add_device_route(&mut self, dest: Cidr, iface: IfaceId) -> Result<(), ConfigError> {
        if iface.0 >= self.ip.ifaces.len() {
            return Err(ConfigError::NoSuchInterface(iface.0));
        }
        let net = dest.network();
        self.ip
            .routes
            .remove_where(|r| r.origin == RouteOrigin::Static && r.dest == net);
        self.ip.routes.add(Route {
            dest: dest.network(),
            gateway: None,
            iface,
            origin: RouteOrigin::Static,
        });
        Ok(())
    }

    /// Remove the static routes to `dest` (the default route for 0/0).
    pub fn remove_route(&mut self, dest: Cidr) -> Result<(), ConfigError> {
        let dest = dest.network();
        let before = self.ip.routes.len();
        self.ip
            .routes
            .remove_where(|r| r.origin != RouteOrigin::Connected && r.dest == dest);
        if self.ip.routes.len() == before {
            return Err(ConfigError::NoSuchRoute(dest));
        }
        Ok(())
    }

    /// Set the default route.
    pub fn set_default_gateway(&mut self, gateway: Ipv4Addr) -> Result<(), ConfigError> {
        self.add_route(Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid"), gateway)
    }

    pub fn interfaces(&self) -> &[Interface] {
        &self.ip.ifaces
    }

    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.ip.routes.iter()
    }

    /// The route a datagram to `dst` would take.
    pub fn route_to(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.ip.routes.lookup(dst)
    }

    /// How a datagram this host sent to `dst` now, from `src` if given,
    /// would leave (`ip route get`): its interface, next hop, source
    /// address and path MTU, or why it could not be sent.
    pub fn route_output(
        &self,
        dst: Ipv4Addr,
        src: Option<Ipv4Addr>,
    ) -> Result<crate::ip::RouteInfo, crate::SendError> {
        self.ip.route_local(self.now, dst, src)
    }

    /// The table's own route to `dst`, a redirect's cache entry left
    /// aside (`ip route get ... fibmatch`).
    pub fn table_route(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.ip
            .routes
            .lookup_where(dst, |r| r.origin != crate::RouteOrigin::Redirect)
    }

    /// Whether `addr` belongs to this host.
    pub fn is_local_addr(&self, addr: Ipv4Addr) -> bool {
        self.ip.is_local_addr(addr)
    }

    /// Whether `addr` is a broadcast address here: the limited broadcast
    /// or the directed broadcast of one of the interfaces' subnets.
    pub fn is_broadcast_addr(&self, addr: Ipv4Addr) -> bool {
        addr.is_broadcast() || self.ip.ifaces.iter().any(|i| i.is_subnet_broadcast(addr))
    }

    /// Datagrams being reassembled (Linux's sockstat `FRAG: inuse`).
    pub fn reassembly_queues(&self) -> usize {
        self.reasm.len()
    }

    /// The learned path MTU towards `dst`, if any.
    pub fn path_mtu(&self, dst: Ipv4Addr) -> Option<usize> {
        self.ip.pmtu.get(self.now, dst)
    }

    /// Every learned path MTU: destination, MTU and when it expires
    /// (`ip route show cache`).
    pub fn path_mtus(&self) -> Vec<(Ipv4Addr, usize, Instant)> {
        self.ip.pmtu.entries(self.now)
    }

    /// The learned path MTU towards `dst` and when it expires.
    pub fn path_mtu_entry(&self, dst: Ipv4Addr) -> Option<(usize, Instant)> {
        self.ip.pmtu.entry(self.now, dst)
    }

    /// Every counter.
    pub fn stats(&self) -> Stats {
        let octets = |f: fn(&crate::iface::IfaceCounters) -> u64| {
            self.ip.ifaces.iter().map(|i| f(&i.counters)).sum::<u64>()
        };
        Stats {
            ip: crate::stats::IpStats {
                in_octets: octets(|c| c.rx_bytes),
                out_octets: octets(|c| c.tx_bytes),
                ..self.ip.stats
            },
            icmp: self.icmp.stats,
            udp: self.udp.stats,
            tcp: crate::stats::TcpStats {
                curr_estab: self.tcp.current_established(),
                ..self.tcp.stats
            },
        }
    }

    /// Bytes held for reassembly now.
    pub fn reassembly_bytes(&self) -> usize {
        self.reasm.held_bytes()
    }

    /// The time of the last call that passed one in.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Record TCP connections' state transitions and congestion control
    /// for a report, from now on (`tcp::TraceEvent`); off by default, and
    /// free while off.
    pub fn set_tracing(&mut self, on: bool) {
        self.tcp.set_tracing(on);
    }

    /// What was recorded since the last call, stamped with the time of the
    /// last call into the stack: take it after every call.
    pub fn take_trace(&mut self) -> Vec<crate::tcp::TraceEvent> {
        self.tcp.take_trace(self.now)
    }

    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
            self.ip.now = now;
            // Before anything routes at this time.
            self.ip.routes.expire(now);
        }
    }

    /// When the route to `dest` learned from a redirect expires (`ip
    /// route show cache`).
    pub fn route_expires(&self, dest: tcplab_wire::Cidr) -> Option<Instant> {
        self.ip.routes.expires(dest)
    }

    /// A deadline passed: reassembly timers, and everything else with a
    /// timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.tcp.handle_timeout(now, &mut self.ip);
        self.after_tcp();
        for expired in self.reasm.expire(now) {
            self.ip.stats.reasm_timeout += 1;
            self.ip.stats.reasm_fails += 1;
            // RFC 1122 §3.3.2: time exceeded (code 1) only if fragment zero
            // arrived.
            if let Some(quote) = expired.quote {
                self.icmp.send_error(
                    now,
                    &mut self.ip,
                    &quote,
                    None,
                    IcmpError::TimeExceeded(tcplab_wire::icmpv4::TimeExceeded::FragReassembly),
                );
            }
        }
    }

    /// The neighbour `next_hop` on `iface` could not be reached for the
    /// datagram in `bytes` (what a failed ARP resolution is to a kernel): the
    /// sender hears "host unreachable" (RFC 1812 §5.2.7.1).
    pub fn handle_unreachable(
        &mut self,
        now: Instant,
        iface: IfaceId,
        next_hop: Ipv4Addr,
        bytes: &[u8],
    ) {
        self.advance(now);
        let _ = next_hop;
        self.ip.stats.out_discards += 1;
        if let Some(i) = self.ip.ifaces.get_mut(iface.0) {
            i.counters.tx_dropped += 1;
        }
        // A forwarded datagram left translated: the error quotes it as it
        // arrived (hook.rs, `untranslate`).
        let mut quote = None;
        if let Some(hook) = self.hook.as_deref_mut() {
            let mut copy = bytes.to_vec();
            hook.untranslate(&mut copy);
            quote = Some(copy);
        }
        self.icmp.send_error(
            now,
            &mut self.ip,
            quote.as_deref().unwrap_or(bytes),
            None,
            IcmpError::DstUnreachable(tcplab_wire::icmpv4::DstUnreachable::HostUnreachable),
        );
    }

    /// The next datagram for a link, written into `buf` (which is replaced).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.advance(now);
        let mut budget = LOOPBACK_BUDGET;
        loop {
            while self.ip.loopback_due().is_some_and(|t| t <= now) {
                let Some((_, bytes)) = self.ip.loopback.pop_front() else {
                    break;
                };
                if let Some(c) = &mut self.loopback_captured {
                    if c.bytes + bytes.len() <= LOOPBACK_CAPTURE_BYTES {
                        c.bytes += bytes.len();
                        c.copies.push(bytes.clone());
                    } else {
                        c.dropped += 1;
                    }
                }
                self.handle_packet(now, IfaceId::LOOPBACK, &bytes);
                self.ip.recycle(bytes);
                budget -= 1;
                if budget == 0 {
                    // Let the driver come back (poll_timeout says "now").
                    return None;
                }
            }
            if let Some(mut out) = self.ip.out.pop_front() {
                std::mem::swap(buf, &mut out.bytes);
                self.ip.recycle(out.bytes);
                return Some(Transmit {
                    iface: out.iface,
                    next_hop: out.next_hop,
                    len: buf.len(),
                });
            }
            let emitted = self.tcp.poll_transmit(now, &mut self.ip, buf);
            self.after_tcp();
            match emitted {
                Some(Emitted::Link { iface, next_hop }) => {
                    return Some(Transmit {
                        iface,
                        next_hop,
                        len: buf.len(),
                    })
                }
                Some(Emitted::Queued) => continue,
                None if self.ip.loopback_due().is_none_or(|t| t > now)
                    && self.ip.out.is_empty() =>
                {
                    return None
                }
                None => continue,
            }
        }
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut at = [self.reasm.poll_at(), self.tcp.poll_at()]
            .into_iter()
            .flatten()
            .min();
        if let Some(due) = self.ip.loopback_due() {
            at = Some(at.map_or(due, |a| a.min(due)).max(self.now));
        }
        if !self.ip.out.is_empty() || self.tcp.has_output() {
            at = Some(self.now);
        }
        at
    }

    /// Hand TCP's events to the application and its freed ports back.
    /// Called after every TCP call and packet, most of which leave neither.
    #[inline]
    pub(crate) fn after_tcp(&mut self) {
        if !self.tcp.events.is_empty() || !self.tcp.freed_ports.is_empty() {
            self.hand_over_tcp();
        }
    }

    fn hand_over_tcp(&mut self) {
        // Taken and given back, so the vector keeps its allocation.
        let mut events = std::mem::take(&mut self.tcp.events);
        for id in events.drain(..) {
            self.notify(id);
        }
        self.tcp.events = events;
        let freed = std::mem::take(&mut self.tcp.freed_ports);
        for &(_, id) in &freed {
            self.forget_events(id);
        }
        self.tcp.freed_ports = freed;
        self.tcp.release_ports(&mut self.ports);
    }

    /// The next socket whose state changed.
    pub fn poll_event(&mut self) -> Option<Event> {
        // Entries of sockets freed since they were queued are skipped.
        while let Some(e) = self.events.pop_front() {
            if self.queued_events.remove(e.socket) {
                return Some(e);
            }
        }
        None
    }

    /// A socket was freed: a pending event for it goes. An application
    /// that never asks for events (one that polls readiness instead) must
    /// not see the queue grow with every connection it ever had. The set
    /// forgets at once; the queue drops the entry lazily (`poll_event`
    /// skips it), and is compacted when stale entries outnumber live ones,
    /// so its length stays within twice the live sockets' events.
    pub(crate) fn forget_events(&mut self, socket: SocketId) {
        if !self.queued_events.remove(socket) {
            return;
        }
        // `notify` trusts the last entry without asking the set: it must
        // never be a stale one.
        if self.events.back().is_some_and(|e| e.socket == socket) {
            self.events.pop_back();
        }
        if self.events.len() > 2 * self.queued_events.len() + 64 {
            let live = &self.queued_events;
            self.events.retain(|e| live.contains(e.socket));
        }
    }

    pub(crate) fn notify(&mut self, socket: SocketId) {
        // The same socket as the last queued (a burst of segments on one
        // connection): already queued, no need to ask the set.
        if self.events.back().is_some_and(|e| e.socket == socket) {
            return;
        }
        if self.queued_events.insert(socket) {
            self.events.push_back(Event { socket });
        }
    }
}

/// A connection or datagram "to 0.0.0.0" goes to this host, as Linux's
/// `ip_route_connect` takes it: to the bound source address, else to
/// 127.0.0.1 (what "Serving on 0.0.0.0" invites a user to try).
pub(crate) fn to_this_host(remote: SocketAddrV4, bound: Option<Ipv4Addr>) -> SocketAddrV4 {
    if !remote.ip().is_unspecified() {
        return remote;
    }
    let ip = bound
        .filter(|a| !a.is_unspecified())
        .unwrap_or(Ipv4Addr::LOCALHOST);
    SocketAddrV4::new(ip, remote.port())
}

#[cfg(test)]
mod tests;
