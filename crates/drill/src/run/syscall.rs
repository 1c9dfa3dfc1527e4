//! System calls on the stack's socket API, with BSD's numbers for the
//! symbols and errnos the scripts name (`<sys/socket.h>`, `<errno.h>`,
//! `<netinet/tcp.h>` of FreeBSD; only `O_RDWR = 2` is compared as a
//! literal by the suite).

use std::net::SocketAddrV4;

use tcplab_stack::socket::{RecvError, SendError, SocketError};
use tcplab_stack::tcp::{CongestionAlgorithm, State};
use tcplab_stack::ConnectError;

use super::{Blocking, Failure, Runner, Sock, SockState, LOCAL_IP, REMOTE_IP, SCRIPT_PORT};
use crate::{Expr, Syscall};

/// Symbols a script may name, with FreeBSD's values.
const SYMBOLS: &[(&str, i64)] = &[
    ("AF_INET", 2),
    ("SOCK_STREAM", 1),
    ("IPPROTO_IP", 0),
    ("IPPROTO_TCP", 6),
    ("SOL_SOCKET", 0xffff),
    // Linux's names of the protocol levels.
    ("SOL_IP", 0),
    ("SOL_TCP", 6),
    ("SO_REUSEADDR", 0x4),
    ("SO_REUSEPORT", 0x200),
    ("SO_KEEPALIVE", 0x8),
    ("SO_LINGER", 0x80),
    ("SO_SNDBUF", 0x1001),
    ("SO_RCVBUF", 0x1002),
    ("SO_ERROR", 0x1007),
    ("TCP_NODELAY", 1),
    ("TCP_MAXSEG", 2),
    ("TCP_CORK", 3),
    ("TCP_NOOPT", 8),
    ("TCP_KEEPINIT", 128),
    ("TCP_KEEPIDLE", 256),
    ("TCP_KEEPINTVL", 512),
    ("TCP_KEEPCNT", 1024),
    // Linux's number (FreeBSD has no user timeout option).
    ("TCP_USER_TIMEOUT", 18),
    // Its value is a name, not an int.
    ("TCP_CONGESTION", TCP_CONGESTION),
    ("TCP_NOTSENT_LOWAT", 25),
    ("TCP_INQ", 36),
    ("TCP_CM_INQ", 36),
    ("IP_TOS", 3),
    ("IP_TTL", 4),
    ("IPTOS_DSCP_CS0", 0x00),
    ("IPTOS_DSCP_CS1", 0x20),
    ("IPTOS_DSCP_CS2", 0x40),
    ("IPTOS_DSCP_CS3", 0x60),
    ("IPTOS_DSCP_CS4", 0x80),
    ("IPTOS_DSCP_CS5", 0xa0),
    ("IPTOS_DSCP_CS6", 0xc0),
    ("IPTOS_DSCP_CS7", 0xe0),
    ("MSG_OOB", 0x1),
    ("MSG_PEEK", 0x2),
    ("MSG_DONTWAIT", 0x80),
    ("MSG_MORE", 0x8000),
    ("F_GETFL", 3),
    ("F_SETFL", 4),
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_NONBLOCK", 4),
    ("SHUT_RD", 0),
    // ioctl requests (Linux's numbers: BSD's FIONREAD is another).
    ("SIOCINQ", 0x541b),
    ("FIONREAD", 0x541b),
    ("SIOCOUTQ", 0x5411),
    ("TIOCOUTQ", 0x5411),
    ("SHUT_WR", 1),
    ("SHUT_RDWR", 2),
    ("NULL", 0),
];

/// errno names and FreeBSD's numbers.
const ERRNOS: &[(&str, i64)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EBADF", 9),
    ("EINVAL", 22),
    ("EPIPE", 32),
    ("EAGAIN", 35),
    ("EWOULDBLOCK", 35),
    ("EINPROGRESS", 36),
    ("EALREADY", 37),
    ("ENOTSOCK", 38),
    ("EPROTOTYPE", 41),
    ("EMSGSIZE", 40),
    ("ENOPROTOOPT", 42),
    ("EOPNOTSUPP", 45),
    ("EADDRINUSE", 48),
    ("EADDRNOTAVAIL", 49),
    ("ENETUNREACH", 51),
    ("ECONNABORTED", 53),
    ("ECONNRESET", 54),
    ("ENOBUFS", 55),
    ("EISCONN", 56),
    ("ENOTCONN", 57),
    ("ETIMEDOUT", 60),
    ("ECONNREFUSED", 61),
    ("EHOSTUNREACH", 65),
];

fn errno_name(n: i64) -> &'static str {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or("unknown errno", |(name, _)| name)
}

fn errno_of(name: &str) -> Option<i64> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn errno(e: &str) -> i64 {
    errno_of(e).unwrap_or(0)
}

