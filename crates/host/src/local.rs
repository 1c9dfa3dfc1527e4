//! Local sockets: stream and datagram sockets named by a path on one host,
//! that never touch IP — what `AF_UNIX` is to a kernel.
//!
//! A stream connection is a pair of byte queues, one each way; a writer
//! waits while the reader's queue is full ([`LOCAL_BUFFER`] bytes, Linux's
//! default `SO_SNDBUF` for these sockets). Datagrams keep their boundaries
//! and are never lost: a sender waits while the receiver's queue is full.
//! Errors are the kernel's: connecting to a path nobody bound is "No such
//! file or directory", to a bound path that is not listening "Connection
//! refused"; binding a path in use is "Address already in use". As a
//! kernel's socket file, a path stays when its socket closes: connecting
//! is then refused and binding it is "Address already in use" until it is
//! unlinked ([`unlink`]).
//!
//! Every socket has an inode number, as `ss -x` and `netstat -x` show it,
//! and belongs to the process that created it.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use tcplab_stack::SocketError;

use crate::executor::Pid;
use crate::Host;

/// Bytes a receiver may hold unread before senders wait.
pub const LOCAL_BUFFER: usize = 212_992;
/// Longest path (`sizeof(sun_path) - 1`).
pub const MAX_PATH: usize = 107;
/// First inode number given out.
const FIRST_INODE: u64 = 40_000;

/// Stream or datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalKind {
    Stream,
    Datagram,
}

/// The state of a local socket, as the listing tools show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalState {
    Listening,
    Connected,
    /// An unconnected datagram socket, or a stream whose peer is gone.
    Unconnected,
}

/// One socket, as `ss -x` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInfo {
    pub kind: LocalKind,
    pub state: LocalState,
    pub path: Option<String>,
    pub inode: u64,
    /// The connected peer's inode (0 if none).
    pub peer_inode: u64,
    /// Listener: connections waiting; else bytes (stream) or bytes in
    /// datagrams queued unread.
    pub recv_q: usize,
    /// Listener: backlog; else bytes sent the peer has not read.
    pub send_q: usize,
    pub owner: Option<(Pid, u32)>,
}

#[derive(Debug)]
enum Role {
    Unbound,
    Listening {
        backlog: usize,
        queue: VecDeque<u64>,
    },
    Connected {
        peer: u64,
    },
}

#[derive(Debug)]
struct Sock {
    kind: LocalKind,
    path: Option<String>,
    role: Role,
    bytes: VecDeque<u8>,
    datagrams: VecDeque<(Option<String>, Vec<u8>)>,
    queued: usize,
    /// The peer will send no more (it shut down or closed).
    eof: bool,
    /// The peer closed with data unread here, or vanished: writes fail.
    broken: bool,
    /// This side shut down writing.
    write_shut: bool,
    default_dst: Option<String>,
    wakers: Vec<Waker>,
    owner: Option<(Pid, u32)>,
}

/// What a read or write on a local socket costs the calling process: the
/// system call and the copy between its buffer and the socket's queue.
/// Zero (the default) makes local sockets instantaneous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalCost {
    pub per_call: std::time::Duration,
    /// Picoseconds per byte copied.
    pub per_byte_ps: u64,
}

impl LocalCost {
    pub fn of(&self, bytes: usize) -> std::time::Duration {
        self.per_call + std::time::Duration::from_nanos(self.per_byte_ps * bytes as u64 / 1000)
    }
}

/// All local sockets of a host.
#[derive(Debug, Default)]
pub struct LocalNet {
    sockets: BTreeMap<u64, Sock>,
    names: BTreeMap<String, u64>,
    next: u64,
    /// Bytes moved through local sockets.
    pub bytes_moved: u64,
    /// Calls that moved data.
    pub calls: u64,
    pub cost: LocalCost,
}

/// Spend the CPU time a call that moved `bytes` takes.
async fn charge(host: &Host, bytes: usize) {
    let cost = {
        let n = host.local_net();
        let mut n = n.borrow_mut();
        n.calls += 1;
        n.cost.of(bytes)
    };
    if !cost.is_zero() {
        host.sleep(cost).await;
    }
}

