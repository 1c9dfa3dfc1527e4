//! The receive-side nonce window (paper §5.4.6, RFC 6479).
//!
//! A transport message whose counter was seen before, or lies too far behind
//! the highest one seen, is dropped. The bitmap is a ring of 64-bit blocks as
//! in RFC 6479 §2; its size matches the reference implementations
//! (8192 bits, of which 8128 are usable behind the newest counter).

const BLOCK_BITS_LOG: u32 = 6;
const BLOCK_BITS: u64 = 1 << BLOCK_BITS_LOG;
const RING_BLOCKS: u64 = 128;
/// How far behind the newest counter an older one is still accepted.
pub const WINDOW_SIZE: u64 = (RING_BLOCKS - 1) * BLOCK_BITS;

/// The sliding window of counters already accepted.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    last: u64,
    ring: [u64; RING_BLOCKS as usize],
}

impl Default for ReplayWindow {
    fn default() -> ReplayWindow {
        ReplayWindow {
            last: 0,
            ring: [0; RING_BLOCKS as usize],
        }
    }
}

impl ReplayWindow {
    /// Accepts `counter` (and records it) unless it is at or past `limit`,
    /// already seen, or older than the window. Call only after the message
    /// authenticated, so forgeries cannot move the window.
    pub fn check_and_update(&mut self, counter: u64, limit: u64) -> bool {
        if counter >= limit {
            return false;
        }
        let block = counter >> BLOCK_BITS_LOG;
        if counter > self.last {
            // RFC 6479 §2: clear the blocks the window slides over.
            let current = self.last >> BLOCK_BITS_LOG;
            let diff = (block - current).min(RING_BLOCKS);
            for i in current + 1..=current + diff {
                self.ring[ring_index(i)] = 0;
            }
            self.last = counter;
        } else if self.last - counter > WINDOW_SIZE {
            return false;
        }
        let slot = &mut self.ring[ring_index(block)];
        let bit = 1u64 << (counter & (BLOCK_BITS - 1));
        let fresh = *slot & bit == 0;
        *slot |= bit;
        fresh
    }
}

fn ring_index(block: u64) -> usize {
    usize::try_from(block % RING_BLOCKS).expect("internal invariant: ring index below 128")
}
