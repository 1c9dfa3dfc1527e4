//! `tcplab route`: the stack as a router between TUN devices, with the
//! simulator's packet policy (NAT, ACLs, firewalls) in front of real
//! kernels.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tcplab_stack::Cidr;
use tcplab_tun::{DeviceSpec, RouteOptions};

use crate::run::{exit, ipv4, seed, usable_on_tun, Tools};

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// One interface of the router: NAME,CIDR[,peer=IP][,netns=NS][,mtu=N].
    /// CIDR is the router's address; the kernel's end gets `peer` (default:
    /// the prefix's first free host), in namespace NS if given. Repeat for
    /// each interface.
    #[arg(long = "tun", value_name = "SPEC", required = true)]
    tuns: Vec<String>,
    /// A static route beyond the connected prefixes, "DEST via GW" or
    /// "default via GW" (repeatable).
    #[arg(long = "route", value_name = "ROUTE")]
    routes: Vec<String>,
    /// The packet policy: the nat, acl, firewall, conntrack_max and
    /// conntrack_tcp_loose keys of a
    /// scenario's [[router]], interfaces named by the router's addresses.
    /// Without it the router forwards everything.
    #[arg(value_name = "RULES.toml")]
    rules: Option<PathBuf>,
    /// Seed of the stack, the NAT's port choices and conntrack's hash.
    #[arg(long, allow_hyphen_values = true, value_parser = crate::seed_parser())]
    seed: Option<u64>,
    /// Capture what crosses every device into this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

/// One `--tun` value.
fn device(text: &str) -> Result<DeviceSpec, String> {
    let bad = |why: String| format!("invalid --tun `{text}`: {why}");
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or("").trim();
    if name.is_empty() {
        return Err(bad(
            "write NAME,CIDR[,peer=IP][,netns=NS][,mtu=N], e.g. r0,10.9.1.1/24".into(),
        ));
    }
    let cidr = parts
        .next()
        .ok_or_else(|| bad("no address after the name (e.g. r0,10.9.1.1/24)".into()))?;
    let addr: Cidr = cidr.trim().parse().map_err(|e| bad(format!("{e}")))?;
    usable_on_tun(addr).map_err(|why| bad(why.into()))?;
    let mut spec = DeviceSpec {
        name: name.to_string(),
        addr,
        peer: DeviceSpec::default_peer(addr),
        mtu: 1500,
        netns: None,
        // A router's datagrams leave by another device of its MTU.
        offload: false,
    };
    for opt in parts {
        let (key, value) = opt
            .split_once('=')
            .ok_or_else(|| bad(format!("`{opt}` is not KEY=VALUE (peer, netns or mtu)")))?;
        match key.trim() {
            "peer" => spec.peer = ipv4("peer", value.trim()).map_err(bad)?,
            "netns" => {
                let ns = value.trim();
                if ns.is_empty() || ns.contains('/') {
                    return Err(bad(format!("`{ns}` is not a namespace name")));
                }
                spec.netns = Some(ns.to_string());
            }
            "mtu" => {
                spec.mtu = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|m| (68..=65535).contains(m))
                    .ok_or_else(|| bad(format!("mtu `{value}` is not 68 to 65535")))?;
            }
            other => return Err(bad(format!("unknown key `{other}` (peer, netns or mtu)"))),
        }
    }
    if !addr.contains(spec.peer) || spec.peer == addr.address() {
        return Err(bad(format!(
            "peer {} must be another address in {}",
            spec.peer,
            addr.network()
        )));
    }
    Ok(spec)
}

fn options(a: &RouteArgs) -> Result<RouteOptions, String> {
    let mut devices: Vec<DeviceSpec> = Vec::new();
    for t in &a.tuns {
        let d = device(t)?;
        if let Some(o) = devices.iter().find(|o| o.name == d.name) {
            return Err(format!("--tun {} is given twice", o.name));
        }
        if let Some(o) = devices
            .iter()
            .find(|o| o.addr.network().overlaps(&d.addr.network()))
        {
            return Err(format!(
                "--tun {}: {} overlaps {} on {}",
                d.name,
                d.addr.network(),
                o.addr.network(),
                o.name
            ));
        }
        devices.push(d);
    }
    let mut routes = Vec::new();
    for r in &a.routes {
        let (dest, gw) =
            tcplab_sim::scenario::parse_route(r).map_err(|e| format!("invalid --route: {e}"))?;
        if !devices.iter().any(|d| d.addr.contains(gw)) {
            return Err(format!(
                "invalid --route `{r}`: {gw} is not on any --tun prefix"
            ));
        }
        routes.push((dest, gw));
    }
    Ok(RouteOptions {
        devices,
        routes,
        seed: match a.seed {
            Some(s) => s,
            None => seed()?,
        },
        pcap: a.pcap.clone(),
    })
}

