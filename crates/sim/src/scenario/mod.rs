//! Scenario files: hosts, routers, links and a timeline, in TOML.
//!
//! Loading checks everything a person can get wrong and says where: unknown
//! keys, bad addresses, overlapping or duplicate addresses, links between
//! hosts that share no subnet, unknown host names, bad units. Every error
//! names the file, line and column.
//!
//! The README's "Scenario files" section describes the format, with examples;
//! `scenarios/` holds commented ones.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use tcplab_stack::tcp::TcpConfig;
use tcplab_wire::Cidr;
use toml::Spanned;

use crate::impair::{LinkParams, LossModel};
use crate::units::{parse_duration, parse_percent, parse_rate};

/// A scenario file that could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// Host or router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Host,
    Router,
}

/// An interface of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceSpec {
    pub addr: Cidr,
    pub mtu: usize,
    /// The link or LAN it is attached to.
    pub segment: Option<usize>,
}

/// A host or router.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub kind: NodeKind,
    pub ifaces: Vec<IfaceSpec>,
    pub gateway: Option<Ipv4Addr>,
    /// Static routes (destination, gateway); `None` on a router means
    /// "compute them from the topology".
    pub routes: Option<Vec<(Cidr, Ipv4Addr)>>,
    pub icmp_ratelimit: Option<Duration>,
    pub send_redirects: Option<bool>,
    pub accept_redirects: Option<bool>,
    pub default_ttl: Option<u8>,
    /// TCP settings (defaults, with the node's `[host.tcp]` overrides).
    pub tcp: TcpConfig,
    /// Name servers (`resolv.conf`'s `nameserver` lines).
    pub nameservers: Vec<Ipv4Addr>,
    /// Search domains (`resolv.conf`'s `search`).
    pub search: Vec<String>,
    /// Packet policy of a router: ACLs, security groups, NAT.
    pub filter: Option<FilterSpec>,
}

/// A router's packet policy, as declared (interfaces by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub acls: Vec<(usize, tcplab_netfilter::Acl)>,
    pub groups: Vec<(usize, tcplab_netfilter::SecurityGroup)>,
    pub nat: Option<NatSpec>,
    pub conntrack_max: usize,
}

/// NAT on a router, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatSpec {
    /// The outside interface, by index.
    pub outside: usize,
    pub inside: Vec<Cidr>,
    pub forwards: Vec<tcplab_netfilter::PortForward>,
    pub filtering: tcplab_netfilter::Filtering,
}

/// What a `[[file]]` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContent {
    Text(String),
    /// `size` bytes of deterministic pseudo-random data (for downloads).
    Generated(u64),
}

/// A file put on a node before the run (`[[file]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub node: usize,
    pub path: String,
    pub content: FileContent,
}

/// A point-to-point link or a LAN.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    pub name: String,
    /// (node index, interface index) of each member.
    pub members: Vec<(usize, usize)>,
    /// Parameters of what each member sends, by member index.
    pub sending: Vec<LinkParams>,
}

/// What happens at a point of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a command on a node.
    Run { node: usize, cmd: String },
    /// Print a line of narration.
    Say(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Duration,
    pub action: Action,
}

/// A loaded, validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub title: Option<String>,
    pub description: Option<String>,
    pub seed: u64,
    /// Stop at this virtual time at the latest.
    pub end: Option<Duration>,
    pub nodes: Vec<NodeSpec>,
    pub segments: Vec<SegmentSpec>,
    pub files: Vec<FileSpec>,
    pub timeline: Vec<TimelineEntry>,
}

