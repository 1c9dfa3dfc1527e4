//! A router's packet policy: built from its declaration, and sampled for
//! the recording (its rules' counts, tracked flows, NAT mappings).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use tcplab_stack::Instant;

use crate::record;
use crate::scenario::FilterSpec;

/// A router's packet policy from its declaration. `ifaces` are the
/// router's interfaces as (stack interface index, display name, address),
/// in the order the declaration numbers them.
pub fn netfilter_for(
    ifaces: &[(usize, String, Ipv4Addr)],
    f: &FilterSpec,
    seed: u64,
) -> tcplab_netfilter::Netfilter {
    let local: Vec<_> = ifaces.iter().map(|(_, _, a)| *a).collect();
    let mut nf = tcplab_netfilter::Netfilter::new(local, f.conntrack_max, seed ^ 0x6e66);
    nf.conntrack.tcp_loose = f.tcp_loose;
    nf.conntrack.timeouts = f.timeouts;
    for (id, name, _) in ifaces {
        nf.iface_names.insert(*id, name.clone());
    }
    for (i, acl) in &f.acls {
        nf.acls.insert(ifaces[*i].0, acl.clone());
    }
    for (i, sg) in &f.groups {
        nf.groups.insert(ifaces[*i].0, sg.clone());
    }
    if let Some(n) = &f.nat {
        nf.nat = Some(tcplab_netfilter::Nat::new(
            tcplab_netfilter::NatConfig {
                outside: ifaces[n.outside].0,
                external: ifaces[n.outside].2,
                inside: n.inside.clone(),
                forwards: n.forwards.clone(),
                filtering: n.filtering,
            },
            seed,
        ));
    }
    nf
}

/// A router's rules with their counts, and the state of its policy now
/// (its `hits` left for the caller to fill).
pub(crate) fn policy_sample(
    nf: &tcplab_netfilter::Netfilter,
    time: Instant,
    node: usize,
) -> (Vec<(String, u64)>, record::PolicySample) {
    let mut rules = Vec::new();
    let iface = |i: &usize| {
        nf.iface_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    };
    for (i, acl) in &nf.acls {
        for (dir, list) in [("in", &acl.inbound), ("out", &acl.outbound)] {
            for r in list.rules() {
                let action = match r.action {
                    tcplab_netfilter::Action::Allow => "allow",
                    tcplab_netfilter::Action::Deny => "deny",
                };
                rules.push((
                    format!("ACL {} {dir} {} {action} {}", iface(i), r.number, r.matches),
                    r.packets,
                ));
            }
            rules.push((
                format!("ACL {} {dir} * deny (the final rule)", iface(i)),
                list.default_packets,
            ));
        }
    }
    for (i, sg) in &nf.groups {
        for (dir, list) in [("in", &sg.inbound), ("out", &sg.outbound)] {
            for r in list {
                rules.push((
                    format!("firewall {} {dir} allow {}", iface(i), r.matches),
                    r.packets,
                ));
            }
        }
    }
    let mut flows: BTreeMap<String, usize> = BTreeMap::new();
    for e in nf.conntrack.entries() {
        let state = match e.tcp {
            Some(t) => t.to_string(),
            None if e.seen_reply => "REPLIED".to_string(),
            None => "UNREPLIED".to_string(),
        };
        *flows.entry(state).or_default() += 1;
    }
    let mappings = nf
        .nat
        .as_ref()
        .map(|n| {
            n.mappings()
                .map(|((proto, addr, port), m)| {
                    let proto = match proto {
                        6 => "tcp",
                        17 => "udp",
                        _ => "icmp",
                    };
                    format!("{proto} {addr}:{port} -> :{}", m.external_port)
                })
                .collect()
        })
        .unwrap_or_default();
    let c = &nf.counters;
    (
        rules,
        record::PolicySample {
            time,
            node,
            hits: Vec::new(),
            flows: flows.into_iter().collect(),
            mappings,
            dropped: [c.acl_dropped, c.sg_dropped, c.nat_dropped],
            translated: c.translated,
            rejected: c.sg_rejected,
        },
    )
}
