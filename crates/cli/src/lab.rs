//! `tcplab lab`: run a scenario and print what happened.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Args;
use tcplab_host::Stream;
use tcplab_sim::{Outcome, Sim, SimOptions, TranscriptEvent};
use tcplab_stack::Instant;

use crate::commands::{check, Tools};
use crate::files::io_reason;

/// The embedded default scenario: the guided tour.
pub const TOUR: &str = include_str!("../../../scenarios/tour.toml");

/// How to read what `tcplab lab` prints (shown by `tcplab lab --help`).
pub const READING: &str = "\
Reading the transcript: each line starts with the virtual time in seconds
(all hosts share one clock, which jumps from event to event, so a 10-second
ping takes milliseconds of real time), then the host, then a mark:
  $ COMMAND      a command starts on that host (as typed in the scenario)
    text         what the command wrote to its standard output
  ! text         what it wrote to standard error (ping's errors, curl's meter)
  (exit status N)  the command ended with a status other than 0
  (nc: exit status N)  the same, named when another process on that host
                 printed after this one's last line
  # text         narration from the scenario file
  ~ text         the network changed: a link down or up, new impairments,
                 a route added or removed
A command still running when the scenario ends is interrupted as Ctrl-C
would (ping prints its statistics) and shows exit status 130 if it stops.
Servers, tunnels and captures without -c are stopped the same way (a
capture prints its counts), without an exit status; one that cannot start
(a port in use, a missing file) shows its error's status.

