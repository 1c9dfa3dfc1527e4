//! The TCP socket calls of `Stack` (RFC 9293 §3.9.1's user interface).

use std::net::SocketAddrV4;

use super::Stack;
use crate::socket::{BindError, RecvError, SendError, SocketError, TcpHandle};
use crate::tcp::{
    CongestionAlgorithm, ConnectError, Readiness, SocketOptions, SocketSnapshot, TcpInfo,
};
use crate::time::Instant;

impl Stack {
    /// Passive OPEN with an unspecified foreign socket: listen on `local`
    /// (port 0 picks an ephemeral port), `backlog` connections waiting.
    pub fn tcp_listen(
        &mut self,
        local: SocketAddrV4,
        backlog: usize,
    ) -> Result<TcpHandle, BindError> {
        self.tcp_listen_for(local, backlog, None)
    }

    /// Passive OPEN; with `remote`, the foreign socket is fully specified and
    /// only it may connect.
    pub fn tcp_listen_for(
        &mut self,
        local: SocketAddrV4,
        backlog: usize,
        remote: Option<SocketAddrV4>,
    ) -> Result<TcpHandle, BindError> {
        let addr = *local.ip();
        if !addr.is_unspecified() && !self.ip.is_local_addr(addr) {
            return Err(BindError::AddrNotAvailable(addr));
        }
        self.tcp.listen(&mut self.ports, local, backlog, remote)
    }

    /// `bind(2)` alone: hold `local` (port 0: ephemeral) without listening.
    /// Segments to it are answered as to a CLOSED socket (RFC 9293
    /// §3.10.7.1) with its options; [`Stack::tcp_listen_bound`] makes it
    /// listen.
    pub fn tcp_bind(
        &mut self,
        local: SocketAddrV4,
        opts: SocketOptions,
    ) -> Result<TcpHandle, BindError> {
        let addr = *local.ip();
        if !addr.is_unspecified() && !self.ip.is_local_addr(addr) {
            return Err(BindError::AddrNotAvailable(addr));
        }
        self.tcp.bind(&mut self.ports, local, None, opts)
    }

    /// `listen(2)` on a socket from [`Stack::tcp_bind`] (or a listener, to
    /// change its backlog); false if `h` is a connection or no socket.
    pub fn tcp_listen_bound(&mut self, h: TcpHandle, backlog: usize) -> bool {
        self.tcp.listen_bound(h, backlog)
    }

