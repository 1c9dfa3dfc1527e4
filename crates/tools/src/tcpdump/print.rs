//! One line per packet, as tcpdump 4.99 prints it: without `-v` no IP
//! header fields (no `[DF]`); with `-v` the IP header in brackets on the
//! first line, the rest on the next, TCP and UDP checksums checked; ports
//! by service name unless `-n`, TCP
//! sequence numbers relative to the first of each direction (absolute with
//! `-S`), DNS over UDP decoded (`11833+ A? server.lab.test. (33)`,
//! `11833* 1/0/0 A 10.99.3.2 (49)`). Addresses stay numeric: resolving
//! them would put the capture's own DNS queries on the wire.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record};
use tcplab_stack::services::{self, Transport};
use tcplab_wire::tcp::{self, SeqNumber};
use tcplab_wire::{icmpv4, ipv4, udp, Protocol};

/// How lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// `-n`: ports as numbers.
    pub numeric: bool,
    /// `-S`: absolute sequence numbers.
    pub absolute: bool,
    /// `-v` (counted).
    pub verbose: u8,
    /// `-q`: TCP and UDP as their protocol and payload length only.
    pub quiet: bool,
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

/// The printer's memory: the first sequence number seen per direction.
#[derive(Debug, Default)]
pub struct Printer {
    bases: BTreeMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32>,
}

fn port(p: u16, t: Transport, style: Style) -> String {
    if style.numeric {
        return p.to_string();
    }
    services::name(p, t).map_or_else(|| p.to_string(), str::to_string)
}

