//! Async sockets over a host's stack.

use std::future::poll_fn;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::task::Poll;

use tcplab_stack::{
    BindError, IcmpErrorReport, PingHandle, PingMessage, PmtuDisc, RawDatagram, RawHandle,
    RecvError, SendError, SocketError, SocketKind, UdpDatagram, UdpHandle,
};
use tcplab_wire::Protocol;

use crate::Host;

/// A UDP socket. Closed when dropped.
#[derive(Debug)]
pub struct UdpSocket {
    host: Host,
    handle: UdpHandle,
}

impl UdpSocket {
    /// Bind to `local` (port 0: an ephemeral port).
    pub fn bind(host: &Host, local: SocketAddrV4) -> Result<UdpSocket, BindError> {
        Self::bind_with(host, local, false)
    }

    /// [`UdpSocket::bind`] with `SO_REUSEPORT` set first when `reuse_port`.
    pub fn bind_with(
        host: &Host,
        local: SocketAddrV4,
        reuse_port: bool,
    ) -> Result<UdpSocket, BindError> {
        let handle = host.with_stack(|s| s.udp_bind_with(local, reuse_port))?;
        host.claim(handle.id());
        Ok(UdpSocket {
            host: host.clone(),
            handle,
        })
    }

    pub fn handle(&self) -> UdpHandle {
        self.handle
    }

