//! The time-sequence graph (Stevens/tcptrace style), congestion control
//! and RTT over time, the state timeline with RFC 9293's diagram, and
//! the links' throughput and queues.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use tcplab_sim::record::Fate;
use tcplab_sim::{PacketRecord, Scenario};
use tcplab_stack::tcp::{CcSample, Timer, TraceEvent};
use tcplab_stack::{Instant, TcpState};

use crate::model::{Conn, End, Flight, ACK, SYN};
use crate::svg::{bytes, esc, n, open, polyline, secs, Plot};

/// Data segments drawn at most in one time-sequence graph; beyond that
/// every k-th new segment is drawn (retransmissions always are).
pub const MAX_SEGMENTS: usize = 20_000;
/// Points per line at most.
pub const MAX_POINTS: usize = 4_000;

const W: f64 = 760.0;
const H: f64 = 360.0;

fn plot(xmin: f64, xmax: f64, ymin: f64, ymax: f64) -> Plot {
    Plot {
        x0: 70.0,
        y0: 20.0,
        w: W - 90.0,
        h: H - 70.0,
        xmin,
        xmax: if xmax > xmin { xmax } else { xmin + 1e-3 },
        ymin,
        ymax: if ymax > ymin { ymax } else { ymin + 1.0 },
    }
}

/// Which end sent more data (the direction a time-sequence graph shows).
pub fn data_sender(c: &Conn) -> Option<usize> {
    let mut sent = [0u64; 2];
    for f in &c.flights {
        sent[f.by] += u64::from(f.tcp.len);
    }
    match sent {
        [0, 0] => None,
        [a, b] => Some(usize::from(b > a)),
    }
}

/// A window of a time-sequence graph around the first retransmission:
/// from 60 segments before it to 120 after (seconds from the connection's
/// start), when there is one and the transfer is longer than that.
pub fn first_loss_window(c: &Conn, by: usize) -> Option<(f64, f64)> {
    let t0 = c.first_time();
    let data: Vec<_> = c
        .flights
        .iter()
        .filter(|f| f.by == by && f.tcp.seg_len() > 0)
        .collect();
    let i = data.iter().position(|f| f.retransmission)?;
    if data.len() < 200 {
        return None;
    }
    let from = data[i.saturating_sub(60)].sent;
    let to = data[(i + 120).min(data.len() - 1)].sent;
    Some((
        from.saturating_since(t0).as_secs_f64(),
        to.saturating_since(t0).as_secs_f64(),
    ))
}

