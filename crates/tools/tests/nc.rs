//! nc (OpenBSD netcat) and the small servers of `serve`.

mod common;

use common::run;

#[test]
fn client_listener_and_half_close() {
    let r = run(&[
        ("0s", "server", "nc -l 9000"),
        ("1s", "client", "printf 'one\\ntwo\\n' | nc -v server 9000"),
        ("2s", "server", "serve echo"),
        ("3s", "client", "echo hi there | nc server 7"),
    ]);
    // The listener prints what came and ends when the client half-closes
    // and then closes.
    assert_eq!(r[0].stdout, ["one", "two"]);
    assert_eq!(r[0].exit, Some(0));
    assert_eq!(
        r[1].stderr,
        ["Connection to server (10.99.3.2) 9000 port [tcp/*] succeeded!"]
    );
    // The echo server answers after the client's FIN: half-close at work.
    assert_eq!(r[3].stdout, ["hi there"]);
}

#[test]
fn udp_both_ways_and_refusals() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("1s", "client", "echo datagram | nc -u server 7"),
        ("2s", "client", "echo x | nc -v -u server 7777"),
        ("3s", "client", "nc -v server 8080"),
        ("4s", "client", "nc -v -w 1 10.99.3.99 80"),
        // Without -v a failed connect says nothing (OpenBSD nc); the
        // status says it.
        ("6s", "client", "nc server 8080"),
    ]);
    assert_eq!((r[5].stderr.len(), r[5].exit), (0, Some(1)), "{:?}", r[5]);
    assert_eq!(r[1].stdout, ["datagram"]);
    // ICMP port unreachable comes back to the connected UDP socket: with
    // -v, to the port test's probes, which ends nc silently (Debian's
    // netcat-openbsd 1.219, measured).
    assert!(r[2].stderr.is_empty(), "{:?}", r[2]);
    assert_eq!(r[2].exit, Some(1));
    assert_eq!(
        r[3].stderr,
        ["nc: connect to server (10.99.3.2) port 8080 (tcp) failed: Connection refused"]
    );
    assert_eq!(
        r[4].stderr,
        ["nc: connect to 10.99.3.99 port 80 (tcp) timed out: Operation now in progress"]
    );
}

#[test]
fn port_scan_reports_open_ports() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("0s", "server", "serve daytime"),
        ("1s", "client", "nc -zv server 5-14"),
        ("2s", "client", "nc -z server 20-22"),
        ("3s", "client", "nc -zv 10.99.3.2 7"),
        ("4s", "client", "nc -zvn 10.99.3.2 8"),
    ]);
    // The address in brackets only when a name was given (netcat-openbsd,
    // checked on this machine), and -n prints no service name.
    assert_eq!(
        r[4].stderr,
        ["Connection to 10.99.3.2 7 port [tcp/echo] succeeded!"]
    );
    assert_eq!(
        r[5].stderr,
        ["nc: connect to 10.99.3.2 port 8 (tcp) failed: Connection refused"]
    );
    assert_eq!(r[2].exit, Some(0));
    let open: Vec<&String> = r[2]
        .stderr
        .iter()
        .filter(|l| l.ends_with("succeeded!"))
        .collect();
    assert_eq!(
        open,
        [
            "Connection to server (10.99.3.2) 7 port [tcp/echo] succeeded!",
            "Connection to server (10.99.3.2) 13 port [tcp/daytime] succeeded!"
        ]
    );
    assert_eq!(
        r[2].stderr.len(),
        10,
        "-v reports every port: {:?}",
        r[2].stderr
    );
    assert_eq!(r[3].exit, Some(1), "nothing open");
    assert!(r[3].stderr.is_empty(), "-z without -v is quiet");
}

#[test]
fn small_services() {
    let r = run(&[
        ("0s", "server", "serve daytime"),
        ("0s", "server", "serve chargen"),
        ("0s", "server", "serve discard"),
        ("1s", "client", "nc server 13"),
        ("2s", "client", "echo x | nc -u server 19"),
        ("3s", "client", "echo gone | nc server 9"),
    ]);
    // nc writes what it received unchanged: the daytime line ends in CRLF.
    assert_eq!(r[3].stdout, ["Wed Jan  1 00:00:01 2025\r"]);
    assert_eq!(r[4].stdout.len(), 6, "{:?}", r[4].stdout);
    let first = &r[4].stdout[0];
    assert_eq!(first.len(), 73, "72 characters and the CR of CRLF");
    assert!(first.starts_with(" !\"#$%&'()*+,-./0123456789"), "{first}");
    assert!(
        r[4].stdout[1].starts_with("!\"#$%&"),
        "each line starts one later"
    );
    assert!(r[5].stdout.is_empty());
    assert_eq!(r[5].exit, Some(0));
}

