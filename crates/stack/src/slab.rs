//! A generational slab: stable small handles for sockets, where a handle to a
//! freed slot never reaches the slot's next occupant.

/// Index plus generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

#[derive(Debug)]
enum Slot<T> {
    Full {
        generation: u32,
        value: T,
    },
    Free {
        generation: u32,
        next_free: Option<u32>,
    },
}

#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: Option<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free_head: None,
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free_head {
            let slot = &mut self.slots[index as usize];
            let (generation, next_free) = match *slot {
                Slot::Free {
                    generation,
                    next_free,
                } => (generation, next_free),
                Slot::Full { .. } => unreachable!("free list points at a full slot"),
            };
            self.free_head = next_free;
            *slot = Slot::Full { generation, value };
            Key { index, generation }
        } else {
            let index = u32::try_from(self.slots.len()).expect("more than 2^32 sockets");
            self.slots.push(Slot::Full {
                generation: 0,
                value,
            });
            Key {
                index,
                generation: 0,
            }
        }
    }

    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize) {
            Some(Slot::Full { generation, value }) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize) {
            Some(Slot::Full { generation, value }) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Full { generation, .. } if *generation == key.generation => {
                let next = Slot::Free {
                    generation: generation.wrapping_add(1),
                    next_free: self.free_head,
                };
                let old = std::mem::replace(slot, next);
                self.free_head = Some(key.index);
                self.len -= 1;
                match old {
                    Slot::Full { value, .. } => Some(value),
                    Slot::Free { .. } => None,
                }
            }
            _ => None,
        }
    }

    /// Replace the value at `key` by what `f` makes of it (a socket that
    /// changes representation keeps its handle). Returns whether `key`
    /// named a value.
    pub fn map_in_place(&mut self, key: Key, f: impl FnOnce(T) -> T) -> bool {
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return false;
        };
        if !matches!(slot, Slot::Full { generation, .. } if *generation == key.generation) {
            return false;
        }
        // The slot reads as free only while `f` runs.
        let hole = Slot::Free {
            generation: key.generation,
            next_free: None,
        };
        if let Slot::Full { generation, value } = std::mem::replace(slot, hole) {
            *slot = Slot::Full {
                generation,
                value: f(value),
            };
        }
        true
    }

    /// Occupied slots in index order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Full { generation, value } => Some((
                Key {
                    index: i as u32,
                    generation: *generation,
                },
                value,
            )),
            Slot::Free { .. } => None,
        })
    }

    /// Occupied slots in index order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Key, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Full { generation, value } => Some((
                    Key {
                        index: i as u32,
                        generation: *generation,
                    },
                    value,
                )),
                Slot::Free { .. } => None,
            })
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index, b.index);
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.remove(a), None);
    }

    #[test]
    fn map_in_place_keeps_the_key() {
        let mut s = Slab::default();
        let a = s.insert(1);
        let b = s.insert(2);
        assert!(s.map_in_place(a, |v| v * 10));
        assert_eq!((s.get(a), s.get(b)), (Some(&10), Some(&2)));
        s.remove(a);
        assert!(!s.map_in_place(a, |v| v + 1), "a stale key changes nothing");
        let c = s.insert(3);
        assert_eq!((c.index, s.get(c)), (a.index, Some(&3)));
        assert!(!s.map_in_place(
            Key {
                index: 99,
                generation: 0
            },
            |v| v
        ));
    }
}
