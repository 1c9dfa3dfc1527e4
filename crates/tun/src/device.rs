//! A TUN interface with the kernel's end addressed: created (or attached
//! to, if a persistent one exists), checked against the kernel's routes,
//! configured with `ip`, and torn down again.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::Command;

use tcplab_wire::Cidr;

use crate::{sys, vnet};

/// What to set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub name: String,
    /// The stack's address and prefix (`--addr`).
    pub addr: Cidr,
    /// The kernel's address on the device (`--peer`).
    pub peer: Ipv4Addr,
    pub mtu: usize,
    /// Move the device into this network namespace, and give the kernel's
    /// end its address there (a router's devices face different
    /// namespaces).
    pub netns: Option<String>,
    /// Ask the kernel for checksum and segmentation offload (a
    /// `virtio_net_hdr` before each packet; TCP segments of up to 64 KiB
    /// from the kernel). Off for a router, whose datagrams leave by
    /// another device of its MTU, and when impairments act per datagram.
    pub offload: bool,
}

impl DeviceSpec {
    /// The kernel's default address: the first host address of the
    /// prefix, or the next one if that is the stack's own.
    pub fn default_peer(addr: Cidr) -> Ipv4Addr {
        let net = u32::from(addr.network().address());
        if addr.prefix_len() == 31 {
            // RFC 3021: the other of the two.
            return Ipv4Addr::from(u32::from(addr.address()) ^ 1);
        }
        let first = Ipv4Addr::from(net.wrapping_add(1));
        if first == addr.address() {
            Ipv4Addr::from(net.wrapping_add(2))
        } else {
            first
        }
    }
}

/// Why the device could not be set up: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// What one read from the device gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Nothing is waiting.
    Nothing,
    /// A datagram, at this range of the buffer.
    Datagram(Range<usize>),
    /// A datagram was dropped (malformed offload header).
    Dropped,
}

/// An open TUN device.
#[derive(Debug)]
pub struct Device {
    file: File,
    pub name: String,
    /// The interface did not exist before: it goes away when we close it.
    pub created: bool,
    /// We added the kernel's address (to remove on an attached device).
    added_addr: Option<String>,
    netns: Option<String>,
    /// Packets carry a `virtio_net_hdr` (offloads are on).
    vnet: bool,
    /// Packets from the kernel dropped because their offload header was
    /// malformed.
    pub malformed: u64,
}

fn ip(args: &[&str]) -> Result<String, SetupError> {
    ipn(None, args)
}

/// `ip`, in network namespace `ns` if given (`ip -n NS ...`).
fn ipn(ns: Option<&str>, args: &[&str]) -> Result<String, SetupError> {
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| SetupError(format!("cannot run `ip`: {e} (is iproute2 installed?)")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(SetupError(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            err.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The kernel's IPv4 routes as (prefix, device), from `ip -4 route`.
fn kernel_routes(ns: Option<&str>) -> Result<Vec<(Cidr, String)>, SetupError> {
    let text = ipn(ns, &["-4", "-o", "route", "show", "table", "all"])?;
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(mut first) = words.first().copied() else {
            continue;
        };
        // Skip default routes, broadcast entries and the local table's
        // host entries (the kernel's own addresses; its address on our
        // device is checked apart). A local *prefix* (an address added
        // to lo with a prefix makes `local 10.7.0.0/24 dev lo`) takes
        // the whole prefix for the kernel itself: nothing would reach the
        // device, so it clashes like any route.
        if first == "local" {
            match words.get(1) {
                Some(p) if p.contains('/') => first = p,
                _ => continue,
            }
        }
        if matches!(first, "default" | "broadcast") {
            continue;
        }
        // A route that refuses (`blackhole 10.7.5.0/24`): the type stands
        // for the device in what it is called.
        if matches!(first, "unreachable" | "prohibit" | "blackhole" | "throw") {
            match words.get(1) {
                Some(p) if *p != "default" => {
                    let prefix = if p.contains('/') {
                        p.parse::<Cidr>().ok()
                    } else {
                        p.parse::<Ipv4Addr>().ok().map(Cidr::host)
                    };
                    if let Some(prefix) = prefix {
                        out.push((prefix.network(), format!("({first})")));
                    }
                }
                _ => {}
            }
            continue;
        }
        let prefix = if first.contains('/') {
            first.parse::<Cidr>().ok()
        } else {
            first.parse::<Ipv4Addr>().ok().map(Cidr::host)
        };
        let dev = words
            .windows(2)
            .find(|w| w[0] == "dev")
            .map(|w| w[1].to_string())
            .unwrap_or_default();
        if let Some(p) = prefix {
            out.push((p.network(), dev));
        }
    }
    Ok(out)
}

/// The kernel's IPv4 addresses as (address, device).
fn kernel_addrs(ns: Option<&str>) -> Result<Vec<(Ipv4Addr, String)>, SetupError> {
    let text = ipn(ns, &["-4", "-o", "addr", "show"])?;
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "inet") {
            if let Some(a) = words.get(i + 1).and_then(|c| c.parse::<Cidr>().ok()) {
                out.push((a.address(), words.get(1).unwrap_or(&"").to_string()));
            }
        }
    }
    Ok(out)
}

/// "Permission denied", without Rust's " (os error 13)".
pub(crate) fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn describe(e: &io::Error, name: &str) -> String {
    let text = os_text(e);
    match e.raw_os_error() {
        // EACCES when /dev/net/tun itself may not be opened, EPERM when it
        // may (mode 0666, as on many systems) but TUNSETIFF is refused: the
        // same cause, said the same way.
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "cannot create TUN device {name}: permission denied (creating a TUN device needs root or CAP_NET_ADMIN)"
        ),
        Some(libc::ENOENT) => {
            "cannot open /dev/net/tun: no TUN support in this kernel or container".into()
        }
        Some(libc::EBUSY) => format!("cannot use {name}: it is in use by another process"),
        _ => format!("cannot create TUN device {name}: {text}"),
    }
}

