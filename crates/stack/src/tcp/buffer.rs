//! Byte buffers of a connection: a ring for the send queue and a ring with
//! an out-of-order assembler for the receive queue.
//!
//! Storage is allocated on first use, so an embryonic connection in a SYN
//! queue costs no buffer memory, and grows with what the ring holds (from
//! [`MIN_STORAGE`], doubling, up to the capacity), so a connection that has
//! received or queued a few bytes holds a few KiB, not its whole socket
//! buffer (a server with 18,000 connections that each sent one byte held
//! 5 GB). Out-of-order data is stored in the receive
//! ring at its place beyond the in-order bytes; the assembler remembers
//! which places hold data. It can only ever be within the advertised window,
//! which never exceeds the ring's free space, so out-of-order data cannot
//! grow memory; the number of separate ranges is capped as well.

/// The least storage a ring allocates (when its capacity is larger).
pub const MIN_STORAGE: usize = 4096;

/// A fixed-capacity byte ring.
///
/// Storage is a boxed slice of at most the capacity, grown as needed, and
/// positions are `u32` (a socket buffer is at most [`MAX_SOCKET_BUFFER`]):
/// 32 bytes a ring instead of 48, two rings per connection (issue 13's
/// memory per idle endpoint). Positions wrap at the storage's length.
///
/// [`MAX_SOCKET_BUFFER`]: super::config::MAX_SOCKET_BUFFER
#[derive(Debug, Clone)]
pub struct Ring {
    /// Empty until first used, then at least [`MIN_STORAGE`] bytes (or the
    /// capacity, if smaller) and at most the capacity.
    storage: Box<[u8]>,
    capacity: u32,
    head: u32,
    len: u32,
}

/// A position or length within a ring (always below its `u32` capacity).
fn pos(n: usize) -> u32 {
    debug_assert!(u32::try_from(n).is_ok(), "ring position {n} beyond u32");
    n as u32
}

impl Ring {
    /// A ring of `capacity` bytes (at most `u32::MAX`; larger is cut).
    pub fn new(capacity: usize) -> Ring {
        Ring {
            storage: Box::default(),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            head: 0,
            len: 0,
        }
    }

    /// Make the storage hold at least `extent` bytes from the head (at most
    /// the capacity): doubled until it does, with what it held moved so
    /// that every byte keeps its offset from the head (the head goes to 0).
    fn reserve(&mut self, extent: usize) {
        let have = self.storage.len();
        if extent <= have {
            return;
        }
        let mut size = have.max(MIN_STORAGE);
        while size < extent {
            size *= 2;
        }
        let size = size.min(self.capacity());
        let mut grown = vec![0; size].into_boxed_slice();
        if have > 0 {
            // Everything written so far lies within `have` bytes of the
            // head (in order or not): move them all, in order.
            let head = self.head();
            grown[..have - head].copy_from_slice(&self.storage[head..]);
            grown[have - head..have].copy_from_slice(&self.storage[..head]);
        }
        self.storage = grown;
        self.head = 0;
    }

    /// The storage's length: where positions wrap.
    fn wrap(&self) -> usize {
        self.storage.len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn free(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Append as much of `data` as fits; returns how much.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n > 0 {
            self.write_at(0, &data[..n]);
            self.len += pos(n);
        }
        n
    }

    /// Write `data` at `offset` bytes past the end of the contents, without
    /// making it part of the contents. Returns how much fitted.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        if n == 0 {
            return 0;
        }
        self.reserve(self.len() + offset + n);
        let cap = self.wrap();
        let start = (self.head() + self.len() + offset) % cap;
        let first = n.min(cap - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Make `n` bytes written with `write_at(0, ..)` part of the contents.
    pub fn extend(&mut self, n: usize) {
        debug_assert!(n <= self.free());
        self.len += pos(n.min(self.free()));
    }

    /// The bytes `offset .. offset + len` of the contents, as up to two slices.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let len = len.min(self.len().saturating_sub(offset));
        if len == 0 {
            return (&[], &[]);
        }
        let cap = self.wrap();
        let start = (self.head() + offset) % cap;
        let first = len.min(cap - start);
        (
            &self.storage[start..start + first],
            &self.storage[..len - first],
        )
    }

    /// Copy the bytes at `offset` into `out`; returns how many.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(offset, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }

