//! Hash maps keyed with secrets from the seeded RNG.
//!
//! Demultiplexing tables are hash maps (never a scan of every socket), and
//! their keys come from the network, so the hasher is keyed SipHash-1-3: an
//! attacker cannot aim collisions at one bucket, and the same seed still gives
//! the same iteration order.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

use crate::rand::Rng;

/// A `BuildHasher` producing SipHash-1-3 with fixed keys.
#[derive(Debug, Clone, Copy)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    pub fn new(rng: &mut Rng) -> KeyedState {
        KeyedState {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }

    /// With keys given (drawn from a seed elsewhere).
    pub fn with_keys(k0: u64, k1: u64) -> KeyedState {
        KeyedState { k0, k1 }
    }

    /// SipHash-1-3 of two words: what this state's hasher gives for the
    /// 16 bytes of `a` then `b` (little endian) written in one `write`
    /// (not `hash_one` of a slice or array, which adds a length first),
    /// without the generic `Hasher`'s buffering of small writes, which
    /// cost more than the rounds themselves on a table a segment looks up.
    #[inline]
    pub fn hash_words(&self, a: u64, b: u64) -> u64 {
        // Aumasson and Bernstein, "SipHash: a fast short-input PRF" (2012):
        // the initial state, one compression round per message word, the
        // length in the last block's top byte, three finalisation rounds.
        let mut v = [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ];
        for m in [a, b, 16 << 56] {
            v[3] ^= m;
            sip_round(&mut v);
            v[0] ^= m;
        }
        v[2] ^= 0xff;
        for _ in 0..3 {
            sip_round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

impl BuildHasher for KeyedState {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

pub type Map<K, V> = HashMap<K, V, KeyedState>;
pub type Set<K> = HashSet<K, KeyedState>;

pub fn new_map<K, V>(rng: &mut Rng) -> Map<K, V> {
    HashMap::with_hasher(KeyedState::new(rng))
}

pub fn new_set<K>(rng: &mut Rng) -> Set<K> {
    HashSet::with_hasher(KeyedState::new(rng))
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use super::*;

    /// The two-word hash is SipHash-1-3 of the same 16 bytes, as the
    /// `siphasher` crate computes it, for random keys and words.
    #[test]
    fn hash_words_is_siphash_1_3_of_sixteen_bytes() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let state = KeyedState::new(&mut rng);
            let (a, b) = (rng.next_u64(), rng.next_u64());
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&a.to_le_bytes());
            bytes[8..].copy_from_slice(&b.to_le_bytes());
            let mut h = state.build_hasher();
            h.write(&bytes);
            assert_eq!(state.hash_words(a, b), h.finish(), "{a:#x} {b:#x}");
        }
    }
}