    /// Active OPEN towards `remote`; `local` binds a source address and/or
    /// port (port 0: ephemeral).
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
    ) -> Result<TcpHandle, ConnectError> {
        self.tcp_connect_with(now, remote, local, SocketOptions::default())
    }

    /// Active OPEN with socket options set before `connect(2)` (buffer
    /// sizes, keep-alive times, TOS, TTL).
    pub fn tcp_connect_with(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
        opts: SocketOptions,
    ) -> Result<TcpHandle, ConnectError> {
        self.advance(now);
        if let Some(l) = local {
            if !l.ip().is_unspecified() && !self.ip.is_local_addr(*l.ip()) {
                return Err(ConnectError::AddrNotAvailable(*l.ip()));
            }
        }
        let remote = super::to_this_host(remote, local.map(|l| *l.ip()));
        let h = self
            .tcp
            .connect(now, &self.ip, &mut self.ports, remote, local, opts)?;
        self.after_tcp();
        Ok(h)
    }

    /// An established connection from a listener's queue.
    pub fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, RecvError> {
        self.tcp.accept(listener)
    }

    /// SEND (with PUSH): queue data; returns how many bytes were taken.
    pub fn tcp_send(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, SendError> {
        self.tcp.send(h, data, false, false)
    }

    /// SEND urgent data (the urgent pointer will mark its end).
    pub fn tcp_send_urgent(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, SendError> {
        self.tcp.send(h, data, true, false)
    }

    /// SEND with `MSG_MORE`: more data follows at once, so a partial
    /// segment at the end waits for it (as under `TCP_CORK`) and carries no
    /// PSH. The next send without it (or `TCP_NODELAY`, a FIN) lets it go.
    pub fn tcp_send_more(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, SendError> {
        self.tcp.send(h, data, false, true)
    }

    /// RECEIVE; `Ok(0)` is the end of the stream.
    pub fn tcp_recv(&mut self, h: TcpHandle, out: &mut [u8]) -> Result<usize, RecvError> {
        self.tcp.recv(h, out)
    }

    /// RECEIVE with `MSG_PEEK`: copy in-order data into `out` and leave it
    /// in the buffer. `Ok(0)` is the end of the stream.
    pub fn tcp_peek(&self, h: TcpHandle, out: &mut [u8]) -> Result<usize, RecvError> {
        self.tcp.peek(h, out)
    }

    /// The socket's pending error, cleared (`getsockopt(SO_ERROR)`).
    pub fn tcp_take_error(&mut self, h: TcpHandle) -> Option<SocketError> {
        self.tcp.take_error(h)
    }

    /// Replace the TCP settings. Connections read most of them as they go
    /// (RFC 5961 switches, timers, delayed ACKs); buffer sizes, window
    /// scale and option offers apply to connections made afterwards. What
    /// `sysctl -w net.inet.tcp.*` does to a running kernel.
    pub fn set_tcp_config(&mut self, config: crate::tcp::TcpConfig) {
        self.config.tcp = config.clone();
        self.tcp.config = config;
    }

    /// CLOSE in RFC 9293's sense: no more sending, receiving goes on.
    pub fn tcp_shutdown(&mut self, h: TcpHandle) -> Result<(), SendError> {
        let r = self.tcp.shutdown(h);
        self.after_tcp();
        r
    }

    /// Let go of the socket; the connection closes gracefully on its own.
    pub fn tcp_close(&mut self, now: Instant, h: TcpHandle) {
        self.advance(now);
        self.tcp.close(now, &mut self.ip, h);
        self.after_tcp();
    }

    /// ABORT: reset and forget.
    pub fn tcp_abort(&mut self, now: Instant, h: TcpHandle) {
        self.advance(now);
        self.tcp.abort(now, &mut self.ip, h);
        self.after_tcp();
    }

    /// A connection's state (what `tcp_info` reports as `state`, cheaply);
    /// `None` for a listener or a handle that names nothing.
    pub fn tcp_state(&self, h: TcpHandle) -> Option<crate::tcp::State> {
        self.tcp.state(h)
    }

    /// STATUS.
    pub fn tcp_info(&self, h: TcpHandle) -> Option<TcpInfo> {
        self.tcp.info(self.now, h)
    }

    pub fn tcp_readiness(&self, h: TcpHandle) -> Option<Readiness> {
        self.tcp.readiness(h)
    }

    /// `TCP_NODELAY`; turning it on pushes what is queued, corked or not.
    pub fn tcp_set_nodelay(&mut self, h: TcpHandle, on: bool) {
        self.tcp.set_nodelay(h, on);
    }

    /// `TCP_CORK`: partial segments wait until it comes off.
    pub fn tcp_set_cork(&mut self, h: TcpHandle, on: bool) {
        self.tcp.set_cork(h, on);
    }

    /// `setsockopt(TCP_CONGESTION)`; false if `h` names no TCP socket.
    pub fn tcp_set_congestion(&mut self, h: TcpHandle, algorithm: CongestionAlgorithm) -> bool {
        self.tcp.set_congestion(h, algorithm)
    }

    /// `setsockopt` of [`SocketOptions`]: TOS, TTL and keep-alive times
    /// take effect at once; buffer sizes and the MSS ceiling shape the SYN,
    /// so they count for connections opened afterwards (a listener's
    /// children, or `tcp_connect_with`) and a connection keeps its own.
    /// False if `h` names no TCP socket.
    pub fn tcp_set_options(&mut self, h: TcpHandle, opts: SocketOptions) -> bool {
        let set = self.tcp.set_options(h, opts);
        // (A threshold lifted may have made the socket writable.)
        self.after_tcp();
        set
    }

    /// The options set on a socket; a connection's buffer sizes and MSS
    /// ceiling are those it opened with.
    pub fn tcp_options(&self, h: TcpHandle) -> Option<SocketOptions> {
        self.tcp.options(h)
    }

    pub fn tcp_set_keepalive(&mut self, h: TcpHandle, on: bool) {
        self.tcp.set_keepalive(h, on);
    }

    /// Bytes of urgent data not yet read.
    pub fn tcp_urgent(&self, h: TcpHandle) -> Option<usize> {
        self.tcp.urgent(h)
    }

    /// Every TCP socket, as `ss` shows them.
    pub fn tcp_sockets(&self) -> Vec<(TcpHandle, SocketSnapshot)> {
        self.tcp.snapshot(self.now)
    }

    /// Bytes of TCP buffer storage held (connections and the reuse pool).
    pub fn tcp_buffer_bytes(&self) -> usize {
        self.tcp.buffer_bytes()
    }

    /// Check the invariants of every TCP connection (sequence variables,
    /// the retransmission queue, timers armed when they must be, the
    /// table's schedule); a description of the first broken one. For tests
    /// and fuzzing: the stack keeps them after every call, whatever the
    /// input, so an `Err` is a bug in the stack.
    pub fn tcp_check_invariants(&self) -> Result<(), String> {
        self.tcp.check_invariants()
    }

    /// A socket's local address.
    pub fn tcp_local_addr(&self, h: TcpHandle) -> Option<SocketAddrV4> {
        self.tcp.local_addr(h)
    }
}
