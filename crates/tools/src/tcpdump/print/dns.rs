//! DNS as tcpdump's print-domain.c prints it: the message line, its
//! sections under -v, EDNS options, names byte by byte.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record};

/// tcpdump's `ns_print` for a DNS message, or `None` if it does not parse.
/// `verbose` (the count of `-v`): from one, each answer names its owner
/// and an SOA shows its fields; from two, a response shows its question
/// and its authority and additional records; from three, each record's
/// TTL in brackets (`ns_rprint`).
pub fn dns(data: &[u8], verbose: u8) -> Option<String> {
    let m = Message::from_vec(data).ok()?;
    let md = &m.metadata;
    let mut s = format!("{}", md.id);
    if md.message_type == MessageType::Response {
        let rcode = match md.response_code {
            ResponseCode::NoError => "",
            ResponseCode::FormErr => " FormErr",
            ResponseCode::ServFail => " ServFail",
            ResponseCode::NXDomain => " NXDomain",
            ResponseCode::NotImp => " NotImp",
            ResponseCode::Refused => " Refused",
            _ => " Resp?",
        };
        s.push_str(rcode);
        if md.authoritative {
            s.push('*');
        }
        if !md.recursion_available {
            s.push('-');
        }
        if md.truncation {
            s.push('|');
        }
        if md.authentic_data {
            s.push('$');
        }
        if m.queries.len() != 1 {
            let _ = write!(s, " [{}q]", m.queries.len());
        }
        // From -vv a response shows its question(s) too (ns_qprint).
        if verbose > 1 {
            for (i, q) in m.queries.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, " q: {}? {}", q.query_type(), dns_name(q.name()));
            }
        }
        let additional = m.additionals.len() + usize::from(m.edns.is_some());
        let _ = write!(
            s,
            " {}/{}/{}",
            m.answers.len(),
            m.authorities.len(),
            additional
        );
        for (i, r) in m.answers.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&record(r, verbose));
        }
        // From -vv the authority and additional sections follow, each
        // after its tag ("ns:", "ar:"), records separated by commas.
        if verbose > 1 {
            other_sections(&mut s, &m, verbose);
        }
    } else {
        if md.recursion_desired {
            s.push('+');
        }
        if md.checking_disabled {
            s.push('%');
        }
        if m.queries.len() != 1 {
            let _ = write!(s, " [{}q]", m.queries.len());
        }
        let additional = m.additionals.len() + usize::from(m.edns.is_some());
        if additional > 0 {
            let _ = write!(s, " [{additional}au]");
        }
        if let Some(q) = m.queries.first() {
            let _ = write!(s, " {}? {}", q.query_type(), dns_name(q.name()));
        }
        // From -vv a query's other sections too: any answers (untagged),
        // then "ns:" and "ar:" — an EDNS query's OPT record.
        if verbose > 1 {
            let answers: Vec<String> = m.answers.iter().map(|r| record(r, verbose)).collect();
            s.push_str(&answers.join(","));
            other_sections(&mut s, &m, verbose);
        }
    }
    let _ = write!(s, " ({})", data.len());
    Some(s)
}

/// The authority and additional sections as `-vv` shows them, the EDNS
/// OPT pseudo-record last among the additional ones (where senders put
/// it): ` ar: . OPT UDPsize=1232 DO [COOKIE 0123456789abcdef]`.
fn other_sections(s: &mut String, m: &Message, verbose: u8) {
    let authority: Vec<String> = m.authorities.iter().map(|r| record(r, verbose)).collect();
    if !authority.is_empty() {
        s.push_str(" ns:");
        s.push_str(&authority.join(","));
    }
    let mut additional: Vec<String> = m.additionals.iter().map(|r| record(r, verbose)).collect();
    if let Some(e) = &m.edns {
        let mut opt = format!(" . OPT UDPsize={}", e.max_payload());
        if e.flags().dnssec_ok {
            opt.push_str(" DO");
        }
        let options: Vec<String> = e
            .options()
            .options
            .iter()
            .map(|(code, o)| {
                edns_option(
                    u16::from(*code),
                    &Vec::<u8>::try_from(o).unwrap_or_default(),
                )
            })
            .collect();
        if !options.is_empty() {
            let _ = write!(opt, " [{}]", options.join(","));
        }
        additional.push(opt);
    }
    if !additional.is_empty() {
        s.push_str(" ar:");
        s.push_str(&additional.join(","));
    }
}

