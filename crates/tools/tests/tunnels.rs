//! Tunnels: inner traffic carried byte-exact through each tunnel over a
//! bad outer path, the UDP-over-TCP relay, counters and errors.

mod common;

use common::{find, run_in};

/// a ── r ── b; the r–b link is the outer path the tunnels cross.
fn net(outer: &str) -> String {
    format!(
        r#"
seed = 11

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
delay = "2ms"

[[link]]
ends = ["r", "b"]
delay = "10ms"
rate = "20Mbit"
{outer}

[[file]]
on = "b"
path = "/srv/www/big.bin"
size = "400K"
"#
    )
}

const BAD: &str = "loss = \"3%\"\nduplicate = \"2%\"\nreorder = \"5%\"\njitter = \"2ms\"";

/// The keys of wg(8)'s examples.
const KEY_A: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB_A: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const KEY_B: &str = "WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=";
const PUB_B: &str = "K5sF9yESrSBsOXPd6TcpKNgqoy1Ik3ZFKl4FolzrRyI=";

/// The two ends of a tunnel of `kind`, b listening on port 7000.
fn ends(kind: &str) -> (String, String) {
    if kind == "wg" {
        (
            format!(
                "tunnel wg t0 10.9.0.2/24 --private-key {KEY_B} --listen-port 7000 --peer {PUB_A} --allowed-ips 10.9.0.1"
            ),
            format!(
                "tunnel wg t0 10.9.0.1/24 --private-key {KEY_A} --peer {PUB_B} --endpoint 10.0.2.2:7000 --allowed-ips 10.9.0.2/32"
            ),
        )
    } else {
        (
            format!("tunnel {kind} t0 10.9.0.2/24 -l 7000"),
            format!("tunnel {kind} t0 10.9.0.1/24 -c 10.0.2.2:7000"),
        )
    }
}

fn carries_a_file(kind: &str) -> String {
    let (server, client) = ends(kind);
    let r = run_in(
        &net(BAD),
        &[
            ("0s", "b", "serve http"),
            ("0s", "b", &server),
            ("0.1s", "a", &client),
            ("1s", "a", "curl -s -o /tmp/got.bin http://10.9.0.2/big.bin"),
            ("60s", "a", "sha256sum /tmp/got.bin"),
            ("60s", "b", "sha256sum /srv/www/big.bin"),
            ("60s", "a", "tunnel show"),
            ("60s", "a", "netstat -i"),
        ],
    );
    let curl = find(
        &r,
        "a",
        "curl -s -o /tmp/got.bin http://10.9.0.2/big.bin",
        0,
    );
    assert_eq!(curl.exit, Some(0), "{kind}: {curl:?}");
    let got = &find(&r, "a", "sha256sum /tmp/got.bin", 0).stdout[0];
    let want = &find(&r, "b", "sha256sum /srv/www/big.bin", 0).stdout[0];
    assert_eq!(got[..64], want[..64], "{kind}: the file arrived changed");
    let show = find(&r, "a", "tunnel show", 0).stdout.join("\n");
    let shown = if kind == "wg" { "wireguard" } else { kind };
    assert!(
        show.starts_with(&format!("t0: {shown} 10.9.0.1/24 mtu ")),
        "{show}"
    );
    // The inner datagrams were counted on the tunnel interface, which
    // netstat flags as point-to-point.
    let ifaces = find(&r, "a", "netstat -i", 0).stdout.join("\n");
    let t0 = ifaces
        .lines()
        .find(|l| l.starts_with("t0 "))
        .expect(&ifaces);
    assert!(t0.ends_with("MOPRU"), "{t0}");
    let rx: u64 = t0.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(rx > 250, "400 KB is ~290 datagrams at least: {t0}");
    show
}

#[test]
fn tcp_tunnel_carries_a_file_byte_exact_over_a_lossy_duplicating_reordering_path() {
    carries_a_file("tcp");
}

#[test]
fn udp_tunnel_carries_a_file_byte_exact_over_a_lossy_duplicating_reordering_path() {
    carries_a_file("udp");
}

#[test]
fn wireguard_carries_a_file_byte_exact_and_drops_the_duplicates_as_replays() {
    let show = carries_a_file("wg");
    // The link duplicated outer datagrams: each copy is a replay to
    // WireGuard's sliding window, dropped and counted.
    let dropped = show
        .lines()
        .find(|l| l.trim_start().starts_with("dropped: replayed "))
        .expect(&show);
    let replayed: u64 = dropped
        .trim_start()
        .trim_start_matches("dropped: replayed ")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(replayed > 0, "{show}");
}