/// The errno of a socket error. tcplab's errors follow Linux's reading of
/// ICMP (protocol unreachable is ENOPROTOOPT, administratively prohibited
/// EPERM), not FreeBSD's `inetctlerrmap`; the numbers are FreeBSD's.
fn socket_errno(e: SocketError) -> i64 {
    errno(match e {
        SocketError::ConnectionRefused => "ECONNREFUSED",
        SocketError::ConnectionReset => "ECONNRESET",
        SocketError::TimedOut => "ETIMEDOUT",
        SocketError::NetworkUnreachable => "ENETUNREACH",
        SocketError::HostUnreachable => "EHOSTUNREACH",
        SocketError::ProtocolUnreachable => "ENOPROTOOPT",
        SocketError::MessageTooLong => "EMSGSIZE",
        SocketError::BrokenPipe => "EPIPE",
        SocketError::NotConnected => "ENOTCONN",
        SocketError::NotPermitted => "EPERM",
        SocketError::AddrInUse => "EADDRINUSE",
        SocketError::AddrNotAvailable => "EADDRNOTAVAIL",
        SocketError::InvalidArgument => "EINVAL",
        SocketError::NotFound => "ENOENT",
        SocketError::ProtocolWrongType => "EPROTOTYPE",
        SocketError::WouldBlock => "EWOULDBLOCK",
    })
}

/// `TCP_CONGESTION` (Linux's number).
const TCP_CONGESTION: i64 = 13;

/// The largest read or write a script may ask for (the runner holds the
/// bytes in memory).
const MAX_IO: i64 = 16 << 20;

/// The byte count of a read or write (argument 2), within `MAX_IO`.
fn byte_count(call: &Syscall) -> Result<usize, String> {
    let n = Runner::int_arg(call, 2)?;
    if !(0..=MAX_IO).contains(&n) {
        return Err(format!(
            "{}: a count of {n} bytes (0 to {MAX_IO} here)",
            call.name
        ));
    }
    Ok(n as usize)
}

/// The bytes a `sendmsg` or `recvmsg` message carries or takes: the
/// lengths of its `msg_iov(N)=[{..., LEN}, ...]` entries, summed.
fn iov_bytes(call: &Syscall) -> Result<usize, String> {
    let name = &call.name;
    let Some(Expr::Struct(text)) = call.args.get(1) else {
        return Err(format!(
            "{name} needs a {{msg_name(...)=..., msg_iov(N)=[...], ...}} message"
        ));
    };
    let iov = text
        .find("msg_iov")
        .and_then(|at| {
            let rest = &text[at..];
            let open = rest.find('[')?;
            let close = rest.find(']')?;
            (open < close).then(|| &rest[open + 1..close])
        })
        .ok_or_else(|| format!("{name}: no msg_iov(N)=[...] in {text}"))?;
    let mut total = 0usize;
    for entry in iov.split('}') {
        let entry = entry.trim().trim_start_matches(',').trim();
        if entry.is_empty() {
            continue;
        }
        let len = entry
            .rsplit(',')
            .next()
            .map(str::trim)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                format!("{name}: an iovec whose length is not a byte count: {entry}}}")
            })?;
        total = total.saturating_add(len);
    }
    if total > MAX_IO as usize {
        return Err(format!("{name}: {total} bytes (0 to {MAX_IO} here)"));
    }
    Ok(total)
}

/// A call's result: a value, or -1 with an errno.
type CallResult = Result<i64, i64>;

/// The value of an argument expression.
fn value(e: &Expr) -> Result<i64, String> {
    match e {
        Expr::Int(n) => Ok(*n),
        Expr::Symbols(names) => {
            let mut v = 0;
            for n in names {
                v |= SYMBOLS
                    .iter()
                    .find(|(s, _)| s == n)
                    .map(|(_, x)| *x)
                    .or_else(|| errno_of(n))
                    .ok_or_else(|| format!("unknown symbol: '{n}'"))?;
            }
            Ok(v)
        }
        Expr::List(items) if items.len() == 1 => value(&items[0]),
        other => Err(format!("expected a number, got {}", shown(other))),
    }
}

/// A value as a report names it (a structure shortened).
fn shown(e: &Expr) -> String {
    match e {
        Expr::Int(n) => n.to_string(),
        Expr::Ellipsis => "`...`".into(),
        Expr::Symbols(names) => format!("`{}`", names.join(" | ")),
        Expr::List(items) => format!("a list of {} values", items.len()),
        Expr::Struct(text) => format!("the structure `{{{}}}`", super::shorten(text, 60)),
        Expr::Str(text) => format!("the string \"{}\"", super::shorten(text, 60)),
    }
}

impl Runner {
    fn arg(call: &Syscall, i: usize) -> Result<&Expr, String> {
        call.args
            .get(i)
            .ok_or_else(|| format!("Expected more than {} args but got {}", i, call.args.len()))
    }

    fn int_arg(call: &Syscall, i: usize) -> Result<i64, String> {
        value(Runner::arg(call, i)?)
    }

    fn sock_of(&self, call: &Syscall) -> Result<usize, String> {
        let fd = Runner::int_arg(call, 0)?;
        self.fds
            .get(&fd)
            .copied()
            .ok_or_else(|| format!("unable to find socket with script fd {fd}"))
    }

    pub(super) fn syscall(
        &mut self,
        line: usize,
        call: &Syscall,
        blocking_until: Option<i64>,
    ) -> Result<(), Failure> {
        let fail =
            |m: String| Failure::at(line, format!("runtime error in {} call: {m}", call.name));
        self.log(line, || format!("{}(...)", call.name));
        if let Some(end) = blocking_until {
            if self.blocking.is_some() {
                return Err(fail(
                    "blocking system call while another blocking system call is already in progress"
                        .into(),
                ));
            }
            let sock = self.sock_of(call).map_err(fail)?;
            return self.start_blocking(line, call, sock, end);
        }
        let got = self.perform(call).map_err(fail)?;
        let got = match got {
            Some(r) => r,
            None => return Err(fail(
                "the call would block on a blocking socket (write it as `T1...T2 call` to wait)"
                    .into(),
            )),
        };
        self.check_result(call, got).map_err(fail)
    }

