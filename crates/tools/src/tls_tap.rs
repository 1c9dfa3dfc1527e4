//! What crossed a TLS connection, record by record, as OpenSSL's message
//! callback reports it to curl: each record's 5-byte header, then each
//! handshake message a plaintext record carries (its type and length with
//! its own 4-byte header), a change of cipher spec, an alert, or the
//! content of a sealed record. curl -v prints `[N bytes data]` from these
//! (see `curl::trace`). The parser reads the record layer only (RFC 8446
//! §5.1, RFC 5246 §6.2), bytes as they pass in either direction; it keeps
//! no payload and a bounded log.

use std::collections::VecDeque;

/// What one callback would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A record's header.
    Header,
    /// A plaintext handshake message: its type, and its length with its
    /// header.
    Handshake(u8, usize),
    /// A sealed record's content: its length less the 16-byte AEAD tag
    /// and, for TLS 1.3, the inner content type (RFC 8446 §5.2).
    Sealed(usize),
    ChangeCipherSpec,
    Alert,
}

/// The most reports kept until they are taken.
const LOG_MAX: usize = 256;

/// One direction's place in the byte stream.
#[derive(Debug, Default)]
struct Dir {
    head: [u8; 5],
    have: usize,
    /// Bytes of the current record's body still to come.
    left: usize,
    kind: u8,
    /// A change of cipher spec went by: later handshake records are
    /// sealed (TLS 1.2's Finished).
    sealed: bool,
    /// The handshake message being read across records: its header so
    /// far, then the bytes of its body still to pass.
    msg_head: [u8; 4],
    msg_have: usize,
    msg_left: usize,
}

/// Both directions' record layers and what they reported.
#[derive(Debug, Default)]
pub struct Tap {
    dirs: [Dir; 2],
    log: VecDeque<(bool, Seen)>,
}

impl Tap {
    /// Bytes that went out (`out`) or came in.
    pub fn feed(&mut self, out: bool, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let d = &mut self.dirs[usize::from(out)];
            if d.have < 5 {
                let n = (5 - d.have).min(bytes.len());
                d.head[d.have..d.have + n].copy_from_slice(&bytes[..n]);
                d.have += n;
                bytes = &bytes[n..];
                if d.have < 5 {
                    return;
                }
                d.kind = d.head[0];
                d.left = usize::from(u16::from_be_bytes([d.head[3], d.head[4]]));
                let mut seen = vec![Seen::Header];
                match d.kind {
                    20 => {
                        d.sealed = true;
                        seen.push(Seen::ChangeCipherSpec);
                    }
                    21 => seen.push(Seen::Alert),
                    22 if d.sealed => seen.push(Seen::Sealed(d.left.saturating_sub(16))),
                    23 => seen.push(Seen::Sealed(d.left.saturating_sub(17))),
                    _ => {}
                }
                for s in seen {
                    self.push(out, s);
                }
                let d = &mut self.dirs[usize::from(out)];
                if d.left == 0 {
                    d.have = 0;
                }
                continue;
            }
            let n = d.left.min(bytes.len());
            let body = &bytes[..n];
            bytes = &bytes[n..];
            d.left -= n;
            if d.left == 0 {
                d.have = 0;
            }
            if d.kind == 22 && !d.sealed {
                self.messages(out, body);
            }
        }
    }

    /// A plaintext handshake record's body: messages, which may cross
    /// record boundaries (RFC 8446 §5.1).
    fn messages(&mut self, out: bool, mut body: &[u8]) {
        while !body.is_empty() {
            let d = &mut self.dirs[usize::from(out)];
            if d.msg_left > 0 {
                let n = d.msg_left.min(body.len());
                d.msg_left -= n;
                body = &body[n..];
                continue;
            }
            let n = (4 - d.msg_have).min(body.len());
            d.msg_head[d.msg_have..d.msg_have + n].copy_from_slice(&body[..n]);
            d.msg_have += n;
            body = &body[n..];
            if d.msg_have == 4 {
                let h = d.msg_head;
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                d.msg_have = 0;
                d.msg_left = len;
                self.push(out, Seen::Handshake(h[0], 4 + len));
            }
        }
    }

    fn push(&mut self, out: bool, s: Seen) {
        if self.log.len() == LOG_MAX {
            self.log.pop_front();
        }
        self.log.push_back((out, s));
    }

    /// What was reported since the last time, oldest first.
    pub fn take(&mut self) -> Vec<(bool, Seen)> {
        self.log.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record cut anywhere, a record with two handshake
    /// messages, a message across two records, a change of cipher spec
    /// and what is sealed after it.
    #[test]
    fn records_and_messages_in_any_cuts() {
        let mut stream = vec![22, 3, 1, 0, 8, 1, 0, 0, 4, 9, 9, 9, 9];
        // ServerHello (6 bytes of body) and the first 2 bytes of a
        // Certificate of 5, then the rest in a record of its own.
        stream.extend([
            22, 3, 3, 0, 16, 2, 0, 0, 6, 1, 2, 3, 4, 5, 6, 11, 0, 0, 5, 7, 7,
        ]);
        stream.extend([22, 3, 3, 0, 3, 7, 7, 7]);
        stream.extend([20, 3, 3, 0, 1, 1]);
        stream.extend([22, 3, 3, 0, 40]);
        stream.extend([0; 40]);
        stream.extend([23, 3, 3, 0, 23]);
        stream.extend([0; 23]);
        stream.extend([21, 3, 3, 0, 2, 1, 0]);
        let want = vec![
            Seen::Header,
            Seen::Handshake(1, 8),
            Seen::Header,
            Seen::Handshake(2, 10),
            Seen::Handshake(11, 9),
            Seen::Header,
            Seen::Header,
            Seen::ChangeCipherSpec,
            Seen::Header,
            Seen::Sealed(24),
            Seen::Header,
            Seen::Sealed(6),
            Seen::Header,
            Seen::Alert,
        ];
        for cut in 1..stream.len() {
            let mut tap = Tap::default();
            for piece in stream.chunks(cut) {
                tap.feed(false, piece);
            }
            let got: Vec<Seen> = tap.take().into_iter().map(|(_, s)| s).collect();
            assert_eq!(got, want, "pieces of {cut}");
        }
    }

    /// The log is bounded, whatever comes.
    #[test]
    fn the_log_is_bounded() {
        let mut tap = Tap::default();
        for _ in 0..10_000 {
            tap.feed(true, &[23, 3, 3, 0, 0]);
        }
        assert_eq!(tap.take().len(), LOG_MAX);
    }
}