#[test]
fn usage_errors() {
    for (cmd, msg) in [
        ("nc server", "missing port number"),
        ("nc server 0", "port number too small: 0"),
        ("nc server 65536", "port number too large: 65536"),
        ("serve gopher", "unknown service `gopher`"),
        ("serve echo --port 0", "invalid port `0`"),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!(u.message, msg, "{cmd}");
    }
}

/// `nc -l 0` listens on a free port and, with -v, says which (as Debian's
/// netcat-openbsd does); `ss` shows the same port.
#[test]
fn a_listener_on_port_zero_takes_a_free_port() {
    let r = run(&[
        ("0s", "server", "nc -l -v 0"),
        ("1s", "server", "ss -tln"),
        ("2s", "server", "nc -luv 0"),
    ]);
    let bound = &r[2].stderr[0];
    assert!(
        bound.starts_with("Bound on 0.0.0.0 ") && !bound.ends_with(" 0"),
        "{bound}"
    );
    let line = &r[0].stderr[0];
    let port: u16 = line
        .strip_prefix("Listening on 0.0.0.0 ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert_ne!(port, 0);
    assert!(
        r[1].stdout
            .iter()
            .any(|l| l.contains(&format!("0.0.0.0:{port} "))),
        "{:?}",
        r[1].stdout
    );
}

/// A SYN that meets a routing loop comes back as ICMP time exceeded: the
/// attempt fails at once with "No route to host" (RFC 9293 §3.9.2.2's
/// hard error in SYN-SENT, as Linux's tcp_v4_err), and nc says so.
#[test]
fn a_connect_whose_syn_expires_in_a_loop_fails_at_once() {
    let net = r#"
[[host]]
name = "a"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.12.1/30"]
routes = ["10.9.0.0/16 via 10.0.12.2"]
[[router]]
name = "r2"
addrs = ["10.0.12.2/30"]
routes = ["10.9.0.0/16 via 10.0.12.1", "default via 10.0.12.1"]
[[link]]
ends = ["a", "r1"]
delay = "1ms"
[[link]]
ends = ["r1", "r2"]
delay = "1ms"
"#;
    let r = common::run_in(
        net,
        &[
            ("1s", "a", "nc -v 10.9.0.1 80"),
            ("2s", "a", "curl -sS http://10.9.0.1/"),
        ],
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[0].stderr,
        ["nc: connect to 10.9.0.1 port 80 (tcp) failed: No route to host"]
    );
    assert_eq!(r[1].exit, Some(7));
    assert!(
        r[1].stderr[0].starts_with("curl: (7) Failed to connect to 10.9.0.1 port 80 after ")
            && r[1].stderr[0].ends_with(" ms: Couldn't connect to server"),
        "{:?}",
        r[1].stderr
    );
}

/// -6: there is no IPv6 here, so a client finds no address, in
/// getaddrinfo's words (an IPv4 literal is the wrong family); -4 after it
/// wins back, and a -6 listener takes IPv4 as Linux's dual-stack [::] does.
#[test]
fn ipv6_only_finds_no_address() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("0s", "server", "nc -6 -l 9000"),
        ("1s", "client", "echo hi | nc -6 10.99.3.2 7"),
        ("1s", "client", "echo hi | nc -6 server 7"),
        ("1s", "client", "echo hi | nc -6 -4 server 7"),
        ("2s", "client", "echo to-six | nc server 9000"),
    ]);
    assert_eq!(
        r[2].stderr,
        ["nc: getaddrinfo for host \"10.99.3.2\" port 7: Address family for hostname not supported"]
    );
    assert_eq!(r[2].exit, Some(1));
    assert_eq!(
        r[3].stderr,
        ["nc: getaddrinfo for host \"server\" port 7: Name or service not known"]
    );
    assert_eq!(r[4].stdout, ["hi"]);
    assert_eq!(r[1].stdout, ["to-six"]);
}

