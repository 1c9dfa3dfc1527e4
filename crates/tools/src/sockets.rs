//! A snapshot of a host's sockets, as `ss` and `netstat` list them.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_host::{Host, LocalKind, LocalState};
use tcplab_stack::tcp::SocketSnapshot;
use tcplab_stack::{TcpInfo, TcpState};

/// Transport of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Netid {
    Tcp,
    Udp,
    /// A local stream socket (`u_str`).
    UnixStream,
    /// A local datagram socket (`u_dgr`).
    UnixDgram,
}

impl Netid {
    pub fn name(self) -> &'static str {
        match self {
            Netid::Tcp => "tcp",
            Netid::Udp => "udp",
            Netid::UnixStream => "u_str",
            Netid::UnixDgram => "u_dgr",
        }
    }

    pub fn is_unix(self) -> bool {
        matches!(self, Netid::UnixStream | Netid::UnixDgram)
    }
}

/// The state of a listed socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockState {
    Listen,
    Tcp(TcpState),
    /// A UDP socket: connected or not.
    Udp {
        connected: bool,
    },
    /// A local socket.
    Unix(LocalState),
}

impl SockState {
    /// `ss`'s spelling.
    pub fn ss(self) -> &'static str {
        match self {
            SockState::Listen => "LISTEN",
            SockState::Tcp(s) => s.ss_name(),
            SockState::Udp { connected: true } => "ESTAB",
            SockState::Udp { connected: false } => "UNCONN",
            SockState::Unix(LocalState::Listening) => "LISTEN",
            SockState::Unix(LocalState::Connected) => "ESTAB",
            SockState::Unix(LocalState::Unconnected) => "UNCONN",
        }
    }

    /// Listening, or an unconnected datagram socket (what `-l` shows).
    pub fn is_server(self) -> bool {
        matches!(
            self,
            SockState::Listen
                | SockState::Udp { connected: false }
                | SockState::Unix(LocalState::Listening | LocalState::Unconnected)
        )
    }

    /// `netstat`'s spelling (empty for an unconnected UDP socket).
    pub fn netstat(self) -> &'static str {
        match self {
            SockState::Listen => "LISTEN",
            SockState::Tcp(s) => s.netstat_name(),
            SockState::Udp { connected: true } => "ESTABLISHED",
            SockState::Udp { connected: false } => "",
            SockState::Unix(LocalState::Listening) => "LISTENING",
            SockState::Unix(LocalState::Connected) => "CONNECTED",
            SockState::Unix(LocalState::Unconnected) => "",
        }
    }
}

/// One socket.
#[derive(Debug, Clone, PartialEq)]
pub struct SockRow {
    pub netid: Netid,
    pub state: SockState,
    pub recv_q: usize,
    pub send_q: usize,
    pub local: SocketAddrV4,
    /// `None` for a listener or an unconnected socket (`*`).
    pub peer: Option<SocketAddrV4>,
    /// Owning process: name, pid, fd.
    pub process: Option<(String, u32, u32)>,
    /// Running timer: name as `ss -o` prints it, time left, retransmissions.
    pub timer: Option<(&'static str, Duration, u32)>,
    pub info: Option<TcpInfo>,
    /// A local socket's path, inode and peer inode (`local` and `peer`
    /// are placeholders then).
    pub unix: Option<(Option<String>, u64, u64)>,
}

/// Every socket of a host, in a stable order (TCP by handle, then UDP).
pub fn snapshot(host: &Host) -> Vec<SockRow> {
    let now = host.now();
    let mut rows = Vec::new();
    let (tcp, udp) = host.with_stack(|s| {
        let udp: Vec<_> = s
            .udp_sockets()
            .map(|(h, u)| (h, u.local, u.remote, u.recv_queue()))
            .collect();
        (s.tcp_sockets(), udp)
    });
    for (h, snap) in tcp {
        let process = host.socket_owner(h.id());
        match snap {
            SocketSnapshot::Listener {
                local,
                accept_queue,
                backlog,
                ..
            } => rows.push(SockRow {
                netid: Netid::Tcp,
                state: SockState::Listen,
                recv_q: accept_queue,
                send_q: backlog,
                local,
                peer: None,
                process,
                timer: None,
                info: None,
                unix: None,
            }),
            SocketSnapshot::Connection(info) => {
                let timer = info.timer.map(|(t, at)| {
                    let name = t.ss_name();
                    (name, at.saturating_since(now), info.backoff)
                });
                rows.push(SockRow {
                    netid: Netid::Tcp,
                    state: SockState::Tcp(info.state),
                    recv_q: info.recv_queue,
                    send_q: info.send_queue,
                    local: info.local,
                    peer: Some(info.remote),
                    // Orphaned connections (TIME-WAIT and the like) belong to
                    // no process any more.
                    process: if info.state == TcpState::TimeWait {
                        None
                    } else {
                        process
                    },
                    timer,
                    info: Some(*info),
                    unix: None,
                });
            }
        }
    }
    for (h, local, remote, queue) in udp {
        rows.push(SockRow {
            netid: Netid::Udp,
            state: SockState::Udp {
                connected: remote.is_some(),
            },
            recv_q: queue,
            send_q: 0,
            local,
            peer: remote,
            process: host.socket_owner(h.id()),
            timer: None,
            info: None,
            unix: None,
        });
    }
    for l in host.local_sockets() {
        rows.push(SockRow {
            netid: match l.kind {
                LocalKind::Stream => Netid::UnixStream,
                LocalKind::Datagram => Netid::UnixDgram,
            },
            state: SockState::Unix(l.state),
            recv_q: l.recv_q,
            send_q: l.send_q,
            local: wildcard(),
            peer: None,
            process: l
                .owner
                .and_then(|(pid, fd)| host.process_name(pid).map(|name| (name, pid, fd))),
            timer: None,
            info: None,
            unix: Some((l.path, l.inode, l.peer_inode)),
        });
    }
    rows
}

/// `0.0.0.0` prints as such; a port of a listener's peer is `*`.
pub fn wildcard() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)
}
