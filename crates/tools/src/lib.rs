//! The tools: ping, traceroute, tcpdump, ss, netstat, ip, nslookup, curl, nc,
//! sha256sum and cmp, the servers and the transfer tool, each written once
//! against [`tcplab_host::Host`] so that it runs in the simulator and over
//! a TUN device alike.
//!
//! [`start`] parses a command line, creates a process on a host and spawns
//! the tool; [`check`] only parses, so that scenario files can be validated
//! before anything runs. Output follows the tool each is named after (see
//! `../shared/reference/tool-formats.md` for the captured originals).
#![forbid(unsafe_code)]

pub mod args;
pub mod cert;
pub mod conntrack;
pub mod curl;
pub mod dns;
pub mod files;
pub mod format;
pub mod fw;
pub mod http;
pub mod ip;
pub mod nc;
pub mod netstat;
pub mod nslookup;
pub mod ping;
pub mod places;
pub mod resolve;
pub mod select;
pub mod serve;
pub mod sockets;
pub mod ss;
pub mod stdin;
mod stream;
pub mod tcpdump;
pub mod tls;
pub mod tls_tap;
pub mod traceroute;
pub mod transfer;
pub mod tunnel;
pub mod wg;

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
    /// `-h`/`--help`: not a mistake but the tool's help text, and whether
    /// it goes to standard output (else standard error).
    pub help: Option<(String, bool)>,
    /// The tool prints the message without its name before it
    /// (traceroute's and iproute2's errors).
    pub bare: bool,
}

impl Usage {
    pub fn new(tool: &str, message: String) -> Usage {
        Usage {
            tool: tool.to_string(),
            message,
            usage: None,
            status: 2,
            help: None,
            bare: false,
        }
    }

    /// What `-h`/`--help` prints, where, and the status it exits with.
    pub fn help(tool: &str, text: String, to_stdout: bool, status: i32) -> Usage {
        Usage {
            help: Some((text, to_stdout)),
            status,
            ..Usage::new(tool, String::new())
        }
    }

    /// What the tool prints for this: the help text, or the message and
    /// the usage, and on which stream (true: standard output).
    pub fn printed(&self) -> (String, bool) {
        if let Some((text, to_stdout)) = &self.help {
            return (format!("{text}\n"), *to_stdout);
        }
        let mut s = String::new();
        if self.bare && !self.message.is_empty() {
            s.push_str(&format!("{}\n", self.message));
        } else if !self.message.is_empty() {
            s.push_str(&format!("{}: {}\n", self.tool, self.message));
        }
        if let Some(u) = &self.usage {
            s.push_str(u);
            s.push('\n');
        }
        (s, false)
    }

    pub fn with_usage(tool: &str, message: String, usage: &str) -> Usage {
        Usage {
            usage: Some(usage.to_string()),
            ..Usage::new(tool, message)
        }
    }
}

/// Whether `args` ask for help: `--help`, or also `-h` where the tool
/// takes it so.
pub(crate) fn asks_help(args: &[String], short: bool) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || (short && a == "-h"))
}

/// One line (a scenario's check of a command): the message, or where the
/// tool prints only its usage (`ip` alone), the usage's first line.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line: the message, or without one the usage's first line —
        // with the line after it when the first is only a title
        // (`Usage:`), whose own words say nothing.
        let usage = self.usage.as_deref().map(|u| {
            let mut lines = u.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("");
            match lines.next() {
                Some(next) if first.ends_with(':') && !first.contains(' ') => {
                    let next = next.split_whitespace().collect::<Vec<_>>().join(" ");
                    format!("{first} {next}")
                }
                _ => first.to_string(),
            }
        });
        match usage {
            // (A usage line that names the tool itself: curl's.)
            Some(u) if self.message.is_empty() && u.starts_with(&format!("{}: ", self.tool)) => {
                f.write_str(&u)
            }
            Some(u) if self.message.is_empty() => write!(f, "{}: {u}", self.tool),
            _ => write!(f, "{}: {}", self.tool, self.message),
        }
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
    Curl(Box<curl::CurlArgs>),
    Fw(fw::FwArgs),
    Conntrack(conntrack::ConntrackArgs),
    Cat(files::CatArgs),
    Sha256sum(files::Sha256sumArgs),
    Cmp(files::CmpArgs),
    Tunnel(tunnel::TunnelArgs),
    Wg(wg::WgArgs),
    Ip(ip::IpArgs),
    Cert(cert::CertArgs),
}