    fn start_blocking(
        &mut self,
        line: usize,
        call: &Syscall,
        sock: usize,
        end: i64,
    ) -> Result<(), Failure> {
        let start = self.now;
        self.blocking = Some(Blocking {
            line,
            call: call.clone(),
            sock,
            start,
            end,
        });
        // The call itself (a connect sends its SYN now).
        let fail =
            |m: String| Failure::at(line, format!("runtime error in {} call: {m}", call.name));
        match self.perform(call).map_err(fail)? {
            Some(got) => {
                self.blocking = None;
                self.finish_blocking(line, call, got, start, end)
            }
            None => {
                self.drain(self.now);
                Ok(())
            }
        }
    }

    /// Whether the call under way has completed; its result and return
    /// time are checked when it does.
    pub(super) fn check_blocking(&mut self) -> Result<(), Failure> {
        let Some(b) = self.blocking.clone() else {
            return Ok(());
        };
        let fail = |m: String| {
            Failure::at(
                b.line,
                format!("runtime error in {} call: {m}", b.call.name),
            )
        };
        let done = match b.call.name.as_str() {
            "connect" => self.connect_result(b.sock),
            _ => self.perform(&b.call).map_err(fail)?,
        };
        if let Some(got) = done {
            self.blocking = None;
            self.finish_blocking(b.line, &b.call, got, b.start, b.end)?;
        }
        Ok(())
    }

    fn finish_blocking(
        &mut self,
        line: usize,
        call: &Syscall,
        got: CallResult,
        start: i64,
        end: i64,
    ) -> Result<(), Failure> {
        self.check_result(call, got)
            .map_err(|m| Failure::at(line, format!("runtime error in {} call: {m}", call.name)))?;
        let tol = self.tolerance_for(end - start);
        if (self.now - end).abs() > tol {
            return Err(Failure::at(
                line,
                format!(
                    "timing error: expected system call return at {:.6} sec but happened at {:.6} sec",
                    end as f64 / 1e6,
                    self.now as f64 / 1e6
                ),
            ));
        }
        Ok(())
    }

    /// A connect's outcome once the handshake ended: `None` while it runs.
    fn connect_result(&self, sock: usize) -> Option<CallResult> {
        let h = self.sockets[sock].handle?;
        let r = self.stack.tcp_readiness(h)?;
        if let Some(e) = r.error {
            return Some(Err(socket_errno(e)));
        }
        match r.state {
            Some(State::SynSent | State::SynReceived) => None,
            Some(State::Closed) | None => Some(Err(errno("ECONNREFUSED"))),
            Some(_) => Some(Ok(0)),
        }
    }

    /// The fd a call that makes a socket gives it: the script's expected
    /// result, or — when the script expects a failure — the lowest number
    /// from 3 no open socket holds, as a kernel would hand out, so that
    /// the report reads "Expected result -1 but got 4" as packetdrill's.
    fn new_fd(&self, call: &Syscall) -> Result<i64, String> {
        let expected = value(&call.result)?;
        if expected >= 0 {
            return Ok(expected);
        }
        let mut lowest = 3;
        for &fd in self.fds.range(3..).map(|(fd, _)| fd) {
            if fd != lowest {
                break;
            }
            lowest += 1;
        }
        Ok(lowest)
    }

    /// Give the socket at `i` the script fd `fd`, which no open socket
    /// may hold.
    fn open_fd(&mut self, i: usize, fd: i64) -> Result<(), String> {
        if self.fds.contains_key(&fd) {
            return Err(format!("duplicate script fd {fd}"));
        }
        self.fds.insert(fd, i);
        self.sockets[i].fd = Some(fd);
        Ok(())
    }

    fn check_result(&mut self, call: &Syscall, got: CallResult) -> Result<(), String> {
        let expected = value(&call.result)?;
        let fd_call = matches!(call.name.as_str(), "socket" | "accept");
        match (got, &call.errno) {
            (Ok(v), None) if fd_call && expected >= 0 => {
                let _ = v;
                Ok(())
            }
            (Ok(v), None) if v == expected => Ok(()),
            (Ok(v), _) => Err(format!("Expected result {expected} but got {v}")),
            (Err(e), None) if fd_call && expected >= 0 => Err(format!(
                "Expected non-negative result but got -1 with errno {e} ({})",
                errno_name(e)
            )),
            (Err(e), None) => Err(format!(
                "Expected result {expected} but got -1 with errno {e} ({})",
                errno_name(e)
            )),
            (Err(e), Some(name)) => {
                let want = errno_of(name).ok_or_else(|| format!("unknown errno {name}"))?;
                if expected != -1 {
                    return Err(format!("Expected result {expected} but got -1"));
                }
                if want != e {
                    return Err(format!(
                        "Expected errno {want} ({name}) but got {e} ({})",
                        errno_name(e)
                    ));
                }
                Ok(())
            }
        }
    }

