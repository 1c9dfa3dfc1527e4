//! The grammar of packetdrill's `parser.y`, for what scripts of the
//! nplab dialect use: options, then `time action` events.

use super::lex::{tokens, Tok, Token};
use super::Error;

/// A parsed script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// `--name=value` options, in order (`--name` alone has no value).
    pub options: Vec<ScriptOption>,
    /// A backtick command before the first event, with no time
    /// (`opt_init_command` in packetdrill's grammar), and its line.
    pub init: Option<(usize, String)>,
    pub events: Vec<Event>,
    /// A backtick command after the last event, with no time
    /// (`opt_cleanup_command`), and its line.
    pub cleanup: Option<(usize, String)>,
}

/// `--name=value` at the head of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOption {
    pub name: String,
    pub value: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The line of the event's time.
    pub line: usize,
    pub time: Time,
    pub action: Action,
}

/// When an event happens, in microseconds of script time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    Absolute(i64),
    /// After the previous event.
    Relative(i64),
    /// `*`: any time (outbound packets only).
    Any,
    /// `a~b` (both absolute or both relative): a window.
    Range {
        start: i64,
        end: i64,
        relative: bool,
    },
    /// `a...b`: a blocking call from `a` to `b` (`b` with `a`'s anchor).
    Blocking {
        start: i64,
        end: i64,
        relative: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Packet(PacketSpec),
    Icmp(IcmpSpec),
    Syscall(Syscall),
    Shell(String),
    Code(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the script injects it.
    Inbound,
    /// `>`: the stack must send it.
    Outbound,
}

/// TCP flags as letters (`S`, `.`, `F`, `R`, `P`, `U`, `E`, `W`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
    pub ece: bool,
    pub cwr: bool,
}

/// The sequence part of a packet line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seq {
    /// `start:end(len)`, relative to the sender's ISN; `absolute` with `!`.
    Range {
        start: u32,
        end: u32,
        len: u32,
        absolute: bool,
    },
    /// `...(len)`: not checked.
    Unchecked { len: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    Nop,
    Eol,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// SACK blocks `left:right`, relative to the receiver's view.
    Sack(Vec<(u32, u32)>),
    /// `TS val V ecr E`; `val` `None` for `val ...`; `ecr_absolute` for `!`.
    Timestamp {
        val: Option<u32>,
        ecr: u32,
        ecr_absolute: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PacketSpec {
    pub direction: Direction,
    /// `(tos 0x28)`, `(ttl 3)`: name and value.
    pub ip: Vec<(String, i64)>,
    pub flags: Flags,
    pub seq: Seq,
    pub ack: Option<u32>,
    pub win: Option<u32>,
    pub urg: Option<u32>,
    /// `None`: `<...>`, unchecked; `Some(empty)`: no option list, so none.
    pub options: Option<Vec<TcpOption>>,
}

/// An injected ICMP message quoting a TCP segment of the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct IcmpSpec {
    pub ip: Vec<(String, i64)>,
    pub kind: String,
    pub code: Option<String>,
    pub mtu: Option<u32>,
    pub quoted: Option<Seq>,
}

/// A value in a system call: arguments and results.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Int(i64),
    /// `...`: whatever the runner supplies.
    Ellipsis,
    /// A symbol (`SOCK_STREAM`, `ECONNRESET`), or several or-ed
    /// (`O_RDWR | O_NONBLOCK`).
    Symbols(Vec<String>),
    /// `[x, y]`: a pointer to these values.
    List(Vec<Expr>),
    /// `{...}`: a structure, kept as its tokens' text.
    Struct(String),
    /// `"text"` (a congestion control's name for `TCP_CONGESTION`).
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Expr>,
    /// The expected result: a number, or `-1` with an errno name.
    pub result: Expr,
    pub errno: Option<String>,
    /// The parenthesised text after the result (`(Operation now in
    /// progress)`, `(flags O_RDWR)`), not checked.
    pub note: Option<String>,
}

