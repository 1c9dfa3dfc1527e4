//! `tunnel tcp` between two `tcplab route` stacks, carrying the kernel's
//! traffic from one LAN to another.
//!
//! ```text
//! [A 10.81.0.2] ─tun─ 10.81.0.1 [R1: tcplab route] 10.90.0.1 ─tun─ 10.90.0.2 [M]
//! [M] 10.91.0.2 ─tun─ 10.91.0.1 [R2: tcplab route] 10.82.0.1 ─tun─ [B 10.82.0.2]
//!     R1: tunnel tcp t0 10.9.0.1/24 -c 10.91.0.1:7000 --route 10.82.0.0/24
//!     R2: tunnel tcp t0 10.9.0.2/24 -l 7000 --route 10.81.0.0/24
//! ```
//!
//! M is "the internet": a kernel that forwards between the routers and
//! knows nothing of the LANs, so A's packets to B can only arrive inside
//! the tunnel's TCP connection. The kernels ping and download a file
//! through it; the routers' `tunnel show` and `ss` prove the path. The
//! tunnels are daemons attached to the routers' stacks; everything is
//! removed on drop, also when the test fails. `tcplab route` has no
//! impairment flags, so the tunnel is not tried under outer loss here
//! (the simulator's scenarios/meltdown.toml does that).

use std::process::ExitStatus;

use super::*;

/// Wait at most `secs` for `child`, reading its output meanwhile; kill it
/// if it overruns. Its status (if it ended by itself) and what it printed.
fn collect(child: Child, secs: u64) -> (Option<ExitStatus>, String) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let (status, o, late) = match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => (o.as_ref().ok().map(|o| o.status), o, ""),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let o = rx.recv().expect("the waiter ends");
            (None, o, " (killed: did not end in time)")
        }
    };
    let said = o.map(|o| text(&o)).unwrap_or_else(|e| e.to_string());
    (status, format!("{said}{late}"))
}

/// `tcplab run --attach -- COMMAND` on a stack, at most `secs`: whether it
/// succeeded, and what it printed.
fn attach(t: &Tcplab, command: &str, secs: u64) -> (bool, String) {
    let (status, said) = collect(t.attach_child(command), secs);
    (status.is_some_and(|s| s.success()), said)
}

/// A command attached to a stack for as long as it runs (a daemon: it
/// ends with its client); interrupted and reaped on drop.
struct Attached {
    child: Option<Child>,
}

impl Attached {
    /// Whether it has ended (it should not have).
    fn ended(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Interrupt it; its status and what it printed.
    fn stop(&mut self) -> (Option<ExitStatus>, String) {
        match self.child.take() {
            Some(c) => {
                kill(&c, "-INT");
                collect(c, 5)
            }
            None => (None, "(already collected)".into()),
        }
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            kill(&c, "-INT");
            reap(c, 2);
        }
    }
}

