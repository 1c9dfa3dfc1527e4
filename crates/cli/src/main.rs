//! `tcplab`: the command line.
//!
//! ```text
//! tcplab lab [FILE.toml] [--seed N] [--pcap DIR] [--transcript FILE] [--quiet]
//! tcplab run --tun NAME --addr CIDR [--peer IP] [--gateway IP] [--mtu N]
//!            [--loss P%] [--dup P%] [--reorder P%] [--delay D] [--rate R]
//!            [--seed N] [--pcap FILE] [--dns IP] -- COMMAND ...
//! tcplab run --tun NAME --attach -- COMMAND ...
//! tcplab route --tun NAME,CIDR[,peer=IP][,netns=NS][,mtu=N] ... [--route "DEST via GW"]
//!              [--seed N] [--pcap FILE] [RULES.toml]
//! tcplab ss [--tun NAME] [SS OPTIONS]
//! tcplab drill FILE.pkt|DIR ... [--profile tcplab|freebsd] [-D NAME[=VALUE]]
//!              [--tolerance-usecs N] [--tolerance-percent P] [--verbose]
//! ```
//!
//! Mistakes in what a person typed (flags, files, scenario contents) end
//! with one line on stderr naming the problem and exit status 2; nothing
//! here panics on user input.

mod commands;
mod console;
mod drill;
mod files;
mod lab;
mod route;
mod run;
mod run_report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tcplab",
    version,
    about = "A TCP/IP stack in user space, the internetwork it lives in, and the tools to look at it"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a scenario in the simulator (the guided tour when no file is given).
    Lab(lab::LabArgs),
    /// Run the stack on a TUN device, with a command on it (needs root).
    Run(Box<run::RunArgs>),
    /// Route between TUN devices, with NAT, ACLs and firewalls (needs root).
    Route(route::RouteArgs),
    /// List the sockets of a stack running on a TUN device.
    Ss(run::SsArgs),
    /// Run packetdrill scripts against the stack on virtual time.
    Drill(drill::DrillArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let result = match cli.command {
        Cmd::Lab(args) => lab::run(args),
        Cmd::Run(args) => run::run(*args),
        Cmd::Route(args) => route::route(args),
        Cmd::Ss(args) => run::ss(args),
        Cmd::Drill(args) => drill::drill(args),
    };
    let code = match result {
        Ok(code) => code,
        Err(message) => {
            console::err_line(&format!("tcplab: {}", one_line_of(&message)));
            ExitCode::from(2)
        }
    };
    match console::failure() {
        Some(why) => {
            console::err_line(&format!("tcplab: cannot write standard output: {why}"));
            ExitCode::from(2)
        }
        None => code,
    }
}

/// `--seed`'s values: 0 to 2^63 − 1, what a scenario file's `seed` holds
/// (a TOML integer), so a seed a header prints can go in a file as it is.
fn seed_parser() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(..=i64::MAX as u64)
}

/// A command line clap could not take: `--help` and `--version` print as
/// clap prints them; a mistake gets one line (clap's first, which names
/// the argument) and where to look, and status 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    console::err_line(&format!("tcplab: {}", one_line(&e.render().to_string())));
    ExitCode::from(2)
}

/// An error message as one line a terminal shows as it is: control
/// characters a file or an argument brought in (a newline in a name, an
/// escape sequence) written as escapes.
fn one_line_of(message: &str) -> String {
    files::escape_controls(message)
}

/// clap's report as one line: its first paragraph without the `error: `
/// mark, and the subcommand's `--help` to look at.
fn one_line(report: &str) -> String {
    // The first paragraph: a message, or a message ending in `:` and
    // the arguments it lists on the lines below.
    let para: Vec<&str> = report
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect();
    let joined = para.join(" ");
    let first = joined.strip_prefix("error: ").unwrap_or(&joined);
    // The arguments as given: one that is not UTF-8 is simply not a
    // subcommand's name (clap has already said what is wrong).
    let sub = std::env::args_os()
        .nth(1)
        .and_then(|a| a.to_str().map(str::to_owned))
        .filter(|a| ["lab", "run", "route", "ss", "drill"].contains(&a.as_str()));
    match sub {
        Some(sub) => format!("{first} (see tcplab {sub} --help)"),
        None => format!("{first} (see tcplab --help)"),
    }
}
