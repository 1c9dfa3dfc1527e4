//! Segment-level tests: one stack ("us", 10.0.0.1) and crafted segments from
//! a peer ("them", 10.0.0.2:4000). Each test feeds segments and asserts the
//! exact segments that come back, step by step through RFC 9293 §3.10.7.

use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_wire::tcp::{self, Flags, SeqNumber};
use tcplab_wire::{ipv4, Protocol};

use super::pair::sa;
use crate::socket::{RecvError, SocketError, TcpHandle};
use crate::tcp::{State, TcpConfig};
use crate::{Config, IfaceId, Instant, Stack};

pub(super) const US: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 1);
pub(super) const THEM: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 2);
pub(super) const PORT: u16 = 80;
pub(super) const PEER_PORT: u16 = 4000;

/// A segment as the tests write and read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub urg: u16,
    pub data: Vec<u8>,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    /// TSopt: (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    pub sack: Vec<(u32, u32)>,
    /// The datagram had DF set (TCP sets it unless the path is below the
    /// smallest MTU it segments for).
    pub df: bool,
}

impl Seg {
    pub fn new(flags: Flags, seq: u32, ack: u32) -> Seg {
        Seg {
            flags,
            seq,
            ack,
            win: 65535,
            urg: 0,
            data: Vec::new(),
            mss: None,
            wscale: None,
            sack_ok: false,
            ts: None,
            sack: Vec::new(),
            df: true,
        }
    }
    pub fn sack_ok(mut self) -> Seg {
        self.sack_ok = true;
        self
    }
    pub fn ts(mut self, val: u32, ecr: u32) -> Seg {
        self.ts = Some((val, ecr));
        self
    }
    pub fn sacks(mut self, blocks: &[(u32, u32)]) -> Seg {
        self.sack = blocks.to_vec();
        self
    }
    pub fn data(mut self, d: &[u8]) -> Seg {
        self.data = d.to_vec();
        self
    }
    pub fn win(mut self, w: u16) -> Seg {
        self.win = w;
        self
    }
    pub fn mss(mut self, m: u16) -> Seg {
        self.mss = Some(m);
        self
    }
    pub fn urg(mut self, u: u16) -> Seg {
        self.urg = u;
        self.flags |= Flags::URG;
        self
    }
}

pub(super) const SYN: Flags = Flags::SYN;
pub(super) const ACK: Flags = Flags::ACK;
pub(super) const RST: Flags = Flags::RST;
pub(super) const FIN: Flags = Flags::FIN;
pub(super) const PSH: Flags = Flags::PSH;

/// The test bench.
pub struct Bench {
    pub s: Stack,
    pub now: Instant,
    pub from: SocketAddrV4,
    /// Segments sent while the clock advanced, not yet looked at.
    pending: Vec<Seg>,
    /// Every datagram sent, as bytes (for quoting in ICMP errors).
    pub sent: Vec<Vec<u8>>,
}

