//! `tcplab route` between namespaces: masquerade, port forwarding, filters,
//! bad setups; a SYN flood and a LAND packet against the stack.

use super::*;

#[test]
fn router_masquerades_forwards_ports_and_filters() {
    if !capable("router_masquerades_forwards_ports_and_filters") {
        return;
    }
    // [inside: 10.9.1.2] ─tun─ tcplab route ─tun─ [outside: 10.9.2.2]
    let inside = Ns::new();
    let outside = Ns::new();
    let files = Files::new(1);
    let rules = files.path("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let pcap = files.path("route.pcap");
    let r = Router::start(&inside, &outside, &rules, &pcap);
    // The inside goes out through the router; the outside has no route
    // back to 10.9.1.0/24, so only translation makes replies arrive.
    inside.sh("ip route add default via 10.9.1.1");
    let mut servers = Vec::new();
    for (ns, addr, port, page) in [
        (&inside, "10.9.1.2", 8000, "inside page"),
        (&outside, "10.9.2.2", 80, "outside page"),
    ] {
        let dir = files.path(&format!("www{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/index.html"), format!("{page}\n")).unwrap();
        let log = files.path(&format!("log{port}"));
        servers.push(ns.spawn_sh(&format!(
            "exec python3 -m http.server --bind {addr} {port} --directory {dir} 2>{log}"
        )));
        ns.wait_listen('t', port);
    }

    // Masquerade: ping and a page from the outside, which sees the router.
    let out = inside.sh("ping -c 2 -i 0.2 -W 2 10.9.2.2");
    assert!(out.contains("2 packets transmitted, 2 received"), "{out}");
    assert!(out.contains("from 10.9.2.2: icmp_seq=1 ttl=63"), "{out}");
    assert_eq!(
        inside.sh("curl -sS -m 5 http://10.9.2.2/"),
        "outside page\n"
    );
    let log = std::fs::read_to_string(files.path("log80")).unwrap();
    assert!(log.contains("10.9.2.1 - - ["), "{log}");
    assert!(!log.contains("10.9.1.2"), "{log}");

    // A port forward reaches the inside server, through the security group.
    assert_eq!(
        outside.sh("curl -sS -m 5 http://10.9.2.1:8080/"),
        "inside page\n"
    );
    let log = std::fs::read_to_string(files.path("log8000")).unwrap();
    assert!(log.contains("10.9.2.2 - - ["), "{log}");
    // A forward the security group does not admit: dropped, so curl times out.
    let o = outside.try_sh("curl -sS --connect-timeout 2 http://10.9.2.1:2222/");
    assert_eq!(o.status.code(), Some(28), "{}", text(&o));

    // The ACL stops UDP to port 9999 but not to 9998.
    let recv = |port: u16| {
        outside.spawn_sh(&format!(
            "exec python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
             s.bind(('10.9.2.2', {port})); s.settimeout(3)
try:
    d, a = s.recvfrom(100); print(d.decode().strip(), a[0])
except socket.timeout:
    print('nothing')\""
        ))
    };
    let (r9999, r9998) = (recv(9999), recv(9998));
    outside.wait_listen('u', 9999);
    outside.wait_listen('u', 9998);
    inside.sh("echo hi | nc -u -w1 10.9.2.2 9999; echo hi | nc -u -w1 10.9.2.2 9998");
    let got =
        |c: Child| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned();
    assert_eq!(got(r9999), "nothing\n");
    assert_eq!(got(r9998), "hi 10.9.2.1\n");

    // What the router's tools say.
    let o = r.t.attach("conntrack -L -p tcp");
    let ct = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        ct.lines()
            .any(|l| l.contains("src=10.9.1.2 dst=10.9.2.2 sport=")
                && l.contains("dport=80 src=10.9.2.2 dst=10.9.2.1 sport=80")
                && l.contains("[ASSURED]")),
        "{ct}"
    );
    assert!(
        ct.lines()
            .any(|l| l.contains("src=10.9.2.2 dst=10.9.2.1 sport=")
                && l.contains("dport=8080 src=10.9.1.2 dst=10.9.2.2 sport=8000")),
        "{ct}"
    );
    let o = r.t.attach("fw -L");
    let fw = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        fw.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "100",
                "deny",
                "udp",
                "0.0.0.0/0",
                "0.0.0.0/0",
                "9999",
                "1",
                "31"
            ]),
        "{fw}"
    );
    // curl sent its SYN once or twice before giving up; each was refused.
    let refused: u64 = fw
        .split("refused: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{fw}"));
    assert!((1..=3).contains(&refused), "{fw}");
    assert!(
        fw.contains(&format!("refused: {refused} inbound, 0 outbound new flows")),
        "{fw}"
    );
    assert!(
        fw.contains(&format!(
            "forward tcp 10.9.2.1:2222 -> 10.9.1.2:2222  new flows {refused}"
        )),
        "{fw}"
    );

    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    let (ri, ro) = (r.t.dev.clone(), r.t.dev.replacen("ri", "ro", 1));
    let out = r.t.stop();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.starts_with(&format!(
            "tcplab route: {ri} 10.9.1.1/24 (kernel 10.9.1.2 in netns {})",
            inside.name
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("; dropped {} by policy", refused + 1)),
        "{err}"
    );
    // Both devices, in their namespaces, and the control socket are gone.
    assert!(!inside
        .try_sh(&format!("ip link show {ri}"))
        .status
        .success());
    assert!(!outside
        .try_sh(&format!("ip link show {ro}"))
        .status
        .success());
    assert!(!Path::new(&format!("/run/tcplab/{ri}.sock")).exists());
    // The capture has each request on both sides of the router: from the
    // inside address on one, translated to the router's on the other.
    let o = run_ok(Command::new("tshark").args([
        "-r",
        &pcap,
        "-Y",
        "http.request",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
    ]));
    let mut seen: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "10.9.1.2 10.9.2.2 80",
            "10.9.2.1 10.9.2.2 80",
            "10.9.2.2 10.9.1.2 8000",
            "10.9.2.2 10.9.2.1 8080",
        ],
        "{seen:?}"
    );
}

