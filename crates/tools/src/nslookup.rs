//! `nslookup NAME [SERVER]`, as BIND 9.18's nslookup prints it.
//!
//! Options: `-type=T` (also `-query=`, `-q=`, `-qu=`, `-ty=`,
//! `-querytype=`; A, AAAA, NS, CNAME, SOA, PTR, MX, TXT, SRV, ANY),
//! `-port=N`, `-timeout=S`, `-retry=N` (tries), `-vc` (TCP), `-norecurse`,
//! `-domain=NAME` (the search list), `-nosearch`, `-ndots=N`, `-class=IN`,
//! word options cut short as BIND allows (`-norec`), `-debug` (each response's
//! question, answer, authority and additional records, as BIND's
//! `detailsection` prints them, before what nslookup makes of it; every
//! name of the search list then shows as a lookup of its own). An address as NAME asks
//! for its PTR record. The server is SERVER, else the host's
//! `nameserver`s in turn (the next asked when one does not answer in its
//! tries, or answers SERVFAIL or without recursion: `;; Got SERVFAIL reply
//! from ADDR, trying next server`), else 127.0.0.1. A name without a dot is tried with each
//! `search` domain first. The default type asks for A and then AAAA, as
//! nslookup does, and says "No answer" only when neither has any.
//!
//! As BIND's, an unknown option (`*** Invalid option: X`), an unknown type
//! or a bad number is reported on standard output and the lookup goes on;
//! a truncated UDP answer is asked again over TCP (`;; Truncated, retrying
//! in TCP mode.`); an answer from a server taken from the host's
//! resolver settings that does not offer recursion (an authoritative-only
//! server) adds `;; Got recursion not available from ADDR`, as BIND's
//! nslookup checks those servers' RA bit, and the last server's SERVFAIL
//! `;; Got SERVFAIL reply from ADDR`. Exit status 0 with an answer; 1 for NXDOMAIN, SERVFAIL,
//! REFUSED, when no server answers, or for a usage error (the usage on
//! standard error). Interactive mode (no NAME) is not supported: refused.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use tcplab_host::{Host, Output};

use crate::dns::client::{query, reverse_name, QueryOptions, TryError};
use crate::dns::name_text;
use crate::resolve;
use crate::Usage;

#[derive(Debug, Clone, PartialEq)]
pub struct NslookupArgs {
    /// `None`: the default (A, then AAAA; PTR for an address).
    pub qtype: Option<RecordType>,
    pub port: u16,
    pub timeout: Duration,
    pub tries: u32,
    pub tcp: bool,
    pub recurse: bool,
    /// `-debug`: each response's sections before what it says.
    pub debug: bool,
    pub name: String,
    pub server: Option<String>,
    /// `-domain=NAME`: the search list is NAME, not the host's.
    pub domain: Option<String>,
    /// `-search` (the default) / `-nosearch`: whether the search list is
    /// used at all.
    pub use_search: bool,
    /// `-ndots=N`: a name with fewer dots is tried with the search
    /// domains first (1 by default).
    pub ndots: usize,
    /// What nslookup said about its options before looking up, on
    /// standard output (`*** Invalid option: X`, `unknown query type: X`).
    pub warnings: Vec<String>,
}

/// BIND's usage, printed on standard error for too many arguments.
const USAGE: &str = "Usage:
   nslookup [-opt ...]             # interactive mode using default server
   nslookup [-opt ...] - server    # interactive mode using 'server'
   nslookup [-opt ...] host        # just look up 'host' using default server
   nslookup [-opt ...] host server # just look up 'host' using 'server'";

fn record_type(v: &str) -> Option<RecordType> {
    Some(match v.to_ascii_uppercase().as_str() {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "NS" => RecordType::NS,
        "CNAME" => RecordType::CNAME,
        "SOA" => RecordType::SOA,
        "PTR" => RecordType::PTR,
        "MX" => RecordType::MX,
        "TXT" => RecordType::TXT,
        "SRV" => RecordType::SRV,
        "ANY" => RecordType::ANY,
        // RFC 3597 §5: any type by its number.
        other => {
            let n: u16 = other.strip_prefix("TYPE")?.parse().ok()?;
            RecordType::from(n)
        }
    })
}

