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

use super::compact::{OptInstant, OptMillis};
use super::config::TcpConfig;
use super::rtx::Delivery;
use super::state::{Opening, Phase, State};
use super::tcb::Connection;
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
    /// Path MTU towards the peer and the MTU of the first link: looked up
    /// only where a SYN's options are taken (LISTEN, SYN-SENT), not for
    /// every segment of a connection.
    pub mtus: Option<(usize, usize)>,
}

impl Connection {
    /// Handle a segment that the table demultiplexed to this connection.
    pub fn on_segment(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>) -> Outcome {
        self.counters.segs_in = self.counters.segs_in.wrapping_add(1);
        if !seg.payload.is_empty() {
            self.counters.data_segs_in = self.counters.data_segs_in.wrapping_add(1);
        }
        let mut out = Outcome::default();
        match self.phase {
            Phase::Closed => {}
            Phase::SynSent => self.syn_sent(ctx, seg, &mut out),
            _ => self.synchronized(ctx, seg, false, &mut out),
        }
        out
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) {
        let f = seg.flags;
        let (iss, una, nxt) = (self.snd.iss(), self.snd.una(), self.snd.nxt());
        // First, check the ACK bit.
        if f.ack() && (seg.ack_number <= iss || seg.ack_number > nxt) {
            if !f.rst() {
                out.rst = Some((seg.ack_number, None));
            }
            return;
        }
        let ack_ok = f.ack() && una < seg.ack_number && seg.ack_number <= nxt;
        // Second, check the RST bit: only a reset acknowledging our SYN counts
        // (RFC 5961 §3.2 for SYN-SENT); it means "connection refused".
        if f.rst() {
            if ack_ok {
                self.fail(SocketError::ConnectionRefused);
                self.enter_closed(ctx.now);
                ctx.stats.attempt_fails += 1;
                out.notify = true;
            }
            return;
        }
        // Fourth, check the SYN bit.
        if !f.syn() {
            return;
        }
        self.last_recv = ctx.now;
        // RCV.WND is what our SYN offered (RFC 9293 §3.10.7.3): data may
        // follow at once, before our ACK has left.
        let window = self.rcv.syn_window();
        self.rcv.synchronize(seg.seq_number, window);
        self.negotiate(ctx, seg);
        if ack_ok {
            self.take_ack(
                ctx,
                seg,
                &mut Delivery::new(ctx.now, None, Default::default()),
            );
        }
        if self.snd.syn_acked() {
            // Our SYN is acknowledged: ESTABLISHED. The window of a <SYN,ACK>
            // is never scaled (RFC 7323 §2.2).
            self.goto(Phase::Established);
            self.snd
                .set_window(seg.seq_number, seg.ack_number, u32::from(seg.window_len));
            self.handshake_done(ctx);
            self.rcv.ack_now();
            // Data queued with MSG_MORE before the handshake was held for
            // that send's push only (see `synchronized`).
            self.nagle.set_more(false);
            out.established = true;
            out.notify = true;
            // Text or FIN with the SYN continue at the sixth step.
            if !seg.payload.is_empty() || f.fin() || f.urg() {
                let data = seg.payload;
                let seq = seg.seq_number + 1;
                self.check_urg(seg);
                self.process_text(ctx, seq, data, (f.psh(), f.fin()), sack_room(seg), out);
                self.check_fin(ctx, f.fin(), seq + data.len(), out);
            }
        } else {
            // Simultaneous open (§3.5 figure 8): SYN-RECEIVED, and our SYN
            // goes out again as <SYN,ACK>.
            self.goto(Phase::SynReceived {
                opening: Opening::Active,
                close_queued: false,
            });
            self.snd
                .set_window(seg.seq_number, una, u32::from(seg.window_len));
            self.snd.queue_mut().mark_first_lost();
            self.rec.force = true;
            // "If there are other controls or text in the segment, queue
            // them for processing after the ESTABLISHED state has been
            // reached" (§3.10.7.3); at most what our SYN offered.
            if !seg.payload.is_empty() || f.fin() {
                let keep = seg.payload.len().min(usize::from(window));
                let fin = f.fin() && keep == seg.payload.len() && ctx.config.keep_fin_with_syn_text;
                self.syn_text = Some(Box::new((seg.payload[..keep].to_vec(), fin)));
            }
        }
    }

