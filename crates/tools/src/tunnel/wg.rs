//! `tunnel wg`: WireGuard over the host's UDP socket ([`tcplab_wg`]).
//!
//! The daemon owns a [`tcplab_wg::Device`] (the protocol, sans-IO), a UDP
//! socket on the listen port and the tunnel interface. It moves datagrams
//! routed into the interface to `Device::send`, UDP datagrams to
//! `Device::receive`, and wakes at `Device::poll_timeout` for the
//! protocol's timers; whatever the device asks for (send a UDP datagram,
//! deliver an inner packet) it does at once.
//!
//! Randomness and time: the device never reads a clock or the OS's
//! randomness. Its clock is the host's (virtual in the simulator, real over
//! TUN); the TAI64N timestamps of initiations come from the host's wall
//! clock (2025-01-01 at the start of a simulated run, `LAB_EPOCH`). In the
//! simulator its randomness is [`tcplab_wg::SeededEntropy`] seeded from
//! the host's seed, so a run's captures are byte-identical for a seed —
//! a LABORATORY source, never for real secrets; over TUN it is the
//! operating system's ([`tcplab_wg::OsEntropy`]).

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{Host, Output, TunnelDevice, TunnelStatus, UdpSocket};
use tcplab_wg::{
    Action, AllowedIp, Device, Entropy, OsEntropy, PeerConfig, PresharedKey, PrivateKey, PublicKey,
    SeededEntropy,
};
use tcplab_wire::Cidr;

use super::{check_name, outer_mtu, parse_cidr, parse_hostport, parse_mtu, parse_port, resolve};
use crate::select::{select, Either};
use crate::Usage;

/// Outer IPv4 (20) + UDP (8) + WireGuard's data header and tag (32).
pub(crate) const WG_OVERHEAD: usize = 20 + 8 + tcplab_wg::TRANSPORT_OVERHEAD;

/// A key given on the command line, or the file that holds it (as `wg
/// set` takes `private-key FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Literal(String),
    File(String),
}

impl KeySource {
    fn parse(v: &str) -> KeySource {
        // What reads as a key is one (base64 has '/' in it too); anything
        // else names a file.
        if v.parse::<PublicKey>().is_ok() {
            KeySource::Literal(v.to_string())
        } else {
            KeySource::File(v.to_string())
        }
    }

    fn text(&self, host: &Host) -> Result<String, String> {
        match self {
            KeySource::Literal(k) => Ok(k.clone()),
            // A key is 44 characters; what a key file holds past a few
            // hundred bytes (a device, a huge file) is not read.
            KeySource::File(path) => host
                .fs()
                .read_prefix(path, KEY_FILE_MAX + 1)
                .map_err(|e| format!("key file {e}"))
                .and_then(|b| {
                    if b.len() > KEY_FILE_MAX {
                        Err(format!("key file {path}: longer than a key"))
                    } else {
                        Ok(String::from_utf8_lossy(&b).trim().to_string())
                    }
                }),
        }
    }
}

/// The most a key file may hold: a 44-character key and whitespace.
const KEY_FILE_MAX: usize = 256;

/// One `--peer` and the options that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgPeerArgs {
    pub public_key: String,
    pub endpoint: Option<String>,
    pub allowed_ips: Vec<AllowedIp>,
    pub preshared_key: Option<KeySource>,
    pub keepalive: Option<u16>,
}

/// `tunnel wg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgArgs {
    pub name: String,
    pub addr: Cidr,
    pub private_key: KeySource,
    pub listen_port: Option<u16>,
    pub mtu: Option<usize>,
    pub routes: Vec<Cidr>,
    pub peers: Vec<WgPeerArgs>,
}

fn err(message: String) -> Usage {
    Usage::new("tunnel", message)
}

