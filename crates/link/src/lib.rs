//! What a link does to packets: rate, a drop-tail queue, and the impairments
//! of a real medium, each per direction and seeded.
//!
//! The model of one direction of a link, in the order a packet meets it:
//!
//! 1. **MTU**: a datagram larger than the link MTU is dropped (the stacks
//!    never send one; a bug would show here).
//! 2. **Drop-tail queue**: packets wait for the transmitter; when `queue`
//!    packets are already waiting, the new one is dropped.
//! 3. **Serialization** at `rate`: the transmitter is busy for `len × 8 /
//!    rate` seconds per packet.
//! 4. **The medium**: duplication, loss (Bernoulli or Gilbert–Elliott),
//!    bit corruption, propagation delay with uniform jitter (which by itself
//!    reorders packets closer together than the jitter, as netem's does), and
//!    netem-style reordering: a chosen packet skips the delay and overtakes
//!    the ones in flight.
//!
//! A capture tap records what leaves the queue (what `tcpdump` on the
//! sender's interface shows); the medium's loss and corruption happen after
//! it.
//!
//! The simulator builds its links from this; the TUN runtime applies it to
//! what crosses the device (a kernel without netem can still be lossy).
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::time::Duration;

use smallvec::SmallVec;
use tcplab_base::{Instant, Rng};

/// The loss process of a direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossModel {
    None,
    /// Each packet lost independently with probability `p`.
    Random(f64),
    /// Gilbert–Elliott (netem `loss gemodel p r 1-h 1-k`): two states, good
    /// and bad; `p` = P(good→bad), `r` = P(bad→good); a packet is lost with
    /// probability `bad_loss` (1−h) in the bad state and `good_loss` (1−k) in
    /// the good state. Mean burst length is 1/r.
    GilbertElliott {
        p: f64,
        r: f64,
        bad_loss: f64,
        good_loss: f64,
    },
}

impl LossModel {
    /// The long-run loss rate.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::None => 0.0,
            LossModel::Random(p) => p,
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => {
                if p + r == 0.0 {
                    good_loss
                } else {
                    let bad = p / (p + r);
                    bad * bad_loss + (1.0 - bad) * good_loss
                }
            }
        }
    }
}

/// Parameters of one direction of a link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkParams {
    pub mtu: usize,
    pub delay: Duration,
    /// Uniform jitter: each packet's delay is drawn from delay ± jitter.
    pub jitter: Duration,
    /// Bits per second; `None` is infinitely fast.
    pub rate: Option<u64>,
    /// Packets waiting for the transmitter at most.
    pub queue: usize,
    pub loss: LossModel,
    pub duplicate: f64,
    /// Probability that a packet skips the delay (netem `reorder`).
    pub reorder: f64,
    /// Probability that one random bit of the packet is flipped.
    pub corrupt: f64,
    /// The packets of this direction to lose, by number (the first it
    /// carries is 1), sorted: one loss exactly where a lesson wants it.
    /// The random draws are made for them as for any packet, so the rest
    /// of a run is the run without the list.
    pub drop: Vec<u64>,
}

impl Default for LinkParams {
    fn default() -> LinkParams {
        LinkParams {
            mtu: 1500,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue: 1000,
            loss: LossModel::None,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            drop: Vec::new(),
        }
    }
}

/// What happened to packets in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    pub packets: u64,
    pub bytes: u64,
    pub too_big: u64,
    pub queue_drops: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    pub reordered: u64,
    /// Offered while the direction was down.
    pub down: u64,
    /// Largest number of packets waiting at once.
    pub max_queue: u64,
}

/// The state of one direction.
#[derive(Debug, Clone)]
pub struct Direction {
    pub params: LinkParams,
    rng: Rng,
    /// When the transmitter is free, in nanoseconds: serialization is
    /// timed to the nanosecond, so a link faster than a packet a
    /// microsecond (Instant's unit) is not held to one — 1,500 bytes take
    /// 120 ns at 100 Gbit/s.
    busy_ns: u64,
    /// Times at which queued packets finish serialization.
    departures: VecDeque<Instant>,
    bad_state: bool,
    pub stats: DirStats,
}

/// The fate of a packet offered to a direction.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Dropped before the wire (too big, or the queue was full).
    Dropped,
    /// On the wire: the copies that will arrive, with their arrival times
    /// (none if the medium lost it).
    Sent(Copies),
}

/// What arrives of one datagram: at most two copies (one duplicate), held
/// inline, so that offering a datagram allocates nothing.
pub type Copies = SmallVec<[(Instant, Vec<u8>); 2]>;

impl Direction {
    pub fn new(params: LinkParams, rng: Rng) -> Direction {
        Direction {
            params,
            rng,
            busy_ns: 0,
            departures: VecDeque::new(),
            bad_state: false,
            stats: DirStats::default(),
        }
    }

    /// Packets waiting for the transmitter or on it at `now` (the queue a
    /// report draws).
    pub fn queued(&self, now: Instant) -> usize {
        // Departures are in time order (each starts when the last ends).
        self.departures.len() - self.departures.partition_point(|&t| t <= now)
    }

