//! `cat`, `sha256sum` (GNU coreutils 9.1) and `cmp` (GNU diffutils 3.8)
//! over the host's file system, so that a lesson can show what a tool
//! saved and that what arrived is what was sent.
//!
//! ```text
//! cat [FILE]...                 each file in turn; - or none: standard input
//! sha256sum [-c] [FILE]...      HASH  FILE per file; - or none: standard input
//! cmp [-s | -l | -b] FILE1 [FILE2]
//! ```
//!
//! `sha256sum -c` checks `HASH  FILE` lines (`FILE: OK`, `FILE: FAILED`
//! and the warnings coreutils prints). `cmp` says where two files first
//! differ (`F1 F2 differ: byte N, line M`, status 1), nothing when they
//! are equal (status 0), `EOF on F after byte N, in line M` when one is a
//! prefix of the other; `-s` prints nothing, `-l` lists every differing
//! byte in octal, `-b` shows the differing bytes. Trouble is status 2
//! (cmp) or 1 (sha256sum). Left out: the binary and tag output forms of
//! sha256sum, cmp's skips and limits (`-i`, `-n`): they are refused.

use std::io;

use sha2::{Digest, Sha256};
use tcplab_host::{Host, Output, Stdin};

use crate::args::{getopt, Opt};
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256sumArgs {
    pub check: bool,
    pub files: Vec<String>,
}

const SHA_HELP: &str = "Usage: sha256sum [OPTION]... [FILE]...
Print or check SHA256 (256-bit) checksums.

With no FILE, or when FILE is -, read standard input.
  -c, --check          read checksums from the FILEs and check them
      --help           display this help and exit

The sums are computed as described in FIPS-180-2.  When checking, the input
should be a former output of this program.  The default mode is to print a
line with: checksum, a space, a character indicating input mode ('*' for binary,
' ' for text or where binary is insignificant), and name for each FILE.";

fn sha_usage(message: String) -> Usage {
    Usage {
        status: 1,
        ..Usage::with_usage(
            "sha256sum",
            message,
            "Try 'sha256sum --help' for more information.",
        )
    }
}

impl Sha256sumArgs {
    pub fn parse(args: &[String]) -> Result<Sha256sumArgs, Usage> {
        let (opts, files) = getopt(args, "c", &["check", "help"]).map_err(sha_usage)?;
        let mut a = Sha256sumArgs {
            check: false,
            files,
        };
        for o in opts {
            match o {
                Opt::Long(l, _) if l == "help" => {
                    return Err(Usage::help("sha256sum", SHA_HELP.into(), true, 0))
                }
                _ => a.check = true,
            }
        }
        Ok(a)
    }

    /// Whether it reads standard input (no file, or `-`).
    pub fn reads_stdin(&self) -> bool {
        self.files.is_empty() || self.files.iter().any(|f| f == "-")
    }
}

