//! `transfer`: move N bytes over TCP and report the goodput.
//!
//! ```text
//! transfer [-p PORT] [-s SIZE] HOST        send SIZE bytes to a discard server (port 9)
//! transfer -r [-p PORT] [-s SIZE] HOST     receive SIZE bytes from a chargen server (port 19)
//! transfer [-r] [-s SIZE] -U PATH          the same over a local socket
//! ```
//!
//! The time runs from the connection attempt to the end: for sending, until
//! the data and the FIN are acknowledged and the server closed; for
//! receiving, until SIZE bytes arrived. The summary shows what TCP did:
//! retransmissions, the smoothed RTT, the final congestion window.

use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_host::{Host, LocalStream, Output, TcpStream};
use tcplab_stack::SocketError;

use crate::args::{getopt, Opt};
use crate::format::{bitrate, parse_size};
use crate::stream::Duplex;
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferArgs {
    pub receive: bool,
    pub port: u16,
    pub size: u64,
    pub host: String,
    pub nodelay: bool,
    /// `-U PATH`: a local socket instead of TCP.
    pub unix: Option<String>,
}

const USAGE: &str = "usage: transfer [-r] [-N] [-p port] [-s size] host | -U path";

const HELP: &str = "usage: transfer [-r] [-N] [-p port] [-s size] host | -U path

Moves SIZE bytes over TCP and reports the goodput and what TCP did
(segments, retransmissions, srtt, rto, cwnd, ssthresh).

  -s SIZE   how much: 1500, 64K, 10M, 1.5G (powers of 1000), 64KiB (1024)
            (default 1M)
  -r        receive from a chargen server (port 19) instead of sending to
            a discard server (port 9)
  -p PORT   the server's port
  -N        TCP_NODELAY: no Nagle
  -U PATH   over a local stream socket instead of TCP
  -h        this text";

impl TransferArgs {
    pub fn parse(args: &[String]) -> Result<TransferArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("transfer", HELP.into(), true, 0));
        }
        let (opts, rest) =
            getopt(args, "rNp:s:U:", &[]).map_err(|e| Usage::with_usage("transfer", e, USAGE))?;
        let mut a = TransferArgs {
            receive: false,
            port: 0,
            size: 1_000_000,
            host: String::new(),
            nodelay: false,
            unix: None,
        };
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            let v = v.unwrap_or_default();
            match c {
                'r' => a.receive = true,
                'N' => a.nodelay = true,
                'U' => a.unix = Some(v),
                'p' => {
                    a.port = v
                        .parse()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| Usage::new("transfer", format!("invalid port `{v}`")))?
                }
                's' => {
                    a.size = parse_size(&v).ok_or_else(|| {
                        Usage::new("transfer", format!("invalid size `{v}` (write e.g. 10M)"))
                    })?
                }
                _ => {}
            }
        }
        if a.port == 0 {
            a.port = if a.receive { 19 } else { 9 };
        }
        match rest.as_slice() {
            [] if a.unix.is_some() => {}
            [h] if a.unix.is_none() => a.host = h.clone(),
            _ => {
                return Err(Usage::with_usage(
                    "transfer",
                    "one host expected".into(),
                    USAGE,
                ))
            }
        }
        Ok(a)
    }
}

/// Move the bytes over `stream`: send them and wait for the peer's close,
/// or receive them. Returns the bytes moved and the error that stopped it.
async fn pump(
    stream: &impl Duplex,
    a: &TransferArgs,
    calls: &mut u64,
) -> (u64, Result<(), SocketError>) {
    let mut moved: u64 = 0;
    if a.receive {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if moved >= a.size {
                return (moved, Ok(()));
            }
            *calls += 1;
            // Never more than what is still wanted: the server sends on
            // (chargen does not stop), and the count is SIZE exactly.
            let want = (a.size - moved).min(buf.len() as u64) as usize;
            match stream.read(&mut buf[..want]).await {
                Ok(0) => return (moved, Ok(())),
                Ok(n) => moved += n as u64,
                Err(e) => return (moved, Err(e)),
            }
        }
    }
    let block = vec![0x5au8; 64 * 1024];
    while moved < a.size {
        let n = (a.size - moved).min(block.len() as u64) as usize;
        *calls += 1;
        match stream.write(&block[..n]).await {
            Ok(k) => moved += k as u64,
            Err(e) => return (moved, Err(e)),
        }
    }
    if let Err(e) = stream.shutdown() {
        return (moved, Err(e));
    }
    // Wait for the server's close: everything was received.
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (moved, Ok(())),
            Ok(_) => {}
            Err(e) => return (moved, Err(e)),
        }
    }
}

