//! `nc`, as OpenBSD netcat (Debian's netcat-openbsd) behaves.
//!
//! ```text
//! nc [-uvz] [-w SECS] HOST PORT[-PORT]     connect (or scan a range with -z)
//! nc -l [-ukv] [-p PORT] [PORT]           listen
//! nc -U [-luv] PATH                        a local (AF_UNIX) socket
//! ```
//!
//! Input comes from the previous stage of a pipeline (`echo hi | nc host 7`);
//! at its end the sending side is closed (a half-close: what `nc -N` does),
//! and nc keeps reading until the peer closes. Received bytes go to
//! standard output. Messages and errors go to standard error in netcat's
//! words; the exit status is 1 when the connection (or every scanned port)
//! failed.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_host::{
    timeout, Host, LocalDatagram, LocalListener, LocalStream, Output, TcpListener, TcpStream,
    UdpSocket,
};
use tcplab_stack::services::{self, Transport};
use tcplab_stack::SocketError;

use crate::args::{getopt, Opt};
use crate::select::{select, Either};
use crate::stream::Duplex;
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcArgs {
    pub listen: bool,
    pub udp: bool,
    pub verbose: bool,
    pub scan: bool,
    pub keep: bool,
    pub wait: Option<Duration>,
    pub host: Option<String>,
    pub ports: (u16, u16),
    /// `-U`: the path of a local socket instead of a host and port.
    pub unix: Option<String>,
}

const USAGE: &str = "usage: nc [-klUuvz] [-p source_port] [-w timeout] [destination] [port]";

fn port(s: &str) -> Result<u16, Usage> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .or_else(|| services::port(s, Transport::Tcp))
        .ok_or_else(|| Usage::new("nc", format!("port number invalid: {s}")))
}

impl NcArgs {
    pub fn parse(args: &[String]) -> Result<NcArgs, Usage> {
        let (opts, rest) =
            getopt(args, "lukvzNnUp:w:", &[]).map_err(|e| Usage::with_usage("nc", e, USAGE))?;
        let mut a = NcArgs {
            listen: false,
            udp: false,
            verbose: false,
            scan: false,
            keep: false,
            wait: None,
            host: None,
            ports: (0, 0),
            unix: None,
        };
        let mut listen_port = None;
        let mut unix = false;
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            match c {
                'l' => a.listen = true,
                'u' => a.udp = true,
                'k' => a.keep = true,
                'v' => a.verbose = true,
                'z' => a.scan = true,
                'N' | 'n' => {}
                'U' => unix = true,
                'p' => listen_port = Some(port(&v.unwrap_or_default())?),
                'w' => {
                    let v = v.unwrap_or_default();
                    let secs: f64 = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| *s > 0.0 && s.is_finite())
                        .ok_or_else(|| Usage::new("nc", format!("timeout invalid: {v}")))?;
                    a.wait = Some(Duration::from_secs_f64(secs));
                }
                _ => {}
            }
        }
        if unix {
            let [path] = rest.as_slice() else {
                return Err(Usage::with_usage("nc", "missing socket path".into(), USAGE));
            };
            if a.scan {
                return Err(Usage::new("nc", "cannot use -z and -U".into()));
            }
            a.unix = Some(path.clone());
            return Ok(a);
        }
        if a.listen {
            let p = match (rest.as_slice(), listen_port) {
                ([p], _) => port(p)?,
                ([], Some(p)) => p,
                _ => return Err(Usage::with_usage("nc", "missing port number".into(), USAGE)),
            };
            a.ports = (p, p);
            return Ok(a);
        }
        let [host, ports] = rest.as_slice() else {
            return Err(Usage::with_usage(
                "nc",
                "missing hostname and port".into(),
                USAGE,
            ));
        };
        a.host = Some(host.clone());
        a.ports = match ports.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (port(lo)?, port(hi)?);
                if lo > hi {
                    return Err(Usage::new("nc", format!("port range not valid: {ports}")));
                }
                (lo, hi)
            }
            None => {
                let p = port(ports)?;
                (p, p)
            }
        };
        Ok(a)
    }
}

fn service(port: u16, t: Transport) -> String {
    let proto = if t == Transport::Tcp { "tcp" } else { "udp" };
    format!("{proto}/{}", services::name(port, t).unwrap_or("*"))
}