fn wake(s: &mut Sock) {
    for w in s.wakers.drain(..) {
        w.wake();
    }
}

fn check_path(path: &str) -> Result<(), SocketError> {
    if path.is_empty() || path.len() > MAX_PATH || path.contains('\0') {
        return Err(SocketError::InvalidArgument);
    }
    Ok(())
}

/// bind(2)'s ENOENT: a socket file is made in a directory, which must be
/// there (the path's parent in the host's files, relative ones as the
/// file system reads them; a bare name is made where the process is);
/// and its EADDRINUSE for a name a directory already has.
fn check_directory(host: &Host, path: &str) -> Result<(), SocketError> {
    match path.rfind('/') {
        Some(at) if at > 0 && !host.fs().is_dir(&path[..at]) => Err(SocketError::NotFound),
        // EADDRINUSE: the name is a directory's (`nc -lU /`), which no
        // unlink before the bind removes. (A file's would be in use too,
        // but the binders here unlink a path first, as nc does, and the
        // files are not in the sockets' table.)
        _ if host.fs().is_dir(path) => Err(SocketError::AddrInUse),
        _ => Ok(()),
    }
}

impl LocalNet {
    fn insert(&mut self, kind: LocalKind, owner: Option<(Pid, u32)>) -> u64 {
        let id = FIRST_INODE + self.next;
        self.next += 1;
        self.sockets.insert(
            id,
            Sock {
                kind,
                path: None,
                role: Role::Unbound,
                bytes: VecDeque::new(),
                datagrams: VecDeque::new(),
                queued: 0,
                eof: false,
                broken: false,
                write_shut: false,
                default_dst: None,
                wakers: Vec::new(),
                owner,
            },
        );
        id
    }

    fn bind(&mut self, id: u64, path: &str) -> Result<(), SocketError> {
        check_path(path)?;
        if self.names.contains_key(path) {
            return Err(SocketError::AddrInUse);
        }
        self.names.insert(path.to_string(), id);
        if let Some(s) = self.sockets.get_mut(&id) {
            s.path = Some(path.to_string());
        }
        Ok(())
    }

    fn close(&mut self, id: u64) {
        // A bound socket's name stays when it closes, as its file does on
        // Linux: connecting to it is refused, binding it again is
        // EADDRINUSE until the path is unlinked (`unlink`).
        let Some(mut s) = self.sockets.remove(&id) else {
            return;
        };
        // Whoever waits on it (a sender blocked on its full queue) hears
        // that it is gone.
        wake(&mut s);
        match s.role {
            Role::Connected { peer } => {
                if let Some(p) = self.sockets.get_mut(&peer) {
                    p.eof = true;
                    // Closing with unread data resets the peer (as Linux
                    // does for a stream whose reader vanished).
                    p.broken = true;
                    wake(p);
                }
            }
            Role::Listening { queue, .. } => {
                for pending in queue {
                    self.close(pending);
                }
            }
            Role::Unbound => {}
        }
    }

    /// Snapshot for the listing tools, in inode order.
    pub fn list(&self) -> Vec<LocalInfo> {
        self.sockets
            .iter()
            .map(|(&inode, s)| {
                let (state, peer_inode, recv_q, send_q) = match &s.role {
                    Role::Listening { backlog, queue } => {
                        (LocalState::Listening, 0, queue.len(), *backlog)
                    }
                    Role::Connected { peer } => {
                        let unread = self.sockets.get(peer).map_or(0, |p| p.queued);
                        (LocalState::Connected, *peer, s.queued, unread)
                    }
                    // A datagram socket connected to a name (connect(2)):
                    // ESTAB to whoever holds it, as Linux lists it.
                    Role::Unbound => match s.default_dst.as_ref().and_then(|d| self.names.get(d)) {
                        Some(&peer) if self.sockets.contains_key(&peer) => {
                            (LocalState::Connected, peer, s.queued, 0)
                        }
                        _ => (LocalState::Unconnected, 0, s.queued, 0),
                    },
                };
                LocalInfo {
                    kind: s.kind,
                    state,
                    path: s.path.clone(),
                    inode,
                    peer_inode,
                    recv_q,
                    send_q,
                    owner: s.owner,
                }
            })
            .collect()
    }
}

