//! What a connection sends, when: handshake segments, retransmissions, data
//! under the send window, the congestion window, Nagle and sender SWS
//! avoidance, FIN, probes and ACKs; the window it advertises; its timers.

use tcplab_wire::tcp::{Flags, SeqNumber};

use super::config::TcpConfig;
use super::input::Ctx;
use super::tcb::{AckDue, Connection, State};
use super::timers::Timer;
use crate::socket::SocketError;
use crate::time::Instant;

/// A segment the connection wants on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub flags: Flags,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub window: u16,
    pub urgent: u16,
    /// Options of a SYN.
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    /// Payload: offset into the send buffer and length.
    pub data_offset: usize,
    pub data_len: usize,
}

/// What a timer expiry did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimerOutcome {
    pub notify: bool,
    pub closed: bool,
}

impl Connection {
    /// The next segment to send now, if any. Call until `None`.
    pub fn next_segment(&mut self, now: Instant, config: &TcpConfig) -> Option<Plan> {
        match self.state {
            State::Closed => return None,
            State::SynSent | State::SynReceived => {
                if self.snd.nxt == self.snd.iss {
                    return Some(self.syn_segment(now));
                }
                if self.ack == AckDue::Now && self.state == State::SynReceived {
                    return Some(self.pure_ack());
                }
                return None;
            }
            State::TimeWait => {
                return (self.ack == AckDue::Now).then(|| self.pure_ack());
            }
            _ => {}
        }
        if self.retransmit_now {
            self.retransmit_now = false;
            let una = self.snd.una;
            if let Some(p) = self.segment_at(now, una, self.mss, false) {
                return Some(p);
            }
        }
        if let Some(p) = self.data_segment(now, config) {
            return Some(p);
        }
        if self.keepalive_probe_now {
            self.keepalive_probe_now = false;
            // RFC 9293 §3.8.4: a segment with SEG.SEQ = SND.NXT − 1 draws an ACK.
            let mut p = self.pure_ack();
            p.seq = self.snd.una - 1;
            return Some(p);
        }
        (self.ack == AckDue::Now).then(|| self.pure_ack())
    }

    fn syn_segment(&mut self, now: Instant) -> Plan {
        let passive = self.state == State::SynReceived;
        let mut flags = Flags::SYN;
        if passive {
            flags |= Flags::ACK;
        }
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        let window = self.recv_buf.free().min(65535) as u16;
        if passive {
            self.rcv.adv_right = self.rcv.nxt + usize::from(window);
        }
        let plan = Plan {
            flags,
            seq: self.snd.iss,
            ack: if passive { self.rcv.nxt } else { SeqNumber(0) },
            window,
            urgent: 0,
            mss: Some(self.our_mss),
            // Offered on an active SYN, answered only if the peer offered
            // it (RFC 7323 §2.2).
            wscale: self.offer_wscale.then_some(self.rcv.wscale),
            data_offset: 0,
            data_len: 0,
        };
        self.after_send(now, &plan, false);
        plan
    }

    fn pure_ack(&mut self) -> Plan {
        let window = self.advertise_window();
        let plan = Plan {
            flags: Flags::ACK,
            seq: self.snd.nxt,
            ack: self.rcv.nxt,
            window,
            urgent: 0,
            mss: None,
            wscale: None,
            data_offset: 0,
            data_len: 0,
        };
        self.acked();
        self.segs_out += 1;
        plan
    }