/// Run nc; returns the exit status.
pub async fn run(
    host: Host,
    a: NcArgs,
    stdin: Option<Vec<u8>>,
    mut out: Output,
    mut err: Output,
) -> i32 {
    if let Some(path) = &a.unix {
        return unix(&host, &a, path, stdin, &mut out, &mut err).await;
    }
    if a.listen {
        return listen(&host, &a, stdin, &mut out, &mut err).await;
    }
    let name = a.host.clone().unwrap_or_default();
    let addr = match crate::resolve::lookup(&host, &name).await {
        Ok(addr) => addr,
        Err(e) => {
            err.line(format!(
                "nc: getaddrinfo for host \"{name}\" port {}: {e}",
                a.ports.0
            ));
            return 1;
        }
    };
    if a.udp {
        return udp_client(&host, &a, addr, stdin, &mut out, &mut err).await;
    }
    let mut any_ok = false;
    for p in a.ports.0..=a.ports.1 {
        let remote = SocketAddrV4::new(addr, p);
        let attempt = TcpStream::connect(&host, remote);
        let result = match a.wait {
            Some(w) => timeout(&host, w, attempt)
                .await
                .unwrap_or(Err(SocketError::TimedOut)),
            None => attempt.await,
        };
        let stream = match result {
            Ok(s) => s,
            Err(e) => {
                if a.verbose || !a.scan {
                    err.line(format!("nc: connect to {name} port {p} (tcp) failed: {e}"));
                }
                continue;
            }
        };
        any_ok = true;
        if a.verbose {
            err.line(format!(
                "Connection to {name} {p} port [{}] succeeded!",
                service(p, Transport::Tcp)
            ));
        }
        if a.scan {
            stream.abort();
            continue;
        }
        let code = exchange(&host, &stream, stdin.as_deref(), a.wait, &mut out, &mut err).await;
        return code;
    }
    if any_ok {
        0
    } else {
        1
    }
}

/// `nc -U`: a local stream socket (`-l` to listen), or with `-u` a local
/// datagram socket.
async fn unix(
    host: &Host,
    a: &NcArgs,
    path: &str,
    stdin: Option<Vec<u8>>,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    if a.udp {
        return unix_datagram(host, a, path, stdin, out, err).await;
    }
    if !a.listen {
        let stream = match LocalStream::connect(host, path) {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: {path}: {e}"));
                return 1;
            }
        };
        return exchange(host, &stream, stdin.as_deref(), a.wait, out, err).await;
    }
    let listener = match LocalListener::bind(host, path, 5) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("nc: {path}: {e}"));
            return 1;
        }
    };
    if a.verbose {
        err.line(format!("Listening on {path}"));
    }
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: accept failed: {e}"));
                return 1;
            }
        };
        if a.verbose {
            err.line(format!("Connection received on {path}"));
        }
        let code = exchange(host, &stream, stdin.as_deref(), None, out, err).await;
        if !a.keep {
            return code;
        }
    }
}

async fn unix_datagram(
    host: &Host,
    a: &NcArgs,
    path: &str,
    stdin: Option<Vec<u8>>,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let mut printer = Printer::default();
    if a.listen {
        let sock = match LocalDatagram::bind(host, Some(path)) {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: {path}: {e}"));
                return 1;
            }
        };
        if a.verbose {
            err.line(format!("Bound on {path}"));
        }
        loop {
            match sock.recv_from().await {
                Ok((from, data)) => {
                    printer.feed(&data, out);
                    if let (Some(reply), Some(from)) = (&stdin, from) {
                        let _ = sock.send_to(reply, Some(&from)).await;
                    }
                }
                Err(e) => {
                    err.line(format!("nc: recv failed: {e}"));
                    return 1;
                }
            }
        }
    }
    // OpenBSD nc binds the client to a temporary path so replies can come.
    let me = format!("/tmp/nc.{:08x}", host.with_stack(|s| s.random_u64()) as u32);
    let sock = match LocalDatagram::bind(host, Some(&me)) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("nc: {me}: {e}"));
            return 1;
        }
    };
    if let Err(e) = sock.connect(path) {
        err.line(format!("nc: {path}: {e}"));
        return 1;
    }
    if let Some(data) = &stdin {
        if let Err(e) = sock.send_to(data, None).await {
            err.line(format!("nc: write failed: {e}"));
            return 1;
        }
    }
    let wait = a.wait.unwrap_or(Duration::from_secs(1));
    loop {
        match select(sock.recv_from(), host.sleep(wait)).await {
            Either::Left(Ok((_, data))) => printer.feed(&data, out),
            Either::Left(Err(e)) => {
                printer.finish(out);
                err.line(format!("nc: read failed: {e}"));
                return 1;
            }
            Either::Right(()) => break,
        }
    }
    printer.finish(out);
    0
}

/// Send the input, half-close, and print what comes back until the peer
/// closes (or nothing arrives for the -w time).
async fn exchange(
    host: &Host,
    stream: &impl Duplex,
    input: Option<&[u8]>,
    idle: Option<Duration>,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    if let Some(data) = input {
        if let Err(e) = stream.write_all(data).await {
            err.line(format!("nc: write failed: {e}"));
            return 1;
        }
        let _ = stream.shutdown();
    }
    let mut buf = vec![0u8; 16384];
    let mut printer = Printer::default();
    loop {
        let read = stream.read(&mut buf);
        let r = match idle {
            Some(w) => match timeout(host, w, read).await {
                Ok(r) => r,
                Err(_) => break,
            },
            None => read.await,
        };
        match r {
            Ok(0) => break,
            Ok(n) => printer.feed(&buf[..n], out),
            Err(e) => {
                printer.finish(out);
                err.line(format!("nc: read failed: {e}"));
                return 1;
            }
        }
    }
    printer.finish(out);
    0
}

