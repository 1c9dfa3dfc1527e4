//! TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).
//!
//! Every flag is readable and writable, including ECE and CWR (RFC 3168) and
//! the AE bit (RFC 9768, formerly NS). Known options (EOL, NOP, MSS, window
//! scale, SACK-permitted, SACK, timestamps) are parsed into fields; any other
//! option is kept as received and emitted again, never rejected (RFC 9293
//! §3.1: "a TCP implementation MUST be able to receive a TCP option in any
//! segment" and MUST ignore options it does not implement).

use core::fmt;
use std::net::Ipv4Addr;

use crate::checksum;
use crate::ip::Protocol;
use crate::{Error, Result};

mod seq;
pub use seq::SeqNumber;

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header: data offset 15 → 60 bytes, 40 of options.
pub const MAX_HEADER_LEN: usize = 60;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// The control bits, as one bit set. Bits 0–7 are the classic flags, bit 8 is
/// AE (accurate ECN, formerly NS).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    pub const FIN: Flags = Flags(0x001);
    pub const SYN: Flags = Flags(0x002);
    pub const RST: Flags = Flags(0x004);
    pub const PSH: Flags = Flags(0x008);
    pub const ACK: Flags = Flags(0x010);
    pub const URG: Flags = Flags(0x020);
    pub const ECE: Flags = Flags(0x040);
    pub const CWR: Flags = Flags(0x080);
    pub const AE: Flags = Flags(0x100);
    pub const NONE: Flags = Flags(0);

    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    #[inline]
    pub const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    #[inline]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    #[inline]
    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    #[inline]
    pub fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    #[inline]
    pub fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    #[inline]
    pub fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    #[inline]
    pub fn rst(self) -> bool {
        self.contains(Flags::RST)
    }
    #[inline]
    pub fn psh(self) -> bool {
        self.contains(Flags::PSH)
    }
    #[inline]
    pub fn urg(self) -> bool {
        self.contains(Flags::URG)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    #[inline]
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

impl core::ops::BitOrAssign for Flags {
    #[inline]
    fn bitor_assign(&mut self, rhs: Flags) {
        *self = self.union(rhs)
    }
}

impl fmt::Display for Flags {
    /// tcpdump's letters in tcpdump's order: F S R P . U E W, "none" if empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const TABLE: [(Flags, char); 9] = [
            (Flags::FIN, 'F'),
            (Flags::SYN, 'S'),
            (Flags::RST, 'R'),
            (Flags::PSH, 'P'),
            (Flags::ACK, '.'),
            (Flags::URG, 'U'),
            (Flags::ECE, 'E'),
            (Flags::CWR, 'W'),
            (Flags::AE, 'A'),
        ];
        if self.0 == 0 {
            return f.write_str("none");
        }
        for (flag, c) in TABLE {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags[{self}]")
    }
}

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// One option as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    WindowScale(u8),
    SackPermitted,
    /// Up to four blocks of (left edge, right edge).
    SackRange([Option<(u32, u32)>; 4]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Read one option from the front of `buffer`; returns the rest.
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (kind, data, rest) = split_option(buffer)?;
        Ok((rest, TcpOption::decode(kind, data)?))
    }

    /// The option of `kind` whose bytes after kind and length are `data`
    /// (empty for EOL and NOP); a known kind of the wrong length is
    /// malformed.
    #[inline]
    fn decode(kind: u8, data: &'a [u8]) -> Result<TcpOption<'a>> {
        let be32 = |d: &[u8]| u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        Ok(match (kind, data.len()) {
            (kind::EOL, _) => TcpOption::EndOfList,
            (kind::NOP, _) => TcpOption::NoOperation,
            (kind::MSS, 2) => TcpOption::MaxSegmentSize(u16::from_be_bytes([data[0], data[1]])),
            (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0]),
            (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (kind::SACK, _) => {
                let mut blocks = [None; 4];
                decode_sack(data, &mut blocks)?;
                TcpOption::SackRange(blocks)
            }
            (kind::TIMESTAMP, 8) => TcpOption::Timestamp {
                tsval: be32(&data[..4]),
                tsecr: be32(&data[4..]),
            },
            (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::TIMESTAMP, _) => {
                return Err(Error::Malformed)
            }
            (kind, _) => TcpOption::Unknown { kind, data },
        })
    }

    /// Bytes this option takes on the wire.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(blocks) => 2 + 8 * blocks.iter().flatten().count(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Write the option to the front of `buffer`; returns the rest.
    pub fn emit<'b>(&self, buffer: &'b mut [u8]) -> &'b mut [u8] {
        let len = self.buffer_len();
        let (out, rest) = buffer.split_at_mut(len);
        match *self {
            TcpOption::EndOfList => out[0] = kind::EOL,
            TcpOption::NoOperation => out[0] = kind::NOP,
            TcpOption::MaxSegmentSize(mss) => {
                out[..2].copy_from_slice(&[kind::MSS, 4]);
                out[2..].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => out.copy_from_slice(&[kind::WINDOW_SCALE, 3, shift]),
            TcpOption::SackPermitted => out.copy_from_slice(&[kind::SACK_PERMITTED, 2]),
            TcpOption::SackRange(blocks) => {
                out[..2].copy_from_slice(&[kind::SACK, len as u8]);
                for (chunk, (l, r)) in out[2..].chunks_exact_mut(8).zip(blocks.iter().flatten()) {
                    chunk[..4].copy_from_slice(&l.to_be_bytes());
                    chunk[4..].copy_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamp { tsval, tsecr } => {
                out[..2].copy_from_slice(&[kind::TIMESTAMP, 10]);
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                out[0] = kind;
                out[1] = len as u8;
                out[2..].copy_from_slice(data);
            }
        }
        rest
    }
}

/// The kind, data and following bytes of the option at the front of
/// `buffer`. EOL ends the list (nothing follows it); EOL and NOP are one
/// byte with no data.
#[inline]
fn split_option(buffer: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let (&kind, rest) = buffer.split_first().ok_or(Error::Truncated)?;
    match kind {
        kind::EOL => return Ok((kind, &[], &[])),
        kind::NOP => return Ok((kind, &[], rest)),
        _ => {}
    }
    let &len = rest.first().ok_or(Error::Truncated)?;
    let len = usize::from(len);
    // RFC 9293 §3.1: an option length below 2 cannot be skipped over.
    if len < 2 {
        return Err(Error::Malformed);
    }
    if len > buffer.len() {
        return Err(Error::Truncated);
    }
    Ok((kind, &buffer[2..len], &buffer[len..]))
}

/// SACK blocks (RFC 2018 §3: one to four of 8 bytes) into `out`, the
/// slots beyond them cleared. Decoded in place: `Repr::parse` fills its
/// own array rather than moving a 56-byte option value per segment.
#[inline]
fn decode_sack(data: &[u8], out: &mut [Option<(u32, u32)>; 4]) -> Result<()> {
    let n = data.len();
    if n == 0 || n % 8 != 0 || n > 32 {
        return Err(Error::Malformed);
    }
    let be32 = |d: &[u8]| u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let mut chunks = data.chunks_exact(8);
    for slot in out.iter_mut() {
        *slot = chunks.next().map(|c| (be32(&c[..4]), be32(&c[4..])));
    }
    Ok(())
}

/// Iterate over the options in an option area; stops at EOL, yields one
/// error and stops on a malformed option.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionIter<'a> {
    pub fn new(options: &'a [u8]) -> OptionIter<'a> {
        OptionIter { rest: options }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((rest, option)) => {
                self.rest = rest;
                Some(Ok(option))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap untrusted bytes: the fixed header and the options the data offset
    /// claims must be present. The whole buffer after the header is payload.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = p.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    fn read_u16(&self, field: field::Field) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[field.start], d[field.start + 1]])
    }

    fn read_u32(&self, field: field::Field) -> u32 {
        let d = &self.buffer.as_ref()[field];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.read_u32(field::SEQ_NUM))
    }

    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.read_u32(field::ACK_NUM))
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    pub fn flags(&self) -> Flags {
        Flags(self.read_u16(field::FLAGS) & 0x01ff)
    }

    pub fn window_len(&self) -> u16 {
        self.read_u16(field::WIN_SIZE)
    }

    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    pub fn urgent_pointer(&self) -> u16 {
        self.read_u16(field::URGENT)
    }

    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Length in sequence space: payload plus one for SYN and one for FIN.
    #[inline]
    pub fn segment_len(&self) -> usize {
        let f = self.flags();
        self.payload().len() + usize::from(f.syn()) + usize::from(f.fin())
    }

    /// Whether the checksum (with the pseudo-header) is right.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        checksum::combine(&[
            checksum::pseudo_header(src, dst, Protocol::Tcp, data.len() as u32),
            checksum::data(data),
        ]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn write_u16(&mut self, field: field::Field, value: u16) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    fn write_u32(&mut self, field: field::Field, value: u32) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value)
    }

    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value)
    }

    pub fn set_seq_number(&mut self, value: SeqNumber) {
        self.write_u32(field::SEQ_NUM, value.0)
    }

    pub fn set_ack_number(&mut self, value: SeqNumber) {
        self.write_u32(field::ACK_NUM, value.0)
    }

    /// Set the data offset (header length in bytes) and the flags together,
    /// since they share a 16-bit word.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: Flags) {
        debug_assert!(header_len % 4 == 0 && (HEADER_LEN..=MAX_HEADER_LEN).contains(&header_len));
        let raw = ((header_len as u16 / 4) << 12) | (flags.0 & 0x01ff);
        self.write_u16(field::FLAGS, raw)
    }

    pub fn set_window_len(&mut self, value: u16) {
        self.write_u16(field::WIN_SIZE, value)
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    pub fn set_urgent_pointer(&mut self, value: u16) {
        self.write_u16(field::URGENT, value)
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Compute and store the checksum when the payload's sum is already
    /// known (from [`checksum::copy_sum`] as it was copied in): only the
    /// header is summed here.
    pub fn fill_checksum_with(&mut self, src: Ipv4Addr, dst: Ipv4Addr, payload_sum: u64) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let header = &data[..self.header_len().min(data.len())];
        let acc = u64::from(checksum::pseudo_header(
            src,
            dst,
            Protocol::Tcp,
            data.len() as u32,
        )) + checksum::sum(header)
            + payload_sum;
        self.set_checksum(!checksum::fold(acc))
    }

    /// Compute and store the checksum over pseudo-header, header and payload.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src, dst, Protocol::Tcp, data.len() as u32),
            checksum::data(data),
        ]);
        self.set_checksum(!sum)
    }
}