/// One EDNS option as print-domain.c's `eopt_print` shows it: its name,
/// then its data where tcpdump reads it (cookies split into client and
/// server parts, keep-alive in seconds, padding by its length, DNSSEC
/// algorithms by name), else in hex.
pub(super) fn edns_option(code: u16, data: &[u8]) -> String {
    const NAMES: [(u16, &str); 15] = [
        (1, "LLQ"),
        (2, "UL"),
        (3, "NSID"),
        (5, "DAU"),
        (6, "DHU"),
        (7, "N3U"),
        (8, "ECS"),
        (9, "EXPIRE"),
        (10, "COOKIE"),
        (11, "KEEPALIVE"),
        (12, "PADDING"),
        (13, "CHAIN"),
        (14, "KEY-TAG"),
        (16, "CLIENT-TAG"),
        (17, "SERVER-TAG"),
    ];
    let mut s = NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("Opt{code}"), |(_, n)| n.to_string());
    if data.is_empty() {
        return s;
    }
    s.push(' ');
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let alg = |table: &[(u8, &str)], b: &[u8]| {
        b.iter()
            .map(|a| {
                table
                    .iter()
                    .find(|(n, _)| n == a)
                    .map_or_else(|| format!("Alg_{a}"), |(_, t)| t.to_string())
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let invalid = "(invalid)".to_string();
    let text = match code {
        8 => ecs(data).unwrap_or(invalid),
        10 => match data.len() {
            8 => hex(data),
            16..=40 => format!("{} {}", hex(&data[..8]), hex(&data[8..])),
            _ => invalid,
        },
        11 => match data {
            [a, b] => format!("{:.1} sec", f64::from(u16::from_be_bytes([*a, *b])) / 10.0),
            _ => invalid,
        },
        9 => match data {
            [a, b, c, d] => format!("{} sec", u32::from_be_bytes([*a, *b, *c, *d])),
            _ => invalid,
        },
        12 => format!("({})", data.len()),
        14 if data.len() % 2 == 0 => data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]).to_string())
            .collect::<Vec<_>>()
            .join(" "),
        14 => invalid,
        // tcpdump's tables (its "DS" for DSA included).
        5 => alg(
            &[
                (0, "DELETE"),
                (1, "RSAMD5"),
                (2, "DH"),
                (3, "DS"),
                (5, "RSASHA1"),
                (6, "DSA-NSEC3-SHA1"),
                (7, "RSASHA1-NSEC3-SHA1"),
                (8, "RSASHA256"),
                (10, "RSASHA512"),
                (12, "ECC-GOST"),
                (13, "ECDSAP256SHA256"),
                (14, "ECDSAP384SHA384"),
                (15, "ED25519"),
                (16, "ED448"),
                (252, "INDIRECT"),
                (253, "PRIVATEDNS"),
                (254, "PRIVATEOID"),
            ],
            data,
        ),
        6 => alg(
            &[
                (1, "SHA-1"),
                (2, "SHA-256"),
                (3, "GOST_R_34.11-94"),
                (4, "SHA-384"),
            ],
            data,
        ),
        7 => alg(&[(1, "SHA-1")], data),
        _ => hex(data),
    };
    s.push_str(&text);
    s
}

