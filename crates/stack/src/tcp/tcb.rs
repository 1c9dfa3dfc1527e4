//! The transmission control block: a connection's state and variables, with
//! RFC 9293's names (§3.3.1: SND.UNA, SND.NXT, RCV.NXT, ISS, IRS, ...).

use core::fmt;
use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_wire::tcp::SeqNumber;

use super::buffer::{Assembler, Ring};
use super::config::TcpConfig;
use super::congestion::{new_controller, Controller};
use super::rtt::RttEstimator;
use super::timers::{Timer, TimerTable};
use crate::slab::Key;
use crate::socket::SocketError;
use crate::time::Instant;

/// The states of RFC 9293 §3.3.2, LISTEN aside (a listener is its own kind
/// of socket, [`super::Listener`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

impl State {
    /// Whether the handshake completed (RFC 9293's "synchronized states").
    pub fn synchronized(self) -> bool {
        !matches!(self, State::SynSent | State::SynReceived | State::Closed)
    }

    /// `ss`'s spelling.
    pub fn ss_name(self) -> &'static str {
        match self {
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::Established => "ESTAB",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "UNCONN",
        }
    }

    /// `netstat`'s spelling.
    pub fn netstat_name(self) -> &'static str {
        match self {
            State::SynSent => "SYN_SENT",
            State::SynReceived => "SYN_RECV",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
            State::Closed => "CLOSE",
        }
    }
}

impl fmt::Display for State {
    /// RFC 9293's spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "CLOSED",
        })
    }
}

/// Send sequence variables (RFC 9293 §3.3.1), plus what RFC 5961, window
/// scaling and go-back retransmission need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendVars {
    /// Oldest unacknowledged sequence number.
    pub una: SeqNumber,
    /// Next sequence number to send (moved back to UNA by a timeout).
    pub nxt: SeqNumber,
    /// One past the highest sequence number ever sent.
    pub max: SeqNumber,
    /// Send window, in bytes (already scaled).
    pub wnd: u32,
    /// Largest window the peer ever offered (MAX.SND.WND of RFC 5961).
    pub max_wnd: u32,
    /// Urgent pointer: the byte after the last urgent byte (RFC 6093).
    pub up: Option<SeqNumber>,
    /// Segment sequence and acknowledgment numbers of the last window update.
    pub wl1: SeqNumber,
    pub wl2: SeqNumber,
    /// Initial send sequence number.
    pub iss: SeqNumber,
    /// Shift applied to the peer's window field (RFC 7323).
    pub wscale: u8,
}

/// Receive sequence variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvVars {
    /// Next sequence number expected.
    pub nxt: SeqNumber,
    /// Right edge of the window last advertised (RCV.NXT + RCV.WND then).
    pub adv_right: SeqNumber,
    /// Urgent pointer received: the byte after the urgent data.
    pub up: Option<SeqNumber>,
    /// Initial receive sequence number.
    pub irs: SeqNumber,
    /// Our window shift (RFC 7323).
    pub wscale: u8,
}

impl RecvVars {
    /// RCV.WND as currently advertised.
    pub fn wnd(&self) -> u32 {
        if self.adv_right > self.nxt {
            (self.adv_right - self.nxt) as u32
        } else {
            0
        }
    }
}

/// When the next acknowledgment is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDue {
    No,
    /// Within the delayed-ACK time.
    Delayed,
    Now,
}

