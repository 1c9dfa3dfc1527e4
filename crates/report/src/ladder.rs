//! The ladder diagram of a connection: both ends as vertical lines, time
//! downwards, every segment an arrow from where it left to where it
//! arrived — or to where it was dropped.

use std::fmt::Write as _;

use tcplab_sim::Scenario;
use tcplab_stack::Instant;

use crate::model::{Conn, Flight, ACK, SYN};
use crate::svg::{esc, n, open};
use tcplab_stack::tcp::Timer;

/// Segments drawn at most: the first ones and the last ones (a handshake
/// and a close are what a ladder is for; the middle of a long transfer is
/// the time-sequence graph's).
pub const FIRST: usize = 150;
pub const LAST: usize = 50;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = WIDTH - 150.0;
const GAP: f64 = 18.0;
/// A quiet stretch is drawn at most this tall (with a break mark).
const MAX_STRETCH: f64 = 60.0;

/// A segment's label: flags, relative numbers, length, window, and the
/// options on a SYN.
pub fn label(c: &Conn, f: &Flight) -> String {
    let t = &f.tcp;
    let mut s = format!("{} seq={}", t.flag_text(), c.rel_seq(f.by, t.seq));
    if t.has(ACK) {
        let _ = write!(s, " ack={}", c.rel_ack(f.by, t.ack));
    }
    let scale = if t.has(SYN) { 0 } else { c.wscale[f.by] };
    let _ = write!(s, " win={}", u32::from(t.window) << scale);
    if t.len > 0 {
        let _ = write!(s, " len={}", t.len);
    }
    if t.has(SYN) {
        let mut o = Vec::new();
        if let Some(m) = t.mss {
            o.push(format!("mss {m}"));
        }
        if t.sack_ok {
            o.push("sackOK".into());
        }
        if t.ts.is_some() {
            o.push("TS".into());
        }
        if let Some(w) = t.wscale {
            o.push(format!("wscale {w}"));
        }
        if !o.is_empty() {
            let _ = write!(s, " <{}>", o.join(","));
        }
    }
    if !t.sack.is_empty() && !t.has(SYN) {
        let blocks: Vec<String> = t
            .sack
            .iter()
            .map(|&(a, b)| format!("{}-{}", c.rel_ack(f.by, a), c.rel_ack(f.by, b)))
            .collect();
        let _ = write!(s, " sack {}", blocks.join(" "));
    }
    s
}

/// "client 10.0.1.2:40000" for end `i` of `c`.
fn end_name(s: &Scenario, c: &Conn, i: usize) -> String {
    c.ends[i]
        .and_then(|e| {
            s.nodes
                .get(e.node)
                .map(|n| format!("{} {}", n.name, e.local))
        })
        .unwrap_or_else(|| "(nothing arrived)".into())
}

/// Which flights are drawn, and how many are left out in the middle.
pub fn chosen(c: &Conn) -> (Vec<&Flight>, usize) {
    let all = &c.flights;
    if all.len() <= FIRST + LAST {
        return (all.iter().collect(), 0);
    }
    let mut v: Vec<&Flight> = all[..FIRST].iter().collect();
    v.extend(all[all.len() - LAST..].iter());
    (v, all.len() - FIRST - LAST)
}

/// Map times to heights: proportional (scaled so that a typical segment's
/// trip is about 60 px), long quiet stretches shortened (marked with a
/// break), and pushed down where segments leave too close together to
/// read: every later point moves down with them, so a reply never starts
/// above the arrival it answers.
struct TimeAxis {
    marks: Vec<(Instant, f64)>,
    breaks: Vec<f64>,
}

impl TimeAxis {
    fn new(mut times: Vec<Instant>, top: f64, px_per_ms: f64) -> TimeAxis {
        times.sort();
        times.dedup();
        let mut marks = Vec::with_capacity(times.len());
        let mut breaks = Vec::new();
        let mut y = top;
        let mut prev: Option<Instant> = None;
        for t in times {
            if let Some(p) = prev {
                let ms = t.saturating_since(p).as_secs_f64() * 1000.0;
                let mut dy = ms * px_per_ms;
                if dy > MAX_STRETCH {
                    dy = MAX_STRETCH;
                    breaks.push(y + dy / 2.0);
                }
                y += dy;
            }
            marks.push((t, y));
            prev = Some(t);
        }
        TimeAxis { marks, breaks }
    }

    fn y(&self, t: Instant) -> f64 {
        match self.marks.binary_search_by(|(m, _)| m.cmp(&t)) {
            Ok(i) => self.marks[i].1,
            Err(i) => self.marks.get(i).or(self.marks.last()).map_or(0.0, |m| m.1),
        }
    }
}

