//! Delivery-rate sampling (draft-ietf-ccwg-bbr §4.1, formerly
//! draft-cheng-iccrg-delivery-rate-estimation): every record carries a
//! snapshot of how much had been delivered when it was sent; when it is
//! delivered, the data delivered since over the longer of the send and
//! the ACK intervals is a sample of the path's delivery rate that neither
//! ACK compression nor a stretched sending phase can inflate.

use std::time::Duration;

use super::rtx::{Delivery, RateSnap};
use crate::time::Instant;

/// One ACK's delivery-rate sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSample {
    /// Bytes delivered over the interval, and the connection's delivered
    /// count when its newest record was sent (BBR's round marker).
    pub delivered: u64,
    pub prior_delivered: u64,
    pub interval: Duration,
    /// Bytes per second; `None` when the interval is shorter than the
    /// minimum RTT (§4.1.2.3: not trustworthy).
    pub rate: Option<u64>,
    /// The newest delivered record was sent while application-limited.
    pub app_limited: bool,
    /// Bytes in flight when it was sent, and bytes lost since then.
    pub tx_in_flight: usize,
    pub lost: u64,
    /// Bytes newly delivered by this ACK (RFC 6937's DeliveredData).
    pub newly_acked: usize,
    /// The RTT of the newest delivered record sent only once (Karn's
    /// rule: a retransmission's ACK may be for the original, as Linux's
    /// `ca_rtt_us` excludes them); `None` when every one was resent.
    pub rtt: Option<Duration>,
}

/// The connection's side of the sampler (§4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSampler {
    /// Bytes delivered ever, and when that last grew.
    pub delivered: u64,
    delivered_time: Instant,
    /// Send time of the most recently delivered record.
    first_send_time: Instant,
    /// Nonzero: the delivered count at which the current application-
    /// limited stretch ends (§4.1.2.4).
    app_limited_until: u64,
    /// The last rate sampled, and whether it was application-limited
    /// (`ss -i`'s delivery_rate and app_limited); the rate is bytes per
    /// second, `NO_RATE` before the first (eight bytes, not sixteen).
    last_rate: u64,
    pub last_app_limited: bool,
}

const NO_RATE: u64 = u64::MAX;

impl Default for RateSampler {
    fn default() -> RateSampler {
        RateSampler {
            delivered: 0,
            delivered_time: Instant::ZERO,
            first_send_time: Instant::ZERO,
            app_limited_until: 0,
            last_rate: NO_RATE,
            // A connection starts application-limited, as Linux's
            // (tp->app_limited = ~0U marks its handshake's sample so).
            last_app_limited: true,
        }
    }
}

impl RateSampler {
    /// The last delivery rate sampled, bytes per second.
    pub fn last_rate(&self) -> Option<u64> {
        (self.last_rate != NO_RATE).then_some(self.last_rate)
    }

    /// A record goes out with `outstanding` bytes unacknowledged before
    /// it, `after` bytes in flight once it has left and `lost` bytes ever
    /// marked lost: its snapshot.
    pub fn on_send(
        &mut self,
        now: Instant,
        outstanding: usize,
        after: usize,
        lost: u64,
    ) -> RateSnap {
        if outstanding == 0 {
            // Nothing in flight: the next sample's interval starts now.
            self.first_send_time = now;
            self.delivered_time = now;
        }
        RateSnap {
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_send_time: self.first_send_time,
            app_limited: self.app_limited_until != 0,
            tx_in_flight: after,
            lost,
        }
    }

    /// §4.1.2.4: the sender has nothing more to send, room in its window
    /// and no retransmission waiting: samples until what is in flight now
    /// is delivered measure the application, not the path.
    pub fn check_app_limited(
        &mut self,
        unsent: usize,
        in_flight: usize,
        cwnd: usize,
        lost_waiting: bool,
    ) {
        if unsent == 0 && in_flight < cwnd && !lost_waiting {
            self.app_limited_until = (self.delivered + in_flight as u64).max(1);
        }
    }

    #[cfg(test)]
    pub fn app_limited(&self) -> bool {
        self.app_limited_until != 0
    }

