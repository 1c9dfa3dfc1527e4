//! Scenario files: hosts, routers, links and a timeline, in TOML.
//!
//! Loading checks everything a person can get wrong and says where: unknown
//! keys, bad addresses, overlapping or duplicate addresses, links between
//! hosts that share no subnet, unknown host names, bad units. Every error
//! names the file, line and column.
//!
//! The README's "Scenario files" section describes the format, with examples;
//! `scenarios/` holds commented ones.

mod build;
mod loader;
mod raw;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcplab_stack::tcp::TcpConfig;
use tcplab_wire::Cidr;

use crate::impair::LinkParams;
use build::build;
pub use build::printable;
use loader::Loader;
use raw::{RawRules, RawRulesFile, RawScenario};

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
    /// Mid-stream pickup of TCP connections (Linux's
    /// `nf_conntrack_tcp_loose`; on by default, as there).
    pub tcp_loose: bool,
    /// Flows' timeouts: RFC-raised (the default) or Linux's own
    /// (`conntrack_timeouts = "linux"`).
    pub timeouts: tcplab_netfilter::Timeouts,
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
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a command on a node.
    Run { node: usize, cmd: String },
    /// Print a line of narration.
    Say(String),
    /// Take directions of a link down (nothing crosses) or up again.
    Link {
        segment: usize,
        /// The sending members whose direction changes.
        senders: Vec<usize>,
        up: bool,
        /// The link as the transcript names it (`r1-server (forward)`).
        link: String,
    },
    /// Change the impairments of directions of a link.
    Impair {
        segment: usize,
        senders: Vec<usize>,
        change: LinkParams,
        /// Which fields of `change` to take.
        fields: ParamFields,
        text: String,
    },
    /// Add or remove a static route on a node.
    Route {
        node: usize,
        dest: Cidr,
        /// `Some` to add via this gateway, `None` to remove.
        via: Option<Ipv4Addr>,
        text: String,
    },
}

/// Which impairment fields a change sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamFields {
    pub delay: bool,
    pub jitter: bool,
    pub rate: bool,
    pub queue: bool,
    pub loss: bool,
    pub duplicate: bool,
    pub reorder: bool,
    pub corrupt: bool,
}

impl ParamFields {
    /// Copy the chosen fields of `from` into `to`.
    pub fn apply(&self, from: &LinkParams, to: &mut LinkParams) {
        if self.delay {
            to.delay = from.delay;
        }
        if self.jitter {
            to.jitter = from.jitter;
        }
        if self.rate {
            to.rate = from.rate;
        }
        if self.queue {
            to.queue = from.queue;
        }
        if self.loss {
            to.loss = from.loss;
        }
        if self.duplicate {
            to.duplicate = from.duplicate;
        }
        if self.reorder {
            to.reorder = from.reorder;
        }
        if self.corrupt {
            to.corrupt = from.corrupt;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: Duration,
    pub action: Action,
}

/// A loaded, validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub title: Option<String>,
    /// `tcplab lab` ends by drawing the first TCP connection's segments as
    /// a small text ladder (`ladder = true`).
    pub ladder: bool,
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
        let c = dest.parse::<Cidr>().map_err(|e| format!("{e}"))?;
        // As `ip route` refuses it ("Invalid prefix for given prefix
        // length"): a destination is a network.
        if c != c.network() {
            return Err(format!(
                "`{dest}` has host bits set: the network is {} (invalid prefix for its length)",
                c.network()
            ));
        }
        c
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
/// `firewall`, `conntrack_max` and `conntrack_tcp_loose` keys of a
/// scenario's `[[router]]`, with
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
        conntrack_tcp_loose: raw.conntrack_tcp_loose.as_ref(),
        conntrack_timeouts: raw.conntrack_timeouts.as_ref(),
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

#[cfg(test)]
mod tests;
