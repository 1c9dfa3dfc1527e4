//! `ip`: iproute2's view of the host's interfaces and routes.
//!
//! ```text
//! ip [-s] addr|a [show [dev] IFACE]
//! ip [-s] link|l [show [dev] IFACE]
//! ip route|r [show] [[exact|to] PREFIX] [table main] [dev IFACE]
//! ip route show cache
//! ip route get [to] ADDRESS [from ADDRESS] [fibmatch]
//! ```
//!
//! Objects and commands may be cut short as iproute2 allows (`ip a s`,
//! `ip ro g 10.0.0.1`: the first name, in iproute2's order, that the word
//! begins).
//!
//! tcplab's links carry IP datagrams without a link layer, so every
//! interface but `lo` shows `link/none` (as a TUN device does); a tunnel
//! interface is `POINTOPOINT,MULTICAST,NOARP` (as a TUN device). The counters are the stack's own.

use std::net::Ipv4Addr;

use tcplab_host::{Host, Output};
use tcplab_stack::{Interface, Route, RouteOrigin, SendError};

use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpObject {
    Addr,
    Link,
    Route,
}

impl IpObject {
    /// Its name in iproute2's words.
    fn name(&self) -> &'static str {
        match self {
            IpObject::Addr => "address",
            IpObject::Link => "link",
            IpObject::Route => "route",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpArgs {
    pub object: IpObject,
    /// `-s`, counted: `-s -s` adds the error details.
    pub stats: u8,
    pub dev: Option<String>,
    /// `ip route show cache`: the routes learned from redirects.
    pub cache: bool,
    /// `-4`: IPv4 addresses only, so no link lines (`ip -4 addr`).
    pub family4: bool,
    /// `ip route get`: the route one datagram would take.
    pub get: Option<RouteGet>,
    /// `ip route show PREFIX` (or `exact`/`to PREFIX`): only the route
    /// for exactly that prefix, as iproute2's default selector.
    pub prefix: Option<(Ipv4Addr, u8)>,
}

/// iproute2's `matches()`: a word that begins the command's name (`a`,
/// `ad`, `addr` are all `address`).
fn matches(word: &str, name: &str) -> bool {
    !word.is_empty() && name.starts_with(word)
}

/// ip.c's objects, in its table's order (the first that a word begins
/// wins: `l` is `link`, not `l2tp`); only the first three are here.
const OBJECTS: [&str; 34] = [
    "address",
    "addrlabel",
    "maddress",
    "route",
    "rule",
    "neighbor",
    "neighbour",
    "ntable",
    "ntbl",
    "link",
    "l2tp",
    "fou",
    "ila",
    "macsec",
    "tunnel",
    "tunl",
    "tuntap",
    "tap",
    "token",
    "tcpmetrics",
    "tcp_metrics",
    "monitor",
    "xfrm",
    "mroute",
    "mrule",
    "netns",
    "netconf",
    "vrf",
    "sr",
    "nexthop",
    "mptcp",
    "ioam",
    "help",
    "stats",
];

/// Each object's commands in the order its do_ function tries them.
fn commands(object: &IpObject) -> &'static [&'static str] {
    match object {
        IpObject::Addr => &[
            "add", "change", "replace", "delete", "list", "show", "lst", "flush", "save",
            "showdump", "restore", "help",
        ],
        IpObject::Route => &[
            "add", "change", "replace", "prepend", "append", "test", "delete", "list", "show",
            "lst", "get", "flush", "restore", "showdump", "save", "help",
        ],
        IpObject::Link => &[
            "add", "set", "change", "replace", "delete", "show", "lst", "list", "xstats",
            "afstats", "property", "help",
        ],
    }
}

/// What `ip OBJECT help` prints (iproute2's usage, cut to what this ip
/// does), status 255 as iproute2's usage() exits.
fn object_usage(object: &IpObject) -> &'static str {
    match object {
        IpObject::Addr => {
            "Usage: ip address {show|list} [ dev IFNAME ]\n       (tcplab: addresses come from the scenario or tcplab run --addr)"
        }
        IpObject::Link => {
            "Usage: ip link show [ DEVICE ]\n       (tcplab: links come from the scenario or tcplab run --tun)"
        }
        IpObject::Route => {
            "Usage: ip route { list | show } [ SELECTOR ]\n       ip route show cache\n       ip route get [ to ] ADDRESS [ from ADDRESS ] [ fibmatch ]\nSELECTOR := [ [ exact | to ] PREFIX ] [ table main ] [ dev STRING ]"
        }
    }
}

