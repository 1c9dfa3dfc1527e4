//! The user interface of RFC 9293 §3.9.1 on the connection table: OPEN
//! (passive and active), SEND (with PUSH; urgent), RECEIVE, CLOSE, ABORT
//! and STATUS, plus the socket options people expect.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::config::{CongestionAlgorithm, SocketOptions};
use super::emit::announced_mss;
use super::state::{Phase, State};
use super::table::{Listener, TcpLayer, TcpSocket};
use super::tcb::{Connection, Owner, TcpInfo};
use super::timers::Timer;
use crate::ip::IpLayer;
use crate::ports::PortTable;
use crate::socket::{BindError, RecvError, SendError, SocketError, SocketKind, TcpHandle};
use crate::time::Instant;

/// Errors of an active OPEN (`connect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("Network is unreachable")]
    NoRoute(Ipv4Addr),
    #[error("Cannot assign requested address ({0})")]
    AddrNotAvailable(Ipv4Addr),
    #[error("Invalid argument (cannot connect to {0})")]
    InvalidAddress(SocketAddrV4),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("Address already in use (a connection {0} -> {1} exists)")]
    InUse(SocketAddrV4, SocketAddrV4),
}

/// What a waiting application needs to know about a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// `None` for a listener.
    pub state: Option<State>,
    /// Data, end of stream or an error can be read.
    pub readable: bool,
    /// Data can be queued to send.
    pub writable: bool,
    /// A listener has a connection to accept.
    pub acceptable: bool,
    pub error: Option<SocketError>,
}

/// One socket as `ss` lists it.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketSnapshot {
    Listener {
        local: SocketAddrV4,
        accept_queue: usize,
        backlog: usize,
        embryos: usize,
        /// The congestion control its connections get (Linux's name:
        /// `ss -i` shows it under a listener).
        congestion: &'static str,
    },
    Connection(Box<TcpInfo>),
}

impl TcpLayer {
    /// Passive OPEN: listen on `local` with room for `backlog` connections
    /// waiting to be accepted. Like a server with `SO_REUSEADDR`, it may
    /// listen while old connections of the port linger in TIME-WAIT.
    pub fn listen(
        &mut self,
        ports: &mut PortTable,
        local: SocketAddrV4,
        backlog: usize,
        remote: Option<SocketAddrV4>,
    ) -> Result<TcpHandle, BindError> {
        let h = self.bind(ports, local, remote, SocketOptions::default())?;
        self.listen_bound(h, backlog);
        Ok(h)
    }

    /// `bind(2)` without `listen(2)`: a socket that holds `local` (port 0
    /// picks an ephemeral port) and is not listening. A segment to it is
    /// answered as one to a CLOSED socket (RFC 9293 §3.10.7.1), with the
    /// socket's options (`IP_TTL`, `IP_TOS`) on the reset.
    pub fn bind(
        &mut self,
        ports: &mut PortTable,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        opts: SocketOptions,
    ) -> Result<TcpHandle, BindError> {
        let key = self.sockets.insert(TcpSocket::Listener(Box::new(Listener {
            local,
            backlog: 1,
            listening: false,
            accept_queue: VecDeque::new(),
            embryos: 0,
            remote,
            last_overflow: None,
            congestion: None,
            opts: opts.clamped(),
        })));
        let owner = TcpHandle(key).id();
        let bound = if local.port() == 0 {
            ports.bind_ephemeral(SocketKind::Tcp, *local.ip(), None, owner)
        } else {
            let (addr, port) = (*local.ip(), local.port());
            ports
                .bind_shared(SocketKind::Tcp, addr, port, None, owner, opts.reuse_port)
                .map(|()| port)
        };
        match bound {
            Ok(port) => {
                let local = SocketAddrV4::new(*local.ip(), port);
                if let Some(l) = self.listener_mut(key) {
                    l.local = local;
                }
                self.register_listener(local, key);
                Ok(TcpHandle(key))
            }
            Err(e) => {
                self.sockets.remove(key);
                Err(e)
            }
        }
    }