/// The rate of `moved` bytes in `secs` — none when no time passed (in
/// the simulator a path with neither rate nor delay, or a local socket,
/// moves any amount at once; a rate would be a division by zero, not a
/// measurement).
fn rate_text(moved: u64, secs: f64) -> String {
    if secs <= 0.0 {
        "no time passed, so no rate".to_string()
    } else {
        bitrate(moved as f64 * 8.0 / secs)
    }
}

/// "2.165 ms" or "1.234 s".
fn seconds_text(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.3} ms", secs * 1000.0)
    } else {
        format!("{secs:.3} s")
    }
}

async fn local(host: Host, a: TransferArgs, path: &str, out: &mut Output, err: &mut Output) -> i32 {
    let start = host.now();
    let stream = match LocalStream::connect(&host, path) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("transfer: connect to {path}: {e}"));
            return 1;
        }
    };
    let mut calls = 0;
    let (moved, result) = pump(&stream, &a, &mut calls).await;
    if let Err(e) = result {
        err.line(format!("transfer: {e} after {moved} bytes"));
        return 1;
    }
    let secs = host.now().saturating_since(start).as_secs_f64();
    let verb = if a.receive { "received" } else { "sent" };
    let dir = if a.receive { "from" } else { "to" };
    out.line(format!(
        "transfer: {verb} {moved} bytes {dir} {path} in {}: {}",
        seconds_text(secs),
        rate_text(moved, secs)
    ));
    out.line(format!(
        "  local socket: {calls} {} of up to 64 KiB, each one copy; no packets, headers, checksums or acknowledgements",
        if a.receive { "reads" } else { "writes" }
    ));
    short_read(&a, moved, err)
}

pub async fn run(host: Host, a: TransferArgs, mut out: Output, mut err: Output) -> i32 {
    if let Some(path) = a.unix.clone() {
        return local(host, a, &path, &mut out, &mut err).await;
    }
    let addr = match crate::resolve::lookup(&host, &a.host).await {
        Ok(addr) => addr,
        Err(e) => {
            err.line(format!("transfer: {}: {e}", a.host));
            return 2;
        }
    };
    let remote = SocketAddrV4::new(addr, a.port);
    let start = host.now();
    let stream = match TcpStream::connect(&host, remote).await {
        Ok(s) => s,
        Err(e) => {
            err.line(format!(
                "transfer: connect to {} port {}: {e}",
                a.host, a.port
            ));
            return 1;
        }
    };
    stream.set_nodelay(a.nodelay);
    let connected = host.now();
    let mut calls = 0;
    let (moved, result) = pump(&stream, &a, &mut calls).await;
    let elapsed = host.now().saturating_since(start);
    let info = stream.info();
    if let Err(e) = result {
        err.line(format!("transfer: {} after {moved} bytes", e));
        return 1;
    }
    let secs = elapsed.as_secs_f64();
    let verb = if a.receive { "received" } else { "sent" };
    let dir = if a.receive { "from" } else { "to" };
    out.line(format!(
        "transfer: {verb} {moved} bytes {dir} {}:{} in {}: {}",
        a.host,
        a.port,
        seconds_text(secs),
        rate_text(moved, secs)
    ));
    if let Some(i) = info {
        let srtt = i.srtt.unwrap_or(Duration::ZERO).as_secs_f64() * 1000.0;
        out.line(format!(
            "  handshake {:.1} ms; segments out {}, in {}, retransmitted {}; srtt {:.1} ms, rto {} ms, cwnd {} B, ssthresh {}",
            connected.saturating_since(start).as_secs_f64() * 1000.0,
            i.segs_out,
            i.segs_in,
            i.retrans_segs,
            srtt,
            i.rto.as_millis(),
            i.cwnd,
            if i.ssthresh == usize::MAX { "-".to_string() } else { format!("{} B", i.ssthresh) }
        ));
    }
    short_read(&a, moved, &mut err)
}

/// A receiver whose server closed before SIZE bytes came: said, and a
/// failure (the statistics above still show what did come).
fn short_read(a: &TransferArgs, moved: u64, err: &mut Output) -> i32 {
    if a.receive && moved < a.size {
        err.line(format!(
            "transfer: the connection closed after {moved} of {} bytes",
            a.size
        ));
        return 1;
    }
    0
}
