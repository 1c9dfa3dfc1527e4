//! What a run records for a report (issue 14): every datagram a link was
//! offered, with what became of it, and the stacks' own TCP events.
//!
//! Off unless [`SimOptions::record`](crate::SimOptions) asks: then the
//! simulator keeps a copy of each datagram's headers (not its payload) and
//! takes each stack's [`TraceEvent`]s after every event that ran it.

use tcplab_stack::tcp::TraceEvent;
use tcplab_stack::Instant;

/// Datagrams recorded at most (about 250 MB); later ones are counted in
/// [`Recording::unrecorded`] only. A 1 GB transfer over two links is about
/// 1.5 million.
pub const MAX_PACKETS: usize = 1_000_000;

/// The stacks' TCP events recorded at most (state changes, timers, and
/// congestion-control samples: a long fast transfer makes one per ACK,
/// about 150 bytes each with the node, so some 300 MB at the cap); later
/// ones are counted in
/// [`Recording::tcp_unrecorded`] only, so a recording's memory stays
/// bounded however long the run.
pub const MAX_TCP_EVENTS: usize = 2_000_000;

/// Bytes of each datagram kept: the IPv4 header with options and the
/// largest TCP header (60 + 60).
pub const HEAD_BYTES: usize = 120;

/// What became of a datagram a link direction was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fate {
    /// Crossed the link and arrived.
    Delivered,
    /// Arrived twice (netem `duplicate`).
    Duplicated,
    /// Arrived with a bit flipped.
    Corrupted,
    /// Lost on the medium (random or bursty loss).
    Lost,
    /// Dropped: the sender's queue was full.
    QueueFull,
    /// Dropped: larger than the link's MTU.
    TooBig,
    /// Refused: the link was down.
    LinkDown,
    /// Nobody on the link has the next-hop address.
    NoNeighbour,
}

impl Fate {
    /// Whether the datagram went onto the link (what the closing table
    /// and the link's capture count): not refused by its queue, its MTU,
    /// a link that was down, or for want of a neighbour.
    pub fn on_wire(self) -> bool {
        !matches!(
            self,
            Fate::QueueFull | Fate::TooBig | Fate::LinkDown | Fate::NoNeighbour
        )
    }

    /// Whether the datagram arrived somewhere.
    pub fn arrived(self) -> bool {
        matches!(self, Fate::Delivered | Fate::Duplicated | Fate::Corrupted)
    }

    pub fn name(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::Duplicated => "duplicated",
            Fate::Corrupted => "corrupted",
            Fate::Lost => "lost",
            Fate::QueueFull => "queue",
            Fate::TooBig => "too-big",
            Fate::LinkDown => "down",
            Fate::NoNeighbour => "no-neighbour",
        }
    }
}

/// One datagram offered to a link direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRecord {
    pub time: Instant,
    /// The link (index in the scenario's `segments`) and the sending
    /// member's index on it.
    pub link: usize,
    pub from: usize,
    /// The sending node (index in the scenario's `nodes`).
    pub node: usize,
    /// The whole datagram's length, and its first [`HEAD_BYTES`] bytes.
    pub len: usize,
    pub head: Box<[u8]>,
    pub fate: Fate,
    /// When and at which node it (its first copy) arrived.
    pub arrival: Option<(Instant, usize)>,
    /// Packets in the direction's queue once this one was offered (itself
    /// included, unless it was dropped): waiting or being sent.
    pub queue: u32,
}

/// A router's packet policy at one moment: how often each rule matched,
/// the flows it tracks by state, its NAT mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySample {
    pub time: Instant,
    pub node: usize,
    /// Packets each rule matched: (index in [`Recording::rules`], count),
    /// in the order of the index.
    pub hits: Vec<(usize, u64)>,
    /// Tracked flows by state (`ESTABLISHED`, `TIME_WAIT`, ... for TCP;
    /// `UNREPLIED` or `REPLIED` for the rest).
    pub flows: Vec<(String, usize)>,
    /// NAT: the mappings in use, and each as "inside -> outside port".
    pub mappings: Vec<String>,
    /// Packets dropped by ACLs, security groups, NAT; packets translated.
    pub dropped: [u64; 3],
    pub translated: u64,
    /// Packets security groups rejected (a TCP reset or an ICMP error
    /// sent back; not among `dropped`).
    pub rejected: u64,
}

