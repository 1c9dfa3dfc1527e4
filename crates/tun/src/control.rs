//! The control socket of a running stack: `/run/tcplab/NAME.sock`, a Unix
//! domain socket (directory 0700, socket 0600: only root — the user who can
//! create TUN devices — gets in).
//!
//! The protocol is binary frames: a kind byte, a 4-byte big-endian length,
//! the payload. The client sends `R` (a request: one flags byte — bit 0
//! standard output is a terminal, bit 1 standard error is — then the
//! command line), then any number of `I` (bytes for the command's standard
//! input), `C` (its end) and `S` (a signal: 2 for Ctrl-C, 15 for SIGTERM).
//! The server answers `O` and `E` (bytes the command wrote to standard
//! output and error, unchanged) and finally `X` (the exit status, 4 bytes)
//! and closes. A client that goes away has its command stopped.
//! `tcplab ss --tun NAME` is a request for `ss ...`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::device::SetupError;
use crate::sys::{self, Wait};

/// Where control sockets live.
pub const CONTROL_DIR: &str = "/run/tcplab";

/// The names of the stacks running now: control sockets something listens
/// on (a killed run's socket is left behind; it does not count).
pub fn running() -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(CONTROL_DIR)?.flatten() {
        let file = e.file_name();
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".sock")) else {
            continue;
        };
        if UnixStream::connect(e.path()).is_ok() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The largest frame accepted.
const MAX_FRAME: usize = 1 << 20;

pub fn socket_path(name: &str) -> PathBuf {
    Path::new(CONTROL_DIR).join(format!("{name}.sock"))
}

/// Append one frame to `out`.
fn frame(out: &mut VecDeque<u8>, kind: u8, payload: &[u8]) {
    out.push_back(kind);
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload);
}

/// Input a client may have sent that its command has not read yet (the
/// client's window; the command's standard input holds as much again).
pub const INPUT_HIGH: usize = 64 << 10;

