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
    /// Bytes of the datagrams the interfaces received and sent (Linux's
    /// IpExt InOctets and OutOctets; filled in by `Stack::stats` from the
    /// interfaces' counters).
    pub in_octets: u64,
    pub out_octets: u64,
    /// Datagrams received by their header's ECN field: Not-ECT, ECT(1),
    /// ECT(0), CE (IpExt InNoECTPkts, InECT1Pkts, InECT0Pkts, InCEPkts).
    pub in_ecn: [u64; 4],
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
    /// Connections reset at the close for want of room for another
    /// orphan (Linux's TCPAbortOnMemory).
    pub abort_on_memory: u64,
    /// Half-open passive connections ended by a reset or a SYN in
    /// SYN-RECEIVED (Linux's EmbryonicRsts).
    pub embryonic_rsts: u64,
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
    /// Connections that skipped TIME-WAIT because `max_time_wait` were
    /// already in it (Linux's TCPTimeWaitOverflow).
    pub time_wait_overflow: u64,
    /// Zero-window probes sent (Linux's TCPWinProbe; not counted as
    /// retransmitted segments).
    pub win_probes: u64,
    /// The first retransmission timeout of a series, by the state it
    /// struck in, as Linux's tcp_retransmit_timer files it beside
    /// TCPTimeouts (`timeouts`, every one): in fast recovery
    /// (TCPSackRecoveryFail, TCPRenoRecoveryFail), after a timeout already
    /// (TCPLossFailures), with SACKs or duplicate ACKs seen
    /// (TCPSackFailures, TCPRenoFailures).
    pub rto_sack_recovery: u64,
    pub rto_reno_recovery: u64,
    pub rto_loss: u64,
    pub rto_sack_disorder: u64,
    pub rto_reno_disorder: u64,
    /// A SYN or <SYN,ACK> sent again on its timer (TCPSynRetrans), and
    /// repairs after a timeout (TCPSlowStartRetrans).
    pub syn_retrans: u64,
    pub slow_start_retrans: u64,
    /// ACKs that carried no data (TCPPureAcks; with no header prediction
    /// here, every one), and segments of data sent for the first time
    /// (TCPOrigDataSent).
    pub pure_acks: u64,
    pub orig_data_sent: u64,
    /// Reductions undone, by what proved them spurious: D-SACKs
    /// (TCPDSACKUndo), timestamps in fast recovery (TCPFullUndo), after a
    /// timeout (TCPLossUndo). `spurious_undos` counts them all.
    pub dsack_undos: u64,
    pub full_undos: u64,
    pub loss_undos: u64,
}

/// Every counter of a stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub ip: IpStats,
    pub icmp: IcmpStats,
    pub udp: UdpStats,
    pub tcp: TcpStats,
}

/// net-tools' `netstat -s` line kinds (statistics.c): a `number` always
/// shows, an `opt_number` only when not zero, a counter net-tools has no
/// text for as `Name: value` when not zero (at the indentation of the
/// line before it).
fn number(f: &mut fmt::Formatter<'_>, text: &str, v: u64) -> fmt::Result {
    writeln!(f, "    {v} {text}")
}

fn opt_number(f: &mut fmt::Formatter<'_>, text: &str, v: u64) -> fmt::Result {
    if v > 0 {
        number(f, text, v)?;
    }
    Ok(())
}

fn named(f: &mut fmt::Formatter<'_>, indent: usize, name: &str, v: u64) -> fmt::Result {
    if v > 0 {
        writeln!(f, "{:indent$}{name}: {v}", "")?;
    }
    Ok(())
}

/// ICMP types in the kernel's order (`icmpmibmap`), with net-tools' words
/// for the input and the output histograms.
const ICMP_HISTOGRAM: [(usize, &str, &str); 11] = [
    (3, "destination unreachable", "destination unreachable"),
    (11, "timeout in transit", "time exceeded"),
    (12, "wrong parameters", "wrong parameters"),
    (4, "source quenches", "source quench"),
    (5, "redirects", "redirect"),
    (8, "echo requests", "echo requests"),
    (0, "echo replies", "echo replies"),
    (13, "timestamp request", "timestamp requests"),
    (14, "timestamp reply", "timestamp replies"),
    (17, "address mask request", "address mask requests"),
    (18, "address mask replies", "address mask replies"),
];

