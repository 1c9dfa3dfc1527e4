//! What the rules and the connection tracker see of a datagram, and the
//! rewrites NAT makes, each with its checksums updated incrementally
//! (RFC 1624).
//!
//! Everything here works on the raw bytes of an IPv4 datagram that the
//! stack has already validated (version, lengths, header checksum); still,
//! every offset is checked, and a datagram too short for a field is simply
//! not matched or not rewritten.

use std::net::Ipv4Addr;

use tcplab_wire::checksum::{self, update_u32, update_word};

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const GRE: u8 = 47;

/// TCP flag bits.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// A flow's identity in one direction. For ICMP echo both ports hold the
/// identifier; for protocols without ports both are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    /// The same flow seen from the other end.
    pub fn invert(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// The fields of a datagram that rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// Ports (TCP, UDP); the echo identifier in both for ICMP echo.
    pub sport: u16,
    pub dport: u16,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    pub tcp_flags: u8,
    pub len: usize,
    /// Header length, where the transport header starts.
    pub ihl: usize,
    /// A fragment other than the first: no transport header.
    pub later_fragment: bool,
    /// The transport header is there (not a later fragment, long enough).
    pub has_ports: bool,
}

impl Info {
    pub fn tuple(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
        }
    }

    /// An ICMP error (destination unreachable, source quench, redirect,
    /// time exceeded, parameter problem).
    pub fn is_icmp_error(&self) -> bool {
        matches!(self.icmp, Some((3 | 4 | 5 | 11 | 12, _)))
    }

    /// An ICMP query or its reply, tracked by identifier as Linux's
    /// conntrack tracks them: echo (8/0), timestamp (13/14), information
    /// (15/16), address mask (17/18).
    pub fn is_echo(&self) -> bool {
        self.icmp
            .is_some_and(|(t, _)| is_query(t) || is_query_reply(t))
    }
}

/// An ICMP query type that carries an identifier (RFC 792: echo,
/// timestamp, information; RFC 950: address mask).
pub fn is_query(t: u8) -> bool {
    matches!(t, 8 | 13 | 15 | 17)
}

/// The reply to one of those.
pub fn is_query_reply(t: u8) -> bool {
    matches!(t, 0 | 14 | 16 | 18)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn addr(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::new(
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ))
}

/// Read the matchable fields of a datagram (or of a datagram quoted in an
/// ICMP error, which may be cut short after the transport ports).
pub fn parse(b: &[u8]) -> Option<Info> {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    if ihl < 20 || b.len() < ihl {
        return None;
    }
    let total = usize::from(be16(b, 2)?);
    let len = total.min(b.len());
    let frag = be16(b, 6)?;
    let later_fragment = frag & 0x1fff != 0;
    let proto = b[9];
    let mut info = Info {
        src: addr(b, 12)?,
        dst: addr(b, 16)?,
        proto,
        sport: 0,
        dport: 0,
        icmp: None,
        tcp_flags: 0,
        len,
        ihl,
        later_fragment,
        has_ports: false,
    };
    if later_fragment {
        return Some(info);
    }
    let t = &b[ihl..len.max(ihl)];
    match proto {
        TCP | UDP if t.len() >= 4 => {
            info.sport = be16(t, 0)?;
            info.dport = be16(t, 2)?;
            info.has_ports = true;
            if proto == TCP {
                info.tcp_flags = t.get(13).copied().unwrap_or(0);
            }
        }
        ICMP if t.len() >= 2 => {
            info.icmp = Some((t[0], t[1]));
            if (is_query(t[0]) || is_query_reply(t[0])) && t.len() >= 6 {
                let id = be16(t, 4)?;
                info.sport = id;
                info.dport = id;
                info.has_ports = true;
            }
        }
        _ => {}
    }
    Some(info)
}

/// The datagram quoted by an ICMP error (starting at its IP header).
pub fn quoted(b: &[u8], info: &Info) -> Option<(usize, Info)> {
    if !info.is_icmp_error() {
        return None;
    }
    let at = info.ihl + 8;
    let inner = parse(b.get(at..info.len)?)?;
    Some((at, inner))
}

/// The offset of the transport checksum field, for TCP and UDP.
fn transport_csum_at(proto: u8) -> Option<usize> {
    match proto {
        TCP => Some(16),
        UDP => Some(6),
        _ => None,
    }
}

