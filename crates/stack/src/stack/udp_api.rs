//! The UDP socket calls of `Stack`.

use std::net::SocketAddrV4;

use tcplab_wire::{udp, Protocol};

use super::Stack;
use crate::ip::SendOptions;
use crate::socket::{
    BindError, IcmpErrorReport, PmtuDisc, RecvError, SendError, SocketKind, UdpDatagram, UdpHandle,
};
use crate::time::Instant;
use crate::udp::UdpSocket;

impl Stack {
    /// Open a UDP socket bound to `local`; port 0 picks an ephemeral port.
    pub fn udp_bind(&mut self, local: SocketAddrV4) -> Result<UdpHandle, BindError> {
        self.udp_bind_with(local, false)
    }

    /// [`Stack::udp_bind`] with `SO_REUSEPORT` set before binding when
    /// `reuse_port`: the port may be bound again by sockets that set it too,
    /// and datagrams from different senders are spread over them
    /// ([`crate::udp::UdpLayer::lookup`]).
    pub fn udp_bind_with(
        &mut self,
        local: SocketAddrV4,
        reuse_port: bool,
    ) -> Result<UdpHandle, BindError> {
        let addr = *local.ip();
        if !addr.is_unspecified() && !self.ip.is_local_addr(addr) {
            return Err(BindError::AddrNotAvailable(addr));
        }
        let rcvbuf = self.config.udp_recv_buffer;
        let h = self.udp.insert(local, rcvbuf);
        let result = if local.port() == 0 {
            self.ports
                .bind_ephemeral(SocketKind::Udp, addr, None, h.id())
        } else {
            let port = local.port();
            self.ports
                .bind_shared(SocketKind::Udp, addr, port, None, h.id(), reuse_port)
                .map(|()| port)
        };
        match result {
            Ok(port) => {
                if let Some(s) = self.udp.get_mut(h) {
                    s.local.set_port(port);
                    s.reuse_port = reuse_port;
                }
                self.udp.attach(h);
                Ok(h)
            }
            Err(e) => {
                self.udp.remove(h);
                Err(e)
            }
        }
    }

    /// Connect a UDP socket: datagrams go to `remote` by default and only
    /// datagrams from `remote` are received.
    pub fn udp_connect(
        &mut self,
        now: Instant,
        h: UdpHandle,
        remote: SocketAddrV4,
    ) -> Result<(), SendError> {
        self.advance(now);
        let s = self.udp.get(h).ok_or(SendError::InvalidHandle)?;
        let bound = Some(*s.local.ip()).filter(|a| !a.is_unspecified());
        let remote = super::to_this_host(remote, bound);
        // Linux's ip4_datagram_connect: a broadcast route without
        // SO_BROADCAST is EACCES at connect, not at the first send.
        if self.is_broadcast_addr(*remote.ip()) && !s.broadcast {
            return Err(SendError::BroadcastNotAllowed);
        }
        let route = self.ip.route_local(now, *remote.ip(), bound)?;
        let s = self.udp.get_mut(h).ok_or(SendError::InvalidHandle)?;
        if s.local.ip().is_unspecified() {
            s.local.set_ip(route.src);
        }
        s.remote = Some(remote);
        s.pending = None;
        let port = s.local.port();
        self.ports.set_remote(SocketKind::Udp, port, h.id(), remote);
        Ok(())
    }

