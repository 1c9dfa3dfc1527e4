//! The ICMP echo socket calls of `Stack`.

use std::net::Ipv4Addr;

use tcplab_wire::{icmpv4, Protocol};

use super::Stack;
use crate::ip::SendOptions;
use crate::ping::PingSocket;
use crate::socket::{
    BindError, PingHandle, PingMessage, PmtuDisc, RecvError, SendError, SocketKind,
};
use crate::time::Instant;

impl Stack {
    /// Open an echo socket with an identifier of its own.
    pub fn ping_open(&mut self) -> Result<PingHandle, BindError> {
        let h = self.ping.insert(self.config.udp_recv_buffer);
        match self
            .ports
            .bind_ephemeral(SocketKind::Ping, Ipv4Addr::UNSPECIFIED, None, h.id())
        {
            Ok(ident) => {
                self.ping.set_ident(h, ident);
                Ok(h)
            }
            Err(e) => {
                self.ping.remove(h);
                Err(e)
            }
        }
    }

    /// Send an echo request with sequence number `seq` and `payload`.
    pub fn ping_send(
        &mut self,
        now: Instant,
        h: PingHandle,
        dst: Ipv4Addr,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.advance(now);
        let s = self.ping.get(h).ok_or(SendError::InvalidHandle)?;
        let (ident, local) = (s.ident, s.local);
        let opts = SendOptions {
            protocol: Protocol::Icmp,
            ttl: s.ttl.unwrap_or(self.config.default_ttl),
            tos: s.tos,
            pmtudisc: s.pmtudisc,
        };
        // As for a datagram socket (Linux's ping_v4_sendmsg): a broadcast
        // destination needs SO_BROADCAST, and leaves from the route's
        // source rather than a bound one.
        let broadcast = self.is_broadcast_addr(dst);
        if broadcast && !s.broadcast {
            return Err(SendError::BroadcastNotAllowed);
        }
        let local = local.filter(|_| !broadcast);
        let route = self.ip.route_local(now, dst, local)?;
        let repr = icmpv4::Repr::EchoRequest {
            ident,
            seq_no: seq,
            data: payload,
        };
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]));
        self.ip.send(&route, opts, &bytes)?;
        self.icmp.stats.out_msgs += 1;
        self.icmp.stats.out_type[8] += 1;
        if let Some(s) = self.ping.get_mut(h) {
            s.sent += 1;
        }
        Ok(())
    }

    /// The next reply or error.
    pub fn ping_recv(&mut self, h: PingHandle) -> Result<PingMessage, RecvError> {
        let s = self.ping.get_mut(h).ok_or(RecvError::InvalidHandle)?;
        let msg = s.rx.pop_front().ok_or(RecvError::WouldBlock)?;
        let len = match &msg {
            PingMessage::Reply { data, .. } => data.len() + 8,
            PingMessage::Error { .. } => 64,
        };
        s.rx_bytes = s.rx_bytes.saturating_sub(len);
        Ok(msg)
    }

    /// SO_BROADCAST.
    pub fn ping_set_broadcast(&mut self, h: PingHandle, on: bool) {
        if let Some(s) = self.ping.get_mut(h) {
            s.broadcast = on;
        }
    }

    pub fn ping_set_ttl(&mut self, h: PingHandle, ttl: Option<u8>) {
        if let Some(s) = self.ping.get_mut(h) {
            s.ttl = ttl;
        }
    }

    pub fn ping_set_pmtudisc(&mut self, h: PingHandle, pmtudisc: PmtuDisc) {
        if let Some(s) = self.ping.get_mut(h) {
            s.pmtudisc = pmtudisc;
        }
    }

    /// Use `addr` (one of ours) as the source address.
    pub fn ping_bind(&mut self, h: PingHandle, addr: Ipv4Addr) -> Result<(), BindError> {
        let Some(s) = self.ping.get_mut(h) else {
            return Err(BindError::InvalidHandle);
        };
        if !self.ip.is_local_addr(addr) {
            return Err(BindError::AddrNotAvailable(addr));
        }
        s.local = Some(addr);
        Ok(())
    }

    pub fn ping_socket(&self, h: PingHandle) -> Option<&PingSocket> {
        self.ping.get(h)
    }

    pub fn ping_sockets(&self) -> impl Iterator<Item = (PingHandle, &PingSocket)> {
        self.ping.iter()
    }

    pub fn ping_readable(&self, h: PingHandle) -> bool {
        self.ping.get(h).is_some_and(|s| !s.rx.is_empty())
    }

    pub fn ping_close(&mut self, h: PingHandle) {
        if let Some(s) = self.ping.remove(h) {
            self.ports.release(SocketKind::Ping, s.ident, h.id());
            self.forget_events(h.id());
        }
    }
}