/// The TCP timestamps option (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    pub tsval: u32,
    pub tsecr: u32,
}

/// A validated TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: Flags,
    pub seq_number: SeqNumber,
    /// Meaningful only when `flags` has ACK; carried as received otherwise.
    pub ack_number: SeqNumber,
    pub window_len: u16,
    /// Meaningful only when `flags` has URG.
    pub urgent_pointer: u16,
    pub max_seg_size: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub sack_ranges: [Option<(u32, u32)>; 4],
    pub timestamp: Option<Timestamp>,
    /// Options of kinds this stack does not implement, in order, kept whole.
    pub unknown_options: Vec<(u8, &'a [u8])>,
    pub payload: &'a [u8],
    /// How options are ordered and padded when emitted.
    pub layout: OptionLayout,
}

/// How a sender lays its options out. Both are valid (RFC 9293 §3.1: any
/// order, NOP padding between, EOL at the end); peers and tests that
/// compare bytes see the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptionLayout {
    /// Linux's `tcp_options_write()`: MSS, then SACK-permitted and
    /// timestamps sharing a word, then `nop,wscale`, SACK blocks after
    /// `nop,nop`; every option word-aligned with NOPs.
    #[default]
    Linux,
    /// BSD's `tcp_addoptions()`: MSS, `nop,wscale`, SACK-permitted,
    /// timestamps and SACK blocks each preceded by just enough NOPs for
    /// their alignment, the end padded with EOL bytes.
    Bsd,
}

