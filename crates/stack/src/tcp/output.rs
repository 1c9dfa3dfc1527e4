//! What a connection sends, and when: the SYN (first or again),
//! retransmissions of segments deemed lost, new data under the send and
//! congestion windows with Nagle and sender SWS avoidance, our FIN, probes
//! and ACKs; and what its timers do.
//!
//! The order of [`Connection::next_segment`] is the order of precedence:
//! the handshake, then repairs, then new data, then probes, then a bare ACK.
//! Nothing here moves SND.NXT back: repairs come from the retransmission
//! queue.

use tcplab_wire::tcp::{Flags, SeqNumber, Timestamp};

use super::chrono::Limit;
use super::compact::OptMillis;
use super::input::Ctx;
use super::receiver::AckDue;
use super::state::{Opening, Phase, State};
use super::tcb::{Connection, Reset};
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
    pub sack_permitted: bool,
    /// TSopt (RFC 7323 §3), on every segment once negotiated.
    pub ts: Option<Timestamp>,
    /// SACK blocks (RFC 2018 §3), on ACKs while data is held out of order.
    pub sack: [Option<(u32, u32)>; 4],
    /// Payload: its first sequence number and length.
    pub data_seq: SeqNumber,
    pub data_len: usize,
    /// Set DF on the datagram.
    pub df: bool,
}

/// The time `len` bytes take at `rate` bytes per second, rounded up.
fn pace_time(len: usize, rate: u64) -> std::time::Duration {
    let nanos = (len as u128 * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
    std::time::Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
}

/// What a timer expiry did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimerOutcome {
    pub notify: bool,
    pub closed: bool,
    /// The connection ended with a reset to send (keep-alive gave up).
    pub reset: Option<Reset>,
}

/// How a segment of sequence space goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    /// A retransmission of record `i` of the queue.
    Repair(usize),
    /// A window probe resending the first byte(s) at SND.UNA.
    Probe,
}

impl Connection {
    /// The next segment to send now, if any. Call until `None`.
    pub fn next_segment(&mut self, now: Instant) -> Option<Plan> {
        let mut plan = self.choose_segment(now)?;
        self.add_options(now, &mut plan);
        Some(plan)
    }

    /// Whether `next_segment` might have another segment now. False only
    /// when it surely has none and a call would change nothing: the
    /// handshake is done, no data or FIN is unsent, nothing is marked
    /// lost, no recovery is under way, no probe, keep-alive or ACK is due.
    /// (What would make one due later — a timer, an ACK, a call — looks
    /// at the connection again.) `poll_transmit` then does not put the
    /// connection back in line after a segment only to hear `None`.
    pub fn may_send_more(&self) -> bool {
        !self.snd.syn_acked()
            || self.snd.unsent() > 0
            || self.snd.fin().is_some_and(|f| self.snd.nxt() <= f)
            || self.snd.queue().has_lost()
            || self.rec.state == super::recovery::CaState::Recovery
            || self.tlp.due
            || self.persist.due
            || self.keepalive.due
            || self.challenge_due
            || self.rcv.ack_due() == AckDue::Now
    }

    /// The options every segment carries: SACK-permitted and TSopt on a
    /// SYN as offered (RFC 2018 §2, RFC 7323 §3.2) or, on a <SYN,ACK>, as
    /// agreed; TSopt on every other segment once both SYNs carried it, with
    /// TSecr = TS.Recent (§4.3); SACK blocks on ACKs (RFC 2018 §4).
    fn add_options(&mut self, now: Instant, plan: &mut Plan) {
        let (syn, ack) = (plan.flags.syn(), plan.flags.ack());
        let (sack, ts) = if syn && !ack {
            if self.bare_syn() {
                return;
            }
            (self.offer.sack, self.offer.ts)
        } else {
            (self.neg.sack, self.neg.ts)
        };
        if syn {
            plan.sack_permitted = sack;
        }
        if ts {
            plan.ts = Some(Timestamp {
                tsval: self.ts.clock(now),
                // §3.2: TSecr is zero when the ACK bit is off.
                tsecr: if ack { self.ts.recent } else { 0 },
            });
        }
        if ack {
            self.ts.last_ack_sent = plan.ack;
            // SACK blocks take option space the segment's data leaves:
            // the MSS counted TSopt only; new data left room for them
            // (`data_mss`), a full-sized retransmission has none (RFC
            // 2018 §3: as many blocks as fit; the rest go on the next ACK
            // without data). Sending them anyway made the datagram larger
            // than the path (beyond 65,535 bytes on a 64 KiB MTU).
            let room = self.seg.mss.saturating_sub(plan.data_len);
            let fit = if room >= 12 { (room - 4) / 8 } else { 0 };
            let max = fit.min(if ts { 3 } else { 4 });
            if sack && !syn && max > 0 {
                self.counters.dsack_sent = self
                    .counters
                    .dsack_sent
                    .wrapping_add(u32::from(self.rcv.dsack_pending()));
                plan.sack = self.rcv.sack_blocks(max);
            }
        }
    }

    /// The most new data a segment carries now: the MSS, less the SACK
    /// option when the receiver holds blocks to report, as Linux's
    /// tcp_current_mss and BSD's tcp_output (which cuts the length by the
    /// options' length) do — so in a transfer both ways the data segments
    /// carry the SACK information (RFC 2018 §4: as many blocks as fit)
    /// rather than leave it to the next ACK without data. The option takes
    /// at most half the segment (a tiny MSS keeps its data).
    /// Retransmissions keep their size and carry what fits.
    fn data_mss(&self) -> usize {
        let mss = self.seg.mss;
        if !self.neg.sack {
            return mss;
        }
        let pending = self.rcv.pending_sack_blocks();
        if pending == 0 {
            return mss;
        }
        let cap = if self.neg.ts { 3 } else { 4 };
        let blocks = pending.min(cap).min((mss / 2).saturating_sub(4) / 8);
        if blocks == 0 {
            mss
        } else {
            mss - (4 + 8 * blocks)
        }
    }

