//! Tunnel devices: an interface whose datagrams go to a process.
//!
//! A tunnel's daemon (the `tunnel` tool) asks for a device with
//! [`Host::create_tunnel`]. The stack routes datagrams into the device's
//! interface like into any other; [`Host::service`] hands those to the
//! device's queue instead of the driver, and the daemon reads them with
//! [`TunnelDevice::recv`], encapsulates them and sends them with the host's
//! own UDP or TCP sockets. What the daemon decapsulates it hands back with
//! [`TunnelDevice::inject`], as if it had arrived on the interface. This is
//! a Linux TUN device with its reader, inside one host: taps (tcpdump) see
//! the inner datagrams on the tunnel interface and the outer ones on the
//! link.
//!
//! When the daemon drops its device, the interface stays (addresses and
//! routes too) but has no reader: datagrams routed into it are dropped and
//! counted (`tx_dropped`), until a new daemon attaches to it by name.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::task::{Poll, Waker};

use tcplab_stack::{ConfigError, IfaceId};
use tcplab_wire::Cidr;

use crate::host::Host;

/// Datagrams a device holds for its reader at most (a TUN device's
/// `txqueuelen` is 500 on Linux); beyond it they are dropped and counted.
pub const TUNNEL_QUEUE: usize = 500;

/// What a tunnel's daemon says about itself when asked (`tunnel show`,
/// `wg show`): its kind and a few lines of status.
pub trait TunnelStatus {
    /// "tcp", "wireguard", ...
    fn kind(&self) -> &'static str;
    /// Lines of status at `host`'s present time.
    fn show(&self, host: &Host) -> Vec<String>;
    /// The daemon as a value, for a tool that knows its type (`wg show`).
    fn as_any(&self) -> &dyn std::any::Any;
}

#[derive(Default)]
pub(crate) struct DeviceQueue {
    packets: VecDeque<Vec<u8>>,
    waker: Option<Waker>,
    attached: bool,
    status: Option<Rc<dyn TunnelStatus>>,
}

impl fmt::Debug for DeviceQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceQueue")
            .field("packets", &self.packets.len())
            .field("attached", &self.attached)
            .finish()
    }
}

/// A tunnel interface as `tunnel show` lists it.
#[derive(Clone)]
pub struct TunnelInfo {
    pub iface: IfaceId,
    pub name: String,
    /// A daemon serves it.
    pub attached: bool,
    /// Datagrams waiting for the daemon.
    pub queued: usize,
    pub status: Option<Rc<dyn TunnelStatus>>,
}

impl fmt::Debug for TunnelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelInfo")
            .field("name", &self.name)
            .field("attached", &self.attached)
            .finish()
    }
}

impl DeviceQueue {
    /// Take a datagram routed into the device; false when it must be
    /// dropped (no reader, or the queue is full).
    pub(crate) fn offer(&mut self, bytes: &[u8]) -> bool {
        if !self.attached || self.packets.len() >= TUNNEL_QUEUE {
            return false;
        }
        self.packets.push_back(bytes.to_vec());
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        true
    }
}

/// Why a tunnel device could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelError {
    /// The stack refused the interface (address in use, MTU too small).
    Config(ConfigError),
    /// The name belongs to an interface that is not a tunnel.
    NotATunnel(String),
    /// A daemon already serves a tunnel of that name.
    Busy(String),
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Config(e) => write!(f, "{e}"),
            TunnelError::NotATunnel(n) => write!(f, "{n} exists and is not a tunnel"),
            TunnelError::Busy(n) => write!(f, "{n} is in use by another tunnel"),
        }
    }
}

impl std::error::Error for TunnelError {}

/// The daemon's end of a tunnel interface.
pub struct TunnelDevice {
    host: Host,
    iface: IfaceId,
    queue: Rc<RefCell<DeviceQueue>>,
}

impl fmt::Debug for TunnelDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelDevice")
            .field("iface", &self.iface)
            .finish()
    }
}

