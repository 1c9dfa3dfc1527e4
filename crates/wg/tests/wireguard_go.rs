//! Interoperability with the real thing: wireguard-go in a network namespace.
//!
//! Two of our `Device`s talk to one wireguard-go interface across a veth pair:
//! one initiates (we send an ICMP echo request and wait for the kernel's
//! reply), the other responds (the namespace runs `ping` and we answer the
//! echo requests we decrypt). Needs root, /dev/net/tun, `ip`, `wg`, `ping`
//! and /usr/bin/wireguard-go; without them it says why and passes, unless
//! TCPLAB_REQUIRE_ROOT=1.
//!
//! This is a driver, so it reads the real clock and OS randomness.

#![expect(clippy::print_stdout, reason = "test progress and skip notes")]

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tcplab_base::Instant;
use tcplab_wg::{Action, AllowedIp, Device, OsEntropy, PeerConfig, PrivateKey, PublicKey};

const WG_GO: &str = "/usr/bin/wireguard-go";
const NS_ADDR: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const ROOT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const WG_PORT: u16 = 51820;
const KERNEL_TUN: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const OUR_INITIATOR_TUN: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const OUR_RESPONDER_TUN: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let uid = fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    });
    if uid.as_deref() != Some("0") {
        return Some("not running as root".into());
    }
    for path in ["/dev/net/tun", WG_GO] {
        if !Path::new(path).exists() {
            return Some(format!("{path} is missing"));
        }
    }
    for tool in ["ip", "wg", "ping"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Everything the test creates; dropping it removes all of it.
struct Lab {
    ns: String,
    veth_root: String,
    iface: String,
    key_file: PathBuf,
    log_file: PathBuf,
    wg_go: Option<Child>,
}

impl Lab {
    fn ns_run(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["ip", "netns", "exec", self.ns.as_str()];
        full.extend_from_slice(args);
        run(&full)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.wg_go.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run(&["ip", "link", "del", &self.veth_root]);
        let _ = run(&["ip", "netns", "del", &self.ns]);
        let _ = fs::remove_file(&self.key_file);
        let _ = fs::remove_file(&self.log_file);
        let _ = fs::remove_file(format!("/var/run/wireguard/{}.sock", self.iface));
    }
}

fn setup(
    kernel_key: &PrivateKey,
    initiator: &PublicKey,
    responder: &PublicKey,
) -> Result<Lab, String> {
    let pid = std::process::id();
    let mut lab = Lab {
        ns: format!("tcplabwg{pid}"),
        veth_root: format!("twg{pid}a"),
        iface: format!("wgt{pid}"),
        key_file: std::env::temp_dir().join(format!("tcplab-wg-{pid}.key")),
        log_file: std::env::temp_dir().join(format!("tcplab-wg-{pid}.log")),
        wg_go: None,
    };
    let veth_ns = format!("twg{pid}b");
    run(&["ip", "netns", "add", &lab.ns])?;
    run(&[
        "ip",
        "link",
        "add",
        &lab.veth_root,
        "type",
        "veth",
        "peer",
        "name",
        &veth_ns,
    ])?;
    run(&["ip", "link", "set", &veth_ns, "netns", &lab.ns])?;
    run(&[
        "ip",
        "addr",
        "add",
        &format!("{ROOT_ADDR}/24"),
        "dev",
        &lab.veth_root,
    ])?;
    run(&["ip", "link", "set", &lab.veth_root, "up"])?;
    lab.ns_run(&[
        "ip",
        "addr",
        "add",
        &format!("{NS_ADDR}/24"),
        "dev",
        &veth_ns,
    ])?;
    lab.ns_run(&["ip", "link", "set", &veth_ns, "up"])?;
    lab.ns_run(&["ip", "link", "set", "lo", "up"])?;

    let log = fs::File::create(&lab.log_file).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.ns, WG_GO, &lab.iface])
        .env("WG_PROCESS_FOREGROUND", "1")
        .env("LOG_LEVEL", "verbose")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("spawning wireguard-go: {e}"))?;
    lab.wg_go = Some(child);
    let mut up = false;
    for _ in 0..100 {
        if lab.ns_run(&["wg", "show", &lab.iface]).is_ok() {
            up = true;
            break;
        }
        nap();
    }
    if !up {
        return Err(format!("wireguard-go did not come up:\n{}", lab.log()));
    }
    fs::write(&lab.key_file, format!("{kernel_key}\n")).map_err(|e| e.to_string())?;
    let key_file = lab.key_file.to_string_lossy().into_owned();
    lab.ns_run(&[
        "wg",
        "set",
        &lab.iface,
        "private-key",
        &key_file,
        "listen-port",
        &WG_PORT.to_string(),
        "peer",
        &initiator.to_string(),
        "allowed-ips",
        &format!("{OUR_INITIATOR_TUN}/32"),
        "peer",
        &responder.to_string(),
        "allowed-ips",
        &format!("{OUR_RESPONDER_TUN}/32"),
    ])?;
    lab.ns_run(&[
        "ip",
        "addr",
        "add",
        &format!("{KERNEL_TUN}/24"),
        "dev",
        &lab.iface,
    ])?;
    lab.ns_run(&["ip", "link", "set", &lab.iface, "up"])?;
    Ok(lab)
}