/// Where each drawn segment starts and ends, and the quiet-stretch marks.
struct Layout {
    rows: Vec<(f64, f64)>,
    /// How far each segment was pushed down (for its hops' times).
    shifts: Vec<f64>,
    axis: TimeAxis,
    breaks: Vec<f64>,
    bottom: f64,
}

impl Layout {
    /// The height of time `t` on segment `k`'s way.
    fn y(&self, k: usize, t: Instant) -> f64 {
        (self.axis.y(t) + self.shifts[k]).max(self.rows[k].0)
    }
}

fn layout(flights: &[&Flight], columns: usize) -> Layout {
    let mut trips: Vec<f64> = flights
        .iter()
        .filter_map(|f| {
            f.arrived
                .map(|a| a.saturating_since(f.sent).as_secs_f64() * 1000.0)
        })
        .filter(|ms| *ms > 0.0)
        .collect();
    trips.sort_by(f64::total_cmp);
    let typical = trips.get(trips.len() / 2).copied().unwrap_or(10.0);
    // A trip end to end is about 60 px tall, more when it crosses routers.
    let trip_px = (30.0 * columns.saturating_sub(1) as f64).max(60.0);
    let px_per_ms = (trip_px / typical).clamp(0.02, 200.0);
    let mut times = Vec::new();
    for f in flights {
        times.push(f.sent);
        times.extend(f.arrived);
        times.extend(f.dropped.map(|d| d.time()));
        for h in &f.hops {
            times.push(h.sent);
            times.extend(h.to.map(|t| t.1));
        }
    }
    let axis = TimeAxis::new(times, 60.0, px_per_ms);
    let mut shift = 0.0;
    let mut last: Option<f64> = None;
    let mut rows = Vec::with_capacity(flights.len());
    let mut shifts = Vec::with_capacity(flights.len());
    let mut breaks = Vec::new();
    let mut bottom: f64 = 60.0;
    for f in flights {
        let mut y1 = axis.y(f.sent) + shift;
        if let Some(l) = last {
            if y1 < l + GAP {
                shift += l + GAP - y1;
                y1 = l + GAP;
            }
        }
        let end = f.arrived.or(f.dropped.map(|d| d.time()));
        let y2 = match end {
            Some(t) => (axis.y(t) + shift).max(y1 + GAP / 2.0),
            None => y1 + GAP / 2.0,
        };
        last = Some(y1);
        bottom = bottom.max(y2);
        rows.push((y1, y2));
        shifts.push(shift);
    }
    // Break marks move with the rows they sit between.
    let mut k = 0;
    for &b in &axis.breaks {
        while k < flights.len() && axis.y(flights[k].sent) < b {
            k += 1;
        }
        let before = if k == 0 {
            0.0
        } else {
            rows[k - 1].0 - axis.y(flights[k - 1].sent)
        };
        breaks.push(b + before);
    }
    Layout {
        rows,
        shifts,
        axis,
        breaks,
        bottom,
    }
}

/// The ladder of connection `c` as a standalone SVG: its two ends and the
/// routers between them as vertical lines, each segment drawn hop by hop.
pub fn ladder(s: &Scenario, c: &Conn) -> String {
    ladder_with(s, c, [&[], &[]])
}

