//! Tokens, as packetdrill's flex lexer makes them: comments and the
//! `#ifdef` directives removed, backtick commands and `%{ }%` blocks one
//! token each, numbers by longest match (`0...0.2` is 0, `...`, 0.2).

use super::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Int(i64),
    Float(f64),
    Word(String),
    /// `--name=value`, a script option.
    Opt(String),
    Shell(String),
    Code(String),
    /// `"text"`, without its quotes (packetdrill keeps backslashes as
    /// written).
    Str(String),
    Ellipsis,
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

/// The tokens of `text`. `defined` holds `NAME` or `NAME=VALUE` entries
/// (packetdrill's `-D`): every NAME is kept by `#ifdef NAME`, and a word
/// that is a NAME with a VALUE becomes that value, as packetdrill's lexer
/// substitutes it (`word()` in lexer.l): a number (C's `strtol` forms), a
/// backtick command, or else a word.
pub fn tokens(text: &str, defined: &[&str]) -> Result<Vec<Token>, Error> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut open_ifdef: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        let start_line = line;
        let push = |out: &mut Vec<Token>, tok| {
            out.push(Token {
                tok,
                line: start_line,
            })
        };
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let Some(end) = find(b, i + 2, b"*/") else {
                    return Err(Error::at(line, "unterminated /* comment"));
                };
                line += count_lines(&b[i..end]);
                i = end + 2;
            }
            b'#' => {
                let word_end = scan(b, i + 1, |c| c.is_ascii_alphabetic());
                match &text[i + 1..word_end] {
                    "ifdef" => {
                        if let Some(at) = open_ifdef {
                            return Err(Error::at(
                                line,
                                format!("#ifdef already seen in line {at}"),
                            ));
                        }
                        let name_start = scan(b, word_end, |c| c == b' ' || c == b'\t');
                        let name_end =
                            scan(b, name_start, |c| c.is_ascii_alphanumeric() || c == b'_');
                        let name = &text[name_start..name_end];
                        if name.len() < 2 {
                            return Err(Error::at(line, "#ifdef must be followed by name"));
                        }
                        if defined.iter().any(|d| define_name(d) == name) {
                            open_ifdef = Some(line);
                            i = name_end;
                        } else {
                            // Skip to the #endif, whatever lies between.
                            let Some(end) = find(b, name_end, b"#endif") else {
                                return Err(Error::at(line, "unterminated #ifdef"));
                            };
                            line += count_lines(&b[i..end]);
                            i = end + "#endif".len();
                        }
                    }
                    "endif" => {
                        if open_ifdef.take().is_none() {
                            return Err(Error::at(line, "missing #ifdef for #endif"));
                        }
                        i = word_end;
                    }
                    other => return Err(Error::at(line, format!("unknown directive #{other}"))),
                }
            }
            b'`' => {
                let mut j = i + 1;
                while j < b.len() && !(b[j] == b'`' && b[j - 1] != b'\\') {
                    j += 1;
                }
                if j >= b.len() {
                    return Err(Error::at(line, "unterminated backtick command"));
                }
                push(&mut out, Tok::Shell(text[i + 1..j].to_string()));
                line += count_lines(&b[i..j]);
                i = j + 1;
            }
            b'"' => {
                // `"(\\.|[^"])*"`: a backslash takes the next byte along.
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j >= b.len() {
                    return Err(Error::at(line, "unterminated quoted string"));
                }
                push(&mut out, Tok::Str(text[i + 1..j].to_string()));
                line += count_lines(&b[i..j]);
                i = j + 1;
            }
            b'%' if b.get(i + 1) == Some(&b'{') => {
                let Some(end) = find(b, i + 2, b"}%") else {
                    return Err(Error::at(line, "unterminated %{ code block"));
                };
                push(&mut out, Tok::Code(text[i + 2..end].trim().to_string()));
                line += count_lines(&b[i..end]);
                i = end + 2;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_some_and(u8::is_ascii_alphabetic) =>
            {
                let end = scan(b, i, |c| !c.is_ascii_whitespace());
                push(&mut out, Tok::Opt(text[i + 2..end].to_string()));
                i = end;
            }
            b'.' if b[i..].starts_with(b"...") => {
                push(&mut out, Tok::Ellipsis);
                i += 3;
            }
            b'0' if matches!(b.get(i + 1), Some(b'x' | b'X')) => {
                let end = scan(b, i + 2, |c| c.is_ascii_hexdigit());
                let v = i64::from_str_radix(&text[i + 2..end], 16)
                    .map_err(|_| Error::at(line, format!("bad hex number {}", &text[i..end])))?;
                push(&mut out, Tok::Int(v));
                i = end;
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let (tok, end) = number(text, i).map_err(|m| Error::at(line, m))?;
                push(&mut out, tok);
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = scan(b, i, |c| c.is_ascii_alphanumeric() || c == b'_');
                let word = &text[i..end];
                // The last definition of a name counts (packetdrill's table
                // keeps what was set last); a bare `-D NAME` has no value.
                let tok = match defined
                    .iter()
                    .rev()
                    .find(|d| define_name(d) == word)
                    .and_then(|d| d.split_once('='))
                {
                    Some((name, value)) => {
                        substitute(name, value).map_err(|m| Error::at(line, m))?
                    }
                    None => Tok::Word(word.to_string()),
                };
                push(&mut out, tok);
                i = end;
            }
            c if c.is_ascii() => {
                push(&mut out, Tok::Punct(c as char));
                i += 1;
            }
            _ => return Err(Error::at(line, "a character outside ASCII")),
        }
    }
    if let Some(at) = open_ifdef {
        return Err(Error::at(at, "unterminated #ifdef"));
    }
    Ok(out)
}

