//! ss and netstat on a network with connections in several states
//! (tool-formats.md §1.4, §1.5).

mod common;

use common::{run_in, Ran, NET};

/// A slow first link, a server with TCP and UDP services, a bulk transfer
/// in progress and a finished exchange in TIME-WAIT at 1.5 s.
fn busy(cmds: &[(&str, &str)]) -> Vec<Ran> {
    busy_with(cmds, "")
}

/// `busy`, with `[host.tcp]` settings for the client.
fn busy_with(cmds: &[(&str, &str)], client_tcp: &str) -> Vec<Ran> {
    let net = NET
        .replace(
            "ends = [\"client\", \"r1\"]\ndelay = \"100us\"",
            "ends = [\"client\", \"r1\"]\ndelay = \"10ms\"\nrate = \"10Mbit\"",
        )
        .replace(
            "gateway = \"10.99.1.1\"\n",
            &format!("gateway = \"10.99.1.1\"\n{client_tcp}\n"),
        );
    let mut runs = vec![
        ("0s", "server", "serve discard"),
        ("0s", "server", "serve echo"),
        ("1s", "client", "transfer -s 2MB server"),
        ("1s", "client", "echo hi | nc server 7"),
    ];
    for (host, cmd) in cmds {
        runs.push(("1.5s", host, cmd));
    }
    let mut r = run_in(&net, &runs);
    r.drain(..4);
    r
}

