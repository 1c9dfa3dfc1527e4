//! What a person sees when the command line or the machine is wrong, and
//! `tcplab ss`, pcap files and a clean exit.

use super::*;

#[test]
fn bad_setups_are_one_line_and_status_2() {
    if !capable("bad_setups_are_one_line_and_status_2") {
        return;
    }
    let ns = Ns::new();
    // `tcplab run --tun tlclash --addr CIDR -- ping`: refused in one line
    // naming the kernel's route it clashes with.
    let clash = |cidr: &str, route: &str| {
        let o = ns
            .cmd(tcplab())
            .args([
                "run", "--tun", "tlclash", "--addr", cidr, "--", "ping", "-c", "1", "10.0.0.1",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.contains(&format!("clashes with the kernel's {route}")),
            "{e}"
        );
    };
    // An address that clashes with a kernel route.
    ns.sh("ip link add vclash type veth peer name vclash2 && ip addr add 10.9.0.1/16 dev vclash && ip link set vclash up");
    clash("10.9.1.2/24", "route to 10.9.0.0/16 via vclash");
    // An address with a prefix on lo makes the whole prefix the kernel's
    // own (a `local` route): nothing would reach the device.
    ns.sh("ip addr add 10.11.0.5/24 dev lo");
    clash("10.11.0.2/24", "route to 10.11.0.0/24 via lo");
    // A route that refuses, inside the prefix: it would swallow the
    // traffic (a wider one loses to the device's own route).
    ns.sh("ip route add blackhole 10.12.0.0/24 && ip route add unreachable 10.0.0.0/8");
    clash("10.12.0.2/24", "blackhole route to 10.12.0.0/24");
    // A name that is taken by a device that is not a TUN device: status 2
    // and the device's kind named.
    let taken = |name: &str, says: &str| {
        let o = ns
            .cmd(tcplab())
            .args([
                "run",
                "--tun",
                name,
                "--addr",
                "10.5.0.2/24",
                "--",
                "serve",
                "echo",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    };
    taken("vclash2", "vclash2 exists and is not a TUN device");
    // A TAP device (the tun driver's too, but Ethernet frames).
    ns.sh("ip tuntap add tapclash mode tap");
    taken(
        "tapclash",
        "tapclash exists and is a TAP device, not a TUN device",
    );
    // A bad CIDR, and attaching to nothing.
    let o = Command::new(tcplab())
        .args([
            "run",
            "--tun",
            "tlx",
            "--addr",
            "10.5.0.300/24",
            "--",
            "serve",
            "echo",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("tcplab: invalid --addr `10.5.0.300/24`")
    );
    let o = Command::new(tcplab())
        .args(["ss", "--tun", "nosuchdev", "-t"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no tcplab stack is running on nosuchdev"));
    // A command that is no tool: a shell's answer and status, before any
    // device is made.
    let o = Command::new(tcplab())
        .args([
            "run",
            "--tun",
            "tlx",
            "--addr",
            "10.5.0.2/24",
            "--",
            "frob",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "tcplab: frob: command not found\n"
    );
}

#[test]
fn ss_pcap_permissions_and_a_clean_exit() {
    if !capable("ss_pcap_permissions_and_a_clean_exit") {
        return;
    }
    let ns = Ns::new();
    let files = Files::new(1);
    let pcap = files.path("run.pcap");
    let t = Tcplab::start(
        &ns,
        "10.7.0.2/24",
        &["--pcap", &pcap],
        "serve http --root /tmp",
    );
    let o = ns
        .cmd(tcplab())
        .args(["ss", "--tun", &t.dev, "-tln"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(s.contains("LISTEN 0      128          0.0.0.0:80"), "{s}");
    // Other users cannot reach the control socket.
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", tcplab()])
        .args(["ss", "--tun", &t.dev])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        text(&o)
    );
    ns.sh("ping -c 2 -i 0.2 10.7.0.2");
    let dev = t.dev.clone();
    let out = t.stop();
    assert!(out.status.success(), "{}", text(&out));
    // The device it created and its control socket are gone.
    assert!(!ns.try_sh(&format!("ip link show {dev}")).status.success());
    assert!(!Path::new(&format!("/run/tcplab/{dev}.sock")).exists());
    // The capture holds both directions of the pings.
    let mut r = tcplab_wire::pcap::PcapReader::new(std::fs::File::open(&pcap).unwrap()).unwrap();
    let (mut requests, mut replies) = (0, 0);
    while let Some(rec) = r.next_record().unwrap() {
        let d = &rec.data;
        if d.len() > 20 && d[9] == 1 {
            match d[20] {
                8 => requests += 1,
                0 => replies += 1,
                _ => {}
            }
        }
    }
    assert_eq!((requests, replies), (2, 2));
}

#[test]
fn without_root_one_line_and_status_2() {
    if !capable("without_root_one_line_and_status_2") {
        return;
    }
    // Drop root for one run (setpriv is in util-linux).
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", tcplab()])
        .args([
            "run",
            "--tun",
            "tlnoroot",
            "--addr",
            "10.6.0.2/24",
            "--",
            "serve",
            "echo",
        ])
        .output()
        .expect("setpriv runs");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "tcplab: cannot create TUN device tlnoroot: permission denied \
         (creating a TUN device needs root or CAP_NET_ADMIN)\n",
        "the same line whether /dev/net/tun refuses the open (EACCES) or TUNSETIFF (EPERM)"
    );
}

/// A control socket left by a killed run names itself as that; without
/// root, `tcplab ss` says what it lacks rather than "no stack".
#[test]
fn a_killed_runs_socket_and_ss_without_root() {
    if !capable("a_killed_runs_socket_and_ss_without_root") {
        return;
    }
    let name = format!("tlstale{}", unique());
    let path = format!("/run/tcplab/{name}.sock");
    // As a run makes it: root's alone.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create("/run/tcplab")
            .unwrap();
    }
    // Bound, then closed: the file stays and nothing listens, as after
    // SIGKILL.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let o = Command::new(tcplab())
        .args(["ss", "--tun", &name, "-tan"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is left from a run that was killed"),
        "{}",
        text(&o)
    );
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", tcplab()])
        .args(["ss", "-tan"])
        .output()
        .expect("setpriv runs");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "tcplab: cannot read /run/tcplab: permission denied (tcplab ss needs root, as tcplab run does)\n"
    );
}

#[test]
fn run_report_draws_what_crossed_the_device() {
    if !capable("run_report_draws_what_crossed_the_device") {
        return;
    }
    let ns = Ns::new();
    let files = Files::new(100_000);
    let report = files.path("run.html");
    let t = Tcplab::start(
        &ns,
        "10.7.0.2/24",
        &["--report", &report, "--loss", "5%", "--seed", "3"],
        &format!("serve http --root {}", files.path("")),
    );
    // The kernel's curl downloads from the stack, through 5 % loss.
    ns.sh("curl -s --max-time 20 -o /dev/null http://10.7.0.2/big.bin");
    ns.sh("ping -c 2 -i 0.2 10.7.0.2");
    let out = t.stop();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("report in"), "{}", text(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    // The kernel's connection to the stack's server, drawn from both the
    // datagrams on the device and the stack's own state.
    assert!(html.contains("<h3>kernel 10.7.0.1:"), "no connection drawn");
    assert!(html.contains("→ tcplab 10.7.0.2:80</h3>"));
    assert!(html.contains("class=\"ladder\""));
    assert!(html.contains("States over time"));
    assert!(html.contains("tcplab&#39;s congestion window"));
    // The kernel's SYN, with the kernel's options.
    assert!(html.contains("S seq=0 win="));
    // The pings (through the loss: not all need be answered).
    assert!(html.contains("ICMP echo from kernel to 10.7.0.2: 2 sent"));
    // The clock is the real one; the kernel is its IPv4 address alone
    // (its IPv6 router solicitations cross the device too).
    assert!(html.contains(" s of real time · "), "the clock named");
    assert!(
        !html.contains("0.0.0.0/32"),
        "an address from an IPv6 datagram"
    );
}