/// An ECS option's `address/source/scope` (RFC 7871), or `None` where
/// tcpdump calls it invalid.
fn ecs(data: &[u8]) -> Option<String> {
    let [f0, f1, source, scope, addr @ ..] = data else {
        return None;
    };
    let family = u16::from_be_bytes([*f0, *f1]);
    let bits = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    let (source, scope) = (u32::from(*source), u32::from(*scope));
    if source > bits || scope > bits || source.div_ceil(8) as usize != addr.len() {
        return None;
    }
    let mut padded = [0u8; 16];
    padded[..addr.len()].copy_from_slice(addr);
    let shown = if family == 1 {
        Ipv4Addr::new(padded[0], padded[1], padded[2], padded[3]).to_string()
    } else {
        std::net::Ipv6Addr::from(padded).to_string()
    };
    Some(format!("{shown}/{source}/{scope}"))
}

/// A domain name as tcpdump's fqdn_print prints it: its labels' bytes
/// as they are (a dot inside a label is not escaped), the unprintable
/// ones in fn_print_char's `M-` and `^` notation, and the root's dot.
pub(super) fn dns_name(name: &hickory_proto::rr::Name) -> String {
    let mut out = String::new();
    for label in name.iter() {
        for &b in label {
            let mut c = b;
            if c >= 0x80 {
                out.push_str("M-");
                c &= 0x7f;
            }
            if !(0x20..0x7f).contains(&c) {
                out.push('^');
                c ^= 0x40;
            }
            out.push(char::from(c));
        }
        out.push('.');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// One answer as `ns_rprint` prints it: ` TYPE data`, after ` owner.`
/// under `-v` and ` [TTL]` under `-vvv`.
fn record(r: &Record, verbose: u8) -> String {
    let name = |n: &hickory_proto::rr::Name| dns_name(n);
    let mut head = String::new();
    if verbose > 0 {
        let _ = write!(head, " {}", name(&r.name));
    }
    if verbose > 2 {
        let _ = write!(head, " [{}]", relts(r.ttl));
    }
    head + &record_data(r, verbose)
}

/// tcpdump's `unsigned_relts_print`: `1d2h`, `5m`, `0s`.
pub(super) fn relts(mut secs: u32) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, name) in [
        (31_536_000, 'y'),
        (604_800, 'w'),
        (86_400, 'd'),
        (3600, 'h'),
        (60, 'm'),
        (1, 's'),
    ] {
        if secs >= unit {
            let _ = write!(out, "{}{name}", secs / unit);
            secs %= unit;
        }
    }
    out
}

fn record_data(r: &Record, verbose: u8) -> String {
    let name = |n: &hickory_proto::rr::Name| dns_name(n);
    match &r.data {
        // The SOA's fields only under -v; its numbers unsigned, as %u.
        RData::SOA(soa) if verbose > 0 => format!(
            " SOA {} {} {} {} {} {} {}",
            name(&soa.mname),
            name(&soa.rname),
            soa.serial,
            soa.refresh as u32,
            soa.retry as u32,
            soa.expire as u32,
            soa.minimum
        ),
        RData::A(a) => format!(" A {}", a.0),
        RData::AAAA(a) => format!(" AAAA {}", a.0),
        RData::CNAME(c) => format!(" CNAME {}", name(&c.0)),
        RData::NS(n) => format!(" NS {}", name(&n.0)),
        RData::PTR(p) => format!(" PTR {}", name(&p.0)),
        RData::MX(mx) => format!(" MX {} {}", name(&mx.exchange), mx.preference),
        RData::SRV(v) => format!(
            " SRV {}:{} {} {}",
            name(&v.target),
            v.port,
            v.priority,
            v.weight
        ),
        RData::TXT(t) => {
            let parts: Vec<String> = t
                .txt_data
                .iter()
                .map(|d| format!("\"{}\"", String::from_utf8_lossy(d)))
                .collect();
            format!(" TXT {}", parts.join(" "))
        }
        other => format!(" {}", other.record_type()),
    }
}
