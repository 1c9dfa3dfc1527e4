//! ICMPv4 (RFC 792, with RFC 1191's next-hop MTU and RFC 1812's codes).
//!
//! Error messages quote the datagram that caused them ("invoking datagram":
//! its IP header and at least the first 8 bytes of its payload). The quote is
//! kept as the exact bytes received, and [`Quote::parse`] reads it: the quoted
//! datagram is normally truncated, so it is read with looser rules than a
//! whole packet.

use core::fmt;
use std::net::Ipv4Addr;

use crate::checksum;
use crate::ip::Protocol;
use crate::ipv4;
use crate::{Error, Result};

/// Length of the ICMP header (type, code, checksum and 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

enum_with_unknown! {
    /// ICMP message types.
    pub enum Message(u8) {
        EchoReply = 0,
        DstUnreachable = 3,
        SourceQuench = 4,
        Redirect = 5,
        EchoRequest = 8,
        RouterAdvert = 9,
        RouterSolicit = 10,
        TimeExceeded = 11,
        ParamProblem = 12,
        Timestamp = 13,
        TimestampReply = 14,
    }
}

impl Message {
    /// Whether this type is an error message (RFC 1122 §3.2.2: never answer
    /// an error with an error).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Message::DstUnreachable
                | Message::SourceQuench
                | Message::Redirect
                | Message::TimeExceeded
                | Message::ParamProblem
        )
    }
}

enum_with_unknown! {
    /// Codes of Destination Unreachable (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
    pub enum DstUnreachable(u8) {
        NetUnreachable = 0,
        HostUnreachable = 1,
        ProtoUnreachable = 2,
        PortUnreachable = 3,
        FragRequired = 4,
        SrcRouteFailed = 5,
        DstNetUnknown = 6,
        DstHostUnknown = 7,
        SrcHostIsolated = 8,
        NetProhibited = 9,
        HostProhibited = 10,
        NetUnreachToS = 11,
        HostUnreachToS = 12,
        CommProhibited = 13,
        HostPrecedViol = 14,
        PrecedCutoff = 15,
    }
}

impl DstUnreachable {
    /// Whether RFC 1122 §4.2.3.9 calls this a *hard* error for TCP: protocol
    /// unreachable, port unreachable and fragmentation needed (the last handled
    /// by PMTUD rather than an abort).
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            DstUnreachable::ProtoUnreachable | DstUnreachable::PortUnreachable
        )
    }
}

enum_with_unknown! {
    /// Codes of Time Exceeded.
    pub enum TimeExceeded(u8) {
        /// TTL reached zero in transit.
        TtlExpired = 0,
        /// Fragment reassembly time exceeded.
        FragReassembly = 1,
    }
}

enum_with_unknown! {
    /// Codes of Redirect.
    pub enum Redirect(u8) {
        Net = 0,
        Host = 1,
        TosNet = 2,
        TosHost = 3,
    }
}

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const REST: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const MTU: Field = 6..8;
    pub const GATEWAY: Field = 4..8;
    pub const POINTER: usize = 4;
}

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap untrusted bytes: at least the 8-byte header must be present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, field: field::Field) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[field.start], d[field.start + 1]])
    }

    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    pub fn echo_ident(&self) -> u16 {
        self.read_u16(field::ECHO_IDENT)
    }

    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(field::ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191 §4).
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(field::MTU)
    }

    pub fn gateway(&self) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[field::GATEWAY];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// The four type-specific bytes after the checksum.
    pub fn rest(&self) -> [u8; 4] {
        let d = &self.buffer.as_ref()[field::REST];
        [d[0], d[1], d[2], d[3]]
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, value: Message) {
        self.buffer.as_mut()[field::TYPE] = value.into();
    }

    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_rest(&mut self, value: [u8; 4]) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&value);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

/// The invoking datagram quoted by an ICMP error, read loosely: the quoted
/// header must be complete, but the quoted payload is usually cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote<'a> {
    /// The quoted header; `payload_len` is what the header *claims*.
    pub header: ipv4::Repr,
    /// The header bytes as quoted (options included).
    pub header_bytes: &'a [u8],
    /// The quoted part of the payload (often 8 bytes).
    pub payload: &'a [u8],
}