/// One connection.
#[derive(Debug)]
pub struct Connection {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub snd: SendVars,
    pub rcv: RecvVars,
    /// Bytes from SND.UNA (or ISS+1 before the SYN is acknowledged) on.
    pub send_buf: Ring,
    /// In-order bytes not yet read, with out-of-order bytes stored beyond.
    pub recv_buf: Ring,
    pub ooo: Assembler,
    /// Sequence number of a FIN that arrived ahead of data still missing.
    pub fin_pending: Option<SeqNumber>,
    /// The application closed its sending side: a FIN follows the data.
    pub fin_queued: bool,
    /// Sequence number of our FIN, fixed when the application closed.
    pub fin_at: Option<SeqNumber>,
    /// The peer's FIN has been received and acknowledged.
    pub peer_fin: bool,
    /// Effective send MSS (RFC 9293 §3.7.1).
    pub mss: usize,
    /// MSS the peer announced (536 if it did not).
    pub peer_mss: u16,
    /// MSS we announce.
    pub our_mss: u16,
    /// Put a window-scale option in our SYN (RFC 7323 §2.2).
    pub offer_wscale: bool,
    pub timers: TimerTable,
    pub rtt: RttEstimator,
    /// The segment being timed (RFC 6298 §3: one at a time): its start,
    /// its end and when it was sent.
    pub rtt_probe: Option<(SeqNumber, SeqNumber, Instant)>,
    pub cc: Box<dyn Controller>,
    /// Duplicate ACKs in a row.
    pub dupacks: u32,
    /// In fast recovery until this is acknowledged (RFC 6582 "recover").
    pub recovery: Option<SeqNumber>,
    /// The highest sequence number sent when the last recovery or timeout
    /// began (RFC 6582 §3.2 step 1 guards against re-entering with it).
    pub recover: SeqNumber,
    /// Retransmit the segment at SND.UNA at the next opportunity.
    pub retransmit_now: bool,
    /// Consecutive retransmission timeouts.
    pub retries: u32,
    pub ack: AckDue,
    /// Full-sized segments received since the last ACK we sent.
    pub unacked_segments: u32,
    /// Send a zero-window probe at the next opportunity.
    pub probe_now: bool,
    pub persist_backoff: u32,
    pub keepalive: bool,
    pub keepalive_probes: u32,
    pub keepalive_probe_now: bool,
    /// Time the last segment arrived.
    pub last_recv: Instant,
    /// Nagle's algorithm off (`TCP_NODELAY`).
    pub nodelay: bool,
    /// A hard error for the application (reset, timeout, refused).
    pub error: Option<SocketError>,
    /// The last ICMP-reported problem (RFC 5927): reported only if the
    /// connection then times out.
    pub soft_error: Option<SocketError>,
    /// The application let go of the socket (closed it); the connection
    /// finishes on its own and is then freed.
    pub orphaned: bool,
    /// The listener that created it, until accepted.
    pub parent: Option<Key>,
    /// In the listener's accept queue.
    pub queued: bool,
    pub accepted: bool,
    /// Counters for STATUS and `ss -i`.
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    pub retrans_segs: u64,
    /// Set when a segment was received or sent that the application should
    /// hear about.
    pub(crate) scheduled: Option<Instant>,
}

/// What a STATUS call reports (RFC 9293 §3.9.1 "STATUS"), and `ss -i`.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpInfo {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
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
    pub retrans_segs: u64,
    pub backoff: u32,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    /// Bytes queued to send, unacknowledged ones included (`Send-Q`).
    pub send_queue: usize,
    /// Bytes received and not yet read (`Recv-Q`).
    pub recv_queue: usize,
    /// The timer `ss -o` shows, with its deadline.
    pub timer: Option<(Timer, Instant)>,
    pub nodelay: bool,
    pub keepalive: bool,
    /// Bytes of urgent data not yet read, counted from the read position.
    pub urgent: Option<usize>,
}

impl Connection {
    /// A new connection with its ISS chosen, in `state`.
    pub fn new(
        config: &TcpConfig,
        state: State,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        our_mss: u16,
        now: Instant,
    ) -> Connection {
        let wscale = if config.window_scaling {
            window_shift(config.recv_buffer)
        } else {
            0
        };
        Connection {
            state,
            local,
            remote,
            snd: SendVars {
                una: iss,
                nxt: iss,
                max: iss,
                wnd: 0,
                max_wnd: 0,
                up: None,
                wl1: SeqNumber(0),
                wl2: SeqNumber(0),
                iss,
                wscale: 0,
            },
            rcv: RecvVars {
                nxt: SeqNumber(0),
                adv_right: SeqNumber(0),
                up: None,
                irs: SeqNumber(0),
                wscale,
            },
            send_buf: Ring::new(config.send_buffer),
            recv_buf: Ring::new(config.recv_buffer),
            ooo: Assembler::default(),
            fin_pending: None,
            fin_queued: false,
            fin_at: None,
            peer_fin: false,
            mss: 536,
            peer_mss: 536,
            our_mss,
            offer_wscale: config.window_scaling,
            timers: TimerTable::default(),
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            rtt_probe: None,
            cc: new_controller(config.congestion, 536),
            dupacks: 0,
            recovery: None,
            recover: iss,
            retransmit_now: false,
            retries: 0,
            ack: AckDue::No,
            unacked_segments: 0,
            probe_now: false,
            persist_backoff: 0,
            keepalive: false,
            keepalive_probes: 0,
            keepalive_probe_now: false,
            last_recv: now,
            nodelay: !config.nagle,
            error: None,
            soft_error: None,
            orphaned: false,
            parent: None,
            queued: false,
            accepted: false,
            bytes_acked: 0,
            bytes_received: 0,
            segs_in: 0,
            segs_out: 0,
            retrans_segs: 0,
            scheduled: None,
        }
    }

