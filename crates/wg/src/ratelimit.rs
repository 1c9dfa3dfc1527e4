//! The per-source limit on handshake messages under load (the reference
//! implementations' rate limiter): once a message's mac2 shows its source
//! address is real (§5.3), each address may have 20 handshake messages a
//! second processed, in bursts of 5 — so an attacker who can answer
//! cookies from one address still cannot make us do unbounded
//! Diffie-Hellman work.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_base::Instant;

/// Handshake messages per second from one address.
pub const PACKETS_PER_SECOND: u64 = 20;
/// How many may come at once.
pub const PACKETS_BURSTABLE: u64 = 5;
/// Addresses remembered at most; past it, those whose buckets are full
/// again are forgotten, and if none is, a new address is refused.
const MAX_SOURCES: usize = 4096;

const COST: u64 = 1_000_000_000 / PACKETS_PER_SECOND;
const MAX_TOKENS: u64 = COST * PACKETS_BURSTABLE;

/// A token bucket per source address (tokens in nanoseconds of credit).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: BTreeMap<Ipv4Addr, (Instant, u64)>,
}

impl RateLimiter {
    /// Whether one more message from `source` may be processed now.
    pub fn allow(&mut self, now: Instant, source: Ipv4Addr) -> bool {
        let Some((last, tokens)) = self.buckets.get_mut(&source) else {
            if self.buckets.len() >= MAX_SOURCES {
                let full = Duration::from_nanos(MAX_TOKENS);
                self.buckets
                    .retain(|_, (t, _)| now.saturating_since(*t) < full);
                if self.buckets.len() >= MAX_SOURCES {
                    return false;
                }
            }
            self.buckets.insert(source, (now, MAX_TOKENS - COST));
            return true;
        };
        let earned = u64::try_from(now.saturating_since(*last).as_nanos()).unwrap_or(u64::MAX);
        *tokens = tokens.saturating_add(earned).min(MAX_TOKENS);
        *last = now;
        if *tokens < COST {
            return false;
        }
        *tokens -= COST;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of five, then one every 50 ms; sources apart.
    #[test]
    fn bursts_of_five_then_twenty_a_second_per_source() {
        let mut r = RateLimiter::default();
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let t0 = Instant::from_millis(1000);
        let allowed = (0..10).filter(|_| r.allow(t0, a)).count();
        assert_eq!(allowed, 5);
        assert!(r.allow(t0, b), "another source has its own bucket");
        assert!(!r.allow(t0 + Duration::from_millis(49), a));
        assert!(r.allow(t0 + Duration::from_millis(50), a));
        // A second at the rate: twenty.
        let mut n = 0;
        for ms in 1..=1000u64 {
            if r.allow(t0 + Duration::from_millis(50 + ms), a) {
                n += 1;
            }
        }
        assert_eq!(n, 20);
    }

    /// The table of sources is bounded; full buckets are forgotten first.
    #[test]
    fn the_table_of_sources_is_bounded() {
        let mut r = RateLimiter::default();
        let t0 = Instant::from_millis(1000);
        for i in 0..MAX_SOURCES as u32 {
            assert!(r.allow(t0, Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert!(!r.allow(t0, Ipv4Addr::new(192, 0, 2, 1)), "full");
        let later = t0 + Duration::from_secs(1);
        assert!(
            r.allow(later, Ipv4Addr::new(192, 0, 2, 1)),
            "refilled ones forgotten"
        );
        assert!(r.buckets.len() < 10);
    }
}
