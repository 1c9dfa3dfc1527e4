//! The kernel interfaces that need `unsafe`: attaching a file descriptor to
//! a TUN interface (`ioctl(TUNSETIFF)`) and waiting on descriptors
//! (`poll`). Everything else — opening `/dev/net/tun`, reading and writing
//! packets — goes through `std::fs::File`.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

/// `_IOW('T', 202, int)`, from `<linux/if_tun.h>`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Each packet is preceded by a `struct virtio_net_hdr` (offload state).
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `_IOW('T', 208, unsigned int)`: the offloads the reader takes.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `_IOW('T', 216, int)`: the size of the offload header.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
/// Offload flags of TUNSETOFFLOAD, from `<linux/if_tun.h>`.
pub const TUN_F_CSUM: libc::c_ulong = 0x01;
pub const TUN_F_TSO4: libc::c_ulong = 0x02;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags, padded
/// to the size of the kernel's union.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Whether `name` can name a Linux interface (the kernel's dev_valid_name:
/// 1 to 15 bytes, no `/`, whitespace or NUL, not `.` or `..`); the
/// problem in one line if not.
pub fn check_ifname(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name == "."
        || name == ".."
        || name.contains(['/', ':', '\0'])
        || name.chars().any(char::is_whitespace);
    if bad {
        Err(format!(
            "`{name}` is not a valid interface name (1 to 15 characters, no `/`, `:` or spaces)"
        ))
    } else {
        Ok(())
    }
}

/// Open `/dev/net/tun` and attach it to the TUN interface `name`, creating
/// the interface if it does not exist. Packets are raw IPv4/IPv6 datagrams
/// (no packet-information header), each preceded by a 10-byte
/// `virtio_net_hdr` if `vnet_hdr`. The descriptor is non-blocking.
pub fn open_tun(name: &str, vnet_hdr: bool) -> io::Result<File> {
    check_ifname(name).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI | if vnet_hdr { IFF_VNET_HDR } else { 0 },
        _pad: [0; 22],
    };
    for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: `file` is an open descriptor of /dev/net/tun, and `req` is a
    // properly initialised `struct ifreq` (NUL-terminated name shorter than
    // IFNAMSIZ, flags, padding to the union's size) that outlives the call;
    // TUNSETIFF reads it and writes the final name back into it.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Tell the kernel which offloads the reader of `file` (opened with a
/// `virtio_net_hdr`) takes: with `TUN_F_CSUM` the kernel may leave a
/// packet's transport checksum for us to complete, with `TUN_F_TSO4` it
/// may hand us TCP segments of up to 64 KiB (generic segmentation offload).
pub fn set_offload(file: &File, flags: libc::c_ulong) -> io::Result<()> {
    // SAFETY: `file` is an open descriptor of /dev/net/tun attached to an
    // interface; TUNSETOFFLOAD takes its argument by value and touches no
    // memory of ours.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD, flags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set the size of the offload header before each packet (the kernel
/// keeps it with the interface: another program may have changed it).
pub fn set_vnet_header_size(file: &File, size: libc::c_int) -> io::Result<()> {
    // SAFETY: as above; TUNSETVNETHDRSZ reads one `int` through the
    // pointer, which points at a live local for the duration of the call.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            TUNSETVNETHDRSZ,
            &size as *const libc::c_int,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One descriptor to wait on, and what happened to it.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub fd: RawFd,
    pub readable: bool,
    pub writable: bool,
    /// Set by [`poll`]: readable now (or hung up / in error).
    pub ready: bool,
}

impl Wait {
    pub fn read(fd: RawFd) -> Wait {
        Wait {
            fd,
            readable: true,
            writable: false,
            ready: false,
        }
    }
}

/// Wait until one of `fds` is ready or `timeout` passes (`None`: forever).
/// A signal interrupts the wait; that is not an error (returns 0).
pub fn poll(fds: &mut [Wait], timeout: Option<Duration>) -> io::Result<usize> {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|w| libc::pollfd {
            fd: w.fd,
            events: (if w.readable { libc::POLLIN } else { 0 })
                | (if w.writable { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        None => -1,
        // Round up, so that a deadline is never polled for just before it.
        Some(t) => t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: `raw` is a live, correctly sized array of `pollfd` for the
    // duration of the call, and its length is passed with it.
    let n = unsafe { libc::poll(raw.as_mut_ptr(), raw.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    for (w, r) in fds.iter_mut().zip(&raw) {
        w.ready = r.revents != 0;
    }
    Ok(n as usize)
}

#[cfg(test)]
mod name_tests {
    use super::check_ifname;

    #[test]
    fn interface_names_as_the_kernel_takes_them() {
        for good in ["tun0", "a", "tcplab-tun.1", "fifteen-chars15"] {
            assert!(check_ifname(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "sixteen-chars-16",
            "a\0",
        ] {
            let e = check_ifname(bad).unwrap_err();
            assert!(e.contains("is not a valid interface name"), "{bad:?}: {e}");
        }
    }
}
