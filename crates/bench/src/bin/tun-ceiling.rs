//! The TUN device's own packet-rate ceiling, without any TCP/IP stack in
//! user space: how many 1500-byte datagrams per second a process can hand
//! the kernel through the device (write), and read from it (read, with the
//! kernel sending UDP as fast as it can). Run as root inside a network
//! namespace (`scripts/bench-tun.sh` does):
//!
//! `tun-ceiling DEVICE` — creates DEVICE with 10.78.0.1/24 on the kernel's
//! side and pretends to be 10.78.0.2.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]
// A measurement of the machine: real clock on purpose.

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use tcplab_tun::sys::{open_tun, poll, Wait};

const SECONDS: f64 = 2.0;

fn main() -> std::io::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "tceil0".into());
    let mut tun = open_tun(&name, false)?;
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("ip addr add 10.78.0.1/24 dev {name} && ip link set {name} up mtu 1500"),
        ])
        .status()?;
    assert!(ok.success(), "configuring {name}");
    let me = Ipv4Addr::new(10, 78, 0, 2);
    let kernel = Ipv4Addr::new(10, 78, 0, 1);

    // Write: datagrams into the device, to a kernel UDP socket that is
    // not read (the kernel drops them at its receive buffer); counts what
    // the device accepted.
    let _sink = UdpSocket::bind((kernel, 9))?;
    let packet = tcplab_bench::udp_datagram((me, 40000), kernel, 1500, 1);
    let start = Instant::now();
    let mut written = 0u64;
    while start.elapsed().as_secs_f64() < SECONDS {
        for _ in 0..256 {
            if std::io::Write::write(&mut tun, &packet).is_ok() {
                written += 1;
            }
        }
    }
    let w = written as f64 / start.elapsed().as_secs_f64();
    println!(
        "write into {name}: {:.0} packets/s of 1500 bytes = {:.2} Gbit/s",
        w,
        w * 1500.0 * 8.0 / 1e9
    );

    // Read: the kernel sends UDP to 10.78.0.2 from another thread as fast
    // as it can; count what arrives through the device.
    let sender = std::thread::spawn(move || -> std::io::Result<u64> {
        let s = UdpSocket::bind((kernel, 0))?;
        let data = vec![0u8; 1472];
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed().as_secs_f64() < SECONDS {
            if s.send_to(&data, (me, 9)).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    });
    let mut buf = vec![0u8; 2048];
    let mut read = 0u64;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < SECONDS + 0.2 {
        let mut w = [Wait::read(std::os::fd::AsRawFd::as_raw_fd(&tun))];
        poll(&mut w, Some(Duration::from_millis(50)))?;
        while let Ok(n) = std::io::Read::read(&mut tun, &mut buf) {
            if n > 0 && buf[9] == 17 {
                read += 1;
            }
        }
    }
    let sent = sender.join().expect("sender")?;
    let r = read as f64 / SECONDS;
    println!(
        "read from {name}: {:.0} packets/s of 1500 bytes = {:.2} Gbit/s (kernel sent {:.0}/s)",
        r,
        r * 1500.0 * 8.0 / 1e9,
        sent as f64 / SECONDS
    );
    Ok(())
}