    /// Offer a packet at `now`.
    pub fn offer(&mut self, now: Instant, bytes: Vec<u8>) -> Offer {
        let p = &self.params;
        if bytes.len() > p.mtu {
            self.stats.too_big += 1;
            return Offer::Dropped;
        }
        while self.departures.front().is_some_and(|&t| t <= now) {
            self.departures.pop_front();
        }
        if self.departures.len() >= p.queue {
            self.stats.queue_drops += 1;
            return Offer::Dropped;
        }
        self.stats.packets += 1;
        self.stats.bytes += bytes.len() as u64;
        let done = self.serialize(now, bytes.len());
        // netem queues the duplicate behind the original (it is enqueued
        // again), so it takes the link's time and a place in its queue:
        // none left, no duplicate.
        let copies = if self.rng.chance(self.params.duplicate)
            && self.departures.len() < self.params.queue
        {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let dup_done = if copies == 2 {
            self.serialize(now, bytes.len())
        } else {
            done
        };
        let mut arrivals = Copies::new();
        let mut original = Some(bytes);
        for i in 0..copies {
            // The first copy is the original's slot, the second the
            // duplicate's.
            let done = if i == 0 { done } else { dup_done };
            let lost = self.lose();
            let mut data = match (i + 1 == copies, original.take()) {
                (true, Some(b)) => b,
                (false, Some(b)) => {
                    let copy = b.clone();
                    original = Some(b);
                    copy
                }
                (_, None) => break,
            };
            if lost {
                self.stats.lost += 1;
                continue;
            }
            if !data.is_empty() && self.rng.chance(self.params.corrupt) {
                let byte = self.rng.below(data.len() as u64) as usize;
                let bit = self.rng.below(8) as u8;
                data[byte] ^= 1 << bit;
                self.stats.corrupted += 1;
            }
            let arrival = if self.params.reorder > 0.0 && self.rng.chance(self.params.reorder) {
                self.stats.reordered += 1;
                done
            } else {
                done + self.draw_delay()
            };
            arrivals.push((arrival, data));
        }
        if self.params.drop.binary_search(&self.stats.packets).is_ok() {
            self.stats.lost += arrivals.len() as u64;
            arrivals.clear();
        }
        Offer::Sent(arrivals)
    }

    /// Put `len` bytes on the transmitter behind what it holds: when they
    /// are off it (rounded up to Instant's microsecond), queued until then.
    fn serialize(&mut self, now: Instant, len: usize) -> Instant {
        let now_ns = now.total_micros().saturating_mul(1000);
        let start = self.busy_ns.max(now_ns);
        let done_ns = match self.params.rate {
            Some(rate) => {
                let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
                start.saturating_add(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
            None => start,
        };
        self.busy_ns = done_ns;
        let done = Instant::from_micros(done_ns.div_ceil(1000));
        if done > now {
            self.departures.push_back(done);
            self.stats.max_queue = self.stats.max_queue.max(self.departures.len() as u64);
        }
        done
    }

    fn draw_delay(&mut self) -> Duration {
        let p = &self.params;
        if p.jitter.is_zero() {
            return p.delay;
        }
        let d = p.delay.as_secs_f64();
        let j = p.jitter.as_secs_f64();
        let x = d - j + 2.0 * j * self.rng.unit();
        Duration::from_secs_f64(x.max(0.0))
    }

    fn lose(&mut self) -> bool {
        match self.params.loss {
            LossModel::None => false,
            LossModel::Random(p) => self.rng.chance(p),
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            } => {
                // As the kernel does: the loss draw uses the state the packet
                // starts in; then the state moves on.
                let lost = self
                    .rng
                    .chance(if self.bad_state { bad_loss } else { good_loss });
                self.bad_state = if self.bad_state {
                    !self.rng.chance(r)
                } else {
                    self.rng.chance(p)
                };
                lost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(params: LinkParams) -> Direction {
        Direction::new(params, Rng::new(42))
    }

    fn arrivals(o: Offer) -> Vec<(Instant, Vec<u8>)> {
        match o {
            Offer::Sent(v) => v.into_vec(),
            Offer::Dropped => Vec::new(),
        }
    }

    #[test]
    fn delay_and_serialization() {
        let mut d = dir(LinkParams {
            delay: Duration::from_millis(10),
            rate: Some(8_000_000), // 1 byte per microsecond
            ..LinkParams::default()
        });
        let a = arrivals(d.offer(Instant::ZERO, vec![0; 1000]));
        assert_eq!(a[0].0, Instant::from_micros(11_000));
        // The second packet waits for the first to be serialized.
        let b = arrivals(d.offer(Instant::ZERO, vec![0; 500]));
        assert_eq!(b[0].0, Instant::from_micros(11_500));
    }

    /// Serialization is timed in nanoseconds: at 100 Gbit/s a thousand
    /// 1,500-byte packets take 120 µs, not one microsecond each.
    #[test]
    fn links_faster_than_a_packet_a_microsecond() {
        let mut d = dir(LinkParams {
            rate: Some(100_000_000_000),
            queue: 10_000,
            ..LinkParams::default()
        });
        let mut last = Instant::ZERO;
        for _ in 0..1000 {
            last = arrivals(d.offer(Instant::ZERO, vec![0; 1500]))[0].0;
        }
        assert_eq!(last, Instant::from_micros(120));
        assert_eq!(d.queued(Instant::from_micros(60)), 500);
    }

    /// A duplicate is queued behind its original as netem queues it: it
    /// takes the link's time, and a full queue leaves none.
    #[test]
    fn a_duplicate_takes_the_links_time() {
        let mut d = dir(LinkParams {
            rate: Some(8_000_000), // 1 byte per microsecond
            duplicate: 1.0,
            queue: 3,
            ..LinkParams::default()
        });
        let a = arrivals(d.offer(Instant::ZERO, vec![0; 1000]));
        let times: Vec<Instant> = a.iter().map(|c| c.0).collect();
        assert_eq!(
            times,
            [Instant::from_micros(1000), Instant::from_micros(2000)]
        );
        // The next packet waits for both; the queue (3) has room for it
        // but not for its duplicate.
        let b = arrivals(d.offer(Instant::ZERO, vec![0; 500]));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].0, Instant::from_micros(2500));
        assert_eq!(d.stats.duplicated, 1);
    }

    #[test]
    fn drop_tail_queue() {
        let mut d = dir(LinkParams {
            rate: Some(1_000_000),
            queue: 3,
            ..LinkParams::default()
        });
        let mut sent = 0;
        for _ in 0..10 {
            if matches!(d.offer(Instant::ZERO, vec![0; 1000]), Offer::Sent(_)) {
                sent += 1;
            }
        }
        assert_eq!(sent, 3);
        assert_eq!(d.stats.queue_drops, 7);
        // After the queue drained, packets are accepted again.
        assert!(matches!(
            d.offer(Instant::from_secs(1), vec![0; 10]),
            Offer::Sent(_)
        ));
    }

    #[test]
    fn mtu_enforced() {
        let mut d = dir(LinkParams {
            mtu: 576,
            ..LinkParams::default()
        });
        assert_eq!(d.offer(Instant::ZERO, vec![0; 577]), Offer::Dropped);
        assert_eq!(d.stats.too_big, 1);
    }

    #[test]
    fn random_loss_rate() {
        let mut d = dir(LinkParams {
            loss: LossModel::Random(0.2),
            ..LinkParams::default()
        });
        let delivered: usize = (0..10_000)
            .map(|_| arrivals(d.offer(Instant::ZERO, vec![1])).len())
            .sum();
        assert!((7_700..8_300).contains(&delivered), "{delivered}");
    }

    #[test]
    fn gilbert_elliott_is_bursty() {
        let model = LossModel::GilbertElliott {
            p: 0.01,
            r: 0.1,
            bad_loss: 1.0,
            good_loss: 0.0,
        };
        assert!((model.mean_loss() - 0.0909).abs() < 1e-3);
        let mut d = dir(LinkParams {
            loss: model,
            ..LinkParams::default()
        });
        let lost: Vec<bool> = (0..100_000)
            .map(|_| arrivals(d.offer(Instant::ZERO, vec![1])).is_empty())
            .collect();
        let rate = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
        assert!((0.07..0.11).contains(&rate), "{rate}");
        let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count();
        let mean_burst = lost.iter().filter(|&&l| l).count() as f64 / bursts as f64;
        assert!((8.0..12.0).contains(&mean_burst), "mean burst {mean_burst}");
    }

    #[test]
    fn duplication_corruption_reordering() {
        let mut d = dir(LinkParams {
            delay: Duration::from_millis(10),
            duplicate: 0.5,
            corrupt: 0.5,
            reorder: 0.25,
            ..LinkParams::default()
        });
        let mut copies = 0;
        let mut corrupted = 0;
        let mut early = 0;
        for _ in 0..4000 {
            for (t, data) in arrivals(d.offer(Instant::ZERO, vec![0; 100])) {
                copies += 1;
                corrupted += usize::from(data.iter().any(|&b| b != 0));
                early += usize::from(t == Instant::ZERO);
            }
        }
        assert!((5_700..6_300).contains(&copies), "{copies}");
        assert!((2_700..3_300).contains(&corrupted), "{corrupted}");
        assert!((1_300..1_700).contains(&early), "{early}");
    }

    #[test]
    fn jitter_is_uniform_within_bounds() {
        let mut d = dir(LinkParams {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(2),
            ..LinkParams::default()
        });
        for _ in 0..1000 {
            let t = arrivals(d.offer(Instant::ZERO, vec![0]))[0].0;
            assert!((Instant::from_millis(8)..=Instant::from_millis(12)).contains(&t));
        }
    }

    #[test]
    fn seeded() {
        let run = || {
            let mut d = dir(LinkParams {
                loss: LossModel::Random(0.3),
                jitter: Duration::from_millis(1),
                delay: Duration::from_millis(5),
                ..LinkParams::default()
            });
            (0..100)
                .map(|_| arrivals(d.offer(Instant::ZERO, vec![0; 4])))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
