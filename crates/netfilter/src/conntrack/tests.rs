//! Connection tracking's tests (moved from conntrack.rs unchanged).

use super::*;
use std::net::Ipv4Addr;

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, f: u8) -> Info {
    Info {
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        proto: TCP,
        sport,
        dport,
        icmp: None,
        tcp_flags: f,
        len: 40,
        ihl: 20,
        later_fragment: false,
        has_ports: true,
    }
}

const C: [u8; 4] = [10, 0, 1, 2];
const S: [u8; 4] = [10, 0, 2, 2];

fn step(ct: &mut Conntrack, t: u64, p: Info) -> Track {
    let mut gone = Vec::new();
    let r = ct.track(Duration::from_secs(t), &p, &[], &mut gone);
    if let Some((id, _)) = r.flow {
        let reply = ct.entry(id).unwrap().reply;
        ct.confirm(id, reply).unwrap();
    }
    r
}

/// A TCP segment as bytes (IPv4 header, TCP header with `opts`), and
/// its `Info`.
fn segment(
    from: [u8; 4],
    to: [u8; 4],
    ports: (u16, u16),
    f: u8,
    (seq, ack, window): (u32, u32, u16),
    opts: &[u8],
    data: usize,
) -> (Info, Vec<u8>) {
    let doff = 20 + opts.len();
    let mut b = vec![0u8; 20 + doff + data];
    b[0] = 0x45;
    let total = b.len() as u16;
    b[2..4].copy_from_slice(&total.to_be_bytes());
    b[9] = TCP;
    b[12..16].copy_from_slice(&from);
    b[16..20].copy_from_slice(&to);
    let t = &mut b[20..];
    t[0..2].copy_from_slice(&ports.0.to_be_bytes());
    t[2..4].copy_from_slice(&ports.1.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = ((doff / 4) as u8) << 4;
    t[13] = f;
    t[14..16].copy_from_slice(&window.to_be_bytes());
    t[20..doff].copy_from_slice(opts);
    let mut info = tcp(from, to, ports.0, ports.1, f);
    info.len = b.len();
    (info, b)
}

/// Track a segment (as bytes) at 1 s, confirming a new flow.
fn go(ct: &mut Conntrack, (i, b): (Info, Vec<u8>)) -> Track {
    let r = ct.track(Duration::from_secs(1), &i, &b, &mut Vec::new());
    if let Some((id, _)) = r.flow {
        if !ct.entry(id).unwrap().confirmed {
            let reply = ct.entry(id).unwrap().reply;
            ct.confirm(id, reply).unwrap();
        }
    }
    r
}

/// RFC 5961 §3.2 as Linux's conntrack applies it to a RST: below the
/// receiver's highest ACK or past its (scaled) window it is INVALID
/// and the flow lives on; in the window but not exact it passes and
/// the flow lives on; at the exact next byte (or right after the
/// sender's own last segment) it closes the flow.
#[test]
fn a_rst_closes_a_flow_only_at_the_right_sequence_number() {
    let mut ct = Conntrack::new(16, 1);
    let ws = [1, 3, 3, 7]; // NOP, window scale 7
    let c = (40000, 80);
    let s = (80, 40000);
    // Client ISN 1000, server ISN 5000; each offers 512 << 7 = 64 KiB.
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &ws, 0),
    );
    let (id, _) = syn.flow.unwrap();
    go(&mut ct, segment(S, C, s, 0x12, (5000, 1001, 65535), &ws, 0));
    go(
        &mut ct,
        segment(C, S, c, flags::ACK, (1001, 5001, 512), &[], 100),
    );
    go(
        &mut ct,
        segment(S, C, s, flags::ACK, (5001, 1101, 512), &[], 0),
    );
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    let rst = |seq: u32| segment(S, C, s, flags::RST, (seq, 0, 0), &[], 0);
    // Blind: far outside the client's window (it acknowledged 5001
    // and offered 64 KiB), or below what it acknowledged.
    for seq in [1_234_567, 5001 + 65536 + 1, 4000] {
        assert_eq!(go(&mut ct, rst(seq)).state, CtState::Invalid, "{seq}");
        assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    }
    // In the window, not exact: passed on, the flow lives — also when
    // the same one comes again.
    for _ in 0..2 {
        let r = go(&mut ct, rst(5001 + 30_000));
        assert_eq!(r.state, CtState::Established);
        assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    }
    // A RST whose header is cut short (data offset past its end):
    // INVALID, whatever its number.
    let (i, mut b) = rst(5001);
    b[20 + 12] = 15 << 4;
    assert_eq!(go(&mut ct, (i, b)).state, CtState::Invalid);
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    // Exact: closed.
    go(&mut ct, rst(5001));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Close));
}

