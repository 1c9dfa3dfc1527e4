//! Reading the parts of a scenario file: units, addresses, impairments,
//! TCP settings and a router's packet policy, each error with its place.

use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use tcplab_stack::tcp::{CongestionAlgorithm, TcpConfig};
use tcplab_wire::Cidr;
use toml::Spanned;

use super::raw::{RawNode, RawParams, RawRules, RawTcp};
use super::{parse_route, CommandCheck, FilterSpec, IfaceSpec, NatSpec, NodeKind, ScenarioError};
use crate::impair::{LinkParams, LossModel};
use crate::units::{parse_duration, parse_percent, parse_rate};

/// Reads one file: turns spans into line and column for errors.
pub(super) struct Loader<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) check: CommandCheck<'a>,
}

pub(super) type Res<T> = Result<T, ScenarioError>;

impl Loader<'_> {
    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let upto = &self.text[..span.start.min(self.text.len())];
        let line = upto.matches('\n').count() + 1;
        let column = upto.rfind('\n').map_or(upto.len(), |i| upto.len() - i - 1) + 1;
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The whole text as TOML of shape `T`.
    pub(super) fn parse<T: serde::de::DeserializeOwned>(&self) -> Res<T> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut message = plain(&e.message().trim().replace('\n', " "));
            if message == "number too large to fit in target type" {
                message = format!("number too large (at most {} here)", i64::MAX);
            }
            if message.is_empty() {
                // The TOML parser says nothing about a stray control
                // character (in a comment, say): name it.
                message = match self.text.get(span.start..).and_then(|t| t.chars().next()) {
                    Some(c) if c.is_control() => format!(
                        "control character U+{:04X} is not allowed in TOML here (only tab is)",
                        u32::from(c)
                    ),
                    _ => "not valid TOML here".into(),
                };
            }
            self.err(span, message)
        })
    }

    pub(super) fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ScenarioError {
        self.err(s.span(), message)
    }

    pub(super) fn duration(&self, s: &Spanned<String>) -> Res<Duration> {
        parse_duration(s.get_ref()).map_err(|m| self.at(s, m))
    }

    pub(super) fn percent(&self, s: &Spanned<String>) -> Res<f64> {
        parse_percent(s.get_ref()).map_err(|m| self.at(s, m))
    }

    pub(super) fn cidr(&self, s: &Spanned<String>) -> Res<Cidr> {
        let c: Cidr = s
            .get_ref()
            .parse()
            .map_err(|e| self.at(s, format!("{e}")))?;
        if c.prefix_len() < 31 {
            if c.address() == c.network().address() {
                return Err(self.at(
                    s,
                    format!(
                        "{c} is the network address of its subnet; a host needs a host address"
                    ),
                ));
            }
            if Some(c.address()) == c.broadcast() {
                return Err(self.at(s, format!("{c} is the broadcast address of its subnet")));
            }
        }
        // Nor loopback, "this network" (0/8, RFC 1122 §3.2.1.3),
        // multicast, or the reserved 240/4 with the limited broadcast.
        let first = c.address().octets()[0];
        if c.address().is_loopback() || first == 0 || c.address().is_multicast() || first >= 240 {
            return Err(self.at(s, format!("{} cannot be an interface address", c.address())));
        }
        Ok(c)
    }

    pub(super) fn ipv4(&self, s: &Spanned<String>) -> Res<Ipv4Addr> {
        s.get_ref()
            .parse()
            .map_err(|_| self.at(s, format!("`{}` is not an IPv4 address", s.get_ref())))
    }

    pub(super) fn loss(&self, s: &Spanned<String>) -> Res<LossModel> {
        let text = s.get_ref().trim();
        if let Some(rest) = text.strip_prefix("gemodel") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if parts.is_empty() || parts.len() > 4 {
                return Err(self.at(s, "write Gilbert–Elliott loss as \"gemodel P [R [1-H [1-K]]]\", e.g. \"gemodel 1% 10%\""));
            }
            let mut v = Vec::new();
            for p in &parts {
                v.push(parse_percent(p).map_err(|m| self.at(s, m))?);
            }
            // netem's defaults: r = 1 - p, 1-h = 100%, 1-k = 0%.
            let p = v[0];
            return Ok(LossModel::GilbertElliott {
                p,
                r: v.get(1).copied().unwrap_or(1.0 - p),
                bad_loss: v.get(2).copied().unwrap_or(1.0),
                good_loss: v.get(3).copied().unwrap_or(0.0),
            });
        }
        let p = self.percent(s)?;
        Ok(if p == 0.0 {
            LossModel::None
        } else {
            LossModel::Random(p)
        })
    }

    pub(super) fn apply(&self, base: &mut LinkParams, raw: &RawParams) -> Res<()> {
        if let Some(d) = &raw.delay {
            base.delay = self.duration(d)?;
        }
        if let Some(j) = &raw.jitter {
            base.jitter = self.duration(j)?;
        }
        if let Some(r) = &raw.rate {
            base.rate = Some(parse_rate(r.get_ref()).map_err(|m| self.at(r, m))?);
        }
        if let Some(q) = &raw.queue {
            let n = *q.get_ref();
            if !(1..=1_000_000).contains(&n) {
                return Err(self.at(q, "queue must be between 1 and 1000000 packets"));
            }
            base.queue = n as usize;
        }
        if let Some(l) = &raw.loss {
            base.loss = self.loss(l)?;
        }
        if let Some(d) = &raw.duplicate {
            base.duplicate = self.percent(d)?;
        }
        if let Some(r) = &raw.reorder {
            base.reorder = self.percent(r)?;
        }
        if let Some(c) = &raw.corrupt {
            base.corrupt = self.percent(c)?;
        }
        if let Some(d) = &raw.drop {
            let list = d.get_ref();
            if list.len() > 10_000 {
                return Err(self.at(d, "drop names at most 10000 packets"));
            }
            let mut numbers = Vec::with_capacity(list.len());
            for &n in list {
                if n < 1 {
                    return Err(self.at(d, format!("drop numbers packets from 1, not {n}")));
                }
                numbers.push(n as u64);
            }
            numbers.sort_unstable();
            numbers.dedup();
            base.drop = numbers;
        }
        Ok(())
    }

    pub(super) fn tcp(&self, raw: Option<&RawTcp>) -> Res<TcpConfig> {
        let mut c = TcpConfig::default();
        let Some(t) = raw else { return Ok(c) };
        if let Some(d) = &t.msl {
            c.msl = self.duration(d)?;
        }
        if let Some(d) = &t.rto_min {
            c.rto_min = self.duration(d)?;
        }
        if let Some(d) = &t.rto_max {
            c.rto_max = self.duration(d)?;
        }
        if let Some(d) = &t.delayed_ack {
            c.delayed_ack = self.duration(d)?;
            if c.delayed_ack > Duration::from_millis(500) {
                return Err(self.at(d, "delayed_ack must be under 500ms (RFC 9293 §3.8.6.3)"));
            }
        }
        if let Some(d) = &t.keepalive_time {
            c.keepalive_time = self.duration(d)?;
        }
        let buffer = |v: &Spanned<i64>| -> Res<usize> {
            let n = *v.get_ref();
            if !(536..=64 << 20).contains(&n) {
                return Err(self.at(v, "buffer must be between 536 bytes and 64 MiB"));
            }
            Ok(n as usize)
        };
        if let Some(b) = &t.send_buffer {
            c.send_buffer = buffer(b)?;
        }
        if let Some(b) = &t.recv_buffer {
            c.recv_buffer = buffer(b)?;
        }
        let retries = |v: &Spanned<i64>| -> Res<u32> {
            let n = *v.get_ref();
            if !(1..=100).contains(&n) {
                return Err(self.at(v, "retries must be between 1 and 100"));
            }
            Ok(n as u32)
        };
        if let Some(r) = &t.syn_retries {
            c.syn_retries = retries(r)?;
        }
        if let Some(r) = &t.data_retries {
            c.data_retries = retries(r)?;
        }
        if let Some(n) = t.nagle {
            c.nagle = n;
        }
        if let Some(w) = t.window_scaling {
            c.window_scaling = w;
        }
        if let Some(name) = &t.congestion {
            c.congestion =
                CongestionAlgorithm::from_name(name.get_ref().trim()).ok_or_else(|| {
                    self.at(
                        name,
                        format!(
                            "unknown congestion control `{}` (newreno, cubic, bbr or bbr1)",
                            name.get_ref()
                        ),
                    )
                })?;
        }
        for (switch, value) in [
            (&mut c.sack, t.sack),
            (&mut c.timestamps, t.timestamps),
            (&mut c.rack, t.rack),
            (&mut c.tlp, t.tlp),
            (&mut c.tw_reuse, t.tw_reuse),
            (&mut c.nagle_minshall, t.nagle_minshall),
            (&mut c.quickack, t.quickack),
            (&mut c.slow_start_after_idle, t.slow_start_after_idle),
            (&mut c.push_at_burst_end, t.push_at_burst_end),
        ] {
            if let Some(v) = value {
                *switch = v;
            }
        }
        if let Some(o) = t.isn_offset {
            c.isn_offset = o;
        }
        if c.rto_min > c.rto_max {
            // At whichever of the two the file gives (rto_min first).
            let message = format!(
                "rto_min ({:?}) is larger than rto_max ({:?})",
                c.rto_min, c.rto_max
            );
            return Err(match t.rto_min.as_ref().or(t.rto_max.as_ref()) {
                Some(d) => self.at(d, message),
                None => self.err(0..0, message),
            });
        }
        Ok(c)
    }

    /// The interface of a node with address `s` (given as in `addr`).
    pub(super) fn iface_by_addr(&self, s: &Spanned<String>, ifaces: &[Ipv4Addr]) -> Res<usize> {
        let text = s.get_ref().trim();
        let addr: Ipv4Addr =
            text.split('/').next().unwrap_or("").parse().map_err(|_| {
                self.at(s, format!("`{text}` is not one of this router's addresses"))
            })?;
        ifaces
            .iter()
            .position(|i| *i == addr)
            .ok_or_else(|| self.at(s, format!("{addr} is not one of this router's addresses")))
    }

    pub(super) fn filter(
        &self,
        n: &RawNode,
        kind: NodeKind,
        ifaces: &[IfaceSpec],
    ) -> Res<Option<FilterSpec>> {
        let any = n.nat.is_some() || !n.acl.is_empty() || !n.firewall.is_empty();
        if !any {
            if let Some(m) = &n.conntrack_max {
                return Err(self.at(m, "conntrack_max needs nat, acl or firewall on this router"));
            }
            if let Some(m) = &n.conntrack_tcp_loose {
                return Err(self.at(
                    m,
                    "conntrack_tcp_loose needs nat, acl or firewall on this router",
                ));
            }
            if let Some(m) = &n.conntrack_timeouts {
                return Err(self.at(
                    m,
                    "conntrack_timeouts needs nat, acl or firewall on this router",
                ));
            }
            return Ok(None);
        }
        if kind == NodeKind::Host {
            let span = n
                .nat
                .as_ref()
                .map(|x| x.span())
                .or_else(|| n.acl.first().map(|x| x.span()))
                .or_else(|| n.firewall.first().map(|x| x.span()))
                .unwrap_or(0..0);
            return Err(self.err(
                span,
                "nat, acl and firewall belong on routers ([[router]]), not hosts",
            ));
        }
        let addrs: Vec<Ipv4Addr> = ifaces.iter().map(|i| i.addr.address()).collect();
        let rules = RawRules {
            nat: n.nat.as_ref(),
            acl: &n.acl,
            firewall: &n.firewall,
            conntrack_max: n.conntrack_max.as_ref(),
            conntrack_tcp_loose: n.conntrack_tcp_loose.as_ref(),
            conntrack_timeouts: n.conntrack_timeouts.as_ref(),
        };
        self.policy(&rules, &addrs).map(Some)
    }

    /// A packet policy (NAT, ACLs, firewalls) over interfaces with addresses
    /// `ifaces`.
    pub(super) fn policy(&self, n: &RawRules<'_>, ifaces: &[Ipv4Addr]) -> Res<FilterSpec> {
        let mut spec = FilterSpec {
            acls: Vec::new(),
            groups: Vec::new(),
            nat: None,
            conntrack_max: 65_536,
            tcp_loose: n.conntrack_tcp_loose.is_none_or(|l| *l.get_ref()),
            timeouts: match n.conntrack_timeouts.map(|t| (t, t.get_ref().trim())) {
                None | Some((_, "rfc")) => tcplab_netfilter::Timeouts::default(),
                Some((_, "linux")) => tcplab_netfilter::Timeouts::linux(),
                Some((t, other)) => {
                    return Err(self.at(
                        t,
                        format!(
                            "conntrack_timeouts is \"rfc\" (Linux's raised to the NAT RFCs' minimums, the default) or \"linux\", not `{other}`"
                        ),
                    ))
                }
            },
        };
        if let Some(m) = n.conntrack_max {
            let v = *m.get_ref();
            if !(16..=10_000_000).contains(&v) {
                return Err(self.at(m, "conntrack_max must be between 16 and 10000000"));
            }
            spec.conntrack_max = v as usize;
        }
        for a in n.acl {
            let raw = a.get_ref();
            let iface = self.iface_by_addr(&raw.iface, ifaces)?;
            if spec.acls.iter().any(|(i, _)| *i == iface) {
                return Err(self.at(&raw.iface, "this interface already has an ACL"));
            }
            let list = |lines: &[Spanned<String>]| -> Res<tcplab_netfilter::AclList> {
                let texts: Vec<&str> = lines.iter().map(|x| x.get_ref().as_str()).collect();
                tcplab_netfilter::AclList::parse(&texts).map_err(|(i, e)| self.at(&lines[i], e))
            };
            spec.acls.push((
                iface,
                tcplab_netfilter::Acl {
                    inbound: list(&raw.inbound)?,
                    outbound: list(&raw.outbound)?,
                },
            ));
        }
        for f in n.firewall {
            let raw = f.get_ref();
            let iface = self.iface_by_addr(&raw.iface, ifaces)?;
            if spec.groups.iter().any(|(i, _)| *i == iface) {
                return Err(self.at(&raw.iface, "this interface already has a firewall"));
            }
            let inb: Vec<&str> = raw.inbound.iter().map(|x| x.get_ref().as_str()).collect();
            // A security group is made with one outbound rule, allow
            // all (the AWS default): `outbound` left out keeps it.
            let outb: Vec<&str> = match &raw.outbound {
                Some(lines) => lines.iter().map(|x| x.get_ref().as_str()).collect(),
                None => vec!["allow all"],
            };
            let sg =
                tcplab_netfilter::SecurityGroup::parse(&inb, &outb, raw.reject.unwrap_or(false))
                    .map_err(|(inbound, i, e)| {
                        let lines = if inbound {
                            Some(&raw.inbound)
                        } else {
                            raw.outbound.as_ref()
                        };
                        match lines.and_then(|l| l.get(i)) {
                            Some(line) => self.at(line, e),
                            // (The default outbound rule is never wrong.)
                            None => self.at(f, e),
                        }
                    })?;
            spec.groups.push((iface, sg));
        }
        if let Some(nat) = n.nat {
            let raw = nat.get_ref();
            let outside = self.iface_by_addr(&raw.outside, ifaces)?;
            // An empty list would read as "nobody" but the table's default
            // is everyone: say so rather than guess.
            if raw.inside.as_ref().is_some_and(Vec::is_empty) {
                return Err(self.at(
                    nat,
                    "`inside = []` lists nobody: leave `inside` out to translate everyone else, or list the prefixes to translate",
                ));
            }
            let mut inside = Vec::new();
            for c in raw.inside.iter().flatten() {
                let cidr: Cidr = c
                    .get_ref()
                    .parse()
                    .map_err(|e| self.at(c, format!("{e}")))?;
                inside.push(cidr.network());
            }
            let mut forwards: Vec<tcplab_netfilter::PortForward> = Vec::new();
            for f in &raw.forward {
                let pf =
                    tcplab_netfilter::PortForward::parse(f.get_ref()).map_err(|e| self.at(f, e))?;
                if forwards
                    .iter()
                    .any(|x| x.proto == pf.proto && x.port == pf.port)
                {
                    return Err(self.at(f, format!("port {} is forwarded twice", pf.port)));
                }
                let to = *pf.to.ip();
                if !tcplab_wire::ip::is_unicast_source(to)
                    || to.is_loopback()
                    || to.octets()[0] == 0
                {
                    return Err(self.at(
                        f,
                        format!("{to} is not a host address: forward to a host behind this router"),
                    ));
                }
                // Forwarded to the router itself, the datagram would come
                // back to the same forward: it can never arrive.
                if ifaces.contains(pf.to.ip()) {
                    return Err(self.at(
                        f,
                        format!(
                            "{} is this router's own address: forward to a host behind it",
                            pf.to.ip()
                        ),
                    ));
                }
                forwards.push(pf);
            }
            let filtering = match &raw.filtering {
                Some(f) => {
                    tcplab_netfilter::Filtering::parse(f.get_ref()).map_err(|e| self.at(f, e))?
                }
                None => tcplab_netfilter::Filtering::default(),
            };
            spec.nat = Some(NatSpec {
                outside,
                inside,
                forwards,
                filtering,
            });
        }
        Ok(spec)
    }

    pub(super) fn mtu(&self, m: &Option<Spanned<i64>>) -> Res<usize> {
        match m {
            None => Ok(1500),
            Some(m) => {
                let v = *m.get_ref();
                if !(68..=65535).contains(&v) {
                    return Err(self.at(
                        m,
                        format!("MTU {v} is outside 68..65535 (68 is the IPv4 minimum)"),
                    ));
                }
                Ok(v as usize)
            }
        }
    }

    pub(super) fn route(&self, s: &Spanned<String>) -> Res<(Cidr, Ipv4Addr)> {
        parse_route(s.get_ref()).map_err(|m| self.at(s, m))
    }
}

