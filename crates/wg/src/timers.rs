//! Protocol constants and the per-peer timer table (paper §6).
//!
//! Each peer has five timers, one per [`Timer`] variant, kept in one table;
//! a peer's next deadline is the table's minimum and the device's
//! [`poll_timeout`](crate::Device::poll_timeout) is the minimum over peers.
//! The handlers live with the device (`device/timers.rs`); the events that
//! arm and disarm them follow the reference implementation's `timers.go`,
//! which realises §6.2–§6.5 of the paper.

use std::time::Duration;

use tcplab_base::Instant;

/// §6.1: initiate a new handshake after this many messages with one key.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// §6.1: never send or accept a message with a counter at or past this.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// §6.1: the initiator starts a new handshake once its keys are this old.
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// §6.1: keys this old are never used again.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// §6.1: keep retrying a handshake for this long, then give up.
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// §6.1: wait this long for a response before retrying.
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// §6.1: random extra delay added to handshake retries, below this many ms
/// (the reference draws 0..334 ms).
pub const REKEY_TIMEOUT_JITTER_MAX_MS: u32 = 334;
/// §6.5: send a keepalive this long after receiving data we did not answer.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// §5.4.7: cookies and the cookie secret live this long.
pub const COOKIE_REFRESH_TIME: Duration = Duration::from_secs(120);
/// Reference implementation: at most one initiation per peer is processed
/// in this interval (50 per second), a flood guard beside the timestamp.
pub const HANDSHAKE_INITIATION_RATE: Duration = Duration::from_millis(20);
/// Retries before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT.
pub const MAX_TIMER_HANDSHAKES: u32 = 18;
/// How long the device counts as under load after the threshold was crossed.
pub const UNDER_LOAD_AFTER_TIME: Duration = Duration::from_secs(1);

/// The timers of one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// §6.4: no response to our initiation within REKEY_TIMEOUT (+ jitter).
    RetransmitHandshake,
    /// §6.5: we received data and sent nothing back for KEEPALIVE_TIMEOUT.
    SendKeepalive,
    /// §6.5: we sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
    NewHandshake,
    /// §6.3: no new keys for 3 × REJECT_AFTER_TIME: erase all key material.
    ZeroKeyMaterial,
    /// §6.5: the configured persistent keepalive interval passed in silence.
    PersistentKeepalive,
}

impl Timer {
    pub const ALL: [Timer; 5] = [
        Timer::RetransmitHandshake,
        Timer::SendKeepalive,
        Timer::NewHandshake,
        Timer::ZeroKeyMaterial,
        Timer::PersistentKeepalive,
    ];

    fn slot(self) -> usize {
        match self {
            Timer::RetransmitHandshake => 0,
            Timer::SendKeepalive => 1,
            Timer::NewHandshake => 2,
            Timer::ZeroKeyMaterial => 3,
            Timer::PersistentKeepalive => 4,
        }
    }
}

/// Deadlines of a peer's timers; `None` is disarmed.
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    deadlines: [Option<Instant>; 5],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.slot()] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.slot()] = None;
    }

    pub fn is_armed(&self, timer: Timer) -> bool {
        self.deadlines[timer.slot()].is_some()
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.slot()]
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().copied().min()
    }

    /// Disarms and returns the timers due at `now`, in table order.
    pub fn expire(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        for t in Timer::ALL {
            if self.get(t).is_some_and(|d| d <= now) {
                self.stop(t);
                due.push(t);
            }
        }
        due
    }
}
