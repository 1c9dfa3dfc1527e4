//! A process's standard streams and signals.
//!
//! Output is bytes: every write reaches the driver at once as a chunk
//! stamped with the host's time, unchanged (binary data, `\r`, partial
//! lines). The simulator cuts chunks into lines for its transcript
//! ([`LineSplitter`]); the TUN runtime writes them to the terminal as they
//! are. Standard input is a pipe the driver fills: the bytes of an
//! `echo ... |` stage, the terminal of `tcplab run`, or an attached client's
//! input. Signals (Ctrl-C, SIGTERM) reach a process the same way: a process
//! that catches them hears of them; any other is stopped. SIGPIPE — the
//! driver found the reader of a standard output gone — stops a process
//! unless it ignores SIGPIPE, as curl does to report the failed write
//! itself ([`Output::is_broken`]), or catches it, as tcpdump does to print
//! its counts.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use tcplab_stack::Instant;

use crate::executor::Pid;

/// Standard output or standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Bytes a process wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub time: Instant,
    pub host: Rc<str>,
    pub pid: Pid,
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

/// One line a process printed (as the simulator's transcript shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub time: Instant,
    pub host: Rc<str>,
    pub pid: Pid,
    pub stream: Stream,
    pub text: String,
}

/// Where output goes: the simulator's transcript, or the terminal.
pub type OutputSink = Rc<dyn Fn(OutputChunk)>;

/// Cuts chunks into lines, per process and stream, for a transcript that
/// reads like a terminal: a line is stamped with the time its first byte
/// was written; a carriage return before a newline stays in the line
/// (`\r\n`, as written); one elsewhere returns to the start of the line,
/// as a progress meter redraws itself — each redrawn row becomes a line of
/// its own, shown when written. Bytes that are not UTF-8 are shown as
/// U+FFFD (the transcript is text; the bytes themselves are the driver's).
/// The longest line a transcript holds; longer output is cut there.
pub const MAX_LINE: usize = 64 << 10;

#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<Partial>,
}

#[derive(Debug)]
struct Partial {
    key: (Rc<str>, Pid, Stream),
    bytes: Vec<u8>,
    started: Instant,
    /// The line is being redrawn (it began after a carriage return).
    redraw: bool,
}

impl LineSplitter {
    fn line(key: &(Rc<str>, Pid, Stream), bytes: &[u8], time: Instant) -> OutputLine {
        OutputLine {
            time,
            host: key.0.clone(),
            pid: key.1,
            stream: key.2,
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// Take a chunk; returns the lines it completed.
    pub fn feed(&mut self, chunk: OutputChunk) -> Vec<OutputLine> {
        let key = (chunk.host.clone(), chunk.pid, chunk.stream);
        let i = match self.partial.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                self.partial.push(Partial {
                    key: key.clone(),
                    bytes: Vec::new(),
                    started: chunk.time,
                    redraw: false,
                });
                self.partial.len() - 1
            }
        };
        let mut lines = Vec::new();
        let p = &mut self.partial[i];
        for &b in &chunk.bytes {
            if p.bytes.last() == Some(&b'\r') && b != b'\n' {
                // Back to the start of the line: what was there is a row.
                p.bytes.pop();
                if !p.bytes.is_empty() {
                    lines.push(Self::line(&key, &p.bytes, p.started));
                }
                p.bytes.clear();
                p.redraw = true;
            }
            if p.bytes.is_empty() {
                p.started = chunk.time;
            }
            if b == b'\n' {
                lines.push(Self::line(&key, &p.bytes, p.started));
                p.bytes.clear();
                p.redraw = false;
            } else {
                p.bytes.push(b);
                if p.bytes.len() >= MAX_LINE {
                    // Output without newlines (binary data to the
                    // terminal) is cut into lines of at most MAX_LINE
                    // bytes, as a terminal wraps it: memory stays bounded.
                    lines.push(Self::line(&key, &p.bytes, p.started));
                    p.bytes.clear();
                }
            }
        }
        // A redrawn row is on screen as soon as it is written.
        if p.redraw && !p.bytes.is_empty() && p.bytes.last() != Some(&b'\r') {
            lines.push(Self::line(&key, &p.bytes, p.started));
            p.bytes.clear();
        }
        if p.bytes.is_empty() && !p.redraw {
            self.partial.swap_remove(i);
        }
        lines
    }

