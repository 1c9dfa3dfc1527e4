//! Protocol counters, named after the SNMP MIB objects `netstat -s` prints
//! (RFC 4293 IP-MIB, RFC 4022 TCP-MIB, RFC 4113 UDP-MIB), plus a few of
//! Linux's extended counters. Every dropped packet is counted somewhere here.

use core::fmt;

/// IP-layer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpStats {
    pub in_receives: u64,
    /// Malformed or truncated headers, bad versions.
    pub in_hdr_errors: u64,
    pub in_csum_errors: u64,
    /// Not for us and not forwarding, or a martian address.
    pub in_addr_errors: u64,
    pub in_unknown_protos: u64,
    pub in_discards: u64,
    pub in_delivers: u64,
    pub forw_datagrams: u64,
    pub out_requests: u64,
    pub out_no_routes: u64,
    pub out_discards: u64,
    pub reasm_reqds: u64,
    pub reasm_oks: u64,
    pub reasm_fails: u64,
    pub reasm_timeout: u64,
    pub reasm_overlaps: u64,
    pub reasm_duplicates: u64,
    pub frag_oks: u64,
    pub frag_fails: u64,
    pub frag_creates: u64,
    /// Dropped (or rejected) by the packet-policy hook.
    pub filtered: u64,
}

/// ICMP counters; per-type counts are indexed by the ICMP type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpStats {
    pub in_msgs: u64,
    pub in_errors: u64,
    pub in_csum_errors: u64,
    pub out_msgs: u64,
    pub out_rate_limited: u64,
    pub in_type: [u64; 19],
    pub out_type: [u64; 19],
}

/// UDP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    pub in_datagrams: u64,
    pub no_ports: u64,
    pub in_errors: u64,
    pub in_csum_errors: u64,
    pub rcvbuf_errors: u64,
    pub out_datagrams: u64,
}

/// TCP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpStats {
    pub active_opens: u64,
    pub passive_opens: u64,
    pub attempt_fails: u64,
    pub estab_resets: u64,
    pub curr_estab: u64,
    pub in_segs: u64,
    pub out_segs: u64,
    pub retrans_segs: u64,
    pub in_errs: u64,
    pub in_csum_errors: u64,
    pub out_rsts: u64,
    /// Segments dropped because the listen queue was full.
    pub listen_drops: u64,
    pub listen_overflows: u64,
    pub challenge_acks: u64,
    pub ooo_queued: u64,
    pub ooo_dropped: u64,
    pub fast_retransmits: u64,
    pub timeouts: u64,
    pub delayed_acks: u64,
    pub time_wait_recycled: u64,
    /// SYN cookies sent, and valid and invalid ones received (RFC 4987 §3.6).
    pub syncookies_sent: u64,
    pub syncookies_recv: u64,
    pub syncookies_failed: u64,
    /// Half-open connections that gave up after their SYN-ACK retries.
    pub embryonic_timeouts: u64,
    /// ACKs not sent in answer to out-of-window segments (rate limit).
    pub oow_rate_limited: u64,
    /// Segments dropped by PAWS (RFC 7323 §5), and segments dropped for
    /// lacking the timestamp both ends agreed on (§3.2).
    pub paws_rejected: u64,
    pub ts_missing: u64,
    /// D-SACK blocks sent and received (RFC 2883).
    pub dsack_sent: u64,
    pub dsack_recv: u64,
    /// Loss recoveries driven by SACK (RFC 6675 / RFC 8985), and by
    /// duplicate ACKs alone (RFC 6582).
    pub sack_recoveries: u64,
    pub reno_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7), and the losses they repaired.
    pub loss_probes: u64,
    pub loss_probe_recoveries: u64,
    /// Window reductions undone because the loss proved spurious (D-SACK,
    /// RFC 3708; timestamps, RFC 3522).
    pub spurious_undos: u64,
    /// Segments a connection found lost by time (RACK, RFC 8985 §6.2).
    pub rack_lost: u64,
    /// Outgoing connections that took the port of a TIME-WAIT connection
    /// (RFC 6191, Linux `tcp_tw_reuse`).
    pub time_wait_reused: u64,
}

/// Every counter of a stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub ip: IpStats,
    pub icmp: IcmpStats,
    pub udp: UdpStats,
    pub tcp: TcpStats,
}