/// A RST's ACK must fall within what its receiver sent (Linux's
/// tcp_in_window: not past its end, not more than a window before it):
/// one forged against a SYN without the ISN is INVALID and leaves the
/// attempt standing; the true answer closes it, and so does an ACK of 0.
#[test]
fn a_rsts_ack_must_fall_within_what_was_sent() {
    let mut ct = Conntrack::new(16, 1);
    let c = (40000, 9);
    let s = (9, 40000);
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id, _) = syn.flow.unwrap();
    let rst_ack = |ack: u32| segment(S, C, s, 0x14, (0, ack, 0), &[], 0);
    // Past what the client sent, far before it (half the number space
    // away), more than a window before it.
    for ack in [
        1000 + 12346,
        900_000,
        1001 + (1 << 31) + 10,
        1001u32.wrapping_sub(70_000),
    ] {
        assert_eq!(go(&mut ct, rst_ack(ack)).state, CtState::Invalid, "{ack}");
        assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::SynSent));
    }
    assert_ne!(go(&mut ct, rst_ack(1001)).state, CtState::Invalid);
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Close));
    // A stack that sends ACK 0 in its RST is let through (Linux).
    let mut ct = Conntrack::new(16, 1);
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id, _) = syn.flow.unwrap();
    assert_ne!(go(&mut ct, rst_ack(0)).state, CtState::Invalid);
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Close));
}

/// Without scaling on both SYNs, windows are not scaled: a RST past
/// the raw window is outside it. A RST right after its sender's own
/// last data (before the peer acknowledged it) closes the flow.
#[test]
fn a_rst_window_without_scaling_and_after_the_senders_data() {
    let mut ct = Conntrack::new(16, 1);
    let ws = [1, 3, 3, 7];
    let c = (40001, 80);
    let s = (80, 40001);
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &ws, 0),
    );
    let (id, _) = syn.flow.unwrap();
    // The server offers no scaling: neither side's windows are scaled.
    go(&mut ct, segment(S, C, s, 0x12, (5000, 1001, 65535), &[], 0));
    go(
        &mut ct,
        segment(C, S, c, flags::ACK, (1001, 5001, 512), &[], 0),
    );
    let rst = |seq: u32| segment(S, C, s, flags::RST, (seq, 0, 0), &[], 0);
    assert_eq!(go(&mut ct, rst(5001 + 600)).state, CtState::Invalid);
    // The server sends 300 bytes, then resets after them.
    go(
        &mut ct,
        segment(S, C, s, flags::ACK, (5001, 1001, 512), &[], 300),
    );
    go(&mut ct, rst(5301));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Close));
    // Outside ESTABLISHED an in-window RST closes too (Linux): the
    // client half-closes, then a RST not at the exact byte.
    let c2 = (40002, 80);
    let s2 = (80, 40002);
    let syn = go(
        &mut ct,
        segment(C, S, c2, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id2, _) = syn.flow.unwrap();
    go(
        &mut ct,
        segment(S, C, s2, 0x12, (5000, 1001, 65535), &[], 0),
    );
    go(
        &mut ct,
        segment(C, S, c2, flags::ACK, (1001, 5001, 512), &[], 0),
    );
    go(&mut ct, segment(C, S, c2, 0x11, (1001, 5001, 512), &[], 0));
    assert_eq!(ct.entry(id2).unwrap().tcp, Some(TcpCt::FinWait));
    go(
        &mut ct,
        segment(S, C, s2, flags::RST, (5001 + 100, 0, 0), &[], 0),
    );
    assert_eq!(ct.entry(id2).unwrap().tcp, Some(TcpCt::Close));
}

