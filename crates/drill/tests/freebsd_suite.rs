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

/// The FreeBSD-only socket options `tcplab drill` takes (MANIFEST.tsv's
/// `fbsd-sockopt:` needs).
const BSD_OPTIONS: [&str; 2] = ["TCP_KEEPINIT", "TCP_NOOPT"];

/// The conformance run CI keeps: every applicable IPv4 script of the
/// suite (MANIFEST.tsv) under `--profile freebsd -D STANDARD`. The scripts
/// that fail are listed with a reason in `freebsd-known-failures.tsv`; a
/// script failing that is not listed (a regression) or listed and passing
/// (an improvement to record) fails the test. docs/conformance.md's table
/// is generated from the run (`UPDATE_SNAPSHOTS=1` rewrites it and the
/// list, keeping the reasons).
#[test]
fn the_freebsd_suite_passes_at_its_recorded_baseline() {
    let Some(dir) = suite() else {
        assert!(
            std::env::var_os("TCPLAB_REQUIRE_SUITE").is_none(),
            "TCPLAB_REQUIRE_SUITE is set but the FreeBSD suite is not at ../shared/conformance/freebsd (set TCPLAB_FREEBSD_SUITE)"
        );
        eprintln!("skipped: the FreeBSD suite is not at ../shared/conformance/freebsd (set TCPLAB_FREEBSD_SUITE)");
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let known_path = here.join("tests/freebsd-known-failures.tsv");
    let known: Vec<(String, String)> = std::fs::read_to_string(&known_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, r)| (p.to_string(), r.to_string()))
        .collect();
    let options = tcplab_drill::run::RunOptions {
        profile: tcplab_drill::run::Profile::FreeBsd,
        defines: vec!["STANDARD".into()],
        ..Default::default()
    };
    // Per directory: scripts, passed, failed, not applicable.
    let mut table: Vec<(String, [usize; 4])> = Vec::new();
    let mut failing: Vec<(String, String)> = Vec::new();
    let mut excluded: Vec<(String, String)> = Vec::new();
    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 5 || cols[1] != "ipv4" {
            continue;
        }
        let path = cols[0];
        let group = path.split('/').next().unwrap_or(path).to_string();
        let idx = match table.iter().position(|(g, _)| *g == group) {
            Some(i) => i,
            None => {
                table.push((group, [0; 4]));
                table.len() - 1
            }
        };
        table[idx].1[0] += 1;
        // Scripts that need a FreeBSD-only socket option run when tcplab
        // has it too (the runner takes TCP_KEEPINIT and TCP_NOOPT).
        let missing = cols[4]
            .split(',')
            .filter_map(|n| n.strip_prefix("fbsd-sockopt:"))
            .find(|o| !BSD_OPTIONS.contains(o));
        let applicable = match cols[2] {
            "yes" => true,
            "yes-if-fbsd-sockopt" => missing.is_none(),
            _ => false,
        };
        if !applicable {
            table[idx].1[3] += 1;
            excluded.push((
                path.to_string(),
                missing.map_or_else(
                    || format!("not applicable: {}", cols[2]),
                    |o| format!("needs the FreeBSD-only socket option {o}"),
                ),
            ));
            continue;
        }
        let text = std::fs::read_to_string(dir.join(path)).unwrap();
        let script =
            tcplab_drill::parse(&text, &["STANDARD"]).unwrap_or_else(|e| panic!("{path}: {e}"));
        match tcplab_drill::run::run(&script, &options).result {
            Ok(()) => table[idx].1[1] += 1,
            Err(f) => {
                table[idx].1[2] += 1;
                failing.push((path.to_string(), format!("line {}: {}", f.line, f.message)));
            }
        }
    }
    let reason_of = |p: &str| known.iter().find(|(k, _)| k == p).map(|(_, r)| r.clone());
    let regressions: Vec<String> = failing
        .iter()
        .filter(|(p, _)| reason_of(p).is_none())
        .map(|(p, e)| format!("  {p}: {e}"))
        .collect();
    let fixed: Vec<&str> = known
        .iter()
        .filter(|(k, _)| !failing.iter().any(|(p, _)| p == k))
        .map(|(k, _)| k.as_str())
        .collect();
    let doc = render(&table, &failing, &excluded, &reason_of);
    let doc_path = here.join("../../docs/conformance.md");
    let current = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let marker = "<!-- generated: cargo test -p tcplab-drill --test freebsd_suite (UPDATE_SNAPSHOTS=1 rewrites) -->";
    let head = current.split(marker).next().unwrap_or("").to_string();
    let wanted = format!("{head}{marker}\n{doc}");
    for (g, [n, p, f, na]) in &table {
        eprintln!("{g}: {n} scripts, {p} passed, {f} failed, {na} not applicable");
    }
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let mut list = String::from("# path\treason (one line; docs/conformance.md shows it)\n");
        for (p, e) in &failing {
            let r = reason_of(p).unwrap_or_else(|| format!("TODO explain: {e}"));
            list.push_str(&format!("{p}\t{r}\n"));
        }
        std::fs::write(&known_path, list).unwrap();
        std::fs::write(&doc_path, &wanted).unwrap();
        return;
    }
    assert!(
        regressions.is_empty(),
        "{} scripts fail that passed at the baseline:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these scripts now pass: take them off tests/freebsd-known-failures.tsv (UPDATE_SNAPSHOTS=1):\n  {}",
        fixed.join("\n  ")
    );
    assert!(
        !known.iter().any(|(_, r)| r.starts_with("TODO")),
        "every failing script needs its reason in tests/freebsd-known-failures.tsv"
    );
    assert!(
        current == wanted,
        "docs/conformance.md is out of date: run UPDATE_SNAPSHOTS=1 cargo test -p tcplab-drill --test freebsd_suite"
    );
}

