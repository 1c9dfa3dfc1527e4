//! The report of a tcplab run (issue 14): one self-contained HTML page —
//! inline SVG, CSS and a little script, nothing fetched — drawn from what
//! the simulator recorded ([`tcplab_sim::Recording`]): the topology, the
//! transcript, and per TCP connection a ladder diagram, the state timeline
//! and RFC 9293's diagram with the path taken (from the stack's own
//! transitions), a time-sequence graph, and cwnd/ssthresh/in-flight and
//! SRTT/RTTVAR/RTO over time (from the stack's own state); per link
//! direction, throughput, queue and drops. The same events are exported as
//! JSON lines ([`jsonl`]), and every graph as a standalone SVG ([`svgs`]).
//!
//! Limits, so a long run stays usable: the recording keeps at most
//! [`tcplab_sim::record::MAX_PACKETS`] datagrams; a ladder draws the first
//! [`ladder::FIRST`] and last [`ladder::LAST`] segments; a time-sequence
//! graph at most [`graphs::MAX_SEGMENTS`] new-data segments (every
//! retransmission); a line at most [`graphs::MAX_POINTS`] points.
#![forbid(unsafe_code)]

pub mod graphs;
pub mod icmp;
pub mod ladder;
pub mod model;
pub mod svg;

use std::fmt::Write as _;
use std::io::{self, Write};

use tcplab_sim::{Recording, Scenario, TranscriptEvent};
use tcplab_stack::tcp::TraceEvent;
use tcplab_stack::Instant;

use model::{Conn, Pkt};
use svg::esc;

/// What a report is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub scenario: &'a Scenario,
    pub transcript: &'a [TranscriptEvent],
    pub recording: &'a Recording,
    pub seed: u64,
    /// Where the run ended.
    pub end: Instant,
    /// The times are the real clock's since the run began (`tcplab run`),
    /// not a simulation's virtual ones.
    pub real_time: bool,
}

/// The run taken apart: datagrams read, connections put together.
#[derive(Debug)]
pub struct Analysis<'a> {
    pub input: Input<'a>,
    pub packets: Vec<Pkt<'a>>,
    pub conns: Vec<Conn>,
    /// The stacks' events by end.
    pub ends: graphs::EndEvents<'a>,
}

pub fn analyse<'a>(input: Input<'a>) -> Analysis<'a> {
    let packets = model::read(&input.recording.packets);
    let conns = model::connections(input.scenario, &packets, input.end);
    let ends = graphs::index_ends(&input.recording.tcp);
    Analysis {
        input,
        packets,
        conns,
        ends,
    }
}

/// Connections drawn in full (ladder, states, graphs) at most; the next
/// ones are listed in a table, up to `MAX_CONNS_LISTED`, and the rest
/// counted. A port scan opens tens of thousands: drawing each made a page
/// of hundreds of megabytes (the events file, `--events`, has them all).
pub const MAX_CONNS_DRAWN: usize = 100;
/// Connections listed, beyond those drawn, at most.
pub const MAX_CONNS_LISTED: usize = 1_000;

fn node_name(s: &Scenario, i: usize) -> &str {
    s.nodes.get(i).map_or("?", |n| n.name.as_str())
}

