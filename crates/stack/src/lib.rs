//! One host's TCP/IP stack, sans-IO.
//!
//! A [`Stack`] holds interfaces (a loopback interface with 127.0.0.0/8 is
//! always there), a routing table, IPv4 with fragmentation and reassembly,
//! ICMP, UDP, ICMP echo sockets and TCP, and the port table that hands out
//! ports. It does no I/O: the driver pushes packets and time in and polls
//! packets, deadlines and events out (see [`stack`](crate::Stack) for the
//! order). The same stack runs in the simulator on virtual time and on a TUN
//! device on the real clock.
//!
//! What it deliberately leaves out: IPv6, ARP (links deliver to a next-hop
//! address directly, and report an unreachable neighbour through
//! `handle_unreachable`), IP options other than carrying them, multicast.
#![forbid(unsafe_code)]

pub mod config;
pub use tcplab_base::hash;
pub mod hook;
pub mod icmp;
pub mod iface;
pub mod ip;
pub mod ping;
pub mod ports;
pub use tcplab_base::rand;
pub mod raw;
pub mod route;
pub mod services;
pub mod socket;
pub mod stats;
pub mod tcp;
pub use tcplab_base::time;
pub mod udp;

mod slab;
mod stack;

pub use config::{Config, LoopbackCost};
pub use hook::{HookPoint, HookVerdict, PacketHook};
pub use iface::{IfaceId, Interface};
pub use ports::PortRange;
pub use rand::Rng;
pub use raw::RawDatagram;
pub use route::{Route, RouteOrigin};
pub use socket::{
    BindError, Event, IcmpErrorReport, PingHandle, PingMessage, PmtuDisc, RawHandle, RecvError,
    SendError, SocketError, SocketId, SocketKind, TcpHandle, UdpDatagram, UdpHandle,
};
pub use stack::{ConfigError, Stack, Transmit};
pub use stats::Stats;
pub use tcp::{ConnectError, State as TcpState, TcpInfo};
pub use tcplab_wire::Cidr;
pub use time::Instant;
