//! Network interfaces: a name, addresses, an MTU and counters.
//!
//! Interface 0 of every stack is the loopback interface `lo` with
//! `127.0.0.1/8` and MTU 65536, as a Linux host has it; datagrams routed to it
//! never leave the host (RFC 1122 §3.2.1.3(g)).

use std::net::Ipv4Addr;

use tcplab_wire::Cidr;

pub use tcplab_base::IfaceId;

/// Packet and byte counters of an interface (`netstat -i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfaceCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_dropped: u64,
}

/// One interface.
#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    /// Addresses with their prefixes; the first is the primary address used
    /// as a source.
    pub addrs: Vec<Cidr>,
    pub mtu: usize,
    pub loopback: bool,
    /// A point-to-point tunnel interface: what is routed into it goes to
    /// a process (the tunnel's daemon) instead of a link, as with a Linux
    /// TUN device (`ip link` shows `POINTOPOINT`, `link/none`).
    pub tunnel: bool,
    pub counters: IfaceCounters,
}

impl Interface {
    pub fn loopback() -> Interface {
        Interface {
            name: "lo".into(),
            addrs: vec![Cidr::new(Ipv4Addr::LOCALHOST, 8).expect("valid prefix")],
            mtu: 65536,
            loopback: true,
            tunnel: false,
            counters: IfaceCounters::default(),
        }
    }

    pub fn primary_addr(&self) -> Option<Ipv4Addr> {
        self.addrs.first().map(|c| c.address())
    }

    /// Whether `addr` is one of this interface's addresses (or, on loopback,
    /// anywhere in 127.0.0.0/8).
    pub fn owns(&self, addr: Ipv4Addr) -> bool {
        if self.loopback && addr.is_loopback() {
            return true;
        }
        self.addrs.iter().any(|c| c.address() == addr)
    }

    /// Whether `addr` is the directed broadcast address of one of its subnets.
    pub fn is_subnet_broadcast(&self, addr: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.broadcast() == Some(addr))
    }

    /// Whether `addr` is on one of this interface's subnets.
    pub fn on_link(&self, addr: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.contains(addr))
    }

    /// The address to use as a source towards `dst` on this interface: one on
    /// the same subnet if there is one, else the primary address.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|c| c.contains(dst))
            .or(self.addrs.first())
            .map(|c| c.address())
    }
}