    /// From the third SYN timeout on, the SYN carries the MSS option alone
    /// if so configured (BSD's `rexmit_drop_options`, its t_rxtshift 3),
    /// in case a middlebox drops SYNs with options. What the first SYNs
    /// offered still stands: a <SYN,ACK> answering one of them echoes
    /// window scale, SACK-permitted or TSopt, and `negotiate` takes them
    /// (the peer turned them on), so the two ends never disagree.
    fn bare_syn(&self) -> bool {
        self.shared.syn_drop_options && self.phase == Phase::SynSent && self.syn_timeouts >= 3
    }

    fn choose_segment(&mut self, now: Instant) -> Option<Plan> {
        match self.phase {
            Phase::Closed => return None,
            Phase::TimeWait { .. } => return self.ack_if_due(),
            _ => {}
        }
        if !self.snd.syn_acked() {
            return self.handshake_segment(now);
        }
        // RFC 6675 §4 NextSeg's order: lost segments (rule 1), new data
        // (rule 2), then — without RACK — segments below the highest SACK
        // (rule 3) and the rescue retransmission (rule 4). A loss probe
        // and a window probe go out whatever the window says.
        if let Some(p) = self.loss_probe(now) {
            return Some(p);
        }
        if let Some(p) = self.repair(now) {
            return Some(p);
        }
        if let Some(p) = self.probe(now) {
            return Some(p);
        }
        if let Some(p) = self.new_data(now) {
            return Some(p);
        }
        if let Some(p) = self.nextseg_rules_3_and_4(now) {
            return Some(p);
        }
        if self.keepalive.due {
            self.keepalive.due = false;
            // RFC 9293 §3.8.4: a segment with SEG.SEQ = SND.NXT − 1 and no
            // data draws an ACK.
            let mut p = self.bare_ack();
            p.seq = self.snd.nxt() - 1;
            return Some(p);
        }
        self.ack_if_due()
    }

    fn ack_if_due(&mut self) -> Option<Plan> {
        if self.rcv.ack_due() != AckDue::Now {
            return None;
        }
        let challenge = std::mem::take(&mut self.challenge_due);
        let mut plan = self.bare_ack();
        // BSD: an ACK while our FIN is outstanding carries it again.
        let fin_out = matches!(
            self.state(),
            State::FinWait1 | State::Closing | State::LastAck
        );
        if let Some(fin) = self.snd.fin() {
            if self.fin_on_acks && !challenge && fin_out && fin < self.snd.nxt() {
                plan.flags |= Flags::FIN;
                plan.seq = fin;
                plan.data_seq = fin;
            }
        }
        Some(plan)
    }

    /// SYN-SENT and SYN-RECEIVED: our SYN, the first time or again; or, in
    /// SYN-RECEIVED, an ACK (a challenge). Data and FIN wait for
    /// ESTABLISHED (RFC 9293 §3.9.1 SEND and CLOSE queue them).
    fn handshake_segment(&mut self, now: Instant) -> Option<Plan> {
        let passive = self.state() == State::SynReceived;
        let kind = if !self.snd.syn_sent() {
            Kind::New
        } else if let Some((i, _, _)) = self.snd.queue_mut().next_lost(1) {
            Kind::Repair(i)
        } else if passive {
            return self.ack_if_due();
        } else {
            return None;
        };
        let iss = self.snd.iss();
        let mut flags = Flags::SYN;
        if passive {
            flags |= Flags::ACK;
        }
        let plan = Plan {
            flags,
            seq: iss,
            ack: if passive {
                self.rcv.nxt()
            } else {
                SeqNumber(0)
            },
            // RFC 7323 §2.2: the window of a SYN is never scaled.
            window: self.rcv.syn_window(),
            urgent: 0,
            // RFC 9293 §3.7.1 (SHLD-5): our MSS in every SYN, unless the
            // socket sends no options at all (BSD's TCP_NOOPT).
            mss: (!self.opts.no_options).then_some(self.seg.our_mss),
            // Offered on an active SYN, answered only if the peer offered
            // it (RFC 7323 §2.2).
            wscale: (self.offer_wscale && !self.bare_syn()).then_some(self.rcv.wscale()),
            sack_permitted: false,
            ts: None,
            sack: [None; 4],
            data_seq: iss + 1,
            data_len: 0,
            df: self.seg.df,
        };
        self.sent(now, &plan, kind);
        Some(plan)
    }

    /// A bare ACK. Its sequence number is the one the peer expects next:
    /// SND.NXT, or the right edge of the peer's window if a probe went
    /// beyond it (Linux's `tcp_acceptable_seq`) — never a value behind
    /// what the peer has, which it would drop as unacceptable.
    fn bare_ack(&mut self) -> Plan {
        let nxt = self.snd.nxt();
        let edge = self.snd.wnd_end();
        let seq = if edge < nxt && edge >= self.snd.una() {
            edge
        } else {
            nxt
        };
        let plan = Plan {
            flags: Flags::ACK,
            seq,
            ack: self.rcv.nxt(),
            window: self.rcv.advertise(usize::from(self.seg.our_mss)),
            urgent: 0,
            mss: None,
            wscale: None,
            sack_permitted: false,
            ts: None,
            sack: [None; 4],
            data_seq: seq,
            data_len: 0,
            df: self.seg.df,
        };
        self.after_ack_sent();
        self.counters.segs_out = self.counters.segs_out.wrapping_add(1);
        plan
    }

