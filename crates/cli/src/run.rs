//! `tcplab run` and `tcplab ss`: the stack on a real TUN device.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tcplab_host::Host;
use tcplab_sim::units::{parse_duration, parse_percent, parse_rate};
use tcplab_sim::{LinkParams, LossModel};
use tcplab_stack::Cidr;
use tcplab_tun::runtime::Launched;
use tcplab_tun::{AttachIo, DeviceSpec, Launcher, RunOptions};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The TUN device to create (or attach to, if it exists).
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// The stack's address and prefix on the device, e.g. 10.7.0.2/24.
    #[arg(long, conflicts_with = "attach", value_name = "CIDR")]
    addr: Option<String>,
    /// The kernel's address on the device (default: the prefix's first host).
    #[arg(long, conflicts_with = "attach", value_name = "IP")]
    peer: Option<String>,
    /// The stack's default gateway (usually the kernel's address).
    #[arg(long, conflicts_with = "attach", value_name = "IP")]
    gateway: Option<String>,
    /// MTU of the device and the stack's interface.
    #[arg(long, conflicts_with = "attach", default_value_t = 1500)]
    mtu: usize,
    /// Lose this share of the packets each way, e.g. 2%.
    #[arg(long, conflicts_with = "attach", allow_hyphen_values = true)]
    loss: Option<String>,
    /// Duplicate this share of the packets each way.
    #[arg(long, conflicts_with = "attach", allow_hyphen_values = true)]
    dup: Option<String>,
    /// Reorder this share of the packets each way (needs --delay).
    #[arg(long, conflicts_with = "attach", allow_hyphen_values = true)]
    reorder: Option<String>,
    /// Delay every packet this long each way, e.g. 20ms.
    #[arg(long, conflicts_with = "attach", allow_hyphen_values = true)]
    delay: Option<String>,
    /// Limit each direction to this rate, e.g. 100Mbit.
    #[arg(long, conflicts_with = "attach", allow_hyphen_values = true)]
    rate: Option<String>,
    /// Seed of the stack and the impairments (random if not given).
    #[arg(
        long,
        conflicts_with = "attach",
        allow_hyphen_values = true,
        value_parser = crate::seed_parser()
    )]
    seed: Option<u64>,
    /// Capture what crosses the device into this pcap file.
    #[arg(long, conflicts_with = "attach", value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// A name server for the stack's resolver (repeatable).
    #[arg(long, conflicts_with = "attach", value_name = "IP")]
    dns: Vec<String>,
    /// The stack's TCP congestion control: cubic (the default), reno, bbr
    /// (v3) or bbr1.
    #[arg(long, conflicts_with = "attach", value_name = "ALG")]
    cc: Option<String>,
    /// Do not offer SACK (RFC 2018) in the stack's SYNs.
    #[arg(long, conflicts_with = "attach")]
    no_sack: bool,
    /// Do not offer timestamps (RFC 7323) in the stack's SYNs.
    #[arg(long, conflicts_with = "attach")]
    no_timestamps: bool,
    /// Take no offloads from the kernel: every TCP segment arrives as a
    /// datagram of at most the MTU with its checksum computed (without
    /// this, the kernel may hand over segments of up to 64 KiB and leave
    /// checksums to the stack; impairments also turn offloads off, as
    /// they act on each datagram).
    #[arg(long, conflicts_with = "attach")]
    no_offload: bool,
    /// Run the command on the stack already running on the device.
    #[arg(long)]
    attach: bool,
    /// Write a report of the run when it ends: one HTML page with the
    /// stack's TCP connections (ladder diagrams, states, time-sequence and
    /// cwnd graphs), probes and the transcript, as `tcplab lab --report`.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The tool command, after `--`: ping, curl, serve http, nc, ...
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SsArgs {
    /// The device whose stack to ask (the only running one if omitted).
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// ss's own options and filters: -t -u -x -l -a -n -p -i -o -s, state ...
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The tools, as the runtime starts them.
pub(crate) struct Tools;

impl Launcher for Tools {
    fn start(
        &self,
        host: &Host,
        cmdline: &str,
        terminal: (bool, bool),
    ) -> Result<Launched, String> {
        let io = tcplab_tools::StartIo {
            terminal,
            open_stdin: true,
        };
        tcplab_tools::start_with(host, cmdline, io)
            .map(|s| Launched {
                pid: s.pid,
                daemon: s.daemon,
                reads_stdin: s.reads_stdin,
            })
            .map_err(|u| u.to_string())
    }
}

/// A command line the tool itself would refuse: print what it prints
/// (its message and usage, or its help) and exit as it would, before any
/// device is touched — as if the tool ran here.
fn as_the_tool_would(cmdline: &str) -> Result<Option<ExitCode>, String> {
    match tcplab_tools::Command::parse(cmdline) {
        Ok(_) => Ok(None),
        // No such tool: a shell's "command not found", and its 127.
        Err(u) if u.status == 127 => {
            let _ = writeln!(std::io::stderr(), "tcplab: {u}");
            Ok(Some(exit(127)))
        }
        Err(u) => {
            let (text, to_stdout) = u.printed();
            if to_stdout {
                let _ = std::io::stdout().write_all(text.as_bytes());
            } else {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
            Ok(Some(exit(u.status)))
        }
    }
}

/// How this process's own streams are, for an attached command.
fn attach_io(cmdline: &str) -> AttachIo {
    use std::io::IsTerminal;
    AttachIo {
        forward_stdin: tcplab_tools::Command::parse(cmdline).is_ok_and(|c| c.reads_stdin()),
        terminal: (
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ),
    }
}

/// Words back into one command line, quoting what the tools' parser would
/// otherwise split. A single word is taken as the whole command line
/// (`-- 'echo hi | nc host 7'`); a lone `|` stays a pipe.
fn shell_join(words: &[String]) -> String {
    if let [one] = words {
        if one.contains(' ') {
            return one.clone();
        }
    }
    words
        .iter()
        .map(|w| {
            if w == "|" {
                return w.clone();
            }
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn ipv4(flag: &str, v: &str) -> Result<Ipv4Addr, String> {
    v.parse()
        .map_err(|_| format!("invalid {flag} `{v}`: not an IPv4 address"))
}

/// A seed from the system's randomness for a run on a real network: the
/// keys of ISNs, ports, SYN cookies and IP identifications come from it,
/// so a run without one (seed 0 for all) is refused rather than made
/// predictable.
pub(crate) fn seed() -> Result<u64, String> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .map_err(|e| format!("cannot read /dev/urandom for a seed: {e} (give --seed N)"))?;
    // As `--seed` takes them (a file's range), so it can be given again.
    Ok(u64::from_le_bytes(b) >> 1)
}

fn options(a: &RunArgs) -> Result<RunOptions, String> {
    let text = a
        .addr
        .as_deref()
        .ok_or("tcplab run needs --addr CIDR (the stack's address), e.g. --addr 10.7.0.2/24")?;
    let addr: Cidr = text
        .parse()
        .map_err(|e| format!("invalid --addr `{text}`: {e}"))?;
    usable_on_tun(addr).map_err(|why| format!("invalid --addr `{text}`: {why}"))?;
    if !(68..=65535).contains(&a.mtu) {
        return Err(format!("invalid --mtu {}: must be 68 to 65535", a.mtu));
    }
    let peer = match &a.peer {
        Some(p) => ipv4("--peer", p)?,
        None => DeviceSpec::default_peer(addr),
    };
    let gateway = a
        .gateway
        .as_deref()
        .map(|g| ipv4("--gateway", g))
        .transpose()?;
    if let Some(g) = gateway {
        if !addr.contains(g) {
            return Err(format!("invalid --gateway {g}: not in {}", addr.network()));
        }
    }
    let mut impair = LinkParams {
        mtu: usize::MAX,
        ..LinkParams::default()
    };
    let mut any = false;
    let percent =
        |flag: &str, v: &str| parse_percent(v).map_err(|e| format!("invalid {flag}: {e}"));
    if let Some(v) = &a.loss {
        impair.loss = LossModel::Random(percent("--loss", v)?);
        any = true;
    }
    if let Some(v) = &a.dup {
        impair.duplicate = percent("--dup", v)?;
        any = true;
    }
    if let Some(v) = &a.delay {
        impair.delay = parse_duration(v).map_err(|e| format!("invalid --delay: {e}"))?;
        any = true;
    }
    if let Some(v) = &a.reorder {
        impair.reorder = percent("--reorder", v)?;
        if impair.reorder > 0.0 && impair.delay.is_zero() {
            return Err(
                "--reorder needs --delay: a reordered packet is one that skips the delay".into(),
            );
        }
        any = true;
    }
    if let Some(v) = &a.rate {
        impair.rate = Some(parse_rate(v).map_err(|e| format!("invalid --rate: {e}"))?);
        impair.queue = 1000;
        any = true;
    }
    let nameservers = a
        .dns
        .iter()
        .map(|d| ipv4("--dns", d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tcp = tcplab_stack::tcp::TcpConfig::default();
    if let Some(name) = &a.cc {
        tcp.congestion = tcplab_stack::tcp::CongestionAlgorithm::from_name(name)
            .ok_or_else(|| format!("invalid --cc `{name}`: not reno, cubic, bbr or bbr1"))?;
    }
    tcp.sack = !a.no_sack;
    tcp.timestamps = !a.no_timestamps;
    Ok(RunOptions {
        device: DeviceSpec {
            name: a.tun.clone(),
            addr,
            peer,
            mtu: a.mtu,
            netns: None,
            offload: !a.no_offload && !any,
        },
        gateway,
        seed: match a.seed {
            Some(s) => s,
            None => seed()?,
        },
        impair: any.then_some(impair),
        pcap: a.pcap.clone(),
        nameservers,
        tcp,
        record: a.report.as_ref().map(|_| Default::default()),
    })
}

/// Whether the stack can have `addr` on a TUN device whose other end is
/// the kernel's; what is wrong if not.
pub(crate) fn usable_on_tun(addr: Cidr) -> Result<(), &'static str> {
    let a = addr.address();
    let first = a.octets()[0];
    if a.is_multicast() {
        return Err("a multicast address cannot be an interface's");
    }
    if first == 0 {
        return Err("0.0.0.0/8 is \"this network\" (RFC 1122 §3.2.1.3), not an interface's");
    }
    if a.is_loopback() {
        return Err("127.0.0.0/8 is the loopback's");
    }
    if first >= 240 {
        return Err("240.0.0.0/4 is reserved (and 255.255.255.255 the limited broadcast)");
    }
    if addr.prefix_len() > 31 {
        return Err("the prefix must leave room for the kernel's address (at most /31)");
    }
    // A /31 has no network or broadcast address (RFC 3021).
    if addr.prefix_len() <= 30 && (a == addr.network().address() || Some(a) == addr.broadcast()) {
        return Err("that is the network or broadcast address of the prefix");
    }
    Ok(())
}

pub(crate) fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

pub fn run(a: RunArgs) -> Result<ExitCode, String> {
    let cmdline = shell_join(&a.command);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    if let Some(code) = as_the_tool_would(&cmdline)? {
        return Ok(code);
    }
    if a.attach {
        if a.report.is_some() {
            return Err(
                "--report goes with the tcplab run that owns the device, not with --attach".into(),
            );
        }
        let io = attach_io(&cmdline);
        let code = tcplab_tun::attach(&a.tun, &cmdline, io, &mut out, &mut err)
            .map_err(|e| e.to_string())?;
        return Ok(exit(code));
    }
    let opts = options(&a)?;
    if let Some(path) = &a.report {
        // Checked before the device is made.
        std::fs::File::create(path).map_err(|e| {
            format!(
                "cannot create {}: {}",
                path.display(),
                crate::files::io_reason(&e)
            )
        })?;
    }
    let result = tcplab_tun::run(&opts, &cmdline, &Tools, &mut out, &mut err);
    let _ = out.flush();
    // The report of what ran, even when the run failed part-way.
    if let (Some(path), Some(rec)) = (&a.report, &opts.record) {
        crate::run_report::write(path, &opts, &cmdline, &rec.borrow())?;
        let _ = writeln!(err, "tcplab run: report in {}", path.display());
    }
    let code = result.map_err(|e| e.to_string())?;
    Ok(exit(code))
}

pub fn ss(a: SsArgs) -> Result<ExitCode, String> {
    let name = match a.tun {
        Some(n) => n,
        None => {
            let dir = tcplab_tun::control::CONTROL_DIR;
            let running = match tcplab_tun::control::running() {
                Ok(names) => names,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(format!(
                        "cannot read {dir}: permission denied (tcplab ss needs root, as tcplab run does)"
                    ))
                }
                Err(e) => return Err(format!("cannot read {dir}: {e}")),
            };
            match running.as_slice() {
                [one] => one.clone(),
                [] => return Err("no tcplab stack is running (start one with tcplab run)".into()),
                many => {
                    return Err(format!(
                        "several stacks are running ({}); say which with --tun NAME",
                        many.join(", ")
                    ))
                }
            }
        }
    };
    let mut words = vec!["ss".to_string()];
    words.extend(a.args);
    let cmdline = shell_join(&words);
    if let Some(code) = as_the_tool_would(&cmdline)? {
        return Ok(code);
    }
    let code = tcplab_tun::attach(
        &name,
        &cmdline,
        attach_io(&cmdline),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .map_err(|e| e.to_string())?;
    Ok(exit(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining_keeps_words_whole() {
        let w: Vec<String> = ["curl", "-w", "%{http_code}\\n", "-H", "X-A: b", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = shell_join(&w);
        assert_eq!(line, "curl -w '%{http_code}\\n' -H 'X-A: b' 'it'\\''s'");
        assert_eq!(tcplab_tools::args::split(&line).unwrap(), w);
        let pipe: Vec<String> = ["echo", "hi", "|", "nc", "h", "7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shell_join(&pipe), "echo hi | nc h 7");
        assert_eq!(
            shell_join(&["echo hi | nc h 7".to_string()]),
            "echo hi | nc h 7"
        );
    }
}
