//! `tunnel`: layer-3 VPN tunnels built from the host's own sockets, and a
//! UDP-over-TCP relay.
//!
//! ```text
//! tunnel tcp NAME ADDR/LEN (-l PORT | -c HOST:PORT) [--mtu N] [--route NET]...
//! tunnel udp NAME ADDR/LEN (-l PORT | -c HOST:PORT) [--mtu N] [--route NET]...
//! tunnel wg NAME ADDR/LEN --private-key KEY|FILE [--listen-port PORT] [--mtu N]
//!        [--route NET]... --peer PUBKEY [--endpoint HOST:PORT] [--allowed-ips NET[,NET]]
//!        [--preshared-key KEY|FILE] [--persistent-keepalive SECS] [--peer ...]
//! tunnel udp2tcp --udp-listen PORT --tcp-forward HOST:PORT
//! tunnel tcp2udp --tcp-listen PORT --udp-forward HOST:PORT
//! tunnel show
//! ```
//!
//! Each tunnel is a daemon that makes a tunnel interface on its host
//! ([`tcplab_host::TunnelDevice`]): what the stack routes into it is
//! encapsulated and sent with the host's own TCP or UDP socket, and what
//! arrives is decapsulated and handed back to the stack as if it came in on
//! the interface. `tcpdump -i NAME` shows the inner datagrams, `tcpdump -i
//! eth0` the outer ones, `ss` the outer socket, `netstat -i` the counters.
//!
//! * `tcp`: IP datagrams over one TCP connection, each behind a 2-byte
//!   length ([`framing`], RFC 4571 style, as OpenVPN's TCP mode frames
//!   them). This is TCP over TCP for any inner TCP: the experiment in
//!   `scenarios/meltdown.toml` and docs/tunnels.md.
//! * `udp`: IP datagrams in UDP datagrams, unencrypted (the control
//!   case of the experiment: a UDP tunnel without cryptography).
//! * `wg`: WireGuard over UDP.
//! * `udp2tcp` / `tcp2udp`: carry UDP datagrams over one TCP connection
//!   with the same framing, both ways (mullvad's udp-over-tcp does the
//!   same), for networks that block UDP; with a WireGuard tunnel pointed at
//!   `udp2tcp` this is WireGuard over TCP.

pub mod framing;
pub mod relay;
mod tcp;
mod udp;
pub mod wg;

use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_host::{Host, Output, TunnelDevice, TunnelError};
use tcplab_wire::Cidr;

use crate::args::{getopt, Opt};
use crate::Usage;

const USAGE: &str =
    "usage: tunnel tcp|udp NAME ADDR/LEN (-l PORT | -c HOST:PORT) [--mtu N] [--route NET]...
       tunnel wg NAME ADDR/LEN --private-key KEY|FILE [--listen-port PORT] [--mtu N]
                 [--route NET]... --peer PUBKEY [--endpoint HOST:PORT] [--allowed-ips NET[,NET]]
                 [--preshared-key KEY|FILE] [--persistent-keepalive SECS] [--peer ...]
       tunnel udp2tcp --udp-listen PORT --tcp-forward HOST:PORT
       tunnel tcp2udp --tcp-listen PORT --udp-forward HOST:PORT
       tunnel show";

const HELP: &str =
    "usage: tunnel tcp|udp NAME ADDR/LEN (-l PORT | -c HOST:PORT) [--mtu N] [--route NET]...
       tunnel wg NAME ADDR/LEN --private-key KEY|FILE [--listen-port PORT] [--mtu N]
                 [--route NET]... --peer PUBKEY [--endpoint HOST:PORT] [--allowed-ips NET[,NET]]
                 [--preshared-key KEY|FILE] [--persistent-keepalive SECS] [--peer ...]
       tunnel udp2tcp --udp-listen PORT --tcp-forward HOST:PORT
       tunnel tcp2udp --tcp-listen PORT --udp-forward HOST:PORT
       tunnel show