    /// A segment of `start .. end` in sequence space: data, with our FIN if
    /// it ends there.
    fn segment(&mut self, now: Instant, start: SeqNumber, end: SeqNumber, kind: Kind) -> Plan {
        let (data_seq, data_len) = self.snd.data_in(start, end);
        let fin = self.snd.fin().is_some_and(|f| start <= f && f < end);
        let mut flags = Flags::ACK;
        // PSH where the application's data ends — not where it said more
        // follows (MSG_MORE; Linux marks no push then).
        if data_len > 0 && data_seq + data_len == self.snd.data_end() && self.nagle.push_at_end() {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        let mut urgent = 0;
        if let Some(up) = self.snd.up() {
            if up > start {
                // RFC 6093: the pointer is the offset of the byte after the
                // urgent data; beyond 65535 it points as far as it can.
                flags |= Flags::URG;
                urgent = (up - start).min(65535) as u16;
            }
        }
        let plan = Plan {
            flags,
            seq: start,
            ack: self.rcv.nxt(),
            window: self.rcv.advertise(usize::from(self.seg.our_mss)),
            urgent,
            mss: None,
            wscale: None,
            sack_permitted: false,
            ts: None,
            sack: [None; 4],
            data_seq,
            data_len,
            df: self.seg.df,
        };
        self.sent(now, &plan, kind);
        plan
    }

    /// A segment deemed lost goes out again: first in line, and whatever
    /// the congestion window says when loss recovery forces it (RFC 5681
    /// §3.2 step 2, RFC 6582 §3.2 step 5). Never beyond the peer's window,
    /// except at SND.UNA.
    fn repair(&mut self, now: Instant) -> Option<Plan> {
        if !self.snd.queue().has_lost() {
            return None;
        }
        let mss = self.seg.mss;
        let (i, start, end) = self.snd.queue_mut().next_lost(usize::MAX)?;
        let (data_seq, data_len) = self.snd.data_in(start, end);
        let mut end = if data_len > mss {
            // The segment size went down (path MTU): repair in pieces.
            let cut = data_seq + mss;
            self.snd.queue_mut().next_lost(cut - start)?;
            cut
        } else {
            end
        };
        // What new data may fill: a segment's worth less the SACK room
        // (`data_mss`), so the fill neither crowds out the blocks nor
        // leaves a runt behind a record cut for them.
        let goal = self.data_mss();
        if end == self.snd.nxt() && data_len < goal && self.snd.unsent() > 0 {
            // The last record is short (a window probe): fill the segment
            // with new data behind it, as far as the window goes.
            let room = if self.snd.wnd_end() > end {
                self.snd.wnd_end() - end
            } else {
                0
            };
            let more = (goal - data_len).min(room).min(self.snd.unsent());
            end = self.with_fin(end + more);
        }
        let len = end - start;
        let in_flight = self.pipe();
        if !self.rec.force && in_flight > 0 && in_flight + len > self.cwnd() {
            return None;
        }
        if !self.rec.force && self.paced(now) {
            return None;
        }
        // Data never into a closed window (that is the persist timer's
        // probe), and beyond the window's edge only at SND.UNA (as Linux).
        // A lone FIN needs no window: it is sent again whatever the window.
        let edge = self.snd.wnd_end();
        if data_len > 0 && (start >= edge || (start != self.snd.una() && end > edge)) {
            return None;
        }
        self.rec.force = false;
        Some(self.segment(now, start, end, Kind::Repair(i)))
    }

    /// A zero-window probe, or data held back by sender SWS avoidance once
    /// the persist timer says it has waited long enough (RFC 1122
    /// §4.2.3.4's override).
    fn probe(&mut self, now: Instant) -> Option<Plan> {
        if !self.persist.due {
            return None;
        }
        if !self.state().sends() {
            self.persist.due = false;
            return None;
        }
        let una = self.snd.una();
        let room = if self.snd.wnd_end() > self.snd.nxt() {
            self.snd.wnd_end() - self.snd.nxt()
        } else {
            0
        };
        if room > 0 && self.snd.unsent() > 0 && self.snd.outstanding() == 0 {
            // The override: send what the window takes, however small.
            self.persist.due = false;
            let n = room.min(self.snd.unsent()).min(self.data_mss());
            let start = self.snd.nxt();
            let end = self.with_fin(start + n);
            let mut plan = self.segment(now, start, end, Kind::New);
            // Pushed, as Linux's tcp_write_wakeup marks what it sends.
            plan.flags |= Flags::PSH;
            return Some(plan);
        }
        self.persist.due = false;
        if self.snd.outstanding() > 0 {
            // RFC 9293 §3.8.6.1: probe with the first byte not yet accepted.
            let first = self.snd.queue().front().copied()?;
            let end = if first.len() > 1 { una + 1 } else { first.end };
            let end = self.with_fin(end);
            return Some(self.segment(now, una, end.min(first.end), Kind::Probe));
        }
        if self.snd.unsent() > 0 {
            let start = self.snd.nxt();
            let end = self.with_fin(start + 1);
            let plan = self.segment(now, start, end, Kind::New);
            if self.snd.wnd() == 0 {
                self.snd.queue_mut().mark_last_probe();
            }
            return Some(plan);
        }
        None
    }

    /// Whether everything queued and not yet sent would go out now, as
    /// the windows and Nagle find it — with no FIN queued, as a write
    /// finds it. A write transmits at once on Linux (`tcp_push`) and BSD
    /// (`tcp_usr_send`), so by the time the application closes such data
    /// is on its way and the FIN follows in a segment of its own; only
    /// data still held back (by a window, Nagle, a cork or `MSG_MORE`)
    /// takes the FIN along (Linux's `tcp_send_fin` marks an unsent tail).
    /// A sans-IO caller may write and close before the stack is polled:
    /// the close asks this to keep the segments a kernel would send.
    pub(super) fn unsent_goes_now(&self) -> bool {
        let avail = self.snd.unsent();
        if avail == 0 {
            return false;
        }
        let nxt = self.snd.nxt();
        let wnd_room = self.wnd_room();
        let cwnd_room = self.cwnd().saturating_sub(self.pipe());
        if avail > wnd_room || avail > cwnd_room {
            return false;
        }
        if avail % self.data_mss().max(1) == 0 {
            return true;
        }
        let minshall = self.nagle.minshall() && !self.small_segment_out();
        let idle = self.snd.outstanding() == 0;
        let urgent = self.snd.up().is_some_and(|up| up > nxt);
        let corked = self.nagle.holds() && !urgent;
        !corked && (self.nagle.nodelay() || idle || minshall || urgent)
    }

    /// How much of the peer's window lies beyond SND.NXT.
    fn wnd_room(&self) -> usize {
        let nxt = self.snd.nxt();
        if self.snd.wnd_end() > nxt {
            self.snd.wnd_end() - nxt
        } else {
            0
        }
    }

    /// Whether a small segment sent is still unacknowledged (Minshall's
    /// variant of Nagle: `snd_sml`, the end of the last one, lies above
    /// SND.UNA and at most SND.NXT).
    fn small_segment_out(&self) -> bool {
        self.snd.una() < self.snd_sml && self.snd_sml <= self.snd.nxt()
    }

    /// `end`, or one past our FIN if the FIN comes right after it.
    fn with_fin(&self, end: SeqNumber) -> SeqNumber {
        match self.snd.fin() {
            Some(f) if f == end => end + 1,
            _ => end,
        }
    }

    /// New data, limited by the send and congestion windows, Nagle (RFC
    /// 9293 §3.7.4) and sender SWS avoidance (§3.8.6.2.1); or a lone FIN.
    fn new_data(&mut self, now: Instant) -> Option<Plan> {
        if !self.state().sends() {
            return None;
        }
        let nxt = self.snd.nxt();
        let avail = self.snd.unsent();
        if avail > 0 && self.snd.outstanding() == 0 && self.shared.slow_start_after_idle {
            self.restart_after_idle(now);
        }
        if avail > 0 {
            self.chrono.start(Limit::Busy, now);
            let wnd_room = self.wnd_room();
            let cwnd_room = self.cwnd().saturating_sub(self.pipe());
            let mss = self.data_mss();
            let n = avail.min(wnd_room).min(cwnd_room).min(mss);
            if n > 0 {
                let full = n == mss;
                let idle = self.snd.outstanding() == 0;
                // Urgent data not yet sent goes at once (Linux's urgent
                // mode lifts Nagle too): the point is that it is urgent.
                let urgent = self.snd.up().is_some_and(|up| up > nxt);
                // Minshall's variant: only an unacknowledged small segment
                // holds this one back.
                if !self.small_segment_out() {
                    self.snd_sml = self.snd.una();
                }
                let minshall = self.nagle.minshall() && self.snd_sml == self.snd.una();
                let fin = self.snd.fin().is_some();
                let nodelay = self.nagle.nodelay();
                let nagle_ok = nodelay || idle || minshall || urgent || fin;
                // A cork holds any partial segment, idle or not (Linux's
                // tcp_nagle_check with TCP_NAGLE_CORK).
                let corked = self.nagle.holds() && !urgent && !fin;
                let big = n >= (self.snd.max_wnd() as usize / 2).max(1);
                if full || !corked && nagle_ok && (n == avail || big) {
                    if self.paced(now) {
                        self.chrono.stop(Limit::Rwnd, false, now);
                        return None;
                    }
                    // The end of a burst, pushed as Linux pushes it:
                    // another new segment left at this very instant, the
                    // windows (or Nagle) let no more follow, and the burst
                    // ends where Linux's smallest send unit — two
                    // segments, counted from the first byte — ends (a
                    // burst cut mid-unit goes out unpushed, as Linux's
                    // split unit does).
                    let rest = avail - n;
                    let burst_end = self.shared.push_at_burst_end
                        && rest > 0
                        && full
                        && (nxt + n).0.wrapping_sub(self.snd.iss().0.wrapping_add(1)) as usize
                            % (2 * mss)
                            == 0
                        && self
                            .snd
                            .queue()
                            .back()
                            .is_some_and(|r| r.sent == now && r.xmits == 1)
                        && (wnd_room.min(cwnd_room) - n < mss.min(rest)
                            || rest < mss && (corked || !(nodelay || minshall || urgent || fin)));
                    let end = if self.nagle.fin_apart() {
                        nxt + n
                    } else {
                        self.with_fin(nxt + n)
                    };
                    let mut plan = self.segment(now, nxt, end, Kind::New);
                    if burst_end {
                        plan.flags |= Flags::PSH;
                    }
                    if rest == 0 {
                        // The last byte queued goes: no call follows to
                        // look again (`may_send_more`).
                        self.all_sent(now, cwnd_room > n, false);
                    }
                    return Some(plan);
                }
            }
            // Held back with nothing in flight: only the persist timer can
            // get it going again (the window update may be lost).
            if self.snd.outstanding() == 0 && !self.timers.is_set(Timer::Persist) {
                self.arm_persist(now);
            }
            // The peer's window holds the next segment back, and the
            // congestion window would let it go (Linux's tcp_write_xmit
            // starts its receive-window-limited clock then).
            if cwnd_room > 0 && wnd_room < avail.min(mss) {
                self.chrono.start(Limit::Rwnd, now);
            } else {
                self.chrono.stop(Limit::Rwnd, false, now);
            }
            return None;
        }
        if let Some(fin) = self.snd.fin() {
            if nxt == fin {
                return Some(self.segment(now, fin, fin + 1, Kind::New));
            }
        }
        self.all_sent(now, self.cwnd() > self.pipe(), self.snd.outstanding() == 0);
        None
    }

    /// Everything queued is out (or going): the peer's window holds
    /// nothing back, and nothing runs if nothing is in flight (`idle`);
    /// if the congestion window would take more (`cwnd_open`) while the
    /// application waits for room, the send buffer is the limit (Linux's
    /// tcp_cwnd_validate).
    fn all_sent(&mut self, now: Instant, cwnd_open: bool, idle: bool) {
        self.chrono.stop(Limit::Rwnd, idle, now);
        if self.chrono.nospace()
            && cwnd_open
            && matches!(self.state(), State::Established | State::CloseWait)
        {
            self.chrono.start(Limit::Sndbuf, now);
        }
    }

    /// The tail loss probe (RFC 8985 §7.3), when its timer said so: new
    /// data if the peer's window takes it, else the highest segment sent,
    /// again — either way beyond the congestion window if need be.
    fn loss_probe(&mut self, now: Instant) -> Option<Plan> {
        if !self.tlp.due {
            return None;
        }
        self.tlp.due = false;
        if !self.state().sends() || self.snd.outstanding() == 0 {
            return None;
        }
        let nxt = self.snd.nxt();
        let room = self.wnd_room();
        let n = self.snd.unsent().min(room).min(self.data_mss());
        let plan = if n > 0 {
            let end = self.with_fin(nxt + n);
            self.tlp.retrans = false;
            self.segment(now, nxt, end, Kind::New)
        } else if self.snd.fin() == Some(nxt) {
            self.tlp.retrans = false;
            self.segment(now, nxt, nxt + 1, Kind::New)
        } else {
            let fin = self.snd.fin();
            let Some((i, start, end)) = self.snd.queue_mut().last_unsacked(self.seg.mss, fin)
            else {
                // Nothing to probe with: if the probe was to go in the
                // timeout's place, the timeout runs now.
                if !self.timers.is_set(Timer::Retransmit) {
                    self.timers.set(Timer::Retransmit, now);
                }
                return None;
            };
            self.tlp.retrans = true;
            self.tlp.sending = true;
            let plan = self.segment(now, start, end, Kind::Repair(i));
            self.tlp.sending = false;
            plan
        };
        self.tlp.end = Some(self.snd.nxt());
        self.tlp.sampled = false;
        self.counters.loss_probes = self.counters.loss_probes.wrapping_add(1);
        // §7.3: after a probe the RTO, not another probe, is armed.
        self.restart_rto(now);
        Some(plan)
    }

    /// RFC 6675 §4 NextSeg rules 3 and 4, in fast recovery with SACK and
    /// without RACK: a segment below the highest SACK not yet sent again,
    /// else once per recovery the highest unSACKed segment (the rescue).
    fn nextseg_rules_3_and_4(&mut self, now: Instant) -> Option<Plan> {
        if self.rec.state != super::recovery::CaState::Recovery
            || !self.neg.sack
            || self.shared.loss.rack
        {
            return None;
        }
        let mss = self.seg.mss;
        if self.pipe() + mss > self.cwnd() || self.paced(now) {
            return None;
        }
        let high_rxt = self.rec.high_rxt;
        if let Some((i, start, end)) = self.snd.queue_mut().next_unsacked(high_rxt, mss) {
            return Some(self.segment(now, start, end, Kind::Repair(i)));
        }
        let una = self.snd.una();
        if self.rec.rescue_rxt.is_none_or(|r| una > r) {
            let fin = self.snd.fin();
            let (i, start, end) = self.snd.queue_mut().last_unsacked(mss, fin)?;
            self.rec.rescue_rxt = self.rec.until;
            // The rescue does not move HighRxt.
            let keep = self.rec.high_rxt;
            let plan = self.segment(now, start, end, Kind::Repair(i));
            self.rec.high_rxt = keep;
            return Some(plan);
        }
        None
    }

    /// Whether pacing holds the next data segment back; if so, the pacing
    /// deadline says when it may go (a paced sender never sleeps: the
    /// deadline is reported by `poll_timeout`).
    fn paced(&mut self, now: Instant) -> bool {
        let Some(rate) = self.cc.pacing_rate().filter(|r| *r > 0) else {
            return false;
        };
        // A sender late by a little may catch up by about two segments
        // (or a millisecond at high rates): a bounded burst.
        let credit_bytes = (2 * self.seg.mss as u64).max(rate / 1000);
        let credit = pace_time(credit_bytes as usize, rate);
        if now + credit >= self.pace_next {
            return false;
        }
        self.timers.set(Timer::Pacing, self.pace_next - credit);
        true
    }

    /// Arm the persist timer with the current backoff.
    pub(super) fn arm_persist(&mut self, now: Instant) {
        let (min, max) = (self.shared.persist_min, self.shared.persist_max);
        let base = self.rtt.rto().max(min);
        let interval = (base * 2u32.saturating_pow(self.persist.backoff.min(16))).min(max);
        let interval = self.within_user_timeout(now, interval);
        self.timers.set(Timer::Persist, now + interval);
    }

    /// After new data went out: remember whether the window limited the
    /// sender, and the most it had outstanding, for the ACKs of this
    /// window of data (Linux's `tcp_cwnd_validate()`; RFC 7661 §4.3 asks
    /// that a window the sender did not use not grow). A window filled
    /// once counts as used until its data is acknowledged, so ACKs that
    /// arrive as the flight drains still grow it.
    fn note_cwnd_use(&mut self) {
        let limited = self.pipe() + self.seg.mss > self.cwnd();
        let out = self.snd.outstanding();
        let u = self.cwnd_use;
        if self.snd.una() >= u.until() || limited || (!u.limited() && out > u.max_out()) {
            self.cwnd_use = super::tcb::CwndUse::new(self.snd.nxt(), out, limited);
        }
    }

    /// RFC 5681 §4.1: no data sent for longer than the RTO — the window
    /// restarts from at most the initial window (RFC 6928's). As Linux's
    /// tcp_cwnd_restart(): ssthresh is raised to ¾ of the window if below,
    /// and the window halved once for each RTO of the idle time, down to
    /// the restart window (RFC 2861's decay, gentler than the RFC's cut
    /// for short pauses). Nothing changes for a window already that small.
    fn restart_after_idle(&mut self, now: Instant) {
        let rto = self.rtt.rto().as_millis().max(1) as u32;
        let Some(idle) = self.last_send_ms.since(now).filter(|&t| t > rto) else {
            return;
        };
        let cwnd = self.cc.cwnd();
        let restart = super::congestion::initial_window(self.seg.mss).min(cwnd);
        if cwnd <= restart {
            return;
        }
        let ssthresh = self.cc.ssthresh().max(cwnd / 2 + cwnd / 4);
        let (mut w, mut left) = (cwnd, idle);
        while left > rto && w > restart {
            left -= rto;
            w /= 2;
        }
        self.cc.on_idle_restart(w.max(restart), ssthresh);
        // Once per pause: if the windows hold the data back still, the
        // next look does not halve again for the same idle time.
        self.last_send_ms = OptMillis::at(now);
    }

    /// Bookkeeping for a segment that goes out.
    fn sent(&mut self, now: Instant, plan: &Plan, kind: Kind) {
        let len = plan.data_len + usize::from(plan.flags.syn()) + usize::from(plan.flags.fin());
        if len > 0 {
            // The TSval `add_options` will put on it: the same clock, now.
            let tsval = self.ts.clock(now);
            let before = self.pipe();
            let lost = self.snd.queue().lost_total();
            let outstanding = self.snd.outstanding();
            let snap = self.rate.on_send(now, outstanding, before + len, lost);
            let end = plan.seq + len;
            if matches!(kind, Kind::New) && plan.data_len > 0 && plan.data_len < self.data_mss() {
                self.snd_sml = end;
            }
            match kind {
                Kind::New => {
                    self.snd.sent_new(plan.seq, end, now, tsval, snap);
                    self.note_cwnd_use();
                    if plan.data_len > 0 {
                        let last = self.last_data_ms;
                        self.rcv.data_sent(last, now, self.shared.delayed_ack);
                    }
                }
                Kind::Repair(i) => {
                    self.rec.rto_head = false;
                    // Bytes only a zero-window probe carried so far are
                    // not sent again in the sense of loss (Linux's probe
                    // carries none): no retransmission counted.
                    let probe = self.snd.queue().get(i).is_some_and(|r| r.probe);
                    if probe {
                        self.snd.queue_mut().resent_probe(i, now, tsval, snap);
                    } else {
                        self.snd.queue_mut().retransmitted(i, now, tsval, snap);
                        self.counters.retrans_segs = self.counters.retrans_segs.wrapping_add(1);
                    }
                    // Linux's TCPFastRetrans: a repair outside the loss
                    // state — not a handshake's SYN or <SYN,ACK> sent again
                    // on its timer (TCPSynRetrans there), not a tail loss
                    // probe (TCPLossProbes), not a probe's byte.
                    if self.rec.state != super::recovery::CaState::Loss
                        && !plan.flags.syn()
                        && !probe
                        && !self.tlp.sending
                    {
                        self.counters.fast_retrans = self.counters.fast_retrans.wrapping_add(1);
                    }
                    // New data filled the rest of the segment: sent once,
                    // not again.
                    let mut again = plan.data_len;
                    if end > self.snd.nxt() {
                        let nxt = self.snd.nxt();
                        again -= self.snd.data_in(nxt, end).1;
                        if probe && i + 1 == self.snd.queue().len() {
                            self.snd.probe_grew(end);
                        } else {
                            self.snd.sent_new(nxt, end, now, tsval, snap);
                        }
                    }
                    if again > 0 && probe {
                        // Sent again, but as a probe's byte (tcpi_bytes_sent
                        // counts it; tcpi_bytes_retrans does not).
                        self.rec.episode_mut().probe_bytes += again as u64;
                    } else if again > 0 {
                        self.rec.episode_mut().bytes_retrans += again as u64;
                    }
                    if self.rec.in_recovery() && !probe {
                        let undo = &mut self.rec.episode_mut().undo;
                        undo.retrans = undo.retrans.saturating_add(1);
                        undo.stamp.get_or_insert(tsval);
                        if end > undo.high {
                            undo.high = end;
                        }
                        if end > self.rec.high_rxt {
                            self.rec.high_rxt = end;
                        }
                    }
                }
                // A window probe is not a retransmission (Linux counts it
                // as TCPWinProbe, FreeBSD as a probe, neither as a
                // retransmitted segment: `on_persist_timeout` counts it).
                Kind::Probe => {
                    // (The timeout's resend went as this probe.)
                    self.rec.rto_head = false;
                    self.snd.queue_mut().resent_first(now, tsval);
                    if plan.data_len > 0 {
                        self.rec.episode_mut().probe_bytes += plan.data_len as u64;
                    }
                }
            }
            if plan.data_len > 0 {
                self.counters.data_segs_out = self.counters.data_segs_out.wrapping_add(1);
            }
            if self.rec.state == super::recovery::CaState::Recovery {
                self.rec.episode_mut().prr.out += len;
            }
            self.cc.on_sent(now, len, before);
            if plan.data_len > 0 {
                self.last_send_ms = OptMillis::at(now);
                if let Some(rate) = self.cc.pacing_rate().filter(|r| *r > 0) {
                    self.pace_next = self.pace_next.max(now) + pace_time(len, rate);
                }
            }
            // Data held back (Nagle, SWS, a cork) with nothing in flight
            // had the persist timer armed; once it goes into an open
            // window it is timed by the retransmission timer, like any.
            if kind == Kind::New && self.snd.wnd() > 0 && self.timers.is_set(Timer::Persist) {
                self.timers.stop(Timer::Persist);
                self.persist.backoff = 0;
            }
            // A push lasts until what was queued has gone, by whatever
            // path it went.
            if self.snd.unsent() == 0 {
                self.nagle.set_push(false);
            }
            // RFC 6298 §5.1: start the timer if it is not running — but a
            // window probe is timed by the persist timer instead.
            let probing = self.timers.is_set(Timer::Persist) || kind == Kind::Probe;
            if !probing && !self.timers.is_set(Timer::Retransmit) {
                self.restart_rto(now);
            }
            if kind == Kind::New && self.tlp.end.is_none() {
                self.arm_loss_probe(now);
            }
        }
        if plan.flags.ack() {
            self.after_ack_sent();
        }
        // Linux's <SYN,ACK> of a passive open goes out from the request
        // socket, not the connection: tcpi_segs_out leaves it out.
        let passive_synack = plan.flags.syn()
            && matches!(
                self.phase,
                Phase::SynReceived {
                    opening: Opening::Passive,
                    ..
                }
            );
        if !passive_synack {
            self.counters.segs_out = self.counters.segs_out.wrapping_add(1);
        }
    }

    fn after_ack_sent(&mut self) {
        self.rcv.acked();
        self.challenge_due = false;
        self.timers.stop(Timer::DelayedAck);
    }

    /// A timer may have expired.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>) -> TimerOutcome {
        let now = ctx.now;
        let mut out = TimerOutcome::default();
        if self.phase.deadline().is_some_and(|d| d <= now) {
            // 2 MSL in TIME-WAIT; or an orphan's FIN-WAIT-2 timeout.
            if matches!(self.phase, Phase::TimeWait { .. }) {
                self.note_timer(Timer::TimeWait);
            }
            self.enter_closed(ctx.now);
            out.closed = true;
            return out;
        }
        if self.fired(Timer::LossProbe, now) {
            self.on_loss_probe_timeout(now);
        }
        if self.tlp.due
            && self.timers.get(Timer::Retransmit).is_some_and(|d| d <= now)
            && !self.probe_in_place_times_out(now)
        {
            // RFC 8985 §7.2: the probe, capped at the RTO's deadline, goes
            // in the timeout's place (backing nothing off); `loss_probe`
            // arms the RTO again as it sends.
            self.timers.stop(Timer::Retransmit);
        }
        if self.fired(Timer::Retransmit, now) {
            // The timeout runs: no probe beside it.
            self.tlp.due = false;
            self.on_retransmission_timeout(ctx, &mut out);
            if out.closed {
                return out;
            }
        }
        if self.fired(Timer::DelayedAck, now) && self.rcv.delayed_ack_expired() {
            ctx.stats.delayed_acks += 1;
        }
        if self.fired(Timer::Persist, now) {
            self.on_persist_timeout(ctx, &mut out);
            if out.closed {
                return out;
            }
        }
        if self.fired(Timer::KeepAlive, now) {
            self.on_keepalive_timeout(ctx, &mut out);
        }
        if self.fired(Timer::Reorder, now) {
            self.on_reorder_timeout(ctx);
        }
        // The pacing deadline only says "look again": the table does.
        self.timers.expired(Timer::Pacing, now);
        out
    }

