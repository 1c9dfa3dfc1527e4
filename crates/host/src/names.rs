//! Host names: a hosts table shared by the hosts of a network (what
//! `/etc/hosts` is to a machine). DNS comes on top of it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Names and addresses, both ways.
#[derive(Debug, Clone, Default)]
pub struct Names {
    by_name: BTreeMap<String, Ipv4Addr>,
    by_addr: BTreeMap<Ipv4Addr, String>,
    /// A hosts file's aliases: the official name of the line each came
    /// from (a name not here is its own).
    official: BTreeMap<String, String>,
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

    /// A hosts file (`/etc/hosts`, hosts(5)): an address, then its names,
    /// `#` to the end of a line a comment; lines of other kinds (IPv6
    /// addresses, words that are no address) skipped.
    pub fn from_hosts_file(text: &str) -> Names {
        let mut names = Names::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(Ok(addr)) = words.next().map(str::parse::<Ipv4Addr>) else {
                continue;
            };
            let mut official = None;
            for name in words {
                let first = *official.get_or_insert(name);
                names.add(name, addr);
                names
                    .official
                    .entry(name.to_ascii_lowercase())
                    .or_insert_with(|| first.to_string());
            }
        }
        names
    }

    /// A name's address and its official name — the first name of the
    /// hosts-file line that lists it, glibc's `h_name` and so
    /// `getaddrinfo`'s canonical name (no dotted quads, no built-in
    /// `localhost`).
    pub fn listed_official(&self, name: &str) -> Option<(Ipv4Addr, String)> {
        let key = name.to_ascii_lowercase();
        let addr = *self.by_name.get(&key)?;
        let official = self
            .official
            .get(&key)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        Some((addr, official))
    }

    /// The name listed first for an address.
    pub fn listed_name(&self, addr: Ipv4Addr) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Ipv4Addr)> {
        self.by_name.iter().map(|(n, a)| (n.as_str(), *a))
    }
}

/// A host's resolver settings: what `/etc/resolv.conf` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Name servers to ask, in order (`nameserver`); none: DNS is not used.
    pub nameservers: Vec<Ipv4Addr>,
    /// Domains tried for names with fewer than `ndots` dots (`search`).
    pub search: Vec<String>,
    /// `options ndots:N` (glibc default 1).
    pub ndots: usize,
    /// `options timeout:N` (glibc default 5 s).
    pub timeout: std::time::Duration,
    /// `options attempts:N` (glibc default 2).
    pub attempts: u32,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: std::time::Duration::from_secs(5),
            attempts: 2,
        }
    }
}
