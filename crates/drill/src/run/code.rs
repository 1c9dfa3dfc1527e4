//! The Python of packetdrill's `%{ … }%` blocks, as far as TCP tests use
//! it: `assert EXPR[, MESSAGE]`, `NAME = EXPR`, `NAME += EXPR` (and `-=`),
//! and `print(…)`, over integers, strings and the `tcpi_*` fields of the
//! socket's TCP_INFO at that moment. Names assigned in one block are seen
//! by later ones (packetdrill runs every block in one interpreter).
//! Anything else is an error naming what is not understood: a script
//! never passes on Python tcplab did not evaluate.

use std::collections::HashMap;

use tcplab_stack::tcp::{State, TcpInfo};

/// A value: Python's int (bools are 0 and 1), a string, or a connection
/// state, which compares equal to its Linux (`TCP_ESTABLISHED`) and its
/// FreeBSD (`TCPI_ESTABLISHED`) constant alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Int(i128),
    /// A comparison's or `not`'s result: Python's bool, an int that
    /// prints as `True` or `False`.
    Bool(bool),
    Str(String),
    State(&'static str),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Str(s) => write!(f, "{s}"),
            Value::State(s) => write!(f, "{s}"),
        }
    }
}

/// What a block sees: the socket's state (a listener or a socket without
/// a connection has no TCP_INFO beyond its state) and its TCP_INFO.
pub(super) struct Snapshot<'a> {
    pub state: &'static str,
    pub info: Option<&'a TcpInfo>,
}

