//! `tcpdump`: print what crosses a host's interfaces, one line a packet, as
//! tcpdump 4.99 does with `-n` (addresses are never resolved here).
//!
//! ```text
//! tcpdump [-c COUNT] [-i IFACE] [-S] [EXPRESSION]
//! ```
//!
//! TCP sequence numbers are relative to the first one seen in each direction
//! (absolute with `-S`), as tcpdump prints them. EXPRESSION is a small
//! subset of pcap-filter: `tcp`, `udp`, `icmp`, `host ADDR`, `src|dst host
//! ADDR`, `port N`, `src|dst port N`, joined with `and`, `or`, `not`.
//! Timestamps are the host's clock since the start of the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use tcplab_host::{Host, Output, TapDirection};
use tcplab_stack::IfaceId;
use tcplab_wire::tcp::{self, SeqNumber};
use tcplab_wire::{ipv4, PacketDisplay, Protocol};

use crate::args::{getopt, Opt};
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpdumpArgs {
    pub count: Option<u64>,
    pub iface: Option<String>,
    pub absolute: bool,
    pub filter: Vec<String>,
}

const USAGE: &str = "Usage: tcpdump [-nS] [-c count] [-i interface] [expression]";

impl TcpdumpArgs {
    pub fn parse(args: &[String]) -> Result<TcpdumpArgs, Usage> {
        let (opts, rest) =
            getopt(args, "c:i:nSq", &[]).map_err(|e| Usage::with_usage("tcpdump", e, USAGE))?;
        let mut a = TcpdumpArgs {
            count: None,
            iface: None,
            absolute: false,
            filter: rest,
        };
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            let v = v.unwrap_or_default();
            match c {
                'c' => {
                    a.count = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        Usage::new("tcpdump", format!("invalid packet count {v}"))
                    })?)
                }
                'i' => a.iface = Some(v),
                'S' => a.absolute = true,
                _ => {}
            }
        }
        Filter::parse(&a.filter).map_err(|e| Usage::new("tcpdump", e))?;
        Ok(a)
    }
}

/// A parsed filter: a disjunction of conjunctions of (negated) primitives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    any_of: Vec<Vec<(bool, Primitive)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Primitive {
    Proto(Protocol),
    Host(Option<bool>, Ipv4Addr),
    Port(Option<bool>, u16),
}

impl Filter {
    fn parse(words: &[String]) -> Result<Filter, String> {
        let mut any_of = vec![Vec::new()];
        let mut negate = false;
        let mut i = 0;
        let mut dir: Option<bool> = None;
        while i < words.len() {
            let w = words[i].as_str();
            i += 1;
            match w {
                "and" | "&&" => continue,
                "or" | "||" => {
                    any_of.push(Vec::new());
                    continue;
                }
                "not" | "!" => {
                    negate = !negate;
                    continue;
                }
                "src" => {
                    dir = Some(true);
                    continue;
                }
                "dst" => {
                    dir = Some(false);
                    continue;
                }
                _ => {}
            }
            let prim = match w {
                "tcp" => Primitive::Proto(Protocol::Tcp),
                "udp" => Primitive::Proto(Protocol::Udp),
                "icmp" => Primitive::Proto(Protocol::Icmp),
                "host" | "port" => {
                    let v = words
                        .get(i)
                        .ok_or_else(|| format!("syntax error: `{w}` needs a value"))?;
                    i += 1;
                    if w == "host" {
                        Primitive::Host(
                            dir,
                            v.parse()
                                .map_err(|_| format!("invalid host {v} (addresses only)"))?,
                        )
                    } else {
                        Primitive::Port(dir, v.parse().map_err(|_| format!("invalid port {v}"))?)
                    }
                }
                other => return Err(format!("syntax error in filter expression near `{other}`")),
            };
            any_of.last_mut().expect("non-empty").push((negate, prim));
            negate = false;
            dir = None;
        }
        Ok(Filter { any_of })
    }

    fn matches(&self, bytes: &[u8]) -> bool {
        if self.any_of.iter().all(Vec::is_empty) {
            return true;
        }
        let Ok(p) = ipv4::Packet::new_checked(bytes) else {
            return false;
        };
        let ports = if p.frag_offset() == 0
            && matches!(p.protocol(), Protocol::Tcp | Protocol::Udp)
            && p.payload().len() >= 4
        {
            let d = p.payload();
            Some((
                u16::from_be_bytes([d[0], d[1]]),
                u16::from_be_bytes([d[2], d[3]]),
            ))
        } else {
            None
        };
        self.any_of.iter().any(|all| {
            all.iter().all(|(neg, prim)| {
                let m = match prim {
                    Primitive::Proto(proto) => p.protocol() == *proto,
                    Primitive::Host(None, a) => p.src_addr() == *a || p.dst_addr() == *a,
                    Primitive::Host(Some(true), a) => p.src_addr() == *a,
                    Primitive::Host(Some(false), a) => p.dst_addr() == *a,
                    Primitive::Port(d, port) => ports.is_some_and(|(s, t)| match d {
                        None => s == *port || t == *port,
                        Some(true) => s == *port,
                        Some(false) => t == *port,
                    }),
                };
                m != *neg
            })
        })
    }
}

