//! Which sockets have an event waiting in the stack's queue.
//!
//! A notification asks "is this socket queued already?" for every segment
//! that changes a socket. A hash set of every queued socket answered that
//! with a cache miss once it held many (an application that polls readiness
//! and never takes events leaves every socket it has there: a million
//! connections, a million entries, 27 bytes each). Socket ids are slab
//! indices, small and dense, so this keeps, per kind, one bit per index and
//! the generation it was queued under: 4 bytes and a bit per socket, and
//! the line read is the one a neighbouring socket used.

use crate::slab::Key;
use crate::socket::{SocketId, SocketKind};

#[derive(Debug, Default)]
pub(super) struct Queued {
    kinds: [Marks; 4],
    len: usize,
}

#[derive(Debug, Default)]
struct Marks {
    bits: Vec<u64>,
    generations: Vec<u32>,
}

impl Marks {
    fn get(&self, key: Key) -> Option<u32> {
        let i = key.index as usize;
        let word = self.bits.get(i / 64)?;
        (word >> (i % 64) & 1 == 1).then(|| self.generations[i])
    }
}

fn slot(kind: SocketKind) -> usize {
    match kind {
        SocketKind::Udp => 0,
        SocketKind::Ping => 1,
        SocketKind::Tcp => 2,
        SocketKind::Raw => 3,
    }
}

impl Queued {
    /// Number of sockets marked.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn contains(&self, id: SocketId) -> bool {
        self.kinds[slot(id.kind)].get(id.key) == Some(id.key.generation)
    }

    /// Mark `id`; false if it was marked already. A mark left by an earlier
    /// occupant of the same slot (not removed when it was freed) is
    /// replaced: its queue entry then no longer matches and is skipped.
    pub(super) fn insert(&mut self, id: SocketId) -> bool {
        let m = &mut self.kinds[slot(id.kind)];
        let i = id.key.index as usize;
        match m.get(id.key) {
            Some(g) if g == id.key.generation => return false,
            Some(_) => {}
            None => {
                if m.generations.len() <= i {
                    m.generations.resize(i + 1, 0);
                    m.bits.resize(i / 64 + 1, 0);
                }
                m.bits[i / 64] |= 1 << (i % 64);
                self.len += 1;
            }
        }
        m.generations[i] = id.key.generation;
        true
    }

    /// Unmark `id`; false if it was not marked.
    pub(super) fn remove(&mut self, id: SocketId) -> bool {
        if !self.contains(id) {
            return false;
        }
        let i = id.key.index as usize;
        self.kinds[slot(id.kind)].bits[i / 64] &= !(1 << (i % 64));
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: SocketKind, index: u32, generation: u32) -> SocketId {
        SocketId {
            kind,
            key: Key { index, generation },
        }
    }

    #[test]
    fn marks_by_kind_index_and_generation() {
        let mut q = Queued::default();
        let a = id(SocketKind::Tcp, 130, 0);
        assert!(q.insert(a));
        assert!(!q.insert(a));
        assert!(q.contains(a));
        // Another kind at the same index, the same index a generation on.
        let b = id(SocketKind::Udp, 130, 0);
        assert!(!q.contains(b));
        assert!(q.insert(b));
        let a2 = id(SocketKind::Tcp, 130, 1);
        assert!(!q.contains(a2));
        assert_eq!(q.len(), 2);
        // The later occupant replaces a mark its predecessor left.
        assert!(q.insert(a2));
        assert!(!q.contains(a));
        assert!(q.contains(a2));
        assert_eq!(q.len(), 2);
        assert!(!q.remove(a));
        assert!(q.remove(a2));
        assert!(!q.remove(a2));
        assert!(q.remove(b));
        assert_eq!(q.len(), 0);
        // Indices never seen, u32::MAX generations included.
        assert!(!q.contains(id(SocketKind::Raw, 5000, u32::MAX)));
        assert!(q.insert(id(SocketKind::Raw, 63, u32::MAX)));
        assert!(q.insert(id(SocketKind::Raw, 64, 0)));
        assert!(q.contains(id(SocketKind::Raw, 63, u32::MAX)));
        assert!(!q.contains(id(SocketKind::Raw, 63, 0)));
        assert_eq!(q.len(), 2);
    }
}