impl Host {
    /// Make (or take over, if one of that name has no daemon) a tunnel
    /// interface `name` with address `addr` and `mtu`.
    pub fn create_tunnel(
        &self,
        name: &str,
        addr: Cidr,
        mtu: usize,
    ) -> Result<TunnelDevice, TunnelError> {
        let existing = self.with_stack(|s| s.interface_named(name));
        let iface = match existing {
            Some(iface) => {
                let tunnel = self.with_stack(|s| s.interfaces()[iface.0].tunnel);
                if !tunnel {
                    return Err(TunnelError::NotATunnel(name.to_string()));
                }
                let owned = self.with_stack(|s| s.interfaces()[iface.0].owns(addr.address()));
                if !owned {
                    return Err(TunnelError::Config(ConfigError::DuplicateName(
                        name.to_string(),
                    )));
                }
                self.with_stack(|s| s.set_mtu(iface, mtu))
                    .map_err(TunnelError::Config)?;
                iface
            }
            None => self
                .with_stack(|s| s.add_tunnel_interface(name, addr, mtu))
                .map_err(TunnelError::Config)?,
        };
        let queue = self.tunnel_queue(iface);
        {
            let mut q = queue.borrow_mut();
            if q.attached {
                return Err(TunnelError::Busy(name.to_string()));
            }
            q.attached = true;
            q.packets.clear();
        }
        Ok(TunnelDevice {
            host: self.clone(),
            iface,
            queue,
        })
    }
}

impl Host {
    /// The host's tunnel interfaces, in the order they were made.
    pub fn tunnels(&self) -> Vec<TunnelInfo> {
        let list: Vec<(IfaceId, Rc<RefCell<DeviceQueue>>)> = self.tunnel_queues();
        list.into_iter()
            .map(|(iface, q)| {
                let q = q.borrow();
                TunnelInfo {
                    iface,
                    name: self.with_stack(|s| s.interfaces()[iface.0].name.clone()),
                    attached: q.attached,
                    queued: q.packets.len(),
                    status: q.status.clone(),
                }
            })
            .collect()
    }
}

impl TunnelDevice {
    pub fn iface(&self) -> IfaceId {
        self.iface
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The interface's MTU now.
    pub fn mtu(&self) -> usize {
        self.host
            .with_stack(|s| s.interfaces().get(self.iface.0).map_or(0, |i| i.mtu))
    }

    /// Change the interface's MTU (the listening end of a tunnel learns
    /// its peer's path only when the peer calls).
    pub fn set_mtu(&self, mtu: usize) -> Result<(), ConfigError> {
        self.host.with_stack(|s| s.set_mtu(self.iface, mtu))
    }

    /// The next datagram the stack routed into the interface.
    pub async fn recv(&self) -> Vec<u8> {
        std::future::poll_fn(|cx| {
            let mut q = self.queue.borrow_mut();
            match q.packets.pop_front() {
                Some(p) => Poll::Ready(p),
                None => {
                    q.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// A decapsulated datagram arrives on the interface.
    pub fn inject(&self, bytes: &[u8]) {
        let now = self.host.now();
        self.host.handle_packet(now, self.iface, bytes);
    }

    /// Datagrams waiting to be read, without waiting.
    pub fn try_recv(&self) -> Option<Vec<u8>> {
        self.queue.borrow_mut().packets.pop_front()
    }

    /// Publish the daemon's status (see [`TunnelStatus`]).
    pub fn set_status(&self, status: Rc<dyn TunnelStatus>) {
        self.queue.borrow_mut().status = Some(status);
    }

    /// Route `dest` into the tunnel (`ip route add DEST dev NAME`).
    pub fn add_route(&self, dest: Cidr) -> Result<(), ConfigError> {
        self.host
            .with_stack(|s| s.add_device_route(dest, self.iface))
    }
}

impl Drop for TunnelDevice {
    fn drop(&mut self) {
        let mut q = self.queue.borrow_mut();
        q.attached = false;
        q.packets.clear();
        q.waker = None;
        q.status = None;
    }
}
