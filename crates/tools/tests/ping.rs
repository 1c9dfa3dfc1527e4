//! ping's output in the reference network (tool-formats.md §1.1).

mod common;

use common::{one, run};

#[test]
fn replies_and_statistics() {
    let r = one(&[], "client", "ping -c 3 10.99.3.2");
    assert_eq!(r.exit, Some(0));
    assert_eq!(
        r.out(),
        "\
PING 10.99.3.2 (10.99.3.2) 56(84) bytes of data.
64 bytes from 10.99.3.2: icmp_seq=1 ttl=62 time=0.800 ms
64 bytes from 10.99.3.2: icmp_seq=2 ttl=62 time=0.800 ms
64 bytes from 10.99.3.2: icmp_seq=3 ttl=62 time=0.800 ms

--- 10.99.3.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 2000ms
rtt min/avg/max/mdev = 0.800/0.800/0.800/0.000 ms
"
    );
}

#[test]
fn names_sizes_intervals_and_quiet() {
    let r = run(&[
        ("0s", "client", "ping -c 2 server"),
        ("3s", "client", "ping -c 3 -i 0.2 -s 1000 -W 1 10.99.3.2"),
        ("5s", "client", "ping -q -c 5 -i 0.2 10.99.3.2"),
        ("7s", "client", "ping -c 2 localhost"),
        // getaddrinfo takes inet_aton's short forms; iputils prints them
        // as numbers.
        ("10s", "client", "ping -c 1 127.1"),
        ("12s", "client", "traceroute -n -q 1 0x0a630302"),
    ]);
    assert_eq!(
        &r[4].stdout[..2],
        [
            "PING 127.1 (127.0.0.1) 56(84) bytes of data.",
            "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.004 ms"
        ]
    );
    assert_eq!(
        r[5].stdout[0],
        "traceroute to 0x0a630302 (10.99.3.2), 30 hops max, 60 byte packets"
    );
    assert_eq!(r[5].exit, Some(0), "{:?}", r[5]);
    assert_eq!(
        r[0].stdout[0],
        "PING server (10.99.3.2) 56(84) bytes of data."
    );
    assert_eq!(
        r[0].stdout[1],
        "64 bytes from server (10.99.3.2): icmp_seq=1 ttl=62 time=0.800 ms"
    );
    assert_eq!(
        r[1].stdout[0],
        "PING 10.99.3.2 (10.99.3.2) 1000(1028) bytes of data."
    );
    assert!(r[1].stdout[1].starts_with("1008 bytes from 10.99.3.2: icmp_seq=1 ttl=62 time="));
    assert_eq!(
        r[1].stdout[6],
        "3 packets transmitted, 3 received, 0% packet loss, time 400ms"
    );
    assert_eq!(
        r[2].stdout,
        [
            "PING 10.99.3.2 (10.99.3.2) 56(84) bytes of data.",
            "",
            "--- 10.99.3.2 ping statistics ---",
            "5 packets transmitted, 5 received, 0% packet loss, time 800ms",
            "rtt min/avg/max/mdev = 0.800/0.800/0.800/0.000 ms",
        ]
    );
    assert_eq!(
        r[3].stdout[1],
        "64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=0.004 ms"
    );
}

#[test]
fn errors_reported_from_icmp() {
    let r = run(&[
        ("0s", "client", "ping -c 2 -t 1 10.99.3.2"),
        ("3s", "client", "ping -c 2 -W 1 10.98.7.9"),
        ("6s", "client", "ping -c 2 -W 1 10.99.3.77"),
        ("9s", "client", "ping -c 5 10.99.3.77"),
        // iputils: with a deadline, the first error ends the run.
        ("20s", "client", "ping -w 5 10.98.7.9"),
    ]);
    assert_eq!(
        r[4].out(),
        "\
PING 10.98.7.9 (10.98.7.9) 56(84) bytes of data.
From 10.99.1.1 icmp_seq=1 Destination Net Unreachable

--- 10.98.7.9 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms

"
    );
    assert_eq!(r[4].exit, Some(1));
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[0].out(),
        "\
PING 10.99.3.2 (10.99.3.2) 56(84) bytes of data.
From 10.99.1.1 icmp_seq=1 Time to live exceeded
From 10.99.1.1 icmp_seq=2 Time to live exceeded

--- 10.99.3.2 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1000ms

"
    );
    assert_eq!(
        r[1].stdout[1],
        "From 10.99.1.1 icmp_seq=1 Destination Net Unreachable"
    );
    assert_eq!(r[1].exit, Some(1));
    // The last router tries to reach 10.99.3.77 on its LAN and gives up
    // after the neighbour timeout (3 s): host unreachable, from r2. With
    // -W 1 ping has stopped waiting by then, as in the reference capture.
    assert_eq!(
        r[2].stdout[3],
        "2 packets transmitted, 0 received, 100% packet loss, time 1000ms"
    );
    // The probes sent while r2 tries the neighbour fail together when it
    // gives up (1, 2 and 3 at 3 s); the next begins a new try (4, and 5
    // with it, at 6 s): Linux fails a neighbour's whole queue at once
    // (the reference capture in tool-formats.md).
    assert_eq!(
        r[3].out(),
        "\
PING 10.99.3.77 (10.99.3.77) 56(84) bytes of data.
From 10.99.2.2 icmp_seq=1 Destination Host Unreachable
From 10.99.2.2 icmp_seq=2 Destination Host Unreachable
From 10.99.2.2 icmp_seq=3 Destination Host Unreachable
From 10.99.2.2 icmp_seq=4 Destination Host Unreachable
From 10.99.2.2 icmp_seq=5 Destination Host Unreachable

--- 10.99.3.77 ping statistics ---
5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 4000ms
pipe 4
"
    );
}

