//! A host: one [`Stack`] plus the applications running on it.
//!
//! Applications (the tools: ping, traceroute, nc, servers, ...) are async
//! functions written against [`Host`] and its socket types. They never see
//! the driver: the same code runs in the simulator on virtual time and over
//! a TUN device on the real clock, because the driver only ever
//!
//! * feeds packets and time in (`handle_packet`, `handle_timeout`),
//! * lets the host run its applications and drain the stack
//!   ([`Host::service`]), which hands every outgoing datagram to a callback,
//! * and asks when to come back ([`Host::poll_timeout`]).
//!
//! The executor is single-threaded and deterministic: ready tasks run in the
//! order they were woken, timers fire in deadline order (ties by creation),
//! and nothing reads a clock. Socket readiness comes from the stack's events,
//! so a task waiting on a socket is woken exactly when that socket changed.
#![forbid(unsafe_code)]

mod executor;
mod filter;
pub mod fs;
mod host;
mod io;
pub mod local;
mod names;
mod sockets;
mod tcp;
mod time;
pub mod tundev;

pub use executor::{JoinHandle, Pid};
pub use filter::NetfilterHook;
pub use fs::{FileSystem, MemFs, DEFAULT_DISK};
pub use host::{Host, ProcessInfo, Serviced, Tap, TapDirection, Tapped, LAB_EPOCH};
pub use io::{
    LineSplitter, Output, OutputChunk, OutputLine, OutputSink, Signal, Signals, Stdin, Stream,
};
pub use local::{
    stale as stale_local, unlink as unlink_local, LocalCost, LocalDatagram, LocalInfo, LocalKind,
    LocalListener, LocalState, LocalStream,
};
pub use names::{Names, ResolverConfig};
pub use sockets::{PingSocket, RawSocket, UdpSocket};
pub use tcp::{TcpListener, TcpStream};
pub use tcplab_stack::{Instant, Stack};
pub use time::{timeout, Elapsed};
pub use tundev::{TunnelDevice, TunnelError, TunnelInfo, TunnelStatus};
