//! Emptied in-flight boxes kept per thread for the next burst, so that a
//! connection cycle neither allocates nor frees one per burst (issue 13).

use super::{Flight, Sent, SentKey};

thread_local! {
    /// Emptied in-flight boxes kept for the next burst: every connection
    /// takes one for its SYN, for each burst of data and for its FIN and
    /// gives it back when the queue empties (so an idle connection holds
    /// none), and the allocation and freeing showed in the profile of
    /// connection cycles (issue 13); a bulk sender whose queue empties at
    /// every ACK would otherwise grow its records again from nothing each
    /// burst. Per thread, at most `SPARE_FLIGHTS` boxes holding at most
    /// `SPARE_BYTES` of storage between them (a box larger than that is
    /// freed).
    /// What a box holds does not depend on its history (it is reset to
    /// the empty box, capacity aside), so behaviour stays deterministic.
    pub(super) static SPARE: core::cell::RefCell<Spares> =
        const { core::cell::RefCell::new(Spares { boxes: Vec::new(), bytes: 0 }) };
}

/// The spare list and the storage its boxes hold.
pub(super) struct Spares {
    #[expect(
        clippy::vec_box,
        reason = "the boxes themselves are reused: a queue holds a Box<Flight>"
    )]
    pub(super) boxes: Vec<Box<Flight>>,
    pub(super) bytes: usize,
}

/// How many emptied boxes a thread keeps, and how much storage they may
/// hold between them (a megabyte-buffer sender's flight of about 700
/// records fits).
pub(super) const SPARE_FLIGHTS: usize = 16;
pub(super) const SPARE_BYTES: usize = 256 * 1024;

impl Flight {
    /// The heap storage the box's collections hold (the `pending` set is
    /// empty whenever a box is emptied, so it holds none).
    pub(super) fn storage(&self) -> usize {
        self.records.capacity() * core::mem::size_of::<Sent>()
            + self.in_flight.capacity() * core::mem::size_of::<(SentKey, u64)>()
            + self.lost_log.capacity() * core::mem::size_of::<Sent>()
    }
}

pub(super) fn spare_flight() -> Box<Flight> {
    // (`try_with`: during the thread's teardown there is no list.)
    SPARE
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let f = s.boxes.pop()?;
            s.bytes -= f.storage();
            Some(f)
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub(super) fn recycle_flight(mut f: Box<Flight>) {
    let storage = f.storage();
    if storage > SPARE_BYTES {
        return;
    }
    let (mut records, mut in_flight, mut lost_log) = (
        core::mem::take(&mut f.records),
        core::mem::take(&mut f.in_flight),
        core::mem::take(&mut f.lost_log),
    );
    records.clear();
    in_flight.clear();
    lost_log.clear();
    *f = Flight {
        records,
        in_flight,
        lost_log,
        ..Flight::default()
    };
    let _ = SPARE.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.boxes.len() < SPARE_FLIGHTS && s.bytes + storage <= SPARE_BYTES {
            s.bytes += storage;
            s.boxes.push(f);
        }
    });
}