/// The time-sequence graph of what end `by` sent, seen at the sender
/// (segments when they left, ACKs when they arrived back); `window` limits
/// it to a stretch of time (seconds from the connection's start).
pub fn time_sequence(c: &Conn, by: usize, window: Option<(f64, f64)>) -> String {
    let t0 = c.first_time();
    let x = |t: Instant| t.saturating_since(t0).as_secs_f64();
    let within = |t: f64| window.is_none_or(|(a, b)| t >= a && t <= b);
    let data: Vec<_> = c
        .flights
        .iter()
        .filter(|f| f.by == by && f.tcp.seg_len() > 0 && within(x(f.sent)))
        .collect();
    let acks: Vec<_> = c
        .flights
        .iter()
        .filter(|f| f.by != by && f.tcp.has(ACK) && f.arrived.is_some_and(|a| within(x(a))))
        .collect();
    let rel_end = |f: &Flight| f64::from(c.rel_seq(by, f.tcp.seq)) + f64::from(f.tcp.seg_len());
    let rel_start = |f: &Flight| f64::from(c.rel_seq(by, f.tcp.seq));
    let ymin = match window {
        Some(_) => data
            .iter()
            .map(|f| rel_start(f))
            .fold(f64::INFINITY, f64::min),
        None => 0.0,
    };
    let ymin = if ymin.is_finite() { ymin } else { 0.0 };
    let mut ymax = ymin + 1.0;
    for f in &data {
        ymax = ymax.max(rel_end(f));
    }
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    let scale = |f: &Flight| if f.tcp.has(SYN) { 0 } else { c.wscale[1 - by] };
    let (mut xmin, mut xmax) = match window {
        Some((a, b)) => (a, b),
        None => (0.0, 0.0),
    };
    for f in &data {
        xmax = xmax.max(x(f.sent));
    }
    if window.is_none() {
        xmin = 0.0;
    }
    // The window line may reach far above the data (a large buffer and a
    // short transfer): it is drawn to at most twice the data's height.
    let data_top = ymax;
    for a in &acks {
        xmax = xmax.max(x(a.arrived.unwrap_or(a.sent)));
        let win = f64::from(c.rel_ack(1 - by, a.tcp.ack))
            + f64::from(u32::from(a.tcp.window) << scale(a));
        ymax = ymax.max(win.min(data_top + (data_top - ymin)));
    }
    let span = (xmax - xmin).max(1e-4);
    let p = plot(xmin, xmax + span * 0.02, ymin, ymax + (ymax - ymin) * 0.05);
    let mut out = open(W, H, "tseq zoom");
    p.axes(
        &mut out,
        "time (s)",
        "sequence number (relative, bytes)",
        &|v| secs(v),
        &|v| bytes(v),
    );
    let _ = write!(out, "<g class=\"plot\">");
    // ACK line and window line: steps at each ACK's arrival.
    let mut ack_pts = Vec::new();
    let mut win_pts = Vec::new();
    let mut last_ack: Option<(u32, u16)> = None;
    let mut dups = String::new();
    let mut sacks = String::new();
    for a in &acks {
        let t = x(a.arrived.unwrap_or(a.sent));
        let ack = c.rel_ack(1 - by, a.tcp.ack);
        let win = f64::from(ack) + f64::from(u32::from(a.tcp.window) << scale(a));
        if let Some(&(_, py)) = ack_pts.last() {
            ack_pts.push((p.x(t), py));
        }
        ack_pts.push((p.x(t), p.y(f64::from(ack))));
        if let Some(&(_, py)) = win_pts.last() {
            win_pts.push((p.x(t), py));
        }
        win_pts.push((p.x(t), p.y(win.min(p.ymax))));
        // RFC 5681 §2's duplicate ACK: no data, neither SYN nor FIN, the
        // same acknowledgment and the same window as the last.
        let dup = last_ack == Some((ack, a.tcp.window))
            && a.tcp.len == 0
            && !a.tcp.has(crate::model::SYN | crate::model::FIN);
        if dup && dups.len() < 200_000 {
            let _ = write!(
                dups,
                "<path d=\"M{} {}h0.01\"/>",
                n(p.x(t)),
                n(p.y(f64::from(ack)))
            );
        }
        last_ack = Some((ack, a.tcp.window));
        for &(l, r) in &a.tcp.sack {
            if sacks.len() > 400_000 {
                break;
            }
            let (l, r) = (c.rel_ack(1 - by, l), c.rel_ack(1 - by, r));
            let _ = write!(
                sacks,
                "<path d=\"M{} {}V{}\"/>",
                n(p.x(t)),
                n(p.y(f64::from(l))),
                n(p.y(f64::from(r)))
            );
        }
    }
    out.push_str(&polyline(
        &win_pts,
        MAX_POINTS * 2,
        "stroke=\"#f1c40f\" stroke-width=\"1.2\" class=\"win\"",
    ));
    out.push_str(&polyline(
        &ack_pts,
        MAX_POINTS * 2,
        "stroke=\"#27ae60\" stroke-width=\"1.2\" class=\"ackline\"",
    ));
    let _ = write!(
        out,
        "<g stroke=\"#8e44ad\" stroke-width=\"3\" opacity=\"0.6\" class=\"sack\">{sacks}</g>"
    );
    let _ = write!(
        out,
        "<g stroke=\"#e67e22\" stroke-width=\"4\" stroke-linecap=\"round\" class=\"dupack\">{dups}</g>"
    );
    // Segments: a vertical tick from seq to seq+len at the time they left.
    let step = data.len().div_ceil(MAX_SEGMENTS).max(1);
    let mut segs = String::new();
    let mut rtx = String::new();
    let mut probes = String::new();
    for (i, f) in data.iter().enumerate() {
        let s = f64::from(c.rel_seq(by, f.tcp.seq));
        let e = s + f64::from(f.tcp.seg_len());
        // A retransmission is drawn at least 8 px tall, to be seen over
        // the duplicate ACKs that asked for it.
        let least = if f.retransmission { 8.0 } else { 1.5 };
        let path = format!(
            "<path d=\"M{} {}V{}\"/>",
            n(p.x(x(f.sent))),
            n(p.y(s) + if f.retransmission { 2.0 } else { 0.0 }),
            n(p.y(e).min(p.y(s) - least))
        );
        if f.retransmission {
            rtx.push_str(&path);
        } else if f.tcp.len == 1 && f.arrived.is_some() && i > 0 {
            // A one-byte segment in the middle: a window probe, perhaps.
            probes.push_str(&path);
        } else if i % step == 0 {
            segs.push_str(&path);
        }
    }
    let _ = write!(
        out,
        "<g stroke=\"#2c3e50\" stroke-width=\"1.5\" class=\"data\">{segs}</g><g stroke=\"#e74c3c\" stroke-width=\"3\" class=\"rtx\">{rtx}</g><g stroke=\"#16a085\" stroke-width=\"2\" class=\"probe\">{probes}</g></g>"
    );
    legend(
        &mut out,
        &[
            ("#2c3e50", "data sent"),
            ("#e74c3c", "retransmission"),
            ("#27ae60", "ACK"),
            ("#f1c40f", "receive window"),
            ("#8e44ad", "SACK block"),
            ("#e67e22", "duplicate ACK"),
        ],
    );
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    let mut x = 80.0;
    for (colour, text) in items {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"6\" width=\"10\" height=\"8\" fill=\"{colour}\"/><text x=\"{}\" y=\"14\" fill=\"#333\">{}</text>",
            n(x),
            n(x + 13.0),
            esc(text)
        );
        x += 20.0 + 6.5 * text.len() as f64;
    }
}

