//! Edges of the public API an embedder can reach: sizes at the limits of
//! IPv4, a loopback source towards another host, the end of time. Each
//! once panicked or hung (found by an outside tester driving the API).

use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_stack::{Config, IfaceId, Instant, SendError, Stack, TcpHandle};

struct Pair {
    a: Stack,
    b: Stack,
    ia: IfaceId,
    ib: IfaceId,
    now: Instant,
}

impl Pair {
    fn new(mtu: usize) -> Pair {
        let mut a = Stack::new(Config {
            seed: 1,
            ..Config::default()
        });
        let mut b = Stack::new(Config {
            seed: 2,
            ..Config::default()
        });
        let ia = a
            .add_interface("eth0", "10.0.0.1/24".parse().unwrap(), mtu)
            .unwrap();
        let ib = b
            .add_interface("eth0", "10.0.0.2/24".parse().unwrap(), mtu)
            .unwrap();
        Pair {
            a,
            b,
            ia,
            ib,
            now: Instant::ZERO,
        }
    }

    /// Move everything both have to send until both are quiet.
    fn wire(&mut self) {
        let mut buf = Vec::new();
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
                self.b.handle_packet(self.now, self.ib, &buf[..t.len]);
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
                self.a.handle_packet(self.now, self.ia, &buf[..t.len]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// A connection from a to b: (client on a, server on b).
    fn connect(&mut self) -> (TcpHandle, TcpHandle) {
        let l = self
            .b
            .tcp_listen("10.0.0.2:80".parse().unwrap(), 4)
            .unwrap();
        let c = self
            .a
            .tcp_connect(self.now, "10.0.0.2:80".parse().unwrap(), None)
            .unwrap();
        self.wire();
        (c, self.b.tcp_accept(l).unwrap())
    }
}

#[test]
fn a_udp_payload_too_large_for_ipv4_is_refused_not_a_panic() {
    let mut p = Pair::new(1500);
    let u = p.a.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let to: SocketAddrV4 = "10.0.0.2:9".parse().unwrap();
    for n in [65_508, 65_528, 65_535, 70_000, 1 << 20] {
        assert!(
            matches!(
                p.a.udp_send_to(p.now, u, to, &vec![0; n]),
                Err(SendError::MessageTooLong { .. })
            ),
            "{n}"
        );
    }
    // The largest that fits goes (in fragments).
    assert!(p.a.udp_send_to(p.now, u, to, &vec![0; 65_507]).is_ok());
}

/// Both ends send; a's data goes out while a holds out-of-order data, so
/// its segments would carry SACK blocks. Every datagram fits the MTU (and
/// IPv4's 65,535 bytes).
#[test]
fn sack_blocks_never_push_a_data_segment_past_the_mtu() {
    for mtu in [576, 1500, 9000, 65_535] {
        let mut p = Pair::new(mtu);
        let (c, s) = p.connect();
        p.b.tcp_send(s, &vec![1; 180_000]).unwrap();
        let mut buf = Vec::new();
        let mut dropped = false;
        while let Some(t) = p.b.poll_transmit(p.now, &mut buf) {
            if !dropped && t.len > 100 {
                dropped = true;
                continue;
            }
            p.a.handle_packet(p.now, p.ia, &buf[..t.len]);
        }
        p.a.tcp_send(c, &vec![2; 300_000]).unwrap();
        let mut largest = 0;
        while let Some(t) = p.a.poll_transmit(p.now, &mut buf) {
            largest = largest.max(t.len);
        }
        assert!(
            largest <= mtu.min(65_535),
            "mtu {mtu}: a datagram of {largest}"
        );
        assert!(largest > 0);
    }
}

#[test]
fn a_loopback_source_does_not_leave_the_host() {
    let mut p = Pair::new(1500);
    let u = p.a.udp_bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        p.a.udp_send_to(p.now, u, "10.0.0.2:9".parse().unwrap(), b"x"),
        Err(SendError::InvalidArgument)
    );
    // To itself it may go.
    assert!(p
        .a
        .udp_send_to(p.now, u, "127.0.0.1:9".parse().unwrap(), b"x")
        .is_ok());
    let mut buf = Vec::new();
    while let Some(t) = p.a.poll_transmit(p.now, &mut buf) {
        assert_ne!(&buf[12..16], &[127, 0, 0, 1], "{t:?}");
    }
}

/// At the very end of time deadlines saturate and cannot move past `now`:
/// the call must still return.
#[test]
fn handle_timeout_returns_at_the_end_of_time() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut p = Pair::new(1500);
        let (c, _s) = p.connect();
        p.a.tcp_set_keepalive(c, true);
        p.a.tcp_send(c, &vec![1; 50_000]).unwrap();
        let mut buf = Vec::new();
        while p.a.poll_transmit(p.now, &mut buf).is_some() {}
        p.a.handle_timeout(Instant::from_micros(u64::MAX - 1));
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(30)).is_ok(),
        "handle_timeout did not return"
    );
}

/// A closed handle is no socket: binding it says so (EBADF) rather than
/// succeed and do nothing.
#[test]
fn binding_a_closed_ping_handle_is_an_error() {
    let mut p = Pair::new(1500);
    let h = p.a.ping_open().unwrap();
    let local = "10.0.0.1".parse().unwrap();
    assert_eq!(p.a.ping_bind(h, local), Ok(()));
    p.a.ping_close(h);
    assert_eq!(
        p.a.ping_bind(h, local),
        Err(tcplab_stack::BindError::InvalidHandle)
    );
}
