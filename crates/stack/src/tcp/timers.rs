//! The timers of a connection, in one table indexed by an enum (quinn's
//! `TimerTable`); the next deadline is their minimum. The 2·MSL wait of
//! TIME-WAIT and an orphan's FIN-WAIT-2 timeout are deadlines of those
//! states ([`super::state::Phase`]); [`Timer::TimeWait`] names them when
//! `ss -o` shows a connection's timer.

use crate::time::Instant;

/// A connection timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Retransmission (RFC 6298), also for SYN and FIN.
    Retransmit = 0,
    /// Delayed acknowledgment (RFC 9293 §3.8.6.3).
    DelayedAck = 1,
    /// Zero-window probes and the SWS override (RFC 9293 §3.8.6.1, RFC
    /// 1122 §4.2.3.4).
    Persist = 2,
    /// Keep-alive probes (RFC 9293 §3.8.4).
    KeepAlive = 3,
    /// RACK's reordering timer (RFC 8985 §6.2 step 5).
    Reorder = 4,
    /// The tail loss probe's timeout (RFC 8985 §7.2).
    LossProbe = 5,
    /// The next paced departure (a deadline, not an expiry).
    Pacing = 6,
    /// 2 × MSL in TIME-WAIT (RFC 9293 §3.6.1), or an orphan's FIN-WAIT-2
    /// timeout: kept by the state, shown as a timer.
    TimeWait = 7,
}

/// Timers kept in the table (all but [`Timer::TimeWait`]).
const COUNT: usize = 7;

impl Timer {
    pub const ALL: [Timer; COUNT] = [
        Timer::Retransmit,
        Timer::DelayedAck,
        Timer::Persist,
        Timer::KeepAlive,
        Timer::Reorder,
        Timer::LossProbe,
        Timer::Pacing,
    ];

    /// The name `ss -o` uses.
    pub fn ss_name(self) -> &'static str {
        match self {
            Timer::Retransmit => "on",
            Timer::DelayedAck => "on",
            Timer::Persist => "persist",
            Timer::KeepAlive => "keepalive",
            // Linux shows its loss-probe and reordering timers as "on".
            Timer::Reorder | Timer::LossProbe => "on",
            Timer::Pacing => "on",
            Timer::TimeWait => "timewait",
        }
    }

    /// What the timer is called in a report: "RTO", "TLP", ...
    pub fn name(self) -> &'static str {
        match self {
            Timer::Retransmit => "RTO",
            Timer::DelayedAck => "delayed ACK",
            Timer::Persist => "persist",
            Timer::KeepAlive => "keepalive",
            Timer::Reorder => "RACK reorder",
            Timer::LossProbe => "TLP",
            Timer::Pacing => "pacing",
            Timer::TimeWait => "2MSL",
        }
    }

    fn index(self) -> Option<usize> {
        (self != Timer::TimeWait).then_some(self as usize)
    }
}

/// Deadlines of a connection's timers, as microseconds of virtual time
/// (`UNSET` for a timer not running): 8 bytes a timer, where an
/// `Option<Instant>` takes 16.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [u64; COUNT],
}

/// The running timers and their deadlines (not the raw encoding).
impl std::fmt::Debug for TimerTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                Timer::ALL
                    .iter()
                    .filter_map(|t| self.get(*t).map(|at| (t, at))),
            )
            .finish()
    }
}

/// A timer that is not running.
const UNSET: u64 = u64::MAX;

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable {
            deadlines: [UNSET; COUNT],
        }
    }
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(i) = timer.index() {
            // The last microsecond of time is not a deadline one can set.
            self.deadlines[i] = at.total_micros().min(UNSET - 1);
        }
    }

    pub fn stop(&mut self, timer: Timer) {
        if let Some(i) = timer.index() {
            self.deadlines[i] = UNSET;
        }
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        let at = self.deadlines[timer.index()?];
        (at != UNSET).then(|| Instant::from_micros(at))
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub fn stop_all(&mut self) {
        self.deadlines = [UNSET; COUNT];
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let at = self.deadlines.iter().copied().min().unwrap_or(UNSET);
        (at != UNSET).then(|| Instant::from_micros(at))
    }

    /// Whether `timer` is due at `now`; if so it is stopped.
    pub fn expired(&mut self, timer: Timer, now: Instant) -> bool {
        match self.get(timer) {
            Some(t) if t <= now => {
                self.stop(timer);
                true
            }
            _ => false,
        }
    }

    /// The running timer `ss -o` would show and its deadline.
    pub fn shown(&self) -> Option<(Timer, Instant)> {
        // Linux keeps the retransmission, loss-probe and reordering
        // timeouts in one timer (icsk_pending): what `ss -o` shows as `on`
        // is the one due first.
        let on = [Timer::Retransmit, Timer::LossProbe, Timer::Reorder]
            .iter()
            .filter_map(|t| self.get(*t).map(|at| (*t, at)))
            .min_by_key(|&(_, at)| at);
        on.or_else(|| {
            [Timer::Persist, Timer::KeepAlive]
                .iter()
                .find_map(|t| self.get(*t).map(|at| (*t, at)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_and_expiry() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Retransmit, Instant::from_millis(300));
        t.set(Timer::DelayedAck, Instant::from_millis(40));
        assert_eq!(t.next(), Some(Instant::from_millis(40)));
        assert!(!t.expired(Timer::Retransmit, Instant::from_millis(100)));
        assert!(t.expired(Timer::DelayedAck, Instant::from_millis(100)));
        assert_eq!(t.next(), Some(Instant::from_millis(300)));
        assert_eq!(
            t.shown(),
            Some((Timer::Retransmit, Instant::from_millis(300)))
        );
        // A loss probe due before the retransmission timeout is what
        // shows (Linux's one pending timer).
        t.set(Timer::LossProbe, Instant::from_millis(250));
        assert_eq!(
            t.shown(),
            Some((Timer::LossProbe, Instant::from_millis(250)))
        );
        t.stop(Timer::LossProbe);
        // TIME-WAIT is the state's, not the table's.
        t.set(Timer::TimeWait, Instant::from_millis(1));
        assert_eq!(t.next(), Some(Instant::from_millis(300)));
    }
}
