//! A one-line, tcpdump-style description of an IPv4 datagram.
//!
//! ```text
//! IP 10.0.1.2 > 10.0.2.2: ICMP echo request, id 1, seq 1, length 64
//! IP 10.0.1.2.49152 > 10.0.2.2.80: Flags [S], seq 1, win 64240, options [mss 1460], length 0
//! IP 10.0.2.2.53 > 10.0.1.2.40000: UDP, length 31
//! ```
//!
//! Sequence numbers are absolute (as `tcpdump -S` prints them): a one-line
//! printer has no connection state to make them relative. Anything that does
//! not parse is described, never an error.

use core::fmt;

use crate::icmpv4;
use crate::ip::Protocol;
use crate::ipv4;
use crate::tcp;
use crate::udp;

/// Displays the IPv4 datagram in `bytes` on one line.
#[derive(Debug, Clone, Copy)]
pub struct PacketDisplay<'a>(pub &'a [u8]);

impl fmt::Display for PacketDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let packet = match ipv4::Packet::new_checked(self.0) {
            Ok(p) => p,
            Err(e) => return write!(f, "IP [{e}, {} bytes]", self.0.len()),
        };
        let (src, dst) = (packet.src_addr(), packet.dst_addr());
        let bad_ip = if packet.verify_checksum() {
            ""
        } else {
            " [bad ip cksum]"
        };
        let frag = packet.more_frags() || packet.frag_offset() != 0;
        let frag_note = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if frag {
                write!(
                    f,
                    " (frag {}:{}@{}{})",
                    packet.ident(),
                    packet.payload().len(),
                    packet.frag_offset(),
                    if packet.more_frags() { "+" } else { "" }
                )?;
            }
            if packet.dont_frag() {
                f.write_str(" [DF]")?;
            }
            f.write_str(bad_ip)
        };
        let payload = packet.payload();
        if packet.frag_offset() != 0 {
            // Non-first fragments carry no transport header.
            write!(f, "IP {src} > {dst}: {}", packet.protocol())?;
            return frag_note(f);
        }
        match packet.protocol() {
            Protocol::Icmp => {
                write!(f, "IP {src} > {dst}: ")?;
                match icmpv4::Packet::new_checked(payload) {
                    Ok(icmp) => {
                        match icmpv4::Repr::parse(&icmp) {
                            Ok(repr) => write!(f, "{repr}")?,
                            Err(_) if frag => write!(f, "ICMP type {:?}", icmp.msg_type())?,
                            Err(e) => write!(f, "ICMP [{e}]")?,
                        }
                        write!(f, ", length {}", payload.len())?;
                        if !frag && !icmp.verify_checksum() {
                            f.write_str(" [bad icmp cksum]")?;
                        }
                    }
                    Err(e) => write!(f, "ICMP [{e}]")?,
                }
            }
            Protocol::Udp => match udp::Packet::new_checked(payload) {
                Ok(udp) => {
                    write!(
                        f,
                        "IP {src}.{} > {dst}.{}: ",
                        udp.src_port(),
                        udp.dst_port()
                    )?;
                    write!(f, "UDP, length {}", udp.payload().len())?;
                    if !frag && !udp.verify_checksum(src, dst) {
                        f.write_str(" [bad udp cksum]")?;
                    }
                }
                Err(e) => write!(f, "IP {src} > {dst}: UDP [{e}]")?,
            },
            Protocol::Tcp => match tcp::Packet::new_checked(payload) {
                Ok(seg) => {
                    write!(
                        f,
                        "IP {src}.{} > {dst}.{}: Flags [{}]",
                        seg.src_port(),
                        seg.dst_port(),
                        seg.flags(),
                    )?;
                    // tcpdump shows the sequence number only for segments
                    // that occupy sequence space or reset.
                    let len = seg.payload().len();
                    let fl = seg.flags();
                    if len > 0 || fl.syn() || fl.fin() || fl.rst() {
                        write!(f, ", seq {}", seg.seq_number())?;
                        if len > 0 {
                            write!(f, ":{}", seg.seq_number() + len)?;
                        }
                    }
                    if seg.flags().ack() {
                        write!(f, ", ack {}", seg.ack_number())?;
                    }
                    write!(f, ", win {}", seg.window_len())?;
                    if seg.flags().urg() {
                        write!(f, ", urg {}", seg.urgent_pointer())?;
                    }
                    if !seg.options().is_empty() {
                        f.write_str(", options [")?;
                        tcp::write_options(f, seg.options())?;
                        f.write_str("]")?;
                    }
                    write!(f, ", length {len}")?;
                    if !frag && !seg.verify_checksum(src, dst) {
                        f.write_str(" [bad tcp cksum]")?;
                    }
                }
                Err(e) => write!(f, "IP {src} > {dst}: TCP [{e}]")?,
            },
            other => write!(f, "IP {src} > {dst}: {other}, length {}", payload.len())?,
        }
        frag_note(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn datagram(protocol: Protocol, payload: &[u8]) -> Vec<u8> {
        let ip = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 1, 2),
            dst_addr: Ipv4Addr::new(10, 0, 2, 2),
            protocol,
            payload_len: payload.len(),
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let mut bytes = vec![0u8; 20 + payload.len()];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
        bytes[20..].copy_from_slice(payload);
        bytes
    }

    #[test]
    fn icmp_echo() {
        let echo = icmpv4::Repr::EchoRequest {
            ident: 7,
            seq_no: 1,
            data: &[0; 56],
        };
        let mut icmp = vec![0u8; echo.buffer_len()];
        echo.emit(&mut icmpv4::Packet::new_unchecked(&mut icmp[..]));
        let bytes = datagram(Protocol::Icmp, &icmp);
        assert_eq!(
            PacketDisplay(&bytes).to_string(),
            "IP 10.0.1.2 > 10.0.2.2: ICMP echo request, id 7, seq 1, length 64 [DF]"
        );
    }

    #[test]
    fn tcp_syn() {
        let mut syn = tcp::Repr::new(
            49152,
            80,
            tcp::Flags::SYN,
            tcp::SeqNumber(100),
            tcp::SeqNumber(0),
        );
        syn.window_len = 64240;
        syn.max_seg_size = Some(1460);
        let mut seg = vec![0u8; syn.buffer_len()];
        syn.emit(
            &mut tcp::Packet::new_unchecked(&mut seg[..]),
            Ipv4Addr::new(10, 0, 1, 2),
            Ipv4Addr::new(10, 0, 2, 2),
        );
        let bytes = datagram(Protocol::Tcp, &seg);
        assert_eq!(
            PacketDisplay(&bytes).to_string(),
            "IP 10.0.1.2.49152 > 10.0.2.2.80: Flags [S], seq 100, win 64240, options [mss 1460], length 0 [DF]"
        );
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(PacketDisplay(&bad).to_string().contains("[bad tcp cksum]"));
    }

    #[test]
    fn garbage_is_described() {
        assert_eq!(
            PacketDisplay(&[1, 2, 3]).to_string(),
            "IP [truncated packet, 3 bytes]"
        );
    }
}
