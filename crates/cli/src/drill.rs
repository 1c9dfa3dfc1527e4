//! `tcplab drill`: packetdrill scripts against tcplab's stack on virtual
//! time.

use crate::console;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use tcplab_drill::run::{run, Profile, RunOptions};

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Scripts (`.pkt`), or directories searched for them.
    #[arg(required = true, value_name = "FILE.pkt|DIR")]
    paths: Vec<PathBuf>,
    /// Timing tolerance in microseconds (overrides each script's
    /// `--tolerance_usecs`).
    #[arg(long, value_name = "USECS")]
    tolerance_usecs: Option<i64>,
    /// The share of the time since the previous event an event may also
    /// be off by, the larger of the two applying (overrides each script's
    /// `--tolerance_percent`; 5 by default, as packetdrill on FreeBSD).
    #[arg(long, value_name = "PERCENT")]
    tolerance_percent: Option<f64>,
    /// Define NAME for `#ifdef NAME` (repeatable); with `-D NAME=VALUE`
    /// the word NAME in a script stands for VALUE (a number, a word or a
    /// `command`), as in packetdrill.
    #[arg(short = 'D', long = "define", value_name = "NAME[=VALUE]")]
    defines: Vec<String>,
    /// What the scripts assume of the stack: `tcplab` (its own defaults)
    /// or `freebsd` (the FreeBSD suite's buffers, timers and option layout).
    #[arg(long, default_value = "tcplab")]
    profile: String,
    /// Print every event as it runs, and each script's verdict.
    #[arg(long, short)]
    verbose: bool,
    /// Seed of the stack's random choices (ISNs, ports).
    #[arg(long, default_value_t = 1, value_parser = crate::seed_parser())]
    seed: u64,
}

/// The scripts at `path`: the file, or the `.pkt` files below the
/// directory in name order. A directory reached twice (a symbolic link
/// back up the tree) is read once.
fn collect(
    path: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::BTreeSet<PathBuf>,
) -> Result<(), String> {
    if path.is_dir() {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !seen.insert(real) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|e| e == "pkt") {
                if p.exists() {
                    collect(&p, out, seen)?;
                } else {
                    // A link to nothing, found in a directory: one script
                    // that cannot be read (counted, said), not the end of
                    // the run.
                    out.push(p);
                }
            }
        }
        Ok(())
    } else if path.exists() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(format!("{}: no such file or directory", path.display()))
    }
}

pub fn drill(args: DrillArgs) -> Result<ExitCode, String> {
    let profile = Profile::from_name(&args.profile)
        .ok_or_else(|| format!("--profile {}: expected `tcplab` or `freebsd`", args.profile))?;
    tcplab_drill::run::check_tolerance(args.tolerance_usecs, args.tolerance_percent)?;
    let mut files = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in &args.paths {
        collect(p, &mut files, &mut seen)?;
    }
    if files.is_empty() {
        let named: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("no .pkt scripts found in {}", named.join(", ")));
    }
    if let Some(bad) = args.defines.iter().find(|d| {
        let name = tcplab_drill::define_name(d);
        name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    }) {
        return Err(format!(
            "-D {bad}: expected NAME or NAME=VALUE, NAME of letters, digits and _"
        ));
    }
    let names: Vec<&str> = args.defines.iter().map(String::as_str).collect();
    let options = RunOptions {
        tolerance_usecs: args.tolerance_usecs,
        tolerance_percent: args.tolerance_percent,
        profile,
        verbose: args.verbose,
        seed: args.seed,
        defines: args.defines.clone(),
    };
    let (mut passed, mut failed, mut malformed, mut skipped) = (0, 0, 0, 0);
    for file in &files {
        let shown = file.display();
        // Bytes, as packetdrill's lexer reads them: a byte that is not
        // UTF-8 in a comment is no error; outside one, the lexer names its
        // line.
        let text = match crate::files::read_bytes(file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                console::err_line(&format!("tcplab: {e}"));
                malformed += 1;
                continue;
            }
        };
        let script = match tcplab_drill::parse(&text, &names) {
            Ok(s) => s,
            Err(e) => {
                console::err_line(&format!("{shown}:{}: parse error: {}", e.line, e.message));
                malformed += 1;
                continue;
            }
        };
        if let Some(why) = tcplab_drill::run::not_applicable(&script) {
            skipped += 1;
            if args.verbose || files.len() == 1 {
                console::out_line(&format!("{shown}: not applicable: {why}"));
            }
            continue;
        }
        let outcome = run(&script, &options);
        for line in &outcome.log {
            console::out_line(&format!("{shown}:{line}"));
        }
        // What the script printed, as packetdrill passes Python's output on.
        for line in &outcome.printed {
            console::out_line(line);
        }
        match outcome.result {
            Ok(()) => {
                passed += 1;
                if args.verbose {
                    console::out_line(&format!("{shown}: ok"));
                }
            }
            Err(f) => {
                failed += 1;
                console::err_line(&format!("{shown}:{}: {}", f.line, f.message));
                for d in &f.detail {
                    console::err_line(d);
                }
            }
        }
    }
    if files.len() > 1 || args.verbose {
        let bad = if malformed > 0 {
            format!(", {malformed} malformed")
        } else {
            String::new()
        };
        let na = if skipped > 0 {
            format!(", {skipped} not applicable (IPv6)")
        } else {
            String::new()
        };
        console::out_line(&format!("{passed} passed, {failed} failed{bad}{na}"));
    }
    Ok(if malformed > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