    /// RFC 6298 §5.4–5.6 and RFC 9293 §3.8.3's R2 limit.
    fn on_retransmission_timeout(&mut self, ctx: &mut Ctx<'_>, out: &mut TimerOutcome) {
        if self.snd.outstanding() == 0 {
            return;
        }
        self.retries = self.retries.saturating_add(1);
        self.stamp_stall(ctx.now);
        let limit = match self.phase {
            Phase::SynSent
            | Phase::SynReceived {
                opening: Opening::Active,
                ..
            } => ctx.config.syn_retries,
            Phase::SynReceived { .. } => ctx.config.synack_retries,
            _ if self.orphaned() => ctx.config.data_retries.min(ctx.config.orphan_retries),
            _ => ctx.config.data_retries,
        };
        let too_long = self.connect_time_left(ctx.now).is_some_and(|t| t.is_zero());
        // A user timeout replaces the count (RFC 5482 §3, Linux's
        // retransmits_timed_out()).
        // (`retries` saturates at u16::MAX: a larger limit is that.)
        let given_up = self
            .user_timed_out(ctx.now)
            .unwrap_or(u32::from(self.retries) > limit.min(u32::from(u16::MAX) - 1));
        if given_up || too_long {
            // Give up: report the last ICMP soft error if there was one
            // (RFC 5927 §4.1; "No route to host" rather than a timeout).
            self.fail(self.soft_error.unwrap_or(SocketError::TimedOut));
            if !self.state().synchronized() {
                ctx.stats.attempt_fails += 1;
            }
            if self.parent().is_some() {
                ctx.stats.embryonic_timeouts += 1;
            }
            self.enter_closed(ctx.now);
            out.closed = true;
            out.notify = true;
            return;
        }
        ctx.stats.timeouts += 1;
        // The first timeout of a series is also filed by the state it
        // struck in, as Linux's tcp_retransmit_timer files it (every one
        // counts as TCPTimeouts).
        if self.retries == 1 {
            let sack = self.neg.sack;
            let s = &mut *ctx.stats;
            let bucket = match self.rec.state {
                super::recovery::CaState::Recovery if sack => Some(&mut s.rto_sack_recovery),
                super::recovery::CaState::Recovery => Some(&mut s.rto_reno_recovery),
                super::recovery::CaState::Loss => Some(&mut s.rto_loss),
                super::recovery::CaState::Disorder if sack => Some(&mut s.rto_sack_disorder),
                super::recovery::CaState::Disorder => Some(&mut s.rto_reno_disorder),
                _ if self.snd.queue().sacked_records() > 0 => Some(&mut s.rto_sack_disorder),
                _ => None,
            };
            if let Some(n) = bucket {
                *n += 1;
            }
        }
        if !self.state().synchronized() {
            self.syn_timeouts = self.syn_timeouts.saturating_add(1);
        }
        self.rtt.back_off(&self.shared.rtt);
        if self.state().synchronized() {
            // RFC 5681 §3.1: ssthresh is cut only at the first timeout of
            // a segment; cwnd falls to one segment.
            self.enter_loss(ctx, self.retries == 1);
            self.rec.rto_head = true;
        } else {
            // The SYN (or <SYN,ACK>) goes again (from the third timeout on
            // perhaps with the MSS option alone: `bare_syn`).
            self.snd.queue_mut().mark_all_lost();
            self.rec.force = false;
        }
        self.restart_rto(ctx.now);
    }