#[test]
fn frag_needed_and_usage_errors() {
    let net = common::NET.replace(
        "ends = [\"r1\", \"r2\"]\ndelay = \"200us\"",
        "ends = [\"r1\", \"r2\"]\ndelay = \"200us\"\nmtu = 576",
    );
    let r = common::run_in(
        &net,
        &[("0s", "client", "ping -c 2 -s 1000 -M do 10.99.3.2")],
    );
    assert_eq!(
        r[0].stdout[1],
        "From 10.99.1.1 icmp_seq=1 Frag needed and DF set (mtu = 576)"
    );
    let r = one(&[], "client", "ping -c 1 nosuchhost");
    assert_eq!(
        (r.exit, r.stderr.as_slice()),
        (
            Some(2),
            &["ping: nosuchhost: Name or service not known".to_string()][..]
        )
    );
    // iputils 20221126's ping_strtod and bound for -i (checked as root):
    // status 2, the message alone.
    for (cmd, msg) in [
        ("ping -i 1e308 h", "bad timing interval: 1e308"),
        ("ping -i 99999999999 h", "bad timing interval: 99999999999"),
        (
            "ping -i nan h",
            "bad timing interval: nan: Numerical result out of range",
        ),
        (
            "ping -i inf h",
            "bad timing interval: inf: Numerical result out of range",
        ),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!((u.status, u.message.as_str()), (2, msg), "{cmd}");
        assert_eq!(u.printed().0, format!("ping: {msg}\n"), "{cmd}");
    }
    // Garbage after a number: warned of, and the number taken; the bound
    // is INT_MAX/1000 as a double; what strtod cannot give is refused.
    let tcplab_tools::Tool::Ping(p) = tcplab_tools::Command::parse("ping -i 2abc h").unwrap().tool
    else {
        panic!("not ping")
    };
    assert_eq!(p.interval, std::time::Duration::from_secs(2));
    assert_eq!(
        p.warnings,
        [
            "ping: option argument contains garbage: 2abc",
            "ping: this will become fatal error in the future"
        ]
    );
    assert!(tcplab_tools::Command::parse("ping -i 2147483.5 h").is_ok());
    assert_eq!(
        tcplab_tools::Command::parse("ping -i 1e-310 h")
            .unwrap_err()
            .message,
        "bad timing interval: 1e-310: Numerical result out of range"
    );
    // iputils: no destination and bad values exit 1 with the message
    // alone; an unknown option exits 2 with the message, a blank line and
    // the usage; -h prints the usage on stderr and exits 2.
    for (cmd, status, msg) in [
        ("ping", 1, "usage error: Destination address required"),
        ("ping -c x h", 1, "invalid argument: 'x'"),
        (
            "ping -c 0 h",
            1,
            "invalid argument: '0': out of range: 1 <= value <= 9223372036854775807",
        ),
        // iputils 20221126's words, checked: a negative count is out of
        // range, a count past a long long does not fit, -w is whole
        // seconds.
        (
            "ping -c -1 h",
            1,
            "invalid argument: '-1': out of range: 1 <= value <= 9223372036854775807",
        ),
        (
            "ping -c 99999999999999999999 h",
            1,
            "invalid argument: '99999999999999999999': Numerical result out of range",
        ),
        ("ping -w 0.5 h", 1, "invalid argument: '0.5'"),
        (
            "ping -w -1 h",
            1,
            "invalid argument: '-1': out of range: 0 <= value <= 2147483647",
        ),
        (
            "ping -p zz h",
            1,
            "patterns must be specified as hex digits: zz",
        ),
        ("ping -Z h", 2, "invalid option -- 'Z'"),
        ("ping -f h", 2, "option -f is not supported in tcplab"),
        (
            "ping -i 0 h",
            1,
            "-i 0: intervals under 1 ms are not supported in tcplab",
        ),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!((u.status, u.message.as_str()), (status, msg), "{cmd}");
        let (text, to_stdout) = u.printed();
        assert!(!to_stdout);
        assert_eq!(
            text.contains("\n\nUsage\n  ping [options] <destination>\n"),
            status == 2,
            "{cmd}: {text}"
        );
    }
    let r = one(&[], "client", "ping -h");
    assert_eq!((r.exit, r.stdout.len()), (Some(2), 0));
    assert_eq!(
        r.stderr[..3],
        ["", "Usage", "  ping [options] <destination>"]
    );
    assert_eq!(r.stderr.last().unwrap(), "For more details see ping(8).");
    // TTL 0 passes the parser and fails at the socket, after resolution.
    let r = one(&[], "client", "ping -c 1 -t 0 server");
    assert_eq!(
        (r.exit, r.stderr.as_slice()),
        (
            Some(2),
            &["ping: cannot set unicast time-to-live: Invalid argument".to_string()][..]
        )
    );
}