/// `nc -ul` connects to its first sender, as OpenBSD nc: ss shows the pair
/// ESTAB, and a datagram from another port is refused by the stack
/// (the sender's nc stops, silently without -v).
#[test]
fn a_udp_listener_takes_its_first_sender_only() {
    let r = run(&[
        ("0s", "server", "nc -ulv 5000"),
        ("1s", "client", "echo one | nc -u server 5000"),
        ("2s", "server", "ss -uan"),
        ("3s", "client", "echo two | nc -u server 5000"),
    ]);
    assert_eq!(r[0].stdout, ["one"], "{:?}", r[0]);
    // -v: the bound port, then the sender it took (netcat-openbsd's
    // report_sock after its connect), once.
    assert_eq!(r[0].stderr.len(), 2, "{:?}", r[0]);
    assert_eq!(r[0].stderr[0], "Bound on 0.0.0.0 5000");
    assert!(
        r[0].stderr[1].starts_with("Connection received on client "),
        "{:?}",
        r[0]
    );
    assert!(
        r[2].stdout
            .iter()
            .any(|l| l.starts_with("ESTAB") && l.contains(":5000") && l.contains("10.99.1.2:")),
        "{:?}",
        r[2].stdout
    );
    assert_eq!((r[3].stderr.len(), r[3].exit), (0, Some(0)), "{:?}", r[3]);
}

/// 0.0.0.0 as a destination is this host (Linux's ip_route_connect: the
/// bound address, else 127.0.0.1): "Serving on 0.0.0.0" can be tried as
/// it reads, over TCP and UDP, and curl reports the peer it reached.
#[test]
fn the_any_address_as_a_destination_is_this_host() {
    let r = run(&[
        ("0s", "client", "serve echo"),
        ("0s", "client", "serve http"),
        ("1s", "client", "echo hi | nc 0.0.0.0 7"),
        ("2s", "client", "echo dg | nc -u 0.0.0.0 7"),
        (
            "3s",
            "client",
            "curl -s -o /dev/null -w '%{http_code} %{remote_ip}\n' http://0.0.0.0/",
        ),
    ]);
    assert_eq!(r[2].stdout, ["hi"], "{:?}", r[2]);
    assert_eq!(r[3].stdout, ["dg"], "{:?}", r[3]);
    assert_eq!(r[4].stdout, ["404 127.0.0.1"], "{:?}", r[4]);
}

/// `nc -l ADDR PORT` listens on that address only (Debian's
/// netcat-openbsd; `-l -s ADDR` is a usage error there, refused when the
/// scenario loads).
#[test]
fn a_listener_takes_an_address_before_its_port() {
    let r = run(&[
        ("0s", "server", "nc -l 10.99.3.2 9000"),
        ("1s", "server", "ss -tln"),
        ("2s", "client", "echo hi | nc -N server 9000"),
    ]);
    assert!(
        r[1].stdout.iter().any(|l| l.contains("10.99.3.2:9000")),
        "{:?}",
        r[1].stdout
    );
    assert_eq!(r[0].stdout, ["hi"], "{:?}", r[0]);
}

/// `nc -l` sets SO_REUSEPORT, as OpenBSD nc does (Debian's netcat-openbsd
/// checked here): a second listener on the same port binds too and the
/// stack spreads new connections over both; over UDP each listener
/// connects to its first sender, so a second sender reaches the other.
#[test]
fn two_listeners_share_a_port() {
    let mut cmds = vec![
        ("0s", "server", "nc -lk 9000".to_string()),
        ("0s", "server", "nc -lk 9000".to_string()),
        ("0s", "server", "nc -ul 5000".to_string()),
        ("0s", "server", "nc -ul 5000".to_string()),
        ("1s", "client", "echo one | nc -u server 5000".to_string()),
        ("2s", "client", "echo two | nc -u server 5000".to_string()),
    ];
    for i in 0..8 {
        cmds.push(("3s", "client", format!("echo c{i} | nc -N server 9000")));
    }
    let cmds: Vec<(&str, &str, &str)> = cmds.iter().map(|(a, h, c)| (*a, *h, c.as_str())).collect();
    let r = run(&cmds);
    for ran in &r[..4] {
        assert!(ran.stderr.is_empty(), "{ran:?}");
    }
    let (mut tcp, udp) = ([&r[0].stdout, &r[1].stdout], [&r[2].stdout, &r[3].stdout]);
    assert!(tcp.iter().all(|got| !got.is_empty()), "{tcp:?}");
    let mut all: Vec<&String> = tcp.iter_mut().flat_map(|got| got.iter()).collect();
    all.sort();
    assert_eq!(all, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    // Each listener took one sender (which one, the port's hash of the
    // sender decides).
    let mut udp: Vec<&Vec<String>> = udp.to_vec();
    udp.sort();
    assert_eq!(udp, [&vec!["one".to_string()], &vec!["two".to_string()]]);
}

/// A source address the host does not have (`-s`) fails at netcat's
/// bind(2), said whether or not -v, and the exit is 1.
#[test]
fn a_source_address_not_ours_fails_to_bind() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("1s", "client", "echo hi | nc -s 9.9.9.9 server 7"),
        ("2s", "client", "echo hi | nc -s 10.99.1.2 server 7"),
    ]);
    assert_eq!(
        r[1].stderr,
        ["nc: bind failed: Cannot assign requested address"]
    );
    assert_eq!(r[1].exit, Some(1));
    assert_eq!(r[2].stdout, ["hi"], "{:?}", r[2]);
}