/// The stretch of time a connection's stack events are taken from: from
/// its first segment until a later connection on the same addresses.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: Instant,
    pub until: Option<Instant>,
}

/// The stacks' events by end (node, local, remote), each end's in trace
/// order: built once per report, so that the graphs of each connection
/// cost what its own events do (a port scan's 65,535 connections made a
/// search of the whole trace for each one quadratic).
pub type EndEvents<'a> = HashMap<(usize, SocketAddrV4, SocketAddrV4), Vec<&'a TraceEvent>>;

/// Group `trace` by end.
pub fn index_ends(trace: &[(usize, TraceEvent)]) -> EndEvents<'_> {
    let mut by: EndEvents<'_> = HashMap::new();
    for (node, e) in trace {
        let (local, remote) = e.addrs();
        by.entry((*node, local, remote)).or_default().push(e);
    }
    by
}

/// The events of one end of a connection.
fn of_end<'a>(
    events: &'a EndEvents<'a>,
    end: &End,
    span: Span,
) -> impl Iterator<Item = &'a TraceEvent> + 'a {
    events
        .get(&(end.node, end.local, end.remote))
        .map_or(&[][..], |v| &v[..])
        .iter()
        .copied()
        .filter(move |e| e.time() >= span.from && span.until.is_none_or(|u| e.time() < u))
}

/// The samples one end of a connection recorded.
pub fn samples<'a>(
    events: &'a EndEvents<'a>,
    end: &End,
    span: Span,
) -> Vec<(Instant, &'a CcSample)> {
    of_end(events, end, span)
        .filter_map(|e| match e {
            TraceEvent::Cc { time, sample, .. } => Some((*time, sample)),
            _ => None,
        })
        .collect()
}

/// A value over time as a step line in `p` (each value holds until the
/// next sample, the last to `xmax`).
fn steps(
    p: &Plot,
    t0: Instant,
    xmax: f64,
    s: &[(Instant, &CcSample)],
    f: &dyn Fn(&CcSample) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for (t, v) in s {
        if let Some(y) = f(v) {
            let x = p.x(t.saturating_since(t0).as_secs_f64());
            if let Some(&(_, py)) = pts.last() {
                pts.push((x, py));
            }
            pts.push((x, p.y(y.min(p.ymax))));
        }
    }
    if let Some(&(_, py)) = pts.last() {
        pts.push((p.x(xmax), py));
    }
    pts
}

/// cwnd, ssthresh and bytes in flight over time, from the stack's own
/// state.
pub fn congestion(c: &Conn, s: &[(Instant, &CcSample)]) -> String {
    let t0 = c.first_time();
    let x = |t: Instant| t.saturating_since(t0).as_secs_f64();
    let xmax = s.last().map_or(1.0, |(t, _)| x(*t)).max(x(c.last_time()));
    let cap = s
        .iter()
        .map(|(_, v)| v.cwnd.max(v.in_flight))
        .max()
        .unwrap_or(1) as f64;
    let p = plot(0.0, xmax * 1.02 + 1e-4, 0.0, cap * 1.1);
    let mut out = open(W, H, "cc zoom");
    p.axes(&mut out, "time (s)", "bytes", &|v| secs(v), &|v| bytes(v));
    let line = |f: &dyn Fn(&CcSample) -> Option<f64>| steps(&p, t0, xmax, s, f);
    let _ = write!(out, "<g class=\"plot\">");
    out.push_str(&polyline(
        &line(&|v| Some(v.in_flight as f64)),
        MAX_POINTS,
        "stroke=\"#95a5a6\" stroke-width=\"1\" class=\"inflight\"",
    ));
    out.push_str(&polyline(
        &line(&|v| v.ssthresh.map(|x| x as f64)),
        MAX_POINTS,
        "stroke=\"#e67e22\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\" class=\"ssthresh\"",
    ));
    out.push_str(&polyline(
        &line(&|v| Some(v.cwnd as f64)),
        MAX_POINTS,
        "stroke=\"#2980b9\" stroke-width=\"1.8\" class=\"cwnd\"",
    ));
    out.push_str("</g>");
    legend(
        &mut out,
        &[
            ("#2980b9", "cwnd"),
            ("#e67e22", "ssthresh"),
            ("#95a5a6", "bytes in flight"),
        ],
    );
    out.push_str("</svg>");
    out
}

