//! A stateful firewall with the semantics of a cloud security group:
//! allow rules only, one list per direction, on a router interface. A new
//! flow passes if a rule of its direction allows it; everything after
//! that — the flow's replies, and ICMP errors about it — passes because
//! connection tracking knows the flow. Unsolicited traffic and INVALID
//! packets are dropped, or rejected (TCP reset, ICMP port unreachable)
//! when the firewall is set to reject.
//!
//! Rules are written `allow MATCH` (see [`Match`]); the word `allow` may be
//! left out.

use crate::conntrack::CtState;
use crate::packet::Info;
use crate::rule::Match;

/// One allow rule and its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgRule {
    pub matches: Match,
    pub packets: u64,
    pub bytes: u64,
}

impl SgRule {
    pub fn parse(text: &str) -> Result<SgRule, String> {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        // A number first, as an ACL's sequence number: but rules of a
        // security group are not ordered (any match allows).
        if words
            .first()
            .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
            && words
                .get(1)
                .is_some_and(|w| matches!(w.to_ascii_lowercase().as_str(), "allow" | "deny"))
        {
            return Err(format!(
                "security group rules have no numbers (any rule that matches allows): drop `{}`",
                words[0]
            ));
        }
        match words.first().map(|w| w.to_ascii_lowercase()) {
            Some(w) if w == "allow" => {
                words.remove(0);
            }
            Some(w) if w == "deny" => {
                return Err(
                    "a security group has allow rules only (whatever is not allowed is denied)"
                        .into(),
                )
            }
            _ => {}
        }
        Ok(SgRule {
            matches: Match::parse(&words)?,
            packets: 0,
            bytes: 0,
        })
    }
}

/// What the firewall decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgVerdict {
    Accept,
    Drop,
    Reject,
}

/// The rules on one interface. *Inbound* flows enter the subnet behind
/// the interface; *outbound* flows leave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroup {
    pub inbound: Vec<SgRule>,
    pub outbound: Vec<SgRule>,
    /// Reject instead of dropping.
    pub reject: bool,
    /// Packets refused, per direction (inbound, outbound), and INVALID ones.
    pub refused: [u64; 2],
    pub invalid: u64,
}

impl SecurityGroup {
    pub fn parse(
        inbound: &[&str],
        outbound: &[&str],
        reject: bool,
    ) -> Result<SecurityGroup, (bool, usize, String)> {
        let parse = |lines: &[&str], dir: bool| -> Result<Vec<SgRule>, (bool, usize, String)> {
            let mut rules: Vec<SgRule> = Vec::with_capacity(lines.len());
            for (i, l) in lines.iter().enumerate() {
                let r = SgRule::parse(l).map_err(|e| (dir, i, e))?;
                // A security group holds each permission once (AWS
                // refuses a duplicate: InvalidPermission.Duplicate).
                if rules.iter().any(|x| x.matches == r.matches) {
                    return Err((dir, i, "this rule is already in the list".into()));
                }
                rules.push(r);
            }
            Ok(rules)
        };
        Ok(SecurityGroup {
            inbound: parse(inbound, true)?,
            outbound: parse(outbound, false)?,
            reject,
            refused: [0; 2],
            invalid: 0,
        })
    }

    /// Judge a packet crossing the interface (`inbound`: into the subnet)
    /// in tracking state `state`.
    pub fn check(&mut self, p: &Info, state: CtState, inbound: bool) -> SgVerdict {
        match state {
            CtState::Established | CtState::Related => SgVerdict::Accept,
            CtState::Invalid => {
                self.invalid += 1;
                SgVerdict::Drop
            }
            CtState::New => {
                let rules = if inbound {
                    &mut self.inbound
                } else {
                    &mut self.outbound
                };
                if let Some(r) = rules.iter_mut().find(|r| r.matches.matches(p)) {
                    r.packets += 1;
                    r.bytes += p.len as u64;
                    return SgVerdict::Accept;
                }
                self.refused[usize::from(!inbound)] += 1;
                if self.reject {
                    SgVerdict::Reject
                } else {
                    SgVerdict::Drop
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::TCP;
    use std::net::Ipv4Addr;

    fn syn(dport: u16) -> Info {
        Info {
            src: Ipv4Addr::new(10, 0, 2, 2),
            dst: Ipv4Addr::new(10, 0, 1, 2),
            proto: TCP,
            sport: 45000,
            dport,
            icmp: None,
            tcp_flags: 2,
            len: 60,
            ihl: 20,
            later_fragment: false,
            has_ports: true,
        }
    }

    #[test]
    fn numbered_rules_are_refused_with_the_reason() {
        let e = SgRule::parse("100 allow all").unwrap_err();
        assert!(e.contains("have no numbers") && e.contains("`100`"), "{e}");
        assert!(SgRule::parse("allow tcp port 22").is_ok());
    }

    #[test]
    fn allow_rules_and_state() {
        let mut sg = SecurityGroup::parse(&["allow tcp port 80"], &["all"], false).unwrap();
        assert_eq!(sg.check(&syn(80), CtState::New, true), SgVerdict::Accept);
        assert_eq!(sg.check(&syn(22), CtState::New, true), SgVerdict::Drop);
        assert_eq!(
            sg.check(&syn(22), CtState::Established, true),
            SgVerdict::Accept
        );
        assert_eq!(sg.check(&syn(22), CtState::Invalid, false), SgVerdict::Drop);
        assert_eq!(sg.inbound[0].packets, 1);
        assert_eq!(sg.refused, [1, 0]);
        sg.reject = true;
        assert_eq!(sg.check(&syn(23), CtState::New, true), SgVerdict::Reject);
        assert!(SgRule::parse("deny tcp port 22")
            .unwrap_err()
            .contains("allow rules only"));
    }

    /// Each permission once: a rule written twice (even in other words)
    /// is refused at the second, as AWS refuses a duplicate.
    #[test]
    fn a_duplicate_rule_is_refused() {
        let e = SecurityGroup::parse(&["allow icmp"], &["all", "allow all"], false).unwrap_err();
        assert_eq!(
            e,
            (false, 1, "this rule is already in the list".to_string())
        );
    }
}
