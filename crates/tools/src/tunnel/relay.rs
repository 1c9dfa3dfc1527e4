//! `tunnel udp2tcp` and `tunnel tcp2udp`: UDP datagrams over a TCP
//! connection, each framed with its 2-byte length ([`super::framing`]).
//!
//! `udp2tcp` listens for UDP on a port; the first datagram opens a TCP
//! connection to the far relay, and replies go back to whoever sent the
//! latest datagram (one client, as a WireGuard peer is). `tcp2udp` accepts
//! TCP connections and gives each its own UDP socket towards the
//! forwarding address, so replies find their way back.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcplab_host::{Host, Output, TcpListener, TcpStream, UdpSocket};
use tcplab_stack::SocketError;

use super::framing::{encode, Deframer, MAX_FRAME};
use super::resolve_or_say;
use crate::places::{Places, Slot};
use crate::select::{select, Either};

/// Framed bytes held for the stream at most; datagrams beyond are dropped
/// (a UDP application expects loss, not unbounded delay).
const PENDING_LIMIT: usize = 256 * 1024;

/// What a relay counted, printed when a connection ends.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    to_tcp: u64,
    to_udp: u64,
    dropped: u64,
    oversize: u64,
}

enum Step {
    Datagram(Result<tcplab_stack::UdpDatagram, SocketError>),
    Read(Result<usize, SocketError>),
    Wrote(Result<usize, SocketError>),
}

/// Relayed connections of one `tcp2udp` at once at most.
pub const RELAY_MAX: usize = 64;

/// Move datagrams between `udp` and `stream` until the stream ends.
/// `reply_to` is where frames from the stream go as datagrams; each
/// datagram that arrives from elsewhere than `reply_to` updates it when
/// `follow` (udp2tcp) and is dropped otherwise (tcp2udp only listens to
/// its forwarding address).
async fn pump(
    udp: &UdpSocket,
    stream: &TcpStream,
    reply_to: &RefCell<SocketAddrV4>,
    follow: bool,
    first: Option<Vec<u8>>,
    slot: Option<&Slot>,
) -> (Counts, String) {
    let mut c = Counts::default();
    let mut pending = Vec::new();
    if let Some(d) = first {
        if encode(&d, &mut pending).is_some() {
            c.to_tcp += 1;
        }
    }
    let mut deframer = Deframer::new(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let step = if pending.is_empty() {
            match select(stream.read(&mut buf), udp.recv_from()).await {
                Either::Left(r) => Step::Read(r),
                Either::Right(d) => Step::Datagram(d),
            }
        } else {
            match select(
                select(stream.read(&mut buf), stream.write(&pending)),
                udp.recv_from(),
            )
            .await
            {
                Either::Left(Either::Left(r)) => Step::Read(r),
                Either::Left(Either::Right(w)) => Step::Wrote(w),
                Either::Right(d) => Step::Datagram(d),
            }
        };
        // Traffic either way: this connection is in use (it is not the
        // one a newcomer replaces, while others sit idle longer).
        if let (Some(slot), Step::Datagram(Ok(_)) | Step::Read(Ok(1..))) = (slot, &step) {
            slot.waiting();
        }
        match step {
            Step::Datagram(Ok(d)) => {
                if d.from != *reply_to.borrow() {
                    if !follow {
                        c.dropped += 1;
                        continue;
                    }
                    *reply_to.borrow_mut() = d.from;
                }
                if pending.len() >= PENDING_LIMIT || encode(&d.data, &mut pending).is_none() {
                    c.dropped += 1;
                } else {
                    c.to_tcp += 1;
                }
            }
            // An ICMP error on the UDP side (port unreachable): the
            // datagram is lost, the relay goes on.
            Step::Datagram(Err(_)) => c.dropped += 1,
            Step::Read(Ok(0)) => return (c, "closed by the far relay".into()),
            Step::Read(Ok(n)) => {
                let to = *reply_to.borrow();
                deframer.push(&buf[..n], &mut |frame| {
                    if udp.send_to(frame, to).is_ok() {
                        c.to_udp += 1;
                    } else {
                        c.dropped += 1;
                    }
                });
                c.oversize = deframer.stats().oversize;
            }
            Step::Read(Err(e)) | Step::Wrote(Err(e)) => return (c, e.to_string()),
            Step::Wrote(Ok(n)) => {
                pending.drain(..n);
            }
        }
    }
}

