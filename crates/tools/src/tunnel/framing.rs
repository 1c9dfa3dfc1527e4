//! Length-prefixed frames on a byte stream: a 2-byte big-endian length,
//! then that many bytes (RFC 4571 §2, the framing OpenVPN's TCP mode and
//! mullvad's udp-over-tcp use). One frame carries one IP datagram (the TCP
//! tunnel) or one UDP payload (the UDP-over-TCP relay).
//!
//! The reader never trusts the length: a frame longer than the reader's
//! limit is skipped byte by byte (the stream stays in step, since its end
//! is known) and counted, so memory stays bounded by the limit whatever
//! arrives.

/// What a [`Deframer`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Whole frames handed out.
    pub frames: u64,
    /// Frames longer than the limit, skipped.
    pub oversize: u64,
    /// Zero-length frames (nothing to carry), skipped.
    pub empty: u64,
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub struct Deframer {
    limit: usize,
    buf: Vec<u8>,
    /// Bytes still to throw away of an oversize frame.
    skip: usize,
    stats: FrameStats,
}

/// The largest frame the 2-byte length can announce.
pub const MAX_FRAME: usize = u16::MAX as usize;

impl Deframer {
    /// A reader that accepts frames of at most `limit` bytes (at most
    /// [`MAX_FRAME`]).
    pub fn new(limit: usize) -> Deframer {
        Deframer {
            limit: limit.min(MAX_FRAME),
            buf: Vec::new(),
            skip: 0,
            stats: FrameStats::default(),
        }
    }

    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Bytes held while a frame is incomplete (at most 2 + limit).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feed bytes from the stream; every frame they complete goes to
    /// `frame`, in order.
    pub fn push(&mut self, mut bytes: &[u8], frame: &mut dyn FnMut(&[u8])) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            if self.buf.len() < 2 {
                let n = (2 - self.buf.len()).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.buf.len() < 2 {
                    return;
                }
            }
            let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
            if len == 0 {
                self.stats.empty += 1;
                self.buf.clear();
                continue;
            }
            if len > self.limit {
                self.stats.oversize += 1;
                self.buf.clear();
                self.skip = len;
                continue;
            }
            let have = self.buf.len() - 2;
            // Whole frames straight from the input, without copying.
            if have == 0 && bytes.len() >= len {
                self.stats.frames += 1;
                frame(&bytes[..len]);
                bytes = &bytes[len..];
                self.buf.clear();
                continue;
            }
            let n = (len - have).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() - 2 == len {
                self.stats.frames += 1;
                frame(&self.buf[2..]);
                self.buf.clear();
            }
        }
    }
}

/// Append `payload` as one frame to `out`; `None` if it is too long for
/// the 2-byte length.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let len = u16::try_from(payload.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcplab_stack::Rng;

    fn collect(d: &mut Deframer, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        d.push(bytes, &mut |f| out.push(f.to_vec()));
        out
    }

    #[test]
    fn frames_survive_any_split_and_coalescing() {
        for seed in 0..200u64 {
            let mut rng = Rng::new(seed);
            let frames: Vec<Vec<u8>> = (0..20)
                .map(|_| {
                    let len = 1 + rng.below(1500) as usize;
                    (0..len).map(|_| rng.next_u32() as u8).collect()
                })
                .collect();
            let mut stream = Vec::new();
            for f in &frames {
                encode(f, &mut stream).unwrap();
            }
            let mut d = Deframer::new(1500);
            let mut got = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(3000) as usize).min(rest.len());
                got.extend(collect(&mut d, &rest[..n]));
                rest = &rest[n..];
            }
            assert_eq!(got, frames, "seed {seed}");
            assert_eq!(d.stats().frames, 20, "seed {seed}");
            assert_eq!(d.buffered(), 0, "seed {seed}");
        }
    }

    #[test]
    fn oversize_frames_are_skipped_and_counted_and_the_stream_stays_in_step() {
        let mut stream = Vec::new();
        encode(&[1; 100], &mut stream).unwrap();
        encode(&[2; 3000], &mut stream).unwrap();
        encode(&[], &mut stream).unwrap();
        encode(&[3; 10], &mut stream).unwrap();
        let mut d = Deframer::new(1500);
        // Byte by byte: the worst split.
        let mut got = Vec::new();
        for b in &stream {
            got.extend(collect(&mut d, std::slice::from_ref(b)));
        }
        assert_eq!(got, vec![vec![1; 100], vec![3; 10]]);
        assert_eq!(
            d.stats(),
            FrameStats {
                frames: 2,
                oversize: 1,
                empty: 1
            }
        );
        // Memory stays bounded by the limit while skipping.
        assert!(d.buffered() <= 1502);
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded() {
        let mut rng = Rng::new(7);
        let mut d = Deframer::new(1400);
        for _ in 0..2000 {
            let n = rng.below(5000) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u32() as u8).collect();
            d.push(&bytes, &mut |f| assert!(!f.is_empty() && f.len() <= 1400));
            assert!(d.buffered() <= 1402);
        }
    }

    #[test]
    fn encode_refuses_what_two_bytes_cannot_say() {
        let mut out = Vec::new();
        assert!(encode(&vec![0; MAX_FRAME + 1], &mut out).is_none());
        assert!(out.is_empty());
        assert!(encode(&vec![0; MAX_FRAME], &mut out).is_some());
        assert_eq!(out.len(), MAX_FRAME + 2);
    }
}
