//! Interoperability with the Linux kernel's own TCP/IP, over a TUN device.
//!
//! Each test makes its own network namespace (or three), starts `tcplab
//! run` on a TUN device in it, talks to it with real programs from Debian
//! packages (ping, curl, nc, python3) on the kernel side, and removes
//! everything it made, also when it fails. They need root and
//! `/dev/net/tun`: with `TCPLAB_REQUIRE_ROOT=1` (CI) a missing capability
//! fails the test; without it each test prints one line saying why it was
//! skipped.
// These tests drive real processes on the real clock: they wait by
// sleeping, and say on stderr why they were skipped.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn tcplab() -> &'static str {
    env!("CARGO_BIN_EXE_tcplab")
}

/// Whether this machine can run the tests; panics when it must.
fn capable(test: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let why = if !root {
        Some("not running as root")
    } else if !Path::new("/dev/net/tun").exists() {
        Some("no /dev/net/tun")
    } else if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        Some("`ip netns` does not work here")
    } else {
        None
    };
    match why {
        None => true,
        Some(reason) => {
            if std::env::var("TCPLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("{test}: {reason}, and TCPLAB_REQUIRE_ROOT=1 requires these tests to run");
            }
            eprintln!("skipped {test}: {reason} (needs root, /dev/net/tun and ip netns)");
            false
        }
    }
}

fn unique() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A network namespace, deleted on drop.
struct Ns {
    name: String,
}