#[test]
fn wireguard_drops_and_counts_forged_datagrams_and_reports_a_vanished_peer() {
    let (server, client) = ends("wg");
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", &server),
            ("0s", "a", &client),
            ("1s", "a", "ping -c 2 10.9.0.2"),
            // Not WireGuard at all, and a forged data message (type 4,
            // an index nobody holds).
            ("3s", "a", "echo hello | nc -u -w 1 10.0.2.2 7000"),
            (
                "3s",
                "a",
                "printf '\\x04\\x00\\x00\\x00\\x01\\x02\\x03\\x04AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' | nc -u -w 1 10.0.2.2 7000",
            ),
            ("6s", "b", "tunnel show"),
            ("6s", "b", "wg show t0"),
            ("7s", "a", "wg show nosuch"),
        ],
    );
    assert_eq!(find(&r, "a", "ping -c 2 10.9.0.2", 0).exit, Some(0));
    let show = find(&r, "b", "tunnel show", 0).stdout.join("\n");
    assert!(
        show.contains(", invalid 1, ipv6 0, unknown index 1,"),
        "{show}"
    );
    let wg = find(&r, "b", "wg show t0", 0).stdout.join("\n");
    assert!(wg.starts_with(&format!("interface: t0\n  public key: {PUB_B}\n  private key: (hidden)\n  listening port: 7000\n\npeer: {PUB_A}\n  endpoint: 10.0.1.2:")), "{wg}");
    assert!(
        wg.contains("  allowed ips: 10.9.0.1/32\n  latest handshake: "),
        "{wg}"
    );
    let none = find(&r, "a", "wg show nosuch", 0);
    assert_eq!(none.stderr, ["Unable to access interface: No such device"]);
    assert_eq!(none.exit, Some(1));
}

/// `wg show` lists peers as wireguard-tools' pretty print sorts them:
/// those with a handshake first, newest first, then the rest.
#[test]
fn wg_show_lists_the_peer_with_a_handshake_first() {
    // A peer that never answers, configured before the one that does.
    let quiet = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
    let server = format!(
        "tunnel wg t0 10.9.0.2/24 --private-key {KEY_B} --listen-port 7000 --peer {quiet} --allowed-ips 10.9.0.3 --peer {PUB_A} --allowed-ips 10.9.0.1"
    );
    let (_, client) = ends("wg");
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", &server),
            ("0s", "a", &client),
            ("1s", "a", "ping -c 1 10.9.0.2"),
            ("3s", "b", "wg show t0"),
        ],
    );
    assert_eq!(find(&r, "a", "ping -c 1 10.9.0.2", 0).exit, Some(0));
    let wg = find(&r, "b", "wg show t0", 0).stdout.join("\n");
    let a = wg.find(&format!("peer: {PUB_A}")).expect(&wg);
    let q = wg.find(&format!("peer: {quiet}")).expect(&wg);
    assert!(a < q, "{wg}");
}

#[test]
fn a_wireguard_peer_that_vanishes_is_reported_unreachable() {
    let (server, client) = ends("wg");
    let mut text = net("");
    text.push_str("\n[[run]]\nat = \"10s\"\nlink = \"r-b\"\ndown = true\n");
    let r = run_in(
        &text,
        &[
            ("0s", "b", &server),
            ("0s", "a", &client),
            ("1s", "a", "ping -c 2 10.9.0.2"),
            ("11s", "a", "ping -c 5 10.9.0.2"),
            ("200s", "a", "wg show"),
        ],
    );
    assert_eq!(find(&r, "a", "ping -c 2 10.9.0.2", 0).exit, Some(0));
    assert_eq!(find(&r, "a", "ping -c 5 10.9.0.2", 0).exit, Some(1));
    let wg = find(&r, "a", "wg show", 0).stdout.join("\n");
    assert!(
        wg.contains("(handshake gave up after 90 seconds: peer unreachable)"),
        "{wg}"
    );
}

