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

mod attached;
mod cli;
mod https;
mod router;
mod transfer;
mod tunnel;
mod wg;

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
