//! One line per packet, as tcpdump 4.99 prints it: without `-v` no IP
//! header fields (no `[DF]`); with `-v` the IP header in brackets on the
//! first line, the rest on the next, TCP and UDP checksums checked; ports
//! by service name unless `-n`, TCP
//! sequence numbers relative to the bases the first segment with ACK of a
//! conversation gives (absolute with `-S`), DNS over UDP decoded (`11833+ A? server.lab.test. (33)`,
//! `11833* 1/0/0 A 10.99.3.2 (49)`). Addresses print as the names the
//! caller found for them ([`Printer::learn`]), unless `-n`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use tcplab_stack::services::{self, Transport};
use tcplab_wire::tcp::{self, SeqNumber};
use tcplab_wire::{icmpv4, ipv4, udp, Protocol};

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// `-n`: addresses and ports as numbers.
    pub numeric: bool,
    /// `-S`: absolute sequence numbers.
    pub absolute: bool,
    /// `-v` (counted).
    pub verbose: u8,
    /// `-q`: TCP and UDP as their protocol and payload length only.
    pub quiet: bool,
    /// `-e`: a link-level header precedes the line, and it names the
    /// protocol, so ip_print and ip6_print leave their "IP " out.
    pub link: bool,
}

/// tcpdump's `-X` (`hex_and_ascii_print`): 16 bytes a line, as four-digit
/// groups, then the graphic characters (a space shows as `.`).
pub fn hex_and_ascii(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, line)| {
            let mut hex = String::new();
            for pair in line.chunks(2) {
                hex.push(' ');
                for b in pair {
                    let _ = write!(hex, "{b:02x}");
                }
            }
            let ascii: String = line
                .iter()
                .map(|&b| {
                    if (0x21..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("\t0x{:04x}: {hex:<40}  {ascii}", i * 16)
        })
        .collect()
}

/// tcpdump's `-x` (`hex_print`): `-X`'s lines without the text column.
pub fn hex_only(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, line)| {
            let mut s = format!("\t0x{:04x}: ", i * 16);
            for pair in line.chunks(2) {
                s.push(' ');
                for b in pair {
                    let _ = write!(s, "{b:02x}");
                }
            }
            s
        })
        .collect()
}

/// tcpdump's `-A` (`ascii_print`): the packet as text, unprintable bytes
/// as `.`, newlines kept, a CR before a newline dropped; the lines it
/// makes (the first starts on a line of its own).
pub fn ascii(bytes: &[u8]) -> Vec<String> {
    let mut text = String::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') || i + 2 >= bytes.len() => {}
            b'\n' | b'\t' | b' ' => text.push(b as char),
            0x21..=0x7e => text.push(b as char),
            _ => text.push('.'),
        }
    }
    text.split('\n').map(str::to_string).collect()
}

/// tcpdump's IP header with `-v`: `(tos 0x0, ttl 64, id 1, offset 0,
/// flags [DF], proto TCP (6), length 60)`.
fn ip_header(ip: &ipv4::Packet<&[u8]>) -> String {
    // bittok2str over tcpdump's table: MF "+", DF, the reserved bit "rsvd".
    let mut names = Vec::new();
    if ip.more_frags() {
        names.push("+");
    }
    if ip.dont_frag() {
        names.push("DF");
    }
    if ip.header()[6] & 0x80 != 0 {
        names.push("rsvd");
    }
    let flags = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    let proto = ip.protocol();
    let mut s = format!("(tos 0x{:x}", ip.tos());
    s.push_str(match ip.tos() & 3 {
        1 => ",ECT(1)",
        2 => ",ECT(0)",
        3 => ",CE",
        _ => "",
    });
    if ip.ttl() >= 1 {
        let _ = write!(s, ", ttl {}", ip.ttl());
    }
    let _ = write!(
        s,
        ", id {}, offset {}, flags [{flags}], proto {} ({}), length {}",
        ip.ident(),
        usize::from(ip.frag_offset()),
        match proto {
            Protocol::Tcp => "TCP".to_string(),
            Protocol::Udp => "UDP".to_string(),
            Protocol::Icmp => "ICMP".to_string(),
            other => format!("{other}"),
        },
        u8::from(proto),
        ip.total_len()
    );
    if !ip.verify_checksum() {
        let mut copy = ip.header().to_vec();
        let mut fixed = ipv4::Packet::new_unchecked(&mut copy[..]);
        fixed.fill_checksum();
        let _ = write!(
            s,
            ", bad cksum {:x} (->{:x})!",
            ip.checksum(),
            fixed.checksum()
        );
    }
    s.push(')');
    s
}

