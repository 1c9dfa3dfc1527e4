//! Zones in RFC 1035 master-file form (§5.1), the subset people write by
//! hand, and the authoritative lookup over them (RFC 1034 §4.3.2).
//!
//! Read: `$ORIGIN`, `$TTL`, comments (`;`), parentheses across lines, `@`
//! for the origin, relative and absolute names, an omitted owner (the
//! previous one), TTL and class in either order, TTLs with units (`1h30m`),
//! quoted strings with `\"` `\\` and `\DDD` escapes; record types A, AAAA,
//! NS, CNAME, SOA, PTR, MX, TXT and SRV. Not read: `$INCLUDE`, `$GENERATE`,
//! classes other than IN and wildcards. NS records below the apex are a
//! delegation: a query at or below them gets a referral (RFC 1034 §4.3.2
//! step 3b), their address records are glue.
//!
//! A zone must start with its SOA; every name must be in the zone; a CNAME
//! may not share its owner with other data (RFC 1034 §3.6.2). Errors name
//! the file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// A zone file could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Records a zone may hold at most (a bound on memory for any file).
pub const MAX_RECORDS: usize = 100_000;

/// One zone's data.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The apex, lower case, with the trailing dot.
    pub origin: String,
    pub soa: Record,
    /// Records by owner (lower case, trailing dot), in file order.
    records: BTreeMap<String, Vec<Record>>,
}

/// The result of a lookup: what an authoritative server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// Authoritative answer (false only for REFUSED).
    pub authoritative: bool,
}

/// The response codes an authoritative server gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    NxDomain,
    Refused,
}

/// A logical line of the file: tokens, and whether the owner was omitted.
struct Line {
    number: usize,
    blank_owner: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone)]
struct Token {
    /// With escapes resolved (`\065` is `A`).
    text: String,
    quoted: bool,
    /// As written, escapes kept: a domain name's `\.` is a dot inside a
    /// label, not between labels (RFC 1035 §5.1).
    raw: String,
}

struct Parser<'a> {
    file: &'a str,
}

impl Parser<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> ZoneError {
        ZoneError {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// Split the text into logical lines (parentheses join physical ones).
    fn lines(&self, text: &str) -> Result<Vec<Line>, ZoneError> {
        let mut out = Vec::new();
        let mut current: Option<Line> = None;
        let mut depth = 0usize;
        let mut open_line = 0;
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            if current.is_none() {
                current = Some(Line {
                    number,
                    blank_owner: raw.starts_with([' ', '\t']),
                    tokens: Vec::new(),
                });
            }
            let line = current.as_mut().expect("set above");
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    ';' => break,
                    ' ' | '\t' | '\r' => {}
                    '(' => {
                        if depth == 0 {
                            open_line = number;
                        }
                        depth += 1;
                    }
                    ')' => {
                        depth = depth
                            .checked_sub(1)
                            .ok_or_else(|| self.err(number, "`)` without `(`"))?;
                    }
                    '"' => {
                        let mut s = String::new();
                        loop {
                            match chars.next() {
                                None => return Err(self.err(number, "unterminated quoted string")),
                                Some('"') => break,
                                Some('\\') => s.push_str(&self.escape(number, &mut chars)?),
                                Some(c) => s.push(c),
                            }
                        }
                        line.tokens.push(Token {
                            raw: s.clone(),
                            text: s,
                            quoted: true,
                        });
                    }
                    c => {
                        let mut s = String::new();
                        let mut raw = String::new();
                        let mut c = c;
                        loop {
                            if c == '\\' {
                                let e = self.escape(number, &mut chars)?;
                                // Kept escaped in the raw form: a digit
                                // escape as its three digits.
                                raw.push('\\');
                                match e.chars().next() {
                                    Some(x) if !x.is_ascii_graphic() || x.is_ascii_digit() => {
                                        raw.push_str(&format!("{:03}", u32::from(x)));
                                    }
                                    Some(x) => raw.push(x),
                                    None => {}
                                }
                                s.push_str(&e);
                            } else {
                                s.push(c);
                                raw.push(c);
                            }
                            match chars.peek() {
                                Some(&n)
                                    if !matches!(n, ' ' | '\t' | '\r' | ';' | '(' | ')' | '"') =>
                                {
                                    c = n;
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        line.tokens.push(Token {
                            text: s,
                            quoted: false,
                            raw,
                        });
                    }
                }
            }
            if depth == 0 {
                let line = current.take().expect("set above");
                if !line.tokens.is_empty() {
                    out.push(line);
                }
            }
        }
        if depth > 0 {
            return Err(self.err(open_line, "`(` is never closed"));
        }
        Ok(out)
    }

    fn escape(
        &self,
        line: usize,
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    ) -> Result<String, ZoneError> {
        match chars.next() {
            Some(d) if d.is_ascii_digit() => {
                let mut v = d.to_digit(10).expect("digit");
                for _ in 0..2 {
                    match chars.next().and_then(|c| c.to_digit(10)) {
                        Some(x) => v = v * 10 + x,
                        None => return Err(self.err(line, "\\DDD needs three digits")),
                    }
                }
                let b = u8::try_from(v).map_err(|_| self.err(line, "\\DDD above 255"))?;
                Ok(char::from(b).to_string())
            }
            Some(c) => Ok(c.to_string()),
            None => Err(self.err(line, "`\\` at the end of a line")),
        }
    }
}

/// A TTL in seconds, or with BIND's units (`1w2d3h4m5s`).
fn parse_ttl(s: &str) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            'w' => 604_800,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        return None;
    }
    u32::try_from(total).ok()
}