impl Bench {
    pub fn new(tcp: impl FnOnce(&mut TcpConfig)) -> Bench {
        let mut config = Config {
            seed: 42,
            ..Config::default()
        };
        config.tcp.recv_buffer = 8192;
        config.tcp.send_buffer = 8192;
        config.tcp.window_scaling = false;
        tcp(&mut config.tcp);
        let mut s = Stack::new(config);
        s.add_interface("eth0", "10.0.0.1/24".parse().unwrap(), 1500)
            .unwrap();
        Bench {
            s,
            now: Instant::from_secs(10),
            from: sa(THEM, PEER_PORT),
            pending: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Deliver a segment from the peer.
    pub fn send(&mut self, seg: Seg) {
        let mut r = tcp::Repr::new(
            self.from.port(),
            PORT,
            seg.flags,
            SeqNumber(seg.seq),
            SeqNumber(seg.ack),
        );
        r.window_len = seg.win;
        r.urgent_pointer = seg.urg;
        r.max_seg_size = seg.mss;
        r.window_scale = seg.wscale;
        r.sack_permitted = seg.sack_ok;
        r.timestamp = seg.ts.map(|(tsval, tsecr)| tcp::Timestamp { tsval, tsecr });
        for (slot, b) in r.sack_ranges.iter_mut().zip(&seg.sack) {
            *slot = Some(*b);
        }
        r.payload = &seg.data;
        let ip = ipv4::Repr {
            src_addr: *self.from.ip(),
            dst_addr: US,
            protocol: Protocol::Tcp,
            payload_len: r.buffer_len(),
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let mut b = vec![0u8; 20 + r.buffer_len()];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        r.emit(
            &mut tcp::Packet::new_unchecked(&mut b[20..]),
            *self.from.ip(),
            US,
        );
        self.s.handle_packet(self.now, IfaceId(1), &b);
    }

    /// Every segment the stack sent since the last look.
    pub fn recv(&mut self) -> Vec<Seg> {
        self.drain();
        std::mem::take(&mut self.pending)
    }

    fn drain(&mut self) {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(t) = self.s.poll_transmit(self.now, &mut buf) {
            let p = ipv4::Packet::new_checked(&buf[..t.len]).unwrap();
            assert_eq!(p.protocol(), Protocol::Tcp);
            self.sent.push(buf[..t.len].to_vec());
            let t = tcp::Packet::new_checked(p.payload()).unwrap();
            assert!(t.verify_checksum(p.src_addr(), p.dst_addr()));
            let r = tcp::Repr::parse(&t).unwrap();
            out.push(Seg {
                flags: r.flags,
                seq: r.seq_number.0,
                ack: r.ack_number.0,
                win: r.window_len,
                urg: r.urgent_pointer,
                data: r.payload.to_vec(),
                mss: r.max_seg_size,
                wscale: r.window_scale,
                sack_ok: r.sack_permitted,
                ts: r.timestamp.map(|t| (t.tsval, t.tsecr)),
                sack: r.sack_ranges.iter().flatten().copied().collect(),
                df: p.dont_frag(),
            });
        }
        self.pending.extend(out);
    }

    /// Whether segments sent are waiting to be looked at.
    pub fn has_output(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Expect exactly one segment and return it.
    pub fn one(&mut self) -> Seg {
        let v = self.recv();
        assert_eq!(v.len(), 1, "expected one segment, got {v:#?}");
        v.into_iter().next().unwrap()
    }

    pub fn nothing(&mut self) {
        let v = self.recv();
        assert!(v.is_empty(), "expected silence, got {v:#?}");
    }

    /// Advance the clock by `d`, running timers.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.drain();
        while let Some(t) = self.s.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.s.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    pub fn state(&self, h: TcpHandle) -> State {
        self.s.tcp_info(h).map_or(State::Closed, |i| i.state)
    }
}

/// An ICMP destination unreachable from a router (10.0.0.254), quoting
/// `datagram`'s header and first 8 bytes; `mtu` for fragmentation needed.
pub(super) fn icmp_unreachable(
    b: &mut Bench,
    datagram: &[u8],
    reason: tcplab_wire::icmpv4::DstUnreachable,
    mtu: u16,
) {
    use tcplab_wire::{icmpv4, ipv4, Protocol};
    let quote = &datagram[..datagram.len().min(28)];
    let msg = icmpv4::Repr::DstUnreachable {
        reason,
        next_hop_mtu: mtu,
        quote,
    };
    let ip = ipv4::Repr {
        src_addr: std::net::Ipv4Addr::new(10, 0, 0, 254),
        dst_addr: US,
        protocol: Protocol::Icmp,
        payload_len: msg.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 7,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0u8; 20 + msg.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
    msg.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[20..]));
    b.s.handle_packet(b.now, crate::IfaceId(1), &bytes);
}

/// Peer ISN used throughout.
pub(super) const IRS: u32 = 1000;

/// LISTEN, SYN in, SYN-ACK out: returns (listener, our ISS).
pub(super) fn syn_received(b: &mut Bench) -> (TcpHandle, u32) {
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).mss(1200));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.ack, IRS + 1);
    assert_eq!(synack.mss, Some(1460));
    (l, synack.seq)
}

/// An ESTABLISHED passive connection: (connection, ISS).
pub(super) fn established(b: &mut Bench) -> (TcpHandle, u32) {
    let (l, iss) = syn_received(b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    b.nothing();
    let c = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.state(c), State::Established);
    (c, iss)
}

