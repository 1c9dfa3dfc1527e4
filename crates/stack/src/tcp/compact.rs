//! Optional times in eight bytes instead of sixteen (`Option<Instant>`
//! and `Option<Duration>` carry a tag word): a connection holds several,
//! and issue 13's aim is a kilobyte per idle endpoint.

use std::num::NonZeroU32;
use std::ops::Deref;
use std::time::Duration;

use super::config::SocketOptions;
use crate::time::Instant;

/// An optional instant; `u64::MAX` microseconds (the far future, never a
/// time something happened) stands for none. Kept as two `u32` halves, so
/// it packs beside other 4-byte fields (alignment 4, not 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptInstant([u32; 2]);

impl OptInstant {
    pub const NONE: OptInstant = OptInstant([u32::MAX; 2]);

    /// `t`, which must lie before the far future (it would read as none).
    pub fn some(t: Instant) -> OptInstant {
        let us = t.total_micros();
        debug_assert!(us != u64::MAX, "the far future is not a time");
        OptInstant([(us >> 32) as u32, us as u32])
    }

    /// A deadline at `t`: none for the far future, which never comes.
    pub fn deadline(t: Instant) -> OptInstant {
        if t.total_micros() == u64::MAX {
            OptInstant::NONE
        } else {
            OptInstant::some(t)
        }
    }

    pub fn get(self) -> Option<Instant> {
        let us = (u64::from(self.0[0]) << 32) | u64::from(self.0[1]);
        (us != u64::MAX).then(|| Instant::from_micros(us))
    }
}

impl Default for OptInstant {
    fn default() -> OptInstant {
        OptInstant::NONE
    }
}

/// An optional duration in whole nanoseconds, below 584 years (longer
/// ones are kept as the longest); `u64::MAX` stands for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDuration(u64);

impl OptDuration {
    pub const NONE: OptDuration = OptDuration(u64::MAX);

    pub fn some(d: Duration) -> OptDuration {
        OptDuration(u64::try_from(d.as_nanos()).map_or(u64::MAX - 1, |n| n.min(u64::MAX - 1)))
    }

    pub fn get(self) -> Option<Duration> {
        (self.0 != u64::MAX).then(|| Duration::from_nanos(self.0))
    }

    pub fn is_some(self) -> bool {
        self.0 != u64::MAX
    }
}

impl Default for OptDuration {
    fn default() -> OptDuration {
        OptDuration::NONE
    }
}

/// An optional time of an event in wrapping milliseconds, in four bytes:
/// what only needs "how long ago", within 49 days, at millisecond grain
/// (when data last arrived or was sent, when the oldest unacknowledged
/// data was sent). Kept plus one, so the zeroth millisecond is a time
/// too; the one millisecond in 2³² that would read as none is kept as
/// the next one (a millisecond's error, once in 49 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptMillis(Option<NonZeroU32>);

impl OptMillis {
    pub const NONE: OptMillis = OptMillis(None);

    pub fn at(now: Instant) -> OptMillis {
        let v = (now.total_millis() as u32).wrapping_add(1);
        OptMillis(Some(NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)))
    }

    /// Milliseconds from the stamp to `now` (none if never stamped).
    pub fn since(self, now: Instant) -> Option<u32> {
        let ms = now.total_millis() as u32;
        self.0.map(|t| ms.wrapping_sub(t.get().wrapping_sub(1)))
    }

    pub fn is_some(self) -> bool {
        self.0.is_some()
    }
}

/// A connection's socket options: most connections set none, so the
/// defaults take no room (8 bytes instead of 80) and only a socket that
/// sets something holds a box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options(Option<Box<SocketOptions>>);

impl Options {
    pub fn new(opts: SocketOptions) -> Options {
        Options((opts != SocketOptions::UNSET).then(|| Box::new(opts)))
    }

    pub fn set(&mut self, opts: SocketOptions) {
        match &mut self.0 {
            Some(b) if opts != SocketOptions::UNSET => **b = opts,
            _ => *self = Options::new(opts),
        }
    }
}

impl Deref for Options {
    type Target = SocketOptions;

    fn deref(&self) -> &SocketOptions {
        self.0.as_deref().unwrap_or(&SocketOptions::UNSET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [
            None,
            Some(Instant::ZERO),
            Some(Instant::from_secs(86_400 * 365)),
            Some(Instant::from_micros(u64::MAX - 1)),
        ] {
            assert_eq!(t.map_or(OptInstant::NONE, OptInstant::some).get(), t);
        }
        for d in [
            None,
            Some(Duration::ZERO),
            Some(Duration::from_nanos(1)),
            Some(Duration::from_millis(28)),
        ] {
            assert_eq!(d.map_or(OptDuration::NONE, OptDuration::some).get(), d);
        }
        // Beyond 584 years: kept as the longest, still some.
        assert!(OptDuration::some(Duration::MAX).is_some());
        assert_eq!(std::mem::size_of::<OptInstant>(), 8);
        assert_eq!(std::mem::align_of::<OptInstant>(), 4);
        assert_eq!(std::mem::size_of::<OptDuration>(), 8);
    }

    #[test]
    fn options_box_only_what_is_set() {
        let mut o = Options::new(SocketOptions::default());
        assert!(o.0.is_none());
        assert_eq!(*o, SocketOptions::default());
        let tos = SocketOptions {
            tos: 0x10,
            ..SocketOptions::default()
        };
        o.set(tos);
        assert_eq!(*o, tos);
        o.set(SocketOptions::default());
        assert!(o.0.is_none(), "back to the defaults: the box goes");
    }
}
