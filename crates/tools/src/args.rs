//! Command lines: shell-like word splitting and POSIX `getopt`.
//!
//! Tools parse their arguments the way the originals do (short options,
//! clustered or not, option arguments attached or separate, `--` ends
//! options), and report mistakes in GNU getopt's words.

/// Split a command line into words, honouring single quotes, double quotes
/// and backslash escapes, as a POSIX shell does (without expansions).
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Split a command line into the stages of a pipeline (`a | b`), each a
/// list of words. A `|` inside quotes is an ordinary character; outside
/// them, the other shell operators (`>`, `<`, `;`, `&`) are refused.
pub fn split_pipeline(line: &str) -> Result<Vec<Vec<String>>, String> {
    let mut stages = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                current.push(c);
                escaped = true;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, '|') => stages.push(std::mem::take(&mut current)),
            // What a shell would do with these is not done here (no
            // shell runs the command): refused, rather than passed to the
            // tool as an argument it would misread.
            (None, '>' | '<') => {
                return Err(format!(
                    "redirection `{c}` is not supported (commands run without a shell; \
                     curl -o FILE and tcpdump -w FILE write files)"
                ))
            }
            (None, ';' | '&') => {
                return Err(format!(
                    "`{c}` is not supported (commands run without a shell: one command per entry)"
                ))
            }
            _ => current.push(c),
        }
    }
    stages.push(current);
    let mut out = Vec::new();
    for stage in stages {
        let words = split(&stage)?;
        if words.is_empty() {
            return Err("syntax error near unexpected token `|'".into());
        }
        out.push(words);
    }
    Ok(out)
}

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A short option, with its argument if the spec gives it one.
    Short(char, Option<String>),
    /// A long option (`--name` or `--name=value`).
    Long(String, Option<String>),
}

/// POSIX getopt over `args` (without the program name). `spec` lists the
/// short options; a letter followed by `:` takes an argument. `long` lists
/// long options; a name ending in `=` takes an argument. Options and operands
/// may be mixed (GNU order); `--` ends the options.
pub fn getopt(
    args: &[String],
    spec: &str,
    long: &[&str],
) -> Result<(Vec<Opt>, Vec<String>), String> {
    let takes_arg = |c: char| -> Option<bool> {
        let i = spec.find(c)?;
        Some(spec[i + c.len_utf8()..].starts_with(':'))
    };
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let with_arg = long.iter().any(|l| l.strip_suffix('=') == Some(name));
            let without = long.contains(&name);
            if with_arg {
                let value = match value {
                    Some(v) => v,
                    None => {
                        let v = args
                            .get(i)
                            .ok_or_else(|| format!("option '--{name}' requires an argument"))?;
                        i += 1;
                        v.clone()
                    }
                };
                opts.push(Opt::Long(name.to_string(), Some(value)));
            } else if without {
                if value.is_some() {
                    return Err(format!("option '--{name}' doesn't allow an argument"));
                }
                opts.push(Opt::Long(name.to_string(), None));
            } else {
                return Err(format!("unrecognized option '--{name}'"));
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let body: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < body.len() {
                let c = body[k];
                k += 1;
                match takes_arg(c) {
                    None => return Err(format!("invalid option -- '{c}'")),
                    Some(false) => opts.push(Opt::Short(c, None)),
                    Some(true) => {
                        let value = if k < body.len() {
                            let v: String = body[k..].iter().collect();
                            k = body.len();
                            v
                        } else {
                            let v = args
                                .get(i)
                                .ok_or_else(|| format!("option requires an argument -- '{c}'"))?;
                            i += 1;
                            v.clone()
                        };
                        opts.push(Opt::Short(c, Some(value)));
                    }
                }
            }
            continue;
        }
        operands.push(a.clone());
    }
    Ok((opts, operands))
}