/// The canonical name of a connection state (FreeBSD's `TCPI_` spelling).
pub(super) fn state_key(s: State) -> &'static str {
    match s {
        State::SynSent => "SYN_SENT",
        State::SynReceived => "SYN_RECEIVED",
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

/// Constants a block may name: Linux's and FreeBSD's state names, the
/// congestion-avoidance states and option bits (the same bits on both).
fn constant(name: &str) -> Option<Value> {
    let state = |s| Some(Value::State(s));
    let int = |n| Some(Value::Int(n));
    match name {
        "True" => Some(Value::Bool(true)),
        "False" => Some(Value::Bool(false)),
        "TCP_INFINITE_SSTHRESH" => int(0x7fff_ffff),
        "TCP_ESTABLISHED" | "TCPI_ESTABLISHED" => state("ESTABLISHED"),
        "TCP_SYN_SENT" | "TCPI_SYN_SENT" => state("SYN_SENT"),
        "TCP_SYN_RECV" | "TCPI_SYN_RECEIVED" => state("SYN_RECEIVED"),
        "TCP_FIN_WAIT1" | "TCPI_FIN_WAIT_1" => state("FIN_WAIT_1"),
        "TCP_FIN_WAIT2" | "TCPI_FIN_WAIT_2" => state("FIN_WAIT_2"),
        "TCP_TIME_WAIT" | "TCPI_TIME_WAIT" => state("TIME_WAIT"),
        "TCP_CLOSE" | "TCPI_CLOSED" => state("CLOSED"),
        "TCP_CLOSE_WAIT" | "TCPI_CLOSE_WAIT" => state("CLOSE_WAIT"),
        "TCP_LAST_ACK" | "TCPI_LAST_ACK" => state("LAST_ACK"),
        "TCP_LISTEN" | "TCPI_LISTEN" => state("LISTEN"),
        "TCP_CLOSING" | "TCPI_CLOSING" => state("CLOSING"),
        "TCP_CA_Open" => int(0),
        "TCP_CA_Disorder" => int(1),
        "TCP_CA_CWR" => int(2),
        "TCP_CA_Recovery" => int(3),
        "TCP_CA_Loss" => int(4),
        "TCPI_OPT_TIMESTAMPS" => int(1),
        "TCPI_OPT_SACK" => int(2),
        "TCPI_OPT_WSCALE" => int(4),
        "TCPI_OPT_ECN" => int(8),
        "TCPI_OPT_ECN_SEEN" => int(16),
        "TCPI_OPT_SYN_DATA" => int(32),
        _ => None,
    }
}

/// A `tcpi_*` field, in Linux's units (segments for windows,
/// microseconds for times). Fields tcplab cannot report exactly are an
/// error rather than a guess.
fn tcpi(name: &str, snap: &Snapshot<'_>) -> Result<Value, String> {
    if name == "tcpi_state" {
        return Ok(Value::State(snap.state));
    }
    let Some(i) = snap.info else {
        // No connection: every counter is zero, as in a fresh tcp_info.
        return match name {
            "tcpi_options" | "tcpi_ca_state" | "tcpi_unacked" | "tcpi_sacked" | "tcpi_lost"
            | "tcpi_retrans" | "tcpi_total_retrans" => Ok(Value::Int(0)),
            _ => Err(format!("{name}: the socket has no connection")),
        };
    };
    let mss = i.mss.max(1) as i128;
    let us = |d: std::time::Duration| d.as_micros() as i128;
    let n = match name {
        // Bits as Linux and FreeBSD set them: timestamps 1, SACK 2,
        // window scaling 4 (both sides offered it).
        "tcpi_options" => {
            i128::from(i.timestamps)
                | i128::from(i.sack) << 1
                | i128::from(i.snd_wscale > 0 || i.rcv_wscale > 0) << 2
        }
        "tcpi_ca_state" => match i.ca_state {
            "open" => 0,
            "disorder" => 1,
            "cwr" => 2,
            "recovery" => 3,
            "loss" => 4,
            other => return Err(format!("{name}: unknown state `{other}`")),
        },
        "tcpi_snd_cwnd" => i.cwnd as i128 / mss,
        "tcpi_snd_ssthresh" => (i.ssthresh as i128 / mss).min(0x7fff_ffff),
        "tcpi_snd_mss" => i.mss as i128,
        "tcpi_rcv_mss" => i.rcv_mss as i128,
        "tcpi_snd_wscale" => i128::from(i.snd_wscale),
        "tcpi_rcv_wscale" => i128::from(i.rcv_wscale),
        "tcpi_rto" => us(i.rto),
        "tcpi_rtt" => i.srtt.map_or(0, us),
        "tcpi_rttvar" => us(i.rttvar),
        "tcpi_min_rtt" => i.min_rtt.map_or(0xffff_ffff, us),
        "tcpi_unacked" => i.unacked as i128,
        "tcpi_sacked" => i.sacked as i128,
        "tcpi_lost" => i.lost as i128,
        "tcpi_retrans" => i.retrans_out as i128,
        "tcpi_total_retrans" => i128::from(i.retrans_segs),
        "tcpi_backoff" | "tcpi_retransmits" => i128::from(i.backoff),
        "tcpi_probes" => i128::from(i.probes),
        "tcpi_advmss" => i128::from(i.adv_mss),
        "tcpi_bytes_acked" => i128::from(i.bytes_acked),
        "tcpi_bytes_received" => i128::from(i.bytes_received),
        "tcpi_segs_in" => i128::from(i.segs_in),
        "tcpi_segs_out" => i128::from(i.segs_out),
        "tcpi_bytes_sent" => i128::from(i.bytes_sent),
        "tcpi_bytes_retrans" => i128::from(i.bytes_retrans),
        "tcpi_data_segs_in" => i128::from(i.data_segs_in),
        "tcpi_data_segs_out" => i128::from(i.data_segs_out),
        "tcpi_dsack_dups" => i128::from(i.dsack_dups),
        "tcpi_reord_seen" => i128::from(i.reord_seen),
        "tcpi_reordering" => i128::from(i.reordering),
        "tcpi_notsent_bytes" => i.notsent as i128,
        "tcpi_last_data_sent" => i.last_data_sent.as_millis() as i128,
        "tcpi_last_data_recv" => i.last_data_recv.as_millis() as i128,
        "tcpi_last_ack_recv" => i.last_ack_recv.as_millis() as i128,
        "tcpi_busy_time" => us(i.busy_time),
        "tcpi_rwnd_limited" => us(i.rwnd_limited),
        "tcpi_sndbuf_limited" => us(i.sndbuf_limited),
        "tcpi_snd_wnd" => i128::from(i.snd_wnd),
        "tcpi_rcv_wnd" => i128::from(i.rcv_wnd),
        "tcpi_delivery_rate" => i128::from(i.delivery_rate.unwrap_or(0)),
        "tcpi_delivery_rate_app_limited" => i128::from(i.app_limited),
        _ => return Err(format!("{name} is not a TCP_INFO field tcplab reports")),
    };
    Ok(Value::Int(n))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i128),
    Str(String),
    Name(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "//", "<<", ">>", "==", "!=", "<=", ">=", "+=", "-=", "(", ")", ",", "+", "-", "*", "/", "%",
    "&", "|", "^", "~", "<", ">", "=",
];

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = text[start..i].replace('_', "");
            let n = if let Some(hex) = word.strip_prefix("0x").or(word.strip_prefix("0X")) {
                i128::from_str_radix(hex, 16)
            } else {
                word.parse()
            };
            out.push(Tok::Int(
                n.map_err(|_| format!("`{word}` is not an integer"))?,
            ));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(text[start..i].to_string()));
        } else if c == b'\'' || c == b'"' {
            let end = text[i + 1..].find(c as char).ok_or("unterminated string")?;
            out.push(Tok::Str(text[i + 1..i + 1 + end].to_string()));
            i += end + 2;
        } else {
            let op = OPS
                .iter()
                .find(|op| text[i..].starts_with(**op))
                .ok_or_else(|| format!("`{}` is not understood", &text[i..]))?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

/// What an arithmetic result beyond 128 bits is (Python's integers have
/// no bound; tcplab's stop there).
const OVERFLOW: &str = "OverflowError: integer beyond 128 bits";

/// Python's `a // b`: the quotient rounded towards minus infinity.
fn floor_div(a: i128, b: i128) -> Result<i128, String> {
    let q = a.checked_div(b).ok_or(OVERFLOW)?;
    Ok(if a % b != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    })
}

