//! The transmission control block: one connection's state, its send and
//! receive sides, timers, RTT estimator and congestion controller, with
//! RFC 9293's names (§3.3.1: SND.UNA, SND.NXT, RCV.NXT, ISS, IRS, ...).
//!
//! Fields are private to the TCP module. State changes go through
//! [`Connection::goto`] (checked against RFC 9293's diagram); sequence
//! variables change only through [`Sender`] and [`Receiver`].

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::chrono::{Chrono, Limit};
use super::compact::{OptInstant, OptMillis, Options};
use super::config::{CongestionAlgorithm, SocketOptions, TcpConfig};
use super::congestion::{initial_window, new_controller, Held};
use super::filter::{Extreme, WindowedFilter};
use super::rate::RateSampler;
use super::receiver::Receiver;
use super::recovery::{LossConfig, Rack, Recovery, Tlp};
use super::rtt::{RttBounds, RttEstimator};
use super::sender::Sender;
use super::state::{Opening, Phase, State};
use super::timers::{Timer, TimerTable};
use crate::slab::Key;
use crate::socket::SocketError;
use crate::time::Instant;

/// Who holds the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Made by a listener and not accepted yet: in its SYN queue, or in its
    /// accept queue once established (`queued`).
    Listener { key: Key, queued: bool },
    /// The application has the socket.
    App,
    /// The application closed the socket: the connection finishes on its
    /// own and is then freed.
    Orphan,
}

/// What every connection of a stack reads from its configuration while
/// it runs, kept once per [`TcpLayer`](super::table::TcpLayer) and shared:
/// copies in each connection would cost 88 bytes apiece (issue 13). A
/// change to the configuration reaches connections opened afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    pub loss: LossConfig,
    pub rtt: RttBounds,
    /// Bounds of the persist timer's probe interval.
    pub persist_min: Duration,
    pub persist_max: Duration,
    /// The delayed-ACK time: data sent within it of the peer's last data
    /// answers it (quick-ACK mode's interactive test).
    pub delayed_ack: Duration,
    /// RFC 5681 §4.1's restart window after idle.
    pub slow_start_after_idle: bool,
    /// PSH at the end of a burst of new data (`TcpConfig`'s).
    pub push_at_burst_end: bool,
    /// The longest an attempt to connect may take (`TcpConfig`'s; a
    /// socket's `TCP_KEEPINIT` replaces it).
    pub connect_timeout: Option<Duration>,
    /// The host's `TCP_NOTSENT_LOWAT` (a socket's replaces it).
    pub notsent_lowat: Option<u32>,
    /// Later SYNs with the MSS option alone (`TcpConfig`'s).
    pub syn_drop_options: bool,
}

impl Shared {
    pub fn from(config: &TcpConfig) -> Shared {
        Shared {
            loss: LossConfig::from(config),
            rtt: RttBounds::new(config.rto_min, config.rto_max, config.rto_slop),
            persist_min: config.persist_min,
            persist_max: config.persist_max,
            delayed_ack: config.delayed_ack,
            slow_start_after_idle: config.slow_start_after_idle,
            push_at_burst_end: config.push_at_burst_end,
            connect_timeout: config.connect_timeout,
            notsent_lowat: config.notsent_lowat.filter(|&n| n > 0),
            syn_drop_options: config.syn_drop_options,
        }
    }
}

/// Zero-window probing and the SWS override (RFC 9293 §3.8.6.1, RFC 1122
/// §4.2.2.17 and §4.2.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persist {
    /// Exponent of the probe interval's backoff.
    pub backoff: u32,
    /// Probes sent since the peer last acknowledged anything. The
    /// connection stays open as long as the peer answers.
    pub unanswered: u32,
    /// Send a probe (or held data) at the next opportunity.
    pub due: bool,
}

/// Keep-alive (RFC 9293 §3.8.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepAlive {
    pub on: bool,
    pub probes: u32,
    pub due: bool,
}

/// Segment size and the DF decision for the current path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segmentation {
    /// Effective send MSS (RFC 9293 §3.7.1).
    pub mss: usize,
    /// MSS the peer announced (536 if it did not).
    pub peer_mss: u16,
    /// MSS we announce.
    pub our_mss: u16,
    /// Set DF (path MTU discovery); off when the path MTU is below what the
    /// stack segments to.
    pub df: bool,
}

/// Options both ends agreed on in the handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// Selective acknowledgments (RFC 2018 §2: both SYNs said SACK-permitted).
    pub sack: bool,
    /// Timestamps (RFC 7323 §3.2: both SYNs carried TSopt).
    pub ts: bool,
}

/// The timestamp state of RFC 7323 §4.3 and §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsState {
    /// Added to the millisecond clock for this host pair: TSvals to one
    /// peer keep increasing across connections (RFC 6191 relies on it).
    pub offset: u32,
    /// TS.Recent: the value to echo.
    pub recent: u32,
    /// When TS.Recent was last set (the 24-day rule of §5.5).
    pub recent_stamp: OptInstant,
    /// Last.ACK.sent: the ACK field of the last segment sent.
    pub last_ack_sent: SeqNumber,
}

impl TsState {
    /// Our TSval at `now`: a 1 ms clock (RFC 7323 §5.4 allows 1 ms to 1 s).
    pub fn clock(&self, now: Instant) -> u32 {
        ((now.total_micros() / 1000) as u32).wrapping_add(self.offset)
    }