    /// Drop `n` bytes from the front. The head only moves forward, even
    /// when the ring empties: bytes written beyond the contents (out of
    /// order) keep their place.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.len -= pos(n);
        self.head = pos((self.head() + n) % self.wrap().max(1));
    }

    /// Remove bytes from the front into `out`; returns how many.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.copy_out(0, out);
        self.consume(n);
        n
    }

    /// Raise the capacity to `capacity` before any storage is allocated
    /// (a larger ring once the segment size is known); otherwise no change.
    pub fn grow(&mut self, capacity: usize) {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        if self.storage.is_empty() && self.len == 0 && capacity > self.capacity {
            self.capacity = capacity;
        }
    }

    /// Give the ring storage to use (from a pool), if it has none yet. It
    /// keeps the size it grew to in its last ring (within this one's
    /// capacity, and at least the least a ring allocates): a pooled
    /// buffer saves the allocation, not a whole socket buffer's worth of
    /// memory for a connection that may never fill it.
    pub fn provide(&mut self, mut storage: Vec<u8>) -> Option<Vec<u8>> {
        if !self.storage.is_empty() || self.capacity == 0 {
            return Some(storage);
        }
        let size = storage
            .len()
            .clamp(MIN_STORAGE.min(self.capacity()), self.capacity());
        storage.resize(size, 0);
        self.storage = storage.into_boxed_slice();
        self.head = 0;
        None
    }

    /// Bytes of storage allocated.
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Whether storage has been allocated.
    pub fn has_storage(&self) -> bool {
        !self.storage.is_empty()
    }

    /// Drop the contents and hand back the storage (a connection that can
    /// no longer use it: TIME-WAIT, CLOSED).
    pub fn take_storage(&mut self) -> Option<Vec<u8>> {
        self.len = 0;
        self.head = 0;
        if self.storage.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.storage).into_vec())
        }
    }
}

/// Which byte ranges past the in-order data have arrived.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    /// Sorted, disjoint, non-adjacent (start, end) offsets from the end of
    /// the in-order data.
    ranges: Vec<(usize, usize)>,
}