Layer-3 tunnels made of the host's own sockets. A tunnel makes the
interface NAME with address ADDR/LEN; what is routed into it travels
inside the outer connection to the far end, which hands it to its stack.

  tcp        IP datagrams over one TCP connection, each behind a 2-byte
             length: -l PORT waits for the far end, -c HOST:PORT calls it
             (and calls again when the connection breaks)
  udp        IP datagrams in UDP datagrams, no encryption (what a
             VPN is without its cryptography): -l PORT answers whoever
             sends, -c HOST:PORT sends to HOST:PORT
  wg         WireGuard (the protocol of wireguard-go and the Linux
             module): a peer's --allowed-ips are routed into the tunnel
             and are the only inner sources accepted from it; keys as
             `wg genkey` / `wg pubkey` write them, or files holding them
  udp2tcp    UDP datagrams arriving on PORT travel over a TCP connection
             to HOST:PORT (where tcp2udp listens), replies come back
  tcp2udp    frames from each TCP connection on PORT go as UDP datagrams
             to HOST:PORT, replies go back the same way
  show       the tunnels of this host and their state

  --mtu N        the tunnel interface's MTU (default: the outer path's
                 MTU minus the outer headers)
  --route NET    also route NET into the tunnel (repeatable)";

/// A parsed `tunnel` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelArgs {
    Tcp(PipeArgs),
    Udp(PipeArgs),
    Wg(wg::WgArgs),
    Udp2Tcp {
        udp_listen: u16,
        tcp_forward: String,
    },
    Tcp2Udp {
        tcp_listen: u16,
        udp_forward: String,
    },
    Show,
}

/// `tunnel tcp` and `tunnel udp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeArgs {
    pub name: String,
    pub addr: Cidr,
    pub listen: Option<u16>,
    pub connect: Option<String>,
    pub mtu: Option<usize>,
    pub routes: Vec<Cidr>,
}

fn usage(message: String) -> Usage {
    Usage::with_usage("tunnel", message, USAGE)
}

pub(crate) fn parse_port(what: &str, v: &str) -> Result<u16, Usage> {
    v.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Usage::new("tunnel", format!("{what}: invalid port `{v}`")))
}

/// `HOST:PORT`, the host a name or a dotted quad.
pub(crate) fn parse_hostport(what: &str, v: &str) -> Result<(String, u16), Usage> {
    let (h, p) = v
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| Usage::new("tunnel", format!("{what}: expected HOST:PORT, got `{v}`")))?;
    if h.starts_with('[') || h.contains(':') {
        return Err(Usage::new(
            "tunnel",
            format!("{what}: `{v}` is an IPv6 endpoint; tcplab's stack is IPv4 only"),
        ));
    }
    Ok((h.to_string(), parse_port(what, p)?))
}

pub(crate) fn parse_cidr(what: &str, v: &str) -> Result<Cidr, Usage> {
    v.parse::<Cidr>().map_err(|_| {
        Usage::new(
            "tunnel",
            format!("{what}: `{v}` is not an address with a prefix length (like 10.9.0.1/24)"),
        )
    })
}

impl TunnelArgs {
    pub fn parse(args: &[String]) -> Result<TunnelArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("tunnel", HELP.into(), true, 0));
        }
        let Some((kind, rest)) = args.split_first() else {
            return Err(usage(
                "which tunnel? (tcp, udp, wg, udp2tcp, tcp2udp, show)".into(),
            ));
        };
        match kind.as_str() {
            "tcp" => parse_pipe("tcp", rest).map(TunnelArgs::Tcp),
            "udp" => parse_pipe("udp", rest).map(TunnelArgs::Udp),
            "wg" => wg::parse(rest).map(TunnelArgs::Wg),
            "udp2tcp" | "tcp2udp" => parse_relay(kind, rest),
            "show" if rest.is_empty() => Ok(TunnelArgs::Show),
            "show" => Err(usage("show takes no arguments".into())),
            other => Err(usage(format!(
                "unknown tunnel kind `{other}` (tcp, udp, wg, udp2tcp, tcp2udp, show)"
            ))),
        }
    }

    /// Tunnels and relays run until stopped.
    pub fn is_daemon(&self) -> bool {
        !matches!(self, TunnelArgs::Show)
    }
}

