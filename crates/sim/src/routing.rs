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
    // Neighbours of each node: (neighbour, neighbour's address on the shared segment).
    let mut adj: Vec<Vec<(usize, Ipv4Addr)>> = vec![Vec::new(); s.nodes.len()];
    for seg in &s.segments {
        for &(a, _) in &seg.members {
            for &(b, bi) in &seg.members {
                if a != b {
                    adj[a].push((b, s.nodes[b].ifaces[bi].addr.address()));
                }
            }
        }
    }
    // Breadth-first from r, expanding only through routers.
    let mut dist: BTreeMap<usize, usize> = BTreeMap::new();
    let mut first_hop: BTreeMap<usize, Ipv4Addr> = BTreeMap::new();
    let mut queue = VecDeque::new();
    dist.insert(r, 0);
    queue.push_back(r);
    while let Some(n) = queue.pop_front() {
        if n != r && s.nodes[n].kind != NodeKind::Router {
            continue;
        }
        let d = dist[&n];
        for &(m, addr) in &adj[n] {
            if dist.contains_key(&m) {
                continue;
            }
            dist.insert(m, d + 1);
            let hop = if n == r { addr } else { first_hop[&n] };
            first_hop.insert(m, hop);
            queue.push_back(m);
        }
    }
    let own: BTreeSet<Cidr> = s.nodes[r].ifaces.iter().map(|i| i.addr.network()).collect();
    let mut subnets: BTreeSet<Cidr> = BTreeSet::new();
    for n in &s.nodes {
        for i in &n.ifaces {
            if i.segment.is_some() {
                subnets.insert(i.addr.network());
            }
        }
    }
    let mut routes = Vec::new();
    for subnet in subnets.difference(&own) {
        let best = s
            .nodes
            .iter()
            .enumerate()
            .filter(|(n, node)| {
                *n != r
                    && dist.contains_key(n)
                    && node.ifaces.iter().any(|i| i.addr.network() == *subnet)
            })
            .min_by_key(|(n, node)| (node.kind != NodeKind::Router, dist[n], *n));
        if let Some((n, _)) = best {
            routes.push((*subnet, first_hop[&n]));
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
