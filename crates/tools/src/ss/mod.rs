//! `ss`, as iproute2 6.1 prints it when its output is not a terminal.
//!
//! ```text
//! ss [-tuxaelnpiosHem] [state STATE] [exclude STATE] [FILTER]
//! ```
//!
//! Without `-a` or `-l` it lists connected sockets except those in
//! TIME-WAIT and SYN-RECV (iproute2's default); `-l` lists only listening
//! sockets, `-a` all. Ports are shown as service names unless `-n`;
//! addresses are never resolved (as iproute2 without `-r`). Columns are as
//! wide as their widest cell, addresses right-aligned, every row padded to
//! full width — iproute2's layout when stdout is not a terminal. FILTER is a
//! small subset of ss's: `sport = :N`, `dport = :N` (`==`, `eq`; a service
//! name instead of N), `src ADDR[/LEN]`, `dst ADDR[/LEN]`, combined with
//! `and`, `or` and parentheses.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use tcplab_host::{Host, Output};
use tcplab_stack::services::{self, Transport};
use tcplab_stack::TcpState;

use crate::args::{getopt, Opt};
use crate::sockets::{snapshot, Netid, SockRow, SockState};
use crate::Usage;
use filter::{host_names, Expr};

mod filter;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SsArgs {
    pub tcp: bool,
    pub udp: bool,
    /// `-x`: local (`AF_UNIX`) sockets.
    pub unix: bool,
    pub all: bool,
    pub listening: bool,
    pub numeric: bool,
    pub processes: bool,
    pub info: bool,
    pub timers: bool,
    pub summary: bool,
    pub no_header: bool,
    /// `-e`: inode, socket cookie and shutdown state.
    pub extended: bool,
    /// `-m`: socket memory (`skmem:(...)`).
    pub memory: bool,
    /// `-4` / `-6`: only IPv4 / IPv6 sockets (both: both families, no
    /// local sockets). tcplab has no IPv6 sockets.
    pub ipv4: bool,
    pub ipv6: bool,
    /// States to show (`state ...`), if given.
    pub states: Option<Vec<SockStateFilter>>,
    pub exclude: Vec<SockStateFilter>,
    pub filter: Vec<String>,
    /// The host names the filter uses (`dst server`), looked up before
    /// the listing (see [`run`]).
    pub hosts: Vec<(String, Ipv4Addr)>,
}

/// A state name of `ss state ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockStateFilter {
    One(&'static str),
    Connected,
    Synchronized,
    /// iproute2's "bucket": the minisockets, SYN-RECV and TIME-WAIT.
    Bucket,
    /// "big": everything else.
    Big,
    All,
}

const USAGE: &str = "Usage: ss [ OPTIONS ] [ STATE-FILTER ] [ ADDRESS-FILTER ]";

/// `ss -h`: iproute2's help, with the options this ss has.
const HELP: &str = "Usage: ss [ OPTIONS ]
       ss [ OPTIONS ] [ FILTER ]
   -h, --help          this message
   -n, --numeric       don't resolve service names
   -a, --all           display all sockets
   -l, --listening     display listening sockets
   -o, --options       show timer information
   -e, --extended      show detailed socket information
   -m, --memory        show socket memory usage
   -p, --processes     show process using socket
   -i, --info          show internal TCP information
   -s, --summary       show socket usage summary
   -H, --no-header     Suppress header line

   -4, --ipv4          display only IP version 4 sockets
   -6, --ipv6          display only IP version 6 sockets
   -t, --tcp           display only TCP sockets
   -u, --udp           display only UDP packets
   -x, --unix          display only Unix domain sockets

   FILTER := [ state STATE-FILTER ] [ EXPRESSION ]
   STATE-FILTER := {all|connected|synchronized|bucket|big|TCP-STATES}
     TCP-STATES := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|closed|close-wait|last-ack|listening|closing}
        connected := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|close-wait|last-ack|closing}
     synchronized := {established|syn-recv|fin-wait-{1,2}|time-wait|close-wait|last-ack|closing}";

