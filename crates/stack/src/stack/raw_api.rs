//! The raw socket calls of `Stack`.

use std::net::Ipv4Addr;

use tcplab_wire::Protocol;

use super::Stack;
use crate::ip::SendOptions;
use crate::raw::{RawDatagram, RawSocket};
use crate::socket::{BindError, PmtuDisc, RawHandle, RecvError, SendError, SocketKind};
use crate::time::Instant;

/// Ports one raw socket may hold reserved at once.
pub const RAW_PORTS_MAX: usize = 1024;

impl Stack {
    /// Open a raw socket for `protocol`. It receives a copy of every
    /// datagram of that protocol addressed to this host.
    pub fn raw_open(&mut self, protocol: Protocol) -> RawHandle {
        self.raw.insert(protocol, self.config.udp_recv_buffer)
    }

    /// Reserve an ephemeral port of `kind` for the socket's probes, so that
    /// no other socket is given it until it is released or the raw socket
    /// closes. At most [`RAW_PORTS_MAX`] at a time.
    pub fn raw_reserve_port(&mut self, h: RawHandle, kind: SocketKind) -> Result<u16, BindError> {
        match self.raw.get(h) {
            Some(s) if s.ports.len() < RAW_PORTS_MAX => {}
            _ => return Err(BindError::NoPortsAvailable),
        }
        let port = self
            .ports
            .bind_ephemeral(kind, Ipv4Addr::UNSPECIFIED, None, h.id())?;
        if let Some(s) = self.raw.get_mut(h) {
            s.ports.push((kind, port));
        }
        Ok(port)
    }

    /// Give back a port from [`Stack::raw_reserve_port`].
    pub fn raw_release_port(&mut self, h: RawHandle, kind: SocketKind, port: u16) {
        if let Some(s) = self.raw.get_mut(h) {
            if let Some(i) = s.ports.iter().position(|&p| p == (kind, port)) {
                s.ports.swap_remove(i);
                self.ports.release(kind, port, h.id());
            }
        }
    }

    /// The source address a datagram to `dst` would carry (what a transport
    /// checksum over the pseudo-header needs).
    pub fn source_addr_for(&self, dst: Ipv4Addr) -> Result<Ipv4Addr, SendError> {
        self.ip.route_local(self.now, dst, None).map(|r| r.src)
    }

    /// Send `payload` (a transport header and data) to `dst`; the stack adds
    /// the IP header.
    pub fn raw_send(
        &mut self,
        now: Instant,
        h: RawHandle,
        dst: Ipv4Addr,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.advance(now);
        let s = self.raw.get(h).ok_or(SendError::InvalidHandle)?;
        let opts = SendOptions {
            protocol: s.protocol,
            ttl: s.ttl.unwrap_or(self.config.default_ttl),
            tos: 0,
            pmtudisc: s.pmtudisc,
        };
        if dst.is_broadcast() {
            return Err(SendError::BroadcastNotAllowed);
        }
        let route = self.ip.route_local(now, dst, None)?;
        self.ip.send(&route, opts, payload)?;
        if let Some(s) = self.raw.get_mut(h) {
            s.sent += 1;
        }
        Ok(())
    }

    /// The next datagram the socket received.
    pub fn raw_recv(&mut self, h: RawHandle) -> Result<RawDatagram, RecvError> {
        if self.raw.get(h).is_none() {
            return Err(RecvError::InvalidHandle);
        }
        self.raw.pop(h).ok_or(RecvError::WouldBlock)
    }

    pub fn raw_set_ttl(&mut self, h: RawHandle, ttl: Option<u8>) {
        if let Some(s) = self.raw.get_mut(h) {
            s.ttl = ttl;
        }
    }

    pub fn raw_set_pmtudisc(&mut self, h: RawHandle, pmtudisc: PmtuDisc) {
        if let Some(s) = self.raw.get_mut(h) {
            s.pmtudisc = pmtudisc;
        }
    }

    pub fn raw_socket(&self, h: RawHandle) -> Option<&RawSocket> {
        self.raw.get(h)
    }

    pub fn raw_sockets(&self) -> impl Iterator<Item = (RawHandle, &RawSocket)> {
        self.raw.iter()
    }

    pub fn raw_close(&mut self, h: RawHandle) {
        if let Some(s) = self.raw.remove(h) {
            for (kind, port) in s.ports {
                self.ports.release(kind, port, h.id());
            }
            self.forget_events(h.id());
        }
    }
}