#[test]
fn wg_keys_as_wireguard_tools_make_them() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "a", "wg genkey"),
            ("0s", "a", "wg genpsk"),
            ("0s", "a", &format!("echo {KEY_A} | wg pubkey")),
            ("0s", "a", "echo not-a-key | wg pubkey"),
        ],
    );
    for cmd in ["wg genkey", "wg genpsk"] {
        let k = &find(&r, "a", cmd, 0).stdout[0];
        assert_eq!(k.len(), 44, "{cmd}: {k}");
        assert!(k.ends_with('='), "{cmd}: {k}");
    }
    // wg(8)'s example pair.
    assert_eq!(
        find(&r, "a", &format!("echo {KEY_A} | wg pubkey"), 0).stdout,
        [PUB_A]
    );
    let bad = find(&r, "a", "echo not-a-key | wg pubkey", 0);
    assert_eq!(bad.stderr, ["wg: Key is not the correct length or format"]);
    assert_eq!(bad.exit, Some(1));
    let set = tcplab_tools::Command::parse("wg set t0 listen-port 1").unwrap_err();
    assert!(
        set.message
            .starts_with("`wg set` is not supported in tcplab"),
        "{set:?}"
    );
    let sub = tcplab_tools::Command::parse("wg frobnicate").unwrap_err();
    assert_eq!(sub.status, 1);
    assert!(
        sub.message.contains("Invalid subcommand: `frobnicate'"),
        "{sub:?}"
    );
    // A subcommand given more than it takes prints its own usage line,
    // as wg does.
    let extra = tcplab_tools::Command::parse("wg genkey extra").unwrap_err();
    assert_eq!(
        (extra.status, extra.printed().0.as_str()),
        (1, "Usage: wg genkey\n")
    );
    let show = tcplab_tools::Command::parse("wg show a b c").unwrap_err();
    assert!(show.printed().0.starts_with("Usage: wg show {"), "{show:?}");
}

#[test]
fn tunnel_mtu_accounts_for_the_outer_headers_and_big_df_datagrams_get_frag_needed() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", "tunnel udp t0 10.9.0.2/24 -l 7000"),
            ("0s", "a", "tunnel udp t0 10.9.0.1/24 -c 10.0.2.2:7000"),
            ("0s", "a", "tunnel tcp t1 10.8.0.1/24 -c 10.0.2.2:7001"),
            ("1s", "a", "tunnel show"),
            // 1472 of ICMP data makes a 1500-byte datagram: too big for
            // the 1472-byte tunnel, and ping sets DF.
            ("2s", "a", "ping -c 1 -M do -s 1472 10.9.0.2"),
            ("3s", "a", "ping -c 1 -M do -s 1444 10.9.0.2"),
        ],
    );
    let show = find(&r, "a", "tunnel show", 0).stdout.join("\n");
    assert!(show.contains("t0: udp 10.9.0.1/24 mtu 1472 up"), "{show}");
    assert!(show.contains("t1: tcp 10.8.0.1/24 mtu 1446 up"), "{show}");
    let big = find(&r, "a", "ping -c 1 -M do -s 1472 10.9.0.2", 0);
    assert_eq!(big.exit, Some(1), "{big:?}");
    let text = format!("{}\n{}", big.stdout.join("\n"), big.stderr.join("\n"));
    assert!(text.contains("message too long, mtu=1472"), "{text}");
    let fits = find(&r, "a", "ping -c 1 -M do -s 1444 10.9.0.2", 0);
    assert_eq!(fits.exit, Some(0), "{fits:?}");
}

#[test]
fn udp_over_tcp_relays_carry_udp_both_ways() {
    // nc -u on b echoes through the relay pair: a's UDP to its local
    // udp2tcp, over TCP port 443 to b's tcp2udp, to b's UDP server.
    let r = run_in(
        &net("loss = \"2%\""),
        &[
            ("0s", "b", "serve echo"),
            (
                "0s",
                "b",
                "tunnel tcp2udp --tcp-listen 443 --udp-forward 127.0.0.1:7",
            ),
            (
                "0s",
                "a",
                "tunnel udp2tcp --udp-listen 5000 --tcp-forward 10.0.2.2:443",
            ),
            (
                "1s",
                "a",
                "echo hello through tcp | nc -u -w 2 127.0.0.1 5000",
            ),
            ("5s", "a", "ss -tn"),
        ],
    );
    let nc = find(
        &r,
        "a",
        "echo hello through tcp | nc -u -w 2 127.0.0.1 5000",
        0,
    );
    assert_eq!(nc.stdout, ["hello through tcp"], "{nc:?}");
    let ss = find(&r, "a", "ss -tn", 0).stdout.join("\n");
    assert!(
        ss.contains("10.0.2.2:443"),
        "the relay's TCP connection: {ss}"
    );
}

