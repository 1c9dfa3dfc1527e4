//! The table's wake-ups: one filed per connection that has a deadline,
//! in an ordered set, or in a queue for connections in TIME-WAIT (whose
//! deadlines come in the order they were filed), and the timers run when
//! they come.

use super::{Key, OptInstant, State, TcpLayer, TcpSocket};
use crate::ip::IpLayer;
use crate::time::Instant;

impl TcpLayer {
    /// Keep the timer set in step with the connection's deadlines, lazily:
    /// a wake-up no later than the next deadline is enough. When deadlines
    /// only move later (the retransmission timer restarts with every ACK,
    /// a delayed ACK is cancelled by the segment that carries it), the
    /// filed wake-up stays, and when it comes the connection files its
    /// real deadline — one set update per timer period instead of one per
    /// segment. `poll_at` may therefore be early, never late. A connection
    /// with no deadline at all files nothing.
    pub(crate) fn reschedule(&mut self, key: Key) {
        let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
            return;
        };
        let Some(next) = conn.next_deadline() else {
            // Nothing left to wait for (an idle connection): the wake-up
            // goes, so that a million idle connections file none.
            if let Some(old) = std::mem::take(&mut conn.scheduled).get() {
                self.timers.remove(&(old, key));
            }
            return;
        };
        let time_wait = conn.state() == State::TimeWait;
        // Early is enough — except that a connection entering TIME-WAIT
        // moves its wake-up (a retransmission timer's, long stopped) to the
        // queue at its real deadline, so the ordered set holds live
        // connections only, not every client's closed connection for the
        // first timer period of its 2·MSL (a set of ten thousand makes
        // each insert and removal a walk through cold nodes). A wake-up
        // already in the queue stays: a wait restarted by a retransmitted
        // FIN (RFC 9293 §3.10.7.4) files its new end when that one comes,
        // so a peer repeating FINs adds no entries.
        let refile = time_wait
            && conn
                .scheduled
                .get()
                .is_some_and(|old| old < next && self.timers.contains(&(old, key)));
        if conn.scheduled.get().is_some_and(|old| old <= next) && !refile {
            return;
        }
        if let Some(old) = conn.scheduled.get() {
            self.timers.remove(&(old, key));
        }
        let queued = time_wait && self.time_wait.back().is_none_or(|&(last, _)| last <= next);
        if queued {
            self.time_wait.push_back((next, key));
        } else {
            self.timers.insert((next, key));
        }
        conn.scheduled = OptInstant::some(next);
    }

    /// The earliest filed wake-up: no later than the next deadline of any
    /// connection, and possibly earlier (see `reschedule`, and a TIME-WAIT
    /// entry whose connection has gone).
    pub fn poll_at(&self) -> Option<Instant> {
        let set = self.timers.first().map(|(t, _)| *t);
        let queue = self.time_wait.front().map(|(t, _)| *t);
        set.into_iter().chain(queue).min()
    }

    /// Take the earliest wake-up due by `now`, from either store, in
    /// (deadline, key) order as one ordered set would give them. A queued
    /// TIME-WAIT entry counts only if its connection still waits for it.
    fn next_due(&mut self, now: Instant) -> Option<(Instant, Key)> {
        loop {
            let set = self.timers.first().copied().filter(|e| e.0 <= now);
            let queue = self.time_wait.front().copied().filter(|e| e.0 <= now);
            match (set, queue) {
                (Some(a), Some(b)) if b < a => {}
                (Some(a), _) => {
                    self.timers.remove(&a);
                    return Some(a);
                }
                (None, Some(_)) => {}
                (None, None) => return None,
            }
            let (t, key) = self.time_wait.pop_front()?;
            let live = match self.sockets.get(key) {
                Some(TcpSocket::Connection(c)) => c.scheduled.get() == Some(t),
                Some(TcpSocket::TimeWait(tw)) => tw.scheduled.get() == Some(t),
                _ => false,
            };
            if live {
                // Filed in both stores (the queue was out of order once): one
                // wake-up serves.
                self.timers.remove(&(t, key));
                return Some((t, key));
            }
        }
    }

    /// Run the timers that are due; `ip` sends the reset of a connection
    /// that ends with one.
    pub fn handle_timeout(&mut self, now: Instant, ip: &mut IpLayer) {
        // Each wake-up due now runs once, and what it re-arms for a time
        // already due waits for the next call — bounded, so a deadline
        // that cannot move past `now` (at the very end of time, where
        // deadlines saturate) cannot keep this call from returning.
        let mut budget = self.timers.len() + self.time_wait.len() + 64;
        while budget > 0 {
            let Some((_, key)) = self.next_due(now) else {
                break;
            };
            budget -= 1;
            self.wake(key);
            let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
                continue;
            };
            conn.scheduled = OptInstant::NONE;
            let mut ctx = Self::ctx(
                &self.config,
                &mut self.stats,
                &mut self.challenge,
                now,
                None,
            );
            let outcome = conn.on_timer(&mut ctx);
            if let Some(r) = outcome.reset {
                let opts = *conn.opts;
                self.send_reset(now, ip, r, &opts);
            }
            if outcome.notify || outcome.closed {
                self.notify(key);
            }
            self.mark(key);
            self.reschedule(key);
            self.reclaim_buffers(key);
            self.reap(key);
        }
    }
}