    pub fn local_addr(&self) -> SocketAddrV4 {
        self.host
            .with_stack(|s| s.udp_local_addr(self.handle))
            .unwrap_or_else(|| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    }

    pub fn connect(&self, remote: SocketAddrV4) -> Result<(), SendError> {
        let now = self.host.now();
        self.host
            .with_stack(|s| s.udp_connect(now, self.handle, remote))
    }

    /// Send a datagram (UDP never waits: it is queued or refused).
    pub fn send_to(&self, data: &[u8], dst: SocketAddrV4) -> Result<(), SendError> {
        let now = self.host.now();
        self.host
            .with_stack(|s| s.udp_send_to(now, self.handle, dst, data))
    }

    pub fn send(&self, data: &[u8]) -> Result<(), SendError> {
        let now = self.host.now();
        self.host.with_stack(|s| s.udp_send(now, self.handle, data))
    }

    /// The next datagram, waiting for one.
    pub async fn recv_from(&self) -> Result<UdpDatagram, SocketError> {
        poll_fn(|cx| {
            match self.host.with_stack(|s| s.udp_recv(self.handle)) {
                Ok(d) => return Poll::Ready(Ok(d)),
                Err(RecvError::Socket(e)) => return Poll::Ready(Err(e)),
                Err(RecvError::InvalidHandle) => {
                    return Poll::Ready(Err(SocketError::NotConnected))
                }
                Err(RecvError::WouldBlock) => {}
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    /// The next queued ICMP error report (needs `set_recv_err(true)`).
    pub async fn recv_error(&self) -> IcmpErrorReport {
        poll_fn(|cx| {
            if let Some(r) = self.host.with_stack(|s| s.udp_recv_error(self.handle)) {
                return Poll::Ready(r);
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    pub fn try_recv_error(&self) -> Option<IcmpErrorReport> {
        self.host.with_stack(|s| s.udp_recv_error(self.handle))
    }

    pub fn set_ttl(&self, ttl: Option<u8>) {
        self.host.with_stack(|s| s.udp_set_ttl(self.handle, ttl))
    }

    pub fn set_recv_err(&self, on: bool) {
        self.host
            .with_stack(|s| s.udp_set_recv_err(self.handle, on))
    }

    pub fn set_broadcast(&self, on: bool) {
        self.host
            .with_stack(|s| s.udp_set_broadcast(self.handle, on))
    }

    pub fn set_pmtudisc(&self, p: PmtuDisc) {
        self.host.with_stack(|s| s.udp_set_pmtudisc(self.handle, p))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.host.with_stack(|s| s.udp_close(self.handle));
        self.host.release(self.handle.id());
    }
}

/// An ICMP echo socket. Closed when dropped.
#[derive(Debug)]
pub struct PingSocket {
    host: Host,
    handle: PingHandle,
}

impl PingSocket {
    pub fn open(host: &Host) -> Result<PingSocket, BindError> {
        let handle = host.with_stack(|s| s.ping_open())?;
        host.claim(handle.id());
        Ok(PingSocket {
            host: host.clone(),
            handle,
        })
    }

    pub fn ident(&self) -> u16 {
        self.host
            .with_stack(|s| s.ping_socket(self.handle).map_or(0, |p| p.ident))
    }

    pub fn send(&self, dst: Ipv4Addr, seq: u16, payload: &[u8]) -> Result<(), SendError> {
        let now = self.host.now();
        self.host
            .with_stack(|s| s.ping_send(now, self.handle, dst, seq, payload))
    }

    pub async fn recv(&self) -> PingMessage {
        poll_fn(|cx| {
            if let Ok(m) = self.host.with_stack(|s| s.ping_recv(self.handle)) {
                return Poll::Ready(m);
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    pub fn set_ttl(&self, ttl: Option<u8>) {
        self.host.with_stack(|s| s.ping_set_ttl(self.handle, ttl))
    }

    pub fn set_pmtudisc(&self, p: PmtuDisc) {
        self.host
            .with_stack(|s| s.ping_set_pmtudisc(self.handle, p))
    }

    pub fn set_broadcast(&self, on: bool) {
        self.host
            .with_stack(|s| s.ping_set_broadcast(self.handle, on))
    }

    pub fn bind(&self, addr: Ipv4Addr) -> Result<(), BindError> {
        self.host.with_stack(|s| s.ping_bind(self.handle, addr))
    }
}

impl Drop for PingSocket {
    fn drop(&mut self) {
        self.host.with_stack(|s| s.ping_close(self.handle));
        self.host.release(self.handle.id());
    }
}

/// A raw IP socket (`SOCK_RAW`). Closed when dropped.
#[derive(Debug)]
pub struct RawSocket {
    host: Host,
    handle: RawHandle,
}

impl RawSocket {
    pub fn open(host: &Host, protocol: Protocol) -> RawSocket {
        let handle = host.with_stack(|s| s.raw_open(protocol));
        host.claim(handle.id());
        RawSocket {
            host: host.clone(),
            handle,
        }
    }

    /// Reserve a source port of `kind` for hand-built probes.
    pub fn reserve_port(&self, kind: SocketKind) -> Result<u16, BindError> {
        self.host
            .with_stack(|s| s.raw_reserve_port(self.handle, kind))
    }

    pub fn release_port(&self, kind: SocketKind, port: u16) {
        self.host
            .with_stack(|s| s.raw_release_port(self.handle, kind, port))
    }

    pub fn set_pmtudisc(&self, p: PmtuDisc) {
        self.host.with_stack(|s| s.raw_set_pmtudisc(self.handle, p))
    }

    pub fn source_addr_for(&self, dst: Ipv4Addr) -> Result<Ipv4Addr, SendError> {
        self.host.with_stack(|s| s.source_addr_for(dst))
    }

    pub fn send(&self, dst: Ipv4Addr, payload: &[u8]) -> Result<(), SendError> {
        let now = self.host.now();
        self.host
            .with_stack(|s| s.raw_send(now, self.handle, dst, payload))
    }

    pub async fn recv(&self) -> RawDatagram {
        poll_fn(|cx| {
            if let Ok(d) = self.host.with_stack(|s| s.raw_recv(self.handle)) {
                return Poll::Ready(d);
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    pub fn set_ttl(&self, ttl: Option<u8>) {
        self.host.with_stack(|s| s.raw_set_ttl(self.handle, ttl))
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        self.host.with_stack(|s| s.raw_close(self.handle));
        self.host.release(self.handle.id());
    }
}
