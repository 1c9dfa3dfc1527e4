//! The shell lines the suite uses, interpreted (never executed): `sysctl
//! -w` (FreeBSD's and Linux's names), `sockstat … | grep -c STATE | grep
//! N`, `tcpdrop -s TIME_WAIT`, packetdrill's Linux `defaults.sh`, and the
//! `%{ assert tcpi_… }%` blocks. Anything else fails, naming the line.

use tcplab_stack::tcp::{SocketSnapshot, State};

use super::{Failure, Runner, SCRIPT_PORT};

/// What packetdrill's `gtests/net/common/defaults.sh` sets, in tcplab's
/// terms: Linux's buffers (the 15 MiB receive maximum gives window scale
/// 8), timestamps, SACK, D-SACK, three duplicate ACKs, CUBIC, no restart
/// after idle, RACK and the tail loss probe, no ECN. Two of its settings
/// tcplab cannot take and leaves out: F-RTO (`tcp_frto=2`) and TCP Fast
/// Open (`tcp_fastopen`); scripts that test them fail where they differ.
const LINUX_TEST_DEFAULTS: &[(&str, &str)] = &[
    ("net.ipv4.tcp_rmem", "4096 540000 15728640"),
    ("net.ipv4.tcp_wmem", "4096 262144 4194304"),
    ("net.ipv4.tcp_timestamps", "1"),
    ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"),
    ("net.ipv4.tcp_sack", "1"),
    ("net.ipv4.tcp_dsack", "1"),
    ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_reordering", "3"),
    ("net.ipv4.tcp_congestion_control", "cubic"),
    ("net.ipv4.tcp_slow_start_after_idle", "0"),
    ("net.ipv4.tcp_early_retrans", "4"),
    ("net.ipv4.tcp_recovery", "1"),
    ("net.ipv4.tcp_tso_win_divisor", "3"),
    ("net.ipv4.tcp_ecn", "0"),
    ("net.ipv4.tcp_syncookies", "1"),
];

/// Split a command line into words as a shell would for the commands
/// here: whitespace separates, quotes group (and are removed).
fn shell_words(cmd: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// FreeBSD's name of a connection state (`sockstat -s`, `tcpi_state`):
/// the `TCPI_` constants' spelling but for SYN-RECEIVED.
fn state_name(s: State) -> &'static str {
    match s {
        State::SynReceived => "SYN_RCVD",
        s => super::code::state_key(s),
    }
}