impl fmt::Display for Stats {
    /// The layout of `netstat -s` (net-tools 2.10 reading Linux 6.1's
    /// /proc/net/snmp and /proc/net/netstat): each section's counters in
    /// the kernel's order, zero optional counters left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = &self.ip;
        writeln!(f, "Ip:")?;
        writeln!(
            f,
            "    Forwarding: {}",
            if ip.forw_datagrams > 0 { 1 } else { 2 }
        )?;
        number(f, "total packets received", ip.in_receives)?;
        // Linux counts a checksum error as a header error too.
        opt_number(
            f,
            "with invalid headers",
            ip.in_hdr_errors + ip.in_csum_errors,
        )?;
        opt_number(f, "with invalid addresses", ip.in_addr_errors)?;
        number(f, "forwarded", ip.forw_datagrams)?;
        opt_number(f, "with unknown protocol", ip.in_unknown_protos)?;
        number(f, "incoming packets discarded", ip.in_discards)?;
        number(f, "incoming packets delivered", ip.in_delivers)?;
        number(f, "requests sent out", ip.out_requests)?;
        opt_number(f, "outgoing packets dropped", ip.out_discards)?;
        opt_number(f, "dropped because of missing route", ip.out_no_routes)?;
        opt_number(f, "fragments dropped after timeout", ip.reasm_timeout)?;
        opt_number(f, "reassemblies required", ip.reasm_reqds)?;
        opt_number(f, "packets reassembled ok", ip.reasm_oks)?;
        opt_number(f, "packet reassemblies failed", ip.reasm_fails)?;
        opt_number(f, "outgoing packets fragmented ok", ip.frag_oks)?;
        opt_number(f, "outgoing packets failed fragmentation", ip.frag_fails)?;
        opt_number(f, "fragments created", ip.frag_creates)?;
        let icmp = &self.icmp;
        writeln!(f, "Icmp:")?;
        number(f, "ICMP messages received", icmp.in_msgs)?;
        number(
            f,
            "input ICMP message failed",
            icmp.in_errors + icmp.in_csum_errors,
        )?;
        named(f, 4, "InCsumErrors", icmp.in_csum_errors)?;
        // The histogram's title shows even when it has no line.
        writeln!(f, "    ICMP input histogram:")?;
        for &(t, words, _) in &ICMP_HISTOGRAM {
            if icmp.in_type[t] > 0 {
                writeln!(f, "        {words}: {}", icmp.in_type[t])?;
            }
        }
        number(f, "ICMP messages sent", icmp.out_msgs)?;
        // tcplab has no ICMP send that fails.
        number(f, "ICMP messages failed", 0)?;
        // Linux's per-destination limit (icmp_ratelimit) is OutRateLimitHost.
        named(f, 4, "OutRateLimitHost", icmp.out_rate_limited)?;
        writeln!(f, "    ICMP output histogram:")?;
        for &(t, _, words) in &ICMP_HISTOGRAM {
            if icmp.out_type[t] > 0 {
                writeln!(f, "        {words}: {}", icmp.out_type[t])?;
            }
        }
        // net-tools has no table for IcmpMsg: its lines keep the
        // indentation of the histogram before them. The kernel writes the
        // types that counted, input then output, sixteen to a line of
        // /proc/net/snmp, and net-tools heads each line's group with the
        // section's name (none at all when nothing counted).
        let counted: Vec<(&str, usize, u64)> = [("In", &icmp.in_type), ("Out", &icmp.out_type)]
            .into_iter()
            .flat_map(|(dir, counts)| counts.iter().enumerate().map(move |(t, n)| (dir, t, *n)))
            .filter(|&(_, _, n)| n > 0)
            .collect();
        for group in counted.chunks(16) {
            writeln!(f, "IcmpMsg:")?;
            for &(dir, t, n) in group {
                named(f, 8, &format!("{dir}Type{t}"), n)?;
            }
        }
        let tcp = &self.tcp;
        writeln!(f, "Tcp:")?;
        number(f, "active connection openings", tcp.active_opens)?;
        number(f, "passive connection openings", tcp.passive_opens)?;
        number(f, "failed connection attempts", tcp.attempt_fails)?;
        number(f, "connection resets received", tcp.estab_resets)?;
        number(f, "connections established", tcp.curr_estab)?;
        number(f, "segments received", tcp.in_segs)?;
        number(f, "segments sent out", tcp.out_segs)?;
        number(f, "segments retransmitted", tcp.retrans_segs)?;
        number(f, "bad segments received", tcp.in_errs + tcp.in_csum_errors)?;
        number(f, "resets sent", tcp.out_rsts)?;
        named(f, 4, "InCsumErrors", tcp.in_csum_errors)?;
        let udp = &self.udp;
        writeln!(f, "Udp:")?;
        number(f, "packets received", udp.in_datagrams)?;
        number(f, "packets to unknown port received", udp.no_ports)?;
        number(
            f,
            "packet receive errors",
            udp.in_errors + udp.in_csum_errors,
        )?;
        number(f, "packets sent", udp.out_datagrams)?;
        number(f, "receive buffer errors", udp.rcvbuf_errors)?;
        // A datagram that does not fit is refused before it is queued.
        number(f, "send buffer errors", 0)?;
        named(f, 4, "InCsumErrors", udp.in_csum_errors)?;
        // Linux lists UDP-Lite apart; tcplab has none, so only its header.
        writeln!(f, "UdpLite:")?;
        writeln!(f, "TcpExt:")?;
        opt_number(f, "SYN cookies sent", tcp.syncookies_sent)?;
        opt_number(f, "SYN cookies received", tcp.syncookies_recv)?;
        opt_number(f, "invalid SYN cookies received", tcp.syncookies_failed)?;
        opt_number(
            f,
            "resets received for embryonic SYN_RECV sockets",
            tcp.embryonic_rsts,
        )?;
        // TWRecycled: Linux counts a TIME-WAIT taken over by a new
        // outgoing connection (tcp_twsk_unique) here.
        opt_number(
            f,
            "time wait sockets recycled by time stamp",
            tcp.time_wait_reused,
        )?;
        opt_number(
            f,
            "packets rejected in established connections because of timestamp",
            tcp.paws_rejected,
        )?;
        opt_number(f, "delayed acks sent", tcp.delayed_acks)?;
        opt_number(
            f,
            "times the listen queue of a socket overflowed",
            tcp.listen_overflows,
        )?;
        opt_number(f, "SYNs to LISTEN sockets dropped", tcp.listen_drops)?;
        // TCPHPHits, a counter net-tools always prints: tcplab has no
        // header prediction (so no TCPHPAcks either).
        number(f, "packet headers predicted", 0)?;
        opt_number(
            f,
            "acknowledgments not containing data payload received",
            tcp.pure_acks,
        )?;
        opt_number(
            f,
            "times recovered from packet loss due to fast retransmit",
            tcp.reno_recoveries,
        )?;
        // net-tools 2.10 has words for TCPSackRecovery, TCPTimeouts,
        // TCPDSACKOldSent and TCPDSACKRecv but its lookup (a binary search
        // of a table not in order) misses them: they print as `Name:
        // value` (checked against the real netstat on a /proc with each
        // counter set, and by running glibc's bsearch over its table).
        named(f, 4, "TCPSackRecovery", tcp.sack_recoveries)?;
        opt_number(
            f,
            "congestion windows fully recovered without slow start",
            tcp.full_undos,
        )?;
        named(f, 4, "TCPDSACKUndo", tcp.dsack_undos)?;
        opt_number(
            f,
            "congestion windows recovered without slow start after partial ack",
            tcp.loss_undos,
        )?;
        opt_number(
            f,
            "timeouts after reno fast retransmit",
            tcp.rto_reno_disorder,
        )?;
        // (net-tools' lookup misses TCPSackFailures and
        // TCPRenoRecoveryFail as it misses the four above.)
        named(f, 4, "TCPSackFailures", tcp.rto_sack_disorder)?;
        opt_number(f, "timeouts in loss state", tcp.rto_loss)?;
        opt_number(f, "fast retransmits", tcp.fast_retransmits)?;
        opt_number(f, "retransmits in slow start", tcp.slow_start_retrans)?;
        named(f, 4, "TCPTimeouts", tcp.timeouts)?;
        named(f, 4, "TCPLossProbes", tcp.loss_probes)?;
        named(f, 4, "TCPLossProbeRecovery", tcp.loss_probe_recoveries)?;
        named(f, 4, "TCPRenoRecoveryFail", tcp.rto_reno_recovery)?;
        named(f, 4, "TCPSackRecoveryFail", tcp.rto_sack_recovery)?;
        named(f, 4, "TCPDSACKOldSent", tcp.dsack_sent)?;
        named(f, 4, "TCPDSACKRecv", tcp.dsack_recv)?;
        opt_number(
            f,
            "connections aborted due to memory pressure",
            tcp.abort_on_memory,
        )?;
        // (In /proc/net/netstat's order.)
        named(f, 4, "TCPTimeWaitOverflow", tcp.time_wait_overflow)?;
        named(f, 4, "TCPOFOQueue", tcp.ooo_queued)?;
        named(f, 4, "TCPOFODrop", tcp.ooo_dropped)?;
        named(f, 4, "TCPChallengeACK", tcp.challenge_acks)?;
        named(f, 4, "TCPSynRetrans", tcp.syn_retrans)?;
        named(f, 4, "TCPOrigDataSent", tcp.orig_data_sent)?;
        named(f, 4, "TCPACKSkippedSeq", tcp.oow_rate_limited)?;
        named(f, 4, "TCPWinProbe", tcp.win_probes)?;
        // (TCPTSMissing, TCPRACKLost: tcplab's own counters, which Linux
        // has no names for, are not printed as if they were Linux's.)
        // /proc/net/netstat's IpExt in the kernel's order, the counters
        // that are not zero; no MPTCP here, so that section's name only.
        writeln!(f, "IpExt:")?;
        named(f, 4, "InOctets", ip.in_octets)?;
        named(f, 4, "OutOctets", ip.out_octets)?;
        named(f, 4, "InCsumErrors", ip.in_csum_errors)?;
        for (name, n) in ["InNoECTPkts", "InECT1Pkts", "InECT0Pkts", "InCEPkts"]
            .iter()
            .zip(ip.in_ecn)
        {
            named(f, 4, name, n)?;
        }
        named(f, 4, "ReasmOverlaps", ip.reasm_overlaps)?;
        writeln!(f, "MPTcpExt:")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IcmpMsg as net-tools prints the kernel's lines: no section when no
    /// type counted, and a header for each sixteen types that did.
    #[test]
    fn icmpmsg_groups_of_sixteen() {
        let mut s = Stats::default();
        let headers = |s: &Stats| s.to_string().matches("IcmpMsg:").count();
        assert_eq!(headers(&s), 0);
        s.icmp.in_type[0] = 1;
        s.icmp.in_type[8] = 2;
        assert_eq!(headers(&s), 1);
        for t in 0..15 {
            s.icmp.out_type[t] = 1;
        }
        // 2 + 15 = 17 types: two lines of /proc/net/snmp, two headers,
        // the seventeenth (OutType14) under the second.
        assert_eq!(headers(&s), 2);
        let text = s.to_string();
        let second = text.rfind("IcmpMsg:").unwrap();
        assert!(
            text[second..].starts_with("IcmpMsg:\n        OutType14: 1\nTcp:"),
            "{text}"
        );
    }
}