/// How deep parentheses and prefix operators may nest (Python's parser
/// stops at 200 parentheses: "too many nested parentheses").
const MAX_NESTING: usize = 200;

/// A recursive-descent evaluator over one statement's tokens.
struct Eval<'a, 'b> {
    toks: &'a [Tok],
    at: usize,
    vars: &'a HashMap<String, Value>,
    snap: &'a Snapshot<'b>,
    /// Parentheses and prefix operators open now (bounded, so that no
    /// script can exhaust the stack).
    depth: usize,
}

impl Eval<'_, '_> {
    /// `f` one level deeper, or a SyntaxError past `MAX_NESTING`.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_NESTING {
            return Err("SyntaxError: too many nested parentheses".into());
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.peek() == Some(&Tok::Op(static_op(op))) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(n)) if n == w) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Value, String> {
        let mut v = self.and()?;
        while self.eat_word("or") {
            let r = self.and()?;
            v = if truthy(&v) { v } else { r };
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<Value, String> {
        let mut v = self.not()?;
        while self.eat_word("and") {
            let r = self.not()?;
            v = if truthy(&v) { r } else { v };
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<Value, String> {
        if self.eat_word("not") {
            let v = self.nested(Self::not)?;
            return Ok(Value::Bool(!truthy(&v)));
        }
        self.comparison()
    }

    /// Python chains comparisons: `a <= b <= c` is `a <= b and b <= c`.
    fn comparison(&mut self) -> Result<Value, String> {
        let mut left = self.bitor()?;
        let mut result = true;
        let mut chained = false;
        while let Some(Tok::Op(op @ ("==" | "!=" | "<" | "<=" | ">" | ">="))) = self.peek() {
            let op = *op;
            self.at += 1;
            let right = self.bitor()?;
            result &= compare(&left, op, &right)?;
            chained = true;
            left = right;
        }
        Ok(if chained { Value::Bool(result) } else { left })
    }

    fn bitor(&mut self) -> Result<Value, String> {
        let mut v = self.bitxor()?;
        while self.eat_op("|") {
            let r = self.bitxor()?;
            v = Value::Int(int(&v)? | int(&r)?);
        }
        Ok(v)
    }

    fn bitxor(&mut self) -> Result<Value, String> {
        let mut v = self.bitand()?;
        while self.eat_op("^") {
            let r = self.bitand()?;
            v = Value::Int(int(&v)? ^ int(&r)?);
        }
        Ok(v)
    }

    fn bitand(&mut self) -> Result<Value, String> {
        let mut v = self.shift()?;
        while self.eat_op("&") {
            let r = self.shift()?;
            v = Value::Int(int(&v)? & int(&r)?);
        }
        Ok(v)
    }

    fn shift(&mut self) -> Result<Value, String> {
        let mut v = self.sum()?;
        loop {
            let left = self.eat_op("<<");
            if !left && !self.eat_op(">>") {
                return Ok(v);
            }
            let n = int(&self.sum()?)?;
            let s = u32::try_from(n)
                .ok()
                .filter(|&s| s < 64)
                .ok_or("shift count out of range")?;
            let x = int(&v)?;
            v = Value::Int(if left {
                // Bits shifted out of 128 are an overflow, not a wrap.
                let y = x << s;
                if y >> s != x {
                    return Err(OVERFLOW.into());
                }
                y
            } else {
                x >> s
            });
        }
    }

    fn sum(&mut self) -> Result<Value, String> {
        let mut v = self.term()?;
        loop {
            let plus = self.eat_op("+");
            if !plus && !self.eat_op("-") {
                return Ok(v);
            }
            let r = self.term()?;
            v = match (&v, &r, plus) {
                (Value::Str(a), Value::Str(b), true) => Value::Str(format!("{a}{b}")),
                _ => {
                    let (a, b) = (int(&v)?, int(&r)?);
                    Value::Int(
                        if plus {
                            a.checked_add(b)
                        } else {
                            a.checked_sub(b)
                        }
                        .ok_or(OVERFLOW)?,
                    )
                }
            };
        }
    }

    fn term(&mut self) -> Result<Value, String> {
        let mut v = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op @ ("*" | "//" | "%" | "/"))) => *op,
                _ => return Ok(v),
            };
            self.at += 1;
            let r = self.unary()?;
            v = match (op, &v) {
                // '...%d...' % value: the message of an assert.
                ("%", Value::Str(f)) => Value::Str(format_percent(f, &r)),
                _ => {
                    let (a, b) = (int(&v)?, int(&r)?);
                    if op != "*" && b == 0 {
                        return Err("ZeroDivisionError".into());
                    }
                    Value::Int(match op {
                        "*" => a.checked_mul(b).ok_or(OVERFLOW)?,
                        // Python's floor division and a remainder with
                        // the divisor's sign: 7 // -2 is -4, 7 % -2 is -1.
                        "//" => floor_div(a, b)?,
                        "%" => {
                            let r = a.checked_rem(b).unwrap_or(0);
                            if r != 0 && (r < 0) != (b < 0) {
                                r + b
                            } else {
                                r
                            }
                        }
                        // True division gives a float in Python: only
                        // exact quotients are kept here.
                        _ if a.checked_rem(b) == Some(0) => a.checked_div(b).ok_or(OVERFLOW)?,
                        _ => return Err(format!("{a} / {b} is not an integer")),
                    })
                }
            };
        }
    }

    fn unary(&mut self) -> Result<Value, String> {
        if self.eat_op("-") {
            return Ok(Value::Int(
                int(&self.nested(Self::unary)?)?
                    .checked_neg()
                    .ok_or(OVERFLOW)?,
            ));
        }
        if self.eat_op("+") {
            return Ok(Value::Int(int(&self.nested(Self::unary)?)?));
        }
        if self.eat_op("~") {
            return Ok(Value::Int(!int(&self.nested(Self::unary)?)?));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Value, String> {
        let tok = self.peek().cloned().ok_or("an expression ends early")?;
        self.at += 1;
        match tok {
            Tok::Int(n) => Ok(Value::Int(n)),
            Tok::Str(s) => Ok(Value::Str(s)),
            Tok::Op("(") => {
                let v = self.nested(Self::expr)?;
                if !self.eat_op(")") {
                    return Err("a `(` is not closed".into());
                }
                Ok(v)
            }
            Tok::Name(n) => {
                if let Some(v) = self.vars.get(&n) {
                    Ok(v.clone())
                } else if let Some(v) = constant(&n) {
                    Ok(v)
                } else if n.starts_with("tcpi_") {
                    tcpi(&n, self.snap)
                } else {
                    Err(format!("NameError: name '{n}' is not defined"))
                }
            }
            Tok::Op(op) => Err(format!("`{op}` where a value was expected")),
        }
    }
}

fn static_op(op: &str) -> &'static str {
    OPS.iter().find(|o| **o == op).copied().unwrap_or("")
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Int(n) => *n != 0,
        Value::Bool(b) => *b,
        Value::Str(s) => !s.is_empty(),
        Value::State(_) => true,
    }
}