#[test]
fn a_tcp_connection_from_syn_to_time_wait() {
    let mut ct = Conntrack::new(16, 1);
    let syn = step(&mut ct, 0, tcp(C, S, 40000, 80, flags::SYN));
    assert_eq!(syn.state, CtState::New);
    let (id, _) = syn.flow.unwrap();
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::SynSent));
    // A retransmitted SYN is still NEW.
    assert_eq!(
        step(&mut ct, 1, tcp(C, S, 40000, 80, flags::SYN)).state,
        CtState::New
    );
    let sa = step(&mut ct, 1, tcp(S, C, 80, 40000, 0x12));
    assert_eq!(
        (sa.state, sa.flow.unwrap().1),
        (CtState::Established, Dir::Reply)
    );
    step(&mut ct, 1, tcp(C, S, 40000, 80, flags::ACK));
    let e = ct.entry(id).unwrap();
    assert_eq!(e.tcp, Some(TcpCt::Established));
    assert!(e.assured);
    assert_eq!(e.expires, Duration::from_secs(1 + 432_000));
    step(&mut ct, 2, tcp(C, S, 40000, 80, 0x11));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::FinWait));
    step(&mut ct, 2, tcp(S, C, 80, 40000, flags::ACK));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::CloseWait));
    step(&mut ct, 3, tcp(S, C, 80, 40000, 0x11));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::LastAck));
    step(&mut ct, 3, tcp(C, S, 40000, 80, flags::ACK));
    let e = ct.entry(id).unwrap();
    assert_eq!(e.tcp, Some(TcpCt::TimeWait));
    assert_eq!(e.expires, Duration::from_secs(3 + 120));
    assert!(ct.expire(Duration::from_secs(200)).len() == 1);
    assert!(ct.is_empty());
}

/// RFC 5382 REQ-5: a connection not yet (or no longer) established
/// keeps its mapping at least 4 minutes — here 240 s from its last
/// packet, in each transitory state.
#[test]
fn transitory_tcp_states_live_four_minutes() {
    let mut ct = Conntrack::new(16, 1);
    let (id, _) = step(&mut ct, 10, tcp(C, S, 40000, 80, flags::SYN))
        .flow
        .unwrap();
    assert_eq!(ct.entry(id).unwrap().expires, Duration::from_secs(250));
    step(&mut ct, 20, tcp(S, C, 80, 40000, 0x12));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::SynRecv));
    assert_eq!(ct.entry(id).unwrap().expires, Duration::from_secs(260));
    assert!(ct.expire(Duration::from_secs(259)).is_empty());
    assert_eq!(ct.expire(Duration::from_secs(260)).len(), 1);
    // FIN_WAIT, once established: transitory again.
    let (id, _) = step(&mut ct, 0, tcp(C, S, 40001, 80, flags::SYN))
        .flow
        .unwrap();
    step(&mut ct, 0, tcp(S, C, 80, 40001, 0x12));
    step(&mut ct, 0, tcp(C, S, 40001, 80, flags::ACK));
    step(&mut ct, 5, tcp(C, S, 40001, 80, 0x11));
    let e = ct.entry(id).unwrap();
    assert_eq!(e.tcp, Some(TcpCt::FinWait));
    assert_eq!(e.expires, Duration::from_secs(245));
}

/// RFC 5508 REQ-1, REQ-2: echo flows are told apart by identifier (the
/// tuple's ports), and a mapping lives 60 s from its last packet.
#[test]
fn echo_flows_by_identifier_for_sixty_seconds() {
    let echo = |src, dst, ty: u8, id: u16| Info {
        proto: ICMP,
        icmp: Some((ty, 0)),
        ..tcp(src, dst, id, id, 0)
    };
    let mut ct = Conntrack::new(16, 1);
    let (a, _) = step(&mut ct, 0, echo(C, S, 8, 7)).flow.unwrap();
    let (b, _) = step(&mut ct, 0, echo(C, S, 8, 8)).flow.unwrap();
    assert_ne!(a, b, "two identifiers, two flows");
    let reply = step(&mut ct, 1, echo(S, C, 0, 8));
    assert_eq!(reply.state, CtState::Established);
    assert_eq!(reply.flow, Some((b, Dir::Reply)));
    // A reply to an identifier nobody used answers nothing.
    assert_eq!(step(&mut ct, 1, echo(S, C, 0, 9)).state, CtState::Invalid);
    assert_eq!(ct.entry(a).unwrap().expires, Duration::from_secs(60));
    assert_eq!(ct.entry(b).unwrap().expires, Duration::from_secs(61));
    assert_eq!(ct.expire(Duration::from_secs(60)).len(), 1);
    assert!(ct.entry(b).is_some());
    assert_eq!(ct.expire(Duration::from_secs(61)).len(), 1);
}

