//! `conntrack`: a router's connection tracking table from its command
//! line, as conntrack-tools 1.4.7 reads and prints it.
//!
//! ```text
//! conntrack -L [conntrack] [FILTER] [-o extended]  tracked flows
//! conntrack -D [FILTER]                             forget the flows chosen
//! conntrack -C                                      how many flows
//! conntrack -S                                      tracker statistics
//! conntrack -F                                      forget every flow
//! ```
//!
//! FILTER: `-p PROTO` (a name or number) and after it, for TCP and UDP,
//! `--sport`/`--orig-port-src`, `--dport`/`--orig-port-dst`,
//! `--reply-port-src`, `--reply-port-dst`, for TCP `--state STATE`, for
//! ICMP `--icmp-type`, `--icmp-code`, `--icmp-id`; addresses (a host or a
//! network) with `-s`/`--src`/`--orig-src`, `-d`/`--dst`/`--orig-dst`,
//! `-r`/`--reply-src`, `-q`/`--reply-dst`; `-u STATUS[,STATUS]`
//! (ASSURED, SEEN_REPLY); `-n`/`--src-nat`, `-g`/`--dst-nat`,
//! `-j`/`--any-nat`, each with an optional address. Mistakes are worded as
//! conntrack-tools words them (its name and version, the problem, then
//! where to look), exit status 2.

use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_host::{Host, Output};
use tcplab_netfilter::Entry;
use tcplab_stack::Cidr;

use crate::Usage;

const VERSION: &str = "conntrack v1.4.7 (conntrack-tools)";

const HELP: &str = "Command line interface for the connection tracking system. Version 1.4.7
Usage: conntrack [commands] [options]

Commands (tcplab's conntrack has these of conntrack-tools'):
  -L [conntrack] [options]	List the conntrack table
  -D [options]			Delete the flows the options choose
  -F				Flush table
  -C				Show counter
  -S				Show statistics

Parameters and options:
  -s, --src, --orig-src ip		Source address from original direction
  -d, --dst, --orig-dst ip		Destination address from original direction
  -r, --reply-src ip		Source address from reply direction
  -q, --reply-dst ip		Destination address from reply direction
  -p, --protonum proto		Layer 4 Protocol, eg. 'tcp'
  -u, --status status		Status, eg. ASSURED
  -n, --src-nat [ip]		source NAT ip
  -g, --dst-nat [ip]		destination NAT ip
  -j, --any-nat [ip]		source or destination NAT ip
  -o, --output extended		Output format
  -f, --family ipv4		Layer 3 Protocol

After -p tcp or -p udp:
  --sport, --orig-port-src port	Source port in original direction
  --dport, --orig-port-dst port	Destination port in original direction
  --reply-port-src port		Source port in reply direction
  --reply-port-dst port		Destination port in reply direction
  --state STATE			TCP state (-p tcp), eg. ESTABLISHED
After -p icmp:
  --icmp-type type, --icmp-code code, --icmp-id id";

/// What to do with the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    List,
    Delete,
    Count,
    Stats,
    Flush,
}

/// The flows a listing or a deletion is about; every field given must
/// match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowFilter {
    pub proto: Option<u8>,
    /// Original source and destination, reply source and destination.
    pub addrs: [Option<Cidr>; 4],
    /// Original source and destination ports, reply source and
    /// destination ports (an ICMP flow's identifier is its port).
    pub ports: [Option<u16>; 4],
    pub state: Option<String>,
    pub assured: bool,
    pub seen_reply: bool,
    /// `-n`, `-g`, `-j`: translated flows, by the address if one is given.
    pub src_nat: Option<Option<Ipv4Addr>>,
    pub dst_nat: Option<Option<Ipv4Addr>>,
    pub any_nat: Option<Option<Ipv4Addr>>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackArgs {
    pub command: Command,
    pub filter: FlowFilter,
    /// `-o extended`: each line after the layer 3 protocol.
    pub extended: bool,
}

/// conntrack-tools' complaint: its name and version, the problem, and
/// where to read more (exit status 2).
fn fail(message: impl Into<String>) -> Usage {
    Usage {
        bare: true,
        usage: Some("Try `conntrack -h' or 'conntrack --help' for more information.".into()),
        ..Usage::new("conntrack", format!("{VERSION}: {}", message.into()))
    }
}

