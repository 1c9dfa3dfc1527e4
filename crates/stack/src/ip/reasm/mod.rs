//! Reassembly of fragmented datagrams (RFC 791 §3.2, RFC 815, RFC 1122
//! §3.3.2), with hard limits.
//!
//! Fragments are never trusted:
//! * a duplicate — a fragment within what is already held, such as a
//!   repeated middle fragment after its neighbours arrived — is dropped on
//!   its own;
//! * any other overlap discards the whole datagram (as Linux has done since
//!   4.19, in the spirit of RFC 5722), so overlapping fragments can never be
//!   used to rewrite a header that a firewall already inspected;
//! * a last fragment that disagrees with an earlier one about the total
//!   length, data past the end, or a non-final fragment whose length is not a
//!   multiple of 8 discards the datagram.
//!
//! Memory is bounded: a datagram can never exceed 65535 bytes, the number of
//! datagrams under reassembly and the bytes they hold together are capped,
//! and when a new fragment would pass either cap the *oldest* datagram is
//! dropped (Linux evicts the same way), so a flood of junk fragments cannot
//! starve reassembly forever nor grow memory.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_wire::{ipv4, Protocol};

use crate::time::Instant;

/// Identifies the fragments of one datagram (RFC 791: source, destination,
/// protocol and identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
}

/// Cost charged per held byte range, on top of the data itself.
const RANGE_COST: usize = 16;

#[derive(Debug)]
struct Partial {
    /// Header of the fragment at offset 0, once it arrived (options included).
    first_header: Option<Vec<u8>>,
    /// Payload bytes, indexed by offset.
    data: Vec<u8>,
    /// Received byte ranges, sorted and disjoint.
    ranges: Vec<(usize, usize)>,
    /// End of the datagram's payload, once the last fragment arrived.
    total: Option<usize>,
    deadline: Instant,
    /// Arrival order, for evicting the oldest.
    serial: u64,
}

impl Partial {
    fn cost(&self) -> usize {
        self.data.len()
            + self.ranges.len() * RANGE_COST
            + self.first_header.as_ref().map_or(0, Vec::len)
    }

    fn complete(&self) -> bool {
        match self.total {
            Some(total) => {
                self.first_header.is_some()
                    && self.ranges.len() == 1
                    && self.ranges[0] == (0, total)
            }
            None => false,
        }
    }
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum ReassemblyOutcome {
    /// Held; the datagram is not complete yet.
    Held,
    /// The datagram is complete: the whole datagram, as if never fragmented.
    Complete(Vec<u8>),
    /// An exact duplicate of a held fragment; dropped alone.
    Duplicate,
    /// The fragment (and, for overlaps and inconsistencies, its datagram)
    /// was discarded.
    Discarded(Discard),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    Overlap,
    Inconsistent,
    /// A non-final fragment whose payload is not a multiple of 8 bytes.
    BadLength,
    /// No room even after evicting older datagrams.
    NoMemory,
}

/// A datagram whose reassembly timer ran out.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired {
    pub key: FragKey,
    /// The first fragment's header and up to 8 bytes of its payload, when
    /// fragment zero was received: what the ICMP time exceeded must quote.
    pub quote: Option<Vec<u8>>,
}

/// Reassembly buffers of one host.
#[derive(Debug)]
pub struct Reassembler {
    partials: BTreeMap<FragKey, Partial>,
    bytes: usize,
    serial: u64,
    timeout: Duration,
    max_bytes: usize,
    max_datagrams: usize,
    /// Datagrams dropped to make room.
    pub evicted: u64,
}

impl Reassembler {
    pub fn new(timeout: Duration, max_bytes: usize, max_datagrams: usize) -> Reassembler {
        Reassembler {
            partials: BTreeMap::new(),
            bytes: 0,
            serial: 0,
            timeout,
            max_bytes: max_bytes.max(ipv4::MAX_DATAGRAM),
            max_datagrams: max_datagrams.max(1),
            evicted: 0,
        }
    }

    /// Bytes currently held.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams currently under reassembly.
    pub fn len(&self) -> usize {
        self.partials.len()
    }

    pub fn is_empty(&self) -> bool {
        self.partials.is_empty()
    }

    /// The earliest reassembly deadline.
    pub fn poll_at(&self) -> Option<Instant> {
        self.partials.values().map(|p| p.deadline).min()
    }

