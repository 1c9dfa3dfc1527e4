//! ss's filter expressions (iproute2's ssfilter): ports with their
//! comparisons, addresses and prefixes, `and`/`or`/`not` and parentheses.

use std::net::Ipv4Addr;

use tcplab_stack::services::{self, Transport};
use tcplab_stack::Cidr;

use crate::resolve::is_host_name;
use crate::sockets::SockRow;
use crate::Usage;

/// A parsed address filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
    True,
    /// A port as ss reads it (strtoul: a number past 65535 is taken, and
    /// matches no socket).
    Port {
        src: bool,
        cmp: Cmp,
        port: u64,
    },
    /// An address (or network), with a port if one was given.
    Addr {
        src: bool,
        net: Option<Cidr>,
        port: Option<u64>,
    },
    /// A local socket's path (`src`) or its peer's (`dst`) against a
    /// pattern, as fnmatch(3) with FNM_CASEFOLD reads it (`/tmp/*`);
    /// written as a path or `unix:PATH`. No internet socket matches.
    Unix {
        src: bool,
        pattern: String,
    },
    /// Terms joined by `and` (or by nothing) — kept flat, so that a long
    /// filter makes no deep tree.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// How deep parentheses and `not` may nest (iproute2's bison parser gives
/// up at 10,000 levels: "memory exhausted").
const MAX_FILTER_DEPTH: usize = 1000;

/// A filter's port as ss reads it: a service name, or digits as strtoul
/// takes them (with a sign too: `-1` wraps, past 65535 none matches).
fn filter_port(p: &str) -> Option<u64> {
    if let Some(port) = services::port(p, Transport::Tcp) {
        return Some(u64::from(port));
    }
    let (negative, digits) = match p.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, p.strip_prefix('+').unwrap_or(p)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(if negative { n.wrapping_neg() } else { n })
}

/// iproute2's complaint about a filter that does not parse (exit 255).
fn filter_syntax(what: &str) -> Usage {
    Usage {
        status: 255,
        ..Usage::new(
            "ss",
            format!("bison bellows (while parsing filter): \"{what}!\" Sorry."),
        )
    }
}

/// iproute2's complaint about a value it cannot read (exit 1).
fn filter_value(message: String) -> Usage {
    Usage {
        status: 1,
        ..Usage::new("ss", message)
    }
}

/// A host name's address, for a filter (see [`Expr::parse`]).
pub(super) type Hosts<'a> = &'a dyn Fn(&str) -> Option<Ipv4Addr>;

/// The host names a filter uses, in order, once each.
pub(super) fn host_names(words: &[String], unix: bool) -> Vec<String> {
    let names = std::cell::RefCell::new(Vec::new());
    let _ = Expr::parse(words, unix, &|n| {
        let mut names = names.borrow_mut();
        if !names.iter().any(|x: &String| x == n) {
            names.push(n.to_string());
        }
        Some(Ipv4Addr::UNSPECIFIED)
    });
    names.into_inner()
}

impl Expr {
    /// The filter; `hosts` gives a host name's address (iproute2 looks
    /// names up as it reads an address), `None` for one it cannot find.
    /// `unix`: the preferred family is the local one (`-x`), so every
    /// address is a path pattern, as iproute2's parse_hostcond reads it
    /// then (`src '*sock'`).
    pub(super) fn parse(words: &[String], unix: bool, hosts: Hosts<'_>) -> Result<Expr, Usage> {
        let mut tokens: Vec<String> = words
            .iter()
            .flat_map(|w| {
                let w = w.replace('(', " ( ").replace(')', " ) ");
                w.split_whitespace().map(String::from).collect::<Vec<_>>()
            })
            .collect();
        if unix {
            let mut address = false;
            for t in &mut tokens {
                if !address {
                    address = matches!(t.as_str(), "src" | "dst");
                } else if !matches!(t.as_str(), "=" | "==" | "eq") {
                    if !t.starts_with("unix:") {
                        t.insert_str(0, "unix:");
                    }
                    address = false;
                }
            }
        }
        if tokens.is_empty() {
            return Ok(Expr::True);
        }
        let mut pos = 0;
        let e = Self::or(&tokens, &mut pos, 0, hosts)?;
        if pos != tokens.len() {
            return Err(filter_syntax("syntax error"));
        }
        Ok(e)
    }

