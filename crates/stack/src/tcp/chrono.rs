//! What limited the sender, and for how long: Linux's sender chronographs
//! (`tcp_chrono_start`/`tcp_chrono_stop`, reported in `TCP_INFO` as
//! `tcpi_busy_time`, `tcpi_rwnd_limited` and `tcpi_sndbuf_limited`, and by
//! `ss -i` as `busy:`, `rwnd_limited:` and `sndbuf_limited:`). No RFC asks
//! for them; they answer the question a lesson on flow control asks —
//! was this transfer slow because of the network, the receiver's window
//! or the sender's own buffer?
//!
//! One clock runs at a time, the most telling one: a connection is *busy*
//! while it has data queued or in flight; within that it is
//! *receive-window limited* while unsent data waits for the peer's window
//! (and the congestion window would let it go), and *send-buffer limited*
//! while everything queued is in flight, the congestion window could take
//! more, and the application is waiting for room in the buffer. A more
//! telling limit takes over from a less telling one; when a limit ends the
//! connection is busy again, or idle once nothing is queued or in flight.
//! Times are kept in milliseconds (Linux keeps jiffies): 17 bytes of
//! state, 20 with padding.

use std::time::Duration;

use super::compact::OptMillis;
use crate::time::Instant;

/// What holds the sender, in Linux's order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Limit {
    /// Nothing queued or in flight: no clock runs.
    Idle = 0,
    /// Data queued or in flight, nothing in particular holding it.
    Busy = 1,
    /// Unsent data waits for the peer's receive window.
    Rwnd = 2,
    /// All data is out, the congestion window could take more, and the
    /// application waits for room in the send buffer.
    Sndbuf = 3,
}

/// The chronographs of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chrono {
    /// When the running clock started.
    since: OptMillis,
    /// Milliseconds accumulated while busy (and no more telling limit),
    /// receive-window limited, and send-buffer limited.
    ms: [u32; 3],
    /// The running limit (low two bits) and whether the application found
    /// the send buffer full (Linux's `SOCK_NOSPACE`, `NOSPACE`).
    bits: u8,
}

/// What `TCP_INFO` reports of the chronographs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChronoTimes {
    /// All the time with data queued or in flight, the limited spans
    /// included (Linux's `tcpi_busy_time`).
    pub busy: Duration,
    pub rwnd_limited: Duration,
    pub sndbuf_limited: Duration,
}

impl Chrono {
    const KIND: u8 = 3;
    const NOSPACE: u8 = 4;

    pub fn limit(&self) -> Limit {
        match self.bits & Self::KIND {
            0 => Limit::Idle,
            1 => Limit::Busy,
            2 => Limit::Rwnd,
            _ => Limit::Sndbuf,
        }
    }

    /// Switch to `to`, adding the time of the running clock to its total.
    fn set(&mut self, to: Limit, now: Instant) {
        let from = self.limit();
        if from == to {
            return;
        }
        if from != Limit::Idle {
            let ran = self.elapsed(now);
            let slot = &mut self.ms[from as usize - 1];
            *slot = slot.saturating_add(ran);
        }
        self.since = OptMillis::at(now);
        self.bits = self.bits & !Self::KIND | to as u8;
    }

    /// Milliseconds the running clock has run at `now`; none for a time
    /// before it started (a caller with no better time at hand).
    fn elapsed(&self, now: Instant) -> u32 {
        self.since
            .since(now)
            .filter(|&ms| ms <= u32::MAX / 2)
            .unwrap_or(0)
    }

    /// A limit began: it takes over if it is more telling than the running
    /// one (`tcp_chrono_start`).
    pub fn start(&mut self, limit: Limit, now: Instant) {
        if limit > self.limit() {
            self.set(limit, now);
        }
    }

    /// A limit ended: the connection is idle if it has nothing queued or
    /// in flight (`idle`), else busy if that limit was the running one
    /// (`tcp_chrono_stop`).
    pub fn stop(&mut self, limit: Limit, idle: bool, now: Instant) {
        if idle {
            self.set(Limit::Idle, now);
        } else if limit == self.limit() {
            self.set(Limit::Busy, now);
        }
    }

    /// The application found no room in the send buffer.
    pub fn nospace(&self) -> bool {
        self.bits & Self::NOSPACE != 0
    }

    pub fn set_nospace(&mut self, on: bool) {
        if on {
            self.bits |= Self::NOSPACE;
        } else {
            self.bits &= !Self::NOSPACE;
        }
    }

    /// The totals at `now`, the running clock included.
    pub fn times(&self, now: Instant) -> ChronoTimes {
        let mut ms = self.ms.map(u64::from);
        let running = self.limit();
        if running != Limit::Idle {
            ms[running as usize - 1] += u64::from(self.elapsed(now));
        }
        ChronoTimes {
            busy: Duration::from_millis(ms.iter().sum()),
            rwnd_limited: Duration::from_millis(ms[1]),
            sndbuf_limited: Duration::from_millis(ms[2]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn the_most_telling_limit_runs_and_busy_time_counts_them_all() {
        let mut c = Chrono::default();
        assert_eq!(c.times(at(5)), ChronoTimes::default());
        c.start(Limit::Busy, at(10));
        // A less telling limit does not take over.
        c.start(Limit::Rwnd, at(30));
        c.start(Limit::Busy, at(40));
        assert_eq!(c.limit(), Limit::Rwnd);
        // Ending a limit that is not running changes nothing.
        c.stop(Limit::Sndbuf, false, at(50));
        assert_eq!(c.limit(), Limit::Rwnd);
        c.stop(Limit::Rwnd, false, at(130));
        assert_eq!(c.limit(), Limit::Busy);
        c.start(Limit::Sndbuf, at(150));
        let t = c.times(at(170));
        assert_eq!(t.busy, Duration::from_millis(160));
        assert_eq!(t.rwnd_limited, Duration::from_millis(100));
        assert_eq!(t.sndbuf_limited, Duration::from_millis(20));
        // Nothing left to send: every clock stops.
        c.stop(Limit::Busy, true, at(200));
        assert_eq!(c.limit(), Limit::Idle);
        assert_eq!(c.times(at(900)), c.times(at(200)));
        assert_eq!(c.times(at(900)).busy, Duration::from_millis(190));
    }

    #[test]
    fn a_time_before_the_clock_started_adds_nothing() {
        let mut c = Chrono::default();
        c.start(Limit::Busy, at(1000));
        c.stop(Limit::Busy, true, at(400));
        assert_eq!(c.times(at(2000)), ChronoTimes::default());
    }

    #[test]
    fn nospace_is_a_flag_beside_the_clock() {
        let mut c = Chrono::default();
        c.start(Limit::Rwnd, at(0));
        c.set_nospace(true);
        assert!(c.nospace());
        assert_eq!(c.limit(), Limit::Rwnd);
        c.set_nospace(false);
        assert!(!c.nospace());
        assert_eq!(c.limit(), Limit::Rwnd);
    }

    #[test]
    fn fits_in_twenty_bytes() {
        assert!(std::mem::size_of::<Chrono>() <= 20);
    }
}