    /// `listen(2)` on a bound socket: LISTEN with room for `backlog`
    /// connections waiting to be accepted (a listening socket takes the new
    /// backlog). False if `h` is a connection or no socket.
    pub fn listen_bound(&mut self, h: TcpHandle, backlog: usize) -> bool {
        match self.listener_mut(h.0) {
            Some(l) => {
                l.listening = true;
                // listen(0) queues one connection, as on Linux (full when
                // more than the backlog wait).
                l.backlog = backlog;
                true
            }
            None => false,
        }
    }

    /// Active OPEN: send a SYN to `remote`, from `local` or from the route's
    /// source address and an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        ip: &IpLayer,
        ports: &mut PortTable,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
        opts: SocketOptions,
    ) -> Result<TcpHandle, ConnectError> {
        let opts = opts.clamped();
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(ConnectError::InvalidAddress(remote));
        }
        // A broadcast or multicast route carries no connection: Linux's
        // tcp_v4_connect refuses one with ENETUNREACH (RFC 1122
        // §4.2.3.10: a SYN to such an address is to be ignored anyway).
        let dst = *remote.ip();
        if dst.is_broadcast()
            || dst.is_multicast()
            || ip.ifaces.iter().any(|i| i.is_subnet_broadcast(dst))
        {
            return Err(ConnectError::NoRoute(dst));
        }
        let bound = local.map(|l| *l.ip()).filter(|a| !a.is_unspecified());
        let route = ip
            .route_local(now, *remote.ip(), bound)
            .map_err(|e| match e {
                SendError::AddrNotAvailable(a) => ConnectError::AddrNotAvailable(a),
                _ => ConnectError::NoRoute(*remote.ip()),
            })?;
        let src = route.src;
        // Reserve the slot first: the port table needs its owner's id.
        let shared = self.shared();
        let placeholder = Connection::new(
            &self.config,
            &shared,
            Phase::Closed,
            SocketAddrV4::new(src, 0),
            remote,
            tcplab_wire::tcp::SeqNumber(0),
            announced_mss(ip, &route, self.config.min_announced_mss),
            Owner::App,
            now,
            SocketOptions::default(),
        );
        let key = self
            .sockets
            .insert(TcpSocket::Connection(Box::new(placeholder)));
        let owner = TcpHandle(key).id();
        let bound = match local.map(|l| l.port()).filter(|p| *p != 0) {
            // A port of one's choosing is bound before the connection is
            // made (bind(2), then connect(2)): the peer is not known yet,
            // so any socket on the port at the address conflicts — a
            // connection to another peer, one in TIME-WAIT, a listener —
            // as in Linux's inet_csk_bind_conflict without SO_REUSEADDR
            // (netcat's `-p`: "Address already in use"). An address left
            // unspecified binds the wildcard, which meets the port at any
            // address; SO_REUSEPORT on both shares it.
            Some(p)
                if !ports.is_free_to_bind(
                    SocketKind::Tcp,
                    local.map_or(src, |l| *l.ip()),
                    p,
                    opts.reuse_port,
                ) =>
            {
                Err(BindError::AddrInUse { addr: src, port: p })
            }
            Some(p) => ports
                .bind_shared(
                    SocketKind::Tcp,
                    src,
                    p,
                    Some(remote),
                    owner,
                    opts.reuse_port,
                )
                .map(|()| p),
            None => self.bind_ephemeral(now, ports, src, remote, owner),
        };
        let port = match bound {
            Ok(p) => p,
            Err(e) => {
                self.sockets.remove(key);
                return Err(e.into());
            }
        };
        let local = SocketAddrV4::new(src, port);
        if self.find(local, remote).is_some() {
            self.sockets.remove(key);
            ports.release(SocketKind::Tcp, port, owner);
            return Err(ConnectError::InUse(local, remote));
        }
        let iss = self.isn(now, local, remote);
        let shared = self.shared();
        let mut conn = Connection::new(
            &self.config,
            &shared,
            Phase::SynSent,
            local,
            remote,
            iss,
            announced_mss(ip, &route, self.config.min_announced_mss),
            Owner::App,
            now,
            opts,
        );
        conn.ts.offset = self.ts_offset(local, remote);
        let link = ip.link_mtu(&route);
        conn.update_path(&self.config, route.mtu, link);
        self.register_connection(key, conn);
        self.provide_buffers(key);
        self.stats.active_opens += 1;
        Ok(TcpHandle(key))
    }

    /// Take an established connection from a listener's accept queue.
    pub fn accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, RecvError> {
        let l = self
            .listener_mut(listener.0)
            .ok_or(RecvError::InvalidHandle)?;
        if !l.listening {
            // accept(2) on a socket that is not listening: EINVAL.
            return Err(RecvError::Socket(SocketError::InvalidArgument));
        }
        let key = l.accept_queue.pop_front().ok_or(RecvError::WouldBlock)?;
        if let Some(c) = self.conn_mut(key) {
            c.owner = Owner::App;
        }
        Ok(TcpHandle(key))
    }

    /// SEND: queue `data`; returns how much fitted (within the free space,
    /// and `TCP_NOTSENT_LOWAT`'s bound). With `urgent`, the data is urgent
    /// (RFC 6093: the pointer marks the byte after it); with `more`, more
    /// follows at once (`MSG_MORE`: a partial segment waits for it, and
    /// carries no PSH).
    pub fn send(
        &mut self,
        h: TcpHandle,
        data: &[u8],
        urgent: bool,
        more: bool,
    ) -> Result<usize, SendError> {
        let conn = self.conn_mut(h.0).ok_or(SendError::InvalidHandle)?;
        // The pending error is reported once, by whichever call comes
        // first (Linux's sock_error() takes it; so does BSD's so_error):
        // after it, reading gives the end of the stream and writing EPIPE.
        if let Some(e) = conn.error.take() {
            return Err(SendError::Pending(e));
        }
        if conn.snd.fin().is_some() || conn.orphaned() {
            return Err(SendError::Pending(SocketError::BrokenPipe));
        }
        match conn.state() {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            // A connection that ended (reset, timed out, refused): EPIPE,
            // as Linux (sk_stream_wait_connect) and BSD answer a write.
            _ => return Err(SendError::Pending(SocketError::BrokenPipe)),
        }
        let room = conn.send_room();
        let n = conn.snd.push(&data[..data.len().min(room)]);
        if n < data.len() {
            // The application waits for room (Linux's SOCK_NOSPACE).
            conn.chrono.set_nospace(true);
        }
        if n == 0 && !data.is_empty() {
            return Err(SendError::WouldBlock);
        }
        if urgent && n > 0 {
            conn.snd.mark_urgent();
        }
        if n > 0 {
            conn.nagle.sent(more);
        }
        self.mark(h.0);
        Ok(n)
    }

    /// RECEIVE: read in-order data into `out`. `Ok(0)` is the end of the
    /// stream (the peer's FIN).
    pub fn recv(&mut self, h: TcpHandle, out: &mut [u8]) -> Result<usize, RecvError> {
        self.wake(h.0);
        // Linux's delayed-ACK engine acknowledges some reads at once.
        let linux_acks = self.config.quickack;
        let conn = match self.sockets.get_mut(h.0) {
            Some(TcpSocket::Connection(c)) => c,
            Some(TcpSocket::Listener(_)) => {
                return Err(RecvError::Socket(SocketError::NotConnected))
            }
            Some(TcpSocket::TimeWait(_)) | None => return Err(RecvError::InvalidHandle),
        };
        if !conn.rcv.buffer().is_empty() && !out.is_empty() {
            let n = conn.rcv.read(out);
            let ack = conn.window_update_due() || linux_acks && conn.ack_after_read();
            if ack && conn.state().synchronized() {
                conn.rcv.ack_now();
                self.mark(h.0);
            }
            return Ok(n);
        }
        // The peer's FIN came before any reset: end of stream first, the
        // error kept for a send (Linux's tcp_recvmsg looks at SOCK_DONE
        // before sk_err).
        if conn.rcv.fin_received() {
            return Ok(0);
        }
        if let Some(e) = conn.error.take() {
            return Err(RecvError::Socket(e));
        }
        if conn.state() == State::Closed {
            return Ok(0);
        }
        Err(RecvError::WouldBlock)
    }

    /// RECEIVE without consuming (`MSG_PEEK`).
    pub fn peek(&self, h: TcpHandle, out: &mut [u8]) -> Result<usize, RecvError> {
        if let Some(TcpSocket::Listener(_)) = self.sockets.get(h.0) {
            return Err(RecvError::Socket(SocketError::NotConnected));
        }
        let Some(conn) = self.view(h.0) else {
            return Err(RecvError::InvalidHandle);
        };
        if !conn.rcv.buffer().is_empty() && !out.is_empty() {
            return Ok(conn.rcv.buffer().copy_out(0, out));
        }
        if conn.rcv.fin_received() {
            return Ok(0);
        }
        if let Some(e) = conn.error {
            return Err(RecvError::Socket(e));
        }
        if conn.state() == State::Closed {
            return Ok(0);
        }
        Err(RecvError::WouldBlock)
    }

    /// The pending error, cleared.
    pub fn take_error(&mut self, h: TcpHandle) -> Option<SocketError> {
        self.conn_mut(h.0)?.error.take()
    }

    /// CLOSE (RFC 9293 §3.10.4): no more data will be sent; the socket can
    /// still receive (half-close).
    pub fn shutdown(&mut self, h: TcpHandle) -> Result<(), SendError> {
        let conn = self.conn_mut(h.0).ok_or(SendError::InvalidHandle)?;
        if conn.snd.fin().is_some() {
            return Ok(());
        }
        match conn.phase {
            Phase::SynSent => {
                // "Delete the TCB": nothing was sent but a SYN (so no
                // sender clock runs: any time will do).
                let at = conn.last_recv;
                conn.enter_closed(at);
            }
            Phase::SynReceived { opening, .. } => {
                // RFC 9293 §3.10.4: queued until ESTABLISHED; the FIN
                // follows the data queued so far.
                conn.snd.close();
                conn.goto(Phase::SynReceived {
                    opening,
                    close_queued: true,
                });
            }
            Phase::Established => {
                let apart = conn.unsent_goes_now();
                conn.nagle.set_fin_apart(apart);
                conn.snd.close();
                conn.goto(Phase::FinWait1);
            }
            Phase::CloseWait => {
                let apart = conn.unsent_goes_now();
                conn.nagle.set_fin_apart(apart);
                conn.snd.close();
                conn.goto(Phase::LastAck);
            }
            Phase::Closed => return Err(SendError::NotConnected),
            _ => {}
        }
        self.mark(h.0);
        self.notify(h.0);
        Ok(())
    }

    /// The application is done with the socket (`close(2)`): shut down
    /// sending and let the connection finish by itself. Unread data makes it
    /// an abort (RFC 2525 §2.17, as Linux does).
    pub fn close(&mut self, now: Instant, ip: &mut IpLayer, h: TcpHandle) {
        self.wake(h.0);
        match self.sockets.get(h.0) {
            Some(TcpSocket::Listener(_)) => {
                self.close_listener(now, ip, h);
                return;
            }
            Some(TcpSocket::Connection(c)) => {
                // Closing with data unread resets the connection (RFC 2525
                // §2.17; Linux's TCPAbortOnClose) — except in TIME-WAIT,
                // which nothing can be lost to any more: there Linux's
                // socket has already handed over to its timewait socket,
                // so the unread data goes and the wait stays (the data
                // came after our FIN, before the peer's, and was acked).
                if !c.rcv.buffer().is_empty()
                    && c.state().synchronized()
                    && c.state() != State::TimeWait
                {
                    self.abort(now, ip, h);
                    return;
                }
            }
            Some(TcpSocket::TimeWait(_)) | None => return,
        }
        let lingers = self.conn(h.0).is_some_and(|c| {
            !matches!(c.state(), State::Closed | State::TimeWait | State::SynSent)
        });
        if lingers && !self.room_for_orphan() {
            // Linux's __tcp_close: too many orphans, reset instead.
            self.stats.abort_on_memory += 1;
            self.abort(now, ip, h);
            return;
        }
        let _ = self.shutdown(h);
        let msl = self.config.msl;
        if self
            .conn(h.0)
            .is_some_and(|c| !matches!(c.state(), State::Closed | State::TimeWait))
        {
            self.orphans.push(h.0);
        }
        if let Some(c) = self.conn_mut(h.0) {
            c.owner = Owner::Orphan;
            if let Phase::FinWait2 { .. } = c.phase {
                // Linux's tcp_fin_timeout for orphans.
                c.goto(Phase::FinWait2 {
                    orphan_deadline: super::compact::OptInstant::deadline(now + msl * 2),
                });
            }
        }
        self.reschedule(h.0);
        self.reclaim_buffers(h.0);
        self.reap(h.0);
    }

    /// Whether one more orphan fits under `TcpConfig::max_orphans`. The
    /// list keeps every connection a close made an orphan; those no
    /// longer orphans with something to send (gone, closed, in TIME-WAIT)
    /// are pruned only when it is full, so the check costs at most one
    /// pass over `max_orphans` keys per close, and usually none.
    fn room_for_orphan(&mut self) -> bool {
        if self.orphans.len() < self.config.max_orphans {
            return true;
        }
        let mut orphans = std::mem::take(&mut self.orphans);
        orphans.retain(|&k| {
            self.conn(k).is_some_and(|c| {
                c.owner == Owner::Orphan && !matches!(c.state(), State::Closed | State::TimeWait)
            })
        });
        self.orphans = orphans;
        self.orphans.len() < self.config.max_orphans
    }

    fn close_listener(&mut self, now: Instant, ip: &mut IpLayer, h: TcpHandle) {
        let children: Vec<_> = self
            .iter()
            .filter_map(|(k, s)| match s {
                TcpSocket::Connection(c) if c.parent() == Some(h.0) => Some(k),
                _ => None,
            })
            .collect();
        for child in children {
            self.abort(now, ip, child);
        }
        self.remove(h.0);
    }

    /// ABORT: reset the connection and forget it (RFC 9293 §3.10.5).
    pub fn abort(&mut self, now: Instant, ip: &mut IpLayer, h: TcpHandle) {
        let Some(conn) = self.conn_mut(h.0) else {
            if matches!(self.sockets.get(h.0), Some(TcpSocket::Listener(_))) {
                self.close_listener(now, ip, h);
            }
            return;
        };
        let reset = matches!(
            conn.state(),
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        );
        let r = conn.active_reset(now);
        let opts = *conn.opts;
        conn.enter_closed(now);
        if reset {
            // RFC 9293 §3.10.5 asks for <SEQ=SND.NXT><CTL=RST>; the ACK
            // bit with RCV.NXT rides along (`Reset`) — the peer accepts a
            // reset by its sequence number either way (§3.10.7.4, second
            // check).
            self.send_reset(now, ip, r, &opts);
        }
        self.remove(h.0);
    }

    /// A connection's state: `info`'s `state` without the rest (a
    /// TIME-WAIT record answers without being rebuilt).
    pub fn state(&self, h: TcpHandle) -> Option<State> {
        match self.sockets.get(h.0)? {
            TcpSocket::Connection(c) => Some(c.state()),
            TcpSocket::TimeWait(_) => Some(State::TimeWait),
            TcpSocket::Listener(_) => None,
        }
    }

    /// STATUS.
    pub fn info(&self, now: Instant, h: TcpHandle) -> Option<TcpInfo> {
        self.view(h.0).map(|c| c.info(now))
    }

    /// What `ss` shows about every socket.
    pub fn snapshot(&self, now: Instant) -> Vec<(TcpHandle, SocketSnapshot)> {
        // A socket only bound is not listed, as `ss` does not list one.
        self.iter()
            .filter_map(|(h, s)| {
                let snap = match s {
                    TcpSocket::Listener(l) if !l.listening => return None,
                    TcpSocket::Listener(l) => SocketSnapshot::Listener {
                        local: l.local,
                        accept_queue: l.accept_queue.len(),
                        backlog: l.backlog,
                        embryos: l.embryos,
                        congestion: l.congestion.unwrap_or(self.config.congestion).name(),
                    },
                    TcpSocket::Connection(c) => SocketSnapshot::Connection(Box::new(c.info(now))),
                    TcpSocket::TimeWait(_) => {
                        SocketSnapshot::Connection(Box::new(self.view(h.0)?.info(now)))
                    }
                };
                Some((h, snap))
            })
            .collect()
    }

    /// Whether a task waiting on the socket can proceed.
    pub fn readiness(&self, h: TcpHandle) -> Option<Readiness> {
        let c = match self.sockets.get(h.0)? {
            TcpSocket::Listener(l) => {
                return Some(Readiness {
                    state: None,
                    readable: false,
                    writable: false,
                    acceptable: !l.accept_queue.is_empty(),
                    error: None,
                })
            }
            // In TIME-WAIT both FINs have been seen: the end of the stream
            // is readable and a write fails at once, as below.
            TcpSocket::TimeWait(tw) => {
                return Some(Readiness {
                    state: Some(State::TimeWait),
                    readable: true,
                    writable: true,
                    acceptable: false,
                    error: tw.error(),
                })
            }
            TcpSocket::Connection(c) => c,
        };
        Some(Readiness {
            state: Some(c.state()),
            readable: !c.rcv.buffer().is_empty()
                || c.rcv.fin_received()
                || c.error.is_some()
                || c.state() == State::Closed,
            writable: c.error.is_some()
                || c.state() == State::Closed
                || c.snd.fin().is_some()
                || c.send_room() > 0 && matches!(c.state(), State::Established | State::CloseWait),
            acceptable: false,
            error: c.error,
        })
    }

    /// `TCP_NODELAY`: turn Nagle's algorithm off. Turning it on also
    /// pushes what is queued now, corked or not (tcp(7); Linux's
    /// TCP_NAGLE_PUSH).
    pub fn set_nodelay(&mut self, h: TcpHandle, on: bool) {
        if let Some(c) = self.conn_mut(h.0) {
            c.nagle.set_nodelay(on);
            if on && c.snd.unsent() > 0 {
                c.nagle.set_push(true);
            }
        }
        self.mark(h.0);
    }

    /// `TCP_CORK`: hold partial segments until it is taken off (then
    /// Nagle, or `TCP_NODELAY`, decides as usual).
    pub fn set_cork(&mut self, h: TcpHandle, on: bool) {
        if let Some(c) = self.conn_mut(h.0) {
            c.nagle.set_cork(on);
        }
        self.mark(h.0);
    }

    /// An ephemeral port towards `remote`; when all are taken, one held by
    /// a TIME-WAIT connection to the same remote whose timestamps prove
    /// old segments harmless (RFC 6191 §2 via RFC 7323 PAWS; Linux's
    /// `tcp_tw_reuse`: timestamps agreed and the last one more than a
    /// second old). That connection is closed and its port passes on.
    fn bind_ephemeral(
        &mut self,
        now: Instant,
        ports: &mut PortTable,
        src: Ipv4Addr,
        remote: SocketAddrV4,
        owner: crate::socket::SocketId,
    ) -> Result<u16, BindError> {
        if !self.config.tw_reuse {
            return ports.bind_ephemeral(SocketKind::Tcp, src, Some(remote), owner);
        }
        let (port, taken) =
            ports.bind_ephemeral_reusing(SocketKind::Tcp, src, remote, owner, |port| {
                let key = self.find(SocketAddrV4::new(src, port), remote)?;
                let (time_wait, ts, stamp) = match self.sockets.get(key)? {
                    TcpSocket::Connection(c) => (
                        c.state() == State::TimeWait,
                        c.neg.ts,
                        c.ts.recent_stamp.get(),
                    ),
                    TcpSocket::TimeWait(tw) => (true, tw.neg_ts(), tw.ts_recent_stamp()),
                    TcpSocket::Listener(_) => return None,
                };
                let reusable = time_wait
                    && ts
                    && stamp.is_some_and(|t| {
                        now.saturating_since(t) > std::time::Duration::from_secs(1)
                    });
                reusable.then(|| TcpHandle(key).id())
            })?;
        if taken.is_some() {
            if let Some(key) = self.find(SocketAddrV4::new(src, port), remote) {
                self.remove(key);
            }
            self.stats.time_wait_reused += 1;
        }
        Ok(port)
    }

    /// `TCP_CONGESTION`: the algorithm of one connection (taking over its
    /// current window, as Linux's `tcp_reinit_congestion_control` keeps
    /// snd_cwnd) or of the connections a listener will accept. Returns
    /// whether the handle named a socket.
    pub fn set_congestion(&mut self, h: TcpHandle, algorithm: CongestionAlgorithm) -> bool {
        if let Some(l) = self.listener_mut(h.0) {
            l.congestion = Some(algorithm);
            return true;
        }
        let Some(c) = self.conn_mut(h.0) else {
            return false;
        };
        if c.algorithm != algorithm {
            c.algorithm = algorithm;
            c.switch_controller();
        }
        self.mark(h.0);
        true
    }

    /// `SO_KEEPALIVE` (RFC 9293 §3.8.4; off by default).
    pub fn set_keepalive(&mut self, h: TcpHandle, on: bool) {
        if self.conn(h.0).is_some_and(|c| c.keepalive.on == on) {
            // Already so: a running timer (or probing) goes on undisturbed.
            return;
        }
        if let Some(c) = self.conn_mut(h.0) {
            c.keepalive.on = on;
            if !on {
                c.timers.stop(Timer::KeepAlive);
            }
        }
        if on {
            self.arm_keepalive(h.0);
        } else {
            self.reschedule(h.0);
        }
    }

    /// Set a socket's options (see `Stack::tcp_set_options`).
    pub fn set_options(&mut self, h: TcpHandle, opts: SocketOptions) -> bool {
        let opts = opts.clamped();
        self.wake(h.0);
        match self.sockets.get_mut(h.0) {
            Some(TcpSocket::Listener(l)) => {
                l.opts = opts;
                true
            }
            Some(TcpSocket::Connection(c)) => {
                // Buffer sizes, the MSS ceiling and TCP_NOOPT were fixed
                // when the connection opened (they shape the SYN).
                let idle_changed = opts.keepalive_time != c.opts.keepalive_time;
                let full = c.send_room() == 0;
                let kept = SocketOptions {
                    recv_buffer: c.opts.recv_buffer,
                    send_buffer: c.opts.send_buffer,
                    max_seg: c.opts.max_seg,
                    no_options: c.opts.no_options,
                    ..opts
                };
                c.opts.set(kept);
                // A TCP_NOTSENT_LOWAT raised or lifted can make the socket
                // writable: say so (Linux's sk_write_space).
                let writable = full && c.send_room() > 0;
                // A new idle time counts from the last segment received;
                // probes under way keep their interval.
                if c.keepalive.on && idle_changed && c.keepalive.probes == 0 {
                    self.arm_keepalive(h.0);
                }
                if writable {
                    self.notify(h.0);
                }
                self.mark(h.0);
                true
            }
            Some(TcpSocket::TimeWait(_)) | None => false,
        }
    }

    /// A socket's options; a connection's buffer sizes and MSS ceiling are
    /// those it opened with.
    pub fn options(&self, h: TcpHandle) -> Option<SocketOptions> {
        match self.sockets.get(h.0)? {
            TcpSocket::Listener(l) => Some(l.opts),
            TcpSocket::Connection(c) => Some(*c.opts),
            TcpSocket::TimeWait(_) => Some(*self.view(h.0)?.opts),
        }
    }

    /// Bytes of urgent data the application has not read yet.
    pub fn urgent(&self, h: TcpHandle) -> Option<usize> {
        self.view(h.0)?.rcv.urgent()
    }

    /// A socket's local address.
    pub fn local_addr(&self, h: TcpHandle) -> Option<SocketAddrV4> {
        match self.sockets.get(h.0)? {
            TcpSocket::Listener(l) => Some(l.local),
            TcpSocket::Connection(c) => Some(c.local()),
            TcpSocket::TimeWait(tw) => Some(tw.local),
        }
    }
}
