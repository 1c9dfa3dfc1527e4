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
pub mod curl;
pub mod dns;
pub mod format;
pub mod fw;
pub mod http;
pub mod nc;
pub mod netstat;
pub mod nslookup;
pub mod ping;
pub mod resolve;
pub mod select;
pub mod serve;
pub mod sockets;
pub mod ss;
pub mod stdin;
mod stream;
pub mod tcpdump;
pub mod traceroute;
pub mod transfer;

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

/// A parsed command: a tool with its arguments, and the input an earlier
/// stage of a pipeline (`echo ... |`) gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub tool: Tool,
    pub stdin: Option<Vec<u8>>,
}

/// The tools.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Ping(ping::PingArgs),
    Traceroute(traceroute::TracerouteArgs),
    Nc(nc::NcArgs),
    Serve(serve::ServeArgs),
    Transfer(transfer::TransferArgs),
    Tcpdump(tcpdump::TcpdumpArgs),
    Ss(ss::SsArgs),
    Netstat(netstat::NetstatArgs),
    Nslookup(nslookup::NslookupArgs),
    Curl(curl::CurlArgs),
    Fw(fw::FwArgs),
    Conntrack(fw::ConntrackArgs),
}

impl Command {
    /// Parse a command line (possibly `echo ... | tool ...`).
    pub fn parse(cmdline: &str) -> Result<Command, Usage> {
        let stages = args::split_pipeline(cmdline).map_err(|e| Usage::new("tcplab", e))?;
        let (last, inputs) = stages
            .split_last()
            .ok_or_else(|| Usage::new("tcplab", "empty command".into()))?;
        let stdin = match inputs {
            [] => None,
            [producer] => Some(match producer[0].as_str() {
                "echo" => stdin::echo(&producer[1..]),
                "printf" => stdin::printf(&producer[1..])?,
                other => {
                    return Err(Usage::new(
                        "tcplab",
                        format!("`{other}` cannot feed a pipeline (use echo or printf)"),
                    ))
                }
            }),
            _ => return Err(Usage::new("tcplab", "only one `|` is supported".into())),
        };
        let (name, rest) = last.split_first().expect("stages are non-empty");
        let tool = match name.as_str() {
            "ping" => Tool::Ping(ping::PingArgs::parse(rest)?),
            "traceroute" => Tool::Traceroute(traceroute::TracerouteArgs::parse(rest)?),
            "nc" | "netcat" => Tool::Nc(nc::NcArgs::parse(rest)?),
            "serve" => Tool::Serve(serve::ServeArgs::parse(rest)?),
            "transfer" => Tool::Transfer(transfer::TransferArgs::parse(rest)?),
            "tcpdump" => Tool::Tcpdump(tcpdump::TcpdumpArgs::parse(rest)?),
            "ss" => Tool::Ss(ss::SsArgs::parse(rest)?),
            "netstat" => Tool::Netstat(netstat::NetstatArgs::parse(rest)?),
            "nslookup" => Tool::Nslookup(nslookup::NslookupArgs::parse(rest)?),
            "curl" => Tool::Curl(curl::CurlArgs::parse(rest)?),
            "fw" => Tool::Fw(fw::FwArgs::parse(rest)?),
            "conntrack" => Tool::Conntrack(fw::ConntrackArgs::parse(rest)?),
            other => {
                return Err(Usage {
                    status: 127,
                    ..Usage::new(other, "command not found".into())
                })
            }
        };
        Ok(Command { tool, stdin })
    }

    /// The program name.
    pub fn name(&self) -> &'static str {
        match self.tool {
            Tool::Ping(_) => "ping",
            Tool::Traceroute(_) => "traceroute",
            Tool::Nc(_) => "nc",
            Tool::Serve(_) => "serve",
            Tool::Transfer(_) => "transfer",
            Tool::Tcpdump(_) => "tcpdump",
            Tool::Ss(_) => "ss",
            Tool::Netstat(_) => "netstat",
            Tool::Nslookup(_) => "nslookup",
            Tool::Curl(_) => "curl",
            Tool::Fw(_) => "fw",
            Tool::Conntrack(_) => "conntrack",
        }
    }

    /// Servers (and captures without a count) run until stopped; a run
    /// does not wait for them.
    pub fn is_daemon(&self) -> bool {
        match &self.tool {
            Tool::Serve(_) => true,
            Tool::Tcpdump(a) => a.count.is_none(),
            Tool::Nc(a) => a.listen && (a.keep || a.udp),
            _ => false,
        }
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
        let Command { tool, stdin } = command;
        let code = match tool {
            Tool::Ping(a) => ping::run(h.clone(), a, out, err).await,
            Tool::Traceroute(a) => traceroute::run(h.clone(), a, out, err).await,
            Tool::Nc(a) => nc::run(h.clone(), a, stdin, out, err).await,
            Tool::Serve(a) => serve::run(h.clone(), pid, a, err).await,
            Tool::Transfer(a) => transfer::run(h.clone(), a, out, err).await,
            Tool::Tcpdump(a) => tcpdump::run(h.clone(), a, out, err).await,
            Tool::Ss(a) => ss::run(h.clone(), a, out).await,
            Tool::Netstat(a) => netstat::run(h.clone(), a, out).await,
            Tool::Nslookup(a) => nslookup::run(h.clone(), a, out, err).await,
            Tool::Curl(a) => curl::run(h.clone(), a, out, err).await,
            Tool::Fw(a) => fw::run_fw(h.clone(), a, out, err).await,
            Tool::Conntrack(a) => fw::run_conntrack(h.clone(), a, out, err).await,
        };
        h.set_exit(pid, code);
    });
    Ok(Started { pid, daemon })
}