#[test]
fn timestamps_outstanding_source_and_pattern() {
    let r = run(&[
        ("0s", "client", "ping -c 2 -D 10.99.3.2"),
        ("3s", "client", "ping -c 3 -i 0.2 -O -W 1 10.99.3.77"),
        ("6s", "client", "ping -c 1 -I eth0 10.99.3.2"),
        ("7s", "client", "ping -c 1 -I 10.99.1.2 10.99.3.2"),
        ("8s", "client", "ping -c 1 -I eth7 10.99.3.2"),
        ("9s", "client", "ping -c 1 -I 10.1.2.3 10.99.3.2"),
        ("10s", "client", "ping -c 1 -p abcd 10.99.3.2"),
    ]);
    // The simulator's wall clock starts at 2025-01-01 (LAB_EPOCH).
    assert_eq!(
        r[0].stdout[1],
        "[1735689600.000800] 64 bytes from 10.99.3.2: icmp_seq=1 ttl=62 time=0.800 ms"
    );
    assert_eq!(
        r[0].stdout[2],
        "[1735689601.000800] 64 bytes from 10.99.3.2: icmp_seq=2 ttl=62 time=0.800 ms"
    );
    assert_eq!(
        r[1].stdout[1..3],
        [
            "no answer yet for icmp_seq=1",
            "no answer yet for icmp_seq=2"
        ]
    );
    assert_eq!(
        r[2].stdout[0],
        "PING 10.99.3.2 (10.99.3.2) from 10.99.1.2 eth0: 56(84) bytes of data."
    );
    assert_eq!(
        r[3].stdout[0],
        "PING 10.99.3.2 (10.99.3.2) from 10.99.1.2 : 56(84) bytes of data."
    );
    assert_eq!(r[3].exit, Some(0));
    assert_eq!(
        (r[4].exit, r[4].stderr.as_slice()),
        (
            Some(2),
            &["ping: SO_BINDTODEVICE eth7: No such device".to_string()][..]
        )
    );
    assert_eq!(
        (r[5].exit, r[5].stderr.as_slice()),
        (
            Some(2),
            &["ping: bind: Cannot assign requested address".to_string()][..]
        )
    );
    assert_eq!(r[6].stdout[0], "PATTERN: 0xabcd");
    assert_eq!(r[6].exit, Some(0));
}

/// The network of scenarios/redirect.toml: the client's gateway r1 sends
/// the server's traffic on to r2, on the same LAN.
const REDIRECT_NET: &str = r#"
seed = 3

[[host]]
name = "client"
addr = "10.1.0.10/24"
gateway = "10.1.0.1"

[[router]]
name = "r1"
addrs = ["10.1.0.1/24"]
routes = ["10.2.0.0/24 via 10.1.0.2"]

[[router]]
name = "r2"
addrs = ["10.1.0.2/24", "10.2.0.1/24"]

[[host]]
name = "server"
addr = "10.2.0.20/24"
gateway = "10.2.0.1"

[[lan]]
name = "office"
members = ["client", "r1", "r2"]
delay = "1ms"

[[link]]
ends = ["r2", "server"]
delay = "1ms"
"#;

#[test]
fn redirects_are_printed_as_iputils_prints_them() {
    let r = common::run_in(REDIRECT_NET, &[("0s", "client", "ping -c 2 -n 10.2.0.20")]);
    assert_eq!(r[0].exit, Some(0));
    assert_eq!(
        r[0].stdout[1..3],
        [
            "From 10.1.0.1: icmp_seq=1 Redirect Host(New nexthop: 10.1.0.2)",
            "64 bytes from 10.2.0.20: icmp_seq=1 ttl=63 time=5.00 ms"
        ]
    );
    // Only the first request went via r1; a redirect is not an error.
    assert!(r[0].stdout[3].starts_with("64 bytes from 10.2.0.20: icmp_seq=2 ttl=63"));
    assert_eq!(
        r[0].stdout[6],
        "2 packets transmitted, 2 received, 0% packet loss, time 1000ms"
    );
}

