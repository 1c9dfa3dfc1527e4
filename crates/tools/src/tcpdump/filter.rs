//! tcpdump's filter expressions: pcap-filter(7) for IPv4, compiled into a
//! small tree and evaluated against each captured datagram.
//!
//! ```text
//! expr      := unary (("and" | "&&" | "or" | "||") unary)*
//! unary     := ("not" | "!") unary | "(" expr ")" | primitive | relation
//! primitive := [proto] [dir] ("host" ADDR | "net" NET | "port" N
//!                             | "portrange" N-M)
//!            | [proto] dir ADDR          (src 10.0.0.1: a host)
//!            | proto | "ip" "proto" P | "greater" N | "less" N
//!            | ID                       (the last primitive's qualifiers)
//! dir       := "src" | "dst" | "src or dst" | "src and dst"
//! proto     := "ip" | "tcp" | "udp" | "icmp"
//! relation  := arith RELOP arith        (> >= < <= = == !=)
//! arith     := arithmetic on numbers, "len" and proto[OFF] /
//!              proto[OFF:SIZE] (SIZE 1, 2 or 4), with + - * / % & | ^ << >>
//!              and pcap's names (tcpflags, tcp-syn, icmptype, icmp-echo...)
//! ```
//!
//! As pcap reads it: `not` binds tightest, `and` and `or` have equal
//! precedence and go left to right; a bare address or number after an
//! operator takes the qualifiers of the primitive before it (`port 80 or
//! 443`, `host 10.0.0.1 and not 10.0.0.2`). A load outside the packet
//! rejects it, as a BPF program does; `tcp[...]` on a packet that is not
//! TCP, or on a fragment after the first, makes its relation false.
//!
//! IPv6 packets (a TUN device's capture holds the kernel's own) pass
//! `ip6`, `icmp6`, `tcp`/`udp`/`proto N` by their next header, `port` by
//! the ports after the fixed header, `len`, `greater` and `less`, and
//! nothing that tests IPv4 (`ip`, `host`, `net`, `ip[...]`), so `not ip`
//! keeps them as pcap does; IPv6 addresses are not matched.

use std::net::Ipv4Addr;

use tcplab_stack::services::{self, Transport};
use tcplab_wire::ipv4;

use crate::resolve::is_host_name;

/// A parsed filter; the empty expression takes every packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    root: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Prim(Prim),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Rel(Arith, Rel, Arith),
}

/// Which address or port a primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

