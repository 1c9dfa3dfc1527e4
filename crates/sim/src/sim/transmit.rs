//! A node's datagrams onto its links: delivered, lost or queued by the
//! link, recorded for the report, or held while a neighbour is resolved
//! in vain.

use super::*;

impl Sim {
    pub(super) fn transmit(&mut self, node: usize, t: Transmit, bytes: Vec<u8>) {
        let Some(&(segment, member)) = self.nodes[node].attachments.get(&t.iface) else {
            // An interface on no link (a cable never plugged in): nobody
            // answers for the next hop, so, as on a link without that
            // neighbour, the sender hears "host unreachable" when
            // resolution would have given up — a kernel's failed ARP,
            // not a silent loss. A broadcast needs no neighbour: it is
            // simply gone.
            if !(t.next_hop.is_broadcast() || t.next_hop.is_multicast()) {
                self.no_neighbour(node, &t, bytes);
            }
            return;
        };
        let now = self.now;
        let noted = self
            .recording
            .as_ref()
            .is_some_and(|r| r.has_room())
            .then(|| {
                let head: Box<[u8]> = bytes[..bytes.len().min(record::HEAD_BYTES)].into();
                (head, bytes.len(), self.segments[segment].dirs[member].stats)
            });
        let delivery = self.segments[segment].transmit(now, member, t.next_hop, bytes);
        match noted {
            Some((head, len, before)) => {
                self.note_packet(node, (segment, member), (head, len), before, &delivery);
            }
            None => {
                if let Some(rec) = self.recording.as_mut() {
                    rec.unrecorded += 1;
                }
            }
        }
        match delivery {
            Delivery::Arrivals(list) => {
                for (time, to, data) in list {
                    self.schedule_arrival((segment, member), time, to, data);
                }
            }
            Delivery::NoNeighbour(bytes) => self.no_neighbour(node, &t, bytes),
            Delivery::Dropped => {}
        }
    }

    /// Nobody answers for `t`'s next hop: the datagram waits with any
    /// others for that neighbour, and the sender hears of each when the
    /// resolution gives up, `NEIGHBOUR_TIMEOUT` after the first began it
    /// (Linux's INCOMPLETE neighbour and its queue; the next datagram
    /// after that begins a new try). Beyond `NEIGHBOUR_QUEUE` held, the
    /// oldest is dropped unanswered (Linux's `unres_discards`).
    pub(super) fn no_neighbour(&mut self, node: usize, t: &Transmit, bytes: Vec<u8>) {
        let key = (node, t.iface, t.next_hop);
        if let Some(queue) = self.resolving.get_mut(&key) {
            if queue.len() == NEIGHBOUR_QUEUE {
                queue.pop_front();
            }
            queue.push_back(bytes);
            return;
        }
        self.resolving.insert(key, VecDeque::from([bytes]));
        self.schedule(
            self.now + NEIGHBOUR_TIMEOUT,
            EventKind::Unreachable(Box::new(key)),
        );
    }

    /// Record a datagram offered to a link and what became of it (from the
    /// direction's counters before and after).
    fn note_packet(
        &mut self,
        node: usize,
        (segment, member): (usize, usize),
        (head, len): (Box<[u8]>, usize),
        before: DirStats,
        delivery: &Delivery,
    ) {
        let seg = &self.segments[segment];
        let after = seg.dirs[member].stats;
        let mut arrival = None;
        let fate = match delivery {
            Delivery::NoNeighbour(_) => Fate::NoNeighbour,
            Delivery::Dropped if after.down > before.down => Fate::LinkDown,
            Delivery::Dropped if after.too_big > before.too_big => Fate::TooBig,
            Delivery::Dropped if after.queue_drops > before.queue_drops => Fate::QueueFull,
            Delivery::Dropped => Fate::Lost,
            Delivery::Arrivals(list) => {
                arrival = list
                    .iter()
                    .map(|(t, to, _)| (*t, seg.members[*to].node))
                    .min();
                if after.corrupted > before.corrupted {
                    Fate::Corrupted
                } else if after.duplicated > before.duplicated && list.len() > 1 {
                    Fate::Duplicated
                } else {
                    Fate::Delivered
                }
            }
        };
        let queue = seg.dirs[member].queued(self.now) as u32;
        if let Some(rec) = self.recording.as_mut() {
            rec.push_packet(PacketRecord {
                time: self.now,
                link: segment,
                from: member,
                node,
                len,
                head,
                fate,
                arrival,
                queue,
            });
        }
    }
}