/// A route learned from a redirect is, as on Linux, a route-cache entry
/// (`ip route show cache`, counting down from 300 s), not in the table
/// `ip route` and `netstat -rn` list; after 300 s the traffic goes by the
/// gateway again.
#[test]
fn a_redirect_is_in_the_route_cache_for_five_minutes() {
    let r = common::run_in(
        REDIRECT_NET,
        &[
            ("0s", "client", "ping -c 1 -n 10.2.0.20"),
            ("10s", "client", "ip route show cache"),
            ("10s", "client", "ip route"),
            ("10s", "client", "netstat -rn"),
            ("10s", "client", "traceroute -n -q 1 10.2.0.20"),
            ("400s", "client", "ip route show cache"),
            ("400s", "client", "traceroute -n -q 1 10.2.0.20"),
            ("10s", "client", "ip route get 10.2.0.20"),
            ("10s", "client", "ip route get 10.2.0.20 fibmatch"),
            ("10s", "client", "ip route get 10.1.0.255 fibmatch"),
            // Selectors, and words cut short as iproute2 takes them.
            ("10s", "client", "ip ro sh dev eth0"),
            ("10s", "client", "ip r s 10.1.0.0/24"),
            ("10s", "client", "ip r s default table main"),
            ("10s", "client", "ip r s dev nosuch"),
        ],
    );
    assert_eq!(
        r[10].stdout,
        [
            "default via 10.1.0.1 ",
            "10.1.0.0/24 proto kernel scope link src 10.1.0.10 "
        ]
    );
    assert_eq!(
        r[11].stdout,
        ["10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.10 "]
    );
    assert_eq!(r[12].stdout, ["default via 10.1.0.1 dev eth0 "]);
    assert_eq!(
        (r[13].exit, r[13].stderr.as_slice()),
        (Some(1), &["Cannot find device \"nosuch\"".to_string()][..])
    );
    // fibmatch: the table's entry beneath the cache's redirect; a
    // broadcast address's in the local table.
    assert_eq!(r[8].stdout, ["default via 10.1.0.1 dev eth0 "]);
    assert_eq!(
        r[9].stdout,
        ["broadcast 10.1.0.255 dev eth0 proto kernel scope link src 10.1.0.10 "]
    );
    assert_eq!(
        r[7].stdout,
        [
            "10.2.0.20 via 10.1.0.2 dev eth0 src 10.1.0.10 uid 0 ",
            "    cache <redirected> expires 290sec "
        ]
    );
    assert_eq!(
        r[1].stdout,
        [
            "10.2.0.20 via 10.1.0.2 dev eth0 ",
            "    cache <redirected> expires 290sec "
        ]
    );
    assert!(
        r[2].stdout.iter().all(|l| !l.contains("10.2.0.20")),
        "{:?}",
        r[2]
    );
    assert!(
        r[3].stdout.iter().all(|l| !l.starts_with("10.2.0.20")),
        "{:?}",
        r[3]
    );
    assert!(r[4].stdout[1].starts_with(" 1  10.1.0.2 "), "{:?}", r[4]);
    assert!(r[5].stdout.is_empty(), "{:?}", r[5]);
    assert!(r[6].stdout[1].starts_with(" 1  10.1.0.1 "), "{:?}", r[6]);
}

/// A host whose interface is on no link (its cable never plugged in):
/// nobody answers for the next hop, so, as a kernel whose ARP gives up,
/// the host tells itself "host unreachable" after the neighbour timeout
/// (3 s) instead of losing the datagrams silently.
#[test]
fn an_interface_on_no_link_reports_host_unreachable() {
    let net = "[[host]]\nname = \"alone\"\naddr = \"10.0.0.1/24\"\n";
    let r = common::run_in(net, &[("1s", "alone", "ping -c 1 -W 5 10.0.0.2")]);
    assert_eq!(r[0].exit, Some(1), "{:?}", r[0]);
    assert!(
        r[0].stdout
            .iter()
            .any(|l| l == "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable"),
        "{:?}",
        r[0].stdout
    );
}

/// icmp_seq wraps after 65,535 (it is 16 bits): the replies to the
/// requests after the wrap are not duplicates of the first ones.
#[test]
fn sequence_numbers_wrap_without_duplicates() {
    let r = one(&[], "client", "ping -c 65540 -q -i 0.002 10.99.3.2");
    assert_eq!(r.exit, Some(0), "{:?}", r.stdout);
    let summary = r.stdout.iter().find(|l| l.contains("transmitted")).unwrap();
    assert!(
        summary.starts_with("65540 packets transmitted, 65540 received, 0% packet loss"),
        "{summary}"
    );
}