    /// Add a fragment (a checked datagram with MF set or a non-zero offset).
    pub fn add(&mut self, now: Instant, packet: &ipv4::Packet<&[u8]>) -> ReassemblyOutcome {
        let key = FragKey {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: u8::from(packet.protocol()),
            ident: packet.ident(),
        };
        let payload = packet.payload();
        let start = usize::from(packet.frag_offset());
        let end = start + payload.len();
        let last = !packet.more_frags();
        // An empty fragment carries nothing and could only end up inside
        // a held run: Linux discards the datagram for it (`end == offset`).
        if payload.is_empty() || !last && payload.len() % 8 != 0 {
            self.discard(&key);
            return ReassemblyOutcome::Discarded(Discard::BadLength);
        }
        if end + packet.header_len() > ipv4::MAX_DATAGRAM {
            self.discard(&key);
            return ReassemblyOutcome::Discarded(Discard::Inconsistent);
        }

        if !self.partials.contains_key(&key) {
            if !self.make_room(0, true) {
                return ReassemblyOutcome::Discarded(Discard::NoMemory);
            }
            self.serial += 1;
            self.partials.insert(
                key,
                Partial {
                    first_header: None,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    deadline: now + self.timeout,
                    serial: self.serial,
                },
            );
        }

        // Check consistency before touching anything.
        let verdict = {
            let p = &self.partials[&key];
            check(p, start, end, last)
        };
        match verdict {
            Check::Duplicate => return ReassemblyOutcome::Duplicate,
            Check::Bad(reason) => {
                self.discard(&key);
                return ReassemblyOutcome::Discarded(reason);
            }
            Check::Fits => {}
        }

        // Account for growth, evicting older datagrams if needed.
        let old_cost = self.partials[&key].cost();
        let growth = end.saturating_sub(self.partials[&key].data.len())
            + RANGE_COST
            + if start == 0 { packet.header_len() } else { 0 };
        if !self.make_room_for(&key, growth) {
            self.discard(&key);
            return ReassemblyOutcome::Discarded(Discard::NoMemory);
        }
        let p = self.partials.get_mut(&key).expect("present");
        if p.data.len() < end {
            p.data.resize(end, 0);
        }
        p.data[start..end].copy_from_slice(payload);
        insert_range(&mut p.ranges, start, end);
        if last {
            p.total = Some(end);
        }
        if start == 0 {
            p.first_header = Some(packet.header().to_vec());
        }
        let new_cost = p.cost();
        self.bytes = self.bytes + new_cost - old_cost;

        if !p.complete() {
            return ReassemblyOutcome::Held;
        }
        let p = self.partials.remove(&key).expect("present");
        self.bytes -= p.cost();
        // Each fragment was checked against its own header's length;
        // fragment zero's (options included) is the one the datagram gets,
        // and with it the whole may pass 65,535 bytes (Linux's
        // ip_frag_reasm: "Oversized IP packet").
        let header = p.first_header.as_ref().map_or(0, Vec::len);
        if header + p.data.len() > ipv4::MAX_DATAGRAM {
            return ReassemblyOutcome::Discarded(Discard::Inconsistent);
        }
        ReassemblyOutcome::Complete(assemble(p))
    }

    /// Drop datagrams whose timer ran out (RFC 1122 §3.3.2); returns what the
    /// ICMP time-exceeded messages (code 1) must quote.
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        if self.partials.is_empty() {
            return Vec::new();
        }
        let due: Vec<FragKey> = self
            .partials
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for key in due {
            if let Some(p) = self.partials.remove(&key) {
                self.bytes -= p.cost();
                // As much of the datagram's start as arrived, up to what
                // a 576-byte error can carry (Linux quotes the head
                // fragment as any error quotes its datagram; the ICMP
                // layer cuts the quote to fit).
                let quote = p.first_header.as_ref().map(|h| {
                    let mut q = h.clone();
                    let n = p.ranges.first().map_or(0, |r| r.1.min(576));
                    q.extend_from_slice(&p.data[..n]);
                    q
                });
                out.push(Expired { key, quote });
            }
        }
        out
    }

    fn discard(&mut self, key: &FragKey) {
        if let Some(p) = self.partials.remove(key) {
            self.bytes -= p.cost();
        }
    }

    /// Make room for a new datagram entry.
    fn make_room(&mut self, growth: usize, new_entry: bool) -> bool {
        while self.bytes + growth > self.max_bytes
            || new_entry && self.partials.len() >= self.max_datagrams
        {
            if !self.evict_oldest(None) {
                return false;
            }
        }
        true
    }

    fn make_room_for(&mut self, keep: &FragKey, growth: usize) -> bool {
        while self.bytes + growth > self.max_bytes {
            if !self.evict_oldest(Some(keep)) {
                return false;
            }
        }
        true
    }

    fn evict_oldest(&mut self, keep: Option<&FragKey>) -> bool {
        let oldest = self
            .partials
            .iter()
            .filter(|(k, _)| Some(*k) != keep)
            .min_by_key(|(_, p)| p.serial)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.discard(&k);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }
}

enum Check {
    Fits,
    Duplicate,
    Bad(Discard),
}

fn check(p: &Partial, start: usize, end: usize, last: bool) -> Check {
    if let Some(total) = p.total {
        if end > total || last && end != total {
            return Check::Bad(Discard::Inconsistent);
        }
    }
    if last {
        if let Some(&(_, max_end)) = p.ranges.last() {
            if max_end > end {
                return Check::Bad(Discard::Inconsistent);
            }
        }
    }
    for &(s, e) in &p.ranges {
        // Held ranges are merged runs of fragments: a fragment inside one
        // repeats what arrived (a duplicated packet) and is dropped alone,
        // as Linux's inet_frag_queue_insert answers IPFRAG_DUP for it.
        if s <= start && end <= e {
            return Check::Duplicate;
        }
        if start < e && s < end {
            return Check::Bad(Discard::Overlap);
        }
    }
    Check::Fits
}

/// Insert a disjoint range and merge neighbours.
fn insert_range(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    let at = ranges.partition_point(|&(s, _)| s < start);
    ranges.insert(at, (start, end));
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}

fn assemble(p: Partial) -> Vec<u8> {
    let header = p.first_header.expect("complete datagram has fragment zero");
    let total = header.len() + p.data.len();
    let mut out = header;
    out.extend_from_slice(&p.data);
    let mut packet = ipv4::Packet::new_unchecked(&mut out[..]);
    // At most MAX_DATAGRAM: checked before assembling.
    packet.set_total_len(u16::try_from(total).unwrap_or(u16::MAX));
    let df = packet.dont_frag();
    packet.set_frag(df, false, 0);
    packet.fill_checksum();
    out
}

/// The protocol of a key, for callers that want it typed.
impl FragKey {
    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.protocol)
    }
}

#[cfg(test)]
mod tests;