/// A `tcplab route` between two namespaces: `lan` its LAN, `internet` the
/// internet. Attach commands to it through its first device's control
/// socket.
fn router(lan: &Ns, lan_cidr: &str, internet: &Ns, wan_cidr: &str, route: &str) -> Tcplab {
    let n = unique();
    let pid = std::process::id() % 100_000;
    let (dl, dw) = (format!("tl{pid}l{n}"), format!("tl{pid}w{n}"));
    let child = Command::new(tcplab())
        .args(["route", "--seed", "11", "--route", route])
        .args(["--tun", &format!("{dl},{lan_cidr},netns={}", lan.name)])
        .args(["--tun", &format!("{dw},{wan_cidr},netns={}", internet.name)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcplab route starts");
    let mut t = Tcplab {
        child: Some(child),
        dev: dl,
        // The control socket is in the file system: any namespace will do.
        ns_name: lan.name.clone(),
    };
    wait_socket(&mut t.child, &t.dev, "tcplab route");
    t
}

/// Everything the test made; dropped in this order: the tunnels, the
/// routers, the namespaces.
struct Rig {
    tunnels: Vec<(&'static str, Attached)>,
    r1: Option<Tcplab>,
    r2: Option<Tcplab>,
    a: Ns,
    b: Ns,
    m: Ns,
}

impl Rig {
    fn r1(&self) -> &Tcplab {
        self.r1.as_ref().expect("R1 runs")
    }

    fn r2(&self) -> &Tcplab {
        self.r2.as_ref().expect("R2 runs")
    }

    /// Panic with `what` and what the routers, their tunnels and M said.
    fn fail(&mut self, what: &str) -> ! {
        let mut report = String::new();
        for (name, t) in [("R1", &self.r1), ("R2", &self.r2)] {
            if let Some(t) = t {
                for cmd in ["tunnel show", "ss -tan", "netstat -s"] {
                    let (_, said) = attach(t, cmd, 5);
                    report += &format!("--- {name}: {cmd}\n{said}\n");
                }
            }
        }
        let links = text(&self.m.try_sh("ip -s link; ip route"));
        report += &format!("--- M: ip -s link; ip route\n{links}\n");
        for (name, d) in &mut self.tunnels {
            let (status, said) = d.stop();
            report += &format!("--- {name} (status {status:?}):\n{said}\n");
        }
        for (name, t) in [("R1", &mut self.r1), ("R2", &mut self.r2)] {
            if let Some(c) = t.as_mut().and_then(|t| t.child.take()) {
                kill(&c, "-INT");
                let (status, said) = collect(c, 5);
                report += &format!("--- tcplab route {name} (status {status:?}):\n{said}\n");
            }
        }
        panic!("{what}\n{report}");
    }

    /// Poll `check` every 100 ms for at most `secs`; fail with `what` if it
    /// never holds, or if a tunnel daemon ends meanwhile.
    fn wait(&mut self, secs: u64, what: &str, mut check: impl FnMut(&Rig) -> bool) {
        for _ in 0..secs * 10 {
            let ended = self
                .tunnels
                .iter_mut()
                .find_map(|(name, d)| d.ended().then_some(*name));
            if let Some(name) = ended {
                self.fail(&format!("{what}: {name} ended"));
            }
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.fail(&format!("{what}: not within {secs} s"));
    }

    /// Start a tunnel daemon on a router.
    fn tunnel(&mut self, name: &'static str, on_r1: bool, command: &str) {
        let t = if on_r1 { self.r1() } else { self.r2() };
        let child = t.attach_child(command);
        self.tunnels.push((name, Attached { child: Some(child) }));
    }
}

/// The counters of `tunnel show`'s "inner" line: rx packets, rx bytes, tx
/// packets, tx bytes.
fn inner_counters(show: &str) -> Option<[u64; 4]> {
    let line = show.lines().find_map(|l| l.trim().strip_prefix("inner "))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    // rx N packets N bytes, tx N packets N bytes, ...
    let n = |i: usize| w.get(i).and_then(|s| s.parse().ok());
    Some([n(1)?, n(3)?, n(6)?, n(8)?])
}

#[test]
fn tcp_tunnel_between_two_routers_carries_kernel_traffic() {
    if !capable("tcp_tunnel_between_two_routers_carries_kernel_traffic") {
        return;
    }
    let size = 5 << 20;
    let files = Files::new(size);
    let want = sha256(&files.path("big.bin"));
    let root = files.dir.to_string_lossy().into_owned();

    let (a, b, m) = (Ns::new(), Ns::new(), Ns::new());
    let r1 = router(
        &a,
        "10.81.0.1/24,peer=10.81.0.2",
        &m,
        "10.90.0.1/24,peer=10.90.0.2",
        "10.91.0.0/24 via 10.90.0.2",
    );
    let r2 = router(
        &b,
        "10.82.0.1/24,peer=10.82.0.2",
        &m,
        "10.91.0.1/24,peer=10.91.0.2",
        "10.90.0.0/24 via 10.91.0.2",
    );
    let r1_dev = r1.dev.clone();
    a.sh("ip route add default via 10.81.0.1");
    b.sh("ip route add default via 10.82.0.1");
    m.sh("sysctl -qw net.ipv4.ip_forward=1");
    let mut rig = Rig {
        tunnels: Vec::new(),
        r1: Some(r1),
        r2: Some(r2),
        a,
        b,
        m,
    };

    // The outer path works before the tunnel is made: R1 reaches R2
    // through M, and M knows no route to the LANs.
    let (ok, said) = attach(rig.r1(), "ping -c 1 -W 2 10.91.0.1", 10);
    if !ok {
        rig.fail(&format!("R1 pings R2 through M: {said}"));
    }
    let o = rig.a.try_sh("ping -c 1 -W 1 10.82.0.2");
    if o.status.success() {
        rig.fail(&format!("A reaches B without a tunnel: {}", text(&o)));
    }

    // The tunnel: R2 listens, R1 calls.
    rig.tunnel(
        "R2's tunnel tcp",
        false,
        "tunnel tcp t0 10.9.0.2/24 -l 7000 --route 10.81.0.0/24",
    );
    rig.wait(5, "R2's tunnel listens on port 7000", |r| {
        attach(r.r2(), "tunnel show", 5)
            .1
            .contains("outer: listening on 0.0.0.0:7000")
    });
    rig.tunnel(
        "R1's tunnel tcp",
        true,
        "tunnel tcp t0 10.9.0.1/24 -c 10.91.0.1:7000 --route 10.82.0.0/24",
    );
    rig.wait(10, "R1's tunnel connects to R2's", |r| {
        attach(r.r1(), "tunnel show", 5)
            .1
            .contains("outer: connected 10.90.0.1:")
    });

    // 1. LAN A pings LAN B through the tunnel.
    let o = rig.a.try_sh("ping -c 3 -i 0.2 -W 5 10.82.0.2");
    if !o.status.success() || !text(&o).contains("3 packets transmitted, 3 received") {
        rig.fail(&format!(
            "ping from A to B through the tunnel: {}",
            text(&o)
        ));
    }

    // 2. A's curl downloads from python's http.server in B, kernel TCP
    // inside the tunnel's TCP.
    let mut server = rig.b.spawn_sh(&format!(
        "exec python3 -m http.server --bind 10.82.0.2 8080 --directory {root}"
    ));
    rig.b.wait_listen('t', 8080);
    let got = files.path("got.bin");
    let started = std::time::Instant::now();
    let o = rig.a.try_sh(&format!(
        "curl -sS --max-time 60 http://10.82.0.2:8080/big.bin -o {got}"
    ));
    let took = started.elapsed();
    let _ = server.kill();
    let _ = server.wait();
    if !o.status.success() || sha256(&got) != want {
        rig.fail(&format!(
            "curl from A to B through the tunnel (after {took:?}): {}",
            text(&o)
        ));
    }
    eprintln!("5 MiB through the tunnel in {took:?}");

    // 3. It went through the tunnel: R1's tunnel carried it, in one outer
    // connection to R2.
    let (ok, show) = attach(rig.r1(), "tunnel show", 5);
    let counters = inner_counters(&show);
    // In: the file, in datagrams of at most the tunnel's MTU (3,770 or
    // so). Out: A's ACKs, which the kernel stretches (800 to 1,400 in
    // runs), so that bound is loose.
    let carried = counters.is_some_and(|[rx_packets, rx_bytes, tx_packets, _]| {
        rx_packets >= 3000 && rx_bytes >= size as u64 && tx_packets >= 200
    });
    if !ok
        || !show.starts_with("t0: tcp 10.9.0.1/24 mtu 1446 up\n")
        || !show.contains("    outer: connected 10.90.0.1:")
        || !show.contains(" -> 10.91.0.1:7000\n")
        || !carried
    {
        rig.fail(&format!(
            "`tcplab run --tun {r1_dev} --attach -- tunnel show` on R1: {show}"
        ));
    }
    eprintln!("R1's tunnel show:\n{show}");
    let (ok, ss) = attach(rig.r1(), "ss -tn", 5);
    let outer = ss.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.first() == Some(&"ESTAB")
            && w.iter().any(|x| x.starts_with("10.90.0.1:"))
            && w.contains(&"10.91.0.1:7000")
    });
    if !ok || !outer {
        rig.fail(&format!("R1's ss -tn has no outer connection: {ss}"));
    }

    // The tunnels end with their clients, then the routers stop cleanly.
    for (name, mut d) in std::mem::take(&mut rig.tunnels) {
        let (_, said) = d.stop();
        assert!(said.contains("t0: tcp tunnel 10.9.0."), "{name}: {said}");
    }
    for t in [rig.r1.take(), rig.r2.take()].into_iter().flatten() {
        let o = t.stop();
        assert!(o.status.success(), "tcplab route: {}", text(&o));
    }
}
