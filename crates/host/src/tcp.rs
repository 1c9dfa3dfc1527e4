//! Async TCP sockets over a host's stack.

use std::future::poll_fn;
use std::net::SocketAddrV4;
use std::task::Poll;

use tcplab_stack::tcp::Readiness;
use tcplab_stack::{
    BindError, ConnectError, RecvError, SendError, SocketError, TcpHandle, TcpInfo, TcpState,
};

use crate::Host;

fn bind_error(e: BindError) -> SocketError {
    match e {
        BindError::AddrInUse { .. } | BindError::NoPortsAvailable => SocketError::AddrInUse,
        BindError::AddrNotAvailable(_) => SocketError::AddrNotAvailable,
        BindError::InvalidHandle => SocketError::InvalidArgument,
    }
}

fn connect_error(e: ConnectError) -> SocketError {
    match e {
        ConnectError::NoRoute(_) => SocketError::NetworkUnreachable,
        ConnectError::AddrNotAvailable(_) => SocketError::AddrNotAvailable,
        ConnectError::InvalidAddress(_) => SocketError::InvalidArgument,
        ConnectError::Bind(b) => bind_error(b),
        ConnectError::InUse(..) => SocketError::AddrInUse,
    }
}

/// A listening socket. Closed when dropped.
#[derive(Debug)]
pub struct TcpListener {
    host: Host,
    handle: TcpHandle,
}

