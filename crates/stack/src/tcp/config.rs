//! TCP tunables, with Linux's defaults where Linux has one.

use std::time::Duration;

pub use super::receiver::ReceiverSws;
pub use tcplab_wire::tcp::OptionLayout;

/// Which congestion controller new connections use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 with RFC 6582 NewReno recovery.
    NewReno,
    /// RFC 9438 CUBIC with RFC 9406 HyStart++ (the default, as on Linux).
    #[default]
    Cubic,
    /// BBR (draft-ietf-ccwg-bbr): a model of bottleneck bandwidth and
    /// minimum RTT, paced.
    Bbr,
    /// BBR version 1 (draft-cardwell-iccrg-bbr-congestion-control-00,
    /// Linux's mainline `bbr`): the same model, and loss ignored.
    Bbr1,
}

impl CongestionAlgorithm {
    /// The name Linux uses (`reno`, `cubic`, `bbr`; `bbr1` for version 1),
    /// for `ss -i`,
    /// `TCP_CONGESTION` and configuration.
    pub fn name(self) -> &'static str {
        match self {
            CongestionAlgorithm::NewReno => "reno",
            CongestionAlgorithm::Cubic => "cubic",
            CongestionAlgorithm::Bbr => "bbr",
            CongestionAlgorithm::Bbr1 => "bbr1",
        }
    }

    /// By name: `reno` (or `newreno`), `cubic`, `bbr`, `bbr1`.
    pub fn from_name(name: &str) -> Option<CongestionAlgorithm> {
        match name {
            "reno" | "newreno" => Some(CongestionAlgorithm::NewReno),
            "cubic" => Some(CongestionAlgorithm::Cubic),
            "bbr" => Some(CongestionAlgorithm::Bbr),
            "bbr1" => Some(CongestionAlgorithm::Bbr1),
            _ => None,
        }
    }
}