fn incomplete() -> Usage {
    Usage {
        status: 255,
        ..Usage::new(
            "ip",
            "Command line is not complete. Try option \"help\"".into(),
        )
    }
}

/// `ip route show`'s selectors: `dev NAME`, `table main`, a prefix
/// (`exact`/`to` before it, or alone) that only its own route matches.
/// A route prefix: the address and the length.
type Prefix = (Ipv4Addr, u8);

/// What `ip route show`'s selectors ask for: a device, a prefix, the
/// route cache.
#[derive(Debug, Default)]
struct Selectors {
    dev: Option<String>,
    prefix: Option<Prefix>,
    cache: bool,
}

/// iproute_list_flush_or_save's selectors, tried in its order with its
/// prefix matching (`t` is `table`, `cache` is `cached`).
fn route_selectors(words: &[&str]) -> Result<Selectors, Usage> {
    let mut sel = Selectors::default();
    let not_here = |kw: &str| Usage {
        status: 255,
        ..Usage::new(
            "ip",
            format!("`ip route show ... {kw}` is not supported in tcplab"),
        )
    };
    let mut it = words.iter();
    while let Some(&w) = it.next() {
        if matches(w, "table") {
            match *it.next().ok_or_else(incomplete)? {
                // One table here: the main one.
                "main" | "254" => {}
                t => {
                    return Err(Usage {
                        status: 255,
                        ..Usage::new(
                            "ip",
                            format!("`ip route show table {t}` is not supported in tcplab (one table: main)"),
                        )
                    })
                }
            }
        } else if matches(w, "cached") || matches(w, "cloned") {
            sel.cache = true;
        } else if w == "dev" || w == "oif" {
            sel.dev = Some(it.next().ok_or_else(incomplete)?.to_string());
        } else if [
            "vrf", "dsfield", "protocol", "scope", "type", "metric", "priority", "realms", "from",
            "nhid",
        ]
        .iter()
        .any(|k| matches(w, k))
            || ["tos", "iif", "mark", "preference", "via", "src"].contains(&w)
        {
            return Err(not_here(w));
        } else {
            let mut p = w;
            if matches(p, "exact") || matches(p, "to") {
                p = it.next().ok_or_else(incomplete)?;
            }
            if matches(p, "root") || matches(p, "match") {
                return Err(not_here(p));
            }
            // `all` and `any`: every route.
            if p == "all" || p == "any" {
                continue;
            }
            sel.prefix = Some(route_prefix(p)?);
        }
    }
    Ok(sel)
}

/// A prefix as `get_prefix` takes it: `A.B.C.D[/LEN]` or `default`.
fn route_prefix(word: &str) -> Result<(Ipv4Addr, u8), Usage> {
    let bad = || Usage {
        status: 1,
        ..Usage::new(
            "ip",
            format!("Error: any valid prefix is expected rather than \"{word}\"."),
        )
    };
    if word == "default" {
        return Ok((Ipv4Addr::UNSPECIFIED, 0));
    }
    let (addr, len) = match word.split_once('/') {
        // A length, or a netmask (get_netmask: contiguous ones).
        Some((a, l)) => (
            a,
            match l.parse::<u8>() {
                Ok(l) if l <= 32 => l,
                Ok(_) => return Err(bad()),
                Err(_) => {
                    let m = u32::from(iproute_addr(l).ok_or_else(bad)?);
                    if m.leading_ones() + m.trailing_zeros() != 32 {
                        return Err(bad());
                    }
                    m.leading_ones() as u8
                }
            },
        ),
        None => (word, 32),
    };
    let addr = iproute_addr(addr).ok_or_else(bad)?;
    Ok((addr, len))
}

/// `ip route get [to] DST [from SRC] [fibmatch]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteGet {
    pub dst: Ipv4Addr,
    pub src: Option<Ipv4Addr>,
    /// Print the table's entry that matched rather than the resolved route.
    pub fibmatch: bool,
    /// iproute2's warning for a prefix given where an address belongs.
    pub warning: Option<String>,
}

/// An address where iproute2 expects one (`inet prefix is expected`),
/// and the warning it gives for a prefix other than /32.
fn route_get_addr(word: &str, first: bool) -> Result<(Ipv4Addr, Option<String>), Usage> {
    // iproute2 knows the family only after the first address: before it
    // any prefix would do.
    let family = if first { "any valid" } else { "inet" };
    let bad = || Usage {
        status: 1,
        ..Usage::new(
            "ip",
            format!("Error: {family} prefix is expected rather than \"{word}\"."),
        )
    };
    // get_addr_1: the words for any address.
    if matches!(word, "default" | "any" | "all") {
        return Ok((Ipv4Addr::UNSPECIFIED, None));
    }
    let (addr, len) = match word.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
        None => (word, None),
    };
    let addr = iproute_addr(addr).ok_or_else(bad)?;
    let warning = match len {
        Some(l) if l > 32 => return Err(bad()),
        Some(l) if l != 32 => Some(format!(
            "Warning: /{l} as prefix is invalid, only /32 (or none) is supported."
        )),
        _ => None,
    };
    Ok((addr, warning))
}