impl fmt::Display for Stats {
    /// The layout of `netstat -s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = &self.ip;
        writeln!(f, "Ip:")?;
        writeln!(
            f,
            "    Forwarding: {}",
            if ip.forw_datagrams > 0 { 1 } else { 2 }
        )?;
        writeln!(f, "    {} total packets received", ip.in_receives)?;
        writeln!(
            f,
            "    {} with invalid headers",
            ip.in_hdr_errors + ip.in_csum_errors
        )?;
        writeln!(f, "    {} with invalid addresses", ip.in_addr_errors)?;
        writeln!(f, "    {} forwarded", ip.forw_datagrams)?;
        writeln!(f, "    {} with unknown protocol", ip.in_unknown_protos)?;
        writeln!(f, "    {} incoming packets discarded", ip.in_discards)?;
        writeln!(f, "    {} incoming packets delivered", ip.in_delivers)?;
        writeln!(f, "    {} requests sent out", ip.out_requests)?;
        writeln!(f, "    {} outgoing packets dropped", ip.out_discards)?;
        writeln!(
            f,
            "    {} dropped because of missing route",
            ip.out_no_routes
        )?;
        writeln!(
            f,
            "    {} fragments dropped after timeout",
            ip.reasm_timeout
        )?;
        writeln!(f, "    {} reassemblies required", ip.reasm_reqds)?;
        writeln!(f, "    {} packets reassembled ok", ip.reasm_oks)?;
        writeln!(f, "    {} packet reassemblies failed", ip.reasm_fails)?;
        writeln!(f, "    {} fragments received ok", ip.frag_oks)?;
        writeln!(f, "    {} fragments failed", ip.frag_fails)?;
        writeln!(f, "    {} fragments created", ip.frag_creates)?;
        let icmp = &self.icmp;
        writeln!(f, "Icmp:")?;
        writeln!(f, "    {} ICMP messages received", icmp.in_msgs)?;
        writeln!(
            f,
            "    {} input ICMP message failed",
            icmp.in_errors + icmp.in_csum_errors
        )?;
        writeln!(f, "    {} ICMP messages sent", icmp.out_msgs)?;
        writeln!(
            f,
            "    {} ICMP messages rate-limited",
            icmp.out_rate_limited
        )?;
        writeln!(f, "IcmpMsg:")?;
        for (t, n) in icmp.in_type.iter().enumerate().filter(|(_, n)| **n > 0) {
            writeln!(f, "    InType{t}: {n}")?;
        }
        for (t, n) in icmp.out_type.iter().enumerate().filter(|(_, n)| **n > 0) {
            writeln!(f, "    OutType{t}: {n}")?;
        }
        let tcp = &self.tcp;
        writeln!(f, "Tcp:")?;
        writeln!(f, "    {} active connection openings", tcp.active_opens)?;
        writeln!(f, "    {} passive connection openings", tcp.passive_opens)?;
        writeln!(f, "    {} failed connection attempts", tcp.attempt_fails)?;
        writeln!(f, "    {} connection resets received", tcp.estab_resets)?;
        writeln!(f, "    {} connections established", tcp.curr_estab)?;
        writeln!(f, "    {} segments received", tcp.in_segs)?;
        writeln!(f, "    {} segments sent out", tcp.out_segs)?;
        writeln!(f, "    {} segments retransmitted", tcp.retrans_segs)?;
        writeln!(
            f,
            "    {} bad segments received",
            tcp.in_errs + tcp.in_csum_errors
        )?;
        writeln!(f, "    {} resets sent", tcp.out_rsts)?;
        let udp = &self.udp;
        writeln!(f, "Udp:")?;
        writeln!(f, "    {} packets received", udp.in_datagrams)?;
        writeln!(f, "    {} packets to unknown port received", udp.no_ports)?;
        writeln!(
            f,
            "    {} packet receive errors",
            udp.in_errors + udp.in_csum_errors
        )?;
        writeln!(f, "    {} packets sent", udp.out_datagrams)?;
        writeln!(f, "    {} receive buffer errors", udp.rcvbuf_errors)?;
        // Linux lists UDP-Lite apart; tcplab has none, so only its header.
        writeln!(f, "UdpLite:")?;
        writeln!(f, "TcpExt:")?;
        writeln!(
            f,
            "    {} times the listen queue of a socket overflowed",
            tcp.listen_overflows
        )?;
        writeln!(f, "    {} SYNs to LISTEN sockets dropped", tcp.listen_drops)?;
        writeln!(f, "    {} SYN cookies sent", tcp.syncookies_sent)?;
        writeln!(f, "    {} SYN cookies received", tcp.syncookies_recv)?;
        writeln!(
            f,
            "    {} invalid SYN cookies received",
            tcp.syncookies_failed
        )?;
        writeln!(f, "    {} delayed acks sent", tcp.delayed_acks)?;
        writeln!(f, "    {} fast retransmits", tcp.fast_retransmits)?;
        writeln!(f, "    {} other TCP timeouts", tcp.timeouts)?;
        writeln!(f, "    {} challenge ACKs sent", tcp.challenge_acks)?;
        writeln!(
            f,
            "    {} ACKs to out-of-window segments rate-limited",
            tcp.oow_rate_limited
        )?;
        writeln!(
            f,
            "    {} packets rejected in established connections because of timestamp",
            tcp.paws_rejected
        )?;
        writeln!(
            f,
            "    {} segments without the agreed timestamp dropped",
            tcp.ts_missing
        )?;
        writeln!(
            f,
            "    {} times recovered from packet loss by selective acknowledgements",
            tcp.sack_recoveries
        )?;
        writeln!(
            f,
            "    {} times recovered from packet loss due to fast retransmit",
            tcp.reno_recoveries
        )?;
        writeln!(f, "    {} segments found lost by RACK", tcp.rack_lost)?;
        writeln!(f, "    TCPLossProbes: {}", tcp.loss_probes)?;
        writeln!(f, "    TCPLossProbeRecovery: {}", tcp.loss_probe_recoveries)?;
        writeln!(f, "    TCPDSACKOldSent: {}", tcp.dsack_sent)?;
        writeln!(f, "    TCPDSACKRecv: {}", tcp.dsack_recv)?;
        writeln!(f, "    TCPSpuriousUndo: {}", tcp.spurious_undos)?;
        writeln!(f, "    TWReused: {}", tcp.time_wait_reused)?;
        writeln!(f, "    {} packets queued out of order", tcp.ooo_queued)?;
        write!(f, "    {} out-of-order packets dropped", tcp.ooo_dropped)
    }
}
