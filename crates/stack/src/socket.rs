//! Socket handles, events and the errors callers can act on.
//!
//! Errors follow STYLE.md: one enum per kind of call, each variant a mistake
//! the caller made or a condition it can act on, spelled the way people know
//! them from `strerror` ("Connection refused", "Address already in use"). A
//! peer's misbehaviour is never an `Err`: it is dropped and counted.

use core::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_wire::icmpv4;

use crate::slab::Key;
use crate::time::Instant;

/// The protocol family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketKind {
    Udp,
    /// ICMP echo ("ping") datagram sockets, as Linux's `SOCK_DGRAM, IPPROTO_ICMP`.
    Ping,
    Tcp,
    /// Raw IP sockets (`SOCK_RAW`).
    Raw,
}

/// Identifies any socket of a stack; events name sockets this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId {
    pub kind: SocketKind,
    pub(crate) key: Key,
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}#{}.{}",
            self.kind, self.key.index, self.key.generation
        )
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) Key);

        impl $name {
            pub fn id(self) -> SocketId {
                SocketId { kind: SocketKind::$kind, key: self.0 }
            }
        }
    };
}

handle!(
    /// A UDP socket.
    UdpHandle,
    Udp
);
handle!(
    /// An ICMP echo socket.
    PingHandle,
    Ping
);
handle!(
    /// A TCP socket (listener or connection).
    TcpHandle,
    Tcp
);
handle!(
    /// A raw IP socket.
    RawHandle,
    Raw
);

/// Something an application must hear about: the socket's state changed, so
/// a task waiting on it should look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub socket: SocketId,
}

/// Conditions a socket reports, named as `strerror` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SocketError {
    #[error("Connection refused")]
    ConnectionRefused,
    #[error("Connection reset by peer")]
    ConnectionReset,
    #[error("Connection timed out")]
    TimedOut,
    #[error("Network is unreachable")]
    NetworkUnreachable,
    #[error("No route to host")]
    HostUnreachable,
    #[error("Protocol not available")]
    ProtocolUnreachable,
    #[error("Message too long")]
    MessageTooLong,
    #[error("Broken pipe")]
    BrokenPipe,
    #[error("Transport endpoint is not connected")]
    NotConnected,
    #[error("Operation not permitted")]
    NotPermitted,
    #[error("Address already in use")]
    AddrInUse,
    #[error("Cannot assign requested address")]
    AddrNotAvailable,
    #[error("Invalid argument")]
    InvalidArgument,
    /// `ENOENT`: no socket is bound to the path (local sockets).
    #[error("No such file or directory")]
    NotFound,
    /// `EPROTOTYPE`: a stream socket addressed a datagram one or back.
    #[error("Protocol wrong type for socket")]
    ProtocolWrongType,
    /// `EAGAIN`.
    #[error("Resource temporarily unavailable")]
    WouldBlock,
}

/// Errors of `bind`, and of `connect`/`send_to` when they bind implicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error("Address already in use ({addr}:{port})")]
    AddrInUse { addr: Ipv4Addr, port: u16 },
    #[error("Cannot assign requested address ({0})")]
    AddrNotAvailable(Ipv4Addr),
    #[error("no free ephemeral port")]
    NoPortsAvailable,
    /// `EBADF`: the handle names no open socket (closed, or never one).
    #[error("Bad file descriptor")]
    InvalidHandle,
}

impl BindError {
    /// The error as `strerror` words it, without the address: what a
    /// tool built on the C library prints (`nc: Address already in use`).
    pub fn strerror(&self) -> &'static str {
        match self {
            BindError::AddrInUse { .. } => "Address already in use",
            BindError::AddrNotAvailable(_) => "Cannot assign requested address",
            // EAGAIN from an exhausted ephemeral range.
            BindError::NoPortsAvailable => "Resource temporarily unavailable",
            BindError::InvalidHandle => "Bad file descriptor",
        }
    }
}