/// SRTT, RTTVAR and RTO over time, and the pacing rate when there is one.
pub fn rtt(c: &Conn, s: &[(Instant, &CcSample)]) -> String {
    let t0 = c.first_time();
    let x = |t: Instant| t.saturating_since(t0).as_secs_f64();
    let xmax = s.last().map_or(1.0, |(t, _)| x(*t)).max(x(c.last_time()));
    let ms = |us: u64| us as f64 / 1000.0;
    let top = s
        .iter()
        .map(|(_, v)| ms(v.rto_us).max(v.srtt_us.map_or(0.0, ms)))
        .fold(1.0f64, f64::max);
    let p = plot(0.0, xmax * 1.02 + 1e-4, 0.0, top * 1.1);
    let mut out = open(W, H, "rtt zoom");
    p.axes(&mut out, "time (s)", "milliseconds", &|v| secs(v), &|v| {
        secs(v)
    });
    let line = |f: &dyn Fn(&CcSample) -> Option<f64>| steps(&p, t0, xmax, s, f);
    let _ = write!(out, "<g class=\"plot\">");
    out.push_str(&polyline(
        &line(&|v| Some(ms(v.rto_us))),
        MAX_POINTS,
        "stroke=\"#c0392b\" stroke-width=\"1.5\" class=\"rto\"",
    ));
    out.push_str(&polyline(
        &line(&|v| v.srtt_us.map(ms)),
        MAX_POINTS,
        "stroke=\"#2980b9\" stroke-width=\"1.8\" class=\"srtt\"",
    ));
    out.push_str(&polyline(
        &line(&|v| v.srtt_us.map(|_| ms(v.rttvar_us))),
        MAX_POINTS,
        "stroke=\"#8e44ad\" stroke-width=\"1.2\" class=\"rttvar\"",
    ));
    out.push_str("</g>");
    legend(
        &mut out,
        &[
            ("#2980b9", "SRTT"),
            ("#8e44ad", "RTTVAR"),
            ("#c0392b", "RTO"),
        ],
    );
    if let Some(rate) = s.iter().rev().find_map(|(_, v)| v.pacing_rate) {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#555\">last pacing rate {}bit/s</text>",
            n(W - 20.0),
            n(H - 8.0),
            bytes(rate as f64 * 8.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// The timers that fired at one end, with when: those a ladder marks
/// (retransmission, tail loss probe, persist, keep-alive, 2·MSL).
pub fn timers_fired(events: &EndEvents<'_>, end: &End, span: Span) -> Vec<(Instant, Timer)> {
    of_end(events, end, span)
        .filter_map(|e| match e {
            TraceEvent::Timer { time, timer, .. }
                if !matches!(timer, Timer::DelayedAck | Timer::Pacing | Timer::Reorder) =>
            {
                Some((*time, *timer))
            }
            _ => None,
        })
        .collect()
}

/// One move of a connection's state: when, from (`None`: LISTEN), to.
pub type Step = (Instant, Option<TcpState>, TcpState);

/// The states each end went through, from the stack's own transitions.
pub fn state_path(events: &EndEvents<'_>, end: &End, span: Span) -> Vec<Step> {
    of_end(events, end, span)
        .filter_map(|e| match e {
            // LISTEN is not a connection state in the stack: `None` stands
            // for LISTEN on a passive open, CLOSED otherwise.
            TraceEvent::Open {
                time,
                state,
                passive,
                ..
            } => Some((*time, (!passive).then_some(TcpState::Closed), *state)),
            TraceEvent::State { time, from, to, .. } => Some((*time, Some(*from), *to)),
            TraceEvent::Cc { .. } | TraceEvent::Timer { .. } => None,
        })
        .collect()
}

fn state_name(s: Option<TcpState>) -> &'static str {
    match s {
        None => "LISTEN",
        Some(TcpState::Closed) => "CLOSED",
        Some(TcpState::SynSent) => "SYN-SENT",
        Some(TcpState::SynReceived) => "SYN-RECEIVED",
        Some(TcpState::Established) => "ESTABLISHED",
        Some(TcpState::FinWait1) => "FIN-WAIT-1",
        Some(TcpState::FinWait2) => "FIN-WAIT-2",
        Some(TcpState::CloseWait) => "CLOSE-WAIT",
        Some(TcpState::Closing) => "CLOSING",
        Some(TcpState::LastAck) => "LAST-ACK",
        Some(TcpState::TimeWait) => "TIME-WAIT",
    }
}

/// Where each state sits in the drawing of RFC 9293's figure 5.
fn place(s: Option<TcpState>) -> (f64, f64) {
    match s {
        Some(TcpState::Closed) => (300.0, 30.0),
        None => (300.0, 90.0),
        Some(TcpState::SynReceived) => (120.0, 150.0),
        Some(TcpState::SynSent) => (480.0, 150.0),
        Some(TcpState::Established) => (300.0, 210.0),
        Some(TcpState::FinWait1) => (120.0, 270.0),
        Some(TcpState::CloseWait) => (480.0, 270.0),
        Some(TcpState::FinWait2) => (120.0, 330.0),
        Some(TcpState::Closing) => (300.0, 330.0),
        Some(TcpState::LastAck) => (480.0, 330.0),
        Some(TcpState::TimeWait) => (300.0, 390.0),
    }
}

const END_COLOURS: [&str; 2] = ["#2980b9", "#d35400"];

/// RFC 9293's state diagram with the path each end took drawn over it.
pub fn state_diagram(paths: &[(String, Vec<Step>)]) -> String {
    use TcpState::*;
    let all = [
        Some(Closed),
        None,
        Some(SynReceived),
        Some(SynSent),
        Some(Established),
        Some(FinWait1),
        Some(CloseWait),
        Some(FinWait2),
        Some(Closing),
        Some(LastAck),
        Some(TimeWait),
    ];
    // The diagram's edges (figure 5), drawn faintly.
    let edges = [
        (Some(Closed), None),
        (Some(Closed), Some(SynSent)),
        (None, Some(SynReceived)),
        (None, Some(SynSent)),
        (Some(SynSent), Some(SynReceived)),
        (Some(SynSent), Some(Established)),
        (Some(SynReceived), Some(Established)),
        (Some(SynReceived), Some(FinWait1)),
        (Some(Established), Some(FinWait1)),
        (Some(Established), Some(CloseWait)),
        (Some(FinWait1), Some(FinWait2)),
        (Some(FinWait1), Some(Closing)),
        (Some(FinWait1), Some(TimeWait)),
        (Some(FinWait2), Some(TimeWait)),
        (Some(Closing), Some(TimeWait)),
        (Some(CloseWait), Some(LastAck)),
        (Some(LastAck), Some(Closed)),
        (Some(TimeWait), Some(Closed)),
    ];
    let mut out = open(600.0, 430.0, "states");
    let arrow = |out: &mut String, a: (f64, f64), b: (f64, f64), style: &str, dx: f64| {
        let _ = write!(
            out,
            "<path d=\"M{} {}L{} {}\" {style} marker-end=\"url(#sarr)\"/>",
            n(a.0 + dx),
            n(a.1 + 10.0),
            n(b.0 + dx),
            n(b.1 - 12.0)
        );
    };
    out.push_str("<defs><marker id=\"sarr\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" fill=\"context-stroke\"/></marker></defs>");
    for (a, b) in edges {
        let (pa, pb) = (place(a), place(b));
        // Edges that go up are drawn from the box's top.
        if pb.1 < pa.1 {
            let _ = write!(
                out,
                "<path d=\"M{} {}C{} {} {} {} {} {}\" stroke=\"#ddd\" fill=\"none\"/>",
                n(pa.0 + 45.0),
                n(pa.1),
                n(pa.0 + 110.0),
                n(pa.1),
                n(pb.0 + 110.0),
                n(pb.1),
                n(pb.0 + 50.0),
                n(pb.1)
            );
        } else {
            arrow(&mut out, pa, pb, "stroke=\"#ddd\"", 0.0);
        }
    }
    let mut visited: Vec<Option<TcpState>> = Vec::new();
    for (i, (_, path)) in paths.iter().enumerate() {
        let colour = END_COLOURS[i % 2];
        let dx = if i == 0 { -4.0 } else { 4.0 };
        for (_, from, to) in path {
            visited.push(*from);
            visited.push(Some(*to));
            let (pa, pb) = (place(*from), place(Some(*to)));
            if pb.1 < pa.1 || pa == pb {
                let _ = write!(
                    out,
                    "<path d=\"M{} {}C{} {} {} {} {} {}\" stroke=\"{colour}\" stroke-width=\"2\" fill=\"none\" marker-end=\"url(#sarr)\"/>",
                    n(pa.0 + 45.0),
                    n(pa.1 + dx),
                    n(pa.0 + 140.0 + dx * 3.0),
                    n(pa.1),
                    n(pb.0 + 140.0 + dx * 3.0),
                    n(pb.1),
                    n(pb.0 + 50.0),
                    n(pb.1 + dx)
                );
            } else {
                arrow(
                    &mut out,
                    pa,
                    pb,
                    &format!("stroke=\"{colour}\" stroke-width=\"2\""),
                    dx,
                );
            }
        }
    }
    for s in all {
        let (x, y) = place(s);
        let on = visited.contains(&s);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"100\" height=\"22\" rx=\"5\" fill=\"{}\" stroke=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" font-weight=\"{}\">{}</text>",
            n(x - 50.0),
            n(y - 11.0),
            if on { "#fdfefe" } else { "#f4f6f6" },
            if on { "#333" } else { "#bbb" },
            n(x),
            n(y + 4.0),
            if on { "bold" } else { "normal" },
            state_name(s)
        );
    }
    for (i, (name, _)) in paths.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"10\" y=\"{}\" width=\"10\" height=\"8\" fill=\"{}\"/><text x=\"24\" y=\"{}\">{}</text>",
            n(10.0 + 14.0 * i as f64),
            END_COLOURS[i % 2],
            n(18.0 + 14.0 * i as f64),
            esc(name)
        );
    }
    out.push_str("</svg>");
    out
}

