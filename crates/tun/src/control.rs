//! The control socket of a running stack: `/run/tcplab/NAME.sock`, a Unix
//! domain socket (directory 0700, socket 0600: only root — the user who can
//! create TUN devices — gets in).
//!
//! The protocol is lines of text. The client sends one request,
//! `RUN <command line>`; the server runs it on the stack's host and sends
//! each line it prints, `O <text>` (standard output) or `E <text>`
//! (standard error), then `X <exit status>` and closes. A client that goes
//! away has its command stopped. `tcplab ss --tun NAME` is `RUN ss ...`.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::device::SetupError;

/// Where control sockets live.
pub const CONTROL_DIR: &str = "/run/tcplab";

/// The longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

pub fn socket_path(name: &str) -> PathBuf {
    Path::new(CONTROL_DIR).join(format!("{name}.sock"))
}

/// One attached client.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: VecDeque<u8>,
    /// The request, once a whole line arrived.
    pub request: Option<String>,
    /// The command started for it (a pid on the host).
    pub pid: Option<u32>,
    /// The command ended and `X` was queued: close once flushed.
    pub finished: bool,
    /// The client hung up or failed.
    pub gone: bool,
}

impl Client {
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn wants_write(&self) -> bool {
        !self.outbuf.is_empty()
    }

    /// Queue one line of output (`kind` is `O`, `E` or `X`).
    pub fn line(&mut self, kind: char, text: &str) {
        self.outbuf.push_back(kind as u8);
        self.outbuf.push_back(b' ');
        // One line per message: embedded newlines would break framing.
        self.outbuf
            .extend(text.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
        self.outbuf.push_back(b'\n');
    }

    /// Read what the client sent (non-blocking).
    pub fn read(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    if self.request.is_some() {
                        // A half-close after the request is fine; a full
                        // close shows up as a failed write later.
                        return;
                    }
                    self.gone = true;
                    return;
                }
                Ok(n) => {
                    if self.request.is_some() {
                        continue;
                    }
                    self.inbuf.extend_from_slice(&buf[..n]);
                    if let Some(i) = self.inbuf.iter().position(|b| *b == b'\n') {
                        let line = String::from_utf8_lossy(&self.inbuf[..i]).into_owned();
                        self.request = Some(line);
                        self.inbuf.clear();
                    } else if self.inbuf.len() > MAX_REQUEST {
                        self.gone = true;
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gone = true;
                    return;
                }
            }
        }
    }

    /// Write what is queued (non-blocking).
    pub fn flush(&mut self) {
        while !self.outbuf.is_empty() {
            let (a, _) = self.outbuf.as_slices();
            match self.stream.write(a) {
                Ok(0) => {
                    self.gone = true;
                    return;
                }
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gone = true;
                    return;
                }
            }
        }
    }
}

/// The listening side, owned by `tcplab run`.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    pub clients: Vec<Client>,
}

impl ControlServer {
    /// Listen on the device's control socket; refuse if a live stack
    /// already owns it, replace a stale one.
    pub fn open(name: &str) -> Result<ControlServer, SetupError> {
        let dir = Path::new(CONTROL_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| SetupError(format!("cannot create {CONTROL_DIR}: {e}")))?;
        let path = socket_path(name);
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(SetupError(format!(
                    "a tcplab stack is already running on {name} ({})",
                    path.display()
                )));
            }
            let _ = std::fs::remove_file(&path);
        }
        let listener = UnixListener::bind(&path)
            .map_err(|e| SetupError(format!("cannot listen on {}: {e}", path.display())))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SetupError(format!("cannot protect {}: {e}", path.display())))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| SetupError(format!("{}: {e}", path.display())))?;
        Ok(ControlServer {
            listener,
            path,
            clients: Vec::new(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Accept waiting clients and read their requests.
    pub fn poll(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() && self.clients.len() < 64 {
                        self.clients.push(Client {
                            stream,
                            inbuf: Vec::new(),
                            outbuf: VecDeque::new(),
                            request: None,
                            pid: None,
                            finished: false,
                            gone: false,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        for c in &mut self.clients {
            c.read();
            c.flush();
        }
    }

    /// Drop clients that are done or gone.
    pub fn reap(&mut self) {
        self.clients
            .retain(|c| !(c.gone || (c.finished && c.outbuf.is_empty())));
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Run `cmdline` on the stack running on `name`, copying its output to
/// `out` and `err`; returns its exit status.
pub fn attach(
    name: &str,
    cmdline: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SetupError> {
    let path = socket_path(name);
    let mut stream = UnixStream::connect(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::ConnectionRefused {
            SetupError(format!(
                "no tcplab stack is running on {name} (no {})",
                path.display()
            ))
        } else {
            SetupError(format!("cannot connect to {}: {e}", path.display()))
        }
    })?;
    writeln!(stream, "RUN {cmdline}")
        .map_err(|e| SetupError(format!("{}: {e}", path.display())))?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line.map_err(|e| SetupError(format!("{}: {e}", path.display())))?;
        let kind = line.get(..2).unwrap_or("");
        let text = line.get(2..).unwrap_or("");
        match kind {
            "O " => {
                let _ = writeln!(out, "{text}");
            }
            "E " => {
                let _ = writeln!(err, "{text}");
            }
            "X " => return Ok(text.trim().parse().unwrap_or(1)),
            _ => {}
        }
    }
    Err(SetupError(format!(
        "the stack on {name} went away before the command finished"
    )))
}