impl Printer {
    /// The line for one IPv4 datagram (without the timestamp).
    pub fn line(&mut self, bytes: &[u8], style: Style) -> String {
        let ip = match ipv4::Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return format!("IP [{e}, {} bytes]", bytes.len()),
        };
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let payload = ip.payload();
        let frag = ip.more_frags() || ip.frag_offset() != 0;
        let mut s = String::from("IP ");
        if style.verbose > 0 {
            let _ = write!(s, "{}\n    ", ip_header(&ip));
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
            let _ = write!(s, "{src} > {dst}: {proto}");
        } else {
            match ip.protocol() {
                Protocol::Tcp => self.tcp(&mut s, (src, dst), payload, style, frag),
                Protocol::Udp => udp_line(&mut s, src, dst, payload, style, frag),
                Protocol::Icmp => {
                    let _ = write!(s, "{src} > {dst}: ");
                    match icmpv4::Packet::new_checked(payload) {
                        Ok(icmp) => match icmpv4::Repr::parse(&icmp) {
                            Ok(repr) => {
                                let _ = write!(s, "{repr}, length {}", payload.len());
                            }
                            Err(_) => {
                                let _ = write!(
                                    s,
                                    "ICMP type {}, length {}",
                                    u8::from(icmp.msg_type()),
                                    payload.len()
                                );
                            }
                        },
                        Err(e) => {
                            let _ = write!(s, "ICMP [{e}]");
                        }
                    }
                }
                other => {
                    let _ = write!(s, "{src} > {dst}: {other}, length {}", payload.len());
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
        payload: &[u8],
        style: Style,
        frag: bool,
    ) {
        let seg = match tcp::Packet::new_checked(payload) {
            Ok(seg) => seg,
            Err(e) => {
                let _ = write!(s, "{src} > {dst}: TCP [{e}]");
                return;
            }
        };
        let key = (src, seg.src_port(), dst, seg.dst_port());
        let rev = (dst, seg.dst_port(), src, seg.src_port());
        let f = seg.flags();
        let first = !self.bases.contains_key(&key);
        if f.syn() || first {
            self.bases.insert(key, seg.seq_number().0);
        }
        let base = self.bases[&key];
        let rel = |n: SeqNumber, b: u32| n.0.wrapping_sub(b);
        let len = seg.payload().len();
        if style.quiet {
            // print-tcp.c under -q: "tcp" and the payload's length.
            let _ = write!(
                s,
                "{src}.{} > {dst}.{}: tcp {len}",
                port(seg.src_port(), Transport::Tcp, style),
                port(seg.dst_port(), Transport::Tcp, style),
            );
            return;
        }
        let _ = write!(
            s,
            "{src}.{} > {dst}.{}: Flags [{f}]",
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
        if len > 0 || f.syn() || f.fin() || f.rst() {
            let shown = if f.syn() || first || style.absolute {
                seg.seq_number().0
            } else {
                rel(seg.seq_number(), base)
            };
            let _ = write!(s, ", seq {shown}");
            if len > 0 {
                let _ = write!(s, ":{}", shown.wrapping_add(len as u32));
            }
        }
        // SACK edges are printed against the base the ACK number is.
        let mut sack_base = 0;
        if f.ack() {
            let ack = match self.bases.get(&rev) {
                Some(b) if !f.syn() && !style.absolute => {
                    sack_base = *b;
                    rel(seg.ack_number(), *b)
                }
                _ => seg.ack_number().0,
            };
            let _ = write!(s, ", ack {ack}");
        }
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
    }
}

fn udp_line(
    s: &mut String,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &[u8],
    style: Style,
    frag: bool,
) {
    let Ok(d) = udp::Packet::new_checked(payload) else {
        let _ = write!(s, "{src} > {dst}: UDP [truncated]");
        return;
    };
    let (sp, dp) = (d.src_port(), d.dst_port());
    let _ = write!(
        s,
        "{src}.{} > {dst}.{}: ",
        port(sp, Transport::Udp, style),
        port(dp, Transport::Udp, style)
    );
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
        if let Some(text) = dns(data) {
            s.push_str(&text);
            return;
        }
    }
    let _ = write!(s, "UDP, length {}", data.len());
}

/// tcpdump's `ns_print` for a DNS message, or `None` if it does not parse.
pub fn dns(data: &[u8]) -> Option<String> {
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
        if m.queries.len() != 1 {
            let _ = write!(s, " [{}q]", m.queries.len());
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
            s.push_str(&record(r));
        }
    } else {
        if md.recursion_desired {
            s.push('+');
        }
        if m.queries.len() != 1 {
            let _ = write!(s, " [{}q]", m.queries.len());
        }
        let additional = m.additionals.len() + usize::from(m.edns.is_some());
        if additional > 0 {
            let _ = write!(s, " [{additional}au]");
        }
        if let Some(q) = m.queries.first() {
            let _ = write!(s, " {}? {}", q.query_type(), fqdn(&q.name().to_ascii()));
        }
    }
    let _ = write!(s, " ({})", data.len());
    Some(s)
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// One answer as `ns_rprint` prints it: ` TYPE data`.
fn record(r: &Record) -> String {
    let name = |n: &hickory_proto::rr::Name| fqdn(&n.to_ascii());
    match &r.data {
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    #[test]
    fn hex_and_ascii_as_tcpdump_prints_them() {
        let lines = hex_and_ascii(b"GET / HTTP/1.1\r\nHost");
        assert_eq!(
            lines,
            [
                "\t0x0000:  4745 5420 2f20 4854 5450 2f31 2e31 0d0a  GET./.HTTP/1.1..",
                "\t0x0010:  486f 7374                                Host",
            ]
        );
        // -A: CR LF is one line break; a CR at the very end is dropped.
        assert_eq!(ascii(b"a b\r\n\x01c\r"), ["a b", ".c"]);
    }

    /// -v's IP header: the ECN codepoint after the TOS, a bad header
    /// checksum with the right one.
    #[test]
    fn verbose_ip_header_with_ecn_and_a_bad_checksum() {
        let mut h = vec![
            0x45, 0x03, 0x00, 0x14, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2,
        ];
        let mut p = ipv4::Packet::new_unchecked(&mut h[..]);
        p.fill_checksum();
        let good = p.checksum();
        p.set_checksum(0x1234);
        let ip = ipv4::Packet::new_checked(&h[..]).unwrap();
        assert_eq!(
            ip_header(&ip),
            format!(
                "(tos 0x3,CE, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 20, bad cksum 1234 (->{good:x})!)"
            )
        );
    }

    #[test]
    fn dns_questions_and_answers_as_tcpdump_prints_them() {
        let name = Name::from_ascii("server.lab.test.").unwrap();
        let mut q = Message::new(11833, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(name.clone(), RecordType::A));
        let bytes = q.to_vec().unwrap();
        assert_eq!(dns(&bytes).unwrap(), "11833+ A? server.lab.test. (33)");
        let mut r = Message::new(11833, MessageType::Response, OpCode::Query);
        r.metadata.authoritative = true;
        r.metadata.recursion_available = true;
        r.add_query(Query::query(name.clone(), RecordType::A));
        r.add_answer(Record::from_rdata(
            name,
            0,
            RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::new(10, 99, 3, 2))),
        ));
        let bytes = r.to_vec().unwrap();
        assert_eq!(dns(&bytes).unwrap(), "11833* 1/0/0 A 10.99.3.2 (49)");
    }
}