impl<'a> Repr<'a> {
    /// A segment with no options and no payload.
    pub fn new(
        src_port: u16,
        dst_port: u16,
        flags: Flags,
        seq: SeqNumber,
        ack: SeqNumber,
    ) -> Repr<'a> {
        Repr {
            src_port,
            dst_port,
            flags,
            seq_number: seq,
            ack_number: ack,
            window_len: 0,
            urgent_pointer: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            unknown_options: Vec::new(),
            payload: &[],
            layout: OptionLayout::Linux,
        }
    }

    /// Read a checked segment. Ports of zero are not valid; the checksum is not
    /// verified here.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let header_len = packet.header_len();
        let bytes: &'a [u8] = packet.buffer.as_ref();
        let mut repr = Repr::new(
            packet.src_port(),
            packet.dst_port(),
            packet.flags(),
            packet.seq_number(),
            packet.ack_number(),
        );
        repr.window_len = packet.window_len();
        repr.urgent_pointer = packet.urgent_pointer();
        repr.payload = &bytes[header_len..];
        // As `OptionIter` would yield them, with SACK blocks decoded
        // straight into `sack_ranges` — but read as Linux's
        // tcp_parse_options and BSD's tcp_dooptions read them (RFC 9293
        // §3.1 leaves the handling of an illegal length open): a length
        // that cannot be skipped (under 2, or past the header) ends the
        // options, keeping those before it; a known option of the wrong
        // length is passed over. The segment itself is kept.
        let mut rest = &bytes[HEADER_LEN..header_len];
        while !rest.is_empty() {
            let Ok((kind, data, after)) = split_option(rest) else {
                break;
            };
            rest = after;
            if kind == kind::SACK {
                // Checked before it writes: a list that is not whole
                // blocks leaves the ranges as they were.
                let _ = decode_sack(data, &mut repr.sack_ranges);
                continue;
            }
            let Ok(option) = TcpOption::decode(kind, data) else {
                continue;
            };
            match option {
                TcpOption::EndOfList | TcpOption::NoOperation => {}
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(blocks) => repr.sack_ranges = blocks,
                TcpOption::Timestamp { tsval, tsecr } => {
                    repr.timestamp = Some(Timestamp { tsval, tsecr })
                }
                TcpOption::Unknown { kind, data } => repr.unknown_options.push((kind, data)),
            }
        }
        Ok(repr)
    }

    /// Bytes of options when emitted, before padding.
    #[inline]
    fn options_len(&self) -> usize {
        if self.layout == OptionLayout::Bsd {
            return self.bsd_options(&mut [0; MAX_HEADER_LEN]).0;
        }
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        // SACK-permitted and timestamps share a 12-byte word-aligned block
        // (RFC 7323 Appendix A layout), each otherwise NOP-padded to 4 bytes.
        len += match (self.sack_permitted, self.timestamp.is_some()) {
            (true, true) => 12,
            (false, true) => 12,
            (true, false) => 4,
            (false, false) => 0,
        };
        if self.window_scale.is_some() {
            len += 4;
        }
        let sacks = self.sack_ranges.iter().flatten().count();
        if sacks > 0 {
            len += 2 + 2 + 8 * sacks;
        }
        for (_, data) in &self.unknown_options {
            len += 2 + data.len();
        }
        len
    }

    /// Header length when emitted (options padded to a multiple of four).
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len().next_multiple_of(4)
    }

    /// Header plus payload.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Length in sequence space.
    #[inline]
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn()) + usize::from(self.flags.fin())
    }

    /// Whether the options fit the 40 bytes a header has room for.
    #[inline]
    pub fn options_fit(&self) -> bool {
        if self.layout == OptionLayout::Bsd {
            return self.bsd_options(&mut [0; MAX_HEADER_LEN]).1;
        }
        self.header_len() <= MAX_HEADER_LEN
    }

    /// Write the header and options only (no payload, no checksum): for callers
    /// that copy the payload in pieces and then call `fill_checksum`.
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        assert!(self.options_fit(), "TCP options exceed 40 bytes");
        let header_len = self.header_len();
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        packet.set_header_len_and_flags(header_len, self.flags);
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_pointer(self.urgent_pointer);
        if self.layout == OptionLayout::Bsd {
            let mut opts = [0u8; MAX_HEADER_LEN];
            let (n, _) = self.bsd_options(&mut opts);
            let out = packet.options_mut();
            out.fill(kind::EOL);
            out[..n].copy_from_slice(&opts[..n]);
            return;
        }
        let mut out = packet.options_mut();
        if let Some(mss) = self.max_seg_size {
            out = TcpOption::MaxSegmentSize(mss).emit(out);
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some(ts)) => {
                out = TcpOption::SackPermitted.emit(out);
                out = timestamp_option(ts).emit(out);
            }
            (false, Some(ts)) => {
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::NoOperation.emit(out);
                out = timestamp_option(ts).emit(out);
            }
            (true, None) => {
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::SackPermitted.emit(out);
            }
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::WindowScale(shift).emit(out);
        }
        if self.sack_ranges.iter().any(Option::is_some) {
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::SackRange(self.sack_ranges).emit(out);
        }
        for &(kind, data) in &self.unknown_options {
            out = TcpOption::Unknown { kind, data }.emit(out);
        }
        // Pad with EOL (zero) bytes.
        out.fill(kind::EOL);
    }

    /// The options in BSD's layout (`tcp_addoptions()`): each kind after
    /// the NOPs its alignment needs, then EOL padding to a word. Writes
    /// into `out` and returns the length including that padding, and
    /// whether everything fit in the 40 bytes (what does not fit is left
    /// out; `emit_header` refuses such a header, as with Linux's layout).
    fn bsd_options(&self, out: &mut [u8; MAX_HEADER_LEN]) -> (usize, bool) {
        let room = MAX_HEADER_LEN - HEADER_LEN;
        let mut n = 0;
        let mut complete = true;
        let mut put = |bytes: &[u8], n: &mut usize| {
            let end = (*n + bytes.len()).min(room);
            out[*n..end].copy_from_slice(&bytes[..end - *n]);
            let whole = end - *n == bytes.len();
            *n = end;
            whole
        };
        if let Some(mss) = self.max_seg_size {
            let m = mss.to_be_bytes();
            complete &= put(&[kind::MSS, 4, m[0], m[1]], &mut n);
        }
        if let Some(shift) = self.window_scale {
            while n == 0 || n % 2 != 1 {
                complete &= put(&[kind::NOP], &mut n);
            }
            complete &= put(&[kind::WINDOW_SCALE, 3, shift], &mut n);
        }
        if self.sack_permitted {
            while n % 2 != 0 {
                complete &= put(&[kind::NOP], &mut n);
            }
            complete &= put(&[kind::SACK_PERMITTED, 2], &mut n);
        }
        if let Some(ts) = self.timestamp {
            while n == 0 || n % 4 != 2 {
                complete &= put(&[kind::NOP], &mut n);
            }
            let mut b = [0u8; 10];
            b[0] = kind::TIMESTAMP;
            b[1] = 10;
            b[2..6].copy_from_slice(&ts.tsval.to_be_bytes());
            b[6..10].copy_from_slice(&ts.tsecr.to_be_bytes());
            complete &= put(&b, &mut n);
        }
        let blocks = self.sack_ranges.iter().flatten().count();
        // As many blocks as still fit the 40 bytes after the NOPs.
        let mut aligned = n;
        while aligned == 0 || aligned % 4 != 2 {
            aligned += 1;
        }
        let fit = room.saturating_sub(aligned + 2) / 8;
        let count = blocks.min(fit);
        if count < blocks {
            complete = false;
        }
        if count > 0 {
            while n == 0 || n % 4 != 2 {
                complete &= put(&[kind::NOP], &mut n);
            }
            complete &= put(&[kind::SACK, (2 + 8 * count) as u8], &mut n);
            for &(l, r) in self.sack_ranges.iter().flatten().take(count) {
                complete &= put(&l.to_be_bytes(), &mut n);
                complete &= put(&r.to_be_bytes(), &mut n);
            }
        }
        for &(k, data) in &self.unknown_options {
            complete &= put(&[k, (2 + data.len()) as u8], &mut n);
            complete &= put(data, &mut n);
        }
        // EOL, then zero padding, to a word.
        (n.next_multiple_of(4).min(room), complete)
    }

    /// Write the whole segment, payload and checksum included, into `packet`
    /// (exactly [`Repr::buffer_len`] bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        self.emit_header(packet);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src, dst);
    }
}