/// Which filter option a word is, and the long name conntrack-tools gives
/// it in "Illegal option" (None: a word that is no filter option).
fn filter_name(word: &str) -> Option<&'static str> {
    Some(match word {
        "-s" | "--src" | "--orig-src" => "--src",
        "-d" | "--dst" | "--orig-dst" => "--dst",
        "-r" | "--reply-src" => "--reply-src",
        "-q" | "--reply-dst" => "--reply-dst",
        "-p" | "--protonum" | "--proto" => "--protonum",
        "-u" | "--status" => "--status",
        "-n" | "--src-nat" => "--src-nat",
        "-g" | "--dst-nat" => "--dst-nat",
        "-j" | "--any-nat" => "--any-nat",
        "-o" | "--output" => "--output",
        _ => return None,
    })
}

/// A protocol as `-p` takes it: tcp, udp, icmp, gre (any case) or a
/// number.
fn protocol(p: &str) -> Option<u8> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(1),
        "gre" => Some(47),
        n => n.parse().ok(),
    }
}

/// An address or network as conntrack-tools reads one (inet_aton's forms,
/// then an optional `/LEN`).
fn address(v: &str) -> Result<Cidr, Usage> {
    let (a, len) = match v.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (v, None),
    };
    let addr =
        crate::resolve::inet_aton(a).ok_or_else(|| fail(format!("Invalid IP address `{v}'")))?;
    let len = match len {
        None => 32,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| fail("Invalid netmask"))?,
    };
    Cidr::new(addr, len)
        .map(|c| c.network())
        .ok_or_else(|| fail("Invalid netmask"))
}

/// A port or ICMP field: a number (what does not read as one is refused
/// here, where conntrack-tools would take it as 0).
fn number<T: std::str::FromStr>(option: &str, v: &str) -> Result<T, Usage> {
    v.parse()
        .map_err(|_| fail(format!("invalid value `{v}' for option `{option}'")))
}