/// Conversations whose sequence bases the printer keeps at most.
pub const BASES_MAX: usize = 65_536;
/// Addresses whose names the printer keeps at most.
pub const NAMES_MAX: usize = 4_096;

/// The printer's memory: each direction's base for relative sequence
/// numbers (set in pairs, one conversation at a time).
#[derive(Debug, Default)]
pub struct Printer {
    bases: BTreeMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32>,
    /// The names found for addresses (without `-n`), `None` for none: what
    /// tcpdump's `ipaddr_string` keeps, asking `getnameinfo` once per
    /// address.
    names: BTreeMap<Ipv4Addr, Option<String>>,
}

fn port(p: u16, t: Transport, style: Style) -> String {
    if style.numeric {
        return p.to_string();
    }
    services::name(p, t).map_or_else(|| p.to_string(), str::to_string)
}

impl Printer {
    /// The addresses of `bytes`' header that have not been looked up yet,
    /// for the caller to find their names ([`Printer::learn`]) before the
    /// line is printed.
    /// Room for `n` more names. Bounded under a flood of spoofed
    /// sources: the names known go all at once (one is asked again if it
    /// comes back), before a packet's addresses are looked up, so none of
    /// a packet's is forgotten before its line is printed.
    pub fn make_room(&mut self, n: usize) {
        if self.names.len() + n > NAMES_MAX {
            self.names.clear();
        }
    }

