//! Places for a server's connections, and whose place a newcomer takes
//! when all are taken.
//!
//! A server serves at most so many connections at once (bounded memory).
//! With every place taken, a new connection takes the place of the one
//! that holds its place for least: the one waiting longest for a request
//! (or its TLS handshake, or its next line), else the one whose response
//! has made no progress for longest, at least [`STALLED`] — progress being
//! [`PROGRESS`] bytes taken by the client. So clients that connect and
//! send nothing, trickle their requests (slowloris), never read or read a
//! segment now and then cannot lock others out. With every place busy
//! with a response that moves, the newcomer still gets in when its peer
//! (client address) holds at least two fewer places than the peer
//! holding most: it takes the place of that peer's response that moved
//! least recently. So
//! a flood from one address, however fast and whatever it reads, keeps
//! others out for no longer than it takes them to connect (as nginx's
//! `limit_conn` per address, without a fixed limit that would refuse a
//! lone busy client); a newcomer is refused only when its own address
//! already holds no more than one place fewer than any. The evicted
//! connection's task sees [`Slot::evicted`] and ends.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use tcplab_host::Host;
use tcplab_stack::Instant;

/// A response that has made no progress for this long may lose its place
/// to a new connection when every place is taken. Short, because a flood
/// of clients that ask and never read keeps every place only by opening
/// more than places ÷ `STALLED` connections a second (at 10 s, 52 a
/// second held `serve http`'s 512 places: an outside QA run over TUN); a
/// client taking at least `PROGRESS` bytes a second keeps its place.
pub const STALLED: Duration = Duration::from_secs(1);
/// What a response must move to count as progress.
pub const PROGRESS: usize = 16 * 1024;

/// The places of one server.
#[derive(Debug)]
pub struct Places {
    host: Host,
    max: usize,
    taken: RefCell<Vec<Rc<Place>>>,
}

/// What one connection is doing, for choosing whom a newcomer replaces.
#[derive(Debug)]
struct Place {
    /// The client's address (`None` on a local socket: all alike).
    peer: Option<Ipv4Addr>,
    /// Waiting for a request (or the TLS handshake), rather than busy
    /// with one.
    waiting: Cell<bool>,
    /// Since when it waits; or, busy, when its response last moved
    /// [`PROGRESS`] bytes.
    since: Cell<Instant>,
    /// Bytes moved since `since`.
    moved: Cell<usize>,
    evicted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A connection's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    places: Rc<Places>,
    place: Rc<Place>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.places.taken.borrow_mut();
        if let Some(i) = taken.iter().position(|p| Rc::ptr_eq(p, &self.place)) {
            taken.swap_remove(i);
        }
    }
}

impl Slot {
    /// Waiting for a request (or input) from now.
    pub fn waiting(&self) {
        self.place.waiting.set(true);
        self.place.since.set(self.places.host.now());
    }

    /// Busy with a request from now.
    pub fn busy(&self) {
        self.place.waiting.set(false);
        self.place.since.set(self.places.host.now());
        self.place.moved.set(0);
    }

    /// The response moved `n` bytes; now and then that is progress.
    pub fn moved(&self, n: usize) {
        let moved = self.place.moved.get() + n;
        if moved >= PROGRESS {
            self.place.since.set(self.places.host.now());
            self.place.moved.set(0);
        } else {
            self.place.moved.set(moved);
        }
    }

