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
3 packets transmitted, 3 received, 0% packet loss, time 2001ms
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
    ]);
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
        "3 packets transmitted, 3 received, 0% packet loss, time 401ms"
    );
    assert_eq!(
        r[2].stdout,
        [
            "PING 10.99.3.2 (10.99.3.2) 56(84) bytes of data.",
            "",
            "--- 10.99.3.2 ping statistics ---",
            "5 packets transmitted, 5 received, 0% packet loss, time 801ms",
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
    ]);
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
    assert!(
        r[3].stdout
            .iter()
            .any(|l| l == "From 10.99.2.2 icmp_seq=1 Destination Host Unreachable"),
        "{:?}",
        r[3].stdout
    );
    assert!(r[3]
        .stdout
        .iter()
        .any(|l| l.starts_with("5 packets transmitted, 0 received, +")));
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
    for (cmd, msg) in [
        ("ping", "usage error: Destination address required"),
        ("ping -c x h", "invalid argument: 'x'"),
        (
            "ping -t 0 h",
            "invalid argument: '0': out of range: 1 <= value <= 255",
        ),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!((u.status, u.message.as_str()), (2, msg), "{cmd}");
    }
}
