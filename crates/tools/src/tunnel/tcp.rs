//! `tunnel tcp`: IP datagrams over one TCP connection.
//!
//! One task per tunnel: it races the device (datagrams to send), the
//! stream (bytes that arrived) and, while framed bytes wait, the stream's
//! send buffer. While frames wait for room in the send buffer the device is
//! not read (up to [`PENDING_LIMIT`] bytes), so a slow outer connection
//! fills the device's queue and the stack drops there, as a TUN device's
//! queue overflows in front of a blocked OpenVPN process.

use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{Host, Output, TcpListener, TcpStream, TunnelDevice, TunnelStatus};
use tcplab_stack::{Instant, SocketError};

use super::framing::{encode, Deframer, FrameStats};
use super::{open_device, PipeArgs};
use crate::select::{select, Either};

/// Framed bytes held for the stream before the device is left unread.
const PENDING_LIMIT: usize = 64 * 1024;

/// A listening end's session that has carried nothing either way for
/// this long gives its place to a new connection: the tunnel is one connection at a time
/// and unauthenticated, so a connection that sends nothing must not keep
/// the real peer out (it calls again when it loses its place).
const TAKE_OVER_AFTER: Duration = Duration::from_secs(10);

/// Outer IPv4 (20) + TCP with timestamps (32) + the frame's length (2).
pub(crate) const TCP_OVERHEAD: usize = 54;

#[derive(Debug, Default)]
struct State {
    /// "listening on ...", "connecting to ...", "connected ... -> ...".
    phase: String,
    frames_in: FrameStats,
    frames_out: u64,
    connections: u64,
    dropped_unconnected: u64,
}

#[derive(Debug, Default)]
struct Status(RefCell<State>);

impl TunnelStatus for Status {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn show(&self, _host: &Host) -> Vec<String> {
        let s = self.0.borrow();
        vec![
            format!("outer: {}", s.phase),
            format!(
                "frames: in {} (oversize {}, empty {}), out {}; connections {}; dropped while unconnected {}",
                s.frames_in.frames,
                s.frames_in.oversize,
                s.frames_in.empty,
                s.frames_out,
                s.connections,
                s.dropped_unconnected
            ),
        ]
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(super) async fn run(host: Host, a: PipeArgs, mut out: Output, mut err: Output) -> i32 {
    let Some((dev, remote)) = open_device(&host, &a, "tcp", TCP_OVERHEAD, &mut out, &mut err).await
    else {
        return 1;
    };
    let status = Rc::new(Status::default());
    dev.set_status(status.clone());
    match (a.listen, remote) {
        (Some(port), _) => listen(&host, &dev, &status, port, a.mtu, out, err).await,
        (None, Some(remote)) => connect(&host, &dev, &status, remote, out, err).await,
        (None, None) => 2,
    }
}

async fn listen(
    host: &Host,
    dev: &TunnelDevice,
    status: &Status,
    port: u16,
    fixed_mtu: Option<usize>,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let listener = match TcpListener::bind(host, local, 4) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("tunnel: bind {local}: {e}"));
            return 1;
        }
    };
    status.0.borrow_mut().phase = format!("listening on {local}");
    let mut newcomer: Option<TcpStream> = None;
    loop {
        let stream = match newcomer.take() {
            Some(s) => s,
            None => match drop_while(dev, status, listener.accept()).await {
                Ok(s) => s,
                Err(e) => {
                    err.line(format!("tunnel: accept: {e}"));
                    return 1;
                }
            },
        };
        // The MTU was the largest interface's while no peer was known: now
        // it is the path to this peer's, as the calling end worked out
        // its own (the two ends must agree, or the larger frames are
        // refused), unless --mtu fixed it.
        if let (None, Some(p)) = (fixed_mtu, stream.peer_addr()) {
            let mtu = super::outer_mtu(host, Some(*p.ip())).saturating_sub(TCP_OVERHEAD);
            if mtu != dev.mtu() && dev.set_mtu(mtu).is_ok() {
                out.line(format!(
                    "{}: mtu {mtu} for the path to {}",
                    dev_name(dev),
                    p.ip()
                ));
            }
        }
        let heard = Cell::new(host.now());
        let taken = async {
            // Connections that come while this one is heard from are
            // closed; one after a silence of TAKE_OVER_AFTER takes over.
            loop {
                match listener.accept().await {
                    Ok(s) if host.now().saturating_since(heard.get()) >= TAKE_OVER_AFTER => {
                        return Ok(s);
                    }
                    Ok(s) => s.abort(),
                    Err(e) => return Err(e),
                }
            }
        };
        match select(session(dev, status, &stream, &mut out, &heard), taken).await {
            Either::Left(end) => {
                out.line(format!("{}: connection closed: {}", peer(&stream), end));
            }
            Either::Right(Ok(next)) => {
                out.line(format!(
                    "{}: silent for {} s: its place goes to {}",
                    peer(&stream),
                    TAKE_OVER_AFTER.as_secs(),
                    peer(&next)
                ));
                stream.abort();
                newcomer = Some(next);
            }
            Either::Right(Err(e)) => {
                err.line(format!("tunnel: accept: {e}"));
                return 1;
            }
        }
        status.0.borrow_mut().phase = format!("listening on {local}");
    }
}

