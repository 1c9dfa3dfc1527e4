//! `fw`: a router's packet policy from its command line.
//!
//! ```text
//! fw -L                                  rules with hit counts, NAT, drops
//! fw -A IFACE acl-in|acl-out RULE...     add an ACL rule (NUMBER allow|deny MATCH)
//! fw -D IFACE acl-in|acl-out NUMBER      delete one
//! fw -A IFACE sg-in|sg-out RULE...       add a security-group rule (allow MATCH)
//! ```
//!
//! (`conntrack` is in its own module.)
//!
//! IFACE is the interface's address (`10.0.1.1`) or name (`eth0`). ACLs and
//! security groups are edited where the scenario declared one; a host with
//! no packet policy says so and exits 1.

use std::time::Duration;

use tcplab_host::{Host, Output};
use tcplab_netfilter::{AclRule, Netfilter, SgRule};

use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FwArgs {
    List,
    Add {
        iface: String,
        list: String,
        rule: String,
    },
    Delete {
        iface: String,
        list: String,
        number: u16,
    },
}

const FW_HELP: &str = "usage: fw -L
       fw -A IFACE acl-in|acl-out|sg-in|sg-out RULE...
       fw -D IFACE acl-in|acl-out NUMBER

On a router: list its ACLs and security groups with packet and byte counts
per rule, its NAT and port forwards, and its drop counters (-L); add a rule
(-A) or delete an ACL rule by number (-D). IFACE is the router's address on
the interface, or ethN. Rules: [N allow|deny] PROTO [from CIDR] [to CIDR]
[sport P[-Q]] [port P[-Q]] [type T [code C]].";

const FW_USAGE: &str = "usage: fw -L | fw -A IFACE acl-in|acl-out|sg-in|sg-out RULE... | fw -D IFACE acl-in|acl-out NUMBER";

impl FwArgs {
    pub fn parse(args: &[String]) -> Result<FwArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("fw", FW_HELP.into(), true, 0));
        }
        let bad = |m: &str| Usage::with_usage("fw", m.to_string(), FW_USAGE);
        match args.first().map(String::as_str) {
            Some("-L") if args.len() == 1 => Ok(FwArgs::List),
            // iptables' listing options (-v, -n, -x, a chain) are not
            // needed here: every count and address is always shown.
            Some("-L") => Err(bad(&format!(
                "-L takes nothing more (`{}` is not supported; counts and addresses are always shown)",
                args[1]
            ))),
            Some(op @ ("-A" | "-D")) => {
                let [_, iface, list, rest @ ..] = args else {
                    return Err(bad("missing interface, list or rule"));
                };
                if !matches!(list.as_str(), "acl-in" | "acl-out" | "sg-in" | "sg-out") {
                    return Err(bad(&format!(
                        "`{list}` is not acl-in, acl-out, sg-in or sg-out"
                    )));
                }
                let rule = rest.join(" ");
                if op == "-A" {
                    // Check the rule now, so a scenario with a bad one fails
                    // to load.
                    if list.starts_with("acl") {
                        AclRule::parse(&rule).map_err(|e| Usage::new("fw", e))?;
                    } else {
                        SgRule::parse(&rule).map_err(|e| Usage::new("fw", e))?;
                    }
                    Ok(FwArgs::Add {
                        iface: iface.clone(),
                        list: list.clone(),
                        rule,
                    })
                } else {
                    if list.starts_with("sg") {
                        return Err(bad("security-group rules have no numbers to delete by"));
                    }
                    let number = rule
                        .parse()
                        .map_err(|_| bad(&format!("`{rule}` is not a rule number")))?;
                    Ok(FwArgs::Delete {
                        iface: iface.clone(),
                        list: list.clone(),
                        number,
                    })
                }
            }
            Some(other) if other.starts_with('-') => Err(bad(&format!(
                "option `{other}` is not supported (-L, -A or -D)"
            ))),
            _ => Err(bad("what to do? (-L, -A or -D)")),
        }
    }
}

