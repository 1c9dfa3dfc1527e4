//! Segmentation offload on the way out: consecutive TCP segments the
//! stack sends on one connection are joined into one datagram of up to
//! 64 KiB that the kernel cuts back into the same segments (a
//! `virtio_net_hdr` with `gso_type` TCPV4), so a bulk transfer costs one
//! `write` per 64 KiB instead of one per segment. This is the kernel's
//! GRO done before the device instead of after it; the stack itself still
//! sends MSS-sized segments (and the capture shows them).
//!
//! Segments join only when the kernel's segmentation (`tcp_gso_segment`)
//! gives them back unchanged: IPv4 with no options and not fragmented,
//! the same addresses, ports, TOS, TTL and DF, and TCP headers identical
//! in everything but the sequence number and PSH — the same ACK number,
//! window and option bytes (timestamps included) — with flags ACK or
//! ACK+PSH, PSH only on the last, consecutive sequence numbers, every
//! segment but the last exactly as long as the first, the last no longer.
//! The kernel numbers the segments it makes by counting up from the first
//! one's IP identification, so segments join only if theirs already count
//! up that way (the capture shows what the wire carries).
//!
//! When the kernel delivers such a write to one of its own sockets it
//! takes it whole, as a GRO super-packet, and trusts the partial
//! checksum; when it forwards it by a device without offloads, it cuts it
//! into those segments and computes each one's checksum.

use std::net::Ipv4Addr;

use tcplab_wire::checksum;
use tcplab_wire::ip::Protocol;

use crate::vnet;

const IP_HEADER: usize = 20;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// The parts of a segment that decide whether it joins.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// IPv4 + TCP header bytes.
    headers: usize,
    seq: u32,
    /// IPv4 identification.
    id: u16,
    payload: usize,
    psh: bool,
}

/// A TCP segment that may join others: IPv4 without options or
/// fragmentation, TCP with data and flags ACK or ACK+PSH.
fn candidate(d: &[u8]) -> Option<Segment> {
    let ip = d.get(..IP_HEADER)?;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if ip[0] != 0x45 || ip[9] != 6 || total != d.len() || fragment != 0 {
        return None;
    }
    let tcp = d.get(IP_HEADER..IP_HEADER + 20)?;
    let headers = IP_HEADER + usize::from(tcp[12] >> 4) * 4;
    let flags = tcp[13];
    if headers < IP_HEADER + 20 || headers >= d.len() || flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    Some(Segment {
        headers,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        id: u16::from_be_bytes([ip[4], ip[5]]),
        payload: d.len() - headers,
        psh: flags & TCP_PSH != 0,
    })
}

/// Segments of one connection being joined into one write.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// The offload header, the first segment's headers, then the payloads.
    buf: Vec<u8>,
    first: Option<Segment>,
    /// How many segments are in `buf`.
    pub segments: usize,
    next_seq: u32,
    /// The identification the kernel will give the next segment.
    next_id: u16,
    last_payload: usize,
    /// The last one had PSH: nothing may follow it.
    closed: bool,
}

impl Coalescer {
    /// Largest datagram a join may make (IPv4's total length).
    const MAX: usize = 65_535;

    /// Take `datagram` into the write being built, if it can join it (or
    /// start one). False: write what was built first, then offer it again.
    pub fn push(&mut self, datagram: &[u8]) -> bool {
        let Some(seg) = candidate(datagram) else {
            return false;
        };
        match self.first {
            None => {
                self.buf.clear();
                self.buf.extend_from_slice(&vnet::Header::PLAIN);
                self.buf.extend_from_slice(datagram);
                self.first = Some(seg);
            }
            Some(first) => {
                let built = &self.buf[vnet::LEN..vnet::LEN + first.headers];
                let joins = !self.closed
                    && seg.headers == first.headers
                    && seg.seq == self.next_seq
                    && seg.id == self.next_id
                    && self.last_payload == first.payload
                    && seg.payload <= first.payload
                    && self.buf.len() - vnet::LEN + seg.payload <= Self::MAX
                    && same_flow(built, &datagram[..seg.headers]);
                if !joins {
                    return false;
                }
                self.buf.extend_from_slice(&datagram[seg.headers..]);
            }
        }
        self.segments += 1;
        self.next_seq = seg.seq.wrapping_add(seg.payload as u32);
        self.next_id = seg.id.wrapping_add(1);
        self.last_payload = seg.payload;
        self.closed = seg.psh;
        true
    }

