//! Host names: a hosts table shared by the hosts of a network (what
//! `/etc/hosts` is to a machine). DNS comes on top of it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Names and addresses, both ways.
#[derive(Debug, Clone, Default)]
pub struct Names {
    by_name: BTreeMap<String, Ipv4Addr>,
    by_addr: BTreeMap<Ipv4Addr, String>,
}

impl Names {
    /// Add a name; the first name given for an address is its reverse name.
    pub fn add(&mut self, name: &str, addr: Ipv4Addr) {
        self.by_name
            .entry(name.to_ascii_lowercase())
            .or_insert(addr);
        self.by_addr.entry(addr).or_insert_with(|| name.to_string());
    }

    /// The address of `name`: a dotted quad, or a name in the table.
    pub fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        if let Ok(a) = name.parse::<Ipv4Addr>() {
            return Some(a);
        }
        if name.eq_ignore_ascii_case("localhost") {
            return Some(Ipv4Addr::LOCALHOST);
        }
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// The name of `addr`, if it has one.
    pub fn reverse(&self, addr: Ipv4Addr) -> Option<&str> {
        if addr == Ipv4Addr::LOCALHOST {
            return Some("localhost");
        }
        self.by_addr.get(&addr).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Ipv4Addr)> {
        self.by_name.iter().map(|(n, a)| (n.as_str(), *a))
    }
}