    /// What is left of unfinished lines (the run ended).
    pub fn finish(&mut self, _time: Instant) -> Vec<OutputLine> {
        std::mem::take(&mut self.partial)
            .into_iter()
            .filter(|p| !p.bytes.is_empty())
            .map(|p| Self::line(&p.key, &p.bytes, p.started))
            .collect()
    }

    /// Finish one process's unfinished lines (it ended).
    pub fn finish_process(&mut self, _time: Instant, host: &str, pid: Pid) -> Vec<OutputLine> {
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.partial)
            .into_iter()
            .partition(|p| &*p.key.0 == host && p.key.1 == pid);
        self.partial = keep;
        done.into_iter()
            .filter(|p| !p.bytes.is_empty())
            .map(|p| Self::line(&p.key, &p.bytes, p.started))
            .collect()
    }
}

/// A process's output stream. Every write goes out at once.
pub struct Output {
    pub(crate) host: crate::Host,
    pub(crate) pid: Pid,
    pub(crate) stream: Stream,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("pid", &self.pid)
            .field("stream", &self.stream)
            .finish()
    }
}

impl Output {
    /// Print one line.
    pub fn line(&mut self, text: impl AsRef<str>) {
        let mut bytes = Vec::with_capacity(text.as_ref().len() + 1);
        bytes.extend_from_slice(text.as_ref().as_bytes());
        bytes.push(b'\n');
        self.host.emit(self.pid, self.stream, bytes);
    }

    /// Write bytes as they are.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.host.emit(self.pid, self.stream, bytes.to_vec());
        }
    }

    /// Whether this stream is a terminal (what `isatty` says): a tool
    /// writes differently to a terminal than to a file or pipe.
    pub fn is_terminal(&self) -> bool {
        self.host.is_terminal(self.pid, self.stream)
    }

    /// Nothing is buffered; kept for the habit of flushing at the end.
    pub fn flush(&mut self) {}

    /// Whether the reader of this stream went away (a closed pipe): what
    /// a process that ignores SIGPIPE learns from its next write (EPIPE).
    pub fn is_broken(&self) -> bool {
        self.host.stream_broken(self.pid, self.stream)
    }

    /// Wait until what was written so far reached the driver's terminal
    /// or pipe — at once in the simulator, after the TUN runtime's next
    /// write — so [`Output::is_broken`] tells whether it found a reader.
    pub async fn written(&self) {
        let since = self.host.writes();
        poll_fn(|cx| self.host.poll_written(since, self.pid, cx.waker())).await
    }
}

impl fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// A signal a process can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// Ctrl-\\ (SIGQUIT). It stops a process (status 131) unless the
    /// process catches it (`Host::catch_sigquit`).
    Quit,
    /// SIGPIPE: a standard stream's reader is gone. It stops the process
    /// unless the process ignores it or catches it (`Host::catch_sigpipe`).
    Pipe(Stream),
}

impl Signal {
    /// The signal's number (`128 + n` is the exit status of a process it
    /// stops).
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Quit => 3,
            Signal::Terminate => 15,
            Signal::Pipe(_) => 13,
        }
    }
}

/// One process's standard input and signal state.
#[derive(Debug, Default)]
pub(crate) struct ProcessIo {
    pub stdin: VecDeque<u8>,
    pub stdin_closed: bool,
    /// Nothing will ever be fed: an input nobody types into.
    pub stdin_idle: bool,
    pub stdin_waker: Option<Waker>,
    /// Standard output and error are terminals.
    pub tty: (bool, bool),
    /// The process catches signals rather than being stopped by them.
    pub catches: bool,
    /// SIGPIPE is ignored: a broken stream is only marked (`broken`).
    pub ignores_sigpipe: bool,
    /// SIGQUIT is caught (with `catches`) rather than stopping it.
    pub catches_quit: bool,
    /// SIGPIPE is caught like the other signals (tcpdump's cleanup).
    pub catches_sigpipe: bool,
    /// SIGTERM keeps its default action (stop, status 143) while the
    /// other signals are caught (iputils' ping handles only SIGINT).
    pub default_sigterm: bool,
    /// Standard output / error lost their reader.
    pub broken: (bool, bool),
    pub pending: VecDeque<Signal>,
    pub signal_waker: Option<Waker>,
}

