//! Hash maps keyed with secrets from the seeded RNG.
//!
//! Demultiplexing tables are hash maps (never a scan of every socket), and
//! their keys come from the network, so the hasher is keyed SipHash-1-3: an
//! attacker cannot aim collisions at one bucket, and the same seed still gives
//! the same iteration order.
//!
//! Sets of the stack's own identifiers (socket ids it assigned itself, never
//! values a peer chose) use [`IdSet`]: a multiply-and-rotate hash a few
//! times cheaper than SipHash, keyed from the same generator.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

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

/// A `BuildHasher` for keys the stack assigns itself (slab indices and
/// generations): each word is folded in with a multiply and a rotate, and
/// the result mixed once more at the end (the table reads its top bits).
/// Not for anything a peer chooses: it does not resist aimed collisions.
#[derive(Debug, Clone, Copy)]
pub struct IdState {
    seed: u64,
}

impl IdState {
    /// Draws two words, as [`KeyedState::new`] does, so the generator's
    /// later output is the same whichever of the two a table uses.
    pub fn new(rng: &mut Rng) -> IdState {
        let seed = rng.next_u64();
        let _ = rng.next_u64();
        IdState { seed }
    }
}

impl BuildHasher for IdState {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.seed)
    }
}

/// The hasher of [`IdState`].
#[derive(Debug, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche (MurmurHash3's), so every input bit reaches the
        // top bits the table uses for its control bytes.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

pub type IdSet<K> = HashSet<K, IdState>;

pub fn new_id_set<K>(rng: &mut Rng) -> IdSet<K> {
    HashSet::with_hasher(IdState::new(rng))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_set_draws_what_a_keyed_one_does() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let _: Set<u32> = new_set(&mut a);
        let _: IdSet<u32> = new_id_set(&mut b);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn ids_spread_over_the_top_bits() {
        // Consecutive slab indices with small generations, as socket ids
        // are: the top seven bits (hashbrown's control byte) and the low
        // bits (the bucket) both take many values.
        let state = IdState::new(&mut Rng::new(1));
        let mut top = HashSet::new();
        let mut low = HashSet::new();
        for index in 0u32..1024 {
            let h = state.hash_one((2u8, index, 1u32));
            top.insert(h >> 57);
            low.insert(h & 1023);
        }
        assert_eq!(top.len(), 128);
        assert!(low.len() > 600, "{} distinct buckets of 1024", low.len());
    }
}