impl<'a> Quote<'a> {
    /// Read a quoted datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Quote<'a>> {
        if bytes.len() < ipv4::HEADER_LEN {
            return Err(Error::Truncated);
        }
        let view = ipv4::Packet::new_unchecked(bytes);
        let header_len = view.header_len();
        if view.version() != 4 || header_len < ipv4::HEADER_LEN {
            return Err(Error::Malformed);
        }
        if bytes.len() < header_len {
            return Err(Error::Truncated);
        }
        let total = usize::from(view.total_len());
        if total < header_len {
            return Err(Error::Malformed);
        }
        let header = ipv4::Repr {
            src_addr: view.src_addr(),
            dst_addr: view.dst_addr(),
            protocol: view.protocol(),
            payload_len: total - header_len,
            ttl: view.ttl(),
            tos: view.tos(),
            ident: view.ident(),
            dont_frag: view.dont_frag(),
            more_frags: view.more_frags(),
            frag_offset: view.frag_offset(),
        };
        let end = bytes.len().min(total);
        Ok(Quote {
            header,
            header_bytes: &bytes[..header_len],
            payload: &bytes[header_len..end],
        })
    }

    /// The source and destination ports of a quoted UDP or TCP header: both
    /// keep them in their first four bytes (RFC 792's "64 bits of data").
    pub fn ports(&self) -> Option<(u16, u16)> {
        if self.header.frag_offset != 0 || self.payload.len() < 4 {
            return None;
        }
        match self.header.protocol {
            Protocol::Tcp | Protocol::Udp => Some((
                u16::from_be_bytes([self.payload[0], self.payload[1]]),
                u16::from_be_bytes([self.payload[2], self.payload[3]]),
            )),
            _ => None,
        }
    }

    /// The identifier and sequence number of a quoted ICMP echo request.
    pub fn echo(&self) -> Option<(u16, u16)> {
        let p = self.payload;
        if self.header.protocol != Protocol::Icmp || self.header.frag_offset != 0 || p.len() < 8 {
            return None;
        }
        if Message::from(p[0]) != Message::EchoRequest {
            return None;
        }
        Some((
            u16::from_be_bytes([p[4], p[5]]),
            u16::from_be_bytes([p[6], p[7]]),
        ))
    }
}

