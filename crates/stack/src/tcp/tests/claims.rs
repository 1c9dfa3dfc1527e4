//! Tests for requirements docs/compliance.md claimed with no test that
//! would catch their breakage (found by an audit of the document): the
//! ISN generator, window-scale negotiation, the sender's silly window
//! rule, and hard and soft ICMP errors.

use std::time::Duration;

use tcplab_wire::icmpv4::DstUnreachable;
use tcplab_wire::tcp::SeqNumber;

use super::pair::sa;
use super::segments::{
    icmp_unreachable, syn_sent, Bench, Seg, ACK, IRS, PEER_PORT, PORT, SYN, THEM, US,
};
use crate::rand::Rng;
use crate::socket::{RecvError, SocketError, TcpHandle};
use crate::tcp::config::TcpConfig;
use crate::tcp::table::TcpLayer;
use crate::tcp::State;
use crate::time::Instant;

/// RFC 6528 §3: ISN = M + F(local, remote, secret key), M a clock ticking
/// every 4 µs. One second moves it 250,000; a neighbouring four-tuple or
/// another key gives an unrelated offset (so one connection's ISN says
/// nothing about another's).
#[test]
fn isn_is_a_4us_clock_plus_a_keyed_hash_of_the_tuple() {
    let t1 = TcpLayer::new(TcpConfig::default(), &mut Rng::new(1));
    let t2 = TcpLayer::new(TcpConfig::default(), &mut Rng::new(2));
    let (l, r) = (sa(US, PORT), sa(THEM, PEER_PORT));
    let r2 = sa(THEM, PEER_PORT + 1);
    let now = Instant::from_secs(10);
    let gap = |a: SeqNumber, b: SeqNumber| a.0.wrapping_sub(b.0);
    let later = now + Duration::from_secs(1);
    assert_eq!(gap(t1.isn(later, l, r), t1.isn(now, l, r)), 250_000);
    assert_eq!(
        gap(
            t1.isn(now + Duration::from_micros(4), l, r),
            t1.isn(now, l, r)
        ),
        1
    );
    for other in [t1.isn(now, l, r2), t2.isn(now, l, r)] {
        let d = gap(other, t1.isn(now, l, r));
        assert!((1 << 20..u32::MAX - (1 << 20)).contains(&d), "{d}");
    }
}

/// A passive open with window scaling on.
fn passive(syn: Seg) -> (Bench, Seg, TcpHandle) {
    let mut b = Bench::new(|c| {
        c.window_scaling = true;
        c.recv_buffer = 256 * 1024;
    });
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(syn);
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    b.send(Seg::new(ACK, IRS + 1, synack.seq + 1));
    let c = b.s.tcp_accept(l).unwrap();
    (b, synack, c)
}

/// RFC 7323 §2.2-2.3: a shift above 14 is taken as 14; window scaling is
/// used only when both sides offered it, so a SYN without the option is
/// answered without it and neither side scales.
#[test]
fn window_scale_is_clamped_and_answered_only_when_offered() {
    let mut syn = Seg::new(SYN, IRS, 0).mss(1460);
    syn.wscale = Some(15);
    let (b, synack, c) = passive(syn);
    assert!(synack.wscale.is_some());
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!((info.snd_wscale, info.rcv_wscale > 0), (14, true));

    let (b, synack, c) = passive(Seg::new(SYN, IRS, 0).mss(1460));
    assert_eq!(synack.wscale, None);
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
}

/// RFC 9293 §3.8.6.2.1 (sender SWS avoidance, MUST): with less than a
/// full segment usable and more data queued than fits, send only when at
/// least half the largest window the peer offered can go (Fs = 1/2);
/// Nagle is off here so that this rule alone decides.
#[test]
fn sender_sends_half_the_largest_window_not_less() {
    let mut b = Bench::new(|_| {});
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).mss(1200).win(1000));
    let iss = b.one().seq;
    b.send(Seg::new(ACK, IRS + 1, iss + 1).win(1000));
    let c = b.s.tcp_accept(l).unwrap();
    b.s.tcp_set_nodelay(c, true);
    b.s.tcp_send(c, &[7u8; 5000]).unwrap();
    // The whole window (1,000 bytes, under the MSS of 1,200) goes.
    assert_eq!(b.one().data.len(), 1000);
    // 400 bytes usable: under half of 1,000, held.
    b.send(Seg::new(ACK, IRS + 1, iss + 1001).win(400));
    b.nothing();
    // 600 usable: sent.
    b.send(Seg::new(ACK, IRS + 1, iss + 1001).win(600));
    let seg = b.one();
    assert_eq!((seg.seq, seg.data.len()), (iss + 1001, 600));
}

/// RFC 9293 §3.9.2.2: destination unreachable codes 2-4 are hard errors,
/// and a connection attempt SHOULD be aborted (SHLD-26): port unreachable
/// about our SYN refuses the connection at once. Net and host unreachable
/// are soft (MUST-56 not abort, SHLD-25 report): with RFC 5461's reaction
/// off (`syn_sent_soft_abort`, as FreeBSD) the SYN is retried, and the
/// error the application gets when the attempt times out is the one the
/// network reported, not a bare timeout.
#[test]
fn hard_icmp_errors_end_an_attempt_soft_ones_are_reported_at_the_timeout() {
    let mut buf = [0u8; 1];
    let mut b = Bench::new(|_| {});
    let (c, _) = syn_sent(&mut b);
    let syn = b.sent.last().unwrap().clone();
    icmp_unreachable(&mut b, &syn, DstUnreachable::PortUnreachable, 0);
    assert_eq!(b.state(c), State::Closed);
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::ConnectionRefused))
    );

    let mut b = Bench::new(|c| {
        c.syn_retries = 2;
        c.syn_sent_soft_abort = false;
    });
    let (c, iss) = syn_sent(&mut b);
    let syn = b.sent.last().unwrap().clone();
    icmp_unreachable(&mut b, &syn, DstUnreachable::HostUnreachable, 0);
    assert_eq!(b.state(c), State::SynSent);
    b.advance(Duration::from_secs(1));
    let again = b.one();
    assert_eq!((again.flags, again.seq), (SYN, iss));
    b.advance(Duration::from_secs(60));
    b.recv();
    assert_eq!(b.state(c), State::Closed);
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::HostUnreachable))
    );
}