// --- §3.10.7.1 CLOSED ---------------------------------------------------------

#[test]
fn closed_port_answers_rst() {
    let mut b = Bench::new(|_| {});
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    b.send(Seg::new(SYN, 500, 0));
    assert_eq!(b.one(), Seg::new(RST | ACK, 0, 501).win(0));
    b.send(Seg::new(PSH, 500, 0).data(b"abc"));
    assert_eq!(b.one(), Seg::new(RST | ACK, 0, 503).win(0));
    // ACK: <SEQ=SEG.ACK><CTL=RST>.
    b.send(Seg::new(ACK, 500, 7777));
    assert_eq!(b.one(), Seg::new(RST, 7777, 0).win(0));
    // A RST is never answered.
    b.send(Seg::new(RST, 500, 0));
    b.nothing();
    assert_eq!(b.s.stats().tcp.out_rsts, 3);
}

/// A connection that ended while the application still holds its handle
/// (here: reset by the peer) is gone for the network: its segments meet
/// what is left on the port — here the listener (RFC 9293 §3.10.7.2: an
/// ACK is answered with a reset, a segment with neither SYN nor ACK is
/// dropped, a reset never answered).
#[test]
fn an_ended_connection_still_held_answers_as_closed() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    b.send(Seg::new(RST, IRS + 1, 0));
    b.nothing();
    assert_eq!(b.state(c), State::Closed);
    // The handle is still the application's (its error is unread).
    b.send(Seg::new(ACK | PSH, IRS + 1, iss + 1).data(b"late"));
    assert_eq!(b.one(), Seg::new(RST, iss + 1, 0).win(0));
    b.send(Seg::new(FIN, IRS + 5, 0));
    b.nothing();
    b.send(Seg::new(RST, IRS + 5, 0));
    b.nothing();
    assert_eq!(b.state(c), State::Closed);
}

/// A SYN for the tuple of a connection that ended while its handle is
/// held reaches the listener (the old connection is gone for the
/// network), and closing the old handle later leaves the new one alone.
#[test]
fn a_new_syn_on_an_ended_connections_tuple_reaches_the_listener() {
    let mut b = Bench::new(|_| {});
    let (l, iss) = syn_received(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    let old = b.s.tcp_accept(l).unwrap();
    b.send(Seg::new(RST, IRS + 1, 0));
    b.nothing();
    assert_eq!(b.state(old), State::Closed);
    let irs = IRS + 100_000;
    b.send(Seg::new(SYN, irs, 0));
    let synack = b.one();
    assert_eq!((synack.flags, synack.ack), (SYN | ACK, irs + 1));
    b.send(Seg::new(ACK, irs + 1, synack.seq + 1));
    b.nothing();
    let new = b.s.tcp_accept(l).unwrap();
    assert_eq!(b.state(new), State::Established);
    b.s.tcp_close(b.now, old);
    b.send(Seg::new(ACK | PSH, irs + 1, synack.seq + 1).data(b"hello"));
    assert_eq!(b.one().ack, irs + 6);
    assert_eq!(b.s.tcp_recv(new, &mut [0; 8]), Ok(5));
}

// --- §3.10.7.2 LISTEN -----------------------------------------------------------

#[test]
fn listen_rules() {
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(RST, 1, 0));
    b.nothing();
    b.send(Seg::new(ACK, 1, 99));
    assert_eq!(b.one(), Seg::new(RST, 99, 0).win(0));
    b.send(Seg::new(FIN, 1, 0));
    b.nothing();
    b.send(Seg::new(SYN, IRS, 0));
    let synack = b.one();
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.ack, IRS + 1);
    // No MSS option from the peer: it is taken as 536 (RFC 9293 §3.7.1).
    let (h, _) =
        b.s.tcp_sockets()
            .into_iter()
            .find(|(_, s)| matches!(s, crate::tcp::SocketSnapshot::Connection(_)))
            .unwrap();
    assert_eq!(b.s.tcp_info(h).unwrap().mss, 536);
    assert_eq!(b.s.tcp_info(h).unwrap().state, State::SynReceived);
}