#[test]
fn bad_command_lines_get_one_clear_line() {
    let cases = [
        ("tunnel", "which tunnel?"),
        ("tunnel gre t0 10.0.0.1/24", "unknown tunnel kind `gre`"),
        (
            "tunnel tcp t0 10.0.0.1 -l 1",
            "`10.0.0.1` is not an address with a prefix length",
        ),
        (
            "tunnel tcp t0 10.0.0.1/24",
            "exactly one of -l PORT and -c HOST:PORT",
        ),
        ("tunnel tcp t0 10.0.0.1/24 -l 0", "invalid port `0`"),
        ("tunnel udp t0 10.0.0.1/24 -c nowhere", "expected HOST:PORT"),
        (
            "tunnel udp t0 10.0.0.1/24 -c [::1]:7000",
            "--connect: `[::1]:7000` is an IPv6 endpoint; tcplab's stack is IPv4 only",
        ),
        (
            "tunnel wg t0 10.0.0.1/24 --private-key yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk= --peer HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw= --endpoint fe80::1:51820",
            "--endpoint: `fe80::1:51820` is an IPv6 endpoint",
        ),
        (
            "tunnel tcp this-name-is-too-long 10.0.0.1/24 -l 1",
            "not a valid interface name",
        ),
        ("tunnel tcp t0 10.0.0.1/24 -l 1 --mtu 20", "not an MTU"),
        (
            "tunnel udp2tcp --udp-listen 5",
            "needs --udp-listen PORT and --tcp-forward",
        ),
    ];
    for (cmd, want) in cases {
        let u = tcplab_tools::Command::parse(cmd).expect_err(cmd);
        assert!(u.to_string().contains(want), "{cmd}: {u}");
        assert_eq!(u.status, 2, "{cmd}");
    }
}

#[test]
fn a_second_tunnel_of_the_same_name_or_address_is_refused() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "a", "tunnel udp t0 10.9.0.1/24 -l 7000"),
            ("1s", "a", "tunnel udp t0 10.9.0.1/24 -l 7001"),
            ("1s", "a", "tunnel udp eth0 10.7.0.1/24 -l 7002"),
            ("1s", "a", "tunnel udp t1 10.0.1.2/24 -l 7003"),
        ],
    );
    let busy = find(&r, "a", "tunnel udp t0 10.9.0.1/24 -l 7001", 0);
    assert_eq!(busy.stderr, ["tunnel: t0 is in use by another tunnel"]);
    assert_eq!(busy.exit, Some(1));
    let eth = find(&r, "a", "tunnel udp eth0 10.7.0.1/24 -l 7002", 0);
    assert_eq!(eth.stderr, ["tunnel: eth0 exists and is not a tunnel"]);
    let dup = find(&r, "a", "tunnel udp t1 10.0.1.2/24 -l 7003", 0);
    assert_eq!(
        dup.stderr,
        ["tunnel: t1: address 10.0.1.2 is already assigned to this host"]
    );
}

