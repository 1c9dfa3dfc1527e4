//! The routing table: longest-prefix match over connected, static, default
//! and redirect routes.
//!
//! Tables in this project hold tens of routes, so a vector kept sorted by
//! prefix length (longest first, then by insertion) is both the simplest and
//! the fastest structure; a trie would pay off only with thousands.

use core::fmt;
use std::net::Ipv4Addr;

use tcplab_wire::Cidr;

use crate::iface::IfaceId;
use crate::time::Instant;

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteOrigin {
    /// The subnet of an interface address.
    Connected,
    /// Configured by hand or computed by the simulator.
    Static,
    /// Learned from an ICMP redirect (a host route).
    Redirect,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network (host bits zero).
    pub dest: Cidr,
    /// Next hop; `None` when the destination is on the link.
    pub gateway: Option<Ipv4Addr>,
    pub iface: IfaceId,
    pub origin: RouteOrigin,
}

impl Route {
    /// `netstat -r` flags: U (up), G (gateway), H (host route), D (dynamic,
    /// from a redirect).
    pub fn flags(&self) -> String {
        let mut s = String::from("U");
        if self.gateway.is_some() {
            s.push('G');
        }
        if self.dest.prefix_len() == 32 {
            s.push('H');
        }
        if self.origin == RouteOrigin::Redirect {
            s.push('D');
        }
        s
    }
}

impl fmt::Display for Route {
    /// `ip route` style: `10.0.2.0/24 via 10.0.1.1 dev if1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dest.prefix_len() == 0 {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.dest)?;
        }
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev #{}", self.iface.0)?;
        match self.origin {
            RouteOrigin::Connected => f.write_str(" proto kernel scope link"),
            RouteOrigin::Static => Ok(()),
            RouteOrigin::Redirect => f.write_str(" proto redirect"),
        }
    }
}

/// How many routes learned from ICMP redirects a table keeps.
pub const MAX_REDIRECT_ROUTES: usize = 256;

/// How long a route learned from a redirect lasts: Linux keeps it as a
/// route-cache exception for `net.ipv4.route.gc_timeout`, 300 s, after
/// which the next datagram takes the configured route again (and may
/// earn a new redirect).
pub const REDIRECT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// A routing table.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// When each route learned from a redirect expires, by destination.
    learned: Vec<(Cidr, Instant)>,
}

impl RouteTable {
    /// Add a route; a route to the same destination from the same origin is
    /// replaced — except that a connected route replaces only its own
    /// interface's: a second interface numbered in the same subnet (a
    /// tunnel given an address from the LAN's) adds a route of its own
    /// behind the first, which keeps carrying the subnet, as Linux keeps
    /// both `proto kernel` routes and uses the older.
    ///
    /// At most [`MAX_REDIRECT_ROUTES`] routes learned from redirects are
    /// kept: a new one beyond them replaces the oldest, so redirects for
    /// ever new destinations (spoofed ones) cannot grow the table, and the
    /// lookups every datagram makes, without bound.
    pub fn add(&mut self, route: Route) {
        self.insert(route);
    }

    /// `add`, returning the destination of a learned route it pushed out.
    fn insert(&mut self, mut route: Route) -> Option<Cidr> {
        let mut evicted = None;
        route.dest = route.dest.network();
        self.routes.retain(|r| {
            !(r.dest == route.dest
                && r.origin == route.origin
                && (r.origin != RouteOrigin::Connected || r.iface == route.iface))
        });
        if route.origin == RouteOrigin::Redirect {
            let learned = self
                .routes
                .iter()
                .filter(|r| r.origin == RouteOrigin::Redirect)
                .count();
            if learned >= MAX_REDIRECT_ROUTES {
                // Redirect routes are host routes, each added after the
                // host routes before it: the first is the oldest.
                if let Some(i) = self
                    .routes
                    .iter()
                    .position(|r| r.origin == RouteOrigin::Redirect)
                {
                    evicted = Some(self.routes.remove(i).dest);
                }
            }
        }
        let at = self
            .routes
            .iter()
            .position(|r| r.dest.prefix_len() < route.dest.prefix_len())
            .unwrap_or(self.routes.len());
        self.routes.insert(at, route);
        evicted
    }

    /// Add a route learned from a redirect at `now`: it lasts
    /// [`REDIRECT_LIFETIME`] (a new redirect for the destination starts
    /// the time again).
    pub fn add_learned(&mut self, route: Route, now: Instant) {
        let route = Route {
            origin: RouteOrigin::Redirect,
            ..route
        };
        let dest = route.dest.network();
        let evicted = self.insert(route);
        self.learned
            .retain(|(d, _)| *d != dest && Some(*d) != evicted);
        self.learned.push((dest, now + REDIRECT_LIFETIME));
    }

    /// Drop the routes learned from redirects that expired by `now`.
    #[inline]
    pub fn expire(&mut self, now: Instant) {
        // (Called before anything routes at a new time: nearly always
        // with nothing learned.)
        if !self.learned.is_empty() {
            self.expire_learned(now);
        }
    }