    /// The write built so far, offload header first (`None` if empty);
    /// the coalescer is empty again afterwards.
    pub fn take(&mut self) -> Option<&[u8]> {
        let first = self.first.take()?;
        let segments = std::mem::take(&mut self.segments);
        if segments > 1 {
            let d = &mut self.buf[vnet::LEN..];
            let total = d.len();
            d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            d[10..12].fill(0);
            let ip_sum = !checksum::data(&d[..IP_HEADER]);
            d[10..12].copy_from_slice(&ip_sum.to_be_bytes());
            if self.closed {
                d[IP_HEADER + 13] |= TCP_PSH;
            }
            // The checksum field holds the pseudo-header's sum, not
            // complemented, for the kernel to finish per segment (what
            // Linux's own TSO path leaves in it).
            let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
            let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
            let pseudo =
                checksum::pseudo_header(src, dst, Protocol::Tcp, (total - IP_HEADER) as u32);
            d[IP_HEADER + 16..IP_HEADER + 18].copy_from_slice(&pseudo.to_be_bytes());
            let header = vnet::Header {
                flags: vnet::F_NEEDS_CSUM,
                gso_type: vnet::GSO_TCPV4,
                hdr_len: first.headers as u16,
                gso_size: first.payload as u16,
                csum_start: IP_HEADER as u16,
                csum_offset: 16,
            };
            self.buf[..vnet::LEN].copy_from_slice(&header.to_bytes());
        }
        self.closed = false;
        Some(&self.buf)
    }
}