impl ConntrackArgs {
    pub fn parse(args: &[String]) -> Result<ConntrackArgs, Usage> {
        if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
            return Err(Usage::help("conntrack", HELP.into(), true, 0));
        }
        if args.iter().any(|a| a == "-V" || a == "--version") {
            return Err(Usage::help("conntrack", VERSION.into(), true, 0));
        }
        // `--opt=value` as getopt_long takes it.
        let mut words: Vec<String> = Vec::new();
        for a in args {
            match a.split_once('=') {
                Some((o, v)) if o.starts_with("--") => {
                    words.push(o.to_string());
                    words.push(v.to_string());
                }
                _ => words.push(a.clone()),
            }
        }
        let mut command: Option<Command> = None;
        let mut filter = FlowFilter::default();
        let mut extended = false;
        let mut given: Vec<&'static str> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            i += 1;
            // The word after an option, if it has one.
            let value = |i: &mut usize| -> Result<String, Usage> {
                let v = words
                    .get(*i)
                    .ok_or_else(|| fail(format!("option `{w}' requires an argument")))?;
                *i += 1;
                Ok(v.clone())
            };
            let cmd = match w {
                "-L" | "--dump" => Some(Command::List),
                "-D" | "--delete" => Some(Command::Delete),
                "-C" | "--count" => Some(Command::Count),
                "-S" | "--stats" => Some(Command::Stats),
                "-F" | "--flush" => Some(Command::Flush),
                "-G" | "--get" | "-I" | "--create" | "-U" | "--update" | "-E" | "--event" => {
                    return Err(fail(format!("command `{w}' is not supported here")))
                }
                _ => None,
            };
            if let Some(c) = cmd {
                if command.replace(c).is_some() {
                    return Err(fail("Invalid commands combination"));
                }
                // -L's table: the flows; no other table holds anything
                // here.
                if c == Command::List {
                    if let Some(t) = words.get(i).filter(|t| !t.starts_with('-')) {
                        if t != "conntrack" {
                            return Err(fail(format!("unknown type `{t}'")));
                        }
                        i += 1;
                    }
                }
                continue;
            }
            if let Some(name) = filter_name(w) {
                given.push(name);
            }
            match w {
                "-p" | "--protonum" | "--proto" => {
                    let v = value(&mut i)?;
                    filter.proto = Some(
                        protocol(&v).ok_or_else(|| fail(format!("`{v}' unsupported protocol")))?,
                    );
                }
                "-s" | "--src" | "--orig-src" => filter.addrs[0] = Some(address(&value(&mut i)?)?),
                "-d" | "--dst" | "--orig-dst" => filter.addrs[1] = Some(address(&value(&mut i)?)?),
                "-r" | "--reply-src" => filter.addrs[2] = Some(address(&value(&mut i)?)?),
                "-q" | "--reply-dst" => filter.addrs[3] = Some(address(&value(&mut i)?)?),
                "-u" | "--status" => {
                    for s in value(&mut i)?.split(',') {
                        match s {
                            "ASSURED" => filter.assured = true,
                            "SEEN_REPLY" => filter.seen_reply = true,
                            other => return Err(fail(format!("Bad parameter `{other}'"))),
                        }
                    }
                }
                "-o" | "--output" => {
                    for o in value(&mut i)?.split(',') {
                        match o {
                            "extended" => extended = true,
                            "xml" | "timestamp" | "id" | "ktimestamp" | "labels" | "userspace" => {
                                return Err(fail(format!(
                                    "output type `{o}' is not supported here"
                                )))
                            }
                            other => return Err(fail(format!("Bad parameter `{other}'"))),
                        }
                    }
                }
                "-f" | "--family" => match value(&mut i)?.as_str() {
                    "ipv4" => {}
                    other => return Err(fail(format!("`{other}' unsupported protocol"))),
                },
                // Counters are not kept per flow here: nothing to zero.
                "-z" | "--zero" => {}
                "-n" | "--src-nat" | "-g" | "--dst-nat" | "-j" | "--any-nat" => {
                    // An optional address: the next word when it is one.
                    let addr = words.get(i).and_then(|v| crate::resolve::inet_aton(v));
                    if addr.is_some() {
                        i += 1;
                    }
                    let slot = match w {
                        "-n" | "--src-nat" => &mut filter.src_nat,
                        "-g" | "--dst-nat" => &mut filter.dst_nat,
                        _ => &mut filter.any_nat,
                    };
                    *slot = Some(addr);
                }
                // -n10.0.0.1: the optional address attached.
                _ if w.len() > 2 && ["-n", "-g", "-j"].iter().any(|o| w.starts_with(o)) => {
                    let (opt, rest) = w.split_at(2);
                    let addr = crate::resolve::inet_aton(rest)
                        .ok_or_else(|| fail(format!("Invalid IP address `{rest}'")))?;
                    given.push(filter_name(opt).unwrap_or("--src-nat"));
                    let slot = match opt {
                        "-n" => &mut filter.src_nat,
                        "-g" => &mut filter.dst_nat,
                        _ => &mut filter.any_nat,
                    };
                    *slot = Some(Some(addr));
                }
                // The protocol's own options, known once -p named it.
                "--sport" | "--orig-port-src" | "--dport" | "--orig-port-dst"
                | "--reply-port-src" | "--reply-port-dst"
                    if matches!(filter.proto, Some(6 | 17)) =>
                {
                    let v = value(&mut i)?;
                    let slot = match w {
                        "--sport" | "--orig-port-src" => 0,
                        "--dport" | "--orig-port-dst" => 1,
                        "--reply-port-src" => 2,
                        _ => 3,
                    };
                    filter.ports[slot] = Some(number(w, &v)?);
                    given.push("--port");
                }
                "--state" if filter.proto == Some(6) => {
                    let v = value(&mut i)?;
                    const STATES: [&str; 11] = [
                        "NONE",
                        "SYN_SENT",
                        "SYN_RECV",
                        "ESTABLISHED",
                        "FIN_WAIT",
                        "CLOSE_WAIT",
                        "LAST_ACK",
                        "TIME_WAIT",
                        "CLOSE",
                        "LISTEN",
                        "SYN_SENT2",
                    ];
                    if !STATES.contains(&v.as_str()) {
                        return Err(fail(format!("unknown TCP state `{v}'")));
                    }
                    filter.state = Some(v);
                    given.push("--state");
                }
                "--icmp-type" | "--icmp-code" | "--icmp-id" if filter.proto == Some(1) => {
                    let v = value(&mut i)?;
                    match w {
                        "--icmp-type" => filter.icmp_type = Some(number(w, &v)?),
                        "--icmp-code" => filter.icmp_code = Some(number(w, &v)?),
                        _ => filter.ports[0] = Some(number(w, &v)?),
                    }
                    given.push("--icmp");
                }
                _ if w.starts_with('-') => {
                    return Err(fail(format!("unknown option `{w}'")));
                }
                _ => return Err(fail(format!("unknown type `{w}'"))),
            }
        }
        let Some(command) = command else {
            return Err(fail("no command specified"));
        };
        // -C, -S and -F take no filter (conntrack-tools names the first).
        if matches!(command, Command::Count | Command::Stats | Command::Flush) {
            if let Some(first) = given.first() {
                return Err(fail(format!("Illegal option `{first}' with this command")));
            }
        }
        Ok(ConntrackArgs {
            command,
            filter,
            extended,
        })
    }
}