    /// Whether our SYN has been acknowledged.
    pub fn syn_acked(&self) -> bool {
        self.snd.una > self.snd.iss
    }

    /// Sequence number of the first byte in the send buffer.
    pub fn send_base(&self) -> SeqNumber {
        if !self.syn_acked() {
            return self.snd.iss + 1;
        }
        match self.fin_at {
            // Once the FIN itself is acknowledged, SND.UNA is past the data.
            Some(f) if self.snd.una > f => f,
            _ => self.snd.una,
        }
    }

    /// One past the last data byte queued.
    pub fn data_end(&self) -> SeqNumber {
        self.send_base() + self.send_buf.len()
    }

    /// Sequence number of our FIN, once queued.
    pub fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_at
    }

    /// Queue our FIN after the data queued so far (CLOSE).
    pub fn queue_fin(&mut self) {
        if !self.fin_queued {
            self.fin_queued = true;
            self.fin_at = Some(self.data_end());
        }
    }

    /// Whether our FIN was sent and acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd.una > f)
    }

    /// Bytes in flight (sent, not acknowledged).
    pub fn flight(&self) -> usize {
        self.snd.nxt - self.snd.una
    }

    /// Bytes sent at most once more than the peer acknowledged.
    pub fn outstanding(&self) -> usize {
        self.snd.max - self.snd.una
    }

    /// Restart the retransmission timer with the current RTO.
    pub fn restart_rto(&mut self, now: Instant) {
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    /// The effective send MSS from the peer's MSS and the path MTU (RFC 9293
    /// §3.7.1: min(SendMSS + 20, MMS_S) − 20 − TCP options; we send no
    /// options on data segments).
    pub fn update_mss(&mut self, path_mtu: usize) {
        let mms_s = path_mtu.saturating_sub(20);
        let mss = (usize::from(self.peer_mss) + 20)
            .min(mms_s)
            .saturating_sub(20);
        self.mss = mss.max(64);
    }

    /// Record a hard error; the application hears it on its next call.
    pub fn fail(&mut self, error: SocketError) {
        self.error.get_or_insert(error);
    }

    pub fn info(&self) -> TcpInfo {
        let read_pos = self.rcv.nxt - self.recv_buf.len();
        TcpInfo {
            state: self.state,
            local: self.local,
            remote: self.remote,
            snd_una: self.snd.una,
            snd_nxt: self.snd.nxt,
            snd_max: self.snd.max,
            snd_wnd: self.snd.wnd,
            snd_wscale: self.snd.wscale,
            rcv_nxt: self.rcv.nxt,
            rcv_wnd: self.rcv.wnd(),
            rcv_wscale: self.rcv.wscale,
            iss: self.snd.iss,
            irs: self.rcv.irs,
            mss: self.mss,
            peer_mss: self.peer_mss,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            congestion: self.cc.name(),
            in_recovery: self.recovery.is_some(),
            retrans_segs: self.retrans_segs,
            backoff: self.rtt.backoff(),
            bytes_acked: self.bytes_acked,
            bytes_received: self.bytes_received,
            segs_in: self.segs_in,
            segs_out: self.segs_out,
            send_queue: self.send_buf.len() + usize::from(self.state == State::SynSent),
            recv_queue: self.recv_buf.len()
                + usize::from(self.peer_fin && self.state == State::CloseWait),
            timer: self.timers.shown(),
            nodelay: self.nodelay,
            keepalive: self.keepalive,
            urgent: self
                .rcv
                .up
                .filter(|up| *up > read_pos)
                .map(|up| up - read_pos),
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

    #[test]
    fn names() {
        assert_eq!(State::SynReceived.to_string(), "SYN-RECEIVED");
        assert_eq!(State::SynReceived.ss_name(), "SYN-RECV");
        assert_eq!(State::FinWait2.netstat_name(), "FIN_WAIT2");
    }
}