/// Configuration of a stack's TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Maximum segment lifetime; TIME-WAIT lasts 2 × MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Lower bound of the retransmission timeout (RFC 6298 says 1 s; Linux
    /// uses 200 ms).
    pub rto_min: Duration,
    /// Upper bound of the retransmission timeout (RFC 6298 §2.5: at least 60 s).
    pub rto_max: Duration,
    /// RTO before any RTT sample (RFC 6298 §2.1).
    pub rto_initial: Duration,
    /// Added to every computed RTO (BSD's `rexmit_slop`, 200 ms there;
    /// zero here, as on Linux): room for the peer's delayed ACK.
    pub rto_slop: Duration,
    /// Retransmissions of a SYN before giving up (RFC 9293 §3.8.3 R2 for
    /// SYNs; Linux `tcp_syn_retries`). The default, 7, keeps an attempt
    /// going for about four minutes (the last SYN at 127 s, the end two
    /// minutes later): R2 for a SYN MUST cover at least three (MUST-20),
    /// which Linux's 6 (the end at 127 s) does not.
    pub syn_retries: u32,
    /// Retransmissions of data before giving up (R2; Linux `tcp_retries2`).
    pub data_retries: u32,
    /// Retransmissions of a passive open's SYN-ACK before the half-open
    /// connection is dropped (Linux `tcp_synack_retries`).
    pub synack_retries: u32,
    /// Retransmissions or window probes an orphan (a connection the
    /// application closed) gets before it is dropped, answered or not
    /// (Linux's `tcp_orphan_retries`, 8 when left at 0): a peer that keeps
    /// its window shut cannot hold a closed socket's memory for ever.
    pub orphan_retries: u32,
    /// Orphans (connections the application closed that still have a FIN
    /// or data to deliver) the stack keeps at once; a close beyond it
    /// resets the connection instead (Linux's `tcp_max_orphans`, checked
    /// in `__tcp_close`, counted as TCPAbortOnMemory): each may hold a
    /// whole send buffer, so peers that keep their windows shut cannot
    /// make closed sockets hold memory without bound.
    pub max_orphans: usize,
    /// Receive buffer (bytes); also the largest window advertised.
    pub recv_buffer: usize,
    /// Send buffer (bytes).
    pub send_buffer: usize,
    /// Longest an ACK may be delayed (RFC 9293 §3.8.6.3: under 0.5 s).
    pub delayed_ack: Duration,
    /// Nagle's algorithm for new connections (RFC 9293 §3.7.4); `false` is
    /// `TCP_NODELAY`.
    pub nagle: bool,
    /// Nagle as Linux applies it (Minshall's variant,
    /// draft-minshall-nagle-01): a segment smaller than the MSS is held
    /// only while an earlier *small* one is unacknowledged, so the tail of
    /// a write behind full-sized segments goes at once instead of waiting
    /// for their (possibly delayed) ACK. `false`: RFC 9293 §3.7.4's rule
    /// as written (hold while any data is unacknowledged), as FreeBSD.
    pub nagle_minshall: bool,
    /// Keep-alive idle time, probe interval and probe count; off unless a
    /// socket turns it on (RFC 9293 §3.8.4).
    pub keepalive_time: Duration,
    pub keepalive_interval: Duration,
    pub keepalive_probes: u32,
    /// Out-of-order ranges a receiver holds at most.
    pub max_ooo_ranges: usize,
    /// Embryonic connections per listener at most (Linux
    /// `tcp_max_syn_backlog`); beyond it a SYN gets a SYN cookie, or is
    /// dropped if cookies are off.
    pub max_syn_backlog: usize,
    /// Answer SYNs with SYN cookies when the SYN queue is full (RFC 4987
    /// §3.6, Linux `tcp_syncookies = 1`).
    pub syncookies: bool,
    /// Challenge ACKs per second at most (RFC 5961 §7; Linux
    /// `tcp_challenge_ack_limit`).
    pub challenge_ack_limit: u32,
    /// Least time between two ACKs a connection sends in answer to
    /// segments outside its window (Linux `tcp_invalid_ratelimit`): two
    /// confused ends cannot ping-pong ACKs forever.
    pub invalid_ack_interval: Duration,
    /// Below this path MTU, TCP stops setting DF and sends segments for
    /// this MTU, which routers fragment (Linux `min_pmtu`; RFC 1191 §5
    /// leaves the host a minimum).
    pub min_pmtu: usize,
    /// The smallest segment size used whatever the peer announces (Linux
    /// `tcp_min_snd_mss`).
    pub min_snd_mss: usize,
    /// Persist timer bounds for zero-window probes.
    pub persist_min: Duration,
    pub persist_max: Duration,
    pub congestion: CongestionAlgorithm,
    /// Advertise and use window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer and use selective acknowledgments (RFC 2018, with D-SACK of
    /// RFC 2883; Linux `tcp_sack`).
    pub sack: bool,
    /// Offer and use timestamps (RFC 7323 §3–5; Linux `tcp_timestamps`).
    pub timestamps: bool,
    /// Time-based loss detection (RACK, RFC 8985 §6; Linux `tcp_recovery`
    /// bit 0). Off: RFC 6675's DupThresh rule with SACK.
    pub rack: bool,
    /// Tail loss probes (RFC 8985 §7; Linux `tcp_early_retrans` = 3).
    pub tlp: bool,
    /// Duplicate ACKs (or SACKed segments) that mean loss (RFC 5681 §3.2,
    /// RFC 6675's DupThresh; Linux `tcp_reordering`).
    pub dupthresh: u32,
    /// The peer's delayed-ACK budget in a probe timeout when one segment
    /// is outstanding (RFC 8985 §7.2's TLP.max_ack_delay).
    pub max_ack_delay: Duration,
    /// The shortest reordering timer and the slack of a multi-segment
    /// probe timeout, in microseconds (Linux's `TCP_TIMEOUT_MIN`, 2 ms).
    pub rack_timer_slack_us: u64,
    /// A new outgoing connection may take over a TIME-WAIT connection's
    /// port when timestamps prove the old segments are gone (RFC 6191;
    /// Linux `tcp_tw_reuse`).
    pub tw_reuse: bool,
    /// Added to every ISN. Zero normally; tests use it to put sequence
    /// numbers across the 2³² wrap.
    pub isn_offset: u32,
    /// How options are ordered and padded in the segments sent (Linux's
    /// layout, or BSD's; RFC 9293 §3.1 allows both).
    pub option_layout: OptionLayout,
    /// The window scale offered; `None` picks the least shift that lets
    /// the receive buffer be advertised (BSD derives it from the largest
    /// buffer a socket may have, `kern.ipc.maxsockbuf`).
    pub window_scale: Option<u8>,
    /// Round the receive buffer up to a whole number of segments once the
    /// MSS is known, as BSD does (`tcp_mss()`: 65,536 becomes 65,700 at
    /// MSS 1460).
    pub recv_buffer_whole_segments: bool,
    /// RFC 5961 §3: a RST in the window but not at RCV.NXT gets a
    /// challenge ACK. Off: RFC 793's rule, any RST in the window resets
    /// (FreeBSD `net.inet.tcp.insecure_rst=1`).
    pub rst_challenge: bool,
    /// RFC 5961 §4: a SYN on a synchronized connection gets a challenge
    /// ACK. Off: RFC 793's rule, a SYN in the window resets the connection
    /// (FreeBSD `net.inet.tcp.insecure_syn=1`).
    pub syn_challenge: bool,
    /// Acknowledge every second in-order segment whatever its size (BSD's
    /// delayed ACK), not only every second full-sized one (RFC 9293
    /// §3.8.6.3's minimum, which Linux keeps).
    pub ack_every_second_segment: bool,
    /// Quick-ACK mode, as Linux: the first data segments of a connection
    /// (up to 16, or half the window's worth) and the first after a
    /// silence longer than the RTO are acknowledged at once, unless the
    /// exchange is interactive (our data answered the peer's within the
    /// delayed-ACK time, so ACKs ride on answers). With it the rest of
    /// Linux's delayed-ACK engine: a read that empties the buffer after a
    /// segment smaller than the peer's (ICSK_ACK_PUSHED) or leaves more
    /// than one segment's worth unacknowledged sends the ACK at once
    /// (tcp_cleanup_rbuf), and the peer's FIN in ESTABLISHED makes the
    /// exchange interactive, so its ACK waits to ride on our FIN
    /// (tcp_fin). Off: every in-order segment waits for a second or the
    /// delayed-ACK timer, and a FIN is acknowledged at once (BSD).
    pub quickack: bool,
    /// RFC 5681 §4.1 (SHOULD): a sender that has sent no data for longer
    /// than the RTO restarts from at most the initial window — as Linux
    /// (`tcp_slow_start_after_idle`, on by default), halved once per RTO
    /// of idleness down to it, with ssthresh kept at no less than ¾ of
    /// the old window. BBR keeps its own model. Off: the window survives
    /// idleness.
    pub slow_start_after_idle: bool,
    /// PSH (RFC 9293 §3.9.1 leaves its placement to the sender) on the
    /// segment that empties the send buffer, and — as Linux places it,
    /// where each burst of new data is one TSO unit pushed at its end —
    /// on the last new segment of a burst that sent several at one
    /// instant because the window allows no more. Off: only the segment
    /// that empties the buffer (BSD).
    pub push_at_burst_end: bool,
    /// While our FIN is unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK), an
    /// ACK the connection sends carries the FIN again at its sequence
    /// number, as BSD's `tcp_output()` does; challenge ACKs do not. Off:
    /// a bare ACK at SND.NXT (Linux).
    pub fin_on_acks: bool,
    /// RFC 1337 §3 fix (F1): a RST in TIME-WAIT is ignored rather than
    /// ending the TIME-WAIT early (BSD; Linux `tcp_rfc1337`, off there).
    pub rfc1337: bool,
    /// TIME-WAIT as FreeBSD's `tcp_twcheck()`: a segment without ACK
    /// (and without RST, which keeps RFC 9293's rules, and without SYN,
    /// which keeps them too unless `time_wait_reopen` is on as well: then a
    /// SYN that did not reopen is one more segment here) is dropped before
    /// any other test, and every other is acknowledged unless it is an
    /// exact duplicate ACK (no data, SEG.SEQ = RCV.NXT, SEG.ACK = SND.NXT)
    /// — with no window test (RFC 9293 §3.10.7.4 answers only unacceptable
    /// segments). Off by default (RFC 9293, Linux); the FreeBSD profile.
    pub time_wait_bsd: bool,
    /// A <SYN,ACK> to a listening socket is answered with a reset (RFC 9293
    /// §3.10.7.2, second check: any ACK-bearing segment; Linux). Off:
    /// dropped silently, as FreeBSD's `syncache` path does ("SYN|ACK
    /// invalid, segment rejected"); a bare ACK is still reset.
    pub listen_reset_synack: bool,
    /// A SYN that also carries FIN, arriving at a listening socket, is
    /// dropped unanswered (Linux's tcp_rcv_state_process: "th->fin: goto
    /// discard"; RFC 9293 does not forbid answering it, and FreeBSD with
    /// `drop_synfin` off does). On by default; off in the FreeBSD profile.
    pub listen_drop_synfin: bool,
    /// In a simultaneous open, a FIN that came on the peer's SYN (with
    /// text or without) is kept for ESTABLISHED (RFC 9293 §3.10.7.3: "queue
    /// them for processing"). Off: the text is kept and the FIN lost, as
    /// FreeBSD's reassembly queue keeps only data before ESTABLISHED and
    /// `tcp_reass(tp, NULL, ...)` drops the FIN it reports (the peer sends
    /// its FIN again).
    pub keep_fin_with_syn_text: bool,
    /// A hard ICMP error about our SYN (quoting the ISN) while in SYN-SENT
    /// aborts the attempt: protocol or port unreachable (RFC 9293
    /// §3.9.2.2: codes 2-4 are hard errors, SHLD-26 abort), administratively
    /// prohibited, TTL exceeded in transit — BSD's
    /// `net.inet.tcp.icmp_may_rst`; Linux aborts a SYN-SENT connection on
    /// these too. On by default. Off: every ICMP error is soft, reported
    /// only if the connection then times out (RFC 5927 §5.2 treats hard
    /// errors as soft against blind resets).
    pub syn_sent_icmp_abort: bool,
    /// Soft ICMP errors about our SYN abort the attempt too: net or host
    /// unreachable (and the other unreachable codes up to 15), time
    /// exceeded in reassembly — RFC 5461's "non-standard, but widely
    /// implemented" reaction, as
    /// Linux's `tcp_v4_err` does in SYN-SENT (`connect` fails at once
    /// with "No route to host" or "Network is unreachable", curl's exit 7
    /// rather than a timeout). On by default, as on Linux; off, they stay
    /// soft as RFC 1122 §4.2.3.9 and RFC 9293 §3.9.2.2 ask (MUST-56) and
    /// as FreeBSD keeps them, reported only if the attempt times out.
    /// Only with `syn_sent_icmp_abort` on: with the hard errors kept soft,
    /// every error is.
    pub syn_sent_soft_abort: bool,
    /// The longest a connection may take to be established (BSD's
    /// `keepinit`, 75 s); checked at each SYN retransmission timeout.
    /// `None`: only `syn_retries` limits it. The attempt ends at that
    /// time, not at the next retransmission timeout after it (the timer
    /// is shortened, as BSD's keep-init timer runs beside it).
    pub connect_timeout: Option<Duration>,
    /// From the third retransmission timeout of a SYN on, the SYN carries
    /// only the MSS option — no window scale, SACK-permitted or
    /// timestamps — in case a middlebox drops SYNs with options (BSD's
    /// `net.inet.tcp.rexmit_drop_options`; RFC 9293 has no such rule, and
    /// an answer to the earlier SYNs then negotiates none of them). Off
    /// by default, as on FreeBSD.
    pub syn_drop_options: bool,
    /// The unsent-bytes threshold of every socket that sets none
    /// (`SocketOptions::notsent_lowat`; Linux's `tcp_notsent_lowat`,
    /// unlimited there by default as here). At least 1.
    pub notsent_lowat: Option<u32>,
    /// The smallest MSS announced in a SYN, whatever the interface's MTU
    /// (RFC 9293 §3.7.1 says MTU − 40 and leaves smaller values to the
    /// host): 88, Linux's `TCP_MIN_MSS`, by default; FreeBSD announces
    /// MTU − 40 however small (0 here).
    pub min_announced_mss: u16,
    /// RCV.WND for the acceptability test (RFC 9293 §3.10.7.4) is the free
    /// receive buffer when that exceeds the window advertised (BSD's
    /// `rcv_wnd`: a 65,700-byte buffer without window scaling advertises
    /// 65,535 but takes segments up to 65,700). Off: what was advertised.
    pub rcv_wnd_is_buffer_space: bool,
    /// A SYN with a higher sequence number reopens a connection in
    /// TIME-WAIT (RFC 1122 §4.2.2.13's MAY; Linux and BSD do). Off: RFC
    /// 9293 §3.10.7.4's rules alone — a challenge ACK (RFC 5961 §4), or a
    /// reset under RFC 793's rule.
    pub time_wait_reopen: bool,
    /// Keep a connection in TIME-WAIT that nobody can use any more (the
    /// application closed it) as a small record rather than its whole
    /// control block, as Linux's `inet_timewait_sock` (issue 13); off only
    /// to compare the two in tests.
    pub compact_time_wait: bool,
    /// Connections in TIME-WAIT at most (Linux's `tcp_max_tw_buckets`,
    /// 131,072 on a machine of this one's size): past it, one that the
    /// application has closed skips TIME-WAIT and is gone at once
    /// (counted as `TCPTimeWaitOverflow`), so a flood of short
    /// connections cannot fill memory with 2·MSL of records.
    pub max_time_wait: usize,
    /// The receiver's silly-window-syndrome rule (RFC 9293 §3.8.6.2.2).
    pub receiver_sws: ReceiverSws,
    /// Drop segments with both SYN and FIN (FreeBSD
    /// `net.inet.tcp.drop_synfin`; RFC 9293 does not forbid them).
    pub drop_synfin: bool,
}