/// `nc -zu` as Debian's netcat-openbsd 1.219 scans: with -v, two
/// datagrams at once, then one a second for three seconds (`-w` seconds
/// with -w), a port unreachable failing the next write and closing the
/// port; a socket (a source port) of its own for each port; the status
/// is the last port's; without -v, no probe at all and status 0.
#[test]
fn udp_scans_probe_as_debians_netcat() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        (
            "0s",
            "server",
            "tcpdump -n -c 17 udp dst port 7 or udp dst port 9",
        ),
        ("1s", "client", "nc -zuv server 7"),
        ("10s", "client", "nc -zuv server 9"),
        ("20s", "client", "nc -zuv -w 1 server 9 7"),
        ("30s", "client", "nc -zu server 9"),
        ("40s", "client", "nc -zuv -w 1 server 7 9"),
    ]);
    let dump = &r[1].stdout;
    let at = |port: u16| -> Vec<&str> {
        dump.iter()
            .filter(|l| l.contains(&format!(".{port}: UDP, length 1")))
            .map(|l| &l[..11])
            .collect()
    };
    // Port 7: 1 s, 1 s, 2 s, 3 s, 4 s; with -w 1 after port 9 (probed at
    // 20 s, its write at 21 s failing): 21 s twice, 22 s; first at 40 s:
    // 40 s twice, 41 s. The closed port 9: two probes each time, the
    // write a second later fails. Nothing at 30 s (no -v).
    assert_eq!(
        at(7),
        [
            "00:00:01.00",
            "00:00:01.00",
            "00:00:02.00",
            "00:00:03.00",
            "00:00:04.00",
            "00:00:21.00",
            "00:00:21.00",
            "00:00:22.00",
            "00:00:40.00",
            "00:00:40.00",
            "00:00:41.00"
        ],
        "{dump:?}"
    );
    assert_eq!(
        at(9),
        [
            "00:00:10.00",
            "00:00:10.00",
            "00:00:20.00",
            "00:00:20.00",
            "00:00:41.00",
            "00:00:41.00"
        ],
        "{dump:?}"
    );
    assert!(!dump.iter().any(|l| l.starts_with("00:00:3")), "{dump:?}");
    assert_eq!(
        r[2].stderr,
        ["Connection to server (10.99.3.2) 7 port [udp/echo] succeeded!"]
    );
    assert_eq!(r[2].exit, Some(0));
    assert_eq!(r[3].stderr, Vec::<String>::new());
    assert_eq!(r[3].exit, Some(1));
    // The last port decides: 9 7 is 0, 7 9 is 1.
    assert_eq!(r[4].exit, Some(0));
    assert_eq!((r[5].exit, r[5].stderr.len()), (Some(0), 0));
    assert_eq!(r[6].exit, Some(1));
    // Each port its own socket: port 9 and port 7 probed from two ports.
    let sources: std::collections::BTreeSet<&str> = dump
        .iter()
        .filter(|l| l.starts_with("00:00:2"))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(sources.len(), 2, "{dump:?}");
}

/// `nc -u` sends what each read of its input gives, at most netcat.c's
/// BUFSIZE (16 KiB): 70,000 bytes go as four datagrams of 16,384 and one
/// of 4,464 (each a first fragment and more on the wire).
#[test]
fn udp_input_goes_in_datagrams_of_16k() {
    let r = run(&[
        (
            "0s",
            "server",
            "tcpdump -n -c 5 'udp and dst port 5000 and ip[6:2] & 0x1fff = 0'",
        ),
        ("0s", "server", "nc -ul 5000"),
        (
            "1s",
            "client",
            "printf '%70000s' x | nc -u -w 1 server 5000",
        ),
    ]);
    let lengths: Vec<&str> = r[0]
        .stdout
        .iter()
        .filter_map(|l| l.rsplit_once("UDP, length ").map(|(_, n)| n))
        .collect();
    assert_eq!(
        lengths,
        ["16384", "16384", "16384", "16384", "4464"],
        "{:?}",
        r[0]
    );
}