    /// A segment carrying data (and a FIN if it ends there) from `seq`, at
    /// most `max_len` bytes.
    fn segment_at(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        max_len: usize,
        probe: bool,
    ) -> Option<Plan> {
        let base = self.send_base();
        let data_end = self.data_end();
        if seq < base {
            return None;
        }
        let len = if seq < data_end {
            (data_end - seq).min(max_len)
        } else {
            0
        };
        let fin = self.fin_queued && seq + len == data_end && !probe;
        if len == 0 && !fin {
            return None;
        }
        let mut flags = Flags::ACK;
        if len > 0 && seq + len == data_end {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        let mut urgent = 0;
        if let Some(up) = self.snd.up {
            if up > seq {
                // RFC 6093: the pointer is the offset of the byte after the
                // urgent data; beyond 65535 it points as far as it can.
                flags |= Flags::URG;
                urgent = (up - seq).min(65535) as u16;
            }
        }
        let window = self.advertise_window();
        let plan = Plan {
            flags,
            seq,
            ack: self.rcv.nxt,
            window,
            urgent,
            mss: None,
            wscale: None,
            data_offset: seq - base,
            data_len: len,
        };
        self.after_send(now, &plan, probe);
        Some(plan)
    }

    /// New data (or data after a timeout's go-back), limited by the send
    /// and congestion windows, Nagle (RFC 9293 §3.7.4) and sender SWS
    /// avoidance (§3.8.6.2.1); or a lone FIN.
    fn data_segment(&mut self, now: Instant, config: &TcpConfig) -> Option<Plan> {
        let data_end = self.data_end();
        if self.probe_now {
            self.probe_now = false;
            let nxt = self.snd.nxt;
            if nxt < data_end {
                return self.segment_at(now, nxt, 1, true);
            }
        }
        let nxt = self.snd.nxt;
        if nxt < data_end {
            let avail = data_end - nxt;
            let limit = (self.snd.wnd as usize).min(self.cc.cwnd());
            let right = self.snd.una + limit;
            let room = if right > nxt { right - nxt } else { 0 };
            let n = avail.min(room).min(self.mss);
            if n > 0 {
                let retransmission = nxt < self.snd.max;
                let full = n == self.mss;
                let idle = nxt == self.snd.una;
                let nagle_ok = self.nodelay || idle || self.fin_queued;
                let big = n >= (self.snd.max_wnd as usize / 2).max(1);
                if full || retransmission || nagle_ok && (n == avail || big) {
                    return self.segment_at(now, nxt, n, false);
                }
            }
            if self.snd.wnd == 0
                && self.snd.una == self.snd.max
                && !self.timers.is_set(Timer::Persist)
                && !self.timers.is_set(Timer::Retransmit)
            {
                self.arm_persist(now, config);
            }
            return None;
        }
        if let Some(fin) = self.fin_seq() {
            if nxt == fin {
                return self.segment_at(now, fin, 0, false);
            }
        }
        None
    }

    fn arm_persist(&mut self, now: Instant, config: &TcpConfig) {
        let base = self.rtt.rto().max(config.persist_min);
        let interval =
            (base * 2u32.saturating_pow(self.persist_backoff.min(16))).min(config.persist_max);
        self.timers.set(Timer::Persist, now + interval);
    }

    /// Bookkeeping for a segment that goes out.
    fn after_send(&mut self, now: Instant, plan: &Plan, probe: bool) {
        let f = plan.flags;
        let len = plan.data_len + usize::from(f.syn()) + usize::from(f.fin());
        if len > 0 {
            let end = plan.seq + len;
            if plan.seq < self.snd.max {
                self.retrans_segs += 1;
                // Karn's rule (RFC 6298 §3): no sample from a segment that
                // was sent more than once — the timed one, not any other.
                if self
                    .rtt_probe
                    .is_some_and(|(start, stop, _)| plan.seq < stop && start < end)
                {
                    self.rtt_probe = None;
                }
            } else if self.rtt_probe.is_none() {
                self.rtt_probe = Some((plan.seq, end, now));
            }
            if end > self.snd.max {
                self.snd.max = end;
            }
            if end > self.snd.nxt {
                self.snd.nxt = end;
            }
            if !probe && !self.timers.is_set(Timer::Retransmit) {
                self.restart_rto(now);
            }
        }
        if f.ack() {
            self.acked();
        }
        self.segs_out += 1;
    }

    fn acked(&mut self) {
        self.ack = AckDue::No;
        self.unacked_segments = 0;
        self.timers.stop(Timer::DelayedAck);
    }

    /// The window to put in a segment; moves the advertised right edge.
    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): the edge moves right
    /// only by at least min(buffer/2, MSS); it never moves left (§3.8.6).
    pub(super) fn advertise_window(&mut self) -> u16 {
        let free = self.recv_buf.free();
        let offered = self.rcv.nxt + free;
        let current = self.rcv.adv_right.max(self.rcv.nxt);
        let threshold = (self.recv_buf.capacity() / 2)
            .min(usize::from(self.our_mss))
            .max(1);
        let right = if offered > current && offered - current >= threshold {
            offered
        } else {
            current
        };
        let wnd = right - self.rcv.nxt;
        let field = (wnd >> self.rcv.wscale).min(65535);
        let edge = self.rcv.nxt + (field << self.rcv.wscale);
        if edge > self.rcv.adv_right {
            self.rcv.adv_right = edge;
        }
        field as u16
    }