/// An MSS option of 0 is taken as no option (536), as Linux and FreeBSD
/// do, on either side of the handshake.
#[test]
fn a_zero_mss_is_no_mss() {
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).mss(0));
    assert_eq!(b.one().flags, SYN | ACK);
    let (h, _) =
        b.s.tcp_sockets()
            .into_iter()
            .find(|(_, s)| matches!(s, crate::tcp::SocketSnapshot::Connection(_)))
            .unwrap();
    assert_eq!(b.s.tcp_info(h).unwrap().mss, 536);
    let mut b = Bench::new(|_| {});
    let (h, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(0));
    assert_eq!(b.one().flags, ACK);
    assert_eq!(b.s.tcp_info(h).unwrap().mss, 536);
}

/// The MSS a SYN announces says what this host can receive: the
/// interface's MTU less 40, whatever path MTU it learned towards the peer
/// (RFC 6691 §2; a narrower path limits only what it sends).
#[test]
fn the_announced_mss_is_the_links_not_a_learned_paths() {
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    let now = b.now;
    assert_eq!(b.s.ip.pmtu.learn(now, THEM, 1000, 1500, 1500), Some(1000));
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    let synack = b.one();
    assert_eq!((synack.flags, synack.mss), (SYN | ACK, Some(1460)));
    // What it sends is bounded by the path: 1000 − 40.
    let (h, _) =
        b.s.tcp_sockets()
            .into_iter()
            .find(|(_, s)| matches!(s, crate::tcp::SocketSnapshot::Connection(_)))
            .unwrap();
    assert!(b.s.tcp_info(h).unwrap().mss <= 960);
}

/// A <SYN,ACK> to a listener: RFC 9293 §3.10.7.2 resets it (the ACK bit);
/// FreeBSD drops it without a word (`listen_reset_synack` off), while a
/// bare ACK is reset either way.
#[test]
fn a_synack_to_a_listener_is_reset_unless_bsd() {
    for reset in [true, false] {
        let mut b = Bench::new(|c| c.listen_reset_synack = reset);
        b.s.tcp_listen(sa(US, PORT), 4).unwrap();
        b.send(Seg::new(SYN | ACK, IRS, 99));
        if reset {
            assert_eq!(b.one(), Seg::new(RST, 99, 0).win(0));
        } else {
            b.nothing();
        }
        b.send(Seg::new(ACK, 1, 99));
        assert_eq!(b.one(), Seg::new(RST, 99, 0).win(0));
    }
}

/// A SYN with FIN at a listener: Linux discards it unanswered (and opens
/// nothing); with `listen_drop_synfin` off (FreeBSD's default
/// drop_synfin=0) it is answered like any SYN.
#[test]
fn a_syn_with_fin_at_a_listener_is_dropped_as_linux_does() {
    for drop in [true, false] {
        let mut b = Bench::new(|c| c.listen_drop_synfin = drop);
        let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
        b.send(Seg::new(SYN | FIN, IRS, 0));
        if drop {
            b.nothing();
            // A plain SYN still opens a connection.
            b.send(Seg::new(SYN, IRS, 0));
            assert_eq!(b.one().flags, SYN | ACK);
        } else {
            assert_eq!(b.one().flags, SYN | ACK);
        }
        let _ = l;
    }
}

#[test]
fn syn_queue_is_bounded() {
    let mut b = Bench::new(|c| {
        c.max_syn_backlog = 3;
        c.syncookies = false;
    });
    b.s.tcp_listen(sa(US, PORT), 16).unwrap();
    for port in 0..10 {
        b.from = sa(THEM, 5000 + port);
        b.send(Seg::new(SYN, IRS, 0));
    }
    assert_eq!(b.recv().len(), 3);
    assert_eq!(b.s.stats().tcp.listen_drops, 7);
    assert_eq!(b.s.tcp_sockets().len(), 4);
}

