//! `tcplab`: the command line.
//!
//! ```text
//! tcplab lab [FILE.toml] [--seed N] [--pcap DIR] [--transcript FILE] [--quiet]
//! ```
//!
//! Mistakes in what a person typed (flags, files, scenario contents) end
//! with one line on stderr naming the problem and exit status 2; nothing
//! here panics on user input.

mod commands;
mod lab;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Lab(args) => lab::run(args),
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