pub(super) fn parse(args: &[String]) -> Result<WgArgs, Usage> {
    let mut operands = Vec::new();
    let mut private_key = None;
    let mut listen_port = None;
    let mut mtu = None;
    let mut routes = Vec::new();
    let mut peers: Vec<WgPeerArgs> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(opt) = a.strip_prefix("--") else {
            operands.push(a.clone());
            continue;
        };
        let (opt, inline) = match opt.split_once('=') {
            Some((o, v)) => (o, Some(v.to_string())),
            None => (opt, None),
        };
        // Every option takes a value: one it does not know is named as
        // such wherever it stands.
        const KNOWN: [&str; 9] = [
            "private-key",
            "listen-port",
            "mtu",
            "route",
            "peer",
            "endpoint",
            "allowed-ips",
            "preshared-key",
            "persistent-keepalive",
        ];
        if !KNOWN.contains(&opt) {
            return Err(err(format!("unrecognized option '--{opt}'")));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let v = args
                    .get(i)
                    .ok_or_else(|| err(format!("option '--{opt}' requires an argument")))?;
                i += 1;
                v.clone()
            }
        };
        fn peer_opt<'a>(
            peers: &'a mut [WgPeerArgs],
            opt: &str,
        ) -> Result<&'a mut WgPeerArgs, Usage> {
            peers
                .last_mut()
                .ok_or_else(|| err(format!("--{opt} belongs to a peer: put it after --peer")))
        }
        match opt {
            "private-key" => private_key = Some(KeySource::parse(&value)),
            "listen-port" => listen_port = Some(parse_port("--listen-port", &value)?),
            "mtu" => mtu = Some(parse_mtu(&value)?),
            "route" => routes.push(parse_cidr("--route", &value)?),
            "peer" => {
                value
                    .parse::<PublicKey>()
                    .map_err(|e| err(format!("--peer `{value}`: {e}")))?;
                peers.push(WgPeerArgs {
                    public_key: value,
                    endpoint: None,
                    allowed_ips: Vec::new(),
                    preshared_key: None,
                    keepalive: None,
                });
            }
            "endpoint" => {
                parse_hostport("--endpoint", &value)?;
                peer_opt(&mut peers, opt)?.endpoint = Some(value);
            }
            "allowed-ips" => {
                // As `wg set`: an empty list clears, an empty element
                // in a list is an address that does not parse.
                let mut ips = Vec::new();
                let parts = value.split(',').map(str::trim);
                for part in parts.filter(|_| !value.trim().is_empty()) {
                    ips.push(
                        part.parse::<AllowedIp>()
                            .map_err(|e| err(format!("--allowed-ips `{part}`: {e}")))?,
                    );
                }
                peer_opt(&mut peers, opt)?.allowed_ips.extend(ips);
            }
            "preshared-key" => {
                peer_opt(&mut peers, opt)?.preshared_key = Some(KeySource::parse(&value))
            }
            "persistent-keepalive" => {
                // `off` or 0 turn it off, as `wg set` takes them.
                let secs = if value == "off" {
                    0
                } else {
                    value.parse::<u16>().map_err(|_| {
                        err(format!(
                            "--persistent-keepalive: `{value}` is not off or 0..65535 seconds"
                        ))
                    })?
                };
                peer_opt(&mut peers, opt)?.keepalive = (secs > 0).then_some(secs);
            }
            other => return Err(err(format!("unrecognized option '--{other}'"))),
        }
    }
    let [name, addr] = operands.as_slice() else {
        if let [_, _, extra, ..] = operands.as_slice() {
            return Err(err(format!("tunnel wg: unexpected argument '{extra}'")));
        }
        return Err(err("tunnel wg needs a NAME and an ADDR/LEN".into()));
    };
    let private_key =
        private_key.ok_or_else(|| err("tunnel wg needs --private-key KEY|FILE".into()))?;
    if let KeySource::Literal(k) = &private_key {
        k.parse::<PrivateKey>()
            .map_err(|e| err(format!("--private-key: {e}")))?;
    }
    if peers.is_empty() {
        return Err(err("tunnel wg needs at least one --peer PUBKEY".into()));
    }
    Ok(WgArgs {
        name: check_name(name)?,
        addr: parse_cidr("address", addr)?,
        private_key,
        listen_port,
        mtu,
        routes,
        peers,
    })
}

/// What `wg show` and `tunnel show` read.
pub struct WgStatus {
    pub device: RefCell<Device>,
    pub listen_port: u16,
    /// Datagrams whose route led back into the tunnel (`routes_into_itself`).
    pub routing_loop: std::cell::Cell<u64>,
}

impl std::fmt::Debug for WgStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgStatus")
            .field("listen_port", &self.listen_port)
            .finish_non_exhaustive()
    }
}

