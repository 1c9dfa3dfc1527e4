//! Segment arrival on a connection: RFC 9293 §3.10.7.3 (SYN-SENT) and
//! §3.10.7.4 (the other states), one function per step, in the RFC's order:
//!
//! 1. [`Connection::check_sequence`] — acceptability (four cases) and trimming
//! 2. [`Connection::check_rst`] — RFC 5961 §3 exact-match reset, challenge ACK
//! 3. (security/precedence: obsolete, RFC 9293 §3.10.7.4 "Third" skipped)
//! 4. [`Connection::check_syn`] — RFC 5961 §4 challenge ACK
//! 5. [`Connection::check_ack`] — RFC 5961 §5 blind-injection bound, then
//!    per-state ACK processing, RFC 6298 timing, RFC 5681/6582 recovery
//! 6. [`Connection::check_urg`] — RFC 6093 urgent pointer
//! 7. [`Connection::process_text`] — in-order delivery, out-of-order storage
//! 8. [`Connection::check_fin`] — closing transitions
//!
//! LISTEN and CLOSED are handled by the connection table, which owns
//! listeners and generates resets for segments to nowhere.

use tcplab_wire::tcp::{self, SeqNumber};

use super::config::TcpConfig;
use super::congestion::new_controller;
use super::tcb::{AckDue, Connection, State};
use super::timers::Timer;
use crate::socket::SocketError;
use crate::stats::TcpStats;
use crate::time::Instant;

/// Token bucket for challenge ACKs (RFC 5961 §7).
#[derive(Debug, Clone)]
pub struct ChallengeLimiter {
    tokens: u32,
    limit: u32,
    window_start: Instant,
}

impl ChallengeLimiter {
    pub fn new(limit: u32) -> ChallengeLimiter {
        ChallengeLimiter {
            tokens: limit,
            limit,
            window_start: Instant::ZERO,
        }
    }

    /// Whether another challenge ACK may go out now.
    pub fn allow(&mut self, now: Instant) -> bool {
        if now.saturating_since(self.window_start).as_secs() >= 1 {
            self.window_start = now;
            self.tokens = self.limit;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// What the table must do after a connection handled a segment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Send a reset: `(seq, Some(ack))` is `<SEQ=seq><ACK=ack><CTL=RST,ACK>`,
    /// `(seq, None)` is `<SEQ=seq><CTL=RST>`.
    pub rst: Option<(SeqNumber, Option<SeqNumber>)>,
    /// The application should look at the socket.
    pub notify: bool,
    /// The handshake completed.
    pub established: bool,
    /// The connection was discarded without a trace (a passive open
    /// returning to LISTEN).
    pub discard: bool,
}

/// The context of one call.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub now: Instant,
    pub config: &'a TcpConfig,
    pub stats: &'a mut TcpStats,
    pub challenge: &'a mut ChallengeLimiter,
    /// Path MTU towards the peer, for the effective MSS.
    pub path_mtu: usize,
}

impl Connection {
    /// Handle a segment that the table demultiplexed to this connection.
    pub fn on_segment(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>) -> Outcome {
        self.segs_in += 1;
        self.last_recv = ctx.now;
        self.keepalive_probes = 0;
        let mut out = Outcome::default();
        match self.state {
            State::Closed => {}
            State::SynSent => self.syn_sent(ctx, seg, &mut out),
            _ => self.synchronized(ctx, seg, &mut out),
        }
        out
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) {
        let f = seg.flags;
        // First, check the ACK bit.
        if f.ack() && (seg.ack_number <= self.snd.iss || seg.ack_number > self.snd.max) {
            if !f.rst() {
                out.rst = Some((seg.ack_number, None));
            }
            return;
        }
        let ack_ok = f.ack() && self.snd.una < seg.ack_number && seg.ack_number <= self.snd.max;
        // Second, check the RST bit: only a reset acknowledging our SYN counts
        // (RFC 5961 §3.2 for SYN-SENT); it means "connection refused".
        if f.rst() {
            if ack_ok {
                self.fail(SocketError::ConnectionRefused);
                self.enter_closed();
                ctx.stats.attempt_fails += 1;
                out.notify = true;
            }
            return;
        }
        // Fourth, check the SYN bit.
        if !f.syn() {
            return;
        }
        self.rcv.irs = seg.seq_number;
        self.rcv.nxt = seg.seq_number + 1;
        self.rcv.adv_right = self.rcv.nxt;
        self.negotiate(ctx, seg);
        if ack_ok {
            self.snd.una = seg.ack_number;
            self.sample_rtt(ctx.now, seg.ack_number);
        }
        if self.syn_acked() {
            // Our SYN is acknowledged: ESTABLISHED. The window of a <SYN,ACK>
            // is never scaled (RFC 7323 §2.2).
            self.set_state(State::Established);
            self.snd.wnd = u32::from(seg.window_len);
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq_number;
            self.snd.wl2 = seg.ack_number;
            self.retries = 0;
            self.timers.stop(Timer::Retransmit);
            self.ack = AckDue::Now;
            out.established = true;
            out.notify = true;
            // Text or FIN with the SYN continue at the sixth step.
            if !seg.payload.is_empty() || f.fin() || f.urg() {
                let data = seg.payload;
                let seq = seg.seq_number + 1;
                self.check_urg(seg);
                self.process_text(ctx, seq, data, out);
                self.check_fin(ctx, f.fin(), seq + data.len(), out);
            }
        } else {
            // Simultaneous open: SYN-RECEIVED, answer <SYN,ACK> (§3.5 fig. 8).
            self.set_state(State::SynReceived);
            self.snd.wnd = u32::from(seg.window_len);
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq_number;
            self.snd.nxt = self.snd.iss;
            self.retries = 0;
            self.rtt_probe = None;
        }
    }

