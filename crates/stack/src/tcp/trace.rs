//! Recording what TCP connections do inside, for reports (issue 14).
//!
//! Off by default and then free: a connection carries one empty pointer
//! and the layer one flag. When a stack records ([`TcpLayer::set_tracing`]),
//! every connection made from then on keeps a [`Trail`] of its state
//! transitions — taken where the state machine moves (`Connection::goto`),
//! not guessed from packets — and [`TcpLayer::take_trace`] turns trails
//! into [`TraceEvent`]s stamped with the time of the call that caused them,
//! adding a congestion-control sample whenever one of its values changed.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::state::State;
use super::table::{TcpLayer, TcpSocket};
use super::tcb::{Connection, Owner};
use super::timers::Timer;
use crate::time::Instant;

/// What a connection recorded since the last [`TcpLayer::take_trace`].
#[derive(Debug, Default)]
pub(crate) struct Trail {
    /// Transitions in the order they happened.
    pub(crate) states: Vec<(State, State)>,
    /// Timers that fired, in order.
    pub(crate) timers: Vec<Timer>,
    /// The connection was made and not yet reported: whether by a listener
    /// (a passive open) and the state it was made in.
    pub(crate) opened: Option<(bool, State)>,
    /// The last sample reported, to report only changes.
    pub(crate) last: Option<CcSample>,
}

/// A connection's congestion-control and timer state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcSample {
    /// Congestion window and slow-start threshold, bytes (`ssthresh` is
    /// `None` while it is still "infinite").
    pub cwnd: u64,
    pub ssthresh: Option<u64>,
    /// Bytes believed in flight (RFC 6675's pipe).
    pub in_flight: u64,
    /// Smoothed RTT and its variation (RFC 6298), and the retransmission
    /// timeout with its back-off, all in microseconds.
    pub srtt_us: Option<u64>,
    pub rttvar_us: u64,
    pub rto_us: u64,
    /// Bytes per second, for algorithms that pace.
    pub pacing_rate: Option<u64>,
    /// SND.UNA and SND.NXT (absolute sequence numbers) and the send window.
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub snd_wnd: u32,
    /// Linux's congestion-avoidance state: open, disorder, recovery, loss.
    pub ca_state: &'static str,
}

/// One recorded event of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    /// A connection was made: by a listener for a SYN that came (a
    /// passive open, from LISTEN) or by a connect call (an active open,
    /// from CLOSED), in `state`.
    Open {
        time: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        passive: bool,
        state: State,
    },
    /// The state machine moved (RFC 9293 figure 5).
    State {
        time: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        from: State,
        to: State,
    },
    /// A timer fired (RFC 6298's retransmission timer, the tail loss
    /// probe, TIME-WAIT's 2·MSL, ...).
    Timer {
        time: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        timer: Timer,
    },
    /// Congestion control or the RTT estimator changed.
    Cc {
        time: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        sample: CcSample,
    },
}

impl TraceEvent {
    pub fn time(&self) -> Instant {
        match self {
            TraceEvent::Open { time, .. }
            | TraceEvent::State { time, .. }
            | TraceEvent::Timer { time, .. }
            | TraceEvent::Cc { time, .. } => *time,
        }
    }

