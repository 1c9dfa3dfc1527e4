//! Name resolution for the tools, as glibc's `getaddrinfo` and
//! `getnameinfo` do it: the hosts table first, then DNS through the host's
//! resolver settings (`nameserver`, `search`, `ndots`, `timeout`,
//! `attempts`), each server tried in turn.

use std::net::{Ipv4Addr, SocketAddrV4};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use tcplab_host::Host;

use crate::dns::client::{query, reverse_name, QueryOptions};
use crate::dns::zone::key;

/// A word that can be a host's name rather than an address (letters,
/// digits, `-`, `_` and dots, not starting with a digit), as the filters
/// of tcpdump and ss tell a name to look up from a malformed address.
pub fn is_host_name(w: &str) -> bool {
    w.len() <= 253
        && w.starts_with(|c: char| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a name did not resolve, as `getaddrinfo` would say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `EAI_NONAME`: the name does not exist.
    #[error("Name or service not known")]
    NoName,
    /// `EAI_AGAIN`: no server answered.
    #[error("Temporary failure in name resolution")]
    Again,
}

/// What one DNS question came to.
enum Outcome {
    /// The data, and the name that holds it (the end of the CNAME chain).
    Found(Vec<RData>, Name),
    /// NXDOMAIN or no data of the type: try the next candidate name.
    Missing,
    /// No server answered.
    NoServer,
}

async fn ask(host: &Host, name: &Name, qtype: RecordType) -> Outcome {
    let conf = host.resolver();
    let opts = QueryOptions {
        timeout: conf.timeout,
        tries: conf.attempts,
        ..QueryOptions::default()
    };
    for &ns in &conf.nameservers {
        let server = SocketAddrV4::new(ns, 53);
        let Some(resp) = query(host, server, name, qtype, opts, &mut |_| {}).await else {
            continue;
        };
        let m = resp.message;
        match m.metadata.response_code {
            ResponseCode::NoError => {}
            ResponseCode::NXDomain => return Outcome::Missing,
            // SERVFAIL, REFUSED: ask the next server.
            _ => continue,
        }
        // Follow the CNAME chain within the answer.
        let mut want = key(name);
        let mut owner = name.clone();
        let mut found = Vec::new();
        for _ in 0..8 {
            let mut next = None;
            for r in &m.answers {
                if key(&r.name) != want {
                    continue;
                }
                match &r.data {
                    RData::CNAME(c) => next = Some(c.0.clone()),
                    d if d.record_type() == qtype => {
                        owner = r.name.clone();
                        found.push(d.clone());
                    }
                    _ => {}
                }
            }
            match next {
                Some(n) if found.is_empty() => {
                    want = key(&n);
                    owner = n;
                }
                _ => break,
            }
        }
        return if found.is_empty() {
            Outcome::Missing
        } else {
            Outcome::Found(found, owner)
        };
    }
    Outcome::NoServer
}

/// The names glibc tries for `name` (RFC 1535's advice as `ndots` encodes
/// it): as given first if it has at least `ndots` dots, else after the
/// search domains; only as given if it ends in a dot.
fn candidates(host: &Host, name: &str) -> Vec<Name> {
    let conf = host.resolver();
    let mut out = Vec::new();
    let mut push = |s: String| {
        if let Ok(mut n) = Name::from_ascii(&s) {
            n.set_fqdn(true);
            out.push(n);
        }
    };
    if name.ends_with('.') {
        push(name.to_string());
        return out;
    }
    let dots = name.matches('.').count();
    if dots >= conf.ndots {
        push(format!("{name}."));
    }
    for d in &conf.search {
        push(format!("{name}.{d}."));
    }
    if dots < conf.ndots {
        push(format!("{name}."));
    }
    out
}

/// A dotted quad, or a name from the hosts table or DNS.
pub async fn lookup(host: &Host, name: &str) -> Result<Ipv4Addr, ResolveError> {
    lookup_canonical(host, name).await.map(|(addr, _)| addr)
}

/// As [`lookup`], with the canonical name `getaddrinfo` gives for
/// `AI_CANONNAME`: the name as given for an address or a hosts-table
/// entry; from DNS, the fully qualified name that holds the address (the
/// end of a CNAME chain), without the final dot.
pub async fn lookup_canonical(host: &Host, name: &str) -> Result<(Ipv4Addr, String), ResolveError> {
    if let Ok(addr) = name.parse::<Ipv4Addr>() {
        return Ok((addr, name.to_string()));
    }
    if let Some(addr) = host.lookup(name.trim_end_matches('.')) {
        return Ok((addr, name.to_string()));
    }
    if host.resolver().nameservers.is_empty() || name.len() > 253 {
        return Err(ResolveError::NoName);
    }
    let mut no_server = false;
    for candidate in candidates(host, name) {
        match ask(host, &candidate, RecordType::A).await {
            Outcome::Found(data, owner) => {
                if let Some(RData::A(a)) = data.first() {
                    let canonical = owner.to_ascii();
                    let canonical = canonical.strip_suffix('.').unwrap_or(&canonical);
                    return Ok((a.0, canonical.to_string()));
                }
            }
            Outcome::Missing => {}
            Outcome::NoServer => no_server = true,
        }
    }
    Err(if no_server {
        ResolveError::Again
    } else {
        ResolveError::NoName
    })
}

/// The name of an address (`getnameinfo` with `NI_NAMEREQD`), if any.
pub async fn reverse(host: &Host, addr: Ipv4Addr) -> Option<String> {
    if let Some(name) = host.reverse(addr) {
        return Some(name);
    }
    if host.resolver().nameservers.is_empty() {
        return None;
    }
    match ask(host, &reverse_name(addr), RecordType::PTR).await {
        Outcome::Found(data, _) => data.into_iter().find_map(|d| match d {
            RData::PTR(p) => {
                let s = p.0.to_ascii();
                Some(s.strip_suffix('.').unwrap_or(&s).to_string())
            }
            _ => None,
        }),
        _ => None,
    }
}
