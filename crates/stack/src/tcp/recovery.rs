//! Loss detection and recovery, on each acceptable ACK and on the loss
//! timers.
//!
//! - With SACK (RFC 2018): the scoreboard is updated from every block; a
//!   D-SACK (RFC 2883 §5) is recognised and never marks anything.
//! - What is lost: RACK (RFC 8985 §6) by time — a segment sent before one
//!   that was delivered, longer ago than the RTT plus a reordering window
//!   that adapts to D-SACKs; or, with RACK switched off, RFC 6675's IsLost
//!   (DupThresh SACKed segments above); without SACK, NewReno (RFC 6582):
//!   the third duplicate ACK marks the first segment, each partial ACK the
//!   next.
//! - Fast recovery (RFC 6675 §5): entered once per window when something
//!   is lost, left when the recovery point is acknowledged; the controller
//!   cuts the window once, and PRR (RFC 6937) spreads the cut over the
//!   ACKs of the recovery. What to send comes from NextSeg (RFC 6675 §4,
//!   in `output`): lost segments first, then new data, then (without
//!   RACK) segments below the highest SACK and one rescue retransmission.
//! - The tail loss probe (RFC 8985 §7) when the ACKs stop, before the RTO.
//! - Undo (RFC 3708 with D-SACK, RFC 3522's Eifel test with timestamps):
//!   a reduction proved spurious is given back.

use std::time::Duration;

use tcplab_wire::tcp::{self, SeqNumber};

use super::chrono::Limit;
use super::congestion::{AckEvent, Congestion, LostPacket};
use super::input::Ctx;
use super::rtx::Delivery;
use super::tcb::{ts_before, Connection};
use super::timers::Timer;
use crate::time::Instant;

/// The loss-recovery settings a connection keeps (from [`TcpConfig`]).
///
/// [`TcpConfig`]: super::config::TcpConfig
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossConfig {
    pub rack: bool,
    pub tlp: bool,
    pub dupthresh: u32,
    pub max_ack_delay: Duration,
    pub slack_us: u64,
}

impl LossConfig {
    pub fn from(config: &super::config::TcpConfig) -> LossConfig {
        LossConfig {
            rack: config.rack,
            tlp: config.tlp,
            dupthresh: config.dupthresh.max(1),
            max_ack_delay: config.max_ack_delay,
            slack_us: config.rack_timer_slack_us,
        }
    }
}

/// Where the sender stands with respect to loss (Linux's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaState {
    /// Nothing outstanding is thought lost.
    Open,
    /// SACKs or duplicate ACKs seen, nothing lost yet.
    Disorder,
    /// Fast recovery (RFC 6675 §5, RFC 6582).
    Recovery,
    /// After a retransmission timeout, until everything outstanding then
    /// is acknowledged (RFC 5681 §3.1, RFC 6675 §5.1).
    Loss,
}

impl CaState {
    pub fn name(self) -> &'static str {
        match self {
            CaState::Open => "open",
            CaState::Disorder => "disorder",
            CaState::Recovery => "recovery",
            CaState::Loss => "loss",
        }
    }
}

/// PRR's state (RFC 6937 §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prr {
    /// Bytes delivered and sent since recovery began.
    pub delivered: usize,
    pub out: usize,
    /// FlightSize when recovery began.
    pub recover_fs: usize,
    /// The window PRR allows after the last ACK: pipe + sndcnt.
    pub cwnd: usize,
}

/// What an undo needs (RFC 3708, RFC 3522).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undo {
    /// SND.UNA when the episode began; `None` once undone or impossible.
    pub marker: Option<SeqNumber>,
    /// Retransmissions of the episode not yet reported as duplicates.
    pub retrans: u32,
    /// The end of the highest retransmission of the episode: a D-SACK
    /// counts against `retrans` only inside `[marker, high)`.
    pub high: SeqNumber,
    /// The TSval of the episode's first retransmission.
    pub stamp: Option<u32>,
}

/// What a recovery or timeout episode keeps, and the payload bytes sent
/// again over the connection's life: only a connection that lost
/// something (or probed a closed window) has any, so they live here
/// rather than in every control block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Episode {
    pub prr: Prr,
    pub undo: Undo,
    /// Payload bytes retransmitted (Linux's tcpi_bytes_retrans).
    pub bytes_retrans: u64,
    /// Payload bytes window probes sent again (one a probe after the
    /// first): on the wire, so in `bytes_sent`, though not retransmissions.
    pub probe_bytes: u64,
    /// Payload bytes sent once, kept when the connection closed with data
    /// out or unsent (closing discards them, and the sequence numbers no
    /// longer tell).
    pub once_at_close: Option<u64>,
}

/// Before any episode.
static NO_EPISODE: Episode = Episode {
    prr: Prr {
        delivered: 0,
        out: 0,
        recover_fs: 0,
        cwnd: 0,
    },
    undo: Undo {
        marker: None,
        retrans: 0,
        high: SeqNumber(0),
        stamp: None,
    },
    bytes_retrans: 0,
    probe_bytes: 0,
    once_at_close: None,
};