/// An address as iproute2's get_addr_ipv4 reads it: up to four bytes in
/// order, each as strtoul reads it (`0x`, a leading 0 for octal), the
/// missing ones zero (`10.1` is 10.1.0.0 — not inet_aton's 10.0.0.1).
pub(crate) fn iproute_addr(text: &str) -> Option<Ipv4Addr> {
    let mut bytes = [0u8; 4];
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        bytes[i] = u8::try_from(crate::resolve::strtoul_whole(p)?).ok()?;
    }
    Some(Ipv4Addr::from(bytes))
}

fn parse_route_get(words: &[&str]) -> Result<RouteGet, Usage> {
    let mut dst = None;
    let mut src = None;
    let mut fibmatch = false;
    let mut warning = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match *w {
            "fibmatch" => fibmatch = true,
            kw @ ("to" | "from") => {
                let Some(v) = it.next() else {
                    return Err(Usage {
                        status: 255,
                        ..Usage::new(
                            "ip",
                            "Command line is not complete. Try option \"help\"".into(),
                        )
                    });
                };
                let (a, w) = route_get_addr(v, dst.is_none() && src.is_none())?;
                warning = warning.or(w);
                if kw == "to" {
                    dst = Some(a);
                } else {
                    src = Some(a);
                }
            }
            // Selectors of policy routing, marks and input-route
            // simulation: one table and no policy here.
            kw @ ("iif" | "oif" | "dev" | "mark" | "tos" | "dsfield" | "vrf" | "uid"
            | "ipproto" | "sport" | "dport" | "connected" | "mtu" | "as"
            | "ttl-propagate" | "ttl") => {
                return Err(Usage {
                    status: 255,
                    ..Usage::new(
                        "ip",
                        format!("`ip route get ... {kw}` is not supported in tcplab"),
                    )
                });
            }
            other => {
                let (a, w) = route_get_addr(other, dst.is_none() && src.is_none())?;
                warning = warning.or(w);
                dst = Some(a);
            }
        }
    }
    let Some(dst) = dst else {
        return Err(Usage {
            status: 1,
            ..Usage::new("ip", "need at least a destination address".into())
        });
    };
    Ok(RouteGet {
        dst,
        // `from 0.0.0.0` is no source at all.
        src: src.filter(|a| !a.is_unspecified()),
        fibmatch,
        warning,
    })
}

const USAGE: &str = "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }
where  OBJECT := { address | link | route }
       OPTIONS := { -s[tatistics] | -h[uman-readable] }";

impl IpArgs {
    /// iproute2's errors do not name it.
    pub fn parse(args: &[String]) -> Result<IpArgs, Usage> {
        Self::parse_words(args).map_err(|mut u| {
            u.bare = true;
            u
        })
    }