fn timestamp_option(ts: Timestamp) -> TcpOption<'static> {
    TcpOption::Timestamp {
        tsval: ts.tsval,
        tsecr: ts.tsecr,
    }
}

impl fmt::Display for Repr<'_> {
    /// tcpdump's layout with absolute sequence numbers (`tcpdump -S`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags [{}]", self.flags)?;
        let fl = self.flags;
        if !self.payload.is_empty() || fl.syn() || fl.fin() || fl.rst() {
            write!(f, ", seq {}", self.seq_number)?;
            if !self.payload.is_empty() {
                write!(f, ":{}", self.seq_number + self.payload.len())?;
            }
        }
        if self.flags.ack() {
            write!(f, ", ack {}", self.ack_number)?;
        }
        write!(f, ", win {}", self.window_len)?;
        if self.flags.urg() {
            write!(f, ", urg {}", self.urgent_pointer)?;
        }
        write!(f, ", length {}", self.payload.len())
    }
}

/// Writes an option list the way tcpdump does: `mss 1460,sackOK,TS val 1 ecr
/// 0,nop,wscale 7`.
pub fn write_options(f: &mut dyn fmt::Write, options: &[u8]) -> fmt::Result {
    write_options_rel(f, options, 0)
}

/// The same, SACK block edges less `sack_base` (tcpdump prints them
/// relative to the base it takes from the acknowledgment numbers, unless
/// `-S`): `sack 2 {2897:4345}{5793:7241}`, the blocks side by side.
pub fn write_options_rel(f: &mut dyn fmt::Write, options: &[u8], sack_base: u32) -> fmt::Result {
    let mut first = true;
    for option in OptionIter::new(options) {
        if !first {
            f.write_char(',')?;
        }
        first = false;
        match option {
            Ok(TcpOption::EndOfList) => f.write_str("eol")?,
            Ok(TcpOption::NoOperation) => f.write_str("nop")?,
            Ok(TcpOption::MaxSegmentSize(m)) => write!(f, "mss {m}")?,
            Ok(TcpOption::WindowScale(s)) => write!(f, "wscale {s}")?,
            Ok(TcpOption::SackPermitted) => f.write_str("sackOK")?,
            Ok(TcpOption::SackRange(blocks)) => {
                write!(f, "sack {}", blocks.iter().flatten().count())?;
                f.write_char(' ')?;
                for (l, r) in blocks.iter().flatten() {
                    let (l, r) = (l.wrapping_sub(sack_base), r.wrapping_sub(sack_base));
                    write!(f, "{{{l}:{r}}}")?;
                }
            }
            Ok(TcpOption::Timestamp { tsval, tsecr }) => write!(f, "TS val {tsval} ecr {tsecr}")?,
            Ok(TcpOption::Unknown { kind, data }) => {
                write!(f, "unknown-{kind} 0x")?;
                for b in data {
                    write!(f, "{b:02x}")?;
                }
            }
            Err(_) => f.write_str("[bad opt]")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
