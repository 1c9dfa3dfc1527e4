//! SO_REUSEPORT: listeners sharing one port (Linux's reuseport groups).

use std::net::Ipv4Addr;

use super::pair::sa;
use super::segments::{Bench, Seg, ACK, IRS, PORT, RST, SYN, THEM, US};
use crate::socket::{BindError, RecvError, TcpHandle};
use crate::tcp::SocketOptions;

const SHARED: SocketOptions = SocketOptions {
    reuse_port: true,
    ..SocketOptions::UNSET
};

fn listen_shared(b: &mut Bench) -> TcpHandle {
    let h = b.s.tcp_bind(sa(US, PORT), SHARED).unwrap();
    assert!(b.s.tcp_listen_bound(h, 128));
    h
}

/// Open a connection from each of `ports` (a SYN, our <SYN,ACK>, the ACK).
fn connect_from(b: &mut Bench, ports: std::ops::Range<u16>) {
    for port in ports {
        b.from = sa(THEM, port);
        b.send(Seg::new(SYN, IRS, 0));
        let synack = b.one();
        assert_eq!(synack.flags, SYN | ACK, "from port {port}");
        b.send(Seg::new(ACK, IRS + 1, synack.seq + 1));
    }
}

/// The peer ports of the connections waiting on `l`.
fn accepted(b: &mut Bench, l: TcpHandle) -> Vec<u16> {
    let mut ports = Vec::new();
    loop {
        match b.s.tcp_accept(l) {
            Ok(c) => ports.push(b.s.tcp_info(c).unwrap().remote.port()),
            Err(RecvError::WouldBlock) => return ports,
            Err(e) => panic!("accept: {e:?}"),
        }
    }
}

/// Sockets that set SO_REUSEPORT before binding share the port; one that
/// did not is refused, on the address or the wildcard (Linux's
/// inet_csk_bind_conflict: both must set it).
#[test]
fn only_sockets_that_all_set_reuse_port_share_it() {
    let mut b = Bench::new(|_| {});
    listen_shared(&mut b);
    listen_shared(&mut b);
    let in_use = |addr| Err(BindError::AddrInUse { addr, port: PORT });
    assert_eq!(b.s.tcp_listen(sa(US, PORT), 8), in_use(US));
    let any = Ipv4Addr::UNSPECIFIED;
    assert_eq!(
        b.s.tcp_bind(sa(any, PORT), SocketOptions::UNSET),
        in_use(any)
    );
    // A wildcard that shares joins them.
    assert!(b.s.tcp_bind(sa(any, PORT), SHARED).is_ok());
    // And a plain listener first keeps later sharing sockets out.
    let mut b = Bench::new(|_| {});
    b.s.tcp_listen(sa(US, PORT), 8).unwrap();
    assert_eq!(b.s.tcp_bind(sa(US, PORT), SHARED), in_use(US));
}

/// New connections are spread over the listeners of the group by a hash
/// of their two ends; each peer port keeps meeting the same listener (a
/// retransmitted SYN finds the same one); when one listener closes, the
/// others take every new connection, and a listener that joins later
/// takes its share.
#[test]
fn reuse_port_listeners_share_new_connections() {
    let mut b = Bench::new(|_| {});
    let l1 = listen_shared(&mut b);
    let l2 = listen_shared(&mut b);
    connect_from(&mut b, 5000..5064);
    let (to1, to2) = (accepted(&mut b, l1), accepted(&mut b, l2));
    assert_eq!(to1.len() + to2.len(), 64);
    assert!(to1.len() >= 16 && to2.len() >= 16, "{to1:?} {to2:?}");
    // The choice is the tuple's: reset every connection and open them
    // again from the same ports.
    for port in 5000..5064 {
        b.from = sa(THEM, port);
        b.send(Seg::new(RST | ACK, IRS + 1, 0));
    }
    connect_from(&mut b, 5000..5064);
    assert_eq!((accepted(&mut b, l1), accepted(&mut b, l2)), (to1, to2));
    // l1 closes: l2 takes them all.
    b.s.tcp_close(b.now, l1);
    b.recv();
    connect_from(&mut b, 6000..6032);
    assert_eq!(accepted(&mut b, l2).len(), 32);
    // A third joins: both take some again.
    let l3 = listen_shared(&mut b);
    connect_from(&mut b, 7000..7064);
    let (to2, to3) = (accepted(&mut b, l2), accepted(&mut b, l3));
    assert_eq!(to2.len() + to3.len(), 64);
    assert!(!to2.is_empty() && !to3.is_empty(), "{to2:?} {to3:?}");
    assert_eq!(b.s.stats().tcp.listen_drops, 0);
}
