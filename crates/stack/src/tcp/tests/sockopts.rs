//! Per-socket options (`setsockopt`): a socket bound and not listening,
//! TTL and TOS on every segment and reset, buffer sizes and keep-alive
//! times per socket, and what a listener's connections inherit.

use std::time::Duration;

use tcplab_wire::ipv4;

use super::pair::sa;
use super::segments::{established, Bench, Seg, ACK, IRS, PEER_PORT, PORT, RST, SYN, THEM, US};
use crate::socket::{RecvError, SocketError};
use crate::tcp::{SocketOptions, State, MAX_SOCKET_BUFFER};
use crate::time::Instant;

/// TTL and TOS of the last datagram sent.
fn marks(b: &Bench) -> (u8, u8) {
    let last = b.sent.last().expect("a datagram was sent");
    let p = ipv4::Packet::new_checked(&last[..]).unwrap();
    (p.ttl(), p.tos())
}

#[test]
fn bound_socket_answers_as_closed_with_its_marks_then_listens() {
    let mut b = Bench::new(|_| {});
    let opts = SocketOptions {
        ttl: Some(4),
        tos: 0x20,
        recv_buffer: Some(4000),
        ..SocketOptions::default()
    };
    let h = b.s.tcp_bind(sa(US, PORT), opts).unwrap();
    // The address is held.
    assert!(b
        .s
        .tcp_bind(sa(US, PORT), SocketOptions::default())
        .is_err());
    assert!(b.s.tcp_listen(sa(US, PORT), 1).is_err());
    // Not listening: RFC 9293 §3.10.7.1, with the socket's TTL and TOS.
    b.send(Seg::new(SYN, IRS, 0));
    let rst = b.one();
    assert_eq!((rst.flags, rst.seq, rst.ack), (RST | ACK, 0, IRS + 1));
    assert_eq!(marks(&b), (4, 0x20));
    assert_eq!(
        b.s.tcp_accept(h),
        Err(RecvError::Socket(SocketError::InvalidArgument))
    );
    // `ss` does not list it.
    assert!(b.s.tcp_sockets().is_empty());

    assert!(b.s.tcp_listen_bound(h, 1));
    b.send(Seg::new(SYN, IRS, 0));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    // The listener's receive buffer is the window (no scaling here).
    assert_eq!(synack.win, 4000);
    assert_eq!(marks(&b), (4, 0x20));
    b.send(Seg::new(ACK, IRS + 1, synack.seq + 1));
    let c = b.s.tcp_accept(h).unwrap();
    assert_eq!(b.state(c), State::Established);
    // The connection inherited the options; new ones count at once.
    assert_eq!(b.s.tcp_options(c), Some(opts));
    assert_eq!(b.s.tcp_info(c).unwrap().recv_buffer, 4000);
    let changed = SocketOptions {
        ttl: Some(9),
        tos: 0xe0,
        ..opts
    };
    assert!(b.s.tcp_set_options(c, changed));
    b.s.tcp_send(c, b"x").unwrap();
    let data = b.one();
    assert_eq!(data.data, b"x");
    assert_eq!(marks(&b), (9, 0xe0));
    // An abort's reset carries them too.
    b.s.tcp_abort(b.now, c);
    assert_eq!(b.one().flags, RST | ACK);
    assert_eq!(marks(&b), (9, 0xe0));
}

#[test]
fn keepalive_times_and_buffers_per_socket() {
    let mut b = Bench::new(|_| {});
    let opts = SocketOptions {
        keepalive_time: Some(Duration::from_secs(5)),
        keepalive_interval: Some(Duration::from_secs(2)),
        keepalive_probes: Some(1),
        send_buffer: Some(3),
        ..SocketOptions::default()
    };
    let (them, us) = (sa(THEM, PEER_PORT), Some(sa(US, PORT)));
    let c = b.s.tcp_connect_with(b.now, them, us, opts).unwrap();
    let syn = b.one();
    b.send(Seg::new(SYN | ACK, IRS, syn.seq + 1));
    assert_eq!(b.one().flags, ACK);
    // The send buffer holds 3 bytes.
    assert_eq!(b.s.tcp_send(c, b"hello"), Ok(3));
    b.one();
    b.send(Seg::new(ACK, IRS + 1, syn.seq + 4));
    b.s.tcp_set_keepalive(c, true);
    // The host's keep-alive time is two hours; this socket's is 5 s.
    b.advance(Duration::from_millis(4900));
    b.nothing();
    b.advance(Duration::from_millis(200));
    let probe = b.one();
    assert_eq!((probe.flags, probe.seq), (ACK, syn.seq + 3));
    // One probe unanswered for the interval: dead.
    b.advance(Duration::from_millis(2100));
    assert_eq!(b.state(c), State::Closed);
    assert_eq!(b.s.tcp_take_error(c), Some(SocketError::TimedOut));
}