impl Default for TcpConfig {
    fn default() -> TcpConfig {
        TcpConfig {
            msl: Duration::from_secs(30),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            rto_initial: Duration::from_secs(1),
            rto_slop: Duration::ZERO,
            syn_retries: 7,
            data_retries: 15,
            synack_retries: 5,
            orphan_retries: 8,
            max_orphans: 4096,
            recv_buffer: 256 * 1024,
            send_buffer: 256 * 1024,
            delayed_ack: Duration::from_millis(40),
            nagle: true,
            nagle_minshall: true,
            keepalive_time: Duration::from_secs(7200),
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            max_ooo_ranges: 4096,
            max_syn_backlog: 256,
            syncookies: true,
            challenge_ack_limit: 1000,
            invalid_ack_interval: Duration::from_millis(500),
            min_pmtu: 552,
            min_snd_mss: 48,
            persist_min: Duration::from_millis(200),
            persist_max: Duration::from_secs(60),
            congestion: CongestionAlgorithm::Cubic,
            window_scaling: true,
            sack: true,
            timestamps: true,
            rack: true,
            tlp: true,
            dupthresh: 3,
            max_ack_delay: Duration::from_millis(200),
            rack_timer_slack_us: 2000,
            tw_reuse: true,
            isn_offset: 0,
            option_layout: OptionLayout::Linux,
            window_scale: None,
            recv_buffer_whole_segments: false,
            rst_challenge: true,
            syn_challenge: true,
            drop_synfin: false,
            receiver_sws: ReceiverSws::HoldRightEdge,
            ack_every_second_segment: false,
            quickack: true,
            slow_start_after_idle: true,
            push_at_burst_end: true,
            rfc1337: false,
            time_wait_bsd: false,
            listen_reset_synack: true,
            listen_drop_synfin: true,
            keep_fin_with_syn_text: true,
            rcv_wnd_is_buffer_space: false,
            time_wait_reopen: true,
            compact_time_wait: true,
            max_time_wait: 131_072,
            syn_sent_icmp_abort: true,
            syn_sent_soft_abort: true,
            connect_timeout: None,
            syn_drop_options: false,
            notsent_lowat: None,
            min_announced_mss: 88,
            fin_on_acks: false,
        }
    }
}