/// A number option's value, or BIND's complaint (`invalid port 'x': not a
/// valid number`).
fn number<T: std::str::FromStr>(
    what: &str,
    value: &str,
    ok: impl Fn(&T) -> bool,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if ok(&n) => Ok(n),
        Ok(_) => Err(format!("invalid {what} '{value}': out of range")),
        // Digits too many for the type are a number out of range too.
        Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("invalid {what} '{value}': out of range"))
        }
        Err(_) => Err(format!("invalid {what} '{value}': not a valid number")),
    }
}

impl NslookupArgs {
    pub fn parse(args: &[String]) -> Result<NslookupArgs, Usage> {
        let mut a = NslookupArgs {
            qtype: None,
            port: 53,
            timeout: Duration::from_secs(5),
            tries: 3,
            tcp: false,
            recurse: true,
            debug: false,
            name: String::new(),
            server: None,
            domain: None,
            use_search: true,
            ndots: 1,
            warnings: Vec::new(),
        };
        let mut operands = Vec::new();
        for arg in args {
            let Some(opt) = arg.strip_prefix('-').filter(|o| !o.is_empty()) else {
                operands.push(arg.clone());
                continue;
            };
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            // BIND's CHECKOPT: a word option may be cut short to at least
            // `min` letters, in any case.
            let word = |full: &str, min: usize| {
                !opt.contains('=')
                    && opt.len() >= min
                    && opt.len() <= full.len()
                    && full.starts_with(&opt.to_ascii_lowercase())
            };
            let key = if opt.contains('=') {
                key.to_ascii_lowercase()
            } else {
                String::new()
            };
            let result = match key.as_str() {
                _ if word("recurse", 3) => {
                    a.recurse = true;
                    Ok(())
                }
                _ if word("norecurse", 5) => {
                    a.recurse = false;
                    Ok(())
                }
                _ if word("search", 3) || word("defname", 3) => {
                    a.use_search = true;
                    Ok(())
                }
                _ if word("nosearch", 5) || word("nodefname", 5) => {
                    a.use_search = false;
                    Ok(())
                }
                // (BIND's set_search_domain: the list becomes this one,
                // and searching is on.)
                "domain" | "do" => {
                    a.domain = Some(value.trim_end_matches('.').to_string());
                    a.use_search = true;
                    Ok(())
                }
                "ndots" => number("ndots", value, |n: &usize| *n <= 128).map(|n| a.ndots = n),
                "class" | "cl" => {
                    if value.eq_ignore_ascii_case("IN") {
                        Ok(())
                    } else {
                        Err(format!("unknown query class: {value}"))
                    }
                }
                "type" | "query" | "q" | "qu" | "querytype" | "ty" => match record_type(value) {
                    Some(t) => {
                        a.qtype = Some(t);
                        Ok(())
                    }
                    None => Err(format!("unknown query type: {value}")),
                },
                "port" | "po" => number("port", value, |_: &u16| true).map(|p| a.port = p),
                // 0 is the default's 5 s (checked against BIND 9.18: a
                // server that never answers is given up after 5 s).
                "timeout" | "t" => number("timeout", value, |s: &u64| *s <= 0xffff)
                    .map(|s| a.timeout = Duration::from_secs(if s == 0 { 5 } else { s })),
                // Up to INT_MAX, 0 meaning one try (BIND 9.18, checked).
                "retry" | "ret" => number("tries", value, |n: &u32| *n <= i32::MAX as u32)
                    .map(|n| a.tries = n.max(1)),
                _ if word("vc", 2) => {
                    a.tcp = true;
                    Ok(())
                }
                _ if word("novc", 4) => {
                    a.tcp = false;
                    Ok(())
                }
                // BIND reads the first three letters: -deb, -debu, -debug.
                _ if word("debug", 3) => {
                    a.debug = true;
                    Ok(())
                }
                _ if word("nodebug", 5) => {
                    a.debug = false;
                    Ok(())
                }
                _ => Err(format!("*** Invalid option: {opt}")),
            };
            if let Err(w) = result {
                a.warnings.push(w);
            }
        }
        match operands.as_slice() {
            [n] => a.name = n.clone(),
            [n, s] => {
                a.name = n.clone();
                a.server = Some(s.clone());
            }
            [] => {
                return Err(Usage {
                    status: 1,
                    ..Usage::new(
                        "nslookup",
                        "interactive mode is not supported; give a name".into(),
                    )
                })
            }
            _ => {
                return Err(Usage {
                    tool: "nslookup".into(),
                    message: String::new(),
                    usage: Some(USAGE.into()),
                    status: 1,
                    help: None,
                    bare: false,
                })
            }
        }
        // BIND's checks of the name, with its reason.
        let stem = a.name.strip_suffix('.').unwrap_or(&a.name);
        let labels: Vec<&str> = stem.split('.').collect();
        let why = if a.name.is_empty() {
            " (unexpected end of input)"
        } else if labels.iter().any(|l| l.len() > 63) {
            " (label too long)"
        } else if a.name != "." && labels.iter().any(|l| l.is_empty()) {
            " (empty label)"
        } else if stem.len() > 253 {
            " (ran out of space)"
        } else {
            ""
        };
        if !why.is_empty() {
            // (BIND's nslookup exits with 10 then, its fatal().)
            return Err(Usage {
                status: 10,
                ..Usage::new("nslookup", format!("'{}' is not a legal name{why}", a.name))
            });
        }
        Ok(a)
    }
}