impl TunnelStatus for WgStatus {
    fn kind(&self) -> &'static str {
        "wireguard"
    }

    fn show(&self, host: &Host) -> Vec<String> {
        let d = self.device.borrow();
        let s = d.stats();
        let mut lines = vec![format!("listening port: {}", self.listen_port)];
        for p in d.peers() {
            lines.push(format!(
                "peer {}: endpoint {}, latest handshake {}, transfer {} received, {} sent{}",
                p.public_key,
                p.endpoint.map_or("(none)".into(), |e| e.to_string()),
                p.latest_handshake
                    .map_or("never".into(), |t| ago(host.wall_clock(), t)),
                bytes(p.rx_bytes),
                bytes(p.tx_bytes),
                if p.handshake_failed {
                    "; handshake gave up: peer unreachable"
                } else {
                    ""
                }
            ));
        }
        lines.push(format!(
            "dropped: replayed {}, bad mac1 {}, bad handshakes {}, unknown peer {}, replayed handshakes {}, handshake flood {}, rate limited {}, decrypt failures {}, wrong source {}, invalid {}, ipv6 {}, unknown index {}, no route {}, no endpoint {}, routing loop {}; cookie replies sent {}",
            s.replayed_packets,
            s.bad_mac1,
            s.invalid_handshakes,
            s.unknown_peer,
            s.replayed_initiations,
            s.initiation_flood,
            s.rate_limited,
            s.decrypt_failures,
            s.wrong_source,
            s.invalid_messages,
            s.ipv6_dropped,
            s.unknown_index,
            s.no_route,
            s.no_endpoint,
            self.routing_loop.get(),
            s.cookie_replies_sent
        ));
        lines
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `wg show`'s durations: "1 minute, 5 seconds ago" — from `then` to
/// `now` on the wall clock, in whole seconds of each as wireguard-tools'
/// `ago()` subtracts them (`now - t->tv_sec`, both `time_t`), so a
/// handshake at 0.005 s is "1 second ago" at 1.000 s.
pub fn ago(now: Duration, then: Duration) -> String {
    let s = now.as_secs().saturating_sub(then.as_secs());
    if s == 0 {
        return "Now".into();
    }
    format!("{} ago", seconds_text(s))
}

/// wireguard-tools' `format_seconds`: "1 minute, 30 seconds" (also in
/// `persistent keepalive: every ...`).
pub fn seconds_text(mut s: u64) -> String {
    let mut parts = Vec::new();
    for (unit, len) in [
        ("year", 365 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
        ("second", 1),
    ] {
        let n = s / len;
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
            s %= len;
        }
    }
    parts.join(", ")
}

/// `wg show`'s byte counts: "1.23 KiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 4] = [
        ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
    ];
    for (u, size) in UNITS {
        if n as f64 >= size {
            return format!("{:.2} {u}", n as f64 / size);
        }
    }
    format!("{n} B")
}

/// The randomness a host gives its WireGuard device (see the module docs).
pub(crate) fn entropy(host: &Host) -> Box<dyn Entropy> {
    if host.uses_os_random() {
        Box::new(OsEntropy)
    } else {
        let mut seed = [0u8; 8];
        // In the simulator this is the stack's seeded generator: no failure.
        let _ = host.fill_random(&mut seed);
        Box::new(SeededEntropy::new(u64::from_le_bytes(seed)))
    }
}

enum Step {
    Packet(Vec<u8>),
    Datagram(tcplab_stack::UdpDatagram),
    IcmpError,
    Timer,
}

pub(super) async fn run(host: Host, a: WgArgs, mut out: Output, mut errs: Output) -> i32 {
    match setup(&host, &a, &mut out).await {
        Ok((dev, udp, status)) => serve(&host, &dev, &udp, &status).await,
        Err(e) => {
            errs.line(format!("tunnel: {e}"));
            1
        }
    }
}

