//! `nc -u` as a client: a connected UDP socket, netcat's port test
//! (`udptest`) and `-zu` scans.

use super::*;

/// `nc -u`: connected UDP to the first port given (`-z`: `udp_scan`).
pub(super) async fn udp_client(
    host: &Host,
    a: &NcArgs,
    addr: Ipv4Addr,
    input: &mut Input,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let local = SocketAddrV4::new(
        a.source.unwrap_or(Ipv4Addr::UNSPECIFIED),
        a.source_port.unwrap_or(0),
    );
    let sock = match UdpSocket::bind(host, local) {
        Ok(s) => s,
        Err(e) => {
            err.line(format!("nc: bind failed: {e}"));
            return 1;
        }
    };
    let name = a.host.clone().unwrap_or_default();
    if a.scan {
        return udp_scan(host, a, addr, &name, local, sock, err).await;
    }
    // A client talks to the first port given.
    let Some(p) = a.each_port().next() else {
        return 1;
    };
    let remote = SocketAddrV4::new(addr, p);
    if let Err(e) = sock.connect(remote) {
        // netcat's remote_connect warns of a failed connect only with -v.
        if a.verbose {
            err.line(format!(
                "nc: connect to {} port {p} (udp) failed: {e}",
                shown(&name, addr, a.numeric)
            ));
        }
        return 1;
    }
    if a.verbose {
        // netcat tests the port first (`udptest`, its probes reaching
        // the service like any data): a closed one ends it silently,
        // status 1.
        if udp_test(host, a, &sock).await {
            return 1;
        }
        err.line(succeeded(&name, addr, p, Transport::Udp, a.numeric));
    }
    datagram_client(
        host,
        a,
        input,
        out,
        err,
        |data| {
            let r = sock.send(data).map_err(|e| e.to_string());
            async move { r }
        },
        || async { sock.recv_from().await.map(|d| d.data) },
    )
    .await
}

/// netcat's `udptest` as Debian's netcat-openbsd 1.219 makes it: two
/// datagrams "X" at once, then one a second for 3 s or `-w`'s seconds; a
/// port unreachable in between fails the next write with ECONNREFUSED.
/// Whether the port is closed.
async fn udp_test(host: &Host, a: &NcArgs, sock: &UdpSocket) -> bool {
    let refused = |r: Result<(), tcplab_stack::SendError>| {
        matches!(
            r,
            Err(tcplab_stack::SendError::Pending(
                SocketError::ConnectionRefused
            ))
        )
    };
    let mut closed = sock.send(b"X").is_err() || refused(sock.send(b"X"));
    let seconds = a.wait.map_or(3, |w| w.as_secs());
    let mut waited = 0;
    while !closed && waited < seconds {
        host.sleep(Duration::from_secs(1)).await;
        closed = refused(sock.send(b"X"));
        waited += 1;
    }
    closed
}

/// `nc -zu`, as Debian's netcat-openbsd 1.219 scans: a socket of its own
/// (so a source port of its own) for each port; probes only with `-v`
/// (`udptest`: two datagrams at once, then one a second for 3 s or `-w`'s
/// seconds, a port unreachable in between failing the next write with
/// ECONNREFUSED); the status is the last port's.
async fn udp_scan(
    host: &Host,
    a: &NcArgs,
    addr: Ipv4Addr,
    name: &str,
    local: SocketAddrV4,
    first: UdpSocket,
    err: &mut Output,
) -> i32 {
    let mut status = 0;
    let mut first = Some(first);
    for p in a.each_port() {
        let sock = match first.take() {
            Some(s) => s,
            None => match UdpSocket::bind(host, local) {
                Ok(s) => s,
                Err(e) => {
                    err.line(format!("nc: bind failed: {e}"));
                    return 1;
                }
            },
        };
        if let Err(e) = sock.connect(SocketAddrV4::new(addr, p)) {
            // netcat goes on to the next port (saying so only with -v).
            if a.verbose {
                err.line(format!(
                    "nc: connect to {} port {p} (udp) failed: {e}",
                    shown(name, addr, a.numeric)
                ));
            }
            status = 1;
            continue;
        }
        if !a.verbose {
            status = 0;
            continue;
        }
        let closed = udp_test(host, a, &sock).await;
        status = i32::from(closed);
        if !closed {
            err.line(succeeded(name, addr, p, Transport::Udp, a.numeric));
        }
    }
    status
}