fn parse_pipe(kind: &str, args: &[String]) -> Result<PipeArgs, Usage> {
    let (opts, rest) =
        getopt(args, "l:c:", &["listen=", "connect=", "mtu=", "route="]).map_err(usage)?;
    let [name, addr] = rest.as_slice() else {
        if let [_, _, extra, ..] = rest.as_slice() {
            return Err(usage(format!(
                "tunnel {kind}: unexpected argument '{extra}'"
            )));
        }
        return Err(usage(format!("tunnel {kind} needs a NAME and an ADDR/LEN")));
    };
    let mut a = PipeArgs {
        name: check_name(name)?,
        addr: parse_cidr("address", addr)?,
        listen: None,
        connect: None,
        mtu: None,
        routes: Vec::new(),
    };
    for o in opts {
        let (k, v) = match o {
            Opt::Short(c, v) => (c.to_string(), v.unwrap_or_default()),
            Opt::Long(n, v) => (n, v.unwrap_or_default()),
        };
        match k.as_str() {
            "l" | "listen" => a.listen = Some(parse_port("--listen", &v)?),
            "c" | "connect" => {
                parse_hostport("--connect", &v)?;
                a.connect = Some(v);
            }
            "mtu" => a.mtu = Some(parse_mtu(&v)?),
            "route" => a.routes.push(parse_cidr("--route", &v)?),
            _ => {}
        }
    }
    match (a.listen, &a.connect) {
        (Some(_), None) | (None, Some(_)) => Ok(a),
        _ => Err(usage(format!(
            "tunnel {kind} needs exactly one of -l PORT and -c HOST:PORT"
        ))),
    }
}

pub(crate) fn check_name(name: &str) -> Result<String, Usage> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(name.to_string())
    } else {
        Err(Usage::new(
            "tunnel",
            format!("`{name}` is not a valid interface name (1-15 letters, digits, - _ .)"),
        ))
    }
}

pub(crate) fn parse_mtu(v: &str) -> Result<usize, Usage> {
    v.parse::<usize>()
        .ok()
        .filter(|m| (68..=65535).contains(m))
        .ok_or_else(|| Usage::new("tunnel", format!("--mtu: `{v}` is not an MTU in 68..65535")))
}

fn parse_relay(kind: &str, args: &[String]) -> Result<TunnelArgs, Usage> {
    let (listen_opt, forward_opt) = if kind == "udp2tcp" {
        ("udp-listen", "tcp-forward")
    } else {
        ("tcp-listen", "udp-forward")
    };
    let with_arg = [format!("{listen_opt}="), format!("{forward_opt}=")];
    let long: Vec<&str> = with_arg.iter().map(String::as_str).collect();
    let (opts, rest) = getopt(args, "", &long).map_err(usage)?;
    if let Some(extra) = rest.first() {
        return Err(usage(format!("unexpected argument `{extra}`")));
    }
    let mut listen = None;
    let mut forward = None;
    for o in opts {
        if let Opt::Long(n, Some(v)) = o {
            if n == listen_opt {
                listen = Some(parse_port(&format!("--{listen_opt}"), &v)?);
            } else {
                parse_hostport(&format!("--{forward_opt}"), &v)?;
                forward = Some(v);
            }
        }
    }
    let (Some(listen), Some(forward)) = (listen, forward) else {
        return Err(usage(format!(
            "tunnel {kind} needs --{listen_opt} PORT and --{forward_opt} HOST:PORT"
        )));
    };
    Ok(if kind == "udp2tcp" {
        TunnelArgs::Udp2Tcp {
            udp_listen: listen,
            tcp_forward: forward,
        }
    } else {
        TunnelArgs::Tcp2Udp {
            tcp_listen: listen,
            udp_forward: forward,
        }
    })
}

/// Resolve `HOST:PORT` (checked by the parser).
pub(crate) async fn resolve(host: &Host, v: &str) -> Result<SocketAddrV4, String> {
    let (h, p) = v.rsplit_once(':').ok_or_else(|| format!("{v}: no port"))?;
    let port: u16 = p.parse().map_err(|_| format!("{v}: bad port"))?;
    let addr = match h.parse::<Ipv4Addr>() {
        Ok(a) => a,
        Err(_) => crate::resolve::lookup(host, h)
            .await
            .map_err(|e| format!("{h}: {e}"))?,
    };
    Ok(SocketAddrV4::new(addr, port))
}

/// [`resolve`], or say why not on `err`.
pub(crate) async fn resolve_or_say(host: &Host, v: &str, err: &mut Output) -> Option<SocketAddrV4> {
    match resolve(host, v).await {
        Ok(r) => Some(r),
        Err(e) => {
            err.line(format!("tunnel: {e}"));
            None
        }
    }
}