#[test]
fn ss_tables() {
    let r = busy(&[
        ("server", "ss -tln"),
        ("server", "ss -ua"),
        ("client", "ss -tan"),
        ("client", "ss -t"),
        ("client", "ss -tn state established"),
        ("client", "ss -tan '( dport = :echo )'"),
        ("client", "ss -tanp"),
        ("client", "ss -tn state connected"),
        ("client", "ss -tn state established state time-wait"),
        ("server", "ss -tuln"),
    ]);
    // Both families: UDP before TCP, as iproute2 lists them (udp_show,
    // then tcp_show), with the Netid column.
    let netids: Vec<&str> = r[9].stdout[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(netids, ["udp", "udp", "tcp", "tcp"], "{:?}", r[9].stdout);
    assert_eq!(
        r[0].stdout,
        [
            "State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess",
            "LISTEN 0      128          0.0.0.0:9         0.0.0.0:*          ",
            "LISTEN 0      128          0.0.0.0:7         0.0.0.0:*          ",
        ]
    );
    assert_eq!(
        r[1].stdout,
        [
            "State  Recv-Q Send-Q Local Address:Port    Peer Address:PortProcess",
            "UNCONN 0      0            0.0.0.0:discard      0.0.0.0:*          ",
            "UNCONN 0      0            0.0.0.0:echo         0.0.0.0:*          ",
        ]
    );
    let tan = &r[2].stdout;
    assert_eq!(
        tan[0],
        "State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess"
    );
    assert!(
        tan[1].starts_with("ESTAB     0      262144     10.99.1.2:"),
        "{tan:?}"
    );
    assert!(tan[1].contains("    10.99.3.2:9 "), "{tan:?}");
    assert!(
        tan[2].starts_with("TIME-WAIT 0      0          10.99.1.2:"),
        "{tan:?}"
    );
    // Without -a, TIME-WAIT is hidden; without -n, ports are named.
    assert_eq!(r[3].stdout.len(), 2, "{:?}", r[3].stdout);
    assert!(
        r[3].stdout[1].contains("10.99.3.2:discard"),
        "{:?}",
        r[3].stdout
    );
    // A filter that leaves one state drops the State column; a group of
    // states or two names keep it (iproute2 checks for a single state).
    assert!(r[4].stdout[0].starts_with("Recv-Q Send-Q Local Address:Port"));
    assert_eq!(r[4].stdout.len(), 2);
    for more in &r[7..9] {
        assert!(more.stdout[0].starts_with("State "), "{:?}", more.stdout);
        assert_eq!(more.stdout.len(), 3, "{:?}", more.stdout);
    }
    assert_eq!(
        r[5].stdout.len(),
        2,
        "only the echo connection: {:?}",
        r[5].stdout
    );
    assert!(r[5].stdout[1].starts_with("TIME-WAIT"));
    assert!(
        r[6].stdout[1].contains("users:((\"transfer\",pid=100,fd=3))"),
        "{:?}",
        r[6].stdout
    );
    assert!(
        !r[6].stdout[2].contains("users:"),
        "TIME-WAIT belongs to nobody"
    );
}

#[test]
fn ss_internals_timers_and_summary() {
    let r = busy(&[
        ("client", "ss -tio"),
        ("client", "ss -s"),
        ("client", "ss -tne"),
        ("client", "ss -tnm"),
        ("server", "ss -Hltn"),
        ("client", "ss -tnaie"),
        ("server", "ss -Hltm"),
        ("server", "ss -Hlti"),
    ]);
    // A listener's -i line: the algorithm its connections get and the
    // initial window, as Linux's tcp_diag gives them.
    assert_eq!(r[7].stdout[1], "\t cubic cwnd:10", "{:?}", r[7].stdout);
    // A listener's queues are connections, not memory: r0 and w0.
    assert!(
        r[6].stdout[1].starts_with("\t skmem:(r0,rb") && r[6].stdout[1].contains(",f0,w0,o0,"),
        "{:?}",
        r[6].stdout
    );
    let lines = &r[0].stdout;
    assert!(lines[1].contains(" timer:(on,"), "{lines:?}");
    let info = &lines[2];
    // iproute2's order; with -o the options agreed come first.
    let mut at = 0;
    for field in [
        "\t ts sack cubic wscale:",
        " rto:",
        " rtt:",
        // (advmss less the timestamp option, as Linux keeps tp->advmss.)
        " mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:",
        " bytes_sent:",
        " bytes_acked:",
        " segs_out:",
        " segs_in:",
        " data_segs_out:",
        " send ",
        // It has received no data: since the handshake.
        " lastrcv:",
        " delivery_rate ",
        " delivered:",
        // It has had data to send since it connected.
        " busy:",
        " unacked:",
        // The sender's buffer is full: some of it waits unsent.
        " notsent:",
        " minrtt:",
        " snd_wnd:",
    ] {
        let Some(i) = info[at..].find(field) else {
            panic!("{field:?} missing from {info:?} after byte {at}");
        };
        at += i + field.len();
    }
    // Linux 6.1 prints neither of these.
    assert!(
        !info.contains("recovery") && !info.contains("rcv_wnd"),
        "{info}"
    );
    assert_eq!(
        r[1].stdout[..2],
        [
            "Total: 2",
            // TIME-WAIT is not an orphan (Linux counts them apart).
            "TCP:   2 (estab 1, closed 1, orphaned 0, timewait 1)"
        ]
    );
    assert_eq!(r[1].stdout[3], "Transport Total     IP        IPv6");
    // -e: inode, socket cookie, both directions open.
    let e = &r[2].stdout[1];
    assert!(
        e.starts_with("ESTAB 0      262144     10.99.1.2:") && e.ends_with(" <->"),
        "{e}"
    );
    assert!(e.contains(" ino:2") && e.contains(" sk:1"), "{e}");
    // -e sets iproute2's show_options too: the timer, before the details.
    assert!(
        e.contains(" timer:(on,") && e.find(" timer:") < e.find(" ino:"),
        "{e}"
    );
    // -m: the memory line under the socket.
    assert!(
        r[3].stdout[2].starts_with("\t skmem:(r0,rb262144,t")
            && r[3].stdout[2].contains(",tb262144,f0,w262144,o0,bl0,d0)"),
        "{:?}",
        r[3].stdout
    );
    // -H: no header, and the columns as wide as the rows alone.
    assert_eq!(
        r[4].stdout,
        [
            "LISTEN 0      128    0.0.0.0:9 0.0.0.0:*",
            "LISTEN 0      128    0.0.0.0:7 0.0.0.0:*",
        ]
    );
    // TIME-WAIT: no inode, no shutdown arrows, no TCP_INFO line.
    let all = &r[5].stdout;
    let tw = all.iter().position(|l| l.starts_with("TIME-WAIT")).unwrap();
    assert!(
        all[tw].contains(" timer:(timewait,") && all[tw].contains(" ino:0 sk:"),
        "{all:?}"
    );
    assert!(!all[tw].contains("<"), "{all:?}");
    assert!(
        !all.get(tw + 1).is_some_and(|l| l.starts_with('\t')),
        "{all:?}"
    );
}

/// BBR's model in `ss -i` (iproute2's `bbr:(bw:...,mrtt:...,pacing_gain:
/// ...,cwnd_gain:...)` and the pacing rate), rates with units unless
/// `-n`; no `ts sack` words without `-o`.
#[test]
fn ss_shows_bbr_and_rates() {
    let r = busy_with(
        &[("client", "ss -ti"), ("client", "ss -tin")],
        "[host.tcp]\ncongestion = \"bbr\"",
    );
    let info = &r[0].stdout[2];
    assert!(info.starts_with("\t bbr wscale:"), "{info}");
    let bbr = info
        .split_once(" bbr:(bw:")
        .map(|(_, rest)| rest.split_once(')').unwrap().0)
        .unwrap_or_else(|| panic!("no bbr:( in {info}"));
    // 10 Mbit/s at the bottleneck: the model is close to it.
    let (bw, rest) = bbr.split_once("bps,mrtt:").unwrap();
    let mbps: f64 = bw
        .strip_suffix('M')
        .unwrap_or_else(|| panic!("{bw}"))
        .parse()
        .unwrap();
    assert!((8.0..=10.5).contains(&mbps), "{bbr}");
    assert!(
        rest.contains(",pacing_gain:") && rest.contains(",cwnd_gain:"),
        "{bbr}"
    );
    assert!(
        info.contains(" pacing_rate ") && info.contains("Mbps"),
        "{info}"
    );
    let numeric = &r[1].stdout[2];
    let raw = numeric.split_once(" bbr:(bw:").unwrap().1;
    assert!(
        raw.split_once("bps").unwrap().0.parse::<u64>().is_ok(),
        "{numeric}"
    );
}

#[test]
fn netstat_tables() {
    let r = busy(&[
        ("client", "netstat -tan"),
        ("client", "netstat -ta"),
        ("client", "netstat -tanpo"),
        ("client", "netstat -rn"),
        ("client", "netstat -i"),
        ("server", "netstat -lnu"),
        ("client", "netstat -s"),
        ("client", "netstat -s -t"),
        ("client", "netstat --statistics --udp"),
        ("client", "netstat -ta --numeric-ports"),
        ("client", "netstat -tae"),
        ("client", "netstat -tnep"),
        ("client", "netstat -ie"),
        ("client", "netstat -rne"),
    ]);
    // -e: net-tools' metric, reference and use columns (checked against
    // the real netstat -rne).
    assert_eq!(
        r[13].stdout,
        [
            "Kernel IP routing table",
            "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface",
            "0.0.0.0         10.99.1.1       0.0.0.0         UG    0      0        0 eth0",
            "10.99.1.0       0.0.0.0         255.255.255.0   U     0      0        0 eth0",
        ]
    );
    let tan = &r[0].stdout;
    assert_eq!(
        tan[0],
        "Active Internet connections (servers and established)"
    );
    assert_eq!(
        tan[1],
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State      "
    );
    assert!(
        tan[2].starts_with("tcp        0 262144 10.99.1.2:"),
        "{tan:?}"
    );
    assert!(
        tan[2].contains("10.99.3.2:9             ESTABLISHED"),
        "{tan:?}"
    );
    assert!(
        tan[3].contains("10.99.3.2:7             TIME_WAIT"),
        "{tan:?}"
    );
    // Without -n, netstat names hosts and ports.
    assert!(
        r[1].stdout[2].contains("server:discard          ESTABLISHED"),
        "{:?}",
        r[1].stdout
    );
    let po = &r[2].stdout;
    assert!(
        po[1].ends_with("State       PID/Program name     Timer"),
        "{po:?}"
    );
    assert!(
        po[2].contains("100/transfer") && po[2].contains(" on ("),
        "{po:?}"
    );
    assert!(
        po[3].contains("TIME_WAIT   -                    timewait (59."),
        "{po:?}"
    );
    assert_eq!(
        r[3].stdout,
        [
            "Kernel IP routing table",
            "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface",
            "0.0.0.0         10.99.1.1       0.0.0.0         UG        0 0          0 eth0",
            "10.99.1.0       0.0.0.0         255.255.255.0   U         0 0          0 eth0",
        ]
    );
    assert_eq!(r[4].stdout[0], "Kernel Interface table");
    assert!(r[4].stdout[2].starts_with("eth0             1500 "));
    assert!(r[4].stdout[3].starts_with("lo              65536 "));
    assert_eq!(
        r[5].stdout,
        [
            "Active Internet connections (only servers)",
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State      ",
            "udp        0      0 0.0.0.0:9               0.0.0.0:*                          ",
            "udp        0      0 0.0.0.0:7               0.0.0.0:*                          ",
        ]
    );
    assert!(r[6]
        .stdout
        .iter()
        .any(|l| l.trim().ends_with("segments sent out")));
    let sections = |k: usize| -> Vec<String> {
        r[k].stdout
            .iter()
            .filter(|l| !l.starts_with(' '))
            .cloned()
            .collect()
    };
    // No ICMP went through this host: no IcmpMsg section at all, as the
    // kernel writes none; IpExt and MPTcpExt always.
    assert_eq!(
        sections(6),
        [
            "Ip:",
            "Icmp:",
            "Tcp:",
            "Udp:",
            "UdpLite:",
            "TcpExt:",
            "IpExt:",
            "MPTcpExt:"
        ]
    );
    // net-tools filters by protocol, but not the sections it has no
    // table for.
    assert_eq!(
        sections(7),
        ["Tcp:", "UdpLite:", "TcpExt:", "IpExt:", "MPTcpExt:"]
    );
    assert_eq!(sections(8), ["Udp:", "UdpLite:", "IpExt:", "MPTcpExt:"]);
    // IpExt: every datagram received counted as Not-ECT (nothing here
    // sets ECN), and the bytes.
    let received = r[6].stdout[2]
        .trim()
        .strip_suffix(" total packets received")
        .unwrap_or_else(|| panic!("{:?}", r[6].stdout))
        .to_string();
    let ipext = r[6].stdout.iter().position(|l| l == "IpExt:").unwrap();
    assert!(
        r[6].stdout[ipext + 1].starts_with("    InOctets: "),
        "{:?}",
        r[6].stdout
    );
    assert!(
        r[6].stdout[ipext + 2].starts_with("    OutOctets: "),
        "{:?}",
        r[6].stdout
    );
    assert_eq!(
        r[6].stdout[ipext + 3],
        format!("    InNoECTPkts: {received}")
    );
    // net-tools' kinds of line: counters it always prints, optional ones
    // only when not zero, the ICMP histograms (titles always), counters it
    // has no words for as `Name: value`.
    let s = &r[6].stdout;
    assert_eq!(s[1], "    Forwarding: 2", "{s:?}");
    assert!(s.iter().any(|l| l == "    ICMP input histogram:"), "{s:?}");
    assert!(s.iter().any(|l| l == "    ICMP output histogram:"), "{s:?}");
    assert!(s.iter().any(|l| l == "    0 ICMP messages failed"), "{s:?}");
    assert!(s.iter().any(|l| l == "    0 send buffer errors"), "{s:?}");
    assert!(
        !s.iter().any(|l| l.contains("with invalid headers")),
        "{s:?}"
    );
    assert!(
        !s.iter()
            .any(|l| l.starts_with("    0 ") && l.contains("fragment")),
        "{s:?}"
    );
    let tcpext = s.iter().position(|l| l == "TcpExt:").unwrap();
    assert_eq!(s[tcpext + 1], "    0 packet headers predicted", "{s:?}");
    assert!(
        s[tcpext + 2..]
            .iter()
            .all(|l| !l.starts_with("    0 ") && !l.ends_with(": 0")),
        "{s:?}"
    );
    // -e: owner and inode (0 for TIME-WAIT, which no process holds),
    // before -p's column; -n shows the uid.
    let e = &r[10].stdout;
    assert_eq!(
        e[1],
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode     "
    );
    assert!(e[2].contains("ESTABLISHED root       2"), "{e:?}");
    assert!(e[3].ends_with("TIME_WAIT   root       0         "), "{e:?}");
    let ep = &r[11].stdout;
    assert!(
        ep[1].ends_with("User       Inode      PID/Program name    "),
        "{ep:?}"
    );
    assert!(
        ep[2].contains("ESTABLISHED 0          2") && ep[2].contains("100/transfer"),
        "{ep:?}"
    );
    // Ports as numbers, hosts by name.
    assert!(
        r[9].stdout[2].contains("client:") && r[9].stdout[2].contains("server:9 "),
        "{:?}",
        r[9].stdout
    );
    // -ie: ifconfig's long form, interfaces in net-tools' name order.
    let ie = &r[12].stdout;
    assert_eq!(ie[0], "Kernel Interface table");
    assert_eq!(
        ie[1],
        "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500"
    );
    assert_eq!(
        ie[2],
        "        inet 10.99.1.2  netmask 255.255.255.0  broadcast 10.99.1.255"
    );
    let rx = &ie[4];
    let packets: u64 = rx
        .strip_prefix("        RX packets ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{ie:?}"));
    assert!(packets > 0, "{ie:?}");
    assert!(rx.ends_with(" KiB)") || rx.ends_with(" MiB)"), "{ie:?}");
    assert_eq!(ie[9], "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536");
    assert_eq!(ie[11], "        loop  txqueuelen 1000  (Local Loopback)");
}

