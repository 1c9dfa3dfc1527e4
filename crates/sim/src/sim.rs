//! The simulator: nodes, segments, a virtual clock and an event queue.
//!
//! Time jumps from one event to the next (never fixed ticks). Events at the
//! same instant run in the order they were scheduled, every random draw comes
//! from generators forked from the scenario's seed (one per stack, one per
//! link direction, so that changing one link does not shift the draws of
//! another), and no hash map's order reaches the output: the same seed gives
//! byte-identical captures and transcripts.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::Ipv4Addr;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{Host, LineSplitter, LocalCost, Names, OutputLine, Pid, Signal};
use tcplab_stack::{IfaceId, Instant, LoopbackCost, Transmit};

use crate::impair::DirStats;
use crate::policy::policy_sample;
use crate::record::{self, Fate, PacketRecord, Recording};
use crate::scenario::{Action, NodeKind, TimelineEntry};
use crate::segment::{Delivery, Segment};

mod build;
mod transmit;

/// How long a neighbour that does not answer is tried before "host
/// unreachable" (Linux: three ARP probes a second apart).
pub const NEIGHBOUR_TIMEOUT: Duration = Duration::from_secs(3);

/// Datagrams held for a neighbour being resolved, at most (Linux's
/// `unres_qlen`): beyond, the oldest is dropped.
pub const NEIGHBOUR_QUEUE: usize = 101;

/// Default limit of a run's virtual time.
pub const DEFAULT_END: Duration = Duration::from_secs(3600);

/// Starts tool commands on hosts; implemented by the tools crate.
pub trait Commands {
    /// Check a command line without running it (for loading scenarios).
    fn check(&self, cmdline: &str) -> Result<(), String>;
    /// Start a command on `host`.
    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String>;
}

/// A command that was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pid: Pid,
    /// A server: it runs until the end and the run does not wait for it.
    pub daemon: bool,
}

/// What the transcript of a run records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptEvent {
    Say {
        time: Instant,
        text: String,
    },
    Command {
        time: Instant,
        node: String,
        cmdline: String,
        /// The process it started (`None` if it could not start); its
        /// `Exit` carries the same.
        pid: Option<Pid>,
    },
    Output(OutputLine),
    Exit {
        time: Instant,
        node: String,
        pid: Pid,
        code: i32,
    },
    Error {
        time: Instant,
        node: String,
        text: String,
    },
    /// The network changed: a link down or up, new impairments, a route.
    Change {
        time: Instant,
        text: String,
    },
}

/// Receives transcript events as they happen.
pub type TranscriptSink = Rc<dyn Fn(&TranscriptEvent)>;

/// The bytes of output text a run keeps for [`Sim::transcript`]: past it
/// output lines still reach the sink as they happen but are no longer
/// kept (counted: [`Sim::transcript_dropped`]), so a command that prints
/// without end (`nc` to a chargen server) cannot fill memory. Commands,
/// exits, errors and changes are always kept.
pub const TRANSCRIPT_KEEP_BYTES: usize = 16 << 20;

/// The transcript a run keeps (`TRANSCRIPT_KEEP_BYTES`).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    events: Vec<TranscriptEvent>,
    output_bytes: usize,
    dropped: u64,
}

impl Kept {
    pub(crate) fn push(&mut self, ev: TranscriptEvent) {
        if let TranscriptEvent::Output(l) = &ev {
            // Once a line is not kept, no later one is (no holes).
            if self.dropped > 0 || self.output_bytes + l.text.len() > TRANSCRIPT_KEEP_BYTES {
                self.dropped += 1;
                return;
            }
            self.output_bytes += l.text.len();
        }
        self.events.push(ev);
    }
}