    /// The connection's addresses, as its stack sees them: (local, remote).
    pub fn addrs(&self) -> (SocketAddrV4, SocketAddrV4) {
        match self {
            TraceEvent::Open { local, remote, .. }
            | TraceEvent::State { local, remote, .. }
            | TraceEvent::Timer { local, remote, .. }
            | TraceEvent::Cc { local, remote, .. } => (*local, *remote),
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

impl Connection {
    /// Whether `timer` is due (and so stopped), noted when recording.
    pub(crate) fn fired(&mut self, timer: Timer, now: Instant) -> bool {
        let due = self.timers.expired(timer, now);
        if due {
            self.note_timer(timer);
        }
        due
    }

    pub(crate) fn note_timer(&mut self, timer: Timer) {
        if let Some(t) = self.trail.as_mut() {
            t.timers.push(timer);
        }
    }

    pub(crate) fn cc_sample(&self) -> CcSample {
        let ssthresh = self.cc.ssthresh();
        CcSample {
            cwnd: self.cwnd() as u64,
            // Algorithms start with a huge threshold ("infinite").
            ssthresh: (ssthresh < (1 << 30)).then_some(ssthresh as u64),
            in_flight: self.pipe() as u64,
            srtt_us: self.rtt.srtt().map(micros),
            rttvar_us: micros(self.rtt.rttvar()),
            rto_us: micros(self.rtt.rto()),
            pacing_rate: self.cc.pacing_rate(),
            snd_una: self.snd.una().0,
            snd_nxt: self.snd.nxt().0,
            snd_wnd: self.snd.wnd(),
            ca_state: self.rec.state.name(),
        }
    }

    /// Start recording: the first event is the open itself.
    pub(crate) fn start_trail(&mut self) {
        let passive = matches!(self.owner, Owner::Listener { .. });
        self.trail = Some(Box::new(Trail {
            opened: Some((passive, self.state())),
            ..Trail::default()
        }));
    }
}

impl TcpLayer {
    /// Record connections' states and congestion control from now on (or
    /// stop). Connections that exist already are not followed.
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
        if !on {
            self.trace.clear();
        }
    }

    pub fn tracing(&self) -> bool {
        self.tracing
    }

    /// Move what a removed connection recorded into the layer's events
    /// (stamped at the next [`take_trace`](Self::take_trace)).
    pub(crate) fn keep_trail(&mut self, conn: &mut Connection) {
        if let Some(trail) = conn.trail.take() {
            if let Some((passive, state)) = trail.opened {
                self.trace
                    .push(Pending::Open(conn.local, conn.remote, passive, state));
            }
            for timer in trail.timers {
                self.trace
                    .push(Pending::Timer(conn.local, conn.remote, timer));
            }
            for (from, to) in trail.states {
                self.trace
                    .push(Pending::State(conn.local, conn.remote, from, to));
            }
        }
    }

    /// Everything recorded since the last call, stamped `now` (the time of
    /// the call that caused it: call this after each call into the stack).
    pub fn take_trace(&mut self, now: Instant) -> Vec<TraceEvent> {
        if !self.tracing {
            return Vec::new();
        }
        let mut out: Vec<TraceEvent> = Vec::new();
        let stamp = |p: Pending| match p {
            Pending::Open(local, remote, passive, state) => TraceEvent::Open {
                time: now,
                local,
                remote,
                passive,
                state,
            },
            Pending::State(local, remote, from, to) => TraceEvent::State {
                time: now,
                local,
                remote,
                from,
                to,
            },
            Pending::Timer(local, remote, timer) => TraceEvent::Timer {
                time: now,
                local,
                remote,
                timer,
            },
            Pending::Cc(local, remote, sample) => TraceEvent::Cc {
                time: now,
                local,
                remote,
                sample,
            },
        };
        // In slab order: deterministic.
        let mut live: Vec<Pending> = Vec::new();
        for (_, socket) in self.sockets.iter_mut() {
            let TcpSocket::Connection(conn) = socket else {
                continue;
            };
            if conn.trail.is_none() {
                continue;
            }
            let sample = conn.cc_sample();
            let (local, remote) = (conn.local, conn.remote);
            let Some(trail) = conn.trail.as_mut() else {
                continue;
            };
            if let Some((passive, state)) = trail.opened.take() {
                live.push(Pending::Open(local, remote, passive, state));
            }
            for timer in trail.timers.drain(..) {
                live.push(Pending::Timer(local, remote, timer));
            }
            for (from, to) in trail.states.drain(..) {
                live.push(Pending::State(local, remote, from, to));
            }
            if trail.last != Some(sample) && conn.phase.state() != State::Closed {
                trail.last = Some(sample);
                live.push(Pending::Cc(local, remote, sample));
            }
        }
        out.extend(self.trace.drain(..).map(stamp));
        out.extend(live.into_iter().map(stamp));
        out
    }
}

/// A recorded event waiting for its time stamp.
#[derive(Debug)]
pub(crate) enum Pending {
    Open(SocketAddrV4, SocketAddrV4, bool, State),
    Timer(SocketAddrV4, SocketAddrV4, Timer),
    State(SocketAddrV4, SocketAddrV4, State, State),
    Cc(SocketAddrV4, SocketAddrV4, CcSample),
}