#[test]
fn ip_lists_the_tunnel_interface_its_counters_and_routes() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", "tunnel udp t0 10.9.0.2/24 -l 7000"),
            (
                "0s",
                "a",
                "tunnel udp t0 10.9.0.1/24 -c 10.0.2.2:7000 --route 10.99.0.0/16",
            ),
            ("1s", "a", "ping -c 2 -q 10.9.0.2"),
            ("4s", "a", "ip addr"),
            ("4s", "a", "ip -s link show t0"),
            ("4s", "a", "ip route"),
            ("4s", "a", "ip link show nosuch"),
            ("4s", "a", "ip -s -s link show t0"),
        ],
    );
    // -s -s: each direction's error details beneath its counters, in
    // iproute2 6.1's columns.
    let details = &find(&r, "a", "ip -s -s link show t0", 0).stdout;
    assert_eq!(details.len(), 10, "{details:?}");
    assert_eq!(
        details[4],
        "    RX errors:  length    crc   frame    fifo overrun"
    );
    assert_eq!(
        details[5],
        "                     0      0       0       0       0 "
    );
    assert_eq!(
        details[8],
        "    TX errors: aborted   fifo  window heartbt transns"
    );
    let addr = find(&r, "a", "ip addr", 0).stdout.join("\n");
    assert!(
        addr.contains(
            "3: t0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1472 qdisc noqueue state UNKNOWN group default qlen 500\n    link/none \n    inet 10.9.0.1/24 scope global t0\n"
        ),
        "{addr}"
    );
    assert!(
        addr.contains("    inet 10.0.1.2/24 brd 10.0.1.255 scope global eth0\n"),
        "{addr}"
    );
    let link = &find(&r, "a", "ip -s link show t0", 0).stdout;
    assert_eq!(link[0], "3: t0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1472 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 500");
    // Two echo requests out, two replies in, 84 bytes each.
    let nums = |l: &str| -> Vec<u64> { l.split_whitespace().map(|w| w.parse().unwrap()).collect() };
    assert_eq!(nums(&link[3])[..2], [168, 2], "{link:?}");
    assert_eq!(nums(&link[5])[..2], [168, 2], "{link:?}");
    let routes = &find(&r, "a", "ip route", 0).stdout;
    assert!(
        routes.contains(&"10.99.0.0/16 dev t0 scope link ".to_string()),
        "{routes:?}"
    );
    assert!(
        routes.contains(&"10.9.0.0/24 dev t0 proto kernel scope link src 10.9.0.1 ".to_string()),
        "{routes:?}"
    );
    assert!(
        routes.contains(&"default via 10.0.1.1 dev eth0 ".to_string()),
        "{routes:?}"
    );
    let none = find(&r, "a", "ip link show nosuch", 0);
    assert_eq!(none.stderr, ["Device \"nosuch\" does not exist."]);
    assert_eq!(none.exit, Some(1));
}

#[test]
fn a_tunnel_mtu_above_the_path_makes_the_outer_datagrams_fragment() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", "tunnel udp t0 10.9.0.2/24 -l 7000 --mtu 1500"),
            (
                "0s",
                "a",
                "tunnel udp t0 10.9.0.1/24 -c 10.0.2.2:7000 --mtu 1500",
            ),
            ("0.5s", "b", "tcpdump -n -v -c 2 -i eth0"),
            ("1s", "a", "ping -c 1 -M do -s 1472 10.9.0.2"),
        ],
    );
    // The inner datagram fits the tunnel (1500); the outer one (1528)
    // does not fit the path, and outer IP fragments it.
    assert_eq!(
        find(&r, "a", "ping -c 1 -M do -s 1472 10.9.0.2", 0).exit,
        Some(0)
    );
    // -v: each datagram's IP header line, then its contents.
    let dump = &find(&r, "b", "tcpdump -n -v -c 2 -i eth0", 0).stdout;
    assert!(
        dump[0].contains("offset 0, flags [+], proto UDP (17), length 1500"),
        "{dump:?}"
    );
    assert!(
        dump[2].contains("offset 1480, flags [none], proto UDP (17), length 48"),
        "{dump:?}"
    );
    assert!(
        dump[3].ends_with("10.0.1.2 > 10.0.2.2: ip-proto-17"),
        "{dump:?}"
    );
}

/// The outer path narrower than the link a tunnel leaves by: WireGuard and
/// the UDP tunnel send their datagrams with DF clear (as the Linux
/// WireGuard module does), so the router before the narrow link fragments
/// them — the first datagram through arrives, rather than being dropped
/// with a "fragmentation needed" to the tunnel end, which the inner sender
/// never hears of.
#[test]
fn udp_tunnels_cross_a_narrower_outer_path_from_the_first_datagram() {
    for kind in ["wg", "udp"] {
        let (listen, connect) = ends(kind);
        let ping = "ping -c 1 -W 2 -M do -s 1400 10.9.0.2";
        let r = run_in(
            &net("mtu = 1400"),
            &[
                ("0s", "b", listen.as_str()),
                ("0s", "a", connect.as_str()),
                ("1s", "a", ping),
            ],
        );
        let p = find(&r, "a", ping, 0);
        assert_eq!(p.exit, Some(0), "{kind}: {p:?}");
    }
}