    /// Send a datagram to `dst`.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), SendError> {
        self.advance(now);
        let s = self.udp.get_mut(h).ok_or(SendError::InvalidHandle)?;
        if let Some(e) = s.pending.take() {
            return Err(SendError::Pending(e));
        }
        let (src_port, bound, broadcast) = (s.local.port(), *s.local.ip(), s.broadcast);
        let dst = super::to_this_host(dst, Some(bound));
        let opts = SendOptions {
            protocol: Protocol::Udp,
            ttl: s.ttl.unwrap_or(self.config.default_ttl),
            tos: s.tos,
            pmtudisc: s.pmtudisc,
        };
        let dst_ip = *dst.ip();
        let is_broadcast = self.is_broadcast_addr(dst_ip);
        if is_broadcast && !broadcast {
            return Err(SendError::BroadcastNotAllowed);
        }
        let bound = Some(bound).filter(|a| !a.is_unspecified() && !is_broadcast);
        let route = self.ip.route_local(now, dst_ip, bound)?;
        // A UDP datagram's length is 16 bits, and the IPv4 datagram's too:
        // 65,507 bytes of payload at most (Linux: EMSGSIZE).
        if data.len() > usize::from(u16::MAX) - udp::HEADER_LEN - tcplab_wire::ipv4::HEADER_LEN {
            return Err(SendError::MessageTooLong {
                mtu: usize::from(u16::MAX),
            });
        }
        let repr = udp::Repr {
            src_port,
            dst_port: dst.port(),
            payload: data,
        };
        let mut payload = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut udp::Packet::new_unchecked(&mut payload[..]),
            route.src,
            dst_ip,
        );
        self.ip.send(&route, opts, &payload)?;
        self.udp.stats.out_datagrams += 1;
        if let Some(s) = self.udp.get_mut(h) {
            s.tx_bytes += data.len() as u64;
        }
        Ok(())
    }

    /// Send a datagram on a connected socket.
    pub fn udp_send(&mut self, now: Instant, h: UdpHandle, data: &[u8]) -> Result<(), SendError> {
        let remote = self
            .udp
            .get(h)
            .ok_or(SendError::InvalidHandle)?
            .remote
            .ok_or(SendError::NotConnected)?;
        self.udp_send_to(now, h, remote, data)
    }

    /// The next received datagram; a pending hard error once the queue is
    /// empty.
    pub fn udp_recv(&mut self, h: UdpHandle) -> Result<UdpDatagram, RecvError> {
        let s = self.udp.get_mut(h).ok_or(RecvError::InvalidHandle)?;
        if let Some(d) = s.rx.pop_front() {
            s.rx_bytes -= d.data.len();
            return Ok(d);
        }
        if let Some(e) = s.pending.take() {
            return Err(RecvError::Socket(e));
        }
        Err(RecvError::WouldBlock)
    }

    /// The next queued ICMP error report (`recvmsg(MSG_ERRQUEUE)`), for
    /// sockets with `recv_err` set.
    pub fn udp_recv_error(&mut self, h: UdpHandle) -> Option<IcmpErrorReport> {
        self.udp.get_mut(h)?.errors.pop_front()
    }

    /// Set the TTL of datagrams this socket sends (`IP_TTL`).
    pub fn udp_set_ttl(&mut self, h: UdpHandle, ttl: Option<u8>) {
        if let Some(s) = self.udp.get_mut(h) {
            s.ttl = ttl;
        }
    }

    pub fn udp_set_pmtudisc(&mut self, h: UdpHandle, pmtudisc: PmtuDisc) {
        if let Some(s) = self.udp.get_mut(h) {
            s.pmtudisc = pmtudisc;
        }
    }

    /// Queue ICMP errors for the application (`IP_RECVERR`).
    pub fn udp_set_recv_err(&mut self, h: UdpHandle, on: bool) {
        if let Some(s) = self.udp.get_mut(h) {
            s.recv_err = on;
        }
    }

    /// Allow sending to broadcast addresses (`SO_BROADCAST`).
    pub fn udp_set_broadcast(&mut self, h: UdpHandle, on: bool) {
        if let Some(s) = self.udp.get_mut(h) {
            s.broadcast = on;
        }
    }

    pub fn udp_socket(&self, h: UdpHandle) -> Option<&UdpSocket> {
        self.udp.get(h)
    }

    pub fn udp_sockets(&self) -> impl Iterator<Item = (UdpHandle, &UdpSocket)> {
        self.udp.iter()
    }

    /// Close a socket and free its port.
    pub fn udp_close(&mut self, h: UdpHandle) {
        if let Some(s) = self.udp.remove(h) {
            self.ports.release(SocketKind::Udp, s.local.port(), h.id());
            self.forget_events(h.id());
        }
    }

    /// The local address a socket is bound to.
    pub fn udp_local_addr(&self, h: UdpHandle) -> Option<SocketAddrV4> {
        self.udp.get(h).map(|s| s.local)
    }

    /// Is anything waiting on this socket?
    pub fn udp_readable(&self, h: UdpHandle) -> bool {
        self.udp
            .get(h)
            .is_some_and(|s| !s.rx.is_empty() || s.pending.is_some() || !s.errors.is_empty())
    }
}