impl Scenario {
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

// --- the file as written ---------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    end: Option<Spanned<String>>,
    #[serde(default)]
    host: Vec<RawNode>,
    #[serde(default)]
    router: Vec<RawNode>,
    #[serde(default)]
    link: Vec<RawLink>,
    #[serde(default)]
    lan: Vec<RawLan>,
    #[serde(default)]
    run: Vec<RawRun>,
    #[serde(default)]
    file: Vec<RawFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Spanned<String>,
    addr: Option<Spanned<String>>,
    #[serde(default)]
    addrs: Vec<Spanned<String>>,
    gateway: Option<Spanned<String>>,
    routes: Option<Vec<Spanned<String>>>,
    icmp_ratelimit: Option<Spanned<String>>,
    send_redirects: Option<bool>,
    accept_redirects: Option<bool>,
    ttl: Option<Spanned<u8>>,
    tcp: Option<RawTcp>,
    nameservers: Option<Vec<Spanned<String>>>,
    search: Option<Vec<Spanned<String>>>,
    nat: Option<Spanned<RawNat>>,
    #[serde(default)]
    acl: Vec<Spanned<RawAcl>>,
    #[serde(default)]
    firewall: Vec<Spanned<RawFirewall>>,
    conntrack_max: Option<Spanned<i64>>,
}

/// A router's packet policy, wherever it is written (a `[[router]]` of a
/// scenario, or a rules file of `tcplab route`).
struct RawRules<'r> {
    nat: Option<&'r Spanned<RawNat>>,
    acl: &'r [Spanned<RawAcl>],
    firewall: &'r [Spanned<RawFirewall>],
    conntrack_max: Option<&'r Spanned<i64>>,
}

/// A rules file (`tcplab route RULES.toml`): the policy keys of a router.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRulesFile {
    nat: Option<Spanned<RawNat>>,
    #[serde(default)]
    acl: Vec<Spanned<RawAcl>>,
    #[serde(default)]
    firewall: Vec<Spanned<RawFirewall>>,
    conntrack_max: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNat {
    /// The outside interface, by its address.
    outside: Spanned<String>,
    inside: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    forward: Vec<Spanned<String>>,
    filtering: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcl {
    iface: Spanned<String>,
    #[serde(default)]
    inbound: Vec<Spanned<String>>,
    #[serde(default)]
    outbound: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirewall {
    iface: Spanned<String>,
    #[serde(default)]
    inbound: Vec<Spanned<String>>,
    #[serde(default)]
    outbound: Vec<Spanned<String>>,
    reject: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    on: Spanned<String>,
    path: Spanned<String>,
    text: Option<String>,
    size: Option<Spanned<String>>,
}

/// TCP settings of a node, as written (`[host.tcp]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTcp {
    msl: Option<Spanned<String>>,
    rto_min: Option<Spanned<String>>,
    rto_max: Option<Spanned<String>>,
    delayed_ack: Option<Spanned<String>>,
    send_buffer: Option<Spanned<i64>>,
    recv_buffer: Option<Spanned<i64>>,
    nagle: Option<bool>,
    window_scaling: Option<bool>,
    syn_retries: Option<Spanned<i64>>,
    data_retries: Option<Spanned<i64>>,
    keepalive_time: Option<Spanned<String>>,
    /// Added to every ISN: to watch sequence numbers wrap.
    isn_offset: Option<u32>,
}

/// Impairments of one direction, as written.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawParams {
    delay: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
    loss: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    reorder: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    ends: Spanned<Vec<Spanned<String>>>,
    name: Option<String>,
    mtu: Option<Spanned<i64>>,
    delay: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
    loss: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    reorder: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
    /// Overrides for what the first end sends.
    forward: Option<RawParams>,
    /// Overrides for what the second end sends.
    reverse: Option<RawParams>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLan {
    name: Option<String>,
    members: Spanned<Vec<Spanned<String>>>,
    mtu: Option<Spanned<i64>>,
    delay: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
    loss: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    reorder: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    at: Spanned<String>,
    on: Option<Spanned<String>>,
    cmd: Option<Spanned<String>>,
    say: Option<String>,
}

// --- loading ---------------------------------------------------------------

struct Loader<'a> {
    file: &'a str,
    text: &'a str,
    check: CommandCheck<'a>,
}

type Res<T> = Result<T, ScenarioError>;