    fn expire_learned(&mut self, now: Instant) {
        if self.learned.iter().all(|&(_, t)| t > now) {
            return;
        }
        let gone: Vec<Cidr> = self
            .learned
            .iter()
            .filter(|&&(_, t)| t <= now)
            .map(|&(d, _)| d)
            .collect();
        self.learned.retain(|&(_, t)| t > now);
        self.routes
            .retain(|r| !(r.origin == RouteOrigin::Redirect && gone.contains(&r.dest)));
    }

    /// When the route learned from a redirect to `dest` expires.
    pub fn expires(&self, dest: Cidr) -> Option<Instant> {
        self.learned
            .iter()
            .find(|(d, _)| *d == dest.network())
            .map(|(_, t)| *t)
    }

    /// Remove routes matching `pred`.
    pub fn remove_where(&mut self, pred: impl Fn(&Route) -> bool) {
        self.routes.retain(|r| !pred(r));
    }

    /// The most specific route to `dst`. Among equal prefixes a redirect
    /// wins over a static route, which wins over a connected one, so that a
    /// learned host route overrides what it corrects.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.lookup_where(dst, |_| true)
    }

    /// [`lookup`](Self::lookup) among the routes `keep` accepts.
    pub fn lookup_where(&self, dst: Ipv4Addr, keep: impl Fn(&Route) -> bool) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for r in self.routes.iter().filter(|r| keep(r)) {
            if let Some(b) = best {
                if r.dest.prefix_len() < b.dest.prefix_len() {
                    break;
                }
            }
            if r.dest.contains(dst) {
                match best {
                    Some(b) if b.origin >= r.origin => {}
                    _ => best = Some(r),
                }
            }
        }
        best
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, gw: Option<[u8; 4]>, iface: usize, origin: RouteOrigin) -> Route {
        Route {
            dest: dest.parse().unwrap(),
            gateway: gw.map(Ipv4Addr::from),
            iface: IfaceId(iface),
            origin,
        }
    }

    #[test]
    fn a_second_connected_route_to_a_subnet_stands_behind_the_first() {
        let mut t = RouteTable::default();
        t.add(route("10.0.0.1/24", None, 1, RouteOrigin::Connected));
        t.add(route("10.0.0.5/24", None, 2, RouteOrigin::Connected));
        assert_eq!(t.iter().count(), 2);
        assert_eq!(
            t.lookup(Ipv4Addr::new(10, 0, 0, 2)).unwrap().iface,
            IfaceId(1)
        );
        // The same interface's route is replaced, not doubled.
        t.add(route("10.0.0.9/24", None, 2, RouteOrigin::Connected));
        assert_eq!(t.iter().count(), 2);
        t.remove_where(|r| r.iface == IfaceId(1));
        assert_eq!(
            t.lookup(Ipv4Addr::new(10, 0, 0, 2)).unwrap().iface,
            IfaceId(2)
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = RouteTable::default();
        t.add(route(
            "0.0.0.0/0",
            Some([10, 0, 1, 1]),
            1,
            RouteOrigin::Static,
        ));
        t.add(route("10.0.1.7/24", None, 1, RouteOrigin::Connected));
        t.add(route(
            "10.0.0.0/8",
            Some([10, 0, 1, 9]),
            1,
            RouteOrigin::Static,
        ));
        let r = t.lookup(Ipv4Addr::new(10, 0, 1, 5)).unwrap();
        assert_eq!(r.gateway, None);
        assert_eq!(r.dest.to_string(), "10.0.1.0/24");
        let r = t.lookup(Ipv4Addr::new(10, 9, 9, 9)).unwrap();
        assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 0, 1, 9)));
        let r = t.lookup(Ipv4Addr::new(8, 8, 8, 8)).unwrap();
        assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 0, 1, 1)));
        assert_eq!(r.flags(), "UG");
    }

    #[test]
    fn no_default_no_route() {
        let mut t = RouteTable::default();
        t.add(route("10.0.1.0/24", None, 1, RouteOrigin::Connected));
        assert!(t.lookup(Ipv4Addr::new(10, 0, 2, 1)).is_none());
    }

    #[test]
    fn redirect_overrides_and_replaces() {
        let mut t = RouteTable::default();
        t.add(route(
            "0.0.0.0/0",
            Some([10, 0, 1, 1]),
            1,
            RouteOrigin::Static,
        ));
        t.add(route(
            "10.0.2.2/32",
            Some([10, 0, 1, 3]),
            1,
            RouteOrigin::Redirect,
        ));
        t.add(route(
            "10.0.2.2/32",
            Some([10, 0, 1, 4]),
            1,
            RouteOrigin::Redirect,
        ));
        assert_eq!(t.len(), 2);
        let r = t.lookup(Ipv4Addr::new(10, 0, 2, 2)).unwrap();
        assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 0, 1, 4)));
        assert_eq!(r.flags(), "UGHD");
    }
}