    /// Whether TS.Recent may be used for PAWS: set, and not older than
    /// 24 days (§5.5: the peer's clock may have wrapped its sign bit).
    pub fn recent_valid(&self, now: Instant) -> bool {
        self.recent_stamp
            .get()
            .is_some_and(|t| now.saturating_since(t) < Duration::from_secs(24 * 86_400))
    }

    /// Remember the peer's TSval as TS.Recent.
    pub fn take_recent(&mut self, tsval: u32, now: Instant) {
        self.recent = tsval;
        self.recent_stamp = OptInstant::some(now);
    }
}

/// `a < b` in the modular sense of RFC 7323 §5.2 (for TSvals).
pub fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Counters for STATUS and `ss -i`. Segment and event counts are 32 bits
/// and wrap, as Linux's `tcp_info` fields (tcpi_segs_out, tcpi_total_retrans,
/// tcpi_dsack_dups, ...) do; byte counts are 64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_in: u32,
    pub segs_out: u32,
    /// Of those, the segments that carried data (Linux's data_segs_in and
    /// data_segs_out; a window probe's byte counts as data here).
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    pub retrans_segs: u32,
    /// Of those, sent outside recovery from a timeout (Linux's
    /// TCPFastRetrans: per segment, not per episode).
    pub fast_retrans: u32,
    pub dsack_sent: u32,
    pub loss_probes: u32,
    /// D-SACKs received, and reorderings detected (Linux's dsack_dups and
    /// reord_seen in TCP_INFO).
    pub dsack_dups: u32,
    pub reord_seen: u32,
}

/// One connection.
#[derive(Debug)]
pub struct Connection {
    pub(super) phase: Phase,
    pub(super) local: SocketAddrV4,
    pub(super) remote: SocketAddrV4,
    pub(super) snd: Sender,
    pub(super) rcv: Receiver,
    pub(super) timers: TimerTable,
    pub(super) rtt: RttEstimator,
    pub(super) cc: Held,
    /// The algorithm behind `cc` (the stack's default or the socket's
    /// `TCP_CONGESTION`).
    pub(super) algorithm: CongestionAlgorithm,
    pub(super) seg: Segmentation,
    /// Put a window-scale option in our SYN (RFC 7323 §2.2).
    pub(super) offer_wscale: bool,
    /// What our SYN offers (from the configuration), then what was agreed.
    pub(super) offer: Negotiated,
    pub(super) neg: Negotiated,
    pub(super) ts: TsState,
    pub(super) rec: Recovery,
    pub(super) rack: Rack,
    pub(super) tlp: Tlp,
    /// The minimum RTT over the last five minutes, in microseconds,
    /// stamped in milliseconds (RFC 8985 §5.2; Linux's
    /// `tcp_min_rtt_wlen`).
    pub(super) min_rtt: WindowedFilter<u32>,
    pub(super) rate: RateSampler,
    /// The stack's settings, shared.
    pub(super) shared: Arc<Shared>,
    /// When the next paced segment may leave.
    pub(super) pace_next: Instant,
    /// Consecutive retransmission timeouts (RFC 9293 §3.8.3's R1/R2).
    pub(super) retries: u16,
    /// Retransmission timeouts before the handshake completed: a lost SYN
    /// or SYN-ACK (RFC 5681 §3.1, RFC 6298 §5.7).
    pub(super) syn_timeouts: u8,
    /// The peer's MSS as its segments show it (Linux's rcv_mss): 536
    /// until a larger data segment arrives, or two in a row of one
    /// smaller size (a path with a small MTU).
    pub(super) rcv_mss: u16,
    /// The payload of the last segment that was a candidate for a smaller
    /// `rcv_mss`.
    pub(super) last_seg_size: u16,
    pub(super) persist: Persist,
    pub(super) keepalive: KeepAlive,
    /// Time the last segment arrived.
    pub(super) last_recv: Instant,
    /// When the connection was made (for `TcpConfig::connect_timeout`);
    /// once the handshake completes, when it did (`TCP_INFO`'s times since
    /// data last moved count from it until data does, as Linux's).
    pub(super) opened: OptMillis,
    /// Last ACK sent in answer to an unacceptable segment.
    pub(super) last_oow_ack: OptInstant,
    /// Nagle's algorithm and the cork: what holds partial segments back.
    pub(super) nagle: Nagle,
    /// The end of the last segment sent smaller than the MSS (Linux's
    /// snd_sml); at most SND.UNA once that is acknowledged (moved up with
    /// it, so it never falls 2³¹ behind).
    pub(super) snd_sml: SeqNumber,
    /// How much of the window the sender used over the last window of
    /// data sent (Linux's is_cwnd_limited, max_packets_out and
    /// cwnd_usage_seq, in bytes): whether it filled the window, the most
    /// it had outstanding, and where that window ends.
    pub(super) cwnd_use: CwndUse,
    /// When the last in-order data arrived: the receiver's quick-ACK mode
    /// reads it.
    pub(super) last_data_ms: OptMillis,
    /// When the oldest unacknowledged data was sent, stamped at the first
    /// retransmission timeout or unanswered window probe and cleared when
    /// the peer answers (Linux's retrans_stamp): the user timeout counts
    /// from it.
    pub(super) stalled_ms: OptMillis,
    /// When data (new or repaired) last went out (Linux's lsndtime): the
    /// restart after idle counts from it.
    pub(super) last_send_ms: OptMillis,
    /// What limited the sender, for how long (`ss -i`'s busy,
    /// rwnd_limited, sndbuf_limited).
    pub(super) chrono: Chrono,
    /// The socket's own settings (buffers, keep-alive, TOS, TTL).
    pub(super) opts: Options,
    /// ACKs repeat an unacknowledged FIN (`TcpConfig::fin_on_acks`).
    pub(super) fin_on_acks: bool,
    /// The next ACK answers a challenge (RFC 5961): a bare one.
    pub(super) challenge_due: bool,
    /// Text (and whether a FIN) that came on the peer's SYN in a
    /// simultaneous open, queued until ESTABLISHED (RFC 9293 §3.10.7.3).
    pub(super) syn_text: Option<Box<(Vec<u8>, bool)>>,
    /// A hard error for the application (reset, timeout, refused).
    pub(super) error: Option<SocketError>,
    /// The last ICMP-reported problem (RFC 5927): reported only if the
    /// connection then times out.
    pub(super) soft_error: Option<SocketError>,
    pub(super) owner: Owner,
    pub(super) counters: Counters,
    /// The wake-up filed in the table's timer set: no later than the next
    /// deadline (the table files them lazily).
    pub(super) scheduled: OptInstant,
    /// In the table's queue of connections that may have output.
    pub(super) marked: bool,
    /// What the connection records for a report, when the stack records
    /// (`TcpLayer::set_tracing`); `None` otherwise.
    pub(super) trail: Option<Box<super::trace::Trail>>,
}