    /// Take the peer's options from its SYN: MSS (RFC 9293 §3.7.1: 536 if
    /// absent), window scaling (RFC 7323 §2.2: both sides or neither),
    /// SACK (RFC 2018 §2: both SYNs said SACK-permitted) and timestamps
    /// (RFC 7323 §3.2: both SYNs carried TSopt; TS.Recent starts at the
    /// SYN's TSval, Appendix D).
    pub(super) fn negotiate(&mut self, ctx: &Ctx<'_>, syn: &tcp::Repr<'_>) {
        self.seg.peer_mss = peer_mss(syn);
        self.neg.sack = self.offer.sack && syn.sack_permitted;
        self.neg.ts = false;
        if let Some(ts) = syn.timestamp.filter(|_| self.offer.ts) {
            self.neg.ts = true;
            self.ts.take_recent(ts.tsval, ctx.now);
        }
        self.ts.last_ack_sent = self.rcv.nxt();
        match syn.window_scale {
            Some(shift) if self.offer_wscale => {
                // RFC 7323 §2.3: a shift above 14 is used as 14.
                self.snd.set_wscale(shift.min(14));
            }
            _ => {
                self.snd.set_wscale(0);
                self.rcv.set_wscale(0);
                self.offer_wscale = false;
            }
        }
        debug_assert!(ctx.mtus.is_some(), "a SYN negotiated without the path");
        if let Some((path, link)) = ctx.mtus {
            self.update_path(ctx.config, path, link);
        }
        if ctx.config.recv_buffer_whole_segments {
            let mss = self.seg.mss.max(1);
            let cap = self.rcv.buffer().capacity().next_multiple_of(mss);
            self.rcv.buffer_mut().grow(cap);
        }
        self.reset_controller(false);
    }

    /// The three-way handshake completed: RFC 5681 §3.1 — if the SYN or
    /// SYN-ACK was retransmitted, the initial window MUST be one segment —
    /// and RFC 6298 §5.7 — the RTO starts again at 3 s without a sample.
    fn handshake_done(&mut self, ctx: &Ctx<'_>) {
        let now = ctx.now;
        // The SYN (or SYN-ACK) was lost if the retransmission timer fired
        // before the handshake completed; resending our SYN as the <SYN,ACK>
        // of a simultaneous open loses nothing.
        if self.syn_timeouts > 0 {
            self.reset_controller(true);
            self.rtt.after_lost_syn(&self.shared.rtt);
        }
        self.retries = 0;
        self.stalled_ms = OptMillis::NONE;
        self.opened = OptMillis::at(now);
        self.cc.on_established(self.rtt.srtt());
        if self.snd.outstanding() == 0 {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.restart_rto(now);
        }
    }

    /// RFC 9293 §3.10.7.4, for SYN-RECEIVED and the synchronized states.
    /// `synack`: the segment was the peer's <SYN,ACK> with the SYN taken
    /// off: its window is not scaled (RFC 7323 §2.2).
    fn synchronized(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'_>,
        synack: bool,
        out: &mut Outcome,
    ) {
        // Simultaneous open (RFC 9293 figure 8, line 6): in SYN-RECEIVED the
        // peer's <SYN,ACK> repeats its SYN; if it acknowledges ours, take the
        // segment without the SYN it already gave us.
        if self.state() == State::SynReceived
            && seg.flags.syn()
            && seg.flags.ack()
            && seg.seq_number == self.rcv.irs()
            && self.snd.una() < seg.ack_number
            && seg.ack_number <= self.snd.nxt()
        {
            let mut rest = seg.clone();
            rest.flags = rest.flags.without(tcp::Flags::SYN);
            rest.seq_number += 1;
            return self.synchronized(ctx, &rest, true, out);
        }
        // FreeBSD's tcp_twcheck has no PAWS: its own rules come first. A
        // SYN too when SYNs may reopen TIME-WAIT as FreeBSD's do (this one
        // did not: it is not above RCV.NXT, or carries an ACK); otherwise
        // a SYN keeps RFC 9293's rules.
        if ctx.config.time_wait_bsd
            && self.state() == State::TimeWait
            && (!seg.flags.syn() || ctx.config.time_wait_reopen)
            && !seg.flags.rst()
        {
            self.bsd_time_wait(ctx, seg);
            return;
        }
        if !self.check_timestamp(ctx, seg) {
            return;
        }
        let Some((seq, data, fin)) = self.check_sequence(ctx, seg) else {
            return;
        };
        // The peer is alive (keep-alive, RFC 9293 §3.8.4) only if it sent
        // an acceptable segment: anyone can send an unacceptable one.
        self.last_recv = ctx.now;
        self.keepalive.probes = 0;
        if !self.check_rst(ctx, seg, out) {
            return;
        }
        if !self.check_syn(ctx, seg, out) {
            return;
        }
        if !self.check_ack(ctx, seg, synack, out) {
            return;
        }
        // MSG_MORE held a partial segment back for the send call only: a
        // segment from the peer is a new chance to send (Linux's
        // tcp_data_snd_check pushes with the socket's own Nagle setting).
        self.nagle.set_more(false);
        // TS.Recent only from a segment whose ACK was acceptable too (as
        // Linux): RFC 7323's order records it before the ACK check, so one
        // in-window segment with a bogus ACK and a far-future TSval would
        // make PAWS drop every genuine segment after it.
        self.update_ts_recent(ctx, seg);
        self.check_urg(seg);
        // Simultaneous open: the text that came on the peer's SYN was taken
        // just now (`check_ack`, on reaching ESTABLISHED), after this
        // segment was trimmed to the RCV.NXT before it. What the segment
        // repeats of that text (a <SYN,ACK> or an ACK resending it) goes.
        let end = seq + data.len();
        let (seq, data) = self.rcv.trim_taken(seq, data);
        self.process_text(ctx, seq, data, (seg.flags.psh(), fin), sack_room(seg), out);
        self.check_fin(ctx, fin, end, out);
    }