/// Simultaneous open (RFC 9293 §3.5) is a valid sequence a NAT must
/// pass (RFC 5382 REQ-2); data with PSH and a FIN with PSH count as
/// the ACK and FIN they carry.
#[test]
fn simultaneous_open_and_flags_that_ride_along() {
    let mut ct = Conntrack::new(16, 1);
    let (id, _) = step(&mut ct, 0, tcp(C, S, 40000, 5000, flags::SYN))
        .flow
        .unwrap();
    let syn = step(&mut ct, 0, tcp(S, C, 5000, 40000, flags::SYN));
    assert_eq!(
        (syn.state, syn.flow),
        (CtState::Established, Some((id, Dir::Reply)))
    );
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::SynRecv));
    step(&mut ct, 0, tcp(C, S, 40000, 5000, 0x12));
    step(&mut ct, 0, tcp(S, C, 5000, 40000, 0x12));
    // The first ACK from the original side carries data.
    let psh_ack = flags::PSH | flags::ACK;
    step(&mut ct, 1, tcp(C, S, 40000, 5000, psh_ack));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    assert!(ct.entry(id).unwrap().assured);
    // FIN|PSH|ACK, as Linux sends when it closes with data queued.
    step(&mut ct, 2, tcp(C, S, 40000, 5000, psh_ack | flags::FIN));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::FinWait));
    step(&mut ct, 2, tcp(S, C, 5000, 40000, psh_ack));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::CloseWait));
    step(&mut ct, 3, tcp(S, C, 5000, 40000, psh_ack | flags::FIN));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::LastAck));
    step(&mut ct, 3, tcp(C, S, 40000, 5000, flags::ACK));
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::TimeWait));
}

