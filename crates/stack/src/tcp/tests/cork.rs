//! Partial segments held back by `TCP_CORK` and `MSG_MORE`, released by
//! taking the cork off, a send without `MSG_MORE`, `TCP_NODELAY`, a FIN or
//! the persist timer (tcp(7); Linux's TCP_NAGLE_CORK and TCP_NAGLE_PUSH).

use std::time::Duration;

use super::segments::{established, Bench, Seg, ACK, FIN, IRS, PSH};

/// The peer's MSS in `established`.
const MSS: usize = 1200;

#[test]
fn a_cork_holds_partial_segments_until_it_comes_off() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_cork(c, true);
    assert!(b.s.tcp_info(c).unwrap().cork);
    // Idle, Nagle would send it at once; the cork holds it.
    b.s.tcp_send(c, &[1; 40]).unwrap();
    b.advance(Duration::from_millis(50));
    b.s.tcp_send(c, &[2; 40]).unwrap();
    b.advance(Duration::from_millis(10));
    b.nothing();
    b.s.tcp_set_cork(c, false);
    let seg = b.one();
    assert_eq!(
        (seg.flags, seg.seq, seg.data.len()),
        (PSH | ACK, iss + 1, 80)
    );
    b.send(Seg::new(ACK, IRS + 1, iss + 81));
    // Full segments are not held: 1,300 bytes give one MSS now and 100
    // bytes that wait.
    b.s.tcp_set_cork(c, true);
    b.s.tcp_send(c, &[3; 1300]).unwrap();
    // (Paced after the last segment: a moment passes.)
    b.advance(Duration::from_millis(1));
    let seg = b.one();
    assert_eq!((seg.seq, seg.data.len()), (iss + 81, MSS));
    b.send(Seg::new(ACK, IRS + 1, iss + 81 + MSS as u32));
    b.nothing();
    // Closing sends what the cork held, with the FIN.
    b.s.tcp_close(b.now, c);
    let seg = b.one();
    assert_eq!(seg.data.len(), 1300 - MSS);
    assert!(seg.flags.contains(FIN), "{seg:?}");
}

#[test]
fn msg_more_holds_until_a_send_without_it_and_marks_no_push() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_send_more(c, &[1; 40]).unwrap();
    b.s.tcp_send_more(c, &[2; 40]).unwrap();
    b.advance(Duration::from_millis(20));
    b.nothing();
    b.s.tcp_send(c, &[3; 20]).unwrap();
    let seg = b.one();
    assert_eq!(
        (seg.flags, seg.seq, seg.data.len()),
        (PSH | ACK, iss + 1, 100)
    );
    b.send(Seg::new(ACK, IRS + 1, iss + 101));
    // TCP_NODELAY pushes what MSG_MORE held, without PSH (more was to
    // follow), as Linux does.
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send_more(c, &[4; 40]).unwrap();
    b.s.tcp_send_more(c, &[5; 40]).unwrap();
    b.nothing();
    b.s.tcp_set_nodelay(c, true);
    let seg = b.one();
    assert_eq!((seg.flags, seg.seq, seg.data.len()), (ACK, iss + 101, 80));
}

#[test]
fn nodelay_pushes_once_through_a_cork() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_cork(c, true);
    b.s.tcp_send(c, &[1; 80]).unwrap();
    b.nothing();
    b.s.tcp_set_nodelay(c, true);
    let seg = b.one();
    assert_eq!(
        (seg.flags, seg.seq, seg.data.len()),
        (PSH | ACK, iss + 1, 80)
    );
    b.send(Seg::new(ACK, IRS + 1, iss + 81));
    // Still corked: the next partial segment waits again.
    b.s.tcp_send(c, &[2; 80]).unwrap();
    b.advance(Duration::from_millis(100));
    b.nothing();
    // Setting TCP_NODELAY with nothing queued leaves no push behind.
    let mut b = Bench::new(|_| {});
    let (c, _) = established(&mut b);
    b.s.tcp_set_cork(c, true);
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send(c, &[1; 80]).unwrap();
    b.advance(Duration::from_millis(100));
    b.nothing();
}