impl Loader<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
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
    fn parse<T: serde::de::DeserializeOwned>(&self) -> Res<T> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            self.err(span, message)
        })
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ScenarioError {
        self.err(s.span(), message)
    }

    fn duration(&self, s: &Spanned<String>) -> Res<Duration> {
        parse_duration(s.get_ref()).map_err(|m| self.at(s, m))
    }

    fn percent(&self, s: &Spanned<String>) -> Res<f64> {
        parse_percent(s.get_ref()).map_err(|m| self.at(s, m))
    }

    fn cidr(&self, s: &Spanned<String>) -> Res<Cidr> {
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
        if c.address().is_loopback() || c.address().is_unspecified() || c.address().is_multicast() {
            return Err(self.at(s, format!("{} cannot be an interface address", c.address())));
        }
        Ok(c)
    }

    fn ipv4(&self, s: &Spanned<String>) -> Res<Ipv4Addr> {
        s.get_ref()
            .parse()
            .map_err(|_| self.at(s, format!("`{}` is not an IPv4 address", s.get_ref())))
    }

    fn loss(&self, s: &Spanned<String>) -> Res<LossModel> {
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

    fn apply(&self, base: &mut LinkParams, raw: &RawParams) -> Res<()> {
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
            // netem: "reordering not possible without specifying some delay".
            if base.reorder > 0.0 && base.delay.is_zero() {
                return Err(self.at(r, "reorder needs a delay: a packet is reordered by skipping the delay others take"));
            }
        }
        if let Some(c) = &raw.corrupt {
            base.corrupt = self.percent(c)?;
        }
        Ok(())
    }

    fn tcp(&self, raw: Option<&RawTcp>) -> Res<TcpConfig> {
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
        if let Some(o) = t.isn_offset {
            c.isn_offset = o;
        }
        if c.rto_min > c.rto_max {
            return Err(self.err(0..0, "rto_min is larger than rto_max"));
        }
        Ok(c)
    }

    /// The interface of a node with address `s` (given as in `addr`).
    fn iface_by_addr(&self, s: &Spanned<String>, ifaces: &[Ipv4Addr]) -> Res<usize> {
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

    fn filter(&self, n: &RawNode, kind: NodeKind, ifaces: &[IfaceSpec]) -> Res<Option<FilterSpec>> {
        let any = n.nat.is_some() || !n.acl.is_empty() || !n.firewall.is_empty();
        if !any {
            if let Some(m) = &n.conntrack_max {
                return Err(self.at(m, "conntrack_max needs nat, acl or firewall on this router"));
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
        };
        self.policy(&rules, &addrs).map(Some)
    }

    /// A packet policy (NAT, ACLs, firewalls) over interfaces with addresses
    /// `ifaces`.
    fn policy(&self, n: &RawRules<'_>, ifaces: &[Ipv4Addr]) -> Res<FilterSpec> {
        let mut spec = FilterSpec {
            acls: Vec::new(),
            groups: Vec::new(),
            nat: None,
            conntrack_max: 65_536,
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
            let outb: Vec<&str> = raw.outbound.iter().map(|x| x.get_ref().as_str()).collect();
            let sg =
                tcplab_netfilter::SecurityGroup::parse(&inb, &outb, raw.reject.unwrap_or(false))
                    .map_err(|(inbound, i, e)| {
                        let lines = if inbound { &raw.inbound } else { &raw.outbound };
                        self.at(&lines[i], e)
                    })?;
            spec.groups.push((iface, sg));
        }
        if let Some(nat) = n.nat {
            let raw = nat.get_ref();
            let outside = self.iface_by_addr(&raw.outside, ifaces)?;
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

    fn mtu(&self, m: &Option<Spanned<i64>>) -> Res<usize> {
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

    fn route(&self, s: &Spanned<String>) -> Res<(Cidr, Ipv4Addr)> {
        parse_route(s.get_ref()).map_err(|m| self.at(s, m))
    }
}

/// A static route as written: "10.0.2.0/24 via 10.0.1.1" or "default via
/// 10.0.1.1".
pub fn parse_route(text: &str) -> Result<(Cidr, Ipv4Addr), String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [dest, "via", gw] = parts[..] else {
        return Err(format!("`{text}` is not a route (write \"10.0.2.0/24 via 10.0.1.1\" or \"default via 10.0.1.1\")"));
    };
    let dest = if dest == "default" {
        Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid")
    } else {
        dest.parse::<Cidr>().map_err(|e| format!("{e}"))?.network()
    };
    let gw = gw
        .parse()
        .map_err(|_| format!("`{gw}` is not an IPv4 address"))?;
    Ok((dest, gw))
}

/// Checks a command line; returns what is wrong with it.
pub type CommandCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// Load a scenario from TOML text; `file` names it in errors.
pub fn load(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    load_checked(file, text, &|_| Ok(()))
}

/// Load a router's packet policy from a rules file: the `nat`, `acl`,
/// `firewall` and `conntrack_max` keys of a scenario's `[[router]]`, with
/// interfaces named by their addresses in `ifaces`.
pub fn load_rules(
    file: &str,
    text: &str,
    ifaces: &[Ipv4Addr],
) -> Result<FilterSpec, ScenarioError> {
    let l = Loader {
        file,
        text,
        check: &|_| Ok(()),
    };
    let raw: RawRulesFile = l.parse()?;
    let rules = RawRules {
        nat: raw.nat.as_ref(),
        acl: &raw.acl,
        firewall: &raw.firewall,
        conntrack_max: raw.conntrack_max.as_ref(),
    };
    l.policy(&rules, ifaces)
}

/// Load a scenario and check every command on its timeline with `check`.
pub fn load_checked(
    file: &str,
    text: &str,
    check: CommandCheck<'_>,
) -> Result<Scenario, ScenarioError> {
    let l = Loader { file, text, check };
    let raw: RawScenario = l.parse()?;
    build(&l, raw)
}

fn build(l: &Loader<'_>, raw: RawScenario) -> Res<Scenario> {
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut addr_owner: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for (kind, list) in [(NodeKind::Host, &raw.host), (NodeKind::Router, &raw.router)] {
        for n in list {
            let name = n.name.get_ref().trim().to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(l.at(
                    &n.name,
                    format!("`{name}` is not a valid name (letters, digits, - _ .)"),
                ));
            }
            if names.contains_key(&name) {
                return Err(l.at(
                    &n.name,
                    format!("there is already a host or router named `{name}`"),
                ));
            }
            let mut addr_specs: Vec<&Spanned<String>> = n.addrs.iter().collect();
            if let Some(a) = &n.addr {
                addr_specs.insert(0, a);
            }
            if addr_specs.is_empty() {
                return Err(l.at(
                    &n.name,
                    format!(
                        "`{name}` has no address (give addr = \"10.0.1.2/24\" or addrs = [...])"
                    ),
                ));
            }
            let mut ifaces: Vec<IfaceSpec> = Vec::new();
            for a in addr_specs {
                let c = l.cidr(a)?;
                if let Some(owner) = addr_owner.get(&c.address()) {
                    return Err(l.at(
                        a,
                        format!("{} is already the address of `{owner}`", c.address()),
                    ));
                }
                if let Some(other) = ifaces
                    .iter()
                    .find(|i| i.addr.network().overlaps(&c.network()))
                {
                    return Err(l.at(a, format!("{c} overlaps {} on the same node", other.addr)));
                }
                addr_owner.insert(c.address(), name.clone());
                ifaces.push(IfaceSpec {
                    addr: c,
                    mtu: 1500,
                    segment: None,
                });
            }
            let gateway = match &n.gateway {
                Some(g) => {
                    let gw = l.ipv4(g)?;
                    if !ifaces.iter().any(|i| i.addr.contains(gw)) {
                        return Err(l.at(
                            g,
                            format!("gateway {gw} is not on any of `{name}`'s subnets"),
                        ));
                    }
                    if ifaces.iter().any(|i| i.addr.address() == gw) {
                        return Err(l.at(g, format!("gateway {gw} is `{name}`'s own address")));
                    }
                    Some(gw)
                }
                None => None,
            };
            let routes = match &n.routes {
                Some(list) => {
                    let mut v = Vec::new();
                    for r in list {
                        let (dest, gw) = l.route(r)?;
                        if !ifaces.iter().any(|i| i.addr.contains(gw)) {
                            return Err(l.at(
                                r,
                                format!("gateway {gw} is not on any of `{name}`'s subnets"),
                            ));
                        }
                        v.push((dest, gw));
                    }
                    Some(v)
                }
                None if kind == NodeKind::Host => Some(Vec::new()),
                None => None,
            };
            let icmp_ratelimit = n
                .icmp_ratelimit
                .as_ref()
                .map(|d| l.duration(d))
                .transpose()?;
            let default_ttl = match &n.ttl {
                Some(t) if *t.get_ref() == 0 => return Err(l.at(t, "ttl must be at least 1")),
                Some(t) => Some(*t.get_ref()),
                None => None,
            };
            let tcp = l.tcp(n.tcp.as_ref())?;
            let nameservers = n
                .nameservers
                .iter()
                .flatten()
                .map(|a| l.ipv4(a))
                .collect::<Res<Vec<_>>>()?;
            let mut search = Vec::new();
            for d in n.search.iter().flatten() {
                let domain = d.get_ref().trim().trim_end_matches('.');
                let valid = !domain.is_empty()
                    && domain.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    });
                if !valid {
                    return Err(l.at(d, format!("`{}` is not a domain name", d.get_ref())));
                }
                search.push(domain.to_ascii_lowercase());
            }
            let filter = l.filter(n, kind, &ifaces)?;
            names.insert(name.clone(), nodes.len());
            nodes.push(NodeSpec {
                name,
                kind,
                ifaces,
                gateway,
                routes,
                icmp_ratelimit,
                send_redirects: n.send_redirects,
                accept_redirects: n.accept_redirects,
                default_ttl,
                tcp,
                nameservers,
                search,
                filter,
            });
        }
    }

    let mut segments: Vec<SegmentSpec> = Vec::new();
    for link in &raw.link {
        let ends = link.ends.get_ref();
        if ends.len() != 2 {
            return Err(l.at(
                &link.ends,
                format!(
                    "a link has exactly two ends; this one lists {} (use [[lan]] for more)",
                    ends.len()
                ),
            ));
        }
        let members = resolve_members(l, &mut nodes, &names, ends, segments.len())?;
        let mtu = l.mtu(&link.mtu)?;
        let both = RawParams {
            delay: link.delay.clone(),
            jitter: link.jitter.clone(),
            rate: link.rate.clone(),
            queue: link.queue.clone(),
            loss: link.loss.clone(),
            duplicate: link.duplicate.clone(),
            reorder: link.reorder.clone(),
            corrupt: link.corrupt.clone(),
        };
        let mut base = LinkParams {
            mtu,
            ..LinkParams::default()
        };
        l.apply(&mut base, &both)?;
        let mut fwd = base.clone();
        let mut rev = base;
        if let Some(f) = &link.forward {
            l.apply(&mut fwd, f)?;
        }
        if let Some(r) = &link.reverse {
            l.apply(&mut rev, r)?;
        }
        let name = link.name.clone().unwrap_or_else(|| {
            format!("{}-{}", nodes[members[0].0].name, nodes[members[1].0].name)
        });
        set_mtu(&mut nodes, &members, mtu);
        segments.push(SegmentSpec {
            name,
            members,
            sending: vec![fwd, rev],
        });
    }
    for lan in &raw.lan {
        let list = lan.members.get_ref();
        if list.len() < 2 {
            return Err(l.at(&lan.members, "a LAN needs at least two members"));
        }
        let members = resolve_members(l, &mut nodes, &names, list, segments.len())?;
        let mtu = l.mtu(&lan.mtu)?;
        let raw_params = RawParams {
            delay: lan.delay.clone(),
            jitter: lan.jitter.clone(),
            rate: lan.rate.clone(),
            queue: lan.queue.clone(),
            loss: lan.loss.clone(),
            duplicate: lan.duplicate.clone(),
            reorder: lan.reorder.clone(),
            corrupt: lan.corrupt.clone(),
        };
        let mut base = LinkParams {
            mtu,
            ..LinkParams::default()
        };
        l.apply(&mut base, &raw_params)?;
        let name = lan
            .name
            .clone()
            .unwrap_or_else(|| format!("lan{}", segments.len()));
        set_mtu(&mut nodes, &members, mtu);
        segments.push(SegmentSpec {
            name,
            sending: vec![base; members.len()],
            members,
        });
    }
    let mut seg_names = BTreeSet::new();
    for s in &mut segments {
        let mut name = s.name.clone();
        let mut n = 2;
        while !seg_names.insert(name.clone()) {
            name = format!("{}-{n}", s.name);
            n += 1;
        }
        s.name = name;
    }

    let mut timeline = Vec::new();
    for r in &raw.run {
        let at = l.duration(&r.at)?;
        let action = match (&r.on, &r.cmd, &r.say) {
            (Some(on), Some(cmd), None) => {
                let node = *names.get(on.get_ref().trim()).ok_or_else(|| {
                    l.at(on, format!("no host or router named `{}`", on.get_ref()))
                })?;
                if cmd.get_ref().trim().is_empty() {
                    return Err(l.at(cmd, "empty command"));
                }
                (l.check)(cmd.get_ref().trim()).map_err(|m| l.at(cmd, m))?;
                Action::Run {
                    node,
                    cmd: cmd.get_ref().trim().to_string(),
                }
            }
            (None, None, Some(text)) => Action::Say(text.clone()),
            _ => {
                return Err(l.at(
                    &r.at,
                    "a [[run]] entry needs either `on` and `cmd`, or `say`",
                ))
            }
        };
        timeline.push(TimelineEntry { at, action });
    }
    // Stable: entries at the same time keep their order in the file.
    timeline.sort_by_key(|e| e.at);

    let mut files: Vec<FileSpec> = Vec::new();
    for f in &raw.file {
        let node = *names.get(f.on.get_ref().trim()).ok_or_else(|| {
            l.at(
                &f.on,
                format!("no host or router named `{}`", f.on.get_ref()),
            )
        })?;
        let path = f.path.get_ref();
        let Some(norm) = tcplab_host::fs::normalize(path).filter(|_| path.starts_with('/')) else {
            return Err(l.at(&f.path, format!("`{path}` is not an absolute path")));
        };
        if norm == "/" {
            return Err(l.at(&f.path, "a file needs a name, not just `/`"));
        }
        if files.iter().any(|x| x.node == node && x.path == norm) {
            return Err(l.at(&f.path, format!("`{norm}` is given twice on this node")));
        }
        let content = match (&f.text, &f.size) {
            (Some(t), None) => FileContent::Text(t.clone()),
            (None, Some(sz)) => {
                let n = crate::units::parse_size(sz.get_ref()).map_err(|m| l.at(sz, m))?;
                if n > 1 << 30 {
                    return Err(l.at(sz, "generated files are limited to 1 GiB"));
                }
                FileContent::Generated(n)
            }
            _ => return Err(l.at(&f.path, "a [[file]] needs exactly one of `text` or `size`")),
        };
        files.push(FileSpec {
            node,
            path: norm,
            content,
        });
    }

    let end = raw.end.as_ref().map(|e| l.duration(e)).transpose()?;
    Ok(Scenario {
        title: raw.title,
        description: raw.description,
        seed: raw.seed.unwrap_or(1),
        end,
        nodes,
        segments,
        files,
        timeline,
    })
}

