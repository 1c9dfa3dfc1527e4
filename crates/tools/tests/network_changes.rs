//! The network changing while a scenario runs — a link down and up again
//! (the partition and repair), new impairments, a route added and removed —
//! and the direction `[link.forward]`/`[link.reverse]` apply to.

use std::cell::RefCell;
use std::rc::Rc;

use tcplab_host::Stream;
use tcplab_sim::{load_checked, Commands, Sim, SimOptions, TranscriptEvent};
use tcplab_tools::Tools;

const NET: &str = r#"
seed = 3
[[host]]
name = "client"
addr = "10.1.1.2/24"
gateway = "10.1.1.1"
[[host]]
name = "server"
addr = "10.1.2.2/24"
gateway = "10.1.2.1"
[[router]]
name = "r1"
addrs = ["10.1.1.1/24", "10.1.2.1/24"]
[[link]]
ends = ["client", "r1"]
delay = "1ms"
[[link]]
ends = ["r1", "server"]
delay = "1ms"
"#;

/// Run; returns the transcript as printed lines (stdout only, and the
/// changes) and the simulator for its link reports.
fn run(extra: &str) -> (Vec<String>, Sim) {
    let text = format!("{NET}\n{extra}");
    let scenario = load_checked("t.toml", &text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = lines.clone();
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| match ev {
        TranscriptEvent::Output(l) if l.stream == Stream::Stdout => {
            sink.borrow_mut().push(l.text.clone())
        }
        TranscriptEvent::Change { text, .. } => sink.borrow_mut().push(format!("~ {text}")),
        TranscriptEvent::Error { text, .. } => sink.borrow_mut().push(format!("! {text}")),
        _ => {}
    }));
    sim.run(&Tools);
    let out = lines.borrow().clone();
    (out, sim)
}

/// Run `text`; every line the commands printed (both streams), in order.
fn all_output(text: &str) -> Vec<String> {
    let scenario = load_checked("t.toml", text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = lines.clone();
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| {
        if let TranscriptEvent::Output(l) = ev {
            sink.borrow_mut().push(l.text.clone());
        }
    }));
    sim.run(&Tools);
    let out = lines.borrow().clone();
    out
}