#[test]
fn bad_arguments() {
    for (cmd, msg) in [
        ("ss state nosuch", "wrong state name: nosuch"),
        ("ss -j", "invalid option -- 'j'"),
        ("ss -Z", "option -Z is not supported in tcplab"),
        // iproute2's words (ss 6.1 checked): a filter that does not
        // parse, a port or an address that cannot be read.
        (
            "ss '( sport = )'",
            "bison bellows (while parsing filter): \"syntax error!\" Sorry.",
        ),
        (
            "ss '( sport = :80'",
            "bison bellows (while parsing filter): \"syntax error!\" Sorry.",
        ),
        (
            "ss 'sport = :abc'",
            "Error: \"abc\" does not look like a port.\nCannot parse dst/src address.",
        ),
        (
            "ss frob",
            "Error: an inet prefix is expected rather than \"frob\".\nCannot parse dst/src address.",
        ),
        ("netstat -j", "invalid option -- 'j'"),
        ("netstat -c", "option -c is not supported in tcplab"),
        ("netstat extra", "unexpected argument `extra`"),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!(u.message, msg, "{cmd}");
        assert_ne!(u.status, 0);
    }
    // ss.c's scan_state: any case and its aliases; a wrong name and a
    // missing one are status 255.
    for ok in [
        "ss -tan state ESTABLISHED",
        "ss state Time-Wait",
        "ss state close",
        "ss state syn-rcv",
        "ss state LISTENING",
        "ss state unknown",
        "ss excl time-wait",
    ] {
        assert!(tcplab_tools::Command::parse(ok).is_ok(), "{ok}");
    }
    // ss 6.1 knows `listening`, not `listen`.
    assert_eq!(
        tcplab_tools::Command::parse("ss state listen")
            .unwrap_err()
            .status,
        255
    );
    assert_eq!(
        tcplab_tools::Command::parse("ss state nosuch")
            .unwrap_err()
            .status,
        255
    );
    let u = tcplab_tools::Command::parse("ss -tan state").unwrap_err();
    assert_eq!(
        (u.status, u.printed().0.as_str()),
        (255, "Command line is not complete. Try option \"help\"\n")
    );
    // Nesting deep enough to exhaust a stack is refused, as bison's
    // parser gives up; a long flat filter is fine.
    let deep = format!(
        "ss {}sport = :80{}",
        "( ".repeat(20_000),
        " )".repeat(20_000)
    );
    let u = tcplab_tools::Command::parse(&deep).unwrap_err();
    assert_eq!(
        (u.status, u.message.as_str()),
        (
            255,
            "bison bellows (while parsing filter): \"memory exhausted!\" Sorry."
        )
    );
    // Versions, on standard output with status 0, in each tool's words.
    for (cmd, line) in [
        ("ss -V", "ss utility, iproute2-6.1.0\n"),
        ("ss --version", "ss utility, iproute2-6.1.0\n"),
        ("ip -V", "ip utility, iproute2-6.1.0\n"),
        ("ip -Version", "ip utility, iproute2-6.1.0\n"),
        ("netstat -V", "net-tools 2.10\n"),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!(
            (u.status, u.printed()),
            (0, (line.to_string(), true)),
            "{cmd}"
        );
    }
    // Addresses as iproute2 reads them: any (`*`, `*:*`, `0/0`), a short
    // one (bytes in order), one in brackets, an empty port (any); the words for what sockets
    // here do not have, unsupported.
    for ok in [
        "ss src '*'",
        "ss src '*:*'",
        "ss src 0/0",
        "ss dst 10.1",
        "ss src [10.0.0.2]:80",
        "ss src 10.0.0.2:",
    ] {
        assert!(tcplab_tools::Command::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        tcplab_tools::Command::parse("ss dev eth0")
            .unwrap_err()
            .message,
        "the filter `dev` is not supported in tcplab"
    );
    // Ports as strtoul reads them: taken, and matching no socket.
    for ok in [
        "ss sport = :99999",
        "ss 'sport = :-1'",
        "ss dst 1.2.3.4:99999",
    ] {
        assert!(tcplab_tools::Command::parse(ok).is_ok(), "{ok}");
    }
    let long = format!("ss sport = :1{}", " or sport = :2".repeat(100_000));
    assert!(tcplab_tools::Command::parse(&long).is_ok());
    // Two tables at once: the usage alone, status 3.
    let u = tcplab_tools::Command::parse("netstat -r -i").unwrap_err();
    assert_eq!((u.status, u.message.as_str()), (3, ""));
    assert!(u.printed().0.starts_with("usage: netstat"), "{u:?}");
}

/// A receiver with a small window: the sender's `ss -i` says which limit
/// held it, and for how long (iproute2's `busy:` and `rwnd_limited:` with
/// its share of the busy time).
#[test]
fn ss_shows_what_limited_the_sender() {
    let net = NET
        .replace(
            "ends = [\"client\", \"r1\"]\ndelay = \"100us\"",
            "ends = [\"client\", \"r1\"]\ndelay = \"10ms\"",
        )
        .replace(
            "gateway = \"10.99.3.1\"\n",
            "gateway = \"10.99.3.1\"\n[host.tcp]\nrecv_buffer = 8192\n",
        );
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve discard"),
            ("1s", "client", "transfer -s 2MB server"),
            ("1.5s", "client", "ss -tin"),
        ],
    );
    let ss = &r[2].stdout;
    let info = ss.get(2).unwrap_or_else(|| panic!("{ss:?}"));
    let busy = info.find(" busy:").unwrap_or_else(|| panic!("{info}"));
    let rwnd = info
        .find(" rwnd_limited:")
        .unwrap_or_else(|| panic!("{info}"));
    assert!(
        busy < rwnd && rwnd < info.find(" unacked:").unwrap_or(usize::MAX),
        "{info}"
    );
    // `rwnd_limited:<ms>ms(<share>%)`, the share of the busy time.
    let word = info[rwnd + 1..].split(' ').next().unwrap();
    let (ms, share) = word["rwnd_limited:".len()..]
        .trim_end_matches("%)")
        .split_once("ms(")
        .unwrap_or_else(|| panic!("{word}"));
    let (ms, share): (u64, f64) = (ms.parse().unwrap(), share.parse().unwrap());
    assert!(ms > 0 && share > 50.0 && share <= 100.0, "{info}");
    assert!(!info.contains("sndbuf_limited"), "{info}");
}