#[test]
fn bad_router_setups_are_one_line_and_status_2() {
    if !capable("bad_router_setups_are_one_line_and_status_2") {
        return;
    }
    let files = Files::new(1);
    let rules = files.path("bad.toml");
    std::fs::write(&rules, "[nat]\noutside = \"10.9.3.1\"\n").unwrap();
    let cases: [(&[&str], String); 3] = [
        (
            &["--tun", "tlr0,10.9.1.1/24", "--tun", "tlr1,10.9.2.1/24", &rules],
            format!("tcplab: {rules}:2:11: 10.9.3.1 is not one of this router's addresses\n"),
        ),
        (
            &["--tun", "tlr0,10.9.1.1/24,netns=tcplab-no-such-ns"],
            "tcplab: network namespace tcplab-no-such-ns does not exist (make it with `ip netns add tcplab-no-such-ns`)\n".into(),
        ),
        (
            &["--tun", "tlr0,10.9.1.1/24", "--tun", "tlr1,10.9.1.2/16"],
            "tcplab: --tun tlr1: 10.9.0.0/16 overlaps 10.9.1.0/24 on tlr0\n".into(),
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(tcplab())
            .arg("route")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), want, "{args:?}");
        assert!(!Path::new("/sys/class/net/tlr0").exists());
    }
}

#[test]
fn syn_flood_does_not_lock_out_the_kernels_client() {
    if !capable("syn_flood_does_not_lock_out_the_kernels_client") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let path = std::env::temp_dir().join(format!("tcplab-raw-{}.py", std::process::id()));
    std::fs::write(&path, RAW_SEND).unwrap();
    let script = path.to_string_lossy().into_owned();
    // 20,000 spoofed SYNs from addresses that never answer, in the
    // background; the kernel's client connects while they arrive and after.
    let flood = ns.spawn_sh(&format!("python3 {script} flood 10.7.0.2 20000"));
    for i in 0..3 {
        let o = ns.try_sh("echo hello | timeout 5 nc -N -w 3 10.7.0.2 7");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "hello\n",
            "round {i}: {}",
            text(&o)
        );
    }
    reap(flood, 30);
    let o = ns.try_sh("echo again | timeout 5 nc -N -w 3 10.7.0.2 7");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "again\n",
        "{}",
        text(&o)
    );
    let stats = String::from_utf8_lossy(&t.attach("netstat -s").stdout).into_owned();
    let cookies: u64 = stats
        .lines()
        .find(|l| l.contains("SYN cookies sent"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(cookies > 1000, "{stats}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_land_packet_then_a_normal_connection() {
    if !capable("a_land_packet_then_a_normal_connection") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let script = std::env::temp_dir().join(format!("tcplab-land-{}.py", std::process::id()));
    std::fs::write(&script, RAW_SEND).unwrap();
    let pid = t.child.as_ref().map(|c| c.id()).unwrap();
    ns.sh(&format!(
        "python3 {} land 10.7.0.2",
        script.to_string_lossy()
    ));
    let o = ns.try_sh("echo hello | timeout 5 nc -N -w 3 10.7.0.2 7");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello\n",
        "{}",
        text(&o)
    );
    // The stack is idle again: no connection to itself spinning.
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(pid) - before;
    assert!(used < Duration::from_millis(500), "{used:?} of CPU in 2 s");
    let stats = String::from_utf8_lossy(&t.attach("netstat -s").stdout).into_owned();
    let martians: u64 = stats
        .lines()
        .find(|l| l.contains("with invalid addresses"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(martians >= 1, "the LAND packet is counted: {stats}");
    let ss = String::from_utf8_lossy(&t.attach("ss -tan").stdout).into_owned();
    assert!(!ss.contains(":13 "), "no connection to port 13: {ss}");
    let _ = std::fs::remove_file(&script);
}
