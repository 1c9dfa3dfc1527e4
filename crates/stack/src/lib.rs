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
//!
//! # Example: two stacks on one wire
//!
//! The driver below is all a stack needs: datagrams moved between the two
//! (a real one would write them to a device), time advanced to the next
//! deadline either stack asks for, and the socket calls in between.
//!
//! ```
//! use tcplab_stack::{Config, IfaceId, Instant, Stack, TcpState};
//!
//! let mut a = Stack::new(Config { seed: 1, ..Config::default() });
//! let mut b = Stack::new(Config { seed: 2, ..Config::default() });
//! let eth_a = a.add_interface("eth0", "10.0.0.1/24".parse()?, 1500)?;
//! let eth_b = b.add_interface("eth0", "10.0.0.2/24".parse()?, 1500)?;
//! let listener = b.tcp_listen("10.0.0.2:80".parse()?, 8)?;
//! let mut now = Instant::ZERO;
//! let client = a.tcp_connect(now, "10.0.0.2:80".parse()?, None)?;
//!
//! /// Move everything either stack has to send until both are quiet.
//! fn wire(now: Instant, a: &mut Stack, ia: IfaceId, b: &mut Stack, ib: IfaceId) {
//!     let mut buf = Vec::new();
//!     loop {
//!         let mut moved = false;
//!         while let Some(t) = a.poll_transmit(now, &mut buf) {
//!             b.handle_packet(now, ib, &buf[..t.len]);
//!             moved = true;
//!         }
//!         while let Some(t) = b.poll_transmit(now, &mut buf) {
//!             a.handle_packet(now, ia, &buf[..t.len]);
//!             moved = true;
//!         }
//!         if !moved {
//!             return;
//!         }
//!     }
//! }
//!
//! wire(now, &mut a, eth_a, &mut b, eth_b);
//! let server = b.tcp_accept(listener)?;
//! assert_eq!(a.tcp_state(client), Some(TcpState::Established));
//!
//! a.tcp_send(client, b"hello")?;
//! a.tcp_close(now, client);
//! wire(now, &mut a, eth_a, &mut b, eth_b);
//! let mut got = [0u8; 16];
//! let n = b.tcp_recv(server, &mut got)?;
//! assert_eq!(&got[..n], b"hello");
//! assert_eq!(b.tcp_recv(server, &mut got)?, 0); // the FIN: end of stream
//! b.tcp_close(now, server);
//!
//! // Timers (delayed ACKs, TIME-WAIT's 2 MSL) run when the driver says the
//! // time has come; here time jumps straight to each deadline.
//! while let Some(at) = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
//!     now = now.max(at);
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//!     wire(now, &mut a, eth_a, &mut b, eth_b);
//!     if a.tcp_state(client).is_none() && b.tcp_state(server).is_none() {
//!         break;
//!     }
//! }
//! assert!(now >= Instant::from_secs(60), "the client waited out TIME-WAIT");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
