//! DNS as tcpdump's print-domain.c prints it: the message line, its
//! sections under -v, EDNS options, names byte by byte.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, Record};

/// The fixed header of a DNS message (RFC 1035 §4.1.1), read from the
/// bytes as tcpdump reads it, whether or not the rest parses.
struct Header {
    id: u16,
    /// The second and third bytes: QR, opcode, AA, TC, RD; RA, Z, AD,
    /// CD, rcode.
    b2: u16,
    qd: u16,
    an: u16,
    ns: u16,
    ar: u16,
}

impl Header {
    fn read(data: &[u8]) -> Option<Header> {
        let w = |i: usize| Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        Some(Header {
            id: w(0)?,
            b2: w(2)?,
            qd: w(4)?,
            an: w(6)?,
            ns: w(8)?,
            ar: w(10)?,
        })
    }

    fn response(&self) -> bool {
        self.b2 & 0x8000 != 0
    }

    /// print-domain.c's `ns_ops`, by opcode.
    fn ops(&self) -> &'static str {
        const OPS: [&str; 16] = [
            "",
            " inv_q",
            " stat",
            " op3",
            " notify",
            " update",
            " op6",
            " op7",
            " op8",
            " updateA",
            " updateD",
            " updateDA",
            " updateM",
            " updateMA",
            " zoneInit",
            " zoneRef",
        ];
        OPS[usize::from(self.b2 >> 11 & 0xf)]
    }

    /// print-domain.c's `ns_rcode`: the response code's name, the
    /// header's four bits extended by an OPT record's upper eight (RFC 6891
    /// §6.1.3), so BADVERS (16) reads as such. tcpdump's own table, two
    /// names without their space included.
    fn rcode_name(code: u16) -> String {
        const NAMES: [&str; 24] = [
            "",
            " FormErr",
            " ServFail",
            " NXDomain",
            " NotImp",
            " Refused",
            " YXDomain",
            " YXRRSet",
            " NXRRSet",
            " NotAuth",
            " NotZone",
            " Resp11",
            " Resp12",
            " Resp13",
            " Resp14",
            " NoChange",
            " BadVers",
            "Resp17",
            " Resp18",
            " Resp19",
            " Resp20",
            "Resp21",
            " Resp22",
            " BadCookie",
        ];
        NAMES
            .get(usize::from(code))
            .map_or_else(|| format!(" Resp{}", code & 0xfff), |n| n.to_string())
    }

    /// The response code as tcpdump finds it before printing: the
    /// header's bits, with the extended bits of the first OPT record in
    /// the additional section if the walk over the sections before it
    /// stays inside the datagram (otherwise the header's bits alone).
    fn rcode(&self, data: &[u8]) -> u16 {
        let low = self.b2 & 0xf;
        self.opt_rcode_high(data)
            .map_or(low, |high| low | u16::from(high) << 4)
    }

    fn opt_rcode_high(&self, data: &[u8]) -> Option<u8> {
        let word = |at: usize| Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]));
        let mut at = 12;
        for _ in 0..self.qd {
            at = skip_name(data, at)? + 4;
            if at >= data.len() {
                return None;
            }
        }
        for _ in 0..u32::from(self.an) + u32::from(self.ns) {
            at = skip_name(data, at)? + 8;
            let rdlen = usize::from(word(at)?);
            at += 2 + rdlen;
            if at >= data.len() {
                return None;
            }
        }
        for _ in 0..self.ar {
            at = skip_name(data, at)?;
            let kind = word(at)?;
            at += 4;
            if kind == 41 {
                return data.get(at).copied();
            }
            at += 4;
            let rdlen = usize::from(word(at)?);
            at += 2 + rdlen;
            if at >= data.len() {
                return None;
            }
        }
        None
    }

    /// A response's first words: id, opcode, rcode, then `*` (AA), `-`
    /// (no RA), `|` (TC), `$` (AD), and the question count if not one.
    fn response_prefix(&self, data: &[u8]) -> String {
        let b = self.b2;
        let rcode = Self::rcode_name(self.rcode(data));
        let mut s = format!("{}{}{rcode}", self.id, self.ops());
        for (set, mark) in [
            (b & 0x0400 != 0, '*'),
            (b & 0x0080 == 0, '-'),
            (b & 0x0200 != 0, '|'),
            (b & 0x0020 != 0, '$'),
        ] {
            if set {
                s.push(mark);
            }
        }
        if self.qd != 1 {
            let _ = write!(s, " [{}q]", self.qd);
        }
        s
    }

    /// A request's first words: id, opcode, `+` (RD), `%` (CD), any bits
    /// a query should not have (`[b2&3=0x..]`), and the counts that are
    /// out of the ordinary (`[Na]`, `[Nq]`, `[Nn]`, `[Nau]`).
    fn query_prefix(&self) -> String {
        let b = self.b2;
        let mut s = format!("{}{}", self.id, self.ops());
        if b & 0x0100 != 0 {
            s.push('+');
        }
        if b & 0x0010 != 0 {
            s.push('%');
        }
        if b & 0x6cf != 0 {
            let _ = write!(s, " [b2&3=0x{b:x}]");
        }
        // An inverse query carries one answer and may have no question.
        if b >> 11 & 0xf == 1 {
            if self.qd != 0 {
                let _ = write!(s, " [{}q]", self.qd);
            }
            if self.an != 1 {
                let _ = write!(s, " [{}a]", self.an);
            }
        } else {
            if self.an != 0 {
                let _ = write!(s, " [{}a]", self.an);
            }
            if self.qd != 1 {
                let _ = write!(s, " [{}q]", self.qd);
            }
        }
        if self.ns != 0 {
            let _ = write!(s, " [{}n]", self.ns);
        }
        if self.ar != 0 {
            let _ = write!(s, " [{}au]", self.ar);
        }
        s
    }
}

/// tcpdump's `domain_print` for a DNS message: one shorter than the
/// header is `domain [length N < 12] (invalid)`; one whose header reads
/// but whose sections do not parse shows the header's words and where
/// the printing stopped (`[|domain]`).
/// `verbose` (the count of `-v`): from one, each answer names its owner
/// and an SOA shows its fields; from two, a response shows its question
/// and its authority and additional records; from three, each record's
/// TTL in brackets (`ns_rprint`).
pub fn dns(data: &[u8], verbose: u8) -> String {
    let Some(h) = Header::read(data) else {
        return format!("domain [length {} < 12] (invalid)", data.len());
    };
    let mut s = if h.response() {
        h.response_prefix(data)
    } else {
        h.query_prefix()
    };
    let Ok(m) = Message::from_vec(data) else {
        s.push_str(" [|domain]");
        return s;
    };
    if h.response() {
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
    s
}

/// Where a name starting at `at` ends, as print-domain.c's `ns_nskip`
/// walks it: labels up to a zero byte or a compression pointer; an
/// extended label type other than the bit-string label (RFC 2673) ends
/// the walk.
fn skip_name(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *data.get(at)?;
        match len & 0xc0 {
            0xc0 => return Some(at + 2),
            0x40 if len == 0x41 => {
                // A bit-string label: a count of bits (0 meaning 256),
                // then that many bits rounded up to bytes.
                let bits = usize::from(*data.get(at + 1)?);
                let bits = if bits == 0 { 256 } else { bits };
                at += 2 + bits.div_ceil(8);
            }
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + usize::from(len),
            _ => return None,
        }
    }
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
