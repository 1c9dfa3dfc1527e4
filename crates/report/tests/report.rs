//! Reports of real runs: the ladder and time-sequence graph of a known run
//! kept as reviewable snapshots, segment counts against the pcap of the
//! same run for every scenario, the JSON-lines export, determinism.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use tcplab_report::{analyse, model, Input};
use tcplab_sim::record::Fate;
use tcplab_sim::{Commands, Recording, Scenario, Sim, SimOptions, TranscriptEvent};
use tcplab_stack::Instant;
use tcplab_tools::Tools;
use tcplab_wire::pcap::PcapReader;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    scenario: Scenario,
    transcript: Vec<TranscriptEvent>,
    recording: Recording,
    seed: u64,
    end: Instant,
}

impl Run {
    fn input(&self) -> Input<'_> {
        Input {
            scenario: &self.scenario,
            transcript: &self.transcript,
            recording: &self.recording,
            seed: self.seed,
            end: self.end,
            real_time: false,
        }
    }
}

fn run(name: &str, pcap: Option<&Path>) -> Run {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    run_text(name, &text, pcap)
}

fn run_text(name: &str, text: &str, pcap: Option<&Path>) -> Run {
    let scenario = tcplab_sim::load_checked(name, text, &|c: &str| Tools.check(c)).unwrap();
    let mut sim = Sim::new(
        &scenario,
        &SimOptions {
            seed: None,
            pcap_dir: pcap.map(Path::to_path_buf),
            record: true,
        },
    )
    .unwrap();
    sim.run(&Tools);
    sim.close_captures().unwrap();
    Run {
        transcript: sim.transcript(),
        recording: sim.recording().unwrap().clone(),
        seed: sim.seed(),
        end: sim.now(),
        scenario,
    }
}

/// Compare with a file in tests/snapshots (UPDATE_SNAPSHOTS=1 rewrites it).
fn snapshot(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == text,
        "{} is out of date (UPDATE_SNAPSHOTS=1 cargo test -p tcplab-report rewrites it)",
        path.display()
    );
}

#[test]
fn handshake_ladder_and_time_sequence_graph() {
    let r = run("tcp-handshake", None);
    let a = analyse(r.input());
    // The echo connection, the refused one, the one that timed out.
    assert_eq!(a.conns.len(), 3, "{:#?}", a.conns);
    let c = &a.conns[0];
    let flags: Vec<String> = c.flights.iter().map(|f| f.tcp.flag_text()).collect();
    // Each end's line, then its FIN alone (a write leaves at once); the
    // server's ACK of the client's FIN rides on its own (Linux).
    assert_eq!(
        flags,
        ["S", "S.", ".", "P.", "F.", ".", "P.", "F.", ".", "."]
    );
    assert!(c.flights.iter().all(|f| f.arrived.is_some()));
    assert_eq!(model::ACK & c.flights[1].tcp.flags, model::ACK);
    // Relative numbers as the notes write them.
    assert_eq!(
        tcplab_report::ladder::label(c, &c.flights[3]),
        "P. seq=1 ack=1 win=262144 len=6"
    );
    // The ladder's columns: both ends and the router between them, which
    // every segment crossed on its way.
    let names: Vec<&str> = c
        .columns()
        .iter()
        .map(|n| n.map_or("?", |n| r.scenario.nodes[n].name.as_str()))
        .collect();
    assert_eq!(names, ["client", "r1", "server"]);
    assert!(c.flights.iter().all(|f| f.hops.len() == 2));
    let refused = &a.conns[1];
    assert_eq!(refused.flights[1].tcp.flag_text(), "R.");
    let silent = &a.conns[2];
    assert!(silent.ends[1].is_none());
    assert!(silent.flights.iter().all(|f| f.arrived.is_none()));
    assert_eq!(
        silent.flights.iter().filter(|f| f.retransmission).count(),
        silent.flights.len() - 1
    );
    let svgs: BTreeMap<String, String> = tcplab_report::svgs(&a).into_iter().collect();
    snapshot("handshake-ladder.svg", &svgs["conn0-ladder.svg"]);
    snapshot("handshake-tseq.svg", &svgs["conn0-tseq.svg"]);
    snapshot("handshake-diagram.svg", &svgs["conn0-diagram.svg"]);
    // The timers that fired: the silent address's SYN retransmissions
    // (RTO, backing off), the client's 2·MSL in TIME-WAIT.
    assert!(svgs["conn2-ladder.svg"].matches("<title>RTO fired").count() >= 2);
    assert!(svgs["conn0-ladder.svg"].contains("<title>2MSL fired"));
    let text = tcplab_report::text_ladders(&a, 1);
    snapshot("handshake-ladder.txt", &text);
}

