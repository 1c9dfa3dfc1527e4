//! What a rule matches, and how rules are written.
//!
//! ```text
//! PROTO [from CIDR] [to CIDR] [sport P[-Q]] [port P[-Q]] [type T [code C]]
//! ```
//!
//! PROTO is `tcp`, `udp`, `icmp`, `all` (or `any`, or `-1` as AWS writes
//! it) or a protocol number. Ports are for TCP and UDP only (`port` is the
//! destination port); `type` and `code` for ICMP. A later fragment has no
//! ports, so a rule with ports never matches one.

use std::fmt;
use std::net::Ipv4Addr;

use tcplab_wire::Cidr;

use crate::packet::{Info, ICMP, TCP, UDP};

/// An inclusive port range; `0-65535` matches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange { lo: 0, hi: 65535 };

    pub fn is_any(&self) -> bool {
        *self == PortRange::ANY
    }

    pub fn contains(&self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// The match part of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// `None`: every protocol.
    pub proto: Option<u8>,
    pub src: Cidr,
    pub dst: Cidr,
    pub sport: PortRange,
    pub dport: PortRange,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
}

const ANYWHERE: Cidr = match Cidr::new(Ipv4Addr::UNSPECIFIED, 0) {
    Some(c) => c,
    None => panic!("a valid prefix"),
};

impl Match {
    /// Everything.
    pub fn all() -> Match {
        Match {
            proto: None,
            src: ANYWHERE,
            dst: ANYWHERE,
            sport: PortRange::ANY,
            dport: PortRange::ANY,
            icmp_type: None,
            icmp_code: None,
        }
    }

    pub fn matches(&self, p: &Info) -> bool {
        if let Some(proto) = self.proto {
            if proto != p.proto {
                return false;
            }
        }
        if !self.src.contains(p.src) || !self.dst.contains(p.dst) {
            return false;
        }
        let ports = !self.sport.is_any() || !self.dport.is_any();
        if ports {
            if !p.has_ports || !matches!(p.proto, TCP | UDP) {
                return false;
            }
            if !self.sport.contains(p.sport) || !self.dport.contains(p.dport) {
                return false;
            }
        }
        if self.icmp_type.is_some() || self.icmp_code.is_some() {
            let Some((t, c)) = p.icmp else { return false };
            if self.icmp_type.is_some_and(|x| x != t) || self.icmp_code.is_some_and(|x| x != c) {
                return false;
            }
        }
        true
    }

    /// Parse the words of a match (after any rule number and action).
    pub fn parse(words: &[&str]) -> Result<Match, String> {
        let mut m = Match::all();
        let Some((first, rest)) = words.split_first() else {
            return Err("a rule needs a protocol (tcp, udp, icmp, all or a number)".into());
        };
        m.proto = match first.to_ascii_lowercase().as_str() {
            "tcp" => Some(TCP),
            "udp" => Some(UDP),
            "icmp" => Some(ICMP),
            "all" | "any" | "-1" => None,
            n => Some(n.parse::<u8>().map_err(|_| {
                format!("`{first}` is not a protocol (tcp, udp, icmp, all or a number 0-255)")
            })?),
        };
        let mut i = 0;
        let mut seen: Vec<&str> = Vec::new();
        while i < rest.len() {
            let key = rest[i];
            let val = rest
                .get(i + 1)
                .ok_or_else(|| format!("`{key}` needs a value"))?;
            // One of each: a second would silently replace the first.
            let canonical = if key == "dport" { "port" } else { key };
            if seen.contains(&canonical) {
                return Err(format!(
                    "`{key}` is given twice (write a range, or two rules)"
                ));
            }
            seen.push(canonical);
            match key {
                "from" => m.src = cidr(val)?,
                "to" => m.dst = cidr(val)?,
                "port" | "dport" => m.dport = ports(val)?,
                "sport" => m.sport = ports(val)?,
                "type" => {
                    m.icmp_type = Some(
                        val.parse()
                            .map_err(|_| format!("`{val}` is not an ICMP type"))?,
                    )
                }
                "code" => {
                    m.icmp_code = Some(
                        val.parse()
                            .map_err(|_| format!("`{val}` is not an ICMP code"))?,
                    )
                }
                other => {
                    return Err(format!(
                        "unknown word `{other}` (expected from, to, port, sport, type or code)"
                    ))
                }
            }
            i += 2;
        }
        if (!m.sport.is_any() || !m.dport.is_any()) && !matches!(m.proto, Some(TCP | UDP)) {
            return Err("ports apply to tcp and udp only".into());
        }
        if (m.icmp_type.is_some() || m.icmp_code.is_some()) && m.proto != Some(ICMP) {
            return Err("type and code apply to icmp only".into());
        }
        // A code means something only within its type (iptables'
        // --icmp-type TYPE/CODE, nftables' icmp code after a type).
        if m.icmp_code.is_some() && m.icmp_type.is_none() {
            return Err("`code` needs a `type` (a code is numbered within its type)".into());
        }
        Ok(m)
    }
}