fn udp(t: u64, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> (u64, Info) {
    let mut p = tcp(src, dst, sport, dport, 0);
    p.proto = UDP;
    (t, p)
}

#[test]
fn a_refreshed_flow_outlives_its_first_timeout() {
    let mut ct = Conntrack::new(16, 1);
    for (t, p) in [
        udp(0, C, S, 5000, 53),
        udp(1, S, C, 53, 5000),
        udp(3, C, S, 5000, 53),
    ] {
        step(&mut ct, t, p);
    }
    // A stream (answered, busy after 2 s): 300 s from the last packet.
    // A packet at 200 s keeps it.
    let (t, p) = udp(200, C, S, 5000, 53);
    step(&mut ct, t, p);
    assert!(ct.expire(Duration::from_secs(400)).is_empty());
    assert_eq!(ct.len(), 1);
    assert_eq!(ct.expire(Duration::from_secs(501)).len(), 1);
    assert!(ct.is_empty());
}

/// A query and its answer is not a stream (Linux's UDP rule): it keeps
/// the unanswered timeout and stays unassured, so a table full of
/// one-shot exchanges (DNS lookups) makes room for a new flow.
#[test]
fn a_one_shot_exchange_is_not_assured() {
    let mut ct = Conntrack::new(2, 1);
    for port in [5000, 5001] {
        for (t, p) in [udp(0, C, S, port, 53), udp(0, S, C, 53, port)] {
            step(&mut ct, t, p);
        }
    }
    let e = ct.entries().next().unwrap();
    assert!(e.seen_reply && !e.assured);
    assert_eq!(e.expires, Duration::from_secs(30));
    let (t, p) = udp(1, C, S, 5002, 53);
    assert_eq!(step(&mut ct, t, p).state, CtState::New);
    assert_eq!((ct.stats.early_drop, ct.stats.table_full), (1, 0));
}

/// Linux's lookup never finds an expired entry: a datagram that would
/// have been a reply of a flow whose time is up starts a flow of its
/// own (NEW, which a stateful firewall refuses), even while the expiry
/// queue, worked through 64 at a time, still holds the old one.
#[test]
fn an_expired_flow_is_never_found() {
    let mut ct = Conntrack::new(1000, 1);
    for port in 4001..=4100 {
        let (t, p) = udp(0, C, S, port, 9);
        step(&mut ct, t, p);
    }
    // One batch at 31 s: 64 gone, 36 left behind though expired.
    assert_eq!(ct.expire(Duration::from_secs(31)).len(), GC_BATCH);
    assert_eq!(ct.len(), 100 - GC_BATCH);
    let (t, p) = udp(60, S, C, 9, 4100);
    let r = step(&mut ct, t, p);
    assert_eq!(r.state, CtState::New);
    assert_eq!(
        ct.entry(r.flow.unwrap().0).unwrap().orig.src,
        Ipv4Addr::from(S)
    );
    assert_eq!(ct.stats.expired, GC_BATCH as u64 + 1);
    // An ICMP error quoting an expired flow's packet is not RELATED.
    let (err, bytes) = icmp_error_quoting(&udp(0, C, S, 4099, 9).1);
    let r = ct.track(Duration::from_secs(60), &err, &bytes, &mut Vec::new());
    assert_eq!(r.state, CtState::Invalid);
    // One quoting a live flow's is.
    let (t, p) = udp(60, C, S, 6000, 9);
    step(&mut ct, t, p);
    let (err, bytes) = icmp_error_quoting(&udp(60, C, S, 6000, 9).1);
    let r = ct.track(Duration::from_secs(61), &err, &bytes, &mut Vec::new());
    assert_eq!(r.state, CtState::Related);
}

/// A port unreachable from `inner`'s destination quoting `inner`'s
/// header and ports.
fn icmp_error_quoting(inner: &Info) -> (Info, Vec<u8>) {
    let mut b = vec![0u8; 56];
    b[0] = 0x45;
    b[2..4].copy_from_slice(&56u16.to_be_bytes());
    b[9] = ICMP;
    b[12..16].copy_from_slice(&inner.dst.octets());
    b[16..20].copy_from_slice(&inner.src.octets());
    b[20..22].copy_from_slice(&[3, 3]);
    b[28] = 0x45;
    b[30..32].copy_from_slice(&28u16.to_be_bytes());
    b[37] = inner.proto;
    b[40..44].copy_from_slice(&inner.src.octets());
    b[44..48].copy_from_slice(&inner.dst.octets());
    b[48..50].copy_from_slice(&inner.sport.to_be_bytes());
    b[50..52].copy_from_slice(&inner.dport.to_be_bytes());
    (crate::packet::parse(&b).unwrap(), b)
}

/// A TCP flow on its way out may be evicted for a new one, though it
/// was assured (Linux's `tcp_can_early_drop`): closed connections in
/// TIME_WAIT cannot hold the table for two minutes.
#[test]
fn closing_tcp_flows_make_room() {
    let mut ct = Conntrack::new(1, 1);
    step(&mut ct, 0, tcp(C, S, 1, 80, flags::SYN));
    step(&mut ct, 0, tcp(S, C, 80, 1, 0x12));
    step(&mut ct, 0, tcp(C, S, 1, 80, flags::ACK));
    assert!(ct.entries().next().unwrap().assured);
    // Established: a new flow is refused.
    assert_eq!(
        step(&mut ct, 1, tcp(C, S, 2, 80, flags::SYN)).state,
        CtState::Invalid
    );
    for (src, dst, sp, dp, f) in [
        (C, S, 1, 80, 0x11),
        (S, C, 80, 1, 0x11),
        (C, S, 1, 80, flags::ACK),
    ] {
        step(&mut ct, 2, tcp(src, dst, sp, dp, f));
    }
    assert_eq!(ct.entries().next().unwrap().tcp, Some(TcpCt::TimeWait));
    assert_eq!(
        step(&mut ct, 3, tcp(C, S, 2, 80, flags::SYN)).state,
        CtState::New
    );
    assert_eq!((ct.stats.early_drop, ct.stats.table_full), (1, 1));
}

#[test]
fn invalid_packets() {
    let mut ct = Conntrack::new(16, 1);
    ct.tcp_loose = false;
    // A bare ACK with no flow, without mid-stream pickup.
    assert_eq!(
        step(&mut ct, 0, tcp(S, C, 80, 40000, flags::ACK)).state,
        CtState::Invalid
    );
    // SYN+FIN is never valid.
    assert_eq!(
        step(&mut ct, 0, tcp(C, S, 1, 2, 0x03)).state,
        CtState::Invalid
    );
    assert_eq!(ct.stats.invalid, 2);
    assert!(ct.is_empty());
}

/// Linux's default `nf_conntrack_tcp_loose=1`: a bare ACK (data and PSH
/// may ride along) with no flow starts one as ESTABLISHED, NEW to the
/// rules; its answer makes it ESTABLISHED to them. A FIN, a RST or a
/// SYN-ACK with no flow stays INVALID. Unanswered, it keeps a transitory
/// timeout, not five days.
#[test]
fn a_bare_ack_is_picked_up_mid_stream() {
    let mut ct = Conntrack::new(16, 1);
    let first = step(&mut ct, 0, tcp(C, S, 40000, 80, flags::ACK | flags::PSH));
    assert_eq!(first.state, CtState::New);
    let (id, _) = first.flow.unwrap();
    assert_eq!(ct.entry(id).unwrap().tcp, Some(TcpCt::Established));
    assert_eq!(ct.entry(id).unwrap().expires, Duration::from_secs(240));
    assert_eq!(
        step(&mut ct, 1, tcp(S, C, 80, 40000, flags::ACK)).state,
        CtState::Established
    );
    assert_eq!(
        ct.entry(id).unwrap().expires,
        Duration::from_secs(1 + 432_000)
    );
    for f in [flags::FIN | flags::ACK, flags::RST, flags::SYN | flags::ACK] {
        assert_eq!(
            step(&mut ct, 2, tcp(C, S, 40001, 80, f)).state,
            CtState::Invalid,
            "{f:#x}"
        );
    }
    assert_eq!(ct.len(), 1);
}

#[test]
fn full_table_evicts_unassured_then_refuses() {
    let mut ct = Conntrack::new(2, 1);
    step(&mut ct, 0, tcp(C, S, 1, 80, flags::SYN));
    step(&mut ct, 0, tcp(C, S, 2, 80, flags::SYN));
    // A third flow evicts the oldest unanswered one.
    assert_eq!(
        step(&mut ct, 1, tcp(C, S, 3, 80, flags::SYN)).state,
        CtState::New
    );
    assert_eq!(ct.stats.early_drop, 1);
    assert_eq!(ct.len(), 2);
    // Make both remaining flows assured; then a new one is refused.
    for port in [2, 3] {
        step(&mut ct, 2, tcp(S, C, 80, port, 0x12));
        step(&mut ct, 2, tcp(C, S, port, 80, flags::ACK));
    }
    assert_eq!(
        step(&mut ct, 3, tcp(C, S, 4, 80, flags::SYN)).state,
        CtState::Invalid
    );
    assert_eq!(ct.stats.table_full, 1);
    // Counted as a drop, not as an invalid packet (Linux's conntrack -S).
    assert_eq!(ct.stats.invalid, 0);
    assert_eq!(ct.len(), 2);
}

/// A RST before any reply (a refused connection) ends the flow at once,
/// as Linux's tcp_packet kills it (nf_ct_kill_acct): the RST itself is
/// still tracked (it must be translated back), then the flow is
/// collected; after a reply a RST leaves the flow in CLOSE for its 10 s.
#[test]
fn a_rst_before_any_reply_ends_the_flow_at_once() {
    let mut ct = Conntrack::new(16, 1);
    let (c, s) = ((40000, 9), (9, 40000));
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id, _) = syn.flow.unwrap();
    let rst = go(&mut ct, segment(S, C, s, 0x14, (0, 1001, 0), &[], 0));
    assert_eq!(rst.flow, Some((id, Dir::Reply)));
    assert_ne!(rst.state, CtState::Invalid);
    let now = Duration::from_secs(1);
    assert!(ct.entry(id).unwrap().expires <= now);
    let gone = ct.expire(now);
    assert_eq!(gone.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    assert!(ct.entry(id).is_none());
    // Answered first: the RST closes, and the flow stays listed.
    let (c, s) = ((40001, 80), (80, 40001));
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id, _) = syn.flow.unwrap();
    go(&mut ct, segment(S, C, s, 0x12, (5000, 1001, 65535), &[], 0));
    go(&mut ct, segment(S, C, s, flags::RST, (5001, 0, 0), &[], 0));
    let e = ct.entry(id).unwrap();
    assert_eq!(e.tcp, Some(TcpCt::Close));
    assert_eq!(e.expires, now + Duration::from_secs(10));
}