/// `nc -uv` without -z tests the port first as Debian's netcat does
/// (`udptest`'s datagrams "X", which an echo service sends back): an
/// open port says "succeeded" and the exchange follows; a closed one
/// (a port unreachable to a probe) ends it silently with status 1.
/// `-w 0` is no timeout.
#[test]
fn udp_clients_with_v_test_the_port_first() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("1s", "client", "echo hello | nc -uv -w 1 server 7"),
        ("10s", "client", "echo hello | nc -uv -w 1 server 9"),
        ("20s", "client", "nc -zv -w 0 server 7"),
    ]);
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert_eq!(
        r[1].stderr,
        ["Connection to server (10.99.3.2) 7 port [udp/echo] succeeded!"]
    );
    assert_eq!(r[1].stdout, ["XXXhello"]);
    assert_eq!((r[2].exit, r[2].stderr.len()), (Some(1), 0), "{:?}", r[2]);
    assert!(r[2].stdout.is_empty(), "{:?}", r[2]);
    assert_eq!(r[3].exit, Some(0), "{:?}", r[3]);
}

/// A listener whose port is taken fails as OpenBSD nc's err(1, NULL)
/// says it — the error alone, no "bind failed", no address; `-lUv` says
/// where it bound, then that it listens.
#[test]
fn a_listener_on_a_taken_port_says_the_error_alone() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("1s", "server", "nc -l 7"),
        ("2s", "server", "nc -lUv /tmp/s"),
    ]);
    assert_eq!(
        (r[1].exit, r[1].stderr.clone()),
        (Some(1), vec!["nc: Address already in use".to_string()])
    );
    assert_eq!(r[2].stderr, ["Bound on /tmp/s", "Listening on /tmp/s"]);
}

/// TCP to a broadcast or multicast address (the limited broadcast, a
/// directed one, a group) is refused at connect with "Network is
/// unreachable", as Linux's tcp_v4_connect answers (ENETUNREACH).
#[test]
fn tcp_to_broadcast_or_multicast_is_unreachable() {
    let r = run(&[
        ("1s", "client", "nc -v 255.255.255.255 80"),
        ("2s", "client", "nc -v 10.99.1.255 80"),
        ("3s", "client", "nc -v 224.0.0.1 80"),
    ]);
    for (ran, a) in r
        .iter()
        .zip(["255.255.255.255", "10.99.1.255", "224.0.0.1"])
    {
        assert_eq!(
            (ran.exit, ran.stderr.clone()),
            (
                Some(1),
                vec![format!(
                    "nc: connect to {a} port 80 (tcp) failed: Network is unreachable"
                )]
            )
        );
    }
}