/// Loss-recovery bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub state: CaState,
    /// Duplicate ACKs in a row (RFC 5681 §2; with SACK, RFC 6675 §2's
    /// definition: ACKs that SACK new data).
    pub dupacks: u32,
    /// The recovery (or timeout) episode lasts until this is acknowledged
    /// (RFC 6675's RecoveryPoint, RFC 6582's recover).
    pub until: Option<SeqNumber>,
    /// SND.NXT when the last recovery or timeout began (RFC 6582 §3.2
    /// step 1 keeps a second reduction out of the same window); forgotten
    /// once acknowledged, so the comparison cannot flip 2^31 bytes later.
    pub recover: Option<SeqNumber>,
    /// Send the next retransmission whatever the congestion window says
    /// (after a timeout; a repeated <SYN,ACK>).
    pub force: bool,
    /// A retransmission timeout struck and its own resend of the first
    /// unacknowledged segment has not gone yet. Linux sends that one from
    /// the timer (tcp_retransmit_timer) and files only the repairs after
    /// it as TCPSlowStartRetrans (tcp_xmit_retransmit_queue).
    pub rto_head: bool,
    /// RFC 6675's HighRxt and RescueRxt.
    pub high_rxt: SeqNumber,
    pub rescue_rxt: Option<SeqNumber>,
    /// PRR and undo state: made when the first recovery or timeout
    /// episode begins and kept (a late D-SACK may still undo, RFC 3708),
    /// so a connection that never lost anything carries 8 bytes for it,
    /// not 56 (issue 13's memory per idle endpoint).
    episode: Option<Box<Episode>>,
    /// Without SACK, bytes the duplicate ACKs say have left the network
    /// (one segment each): they leave the pipe, which is RFC 3042's
    /// limited transmit and RFC 6582's window inflation at once.
    pub reno_sacked: usize,
    /// Partial ACKs in this NewReno recovery (RFC 6582 §4).
    pub partial_acks: u32,
}

impl Recovery {
    pub fn new() -> Recovery {
        Recovery {
            state: CaState::Open,
            dupacks: 0,
            until: None,
            recover: None,
            force: false,
            rto_head: false,
            high_rxt: SeqNumber(0),
            rescue_rxt: None,
            episode: None,
            reno_sacked: 0,
            partial_acks: 0,
        }
    }

    pub fn in_recovery(&self) -> bool {
        matches!(self.state, CaState::Recovery | CaState::Loss)
    }

    pub fn prr(&self) -> &Prr {
        &self.episode.as_deref().unwrap_or(&NO_EPISODE).prr
    }

    pub fn undo(&self) -> &Undo {
        &self.episode.as_deref().unwrap_or(&NO_EPISODE).undo
    }

    /// Payload bytes retransmitted, and sent again by window probes.
    pub fn resent(&self) -> (u64, u64) {
        let e = self.episode.as_deref().unwrap_or(&NO_EPISODE);
        (e.bytes_retrans, e.probe_bytes)
    }

    /// Payload bytes sent once, as they stood when the connection closed
    /// (if it closed with data out or unsent).
    pub fn once_at_close(&self) -> Option<u64> {
        self.episode.as_deref().and_then(|e| e.once_at_close)
    }

    #[cfg(test)]
    pub fn has_episode(&self) -> bool {
        self.episode.is_some()
    }

    /// The episode's state, made on first use.
    pub fn episode_mut(&mut self) -> &mut Episode {
        self.episode.get_or_insert_with(Box::default)
    }

    /// No undo any more (TIME-WAIT: nothing will be sent again, so there is
    /// no window to restore; Linux's TIME-WAIT socket keeps none either).
    pub fn forget_undo(&mut self) {
        if let Some(e) = &mut self.episode {
            e.undo = Undo::default();
        }
    }
}

/// RACK's state (RFC 8985 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rack {
    /// The most recently sent segment known delivered: its send time,
    /// send order (`Sent::order`) and end; `valid` once there is one.
    pub xmit: Instant,
    pub order: u32,
    pub end: SeqNumber,
    pub valid: bool,
    /// The RTT of that segment, in microseconds (the clock's unit; held
    /// to 71 minutes, far past any timer it sets).
    pub rtt_us: u32,
    /// The highest end delivered (forward ACK), and how far below it a
    /// segment sent once was ever delivered, in segments (Linux's
    /// `tp->reordering`, as `TCP_INFO` reports it; capped at 255): zero
    /// while no reordering was seen (RFC 8985's RACK.reordering_seen).
    pub fack: Option<SeqNumber>,
    pub reordering: u8,
    /// The reordering window's multiplier, the recoveries it persists
    /// for, and SND.NXT when a D-SACK last grew it.
    /// (`u8`s: the multiplier saturates at 255, and §6.2's window is
    /// capped at SRTT long before that; the persistence counts down from
    /// 16.)
    pub reo_wnd_mult: u8,
    pub reo_wnd_persist: u8,
    pub dsack_round: Option<SeqNumber>,
}

impl Rack {
    pub fn new() -> Rack {
        Rack {
            xmit: Instant::ZERO,
            order: 0,
            end: SeqNumber(0),
            valid: false,
            rtt_us: 0,
            fack: None,
            reordering: 0,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
        }
    }
}

impl Rack {
    /// RACK.rtt.
    pub fn rtt(&self) -> Duration {
        Duration::from_micros(u64::from(self.rtt_us))
    }
}

/// The tail loss probe (RFC 8985 §7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tlp {
    /// SND.NXT when the outstanding probe was sent, and whether it was a
    /// retransmission.
    pub end: Option<SeqNumber>,
    pub retrans: bool,
    /// An RTT sample arrived since the last probe (§7.3 condition 2).
    pub sampled: bool,
    /// The probe timer fired: send a probe now.
    pub due: bool,
    /// The probe is being sent this moment (a repair that is a probe, not
    /// a fast retransmission).
    pub sending: bool,
}

/// What the SACK option of one ACK said.
#[derive(Debug, Clone, Copy, Default)]
struct SackInfo {
    /// It carried a D-SACK block (RFC 2883 §5), and whether that block
    /// covered the outstanding TLP retransmission.
    dsack: bool,
    dsack_covers_probe: bool,
}