/// iproute2's port comparisons, address:port operands, the bucket/big
/// state groups, and -4/-6 (no IPv6 sockets here: only the header).
#[test]
fn ss_filter_operators_families_and_state_groups() {
    let r = busy(&[
        ("client", "ss -tan sport gt :1024"),
        ("client", "ss -tan 'dport != :9'"),
        ("client", "ss -tan dport le :7"),
        ("client", "ss -tan dst 10.99.3.2:9"),
        ("client", "ss -tan dst *:7"),
        ("client", "ss -tan state bucket"),
        ("client", "ss -tan state big"),
        ("client", "ss -6tan"),
        ("client", "ss -4tan"),
        ("client", "ss -tan sport lt :1024"),
        ("server", "ss -tanl"),
        ("server", "ss -tlna"),
        // Names are looked up (the hosts table here), as iproute2 does.
        ("client", "ss -tan dst server:9"),
        ("client", "ss -tan dst nosuch"),
        ("client", "ss -tan dst 0/0"),
        ("client", "ss -tan dst 10.99/16"),
        ("client", "ss -tan dst [10.99.3.2]:7"),
    ]);
    let rows = |k: usize| r[k].stdout.len() - 1;
    // Any address, a short prefix, an address in brackets.
    assert_eq!(rows(14), 2, "{:?}", r[14].stdout);
    assert_eq!(rows(15), 2, "{:?}", r[15].stdout);
    assert_eq!(rows(16), 1, "{:?}", r[16].stdout);
    // The client's two connections: the bulk one to port 9 (ESTAB) and
    // the echo one to 7 (TIME-WAIT), both from ephemeral ports.
    assert_eq!(rows(0), 2, "{:?}", r[0].stdout);
    assert_eq!(rows(9), 0, "{:?}", r[9].stdout);
    assert_eq!(rows(1), 1, "{:?}", r[1].stdout);
    assert!(r[1].stdout[1].contains("10.99.3.2:7 "), "{:?}", r[1].stdout);
    assert_eq!(rows(2), 1, "{:?}", r[2].stdout);
    assert_eq!(rows(3), 1, "{:?}", r[3].stdout);
    assert!(r[3].stdout[1].starts_with("ESTAB"), "{:?}", r[3].stdout);
    assert_eq!(rows(4), 1, "{:?}", r[4].stdout);
    assert!(r[4].stdout[1].starts_with("TIME-WAIT"), "{:?}", r[4].stdout);
    assert_eq!(rows(5), 1, "{:?}", r[5].stdout);
    assert!(r[5].stdout[1].contains("10.99.3.2:7 "), "{:?}", r[5].stdout);
    assert_eq!(rows(6), 1, "{:?}", r[6].stdout);
    assert!(r[6].stdout[1].contains("10.99.3.2:9 "), "{:?}", r[6].stdout);
    assert_eq!(rows(7), 0, "{:?}", r[7].stdout);
    assert_eq!(rows(8), 2, "{:?}", r[8].stdout);
    assert_eq!(r[12].stdout, r[3].stdout);
    assert_eq!(
        (r[13].stderr.join("\n"), r[13].exit),
        (
            "Error: an inet prefix is expected rather than \"nosuch\".\nCannot parse dst/src address.".to_string(),
            Some(1)
        )
    );
    // The later of -a and -l wins.
    assert!(
        r[10].stdout.len() > 1 && r[10].stdout[1..].iter().all(|l| l.starts_with("LISTEN")),
        "{:?}",
        r[10].stdout
    );
    assert!(
        r[11].stdout[1..].iter().any(|l| l.starts_with("ESTAB")),
        "{:?}",
        r[11].stdout
    );
}