/// Relative sequence numbers: the first sequence number seen per direction.
#[derive(Debug, Default)]
struct SeqBase {
    bases: BTreeMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32>,
}

impl SeqBase {
    fn line(&mut self, bytes: &[u8], absolute: bool) -> String {
        let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
            return PacketDisplay(bytes).to_string();
        };
        if ip.protocol() != Protocol::Tcp || ip.frag_offset() != 0 || absolute {
            return PacketDisplay(bytes).to_string();
        }
        let Ok(seg) = tcp::Packet::new_checked(ip.payload()) else {
            return PacketDisplay(bytes).to_string();
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let key = (src, seg.src_port(), dst, seg.dst_port());
        let rev = (dst, seg.dst_port(), src, seg.src_port());
        let f = seg.flags();
        let first = !self.bases.contains_key(&key);
        if f.syn() || first {
            self.bases.insert(key, seg.seq_number().0);
        }
        let base = self.bases[&key];
        let rel = |s: SeqNumber, b: u32| s.0.wrapping_sub(b);
        let len = seg.payload().len();
        let mut s = format!(
            "IP {src}.{} > {dst}.{}: Flags [{}]",
            seg.src_port(),
            seg.dst_port(),
            f
        );
        if len > 0 || f.syn() || f.fin() || f.rst() {
            let shown = if f.syn() || first {
                seg.seq_number().0
            } else {
                rel(seg.seq_number(), base)
            };
            let _ = write!(s, ", seq {shown}");
            if len > 0 {
                let _ = write!(s, ":{}", shown.wrapping_add(len as u32));
            }
        }
        if f.ack() {
            let ack = match self.bases.get(&rev) {
                Some(b) if !f.syn() => rel(seg.ack_number(), *b),
                _ => seg.ack_number().0,
            };
            let _ = write!(s, ", ack {ack}");
        }
        let _ = write!(s, ", win {}", seg.window_len());
        if f.urg() {
            let _ = write!(s, ", urg {}", seg.urgent_pointer());
        }
        if !seg.options().is_empty() {
            s.push_str(", options [");
            let _ = tcp::write_options(&mut s, seg.options());
            s.push(']');
        }
        let _ = write!(s, ", length {len}");
        s
    }
}

fn stamp(micros: u64) -> String {
    let secs = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        micros % 1_000_000
    )
}

pub async fn run(host: Host, a: TcpdumpArgs, mut out: Output, mut err: Output) -> i32 {
    let filter = Filter::parse(&a.filter).unwrap_or(Filter {
        any_of: vec![Vec::new()],
    });
    let ifaces: Vec<(IfaceId, String)> = host.with_stack(|s| {
        s.interfaces()
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.loopback)
            .map(|(k, i)| (IfaceId(k), i.name.clone()))
            .collect()
    });
    let (only, any) = match &a.iface {
        Some(name) if name == "any" => (None, true),
        Some(name) => match ifaces.iter().find(|(_, n)| n == name) {
            Some((id, _)) => (Some(*id), false),
            None => {
                err.line(format!("tcpdump: {name}: No such device exists"));
                return 1;
            }
        },
        None if ifaces.len() == 1 => (Some(ifaces[0].0), false),
        None => (None, true),
    };
    let tap = host.tap();
    err.line("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode");
    let shown_name = if any {
        "any".to_string()
    } else {
        a.iface.clone().unwrap_or_else(|| ifaces[0].1.clone())
    };
    err.line(format!(
        "listening on {shown_name}, link-type {}, snapshot length 262144 bytes",
        if any {
            "LINUX_SLL2 (Linux cooked v2)"
        } else {
            "RAW (Raw IP)"
        }
    ));
    let mut bases = SeqBase::default();
    let mut seen = 0u64;
    loop {
        let t = tap.next().await;
        if only.is_some_and(|i| i != t.iface) || !filter.matches(&t.bytes) {
            continue;
        }
        seen += 1;
        let line = bases.line(&t.bytes, a.absolute);
        if any {
            let name = ifaces
                .iter()
                .find(|(id, _)| *id == t.iface)
                .map_or("?", |(_, n)| n.as_str());
            let dir = if t.direction == TapDirection::In {
                "In "
            } else {
                "Out"
            };
            out.line(format!(
                "{} {name} {dir} {line}",
                stamp(t.time.total_micros())
            ));
        } else {
            out.line(format!("{} {line}", stamp(t.time.total_micros())));
        }
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    err.line(format!("{seen} packets captured"));
    err.line(format!("{seen} packets received by filter"));
    err.line(format!("{} packets dropped by kernel", tap.dropped()));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Filter {
        Filter::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn filters_parse() {
        assert_eq!(f("").any_of, vec![Vec::new()]);
        assert_eq!(f("tcp and port 80").any_of[0].len(), 2);
        assert_eq!(f("icmp or udp").any_of.len(), 2);
        assert!(Filter::parse(&["port".to_string()]).is_err());
        assert!(Filter::parse(&["frobs".to_string()]).is_err());
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(3_723_000_042), "01:02:03.000042");
    }
}