/// ss.c's scan_state: names in any case (`strcasecmp`), with its aliases
/// (`close`/`closed`/`unconnected`, `syn-rcv`); a name it does not know
/// ends ss with status 255 (`exit(-1)`).
fn parse_state(name: &str) -> Result<SockStateFilter, Usage> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "established" => SockStateFilter::One("ESTAB"),
        "syn-sent" => SockStateFilter::One("SYN-SENT"),
        "syn-recv" | "syn-rcv" => SockStateFilter::One("SYN-RECV"),
        "fin-wait-1" => SockStateFilter::One("FIN-WAIT-1"),
        "fin-wait-2" => SockStateFilter::One("FIN-WAIT-2"),
        "time-wait" => SockStateFilter::One("TIME-WAIT"),
        "closed" | "close" | "unconnected" => SockStateFilter::One("UNCONN"),
        "close-wait" => SockStateFilter::One("CLOSE-WAIT"),
        "last-ack" => SockStateFilter::One("LAST-ACK"),
        "listening" => SockStateFilter::One("LISTEN"),
        // SS_UNKNOWN: no socket is in it.
        "unknown" => SockStateFilter::One("UNKNOWN"),
        "closing" => SockStateFilter::One("CLOSING"),
        "connected" => SockStateFilter::Connected,
        "synchronized" => SockStateFilter::Synchronized,
        "bucket" => SockStateFilter::Bucket,
        "big" => SockStateFilter::Big,
        "all" => SockStateFilter::All,
        _ => {
            return Err(Usage {
                status: 255,
                ..Usage::new("ss", format!("wrong state name: {name}"))
            })
        }
    })
}

impl SockStateFilter {
    fn matches(self, state: &str) -> bool {
        match self {
            SockStateFilter::One(s) => s == state,
            SockStateFilter::All => true,
            // "connected": all except LISTEN and CLOSED.
            SockStateFilter::Connected => !matches!(state, "LISTEN" | "UNCONN"),
            // "synchronized": connected, except SYN-SENT.
            SockStateFilter::Synchronized => !matches!(state, "LISTEN" | "UNCONN" | "SYN-SENT"),
            SockStateFilter::Bucket => matches!(state, "SYN-RECV" | "TIME-WAIT"),
            SockStateFilter::Big => !matches!(state, "SYN-RECV" | "TIME-WAIT"),
        }
    }
}