    /// RFC 7323 §5.3 R1 (PAWS), before the acceptability test: with
    /// timestamps agreed, a segment whose TSval is older than TS.Recent is
    /// an old duplicate — acknowledged (with a D-SACK if it carried data)
    /// and dropped; a segment without TSopt is dropped silently (§3.2). A
    /// reset is never checked (§5.2). TS.Recent older than 24 days does not
    /// count (§5.5). Returns whether to go on.
    fn check_timestamp(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>) -> bool {
        if !self.neg.ts || seg.flags.rst() {
            return true;
        }
        let Some(ts) = seg.timestamp else {
            ctx.stats.ts_missing += 1;
            return false;
        };
        if self.ts.recent_valid(ctx.now) && super::tcb::ts_before(ts.tsval, self.ts.recent) {
            ctx.stats.paws_rejected += 1;
            self.note_old_data(seg);
            self.ack_unacceptable(ctx, seg);
            return false;
        }
        true
    }

    /// RFC 7323 §4.3 (and §5.3 R3): an acceptable segment that is not
    /// older than TS.Recent and starts at or before Last.ACK.sent gives the
    /// TSval to echo — the earliest unacknowledged segment's with delayed
    /// ACKs, the last in-order one when data arrives out of order.
    fn update_ts_recent(&mut self, ctx: &Ctx<'_>, seg: &tcp::Repr<'_>) {
        let Some(ts) = seg.timestamp.filter(|_| self.neg.ts && !seg.flags.rst()) else {
            return;
        };
        let newer =
            !super::tcb::ts_before(ts.tsval, self.ts.recent) || !self.ts.recent_valid(ctx.now);
        if newer && seg.seq_number <= self.ts.last_ack_sent {
            self.ts.take_recent(ts.tsval, ctx.now);
        }
    }

    /// Data below RCV.NXT is a duplicate: the next ACK reports its first
    /// part as a D-SACK (RFC 2883 §4.1.1).
    fn note_old_data(&mut self, seg: &tcp::Repr<'_>) {
        if seg.payload.is_empty() || !self.state().synchronized() {
            return;
        }
        let start = seg.seq_number + usize::from(seg.flags.syn());
        let nxt = self.rcv.nxt();
        if start < nxt {
            let end = start + seg.payload.len();
            self.rcv
                .note_duplicate(start, if end < nxt { end } else { nxt });
        }
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
        let wnd = self.acceptance_window(ctx.config);
        let nxt = self.rcv.nxt();
        let in_window = |s: SeqNumber| nxt <= s && s < nxt + wnd;
        let mut acceptable = match (len, wnd) {
            (0, 0) => seg.seq_number == nxt,
            (0, _) => in_window(seg.seq_number),
            (_, 0) => false,
            (_, _) => in_window(seg.seq_number) || in_window(seg.seq_number + len - 1),
        };
        // A repeat of what ended exactly at RCV.NXT (a retransmitted FIN
        // that now acknowledges ours) still carries a new ACK: take it,
        // with its text trimmed, and acknowledge — as Linux (RCV.WUP test)
        // and BSD (duplicate trimming) do; TIME-WAIT keeps its own rule.
        if !acceptable
            && f.ack()
            && !f.syn()
            && !f.rst()
            && len > 0
            && seg.seq_number + len == nxt
            && self.state() != State::TimeWait
        {
            acceptable = true;
            self.rcv.ack_now();
        }
        // RFC 9293: with a zero window, valid ACKs, URGs and RSTs must still
        // be processed: a segment starting exactly at RCV.NXT is taken with
        // its text cut away (a zero-window probe gets an ACK this way).
        let zero_window_probe = !acceptable && wnd == 0 && seg.seq_number == nxt;
        self.note_old_data(seg);
        if !acceptable && !zero_window_probe {
            if f.rst() {
                return None;
            }
            // A retransmitted SYN in SYN-RECEIVED: repeat our <SYN,ACK>
            // (as Linux does) rather than a bare ACK the peer would drop.
            // Rate-limited like other answers to unacceptable segments
            // (Linux's TCPACKSkippedSynRecv).
            if self.state() == State::SynReceived && f.syn() && seg.seq_number == self.rcv.irs() {
                if self.oow_allowed(ctx) && self.snd.queue_mut().mark_first_lost() {
                    self.rec.force = true;
                }
                return None;
            }
            // TIME-WAIT: a retransmitted FIN is acknowledged and restarts
            // the 2 MSL wait (§3.10.7.4, eighth step, TIME-WAIT).
            if self.state() == State::TimeWait && f.fin() {
                self.enter_time_wait(ctx.now, ctx.config.msl);
            }
            self.ack_unacceptable(ctx, seg);
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
            // The text cannot be taken; a FIN without text can (it needs no
            // buffer space: Linux takes it too).
            fin = fin && data.is_empty();
            data = &[];
            self.rcv.ack_now();
        }
        Some((seq, data, fin))
    }