/// Linux's own timeouts, state by state, when a router asks for them
/// (`conntrack_timeouts = "linux"`): what its `conntrack -L` counts down
/// from.
#[test]
fn linux_timeouts_state_by_state() {
    let mut ct = Conntrack::new(16, 1);
    ct.timeouts = Timeouts::linux();
    let (c, s) = ((40000, 80), (80, 40000));
    let syn = go(
        &mut ct,
        segment(C, S, c, flags::SYN, (1000, 0, 65535), &[], 0),
    );
    let (id, _) = syn.flow.unwrap();
    let left = |ct: &Conntrack| ct.entry(id).unwrap().expires.as_secs() - 1;
    assert_eq!(left(&ct), 120, "SYN_SENT");
    go(&mut ct, segment(S, C, s, 0x12, (5000, 1001, 65535), &[], 0));
    assert_eq!(left(&ct), 60, "SYN_RECV");
    go(
        &mut ct,
        segment(C, S, c, flags::ACK, (1001, 5001, 512), &[], 0),
    );
    assert_eq!(left(&ct), 432_000, "ESTABLISHED");
    go(&mut ct, segment(C, S, c, 0x11, (1001, 5001, 512), &[], 0));
    assert_eq!(left(&ct), 120, "FIN_WAIT");
    go(
        &mut ct,
        segment(S, C, s, flags::ACK, (5001, 1002, 512), &[], 0),
    );
    assert_eq!(left(&ct), 60, "CLOSE_WAIT");
    go(&mut ct, segment(S, C, s, 0x11, (5001, 1002, 512), &[], 0));
    assert_eq!(left(&ct), 30, "LAST_ACK");
    go(
        &mut ct,
        segment(C, S, c, flags::ACK, (1002, 5002, 512), &[], 0),
    );
    assert_eq!(left(&ct), 120, "TIME_WAIT");
}