    /// Ready when a newcomer has taken this connection's place: its task
    /// then ends (and the connection closes).
    pub fn evicted(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.place.evicted.get() {
                Poll::Ready(())
            } else {
                *self.place.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

impl Places {
    /// `max` places.
    pub fn new(host: &Host, max: usize) -> Rc<Places> {
        Rc::new(Places {
            host: host.clone(),
            max,
            taken: RefCell::new(Vec::new()),
        })
    }

    /// Connections holding a place.
    pub fn len(&self) -> usize {
        self.taken.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A place for a new connection from `peer`, waiting for a request: a
    /// free one, or the place of the connection waiting longest, or else
    /// of the one whose response has not moved for longest (at least
    /// [`STALLED`]), or else, when `peer` holds at least two fewer places
    /// than the peer holding most, of that peer's response that moved
    /// least recently. `None` when every place is busy with a moving
    /// response and `peer` holds no more than one fewer than any peer.
    pub fn admit(self: &Rc<Self>, peer: Option<Ipv4Addr>) -> Option<Slot> {
        let now = self.host.now();
        let mut taken = self.taken.borrow_mut();
        if taken.len() >= self.max {
            let oldest = |waiting: bool| {
                taken
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.waiting.get() == waiting)
                    .filter(|(_, p)| waiting || now.saturating_since(p.since.get()) >= STALLED)
                    .min_by_key(|(_, p)| p.since.get())
                    .map(|(i, _)| i)
            };
            let victim = oldest(true)
                .or_else(|| oldest(false))
                .or_else(|| fair_share(&taken, peer))?;
            let place = taken.swap_remove(victim);
            place.evicted.set(true);
            let waker = place.waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
        let place = Rc::new(Place {
            peer,
            waiting: Cell::new(true),
            since: Cell::new(now),
            moved: Cell::new(0),
            evicted: Cell::new(false),
            waker: RefCell::new(None),
        });
        taken.push(place.clone());
        Some(Slot {
            places: self.clone(),
            place,
        })
    }
}

/// With every place busy and moving: the place a newcomer from `peer`
/// takes, if `peer` holds fewer places than the peer holding most (by at
/// least two, so that two peers do not take turns evicting each other) —
/// that peer's place whose response moved least recently.
fn fair_share(taken: &[Rc<Place>], peer: Option<Ipv4Addr>) -> Option<usize> {
    let mut held: BTreeMap<Option<Ipv4Addr>, usize> = BTreeMap::new();
    for p in taken {
        *held.entry(p.peer).or_default() += 1;
    }
    // The most places; among peers holding as many, the lowest address,
    // so that the choice is the same in every run.
    let (&heavy, &most) = held
        .iter()
        .max_by_key(|&(a, n)| (*n, std::cmp::Reverse(*a)))?;
    let mine = held.get(&peer).copied().unwrap_or(0);
    if mine + 1 >= most {
        return None;
    }
    taken
        .iter()
        .enumerate()
        .filter(|(_, p)| p.peer == heavy)
        .min_by_key(|(_, p)| p.since.get())
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every place busy and moving, a newcomer gets in only from an
    /// address holding at least two fewer places than the heaviest, and
    /// it takes that address's place that moved least recently; shares
    /// even out and then stay.
    #[test]
    fn busy_places_go_to_the_lighter_address() {
        let host = Host::new(
            "web",
            tcplab_stack::Stack::new(tcplab_stack::Config::default()),
        );
        let places = Places::new(&host, 4);
        let (a, b) = (
            Some(Ipv4Addr::new(10, 0, 0, 1)),
            Some(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let flood: Vec<Slot> = (0..4).map(|_| places.admit(a).expect("free")).collect();
        for s in &flood {
            s.busy();
        }
        // Half a second on (not yet stalled), all four have moved, the
        // first longest ago.
        for (i, s) in flood.iter().enumerate() {
            host.set_time(Instant::ZERO + Duration::from_millis(100 * i as u64 + 1));
            s.moved(PROGRESS);
        }
        host.set_time(Instant::ZERO + Duration::from_millis(500));
        let b1 = places.admit(b).expect("b holds none, a four");
        assert!(flood[0].place.evicted.get() && !flood[3].place.evicted.get());
        b1.busy();
        let b2 = places.admit(b).expect("b holds one, a three");
        assert!(flood[1].place.evicted.get());
        b2.busy();
        // Two each: neither takes from the other.
        assert!(places.admit(b).is_none());
        assert!(places.admit(a).is_none());
        assert_eq!(places.len(), 4);
        // A local socket's clients count as one more peer: holding none,
        // they take from the lower of the two equal addresses.
        let _local = places.admit(None).expect("none held by local clients");
        assert!(flood[2].place.evicted.get() && !b1.place.evicted.get());
    }
}