impl Connection {
    /// Bytes believed in flight: RFC 6675's pipe, less what duplicate ACKs
    /// say has left without SACK.
    pub(super) fn pipe(&self) -> usize {
        self.snd.queue().pipe().saturating_sub(self.rec.reno_sacked)
    }

    /// The congestion window in force: PRR's during fast recovery, the
    /// controller's otherwise.
    pub(super) fn cwnd(&self) -> usize {
        if self.rec.state == CaState::Recovery && self.cc.uses_prr() {
            self.rec.prr().cwnd
        } else {
            self.cc.cwnd()
        }
    }

    /// The windowed minimum RTT (RFC 8985 §5.2's RACK.min_RTT).
    pub(super) fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
            .get()
            .map(|us| Duration::from_micros(u64::from(us)))
    }

    /// The echo of a segment, for RTT and undo decisions.
    fn tsecr(&self, seg: &tcp::Repr<'_>) -> Option<u32> {
        seg.timestamp
            .filter(|t| self.neg.ts && seg.flags.ack() && t.tsecr != 0)
            .map(|t| t.tsecr)
    }

    /// The ACK processing of the fifth step (RFC 9293 §3.10.7.4) once the
    /// ACK is acceptable: scoreboard, RTT, loss detection, recovery,
    /// congestion control. Returns whether new data was acknowledged.
    pub(super) fn process_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'_>,
        old_wnd: u32,
    ) -> bool {
        let now = ctx.now;
        let ack = seg.ack_number;
        let prior_una = self.snd.una();
        if self.nothing_to_learn(seg) {
            count_quiet_ack();
            self.quiet_ack();
            return false;
        }
        let prior_in_flight = self.pipe();
        let cwnd_limited = self.cwnd_limited(prior_in_flight);
        self.check_app_limited();
        let tsecr = self.tsecr(seg);
        // Before any RTT sample no retransmission's delivery is trusted
        // (Linux's rtt_min starts at its maximum).
        let mut d = Delivery::new(now, tsecr, self.min_rtt().unwrap_or(Duration::MAX));
        let advanced = ack > prior_una;
        if advanced {
            // The timeout's resend, if it never went, is no longer owed.
            self.rec.rto_head = false;
        }
        let (acked, rtt) = if advanced {
            self.take_ack(ctx, seg, &mut d)
        } else {
            (0, None)
        };
        let sacks = if self.neg.sack {
            self.take_sacks(ctx, seg, &mut d)
        } else {
            SackInfo::default()
        };
        // Duplicate ACKs: RFC 5681 §2 without SACK; RFC 6675 §2 with it.
        let dup = !advanced
            && if self.neg.sack {
                d.bytes > 0
            } else {
                self.is_classic_dupack(seg, old_wnd)
            };
        // Without SACK, the duplicate ACKs before this one each stood for a
        // segment delivered (RFC 6937 §3's DeliveredData for a sender
        // without SACK); this ACK reports only the rest — but at least the
        // segment that filled the hole, as Linux's tcp_remove_reno_sacks
        // counts it.
        let mut credited = 0;
        if advanced {
            self.rec.dupacks = 0;
            credited = self.rec.reno_sacked.min(acked.saturating_sub(self.seg.mss));
            self.rec.reno_sacked = self.rec.reno_sacked.saturating_sub(acked);
        } else if dup {
            self.rec.dupacks = self.rec.dupacks.saturating_add(1);
            if !self.neg.sack {
                // Never more than what the queue thinks is in the network
                // (lost segments are not), less one segment.
                let cap = self.snd.queue().pipe().saturating_sub(self.seg.mss);
                self.rec.reno_sacked = (self.rec.reno_sacked + self.seg.mss).min(cap);
            }
        } else if !self.neg.sack && ack >= prior_una {
            // A window update or data from the peer ends a run of
            // duplicates; an old ACK (below SND.UNA, reordered) is ignored
            // either way, as Linux's tcp_ack does with it.
            self.rec.dupacks = 0;
        }
        let rtx_tsval = d.oldest_rtx_tsval;
        self.check_undo(ctx, &sacks, tsecr, rtx_tsval, ack);
        // The episode ends when its recovery point is acknowledged.
        let ended = advanced && self.rec.until.is_some_and(|u| ack >= u);
        if ended {
            self.end_episode(ctx);
        } else if advanced && self.rec.state == CaState::Recovery && !self.neg.sack {
            // RFC 6582 §3.2 step 5: a partial ACK: the next hole is lost
            // and goes at once.
            if self.snd.queue_mut().mark_first_lost() {
                self.rec.force = true;
            }
        }
        // Loss detection.
        let mut detected = false;
        if self.neg.sack && self.shared.loss.rack {
            self.rack_update(&d, sacks.dsack);
            detected |= self.rack_detect_loss(ctx) > 0;
        } else if self.neg.sack {
            let (thresh, mss) = (self.shared.loss.dupthresh as usize, self.seg.mss);
            let high_rxt = self.rec.high_rxt;
            detected |= self
                .snd
                .queue_mut()
                .mark_lost_by_sacks(thresh, mss, high_rxt)
                > 0;
        }
        if matches!(self.rec.state, CaState::Open | CaState::Disorder)
            && self.rec.dupacks >= self.shared.loss.dupthresh
            && (self.neg.sack && !self.shared.loss.rack
                || !self.neg.sack && self.rec.recover.is_none_or(|r| self.snd.una() > r))
        {
            // RFC 5681 §3.2 / RFC 6675 §5 step 1: DupThresh duplicates.
            detected |= self.snd.queue_mut().mark_first_lost();
        }
        let lost = self.report_losses(now);
        if matches!(self.rec.state, CaState::Open | CaState::Disorder) {
            if detected {
                self.enter_recovery(ctx);
            } else {
                self.rec.state = if self.snd.queue().sacked_records() > 0 || self.rec.dupacks > 0 {
                    CaState::Disorder
                } else {
                    CaState::Open
                };
            }
        }
        if self.rec.state == CaState::Recovery {
            let delivered = d.bytes
                + if dup && !self.neg.sack {
                    self.seg.mss
                } else {
                    0
                };
            self.prr_on_ack(delivered, advanced && lost == 0);
        }
        self.tlp_on_ack(ctx, seg, &sacks, advanced);
        if self.rec.recover.is_some_and(|r| self.snd.una() > r) {
            self.rec.recover = None;
        }
        // The rate sample and the controller.
        let rate = self
            .rate
            .on_ack(now, &d, self.min_rtt(), self.snd.queue().lost_total());
        // The window grows with what an ACK that advances SND.UNA reports;
        // once reordering beyond DupThresh was seen, with what any ACK
        // reports, SACK-only ones too (Linux's tcp_may_raise_cwnd: an
        // out-of-order delivery is then no hint of loss).
        let newly_reported =
            if advanced || u32::from(self.rack.reordering) > self.shared.loss.dupthresh {
                d.bytes.saturating_sub(credited)
            } else {
                0
            };
        if d.bytes > 0 || acked > 0 || lost > 0 {
            let event = AckEvent {
                now,
                acked,
                delivered: d.bytes,
                newly_reported,
                lost,
                rtt,
                srtt: self.rtt.srtt(),
                min_rtt: self.min_rtt(),
                prior_in_flight,
                in_flight: self.pipe(),
                cwnd_limited,
                // The ACK that ends recovery leaves the window where
                // recovery set it (RFC 6937 §3: cwnd = ssthresh at the
                // end); growth resumes with the next.
                in_recovery: self.rec.state == CaState::Recovery || ended,
                rate,
                smss: self.seg.mss,
            };
            self.cc.on_ack(&event);
        }
        if advanced {
            // Everything delivered: no clock runs. Room for the waiting
            // application: the send buffer no longer limits (Linux's
            // tcp_check_space).
            let idle = self.snd.outstanding() == 0 && self.snd.unsent() == 0;
            if idle {
                self.chrono.stop(Limit::Busy, true, now);
            }
            if self.chrono.nospace() && self.send_room() > 0 {
                self.chrono.set_nospace(false);
                self.chrono.stop(Limit::Sndbuf, idle, now);
            }
            self.persist.backoff = 0;
            // RFC 6298 §5.2/5.3 — but in NewReno's recovery only the first
            // partial ACK restarts the timer (RFC 6582 §3.2 step 5, the
            // "Impatient" variant of §4): a window of holes is not
            // repaired one round trip each for ever, the timer ends it.
            let partial = !self.neg.sack && self.rec.state == CaState::Recovery;
            if partial {
                self.rec.partial_acks = self.rec.partial_acks.saturating_add(1);
            }
            if self.snd.outstanding() == 0 {
                self.timers.stop(Timer::Retransmit);
            } else if !(self.timers.is_set(Timer::Persist) || partial && self.rec.partial_acks > 1)
            {
                self.restart_rto(now);
            }
        }
        self.arm_loss_probe(now);
        advanced
    }

    /// An ACK that can tell the sender nothing: it acknowledges nothing
    /// new while nothing is in flight, carries no SACK block, and finds
    /// no episode open — what every segment to an end that only receives
    /// looks like. The general path below would deliver nothing, detect
    /// nothing and change no recovery state for it; [`Self::quiet_ack`]
    /// does the little it would do (a randomized test runs both).
    fn nothing_to_learn(&self, seg: &tcp::Repr<'_>) -> bool {
        let una = self.snd.una();
        seg.ack_number == una
            && self.snd.nxt() == una
            && seg.sack_ranges[0].is_none()
            && self.rec.state == CaState::Open
            && self.rec.dupacks == 0
            && self.tlp.end.is_none()
            && self.snd.queue().lost_log().is_empty()
            && !general_path_forced()
    }

    /// What [`Self::process_ack`] does for an ACK [`Self::nothing_to_learn`]
    /// accepts: the application-limited mark, the end of a D-SACK round
    /// and of a recovery point SND.UNA has passed, and no reordering or
    /// loss-probe timer with nothing in flight.
    fn quiet_ack(&mut self) {
        let una = self.snd.una();
        self.check_app_limited();
        if self.neg.sack && self.shared.loss.rack {
            // RFC 8985 §6.2 step 4.
            if self.rack.dsack_round.is_some_and(|r| una >= r) {
                self.rack.dsack_round = None;
            }
            if self.rack.valid {
                self.timers.stop(Timer::Reorder);
            }
        }
        if self.rec.recover.is_some_and(|r| una > r) {
            self.rec.recover = None;
        }
        self.timers.stop(Timer::LossProbe);
    }

    /// RFC 5681 §2's duplicate ACK: no data, no SYN or FIN, the window
    /// unchanged, something outstanding, and the acknowledgment number
    /// SND.UNA itself (condition (d): an older ACK, reordered on the way,
    /// is not one). An ACK answering a zero-window probe is not one either:
    /// the probe is not data in flight, and the window is closed (BSD does
    /// not count ACKs while persisting either).
    fn is_classic_dupack(&self, seg: &tcp::Repr<'_>, old_wnd: u32) -> bool {
        let wnd = u32::from(seg.window_len) << self.snd.wscale();
        seg.ack_number == self.snd.una()
            && seg.payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && wnd == old_wnd
            && wnd > 0
            && self.snd.outstanding() > 0
            && !self.timers.is_set(Timer::Persist)
    }

    /// The SACK blocks of an ACK (RFC 2018 §3): a first block below the
    /// ACK or inside the second is a D-SACK (RFC 2883 §5) and marks
    /// nothing; blocks outside SND.UNA .. SND.NXT are ignored.
    fn take_sacks(&mut self, ctx: &mut Ctx<'_>, seg: &tcp::Repr<'_>, d: &mut Delivery) -> SackInfo {
        let mut info = SackInfo::default();
        let blocks: Vec<(SeqNumber, SeqNumber)> = seg
            .sack_ranges
            .iter()
            .flatten()
            .map(|&(l, r)| (SeqNumber(l), SeqNumber(r)))
            .collect();
        let Some(&(l0, r0)) = blocks.first() else {
            return info;
        };
        let ack = seg.ack_number;
        let inside_second = blocks.get(1).is_some_and(|&(l1, r1)| l1 <= l0 && r0 <= r1);
        let mut skip = 0;
        if l0 < r0 && (l0 < ack || inside_second) {
            info.dsack = true;
            skip = 1;
            ctx.stats.dsack_recv += 1;
            self.counters.dsack_dups = self.counters.dsack_dups.wrapping_add(1);
            if let Some(end) = self.tlp.end.filter(|_| self.tlp.retrans) {
                info.dsack_covers_probe = l0 < end && end <= r0;
            }
            // RFC 3708 §2: a duplicate of a retransmission of this episode
            // (all of which lie in [marker, high)); not of the tail loss
            // probe, which is not counted, nor of an earlier episode's
            // retransmission below the marker.
            let undo = self.rec.undo();
            let episode = undo.marker.is_some_and(|m| m <= l0 && r0 <= undo.high);
            if undo.retrans > 0 && episode && !info.dsack_covers_probe {
                self.rec.episode_mut().undo.retrans -= 1;
            }
        }
        let (una, nxt) = (self.snd.una(), self.snd.nxt());
        // A block that ends at our FIN, which went out in one segment with
        // the data before it, covers the FIN too: the receiver holds that
        // segment whole. FreeBSD's receiver (and ours, as the FreeBSD
        // suite checks) reports only the data, Linux's the FIN as well;
        // read literally, the FIN alone would look unacknowledged and be
        // judged lost and sent again for nothing.
        let fin_end = self.snd.fin().filter(|&f| {
            self.snd
                .queue()
                .span_of(f)
                .is_some_and(|(start, _)| start < f)
        });
        // (A record holds at most a segment of this size.)
        let mss = self.seg.mss;
        for &(l, r) in &blocks[skip..] {
            let r = if fin_end == Some(r) { r + 1 } else { r };
            if l < r && una <= l && r <= nxt {
                self.snd.queue_mut().sack_by(l, r, mss, d);
            }
        }
        info
    }

    /// RFC 8985 §6.2 steps 2–4: the RACK segment and RTT, reordering, and
    /// the reordering window's multiplier.
    fn rack_update(&mut self, d: &Delivery, dsack: bool) {
        if let Some(r) = d.rack {
            let rtt = d.now.total_micros().saturating_sub(r.sent.total_micros());
            self.rack.rtt_us = u32::try_from(rtt).unwrap_or(u32::MAX);
            if !self.rack.valid
                || r.sent_after_parts(self.rack.xmit, self.rack.order, self.rack.end)
            {
                self.rack.xmit = r.sent;
                self.rack.order = r.order;
                self.rack.end = r.end;
                self.rack.valid = true;
            }
        }
        if let (Some(low), Some(fack)) = (d.lowest_once_end, self.rack.fack) {
            if low < fack {
                // How far out of order, in segments, from the delivered
                // segment's start (Linux's tcp_check_sack_reordering).
                let start = d.lowest_once_start.unwrap_or(low);
                let degree = fack.diff(start).max(0) as usize;
                let degree = degree.div_ceil(self.seg.mss.max(1)).min(255) as u8;
                self.rack.reordering = self.rack.reordering.max(degree).max(1);
                self.counters.reord_seen = self.counters.reord_seen.wrapping_add(1);
            }
        }
        if let Some(high) = d.highest_end {
            if self.rack.fack.is_none_or(|f| high > f) {
                self.rack.fack = Some(high);
            }
        }
        // Step 4: one growth per round trip that sees a D-SACK.
        if self.rack.dsack_round.is_some_and(|r| self.snd.una() >= r) {
            self.rack.dsack_round = None;
        }
        if dsack && self.rack.dsack_round.is_none() {
            self.rack.dsack_round = Some(self.snd.nxt());
            self.rack.reo_wnd_mult = self.rack.reo_wnd_mult.saturating_add(1);
            self.rack.reo_wnd_persist = 16;
        }
    }

    /// RFC 8985 §6.2 step 4: the reordering window — none while no
    /// reordering was seen and DupThresh segments are SACKed or recovery
    /// is under way; else a quarter of the minimum RTT per multiple,
    /// bounded by SRTT.
    pub(super) fn reo_wnd(&self) -> Duration {
        let sacked = self.snd.queue().sacked_records();
        if self.rack.reordering == 0
            && (self.rec.in_recovery() || sacked >= self.shared.loss.dupthresh as usize)
        {
            return Duration::ZERO;
        }
        let quarter = self.min_rtt().unwrap_or_default() / 4;
        let wnd = quarter * u32::from(self.rack.reo_wnd_mult);
        match self.rtt.srtt() {
            Some(srtt) => wnd.min(srtt),
            None => wnd,
        }
    }

    /// RFC 8985 §6.2 step 5: mark lost what was sent before the RACK
    /// segment long enough ago; arm the reordering timer for the rest.
    /// Returns the bytes newly lost.
    pub(super) fn rack_detect_loss(&mut self, ctx: &mut Ctx<'_>) -> usize {
        if !self.rack.valid {
            return 0;
        }
        let wait = self.rack.rtt() + self.reo_wnd();
        let rack = (self.rack.xmit, self.rack.order, self.rack.end);
        let (lost, timeout) = self.snd.queue_mut().rack_detect(ctx.now, rack, wait);
        if lost > 0 {
            ctx.stats.rack_lost += 1;
        }
        match timeout {
            Some(t) => {
                // Linux's TCP_TIMEOUT_MIN: a timer finer than that only
                // costs wakeups.
                let t = t.max(Duration::from_micros(self.shared.loss.slack_us));
                self.timers.set(Timer::Reorder, ctx.now + t);
                self.timers.stop(Timer::LossProbe);
            }
            None => self.timers.stop(Timer::Reorder),
        }
        lost
    }

    /// Tell the controller and the rate sampler what was found lost;
    /// returns the bytes.
    pub(super) fn report_losses(&mut self, now: Instant) -> usize {
        let Connection { snd, cc, .. } = self;
        let queue = snd.queue_mut();
        let lost_total = queue.lost_total();
        if queue.lost_log().is_empty() {
            return 0;
        }
        let bytes: usize = queue.lost_log().iter().map(|r| r.len()).sum();
        // Each packet sees the losses counted up to and including itself,
        // as if reported one by one (BBR's InflightAtLoss needs that).
        let mut running = lost_total.saturating_sub(bytes as u64);
        queue.take_lost_log(|r| {
            running += r.len() as u64;
            cc.on_lost(
                now,
                &LostPacket {
                    bytes: r.len(),
                    tx_in_flight: r.rate.tx_in_flight,
                    lost_before: r.rate.lost,
                    lost_total: running,
                    app_limited: r.rate.app_limited,
                },
            );
        });
        bytes
    }

    /// RFC 6675 §5 step 4 (and RFC 6582 §3.2 step 2): fast recovery
    /// begins: the recovery point, one window reduction, PRR's start.
    fn enter_recovery(&mut self, ctx: &mut Ctx<'_>) {
        // RFC 5681 §3.1's FlightSize: sent and not cumulatively ACKed.
        let in_flight = self.snd.outstanding();
        let nxt = self.snd.nxt();
        self.rec.state = CaState::Recovery;
        self.rec.until = Some(nxt);
        self.rec.recover = Some(nxt);
        self.rec.high_rxt = self.snd.una();
        self.rec.rescue_rxt = None;
        self.rec.partial_acks = 0;
        self.rec.episode_mut().undo = Undo {
            marker: Some(self.snd.una()),
            retrans: 0,
            high: self.snd.una(),
            stamp: None,
        };
        let pipe = self.pipe();
        self.cc.on_congestion(
            ctx.now,
            Congestion::FastRetransmit,
            in_flight,
            pipe,
            self.seg.mss,
        );
        // RFC 6937 §3: RecoverFS is the flight when recovery begins.
        let cwnd = self.pipe();
        self.rec.episode_mut().prr = Prr {
            delivered: 0,
            out: 0,
            recover_fs: in_flight.max(1),
            cwnd,
        };
        self.tlp = Tlp {
            sampled: self.tlp.sampled,
            ..Tlp::default()
        };
        self.timers.stop(Timer::LossProbe);
        if self.neg.sack {
            ctx.stats.sack_recoveries += 1;
        } else {
            ctx.stats.reno_recoveries += 1;
        }
        // (Fast retransmits are counted per segment as they go:
        // `Counters::fast_retrans`.)
    }

    /// PRR (RFC 6937 §3, with RFC 9937's choice of bound): how much may be
    /// sent in answer to an ACK that delivered `delivered` bytes; `safe`:
    /// the ACK advanced SND.UNA and found nothing newly lost.
    fn prr_on_ack(&mut self, delivered: usize, safe: bool) {
        let mss = self.seg.mss;
        let pipe = self.pipe();
        let ssthresh = self.cc.ssthresh();
        let prr = &mut self.rec.episode_mut().prr;
        prr.delivered += delivered;
        let sndcnt = if delivered == 0 {
            0
        } else if pipe > ssthresh {
            // Proportional: send ssthresh/RecoverFS of what was delivered.
            let target =
                (prr.delivered as u128 * ssthresh as u128).div_ceil(prr.recover_fs as u128);
            (target as usize).saturating_sub(prr.out)
        } else {
            // Reduction bound: back up to ssthresh, no faster than
            // delivery (plus one segment on a safe ACK: slow start).
            let mut limit = prr.delivered.saturating_sub(prr.out).max(delivered);
            if safe {
                limit += mss;
            }
            (ssthresh - pipe).min(limit)
        };
        // The first ACK of a recovery always lets the retransmission out.
        let sndcnt = if prr.out == 0 && sndcnt < mss {
            mss
        } else {
            sndcnt
        };
        prr.cwnd = pipe + sndcnt;
    }

    /// The recovery or timeout episode's point was acknowledged.
    fn end_episode(&mut self, ctx: &mut Ctx<'_>) {
        let was = self.rec.state;
        self.rec.until = None;
        self.rec.force = false;
        self.rec.reno_sacked = 0;
        self.rec.state = CaState::Open;
        match was {
            CaState::Recovery => {
                let pipe = self.pipe();
                self.cc.on_recovery_end(ctx.now, pipe, self.seg.mss);
            }
            CaState::Loss => self.cc.on_loss_end(ctx.now),
            _ => {}
        }
        // RFC 8985 §6.2 step 4: the multiplier outlives 16 recoveries.
        if self.rack.reo_wnd_persist > 0 {
            self.rack.reo_wnd_persist -= 1;
            if self.rack.reo_wnd_persist == 0 {
                self.rack.reo_wnd_mult = 1;
            }
        }
    }

    /// Undo a reduction that proved spurious: every retransmission of the
    /// episode reported back as a duplicate (RFC 3708), or, with
    /// timestamps, an ACK of retransmitted data that echoes a TSval older
    /// than any of those retransmissions carried — the originals arrived
    /// (RFC 3522). `rtx_tsval`: the oldest TSval of the retransmissions
    /// this ACK acknowledged cumulatively.
    fn check_undo(
        &mut self,
        ctx: &mut Ctx<'_>,
        sacks: &SackInfo,
        tsecr: Option<u32>,
        rtx_tsval: Option<u32>,
        ack: SeqNumber,
    ) {
        let undo = *self.rec.undo();
        if undo.marker.is_none() || undo.stamp.is_none() {
            return;
        }
        let by_dsack = sacks.dsack && undo.retrans == 0;
        // In fast recovery, a partial ACK whose hole a late original filled
        // may undo the episode only if no retransmission is still out (as
        // Linux's tcp_try_undo_partial): another hole's retransmission may
        // be repairing a real loss. The ACK that ends the episode decides
        // (tcp_try_undo_recovery); after a timeout the first such ACK does
        // (RFC 3522's own case).
        let decides = match self.rec.state {
            CaState::Recovery => {
                self.rec.until.is_some_and(|u| ack >= u) || self.snd.queue().retrans_records() == 0
            }
            CaState::Loss => true,
            _ => false,
        };
        let by_ts = decides && matches!((tsecr, rtx_tsval), (Some(e), Some(r)) if ts_before(e, r));
        if !(by_dsack || by_ts) {
            return;
        }
        self.rec.episode_mut().undo = Undo::default();
        self.cc.on_spurious(ctx.now);
        ctx.stats.spurious_undos += 1;
        // (Linux files an undo after a timeout as TCPLossUndo whatever
        // proved it.)
        *if self.rec.state == CaState::Loss {
            &mut ctx.stats.loss_undos
        } else if by_dsack {
            &mut ctx.stats.dsack_undos
        } else {
            &mut ctx.stats.full_undos
        } += 1;
        if self.rec.in_recovery() {
            self.snd.queue_mut().unmark_lost();
            self.rec.until = None;
            self.rec.state = CaState::Open;
            self.rec.reno_sacked = 0;
            self.rec.force = false;
        }
        // Reordering, not loss: RACK waits longer from now on.
        self.rack.reordering = self.rack.reordering.max(1);
        self.counters.reord_seen = self.counters.reord_seen.wrapping_add(1);
    }

    /// RFC 8985 §7.4: what the ACK says about the outstanding probe.
    fn tlp_on_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &tcp::Repr<'_>,
        sacks: &SackInfo,
        advanced: bool,
    ) {
        let Some(end) = self.tlp.end else {
            return;
        };
        let ack = seg.ack_number;
        if ack < end {
            return;
        }
        if !self.tlp.retrans || sacks.dsack_covers_probe {
            // New data, or both copies arrived: no loss.
            self.tlp.end = None;
        } else if ack > end {
            // Only the probe repaired the tail: one reduction (§7.4.2).
            self.tlp.end = None;
            if !self.rec.in_recovery() {
                let in_flight = self.pipe();
                self.cc.on_congestion(
                    ctx.now,
                    Congestion::ProbeRepair,
                    in_flight,
                    in_flight,
                    self.seg.mss,
                );
                self.cc.on_recovery_end(ctx.now, in_flight, self.seg.mss);
            }
            ctx.stats.loss_probe_recoveries += 1;
        } else if !advanced && seg.sack_ranges.iter().all(Option::is_none) {
            // A duplicate ACK without SACK: the peer cannot tell us more.
            self.tlp.end = None;
        }
    }

    /// RFC 8985 §7.2: (re)arm the probe timeout after new data was sent
    /// or acknowledged, if the connection is in the open state: 2·SRTT,
    /// plus the peer's delayed-ACK budget when one segment is out, at most
    /// the RTO's expiry.
    pub(super) fn arm_loss_probe(&mut self, now: Instant) {
        // Only when the probe timer could send a probe (§7.3: none
        // outstanding, an RTT measured since the last): a timer that
        // would fire only to restart the RTO from then delays the RTO by
        // the PTO (Linux keeps the RTO's own deadline).
        let eligible = self.shared.loss.tlp
            && self.neg.sack
            && self.shared.loss.rack
            && self.rec.state == CaState::Open
            && self.tlp.end.is_none()
            && self.tlp.sampled
            && self.snd.outstanding() > 0
            && self.snd.queue().sacked_records() == 0
            // Any state with data or a FIN to deliver (RFC 8985 names
            // none; Linux probes a FIN too).
            && self.state().sends()
            && !self.timers.is_set(Timer::Persist)
            && !self.timers.is_set(Timer::Reorder);
        if !eligible {
            self.timers.stop(Timer::LossProbe);
            return;
        }
        let pto = match self.rtt.srtt() {
            Some(srtt) => {
                // One segment in flight, counted as Linux counts packets
                // (packets_out == 1): a FIN riding with the last data is
                // one segment; a bare FIN after a full one makes two.
                let one = self.snd.queue().len() <= 1;
                let extra = if one {
                    self.shared.loss.max_ack_delay
                } else {
                    Duration::from_micros(self.shared.loss.slack_us)
                };
                srtt * 2 + extra
            }
            None => Duration::from_secs(1),
        };
        let mut at = now + pto;
        if let Some(rto) = self.timers.get(Timer::Retransmit) {
            // §7.2 (TLP_calc_PTO): the probe comes no later than the RTO
            // would; at the RTO's deadline it goes in the timeout's place
            // (`on_timer`), and the RTO is armed again as it is sent.
            at = at.min(rto);
        }
        self.timers.set(Timer::LossProbe, at);
    }

    /// The probe timer fired (RFC 8985 §7.3): send a probe if none is
    /// outstanding and an RTT was measured since the last one — never
    /// while the peer's window is shut (the persist timer probes then).
    pub(super) fn on_loss_probe_timeout(&mut self, now: Instant) {
        if self.tlp.end.is_some()
            || !self.tlp.sampled
            || self.snd.outstanding() == 0
            || self.timers.is_set(Timer::Persist)
        {
            // No probe: the retransmission timer keeps its deadline (set
            // it only if none is running).
            if self.snd.outstanding() > 0
                && !self.timers.is_set(Timer::Retransmit)
                && !self.timers.is_set(Timer::Persist)
            {
                self.restart_rto(now);
            }
            return;
        }
        self.check_app_limited();
        self.tlp.due = true;
    }

    /// The reordering timer fired: look again (RFC 8985 §6.2, Linux's
    /// `tcp_rack_reo_timeout`); what is now lost starts a recovery.
    pub(super) fn on_reorder_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.check_app_limited();
        let lost = self.rack_detect_loss(ctx);
        self.report_losses(ctx.now);
        if lost > 0 && matches!(self.rec.state, CaState::Open | CaState::Disorder) {
            self.enter_recovery(ctx);
            self.prr_on_ack(0, false);
        }
        if self.rec.state == CaState::Recovery {
            // Let the first retransmission out (PRR's rule for the first
            // ACK of a recovery).
            let least = self.pipe() + self.seg.mss;
            let prr = &mut self.rec.episode_mut().prr;
            prr.cwnd = prr.cwnd.max(least);
        }
        if self.snd.outstanding() > 0 && !self.timers.is_set(Timer::Retransmit) {
            self.restart_rto(ctx.now);
        }
    }

    /// RFC 6298 §5.4–5.6 with RFC 8985 §6.3: a timeout episode begins:
    /// the first segment is lost, and every other one sent longer than an
    /// RTT ago (all of them without RACK); SACK marks survive unless the
    /// peer reneged.
    pub(super) fn enter_loss(&mut self, ctx: &mut Ctx<'_>, first_timeout: bool) {
        if first_timeout {
            let in_flight = self.snd.outstanding();
            let kind = if self.rec.state == CaState::Recovery {
                Congestion::TimeoutInRecovery
            } else {
                Congestion::Timeout
            };
            let pipe = self.pipe();
            self.cc
                .on_congestion(ctx.now, kind, in_flight, pipe, self.seg.mss);
        }
        if self.rec.state != CaState::Loss {
            self.rec.episode_mut().undo = Undo {
                marker: Some(self.snd.una()),
                retrans: 0,
                high: self.snd.una(),
                stamp: None,
            };
        }
        let nxt = self.snd.nxt();
        self.rec.state = CaState::Loss;
        self.rec.until = Some(nxt);
        self.rec.recover = Some(nxt);
        self.rec.dupacks = 0;
        self.rec.reno_sacked = 0;
        self.rec.force = false;
        self.rec.high_rxt = self.snd.una();
        self.tlp = Tlp::default();
        let age =
            (self.neg.sack && self.shared.loss.rack && self.rack.valid).then_some(self.rack.rtt());
        self.snd.queue_mut().mark_timeout(ctx.now, age);
        self.report_losses(ctx.now);
        self.timers.stop(Timer::Reorder);
        self.timers.stop(Timer::LossProbe);
    }

    /// draft-ietf-ccwg-bbr §4.1.2.4 at an ACK or a timer: is the
    /// application what limits the sender?
    /// Whether the window limited the sender, for the growth an ACK may
    /// bring (RFC 7661 §4.3; Linux's `tcp_is_cwnd_limited()`): the flight
    /// filled it now, or the data this ACK belongs to filled it when it
    /// was sent, or in slow start the window is below twice the most
    /// that was outstanding (so slow start may double what was used).
    fn cwnd_limited(&self, prior_in_flight: usize) -> bool {
        let cwnd = self.cwnd();
        let u = self.cwnd_use;
        prior_in_flight + self.seg.mss >= cwnd
            || u.limited()
            || cwnd < self.cc.ssthresh() && cwnd < 2 * u.max_out()
    }

    pub(super) fn check_app_limited(&mut self) {
        let (unsent, pipe, cwnd) = (self.snd.unsent(), self.pipe(), self.cwnd());
        let waiting = self.snd.queue().has_lost();
        self.rate.check_app_limited(unsent, pipe, cwnd, waiting);
    }
}

#[cfg(test)]
thread_local! {
    /// Tests set it to run every ACK through the general path, to compare.
    pub(super) static GENERAL_ACK_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// ACKs the shortcut took (so a test knows it ran).
    pub(super) static QUIET_ACKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
fn general_path_forced() -> bool {
    GENERAL_ACK_PATH.with(std::cell::Cell::get)
}

#[cfg(test)]
fn count_quiet_ack() {
    QUIET_ACKS.with(|n| n.set(n.get() + 1));
}

#[cfg(not(test))]
#[inline(always)]
fn count_quiet_ack() {}

#[cfg(not(test))]
#[inline(always)]
fn general_path_forced() -> bool {
    false
}