fn summary(c: Counts, why: &str) -> String {
    format!(
        "connection ended ({why}): {} datagrams to tcp, {} to udp, {} dropped",
        c.to_tcp, c.to_udp, c.dropped
    )
}

pub(super) async fn udp2tcp(
    host: Host,
    port: u16,
    forward: String,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let Some(remote) = resolve_or_say(&host, &forward, &mut err).await else {
        return 1;
    };
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let udp = match UdpSocket::bind(&host, local) {
        Ok(u) => u,
        Err(e) => {
            err.line(format!("tunnel: bind udp {local}: {e}"));
            return 1;
        }
    };
    out.line(format!("udp2tcp: udp {local} -> tcp {remote}"));
    loop {
        // The first datagram calls the far relay.
        let first = match udp.recv_from().await {
            Ok(d) => d,
            Err(_) => continue,
        };
        let reply_to = RefCell::new(first.from);
        let stream = match TcpStream::connect(&host, remote).await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("tunnel: connect to {remote}: {e}"));
                continue;
            }
        };
        stream.set_nodelay(true);
        out.line(format!(
            "udp2tcp: {} <-> {} via {}",
            first.from,
            remote,
            stream
                .local_addr()
                .map_or_else(|| "?".into(), |a| a.to_string())
        ));
        let (c, why) = pump(&udp, &stream, &reply_to, true, Some(first.data), None).await;
        out.line(format!("udp2tcp: {}", summary(c, &why)));
    }
}

pub(super) async fn tcp2udp(
    host: Host,
    port: u16,
    forward: String,
    mut out: Output,
    mut err: Output,
) -> i32 {
    let Some(target) = resolve_or_say(&host, &forward, &mut err).await else {
        return 1;
    };
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let listener = match TcpListener::bind(&host, local, 16) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("tunnel: bind tcp {local}: {e}"));
            return 1;
        }
    };
    out.line(format!("tcp2udp: tcp {local} -> udp {target}"));
    let out = Rc::new(RefCell::new(out));
    // Each connection holds a UDP socket (an ephemeral port) and buffers:
    // at most RELAY_MAX at once, a newcomer taking the place of the one
    // idle longest.
    let places = Places::new(&host, RELAY_MAX);
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("tunnel: accept: {e}"));
                return 1;
            }
        };
        let Some(slot) = places.admit(stream.peer_addr().map(|a| *a.ip())) else {
            stream.abort();
            continue;
        };
        let udp = match UdpSocket::bind(&host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)) {
            Ok(u) => u,
            Err(e) => {
                err.line(format!("tunnel: udp socket: {e}"));
                continue;
            }
        };
        let Some(pid) = host.current_pid() else {
            return 1;
        };
        stream.set_nodelay(true);
        let out = out.clone();
        // Each connection is served by a task of this process.
        host.spawn(pid, async move {
            let from = stream
                .peer_addr()
                .map_or_else(|| "?".into(), |a| a.to_string());
            out.borrow_mut().line(format!(
                "tcp2udp: {from} <-> {target} via udp {}",
                udp.local_addr()
            ));
            let reply_to = RefCell::new(target);
            let relay = pump(&udp, &stream, &reply_to, false, None, Some(&slot));
            let (c, why) = match select(relay, slot.evicted()).await {
                Either::Left(ended) => ended,
                Either::Right(()) => {
                    stream.abort();
                    (Counts::default(), "idle longest when a new one came".into())
                }
            };
            out.borrow_mut()
                .line(format!("tcp2udp: {from}: {}", summary(c, &why)));
        });
    }
}
