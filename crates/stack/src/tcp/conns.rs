//! The connection table: a segment's 4-tuple to its connection's key.
//!
//! Every segment looks its connection up here, so with a million
//! connections the lookup's cache misses are much of a segment's cost. A
//! general hash map keeps its control bytes and its entries in separate
//! arrays (two misses a lookup); this table keeps both in one 64-byte
//! group of three entries, found by the tuple's keyed hash (SipHash-1-3
//! under the stack's secret, as every table a peer's values reach), so a
//! lookup that finds its entry in its home group reads one line.
//!
//! A full group passes new entries on to the next (linear probing by
//! group). Each group counts the entries that passed it (F14's overflow
//! count): a lookup stops at the first group with none, and a removal
//! takes the count back along the way, so no tombstones accumulate. The
//! table doubles at three quarters full.

use std::cell::Cell;

use crate::hash::KeyedState;
use crate::rand::Rng;
use crate::slab::Key;

use super::table::Tuple;

const PER_GROUP: usize = 3;

/// A tuple packed into words, and its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    local: u32,
    remote: u32,
    /// Local port in the high half, remote port in the low.
    ports: u32,
    key: Key,
}

/// Three entries and their bookkeeping in one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Group {
    /// Entries in use, at the front of `entries`.
    len: u8,
    /// Entries whose home group is this one or an earlier one and that
    /// lie beyond it (saturating: a saturated count is never taken back,
    /// which only makes lookups probe further).
    overflow: u16,
    entries: [Entry; PER_GROUP],
}

#[derive(Debug)]
pub(crate) struct ConnTable {
    groups: Vec<Group>,
    len: usize,
    hasher: KeyedState,
    /// The tuple last found and its key: a connection's segments come in
    /// runs (a burst of data, the ACKs of one exchange), and a hit skips
    /// the keyed hash and the group's line. Kept true by `insert` and
    /// `remove`; `grow` moves entries but not their keys.
    last: Cell<Option<(Packed, Key)>>,
    /// Tests: every tuple hashes to the last group, so all entries form
    /// one run that wraps around the end of the table.
    #[cfg(test)]
    collide: bool,
}

/// A tuple as the table compares it: local address, remote address, ports.
type Packed = (u32, u32, u32);

fn pack((local, remote): &Tuple) -> Packed {
    let ports = u32::from(local.port()) << 16 | u32::from(remote.port());
    (u32::from(*local.ip()), u32::from(*remote.ip()), ports)
}

impl Entry {
    const EMPTY: Entry = Entry {
        local: 0,
        remote: 0,
        ports: 0,
        key: Key {
            index: 0,
            generation: 0,
        },
    };

    fn is(&self, (local, remote, ports): (u32, u32, u32)) -> bool {
        self.local == local && self.remote == remote && self.ports == ports
    }
}

impl Group {
    const EMPTY: Group = Group {
        len: 0,
        overflow: 0,
        entries: [Entry::EMPTY; PER_GROUP],
    };
}

