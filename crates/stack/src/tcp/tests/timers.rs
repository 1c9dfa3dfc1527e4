//! Each timer over long stretches of virtual time: it fires when it must,
//! as often as it must, and not otherwise.

use std::time::Duration;

use super::segments::{established, Bench, Seg, ACK, FIN, IRS};
use crate::tcp::{State, Timer};

const HOUR: Duration = Duration::from_secs(3600);

// RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: keep-alive probes an idle
// connection once per keep-alive time; answered, it stays up for ever.
#[test]
fn answered_keepalives_keep_an_idle_connection_for_ten_hours() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    let mut probes = 0;
    for _ in 0..10 * 60 {
        b.advance(Duration::from_secs(60));
        for p in b.recv() {
            assert_eq!((p.seq, p.data.len()), (iss, 0), "SEG.SEQ = SND.NXT - 1");
            probes += 1;
            b.send(Seg::new(ACK, IRS + 1, iss + 1));
        }
    }
    // Default keep-alive time: two hours.
    assert_eq!(probes, 5);
    assert_eq!(b.state(c), State::Established);
}

// RFC 9293 §3.6.1: TIME-WAIT lasts exactly 2·MSL (MSL 30 s by default).
#[test]
fn time_wait_lasts_two_msl_then_the_connection_is_gone() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_close(b.now, c);
    assert_eq!(b.one().flags, ACK | FIN);
    b.send(Seg::new(ACK | FIN, IRS + 1, iss + 2));
    b.recv();
    assert_eq!(b.state(c), State::TimeWait);
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.timer.map(|t| t.0), Some(Timer::TimeWait));
    b.advance(Duration::from_secs(60) - Duration::from_micros(1));
    assert_eq!(b.state(c), State::TimeWait);
    b.advance(Duration::from_micros(1));
    assert!(b.s.tcp_info(c).is_none(), "an orphan in TIME-WAIT is freed");
    b.advance(HOUR);
    b.nothing();
}

// Linux's tcp_fin_timeout: an orphaned connection in FIN-WAIT-2 whose
// peer never sends its FIN is dropped after 2·MSL...
#[test]
fn an_orphan_in_fin_wait_2_times_out() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_close(b.now, c);
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    assert_eq!(b.state(c), State::FinWait2);
    b.advance(Duration::from_secs(59));
    assert_eq!(b.state(c), State::FinWait2);
    b.advance(Duration::from_secs(1));
    assert!(b.s.tcp_info(c).is_none());
    assert_eq!(b.s.tcp_sockets().len(), 1, "only the listener");
}

// An orphan in FIN-WAIT-2 is what Linux keeps as a timewait socket: `ss -o`
// shows its timeout as `timewait`, not the keep-alive timer the
// application had set on it (curl's sockets have keep-alive on).
#[test]
fn an_orphan_in_fin_wait_2_shows_its_timeout_not_keepalive() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    b.s.tcp_close(b.now, c);
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    assert_eq!(b.state(c), State::FinWait2);
    let timer = b.s.tcp_info(c).unwrap().timer;
    assert_eq!(
        timer,
        Some((Timer::TimeWait, b.now + Duration::from_secs(60)))
    );
}

// ... but a half-closed connection the application still holds waits for
// the peer's FIN as long as it takes (RFC 9293 §3.6: the peer may go on
// sending).
#[test]
fn a_half_closed_connection_waits_in_fin_wait_2() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    b.advance(HOUR);
    b.nothing();
    assert_eq!(b.state(c), State::FinWait2);
    b.send(Seg::new(ACK, IRS + 1, iss + 2).data(b"late"));
    let mut buf = [0u8; 8];
    assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(4));
}

// RFC 6298 §5: the retransmission timer runs only while data is in
// flight; an idle connection is silent for an hour.
#[test]
fn an_idle_connection_sends_nothing() {
    let mut b = Bench::new(|_| {});
    let (c, _) = established(&mut b);
    b.advance(HOUR);
    b.nothing();
    assert_eq!(b.s.tcp_info(c).unwrap().timer, None);
    assert_eq!(b.s.poll_timeout(), None);
}

// RFC 9293 §3.6.1 through the table's TIME-WAIT queue: connections that
// enter TIME-WAIT one after another leave it exactly 2·MSL later each, also
// when the MSL is shortened in between (the shorter deadlines come before
// ones already queued: they go to the ordered timer set), and the table's
// bookkeeping stays consistent at every step.
#[test]
fn time_wait_queue_keeps_each_deadline_when_msl_changes() {
    use super::pair::{sa, Pair};
    use std::net::Ipv4Addr;

    let mut p = Pair::new(11, 1500, |_| {});
    p.delay = Duration::from_millis(1);
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16).unwrap();
    // (handle, when it entered TIME-WAIT, its 2·MSL)
    let mut waiting = Vec::new();
    for i in 0..8 {
        if i == 4 {
            p.a.tcp.config.msl = Duration::from_secs(5);
        }
        let c = open_and_close(&mut p, l);
        assert!(p.run_until(Duration::from_secs(1), |p| {
            p.a.tcp_info(c).is_some_and(|i| i.state == State::TimeWait)
        }));
        waiting.push((c, p.now, p.a.tcp.config.msl * 2));
        p.run_for(Duration::from_millis(700));
    }
    let end = p.now + Duration::from_secs(61);
    while p.now < end {
        p.a.tcp.check_invariants().unwrap();
        for &(c, at, wait) in &waiting {
            let state = p.a.tcp_info(c).map(|i| i.state);
            if p.now < at + wait {
                assert_eq!(state, Some(State::TimeWait), "{c:?} at {:?}", p.now);
            } else {
                assert_eq!(state, None, "{c:?} still there at {:?}", p.now);
            }
        }
        if !p.step() {
            break;
        }
    }
    assert!(waiting.iter().all(|&(c, ..)| p.a.tcp_info(c).is_none()));
}

