//! The classic libpcap file format, for captures Wireshark and tshark open.
//!
//! Files use microsecond timestamps (magic `0xa1b2c3d4`, written in the
//! host's byte order as libpcap does; we always write little-endian) and a
//! raw-IP link type: `LINKTYPE_IPV4` (228) for the simulator's links, which
//! carry only IPv4, `LINKTYPE_RAW` (101: the version read from each packet)
//! for a TUN device, which also carries the kernel's IPv6, and tcpdump's
//! `-w`.

use std::io::{self, Read, Write};
use std::time::Duration;

/// Link types used here (tcpdump.org "LINKTYPE_" values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum LinkType {
    /// Raw IP, version read from the packet.
    Raw = 101,
    /// Raw IPv4.
    Ipv4 = 228,
}

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Records are never cut: IPv4 datagrams fit in 65535 bytes.
pub const SNAPLEN: u32 = 65535;

/// Writes a pcap stream: the global header on creation, then one record per
/// packet.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(out: W, link_type: LinkType) -> io::Result<PcapWriter<W>> {
        Self::with_snaplen(out, link_type, SNAPLEN)
    }

    /// A writer whose header announces `snaplen` (tcpdump writes 262144,
    /// its default snapshot length; records are never cut either way).
    pub fn with_snaplen(
        mut out: W,
        link_type: LinkType,
        snaplen: u32,
    ) -> io::Result<PcapWriter<W>> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) are zero.
        header[16..20].copy_from_slice(&snaplen.to_le_bytes());
        header[20..24].copy_from_slice(&(link_type as u32).to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Append one packet with its timestamp (time since the Unix epoch, or
    /// since the start of a simulation).
    pub fn write_packet(&mut self, timestamp: Duration, data: &[u8]) -> io::Result<()> {
        let caplen = data.len().min(SNAPLEN as usize);
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&(timestamp.as_secs() as u32).to_le_bytes());
        record[4..8].copy_from_slice(&timestamp.subsec_micros().to_le_bytes());
        record[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        record[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&data[..caplen])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One record read back from a pcap stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub timestamp: Duration,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// Reads pcap streams (microsecond or nanosecond timestamps, either byte
/// order); used by tests and tools that inspect captures. Errors carry
/// libpcap's words for the same fault (`truncated dump file; tried to read
/// 16 header bytes, only got 11`), as tcpdump prints them.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    input: R,
    swapped: bool,
    /// Timestamps' fractions are nanoseconds (magic `0xa1b23c4d`).
    nanos: bool,
    pub link_type: u32,
    /// The largest record the file's writer kept (libpcap's adjusted
    /// snapshot length: a header's 0 or oversized value reads as the
    /// largest a link type allows, 262,144).
    pub snaplen: u32,
}

/// The pcapng section header block's type: not this format.
const PCAPNG_MAGIC: u32 = 0x0a0d_0d0a;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// libpcap's `max_snaplen_for_dlt` for the raw-IP link types.
const MAX_SNAPLEN: u32 = 262_144;

/// Read into `buf` until it is full or the input ends: how much came.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> PcapReader<R> {
    pub fn new(mut input: R) -> io::Result<PcapReader<R>> {
        let mut header = [0u8; 24];
        let got = read_full(&mut input, &mut header[..4])?;
        if got < 4 {
            return Err(invalid(format!(
                "truncated dump file; tried to read 4 file header bytes, only got {got}"
            )));
        }
        let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let (swapped, nanos) = match magic {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            m if m.swap_bytes() == MAGIC_MICROS => (true, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            PCAPNG_MAGIC => {
                return Err(invalid(
                    "a pcapng file, which tcplab does not read (pcap only: `editcap -F pcap` converts it)"
                        .into(),
                ))
            }
            _ => return Err(invalid("unknown file format".into())),
        };
        let got = read_full(&mut input, &mut header[4..])?;
        if got < 20 {
            // (libpcap names the whole header's size and counts what came
            // after the magic number.)
            return Err(invalid(format!(
                "truncated dump file; tried to read 24 file header bytes, only got {got}"
            )));
        }
        let read = |b: &[u8]| {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let link_type = read(&header[20..24]);
        let snaplen = match read(&header[16..20]) {
            0 => MAX_SNAPLEN,
            n if n > MAX_SNAPLEN => MAX_SNAPLEN,
            n => n,
        };
        Ok(PcapReader {
            input,
            swapped,
            nanos,
            link_type,
            snaplen,
        })
    }

    fn u32_at(&self, b: &[u8]) -> u32 {
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if self.swapped {
            v.swap_bytes()
        } else {
            v
        }
    }

    /// The next record; `None` at a clean end of file.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        Format::of(self).record_from(&mut self.input)
    }

    /// How many bytes the record at the front of `bytes` takes, once its
    /// 16-byte header is there (`None` before): for a reader fed as bytes
    /// arrive, which waits for that many and then calls
    /// [`Self::record_from`]. A length no record may have counts as just
    /// the header, so that `record_from` reports it at once.
    pub fn record_len(&self, bytes: &[u8]) -> Option<usize> {
        let header = bytes.get(..16)?;
        let caplen = self.u32_at(&header[8..12]);
        Some(if caplen > MAX_SNAPLEN {
            16
        } else {
            16 + caplen as usize
        })
    }

    /// The next record of `input` (not the reader's own), read in this
    /// file's format — its byte order, timestamp precision and snapshot
    /// length; `None` if `input` ends before it.
    pub fn record_from(&self, input: &mut impl Read) -> io::Result<Option<Record>> {
        Format::of(self).record_from(input)
    }
}

/// What reading a record needs of its file's header.
#[derive(Debug, Clone, Copy)]
struct Format {
    swapped: bool,
    nanos: bool,
    snaplen: u32,
}

impl Format {
    fn of<R: Read>(r: &PcapReader<R>) -> Format {
        Format {
            swapped: r.swapped,
            nanos: r.nanos,
            snaplen: r.snaplen,
        }
    }

    fn u32_at(&self, b: &[u8]) -> u32 {
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if self.swapped {
            v.swap_bytes()
        } else {
            v
        }
    }

    fn record_from(&self, input: &mut impl Read) -> io::Result<Option<Record>> {
        let mut header = [0u8; 16];
        match read_full(input, &mut header)? {
            0 => return Ok(None),
            16 => {}
            got => {
                return Err(invalid(format!(
                    "truncated dump file; tried to read 16 header bytes, only got {got}"
                )))
            }
        }
        let secs = self.u32_at(&header[0..4]);
        let frac = self.u32_at(&header[4..8]);
        let caplen = self.u32_at(&header[8..12]);
        let orig_len = self.u32_at(&header[12..16]);
        if caplen > MAX_SNAPLEN {
            // (The snapshot length is at most MAX_SNAPLEN, so this is
            // libpcap's "bigger than snaplen" case.)
            return Err(invalid(format!(
                "invalid packet capture length {caplen}, bigger than snaplen of {}",
                self.snaplen
            )));
        }
        // A fraction of a second or more is taken as it is, as libpcap
        // does (it carries into the seconds).
        let nanos = if self.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let mut data = vec![0u8; caplen as usize];
        let got = read_full(input, &mut data)?;
        if got < data.len() {
            return Err(invalid(format!(
                "truncated dump file; tried to read {caplen} captured bytes, only got {got}"
            )));
        }
        // A record longer than the file's snapshot length (a damaged or
        // hand-made file) is cut to it, as libpcap hands it over.
        data.truncate(self.snaplen as usize);
        Ok(Some(Record {
            timestamp: Duration::from_secs(u64::from(secs)) + Duration::from_nanos(nanos),
            orig_len,
            data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ipv4).unwrap();
        w.write_packet(Duration::from_micros(1_500_001), &[0x45, 1, 2])
            .unwrap();
        w.write_packet(Duration::from_secs(3), &[]).unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(bytes.len(), 24 + 16 + 3 + 16);
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(r.link_type, 228);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.timestamp, Duration::from_micros(1_500_001));
        assert_eq!(rec.data, vec![0x45, 1, 2]);
        assert_eq!(r.next_record().unwrap().unwrap().data, Vec::<u8>::new());
        assert_eq!(r.next_record().unwrap(), None);
    }

    /// A file cut anywhere says where, in libpcap's words; a nanosecond
    /// file reads; a pcapng file is named.
    #[test]
    fn faults_are_named_as_libpcap_names_them() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Raw).unwrap();
        w.write_packet(Duration::from_micros(2_000_003), &[0x45; 40])
            .unwrap();
        let bytes = w.into_inner();
        let err = |b: &[u8]| -> String {
            match PcapReader::new(b) {
                Err(e) => e.to_string(),
                Ok(mut r) => loop {
                    match r.next_record() {
                        Ok(Some(_)) => {}
                        Ok(None) => break "clean end".into(),
                        Err(e) => break e.to_string(),
                    }
                },
            }
        };
        assert_eq!(
            err(&[]),
            "truncated dump file; tried to read 4 file header bytes, only got 0"
        );
        assert_eq!(
            err(&bytes[..10]),
            "truncated dump file; tried to read 24 file header bytes, only got 6"
        );
        assert_eq!(err(&bytes[..24]), "clean end");
        assert_eq!(
            err(&bytes[..35]),
            "truncated dump file; tried to read 16 header bytes, only got 11"
        );
        assert_eq!(
            err(&bytes[..60]),
            "truncated dump file; tried to read 40 captured bytes, only got 20"
        );
        assert_eq!(err(&bytes), "clean end");
        let mut huge = bytes.clone();
        huge[32..36].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(
            err(&huge),
            "invalid packet capture length 4294967280, bigger than snaplen of 65535"
        );
        assert!(err(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]).starts_with("a pcapng file"));
        assert_eq!(err(&[1, 2, 3, 4, 5]), "unknown file format");
        // Past the file's snapshot length but within libpcap's maximum:
        // named so; within the snapshot length's reach, cut to it.
        let mut small = bytes.clone();
        small[16..20].copy_from_slice(&20u32.to_le_bytes());
        let mut r = PcapReader::new(&small[..]).unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().data.len(), 20);
        small[32..36].copy_from_slice(&300_000u32.to_le_bytes());
        assert_eq!(
            err(&small),
            "invalid packet capture length 300000, bigger than snaplen of 20"
        );
        // Nanoseconds: the same record with its fraction in nanoseconds.
        let mut nano = bytes.clone();
        nano[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        nano[28..32].copy_from_slice(&3_000u32.to_le_bytes());
        let mut r = PcapReader::new(&nano[..]).unwrap();
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.timestamp, Duration::from_micros(2_000_003));
        // A header's snapshot length of 0 reads as libpcap's largest.
        let mut zero = bytes.clone();
        zero[16..20].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(PcapReader::new(&zero[..]).unwrap().snaplen, 262_144);
    }
}
