//! What goes into a request and comes out of a response: the request
//! body of `-d`/`-T`, a head as `-i` and `-D` write it, `-u`'s base64 and
//! `--compressed`'s decoding.

use std::io::{self, Write};

use tcplab_host::{Host, Output};

use super::args::{CurlArgs, DataKind};
use super::Failure;
use crate::http::Head;

/// The request body from `-d`-like arguments (joined with `&`): `@FILE`
/// reads the host's file (`@-` standard input, read once for the whole
/// run as curl reads it while parsing its arguments), dropping CR and LF
/// for `-d` as curl does, kept as it is for `--data-binary`; `--data-raw`
/// takes its text as it is.
/// A file that cannot be read is an empty part, with curl 7.88's warning
/// (not under -s). `-T FILE` uploads the file instead (`-T -` standard
/// input); one that cannot be opened is curl's two lines (said under -s
/// too) and status 26.
pub(super) fn request_body(
    host: &Host,
    a: &CurlArgs,
    upload: Option<&str>,
    stdin: &[u8],
    err: &mut Output,
) -> Result<Option<Vec<u8>>, Failure> {
    let read = |path: &str| {
        if super::args::is_stdin(path) {
            return Some(stdin.to_vec());
        }
        host.fs().read(path).map(|d| d.to_vec()).ok()
    };
    if let Some(path) = upload {
        return match read(path) {
            Some(d) => Ok(Some(d)),
            None => {
                err.line(format!("curl: Can't open '{path}'!"));
                err.line("curl: try 'curl --help' or 'curl --manual' for more information");
                Err(Failure::new(
                    26,
                    "Failed to open/read local data from file/application".into(),
                ))
            }
        };
    }
    if a.data.is_empty() {
        return Ok(None);
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (kind, d) in &a.data {
        let Some(path) = d.strip_prefix('@').filter(|_| *kind != DataKind::Raw) else {
            parts.push(d.as_bytes().to_vec());
            continue;
        };
        let Some(data) = read(path) else {
            if !a.silent {
                err.line(format!(
                    "Warning: Couldn't read data from file \"{path}\", this makes an empty POST."
                ));
            }
            parts.push(Vec::new());
            continue;
        };
        parts.push(match kind {
            DataKind::Ascii => data
                .into_iter()
                .filter(|b| *b != b'\n' && *b != b'\r')
                .collect(),
            _ => data,
        });
    }
    Ok(Some(parts.join(&b'&')))
}

/// A body in HTTP/1.1's chunked coding (RFC 9112 §7.1) as curl sends an
/// upload of unknown length: pieces of at most 65,524 bytes (its 64 KiB
/// upload buffer less room for the chunk's size line and end), then the
/// last chunk.
pub(super) fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    for piece in body.chunks(65_524) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
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
/// order they were applied, so the last is undone first. Each step takes
/// at most `DECODE_STEP` bytes of input at a time and hands what it made
/// to the next at once, so what any one step holds stays near a megabyte
/// however the codings are stacked (a small body that inflates a
/// thousandfold twice is never held whole).
pub(super) struct Decoder {
    /// The codings to undo, the outermost (listed last) first.
    steps: Vec<Step>,
    /// A coding curl does not know: an error at the first body byte (curl
    /// defers it to the writer's first use; an empty body is fine).
    unknown: bool,
}

/// One coding being undone, into a buffer the chain drains.
enum Step {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Step {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Step::Gzip(d) => d.write_all(b),
            Step::Zlib(d) => d.write_all(b),
        }
    }

    /// The end of the stream: complete, or an error.
    fn try_finish(&mut self) -> io::Result<()> {
        match self {
            Step::Gzip(d) => d.try_finish(),
            Step::Zlib(d) => d.try_finish(),
        }
    }

    fn take(&mut self) -> Vec<u8> {
        match self {
            Step::Gzip(d) => std::mem::take(d.get_mut()),
            Step::Zlib(d) => std::mem::take(d.get_mut()),
        }
    }
}

/// How much input goes into a step at a time: what it makes from that
/// stays near a megabyte (deflate inflates at most about 1,032 times).
const DECODE_STEP: usize = 1024;

/// curl 7.88's bound on stacked codings (CVE-2023-23916).
const MAX_CODINGS: usize = 5;

/// Why feeding a decoder stopped: the data (61), or the one it fed.
pub(super) enum Stop<E> {
    Decode(Failure),
    Sink(E),
}

impl Decoder {
    /// The chain for a `Content-Encoding` value, or curl's (61) for more
    /// than five codings.
    pub(super) fn new(encoding: &str) -> Result<Decoder, Failure> {
        let codings: Vec<String> = encoding
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        if codings.len() > MAX_CODINGS {
            return Err(Failure::new(
                61,
                format!("Reject response due to more than {MAX_CODINGS} content encodings"),
            ));
        }
        let mut steps = Vec::new();
        let mut unknown = false;
        for c in codings.iter().rev() {
            match c.as_str() {
                "gzip" | "x-gzip" => {
                    steps.push(Step::Gzip(flate2::write::GzDecoder::new(Vec::new())))
                }
                "deflate" => steps.push(Step::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))),
                _ => unknown = true,
            }
        }
        Ok(Decoder { steps, unknown })
    }

    /// Feed `data`; `each` gets what came out, a step at a time.
    pub(super) fn feed<E>(
        &mut self,
        data: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Stop<E>> {
        if self.unknown && !data.is_empty() {
            return Err(Stop::Decode(Failure::new(
                61,
                "Unrecognized content encoding type. libcurl understands deflate, gzip content encodings.".into(),
            )));
        }
        push(&mut self.steps, data, each)
    }

    /// The body ended: what the steps still held, or (61) if a stream in
    /// the chain was cut short.
    pub(super) fn finish<E>(
        &mut self,
        each: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Stop<E>> {
        finish(&mut self.steps, each)
    }
}

/// `data` through `steps` and on to `each`, `DECODE_STEP` bytes of each
/// step's input at a time.
fn push<E>(
    steps: &mut [Step],
    data: &[u8],
    each: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let Some((first, rest)) = steps.split_first_mut() else {
        return if data.is_empty() {
            Ok(())
        } else {
            each(data).map_err(Stop::Sink)
        };
    };
    for piece in data.chunks(DECODE_STEP) {
        first
            .write_all(piece)
            .map_err(|e| Stop::Decode(unencoding(e)))?;
        let made = first.take();
        push(rest, &made, each)?;
    }
    Ok(())
}

fn finish<E>(
    steps: &mut [Step],
    each: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let Some((first, rest)) = steps.split_first_mut() else {
        return Ok(());
    };
    first
        .try_finish()
        .map_err(|e| Stop::Decode(unencoding(e)))?;
    let made = first.take();
    push(rest, &made, each)?;
    finish(rest, each)
}

fn unencoding(e: io::Error) -> Failure {
    // curl reports zlib's own message; flate2 words a stream that does
    // not begin as gzip its own way.
    let text = e.to_string();
    let text = match text.as_str() {
        "invalid gzip header" => "incorrect header check",
        t => t,
    };
    Failure::new(
        61,
        format!("Error while processing content unencoding: {text}"),
    )
}