impl SsArgs {
    pub fn parse(args: &[String]) -> Result<SsArgs, Usage> {
        // -V / --version: iproute2's line, on standard output.
        if args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "-V" || a == "--version")
        {
            return Err(Usage::help(
                "ss",
                "ss utility, iproute2-6.1.0".into(),
                true,
                0,
            ));
        }
        let (opts, rest) = getopt(
            args,
            "tuwxalnpioseHmO46h",
            &[
                "tcp",
                "udp",
                "unix",
                "all",
                "listening",
                "numeric",
                "processes",
                "info",
                "options",
                "summary",
                "no-header",
                "extended",
                "memory",
                "help",
                "ipv4",
                "ipv6",
            ],
        )
        // iproute2's letters, for options tcplab's ss lacks.
        .map_err(|e| {
            let real = "046A:abD:dEeF:f:HhiKlMmN:nOopSrsTtuVvwxZz";
            // iproute2's usage() exits with status 255 (-1).
            Usage {
                status: 255,
                ..Usage::with_usage("ss", crate::args::unsupported(e, real), USAGE)
            }
        })?;
        let mut a = SsArgs::default();
        for o in opts {
            let key = match &o {
                Opt::Short(c, _) => c.to_string(),
                Opt::Long(l, _) => l.clone(),
            };
            match key.as_str() {
                "t" | "tcp" => a.tcp = true,
                "u" | "udp" => a.udp = true,
                // The later of -a and -l wins, as in iproute2 (each sets
                // the state filter): `ss -tanl` lists listeners only.
                "a" | "all" => (a.all, a.listening) = (true, false),
                "l" | "listening" => (a.all, a.listening) = (false, true),
                "n" | "numeric" => a.numeric = true,
                "p" | "processes" => a.processes = true,
                "i" | "info" => a.info = true,
                "o" | "options" => a.timers = true,
                "s" | "summary" => a.summary = true,
                "H" | "no-header" => a.no_header = true,
                "x" | "unix" => a.unix = true,
                // iproute2: -e sets show_options too (timers, ts/sack).
                "e" | "extended" => {
                    a.extended = true;
                    a.timers = true;
                }
                "m" | "memory" => a.memory = true,
                "4" | "ipv4" => a.ipv4 = true,
                "6" | "ipv6" => a.ipv6 = true,
                "h" | "help" => return Err(Usage::help("ss", HELP.into(), true, 0)),
                "w" => {
                    return Err(Usage::new(
                        "ss",
                        "-w: raw sockets are not listed yet".to_string(),
                    ))
                }
                _ => {}
            }
        }
        let mut i = 0;
        while i < rest.len() {
            match rest[i].as_str() {
                "state" | "exclude" | "excl" => {
                    let which = rest[i].clone();
                    // (iproute2's NEXT_ARG: the line ends too soon.)
                    let name = rest.get(i + 1).ok_or_else(|| Usage {
                        status: 255,
                        bare: true,
                        ..Usage::new(
                            "ss",
                            "Command line is not complete. Try option \"help\"".into(),
                        )
                    })?;
                    let f = parse_state(name)?;
                    if which == "state" {
                        a.states.get_or_insert_with(Vec::new).push(f);
                    } else {
                        a.exclude.push(f);
                    }
                    i += 2;
                }
                _ => {
                    a.filter = rest[i..].to_vec();
                    break;
                }
            }
        }
        // Names are only checked to be names here; they are looked up
        // when the listing runs.
        Expr::parse(&a.filter, a.unix_preferred(), &|_| {
            Some(Ipv4Addr::UNSPECIFIED)
        })?;
        a.only_unix_if_named();
        Ok(a)
    }

    /// `-x` makes the local family the preferred one (iproute2's
    /// filter_af_set), unless `-4` or `-6` chose another.
    fn unix_preferred(&self) -> bool {
        self.unix && !self.ipv4 && !self.ipv6
    }

    /// An address written `unix:PATH` names the family (iproute2's
    /// parse_hostcond sets the filter's families to the local one), so
    /// with no socket type asked for, only local sockets are listed.
    fn only_unix_if_named(&mut self) {
        let named = self.filter.iter().any(|w| {
            w.replace(['(', ')'], " ")
                .split_whitespace()
                .any(|t| t.starts_with("unix:"))
        });
        if named && !(self.tcp || self.udp) {
            self.unix = true;
        }
    }

    fn shows(&self, netid: Netid) -> bool {
        let inet = matches!(netid, Netid::Tcp | Netid::Udp);
        if self.ipv4 || self.ipv6 {
            // A family chosen: only its sockets (IPv4 ones with -4; there
            // are no IPv6 ones), never local ones.
            return inet && self.ipv4 && (!(self.tcp || self.udp) || self.shows_type(netid));
        }
        self.shows_type(netid)
    }

    fn shows_type(&self, netid: Netid) -> bool {
        if !(self.tcp || self.udp || self.unix) {
            return true;
        }
        match netid {
            Netid::Tcp => self.tcp,
            Netid::Udp => self.udp,
            Netid::UnixStream | Netid::UnixDgram => self.unix,
        }
    }

    fn state_ok(&self, row: &SockRow) -> bool {
        let name = row.state.ss();
        if self.exclude.iter().any(|f| f.matches(name)) {
            return false;
        }
        if let Some(states) = &self.states {
            return states.iter().any(|f| f.matches(name));
        }
        let listening = row.state.is_server();
        if self.all {
            true
        } else if self.listening {
            listening
        } else {
            // iproute2's default: connected sockets, minus TIME-WAIT and SYN-RECV.
            !listening
                && !matches!(
                    row.state,
                    SockState::Tcp(TcpState::TimeWait | TcpState::SynReceived)
                )
        }
    }
}

