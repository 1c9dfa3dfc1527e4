//! Commands that only produce input for the next stage of a pipeline:
//! `echo` and `printf` (the shell builtins), so that a scenario can write
//! `echo hello | nc server 7`.

use crate::Usage;

/// The bytes `echo [-n] [-e] WORDS...` writes.
pub fn echo(args: &[String]) -> Vec<u8> {
    let mut newline = true;
    let mut escapes = false;
    let mut words = args;
    while let Some(first) = words.first() {
        match first.as_str() {
            "-n" => newline = false,
            "-e" => escapes = true,
            "-ne" | "-en" => {
                newline = false;
                escapes = true;
            }
            _ => break,
        }
        words = &words[1..];
    }
    let text = words.join(" ");
    let mut out = if escapes {
        unescape(&text, Octal::AfterZero)
    } else {
        text.into_bytes()
    };
    if newline {
        out.push(b'\n');
    }
    out
}

/// The bytes `printf FORMAT [ARGS...]` writes (escapes, `%s`, `%d`, `%%`).
pub fn printf(args: &[String]) -> Result<Vec<u8>, Usage> {
    let Some((format, rest)) = args.split_first() else {
        return Err(Usage::new(
            "printf",
            "usage: printf format [arguments]".into(),
        ));
    };
    let mut out = Vec::new();
    let mut rest = rest.iter();
    let bytes = unescape(format, Octal::Digits);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b's' | b'd' => {
                    out.extend_from_slice(rest.next().map_or("", String::as_str).as_bytes())
                }
                b'%' => out.push(b'%'),
                other => {
                    out.push(b'%');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// How an octal escape is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Octal {
    /// `\NNN`, one to three digits (printf's format).
    Digits,
    /// `\0NNN`, a zero then up to three digits (`echo -e`).
    AfterZero,
}

/// Up to `max` octal digits from the front of `chars` (consumed) as a
/// byte; the value wraps at 256 as bash's does.
fn octal(chars: &mut std::str::Chars<'_>, first: u32, max: usize) -> u8 {
    let mut v = first;
    for _ in 0..max {
        match chars.clone().next().and_then(|c| c.to_digit(8)) {
            Some(d) => {
                v = v * 8 + d;
                chars.next();
            }
            None => break,
        }
    }
    v as u8
}

fn unescape(s: &str, style: Octal) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('r') => out.push(b'\r'),
            Some('0') if style == Octal::AfterZero => out.push(octal(&mut chars, 0, 3)),
            Some(d @ '0'..='7') if style == Octal::Digits => {
                let first = d.to_digit(8).unwrap_or(0);
                out.push(octal(&mut chars, first, 2));
            }
            Some('\\') => out.push(b'\\'),
            // \xHH: one byte in hex (one or two digits), as bash's printf.
            Some('x') => {
                let digits: String = chars
                    .clone()
                    .take(2)
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                match u8::from_str_radix(&digits, 16) {
                    Ok(b) => {
                        out.push(b);
                        for _ in 0..digits.len() {
                            chars.next();
                        }
                    }
                    Err(_) => out.extend_from_slice(b"\\x"),
                }
            }
            Some(other) => {
                out.push(b'\\');
                let mut b = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn echo_like_the_shell() {
        assert_eq!(echo(&v(&["hello", "world"])), b"hello world\n");
        assert_eq!(echo(&v(&["-n", "x"])), b"x");
        assert_eq!(echo(&v(&["-e", "a\\tb"])), b"a\tb\n");
        // \0NNN in echo; \1 alone is no escape there.
        assert_eq!(echo(&v(&["-e", "\\0101\\0\\1"])), b"A\0\\1\n");
    }

    #[test]
    fn printf_formats() {
        assert_eq!(
            printf(&v(&["GET %s HTTP/1.0\\r\\n\\r\\n", "/"])).unwrap(),
            b"GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(printf(&v(&["100%%"])).unwrap(), b"100%");
        assert_eq!(
            printf(&v(&["\\x04\\x0\\xffA\\xg"])).unwrap(),
            b"\x04\x00\xffA\\xg"
        );
        // \NNN in printf's format: one to three octal digits.
        assert_eq!(
            printf(&v(&["\\001\\1\\101\\0\\08"])).unwrap(),
            b"\x01\x01A\x00\x008"
        );
    }
}