/// The name of a `-D NAME` or `-D NAME=VALUE` definition.
pub fn define_name(definition: &str) -> &str {
    definition.split_once('=').map_or(definition, |(n, _)| n)
}

/// The token a defined name stands for.
fn substitute(name: &str, value: &str) -> Result<Tok, String> {
    if let Some(cmd) = value.strip_prefix('`').and_then(|v| v.strip_suffix('`')) {
        return Ok(Tok::Shell(cmd.to_string()));
    }
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        return Ok(Tok::Str(value[1..value.len() - 1].to_string()));
    }
    if value.starts_with('"') {
        return Err(format!("-D {name}={value}: an unterminated quoted string"));
    }
    Ok(c_integer(value).map_or_else(|| Tok::Word(value.to_string()), Tok::Int))
}

/// `value` read as C's `strtol(value, &end, 0)` with nothing left over:
/// an optional sign, then `0x` hexadecimal, `0` octal or decimal digits.
fn c_integer(value: &str) -> Option<i64> {
    // strtol of nothing is 0 with nothing left over: an empty value is 0.
    if value.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let (radix, body) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => (16, hex),
        None if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        None => (10, digits),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(body, radix).ok()?;
    // packetdrill takes strtol's LONG_MIN and LONG_MAX (its overflow
    // values) as no integer: a word.
    if magnitude == i64::MAX {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// Digits, a fraction, or an IPv4 address (kept as a word); `1...2` stops
/// before the ellipsis.
fn number(text: &str, i: usize) -> Result<(Tok, usize), String> {
    let b = text.as_bytes();
    let int_end = scan(b, i, |c| c.is_ascii_digit());
    let fraction =
        b.get(int_end) == Some(&b'.') && b.get(int_end + 1).is_some_and(u8::is_ascii_digit);
    if !fraction {
        let v = text[i..int_end]
            .parse::<i64>()
            .map_err(|_| format!("number out of range: {}", &text[i..int_end]))?;
        return Ok((Tok::Int(v), int_end));
    }
    let end = scan(b, int_end + 1, |c| c.is_ascii_digit());
    // a.b.c.d: an address.
    if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let end = scan(b, end, |c| c.is_ascii_digit() || c == b'.');
        return Ok((Tok::Word(text[i..end].to_string()), end));
    }
    let v = text[i..end]
        .parse::<f64>()
        .map_err(|_| format!("bad number {}", &text[i..end]))?;
    Ok((Tok::Float(v), end))
}

fn scan(b: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && keep(b[i]) {
        i += 1;
    }
    i
}

fn find(b: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(what.len())
        .position(|w| w == what)
        .map(|p| from + p)
}

fn count_lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokens(s, &["STANDARD"])
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    /// `"..."` is one token, a backslash taking the next byte along,
    /// over lines if it must be; one not closed is an error at its line.
    #[test]
    fn quoted_strings() {
        assert_eq!(
            toks(
                r#"f("cubic", "a\"b", "x
y") // "not one""#
            ),
            [
                Tok::Word("f".into()),
                Tok::Punct('('),
                Tok::Str("cubic".into()),
                Tok::Punct(','),
                Tok::Str(r#"a\"b"#.into()),
                Tok::Punct(','),
                Tok::Str("x\ny".into()),
                Tok::Punct(')'),
            ]
        );
        let t = tokens("a\n\"x\n\"\nb", &[]).unwrap();
        assert_eq!(t.last().map(|t| t.line), Some(4));
        let e = tokens("\n\"open\n", &[]).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(tokens("x", &["Q=\"open"]).is_ok());
        assert!(tokens("Q", &["Q=\"open"]).is_err());
    }

    #[test]
    fn defined_names_stand_for_their_values() {
        let defined = [
            "STANDARD",
            "PORT=0x1f90",
            "MODE=010",
            "LEVEL=IPPROTO_TCP",
            "CMD=`true`",
            "N=-3",
            "CC=\"reno\"",
        ];
        let t: Vec<Tok> = tokens(
            "#ifdef STANDARD\nPORT MODE LEVEL CMD N CC PORTS\n#endif",
            &defined,
        )
        .unwrap()
        .into_iter()
        .map(|t| t.tok)
        .collect();
        assert_eq!(
            t,
            [
                Tok::Int(8080),
                Tok::Int(8),
                Tok::Word("IPPROTO_TCP".into()),
                Tok::Shell("true".into()),
                Tok::Int(-3),
                Tok::Str("reno".into()),
                Tok::Word("PORTS".into()),
            ]
        );
        // Not integers in C's sense: kept as words.
        for v in [
            "0x",
            "08",
            "1.5",
            "+-1",
            "0x+5",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(c_integer(v), None, "{v}");
        }
        assert_eq!(c_integer(""), Some(0));
        // The last definition counts.
        let last: Vec<Tok> = tokens("N", &["N=1", "N=2"])
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(last, [Tok::Int(2)]);
        let e = tokens("X", &["X=\"reno"]).unwrap_err();
        assert!(e.message.contains("-D X=\"reno"), "{}", e.message);
    }

    #[test]
    fn numbers_by_longest_match() {
        assert_eq!(
            toks("0...0.2 +.5 0x1f 192.0.2.1"),
            [
                Tok::Int(0),
                Tok::Ellipsis,
                Tok::Float(0.2),
                Tok::Punct('+'),
                Tok::Float(0.5),
                Tok::Int(31),
                Tok::Word("192.0.2.1".into()),
            ]
        );
    }

    #[test]
    fn comments_directives_commands_and_code() {
        let t = tokens(
            "// one\n/* two\n */ `sysctl -w a=1`\n#ifdef FreeBSD\nx\n#endif\n#ifdef STANDARD\ny\n#endif\n%{ assert tcpi_state == 1 }%\n--ip_version=ipv4",
            &["STANDARD"],
        )
        .unwrap();
        let kinds: Vec<(Tok, usize)> = t.into_iter().map(|t| (t.tok, t.line)).collect();
        assert_eq!(
            kinds,
            [
                (Tok::Shell("sysctl -w a=1".into()), 3),
                (Tok::Word("y".into()), 8),
                (Tok::Code("assert tcpi_state == 1".into()), 10),
                (Tok::Opt("ip_version=ipv4".into()), 11),
            ]
        );
        assert_eq!(
            tokens("#ifdef X\n", &[]).unwrap_err().message,
            "#ifdef must be followed by name"
        );
        assert_eq!(
            tokens("#endif", &[]).unwrap_err().message,
            "missing #ifdef for #endif"
        );
        assert_eq!(
            tokens("#ifdef ABC\nx", &[]).unwrap_err().message,
            "unterminated #ifdef"
        );
    }
}