    /// Whether reading opened the window enough to tell the peer now.
    pub(super) fn window_update_due(&self) -> bool {
        let offered = self.rcv.nxt + self.recv_buf.free();
        let current = self.rcv.adv_right.max(self.rcv.nxt);
        let threshold = (self.recv_buf.capacity() / 2)
            .min(2 * usize::from(self.our_mss))
            .max(1);
        offered > current && offered - current >= threshold
    }

    /// A timer may have expired.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>) -> TimerOutcome {
        let now = ctx.now;
        let mut out = TimerOutcome::default();
        if self.timers.expired(Timer::TimeWait, now) {
            // 2 MSL in TIME-WAIT; or an orphan's FIN-WAIT-2 timeout.
            self.enter_closed();
            out.closed = true;
            return out;
        }
        if self.timers.expired(Timer::Retransmit, now) {
            self.on_retransmission_timeout(ctx, &mut out);
            if out.closed {
                return out;
            }
        }
        if self.timers.expired(Timer::DelayedAck, now) && self.ack == AckDue::Delayed {
            self.ack = AckDue::Now;
            ctx.stats.delayed_acks += 1;
        }
        if self.timers.expired(Timer::Persist, now) {
            self.persist_backoff += 1;
            if self.persist_backoff > ctx.config.data_retries {
                self.fail(self.soft_error.unwrap_or(SocketError::TimedOut));
                self.enter_closed();
                out.closed = true;
                out.notify = true;
                return out;
            }
            // Probe with the first unacknowledged byte.
            self.snd.nxt = self.snd.una;
            self.probe_now = true;
            self.arm_persist(now, ctx.config);
        }
        if self.timers.expired(Timer::KeepAlive, now) && self.keepalive {
            let idle = now.saturating_since(self.last_recv);
            if idle >= ctx.config.keepalive_time {
                if self.keepalive_probes >= ctx.config.keepalive_probes {
                    self.fail(SocketError::TimedOut);
                    self.enter_closed();
                    out.closed = true;
                    out.notify = true;
                    return out;
                }
                self.keepalive_probes += 1;
                self.keepalive_probe_now = true;
                self.timers
                    .set(Timer::KeepAlive, now + ctx.config.keepalive_interval);
            } else {
                self.timers
                    .set(Timer::KeepAlive, self.last_recv + ctx.config.keepalive_time);
            }
        }
        out
    }

    /// RFC 6298 §5.4–5.6 and RFC 9293 §3.8.3's R2 limit.
    fn on_retransmission_timeout(&mut self, ctx: &mut Ctx<'_>, out: &mut TimerOutcome) {
        self.retries += 1;
        let limit = if self.state.synchronized() {
            ctx.config.data_retries
        } else {
            ctx.config.syn_retries
        };
        if self.retries > limit {
            // Give up: report the last ICMP soft error if there was one
            // (RFC 5927 §4.1; "No route to host" rather than a timeout).
            self.fail(self.soft_error.unwrap_or(SocketError::TimedOut));
            if !self.state.synchronized() {
                ctx.stats.attempt_fails += 1;
            }
            self.enter_closed();
            out.closed = true;
            out.notify = true;
            return;
        }
        ctx.stats.timeouts += 1;
        self.rtt.back_off();
        self.rtt_probe = None;
        match self.state {
            State::SynSent | State::SynReceived => self.snd.nxt = self.snd.iss,
            _ => {
                // RFC 5681 §3.1: ssthresh is halved only for the first
                // timeout of a segment; cwnd falls to one segment.
                if self.retries == 1 {
                    self.cc.on_timeout(self.outstanding(), self.mss);
                }
                self.recovery = None;
                self.recover = self.snd.max;
                self.dupacks = 0;
                self.retransmit_now = false;
                // Go back to the oldest unacknowledged byte; what arrived
                // beyond it will be acknowledged at once and not resent.
                self.snd.nxt = self.snd.una;
            }
        }
        self.restart_rto(ctx.now);
    }
}
