//! `netstat`, as net-tools 2.10 prints it.
//!
//! ```text
//! netstat [-tuxanlpoe]   connections (servers and/or established)
//! netstat -r [-n]        the routing table
//! netstat -i [-e]        the interface table (-e: ifconfig's long form)
//! netstat -s             protocol statistics
//! ```
//!
//! The classic fixed-width layout: `%-23s` addresses (truncated if longer),
//! state names with underscores (`TIME_WAIT`, `FIN_WAIT2`), and — unlike ss
//! — host names resolved too unless `-n`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_host::{Host, Output};
use tcplab_stack::services::{self, Transport};

use crate::args::{getopt, Opt};
use crate::resolve;
use crate::sockets::{snapshot, Netid, SockRow, SockState};
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetstatArgs {
    pub tcp: bool,
    pub udp: bool,
    /// `-x`: local (`AF_UNIX`) sockets.
    pub unix: bool,
    pub all: bool,
    pub listening: bool,
    pub numeric: bool,
    /// `--numeric-hosts` / `--numeric-ports`: one half of `-n`.
    pub numeric_hosts: bool,
    pub numeric_ports: bool,
    pub processes: bool,
    /// `-e`: the owner and inode of each socket.
    pub extended: bool,
    pub timers: bool,
    pub routes: bool,
    pub interfaces: bool,
    pub statistics: bool,
    /// `-W`: addresses not shortened to fit their column.
    pub wide: bool,
    /// `-4`: the IPv4 (inet) sockets only.
    pub inet: bool,
}

const USAGE: &str = "usage: netstat [-tuxanlpoeW4] | -r [-n] | -i | -s";

/// `netstat -h`: net-tools' usage in its layout, with the options this
/// netstat has.
const HELP: &str = "usage: netstat [-eenN] [<Af>] -r         netstat {-h|--help}
       netstat [-nNaeol] [<Socket> ...]
       netstat { [-eenNa] -i | -s [-tu] }

        -r, --route              display routing table
        -i, --interfaces         display interface table
        -s, --statistics         display networking statistics (like SNMP)

        -n, --numeric            don't resolve names
        --numeric-hosts          don't resolve host names
        --numeric-ports          don't resolve port names
        -e, --extend             display other/more information
        -p, --programs           display PID/Program name for sockets
        -o, --timers             display timers

        -l, --listening          display listening server sockets
        -a, --all                display all sockets (default: connected)
        -W, --wide               don't truncate IP addresses

  <Socket>={-t|--tcp} {-u|--udp} {-x|--unix}
  <AF>=-4|--inet (DARPA Internet), the only address family here";

impl NetstatArgs {
    pub fn parse(args: &[String]) -> Result<NetstatArgs, Usage> {
        // net-tools: -h and --help print the usage on stdout, status 0.
        if crate::asks_help(args, true) {
            return Err(Usage::help("netstat", HELP.into(), true, 0));
        }
        // -V / --version: net-tools' first line, on standard output.
        if args.iter().any(|a| a == "-V" || a == "--version") {
            return Err(Usage::help("netstat", "net-tools 2.10".into(), true, 0));
        }
        let (opts, rest) = getopt(
            args,
            "tuxanlporiseW4",
            &[
                "wide",
                "inet",
                "numeric",
                "numeric-hosts",
                "numeric-ports",
                "tcp",
                "udp",
                "unix",
                "program",
                "programs",
                "timers",
                "extend",
                "all",
                "listening",
                "route",
                "interfaces",
                "statistics",
            ],
        )
        // net-tools' letters, for options tcplab's netstat lacks.
        .map_err(|e| {
            let real = "246A:aCcdeFfghilMNnoprSstUuVvWwxZ";
            // net-tools' usage(E_OPTERR): status 3.
            Usage {
                status: 3,
                ..Usage::with_usage("netstat", crate::args::unsupported(e, real), USAGE)
            }
        })?;
        if let Some(x) = rest.first() {
            return Err(Usage::with_usage(
                "netstat",
                format!("unexpected argument `{x}`"),
                USAGE,
            ));
        }
        let mut a = NetstatArgs::default();
        for o in opts {
            let key = match &o {
                Opt::Short(c, _) => c.to_string(),
                Opt::Long(l, _) => l.clone(),
            };
            match key.as_str() {
                "t" | "tcp" => a.tcp = true,
                "x" | "unix" => a.unix = true,
                "u" | "udp" => a.udp = true,
                "numeric-hosts" => a.numeric_hosts = true,
                "numeric-ports" => a.numeric_ports = true,
                "a" | "all" => a.all = true,
                "l" | "listening" => a.listening = true,
                "n" | "numeric" => a.numeric = true,
                "p" | "program" | "programs" => a.processes = true,
                "o" | "timers" => a.timers = true,
                "e" | "extend" => a.extended = true,
                "r" | "route" => a.routes = true,
                "i" | "interfaces" => a.interfaces = true,
                "s" | "statistics" => a.statistics = true,
                "W" | "wide" => a.wide = true,
                "4" | "inet" => a.inet = true,
                _ => {}
            }
        }
        if a.numeric {
            a.numeric_hosts = true;
            a.numeric_ports = true;
        }
        // One table at a time: net-tools answers two of -r, -i, -s with
        // its usage alone and status 3.
        if [a.routes, a.interfaces, a.statistics]
            .iter()
            .filter(|&&m| m)
            .count()
            > 1
        {
            return Err(Usage {
                status: 3,
                ..Usage::with_usage("netstat", String::new(), USAGE)
            });
        }
        Ok(a)
    }
}

