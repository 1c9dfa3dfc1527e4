//! `tunnel wg` against the real wireguard-go, over the kernel's networking.
//!
//! ```text
//! [K: wireguard-go wgk 10.66.0.1] 10.64.0.2 ─veth─ 10.64.0.1 [A, forwarding]
//!     10.65.0.1 ─tun─ 10.65.0.2 [tcplab: tunnel wg wg0 10.66.0.2, serve http]
//! ```
//!
//! Keys come from the real `wg genkey`/`wg pubkey` on both sides, so the
//! test also proves the key formats agree. Through the tunnel the kernel
//! pings the stack and downloads from `serve http`, tcplab's curl downloads
//! from python's http.server, and each side's `wg show` reports the
//! handshake with the other. Everything it makes is removed on drop, also
//! when it fails.

use super::*;

const WIREGUARD_GO: &str = "/usr/bin/wireguard-go";
const WG: &str = "/usr/bin/wg";

/// Whether wireguard-go and wg are installed; panics when they must be.
fn have_wireguard(test: &str) -> bool {
    let Some(missing) = [WIREGUARD_GO, WG]
        .into_iter()
        .find(|p| !Path::new(p).exists())
    else {
        return true;
    };
    if std::env::var("TCPLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: no {missing}, and TCPLAB_REQUIRE_ROOT=1 requires these tests to run");
    }
    eprintln!("skipped {test}: no {missing} (needs wireguard-go and wireguard-tools)");
    false
}

/// `wg genkey`, and its public key by `wg pubkey`.
fn keypair() -> (String, String) {
    let out = run_ok(Command::new(WG).arg("genkey"));
    let private = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut c = Command::new(WG)
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey runs");
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{private}\n").as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "wg pubkey failed");
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (private, public)
}

