//! Static routes computed from the topology, for routers that do not list
//! their own: what a routing protocol would converge to, by hop count.
//!
//! For every router and every subnet it is not attached to, the route goes
//! to the neighbour on the shortest path (breadth-first over routers; hosts
//! do not forward) towards the nearest router attached to that subnet, or a
//! host on it when no router is. Ties go to the node declared first, so the
//! result is the same on every run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

use tcplab_wire::Cidr;

use crate::scenario::{NodeKind, Scenario};

/// Routes (destination, gateway) for node `r`.
pub fn routes_for(s: &Scenario, r: usize) -> Vec<(Cidr, Ipv4Addr)> {
    // The segments each node is on: a node's neighbours are the other
    // members of its segments (a LAN's members are not listed pairwise,
    // which would take memory with the square of its size).
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); s.nodes.len()];
    for (k, seg) in s.segments.iter().enumerate() {
        for &(a, _) in &seg.members {
            on[a].push(k);
        }
    }
    // Breadth-first from r, expanding only through routers.
    let mut dist: Vec<Option<usize>> = vec![None; s.nodes.len()];
    let mut first_hop: Vec<Option<Ipv4Addr>> = vec![None; s.nodes.len()];
    let mut queue = VecDeque::new();
    dist[r] = Some(0);
    queue.push_back(r);
    while let Some(n) = queue.pop_front() {
        if n != r && s.nodes[n].kind != NodeKind::Router {
            continue;
        }
        let d = dist[n].unwrap_or(0);
        for &k in &on[n] {
            for &(m, mi) in &s.segments[k].members {
                if m == n || dist[m].is_some() {
                    continue;
                }
                dist[m] = Some(d + 1);
                let addr = s.nodes[m].ifaces[mi].addr.address();
                first_hop[m] = if n == r { Some(addr) } else { first_hop[n] };
                queue.push_back(m);
            }
        }
    }
    let own: BTreeSet<Cidr> = s.nodes[r].ifaces.iter().map(|i| i.addr.network()).collect();
    // Each attached subnet with the nodes on it, in declaration order.
    let mut subnets: BTreeMap<Cidr, Vec<usize>> = BTreeMap::new();
    for (n, node) in s.nodes.iter().enumerate() {
        for i in &node.ifaces {
            if i.segment.is_some() {
                let on_it = subnets.entry(i.addr.network()).or_default();
                if on_it.last() != Some(&n) {
                    on_it.push(n);
                }
            }
        }
    }
    let mut routes = Vec::new();
    for (subnet, nodes) in &subnets {
        if own.contains(subnet) {
            continue;
        }
        let best = nodes
            .iter()
            .filter_map(|&n| Some((n, dist[n]?)))
            .filter(|&(n, _)| n != r)
            .min_by_key(|&(n, d)| (s.nodes[n].kind != NodeKind::Router, d, n));
        if let Some((n, _)) = best {
            if let Some(hop) = first_hop[n] {
                routes.push((*subnet, hop));
            }
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load;

    #[test]
    fn chain_of_routers() {
        let s = load(
            "t",
            r#"
[[host]]
name = "a"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
[[host]]
name = "b"
addr = "10.0.3.2/24"
gateway = "10.0.3.1"
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.12.1/30"]
[[router]]
name = "r2"
addrs = ["10.0.12.2/30", "10.0.23.1/30"]
[[router]]
name = "r3"
addrs = ["10.0.23.2/30", "10.0.3.1/24"]
[[link]]
ends = ["a", "r1"]
[[link]]
ends = ["r1", "r2"]
[[link]]
ends = ["r2", "r3"]
[[link]]
ends = ["r3", "b"]
"#,
        )
        .unwrap();
        let r1 = routes_for(&s, s.node_index("r1").unwrap());
        let show: Vec<String> = r1.iter().map(|(d, g)| format!("{d} via {g}")).collect();
        assert_eq!(
            show,
            ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/30 via 10.0.12.2"]
        );
        let r2 = routes_for(&s, s.node_index("r2").unwrap());
        let show: Vec<String> = r2.iter().map(|(d, g)| format!("{d} via {g}")).collect();
        assert_eq!(
            show,
            ["10.0.1.0/24 via 10.0.12.1", "10.0.3.0/24 via 10.0.23.2"]
        );
    }
}