/// Parse a script; `defined` are the `NAME` or `NAME=VALUE` definitions:
/// names `#ifdef` keeps (the suite's README asks for `STANDARD`, and
/// `FreeBSD` left undefined), and words standing for values.
pub fn parse(text: &str, defined: &[&str]) -> Result<Script, Error> {
    let toks = tokens(text, defined)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let mut options = Vec::new();
    while let Some(Tok::Opt(o)) = p.peek() {
        let (name, value) = match o.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (o.clone(), None),
        };
        let line = p.line();
        options.push(ScriptOption { name, value, line });
        p.i += 1;
    }
    let untimed = |p: &mut Parser| match p.peek() {
        Some(Tok::Shell(cmd)) => {
            let cmd = (p.line(), cmd.clone());
            p.i += 1;
            Some(cmd)
        }
        _ => None,
    };
    let init = untimed(&mut p);
    let mut events = Vec::new();
    let mut cleanup = None;
    while p.peek().is_some() {
        if p.peek_at(1).is_none() && !events.is_empty() {
            if let Some(cmd) = untimed(&mut p) {
                cleanup = Some(cmd);
                break;
            }
        }
        events.push(p.event()?);
    }
    // packetdrill's grammar needs at least one event: an empty (or
    // truncated-to-nothing) script is a syntax error, not a pass.
    let Some(first) = events.first() else {
        let end = text.lines().count().max(1);
        return Err(Error::at(
            end,
            "syntax error: a script needs at least one event",
        ));
    };
    let zero = matches!(first.time, Time::Absolute(0) | Time::Relative(0));
    if !zero {
        return Err(Error::at(first.line, "first event should be at time 0"));
    }
    Ok(Script {
        options,
        init,
        events,
        cleanup,
    })
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// `[` lists open now in a system call's value.
    depth: usize,
}

