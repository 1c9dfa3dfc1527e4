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
//! segment now and then cannot lock others out; a newcomer is refused
//! only when every place is busy with a response that moves. The evicted
//! connection's task sees [`Slot::evicted`] and ends.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
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

    /// A place for a new connection, waiting for a request: a free one, or
    /// the place of the connection waiting longest, or else of the one
    /// whose response has not moved for longest (at least [`STALLED`]);
    /// `None` when every place is busy with a moving response.
    pub fn admit(self: &Rc<Self>) -> Option<Slot> {
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
            let victim = oldest(true).or_else(|| oldest(false))?;
            let place = taken.swap_remove(victim);
            place.evicted.set(true);
            let waker = place.waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
        let place = Rc::new(Place {
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
