//! From the file as written to a [`Scenario`]: nodes and their addresses,
//! links and LANs with their interfaces, the timeline and the files.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use tcplab_wire::Cidr;
use toml::Spanned;

use super::loader::{Loader, Res};
use super::raw::{RawNode, RawParams, RawRun, RawScenario};
use super::{
    Action, FileContent, FileSpec, IfaceSpec, NodeKind, NodeSpec, ParamFields, Scenario,
    SegmentSpec, TimelineEntry,
};
use crate::impair::LinkParams;

/// The most hosts and routers a scenario may have: a chain of a thousand
/// routers loads in about a second; the route computation grows with the
/// cube of the count (3,000 took 18 s, 30,000 would take hours).
const MAX_NODES: usize = 1000;

/// The most `[[run]]` entries: each may start a process with its sockets
/// and buffers (ten thousand took 10 s and 1 GB).
const MAX_RUNS: usize = 10_000;

/// The most links and LANs together.
const MAX_SEGMENTS: usize = 10_000;

pub(super) fn build(l: &Loader<'_>, raw: RawScenario) -> Res<Scenario> {
    if raw.link.len() + raw.lan.len() > MAX_SEGMENTS {
        // The first one past the limit, links counted first.
        let at = match raw.link.get(MAX_SEGMENTS) {
            Some(link) => link.ends.span(),
            None => raw.lan[MAX_SEGMENTS - raw.link.len()].members.span(),
        };
        return Err(l.err(
            at,
            format!(
                "more than {MAX_SEGMENTS} links and LANs: a scenario has at most {MAX_SEGMENTS}"
            ),
        ));
    }
    if let Some(r) = raw.run.get(MAX_RUNS) {
        return Err(l.at(
            &r.at,
            format!("more than {MAX_RUNS} [[run]] entries: a scenario has at most {MAX_RUNS}"),
        ));
    }
    let mut nodes: Vec<NodeSpec> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut addr_owner: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for (kind, list) in [(NodeKind::Host, &raw.host), (NodeKind::Router, &raw.router)] {
        for n in list {
            if nodes.len() == MAX_NODES {
                return Err(l.at(
                    &n.name,
                    format!(
                        "more than {MAX_NODES} hosts and routers: a scenario has at most \
                         {MAX_NODES} (the routes computed for them grow with the cube of the count)"
                    ),
                ));
            }
            let spec = node(l, kind, n, &names, &mut addr_owner)?;
            names.insert(spec.name.clone(), nodes.len());
            nodes.push(spec);
        }
    }

    let segments = segments(l, &raw, &mut nodes, &names)?;

    let timeline = timeline(l, &raw, &names, &segments, &nodes)?;

    let files = files(l, &raw, &names)?;

    let end = raw.end.as_ref().map(|e| l.duration(e)).transpose()?;
    // An entry after the end (the file's, or the default hour) would
    // never run: say so rather than drop it.
    let limit = end.unwrap_or(crate::DEFAULT_END);
    for r in &raw.run {
        if l.duration(&r.at)? > limit {
            let end = match &raw.end {
                Some(e) => format!("the scenario's end ({})", e.get_ref().trim()),
                None => format!(
                    "the default end ({} s; set `end` to run longer)",
                    crate::DEFAULT_END.as_secs()
                ),
            };
            return Err(l.at(
                &r.at,
                format!("at {} is after {end}", r.at.get_ref().trim()),
            ));
        }
    }
    Ok(Scenario {
        // An empty title is none; control characters are shown escaped,
        // never sent to the terminal as they are.
        title: raw
            .title
            .map(|t| printable(t.trim()))
            .filter(|t| !t.is_empty()),
        ladder: raw.ladder.unwrap_or(false),
        description: raw.description.map(|d| printable(&d)),
        seed: raw.seed.unwrap_or(1),
        end,
        nodes,
        segments,
        files,
        timeline,
    })
}

