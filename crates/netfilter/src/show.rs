//! Listings: `fw -L` (rules with hit counts) and `conntrack -L` (tracked
//! flows with state and timeout, in conntrack-tools' format).

use std::fmt::Write as _;
use std::time::Duration;

use crate::acl::{AclList, Action};
use crate::conntrack::Entry;
use crate::firewall::SgRule;
use crate::packet::{GRE, ICMP, TCP, UDP};
use crate::Netfilter;

fn acl_table(out: &mut Vec<String>, title: &str, list: &AclList) {
    out.push(title.to_string());
    out.push(format!(
        "{:>6}  {:<6} {:<5} {:<18} {:<18} {:<20} {:>8} {:>10}",
        "rule", "action", "proto", "source", "destination", "ports", "packets", "bytes"
    ));
    for r in list.rules() {
        let [proto, src, dst, ports] = r.matches.columns();
        out.push(format!(
            "{:>6}  {:<6} {:<5} {:<18} {:<18} {:<20} {:>8} {:>10}",
            r.number,
            if r.action == Action::Allow {
                "allow"
            } else {
                "deny"
            },
            proto,
            src,
            dst,
            ports,
            r.packets,
            r.bytes
        ));
    }
    out.push(format!(
        "{:>6}  {:<6} {:<5} {:<18} {:<18} {:<20} {:>8} {:>10}",
        "*", "deny", "all", "0.0.0.0/0", "0.0.0.0/0", "", list.default_packets, list.default_bytes
    ));
}

fn sg_table(out: &mut Vec<String>, title: &str, rules: &[SgRule]) {
    out.push(title.to_string());
    out.push(format!(
        "  {:<6} {:<5} {:<18} {:<18} {:<20} {:>8} {:>10}",
        "action", "proto", "source", "destination", "ports", "packets", "bytes"
    ));
    for r in rules {
        let [proto, src, dst, ports] = r.matches.columns();
        out.push(format!(
            "  {:<6} {:<5} {:<18} {:<18} {:<20} {:>8} {:>10}",
            "allow", proto, src, dst, ports, r.packets, r.bytes
        ));
    }
}

impl Netfilter {
    fn iface(&self, i: usize) -> String {
        self.iface_names
            .get(&i)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    }

    /// What `fw -L` prints.
    pub fn list_rules(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, acl) in &self.acls {
            let name = self.iface(*i);
            acl_table(
                &mut out,
                &format!("ACL on {name}, inbound (into the subnet):"),
                &acl.inbound,
            );
            acl_table(
                &mut out,
                &format!("ACL on {name}, outbound (out of the subnet):"),
                &acl.outbound,
            );
        }
        for (i, sg) in &self.groups {
            let name = self.iface(*i);
            let how = if sg.reject { "rejected" } else { "dropped" };
            sg_table(
                &mut out,
                &format!("Security group on {name}, inbound (new flows into the subnet; the rest {how}):"),
                &sg.inbound,
            );
            sg_table(
                &mut out,
                &format!("Security group on {name}, outbound (new flows out of the subnet):"),
                &sg.outbound,
            );
            out.push(format!(
                "  refused: {} inbound, {} outbound new flows; {} invalid packets; replies and related errors pass by state",
                sg.refused[0], sg.refused[1], sg.invalid
            ));
        }
        if let Some(nat) = &self.nat {
            let c = &nat.config;
            let mut line = format!(
                "NAT: masquerade out of {} as {}, {} filtering",
                self.iface(c.outside),
                c.external,
                c.filtering
            );
            if !c.inside.is_empty() {
                let list: Vec<String> = c.inside.iter().map(|x| x.to_string()).collect();
                let _ = write!(line, ", for {}", list.join(" "));
            }
            out.push(line);
            for f in &c.forwards {
                out.push(format!(
                    "  forward {} {}:{} -> {}  new flows {}",
                    proto_name(f.proto),
                    c.external,
                    f.port,
                    f.to,
                    f.attempts
                ));
            }
            out.push(format!(
                "  {} mappings in use, {} allocations failed",
                nat.mappings().count(),
                nat.exhausted
            ));
        }
        let c = &self.counters;
        out.push(format!(
            "dropped: {} by ACLs, {} by security groups ({} rejected), {} by NAT, {} with the flow table full; {} packets translated",
            c.acl_dropped, c.sg_dropped, c.sg_rejected, c.nat_dropped, c.table_full, c.translated
        ));
        out
    }

    /// What `conntrack -L` prints: the flows, then the count line (for
    /// standard error).
    pub fn list_flows(&self, now: Duration, proto: Option<u8>) -> (Vec<String>, String) {
        let lines = self.flow_lines(now, |e| proto.is_none_or(|p| p == e.orig.proto));
        let n = lines.len();
        (
            lines,
            format!("conntrack v1.4.7 (conntrack-tools): {n} flow entries have been shown."),
        )
    }

    /// The live flows `keep` chooses, each as `conntrack -L` prints it.
    pub fn flow_lines(&self, now: Duration, keep: impl Fn(&Entry) -> bool) -> Vec<String> {
        self.conntrack
            .entries()
            // Expired flows not yet collected are gone (no lookup finds
            // them).
            .filter(|e| e.confirmed && e.expires > now && keep(e))
            .map(|e| flow_line(e, now))
            .collect()
    }

    /// `conntrack -D`: forget the live flows `keep` chooses (giving back
    /// the mappings they hold); their lines as they were.
    pub fn delete_flows(&mut self, now: Duration, keep: impl Fn(&Entry) -> bool) -> Vec<String> {
        let chosen: Vec<(u64, String)> = self
            .conntrack
            .entries()
            .filter(|e| e.confirmed && e.expires > now && keep(e))
            .map(|e| (e.id, flow_line(e, now)))
            .collect();
        chosen
            .into_iter()
            .map(|(id, line)| {
                self.forget(id);
                line
            })
            .collect()
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        TCP => "tcp",
        UDP => "udp",
        ICMP => "icmp",
        GRE => "gre",
        _ => "unknown",
    }
}

pub(crate) fn flow_line(e: &Entry, now: Duration) -> String {
    let left = e.expires.saturating_sub(now).as_secs();
    let mut s = format!("{:<8} {} {}", proto_name(e.orig.proto), e.orig.proto, left);
    if let Some(t) = e.tcp {
        let _ = write!(s, " {t}");
    }
    let tuple = |t: &crate::Tuple, reply: bool| -> String {
        match t.proto {
            TCP | UDP => format!(
                "src={} dst={} sport={} dport={}",
                t.src, t.dst, t.sport, t.dport
            ),
            ICMP => format!(
                "src={} dst={} type={} code=0 id={}",
                t.src,
                t.dst,
                if reply { 0 } else { 8 },
                t.sport
            ),
            // Linux's GRE tracker keys a flow by PPTP's call IDs; any
            // other GRE has keys 0.
            GRE => format!("src={} dst={} srckey=0x0 dstkey=0x0", t.src, t.dst),
            _ => format!("src={} dst={}", t.src, t.dst),
        }
    };
    let _ = write!(s, " {}", tuple(&e.orig, false));
    if !e.seen_reply {
        s.push_str(" [UNREPLIED]");
    }
    let _ = write!(s, " {}", tuple(&e.reply, true));
    if e.assured {
        s.push_str(" [ASSURED]");
    }
    s.push_str(" mark=0 use=1");
    s
}