    fn or(t: &[String], pos: &mut usize, depth: usize, hosts: Hosts<'_>) -> Result<Expr, Usage> {
        let mut terms = vec![Self::and(t, pos, depth, hosts)?];
        while t.get(*pos).is_some_and(|w| w == "or" || w == "||") {
            *pos += 1;
            terms.push(Self::and(t, pos, depth, hosts)?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(t: &[String], pos: &mut usize, depth: usize, hosts: Hosts<'_>) -> Result<Expr, Usage> {
        let mut terms = vec![Self::unary(t, pos, depth, hosts)?];
        loop {
            match t.get(*pos).map(String::as_str) {
                Some("and" | "&&") => {
                    *pos += 1;
                }
                Some(w) if w != ")" && w != "or" && w != "||" => {}
                _ => break,
            }
            terms.push(Self::unary(t, pos, depth, hosts)?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary(t: &[String], pos: &mut usize, depth: usize, hosts: Hosts<'_>) -> Result<Expr, Usage> {
        if depth >= MAX_FILTER_DEPTH {
            return Err(filter_syntax("memory exhausted"));
        }
        let w = t
            .get(*pos)
            .ok_or_else(|| filter_syntax("syntax error"))?
            .clone();
        *pos += 1;
        // A word where a value belongs that is not one: ss reads it as an
        // address and says so.
        let not_an_address = |v: &str| {
            filter_value(format!(
                "Error: an inet prefix is expected rather than \"{v}\".\nCannot parse dst/src address."
            ))
        };
        let not_a_port = |v: &str| {
            filter_value(format!(
                "Error: \"{v}\" does not look like a port.\nCannot parse dst/src address."
            ))
        };
        let missing = || filter_syntax("syntax error");
        // The value after `sport`, `dst`, ...: a grammar word there is a
        // syntax error, not a value that cannot be read.
        let value = |at: usize| match t.get(at).map(String::as_str) {
            None | Some("(" | ")" | "and" | "&&" | "or" | "||" | "not" | "!") => Err(missing()),
            Some(v) => Ok(v),
        };
        match w.as_str() {
            "not" | "!" => Ok(Expr::Not(Box::new(Self::unary(t, pos, depth + 1, hosts)?))),
            "(" => {
                let e = Self::or(t, pos, depth + 1, hosts)?;
                if t.get(*pos).map(String::as_str) != Some(")") {
                    return Err(missing());
                }
                *pos += 1;
                Ok(e)
            }
            "sport" | "dport" => {
                // iproute2's ssfilter: `sport [OP] [ADDR]:PORT`.
                let mut v = value(*pos)?;
                let mut cmp = Cmp::Eq;
                if let Some(c) = Cmp::parse(v) {
                    cmp = c;
                    *pos += 1;
                    v = value(*pos)?;
                }
                *pos += 1;
                let p = v.rsplit_once(':').map_or(v, |(_, p)| p);
                let port = filter_port(p).ok_or_else(|| not_a_port(p))?;
                Ok(Expr::Port {
                    src: w == "sport",
                    cmp,
                    port,
                })
            }
            "src" | "dst" => {
                // `dst [=] ADDR[/LEN][:PORT]`, `*:PORT`, `ADDR:*`.
                let mut a = value(*pos)?;
                if matches!(a, "=" | "==" | "eq") {
                    *pos += 1;
                    a = value(*pos)?;
                }
                *pos += 1;
                // iproute2's unix addresses: a path, or `unix:PATH`.
                if let Some(path) = a.strip_prefix("unix:").or(a.starts_with('/').then_some(a)) {
                    return Ok(Expr::Unix {
                        src: w == "src",
                        pattern: path.to_string(),
                    });
                }
                let (host, port) = match a.rsplit_once(':') {
                    // `ADDR:` too (iproute2 reads an empty port as any).
                    Some((h, "*" | "")) => (h, None),
                    Some((h, p)) => {
                        let port = filter_port(p).ok_or_else(|| not_a_port(p))?;
                        (h, Some(port))
                    }
                    None => (a, None),
                };
                // `[ADDR]`, as iproute2 allows around an address.
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                let net = match host {
                    "*" | "" if port.is_some() => None,
                    // `src *`: any address.
                    "*" => None,
                    h if h.contains('/') => {
                        // get_prefix: the address as iproute2 reads it
                        // (`0/0`, `10.1/16`), then its length.
                        let (a, l) = h.split_once('/').unwrap_or((h, "32"));
                        let addr = crate::ip::iproute_addr(a).ok_or_else(|| not_an_address(h))?;
                        let len = l
                            .parse::<u8>()
                            .ok()
                            .and_then(|l| Cidr::new(addr, l))
                            .ok_or_else(|| not_an_address(h))?;
                        Some(len.network())
                    }
                    h => {
                        let addr = match h.parse().ok().or_else(|| {
                            h.starts_with(|c: char| c.is_ascii_digit())
                                .then(|| crate::ip::iproute_addr(h))
                                .flatten()
                        }) {
                            Some(a) => a,
                            None if is_host_name(h) => hosts(h).ok_or_else(|| not_an_address(h))?,
                            None => return Err(not_an_address(h)),
                        };
                        Some(Cidr::host(addr))
                    }
                };
                Ok(Expr::Addr {
                    src: w == "src",
                    net,
                    port,
                })
            }
            // ssfilter's words for what tcplab's sockets do not have (no
            // socket is bound to a device, no cgroups, no record of
            // which ports were bound by connect).
            kw @ ("dev" | "cgroup" | "autobound" | "fwmark" | "mark") => Err(filter_value(
                format!("the filter `{kw}` is not supported in tcplab"),
            )),
            // Any other word is read as an address (`ss dst` is implied).
            other => Err(not_an_address(other)),
        }
    }

    /// Whether `row` passes; `peer_path` names a local socket's peer's
    /// path (by the peer's inode).
    pub(super) fn matches(&self, row: &SockRow, peer_path: &dyn Fn(u64) -> Option<String>) -> bool {
        let peer = row.peer.unwrap_or_else(crate::sockets::wildcard);
        match self {
            Expr::True => true,
            Expr::Port { src, cmp, port } => {
                let end = if *src { row.local } else { peer };
                cmp.holds(u64::from(end.port()), *port)
            }
            Expr::Addr { src, net, port } => {
                let end = if *src { row.local } else { peer };
                net.is_none_or(|n| n.contains(*end.ip()))
                    && port.is_none_or(|p| u64::from(end.port()) == p)
            }
            Expr::Unix { src, pattern } => match &row.unix {
                Some((path, _, peer)) => {
                    let name = if *src { path.clone() } else { peer_path(*peer) };
                    // (An unnamed socket's name is empty to the match.)
                    fnmatch_casefold(pattern, name.as_deref().unwrap_or(""))
                }
                None => false,
            },
            Expr::And(terms) => terms.iter().all(|e| e.matches(row, peer_path)),
            Expr::Or(terms) => terms.iter().any(|e| e.matches(row, peer_path)),
            Expr::Not(a) => !a.matches(row, peer_path),
        }
    }
}

/// fnmatch(3) with FNM_CASEFOLD: `*` any run, `?` one character, `[...]`
/// a set (`!` or `^` negates, ranges with `-`), `\` quotes the next.
fn fnmatch_casefold(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            // An unclosed `[` is itself (glibc).
            Some('[') => match set_match(&p, pi, n[ni]) {
                Some(found) => found,
                None => (n[ni] == '[').then_some(pi + 1),
            },
            Some('\\') if p.get(pi + 1) == Some(&n[ni]) => Some(pi + 2),
            Some(c) if *c == n[ni] && *c != '\\' => Some(pi + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` set at `p[at]` against `c`: `None` if the set is not closed;
/// else the index after it if `c` is in it (or not, negated).
fn set_match(p: &[char], at: usize, c: char) -> Option<Option<usize>> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while let Some(&x) = p.get(i) {
        if x == ']' && !first {
            return Some((found != negate).then_some(i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            found |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= x == c;
            i += 1;
        }
    }
    None
}

/// A port comparison of the filter (iproute2 spells each two ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Cmp {
    fn parse(w: &str) -> Option<Cmp> {
        Some(match w {
            "=" | "==" | "eq" => Cmp::Eq,
            "!=" | "ne" | "neq" => Cmp::Ne,
            ">" | "gt" => Cmp::Gt,
            "<" | "lt" => Cmp::Lt,
            ">=" | "ge" | "geq" => Cmp::Ge,
            "<=" | "le" | "leq" => Cmp::Le,
            _ => return None,
        })
    }

    fn holds(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Gt => a > b,
            Cmp::Lt => a < b,
            Cmp::Ge => a >= b,
            Cmp::Le => a <= b,
        }
    }
}

#[cfg(test)]
mod fnmatch_tests {
    use super::fnmatch_casefold as m;

    #[test]
    fn patterns_as_fnmatch_reads_them() {
        assert!(m("/tmp/*", "/tmp/d.sock") && m("/TMP/D.SOCK", "/tmp/d.sock"));
        assert!(m("/tmp/?.sock", "/tmp/d.sock") && !m("/tmp/?.sock", "/tmp/dd.sock"));
        assert!(m("/tmp/[a-e].sock", "/tmp/d.sock") && !m("/tmp/[!a-e].sock", "/tmp/d.sock"));
        assert!(m("*d*", "/tmp/d.sock") && !m("*x*", "/tmp/d.sock"));
        assert!(m("/tmp/\\*", "/tmp/*") && !m("/tmp/\\*", "/tmp/a"));
        assert!(
            m("/tmp/[a", "/tmp/[a") && !m("/tmp/[a", "/tmp/a"),
            "an unclosed [ is itself"
        );
        assert!(m("*", "") && !m("?", ""));
    }
}