/// The largest socket buffer `SO_RCVBUF`/`SO_SNDBUF` may ask for (FreeBSD's
/// `kern.ipc.maxsockbuf` is 2 MiB by default, Linux's `rmem_max` smaller):
/// memory stays bounded whatever an application asks.
pub const MAX_SOCKET_BUFFER: usize = 16 << 20;

/// One socket's own settings (`setsockopt`), over the host's [`TcpConfig`].
/// A listener's connections inherit its options, as on Linux and BSD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_RCVBUF`: receive buffer capacity. The window scale offered in
    /// the SYN follows from it (RFC 7323 §2.2) and cannot change later, so
    /// buffer sizes count for connections opened after they were set.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF`: send buffer capacity (connections opened afterwards).
    pub send_buffer: Option<usize>,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT` (RFC 1122 §4.2.3.6
    /// leaves them to the application; the host's defaults otherwise).
    pub keepalive_time: Option<Duration>,
    pub keepalive_interval: Option<Duration>,
    pub keepalive_probes: Option<u32>,
    /// `IP_TOS`: the TOS octet (RFC 1122 §4.2.4.2: the application MUST
    /// be able to set it and SHOULD be able to change it on a live
    /// connection). Segments carry its upper six bits, RFC 2474's DS field;
    /// the two ECN bits are sent as Not-ECT, since tcplab does not
    /// negotiate ECN (RFC 3168 §6.1.1), as Linux masks them. 0 unless set.
    pub tos: u8,
    /// `IP_TTL`: the TTL of every segment sent; the host's default if unset.
    pub ttl: Option<u8>,
    /// `TCP_MAXSEG`: a ceiling on the MSS announced in the SYN and on the
    /// segments sent (as Linux's `user_mss`; RFC 9293 §3.7.1 lets the host
    /// announce less than the interface allows). Within 88 and 65,495.
    pub max_seg: Option<u16>,
    /// `TCP_USER_TIMEOUT`: RFC 9293 §3.9.1's USER TIMEOUT (RFC 5482) —
    /// how long sent data may stay unacknowledged, a window probe or a
    /// keep-alive unanswered, before the connection is given up with
    /// `TimedOut`. When set it replaces the retry counts (R1/R2, §3.8.3)
    /// and keep-alive's probe count, as on Linux; the retransmission timer
    /// is shortened so the end comes on time. Up to 24 days (a 31-bit
    /// count of milliseconds, Linux's range).
    pub user_timeout: Option<Duration>,
    /// BSD's `TCP_KEEPINIT`: the longest the connection may take to be
    /// established, replacing `TcpConfig::connect_timeout` for this
    /// socket. 1 s to 24 days.
    pub connect_timeout: Option<Duration>,
    /// BSD's `TCP_NOOPT`: our SYN or <SYN,ACK> carries no options at all —
    /// no MSS (the peer assumes 536, RFC 9293 §3.7.1), no window scale,
    /// SACK-permitted or timestamps, so none is negotiated. Set before the
    /// connection opens (on a listener, for the connections it accepts).
    pub no_options: bool,
    /// Linux's `TCP_NOTSENT_LOWAT`: the socket is writable only while
    /// fewer than this many bytes wait unsent (sent and unacknowledged
    /// data does not count), so an application that writes as fast as it
    /// may keeps little queued behind the window — fresher data, less
    /// memory. A write then takes what brings the unsent bytes up to it,
    /// rounded up to whole segments. `None` (or 0, as Linux takes it): the
    /// host's (`TcpConfig::notsent_lowat`).
    pub notsent_lowat: Option<u32>,
    /// `SO_REUSEPORT`, set before binding: the address and port may be
    /// bound by several sockets that all set it, and new connections are
    /// spread over the listeners among them by a hash of the connection's
    /// addresses and ports (Linux's reuseport groups). Accepted
    /// connections inherit it. Changing it after binding changes nothing.
    pub reuse_port: bool,
}

impl SocketOptions {
    /// Nothing set: the host's defaults everywhere (`Default`, usable in
    /// a constant).
    pub const UNSET: SocketOptions = SocketOptions {
        recv_buffer: None,
        send_buffer: None,
        keepalive_time: None,
        keepalive_interval: None,
        keepalive_probes: None,
        tos: 0,
        ttl: None,
        max_seg: None,
        user_timeout: None,
        connect_timeout: None,
        no_options: false,
        notsent_lowat: None,
        reuse_port: false,
    };

    /// Buffer sizes within 1 byte and [`MAX_SOCKET_BUFFER`], the MSS
    /// ceiling within 88 and 65,495, keep-alive times within 1 and 32,767
    /// seconds and 1 to 127 probes (Linux's ranges), a user timeout of
    /// zero unset, a connect timeout within 1 s and 24 days, an unsent
    /// threshold of zero unset.
    pub fn clamped(mut self) -> SocketOptions {
        let clamp = |b: Option<usize>| b.map(|b| b.clamp(1, MAX_SOCKET_BUFFER));
        self.recv_buffer = clamp(self.recv_buffer);
        self.send_buffer = clamp(self.send_buffer);
        self.max_seg = self.max_seg.map(|m| m.clamp(88, 65495));
        // Linux's ranges: 1 to 32,767 s, 1 to 127 probes.
        let secs = |t: Option<Duration>| {
            t.map(|t| t.clamp(Duration::from_secs(1), Duration::from_secs(32_767)))
        };
        self.keepalive_time = secs(self.keepalive_time);
        self.keepalive_interval = secs(self.keepalive_interval);
        self.keepalive_probes = self.keepalive_probes.map(|n| n.clamp(1, 127));
        // Zero means unset (Linux's TCP_USER_TIMEOUT 0).
        self.user_timeout = self
            .user_timeout
            .filter(|t| !t.is_zero())
            .map(|t| t.min(Duration::from_millis(i32::MAX as u64)));
        self.notsent_lowat = self.notsent_lowat.filter(|&n| n > 0);
        self.connect_timeout = self.connect_timeout.map(|t| {
            t.clamp(
                Duration::from_secs(1),
                Duration::from_millis(i32::MAX as u64),
            )
        });
        self
    }

    /// The user timeout in milliseconds, if set.
    pub(super) fn user_timeout_ms(&self) -> Option<u32> {
        self.user_timeout.map(|t| t.as_millis().max(1) as u32)
    }

    /// The TOS octet segments carry: the DS field, ECN bits clear.
    pub(super) fn tos_sent(&self) -> u8 {
        self.tos & 0xfc
    }

    pub(super) fn recv_buffer(&self, config: &TcpConfig) -> usize {
        self.recv_buffer.unwrap_or(config.recv_buffer)
    }

    pub(super) fn send_buffer(&self, config: &TcpConfig) -> usize {
        self.send_buffer.unwrap_or(config.send_buffer)
    }

    /// The keep-alive times in force; never below a millisecond, whatever
    /// the host's settings say, so a timer cannot fire again at once.
    pub(super) fn keepalive_time(&self, config: &TcpConfig) -> Duration {
        let t = self.keepalive_time.unwrap_or(config.keepalive_time);
        t.max(Duration::from_millis(1))
    }

    pub(super) fn keepalive_interval(&self, config: &TcpConfig) -> Duration {
        let t = self.keepalive_interval.unwrap_or(config.keepalive_interval);
        t.max(Duration::from_millis(1))
    }

    pub(super) fn keepalive_probes(&self, config: &TcpConfig) -> u32 {
        self.keepalive_probes.unwrap_or(config.keepalive_probes)
    }
}

#[cfg(test)]
mod tests {
    use super::CongestionAlgorithm as A;

    /// Each algorithm by the name `ss -i` prints, and each controller
    /// prints the name it was chosen by.
    #[test]
    fn congestion_names_round_trip() {
        for a in [A::NewReno, A::Cubic, A::Bbr, A::Bbr1] {
            assert_eq!(A::from_name(a.name()), Some(a));
            let c = super::super::congestion::new_controller(a, 14_480, 1448, 1);
            assert_eq!(c.name(), a.name());
        }
        assert_eq!(A::from_name("newreno"), Some(A::NewReno));
        assert_eq!(A::from_name("bbr2"), None);
    }
}
