//! `tunnel udp`: each IP datagram in one UDP datagram, unencrypted.
//!
//! The listening end answers whoever sent to it last (so a peer behind a
//! NAT works, as WireGuard's roaming does); the calling end sends to the
//! address it was given and takes datagrams only from there. Inner
//! datagrams bigger than the outer path allows are fragmented by the outer
//! IP layer: nothing here hides a loss or a delay from the inner TCP.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcplab_host::{Host, Output, TunnelStatus, UdpSocket};

use super::{open_device, routes_into_itself, PipeArgs};
use crate::select::{select, Either};

/// Outer IPv4 (20) and UDP (8) headers.
pub(crate) const UDP_OVERHEAD: usize = 28;

#[derive(Debug, Default)]
struct State {
    peer: Option<SocketAddrV4>,
    local: Option<SocketAddrV4>,
    sent: u64,
    received: u64,
    dropped_no_peer: u64,
    dropped_stranger: u64,
    dropped_loop: u64,
}

#[derive(Debug, Default)]
struct Status(RefCell<State>);

impl TunnelStatus for Status {
    fn kind(&self) -> &'static str {
        "udp"
    }

    fn show(&self, _host: &Host) -> Vec<String> {
        let s = self.0.borrow();
        let addr =
            |a: Option<SocketAddrV4>| a.map_or_else(|| "(none yet)".into(), |a| a.to_string());
        vec![
            format!("outer: udp {} -> {}", addr(s.local), addr(s.peer)),
            format!(
                "datagrams: out {}, in {}; dropped: no peer yet {}, from a stranger {}, routing loop {}",
                s.sent, s.received, s.dropped_no_peer, s.dropped_stranger, s.dropped_loop
            ),
        ]
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(super) async fn run(host: Host, a: PipeArgs, mut out: Output, mut err: Output) -> i32 {
    let Some((dev, remote)) = open_device(&host, &a, "udp", UDP_OVERHEAD, &mut out, &mut err).await
    else {
        return 1;
    };
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.listen.unwrap_or(0));
    let udp = match UdpSocket::bind(&host, local) {
        Ok(u) => u,
        Err(e) => {
            err.line(format!("tunnel: bind udp {local}: {e}"));
            return 1;
        }
    };
    // DF clear on the outer datagrams, as WireGuard's (see wg.rs): routers
    // fragment what does not fit rather than drop it.
    udp.set_pmtudisc(tcplab_stack::PmtuDisc::Dont);
    let status = Rc::new(Status::default());
    status.0.borrow_mut().peer = remote;
    status.0.borrow_mut().local = Some(udp.local_addr());
    dev.set_status(status.clone());
    loop {
        match select(dev.recv(), udp.recv_from()).await {
            Either::Left(packet) => {
                let peer = status.0.borrow().peer;
                let mut s = status.0.borrow_mut();
                match peer {
                    Some(p) if routes_into_itself(&host, &dev, *p.ip()) => {
                        s.dropped_loop += 1;
                        host.with_stack(|st| st.note_tx_dropped(dev.iface()));
                    }
                    Some(p) if udp.send_to(&packet, p).is_ok() => s.sent += 1,
                    _ => {
                        s.dropped_no_peer += 1;
                        host.with_stack(|st| st.note_tx_dropped(dev.iface()));
                    }
                }
            }
            Either::Right(Ok(d)) => {
                {
                    let mut s = status.0.borrow_mut();
                    match remote {
                        // The calling end listens to its peer only.
                        Some(r) if d.from != r => {
                            s.dropped_stranger += 1;
                            continue;
                        }
                        Some(_) => {}
                        None => s.peer = Some(d.from),
                    }
                    s.received += 1;
                }
                dev.inject(&d.data);
            }
            // An ICMP error about an outer datagram: that one is lost.
            Either::Right(Err(_)) => {}
        }
    }
}