/// The listening end of a TCP tunnel, whose interfaces differ, takes the
/// MTU of the path to the peer that called once it knows it, so both ends
/// agree and full-sized frames cross both ways.
#[test]
fn a_listening_tunnel_takes_the_mtu_of_its_peers_path() {
    let net = r#"
seed = 1
[[host]]
name = "a"
addr = "10.0.0.1/24"
[[router]]
name = "b"
addrs = ["10.0.0.2/24", "10.0.5.1/24"]
[[host]]
name = "c"
addr = "10.0.5.2/24"
[[link]]
ends = ["a", "b"]
delay = "5ms"
mtu = 1400
[[link]]
ends = ["b", "c"]
"#;
    let r = run_in(
        net,
        &[
            ("0s", "b", "tunnel tcp t0 10.8.0.2/24 -l 7001"),
            ("0s", "a", "tunnel tcp t0 10.8.0.1/24 -c 10.0.0.2:7001"),
            ("1s", "b", "ping -c 2 -s 1380 10.8.0.1"),
            ("4s", "a", "ping -c 2 -M do -s 1318 10.8.0.2"),
        ],
    );
    let listener = find(&r, "b", "tunnel tcp t0 10.8.0.2/24 -l 7001", 0);
    assert_eq!(listener.stdout[0], "t0: tcp tunnel 10.8.0.2/24 mtu 1446");
    assert_eq!(listener.stdout[1], "t0: mtu 1346 for the path to 10.0.0.1");
    let caller = find(&r, "a", "tunnel tcp t0 10.8.0.1/24 -c 10.0.0.2:7001", 0);
    assert_eq!(caller.stdout[0], "t0: tcp tunnel 10.8.0.1/24 mtu 1346");
    // 1318 + 28 = 1346: a full frame; 1408 bytes are fragmented to fit
    // (they were sent whole, and the caller refused them as oversize).
    for (host, cmd) in [
        ("b", "ping -c 2 -s 1380 10.8.0.1"),
        ("a", "ping -c 2 -M do -s 1318 10.8.0.2"),
    ] {
        let p = find(&r, host, cmd, 0);
        assert_eq!(p.exit, Some(0), "{cmd}: {:?}", p.stdout);
    }
}

/// The commonest WireGuard mistake, a peer configured with the wrong
/// public key: its handshakes verify (mac1 is keyed by our own key) but
/// name a static key we do not know, and `tunnel show` counts them.
#[test]
fn wireguard_counts_handshakes_from_an_unknown_peer() {
    let (server, client) = ends("wg");
    // b expects a peer with another key than a's.
    let server = server.replace(
        &format!("--peer {PUB_A}"),
        "--peer xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
    );
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", &server),
            ("0s", "a", &client),
            ("1s", "a", "ping -c 1 -W 1 10.9.0.2"),
            ("4s", "b", "tunnel show"),
        ],
    );
    assert_eq!(find(&r, "a", "ping -c 1 -W 1 10.9.0.2", 0).exit, Some(1));
    let show = find(&r, "b", "tunnel show", 0).stdout.join("\n");
    let unknown: u64 = show
        .split("unknown peer ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(unknown > 0, "{show}");
}

/// A route through the tunnel that covers the tunnel's own endpoint: the
/// outer datagrams would go back into the tunnel for ever (and time would
/// never pass). They are dropped and counted, as Linux's ip_tunnel_xmit
/// and WireGuard drop a routing loop.
#[test]
fn a_tunnel_routed_into_itself_drops_the_loop_and_counts_it() {
    for kind in ["udp", "wg"] {
        let (b_end, a_end) = ends(kind);
        let a_end = format!("{a_end} --route 10.0.2.0/24");
        let r = run_in(
            &net(""),
            &[
                ("0s", "b", &b_end),
                ("0s", "a", &a_end),
                ("1s", "a", "ping -c 2 -W 1 10.9.0.2"),
                ("5s", "a", "tunnel show"),
            ],
        );
        let ping = find(&r, "a", "ping -c 2 -W 1 10.9.0.2", 0);
        assert_eq!(ping.exit, Some(1), "{kind}: {}", ping.out());
        let show = find(&r, "a", "tunnel show", 0).stdout.join("\n");
        let loops: u64 = show
            .split("routing loop ")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{kind}: no loop count in {show}"));
        assert!(loops > 0, "{kind}: {show}");
    }
}

