//! A stateless ACL with the semantics of a cloud network ACL: separate
//! inbound and outbound lists of numbered rules, evaluated lowest number
//! first, the first match deciding; every list ends with an implicit `*`
//! rule that denies. Being stateless, an ACL judges each datagram alone:
//! the replies of a connection need a rule of their own (the ephemeral
//! ports of the other direction).
//!
//! Rules are written `NUMBER allow|deny MATCH` (see [`Match`]), e.g.
//! `100 allow tcp from 0.0.0.0/0 port 80`. Numbers run from 1 to 32766.

use crate::packet::{Info, TCP, UDP};
use crate::rule::Match;

/// What a rule does with what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

/// One numbered rule and its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    pub number: u16,
    pub action: Action,
    pub matches: Match,
    pub packets: u64,
    pub bytes: u64,
}

impl AclRule {
    /// Read `NUMBER allow|deny MATCH`.
    pub fn parse(text: &str) -> Result<AclRule, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [num, action, rest @ ..] = &words[..] else {
            return Err(format!(
                "`{text}` is not an ACL rule (write e.g. \"100 allow tcp port 80\")"
            ));
        };
        // A rule that starts with its action has left its number out.
        if matches!(num.to_ascii_lowercase().as_str(), "allow" | "deny") {
            return Err(format!(
                "an ACL rule starts with its number, which orders it (write e.g. \"100 {text}\")"
            ));
        }
        let number: u16 = num
            .parse()
            .ok()
            .filter(|n| (1..=32766).contains(n))
            .ok_or_else(|| format!("rule number `{num}` is not between 1 and 32766"))?;
        let action = match action.to_ascii_lowercase().as_str() {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            other => return Err(format!("`{other}` is not allow or deny")),
        };
        Ok(AclRule {
            number,
            action,
            matches: Match::parse(rest)?,
            packets: 0,
            bytes: 0,
        })
    }
}

/// The most rules one list holds (a cloud ACL allows 20 to 40); bounds the
/// indexes' memory.
pub const MAX_RULES: usize = 10_000;

/// One direction's rules, kept in number order, and the `*` rule's count.
///
/// Evaluation is first match by number, but not a scan of every rule: the
/// list keeps two indexes of candidate rules, in number order — by the
/// first octet of the source address (the rules whose source prefix can
/// contain such an address) and by the high byte of the destination port
/// (the rules whose port range reaches into that block of 256 ports; one
/// more list for datagrams without ports). Each index lists every rule
/// that could match, so walking either one in order finds the same first
/// match; a datagram walks the shorter of its two lists.
#[derive(Debug, Clone, Default)]
pub struct AclList {
    rules: Vec<AclRule>,
    /// The indexes need rebuilding (rules changed since the last check):
    /// built once when next needed, so adding many rules stays linear.
    stale: bool,
    /// Rule positions by the first octet of the source address.
    by_octet: Vec<Vec<u32>>,
    /// Rule positions by destination port / 256; index 256 holds the rules
    /// that can match a datagram without ports.
    by_port: Vec<Vec<u32>>,
    /// Datagrams and bytes that reached the final `*` (deny).
    pub default_packets: u64,
    pub default_bytes: u64,
}