    fn parse_words(args: &[String]) -> Result<IpArgs, Usage> {
        if args
            .first()
            .is_some_and(|a| a == "help" || a == "-help" || a == "--help")
        {
            return Err(Usage::help("ip", USAGE.into(), false, 255));
        }
        let mut stats = 0u8;
        let mut family4 = false;
        let mut rest = args;
        while let Some((first, tail)) = rest.split_first() {
            // -V (iproute2 takes any start of -Version): its line.
            if first.len() >= 2 && "-Version".starts_with(first.as_str()) {
                return Err(Usage::help(
                    "ip",
                    "ip utility, iproute2-6.1.0".into(),
                    true,
                    0,
                ));
            }
            match first.as_str() {
                "-s" | "-stats" | "-statistics" => stats = stats.saturating_add(1),
                // -human-readable (what `ip -h` is): counters are shown
                // as numbers here anyway.
                "-h" | "-human" | "-human-readable" => {}
                // IPv4: all there is here.
                "-4" => family4 = true,
                // iproute2's own options this ip lacks: IPv6 (the stack
                // is IPv4 only), other families, JSON, colour, batches.
                o @ ("-6" | "-0" | "-j" | "-json" | "-p" | "-pretty" | "-c" | "-color" | "-br"
                | "-brief" | "-d" | "-details" | "-o" | "-oneline" | "-f" | "-family"
                | "-b" | "-batch" | "-n" | "-netns" | "-r" | "-resolve" | "-t"
                | "-timestamp" | "-a" | "-all") => {
                    return Err(Usage {
                        status: 255,
                        ..Usage::new("ip", format!("option \"{o}\" is not supported in tcplab"))
                    });
                }
                o if o.starts_with('-') => {
                    return Err(Usage {
                        status: 255,
                        ..Usage::new(
                            "ip",
                            format!("Option \"{o}\" is unknown, try \"ip -help\"."),
                        )
                    })
                }
                _ => break,
            }
            rest = tail;
        }
        let Some((object, rest)) = rest.split_first() else {
            return Err(Usage {
                status: 255,
                ..Usage::with_usage("ip", String::new(), USAGE)
            });
        };
        let object = match OBJECTS.iter().find(|o| matches(object, o)) {
            Some(&"address") => IpObject::Addr,
            Some(&"link") => IpObject::Link,
            Some(&"route") => IpObject::Route,
            Some(&"help") => return Err(Usage::help("ip", USAGE.into(), false, 255)),
            Some(o) => {
                return Err(Usage {
                    status: 255,
                    ..Usage::new("ip", format!("`ip {o}` is not supported in tcplab"))
                })
            }
            None => {
                let other = object;
                // (ip.c's do_cmd: status 1 for this one, 255 for the rest.)
                return Err(Usage {
                    status: 1,
                    ..Usage::new(
                        "ip",
                        format!("Object \"{other}\" is unknown, try \"ip help\"."),
                    )
                });
            }
        };
        let words: Vec<&str> = rest.iter().map(String::as_str).collect();
        let mut args = IpArgs {
            object,
            stats,
            dev: None,
            cache: false,
            family4,
            get: None,
            prefix: None,
        };
        // No command: show. Otherwise the first command the word begins,
        // in the order iproute2 tries them (`s` is show, `g` get, `a`
        // add).
        let (command, selectors) = match words.split_first() {
            None => ("show", &[][..]),
            // (`chg` is `change` by strcmp, in address and route.)
            Some((&"chg", rest)) if args.object != IpObject::Link => ("change", rest),
            Some((w, rest)) => match commands(&args.object).iter().find(|c| matches(w, c)) {
                Some(c) => (*c, rest),
                None => {
                    // iproute2 quotes the one word it did not know.
                    return Err(Usage {
                        status: 255,
                        ..Usage::new(
                            "ip",
                            format!(
                                "Command \"{w}\" is unknown, try \"ip {} help\".",
                                args.object.name()
                            ),
                        )
                    });
                }
            },
        };
        match command {
            "show" | "list" | "lst" => {}
            "help" => {
                return Err(Usage::help("ip", object_usage(&args.object).into(), false, 255));
            }
            "get" => {
                args.get = Some(parse_route_get(selectors)?);
                return Ok(args);
            }
            // iproute2's commands that change things: a scenario changes
            // links and routes with `[[run]]` entries (`link = ...`,
            // `route = ...`), not with ip.
            cmd => {
                return Err(Usage {
                    status: 255,
                    ..Usage::new(
                        "ip",
                        format!(
                            "`ip {} {cmd}` is not supported in tcplab (a scenario changes links and routes with [[run]] entries)",
                            args.object.name()
                        ),
                    )
                })
            }
        }
        if args.object == IpObject::Route {
            let sel = route_selectors(selectors)?;
            (args.dev, args.prefix, args.cache) = (sel.dev, sel.prefix, sel.cache);
            return Ok(args);
        }
        // `show [dev] NAME`: one device; a second word is iproute2's
        // duparg2.
        let mut it = selectors.iter();
        while let Some(w) = it.next() {
            let name = if *w == "dev" {
                *it.next().ok_or_else(incomplete)?
            } else if matches(w, "help") {
                return Err(Usage::help(
                    "ip",
                    object_usage(&args.object).into(),
                    false,
                    255,
                ));
            } else {
                w
            };
            if args.dev.is_some() {
                return Err(Usage {
                    status: 255,
                    ..Usage::new(
                        "ip",
                        format!("Error: either \"dev\" is duplicate, or \"{name}\" is a garbage."),
                    )
                });
            }
            args.dev = Some(name.to_string());
        }
        Ok(args)
    }
}

fn flags(i: &Interface) -> &'static str {
    if i.loopback {
        "<LOOPBACK,UP,LOWER_UP>"
    } else if i.tunnel {
        "<POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP>"
    } else {
        "<BROADCAST,MULTICAST,UP,LOWER_UP>"
    }
}

