//! The tools: ping (and, as issues land, traceroute, ss, nslookup, curl, nc
//! and servers), each written once against [`tcplab_host::Host`] so that it
//! runs in the simulator and over a TUN device alike.
//!
//! [`start`] parses a command line, creates a process on a host and spawns
//! the tool; [`check`] only parses, so that scenario files can be validated
//! before anything runs. Output follows the tool each is named after (see
//! `../shared/reference/tool-formats.md` for the captured originals).
#![forbid(unsafe_code)]

pub mod args;
pub mod format;
pub mod ping;
pub mod select;

use std::fmt;

use tcplab_host::{Host, Pid};

/// A command line that cannot be run as written: what the tool would print
/// and the status it would exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub tool: String,
    pub message: String,
    pub usage: Option<String>,
    pub status: i32,
}

impl Usage {
    pub fn new(tool: &str, message: String) -> Usage {
        Usage {
            tool: tool.to_string(),
            message,
            usage: None,
            status: 2,
        }
    }

    pub fn with_usage(tool: &str, message: String, usage: &str) -> Usage {
        Usage {
            usage: Some(usage.to_string()),
            ..Usage::new(tool, message)
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.tool, self.message)
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Ping(ping::PingArgs),
}

impl Command {
    /// Parse a command line.
    pub fn parse(cmdline: &str) -> Result<Command, Usage> {
        let words = args::split(cmdline).map_err(|e| Usage::new("tcplab", e))?;
        let Some((name, rest)) = words.split_first() else {
            return Err(Usage::new("tcplab", "empty command".into()));
        };
        match name.as_str() {
            "ping" => Ok(Command::Ping(ping::PingArgs::parse(rest)?)),
            other => Err(Usage {
                status: 127,
                ..Usage::new(other, "command not found".into())
            }),
        }
    }

    /// The program name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping(_) => "ping",
        }
    }

    /// Servers run until stopped; a run does not wait for them.
    pub fn is_daemon(&self) -> bool {
        false
    }
}

/// A command that was started on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pid: Pid,
    pub daemon: bool,
}

/// Only parse a command line.
pub fn check(cmdline: &str) -> Result<(), Usage> {
    Command::parse(cmdline).map(|_| ())
}

/// Parse a command line and start it as a process on `host`.
pub fn start(host: &Host, cmdline: &str) -> Result<Started, Usage> {
    let command = Command::parse(cmdline)?;
    let pid = host.new_process(command.name(), cmdline);
    let daemon = command.is_daemon();
    let h = host.clone();
    host.spawn(pid, async move {
        let out = h.stdout(pid);
        let err = h.stderr(pid);
        let code = match command {
            Command::Ping(a) => ping::run(h.clone(), a, out, err).await,
        };
        h.set_exit(pid, code);
    });
    Ok(Started { pid, daemon })
}