/// Lower-case fully qualified text form of a name (the map key).
pub fn key(name: &Name) -> String {
    let mut s = name.to_ascii().to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

fn is_below(name: &str, origin: &str) -> bool {
    name == origin || origin == "." || name.ends_with(&format!(".{origin}"))
}

impl Zone {
    /// Read a zone file. `origin` is the zone's name unless `$ORIGIN` says
    /// otherwise before the first record.
    pub fn parse(file: &str, text: &str, origin: Option<&str>) -> Result<Zone, ZoneError> {
        let p = Parser { file };
        let lines = p.lines(text)?;
        let mut origin: Option<Name> = origin
            .map(|o| {
                absolute_name(o, None)
                    .ok_or_else(|| p.err(0, format!("`{o}` is not a domain name")))
            })
            .transpose()?;
        let mut default_ttl: Option<u32> = None;
        let mut owner: Option<Name> = None;
        let mut last_ttl: Option<u32> = None;
        let mut soa: Option<Record> = None;
        let mut records: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        let mut count = 0usize;
        for line in lines {
            let n = line.number;
            let t = &line.tokens;
            let first = t[0].text.as_str();
            if !line.blank_owner && !t[0].quoted && first.starts_with('$') {
                match first.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => {
                        let [_, o] = &t[..] else {
                            return Err(p.err(n, "$ORIGIN takes one domain name"));
                        };
                        origin = Some(absolute_name(&o.raw, origin.as_ref()).ok_or_else(|| {
                            p.err(n, format!("`{}` is not a domain name", o.raw))
                        })?);
                    }
                    "$TTL" => {
                        let [_, v] = &t[..] else {
                            return Err(p.err(n, "$TTL takes one time value"));
                        };
                        default_ttl = Some(
                            parse_ttl(&v.text)
                                .ok_or_else(|| p.err(n, format!("`{}` is not a TTL", v.text)))?,
                        );
                    }
                    other => {
                        return Err(p.err(
                            n,
                            format!("{other} is not supported (only $ORIGIN and $TTL)"),
                        ))
                    }
                }
                continue;
            }
            let Some(zone_origin) = origin.clone() else {
                return Err(p.err(n, "no origin: start the file with $ORIGIN or name the zone"));
            };
            let mut i = 0;
            if !line.blank_owner {
                owner = Some(if first == "@" {
                    zone_origin.clone()
                } else {
                    absolute_name(&t[0].raw, Some(&zone_origin))
                        .ok_or_else(|| p.err(n, format!("`{}` is not a domain name", t[0].raw)))?
                });
                i = 1;
            }
            let Some(name) = owner.clone() else {
                return Err(p.err(
                    n,
                    "a record needs an owner name (the line starts with a blank)",
                ));
            };
            let mut ttl: Option<u32> = None;
            let mut rtype: Option<String> = None;
            while i < t.len() {
                let word = &t[i].text;
                i += 1;
                if word.eq_ignore_ascii_case("IN") {
                    continue;
                }
                if ["CH", "HS", "CS"]
                    .iter()
                    .any(|c| word.eq_ignore_ascii_case(c))
                {
                    return Err(p.err(n, format!("class {word} is not supported (only IN)")));
                }
                if ttl.is_none() && word.starts_with(|c: char| c.is_ascii_digit()) {
                    ttl = Some(
                        parse_ttl(word)
                            .ok_or_else(|| p.err(n, format!("`{word}` is not a TTL")))?,
                    );
                    continue;
                }
                rtype = Some(word.to_ascii_uppercase());
                break;
            }
            let Some(rtype) = rtype else {
                return Err(p.err(n, "missing record type"));
            };
            let rdata_tokens = &t[i..];
            let rdata = parse_rdata(&p, n, &rtype, rdata_tokens, &zone_origin)?;
            // RFC 2308 §4: without $TTL the previous record's TTL (or the
            // SOA minimum) applies.
            let ttl = match ttl.or(default_ttl).or(last_ttl) {
                Some(v) => v,
                None => match &rdata {
                    RData::SOA(s) => s.minimum,
                    _ => return Err(p.err(n, "no TTL: give one or start the file with $TTL")),
                },
            };
            last_ttl = Some(ttl);
            let k = key(&name);
            let origin_key = key(&zone_origin);
            if soa.is_none() {
                if !matches!(rdata, RData::SOA(_)) {
                    return Err(p.err(n, "the first record of a zone must be its SOA"));
                }
            } else if matches!(rdata, RData::SOA(_)) {
                return Err(p.err(n, "a zone has exactly one SOA"));
            }
            let apex = soa.as_ref().map_or(k.clone(), |s: &Record| key(&s.name));
            if !is_below(&k, &apex) {
                return Err(p.err(
                    n,
                    format!("`{}` is outside the zone {apex}", name.to_ascii()),
                ));
            }
            let _ = origin_key;
            let existing = records.entry(k.clone()).or_default();
            let is_cname = matches!(rdata, RData::CNAME(_));
            if (is_cname && !existing.is_empty())
                || existing.iter().any(|r| matches!(r.data, RData::CNAME(_)))
            {
                return Err(p.err(
                    n,
                    format!(
                        "`{}` has a CNAME and other data (RFC 1034 §3.6.2)",
                        name.to_ascii()
                    ),
                ));
            }
            count += 1;
            if count > MAX_RECORDS {
                return Err(p.err(n, format!("more than {MAX_RECORDS} records")));
            }
            let record = Record::from_rdata(name, ttl, rdata);
            if soa.is_none() {
                soa = Some(record.clone());
            }
            existing.push(record);
        }
        let soa = soa.ok_or_else(|| p.err(0, "the zone has no SOA record"))?;
        Ok(Zone {
            origin: key(&soa.name),
            soa,
            records,
        })
    }

    /// All records, by owner, in file order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values().flatten()
    }

    fn exists(&self, k: &str) -> bool {
        // A name exists if it owns data or something below it does (an
        // empty non-terminal, RFC 8020 §2).
        self.records.contains_key(k)
            || self
                .records
                .keys()
                .any(|other| other.ends_with(&format!(".{k}")))
    }

    /// The negative-answer SOA: its TTL is the smaller of the SOA's TTL and
    /// its minimum (RFC 2308 §3).
    fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::SOA(s) = &self.soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        soa
    }

    /// The zone cut at or above `k` and below the apex, if any: the
    /// highest name on the way down from the apex that owns NS records
    /// (RFC 1034 §4.3.2 step 3b, "a match would take us out of the
    /// authoritative data").
    fn cut_above(&self, k: &str) -> Option<&str> {
        let below = if self.origin == "." {
            k.strip_suffix('.')?
        } else {
            k.strip_suffix(&format!(".{}", self.origin))?
        };
        let labels: Vec<&str> = below.split('.').collect();
        if below.is_empty() || labels.iter().any(|l| l.is_empty()) {
            return None;
        }
        (1..=labels.len()).find_map(|n| {
            let name = if self.origin == "." {
                format!("{}.", labels[labels.len() - n..].join("."))
            } else {
                format!("{}.{}", labels[labels.len() - n..].join("."), self.origin)
            };
            let (owner, records) = self.records.get_key_value(&name)?;
            records
                .iter()
                .any(|r| matches!(r.data, RData::NS(_)))
                .then_some(owner.as_str())
        })
    }

    /// A referral to the zone cut `cut` (RFC 1034 §4.3.2 step 3b): no
    /// answer, not authoritative, the cut's NS records in the authority
    /// section and their addresses (glue) in the additional one.
    fn refer(&self, cut: &str, answer: &mut Answer) {
        answer.authoritative = false;
        for ns in self.records.get(cut).into_iter().flatten() {
            let RData::NS(target) = &ns.data else {
                continue;
            };
            answer.authority.push(ns.clone());
            for a in self.records.get(&key(&target.0)).into_iter().flatten() {
                if matches!(a.data, RData::A(_) | RData::AAAA(_)) && !answer.additional.contains(a)
                {
                    answer.additional.push(a.clone());
                }
            }
        }
    }

    /// Answer a query for `qname` and `qtype` (RFC 1034 §4.3.2, with
    /// CNAMEs followed inside the zone, and a referral at a delegation).
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> Answer {
        let mut answer = Answer {
            rcode: Rcode::NoError,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            authoritative: true,
        };
        let mut k = key(qname);
        if !is_below(&k, &self.origin) {
            answer.rcode = Rcode::Refused;
            answer.authoritative = false;
            return answer;
        }
        for _ in 0..8 {
            if let Some(cut) = self.cut_above(&k) {
                let cut = cut.to_string();
                self.refer(&cut, &mut answer);
                return answer;
            }
            let here = self.records.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(cname) = here.iter().find(|r| matches!(r.data, RData::CNAME(_))) {
                if qtype != RecordType::CNAME && qtype != RecordType::ANY {
                    // A CNAME loop: each record once (an RRset holds no
                    // duplicates, RFC 2181 §5), and the chain ends there.
                    if answer.answers.contains(cname) {
                        return answer;
                    }
                    answer.answers.push(cname.clone());
                    let RData::CNAME(target) = &cname.data else {
                        unreachable!("matched above")
                    };
                    let t = key(&target.0);
                    if !is_below(&t, &self.origin) {
                        return answer;
                    }
                    k = t;
                    continue;
                }
            }
            let matching: Vec<Record> = here
                .iter()
                .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                .cloned()
                .collect();
            if matching.is_empty() {
                if !self.exists(&k) && answer.answers.is_empty() {
                    answer.rcode = Rcode::NxDomain;
                } else if !self.exists(&k) {
                    // The end of a CNAME chain does not exist.
                    answer.rcode = Rcode::NxDomain;
                }
                answer.authority.push(self.negative_soa());
                return answer;
            }
            // RFC 1035 §3.3.9, §3.3.11: addresses of the names an MX, NS or
            // SRV answer points at go in the additional section.
            for r in &matching {
                let target = match &r.data {
                    RData::MX(mx) => Some(&mx.exchange),
                    RData::NS(ns) => Some(&ns.0),
                    RData::SRV(srv) => Some(&srv.target),
                    _ => None,
                };
                if let Some(t) = target {
                    for a in self.records.get(&key(t)).into_iter().flatten() {
                        if matches!(a.data, RData::A(_) | RData::AAAA(_))
                            && !answer.additional.contains(a)
                        {
                            answer.additional.push(a.clone());
                        }
                    }
                }
            }
            answer.answers.extend(matching);
            return answer;
        }
        // A CNAME loop: give what we have.
        answer
    }
}