    /// Run a call: `Ok(None)` when it would block (a blocking call waits;
    /// a call written without `...` fails, see `syscall`).
    fn perform(&mut self, call: &Syscall) -> Result<Option<CallResult>, String> {
        let now = self.stack_now();
        let r = match call.name.as_str() {
            "socket" => {
                if Runner::arg(call, 0)? != &Expr::Ellipsis {
                    return Err("socket(): the first argument must be ...".into());
                }
                if Runner::int_arg(call, 1)? != 1 {
                    return Err("socket(): only SOCK_STREAM is supported".into());
                }
                let fd = self.new_fd(call)?;
                if self.fds.contains_key(&fd) {
                    return Err(format!("duplicate script fd {fd}"));
                }
                self.sockets.push(Sock::new(SockState::New));
                let i = self.sockets.len() - 1;
                self.open_fd(i, fd)?;
                self.under_test = Some(i);
                Ok(fd)
            }
            "bind" => {
                let i = self.sock_of(call)?;
                let s = &self.sockets[i];
                if s.bound || s.state != SockState::New {
                    return Ok(Some(Err(errno("EINVAL"))));
                }
                let local = SocketAddrV4::new(LOCAL_IP, SCRIPT_PORT);
                match self.stack.tcp_bind(local, s.opts) {
                    Ok(h) => {
                        let s = &mut self.sockets[i];
                        s.bound = true;
                        s.bound_handle = Some(h);
                        Ok(0)
                    }
                    Err(_) => Err(errno("EADDRINUSE")),
                }
            }
            "listen" => {
                let i = self.sock_of(call)?;
                if self.sockets[i].state != SockState::New {
                    return Err("bad listen(): the socket is not new".into());
                }
                let backlog = Runner::int_arg(call, 1)?.max(1) as usize;
                let local = SocketAddrV4::new(LOCAL_IP, SCRIPT_PORT);
                let listened = match self.sockets[i].bound_handle.take() {
                    Some(h) => {
                        self.stack.tcp_listen_bound(h, backlog);
                        Ok(h)
                    }
                    None => self.stack.tcp_listen(local, backlog).inspect(|h| {
                        self.stack.tcp_set_options(*h, self.sockets[i].opts);
                    }),
                };
                match listened {
                    Ok(h) => {
                        if let Some(algorithm) = self.sockets[i].congestion {
                            self.stack.tcp_set_congestion(h, algorithm);
                        }
                        let s = &mut self.sockets[i];
                        s.handle = Some(h);
                        s.state = SockState::Listening;
                        s.local = Some(local);
                        Ok(0)
                    }
                    Err(_) => Err(errno("EADDRINUSE")),
                }
            }
            "accept" => {
                let i = self.sock_of(call)?;
                let Some(h) = self.sockets[i].handle else {
                    return Ok(Some(Err(errno("EINVAL"))));
                };
                match self.stack.tcp_accept(h) {
                    Ok(child) => {
                        let fd = self.new_fd(call)?;
                        let info = self.stack.tcp_info(child);
                        let remote = info.as_ref().map(|i| i.remote);
                        // The script's child with this tuple, or a new one.
                        let idx = self
                            .sockets
                            .iter()
                            .position(|s| {
                                s.parent == Some(i) && s.handle.is_none() && s.remote == remote
                            })
                            .unwrap_or_else(|| {
                                let mut s = Sock::new(SockState::SynackAcked);
                                s.local = info.as_ref().map(|i| i.local);
                                s.remote = remote;
                                s.parent = Some(i);
                                self.sockets.push(s);
                                self.sockets.len() - 1
                            });
                        // The child inherits the listener's options, and on
                        // FreeBSD O_NONBLOCK too.
                        let nonblocking = self.sockets[i].nonblocking;
                        let l = &self.sockets[i];
                        let (keepalive, nodelay, cork) = (l.keepalive, l.nodelay, l.cork);
                        let opts = l.opts;
                        let s = &mut self.sockets[idx];
                        s.handle = Some(child);
                        s.nonblocking = nonblocking;
                        s.opts = opts;
                        s.keepalive = keepalive;
                        s.nodelay = nodelay;
                        s.cork = cork;
                        self.open_fd(idx, fd)?;
                        self.apply_options(idx, child, true);
                        Ok(fd)
                    }
                    Err(RecvError::WouldBlock) if self.sockets[i].nonblocking => {
                        Err(errno("EWOULDBLOCK"))
                    }
                    Err(RecvError::WouldBlock) => return Ok(None),
                    Err(RecvError::Socket(e)) => Err(socket_errno(e)),
                    // The fd is a socket (checked above), just not a
                    // listening one: EINVAL, as Linux's inet_accept and
                    // FreeBSD's accept say.
                    Err(RecvError::InvalidHandle) => Err(errno("EINVAL")),
                }
            }
            "connect" => {
                let i = self.sock_of(call)?;
                let s = &self.sockets[i];
                if s.state != SockState::New {
                    return Err("bad connect(): the socket is not new".into());
                }
                let remote = SocketAddrV4::new(REMOTE_IP, SCRIPT_PORT);
                let local = s.bound.then(|| SocketAddrV4::new(LOCAL_IP, SCRIPT_PORT));
                let (nonblocking, opts) = (s.nonblocking, s.opts);
                // The bound socket hands its address to the connection (and
                // takes it back if the connect fails).
                let was_bound = self.sockets[i].bound_handle.take();
                if let Some(b) = was_bound {
                    self.stack.tcp_close(now, b);
                }
                let connected = self.stack.tcp_connect_with(now, remote, local, opts);
                if let (Err(_), Some(_), Some(local)) = (&connected, was_bound, local) {
                    self.sockets[i].bound_handle = self.stack.tcp_bind(local, opts).ok();
                }
                match connected {
                    Ok(h) => {
                        self.apply_options(i, h, true);
                        let s = &mut self.sockets[i];
                        s.handle = Some(h);
                        s.state = SockState::ActiveConnecting;
                        s.remote = Some(remote);
                        s.local = self.stack.tcp_local_addr(h);
                        self.drain(self.now);
                        if nonblocking {
                            Err(errno("EINPROGRESS"))
                        } else {
                            return Ok(self.connect_result(i));
                        }
                    }
                    Err(ConnectError::NoRoute(_)) => Err(errno("ENETUNREACH")),
                    Err(ConnectError::InUse(..)) | Err(ConnectError::Bind(_)) => {
                        Err(errno("EADDRINUSE"))
                    }
                    Err(_) => Err(errno("EADDRNOTAVAIL")),
                }
            }
            "read" | "recv" | "recvmsg" => {
                let i = self.sock_of(call)?;
                let n = if call.name == "recvmsg" {
                    iov_bytes(call)?
                } else {
                    byte_count(call)?
                };
                let flags = match call.name.as_str() {
                    "recv" => Runner::int_arg(call, 3)?,
                    "recvmsg" => Runner::int_arg(call, 2)?,
                    _ => 0,
                };
                let Some(h) = self.sockets[i].handle else {
                    return Ok(Some(Err(errno("ENOTCONN"))));
                };
                let mut buf = vec![0u8; n];
                let r = if flags & 0x2 != 0 {
                    self.stack.tcp_peek(h, &mut buf)
                } else {
                    self.stack.tcp_recv(h, &mut buf)
                };
                self.drain(self.now);
                if call.name == "recvmsg" && r.is_ok() {
                    self.check_inq(call, i, h)?;
                }
                match r {
                    Ok(n) => Ok(n as i64),
                    Err(RecvError::WouldBlock) if self.sockets[i].read_shut => Ok(0),
                    Err(RecvError::WouldBlock)
                        if self.sockets[i].nonblocking || flags & 0x80 != 0 =>
                    {
                        Err(errno("EWOULDBLOCK"))
                    }
                    Err(RecvError::WouldBlock) => return Ok(None),
                    Err(RecvError::Socket(e)) => Err(socket_errno(e)),
                    Err(RecvError::InvalidHandle) => Err(errno("EBADF")),
                }
            }
            "write" | "send" | "sendmsg" => {
                let i = self.sock_of(call)?;
                let n = if call.name == "sendmsg" {
                    iov_bytes(call)?
                } else {
                    byte_count(call)?
                };
                let Some(h) = self.sockets[i].handle else {
                    return Ok(Some(Err(errno("ENOTCONN"))));
                };
                let flags = match call.name.as_str() {
                    "send" => Runner::int_arg(call, 3)?,
                    "sendmsg" => Runner::int_arg(call, 2)?,
                    _ => 0,
                };
                // MSG_OOB: urgent data (the pointer marks its end, RFC 6093);
                // MSG_MORE: more follows, a partial segment waits for it.
                let data = vec![0u8; n];
                let r = if flags & 0x1 != 0 {
                    self.stack.tcp_send_urgent(h, &data)
                } else if flags & 0x8000 != 0 {
                    self.stack.tcp_send_more(h, &data)
                } else {
                    self.stack.tcp_send(h, &data)
                };
                self.stack.handle_timeout(now);
                self.drain(self.now);
                match r {
                    Ok(n) => Ok(n as i64),
                    Err(SendError::WouldBlock) if self.sockets[i].nonblocking => {
                        Err(errno("EWOULDBLOCK"))
                    }
                    Err(SendError::WouldBlock) => return Ok(None),
                    Err(SendError::Pending(e)) => Err(socket_errno(e)),
                    Err(SendError::NotConnected) => Err(errno("ENOTCONN")),
                    Err(_) => Err(errno("EPIPE")),
                }
            }
            "shutdown" => {
                let i = self.sock_of(call)?;
                let how = Runner::int_arg(call, 1)?;
                let Some(h) = self.sockets[i].handle else {
                    return Ok(Some(Err(errno("ENOTCONN"))));
                };
                if !(0..=2).contains(&how) {
                    return Ok(Some(Err(errno("EINVAL"))));
                }
                // SHUT_RD: TCP sends nothing for it (RFC 9293 has no
                // half-close of the receiving side); reads return what is
                // queued and then the end of the stream, as Linux's do.
                if how != 1 {
                    self.sockets[i].read_shut = true;
                }
                if how == 0 {
                    return Ok(Some(Ok(0)));
                }
                let r = self.stack.tcp_shutdown(h);
                self.stack.handle_timeout(now);
                self.drain(self.now);
                match r {
                    Ok(()) => Ok(0),
                    Err(SendError::Pending(e)) => Err(socket_errno(e)),
                    Err(_) => Err(errno("ENOTCONN")),
                }
            }
            "close" => {
                let i = self.sock_of(call)?;
                if let Some(b) = self.sockets[i].bound_handle.take() {
                    self.stack.tcp_close(now, b);
                }
                if let Some(h) = self.sockets[i].handle {
                    if self.sockets[i].linger_abort {
                        // SO_LINGER with l_linger 0: ABORT (RFC 9293 §3.10.5).
                        self.stack.tcp_abort(now, h);
                    } else {
                        self.stack.tcp_close(now, h);
                    }
                }
                let s = &mut self.sockets[i];
                s.closed = true;
                if let Some(fd) = s.fd.take() {
                    self.fds.remove(&fd);
                }
                self.drain(self.now);
                Ok(0)
            }
            "fcntl" => {
                let i = self.sock_of(call)?;
                match Runner::int_arg(call, 1)? {
                    3 => Ok(2 | if self.sockets[i].nonblocking { 4 } else { 0 }),
                    4 => {
                        self.sockets[i].nonblocking = Runner::int_arg(call, 2)? & 4 != 0;
                        Ok(0)
                    }
                    cmd => return Err(format!("fcntl command {cmd} is not supported")),
                }
            }
            // SIOCINQ (FIONREAD): bytes ready to read, the FIN not
            // counted; SIOCOUTQ: bytes not yet acknowledged (Linux's).
            "ioctl" => {
                let i = self.sock_of(call)?;
                let request = Runner::int_arg(call, 1)?;
                let info = self.sockets[i].handle.and_then(|h| self.stack.tcp_info(h));
                let v = match request {
                    0x541b => info.as_ref().map_or(0, |i| {
                        i.recv_queue - usize::from(i.state == State::CloseWait)
                    }),
                    0x5411 => info.as_ref().map_or(0, |i| i.send_queue),
                    other => {
                        return Err(format!("ioctl request {other:#x}: not supported by tcplab"))
                    }
                };
                if let Some(Expr::List(items)) = call.args.get(2) {
                    if let Some(want) = items.first().filter(|w| **w != Expr::Ellipsis) {
                        let want = value(want)?;
                        if want != v as i64 {
                            return Err(format!("ioctl: expected: {want} actual: {v}"));
                        }
                    }
                }
                Ok(0)
            }
            "getsockopt" => return self.getsockopt(call).map(Some),
            "setsockopt" => return self.setsockopt(call).map(Some),
            other => return Err(format!("Unknown system call: '{other}'")),
        };
        Ok(Some(r))
    }