// Linux's tcp_max_tw_buckets: past `max_time_wait` connections in
// TIME-WAIT, one closed by its application skips TIME-WAIT (gone at
// once, counted as TCPTimeWaitOverflow), so short connections in a flood
// cannot fill memory with records; the table stays consistent.
#[test]
fn time_wait_is_bounded_by_max_time_wait() {
    use super::pair::{sa, Pair};
    use std::net::Ipv4Addr;

    let mut p = Pair::new(12, 1500, |c| c.tcp.max_time_wait = 2);
    p.delay = Duration::from_millis(1);
    let l = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 80), 16).unwrap();
    for _ in 0..6 {
        open_and_close(&mut p, l);
        p.run_for(Duration::from_millis(100));
        p.a.tcp.check_invariants().unwrap();
    }
    let waiting = p
        .a
        .tcp_sockets()
        .iter()
        .filter(|(_, s)| {
            matches!(s, crate::tcp::SocketSnapshot::Connection(i) if i.state == State::TimeWait)
        })
        .count();
    assert!((1..=3).contains(&waiting), "{waiting} in TIME-WAIT");
    assert_eq!(p.a.stats().tcp.time_wait_overflow, 6 - waiting as u64);
}

/// A connection from a to b's listener `l`, accepted, then closed by
/// both (a first): a's handle.
fn open_and_close(
    p: &mut super::pair::Pair,
    l: crate::socket::TcpHandle,
) -> crate::socket::TcpHandle {
    let c =
        p.a.tcp_connect(p.now, super::pair::sa(super::pair::B, 80), None)
            .unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(1), |p| {
        s = s.or(p.b.tcp_accept(l).ok());
        s.is_some()
    }));
    p.a.tcp_close(p.now, c);
    p.b.tcp_close(p.now, s.unwrap());
    c
}

/// A port chosen by the application (`nc -p`) is bound before the peer is
/// known, as bind(2) then connect(2): while a connection of that port
/// lingers in TIME-WAIT — or any socket holds it — a new connection from
/// it fails with "Address already in use" whatever its peer (Linux's
/// inet_csk_bind_conflict without SO_REUSEADDR); once 2·MSL has passed the
/// port is free again.
#[test]
fn a_chosen_port_in_time_wait_is_in_use_for_every_peer() {
    use super::pair::{sa, Pair, B};
    use crate::socket::BindError;
    use crate::tcp::ConnectError;
    use std::net::Ipv4Addr;

    let mut p = Pair::new(13, 1500, |_| {});
    p.delay = Duration::from_millis(1);
    let l9 = p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 9), 16).unwrap();
    p.b.tcp_listen(sa(Ipv4Addr::UNSPECIFIED, 7), 16).unwrap();
    let mine = sa(Ipv4Addr::new(10, 0, 0, 1), 5556);
    let c = p.a.tcp_connect(p.now, sa(B, 9), Some(mine)).unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(1), |p| {
        s = s.or(p.b.tcp_accept(l9).ok());
        s.is_some()
    }));
    // While it is open, a second connection from the port is refused too.
    let in_use = Err(ConnectError::Bind(BindError::AddrInUse {
        addr: *mine.ip(),
        port: 5556,
    }));
    assert_eq!(p.a.tcp_connect(p.now, sa(B, 7), Some(mine)), in_use);
    p.a.tcp_close(p.now, c);
    p.b.tcp_close(p.now, s.unwrap());
    assert!(p.run_until(Duration::from_secs(1), |p| {
        p.a.tcp_info(c).is_some_and(|i| i.state == State::TimeWait)
    }));
    for port in [9, 7] {
        assert_eq!(
            p.a.tcp_connect(p.now, sa(B, port), Some(mine)),
            in_use,
            "to port {port}"
        );
    }
    // A port of the stack's choosing still goes to that peer.
    assert!(p.a.tcp_connect(p.now, sa(B, 7), None).is_ok());
    let msl = p.a.tcp.config.msl;
    p.run_for(2 * msl + Duration::from_secs(1));
    assert!(p.a.tcp_connect(p.now, sa(B, 7), Some(mine)).is_ok());
}

/// A chosen port with no address binds the wildcard (bind(2) to
/// 0.0.0.0:port): it meets a socket on that port at any of the host's
/// addresses, not only at the one the route would pick.
#[test]
fn a_chosen_port_without_an_address_meets_every_address() {
    use super::pair::{sa, Pair, B};
    use crate::socket::BindError;
    use crate::tcp::ConnectError;
    use std::net::Ipv4Addr;

    let mut p = Pair::new(14, 1500, |_| {});
    p.a.add_interface("eth1", "10.0.5.1/24".parse().unwrap(), 1500)
        .unwrap();
    // A connection from the second address's port 5556.
    let other = sa(Ipv4Addr::new(10, 0, 5, 1), 5556);
    p.a.tcp_connect(p.now, sa(B, 9), Some(other)).unwrap();
    // The wildcard meets it, though the route to B would pick 10.0.0.1.
    let any = sa(Ipv4Addr::UNSPECIFIED, 5556);
    assert!(matches!(
        p.a.tcp_connect(p.now, sa(B, 7), Some(any)),
        Err(ConnectError::Bind(BindError::AddrInUse { port: 5556, .. }))
    ));
    // The first address named outright is another matter (Linux, too).
    let first = sa(Ipv4Addr::new(10, 0, 0, 1), 5556);
    assert!(p.a.tcp_connect(p.now, sa(B, 7), Some(first)).is_ok());
}
