//! The small servers and the transfer tool: how long they wait, what they
//! count.

mod common;

use common::{run, run_in, www_net};

#[test]
fn transfer_receives_exactly_the_size_asked_for() {
    // chargen never stops sending; the count is what was asked, not what
    // the last read happened to bring.
    let r = run(&[
        ("0s", "server", "serve chargen"),
        ("1s", "client", "transfer -r -s 200K server"),
        ("0s", "server", r"printf 'ten bytes!\n' | nc -l 1919"),
        ("1s", "client", "transfer -r -p 1919 -s 1M server"),
    ]);
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert!(
        r[1].stdout[0].starts_with("transfer: received 200000 bytes from server:19 in "),
        "{:?}",
        r[1].stdout
    );
    // A server that closes early: what came is reported, and it failed.
    assert_eq!(r[3].exit, Some(1), "{:?}", r[3]);
    assert!(
        r[3].stdout[0].starts_with("transfer: received 11 bytes from server:1919 in "),
        "{:?}",
        r[3]
    );
    assert_eq!(
        r[3].stderr,
        ["transfer: the connection closed after 11 of 1000000 bytes"]
    );
}

/// On a path with neither rate nor delay a transfer takes no virtual
/// time: no rate is made up by dividing by (nearly) zero.
#[test]
fn a_transfer_that_took_no_time_reports_no_rate() {
    let net = "[[host]]\nname = \"a\"\naddr = \"10.0.1.2/24\"\n\
               [[host]]\nname = \"b\"\naddr = \"10.0.1.3/24\"\n\
               [[link]]\nends = [\"a\", \"b\"]\n";
    let r = run_in(
        net,
        &[
            ("0s", "b", "serve discard"),
            ("0s", "a", "transfer -s 100k b"),
        ],
    );
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert_eq!(
        r[1].stdout[0],
        "transfer: sent 100000 bytes to b:9 in 0.000 ms: no time passed, so no rate"
    );
}

#[test]
fn http_server_waits_for_a_first_request_longer_than_between_requests() {
    // nc connects and sends nothing (its input is a terminal nobody types
    // into): the server keeps the new connection 60 s, as Apache's
    // Timeout, not the 5 s of the keep-alive timer.
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "nc server 80"),
            ("10s", "server", "ss -tn state established"),
            ("65s", "server", "ss -tn state established"),
        ],
    );
    assert_eq!(
        r[2].stdout.len(),
        2,
        "still open at 10 s: {:?}",
        r[2].stdout
    );
    assert!(r[2].stdout[1].contains("10.99.3.2:80"), "{:?}", r[2].stdout);
    assert_eq!(r[3].stdout.len(), 1, "closed by 65 s: {:?}", r[3].stdout);
    assert_eq!(r[1].exit, Some(0));
}

#[test]
fn every_tool_answers_help_as_the_real_one_does() {
    // (command, stdout?, status, first line)
    for (cmd, to_stdout, status, first) in [
        ("ping -h", false, 2, ""),
        ("traceroute --help", false, 0, "Usage:"),
        ("ss -h", true, 0, "Usage: ss [ OPTIONS ]"),
        (
            "netstat -h",
            true,
            0,
            "usage: netstat [-eenN] [<Af>] -r         netstat {-h|--help}",
        ),
        ("curl -h", true, 0, "Usage: curl [options...] <url>"),
        ("tcpdump -h", true, 0, "tcpdump version 4.99.3 (tcplab)"),
        (
            "nc -h",
            false,
            0,
            "OpenBSD netcat (Debian patchlevel 1.219-1; tcplab)",
        ),
        (
            "sha256sum --help",
            true,
            0,
            "Usage: sha256sum [OPTION]... [FILE]...",
        ),
        (
            "cmp --help",
            true,
            0,
            "Usage: cmp [OPTION]... FILE1 [FILE2]",
        ),
        (
            "serve --help",
            true,
            0,
            "usage: serve echo|discard|chargen|daytime [--port N | --unix PATH]",
        ),
        (
            "transfer -h",
            true,
            0,
            "usage: transfer [-r] [-N] [-p port] [-s size] host | -U path",
        ),
        ("fw -h", true, 0, "usage: fw -L"),
        (
            "conntrack --help",
            true,
            0,
            "Command line interface for the connection tracking system. Version 1.4.7",
        ),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        let (text, stdout) = u.printed();
        assert!(u.help.is_some(), "{cmd}");
        assert_eq!(
            (stdout, u.status, text.lines().next().unwrap()),
            (to_stdout, status, first),
            "{cmd}"
        );
        assert!(
            tcplab_tools::check(cmd).is_ok(),
            "{cmd}: help is not a mistake"
        );
    }
    // Debian's traceroute takes -h as a bad option.
    assert!(tcplab_tools::Command::parse("traceroute -h")
        .unwrap_err()
        .help
        .is_none());
}