impl ConnTable {
    /// An empty table keyed from `rng` (two words, as a keyed map draws).
    pub(crate) fn new(rng: &mut Rng) -> ConnTable {
        ConnTable {
            groups: Vec::new(),
            len: 0,
            hasher: KeyedState::new(rng),
            last: Cell::new(None),
            #[cfg(test)]
            collide: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn hash(&self, packed: (u32, u32, u32)) -> usize {
        #[cfg(test)]
        if self.collide {
            return usize::MAX;
        }
        let (local, remote, ports) = packed;
        let addrs = u64::from(local) << 32 | u64::from(remote);
        self.hasher.hash_words(addrs, u64::from(ports)) as usize
    }

    /// The group and place of `packed` (whose hash is `hash`), if present.
    fn position(&self, packed: (u32, u32, u32), hash: usize) -> Option<(usize, usize)> {
        if self.groups.is_empty() {
            return None;
        }
        let mask = self.groups.len() - 1;
        let mut g = hash & mask;
        for _ in 0..self.groups.len() {
            let group = &self.groups[g];
            if let Some(i) = group.entries[..usize::from(group.len)]
                .iter()
                .position(|e| e.is(packed))
            {
                return Some((g, i));
            }
            if group.overflow == 0 {
                return None;
            }
            g = (g + 1) & mask;
        }
        None
    }

    pub(crate) fn get(&self, tuple: &Tuple) -> Option<Key> {
        let packed = pack(tuple);
        if let Some((last, key)) = self.last.get() {
            if last == packed {
                return Some(key);
            }
        }
        let key = self
            .position(packed, self.hash(packed))
            .map(|(g, i)| self.groups[g].entries[i].key)?;
        self.last.set(Some((packed, key)));
        Some(key)
    }

    /// Add or replace the entry for `tuple`; returns the key it replaced.
    pub(crate) fn insert(&mut self, tuple: Tuple, key: Key) -> Option<Key> {
        let packed = pack(&tuple);
        self.forget(packed);
        let hash = self.hash(packed);
        if let Some((g, i)) = self.position(packed, hash) {
            return Some(std::mem::replace(&mut self.groups[g].entries[i].key, key));
        }
        if (self.len + 1) * 4 > self.groups.len() * PER_GROUP * 3 {
            self.grow();
        }
        let (local, remote, ports) = packed;
        let entry = Entry {
            local,
            remote,
            ports,
            key,
        };
        self.place(entry, hash);
        self.len += 1;
        None
    }

    /// Put a new entry in the first group from its home with room,
    /// counting it in each full group it passes.
    fn place(&mut self, entry: Entry, hash: usize) {
        let mask = self.groups.len() - 1;
        let mut g = hash & mask;
        loop {
            let group = &mut self.groups[g];
            let n = usize::from(group.len);
            if n < PER_GROUP {
                group.entries[n] = entry;
                group.len += 1;
                return;
            }
            group.overflow = group.overflow.saturating_add(1);
            g = (g + 1) & mask;
        }
    }

    pub(crate) fn remove(&mut self, tuple: &Tuple) -> Option<Key> {
        let packed = pack(tuple);
        self.forget(packed);
        let hash = self.hash(packed);
        let (g, i) = self.position(packed, hash)?;
        let group = &mut self.groups[g];
        let last = usize::from(group.len) - 1;
        let key = group.entries[i].key;
        group.entries[i] = group.entries[last];
        group.entries[last] = Entry::EMPTY;
        group.len -= 1;
        // The groups it had passed no longer hold it back.
        let mask = self.groups.len() - 1;
        let mut h = hash & mask;
        while h != g {
            let passed = &mut self.groups[h];
            if passed.overflow != u16::MAX {
                passed.overflow -= 1;
            }
            h = (h + 1) & mask;
        }
        self.len -= 1;
        Some(key)
    }

    /// Drop the remembered lookup if it is of `packed`.
    fn forget(&self, packed: Packed) {
        if self.last.get().is_some_and(|(last, _)| last == packed) {
            self.last.set(None);
        }
    }

    /// Twice the groups (at least eight), every entry placed again.
    fn grow(&mut self) {
        let size = (self.groups.len() * 2).max(8);
        let old = std::mem::replace(&mut self.groups, vec![Group::EMPTY; size]);
        for group in &old {
            for entry in &group.entries[..usize::from(group.len)] {
                let hash = self.hash((entry.local, entry.remote, entry.ports));
                self.place(*entry, hash);
            }
        }
    }

    /// Every entry, for consistency checks.
    #[cfg(test)]
    fn entries(&self) -> impl Iterator<Item = (Tuple, Key)> + '_ {
        use std::net::SocketAddrV4;
        self.groups.iter().flat_map(|g| {
            g.entries[..usize::from(g.len)].iter().map(|e| {
                let local = SocketAddrV4::new(e.local.into(), (e.ports >> 16) as u16);
                let remote = SocketAddrV4::new(e.remote.into(), e.ports as u16);
                ((local, remote), e.key)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, SocketAddrV4};

    use super::*;

    #[test]
    fn a_group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
    }

    /// Lookups in runs, as segments come (the remembered lookup is hit),
    /// with replacements and removals of the very tuple just found
    /// between them: the table never answers from a stale memory.
    #[test]
    fn the_remembered_lookup_follows_inserts_and_removals() {
        for seed in 0..20u64 {
            let mut rng = Rng::new(seed);
            let mut table = ConnTable::new(&mut rng);
            let mut model: HashMap<Tuple, Key> = HashMap::new();
            let pool: Vec<Tuple> = (0..5u16)
                .map(|i| {
                    (
                        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
                        SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), 2000 + i),
                    )
                })
                .collect();
            for step in 0..5_000u32 {
                let t = pool[rng.below(pool.len() as u64) as usize];
                let key = Key {
                    index: step,
                    generation: seed as u32,
                };
                match rng.below(8) {
                    0 | 1 => assert_eq!(table.insert(t, key), model.insert(t, key)),
                    2 => assert_eq!(table.remove(&t), model.remove(&t)),
                    _ => {}
                }
                for _ in 0..rng.below(3) {
                    assert_eq!(
                        table.get(&t),
                        model.get(&t).copied(),
                        "seed {seed} step {step}"
                    );
                }
            }
        }
    }

    /// Random inserts, replacements, removals and lookups against a
    /// `HashMap`, through growth and long probe runs; at the end, with
    /// everything removed, no group may still count an overflow.
    #[test]
    fn agrees_with_a_hash_map_under_random_operations() {
        for seed in 0..20u64 {
            let mut rng = Rng::new(seed);
            let mut table = ConnTable::new(&mut rng);
            let mut model: HashMap<Tuple, Key> = HashMap::new();
            // Few addresses and ports, so operations hit existing entries.
            let tuple = |rng: &mut Rng| {
                let a = Ipv4Addr::new(10, 0, 0, 1 + rng.below(3) as u8);
                let b = Ipv4Addr::new(10, 0, 1, 1 + rng.below(3) as u8);
                (
                    SocketAddrV4::new(a, 80 + rng.below(4) as u16),
                    SocketAddrV4::new(b, 1024 + rng.below(300) as u16),
                )
            };
            for step in 0..20_000u32 {
                let t = tuple(&mut rng);
                let key = Key {
                    index: step,
                    generation: seed as u32,
                };
                match rng.below(10) {
                    0..=4 => assert_eq!(
                        table.insert(t, key),
                        model.insert(t, key),
                        "seed {seed} step {step}"
                    ),
                    5..=7 => assert_eq!(
                        table.remove(&t),
                        model.remove(&t),
                        "seed {seed} step {step}"
                    ),
                    _ => assert_eq!(table.get(&t), model.get(&t).copied(), "seed {seed}"),
                }
                assert_eq!(table.len(), model.len(), "seed {seed} step {step}");
            }
            let mut all: Vec<_> = table.entries().collect();
            let mut expected: Vec<_> = model.iter().map(|(t, k)| (*t, *k)).collect();
            all.sort();
            expected.sort();
            assert_eq!(all, expected, "seed {seed}");
            for (t, _) in expected {
                assert!(table.remove(&t).is_some(), "seed {seed}");
            }
            assert_eq!(table.len(), 0);
            assert!(
                table.groups.iter().all(|g| g.len == 0 && g.overflow == 0),
                "seed {seed}: an overflow count outlived its entries"
            );
        }
    }

    /// Every tuple in one run of groups from the last group on, wrapping
    /// to the first: lookups, replacements and removals anywhere in the
    /// run, through growth.
    #[test]
    fn one_long_run_that_wraps_around_the_end() {
        let mut rng = Rng::new(3);
        let mut table = ConnTable::new(&mut rng);
        table.collide = true;
        let tuple = |i: u32| {
            (
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), i as u16),
            )
        };
        let key = |i: u32| Key {
            index: i,
            generation: 7,
        };
        for i in 0..2000 {
            assert_eq!(table.insert(tuple(i), key(i)), None);
        }
        let last = table.groups.len() - 1;
        assert!(table.groups[last].overflow > 0 && table.groups[0].len == 3);
        // Remove every third from the middle of the run; the rest stay.
        for i in (0..2000).step_by(3) {
            assert_eq!(table.remove(&tuple(i)), Some(key(i)), "{i}");
        }
        for i in 0..2000 {
            let expected = (i % 3 != 0).then(|| key(i));
            assert_eq!(table.get(&tuple(i)), expected, "{i}");
        }
        // Entries placed again fill the holes the removals left.
        for i in (0..2000).step_by(3) {
            assert_eq!(table.insert(tuple(i), key(i + 1)), None);
        }
        for i in 0..2000 {
            assert!(table.remove(&tuple(i)).is_some(), "{i}");
        }
        assert!(table.groups.iter().all(|g| g.len == 0 && g.overflow == 0));
    }

    #[test]
    fn a_hundred_thousand_entries_stay_findable_below_three_quarters() {
        let mut table = ConnTable::new(&mut Rng::new(9));
        let tuple = |i: u32| {
            (
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
                SocketAddrV4::new(Ipv4Addr::from(0x0a01_0000 + (i >> 16)), i as u16),
            )
        };
        for i in 0..100_000 {
            let key = Key {
                index: i,
                generation: 0,
            };
            assert_eq!(table.insert(tuple(i), key), None);
        }
        for i in 0..100_000 {
            assert_eq!(table.get(&tuple(i)).map(|k| k.index), Some(i));
        }
        // Below three quarters of the slots.
        assert!(table.len() * 4 <= table.groups.len() * PER_GROUP * 3);
        assert_eq!(table.get(&tuple(100_000)), None);
    }
}
