//! 32-bit sequence number arithmetic (RFC 9293 §3.4, RFC 1982-style).

use core::{cmp, fmt, ops};

/// A TCP sequence number. Comparison is modulo 2³²: `a < b` when `b` is less
/// than 2³¹ ahead of `a`, so a window that straddles the wrap compares right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance from `other` to `self`.
    #[inline]
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self > other {
            self
        } else {
            other
        }
    }

    #[inline]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self < other {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<cmp::Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl ops::Add<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl ops::Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl ops::AddAssign<usize> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

/// Distance `self - rhs` as a length; panics if `rhs` is ahead of `self`,
/// which would be a broken invariant in the caller.
impl ops::Sub for SeqNumber {
    type Output = usize;
    #[inline]
    fn sub(self, rhs: SeqNumber) -> usize {
        let d = self.diff(rhs);
        if d < 0 {
            underflow(self, rhs);
        }
        d as usize
    }
}

/// Out of line: the subtraction stays small enough to inline everywhere.
#[cold]
#[inline(never)]
fn underflow(a: SeqNumber, b: SeqNumber) -> ! {
    panic!("sequence subtraction underflow: {a} - {b}")
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_across_the_wrap() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20;
        assert_eq!(b.0, 9);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 20);
        assert_eq!(b.diff(a), 20);
        assert_eq!(a.diff(b), -20);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }

    #[test]
    #[should_panic(expected = "underflow")]
    fn negative_length_is_a_bug() {
        let _ = SeqNumber(5) - SeqNumber(6);
    }
}