/// UDP connect to a broadcast address without SO_BROADCAST fails with
/// EACCES, as Linux's ip4_datagram_connect refuses it: netcat says so
/// with -v, and only fails without it (remote_connect warns under vflag).
#[test]
fn udp_connect_to_broadcast_is_permission_denied() {
    let r = run(&[
        ("1s", "client", "nc -uzv 255.255.255.255 80"),
        ("2s", "client", "printf x | nc -u 10.99.1.255 7"),
        ("3s", "client", "printf x | nc -uv 10.99.1.255 7"),
    ]);
    assert_eq!(
        r[0].stderr,
        ["nc: connect to 255.255.255.255 port 80 (udp) failed: Permission denied"]
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!((r[1].exit, r[1].stderr.len()), (Some(1), 0), "{:?}", r[1]);
    assert_eq!(
        (r[2].exit, r[2].stderr.clone()),
        (
            Some(1),
            vec!["nc: connect to 10.99.1.255 port 7 (udp) failed: Permission denied".to_string()]
        )
    );
}

/// `nc -z` closes each connection it made with a FIN, as netcat's
/// close(2) does, not a reset.
#[test]
fn a_scan_closes_with_a_fin() {
    let r = run(&[
        ("0s", "server", "serve echo"),
        ("0s", "server", "tcpdump -n -c 6 tcp port 7"),
        ("1s", "client", "nc -z server 7"),
    ]);
    let dump = &r[1].stdout;
    assert!(
        dump.iter()
            .any(|l| l.contains("10.99.1.2.") && l.contains("Flags [F.]")),
        "{dump:#?}"
    );
    assert!(!dump.iter().any(|l| l.contains("Flags [R")), "{dump:#?}");
}

/// `nc -lv` names the peer as netcat's report_sock does (getnameinfo:
/// the hosts table or DNS), `-n` keeps it numeric; so does `nc -luv` for
/// the sender it connects to, and `-luk` connects to none and says
/// nothing of it.
#[test]
fn a_listener_names_its_peer_unless_numeric() {
    let r = run(&[
        ("0s", "server", "nc -lv 9000"),
        ("0s", "server", "nc -lnv 9001"),
        ("1s", "client", "printf x | nc -N server 9000"),
        ("1s", "client", "printf x | nc -N server 9001"),
        ("0s", "server", "nc -lnuv 9002"),
        ("0s", "server", "nc -lkuv 9003"),
        ("1s", "client", "printf x | nc -u -q 0 server 9002"),
        ("1s", "client", "printf x | nc -u -q 0 server 9003"),
    ]);
    assert!(
        r[4].stderr[1].starts_with("Connection received on 10.99.1.2 "),
        "{:?}",
        r[4]
    );
    assert_eq!(r[5].stderr, ["Bound on 0.0.0.0 9003"], "{:?}", r[5]);
    assert_eq!(r[5].stdout, ["x"], "{:?}", r[5]);
    assert!(
        r[0].stderr[1].starts_with("Connection received on client "),
        "{:?}",
        r[0]
    );
    assert!(
        r[1].stderr[1].starts_with("Connection received on 10.99.1.2 "),
        "{:?}",
        r[1]
    );
}

/// Local datagram sockets: the client's connect(2) to the path and the
/// listener's to its first sender make both ESTAB in `ss -x` (CONNECTED
/// in netstat), as on Linux; -v names the listening path.
#[test]
fn local_datagram_sockets_connect_as_netcat_does() {
    let r = run(&[
        ("0s", "server", "nc -luvU /tmp/d.sock"),
        ("1s", "server", "printf 'dg\\n' | nc -uU -q 10 /tmp/d.sock"),
        ("1.5s", "server", "ss -xa"),
    ]);
    let ss = &r[2].stdout;
    assert_eq!(
        ss.iter().filter(|l| l.starts_with("u_dgr ESTAB")).count(),
        2,
        "{ss:?}"
    );
    assert!(
        r[0].stderr
            .contains(&"Connection received on /tmp/d.sock".to_string()),
        "{:?}",
        r[0]
    );
}

/// `nc -u -q N` keeps its socket N seconds after its input ends (netcat's
/// alarm), not the one quiet second it waits without -q.
#[test]
fn a_udp_client_lingers_for_its_quit_time() {
    let r = run(&[
        ("0s", "server", "nc -lu 9001"),
        ("1s", "client", "printf 'u\\n' | nc -u -q 5 server 9001"),
        ("4s", "client", "ss -uan"),
        ("8s", "client", "ss -uan"),
    ]);
    assert!(
        r[2].stdout.iter().any(|l| l.contains(":9001")),
        "{:?}",
        r[2].stdout
    );
    assert!(
        !r[3].stdout.iter().any(|l| l.contains(":9001")),
        "{:?}",
        r[3].stdout
    );
}

/// `ss -u` alone lists connected UDP sockets only — iproute2's default for
/// UDP is the one state ESTAB — and so, as with `state established`, it
/// prints no State column; `-a` and `-l` keep it.
#[test]
fn ss_u_alone_has_no_state_column() {
    let r = run(&[
        ("0s", "server", "nc -lu 9001"),
        ("1s", "client", "printf 'u\\n' | nc -u -q 5 server 9001"),
        ("2s", "client", "ss -un"),
        ("2s", "client", "ss -uan"),
        ("2s", "client", "ss -tun"),
    ]);
    let head = |i: usize| {
        r[i].stdout[0]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(head(2), "Recv-Q", "{:?}", r[2].stdout);
    let row = r[2].stdout.iter().find(|l| l.contains(":9001")).unwrap();
    assert!(row.starts_with('0'), "{row:?}");
    assert_eq!(head(3), "State", "{:?}", r[3].stdout);
    assert_eq!(head(4), "Netid", "{:?}", r[4].stdout);
    assert!(r[4].stdout[0].contains("State"), "{:?}", r[4].stdout);
}