fn int(v: &Value) -> Result<i128, String> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::Bool(b) => Ok(i128::from(*b)),
        other => Err(format!("`{other}` is not an integer")),
    }
}

fn compare(a: &Value, op: &str, b: &Value) -> Result<bool, String> {
    let ord = match (a, b) {
        (Value::Int(_) | Value::Bool(_), Value::Int(_) | Value::Bool(_)) => int(a)?.cmp(&int(b)?),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::State(x), Value::State(y)) if matches!(op, "==" | "!=") => {
            return Ok((x == y) == (op == "=="));
        }
        _ => return Err(format!("cannot compare `{a}` {op} `{b}`")),
    };
    Ok(match op {
        "==" => ord.is_eq(),
        "!=" => ord.is_ne(),
        "<" => ord.is_lt(),
        "<=" => ord.is_le(),
        ">" => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

/// `'cwnd=%d' % n`: each `%d`/`%s`/`%u`/`%x` takes the value.
fn format_percent(f: &str, v: &Value) -> String {
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                // '%d' % True is 1, '%s' % True is True.
                Some('d' | 'u' | 'i') => match v {
                    Value::Bool(b) => out.push_str(&i128::from(*b).to_string()),
                    other => out.push_str(&other.to_string()),
                },
                Some('s') => out.push_str(&v.to_string()),
                Some('x') => match v {
                    Value::Int(n) => out.push_str(&format!("{n:x}")),
                    other => out.push_str(&other.to_string()),
                },
                Some('%') => out.push('%'),
                Some(o) => {
                    out.push('%');
                    out.push(o);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Split a block into statements: lines and `;`, outside strings; a
/// backslash at the end of a line joins the next to it, as in Python.
fn statements(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\\') if chars.peek() == Some(&'\n') => {
                chars.next();
                cur.push(' ');
            }
            (Some('\n'), '\n') => {
                quote = None;
                out.push(std::mem::take(&mut cur));
            }
            (Some('\n'), _) => {}
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '\n' | ';') => out.push(std::mem::take(&mut cur)),
            // A comment runs to the end of its line.
            (None, '#') => quote = Some('\n'),
            (None, c) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.starts_with('#'))
        .collect()
}

/// Run a block; the lines its `print` calls write go to `printed` as they
/// run (so a print before a failing assert still shows, as in Python). An
/// error is Python's, as packetdrill reports it (`AssertionError: …`), or
/// names what tcplab does not evaluate.
pub(super) fn run(
    code: &str,
    vars: &mut HashMap<String, Value>,
    snap: &Snapshot<'_>,
    printed: &mut Vec<String>,
) -> Result<(), String> {
    for stmt in statements(code) {
        // (A statement is named shortened: a report is a line.)
        let named = super::shorten(&stmt, 80);
        let toks = lex(&stmt).map_err(|e| format!("`{named}`: {e}"))?;
        let fail = |e: String| format!("`{named}`: {e}");
        match toks.as_slice() {
            // print(a, b, ...): the values, separated by spaces, as a line
            // of the run's output.
            [Tok::Name(p), Tok::Op("("), args @ .., Tok::Op(")")] if p == "print" => {
                let mut e = Eval {
                    toks: args,
                    at: 0,
                    vars,
                    snap,
                    depth: 0,
                };
                let mut values = Vec::new();
                while e.at < args.len() {
                    values.push(e.expr().map_err(fail)?.to_string());
                    if e.at < args.len() && !e.eat_op(",") {
                        return Err(fail("unexpected text in print()".into()));
                    }
                }
                printed.push(values.join(" "));
            }
            [Tok::Name(a), rest @ ..] if a == "assert" => {
                let mut e = Eval {
                    toks: rest,
                    at: 0,
                    vars,
                    snap,
                    depth: 0,
                };
                let ok = truthy(&e.expr().map_err(fail)?);
                let mut message = None;
                if e.at < rest.len() {
                    if !e.eat_op(",") {
                        return Err(fail("unexpected text after the expression".into()));
                    }
                    // Python evaluates the message only when it fails.
                    if ok {
                        continue;
                    }
                    let m = e.expr().map_err(fail)?;
                    if e.at != rest.len() {
                        return Err(fail("unexpected text after the message".into()));
                    }
                    message = Some(m);
                }
                if ok {
                    continue;
                }
                // The fields the statement names, with their values.
                let mut seen: Vec<String> = Vec::new();
                for t in rest {
                    if let Tok::Name(n) = t {
                        if n.starts_with("tcpi_") && !seen.iter().any(|s| s.starts_with(n.as_str()))
                        {
                            if let Ok(v) = tcpi(n, snap) {
                                seen.push(format!("{n} = {v}"));
                            }
                        }
                    }
                }
                let values = if seen.is_empty() {
                    String::new()
                } else {
                    format!("; {}", seen.join(", "))
                };
                return Err(match message {
                    Some(m) => format!("AssertionError: {m} (`{stmt}`{values})"),
                    None => format!("AssertionError (`{stmt}`{values})"),
                });
            }
            [Tok::Name(name), Tok::Op(op @ ("=" | "+=" | "-=")), rest @ ..] => {
                let mut e = Eval {
                    toks: rest,
                    at: 0,
                    vars,
                    snap,
                    depth: 0,
                };
                let v = e.expr().map_err(fail)?;
                if e.at != rest.len() {
                    return Err(fail("unexpected text after the expression".into()));
                }
                let v = match *op {
                    "=" => v,
                    _ => {
                        let old = vars.get(name).ok_or_else(|| {
                            fail(format!("NameError: name '{name}' is not defined"))
                        })?;
                        let (a, b) = (int(old).map_err(fail)?, int(&v).map_err(fail)?);
                        Value::Int(
                            if *op == "+=" {
                                a.checked_add(b)
                            } else {
                                a.checked_sub(b)
                            }
                            .ok_or(OVERFLOW)?,
                        )
                    }
                };
                vars.insert(name.clone(), v);
            }
            _ => {
                return Err(fail(
                    "only `assert`, assignments and `print` are evaluated".into(),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str, vars: &mut HashMap<String, Value>) -> Result<Vec<String>, String> {
        let mut printed = Vec::new();
        run(
            code,
            vars,
            &Snapshot {
                state: "LISTEN",
                info: None,
            },
            &mut printed,
        )
        .map(|()| printed)
    }

    /// Nesting is bounded (Python's parser stops at 200 parentheses), and
    /// a report quotes a long statement shortened.
    #[test]
    fn nesting_is_bounded_and_reports_are_short() {
        let mut v = HashMap::new();
        let ok = format!("x = {}1{}", "(".repeat(150), ")".repeat(150));
        eval(&ok, &mut v).unwrap();
        for deep in [
            format!("x = {}1{}", "(".repeat(50_000), ")".repeat(50_000)),
            format!("x = {}1", "-".repeat(50_000)),
            format!("assert {}1", "not ".repeat(50_000)),
        ] {
            let e = eval(&deep, &mut v).unwrap_err();
            assert!(
                e.ends_with("SyntaxError: too many nested parentheses"),
                "{e}"
            );
            assert!(e.len() < 200, "{e}");
        }
    }

    #[test]
    fn python_subset() {
        let mut v = HashMap::new();
        eval("x = 0x10; x += 2 * 3; assert x == 22, x", &mut v).unwrap();
        eval("assert 990 <= x * 50 - 100 <= 1010", &mut v).unwrap();
        eval("assert (32 & TCPI_OPT_SYN_DATA) != 0 and not 0", &mut v).unwrap();
        assert_eq!(
            eval("print(x); assert tcpi_state == TCP_LISTEN", &mut v).unwrap(),
            ["22"]
        );
        assert_eq!(
            eval("print('x=%d' % x, x + 1, tcpi_state); print()", &mut v).unwrap(),
            ["x=22 23 LISTEN", ""]
        );
        assert!(eval("print(x x)", &mut v).is_err());
        // Comparisons are Python's bools: True and False, 1 and 0 in sums.
        assert_eq!(
            eval(
                "print(1 < 2, not 1, True, '%d' % (x > 0), '%s' % (x > 0), (x > 0) + 1)",
                &mut v
            )
            .unwrap_or_else(|e| vec![e]),
            ["True False True 1 True 2"]
        );
        // A print before a failing assert is not lost.
        let mut printed = Vec::new();
        let snap = Snapshot {
            state: "LISTEN",
            info: None,
        };
        assert!(run("print(x); assert x == 0", &mut v, &snap, &mut printed).is_err());
        assert_eq!(printed, ["22"]);
        eval("assert tcpi_state == TCPI_LISTEN, tcpi_state", &mut v).unwrap();
        eval(
            "assert 7 // 2 == 3 and -7 // 2 == -4 and 1 << 4 == 16",
            &mut v,
        )
        .unwrap();
        // Python's signs: the quotient floors, the remainder takes the
        // divisor's sign.
        eval(
            "assert 7 // -2 == -4 and -7 // -2 == 3 and 7 % -2 == -1 and -7 % 2 == 1 and -7 % -2 == -1 and 6 // -2 == -3 and 6 % -3 == 0",
            &mut v,
        )
        .unwrap();
        // A remainder of numbers at the edge is no overflow.
        eval(
            "assert 170141183460469231731687303715884105727 % -2 == -1 and (-170141183460469231731687303715884105727 - 1) % -1 == 0 and 1 << 62 == 4611686018427387904",
            &mut v,
        )
        .unwrap();
        // Beyond 128 bits: an error, not a wrapped number or a panic.
        for big in [
            "x = 170141183460469231731687303715884105727 + 1",
            "x = -170141183460469231731687303715884105727 - 2",
            "x = 170141183460469231731687303715884105727 * 2",
            "x = (-170141183460469231731687303715884105727 - 1) // -1",
            "x = -(-170141183460469231731687303715884105727 - 1)",
            "big = 170141183460469231731687303715884105727; big += 1",
            "x = 85070591730234615865843651857942052864 << 1",
        ] {
            let e = eval(big, &mut v).unwrap_err();
            assert!(e.contains("OverflowError"), "{big}: {e}");
        }
        let e = eval("assert x == 21, 'x=%d' % x", &mut v).unwrap_err();
        assert!(e.starts_with("AssertionError: x=22"), "{e}");
        let e = eval("assert tcpi_state == TCP_ESTABLISHED, tcpi_state", &mut v).unwrap_err();
        assert!(e.starts_with("AssertionError: LISTEN"), "{e}");
        // Not evaluated: an error, never a pass.
        assert!(eval("import os", &mut v).is_err());
        assert!(eval("assert y == 1", &mut v)
            .unwrap_err()
            .contains("NameError"));
        assert!(eval("assert tcpi_snd_cwnd == 10", &mut v).is_err());
        assert!(eval("assert 1 / 0", &mut v).is_err());
        assert!(eval("assert 3 / 2 == 1", &mut v).is_err());
        assert!(eval("assert (1", &mut v).is_err());
        assert!(eval("x = 1 2", &mut v).is_err());
        assert!(eval("assert 1 2", &mut v).is_err());
        // The message is evaluated only when the assertion fails.
        eval("assert 1, undefined_name", &mut v).unwrap();
        eval(
            "assert x == 22, x  # a comment; x = 1\nassert x == 22",
            &mut v,
        )
        .unwrap();
        eval("assert '#;' == \"#;\"", &mut v).unwrap();
        // A backslash at the end of a line joins the next; elsewhere it
        // is not understood.
        eval("assert x == \\\n  22; assert x \\\n== 22", &mut v).unwrap();
        assert!(eval("assert x == 22 \\ 1", &mut v).is_err());
    }
}
