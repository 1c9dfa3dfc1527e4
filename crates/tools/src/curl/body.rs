//! What goes into a request and comes out of a response: the request
//! body of `-d`/`-T`, a head as `-i` and `-D` write it, `-u`'s base64 and
//! `--compressed`'s decoding.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use tcplab_host::Host;

use super::args::{CurlArgs, DataKind};
use super::Failure;
use crate::http::Head;

/// The request body from `-d`-like arguments (joined with `&`): `@FILE`
/// reads the host's file, dropping CR and LF for `-d` as curl does, kept
/// as it is for `--data-binary`; `--data-raw` takes its text as it is.
/// `-T FILE` uploads the file instead.
pub(super) fn request_body(host: &Host, a: &CurlArgs) -> Result<Option<Vec<u8>>, Failure> {
    let read = |path: &str| {
        host.fs().read(path).map(|d| d.to_vec()).map_err(|_| {
            Failure::new(
                26,
                "Failed to open/read local data from file/application".into(),
            )
        })
    };
    if let Some(path) = &a.upload {
        return read(path).map(Some);
    }
    if a.data.is_empty() {
        return Ok(None);
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (kind, d) in &a.data {
        match (kind, d.strip_prefix('@')) {
            (DataKind::Ascii, Some(path)) => parts.push(
                read(path)?
                    .into_iter()
                    .filter(|b| *b != b'\n' && *b != b'\r')
                    .collect(),
            ),
            (DataKind::Binary, Some(path)) => parts.push(read(path)?),
            _ => parts.push(d.as_bytes().to_vec()),
        }
    }
    Ok(Some(parts.join(&b'&')))
}

/// A response head as curl writes it for -i and -D: CRLF line ends, a
/// blank line after.
pub(super) fn head_text(h: &Head) -> String {
    let mut text = format!("{}\r\n", h.start);
    for (n, v) in &h.headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// RFC 4648 base64, for `-u`'s Basic credentials (RFC 7617).
pub(super) fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A body's content codings undone as it arrives, as curl's chain of
/// writers does: `Content-Encoding: gzip, deflate` lists them in the
/// order they were applied, so the last is undone first. What comes out
/// is taken with `take` after each piece, so a small compressed body
/// that inflates a thousandfold never has to be held whole.
pub(super) struct Decoder {
    chain: Stage,
    out: Rc<RefCell<Vec<u8>>>,
}

/// One step of the chain, writing into the next; `Out` collects.
enum Stage {
    Out(Rc<RefCell<Vec<u8>>>),
    Gzip(Box<flate2::write::GzDecoder<Stage>>),
    Zlib(Box<flate2::write::ZlibDecoder<Stage>>),
}

impl Write for Stage {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stage::Out(v) => {
                v.borrow_mut().extend_from_slice(b);
                Ok(b.len())
            }
            Stage::Gzip(d) => d.write(b),
            Stage::Zlib(d) => d.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stage::Out(_) => Ok(()),
            Stage::Gzip(d) => d.flush(),
            Stage::Zlib(d) => d.flush(),
        }
    }
}

impl Stage {
    /// The end of the body: each step checks its stream is complete and
    /// passes on what it still holds.
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Stage::Out(_) => Ok(()),
            Stage::Gzip(d) => {
                d.try_finish()?;
                d.get_mut().finish()
            }
            Stage::Zlib(d) => {
                d.try_finish()?;
                d.get_mut().finish()
            }
        }
    }
}

/// How much compressed input goes in at a time: what one step may
/// produce stays near a megabyte (deflate inflates at most about 1,032
/// times).
const DECODE_STEP: usize = 1024;

impl Decoder {
    /// The chain for a `Content-Encoding` value, or curl's (61) for a
    /// coding it does not know.
    pub(super) fn new(encoding: &str) -> Result<Decoder, Failure> {
        let out = Rc::new(RefCell::new(Vec::new()));
        let mut chain = Stage::Out(out.clone());
        for coding in encoding.split(',') {
            chain = match coding.trim().to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => Stage::Gzip(Box::new(flate2::write::GzDecoder::new(chain))),
                "deflate" => Stage::Zlib(Box::new(flate2::write::ZlibDecoder::new(chain))),
                "identity" | "" => chain,
                other => {
                    return Err(Failure::new(
                        61,
                        format!("Unrecognized content encoding type. libcurl understands deflate, gzip content encodings. ({other})"),
                    ))
                }
            };
        }
        Ok(Decoder { chain, out })
    }

    /// Feed `data`; `each` gets what came out, a step at a time.
    pub(super) fn feed<E>(
        &mut self,
        data: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, Failure> {
        for step in data.chunks(DECODE_STEP) {
            self.chain.write_all(step).map_err(unencoding)?;
            let got = std::mem::take(&mut *self.out.borrow_mut());
            if !got.is_empty() {
                if let Err(e) = each(&got) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(()))
    }

    /// The body ended: what the chain still held, or (61) if a stream
    /// in it was cut short.
    pub(super) fn finish(&mut self) -> Result<Vec<u8>, Failure> {
        self.chain.finish().map_err(unencoding)?;
        Ok(std::mem::take(&mut *self.out.borrow_mut()))
    }
}

fn unencoding(e: io::Error) -> Failure {
    Failure::new(
        61,
        format!("Error while processing content unencoding: {e}"),
    )
}