/// TCP over loopback: every datagram sent on `lo` is received on it, so
/// `netstat -s`'s IpExt octets and `ip -s link`'s counts agree both ways
/// (a segment to this host was counted as sent twice).
#[test]
fn loopback_counts_what_it_sends_once() {
    let r = run_in(
        "[[host]]\nname = \"a\"\naddr = \"10.0.0.1/24\"\n",
        &[
            ("0s", "a", "serve discard"),
            ("1s", "a", "transfer -s 100000 127.0.0.1"),
            ("5s", "a", "netstat -s"),
        ],
    );
    let stats = &r.iter().find(|x| x.cmdline == "netstat -s").unwrap().stdout;
    let value = |name: &str| -> u64 {
        stats
            .iter()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
    };
    assert!(value("InOctets:") > 100_000, "{stats:?}");
    assert_eq!(value("InOctets:"), value("OutOctets:"), "{stats:?}");
}

/// A sender stopped by a zero window runs its persist timer: `ss -o`
/// calls it `persist`, net-tools' `netstat -o` `probe` (/proc/net/tcp's
/// timer kind 4). The slow reader of scenarios/tcp-flow-control.toml.
#[test]
fn the_zero_window_probe_timer_in_each_tools_words() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/tcp-flow-control.toml"
    );
    let mut text = std::fs::read_to_string(path).expect("the lesson");
    text.push_str("\n[[run]]\nat = \"1.6s\"\non = \"server\"\ncmd = \"netstat -tno\"\n");
    let r = common::run_file(&text);
    let ss = r
        .iter()
        .find(|r| r.cmdline == "ss -tno sport = :80")
        .expect("the lesson's ss");
    assert!(ss.stdout[1].contains(" timer:(persist,"), "{ss:?}");
    let netstat = r.iter().find(|r| r.cmdline == "netstat -tno").unwrap();
    let conn = netstat
        .stdout
        .iter()
        .find(|l| l.contains("10.0.2.2:80 "))
        .unwrap_or_else(|| panic!("{netstat:?}"));
    assert!(conn.contains(" ESTABLISHED probe ("), "{conn}");
}