pub fn route(a: RouteArgs) -> Result<ExitCode, String> {
    let opts = options(&a)?;
    let addrs: Vec<Ipv4Addr> = opts.devices.iter().map(|d| d.addr.address()).collect();
    let rules = match &a.rules {
        None => None,
        Some(path) => {
            let text = crate::files::read_text(path)?;
            let file = path.display().to_string();
            Some(tcplab_sim::load_rules(&file, &text, &addrs).map_err(|e| e.to_string())?)
        }
    };
    let names: Vec<String> = opts
        .devices
        .iter()
        .map(|d| format!("{} ({})", d.name, d.addr.address()))
        .collect();
    let policy_seed = opts.seed ^ 0x726f_7574;
    // The policy is built once the stack has numbered its interfaces.
    let build = rules.map(|spec| {
        move |ids: &[tcplab_stack::IfaceId]| {
            let ifaces: Vec<(usize, String, Ipv4Addr)> = ids
                .iter()
                .zip(&names)
                .zip(&addrs)
                .map(|((id, name), addr)| (id.0, name.clone(), *addr))
                .collect();
            tcplab_sim::netfilter_for(&ifaces, &spec, policy_seed)
        }
    });
    let policy = build.as_ref().map(|b| b as &tcplab_tun::Policy<'_>);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code =
        tcplab_tun::route(&opts, policy, &Tools, &mut out, &mut err).map_err(|e| e.to_string())?;
    let _ = out.flush();
    Ok(exit(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        let d = device("r0,10.9.1.1/24,netns=client,mtu=1400").unwrap();
        assert_eq!(d.name, "r0");
        assert_eq!(d.addr.to_string(), "10.9.1.1/24");
        assert_eq!(d.peer, Ipv4Addr::new(10, 9, 1, 2));
        assert_eq!(d.netns.as_deref(), Some("client"));
        assert_eq!(d.mtu, 1400);
        // A /31 (RFC 3021): the kernel takes the other address.
        let d = device("r2,10.9.5.0/31").unwrap();
        assert_eq!(d.peer, Ipv4Addr::new(10, 9, 5, 1));
        let d = device("r1,10.9.2.1/24,peer=10.9.2.20").unwrap();
        assert_eq!(d.peer, Ipv4Addr::new(10, 9, 2, 20));
        for (bad, says) in [
            ("", "NAME,CIDR"),
            ("r0", "no address"),
            ("r0,10.9.1.1", "10.9.1.1"),
            ("r0,10.9.1.0/24", "network or broadcast"),
            ("r0,10.9.1.1/32", "at most /31"),
            ("r0,224.0.0.5/24", "multicast"),
            ("r0,0.0.0.5/24", "this network"),
            ("r0,127.0.0.2/24", "loopback"),
            ("r0,250.0.0.2/24", "reserved"),
            ("r0,10.9.1.1/24,mtu=20", "mtu `20`"),
            ("r0,10.9.1.1/24,peer=10.9.3.1", "must be another address"),
            ("r0,10.9.1.1/24,peer=10.9.1.1", "must be another address"),
            ("r0,10.9.1.1/24,colour=red", "unknown key `colour`"),
            ("r0,10.9.1.1/24,netns", "not KEY=VALUE"),
        ] {
            let e = device(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.starts_with("invalid --tun"), "{e}");
        }
    }

    #[test]
    fn overlapping_devices_and_unreachable_gateways_are_refused() {
        let args = |tuns: &[&str], routes: &[&str]| RouteArgs {
            tuns: tuns.iter().map(|s| s.to_string()).collect(),
            routes: routes.iter().map(|s| s.to_string()).collect(),
            rules: None,
            seed: Some(1),
            pcap: None,
        };
        let e = options(&args(&["a,10.9.1.1/24", "b,10.9.0.1/16"], &[])).unwrap_err();
        assert!(e.contains("overlaps"), "{e}");
        let e = options(&args(&["a,10.9.1.1/24", "a,10.9.2.1/24"], &[])).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = options(&args(&["a,10.9.1.1/24"], &["default via 10.8.0.1"])).unwrap_err();
        assert!(e.contains("not on any --tun prefix"), "{e}");
        let e = options(&args(&["a,10.9.1.1/24"], &["default 10.9.1.2"])).unwrap_err();
        assert!(e.contains("is not a route"), "{e}");
        // A destination with host bits, as `ip route` refuses it.
        let e = options(&args(&["a,10.9.1.1/24"], &["10.50.0.5/16 via 10.9.1.2"])).unwrap_err();
        assert!(
            e.contains("host bits set: the network is 10.50.0.0/16"),
            "{e}"
        );
        let o = options(&args(&["a,10.9.1.1/24"], &["default via 10.9.1.2"])).unwrap();
        assert_eq!(o.routes.len(), 1);
    }
}