/// A validated ICMPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DstUnreachable {
        reason: DstUnreachable,
        /// Next-hop MTU (RFC 1191) for `FragRequired`, zero otherwise.
        next_hop_mtu: u16,
        /// The quoted invoking datagram, exactly as received.
        quote: &'a [u8],
    },
    TimeExceeded {
        reason: TimeExceeded,
        quote: &'a [u8],
    },
    Redirect {
        reason: Redirect,
        gateway: Ipv4Addr,
        quote: &'a [u8],
    },
    /// Obsolete (RFC 6633): parsed and reported, never acted on.
    SourceQuench {
        quote: &'a [u8],
    },
    ParamProblem {
        pointer: u8,
        quote: &'a [u8],
    },
    /// A message type this stack does not interpret, kept whole.
    Other {
        msg_type: u8,
        code: u8,
        rest: [u8; 4],
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Read a message. The checksum is not verified here; error messages must
    /// quote a readable IPv4 header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        let data = &packet.buffer.as_ref()[HEADER_LEN..];
        let code = packet.msg_code();
        let quote = |data: &'a [u8]| -> Result<&'a [u8]> {
            Quote::parse(data)?;
            Ok(data)
        };
        Ok(match packet.msg_type() {
            // Any code: RFC 792 gives echo only code 0, and Linux answers
            // a request whatever its code (`icmp_echo` does not look).
            Message::EchoRequest => Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Message::EchoReply => Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Message::DstUnreachable => {
                let reason = DstUnreachable::from(code);
                Repr::DstUnreachable {
                    reason,
                    next_hop_mtu: if reason == DstUnreachable::FragRequired {
                        packet.next_hop_mtu()
                    } else {
                        0
                    },
                    quote: quote(data)?,
                }
            }
            Message::TimeExceeded => Repr::TimeExceeded {
                reason: TimeExceeded::from(code),
                quote: quote(data)?,
            },
            Message::Redirect => Repr::Redirect {
                reason: Redirect::from(code),
                gateway: packet.gateway(),
                quote: quote(data)?,
            },
            Message::SourceQuench if code == 0 => Repr::SourceQuench {
                quote: quote(data)?,
            },
            Message::ParamProblem => Repr::ParamProblem {
                pointer: packet.pointer(),
                quote: quote(data)?,
            },
            Message::SourceQuench => return Err(Error::Malformed),
            other => Repr::Other {
                msg_type: other.into(),
                code,
                rest: packet.rest(),
                data,
            },
        })
    }

    /// The message type.
    pub fn message(&self) -> Message {
        match self {
            Repr::EchoRequest { .. } => Message::EchoRequest,
            Repr::EchoReply { .. } => Message::EchoReply,
            Repr::DstUnreachable { .. } => Message::DstUnreachable,
            Repr::TimeExceeded { .. } => Message::TimeExceeded,
            Repr::Redirect { .. } => Message::Redirect,
            Repr::SourceQuench { .. } => Message::SourceQuench,
            Repr::ParamProblem { .. } => Message::ParamProblem,
            Repr::Other { msg_type, .. } => Message::from(*msg_type),
        }
    }

    /// The quoted invoking datagram of an error message.
    pub fn quote(&self) -> Option<&'a [u8]> {
        match *self {
            Repr::DstUnreachable { quote, .. }
            | Repr::TimeExceeded { quote, .. }
            | Repr::Redirect { quote, .. }
            | Repr::SourceQuench { quote }
            | Repr::ParamProblem { quote, .. } => Some(quote),
            _ => None,
        }
    }

    fn body(&self) -> &'a [u8] {
        match *self {
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::Other { data, .. } => data,
            Repr::DstUnreachable { quote, .. }
            | Repr::TimeExceeded { quote, .. }
            | Repr::Redirect { quote, .. }
            | Repr::SourceQuench { quote }
            | Repr::ParamProblem { quote, .. } => quote,
        }
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    /// Write the message (with checksum) into `packet`, which must be exactly
    /// [`Repr::buffer_len`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let (msg, code, rest): (Message, u8, [u8; 4]) = match *self {
            Repr::EchoRequest { ident, seq_no, .. } => {
                (Message::EchoRequest, 0, echo_rest(ident, seq_no))
            }
            Repr::EchoReply { ident, seq_no, .. } => {
                (Message::EchoReply, 0, echo_rest(ident, seq_no))
            }
            Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => {
                let m = next_hop_mtu.to_be_bytes();
                (Message::DstUnreachable, reason.into(), [0, 0, m[0], m[1]])
            }
            Repr::TimeExceeded { reason, .. } => (Message::TimeExceeded, reason.into(), [0; 4]),
            Repr::Redirect {
                reason, gateway, ..
            } => (Message::Redirect, reason.into(), gateway.octets()),
            Repr::SourceQuench { .. } => (Message::SourceQuench, 0, [0; 4]),
            Repr::ParamProblem { pointer, .. } => (Message::ParamProblem, 0, [pointer, 0, 0, 0]),
            Repr::Other {
                msg_type,
                code,
                rest,
                ..
            } => (Message::from(msg_type), code, rest),
        };
        packet.set_msg_type(msg);
        packet.set_msg_code(code);
        packet.set_rest(rest);
        packet.data_mut().copy_from_slice(self.body());
        packet.fill_checksum();
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> [u8; 4] {
    let i = ident.to_be_bytes();
    let s = seq_no.to_be_bytes();
    [i[0], i[1], s[0], s[1]]
}

impl fmt::Display for Repr<'_> {
    /// tcpdump's wording for each message (print-icmp.c), without the
    /// trailing ", length N" which the packet printer adds; addresses and
    /// ports as numbers (`tcpdump -n`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f, &|a| a.to_string(), &|p, _| p.to_string())
    }
}

/// How [`Repr::describe`] shows an address.
pub type AddrText<'a> = &'a dyn Fn(Ipv4Addr) -> String;
/// How [`Repr::describe`] shows a TCP or UDP port.
pub type PortText<'a> = &'a dyn Fn(u16, Protocol) -> String;

