//! Tunables of a stack, with the defaults of a Linux host where Linux has one.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::tcp::TcpConfig;

/// Configuration of one host's stack.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of every random choice the stack makes (IP IDs, ephemeral ports,
    /// ISNs, ping identifiers).
    pub seed: u64,
    /// TTL of datagrams this host originates (Linux `ip_default_ttl`).
    pub default_ttl: u8,
    /// Forward datagrams not addressed to this host (a router).
    pub forwarding: bool,
    /// Send ICMP redirects when forwarding back out the arrival interface
    /// (RFC 1812 §5.2.7.2). Only meaningful with `forwarding`.
    pub send_redirects: bool,
    /// Act on received redirects (hosts only; RFC 1122 §3.2.2.2).
    pub accept_redirects: bool,
    /// Ignore echo requests sent to a broadcast address (Linux default).
    pub echo_ignore_broadcasts: bool,
    /// Per-destination spacing of ICMP errors (Linux `icmp_ratelimit`,
    /// 1 s by default, in bursts of six); zero disables it.
    pub icmp_ratelimit: Duration,
    /// Token bucket over all ICMP errors (Linux `icmp_msgs_per_sec`).
    pub icmp_msgs_per_sec: u32,
    /// Depth of that bucket (Linux `icmp_msgs_burst`).
    pub icmp_msgs_burst: u32,
    /// How long fragments of one datagram are held (Linux `ipfrag_time`).
    pub reassembly_timeout: Duration,
    /// Bytes held by all reassembly buffers together (Linux
    /// `ipfrag_high_thresh`); beyond it the oldest datagram is dropped.
    pub reassembly_max_bytes: usize,
    /// Datagrams under reassembly at once; beyond it the oldest is dropped.
    pub reassembly_max_datagrams: usize,
    /// How long a learned path MTU is kept (Linux `mtu_expires`).
    pub pmtu_expires: Duration,
    /// Ports handed out for implicit binds (RFC 6056). The IANA dynamic range
    /// by default; Linux uses 32768–60999.
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Receive buffer of a UDP or ping socket, in bytes of payload.
    pub udp_recv_buffer: usize,
    /// What a datagram through the loopback interface costs the host's CPU
    /// (zero: loopback is instantaneous). See [`LoopbackCost`].
    pub loopback_cost: LoopbackCost,
    pub tcp: TcpConfig,
}

/// The time the loopback path takes per datagram: the kernel work of
/// sending and receiving it (allocation, IP and transport processing, the
/// copies in and out of socket buffers), done one datagram after another
/// as one CPU would. A datagram is delivered when the work for it and for
/// every earlier one is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoopbackCost {
    pub per_packet: Duration,
    /// Picoseconds per byte of datagram.
    pub per_byte_ps: u64,
}

impl LoopbackCost {
    /// The cost of one datagram of `len` bytes.
    pub fn of(&self, len: usize) -> Duration {
        self.per_packet + Duration::from_nanos(self.per_byte_ps * len as u64 / 1000)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            default_ttl: 64,
            forwarding: false,
            send_redirects: true,
            accept_redirects: true,
            echo_ignore_broadcasts: true,
            icmp_ratelimit: Duration::from_secs(1),
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            reassembly_timeout: Duration::from_secs(30),
            reassembly_max_bytes: 4 << 20,
            reassembly_max_datagrams: 256,
            pmtu_expires: Duration::from_secs(600),
            ephemeral_ports: 49152..=65535,
            udp_recv_buffer: 212_992,
            loopback_cost: LoopbackCost::default(),
            tcp: TcpConfig::default(),
        }
    }
}

impl Config {
    /// A router: forwarding on, redirects sent, redirects ignored.
    pub fn router() -> Config {
        Config {
            forwarding: true,
            accept_redirects: false,
            ..Config::default()
        }
    }
}