/// The count after a persist timer's time is the probes sent and not
/// answered (inet_diag's icsk_probes_out), not the retransmission
/// backoff: the slow reader's link cut while the window is shut.
#[test]
fn ss_counts_unanswered_window_probes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/tcp-flow-control.toml"
    );
    let mut text = std::fs::read_to_string(path).expect("the lesson");
    text.push_str("\n[[run]]\nat = \"1.5s\"\nlink = \"r1-server\"\ndown = true\n");
    text.push_str(
        "\n[[run]]\nat = \"6s\"\non = \"server\"\ncmd = \"ss -tnoi dport = :80 or sport = :80\"\n",
    );
    let r = common::run_file(&text);
    let ss = r
        .iter()
        .find(|r| r.cmdline.starts_with("ss -tnoi"))
        .expect("the added ss");
    let line = ss
        .stdout
        .iter()
        .find(|l| l.contains(" timer:(persist,"))
        .unwrap_or_else(|| panic!("{ss:?}"));
    let count: u32 = line
        .split(" timer:(persist,")
        .nth(1)
        .and_then(|t| t.split(',').nth(1))
        .and_then(|c| c.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(count >= 2, "{line}");
}

/// Listening sockets come first in `ss -tan` and `netstat -tan`, whenever
/// they were made, as Linux dumps its listening table before its
/// established one.
#[test]
fn listeners_are_listed_before_connections() {
    let r = run_in(
        NET,
        &[
            ("0s", "server", "nc -l 9500"),
            ("0s", "server", "serve echo --port 80"),
            ("1s", "client", "nc server 80"),
            ("1s", "client", "nc server 9500"),
            ("2s", "server", "serve discard --port 10"),
            ("3s", "server", "ss -tan"),
            ("3s", "server", "netstat -tan"),
        ],
    );
    let states = |lines: &[String], col: usize| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.split_whitespace().nth(col).map(str::to_string))
            .filter(|s| s == "LISTEN" || s == "ESTAB" || s == "ESTABLISHED")
            .collect()
    };
    let ss = states(&r[5].stdout, 0);
    // (nc -l keeps its listener while it serves, as netcat does.)
    assert_eq!(
        ss,
        ["LISTEN", "LISTEN", "LISTEN", "ESTAB", "ESTAB"],
        "{:?}",
        r[5].stdout
    );
    let ns = states(&r[6].stdout, 5);
    assert_eq!(
        ns,
        ["LISTEN", "LISTEN", "LISTEN", "ESTABLISHED", "ESTABLISHED"],
        "{:?}",
        r[6].stdout
    );
}

