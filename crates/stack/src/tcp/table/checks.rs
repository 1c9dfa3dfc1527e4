//! Self-checks of the table for tests and debug builds: invariants of
//! every connection and of the wake-ups filed for them.

use std::collections::BTreeSet;

use super::{Key, TcpLayer, TcpSocket};
use crate::time::Instant;

impl TcpLayer {
    /// Debug builds: every connection `may_send_more` let go since it
    /// was last marked has, indeed, nothing to send (a `next_segment` that
    /// finds nothing changes nothing, so release builds, which do not
    /// ask, behave the same).
    #[cfg(debug_assertions)]
    pub(super) fn check_idle(&mut self, now: Instant) {
        for key in std::mem::take(&mut self.idle_checks) {
            if let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) {
                let planned = conn.next_segment(now);
                assert!(
                    planned.is_none(),
                    "{} -> {}: may_send_more said nothing more, next_segment sent {planned:?}",
                    conn.local,
                    conn.remote
                );
            }
        }
    }

    /// Wake-ups filed in the ordered set and in the TIME-WAIT queue.
    #[cfg(test)]
    pub(crate) fn filed_wakeups(&self) -> (usize, usize) {
        (self.timers.len(), self.time_wait.len())
    }

    /// After the driver drained all output: every connection's
    /// `Connection::check_quiescent`.
    pub fn check_quiescent(&self) -> Result<(), String> {
        for (_, s) in self.sockets.iter() {
            if let TcpSocket::Connection(c) = s {
                c.check_quiescent()
                    .map_err(|e| format!("{} -> {}: {e}", c.local, c.remote))?;
            }
        }
        Ok(())
    }

    /// Check every connection's invariants, and that the table schedules
    /// what the connections expect; a description of the first broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        let queued: BTreeSet<(Instant, Key)> = self.time_wait.iter().copied().collect();
        for (key, s) in self.sockets.iter() {
            if let TcpSocket::TimeWait(tw) = s {
                // A record keeps its wake-up, filed, no later than its end.
                let Some(t) = tw.scheduled.get() else {
                    return Err(format!(
                        "{} -> {}: TIME-WAIT record with no wake-up",
                        tw.local, tw.remote
                    ));
                };
                if t > tw.until {
                    return Err(format!(
                        "{} -> {}: TIME-WAIT wake-up after its end",
                        tw.local, tw.remote
                    ));
                }
                if !self.timers.contains(&(t, key)) && !queued.contains(&(t, key)) {
                    return Err("a TIME-WAIT record's wake-up is missing from the timers".into());
                }
                if self.conns.get(&(tw.local, tw.remote)) != Some(key) {
                    return Err(format!(
                        "{} -> {}: TIME-WAIT record not in the table",
                        tw.local, tw.remote
                    ));
                }
                continue;
            }
            let TcpSocket::Connection(c) = s else {
                continue;
            };
            c.check_invariants()
                .map_err(|e| format!("{} -> {}: {e}", c.local, c.remote))?;
            // A wake-up is filed no later than the next deadline.
            let late = match (c.next_deadline(), c.scheduled.get()) {
                (Some(next), Some(filed)) => filed > next,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if late && !c.marked {
                return Err(format!(
                    "{} -> {}: deadline {:?} scheduled as {:?}",
                    c.local,
                    c.remote,
                    c.next_deadline(),
                    c.scheduled.get()
                ));
            }
            if let Some(t) = c.scheduled.get() {
                if !self.timers.contains(&(t, key)) && !queued.contains(&(t, key)) {
                    return Err("a scheduled deadline is missing from the timer set".into());
                }
            }
        }
        // The TIME-WAIT queue is in order (its stale entries are skipped
        // when due).
        if self
            .time_wait
            .iter()
            .zip(self.time_wait.iter().skip(1))
            .any(|(a, b)| a.0 > b.0)
        {
            return Err("the TIME-WAIT queue is out of order".into());
        }
        // And nothing else is filed: one wake-up per connection, the one it
        // knows of.
        for &(t, key) in &self.timers {
            match self.sockets.get(key) {
                Some(TcpSocket::Connection(c)) if c.scheduled.get() == Some(t) => {}
                Some(TcpSocket::TimeWait(tw)) if tw.scheduled.get() == Some(t) => {}
                _ => return Err(format!("a wake-up at {t:?} is filed for no connection")),
            }
        }
        Ok(())
    }
}