impl AclList {
    /// Build a list from rule texts; `* deny ...` lines are the implicit
    /// final rule and are accepted as documentation.
    pub fn parse(lines: &[&str]) -> Result<AclList, (usize, String)> {
        let mut l = AclList::default();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix('*') {
                if rest
                    .split_whitespace()
                    .next()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                    == Some("deny")
                {
                    continue;
                }
                return Err((i, "the final `*` rule always denies".into()));
            }
            let r = AclRule::parse(t).map_err(|e| (i, e))?;
            l.add(r).map_err(|e| (i, e))?;
        }
        Ok(l)
    }

    /// Add a rule; its number must be free.
    pub fn add(&mut self, rule: AclRule) -> Result<(), String> {
        if self.rules.len() >= MAX_RULES {
            return Err(format!("an ACL list holds at most {MAX_RULES} rules"));
        }
        match self.rules.binary_search_by_key(&rule.number, |r| r.number) {
            Ok(_) => Err(format!("rule {} already exists", rule.number)),
            Err(at) => {
                self.rules.insert(at, rule);
                self.stale = true;
                Ok(())
            }
        }
    }

    /// Remove rule `number`.
    pub fn remove(&mut self, number: u16) -> Result<(), String> {
        match self.rules.binary_search_by_key(&number, |r| r.number) {
            Ok(at) => {
                self.rules.remove(at);
                self.stale = true;
                Ok(())
            }
            Err(_) => Err(format!("there is no rule {number}")),
        }
    }

    fn reindex(&mut self) {
        self.by_octet = vec![Vec::new(); 256];
        self.by_port = vec![Vec::new(); 257];
        for (i, r) in self.rules.iter().enumerate() {
            let m = &r.matches;
            let (lo, hi) = (usize::from(m.dport.lo >> 8), usize::from(m.dport.hi >> 8));
            for list in &mut self.by_port[lo..=hi] {
                list.push(i as u32);
            }
            // A rule with ports never matches a datagram without them.
            if m.sport.is_any() && m.dport.is_any() {
                self.by_port[256].push(i as u32);
            }
            let src = r.matches.src;
            let first = src.address().octets()[0];
            if src.prefix_len() >= 8 {
                self.by_octet[usize::from(first)].push(i as u32);
            } else {
                // A short prefix covers a range of first octets.
                let span = 1usize << (8 - src.prefix_len());
                let lo = usize::from(first) & !(span - 1);
                for list in &mut self.by_octet[lo..lo + span] {
                    list.push(i as u32);
                }
            }
        }
    }

    pub fn rules(&self) -> &[AclRule] {
        &self.rules
    }

    /// The first matching rule decides; none matching is a deny. Counts.
    pub fn check(&mut self, p: &Info) -> bool {
        if self.stale || self.by_port.is_empty() {
            self.reindex();
            self.stale = false;
        }
        let by_src = self.by_octet.get(usize::from(p.src.octets()[0]));
        let port = if p.has_ports && matches!(p.proto, TCP | UDP) {
            usize::from(p.dport >> 8)
        } else {
            256
        };
        let by_port = self.by_port.get(port);
        let shorter = match (by_src, by_port) {
            (Some(a), Some(b)) => Some(if b.len() < a.len() { b } else { a }),
            (a, b) => a.or(b),
        };
        if let Some(candidates) = shorter {
            for &i in candidates {
                let r = &mut self.rules[i as usize];
                if r.matches.matches(p) {
                    r.packets += 1;
                    r.bytes += p.len as u64;
                    return r.action == Action::Allow;
                }
            }
        }
        self.default_packets += 1;
        self.default_bytes += p.len as u64;
        false
    }

    /// The verdict without counting (for tests and property checks).
    pub fn would_allow(&self, p: &Info) -> bool {
        self.rules
            .iter()
            .find(|r| r.matches.matches(p))
            .is_some_and(|r| r.action == Action::Allow)
    }
}

/// Equal when the rules and counters are: the indexes follow from them.
impl PartialEq for AclList {
    fn eq(&self, other: &AclList) -> bool {
        self.rules == other.rules
            && self.default_packets == other.default_packets
            && self.default_bytes == other.default_bytes
    }
}

impl Eq for AclList {}