/// Whether the host would route an outer datagram for `dst` into tunnel
/// device `dev` itself — a route through the tunnel covers its own
/// endpoint. Such a datagram is dropped and counted, as Linux's
/// `ip_tunnel_xmit` and WireGuard drop a routing loop, rather than going
/// round the tunnel for ever.
pub(crate) fn routes_into_itself(host: &Host, dev: &TunnelDevice, dst: Ipv4Addr) -> bool {
    let iface = dev.iface();
    host.with_stack(|s| s.route_to(dst).is_some_and(|r| r.iface == iface))
}

/// The MTU of the interface the host would use towards `dst` (1500 when
/// unknown).
pub(crate) fn outer_mtu(host: &Host, dst: Option<Ipv4Addr>) -> usize {
    host.with_stack(|s| {
        let via = dst.and_then(|d| s.route_to(d)).map(|r| r.iface);
        match via {
            Some(i) => s.interfaces()[i.0].mtu,
            None => s
                .interfaces()
                .iter()
                .filter(|i| !i.loopback && !i.tunnel)
                .map(|i| i.mtu)
                .max()
                .unwrap_or(1500),
        }
    })
}

/// Make the tunnel interface of `tunnel tcp|udp` (its MTU the outer
/// path's less `overhead`, unless given) and its routes; print what was
/// made. `None` after printing why it failed.
pub(crate) async fn open_device(
    host: &Host,
    a: &PipeArgs,
    kind: &str,
    overhead: usize,
    out: &mut Output,
    err: &mut Output,
) -> Option<(TunnelDevice, Option<SocketAddrV4>)> {
    let remote = match &a.connect {
        Some(c) => Some(resolve_or_say(host, c, err).await?),
        None => None,
    };
    let mtu = a
        .mtu
        .unwrap_or_else(|| outer_mtu(host, remote.map(|r| *r.ip())).saturating_sub(overhead));
    let dev = match host.create_tunnel(&a.name, a.addr, mtu) {
        Ok(d) => d,
        Err(e) => {
            err.line(format!("tunnel: {}", device_error(&a.name, &e)));
            return None;
        }
    };
    for r in &a.routes {
        if let Err(e) = dev.add_route(*r) {
            err.line(format!("tunnel: --route {r}: {e}"));
            return None;
        }
    }
    out.line(format!("{}: {kind} tunnel {} mtu {mtu}", a.name, a.addr));
    Some((dev, remote))
}

pub async fn run(host: Host, a: TunnelArgs, out: Output, err: Output) -> i32 {
    match a {
        TunnelArgs::Tcp(t) => tcp::run(host, t, out, err).await,
        TunnelArgs::Udp(t) => udp::run(host, t, out, err).await,
        TunnelArgs::Wg(t) => wg::run(host, t, out, err).await,
        TunnelArgs::Udp2Tcp {
            udp_listen,
            tcp_forward,
        } => relay::udp2tcp(host, udp_listen, tcp_forward, out, err).await,
        TunnelArgs::Tcp2Udp {
            tcp_listen,
            udp_forward,
        } => relay::tcp2udp(host, tcp_listen, udp_forward, out, err).await,
        TunnelArgs::Show => show(&host, out),
    }
}

fn show(host: &Host, mut out: Output) -> i32 {
    for t in host.tunnels() {
        let kind = t.status.as_ref().map_or("none", |s| s.kind());
        let (addr, mtu, c) = host.with_stack(|s| {
            let i = &s.interfaces()[t.iface.0];
            (
                i.addrs.first().map(|a| a.to_string()).unwrap_or_default(),
                i.mtu,
                i.counters,
            )
        });
        out.line(format!(
            "{}: {kind} {addr} mtu {mtu} {}",
            t.name,
            if t.attached { "up" } else { "down (no daemon)" }
        ));
        out.line(format!(
            "    inner rx {} packets {} bytes, tx {} packets {} bytes, tx dropped {}, queued {}",
            c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes, c.tx_dropped, t.queued
        ));
        if let Some(s) = &t.status {
            for l in s.show(host) {
                out.line(format!("    {l}"));
            }
        }
    }
    0
}

/// Why the tunnel interface `name` could not be made, naming it once (the
/// errors about the name itself already say it).
pub(crate) fn device_error(name: &str, e: &TunnelError) -> String {
    match e {
        TunnelError::Config(_) => format!("{name}: {e}"),
        TunnelError::NotATunnel(_) | TunnelError::Busy(_) => e.to_string(),
    }
}