    /// `recvmsg`'s `msg_control`: with TCP_INQ on, Linux adds a
    /// TCP_CM_INQ message giving what is left to read, the FIN counted
    /// (Linux's tcp_inq_hint: RCV.NXT less what was read).
    fn check_inq(
        &self,
        call: &Syscall,
        i: usize,
        h: tcplab_stack::socket::TcpHandle,
    ) -> Result<(), String> {
        let Some(Expr::Struct(text)) = call.args.get(1) else {
            return Ok(());
        };
        let Some(at) = text.find("msg_control") else {
            return Ok(());
        };
        let control = &text[at..];
        if !control.contains("TCP_CM_INQ") {
            return Err(format!(
                "a control message tcplab does not produce: {control}"
            ));
        }
        let expected: i64 = control
            .split("cmsg_data")
            .nth(1)
            .and_then(|r| r.trim_start().strip_prefix('='))
            .map(|r| {
                r.trim_start()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| format!("no cmsg_data=N in {control}"))?;
        if !self.sockets[i].inq {
            return Err("a TCP_CM_INQ message expected, but TCP_INQ is off".into());
        }
        let Some(info) = self.stack.tcp_info(h) else {
            return Err("TCP_CM_INQ on a socket with no connection".into());
        };
        // The peer's FIN is in (a CLOSED connection shows it only as a
        // clean end of stream once its data is read).
        let fin = matches!(
            info.state,
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        ) || info.state == State::Closed
            && info.recv_queue == 0
            && self
                .stack
                .tcp_readiness(h)
                .is_some_and(|r| r.readable && r.error.is_none());
        // (`recv_queue` counts the FIN already in CLOSE-WAIT, as Linux's
        // Recv-Q does.)
        let counted = info.state == State::CloseWait;
        let actual = info.recv_queue as i64 + i64::from(fin && !counted);
        if actual != expected {
            return Err(format!("TCP_CM_INQ: expected: {expected} actual: {actual}"));
        }
        Ok(())
    }

    fn getsockopt(&mut self, call: &Syscall) -> Result<CallResult, String> {
        let i = self.sock_of(call)?;
        let level = Runner::int_arg(call, 1)?;
        let name = Runner::int_arg(call, 2)?;
        let h = self.sockets[i].handle;
        let info = h.and_then(|h| self.stack.tcp_info(h));
        if (level, name) == (6, TCP_CONGESTION) {
            // The connection's algorithm, else the socket's choice or the
            // stack's default; compared by name, as a string.
            let chosen = self.sockets[i].congestion;
            let actual = info.as_ref().map_or_else(
                || chosen.unwrap_or(self.sysctl.tcp.congestion).name(),
                |i| i.congestion,
            );
            return match call.args.get(3) {
                Some(Expr::Str(want)) if want != actual => {
                    Err(format!("optval: expected: \"{want}\" actual: \"{actual}\""))
                }
                Some(Expr::Str(_) | Expr::Ellipsis) | None => Ok(Ok(0)),
                Some(other) => Err(format!(
                    "TCP_CONGESTION's value is a name in quotes, not {}",
                    shown(other)
                )),
            };
        }
        let cfg = &self.sysctl.tcp;
        // What was set, or the stack's default (clamped as the stack does).
        let opts = self.sockets[i].opts.clamped();
        let v: i64 = match (level, name) {
            // A connection's actual buffers; a socket's as set.
            (0xffff, 0x1002) => info
                .as_ref()
                .map_or(opts.recv_buffer.unwrap_or(cfg.recv_buffer), |i| {
                    i.recv_buffer
                }) as i64,
            (0xffff, 0x1001) => info
                .as_ref()
                .map_or(opts.send_buffer.unwrap_or(cfg.send_buffer), |i| {
                    i.send_buffer
                }) as i64,
            (0xffff, 0x1007) => {
                let e = match h {
                    Some(h) if !self.sockets[i].error_taken => self.stack.tcp_take_error(h),
                    _ => None,
                };
                if e.is_some() {
                    self.sockets[i].error_taken = true;
                }
                e.map_or(0, socket_errno)
            }
            // As set on the script's socket.
            (0xffff, 0x4) => i64::from(self.sockets[i].reuseaddr),
            (0xffff, 0x200) => i64::from(opts.reuse_port),
            (0xffff, 0x8) => i64::from(self.sockets[i].keepalive),
            (6, 1) => i64::from(self.sockets[i].nodelay),
            (6, 3) => i64::from(self.sockets[i].cork),
            (6, 36) => i64::from(self.sockets[i].inq),
            (6, 2) => {
                info.as_ref()
                    .map_or(opts.max_seg.map_or(536, usize::from), |i| i.mss) as i64
            }
            // TCP_KEEPINIT (BSD): seconds, the socket's or the sysctl's.
            (6, 128) => opts
                .connect_timeout
                .or(cfg.connect_timeout)
                .map_or(0, |t| t.as_secs()) as i64,
            // TCP_NOOPT (BSD).
            (6, 8) => i64::from(opts.no_options),
            // TCP_NOTSENT_LOWAT: the socket's, 0 when it set none.
            (6, 25) => i64::from(opts.notsent_lowat.unwrap_or(0)),
            (6, 256) => opts.keepalive_time.unwrap_or(cfg.keepalive_time).as_secs() as i64,
            (6, 512) => opts
                .keepalive_interval
                .unwrap_or(cfg.keepalive_interval)
                .as_secs() as i64,
            (6, 1024) => i64::from(opts.keepalive_probes.unwrap_or(cfg.keepalive_probes)),
            (6, 18) => opts.user_timeout.map_or(0, |t| t.as_millis() as i64),
            (0, 3) => i64::from(opts.tos),
            (0, 4) => i64::from(opts.ttl.unwrap_or(self.stack.config().default_ttl)),
            (level, name) => {
                return Err(format!(
                    "getsockopt level {level} option {name}: not supported by tcplab"
                ))
            }
        };
        if let Some(Expr::List(items)) = call.args.get(3) {
            if let Some(want) = items.first() {
                if want != &Expr::Ellipsis {
                    let want = value(want)?;
                    if want != v {
                        return Err(format!("optval: expected: {want} actual: {v}"));
                    }
                }
            }
        }
        if let Some(Expr::List(items)) = call.args.get(4) {
            if let Some(want) = items.first() {
                if want != &Expr::Ellipsis && value(want)? != 4 {
                    return Err(format!("optlen: expected: {} actual: 4", value(want)?));
                }
            }
        }
        Ok(Ok(0))
    }

    fn setsockopt(&mut self, call: &Syscall) -> Result<CallResult, String> {
        let i = self.sock_of(call)?;
        let level = Runner::int_arg(call, 1)?;
        let name = Runner::int_arg(call, 2)?;
        if (level, name) == (0xffff, 0x80) {
            // SO_LINGER takes `{l_onoff=N, l_linger=N}` (nplab's scripts) or
            // `{onoff=N, linger=N}` (packetdrill's grammar).
            let Some(Expr::Struct(text)) = call.args.get(3) else {
                return Err("SO_LINGER needs {onoff=N, linger=N}".into());
            };
            let field = |name: &str| -> Result<i64, String> {
                text.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| {
                        let k = k.trim().trim_start_matches('{').trim();
                        k == name || k.strip_prefix("l_") == Some(name)
                    })
                    .and_then(|(_, v)| v.trim().trim_end_matches('}').trim().parse().ok())
                    .ok_or_else(|| format!("SO_LINGER: no {name} (or l_{name}) in {text}"))
            };
            let (on, secs) = (field("onoff")?, field("linger")?);
            if on != 0 && secs != 0 {
                return Err("SO_LINGER with a timeout other than 0 is not supported".into());
            }
            self.sockets[i].linger_abort = on != 0;
            return Ok(Ok(0));
        }
        if (level, name) == (6, TCP_CONGESTION) {
            let Some(Expr::Str(want)) = call.args.get(3) else {
                return Err("TCP_CONGESTION takes a name in quotes (\"cubic\")".into());
            };
            // Linux: ENOENT for an algorithm it does not have.
            let Some(algorithm) = CongestionAlgorithm::from_name(want) else {
                return Ok(Err(errno("ENOENT")));
            };
            self.sockets[i].congestion = Some(algorithm);
            if let Some(h) = self.sockets[i].handle {
                self.stack.tcp_set_congestion(h, algorithm);
            }
            return Ok(Ok(0));
        }
        let v = Runner::int_arg(call, 3)?;
        let opts = &mut self.sockets[i].opts;
        let secs = |v: i64| -> Result<Option<std::time::Duration>, i64> {
            // FreeBSD and Linux refuse a keep-alive time below 1 s.
            match u32::try_from(v) {
                Ok(s) if s >= 1 => Ok(Some(std::time::Duration::from_secs(u64::from(s)))),
                _ => Err(errno("EINVAL")),
            }
        };
        match (level, name) {
            (0xffff, 0x1002 | 0x1001) => {
                let Ok(n) = usize::try_from(v) else {
                    return Ok(Err(errno("EINVAL")));
                };
                if n == 0 || n > tcplab_stack::tcp::MAX_SOCKET_BUFFER {
                    // Above kern.ipc.maxsockbuf FreeBSD says ENOBUFS.
                    return Ok(Err(errno(if n == 0 { "EINVAL" } else { "ENOBUFS" })));
                }
                if name == 0x1002 {
                    opts.recv_buffer = Some(n);
                } else {
                    opts.send_buffer = Some(n);
                }
            }
            // TCP_MAXSEG: 88 to 65,495, as Linux (TCP_MIN_MSS).
            (6, 2) => match u16::try_from(v) {
                Ok(m @ 88..=65495) => opts.max_seg = Some(m),
                _ => return Ok(Err(errno("EINVAL"))),
            },
            (6, 256) => match secs(v) {
                Ok(t) => opts.keepalive_time = t,
                Err(e) => return Ok(Err(e)),
            },
            (6, 512) => match secs(v) {
                Ok(t) => opts.keepalive_interval = t,
                Err(e) => return Ok(Err(e)),
            },
            (6, 1024) => match u32::try_from(v) {
                Ok(n) if n >= 1 => opts.keepalive_probes = Some(n),
                _ => return Ok(Err(errno("EINVAL"))),
            },
            // TCP_USER_TIMEOUT: milliseconds, 0 for none (Linux: EINVAL
            // below 0).
            (6, 18) => match u32::try_from(v) {
                Ok(ms) if ms <= i32::MAX as u32 => {
                    opts.user_timeout = Some(std::time::Duration::from_millis(u64::from(ms)))
                }
                _ => return Ok(Err(errno("EINVAL"))),
            },
            // TCP_KEEPINIT (BSD): seconds the connection may take to be
            // established, 0 for the sysctl's (as FreeBSD's t_keepinit).
            (6, 128) => match u32::try_from(v) {
                Ok(0) => opts.connect_timeout = None,
                Ok(s) if i64::from(s) <= i64::from(i32::MAX) / 1000 => {
                    opts.connect_timeout = Some(std::time::Duration::from_secs(u64::from(s)))
                }
                _ => return Ok(Err(errno("EINVAL"))),
            },
            // TCP_NOOPT (BSD): SYNs without options.
            (6, 8) => opts.no_options = v != 0,
            // TCP_NOTSENT_LOWAT: bytes; 0 for the sysctl's (as Linux).
            (6, 25) => match u32::try_from(v) {
                Ok(n) => opts.notsent_lowat = (n > 0).then_some(n),
                Err(_) => return Ok(Err(errno("EINVAL"))),
            },
            (0, 3) => match u8::try_from(v) {
                Ok(tos) => opts.tos = tos,
                Err(_) => return Ok(Err(errno("EINVAL"))),
            },
            // IP_TTL: 1–255, or -1 for the default (as FreeBSD and Linux).
            (0, 4) => match v {
                -1 => opts.ttl = None,
                1..=255 => opts.ttl = Some(v as u8),
                _ => return Ok(Err(errno("EINVAL"))),
            },
            // Listeners reuse their address in tcplab anyway; kept to be
            // read back.
            (0xffff, 0x4) => self.sockets[i].reuseaddr = v != 0,
            // SO_REUSEPORT: set before bind, several sockets share the port.
            (0xffff, 0x200) => opts.reuse_port = v != 0,
            // Kept on the socket: applied now if it has a connection, else
            // when it gets one (and inherited by a listener's children).
            (0xffff, 0x8) => self.sockets[i].keepalive = v != 0,
            (6, 1) => self.sockets[i].nodelay = v != 0,
            (6, 3) => self.sockets[i].cork = v != 0,
            // TCP_INQ (Linux): recvmsg reports what is left to read.
            (6, 36) => self.sockets[i].inq = v != 0,
            (level, name) => {
                return Err(format!(
                    "setsockopt level {level} option {name}: not supported by tcplab"
                ))
            }
        }
        if let Some(h) = self.sockets[i].handle {
            self.apply_options(i, h, false);
            // TCP_NODELAY pushes what is queued each time it is set, and
            // TCP_CORK taken off lets it go: only when that option is set.
            let s = &self.sockets[i];
            match (level, name) {
                (6, 1) => self.stack.tcp_set_nodelay(h, s.nodelay),
                (6, 3) => self.stack.tcp_set_cork(h, s.cork),
                _ => {}
            }
        }
        if let Some(b) = self.sockets[i].bound_handle {
            self.stack.tcp_set_options(b, self.sockets[i].opts);
        }
        Ok(Ok(0))
    }

    /// The options set on the script's socket, on its connection; with
    /// `nagle`, TCP_NODELAY and TCP_CORK too (a new connection of it).
    fn apply_options(&mut self, i: usize, h: tcplab_stack::socket::TcpHandle, nagle: bool) {
        let s = &self.sockets[i];
        self.stack.tcp_set_options(h, s.opts);
        self.stack.tcp_set_keepalive(h, s.keepalive);
        if let Some(algorithm) = s.congestion {
            self.stack.tcp_set_congestion(h, algorithm);
        }
        if nagle {
            self.stack.tcp_set_nodelay(h, s.nodelay);
            self.stack.tcp_set_cork(h, s.cork);
        }
    }
}