/// getopt's complaint about a short option, said honestly when the real
/// tool has that option and tcplab's does not: `option -f is not supported
/// in tcplab` rather than `invalid option -- 'f'`, which would teach that
/// ping has no -f. `real` holds the real tool's option letters.
pub fn unsupported(message: String, real: &str) -> String {
    let letter = message
        .strip_prefix("invalid option -- '")
        .and_then(|r| r.strip_suffix('\''))
        .filter(|c| c.chars().count() == 1)
        .and_then(|c| c.chars().next());
    match letter {
        Some(c) if c != ':' && real.contains(c) => {
            format!("option -{c} is not supported in tcplab")
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    #[test]
    fn options_of_the_real_tool_are_said_unsupported() {
        let e = getopt(&words("-f"), "c:", &[]).unwrap_err();
        assert_eq!(unsupported(e, "cf"), "option -f is not supported in tcplab");
        let e = getopt(&words("-z"), "c:", &[]).unwrap_err();
        assert_eq!(unsupported(e, "cf"), "invalid option -- 'z'");
        let e = getopt(&words("-c"), "c:", &[]).unwrap_err();
        assert_eq!(unsupported(e, "cf"), "option requires an argument -- 'c'");
    }

    #[test]
    fn splitting() {
        assert_eq!(words("ping -c 3  server"), ["ping", "-c", "3", "server"]);
        assert_eq!(
            words("curl -H 'X-A: b c' \"d\\\"e\""),
            ["curl", "-H", "X-A: b c", "d\"e"]
        );
        assert_eq!(words("a\\ b ''"), ["a b", ""]);
        assert!(split("echo 'oops").is_err());
    }

    #[test]
    fn pipelines() {
        let p = split_pipeline("echo 'a|b' | nc host 7").unwrap();
        assert_eq!(
            p,
            vec![
                vec!["echo".to_string(), "a|b".into()],
                vec!["nc".into(), "host".into(), "7".into()]
            ]
        );
        assert!(split_pipeline("echo hi |").is_err());
    }

    /// A shell's other operators are refused where a shell would act on
    /// them, and are ordinary characters in quotes or escaped.
    #[test]
    fn shell_operators_outside_quotes_are_refused() {
        for (line, op) in [
            ("curl http://b/ > page.html", ">"),
            ("nc -l 9 < in", "<"),
            ("ping -c 1 b; ping -c 1 c", ";"),
            ("ping -c 1 b && echo x", "&"),
            ("curl http://b/?a=1&b=2", "&"),
        ] {
            let e = split_pipeline(line).unwrap_err();
            assert!(
                e.contains(&format!("`{op}` is not supported")),
                "{line}: {e}"
            );
        }
        let ok = split_pipeline("curl -d 'a=1&b=2' \"x>y\" a\\;b").unwrap();
        assert_eq!(ok, vec![vec!["curl", "-d", "a=1&b=2", "x>y", "a;b"]]);
    }

    #[test]
    fn short_options() {
        let args = words("-qc3 -i 0.2 host -s 100");
        let (opts, rest) = getopt(&args, "qc:i:s:", &[]).unwrap();
        assert_eq!(
            opts,
            vec![
                Opt::Short('q', None),
                Opt::Short('c', Some("3".into())),
                Opt::Short('i', Some("0.2".into())),
                Opt::Short('s', Some("100".into())),
            ]
        );
        assert_eq!(rest, ["host"]);
    }

    #[test]
    fn errors_in_getopt_words() {
        assert_eq!(
            getopt(&words("-z"), "c:", &[]).unwrap_err(),
            "invalid option -- 'z'"
        );
        assert_eq!(
            getopt(&words("-c"), "c:", &[]).unwrap_err(),
            "option requires an argument -- 'c'"
        );
        assert_eq!(
            getopt(&words("--nope"), "c:", &["help"]).unwrap_err(),
            "unrecognized option '--nope'"
        );
    }

    #[test]
    fn long_options_and_double_dash() {
        let (opts, rest) = getopt(
            &words("--port 80 --root=/srv -- -x"),
            "",
            &["port=", "root="],
        )
        .unwrap();
        assert_eq!(
            opts,
            vec![
                Opt::Long("port".into(), Some("80".into())),
                Opt::Long("root".into(), Some("/srv".into()))
            ]
        );
        assert_eq!(rest, ["-x"]);
    }
}
