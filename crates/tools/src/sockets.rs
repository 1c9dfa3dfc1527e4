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
    /// A number standing for the kernel's socket cookie (`ss -e`'s `sk:`),
    /// unique among the host's sockets.
    pub sk: u64,
    /// The path MTU towards the peer (`ss -i`'s `pmtu:`), and the MSS this
    /// end advertises (`advmss:`, the route's MTU less 40), for TCP.
    pub pmtu: usize,
    pub advmss: usize,
    /// Receive and send buffer sizes (`ss -m`'s `rb` and `tb`).
    pub buffers: (usize, usize),
    /// A TCP listener's congestion control (`ss -i`: `cubic cwnd:10`).
    pub listener_cc: Option<&'static str>,
}

/// `sk:` and inode stand-ins from a socket's id (`Tcp#3.0`): stable while
/// the socket lives, unique on the host.
fn cookie(id: tcplab_stack::SocketId) -> u64 {
    let text = id.to_string();
    let (kind, rest) = text.split_once('#').unwrap_or(("", "0.0"));
    let index: u64 = rest
        .split('.')
        .next()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let base = match kind {
        "Tcp" => 0x1000,
        "Udp" => 0x3000,
        _ => 0x5000,
    };
    base + index
}

impl SockRow {
    /// The inode `ss -e` shows: 0 for a socket no process holds (as for
    /// Linux's orphans and TIME-WAIT), else a stand-in below the local
    /// sockets' inodes (which start at 40000).
    pub fn inode(&self) -> u64 {
        if let Some((_, inode, _)) = &self.unix {
            return *inode;
        }
        if self.process.is_none() {
            0
        } else {
            20_000 + self.sk
        }
    }
}

/// Every socket of a host, in a stable order (TCP listeners, TCP
/// connections by handle, then UDP, then local sockets).
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
    let (tcp_buffers, udp_buffer) = host.with_stack(|s| {
        let c = s.config();
        ((c.tcp.recv_buffer, c.tcp.send_buffer), c.udp_recv_buffer)
    });
    for (h, snap) in tcp {
        let process = host.socket_owner(h.id());
        match snap {
            SocketSnapshot::Listener {
                local,
                accept_queue,
                backlog,
                congestion,
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
                sk: cookie(h.id()),
                pmtu: 0,
                advmss: 0,
                buffers: tcp_buffers,
                listener_cc: Some(congestion),
            }),
            SocketSnapshot::Connection(info) => {
                let path = host.with_stack(|s| {
                    let dst = *info.remote.ip();
                    let mtu = s
                        .route_to(dst)
                        .and_then(|r| s.interfaces().get(r.iface.0))
                        .or_else(|| s.interfaces().iter().find(|i| i.loopback))
                        .map_or(1500, |i| i.mtu);
                    (s.path_mtu(dst).unwrap_or(mtu), mtu.saturating_sub(40))
                });
                // The count after the time: the timeouts in a row for the
                // retransmission timer, the unanswered probes for the
                // persist and keep-alive timers (inet_diag's
                // icsk_retransmits and icsk_probes_out).
                let timer = info.timer.map(|(t, at)| {
                    let name = t.ss_name();
                    let count = match name {
                        "persist" | "keepalive" => info.probes,
                        _ => info.backoff,
                    };
                    (name, at.saturating_since(now), count)
                });
                // Linux takes the timestamp option's 12 bytes off
                // tp->advmss once both ends agreed to it.
                let advmss = if info.timestamps {
                    path.1.saturating_sub(12)
                } else {
                    path.1
                };
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
                    sk: cookie(h.id()),
                    pmtu: path.0,
                    advmss,
                    buffers: tcp_buffers,
                    listener_cc: None,
                });
            }
        }
    }
    // Listening sockets first, then connections, as Linux's inet_diag
    // dump and /proc/net/tcp walk its listening table before its
    // established one (each kept in the stack's order).
    rows.sort_by_key(|r| r.state != SockState::Listen);
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
            sk: cookie(h.id()),
            pmtu: 0,
            advmss: 0,
            buffers: (udp_buffer, udp_buffer),
            listener_cc: None,
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
            sk: 0x6000 + l.inode,
            pmtu: 0,
            advmss: 0,
            buffers: (
                tcplab_host::local::LOCAL_BUFFER,
                tcplab_host::local::LOCAL_BUFFER,
            ),
            unix: Some((l.path, l.inode, l.peer_inode)),
            listener_cc: None,
        });
    }
    rows
}

/// `0.0.0.0` prints as such; a port of a listener's peer is `*`.
pub fn wildcard() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)
}