/// A file's bytes as the file system holds them (shared, not copied), or
/// standard input's for `-`; else the reason in the words of `strerror`.
async fn read(host: &Host, stdin: &Stdin, path: &str) -> Result<std::rc::Rc<[u8]>, String> {
    if path == "-" {
        return Ok(stdin.read_to_end().await.into());
    }
    let fs = host.fs();
    if fs.is_dir(path) {
        return Err("Is a directory".into());
    }
    fs.read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
        _ => e.to_string(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data` in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The files a command reads: standard input (`-`) when none is named.
fn or_stdin(files: Vec<String>) -> Vec<String> {
    if files.is_empty() {
        vec!["-".to_string()]
    } else {
        files
    }
}

/// Run sha256sum; returns the exit status.
pub async fn run_sha256sum(
    host: Host,
    a: Sha256sumArgs,
    stdin: Stdin,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let files = or_stdin(a.files.clone());
    let mut status = 0;
    for f in &files {
        let data = match read(&host, &stdin, f).await {
            Ok(d) => d,
            Err(why) => {
                err.line(format!("sha256sum: {f}: {why}"));
                status = 1;
                continue;
            }
        };
        if a.check {
            if check_list(&host, &stdin, f, &data, &mut out, &mut err).await != 0 {
                status = 1;
            }
        } else {
            out.line(format!("{}  {f}", sha256_hex(&data)));
        }
    }
    status
}

/// `cat [FILE]...`: GNU cat without options (they are refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatArgs {
    pub files: Vec<String>,
}

const CAT_HELP: &str = "Usage: cat [OPTION]... [FILE]...
Concatenate FILE(s) to standard output.

With no FILE, or when FILE is -, read standard input.

      --help        display this help and exit";

impl CatArgs {
    pub fn parse(args: &[String]) -> Result<CatArgs, Usage> {
        let (opts, files) = getopt(args, "", &["help"])
            .map_err(|m| Usage::with_usage("cat", m, "Try 'cat --help' for more information."))?;
        if !opts.is_empty() {
            return Err(Usage::help("cat", CAT_HELP.into(), true, 0));
        }
        Ok(CatArgs { files })
    }

    /// Whether it reads standard input (no file, or `-`).
    pub fn reads_stdin(&self) -> bool {
        self.files.is_empty() || self.files.iter().any(|f| f == "-")
    }
}

/// Run cat; returns the exit status (1 if a file could not be read).
pub async fn run_cat(
    host: Host,
    a: CatArgs,
    stdin: Stdin,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let files = or_stdin(a.files);
    let mut status = 0;
    for f in &files {
        match read(&host, &stdin, f).await {
            // In pieces, as cat's read/write loop: what a piece makes of
            // the output is printed and let go before the next (a big
            // file is not copied whole into the output).
            Ok(d) => {
                for piece in d.chunks(128 << 10) {
                    out.write_bytes(piece);
                }
            }
            Err(why) => {
                err.line(format!("cat: {f}: {why}"));
                status = 1;
            }
        }
    }
    status
}

/// `sha256sum -c`: check each `HASH  FILE` line of `list`.
async fn check_list(
    host: &Host,
    stdin: &Stdin,
    name: &str,
    list: &[u8],
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let shown = if name == "-" { "standard input" } else { name };
    let (mut lines, mut failed, mut unreadable, mut bad) = (0, 0, 0, 0);
    for line in String::from_utf8_lossy(list).lines() {
        let parsed = line.split_once(' ').and_then(|(hash, rest)| {
            let file = rest.strip_prefix([' ', '*'])?;
            (hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) && !file.is_empty())
                .then(|| (hash.to_ascii_lowercase(), file.to_string()))
        });
        let Some((want, file)) = parsed else {
            bad += 1;
            continue;
        };
        lines += 1;
        match read(host, stdin, &file).await {
            Ok(d) if sha256_hex(&d) == want => out.line(format!("{file}: OK")),
            Ok(_) => {
                failed += 1;
                out.line(format!("{file}: FAILED"));
            }
            Err(why) => {
                unreadable += 1;
                err.line(format!("sha256sum: {file}: {why}"));
                out.line(format!("{file}: FAILED open or read"));
            }
        }
    }
    if lines == 0 {
        err.line(format!(
            "sha256sum: '{shown}': no properly formatted checksum lines found"
        ));
        return 1;
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    if bad > 0 {
        err.line(format!(
            "sha256sum: WARNING: {bad} {} improperly formatted",
            plural(bad, "line is", "lines are")
        ));
    }
    if unreadable > 0 {
        err.line(format!(
            "sha256sum: WARNING: {unreadable} listed {} could not be read",
            plural(unreadable, "file", "files")
        ));
    }
    if failed > 0 {
        err.line(format!(
            "sha256sum: WARNING: {failed} computed {} did NOT match",
            plural(failed, "checksum", "checksums")
        ));
    }
    i32::from(failed > 0 || unreadable > 0)
}

/// What `cmp` prints on a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CmpMode {
    /// The first difference (with `-b`, its bytes too).
    #[default]
    First,
    /// `-l`: every differing byte.
    List,
    /// `-s`: nothing.
    Silent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmpArgs {
    pub mode: CmpMode,
    pub print_bytes: bool,
    pub files: (String, String),
}

const CMP_HELP: &str = "Usage: cmp [OPTION]... FILE1 [FILE2]
Compare two files byte by byte.

The optional SKIP1 and SKIP2 are not supported here.

  -b, --print-bytes          print differing bytes
  -l, --verbose              output byte numbers and differing byte values
  -s, --quiet, --silent      suppress all normal output
      --help                 display this help and exit

If a FILE is '-' or missing, read standard input.
Exit status is 0 if inputs are the same, 1 if different, 2 if trouble.";

fn cmp_usage(message: String) -> Usage {
    Usage::with_usage(
        "cmp",
        message,
        "cmp: Try 'cmp --help' for more information.",
    )
}

impl CmpArgs {
    pub fn parse(args: &[String]) -> Result<CmpArgs, Usage> {
        let (opts, files) = getopt(
            args,
            "bls",
            &["print-bytes", "verbose", "quiet", "silent", "help"],
        )
        .map_err(cmp_usage)?;
        let mut a = CmpArgs {
            mode: CmpMode::First,
            print_bytes: false,
            files: (String::new(), String::new()),
        };
        for o in opts {
            let name = match o {
                Opt::Short(c, _) => c.to_string(),
                Opt::Long(l, _) => l,
            };
            match name.as_str() {
                "help" => return Err(Usage::help("cmp", CMP_HELP.into(), true, 0)),
                "b" | "print-bytes" => a.print_bytes = true,
                "l" | "verbose" => a.mode = CmpMode::List,
                _ => a.mode = CmpMode::Silent,
            }
        }
        a.files = match files.as_slice() {
            [] => return Err(cmp_usage("missing operand after 'cmp'".into())),
            [one] => (one.clone(), "-".into()),
            [one, two] => (one.clone(), two.clone()),
            [_, _, skip, ..] => {
                // diffutils reads a third operand as SKIP1, which is not
                // supported here.
                return Err(cmp_usage(format!(
                    "invalid --ignore-initial value '{skip}'"
                )));
            }
        };
        Ok(a)
    }

    pub fn reads_stdin(&self) -> bool {
        self.files.0 == "-" || self.files.1 == "-"
    }
}

/// A byte as `cmp -b` shows it: printable as is, others as `^X` or `M-x`.
fn shown_byte(b: u8) -> String {
    let (meta, c) = if b >= 0x80 { ("M-", b - 0x80) } else { ("", b) };
    match c {
        0x7f => format!("{meta}^?"),
        c if c < 0x20 => format!("{meta}^{}", (c + 0x40) as char),
        c => format!("{meta}{}", c as char),
    }
}

/// Run cmp; returns the exit status.
pub async fn run_cmp(
    host: Host,
    a: CmpArgs,
    stdin: Stdin,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let (n1, n2) = (&a.files.0, &a.files.1);
    let mut data = Vec::new();
    for f in [n1, n2] {
        match read(&host, &stdin, f).await {
            Ok(d) => data.push(d),
            Err(why) => {
                if a.mode != CmpMode::Silent {
                    err.line(format!("cmp: {f}: {why}"));
                }
                return 2;
            }
        }
    }
    let (d1, d2) = (&data[0], &data[1]);
    let common = d1.len().min(d2.len());
    // `-l` pads byte numbers to the width of the larger file's size.
    let width = d1.len().max(d2.len()).to_string().len();
    let mut differ = false;
    for i in 0..common {
        if d1[i] == d2[i] {
            continue;
        }
        differ = true;
        match a.mode {
            CmpMode::Silent => return 1,
            CmpMode::First => {
                let line = 1 + d1[..i].iter().filter(|b| **b == b'\n').count();
                let mut s = format!("{n1} {n2} differ: byte {}, line {line}", i + 1);
                if a.print_bytes {
                    s.push_str(&format!(
                        " is {:3o} {} {:3o} {}",
                        d1[i],
                        shown_byte(d1[i]),
                        d2[i],
                        shown_byte(d2[i])
                    ));
                }
                out.line(s);
                return 1;
            }
            CmpMode::List => {
                if a.print_bytes {
                    out.line(format!(
                        "{:width$} {:3o} {:<4} {:3o} {}",
                        i + 1,
                        d1[i],
                        shown_byte(d1[i]),
                        d2[i],
                        shown_byte(d2[i])
                    ));
                } else {
                    out.line(format!("{:width$} {:3o} {:3o}", i + 1, d1[i], d2[i]));
                }
            }
        }
    }
    if d1.len() != d2.len() {
        if a.mode != CmpMode::Silent {
            let short = if d1.len() < d2.len() { n1 } else { n2 };
            let shown = if short == "-" { "-" } else { short.as_str() };
            if common == 0 {
                err.line(format!("cmp: EOF on {shown} which is empty"));
            } else if a.mode == CmpMode::List {
                err.line(format!("cmp: EOF on {shown} after byte {common}"));
            } else {
                let lines = d1[..common].iter().filter(|b| **b == b'\n').count();
                // diffutils: "line N" after a complete line, "in line N"
                // inside one.
                if d1[common - 1] == b'\n' {
                    err.line(format!(
                        "cmp: EOF on {shown} after byte {common}, line {lines}"
                    ));
                } else {
                    err.line(format!(
                        "cmp: EOF on {shown} after byte {common}, in line {}",
                        lines + 1
                    ));
                }
            }
        }
        return 1;
    }
    i32::from(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_nothing_and_of_abc() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc\n"),
            "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb"
        );
    }

    #[test]
    fn bytes_as_cmp_b_shows_them() {
        assert_eq!(shown_byte(b'c'), "c");
        assert_eq!(shown_byte(b'\n'), "^J");
        assert_eq!(shown_byte(0x7f), "^?");
        assert_eq!(shown_byte(0xe9), "M-i");
    }
}