/// The CPU time a simulated host spends per datagram through its loopback
/// interface. Links cost what their rate and delay say; on loopback the
/// only cost is the kernel's work, so the simulator charges it, calibrated
/// against Linux on the machine this project is built on: bulk TCP over
/// 127.0.0.1 there moves 64 KiB segments at 11–15 Gbit/s (`cargo run -p
/// tcplab-bench --release --bin lo-vs-unix`), i.e. about 40 µs per segment
/// for everything from `write` to `read`; 2 µs per datagram plus 0.55 ns per
/// byte reproduces that.
pub const LOOPBACK_COST: LoopbackCost = LoopbackCost {
    per_packet: Duration::from_micros(2),
    per_byte_ps: 550,
};

/// The CPU time of a read or write on a local (AF_UNIX-like) socket:
/// Linux moves 64 KiB writes through a unix stream socket at 28–50 Gbit/s
/// on the same machine (same benchmark), about 14 µs per 64 KiB: 1 µs per
/// call plus 0.2 ns per byte copied.
pub const LOCAL_COST: LocalCost = LocalCost {
    per_call: Duration::from_micros(1),
    per_byte_ps: 200,
};

/// Options of a run that are not in the scenario.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Write one pcap file per link here.
    pub pcap_dir: Option<std::path::PathBuf>,
    /// Record every datagram's headers and fate and the stacks' TCP events
    /// for a report ([`Sim::recording`]).
    pub record: bool,
}

/// Why a simulation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot create capture file {path}: {}", os_words(source))]
    Capture {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: {message}")]
    Node { node: String, message: String },
}

/// An I/O error in the OS's words, without Rust's "(os error N)".
pub fn os_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

struct SimNode {
    name: String,
    kind: NodeKind,
    host: Host,
    /// Interface id → (segment, member index).
    attachments: BTreeMap<IfaceId, (usize, usize)>,
    /// The earliest wake-up scheduled (no later than the host's next
    /// deadline; see `service`).
    scheduled: Option<Instant>,
}

#[derive(Debug)]
enum EventKind {
    /// An arrival out of its link's order (jitter, reordering): rare, so
    /// boxed to keep every heap entry at 32 bytes.
    Arrive(Box<Arrival>),
    /// A neighbour's resolution gave up (rare too): the datagrams held
    /// for it are unreachable.
    Unreachable(Box<Neighbour>),
    Wake {
        node: usize,
    },
    Timeline(usize),
    /// The first arrival waiting in a link direction's queue
    /// (`Sim::in_flight`).
    LinkHead(usize),
}

/// Buffers kept for reuse at most, and the largest kept (so the spares
/// hold at most 16 MiB).
const SPARE_BUFFERS: usize = 1024;
const SPARE_BUFFER_SIZE: usize = 16 * 1024;

#[derive(Debug)]
struct Arrival {
    segment: usize,
    member: usize,
    bytes: Vec<u8>,
}

/// A node's next hop on one of its interfaces.
type Neighbour = (usize, IfaceId, Ipv4Addr);

/// A datagram on its way across a link direction, as the event it will be.
#[derive(Debug)]
struct InFlight {
    time: Instant,
    seq: u64,
    member: usize,
    bytes: Vec<u8>,
}

