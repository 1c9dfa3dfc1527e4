//! The shell lines the suite uses, interpreted (never executed): `sysctl
//! -w` (FreeBSD's and Linux's names), `sockstat … | grep -c STATE | grep
//! N`, `tcpdrop -s TIME_WAIT`, packetdrill's Linux `defaults.sh`, and the
//! `%{ assert tcpi_… }%` blocks. Anything else fails, naming the line.

use tcplab_stack::tcp::{SocketSnapshot, State};

use super::{Failure, Runner, SCRIPT_PORT};

/// FreeBSD's name of a connection state (`sockstat -s`, `tcpi_state`).
fn state_name(s: State) -> &'static str {
    match s {
        State::SynSent => "SYN_SENT",
        State::SynReceived => "SYN_RCVD",
        State::Established => "ESTABLISHED",
        State::FinWait1 => "FIN_WAIT_1",
        State::FinWait2 => "FIN_WAIT_2",
        State::CloseWait => "CLOSE_WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST_ACK",
        State::TimeWait => "TIME_WAIT",
        State::Closed => "CLOSED",
    }
}

impl Runner {
    pub(super) fn shell(&mut self, line: usize, cmd: &str) -> Result<(), Failure> {
        self.log(line, || format!("`{cmd}`"));
        let fail = |m: String| Failure::at(line, format!("error executing `{cmd}` command: {m}"));
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.first().copied() {
            Some("sysctl") => {
                // `-w` (write) and `-q` (quiet, Linux) change nothing here.
                let args: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !matches!(*w, "-w" | "-q" | "-qw" | "-wq"))
                    .collect();
                let setting = match args.as_slice() {
                    [s] if s.contains('=') => *s,
                    _ => {
                        return Err(fail(
                            "only `sysctl [-w] [-q] name=value` is understood".into(),
                        ))
                    }
                };
                let (name, value) = setting
                    .split_once('=')
                    .ok_or_else(|| fail(format!("`{setting}` has no `=`")))?;
                self.sysctl.set(name, value).map_err(fail)?;
                self.stack.set_tcp_config(self.sysctl.tcp.clone());
                Ok(())
            }
            Some("sockstat") => self.sockstat(cmd).map_err(fail),
            Some("tcpdrop") => {
                if words.as_slice() != ["tcpdrop", "-s", "TIME_WAIT"] {
                    return Err(fail("only `tcpdrop -s TIME_WAIT` is understood".into()));
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
            // which puts the kernel's TCP settings back to their defaults:
            // a fresh stack here starts with its defaults anyway.
            Some(script) if script.rsplit('/').next() == Some("defaults.sh") => Ok(()),
            _ => Err(fail(
                "not a command tcplab interprets (sysctl, sockstat, tcpdrop, defaults.sh)".into(),
            )),
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

    /// `%{ assert tcpi_state == TCPI_X }%` and `assert tcpi_options == 0`
    /// on the socket under test.
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
        for stmt in code
            .split(['\n', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let words: Vec<&str> = stmt.split_whitespace().collect();
            match words.as_slice() {
                ["assert", "tcpi_state", "==", want] => {
                    let actual = match &info {
                        Some(i) => format!("TCPI_{}", tcpi_name(i.state)),
                        // A listener, or a socket with no connection.
                        None if s.state == super::SockState::Listening => "TCPI_LISTEN".into(),
                        None => "TCPI_CLOSED".into(),
                    };
                    if actual != *want {
                        return Err(fail(format!("AssertionError: tcpi_state is {actual}, not {want}")));
                    }
                }
                ["assert", "tcpi_options", "==", "0"] => {
                    // FreeBSD's bits: TS 1, SACK 2, WSCALE 4.
                    let opts = info.as_ref().map_or(0, |i| {
                        u32::from(i.timestamps)
                            | u32::from(i.sack) << 1
                            | u32::from(i.snd_wscale > 0 || i.rcv_wscale > 0) << 2
                    });
                    if opts != 0 {
                        return Err(fail(format!("AssertionError: tcpi_options is {opts}, not 0")));
                    }
                }
                _ => return Err(fail(format!("`{stmt}`: only `assert tcpi_state == …` and `assert tcpi_options == 0` are understood"))),
            }
        }
        Ok(())
    }
}

/// FreeBSD's `TCPI_*` names: `sockstat`'s, except SYN-RECEIVED's.
fn tcpi_name(s: State) -> &'static str {
    match s {
        State::SynReceived => "SYN_RECEIVED",
        other => state_name(other),
    }
}