pub(crate) type IoTable = RefCell<std::collections::BTreeMap<Pid, ProcessIo>>;

/// A process's standard input.
#[derive(Debug, Clone)]
pub struct Stdin {
    pub(crate) host: crate::Host,
    pub(crate) pid: Pid,
}

impl Stdin {
    /// Read what is there (waiting for some); `0` is the end of input.
    pub async fn read(&self, buf: &mut [u8]) -> usize {
        poll_fn(|cx| self.host.poll_stdin(self.pid, buf, cx.waker())).await
    }

    /// Whether no input will ever come (a scenario command without a
    /// pipeline: like a terminal nobody types into).
    pub fn is_idle(&self) -> bool {
        self.host.stdin_idle(self.pid)
    }

    /// Everything until the end of input.
    pub async fn read_to_end(&self) -> Vec<u8> {
        self.read_to_end_within(usize::MAX)
            .await
            .unwrap_or_default()
    }

    /// Everything until the end of input if it is at most `max` bytes;
    /// `None`, having read no further, once it is more.
    pub async fn read_to_end_within(&self, max: usize) -> Option<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.read(&mut buf).await;
            if n == 0 {
                return Some(all);
            }
            if all.len() + n > max {
                return None;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }
}

/// Waiting for a signal (see [`crate::Host::catch_signals`]).
#[derive(Debug, Clone)]
pub struct Signals {
    pub(crate) host: crate::Host,
    pub(crate) pid: Pid,
}

impl Signals {
    /// The next signal sent to the process.
    pub async fn next(&self) -> Signal {
        poll_fn(|cx| match self.host.take_signal(self.pid, cx.waker()) {
            Some(s) => Poll::Ready(s),
            None => Poll::Pending,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(pid: Pid, bytes: &[u8]) -> OutputChunk {
        OutputChunk {
            time: Instant::from_secs(1),
            host: Rc::from("h"),
            pid,
            stream: Stream::Stdout,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn a_carriage_return_redraws_unless_it_ends_the_line() {
        let mut s = LineSplitter::default();
        let l = s.feed(chunk(1, b"head\n\r row 0\r row 1\n"));
        let texts: Vec<&str> = l.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["head", " row 0", " row 1"]);
        // A row written alone shows at once.
        let l = s.feed(chunk(1, b"\r row 2"));
        assert_eq!(l[0].text, " row 2");
        let l = s.feed(chunk(1, b"\r row 3\n"));
        assert_eq!(l[0].text, " row 3");
        let l = s.feed(chunk(1, b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(l[0].text, "HTTP/1.1 200 OK\r");
        // Split across chunks.
        assert!(s.feed(chunk(1, b"a\r")).is_empty());
        let l = s.feed(chunk(1, b"b\n"));
        let texts: Vec<&str> = l.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
    }

    /// Output without newlines is cut at MAX_LINE: what is held stays
    /// bounded.
    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut s = LineSplitter::default();
        let l = s.feed(chunk(1, &vec![b'x'; 3 * MAX_LINE + 5]));
        assert_eq!(l.len(), 3);
        assert!(l.iter().all(|l| l.text.len() == MAX_LINE));
        let rest = s.finish(Instant::from_secs(2));
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text.len(), 5);
    }

    #[test]
    fn lines_are_cut_per_process() {
        let mut s = LineSplitter::default();
        assert!(s.feed(chunk(1, b"hel")).is_empty());
        assert!(s.feed(chunk(2, b"other")).is_empty());
        let l = s.feed(chunk(1, b"lo\nwor"));
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].text, "hello");
        let rest = s.finish(Instant::from_secs(2));
        let texts: Vec<&str> = rest.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["wor", "other"]);
    }
}