/// What a pcap file holds: TCP segments by (source, destination).
fn pcap_segments(path: &Path) -> BTreeMap<(SocketAddrV4, SocketAddrV4), usize> {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    while let Some(rec) = r.next_record().unwrap() {
        let Some(ip) = model::parse_ip(&rec.data) else {
            continue;
        };
        let Some(t) = model::parse_tcp(&ip, &rec.data) else {
            continue;
        };
        *out.entry((
            SocketAddrV4::new(ip.src, t.sport),
            SocketAddrV4::new(ip.dst, t.dport),
        ))
        .or_default() += 1;
    }
    out
}

#[test]
fn segments_per_connection_equal_the_pcap_of_the_same_run() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            if p.extension()? != "toml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut checked = 0;
    for name in names {
        let dir = std::env::temp_dir().join(format!("tcplab-report-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = run(&name, Some(&dir));
        let a = analyse(r.input());
        for c in &a.conns {
            for (by, end) in c.ends.iter().enumerate() {
                let Some(end) = end else { continue };
                // The end's own link: the one its local address is on.
                let node = &r.scenario.nodes[end.node];
                // (A router answering on another's behalf — a firewall's
                // reject — has no link of that address: not counted here.)
                let Some(link) = r.scenario.segments.iter().find(|s| {
                    s.members.iter().any(|&(n, i)| {
                        n == end.node && node.ifaces[i].addr.address() == *end.local.ip()
                    })
                }) else {
                    continue;
                };
                let captured = pcap_segments(&dir.join(format!("{}.pcap", link.name)));
                // The tap sees what the interface put on the wire: not what
                // its full queue refused.
                let report = c
                    .flights
                    .iter()
                    .filter(|f| f.by == by)
                    .filter(|f| {
                        !matches!(
                            a.packets[f.packet].rec.fate,
                            Fate::QueueFull | Fate::TooBig | Fate::LinkDown | Fate::NoNeighbour
                        )
                    })
                    .count();
                let pcap = captured.get(&(end.local, end.remote)).copied().unwrap_or(0);
                assert_eq!(
                    report, pcap,
                    "{name}: {} sent {report} segments by the report, {pcap} in {}.pcap",
                    end.local, link.name
                );
                checked += 1;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(checked > 20, "only {checked} connection ends checked");
}

#[test]
fn json_lines_and_determinism() {
    let r1 = run("tcp-loss", None);
    let r2 = run("tcp-loss", None);
    let (a1, a2) = (analyse(r1.input()), analyse(r2.input()));
    let (h1, h2) = (tcplab_report::html(&a1), tcplab_report::html(&a2));
    assert!(h1 == h2, "the same seed gives the same report");
    // Self-contained: nothing fetched.
    for needle in ["<script src", "<link ", "url(http", "@import"] {
        assert!(
            !h1.contains(needle),
            "the report fetches something: {needle}"
        );
    }
    let mut buf = Vec::new();
    tcplab_report::jsonl(&a1, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut streams: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *kinds
            .entry(v["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
        if v["type"] == "output" {
            *streams
                .entry(v["stream"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        // Nothing arrived after the run ended: that is "in-flight".
        if let Some(at) = v["arrival_us"].as_u64() {
            assert!(at <= r1.end.total_micros(), "{line}");
        }
        if v["fate"] == "in-flight" {
            *kinds.entry("in-flight".into()).or_default() += 1;
        }
    }
    assert_eq!(
        kinds.get("in-flight"),
        Some(&1),
        "the last segment, on its way"
    );
    assert_eq!(kinds["packet"], r1.recording.packets.len());
    assert!(kinds["tcp-cc"] > 100, "{kinds:?}");
    assert_eq!(kinds["tcp-open"], 2);
    assert!(kinds["transcript"] > 3);
    // Each output line says which stream it came by, as the transcript's
    // `!` does.
    let stderr = r1
        .transcript
        .iter()
        .filter(
            |e| matches!(e, TranscriptEvent::Output(l) if l.stream == tcplab_host::Stream::Stderr),
        )
        .count();
    assert_eq!(
        streams.get("stderr").copied().unwrap_or(0),
        stderr,
        "{streams:?}"
    );
    assert!(streams["stdout"] > 0 && streams.len() <= 2, "{streams:?}");
    assert!(!kinds.contains_key("unrecorded"), "nothing was left out");
    // A recording that stopped short says so on its last line, and the
    // page says so too.
    let mut short = run("tcp-loss", None);
    short.recording.tcp_unrecorded = 7;
    let a3 = analyse(short.input());
    let mut buf = Vec::new();
    tcplab_report::jsonl(&a3, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["tcp_events"].as_u64()),
        (Some("unrecorded"), Some(7))
    );
    assert!(tcplab_report::html(&a3).contains("7 more were not"));
    // Retransmissions were drawn: the loss scenario loses segments.
    let c = &a1.conns[0];
    assert!(c.flights.iter().any(|f| f.retransmission));
    assert!(h1.contains("class=\"rtx\""));
}

const REUSE: &str = r#"
seed = 3
[[host]]
name = "client"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[host.tcp]
msl = "1s"
[[host]]
name = "server"
addr = "10.0.2.2/24"
gateway = "10.0.2.1"
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.2.1/24"]
[[link]]
ends = ["client", "r1"]
delay = "5ms"
corrupt = "20%"
[[link]]
ends = ["r1", "server"]
delay = "5ms"
[[run]]
at = "0s"
on = "server"
cmd = "serve echo"
[[run]]
at = "1s"
on = "client"
cmd = "echo one | nc -p 5000 server 7"
[[run]]
at = "10s"
on = "client"
cmd = "echo two | nc -p 5000 server 7"
"#;

#[test]
fn a_reused_port_is_a_new_connection_and_corruption_is_seen_on_any_hop() {
    let r = run_text("reuse.toml", REUSE, None);
    let a = analyse(r.input());
    let client: Vec<_> = a
        .conns
        .iter()
        .filter(|c| c.ends[0].is_some_and(|e| e.local.port() == 5000))
        .collect();
    assert_eq!(client.len(), 2, "{:#?}", a.conns);
    for c in &client {
        // Each starts with its own SYN, numbered from its own ISN.
        let syn = &c.flights[0];
        assert_eq!(syn.tcp.flag_text(), "S");
        assert!(!syn.retransmission);
        assert_eq!(c.rel_seq(0, syn.tcp.seq), 0);
        // Each end's states are its own connection's: one open each.
        let e = c.ends[0].unwrap();
        let span = tcplab_report::graphs::Span {
            from: c.first_time(),
            until: c.until[0],
        };
        let events = tcplab_report::graphs::index_ends(&r.recording.tcp);
        let path = tcplab_report::graphs::state_path(&events, &e, span);
        assert_eq!(
            path.iter()
                .filter(|s| s.1 == Some(tcplab_stack::TcpState::Closed)
                    && s.2 == tcplab_stack::TcpState::SynSent)
                .count(),
            1,
            "{path:?}"
        );
    }
    // Segments the first link corrupted reach the server through the
    // router and are marked: the server drops them on the checksum.
    let corrupted = client
        .iter()
        .flat_map(|c| c.flights.iter())
        .filter(|f| f.by == 0 && f.corrupted)
        .count();
    assert!(corrupted > 0);
}

#[test]
fn a_segment_a_router_refuses_is_dropped_there() {
    let r = run("acl", None);
    let a = analyse(r.input());
    let refused = a
        .conns
        .iter()
        .flat_map(|c| c.flights.iter())
        .filter(|f| matches!(f.dropped, Some(model::Drop::NotForwarded(..))))
        .count();
    assert!(refused > 0, "the ACL drops segments at the router");
    // Nothing is left "on its way" in a run that ended quietly.
    for c in &a.conns {
        for f in &c.flights {
            assert!(
                f.arrived.is_some()
                    || f.dropped.is_some()
                    || f.sent + std::time::Duration::from_secs(1) > r.end,
                "{f:?}"
            );
        }
    }
}

#[test]
fn behind_a_nat_the_ends_disagree_and_the_rewrite_is_drawn() {
    let r = run("nat", None);
    let a = analyse(r.input());
    // a's first curl: a on the inside, the server outside.
    let c = &a.conns[0];
    let [Some(inside), Some(outside)] = c.ends else {
        panic!("{c:?}")
    };
    assert_eq!(r.scenario.nodes[inside.node].name, "a");
    assert_eq!(r.scenario.nodes[outside.node].name, "server");
    // The server talks to the router's outside address, not to a.
    assert_ne!(outside.remote, inside.local);
    assert_eq!(outside.remote.ip().to_string(), "10.99.2.1");
    // r1 is a column, and the ladder marks the rewrite there.
    let cols = c.columns();
    let r1 = r.scenario.node_index("r1");
    assert!(cols.contains(&r1));
    let svg = tcplab_report::ladder::ladder(&r.scenario, c);
    assert!(svg.contains("rewritten here (NAT)"));
    assert!(svg.contains("talks to 10.99.2.1:"));
}

#[test]
fn pings_traceroute_and_fragments_hop_by_hop() {
    use tcplab_report::icmp::{self, Answer, Kind};
    let r = run("tour", None);
    let a = analyse(r.input());
    let s = &r.scenario;
    let name = |n: usize| s.nodes[n].name.as_str();
    let flows = icmp::probes(s, &a.packets);
    let pings = flows
        .iter()
        .find(|f| !f.udp && name(f.origin) == "client")
        .expect("the client's pings");
    // ping -t 1: answered by r1 with "time exceeded".
    let ttl1 = pings.probes.iter().find(|p| p.ttl == 1).unwrap();
    let (ans, from, _, back) = ttl1.answer.clone().unwrap();
    assert_eq!(
        ans,
        Answer::Error {
            ty: 11,
            code: 0,
            mtu: None
        }
    );
    assert_eq!(name(from), "r1");
    assert!(back.is_some());
    // ping -s 1000 with DF: r1's next link has MTU 576.
    assert!(pings.probes.iter().any(|p| matches!(
        p.answer,
        Some((
            Answer::Error {
                ty: 3,
                code: 4,
                mtu: Some(576)
            },
            ..
        ))
    )));
    // Plain pings: replies from the server, after crossing both routers.
    let ok = pings
        .probes
        .iter()
        .find(|p| matches!(p.answer, Some((Answer::Reply, ..))))
        .unwrap();
    let path: Vec<&str> = ok.path.iter().map(|&(n, _)| name(n)).collect();
    assert_eq!(path, ["r1", "r2", "server"]);
    assert!(matches!(ok.kind, Kind::Echo { .. }));
    // traceroute: TTL 1 dies at r1, the last probes reach the server,
    // which answers "port unreachable" (the last answered ones: the server
    // answers a burst of six and then rate-limits, as Linux does, and
    // traceroute sends sixteen probes at once).
    let trace = flows
        .iter()
        .find(|f| f.udp && f.probes.iter().any(|p| p.ttl == 1))
        .expect("traceroute's probes");
    let first = &trace.probes[0];
    assert_eq!(first.ttl, 1);
    assert_eq!(first.answer.as_ref().map(|x| name(x.1)), Some("r1"));
    let last = trace.probes.iter().rfind(|p| p.answer.is_some()).unwrap();
    assert!(matches!(
        last.answer,
        Some((Answer::Error { ty: 3, code: 3, .. }, ..))
    ));
    // The path it found, for the topology.
    let traced: Vec<&str> = icmp::traced_path(&flows).into_iter().map(name).collect();
    assert_eq!(traced, ["client", "r1", "r2", "server"]);
    // DNS replies are answers, not probes of their own.
    assert!(!flows.iter().any(|f| name(f.origin) == "server" && f.udp));

    let r = run("fragmentation", None);
    let a = analyse(r.input());
    let frags = icmp::fragments(&r.scenario, &a.packets);
    let f = &frags[0];
    let (splitter, pieces) = &f.splits[0];
    assert_eq!(r.scenario.nodes[*splitter].name, "r1");
    assert!(pieces.len() > 1);
    // The pieces cover the datagram exactly.
    let mut at = 0;
    for &(off, len) in pieces {
        assert_eq!(off, at);
        at += len;
    }
    assert_eq!(at, f.total);
    assert_eq!(
        f.ends
            .iter()
            .map(|&n| r.scenario.nodes[n].name.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
}

#[test]
fn rule_hits_flows_and_nat_mappings_over_time() {
    let r = run("acl", None);
    let rec = &r.recording;
    let id = |label: &str| {
        rec.rules
            .iter()
            .position(|(_, l)| l.contains(label))
            .unwrap_or_else(|| panic!("no rule {label}: {:?}", rec.rules))
    };
    let deny_out = id("out * deny");
    let added = id("out 100 allow tcp sport 80");
    let hits = |p: &tcplab_sim::record::PolicySample, id: usize| p.hits_of(id);
    let last = rec.policy.last().unwrap();
    // The SYN-ACKs the final deny dropped; then the rule added at 8 s let
    // the replies out.
    assert_eq!(hits(last, deny_out), 5);
    let first_added = rec.policy.iter().find(|p| hits(p, added) > 0).unwrap();
    assert!(first_added.time >= Instant::from_secs(8));
    assert!(rec.policy.windows(2).all(|w| w[0].time <= w[1].time));
    let html = tcplab_report::html(&analyse(r.input()));
    assert!(html.contains("Packet policy"));
    assert!(html.contains("packets each rule matched"));
    // The description's paragraphs stay paragraphs.
    assert!(
        html.contains("lets the replies out.</p><p>In the report (--report):"),
        "one paragraph for each of the description's"
    );

    let r = run("nat", None);
    let rec = &r.recording;
    // Mappings come and are listed; flows are tracked by state.
    let most = rec.policy.iter().map(|p| p.mappings.len()).max().unwrap();
    assert!(most >= 2, "{most}");
    assert!(rec
        .policy
        .iter()
        .any(|p| p.flows.iter().any(|(s, n)| s == "ESTABLISHED" && *n >= 2)));
    let a = analyse(r.input());
    let html = tcplab_report::html(&a);
    assert!(html.contains(" made tcp 10.99.1.2:"));
    // Probes through the NAT are matched with their answers, which come
    // back to the router's outside address and are translated: a's ping
    // is answered by the server, its traceroute hop by hop.
    use tcplab_report::icmp::{self, Answer};
    let s = &r.scenario;
    let name = |n: usize| s.nodes[n].name.as_str();
    let flows = icmp::probes(s, &a.packets);
    let ping = flows
        .iter()
        .find(|f| !f.udp && name(f.origin) == "a")
        .expect("a's ping");
    assert!(matches!(ping.probes[0].answer, Some((Answer::Reply, n, ..)) if name(n) == "server"));
    let traced: Vec<&str> = icmp::traced_path(&flows).into_iter().map(name).collect();
    assert_eq!(traced, ["a", "r1", "r2", "server"]);
    assert!(html.contains("tracked flows by state"));
}

#[test]
fn a_pacing_sender_has_its_rate_drawn() {
    let r = run("congestion", None);
    let a = analyse(r.input());
    let svgs: BTreeMap<String, String> = tcplab_report::svgs(&a).into_iter().collect();
    // NewReno, CUBIC, BBR and BBRv1: only the BBRs pace.
    let pacing: Vec<&String> = svgs.keys().filter(|k| k.ends_with("-pacing.svg")).collect();
    assert_eq!(pacing.len(), 2, "{pacing:?}");
    let cwnd = svgs.keys().filter(|k| k.ends_with("-cwnd.svg")).count();
    assert_eq!(cwnd, 4);
}

/// A port scan opens a connection per port: the page draws the first
/// `MAX_CONNS_DRAWN`, lists the next ones in a table up to its limit and
/// counts the rest, so its size stays bounded whatever the run did; the
/// `until` of each end is still the next connection on its addresses.
#[test]
fn a_port_scan_is_drawn_up_to_a_limit() {
    const SCAN: &str = r#"
seed = 3
[[host]]
name = "a"
addr = "10.0.1.2/24"
[[host]]
name = "b"
addr = "10.0.1.3/24"
[[link]]
ends = ["a", "b"]
[[run]]
at = "0s"
on = "b"
cmd = "serve http"
[[run]]
at = "0.5s"
on = "a"
cmd = "nc -z b 1-1300"
"#;
    use tcplab_report::{MAX_CONNS_DRAWN, MAX_CONNS_LISTED};
    let r = run_text("scan.toml", SCAN, None);
    let a = analyse(r.input());
    assert_eq!(a.conns.len(), 1300, "one connection per port");
    let html = tcplab_report::html(&a);
    // An untitled scenario is headed as the transcript heads it.
    assert!(html.contains("<title>scenario — tcplab report</title>"));
    assert!(html.contains("<h1>scenario</h1>"));
    assert_eq!(
        html.matches("<section class=\"conn\"").count(),
        MAX_CONNS_DRAWN
    );
    assert!(html.contains(&format!(
        "Only the first {MAX_CONNS_DRAWN} connections are drawn; the next {MAX_CONNS_LISTED} are listed below, and {} more are not",
        1300 - MAX_CONNS_DRAWN - MAX_CONNS_LISTED
    )));
    // A row per listed connection, below the header row.
    let table = html.split("Only the first").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    assert_eq!(table.matches("<tr><td>").count(), MAX_CONNS_LISTED);
    let svgs = tcplab_report::svgs(&a);
    assert!(svgs
        .iter()
        .all(|(name, _)| !name.starts_with(&format!("conn{MAX_CONNS_DRAWN}-"))));
    assert!(svgs
        .iter()
        .any(|(name, _)| name.starts_with(&format!("conn{}-", MAX_CONNS_DRAWN - 1))));
    // Each scan connection is alone on its addresses: nothing follows it.
    assert!(a.conns.iter().all(|c| c.until == [None, None]));
}

/// TCP a router sends is drawn too: its own connection (the gateway of a
/// TCP tunnel), its RST for a closed port of its own, a firewall's reject
/// made on the server's behalf; and a segment that reached the router
/// for itself arrived (it is not "not forwarded").
#[test]
fn tcp_a_router_sends_or_ends_is_drawn() {
    fn name(r: &Run, n: usize) -> &str {
        r.scenario.nodes[n].name.as_str()
    }
    let r = run("meltdown", None);
    let a = analyse(r.input());
    assert!(
        a.conns
            .iter()
            .any(|c| c.ends[0].is_some_and(|e| name(&r, e.node) == "gwA")
                && c.ends[1].is_some_and(|e| name(&r, e.node) == "gwB")),
        "the TCP tunnel between the gateways is a connection"
    );
    let r = run("nat", None);
    let a = analyse(r.input());
    let to_r1: Vec<_> = a
        .conns
        .iter()
        .filter(|c| c.ends[0].is_some_and(|e| e.remote.ip().to_string() == "10.99.2.1"))
        .filter(|c| c.ends[0].is_some_and(|e| [7, 8, 9].contains(&e.remote.port())))
        .collect();
    assert_eq!(to_r1.len(), 3, "nc -z to r1's ports 7-9");
    for c in to_r1 {
        assert!(c.ends[1].is_some_and(|e| name(&r, e.node) == "r1"), "{c:?}");
        assert!(c.flights.iter().all(|f| f.dropped.is_none()), "{c:?}");
        assert!(c.flights.iter().any(|f| f.by == 1 && f.tcp.has(model::RST)));
    }
    let text = r#"
[[host]]
name = "web"
addr = "10.99.1.2/24"
gateway = "10.99.1.1"
[[host]]
name = "client"
addr = "10.99.3.2/24"
gateway = "10.99.3.1"
[[router]]
name = "r1"
addrs = ["10.99.1.1/24", "10.99.3.1/24"]
[[router.firewall]]
iface = "10.99.1.1"
inbound = ["allow tcp port 9"]
outbound = ["allow all"]
reject = true
[[link]]
ends = ["web", "r1"]
delay = "10ms"
[[link]]
ends = ["r1", "client"]
delay = "1ms"
[[run]]
at = "0s"
on = "web"
cmd = "serve echo"
[[run]]
at = "1s"
on = "client"
cmd = "nc -w 2 10.99.1.2 7"
"#;
    let r = run_text("reject", text, None);
    let a = analyse(r.input());
    let c = &a.conns[0];
    let syn = &c.flights[0];
    assert!(syn.tcp.has(model::SYN));
    let rst = c
        .flights
        .iter()
        .find(|f| f.by == 1 && f.tcp.has(model::RST))
        .expect("the reject's RST is part of the connection");
    assert!(rst.arrived.is_some(), "{rst:?}");
    assert_eq!(c.ends[1].map(|e| name(&r, e.node)), Some("r1"));
    // The policy's counts say it was rejected, not dropped.
    let last = r.recording.policy.last().expect("policy samples");
    assert_eq!((last.rejected, last.dropped[1]), (1, 0));
    assert!(tcplab_report::html(&a).contains("1 rejected by security groups"));
}

/// A datagram a link duplicated, one copy of which was lost further on
/// while the other went through, is not drawn as lost.
#[test]
fn a_lost_copy_of_a_duplicated_segment_is_not_a_loss() {
    let text = r#"
seed = 3
[[host]]
name = "a"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[[host]]
name = "b"
addr = "10.0.2.2/24"
gateway = "10.0.2.1"
[[router]]
name = "r"
addrs = ["10.0.1.1/24", "10.0.2.1/24"]
[[link]]
ends = ["a", "r"]
delay = "5ms"
rate = "10Mbit"
duplicate = "30%"
[[link]]
ends = ["r", "b"]
delay = "5ms"
rate = "10Mbit"
loss = "30%"
[[run]]
at = "0s"
on = "b"
cmd = "serve discard"
[[run]]
at = "0s"
on = "a"
cmd = "transfer -s 100k b"
"#;
    let r = run_text("dup", text, None);
    let a = analyse(r.input());
    let key = |q: &model::Pkt<'_>| {
        let (ip, t) = (q.ip.as_ref()?, q.tcp.as_ref()?);
        Some((ip.ident, t.seq, t.ack, t.flags, t.len))
    };
    let mut checked = 0;
    for c in &a.conns {
        for f in &c.flights {
            let k = key(&a.packets[f.packet]);
            let copies: Vec<_> = a
                .packets
                .iter()
                .filter(|q| key(q) == k && q.rec.node == r.scenario.node_index("r").unwrap())
                .collect();
            let lost = copies.iter().any(|q| q.rec.arrival.is_none());
            let through = copies.iter().any(|q| q.rec.arrival.is_some());
            if lost && through {
                assert!(f.dropped.is_none(), "{f:?}");
                assert!(f.arrived.is_some(), "{f:?}");
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "no duplicated segment with a lost copy in this run"
    );
}

/// The topology labels a link with what each direction does when the two
/// differ (loss as a rounded mean, jitter, duplication, corruption), and a
/// router with every address.
#[test]
fn the_topology_labels_both_directions_and_every_address() {
    let path = root().join("scenarios/impairments.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario =
        tcplab_sim::load_checked("impairments", &text, &|c: &str| Tools.check(c)).unwrap();
    let svg = tcplab_report::graphs::topology(&scenario, &[]);
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
        .map(|(t, _)| t)
        .collect();
    assert!(
        texts.contains(&"r1-server \u{2192} 20 ms \u{b1}5 ms 2Mbit/s loss 9.09% dup 5% corrupt 2%"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"\u{2190} 20 ms \u{b1}5 ms 2Mbit/s loss 5% dup 5% corrupt 2%"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"192.168.1.1/24") && texts.contains(&"203.0.113.1/24"),
        "{texts:?}"
    );
}