impl Assembler {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Record `start .. end`; false (and nothing recorded) if that would
    /// need more than `max_ranges` ranges. In place: a binary search and
    /// one splice, so many holes cost little per segment.
    pub fn add(&mut self, start: usize, end: usize, max_ranges: usize) -> bool {
        if start >= end {
            return true;
        }
        // The ranges that touch or overlap start..end: from the first whose
        // end reaches `start` to the last whose start is within `end`.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        if first == last {
            if self.ranges.len() >= max_ranges {
                return false;
            }
            self.ranges.insert(first, (start, end));
            return true;
        }
        let merged = (
            start.min(self.ranges[first].0),
            end.max(self.ranges[last - 1].1),
        );
        self.ranges[first] = merged;
        self.ranges.drain(first + 1..last);
        true
    }

    /// If data at offset 0 is present, remove that range and return its
    /// length; shift the rest down by it.
    pub fn take_front(&mut self) -> usize {
        match self.ranges.first() {
            Some(&(0, end)) => {
                self.ranges.remove(0);
                for r in &mut self.ranges {
                    r.0 -= end;
                    r.1 -= end;
                }
                end
            }
            _ => 0,
        }
    }

    /// The in-order data grew by `n` without the assembler's help: shift
    /// down and drop what is now in order.
    pub fn advance(&mut self, n: usize) {
        let mut out = Vec::with_capacity(self.ranges.len());
        for &(s, e) in &self.ranges {
            if e <= n {
                continue;
            }
            out.push((s.saturating_sub(n), e - n));
        }
        self.ranges = out;
    }

    /// Forget everything at or beyond `end` (the stream ends there).
    pub fn truncate(&mut self, end: usize) {
        self.ranges.retain(|&(s, _)| s < end);
        if let Some(last) = self.ranges.last_mut() {
            last.1 = last.1.min(end);
        }
    }

    /// Bytes held out of order.
    pub fn held(&self) -> usize {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    pub fn clear(&mut self) {
        self.ranges.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_wraps() {
        let mut r = Ring::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.pop(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(r.push(b"ghijklmn"), 6);
        assert_eq!(r.len(), 8);
        let (a, b) = r.slices(0, 8);
        let mut all = a.to_vec();
        all.extend_from_slice(b);
        assert_eq!(all, b"efghijkl");
        assert_eq!(r.push(b"x"), 0);
        let (a, b) = r.slices(5, 10);
        assert_eq!([a, b].concat(), b"jkl");
    }

    #[test]
    fn out_of_order_write_then_extend() {
        let mut r = Ring::new(10);
        r.push(b"ab");
        assert_eq!(r.write_at(3, b"fgh"), 3);
        assert_eq!(r.write_at(0, b"cde"), 3);
        r.extend(6);
        let mut out = [0u8; 8];
        assert_eq!(r.pop(&mut out), 8);
        assert_eq!(&out, b"abcdefgh");
        // Nothing is written beyond the capacity.
        assert_eq!(r.write_at(9, b"zz"), 1);
        assert_eq!(r.write_at(10, b"z"), 0);
    }

    #[test]
    fn emptying_keeps_out_of_order_bytes_in_place() {
        let mut r = Ring::new(8);
        r.push(b"abc");
        r.write_at(2, b"fg");
        let mut out = [0u8; 3];
        r.pop(&mut out);
        assert!(r.is_empty());
        r.write_at(0, b"de");
        r.extend(4);
        let mut out = [0u8; 4];
        assert_eq!(r.pop(&mut out), 4);
        assert_eq!(&out, b"defg");
    }

    #[test]
    fn assembler_merges() {
        let mut a = Assembler::default();
        assert!(a.add(10, 20, 4));
        assert!(a.add(30, 40, 4));
        assert!(a.add(20, 30, 4));
        assert_eq!(a.ranges(), &[(10, 40)]);
        assert!(a.add(0, 5, 4));
        assert_eq!(a.take_front(), 5);
        assert_eq!(a.ranges(), &[(5, 35)]);
        assert_eq!(a.take_front(), 0);
        a.advance(10);
        assert_eq!(a.ranges(), &[(0, 25)]);
        assert_eq!(a.take_front(), 25);
        assert!(a.is_empty());
    }

    #[test]
    fn assembler_truncates_at_the_end_of_the_stream() {
        let mut a = Assembler::default();
        assert!(a.add(10, 20, 4));
        assert!(a.add(30, 40, 4));
        a.truncate(15);
        assert_eq!(a.ranges(), &[(10, 15)]);
        a.truncate(10);
        assert!(a.is_empty());
    }

    #[test]
    fn assembler_range_limit() {
        let mut a = Assembler::default();
        assert!(a.add(10, 11, 2));
        assert!(a.add(20, 21, 2));
        assert!(!a.add(30, 31, 2));
        assert_eq!(a.ranges().len(), 2);
        // Filling a gap merges and is always possible.
        assert!(a.add(11, 20, 2));
        assert_eq!(a.ranges(), &[(10, 21)]);
    }

    /// Storage grows with what the ring holds, from MIN_STORAGE by
    /// doubling to the capacity; in-order and out-of-order bytes keep
    /// their offsets across a growth, also when the contents wrapped.
    #[test]
    fn storage_grows_with_the_contents() {
        let cap = 64 * 1024;
        let mut r = Ring::new(cap);
        assert_eq!(r.allocated(), 0);
        assert_eq!(r.push(b"x"), 1);
        assert_eq!(r.allocated(), MIN_STORAGE);
        // Wrap within the first allocation: consume, then fill past the end.
        let mut sink = vec![0u8; 4000];
        r.push(&vec![1u8; 3999]);
        assert_eq!(r.pop(&mut sink), 4000);
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        r.push(&data);
        assert_eq!(r.allocated(), MIN_STORAGE, "wrapped, not grown");
        // Out-of-order bytes far beyond: the storage grows, all kept.
        let far: Vec<u8> = (0..500u32).map(|i| (i % 7) as u8 + 100).collect();
        assert_eq!(r.write_at(20_000, &far), 500);
        assert_eq!(r.allocated(), 32 * 1024);
        assert_eq!([r.slices(0, 3000).0, r.slices(0, 3000).1].concat(), data);
        r.extend(20_000 + 500);
        let (a, b) = r.slices(3000 + 20_000, 500);
        assert_eq!([a, b].concat(), far);
        // Never past the capacity.
        r.push(&vec![9u8; cap]);
        assert_eq!((r.len(), r.allocated()), (cap, cap));
        // A small ring allocates only its capacity.
        let mut small = Ring::new(100);
        small.push(b"a");
        assert_eq!(small.allocated(), 100);
        // Pooled storage keeps its size within the capacity: a ring does
        // not take a whole socket buffer from the pool.
        let mut pooled = Ring::new(cap);
        assert!(pooled.provide(vec![7; MIN_STORAGE]).is_none());
        assert_eq!(pooled.allocated(), MIN_STORAGE);
        let mut pooled = Ring::new(1000);
        assert!(pooled.provide(vec![7; cap]).is_none());
        assert_eq!(pooled.allocated(), 1000);
        pooled.push(b"abc");
        assert_eq!(pooled.slices(0, 3).0, b"abc");
    }
}