/// listen(1) queues two connections, as Linux counts the backlog
/// (`sk_acceptq_is_full`: full when more than the backlog wait); the third
/// handshake's final ACK is dropped while the queue is full.
#[test]
fn full_accept_queue_drops_the_final_ack() {
    let mut b = Bench::new(|_| {});
    let l = b.s.tcp_listen(sa(US, PORT), 1).unwrap();
    let mut isss = Vec::new();
    for port in [5001, 5002, 5003] {
        b.from = sa(THEM, port);
        b.send(Seg::new(SYN, IRS, 0));
        isss.push(b.one().seq);
    }
    for (i, port) in [5001, 5002, 5003].into_iter().enumerate() {
        b.from = sa(THEM, port);
        b.send(Seg::new(ACK, IRS + 1, isss[i] + 1));
    }
    b.nothing();
    assert_eq!(b.s.stats().tcp.listen_overflows, 1);
    for _ in 0..2 {
        let c = b.s.tcp_accept(l).unwrap();
        assert_eq!(b.state(c), State::Established);
    }
    assert_eq!(b.s.tcp_accept(l), Err(RecvError::WouldBlock));
    // The third stays in SYN-RECEIVED; its SYN-ACK is retransmitted and
    // the peer's next ACK completes it now that there is room.
    b.advance(Duration::from_secs(1));
    let again = b.one();
    assert_eq!(again.flags, SYN | ACK);
    b.from = sa(THEM, 5003);
    b.send(Seg::new(ACK, IRS + 1, isss[2] + 1));
    assert!(b.s.tcp_accept(l).is_ok());
}

// --- §3.10.7.3 SYN-SENT ----------------------------------------------------------

pub(super) fn syn_sent(b: &mut Bench) -> (TcpHandle, u32) {
    let c =
        b.s.tcp_connect(b.now, sa(THEM, PEER_PORT), Some(sa(US, PORT)))
            .unwrap();
    let syn = b.one();
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.mss, Some(1460));
    assert_eq!(b.state(c), State::SynSent);
    (c, syn.seq)
}

/// TCP_INFO's counters after a handshake, as Linux keeps them: an active
/// open has sent its SYN and ACK and had the SYN acknowledged; a passive
/// one counts the peer's SYN and ACK in, but its <SYN,ACK> went out from
/// the request socket (not in segs_out, not in bytes_acked). Data and the
/// FIN count on both.
#[test]
fn handshake_counters_as_linux_keeps_them() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1460));
    b.one();
    let i = b.s.tcp_info(c).unwrap();
    assert_eq!((i.bytes_acked, i.segs_out, i.segs_in), (1, 2, 1));
    // Nothing written yet: application-limited, as Linux starts.
    assert!(i.app_limited);
    let mut b = Bench::new(|_| {});
    let (c, iss) = established(&mut b);
    let i = b.s.tcp_info(c).unwrap();
    assert_eq!((i.bytes_acked, i.segs_out, i.segs_in), (0, 0, 2));
    b.s.tcp_send(c, b"abc").unwrap();
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 4));
    b.s.tcp_shutdown(c).unwrap();
    b.one();
    b.send(Seg::new(ACK, IRS + 1, iss + 5));
    let i = b.s.tcp_info(c).unwrap();
    assert_eq!((i.bytes_acked, i.segs_out), (4, 2), "3 bytes and the FIN");
}

#[test]
fn syn_sent_bad_ack_gets_rst() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    // SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
    b.send(Seg::new(SYN | ACK, IRS, iss));
    assert_eq!(b.one(), Seg::new(RST, iss, 0).win(0));
    b.send(Seg::new(ACK, IRS, iss + 2));
    assert_eq!(b.one(), Seg::new(RST, iss + 2, 0).win(0));
    // ... unless it is a RST itself.
    b.send(Seg::new(RST | ACK, IRS, iss + 2));
    b.nothing();
    assert_eq!(b.state(c), State::SynSent);
}

#[test]
fn syn_sent_rst_is_connection_refused() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    // A RST without an acceptable ACK is ignored (RFC 5961 §3.2).
    b.send(Seg::new(RST, 0, 0));
    b.nothing();
    assert_eq!(b.state(c), State::SynSent);
    b.send(Seg::new(RST | ACK, 0, iss + 1));
    b.nothing();
    assert_eq!(b.state(c), State::Closed);
    let mut buf = [0u8; 1];
    assert_eq!(
        b.s.tcp_recv(c, &mut buf),
        Err(RecvError::Socket(SocketError::ConnectionRefused))
    );
}

