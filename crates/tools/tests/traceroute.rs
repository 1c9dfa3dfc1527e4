//! traceroute's output, line for line, in the reference network
//! (`../shared/reference/tool-formats.md` §1.2).

mod common;

use common::{one, run};

#[test]
fn udp_default_names_every_hop() {
    let r = one(&[], "client", "traceroute server");
    assert_eq!(r.exit, Some(0));
    assert_eq!(
        r.out(),
        "\
traceroute to server (10.99.3.2), 30 hops max, 60 byte packets
 1  r1 (10.99.1.1)  0.200 ms  0.200 ms  0.200 ms
 2  r2 (10.99.2.2)  0.600 ms  0.600 ms  0.600 ms
 3  server (10.99.3.2)  0.800 ms  0.800 ms  0.800 ms
"
    );
}

#[test]
fn numeric_icmp_and_tcp_methods_reach_the_destination() {
    // Ten seconds apart: each router answers a destination at most six
    // times at once and then once a second (Linux's icmp_ratelimit), and
    // a trace asks each for three (and the server for more).
    let runs = run(&[
        ("0s", "server", "serve echo"),
        ("100ms", "client", "traceroute -n -I 10.99.3.2"),
        ("10s", "client", "traceroute -n -T -p 7 10.99.3.2"),
        ("20s", "client", "traceroute -n -T 10.99.3.2"),
        ("30s", "client", "traceroute -n -U 10.99.3.2"),
    ]);
    let path = concat!(
        " 1  10.99.1.1  0.200 ms  0.200 ms  0.200 ms\n",
        " 2  10.99.2.2  0.600 ms  0.600 ms  0.600 ms\n",
        " 3  10.99.3.2  0.800 ms  0.800 ms  0.800 ms\n",
    );
    for r in &runs[1..] {
        assert_eq!(r.exit, Some(0), "{}", r.cmdline);
        assert_eq!(
            r.out(),
            format!("traceroute to 10.99.3.2 (10.99.3.2), 30 hops max, 60 byte packets\n{path}"),
            "{}",
            r.cmdline
        );
    }
}

#[test]
fn unreachables_are_annotated_and_end_the_trace() {
    let runs = run(&[
        ("0s", "client", "traceroute -n -q 1 -m 5 10.98.0.1"),
        ("10s", "client", "traceroute -n -m 4 10.99.3.77"),
    ]);
    assert_eq!(
        runs[0].out(),
        "\
traceroute to 10.98.0.1 (10.98.0.1), 5 hops max, 60 byte packets
 1  10.99.1.1  0.200 ms !N
"
    );
    // r2 cannot reach a host that is not there: after the neighbour
    // timeout it reports host unreachable.
    let lines = &runs[1].stdout;
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[1], " 1  10.99.1.1  0.200 ms  0.200 ms  0.200 ms");
    assert!(
        lines[3].starts_with(" 3  10.99.2.2  30") && lines[3].matches("ms !H").count() == 3,
        "{}",
        lines[3]
    );
}

#[test]
fn first_ttl_queries_and_packet_length() {
    let r = one(&[], "client", "traceroute -n -f 2 -m 3 -q 2 10.99.3.2 1200");
    assert_eq!(
        r.out(),
        "\
traceroute to 10.99.3.2 (10.99.3.2), 3 hops max, 1200 byte packets
 2  10.99.2.2  0.600 ms  0.600 ms
 3  10.99.3.2  0.800 ms  0.800 ms
"
    );
}

#[test]
fn silent_hops_print_stars() {
    // A UDP server on the first probe port swallows the probe that reaches
    // it: that probe has no answer and times out after -w.
    let runs = run(&[
        ("0s", "server", "nc -u -l -k 33436"),
        ("100ms", "client", "traceroute -n -q 1 -w 1 10.99.3.2"),
    ]);
    assert_eq!(
        runs[1].out(),
        "\
traceroute to 10.99.3.2 (10.99.3.2), 30 hops max, 60 byte packets
 1  10.99.1.1  0.200 ms
 2  10.99.2.2  0.600 ms
 3  *
 4  10.99.3.2  0.800 ms
"
    );
}

