//! A stateless ACL with the semantics of a cloud network ACL: separate
//! inbound and outbound lists of numbered rules, evaluated lowest number
//! first, the first match deciding; every list ends with an implicit `*`
//! rule that denies. Being stateless, an ACL judges each datagram alone:
//! the replies of a connection need a rule of their own (the ephemeral
//! ports of the other direction).
//!
//! Rules are written `NUMBER allow|deny MATCH` (see [`Match`]), e.g.
//! `100 allow tcp from 0.0.0.0/0 port 80`. Numbers run from 1 to 32766.

use crate::packet::Info;
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

/// One direction's rules, kept in number order, and the `*` rule's count.
///
/// Evaluation is first match by number, but not a scan of every rule: the
/// list keeps, for each possible first octet of a source address, the
/// rules whose source prefix can contain such an address (in number
/// order), so a datagram is compared only with rules that could match it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclList {
    rules: Vec<AclRule>,
    /// Rule positions by the first octet of the source address.
    by_octet: Vec<Vec<u32>>,
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
        match self.rules.binary_search_by_key(&rule.number, |r| r.number) {
            Ok(_) => Err(format!("rule {} already exists", rule.number)),
            Err(at) => {
                self.rules.insert(at, rule);
                self.reindex();
                Ok(())
            }
        }
    }

    /// Remove rule `number`.
    pub fn remove(&mut self, number: u16) -> Result<(), String> {
        match self.rules.binary_search_by_key(&number, |r| r.number) {
            Ok(at) => {
                self.rules.remove(at);
                self.reindex();
                Ok(())
            }
            Err(_) => Err(format!("there is no rule {number}")),
        }
    }

    fn reindex(&mut self) {
        self.by_octet = vec![Vec::new(); 256];
        for (i, r) in self.rules.iter().enumerate() {
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
        if let Some(candidates) = self.by_octet.get(usize::from(p.src.octets()[0])) {
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