/// A TCP tunnel's listening end serves one connection at a time, with no
/// authentication: a connection that got there first and sends nothing
/// loses its place to the next caller after ten silent seconds, so the
/// real peer (which calls again when turned away) is not kept out.
#[test]
fn a_silent_connection_does_not_keep_the_tcp_tunnels_peer_out() {
    let r = run_in(
        &net(""),
        &[
            ("0s", "b", "tunnel tcp t0 10.8.0.2/24 -l 7001"),
            ("500ms", "a", "nc -d 10.0.2.2 7001"),
            ("1s", "a", "tunnel tcp t0 10.8.0.1/24 -c 10.0.2.2:7001"),
            ("20s", "a", "ping -c 2 10.8.0.2"),
        ],
    );
    let ping = find(&r, "a", "ping -c 2 10.8.0.2", 0);
    assert_eq!(ping.exit, Some(0), "{ping:?}");
    let listener = find(&r, "b", "tunnel tcp t0 10.8.0.2/24 -l 7001", 0);
    assert!(
        listener
            .stdout
            .iter()
            .any(|l| l.contains("silent for 10 s: its place goes to 10.0.1.2:")),
        "{:?}",
        listener.stdout
    );
    // Turned away, the caller backs off (1, 2, 4, 8 s) rather than
    // calling again every round trip.
    let caller = find(&r, "a", "tunnel tcp t0 10.8.0.1/24 -c 10.0.2.2:7001", 0);
    let again: Vec<_> = caller
        .stdout
        .iter()
        .filter(|l| l.contains("; calling again in "))
        .collect();
    assert!(
        (1..=5).contains(&again.len()) && again[0].ends_with("calling again in 1 s"),
        "{:?}",
        caller.stdout
    );
}

/// A `tcp2udp` relay serves `RELAY_MAX` connections at once (each holds
/// a UDP port and buffers): connections beyond that take the places of
/// the ones idle longest, so a crowd of idle connections neither grows
/// the relay without bound nor keeps a real client out.
#[test]
fn a_crowd_of_idle_connections_does_not_lock_the_relay() {
    let crowd: Vec<String> = (0..tcplab_tools::tunnel::relay::RELAY_MAX + 20)
        .map(|i| format!("nc -d -w {} 10.0.2.2 443", 100 + i))
        .collect();
    let mut runs: Vec<(&str, &str, &str)> = vec![
        ("0s", "b", "serve echo"),
        (
            "0s",
            "b",
            "tunnel tcp2udp --tcp-listen 443 --udp-forward 127.0.0.1:7",
        ),
        (
            "0s",
            "a",
            "tunnel udp2tcp --udp-listen 5000 --tcp-forward 10.0.2.2:443",
        ),
    ];
    runs.extend(crowd.iter().map(|c| ("500ms", "a", c.as_str())));
    runs.push((
        "2s",
        "a",
        "echo hello past the crowd | nc -u -w 2 127.0.0.1 5000",
    ));
    runs.push(("5s", "b", "ss -tn state established sport = :443"));
    let r = run_in(&net(""), &runs);
    let nc = find(
        &r,
        "a",
        "echo hello past the crowd | nc -u -w 2 127.0.0.1 5000",
        0,
    );
    assert_eq!(nc.stdout, ["hello past the crowd"], "{nc:?}");
    let held = find(&r, "b", "ss -tn state established sport = :443", 0)
        .stdout
        .len()
        .saturating_sub(1);
    assert!(
        held <= tcplab_tools::tunnel::relay::RELAY_MAX,
        "{held} connections held"
    );
}

/// A key file is read only as far as a key can go: a huge one (or a
/// device, over TUN) is refused in one line, not read whole.
#[test]
fn a_key_file_longer_than_a_key_is_refused() {
    let net = format!(
        "{}\n[[file]]\non = \"a\"\npath = \"/etc/big.key\"\nsize = \"1MB\"\n",
        net("")
    );
    let cmd = format!("tunnel wg w0 10.9.0.1/24 --private-key /etc/big.key --peer {PUB_B}");
    let r = run_in(&net, &[("0s", "a", cmd.as_str())]);
    let t = find(&r, "a", &cmd, 0);
    assert_eq!(t.exit, Some(1), "{t:?}");
    assert_eq!(
        t.stderr,
        ["tunnel: key file /etc/big.key: longer than a key"]
    );
}

