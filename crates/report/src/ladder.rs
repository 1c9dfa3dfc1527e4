//! The ladder diagram of a connection: both ends as vertical lines, time
//! downwards, every segment an arrow from where it left to where it
//! arrived — or to where it was dropped.

use std::fmt::Write as _;

use tcplab_sim::Scenario;
use tcplab_stack::Instant;

use crate::model::{Conn, Flight, ACK, SYN};
use crate::svg::{esc, n, open};

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
    breaks: Vec<f64>,
    bottom: f64,
}

fn layout(flights: &[&Flight]) -> Layout {
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
    let px_per_ms = (60.0 / typical).clamp(0.02, 200.0);
    let mut times = Vec::new();
    for f in flights {
        times.push(f.sent);
        times.extend(f.arrived);
        times.extend(f.dropped.map(|d| d.time()));
    }
    let axis = TimeAxis::new(times, 60.0, px_per_ms);
    let mut shift = 0.0;
    let mut last: Option<f64> = None;
    let mut rows = Vec::with_capacity(flights.len());
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
        breaks,
        bottom,
    }
}

/// The ladder of connection `c` as a standalone SVG.
pub fn ladder(s: &Scenario, c: &Conn) -> String {
    let (flights, skipped) = chosen(c);
    let lay = layout(&flights);
    let h = lay.bottom + 50.0;
    let mut out = open(WIDTH, h, "ladder");
    let name = |i: usize| end_name(s, c, i);
    let _ = write!(
        out,
        "<defs><marker id=\"arr\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" fill=\"context-stroke\"/></marker></defs>\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
         <text x=\"{}\" y=\"44\" text-anchor=\"end\" fill=\"#777\" font-size=\"9\">ms</text><text x=\"{}\" y=\"44\" fill=\"#777\" font-size=\"9\">ms</text>\
         <path d=\"M{} 30V{}M{} 30V{}\" stroke=\"#333\" stroke-width=\"2\"/>",
        n(LEFT),
        esc(&name(0)),
        n(RIGHT),
        esc(&name(1)),
        n(LEFT - 8.0),
        n(RIGHT + 8.0),
        n(LEFT),
        n(h - 20.0),
        n(RIGHT),
        n(h - 20.0)
    );
    for y in &lay.breaks {
        let _ = write!(
            out,
            "<path d=\"M{} {}l10 -4M{} {}l10 -4\" stroke=\"#999\"/>",
            n(LEFT - 5.0),
            n(y + 2.0),
            n(RIGHT - 5.0),
            n(y + 2.0)
        );
    }
    let t0 = c.first_time();
    for (k, f) in flights.iter().enumerate() {
        if skipped > 0 && k == FIRST {
            let y = lay.rows[k].0 - GAP / 2.0;
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777\">… {skipped} segments not drawn (see the time-sequence graph) …</text>",
                n(WIDTH / 2.0),
                n(y)
            );
        }
        let (x1, x2) = if f.by == 0 {
            (LEFT, RIGHT)
        } else {
            (RIGHT, LEFT)
        };
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
        let (xe, ye, end): (f64, f64, &str) = match (f.arrived, f.dropped) {
            (Some(_), _) => (x2, y2, ""),
            (None, Some(d)) => {
                let _ = write!(text, " ✕ {}", d.describe(s));
                ((x1 + x2) / 2.0, y2, "drop")
            }
            (None, None) => {
                text.push_str(" (still on its way when the run ended)");
                ((x1 + x2) / 2.0, y2, "")
            }
        };
        if f.corrupted && f.arrived.is_some() {
            text.push_str(" (corrupted: dropped on its checksum)");
        }
        let unfinished = f.arrived.is_none() && f.dropped.is_none();
        let dash = if f.corrupted || unfinished {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let marker = if end.is_empty() {
            " marker-end=\"url(#arr)\""
        } else {
            ""
        };
        let ms = f.sent.saturating_since(t0).as_secs_f64() * 1000.0;
        let _ = write!(
            out,
            "<g class=\"seg\" data-packet=\"{}\"><title>{}</title><path d=\"M{} {}L{} {}\" stroke=\"{colour}\" stroke-width=\"1.4\"{dash}{marker}/>",
            f.packet,
            esc(&format!("{ms:.3} ms: {text}")),
            n(x1),
            n(y1),
            n(xe),
            n(ye)
        );
        if !end.is_empty() {
            let _ = write!(
                out,
                "<path d=\"M{} {}l8 8m0 -8l-8 8\" stroke=\"#c0392b\" stroke-width=\"2\"/>",
                n(xe - 4.0),
                n(ye - 4.0)
            );
        }
        // The label sits above the arrow's middle, turned with it.
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
            n(if f.by == 0 { LEFT - 8.0 } else { RIGHT + 8.0 }),
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