#[test]
fn buffer_and_mss_requests_are_bounded() {
    let mut b = Bench::new(|_| {});
    let huge = SocketOptions {
        recv_buffer: Some(usize::MAX),
        send_buffer: Some(0),
        max_seg: Some(1),
        ..SocketOptions::default()
    };
    let h = b.s.tcp_bind(sa(US, PORT), huge).unwrap();
    let got = b.s.tcp_options(h).unwrap();
    assert_eq!(got.recv_buffer, Some(MAX_SOCKET_BUFFER));
    assert_eq!(got.send_buffer, Some(1));
    assert_eq!(got.max_seg, Some(88));
}

#[test]
fn a_listeners_mss_ceiling_is_announced_with_or_without_a_cookie() {
    let mut b = Bench::new(|t| {
        t.max_syn_backlog = 1;
        t.syncookies = true;
    });
    let opts = SocketOptions {
        max_seg: Some(1000),
        ..SocketOptions::default()
    };
    let h = b.s.tcp_bind(sa(US, PORT), opts).unwrap();
    assert!(b.s.tcp_listen_bound(h, 8));
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    let synack = b.one();
    assert_eq!((synack.flags, synack.mss), (SYN | ACK, Some(1000)));
    // The SYN queue is full now: the next SYN gets a cookie, same MSS.
    b.from = sa(THEM, PEER_PORT + 1);
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    let cookie = b.one();
    assert_eq!((cookie.flags, cookie.mss), (SYN | ACK, Some(1000)));
    assert_eq!(b.s.stats().tcp.syncookies_sent, 1);
}