/// The ladder with the timers each end's stack fired marked beside it.
pub fn ladder_with(s: &Scenario, c: &Conn, fired: [&[(Instant, Timer)]; 2]) -> String {
    let (flights, skipped) = chosen(c);
    let cols = c.columns();
    let ncols = cols.len();
    let width = WIDTH.max(220.0 + 190.0 * (ncols - 1) as f64);
    let (left, right) = (LEFT, width - (WIDTH - RIGHT));
    let colx = |k: usize| left + (right - left) * k as f64 / (ncols - 1).max(1) as f64;
    // The column of a node: an end's own, or a router's.
    let col_of = |node: usize, by: usize| -> usize {
        if c.ends[by].is_some_and(|e| e.node == node) {
            return if by == 0 { 0 } else { ncols - 1 };
        }
        if c.ends[1 - by].is_some_and(|e| e.node == node) {
            return if by == 0 { ncols - 1 } else { 0 };
        }
        cols.iter()
            .position(|&n| n == Some(node))
            .unwrap_or(ncols - 1)
    };
    let lay = layout(&flights, ncols);
    let h = lay.bottom + 50.0;
    let mut out = open(width, h, "ladder");
    let _ = write!(
        out,
        "<defs><marker id=\"arr\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" fill=\"context-stroke\"/></marker></defs>"
    );
    for (k, col) in cols.iter().enumerate() {
        let end = k == 0 || k == ncols - 1;
        let name = if end {
            end_name(s, c, if k == 0 { 0 } else { 1 })
        } else {
            col.and_then(|n| s.nodes.get(n))
                .map_or("?".to_string(), |n| n.name.clone())
        };
        let x = colx(k);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-weight=\"{}\">{}</text><path d=\"M{} 30V{}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            n(x),
            if end { "bold" } else { "normal" },
            esc(&name),
            n(x),
            n(h - 20.0),
            if end { "#333" } else { "#aaa" },
            if end { 2 } else { 1 }
        );
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"44\" text-anchor=\"end\" fill=\"#777\" font-size=\"9\">ms</text><text x=\"{}\" y=\"44\" fill=\"#777\" font-size=\"9\">ms</text>",
        n(left - 8.0),
        n(right + 8.0)
    );
    // Behind a NAT the two ends see different addresses: say whom each
    // believes it talks to.
    if let [Some(a), Some(b)] = c.ends {
        if a.remote != b.local || b.remote != a.local {
            for (x, e) in [(left, a), (right, b)] {
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"31\" text-anchor=\"middle\" fill=\"#e67e22\" font-size=\"9\">talks to {}</text>",
                    n(x),
                    e.remote
                );
            }
        }
    }
    for y in &lay.breaks {
        let _ = write!(
            out,
            "<path d=\"M{} {}l10 -4M{} {}l10 -4\" stroke=\"#999\"/>",
            n(left - 5.0),
            n(y + 2.0),
            n(right - 5.0),
            n(y + 2.0)
        );
    }
    let t0 = c.first_time();
    // Timers: at the height of their time among the segments around them.
    for (side, list) in fired.iter().enumerate() {
        let x = if side == 0 { left } else { right };
        for &(t, timer) in list.iter() {
            let k = flights.iter().rposition(|f| f.sent <= t);
            let y = match k {
                Some(k) => lay.y(k, t),
                None => lay.axis.y(t),
            };
            let (dx, anchor) = if side == 0 {
                (-10.0, "end")
            } else {
                (10.0, "start")
            };
            let _ = write!(
                out,
                "<g class=\"timer\"><title>{} fired at {:.3} ms</title><circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#fff\" stroke=\"#c0392b\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#c0392b\" font-size=\"9\" font-weight=\"bold\">{}</text></g>",
                timer.name(),
                t.saturating_since(t0).as_secs_f64() * 1000.0,
                n(x),
                n(y),
                n(x + dx),
                n(y + 12.0),
                timer.name()
            );
        }
    }
    for (k, f) in flights.iter().enumerate() {
        if skipped > 0 && k == FIRST {
            let y = lay.rows[k].0 - GAP / 2.0;
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">… {skipped} segments not drawn (see the time-sequence graph) …</text>",
                n(width / 2.0),
                n(y)
            );
        }
        let (y1, y2) = lay.rows[k];
        let colour = if f.retransmission {
            "#c0392b"
        } else if f.tcp.has(crate::model::RST) {
            "#8e44ad"
        } else if f.tcp.has(SYN) || f.tcp.has(crate::model::FIN) {
            "#1f618d"
        } else {
            "#333"
        };
        let mut text = label(c, f);
        if f.retransmission {
            text.push_str(" (retransmission)");
        }
        // The way it went: a point where it left, one at each node it
        // reached; a drop on a link ends half-way to the next column.
        let from_col = if f.by == 0 { 0 } else { ncols - 1 };
        let step: isize = if f.by == 0 { 1 } else { -1 };
        let mut pts = vec![(colx(from_col), y1)];
        let mut col = from_col;
        let mut rewrites = Vec::new();
        let mut prev_addrs: Option<(std::net::SocketAddrV4, std::net::SocketAddrV4)> = None;
        for hop in &f.hops {
            if let Some(p) = prev_addrs {
                if p != (hop.src, hop.dst) {
                    rewrites.push((
                        pts.last().copied().unwrap_or((0.0, 0.0)),
                        format!("{} > {} became {} > {}", p.0, p.1, hop.src, hop.dst),
                    ));
                }
            }
            prev_addrs = Some((hop.src, hop.dst));
            match hop.to {
                Some((node, at)) => {
                    col = col_of(node, f.by);
                    let last_y = pts.last().map_or(y1, |p| p.1);
                    let y = if f.arrived.is_some() && Some(at) == f.arrived {
                        y2
                    } else {
                        lay.y(k, at)
                    };
                    pts.push((colx(col), y.max(last_y + 1.0)));
                }
                None => {
                    let next = (col as isize + step).clamp(0, ncols as isize - 1) as usize;
                    let last_y = pts.last().map_or(y1, |p| p.1);
                    pts.push(((colx(col) + colx(next)) / 2.0, y2.max(last_y + 1.0)));
                }
            }
        }
        if pts.len() == 1 {
            // Nothing recorded past the sender: half-way across.
            let other = if f.by == 0 { ncols - 1 } else { 0 };
            pts.push(((colx(from_col) + colx(other)) / 2.0, y2));
        }
        let (xe, ye) = *pts.last().unwrap_or(&(0.0, 0.0));
        let mut dropped = false;
        match (f.arrived, f.dropped) {
            (Some(_), _) => {}
            (None, Some(d)) => {
                let _ = write!(text, " ✕ {}", d.describe(s));
                dropped = true;
            }
            (None, None) => text.push_str(" (still on its way when the run ended)"),
        }
        if f.corrupted && f.arrived.is_some() {
            text.push_str(" (corrupted: dropped on its checksum)");
        }
        let unfinished = f.arrived.is_none() && f.dropped.is_none();
        let dash = if f.corrupted || unfinished {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let marker = if dropped {
            ""
        } else {
            " marker-end=\"url(#arr)\""
        };
        let ms = f.sent.saturating_since(t0).as_secs_f64() * 1000.0;
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { "L" }, n(*x), n(*y));
        }
        let _ = write!(
            out,
            "<g class=\"seg\" data-packet=\"{}\"><title>{}</title><path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.4\"{dash}{marker}/>",
            f.packet,
            esc(&format!("{ms:.3} ms: {text}"))
        );
        if dropped {
            let _ = write!(
                out,
                "<path d=\"M{} {}l8 8m0 -8l-8 8\" stroke=\"#c0392b\" stroke-width=\"2\"/>",
                n(xe - 4.0),
                n(ye - 4.0)
            );
        }
        for ((x, y), what) in &rewrites {
            let _ = write!(
                out,
                "<g><title>rewritten here (NAT): {}</title><circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#e67e22\"/></g>",
                esc(what),
                n(*x),
                n(*y)
            );
        }
        // The label sits above the whole way's middle, turned with it.
        let (x1, _) = pts[0];
        let (mx, my) = ((x1 + xe) / 2.0, (y1 + ye) / 2.0);
        let angle = (ye - y1).atan2(xe - x1).to_degrees();
        let angle = if angle.abs() > 90.0 {
            angle - 180.0
        } else {
            angle
        };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{colour}\" font-size=\"10\" transform=\"rotate({} {} {})\">{}</text>",
            n(mx),
            n(my - 3.0),
            n(angle),
            n(mx),
            n(my),
            esc(&text)
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" fill=\"#777\" font-size=\"9\">{}</text></g>",
            n(if f.by == 0 { left - 8.0 } else { right + 8.0 }),
            n(y1 + 3.0),
            if f.by == 0 { "end" } else { "start" },
            esc(&format!("{ms:.3}"))
        );
    }
    out.push_str("</svg>");
    out
}

