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

/// The bytes `printf FORMAT [ARGS...]` writes, as bash's builtin: escapes,
/// conversions `%s %b %c %d %i %u %x %X %o %%` with flags (`-`, `0`, `+`,
/// space), a width and a precision; the format used again while
/// arguments remain. A number that is not one is refused (bash prints an
/// error and 0): `printf: abc: invalid number`.
pub fn printf(args: &[String]) -> Result<Vec<u8>, Usage> {
    let Some((format, rest)) = args.split_first() else {
        return Err(Usage::new(
            "printf",
            "usage: printf format [arguments]".into(),
        ));
    };
    let fmt = unescape(format, Octal::Digits);
    let mut out = Vec::new();
    let mut next = 0;
    loop {
        let before = next;
        let mut i = 0;
        while i < fmt.len() {
            if fmt[i] != b'%' || i + 1 >= fmt.len() {
                out.push(fmt[i]);
                i += 1;
                continue;
            }
            if fmt[i + 1] == b'%' {
                out.push(b'%');
                i += 2;
                continue;
            }
            // %[flags][width][.precision]conversion
            let mut j = i + 1;
            let flags_at = j;
            while j < fmt.len() && b"-+ 0#".contains(&fmt[j]) {
                j += 1;
            }
            let flags = &fmt[flags_at..j];
            let width_at = j;
            while j < fmt.len() && fmt[j].is_ascii_digit() {
                j += 1;
            }
            let width: usize = std::str::from_utf8(&fmt[width_at..j])
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
                .min(4096);
            let mut precision = None;
            if j < fmt.len() && fmt[j] == b'.' {
                j += 1;
                let at = j;
                while j < fmt.len() && fmt[j].is_ascii_digit() {
                    j += 1;
                }
                precision = Some(
                    std::str::from_utf8(&fmt[at..j])
                        .ok()
                        .and_then(|p| p.parse::<usize>().ok())
                        .unwrap_or(0)
                        .min(4096),
                );
            }
            let Some(&conv) = fmt.get(j) else {
                out.extend_from_slice(&fmt[i..]);
                break;
            };
            let arg = rest.get(next).map(String::as_str);
            let body: Vec<u8> = match conv {
                b's' | b'b' | b'c' => {
                    next += usize::from(arg.is_some());
                    let text = arg.unwrap_or("");
                    let mut b = match conv {
                        b'b' => unescape(text, Octal::AfterZero),
                        b'c' => text
                            .chars()
                            .next()
                            .map_or(Vec::new(), |c| c.to_string().into_bytes()),
                        _ => text.as_bytes().to_vec(),
                    };
                    if let Some(p) = precision.filter(|_| conv != b'c') {
                        b.truncate(p);
                    }
                    b
                }
                b'd' | b'i' | b'u' | b'x' | b'X' | b'o' => {
                    next += usize::from(arg.is_some());
                    let n = match arg {
                        Some(a) => number(a)
                            .ok_or_else(|| Usage::new("printf", format!("{a}: invalid number")))?,
                        None => 0,
                    };
                    let digits = match conv {
                        b'x' => format!("{:x}", n.unsigned_abs()),
                        b'X' => format!("{:X}", n.unsigned_abs()),
                        b'o' => format!("{:o}", n.unsigned_abs()),
                        _ => n.unsigned_abs().to_string(),
                    };
                    let digits = match precision {
                        Some(p) if digits.len() < p => {
                            format!("{}{digits}", "0".repeat(p - digits.len()))
                        }
                        _ => digits,
                    };
                    let sign = if n < 0 {
                        "-"
                    } else if flags.contains(&b'+') && matches!(conv, b'd' | b'i') {
                        "+"
                    } else if flags.contains(&b' ') && matches!(conv, b'd' | b'i') {
                        " "
                    } else {
                        ""
                    };
                    let zero =
                        flags.contains(&b'0') && !flags.contains(&b'-') && precision.is_none();
                    if zero && sign.len() + digits.len() < width {
                        let pad = "0".repeat(width - sign.len() - digits.len());
                        format!("{sign}{pad}{digits}").into_bytes()
                    } else {
                        format!("{sign}{digits}").into_bytes()
                    }
                }
                other => {
                    // Not a conversion bash knows: written as it is.
                    out.push(b'%');
                    out.push(other);
                    i = j + 1;
                    continue;
                }
            };
            let pad = width.saturating_sub(body.len());
            if flags.contains(&b'-') {
                out.extend_from_slice(&body);
                out.resize(out.len() + pad, b' ');
            } else {
                out.resize(out.len() + pad, b' ');
                out.extend_from_slice(&body);
            }
            i = j + 1;
        }
        // The format again for the arguments left, if it took any.
        if next >= rest.len() || next == before {
            break;
        }
    }
    Ok(out)
}

/// A number as bash's printf reads one: decimal, `0x` hex, `0` octal, a
/// sign, or `'c` (the character's code).
fn number(a: &str) -> Option<i64> {
    let t = a.trim();
    if let Some(c) = t.strip_prefix('\'').or_else(|| t.strip_prefix('"')) {
        return c.chars().next().map(|c| i64::from(u32::from(c)));
    }
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
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
        // Width, flags, precision; the format again for more arguments.
        assert_eq!(
            printf(&v(&[
                "[%5d|%-4s|%05d|%x|%.2s|%c|%+d|%3.1s]\\n",
                "42",
                "ab",
                "-7",
                "255",
                "xyz",
                "Q",
                "3",
                "hi"
            ]))
            .unwrap(),
            b"[   42|ab  |-0007|ff|xy|Q|+3|  h]\n"
        );
        assert_eq!(printf(&v(&["%s\\n", "a", "b", "c"])).unwrap(), b"a\nb\nc\n");
        assert_eq!(printf(&v(&["%s=%d ", "a", "1", "b"])).unwrap(), b"a=1 b=0 ");
        assert_eq!(printf(&v(&["%d %d", "0x10", "010"])).unwrap(), b"16 8");
        assert_eq!(printf(&v(&["%d", "'A"])).unwrap(), b"65");
        assert_eq!(printf(&v(&["%b", "a\\tb"])).unwrap(), b"a\tb");
        assert_eq!(printf(&v(&["no args\\n", "x"])).unwrap(), b"no args\n");
        let e = printf(&v(&["%d", "abc"])).unwrap_err();
        assert_eq!(e.message, "abc: invalid number");
        // \NNN in printf's format: one to three octal digits.
        assert_eq!(
            printf(&v(&["\\001\\1\\101\\0\\08"])).unwrap(),
            b"\x01\x01A\x00\x008"
        );
    }
}