    /// TIME-WAIT as FreeBSD's `tcp_twcheck()` (`TcpConfig::time_wait_bsd`)
    /// for a segment without RST (and without SYN unless
    /// `time_wait_reopen`): no ACK, dropped; a FIN
    /// repeating the one received restarts the 2 MSL wait; anything but
    /// an exact duplicate ACK is acknowledged, in the window or not.
    fn bsd_time_wait(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>) {
        if !seg.flags.ack() {
            return;
        }
        let len = seg.payload.len();
        if seg.flags.fin() && seg.seq_number + len + 1 == self.rcv.nxt() {
            self.enter_time_wait(ctx.now, ctx.config.msl);
        }
        let duplicate = seg.flags == tcp::Flags::ACK
            && len == 0
            && seg.seq_number == self.rcv.nxt()
            && seg.ack_number == self.snd.nxt();
        if !duplicate {
            self.rcv.ack_now();
        }
    }

    /// RFC 9293 §3.10.7.4 first step: an unacceptable segment is answered
    /// with an ACK — but not a segment without text more often than
    /// `invalid_ack_interval` (Linux's `tcp_oow_rate_limited`), so two ends
    /// that disagree cannot ping-pong ACKs for ever.
    fn ack_unacceptable(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>) {
        // Only segments that take no sequence space (bare ACKs) can be
        // part of an ACK loop; a SYN is one too. Data and FINs are always
        // answered (Linux's tcp_oow_rate_limited).
        let pure = seg.segment_len() == 0 || seg.flags.syn();
        if !pure || self.oow_allowed(ctx) {
            self.rcv.ack_now();
            // RFC 5961 §4.2: a SYN, whatever its sequence number, is
            // answered by a challenge ACK.
            self.challenge_due |= seg.flags.syn();
        }
    }

    /// Whether an answer to an unacceptable segment may go out now.
    fn oow_allowed(&mut self, ctx: &mut Ctx<'_>) -> bool {
        if let Some(last) = self.last_oow_ack.get() {
            if ctx.now.saturating_since(last) < ctx.config.invalid_ack_interval {
                ctx.stats.oow_rate_limited += 1;
                return false;
            }
        }
        self.last_oow_ack = OptInstant::some(ctx.now);
        true
    }

    /// Second: the RST bit (RFC 5961 §3.2). Returns whether to go on.
    fn check_rst(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) -> bool {
        if !seg.flags.rst() {
            return true;
        }
        if seg.seq_number != self.rcv.nxt() && ctx.config.rst_challenge {
            // In the window but not exact: challenge ACK (rate-limited).
            // Without RFC 5961 §3.2, RFC 793's rule: any RST in the window
            // (step one checked that) resets.
            self.challenge_ack(ctx);
            return false;
        }
        match self.phase {
            Phase::SynReceived {
                opening: Opening::Passive,
                ..
            } => {
                // A passive open goes back to LISTEN: drop the embryo
                // (Linux's tcp_check_req: AttemptFails and EmbryonicRsts).
                out.discard = true;
                ctx.stats.attempt_fails += 1;
                ctx.stats.embryonic_rsts += 1;
                self.enter_closed(ctx.now);
            }
            Phase::SynReceived { .. } => {
                self.fail(SocketError::ConnectionRefused);
                ctx.stats.attempt_fails += 1;
                self.enter_closed(ctx.now);
            }
            Phase::Established | Phase::FinWait1 | Phase::FinWait2 { .. } | Phase::CloseWait => {
                self.fail(SocketError::ConnectionReset);
                ctx.stats.estab_resets += 1;
                self.enter_closed(ctx.now);
            }
            // RFC 9293 §3.10.7.4 only closes; the application that still
            // holds the socket hears of the reset, as on Linux and BSD.
            Phase::Closing | Phase::LastAck => {
                self.fail(SocketError::ConnectionReset);
                self.enter_closed(ctx.now);
            }
            // RFC 1337: a RST must not cut TIME-WAIT short (hazard H1).
            Phase::TimeWait { .. } if ctx.config.rfc1337 => return false,
            Phase::TimeWait { .. } => self.enter_closed(ctx.now),
            Phase::SynSent | Phase::Closed => {}
        }
        out.notify = true;
        false
    }