    pub fn unnamed(&self, bytes: &[u8], style: Style) -> Vec<Ipv4Addr> {
        let Ok(ip) = ipv4::Packet::new_checked(bytes) else {
            // A damaged or cut datagram still prints its addresses by
            // name, if its header is there to read them from.
            if bytes.len() >= 20 && bytes[0] >> 4 == 4 {
                let head = ipv4::Packet::new_unchecked(bytes);
                let mut v = vec![head.src_addr(), head.dst_addr()];
                v.retain(|a| !self.names.contains_key(a));
                v.dedup();
                return v;
            }
            return Vec::new();
        };
        let mut v = vec![ip.src_addr(), ip.dst_addr()];
        // Under -v an ICMP error's quoted datagram prints its addresses
        // too (after the outer ones, as tcpdump meets them).
        // An unreachable's or a redirect's line names the quoted
        // destination (and a redirect its gateway) as tcpdump's
        // ipaddr_string does; under -v an ICMP error's quoted datagram
        // prints its addresses too (after the outer ones, as tcpdump
        // meets them).
        let p = ip.payload();
        let whole = !ip.more_frags() && ip.frag_offset() == 0;
        if whole && ip.protocol() == Protocol::Icmp && p.len() >= 8 + 20 && p[8] >> 4 == 4 {
            let message = icmpv4::Message::from(p[0]);
            let at = |i: usize| Ipv4Addr::new(p[i], p[i + 1], p[i + 2], p[i + 3]);
            if matches!(
                message,
                icmpv4::Message::DstUnreachable | icmpv4::Message::Redirect
            ) {
                v.push(at(8 + 16));
            }
            if message == icmpv4::Message::Redirect {
                v.push(at(4));
            }
            if style.verbose > 0 && message.is_error() {
                v.extend([at(8 + 12), at(8 + 16)]);
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        v.retain(|a| !self.names.contains_key(a) && seen.insert(*a));
        v
    }

    /// The name `addr` prints as (`None`: its number).
    pub fn learn(&mut self, addr: Ipv4Addr, name: Option<String>) {
        self.names.insert(addr, name);
    }

    /// How `addr` prints: its name if one was found, unless `-n`.
    fn show(&self, addr: Ipv4Addr, style: Style) -> String {
        match self.names.get(&addr) {
            Some(Some(name)) if !style.numeric => name.clone(),
            _ => addr.to_string(),
        }
    }

    /// The line for one IPv4 datagram (without the timestamp); an IPv6
    /// one (a TUN device carries the kernel's) gets [`ipv6_line`]'s.
    pub fn line(&mut self, bytes: &[u8], style: Style) -> String {
        self.line_of(bytes, bytes.len(), style)
    }

    /// [`Self::line`] for a packet of which `bytes` were captured of `wire`
    /// on the wire (a snapshot length cuts the rest: what is missing then
    /// is not the datagram's fault, and a header cut short prints as
    /// `[|tcp]`, as tcpdump's bounds checks print it).
    pub fn line_of(&mut self, bytes: &[u8], wire: usize, style: Style) -> String {
        if bytes.first().is_some_and(|b| b >> 4 == 6) {
            let line = ipv6_line(bytes);
            return match line.strip_prefix("IP6 ") {
                Some(rest) if style.link => rest.to_string(),
                _ => line,
            };
        }
        // print-ip.c's ipN_print and ip_print (tcpdump 4.99): a raw IP
        // link's packet is dispatched by its version nibble, then an IPv4
        // header is checked in this order, each in tcpdump's words.
        let Some(&first) = bytes.first() else {
            return "truncated-ip 0".to_string();
        };
        if first >> 4 != 4 {
            return format!("unknown ip {}", first >> 4);
        }
        let ip_ = if style.link { "" } else { "IP " };
        if bytes.len() < 20 {
            return format!("{ip_} [|ip]");
        }
        let head = ipv4::Packet::new_unchecked(bytes);
        let hlen = head.header_len();
        if hlen < 20 {
            return format!("{ip_}bad-hlen {hlen}");
        }
        let total = usize::from(head.total_len());
        let mut missing = String::new();
        // (tcpdump compares the header's length with the wire's.)
        if wire < total {
            missing = format!("truncated-ip - {} bytes missing! ", total - wire);
        }
        if total < hlen {
            return format!("{ip_}{missing}bad-len {total}");
        }
        if bytes.len() < hlen {
            // The options are cut: tcpdump stops at the header.
            return format!("{ip_}{missing} [|ip]");
        }
        let cut_head = bytes.len() < total && head.frag_offset() == 0 && {
            // A transport header the capture does not hold whole.
            let t = &bytes[hlen..];
            match head.protocol() {
                Protocol::Tcp => t.len() < 20 || t.len() < usize::from(t[12] >> 4) * 4,
                Protocol::Udp => t.len() < 8,
                _ => false,
            }
        };
        let line = if cut_head {
            // Its own bounds, in tcpdump's words.
            let (src, dst) = (head.src_addr(), head.dst_addr());
            let names = (self.show(src, style), self.show(dst, style));
            let t = &bytes[hlen..];
            let mut s = String::from(ip_);
            if head.protocol() == Protocol::Tcp && t.len() >= 20 {
                let _ = write!(
                    s,
                    "{}.{} > {}.{}: Flags [{}] [|tcp]",
                    names.0,
                    port(u16::from_be_bytes([t[0], t[1]]), Transport::Tcp, style),
                    names.1,
                    port(u16::from_be_bytes([t[2], t[3]]), Transport::Tcp, style),
                    tcp::Flags(u16::from(t[13]))
                );
            } else if head.protocol() == Protocol::Tcp {
                self.tcp(&mut s, (src, dst), &names, t, style, true);
            } else {
                let _ = write!(s, "{} > {}:  [|udp]", names.0, names.1);
            }
            s
        } else if bytes.len() >= total {
            match ipv4::Packet::new_checked(bytes) {
                Ok(ip) => self.datagram(&ip, style, false, false),
                Err(e) => format!("IP [{e}, {} bytes]", bytes.len()),
            }
        } else {
            // What is missing reads as zeros up to the total length, as
            // in a cut quote ([`Self::quoted`]); no checksum is checked.
            let mut whole = bytes.to_vec();
            whole.resize(total, 0);
            match ipv4::Packet::new_checked(&whole[..]) {
                Ok(ip) => self.datagram(&ip, style, false, true),
                Err(e) => format!("IP [{e}, {} bytes]", bytes.len()),
            }
        };
        match line.strip_prefix(ip_) {
            Some(rest) if !missing.is_empty() => format!("{ip_}{missing}{rest}"),
            _ => line,
        }
    }

    /// The datagram an ICMP error quotes, under -v (print-icmp.c): its
    /// header and as much of the rest as the error carried — a router
    /// quotes 8 bytes of it or more (RFC 792, RFC 1812 §4.3.2.3). What is
    /// missing is read as zeros up to the header's total length, so the
    /// lengths print as the header gives them, and no checksum of a cut
    /// quote is checked (tcpdump checks only what it has whole). A quote
    /// inside the quote is not opened again.
    fn quoted(&mut self, bytes: &[u8], style: Style) -> String {
        let head = ipv4::Packet::new_unchecked(bytes);
        if bytes.len() < 20 || head.version() != 4 || head.header_len() < 20 {
            return format!("IP [truncated, {} bytes]", bytes.len());
        }
        let total = usize::from(head.total_len()).max(head.header_len());
        let cut = bytes.len() < total;
        let mut whole = bytes[..bytes.len().min(total)].to_vec();
        whole.resize(total, 0);
        match ipv4::Packet::new_checked(&whole[..]) {
            Ok(ip) => self.datagram(&ip, style, true, cut),
            Err(e) => format!("IP [{e}, {} bytes]", bytes.len()),
        }
    }

    /// An IPv4 datagram's line; `inner` when an ICMP error quotes it
    /// ([`Self::quoted`]), `cut` when that quote is not whole.
    fn datagram(
        &mut self,
        ip: &ipv4::Packet<&[u8]>,
        style: Style,
        inner: bool,
        cut: bool,
    ) -> String {
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let names = (self.show(src, style), self.show(dst, style));
        let payload = ip.payload();
        let frag = ip.more_frags() || ip.frag_offset() != 0 || cut;
        let mut s = String::from(if style.link { "" } else { "IP " });
        if style.verbose > 0 {
            let _ = write!(s, "{}\n    ", ip_header(ip));
        }
        if ip.frag_offset() != 0 {
            // A later fragment has no transport header: tcpdump 4.99
            // (print-ip.c) names the protocol from /etc/protocols, by
            // number with -n, and says nothing more (the -v header line
            // shows the id, offset and flags).
            let proto = match ip.protocol() {
                p @ (Protocol::Tcp | Protocol::Udp | Protocol::Icmp) if !style.numeric => {
                    p.to_string()
                }
                p => format!("ip-proto-{}", u8::from(p)),
            };
            let _ = write!(s, "{} > {}: {proto}", names.0, names.1);
        } else {
            match ip.protocol() {
                Protocol::Tcp => self.tcp(&mut s, (src, dst), &names, payload, style, frag),
                Protocol::Udp => udp_line(&mut s, (src, dst), &names, payload, style, frag),
                Protocol::Icmp => {
                    let _ = write!(s, "{} > {}: ", names.0, names.1);
                    match icmpv4::Packet::new_checked(payload) {
                        Ok(icmp) => match icmpv4::Repr::parse(&icmp) {
                            Ok(repr) => {
                                let name = |a: Ipv4Addr| self.show(a, style);
                                let service = |p: u16, proto: Protocol| {
                                    let t = if proto == Protocol::Tcp {
                                        Transport::Tcp
                                    } else {
                                        Transport::Udp
                                    };
                                    port(p, t, style)
                                };
                                let _ = repr.describe(&mut s, &name, &service);
                                let _ = write!(s, ", length {}", payload.len());
                                icmp_checksum(&mut s, payload, style, frag);
                                // -v: the datagram the error is about, on
                                // lines of its own after a tab.
                                if style.verbose > 0 && icmp.msg_type().is_error() && !inner {
                                    let quote = self.quoted(icmp.data(), style);
                                    let _ = write!(s, "\n\t{quote}");
                                }
                            }
                            Err(_) => {
                                let _ = write!(
                                    s,
                                    "ICMP type {}, length {}",
                                    u8::from(icmp.msg_type()),
                                    payload.len()
                                );
                                icmp_checksum(&mut s, payload, style, frag);
                            }
                        },
                        Err(e) => {
                            let _ = write!(s, "ICMP [{e}]");
                        }
                    }
                }
                other => {
                    let _ = write!(
                        s,
                        "{} > {}: {other}, length {}",
                        names.0,
                        names.1,
                        payload.len()
                    );
                }
            }
        }
        s
    }

    /// `frag`: the datagram is a first fragment (its checksum cannot be
    /// checked, so tcpdump does not).
    fn tcp(
        &mut self,
        s: &mut String,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        (src_name, dst_name): &(String, String),
        payload: &[u8],
        style: Style,
        frag: bool,
    ) {
        // print-tcp.c's checks of the header, in its order and words.
        if payload.len() < 4 {
            let _ = write!(s, "{src_name} > {dst_name}: [|tcp]");
            return;
        }
        let head = tcp::Packet::new_unchecked(payload);
        let ports = format!(
            "{src_name}.{} > {dst_name}.{}: ",
            port(head.src_port(), Transport::Tcp, style),
            port(head.dst_port(), Transport::Tcp, style),
        );
        if payload.len() < 20 {
            let _ = write!(s, "{ports} [|tcp]");
            return;
        }
        let hlen = head.header_len();
        if hlen < 20 {
            let _ = write!(
                s,
                "{ports} tcp {} [bad hdr length {hlen} - too short, < 20]",
                payload.len().wrapping_sub(hlen) as u32
            );
            return;
        }
        if hlen > payload.len() {
            let _ = write!(s, "{ports}");
            if style.quiet {
                let _ = write!(
                    s,
                    "tcp {}",
                    (payload.len() as u32).wrapping_sub(hlen as u32)
                );
            } else {
                let _ = write!(s, "Flags [{}]", head.flags());
            }
            let _ = write!(
                s,
                " [bad hdr length {hlen} - too long, > {}]",
                payload.len()
            );
            return;
        }
        let Ok(seg) = tcp::Packet::new_checked(payload) else {
            let _ = write!(s, "{ports} [|tcp]");
            return;
        };
        let key = (src, seg.src_port(), dst, seg.dst_port());
        let rev = (dst, seg.dst_port(), src, seg.src_port());
        let f = seg.flags();
        // print-tcp.c (tcpdump 4.99): a conversation's two bases are taken
        // from the first segment with ACK that it prints (or a SYN with
        // ACK): its own sequence number for its direction, its ACK less
        // one for the other. That segment and any without ACK are printed
        // absolute; later ones relative to the bases.
        let relative = !style.absolute && f.ack();
        let recorded = relative && (f.syn() || !self.bases.contains_key(&key));
        if recorded {
            // tcpdump's table grows for as long as it runs; this one is
            // bounded: past BASES_MAX conversations it starts afresh (a
            // conversation then prints its next segment absolute, as if
            // first seen).
            if self.bases.len() >= 2 * BASES_MAX {
                self.bases.clear();
            }
            self.bases.insert(key, seg.seq_number().0);
            self.bases.insert(rev, seg.ack_number().0.wrapping_sub(1));
        }
        let (base, ack_base) = if relative {
            (self.bases[&key], self.bases[&rev])
        } else {
            (0, 0)
        };
        let rel = |n: SeqNumber, b: u32| n.0.wrapping_sub(b);
        let len = seg.payload().len();
        if style.quiet {
            // print-tcp.c under -q: "tcp" and the payload's length.
            let _ = write!(
                s,
                "{src_name}.{} > {dst_name}.{}: tcp {len}",
                port(seg.src_port(), Transport::Tcp, style),
                port(seg.dst_port(), Transport::Tcp, style),
            );
            return;
        }
        let _ = write!(
            s,
            "{src_name}.{} > {dst_name}.{}: Flags [{f}]",
            port(seg.src_port(), Transport::Tcp, style),
            port(seg.dst_port(), Transport::Tcp, style),
        );
        if style.verbose > 0 && !frag {
            let sum = seg.checksum();
            if seg.verify_checksum(src, dst) {
                let _ = write!(s, ", cksum 0x{sum:04x} (correct)");
            } else {
                let mut copy = payload.to_vec();
                let mut fixed = tcp::Packet::new_unchecked(&mut copy[..]);
                fixed.fill_checksum(src, dst);
                let _ = write!(
                    s,
                    ", cksum 0x{sum:04x} (incorrect -> 0x{:04x})",
                    fixed.checksum()
                );
            }
        }
        let shift = |n: SeqNumber, b: u32| if recorded { n.0 } else { rel(n, b) };
        // print-tcp.c: -vv shows the sequence number of every segment,
        // pure ACKs too.
        if style.verbose > 1 || len > 0 || f.syn() || f.fin() || f.rst() {
            let shown = shift(seg.seq_number(), base);
            let _ = write!(s, ", seq {shown}");
            if len > 0 {
                let _ = write!(s, ":{}", shown.wrapping_add(len as u32));
            }
        }
        if f.ack() {
            let _ = write!(s, ", ack {}", shift(seg.ack_number(), ack_base));
        }
        // SACK edges are printed against the base the ACK number has
        // (even on the segment that set it, as print-tcp.c does).
        let sack_base = ack_base;
        let _ = write!(s, ", win {}", seg.window_len());
        if f.urg() {
            let _ = write!(s, ", urg {}", seg.urgent_pointer());
        }
        if !seg.options().is_empty() {
            s.push_str(", options [");
            let _ = tcp::write_options_rel(s, seg.options(), sack_base);
            s.push(']');
        }
        let _ = write!(s, ", length {len}");
        if len > 0 && !frag {
            app_layer(
                s,
                seg.src_port(),
                seg.dst_port(),
                seg.payload(),
                style.verbose,
            );
        }
    }
}

/// What print-tcp.c decodes above TCP for the services tcplab has: HTTP
/// on ports 80 and 8080 (`http_print`), DNS on 53 (`domain_print` over
/// TCP, the message after its two-byte length).
fn app_layer(s: &mut String, sport: u16, dport: u16, data: &[u8], verbose: u8) {
    let either = |p: u16| sport == p || dport == p;
    if either(80) || either(8080) {
        s.push_str(": ");
        http(s, data, verbose);
    } else if either(53) {
        let Some((prefix, msg)) = data.split_first_chunk::<2>() else {
            let _ = write!(s, " [DNS over TCP: length {} < 2] (invalid)", data.len());
            return;
        };
        let prefix = u16::from_be_bytes(*prefix);
        if usize::from(prefix) != msg.len() {
            let _ = write!(
                s,
                " [prefix length({prefix}) != length({})] (invalid)",
                msg.len()
            );
        } else {
            s.push(' ');
            s.push_str(&dns(msg, verbose));
        }
    }
}

/// The methods print-http.c recognises as a request line's first word.
const HTTP_METHODS: [&str; 38] = [
    "GET",
    "PUT",
    "COPY",
    "HEAD",
    "LOCK",
    "MOVE",
    "POLL",
    "POST",
    "BCOPY",
    "BMOVE",
    "MKCOL",
    "TRACE",
    "LABEL",
    "MERGE",
    "DELETE",
    "SEARCH",
    "UNLOCK",
    "REPORT",
    "UPDATE",
    "NOTIFY",
    "BDELETE",
    "CONNECT",
    "OPTIONS",
    "CHECKIN",
    "PROPFIND",
    "CHECKOUT",
    "CHECKOUT",
    "SUBSCRIBE",
    "PROPPATCH",
    "BPROPFIND",
    "BPROPPATCH",
    "UNCHECKOUT",
    "MKACTIVITY",
    "MKWORKSPACE",
    "UNSUBSCRIBE",
    "RPC_CONNECT",
    "VERSION-CONTROL",
    "BASELINE-CONTROL",
];

/// print-icmp.c under -v: a message whose checksum does not add up says
/// so, with the value it should have had; not for a fragment or a cut
/// quote, whose bytes are not all there.
fn icmp_checksum(s: &mut String, message: &[u8], style: Style, frag: bool) {
    if style.verbose == 0 || frag || message.len() < 4 {
        return;
    }
    if tcplab_wire::checksum::data(message) == 0xffff {
        return;
    }
    let mut zeroed = message.to_vec();
    zeroed[2..4].copy_from_slice(&[0, 0]);
    let should = !tcplab_wire::checksum::data(&zeroed);
    let have = u16::from_be_bytes([message[2], message[3]]);
    let _ = write!(s, " (wrong icmp cksum {have:x} (->{should:x})!)");
}

/// tcpdump's HTTP line (`txtproto_print`): "HTTP", then, for a segment
/// that starts a request (a known method) or a response (a three-digit
/// code as its second word), the first line — or under -v the length and
/// every text line, each on a line of its own after a tab. A segment in
/// the middle of a body is just "HTTP".
fn http(s: &mut String, data: &[u8], verbose: u8) {
    s.push_str("HTTP");
    let mut words = data
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    let is_method = HTTP_METHODS
        .iter()
        .any(|m| m.as_bytes().eq_ignore_ascii_case(first));
    let is_status = second.len() == 3 && second.iter().all(u8::is_ascii_digit);
    if !is_method && !is_status {
        return;
    }
    // A line that runs to the end of the data without its line end is
    // printed as cut short (print_txt_line's `trunc`: " [|http]").
    if verbose == 0 {
        if let Some((line, next)) = text_line(data) {
            s.push_str(": ");
            s.push_str(line);
            if next.is_none() {
                s.push_str(" [|http]");
            }
        }
        return;
    }
    let _ = write!(s, ", length: {}", data.len());
    let mut rest = data;
    while let Some((line, next)) = text_line(rest) {
        s.push_str("\n\t");
        s.push_str(line);
        match next {
            Some(n) if !n.is_empty() => rest = n,
            Some(_) => break,
            None => {
                s.push_str(" [|http]");
                break;
            }
        }
    }
}

/// The text line at the start of `data` (`print_txt_line`): printable
/// ASCII and tabs up to CRLF or LF, and what follows it; `None` when a
/// byte that is not text comes first (a bare CR included). Text that
/// runs to the end without a line end is a line with nothing after it.
fn text_line(data: &[u8]) -> Option<(&str, Option<&[u8]>)> {
    for (i, &c) in data.iter().enumerate() {
        match c {
            b'\n' => return Some((as_text(&data[..i]), Some(&data[i + 1..]))),
            b'\r' => {
                return match data.get(i + 1) {
                    Some(b'\n') => Some((as_text(&data[..i]), Some(&data[i + 2..]))),
                    _ => None,
                };
            }
            b'\t' | b' '..=b'~' => {}
            _ => return None,
        }
    }
    Some((as_text(data), None))
}

/// Bytes already checked to be printable ASCII.
fn as_text(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or_default()
}

fn udp_line(
    s: &mut String,
    (src, dst): (Ipv4Addr, Ipv4Addr),
    (src_name, dst_name): &(String, String),
    payload: &[u8],
    style: Style,
    frag: bool,
) {
    // As tcpdump 4.99.3's print-udp.c: the ports when there are four
    // bytes; then the header's length, which a first fragment's datagram
    // exceeds.
    let (Some(sp), Some(dp)) = (be16(payload, 0), be16(payload, 2)) else {
        let _ = write!(s, "{src_name} > {dst_name}:  [|udp]");
        return;
    };
    let _ = write!(
        s,
        "{src_name}.{} > {dst_name}.{}: ",
        port(sp, Transport::Udp, style),
        port(dp, Transport::Udp, style)
    );
    let Some(ulen) = be16(payload, 4).filter(|_| payload.len() >= 8) else {
        let _ = write!(s, "truncated-udp {}", payload.len());
        return;
    };
    if ulen < 8 {
        let _ = write!(s, "truncated-udplength {ulen}");
        return;
    }
    let ulen = usize::from(ulen) - 8;
    let length = (payload.len() - 8).min(ulen);
    let whole = udp::Packet::new_checked(&payload[..8 + length]).ok();
    let Some(d) = whole.filter(|_| ulen == length) else {
        if frag {
            let _ = write!(s, "UDP, length {ulen}");
        } else {
            let _ = write!(s, "UDP, bad length {ulen} > {length}");
        }
        return;
    };
    // tcpdump checks UDP checksums over IPv4 only from -vv.
    if style.verbose > 1 && !frag {
        if d.checksum() == 0 {
            s.push_str("[no cksum] ");
        } else if d.verify_checksum(src, dst) {
            s.push_str("[udp sum ok] ");
        } else {
            let mut copy = payload.to_vec();
            let mut fixed = udp::Packet::new_unchecked(&mut copy[..]);
            fixed.fill_checksum(src, dst);
            let _ = write!(
                s,
                "[bad udp cksum 0x{:04x} -> 0x{:04x}!] ",
                d.checksum(),
                fixed.checksum()
            );
        }
    }
    let data = d.payload();
    // -q: no protocol above UDP is decoded (print-udp.c).
    if !frag && !style.quiet && (sp == 53 || dp == 53) {
        s.push_str(&dns(data, style.verbose));
        return;
    }
    let _ = write!(s, "UDP, length {}", data.len());
}

/// The big-endian 16-bit word at `at`, if the bytes are there.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

mod dns;
pub use dns::dns;
#[cfg(test)]
use dns::{dns_name, edns_option, relts};

#[cfg(test)]
mod tests;

/// An IPv6 packet as tcpdump 4.99 prints the ones a kernel sends on its
/// own (print-ip6.c, print-icmp6.c): addresses, a hop-by-hop header as
/// `HBH`, ICMPv6 by type (neighbor discovery's targets, echo's id and
/// sequence, MLDv2's record count), UDP and TCP by ports, anything else
/// by protocol number. tcplab itself speaks no IPv6.
pub fn ipv6_line(bytes: &[u8]) -> String {
    if bytes.len() < 40 {
        return format!("IP6 [truncated, {} bytes]", bytes.len());
    }
    let (src, dst) = (addr_at(bytes, 8), addr_at(bytes, 24));
    let end = (40 + usize::from(u16::from_be_bytes([bytes[4], bytes[5]]))).min(bytes.len());
    let mut next = bytes[6];
    let mut at = 40;
    let mut s = String::from("IP6 ");
    let mut hbh = false;
    // Hop-by-hop options (MLD reports carry the router alert).
    if next == 0 && at + 8 <= end {
        next = bytes[at];
        at += (usize::from(bytes[at + 1]) + 1) * 8;
        hbh = true;
    }
    let body = bytes.get(at..end).unwrap_or(&[]);
    let hbh = if hbh { "HBH " } else { "" };
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match next {
        58 if body.len() >= 4 => {
            let kind = body[0];
            let name = match kind {
                1 => "destination unreachable",
                2 => "packet too big",
                3 => "time exceeded",
                4 => "parameter problem",
                128 => "echo request",
                129 => "echo reply",
                130 => "multicast listener query",
                131 => "multicast listener report",
                132 => "multicast listener done",
                133 => "router solicitation",
                134 => "router advertisement",
                135 => "neighbor solicitation",
                136 => "neighbor advertisement",
                137 => "redirect",
                143 => "multicast listener report v2",
                _ => "",
            };
            let _ = write!(s, "{src} > {dst}: {hbh}ICMP6, ");
            if name.is_empty() {
                let _ = write!(s, "unknown icmp6 type ({kind})");
            } else {
                s.push_str(name);
            }
            let target = |b: &[u8]| (b.len() >= 24).then(|| addr_at(b, 8));
            match kind {
                128 | 129 if body.len() >= 8 => {
                    let _ = write!(s, ", id {}, seq {}", port(&body[4..]), port(&body[6..]));
                }
                135 => {
                    if let Some(t) = target(body) {
                        let _ = write!(s, ", who has {t}");
                    }
                }
                136 => {
                    if let Some(t) = target(body) {
                        let _ = write!(s, ", tgt is {t}");
                    }
                }
                143 if body.len() >= 8 => {
                    let _ = write!(s, ", {} group record(s)", port(&body[6..]));
                }
                _ => {}
            }
            let _ = write!(s, ", length {}", body.len());
        }
        17 if body.len() >= 8 => {
            let _ = write!(
                s,
                "{src}.{} > {dst}.{}: {hbh}UDP, length {}",
                port(body),
                port(&body[2..]),
                body.len() - 8
            );
        }
        6 if body.len() >= 20 => {
            let _ = write!(
                s,
                "{src}.{} > {dst}.{}: {hbh}tcp {}",
                port(body),
                port(&body[2..]),
                body.len().saturating_sub(usize::from(body[12] >> 4) * 4)
            );
        }
        n => {
            let _ = write!(s, "{src} > {dst}: {hbh}ip-proto-{n} {}", body.len());
        }
    }
    s
}

fn addr_at(b: &[u8], at: usize) -> std::net::Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    std::net::Ipv6Addr::from(a)
}

#[cfg(test)]
mod ipv6_tests;