/// A broadcast destination needs -b, as iputils asks (exit 2); with it,
/// the warning and the requests go out (the routers, like Linux, ignore
/// echo requests to broadcast). 0.0.0.0 is this host itself, as Linux
/// takes it.
#[test]
fn broadcast_needs_dash_b_and_zero_is_this_host() {
    let r = run(&[
        ("0s", "client", "ping -c 1 255.255.255.255"),
        ("1s", "client", "ping -c 1 10.99.1.255"),
        ("2s", "client", "ping -b -c 1 -W 1 10.99.1.255"),
        ("5s", "client", "ping -c 1 0.0.0.0"),
    ]);
    let ask =
        "ping: Do you want to ping broadcast? Then -b. If not, check your local firewall rules";
    for ran in &r[..2] {
        assert_eq!(
            (ran.exit, ran.stderr.as_slice()),
            (Some(2), &[ask.to_string()][..])
        );
        assert!(ran.stdout.is_empty());
    }
    assert_eq!(r[2].stderr, ["WARNING: pinging broadcast address"]);
    assert_eq!(
        r[2].stdout[0],
        "PING 10.99.1.255 (10.99.1.255) 56(84) bytes of data."
    );
    assert!(
        r[2].stdout
            .iter()
            .any(|l| l.starts_with("1 packets transmitted, ")),
        "{:?}",
        r[2].stdout
    );
    assert_eq!(r[3].exit, Some(0));
    assert_eq!(
        r[3].stdout[0],
        "PING 0.0.0.0 (127.0.0.1) 56(84) bytes of data."
    );
    assert!(r[3].stdout[1].starts_with("64 bytes from 127.0.0.1: icmp_seq=1 "));
}

/// iputils takes any -s up to INT_MAX; what does not fit fails as it is
/// sent: a datagram over 65,535 bytes is "message too long" with the
/// path's MTU (counted as an error; checked against iputils 20221126 on a
/// 1500-byte device), an ICMP message over 65,535 is refused without a
/// word.
#[test]
fn sizes_beyond_a_datagram_fail_as_iputils_fails_them() {
    let r = run(&[
        ("0s", "client", "ping -c 2 -s 65508 10.99.3.2"),
        ("5s", "client", "ping -c 2 -s 70000 10.99.3.2"),
    ]);
    assert_eq!(
        r[0].stdout[0],
        "PING 10.99.3.2 (10.99.3.2) 65508(65536) bytes of data."
    );
    assert_eq!(
        r[0].stderr,
        [
            "ping: local error: message too long, mtu=1500",
            "ping: local error: message too long, mtu=1500"
        ]
    );
    assert!(r[0]
        .stdout
        .iter()
        .any(|l| l.starts_with("2 packets transmitted, 0 received, +2 errors, 100% packet loss")));
    assert!(r[1].stderr.is_empty());
    assert!(r[1]
        .stdout
        .iter()
        .any(|l| l.starts_with("2 packets transmitted, 0 received, 100% packet loss")));
    assert_eq!((r[0].exit, r[1].exit), (Some(1), Some(1)));
    assert!(tcplab_tools::Command::parse("ping -s 2147483648 x")
        .unwrap_err()
        .to_string()
        .contains("out of range: 0 <= value <= 2147483647"));
}

/// The statistics' time runs from the start to the last request sent, as
/// iputils keeps it (its pinger sets `cur_time`): one ping over a long
/// path says `time 0ms` whatever its round trip, and waiting for the last
/// reply adds nothing.
#[test]
fn the_time_counts_to_the_last_request_not_the_last_reply() {
    let r = common::run_in(
        &pair(1, "delay = \"150ms\""),
        &[
            ("0s", "a", "ping -c 1 b"),
            ("2s", "a", "ping -c 2 -i 0.5 b"),
        ],
    );
    assert_eq!(
        r[0].stdout[4],
        "1 packets transmitted, 1 received, 0% packet loss, time 0ms"
    );
    assert_eq!(
        r[1].stdout[5],
        "2 packets transmitted, 2 received, 0% packet loss, time 500ms"
    );
    assert!(
        r[1].stdout[6].starts_with("rtt min/avg/max/mdev = 300.0"),
        "{:?}",
        r[1]
    );
}

/// iputils' exit status: with a deadline (-w), fewer replies than -c asked
/// for is a failure even when some came; without -w, any reply is success.
#[test]
fn a_deadline_short_of_the_count_fails() {
    let r = common::run_in(
        &pair(1, "delay = \"150ms\""),
        &[
            ("0s", "a", "ping -c 3 -w 2 b"),
            ("10s", "a", "ping -c 2 -w 5 b"),
            ("20s", "a", "ping -c 5 -i 0.2 -W 0.1 b"),
            // -w 0 is no deadline at all (iputils tests the value).
            ("30s", "a", "ping -c 2 -w 0 b"),
        ],
    );
    assert_eq!(
        r[3].stdout[5], "2 packets transmitted, 2 received, 0% packet loss, time 1000ms",
        "{:?}",
        r[3]
    );
    assert_eq!(r[3].exit, Some(0));
    // Replies 300 ms after requests a second apart: two by the deadline.
    assert_eq!(
        (r[0].stdout[5].as_str(), r[0].exit),
        (
            "2 packets transmitted, 2 received, 0% packet loss, time 1000ms",
            Some(1)
        ),
        "{:?}",
        r[0]
    );
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    // No deadline: replies after -W's wait still count as received.
    assert_eq!(r[2].exit, Some(0), "{:?}", r[2]);
}