fn stamp(t: Instant) -> String {
    let us = t.total_micros();
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// The graphs of connection `c`: (file stem, title, SVG).
fn conn_graphs(a: &Analysis<'_>, c: &Conn) -> Vec<(String, String, String)> {
    let s = a.input.scenario;
    let trace = &a.ends;
    let span = |k: usize| graphs::Span {
        from: c.first_time(),
        until: c.until[k],
    };
    let fired =
        |k: usize| c.ends[k].map_or(Vec::new(), |e| graphs::timers_fired(trace, &e, span(k)));
    let mut out = vec![(
        format!("conn{}-ladder", c.id),
        "Ladder diagram (timers that fired marked on the side they fired)".to_string(),
        ladder::ladder_with(s, c, [&fired(0), &fired(1)]),
    )];
    let paths: Vec<_> = c
        .ends
        .iter()
        .enumerate()
        .filter_map(|(k, e)| e.map(|e| (k, e)))
        .map(|(k, e)| {
            (
                format!("{} {}", node_name(s, e.node), e.local),
                graphs::state_path(trace, &e, span(k)),
            )
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if !paths.is_empty() {
        out.push((
            format!("conn{}-states", c.id),
            "States over time (from the stacks' own transitions)".into(),
            graphs::state_timeline(c.first_time(), c.last_time(), &paths),
        ));
        out.push((
            format!("conn{}-diagram", c.id),
            "RFC 9293's state diagram, the paths taken".into(),
            graphs::state_diagram(&paths),
        ));
    }
    if let Some(by) = graphs::data_sender(c) {
        let who = c.ends[by].map_or("?".into(), |e| node_name(s, e.node).to_string());
        out.push((
            format!("conn{}-tseq", c.id),
            format!("Time-sequence graph of what {who} sent"),
            graphs::time_sequence(c, by, None),
        ));
        if let Some(w) = graphs::first_loss_window(c, by) {
            out.push((
                format!("conn{}-tseq-first-loss", c.id),
                format!(
                    "The same, from {:.3} s to {:.3} s: around the first retransmission",
                    w.0, w.1
                ),
                graphs::time_sequence(c, by, Some(w)),
            ));
        }
        if let Some(e) = c.ends[by] {
            let samples = graphs::samples(trace, &e, span(by));
            if !samples.is_empty() {
                out.push((
                    format!("conn{}-cwnd", c.id),
                    format!("{who}'s congestion window, threshold and bytes in flight"),
                    graphs::congestion(c, &samples),
                ));
                out.push((
                    format!("conn{}-rtt", c.id),
                    format!("{who}'s RTT estimate and retransmission timeout"),
                    graphs::rtt(c, &samples),
                ));
                // Algorithms that pace (BBR): the rate over time.
                if samples.iter().any(|(_, v)| v.pacing_rate.is_some()) {
                    let t0 = c.first_time();
                    let pts: Vec<(f64, f64)> = samples
                        .iter()
                        .filter_map(|(t, v)| {
                            v.pacing_rate.map(|r| {
                                (t.saturating_since(t0).as_secs_f64(), r as f64 * 8.0 / 1e6)
                            })
                        })
                        .collect();
                    let end = c.last_time().saturating_since(t0).as_secs_f64();
                    out.push((
                        format!("conn{}-pacing", c.id),
                        format!("{who}'s pacing rate"),
                        graphs::step_chart(&[("pacing rate".into(), pts)], end, "Mbit/s"),
                    ));
                }
            }
        }
    }
    out
}

/// Link-direction graphs: (file stem, title, SVG).
fn link_graphs(a: &Analysis<'_>) -> Vec<(String, String, String)> {
    let s = a.input.scenario;
    let mut out = Vec::new();
    for (li, seg) in s.segments.iter().enumerate() {
        for (mi, &(node, _)) in seg.members.iter().enumerate() {
            let recs: Vec<_> = a
                .input
                .recording
                .packets
                .iter()
                .filter(|p| p.link == li && p.from == mi)
                .collect();
            if recs.is_empty() {
                continue;
            }
            out.push((
                format!(
                    "link{li}-{}-from-{}",
                    file_safe(&seg.name),
                    file_safe(node_name(s, node))
                ),
                format!("{} sent by {}", seg.name, node_name(s, node)),
                graphs::link_direction(&recs, a.input.end),
            ));
        }
    }
    out
}

/// A name as part of a file name: letters, digits, `-`, `_` and `.` kept,
/// anything else `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every graph of the report as a standalone SVG: (file name, SVG).
pub fn svgs(a: &Analysis<'_>) -> Vec<(String, String)> {
    let mut out = vec![(
        "topology.svg".to_string(),
        graphs::topology(a.input.scenario, &traced(a)),
    )];
    for c in a.conns.iter().take(MAX_CONNS_DRAWN) {
        for (stem, _, svg) in conn_graphs(a, c) {
            out.push((format!("{stem}.svg"), svg));
        }
    }
    for (stem, _, svg) in icmp_graphs(a) {
        out.push((format!("{stem}.svg"), svg));
    }
    for (stem, _, svg) in policy_graphs(a) {
        out.push((format!("{stem}.svg"), svg));
    }
    for (stem, _, svg) in link_graphs(a) {
        out.push((format!("{stem}.svg"), svg));
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:0 auto;max-width:1000px;padding:1em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1em}\
pre.transcript{background:#f8f9f9;padding:.5em;overflow-x:auto;font-size:12px;line-height:1.35}\
pre.transcript .cmd{cursor:pointer;color:#1f618d;font-weight:bold}pre.transcript .cmd:hover{text-decoration:underline}\
section.conn{border:1px solid #ddd;border-radius:6px;padding:.2em 1em 1em;margin:1em 0}section.conn.hit{border-color:#e67e22;box-shadow:0 0 6px #e67e22}\
figure{margin:1em 0}figcaption{font-size:.9em;color:#555;margin-bottom:.3em}svg{max-width:100%;height:auto;background:#fff}\
svg.zoom{cursor:zoom-in}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:.9em}";

/// Wheel zooms a graph around the pointer, dragging pans, a double click
/// resets; clicking a command highlights the connections it opened.
const SCRIPT: &str = "document.querySelectorAll('svg.zoom').forEach(function(s){\
var v0=s.getAttribute('viewBox').split(' ').map(Number),v=v0.slice(),drag=null;\
function set(){s.setAttribute('viewBox',v.join(' '))}\
s.addEventListener('wheel',function(e){e.preventDefault();var r=s.getBoundingClientRect();\
var px=v[0]+(e.clientX-r.left)/r.width*v[2],py=v[1]+(e.clientY-r.top)/r.height*v[3];\
var k=e.deltaY<0?0.8:1.25,w=v[2],h=v[3];v[2]=Math.min(v0[2],w*k);v[3]=Math.min(v0[3],h*k);\
v[0]=px-(px-v[0])*v[2]/w;v[1]=py-(py-v[1])*v[3]/h;set()},{passive:false});\
s.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY,v[0],v[1]]});\
window.addEventListener('mouseup',function(){drag=null});\
s.addEventListener('mousemove',function(e){if(!drag)return;var r=s.getBoundingClientRect();\
v[0]=drag[2]-(e.clientX-drag[0])/r.width*v[2];v[1]=drag[3]-(e.clientY-drag[1])/r.height*v[3];set()});\
s.addEventListener('dblclick',function(){v=v0.slice();set()})});\
document.querySelectorAll('.cmd').forEach(function(c){c.addEventListener('click',function(){\
var t0=+c.dataset.t0,t1=+c.dataset.t1,first=null;\
document.querySelectorAll('section.conn').forEach(function(s){var t=+s.dataset.t;\
var hit=t>=t0&&t<=t1&&s.dataset.nodes.split(' ').indexOf(c.dataset.node)>=0;s.classList.toggle('hit',hit);if(hit&&!first)first=s});\
if(first)first.scrollIntoView({behavior:'smooth'})})});";

/// Any script error marks the page (tests read it back from the DOM).
const CATCH: &str = "window.addEventListener('error',function(e){var d=document.documentElement;\
d.setAttribute('data-report-errors',(d.getAttribute('data-report-errors')||'')+e.message+';')});";

/// The whole report as one HTML page.
pub fn html(a: &Analysis<'_>) -> String {
    let s = a.input.scenario;
    let rec = a.input.recording;
    // (As the transcript's header names an untitled scenario.)
    let title = s.title.as_deref().unwrap_or("scenario");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — tcplab report</title><style>{STYLE}</style><script>{CATCH}</script></head><body>",
        esc(title)
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"note\">seed {} · {} s of {} · {} datagrams on links · {} TCP connections",
        esc(title),
        a.input.seed,
        stamp(a.input.end),
        if a.input.real_time {
            "real time"
        } else {
            "virtual time"
        },
        rec.packets.iter().filter(|p| p.fate.on_wire()).count() as u64 + rec.unrecorded,
        a.conns.len()
    );
    if rec.unrecorded > 0 {
        let _ = write!(
            h,
            " · only the first {} datagrams were recorded ({} more were not)",
            rec.packets.len(),
            rec.unrecorded
        );
    }
    if rec.tcp_unrecorded > 0 {
        let _ = write!(
            h,
            " · only the first {} TCP events were recorded ({} more were not: the graphs of the stacks' state end there)",
            rec.tcp.len(),
            rec.tcp_unrecorded
        );
    }
    h.push_str(
        ". Graphs zoom with the mouse wheel, pan by dragging, reset with a double click.</p>",
    );
    if let Some(d) = &s.description {
        // A paragraph for each block between empty lines, as written.
        for para in d.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            let _ = write!(h, "<p>{}</p>", esc(para));
        }
    }
    let _ = write!(
        h,
        "<h2>Topology</h2><figure>{}</figure>",
        graphs::topology(s, &traced(a))
    );
    h.push_str("<h2>Transcript</h2><p class=\"note\">Click a command to see the connections it opened.</p><pre class=\"transcript\">");
    transcript(&mut h, s, a.input.transcript, a.input.end);
    h.push_str("</pre>");
    h.push_str("<h2>TCP connections</h2>");
    if a.conns.is_empty() {
        h.push_str("<p>No TCP segment crossed a link in this run.</p>");
    }
    for c in a.conns.iter().take(MAX_CONNS_DRAWN) {
        let t0 = c.first_time();
        let (retrans, dropped) = troubles(c);
        let _ = write!(
            h,
            "<section class=\"conn\" id=\"conn{}\" data-t=\"{}\" data-nodes=\"{}\"><h3>{}</h3><p class=\"note\">from {} s to {} s · {} segments ({} retransmitted, {} not arriving)</p>",
            c.id,
            t0.since_origin().as_secs_f64(),
            esc(&conn_nodes(s, c)),
            esc(&c.title(s)),
            stamp(t0),
            stamp(c.last_time()),
            c.flights.len(),
            retrans,
            dropped
        );
        for (_, caption, svg) in conn_graphs(a, c) {
            let _ = write!(
                h,
                "<figure><figcaption>{}</figcaption>{svg}</figure>",
                esc(&caption)
            );
        }
        h.push_str("</section>");
    }
    undrawn_connections(&mut h, a);
    icmp_section(&mut h, a);
    policy_section(&mut h, a);
    h.push_str("<h2>Links</h2>");
    links_table(&mut h, a);
    for (_, caption, svg) in link_graphs(a) {
        let _ = write!(
            h,
            "<figure><figcaption>{} — throughput (line), queue (dashed), drops (ticks at the bottom)</figcaption>{svg}</figure>",
            esc(&caption)
        );
    }
    let _ = write!(h, "<script>{SCRIPT}</script></body></html>");
    h
}

/// A connection's segments that were retransmissions, and those that
/// did not arrive.
fn troubles(c: &Conn) -> (usize, usize) {
    let retrans = c.flights.iter().filter(|f| f.retransmission).count();
    let dropped = c.flights.iter().filter(|f| f.arrived.is_none()).count();
    (retrans, dropped)
}

/// The connections beyond `MAX_CONNS_DRAWN`: a table of the next ones,
/// and how many more there were.
fn undrawn_connections(h: &mut String, a: &Analysis<'_>) {
    let rest = a.conns.len().saturating_sub(MAX_CONNS_DRAWN);
    if rest == 0 {
        return;
    }
    let listed = rest.min(MAX_CONNS_LISTED);
    let _ = write!(
        h,
        "<p class=\"note\">Only the first {MAX_CONNS_DRAWN} connections are drawn; the next {listed} are listed below{} (the events file, <code>--events</code>, has every segment of all of them).</p>\
<table><tr><th>connection</th><th>from (s)</th><th>to (s)</th><th>segments</th><th>retransmitted</th><th>not arriving</th></tr>",
        if rest > listed {
            format!(", and {} more are not", rest - listed)
        } else {
            String::new()
        }
    );
    let s = a.input.scenario;
    for c in a.conns.iter().skip(MAX_CONNS_DRAWN).take(listed) {
        let (retrans, dropped) = troubles(c);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.title(s)),
            stamp(c.first_time()),
            stamp(c.last_time()),
            c.flights.len(),
            retrans,
            dropped
        );
    }
    h.push_str("</table>");
}

/// The nodes of a connection's ends, space-separated (node names have no
/// spaces): a command on either one "opened" it.
fn conn_nodes(s: &Scenario, c: &Conn) -> String {
    c.ends
        .iter()
        .flatten()
        .map(|e| node_name(s, e.node).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The path the run's first traceroute found, for the topology.
fn traced(a: &Analysis<'_>) -> Vec<usize> {
    icmp::traced_path(&icmp::probes(a.input.scenario, &a.packets))
}

/// Probe flows and fragmented datagrams drawn at most.
const MAX_ICMP_PICTURES: usize = 20;

/// The ICMP/UDP probe pictures and fragmentation pictures: (file stem,
/// title, SVG).
fn icmp_graphs(a: &Analysis<'_>) -> Vec<(String, String, String)> {
    let s = a.input.scenario;
    let mut out = Vec::new();
    for (i, f) in icmp::probes(s, &a.packets)
        .iter()
        .take(MAX_ICMP_PICTURES)
        .enumerate()
    {
        let replies = f
            .probes
            .iter()
            .filter(|p| matches!(p.answer, Some((icmp::Answer::Reply, ..))))
            .count();
        out.push((
            format!("probes{i}"),
            format!(
                "{} from {} to {}: {} sent, {} answered by the destination, {} by ICMP errors",
                if f.udp { "UDP" } else { "ICMP echo" },
                node_name(s, f.origin),
                f.dst,
                f.probes.len(),
                replies,
                f.probes
                    .iter()
                    .filter(|p| matches!(p.answer, Some((icmp::Answer::Error { .. }, ..))))
                    .count()
            ),
            icmp::probe_diagram(s, f),
        ));
    }
    for (i, f) in icmp::fragments(s, &a.packets)
        .iter()
        .take(MAX_ICMP_PICTURES)
        .enumerate()
    {
        out.push((
            format!("fragments{i}"),
            format!(
                "A datagram from {} to {} (IP id {}) in fragments",
                f.src, f.dst, f.ident
            ),
            icmp::fragment_diagram(s, f),
        ));
    }
    out
}

/// Rules shown at most per router in the graph of hits (the table has
/// them all).
const MAX_RULE_LINES: usize = 10;

/// Per filtering router: hits per rule over time, tracked flows by state,
/// NAT mappings in use: (file stem, title, SVG).
fn policy_graphs(a: &Analysis<'_>) -> Vec<(String, String, String)> {
    let s = a.input.scenario;
    let rec = a.input.recording;
    let end = a.input.end.since_origin().as_secs_f64();
    let mut out = Vec::new();
    for node in policy_nodes(rec) {
        let samples: Vec<_> = rec.policy.iter().filter(|p| p.node == node).collect();
        let t = |p: &tcplab_sim::record::PolicySample| p.time.since_origin().as_secs_f64();
        let who = node_name(s, node);
        let hit = |p: &tcplab_sim::record::PolicySample, id: usize| p.hits_of(id);
        let series: Vec<(String, Vec<(f64, f64)>)> = rec
            .rules
            .iter()
            .enumerate()
            .filter(|(id, (n, _))| *n == node && samples.iter().any(|p| hit(p, *id) > 0))
            .take(MAX_RULE_LINES)
            .map(|(id, (_, label))| {
                let pts = samples.iter().map(|p| (t(p), hit(p, id) as f64)).collect();
                (label.clone(), pts)
            })
            .collect();
        if !series.is_empty() {
            out.push((
                format!("policy-{}-hits", file_safe(who)),
                format!("{who}: packets each rule matched, over time"),
                graphs::step_chart(&series, end, "packets"),
            ));
        }
        let mut states: Vec<String> = Vec::new();
        for p in &samples {
            for (st, _) in &p.flows {
                if !states.contains(st) {
                    states.push(st.clone());
                }
            }
        }
        let mut series: Vec<(String, Vec<(f64, f64)>)> = states
            .iter()
            .map(|st| {
                let pts = samples
                    .iter()
                    .map(|p| {
                        let c = p.flows.iter().find(|(x, _)| x == st).map_or(0, |x| x.1);
                        (t(p), c as f64)
                    })
                    .collect();
                (format!("flows {st}"), pts)
            })
            .collect();
        if samples.iter().any(|p| !p.mappings.is_empty()) {
            series.push((
                "NAT mappings".into(),
                samples
                    .iter()
                    .map(|p| (t(p), p.mappings.len() as f64))
                    .collect(),
            ));
        }
        if !series.is_empty() {
            out.push((
                format!("policy-{}-flows", file_safe(who)),
                format!("{who}: tracked flows by state, and NAT mappings in use, over time"),
                graphs::step_chart(&series, end, "flows"),
            ));
        }
    }
    out
}

/// The routers that have a packet policy, in order.
fn policy_nodes(rec: &tcplab_sim::Recording) -> Vec<usize> {
    let mut nodes: Vec<usize> = rec.policy.iter().map(|p| p.node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

fn policy_section(h: &mut String, a: &Analysis<'_>) {
    let rec = a.input.recording;
    let nodes = policy_nodes(rec);
    if nodes.is_empty() {
        return;
    }
    let s = a.input.scenario;
    h.push_str("<h2>Packet policy: ACLs, firewalls, NAT</h2>");
    for node in nodes {
        let who = node_name(s, node);
        let samples: Vec<_> = rec.policy.iter().filter(|p| p.node == node).collect();
        let _ = write!(h, "<h3>{}</h3>", esc(who));
        let hit = |p: &tcplab_sim::record::PolicySample, id: usize| p.hits_of(id);
        if let Some(last) = samples.last() {
            let rules: Vec<_> = rec
                .rules
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| *n == node)
                .collect();
            if !rules.is_empty() {
                h.push_str("<table><tr><th>rule</th><th>packets matched</th><th>first matched at (s)</th></tr>");
                for (id, (_, label)) in rules {
                    let first = samples
                        .iter()
                        .find(|p| hit(p, id) > 0)
                        .map_or("—".to_string(), |p| stamp(p.time));
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(label),
                        hit(last, id),
                        first
                    );
                }
                h.push_str("</table>");
            }
            let _ = write!(
                h,
                "<p class=\"note\">dropped: {} by ACLs, {} by security groups, {} by NAT; {} rejected by security groups; {} packets translated</p>",
                last.dropped[0], last.dropped[1], last.dropped[2], last.rejected, last.translated
            );
        }
        // NAT mappings as they came and went.
        let mut seen: std::collections::BTreeSet<&String> = Default::default();
        let mut changes = Vec::new();
        let mut last: Option<&Vec<String>> = None;
        for p in &samples {
            if last == Some(&p.mappings) {
                continue;
            }
            last = Some(&p.mappings);
            let now: std::collections::BTreeSet<&String> = p.mappings.iter().collect();
            for m in now.difference(&seen) {
                changes.push(format!("{} made {m}", stamp(p.time)));
            }
            for m in seen.difference(&now) {
                changes.push(format!("{} released {m}", stamp(p.time)));
            }
            seen = now;
        }
        if !changes.is_empty() {
            h.push_str("<p class=\"note\">NAT mappings (inside address and port -> outside port), as they were made and released:</p><pre class=\"transcript\">");
            for c in changes.iter().take(200) {
                let _ = writeln!(h, "{}", esc(c));
            }
            if changes.len() > 200 {
                let _ = writeln!(h, "… {} more", changes.len() - 200);
            }
            h.push_str("</pre>");
        }
    }
    for (_, caption, svg) in policy_graphs(a) {
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{svg}</figure>",
            esc(&caption)
        );
    }
}

fn icmp_section(h: &mut String, a: &Analysis<'_>) {
    let graphs = icmp_graphs(a);
    if graphs.is_empty() {
        return;
    }
    h.push_str("<h2>ICMP, UDP and fragments</h2><p class=\"note\">Each probe (an echo request, a UDP datagram) out to the node where it stopped, and what answered it back: the destination's reply or a router's ICMP error. Fragmented datagrams: which node split them into which pieces, and where they were put back together.</p>");
    for (_, caption, svg) in graphs {
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{svg}</figure>",
            esc(&caption)
        );
    }
}

fn transcript(h: &mut String, s: &Scenario, events: &[TranscriptEvent], end: Instant) {
    let secs = |t: Instant| t.since_origin().as_secs_f64();
    for (i, ev) in events.iter().enumerate() {
        match ev {
            TranscriptEvent::Command {
                time,
                node,
                cmdline,
                pid,
            } => {
                // The command's span: until its process exited, or the end.
                let until = events[i..]
                    .iter()
                    .find_map(|e| match e {
                        TranscriptEvent::Exit {
                            time: t,
                            node: n,
                            pid: p,
                            ..
                        } if n == node && Some(*p) == *pid => Some(*t),
                        _ => None,
                    })
                    .unwrap_or(end);
                let _ = writeln!(
                    h,
                    "<span class=\"cmd\" data-node=\"{}\" data-t0=\"{}\" data-t1=\"{}\">{} {} $ {}</span>",
                    esc(node),
                    secs(*time),
                    secs(until),
                    stamp(*time),
                    esc(node),
                    esc(cmdline)
                );
            }
            TranscriptEvent::Output(line) => {
                let _ = writeln!(
                    h,
                    "{} {}   {}",
                    stamp(line.time),
                    esc(&line.host),
                    esc(&line.text)
                );
            }
            TranscriptEvent::Say { time, text } => {
                let _ = writeln!(h, "{} # {}", stamp(*time), esc(text));
            }
            TranscriptEvent::Change { time, text } => {
                let _ = writeln!(h, "{} ~ {}", stamp(*time), esc(text));
            }
            TranscriptEvent::Error { time, node, text } => {
                let _ = writeln!(h, "{} {} ! {}", stamp(*time), esc(node), esc(text));
            }
            TranscriptEvent::Exit {
                time, node, code, ..
            } if *code != 0 => {
                let _ = writeln!(h, "{} {}   (exit status {code})", stamp(*time), esc(node));
            }
            TranscriptEvent::Exit { .. } => {}
        }
    }
    let _ = s;
}

fn links_table(h: &mut String, a: &Analysis<'_>) {
    use std::collections::BTreeMap;
    use tcplab_sim::record::Fate;
    let s = a.input.scenario;
    let mut rows: BTreeMap<(usize, usize), BTreeMap<Fate, u64>> = BTreeMap::new();
    for p in &a.input.recording.packets {
        *rows
            .entry((p.link, p.from))
            .or_default()
            .entry(p.fate)
            .or_default() += 1;
    }
    if rows.is_empty() {
        h.push_str("<p>Nothing crossed a link.</p>");
        return;
    }
    // Each datagram once, by what became of it (the transcript's closing
    // table counts each copy a duplication made, as netem's counters do,
    // so the two differ where a copy was lost).
    h.push_str("<p>Each datagram offered to a link, counted once by its fate: <em>duplicated</em> when two copies arrived, <em>delivered</em> when one did (the other lost), <em>lost</em> when none did. The closing table of the transcript counts every copy instead, so where a copy of a duplicate was lost the two tables differ.</p>");
    h.push_str("<table><tr><th>link</th><th>sender</th><th>datagrams</th><th>delivered</th><th>queue full</th><th>lost (no copy arrived)</th><th>corrupted</th><th>duplicated (two copies arrived)</th><th>other drops</th></tr>");
    for ((link, from), fates) in rows {
        let seg = &s.segments[link];
        let node = seg.members.get(from).map_or(usize::MAX, |m| m.0);
        let get = |f: Fate| fates.get(&f).copied().unwrap_or(0);
        let total: u64 = fates.values().sum();
        let other = get(Fate::TooBig) + get(Fate::LinkDown) + get(Fate::NoNeighbour);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{total}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{other}</td></tr>",
            esc(&seg.name),
            esc(node_name(s, node)),
            get(Fate::Delivered) + get(Fate::Duplicated),
            get(Fate::QueueFull),
            get(Fate::Lost),
            get(Fate::Corrupted),
            get(Fate::Duplicated),
        );
    }
    h.push_str("</table>");
}

/// The run's events as JSON lines (one object per line, in time order
/// within each kind): `packet` (every datagram offered to a link, with its
/// fate and, for TCP, its header fields), `policy` (a router's rule hits,
/// tracked flows and NAT mappings when they changed), `tcp-open`,
/// `tcp-state`, `tcp-timer`, `tcp-cc` (the stacks' own events), and
/// `transcript`. docs/report.md
/// describes every field.
pub fn jsonl(a: &Analysis<'_>, out: &mut dyn Write) -> io::Result<()> {
    use serde_json::json;
    let s = a.input.scenario;
    for ev in a.input.transcript {
        let v = match ev {
            TranscriptEvent::Command {
                time,
                node,
                cmdline,
                ..
            } => {
                json!({"kind":"transcript","type":"command","time_us":time.total_micros(),"node":node,"text":cmdline})
            }
            TranscriptEvent::Output(l) => {
                // (The transcript's `!`: what the program wrote to its
                // standard error.)
                let stream = match l.stream {
                    tcplab_host::Stream::Stdout => "stdout",
                    tcplab_host::Stream::Stderr => "stderr",
                };
                json!({"kind":"transcript","type":"output","time_us":l.time.total_micros(),"node":&*l.host,"stream":stream,"text":&*l.text})
            }
            TranscriptEvent::Say { time, text } => {
                json!({"kind":"transcript","type":"say","time_us":time.total_micros(),"text":text})
            }
            TranscriptEvent::Change { time, text } => {
                json!({"kind":"transcript","type":"change","time_us":time.total_micros(),"text":text})
            }
            TranscriptEvent::Error { time, node, text } => {
                json!({"kind":"transcript","type":"error","time_us":time.total_micros(),"node":node,"text":text})
            }
            TranscriptEvent::Exit {
                time, node, code, ..
            } => {
                json!({"kind":"transcript","type":"exit","time_us":time.total_micros(),"node":node,"code":code})
            }
        };
        writeln!(out, "{v}")?;
    }
    for p in &a.packets {
        let r = p.rec;
        let mut v = json!({
            "kind": "packet",
            "time_us": r.time.total_micros(),
            "link": s.segments.get(r.link).map(|l| l.name.clone()),
            "sender": node_name(s, r.node),
            "len": r.len,
            "fate": r.fate.name(),
            "queue": r.queue,
        });
        match r.arrival {
            // Still on its way when the run ended: it never arrived.
            Some((t, _)) if t > a.input.end => v["fate"] = json!("in-flight"),
            Some((t, to)) => {
                v["arrival_us"] = json!(t.total_micros());
                v["to"] = json!(node_name(s, to));
            }
            None => {}
        }
        if let Some(ip) = &p.ip {
            v["src"] = json!(ip.src.to_string());
            v["dst"] = json!(ip.dst.to_string());
            v["proto"] = json!(ip.proto);
            v["ttl"] = json!(ip.ttl);
            v["ident"] = json!(ip.ident);
        }
        if let Some(t) = &p.tcp {
            v["tcp"] = json!({
                "sport": t.sport, "dport": t.dport, "seq": t.seq, "ack": t.ack,
                "flags": t.flag_text(), "window": t.window, "payload": t.len,
                "mss": t.mss, "wscale": t.wscale, "sack_permitted": t.sack_ok,
                "ts": t.ts.map(|(a, b)| [a, b]), "sack": t.sack.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>(),
            });
        }
        writeln!(out, "{v}")?;
    }
    let rec = a.input.recording;
    for p in &rec.policy {
        let hits: Vec<_> = p
            .hits
            .iter()
            .map(|&(id, n)| json!({"rule": rec.rules.get(id).map(|r| r.1.clone()), "packets": n}))
            .collect();
        let flows: serde_json::Map<String, serde_json::Value> = p
            .flows
            .iter()
            .map(|(st, n)| (st.clone(), json!(n)))
            .collect();
        let v = json!({
            "kind": "policy",
            "time_us": p.time.total_micros(),
            "node": node_name(s, p.node),
            "hits": hits,
            "flows": flows,
            "mappings": p.mappings,
            "dropped_acl": p.dropped[0],
            "dropped_firewall": p.dropped[1],
            "dropped_nat": p.dropped[2],
            "rejected_firewall": p.rejected,
            "translated": p.translated,
        });
        writeln!(out, "{v}")?;
    }
    for (node, e) in &a.input.recording.tcp {
        let v = match e {
            TraceEvent::Open {
                time,
                local,
                remote,
                passive,
                state,
            } => {
                json!({"kind":"tcp-open","time_us":time.total_micros(),"node":node_name(s,*node),"local":local.to_string(),"remote":remote.to_string(),"passive":passive,"state":format!("{state}")})
            }
            TraceEvent::State {
                time,
                local,
                remote,
                from,
                to,
            } => {
                json!({"kind":"tcp-state","time_us":time.total_micros(),"node":node_name(s,*node),"local":local.to_string(),"remote":remote.to_string(),"from":format!("{from}"),"to":format!("{to}")})
            }
            TraceEvent::Timer {
                time,
                local,
                remote,
                timer,
            } => {
                json!({"kind":"tcp-timer","time_us":time.total_micros(),"node":node_name(s,*node),"local":local.to_string(),"remote":remote.to_string(),"timer":timer.name()})
            }
            TraceEvent::Cc {
                time,
                local,
                remote,
                sample: c,
            } => {
                json!({"kind":"tcp-cc","time_us":time.total_micros(),"node":node_name(s,*node),"local":local.to_string(),"remote":remote.to_string(),
                "cwnd":c.cwnd,"ssthresh":c.ssthresh,"in_flight":c.in_flight,"srtt_us":c.srtt_us,"rttvar_us":c.rttvar_us,"rto_us":c.rto_us,"pacing_rate":c.pacing_rate,"snd_una":c.snd_una,"snd_nxt":c.snd_nxt,"snd_wnd":c.snd_wnd,"ca_state":c.ca_state})
            }
        };
        writeln!(out, "{v}")?;
    }
    // What the recording's limits left out, so that a reader of the lines
    // knows they stop short.
    let rec = a.input.recording;
    if rec.unrecorded > 0 || rec.tcp_unrecorded > 0 {
        let v =
            json!({"kind":"unrecorded","datagrams":rec.unrecorded,"tcp_events":rec.tcp_unrecorded});
        writeln!(out, "{v}")?;
    }
    Ok(())
}

/// The first connection's open and close as a text ladder, for a
/// terminal (`ladder = true` in a scenario).
pub fn text_ladders(a: &Analysis<'_>, max_conns: usize) -> String {
    let mut out = String::new();
    for c in a.conns.iter().take(max_conns) {
        let _ = writeln!(out, "{}", c.title(a.input.scenario));
        out.push_str(&ladder::text_ladder(a.input.scenario, c, 6, 4));
    }
    out
}