#[test]
fn a_link_goes_down_and_comes_back() {
    let (lines, sim) = run(r#"
[[run]]
at = "0s"
on = "client"
cmd = "ping -c 10 -i 1 server"
[[run]]
at = "2.5s"
link = "r1-server"
down = true
[[run]]
at = "5.5s"
link = "r1-server"
up = true
"#);
    assert!(
        lines.contains(&"~ link r1-server goes down".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"~ link r1-server comes back up".to_string()));
    // Pings 4, 5 and 6 (at 3, 4 and 5 s) cross nothing.
    let replies: Vec<&String> = lines.iter().filter(|l| l.contains("bytes from")).collect();
    assert_eq!(replies.len(), 7, "{lines:?}");
    assert!(!replies.iter().any(|l| l.contains("icmp_seq=4 ")));
    assert!(lines
        .iter()
        .any(|l| l.contains("10 packets transmitted, 7 received")));
    let refused: u64 = sim
        .link_reports()
        .iter()
        .filter(|r| r.segment == "r1-server")
        .map(|r| r.stats.down)
        .sum();
    assert_eq!(refused, 3, "the echo requests offered while down");
}

#[test]
fn one_direction_down_and_new_impairments() {
    let (lines, sim) = run(r#"
[[run]]
at = "0s"
on = "client"
cmd = "ping -c 6 -i 1 server"
[[run]]
at = "0.5s"
link = "r1-server"
direction = "reverse"
down = true
[[run]]
at = "2.5s"
link = "r1-server"
direction = "reverse"
up = true
[[run]]
at = "3.5s"
link = "client-r1"
set = { delay = "100ms" }
"#);
    assert!(lines.contains(&"~ link r1-server (reverse) goes down".to_string()));
    assert!(lines.contains(&"~ link client-r1: delay 100ms".to_string()));
    let reports = sim.link_reports();
    let from = |node: &str| {
        reports
            .iter()
            .find(|r| r.segment == "r1-server" && r.from == node)
            .unwrap()
            .stats
    };
    // Requests reach the server; only its replies were refused.
    assert_eq!(from("r1").down, 0);
    assert_eq!(from("server").down, 2);
    // After 3.5 s every round trip crosses the slower link twice.
    let late: Vec<f64> = lines
        .iter()
        .filter(|l| l.contains("icmp_seq=5 ") || l.contains("icmp_seq=6 "))
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
        .collect();
    assert_eq!(late.len(), 2, "{lines:?}");
    assert!(late.iter().all(|t| *t > 200.0), "{late:?}");
}

#[test]
fn routes_added_and_removed() {
    let (lines, _) = run(r#"
[[run]]
at = "0s"
on = "client"
route = "del default"
[[run]]
at = "0.1s"
on = "client"
cmd = "ping -c 1 -W 1 server"
[[run]]
at = "2s"
on = "client"
route = "add 10.1.2.0/24 via 10.1.1.1"
[[run]]
at = "2.1s"
on = "client"
cmd = "ping -c 1 -W 1 server"
[[run]]
at = "3s"
on = "client"
route = "del 10.9.0.0/16"
[[run]]
at = "4s"
on = "client"
route = "add 10.1.2.0/24 via 10.1.1.1"
[[run]]
at = "5s"
on = "client"
route = "add 10.1.3.0/24 via 10.1.1.2"
"#);
    // A second route to one destination is refused (ip route add: File
    // exists); a gateway that is the host's own address too.
    assert!(
        lines.contains(&"! client: route add 10.1.2.0/24 via 10.1.1.1: File exists".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("! client: route add 10.1.3.0/24 via 10.1.1.2: gateway 10.1.1.2 is not a neighbour's address")),
        "{lines:?}"
    );
    assert!(lines.contains(&"~ client: route del default".to_string()));
    assert!(lines.contains(&"~ client: route add 10.1.2.0/24 via 10.1.1.1".to_string()));
    let replies = lines.iter().filter(|l| l.contains("bytes from")).count();
    assert_eq!(replies, 1, "only after the route is back: {lines:?}");
    assert!(
        lines.contains(
            &"! client: route del 10.9.0.0/16: no static route to 10.9.0.0/16".to_string()
        ),
        "{lines:?}"
    );
}

#[test]
fn reverse_is_what_the_second_end_sends() {
    // The same network, the r1–server link with [link.reverse] (what
    // server, its second end, sends) losing everything.
    let text = NET.replace(
        "ends = [\"r1\", \"server\"]\ndelay = \"1ms\"",
        "ends = [\"r1\", \"server\"]\ndelay = \"1ms\"\n[link.reverse]\nloss = \"100%\"",
    );
    assert_ne!(text, NET);
    let text = format!(
        "{text}\n[[run]]\nat = \"0s\"\non = \"client\"\ncmd = \"ping -c 3 -i 0.2 -W 1 server\"\n"
    );
    let scenario = load_checked("t.toml", &text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    sim.run(&Tools);
    let reports = sim.link_reports();
    let from = |node: &str| {
        reports
            .iter()
            .find(|r| r.segment == "r1-server" && r.from == node)
            .unwrap()
            .stats
    };
    assert_eq!((from("r1").packets, from("r1").lost), (3, 0));
    assert_eq!((from("server").packets, from("server").lost), (3, 3));
}

#[test]
fn bad_changes_are_reported_with_their_place() {
    for (entry, message) in [
        (
            "[[run]]\nat = \"1s\"\nlink = \"nowhere\"\ndown = true\n",
            "no link named `nowhere`",
        ),
        (
            "[[run]]\nat = \"1s\"\nlink = \"r1-server\"\n",
            "exactly one of `down = true`, `up = true` or `set",
        ),
        (
            "[[run]]\nat = \"1s\"\nlink = \"r1-server\"\ndirection = \"sideways\"\ndown = true\n",
            "direction is `forward`",
        ),
        (
            "[[run]]\nat = \"1s\"\non = \"client\"\nroute = \"add 10.0.0.0/8\"\n",
            "`add DEST via GATEWAY`",
        ),
        (
            "[[run]]\nat = \"1s\"\nlink = \"r1-server\"\nset = { loss = \"lots\" }\n",
            "lots",
        ),
    ] {
        let text = format!("{NET}\n{entry}");
        let err = load_checked("t.toml", &text, &|c| Tools.check(c))
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{entry}: {err}");
        assert!(err.starts_with("t.toml:"), "the place is named: {err}");
    }
}

/// `drop = [N, ...]` loses exactly those packets of a link direction (the
/// first it carries is 1): here the third echo request, and on the way
/// back the fourth packet r1 sends the client — the fifth reply, as the
/// third never came; the rest of the run is as without the list. A
/// `set` cannot change it, and packets are numbered from 1.
#[test]
fn drop_loses_exactly_the_packets_named() {
    let text = NET.replacen(
        "ends = [\"client\", \"r1\"]\ndelay = \"1ms\"",
        "ends = [\"client\", \"r1\"]\ndelay = \"1ms\"\n[link.forward]\ndrop = [3]\n[link.reverse]\ndrop = [4]",
        1,
    ) + "\n[[run]]\nat = \"0s\"\non = \"client\"\ncmd = \"ping -c 6 -i 1 10.1.2.2\"\n";
    let out = all_output(&text).join("\n");
    for seq in [1, 2, 4, 6] {
        assert!(out.contains(&format!("icmp_seq={seq} ")), "{out}");
    }
    for seq in [3, 5] {
        assert!(!out.contains(&format!("icmp_seq={seq} ")), "{out}");
    }
    assert!(out.contains("6 packets transmitted, 4 received"), "{out}");
    let bad = |entry: &str| {
        let t = NET.replacen(
            "ends = [\"client\", \"r1\"]\ndelay = \"1ms\"",
            &format!("ends = [\"client\", \"r1\"]\ndelay = \"1ms\"\n{entry}"),
            1,
        );
        load_checked("t.toml", &t, &|c| Tools.check(c))
            .unwrap_err()
            .to_string()
    };
    assert!(bad("drop = [0]").contains("drop numbers packets from 1, not 0"));
    let set = load_checked(
        "t.toml",
        &format!("{NET}\n[[run]]\nat = \"1s\"\nlink = \"client-r1\"\nset = {{ drop = [2] }}\n"),
        &|c| Tools.check(c),
    )
    .unwrap_err()
    .to_string();
    assert!(set.contains("`drop` is a link's own key"), "{set}");
}

/// curl's progress meter keeps its one row a second while a download
/// stalls (the link down), the received count standing still and the
/// current speed falling to 0, as curl's clock-driven progress callback
/// prints it.
#[test]
fn the_progress_meter_runs_through_a_stall() {
    let text = NET.replace(
        "ends = [\"r1\", \"server\"]\ndelay = \"1ms\"",
        "ends = [\"r1\", \"server\"]\ndelay = \"1ms\"\nrate = \"10Mbit\"",
    ) + r#"
[[file]]
on = "server"
path = "/srv/www/big.bin"
size = "2MB"
[[run]]
at = "0s"
on = "server"
cmd = "serve http"
[[run]]
at = "1s"
on = "client"
cmd = "curl -o /tmp/big.bin http://10.1.2.2/big.bin"
[[run]]
at = "1.5s"
link = "r1-server"
down = true
[[run]]
at = "6s"
link = "r1-server"
up = true
"#;
    assert!(text.contains("rate = \"10Mbit\""));
    let scenario = load_checked("t.toml", &text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let rows: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = rows.clone();
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| {
        if let TranscriptEvent::Output(l) = ev {
            if l.stream == Stream::Stderr {
                sink.borrow_mut().push(l.text.clone())
            }
        }
    }));
    sim.run(&Tools);
    let rows = rows.borrow().clone();
    let rows: Vec<&String> = rows
        .iter()
        .filter(|r| r.len() >= 70 && !r.contains('%'))
        .collect();
    // Received (the fourth column) and Current (the last) of each row.
    let fields: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let w: Vec<&str> = r.split_whitespace().collect();
            (w[3].to_string(), w[w.len() - 1].to_string())
        })
        .collect();
    assert_eq!(
        fields.last().map(|f| f.0.as_str()),
        Some("1953k"),
        "{rows:#?}"
    );
    // The longest run of rows with the same partial count: the stall,
    // shown a row a second (the link is down 4.5 s, and the RTO's
    // backoff waits past its repair).
    let mut longest = 0;
    let mut run = 0;
    for w in fields.windows(2) {
        run = if w[0].0 == w[1].0 && w[1].0 != "0" && w[1].0 != "1953k" {
            run + 1
        } else {
            0
        };
        longest = longest.max(run);
    }
    assert!(longest >= 4, "{rows:#?}");
    assert!(
        fields
            .iter()
            .any(|(got, cur)| got != "1953k" && got != "0" && cur == "0"),
        "Current falls to 0 in the stall: {rows:#?}"
    );
}

/// A change to the state a link is already in says so, rather than
/// narrating a change that did not happen.
#[test]
fn a_link_already_up_is_said_to_be() {
    let (lines, _) = run(r#"
[[run]]
at = "1s"
link = "r1-server"
up = true
[[run]]
at = "2s"
link = "r1-server"
down = true
[[run]]
at = "3s"
link = "r1-server"
direction = "forward"
down = true
"#);
    assert_eq!(
        lines,
        [
            "~ link r1-server is already up",
            "~ link r1-server goes down",
            "~ link r1-server (forward) is already down",
        ]
    );
}

/// A probe ping cannot send for want of a route is sent and lost as far as
/// iputils 20221126 counts (pinger: sendmsg's ENETUNREACH, nothing in the
/// error queue): no "sendmsg" line and no "+N errors".
#[test]
fn a_probe_with_no_route_is_lost_without_a_word() {
    let text = format!(
        "{NET}\n{}",
        r#"
[[run]]
at = "0s"
on = "client"
cmd = "ping -n -i 0.5 -c 6 10.1.2.2"
[[run]]
at = "1.2s"
on = "client"
route = "del default"
[[run]]
at = "2.3s"
on = "client"
route = "add default via 10.1.1.1"
"#
    );
    let lines = all_output(&text);
    assert!(!lines.iter().any(|l| l.contains("sendmsg")), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("6 packets transmitted, 4 received, 33.3333% packet loss")),
        "{lines:?}"
    );
}