#[test]
fn bad_arguments_and_unknown_hosts_exit_2() {
    let r = one(&[], "client", "traceroute nosuchhost");
    assert_eq!(r.exit, Some(2));
    assert_eq!(
        r.stderr,
        [
            "nosuchhost: Name or service not known",
            "Cannot handle \"host\" cmdline arg `nosuchhost' on position 1 (argc 1)"
        ]
    );
    assert!(tcplab_tools::check("traceroute -q 0 server").is_err());
    let u = tcplab_tools::Command::parse("traceroute -m 999 server").unwrap_err();
    assert_eq!(u.status, 2);
    assert_eq!(
        u.to_string(),
        "traceroute: max hops cannot be more than 255"
    );
}

/// A UDP probe to a port where a service answers (-U to a DNS or echo
/// server) is answered with data, not port unreachable: the destination is
/// reached all the same, as traceroute's udp module takes a reply on the
/// probe's socket.
#[test]
fn a_udp_service_that_answers_ends_the_trace() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("1s", "client", "traceroute -n -U -p 7 -q 1 -m 6 10.99.3.2"),
    ]);
    let t = &r[1];
    assert_eq!(t.exit, Some(0));
    assert_eq!(t.stdout.len(), 4, "{:?}", t.stdout);
    assert!(t.stdout[3].starts_with(" 3  10.99.3.2  "), "{:?}", t.stdout);
}

/// -F asks for DF the way traceroute 2.1.2 does (`IP_PMTUDISC_PROBE`): a
/// path MTU the host already learnt (from a ping's "Frag needed") does not
/// stop a probe — the router before the narrow link answers the next
/// hop's probe with `!F-576` —
/// while a probe larger than the interface's MTU is refused by the host
/// itself: traceroute reads that local error from each probe's socket, so
/// every probe of the hop shows `!F-<mtu>` without an address and the trace
/// ends there (as traceroute 2.1.2 does over a veth of MTU 1500).
#[test]
fn dont_fragment_probes_past_a_learnt_path_mtu() {
    let net = common::NET.replace(
        "ends = [\"r2\", \"server\"]\ndelay = \"100us\"",
        "ends = [\"r2\", \"server\"]\ndelay = \"100us\"\nmtu = 576",
    );
    let r = common::run_in(
        &net,
        &[
            ("1s", "client", "ping -c 1 -M do -s 1000 10.99.3.2"),
            ("2s", "client", "ping -c 1 -M do -s 1000 10.99.3.2"),
            ("3s", "client", "traceroute -n -F -q 1 10.99.3.2 1400"),
            ("13s", "client", "traceroute -n -F 10.99.3.2 1600"),
        ],
    );
    // The first ping taught the host the path MTU; the second is refused
    // at home.
    assert!(
        r[1].stderr.join("\n").contains("message too long, mtu=576"),
        "{:?}",
        r[1].stderr
    );
    assert_eq!(
        r[2].out(),
        "\
traceroute to 10.99.3.2 (10.99.3.2), 30 hops max, 1400 byte packets
 1  10.99.1.1  0.200 ms
 2  10.99.2.2  0.600 ms
 3  10.99.2.2  0.600 ms !F-576
"
    );
    assert_eq!(
        r[3].out(),
        "\
traceroute to 10.99.3.2 (10.99.3.2), 30 hops max, 1600 byte packets
 1  *  0.000 ms !F-1500 *  0.000 ms !F-1500 *  0.000 ms !F-1500
"
    );
}