/// Both ends' states as bars along the time axis.
pub fn state_timeline(t0: Instant, t1: Instant, paths: &[(String, Vec<Step>)]) -> String {
    let h = 40.0 + 34.0 * paths.len() as f64 + 30.0;
    let x = |t: Instant| t.saturating_since(t0).as_secs_f64();
    let end = paths
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(t, _, _)| x(*t)))
        .fold(x(t1), f64::max);
    let p = Plot {
        x0: 150.0,
        y0: 10.0,
        w: W - 170.0,
        h: h - 50.0,
        xmin: 0.0,
        xmax: end * 1.02 + 1e-4,
        ymin: 0.0,
        ymax: 1.0,
    };
    let mut out = open(W, h, "timeline zoom");
    p.axes(&mut out, "time (s)", "", &|v| secs(v), &|_| String::new());
    for (i, (name, path)) in paths.iter().enumerate() {
        let y = 18.0 + 34.0 * i as f64;
        let _ = write!(
            out,
            "<text x=\"140\" y=\"{}\" text-anchor=\"end\">{}</text>",
            n(y + 14.0),
            esc(name)
        );
        for (k, (t, _, to)) in path.iter().enumerate() {
            let next = path.get(k + 1).map_or(p.xmax, |(t2, _, _)| x(*t2));
            let (a, b) = (p.x(x(*t)), p.x(next));
            let fill = match to {
                TcpState::Established => "#abebc6",
                TcpState::TimeWait => "#f9e79f",
                TcpState::Closed => "#eaecee",
                TcpState::SynSent | TcpState::SynReceived => "#aed6f1",
                _ => "#f5cba7",
            };
            let _ = write!(
                out,
                "<g><title>{} from {:.6} s</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"22\" fill=\"{fill}\" stroke=\"#fff\"/>",
                state_name(Some(*to)),
                x(*t),
                n(a),
                n(y),
                n((b - a).max(1.0))
            );
            if b - a > 60.0 {
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>",
                    n(a + 3.0),
                    n(y + 15.0),
                    state_name(Some(*to))
                );
            }
            out.push_str("</g>");
        }
    }
    out.push_str("</svg>");
    out
}

