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
/// space, `#`), a width and a precision (either may be `*`: taken from
/// the arguments); the format used again while arguments remain; `\c` in
/// a `%b` argument ends the output. Bash prints what it can and fails
/// with status 1 on a number that is not one or a conversion it does not
/// know; as the input of a pipeline, that is refused here when the
/// scenario loads, in bash's words.
pub fn printf(args: &[String]) -> Result<Vec<u8>, Usage> {
    let Some((format, rest)) = args.split_first() else {
        return Err(Usage::new(
            "printf",
            "usage: printf format [arguments]".into(),
        ));
    };
    let f = format.as_bytes();
    let mut out = Vec::new();
    let mut next = 0;
    // The next argument as text (none: empty), counting what was taken.
    let take = |next: &mut usize| -> Option<&str> {
        let a = rest.get(*next).map(String::as_str);
        *next += usize::from(a.is_some());
        a
    };
    loop {
        let before = next;
        // Literal text runs from `lit` to the next `%`; escapes are read
        // in it only, so an escaped `%` (`\045`) is a plain character.
        let (mut i, mut lit) = (0, 0);
        while i < f.len() {
            if f[i] != b'%' {
                i += 1;
                continue;
            }
            out.extend_from_slice(&unescape(&format[lit..i], Octal::Digits));
            if f.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 2;
                lit = i;
                continue;
            }
            let mut j = i + 1;
            let flags_at = j;
            while j < f.len() && b"-+ 0#".contains(&f[j]) {
                j += 1;
            }
            let flags = &f[flags_at..j];
            let mut width = 0usize;
            let mut left = flags.contains(&b'-');
            if f.get(j) == Some(&b'*') {
                j += 1;
                let w = take(&mut next).map_or(Ok(0), signed)?;
                left |= w < 0;
                width = usize::try_from(w.unsigned_abs()).unwrap_or(usize::MAX);
            } else {
                while j < f.len() && f[j].is_ascii_digit() {
                    width = width
                        .saturating_mul(10)
                        .saturating_add(usize::from(f[j] - b'0'));
                    j += 1;
                }
            }
            let mut precision = None;
            if f.get(j) == Some(&b'.') {
                j += 1;
                if f.get(j) == Some(&b'*') {
                    j += 1;
                    let p = take(&mut next).map_or(Ok(0), signed)?;
                    precision = usize::try_from(p).ok();
                } else {
                    let mut p = 0usize;
                    while j < f.len() && f[j].is_ascii_digit() {
                        p = p
                            .saturating_mul(10)
                            .saturating_add(usize::from(f[j] - b'0'));
                        j += 1;
                    }
                    precision = Some(p);
                }
            }
            let spec = || String::from_utf8_lossy(&f[i..(j + 1).min(f.len())]).into_owned();
            // Bounded: a scenario's input, not a way to fill memory — a
            // field larger than this is refused, never cut short.
            if width > MAX_FIELD || precision.is_some_and(|p| p > MAX_FIELD) {
                return Err(Usage::new(
                    "printf",
                    format!(
                        "`{}': field width or precision over {} MiB, more than tcplab's printf writes",
                        spec(),
                        MAX_FIELD >> 20
                    ),
                ));
            }
            let Some(&conv) = f.get(j) else {
                return Err(Usage::new(
                    "printf",
                    format!("`{}': missing format character", spec()),
                ));
            };
            let body: Vec<u8> = match conv {
                b's' | b'b' | b'c' => {
                    let text = take(&mut next).unwrap_or("");
                    let mut b = match conv {
                        b'b' => match text.find("\\c") {
                            // \c: nothing more is written, at all.
                            Some(at) => {
                                let mut b = unescape(&text[..at], Octal::Either);
                                if let Some(p) = precision {
                                    b.truncate(p);
                                }
                                pad(&mut out, &b, width, left);
                                return Ok(out);
                            }
                            None => unescape(text, Octal::Either),
                        },
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
                b'd' | b'i' => {
                    let n = take(&mut next).map_or(Ok(0), signed)?;
                    let sign = if n < 0 {
                        "-"
                    } else if flags.contains(&b'+') {
                        "+"
                    } else if flags.contains(&b' ') {
                        " "
                    } else {
                        ""
                    };
                    digits(
                        sign,
                        &n.unsigned_abs().to_string(),
                        precision,
                        width,
                        flags,
                        left,
                    )
                }
                b'u' | b'x' | b'X' | b'o' => {
                    let n = take(&mut next).map_or(Ok(0), unsigned)?;
                    let (prefix, text) = match conv {
                        b'x' => (
                            if flags.contains(&b'#') && n != 0 {
                                "0x"
                            } else {
                                ""
                            },
                            format!("{n:x}"),
                        ),
                        b'X' => (
                            if flags.contains(&b'#') && n != 0 {
                                "0X"
                            } else {
                                ""
                            },
                            format!("{n:X}"),
                        ),
                        b'o' => (
                            if flags.contains(&b'#') && n != 0 {
                                "0"
                            } else {
                                ""
                            },
                            format!("{n:o}"),
                        ),
                        _ => ("", n.to_string()),
                    };
                    digits(prefix, &text, precision, width, flags, left)
                }
                _ => {
                    return Err(Usage::new(
                        "printf",
                        format!("`{}': missing format character", spec()),
                    ))
                }
            };
            pad(&mut out, &body, width, left);
            if out.len() > MAX_OUTPUT {
                return Err(Usage::new(
                    "printf",
                    format!(
                        "output over {} MiB, more than tcplab's printf writes",
                        MAX_OUTPUT >> 20
                    ),
                ));
            }
            i = j + 1;
            lit = i;
        }
        out.extend_from_slice(&unescape(&format[lit..], Octal::Digits));
        // The format again for the arguments left, if it took any.
        if next >= rest.len() || next == before {
            break;
        }
    }
    Ok(out)
}

/// The widest field (width or precision) printf writes.
const MAX_FIELD: usize = 16 << 20;
/// The most printf writes in all.
const MAX_OUTPUT: usize = 64 << 20;

/// `body` into `out`, padded with spaces to `width` on the left (or, with
/// `-`, on the right).
fn pad(out: &mut Vec<u8>, body: &[u8], width: usize, left: bool) {
    let fill = width.saturating_sub(body.len());
    if left {
        out.extend_from_slice(body);
        out.resize(out.len() + fill, b' ');
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(body);
    }
}

/// A number's text after its sign or prefix: at least `precision` digits;
/// zeros up to `width` with the `0` flag (and no precision, no `-`).
fn digits(
    sign: &str,
    text: &str,
    precision: Option<usize>,
    width: usize,
    flags: &[u8],
    left: bool,
) -> Vec<u8> {
    let text = match precision {
        Some(p) if text.len() < p => format!("{}{text}", "0".repeat(p - text.len())),
        _ => text.to_string(),
    };
    let zero = flags.contains(&b'0') && !left && precision.is_none();
    let used = sign.len() + text.len();
    let zeros = if zero { width.saturating_sub(used) } else { 0 };
    format!("{sign}{}{text}", "0".repeat(zeros)).into_bytes()
}

/// A number as bash's printf reads one: blanks before it, a sign, then
/// decimal, `0x` hex or `0` octal digits — or `'c`, the character's code.
/// Returns the sign and the magnitude.
fn magnitude(a: &str) -> Result<(bool, u64), Usage> {
    let invalid = || Usage::new("printf", format!("{a}: invalid number"));
    let t = a.trim_start();
    if let Some(c) = t.strip_prefix('\'').or_else(|| t.strip_prefix('"')) {
        return Ok((
            false,
            c.chars().next().map_or(0, |c| u64::from(u32::from(c))),
        ));
    }
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    let m = u64::from_str_radix(digits, radix)
        .map_err(|_| Usage::new("printf", format!("{a}: Numerical result out of range")))?;
    Ok((neg, m))
}

/// `%d`'s argument: a signed 64-bit number.
fn signed(a: &str) -> Result<i64, Usage> {
    let (neg, m) = magnitude(a)?;
    let v = if neg { -i128::from(m) } else { i128::from(m) };
    i64::try_from(v)
        .map_err(|_| Usage::new("printf", format!("{a}: Numerical result out of range")))
}

/// `%u`/`%x`/`%o`'s argument: an unsigned 64-bit number, a negative one
/// in two's complement (as strtoumax reads it).
fn unsigned(a: &str) -> Result<u64, Usage> {
    let (neg, m) = magnitude(a)?;
    Ok(if neg { m.wrapping_neg() } else { m })
}

/// How an octal escape is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Octal {
    /// `\NNN`, one to three digits (printf's format).
    Digits,
    /// `\0NNN`, a zero then up to three digits (`echo -e`).
    AfterZero,
    /// Either (printf's `%b`).
    Either,
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
            Some('0') if style != Octal::Digits => out.push(octal(&mut chars, 0, 3)),
            Some(d @ '0'..='7') if style != Octal::AfterZero => {
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

    /// A wide field is written whole (bash writes 70,000 spaces for
    /// `%70000d`), up to a bound that is refused, not cut short.
    #[test]
    fn printf_fields_are_whole_or_refused() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = printf(&args(&["%70000d", "1"])).unwrap();
        assert_eq!(out.len(), 70_000);
        assert!(out.ends_with(b" 1"));
        let e = printf(&args(&["%99999999999d", "1"])).unwrap_err();
        assert!(
            e.message
                .starts_with("`%99999999999d': field width or precision over 16 MiB"),
            "{}",
            e.message
        );
        let many: Vec<String> = std::iter::once("%10000000d".to_string())
            .chain((0..10).map(|i| i.to_string()))
            .collect();
        assert!(printf(&many)
            .unwrap_err()
            .message
            .starts_with("output over 64 MiB"));
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
        // Unsigned conversions of negative numbers: two's complement, as
        // strtoumax; `#`; `*` widths and precisions; %b's escapes and \c.
        assert_eq!(
            printf(&v(&[
                "%x|%u|%o|%#x|%#o|%X",
                "-1",
                "-5",
                "-8",
                "255",
                "8",
                "255"
            ]))
            .unwrap(),
            b"ffffffffffffffff|18446744073709551611|1777777777777777777770|0xff|010|FF"
        );
        assert_eq!(
            printf(&v(&["%*d|%.*s|%-*s|", "5", "42", "2", "abcdef", "4", "ab"])).unwrap(),
            b"   42|ab|ab  |"
        );
        assert_eq!(
            printf(&v(&["%b|", "\\101", "\\0101", "a\\cb", "never"])).unwrap(),
            b"A|A|a"
        );
        // An escaped % is a character, not a conversion.
        assert_eq!(printf(&v(&["\\045d", "7"])).unwrap(), b"%d");
        assert_eq!(
            printf(&v(&["%d|%d", " 5", "-9223372036854775808"])).unwrap(),
            b"5|-9223372036854775808"
        );
        for (args, says) in [
            (&["%z"][..], "`%z': missing format character"),
            (&["ab%"][..], "`%': missing format character"),
            (&["%d", "5 "][..], "5 : invalid number"),
            (&["%d", "--5"][..], "--5: invalid number"),
            (&["%d", "0x+10"][..], "0x+10: invalid number"),
            (
                &["%d", "--9223372036854775808"][..],
                "--9223372036854775808: invalid number",
            ),
            (
                &["%d", "9223372036854775808"][..],
                "9223372036854775808: Numerical result out of range",
            ),
            (
                &["%d", "99999999999999999999999"][..],
                "99999999999999999999999: Numerical result out of range",
            ),
        ] {
            assert_eq!(printf(&v(args)).unwrap_err().message, says, "{args:?}");
        }
        // \NNN in printf's format: one to three octal digits.
        assert_eq!(
            printf(&v(&["\\001\\1\\101\\0\\08"])).unwrap(),
            b"\x01\x01A\x00\x008"
        );
    }
}