    /// Take the peer's options from its SYN: MSS (RFC 9293 §3.7.1: 536 if
    /// absent) and window scaling (RFC 7323 §2.2: both sides or neither).
    pub(super) fn negotiate(&mut self, ctx: &Ctx<'_>, syn: &tcp::Repr<'_>) {
        self.peer_mss = syn.max_seg_size.unwrap_or(536);
        match syn.window_scale {
            Some(shift) if ctx.config.window_scaling => {
                // RFC 7323 §2.3: a shift above 14 is used as 14.
                self.snd.wscale = shift.min(14);
                self.offer_wscale = true;
            }
            _ => {
                self.snd.wscale = 0;
                self.rcv.wscale = 0;
                self.offer_wscale = false;
            }
        }
        self.update_mss(ctx.path_mtu);
        self.cc = new_controller(ctx.config.congestion, self.mss);
    }

    /// RFC 9293 §3.10.7.4, for SYN-RECEIVED and the synchronized states.
    fn synchronized(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) {
        // Simultaneous open (RFC 9293 fig. 8, line 6): in SYN-RECEIVED the
        // peer's <SYN,ACK> repeats its SYN; if it acknowledges ours, take the
        // segment without the SYN it already gave us.
        if self.state == State::SynReceived
            && seg.flags.syn()
            && seg.flags.ack()
            && seg.seq_number == self.rcv.irs
            && self.snd.una < seg.ack_number
            && seg.ack_number <= self.snd.max
        {
            let mut rest = seg.clone();
            rest.flags = rest.flags.without(tcp::Flags::SYN);
            rest.seq_number += 1;
            return self.synchronized(ctx, &rest, out);
        }
        let Some((seq, data, fin)) = self.check_sequence(ctx, seg) else {
            return;
        };
        if !self.check_rst(ctx, seg, out) {
            return;
        }
        if !self.check_syn(ctx, seg, out) {
            return;
        }
        if !self.check_ack(ctx, seg, out) {
            return;
        }
        self.check_urg(seg);
        self.process_text(ctx, seq, data, out);
        self.check_fin(ctx, fin, seq + data.len(), out);
    }