#[test]
fn syn_sent_synack_establishes() {
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1).mss(1000).win(5000));
    assert_eq!(b.one(), Seg::new(ACK, iss + 1, IRS + 1).win(8192));
    let info = b.s.tcp_info(c).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.mss, 1000);
    assert_eq!(info.snd_wnd, 5000);
}

#[test]
fn simultaneous_open() {
    // RFC 9293 fig. 8: SYN-SENT receives a bare SYN → SYN-RECEIVED with
    // <SYN,ACK>; the peer's <SYN,ACK> then completes it.
    let mut b = Bench::new(|_| {});
    let (c, iss) = syn_sent(&mut b);
    b.send(Seg::new(SYN, IRS, 0).mss(1460));
    assert_eq!(
        b.one(),
        Seg::new(SYN | ACK, iss, IRS + 1).win(8192).mss(1460)
    );
    assert_eq!(b.state(c), State::SynReceived);
    b.send(Seg::new(SYN | ACK, IRS, iss + 1));
    assert_eq!(b.state(c), State::Established);
    // The segment carried nothing new; an ACK for its SYN was already sent
    // with our <SYN,ACK>, so nothing is needed now.
    let v = b.recv();
    assert!(
        v.iter().all(|s| s.flags == ACK && s.ack == IRS + 1),
        "{v:?}"
    );
}

// --- SYN-RECEIVED ------------------------------------------------------------------

#[test]
fn syn_received_unacceptable_ack_gets_rst() {
    let mut b = Bench::new(|_| {});
    let (_, iss) = syn_received(&mut b);
    b.send(Seg::new(ACK, IRS + 1, iss + 5));
    assert_eq!(b.one(), Seg::new(RST, iss + 5, 0).win(0));
}

#[test]
fn syn_received_duplicate_syn_repeats_synack() {
    let mut b = Bench::new(|_| {});
    let (_, iss) = syn_received(&mut b);
    b.send(Seg::new(SYN, IRS, 0));
    let s = b.one();
    assert_eq!((s.flags, s.seq, s.ack), (SYN | ACK, iss, IRS + 1));
}

#[test]
fn syn_received_rst_returns_to_listen() {
    let mut b = Bench::new(|_| {});
    let (l, _) = syn_received(&mut b);
    b.send(Seg::new(RST, IRS + 1, 0));
    b.nothing();
    assert_eq!(b.s.tcp_sockets().len(), 1, "only the listener is left");
    // The listener still works.
    b.send(Seg::new(SYN, IRS + 50, 0));
    assert_eq!(b.one().flags, SYN | ACK);
    let _ = l;
}

/// Linux's counters for a passive open (netstat -s): PassiveOpens when the
/// handshake completes (tcp_create_openreq_child), not at the SYN; a reset
/// in SYN-RECEIVED is a failed attempt and an EmbryonicRsts.
#[test]
fn passive_opens_count_completed_handshakes_only() {
    let mut b = Bench::new(|_| {});
    syn_received(&mut b);
    let tcp = |b: &Bench| b.s.stats().tcp;
    assert_eq!(tcp(&b).passive_opens, 0);
    b.send(Seg::new(RST, IRS + 1, 0));
    b.nothing();
    let t = tcp(&b);
    assert_eq!(
        (t.passive_opens, t.attempt_fails, t.embryonic_rsts),
        (0, 1, 1)
    );
    b.send(Seg::new(SYN, IRS + 50, 0));
    let iss2 = b.one().seq;
    b.send(Seg::new(ACK, IRS + 51, iss2 + 1));
    b.nothing();
    let t = tcp(&b);
    assert_eq!(
        (t.passive_opens, t.attempt_fails, t.embryonic_rsts),
        (1, 1, 1)
    );
    assert!(b
        .s
        .stats()
        .to_string()
        .contains("    1 resets received for embryonic SYN_RECV sockets\n"));
}

/// A passive open whose SYN announces `mss`.
pub(super) fn established_with_mss(b: &mut Bench, mss: u16) -> (TcpHandle, u32) {
    let l = b.s.tcp_listen(sa(US, PORT), 4).unwrap();
    b.send(Seg::new(SYN, IRS, 0).mss(mss));
    let iss = b.one().seq;
    b.send(Seg::new(ACK, IRS + 1, iss + 1));
    (b.s.tcp_accept(l).unwrap(), iss)
}
