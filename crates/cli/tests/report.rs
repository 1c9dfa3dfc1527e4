//! `tcplab lab --report` for every scenario, opened in a real browser:
//! headless Chromium loads each report from disk, runs its script (a
//! console message of any kind fails the test — the page writes none),
//! and takes a screenshot that must not be blank. Without `chromium` the
//! test says why it skipped — unless TCPLAB_REQUIRE_ROOT=1 or
//! TCPLAB_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn tcplab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcplab"))
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn required() -> bool {
    ["TCPLAB_REQUIRE_ROOT", "TCPLAB_REQUIRE_BROWSER"]
        .iter()
        .any(|v| std::env::var(v).as_deref() == Ok("1"))
}

fn browser(bin: &str, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Share of pixels that are not (nearly) white, and how many colours.
fn ink(png_file: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png_file).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let data = &buf[..info.buffer_size()];
    let mut colours = std::collections::BTreeSet::new();
    let mut inked = 0usize;
    let pixels = data.len() / px;
    for p in data.chunks_exact(px) {
        if p[..3].iter().any(|&c| c < 240) {
            inked += 1;
        }
        if colours.len() < 1000 {
            colours.insert((p[0], p[1], p[2]));
        }
    }
    (inked as f64 / pixels.max(1) as f64, colours.len())
}

#[test]
fn every_scenario_report_opens_cleanly_in_a_browser() {
    let Some(bin) = chromium() else {
        assert!(
            !required(),
            "chromium is not installed, and CI requires the browser test"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("tcplab-report-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let html = dir.join(format!("{name}.html"));
        let out = tcplab()
            .args(["lab", "--quiet", "--report"])
            .arg(&html)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = format!("file://{}", html.display());
        // The DOM after the script ran, and every console message.
        let dom = browser(bin, &dir.join("profile"))
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&dom.stderr);
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
        assert!(
            console.is_empty(),
            "{name}: the page logged:\n{}",
            console.join("\n")
        );
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(dom.contains("<svg"), "{name}: no drawing in the page");
        assert!(
            !dom.contains("data-report-errors=\""),
            "{name}: the page's script failed"
        );
        let shot = dir.join(format!("{name}.png"));
        let status = browser(bin, &dir.join("profile"))
            .arg("--window-size=1100,1600")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url)
            .output()
            .unwrap();
        assert!(status.status.success(), "{name}: screenshot failed");
        let (share, colours) = ink(&shot);
        assert!(
            share > 0.02 && colours > 8,
            "{name}: the screenshot looks blank ({:.1} % inked, {colours} colours)",
            share * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The report's count of datagrams on links is the closing table's: a
/// datagram refused before the wire (no neighbour answered, the queue
/// was full) is drawn as dropped, not counted as sent.
#[test]
fn the_reports_datagram_count_is_the_closing_tables() {
    let dir = std::env::temp_dir().join(format!("tcplab-report-count-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("tour.html");
    let out = tcplab()
        .args(["lab", "--report"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The closing table: `link sender packets bytes ...` rows.
    let table: u64 = text
        .lines()
        .skip_while(|l| !l.starts_with("link "))
        .skip(1)
        .take_while(|l| l.split_whitespace().count() >= 4)
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .sum();
    let html = std::fs::read_to_string(&page).unwrap();
    let shown: u64 = html
        .split(" datagrams on links")
        .next()
        .and_then(|h| h.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(table > 1000, "{text}");
    assert_eq!(shown, table);
}
