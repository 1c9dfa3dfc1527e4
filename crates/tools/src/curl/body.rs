//! What goes into a request and comes out of a response: the request
//! body of `-d`/`-T`, a head as `-i` and `-D` write it, `-u`'s base64 and
//! `--compressed`'s decoding.

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

/// Undo a `Content-Encoding` curl asked for with `--compressed`.
pub(super) fn decode(encoding: &str, data: &[u8]) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut out = Vec::new();
    // Decoded, at most what a simulated disk holds (a small body can
    // inflate a thousandfold).
    let most = super::MAX_HELD as u64 + 1;
    let result = match encoding.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(data)
            .take(most)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(data)
            .take(most)
            .read_to_end(&mut out),
        "identity" | "" => return Ok(data.to_vec()),
        other => {
            return Err(Failure::new(
                61,
                format!("Unrecognized content encoding type. libcurl understands deflate, gzip content encodings. ({other})"),
            ))
        }
    };
    if out.len() as u64 >= most {
        return Err(super::output_failure());
    }
    result.map(|_| out).map_err(|e| {
        Failure::new(
            61,
            format!("Error while processing content unencoding: {e}"),
        )
    })
}
