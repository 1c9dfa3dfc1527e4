//! The parser reads every script of FreeBSD's packetdrill suite, staged
//! beside the repository in ../shared/conformance/freebsd (BSD-2-Clause,
//! kept there with its licence). `TCPLAB_FREEBSD_SUITE` points elsewhere.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

fn suite() -> Option<PathBuf> {
    let dir = std::env::var_os("TCPLAB_FREEBSD_SUITE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/freebsd"),
        PathBuf::from,
    );
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scripts(&p, out);
        } else if p.extension().is_some_and(|e| e == "pkt") {
            out.push(p);
        }
    }
}

#[test]
fn every_script_of_the_suite_parses() {
    let Some(dir) = suite() else {
        eprintln!("skipped: the FreeBSD suite is not at ../shared/conformance/freebsd (set TCPLAB_FREEBSD_SUITE)");
        return;
    };
    let mut all = Vec::new();
    scripts(&dir, &mut all);
    assert!(
        all.len() >= 800,
        "only {} scripts under {}",
        all.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    let mut events = 0;
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        match tcplab_drill::parse(&text, &["STANDARD"]) {
            Ok(s) => {
                assert!(!s.events.is_empty(), "{}: no events", path.display());
                events += s.events.len();
            }
            Err(e) => failures.push(format!("{}:{}", path.display(), e)),
        }
    }
    eprintln!("{} scripts, {events} events parsed", all.len());
    assert!(
        failures.is_empty(),
        "{} of {} do not parse:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
