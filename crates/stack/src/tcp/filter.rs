//! A windowed minimum or maximum in constant space: the three-sample
//! estimator of Kathleen Nichols (used by BBR for the bottleneck bandwidth
//! and the minimum RTT, and by RACK for its minimum RTT). It keeps the best
//! value of the window and the best of its later quarter and half, so when
//! the best ages out a good replacement is at hand.

/// Which extreme the filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extreme {
    Min,
    Max,
}

/// A windowed extreme of values `V` (`u64` unless said otherwise) stamped
/// with a clock (milliseconds, or a round count) kept modulo 2³²: ages are
/// wrapping differences, right while samples come less than 2³² ticks
/// apart (49 days of milliseconds; a sample that old would read as
/// younger than it is). A stamp earlier than the oldest kept sample's
/// starts the filter over. Stamps and values are kept in separate arrays, so a
/// `u32` filter takes 32 bytes, not 72 (the minimum RTT of every
/// connection: issue 13's memory per endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowedFilter<V = u64> {
    /// Stamps and values of the best, the second best and the third.
    stamps: [u32; 3],
    values: [V; 3],
    window: u32,
    kind: Extreme,
    /// Whether a sample was taken.
    filled: bool,
}

impl<V: Copy + Ord + Default> WindowedFilter<V> {
    pub fn new(kind: Extreme, window: u32) -> WindowedFilter<V> {
        WindowedFilter {
            stamps: [0; 3],
            values: [V::default(); 3],
            window,
            kind,
            filled: false,
        }
    }

    /// The current best value, if any sample was taken.
    pub fn get(&self) -> Option<V> {
        self.filled.then_some(self.values[0])
    }

    fn at_least_as_good(&self, a: V, b: V) -> bool {
        match self.kind {
            Extreme::Min => a <= b,
            Extreme::Max => a >= b,
        }
    }

    /// Change the window's length; the samples stay.
    pub fn set_window(&mut self, window: u32) {
        self.window = window;
    }

    fn set(&mut self, s: [(u32, V); 3]) {
        self.stamps = s.map(|x| x.0);
        self.values = s.map(|x| x.1);
        self.filled = true;
    }

    /// Take a sample `value` at time `t` (never earlier than the last).
    pub fn update(&mut self, t: u64, value: V) -> V {
        // The clock modulo 2³² (see the type).
        let t = t as u32;
        let fresh = (t, value);
        if !self.filled {
            self.set([fresh; 3]);
            return value;
        }
        let mut s = [0, 1, 2].map(|i| (self.stamps[i], self.values[i]));
        // A new best, or nothing left in the window: start over.
        if self.at_least_as_good(value, s[0].1) || t.wrapping_sub(s[2].0) > self.window {
            self.set([fresh; 3]);
            return value;
        }
        if self.at_least_as_good(value, s[1].1) {
            s[1] = fresh;
            s[2] = fresh;
        } else if self.at_least_as_good(value, s[2].1) {
            s[2] = fresh;
        }
        // Age the best out of the window; refresh the quarter and half
        // samples when they have stood in for too long.
        let age = t.wrapping_sub(s[0].0);
        if age > self.window {
            s = [s[1], s[2], fresh];
            if t.wrapping_sub(s[0].0) > self.window {
                s = [s[1], s[2], fresh];
            }
        } else if s[1].0 == s[0].0 && age > self.window / 4 {
            s[1] = fresh;
            s[2] = fresh;
        } else if s[2].0 == s[1].0 && age > self.window / 2 {
            s[2] = fresh;
        }
        self.set(s);
        s[0].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_over_a_window() {
        let mut f = WindowedFilter::new(Extreme::Max, 10);
        assert_eq!(f.get(), None);
        assert_eq!(f.update(0, 5), 5);
        assert_eq!(f.update(1, 9), 9);
        assert_eq!(f.update(2, 3), 9);
        // 9 was taken at 1; by 12 it has aged out and a later sample rules.
        assert_eq!(f.update(5, 4), 9);
        assert_eq!(f.update(12, 2), 4);
        assert_eq!(f.update(30, 1), 1);
    }

    #[test]
    fn min_keeps_the_smallest_until_it_expires() {
        let mut f = WindowedFilter::new(Extreme::Min, 100);
        f.update(0, 50);
        f.update(10, 80);
        f.update(60, 70);
        assert_eq!(f.get(), Some(50));
        assert_eq!(
            f.update(101, 90),
            70,
            "50 expired, the half-window sample stands in"
        );
        assert_eq!(f.update(102, 40), 40);
    }

    #[test]
    fn ages_stay_right_across_the_clock_wrapping() {
        // Stamps just below 2³² and just past it (kept modulo 2³²).
        let base = u64::from(u32::MAX) - 50;
        let mut f = WindowedFilter::new(Extreme::Min, 100);
        f.update(base, 50);
        f.update(base + 60, 70);
        assert_eq!(f.update(base + 80, 90), 50, "50 is 80 ticks old");
        assert_eq!(
            f.update(base + 101, 90),
            70,
            "50 expired across the wrap; the later sample stands in"
        );
        assert_eq!(f.update(base + 300, 95), 95, "everything expired");
    }

    #[test]
    fn matches_a_brute_force_window_within_its_bound() {
        // The estimate is never better than the true extreme of the last
        // window and never worse than the true extreme of the last two.
        let mut f = WindowedFilter::new(Extreme::Max, 40);
        let mut rng = crate::Rng::new(7);
        let mut hist: Vec<(u64, u64)> = Vec::new();
        for t in 0..2000u64 {
            let v = rng.next_u64() % 1000;
            hist.push((t, v));
            let got = f.update(t, v);
            let best_in = |w: u64| {
                hist.iter()
                    .filter(|(s, _)| t - s <= w)
                    .map(|x| x.1)
                    .max()
                    .unwrap()
            };
            assert!(got <= best_in(40), "t {t}");
            assert!(got >= best_in(0), "t {t}");
        }
    }
}