/// Replace the source (`which = Src`) or destination address of the
/// datagram at `b[at..]`, fixing the IP header checksum and the transport
/// checksum that covers the pseudo-header.
pub fn set_addr(b: &mut [u8], at: usize, which: Side, new: Ipv4Addr) -> Option<()> {
    let off = at + if which == Side::Src { 12 } else { 16 };
    let old = u32::from(addr(b, off)?);
    let new_u = u32::from(new);
    if old == new_u {
        return Some(());
    }
    b.get_mut(off..off + 4)?.copy_from_slice(&new.octets());
    let ip_sum = be16(b, at + 10)?;
    b[at + 10..at + 12].copy_from_slice(&update_u32(ip_sum, old, new_u).to_be_bytes());
    let ihl = usize::from(b[at] & 0x0f) * 4;
    let later = be16(b, at + 6)? & 0x1fff != 0;
    if later {
        return Some(());
    }
    if let Some(c) = transport_csum_at(b[at + 9]) {
        let pos = at + ihl + c;
        if let Some(cur) = be16(b, pos) {
            // UDP: a zero checksum means "none" and stays zero.
            if !(b[at + 9] == UDP && cur == 0) {
                let mut v = update_u32(cur, old, new_u);
                if b[at + 9] == UDP && v == 0 {
                    v = 0xffff;
                }
                b[pos..pos + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
    Some(())
}

/// Which address or port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Src,
    Dst,
}

/// Replace the source or destination port (TCP, UDP), or the echo
/// identifier (ICMP echo; `which` is ignored), fixing the checksum.
pub fn set_port(b: &mut [u8], at: usize, which: Side, new: u16) -> Option<()> {
    let ihl = usize::from(*b.get(at)? & 0x0f) * 4;
    let t = at + ihl;
    match *b.get(at + 9)? {
        proto @ (TCP | UDP) => {
            let off = t + if which == Side::Src { 0 } else { 2 };
            let old = be16(b, off)?;
            if old == new {
                return Some(());
            }
            b.get_mut(off..off + 2)?.copy_from_slice(&new.to_be_bytes());
            let pos = t + transport_csum_at(proto)?;
            if let Some(cur) = be16(b, pos) {
                if !(proto == UDP && cur == 0) {
                    let mut v = update_word(cur, old, new);
                    if proto == UDP && v == 0 {
                        v = 0xffff;
                    }
                    b[pos..pos + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
        ICMP => {
            let off = t + 4;
            let old = be16(b, off)?;
            if old == new {
                return Some(());
            }
            b.get_mut(off..off + 2)?.copy_from_slice(&new.to_be_bytes());
            let cur = be16(b, t + 2)?;
            b[t + 2..t + 4].copy_from_slice(&update_word(cur, old, new).to_be_bytes());
        }
        _ => {}
    }
    Some(())
}

/// Recompute the checksum of an ICMP message (after its quoted datagram
/// was rewritten) and of the quoted IP header.
pub fn refresh_icmp_error(b: &mut [u8], ihl: usize, len: usize, inner_at: usize) {
    if let Some(inner_ihl) = b.get(inner_at).map(|v| usize::from(v & 0x0f) * 4) {
        if inner_ihl >= 20 && inner_at + inner_ihl <= len {
            b[inner_at + 10] = 0;
            b[inner_at + 11] = 0;
            let s = !checksum::data(&b[inner_at..inner_at + inner_ihl]);
            b[inner_at + 10..inner_at + 12].copy_from_slice(&s.to_be_bytes());
        }
    }
    if ihl + 4 <= len && len <= b.len() {
        b[ihl + 2] = 0;
        b[ihl + 3] = 0;
        let s = !checksum::data(&b[ihl..len]);
        b[ihl + 2..ihl + 4].copy_from_slice(&s.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcplab_wire::{ipv4, tcp, udp, Protocol};

    pub fn udp_packet(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let (s, d) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let payload = b"hello";
        let u = udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload,
        };
        let ip = ipv4::Repr {
            src_addr: s,
            dst_addr: d,
            protocol: Protocol::Udp,
            payload_len: u.buffer_len(),
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        };
        let mut b = vec![0u8; ip.buffer_len() + u.buffer_len()];
        let (h, p) = b.split_at_mut(ip.buffer_len());
        ip.emit(&mut ipv4::Packet::new_unchecked(h));
        u.emit(&mut udp::Packet::new_unchecked(p), s, d);
        b
    }

    fn valid_udp(b: &[u8]) -> bool {
        let p = ipv4::Packet::new_checked(b).unwrap();
        p.verify_checksum()
            && udp::Packet::new_checked(p.payload())
                .unwrap()
                .verify_checksum(p.src_addr(), p.dst_addr())
    }

    #[test]
    fn rewrites_keep_checksums_valid() {
        let mut b = udp_packet([10, 0, 1, 2], [10, 0, 2, 2], 40000, 53);
        let info = parse(&b).unwrap();
        assert_eq!((info.sport, info.dport, info.proto), (40000, 53, UDP));
        set_addr(&mut b, 0, Side::Src, Ipv4Addr::new(192, 0, 2, 1)).unwrap();
        set_port(&mut b, 0, Side::Src, 61000).unwrap();
        set_addr(&mut b, 0, Side::Dst, Ipv4Addr::new(10, 9, 9, 9)).unwrap();
        set_port(&mut b, 0, Side::Dst, 5353).unwrap();
        assert!(valid_udp(&b));
        let info = parse(&b).unwrap();
        assert_eq!(info.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!((info.sport, info.dport), (61000, 5353));
    }

    #[test]
    fn tcp_rewrite_checksum() {
        let (s, d) = (Ipv4Addr::new(10, 0, 1, 2), Ipv4Addr::new(10, 0, 2, 2));
        let mut r = tcp::Repr::new(
            1234,
            80,
            tcp::Flags::SYN,
            tcp::SeqNumber(7),
            tcp::SeqNumber(0),
        );
        r.window_len = 1000;
        let mut seg = vec![0u8; r.buffer_len()];
        r.emit(&mut tcp::Packet::new_unchecked(&mut seg[..]), s, d);
        let ip = ipv4::Repr {
            src_addr: s,
            dst_addr: d,
            protocol: Protocol::Tcp,
            payload_len: seg.len(),
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let mut b = vec![0u8; 20];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
        b.extend_from_slice(&seg);
        let info = parse(&b).unwrap();
        assert_eq!(info.tcp_flags, flags::SYN);
        set_addr(&mut b, 0, Side::Src, Ipv4Addr::new(203, 0, 113, 7)).unwrap();
        set_port(&mut b, 0, Side::Src, 2000).unwrap();
        let p = ipv4::Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        let t = tcp::Packet::new_checked(p.payload()).unwrap();
        assert!(t.verify_checksum(p.src_addr(), p.dst_addr()));
    }

    #[test]
    fn short_and_odd_input_is_not_matched() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x45; 10]).is_none());
        let mut b = udp_packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        b.truncate(22);
        let i = parse(&b).unwrap();
        assert!(!i.has_ports);
        // Rewriting a truncated datagram does not panic.
        let _ = set_port(&mut b, 0, Side::Dst, 9);
    }
}
