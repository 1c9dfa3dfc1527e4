//! Running a tcplab host stack on a Linux TUN device.
//!
//! [`run`] creates (or attaches to) a TUN interface, gives the kernel's end
//! an address so that the kernel routes the prefix into it, and drives one
//! host — the same `Stack` and `Host` the simulator uses — from the real
//! clock: datagrams the kernel writes to the device go into the stack, what
//! the stack sends goes to the kernel. A tool command runs on that host;
//! further commands (and `ss`) attach through a control socket. Optional
//! impairments (the simulator's link model) apply to both directions.
//!
//! The only `unsafe` code is in [`sys`]: the `TUNSETIFF` and
//! `TUNSETOFFLOAD` ioctls and `poll`.
#![deny(unsafe_code)]

pub mod control;
pub mod device;
pub mod fs;
pub mod gso;
pub mod runtime;
pub mod sys;
pub mod vnet;

pub use control::{attach, socket_path, AttachIo};
pub use device::{Device, DeviceSpec, SetupError};
pub use fs::RealFs;
pub use runtime::{
    route, run, Launcher, Policy, RouteOptions, RunOptions, TunPacket, TunRecording,
};