    /// A probe is about to go in the place of a retransmission timeout
    /// (§7.2): for the user timeout it is that timeout — the stall is
    /// stamped as `on_retransmission_timeout` stamps it. True if the user
    /// timeout has then run out (the timeout runs instead, and gives up).
    fn probe_in_place_times_out(&mut self, now: Instant) -> bool {
        if self.opts.user_timeout_ms().is_none() {
            return false;
        }
        self.stamp_stall(now);
        self.user_timed_out(now).unwrap_or(false)
    }

    /// At the first retransmission timeout (or a probe in its place), the
    /// stall starts: the user timeout counts from when the oldest
    /// unacknowledged segment (or the SYN) was last sent before it — its
    /// first transmission, unless fast recovery or a loss probe had
    /// already resent it.
    fn stamp_stall(&mut self, now: Instant) {
        if !self.stalled_ms.is_some() {
            let sent = self.snd.queue().front().map_or(now, |r| r.sent);
            self.stalled_ms = OptMillis::at(sent);
        }
    }

    /// Whether the stall has lasted the user timeout; `None` when the
    /// socket set none (the retry counts decide).
    fn user_timed_out(&self, now: Instant) -> Option<bool> {
        let ut = self.opts.user_timeout_ms()?;
        Some(self.stalled_ms.since(now).is_some_and(|t| t >= ut))
    }