    /// RCV.WND for the acceptability test. With
    /// `rcv_wnd_is_buffer_space`, BSD's rcv_wnd: the free buffer when it
    /// exceeds what was advertised — where BSD has a full control block
    /// (not a passive SYN-RECEIVED, which the SYN cache holds, nor
    /// TIME-WAIT, which has no buffer).
    fn acceptance_window(&self, config: &TcpConfig) -> usize {
        let full_tcb = match self.phase {
            Phase::SynReceived { opening, .. } => opening == Opening::Active,
            Phase::TimeWait { .. } | Phase::Closed | Phase::SynSent => false,
            _ => true,
        };
        if config.rcv_wnd_is_buffer_space && full_tcb {
            self.rcv.wnd().max(self.rcv.buffer().free())
        } else {
            self.rcv.wnd()
        }
    }

    /// Fourth: the SYN bit (RFC 5961 §4). Returns whether to go on.
    fn check_syn(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, out: &mut Outcome) -> bool {
        if !seg.flags.syn() {
            return true;
        }
        if let Phase::SynReceived {
            opening: Opening::Passive,
            ..
        } = self.phase
        {
            // RFC 9293: "If the connection was initiated with a passive OPEN,
            // then return this connection to the LISTEN state". (Linux's
            // tcp_check_req counts a SYN there as it counts a reset.)
            ctx.stats.attempt_fails += 1;
            ctx.stats.embryonic_rsts += 1;
            out.discard = true;
            self.enter_closed(ctx.now);
            return false;
        }
        let (nxt, wnd) = (self.rcv.nxt(), self.acceptance_window(ctx.config));
        let syn_in_window = nxt <= seg.seq_number && seg.seq_number < nxt + wnd;
        if !ctx.config.syn_challenge && self.state().synchronized() && syn_in_window {
            // RFC 793 §3.9 (before RFC 5961 §4): a SYN in the window is an
            // error — reset the connection and tell the peer.
            out.rst = Some((self.snd.nxt(), Some(self.rcv.nxt())));
            self.fail(SocketError::ConnectionReset);
            ctx.stats.estab_resets += 1;
            self.enter_closed(ctx.now);
            out.notify = true;
            return false;
        }
        self.challenge_ack(ctx);
        false
    }

