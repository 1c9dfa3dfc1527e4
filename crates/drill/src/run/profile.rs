//! What the scripts assume of the stack under test, as stack
//! configuration: the default profile is tcplab's own behaviour, the
//! FreeBSD profile the settings the FreeBSD suite was written against.
//! `sysctl -w` lines change the same settings.

use std::time::Duration;

use tcplab_stack::tcp::{OptionLayout, ReceiverSws, TcpConfig, MAX_SOCKET_BUFFER};
use tcplab_stack::Config;

/// Which stack the scripts were written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// tcplab's defaults (Linux-like buffers, timers and option layout).
    #[default]
    Tcplab,
    /// FreeBSD's defaults: 64 KiB receive and 32 KiB send buffers, the
    /// receive buffer rounded up to whole segments, window scale from
    /// `kern.ipc.maxsockbuf`, a 40 ms delayed ACK, a 30 ms RTO floor plus
    /// 200 ms of slop, options laid out as `tcp_addoptions()` does (SYN
    /// `mss,nop,wscale,sackOK,TS`, EOL padding), the receive window all the
    /// free space (`tcp_output()`'s silly-window rule), an ACK for every
    /// second segment of any size and no quick ACKs, Nagle as RFC 9293 writes it (not Linux's
    /// Minshall variant), and ACKs that repeat an unacknowledged
    /// FIN, RSTs ignored in TIME-WAIT (RFC 1337), TIME-WAIT's other
    /// segments judged as `tcp_twcheck()` does, a <SYN,ACK> to a listener
    /// dropped without a reset, a FIN that came with text on a
    /// simultaneous open's SYN lost as its reassembly queue loses it, an
    /// ICMP error about the
    /// SYN ending the attempt (`icmp_may_rst`), a 75 s `keepinit`, RCV.WND
    /// as the free buffer space. A SYN does not reopen TIME-WAIT: the
    /// suite's `#ifdef STANDARD` branches expect RFC 9293's rules there
    /// (defining `FreeBSD` turns FreeBSD's reopening back on).
    FreeBsd,
}

impl Profile {
    pub fn from_name(name: &str) -> Option<Profile> {
        match name {
            "tcplab" => Some(Profile::Tcplab),
            "freebsd" => Some(Profile::FreeBsd),
            _ => None,
        }
    }
}

/// The settings `sysctl -w` may change, and how they map to the stack.
#[derive(Debug, Clone)]
pub(super) struct Sysctl {
    pub tcp: TcpConfig,
    /// `kern.ipc.maxsockbuf`: BSD picks the window scale that lets a
    /// buffer this large be advertised.
    maxsockbuf: u64,
    profile: Profile,
}

impl Sysctl {
    pub fn new(profile: Profile) -> Sysctl {
        let mut tcp = TcpConfig::default();
        let maxsockbuf = 2 * 1024 * 1024;
        if profile == Profile::FreeBsd {
            tcp.recv_buffer = 65_536;
            tcp.send_buffer = 32_768;
            tcp.recv_buffer_whole_segments = true;
            tcp.delayed_ack = Duration::from_millis(40);
            tcp.rto_min = Duration::from_millis(30);
            tcp.rto_slop = Duration::from_millis(200);
            tcp.rto_initial = Duration::from_secs(1);
            tcp.option_layout = OptionLayout::Bsd;
            tcp.receiver_sws = ReceiverSws::FreeSpace;
            tcp.ack_every_second_segment = true;
            tcp.quickack = false;
            tcp.push_at_burst_end = false;
            // FreeBSD restarts after idle too (cc_after_idle), straight to
            // the restart window and counting idle from the last segment
            // received; tcplab's halving per RTO stays (no script in the
            // suite tells the two apart).
            tcp.nagle_minshall = false;
            tcp.fin_on_acks = true;
            tcp.rfc1337 = true;
            tcp.time_wait_bsd = true;
            tcp.listen_reset_synack = false;
            tcp.listen_drop_synfin = false;
            tcp.keep_fin_with_syn_text = false;
            tcp.rcv_wnd_is_buffer_space = true;
            // The scripts' STANDARD branches expect RFC 9293's TIME-WAIT
            // rules; FreeBSD itself reopens (`-D FreeBSD` expects that).
            tcp.time_wait_reopen = false;
            tcp.syn_sent_icmp_abort = true;
            // FreeBSD keeps soft errors soft in SYN-SENT (tcp_notify).
            tcp.syn_sent_soft_abort = false;
            // TCP_MAXRXTSHIFT: twelve retransmissions of the SYN (unless
            // keepinit ends the attempt first), the timer capped at
            // TCPTV_REXMTMAX, 64 s.
            tcp.syn_retries = 12;
            tcp.rto_max = Duration::from_secs(64);
            tcp.connect_timeout = Some(Duration::from_secs(75));
            // FreeBSD announces MTU − 40 however small (tcp_mssopt).
            tcp.min_announced_mss = 0;
            tcp.window_scale = Some(bsd_window_scale(maxsockbuf));
        }
        Sysctl {
            tcp,
            maxsockbuf,
            profile,
        }
    }