impl Dir {
    fn test(self, src: bool, dst: bool) -> bool {
        match self {
            Dir::Src => src,
            Dir::Dst => dst,
            Dir::SrcOrDst => src || dst,
            Dir::SrcAndDst => src && dst,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prim {
    /// Any IPv4 datagram (`ip`): everything a capture here holds.
    Ip,
    Proto(u8),
    Net {
        dir: Dir,
        addr: u32,
        mask: u32,
    },
    /// Ports in `lo..=hi`, of TCP or UDP (or only `proto`'s).
    Ports {
        dir: Dir,
        lo: u16,
        hi: u16,
        proto: Option<u8>,
    },
    /// `greater N` (true) / `less N` (false).
    Length(bool, usize),
    /// `ip6` alone: an IPv6 packet (a TUN device's capture holds the
    /// kernel's own; the stack sends none).
    Ip6,
    /// `ip6` qualified by an address (`ip6 host ::1`), `arp host A`:
    /// nothing, since IPv6 addresses are not looked into.
    Nothing,
    /// `arp`, `rarp`: link-layer protocols, which a raw IP link cannot
    /// carry at all (libpcap rejects a filter that only they could pass).
    Arp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// The header a load is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Ip,
    /// The transport header of this protocol.
    Over(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arith {
    Num(u32),
    Len,
    Load(Layer, Box<Arith>, u8),
    Neg(Box<Arith>),
    Bin(Op, Box<Arith>, Box<Arith>),
}

/// The qualifiers of the last primitive with a value, for the bare values
/// that repeat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quals {
    proto: Option<u8>,
    dir: Dir,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;

fn proto_number(w: &str) -> Option<u8> {
    match w {
        "tcp" => Some(TCP),
        "udp" => Some(UDP),
        "icmp" => Some(ICMP),
        _ => None,
    }
}

/// pcap's names for header offsets and field values.
fn named_constant(w: &str) -> Option<u32> {
    Some(match w {
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        "icmptype" => 0,
        "icmpcode" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        _ => return None,
    })
}

/// A number as pcap writes them: decimal, `0x` hexadecimal, `0` octal.
/// libpcap's complaint about a number written in full that does not fit
/// its 32 bits (`None` for a word that is no number at all).
fn overflow(w: &str) -> Option<String> {
    let digits = w
        .strip_prefix("0x")
        .or_else(|| w.strip_prefix("0X"))
        .map_or(w.bytes().all(|b| b.is_ascii_digit()), |h| {
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
        });
    (digits && !w.is_empty() && number(w).is_none())
        .then(|| format!("number {w} overflows 32 bits"))
}

fn number(w: &str) -> Option<u32> {
    if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if w.len() > 1 && w.starts_with('0') {
        u32::from_str_radix(&w[1..], 8).ok()
    } else if w.bytes().all(|b| b.is_ascii_digit()) {
        w.parse().ok()
    } else {
        None
    }
}

/// Splits the expression into tokens: words (names, numbers, addresses,
/// `10.0.0.0/8`, `8000-8080`) and operators.
fn lex(text: &str) -> Vec<String> {
    const TWO: [&str; 8] = ["&&", "||", "!=", "==", "<=", ">=", "<<", ">>"];
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let word_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
        // `\tcp`: a protocol name escaped from its keyword.
        let escaped = c == '\\' && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if c.is_alphanumeric() || c == '_' || escaped {
            let start = i;
            i += usize::from(escaped);
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            // A network with its prefix length (`10.0.0.0/8`) is one word.
            if i + 1 < chars.len()
                && chars[i] == '/'
                && chars[i + 1].is_ascii_digit()
                && chars[start..i].contains(&'.')
            {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(chars[start..i].iter().collect());
            continue;
        }
        let pair: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if TWO.contains(&pair.as_str()) {
            out.push(pair);
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

struct Parser<'r> {
    toks: Vec<String>,
    pos: usize,
    last: Option<Quals>,
    /// Parentheses, `not`s and signs open around the current position:
    /// bounded, so no input can exhaust the stack.
    depth: usize,
    /// The address of a host name (`host server`), or libpcap's complaint.
    hosts: &'r dyn Fn(&str) -> Result<Ipv4Addr, String>,
}

/// How deep expressions may nest.
const MAX_DEPTH: usize = 64;

/// How many words and operators a filter may have: a chain of `or`s or
/// `+`s makes a tree as deep as it is long, which evaluation and drop
/// walk recursively (BPF caps a program at 4096 instructions likewise).
const MAX_TOKENS: usize = 1024;

type Parsed<T> = Result<T, String>;

fn near(w: &str) -> String {
    format!("can't parse filter expression: syntax error near `{w}`")
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }

    fn peek_at(&self, k: usize) -> Option<&str> {
        self.toks.get(self.pos + k).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += usize::from(t.is_some());
        t
    }

    fn eat(&mut self, w: &str) -> bool {
        if self.peek() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The error for what stands at the current position.
    fn unexpected(&self) -> String {
        match self.peek() {
            Some(w) => near(w),
            None => match self.toks.last() {
                Some(last) => {
                    format!("can't parse filter expression: syntax error (it ends after `{last}`)")
                }
                None => "can't parse filter expression: syntax error".to_string(),
            },
        }
    }

    fn expr(&mut self) -> Parsed<Node> {
        let mut node = self.unary()?;
        loop {
            let or = match self.peek() {
                Some("and" | "&&") => false,
                Some("or" | "||") => true,
                _ => return Ok(node),
            };
            self.pos += 1;
            let rhs = self.unary()?;
            node = if or {
                Node::Or(Box::new(node), Box::new(rhs))
            } else {
                Node::And(Box::new(node), Box::new(rhs))
            };
        }
    }

    /// Run `f` one level deeper, refused beyond `MAX_DEPTH`.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "filter expression nested more than {MAX_DEPTH} deep"
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn unary(&mut self) -> Parsed<Node> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> Parsed<Node> {
        let Some(w) = self.peek().map(str::to_owned) else {
            return Err(self.unexpected());
        };
        match w.as_str() {
            "not" | "!" => {
                self.pos += 1;
                return Ok(Node::Not(Box::new(self.unary()?)));
            }
            "(" => {
                // A parenthesised expression, unless it turns out to be
                // arithmetic (`(tcp[13] & 2) != 0`).
                let at = self.pos;
                let saved = self.last;
                self.pos += 1;
                if let Ok(inner) = self.expr() {
                    if self.eat(")") && !self.peek().is_some_and(is_arith_continuation) {
                        return Ok(inner);
                    }
                }
                self.pos = at;
                self.last = saved;
                return self.relation();
            }
            _ => {}
        }
        let next = self.peek_at(1);
        let starts_arith = w == "len"
            || w == "-"
            || (matches!(w.as_str(), "ip" | "tcp" | "udp" | "icmp") && next == Some("["))
            || ((number(&w).is_some() || named_constant(&w).is_some() || overflow(&w).is_some())
                && next.is_some_and(is_arith_continuation));
        if starts_arith {
            return self.relation();
        }
        self.primitive()
    }

    /// The protocol after `proto` or `ip proto`: a name (`\\tcp` too) or
    /// a number.
    fn proto_value(&mut self) -> Parsed<Node> {
        let v = self.next().ok_or_else(|| self.unexpected())?;
        let v = v.strip_prefix('\\').unwrap_or(&v);
        let n = proto_number(v)
            .or_else(|| number(v).and_then(|n| u8::try_from(n).ok()))
            .ok_or_else(|| format!("invalid protocol {v}"))?;
        Ok(Node::Prim(Prim::Proto(n)))
    }

    fn primitive(&mut self) -> Parsed<Node> {
        let w = self.next().unwrap_or_default();
        match w.as_str() {
            "greater" | "less" => {
                let v = self
                    .next()
                    .ok_or_else(|| format!("syntax error: `{w}` needs a length"))?;
                let n = number(&v).ok_or_else(|| format!("invalid length {v}"))?;
                return Ok(Node::Prim(Prim::Length(w == "greater", n as usize)));
            }
            // `proto P` alone: pcap's `ip proto P or ip6 proto P` (an IPv6
            // packet's next header).
            "proto" => return self.proto_value(),
            "ip" | "tcp" | "udp" | "icmp" => {
                let proto = proto_number(&w);
                // `ip multicast`: pcap's `ip[16] >= 224` — a destination
                // whose first byte is 224 or more, 224.0.0.0/3 (class E
                // and the limited broadcast too);
                // `ip broadcast` needs the capture's netmask, which pcap
                // has only for a live interface.
                if w == "ip" && self.eat("multicast") {
                    return Ok(Node::Prim(Prim::Net {
                        dir: Dir::Dst,
                        addr: 0xe000_0000,
                        mask: 0xe000_0000,
                    }));
                }
                if w == "ip" && self.peek() == Some("broadcast") {
                    return Err("`ip broadcast` is not supported in tcplab (it needs the interface's netmask)".into());
                }
                // `ip proto P`, `ip host A`, ...: IPv4's alone.
                let ipv4_only =
                    |n: Node| Node::And(Box::new(Node::Prim(Prim::Ip)), Box::new(n));
                if w == "ip" && self.eat("proto") {
                    return self.proto_value().map(ipv4_only);
                }
                let proto_node = Node::Prim(proto.map_or(Prim::Ip, Prim::Proto));
                // A protocol alone, or qualifying what follows it.
                if !self.peek().is_some_and(is_qualifier) {
                    // A bare value after this cannot repeat what came
                    // before it (pcap: `port 22 or tcp or 80` is an error).
                    self.last = None;
                    return Ok(proto_node);
                }
                let q = self.qualified(proto)?;
                return Ok(if w == "ip" { ipv4_only(q) } else { q });
            }
            "src" | "dst" | "host" | "net" | "port" | "portrange" => {
                self.pos -= 1;
                return self.qualified(None);
            }
            // IPv6's ICMP: its next header, 58.
            "icmp6" if !self.peek().is_some_and(is_qualifier) => {
                self.last = None;
                return Ok(Node::Prim(Prim::Proto(58)));
            }
            // `ip6 proto P`: an IPv6 packet's next header.
            "ip6" if self.eat("proto") => {
                self.last = None;
                let p = self.proto_value()?;
                return Ok(Node::And(Box::new(Node::Prim(Prim::Ip6)), Box::new(p)));
            }
            // Protocols an IPv4 stack never carries, and IPv6 addresses:
            // valid filters that match nothing here (`arp host 10.0.0.1`,
            // `ip6 src host ::1`): the qualifier's words are taken and
            // match nothing either; `ip6` alone is an IPv6 packet.
            "ip6" | "arp" | "rarp" => {
                let taken = self.pos;
                if self.eat("proto") {
                    self.next().ok_or_else(|| self.unexpected())?;
                } else {
                    // `src or dst host ...` joins two qualifiers.
                    let mut qualified = false;
                    while self.peek().is_some_and(|n| {
                        is_qualifier(n)
                            || qualified
                                && (n == "or" || n == "and")
                                && self.peek_at(1).is_some_and(|m| m == "src" || m == "dst")
                    }) {
                        self.next();
                        qualified = true;
                    }
                    if qualified {
                        self.next().ok_or_else(|| self.unexpected())?;
                        // An IPv6 address comes lexed in pieces (`::1` is
                        // `:`, `:`, `1`): the rest of it.
                        while self.peek().is_some_and(|n| {
                            n == ":"
                                || n.bytes()
                                    .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'/')
                        }) {
                            self.next();
                        }
                    }
                }
                self.last = None;
                return Ok(Node::Prim(match w.as_str() {
                    "ip6" if taken == self.pos => Prim::Ip6,
                    "ip6" => Prim::Nothing,
                    _ => Prim::Arp,
                }));
            }
            "ether" => {
                return Err(
                    "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel"
                        .into(),
                )
            }
            _ => {}
        }
        // A bare value repeats the qualifiers before it.
        match self.last {
            Some(q) if w.starts_with(|c: char| c.is_ascii_digit()) => self.value(q, &w),
            _ => Err(near(&w)),
        }
    }

    /// `[dir] kind value` after an optional protocol.
    fn qualified(&mut self, proto: Option<u8>) -> Parsed<Node> {
        let dir = match self.peek() {
            Some("src" | "dst") => {
                let first = self.next().unwrap_or_default();
                // `src or dst`, `src and dst` (either order) as one qualifier.
                let joined = match (self.peek(), self.peek_at(1)) {
                    (Some(op @ ("or" | "and")), Some(other @ ("src" | "dst")))
                        if other != first =>
                    {
                        Some(if op == "or" {
                            Dir::SrcOrDst
                        } else {
                            Dir::SrcAndDst
                        })
                    }
                    _ => None,
                };
                match joined {
                    Some(d) => {
                        self.pos += 2;
                        d
                    }
                    None if first == "src" => Dir::Src,
                    None => Dir::Dst,
                }
            }
            _ => Dir::SrcOrDst,
        };
        let kind = match self.peek() {
            Some("host") => Kind::Host,
            Some("net") => Kind::Net,
            Some("port") => Kind::Port,
            Some("portrange") => Kind::PortRange,
            // `src 10.0.0.1`: a host.
            Some(v) if v.starts_with(|c: char| c.is_ascii_digit()) => {
                let v = v.to_string();
                self.pos += 1;
                return self.value(
                    Quals {
                        proto,
                        dir,
                        kind: Kind::Host,
                    },
                    &v,
                );
            }
            _ => return Err(self.unexpected()),
        };
        let kw = self.next().unwrap_or_default();
        // pcap's grammar takes `not` before the value too (`nid: not id`):
        // `port not 53` is `not port 53`.
        let mut negations = 0;
        while matches!(self.peek(), Some("not" | "!")) {
            self.pos += 1;
            negations += 1;
        }
        let v = self
            .next()
            .ok_or_else(|| format!("syntax error: `{kw}` needs a value"))?;
        let mut node = self.value(Quals { proto, dir, kind }, &v)?;
        for _ in 0..negations {
            node = Node::Not(Box::new(node));
        }
        Ok(node)
    }

    /// The primitive `q` with the value `v`.
    fn value(&mut self, q: Quals, v: &str) -> Parsed<Node> {
        let prim = match q.kind {
            Kind::Host => {
                // A number is read as libpcap's __pcap_atoin reads it:
                // decimal bytes in order (`010` is 10), and a short one
                // is a network (`host 127.1` is 127.1.0.0/16), never
                // glibc's inet_aton and never a name to look up.
                if v.starts_with(|c: char| c.is_ascii_digit()) {
                    let (addr, mask) = pcap_atoin(v).ok_or_else(|| format!("invalid host {v}"))?;
                    Prim::Net {
                        dir: q.dir,
                        addr,
                        mask,
                    }
                } else {
                    let a = if is_host_name(v) {
                        (self.hosts)(v)?
                    } else {
                        return Err(format!("invalid host {v}"));
                    };
                    Prim::Net {
                        dir: q.dir,
                        addr: u32::from(a),
                        mask: u32::MAX,
                    }
                }
            }
            Kind::Net => {
                // `10/8` comes lexed as `10`, `/`, `8` (a `/` after a
                // plain number may be a division elsewhere): join them.
                let joined;
                let v = if !v.contains('/')
                    && self.peek() == Some("/")
                    && self
                        .peek_at(1)
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                {
                    self.next();
                    let len = self.next().unwrap_or_default();
                    joined = format!("{v}/{len}");
                    joined.as_str()
                } else {
                    v
                };
                let (mut addr, mut mask) = parse_net(v)?;
                // `net A.B.C.D mask M.M.M.M`, pcap's other way to write a
                // prefix (any mask, as pcap takes it).
                if self.eat("mask") {
                    let m = self.next().ok_or_else(|| self.unexpected())?;
                    let m: Ipv4Addr = m.parse().map_err(|_| format!("invalid netmask {m}"))?;
                    if v.contains('/') {
                        return Err("mask syntax for networks only".into());
                    }
                    let a: Ipv4Addr = v.parse().map_err(|_| format!("invalid network {v}"))?;
                    mask = u32::from(m);
                    addr = u32::from(a);
                    if addr & !mask != 0 {
                        return Err(format!("non-network bits set in \"{v} mask {m}\""));
                    }
                }
                Prim::Net {
                    dir: q.dir,
                    addr,
                    mask,
                }
            }
            Kind::Port | Kind::PortRange => {
                if q.proto == Some(ICMP) {
                    return Err(format!("icmp has no ports (near `{v}`)"));
                }
                // libpcap's words: a number past 65535, one past 32 bits,
                // a service name it does not know (names are looked up).
                let transport = if q.proto == Some(17) {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
                let port = |s: &str| -> Result<u16, String> {
                    if let Some(n) = number(s) {
                        return u16::try_from(n)
                            .map_err(|_| format!("illegal port number {n} > 65535"));
                    }
                    if let Some(e) = overflow(s) {
                        return Err(e);
                    }
                    services::port(s, transport).ok_or_else(|| format!("unknown port '{s}'"))
                };
                let (lo, hi) = if q.kind == Kind::Port {
                    (port(v)?, port(v)?)
                } else {
                    let (a, b) = v
                        .split_once('-')
                        .ok_or_else(|| format!("invalid port range {v} (N-M)"))?;
                    let (a, b) = (port(a)?, port(b)?);
                    (a.min(b), a.max(b))
                };
                Prim::Ports {
                    dir: q.dir,
                    lo,
                    hi,
                    proto: q.proto,
                }
            }
        };
        self.last = Some(q);
        let node = Node::Prim(prim);
        // `tcp host A`: the protocol and the host, both.
        Ok(match q.proto {
            Some(p) if !matches!(prim, Prim::Ports { .. }) => {
                Node::And(Box::new(Node::Prim(Prim::Proto(p))), Box::new(node))
            }
            _ => node,
        })
    }

    fn relation(&mut self) -> Parsed<Node> {
        self.last = None;
        let lhs = self.arith(0)?;
        let rel = match self.next().as_deref() {
            Some(">") => Rel::Gt,
            Some(">=") => Rel::Ge,
            Some("<") => Rel::Lt,
            Some("<=") => Rel::Le,
            Some("=" | "==") => Rel::Eq,
            Some("!=") => Rel::Ne,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        let rhs = self.arith(0)?;
        Ok(Node::Rel(lhs, rel, rhs))
    }

    /// Precedence climbing over pcap's levels: `|` `^`, then `&`, then
    /// shifts, then `+` `-`, then `*` `/` `%`.
    fn arith(&mut self, min: u8) -> Parsed<Arith> {
        let mut lhs = self.arith_atom()?;
        loop {
            let Some((op, level)) = self.peek().and_then(binary_op) else {
                return Ok(lhs);
            };
            if level < min {
                return Ok(lhs);
            }
            self.pos += 1;
            let rhs = self.arith(level + 1)?;
            // libpcap's gen_arth refuses a constant right side that makes
            // no sense.
            if let Arith::Num(k) = rhs {
                match op {
                    Op::Div if k == 0 => return Err("division by zero".into()),
                    Op::Mod if k == 0 => return Err("modulus by zero".into()),
                    Op::Shl | Op::Shr if k > 31 => return Err("shift by more than 31 bits".into()),
                    _ => {}
                }
            }
            lhs = Arith::Bin(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn arith_atom(&mut self) -> Parsed<Arith> {
        self.nested(Self::arith_atom_inner)
    }

    fn arith_atom_inner(&mut self) -> Parsed<Arith> {
        let Some(w) = self.next() else {
            return Err(self.unexpected());
        };
        match w.as_str() {
            "(" => {
                let inner = self.arith(0)?;
                if !self.eat(")") {
                    return Err(self.unexpected());
                }
                Ok(inner)
            }
            "-" => Ok(Arith::Neg(Box::new(self.arith_atom()?))),
            "len" => Ok(Arith::Len),
            "ip" | "tcp" | "udp" | "icmp" => {
                let layer = proto_number(&w).map_or(Layer::Ip, Layer::Over);
                if !self.eat("[") {
                    return Err(self.unexpected());
                }
                let off = self.arith(0)?;
                let size = if self.eat(":") {
                    let s = self.next().unwrap_or_default();
                    match s.as_str() {
                        "1" => 1,
                        "2" => 2,
                        "4" => 4,
                        _ => return Err(format!("data size must be 1, 2 or 4, not `{s}`")),
                    }
                } else {
                    1
                };
                if !self.eat("]") {
                    return Err(self.unexpected());
                }
                Ok(Arith::Load(layer, Box::new(off), size))
            }
            _ => number(&w)
                .or_else(|| named_constant(&w))
                .map(Arith::Num)
                .ok_or_else(|| overflow(&w).unwrap_or_else(|| near(&w))),
        }
    }
}

/// A word that says which address or port a primitive looks at.
fn is_qualifier(w: &str) -> bool {
    matches!(w, "src" | "dst" | "host" | "net" | "port" | "portrange")
}

/// Whether a token after a value makes it the start of arithmetic.
fn is_arith_continuation(w: &str) -> bool {
    binary_op(w).is_some() || matches!(w, ">" | ">=" | "<" | "<=" | "=" | "==" | "!=")
}

fn binary_op(w: &str) -> Option<(Op, u8)> {
    Some(match w {
        "|" => (Op::Or, 0),
        "^" => (Op::Xor, 0),
        "&" => (Op::And, 1),
        "<<" => (Op::Shl, 2),
        ">>" => (Op::Shr, 2),
        "+" => (Op::Add, 3),
        "-" => (Op::Sub, 3),
        "*" => (Op::Mul, 4),
        "/" => (Op::Div, 4),
        "%" => (Op::Mod, 4),
        _ => return None,
    })
}

/// libpcap's __pcap_atoin and gen_ncode for a host: up to four decimal
/// bytes in order; fewer make a network of that many bytes.
fn pcap_atoin(v: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut addr = 0u32;
    for p in &parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        addr = (addr << 8) | u32::from(p.parse::<u8>().ok()?);
    }
    let bits = 8 * parts.len() as u32;
    let shift = 32 - bits;
    Some((
        addr.checked_shl(shift).unwrap_or(0),
        u32::MAX.checked_shl(shift).unwrap_or(0),
    ))
}

/// `10.0.0.0/8` (or `10/8`, the missing octets zero), or a partial
/// address whose missing octets are the network's (`10` is 10.0.0.0/8,
/// `192.168` 192.168.0.0/16).
fn parse_net(v: &str) -> Parsed<(u32, u32)> {
    let bad = || format!("invalid network {v} (A.B.C.D/LEN or A, A.B, A.B.C)");
    let (addr, len) = match v.split_once('/') {
        Some((a, l)) => {
            let len: u32 = l.parse().map_err(|_| bad())?;
            if len > 32 {
                // libpcap's words.
                return Err("mask length must be <= 32".into());
            }
            let octets: Vec<u8> = a
                .split('.')
                .map(|o| o.parse::<u8>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?;
            if octets.is_empty() || octets.len() > 4 {
                return Err(bad());
            }
            let mut full = [0u8; 4];
            full[..octets.len()].copy_from_slice(&octets);
            (Ipv4Addr::from(full), len)
        }
        None => {
            let octets: Vec<u8> = v
                .split('.')
                .map(|o| o.parse::<u8>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?;
            if octets.is_empty() || octets.len() > 4 {
                return Err(bad());
            }
            let mut full = [0u8; 4];
            full[..octets.len()].copy_from_slice(&octets);
            (Ipv4Addr::from(full), 8 * octets.len() as u32)
        }
    };
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let addr = u32::from(addr);
    if addr & !mask != 0 {
        // As pcap: "non-network bits set in".
        return Err(format!("non-network bits set in \"{v}\""));
    }
    Ok((addr, mask))
}

impl Filter {
    /// Parses tcpdump's operands, joined by spaces as tcpdump joins them;
    /// a host's name (`host server`) is only checked to be one: see
    /// [`Filter::parse_with`] for a filter that matches it.
    pub fn parse(words: &[String]) -> Result<Filter, String> {
        Filter::parse_with(words, &|_| Ok(Ipv4Addr::UNSPECIFIED))
    }

    /// The host names the operands name (`host server`), to look up
    /// before [`Filter::parse_with`]; none when they do not parse.
    pub fn host_names(words: &[String]) -> Vec<String> {
        let names = std::cell::RefCell::new(Vec::new());
        let _ = Filter::parse_with(words, &|n| {
            names.borrow_mut().push(n.to_string());
            Ok(Ipv4Addr::UNSPECIFIED)
        });
        let mut names = names.into_inner();
        names.sort();
        names.dedup();
        names
    }

    /// Parses the operands, `hosts` giving each host name's address (as
    /// libpcap looks names up when it compiles a filter).
    pub fn parse_with(
        words: &[String],
        hosts: &dyn Fn(&str) -> Result<Ipv4Addr, String>,
    ) -> Result<Filter, String> {
        let toks = lex(&words.join(" "));
        if toks.is_empty() {
            return Ok(Filter::default());
        }
        if toks.len() > MAX_TOKENS {
            return Err(format!(
                "filter expression too complex ({} words and operators; at most {MAX_TOKENS})",
                toks.len()
            ));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            last: None,
            depth: 0,
            hosts,
        };
        let root = p.expr()?;
        if p.pos < p.toks.len() {
            return Err(p.unexpected());
        }
        Ok(Filter { root: Some(root) })
    }

    /// Whether no packet of a raw IP link can pass (libpcap's "expression
    /// rejects all packets"): `arp`, and what only it could let through.
    pub fn rejects_all_raw(&self) -> bool {
        fn constant(n: &Node) -> Option<bool> {
            match n {
                Node::Prim(Prim::Arp) => Some(false),
                Node::Prim(_) | Node::Rel(..) => None,
                Node::Not(a) => constant(a).map(|v| !v),
                Node::And(a, b) => match (constant(a), constant(b)) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
                Node::Or(a, b) => match (constant(a), constant(b)) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
            }
        }
        self.root.as_ref().and_then(constant) == Some(false)
    }

    /// Whether the datagram `bytes` passes.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let Some(root) = &self.root else {
            return true;
        };
        let ctx = if bytes.len() >= 40 && bytes[0] >> 4 == 6 {
            // An IPv6 packet (a raw-IP capture of a TUN device): `ip6`,
            // its next header for `tcp`/`udp`/`icmp6`/`proto`, ports
            // just past the fixed header, and lengths; no IPv4 test
            // passes (pcap checks the version or ethertype first).
            Pkt {
                bytes,
                v6: true,
                proto: bytes[6],
                first_fragment: true,
                header_len: 40,
                src: 0,
                dst: 0,
            }
        } else {
            let Ok(p) = ipv4::Packet::new_checked(bytes) else {
                return false;
            };
            Pkt {
                bytes,
                v6: false,
                proto: u8::from(p.protocol()),
                first_fragment: p.frag_offset() == 0,
                header_len: p.header_len(),
                src: u32::from(p.src_addr()),
                dst: u32::from(p.dst_addr()),
            }
        };
        ctx.eval(root).unwrap_or(false)
    }
}

struct Pkt<'a> {
    bytes: &'a [u8],
    /// An IPv6 packet: `proto` is its next header, `header_len` 40.
    v6: bool,
    proto: u8,
    first_fragment: bool,
    header_len: usize,
    src: u32,
    dst: u32,
}

impl Pkt<'_> {
    /// `None`: the packet is rejected whatever the rest says (a load
    /// beyond its end, a division by zero), as a BPF program returns 0.
    fn eval(&self, n: &Node) -> Option<bool> {
        Some(match n {
            Node::Prim(p) => self.prim(p),
            Node::Not(inner) => !self.eval(inner)?,
            Node::And(a, b) => self.eval(a)? && self.eval(b)?,
            Node::Or(a, b) => self.eval(a)? || self.eval(b)?,
            Node::Rel(a, rel, b) => {
                if !self.layers_present(a) || !self.layers_present(b) {
                    return Some(false);
                }
                let (x, y) = (self.arith(a)?, self.arith(b)?);
                match rel {
                    Rel::Gt => x > y,
                    Rel::Ge => x >= y,
                    Rel::Lt => x < y,
                    Rel::Le => x <= y,
                    Rel::Eq => x == y,
                    Rel::Ne => x != y,
                }
            }
        })
    }

    fn prim(&self, p: &Prim) -> bool {
        match *p {
            Prim::Ip => !self.v6,
            Prim::Ip6 => self.v6,
            Prim::Nothing | Prim::Arp => false,
            // ICMP is IPv4's; IPv6's is `icmp6` (58).
            Prim::Proto(ICMP) if self.v6 => false,
            Prim::Proto(n) => self.proto == n,
            Prim::Length(greater, n) => {
                if greater {
                    self.bytes.len() >= n
                } else {
                    self.bytes.len() <= n
                }
            }
            Prim::Net { dir, addr, mask } => {
                !self.v6 && dir.test(self.src & mask == addr, self.dst & mask == addr)
            }
            Prim::Ports { dir, lo, hi, proto } => {
                let carries = match proto {
                    Some(p) => self.proto == p,
                    None => self.proto == TCP || self.proto == UDP,
                };
                if !carries || !self.first_fragment {
                    return false;
                }
                let Some(d) = self.bytes.get(self.header_len..self.header_len + 4) else {
                    return false;
                };
                let (s, t) = (
                    u16::from_be_bytes([d[0], d[1]]),
                    u16::from_be_bytes([d[2], d[3]]),
                );
                dir.test((lo..=hi).contains(&s), (lo..=hi).contains(&t))
            }
        }
    }

    /// `tcp[...]` in an expression needs a TCP packet's first fragment.
    fn layers_present(&self, a: &Arith) -> bool {
        match a {
            // pcap's ip[], tcp[], udp[], icmp[] are IPv4's.
            Arith::Load(..) if self.v6 => false,
            Arith::Load(Layer::Over(p), off, _) => {
                self.proto == *p && self.first_fragment && self.layers_present(off)
            }
            Arith::Load(Layer::Ip, off, _) | Arith::Neg(off) => self.layers_present(off),
            Arith::Bin(_, x, y) => self.layers_present(x) && self.layers_present(y),
            Arith::Num(_) | Arith::Len => true,
        }
    }

    fn arith(&self, a: &Arith) -> Option<u32> {
        Some(match a {
            Arith::Num(n) => *n,
            Arith::Len => u32::try_from(self.bytes.len()).unwrap_or(u32::MAX),
            Arith::Neg(x) => self.arith(x)?.wrapping_neg(),
            Arith::Load(layer, off, size) => {
                let base = match layer {
                    Layer::Ip => 0,
                    Layer::Over(_) => self.header_len,
                };
                let at = base.checked_add(usize::try_from(self.arith(off)?).ok()?)?;
                let b = self.bytes.get(at..at.checked_add(usize::from(*size))?)?;
                b.iter().fold(0u32, |v, byte| (v << 8) | u32::from(*byte))
            }
            Arith::Bin(op, x, y) => {
                let (x, y) = (self.arith(x)?, self.arith(y)?);
                match op {
                    Op::Add => x.wrapping_add(y),
                    Op::Sub => x.wrapping_sub(y),
                    Op::Mul => x.wrapping_mul(y),
                    Op::Div => x.checked_div(y)?,
                    Op::Mod => x.checked_rem(y)?,
                    Op::And => x & y,
                    Op::Or => x | y,
                    Op::Xor => x ^ y,
                    Op::Shl => x.checked_shl(y).unwrap_or(0),
                    Op::Shr => x.checked_shr(y).unwrap_or(0),
                }
            }
        })
    }
}

#[cfg(test)]
pub(super) mod tests;