/// Linux's ICMP rate limit, seen as a person sees it: traces run back to
/// back exhaust each router's burst of six errors for the client, and the
/// third trace's hops time out ("* * *") until the buckets refill.
#[test]
fn back_to_back_traces_meet_the_icmp_rate_limit() {
    let runs = run(&[
        ("0s", "client", "traceroute -n -q 3 -m 2 10.99.3.2"),
        ("100ms", "client", "traceroute -n -q 3 -m 2 10.99.3.2"),
        ("200ms", "client", "traceroute -n -q 3 -m 2 10.99.3.2"),
        ("20s", "client", "traceroute -n -q 3 -m 2 10.99.3.2"),
    ]);
    assert_eq!(
        runs[0].stdout[1],
        " 1  10.99.1.1  0.200 ms  0.200 ms  0.200 ms"
    );
    assert_eq!(
        runs[1].stdout[1],
        " 1  10.99.1.1  0.200 ms  0.200 ms  0.200 ms"
    );
    assert_eq!(runs[2].stdout[1], " 1  * * *");
    assert_eq!(
        runs[3].stdout[1],
        " 1  10.99.1.1  0.200 ms  0.200 ms  0.200 ms"
    );
}

/// With no route to the destination each tool fails at once, in its own
/// words (checked against traceroute 2.1.2, curl 7.88.1 and BIND 9.18's
/// nslookup in a network namespace with no routes).
#[test]
fn no_route_fails_in_each_tools_words() {
    let net = r#"
[[host]]
name = "a"
addr = "10.0.0.1/24"
[[host]]
name = "b"
addr = "10.0.0.2/24"
[[link]]
ends = ["a", "b"]
"#;
    let r = common::run_in(
        net,
        &[
            ("1s", "a", "traceroute -n 10.0.2.2"),
            ("2s", "a", "traceroute -n -I 10.0.2.2"),
            ("3s", "a", "traceroute -n -T 10.0.2.2"),
            ("4s", "a", "curl -sSv http://10.0.2.2/"),
            ("5s", "a", "nslookup www 10.0.2.2"),
        ],
    );
    for (i, call) in ["connect", "send", "connect"].iter().enumerate() {
        assert_eq!(r[i].exit, Some(1), "{:?}", r[i]);
        assert_eq!(
            r[i].stderr,
            [format!("{call}: Network is unreachable")],
            "{:?}",
            r[i]
        );
    }
    let curl = &r[3];
    assert_eq!(curl.exit, Some(7));
    assert!(
        curl.stderr
            .contains(&"* Immediate connect fail for 10.0.2.2: Network is unreachable".to_string()),
        "{curl:?}"
    );
    assert_eq!(
        curl.stderr.last().map(String::as_str),
        Some("curl: (7) Failed to connect to 10.0.2.2 port 80 after 0 ms: Couldn't connect to server")
    );
    let ns = &r[4];
    assert_eq!(ns.exit, Some(1));
    assert_eq!(
        ns.stdout[..2],
        [
            ";; UDP setup with 10.0.2.2#53(10.0.2.2) for www failed: network unreachable.",
            ";; no servers could be reached"
        ]
    );
}

/// A broadcast destination is refused at connect(2) (EACCES without
/// SO_BROADCAST), after the header; 0.0.0.0 is this host itself, reached
/// over the loopback (traceroute 2.1.2 on Linux, checked).
#[test]
fn broadcast_and_unspecified_destinations() {
    let r = common::run(&[
        ("1s", "client", "traceroute -n 255.255.255.255"),
        ("2s", "client", "traceroute -I -n 10.99.1.255"),
        ("3s", "client", "traceroute -n -q 1 0.0.0.0"),
    ]);
    for t in &r[..2] {
        assert_eq!(t.stderr, ["connect: Permission denied"], "{t:?}");
        assert_eq!(t.exit, Some(1));
        assert_eq!(t.stdout.len(), 1, "{t:?}");
    }
    assert_eq!(r[2].exit, Some(0));
    assert_eq!(
        r[2].stdout[0],
        "traceroute to 0.0.0.0 (0.0.0.0), 30 hops max, 60 byte packets"
    );
    assert!(r[2].stdout[1].starts_with(" 1  127.0.0.1  "), "{:?}", r[2]);
    assert_eq!(r[2].stdout.len(), 2);
}