/// A name as nslookup prints an owner: without the trailing dot.
fn bare(name: &Name) -> String {
    // (The root is `.`, as BIND's nslookup prints it.)
    if name.is_root() {
        return ".".into();
    }
    let s = name_text(name);
    s.strip_suffix('.').unwrap_or(&s).to_string()
}

/// A TXT string as BIND prints it: `"` and `\` escaped, bytes outside
/// printable ASCII as `\DDD` (decimal).
fn txt_text(d: &[u8]) -> String {
    let mut out = String::new();
    for &b in d {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

/// A name as nslookup prints a target: with the trailing dot.
fn fqdn(name: &Name) -> String {
    let s = name_text(name);
    if s.ends_with('.') {
        s
    } else {
        format!("{s}.")
    }
}

/// A record of the authority or additional section as nslookup prints
/// it: addresses as `NAME\tinternet address = A` (`has AAAA address`),
/// the rest as in the answer section.
fn present_aside(r: &Record) -> Vec<String> {
    match &r.data {
        RData::A(a) => vec![format!("{}\tinternet address = {}", bare(&r.name), a.0)],
        RData::AAAA(a) => vec![format!("{}\thas AAAA address {}", bare(&r.name), a.0)],
        _ => present(r),
    }
}

/// The lines nslookup prints for one answer record.
pub fn present(r: &Record) -> Vec<String> {
    let owner = bare(&r.name);
    match &r.data {
        RData::A(a) => vec![format!("Name:\t{owner}"), format!("Address: {}", a.0)],
        RData::AAAA(a) => vec![format!("Name:\t{owner}"), format!("Address: {}", a.0)],
        RData::CNAME(c) => vec![format!("{owner}\tcanonical name = {}", fqdn(&c.0))],
        RData::NS(n) => vec![format!("{owner}\tnameserver = {}", fqdn(&n.0))],
        RData::PTR(p) => vec![format!("{owner}\tname = {}", fqdn(&p.0))],
        RData::MX(mx) => vec![format!(
            "{owner}\tmail exchanger = {} {}",
            mx.preference,
            fqdn(&mx.exchange)
        )],
        RData::SRV(s) => vec![format!(
            "{owner}\tservice = {} {} {} {}",
            s.priority,
            s.weight,
            s.port,
            fqdn(&s.target)
        )],
        RData::TXT(t) => {
            let parts: Vec<String> = t
                .txt_data
                .iter()
                .map(|d| format!("\"{}\"", txt_text(d)))
                .collect();
            vec![format!("{owner}\ttext = {}", parts.join(" "))]
        }
        RData::SOA(s) => vec![
            owner,
            format!("\torigin = {}", bare(&s.mname)),
            format!("\tmail addr = {}", bare(&s.rname)),
            format!("\tserial = {}", s.serial),
            format!("\trefresh = {}", s.refresh),
            format!("\tretry = {}", s.retry),
            format!("\texpire = {}", s.expire),
            format!("\tminimum = {}", s.minimum),
        ],
        // A type this nslookup does not know: RFC 3597 §5's generic form.
        RData::Unknown { code, rdata } => {
            let mut text = format!("\\# {}", rdata.anything.len());
            if !rdata.anything.is_empty() {
                text.push(' ');
                text.extend(rdata.anything.iter().map(|b| format!("{b:02x}")));
            }
            vec![format!("{owner}\trdata_{} = {text}", u16::from(*code))]
        }
        other => vec![format!(
            "{owner}\trdata_{} = {other}",
            u16::from(other.record_type())
        )],
    }
}

/// `-debug`'s view of a response (BIND 9.18's `detailsection`): the
/// question, then each record of each section as `->  OWNER`, its data
/// and its TTL, between dashed lines.
fn debug_block(m: &Message) -> Vec<String> {
    let mut lines = vec!["------------".to_string(), "    QUESTIONS:".to_string()];
    for q in &m.queries {
        lines.push(format!(
            "\t{}, type = {}, class = {}",
            bare(q.name()),
            q.query_type(),
            q.query_class()
        ));
    }
    for (title, records) in [
        ("    ANSWERS:", &m.answers),
        ("    AUTHORITY RECORDS:", &m.authorities),
        ("    ADDITIONAL RECORDS:", &m.additionals),
    ] {
        lines.push(title.to_string());
        for r in records {
            lines.push(format!("    ->  {}", bare(&r.name)));
            if matches!(r.data, RData::SOA(_)) {
                // The SOA's fields, each on its line, as in an answer.
                lines.extend(present(r).into_iter().skip(1));
            } else {
                let owner = format!("{}\t", bare(&r.name));
                for l in present_aside(r) {
                    lines.push(format!("\t{}", l.strip_prefix(&owner).unwrap_or(&l)));
                }
            }
            lines.push(format!("\tttl = {}", r.ttl));
        }
    }
    lines.push("------------".to_string());
    lines
}

fn rcode_text(c: ResponseCode) -> String {
    match c {
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        // The rest of RFC 2136's and 6895's names, as BIND prints them.
        other => match u16::from(other) {
            6 => "YXDOMAIN".into(),
            7 => "YXRRSET".into(),
            8 => "NXRRSET".into(),
            9 => "NOTAUTH".into(),
            10 => "NOTZONE".into(),
            16 => "BADVERS".into(),
            n => n.to_string(),
        },
    }
}

/// Run nslookup; returns the exit status.
/// The end of the CNAME chain `answers` hold from `name` (the name itself
/// without one); a loop ends where it would come back.
fn chase_cnames(answers: &[Record], name: &Name) -> Name {
    let mut at = name.clone();
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == at => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    at
}

pub async fn run(host: Host, a: NslookupArgs, mut out: Output, mut err: Output) -> i32 {
    for w in &a.warnings {
        out.line(w);
    }
    // The servers to ask: the one named, else resolv.conf's in order
    // (BIND's nslookup moves to the next when one does not answer, or
    // answers SERVFAIL or without recursion).
    let servers: Vec<Ipv4Addr> = match &a.server {
        Some(s) => match resolve::lookup(&host, s).await {
            Ok(ip) => vec![ip],
            Err(e) => {
                // BIND's words: a name that does not exist is "not
                // found", one no server would resolve a "failure".
                let why = match e {
                    resolve::ResolveError::NoName => "not found",
                    resolve::ResolveError::Again => "failure",
                };
                err.line(format!("nslookup: couldn't get address for '{s}': {why}"));
                return 1;
            }
        },
        None => {
            let listed = host.resolver().nameservers.clone();
            if listed.is_empty() {
                vec![Ipv4Addr::LOCALHOST]
            } else {
                listed
            }
        }
    };
    // The server whose answer is shown.
    let mut server_ip = servers[0];
    let opts = QueryOptions {
        timeout: a.timeout,
        tries: a.tries,
        tcp: a.tcp,
        recurse: a.recurse,
        edns: None,
    };
    let reverse = a.name.parse::<Ipv4Addr>().ok();
    let (candidates, types): (Vec<Name>, Vec<RecordType>) = match (reverse, a.qtype) {
        // An address is always looked up by its PTR record, whatever
        // -type says (BIND's nslookup: get_reverse in addlookup).
        (Some(ip), _) => (vec![reverse_name(ip)], vec![RecordType::PTR]),
        _ => {
            let names = candidates(&host, &a.name, &a);
            if names.is_empty() {
                err.line(format!("nslookup: '{}' is not a legal name", a.name));
                return 1;
            }
            let types = match a.qtype {
                None => vec![RecordType::A, RecordType::AAAA],
                Some(t) => vec![t],
            };
            (names, types)
        }
    };
    let mut header_done = false;
    let header = |out: &mut Output, header_done: &mut bool, server_ip: Ipv4Addr| {
        // (The default lookup of an address prints none; one asked for
        // with -type=PTR does.)
        if !*header_done && (reverse.is_none() || a.qtype.is_some()) {
            // The server as it was given (a name stays a name), then its
            // address, as BIND's nslookup prints them.
            let shown = a.server.clone().unwrap_or_else(|| server_ip.to_string());
            out.line(format!("Server:\t\t{shown}"));
            out.line(format!("Address:\t{server_ip}#{}", a.port));
            out.line("");
        }
        *header_done = true;
    };
    let mut last_failure = None;
    // The name (with its search domain) whose lookup failed other than
    // by NXDOMAIN: BIND's nslookup names it.
    let mut failed_on = None;
    for name in &candidates {
        let last_candidate = name == candidates.last().expect("non-empty");
        // With -debug every name of the search list is a lookup shown
        // whole, its own header first.
        if a.debug {
            header_done = false;
        }
        // Whether any of the types had an answer (the default lookup says
        // "No answer" only when neither A nor AAAA has one).
        let mut answered = false;
        let mut failed = false;
        let mut half_failed = false;
        // The name asked: the AAAA half of a default lookup asks for the
        // end of the A answer's CNAME chain (BIND 9.18's nslookup:
        // chase_cnamechain before it adds the AAAA lookup).
        let mut asked = name.clone();
        for (i, &t) in types.iter().enumerate() {
            let mut answer = None;
            // Whether a server before this one answered at all (with a
            // SERVFAIL or without recursion).
            let mut heard = false;
            for (k, &ns) in servers.iter().enumerate() {
                let server = SocketAddrV4::new(ns, a.port);
                // BIND 9.18's nslookup, measured: when the servers before
                // it did not answer, the last of several gets one try.
                let opts = if k > 0 && k + 1 == servers.len() && !heard {
                    QueryOptions { tries: 1, ..opts }
                } else {
                    opts
                };
                // Each failed try said as it happens: communications
                // errors, and a truncation.
                let r = query(&host, server, &asked, t, opts, &mut |e: TryError| match e {
                    TryError::Truncated => out.line(";; Truncated, retrying in TCP mode."),
                    TryError::NoRoute => out.line(format!(
                        ";; UDP setup with {ns}#{port}({ns}) for {} failed: {e}.",
                        asked.to_string().trim_end_matches('.'),
                        port = a.port
                    )),
                    f => out.line(format!(";; communications error to {ns}#{}: {f}", a.port)),
                })
                .await;
                let Some(resp) = r else { continue };
                heard = true;
                let m = resp.message;
                // dighost.c: a SERVFAIL, or no recursion from a server
                // taken from resolv.conf (a server named on the command
                // line is asked as it is), sends the question on to the
                // next server; the last one's answer is taken, said.
                let why = if m.metadata.response_code == ResponseCode::ServFail {
                    Some("SERVFAIL reply")
                } else if a.server.is_none() && a.recurse && !m.metadata.recursion_available {
                    Some("recursion not available")
                } else {
                    None
                };
                if let Some(why) = why {
                    if k + 1 < servers.len() {
                        out.line(format!(";; Got {why} from {ns}, trying next server"));
                        continue;
                    }
                    out.line(format!(";; Got {why} from {ns}"));
                }
                server_ip = ns;
                answer = Some(m);
                break;
            }
            let Some(m) = answer else {
                out.line(";; no servers could be reached");
                out.line("");
                // BIND's nslookup: an A answer stands when the AAAA half
                // of the lookup finds no server (status 0).
                return if answered { 0 } else { 1 };
            };
            let code = m.metadata.response_code;
            if a.debug {
                header(&mut out, &mut header_done, server_ip);
                for l in debug_block(&m) {
                    out.line(l);
                }
            }
            if i == 0 && a.qtype.is_none() {
                asked = chase_cnames(&m.answers, name);
            }
            if i == 0 {
                if code == ResponseCode::NXDomain && !last_candidate {
                    // Try the next search domain (with -debug, saying
                    // this one failed).
                    if a.debug {
                        out.line(format!("** server can't find {}: NXDOMAIN", bare(name)));
                    }
                    failed = true;
                    break;
                }
                if code != ResponseCode::NoError {
                    last_failure = Some(code);
                    failed_on = Some(bare(name));
                    failed = true;
                    break;
                }
                header(&mut out, &mut header_done, server_ip);
                if !m.metadata.authoritative {
                    out.line("Non-authoritative answer:");
                }
            } else if code != ResponseCode::NoError {
                // The AAAA half asks for the end of the A half's CNAME
                // chain; a server that will not answer for it (a target
                // outside its zones) is said, and the lookup fails.
                out.line(format!(
                    "** server can't find {}: {}",
                    bare(&asked),
                    rcode_text(code)
                ));
                half_failed = true;
                continue;
            }
            for r in &m.answers {
                // The AAAA half of a default lookup does not repeat the
                // alias the A half already showed.
                if a.qtype.is_none() && i > 0 && matches!(r.data, RData::CNAME(_)) {
                    continue;
                }
                answered = true;
                for line in present(r) {
                    out.line(line);
                }
            }
            let last_type = i + 1 == types.len();
            if last_type && !answered {
                out.line(format!("*** Can't find {}: No answer", a.name));
            }
            // BIND's nslookup shows where the authority lies when the
            // answer is not authoritative (a referral from a server asked
            // with -norecurse), except for address lookups.
            if !m.metadata.authoritative && !matches!(t, RecordType::A | RecordType::AAAA) {
                out.line("");
                out.line("Authoritative answers can be found from:");
                for r in m.authorities.iter().chain(&m.additionals) {
                    for line in present_aside(r) {
                        out.line(line);
                    }
                }
            }
        }
        if failed && last_failure.is_none() {
            continue;
        }
        if failed {
            break;
        }
        out.line("");
        return i32::from(half_failed);
    }
    let code = last_failure.unwrap_or(ResponseCode::NXDomain);
    header(&mut out, &mut header_done, server_ip);
    // A reverse lookup names what it asked for (BIND's nslookup puts the
    // in-addr.arpa name in the lookup).
    let asked = match reverse.filter(|_| types == [RecordType::PTR]) {
        Some(ip) => reverse_name(ip)
            .to_string()
            .trim_end_matches('.')
            .to_string(),
        None => failed_on.unwrap_or_else(|| a.name.clone()),
    };
    out.line(format!(
        "** server can't find {asked}: {}",
        rcode_text(code)
    ));
    out.line("");
    1
}

/// The names to try: with the search domains first for a name without a
/// dot, then as given; a name ending in a dot as given only.
fn candidates(host: &Host, name: &str, a: &NslookupArgs) -> Vec<Name> {
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
    if a.use_search && name.matches('.').count() < a.ndots {
        let domains = match &a.domain {
            Some(d) => vec![d.clone()],
            None => host.resolver().search,
        };
        for d in domains {
            push(format!("{name}.{d}."));
        }
    }
    push(format!("{name}."));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NslookupArgs, Usage> {
        NslookupArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let a = parse("-type=mx -port=5353 -timeout=1 -retry=2 -vc lab.test 10.0.0.1").unwrap();
        assert_eq!(a.qtype, Some(RecordType::MX));
        assert_eq!((a.port, a.tries, a.tcp), (5353, 2, true));
        assert_eq!(a.timeout, Duration::from_secs(1));
        assert_eq!(a.server.as_deref(), Some("10.0.0.1"));
        assert_eq!(parse("-query=TXT x").unwrap().qtype, Some(RecordType::TXT));
        // BIND's set options, cut short as its CHECKOPT allows.
        let a = parse("-norec -domain=lab.test -ndots=2 -po=54 -t=2 -ret=4 -cl=IN x").unwrap();
        assert!(!a.recurse && a.warnings.is_empty(), "{:?}", a.warnings);
        assert_eq!(
            (a.domain.as_deref(), a.use_search),
            (Some("lab.test"), true)
        );
        assert_eq!((a.ndots, a.port, a.tries), (2, 54, 4));
        assert_eq!(a.timeout, Duration::from_secs(2));
        assert!(!parse("-nosearch x").unwrap().use_search);
        assert!(parse("-nosearch -sea x").unwrap().use_search);
        // -search turns searching on and keeps -domain's list.
        let a = parse("-domain=x.test -search y").unwrap();
        assert_eq!((a.domain.as_deref(), a.use_search), (Some("x.test"), true));
        assert_eq!(
            parse("-type mx -norecursive -no x").unwrap().warnings,
            [
                "*** Invalid option: type",
                "*** Invalid option: norecursive",
                "*** Invalid option: no"
            ]
        );
        assert_eq!(
            parse("-cl=CH x").unwrap().warnings,
            ["unknown query class: CH"]
        );
    }

    #[test]
    fn bad_options_are_reported_and_the_lookup_goes_on() {
        let a = parse("-type=BOGUS -de -port=x -timeout=abc x").unwrap();
        assert_eq!(a.qtype, None);
        assert_eq!(
            a.warnings,
            [
                "unknown query type: BOGUS",
                "*** Invalid option: de",
                "invalid port 'x': not a valid number",
                "invalid timeout 'abc': not a valid number",
            ]
        );
        assert_eq!((a.port, a.timeout), (53, Duration::from_secs(5)));
        let u = parse("").unwrap_err();
        assert!(u.message.contains("interactive"));
        assert_eq!(u.status, 1);
        let u = parse("a b c").unwrap_err();
        assert_eq!(u.status, 1);
        assert_eq!(u.printed(), (format!("{USAGE}\n"), false));
        // BIND 9.18's words, checked: numbers past their range, and names
        // with the reason they are not legal.
        assert_eq!(
            parse("-timeout=0 x").unwrap().timeout,
            Duration::from_secs(5)
        );
        assert_eq!(
            parse("-timeout=9 x").unwrap().timeout,
            Duration::from_secs(9)
        );
        assert_eq!(parse("-retry=0 x").unwrap().tries, 1);
        assert_eq!(parse("-retry=101 x").unwrap().tries, 101);
        let a = parse("-port=99999 -retry=99999999999 x").unwrap();
        assert_eq!(
            a.warnings,
            [
                "invalid port '99999': out of range",
                "invalid tries '99999999999': out of range"
            ]
        );
        let long = format!("{}.com", "a".repeat(300));
        assert_eq!(
            parse(&long).unwrap_err().message,
            format!("'{long}' is not a legal name (label too long)")
        );
        assert_eq!(
            parse("a..b").unwrap_err().message,
            "'a..b' is not a legal name (empty label)"
        );
        // BIND's status for them: 10.
        assert_eq!(parse("a..b").unwrap_err().status, 10);
        let empty = NslookupArgs::parse(&[String::new()])
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            (empty.message.as_str(), empty.status),
            ("'' is not a legal name (unexpected end of input)", 10)
        );
        assert!(parse("lab.test.").is_ok());
    }

    /// The root's owner prints as `.`; a TXT string escapes `"`, `\` and
    /// bytes outside printable ASCII, as BIND 9.18's nslookup does.
    #[test]
    fn root_owner_and_txt_escapes_as_bind_prints_them() {
        assert_eq!(bare(&Name::root()), ".");
        assert_eq!(txt_text(b"esc\"aped\\"), "esc\\\"aped\\\\");
        assert_eq!(txt_text(&[b'a', 7, 200]), "a\\007\\200");
    }

    /// Types and answers nslookup has no name for, as BIND prints them:
    /// `TYPE260` asks type 260 (RFC 3597 §5), its data in the generic
    /// `\# LEN HEX` form, RCODE 9 as NOTAUTH.
    #[test]
    fn unknown_types_and_rcodes_as_bind_prints_them() {
        assert_eq!(record_type("type260"), Some(RecordType::from(260)));
        assert_eq!(record_type("TYPEx"), None);
        assert_eq!(rcode_text(ResponseCode::from(0, 9)), "NOTAUTH");
        assert_eq!(rcode_text(ResponseCode::from(0, 12)), "12");
        let name = Name::from_ascii("u.x.").unwrap();
        let rdata = |b: &[u8]| RData::Unknown {
            code: RecordType::from(260),
            rdata: if b.is_empty() {
                hickory_proto::rr::rdata::NULL::new()
            } else {
                hickory_proto::rr::rdata::NULL::with(b.to_vec())
            },
        };
        let r = Record::from_rdata(name.clone(), 60, rdata(b"abc"));
        assert_eq!(present(&r), ["u.x\trdata_260 = \\# 3 616263"]);
        let r = Record::from_rdata(name, 60, rdata(b""));
        assert_eq!(present(&r), ["u.x\trdata_260 = \\# 0"]);
    }
}