/// Write a private key to a file only its owner reads (as `wg` wants).
fn key_file(files: &Files, name: &str, key: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = files.path(name);
    std::fs::write(&path, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// wireguard-go in the foreground on interface `name` in a namespace, its
/// output in `log`; stopped on drop, and its UAPI socket (in the file
/// system, shared by all namespaces) removed.
struct WireguardGo {
    child: Option<Child>,
    name: String,
    log: String,
}

impl WireguardGo {
    fn start(ns: &Ns, log: &str) -> WireguardGo {
        let name = format!("wgk{}x{}", std::process::id() % 100_000, unique());
        let child = ns.spawn_sh(&format!(
            "LOG_LEVEL=verbose WG_PROCESS_FOREGROUND=1 exec {WIREGUARD_GO} {name} >{log} 2>&1"
        ));
        let mut w = WireguardGo {
            child: Some(child),
            name,
            log: log.to_string(),
        };
        let sock = w.socket();
        for _ in 0..200 {
            if Path::new(&sock).exists() {
                return w;
            }
            if let Some(status) = w.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("wireguard-go exited ({status}): {}", w.output());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("wireguard-go did not make {sock}: {}", w.output());
    }

    fn socket(&self) -> String {
        format!("/var/run/wireguard/{}.sock", self.name)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WireguardGo {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            kill(&c, "-TERM");
            reap(c, 2);
        }
        let _ = std::fs::remove_file(self.socket());
    }
}

/// The two namespaces, wireguard-go and tcplab; dropped in this order:
/// the stack, wireguard-go, the namespaces.
struct Rig {
    tcplab: Option<Tcplab>,
    wg: WireguardGo,
    k: Ns,
    a: Ns,
}

impl Rig {
    /// Panic with `what` and what tcplab, wireguard-go and `wg show` said.
    fn fail(&mut self, what: &str) -> ! {
        let wg_show = text(&self.k.try_sh(&format!("{WG} show {}", self.wg.name)));
        let veth = text(&self.a.try_sh("ip -s link show va"));
        let stack = self
            .tcplab
            .as_ref()
            .map(|t| text(&t.attach("wg show")))
            .unwrap_or_default();
        let run = self
            .tcplab
            .as_mut()
            .and_then(|t| t.child.take())
            .map(|c| {
                kill(&c, "-INT");
                let pid = c.id();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(c.wait_with_output());
                });
                let o = match rx.recv_timeout(Duration::from_secs(5)) {
                    Ok(o) => o,
                    Err(_) => {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                        rx.recv().expect("the waiter ends")
                    }
                };
                o.map(|o| text(&o)).unwrap_or_default()
            })
            .unwrap_or_default();
        panic!(
            "{what}\n--- tcplab run:\n{run}\n--- tcplab wg show:\n{stack}\n\
             --- wireguard-go:\n{}\n--- wg show {}:\n{wg_show}\n--- A's veth to K:\n{veth}",
            self.wg.output(),
            self.wg.name
        );
    }

    fn t(&self) -> &Tcplab {
        self.tcplab.as_ref().expect("tcplab runs")
    }

    /// Poll `check` every 100 ms for at most `secs`; fail with `what` if it
    /// never holds.
    fn wait(&mut self, secs: u64, what: &str, mut check: impl FnMut(&Rig) -> bool) {
        for _ in 0..secs * 10 {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.fail(&format!("{what}: not within {secs} s"));
    }
}

#[test]
fn wireguard_interop_with_wireguard_go() {
    let test = "wireguard_interop_with_wireguard_go";
    if !capable(test) || !have_wireguard(test) {
        return;
    }
    let files = Files::new(4 << 20);
    let want = sha256(&files.path("big.bin"));
    let root = files.dir.to_string_lossy().into_owned();
    let (k_private, k_public) = keypair();
    let (t_private, t_public) = keypair();
    let k_key = key_file(&files, "k.key", &k_private);
    let t_key = key_file(&files, "t.key", &t_private);

    // The outer path: A forwards between the veth to K and tcplab's TUN.
    let a = Ns::new();
    let k = Ns::new();
    a.sh(&format!(
        "ip link add va type veth peer name vk netns {} && \
         ip addr add 10.64.0.1/24 dev va && ip link set va up && \
         sysctl -qw net.ipv4.ip_forward=1",
        k.name
    ));
    k.sh("ip addr add 10.64.0.2/24 dev vk && ip link set vk up && \
         ip route add 10.65.0.0/24 via 10.64.0.1");

    // wireguard-go in K, configured by the real wg.
    let wg = WireguardGo::start(&k, &files.path("wireguard-go.log"));
    let wgk = wg.name.clone();
    k.sh(&format!(
        "{WG} set {wgk} private-key {k_key} listen-port 51820 \
         peer {t_public} allowed-ips 10.66.0.2/32 endpoint 10.65.0.2:51821 && \
         ip addr add 10.66.0.1/24 dev {wgk} && ip link set {wgk} up"
    ));
    k.wait_listen('u', 51820);

    // tcplab in A: the tunnel as the daemon, serve http attached.
    let t = Tcplab::start(
        &a,
        "10.65.0.2/24",
        &["--gateway", "10.65.0.1"],
        &format!(
            "tunnel wg wg0 10.66.0.2/24 --private-key {t_key} --listen-port 51821 \
             --peer {k_public} --endpoint 10.64.0.2:51820 --allowed-ips 10.66.0.1/32 \
             --persistent-keepalive 5"
        ),
    );
    let mut rig = Rig {
        tcplab: Some(t),
        wg,
        k,
        a,
    };
    rig.wait(5, "tcplab's wg show lists wg0", |r| {
        let o = r.t().attach("wg show wg0");
        o.status.success() && text(&o).contains(&format!("peer: {k_public}"))
    });
    let serve = rig.t().attach_child(&format!("serve http --root {root}"));
    rig.wait(5, "serve http listens on port 80", |r| {
        String::from_utf8_lossy(&r.t().attach("ss -tln").stdout).contains(":80 ")
    });

    // 1. The kernel pings the stack through wireguard-go.
    let o = rig.k.try_sh("ping -c 3 -i 0.2 -W 5 10.66.0.2");
    if !o.status.success() || !text(&o).contains("3 packets transmitted, 3 received") {
        rig.fail(&format!("ping from K through the tunnel: {}", text(&o)));
    }

    // 2. The kernel's curl downloads from serve http.
    let got = files.path("from-tcplab.bin");
    let o = rig.k.try_sh(&format!(
        "curl -sS --max-time 30 -o {got} http://10.66.0.2/big.bin"
    ));
    if !o.status.success() || sha256(&got) != want {
        rig.fail(&format!("kernel curl from serve http: {}", text(&o)));
    }

    // 3. tcplab's curl downloads from python's http.server in K.
    let mut server = rig.k.spawn_sh(&format!(
        "exec python3 -m http.server --bind 10.66.0.1 8080 --directory {root}"
    ));
    rig.k.wait_listen('t', 8080);
    let got = files.path("from-kernel.bin");
    let o = rig.t().attach(&format!(
        "curl -sS -m 30 -o {got} http://10.66.0.1:8080/big.bin"
    ));
    let _ = server.kill();
    let _ = server.wait();
    if !o.status.success() || sha256(&got) != want {
        rig.fail(&format!("tcplab curl from http.server: {}", text(&o)));
    }

    // 4. Each side reports its handshake with the other.
    let hs = rig.k.sh(&format!("{WG} show {wgk} latest-handshakes"));
    let when: u64 = hs
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{t_public}\t")))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if when == 0 {
        rig.fail(&format!("wg show latest-handshakes in K: {hs}"));
    }
    let o = rig.t().attach("wg show");
    let show = text(&o);
    let peer = show.split(&format!("peer: {k_public}\n")).nth(1);
    if !o.status.success() || !peer.is_some_and(|p| p.contains("  latest handshake: ")) {
        rig.fail(&format!("tcplab's wg show: {show}"));
    }

    let t = rig.tcplab.take().expect("tcplab runs");
    let out = t.stop();
    // The attached serve http ends with the stack ("went away", status 2).
    reap(serve, 5);
    assert!(out.status.success(), "tcplab run: {}", text(&out));
}
