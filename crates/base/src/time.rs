//! Time as the stack sees it: an instant handed in by the driver.
//!
//! Protocol code never reads a clock. The simulator passes virtual time, the
//! TUN runtime passes the real clock's reading; both are microseconds since an
//! arbitrary origin chosen by the driver.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in time, microseconds since the driver's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: u64,
}

impl Instant {
    pub const ZERO: Instant = Instant { micros: 0 };
    /// Later than any real deadline.
    pub const FAR_FUTURE: Instant = Instant { micros: u64::MAX };

    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            micros: millis * 1000,
        }
    }

    pub const fn from_secs(secs: u64) -> Instant {
        Instant {
            micros: secs * 1_000_000,
        }
    }

    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }

    /// Time since the origin, as a `Duration`.
    pub fn since_origin(self) -> Duration {
        Duration::from_micros(self.micros)
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(duration_micros(rhs)),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_sub(duration_micros(rhs)),
        }
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// Saturating: an earlier minus a later instant is zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}