fn addr_text(
    names: &Names,
    addr: SocketAddrV4,
    netid: Netid,
    (numeric_hosts, numeric_ports): (bool, bool),
    wildcard_port: bool,
    wide: bool,
) -> String {
    let ip = if numeric_hosts || addr.ip().is_unspecified() {
        addr.ip().to_string()
    } else {
        names
            .get(addr.ip())
            .cloned()
            .unwrap_or_else(|| addr.ip().to_string())
    };
    let port = if wildcard_port {
        "*".to_string()
    } else if numeric_ports {
        addr.port().to_string()
    } else {
        let t = if netid == Netid::Tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        services::name(addr.port(), t).map_or_else(|| addr.port().to_string(), str::to_string)
    };
    let full = format!("{ip}:{port}");
    if wide || full.chars().count() <= 23 {
        full
    } else {
        // net-tools shortens the host part so that host:port fits in 23.
        let keep = 23usize.saturating_sub(port.len() + 1);
        format!("{}:{port}", ip.chars().take(keep).collect::<String>())
    }
}

/// The connection table.
/// Whether the Internet table shows this socket: its protocol asked for,
/// and a server or not as -l / -a choose.
fn listed(r: &SockRow, a: &NetstatArgs, want_tcp: bool, want_udp: bool) -> bool {
    if r.netid.is_unix()
        || (r.netid == Netid::Tcp && !want_tcp)
        || (r.netid == Netid::Udp && !want_udp)
    {
        return false;
    }
    let server = r.state.is_server();
    if a.all {
        true
    } else if a.listening {
        server
    } else {
        !server
    }
}

/// Which tables: TCP, UDP, local (Unix) sockets.
fn wanted(a: &NetstatArgs) -> (bool, bool, bool) {
    if a.tcp || a.udp || a.unix {
        (a.tcp, a.udp, a.unix && !a.inet)
    } else {
        // -4 alone: every inet socket, no local ones.
        (true, true, !a.inet)
    }
}

/// The names of the addresses a table shows (`getnameinfo`: the hosts
/// table, then DNS), looked up before it is drawn.
pub type Names = BTreeMap<Ipv4Addr, String>;

/// The names of every address in `rows` that has one, as netstat asks
/// `getnameinfo` for each — through DNS when the host has name servers
/// (none without; nothing under `-n`).
pub async fn names(host: &Host, rows: &[SockRow], a: &NetstatArgs) -> Names {
    let mut names = Names::new();
    if a.numeric_hosts {
        return names;
    }
    let (want_tcp, want_udp, _) = wanted(a);
    // In the order the table shows them, each once (net-tools keeps the
    // names it found).
    let mut asked = std::collections::BTreeSet::new();
    for r in rows.iter().filter(|r| listed(r, a, want_tcp, want_udp)) {
        for ip in [Some(*r.local.ip()), r.peer.map(|p| *p.ip())]
            .into_iter()
            .flatten()
        {
            if ip.is_unspecified() || !asked.insert(ip) {
                continue;
            }
            if let Some(name) = resolve::reverse(host, ip).await {
                names.insert(ip, name);
            }
        }
    }
    names
}

pub fn render(names: &Names, rows: &[SockRow], a: &NetstatArgs) -> Vec<String> {
    let (want_tcp, want_udp, want_unix) = wanted(a);
    let title = if a.all {
        "(servers and established)"
    } else if a.listening {
        "(only servers)"
    } else {
        "(w/o servers)"
    };
    let mut lines = Vec::new();
    if want_tcp || want_udp {
        lines.extend(inet(names, rows, a, title, want_tcp, want_udp));
    }
    if want_unix {
        lines.extend(unix(rows, a, title));
    }
    lines
}