/// What holds partial segments back: Nagle's algorithm (RFC 9293
/// §3.7.4; off with `TCP_NODELAY`, in Minshall's variant if so configured)
/// and the cork (Linux's TCP_NAGLE_CORK and TCP_NAGLE_PUSH): a segment
/// smaller than the MSS waits while the socket is corked or the
/// application said more is coming, until the cork comes off, a send
/// without `MSG_MORE`, a FIN, urgent data, a push, or the persist timer
/// (which sends what the window takes when nothing is in flight: tcp(7)'s
/// 200 ms ceiling, the RTO here as on Linux). One byte, to keep the
/// control block small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Nagle(u8);

impl Nagle {
    /// `TCP_NODELAY`: Nagle's algorithm off.
    const OFF: u8 = 1;
    /// Minshall's variant (`TcpConfig::nagle_minshall`).
    const MINSHALL: u8 = 2;
    /// `TCP_CORK`.
    const CORK: u8 = 4;
    /// The last send carried `MSG_MORE`: a partial segment waits, until
    /// the next send or the next segment from the peer (Linux's transient
    /// TCP_NAGLE_CORK for that call's push).
    const MORE: u8 = 8;
    /// `TCP_NODELAY` was set with data queued: it goes, corked or not,
    /// until the queue has gone out.
    const PUSH: u8 = 16;
    /// The queued data ends with a `MSG_MORE` send: not the end of a
    /// message, so no PSH there (Linux marks no push for it).
    const NO_PSH: u8 = 32;
    /// The FIN goes in a segment of its own: the data queued before the
    /// close would all have gone at once (`Connection::unsent_goes_now`).
    const FIN_APART: u8 = 64;

    pub fn new(nagle: bool, minshall: bool) -> Nagle {
        let mut n = Nagle(0);
        n.set(Self::OFF, !nagle);
        n.set(Self::MINSHALL, minshall);
        n
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    pub fn nodelay(self) -> bool {
        self.0 & Self::OFF != 0
    }

    pub fn set_nodelay(&mut self, on: bool) {
        self.set(Self::OFF, on);
    }

    pub fn minshall(self) -> bool {
        self.0 & Self::MINSHALL != 0
    }

    pub fn corked(self) -> bool {
        self.0 & Self::CORK != 0
    }

    pub fn set_cork(&mut self, on: bool) {
        self.set(Self::CORK, on);
    }

    /// A send with (or without) `MSG_MORE`.
    pub fn sent(&mut self, more: bool) {
        self.set(Self::MORE, more);
        self.set(Self::NO_PSH, more);
    }

    pub fn set_more(&mut self, on: bool) {
        self.set(Self::MORE, on);
    }

    /// Whether the end of the queued data is a push point.
    pub fn push_at_end(self) -> bool {
        self.0 & Self::NO_PSH == 0
    }

    pub fn set_push(&mut self, on: bool) {
        self.set(Self::PUSH, on);
    }

    pub fn fin_apart(self) -> bool {
        self.0 & Self::FIN_APART != 0
    }

    pub fn set_fin_apart(&mut self, on: bool) {
        self.set(Self::FIN_APART, on);
    }

    /// Whether the cork (or `MSG_MORE`) holds a partial segment.
    pub fn holds(self) -> bool {
        self.0 & (Self::CORK | Self::MORE) != 0 && self.0 & Self::PUSH == 0
    }
}

/// The sender's use of its window over the last window of data (see
/// `Connection::cwnd_limited`): where that window ends, the most bytes it
/// had outstanding, and whether the window limited it — the flag in the
/// top bit of `out`, to keep the control block small.
#[derive(Debug, Clone, Copy)]
pub(super) struct CwndUse {
    until: SeqNumber,
    out: u32,
}

impl CwndUse {
    const LIMITED: u32 = 1 << 31;

    pub fn new(until: SeqNumber, max_out: usize, limited: bool) -> CwndUse {
        let out = u32::try_from(max_out)
            .unwrap_or(u32::MAX)
            .min(!Self::LIMITED);
        CwndUse {
            until,
            out: out | if limited { Self::LIMITED } else { 0 },
        }
    }