#[test]
fn a_closed_bound_socket_frees_its_port() {
    let mut b = Bench::new(|_| {});
    let h =
        b.s.tcp_bind(sa(US, PORT), SocketOptions::default())
            .unwrap();
    b.s.tcp_close(b.now, h);
    let again = b.s.tcp_bind(sa(US, PORT), SocketOptions::default());
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn keepalive_settings_are_kept_in_range() {
    let mut b = Bench::new(|_| {});
    let zero = SocketOptions {
        keepalive_time: Some(Duration::ZERO),
        keepalive_interval: Some(Duration::from_secs(1 << 20)),
        keepalive_probes: Some(0),
        ..SocketOptions::default()
    };
    let h = b.s.tcp_bind(sa(US, PORT), zero).unwrap();
    let got = b.s.tcp_options(h).unwrap();
    assert_eq!(got.keepalive_time, Some(Duration::from_secs(1)));
    assert_eq!(got.keepalive_interval, Some(Duration::from_secs(32_767)));
    assert_eq!(got.keepalive_probes, Some(1));
}

#[test]
fn zero_keepalive_times_in_the_host_config_do_not_spin() {
    // A host configured with zero times (a sysctl can say so) probes at
    // most once a millisecond, and the connection ends after its probes.
    let mut b = Bench::new(|t| {
        t.keepalive_time = Duration::ZERO;
        t.keepalive_interval = Duration::ZERO;
        t.keepalive_probes = 3;
    });
    let (c, _) = super::segments::established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    b.advance(Duration::from_millis(10));
    let mut probes = b.recv();
    // Three probes, then the reset that ends it.
    assert_eq!(probes.pop().map(|s| s.flags), Some(RST | ACK));
    assert_eq!(probes.len(), 3, "{probes:#?}");
    assert_eq!(b.state(c), State::Closed);
}

/// The time of each segment the stack sends while the clock advances to
/// `until`, and whether the connection closed with `TimedOut` by then.
fn send_times(b: &mut Bench, c: crate::socket::TcpHandle, until: Duration) -> Vec<Duration> {
    let start = b.now;
    let mut times = Vec::new();
    while b.now.saturating_since(start) < until {
        b.advance(Duration::from_millis(1));
        for _ in b.recv() {
            times.push(b.now.saturating_since(start));
        }
        if b.state(c) == State::Closed {
            break;
        }
    }
    times
}

fn user_timeout(ms: u64) -> SocketOptions {
    SocketOptions {
        user_timeout: Some(Duration::from_millis(ms)),
        ..SocketOptions::default()
    }
}

fn timed_out(b: &mut Bench, c: crate::socket::TcpHandle) -> bool {
    let mut buf = [0u8; 1];
    b.state(c) == State::Closed
        && b.s.tcp_recv(c, &mut buf) == Err(RecvError::Socket(SocketError::TimedOut))
}

/// RFC 9293 §3.9.1's user timeout (RFC 5482, Linux's TCP_USER_TIMEOUT):
/// unacknowledged data is given up after that long, counted from its
/// first transmission, whatever R2's count says — and on time: the last
/// backed-off timer is shortened to end with it.
#[test]
fn user_timeout_gives_up_unacknowledged_data_on_time() {
    // Without it, 15 retries and a 1 s RTO take minutes.
    let mut b = Bench::new(|c| c.rto_min = Duration::from_secs(1));
    let (c, _) = established(&mut b);
    assert!(b.s.tcp_set_options(c, user_timeout(2500)));
    b.s.tcp_send(c, b"x").unwrap();
    assert_eq!(b.recv().len(), 1);
    let times = send_times(&mut b, c, Duration::from_secs(10));
    // Retransmissions at 1 s and 3 s would be next; the timer after the
    // first is cut to end at 2.5 s.
    assert_eq!(times, [Duration::from_secs(1)]);
    assert!(timed_out(&mut b, c), "closed at {:?}", b.now);
    assert_eq!(
        b.now.saturating_since(Instant::from_secs(10)),
        Duration::from_millis(2500)
    );

    // Unset (zero, as Linux's 0): the count rules, the connection lives on.
    let mut b = Bench::new(|c| c.rto_min = Duration::from_secs(1));
    let (c, _) = established(&mut b);
    assert!(b.s.tcp_set_options(c, user_timeout(0)));
    assert_eq!(b.s.tcp_options(c).unwrap().user_timeout, None);
    b.s.tcp_send(c, b"x").unwrap();
    b.advance(Duration::from_secs(10));
    assert_eq!(b.state(c), State::Established);
}

/// A user timeout longer than R2's count lets the connection retry
/// beyond it (it replaces the count, as on Linux); an acknowledgment
/// starts the count of a later stall afresh.
#[test]
fn user_timeout_replaces_the_retry_count_and_restarts_with_progress() {
    let mut b = Bench::new(|c| {
        c.rto_min = Duration::from_secs(1);
        c.rto_max = Duration::from_secs(1);
        c.data_retries = 2;
    });
    let (c, iss) = established(&mut b);
    assert!(b.s.tcp_set_options(c, user_timeout(5500)));
    b.s.tcp_send(c, b"x").unwrap();
    assert_eq!(b.recv().len(), 1);
    // Four retransmissions (twice R2's count), then the peer answers.
    b.advance(Duration::from_millis(4200));
    assert_eq!(b.recv().len(), 4);
    b.send(Seg::new(ACK, IRS + 1, iss + 2));
    assert_eq!(b.state(c), State::Established);
    // A new stall: 5.5 s from the new data's first transmission.
    b.s.tcp_send(c, b"y").unwrap();
    assert_eq!(b.recv().len(), 1);
    let times = send_times(&mut b, c, Duration::from_secs(10));
    assert_eq!(times.len(), 5, "{times:?}");
    assert!(timed_out(&mut b, c));
    assert_eq!(
        b.now.saturating_since(Instant::from_millis(14_200)),
        Duration::from_millis(5500)
    );
}

/// With a user timeout, keep-alive gives up once the peer has been
/// silent that long and a probe went unanswered, not after the count of
/// probes (Linux's tcp_keepalive_timer()).
#[test]
fn user_timeout_bounds_keepalive() {
    let mut b = Bench::new(|c| {
        c.keepalive_time = Duration::from_secs(10);
        c.keepalive_interval = Duration::from_secs(10);
        c.keepalive_probes = 9;
    });
    let (c, _) = established(&mut b);
    b.s.tcp_set_keepalive(c, true);
    assert!(b.s.tcp_set_options(c, user_timeout(15_000)));
    // A probe at 10 s; at 20 s the peer has been silent 20 s: the reset
    // instead of a second probe.
    let times = send_times(&mut b, c, Duration::from_secs(120));
    assert_eq!(times, [Duration::from_secs(10), Duration::from_secs(20)]);
    // (The last datagram is that reset: the TCP flags of a 20-byte IP header.)
    let last = b.sent.last().unwrap();
    assert_eq!(last[20 + 13] & 0x14, 0x14, "RST|ACK");
    assert!(timed_out(&mut b, c));
    assert_eq!(
        b.now.saturating_since(Instant::from_secs(10)),
        Duration::from_secs(20)
    );
}

/// Window probes the peer does not answer end at the user timeout; probes
/// it answers (its window still closed) keep the connection (RFC 1122
/// §4.2.2.17), however long.
#[test]
fn user_timeout_bounds_unanswered_window_probes() {
    let mut b = Bench::new(|c| {
        c.rto_min = Duration::from_secs(1);
    });
    let (c, iss) = established(&mut b);
    assert!(b.s.tcp_set_options(c, user_timeout(3000)));
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    b.s.tcp_send(c, b"hello").unwrap();
    b.nothing();
    // Probes answered at once: alive after two minutes.
    let mut probes = 0;
    for _ in 0..12_000 {
        b.advance(Duration::from_millis(10));
        if !b.recv().is_empty() {
            probes += 1;
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
    }
    assert!(probes >= 3, "{probes} probes");
    assert_eq!(b.state(c), State::Established);
    // Silence: given up 3 s after the first unanswered probe.
    let start = b.now;
    let times = send_times(&mut b, c, Duration::from_secs(120));
    assert!(!times.is_empty());
    assert!(timed_out(&mut b, c), "still {:?}", b.state(c));
    let first = start + times[0];
    assert_eq!(b.now.saturating_since(first), Duration::from_secs(3));
}

/// A timeout's stall ends when the peer answers by closing its window:
/// from then on only unanswered window probes count, so a peer that
/// answers every probe is kept beyond the user timeout.
#[test]
fn user_timeout_after_a_timeout_then_answered_probes_keeps_the_connection() {
    let mut b = Bench::new(|c| c.rto_min = Duration::from_secs(1));
    let (c, iss) = established(&mut b);
    assert!(b.s.tcp_set_options(c, user_timeout(3000)));
    b.s.tcp_send(c, b"hello").unwrap();
    assert_eq!(b.recv().len(), 1);
    // The first retransmission timeout, then the peer closes its window.
    b.advance(Duration::from_millis(1500));
    assert_eq!(b.recv().len(), 1);
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
    let mut probes = 0;
    for _ in 0..2_000 {
        b.advance(Duration::from_millis(10));
        if !b.recv().is_empty() {
            probes += 1;
            b.send(Seg::new(ACK, IRS + 1, iss + 1).win(0));
        }
    }
    assert!(probes >= 2, "{probes} probes");
    assert_eq!(b.state(c), State::Established);
}

/// BSD's `TCP_KEEPINIT` (`SocketOptions::connect_timeout`): the attempt
/// ends when its time is up, not at the next backed-off SYN timeout after
/// it; and the host's `connect_timeout` does the same for sockets that set
/// none.
#[test]
fn connect_timeout_ends_the_attempt_on_time() {
    // (Host limit, socket limit, when it ends, SYNs sent: at 0, 1, 3, …
    // seconds — none at the deadline itself.)
    for (host, socket, ends, sent) in [
        (None, Some(5), 5_000, 3),
        (Some(4), None, 4_000, 3),
        (Some(100), Some(2), 2_000, 2),
        // No limit: seven retransmissions, 1 + 2 + … + 64 s, then the
        // timer's ceiling (120 s) — RFC 9293's MUST-20, three minutes.
        (None, None, 247_000, 8),
    ] {
        let mut b = Bench::new(|t| t.connect_timeout = host.map(Duration::from_secs));
        let opts = SocketOptions {
            connect_timeout: socket.map(Duration::from_secs),
            ..SocketOptions::default()
        };
        let start = b.now;
        let (them, us) = (sa(THEM, PEER_PORT), Some(sa(US, PORT)));
        let c = b.s.tcp_connect_with(b.now, them, us, opts).unwrap();
        let mut syns = 0;
        while b.state(c) != State::Closed && b.now.saturating_since(start).as_secs() < 600 {
            syns += b.recv().len();
            b.advance(Duration::from_millis(1));
        }
        let took = b.now.saturating_since(start).as_millis();
        assert!(
            (ends..=ends + 2).contains(&took),
            "{host:?}/{socket:?}: ended after {took} ms, {syns} SYNs"
        );
        assert_eq!(syns, sent, "{host:?}/{socket:?}");
        assert_eq!(b.s.tcp_take_error(c), Some(SocketError::TimedOut));
    }
    // Clamped to at least a second.
    let o = SocketOptions {
        connect_timeout: Some(Duration::from_millis(10)),
        ..SocketOptions::default()
    };
    assert_eq!(o.clamped().connect_timeout, Some(Duration::from_secs(1)));
}

/// BSD's `TCP_NOOPT` (`SocketOptions::no_options`): a SYN and a <SYN,ACK>
/// without any option, so the peer's SACK-permitted, TSopt and window
/// scale are not taken up and it uses the default MSS towards us.
#[test]
fn no_options_sends_bare_syns_and_negotiates_nothing() {
    let bare = |s: &Seg| {
        s.mss.is_none() && s.wscale.is_none() && !s.sack_ok && s.ts.is_none() && s.sack.is_empty()
    };
    let opts = SocketOptions {
        no_options: true,
        ..SocketOptions::default()
    };
    // Active open.
    let mut b = Bench::new(|t| t.window_scaling = true);
    let (them, us) = (sa(THEM, PEER_PORT), Some(sa(US, PORT)));
    let c = b.s.tcp_connect_with(b.now, them, us, opts).unwrap();
    let syn = b.one();
    assert!(bare(&syn), "{syn:?}");
    let mut synack = Seg::new(SYN | ACK, IRS, syn.seq + 1)
        .sack_ok()
        .ts(7, 0)
        .mss(1000);
    synack.wscale = Some(7);
    b.send(synack);
    let ack = b.one();
    assert!(bare(&ack), "{ack:?}");
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.state, State::Established);
    assert!(!info.sack && !info.timestamps);
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
    // The peer's MSS still counts (RFC 9293 §3.7.1).
    assert_eq!(info.peer_mss, 1000);

    // Passive open: the listener's connections inherit it (and a SYN
    // cookie's <SYN,ACK>, below).
    let mut b = Bench::new(|t| t.window_scaling = true);
    let l = b.s.tcp_bind(sa(US, PORT), opts).unwrap();
    assert!(b.s.tcp_listen_bound(l, 4));
    let mut syn = Seg::new(SYN, IRS, 0).sack_ok().ts(7, 0).mss(1000);
    syn.wscale = Some(7);
    b.send(syn);
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert!(bare(&synack), "{synack:?}");
    b.send(Seg::new(ACK, IRS + 1, synack.seq + 1));
    let c = b.s.tcp_accept(l).unwrap();
    let info = b.s.tcp_info(c).unwrap();
    assert!(!info.sack && !info.timestamps);
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
    // Set later on a connection, it changes nothing: the SYNs are gone.
    assert!(b.s.tcp_set_options(c, SocketOptions::default()));
    assert!(b.s.tcp_options(c).unwrap().no_options);

    // A SYN cookie's <SYN,ACK> carries none either (`send_cookie`).
    let mut b = Bench::new(|t| {
        t.max_syn_backlog = 1;
        t.syncookies = true;
    });
    let l = b.s.tcp_bind(sa(US, PORT), opts).unwrap();
    assert!(b.s.tcp_listen_bound(l, 8));
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    let synack = b.one();
    assert!(bare(&synack), "{synack:?}");
    // The SYN queue is full now: the next SYN gets a cookie.
    b.from = sa(THEM, PEER_PORT + 1);
    b.send(Seg::new(SYN, IRS, 0).mss(1460).sack_ok());
    let cookie = b.one();
    assert_eq!(cookie.flags, SYN | ACK);
    assert!(bare(&cookie), "{cookie:?}");
    assert_eq!(b.s.stats().tcp.syncookies_sent, 1);
}

/// BSD's `rexmit_drop_options` (`TcpConfig::syn_drop_options`): from the
/// third SYN timeout on, the SYN carries only the MSS option. A <SYN,ACK>
/// answering an earlier SYN echoes the options, and they are agreed (the
/// peer turned them on); one answering a bare SYN agrees none.
#[test]
fn syn_drop_options_sends_later_syns_with_the_mss_alone() {
    for echoed in [true, false] {
        let mut b = Bench::new(|t| {
            t.window_scaling = true;
            t.recv_buffer = 256 * 1024;
            t.syn_drop_options = true;
        });
        let (them, us) = (sa(THEM, PEER_PORT), Some(sa(US, PORT)));
        let c = b.s.tcp_connect(b.now, them, us).unwrap();
        let mut syns = Vec::new();
        while syns.len() < 5 {
            syns.extend(b.recv());
            b.advance(Duration::from_millis(10));
        }
        for (i, s) in syns.iter().enumerate() {
            assert_eq!(s.flags, SYN);
            assert!(s.mss.is_some(), "SYN {i}: {s:?}");
            let full = s.wscale.is_some() && s.sack_ok && s.ts.is_some();
            let bare = s.wscale.is_none() && !s.sack_ok && s.ts.is_none();
            assert!(if i < 3 { full } else { bare }, "SYN {i}: {s:?}");
        }
        let mut synack = Seg::new(SYN | ACK, IRS, syns[0].seq + 1);
        if echoed {
            synack = synack.sack_ok().ts(7, syns[0].ts.unwrap().0);
            synack.wscale = Some(7);
        }
        b.send(synack);
        let ack = b.one();
        assert_eq!(ack.flags, ACK);
        assert_eq!(ack.ts.is_some(), echoed, "{ack:?}");
        let info = b.s.tcp_info(c).unwrap();
        assert_eq!(info.state, State::Established);
        assert_eq!((info.sack, info.timestamps), (echoed, echoed));
        assert_eq!(info.snd_wscale, if echoed { 7 } else { 0 });
        // Our shift as the first SYN offered it (none for a bare one).
        let offered = syns[0].wscale.unwrap();
        assert!(offered > 0);
        assert_eq!(info.rcv_wscale, if echoed { offered } else { 0 });
    }
}

/// Linux's `TCP_NOTSENT_LOWAT`: writes stop (and the socket is not
/// writable) once that many bytes wait unsent; sending them — not only an
/// ACK — makes it writable again, with an event.
#[test]
fn notsent_lowat_bounds_what_waits_unsent() {
    let mut b = Bench::new(|t| t.send_buffer = 64 * 1024);
    let (c, _) = established(&mut b);
    let mss = b.s.tcp_info(c).unwrap().mss;
    let lowat = 3000;
    let opts = SocketOptions {
        notsent_lowat: Some(lowat),
        ..SocketOptions::default()
    };
    assert!(b.s.tcp_set_options(c, opts));
    // The peer's window (65,535) takes a few segments at once; what is
    // unsent stays within the threshold rounded up to whole segments.
    let mut queued = 0;
    while let Ok(n) = b.s.tcp_send(c, &[7; 50_000]) {
        queued += n;
        b.advance(Duration::from_millis(1));
    }
    let info = b.s.tcp_info(c).unwrap();
    let unsent = info.send_queue - info.snd_max.diff(info.snd_una) as usize;
    assert!(unsent >= lowat as usize, "{unsent} unsent");
    assert!(unsent < lowat as usize + mss, "{unsent} unsent");
    assert!(queued < 50_000, "{queued} queued");
    assert!(!b.s.tcp_readiness(c).unwrap().writable);
    while b.s.poll_event().is_some() {}
    // The peer acknowledges all in flight. The ACK's own event comes while
    // the bytes still wait (nothing is sent until the stack is polled).
    let nxt = b.s.tcp_info(c).unwrap().snd_max;
    b.send(Seg::new(ACK, IRS + 1, nxt.0));
    assert!(!b.s.tcp_readiness(c).unwrap().writable);
    while b.s.poll_event().is_some() {}
    // Sending them makes the socket writable, with an event of its own.
    b.advance(Duration::from_millis(1));
    assert!(b.s.tcp_readiness(c).unwrap().writable);
    let id = c.id();
    let mut events = Vec::new();
    while let Some(e) = b.s.poll_event() {
        events.push(e.socket);
    }
    assert!(events.contains(&id), "{events:?}");
    // Filled up to it again, then the threshold lifted: writable at once,
    // with an event (Linux's sk_write_space).
    while b.s.tcp_send(c, &[7; 50_000]).is_ok() {}
    assert!(!b.s.tcp_readiness(c).unwrap().writable);
    while b.s.poll_event().is_some() {}
    assert!(b.s.tcp_set_options(c, SocketOptions::default()));
    assert!(b.s.tcp_readiness(c).unwrap().writable);
    assert_eq!(b.s.poll_event().map(|e| e.socket), Some(id));
    // Without it, the whole buffer fills.
    let mut b = Bench::new(|t| t.send_buffer = 64 * 1024);
    let (c, _) = established(&mut b);
    let mut queued = 0;
    while let Ok(n) = b.s.tcp_send(c, &[7; 50_000]) {
        queued += n;
    }
    assert_eq!(queued, 64 * 1024);
}