/// The `Active UNIX domain sockets` table.
fn unix(rows: &[SockRow], a: &NetstatArgs, title: &str) -> Vec<String> {
    let mut lines = vec![format!("Active UNIX domain sockets {title}")];
    let mut header = String::from("Proto RefCnt Flags       Type       State         I-Node  ");
    if a.processes {
        header.push_str(" PID/Program name    ");
    }
    header.push_str(" Path");
    lines.push(header);
    for r in rows {
        let Some((path, inode, _)) = &r.unix else {
            continue;
        };
        let server = r.state.is_server();
        if !(a.all || (a.listening && server) || (!a.listening && !server)) {
            continue;
        }
        let listening = r.state.netstat() == "LISTENING";
        let (refcnt, flags) = if listening {
            (2, "[ ACC ]")
        } else if r.state.netstat() == "CONNECTED" {
            (3, "[ ]")
        } else {
            (2, "[ ]")
        };
        let kind = if r.netid == Netid::UnixStream {
            "STREAM"
        } else {
            "DGRAM"
        };
        let mut line = format!(
            "unix  {refcnt:<6} {flags:<11} {kind:<10} {:<13} {inode:<8}",
            r.state.netstat()
        );
        if a.processes {
            let p = r
                .process
                .as_ref()
                .map_or_else(|| "-".to_string(), |(name, pid, _)| format!("{pid}/{name}"));
            let _ = write!(line, " {p:<20}");
        }
        line.push(' ');
        line.push_str(path.as_deref().unwrap_or(""));
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// The `Active Internet connections` table.
fn inet(
    names: &Names,
    rows: &[SockRow],
    a: &NetstatArgs,
    title: &str,
    want_tcp: bool,
    want_udp: bool,
) -> Vec<String> {
    let mut lines = vec![format!("Active Internet connections {title}")];
    let mut header = format!(
        "Proto Recv-Q Send-Q {:<23} {:<23} State      ",
        "Local Address", "Foreign Address"
    );
    if a.extended {
        header.push_str(" User       Inode     ");
    }
    if a.processes {
        header.push_str(" PID/Program name    ");
    }
    if a.timers {
        header.push_str(" Timer");
    }
    lines.push(header);
    for r in rows.iter().filter(|r| listed(r, a, want_tcp, want_udp)) {
        let numeric = (a.numeric_hosts, a.numeric_ports);
        let local = addr_text(names, r.local, r.netid, numeric, false, a.wide);
        let foreign = match r.peer {
            Some(p) => addr_text(names, p, r.netid, numeric, false, a.wide),
            None => addr_text(
                names,
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
                r.netid,
                (true, true),
                true,
                a.wide,
            ),
        };
        // /proc/net/tcp gives a listener's accept queue and no send queue.
        let send_q = if r.state == SockState::Listen {
            0
        } else {
            r.send_q
        };
        let mut line = format!(
            "{:<4}  {:>6} {:>6} {:<23} {:<23} {:<11}",
            r.netid.name(),
            r.recv_q,
            send_q,
            local,
            foreign,
            r.state.netstat()
        );
        if a.extended {
            // Every process here runs as root (uid 0); a socket no
            // process holds (TIME-WAIT) shows inode 0, as in /proc.
            let user = if a.numeric_hosts { "0" } else { "root" };
            let _ = write!(line, " {user:<10} {:<10}", r.inode());
        }
        if a.processes {
            let p = r
                .process
                .as_ref()
                .map_or_else(|| "-".to_string(), |(name, pid, _)| format!("{pid}/{name}"));
            let _ = write!(line, " {p:<20}");
        }
        if a.timers {
            let t = match (r.timer, r.info.as_ref()) {
                (Some((name, left, retrans)), _) => {
                    // /proc/net/tcp's timer kinds in net-tools' words:
                    // the zero-window probe timer (4) is "probe" where ss
                    // says "persist".
                    let name = if name == "persist" { "probe" } else { name };
                    format!("{name} ({:.2}/{retrans}/0)", left.as_secs_f64())
                }
                (None, Some(i)) if i.keepalive => "keepalive (0.00/0/0)".into(),
                _ => "off (0.00/0/0)".into(),
            };
            let _ = write!(line, " {t}");
        }
        lines.push(line);
    }
    lines
}

/// `netstat -r`.
///
/// With `-e`, net-tools' other columns: the metric, the reference count
/// and the use count (all 0 here, as Linux's /proc/net/route gives them
/// for routes it does not count) instead of MSS, window and irtt.
pub fn routes(host: &Host, numeric: bool, extended: bool) -> Vec<String> {
    let head = if extended {
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface"
    } else {
        "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface"
    };
    let mut lines = vec!["Kernel IP routing table".to_string(), head.to_string()];
    // Routes learned from redirects are route-cache exceptions on Linux,
    // which /proc/net/route does not list (`ip route show cache` does).
    let (mut routes, ifaces): (Vec<_>, Vec<String>) = host.with_stack(|s| {
        (
            s.routes()
                .filter(|r| r.origin != tcplab_stack::RouteOrigin::Redirect)
                .copied()
                .collect(),
            s.interfaces().iter().map(|i| i.name.clone()).collect(),
        )
    });
    // /proc/net/route's order, the kernel's trie walk: by destination, so
    // the default route comes first (as `ip route` lists them too).
    routes.sort_by_key(|r| (u32::from(r.dest.address()), r.dest.prefix_len()));
    for r in routes {
        let dest = if r.dest.prefix_len() == 0 && !numeric {
            "default".to_string()
        } else {
            r.dest.address().to_string()
        };
        let gw = match r.gateway {
            Some(g) if numeric => g.to_string(),
            Some(g) => host.reverse(g).unwrap_or_else(|| g.to_string()),
            None => "0.0.0.0".into(),
        };
        let iface = ifaces.get(r.iface.0).cloned().unwrap_or_default();
        if extended {
            lines.push(format!(
                "{:<15} {:<15} {:<15} {:<5} {:<6} {:<2} {:>7} {}",
                dest,
                gw,
                r.dest.netmask(),
                r.flags(),
                0,
                0,
                0,
                iface
            ));
            continue;
        }
        lines.push(format!(
            "{:<15} {:<15} {:<15} {:<5} {:>5} {:<6} {:>5} {}",
            dest,
            gw,
            r.dest.netmask(),
            r.flags(),
            0,
            0,
            0,
            iface
        ));
    }
    lines
}

/// `netstat -i`.
pub fn interfaces(host: &Host) -> Vec<String> {
    let mut lines = vec![
        "Kernel Interface table".to_string(),
        "Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg"
            .to_string(),
    ];
    for i in by_name(host) {
        let c = &i.counters;
        // net-tools' letters: a TUN device is M(ulticast) O(noarp)
        // P(ointopoint) R(unning) U(p).
        let flags = if i.loopback {
            "LRU"
        } else if i.tunnel {
            "MOPRU"
        } else {
            "BMRU"
        };
        lines.push(format!(
            "{:<15} {:>5} {:>8} {:>6} {:>6} {:<6} {:>8} {:>6} {:>6} {:>6} {}",
            i.name,
            i.mtu,
            c.rx_packets,
            c.rx_errors,
            c.rx_dropped,
            0,
            c.tx_packets,
            0,
            c.tx_dropped,
            0,
            flags
        ));
    }
    lines
}

/// The interfaces in net-tools' order: by name, digit runs compared as
/// numbers (its `nstrcmp`: eth2 before eth10, lo between eth and t).
fn by_name(host: &Host) -> Vec<tcplab_stack::Interface> {
    let mut ifaces = host.with_stack(|s| s.interfaces().to_vec());
    ifaces.sort_by_key(|a| name_key(&a.name));
    ifaces
}

/// A name as runs of text and numbers, for `by_name`.
fn name_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let text_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (text, after) = rest.split_at(text_end);
        let num_end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        let (num, after) = after.split_at(num_end);
        key.push((text.to_string(), num.parse().unwrap_or(u64::MAX)));
        rest = after;
    }
    key
}