/// With nothing in flight, the persist timer sends what the cork holds
/// (tcp(7)'s 200 ms ceiling on corking).
#[test]
fn corked_data_goes_when_the_persist_timer_fires() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_cork(c, true);
    let start = b.now;
    b.s.tcp_send(c, &[1; 80]).unwrap();
    let mut seg = None;
    while seg.is_none() && b.now.saturating_since(start) < Duration::from_secs(5) {
        b.advance(Duration::from_millis(5));
        seg = b.recv().pop();
    }
    let seg = seg.expect("the persist timer sends the corked data");
    // Pushed, as Linux's tcp_write_wakeup marks it.
    assert_eq!(
        (seg.flags, seg.seq, seg.data.len()),
        (PSH | ACK, iss + 1, 80)
    );
    let held = b.now.saturating_since(start);
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(1200)).contains(&held),
        "held {held:?}"
    );
}

/// MSG_MORE holds a partial segment for that send only: the next segment
/// from the peer lets Nagle (here off) decide again, and the segment still
/// carries no PSH; a cork, by contrast, outlasts ACKs.
#[test]
fn an_ack_releases_what_msg_more_held_but_not_what_a_cork_holds() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send_more(c, &[1; MSS + 100]).unwrap();
    b.advance(Duration::from_millis(1));
    let seg = b.one();
    assert_eq!((seg.flags, seg.data.len()), (ACK, MSS));
    b.s.tcp_send_more(c, &[2; 50]).unwrap();
    b.advance(Duration::from_millis(1));
    b.nothing();
    b.send(Seg::new(ACK, IRS + 1, iss + 1 + MSS as u32));
    let seg = b.one();
    assert_eq!((seg.flags, seg.data.len()), (ACK, 150));

    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_set_cork(c, true);
    b.s.tcp_send(c, &[1; MSS + 100]).unwrap();
    b.advance(Duration::from_millis(1));
    assert_eq!(b.one().data.len(), MSS);
    b.send(Seg::new(ACK, IRS + 1, iss + 1 + MSS as u32));
    b.advance(Duration::from_millis(1));
    b.nothing();
}

/// Data the cork held had the persist timer armed (nothing in flight);
/// once it goes into the open window it is timed by the retransmission
/// timer: lost, it is sent again whole, not probed a byte at a time.
#[test]
fn uncorked_data_lost_is_retransmitted_whole() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_cork(c, true);
    b.s.tcp_send(c, &[1; 40]).unwrap();
    b.advance(Duration::from_millis(20));
    b.nothing();
    b.s.tcp_set_cork(c, false);
    let first = b.one();
    assert_eq!((first.seq, first.data.len()), (iss + 1, 40));
    // Lost: no answer. What comes next is the whole segment again.
    let mut next = None;
    for _ in 0..5_000 {
        b.advance(Duration::from_millis(1));
        if let Some(s) = b.recv().pop() {
            next = Some(s);
            break;
        }
    }
    let again = next.expect("a retransmission");
    assert_eq!((again.seq, again.data.len()), (iss + 1, 40), "{again:?}");
}

/// A push (`TCP_NODELAY` set with data queued) ends when the queue has
/// gone, whichever path sent it — here a window probe into a closed
/// window — so it does not let a later partial segment through the cork.
#[test]
fn a_push_ends_when_the_queue_has_gone_by_any_path() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    // The peer closes its window.
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.s.tcp_set_cork(c, true);
    b.s.tcp_send(c, &[1; 1]).unwrap();
    b.s.tcp_set_nodelay(c, true);
    // The one byte leaves as a window probe; the peer then takes it and
    // opens its window.
    let mut probe = None;
    for _ in 0..5_000 {
        b.advance(Duration::from_millis(1));
        if let Some(s) = b.recv().pop() {
            probe = Some(s);
            break;
        }
    }
    let probe = probe.expect("a window probe");
    assert_eq!((probe.seq, probe.data.len()), (iss + 1, 1));
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    // Still corked, no push left: a partial segment waits.
    b.s.tcp_send(c, &[2; 80]).unwrap();
    b.advance(Duration::from_millis(50));
    b.nothing();
}
