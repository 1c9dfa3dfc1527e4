//! Links and LANs: who is attached, what each member's sending direction
//! does to packets, and the capture tap.

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::Ipv4Addr;
use std::path::Path;

use smallvec::SmallVec;
use tcplab_stack::{IfaceId, Instant};
use tcplab_wire::pcap::{LinkType, PcapWriter};
use tcplab_wire::Cidr;

use crate::impair::{DirStats, Direction, Offer};

/// One attachment to a segment.
#[derive(Debug, Clone)]
pub struct Member {
    pub node: usize,
    pub iface: IfaceId,
    pub addr: Cidr,
}

/// A point-to-point link (two members) or a LAN (more).
#[derive(Debug)]
pub struct Segment {
    pub name: String,
    pub members: Vec<Member>,
    /// What each member sends goes through its own direction.
    pub dirs: Vec<Direction>,
    /// Directions taken down by the timeline: nothing they are offered
    /// crosses.
    down: Vec<bool>,
    capture: Option<PcapWriter<BufWriter<File>>>,
    /// Members by address, on a LAN big enough for a search to cost
    /// (the first member with an address, as the search finds it).
    by_addr: Option<std::collections::HashMap<Ipv4Addr, usize>>,
}

/// Members past which a LAN keeps an index by address.
const INDEXED_MEMBERS: usize = 16;

/// The copies of one datagram that arrive: to which member, when. Nearly
/// always one (two with a duplicate, more on a broadcast), held inline so
/// that a datagram's way across a link allocates nothing.
pub type Arrivals = SmallVec<[(Instant, usize, Vec<u8>); 2]>;

/// Where a transmitted datagram goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// To these members, at these times.
    Arrivals(Arrivals),
    /// Nobody on the segment has the next-hop address: the datagram, back.
    NoNeighbour(Vec<u8>),
    /// Dropped by the link (queue full, too big) or lost on the medium.
    Dropped,
}

impl Segment {
    pub fn new(name: String, members: Vec<Member>, dirs: Vec<Direction>) -> Segment {
        let by_addr = (members.len() > INDEXED_MEMBERS).then(|| {
            let mut map = std::collections::HashMap::with_capacity(members.len());
            for (i, m) in members.iter().enumerate() {
                map.entry(m.addr.address()).or_insert(i);
            }
            map
        });
        Segment {
            name,
            down: vec![false; dirs.len()],
            members,
            dirs,
            capture: None,
            by_addr,
        }
    }

    /// Capture what crosses this segment into `dir/NAME.pcap`.
    pub fn open_capture(&mut self, dir: &Path) -> io::Result<()> {
        let file = File::create(dir.join(format!("{}.pcap", self.name)))?;
        self.capture = Some(PcapWriter::new(BufWriter::new(file), LinkType::Ipv4)?);
        Ok(())
    }

    pub fn finish_capture(&mut self) -> io::Result<()> {
        if let Some(c) = self.capture.as_mut() {
            c.flush()?;
        }
        Ok(())
    }

    pub fn member_of(&self, node: usize, iface: IfaceId) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.node == node && m.iface == iface)
    }

    fn is_broadcast(&self, addr: Ipv4Addr) -> bool {
        addr.is_broadcast()
            || self
                .members
                .iter()
                .any(|m| m.addr.broadcast() == Some(addr))
    }

    /// Take what member `m` sends down or up again; whether that changed
    /// anything.
    pub fn set_up(&mut self, m: usize, up: bool) -> bool {
        match self.down.get_mut(m) {
            Some(d) if *d == up => {
                *d = !up;
                true
            }
            _ => false,
        }
    }

    /// Member `from` puts `bytes` on the segment for `next_hop` at `now`.
    pub fn transmit(
        &mut self,
        now: Instant,
        from: usize,
        next_hop: Ipv4Addr,
        bytes: Vec<u8>,
    ) -> Delivery {
        let targets: SmallVec<[usize; 4]> = if self.is_broadcast(next_hop) {
            (0..self.members.len()).filter(|&m| m != from).collect()
        } else {
            let found = match &self.by_addr {
                Some(map) => map.get(&next_hop).copied(),
                None => self
                    .members
                    .iter()
                    .position(|m| m.addr.address() == next_hop),
            };
            match found.filter(|&m| m != from) {
                Some(m) => SmallVec::from_iter([m]),
                None => return Delivery::NoNeighbour(bytes),
            }
        };
        // A direction that is down takes nothing (the cable is out): the
        // capture does not see it either.
        if self.down[from] {
            self.dirs[from].stats.down += 1;
            return Delivery::Dropped;
        }
        // The tap sees what the sender's interface puts on the wire: after
        // the drop-tail queue, before the medium's loss and corruption.
        let dir = &mut self.dirs[from];
        let before = dir.stats.queue_drops + dir.stats.too_big;
        let tap_copy = self.capture.as_ref().map(|_| bytes.clone());
        let offer = dir.offer(now, bytes);
        let queued = dir.stats.queue_drops + dir.stats.too_big == before;
        if let (Some(cap), Some(copy), true) = (self.capture.as_mut(), tap_copy, queued) {
            // A capture that cannot be written must not stop the run; the
            // error surfaces when the capture is finished.
            // Stamped on the simulator's wall clock, as the hosts' own
            // tools (`tcpdump -w`, HTTP dates) see it: time 0 is LAB_EPOCH.
            let _ = cap.write_packet(tcplab_host::LAB_EPOCH + now.since_origin(), &copy);
        }
        match offer {
            Offer::Dropped => Delivery::Dropped,
            Offer::Sent(copies) if copies.is_empty() => Delivery::Dropped,
            Offer::Sent(copies) => {
                let mut out = Arrivals::new();
                for (t, data) in copies {
                    // The last target takes the datagram itself.
                    if let Some((&last, others)) = targets.split_last() {
                        for &m in others {
                            out.push((t, m, data.clone()));
                        }
                        out.push((t, last, data));
                    }
                }
                Delivery::Arrivals(out)
            }
        }
    }

    /// Statistics per sending member.
    pub fn stats(&self) -> Vec<(usize, DirStats)> {
        self.dirs
            .iter()
            .enumerate()
            .map(|(i, d)| (i, d.stats))
            .collect()
    }
}