/// `netstat -ie`: each interface as ifconfig prints it (net-tools'
/// `ife_print_long`). tcplab's interfaces carry IP without a link layer,
/// as a TUN device does, so their hardware line is `unspec`; only the
/// primary address is shown, as ifconfig shows it.
pub fn interfaces_long(host: &Host) -> Vec<String> {
    let mut lines = vec!["Kernel Interface table".to_string()];
    for i in by_name(host) {
        // IFF_UP 0x1, BROADCAST 0x2, LOOPBACK 0x8, POINTOPOINT 0x10,
        // RUNNING 0x40, NOARP 0x80, MULTICAST 0x1000.
        let (flags, names) = if i.loopback {
            (0x49, "UP,LOOPBACK,RUNNING")
        } else if i.tunnel {
            (0x10d1, "UP,POINTOPOINT,RUNNING,NOARP,MULTICAST")
        } else {
            (0x1043, "UP,BROADCAST,RUNNING,MULTICAST")
        };
        lines.push(format!("{}: flags={flags}<{names}>  mtu {}", i.name, i.mtu));
        if let Some(c) = i.addrs.first() {
            let mut l = format!("        inet {}  netmask {}", c.address(), c.netmask());
            if i.tunnel {
                let _ = write!(l, "  destination {}", c.address());
            } else if !i.loopback {
                if let Some(b) = c.broadcast() {
                    let _ = write!(l, "  broadcast {b}");
                }
            }
            lines.push(l);
        }
        lines.push(if i.loopback {
            "        loop  txqueuelen 1000  (Local Loopback)".to_string()
        } else {
            format!(
                "        unspec 00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00  txqueuelen {}  (UNSPEC)",
                if i.tunnel { 500 } else { 1000 }
            )
        });
        let c = &i.counters;
        lines.push(format!(
            "        RX packets {}  bytes {} ({})",
            c.rx_packets,
            c.rx_bytes,
            scaled(c.rx_bytes)
        ));
        lines.push(format!(
            "        RX errors {}  dropped {}  overruns 0  frame 0",
            c.rx_errors, c.rx_dropped
        ));
        lines.push(format!(
            "        TX packets {}  bytes {} ({})",
            c.tx_packets,
            c.tx_bytes,
            scaled(c.tx_bytes)
        ));
        lines.push(format!(
            "        TX errors 0  dropped {} overruns 0  carrier 0  collisions 0",
            c.tx_dropped
        ));
        lines.push(String::new());
    }
    lines
}