fn render(
    table: &[(String, [usize; 4])],
    failing: &[(String, String)],
    excluded: &[(String, String)],
    reason_of: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut s = String::from(
        "\n| directory | IPv4 scripts | passed | failed | not applicable | pass rate |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let mut total = [0usize; 4];
    for (g, c) in table {
        for i in 0..4 {
            total[i] += c[i];
        }
        let rate = 100.0 * c[1] as f64 / (c[0] - c[3]).max(1) as f64;
        s.push_str(&format!(
            "| {g}/ | {} | {} | {} | {} | {rate:.1} % |\n",
            c[0], c[1], c[2], c[3]
        ));
    }
    let rate = 100.0 * total[1] as f64 / (total[0] - total[3]).max(1) as f64;
    s.push_str(&format!(
        "| **all** | {} | {} | {} | {} | {rate:.1} % |\n",
        total[0], total[1], total[2], total[3]
    ));
    s.push_str("\n### Failing scripts\n\n");
    if failing.is_empty() {
        s.push_str("None.\n");
    }
    for (p, _) in failing {
        let r = reason_of(p).unwrap_or_else(|| "(no reason recorded)".into());
        s.push_str(&format!("- `{p}`: {r}\n"));
    }
    if !excluded.is_empty() {
        s.push_str("\n### Not applicable\n\n");
    }
    for (p, r) in excluded {
        s.push_str(&format!("- `{p}`: {r}\n"));
    }
    s
}

/// The other side of the scripts that differ by `#ifdef`: with
/// `-D FreeBSD` the IPv4 scripts that have a FreeBSD branch expect
/// FreeBSD's own TIME-WAIT (`tcp_twcheck`: a SYN above RCV.NXT reopens, a
/// segment without ACK is dropped, a SYN with ACK is acknowledged, and
/// drop_synfin keeps a SYN+FIN from reopening), which the runner selects
/// with that name; every one of them passes.
#[test]
fn the_freebsd_branches_pass_with_define_freebsd() {
    let Some(dir) = suite() else {
        eprintln!("skipped: the FreeBSD suite is not at ../shared/conformance/freebsd (set TCPLAB_FREEBSD_SUITE)");
        return;
    };
    let options = tcplab_drill::run::RunOptions {
        profile: tcplab_drill::run::Profile::FreeBsd,
        defines: vec!["FreeBSD".into()],
        ..Default::default()
    };
    let mut all = Vec::new();
    scripts(&dir, &mut all);
    let (mut ran, mut failures) = (0, Vec::new());
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        let ipv4 = path.to_string_lossy().ends_with("-ipv4.pkt");
        if !ipv4 || !text.contains("#ifdef FreeBSD") {
            continue;
        }
        ran += 1;
        let outcome = tcplab_drill::run::run_text(&text, &options).unwrap();
        if let Err(f) = outcome.result {
            failures.push(format!("{}:{}: {}", path.display(), f.line, f.message));
        }
    }
    assert!(ran >= 30, "only {ran} scripts with a FreeBSD branch");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