/// Whether two segments' headers (IPv4 then TCP, the same length) differ
/// only where segments of one write may: total length, identification
/// and checksum in IPv4; sequence number, PSH and checksum in TCP.
fn same_flow(a: &[u8], b: &[u8]) -> bool {
    let ip_same = a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20];
    let (ta, tb) = (&a[IP_HEADER..], &b[IP_HEADER..]);
    ip_same
        && ta[..4] == tb[..4]
        && ta[8..13] == tb[8..13]
        && ta[13] & !TCP_PSH == tb[13] & !TCP_PSH
        && ta[14..16] == tb[14..16]
        && ta[18..] == tb[18..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);

    /// A TCP segment as the stack sends it: IPv4 (DF), TCP with a
    /// timestamps option, checksums right.
    fn segment(id: u16, seq: u32, flags: u8, tsval: u32, payload: &[u8]) -> Vec<u8> {
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&40000u16.to_be_bytes());
        tcp.extend_from_slice(&80u16.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&7777u32.to_be_bytes());
        tcp.extend_from_slice(&[8 << 4, flags]);
        tcp.extend_from_slice(&512u16.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(&[1, 1, 8, 10]);
        tcp.extend_from_slice(&tsval.to_be_bytes());
        tcp.extend_from_slice(&99u32.to_be_bytes());
        tcp.extend_from_slice(payload);
        let pseudo = checksum::pseudo_header(SRC, DST, Protocol::Tcp, tcp.len() as u32);
        let sum = !checksum::combine(&[pseudo, checksum::data(&tcp)]);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&SRC.octets());
        ip.extend_from_slice(&DST.octets());
        let sum = !checksum::data(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&tcp);
        ip
    }

    /// Recompute both checksums of a segment after a change.
    fn fix_checksums(d: &mut [u8]) {
        d[10..12].fill(0);
        let sum = !checksum::data(&d[..20]);
        d[10..12].copy_from_slice(&sum.to_be_bytes());
        d[36..38].fill(0);
        let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
        let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
        let pseudo = checksum::pseudo_header(src, dst, Protocol::Tcp, (d.len() - 20) as u32);
        let sum = !checksum::combine(&[pseudo, checksum::data(&d[20..])]);
        d[36..38].copy_from_slice(&sum.to_be_bytes());
    }

    /// What the kernel makes of a joined write (`tcp_gso_segment`, in
    /// short), from the write's own bytes: its headers copied to each
    /// piece of `gso_size` bytes, the sequence number advanced, PSH only
    /// on the last, the identification counting up, lengths and checksums
    /// computed.
    fn kernel_segments(write: &[u8]) -> Vec<Vec<u8>> {
        let h = vnet::Header::parse(write).unwrap();
        let d = &write[vnet::LEN..];
        if h.gso_type == vnet::GSO_NONE {
            assert_eq!(h, vnet::Header::parse(&vnet::Header::PLAIN).unwrap());
            return vec![d.to_vec()];
        }
        assert_eq!(
            (h.flags, h.gso_type, h.csum_start, h.csum_offset),
            (1, 1, 20, 16)
        );
        // The partial checksum is the pseudo-header's, over the whole.
        let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
        let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
        let pseudo = checksum::pseudo_header(src, dst, Protocol::Tcp, (d.len() - 20) as u32);
        assert_eq!(u16::from_be_bytes([d[36], d[37]]), pseudo);
        let (head, payload) = d.split_at(usize::from(h.hdr_len));
        let seq0 = u32::from_be_bytes([head[24], head[25], head[26], head[27]]);
        let id0 = u16::from_be_bytes([head[4], head[5]]);
        let pieces: Vec<&[u8]> = payload.chunks(usize::from(h.gso_size)).collect();
        let mut out = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let mut seg = head.to_vec();
            seg.extend_from_slice(piece);
            let len = seg.len() as u16;
            seg[2..4].copy_from_slice(&len.to_be_bytes());
            seg[4..6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            let seq = seq0.wrapping_add((i * usize::from(h.gso_size)) as u32);
            seg[24..28].copy_from_slice(&seq.to_be_bytes());
            if i + 1 < pieces.len() {
                seg[33] &= !TCP_PSH;
            }
            fix_checksums(&mut seg);
            out.push(seg);
        }
        out
    }

    /// A segment with one byte changed (checksums made right again).
    fn tweak(mut seg: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
        seg[at] = value;
        fix_checksums(&mut seg);
        seg
    }

    fn joined(segs: &[Vec<u8>]) -> (Vec<Vec<u8>>, usize) {
        let mut c = Coalescer::default();
        let mut writes = Vec::new();
        for s in segs {
            if !c.push(s) {
                writes.extend(c.take().map(<[u8]>::to_vec));
                if !c.push(s) {
                    // Not a candidate: written alone, as it is.
                    writes.push([&vnet::Header::PLAIN[..], s].concat());
                }
            }
        }
        writes.extend(c.take().map(<[u8]>::to_vec));
        let n = writes.len();
        (writes.iter().flat_map(|w| kernel_segments(w)).collect(), n)
    }

    #[test]
    fn a_run_of_full_segments_is_one_write_the_kernel_cuts_back() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut segs = Vec::new();
        for (i, chunk) in data.chunks(1448).enumerate() {
            let last = (i + 1) * 1448 >= data.len();
            let flags = TCP_ACK | if last { TCP_PSH } else { 0 };
            segs.push(segment(
                100 + i as u16,
                5000 + (i * 1448) as u32,
                flags,
                42,
                chunk,
            ));
        }
        let (back, writes) = joined(&segs);
        assert_eq!(writes, 1);
        assert_eq!(back, segs);
    }

    #[test]
    fn what_cannot_join_goes_alone_or_starts_anew() {
        let p = [9u8; 1000];
        let mut cases: Vec<(&str, Vec<Vec<u8>>, usize)> = vec![
            (
                "a gap in sequence",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(2, 2000, TCP_ACK, 1, &p),
                ],
                2,
            ),
            (
                "timestamps differ",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(2, 1000, TCP_ACK, 2, &p),
                ],
                2,
            ),
            (
                "a short segment before a full one",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p[..500]),
                    segment(2, 500, TCP_ACK, 1, &p),
                ],
                2,
            ),
            (
                "nothing after PSH",
                vec![
                    segment(1, 0, TCP_ACK | TCP_PSH, 1, &p),
                    segment(2, 1000, TCP_ACK, 1, &p),
                ],
                2,
            ),
            (
                "a FIN is never joined",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(2, 1000, TCP_ACK | 1, 1, &p),
                ],
                2,
            ),
            (
                "a gap in identification",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(3, 1000, TCP_ACK, 1, &p),
                ],
                2,
            ),
            (
                "urgent data",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(2, 1000, TCP_ACK | 0x20, 1, &p),
                ],
                2,
            ),
            (
                "a longer one after",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p[..500]),
                    segment(2, 500, TCP_ACK, 1, &p),
                ],
                2,
            ),
            (
                "a short last one joins",
                vec![
                    segment(1, 0, TCP_ACK, 1, &p),
                    segment(2, 1000, TCP_ACK, 1, &p[..10]),
                ],
                1,
            ),
        ];
        // One byte of the second segment's headers differs (offsets in
        // the datagram): another flow, or what the kernel would not copy.
        for (what, at, value) in [
            ("another window", 35, 7),
            ("another ACK number", 31, 7),
            ("another TTL", 8, 7),
            ("another TOS", 1, 4),
            ("another port", 23, 7),
            ("another address", 19, 7),
        ] {
            let second = tweak(segment(2, 1000, TCP_ACK, 1, &p), at, value);
            cases.push((what, vec![segment(1, 0, TCP_ACK, 1, &p), second], 2));
        }
        for (what, segs, want) in cases {
            let mut c = Coalescer::default();
            let mut writes = 0;
            for s in &segs {
                if !c.push(s) {
                    writes += usize::from(c.take().is_some());
                    if !c.push(s) {
                        writes += 1; // written alone, as is
                    }
                }
            }
            writes += usize::from(c.take().is_some());
            assert_eq!(writes, want, "{what}");
            assert_eq!(joined(&segs).0, segs, "{what}: what the kernel gives back");
        }
    }

    #[test]
    fn writes_stay_within_an_ipv4_datagram() {
        let p = [1u8; 1448];
        let segs: Vec<Vec<u8>> = (0..100)
            .map(|i| segment(i, u32::from(i) * 1448, TCP_ACK, 3, &p))
            .collect();
        let mut c = Coalescer::default();
        let mut sizes = Vec::new();
        for s in &segs {
            if !c.push(s) {
                sizes.push(c.take().unwrap().len() - vnet::LEN);
                assert!(c.push(s));
            }
        }
        sizes.extend(c.take().map(|w| w.len() - vnet::LEN));
        assert!(sizes.iter().all(|&n| n <= 65_535), "{sizes:?}");
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        let (back, _) = joined(&segs);
        assert_eq!(back, segs);
    }

    #[test]
    fn not_tcp_data_is_no_candidate() {
        let ack_only = segment(1, 0, TCP_ACK, 1, &[]);
        assert!(!Coalescer::default().push(&ack_only));
        let mut udp = segment(1, 0, TCP_ACK, 1, &[1; 10]);
        udp[9] = 17;
        assert!(!Coalescer::default().push(&udp));
        assert!(!Coalescer::default().push(&[0x45; 30]));
        assert!(!Coalescer::default().push(&[]));
    }
}