/// An ICMP error goes back to the sender of the packet it quotes: one
/// quoting the flow's reply (S to C) but addressed to C — a forgery an
/// outsider can make knowing only the flow's ports — is INVALID, as
/// Linux's conntrack finds it ("outer daddr != inner").
#[test]
fn an_error_not_addressed_to_the_quoted_sender_is_invalid() {
    let mut ct = Conntrack::new(1000, 1);
    let (t, p) = udp(0, C, S, 6000, 9);
    step(&mut ct, t, p);
    let (t, p) = udp(0, S, C, 9, 6000);
    step(&mut ct, t, p);
    // Genuine: from S back to C, quoting C's packet.
    let (err, bytes) = icmp_error_quoting(&udp(0, C, S, 6000, 9).1);
    let r = ct.track(Duration::from_secs(1), &err, &bytes, &mut Vec::new());
    assert_eq!(r.state, CtState::Related);
    // Forged: quoting S's reply, yet sent to C.
    let (_, mut bytes) = icmp_error_quoting(&udp(0, S, C, 9, 6000).1);
    bytes[12..16].copy_from_slice(&Ipv4Addr::from(S).octets());
    bytes[16..20].copy_from_slice(&Ipv4Addr::from(C).octets());
    let err = crate::packet::parse(&bytes).unwrap();
    let before = ct.stats.invalid;
    let r = ct.track(Duration::from_secs(1), &err, &bytes, &mut Vec::new());
    assert_eq!(r.state, CtState::Invalid);
    assert_eq!(ct.stats.invalid, before + 1);
}

/// GRE is tracked as Linux's `nf_conntrack_proto_gre` tracks it: 30 s
/// until answered, 180 s after, listed with keys 0 (a GRE that is not
/// PPTP's).
#[test]
fn gre_lives_thirty_seconds_unanswered_and_three_minutes_answered() {
    let gre = |src, dst| Info {
        proto: GRE,
        has_ports: false,
        ..tcp(src, dst, 0, 0, 0)
    };
    let mut ct = Conntrack::new(16, 1);
    let (id, _) = step(&mut ct, 0, gre(C, S)).flow.unwrap();
    let e = ct.entry(id).unwrap();
    assert_eq!(e.expires, Duration::from_secs(30));
    assert_eq!(
        crate::show::flow_line(e, Duration::from_secs(4)),
        "gre      47 26 src=10.0.1.2 dst=10.0.2.2 srckey=0x0 dstkey=0x0 [UNREPLIED] \
         src=10.0.2.2 dst=10.0.1.2 srckey=0x0 dstkey=0x0 mark=0 use=1"
    );
    assert_eq!(step(&mut ct, 5, gre(S, C)).flow, Some((id, Dir::Reply)));
    assert_eq!(ct.entry(id).unwrap().expires, Duration::from_secs(185));
    assert!(ct.expire(Duration::from_secs(184)).is_empty());
    assert_eq!(ct.expire(Duration::from_secs(185)).len(), 1);
}