impl Command {
    /// Parse a command line (possibly `echo ... | tool ...`).
    pub fn parse(cmdline: &str) -> Result<Command, Usage> {
        // What goes wrong before a tool is found is the command line's:
        // named as a shell would name it.
        let stages = args::split_pipeline(cmdline).map_err(|e| Usage::new("sh", e))?;
        let (last, inputs) = stages
            .split_last()
            .ok_or_else(|| Usage::new("sh", "empty command".into()))?;
        let stdin = match inputs {
            [] => None,
            [producer] => Some(match producer[0].as_str() {
                "echo" => stdin::echo(&producer[1..]),
                "printf" => stdin::printf(&producer[1..])?,
                other => {
                    return Err(Usage::new(
                        "sh",
                        format!("`{other}` cannot feed a pipeline (use echo or printf)"),
                    ))
                }
            }),
            _ => return Err(Usage::new("sh", "only one `|` is supported".into())),
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
            "curl" => Tool::Curl(Box::new(curl::CurlArgs::parse(rest)?)),
            "fw" => Tool::Fw(fw::FwArgs::parse(rest)?),
            "conntrack" => Tool::Conntrack(conntrack::ConntrackArgs::parse(rest)?),
            "cat" => Tool::Cat(files::CatArgs::parse(rest)?),
            "sha256sum" => Tool::Sha256sum(files::Sha256sumArgs::parse(rest)?),
            "cmp" => Tool::Cmp(files::CmpArgs::parse(rest)?),
            "tunnel" => Tool::Tunnel(tunnel::TunnelArgs::parse(rest)?),
            "wg" => Tool::Wg(wg::WgArgs::parse(rest)?),
            "ip" => Tool::Ip(ip::IpArgs::parse(rest)?),
            "cert" => Tool::Cert(cert::CertArgs::parse(rest)?),
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
            Tool::Cat(_) => "cat",
            Tool::Sha256sum(_) => "sha256sum",
            Tool::Cmp(_) => "cmp",
            Tool::Tunnel(_) => "tunnel",
            Tool::Wg(_) => "wg",
            Tool::Ip(_) => "ip",
            Tool::Cert(_) => "cert",
        }
    }

    /// Whether the command reads standard input from the terminal (or an
    /// attached client): nc does, unless a pipeline stage feeds it or `-d`;
    /// sha256sum and cmp do when a file is `-` (or missing).
    pub fn reads_stdin(&self) -> bool {
        self.stdin.is_none()
            && match &self.tool {
                Tool::Nc(a) => !a.no_stdin,
                Tool::Cat(a) => a.reads_stdin(),
                Tool::Sha256sum(a) => a.reads_stdin(),
                Tool::Cmp(a) => a.reads_stdin(),
                Tool::Wg(a) => a.reads_stdin(),
                Tool::Tcpdump(a) => a.read.as_deref() == Some("-"),
                Tool::Curl(a) => a.reads_stdin(),
                _ => false,
            }
    }

    /// Servers (and captures without a count) run until stopped; a run
    /// does not wait for them.
    pub fn is_daemon(&self) -> bool {
        match &self.tool {
            Tool::Serve(_) => true,
            Tool::Tcpdump(a) => a.count.is_none(),
            Tool::Nc(a) => a.listen && (a.keep || a.udp),
            Tool::Tunnel(a) => a.is_daemon(),
            _ => false,
        }
    }
}

/// A command that was started on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pid: Pid,
    pub daemon: bool,
    /// It reads standard input (see [`Command::reads_stdin`]).
    pub reads_stdin: bool,
}

/// Only parse a command line. Asking for help is not a mistake.
pub fn check(cmdline: &str) -> Result<(), Usage> {
    match Command::parse(cmdline) {
        Err(u) if u.help.is_none() => Err(u),
        _ => Ok(()),
    }
}

/// Where a started command's standard streams lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartIo {
    /// Standard output and standard error are terminals (`isatty`).
    pub terminal: (bool, bool),
    /// Standard input stays open for the driver to feed (a terminal, an
    /// attached client); otherwise a command without an `echo ... |` stage
    /// has an input that never brings anything (a terminal nobody types
    /// into).
    pub open_stdin: bool,
}

impl StartIo {
    /// The simulator: the transcript stands for a terminal; scenario
    /// commands have no input but what a pipeline gives them.
    pub const SCENARIO: StartIo = StartIo {
        terminal: (true, true),
        open_stdin: false,
    };
}

/// Parse a command line and start it as a process on `host`, its output
/// on a terminal (the simulator's transcript).
pub fn start(host: &Host, cmdline: &str) -> Result<Started, Usage> {
    start_with(host, cmdline, StartIo::SCENARIO)
}