impl TcpListener {
    /// Listen on `local` (port 0: ephemeral) with `backlog` connections
    /// waiting to be accepted.
    pub fn bind(
        host: &Host,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<TcpListener, BindError> {
        let handle = host.with_stack(|s| s.tcp_listen(local, backlog))?;
        host.claim(handle.id());
        Ok(TcpListener {
            host: host.clone(),
            handle,
        })
    }

    /// [`TcpListener::bind`] with socket options set before `bind(2)`
    /// (`SO_REUSEPORT`, buffer sizes, ...), which the connections it
    /// accepts inherit.
    pub fn bind_with(
        host: &Host,
        local: SocketAddrV4,
        backlog: usize,
        opts: tcplab_stack::tcp::SocketOptions,
    ) -> Result<TcpListener, BindError> {
        let handle = host.with_stack(|s| {
            let h = s.tcp_bind(local, opts)?;
            s.tcp_listen_bound(h, backlog);
            Ok::<_, BindError>(h)
        })?;
        host.claim(handle.id());
        Ok(TcpListener {
            host: host.clone(),
            handle,
        })
    }

    pub fn handle(&self) -> TcpHandle {
        self.handle
    }

    pub fn local_addr(&self) -> Option<SocketAddrV4> {
        self.host.with_stack(|s| s.tcp_local_addr(self.handle))
    }

    /// The next established connection.
    pub async fn accept(&self) -> Result<TcpStream, SocketError> {
        poll_fn(|cx| {
            match self.host.with_stack(|s| s.tcp_accept(self.handle)) {
                Ok(h) => {
                    self.host.claim(h.id());
                    return Poll::Ready(Ok(TcpStream {
                        host: self.host.clone(),
                        handle: h,
                    }));
                }
                Err(RecvError::WouldBlock) => {}
                Err(RecvError::Socket(e)) => return Poll::Ready(Err(e)),
                Err(RecvError::InvalidHandle) => {
                    return Poll::Ready(Err(SocketError::InvalidArgument))
                }
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let now = self.host.now();
        self.host.with_stack(|s| s.tcp_close(now, self.handle));
        self.host.release(self.handle.id());
    }
}

/// A TCP connection. Dropping it closes it gracefully (the connection then
/// finishes its close on its own), like `close(2)`.
#[derive(Debug)]
pub struct TcpStream {
    host: Host,
    handle: TcpHandle,
}

impl TcpStream {
    /// Open a connection and wait until it is established or fails
    /// ("Connection refused", "Connection timed out", "No route to host").
    pub async fn connect(host: &Host, remote: SocketAddrV4) -> Result<TcpStream, SocketError> {
        Self::connect_from(host, remote, None).await
    }

    /// Like [`TcpStream::connect`], from a chosen local address or port.
    pub async fn connect_from(
        host: &Host,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
    ) -> Result<TcpStream, SocketError> {
        let now = host.now();
        let handle = host
            .with_stack(|s| s.tcp_connect(now, remote, local))
            .map_err(connect_error)?;
        host.claim(handle.id());
        let stream = TcpStream {
            host: host.clone(),
            handle,
        };
        stream.established().await?;
        Ok(stream)
    }

    /// Wait for the handshake to finish.
    async fn established(&self) -> Result<(), SocketError> {
        poll_fn(|cx| {
            let r = self.readiness();
            match r.state {
                Some(TcpState::SynSent | TcpState::SynReceived) => {}
                Some(TcpState::Closed) | None => {
                    return Poll::Ready(Err(r.error.unwrap_or(SocketError::ConnectionRefused)))
                }
                Some(_) => return Poll::Ready(Ok(())),
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    fn readiness(&self) -> Readiness {
        self.host
            .with_stack(|s| s.tcp_readiness(self.handle))
            .unwrap_or(Readiness {
                state: Some(TcpState::Closed),
                readable: true,
                writable: true,
                acceptable: false,
                error: None,
            })
    }

    pub fn handle(&self) -> TcpHandle {
        self.handle
    }

    /// STATUS.
    pub fn info(&self) -> Option<TcpInfo> {
        self.host.with_stack(|s| s.tcp_info(self.handle))
    }

    pub fn local_addr(&self) -> Option<SocketAddrV4> {
        self.info().map(|i| i.local)
    }

    pub fn peer_addr(&self) -> Option<SocketAddrV4> {
        self.info().map(|i| i.remote)
    }

    /// Whether the peer has closed or reset the connection with nothing
    /// left to read: a peek finds the end of the stream or an error (what
    /// curl's liveness check, `recv(MSG_PEEK)`, takes for a dead
    /// connection; bytes waiting leave it alive). A connection that is
    /// gone is too.
    pub fn peer_gone(&self) -> bool {
        let mut one = [0u8; 1];
        self.host
            .with_stack(|s| match s.tcp_peek(self.handle, &mut one) {
                Ok(n) => n == 0,
                Err(RecvError::WouldBlock) => false,
                Err(_) => true,
            })
    }

    /// Read some bytes, waiting for at least one; `Ok(0)` is the end of the
    /// stream.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        poll_fn(|cx| {
            match self.host.with_stack(|s| s.tcp_recv(self.handle, buf)) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(RecvError::Socket(e)) => return Poll::Ready(Err(e)),
                Err(RecvError::InvalidHandle) => return Poll::Ready(Ok(0)),
                Err(RecvError::WouldBlock) => {}
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Write some bytes, waiting for buffer space; returns how many.
    pub async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        poll_fn(|cx| {
            match self.host.with_stack(|s| s.tcp_send(self.handle, data)) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(SendError::WouldBlock) => {}
                Err(SendError::Pending(e)) => return Poll::Ready(Err(e)),
                Err(SendError::NotConnected) => return Poll::Ready(Err(SocketError::NotConnected)),
                Err(_) => return Poll::Ready(Err(SocketError::BrokenPipe)),
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Write everything.
    pub async fn write_all(&self, mut data: &[u8]) -> Result<(), SocketError> {
        while !data.is_empty() {
            let n = self.write(data).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Send urgent data (RFC 6093).
    pub fn write_urgent(&self, data: &[u8]) -> Result<usize, SocketError> {
        self.host
            .with_stack(|s| s.tcp_send_urgent(self.handle, data))
            .map_err(|e| match e {
                SendError::Pending(e) => e,
                _ => SocketError::BrokenPipe,
            })
    }

    /// Bytes of urgent data not yet read.
    pub fn urgent(&self) -> Option<usize> {
        self.host.with_stack(|s| s.tcp_urgent(self.handle))
    }

    /// Half-close: send a FIN after the queued data; reading goes on.
    pub fn shutdown(&self) -> Result<(), SocketError> {
        self.host
            .with_stack(|s| s.tcp_shutdown(self.handle))
            .map_err(|e| match e {
                SendError::Pending(e) => e,
                _ => SocketError::NotConnected,
            })
    }

    /// Wait until everything sent was acknowledged (or the connection ended).
    pub async fn flush(&self) -> Result<(), SocketError> {
        poll_fn(|cx| {
            match self.info() {
                None => return Poll::Ready(Ok(())),
                Some(i) if i.state == TcpState::Closed => {
                    let e = self.readiness().error;
                    return Poll::Ready(e.map_or(Ok(()), Err));
                }
                Some(i) if i.send_queue == 0 && i.snd_una == i.snd_max => {
                    return Poll::Ready(Ok(()))
                }
                Some(_) => {}
            }
            self.host.wait_for(self.handle.id(), cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Reset the connection (ABORT). The handle is gone afterwards, so the
    /// close that dropping does finds nothing left to close.
    pub fn abort(self) {
        let now = self.host.now();
        self.host.with_stack(|s| s.tcp_abort(now, self.handle));
    }

    pub fn set_nodelay(&self, on: bool) {
        self.host.with_stack(|s| s.tcp_set_nodelay(self.handle, on))
    }

    /// `TCP_CORK`: partial segments wait until it comes off (or a close).
    pub fn set_cork(&self, on: bool) {
        self.host.with_stack(|s| s.tcp_set_cork(self.handle, on))
    }

    pub fn set_keepalive(&self, on: bool) {
        self.host
            .with_stack(|s| s.tcp_set_keepalive(self.handle, on))
    }

    /// `TCP_KEEPIDLE` and `TCP_KEEPINTVL`: when keep-alive probes begin
    /// on an idle connection, and how far apart they go.
    pub fn set_keepalive_times(&self, idle: std::time::Duration, interval: std::time::Duration) {
        self.host.with_stack(|s| {
            if let Some(mut o) = s.tcp_options(self.handle) {
                o.keepalive_time = Some(idle);
                o.keepalive_interval = Some(interval);
                s.tcp_set_options(self.handle, o);
            }
        })
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let now = self.host.now();
        self.host.with_stack(|s| s.tcp_close(now, self.handle));
        self.host.release(self.handle.id());
    }
}
