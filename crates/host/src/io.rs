//! What applications print: lines tagged with host, process and time.

use std::fmt;
use std::rc::Rc;

use tcplab_stack::Instant;

use crate::executor::Pid;

/// Standard output or standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line a process printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub time: Instant,
    pub host: Rc<str>,
    pub pid: Pid,
    pub stream: Stream,
    pub text: String,
}

/// Where lines go: the simulator's transcript, or the terminal.
pub type OutputSink = Rc<dyn Fn(OutputLine)>;

/// A process's output stream. Writes are cut into lines; each line is
/// stamped with the host's time when its newline is written.
pub struct Output {
    pub(crate) host: crate::Host,
    pub(crate) pid: Pid,
    pub(crate) stream: Stream,
    pub(crate) partial: String,
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
        use fmt::Write;
        let _ = self.write_str(text.as_ref());
        let _ = self.write_char('\n');
    }

    fn emit(&mut self, text: String) {
        self.host.emit_line(self.pid, self.stream, text);
    }

    /// Print what is left of an unfinished line.
    pub fn flush(&mut self) {
        if !self.partial.is_empty() {
            let text = std::mem::take(&mut self.partial);
            self.emit(text);
        }
    }
}

impl fmt::Write for Output {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            self.partial.push_str(&rest[..i]);
            let line = std::mem::take(&mut self.partial);
            self.emit(line);
            rest = &rest[i + 1..];
        }
        self.partial.push_str(rest);
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.flush();
    }
}