impl Ns {
    fn new() -> Ns {
        let name = format!("tcplab-{}-{}", std::process::id(), unique());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Ns { name };
        ns.sh("ip link set lo up");
        ns
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// A shell command in the namespace; panics if it fails.
    fn sh(&self, script: &str) -> String {
        let out = self.try_sh(script);
        assert!(
            out.status.success(),
            "`{script}` in {} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn try_sh(&self, script: &str) -> Output {
        self.cmd("sh")
            .args(["-c", script])
            .output()
            .expect("sh runs")
    }

    fn spawn_sh(&self, script: &str) -> Child {
        self.cmd("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    /// Wait until something listens on `port` (`proto` t or u).
    fn wait_listen(&self, proto: char, port: u16) {
        for _ in 0..100 {
            let out = self.try_sh(&format!("ss -Hln{proto} 'sport = :{port}'"));
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on {proto} port {port} in {}", self.name);
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Kill whatever still runs in it, then delete it.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("command runs");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `tcplab run` on a TUN device in a namespace; stopped (Ctrl-C) on drop.
struct Tcplab {
    child: Option<Child>,
    dev: String,
    ns_name: String,
}

impl Tcplab {
    /// Start `tcplab run --tun DEV --addr ADDR FLAGS -- COMMAND` in `ns`
    /// and wait until its control socket is up.
    fn start(ns: &Ns, addr: &str, flags: &[&str], command: &str) -> Tcplab {
        let dev = format!("tl{}x{}", std::process::id() % 100_000, unique());
        let mut c = ns.cmd(tcplab());
        c.args(["run", "--tun", &dev, "--addr", addr]);
        c.args(flags);
        c.arg("--");
        c.args(command.split_whitespace());
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcplab starts");
        let mut t = Tcplab {
            child: Some(child),
            dev,
            ns_name: ns.name.clone(),
        };
        wait_socket(&mut t.child, &t.dev, "tcplab run");
        t
    }

    /// Run a tool command on the running stack (`tcplab run --attach`).
    fn attach(&self, command: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns_name, tcplab()])
            .args(["run", "--tun", &self.dev, "--attach", "--"])
            .args(shell_words(command))
            .output()
            .expect("attach runs")
    }

    /// Stop it and return what it printed.
    fn stop(mut self) -> Output {
        let child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        child.wait_with_output().expect("tcplab ends")
    }
}

impl Drop for Tcplab {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            for _ in 0..100 {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Split on spaces, keeping '...' quoted words whole (for test commands).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Wait for a helper process at most `secs`, then kill it.
fn reap(mut child: Child, secs: u64) {
    for _ in 0..secs * 20 {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A directory under /tmp with a file of `size` random bytes; removed on
/// drop.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(size: usize) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "tcplab-interop-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = vec![0u8; size];
        let mut x: u64 = 0x1234_5678_9abc_def1 ^ size as u64;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        std::fs::File::create(dir.join("big.bin"))
            .unwrap()
            .write_all(&data)
            .unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256(path: &str) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ping_both_ways_with_fragmentation() {
    if !capable("ping_both_ways_with_fragmentation") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &["--gateway", "10.7.0.1"], "serve echo");
    // The kernel pings the stack, 3000-byte payloads: fragmented both ways.
    let out = ns.sh("ping -c 3 -i 0.2 -s 3000 -W 2 10.7.0.2");
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert!(out.contains("3008 bytes from 10.7.0.2"), "{out}");
    // The stack pings the kernel, likewise.
    let o = t.attach("ping -c 3 -i 0.2 -s 3000 10.7.0.1");
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    assert!(
        s.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{s}"
    );
    assert!(
        s.contains("3008 bytes from 10.7.0.1: icmp_seq=1 ttl=64"),
        "{s}"
    );
}

/// Kernel curl downloads from `serve http`, and tcplab's curl downloads from
/// python's http.server, 20 MB each way, checked by SHA-256.
fn http_both_ways(flags: &[&str]) {
    http_both_ways_in(&Files::new(20 << 20), flags);
}

fn http_both_ways_in(files: &Files, flags: &[&str]) {
    let want = sha256(&files.path("big.bin"));
    let ns = Ns::new();
    let root = files.dir.to_string_lossy().into_owned();
    let t = Tcplab::start(
        &ns,
        "10.7.0.2/24",
        &[flags, &["--gateway", "10.7.0.1"]].concat(),
        &format!("serve http --root {root}"),
    );
    let got = files.path("from-tcplab.bin");
    ns.sh(&format!(
        "curl -sS --max-time 120 -o {got} http://10.7.0.2/big.bin"
    ));
    assert_eq!(sha256(&got), want, "kernel curl from tcplab serve http");

    let mut server = ns.spawn_sh(&format!(
        "exec python3 -m http.server --bind 10.7.0.1 8000 --directory {root}"
    ));
    ns.wait_listen('t', 8000);
    let got = files.path("from-kernel.bin");
    let o = t.attach(&format!(
        "curl -sS -m 120 -o {got} http://10.7.0.1:8000/big.bin"
    ));
    let _ = server.kill();
    let _ = server.wait();
    assert!(o.status.success(), "tcplab curl: {}", text(&o));
    assert_eq!(sha256(&got), want, "tcplab curl from python http.server");
    let out = t.stop();
    assert!(out.status.success(), "tcplab run: {}", text(&out));
}

#[test]
fn http_20mb_both_ways() {
    if capable("http_20mb_both_ways") {
        http_both_ways(&[]);
    }
}

#[test]
fn http_20mb_both_ways_through_loss_reordering_and_duplication() {
    if capable("http_20mb_both_ways_through_loss_reordering_and_duplication") {
        http_both_ways(&[
            "--loss",
            "2%",
            "--reorder",
            "1%",
            "--dup",
            "1%",
            "--delay",
            "1ms",
            "--seed",
            "7",
        ]);
    }
}

/// SACK and timestamps agreed with the kernel's TCP in both directions,
/// used through 2 % loss (SACK blocks from both ends, every segment with
/// TSopt), and the bytes exact both ways with the stack's sender on BBR.
#[test]
fn sack_and_timestamps_with_the_kernel_under_loss() {
    if !capable("sack_and_timestamps_with_the_kernel_under_loss") {
        return;
    }
    let files = Files::new(4 << 20);
    let pcap = files.path("both.pcap");
    http_both_ways_in(
        &files,
        &[
            "--loss", "2%", "--delay", "2ms", "--seed", "11", "--cc", "bbr", "--pcap", &pcap,
        ],
    );
    let fields = |filter: &str, field: &str| -> Vec<String> {
        let o = run_ok(Command::new("tshark").args([
            "-n", "-r", &pcap, "-Y", filter, "-T", "fields", "-e", "ip.src", "-e", field,
        ]));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    // Every SYN, from either end, offers both.
    let syns = fields("tcp.flags.syn == 1", "tcp.options.sack_perm");
    let ts_syns = fields(
        "tcp.flags.syn == 1 && tcp.options.timestamp.tsval",
        "ip.src",
    );
    assert!(syns.len() >= 4, "{syns:?}");
    assert_eq!(ts_syns.len(), syns.len(), "{syns:?} {ts_syns:?}");
    for who in ["10.7.0.1", "10.7.0.2"] {
        assert!(
            syns.iter()
                .any(|l| l.starts_with(who) && l.split(' ').count() == 2),
            "{who}: {syns:?}"
        );
        // Both receivers reported holes with SACK blocks.
        let sacks = fields(
            &format!("ip.src == {who} && tcp.options.sack_le"),
            "tcp.options.sack_le",
        );
        assert!(!sacks.is_empty(), "no SACK blocks from {who}");
    }
    // Once agreed, no segment goes without TSopt.
    let without = fields(
        "tcp && !tcp.options.timestamp.tsval && tcp.flags.reset == 0",
        "tcp.flags",
    );
    assert!(
        without.is_empty(),
        "segments without timestamps: {without:?}"
    );
}

#[test]
fn nc_both_ways_with_half_close() {
    if !capable("nc_both_ways_with_half_close") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    // Kernel nc to the stack's echo service: -N closes its sending side at
    // the end of input, and the answer still comes back.
    let out = ns.sh("printf 'hello tcplab\\n' | nc -N -w 5 10.7.0.2 7");
    assert_eq!(out, "hello tcplab\n");
    // The stack's nc to a kernel listener that reads to the end, then
    // answers: only a half-close lets the answer through.
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.7.0.1', 9000)); s.listen(1)
c, _ = s.accept(); data = b''
while True:
    b = c.recv(4096)
    if not b: break
    data += b
c.sendall(data.upper()); c.close()
\"",
    );
    ns.wait_listen('t', 9000);
    let o = t.attach("echo shout | nc 10.7.0.1 9000");
    reap(server, 5);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "SHOUT\n");
}

#[test]
fn closed_ports_refuse_both_ways() {
    if !capable("closed_ports_refuse_both_ways") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let o = ns.try_sh("nc -z -w 3 10.7.0.2 81; echo status=$?");
    let s = text(&o);
    assert!(s.contains("status=1"), "{s}");
    let o = ns.try_sh("curl -sS http://10.7.0.2:81/; echo status=$?");
    let s = text(&o);
    assert!(
        s.contains("Couldn't connect to server") && s.contains("status=7"),
        "{s}"
    );
    let o = t.attach("nc 10.7.0.1 81");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "nc: connect to 10.7.0.1 port 81 (tcp) failed: Connection refused\n"
    );
}

#[test]
fn udp_both_ways_and_port_unreachable() {
    if !capable("udp_both_ways_and_port_unreachable") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let out = ns.sh("printf 'datagram\\n' | nc -u -w 1 10.7.0.2 7");
    assert_eq!(out, "datagram\n");
    // The kernel's UDP sender hears about a closed port: ICMP port
    // unreachable becomes ECONNREFUSED on its connected socket.
    let out = ns.sh("python3 -c \"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect(('10.7.0.2', 9999)); s.send(b'x')
try:
    s.recv(100); print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
\"");
    assert_eq!(out.trim(), "refused");
    // The stack's nc -u to a kernel UDP echo.
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.7.0.1', 9001))
d, a = s.recvfrom(100); s.sendto(d, a)
\"",
    );
    ns.wait_listen('u', 9001);
    let o = t.attach("echo ping | nc -u 10.7.0.1 9001");
    reap(server, 5);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ping\n", "{}", text(&o));
    // And the stack hears the kernel's port unreachable.
    let o = t.attach("echo x | nc -u 10.7.0.1 9002");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "nc: read failed: Connection refused\n"
    );
}

#[test]
fn traceroute_through_two_kernel_routers() {
    if !capable("traceroute_through_two_kernel_routers") {
        return;
    }
    // tcplab ─tun─ [a: router] ─veth─ [b: router] ─veth─ [c: host]
    let a = Ns::new();
    let b = Ns::new();
    let c = Ns::new();
    let ab = format!("ab{}x{}", std::process::id() % 100_000, unique());
    let bc = format!("bc{}x{}", std::process::id() % 100_000, unique());
    run_ok(Command::new("ip").args([
        "link",
        "add",
        &format!("{ab}a"),
        "netns",
        &a.name,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{ab}b"),
        "netns",
        &b.name,
    ]));
    run_ok(Command::new("ip").args([
        "link",
        "add",
        &format!("{bc}b"),
        "netns",
        &b.name,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{bc}c"),
        "netns",
        &c.name,
    ]));
    a.sh(&format!(
        "ip addr add 10.8.2.1/24 dev {ab}a && ip link set {ab}a up && \
         sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 && \
         ip route add 10.8.3.0/24 via 10.8.2.2"
    ));
    b.sh(&format!(
        "ip addr add 10.8.2.2/24 dev {ab}b && ip link set {ab}b up && \
         ip addr add 10.8.3.1/24 dev {bc}b && ip link set {bc}b up && \
         sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 && \
         ip route add 10.8.1.0/24 via 10.8.2.1"
    ));
    c.sh(&format!(
        "ip addr add 10.8.3.2/24 dev {bc}c && ip link set {bc}c up && \
         ip route add default via 10.8.3.1"
    ));
    let t = Tcplab::start(&a, "10.8.1.2/24", &["--gateway", "10.8.1.1"], "serve echo");
    let o = t.attach("traceroute -n -q 1 -w 2 10.8.3.2");
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines[0],
        "traceroute to 10.8.3.2 (10.8.3.2), 30 hops max, 60 byte packets"
    );
    assert!(lines[1].starts_with(" 1  10.8.1.1  "), "{s}");
    assert!(lines[2].starts_with(" 2  10.8.2.2  "), "{s}");
    assert!(lines[3].starts_with(" 3  10.8.3.2  "), "{s}");
    assert_eq!(lines.len(), 4, "{s}");
}

#[test]
fn bad_setups_are_one_line_and_status_2() {
    if !capable("bad_setups_are_one_line_and_status_2") {
        return;
    }
    let ns = Ns::new();
    // An address that clashes with a kernel route.
    ns.sh("ip link add vclash type veth peer name vclash2 && ip addr add 10.9.0.1/16 dev vclash && ip link set vclash up");
    let o = ns
        .cmd(tcplab())
        .args([
            "run",
            "--tun",
            "tlclash",
            "--addr",
            "10.9.1.2/24",
            "--",
            "serve",
            "echo",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("clashes with the kernel's route to 10.9.0.0/16 via vclash"),
        "{e}"
    );
    // A name that is taken by a device that is not a TUN device.
    let o = ns
        .cmd(tcplab())
        .args([
            "run",
            "--tun",
            "vclash2",
            "--addr",
            "10.5.0.2/24",
            "--",
            "serve",
            "echo",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vclash2 exists and is not a TUN device"));
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

/// Wait for a control socket to appear while `child` runs.
fn wait_socket(child: &mut Option<Child>, dev: &str, what: &str) {
    let sock = PathBuf::from(format!("/run/tcplab/{dev}.sock"));
    for _ in 0..200 {
        if sock.exists() {
            return;
        }
        if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            let out = child.take().unwrap().wait_with_output().unwrap();
            panic!(
                "{what} exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} on {dev} did not come up");
}

/// `tcplab route` between two namespaces, each device moved into its
/// namespace; stopped (Ctrl-C) on drop.
struct Router {
    t: Tcplab,
}

impl Router {
    fn start(inside: &Ns, outside: &Ns, rules: &str, pcap: &str) -> Router {
        let n = unique();
        let pid = std::process::id() % 100_000;
        let (ri, ro) = (format!("ri{pid}x{n}"), format!("ro{pid}x{n}"));
        let child = Command::new(tcplab())
            .args(["route", "--seed", "7", "--pcap", pcap, rules])
            .args(["--tun", &format!("{ri},10.9.1.1/24,netns={}", inside.name)])
            .args(["--tun", &format!("{ro},10.9.2.1/24,netns={}", outside.name)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcplab route starts");
        let mut t = Tcplab {
            child: Some(child),
            dev: ri,
            // The control socket is in the file system: any namespace will do.
            ns_name: inside.name.clone(),
        };
        wait_socket(&mut t.child, &t.dev, "tcplab route");
        Router { t }
    }
}

const RULES: &str = r#"
# 10.9.1.0/24 (the inside) is behind 10.9.1.1, 10.9.2.0/24 behind 10.9.2.1.
[nat]
outside = "10.9.2.1"
inside = ["10.9.1.0/24"]
forward = ["tcp 8080 10.9.1.2:8000", "tcp 2222 10.9.1.2:2222"]

# The inside admits new TCP flows to port 8000 and ICMP only.
[[firewall]]
iface = "10.9.1.1"
inbound = ["allow tcp port 8000", "allow icmp"]
outbound = ["allow all"]

# Nothing reaches UDP port 9999 on the outside subnet.
[[acl]]
iface = "10.9.2.1"
inbound = ["100 deny udp port 9999", "200 allow all"]
outbound = ["100 allow all"]
"#;

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

/// A python3 program that sends raw TCP segments into the namespace's
/// route to the stack: `SRC` and `SPORT` may be spoofed.
const RAW_SEND: &str = r#"
import random, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def syn(src, sport, dst, dport, seq):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return ip + tcp
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
mode, dst = sys.argv[1], sys.argv[2]
if mode == 'land':
    s.sendto(syn(dst, 13, dst, 13, 1), (dst, 0))
else:
    n = int(sys.argv[3])
    for i in range(n):
        src = '10.7.0.%d' % random.randint(3, 254)
        s.sendto(syn(src, random.randint(1024, 65535), dst, 7, random.getrandbits(32)), (dst, 0))
"#;

/// The CPU time (user + system) a process has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    // Fields 14 and 15 of stat (utime, stime), counted after the name.
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
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

impl Tcplab {
    /// `tcplab run --attach -- COMMAND` as a child, its standard streams
    /// piped.
    fn attach_child(&self, command: &str) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns_name, tcplab()])
            .args(["run", "--tun", &self.dev, "--attach", "--"])
            .args(shell_words(command))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("attach runs")
    }
}

/// Send a signal to a child process.
fn kill(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
}

/// Wait for a child with a time limit, draining its output meanwhile (so
/// it never blocks on a full pipe); kills it if it overruns.
fn finish(child: Child, secs: u64) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(o) => o.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let o = rx.recv().expect("the waiter ends").expect("output");
            panic!("did not end in {secs} s: {}", text(&o));
        }
    }
}

#[test]
fn attached_nc_forwards_standard_input_and_half_closes() {
    if !capable("attached_nc_forwards_standard_input_and_half_closes") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    // A kernel server that answers only after the client's half-close, so
    // the reply proves the EOF came through.
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.7.0.1', 9100)); s.listen(1)
c, _ = s.accept(); data = b''
while True:
    d = c.recv(65536)
    if not d: break
    data += d
c.sendall(b'got ' + data); c.close()
\"",
    );
    ns.wait_listen('t', 9100);
    let mut child = t.attach_child("nc 10.7.0.1 9100");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi\nthere\n")
        .unwrap();
    let o = finish(child, 10);
    reap(server, 5);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "got hi\nthere\n");
}

#[test]
fn binary_output_is_byte_exact() {
    if !capable("binary_output_is_byte_exact") {
        return;
    }
    let files = Files::new(300_000);
    let want = sha256(&files.path("big.bin"));
    let ns = Ns::new();
    let root = files.dir.to_string_lossy().into_owned();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &["--gateway", "10.7.0.1"], "serve echo");
    // nc -l on the stack, fed 100,000 random bytes by the kernel's nc.
    let part = files.path("part.bin");
    ns.sh(&format!(
        "head -c 100000 {} > {part}",
        files.path("big.bin")
    ));
    let child = t.attach_child("nc -l 9200");
    std::thread::sleep(Duration::from_millis(300));
    ns.sh(&format!("nc -N -w 5 10.7.0.2 9200 < {part}"));
    let o = finish(child, 10);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = files.path("nc-out.bin");
    std::fs::write(&got, &o.stdout).unwrap();
    assert_eq!(o.stdout.len(), 100_000);
    assert_eq!(sha256(&got), sha256(&part), "nc -l > file");
    // curl --output - to a file: the body unchanged, no refusal (stdout is
    // not a terminal).
    let mut server = ns.spawn_sh(&format!(
        "exec python3 -m http.server --bind 10.7.0.1 8300 --directory {root}"
    ));
    ns.wait_listen('t', 8300);
    let o = t.attach("curl -s --output - http://10.7.0.1:8300/big.bin");
    let _ = server.kill();
    let _ = server.wait();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = files.path("curl-out.bin");
    std::fs::write(&got, &o.stdout).unwrap();
    assert_eq!(sha256(&got), want, "curl --output - > file");
}

#[test]
fn ctrl_c_on_an_attached_command_stops_it_on_the_stack() {
    if !capable("ctrl_c_on_an_attached_command_stops_it_on_the_stack") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    // ping prints its statistics and exits as iputils does.
    let ping = t.attach_child("ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(1200));
    kill(&ping, "-INT");
    let o = finish(ping, 5);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("--- 10.7.0.1 ping statistics ---"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // nc -l is stopped (130) and its port is free again.
    let nc = t.attach_child("nc -l 9300");
    std::thread::sleep(Duration::from_millis(300));
    let ss = String::from_utf8_lossy(&t.attach("ss -tln").stdout).into_owned();
    assert!(ss.contains(":9300"), "{ss}");
    kill(&nc, "-INT");
    let o = finish(nc, 5);
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let ss = String::from_utf8_lossy(&t.attach("ss -tln").stdout).into_owned();
    assert!(!ss.contains(":9300"), "{ss}");
    // SIGTERM likewise.
    let nc = t.attach_child("nc -l 9301");
    std::thread::sleep(Duration::from_millis(300));
    kill(&nc, "-TERM");
    let o = finish(nc, 5);
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
}

#[test]
fn ctrl_c_on_tcplab_run_ends_the_command_like_the_tool() {
    if !capable("ctrl_c_on_tcplab_run_ends_the_command_like_the_tool") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(1200));
    let o = t.stop();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("--- 10.7.0.1 ping statistics ---"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