/// How deep `[` lists may nest in a value (packetdrill's bison parser
/// gives up at 10,000 with "memory exhausted"; no script nests more
/// than a few).
const MAX_LIST_DEPTH: usize = 100;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.i + k).map(|t| &t.tok)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.i)
            .or(self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, Error> {
        Err(Error::at(self.line(), message))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|t| t.tok.clone());
        self.i += 1;
        t
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn expect_punct(&mut self, c: char) -> Result<(), Error> {
        if self.is_punct(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(format!("expected `{c}`, found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the script".into(),
            Some(Tok::Int(n)) => format!("`{n}`"),
            Some(Tok::Float(f)) => format!("`{f}`"),
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(Tok::Opt(o)) => format!("`--{o}`"),
            Some(Tok::Shell(_)) => "a backtick command".into(),
            Some(Tok::Code(_)) => "a %{ }% block".into(),
            Some(Tok::Str(t)) => format!("the string \"{t}\""),
            Some(Tok::Ellipsis) => "`...`".into(),
            Some(Tok::Punct(c)) => format!("`{c}`"),
        }
    }

    fn int(&mut self) -> Result<i64, Error> {
        let negative = self.is_punct('-');
        if negative {
            self.i += 1;
        }
        match self.peek() {
            Some(Tok::Int(n)) => {
                let n = *n;
                self.i += 1;
                Ok(if negative { -n } else { n })
            }
            _ => self.err(format!("expected a number, found {}", self.describe())),
        }
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let n = self.int()?;
        u32::try_from(n).or_else(|_| self.err(format!("{n} is not a 32-bit unsigned number")))
    }

    /// Seconds (an integer or a fraction) as microseconds.
    fn seconds(&mut self) -> Result<i64, Error> {
        let secs = match self.peek() {
            Some(Tok::Int(n)) => *n as f64,
            Some(Tok::Float(f)) => *f,
            _ => return self.err(format!("expected a time, found {}", self.describe())),
        };
        self.i += 1;
        if !(0.0..1e9).contains(&secs) {
            return self.err(format!("time {secs} out of range"));
        }
        Ok((secs * 1e6).round() as i64)
    }

    fn time(&mut self) -> Result<Time, Error> {
        if self.is_punct('*') {
            self.i += 1;
            return Ok(Time::Any);
        }
        let relative = self.is_punct('+');
        if relative {
            self.i += 1;
        }
        let start = self.seconds()?;
        if self.is_punct('~') {
            self.i += 1;
            let end_relative = self.is_punct('+');
            if end_relative {
                self.i += 1;
            }
            if end_relative != relative {
                return self.err("both ends of a time range must be absolute, or both relative");
            }
            let end = self.seconds()?;
            if end < start {
                return self.err("a time range must not end before it starts");
            }
            return Ok(Time::Range {
                start,
                end,
                relative,
            });
        }
        if self.peek() == Some(&Tok::Ellipsis) {
            self.i += 1;
            let end = self.seconds()?;
            if end < start {
                return self.err("a blocking call must not return before it starts");
            }
            return Ok(Time::Blocking {
                start,
                end,
                relative,
            });
        }
        Ok(if relative {
            Time::Relative(start)
        } else {
            Time::Absolute(start)
        })
    }

    fn event(&mut self) -> Result<Event, Error> {
        let line = self.line();
        let time = self.time()?;
        let action = match self.peek() {
            Some(Tok::Shell(s)) => {
                let s = s.clone();
                self.i += 1;
                Action::Shell(s)
            }
            Some(Tok::Code(s)) => {
                let s = s.clone();
                self.i += 1;
                Action::Code(s)
            }
            Some(Tok::Punct('<')) | Some(Tok::Punct('>')) => self.packet()?,
            Some(Tok::Word(_)) if self.peek_at(1) == Some(&Tok::Punct('(')) => {
                Action::Syscall(self.syscall()?)
            }
            _ => return self.err(format!("expected an event, found {}", self.describe())),
        };
        let outbound = matches!(&action, Action::Packet(p) if p.direction == Direction::Outbound);
        if matches!(time, Time::Any | Time::Range { .. }) && !outbound {
            return Err(Error::at(
                line,
                "`*` and time ranges are for outbound packets only",
            ));
        }
        if matches!(time, Time::Blocking { .. }) && !matches!(action, Action::Syscall(_)) {
            return Err(Error::at(line, "only a system call can block"));
        }
        Ok(Event { line, time, action })
    }

    /// `(tos 0x28, ttl 3)` after the direction.
    fn ip_info(&mut self) -> Result<Vec<(String, i64)>, Error> {
        let mut info = Vec::new();
        let close = match self.peek() {
            Some(Tok::Punct('(')) => ')',
            Some(Tok::Punct('[')) => ']',
            _ => return Ok(info),
        };
        self.i += 1;
        loop {
            let Some(Tok::Word(name)) = self.next() else {
                self.i -= 1;
                return self.err(format!("expected an IP field, found {}", self.describe()));
            };
            let value = self.int()?;
            info.push((name, value));
            if self.is_punct(',') {
                self.i += 1;
                continue;
            }
            self.expect_punct(close)?;
            return Ok(info);
        }
    }

    fn packet(&mut self) -> Result<Action, Error> {
        let direction = if self.next() == Some(Tok::Punct('<')) {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let ip = self.ip_info()?;
        if self.is_word("icmp") {
            if direction == Direction::Outbound {
                return self.err("outbound ICMP packets are not supported");
            }
            self.i += 1;
            return Ok(Action::Icmp(self.icmp(ip)?));
        }
        let flags = self.flags()?;
        let seq = self.seq()?;
        let (mut ack, mut win, mut urg) = (None, None, None);
        let mut options = Some(Vec::new());
        loop {
            if self.is_word("ack") {
                self.i += 1;
                ack = Some(self.u32()?);
            } else if self.is_word("win") {
                self.i += 1;
                win = Some(self.u32()?);
            } else if self.is_word("urg") {
                self.i += 1;
                urg = Some(self.u32()?);
            } else if self.is_punct('<') {
                self.i += 1;
                options = self.tcp_options()?;
            } else {
                break;
            }
        }
        if direction == Direction::Inbound && win.is_none() {
            return self.err("window must be specified for inbound packets");
        }
        if direction == Direction::Inbound && options.is_none() {
            return self.err("<...> is for outbound packets only");
        }
        Ok(Action::Packet(PacketSpec {
            direction,
            ip,
            flags,
            seq,
            ack,
            win,
            urg,
            options,
        }))
    }

    /// Flag letters, split by the lexer into words and `.` (`S.` is `S`
    /// then `.`); `-` alone is no flags.
    fn flags(&mut self) -> Result<Flags, Error> {
        let mut f = Flags::default();
        let mut any = false;
        if self.is_punct('-') {
            self.i += 1;
            return Ok(f);
        }
        loop {
            match self.peek() {
                Some(Tok::Punct('.')) => {
                    f.ack = true;
                    any = true;
                    self.i += 1;
                }
                Some(Tok::Word(w)) if w.chars().all(|c| "SFRPUEW".contains(c)) => {
                    for c in w.chars() {
                        match c {
                            'S' => f.syn = true,
                            'F' => f.fin = true,
                            'R' => f.rst = true,
                            'P' => f.psh = true,
                            'U' => f.urg = true,
                            'E' => f.ece = true,
                            _ => f.cwr = true,
                        }
                    }
                    any = true;
                    self.i += 1;
                }
                _ => break,
            }
        }
        if !any {
            return self.err(format!("expected TCP flags, found {}", self.describe()));
        }
        Ok(f)
    }

    /// `start:end(len)[!]` or `...(len)`.
    /// packetdrill's parser takes a payload size that fits 16 bits.
    fn payload_size(len: u32) -> Result<(), String> {
        if len > u32::from(u16::MAX) {
            return Err("TCP payload size out of range".into());
        }
        Ok(())
    }

    fn seq(&mut self) -> Result<Seq, Error> {
        if self.peek() == Some(&Tok::Ellipsis) {
            self.i += 1;
            self.expect_punct('(')?;
            let len = self.u32()?;
            self.expect_punct(')')?;
            Self::payload_size(len).or_else(|m| self.err(m))?;
            return Ok(Seq::Unchecked { len });
        }
        let start = self.u32()?;
        self.expect_punct(':')?;
        let end = self.u32()?;
        self.expect_punct('(')?;
        let len = self.u32()?;
        self.expect_punct(')')?;
        Self::payload_size(len).or_else(|m| self.err(m))?;
        if end.wrapping_sub(start) != len {
            return self.err(format!(
                "inconsistent segment: {start}:{end} is not {len} bytes"
            ));
        }
        let absolute = self.is_punct('!');
        if absolute {
            self.i += 1;
        }
        Ok(Seq::Range {
            start,
            end,
            len,
            absolute,
        })
    }

    /// After `<`: the list up to `>`, or `None` for `<...>`.
    fn tcp_options(&mut self) -> Result<Option<Vec<TcpOption>>, Error> {
        if self.peek() == Some(&Tok::Ellipsis) {
            self.i += 1;
            self.expect_punct('>')?;
            return Ok(None);
        }
        let mut list = Vec::new();
        loop {
            let Some(Tok::Word(w)) = self.next() else {
                self.i -= 1;
                return self.err(format!("expected a TCP option, found {}", self.describe()));
            };
            let opt = match w.as_str() {
                "nop" => TcpOption::Nop,
                "eol" => TcpOption::Eol,
                "sackOK" => TcpOption::SackPermitted,
                "mss" => {
                    let n = self.int()?;
                    TcpOption::Mss(
                        u16::try_from(n).or_else(|_| self.err(format!("mss {n} out of range")))?,
                    )
                }
                "wscale" => {
                    let n = self.int()?;
                    TcpOption::WindowScale(
                        u8::try_from(n)
                            .or_else(|_| self.err(format!("wscale {n} out of range")))?,
                    )
                }
                "sack" => {
                    let mut blocks = Vec::new();
                    while matches!(self.peek(), Some(Tok::Int(_))) {
                        let l = self.u32()?;
                        self.expect_punct(':')?;
                        let r = self.u32()?;
                        blocks.push((l, r));
                    }
                    TcpOption::Sack(blocks)
                }
                "TS" => {
                    if !self.is_word("val") {
                        return self.err("expected `val` after TS");
                    }
                    self.i += 1;
                    let val = if self.peek() == Some(&Tok::Ellipsis) {
                        self.i += 1;
                        None
                    } else {
                        Some(self.u32()?)
                    };
                    if !self.is_word("ecr") {
                        return self.err("expected `ecr` in TS");
                    }
                    self.i += 1;
                    let ecr = self.u32()?;
                    let ecr_absolute = self.is_punct('!');
                    if ecr_absolute {
                        self.i += 1;
                    }
                    TcpOption::Timestamp {
                        val,
                        ecr,
                        ecr_absolute,
                    }
                }
                other => {
                    self.i -= 1;
                    return self.err(format!("unknown TCP option `{other}`"));
                }
            };
            list.push(opt);
            if self.is_punct(',') {
                self.i += 1;
                continue;
            }
            self.expect_punct('>')?;
            return Ok(Some(list));
        }
    }

    /// After `icmp`: `TYPE [CODE] [mtu N] [[seq]]`.
    fn icmp(&mut self, ip: Vec<(String, i64)>) -> Result<IcmpSpec, Error> {
        let Some(Tok::Word(kind)) = self.next() else {
            self.i -= 1;
            return self.err(format!("expected an ICMP type, found {}", self.describe()));
        };
        let code = match self.peek() {
            Some(Tok::Word(w)) if w != "mtu" => {
                let w = w.clone();
                self.i += 1;
                Some(w)
            }
            _ => None,
        };
        let mut mtu = None;
        if self.is_word("mtu") {
            self.i += 1;
            mtu = Some(self.u32()?);
        }
        let mut quoted = None;
        if self.is_punct('[') {
            self.i += 1;
            quoted = Some(self.seq()?);
            self.expect_punct(']')?;
        }
        Ok(IcmpSpec {
            ip,
            kind,
            code,
            mtu,
            quoted,
        })
    }

    fn syscall(&mut self) -> Result<Syscall, Error> {
        let Some(Tok::Word(name)) = self.next() else {
            unreachable!("checked by the caller");
        };
        self.expect_punct('(')?;
        let mut args = Vec::new();
        if !self.is_punct(')') {
            loop {
                args.push(self.expr()?);
                if self.is_punct(',') {
                    self.i += 1;
                    continue;
                }
                break;
            }
        }
        self.expect_punct(')')?;
        self.expect_punct('=')?;
        let result = self.expr()?;
        let errno = match self.peek() {
            Some(Tok::Word(w)) if w.starts_with('E') => {
                let w = w.clone();
                self.i += 1;
                Some(w)
            }
            _ => None,
        };
        let mut note = None;
        if self.is_punct('(') {
            note = Some(self.balanced('(', ')')?);
        }
        Ok(Syscall {
            name,
            args,
            result,
            errno,
            note,
        })
    }

    /// The text between `open` and its matching `close`, tokens joined by
    /// spaces.
    fn balanced(&mut self, open: char, close: char) -> Result<String, Error> {
        let line = self.line();
        self.expect_punct(open)?;
        let mut depth = 1;
        let mut words = Vec::new();
        while let Some(t) = self.next() {
            match t {
                Tok::Punct(c) if c == open => depth += 1,
                Tok::Punct(c) if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(words.join(" "));
                    }
                }
                _ => {}
            }
            words.push(match t {
                Tok::Int(n) => n.to_string(),
                Tok::Float(f) => f.to_string(),
                Tok::Word(w) => w,
                Tok::Punct(c) => c.to_string(),
                Tok::Ellipsis => "...".into(),
                Tok::Opt(o) => format!("--{o}"),
                Tok::Shell(s) => format!("`{s}`"),
                Tok::Code(s) => s,
                Tok::Str(s) => format!("\"{s}\""),
            });
        }
        Err(Error::at(line, format!("unclosed `{open}`")))
    }

    fn expr(&mut self) -> Result<Expr, Error> {
        match self.peek() {
            Some(Tok::Ellipsis) => {
                self.i += 1;
                Ok(Expr::Ellipsis)
            }
            Some(Tok::Int(_)) | Some(Tok::Punct('-')) => Ok(Expr::Int(self.int()?)),
            Some(Tok::Word(_)) => {
                let mut names = Vec::new();
                loop {
                    let Some(Tok::Word(w)) = self.next() else {
                        self.i -= 1;
                        return self.err(format!("expected a symbol, found {}", self.describe()));
                    };
                    names.push(w);
                    if self.is_punct('|') {
                        self.i += 1;
                        continue;
                    }
                    return Ok(Expr::Symbols(names));
                }
            }
            Some(Tok::Punct('[')) => {
                if self.depth >= MAX_LIST_DEPTH {
                    return self.err(format!("lists nested more than {MAX_LIST_DEPTH} deep"));
                }
                self.i += 1;
                self.depth += 1;
                let mut items = Vec::new();
                if !self.is_punct(']') {
                    loop {
                        items.push(self.expr()?);
                        if self.is_punct(',') {
                            self.i += 1;
                            continue;
                        }
                        break;
                    }
                }
                self.depth -= 1;
                self.expect_punct(']')?;
                Ok(Expr::List(items))
            }
            Some(Tok::Punct('{')) => Ok(Expr::Struct(self.balanced('{', '}')?)),
            Some(Tok::Str(t)) => {
                let t = t.clone();
                self.i += 1;
                Ok(Expr::Str(t))
            }
            _ => self.err(format!("expected a value, found {}", self.describe())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nest_a_bounded_depth() {
        let script = |n: usize| {
            format!(
                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, {}1{}, 4) = 0\n",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(parse(&script(50), &[]).is_ok());
        let e = parse(&script(100_000), &[]).unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "lists nested more than 100 deep")
        );
    }

    #[test]
    fn a_closed_state_script() {
        let s = parse(
            "--ip_version=ipv4\n--tolerance_usecs=50000\n\
             0.00 `sysctl -w net.inet.tcp.rfc1323=1`\n\
             +0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n\
             +0.10 <  . 17:20(3) ack 34 win 32767\n\
             +0.00 > R  34:34(0) win  0\n\
             +0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n\
             +0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
             +0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             * > . 1:1(0) ack 1 <...>\n\
             1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)\n",
            &["STANDARD"],
        )
        .unwrap();
        assert_eq!(
            (s.options[1].name.as_str(), s.options[1].value.as_deref()),
            ("tolerance_usecs", Some("50000"))
        );
        assert_eq!(s.events.len(), 10);
        let Action::Packet(p) = &s.events[3].action else {
            panic!()
        };
        assert!(p.flags.ack && !p.flags.syn);
        assert_eq!(
            (p.seq, p.ack, p.win),
            (
                Seq::Range {
                    start: 17,
                    end: 20,
                    len: 3,
                    absolute: false
                },
                Some(34),
                Some(32767)
            )
        );
        assert_eq!(p.options, Some(vec![]));
        let Action::Syscall(c) = &s.events[6].action else {
            panic!()
        };
        assert_eq!(
            (c.result.clone(), c.errno.as_deref()),
            (Expr::Int(-1), Some("EINPROGRESS"))
        );
        let Action::Packet(syn) = &s.events[7].action else {
            panic!()
        };
        assert_eq!(
            syn.options.as_ref().unwrap()[4],
            TcpOption::Timestamp {
                val: Some(100),
                ecr: 0,
                ecr_absolute: false
            }
        );
        assert_eq!(s.events[8].time, Time::Any);
        assert_eq!(
            s.events[9].time,
            Time::Blocking {
                start: 1_000_000,
                end: 6_000_000,
                relative: false
            }
        );
    }

    /// Bad input is an error, never a panic: every prefix of a script, and
    /// the script with bytes changed one at a time.
    #[test]
    fn truncated_and_mangled_scripts_never_panic() {
        let text = "--ip_version=ipv4\n0 `x`\n+0.1 < S. 0:0(0) ack 1 win 5 <mss 1460,sack 1:2 3:4,TS val 1 ecr 2!,eol>\n\
                    0.2~+0.3 > (tos 0x20) R 1:1(0) win 0\n+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1}, [8]) = -1 EINVAL (x (y))\n\
                    +0 < icmp unreachable frag_needed mtu 1200 [1:1(0)]\n#ifdef STANDARD\n+0 %{ a }%\n#endif\n";
        for end in 0..=text.len() {
            let _ = parse(&text[..end], &["STANDARD"]);
        }
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for b in [
                b'(', b')', b'<', b'>', b'.', b'0', b'-', b'`', b'%', b'#', b'\n', b'!',
            ] {
                let mut m = bytes.to_vec();
                m[i] = b;
                let _ = parse(&String::from_utf8_lossy(&m), &["STANDARD"]);
            }
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| parse(t, &[]).unwrap_err().to_string();
        assert_eq!(
            e("0 < S 0:0(0)\n"),
            "line 1: window must be specified for inbound packets"
        );
        assert_eq!(
            e("0 socket()= 3\n+0 < S 0:5(0) win 1\n"),
            "line 2: inconsistent segment: 0:5 is not 0 bytes"
        );
        assert_eq!(
            e("0 > P. 1:65537(65536) ack 1\n"),
            "line 1: TCP payload size out of range"
        );
        assert_eq!(
            e("1 socket() = 3\n"),
            "line 1: first event should be at time 0"
        );
        assert_eq!(
            e("0 > S 0:0(0) <mss 99999>"),
            "line 1: mss 99999 out of range"
        );
        assert_eq!(
            e("0 < S 0:0(0) win 1 <...>"),
            "line 1: <...> is for outbound packets only"
        );
        assert_eq!(
            e("+0 socket(\n"),
            "line 1: expected a value, found the end of the script"
        );
        assert_eq!(
            e("0 * socket() = 3"),
            "line 1: expected an event, found `*`"
        );
        // No event at all: a syntax error, as packetdrill's grammar has it.
        for empty in ["", "// only a comment\n", "--tolerance_usecs=1000\n\n"] {
            assert!(
                e(empty).ends_with("syntax error: a script needs at least one event"),
                "{empty:?}: {}",
                e(empty)
            );
        }
    }

    /// packetdrill's grammar: an init command before the events and a
    /// cleanup command after them, neither with a time; options keep
    /// their lines.
    #[test]
    fn init_and_cleanup_commands_have_no_time() {
        let s = parse(
            "// a comment\n--tolerance_usecs=5000\n\n--mtu=1500\n`init`\n0 `first`\n+0 `second`\n`cleanup`\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.options[1].line, 4);
        assert_eq!(s.init, Some((5, "init".to_string())));
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.cleanup, Some((8, "cleanup".to_string())));
        // A command with no time between events is still an error.
        let e = parse("0 `a`\n`b`\n+0 `c`\n", &[]).unwrap_err();
        assert_eq!(e.line, 2);
    }
}