/// The netmask of a prefix length.
fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn header(k: usize, i: &Interface, addr: bool) -> String {
    let (qdisc, state, qlen) = if i.loopback || i.tunnel {
        ("noqueue", "UNKNOWN", if i.tunnel { 500 } else { 1000 })
    } else {
        ("pfifo_fast", "UP", 1000)
    };
    format!(
        "{}: {}: {} mtu {} qdisc {qdisc} state {state} {}group default qlen {qlen}",
        k + 1,
        i.name,
        flags(i),
        i.mtu,
        if addr { "" } else { "mode DEFAULT " }
    )
}

fn link_line(i: &Interface) -> String {
    if i.loopback {
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00".into()
    } else {
        "    link/none ".into()
    }
}

/// `-s`: the counters; `-s -s` each direction's error details beneath
/// (iproute2's print_link_stats64: none of those faults exist on these
/// links, so zeros).
fn stats_lines(i: &Interface, details: bool) -> Vec<String> {
    let c = &i.counters;
    let mut lines = vec![
        "    RX:  bytes packets errors dropped  missed   mcast           ".into(),
        format!(
            "    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7} ",
            c.rx_bytes, c.rx_packets, c.rx_errors, c.rx_dropped, 0, 0
        ),
    ];
    let zeros = format!(
        "    {:10} {:>7} {:>6} {:>7} {:>7} {:>7} ",
        "", 0, 0, 0, 0, 0
    );
    if details {
        lines.push("    RX errors:  length    crc   frame    fifo overrun".into());
        lines.push(zeros.clone());
    }
    lines.push("    TX:  bytes packets errors dropped carrier collsns           ".into());
    lines.push(format!(
        "    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7} ",
        c.tx_bytes, c.tx_packets, 0, c.tx_dropped, 0, 0
    ));
    if details {
        lines.push("    TX errors: aborted   fifo  window heartbt transns".into());
        lines.push(zeros);
    }
    lines
}

/// A route as `ip route` lists it (without the trailing space).
fn route_line(r: &Route, ifaces: &[Interface]) -> String {
    let dev = ifaces.get(r.iface.0).map_or("?", |i| i.name.as_str());
    // iproute2 prints a host route without its /32.
    let mut line = match r.dest.prefix_len() {
        0 => "default".to_string(),
        32 => r.dest.address().to_string(),
        _ => r.dest.to_string(),
    };
    if let Some(gw) = r.gateway {
        line.push_str(&format!(" via {gw}"));
    }
    line.push_str(&format!(" dev {dev}"));
    match r.origin {
        RouteOrigin::Connected => {
            let src = ifaces
                .get(r.iface.0)
                .and_then(|i| i.source_for(r.dest.address()))
                .map(|a| format!(" src {a}"))
                .unwrap_or_default();
            line.push_str(&format!(" proto kernel scope link{src}"));
        }
        RouteOrigin::Static if r.gateway.is_none() => line.push_str(" scope link"),
        RouteOrigin::Static => {}
        RouteOrigin::Redirect => line.push_str(" proto redirect"),
    }
    line
}