/// A small text ladder for a terminal: one line per segment, the first
/// `head` and the last `tail` of them (the open and the close).
pub fn text_ladder(s: &Scenario, c: &Conn, head: usize, tail: usize) -> String {
    const W: usize = 58;
    let name = |i: usize| end_name(s, c, i);
    let (a, b) = (name(0), name(1));
    let mut out = format!(
        "  {a:<width$}{b:>width2$}\n",
        width = W / 2 + 1,
        width2 = W / 2 + 1
    );
    let count = c.flights.len();
    for (k, f) in c.flights.iter().enumerate() {
        let gap = count > head + tail + 1;
        if gap && k == head {
            let _ = writeln!(
                out,
                "  |{:^W$}|",
                format!("… {} segments …", count - head - tail)
            );
        }
        if gap && k >= head && k < count - tail {
            continue;
        }
        let mut l = label(c, f);
        if f.retransmission {
            l.push_str(" (rtx)");
        }
        let l: String = if l.chars().count() > W - 4 {
            l.chars().take(W - 5).collect::<String>() + "…"
        } else {
            l
        };
        let body = format!(" {l} ");
        let line = match (f.by == 0, f.arrived.is_some()) {
            (true, true) => format!("  |{body:-^width$}>|", width = W - 1),
            (true, false) => format!("  |{body:-^width$}✕ |", width = W - 2),
            (false, true) => format!("  |<{body:-^width$}|", width = W - 1),
            (false, false) => format!("  | ✕{body:-^width$}|", width = W - 2),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