/// Everything a recording run kept.
#[derive(Debug, Default, Clone)]
pub struct Recording {
    pub packets: Vec<PacketRecord>,
    /// Datagrams past [`MAX_PACKETS`], not recorded.
    pub unrecorded: u64,
    /// TCP events of each node's stack: (node, event), in time order.
    pub tcp: Vec<(usize, TraceEvent)>,
    /// TCP events past [`MAX_TCP_EVENTS`], not recorded.
    pub tcp_unrecorded: u64,
    /// Every rule of a filtering router that has existed, as `fw -L`
    /// names it: (node, label). Rules added during the run come later.
    pub rules: Vec<(usize, String)>,
    /// Routers' packet policies, sampled after every event that ran them
    /// and kept when something changed — at most one sample per router
    /// per millisecond when only counters moved, and at most
    /// [`MAX_POLICY_SAMPLES`] in all.
    pub policy: Vec<PolicySample>,
    /// Rule ids by (node, label), and each router's last sample.
    pub(crate) rule_ids: std::collections::BTreeMap<(usize, String), usize>,
    pub(crate) last_policy: std::collections::BTreeMap<usize, usize>,
}

/// Policy samples kept at most.
pub const MAX_POLICY_SAMPLES: usize = 200_000;

/// Samples whose only change is in counters are kept this far apart.
pub const POLICY_SAMPLE_SPACING: std::time::Duration = std::time::Duration::from_millis(1);

impl PolicySample {
    /// Packets rule `id` had matched.
    pub fn hits_of(&self, id: usize) -> u64 {
        self.hits
            .binary_search_by_key(&id, |h| h.0)
            .map_or(0, |i| self.hits[i].1)
    }
}

impl Recording {
    /// Whether another datagram may be recorded.
    pub(crate) fn has_room(&self) -> bool {
        self.packets.len() < MAX_PACKETS
    }

    pub(crate) fn push_packet(&mut self, p: PacketRecord) {
        if self.packets.len() < MAX_PACKETS {
            self.packets.push(p);
        } else {
            self.unrecorded += 1;
        }
    }

    /// Keep a node's TCP events while fewer than `cap` are kept; count
    /// the rest.
    pub(crate) fn push_tcp(&mut self, node: usize, events: Vec<TraceEvent>, cap: usize) {
        let room = cap.saturating_sub(self.tcp.len());
        self.tcp_unrecorded += events.len().saturating_sub(room) as u64;
        self.tcp
            .extend(events.into_iter().take(room).map(|e| (node, e)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TCP events kept stop at the cap and the rest are counted, so
    /// a long run's recording stays bounded.
    #[test]
    fn tcp_events_stop_at_the_cap_and_are_counted() {
        let ev = |us: u64| TraceEvent::Timer {
            time: Instant::from_micros(us),
            local: "10.0.0.1:1".parse().unwrap(),
            remote: "10.0.0.2:2".parse().unwrap(),
            timer: tcplab_stack::tcp::Timer::Retransmit,
        };
        let mut r = Recording::default();
        r.push_tcp(0, vec![ev(1), ev(2)], 3);
        r.push_tcp(1, vec![ev(3), ev(4), ev(5)], 3);
        r.push_tcp(1, vec![ev(6)], 3);
        assert_eq!(r.tcp.len(), 3);
        assert_eq!(r.tcp[2], (1, ev(3)));
        assert_eq!(r.tcp_unrecorded, 3);
        // What MAX_TCP_EVENTS and docs/report.md say one costs.
        let each = std::mem::size_of::<(usize, TraceEvent)>();
        assert!(each <= 160, "{each} bytes an event");
    }
}