/// A name from the file: absolute if it ends in a dot, else relative to
/// `origin`.
fn absolute_name(text: &str, origin: Option<&Name>) -> Option<Name> {
    if text.is_empty() || text.len() > 1016 {
        return None;
    }
    if text == "." {
        return Some(Name::root());
    }
    // Labels split at the dots that are not escaped (RFC 1035 §5.1): an
    // escaped character (`\.`, `\ `, `\DDD` in decimal) may be any byte,
    // the others are a host name's.
    let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
    let mut chars = text.chars().peekable();
    let mut absolute = false;
    while let Some(c) = chars.next() {
        let last = labels.last_mut().expect("one at least");
        match c {
            '\\' => match chars.next()? {
                d if d.is_ascii_digit() => {
                    let mut v = d.to_digit(10)?;
                    for _ in 0..2 {
                        v = v * 10 + chars.next()?.to_digit(10)?;
                    }
                    last.push(u8::try_from(v).ok()?);
                }
                e if e.is_ascii() => last.push(e as u8),
                _ => return None,
            },
            '.' if chars.peek().is_none() => absolute = true,
            '.' => labels.push(Vec::new()),
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*') => last.push(c as u8),
            _ => return None,
        }
    }
    let fits = labels.iter().all(|l| (1..=63).contains(&l.len()))
        && labels.iter().map(|l| l.len() + 1).sum::<usize>() <= 254;
    if !fits {
        return None;
    }
    let mut name = Name::from_labels(labels).ok()?;
    if absolute {
        return Some(name);
    }
    name.set_fqdn(false);
    match origin {
        Some(o) => name.append_domain(o).ok(),
        None => {
            name.set_fqdn(true);
            Some(name)
        }
    }
}