fn port_text(port: u16, netid: Netid, numeric: bool) -> String {
    if numeric || port == 0 {
        return if port == 0 {
            "*".into()
        } else {
            port.to_string()
        };
    }
    let t = if netid == Netid::Tcp {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    services::name(port, t).map_or_else(|| port.to_string(), str::to_string)
}

/// The table `ss` prints for `rows`.
pub fn render(rows: &[SockRow], a: &SsArgs) -> Vec<String> {
    let rows: Vec<&SockRow> = {
        let known = |n: &str| a.hosts.iter().find(|(h, _)| h == n).map(|(_, addr)| *addr);
        let expr = Expr::parse(&a.filter, a.unix_preferred(), &known).unwrap_or(Expr::True);
        // A local socket's peer is named by its path (`dst /tmp/s.sock`).
        let peer_path = |inode: u64| {
            rows.iter()
                .filter_map(|r| r.unix.as_ref())
                .find(|(_, ino, _)| *ino == inode && inode != 0)
                .and_then(|(path, _, _)| path.clone())
        };
        let mut rows: Vec<&SockRow> = rows
            .iter()
            .filter(|r| a.shows(r.netid) && a.state_ok(r) && expr.matches(r, &peer_path))
            .collect();
        // iproute2 lists the families in this order (unix_show, then
        // udp_show, then tcp_show), each in the kernel's order.
        rows.sort_by_key(|r| match r.netid {
            Netid::UnixStream | Netid::UnixDgram => 0,
            Netid::Udp => 1,
            Netid::Tcp => 2,
        });
        rows
    };
    // The Netid column goes only when one type is chosen: -t or -u alone
    // (-x chooses the stream, datagram and seqpacket types).
    let one_type = !a.unix && (a.tcp != a.udp);
    let show_netid = !one_type;
    // iproute2 drops the State column when the filter leaves exactly one
    // state (`state established`, `state listening`); a group (`state
    // connected`) or two names keep it.
    // So does `-u` alone with no state asked for: UDP's default filter
    // is the one state ESTAB (iproute2's default_dbs), while -l (LISTEN
    // and UNCONN) and -a keep the column.
    let udp_default = a.states.is_none() && !a.all && !a.listening && one_type && a.udp;
    let show_state =
        !udp_default && !matches!(a.states.as_deref(), Some([SockStateFilter::One(_)]));
    // Cells: netid, state, recv-q, send-q, local addr, local port, peer addr, peer port, process.
    let mut table: Vec<[String; 9]> = Vec::new();
    table.push([
        "Netid".into(),
        "State".into(),
        "Recv-Q".into(),
        "Send-Q".into(),
        "Local Address:".into(),
        "Port".into(),
        "Peer Address:".into(),
        "Port".into(),
        "Process".into(),
    ]);
    for r in &rows {
        let mut process = String::new();
        if a.processes {
            if let Some((name, pid, fd)) = &r.process {
                let _ = write!(process, " users:((\"{name}\",pid={pid},fd={fd}))");
            }
        }
        if a.timers {
            if let Some((name, left, retrans)) = r.timer {
                let _ = write!(process, " timer:({name},{},{retrans})", timer_left(left));
            }
        }
        if a.extended {
            process.push_str(&details(r));
        }
        if let Some((path, inode, peer_inode)) = &r.unix {
            // A local socket: the path (or `*`) and the inode, then `*` and
            // the peer's inode, as iproute2 prints them.
            table.push([
                r.netid.name().into(),
                r.state.ss().into(),
                format!("{:<6}", r.recv_q),
                format!("{:<6}", r.send_q),
                format!("{} ", path.as_deref().unwrap_or("*")),
                inode.to_string(),
                "* ".into(),
                peer_inode.to_string(),
                process,
            ]);
            continue;
        }
        let peer = r.peer.unwrap_or_else(crate::sockets::wildcard);
        let peer_port = if r.peer.is_some() {
            port_text(peer.port(), r.netid, a.numeric)
        } else {
            "*".into()
        };
        table.push([
            r.netid.name().into(),
            r.state.ss().into(),
            // iproute2 prints the queues with "%-6d".
            format!("{:<6}", r.recv_q),
            format!("{:<6}", r.send_q),
            format!("{}:", r.local.ip()),
            port_text(r.local.port(), r.netid, a.numeric),
            format!("{}:", peer.ip()),
            peer_port,
            process,
        ]);
    }
    let visible = [
        show_netid, show_state, true, true, true, true, true, true, true,
    ];
    let right = [false, false, false, false, true, false, true, false, false];
    let delim = [" ", " ", " ", " ", " ", "", " ", "", ""];
    let mut widths = [0usize; 9];
    // Without the header, only the rows make the columns' widths.
    let skip = usize::from(a.no_header);
    for row in &table[skip..] {
        for (c, cell) in row.iter().enumerate() {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let first = visible.iter().position(|v| *v).unwrap_or(0);
    let mut lines = Vec::new();
    for (i, row) in table.iter().enumerate() {
        if i == 0 && a.no_header {
            continue;
        }
        let mut line = String::new();
        for c in 0..9 {
            if !visible[c] {
                continue;
            }
            if c != first {
                line.push_str(delim[c]);
            }
            let cell = &row[c];
            let pad = widths[c] - cell.chars().count();
            if right[c] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        lines.push(line);
        if i > 0 && (a.info || a.memory) {
            if let Some(more) = second_line(rows[i - 1], a) {
                lines.push(more);
            }
        }
    }
    lines
}

/// `ss -o`'s time left, as iproute2's `print_ms_timer` writes it:
/// "065ms", "3.300ms" (seconds and milliseconds), "41sec", "2min32sec",
/// "13min" (past nine minutes the seconds go, past nine seconds the
/// milliseconds), and nothing at all for none left.
fn timer_left(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    let minutes = ms / 60_000;
    let mut secs = ms / 1000 % 60;
    let mut msecs = ms % 1000;
    let mut s = String::new();
    if minutes > 0 {
        msecs = 0;
        let _ = write!(s, "{minutes}min");
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        let _ = write!(s, "{secs}{}", if msecs > 0 { "." } else { "sec" });
    }
    if msecs > 0 {
        let _ = write!(s, "{msecs:03}ms");
    }
    s
}

/// `-e`: ` ino:N sk:X <->` (no `uid:` — every process here is root's —
/// and no cgroup). The arrows say which directions are still open: `<`
/// until a FIN came in, `>` until one went out (Linux's sk_shutdown).
/// An orphan — closed by its application, held by no process — is shut
/// both ways (`---`); the sockets Linux keeps without a full socket
/// (SYN-RECV's request, TIME-WAIT, an orphan's FIN-WAIT-2, which it keeps
/// as a timewait socket) show none.
fn details(r: &SockRow) -> String {
    let mut s = format!(" ino:{} sk:{:x}", r.inode(), r.sk);
    let orphan = r.process.is_none();
    let open = |state: SockState| -> Option<(bool, bool)> {
        use TcpState as T;
        Some(match state {
            SockState::Tcp(T::TimeWait | T::SynReceived) => return None,
            SockState::Tcp(T::FinWait2) if orphan => return None,
            SockState::Tcp(T::FinWait1 | T::Closing | T::LastAck) if orphan => (false, false),
            SockState::Tcp(t) => (
                !matches!(t, T::CloseWait | T::LastAck | T::Closing),
                !matches!(t, T::FinWait1 | T::FinWait2 | T::Closing | T::LastAck),
            ),
            SockState::Unix(_) => return None,
            _ => (true, true),
        })
    };
    if let Some((rcv, snd)) = open(r.state) {
        let _ = write!(
            s,
            " {}-{}",
            if rcv { '<' } else { '-' },
            if snd { '>' } else { '-' }
        );
    }
    s
}

/// `-m`: `skmem:(r,rb,t,tb,f,w,o,bl,d)`. What is derivable here: bytes
/// waiting to be read (`r`), the buffer sizes, bytes in flight (`t`) and
/// queued to send (`w`); no allocation slack, option memory, backlog or
/// drops are kept (zero).
/// A listener's queues are connections, not bytes: its Recv-Q and Send-Q
/// (the accept queue and the backlog) are no memory (r0, w0).
fn skmem(r: &SockRow) -> String {
    let in_flight = r.info.as_ref().map_or(0, |i| i.in_flight);
    let (recv, send) = if r.state == SockState::Listen {
        (0, 0)
    } else {
        (r.recv_q, r.send_q)
    };
    format!(
        "skmem:(r{recv},rb{},t{in_flight},tb{},f0,w{send},o0,bl0,d0)",
        r.buffers.0, r.buffers.1
    )
}

/// The line under a socket for `-m` and `-i`: a tab, then the memory,
/// then TCP_INFO. TIME-WAIT and SYN-RECV entries have neither (Linux
/// keeps no full socket for them).
fn second_line(r: &SockRow, a: &SsArgs) -> Option<String> {
    if matches!(
        r.state,
        SockState::Tcp(TcpState::TimeWait | TcpState::SynReceived)
    ) {
        return None;
    }
    let mut s = String::from("\t");
    if a.memory {
        s.push(' ');
        s.push_str(&skmem(r));
    }
    if a.info {
        // A listener has no TCP_INFO of its own but the algorithm its
        // connections get and the initial window (tcp_diag: `cubic
        // cwnd:10`).
        if let Some(cc) = r.listener_cc {
            let _ = write!(s, " {cc} cwnd:10");
        }
        if let Some(info) = &r.info {
            s.push(' ');
            s.push_str(&tcp_info_line(
                info,
                r.pmtu,
                r.advmss,
                InfoStyle {
                    options: a.timers,
                    numeric: a.numeric,
                },
            ));
        }
    }
    (s.len() > 1).then_some(s)
}

/// Milliseconds with TCP_INFO's microsecond resolution, as `%g`.
fn ms(d: std::time::Duration) -> String {
    crate::format::g(d.as_micros() as f64 / 1000.0)
}

/// iproute2's `sprint_bw`: bits per second, raw with `-n`, else three
/// significant digits with k, M, G or T.
fn bw(bps: f64, numeric: bool) -> String {
    use crate::format::g_prec;
    if numeric {
        return format!("{bps:.0}");
    }
    for (scale, unit) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if bps >= scale {
            return format!("{}{unit}", g_prec(bps / scale, 3));
        }
    }
    crate::format::g(bps)
}

/// How `ss -i` was asked: `-o` adds the `ts`/`sack` words (iproute2
/// reads the options only then), `-n` prints rates as plain numbers.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoStyle {
    pub options: bool,
    pub numeric: bool,
}

/// The TCP_INFO part of `ss -i`, fields in iproute2 6.1's order and
/// words (`tcp_stats_print`). Fields TcpInfo does not keep are left out
/// (`rcv_space`, `rcv_ssthresh`, `rcv_rtt`, ...);
/// `retrans:` shows the segments retransmitted and not yet acknowledged,
/// then the total; `delivered` is in segments of the current MSS, the SYN
/// counted once acknowledged, as Linux counts packets; `ato` (the
/// delayed-ACK timeout) once data has arrived, as Linux sets it on the
/// first data; `pacing_rate` when the algorithm does not pace is the rate
/// Linux's tcp_update_pacing_rate would give it (twice cwnd·mss/srtt in
/// slow start below half of ssthresh, 1.2 times after), which Linux
/// reports whether or not a qdisc paces with it.
pub fn tcp_info_line(
    i: &tcplab_stack::TcpInfo,
    pmtu: usize,
    advmss: usize,
    style: InfoStyle,
) -> String {
    let mut words: Vec<String> = Vec::new();
    if style.options && i.timestamps {
        words.push("ts".into());
    }
    if style.options && i.sack {
        words.push("sack".into());
    }
    words.push(i.congestion.to_string());
    let mut s = words.join(" ");
    // Linux fills the scales in only once both ends agreed to them
    // (TCPI_OPT_WSCALE): not while our SYN waits for an answer.
    if i.state != TcpState::SynSent && (i.snd_wscale != 0 || i.rcv_wscale != 0) {
        let _ = write!(s, " wscale:{},{}", i.snd_wscale, i.rcv_wscale);
    }
    let _ = write!(s, " rto:{}", ms(i.rto));
    if i.backoff > 0 {
        let _ = write!(s, " backoff:{}", i.backoff);
    }
    if let Some(srtt) = i.srtt {
        let _ = write!(s, " rtt:{}/{}", ms(srtt), ms(i.rttvar));
    }
    if let Some(ato) = i.ato {
        let _ = write!(s, " ato:{}", ms(ato));
    }
    let mss = i.mss.max(1);
    let _ = write!(s, " mss:{}", i.mss);
    if pmtu > 0 {
        let _ = write!(s, " pmtu:{pmtu}");
    }
    let _ = write!(s, " rcvmss:{}", i.rcv_mss);
    if advmss > 0 {
        let _ = write!(s, " advmss:{advmss}");
    }
    let _ = write!(s, " cwnd:{}", i.cwnd / mss);
    if i.ssthresh != usize::MAX {
        let _ = write!(s, " ssthresh:{}", i.ssthresh / mss);
    }
    for (word, n) in [
        ("bytes_sent", i.bytes_sent),
        ("bytes_retrans", i.bytes_retrans),
        ("bytes_acked", i.bytes_acked),
        ("bytes_received", i.bytes_received),
        ("segs_out", i.segs_out),
        ("segs_in", i.segs_in),
        ("data_segs_out", i.data_segs_out),
        ("data_segs_in", i.data_segs_in),
    ] {
        if n > 0 {
            let _ = write!(s, " {word}:{n}");
        }
    }
    if let Some(b) = &i.bbr {
        let _ = write!(
            s,
            " bbr:(bw:{}bps,mrtt:{}",
            bw(b.bw as f64 * 8.0, style.numeric),
            b.min_rtt.map_or("0".into(), ms)
        );
        // TCP_INFO carries the gains in 1/256 units.
        for (name, gain) in [("pacing_gain", b.pacing_gain), ("cwnd_gain", b.cwnd_gain)] {
            let units = (gain * 256.0) as u32;
            if units > 0 {
                let _ = write!(s, ",{name}:{}", crate::format::g(f64::from(units) / 256.0));
            }
        }
        s.push(')');
    }
    if let Some(srtt) = i.srtt.filter(|d| !d.is_zero()) {
        let bps = (i.cwnd / mss * mss) as f64 * 8.0 / srtt.as_secs_f64();
        let _ = write!(s, " send {}bps", bw(bps, style.numeric));
    }
    for (word, d) in [
        ("lastsnd", i.last_data_sent),
        ("lastrcv", i.last_data_recv),
        ("lastack", i.last_ack_recv),
    ] {
        if !d.is_zero() {
            let _ = write!(s, " {word}:{}", d.as_millis());
        }
    }
    let cwnd_segs = (i.cwnd / mss) as u64;
    let linux_rate = i.srtt.filter(|d| !d.is_zero()).map(|srtt| {
        let ratio = if i.cwnd < i.ssthresh / 2 { 2.0 } else { 1.2 };
        let segs = cwnd_segs.max(unacked_segments(i, mss) as u64);
        (ratio * (segs * mss as u64) as f64 / srtt.as_secs_f64()) as u64
    });
    if let Some(rate) = i.pacing_rate.or(linux_rate).filter(|&r| r > 0) {
        let _ = write!(
            s,
            " pacing_rate {}bps",
            bw(rate as f64 * 8.0, style.numeric)
        );
    }
    if let Some(rate) = i.delivery_rate.filter(|&r| r > 0) {
        let _ = write!(
            s,
            " delivery_rate {}bps",
            bw(rate as f64 * 8.0, style.numeric)
        );
    }
    let syn_acked = i.snd_una != i.iss;
    let delivered = i.delivered.div_ceil(mss as u64) + u64::from(syn_acked);
    if delivered > 0 {
        let _ = write!(s, " delivered:{delivered}");
    }
    if i.app_limited {
        s.push_str(" app_limited");
    }
    // What held the sender, within the time it had data to send.
    if !i.busy_time.is_zero() {
        let busy = i.busy_time.as_millis();
        let _ = write!(s, " busy:{busy}ms");
        for (word, d) in [
            ("rwnd_limited", i.rwnd_limited),
            ("sndbuf_limited", i.sndbuf_limited),
        ] {
            if !d.is_zero() {
                let share = 100.0 * d.as_secs_f64() / i.busy_time.as_secs_f64();
                let _ = write!(s, " {word}:{}ms({share:.1}%)", d.as_millis());
            }
        }
    }
    let unacked = unacked_segments(i, mss);
    if unacked > 0 {
        let _ = write!(s, " unacked:{unacked}");
    }
    if i.retrans_out > 0 || i.retrans_segs > 0 {
        let _ = write!(s, " retrans:{}/{}", i.retrans_out, i.retrans_segs);
    }
    if i.lost > 0 {
        let _ = write!(s, " lost:{}", i.lost);
    }
    if i.sacked > 0 {
        let _ = write!(s, " sacked:{}", i.sacked);
    }
    if i.dsack_dups > 0 {
        let _ = write!(s, " dsack_dups:{}", i.dsack_dups);
    }
    if i.reordering != 3 {
        let _ = write!(s, " reordering:{}", i.reordering);
    }
    if i.reord_seen > 0 {
        let _ = write!(s, " reord_seen:{}", i.reord_seen);
    }
    if i.notsent > 0 {
        let _ = write!(s, " notsent:{}", i.notsent);
    }
    if let Some(m) = i.min_rtt {
        let _ = write!(s, " minrtt:{}", ms(m));
    }
    if i.snd_wnd > 0 {
        let _ = write!(s, " snd_wnd:{}", i.snd_wnd);
    }
    s
}

/// Linux's packets_out: sent and not cumulatively acknowledged.
fn unacked_segments(i: &tcplab_stack::TcpInfo, mss: usize) -> usize {
    (i.snd_max.diff(i.snd_una).max(0) as usize).div_ceil(mss)
}

/// `ss -s`. `frag`: the datagrams the host is reassembling (Linux's
/// sockstat `FRAG: inuse`).
pub fn summary(rows: &[SockRow], frag: usize) -> Vec<String> {
    let tcp: Vec<&SockRow> = rows.iter().filter(|r| r.netid == Netid::Tcp).collect();
    let udp = rows.iter().filter(|r| r.netid == Netid::Udp).count();
    let estab = tcp
        .iter()
        .filter(|r| matches!(r.state, SockState::Tcp(TcpState::Established)))
        .count();
    let timewait = tcp
        .iter()
        .filter(|r| matches!(r.state, SockState::Tcp(TcpState::TimeWait)))
        .count();
    let closed = tcp
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                SockState::Tcp(TcpState::Closed | TcpState::TimeWait)
            )
        })
        .count();
    // Linux's orphans: connections their process has closed, still
    // finishing (not TIME-WAIT, not a half-open SYN-RECV entry, not one
    // waiting in an accept queue).
    let orphaned = tcp
        .iter()
        .filter(|r| {
            r.process.is_none()
                && matches!(
                    r.state,
                    SockState::Tcp(
                        TcpState::FinWait1
                            | TcpState::FinWait2
                            | TcpState::Closing
                            | TcpState::LastAck
                    )
                )
        })
        .count();
    let tcp_open = tcp.len() - closed;
    vec![
        format!("Total: {}", rows.len()),
        format!(
            "TCP:   {} (estab {estab}, closed {closed}, orphaned {orphaned}, timewait {timewait})",
            tcp.len()
        ),
        String::new(),
        "Transport Total     IP        IPv6".into(),
        format!("RAW\t  {:<9} {:<9} {:<9}", 0, 0, 0),
        format!("UDP\t  {:<9} {:<9} {:<9}", udp, udp, 0),
        format!("TCP\t  {:<9} {:<9} {:<9}", tcp_open, tcp_open, 0),
        format!(
            "INET\t  {:<9} {:<9} {:<9}",
            tcp_open + udp,
            tcp_open + udp,
            0
        ),
        format!("FRAG\t  {:<9} {:<9} {:<9}", frag, frag, 0),
        String::new(),
    ]
}

pub async fn run(host: Host, mut a: SsArgs, mut out: Output, mut err: Output) -> i32 {
    // The filter's host names, looked up as iproute2 looks them up while
    // it reads the filter: one nobody knows is its address error.
    for name in host_names(&a.filter, a.unix_preferred()) {
        match crate::resolve::lookup(&host, &name).await {
            Ok(addr) => a.hosts.push((name, addr)),
            Err(_) => {
                err.line(format!(
                    "Error: an inet prefix is expected rather than \"{name}\"."
                ));
                err.line("Cannot parse dst/src address.");
                return 1;
            }
        }
    }
    let rows = snapshot(&host);
    let lines = if a.summary {
        summary(&rows, host.with_stack(|s| s.reassembly_queues()))
    } else {
        render(&rows, &a)
    };
    for l in lines {
        out.line(l);
    }
    0
}

#[cfg(test)]
mod tests;
