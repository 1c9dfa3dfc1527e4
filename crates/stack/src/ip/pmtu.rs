//! Path MTU cache (RFC 1191): what ICMP "fragmentation needed" taught us,
//! per destination, for `pmtu_expires`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_wire::ipv4::MIN_MTU;

use crate::time::Instant;

/// Entries kept at most; the one expiring first goes when full.
const CAPACITY: usize = 4096;

/// The plateau table of RFC 1191 §7, for messages from routers that do not
/// report the next-hop MTU.
const PLATEAUS: [usize; 10] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296];

#[derive(Debug, Clone)]
pub struct PmtuCache {
    entries: BTreeMap<Ipv4Addr, (usize, Instant)>,
    expires: Duration,
}

impl PmtuCache {
    pub fn new(expires: Duration) -> PmtuCache {
        PmtuCache {
            entries: BTreeMap::new(),
            expires,
        }
    }

    /// The learned MTU towards `dst`, if any and not expired.
    pub fn get(&self, now: Instant, dst: Ipv4Addr) -> Option<usize> {
        self.entry(now, dst).map(|(mtu, _)| mtu)
    }

    /// Every live entry: destination, MTU, expiry, by destination.
    pub fn entries(&self, now: Instant) -> Vec<(Ipv4Addr, usize, Instant)> {
        self.entries
            .iter()
            .filter(|(_, (_, exp))| *exp > now)
            .map(|(d, (mtu, exp))| (*d, *mtu, *exp))
            .collect()
    }

    /// The learned MTU towards `dst` and when it expires.
    pub fn entry(&self, now: Instant, dst: Ipv4Addr) -> Option<(usize, Instant)> {
        self.entries
            .get(&dst)
            .filter(|(_, exp)| *exp > now)
            .copied()
    }

    /// Learn from a "fragmentation needed" about a datagram of `sent_len`
    /// bytes to `dst`. `reported` is the next-hop MTU (zero from old routers).
    /// Returns the new path MTU if it went down.
    pub fn learn(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        reported: u16,
        sent_len: usize,
        link_mtu: usize,
    ) -> Option<usize> {
        let reported = usize::from(reported);
        // No datagram of 68 bytes or less ever needs fragmenting (every
        // link carries 68, RFC 791): a report about one is forged or
        // broken, and would pull the path down to 68 (RFC 5927 §7).
        if sent_len <= MIN_MTU {
            return None;
        }
        // RFC 1191 §5, §7: a router that reports no value (0, or one no
        // link has: below 68) is taken to mean the next plateau below the
        // datagram's size. A value it does report is taken as it is, and
        // never raises the path (below): a report not below the datagram
        // (a broken or forged one) changes nothing then, as with Linux
        // and FreeBSD, rather than pulling the path to a plateau.
        let mtu = if reported >= MIN_MTU {
            reported
        } else {
            PLATEAUS
                .iter()
                .copied()
                .find(|&p| p < sent_len)
                .unwrap_or(MIN_MTU)
        }
        .max(MIN_MTU);
        let current = self.get(now, dst).unwrap_or(link_mtu);
        if mtu >= current {
            return None;
        }
        if self.entries.len() >= CAPACITY && !self.entries.contains_key(&dst) {
            self.purge(now);
            if self.entries.len() >= CAPACITY {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(a, (_, exp))| (*exp, **a))
                    .map(|(a, _)| *a);
                if let Some(a) = soonest {
                    self.entries.remove(&a);
                }
            }
        }
        self.entries.insert(dst, (mtu, now + self.expires));
        Some(mtu)
    }

    fn purge(&mut self, now: Instant) {
        self.entries.retain(|_, (_, exp)| *exp > now);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

    #[test]
    fn learns_lower_mtu_and_expires() {
        let mut c = PmtuCache::new(Duration::from_secs(600));
        let t = Instant::from_secs(1);
        assert_eq!(c.learn(t, D, 576, 1028, 1500), Some(576));
        assert_eq!(c.get(t, D), Some(576));
        // A higher report never raises it.
        assert_eq!(c.learn(t, D, 1400, 1500, 1500), None);
        assert_eq!(c.get(t + Duration::from_secs(601), D), None);
    }

    #[test]
    fn plateau_when_router_reports_nothing() {
        let mut c = PmtuCache::new(Duration::from_secs(600));
        assert_eq!(c.learn(Instant::ZERO, D, 0, 1500, 1500), Some(1492));
        assert_eq!(c.learn(Instant::ZERO, D, 0, 1492, 1500), Some(1006));
        // Below 68 is no value either.
        assert_eq!(c.learn(Instant::ZERO, D, 50, 1006, 1500), Some(508));
    }

    /// A report not below the datagram it quotes (a broken middlebox, a
    /// forged message) lowers nothing: it is not below the path either.
    /// One below the path but not the datagram is the path, as on Linux.
    #[test]
    fn an_implausible_report_changes_nothing() {
        let mut c = PmtuCache::new(Duration::from_secs(600));
        let now = Instant::ZERO;
        for reported in [9000, 1500] {
            assert_eq!(c.learn(now, D, reported, 1428, 1500), None, "{reported}");
        }
        assert_eq!(c.get(now, D), None);
        assert_eq!(c.learn(now, D, 1450, 1428, 1500), Some(1450));
    }

    #[test]
    fn bounded() {
        let mut c = PmtuCache::new(Duration::from_secs(600));
        for i in 0..(CAPACITY as u32 + 100) {
            c.learn(
                Instant::from_micros(u64::from(i)),
                Ipv4Addr::from(i),
                576,
                1500,
                1500,
            );
        }
        assert_eq!(c.len(), CAPACITY);
    }

    /// A "fragmentation needed" about a datagram no link could have had
    /// to fragment (68 bytes or less) teaches nothing.
    #[test]
    fn a_report_about_a_tiny_datagram_is_ignored() {
        let mut c = PmtuCache::new(Duration::from_secs(600));
        let now = Instant::ZERO;
        let dst = Ipv4Addr::new(10, 0, 0, 9);
        assert_eq!(c.learn(now, dst, 0, 29, 1500), None);
        assert_eq!(c.learn(now, dst, 1, 68, 1500), None);
        assert_eq!(c.get(now, dst), None);
        // A real one still counts.
        assert_eq!(c.learn(now, dst, 0, 1000, 1500), Some(508));
    }
}