impl Runner {
    pub(super) fn shell(&mut self, line: usize, cmd: &str) -> Result<(), Failure> {
        self.log(line, || format!("`{cmd}`"));
        // A command may span lines (packetdrill hands it to a shell):
        // each line is one command.
        let joined = cmd.replace("\\\n", " ");
        for one in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.command(one)
                .map_err(|m| Failure::at(line, format!("error executing `{one}` command: {m}")))?;
        }
        Ok(())
    }

    /// Set each `name=value`, then hand the stack its new settings.
    fn set_sysctls<'a>(
        &mut self,
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        for (name, value) in settings {
            self.sysctl.set(name, value)?;
        }
        self.stack.set_tcp_config(self.sysctl.tcp.clone());
        Ok(())
    }

    fn command(&mut self, cmd: &str) -> Result<(), String> {
        let words = shell_words(cmd)?;
        match words.first().map(String::as_str) {
            Some("sysctl") => {
                // `-w` (write) and `-q` (quiet, Linux) change nothing here.
                let settings: Vec<&String> = words[1..]
                    .iter()
                    .filter(|w| !matches!(w.as_str(), "-w" | "-q" | "-qw" | "-wq"))
                    .collect();
                if settings.is_empty() || settings.iter().any(|s| !s.contains('=')) {
                    return Err("only `sysctl [-w] [-q] name=value ...` is understood".into());
                }
                self.set_sysctls(settings.iter().filter_map(|s| s.split_once('=')))
            }
            // packetdrill's Linux helper: `set_sysctls.py /proc/sys/a/b=v ...`.
            Some(script) if script.rsplit('/').next() == Some("set_sysctls.py") => {
                let mut settings = Vec::new();
                for arg in &words[1..] {
                    let (path, value) = arg
                        .split_once('=')
                        .ok_or_else(|| format!("`{arg}` has no `=`"))?;
                    let name = path
                        .strip_prefix("/proc/sys/")
                        .ok_or_else(|| format!("`{path}` is not under /proc/sys"))?
                        .replace('/', ".");
                    settings.push((name, value));
                }
                self.set_sysctls(settings.iter().map(|(n, v)| (n.as_str(), *v)))
            }
            // tcplab's segments are MSS-sized whatever the device offers;
            // the runner joins them where a line shows a super-segment.
            Some("ethtool")
                if words.len() >= 5
                    && words[1] == "-K"
                    && words[3..].chunks(2).all(|kv| {
                        matches!(kv, [k, v] if matches!(k.as_str(), "tso" | "gso" | "gro")
                            && matches!(v.as_str(), "on" | "off"))
                    }) =>
            {
                Ok(())
            }
            Some("sockstat") => self.sockstat(cmd),
            Some("tcpdrop") => {
                if words != ["tcpdrop", "-s", "TIME_WAIT"] {
                    return Err("only `tcpdrop -s TIME_WAIT` is understood".into());
                }
                let now = self.stack_now();
                for (h, snap) in self.stack.tcp_sockets() {
                    if let SocketSnapshot::Connection(info) = snap {
                        if info.state == State::TimeWait {
                            // A TIME-WAIT connection goes without a RST.
                            self.stack.tcp_abort(now, h);
                        }
                    }
                }
                self.drain(self.now);
                Ok(())
            }
            // packetdrill's Linux tests begin with `../common/defaults.sh`,
            // which sets the kernel's TCP settings to the values the tests
            // were written against: the same settings here.
            Some(script) if script.rsplit('/').next() == Some("defaults.sh") => {
                self.set_sysctls(LINUX_TEST_DEFAULTS.iter().copied())
            }
            _ => Err(
                "not a command tcplab interprets (sysctl, set_sysctls.py, sockstat, tcpdrop, ethtool -K, defaults.sh)".into(),
            ),
        }
    }

    /// `sockstat -4 -P tcp [-p 8080] -s [| grep packetdril] | grep -c STATE
    /// | grep N`: the number of sockets in STATE, as a substring of N.
    fn sockstat(&mut self, cmd: &str) -> Result<(), String> {
        let stages: Vec<Vec<&str>> = cmd
            .split('|')
            .map(|s| s.split_whitespace().collect())
            .collect();
        let mut port = None;
        let first = &stages[0];
        let mut k = 1;
        while k < first.len() {
            match first[k] {
                "-p" => {
                    port = Some(
                        first
                            .get(k + 1)
                            .and_then(|p| p.parse::<u16>().ok())
                            .ok_or("sockstat -p needs a port")?,
                    );
                    k += 1;
                }
                "-4" | "-s" => {}
                "-P" => {
                    if first.get(k + 1) != Some(&"tcp") {
                        return Err("sockstat -P: only tcp".into());
                    }
                    k += 1;
                }
                other => return Err(format!("sockstat {other}: not understood")),
            }
            k += 1;
        }
        let mut state = None;
        let mut expect = None;
        for stage in &stages[1..] {
            match stage.as_slice() {
                // Every socket in the lab is the script's.
                ["grep", "packetdril"] | ["grep", "packetdrill"] => {}
                ["grep", "-c", s] => state = Some(*s),
                ["grep", n] if state.is_some() => expect = Some(*n),
                other => {
                    return Err(format!(
                        "pipeline stage `{}` not understood",
                        other.join(" ")
                    ))
                }
            }
        }
        let (Some(state), Some(expect)) = (state, expect) else {
            return Err("expected `| grep -c STATE | grep N`".into());
        };
        let count = self.count_state(state, port);
        if !count.to_string().contains(expect) {
            return Err(format!(
                "non-zero status 1 ({count} sockets in {state}, expected {expect})"
            ));
        }
        Ok(())
    }

    /// Sockets in a state, as `sockstat -s` lists them: the stack's
    /// connections, plus the script's open sockets with no connection
    /// (CLOSED).
    fn count_state(&self, state: &str, port: Option<u16>) -> usize {
        let on_port = |p: u16| port.is_none_or(|want| want == p);
        let mut n = 0;
        for (h, snap) in self.stack.tcp_sockets() {
            match snap {
                SocketSnapshot::Listener { local, .. } => {
                    if state == "LISTEN" && on_port(local.port()) {
                        n += 1;
                    }
                }
                SocketSnapshot::Connection(info) => {
                    let held = self
                        .sockets
                        .iter()
                        .any(|s| s.handle == Some(h) && !s.closed);
                    if info.state == State::Closed && !held {
                        continue;
                    }
                    let ports = on_port(info.local.port()) || on_port(info.remote.port());
                    if ports && state_name(info.state) == state {
                        n += 1;
                    }
                }
            }
        }
        if state == "CLOSED" {
            // Open sockets the stack has no connection for.
            let live: Vec<_> = self
                .stack
                .tcp_sockets()
                .into_iter()
                .map(|(h, _)| h)
                .collect();
            n += self
                .sockets
                .iter()
                .filter(|s| s.fd.is_some() && !s.closed)
                .filter(|s| s.handle.is_none_or(|h| !live.contains(&h)))
                .filter(|s| {
                    port.is_none_or(|p| p == SCRIPT_PORT || s.local.is_some_and(|l| l.port() == p))
                })
                .count();
        }
        n
    }

    /// A `%{ … }%` block, on the socket under test's TCP_INFO now
    /// (packetdrill takes the snapshot when the block's time comes).
    pub(super) fn code(&mut self, line: usize, code: &str) -> Result<(), Failure> {
        self.log(line, || format!("%{{ {code} }}%"));
        let fail = |m: String| Failure::at(line, format!("error executing code: {m}"));
        let sut = self
            .under_test
            .ok_or_else(|| fail("no socket to use for code".into()))?;
        let s = &self.sockets[sut];
        let handle = s.handle.or_else(|| {
            let (l, r) = (s.local?, s.remote?);
            self.stack
                .tcp_sockets()
                .into_iter()
                .find_map(|(h, snap)| match snap {
                    SocketSnapshot::Connection(i) if i.local == l && i.remote == r => Some(h),
                    _ => None,
                })
        });
        let info = handle.and_then(|h| self.stack.tcp_info(h));
        let state = match &info {
            Some(i) => super::code::state_key(i.state),
            // A listener, or a socket with no connection.
            None if s.state == super::SockState::Listening => "LISTEN",
            None => "CLOSED",
        };
        let snap = super::code::Snapshot {
            state,
            info: info.as_ref(),
        };
        super::code::run(code, &mut self.code_vars, &snap, &mut self.printed).map_err(fail)
    }
}