/// The deserializer's type words in a scenario writer's words: `invalid
/// type: integer `5`, expected a string` becomes `expected text in quotes
/// (such as "5ms"), found the number 5`, and `expected u64` says which
/// numbers are meant. Other messages pass unchanged.
fn plain(message: &str) -> String {
    let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|m| m.split_once(", expected "))
    else {
        return message.to_string();
    };
    let found = if let Some(v) = found.strip_prefix("floating point ") {
        // A huge or tiny float as a person writes it (1e308), not its
        // three hundred digits.
        let v = v.trim_matches('`');
        let shown = match v.parse::<f64>() {
            Ok(f) if f != 0.0 && !(1e-6..1e16).contains(&f.abs()) => format!("{f:e}"),
            _ => v.to_string(),
        };
        format!("the number {shown}")
    } else {
        match found.split_once(' ') {
            Some(("integer", v)) => format!("the number {}", v.trim_matches('`')),
            Some(("string", v)) => format!("the text {v}"),
            Some(("boolean", v)) => v.trim_matches('`').to_string(),
            _ => found.to_string(),
        }
    };
    let expected = match expected {
        "a string" => "text in quotes (such as \"5ms\" or \"10.0.0.1/24\")".to_string(),
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            let max = match expected {
                "u8" => u64::from(u8::MAX),
                "u16" => u64::from(u16::MAX),
                "u32" => u64::from(u32::MAX),
                // A TOML integer is a signed 64-bit one.
                _ => i64::MAX as u64,
            };
            format!("a whole number from 0 to {max}")
        }
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "a list in brackets (such as [\"a\", \"b\"])".to_string(),
        other => other.to_string(),
    };
    format!("expected {expected}, found {found}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn type_errors_in_a_writers_words() {
        assert_eq!(
            super::plain("invalid type: integer `5`, expected a string"),
            "expected text in quotes (such as \"5ms\" or \"10.0.0.1/24\"), found the number 5"
        );
        assert_eq!(
            super::plain("invalid value: integer `-1`, expected u64"),
            "expected a whole number from 0 to 9223372036854775807, found the number -1"
        );
        assert_eq!(
            super::plain("invalid type: string \"x\", expected a boolean"),
            "expected true or false, found the text \"x\""
        );
        assert_eq!(super::plain("unknown field `foo`"), "unknown field `foo`");
        let huge = format!(
            "invalid type: floating point `1{}.0`, expected u64",
            "0".repeat(308)
        );
        assert_eq!(
            super::plain(&huge),
            "expected a whole number from 0 to 9223372036854775807, found the number 1e308"
        );
        assert_eq!(
            super::plain("invalid type: floating point `2.5`, expected u64"),
            "expected a whole number from 0 to 9223372036854775807, found the number 2.5"
        );
    }
}