#[expect(
    clippy::disallowed_methods,
    reason = "waiting for an external process to come up"
)]
fn nap() {
    std::thread::sleep(Duration::from_millis(50));
}

/// The driver's clock: monotonic microseconds since the test began, and
/// wall time for TAI64N.
struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    #[expect(
        clippy::disallowed_methods,
        reason = "a real-network driver reads the real clock"
    )]
    fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    #[expect(clippy::disallowed_methods, reason = "TAI64N needs the wall clock")]
    fn wall(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 ICMP echo request (type 8) or reply (type 0), checksums filled.
fn icmp_echo(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp_type: u8,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut icmp = vec![icmp_type, 0, 0, 0];
    icmp.extend_from_slice(&ident.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = u16::try_from(20 + icmp.len()).expect("small packet");
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 1, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

struct Echo {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp_type: u8,
    ident: u16,
    seq: u16,
    payload: Vec<u8>,
}

fn parse_echo(p: &[u8]) -> Option<Echo> {
    if p.len() < 28 || p[0] >> 4 != 4 || p[9] != 1 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if checksum(&p[..ihl]) != 0 || checksum(&p[ihl..]) != 0 {
        return None;
    }
    let icmp = &p[ihl..];
    Some(Echo {
        src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        icmp_type: icmp[0],
        ident: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: icmp[8..].to_vec(),
    })
}

/// Moves datagrams between `socket` and `device`, runs timers, and hands
/// every delivered inner packet to `on_deliver`, which may answer with a
/// packet to send into the tunnel. Stops when `done` says so or at `limit`.
fn pump(
    device: &mut Device,
    socket: &UdpSocket,
    clock: &Clock,
    limit: Duration,
    mut on_deliver: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    mut done: impl FnMut() -> bool,
    initial: Vec<Action>,
) -> Result<(), String> {
    let end = clock.now() + limit;
    let mut pending = initial;
    let mut buf = vec![0u8; 65536];
    loop {
        while !pending.is_empty() {
            let actions = std::mem::take(&mut pending);
            for action in actions {
                match action {
                    Action::Send { to, datagram } => {
                        socket.send_to(&datagram, to).map_err(|e| e.to_string())?;
                    }
                    Action::Deliver(packet) => {
                        if let Some(reply) = on_deliver(&packet) {
                            pending.extend(device.send(clock.now(), clock.wall(), &reply));
                        }
                    }
                }
            }
        }
        if done() {
            return Ok(());
        }
        let now = clock.now();
        if now >= end {
            return Err("timed out".into());
        }
        if device.poll_timeout().is_some_and(|t| t <= now) {
            pending.extend(device.handle_timeout(now, clock.wall()));
            continue;
        }
        let wait = device
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| t.saturating_since(now))
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        socket
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        match socket.recv_from(&mut buf) {
            Ok((n, std::net::SocketAddr::V4(from))) => {
                pending.extend(device.receive(clock.now(), clock.wall(), from, &buf[..n]));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn device_for(key: PrivateKey, kernel: PublicKey) -> Device {
    let mut device = Device::new(key, Box::new(OsEntropy));
    let mut peer = PeerConfig::new(kernel);
    peer.endpoint = Some(SocketAddrV4::new(NS_ADDR, WG_PORT));
    peer.allowed_ips = vec![AllowedIp::new(Ipv4Addr::new(10, 77, 0, 0), 24).expect("valid prefix")];
    device.add_peer(peer).expect("one peer");
    device
}

#[test]
fn interoperates_with_wireguard_go() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var("TCPLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
            panic!("wireguard-go interop cannot run: {why}");
        }
        println!("skipping wireguard-go interop: {why}");
        return;
    }
    let mut os = OsEntropy;
    let kernel_key = PrivateKey::generate(&mut os);
    let initiator_key = PrivateKey::generate(&mut os);
    let responder_key = PrivateKey::generate(&mut os);
    let lab = match setup(
        &kernel_key,
        &initiator_key.public_key(),
        &responder_key.public_key(),
    ) {
        Ok(lab) => lab,
        Err(e) => panic!("setting up the namespace failed: {e}"),
    };
    if let Err(e) = exercise(&lab, kernel_key.public_key(), initiator_key, responder_key) {
        panic!(
            "interop failed: {e}\n--- wireguard-go log ---\n{}",
            lab.log()
        );
    }
}

fn exercise(
    lab: &Lab,
    kernel: PublicKey,
    initiator_key: PrivateKey,
    responder_key: PrivateKey,
) -> Result<(), String> {
    let clock = Clock::new();

    // 1. We initiate: echo request 10.77.0.2 -> 10.77.0.1 through our tunnel.
    let initiator_pub = initiator_key.public_key();
    let mut ours = device_for(initiator_key, kernel);
    let socket = UdpSocket::bind((ROOT_ADDR, 0)).map_err(|e| format!("bind: {e}"))?;
    let request = icmp_echo(
        OUR_INITIATOR_TUN,
        KERNEL_TUN,
        8,
        0x7731,
        1,
        b"tcplab-wg interop ping",
    );
    let first = ours.send(clock.now(), clock.wall(), &request);
    let got_reply = std::cell::Cell::new(false);
    pump(
        &mut ours,
        &socket,
        &clock,
        Duration::from_secs(10),
        |p| {
            if let Some(e) = parse_echo(p) {
                if e.icmp_type == 0
                    && e.src == KERNEL_TUN
                    && e.ident == 0x7731
                    && e.payload == b"tcplab-wg interop ping"
                {
                    got_reply.set(true);
                }
            }
            None
        },
        || got_reply.get(),
        first,
    )
    .map_err(|e| {
        format!(
            "no echo reply from wireguard-go's side: {e}; stats {:?}",
            ours.stats()
        )
    })?;
    println!("initiator path: echo reply received; {:?}", ours.stats());
    let status = ours.peers().next().ok_or("peer vanished")?;
    if status.latest_handshake.is_none() || status.rx_bytes == 0 || status.tx_bytes == 0 {
        return Err(format!("our status is incomplete: {status:?}"));
    }

    let handshakes = lab.ns_run(&["wg", "show", &lab.iface, "latest-handshakes"])?;
    let line = handshakes
        .lines()
        .find(|l| l.starts_with(&initiator_pub.to_string()))
        .ok_or_else(|| format!("our peer missing from `wg show`: {handshakes}"))?;
    let stamp: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unparsable latest-handshakes line: {line}"))?;
    if stamp == 0 {
        return Err(format!("wireguard-go reports no handshake: {line}"));
    }
    println!("wg show latest-handshakes: {line}");

    // 2. wireguard-go initiates: `ping` in the namespace; we answer.
    let responder_pub = responder_key.public_key();
    let mut responder = device_for(responder_key, kernel);
    let socket = UdpSocket::bind((ROOT_ADDR, 0)).map_err(|e| format!("bind: {e}"))?;
    let port = socket.local_addr().map_err(|e| e.to_string())?.port();
    lab.ns_run(&[
        "wg",
        "set",
        &lab.iface,
        "peer",
        &responder_pub.to_string(),
        "endpoint",
        &format!("{ROOT_ADDR}:{port}"),
    ])?;
    let mut ping = Command::new("ip")
        .args(["netns", "exec", &lab.ns, "ping", "-c", "1", "-W", "5"])
        .arg(OUR_RESPONDER_TUN.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning ping: {e}"))?;
    let mut ping_status = None;
    let answered = std::cell::Cell::new(0u32);
    let result = pump(
        &mut responder,
        &socket,
        &clock,
        Duration::from_secs(10),
        |p| {
            let e = parse_echo(p)?;
            if e.icmp_type != 8 || e.dst != OUR_RESPONDER_TUN {
                return None;
            }
            answered.set(answered.get() + 1);
            Some(icmp_echo(e.dst, e.src, 0, e.ident, e.seq, &e.payload))
        },
        || {
            if ping_status.is_none() {
                ping_status = ping.try_wait().ok().flatten();
            }
            ping_status.is_some()
        },
        Vec::new(),
    );
    if ping_status.is_none() {
        let _ = ping.kill();
    }
    let output = ping.wait_with_output().map_err(|e| e.to_string())?;
    result.map_err(|e| format!("ping did not finish: {e}; stats {:?}", responder.stats()))?;
    if !output.status.success() {
        return Err(format!(
            "ping from the namespace failed ({} requests answered, stats {:?}):\n{}",
            answered.get(),
            responder.stats(),
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    println!(
        "responder path: ping from wireguard-go succeeded; {:?}",
        responder.stats()
    );
    let status = responder.peers().next().ok_or("peer vanished")?;
    if status.latest_handshake.is_none() {
        return Err(format!("responder never confirmed the session: {status:?}"));
    }
    Ok(())
}