/// RFC 5461 (informational: "non-standard, but widely implemented"), on
/// by default as on Linux (`tcp_v4_err` in SYN-SENT): a soft error about
/// our SYN ends the attempt at once with the error it names — net or host
/// unreachable — where waiting out the retries would only delay the same
/// answer. An error quoting another sequence number is not about the SYN
/// and changes nothing.
#[test]
fn soft_icmp_errors_about_the_syn_end_the_attempt_by_default() {
    let mut buf = [0u8; 1];
    for (code, error) in [
        (
            DstUnreachable::HostUnreachable,
            SocketError::HostUnreachable,
        ),
        (
            DstUnreachable::NetUnreachable,
            SocketError::NetworkUnreachable,
        ),
    ] {
        let mut b = Bench::new(|_| {});
        let (c, _) = syn_sent(&mut b);
        let syn = b.sent.last().unwrap().clone();
        // The same SYN quoted with another sequence number (the TCP
        // header's bytes 4-7, after a 20-byte IP header).
        let mut other = syn.clone();
        let seq = u32::from_be_bytes(other[24..28].try_into().unwrap());
        other[24..28].copy_from_slice(&seq.wrapping_add(7).to_be_bytes());
        icmp_unreachable(&mut b, &other, code, 0);
        assert_eq!(
            b.state(c),
            State::SynSent,
            "{code:?} about another sequence number"
        );
        icmp_unreachable(&mut b, &syn, code, 0);
        assert_eq!(b.state(c), State::Closed, "{code:?}");
        assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::Socket(error)));
    }
    // With the hard errors kept soft (`icmp_may_rst` off), every error is.
    let mut b = Bench::new(|c| c.syn_sent_icmp_abort = false);
    let (c, _) = syn_sent(&mut b);
    let syn = b.sent.last().unwrap().clone();
    icmp_unreachable(&mut b, &syn, DstUnreachable::HostUnreachable, 0);
    assert_eq!(b.state(c), State::SynSent);
}

/// RFC 9293 §3.8.6 (SHOULD NOT shrink the window): while the application
/// reads nothing, the right edge it advertises (RCV.NXT + RCV.WND) never
/// moves left, segment after segment, until the window is closed.
#[test]
fn the_advertised_right_edge_never_moves_left() {
    let mut b = Bench::new(|_| {});
    let (_, iss) = super::segments::established(&mut b);
    let mut edges = Vec::new();
    for i in 0..10u32 {
        b.send(Seg::new(ACK, IRS + 1 + i * 1000, iss + 1).data(&[1; 1000]));
        b.advance(Duration::from_millis(200));
        for ack in b.recv() {
            edges.push(ack.ack + u32::from(ack.win));
        }
    }
    assert!(edges.len() >= 5, "{edges:?}");
    assert!(edges.windows(2).all(|w| w[1] >= w[0]), "{edges:?}");
    assert_eq!(edges.last(), Some(&(IRS + 1 + 8192)), "{edges:?}");
}

/// After a reset, the error is reported once, by whichever call comes
/// first (as Linux's sock_error() and BSD's so_error take it); then a
/// read gives the end of the stream and a write EPIPE.
#[test]
fn a_reset_is_reported_once_then_reads_end_and_writes_break() {
    use crate::socket::SendError;
    let mut buf = [0u8; 8];
    for write_first in [true, false] {
        let mut b = Bench::new(|_| {});
        let (c, iss) = super::segments::established(&mut b);
        b.send(Seg::new(super::segments::RST, IRS + 1, iss + 1));
        assert_eq!(b.state(c), State::Closed);
        let reset = SocketError::ConnectionReset;
        if write_first {
            assert_eq!(b.s.tcp_send(c, b"x"), Err(SendError::Pending(reset)));
        } else {
            assert_eq!(b.s.tcp_recv(c, &mut buf), Err(RecvError::Socket(reset)));
        }
        assert_eq!(b.s.tcp_recv(c, &mut buf), Ok(0));
        assert_eq!(
            b.s.tcp_send(c, b"x"),
            Err(SendError::Pending(SocketError::BrokenPipe))
        );
    }
}

/// Data for a connection the application closed cannot be delivered: it
/// is answered with a reset (RFC 1122 §4.2.2.13, RFC 2525 §2.17), as Linux
/// and BSD answer the segment: <SEQ=SEG.ACK><CTL=RST>, no ACK bit.
#[test]
fn data_after_close_is_answered_with_a_reset() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = super::segments::established(&mut b);
    b.s.tcp_close(b.now, c);
    let fin = b.one();
    assert_eq!((fin.flags, fin.seq), (super::segments::FIN | ACK, iss + 1));
    b.send(Seg::new(ACK, IRS + 1, iss + 2).data(&[5; 100]));
    assert_eq!(b.one(), Seg::new(super::segments::RST, iss + 2, 0).win(0));
}