    /// The persist timer: probe a zero window (RFC 9293 §3.8.6.1), or
    /// send data held back for SWS avoidance (RFC 1122 §4.2.3.4). The
    /// connection is given up only if the peer stops answering: every
    /// acceptable ACK resets the count (RFC 1122 §4.2.2.17).
    fn on_persist_timeout(&mut self, ctx: &mut Ctx<'_>, out: &mut TimerOutcome) {
        let held = self.snd.unsent() > 0 || self.snd.outstanding() > 0;
        if !held {
            return;
        }
        // An orphan is probed a bounded number of times, answered or not.
        if self.orphaned() && self.persist.backoff >= ctx.config.orphan_retries {
            self.enter_closed(ctx.now);
            out.closed = true;
            return;
        }
        if self.snd.outstanding() > 0 || self.snd.wnd() == 0 {
            self.persist.unanswered += 1;
            if !self.stalled_ms.is_some() {
                self.stalled_ms = OptMillis::at(ctx.now);
            }
            let given_up = self
                .user_timed_out(ctx.now)
                .unwrap_or(self.persist.unanswered > ctx.config.data_retries);
            if given_up {
                self.fail(self.soft_error.unwrap_or(SocketError::TimedOut));
                self.enter_closed(ctx.now);
                out.closed = true;
                out.notify = true;
                return;
            }
        }
        self.persist.due = true;
        if self.snd.wnd() == 0 {
            ctx.stats.win_probes += 1;
        }
        self.persist.backoff = self.persist.backoff.saturating_add(1);
        if self.snd.wnd() == 0 || self.snd.outstanding() > 0 {
            self.arm_persist(ctx.now);
        }
    }