/// One link direction's throughput and queue over time, and its drops.
pub fn link_direction(packets: &[&PacketRecord], t_end: Instant) -> String {
    const BUCKETS: usize = 100;
    let end = t_end.since_origin().as_secs_f64().max(1e-3);
    let mut bytes_in = vec![0u64; BUCKETS];
    let mut queue = vec![0u32; BUCKETS];
    let mut drops: Vec<(f64, Fate)> = Vec::new();
    for p in packets {
        let t = p.time.since_origin().as_secs_f64();
        let b = ((t / end) * BUCKETS as f64) as usize;
        let b = b.min(BUCKETS - 1);
        if p.fate.arrived() {
            bytes_in[b] += p.len as u64;
        }
        queue[b] = queue[b].max(p.queue);
        if !p.fate.arrived() && drops.len() < 5_000 {
            drops.push((t, p.fate));
        }
    }
    let width = end / BUCKETS as f64;
    let rate: Vec<f64> = bytes_in.iter().map(|&b| b as f64 * 8.0 / width).collect();
    let top = rate.iter().cloned().fold(1.0, f64::max);
    let qtop = f64::from(queue.iter().copied().max().unwrap_or(0).max(1));
    let p = Plot {
        x0: 70.0,
        y0: 20.0,
        w: W - 130.0,
        h: 140.0,
        xmin: 0.0,
        xmax: end,
        ymin: 0.0,
        ymax: top * 1.1,
    };
    let mut out = open(W, 200.0, "link zoom");
    p.axes(&mut out, "time (s)", "bit/s", &|v| secs(v), &|v| bytes(v));
    let mut pts = Vec::new();
    for (i, r) in rate.iter().enumerate() {
        pts.push((p.x(i as f64 * width), p.y(*r)));
        pts.push((p.x((i + 1) as f64 * width), p.y(*r)));
    }
    out.push_str(&polyline(
        &pts,
        1000,
        "stroke=\"#2980b9\" stroke-width=\"1.5\" class=\"throughput\"",
    ));
    let qp = Plot {
        ymax: qtop * 1.1,
        ..p
    };
    let q: Vec<(f64, f64)> = queue
        .iter()
        .enumerate()
        .map(|(i, v)| (qp.x((i as f64 + 0.5) * width), qp.y(f64::from(*v))))
        .collect();
    out.push_str(&polyline(
        &q,
        1000,
        "stroke=\"#7f8c8d\" stroke-width=\"1\" stroke-dasharray=\"3 2\" class=\"queue\"",
    ));
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"30\" fill=\"#7f8c8d\">queue, packets (max {}) ┄</text>",
        n(W - 60.0 - 200.0),
        qtop as u32
    );
    for (t, fate) in drops {
        let colour = match fate {
            Fate::QueueFull => "#e67e22",
            Fate::Lost => "#c0392b",
            _ => "#8e44ad",
        };
        let _ = write!(
            out,
            "<path d=\"M{} {}v-8\" stroke=\"{colour}\" stroke-width=\"1.5\"><title>{} at {t:.6} s</title></path>",
            n(p.x(t)),
            n(p.y0 + p.h),
            fate.name()
        );
    }
    out.push_str("</svg>");
    out
}