/// With a deadline the count is of replies, not of requests: iputils
/// keeps sending until the deadline or the count's replies (`ping -c 1
/// -w 10 host`, the "wait until it is up" idiom, probes ten times).
#[test]
fn a_deadline_keeps_probing_past_the_count() {
    let r = common::run_in(
        &pair(1, "loss = \"100%\""),
        &[
            ("0s", "a", "ping -c 2 -w 5 b"),
            ("10s", "a", "ping -c 1 -w 3 b"),
        ],
    );
    let stats = |i: usize| {
        r[i].stdout
            .iter()
            .find(|l| l.contains("transmitted"))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        stats(0),
        "5 packets transmitted, 0 received, 100% packet loss, time 4000ms",
        "{:?}",
        r[0]
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        stats(1),
        "3 packets transmitted, 0 received, 100% packet loss, time 2000ms",
        "{:?}",
        r[1]
    );
}

/// iputils run as root reads replies from a raw socket and does not check
/// their ICMP checksum: a reply corrupted on the way counts as received,
/// and its data is checked against what was sent ("wrong data byte").
#[test]
fn corrupted_replies_count_and_show_the_wrong_byte() {
    let net = pair(3, "delay = \"1ms\"\n[link.reverse]\ncorrupt = \"40%\"");
    let r = common::run_in(&net, &[("0s", "a", "ping -c 20 -i 0.2 b")]);
    let out = &r[0].stdout;
    let wrong: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].starts_with("wrong data byte #"))
        .collect();
    assert!(!wrong.is_empty(), "{out:?}");
    for i in wrong {
        assert!(
            out[i - 1].contains(" bytes from b (10.0.1.3): icmp_seq="),
            "{out:?}"
        );
        assert!(out[i + 1].starts_with("#16\t10 11 12 "), "{out:?}");
    }
    // Corrupted in their IP header, some are lost; the others count.
    let stats = out
        .iter()
        .find(|l| l.contains("packets transmitted"))
        .unwrap();
    let received: u32 = stats
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(received > 12, "{stats}");
}

/// iputils times a reply by the send time the reply's data carries back:
/// one corrupted there shows what its bytes say — a time before it was
/// sent is warned of and taken as 0 — and one corrupted elsewhere keeps
/// its true time.
#[test]
fn a_corrupted_timestamp_is_read_as_iputils_reads_it() {
    let net = pair(5, "delay = \"1ms\"\n[link.reverse]\ncorrupt = \"50%\"");
    let r = common::run_in(&net, &[("0s", "a", "ping -c 100 -i 0.2 b")]);
    let (out, err) = (&r[0].stdout, &r[0].stderr);
    let warned = err
        .iter()
        .filter(|l| {
            l.starts_with("ping: Warning: time of day goes back (-")
                && l.ends_with("us), taking countermeasures")
        })
        .count();
    let zero = out.iter().filter(|l| l.ends_with(" time=0.000 ms")).count();
    assert!(warned > 0 && warned == err.len(), "{err:?}");
    assert_eq!(warned, zero, "{out:?}");
    // Most replies, corrupted or not, take the path's 2 ms.
    let right = out.iter().filter(|l| l.ends_with(" time=2.00 ms")).count();
    assert!(right > 40, "{out:?}");
    // However wild the times, the statistics come out.
    assert!(
        out.last().unwrap().starts_with("rtt min/avg/max/mdev = "),
        "{out:?}"
    );
    // Many seeds, many wild stamps: never a panic or a hang.
    for seed in 1..=12 {
        let net = pair(seed, "delay = \"1ms\"\n[link.reverse]\ncorrupt = \"60%\"");
        let r = common::run_in(&net, &[("0s", "a", "ping -c 60 -i 0.2 b")]);
        assert!(
            r[0].stdout
                .iter()
                .any(|l| l.contains("packets transmitted")),
            "seed {seed}"
        );
    }
}

/// -v as iputils 20221126 run as root prints it (checked): its raw
/// sockets and the address lookup first, each reply's identifier.
#[test]
fn verbose_says_the_sockets_the_lookup_and_the_identifier() {
    let r = common::run_in(
        &pair(1, ""),
        &[
            ("0s", "a", "ping -v -c 1 b"),
            ("1s", "a", "ping -4 -v -c 1 nosuch"),
        ],
    );
    assert_eq!(
        r[0].stderr,
        [
            "ping: sock4.fd: 3 (socktype: SOCK_RAW), sock6.fd: 4 (socktype: SOCK_RAW), hints.ai_family: AF_UNSPEC",
            ""
        ]
    );
    assert_eq!(
        r[0].stdout[0],
        "ai->ai_family: AF_INET, ai->ai_canonname: 'b'"
    );
    assert_eq!(r[0].stdout[1], "PING b (10.0.1.3) 56(84) bytes of data.");
    let reply = &r[0].stdout[2];
    assert!(
        reply.starts_with("64 bytes from b (10.0.1.3): icmp_seq=1 ident=")
            && reply.contains(" ttl=64 time="),
        "{reply}"
    );
    assert_eq!(
        r[1].stderr[0],
        "ping: sock4.fd: 3 (socktype: SOCK_RAW), sock6.fd: -1 (socktype: 0), hints.ai_family: AF_INET"
    );
    assert!(r[1].stdout.is_empty(), "{:?}", r[1]);
}