The closing table has one row per link and sending side that carried
anything: packets and bytes put on the wire, then what went wrong there —
queue (dropped: the sender's queue was full), lost (random or bursty loss),
dup (duplicated), corr (a bit flipped), reord (netem's reorder: sent at
once, skipping the delay; jitter's reordering is not counted),
and down (refused while the link was down, if one was).";

#[derive(Debug, Args)]
#[command(after_long_help = READING)]
pub struct LabArgs {
    /// Scenario file (TOML); the guided tour when omitted.
    file: Option<PathBuf>,
    /// Seed for every random choice (overrides the file's `seed`).
    #[arg(long, allow_hyphen_values = true, value_parser = crate::seed_parser())]
    seed: Option<u64>,
    /// Write one pcap file per link into this directory.
    #[arg(long, value_name = "DIR")]
    pcap: Option<PathBuf>,
    /// Also write the transcript to this file.
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,
    /// Print only the commands' output, without narration and summary.
    #[arg(long, short)]
    quiet: bool,
    /// Write a report of the run: one self-contained HTML page with the
    /// topology, the transcript, and per TCP connection a ladder diagram,
    /// the state timeline, a time-sequence graph and cwnd/RTT graphs.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write every recorded event as JSON lines (see docs/report.md).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Write each graph of the report as a standalone SVG into this
    /// directory.
    #[arg(long, value_name = "DIR")]
    svg: Option<PathBuf>,
}

/// Which process last showed itself on each host (its command line or a
/// line of output), and the program each command ran: an exit status is
/// named by its program when another process spoke on that host since
/// (`(cmp: exit status 130)`), so it cannot be taken for the latest one's.
#[derive(Debug, Default)]
pub struct Speakers {
    last: std::collections::BTreeMap<String, tcplab_host::Pid>,
    /// By host and process id: each host numbers its own processes.
    programs: std::collections::BTreeMap<(String, tcplab_host::Pid), String>,
}

impl Speakers {
    /// Note `ev`; for an exit, the name to put before its status, if any.
    fn note(&mut self, ev: &TranscriptEvent) -> Option<String> {
        match ev {
            TranscriptEvent::Command {
                node,
                cmdline,
                pid: Some(pid),
                ..
            } => {
                // The program of a pipeline's last stage: its status is
                // the pipeline's.
                let last_stage = cmdline.rsplit('|').next().unwrap_or(cmdline);
                let program = last_stage
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                self.programs.insert((node.clone(), *pid), program);
                self.last.insert(node.clone(), *pid);
                None
            }
            TranscriptEvent::Output(line) => {
                self.last.insert(line.host.to_string(), line.pid);
                None
            }
            TranscriptEvent::Exit { node, pid, .. } => {
                let other_spoke = self.last.get(node).is_some_and(|p| p != pid);
                let name = self
                    .programs
                    .remove(&(node.clone(), *pid))
                    .filter(|_| other_spoke);
                self.last.insert(node.clone(), *pid);
                name
            }
            _ => None,
        }
    }
}

/// One transcript event as a line: `  1.021 client  64 bytes from ...`;
/// `program` names an exit status's process (see [`Speakers`]).
fn render(
    ev: &TranscriptEvent,
    (width, secs): (usize, usize),
    program: Option<&str>,
) -> Option<String> {
    let stamp = |t: Instant| {
        let us = t.total_micros();
        format!("{:>secs$}.{:03}", us / 1_000_000, (us % 1_000_000) / 1000)
    };
    Some(match ev {
        // The scenario's own text (narration, command lines) with control
        // characters escaped, as its title is: a file cannot drive the
        // terminal.
        TranscriptEvent::Say { time, text } => {
            format!(
                "{} {:width$}  # {}",
                stamp(*time),
                "",
                tcplab_sim::printable(text)
            )
        }
        TranscriptEvent::Command {
            time,
            node,
            cmdline,
            ..
        } => {
            // A newline inside a quoted argument (a TOML "\n") is shown
            // as `\n`, so each transcript line keeps its time and host.
            format!(
                "{} {node:width$} $ {}",
                stamp(*time),
                tcplab_sim::printable(cmdline).replace('\n', "\\n")
            )
        }
        TranscriptEvent::Output(line) => {
            let mark = match line.stream {
                Stream::Stdout => " ",
                Stream::Stderr => "!",
            };
            format!(
                "{} {:width$} {mark} {}",
                stamp(line.time),
                line.host,
                line.text
            )
        }
        TranscriptEvent::Exit {
            time, node, code, ..
        } if *code != 0 => match program {
            Some(p) => format!(
                "{} {node:width$}   ({}: exit status {code})",
                stamp(*time),
                tcplab_sim::printable(p)
            ),
            None => format!("{} {node:width$}   (exit status {code})", stamp(*time)),
        },
        TranscriptEvent::Exit { .. } => return None,
        TranscriptEvent::Error { time, node, text } => {
            format!("{} {node:width$} ! {text}", stamp(*time))
        }
        TranscriptEvent::Change { time, text } => {
            format!("{} {:width$}  ~ {text}", stamp(*time), "")
        }
    })
}

pub fn run(args: LabArgs) -> Result<ExitCode, String> {
    let (name, text) = match &args.file {
        Some(path) => {
            let text = crate::files::read_text(path)?;
            (path.display().to_string(), text)
        }
        None => ("tour.toml (built in)".to_string(), TOUR.to_string()),
    };
    let scenario = tcplab_sim::load_checked(&name, &text, &check).map_err(|e| e.to_string())?;
    // The output files too are checked before anything runs (and before
    // anything is made): none may be the scenario file or another output
    // (each would overwrite the other), and each can be created.
    check_outputs(&args)?;
    if let Some(dir) = &args.pcap {
        crate::files::make_dir(dir)?;
    }
    let mut transcript_file = None;
    for (path, keep) in [
        (&args.transcript, true),
        (&args.report, false),
        (&args.events, false),
    ] {
        let Some(path) = path else { continue };
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {}", path.display(), io_reason(&e)))?;
        if keep {
            // A terminal or a pipe (`--transcript /dev/stdout`) gets whole
            // lines as they come, not blocks cut mid-line.
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            transcript_file = Some(if regular {
                TranscriptOut::File(std::io::BufWriter::new(file))
            } else {
                TranscriptOut::Device(std::io::LineWriter::new(file))
            });
        }
    }
    if let Some(dir) = &args.svg {
        // Made, and written to once, before anything runs.
        let probe = dir.join(".tcplab-probe");
        crate::files::make_dir(dir)?;
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| format!("cannot write into {}: {}", dir.display(), io_reason(&e)))?;
    }
    let record = record_asked(&args) || (scenario.ladder && !args.quiet);
    let options = SimOptions {
        seed: args.seed,
        pcap_dir: args.pcap.clone(),
        record,
    };
    let mut sim = Sim::new(&scenario, &options).map_err(|e| e.to_string())?;
    let width = scenario
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4);
    // The seconds column: wide enough for the scenario's last time (its
    // end, or its last event), so the columns stay aligned.
    let last = scenario
        .timeline
        .iter()
        .map(|e| e.at)
        .chain(scenario.end)
        .max()
        .unwrap_or_default();
    let secs = last.as_secs().to_string().len().max(4);
    if !args.quiet {
        let title = scenario.title.as_deref().unwrap_or("scenario");
        let mut head = format!("== {title} — seed {} ==\n", sim.seed());
        if let Some(d) = &scenario.description {
            for line in d.trim().lines() {
                let _ = writeln!(head, "   {line}");
            }
        }
        head.push('\n');
        print(&head);
    }
    let quiet = args.quiet;
    // The transcript file is written as the run goes (a long run's lines
    // are not kept in memory); the first write error is reported at the
    // end.
    let transcript: Rc<RefCell<TranscriptFile>> = Rc::new(RefCell::new(TranscriptFile {
        out: transcript_file,
        error: None,
    }));
    let sink_file = transcript.clone();
    let speakers = RefCell::new(Speakers::default());
    let show = move |ev: &TranscriptEvent| {
        let program = speakers.borrow_mut().note(ev);
        if quiet && !matches!(ev, TranscriptEvent::Output(_)) {
            return;
        }
        if let Some(line) =
            render(ev, (width, secs), program.as_deref()).map(|l| l.trim_end().to_string())
        {
            print(&format!("{line}\n"));
            sink_file.borrow_mut().line(&line);
        }
    };
    sim.set_sink(Rc::new(show));
    let outcome = sim.run(&Tools);
    let stuck = (outcome == Outcome::NoProgress).then(|| {
        format!(
            "{name}: the run stopped at {} of virtual time: more than {} steps without time passing — traffic that never ends over links with neither rate nor delay, or a loop; give the links a rate or a delay",
            sim.now(),
            tcplab_sim::NO_PROGRESS_WORK
        )
    });
    sim.close_captures()
        .map_err(|e| format!("cannot write captures: {}", io_reason(&e)))?;
    let ran = if scenario
        .timeline
        .iter()
        .any(|e| matches!(e.action, tcplab_sim::Action::Run { .. }))
    {
        Ran::Commands
    } else if scenario
        .timeline
        .iter()
        .all(|e| matches!(e.action, tcplab_sim::Action::Say(_)))
    {
        // Narration alone changes nothing either.
        Ran::Nothing
    } else {
        Ran::ChangesOnly
    };
    if !args.quiet {
        print(&format!(
            "\n{}",
            summary(&sim, outcome, args.pcap.as_ref(), ran)
        ));
    }
    if record {
        write_report(&args, &scenario, &sim)?;
    }
    // (A scenario with no commands has nothing to draw.)
    if !args.quiet && !record_asked(&args) && stuck.is_none() && ran == Ran::Commands {
        // The same run again, drawn: the same file and seed, quoted for a
        // shell where need be.
        let file = match &args.file {
            Some(f) => format!(" {}", shell_word(&f.display().to_string())),
            None => String::new(),
        };
        let seed = match args.seed {
            Some(s) => format!(" --seed {s}"),
            None => String::new(),
        };
        print(&format!(
            "to see this run drawn (ladder diagrams, state timelines, time-sequence and cwnd graphs): tcplab lab{file}{seed} --report report.html\n"
        ));
    }
    if let Some(path) = &args.transcript {
        transcript
            .borrow_mut()
            .finish()
            .map_err(|e| format!("cannot write {}: {}", path.display(), io_reason(&e)))?;
    }
    if let Some(message) = stuck {
        return Err(message);
    }
    Ok(ExitCode::SUCCESS)
}

