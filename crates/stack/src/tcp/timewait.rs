//! What is kept of a connection in TIME-WAIT once nobody can use it any
//! more — the application closed it, its buffers went back to the pool,
//! it owes no segment — as Linux keeps an `inet_timewait_sock` in place
//! of the whole socket (issue 13: a busy client or an HTTP server that
//! closes first holds thousands of these for 2·MSL each).
//!
//! The record holds every part of the control block that TIME-WAIT reads
//! or writes — the send and receive sequence state (their rings hold no
//! storage, the retransmission queue is empty), TS.Recent and the
//! timestamp offset, the agreed options, the socket options, the rate
//! limit of answers to unacceptable segments, the counters and the RTT
//! estimate and the times since data last moved that `tcp_info` reports —
//! and none of what it does not: congestion
//! control, loss recovery (TIME-WAIT keeps no undo either way:
//! `Recovery::forget_undo`), RACK (with the degree of reordering),
//! delivery-rate sampling, the min-RTT filter, pacing, the sender
//! chronographs (idle in TIME-WAIT, but their totals go), keep-alive and
//! persist state (`tcp_info` of a record shows those as a new
//! connection's; Linux reports no `TCP_INFO` for a TIME-WAIT socket at
//! all). When a segment arrives for
//! it, or the application asks about its handle, the table rebuilds a
//! control block from the record ([`TimeWait::revive`]) with those parts
//! fresh, and the one code path every connection takes handles it (RFC
//! 9293 §3.10.7.4 in TIME-WAIT, RFC 7323 PAWS, RFC 5961 challenge ACKs, RFC
//! 1337, RFC 6191 reuse); once it is quiet again (its output drained) it
//! is put back ([`TimeWait::keep`]). A differential test
//! (`tests/timewait.rs`) feeds the same random segments to a stack that
//! keeps records and one that keeps whole control blocks and requires the
//! same bytes out.

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::compact::{OptInstant, OptMillis, Options};
use super::config::{CongestionAlgorithm, SocketOptions, TcpConfig};
use super::receiver::Receiver;
use super::rtt::RttEstimator;
use super::sender::Sender;
use super::state::Phase;
use super::tcb::{Connection, Counters, Nagle, Negotiated, Owner, Segmentation, Shared, TsState};
use crate::socket::SocketError;
use crate::time::Instant;

/// A connection in TIME-WAIT, reduced to what that state uses.
#[derive(Debug, Clone)]
pub struct TimeWait {
    pub(super) local: SocketAddrV4,
    pub(super) remote: SocketAddrV4,
    /// The end of the 2·MSL wait.
    pub(super) until: Instant,
    /// The wake-up filed in the table's timers (as `Connection::scheduled`).
    pub(super) scheduled: OptInstant,
    snd: Sender,
    rcv: Receiver,
    /// Kept for `tcp_info` (the last smoothed RTT and RTO of the
    /// connection), though nothing in TIME-WAIT reads it.
    rtt: RttEstimator,
    offer: Negotiated,
    neg: Negotiated,
    offer_wscale: bool,
    ts: TsState,
    seg: Segmentation,
    last_oow_ack: OptInstant,
    opts: Options,
    counters: Counters,
    algorithm: CongestionAlgorithm,
    error: Option<SocketError>,
    soft_error: Option<SocketError>,
    rcv_mss: u16,
    last_seg_size: u16,
    fin_on_acks: bool,
    challenge_due: bool,
    nagle: Nagle,
    keepalive_on: bool,
    snd_sml: tcplab_wire::tcp::SeqNumber,
    last_recv: Instant,
    opened: OptMillis,
    /// For `tcp_info`'s times since data last went out and came in.
    last_send_ms: OptMillis,
    last_data_ms: OptMillis,
    shared: Arc<Shared>,
}