async fn connect(
    host: &Host,
    dev: &TunnelDevice,
    status: &Status,
    remote: SocketAddrV4,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let mut backoff = Duration::from_secs(1);
    loop {
        status.0.borrow_mut().phase = format!("connecting to {remote}");
        match drop_while(dev, status, TcpStream::connect(host, remote)).await {
            Ok(stream) => {
                let start = host.now();
                let heard = Cell::new(start);
                let end = session(dev, status, &stream, &mut out, &heard).await;
                if host.now().saturating_since(start) >= backoff {
                    backoff = Duration::from_secs(1);
                    out.line(format!("{remote}: connection closed: {end}; calling again"));
                    continue;
                }
                // Closed soon after it was made (a listener that turns
                // callers away while its tunnel is taken, or says a word
                // and hangs up): calling again at once would loop, a round
                // trip a call. Back off as after a refused call.
                out.line(format!(
                    "{remote}: connection closed: {end}; calling again in {} s",
                    backoff.as_secs()
                ));
                drop_while(dev, status, host.sleep(backoff)).await;
                backoff = (backoff * 2).min(Duration::from_secs(16));
            }
            Err(e) => {
                err.line(format!(
                    "tunnel: connect to {remote}: {e}; again in {} s",
                    backoff.as_secs()
                ));
                drop_while(dev, status, host.sleep(backoff)).await;
                backoff = (backoff * 2).min(Duration::from_secs(16));
            }
        }
    }
}

fn peer(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map_or_else(|| "?".to_string(), |a| a.to_string())
}

/// Run `fut`, dropping (and counting) what is routed into the tunnel
/// meanwhile: with no outer connection there is nowhere to send it.
async fn drop_while<F: std::future::Future>(
    dev: &TunnelDevice,
    status: &Status,
    fut: F,
) -> F::Output {
    let discard = async {
        loop {
            dev.recv().await;
            status.0.borrow_mut().dropped_unconnected += 1;
            dev.host().with_stack(|s| s.note_tx_dropped(dev.iface()));
        }
    };
    match select(fut, discard).await {
        Either::Left(v) => v,
        Either::Right(never) => never,
    }
}

enum Step {
    Packet(Vec<u8>),
    Read(Result<usize, SocketError>),
    Wrote(Result<usize, SocketError>),
}

/// Carry datagrams both ways until the connection ends; says why it did.
async fn session(
    dev: &TunnelDevice,
    status: &Status,
    stream: &TcpStream,
    out: &mut Output,
    heard: &Cell<Instant>,
) -> String {
    stream.set_nodelay(true);
    {
        let mut s = status.0.borrow_mut();
        s.connections += 1;
        s.phase = format!(
            "connected {} -> {}",
            stream
                .local_addr()
                .map_or_else(|| "?".into(), |a| a.to_string()),
            peer(stream)
        );
        out.line(format!("{}: {}", dev_name(dev), s.phase));
    }
    // A frame longer than this side's MTU is refused and counted.
    let mut deframer = Deframer::new(dev.mtu());
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let step = if pending.is_empty() {
            match select(stream.read(&mut buf), dev.recv()).await {
                Either::Left(r) => Step::Read(r),
                Either::Right(p) => Step::Packet(p),
            }
        } else if pending.len() < PENDING_LIMIT {
            match select(
                select(stream.read(&mut buf), stream.write(&pending)),
                dev.recv(),
            )
            .await
            {
                Either::Left(Either::Left(r)) => Step::Read(r),
                Either::Left(Either::Right(w)) => Step::Wrote(w),
                Either::Right(p) => Step::Packet(p),
            }
        } else {
            match select(stream.read(&mut buf), stream.write(&pending)).await {
                Either::Left(r) => Step::Read(r),
                Either::Right(w) => Step::Wrote(w),
            }
        };
        match step {
            Step::Packet(p) => {
                let mut next = Some(p);
                while let Some(p) = next {
                    if encode(&p, &mut pending).is_some() {
                        status.0.borrow_mut().frames_out += 1;
                    }
                    next = if pending.len() < PENDING_LIMIT {
                        dev.try_recv()
                    } else {
                        None
                    };
                }
            }
            Step::Read(Ok(0)) => return "the far end closed it".into(),
            Step::Read(Ok(n)) => {
                heard.set(dev.host().now());
                deframer.push(&buf[..n], &mut |frame| dev.inject(frame));
                status.0.borrow_mut().frames_in = deframer.stats();
            }
            Step::Read(Err(e)) | Step::Wrote(Err(e)) => return e.to_string(),
            Step::Wrote(Ok(n)) => {
                // The peer takes what we send: in use, even if it has
                // nothing to say (one-way traffic).
                heard.set(dev.host().now());
                pending.drain(..n);
            }
        }
    }
}

fn dev_name(dev: &TunnelDevice) -> String {
    dev.host()
        .with_stack(|s| s.interfaces()[dev.iface().0].name.clone())
}
