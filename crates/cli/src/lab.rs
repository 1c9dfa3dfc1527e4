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
dup (duplicated), corr (a bit flipped), reord (sent early, out of order),
and down (refused while the link was down, if one was).";

#[derive(Debug, Args)]
#[command(after_long_help = READING)]
pub struct LabArgs {
    /// Scenario file (TOML); the guided tour when omitted.
    file: Option<PathBuf>,
    /// Seed for every random choice (overrides the file's `seed`).
    #[arg(long, allow_hyphen_values = true)]
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
    programs: std::collections::BTreeMap<tcplab_host::Pid, String>,
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
                self.programs.insert(*pid, program);
                self.last.insert(node.clone(), *pid);
                None
            }
            TranscriptEvent::Output(line) => {
                self.last.insert(line.host.to_string(), line.pid);
                None
            }
            TranscriptEvent::Exit { node, pid, .. } => {
                let other_spoke = self.last.get(node).is_some_and(|p| p != pid);
                let name = self.programs.remove(pid).filter(|_| other_spoke);
                self.last.insert(node.clone(), *pid);
                name
            }
            _ => None,
        }
    }
}

/// One transcript event as a line: `  1.021 client  64 bytes from ...`;
/// `program` names an exit status's process (see [`Speakers`]).
fn render(ev: &TranscriptEvent, width: usize, program: Option<&str>) -> Option<String> {
    let stamp = |t: Instant| {
        let us = t.total_micros();
        format!("{:>4}.{:03}", us / 1_000_000, (us % 1_000_000) / 1000)
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
            format!(
                "{} {node:width$} $ {}",
                stamp(*time),
                tcplab_sim::printable(cmdline)
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
    if let Some(dir) = &args.pcap {
        crate::files::make_dir(dir)?;
    }
    // The output files too are checked before anything runs.
    for path in [&args.transcript, &args.report, &args.events]
        .into_iter()
        .flatten()
    {
        std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {}", path.display(), io_reason(&e)))?;
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
    let lines: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let sink_lines = lines.clone();
    let speakers = RefCell::new(Speakers::default());
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| {
        let program = speakers.borrow_mut().note(ev);
        if quiet && !matches!(ev, TranscriptEvent::Output(_)) {
            return;
        }
        if let Some(line) = render(ev, width, program.as_deref()).map(|l| l.trim_end().to_string())
        {
            print(&format!("{line}\n"));
            sink_lines.borrow_mut().push(line);
        }
    }));
    let outcome = sim.run(&Tools);
    sim.close_captures()
        .map_err(|e| format!("cannot write captures: {}", io_reason(&e)))?;
    if !args.quiet {
        let ran = scenario
            .timeline
            .iter()
            .any(|e| matches!(e.action, tcplab_sim::Action::Run { .. }));
        print(&format!(
            "\n{}",
            summary(&sim, outcome, args.pcap.as_ref(), ran)
        ));
    }
    if record {
        write_report(&args, &scenario, &sim)?;
    }
    if !args.quiet && !record_asked(&args) {
        let file = match &args.file {
            Some(f) => format!(" {}", f.display()),
            None => String::new(),
        };
        print(&format!(
            "to see this run drawn (ladder diagrams, state timelines, time-sequence and cwnd graphs): tcplab lab{file} --report report.html\n"
        ));
    }
    if let Some(path) = &args.transcript {
        let mut text = lines.borrow().join("\n");
        text.push('\n');
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write {}: {}", path.display(), io_reason(&e)))?;
    }
    Ok(ExitCode::SUCCESS)
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

fn summary(sim: &Sim, outcome: Outcome, pcap: Option<&PathBuf>, ran: bool) -> String {
    let mut s = String::new();
    let end = match outcome {
        Outcome::Finished if !ran => "nothing ran (the scenario has no commands)",
        Outcome::Finished => "all commands finished",
        Outcome::TimeLimit => "time limit reached",
        Outcome::Stalled => "nothing left to happen (a command is still waiting)",
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

/// Write to stdout; a closed pipe (`tcplab lab | head`) is not an error.
fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
