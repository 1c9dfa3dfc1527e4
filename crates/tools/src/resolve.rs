//! Name resolution for the tools, as glibc's `getaddrinfo` and
//! `getnameinfo` do it: the hosts table first, then DNS through the host's
//! resolver settings (`nameserver`, `search`, `ndots`, `timeout`,
//! `attempts`), each server tried in turn within each attempt.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

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

/// A whole word as `strtoul(.., 0)` reads a number: decimal, octal after
/// a leading `0`, hexadecimal after `0x`; it starts with a digit and is
/// read to its end (strtoul stops after the 0 of "0x" or "08", and what
/// is left makes the word no number).
pub(crate) fn strtoul_whole(p: &str) -> Option<u32> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if !p.starts_with(|c: char| c.is_ascii_digit())
        || digits.is_empty()
        || !digits.chars().all(|c| c.is_digit(radix))
    {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// An address in any form glibc's `inet_aton` takes, as `getaddrinfo`
/// does before it looks a name up: one to four parts separated by dots,
/// each decimal, octal (a leading `0`) or hexadecimal (`0x`); the last
/// part fills the bytes the others leave (`127.1` is 127.0.0.1,
/// `2130706433` and `0x7f000001` too, `010.1.1.1` is 8.1.1.1). Nothing may
/// follow (glibc's `__inet_aton_exact`, which getaddrinfo uses).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        values.push(strtoul_whole(p)?);
    }
    let (last, first) = values.split_last()?;
    // The leading parts are a byte each; the last fills the rest.
    if first.iter().any(|&v| v > 0xff) {
        return None;
    }
    let rest_bits = 8 * (4 - first.len() as u32);
    if rest_bits < 32 && *last >> rest_bits != 0 {
        return None;
    }
    let high = first
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, &v)| acc | (v << (24 - 8 * i as u32)));
    Some(Ipv4Addr::from(high | last))
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

/// How long glibc waits for server `k` of `count` (`send_dg`): the
/// resolver's timeout doubled for each server before it, shared out among
/// the servers for all but the first, at least a second.
fn server_wait(timeout: Duration, k: usize, count: usize) -> Duration {
    let mut wait = timeout.saturating_mul(1u32 << k.min(16));
    if k > 0 {
        // (An integer division of whole seconds.)
        wait = Duration::from_secs(wait.as_secs() / count.max(1) as u64);
    }
    wait.max(Duration::from_secs(1))
}

async fn ask(host: &Host, name: &Name, qtype: RecordType) -> Outcome {
    let conf = host.resolver();
    let count = conf.nameservers.len();
    // glibc's res_send: each attempt asks every server once in turn, so a
    // server that does not answer costs one wait before the next is
    // asked, not all of its attempts.
    let servers = (0..conf.attempts.max(1)).flat_map(|_| conf.nameservers.iter().enumerate());
    for (k, &ns) in servers {
        let server = SocketAddrV4::new(ns, 53);
        let opts = QueryOptions {
            timeout: server_wait(conf.timeout, k, count),
            tries: 1,
            ..QueryOptions::default()
        };
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
/// `AI_CANONNAME`: the address as given; for a hosts-table entry the
/// official name of its line (the first); from DNS, the fully qualified name that holds the address (the
/// end of a CNAME chain), without the final dot.
pub async fn lookup_canonical(host: &Host, name: &str) -> Result<(Ipv4Addr, String), ResolveError> {
    let (addrs, canonical) = lookup_all(host, name).await?;
    Ok((addrs[0], canonical))
}

/// Every address of a name, in the answer's order (never empty), with its
/// canonical name: what `getaddrinfo` lists, for the tools that try each
/// address in turn until one connects (nc, curl).
pub async fn lookup_all(host: &Host, name: &str) -> Result<(Vec<Ipv4Addr>, String), ResolveError> {
    if let Some(addr) = inet_aton(name) {
        return Ok((vec![addr], name.to_string()));
    }
    if let Some((addr, canonical)) = host.lookup_canonical(name.trim_end_matches('.')) {
        // glibc's canonical name for a hosts-file entry is its line's
        // official name, the first (`PING www.example` for `ping www`).
        return Ok((vec![addr], canonical));
    }
    // An empty name is no name: glibc's getaddrinfo says EAI_NONAME
    // without asking (`ping ""`: "Name or service not known").
    if host.resolver().nameservers.is_empty() || name.is_empty() || name.len() > 253 {
        return Err(ResolveError::NoName);
    }
    let mut no_server = false;
    for candidate in candidates(host, name) {
        match ask(host, &candidate, RecordType::A).await {
            Outcome::Found(data, owner) => {
                let addrs: Vec<Ipv4Addr> = data
                    .iter()
                    .filter_map(|d| match d {
                        RData::A(a) => Some(a.0),
                        _ => None,
                    })
                    .collect();
                if !addrs.is_empty() {
                    let canonical = crate::dns::name_text(&owner);
                    let canonical = canonical.strip_suffix('.').unwrap_or(&canonical);
                    return Ok((addrs, canonical.to_string()));
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
                let s = crate::dns::name_text(&p.0);
                Some(s.strip_suffix('.').unwrap_or(&s).to_string())
            }
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc's inet_aton: the short and numeric forms getaddrinfo takes.
    #[test]
    fn addresses_in_every_form_inet_aton_takes() {
        let ok = |s: &str, a: [u8; 4]| assert_eq!(inet_aton(s), Some(Ipv4Addr::from(a)), "{s}");
        ok("127.0.0.1", [127, 0, 0, 1]);
        ok("127.1", [127, 0, 0, 1]);
        ok("10.1.258", [10, 1, 1, 2]);
        ok("2130706433", [127, 0, 0, 1]);
        ok("0x7f000001", [127, 0, 0, 1]);
        ok("0X7F.1", [127, 0, 0, 1]);
        ok("010.124.1.1", [8, 124, 1, 1]);
        ok("10.124.1.01", [10, 124, 1, 1]);
        ok("0", [0, 0, 0, 0]);
        ok("4294967295", [255, 255, 255, 255]);
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1..2",
            "1.2.3.4.5",
            "256.1",
            "1.2.3.256",
            "1.16777216",
            "4294967296",
            "08",
            "0x",
            "0xg",
            "1.2.3.4 ",
            "a.b.c.d",
            "-1",
            "+1",
            "1.2.65536",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad:?}");
        }
    }

    /// glibc's waits: 5 s for a lone server; with two, 5 s and then
    /// 10/2 s; with three, 5, 10/3 (3) and 20/3 (6) s, whole seconds as
    /// its `int seconds`.
    #[test]
    fn each_server_waits_as_glibc_computes() {
        let t = Duration::from_secs(5);
        let secs = |k, n| server_wait(t, k, n).as_secs();
        assert_eq!(secs(0, 1), 5);
        assert_eq!((secs(0, 2), secs(1, 2)), (5, 5));
        assert_eq!((secs(0, 3), secs(1, 3), secs(2, 3)), (5, 3, 6));
        assert_eq!(server_wait(Duration::from_secs(1), 1, 3).as_secs(), 1);
    }
}