async fn setup(
    host: &Host,
    a: &WgArgs,
    out: &mut Output,
) -> Result<(TunnelDevice, UdpSocket, Rc<WgStatus>), String> {
    // A key read from a file is named with its file.
    let private: PrivateKey =
        a.private_key
            .text(host)?
            .parse()
            .map_err(|e| match &a.private_key {
                KeySource::File(path) => format!("private key file {path}: {e}"),
                KeySource::Literal(_) => format!("private key: {e}"),
            })?;
    // wireguard-go and the kernel take the all-zero key for "no private
    // key": such an interface answers nobody. Refused rather than used.
    if private.as_bytes().iter().all(|&b| b == 0) {
        return Err("private key: all zero, which WireGuard takes for no key".into());
    }
    let mut device = Device::new(private, entropy(host));
    let mut first_endpoint = None;
    let mut auto_routes = Vec::new();
    for p in &a.peers {
        let public: PublicKey = p.public_key.parse().map_err(|e| format!("--peer: {e}"))?;
        let mut config = PeerConfig::new(public);
        if let Some(e) = &p.endpoint {
            let addr = resolve(host, e).await?;
            first_endpoint.get_or_insert(addr);
            config.endpoint = Some(addr);
        }
        if let Some(k) = &p.preshared_key {
            let psk: PresharedKey = k
                .text(host)?
                .parse()
                .map_err(|e| format!("preshared key: {e}"))?;
            config.preshared_key = Some(psk);
        }
        config.allowed_ips = p.allowed_ips.clone();
        config.persistent_keepalive = p.keepalive;
        for ip in &p.allowed_ips {
            // As wg-quick does: each allowed network is routed into the
            // tunnel, except a default route or one that would swallow the
            // peer's own endpoint (the outer packets would loop).
            let swallows = config.endpoint.is_some_and(|e| ip.contains(*e.ip()));
            if ip.prefix > 0 && !swallows {
                auto_routes
                    .push(Cidr::new(ip.addr, ip.prefix).ok_or_else(|| format!("allowed ip {ip}"))?);
            }
        }
        device
            .add_peer(config)
            .map_err(|e| format!("--peer {}: {e}", p.public_key))?;
    }
    let mtu = a.mtu.unwrap_or_else(|| {
        outer_mtu(host, first_endpoint.map(|e| *e.ip())).saturating_sub(WG_OVERHEAD)
    });
    device.set_mtu(mtu);
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.listen_port.unwrap_or(0));
    let udp = UdpSocket::bind(host, local).map_err(|e| format!("bind udp {local}: {e}"))?;
    // Outer datagrams go with DF clear, as the Linux module sends them
    // (`udp_tunnel_xmit_skb` with df 0): a router before a narrower link
    // fragments them rather than dropping the first with a "fragmentation
    // needed" the inner sender never hears of.
    udp.set_pmtudisc(tcplab_stack::PmtuDisc::Dont);
    let dev = host
        .create_tunnel(&a.name, a.addr, mtu)
        .map_err(|e| super::device_error(&a.name, &e))?;
    for r in a.routes.iter().chain(&auto_routes) {
        dev.add_route(*r).map_err(|e| format!("route {r}: {e}"))?;
    }
    let status = Rc::new(WgStatus {
        listen_port: udp.local_addr().port(),
        device: RefCell::new(device),
        routing_loop: std::cell::Cell::new(0),
    });
    dev.set_status(status.clone());
    out.line(format!(
        "{}: wireguard {} mtu {mtu}, listening on udp port {}, public key {}",
        a.name,
        a.addr,
        status.listen_port,
        status.device.borrow().public_key()
    ));
    Ok((dev, udp, status))
}

async fn serve(host: &Host, dev: &TunnelDevice, udp: &UdpSocket, status: &WgStatus) -> i32 {
    loop {
        let deadline = status.device.borrow().poll_timeout();
        let timer = async {
            match deadline {
                Some(t) => host.sleep_until(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        let step = match select(select(dev.recv(), udp.recv_from()), timer).await {
            Either::Left(Either::Left(p)) => Step::Packet(p),
            Either::Left(Either::Right(Ok(d))) => Step::Datagram(d),
            Either::Left(Either::Right(Err(_))) => Step::IcmpError,
            Either::Right(()) => Step::Timer,
        };
        let now = host.now();
        let wall = host.wall_clock();
        let actions = {
            let mut d = status.device.borrow_mut();
            match step {
                Step::Packet(p) => d.send(now, wall, &p),
                Step::Datagram(dg) => d.receive(now, wall, dg.from, &dg.data),
                Step::IcmpError => Vec::new(),
                Step::Timer => d.handle_timeout(now, wall),
            }
        };
        for a in actions {
            match a {
                // A full socket buffer or no route: the datagram is lost,
                // as UDP loses it; WireGuard's timers retry handshakes.
                Action::Send { to, datagram } => {
                    if super::routes_into_itself(host, dev, *to.ip()) {
                        status.routing_loop.set(status.routing_loop.get() + 1);
                        host.with_stack(|st| st.note_tx_dropped(dev.iface()));
                    } else {
                        let _ = udp.send_to(&datagram, to);
                    }
                }
                Action::Deliver(packet) => dev.inject(&packet),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ago, seconds_text};
    use std::time::Duration;

    #[test]
    fn ages_count_whole_seconds_of_each_stamp_as_wireguard_tools() {
        let t = |ms: u64| Duration::from_millis(ms);
        // A handshake at 0.005 s: "Now" within its second, then whole
        // seconds of the clock, not of the time between.
        assert_eq!(ago(t(999), t(5)), "Now");
        assert_eq!(ago(t(1_000), t(5)), "1 second ago");
        assert_eq!(ago(t(2_000), t(5)), "2 seconds ago");
        assert_eq!(ago(t(65_000), t(5)), "1 minute, 5 seconds ago");
        assert_eq!(ago(t(5), t(1_000)), "Now");
        // `persistent keepalive: every ...` as wg prints 1, 60, 90, 3600
        // and 65535 seconds.
        assert_eq!(seconds_text(1), "1 second");
        assert_eq!(seconds_text(60), "1 minute");
        assert_eq!(seconds_text(90), "1 minute, 30 seconds");
        assert_eq!(seconds_text(3600), "1 hour");
        assert_eq!(seconds_text(65535), "18 hours, 12 minutes, 15 seconds");
    }
}