    /// First: the acceptability test of RFC 9293 §3.10.7.4 (four cases on
    /// segment length and receive window), then trimming to the window.
    /// Returns the trimmed (sequence number, text, FIN), or `None` when the
    /// segment is not acceptable (after queueing the ACK the RFC asks for).
    fn check_sequence<'a>(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'a>,
    ) -> Option<(SeqNumber, &'a [u8], bool)> {
        let f = seg.flags;
        let len = seg.segment_len();
        let wnd = self.rcv.wnd() as usize;
        let nxt = self.rcv.nxt;
        let in_window = |s: SeqNumber| nxt <= s && s < nxt + wnd;
        let acceptable = match (len, wnd) {
            (0, 0) => seg.seq_number == nxt,
            (0, _) => in_window(seg.seq_number),
            (_, 0) => false,
            (_, _) => in_window(seg.seq_number) || in_window(seg.seq_number + len - 1),
        };
        // RFC 9293: with a zero window, valid ACKs, URGs and RSTs must still
        // be processed: a segment starting exactly at RCV.NXT is taken with
        // its text cut away (a zero-window probe gets an ACK this way).
        let zero_window_probe = !acceptable && wnd == 0 && seg.seq_number == nxt;
        if !acceptable && !zero_window_probe {
            if f.rst() {
                return None;
            }
            // A retransmitted SYN in SYN-RECEIVED: repeat our <SYN,ACK>
            // (as Linux does) rather than a bare ACK the peer would drop.
            if self.state == State::SynReceived && f.syn() && seg.seq_number == self.rcv.irs {
                self.snd.nxt = self.snd.iss;
                return None;
            }
            // TIME-WAIT: a retransmitted FIN is acknowledged and restarts
            // the 2 MSL wait (§3.10.7.4, eighth step, TIME-WAIT).
            if self.state == State::TimeWait && f.fin() {
                self.timers
                    .set(Timer::TimeWait, ctx.now + ctx.config.msl * 2);
            }
            self.ack = AckDue::Now;
            return None;
        }
        // Trim what was already received and what lies beyond the window.
        let mut seq = seg.seq_number;
        let mut data = seg.payload;
        let mut fin = f.fin();
        if f.syn() {
            seq += 1;
        }
        if seq < nxt {
            let cut = (nxt - seq).min(data.len());
            data = &data[cut..];
            seq += cut;
            if seq < nxt {
                fin = false; // the FIN itself was already received
                seq = nxt;
            }
        }
        let right = nxt + wnd;
        if seq + data.len() > right {
            let keep = if right > seq { right - seq } else { 0 };
            data = &data[..keep.min(data.len())];
            fin = false;
        }
        if zero_window_probe {
            data = &[];
            fin = false;
            self.ack = AckDue::Now;
        }
        Some((seq, data, fin))
    }