    pub fn until(self) -> SeqNumber {
        self.until
    }

    pub fn max_out(self) -> usize {
        (self.out & !Self::LIMITED) as usize
    }

    pub fn limited(self) -> bool {
        self.out & Self::LIMITED != 0
    }
}

/// What a STATUS call reports (RFC 9293 §3.9.1 "STATUS"), and `ss -i`.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpInfo {
    pub state: State,
    /// Capacity of the receive and send buffers (`SO_RCVBUF`, `SO_SNDBUF`).
    pub recv_buffer: usize,
    pub send_buffer: usize,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// The highest sequence number sent plus one; SND.NXT is never moved
    /// back here, so the two are equal.
    pub snd_max: SeqNumber,
    pub snd_wnd: u32,
    pub snd_wscale: u8,
    pub rcv_nxt: SeqNumber,
    pub rcv_wnd: u32,
    pub rcv_wscale: u8,
    pub iss: SeqNumber,
    pub irs: SeqNumber,
    pub mss: usize,
    pub peer_mss: u16,
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
    pub rto: Duration,
    pub cwnd: usize,
    pub ssthresh: usize,
    pub congestion: &'static str,
    pub in_recovery: bool,
    /// Linux's congestion-avoidance state: open, disorder, recovery, loss.
    pub ca_state: &'static str,
    /// SACK and timestamps as agreed in the handshake.
    pub sack: bool,
    pub timestamps: bool,
    /// The windowed minimum RTT.
    pub min_rtt: Option<Duration>,
    /// Bytes per second: the pacing rate (for algorithms that pace) and
    /// the last delivery-rate sample, and whether that was limited by the
    /// application.
    pub pacing_rate: Option<u64>,
    pub delivery_rate: Option<u64>,
    pub app_limited: bool,
    /// Segments SACKed, marked lost, and sent again and not yet known
    /// delivered (Linux's sacked_out, lost_out, retrans_out).
    pub sacked: usize,
    pub lost: usize,
    pub retrans_out: usize,
    /// Segments sent and not yet cumulatively acknowledged (Linux's
    /// packets_out, `tcpi_unacked`).
    pub unacked: usize,
    /// Bytes delivered to the peer (cumulatively or by SACK).
    pub delivered: u64,
    /// The largest data segment received, at least 536 (`ss -i`'s rcvmss).
    pub rcv_mss: usize,
    /// D-SACKs received and reorderings detected, counted.
    pub dsack_dups: u64,
    pub reord_seen: u64,
    /// Reordering seen (RACK).
    pub reordering_seen: bool,
    /// How far out of order the peer's deliveries were seen, in segments:
    /// DupThresh until more is seen (Linux's `tcpi_reordering`; `ss -i`
    /// prints it when it is not 3).
    pub reordering: u32,
    /// BBR's model, when BBR is the algorithm.
    pub bbr: Option<super::bbr::BbrInfo>,
    pub retrans_segs: u64,
    pub backoff: u32,
    /// Window or keep-alive probes sent and not answered (Linux's
    /// `tcpi_probes`).
    pub probes: u32,
    /// The MSS our SYN announced (Linux's `tcpi_advmss`).
    pub adv_mss: u16,
    /// The delayed-ACK timeout once data has arrived (Linux's ato, set
    /// on the first data), else none.
    pub ato: Option<Duration>,
    /// Payload bytes sent, retransmissions and window probes included
    /// (Linux's `tcpi_bytes_sent`), and of those retransmitted
    /// (`tcpi_bytes_retrans`, probes not included).
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    /// Segments that carried data (`tcpi_data_segs_in`, `_out`).
    pub data_segs_in: u64,
    pub data_segs_out: u64,
    /// Bytes queued to send, unacknowledged ones included (`Send-Q`).
    pub send_queue: usize,
    /// Bytes queued and not yet sent (Linux's `tcpi_notsent_bytes`, what
    /// `TCP_NOTSENT_LOWAT` bounds).
    pub notsent: usize,
    /// Time since data last went out, since in-order data last arrived,
    /// and since the last segment (each carries an ACK) arrived — Linux's
    /// `tcpi_last_data_sent`, `tcpi_last_data_recv`, `tcpi_last_ack_recv`
    /// (`ss -i`'s lastsnd, lastrcv, lastack); before any data moves,
    /// since the handshake completed, where Linux stamps them too. (The
    /// restart after an idle spell stamps the send time when it applies,
    /// so a write held back right after one — corked, a shut window —
    /// reads as sent then.)
    pub last_data_sent: Duration,
    pub last_data_recv: Duration,
    pub last_ack_recv: Duration,
    /// How long the connection had data queued or in flight, and of that
    /// how long the peer's window or the send buffer held it back
    /// (Linux's `tcpi_busy_time`, `tcpi_rwnd_limited`,
    /// `tcpi_sndbuf_limited`).
    pub busy_time: Duration,
    pub rwnd_limited: Duration,
    pub sndbuf_limited: Duration,
    /// Bytes received and not yet read (`Recv-Q`).
    pub recv_queue: usize,
    /// Bytes believed in flight (RFC 6675's pipe).
    pub in_flight: usize,
    /// The timer `ss -o` shows, with its deadline.
    pub timer: Option<(Timer, Instant)>,
    pub nodelay: bool,
    /// `TCP_CORK` is set.
    pub cork: bool,
    pub keepalive: bool,
    /// Bytes of urgent data not yet read, counted from the read position.
    pub urgent: Option<usize>,
}