/// Errors of sending a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("Network is unreachable")]
    NoRoute(Ipv4Addr),
    /// The datagram exceeds the path MTU and may not be fragmented.
    #[error("Message too long, mtu={mtu}")]
    MessageTooLong { mtu: usize },
    #[error("Transport endpoint is not connected")]
    NotConnected,
    /// The send buffer is full; wait for an event on the socket.
    #[error("Resource temporarily unavailable")]
    WouldBlock,
    #[error("Cannot assign requested address ({0})")]
    AddrNotAvailable(Ipv4Addr),
    /// EACCES: a broadcast destination without SO_BROADCAST.
    #[error("Permission denied")]
    BroadcastNotAllowed,
    #[error("No buffer space available")]
    NoBufferSpace,
    #[error("{0}")]
    Pending(SocketError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("bad socket handle")]
    InvalidHandle,
    /// A source address that may not leave the host (127/8 towards
    /// another host: RFC 1122 §3.2.1.3), as Linux answers EINVAL.
    #[error("Invalid argument")]
    InvalidArgument,
}

/// Errors of receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing to read yet; wait for an event on the socket.
    #[error("Resource temporarily unavailable")]
    WouldBlock,
    #[error("{0}")]
    Socket(SocketError),
    #[error("bad socket handle")]
    InvalidHandle,
}

/// When the IP layer may set "don't fragment" (Linux's `IP_MTU_DISCOVER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PmtuDisc {
    /// Never set DF; fragment locally when needed (`-M dont`).
    Dont,
    /// Set DF when the datagram fits the known path MTU, otherwise fragment
    /// locally without DF (Linux's default, `-M want`).
    #[default]
    Want,
    /// Always set DF; a datagram over the path MTU is refused with
    /// "Message too long" (`-M do`).
    Do,
    /// Always set DF, and ignore what was learnt about the path: only the
    /// interface's MTU limits a datagram (Linux's `IP_PMTUDISC_PROBE`,
    /// which `traceroute -F` and tracepath-like tools use to measure the
    /// path themselves).
    Probe,
}

/// An ICMP error that came back about a datagram this host sent, in the
/// form `IP_RECVERR` gives it: who sent it, what it says, what it quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpErrorReport {
    /// The node that sent the ICMP error (the "offender" of `IP_RECVERR`).
    pub from: Ipv4Addr,
    pub icmp_type: u8,
    pub code: u8,
    /// Next-hop MTU of "fragmentation needed", gateway of a redirect, zero else.
    pub info: u32,
    /// Destination of the quoted datagram.
    pub original_dst: Ipv4Addr,
    /// Ports (or echo identifier and sequence) of the quoted datagram.
    pub original_src_port: u16,
    pub original_dst_port: u16,
    /// TTL left in the quoted header when the error was generated.
    pub quoted_ttl: u8,
    /// TTL of the ICMP error itself on arrival.
    pub ttl: u8,
    /// When it arrived (what `SO_TIMESTAMP` tells an application), so that
    /// round trips measure the network and not how late the reader was.
    pub received: Instant,
}

impl IcmpErrorReport {
    pub fn message(&self) -> icmpv4::Message {
        icmpv4::Message::from(self.icmp_type)
    }

    /// The `errno` a socket reports for this error (Linux `icmp_err_convert`).
    pub fn socket_error(&self) -> Option<SocketError> {
        use icmpv4::DstUnreachable as D;
        match self.message() {
            icmpv4::Message::DstUnreachable => Some(match D::from(self.code) {
                D::NetUnreachable | D::DstNetUnknown | D::NetUnreachToS => {
                    SocketError::NetworkUnreachable
                }
                D::ProtoUnreachable => SocketError::ProtocolUnreachable,
                D::PortUnreachable => SocketError::ConnectionRefused,
                D::FragRequired => SocketError::MessageTooLong,
                D::NetProhibited | D::HostProhibited | D::CommProhibited => {
                    SocketError::NotPermitted
                }
                _ => SocketError::HostUnreachable,
            }),
            icmpv4::Message::TimeExceeded => Some(SocketError::HostUnreachable),
            icmpv4::Message::ParamProblem => Some(SocketError::ProtocolUnreachable),
            _ => None,
        }
    }