/// A scenario's check of a command line gives one line even for a tool
/// that answers a mistake with its usage alone (`ip` with nothing after
/// it): the usage's first line.
#[test]
fn a_usage_only_mistake_still_reads_as_one_line() {
    let u = tcplab_tools::check("ip").unwrap_err();
    assert_eq!(
        u.to_string(),
        "ip: Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }"
    );
    assert_eq!(u.status, 255);
    // Run, it prints the whole usage, as ip does.
    let (printed, stdout) = u.printed();
    assert!(!stdout && printed.starts_with("Usage: ip") && printed.lines().count() == 3);
    // A usage whose first line is only its title: the line after it too.
    let u = tcplab_tools::check("nslookup a b c").unwrap_err();
    assert_eq!(
        u.to_string(),
        "nslookup: Usage: nslookup [-opt ...] # interactive mode using default server"
    );
    assert!(u.printed().0.starts_with("Usage:\n   nslookup [-opt ...]"));
}

/// A chargen stream over a link with neither rate nor delay carries data
/// without time passing: the run does not spin for ever but stops, saying
/// so (`Outcome::NoProgress`), and the transcript it keeps stays bounded
/// however much was printed.
#[test]
fn traffic_that_takes_no_time_stops_the_run_instead_of_spinning() {
    use tcplab_sim::{load_checked, Commands, Outcome, Sim, SimOptions};
    let text = r#"
end = "1s"
[[host]]
name = "a"
addr = "10.0.0.1/24"
[[host]]
name = "b"
addr = "10.0.0.2/24"
[[link]]
ends = ["a", "b"]
[[run]]
at = "0s"
on = "b"
cmd = "serve chargen"
[[run]]
at = "0s"
on = "a"
cmd = "nc b 19"
"#;
    let scenario = load_checked("t.toml", text, &|c| tcplab_tools::Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    sim.set_no_progress_limit(200_000);
    let outcome = sim.run(&tcplab_tools::Tools);
    assert_eq!(outcome, Outcome::NoProgress);
    assert_eq!(sim.now(), tcplab_stack::Instant::ZERO);
    assert!(sim.no_progress());
    let kept: usize = sim
        .transcript()
        .iter()
        .map(|e| match e {
            tcplab_sim::TranscriptEvent::Output(l) => l.text.len(),
            _ => 0,
        })
        .sum();
    assert!(
        kept > 0 && kept <= tcplab_sim::TRANSCRIPT_KEEP_BYTES,
        "{kept}"
    );
}

/// The small services serve at most `SMALL_MAX` connections at once; with
/// that many clients connected and silent, a newcomer takes the place of
/// the one silent longest (which the server closes) and is served.
#[test]
fn small_services_serve_a_bounded_number_of_connections() {
    use tcplab_tools::serve::SMALL_MAX;
    let mut runs: Vec<(String, String, String)> =
        vec![("0s".into(), "server".into(), "serve echo".into())];
    for _ in 0..SMALL_MAX {
        runs.push(("1s".into(), "client".into(), "nc -d server 7".into()));
    }
    runs.push((
        "3s".into(),
        "client".into(),
        "echo served | nc server 7".into(),
    ));
    let refs: Vec<(&str, &str, &str)> = runs
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let r = run(&refs);
    let served = r
        .iter()
        .find(|x| x.cmdline == "echo served | nc server 7")
        .unwrap();
    assert_eq!(served.stdout, ["served"]);
    // The silent client that gave its place ended when the server closed
    // it; the others were still connected when the run ended.
    let silent: Vec<_> = r.iter().filter(|x| x.cmdline == "nc -d server 7").collect();
    assert_eq!(silent.len(), SMALL_MAX);
    let closed = silent.iter().filter(|x| x.exit == Some(0)).count();
    assert_eq!(
        closed,
        1,
        "{:?}",
        silent.iter().map(|x| x.exit).collect::<Vec<_>>()[..4].to_vec()
    );
}

/// A server stopped on Ctrl-C ends whole, as an exiting process's
/// descriptors close: its UDP side and the connections it serves go with
/// its TCP listener, so the port is free for the next one.
#[test]
fn a_stopped_server_takes_its_udp_side_and_connections_with_it() {
    use tcplab_host::Signal;
    use tcplab_sim::{load_checked, Commands, Sim, SimOptions};
    use tcplab_stack::Instant;
    use tcplab_tools::Tools;
    let mut text = common::NET.to_string();
    for (at, on, cmd) in [
        ("0s", "server", "serve echo"),
        ("500ms", "client", "nc -w 5 server 7"),
        ("2s", "server", "ss -tuan"),
    ] {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = \"{cmd}\"\n"
        ));
    }
    let scenario = load_checked("t.toml", &text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    sim.run_until(Instant::from_secs(1), &Tools);
    let serve = sim
        .host("server")
        .unwrap()
        .processes()
        .into_iter()
        .find(|p| p.name == "serve")
        .unwrap()
        .pid;
    assert!(sim.signal("server", serve, Signal::Interrupt));
    sim.run(&Tools);
    let server = sim.host("server").unwrap();
    assert_eq!(server.process(serve).unwrap().exit, Some(0));
    let ss: Vec<String> = sim
        .transcript()
        .into_iter()
        .filter_map(|e| match e {
            tcplab_sim::TranscriptEvent::Output(l) if l.host.as_ref() == "server" => Some(l.text),
            _ => None,
        })
        .collect();
    assert!(
        !ss.iter()
            .any(|l| l.contains(":7 ") && !l.contains("TIME-WAIT")),
        "{ss:#?}"
    );
}