/// The stack index of an interface named by address or `ethN`.
fn iface_index(host: &Host, name: &str) -> Option<usize> {
    host.with_stack(|s| {
        s.interfaces()
            .iter()
            .position(|i| i.name == name || i.addrs.iter().any(|a| a.address().to_string() == name))
    })
}

pub(crate) fn no_filter(err: &mut Output, tool: &str) -> i32 {
    err.line(format!(
        "{tool}: no packet filter on this host (a router gets one from [router.nat], [[router.acl]] or [[router.firewall]])"
    ));
    1
}

fn edit(nf: &mut Netfilter, idx: usize, a: &FwArgs) -> Result<(), String> {
    match a {
        FwArgs::List => Ok(()),
        FwArgs::Add { list, rule, .. } if list.starts_with("acl") => {
            let acl = nf
                .acls
                .get_mut(&idx)
                .ok_or("no ACL on this interface (declare one with [[router.acl]])")?;
            let r = AclRule::parse(rule)?;
            if list == "acl-in" {
                acl.inbound.add(r)
            } else {
                acl.outbound.add(r)
            }
        }
        FwArgs::Add { list, rule, .. } => {
            let sg = nf
                .groups
                .get_mut(&idx)
                .ok_or("no firewall on this interface (declare one with [[router.firewall]])")?;
            let r = SgRule::parse(rule)?;
            let rules = if list == "sg-in" {
                &mut sg.inbound
            } else {
                &mut sg.outbound
            };
            // Each permission once, as a security group holds it.
            if rules.iter().any(|x| x.matches == r.matches) {
                return Err(format!("the rule is already in {list}"));
            }
            rules.push(r);
            Ok(())
        }
        FwArgs::Delete { list, number, .. } => {
            let acl = nf.acls.get_mut(&idx).ok_or("no ACL on this interface")?;
            if list == "acl-in" {
                acl.inbound.remove(*number)
            } else {
                acl.outbound.remove(*number)
            }
        }
    }
}

pub async fn run_fw(host: Host, a: FwArgs, mut out: Output, mut err: Output) -> i32 {
    if let FwArgs::List = a {
        let now = Duration::from_micros(host.now().total_micros());
        return match host.with_netfilter(|nf| {
            nf.expire(now);
            nf.list_rules()
        }) {
            Some(lines) => {
                for l in lines {
                    out.line(l);
                }
                0
            }
            None => no_filter(&mut err, "fw"),
        };
    }
    let name = match &a {
        FwArgs::Add { iface, .. } | FwArgs::Delete { iface, .. } => iface.clone(),
        FwArgs::List => String::new(),
    };
    let Some(idx) = iface_index(&host, &name) else {
        err.line(format!("fw: {name}: no such interface"));
        return 1;
    };
    match host.with_netfilter(|nf| edit(nf, idx, &a)) {
        None => no_filter(&mut err, "fw"),
        Some(Ok(())) => 0,
        Some(Err(e)) => {
            err.line(format!("fw: {name}: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        crate::args::split(s).unwrap()
    }

    #[test]
    fn parse() {
        assert_eq!(FwArgs::parse(&v("-L")).unwrap(), FwArgs::List);
        assert_eq!(
            FwArgs::parse(&v("-A 10.0.1.1 acl-out 100 allow tcp port 1024-65535")).unwrap(),
            FwArgs::Add {
                iface: "10.0.1.1".into(),
                list: "acl-out".into(),
                rule: "100 allow tcp port 1024-65535".into()
            }
        );
        assert!(FwArgs::parse(&v("-A eth0 acl-in 100 permit all")).is_err());
        assert!(FwArgs::parse(&v("-A eth0 chains 100 allow all")).is_err());
        assert!(FwArgs::parse(&v("-D eth0 sg-in 1")).is_err());
        assert!(FwArgs::parse(&v("-X"))
            .unwrap_err()
            .message
            .contains("option `-X` is not supported"));
        assert!(FwArgs::parse(&v("-L -v"))
            .unwrap_err()
            .message
            .starts_with("-L takes nothing more (`-v` is not supported"));
    }
}