    /// Whether Linux treats this as fatal for a connected UDP socket.
    pub fn is_hard(&self) -> bool {
        self.message() == icmpv4::Message::DstUnreachable
            && matches!(
                icmpv4::DstUnreachable::from(self.code),
                icmpv4::DstUnreachable::ProtoUnreachable
                    | icmpv4::DstUnreachable::PortUnreachable
                    | icmpv4::DstUnreachable::FragRequired
                    | icmpv4::DstUnreachable::SrcRouteFailed
                    | icmpv4::DstUnreachable::NetProhibited
                    | icmpv4::DstUnreachable::HostProhibited
                    | icmpv4::DstUnreachable::CommProhibited
            )
    }

    /// How iputils `ping` words this error ("Time to live exceeded", ...).
    pub fn describe(&self) -> String {
        use icmpv4::DstUnreachable as D;
        match self.message() {
            icmpv4::Message::DstUnreachable => match D::from(self.code) {
                D::NetUnreachable => "Destination Net Unreachable".into(),
                D::HostUnreachable => "Destination Host Unreachable".into(),
                D::ProtoUnreachable => "Destination Protocol Unreachable".into(),
                D::PortUnreachable => "Destination Port Unreachable".into(),
                D::FragRequired => format!("Frag needed and DF set (mtu = {})", self.info),
                D::SrcRouteFailed => "Source Route Failed".into(),
                D::DstNetUnknown => "Destination Net Unknown".into(),
                D::DstHostUnknown => "Destination Host Unknown".into(),
                D::SrcHostIsolated => "Source Host Isolated".into(),
                D::NetProhibited => "Destination Net Prohibited".into(),
                D::HostProhibited => "Destination Host Prohibited".into(),
                D::NetUnreachToS => "Destination Net Unreachable for Type of Service".into(),
                D::HostUnreachToS => "Destination Host Unreachable for Type of Service".into(),
                D::CommProhibited => "Packet filtered".into(),
                D::HostPrecedViol => "Precedence Violation".into(),
                D::PrecedCutoff => "Precedence Cutoff".into(),
                D::Unknown(c) => format!("Dest Unreachable, Bad Code: {c}"),
            },
            icmpv4::Message::TimeExceeded => match self.code {
                0 => "Time to live exceeded".into(),
                1 => "Frag reassembly time exceeded".into(),
                c => format!("Time exceeded, Bad Code: {c}"),
            },
            icmpv4::Message::Redirect => {
                let what = match self.code {
                    0 => "Redirect Network",
                    1 => "Redirect Host",
                    2 => "Redirect Type of Service and Network",
                    3 => "Redirect Type of Service and Host",
                    _ => "Redirect, Bad Code",
                };
                format!("{what}(New nexthop: {})", Ipv4Addr::from(self.info))
            }
            icmpv4::Message::SourceQuench => "Source Quench".into(),
            icmpv4::Message::ParamProblem => {
                format!("Parameter problem: pointer = {}", self.info)
            }
            other => format!("Bad ICMP type: {}", u8::from(other)),
        }
    }
}

/// A received UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub from: SocketAddrV4,
    /// The address it was sent to (one of ours, or a broadcast address).
    pub to: Ipv4Addr,
    pub ttl: u8,
    pub data: Vec<u8>,
}

/// What a ping socket receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingMessage {
    Reply {
        from: Ipv4Addr,
        seq: u16,
        ttl: u8,
        /// ICMP payload (after the 8-byte header).
        data: Vec<u8>,
        /// When it arrived (`SO_TIMESTAMP`).
        received: Instant,
    },
    Error {
        seq: u16,
        report: IcmpErrorReport,
    },
}
