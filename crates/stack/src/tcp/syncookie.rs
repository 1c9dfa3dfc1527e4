//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
//! SYN-ACK's ISS encodes what the connection needs, so no state is kept
//! until the peer's ACK proves it received the SYN-ACK.
//!
//! The ISS is laid out as `TTTTT MMM HHHHHHHH HHHHHHHH HHHHHHHH`: T is a
//! counter of 64-second periods (mod 32), M an index into [`MSS_TABLE`],
//! and H 24 bits of a keyed hash of the four-tuple, the peer's ISN, the
//! full counter and M. A cookie is valid for the period it was made in and
//! the next (64 to 128 s, as Linux's two minutes). Like Linux without
//! timestamps, a connection made from a cookie has no window scaling: the
//! SYN-ACK does not offer what the cookie cannot remember.

use std::hash::BuildHasher;
use std::net::SocketAddrV4;

use tcplab_wire::tcp::SeqNumber;

use crate::hash::KeyedState;
use crate::time::Instant;

/// The MSS values a cookie can encode; the largest not above the peer's is
/// chosen. The first is the smallest segment the stack ever sends
/// (`min_snd_mss`), so a cookie never raises a small MSS.
pub const MSS_TABLE: [u16; 8] = [48, 216, 536, 1200, 1400, 1440, 1460, 8960];

const PERIOD_SECS: u64 = 64;

fn period(now: Instant) -> u64 {
    now.since_origin().as_secs() / PERIOD_SECS
}

/// The secret and the arithmetic of cookies.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    key: KeyedState,
}

impl Cookies {
    pub fn new(key: KeyedState) -> Cookies {
        Cookies { key }
    }

    fn mac(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: SeqNumber,
        period: u64,
        mss_index: u32,
    ) -> u32 {
        (self.key.hash_one((local, remote, irs.0, period, mss_index)) as u32) & 0x00ff_ffff
    }

    /// The ISS for a SYN from `remote` with sequence number `irs` and MSS
    /// option `peer_mss`; returns it with the MSS it encodes.
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        irs: SeqNumber,
        peer_mss: u16,
    ) -> (SeqNumber, u16) {
        let index = MSS_TABLE.iter().rposition(|m| *m <= peer_mss).unwrap_or(0) as u32;
        let t = period(now);
        let iss = ((t as u32 & 31) << 27) | (index << 24) | self.mac(local, remote, irs, t, index);
        (SeqNumber(iss), MSS_TABLE[index as usize])
    }

    /// Check the ACK of a cookie SYN-ACK: `ack` acknowledges the cookie and
    /// `seq` is the peer's ISN + 1. Returns the MSS the cookie encodes.
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: SeqNumber,
        ack: SeqNumber,
    ) -> Option<u16> {
        let cookie = (ack - 1).0;
        let irs = seq - 1;
        let index = (cookie >> 24) & 7;
        let now_period = period(now);
        [now_period, now_period.wrapping_sub(1)]
            .into_iter()
            .filter(|t| (*t as u32 & 31) == cookie >> 27)
            .find(|t| self.mac(local, remote, irs, *t, index) == cookie & 0x00ff_ffff)
            .map(|_| MSS_TABLE[index as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Rng;

    fn sa(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, last), port)
    }

    #[test]
    fn round_trip_and_expiry() {
        let c = Cookies::new(KeyedState::new(&mut Rng::new(1)));
        let (l, r) = (sa(1, 80), sa(2, 4000));
        let t0 = Instant::from_secs(1000);
        let (iss, mss) = c.make(t0, l, r, SeqNumber(5000), 1460);
        assert_eq!(mss, 1460);
        assert_eq!(c.check(t0, l, r, SeqNumber(5001), iss + 1), Some(1460));
        // Still valid in the next period, not after.
        let later = |s| t0 + std::time::Duration::from_secs(s);
        assert!(c.check(later(50), l, r, SeqNumber(5001), iss + 1).is_some());
        assert!(c
            .check(later(200), l, r, SeqNumber(5001), iss + 1)
            .is_none());
        // Any other tuple, peer ISN or acknowledgment fails.
        assert!(c
            .check(t0, l, sa(3, 4000), SeqNumber(5001), iss + 1)
            .is_none());
        assert!(c.check(t0, l, r, SeqNumber(5002), iss + 1).is_none());
        assert!(c.check(t0, l, r, SeqNumber(5001), iss + 2).is_none());
    }

    #[test]
    fn mss_is_rounded_down_to_the_table() {
        let c = Cookies::new(KeyedState::new(&mut Rng::new(2)));
        let t = Instant::from_secs(5);
        let (l, r) = (sa(1, 80), sa(2, 4000));
        assert_eq!(c.make(t, l, r, SeqNumber(1), 1459).1, 1440);
        assert_eq!(c.make(t, l, r, SeqNumber(1), 100).1, 48);
        assert_eq!(c.make(t, l, r, SeqNumber(1), 300).1, 216);
        assert_eq!(c.make(t, l, r, SeqNumber(1), 9000).1, 8960);
    }

    #[test]
    fn forgeries_rarely_pass() {
        let c = Cookies::new(KeyedState::new(&mut Rng::new(3)));
        let t = Instant::from_secs(5);
        let (l, r) = (sa(1, 80), sa(2, 4000));
        let mut rng = Rng::new(9);
        let passed = (0..100_000)
            .filter(|_| {
                c.check(
                    t,
                    l,
                    r,
                    SeqNumber(rng.next_u32()),
                    SeqNumber(rng.next_u32()),
                )
                .is_some()
            })
            .count();
        // 2^-24 per guess, two periods, 1/32 for the counter bits.
        assert!(passed <= 1, "{passed} forged cookies passed");
    }
}