impl FlowFilter {
    /// Whether the flow `e` is one the filter chooses.
    pub fn matches(&self, e: &Entry) -> bool {
        let (o, r) = (&e.orig, &e.reply);
        if self.proto.is_some_and(|p| p != o.proto) {
            return false;
        }
        let addrs = [o.src, o.dst, r.src, r.dst];
        if self
            .addrs
            .iter()
            .zip(addrs)
            .any(|(want, a)| want.is_some_and(|c| !c.contains(a)))
        {
            return false;
        }
        let ports = [o.sport, o.dport, r.sport, r.dport];
        if self
            .ports
            .iter()
            .zip(ports)
            .any(|(want, p)| want.is_some_and(|w| w != p))
        {
            return false;
        }
        if let Some(s) = &self.state {
            if e.tcp.is_none_or(|t| t.to_string() != *s) {
                return false;
            }
        }
        // An echo flow's tuple prints type 8 (its reply 0), code 0.
        if self.icmp_type.is_some_and(|t| t != 8) || self.icmp_code.is_some_and(|c| c != 0) {
            return false;
        }
        if (self.assured && !e.assured) || (self.seen_reply && !e.seen_reply) {
            return false;
        }
        // Source NAT: the reply comes back to another address than the
        // original source; destination NAT: it comes from another than the
        // original destination.
        let snat = (r.dst != o.src).then_some(r.dst);
        let dnat = (r.src != o.dst).then_some(r.src);
        let nat_ok = |want: Option<Option<Ipv4Addr>>, got: Option<Ipv4Addr>| match want {
            None => true,
            Some(None) => got.is_some(),
            Some(Some(a)) => got == Some(a),
        };
        if !nat_ok(self.src_nat, snat) || !nat_ok(self.dst_nat, dnat) {
            return false;
        }
        match self.any_nat {
            None => true,
            Some(None) => snat.is_some() || dnat.is_some(),
            Some(Some(a)) => snat == Some(a) || dnat == Some(a),
        }
    }
}