    pub fn stack_config(&self, seed: u64) -> Config {
        Config {
            seed,
            tcp: self.tcp.clone(),
            ..Config::default()
        }
    }

    /// Apply `name=value`; an error names what is not understood.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let int = || -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("sysctl {name}: `{value}` is not a number"))
        };
        let flag = || -> Result<bool, String> {
            match value {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(format!("sysctl {name}: expected 0 or 1, not `{value}`")),
            }
        };
        // Times from a millisecond (FreeBSD's sysctl_msec_to_ticks refuses
        // a time under one tick with EINVAL) up to a day; buffers up to
        // kern.ipc.maxsockbuf (BSD refuses larger ones too) and 64 MiB;
        // counts up to 1000.
        let ms = || {
            int().and_then(|v| match v {
                0 => Err(format!(
                    "sysctl {name}=0: Invalid argument (a time of at least 1 ms)"
                )),
                1..=86_400_000 => Ok(Duration::from_millis(v)),
                _ => Err(format!("sysctl {name}={value}: more than a day")),
            })
        };
        // Linux gives keep-alive times in seconds.
        let secs = || {
            int().and_then(|v| {
                (v <= 86_400)
                    .then(|| Duration::from_secs(v))
                    .ok_or_else(|| format!("sysctl {name}={value}: more than a day"))
            })
        };
        let maxsockbuf = self.maxsockbuf.min(64 << 20);
        let bytes = || {
            int().and_then(|v| {
                (1..=maxsockbuf)
                    .contains(&v)
                    .then_some(v as usize)
                    .ok_or_else(|| format!("sysctl {name}={value}: expected 1 to {maxsockbuf}"))
            })
        };
        let count = || {
            int().and_then(|v| {
                (v <= 1000)
                    .then_some(v as u32)
                    .ok_or_else(|| format!("sysctl {name}={value}: expected 0 to 1000"))
            })
        };
        let t = &mut self.tcp;
        match name {
            "kern.ipc.maxsockbuf" => {
                self.maxsockbuf = int()?.max(1);
                if self.profile == Profile::FreeBsd {
                    t.window_scale = Some(bsd_window_scale(self.maxsockbuf));
                }
            }
            "net.inet.tcp.rfc1323" => {
                let on = flag()?;
                t.window_scaling = on;
                t.timestamps = on;
            }
            "net.inet.tcp.sack.enable" => t.sack = flag()?,
            "net.inet.tcp.recvspace" => t.recv_buffer = bytes()?,
            "net.inet.tcp.sendspace" => t.send_buffer = bytes()?,
            // RFC 5961 §3 and §4 (0) or RFC 793's rules (1).
            "net.inet.tcp.insecure_rst" => t.rst_challenge = !flag()?,
            "net.inet.tcp.insecure_syn" => t.syn_challenge = !flag()?,
            "net.inet.tcp.drop_synfin" => t.drop_synfin = flag()?,
            "net.inet.tcp.syncookies" => t.syncookies = flag()?,
            // SYN cookies only when the queue overflows: tcplab's rule.
            "net.inet.tcp.syncookies_only" => {
                if flag()? {
                    return Err(format!("sysctl {name}=1: tcplab keeps a SYN queue"));
                }
            }
            "net.inet.tcp.rexmit_initial" => t.rto_initial = ms()?,
            "net.inet.tcp.rexmit_min" => {
                let min = ms()?;
                if min > t.rto_max {
                    return Err(format!("sysctl {name}={value}: above the largest RTO"));
                }
                t.rto_min = min;
            }
            "net.inet.tcp.rexmit_slop" => t.rto_slop = ms()?,
            "net.inet.tcp.rexmit_drop_options" => t.syn_drop_options = flag()?,
            "net.inet.tcp.delacktime" => t.delayed_ack = ms()?,
            // 1: BSD's delayed ACKs, with no quick ACKs at the start (the
            // FreeBSD profile's); 0 (an ACK for every segment) is not a
            // mode tcplab has.
            "net.inet.tcp.delayed_ack" => {
                if !flag()? {
                    return Err(format!("sysctl {name}=0: tcplab always delays ACKs"));
                }
                t.quickack = false;
            }
            "net.inet.tcp.keepinit" => t.connect_timeout = Some(ms()?),
            "net.inet.tcp.icmp_may_rst" => t.syn_sent_icmp_abort = flag()?,
            "net.inet.tcp.keepidle" => t.keepalive_time = ms()?,
            "net.inet.tcp.keepintvl" => t.keepalive_interval = ms()?,
            "net.inet.tcp.keepcnt" => t.keepalive_probes = count()?,
            // A closed port answers with a RST (0); tcplab always does.
            "net.inet.tcp.blackhole" => {
                if int()? != 0 {
                    return Err(format!(
                        "sysctl {name}={value}: tcplab always answers a closed port"
                    ));
                }
            }
            // 2: answer ECN, never start it. tcplab neither starts nor
            // answers it; no script here offers ECN.
            "net.inet.tcp.ecn.enable" => {
                if !matches!(value, "0" | "2") {
                    return Err(format!("sysctl {name}={value}: tcplab does not start ECN"));
                }
            }
            // Strict timestamps: a segment without TSopt after they were
            // agreed is dropped (RFC 7323 §3.2 allows it); 1 would accept.
            "net.inet.tcp.tolerate_missing_ts" => {
                if flag()? {
                    return Err(format!("sysctl {name}=1: tcplab follows RFC 7323 §3.2"));
                }
            }
            // tcplab keeps no host cache.
            "net.inet.tcp.hostcache.purgenow" => {}
            // Linux's names (packetdrill's own tests set these).
            "net.ipv4.tcp_timestamps" => {
                // 2: timestamps without a random offset; tcplab's offsets
                // are per address pair (RFC 7323 §5.4) either way.
                t.timestamps = match value {
                    "0" => false,
                    "1" | "2" => true,
                    _ => return Err(format!("sysctl {name}={value}: expected 0, 1 or 2")),
                }
            }
            // "min default max": the default is a socket's buffer; the
            // maximum sets the window scale offered (Linux's
            // tcp_select_initial_window() sizes it for the largest
            // buffer autotuning may reach).
            "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem" => {
                let v: Vec<u64> = value
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("sysctl {name}: `{value}` is not three numbers"))?;
                let [min, default, max] = v[..] else {
                    return Err(format!("sysctl {name}: `{value}` is not three numbers"));
                };
                if !(1..=max).contains(&min) || !(min..=max).contains(&default) {
                    return Err(format!(
                        "sysctl {name}={value}: expected min <= default <= max"
                    ));
                }
                let default = usize::try_from(default)
                    .ok()
                    .filter(|&d| d <= MAX_SOCKET_BUFFER)
                    .ok_or_else(|| {
                        format!("sysctl {name}={value}: a default above {MAX_SOCKET_BUFFER}")
                    })?;
                if name == "net.ipv4.tcp_rmem" {
                    t.recv_buffer = default;
                    t.window_scale = Some(linux_window_scale(max));
                } else {
                    t.send_buffer = default;
                }
            }
            "net.ipv4.tcp_sack" => t.sack = flag()?,
            // D-SACK (RFC 2883) is always sent; FACK is gone from Linux.
            "net.ipv4.tcp_dsack" => {
                if !flag()? {
                    return Err(format!("sysctl {name}=0: tcplab always sends D-SACK"));
                }
            }
            "net.ipv4.tcp_fack" => {
                if flag()? {
                    return Err(format!("sysctl {name}=1: tcplab has no FACK"));
                }
            }
            // The duplicate-ACK threshold (RFC 5681 §3.2's three).
            "net.ipv4.tcp_reordering" => {
                t.dupthresh = count()?.max(1);
            }
            // Bit 0: RACK (RFC 8985) for loss detection.
            "net.ipv4.tcp_recovery" => t.rack = int()? & 1 == 1,
            // 3 and 4: the tail loss probe (RFC 8985 §7); 0-2 none.
            "net.ipv4.tcp_early_retrans" => t.tlp = int()? >= 3,
            // RFC 5681 §4.1's restart after idle (Linux's default 1; its
            // test setup says 0).
            "net.ipv4.tcp_slow_start_after_idle" => t.slow_start_after_idle = flag()?,
            // No F-RTO (RFC 5682) in tcplab.
            "net.ipv4.tcp_frto" => {
                if int()? != 0 {
                    return Err(format!("sysctl {name}={value}: tcplab has no F-RTO"));
                }
            }
            // tcplab sends MSS-sized segments: no TSO to defer for, and
            // pacing only where BBR paces itself.
            // The runner matches a super-segment line against the segments
            // sent together, whatever their count: the TSO size does not
            // matter.
            "net.ipv4.tcp_tso_win_divisor"
            | "net.ipv4.tcp_min_tso_segs"
            | "net.ipv4.tcp_pacing_ss_ratio"
            | "net.ipv4.tcp_pacing_ca_ratio" => {
                int()?;
            }
            // The host's TCP_NOTSENT_LOWAT; UINT_MAX (the default) is none.
            "net.ipv4.tcp_notsent_lowat" => {
                let v = u32::try_from(int()?)
                    .map_err(|_| format!("sysctl {name}={value}: above 4294967295"))?;
                t.notsent_lowat = Some(v).filter(|&v| v != u32::MAX && v > 0);
            }
            // No TCP Fast Open (RFC 7413).
            "net.ipv4.tcp_fastopen" => {
                if int()? != 0 {
                    return Err(format!(
                        "sysctl {name}={value}: tcplab has no TCP Fast Open"
                    ));
                }
            }
            // 2 asks for the AccECN option only when AccECN is agreed.
            "net.ipv4.tcp_ecn_option" => {
                int()?;
            }
            "net.ipv4.tcp_window_scaling" => t.window_scaling = flag()?,
            "net.ipv4.tcp_syn_retries" => t.syn_retries = count()?,
            "net.ipv4.tcp_synack_retries" => t.synack_retries = count()?,
            "net.ipv4.tcp_retries2" => t.data_retries = count()?,
            "net.ipv4.tcp_keepalive_time" => t.keepalive_time = secs()?,
            "net.ipv4.tcp_keepalive_intvl" => t.keepalive_interval = secs()?,
            "net.ipv4.tcp_keepalive_probes" => t.keepalive_probes = count()?,
            "net.ipv4.tcp_syncookies" => t.syncookies = int()? != 0,
            "net.ipv4.tcp_rfc1337" => t.rfc1337 = flag()?,
            "net.ipv4.tcp_tw_reuse" => t.tw_reuse = int()? != 0,
            "net.ipv4.tcp_congestion_control" => {
                t.congestion = tcplab_stack::tcp::CongestionAlgorithm::from_name(value)
                    .ok_or_else(|| {
                        format!("sysctl {name}={value}: tcplab has reno, cubic, bbr and bbr1")
                    })?;
            }
            // 0: no ECN; 2: answer it when asked (no script here asks).
            "net.ipv4.tcp_ecn" => {
                if !matches!(value, "0" | "2") {
                    return Err(format!("sysctl {name}={value}: tcplab does not start ECN"));
                }
            }
            // tcplab keeps no per-destination metrics.
            "net.ipv4.tcp_no_metrics_save" => {
                flag()?;
            }
            _ => return Err(format!("sysctl {name}: not a setting tcplab knows")),
        }
        Ok(())
    }
}