    /// Keep-alive (RFC 9293 §3.8.4): probe an idle connection, give up
    /// after the configured number of unanswered probes.
    fn on_keepalive_timeout(&mut self, ctx: &mut Ctx<'_>, out: &mut TimerOutcome) {
        if !self.keepalive.on || !self.state().synchronized() {
            return;
        }
        let now = ctx.now;
        let idle_time = self.opts.keepalive_time(ctx.config);
        let busy = self.snd.outstanding() > 0 || self.snd.unsent() > 0;
        let idle = now.saturating_since(self.last_recv);
        if busy {
            // Data is moving (or being retried): not idle.
            self.timers.set(Timer::KeepAlive, now + idle_time);
            return;
        }
        if idle < idle_time {
            // Look again one idle time after the last segment.
            self.timers
                .set(Timer::KeepAlive, self.last_recv + idle_time);
            return;
        }
        // With a user timeout, keep-alive gives up when the peer has been
        // silent that long and at least one probe went unanswered (as
        // Linux's tcp_keepalive_timer()); otherwise after the count.
        let given_up = match self.opts.user_timeout_ms() {
            Some(ut) => self.keepalive.probes > 0 && idle.as_millis() >= u128::from(ut),
            None => self.keepalive.probes >= self.opts.keepalive_probes(ctx.config),
        };
        if given_up {
            // The peer may be back (a rebooted middlebox dropped the
            // probes): tell it the connection is gone, as Linux
            // (tcp_keepalive_timer) and FreeBSD (tcp_drop) do.
            out.reset = Some(self.active_reset(now));
            self.fail(SocketError::TimedOut);
            self.enter_closed(ctx.now);
            out.closed = true;
            out.notify = true;
            return;
        }
        self.keepalive.probes += 1;
        self.keepalive.due = true;
        self.timers.set(
            Timer::KeepAlive,
            now + self.opts.keepalive_interval(ctx.config),
        );
    }

    /// Whether reading opened the window enough to tell the peer now.
    pub(super) fn window_update_due(&self) -> bool {
        self.rcv.window_update_due(usize::from(self.seg.our_mss))
    }

    /// After a read, whether a delayed ACK goes now (Linux's
    /// tcp_cleanup_rbuf; `Receiver::ack_after_read`).
    pub(super) fn ack_after_read(&self) -> bool {
        self.rcv
            .ack_after_read(self.unacked_received(), usize::from(self.rcv_mss))
    }

    /// Sequence space received since the last ACK we sent (Linux's
    /// rcv_nxt − rcv_wup); none if the mark is not behind RCV.NXT.
    pub(super) fn unacked_received(&self) -> usize {
        usize::try_from(self.rcv.nxt().diff(self.ts.last_ack_sent)).unwrap_or(0)
    }
}