impl Connection {
    /// A new connection in `phase` with its ISS chosen.
    #[expect(
        clippy::too_many_arguments,
        reason = "everything a new TCB is made from"
    )]
    pub fn new(
        config: &TcpConfig,
        shared: &Arc<Shared>,
        phase: Phase,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        our_mss: u16,
        owner: Owner,
        now: Instant,
        opts: SocketOptions,
    ) -> Connection {
        let (recv_buffer, send_buffer) = (opts.recv_buffer(config), opts.send_buffer(config));
        let wscale = if config.window_scaling {
            config
                .window_scale
                .map_or_else(|| window_shift(recv_buffer), |s| s.min(14))
        } else {
            0
        };
        // TCP_NOOPT: nothing offered, so nothing negotiated.
        let options = !opts.no_options;
        Connection {
            phase,
            local,
            remote,
            snd: Sender::new(iss, send_buffer),
            rcv: {
                let mut rcv = Receiver::new(recv_buffer, wscale);
                rcv.set_sws(config.receiver_sws);
                rcv
            },
            timers: TimerTable::default(),
            rtt: RttEstimator::new(config.rto_initial, &shared.rtt),
            cc: new_controller(config.congestion, initial_window(536), 536, 0),
            algorithm: config.congestion,
            seg: Segmentation {
                mss: 536,
                peer_mss: 536,
                our_mss: opts.max_seg.map_or(our_mss, |m| m.min(our_mss)),
                df: true,
            },
            offer_wscale: config.window_scaling && options,
            offer: Negotiated {
                sack: config.sack && options,
                ts: config.timestamps && options,
            },
            neg: Negotiated::default(),
            ts: TsState {
                offset: 0,
                recent: 0,
                recent_stamp: OptInstant::NONE,
                last_ack_sent: SeqNumber(0),
            },
            rec: Recovery::new(),
            rack: Rack::new(),
            tlp: Tlp::default(),
            min_rtt: WindowedFilter::new(Extreme::Min, 300_000),
            rate: RateSampler::default(),
            shared: Arc::clone(shared),
            pace_next: Instant::ZERO,
            retries: 0,
            syn_timeouts: 0,
            rcv_mss: 536,
            last_seg_size: 0,
            persist: Persist {
                backoff: 0,
                unanswered: 0,
                due: false,
            },
            keepalive: KeepAlive::default(),
            last_recv: now,
            opened: OptMillis::at(now),
            last_oow_ack: OptInstant::NONE,
            nagle: Nagle::new(config.nagle, config.nagle_minshall),
            snd_sml: iss,
            cwnd_use: CwndUse::new(iss, 0, false),
            last_data_ms: OptMillis::NONE,
            stalled_ms: OptMillis::NONE,
            last_send_ms: OptMillis::NONE,
            chrono: Chrono::default(),
            opts: Options::new(opts),
            fin_on_acks: config.fin_on_acks,
            challenge_due: false,
            syn_text: None,
            error: None,
            soft_error: None,
            owner,
            counters: Counters::default(),
            scheduled: OptInstant::NONE,
            marked: false,
            trail: None,
        }
    }

    pub fn state(&self) -> State {
        self.phase.state()
    }

    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Move to another phase (the one place states change).
    pub(super) fn goto(&mut self, to: Phase) {
        let from = self.phase.state();
        self.phase.transition(to);
        if let Some(trail) = self.trail.as_mut() {
            let to = self.phase.state();
            if from != to {
                trail.states.push((from, to));
            }
        }
    }

    /// The next deadline of this connection: its timers and its state's.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.timers.next(), self.phase.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Restart the retransmission timer with the current RTO.
    pub(super) fn restart_rto(&mut self, now: Instant) {
        let mut rto = self.within_user_timeout(now, self.rtt.rto());
        if let Some(left) = self.connect_time_left(now) {
            // The attempt ends when its time is up (BSD's keep-init timer),
            // not at the next backed-off timeout after it.
            rto = rto.min(left.max(Duration::from_millis(1)));
        }
        self.timers.set(Timer::Retransmit, now + rto);
    }

    /// How many more bytes a write may queue now: the free space, or
    /// with `TCP_NOTSENT_LOWAT` what brings the unsent bytes up to it
    /// (rounded up to whole segments, as Linux fills whole buffers) —
    /// nothing once that many wait.
    pub(super) fn send_room(&self) -> usize {
        let free = self.snd.buffer().free();
        match self.notsent_lowat() {
            None => free,
            Some(lowat) => {
                let (lowat, unsent) = (lowat as usize, self.snd.unsent());
                if unsent >= lowat {
                    0
                } else {
                    let room = (lowat - unsent)
                        .checked_next_multiple_of(self.seg.mss.max(1))
                        .unwrap_or(usize::MAX);
                    free.min(room)
                }
            }
        }
    }

    /// `TCP_NOTSENT_LOWAT` in force: the socket's, else the host's (the
    /// table tells the application when sending brings the unsent bytes
    /// below it).
    pub(super) fn notsent_lowat(&self) -> Option<u32> {
        self.opts.notsent_lowat.or(self.shared.notsent_lowat)
    }

    /// Before an active open completes, how long the attempt to connect
    /// may still take (`SocketOptions::connect_timeout`, else the
    /// host's); `None` when unlimited, once synchronized, and for a
    /// passive open (its SYN-ACK retries bound it: `synack_retries`, as
    /// FreeBSD's syncache ignores keepinit).
    pub(super) fn connect_time_left(&self, now: Instant) -> Option<Duration> {
        let active = match self.phase {
            Phase::SynSent => true,
            Phase::SynReceived { opening, .. } => opening == Opening::Active,
            _ => false,
        };
        if !active {
            return None;
        }
        let limit = self.opts.connect_timeout.or(self.shared.connect_timeout)?;
        Some(limit.saturating_sub(self.since_opened(now)))
    }

    /// Time since the connection was made, or since its handshake
    /// completed (`opened`), to the millisecond.
    fn since_opened(&self, now: Instant) -> Duration {
        Duration::from_millis(self.opened.since(now).map_or(0, u64::from))
    }

    /// A timer interval shortened to end when the user timeout does, so
    /// a stalled connection is given up on time rather than at its next
    /// backed-off timer (Linux's tcp_clamp_rto_to_user_timeout()).
    pub(super) fn within_user_timeout(&self, now: Instant, interval: Duration) -> Duration {
        match (self.opts.user_timeout_ms(), self.stalled_ms.since(now)) {
            (Some(ut), Some(t)) => interval.min(Duration::from_millis(u64::from(
                ut.saturating_sub(t).max(1),
            ))),
            _ => interval,
        }
    }

    /// The effective send MSS and DF for a path of `path_mtu` whose first
    /// link has `link_mtu` (RFC 9293 §3.7.1: min(SendMSS + 20, MMS_S) − 20
    /// − options; we send no options on data segments). Below
    /// `config.min_pmtu` the stack keeps that size, stops setting DF and
    /// lets routers fragment (RFC 1191 §5, as Linux does), so TCP works over
    /// any legal IPv4 path, down to MTU 68.
    pub(super) fn update_path(&mut self, config: &TcpConfig, path_mtu: usize, link_mtu: usize) {
        let mtu = if path_mtu < config.min_pmtu {
            config.min_pmtu.min(link_mtu).max(path_mtu)
        } else {
            path_mtu
        };
        let mut mss = usize::from(self.seg.peer_mss).min(mtu.saturating_sub(40));
        if let Some(ceiling) = self.opts.max_seg {
            mss = mss.min(usize::from(ceiling));
        }
        // Options carried by every data segment count against it: the
        // 12 bytes of TSopt (RFC 9293 §3.7.1, RFC 7323 §3).
        let options = if self.neg.ts { 12 } else { 0 };
        self.seg.mss = mss.saturating_sub(options).max(config.min_snd_mss);
        self.seg.df = self.seg.mss + options + 40 <= path_mtu;
    }

    /// A new congestion controller for the current segment size: the
    /// initial window of RFC 6928, or one segment after a lost SYN (RFC 5681
    /// §3.1).
    pub(super) fn reset_controller(&mut self, syn_lost: bool) {
        let smss = self.seg.mss;
        let initial = if syn_lost { smss } else { initial_window(smss) };
        let seed = u64::from(self.snd.iss().0) << 32 | u64::from(self.ts.offset);
        self.cc = new_controller(self.algorithm, initial, smss, seed);
    }

    /// `TCP_CONGESTION` changed the algorithm: a new controller that
    /// starts from the current window.
    pub(super) fn switch_controller(&mut self) {
        let seed = u64::from(self.snd.iss().0) << 32 | u64::from(self.ts.offset);
        let cwnd = self.cc.cwnd().max(self.seg.mss);
        let ssthresh = self.cc.ssthresh();
        self.cc = new_controller(self.algorithm, cwnd, self.seg.mss, seed);
        self.cc.on_established(self.rtt.srtt());
        self.cc.adopt(self.rate.delivered, ssthresh);
    }

    /// Record a hard error; the application hears it on its next call.
    pub(super) fn fail(&mut self, error: SocketError) {
        self.error.get_or_insert(error);
    }

    pub(super) fn orphaned(&self) -> bool {
        self.owner == Owner::Orphan
    }

    /// The listener that made it, until it is accepted.
    pub(super) fn parent(&self) -> Option<Key> {
        match self.owner {
            Owner::Listener { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Go to CLOSED at `now`: stop every timer and the sender clocks,
    /// drop what was queued to send.
    pub(super) fn enter_closed(&mut self, now: Instant) {
        self.chrono.stop(Limit::Busy, true, now);
        self.goto(Phase::Closed);
        self.timers.stop_all();
        // Discarding moves SND.UNA over what was out and unsent without
        // its being acknowledged: `bytes_sent` keeps what it was.
        if self.snd.una() != self.snd.nxt() || self.snd.unsent() > 0 {
            let once = self.bytes_sent_once();
            self.rec.episode_mut().once_at_close = Some(once);
        }
        self.snd.discard();
        self.rec.force = false;
        self.persist.due = false;
        self.keepalive.due = false;
        self.rcv.acked();
    }

    /// Enter TIME-WAIT for 2·MSL (RFC 9293 §3.6.1).
    pub(super) fn enter_time_wait(&mut self, now: Instant, msl: Duration) {
        self.goto(Phase::TimeWait {
            until: now + msl * 2,
        });
        self.timers.stop_all();
        // A late D-SACK no longer undoes the last episode (RFC 3708 §3's
        // undo restores a window that TIME-WAIT will never use): the state
        // is the same whether the connection is then kept whole or as a
        // record, which keeps no recovery state.
        self.rec.forget_undo();
        self.rec.force = false;
        self.persist.due = false;
        self.keepalive.due = false;
    }

    /// Payload bytes sent, again or not (`tcpi_bytes_sent`), kept in no
    /// counter of its own: what went once is SND.UNA's advance plus what
    /// is out, less the SYN and the FIN among them (at most two, so the
    /// sequence numbers' distance from ISS+1, exact modulo 2^32, settles
    /// which), and what went again is the episode box's.
    fn bytes_sent(&self) -> u64 {
        let (retrans, probes) = self.rec.resent();
        self.bytes_sent_once() + retrans + probes
    }

    /// Payload bytes sent for the first time (see `bytes_sent`).
    fn bytes_sent_once(&self) -> u64 {
        if let Some(once) = self.rec.once_at_close() {
            return once;
        }
        let (iss, una, nxt) = (self.snd.iss(), self.snd.una(), self.snd.nxt());
        let approx = self.counters.bytes_acked + (nxt.0.wrapping_sub(una.0)) as u64;
        let end = match self.snd.fin() {
            Some(f) if f < nxt => f,
            _ => nxt,
        };
        if nxt == iss {
            return 0;
        }
        let low = end.0.wrapping_sub(iss.0.wrapping_add(1));
        approx.saturating_sub(u64::from((approx as u32).wrapping_sub(low)))
    }

    /// What `TCP_INFO` reports, at `now` (the times since).
    pub fn info(&self, now: Instant) -> TcpInfo {
        let state = self.state();
        let chrono = self.chrono.times(now);
        let since = |stamp: OptMillis| {
            stamp.since(now).map_or_else(
                || self.since_opened(now),
                |ms| Duration::from_millis(u64::from(ms)),
            )
        };
        TcpInfo {
            state,
            local: self.local,
            remote: self.remote,
            snd_una: self.snd.una(),
            snd_nxt: self.snd.nxt(),
            snd_max: self.snd.nxt(),
            snd_wnd: self.snd.wnd(),
            snd_wscale: self.snd.wscale(),
            rcv_nxt: self.rcv.nxt(),
            rcv_wnd: self.rcv.wnd() as u32,
            rcv_wscale: self.rcv.wscale(),
            iss: self.snd.iss(),
            irs: self.rcv.irs(),
            mss: self.seg.mss,
            peer_mss: self.seg.peer_mss,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            cwnd: self.cwnd(),
            ssthresh: self.cc.ssthresh(),
            congestion: self.cc.name(),
            in_recovery: self.rec.in_recovery(),
            ca_state: self.rec.state.name(),
            sack: self.neg.sack,
            timestamps: self.neg.ts,
            min_rtt: self.min_rtt(),
            pacing_rate: self.cc.pacing_rate(),
            delivery_rate: self.rate.last_rate(),
            app_limited: self.rate.last_app_limited,
            sacked: self.snd.queue().sacked_records(),
            recv_buffer: self.rcv.buffer().capacity(),
            send_buffer: self.snd.buffer().capacity(),
            lost: self.snd.queue().lost_records(),
            retrans_out: self.snd.queue().retrans_records(),
            unacked: self.snd.queue().len(),
            delivered: self.rate.delivered,
            reordering_seen: self.rack.reordering > 0,
            reordering: u32::from(self.rack.reordering).max(self.shared.loss.dupthresh),
            rcv_mss: self.rcv_mss as usize,
            dsack_dups: u64::from(self.counters.dsack_dups),
            reord_seen: u64::from(self.counters.reord_seen),
            bbr: self.cc.bbr_info(),
            retrans_segs: u64::from(self.counters.retrans_segs),
            backoff: self.rtt.backoff(),
            probes: self.persist.unanswered.max(self.keepalive.probes),
            adv_mss: self.seg.our_mss,
            ato: (self.counters.bytes_received > 0).then_some(self.shared.delayed_ack),
            bytes_sent: self.bytes_sent(),
            bytes_retrans: self.rec.resent().0,
            bytes_acked: self.counters.bytes_acked,
            bytes_received: self.counters.bytes_received,
            segs_in: u64::from(self.counters.segs_in),
            segs_out: u64::from(self.counters.segs_out),
            data_segs_in: u64::from(self.counters.data_segs_in),
            data_segs_out: u64::from(self.counters.data_segs_out),
            // As Linux's write_seq − snd_una: the SYN while unanswered,
            // and the FIN once queued until it is acknowledged.
            send_queue: self.snd.buffer().len()
                + usize::from(state == State::SynSent)
                + usize::from(self.snd.fin().is_some() && !self.snd.fin_acked()),
            notsent: self.snd.unsent(),
            last_data_sent: since(self.last_send_ms),
            last_data_recv: since(self.last_data_ms),
            last_ack_recv: now.saturating_since(self.last_recv),
            busy_time: chrono.busy,
            rwnd_limited: chrono.rwnd_limited,
            sndbuf_limited: chrono.sndbuf_limited,
            recv_queue: self.rcv.buffer().len()
                + usize::from(self.rcv.fin_received() && state == State::CloseWait),
            in_flight: self.pipe(),
            // TIME-WAIT's 2·MSL and an orphan's FIN-WAIT-2 timeout first:
            // Linux moves such an orphan into a timewait socket, which
            // keeps no other timer (`ss -o` shows `timewait` even when the
            // socket had keep-alive on).
            timer: self
                .phase
                .deadline()
                .map(|at| (Timer::TimeWait, at))
                .or_else(|| self.timers.shown()),
            nodelay: self.nagle.nodelay(),
            cork: self.nagle.corked(),
            keepalive: self.keepalive.on,
            urgent: self.rcv.urgent(),
        }
    }

    /// The invariants that hold after every call; a description of the
    /// first broken one. Tests and fuzzing check them after each step.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.snd.check()?;
        self.rcv.check()?;
        let state = self.state();
        let outstanding = self.snd.outstanding() > 0;
        // (A probe about to go in the RTO's place arms it again as it is
        // sent: RFC 8985 §7.2, `on_timer`.)
        let timed = self.timers.is_set(Timer::Retransmit)
            || self.timers.is_set(Timer::Persist)
            || self.tlp.due;
        match state {
            State::Closed => {
                if self.next_deadline().is_some() {
                    return Err("a timer runs in CLOSED".into());
                }
            }
            State::TimeWait => {
                if self.phase.deadline().is_none() {
                    return Err("TIME-WAIT without a deadline".into());
                }
            }
            _ => {
                // Something in flight is always timed, so a lost segment is
                // always sent again.
                if outstanding && !timed && !self.snd.queue().has_lost() {
                    return Err(format!(
                        "{state}: {} bytes outstanding and no timer",
                        self.snd.outstanding()
                    ));
                }
                if state.synchronized() && !state_may_send_data(state) && self.snd.unsent() > 0 {
                    return Err(format!("{state} with unsent data"));
                }
            }
        }
        if self.rcv.fin_received()
            && matches!(
                state,
                State::SynReceived | State::Established | State::FinWait1 | State::FinWait2
            )
        {
            return Err(format!("{state} after the peer's FIN was received"));
        }
        if self.snd.fin_acked()
            && matches!(state, State::FinWait1 | State::Closing | State::LastAck)
        {
            return Err(format!("{state} with our FIN acknowledged"));
        }
        Ok(())
    }
}

impl Connection {
    /// What holds once the driver has drained every segment the connection
    /// wanted to send: anything still waiting has a timer that will send
    /// it, so nothing can sit forever.
    pub fn check_quiescent(&self) -> Result<(), String> {
        let state = self.state();
        let can_send = state.sends();
        if can_send
            && self.snd.unsent() > 0
            && self.snd.outstanding() == 0
            && !self.timers.is_set(Timer::Persist)
            && !self.timers.is_set(Timer::Pacing)
        {
            return Err(format!(
                "{state}: {} bytes held, nothing in flight, no persist timer (window {})",
                self.snd.unsent(),
                self.snd.wnd()
            ));
        }
        if self.rcv.ack_due() == super::receiver::AckDue::Now && state != State::Closed {
            return Err(format!("{state}: an ACK is due but was not sent"));
        }
        if self.rcv.ack_due() == super::receiver::AckDue::Delayed
            && !self.timers.is_set(Timer::DelayedAck)
        {
            return Err(format!("{state}: a delayed ACK without its timer"));
        }
        Ok(())
    }
}

/// States in which new data may still be queued by the application.
fn state_may_send_data(state: State) -> bool {
    matches!(
        state,
        State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck
            | State::SynSent
            | State::SynReceived
    )
}

impl Connection {
    /// The optional parts of the connection that are allocated now (each
    /// made only while needed: issue 13's memory per idle endpoint).
    #[cfg(test)]
    pub(super) fn boxes(&self) -> Vec<&'static str> {
        let mut held = Vec::new();
        if self.snd.queue().holds_flight() {
            held.push("retransmission queue");
        }
        if self.rcv.holds_out_of_order() {
            held.push("out-of-order data");
        }
        if self.rec.has_episode() {
            held.push("recovery episode");
        }
        if let Held::Cubic(c) = &self.cc {
            held.extend(c.boxes());
        }
        if self.syn_text.is_some() {
            held.push("SYN text");
        }
        if *self.opts != SocketOptions::UNSET {
            held.push("socket options");
        }
        held
    }
}