fn cidr(s: &str) -> Result<Cidr, String> {
    let c: Cidr = if s.contains('/') {
        s.parse().map_err(|e| format!("`{s}`: {e}"))?
    } else {
        Cidr::host(
            s.parse::<Ipv4Addr>()
                .map_err(|_| format!("`{s}` is not an address or prefix"))?,
        )
    };
    Ok(c.network())
}

fn ports(s: &str) -> Result<PortRange, String> {
    let bad = || format!("`{s}` is not a port or a range like 1024-65535");
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => {
            let p = s.parse().map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(bad());
    }
    Ok(PortRange { lo, hi })
}

fn proto_name(p: Option<u8>) -> String {
    match p {
        None => "all".into(),
        Some(TCP) => "tcp".into(),
        Some(UDP) => "udp".into(),
        Some(ICMP) => "icmp".into(),
        Some(n) => n.to_string(),
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&proto_name(self.proto))?;
        if self.src.prefix_len() != 0 {
            write!(f, " from {}", self.src)?;
        }
        if self.dst.prefix_len() != 0 {
            write!(f, " to {}", self.dst)?;
        }
        if !self.sport.is_any() {
            write!(f, " sport {}", self.sport)?;
        }
        if !self.dport.is_any() {
            write!(f, " port {}", self.dport)?;
        }
        if let Some(t) = self.icmp_type {
            write!(f, " type {t}")?;
        }
        if let Some(c) = self.icmp_code {
            write!(f, " code {c}")?;
        }
        Ok(())
    }
}

impl Match {
    /// The columns `fw -L` shows: protocol, source, destination, ports.
    pub fn columns(&self) -> [String; 4] {
        let mut ports = String::new();
        if !self.sport.is_any() {
            ports.push_str(&format!("sport {}", self.sport));
        }
        if !self.dport.is_any() {
            // After a source port, the destination's is named too.
            if !ports.is_empty() {
                ports.push_str(" port ");
            }
            ports.push_str(&self.dport.to_string());
        }
        if let Some(t) = self.icmp_type {
            ports.push_str(&format!("type {t}"));
            if let Some(c) = self.icmp_code {
                ports.push_str(&format!(" code {c}"));
            }
        }
        [
            proto_name(self.proto),
            self.src.to_string(),
            self.dst.to_string(),
            ports,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(proto: u8, sport: u16, dport: u16) -> Info {
        Info {
            src: Ipv4Addr::new(10, 0, 1, 2),
            dst: Ipv4Addr::new(10, 0, 2, 2),
            proto,
            sport,
            dport,
            icmp: None,
            tcp_flags: 0,
            len: 40,
            ihl: 20,
            later_fragment: false,
            has_ports: true,
        }
    }

    #[test]
    fn parse_and_match() {
        let m = Match::parse(&["tcp", "from", "10.0.1.0/24", "port", "1024-65535"]).unwrap();
        assert!(m.matches(&info(TCP, 80, 40000)));
        assert!(!m.matches(&info(TCP, 80, 80)));
        assert!(!m.matches(&info(UDP, 80, 40000)));
        assert_eq!(m.to_string(), "tcp from 10.0.1.0/24 port 1024-65535");
        let all = Match::parse(&["all"]).unwrap();
        assert!(all.matches(&info(47, 0, 0)));
        let mut frag = info(TCP, 0, 0);
        frag.has_ports = false;
        assert!(!m.matches(&frag), "a later fragment has no ports to match");
        assert!(all.matches(&frag));
    }

    #[test]
    fn mistakes() {
        assert!(Match::parse(&[]).is_err());
        assert!(Match::parse(&["tcpx"])
            .unwrap_err()
            .contains("not a protocol"));
        assert!(Match::parse(&["icmp", "port", "80"])
            .unwrap_err()
            .contains("tcp and udp only"));
        assert!(Match::parse(&["tcp", "port", "9-2"]).is_err());
        assert_eq!(
            Match::parse(&["icmp", "code", "3"]).unwrap_err(),
            "`code` needs a `type` (a code is numbered within its type)"
        );
        assert!(Match::parse(&["icmp", "type", "3", "code", "4"]).is_ok());
        assert!(Match::parse(&["tcp", "from"])
            .unwrap_err()
            .contains("needs a value"));
        assert!(Match::parse(&["tcp", "via", "x"])
            .unwrap_err()
            .contains("unknown word"));
        assert_eq!(
            Match::parse(&["tcp", "port", "80", "port", "81"]).unwrap_err(),
            "`port` is given twice (write a range, or two rules)"
        );
        assert!(Match::parse(&["tcp", "dport", "80", "port", "81"]).is_err());
        assert!(Match::parse(&["tcp", "from", "10.0.0.1", "from", "10.0.0.2"]).is_err());
        assert!(Match::parse(&["tcp", "sport", "80", "port", "81"]).is_ok());
        assert!(Match::parse(&["udp", "type", "8"]).is_err());
    }
}