    /// An ACK delivered what `d` says (`lost` bytes ever marked lost by
    /// now): update the counts and make the sample (§4.1.2.3).
    pub fn on_ack(
        &mut self,
        now: Instant,
        d: &Delivery,
        min_rtt: Option<Duration>,
        lost: u64,
    ) -> Option<RateSample> {
        if d.bytes == 0 {
            return None;
        }
        self.delivered += d.bytes as u64;
        self.delivered_time = now;
        if self.app_limited_until != 0 && self.delivered > self.app_limited_until {
            self.app_limited_until = 0;
        }
        let p = d.newest?;
        let snap = p.rate;
        self.first_send_time = p.sent;
        let send_elapsed = p.sent.saturating_since(snap.first_send_time);
        let ack_elapsed = now.saturating_since(snap.delivered_time);
        let interval = send_elapsed.max(ack_elapsed);
        let delivered = self.delivered - snap.delivered;
        let trusted = !interval.is_zero() && min_rtt.is_none_or(|m| interval >= m);
        let rate = trusted.then(|| {
            let micros = interval.as_micros().max(1);
            (u128::from(delivered) * 1_000_000 / micros) as u64
        });
        if let Some(r) = rate {
            self.last_rate = r.min(NO_RATE - 1);
            self.last_app_limited = snap.app_limited;
        }
        Some(RateSample {
            delivered,
            prior_delivered: snap.delivered,
            interval,
            rate,
            app_limited: snap.app_limited,
            tx_in_flight: snap.tx_in_flight,
            lost: lost.saturating_sub(snap.lost),
            newly_acked: d.bytes,
            rtt: d.newest_once.map(|sent| now.saturating_since(sent)),
        })
    }
}

#[cfg(test)]
mod tests {
    use tcplab_wire::tcp::SeqNumber;

    use super::super::rtx::RtxQueue;
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn rate_is_delivered_over_the_longer_interval() {
        let mut r = RateSampler::default();
        let mut q = RtxQueue::default();
        // Ten 1000-byte records sent 1 ms apart from t = 0.
        for i in 0..10u32 {
            let inflight = i as usize * 1000;
            let snap = r.on_send(ms(u64::from(i)), inflight, inflight + 1000, 0);
            q.push(
                SeqNumber(i * 1000),
                SeqNumber((i + 1) * 1000),
                ms(u64::from(i)),
                0,
                snap,
            );
        }
        // All ten ACKed at once at 20 ms (ACK compression): the send
        // interval is 9 ms, the ACK interval 20 ms: 10 000 B / 20 ms.
        let mut d = Delivery::new(ms(20), None, Duration::ZERO);
        q.ack(SeqNumber(10_000), &mut d);
        let s = r.on_ack(ms(20), &d, None, 0).unwrap();
        assert_eq!(s.delivered, 10_000);
        assert_eq!(s.interval, Duration::from_millis(20));
        assert_eq!(s.rate, Some(500_000));
        assert_eq!(s.rtt, Some(Duration::from_millis(11)));
        // An interval below the minimum RTT gives no rate.
        let snap = r.on_send(ms(21), 0, 1000, 0);
        q.push(SeqNumber(10_000), SeqNumber(11_000), ms(21), 0, snap);
        let mut d = Delivery::new(ms(22), None, Duration::ZERO);
        q.ack(SeqNumber(11_000), &mut d);
        let s = r
            .on_ack(ms(22), &d, Some(Duration::from_millis(5)), 0)
            .unwrap();
        assert_eq!(s.rate, None);
    }

    #[test]
    fn app_limited_marks_samples_until_the_flight_is_delivered() {
        let mut r = RateSampler::default();
        let mut q = RtxQueue::default();
        r.check_app_limited(0, 0, 10_000, false);
        assert!(r.app_limited());
        let snap = r.on_send(ms(0), 0, 1000, 0);
        q.push(SeqNumber(0), SeqNumber(1000), ms(0), 0, snap);
        let mut d = Delivery::new(ms(10), None, Duration::ZERO);
        q.ack(SeqNumber(1000), &mut d);
        let s = r.on_ack(ms(10), &d, None, 0).unwrap();
        assert!(s.app_limited);
        assert!(!r.app_limited(), "the bubble has been delivered");
    }
}