/// `ip route get`: the route the kernel resolves for one datagram this
/// host would send, with what its route cache knows (a redirect, a path
/// MTU) — iproute2's `iproute_get`, answered from the stack's own lookup.
fn route_get(
    host: &Host,
    g: &RouteGet,
    ifaces: &[Interface],
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let now = host.now();
    // A broadcast or multicast source is EINVAL; 0.0.0.0 as the
    // destination is this host (Linux routes it to lo).
    if g.src.is_some_and(|a| a.is_broadcast() || a.is_multicast()) {
        err.line("RTNETLINK answers: Invalid argument");
        return 2;
    }
    let dst = if g.dst.is_unspecified() {
        Ipv4Addr::LOCALHOST
    } else {
        g.dst
    };
    if g.dst.is_unspecified() && g.fibmatch {
        err.line("RTNETLINK answers: No route to host");
        return 2;
    }
    let found = host.with_stack(|s| {
        let info = s.route_output(dst, g.src)?;
        // The table's own entry (fibmatch), beneath a redirect's.
        let table = s.table_route(g.dst).copied();
        let expires = s
            .route_to(g.dst)
            .filter(|r| r.origin == RouteOrigin::Redirect)
            .and_then(|r| s.route_expires(r.dest));
        Ok::<_, SendError>((
            info,
            table,
            expires,
            s.path_mtu_entry(g.dst),
            s.is_local_addr(dst),
            s.is_broadcast_addr(g.dst),
        ))
    });
    let (info, table, redirect_expires, pmtu, local, broadcast) = match found {
        Ok(f) => f,
        Err(e) => {
            // RTNETLINK's errno, as iproute2 prints it: a source address
            // that is not ours finds no output route either.
            let why = match e {
                SendError::InvalidArgument => "Invalid argument",
                _ => "Network is unreachable",
            };
            err.line(format!("RTNETLINK answers: {why}"));
            return 2;
        }
    };
    let dev = |i: usize| ifaces.get(i).map_or("?", |i| i.name.as_str());
    if g.fibmatch {
        // The table entry that matched: for one of the host's addresses
        // and a subnet's broadcast, the local table's (iproute2 6.1 does
        // not say which table, as measured).
        if local {
            let owner = ifaces.iter().position(|i| i.owns(g.dst)).unwrap_or(0);
            out.line(format!(
                "local {} dev {} proto kernel scope host src {} ",
                g.dst,
                dev(owner),
                info.src
            ));
        } else if broadcast && !g.dst.is_broadcast() {
            out.line(format!(
                "broadcast {} dev {} proto kernel scope link src {} ",
                g.dst,
                dev(info.iface.0),
                info.src
            ));
        } else if let Some(r) = table {
            // The limited broadcast is routed by the table's entry, said
            // to be a broadcast one.
            let kind = if g.dst.is_broadcast() {
                "broadcast "
            } else {
                ""
            };
            out.line(format!("{kind}{} ", route_line(&r, ifaces)));
        }
        return 0;
    }
    let kind = if local {
        "local "
    } else if broadcast {
        "broadcast "
    } else {
        ""
    };
    let mut line = format!("{kind}{}", g.dst);
    if let Some(src) = g.src {
        line.push_str(&format!(" from {src}"));
    }
    // A broadcast goes on the link itself, never by a gateway.
    if info.next_hop != dst && !broadcast && !local {
        line.push_str(&format!(" via {}", info.next_hop));
    }
    line.push_str(&format!(" dev {}", dev(info.iface.0)));
    if g.src.is_none() {
        line.push_str(&format!(" src {}", info.src));
    }
    // Tools here run as root.
    out.line(format!("{line} uid 0 "));
    let secs = |t: tcplab_stack::Instant| t.saturating_since(now).as_secs();
    let mut cache = String::from("    cache ");
    if local {
        cache.push_str("<local> ");
    } else if broadcast {
        cache.push_str("<local,brd> ");
    } else if let Some(t) = redirect_expires {
        cache.push_str(&format!("<redirected> expires {}sec ", secs(t)));
    }
    if let (false, Some((mtu, t))) = (local, pmtu) {
        if redirect_expires.is_none() {
            cache.push_str(&format!("expires {}sec ", secs(t)));
        }
        cache.push_str(&format!("mtu {mtu} "));
    }
    out.line(cache);
    0
}

