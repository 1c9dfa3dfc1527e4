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