struct Scheduled {
    time: Instant,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: `BinaryHeap` pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Per-direction link statistics for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReport {
    pub segment: String,
    pub from: String,
    pub stats: DirStats,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every foreground command finished.
    Finished,
    /// The time limit was reached first.
    TimeLimit,
    /// Nothing was left to happen, but some command never finished.
    Stalled,
    /// Virtual time stopped passing: more than [`NO_PROGRESS_WORK`]
    /// events and host rounds at one instant (traffic over links with
    /// neither rate nor delay that never ends, or a routing loop inside a
    /// host). The run stops there rather than spin for ever.
    NoProgress,
}

/// Events and host rounds at one virtual instant past which the run is
/// stopped (`Outcome::NoProgress`): far more than any instant of a real
/// scenario takes (65,535 connection attempts at once take a few hundred
/// thousand; a 1 GiB download over a link with neither rate nor delay,
/// which takes no time at all, about 4 million), a few seconds of work —
/// up to half a minute when every step also prints (a `chargen` stream
/// read by `nc` over such a link).
pub const NO_PROGRESS_WORK: u64 = 10_000_000;

/// Host rounds in one service call before the host yields to other events
/// at the same instant (`Host::service_bounded`).
const SERVICE_ROUNDS: usize = 10_000;

/// A running simulation.
pub struct Sim {
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    /// Arrivals in flight, per link direction (`segment_base[segment] +
    /// sending member`), in (time, seq) order: a link delivers in the order
    /// it sends, so only each direction's first arrival needs a place in
    /// the heap (as a `LinkHead`). An arrival that would come before one
    /// already queued (jitter, reordering) goes into the heap itself. The
    /// order events happen in is the same as with every arrival in the
    /// heap.
    in_flight: Vec<VecDeque<InFlight>>,
    segment_base: Vec<usize>,
    /// Neighbours being resolved in vain and the datagrams held for each
    /// (at most `NEIGHBOUR_QUEUE`), all unreachable at once when the
    /// resolution gives up, as Linux fails a neighbour's whole queue.
    resolving: BTreeMap<Neighbour, VecDeque<Vec<u8>>>,
    /// Buffers of datagrams that arrived, for the next ones sent (at most
    /// SPARE_BUFFERS of SPARE_BUFFER_SIZE): no allocation per datagram.
    spare: Vec<Vec<u8>>,
    /// What a node sent in one service, before it goes on its links.
    sent: Vec<(Transmit, Vec<u8>)>,
    nodes: Vec<SimNode>,
    segments: Vec<Segment>,
    timeline: Vec<TimelineEntry>,
    timeline_done: usize,
    foreground: Vec<(usize, Pid)>,
    /// Daemons (servers, tunnels, captures without a count): the run does
    /// not wait for them, and its end stops them as Ctrl-C would.
    background: Vec<(usize, Pid)>,
    /// The same processes by node: (start order, pid, daemon). Reaping
    /// after a node ran looks at that node's alone (a run of thousands of
    /// hosts each with a command stays linear).
    of_node: Vec<Vec<(u64, Pid, bool)>>,
    /// Each node's count of exited processes (`Host::exits`) when it was
    /// last reaped: while it stays, nothing there has exited since.
    exits_seen: Vec<u64>,
    started: u64,
    transcript: Rc<RefCell<Kept>>,
    sink: Rc<RefCell<Option<TranscriptSink>>>,
    /// Cuts the processes' output into transcript lines.
    lines: Rc<RefCell<LineSplitter>>,
    events: u64,
    /// The instant work was last counted at, and the work done at it
    /// (events and host rounds: `NO_PROGRESS_WORK`).
    instant: Instant,
    instant_work: u64,
    no_progress_work: u64,
    /// An event was refused for the work its instant had taken.
    stuck: bool,
    end: Instant,
    seed: u64,
    /// What a recording run keeps (`SimOptions::record`).
    recording: Option<Box<Recording>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl Sim {
    /// Receive transcript events as they happen (for printing live).
    pub fn set_sink(&mut self, sink: TranscriptSink) {
        *self.sink.borrow_mut() = Some(sink);
    }

    fn record(&self, ev: TranscriptEvent) {
        if let Some(s) = self.sink.borrow().as_ref() {
            s(&ev);
        }
        self.transcript.borrow_mut().push(ev);
    }

    /// What a recording run kept so far (`SimOptions::record`).
    pub fn recording(&self) -> Option<&Recording> {
        self.recording.as_deref()
    }

    /// Take the TCP events a node's stack recorded, and a sample of its
    /// packet policy if it changed.
    fn take_trace(&mut self, node: usize) {
        self.take_trace_at(node, false);
    }

    /// The same; `last_one` at the end of the run keeps the final counts.
    fn take_trace_at(&mut self, node: usize, last_one: bool) {
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        let host = &self.nodes[node].host;
        let events = host.with_stack(|s| s.take_trace());
        rec.push_tcp(node, events, record::MAX_TCP_EVENTS);
        let now = self.now;
        let sample = host.with_netfilter(|nf| policy_sample(nf, now, node));
        let Some((rules, mut sample)) = sample else {
            return;
        };
        if rec.policy.len() >= record::MAX_POLICY_SAMPLES {
            return;
        }
        for (label, count) in rules {
            let next = rec.rules.len();
            let id = *rec.rule_ids.entry((node, label.clone())).or_insert(next);
            if id == next {
                rec.rules.push((node, label));
            }
            // Two rules may read the same: their counts add up.
            match sample.hits.iter_mut().find(|h| h.0 == id) {
                Some(h) => h.1 += count,
                None => sample.hits.push((id, count)),
            }
        }
        sample.hits.sort_unstable();
        let keep = match rec.last_policy.get(&node).map(|&i| &rec.policy[i]) {
            None => true,
            Some(l) => {
                let counters = (&l.hits, l.dropped, l.translated, l.rejected)
                    != (
                        &sample.hits,
                        sample.dropped,
                        sample.translated,
                        sample.rejected,
                    );
                let shape = (&l.flows, &l.mappings) != (&sample.flows, &sample.mappings);
                shape
                    || (counters
                        && (last_one || sample.time >= l.time + record::POLICY_SAMPLE_SPACING))
            }
        };
        if keep {
            rec.last_policy.insert(node, rec.policy.len());
            rec.policy.push(sample);
        }
    }

    /// Everything recorded so far (output lines up to
    /// [`TRANSCRIPT_KEEP_BYTES`] of text).
    pub fn transcript(&self) -> Vec<TranscriptEvent> {
        self.transcript.borrow().events.clone()
    }

    /// Output lines not kept in [`transcript`](Self::transcript) (past
    /// [`TRANSCRIPT_KEEP_BYTES`]).
    pub fn transcript_dropped(&self) -> u64 {
        self.transcript.borrow().dropped
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// The seed this run uses.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.nodes.iter().find(|n| n.name == name).map(|n| &n.host)
    }

    /// Send `signal` to process `pid` on the node named `name` now, as a
    /// key typed at its terminal would (Ctrl-C, Ctrl-\\): the process
    /// sees it at once, before the node's next event. False if there is
    /// no such node.
    pub fn signal(&mut self, name: &str, pid: Pid, signal: Signal) -> bool {
        let Some(node) = self.nodes.iter().position(|n| n.name == name) else {
            return false;
        };
        self.nodes[node].host.signal(pid, signal);
        self.service(node);
        true
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.nodes.iter().map(|n| &n.host)
    }

    /// Whether the named node is a router.
    pub fn is_router(&self, name: &str) -> bool {
        self.nodes
            .iter()
            .any(|n| n.name == name && n.kind == NodeKind::Router)
    }

    fn schedule(&mut self, time: Instant, kind: EventKind) {
        let seq = self.order_key(time, matches!(kind, EventKind::Timeline(_)));
        self.queue.push(Scheduled { time, seq, kind });
    }

    /// The order among events of one instant: what was scheduled for it
    /// before it came (a timer set earlier, a datagram on its way) first,
    /// then the timeline's actions (a command the scenario starts then),
    /// then what the instant itself set off — each group in the order it
    /// was scheduled. So a command whose time runs out at 2 s ends before
    /// the one the scenario starts at 2 s begins, as a terminal would show
    /// them, and what a new command causes still follows it.
    fn order_key(&mut self, time: Instant, timeline: bool) -> u64 {
        self.seq += 1;
        let later_group = timeline || time <= self.now;
        self.seq | (u64::from(later_group) << 63)
    }

    /// Start a command now on node `node` (as the timeline does).
    pub fn start(
        &mut self,
        node: usize,
        cmdline: &str,
        commands: &dyn Commands,
    ) -> Result<Started, String> {
        let name = self.nodes[node].name.clone();
        let host = self.nodes[node].host.clone();
        // Starting runs nothing yet (the process runs when the host is
        // serviced, below), so the command line still comes first.
        let result = commands.start(&host, cmdline);
        self.record(TranscriptEvent::Command {
            time: self.now,
            node: name.clone(),
            cmdline: cmdline.to_string(),
            pid: result.as_ref().ok().map(|s| s.pid),
        });
        match result {
            Ok(started) => {
                if started.daemon {
                    self.background.push((node, started.pid));
                } else {
                    self.foreground.push((node, started.pid));
                }
                self.started += 1;
                self.of_node[node].push((self.started, started.pid, started.daemon));
                self.service(node);
                Ok(started)
            }
            Err(text) => {
                self.record(TranscriptEvent::Error {
                    time: self.now,
                    node: name,
                    text: text.clone(),
                });
                Err(text)
            }
        }
    }

    /// Run until every foreground command has finished and the timeline is
    /// done, or until the time limit.
    pub fn run(&mut self, commands: &dyn Commands) -> Outcome {
        loop {
            if self.timeline_done == self.timeline.len() && self.foreground_done() {
                self.finish();
                return Outcome::Finished;
            }
            if !self.step(commands, self.end) {
                let outcome = if self.no_progress() {
                    Outcome::NoProgress
                } else if self.queue.is_empty() {
                    Outcome::Stalled
                } else {
                    Outcome::TimeLimit
                };
                // The run lasted until its limit, though nothing happened
                // after the last event: what is still running is
                // interrupted then, and the summary says when.
                if outcome == Outcome::TimeLimit && self.now < self.end {
                    self.now = self.end;
                }
                self.finish();
                return outcome;
            }
        }
    }

    /// Run until virtual time `until` (events at `until` included).
    /// If virtual time stopped passing (`no_progress`), the run stays at
    /// that instant.
    pub fn run_until(&mut self, until: Instant, commands: &dyn Commands) {
        while self.step(commands, until) {}
        if self.now < until && !self.no_progress() {
            self.now = until;
        }
    }

    /// Whether virtual time stopped passing (`Outcome::NoProgress`).
    pub fn no_progress(&self) -> bool {
        self.stuck
    }

    /// The work at one instant past which the run stops
    /// (`Outcome::NoProgress`); [`NO_PROGRESS_WORK`] unless set.
    pub fn set_no_progress_limit(&mut self, work: u64) {
        self.no_progress_work = work;
    }

    /// Every foreground command has finished: each node's are reaped
    /// after the node runs (`service`), where processes end.
    fn foreground_done(&mut self) -> bool {
        self.foreground.is_empty()
    }

    /// Record the exits of commands (of one node, or all): every
    /// foreground command's, and a daemon's (server, tunnel, capture) that
    /// ended by itself before the run did — one that could not start (a
    /// port in use, a missing file) exits with its error's status. A
    /// daemon the end of the run stops is not reaped here (`finish`).
    fn reap(&mut self, only: Option<usize>) {
        let range = match only {
            Some(n) => n..n + 1,
            None => 0..self.nodes.len(),
        };
        // (daemon, start order, node, pid, status)
        let mut exits = Vec::new();
        for n in range {
            let host = &self.nodes[n].host;
            let count = host.exits();
            if count == self.exits_seen[n] {
                continue;
            }
            self.exits_seen[n] = count;
            self.of_node[n].retain(|&(seq, pid, daemon)| match host.exit_status(pid) {
                Some(code) => {
                    exits.push((daemon, seq, n, pid, code));
                    false
                }
                None => true,
            });
        }
        if exits.is_empty() {
            return;
        }
        // Foreground commands first, each group in the order they started.
        exits.sort_unstable();
        let gone: std::collections::BTreeSet<(usize, Pid)> =
            exits.iter().map(|&(_, _, n, pid, _)| (n, pid)).collect();
        self.foreground.retain(|e| !gone.contains(e));
        self.background.retain(|e| !gone.contains(e));
        for (_, _, n, pid, code) in exits {
            self.flush_lines(n, pid);
            self.record(TranscriptEvent::Exit {
                time: self.now,
                node: self.nodes[n].name.clone(),
                pid,
                code,
            });
        }
    }

    /// Process the next event if it is due by `until`; false when none is.
    pub fn step(&mut self, commands: &dyn Commands, until: Instant) -> bool {
        let Some(mut top) = self.queue.peek_mut() else {
            return false;
        };
        if top.time > until {
            return false;
        }
        if top.time != self.instant {
            self.instant = top.time;
            self.instant_work = 0;
        }
        if self.instant_work > self.no_progress_work {
            self.stuck = true;
            return false;
        }
        self.instant_work += 1;
        self.now = top.time;
        self.events += 1;
        if let EventKind::LinkHead(dir) = top.kind {
            // The link's next arrival takes the head's place in the heap:
            // one sift instead of a pop and a push, and the same order,
            // since (time, seq) orders every event.
            let queue = &mut self.in_flight[dir];
            let first = queue.pop_front().expect("a link head has an arrival");
            match queue.front() {
                Some(next) => {
                    top.time = next.time;
                    top.seq = next.seq;
                    drop(top);
                }
                None => {
                    PeekMut::pop(top);
                }
            }
            let segment = self.segment_base.partition_point(|&b| b <= dir) - 1;
            self.arrive(segment, first.member, first.bytes);
            return true;
        }
        let ev = PeekMut::pop(top);
        match ev.kind {
            EventKind::Arrive(a) => self.arrive(a.segment, a.member, a.bytes),
            // Taken in place above, never popped.
            EventKind::LinkHead(_) => {}
            EventKind::Unreachable(n) => {
                let (node, iface, next_hop) = *n;
                for bytes in self.resolving.remove(&n).unwrap_or_default() {
                    self.nodes[node]
                        .host
                        .handle_unreachable(self.now, iface, next_hop, &bytes);
                }
                self.service(node);
            }
            EventKind::Wake { node } => {
                if self.nodes[node].scheduled == Some(self.now) {
                    self.nodes[node].scheduled = None;
                    self.nodes[node].host.handle_timeout(self.now);
                    self.service(node);
                }
            }
            EventKind::Timeline(i) => {
                self.timeline_done += 1;
                match self.timeline[i].action.clone() {
                    Action::Say(text) => self.record(TranscriptEvent::Say {
                        time: self.now,
                        text,
                    }),
                    Action::Run { node, cmd } => {
                        let _ = self.start(node, &cmd, commands);
                    }
                    Action::Link {
                        segment,
                        senders,
                        up,
                        link,
                    } => {
                        let mut changed = false;
                        for m in senders {
                            changed |= self.segments[segment].set_up(m, up);
                        }
                        // A link already in that state is said to be (as
                        // `ip link set up` on an up link changes nothing).
                        let text = match (changed, up) {
                            (true, true) => format!("link {link} comes back up"),
                            (true, false) => format!("link {link} goes down"),
                            (false, true) => format!("link {link} is already up"),
                            (false, false) => format!("link {link} is already down"),
                        };
                        self.record(TranscriptEvent::Change {
                            time: self.now,
                            text,
                        });
                    }
                    Action::Impair {
                        segment,
                        senders,
                        change,
                        fields,
                        text,
                    } => {
                        for m in senders {
                            fields.apply(&change, &mut self.segments[segment].dirs[m].params);
                        }
                        self.record(TranscriptEvent::Change {
                            time: self.now,
                            text,
                        });
                    }
                    Action::Route {
                        node,
                        dest,
                        via,
                        text,
                    } => {
                        let result = self.nodes[node].host.with_stack(|s| match via {
                            // `ip route add` refuses a second route to one
                            // destination, as the file's `routes` do.
                            Some(_)
                                if s.routes().any(|r| {
                                    r.origin == tcplab_stack::RouteOrigin::Static
                                        && r.dest == dest.network()
                                }) =>
                            {
                                Err("File exists".to_string())
                            }
                            Some(gw) => s.add_route(dest, gw).map_err(|e| e.to_string()),
                            None => s.remove_route(dest).map_err(|e| e.to_string()),
                        });
                        match result {
                            Ok(()) => self.record(TranscriptEvent::Change {
                                time: self.now,
                                text,
                            }),
                            Err(e) => self.record(TranscriptEvent::Error {
                                time: self.now,
                                node: self.nodes[node].name.clone(),
                                text: format!("{text}: {e}"),
                            }),
                        }
                        self.service(node);
                    }
                }
            }
        }
        true
    }

    /// A datagram reaches member `member` of `segment`.
    fn arrive(&mut self, segment: usize, member: usize, bytes: Vec<u8>) {
        let m = &self.segments[segment].members[member];
        let (node, iface) = (m.node, m.iface);
        // A router forwards in the datagram's own buffer and gives back a
        // spare of its own (one `service` left it for its transmissions); a
        // host gives back the buffer itself. Either is reused for the next
        // datagram sent.
        let back = self.nodes[node]
            .host
            .handle_datagram(self.now, iface, bytes);
        let size = back.capacity();
        if self.spare.len() < SPARE_BUFFERS && size > 0 && size <= SPARE_BUFFER_SIZE {
            self.spare.push(back);
        }
        self.service(node);
    }

    /// Schedule an arrival sent by member `from` of `segment`: behind the
    /// others of its direction when it comes after them, else in the heap.
    fn schedule_arrival(
        &mut self,
        (segment, from): (usize, usize),
        time: Instant,
        member: usize,
        bytes: Vec<u8>,
    ) {
        let dir = self.segment_base[segment] + from;
        let seq = self.order_key(time, false);
        let queue = &mut self.in_flight[dir];
        match queue.back() {
            Some(last) if last.time > time => {
                self.queue.push(Scheduled {
                    time,
                    seq,
                    kind: EventKind::Arrive(Box::new(Arrival {
                        segment,
                        member,
                        bytes,
                    })),
                });
            }
            last => {
                let empty = last.is_none();
                queue.push_back(InFlight {
                    time,
                    seq,
                    member,
                    bytes,
                });
                if empty {
                    self.queue.push(Scheduled {
                        time,
                        seq,
                        kind: EventKind::LinkHead(dir),
                    });
                }
            }
        }
    }

    /// Let a node run and send, then schedule its next wake-up.
    fn service(&mut self, node: usize) {
        let host = self.nodes[node].host.clone();
        // The list is the simulator's own, kept from call to call.
        let mut out = std::mem::take(&mut self.sent);
        let spare = &mut self.spare;
        // Each datagram's buffer is taken as it is (no copy) and a spare
        // one left for the host's next.
        // Bounded: a host that never runs out of work at this instant
        // yields (its `poll_timeout` is then now) and the work is counted.
        let done = host.service_bounded(
            self.now,
            &mut |t, buf| {
                let mut bytes = std::mem::replace(buf, spare.pop().unwrap_or_default());
                bytes.truncate(t.len);
                out.push((t, bytes));
            },
            SERVICE_ROUNDS,
        );
        self.instant_work += done.rounds as u64;
        for (t, bytes) in out.drain(..) {
            self.transmit(node, t, bytes);
        }
        self.sent = out;
        self.take_trace(node);
        self.reap(Some(node));
        // Wake-ups are filed lazily, as the stack files its own: one
        // already due no later than the host's next deadline stays (when
        // it comes, the host finds nothing due, perhaps, and the real
        // deadline is filed then); only an earlier deadline adds an event.
        // A host whose deadlines keep moving later (a retransmission timer
        // restarted by every ACK) does not fill the heap with stale
        // wake-ups.
        if let Some(t) = host.poll_timeout() {
            let t = t.max(self.now);
            if self.nodes[node].scheduled.is_none_or(|s| t < s) {
                self.nodes[node].scheduled = Some(t);
                self.schedule(t, EventKind::Wake { node });
            }
        }
    }

    /// Stop every application and flush captures.
    /// A process's unfinished last line goes into the transcript.
    fn flush_lines(&self, node: usize, pid: Pid) {
        let name = self.nodes[node].name.clone();
        let rest = self.lines.borrow_mut().finish_process(self.now, &name, pid);
        for line in rest {
            self.record(TranscriptEvent::Output(line));
        }
    }

    /// The end of the run: commands still running are interrupted as
    /// Ctrl-C would (ping prints its statistics, a capture its counts;
    /// servers and tunnels stop quietly), then everything stops. Only a
    /// foreground command's exit status is reported: a daemon stopped by
    /// the end of the run is how a run ends.
    fn finish(&mut self) {
        // The daemons still running are stopped by the end of the run, not
        // reaped: however they end (nc, which does not catch the signal,
        // ends with 130), no status is reported for them.
        let background = std::mem::take(&mut self.background);
        for procs in &mut self.of_node {
            procs.retain(|&(_, _, daemon)| !daemon);
        }
        let running: Vec<(usize, Pid)> =
            self.foreground.iter().chain(&background).copied().collect();
        for &(n, pid) in &running {
            // A process that ends at the signal closes its sockets at this
            // time, not at the last the host was serviced.
            self.nodes[n].host.set_time(self.now);
            self.nodes[n].host.signal(pid, Signal::Interrupt);
        }
        for n in running
            .iter()
            .map(|(n, _)| *n)
            .collect::<std::collections::BTreeSet<_>>()
        {
            self.service(n);
        }
        self.reap(None);
        for (n, pid) in background {
            self.flush_lines(n, pid);
        }
        for n in &self.nodes {
            n.host.shutdown();
        }
        for n in 0..self.nodes.len() {
            self.take_trace_at(n, true);
        }
        let rest = self.lines.borrow_mut().finish(self.now);
        for line in rest {
            self.record(TranscriptEvent::Output(line));
        }
        for s in &mut self.segments {
            let _ = s.finish_capture();
        }
    }

    /// Flush captures and report the first error writing them.
    pub fn close_captures(&mut self) -> std::io::Result<()> {
        for s in &mut self.segments {
            s.finish_capture()?;
        }
        Ok(())
    }

    /// Per-direction statistics of every link.
    pub fn link_reports(&self) -> Vec<LinkReport> {
        let mut out = Vec::new();
        for seg in &self.segments {
            for (m, stats) in seg.stats() {
                out.push(LinkReport {
                    segment: seg.name.clone(),
                    from: self.nodes[seg.members[m].node].name.clone(),
                    stats,
                });
            }
        }
        out
    }

    /// Names of the capture files written, one per link.
    pub fn capture_names(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|s| format!("{}.pcap", s.name))
            .collect()
    }

    #[doc(hidden)]
    pub fn capture_path(dir: &Path, segment: &str) -> std::path::PathBuf {
        dir.join(format!("{segment}.pcap"))
    }
}

/// The content of a generated `[[file]]`: pseudo-random bytes that depend
/// only on the path and size (xorshift64*, seeded from the path), so a
/// download can be checked byte for byte and never compresses.
pub fn generated(path: &str, size: u64) -> Rc<[u8]> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in path.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut word = [0u8; 8];
    // Made in place (a range mapped has a known length, so the shared
    // slice is allocated once): a 1 GiB file costs 1 GiB, not two.
    (0..size)
        .map(|i| {
            if i % 8 == 0 {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                word = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            }
            word[(i % 8) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests;