/// iputils' exit timer: -W 0 disarms it (ping waits for the reply), a
/// shorter wait than the round trip gives up first, and with -w there is
/// none (the deadline ends the run).
#[test]
fn the_reply_wait_after_the_last_request() {
    let r = common::run_in(
        &pair(1, "delay = \"150ms\""),
        &[
            ("0s", "a", "ping -c 1 -W 0 b"),
            ("10s", "a", "ping -c 1 -W 0.1 b"),
            ("20s", "a", "ping -c 1 -W 0.1 -w 3 b"),
        ],
    );
    let stats = |i: usize| {
        r[i].stdout
            .iter()
            .find(|l| l.contains("transmitted"))
            .cloned()
    };
    assert!(stats(0).unwrap().contains(", 1 received"), "{:?}", r[0]);
    assert!(stats(1).unwrap().contains(", 0 received"), "{:?}", r[1]);
    assert!(stats(2).unwrap().contains(", 1 received"), "{:?}", r[2]);
}

/// Two hosts on one link, `a` 10.0.1.2 and `b` 10.0.1.3, with the link's
/// `settings` and the run's seed.
fn pair(seed: u64, settings: &str) -> String {
    format!(
        "seed = {seed}\n[[host]]\nname = \"a\"\naddr = \"10.0.1.2/24\"\n[[host]]\nname = \"b\"\n\
         addr = \"10.0.1.3/24\"\n[[link]]\nends = [\"a\", \"b\"]\n{settings}\n"
    )
}

/// `ip route get` answers from the stack's own output lookup, in
/// iproute2's words: the next hop and source of a routed destination,
/// one of the host's own addresses as `local` (by way of lo), a directed
/// broadcast, what the route cache knows (a path MTU learned from "frag
/// needed"), `fibmatch`'s table entry, and RTNETLINK's errors (the
/// words iproute2 refuses are in the tool's unit tests).
#[test]
fn ip_route_get_resolves_as_linux_does() {
    let net = common::NET.replace(
        "ends = [\"r1\", \"r2\"]\ndelay = \"200us\"",
        "ends = [\"r1\", \"r2\"]\ndelay = \"200us\"\nmtu = 576",
    );
    let r = common::run_in(
        &net,
        &[
            ("0s", "client", "ip route get 10.99.3.2"),
            ("0s", "client", "ip route get 10.99.1.7"),
            ("0s", "client", "ip route get 10.99.1.2"),
            ("0s", "client", "ip route get 127.0.0.5"),
            ("0s", "client", "ip route get 10.99.1.255"),
            ("0s", "client", "ip route get to 10.99.3.2 from 10.99.1.2"),
            ("0s", "client", "ip route get 10.99.3.2 fibmatch"),
            ("0s", "client", "ip route get 10.99.3.2 from 10.99.1.9"),
            ("0s", "client", "ip route get 10.99.3.0/24"),
            ("1s", "client", "ping -c 1 -s 1000 -M do 10.99.3.2"),
            ("5s", "client", "ip route get 10.99.3.2"),
            ("0s", "server", "ip route get 10.99.1.2"),
            ("0s", "client", "ip route get 255.255.255.255"),
            ("0s", "client", "ip route get 0.0.0.0"),
            ("0s", "client", "ip route get 10.99.1.2 fibmatch"),
            (
                "0s",
                "client",
                "ip route get 10.99.3.2 from 255.255.255.255",
            ),
            ("5s", "client", "ip route show cache"),
        ],
    );
    // The limited broadcast goes on the link, never by a gateway; 0.0.0.0
    // is this host; fibmatch names no table; a broadcast source is
    // EINVAL; a learned path MTU is in the route cache.
    assert_eq!(
        r[12].stdout,
        [
            "broadcast 255.255.255.255 dev eth0 src 10.99.1.2 uid 0 ",
            "    cache <local,brd> "
        ]
    );
    assert_eq!(
        r[13].stdout,
        [
            "local 0.0.0.0 dev lo src 127.0.0.1 uid 0 ",
            "    cache <local> "
        ]
    );
    assert_eq!(
        r[14].stdout,
        ["local 10.99.1.2 dev eth0 proto kernel scope host src 10.99.1.2 "]
    );
    assert_eq!(
        (r[15].exit, r[15].stderr.clone()),
        (
            Some(2),
            vec!["RTNETLINK answers: Invalid argument".to_string()]
        )
    );
    assert_eq!(
        r[16].stdout,
        [
            "10.99.3.2 via 10.99.1.1 dev eth0 ",
            "    cache expires 596sec mtu 576 "
        ]
    );
    let out = |k: usize| r[k].stdout.clone();
    assert_eq!(
        out(0),
        [
            "10.99.3.2 via 10.99.1.1 dev eth0 src 10.99.1.2 uid 0 ",
            "    cache "
        ]
    );
    assert_eq!(
        out(1),
        ["10.99.1.7 dev eth0 src 10.99.1.2 uid 0 ", "    cache "]
    );
    assert_eq!(
        out(2),
        [
            "local 10.99.1.2 dev lo src 10.99.1.2 uid 0 ",
            "    cache <local> "
        ]
    );
    assert_eq!(
        out(3),
        [
            "local 127.0.0.5 dev lo src 127.0.0.1 uid 0 ",
            "    cache <local> "
        ]
    );
    assert_eq!(
        out(4),
        [
            "broadcast 10.99.1.255 dev eth0 src 10.99.1.2 uid 0 ",
            "    cache <local,brd> "
        ]
    );
    assert_eq!(
        out(5),
        [
            "10.99.3.2 from 10.99.1.2 via 10.99.1.1 dev eth0 uid 0 ",
            "    cache "
        ]
    );
    assert_eq!(out(6), ["default via 10.99.1.1 dev eth0 "]);
    assert_eq!(
        (r[7].exit, r[7].stderr.clone()),
        (
            Some(2),
            vec!["RTNETLINK answers: Network is unreachable".to_string()]
        )
    );
    assert_eq!(
        r[8].stderr,
        ["Warning: /24 as prefix is invalid, only /32 (or none) is supported."]
    );
    assert_eq!(
        r[8].stdout[0],
        "10.99.3.0 via 10.99.1.1 dev eth0 src 10.99.1.2 uid 0 "
    );
    assert_eq!(
        out(10),
        [
            "10.99.3.2 via 10.99.1.1 dev eth0 src 10.99.1.2 uid 0 ",
            "    cache expires 596sec mtu 576 "
        ]
    );
    assert_eq!(
        out(11),
        [
            "10.99.1.2 via 10.99.3.1 dev eth0 src 10.99.3.2 uid 0 ",
            "    cache "
        ]
    );
}