/// The transcript file, written line by line.
struct TranscriptFile {
    out: Option<TranscriptOut>,
    error: Option<std::io::Error>,
}

/// A regular file, written in blocks; anything else, line by line.
enum TranscriptOut {
    File(std::io::BufWriter<std::fs::File>),
    Device(std::io::LineWriter<std::fs::File>),
}

impl std::io::Write for TranscriptOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            TranscriptOut::File(w) => w.write(buf),
            TranscriptOut::Device(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            TranscriptOut::File(w) => w.flush(),
            TranscriptOut::Device(w) => w.flush(),
        }
    }
}

impl TranscriptFile {
    fn line(&mut self, line: &str) {
        if self.error.is_some() {
            return;
        }
        if let Some(out) = &mut self.out {
            if let Err(e) = out
                .write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
            {
                self.error = Some(e);
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// A word a POSIX shell reads back as `s`: as it is when it holds only
/// characters no shell treats specially, else in single quotes.
fn shell_word(s: &str) -> String {
    // A relative path that starts like an option reads as one.
    let s = if s.starts_with('-') {
        format!("./{s}")
    } else {
        s.to_string()
    };
    let plain = !s.is_empty()
        && !s.starts_with('=')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c));
    if plain {
        return s;
    }
    // Control characters are shown escaped (the terminal is not driven
    // by a file name), the rest quoted.
    let shown = crate::files::escape_controls(&s);
    format!("'{}'", shown.replace('\'', "'\\''"))
}

/// No output may be the scenario file or another output: `--transcript
/// run.toml` would overwrite the scenario before it runs, `--report x
/// --events x` would leave one of the two.
fn check_outputs(args: &LabArgs) -> Result<(), String> {
    let outputs: Vec<(&str, &PathBuf)> = [
        ("--transcript", &args.transcript),
        ("--report", &args.report),
        ("--events", &args.events),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    .collect();
    for (i, (flag, path)) in outputs.iter().enumerate() {
        if let Some(input) = &args.file {
            if same_file(input, path) {
                return Err(format!(
                    "{flag} {} is the scenario file itself (it would be overwritten)",
                    path.display()
                ));
            }
        }
        for (other, p) in &outputs[..i] {
            if same_file(p, path) {
                return Err(format!(
                    "{other} and {flag} name the same file ({}): give each its own",
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

/// Whether two paths name one regular file: an existing one by device and
/// inode (hard and symbolic links included), one not yet made by its
/// canonical directory and name. Devices (`/dev/null`, `/dev/stdout`) are
/// never the same file: writing both is what was asked.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    #[derive(PartialEq)]
    enum Key {
        Inode(u64, u64),
        Path(PathBuf),
        Device,
    }
    fn key(p: &std::path::Path) -> Option<Key> {
        if let Ok(m) = std::fs::metadata(p) {
            return Some(if m.is_file() {
                Key::Inode(m.dev(), m.ino())
            } else {
                Key::Device
            });
        }
        let name = p.file_name()?;
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        Some(Key::Path(std::fs::canonicalize(parent).ok()?.join(name)))
    }
    match (key(a), key(b)) {
        (Some(Key::Device), _) | (_, Some(Key::Device)) => false,
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether a report, the events or the graphs were asked for.
fn record_asked(args: &LabArgs) -> bool {
    args.report.is_some() || args.events.is_some() || args.svg.is_some()
}

/// The report, the JSON-lines export and the SVG files of a recorded run.
fn write_report(args: &LabArgs, scenario: &tcplab_sim::Scenario, sim: &Sim) -> Result<(), String> {
    let Some(recording) = sim.recording() else {
        return Ok(());
    };
    let transcript = sim.transcript();
    let analysis = tcplab_report::analyse(tcplab_report::Input {
        scenario,
        transcript: &transcript,
        recording,
        seed: sim.seed(),
        end: sim.now(),
        real_time: false,
    });
    let write = |path: &PathBuf, bytes: &[u8]| {
        std::fs::write(path, bytes)
            .map_err(|e| format!("cannot write {}: {}", path.display(), io_reason(&e)))
    };
    if let Some(path) = &args.report {
        write(path, tcplab_report::html(&analysis).as_bytes())?;
    }
    if let Some(path) = &args.events {
        let mut buf = Vec::new();
        tcplab_report::jsonl(&analysis, &mut buf)
            .map_err(|e| format!("cannot write {}: {}", path.display(), io_reason(&e)))?;
        write(path, &buf)?;
    }
    if let Some(dir) = &args.svg {
        for (name, svg) in tcplab_report::svgs(&analysis) {
            write(&dir.join(name), svg.as_bytes())?;
        }
    }
    if scenario.ladder && !args.quiet {
        print(&format!("\n{}", tcplab_report::text_ladders(&analysis, 1)));
    }
    if !args.quiet && record_asked(args) && sim.transcript_dropped() > 0 {
        // The report's transcript stops where the kept one did.
        print(&format!(
            "the report's transcript holds the first {} MiB of output; {} later lines are left out\n",
            tcplab_sim::TRANSCRIPT_KEEP_BYTES >> 20,
            sim.transcript_dropped()
        ));
    }
    if !args.quiet && record_asked(args) {
        let mut done = Vec::new();
        if let Some(p) = &args.report {
            done.push(format!("report in {}", p.display()));
        }
        if let Some(p) = &args.events {
            done.push(format!("events in {}", p.display()));
        }
        if let Some(d) = &args.svg {
            done.push(format!("graphs in {}", d.display()));
        }
        print(&format!("{}\n", done.join(", ")));
    }
    Ok(())
}

/// What a scenario's timeline held, for the summary's first words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ran {
    Commands,
    /// Route, link or impairment changes (and narration), no command.
    ChangesOnly,
    /// No command and no change (an empty timeline, or narration alone).
    Nothing,
}

fn summary(sim: &Sim, outcome: Outcome, pcap: Option<&PathBuf>, ran: Ran) -> String {
    let mut s = String::new();
    let end = match outcome {
        Outcome::Finished if ran == Ran::Nothing => "nothing ran (the scenario has no commands)",
        Outcome::Finished if ran == Ran::ChangesOnly => {
            "all changes made (the scenario has no commands)"
        }
        Outcome::Finished => "all commands finished",
        Outcome::TimeLimit => "time limit reached",
        Outcome::Stalled => "nothing left to happen (a command is still waiting)",
        Outcome::NoProgress => "stopped: virtual time no longer passed",
    };
    let _ = writeln!(
        s,
        "-- {end} at {} of virtual time, {} events --",
        sim.now(),
        sim.events()
    );
    let rows: Vec<_> = sim
        .link_reports()
        .into_iter()
        .filter(|r| r.stats.packets > 0 || r.stats.queue_drops > 0 || r.stats.down > 0)
        .collect();
    // A link taken down by the timeline gets a column for what it refused.
    let down = rows.iter().any(|r| r.stats.down > 0);
    // Columns as wide as the longest name (at least 16 and 10).
    let lw = rows
        .iter()
        .map(|r| r.segment.len())
        .max()
        .unwrap_or(0)
        .max(16);
    let sw = rows.iter().map(|r| r.from.len()).max().unwrap_or(0).max(10);
    if !rows.is_empty() {
        let _ = write!(
            s,
            "{:<lw$} {:<sw$} {:>8} {:>10} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "link", "sender", "packets", "bytes", "queue", "lost", "dup", "corr", "reord"
        );
        let _ = writeln!(
            s,
            "{}",
            if down {
                format!(" {:>6}", "down")
            } else {
                String::new()
            }
        );
    }
    for r in rows {
        let st = r.stats;
        let _ = write!(
            s,
            "{:<lw$} {:<sw$} {:>8} {:>10} {:>6} {:>6} {:>6} {:>6} {:>6}",
            r.segment,
            r.from,
            st.packets,
            st.bytes,
            st.queue_drops,
            st.lost,
            st.duplicated,
            st.corrupted,
            st.reordered
        );
        let _ = writeln!(
            s,
            "{}",
            if down {
                format!(" {:>6}", st.down)
            } else {
                String::new()
            }
        );
    }
    if let Some(dir) = pcap {
        let names = sim.capture_names();
        if names.is_empty() {
            let _ = writeln!(
                s,
                "no captures in {}: the scenario has no links",
                dir.display()
            );
        } else {
            let _ = writeln!(s, "captures in {}: {}", dir.display(), names.join(", "));
        }
    }
    s
}

/// Write to stdout; a closed pipe (`tcplab lab | head`) is not an error,
/// a full disk is (reported as the run ends).
fn print(text: &str) {
    crate::console::out(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_read_back_as_given() {
        assert_eq!(shell_word("scenarios/tour.toml"), "scenarios/tour.toml");
        assert_eq!(shell_word("my scen;x.toml"), "'my scen;x.toml'");
        assert_eq!(shell_word("it's.toml"), "'it'\\''s.toml'");
        assert_eq!(shell_word("-x.toml"), "./-x.toml");
        assert_eq!(shell_word("=x.toml"), "'=x.toml'");
        assert_eq!(shell_word("a\u{1b}[31m.toml"), "'a\\u{1b}[31m.toml'");
    }

    #[test]
    fn devices_are_never_the_same_output() {
        let null = std::path::Path::new("/dev/null");
        assert!(!same_file(null, null));
        let dir = std::env::temp_dir().join(format!("tcplab-same-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.out");
        assert!(same_file(&a, &dir.join(".").join("a.out")), "not made yet");
        std::fs::write(&a, b"").unwrap();
        std::fs::hard_link(&a, dir.join("b.out")).unwrap();
        assert!(same_file(&a, &dir.join("b.out")), "a hard link");
        assert!(!same_file(&a, &dir.join("c.out")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
