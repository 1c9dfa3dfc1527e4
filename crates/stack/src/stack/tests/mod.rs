//! Stack tests on a tiny instantaneous network of stacks.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tcplab_wire::{icmpv4, ipv4, udp, Protocol};

use super::*;
use crate::socket::{
    BindError, PingHandle, PingMessage, PmtuDisc, RecvError, SendError, SocketError, SocketKind,
};

/// Stacks joined by point-to-point links that deliver instantly.
struct Net {
    nodes: Vec<Stack>,
    /// ((node, iface), (node, iface))
    links: Vec<((usize, IfaceId), (usize, IfaceId))>,
    /// Every datagram put on a link: (from node, bytes).
    wire: Vec<(usize, Vec<u8>)>,
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

impl Net {
    fn new() -> Net {
        Net {
            nodes: Vec::new(),
            links: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn node(&mut self, config: Config) -> usize {
        self.nodes.push(Stack::new(config));
        self.nodes.len() - 1
    }

    fn link(
        &mut self,
        a: usize,
        a_addr: &str,
        b: usize,
        b_addr: &str,
        mtu: usize,
    ) -> (IfaceId, IfaceId) {
        let ia = self.nodes[a]
            .add_interface("eth", cidr(a_addr), mtu)
            .unwrap();
        let ib = self.nodes[b]
            .add_interface("eth", cidr(b_addr), mtu)
            .unwrap();
        self.links.push(((a, ia), (b, ib)));
        (ia, ib)
    }

    fn peer(&self, node: usize, iface: IfaceId) -> Option<(usize, IfaceId)> {
        self.links.iter().find_map(|&(x, y)| {
            if x == (node, iface) {
                Some(y)
            } else if y == (node, iface) {
                Some(x)
            } else {
                None
            }
        })
    }

    /// Move datagrams until nothing is left to send.
    fn run(&mut self, now: Instant) {
        let mut buf = Vec::new();
        loop {
            let mut moved = false;
            for n in 0..self.nodes.len() {
                while let Some(t) = self.nodes[n].poll_transmit(now, &mut buf) {
                    moved = true;
                    let bytes = buf[..t.len].to_vec();
                    self.wire.push((n, bytes.clone()));
                    let Some((peer, piface)) = self.peer(n, t.iface) else {
                        continue;
                    };
                    if self.nodes[peer].is_local_addr(t.next_hop)
                        || self.nodes[peer].config.forwarding
                        || t.next_hop.is_broadcast()
                    {
                        self.nodes[peer].handle_packet(now, piface, &bytes);
                    } else {
                        self.nodes[n].handle_unreachable(now, t.iface, t.next_hop, &bytes);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
}

fn host(seed: u64) -> Config {
    Config {
        seed,
        ..Config::default()
    }
}

/// client 10.0.1.2 — r1 — r2 — server 10.0.2.2, with `mtu` on r1–r2.
fn three_hops(mtu: usize) -> (Net, usize, usize, usize, usize) {
    let mut net = Net::new();
    let c = net.node(host(1));
    let r1 = net.node(Config {
        seed: 2,
        ..Config::router()
    });
    let r2 = net.node(Config {
        seed: 3,
        ..Config::router()
    });
    let s = net.node(host(4));
    net.link(c, "10.0.1.2/24", r1, "10.0.1.1/24", 1500);
    net.link(r1, "10.0.12.1/30", r2, "10.0.12.2/30", mtu);
    net.link(r2, "10.0.2.1/24", s, "10.0.2.2/24", 1500);
    net.nodes[c]
        .set_default_gateway(Ipv4Addr::new(10, 0, 1, 1))
        .unwrap();
    net.nodes[s]
        .set_default_gateway(Ipv4Addr::new(10, 0, 2, 1))
        .unwrap();
    net.nodes[r1]
        .add_route(cidr("10.0.2.0/24"), Ipv4Addr::new(10, 0, 12, 2))
        .unwrap();
    net.nodes[r2]
        .add_route(cidr("10.0.1.0/24"), Ipv4Addr::new(10, 0, 12, 1))
        .unwrap();
    (net, c, r1, r2, s)
}

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn recv_all(stack: &mut Stack, h: PingHandle) -> Vec<PingMessage> {
    std::iter::from_fn(|| stack.ping_recv(h).ok()).collect()
}

fn raw_udp(src: [u8; 4], dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    raw_udp_from(src, 40000, dst, dport, payload)
}

fn raw_udp_from(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp::Repr {
        src_port: sport,
        dst_port: dport,
        payload,
    };
    let ip = ipv4::Repr {
        src_addr: Ipv4Addr::from(src),
        dst_addr: Ipv4Addr::from(dst),
        protocol: Protocol::Udp,
        payload_len: u.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 99,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut b = vec![0u8; 20 + u.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]));
    u.emit(
        &mut udp::Packet::new_unchecked(&mut b[20..]),
        ip.src_addr,
        ip.dst_addr,
    );
    b
}

/// A SYN built by hand, as `traceroute -T` and port scanners build it.
fn raw_syn(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    use tcplab_wire::tcp;
    let mut repr = tcp::Repr::new(
        sport,
        dport,
        tcp::Flags::SYN,
        tcp::SeqNumber(1000),
        tcp::SeqNumber(0),
    );
    repr.window_len = 5840;
    repr.max_seg_size = Some(1460);
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut tcp::Packet::new_unchecked(&mut bytes[..]), src, dst);
    bytes
}

mod input;
mod routing;
mod udp_sockets;