/// The window scale BSD offers: the least shift that lets a buffer of
/// `maxsockbuf` bytes be advertised (`tcp_connect()` in tcp_usrreq.c,
/// RFC 7323 §2.3 caps it at 14).
fn bsd_window_scale(maxsockbuf: u64) -> u8 {
    let mut shift = 0;
    while shift < 14 && (65_535u64 << shift) < maxsockbuf {
        shift += 1;
    }
    shift
}

/// The window scale Linux offers for a largest receive buffer of `max`
/// bytes: halve it until it fits 16 bits (`tcp_select_initial_window()`;
/// RFC 7323 §2.3 caps the shift at 14).
fn linux_window_scale(max: u64) -> u8 {
    let mut space = max;
    let mut shift = 0;
    while space > 65_535 && shift < 14 {
        space >>= 1;
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scale_follows_maxsockbuf() {
        assert_eq!(bsd_window_scale(2_097_152), 6);
        assert_eq!(bsd_window_scale(73_728), 1);
        assert_eq!(bsd_window_scale(65_535), 0);
        assert_eq!(bsd_window_scale(u64::from(u32::MAX)), 14);
    }

    #[test]
    fn unknown_sysctl_is_an_error() {
        let mut s = Sysctl::new(Profile::FreeBsd);
        assert!(s.set("net.inet.tcp.nosuch", "1").is_err());
        assert!(s.set("net.inet.tcp.sack.enable", "2").is_err());
        s.set("net.inet.tcp.insecure_rst", "1").unwrap();
        assert!(!s.tcp.rst_challenge);
        // Values that would exhaust memory or break the timers are refused.
        assert!(s
            .set("net.inet.tcp.recvspace", "18446744073709551615")
            .is_err());
        assert!(s.set("net.inet.tcp.recvspace", "0").is_err());
        assert!(s.set("net.inet.tcp.rexmit_min", "200000").is_err());
        // No timer of 0: FreeBSD refuses a time under one tick.
        for name in ["rexmit_initial", "rexmit_min", "delacktime", "keepintvl"] {
            let e = s.set(&format!("net.inet.tcp.{name}"), "0").unwrap_err();
            assert!(e.contains("Invalid argument"), "{e}");
        }
        assert!(s
            .set("net.inet.tcp.keepidle", "18446744073709551615")
            .is_err());
        assert!(s.set("net.inet.tcp.keepcnt", "4294967296").is_err());
        s.set("net.inet.tcp.recvspace", "65536").unwrap();
        assert_eq!(s.tcp.recv_buffer, 65_536);
    }

    /// Linux's names, as packetdrill's own tests set them.
    #[test]
    fn linux_sysctls() {
        let mut s = Sysctl::new(Profile::Tcplab);
        s.set("net.ipv4.tcp_timestamps", "0").unwrap();
        s.set("net.ipv4.tcp_sack", "0").unwrap();
        s.set("net.ipv4.tcp_window_scaling", "0").unwrap();
        assert!(!(s.tcp.timestamps || s.tcp.sack || s.tcp.window_scaling));
        s.set("net.ipv4.tcp_keepalive_time", "7").unwrap();
        assert_eq!(s.tcp.keepalive_time, Duration::from_secs(7));
        s.set("net.ipv4.tcp_congestion_control", "reno").unwrap();
        assert_eq!(s.tcp.congestion.name(), "reno");
        assert!(s.set("net.ipv4.tcp_congestion_control", "vegas").is_err());
        assert!(s.set("net.ipv4.tcp_timestamps", "3").is_err());
        assert!(s.set("net.ipv4.tcp_ecn", "1").is_err());
        assert!(s.set("net.ipv4.tcp_keepalive_time", "999999999").is_err());
    }
}