pub async fn run(host: Host, a: IpArgs, mut out: Output, mut err: Output) -> i32 {
    let ifaces = host.with_stack(|s| s.interfaces().to_vec());
    if let Some(g) = &a.get {
        if let Some(w) = &g.warning {
            err.line(w.clone());
        }
        return route_get(&host, g, &ifaces, &mut out, &mut err);
    }
    if a.object == IpObject::Route && a.cache {
        // Linux keeps a redirect as an exception of the route cache: the
        // host, its new first hop, and the seconds it has left.
        let now = host.now();
        let (learned, mtus): (Vec<_>, Vec<_>) = host.with_stack(|s| {
            (
                s.routes()
                    .filter(|r| r.origin == RouteOrigin::Redirect)
                    .map(|r| (*r, s.route_expires(r.dest)))
                    .collect(),
                // Path MTUs learned from "frag needed", with the route
                // each destination takes.
                s.path_mtus()
                    .into_iter()
                    .filter_map(|(d, mtu, t)| s.route_to(d).map(|r| (d, *r, mtu, t)))
                    .collect(),
            )
        });
        let secs = |t: tcplab_stack::Instant| t.saturating_since(now).as_secs();
        let head = |r: &Route, d: Ipv4Addr| {
            let dev = ifaces.get(r.iface.0).map_or("?", |i| i.name.as_str());
            let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
            format!("{d}{via} dev {dev} ")
        };
        let mtu_of = |d: Ipv4Addr| mtus.iter().find(|m| m.0 == d).map(|m| m.2);
        for (r, expires) in &learned {
            out.line(head(r, r.dest.address()));
            let left = expires.map_or(0, secs);
            let mtu = mtu_of(r.dest.address())
                .map(|m| format!("mtu {m} "))
                .unwrap_or_default();
            out.line(format!("    cache <redirected> expires {left}sec {mtu}"));
        }
        // One entry per destination: a redirected one said above.
        for (d, r, mtu, t) in &mtus {
            if learned.iter().any(|(l, _)| l.dest.address() == *d) {
                continue;
            }
            out.line(head(r, *d));
            out.line(format!("    cache expires {}sec mtu {mtu} ", secs(*t)));
        }
        return 0;
    }
    if a.object == IpObject::Route {
        // (Routes learned from redirects are in the cache, above.)
        let mut routes: Vec<_> = host.with_stack(|s| {
            s.routes()
                .filter(|r| r.origin != RouteOrigin::Redirect)
                .copied()
                .collect()
        });
        // As Linux dumps its table: by destination, the default first.
        routes.sort_by_key(|r| (u32::from(r.dest.address()), r.dest.prefix_len()));
        let dev = match &a.dev {
            Some(d) => match ifaces.iter().position(|i| &i.name == d) {
                Some(k) => Some(k),
                None => {
                    err.line(format!("Cannot find device \"{d}\""));
                    return 1;
                }
            },
            None => None,
        };
        for r in routes {
            // The loopback's routes are in Linux's local table, which
            // `ip route` does not list (`ip route show dev lo` is empty).
            if ifaces.get(r.iface.0).is_some_and(|i| i.loopback) {
                continue;
            }
            if dev.is_some_and(|k| k != r.iface.0) {
                continue;
            }
            // The default selector: that prefix exactly.
            if a.prefix.is_some_and(|(p, len)| {
                len != r.dest.prefix_len()
                    || u32::from(p) & mask(len) != u32::from(r.dest.address()) & mask(len)
            }) {
                continue;
            }
            let mut line = route_line(&r, &ifaces);
            // Filtered by device, iproute2 does not repeat it.
            if dev.is_some() {
                if let Some(name) = ifaces.get(r.iface.0).map(|i| i.name.as_str()) {
                    line = line.replacen(&format!(" dev {name}"), "", 1);
                }
            }
            out.line(format!("{line} "));
        }
        return 0;
    }
    if let Some(d) = &a.dev {
        if !ifaces.iter().any(|i| &i.name == d) {
            err.line(format!("Device \"{d}\" does not exist."));
            return 1;
        }
    }
    for (k, i) in ifaces.iter().enumerate() {
        if a.dev.as_ref().is_some_and(|d| *d != i.name) {
            continue;
        }
        let addr = a.object == IpObject::Addr;
        out.line(header(k, i, addr));
        if !(addr && a.family4) {
            out.line(link_line(i));
        }
        if addr {
            for c in &i.addrs {
                let brd = match c.broadcast() {
                    Some(b) if !i.loopback && !i.tunnel => format!(" brd {b}"),
                    _ => String::new(),
                };
                let scope = if i.loopback { "host" } else { "global" };
                out.line(format!("    inet {c}{brd} scope {scope} {}", i.name));
                out.line("       valid_lft forever preferred_lft forever");
            }
        }
        if a.stats > 0 {
            for l in stats_lines(i, a.stats > 1) {
                out.line(l);
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(cmd: &str) -> (i32, String) {
        let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let u = IpArgs::parse(&args).unwrap_err();
        (u.status, u.message)
    }

    /// iproute2's words for what it does not know (one word quoted); its
    /// own options and commands that this ip lacks said to be so.
    #[test]
    fn errors_read_like_iproute2() {
        assert_eq!(
            err("route frob x y"),
            (
                255,
                "Command \"frob\" is unknown, try \"ip route help\".".into()
            )
        );
        assert_eq!(
            err("-Z route"),
            (255, "Option \"-Z\" is unknown, try \"ip -help\".".into())
        );
        assert_eq!(
            err("-6 route"),
            (255, "option \"-6\" is not supported in tcplab".into())
        );
        assert!(err("route add 1.2.3.0/24 via 10.0.1.1")
            .1
            .starts_with("`ip route add` is not supported in tcplab"));
        assert!(err("link set eth0 down")
            .1
            .starts_with("`ip link set` is not supported in tcplab"));
        // ip route get: iproute2's words for what it cannot resolve.
        assert_eq!(
            err("route get bogus"),
            (
                1,
                "Error: any valid prefix is expected rather than \"bogus\".".into()
            )
        );
        assert_eq!(
            err("route get 10.0.0.1 bogus"),
            (
                1,
                "Error: inet prefix is expected rather than \"bogus\".".into()
            )
        );
        assert_eq!(
            err("route get"),
            (1, "need at least a destination address".into())
        );
        // get_addr_1's words for any address, and iproute2's own reading
        // of a short address (bytes in order).
        for any in ["default", "any", "all", "0/0", "0"] {
            let args: Vec<String> = ["route", "get", any]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let g = IpArgs::parse(&args).unwrap().get.unwrap();
            assert_eq!(g.dst, Ipv4Addr::UNSPECIFIED, "{any}");
        }
        assert_eq!(iproute_addr("10.1"), Some(Ipv4Addr::new(10, 1, 0, 0)));
        assert_eq!(
            iproute_addr("0x0a.010.0.1"),
            Some(Ipv4Addr::new(10, 8, 0, 1))
        );
        assert_eq!(iproute_addr("256.1"), None);
        assert_eq!(iproute_addr("1..2"), None);
        assert_eq!(
            err("route get from"),
            (
                255,
                "Command line is not complete. Try option \"help\"".into()
            )
        );
        assert!(err("route get 10.0.0.1 oif eth0")
            .1
            .contains("oif` is not supported in tcplab"));
        let a: Vec<String> = ["-4", "route"].iter().map(|s| s.to_string()).collect();
        assert_eq!(IpArgs::parse(&a).unwrap().object, IpObject::Route);
        // An unknown object is status 1, and iproute2 does not name
        // itself before any of these.
        assert_eq!(
            err("bogus"),
            (1, "Object \"bogus\" is unknown, try \"ip help\".".into())
        );
        // Words cut short, as iproute2's matches() takes them.
        let parse = |cmd: &str| {
            let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            IpArgs::parse(&args).unwrap()
        };
        assert_eq!(parse("a s").object, IpObject::Addr);
        assert_eq!(parse("ad sh dev eth0").dev.as_deref(), Some("eth0"));
        assert_eq!(parse("li").object, IpObject::Link);
        assert_eq!(parse("l l eth0").dev.as_deref(), Some("eth0"));
        assert!(parse("rou g 10.0.0.1").get.is_some());
        assert!(parse("r s cache").cache);
        let r = parse("r s table main dev eth0 exact 10.0.1.0/24");
        assert_eq!(r.dev.as_deref(), Some("eth0"));
        assert_eq!(r.prefix, Some((Ipv4Addr::new(10, 0, 1, 0), 24)));
        assert_eq!(
            parse("route show default").prefix,
            Some((Ipv4Addr::UNSPECIFIED, 0))
        );
        // `ip a a` is add, as in iproute2; `ip n` is neigh, not here.
        assert!(err("a a 10.0.0.1/24 dev eth0")
            .1
            .starts_with("`ip address add` is not supported in tcplab"));
        assert_eq!(
            err("neigh"),
            (255, "`ip neighbor` is not supported in tcplab".into())
        );
        assert_eq!(
            err("addr show lo extra"),
            (
                255,
                "Error: either \"dev\" is duplicate, or \"extra\" is a garbage.".into()
            )
        );
        assert_eq!(
            err("addr show dev"),
            (
                255,
                "Command line is not complete. Try option \"help\"".into()
            )
        );
        // Selectors cut short; any address; a netmask; cache as `cached`.
        let r = parse("r s t main ex 10.0.1.0/255.255.255.0");
        assert_eq!(r.prefix, Some((Ipv4Addr::new(10, 0, 1, 0), 24)));
        assert_eq!(parse("route show all").prefix, None);
        assert!(parse("route show cache").cache);
        assert_eq!(err("route show metric 5").0, 255);
        assert_eq!(
            err("route show help"),
            (
                1,
                "Error: any valid prefix is expected rather than \"help\".".into()
            )
        );
        assert_eq!(err("route show 10.0.0.0/255.0.255.0").0, 1);
        assert_eq!(err("route help").0, 255);
        let help = |cmd: &str| {
            let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            IpArgs::parse(&args).unwrap_err().printed()
        };
        assert!(help("route help").0.starts_with("Usage: ip route"));
        assert!(help("a help").0.starts_with("Usage: ip address"));
        assert_eq!(err("route show table all").0, 255);
        assert_eq!(
            err("route show 10.0.0.0/33"),
            (
                1,
                "Error: any valid prefix is expected rather than \"10.0.0.0/33\".".into()
            )
        );
        let args: Vec<String> = vec!["bogus".into()];
        assert_eq!(
            IpArgs::parse(&args).unwrap_err().printed().0,
            "Object \"bogus\" is unknown, try \"ip help\".\n"
        );
    }
}