/// ifconfig's byte counts in binary units, one truncated decimal, a unit
/// taken only past (not at) its size: `180.0 B`, `1.0 KiB`, `395.5 MiB`.
fn scaled(bytes: u64) -> String {
    let mut tenths = u128::from(bytes) * 10;
    let mut unit = "B";
    for (size, name) in [
        (1u128 << 50, "PiB"),
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ] {
        if u128::from(bytes) > size {
            tenths /= size;
            unit = name;
            break;
        }
    }
    format!("{}.{} {unit}", tenths / 10, tenths % 10)
}

/// `netstat -s`'s sections; with `-t` or `-u` only theirs — and, as
/// net-tools does, the sections it has no table for (IcmpMsg, UdpLite,
/// IpExt, MPTcpExt),
/// which no flag filters out.
fn statistics(text: &str, a: &NetstatArgs) -> Vec<String> {
    let mut lines = Vec::new();
    let mut keep = true;
    for l in text.lines() {
        if !l.starts_with(' ') {
            let section = l.trim_end_matches(':');
            keep = !(a.tcp || a.udp)
                || match section {
                    "Tcp" | "TcpExt" => a.tcp,
                    "Udp" => a.udp,
                    "IcmpMsg" | "UdpLite" | "IpExt" | "MPTcpExt" => true,
                    _ => false,
                };
        }
        if keep {
            // Without the Icmp section before it (-t, -u), nothing set
            // net-tools' indentation to the histogram's: IcmpMsg's lines
            // take the ordinary four spaces.
            match l.strip_prefix("        ") {
                Some(rest) if (a.tcp || a.udp) && rest.contains("Type") => {
                    lines.push(format!("    {rest}"));
                }
                _ => lines.push(l.to_string()),
            }
        }
    }
    lines
}

pub async fn run(host: Host, a: NetstatArgs, mut out: Output) -> i32 {
    let lines = if a.routes {
        routes(&host, a.numeric, a.extended)
    } else if a.interfaces && a.extended {
        interfaces_long(&host)
    } else if a.interfaces {
        interfaces(&host)
    } else if a.statistics {
        statistics(&host.with_stack(|s| s.stats()).to_string(), &a)
    } else {
        let rows = snapshot(&host);
        let names = names(&host, &rows, &a).await;
        render(&names, &rows, &a)
    };
    for l in lines {
        out.line(l);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifconfig_scales_bytes_past_each_unit() {
        assert_eq!(scaled(0), "0.0 B");
        assert_eq!(scaled(1024), "1024.0 B");
        assert_eq!(scaled(1025), "1.0 KiB");
        // The machine's own `netstat -ie`: 3.0 (not 3.1) and 395.5 MiB.
        assert_eq!(scaled(3_227_581), "3.0 MiB");
        assert_eq!(scaled(414_751_035), "395.5 MiB");
        assert_eq!(scaled(u64::MAX), "16383.9 PiB");
    }

    #[test]
    fn names_sort_as_net_tools_sorts_them() {
        let mut names = vec!["t0", "lo", "eth10", "eth2", "eth0"];
        names.sort_by_key(|n| name_key(n));
        assert_eq!(names, ["eth0", "eth2", "eth10", "lo", "t0"]);
    }
}