/// Ctrl-\ (SIGQUIT) makes ping print iputils' status line on standard
/// error and go on; a second one later shows the newer counts. A command
/// that does not catch it stops with status 131.
#[test]
fn sigquit_prints_a_status_line_and_ping_goes_on() {
    use tcplab_host::Signal;
    use tcplab_sim::{load_checked, Commands, Sim, SimOptions};
    use tcplab_stack::Instant;
    use tcplab_tools::Tools;
    let text = format!(
        "{}\n[[run]]\nat = \"0s\"\non = \"client\"\ncmd = \"ping -c 6 -i 0.2 10.99.3.2\"\n\
         \n[[run]]\nat = \"0s\"\non = \"client\"\ncmd = \"nc -l 7000\"\n",
        common::NET
    );
    let scenario = load_checked("t.toml", &text, &|c| Tools.check(c)).unwrap();
    let mut sim = Sim::new(&scenario, &SimOptions::default()).unwrap();
    let pid = |sim: &Sim, name: &str| {
        let h = sim.host("client").unwrap();
        h.processes()
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| p.pid)
            .unwrap()
    };
    let at = |ms: u64| Instant::ZERO + std::time::Duration::from_millis(ms);
    // Between the third reply (0.4008 s) and the fourth request (0.6 s);
    // then between the fourth request and its reply (0.6008 s).
    sim.run_until(at(500), &Tools);
    let (ping, nc) = (pid(&sim, "ping"), pid(&sim, "nc"));
    assert!(sim.signal("client", ping, Signal::Quit));
    assert!(sim.signal("client", nc, Signal::Quit));
    sim.run_until(at(600) + std::time::Duration::from_micros(400), &Tools);
    assert!(sim.signal("client", ping, Signal::Quit));
    sim.run(&Tools);
    let client = sim.host("client").unwrap();
    assert_eq!(client.process(nc).unwrap().exit, Some(131));
    assert_eq!(client.process(ping).unwrap().exit, Some(0));
    let errs: Vec<String> = sim
        .transcript()
        .into_iter()
        .filter_map(|e| match e {
            tcplab_sim::TranscriptEvent::Output(l)
                if l.pid == ping && l.stream == tcplab_host::Stream::Stderr =>
            {
                Some(l.text)
            }
            _ => None,
        })
        .collect();
    // Every round trip is 0.800 ms on this path, so the moving average
    // is too.
    assert_eq!(
        errs,
        [
            "3/3 packets, 0% loss, min/avg/ewma/max = 0.800/0.800/0.800/0.800 ms",
            "3/4 packets, 25% loss, min/avg/ewma/max = 0.800/0.800/0.800/0.800 ms",
        ]
    );
}