/// A reset a connection sends as it ends — an abort, or keep-alive giving
/// up: <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5), with the ACK bit and
/// RCV.NXT as Linux (tcp_send_active_reset) and FreeBSD (tcp_drop) send
/// it, and TSopt if agreed (RFC 7323 §3.2's SHOULD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub ts: Option<tcplab_wire::tcp::Timestamp>,
}

impl Connection {
    /// The reset this connection would send to end now.
    pub(super) fn active_reset(&self, now: Instant) -> Reset {
        Reset {
            local: self.local,
            remote: self.remote,
            seq: self.snd.nxt(),
            ack: self.rcv.nxt(),
            ts: self.neg.ts.then(|| tcplab_wire::tcp::Timestamp {
                tsval: self.ts.clock(now),
                tsecr: self.ts.recent,
            }),
        }
    }
}

/// The smallest window shift that lets `buffer` bytes be advertised
/// (RFC 7323 §2.3, at most 14).
pub fn window_shift(buffer: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (65535usize << shift) < buffer {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts() {
        assert_eq!(window_shift(65535), 0);
        assert_eq!(window_shift(65536), 1);
        assert_eq!(window_shift(256 * 1024), 3);
        assert_eq!(window_shift(usize::MAX), 14);
    }

    /// The control block's size, as docs/benchmarks.md states it (issue
    /// 13's memory per idle endpoint): a guard against growing it unseen.
    #[test]
    fn control_block_size() {
        let size = std::mem::size_of::<Connection>();
        assert!(
            size <= 888,
            "Connection is {size} bytes (docs/benchmarks.md says 888)"
        );
    }
}