/// Parse a command line and start it as a process on `host`. The input of
/// an `echo ... |` stage is its standard input, which then ends; without
/// one, standard input stays open for the driver to feed
/// ([`Host::feed_stdin`]).
pub fn start_with(host: &Host, cmdline: &str, io: StartIo) -> Result<Started, Usage> {
    let command = match Command::parse(cmdline) {
        Ok(c) => c,
        // A tool that does not exist cannot run at all.
        Err(u) if u.status == 127 => return Err(u),
        // Help, or a usage mistake: the tool runs, prints, and exits as
        // the real one would.
        Err(u) => {
            let pid = host.new_process(&u.tool, cmdline);
            host.set_terminal(pid, io.terminal.0, io.terminal.1);
            let (text, to_stdout) = u.printed();
            let mut out = if to_stdout {
                host.stdout(pid)
            } else {
                host.stderr(pid)
            };
            let h = host.clone();
            host.spawn(pid, async move {
                out.write_bytes(text.as_bytes());
                h.set_exit(pid, u.status);
            });
            return Ok(Started {
                pid,
                daemon: false,
                reads_stdin: false,
            });
        }
    };
    let pid = host.new_process(command.name(), cmdline);
    host.set_terminal(pid, io.terminal.0, io.terminal.1);
    if let Some(bytes) = &command.stdin {
        host.feed_stdin(pid, bytes);
        host.close_stdin(pid);
    } else if !io.open_stdin {
        host.set_stdin_idle(pid);
    }
    let daemon = command.is_daemon();
    let reads_stdin = command.reads_stdin();
    let h = host.clone();
    host.spawn(pid, async move {
        let out = h.stdout(pid);
        let err = h.stderr(pid);
        let Command { tool, stdin } = command;
        let piped = stdin.is_some();
        let code = match tool {
            Tool::Ping(a) => ping::run(h.clone(), a, out, err).await,
            Tool::Traceroute(a) => traceroute::run(h.clone(), a, out, err).await,
            Tool::Nc(a) => nc::run(h.clone(), a, h.stdin(pid), piped, out, err).await,
            Tool::Serve(a) => {
                // A server stops cleanly on Ctrl-C or SIGTERM (status 0), as
                // real servers do.
                let signals = h.catch_signals(pid);
                match select::select(serve::run(h.clone(), pid, a, err), signals.next()).await {
                    select::Either::Left(code) => code,
                    select::Either::Right(_) => 0,
                }
            }
            Tool::Transfer(a) => transfer::run(h.clone(), a, out, err).await,
            Tool::Tcpdump(a) => tcpdump::run(h.clone(), a, h.stdin(pid), out, err).await,
            Tool::Ss(a) => ss::run(h.clone(), a, out, err).await,
            Tool::Netstat(a) => netstat::run(h.clone(), a, out).await,
            Tool::Nslookup(a) => nslookup::run(h.clone(), a, out, err).await,
            Tool::Curl(a) => curl::run(h.clone(), *a, h.stdin(pid), out, err).await,
            Tool::Fw(a) => fw::run_fw(h.clone(), a, out, err).await,
            Tool::Conntrack(a) => conntrack::run(h.clone(), a, out, err).await,
            Tool::Cat(a) => files::run_cat(h.clone(), a, h.stdin(pid), out, err).await,
            Tool::Sha256sum(a) => files::run_sha256sum(h.clone(), a, h.stdin(pid), out, err).await,
            Tool::Cmp(a) => files::run_cmp(h.clone(), a, h.stdin(pid), out, err).await,
            Tool::Wg(a) => wg::run(h.clone(), a, h.stdin(pid), out, err).await,
            Tool::Ip(a) => ip::run(h.clone(), a, out, err).await,
            Tool::Cert(a) => cert::run(h.clone(), a, out, err).await,
            Tool::Tunnel(a) => {
                // A tunnel stops cleanly on Ctrl-C or SIGTERM, its
                // interface left without a daemon.
                let signals = h.catch_signals(pid);
                match select::select(tunnel::run(h.clone(), a, out, err), signals.next()).await {
                    select::Either::Left(code) => code,
                    select::Either::Right(_) => 0,
                }
            }
        };
        h.set_exit(pid, code);
    });
    Ok(Started {
        pid,
        daemon,
        reads_stdin,
    })
}

/// Every tool of this crate, for the simulator's timeline (`tcplab lab`
/// and the tests that run scenarios).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tools;

impl tcplab_sim::Commands for Tools {
    fn check(&self, cmdline: &str) -> Result<(), String> {
        check(cmdline).map_err(|u| u.to_string())
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<tcplab_sim::Started, String> {
        start(host, cmdline)
            .map(|s| tcplab_sim::Started {
                pid: s.pid,
                daemon: s.daemon,
            })
            .map_err(|u| u.to_string())
    }
}
