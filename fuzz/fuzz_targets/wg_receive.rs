//! A WireGuard device with one configured peer fed arbitrary datagrams and
//! timer ticks: nothing from the network may panic it, and nothing forged
//! may come out of the tunnel.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tcplab_base::Instant;
use tcplab_wg::{Action, AllowedIp, Device, PeerConfig, PrivateKey, SeededEntropy};

fn device() -> Device {
    let mut keys = SeededEntropy::new(1);
    let own = PrivateKey::generate(&mut keys);
    let peer = PrivateKey::generate(&mut keys).public_key();
    let mut d = Device::new(own, Box::new(SeededEntropy::new(2)));
    let mut cfg = PeerConfig::new(peer);
    cfg.endpoint = Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 51820));
    cfg.allowed_ips = vec![AllowedIp::new(Ipv4Addr::new(10, 0, 0, 2), 32).unwrap()];
    cfg.persistent_keepalive = Some(25);
    d.add_peer(cfg).unwrap();
    d
}

fuzz_target!(|data: &[u8]| {
    // A sequence of records: 1 byte of time step (tens of ms), 1 byte of
    // length, then that many bytes of datagram.
    let mut d = device();
    let from = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 51820);
    let mut now = Instant::ZERO;
    let mut rest = data;
    while let [step, len, tail @ ..] = rest {
        now += Duration::from_millis(u64::from(*step) * 10);
        let wall = Duration::from_secs(1_700_000_000) + now.since_origin();
        let n = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        let mut actions = d.receive(now, wall, from, datagram);
        if d.poll_timeout().is_some_and(|t| t <= now) {
            actions.extend(d.handle_timeout(now, wall));
        }
        assert!(actions.iter().all(|a| matches!(a, Action::Send { .. })));
    }
});