fn subnets_of(nodes: &[NodeSpec], n: usize) -> Vec<Cidr> {
    nodes[n].ifaces.iter().map(|i| i.addr.network()).collect()
}

fn set_mtu(nodes: &mut [NodeSpec], members: &[(usize, usize)], mtu: usize) {
    for &(n, i) in members {
        nodes[n].ifaces[i].mtu = mtu;
    }
}

/// Turn link ends (`name` or `name:address`) into (node, interface) pairs,
/// choosing for a bare name the interface on the subnet the ends share.
fn resolve_members(
    l: &Loader<'_>,
    nodes: &mut [NodeSpec],
    names: &BTreeMap<String, usize>,
    ends: &[Spanned<String>],
    segment: usize,
) -> Res<Vec<(usize, usize)>> {
    struct End<'s> {
        span: &'s Spanned<String>,
        node: usize,
        addr: Option<Ipv4Addr>,
    }
    let mut parsed = Vec::new();
    for e in ends {
        let text = e.get_ref().trim();
        let (name, addr) = match text.split_once(':') {
            Some((n, a)) => (
                n,
                Some(
                    a.parse::<Ipv4Addr>()
                        .map_err(|_| l.at(e, format!("`{a}` is not an IPv4 address")))?,
                ),
            ),
            None => (text, None),
        };
        let node = *names
            .get(name)
            .ok_or_else(|| l.at(e, format!("no host or router named `{name}`")))?;
        if parsed.iter().any(|p: &End<'_>| p.node == node) {
            return Err(l.at(e, format!("`{name}` is listed twice")));
        }
        parsed.push(End {
            span: e,
            node,
            addr,
        });
    }
    // Candidate subnets: those every end has an interface on.
    let mut out = Vec::new();
    for (k, end) in parsed.iter().enumerate() {
        let iface = match end.addr {
            Some(a) => nodes[end.node]
                .ifaces
                .iter()
                .position(|i| i.addr.address() == a)
                .ok_or_else(|| {
                    l.at(
                        end.span,
                        format!("`{}` has no address {a}", nodes[end.node].name),
                    )
                })?,
            None => {
                let others: Vec<usize> = parsed
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, p)| p.node)
                    .collect();
                let shared: Vec<usize> = nodes[end.node]
                    .ifaces
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        others
                            .iter()
                            .any(|&o| subnets_of(nodes, o).contains(&i.addr.network()))
                    })
                    .map(|(idx, _)| idx)
                    .collect();
                match shared[..] {
                    [one] => one,
                    [] => {
                        let me = &nodes[end.node];
                        let addrs: Vec<String> = me.ifaces.iter().map(|i| i.addr.to_string()).collect();
                        return Err(l.at(end.span, format!(
                            "`{}` ({}) shares no subnet with the other end of this link",
                            me.name,
                            addrs.join(", ")
                        )));
                    }
                    _ => {
                        return Err(l.at(end.span, format!(
                            "`{}` has several addresses on this link's subnets; name one as \"{}:ADDRESS\"",
                            nodes[end.node].name, nodes[end.node].name
                        )))
                    }
                }
            }
        };
        let spec = &mut nodes[end.node].ifaces[iface];
        if spec.segment.is_some() {
            return Err(l.at(
                end.span,
                format!(
                    "{} of `{}` is already attached to another link",
                    spec.addr, nodes[end.node].name
                ),
            ));
        }
        spec.segment = Some(segment);
        out.push((end.node, iface));
    }
    // All members must share one subnet.
    let first = nodes[out[0].0].ifaces[out[0].1].addr;
    for &(n, i) in &out[1..] {
        let a = nodes[n].ifaces[i].addr;
        if !first.network().overlaps(&a.network()) {
            let idx = out.iter().position(|m| *m == (n, i)).unwrap_or(0);
            return Err(l.at(
                parsed[idx].span,
                format!("{} and {} are on different subnets", first, a),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