impl Device {
    /// Check the spec against the kernel, then create or attach and
    /// configure the device.
    pub fn open(spec: &DeviceSpec) -> Result<Device, SetupError> {
        let name = &spec.name;
        if spec.peer == spec.addr.address() {
            return Err(SetupError(format!(
                "the kernel's address (--peer {}) must differ from the stack's (--addr {})",
                spec.peer, spec.addr
            )));
        }
        if !spec.addr.contains(spec.peer) {
            return Err(SetupError(format!(
                "--peer {} is not in {}",
                spec.peer,
                spec.addr.network()
            )));
        }
        crate::sys::check_ifname(name).map_err(SetupError)?;
        let ns = spec.netns.as_deref();
        let sys_dir = Path::new("/sys/class/net").join(name);
        let existed = sys_dir.exists();
        if existed && !sys_dir.join("tun_flags").exists() {
            return Err(SetupError(format!("{name} exists and is not a TUN device")));
        }
        // The tun driver's TAP devices have tun_flags too: IFF_TAP (0x2).
        let tap = std::fs::read_to_string(sys_dir.join("tun_flags"))
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & 0x2 != 0);
        if existed && tap {
            return Err(SetupError(format!(
                "{name} exists and is a TAP device, not a TUN device"
            )));
        }
        if let Some(ns) = ns {
            if !Path::new("/run/netns").join(ns).exists() {
                return Err(SetupError(format!(
                    "network namespace {ns} does not exist (make it with `ip netns add {ns}`)"
                )));
            }
            if existed {
                return Err(SetupError(format!(
                    "{name} already exists here; a device for netns {ns} must be new"
                )));
            }
            if ipn(Some(ns), &["link", "show", name]).is_ok() {
                return Err(SetupError(format!("{name} already exists in netns {ns}")));
            }
        }
        let net = spec.addr.network();
        for (route, dev) in kernel_routes(ns)? {
            // A refusing route inside the prefix (or equal to it) would
            // swallow its traffic; a wider one loses to the device's own,
            // more specific, route.
            if let Some(kind) = dev.strip_prefix('(').and_then(|d| d.strip_suffix(')')) {
                if net.contains_prefix(&route) {
                    return Err(SetupError(format!(
                        "{net} clashes with the kernel's {kind} route to {route}; pick another prefix"
                    )));
                }
                continue;
            }
            if dev != *name && route.overlaps(&net) {
                return Err(SetupError(format!(
                    "{net} clashes with the kernel's route to {route} via {dev}; pick another prefix"
                )));
            }
        }
        for (addr, dev) in kernel_addrs(ns)? {
            if addr == spec.addr.address() {
                return Err(SetupError(format!(
                    "{addr} is already the kernel's address on {dev}"
                )));
            }
        }
        let file = sys::open_tun(name, spec.offload).map_err(|e| SetupError(describe(&e, name)))?;
        // Checksum and TCPv4 segmentation offload; a kernel that refuses
        // them still sends the header (with nothing to do in it). The
        // kernel keeps these settings with the interface, so on a device
        // that existed they are set either way: a run with offloads before
        // this one must not leave the kernel sending 64 KiB segments with
        // partial checksums to a reader that takes none.
        if spec.offload {
            sys::set_vnet_header_size(&file, vnet::LEN as libc::c_int)
                .map_err(|e| SetupError(format!("{name}: cannot set the offload header: {e}")))?;
        }
        let offloads = if spec.offload {
            sys::TUN_F_CSUM | sys::TUN_F_TSO4
        } else {
            0
        };
        let _ = sys::set_offload(&file, offloads);
        let mut dev = Device {
            file,
            name: name.clone(),
            created: !existed,
            added_addr: None,
            netns: spec.netns.clone(),
            vnet: spec.offload,
            malformed: 0,
        };
        if let Some(ns) = ns {
            ip(&["link", "set", "dev", name, "netns", ns])?;
        }
        let peer = format!("{}/{}", spec.peer, spec.addr.prefix_len());
        let has = kernel_addrs(ns)?
            .iter()
            .any(|(a, d)| *a == spec.peer && d == name);
        if !has {
            ipn(ns, &["addr", "add", &peer, "dev", name])?;
            dev.added_addr = Some(peer);
        }
        let mtu = spec.mtu.to_string();
        ipn(ns, &["link", "set", "dev", name, "mtu", &mtu, "up"])?;
        Ok(dev)
    }

    /// Bytes a buffer for [`Device::recv`] needs: the largest datagram and
    /// the offload header.
    pub const RECV_BUF: usize = 65_535 + vnet::LEN;

    /// The next datagram from the kernel, if one is waiting: where it is
    /// in `buf` (after the offload header, its checksum completed). A
    /// datagram with a malformed offload header is dropped and counted.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let n = match self.file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Received::Nothing),
            Err(e) => return Err(e),
        };
        if !self.vnet {
            return Ok(Received::Datagram(0..n));
        }
        Ok(match vnet::receive(&mut buf[..n]) {
            Ok((_, range)) => Received::Datagram(range),
            Err(_) => {
                self.malformed += 1;
                Received::Dropped
            }
        })
    }

    /// Whether packets carry an offload header (and may be joined for
    /// the kernel to segment: [`Device::send_with_header`]).
    pub fn offloads(&self) -> bool {
        self.vnet
    }

    /// Hand the kernel a datagram that already starts with its offload
    /// header (a joined write from [`crate::gso::Coalescer`]).
    pub fn send_with_header(&mut self, bytes: &[u8]) -> io::Result<bool> {
        debug_assert!(self.vnet);
        Self::outcome(self.file.write(bytes))
    }

    /// Hand a datagram to the kernel. A full queue drops it, as a link
    /// would.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<bool> {
        let written = if self.vnet {
            // A header saying there is nothing to do: the stack computed
            // every checksum, and segments are no larger than the MTU.
            self.file
                .write_vectored(&[IoSlice::new(&vnet::Header::PLAIN), IoSlice::new(bytes)])
        } else {
            self.file.write(bytes)
        };
        Self::outcome(written)
    }

    fn outcome(written: io::Result<usize>) -> io::Result<bool> {
        match written {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            // The kernel refuses datagrams it cannot parse; that is the
            // datagram's problem, not the device's.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // A device we created disappears with its descriptor; on one we
        // attached to, take back the address we added.
        if !self.created {
            if let Some(a) = &self.added_addr {
                let _ = ipn(
                    self.netns.as_deref(),
                    &["addr", "del", a, "dev", &self.name],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_peer_is_the_first_host() {
        let c: Cidr = "10.7.0.2/24".parse().unwrap();
        assert_eq!(DeviceSpec::default_peer(c), Ipv4Addr::new(10, 7, 0, 1));
        let c: Cidr = "10.7.0.1/24".parse().unwrap();
        assert_eq!(DeviceSpec::default_peer(c), Ipv4Addr::new(10, 7, 0, 2));
        // A point-to-point /31 (RFC 3021): the other address.
        let c: Cidr = "10.7.0.4/31".parse().unwrap();
        assert_eq!(DeviceSpec::default_peer(c), Ipv4Addr::new(10, 7, 0, 5));
        let c: Cidr = "10.7.0.5/31".parse().unwrap();
        assert_eq!(DeviceSpec::default_peer(c), Ipv4Addr::new(10, 7, 0, 4));
    }
}