impl TimeWait {
    /// The record of `conn`, if it is a connection nobody can use any
    /// more in TIME-WAIT; otherwise `conn` back.
    pub(super) fn keep(conn: Box<Connection>) -> Result<Box<TimeWait>, Box<Connection>> {
        let Phase::TimeWait { until } = conn.phase else {
            return Err(conn);
        };
        // Its wake-up must be filed: nothing else would end the wait.
        let idle = conn.owner == Owner::Orphan
            && conn.scheduled.get().is_some()
            && !conn.marked
            && conn.trail.is_none()
            && conn.syn_text.is_none()
            && conn.timers.next().is_none();
        if !idle {
            return Err(conn);
        }
        let c = *conn;
        Ok(Box::new(TimeWait {
            local: c.local,
            remote: c.remote,
            until,
            scheduled: c.scheduled,
            snd: c.snd,
            rcv: c.rcv,
            rtt: c.rtt,
            offer: c.offer,
            neg: c.neg,
            offer_wscale: c.offer_wscale,
            ts: c.ts,
            seg: c.seg,
            last_oow_ack: c.last_oow_ack,
            opts: c.opts,
            counters: c.counters,
            algorithm: c.algorithm,
            error: c.error,
            soft_error: c.soft_error,
            rcv_mss: c.rcv_mss,
            last_seg_size: c.last_seg_size,
            fin_on_acks: c.fin_on_acks,
            challenge_due: c.challenge_due,
            nagle: c.nagle,
            keepalive_on: c.keepalive.on,
            snd_sml: c.snd_sml,
            last_recv: c.last_recv,
            opened: c.opened,
            last_send_ms: c.last_send_ms,
            last_data_ms: c.last_data_ms,
            shared: c.shared,
        }))
    }

    /// A control block again, in TIME-WAIT as it was; what the record did
    /// not keep starts afresh (nothing in TIME-WAIT reads it).
    pub(super) fn revive(self: Box<TimeWait>, config: &TcpConfig) -> Box<Connection> {
        let r = *self;
        let mut c = Connection::new(
            config,
            &r.shared,
            Phase::TimeWait { until: r.until },
            r.local,
            r.remote,
            r.snd.iss(),
            r.seg.our_mss,
            Owner::Orphan,
            r.last_recv,
            SocketOptions::UNSET,
        );
        c.opened = r.opened;
        c.snd = r.snd;
        c.rcv = r.rcv;
        c.rtt = r.rtt;
        c.offer = r.offer;
        c.neg = r.neg;
        c.offer_wscale = r.offer_wscale;
        c.ts = r.ts;
        c.seg = r.seg;
        c.last_oow_ack = r.last_oow_ack;
        c.opts = r.opts;
        c.counters = r.counters;
        if c.algorithm != r.algorithm {
            c.algorithm = r.algorithm;
            c.switch_controller();
        }
        c.error = r.error;
        c.soft_error = r.soft_error;
        c.rcv_mss = r.rcv_mss;
        c.last_seg_size = r.last_seg_size;
        c.fin_on_acks = r.fin_on_acks;
        c.challenge_due = r.challenge_due;
        c.nagle = r.nagle;
        c.keepalive.on = r.keepalive_on;
        c.snd_sml = r.snd_sml;
        c.last_recv = r.last_recv;
        c.last_send_ms = r.last_send_ms;
        c.last_data_ms = r.last_data_ms;
        c.scheduled = r.scheduled;
        Box::new(c)
    }

    /// Bytes of buffer storage it still holds (none once reclaimed).
    pub(super) fn allocated(&self) -> usize {
        self.snd.buffer().allocated() + self.rcv.buffer().allocated()
    }

    /// The error the application has not taken yet.
    pub(super) fn error(&self) -> Option<SocketError> {
        self.error
    }

    pub(super) fn neg_ts(&self) -> bool {
        self.neg.ts
    }

    pub(super) fn ts_recent_stamp(&self) -> Option<Instant> {
        self.ts.recent_stamp.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record is what makes TIME-WAIT cheap: a fraction of the control
    /// block (docs/benchmarks.md gives both sizes).
    #[test]
    fn record_size() {
        let (record, block) = (
            std::mem::size_of::<TimeWait>(),
            std::mem::size_of::<Connection>(),
        );
        assert!(
            record <= 440,
            "TimeWait is {record} bytes, the control block {block}"
        );
    }
}