/// Prints received bytes as lines (binary bytes shown lossily).
#[derive(Debug, Default)]
pub struct Printer {
    partial: Vec<u8>,
}

impl Printer {
    pub fn feed(&mut self, data: &[u8], out: &mut Output) {
        for &b in data {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                out.line(String::from_utf8_lossy(&line).trim_end_matches('\r'));
            } else {
                self.partial.push(b);
            }
        }
    }

    pub fn finish(&mut self, out: &mut Output) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            out.line(String::from_utf8_lossy(&line));
        }
    }
}

async fn listen(
    host: &Host,
    a: &NcArgs,
    stdin: Option<Vec<u8>>,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.ports.0);
    if a.udp {
        let sock = match UdpSocket::bind(host, local) {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: bind failed: {e}"));
                return 1;
            }
        };
        if a.verbose {
            err.line(format!("Bound on 0.0.0.0 {}", a.ports.0));
        }
        let mut printer = Printer::default();
        loop {
            match sock.recv_from().await {
                Ok(d) => {
                    printer.feed(&d.data, out);
                    if let Some(data) = &stdin {
                        let _ = sock.send_to(data, d.from);
                    }
                }
                Err(e) => {
                    err.line(format!("nc: recv failed: {e}"));
                    return 1;
                }
            }
        }
    }
    let listener = match TcpListener::bind(host, local, 1) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("nc: bind failed: {e}"));
            return 1;
        }
    };
    if a.verbose {
        err.line(format!("Listening on 0.0.0.0 {}", a.ports.0));
    }
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                err.line(format!("nc: accept failed: {e}"));
                return 1;
            }
        };
        if a.verbose {
            if let Some(peer) = stream.peer_addr() {
                err.line(format!(
                    "Connection received on {} {}",
                    peer.ip(),
                    peer.port()
                ));
            }
        }
        let code = exchange(host, &stream, stdin.as_deref(), None, out, err).await;
        if !a.keep {
            return code;
        }
    }
}

async fn udp_client(
    host: &Host,
    a: &NcArgs,
    addr: Ipv4Addr,
    stdin: Option<Vec<u8>>,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let sock = match UdpSocket::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("nc: bind failed: {e}"));
            return 1;
        }
    };
    let remote = SocketAddrV4::new(addr, a.ports.0);
    if let Err(e) = sock.connect(remote) {
        err.line(format!(
            "nc: connect to {} port {} (udp) failed: {e}",
            addr, a.ports.0
        ));
        return 1;
    }
    if a.verbose {
        err.line(format!(
            "Connection to {} {} port [{}] succeeded!",
            a.host.as_deref().unwrap_or_default(),
            a.ports.0,
            service(a.ports.0, Transport::Udp)
        ));
    }
    if let Some(data) = &stdin {
        if let Err(e) = sock.send(data) {
            err.line(format!("nc: write failed: {e}"));
            return 1;
        }
    }
    // UDP has no end: wait for replies for the -w time (1 s by default
    // here, so that a scenario's nc -u finishes).
    let wait = a.wait.unwrap_or(Duration::from_secs(1));
    let mut printer = Printer::default();
    loop {
        match select(sock.recv_from(), host.sleep(wait)).await {
            Either::Left(Ok(d)) => printer.feed(&d.data, out),
            Either::Left(Err(e)) => {
                printer.finish(out);
                // ICMP port unreachable on a connected UDP socket.
                err.line(format!("nc: read failed: {e}"));
                return 1;
            }
            Either::Right(()) => break,
        }
    }
    printer.finish(out);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NcArgs, Usage> {
        NcArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn forms() {
        let a = parse("-v server 80").unwrap();
        assert_eq!(
            (a.host.as_deref(), a.ports, a.verbose),
            (Some("server"), (80, 80), true)
        );
        let a = parse("-zv server 20-25").unwrap();
        assert!(a.scan);
        assert_eq!(a.ports, (20, 25));
        let a = parse("-l 7000").unwrap();
        assert!(a.listen);
        assert_eq!(a.ports, (7000, 7000));
        let a = parse("-l -p 7001").unwrap();
        assert_eq!(a.ports, (7001, 7001));
        let a = parse("server http").unwrap();
        assert_eq!(a.ports, (80, 80));
        let a = parse("-lU /tmp/s.sock").unwrap();
        assert_eq!((a.listen, a.unix.as_deref()), (true, Some("/tmp/s.sock")));
    }

    #[test]
    fn mistakes() {
        assert!(parse("server")
            .unwrap_err()
            .message
            .contains("missing hostname and port"));
        assert_eq!(
            parse("server 0").unwrap_err().message,
            "port number invalid: 0"
        );
        assert_eq!(
            parse("server 9-2").unwrap_err().message,
            "port range not valid: 9-2"
        );
        assert!(parse("-w x server 1")
            .unwrap_err()
            .message
            .contains("timeout invalid"));
        assert!(parse("-l").unwrap_err().message.contains("missing port"));
        assert!(parse("-U")
            .unwrap_err()
            .message
            .contains("missing socket path"));
        assert!(parse("-zU /x").is_err());
    }
}