/// Remove the name `path` (unlink(2) of a socket file): a socket still
/// bound to it goes on but can no longer be reached by the name. Whether
/// there was one.
pub fn unlink(host: &Host, path: &str) -> bool {
    net(host).borrow_mut().names.remove(path).is_some()
}

/// Whether `path` names a socket that has closed (a stale socket file).
pub fn stale(host: &Host, path: &str) -> bool {
    let n = net(host);
    let n = n.borrow();
    n.names
        .get(path)
        .is_some_and(|id| !n.sockets.contains_key(id))
}

fn net(host: &Host) -> Rc<RefCell<LocalNet>> {
    host.local_net()
}

/// A listening stream socket. Closed when dropped (its path stays, stale).
#[derive(Debug)]
pub struct LocalListener {
    host: Host,
    id: u64,
}

impl LocalListener {
    pub fn bind(host: &Host, path: &str, backlog: usize) -> Result<LocalListener, SocketError> {
        check_directory(host, path)?;
        let n = net(host);
        let mut n = n.borrow_mut();
        let id = n.insert(LocalKind::Stream, host.allocate_fd());
        if let Err(e) = n.bind(id, path) {
            n.close(id);
            return Err(e);
        }
        if let Some(s) = n.sockets.get_mut(&id) {
            s.role = Role::Listening {
                // listen(0) queues one, as Linux (full past the backlog).
                backlog,
                queue: VecDeque::new(),
            };
        }
        Ok(LocalListener {
            host: host.clone(),
            id,
        })
    }