fn parse_rdata(
    p: &Parser<'_>,
    n: usize,
    rtype: &str,
    t: &[Token],
    origin: &Name,
) -> Result<RData, ZoneError> {
    let want = |count: usize, form: &str| -> Result<(), ZoneError> {
        if t.len() != count {
            Err(p.err(n, format!("{rtype} takes {form}")))
        } else {
            Ok(())
        }
    };
    let name = |tok: &Token| -> Result<Name, ZoneError> {
        if tok.text == "@" {
            return Ok(origin.clone());
        }
        absolute_name(&tok.raw, Some(origin))
            .ok_or_else(|| p.err(n, format!("`{}` is not a domain name", tok.raw)))
    };
    let num = |tok: &Token| -> Result<u16, ZoneError> {
        tok.text
            .parse()
            .map_err(|_| p.err(n, format!("`{}` is not a number from 0 to 65535", tok.text)))
    };
    let secs = |tok: &Token| -> Result<u32, ZoneError> {
        parse_ttl(&tok.text).ok_or_else(|| p.err(n, format!("`{}` is not a time value", tok.text)))
    };
    Ok(match rtype {
        "A" => {
            want(1, "one IPv4 address")?;
            let a: Ipv4Addr = t[0]
                .text
                .parse()
                .map_err(|_| p.err(n, format!("`{}` is not an IPv4 address", t[0].text)))?;
            RData::A(A(a))
        }
        "AAAA" => {
            want(1, "one IPv6 address")?;
            let a: Ipv6Addr = t[0]
                .text
                .parse()
                .map_err(|_| p.err(n, format!("`{}` is not an IPv6 address", t[0].text)))?;
            RData::AAAA(AAAA(a))
        }
        "NS" => {
            want(1, "one domain name")?;
            RData::NS(NS(name(&t[0])?))
        }
        "CNAME" => {
            want(1, "one domain name")?;
            RData::CNAME(CNAME(name(&t[0])?))
        }
        "PTR" => {
            want(1, "one domain name")?;
            RData::PTR(PTR(name(&t[0])?))
        }
        "MX" => {
            want(2, "a preference and a domain name")?;
            RData::MX(MX::new(num(&t[0])?, name(&t[1])?))
        }
        "SRV" => {
            want(4, "priority, weight, port and target")?;
            RData::SRV(SRV::new(
                num(&t[0])?,
                num(&t[1])?,
                num(&t[2])?,
                name(&t[3])?,
            ))
        }
        "TXT" => {
            if t.is_empty() {
                return Err(p.err(n, "TXT takes one or more strings"));
            }
            if let Some(long) = t.iter().find(|x| x.text.len() > 255) {
                return Err(p.err(
                    n,
                    format!(
                        "a TXT string is at most 255 bytes (this one is {})",
                        long.text.len()
                    ),
                ));
            }
            RData::TXT(TXT::new(t.iter().map(|x| x.text.clone()).collect()))
        }
        "SOA" => {
            want(7, "mname rname serial refresh retry expire minimum")?;
            let serial: u32 = t[2]
                .text
                .parse()
                .map_err(|_| p.err(n, format!("`{}` is not a serial number", t[2].text)))?;
            let as_i32 = |v: u32| i32::try_from(v).map_err(|_| p.err(n, "SOA timer too large"));
            RData::SOA(SOA::new(
                name(&t[0])?,
                name(&t[1])?,
                serial,
                as_i32(secs(&t[3])?)?,
                as_i32(secs(&t[4])?)?,
                as_i32(secs(&t[5])?)?,
                secs(&t[6])?,
            ))
        }
        other => {
            return Err(p.err(
                n,
                format!(
                    "record type `{other}` is not supported (A AAAA NS CNAME SOA PTR MX TXT SRV)"
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const LAB: &str = r#"
$ORIGIN lab.test.
$TTL 300
@       IN SOA ns.lab.test. hostmaster.lab.test. (
            2026112101 ; serial
            1h         ; refresh
            15m        ; retry
            1w         ; expire
            60 )       ; minimum
        IN NS  ns
        IN MX  10 mail
        IN TXT "v=spf1 mx -all"
ns      IN A   10.99.3.2
server  IN A   10.99.3.2
mail    IN A   10.99.3.3
www     IN CNAME server
multi   600 IN A 10.99.3.10
        A 10.99.3.11
_http._tcp IN SRV 0 5 80 server
"#;

    fn q(z: &Zone, name: &str, t: RecordType) -> Answer {
        z.lookup(&Name::from_ascii(name).unwrap(), t)
    }

    #[test]
    fn reads_the_usual_forms() {
        let z = Zone::parse("lab.zone", LAB, None).unwrap();
        assert_eq!(z.origin, "lab.test.");
        assert_eq!(z.records().count(), 11);
        let RData::SOA(soa) = &z.soa.data else {
            panic!()
        };
        assert_eq!(
            (soa.serial, soa.refresh, soa.minimum),
            (2026112101, 3600, 60)
        );
        let multi = q(&z, "multi.lab.test.", RecordType::A);
        assert_eq!(multi.answers.len(), 2);
        // RFC 2308 §4: a record without a TTL takes $TTL's, not the
        // previous record's.
        let ttls: Vec<u32> = multi.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [600, 300]);
    }

    #[test]
    fn a_cname_loop_gives_each_record_once() {
        let text = "$ORIGIN lab.test.\n$TTL 60\n@ SOA ns hm 1 1 1 1 1\nns A 10.0.0.1\nloop1 CNAME loop2\nloop2 CNAME loop1\n";
        let z = Zone::parse("z", text, None).unwrap();
        let a = q(&z, "loop1.lab.test.", RecordType::A);
        assert_eq!(a.answers.len(), 2, "{:?}", a.answers);
        assert_ne!(a.answers[0], a.answers[1]);
    }

    #[test]
    fn lookups_follow_rfc_1034() {
        let z = Zone::parse("lab.zone", LAB, None).unwrap();
        let www = q(&z, "WWW.Lab.Test.", RecordType::A);
        assert_eq!(www.rcode, Rcode::NoError);
        assert_eq!(www.answers.len(), 2, "CNAME then the A it points at");
        assert!(matches!(www.answers[0].data, RData::CNAME(_)));
        let nx = q(&z, "nosuch.lab.test.", RecordType::A);
        assert_eq!(nx.rcode, Rcode::NxDomain);
        assert_eq!(nx.authority.len(), 1);
        assert_eq!(nx.authority[0].ttl, 60, "negative TTL is min(TTL, minimum)");
        let nodata = q(&z, "server.lab.test.", RecordType::MX);
        assert_eq!((nodata.rcode, nodata.answers.len()), (Rcode::NoError, 0));
        let ent = q(&z, "_tcp.lab.test.", RecordType::A);
        assert_eq!(ent.rcode, Rcode::NoError, "an empty non-terminal exists");
        let mx = q(&z, "lab.test.", RecordType::MX);
        assert_eq!(mx.additional.len(), 1, "the exchange's address");
        let out = q(&z, "example.com.", RecordType::A);
        assert_eq!(out.rcode, Rcode::Refused);
        assert!(!out.authoritative);
    }

    /// A root zone delegating `test.`, and `test.` delegating `lab.test.`
    /// with glue: queries below a cut get referrals (RFC 1034 §4.3.2 step
    /// 3b) — the cut's NS records as authority, the glue as additional,
    /// not authoritative — and data beside the cut is still answered.
    #[test]
    fn delegations_give_referrals() {
        let root = Zone::parse(
            "root.zone",
            "@ 60 SOA a.root. hm 1 1 1 1 60\n@ NS a.root.\na.root. A 10.0.0.1\n\
             test. NS ns.test.\nns.test. A 10.0.0.2\n",
            Some("."),
        )
        .unwrap();
        let r = q(&root, "www.lab.test.", RecordType::A);
        assert_eq!((r.rcode, r.answers.len()), (Rcode::NoError, 0));
        assert!(!r.authoritative);
        assert_eq!(r.authority.len(), 1);
        assert!(matches!(&r.authority[0].data, RData::NS(ns) if ns.0.to_ascii() == "ns.test."));
        assert_eq!(r.additional.len(), 1, "the glue");
        // The cut itself, and the glue's own name, are below it too.
        assert!(!q(&root, "test.", RecordType::NS).authoritative);
        assert!(!q(&root, "ns.test.", RecordType::A).authoritative);
        // The root's own data is answered with authority.
        let own = q(&root, "a.root.", RecordType::A);
        assert!(own.authoritative && own.answers.len() == 1);
        let tld = Zone::parse(
            "test.zone",
            "@ 60 SOA ns hm 1 1 1 1 60\n@ NS ns\nns A 10.0.0.2\nlab NS ns.lab\nns.lab A 10.0.0.3\n",
            Some("test."),
        )
        .unwrap();
        let r = q(&tld, "WWW.Lab.test.", RecordType::A);
        assert!(!r.authoritative && r.answers.is_empty());
        assert_eq!(r.additional.len(), 1);
        // Not a cut: a name that only shares a suffix.
        let r = q(&tld, "xlab.test.", RecordType::A);
        assert_eq!(r.rcode, Rcode::NxDomain);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = |text: &str| Zone::parse("z", text, Some("lab.test")).unwrap_err();
        let soa = "@ 60 SOA ns hm 1 1 1 1 1\n";
        let e = bad(&format!("{soa}www A 10.0.0.300\n"));
        assert_eq!(e.to_string(), "z:2: `10.0.0.300` is not an IPv4 address");
        let e = bad(&format!("{soa}www AX 1\n"));
        assert!(e.message.contains("`AX` is not supported"), "{e}");
        let e = bad("www 60 A 10.0.0.1\n");
        assert_eq!(e.message, "the first record of a zone must be its SOA");
        let e = bad(&format!("{soa}www CNAME x\nwww A 10.0.0.1\n"));
        assert_eq!(e.line, 3);
        assert!(e.message.contains("CNAME and other data"), "{e}");
        let e = bad(&format!("{soa}other.test. A 10.0.0.1\n"));
        assert!(e.message.contains("outside the zone"), "{e}");
        let e = bad(&format!("{soa}x TXT \"open\n"));
        assert!(e.message.contains("unterminated"), "{e}");
        let e = bad("@ 60 SOA ns hm (1 1 1\n 1 1\n");
        assert_eq!((e.line, e.message.as_str()), (1, "`(` is never closed"));
        let e = bad(&format!("{soa}$INCLUDE other\n"));
        assert!(e.message.contains("not supported"), "{e}");
        let e = Zone::parse("z", "www 60 A 10.0.0.1\n", None).unwrap_err();
        assert!(e.message.contains("no origin"), "{e}");
    }

    #[test]
    fn escapes_and_units() {
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("2w"), Some(1_209_600));
        assert_eq!(parse_ttl("10x"), None);
        assert_eq!(parse_ttl("1h5"), None);
        let z = Zone::parse(
            "z",
            "@ 60 SOA ns hm 1 1 1 1 1\nt TXT \"say \\\"hi\\\"\" \"\\065\"\n",
            Some("lab.test."),
        )
        .unwrap();
        let t = q(&z, "t.lab.test.", RecordType::TXT);
        let RData::TXT(txt) = &t.answers[0].data else {
            panic!()
        };
        assert_eq!(&*txt.txt_data[0], b"say \"hi\"");
        assert_eq!(&*txt.txt_data[1], b"A");
    }

    /// RFC 1035 §5.1 in names: `\.` is a dot inside a label (the SOA's
    /// mailbox `john\.doe` is one label), `\ ` and `\DDD` any byte.
    #[test]
    fn escapes_in_names_stay_inside_their_label() {
        let z = Zone::parse(
            "z",
            "@ 60 SOA ns john\\.doe 1 1 1 1 1\nd\\.dot A 10.0.0.1\nf\\ g A 10.0.0.2\ne\\065x A 10.0.0.3\n",
            Some("esc.test."),
        )
        .unwrap();
        let RData::SOA(soa) = &z.soa.data else {
            panic!()
        };
        assert_eq!(soa.rname.num_labels(), 3, "{}", soa.rname);
        assert_eq!(soa.rname.to_string(), "john\\.doe.esc.test.");
        // The dotted label is one name; the two labels are another, absent.
        // (Names read as the file reads them: hickory's own parser takes
        // `\DDD` as octal.)
        let ask = |n: &str| {
            z.lookup(&absolute_name(n, None).unwrap(), RecordType::A)
                .answers
                .len()
        };
        assert_eq!(ask("d\\.dot.esc.test."), 1);
        assert_eq!(ask("d.dot.esc.test."), 0);
        assert_eq!(ask("f\\032g.esc.test."), 1);
        assert_eq!(ask("eax.esc.test."), 1);
        // A trailing escaped dot is part of the label, not the root.
        assert!(Zone::parse(
            "z",
            "@ 60 SOA ns hm 1 1 1 1 1\nx\\. A 10.0.0.4\n",
            Some("esc.test.")
        )
        .is_ok());
    }
}
