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

/// Reads pcap streams (microsecond, either byte order); used by tests and
/// tools that inspect captures.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    input: R,
    swapped: bool,
    pub link_type: u32,
    /// The largest record the file's writer kept.
    pub snaplen: u32,
}

impl<R: Read> PcapReader<R> {
    pub fn new(mut input: R) -> io::Result<PcapReader<R>> {
        let mut header = [0u8; 24];
        input.read_exact(&mut header)?;
        let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let swapped = match magic {
            MAGIC_MICROS => false,
            m if m.swap_bytes() == MAGIC_MICROS => true,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a microsecond pcap file",
                ))
            }
        };
        let read = |b: &[u8]| {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let link_type = read(&header[20..24]);
        let snaplen = read(&header[16..20]);
        Ok(PcapReader {
            input,
            swapped,
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
        let mut header = [0u8; 16];
        match self.input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let secs = self.u32_at(&header[0..4]);
        let micros = self.u32_at(&header[4..8]);
        let caplen = self.u32_at(&header[8..12]);
        let orig_len = self.u32_at(&header[12..16]);
        if caplen > SNAPLEN.max(262_144) || micros >= 1_000_000 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad pcap record",
            ));
        }
        let mut data = vec![0u8; caplen as usize];
        self.input.read_exact(&mut data)?;
        Ok(Some(Record {
            timestamp: Duration::new(u64::from(secs), micros * 1000),
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
}