/// One `[[host]]` or `[[router]]`. `addr_owner` holds every address taken
/// so far, by its node's name.
fn node(
    l: &Loader<'_>,
    kind: NodeKind,
    n: &RawNode,
    names: &BTreeMap<String, usize>,
    addr_owner: &mut BTreeMap<Ipv4Addr, String>,
) -> Res<NodeSpec> {
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
    // Inside commands a name must read as a name: not as an option
    // (`-a`), nor as a number or an address (`123`, `10.1`; RFC 1123
    // §2.1 keeps names from looking like dotted numbers).
    if name.starts_with('-') {
        return Err(l.at(
            &n.name,
            format!("`{name}` cannot name a host: a command would read it as an option"),
        ));
    }
    // A name's labels are not empty (RFC 1035 §2.3.1); a leading `.`
    // would also hide the node's capture file.
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(l.at(
            &n.name,
            format!("`{name}` cannot name a host: no leading, trailing or doubled `.`"),
        ));
    }
    if name.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(l.at(
            &n.name,
            format!(
                "`{name}` cannot name a host: a command would read it as a number or an address"
            ),
        ));
    }
    // RFC 6761 §6.3: localhost is every host's own name.
    let lower = name.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(l.at(
            &n.name,
            format!("`{name}` cannot name a host: it is every host's own name (127.0.0.1)"),
        ));
    }
    // A name is a column of the transcript and a file name of the report:
    // as long as a DNS label may be (RFC 1035 §2.3.4), no longer.
    if name.len() > 63 {
        return Err(l.at(
            &n.name,
            format!(
                "a host name has at most 63 characters, this one {}",
                name.len()
            ),
        ));
    }
    if names.contains_key(&name) {
        return Err(l.at(
            &n.name,
            format!("there is already a host or router named `{name}`"),
        ));
    }
    // Host names are DNS names, which ignore case (RFC 4343): `A` would
    // answer for `a`.
    if let Some(other) = names.keys().find(|k| k.eq_ignore_ascii_case(&name)) {
        return Err(l.at(
            &n.name,
            format!("`{name}` and `{other}` differ only in case, and host names ignore case"),
        ));
    }
    let ifaces = interfaces(l, n, &name, addr_owner)?;
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
            if let Some(why) = subnet_edge(&ifaces, gw) {
                return Err(l.at(g, format!("gateway {gw} is {why}")));
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
                if ifaces.iter().any(|i| i.addr.address() == gw) {
                    return Err(l.at(r, format!("gateway {gw} is `{name}`'s own address")));
                }
                if let Some(why) = subnet_edge(&ifaces, gw) {
                    return Err(l.at(r, format!("gateway {gw} is {why}")));
                }
                // Two routes to one destination: `ip route add` refuses
                // the second ("File exists") rather than keep either.
                if v.iter().any(|&(d, _): &(Cidr, Ipv4Addr)| d == dest)
                    || (dest.prefix_len() == 0 && gateway.is_some())
                {
                    return Err(l.at(
                        r,
                        format!("a second route to {dest} on `{name}` (ip route add refuses it: File exists)"),
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
        Some(t) => match u8::try_from(*t.get_ref()) {
            Ok(v) if v > 0 => Some(v),
            _ => {
                let msg = format!("ttl must be from 1 to 255, not {}", t.get_ref());
                return Err(l.at(t, msg));
            }
        },
        None => None,
    };
    let tcp = l.tcp(n.tcp.as_ref())?;
    let nameservers = n
        .nameservers
        .iter()
        .flatten()
        .map(|a| l.ipv4(a))
        .collect::<Res<Vec<_>>>()?;
    let search = search_domains(l, n)?;
    let filter = l.filter(n, kind, &ifaces)?;
    Ok(NodeSpec {
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
    })
}

/// A node's interfaces from `addr` and `addrs`: each address unique in the
/// network, no two on one subnet.
fn interfaces(
    l: &Loader<'_>,
    n: &RawNode,
    name: &str,
    addr_owner: &mut BTreeMap<Ipv4Addr, String>,
) -> Res<Vec<IfaceSpec>> {
    let mut addr_specs: Vec<&Spanned<String>> = n.addrs.iter().collect();
    if let Some(a) = &n.addr {
        addr_specs.insert(0, a);
    }
    if addr_specs.is_empty() {
        return Err(l.at(
            &n.name,
            format!("`{name}` has no address (give addr = \"10.0.1.2/24\" or addrs = [...])"),
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
        addr_owner.insert(c.address(), name.to_string());
        ifaces.push(IfaceSpec {
            addr: c,
            mtu: 1500,
            segment: None,
        });
    }
    Ok(ifaces)
}

/// `search` (resolv.conf's search list): domain names, lower case.
fn search_domains(l: &Loader<'_>, n: &RawNode) -> Res<Vec<String>> {
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
    Ok(search)
}

/// The impairment keys a `[[link]]` or `[[lan]]` sets for every direction,
/// as a `RawParams`. (serde cannot flatten them into a struct of their own
/// while unknown keys are refused, so the raw structs repeat them.)
macro_rules! shared_params {
    ($x:expr) => {
        RawParams {
            delay: $x.delay.clone(),
            jitter: $x.jitter.clone(),
            rate: $x.rate.clone(),
            queue: $x.queue.clone(),
            loss: $x.loss.clone(),
            duplicate: $x.duplicate.clone(),
            reorder: $x.reorder.clone(),
            corrupt: $x.corrupt.clone(),
            drop: $x.drop.clone(),
        }
    };
}

/// What every member of a segment sends with, before per-direction
/// overrides.
fn every_direction(l: &Loader<'_>, mtu: usize, raw: &RawParams) -> Res<LinkParams> {
    let mut p = LinkParams {
        mtu,
        ..LinkParams::default()
    };
    l.apply(&mut p, raw)?;
    Ok(p)
}

/// Whether `gw` is the network or broadcast address of one of the
/// subnets (which no neighbour can have; a /31 has neither, RFC 3021).
fn subnet_edge(ifaces: &[IfaceSpec], gw: Ipv4Addr) -> Option<&'static str> {
    ifaces
        .iter()
        .map(|i| i.addr)
        .filter(|a| a.prefix_len() <= 30 && a.contains(gw))
        .find_map(|a| {
            if gw == a.network().address() {
                Some("the network address of its subnet, not a neighbour's")
            } else if Some(gw) == a.broadcast() {
                Some("the broadcast address of its subnet, not a neighbour's")
            } else {
                None
            }
        })
}

/// The `[[link]]`s and `[[lan]]`s, attaching the nodes' interfaces.
fn segments(
    l: &Loader<'_>,
    raw: &RawScenario,
    nodes: &mut [NodeSpec],
    names: &BTreeMap<String, usize>,
) -> Res<Vec<SegmentSpec>> {
    let mut segments: Vec<SegmentSpec> = Vec::new();
    // Names given in the file, and whether each segment's was.
    let mut taken = BTreeSet::new();
    let mut explicit = Vec::new();
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
        let members = resolve_members(l, nodes, names, ends, segments.len())?;
        let mtu = l.mtu(&link.mtu)?;
        let base = every_direction(l, mtu, &shared_params!(link))?;
        let mut fwd = base.clone();
        let mut rev = base;
        if let Some(f) = &link.forward {
            l.apply(&mut fwd, f)?;
        }
        if let Some(r) = &link.reverse {
            l.apply(&mut rev, r)?;
        }
        for (p, own) in [(&fwd, &link.forward), (&rev, &link.reverse)] {
            let key = own
                .as_ref()
                .and_then(|o| o.reorder.as_ref().or(o.delay.as_ref()))
                .or(link.reorder.as_ref());
            if let Some(key) = key {
                reorder_with_delay(l, p, key, "")?;
            }
        }
        let name = match &link.name {
            Some(n) => explicit_name(l, &mut taken, n)?,
            None => format!("{}-{}", nodes[members[0].0].name, nodes[members[1].0].name),
        };
        explicit.push(link.name.as_ref());
        set_mtu(nodes, &members, mtu);
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
        let members = resolve_members(l, nodes, names, list, segments.len())?;
        let mtu = l.mtu(&lan.mtu)?;
        let base = every_direction(l, mtu, &shared_params!(lan))?;
        if let Some(key) = &lan.reorder {
            reorder_with_delay(l, &base, key, "")?;
        }
        let name = match &lan.name {
            Some(n) => explicit_name(l, &mut taken, n)?,
            None => format!("lan{}", segments.len()),
        };
        explicit.push(lan.name.as_ref());
        set_mtu(nodes, &members, mtu);
        segments.push(SegmentSpec {
            name,
            sending: vec![base; members.len()],
            members,
        });
    }
    // A name made from the ends (two links between the same nodes, or
    // names such as `x-y` + `z` and `x` + `y-z`) gets a number; a name
    // given in the file is never changed (a repeated one is an error,
    // above), and may not be one a link gets by default: `link = "a-b"`
    // in a run entry would then change another link than the one between
    // a and b.
    let given: Vec<&Spanned<String>> = explicit.iter().flatten().copied().collect();
    for (s, _) in segments.iter().zip(&explicit).filter(|(_, e)| e.is_none()) {
        if let Some(g) = given.iter().find(|g| g.get_ref().trim() == s.name) {
            let ends: Vec<&str> = s.members.iter().map(|m| nodes[m.0].name.as_str()).collect();
            return Err(l.at(
                g,
                format!(
                    "`{}` is the name the link between {} gets by default: give this one another name",
                    s.name,
                    ends.join(" and ")
                ),
            ));
        }
    }
    // Names made from different ends that come out the same (`x-y` + `z`
    // and `x` + `y-z`): which link `link = "x-y-z"` or `x-y-z.pcap` meant
    // would be a guess, so the file must name one.
    let mut made: Vec<(&str, &[(usize, usize)])> = Vec::new();
    for ((s, _), raw) in segments
        .iter()
        .zip(&explicit)
        .zip(raw.link.iter().map(|k| &k.ends))
        .filter(|((_, e), _)| e.is_none())
    {
        let ends = |m: &[(usize, usize)]| -> Vec<usize> {
            let mut n: Vec<usize> = m.iter().map(|e| e.0).collect();
            n.sort_unstable();
            n
        };
        if let Some((_, other)) = made
            .iter()
            .find(|(n, m)| *n == s.name && ends(m) != ends(&s.members))
        {
            let names = |m: &[(usize, usize)]| -> String {
                m.iter()
                    .map(|e| nodes[e.0].name.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            };
            return Err(l.at(
                raw,
                format!(
                    "the links between {} and between {} both get the name `{}` by default: give one a `name`",
                    names(other),
                    names(&s.members),
                    s.name
                ),
            ));
        }
        made.push((&s.name, &s.members));
    }
    for (s, _) in segments
        .iter_mut()
        .zip(&explicit)
        .filter(|(_, e)| e.is_none())
    {
        let mut name = s.name.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{}-{n}", s.name);
            n += 1;
        }
        s.name = name;
    }
    Ok(segments)
}

/// A link's or LAN's name as the file gives it, which no other may have.
/// It names the link's capture file (`NAME.pcap` in `--pcap`'s
/// directory), so it must be a plain file name.
fn explicit_name(
    l: &Loader<'_>,
    taken: &mut BTreeSet<String>,
    name: &Spanned<String>,
) -> Res<String> {
    let n = name.get_ref().trim().to_string();
    if n.is_empty() {
        return Err(l.at(name, "a link's or LAN's name cannot be empty"));
    }
    if n.starts_with('.') || n.contains(['/', '\\']) || n.chars().any(char::is_control) {
        return Err(l.at(
            name,
            format!("`{n}` cannot name a link or LAN (its capture file): no `/`, no leading `.`"),
        ));
    }
    if !taken.insert(n.clone()) {
        return Err(l.at(name, format!("there is already a link or LAN named `{n}`")));
    }
    Ok(n)
}

/// netem: "reordering not possible without specifying some delay" — a
/// reordered packet is one that skips the delay the others take. `when`
/// says at what point of the run (a change), for the message.
fn reorder_with_delay<T>(l: &Loader<'_>, p: &LinkParams, key: &Spanned<T>, when: &str) -> Res<()> {
    if p.reorder > 0.0 && p.delay.is_zero() {
        return Err(l.at(
            key,
            format!("reorder needs a delay{when}: a packet is reordered by skipping the delay others take"),
        ));
    }
    Ok(())
}

/// The `[[run]]` entries, in time order, each command checked: commands,
/// narration, and changes to the network while it runs (a link down or
/// up, new impairments, a route added or removed).
fn timeline(
    l: &Loader<'_>,
    raw: &RawScenario,
    names: &BTreeMap<String, usize>,
    segments: &[SegmentSpec],
    nodes: &[NodeSpec],
) -> Res<Vec<TimelineEntry>> {
    let mut timeline = Vec::new();
    for r in &raw.run {
        let at = l.duration(&r.at)?;
        let node_named = |on: &Spanned<String>| {
            names
                .get(on.get_ref().trim())
                .copied()
                .ok_or_else(|| l.at(on, format!("no host or router named `{}`", on.get_ref())))
        };
        let action = match (&r.on, &r.cmd, &r.say, &r.link, &r.route) {
            (Some(on), Some(cmd), None, None, None) => {
                let node = node_named(on)?;
                if cmd.get_ref().trim().is_empty() {
                    return Err(l.at(cmd, "empty command"));
                }
                // A tool's message of two lines (iproute2's "Error: …" then
                // "Cannot parse …") is one line here, after the position.
                (l.check)(cmd.get_ref().trim()).map_err(|m| {
                    let lines: Vec<&str> =
                        m.lines().map(str::trim).filter(|s| !s.is_empty()).collect();
                    l.at(cmd, lines.join(" "))
                })?;
                Action::Run {
                    node,
                    cmd: cmd.get_ref().trim().to_string(),
                }
            }
            (None, None, Some(text), None, None) => Action::Say(text.clone()),
            (None, None, None, Some(link), None) => link_change(l, r, link, segments, nodes)?,
            (Some(on), None, None, None, Some(route)) => {
                route_change(l, node_named(on)?, &nodes[node_named(on)?].name, route)?
            }
            _ => {
                return Err(l.at(
                    &r.at,
                    "a [[run]] entry needs `on` and `cmd`, or `say`, or `link` (with `down`, \
                     `up` or `set`), or `on` and `route`",
                ))
            }
        };
        timeline.push((TimelineEntry { at, action }, r));
    }
    // Stable: entries at the same time keep their order in the file.
    timeline.sort_by_key(|(e, _)| e.at);
    // Each change leaves every direction it touches with what netem would
    // take: reordering needs a delay then too.
    let mut sending: Vec<Vec<LinkParams>> = segments.iter().map(|s| s.sending.clone()).collect();
    for (e, r) in &timeline {
        if let Action::Impair {
            segment,
            senders,
            change,
            fields,
            ..
        } = &e.action
        {
            for &m in senders {
                let now = &mut sending[*segment][m];
                fields.apply(change, now);
                // (A change of neither the delay nor the reordering cannot
                // break what held before.)
                let set = r.set.as_ref();
                if let Some(k) = set.and_then(|s| s.reorder.as_ref()) {
                    reorder_with_delay(l, now, k, "")?;
                } else if let Some(k) = set.and_then(|s| s.delay.as_ref()) {
                    reorder_with_delay(l, now, k, " (the link keeps its reordering)")?;
                }
            }
        }
    }
    Ok(timeline.into_iter().map(|(e, _)| e).collect())
}

/// `link = "NAME"` with `down = true`, `up = true` or `set = {...}`, and
/// perhaps `direction`.
fn link_change(
    l: &Loader<'_>,
    r: &RawRun,
    link: &Spanned<String>,
    segments: &[SegmentSpec],
    nodes: &[NodeSpec],
) -> Res<Action> {
    let name = link.get_ref().trim();
    let Some(segment) = segments.iter().position(|s| s.name == name) else {
        let known: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
        return Err(l.at(
            link,
            format!("no link named `{name}` (links: {})", known.join(", ")),
        ));
    };
    let seg = &segments[segment];
    let (senders, which) = match r.direction.as_ref().map(|d| d.get_ref().trim()) {
        None | Some("both") => ((0..seg.members.len()).collect(), String::new()),
        Some("forward") if seg.members.len() == 2 => (vec![0], " (forward)".to_string()),
        Some("reverse") if seg.members.len() == 2 => (vec![1], " (reverse)".to_string()),
        Some(other) => {
            // On a LAN: the direction of one member, by its name.
            match seg
                .members
                .iter()
                .position(|(n, _)| nodes[*n].name == other)
            {
                Some(m) => (vec![m], format!(" (from {other})")),
                None => {
                    let d = r.direction.as_ref().expect("matched");
                    return Err(l.at(
                        d,
                        "direction is `forward` (what the first end sends), `reverse`, `both`, \
                         or on a LAN the name of a member",
                    ));
                }
            }
        }
    };
    match (r.down, r.up, &r.set) {
        (Some(true), None, None) | (None, Some(false), None) => Ok(Action::Link {
            segment,
            senders,
            up: false,
            link: format!("{name}{which}"),
        }),
        (Some(false), None, None) | (None, Some(true), None) => Ok(Action::Link {
            segment,
            senders,
            up: true,
            link: format!("{name}{which}"),
        }),
        (None, None, Some(set)) => {
            if let Some(d) = &set.drop {
                return Err(l.at(
                    d,
                    "`drop` is a link's own key (it numbers the packets from the start of the run), not a change",
                ));
            }
            let empty = set.delay.is_none()
                && set.jitter.is_none()
                && set.rate.is_none()
                && set.queue.is_none()
                && set.loss.is_none()
                && set.duplicate.is_none()
                && set.reorder.is_none()
                && set.corrupt.is_none();
            if empty {
                return Err(l.at(
                    link,
                    "`set` changes nothing: name delay, jitter, rate, queue, loss, duplicate, reorder or corrupt",
                ));
            }
            let mut change = LinkParams::default();
            l.apply(&mut change, set)?;
            let fields = ParamFields {
                delay: set.delay.is_some(),
                jitter: set.jitter.is_some(),
                rate: set.rate.is_some(),
                queue: set.queue.is_some(),
                loss: set.loss.is_some(),
                duplicate: set.duplicate.is_some(),
                reorder: set.reorder.is_some(),
                corrupt: set.corrupt.is_some(),
            };
            let mut what = Vec::new();
            for (given, key, value) in [
                (&set.delay, "delay", None),
                (&set.jitter, "jitter", None),
                (&set.rate, "rate", None),
                (&set.loss, "loss", None),
                (&set.duplicate, "duplicate", None),
                (&set.reorder, "reorder", None),
                (&set.corrupt, "corrupt", None::<String>),
            ] {
                if let Some(v) = given {
                    what.push(format!(
                        "{key} {}",
                        value.unwrap_or_else(|| v.get_ref().clone())
                    ));
                }
            }
            if let Some(q) = &set.queue {
                what.push(format!("queue {}", q.get_ref()));
            }
            Ok(Action::Impair {
                segment,
                senders,
                change,
                fields,
                text: format!("link {name}{which}: {}", what.join(", ")),
            })
        }
        _ => Err(l.at(
            link,
            "a link change needs exactly one of `down = true`, `up = true` or `set = { ... }`",
        )),
    }
}

/// `route = "add DEST via GATEWAY"` or `"del DEST"` (DEST a prefix or
/// `default`).
fn route_change(l: &Loader<'_>, node: usize, name: &str, route: &Spanned<String>) -> Res<Action> {
    let words: Vec<&str> = route.get_ref().split_whitespace().collect();
    let dest = |w: &str| -> Res<Cidr> {
        if w == "default" {
            return Ok(Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid"));
        }
        w.parse::<Cidr>()
            .map(|c| c.network())
            .map_err(|e| l.at(route, format!("bad destination `{w}`: {e}")))
    };
    match words.as_slice() {
        ["add", d, "via", gw] => {
            let via: Ipv4Addr = gw
                .parse()
                .map_err(|_| l.at(route, format!("bad gateway `{gw}`")))?;
            Ok(Action::Route {
                node,
                dest: dest(d)?,
                via: Some(via),
                text: format!("{name}: route add {d} via {gw}"),
            })
        }
        ["del", d] => Ok(Action::Route {
            node,
            dest: dest(d)?,
            via: None,
            text: format!("{name}: route del {d}"),
        }),
        _ => Err(l.at(
            route,
            "write a route change as `add DEST via GATEWAY` or `del DEST` (DEST a prefix or `default`)",
        )),
    }
}

/// `s` with control characters other than newlines and tabs escaped
/// (`\u{1b}`), so that a scenario's text cannot drive the terminal.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The `[[file]]`s put on nodes before the run.
fn files(l: &Loader<'_>, raw: &RawScenario, names: &BTreeMap<String, usize>) -> Res<Vec<FileSpec>> {
    let mut files: Vec<FileSpec> = Vec::new();
    // (node, path) of the files so far, ordered: the checks below look up
    // neighbours and ancestors instead of comparing with every file.
    let mut taken: std::collections::BTreeSet<(usize, String)> = Default::default();
    // Generated files are made in memory before the run: bounded
    // together, not only each.
    let mut generated_total: u64 = 0;
    for f in &raw.file {
        let node = *names.get(f.on.get_ref().trim()).ok_or_else(|| {
            l.at(
                &f.on,
                format!("no host or router named `{}`", f.on.get_ref()),
            )
        })?;
        let path = f.path.get_ref();
        if !path.starts_with('/') {
            return Err(l.at(&f.path, format!("`{path}` is not an absolute path")));
        }
        let Some(norm) = tcplab_host::fs::normalize(path) else {
            return Err(l.at(&f.path, format!("`{path}` goes above `/`")));
        };
        if norm == "/" {
            return Err(l.at(&f.path, "a file needs a name, not just `/`"));
        }
        if path.ends_with('/') {
            return Err(l.at(&f.path, format!("`{path}` names a directory, not a file")));
        }
        if tcplab_host::fs::is_skeleton_dir(&norm) {
            return Err(l.at(
                &f.path,
                format!("`{norm}` is a directory on every host, not a file"),
            ));
        }
        if taken.contains(&(node, norm.clone())) {
            return Err(l.at(&f.path, format!("`{norm}` is given twice on this node")));
        }
        // A file cannot also be a directory of another (`/x` and `/x/y`):
        // the file system would keep only one of them. Files below this
        // one sort right after `norm/`; its ancestors are its prefixes.
        let below = format!("{norm}/");
        let under = taken
            .range((node, below.clone())..)
            .next()
            .filter(|(n, p)| *n == node && p.starts_with(&below))
            .map(|(_, p)| p.clone());
        let above = norm
            .match_indices('/')
            .skip(1)
            .map(|(i, _)| norm[..i].to_string())
            .find(|a| taken.contains(&(node, a.clone())));
        if let Some(other) = under.or(above) {
            return Err(l.at(
                &f.path,
                format!("`{norm}` and `{other}` cannot both be files on this node"),
            ));
        }
        taken.insert((node, norm.clone()));
        let content = match (&f.text, &f.size) {
            (Some(t), None) => FileContent::Text(t.clone()),
            (None, Some(sz)) => {
                let n = crate::units::parse_size(sz.get_ref()).map_err(|m| l.at(sz, m))?;
                if n > 1 << 30 {
                    return Err(l.at(
                        sz,
                        format!(
                            "`{}` is more than a generated file's limit, 1GiB",
                            sz.get_ref()
                        ),
                    ));
                }
                generated_total += n;
                if generated_total > 2 << 30 {
                    return Err(l.at(
                        sz,
                        "the scenario's generated files add up to more than 2GiB, the limit for all of them together",
                    ));
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
    Ok(files)
}

fn subnets_of(nodes: &[NodeSpec], n: usize) -> Vec<Cidr> {
    nodes[n].ifaces.iter().map(|i| i.addr.network()).collect()
}

fn set_mtu(nodes: &mut [NodeSpec], members: &[(usize, usize)], mtu: usize) {
    for &(n, i) in members {
        nodes[n].ifaces[i].mtu = mtu;
    }
}

/// One end of a link or LAN as written: `name` or `name:address`.
struct End<'s> {
    span: &'s Spanned<String>,
    node: usize,
    addr: Option<Ipv4Addr>,
}

/// The interface of end `k` on a subnet that the other ends share, when
/// the end names no address.
fn shared_iface(l: &Loader<'_>, nodes: &[NodeSpec], parsed: &[End<'_>], k: usize) -> Res<usize> {
    let end = &parsed[k];
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
        [one] => Ok(one),
        [] => {
            let me = &nodes[end.node];
            // The same network written with different prefix lengths
            // (10.0.1.3/16 against 10.0.1.1/24): say so, not only that
            // they share none.
            for i in &me.ifaces {
                for &o in &others {
                    for j in &nodes[o].ifaces {
                        if i.addr.prefix_len() != j.addr.prefix_len()
                            && (i.addr.contains(j.addr.address())
                                || j.addr.contains(i.addr.address()))
                        {
                            return Err(l.at(
                                end.span,
                                format!(
                                    "`{}` ({}) and `{}` ({}) are on one network with different prefix lengths (/{} and /{}): give both ends the same",
                                    me.name,
                                    i.addr,
                                    nodes[o].name,
                                    j.addr,
                                    i.addr.prefix_len(),
                                    j.addr.prefix_len()
                                ),
                            ));
                        }
                    }
                }
            }
            let addrs: Vec<String> = me.ifaces.iter().map(|i| i.addr.to_string()).collect();
            Err(l.at(
                end.span,
                format!(
                    "`{}` ({}) shares no subnet with the other end of this link",
                    me.name,
                    addrs.join(", ")
                ),
            ))
        }
        _ => Err(l.at(
            end.span,
            format!(
                "`{}` has several addresses on this link's subnets; name one as \"{}:ADDRESS\"",
                nodes[end.node].name, nodes[end.node].name
            ),
        )),
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
            None => shared_iface(l, nodes, &parsed, k)?,
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