    /// The next connection.
    pub async fn accept(&self) -> Result<LocalStream, SocketError> {
        let n = net(&self.host);
        let id = poll_fn(|cx| {
            let mut n = n.borrow_mut();
            let Some(s) = n.sockets.get_mut(&self.id) else {
                return Poll::Ready(Err(SocketError::InvalidArgument));
            };
            if let Role::Listening { queue, .. } = &mut s.role {
                if let Some(id) = queue.pop_front() {
                    return Poll::Ready(Ok(id));
                }
            }
            s.wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        // The accepted socket belongs to whoever accepts it.
        if let Some(s) = n.borrow_mut().sockets.get_mut(&id) {
            s.owner = self.host.allocate_fd();
        }
        Ok(LocalStream {
            host: self.host.clone(),
            id,
        })
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        net(&self.host).borrow_mut().close(self.id);
    }
}

/// A connected stream socket. Closed when dropped.
#[derive(Debug)]
pub struct LocalStream {
    host: Host,
    id: u64,
}

impl LocalStream {
    /// Connect to the listener at `path`.
    pub fn connect(host: &Host, path: &str) -> Result<LocalStream, SocketError> {
        check_path(path)?;
        let n = net(host);
        let mut n = n.borrow_mut();
        let &target = n.names.get(path).ok_or(SocketError::NotFound)?;
        // A name whose socket has closed: nobody listens there.
        let t = n
            .sockets
            .get(&target)
            .ok_or(SocketError::ConnectionRefused)?;
        if t.kind != LocalKind::Stream {
            return Err(SocketError::ProtocolWrongType);
        }
        let Role::Listening { backlog, queue } = &t.role else {
            return Err(SocketError::ConnectionRefused);
        };
        // A full accept queue (past the backlog, as Linux's
        // unix_recvq_full counts): Linux makes a blocking connect wait; we
        // refuse, as a non-blocking connect gets EAGAIN.
        if queue.len() > *backlog {
            return Err(SocketError::WouldBlock);
        }
        let client = n.insert(LocalKind::Stream, host.allocate_fd());
        let server = n.insert(LocalKind::Stream, None);
        if let Some(s) = n.sockets.get_mut(&client) {
            s.role = Role::Connected { peer: server };
        }
        if let Some(s) = n.sockets.get_mut(&server) {
            s.role = Role::Connected { peer: client };
            s.path = Some(path.to_string());
        }
        if let Some(l) = n.sockets.get_mut(&target) {
            if let Role::Listening { queue, .. } = &mut l.role {
                queue.push_back(server);
            }
            wake(l);
        }
        Ok(LocalStream {
            host: host.clone(),
            id: client,
        })
    }

    /// Read some bytes, waiting for at least one; `Ok(0)` at the end.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        let k = self.read_now(buf).await?;
        if k > 0 {
            charge(&self.host, k).await;
        }
        Ok(k)
    }

    async fn read_now(&self, buf: &mut [u8]) -> Result<usize, SocketError> {
        let n = net(&self.host);
        poll_fn(|cx| {
            let mut nb = n.borrow_mut();
            let Some(s) = nb.sockets.get_mut(&self.id) else {
                return Poll::Ready(Ok(0));
            };
            if !s.bytes.is_empty() {
                let k = buf.len().min(s.bytes.len());
                for (i, b) in s.bytes.drain(..k).enumerate() {
                    buf[i] = b;
                }
                s.queued -= k;
                let peer = match s.role {
                    Role::Connected { peer } => Some(peer),
                    _ => None,
                };
                nb.bytes_moved += k as u64;
                // Room again: the writer may go on.
                if let Some(p) = peer.and_then(|p| nb.sockets.get_mut(&p)) {
                    wake(p);
                }
                return Poll::Ready(Ok(k));
            }
            if s.eof || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            s.wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Write some bytes, waiting for room in the peer's queue.
    pub async fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        let k = self.write_now(data).await?;
        charge(&self.host, k).await;
        Ok(k)
    }

    async fn write_now(&self, data: &[u8]) -> Result<usize, SocketError> {
        let n = net(&self.host);
        poll_fn(|cx| {
            let mut nb = n.borrow_mut();
            let Some(s) = nb.sockets.get_mut(&self.id) else {
                return Poll::Ready(Err(SocketError::BrokenPipe));
            };
            if s.write_shut || s.broken {
                return Poll::Ready(Err(SocketError::BrokenPipe));
            }
            let Role::Connected { peer } = s.role else {
                return Poll::Ready(Err(SocketError::NotConnected));
            };
            let Some(p) = nb.sockets.get_mut(&peer) else {
                return Poll::Ready(Err(SocketError::BrokenPipe));
            };
            let room = LOCAL_BUFFER.saturating_sub(p.queued);
            if room == 0 {
                if let Some(me) = nb.sockets.get_mut(&self.id) {
                    me.wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            let k = room.min(data.len());
            p.bytes.extend(&data[..k]);
            p.queued += k;
            wake(p);
            Poll::Ready(Ok(k))
        })
        .await
    }

    pub async fn write_all(&self, mut data: &[u8]) -> Result<(), SocketError> {
        while !data.is_empty() {
            let k = self.write(data).await?;
            data = &data[k..];
        }
        Ok(())
    }

    /// No more writing (`shutdown(SHUT_WR)`): the peer reads to the end.
    pub fn shutdown(&self) -> Result<(), SocketError> {
        let n = net(&self.host);
        let mut nb = n.borrow_mut();
        let s = nb
            .sockets
            .get_mut(&self.id)
            .ok_or(SocketError::NotConnected)?;
        s.write_shut = true;
        let Role::Connected { peer } = s.role else {
            return Err(SocketError::NotConnected);
        };
        if let Some(p) = nb.sockets.get_mut(&peer) {
            p.eof = true;
            wake(p);
        }
        Ok(())
    }

    pub fn inode(&self) -> u64 {
        self.id
    }
}

impl Drop for LocalStream {
    fn drop(&mut self) {
        net(&self.host).borrow_mut().close(self.id);
    }
}

/// A datagram socket, bound to a path or not. Closed when dropped.
#[derive(Debug)]
pub struct LocalDatagram {
    host: Host,
    id: u64,
}

impl LocalDatagram {
    pub fn bind(host: &Host, path: Option<&str>) -> Result<LocalDatagram, SocketError> {
        if let Some(p) = path {
            check_directory(host, p)?;
        }
        let n = net(host);
        let mut nb = n.borrow_mut();
        let id = nb.insert(LocalKind::Datagram, host.allocate_fd());
        if let Some(p) = path {
            if let Err(e) = nb.bind(id, p) {
                nb.close(id);
                return Err(e);
            }
        }
        Ok(LocalDatagram {
            host: host.clone(),
            id,
        })
    }

    /// Send to `path` by default.
    pub fn connect(&self, path: &str) -> Result<(), SocketError> {
        check_path(path)?;
        let n = net(&self.host);
        let mut nb = n.borrow_mut();
        let &target = nb.names.get(path).ok_or(SocketError::NotFound)?;
        match nb.sockets.get(&target).map(|t| t.kind) {
            None => return Err(SocketError::ConnectionRefused),
            Some(LocalKind::Datagram) => {}
            Some(_) => return Err(SocketError::ProtocolWrongType),
        }
        if let Some(s) = nb.sockets.get_mut(&self.id) {
            s.default_dst = Some(path.to_string());
        }
        Ok(())
    }

    /// Send one datagram to `path` (or the connected one), waiting while
    /// the receiver's queue is full.
    pub async fn send_to(&self, data: &[u8], path: Option<&str>) -> Result<(), SocketError> {
        self.send_now(data, path).await?;
        charge(&self.host, data.len()).await;
        Ok(())
    }

    async fn send_now(&self, data: &[u8], path: Option<&str>) -> Result<(), SocketError> {
        if data.len() > LOCAL_BUFFER {
            return Err(SocketError::MessageTooLong);
        }
        let n = net(&self.host);
        poll_fn(|cx| {
            let mut nb = n.borrow_mut();
            let Some(me) = nb.sockets.get(&self.id) else {
                return Poll::Ready(Err(SocketError::InvalidArgument));
            };
            let from = me.path.clone();
            let Some(dst) = path.map(str::to_string).or_else(|| me.default_dst.clone()) else {
                return Poll::Ready(Err(SocketError::NotConnected));
            };
            let Some(&target) = nb.names.get(&dst) else {
                return Poll::Ready(Err(SocketError::ConnectionRefused));
            };
            let Some(t) = nb.sockets.get_mut(&target) else {
                return Poll::Ready(Err(SocketError::ConnectionRefused));
            };
            if t.kind != LocalKind::Datagram {
                return Poll::Ready(Err(SocketError::ProtocolWrongType));
            }
            if t.queued > 0 && t.queued + data.len() > LOCAL_BUFFER {
                if let Some(me) = nb.sockets.get_mut(&self.id) {
                    me.wakers.push(cx.waker().clone());
                }
                // The receiver wakes us when it reads.
                if let Some(t) = nb.sockets.get_mut(&target) {
                    t.wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            t.queued += data.len();
            t.datagrams.push_back((from, data.to_vec()));
            wake(t);
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// The next datagram and the sender's path, if it has one.
    pub async fn recv_from(&self) -> Result<(Option<String>, Vec<u8>), SocketError> {
        let got = self.recv_now().await?;
        charge(&self.host, got.1.len()).await;
        Ok(got)
    }

    async fn recv_now(&self) -> Result<(Option<String>, Vec<u8>), SocketError> {
        let n = net(&self.host);
        poll_fn(|cx| {
            let mut nb = n.borrow_mut();
            let Some(s) = nb.sockets.get_mut(&self.id) else {
                return Poll::Ready(Err(SocketError::InvalidArgument));
            };
            if let Some((from, data)) = s.datagrams.pop_front() {
                s.queued -= data.len();
                wake(s);
                nb.bytes_moved += data.len() as u64;
                return Poll::Ready(Ok((from, data)));
            }
            s.wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    pub fn inode(&self) -> u64 {
        self.id
    }
}

impl Drop for LocalDatagram {
    fn drop(&mut self) {
        net(&self.host).borrow_mut().close(self.id);
    }
}