pub async fn run(host: Host, a: ConntrackArgs, mut out: Output, mut err: Output) -> i32 {
    let now = Duration::from_micros(host.now().total_micros());
    let r = host.with_netfilter(|nf| {
        nf.expire(now);
        let f = &a.filter;
        match a.command {
            Command::List => {
                let lines = nf.flow_lines(now, |e| f.matches(e));
                let n = lines.len();
                (lines, vec![format!("{VERSION}: {n} flow entries have been shown.")], 0)
            }
            Command::Delete => {
                let lines = nf.delete_flows(now, |e| f.matches(e));
                let n = lines.len();
                // conntrack-tools exits 1 when it deleted nothing.
                let status = i32::from(n == 0);
                (lines, vec![format!("{VERSION}: {n} flow entries have been deleted.")], status)
            }
            Command::Count => {
                let n = nf.flow_lines(now, |_| true).len();
                (vec![n.to_string()], Vec::new(), 0)
            }
            Command::Stats => {
                let s = nf.conntrack.stats;
                (
                    vec![format!(
                        "cpu=0   \tfound={} invalid={} insert={} insert_failed=0 drop={} early_drop={} error=0 search_restart=0 clash_resolve=0 chaintoolong=0 ",
                        s.found, s.invalid, s.new, s.table_full, s.early_drop
                    )],
                    Vec::new(),
                    0,
                )
            }
            Command::Flush => {
                let _flows = nf.flush();
                // conntrack-tools says no more than this (no count).
                (
                    Vec::new(),
                    vec![format!("{VERSION}: connection tracking table has been emptied.")],
                    0,
                )
            }
        }
    });
    match r {
        Some((lines, notes, status)) => {
            for l in lines {
                if a.extended {
                    out.line(format!("ipv4     2 {l}"));
                } else {
                    out.line(l);
                }
            }
            for n in notes {
                err.line(n);
            }
            status
        }
        None => crate::fw::no_filter(&mut err, "conntrack"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ConntrackArgs, String> {
        ConntrackArgs::parse(&crate::args::split(s).unwrap()).map_err(|u| {
            let mut m = u.message;
            if let Some(x) = u.usage {
                m.push('\n');
                m.push_str(&x);
            }
            m
        })
    }

    /// What conntrack-tools 1.4.7 takes and refuses, in its words (each
    /// error checked against the real tool on this machine).
    #[test]
    fn options_as_conntrack_tools_reads_them() {
        let a = parse("-L -p tcp --dport 8000").unwrap();
        assert_eq!(a.command, Command::List);
        assert_eq!(a.filter.proto, Some(6));
        assert_eq!(a.filter.ports, [None, Some(8000), None, None]);
        let a = parse("-L -p tcp --orig-port-dst=8080 --src 10.99.1.3").unwrap();
        assert_eq!(a.filter.ports[1], Some(8080));
        assert_eq!(
            a.filter.addrs[0],
            Cidr::new(Ipv4Addr::new(10, 99, 1, 3), 32)
        );
        assert_eq!(parse("-L -p 6").unwrap().filter.proto, Some(6));
        assert_eq!(parse("-L -p TCP").unwrap().filter.proto, Some(6));
        assert!(parse("-L conntrack -o extended").unwrap().extended);
        assert_eq!(parse("-L -n").unwrap().filter.src_nat, Some(None));
        assert_eq!(
            parse("-L -g 10.0.0.1").unwrap().filter.dst_nat,
            Some(Some(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(parse("-D -p udp").unwrap().command, Command::Delete);
        let err = |s: &str| parse(s).unwrap_err();
        let try_ = "\nTry `conntrack -h' or 'conntrack --help' for more information.";
        assert_eq!(
            err("-L --dport 80"),
            format!("conntrack v1.4.7 (conntrack-tools): unknown option `--dport'{try_}")
        );
        assert_eq!(
            err("-L -p sctpx"),
            format!("conntrack v1.4.7 (conntrack-tools): `sctpx' unsupported protocol{try_}")
        );
        assert_eq!(
            err("-L -s foo.invalid"),
            format!("conntrack v1.4.7 (conntrack-tools): Invalid IP address `foo.invalid'{try_}")
        );
        assert_eq!(
            err("-L -d 10.0.0.0/33"),
            format!("conntrack v1.4.7 (conntrack-tools): Invalid netmask{try_}")
        );
        assert_eq!(
            err("-L -s"),
            format!("conntrack v1.4.7 (conntrack-tools): option `-s' requires an argument{try_}")
        );
        assert_eq!(
            err("-L -p tcp --state established"),
            format!("conntrack v1.4.7 (conntrack-tools): unknown TCP state `established'{try_}")
        );
        assert_eq!(
            err("-L -p udp --state ESTABLISHED"),
            format!("conntrack v1.4.7 (conntrack-tools): unknown option `--state'{try_}")
        );
        assert_eq!(
            err("-L -L"),
            format!("conntrack v1.4.7 (conntrack-tools): Invalid commands combination{try_}")
        );
        assert_eq!(
            err("-C -p tcp"),
            format!(
                "conntrack v1.4.7 (conntrack-tools): Illegal option `--protonum' with this command{try_}"
            )
        );
        assert_eq!(
            err("-L extra"),
            format!("conntrack v1.4.7 (conntrack-tools): unknown type `extra'{try_}")
        );
        assert_eq!(
            err("-L -u FOO"),
            format!("conntrack v1.4.7 (conntrack-tools): Bad parameter `FOO'{try_}")
        );
        assert_eq!(
            err("-X"),
            format!("conntrack v1.4.7 (conntrack-tools): unknown option `-X'{try_}")
        );
        // Words that are not ASCII are words like any other (no slicing
        // inside a character).
        for w in [
            "-L -p tcp \u{2013}dport 80",
            "-L x\u{e9}",
            "-L -\u{e9}",
            "-L -n\u{e9}",
        ] {
            assert!(parse(w).is_err(), "{w}");
        }
        assert_eq!(
            parse("-L -n10.0.0.1").unwrap().filter.src_nat,
            Some(Some(Ipv4Addr::new(10, 0, 0, 1)))
        );
    }
}