    /// Second: the RST bit (RFC 5961 §3.2). Returns whether to go on.
    fn check_rst(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) -> bool {
        if !seg.flags.rst() {
            return true;
        }
        if seg.seq_number != self.rcv.nxt {
            // In the window but not exact: challenge ACK (rate-limited).
            self.challenge_ack(ctx);
            return false;
        }
        match self.state {
            State::SynReceived if self.parent.is_some() => {
                // A passive open goes back to LISTEN: drop the embryo.
                out.discard = true;
                ctx.stats.attempt_fails += 1;
                self.enter_closed();
            }
            State::SynReceived => {
                self.fail(SocketError::ConnectionRefused);
                ctx.stats.attempt_fails += 1;
                self.enter_closed();
            }
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.fail(SocketError::ConnectionReset);
                ctx.stats.estab_resets += 1;
                self.enter_closed();
            }
            State::Closing | State::LastAck | State::TimeWait => self.enter_closed(),
            State::SynSent | State::Closed => {}
        }
        out.notify = true;
        false
    }

    /// Fourth: the SYN bit (RFC 5961 §4). Returns whether to go on.
    fn check_syn(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) -> bool {
        if !seg.flags.syn() {
            return true;
        }
        if self.state == State::SynReceived && self.parent.is_some() {
            // RFC 9293: "If the connection was initiated with a passive OPEN,
            // then return this connection to the LISTEN state".
            out.discard = true;
            self.enter_closed();
            return false;
        }
        self.challenge_ack(ctx);
        false
    }

    /// Fifth: the ACK field. Returns whether to go on.
    fn check_ack(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) -> bool {
        if !seg.flags.ack() {
            return false;
        }
        let ack = seg.ack_number;
        if self.state == State::SynReceived {
            if !(self.snd.una < ack && ack <= self.snd.max) {
                out.rst = Some((ack, None));
                return false;
            }
            self.set_state(State::Established);
            self.snd.wnd = u32::from(seg.window_len) << self.snd.wscale;
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq_number;
            self.snd.wl2 = ack;
            out.established = true;
            out.notify = true;
        }
        // RFC 5961 §5.2: an ACK outside [SND.UNA − MAX.SND.WND, SND.NXT] is
        // discarded with an ACK in reply (blind data injection).
        let lowest = self.snd.una - self.snd.max_wnd.max(1) as usize;
        if ack < lowest || ack > self.snd.max {
            self.ack = AckDue::Now;
            return false;
        }
        let old_wnd = self.snd.wnd;
        if ack > self.snd.una {
            self.on_new_ack(ctx, ack);
            out.notify = true;
        } else if ack == self.snd.una {
            self.maybe_dup_ack(ctx, seg, old_wnd);
        }
        // Window update (§3.10.7.4): only from a newer segment, or the same
        // one acknowledging more.
        if ack >= self.snd.una
            && (self.snd.wl1 < seg.seq_number
                || (self.snd.wl1 == seg.seq_number && self.snd.wl2 <= ack))
        {
            let wnd = u32::from(seg.window_len) << self.snd.wscale;
            self.snd.wnd = wnd;
            self.snd.max_wnd = self.snd.max_wnd.max(wnd);
            self.snd.wl1 = seg.seq_number;
            self.snd.wl2 = ack;
            if wnd > 0 {
                self.timers.stop(Timer::Persist);
                self.persist_backoff = 0;
            }
            if wnd > old_wnd {
                out.notify = true;
            }
        }
        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.set_state(State::FinWait2);
                if self.orphaned {
                    // Linux's tcp_fin_timeout: an orphan does not wait for
                    // the peer's FIN forever.
                    self.timers
                        .set(Timer::TimeWait, ctx.now + ctx.config.msl * 2);
                }
                out.notify = true;
            }
            State::Closing if self.fin_acked() => {
                self.enter_time_wait(ctx);
                out.notify = true;
            }
            State::LastAck if self.fin_acked() => {
                self.enter_closed();
                out.notify = true;
                return false;
            }
            _ => {}
        }
        true
    }

    /// SND.UNA advances to `ack`.
    fn on_new_ack(&mut self, ctx: &mut Ctx<'_>, ack: SeqNumber) {
        // RFC 7661 §4.3 in spirit (and Linux's tcp_is_cwnd_limited): the
        // window only grows when it was what limited the sender, not the
        // peer's window or the application.
        let cwnd_limited = self.flight() + self.mss >= self.cc.cwnd();
        let base = self.send_base();
        let data_end = self.data_end();
        let acked_seq = ack - self.snd.una;
        let acked_data = if ack > base {
            ack.min(data_end) - base
        } else {
            0
        };
        self.send_buf.consume(acked_data);
        self.bytes_acked += acked_data as u64;
        self.snd.una = ack;
        if self.snd.nxt < ack {
            self.snd.nxt = ack;
        }
        self.sample_rtt(ctx.now, ack);
        self.retries = 0;
        // RFC 6298 §5.2/5.3.
        if self.snd.una == self.snd.max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.restart_rto(ctx.now);
        }
        match self.recovery {
            Some(recover) if ack >= recover => {
                // RFC 6582 §3.2 step 4: a full acknowledgment ends recovery.
                self.recovery = None;
                self.cc.on_recovery_end(self.outstanding(), self.mss);
            }
            Some(_) => {
                // Step 5: a partial acknowledgment: retransmit the next hole.
                self.cc.on_partial_ack(acked_seq, self.mss);
                self.retransmit_now = true;
            }
            None if cwnd_limited => self.cc.on_ack(acked_seq, self.mss),
            None => {}
        }
        self.dupacks = 0;
        if self.snd.up.is_some_and(|up| up <= self.snd.una) {
            self.snd.up = None;
        }
    }

    /// RFC 5681 §2's duplicate ACK, and §3.2 fast retransmit on the third.
    fn maybe_dup_ack(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, old_wnd: u32) {
        let same_window = u32::from(seg.window_len) << self.snd.wscale == old_wnd;
        let is_dup = seg.payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && same_window
            && self.snd.max > self.snd.una;
        if !is_dup {
            self.dupacks = 0;
            return;
        }
        self.dupacks += 1;
        if self.recovery.is_some() {
            self.cc.on_dup_ack_in_recovery(self.mss);
        } else if self.dupacks == 3 {
            // RFC 6582 §3.2 step 1: only if this ACK covers more than the
            // last recovery point (avoids multiple reductions per window).
            if self.snd.una > self.recover || self.recover == self.snd.iss {
                self.recovery = Some(self.snd.max);
                self.recover = self.snd.max;
                self.cc.on_fast_retransmit(self.outstanding(), self.mss);
                self.retransmit_now = true;
                ctx.stats.fast_retransmits += 1;
            }
        }
    }

    /// Karn's rule is applied when segments are retransmitted (the probe is
    /// dropped then); here an acknowledged probe gives a sample.
    fn sample_rtt(&mut self, now: Instant, ack: SeqNumber) {
        if let Some((_, end, sent)) = self.rtt_probe {
            if ack >= end {
                self.rtt.sample(now.saturating_since(sent));
                self.rtt_probe = None;
            }
        }
    }

    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        if ctx.challenge.allow(ctx.now) {
            ctx.stats.challenge_acks += 1;
            self.ack = AckDue::Now;
        }
    }

    /// Sixth: the URG bit (RFC 6093: the pointer marks the byte after the
    /// urgent data).
    fn check_urg(&mut self, seg: &tcp::Repr<'_>) {
        if !seg.flags.urg() || seg.urgent_pointer == 0 {
            return;
        }
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let up = seg.seq_number + usize::from(seg.urgent_pointer);
        if up > self.rcv.nxt && self.rcv.up.is_none_or(|cur| up > cur) {
            self.rcv.up = Some(up);
        }
    }

    /// Seventh: the segment text, already trimmed to the window.
    fn process_text(&mut self, ctx: &mut Ctx<'_>, seq: SeqNumber, data: &[u8], out: &mut Outcome) {
        if data.is_empty() {
            return;
        }
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        if self.orphaned {
            // Data for a socket the application closed cannot be delivered:
            // reset, as Linux does (RFC 2525 §2.17).
            out.rst = Some((self.snd.nxt, Some(seq + data.len())));
            self.enter_closed();
            return;
        }
        let offset = seq - self.rcv.nxt;
        let had_holes = !self.ooo.is_empty();
        if offset == 0 {
            let n = self.recv_buf.push(data);
            self.ooo.advance(n);
            let more = self.ooo.take_front();
            self.recv_buf.extend(more);
            let advanced = n + more;
            self.rcv.nxt += advanced;
            self.bytes_received += advanced as u64;
            out.notify = true;
            if let Some(f) = self.fin_pending {
                if f == self.rcv.nxt {
                    self.fin_pending = None;
                    self.consume_fin(ctx, out);
                }
            }
            if had_holes {
                // RFC 5681 §4.2: acknowledge at once a segment that fills a gap.
                self.ack = AckDue::Now;
            } else {
                self.ack_in_order(ctx, data.len());
            }
        } else {
            let n = self.recv_buf.write_at(offset, data);
            if n > 0 && self.ooo.add(offset, offset + n, ctx.config.max_ooo_ranges) {
                ctx.stats.ooo_queued += 1;
            } else {
                ctx.stats.ooo_dropped += 1;
            }
            // RFC 5681 §4.2: an out-of-order segment gets an immediate
            // (duplicate) ACK, which drives the sender's fast retransmit.
            self.ack = AckDue::Now;
        }
    }

    /// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: acknowledge at least every
    /// second full-sized segment, others within the delayed-ACK time.
    fn ack_in_order(&mut self, ctx: &mut Ctx<'_>, len: usize) {
        if len >= self.mss.min(usize::from(self.our_mss)) {
            self.unacked_segments += 1;
        }
        if self.unacked_segments >= 2 || self.ack == AckDue::Now {
            self.ack = AckDue::Now;
        } else {
            self.ack = AckDue::Delayed;
            if !self.timers.is_set(Timer::DelayedAck) {
                self.timers
                    .set(Timer::DelayedAck, ctx.now + ctx.config.delayed_ack);
            }
        }
    }

    /// Eighth: the FIN bit, at sequence number `at` (after the text).
    fn check_fin(&mut self, ctx: &mut Ctx<'_>, fin: bool, at: SeqNumber, out: &mut Outcome) {
        if !fin || self.state == State::Closed {
            return;
        }
        if at == self.rcv.nxt {
            self.consume_fin(ctx, out);
        } else if at > self.rcv.nxt {
            // A FIN beyond missing data waits for the data.
            self.fin_pending = Some(at);
            self.ack = AckDue::Now;
        }
    }

    fn consume_fin(&mut self, ctx: &mut Ctx<'_>, out: &mut Outcome) {
        if !self.peer_fin {
            self.rcv.nxt += 1;
            self.peer_fin = true;
        }
        self.ack = AckDue::Now;
        out.notify = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(ctx),
            // Simultaneous close (§3.6 fig. 13).
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 => self.enter_time_wait(ctx),
            State::TimeWait => {
                self.timers
                    .set(Timer::TimeWait, ctx.now + ctx.config.msl * 2);
            }
            _ => {}
        }
    }

    pub(super) fn enter_time_wait(&mut self, ctx: &mut Ctx<'_>) {
        self.set_state(State::TimeWait);
        self.timers.stop_all();
        self.timers
            .set(Timer::TimeWait, ctx.now + ctx.config.msl * 2);
        self.retransmit_now = false;
    }

    /// Go to CLOSED: stop every timer, drop what was queued to send.
    pub(super) fn enter_closed(&mut self) {
        self.set_state(State::Closed);
        self.timers.stop_all();
        self.send_buf.consume(self.send_buf.len());
        self.retransmit_now = false;
        self.probe_now = false;
        self.ack = AckDue::No;
    }

    pub(super) fn set_state(&mut self, state: State) {
        self.state = state;
    }
}
