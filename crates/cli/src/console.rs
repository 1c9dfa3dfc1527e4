//! Standard output and error for the subcommands' own lines (a scenario's
//! transcript, drill's results, error messages).
//!
//! A reader that went away (`tcplab drill tests/drill | head -1`) ends the
//! output quietly, as for any filter; any other failure to write (a full
//! disk: `> /dev/full`) stops the output and is reported once, as the run
//! ends, with status 2. Nothing here panics: a standard error that cannot
//! be written simply loses the message.

use std::cell::{Cell, RefCell};
use std::io::Write;

thread_local! {
    /// Output has stopped: the reader left, or a write failed.
    static STOPPED: Cell<bool> = const { Cell::new(false) };
    /// Why a write failed, other than a closed pipe.
    static FAILED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Write `text` to standard output as it is.
pub fn out(text: &str) {
    if STOPPED.get() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        failed(&e);
    }
}

/// Write one line to standard output.
pub fn out_line(text: &str) {
    out(&format!("{text}\n"));
}

/// Write one line to standard error (lost if that cannot be written).
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn failed(e: &std::io::Error) {
    STOPPED.set(true);
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        FAILED.with_borrow_mut(|f| {
            f.get_or_insert_with(|| crate::files::io_reason(e));
        });
    }
}

/// Why standard output could not be written, if it could not (a closed
/// pipe is no failure).
pub fn failure() -> Option<String> {
    if let Err(e) = std::io::stdout().lock().flush() {
        failed(&e);
    }
    FAILED.with_borrow(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_stops_quietly_other_failures_are_kept() {
        failed(&std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(STOPPED.get());
        assert_eq!(FAILED.with_borrow(Clone::clone), None);
        failed(&std::io::Error::from_raw_os_error(28));
        assert_eq!(
            FAILED.with_borrow(Clone::clone).as_deref(),
            Some("No space left on device")
        );
    }
}
