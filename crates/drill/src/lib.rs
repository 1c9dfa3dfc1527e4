//! packetdrill scripts as the nplab dialect writes them (the FreeBSD TCP
//! suite's): the lexer and the parser. A script is options, then events,
//! each a time and an action — a packet injected (`<`) or expected (`>`),
//! a system call with its expected result, a shell command in backticks or
//! a `%{ }%` code block. `#ifdef NAME` … `#endif` keeps or drops text by
//! the names defined, and a name defined with a value stands for it.
//!
//! This is the first part of the runner (issue 12): what a script says,
//! with every error naming its line; every one of the suite's 875 scripts
//! parses (`tests/freebsd_suite.rs`). Running a script against the stack
//! on virtual time — the sequence-number mapping, the outbound checks, the
//! system calls — comes next.

mod lex;
mod parse;
pub mod run;

pub use lex::define_name;

pub use parse::{
    parse, Action, Direction, Event, Expr, Flags, IcmpSpec, PacketSpec, Script, ScriptOption, Seq,
    Syscall, TcpOption, Time,
};

/// A script that does not parse: the line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl Error {
    fn at(line: usize, message: impl Into<String>) -> Error {
        Error {
            line,
            message: message.into(),
        }
    }
}
