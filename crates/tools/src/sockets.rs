//! A snapshot of a host's sockets, as `ss` and `netstat` list them.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_host::Host;
use tcplab_stack::tcp::{SocketSnapshot, Timer};
use tcplab_stack::{TcpInfo, TcpState};

/// Transport of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Netid {
    Tcp,
    Udp,
}

impl Netid {
    pub fn name(self) -> &'static str {
        match self {
            Netid::Tcp => "tcp",
            Netid::Udp => "udp",
        }
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
}

impl SockState {
    /// `ss`'s spelling.
    pub fn ss(self) -> &'static str {
        match self {
            SockState::Listen => "LISTEN",
            SockState::Tcp(s) => s.ss_name(),
            SockState::Udp { connected: true } => "ESTAB",
            SockState::Udp { connected: false } => "UNCONN",
        }
    }

    /// `netstat`'s spelling (empty for an unconnected UDP socket).
    pub fn netstat(self) -> &'static str {
        match self {
            SockState::Listen => "LISTEN",
            SockState::Tcp(s) => s.netstat_name(),
            SockState::Udp { connected: true } => "ESTABLISHED",
            SockState::Udp { connected: false } => "",
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
            }),
            SocketSnapshot::Connection(info) => {
                let timer = info.timer.map(|(t, at)| {
                    let name = match t {
                        Timer::Retransmit => "on",
                        Timer::Persist => "persist",
                        Timer::KeepAlive => "keepalive",
                        Timer::TimeWait => "timewait",
                        Timer::DelayedAck => "on",
                    };
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
        });
    }
    rows
}

/// `0.0.0.0` prints as such; a port of a listener's peer is `*`.
pub fn wildcard() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)
}