impl Repr<'_> {
    /// tcpdump's wording (print-icmp.c) with the addresses an error's
    /// quoted datagram names, and a redirect's gateway, shown by `addr`,
    /// and a port-unreachable's TCP or UDP port by `port` (tcpdump's
    /// ipaddr_string and tcpport_string/udpport_string: names unless -n).
    pub fn describe(
        &self,
        f: &mut dyn fmt::Write,
        addr: AddrText<'_>,
        port: PortText<'_>,
    ) -> fmt::Result {
        match *self {
            Repr::EchoRequest { ident, seq_no, .. } => {
                write!(f, "ICMP echo request, id {ident}, seq {seq_no}")
            }
            Repr::EchoReply { ident, seq_no, .. } => {
                write!(f, "ICMP echo reply, id {ident}, seq {seq_no}")
            }
            Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                quote,
            } => {
                let q = Quote::parse(quote).ok();
                let dst = q.map(|q| addr(q.header.dst_addr)).unwrap_or_default();
                match reason {
                    DstUnreachable::NetUnreachable => write!(f, "ICMP net {dst} unreachable"),
                    DstUnreachable::HostUnreachable => write!(f, "ICMP host {dst} unreachable"),
                    DstUnreachable::ProtoUnreachable => {
                        let proto = q.map(|q| u8::from(q.header.protocol)).unwrap_or(0);
                        write!(f, "ICMP {dst} protocol {proto} unreachable")
                    }
                    DstUnreachable::PortUnreachable => {
                        // print-icmp.c: the quoted header's destination
                        // port (bytes 2-3 of what follows the IP header),
                        // named by protocol for TCP and UDP, by number
                        // for anything else.
                        let proto = q.map_or(Protocol::Unknown(0), |q| q.header.protocol);
                        let number = q
                            .and_then(|q| q.payload.get(2..4))
                            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                        match proto {
                            Protocol::Tcp | Protocol::Udp => {
                                let port = port(number, proto);
                                write!(f, "ICMP {dst} {proto} port {port} unreachable")
                            }
                            other => write!(
                                f,
                                "ICMP {dst} protocol {} port {number} unreachable",
                                u8::from(other)
                            ),
                        }
                    }
                    DstUnreachable::FragRequired => write!(
                        f,
                        "ICMP {dst} unreachable - need to frag (mtu {next_hop_mtu})"
                    ),
                    DstUnreachable::NetProhibited => {
                        write!(f, "ICMP net {dst} unreachable - admin prohibited")
                    }
                    DstUnreachable::HostProhibited => {
                        write!(f, "ICMP host {dst} unreachable - admin prohibited")
                    }
                    DstUnreachable::CommProhibited => {
                        write!(f, "ICMP host {dst} unreachable - admin prohibited filter")
                    }
                    other => write!(f, "ICMP {dst} unreachable, code {}", u8::from(other)),
                }
            }
            Repr::TimeExceeded { reason, .. } => match reason {
                TimeExceeded::TtlExpired => f.write_str("ICMP time exceeded in-transit"),
                TimeExceeded::FragReassembly => f.write_str("ICMP ip reassembly time exceeded"),
                TimeExceeded::Unknown(c) => write!(f, "ICMP time exceeded, code {c}"),
            },
            Repr::Redirect {
                reason,
                gateway,
                quote,
            } => {
                let dst = Quote::parse(quote)
                    .map(|q| addr(q.header.dst_addr))
                    .unwrap_or_default();
                let gateway = addr(gateway);
                let kind = match reason {
                    Redirect::Net => "net",
                    Redirect::Host => "host",
                    Redirect::TosNet => "tos and net",
                    Redirect::TosHost => "tos and host",
                    Redirect::Unknown(_) => "unknown",
                };
                write!(f, "ICMP redirect {dst} to {kind} {gateway}")
            }
            Repr::SourceQuench { .. } => f.write_str("ICMP source quench (obsolete, RFC 6633)"),
            Repr::ParamProblem { pointer, .. } => {
                write!(f, "ICMP parameter problem - octet {pointer}")
            }
            Repr::Other {
                msg_type,
                rest,
                data,
                ..
            } => {
                let id = u16::from_be_bytes([rest[0], rest[1]]);
                let seq = u16::from_be_bytes([rest[2], rest[3]]);
                // print-icmp.c's icmp_tstamp_print: milliseconds since
                // midnight as hh:mm:ss.mmm (hours past 24 as they come).
                let clock = |b: &[u8]| {
                    let t = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let (ms, s) = (t % 1000, t / 1000);
                    format!("{:02}:{:02}:{:02}.{ms:03}", s / 3600, s / 60 % 60, s % 60)
                };
                match msg_type {
                    13 => write!(f, "ICMP time stamp query id {id} seq {seq}"),
                    14 if data.len() >= 12 => write!(
                        f,
                        "ICMP time stamp reply id {id} seq {seq}: org {}, recv {}, xmit {}",
                        clock(&data[0..4]),
                        clock(&data[4..8]),
                        clock(&data[8..12])
                    ),
                    14 => f.write_str("ICMP time stamp reply"),
                    10 => f.write_str("ICMP router solicitation"),
                    15 => f.write_str("ICMP information request"),
                    16 => f.write_str("ICMP information reply"),
                    17 => f.write_str("ICMP address mask request"),
                    18 if data.len() >= 4 => write!(
                        f,
                        "ICMP address mask is 0x{:08x}",
                        u32::from_be_bytes([data[0], data[1], data[2], data[3]])
                    ),
                    t => write!(f, "ICMP type-#{t}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
