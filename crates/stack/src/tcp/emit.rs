//! Turning a connection's [`Plan`] into an IPv4 datagram.

use std::net::SocketAddrV4;

use tcplab_wire::{checksum, ipv4, tcp, Protocol};

use super::config::SocketOptions;
use super::output::Plan;
use super::sender::Sender;
use crate::ip::{IpLayer, RouteInfo};

/// The MSS to announce on an interface with `mtu` (RFC 9293 §3.7.1: MTU
/// minus the fixed IP and TCP headers), at least `floor`
/// (`TcpConfig::min_announced_mss`).
pub fn mss_for(mtu: usize, floor: u16) -> u16 {
    mtu.saturating_sub(40)
        .clamp(usize::from(floor.min(65495)), 65495) as u16
}

/// The MSS a SYN announces for `route`: from the MTU of the interface it
/// leaves by, not the path MTU — the option says what this host can
/// receive (RFC 9293 §3.7.1, RFC 6691 §2), and a narrower path learned
/// from "fragmentation needed" limits only what it sends (RFC 1191 §3.1;
/// Linux's advmss is the device's, `ipv4_default_advmss`).
pub fn announced_mss(ip: &IpLayer, route: &RouteInfo, floor: u16) -> u16 {
    mss_for(ip.link_mtu(route), floor)
}

/// Write IP and TCP headers and the payload of `plan` into `buf`.
#[expect(
    clippy::too_many_arguments,
    reason = "the segment's plan, its path and the connection's settings"
)]
pub(super) fn build_segment(
    buf: &mut Vec<u8>,
    ip: &mut IpLayer,
    route: &RouteInfo,
    (local, remote): (SocketAddrV4, SocketAddrV4),
    plan: &Plan,
    snd: &Sender,
    layout: tcp::OptionLayout,
    opts: &SocketOptions,
) {
    let mut repr = tcp::Repr::new(local.port(), remote.port(), plan.flags, plan.seq, plan.ack);
    repr.layout = layout;
    repr.window_len = plan.window;
    repr.urgent_pointer = plan.urgent;
    repr.max_seg_size = plan.mss;
    repr.window_scale = plan.wscale;
    repr.sack_permitted = plan.sack_permitted;
    repr.timestamp = plan.ts;
    repr.sack_ranges = plan.sack;
    let tcp_len = repr.header_len() + plan.data_len;
    let ip_repr = ipv4::Repr {
        src_addr: route.src,
        dst_addr: route.dst,
        protocol: Protocol::Tcp,
        payload_len: tcp_len,
        ttl: opts.ttl.unwrap_or(ip.default_ttl),
        tos: opts.tos_sent(),
        ident: ip.next_ident(route.src, route.dst, Protocol::Tcp),
        // RFC 1191: TCP does path-MTU discovery, so DF is set — unless the
        // path is below the smallest MTU the stack segments for.
        dont_frag: plan.df,
        more_frags: false,
        frag_offset: 0,
    };
    // A recycled buffer keeps its old bytes: every header byte is written
    // below and every payload byte copied over, so only growth is zeroed.
    let header_len = repr.header_len();
    let total = ipv4::HEADER_LEN + tcp_len;
    buf.truncate(total);
    buf.resize(total, 0);
    buf[..ipv4::HEADER_LEN + header_len].fill(0);
    ip_repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
    let segment = &mut buf[ipv4::HEADER_LEN..];
    repr.emit_header(&mut tcp::Packet::new_unchecked(&mut *segment));
    // The payload is summed as it is copied in (one pass, not two); the
    // second piece of a wrapped ring starts at an odd offset when the
    // first is odd-sized.
    let mut payload_sum = 0;
    if plan.data_len > 0 {
        let (a, b) = snd.payload(plan.data_seq, plan.data_len);
        let (da, rest) = segment[header_len..].split_at_mut(a.len());
        payload_sum += checksum::copy_sum(da, a);
        let (db, unfilled) = rest.split_at_mut(b.len());
        let sb = checksum::copy_sum(db, b);
        // Never the case while the plan and the buffer agree; zeros, as
        // before, rather than a recycled buffer's old bytes if not.
        unfilled.fill(0);
        payload_sum += if a.len() % 2 == 1 {
            checksum::swap_odd(sb)
        } else {
            sb
        };
    }
    tcp::Packet::new_unchecked(segment).fill_checksum_with(route.src, route.dst, payload_sum);
    ip.stats.out_requests += 1;
    if let Some(i) = ip.ifaces.get_mut(route.iface.0) {
        i.counters.tx_packets += 1;
        i.counters.tx_bytes += buf.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::mss_for;

    /// RFC 9293 §3.7.1: MTU − 40, within the floor and 65,495.
    #[test]
    fn announced_mss_follows_the_mtu_within_its_floor() {
        assert_eq!(mss_for(1500, 88), 1460);
        assert_eq!(mss_for(72, 88), 88);
        assert_eq!(mss_for(72, 0), 32);
        assert_eq!(mss_for(68, 0), 28);
        assert_eq!(mss_for(65535, 0), 65495);
        assert_eq!(mss_for(200_000, u16::MAX), 65495);
    }
}