/// Local sockets filtered by path as iproute2 takes them: `src PATH` (or
/// `unix:PATH`, or a pattern as fnmatch reads it) for a socket's own
/// name, `dst PATH` for its peer's; `unix:` chooses the local family.
#[test]
fn ss_filters_local_sockets_by_path() {
    let r = run_in(
        NET,
        &[
            ("0s", "server", "nc -lU /tmp/d.sock"),
            ("1s", "server", "nc -U /tmp/d.sock"),
            ("2s", "server", "ss -xa src /tmp/d.sock"),
            ("2s", "server", "ss -xa src 'unix:/TMP/*'"),
            ("2s", "server", "ss -xa dst /tmp/d.sock"),
            ("2s", "server", "ss -xa src /tmp/other.sock"),
            ("0s", "server", "nc -l 7000"),
            // `unix:` names the family: no TCP listener listed with no -x
            // (iproute2's parse_hostcond); with -x a pattern need not
            // start with a slash.
            ("2s", "server", "ss -a src 'unix:/tmp/*'"),
            ("2s", "server", "ss -xa src '*d.sock'"),
        ],
    );
    let body = |i: usize| -> Vec<String> { r[i].stdout.iter().skip(1).cloned().collect() };
    assert_eq!(body(7), body(2), "{:?}", r[7]);
    assert_eq!(body(8), body(2), "{:?}", r[8]);
    for ran in &r[2..6] {
        assert_eq!(ran.exit, Some(0), "{ran:?}");
    }
    // The listener and the connection it accepted bear the path.
    assert_eq!(body(2).len(), 2, "{:?}", r[2].stdout);
    assert!(
        body(2).iter().any(|l| l.contains("LISTEN")),
        "{:?}",
        r[2].stdout
    );
    assert_eq!(body(3), body(2), "case folded, a pattern");
    // The client's peer is the accepted socket, named /tmp/d.sock.
    assert_eq!(body(4).len(), 1, "{:?}", r[4].stdout);
    assert!(body(4)[0].starts_with("u_str ESTAB"), "{:?}", r[4].stdout);
    assert!(body(5).is_empty(), "{:?}", r[5].stdout);
}