/// The topology: hosts and routers, links with their settings.
/// The topology; `path` (nodes in order, as a traceroute found them) is
/// drawn over it.
pub fn topology(s: &Scenario, path: &[usize]) -> String {
    // Layers by breadth-first search over links from the first node.
    let count = s.nodes.len();
    let mut layer = vec![usize::MAX; count];
    let mut order = Vec::new();
    for start in 0..count {
        if layer[start] != usize::MAX {
            continue;
        }
        layer[start] = 0;
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            order.push(v);
            for seg in &s.segments {
                if !seg.members.iter().any(|&(m, _)| m == v) {
                    continue;
                }
                for &(m, _) in &seg.members {
                    if layer[m] == usize::MAX {
                        layer[m] = layer[v] + 1;
                        queue.push_back(m);
                    }
                }
            }
        }
    }
    let layers = layer
        .iter()
        .copied()
        .filter(|&l| l != usize::MAX)
        .max()
        .unwrap_or(0)
        + 1;
    let mut per = vec![0usize; layers];
    let mut pos = vec![(0.0, 0.0); count];
    for &v in &order {
        let l = layer[v];
        pos[v] = (80.0 + 230.0 * l as f64, 60.0 + 90.0 * per[l] as f64);
        per[l] += 1;
    }
    let w = 100.0 + 230.0 * layers as f64;
    let h = 80.0 + 90.0 * per.iter().copied().max().unwrap_or(1) as f64;
    let mut out = open(w, h, "topology");
    for seg in &s.segments {
        // The settings as they start; a link whose two directions differ
        // shows each, forward (what the first end sends) first.
        let mut label = seg.name.clone();
        let mut second = None;
        // (As labelled: a `drop` list or queue length shows in neither.)
        let same = seg
            .sending
            .windows(2)
            .all(|w| settings(&w[0]) == settings(&w[1]));
        match seg.sending.as_slice() {
            [p, ..] if same => label.push_str(&settings(p)),
            [f, r] => {
                let _ = write!(label, " \u{2192}{}", settings(f));
                second = Some(format!("\u{2190}{}", settings(r)));
            }
            [p, ..] => label.push_str(&settings(p)),
            [] => {}
        }
        if seg.members.len() == 2 {
            let (a, b) = (pos[seg.members[0].0], pos[seg.members[1].0]);
            let (mx, my) = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            let _ = write!(
                out,
                "<path d=\"M{} {}L{} {}\" stroke=\"#7f8c8d\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">{}</text>",
                n(a.0),
                n(a.1),
                n(b.0),
                n(b.1),
                n(mx),
                n(my - if second.is_some() { 17.0 } else { 6.0 }),
                esc(&label)
            );
            if let Some(line) = &second {
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">{}</text>",
                    n(mx),
                    n(my - 6.0),
                    esc(line)
                );
            }
        } else {
            // A LAN: a bus with every member hanging from it.
            let cx = seg.members.iter().map(|&(m, _)| pos[m].0).sum::<f64>()
                / seg.members.len().max(1) as f64;
            let cy = seg.members.iter().map(|&(m, _)| pos[m].1).sum::<f64>()
                / seg.members.len().max(1) as f64
                + 30.0;
            let _ = write!(out, "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"#7f8c8d\"/><text x=\"{}\" y=\"{}\" font-size=\"9\" fill=\"#555\">{}</text>", n(cx), n(cy), n(cx + 8.0), n(cy + 14.0), esc(&label));
            for &(m, _) in &seg.members {
                let _ = write!(
                    out,
                    "<path d=\"M{} {}L{} {}\" stroke=\"#7f8c8d\" stroke-width=\"2\"/>",
                    n(cx),
                    n(cy),
                    n(pos[m].0),
                    n(pos[m].1)
                );
            }
        }
    }
    if path.len() > 1 {
        let mut d = String::new();
        for (k, &node) in path.iter().enumerate() {
            let (x, y) = pos.get(node).copied().unwrap_or((0.0, 0.0));
            let _ = write!(
                d,
                "{}{} {}",
                if k == 0 { "M" } else { "L" },
                n(x),
                n(y + 8.0)
            );
        }
        let _ = write!(
            out,
            "<g><title>the path traceroute found</title><path d=\"{d}\" stroke=\"#e67e22\" stroke-width=\"4\" fill=\"none\" opacity=\"0.7\" stroke-dasharray=\"8 4\"/></g>"
        );
    }
    for (i, node) in s.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let router = node.kind == tcplab_sim::scenario::NodeKind::Router;
        let addrs: Vec<String> = node.ifaces.iter().map(|f| f.addr.to_string()).collect();
        let mut badge = String::new();
        if let Some(f) = &node.filter {
            let mut parts = Vec::new();
            if !f.acls.is_empty() {
                parts.push("ACL");
            }
            if !f.groups.is_empty() {
                parts.push("firewall");
            }
            if f.nat.is_some() {
                parts.push("NAT");
            }
            badge = parts.join("+");
        }
        let _ = write!(
            out,
            "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"110\" height=\"30\" rx=\"{}\" fill=\"{}\" stroke=\"#2c3e50\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">{}</text>",
            esc(&addrs.join(", ")),
            n(x - 55.0),
            n(y - 15.0),
            if router { 15 } else { 3 },
            if router { "#d6eaf8" } else { "#fef9e7" },
            n(x),
            n(y + 4.0),
            esc(&node.name),
            n(x),
            n(y + 26.0),
            esc(addrs.first().map_or("", |a| a.as_str()))
        );
        // A router's other addresses, one a line under the first.
        for (k, a) in addrs.iter().enumerate().skip(1) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">{}</text>",
                n(x),
                n(y + 26.0 + 11.0 * k as f64),
                esc(a)
            );
        }
        if !badge.is_empty() {
            let _ = write!(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#c0392b\">{}</text>", n(x), n(y - 19.0), esc(&badge));
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A direction's settings as the topology labels a link: delay (with its
/// jitter), rate, the mean loss, duplication, reordering, corruption and
/// a smaller MTU, each only when set; percentages to two decimals.
fn settings(p: &tcplab_sim::LinkParams) -> String {
    let pct = |x: f64| {
        let s = format!("{:.2}", x * 100.0);
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    };
    let mut t = String::new();
    if !p.delay.is_zero() {
        let _ = write!(t, " {} ms", secs(p.delay.as_secs_f64() * 1000.0));
        if !p.jitter.is_zero() {
            let _ = write!(t, " \u{b1}{} ms", secs(p.jitter.as_secs_f64() * 1000.0));
        }
    }
    if let Some(r) = p.rate {
        let _ = write!(t, " {}bit/s", bytes(r as f64));
    }
    let loss = p.loss.mean_loss();
    for (what, x) in [
        ("loss", loss),
        ("dup", p.duplicate),
        ("reorder", p.reorder),
        ("corrupt", p.corrupt),
    ] {
        if x > 0.0 {
            let _ = write!(t, " {what} {}", pct(x));
        }
    }
    if p.mtu != 1500 {
        let _ = write!(t, " mtu {}", p.mtu);
    }
    t
}

const PALETTE: [&str; 10] = [
    "#2980b9", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#d35400",
    "#2c3e50", "#f1c40f",
];

/// Several values over time as step lines: (name, points (seconds,
/// value)); each holds until its next point, the last to `xmax`.
pub fn step_chart(series: &[(String, Vec<(f64, f64)>)], xmax: f64, ylabel: &str) -> String {
    let top = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    let h = 260.0 + 14.0 * series.len().div_ceil(3) as f64;
    let p = Plot {
        x0: 70.0,
        y0: 20.0 + 14.0 * series.len().div_ceil(3) as f64,
        w: W - 90.0,
        h: 200.0,
        xmin: 0.0,
        xmax: xmax.max(1e-3),
        ymin: 0.0,
        ymax: top * 1.1,
    };
    let mut out = open(W, h, "steps zoom");
    p.axes(&mut out, "time (s)", ylabel, &|v| secs(v), &|v| secs(v));
    for (k, (name, pts)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let mut line: Vec<(f64, f64)> = Vec::new();
        for &(t, v) in pts {
            if let Some(&(_, py)) = line.last() {
                line.push((p.x(t), py));
            }
            line.push((p.x(t), p.y(v)));
        }
        if let Some(&(_, py)) = line.last() {
            line.push((p.x(xmax), py));
        }
        out.push_str(&polyline(
            &line,
            MAX_POINTS,
            &format!("stroke=\"{colour}\" stroke-width=\"1.6\""),
        ));
        let (lx, ly) = (10.0 + 250.0 * (k % 3) as f64, 14.0 + 14.0 * (k / 3) as f64);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"8\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text>",
            n(lx),
            n(ly - 8.0),
            n(lx + 13.0),
            n(ly),
            esc(&name.chars().take(40).collect::<String>())
        );
    }
    out.push_str("</svg>");
    out
}