    /// Fifth: the ACK field. Returns whether to go on.
    fn check_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'_>,
        synack: bool,
        out: &mut Outcome,
    ) -> bool {
        if !seg.flags.ack() {
            return false;
        }
        let ack = seg.ack_number;
        if let Phase::SynReceived {
            close_queued,
            opening,
        } = self.phase
        {
            if !(self.snd.una() < ack && ack <= self.snd.nxt()) {
                out.rst = Some((ack, None));
                return false;
            }
            self.goto(Phase::Established);
            let shift = if synack { 0 } else { self.snd.wscale() };
            self.snd
                .set_window(seg.seq_number, ack, u32::from(seg.window_len) << shift);
            self.take_ack(
                ctx,
                seg,
                &mut Delivery::new(ctx.now, None, Default::default()),
            );
            // A passive open's <SYN,ACK> is acknowledged to Linux's request
            // socket, not to the connection made from it: not in
            // tcpi_bytes_acked.
            if opening == Opening::Passive {
                self.counters.bytes_acked = self.counters.bytes_acked.saturating_sub(1);
                // Linux counts PassiveOpens when the handshake completes
                // and the child socket is made (tcp_create_openreq_child),
                // not for a SYN answered and then reset.
                ctx.stats.passive_opens += 1;
            }
            self.handshake_done(ctx);
            if close_queued {
                // RFC 9293 §3.10.4: the CLOSE queued in SYN-RECEIVED is
                // processed now; the FIN follows the queued data.
                self.goto(Phase::FinWait1);
            }
            // Then the text and FIN that came on the peer's SYN (a FIN
            // after our CLOSE makes it CLOSING).
            if let Some((text, fin)) = self.syn_text.take().map(|b| *b) {
                let seq = self.rcv.nxt();
                self.process_text(ctx, seq, &text, (true, fin), 0, out);
                self.check_fin(ctx, fin, seq + text.len(), out);
            }
            out.established = true;
            out.notify = true;
        }
        // RFC 5961 §5.2: an ACK outside [SND.UNA − MAX.SND.WND, SND.NXT] is
        // discarded with an ACK in reply (blind data injection).
        let lowest = self.snd.una() - self.snd.max_wnd().max(1) as usize;
        if ack < lowest || ack > self.snd.nxt() {
            self.ack_unacceptable(ctx, seg);
            return false;
        }
        // Linux's TCPPureAcks (tcp_ack's slow path; no header prediction
        // here): an accepted ACK with no data, SYN or FIN.
        if seg.payload.is_empty() && !seg.flags.syn() && !seg.flags.fin() && ack >= self.snd.una() {
            ctx.stats.pure_acks += 1;
        }
        // RFC 1122 §4.2.2.17: the peer answered; probing goes on as long as
        // it does.
        self.persist.unanswered = 0;
        if self.retries == 0 {
            // Only window probes were unanswered (a timeout's stall ends
            // when data is acknowledged).
            self.stalled_ms = OptMillis::NONE;
        }
        let old_wnd = self.snd.wnd();
        let advanced = self.process_ack(ctx, seg, old_wnd);
        if advanced {
            out.notify = true;
        }
        // Window update (§3.10.7.4): only from a newer segment, or the same
        // one acknowledging more.
        if !synack
            && self
                .snd
                .update_window(seg.seq_number, ack, seg.window_len, advanced)
        {
            self.window_changed(ctx.now, old_wnd, out);
        }
        match self.phase {
            Phase::FinWait1 if self.snd.fin_acked() => {
                // Linux's tcp_fin_timeout: an orphan does not wait for the
                // peer's FIN forever.
                let orphan_deadline = if self.orphaned() {
                    OptInstant::deadline(ctx.now + ctx.config.msl * 2)
                } else {
                    OptInstant::NONE
                };
                self.goto(Phase::FinWait2 { orphan_deadline });
                out.notify = true;
            }
            Phase::Closing if self.snd.fin_acked() => {
                self.enter_time_wait(ctx.now, ctx.config.msl);
                out.notify = true;
            }
            Phase::LastAck if self.snd.fin_acked() => {
                self.enter_closed(ctx.now);
                out.notify = true;
                return false;
            }
            _ => {}
        }
        true
    }

    /// The peer's window changed from `old`: a window that closed with data
    /// outstanding means the peer dropped it, so it is all sent again once
    /// the window opens and, meanwhile, the persist timer probes (as BSD
    /// pulls SND.NXT back in persist); a window that opened ends probing.
    fn window_changed(&mut self, now: Instant, old: u32, out: &mut Outcome) {
        let wnd = self.snd.wnd();
        if wnd == 0 {
            if self.snd.outstanding() > 0 && self.state().synchronized() {
                // The peer answered (it closed its window): a timeout's
                // stall is over; window probes count their own, cleared
                // by each answer (RFC 1122 §4.2.2.17).
                self.retries = 0;
                self.stalled_ms = OptMillis::NONE;
                // (A window probe's byte is not data the peer dropped: it
                // goes again when the window opens, below.)
                self.snd.queue_mut().mark_lost_if(|r| !r.probe);
                self.timers.stop(Timer::Retransmit);
                // The persist timer probes a shut window, not the loss
                // probe.
                self.timers.stop(Timer::LossProbe);
                self.tlp.due = false;
                if !self.timers.is_set(Timer::Persist) {
                    self.arm_persist(now);
                }
            }
        } else {
            if old == 0 || self.timers.is_set(Timer::Persist) {
                // The probe's byte goes again with what follows it.
                self.snd.queue_mut().mark_lost_if(|r| r.probe);
                self.timers.stop(Timer::Persist);
                self.persist.backoff = 0;
                self.persist.due = false;
                if self.snd.outstanding() > 0 && !self.timers.is_set(Timer::Retransmit) {
                    self.restart_rto(now);
                }
            }
            if wnd > old {
                out.notify = true;
            }
        }
    }

    /// SND.UNA advances to the ACK of `seg` (in the handshake or after
    /// it); what it delivered is added to `d`. Returns the sequence space
    /// acknowledged and the RTT sample.
    pub(super) fn take_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'_>,
        d: &mut Delivery,
    ) -> (usize, Option<std::time::Duration>) {
        let res = self.snd.acknowledge(seg.ack_number, d);
        // As Linux's tcp_snd_una_update: SND.UNA's advance, so the SYN and
        // the FIN count (RFC 4898's HCThruOctetsAcked).
        self.counters.bytes_acked += res.acked as u64;
        // RFC 6298 §3 with per-segment send times: the oldest newly
        // acknowledged segment. Karn's rule: an ACK that covers any
        // retransmitted segment may have been caused by it, so it gives no
        // sample from send times (as Linux's FLAG_RETRANS_DATA_ACKED) —
        // segments sent once but held behind the hole would otherwise
        // measure the whole repair; the timestamp echo still can.
        let sample = if d.any_retransmitted {
            self.ts_rtt(ctx.now, seg)
        } else {
            d.oldest_once.map(|sent| ctx.now.saturating_since(sent))
        };
        if let Some(r) = sample {
            self.rtt.sample(r, &self.shared.rtt);
            // Microseconds in a u32: RTTs to 71 minutes.
            let us = u32::try_from(r.as_micros()).unwrap_or(u32::MAX);
            self.min_rtt.update(ctx.now.total_millis(), us);
            self.tlp.sampled = true;
        }
        self.retries = 0;
        self.stalled_ms = OptMillis::NONE;
        (res.acked, sample)
    }

    /// RFC 7323 §4.1 (RTTM): the echoed TSval names the transmission being
    /// acknowledged, so an ACK of retransmitted data still measures the
    /// RTT (no Karn ambiguity), to the clock's millisecond.
    fn ts_rtt(&self, now: Instant, seg: &tcp::Repr<'_>) -> Option<std::time::Duration> {
        let ts = seg.timestamp.filter(|_| self.neg.ts && seg.flags.ack())?;
        // A zero TSecr is what a peer sends before it has anything to echo.
        if ts.tsecr == 0 {
            return None;
        }
        let ms = self.ts.clock(now).wrapping_sub(ts.tsecr);
        // An echo from the future, or older than any RTO, is no sample.
        (ms < 120_000).then(|| std::time::Duration::from_millis(u64::from(ms)))
    }

    /// RFC 5961 §7: challenge ACKs are throttled — per connection first,
    /// by the interval that paces answers to unacceptable segments (as
    /// Linux's tcp_send_challenge_ack checks the socket's
    /// last_oow_ack_time), then by the stack's budget a second.
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        if !self.oow_allowed(ctx) {
            return;
        }
        if ctx.challenge.allow(ctx.now) {
            ctx.stats.challenge_acks += 1;
            self.rcv.ack_now();
            self.challenge_due = true;
        }
    }

    /// Sixth: the URG bit (RFC 6093: the pointer marks the byte after the
    /// urgent data).
    fn check_urg(&mut self, seg: &tcp::Repr<'_>) {
        if !seg.flags.urg() || seg.urgent_pointer == 0 {
            return;
        }
        if !matches!(
            self.state(),
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        self.rcv
            .take_urgent(seg.seq_number + usize::from(seg.urgent_pointer));
    }

    /// The peer's segment size as its segments show it (Linux's
    /// tcp_measure_rcv_mss), the measure of "full-sized" for delayed ACKs
    /// (RFC 5681 §4.2). It grows with any larger segment, capped at the
    /// largest payload the MSS we announced allows with the options every
    /// segment carries: a segment larger than that is several the
    /// sender's offload left whole (a TUN device's GSO), whose pieces
    /// Linux measures by their gso_size. It shrinks to a smaller size seen
    /// twice in a row, if the segments are large enough to be a path's
    /// full ones: 536 bytes of payload and basic header (RFC 9293 §3.7.1's
    /// default MSS), or 88 (Linux's smallest MSS) when PSH says nothing
    /// about the sender running out of data.
    ///
    /// Any other segment is a small one, which the receiver notes (Linux's
    /// ICSK_ACK_PUSHED: a read that drains it acknowledges at once).
    fn measure_rcv_mss(&mut self, len: usize, psh: bool) {
        let options = if self.neg.ts { 12 } else { 0 };
        let cap = usize::from(self.seg.our_mss).saturating_sub(options);
        // At most our MSS, so it fits.
        let len = u16::try_from(len.min(cap)).unwrap_or(u16::MAX);
        if len >= self.rcv_mss {
            self.rcv_mss = len;
            return;
        }
        let seen = len.saturating_add(options as u16);
        if seen >= 536 || (seen >= 88 && !psh) {
            let again = len == self.last_seg_size;
            self.last_seg_size = len;
            if again {
                self.rcv_mss = len;
                return;
            }
        }
        self.rcv.small_segment();
    }

    /// Seventh: the segment text, already trimmed to the window.
    /// `sack_room`: the bytes a SACK option took from the segment's data
    /// (a sender cuts its segments by them, as we do): counted as data
    /// when judging whether the segment was full-sized, as Linux counts
    /// every option beyond its usual header. `(psh, fin)`: the segment's
    /// flags.
    fn process_text(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: SeqNumber,
        data: &[u8],
        (psh, fin): (bool, bool),
        sack_room: usize,
        out: &mut Outcome,
    ) {
        if data.is_empty() {
            return;
        }
        let size = data.len() + sack_room;
        // Linux's TCP_REMNANT: a PSH or a FIN says the sender may have run
        // out of data, so the segment's size says nothing of its MSS.
        self.measure_rcv_mss(size, psh || fin);
        if !matches!(
            self.state(),
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        if self.orphaned() {
            // Data for a socket the application closed cannot be delivered:
            // reset (RFC 1122 §4.2.2.13, RFC 2525 §2.17) — answering the
            // segment as Linux (tcp_v4_send_reset) and BSD (dropwithreset)
            // do: <SEQ=SEG.ACK><CTL=RST>, SEG.ACK being SND.UNA once the
            // segment's acceptable ACK was taken.
            out.rst = Some((self.snd.una(), None));
            self.enter_closed(ctx.now);
            return;
        }
        let d = self.rcv.accept_text(seq, data, ctx.config.max_ooo_ranges);
        if d.out_of_order {
            ctx.stats.ooo_queued += 1;
        }
        if d.dropped {
            ctx.stats.ooo_dropped += 1;
        }
        if d.in_order == 0 {
            // RFC 5681 §4.2: an out-of-order segment gets an immediate
            // (duplicate) ACK, which drives the sender's fast retransmit.
            self.rcv.ack_now();
            return;
        }
        self.counters.bytes_received += d.in_order as u64;
        let quick = self.rcv.data_arrived(
            &mut self.last_data_ms,
            ctx.now,
            self.rtt.rto(),
            self.rcv_mss as usize,
        );
        out.notify = true;
        if self.rcv.fin_now_due() {
            self.consume_fin(ctx, out);
        }
        if d.filled_gap || self.neg.sack && self.rcv.dsack_pending() {
            // RFC 5681 §4.2: acknowledge at once a segment that fills a gap;
            // and one that repeated data (RFC 2883 §4: the D-SACK block
            // tells the sender of its spurious retransmission at once).
            self.rcv.ack_now();
        } else if ctx.config.quickack && quick && !(fin && self.phase == Phase::Established) {
            // (A FIN with the data ends quick-ACK mode: Linux's tcp_fin
            // turns the exchange interactive before the ACK is chosen.)
            // Quick-ACK mode (Linux): the first segments of a connection,
            // and the first after an idle spell, are acknowledged at once
            // so the sender's slow start is not held back by delayed ACKs
            // (RFC 9293 §3.8.6.3 sets a most for the delay, no least).
            self.rcv.ack_now();
        } else {
            // Full-sized as the peer's segments show it (Linux's rcv_mss),
            // not as the MSS options say: a peer whose path MTU is below
            // what either side announced sends smaller segments, each of
            // which is still full (RFC 5681 §4.2's "full-sized").
            let full = if ctx.config.ack_every_second_segment {
                0
            } else {
                self.rcv_mss as usize
            };
            let most = usize::from(self.seg.our_mss);
            if self.rcv.ack_in_order(size, full, most) && !self.timers.is_set(Timer::DelayedAck) {
                self.timers
                    .set(Timer::DelayedAck, ctx.now + ctx.config.delayed_ack);
            }
        }
    }

    /// Eighth: the FIN bit, at sequence number `at` (after the text).
    fn check_fin(&mut self, ctx: &mut Ctx<'_>, fin: bool, at: SeqNumber, out: &mut Outcome) {
        if !fin || self.state() == State::Closed {
            return;
        }
        if at < self.rcv.nxt() {
            return;
        }
        if self.rcv.take_fin(at) {
            self.consume_fin(ctx, out);
        } else {
            // A FIN beyond missing data waits for the data.
            self.rcv.ack_now();
        }
    }

    /// RCV.NXT moved past the peer's FIN.
    fn consume_fin(&mut self, ctx: &mut Ctx<'_>, out: &mut Outcome) {
        if self.phase == Phase::Established && ctx.config.quickack {
            // Linux's tcp_fin: CLOSE-WAIT in pingpong mode, the ACK
            // delayed so that the application's close carries it (a
            // three-segment close); BSD acknowledges at once. Linux still
            // sends it at once when more than a segment's worth, the FIN
            // counted, waits for it (__tcp_ack_snd_check); and when no data
            // ever came its delayed-ACK time (ato) is still zero, so the
            // timer fires at the next tick — a close at once still carries
            // the ACK.
            let at_once = self.unacked_received() > usize::from(self.rcv_mss);
            if self.rcv.delay_ack_of_fin(at_once) {
                let wait = if self.last_data_ms.is_some() {
                    ctx.config.delayed_ack
                } else {
                    std::time::Duration::from_millis(1)
                };
                let due = ctx.now + wait;
                if self.timers.get(Timer::DelayedAck).is_none_or(|t| t > due) {
                    self.timers.set(Timer::DelayedAck, due);
                }
            }
        } else {
            self.rcv.ack_now();
        }
        out.notify = true;
        match self.phase {
            Phase::Established => self.goto(Phase::CloseWait),
            Phase::FinWait1 if self.snd.fin_acked() => {
                self.enter_time_wait(ctx.now, ctx.config.msl)
            }
            // Simultaneous close (§3.6 figure 13).
            Phase::FinWait1 => self.goto(Phase::Closing),
            Phase::FinWait2 { .. } => self.enter_time_wait(ctx.now, ctx.config.msl),
            Phase::TimeWait { .. } => self.enter_time_wait(ctx.now, ctx.config.msl),
            _ => {}
        }
    }
}

/// The bytes of a segment's SACK option, padding included (what a sender
/// that leaves room for it took from the segment's data).
/// The MSS a SYN announces: 536 when it has no MSS option (RFC 9293
/// §3.7.1), and when its option says 0 — no segment could carry data, so
/// Linux's `tcp_parse_options` and FreeBSD's `tcp_mss` take a zero as no
/// option at all.
pub(super) fn peer_mss(syn: &tcp::Repr<'_>) -> u16 {
    syn.max_seg_size.filter(|&m| m != 0).unwrap_or(536)
}

fn sack_room(seg: &tcp::Repr<'_>) -> usize {
    match seg.sack_ranges.iter().flatten().count() {
        0 => 0,
        n => 4 + 8 * n,
    }
}