/// Take the whole frames at the front of `buf`; `Err` if one is too big.
fn frames(buf: &mut Vec<u8>) -> Result<Vec<(u8, Vec<u8>)>, ()> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 5 {
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if len > MAX_FRAME {
            return Err(());
        }
        if buf.len() - at < 5 + len {
            break;
        }
        out.push((buf[at], buf[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    buf.drain(..at);
    Ok(out)
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cmdline: String,
    /// Standard output and error of the client are terminals.
    pub terminal: (bool, bool),
    /// The client's working directory: relative paths start there.
    pub cwd: Option<std::path::PathBuf>,
}

/// What a client sent after its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientInput {
    Stdin(Vec<u8>),
    StdinClosed,
    /// A signal number (2, 15, or 13: the client's standard output lost
    /// its reader).
    Signal(i32),
}

/// One attached client.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: VecDeque<u8>,
    /// The request, once it arrived.
    pub request: Option<Request>,
    /// Input for the command that arrived since the last look.
    pub input: Vec<ClientInput>,
    /// The command started for it (a pid on the host).
    pub pid: Option<u32>,
    /// The command ended and `X` was queued: close once flushed.
    pub finished: bool,
    /// The client hung up or failed.
    pub gone: bool,
    /// Input bytes fed to the command so far, and acknowledged to the
    /// client so far.
    pub fed: u64,
    acked: u64,
}

impl Client {
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn wants_write(&self) -> bool {
        !self.outbuf.is_empty()
    }

    /// Acknowledge input the command has read, so the client may send
    /// more: `consumed` is how much of what was fed it has read in all.
    /// The client keeps at most [`INPUT_HIGH`] bytes unacknowledged, so
    /// what waits here is bounded while the socket is always read (a
    /// signal behind held input would otherwise never arrive).
    pub fn acknowledge(&mut self, consumed: u64) {
        if consumed > self.acked {
            frame(
                &mut self.outbuf,
                b'A',
                &(consumed - self.acked).to_be_bytes(),
            );
            self.acked = consumed;
        }
    }

    /// Bytes of the command's output not yet written to the client: the
    /// runtime tells commands their writes are done only while this is
    /// low, so a client that does not read holds its command back.
    pub fn unsent(&self) -> usize {
        self.outbuf.len()
    }

    /// Queue bytes the command wrote (`stderr`: to standard error).
    pub fn output(&mut self, stderr: bool, bytes: &[u8]) {
        for piece in bytes.chunks(MAX_FRAME) {
            frame(&mut self.outbuf, if stderr { b'E' } else { b'O' }, piece);
        }
    }

    /// Queue the exit status; the client is done once it is sent.
    pub fn exit(&mut self, code: i32) {
        frame(&mut self.outbuf, b'X', &code.to_be_bytes());
        self.finished = true;
    }

    /// Read what the client sent (non-blocking).
    pub fn read(&mut self) {
        let mut buf = [0u8; 16384];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.gone = true;
                    return;
                }
                Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gone = true;
                    return;
                }
            }
        }
        let Ok(frames) = frames(&mut self.inbuf) else {
            self.gone = true;
            return;
        };
        for (kind, payload) in frames {
            match (kind, &self.request) {
                (b'R', None) if !payload.is_empty() => {
                    // Flags, the command line, then after a NUL (which no
                    // argument holds) the client's working directory.
                    let rest = &payload[1..];
                    let (cmdline, cwd) = match rest.iter().position(|&b| b == 0) {
                        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                        None => (rest, None),
                    };
                    self.request = Some(Request {
                        cmdline: String::from_utf8_lossy(cmdline).into_owned(),
                        terminal: (payload[0] & 1 != 0, payload[0] & 2 != 0),
                        cwd: cwd.filter(|d| !d.is_empty()).map(|d| {
                            use std::os::unix::ffi::OsStrExt;
                            std::path::PathBuf::from(std::ffi::OsStr::from_bytes(d))
                        }),
                    });
                }
                (b'I', Some(_)) => self.input.push(ClientInput::Stdin(payload)),
                (b'C', Some(_)) => self.input.push(ClientInput::StdinClosed),
                (b'S', Some(_)) if payload.len() == 1 => {
                    self.input.push(ClientInput::Signal(i32::from(payload[0])))
                }
                _ => {
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
        sys::check_ifname(name).map_err(SetupError)?;
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
                            input: Vec::new(),
                            pid: None,
                            finished: false,
                            gone: false,
                            fed: 0,
                            acked: 0,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        for c in &mut self.clients {
            if !c.finished {
                c.read();
            }
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

/// How an attaching client's own standard streams are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachIo {
    /// Forward standard input to the command (it reads it).
    pub forward_stdin: bool,
    /// Standard output and error are terminals.
    pub terminal: (bool, bool),
}

/// Run `cmdline` on the stack running on `name`, as if it ran here: its
/// output is copied to `out` and `err` byte for byte, standard input is
/// forwarded to it, and Ctrl-C or SIGTERM are passed on (the command
/// decides what they do: ping prints its statistics). Returns its exit
/// status.
pub fn attach(
    name: &str,
    cmdline: &str,
    io: AttachIo,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, SetupError> {
    // A device's name, never a path: `../x` must not reach other files.
    sys::check_ifname(name).map_err(SetupError)?;
    let path = socket_path(name);
    let fail = |e: io::Error| SetupError(format!("{}: {e}", path.display()));
    let mut stream = UnixStream::connect(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            SetupError(format!(
                "no tcplab stack is running on {name} (no {})",
                path.display()
            ))
        } else if e.kind() == io::ErrorKind::ConnectionRefused {
            // The socket of a run that was killed (SIGKILL leaves it; the
            // next run on the name replaces it).
            SetupError(format!(
                "no tcplab stack is running on {name} ({} is left from a run that was killed)",
                path.display()
            ))
        } else {
            SetupError(format!("cannot connect to {}: {e}", path.display()))
        }
    })?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    let quit = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGINT, &interrupt),
        (signal_hook::consts::SIGTERM, &terminate),
        (signal_hook::consts::SIGQUIT, &quit),
    ] {
        signal_hook::flag::register(sig, flag.clone())
            .map_err(|e| SetupError(format!("cannot handle signals: {e}")))?;
    }
    let mut request = VecDeque::new();
    let flags = u8::from(io.terminal.0) | (u8::from(io.terminal.1) << 1);
    let mut payload = vec![flags];
    payload.extend_from_slice(cmdline.as_bytes());
    if let Ok(dir) = std::env::current_dir() {
        use std::os::unix::ffi::OsStrExt;
        payload.push(0);
        payload.extend_from_slice(dir.as_os_str().as_bytes());
    }
    frame(&mut request, b'R', &payload);
    if !io.forward_stdin {
        frame(&mut request, b'C', &[]);
    }
    stream.write_all(request.make_contiguous()).map_err(fail)?;
    // From here the socket never blocks us: input waits in `sending`
    // (and standard input is not read while much does), output is read
    // whenever it comes, and a signal goes ahead of queued input — a
    // client blocked writing input it cannot deliver would neither read
    // its command's output nor pass on Ctrl-C.
    stream.set_nonblocking(true).map_err(fail)?;
    let stdin_fd = 0;
    let mut stdin_open = io.forward_stdin;
    let mut inbuf = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut piped = false;
    let mut sending = Sending::default();
    // Input sent that the command has not read yet (acknowledged by `A`
    // frames): no more than INPUT_HIGH of it, as a pipe holds so much.
    let mut unacked: u64 = 0;
    loop {
        for (flag, number) in [(&interrupt, 2u8), (&quit, 3u8), (&terminate, 15u8)] {
            if flag.swap(false, Ordering::Relaxed) {
                sending.push(b'S', &[number], true);
            }
        }
        // Input and signals for a command that has just ended find the
        // socket closed: that is not an error, the exit status is still
        // to be read.
        sending.flush(&mut stream);
        if sending.closed {
            stdin_open = false;
        }
        let mut waits = vec![Wait {
            writable: !sending.frames.is_empty(),
            ..Wait::read(stream.as_raw_fd())
        }];
        let read_stdin = stdin_open && unacked < INPUT_HIGH as u64;
        if read_stdin {
            waits.push(Wait::read(stdin_fd));
        }
        sys::poll(&mut waits, None).map_err(|e| SetupError(format!("poll: {e}")))?;
        if read_stdin && waits[1].ready {
            // Ready: a read returns what is there without blocking.
            let mut input = std::io::stdin().lock();
            match input.read(&mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    sending.push(b'C', &[], false);
                }
                Ok(n) => {
                    unacked += n as u64;
                    sending.push(b'I', &buf[..n], false);
                }
            }
        }
        if waits[0].ready {
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(fail(e)),
            };
            if n == 0 {
                return Err(SetupError(format!(
                    "the stack on {name} went away before the command finished"
                )));
            }
            inbuf.extend_from_slice(&buf[..n]);
            let got = frames(&mut inbuf)
                .map_err(|()| SetupError(format!("{}: a frame too large", path.display())))?;
            for (kind, payload) in got {
                match kind {
                    b'O' => {
                        let gone = out
                            .write_all(&payload)
                            .and_then(|()| out.flush())
                            .is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
                        // Our standard output lost its reader: the command
                        // hears SIGPIPE, once, as it would writing there.
                        if gone && !piped {
                            piped = true;
                            sending.push(b'S', &[13], true);
                        }
                    }
                    b'E' => {
                        let _ = err.write_all(&payload);
                        let _ = err.flush();
                    }
                    b'A' => {
                        if let Ok(n) = <[u8; 8]>::try_from(&payload[..]) {
                            unacked = unacked.saturating_sub(u64::from_be_bytes(n));
                        }
                    }
                    b'X' if payload.len() == 4 => {
                        return Ok(i32::from_be_bytes([
                            payload[0], payload[1], payload[2], payload[3],
                        ]));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Frames an attached client has yet to send, whole, in order; the first
/// may be partly sent.
#[derive(Debug, Default)]
struct Sending {
    frames: VecDeque<Vec<u8>>,
    /// How much of the first frame went out.
    offset: usize,
    /// The socket refused a write for good (the command ended).
    closed: bool,
}

impl Sending {
    /// Queue a frame; an `urgent` one (a signal) goes ahead of the input
    /// waiting, behind only a frame already partly sent.
    fn push(&mut self, kind: u8, payload: &[u8], urgent: bool) {
        if self.closed {
            return;
        }
        let mut f = VecDeque::new();
        frame(&mut f, kind, payload);
        let f: Vec<u8> = f.into();
        if urgent {
            let at = usize::from(self.offset > 0).min(self.frames.len());
            self.frames.insert(at, f);
        } else {
            self.frames.push_back(f);
        }
    }

    /// Write what the socket takes now.
    fn flush(&mut self, stream: &mut UnixStream) {
        while let Some(f) = self.frames.front() {
            match stream.write(&f[self.offset..]) {
                Ok(0) => {
                    self.close();
                    return;
                }
                Ok(n) => {
                    self.offset += n;
                    if self.offset == f.len() {
                        self.frames.pop_front();
                        self.offset = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close();
                    return;
                }
            }
        }
    }

    fn close(&mut self) {
        self.closed = true;
        self.frames.clear();
        self.offset = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device name is never a path: one that climbs out of the control
    /// directory is refused before any socket is touched.
    #[test]
    fn a_name_that_is_a_path_is_refused() {
        let io = AttachIo {
            forward_stdin: false,
            terminal: (false, false),
        };
        for name in ["../../etc/passwd", "a/b", ""] {
            let e = attach(name, "ss", io, &mut Vec::new(), &mut Vec::new()).unwrap_err();
            assert!(
                e.0.contains("is not a valid interface name"),
                "{name}: {}",
                e.0
            );
            let Err(e) = ControlServer::open(name) else {
                panic!("{name}: opened");
            };
            assert!(
                e.0.contains("is not a valid interface name"),
                "{name}: {}",
                e.0
            );
        }
    }

    #[test]
    fn frames_round_trip_and_wait_for_whole_ones() {
        let mut q = VecDeque::new();
        frame(&mut q, b'O', b"abc");
        frame(&mut q, b'X', &7i32.to_be_bytes());
        let bytes: Vec<u8> = q.into_iter().collect();
        let mut buf = bytes[..6].to_vec();
        assert_eq!(frames(&mut buf).unwrap(), vec![]);
        buf.extend_from_slice(&bytes[6..]);
        let f = frames(&mut buf).unwrap();
        assert_eq!(f[0], (b'O', b"abc".to_vec()));
        assert_eq!(f[1].0, b'X');
        assert!(buf.is_empty());
        let mut huge = vec![b'O', 0xff, 0xff, 0xff, 0xff];
        assert!(frames(&mut huge).is_err());
    }
}
