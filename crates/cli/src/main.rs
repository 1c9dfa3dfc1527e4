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
//! tcplab drill FILE.pkt|DIR ... [--profile tcplab|freebsd] [-D NAME]
//!              [--tolerance-usecs N] [--verbose]
//! ```
//!
//! Mistakes in what a person typed (flags, files, scenario contents) end
//! with one line on stderr naming the problem and exit status 2; nothing
//! here panics on user input.

mod commands;
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
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Lab(args) => lab::run(args),
        Cmd::Run(args) => run::run(*args),
        Cmd::Route(args) => route::route(args),
        Cmd::Ss(args) => run::ss(args),
        Cmd::Drill(args) => drill::drill(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            #[expect(clippy::print_stderr, reason = "the CLI reports errors on stderr")]
            {
                eprintln!("tcplab: {message}");
            }
            ExitCode::from(2)
        }
    }
}