/// The two lists of an ACL on one router interface. *Inbound* is traffic
/// entering the subnet behind the interface (leaving the router through
/// it); *outbound* is traffic leaving that subnet (arriving on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    pub inbound: AclList,
    pub outbound: AclList,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Info, TCP};
    use std::net::Ipv4Addr;

    fn tcp(dport: u16) -> Info {
        Info {
            src: Ipv4Addr::new(10, 0, 2, 2),
            dst: Ipv4Addr::new(10, 0, 1, 2),
            proto: TCP,
            sport: 45000,
            dport,
            icmp: None,
            tcp_flags: 0,
            len: 60,
            ihl: 20,
            later_fragment: false,
            has_ports: true,
        }
    }

    /// A rule without its number says so, with the rule as it should be.
    #[test]
    fn a_rule_without_its_number_is_named_so() {
        assert_eq!(
            AclRule::parse("allow tcp port 80").unwrap_err(),
            "an ACL rule starts with its number, which orders it (write e.g. \"100 allow tcp port 80\")"
        );
        assert!(AclRule::parse("0 allow tcp port 80")
            .unwrap_err()
            .starts_with("rule number `0`"));
    }

    #[test]
    fn lowest_number_first_and_implicit_deny() {
        let mut l = AclList::parse(&[
            "200 allow tcp port 0-65535",
            "100 deny tcp port 22",
            "* deny all",
        ])
        .unwrap();
        assert_eq!(l.rules()[0].number, 100, "kept in number order");
        assert!(!l.check(&tcp(22)), "rule 100 comes first");
        assert!(l.check(&tcp(80)));
        assert_eq!(l.rules()[0].packets, 1);
        assert_eq!(l.rules()[1].packets, 1);
        let mut empty = AclList::default();
        assert!(!empty.check(&tcp(80)));
        assert_eq!(empty.default_packets, 1);
    }

    #[test]
    fn datagrams_without_ports_and_the_port_index() {
        let mut l = AclList::parse(&[
            "100 deny tcp port 0-65535",
            "110 deny udp sport 53",
            "120 allow tcp port 300-600",
            "200 allow icmp",
        ])
        .unwrap();
        let icmp = Info {
            proto: crate::packet::ICMP,
            has_ports: false,
            icmp: Some((8, 0)),
            ..tcp(0)
        };
        assert!(l.check(&icmp), "port rules never match ICMP");
        assert_eq!(l.rules()[3].packets, 1);
        // A later fragment has no ports: rules with ports pass it by, and
        // `port 0-65535` is no port condition at all (rule 100 is "deny tcp").
        let fragment = Info {
            later_fragment: true,
            has_ports: false,
            ..tcp(443)
        };
        assert!(!l.check(&fragment));
        assert_eq!(l.rules()[0].packets, 1);
        let udp_fragment = Info {
            proto: crate::packet::UDP,
            ..fragment
        };
        assert!(!l.check(&udp_fragment), "rule 110 needs ports");
        assert_eq!((l.rules()[1].packets, l.default_packets), (0, 1));
        // Ports in other blocks of 256 still meet the range rules.
        assert!(!l.check(&tcp(512)), "rule 100 spans every block");
        l.remove(100).unwrap();
        assert!(l.check(&tcp(512)) && l.check(&tcp(300)) && l.check(&tcp(600)));
        assert!(!l.check(&tcp(601)) && !l.check(&tcp(299)));
        let mut big = AclList::default();
        for n in 1..=MAX_RULES as u16 {
            big.add(AclRule::parse(&format!("{n} allow all")).unwrap())
                .unwrap();
        }
        assert!(big
            .add(AclRule::parse("20000 allow all").unwrap())
            .unwrap_err()
            .contains("at most 10000 rules"));
    }

    #[test]
    fn editing_and_errors() {
        let mut l = AclList::default();
        l.add(AclRule::parse("100 allow tcp port 80").unwrap())
            .unwrap();
        assert!(l.add(AclRule::parse("100 deny all").unwrap()).is_err());
        l.remove(100).unwrap();
        assert!(l.remove(100).is_err());
        assert!(AclRule::parse("0 allow all").is_err());
        assert!(AclRule::parse("40000 allow all").is_err());
        assert!(AclRule::parse("100 permit all")
            .unwrap_err()
            .contains("allow or deny"));
        assert_eq!(AclList::parse(&["* allow all"]).unwrap_err().0, 0);
        assert_eq!(
            AclList::parse(&["100 allow all", "nonsense"])
                .unwrap_err()
                .0,
            1
        );
    }
}