/// `wg pubkey` reads as wireguard-tools' pubkey.c: the first 44 bytes are
/// the key, only whitespace may follow ("Trailing characters found after
/// key", also for leading spaces, which push the key's end out); `wg
/// show interfaces` names the WireGuard interfaces; `wg --version`
/// answers; a persistent keepalive of `off` or 0 is none.
#[test]
fn wg_reads_and_answers_as_wireguard_tools() {
    let up = format!(
        "tunnel wg w0 10.9.0.1/24 --private-key {KEY_A} --peer {PUB_B} --persistent-keepalive off"
    );
    let r = run_in(
        &net(""),
        &[
            ("0s", "a", &format!("echo '{KEY_A} extra' | wg pubkey")),
            ("0s", "b", &format!("echo '  {KEY_A}' | wg pubkey")),
            ("1s", "a", &format!("echo {KEY_A} | wg pubkey")),
            ("1s", "b", "wg --version"),
            ("2s", "a", &up),
            ("3s", "a", "wg show interfaces"),
            ("3s", "b", "wg show interfaces"),
        ],
    );
    for ran in &r[..2] {
        assert_eq!(ran.exit, Some(1), "{ran:?}");
        assert_eq!(ran.stderr, ["wg: Trailing characters found after key"]);
    }
    assert_eq!(r[2].stdout, [PUB_A]);
    assert_eq!(r[3].exit, Some(0));
    assert!(r[3].stdout[0].contains("wireguard-tools"), "{:?}", r[3]);
    assert!(r[4].stderr.is_empty(), "{:?}", r[4]);
    assert_eq!(r[5].stdout, ["w0"]);
    assert!(r[6].stdout.is_empty());
}

/// Keys and lists `wg set` would not take: a key file that holds no key
/// is named, the all-zero key (WireGuard's "no key") is refused, and an
/// empty element in `--allowed-ips` is an address that does not parse
/// (at load, in the scenario's words).
#[test]
fn bad_keys_and_allowed_ips_are_refused() {
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let with_file = format!(
        "{}\n[[file]]\non = \"a\"\npath = \"/etc/bad.key\"\ntext = \"not a key\\n\"\n",
        net("")
    );
    let from_file = format!("tunnel wg w0 10.9.0.1/24 --private-key /etc/bad.key --peer {PUB_B}");
    let zeroed = format!("tunnel wg w1 10.9.1.1/24 --private-key {zero} --peer {PUB_B}");
    let r = run_in(
        &with_file,
        &[
            ("0s", "a", from_file.as_str()),
            ("0s", "a", zeroed.as_str()),
        ],
    );
    let t = find(&r, "a", &from_file, 0);
    assert_eq!(t.exit, Some(1), "{t:?}");
    assert!(
        t.stderr.len() == 1 && t.stderr[0].starts_with("tunnel: private key file /etc/bad.key: "),
        "{t:?}"
    );
    let t = find(&r, "a", &zeroed, 0);
    assert_eq!(t.exit, Some(1), "{t:?}");
    assert_eq!(
        t.stderr,
        ["tunnel: private key: all zero, which WireGuard takes for no key"]
    );
    let empty = format!(
        "tunnel wg w0 10.9.0.1/24 --private-key {KEY_A} --peer {PUB_B} --allowed-ips 10.9.0.2/32,,"
    );
    let text = format!(
        "{}\n[[run]]\nat = \"0s\"\non = \"a\"\ncmd = \"{empty}\"\n",
        net("")
    );
    let e = tcplab_sim::load_checked("t.toml", &text, &|c| {
        tcplab_sim::Commands::check(&tcplab_tools::Tools, c)
    })
    .expect_err("an empty element is refused");
    assert!(e.to_string().contains("--allowed-ips ``"), "{e}");
}

/// An option `tunnel` does not know is named as such wherever it stands,
/// and an argument too many as one too many (not as one missing).
#[test]
fn unknown_options_and_extra_arguments_are_named() {
    for (cmd, message) in [
        (
            format!("tunnel wg w0 10.9.0.1/24 --private-key {KEY_A} --peer {PUB_B} --bogus"),
            "unrecognized option '--bogus'",
        ),
        (
            format!("tunnel wg w0 10.9.0.1/24 --private-key {KEY_A} --peer {PUB_B} extra"),
            "tunnel wg: unexpected argument 'extra'",
        ),
        (
            "tunnel udp t0 10.9.0.1/24 -l 7000 extra".to_string(),
            "tunnel udp: unexpected argument 'extra'",
        ),
    ] {
        let text = format!(
            "{}\n[[run]]\nat = \"0s\"\non = \"a\"\ncmd = \"{cmd}\"\n",
            net("")
        );
        let e = tcplab_sim::load_checked("t.toml", &text, &|c| {
            tcplab_sim::Commands::check(&tcplab_tools::Tools, c)
        })
        .expect_err("refused");
        assert!(e.to_string().contains(message), "{cmd}: {e}");
    }
}
