//! Segments that find no connection: LISTEN (RFC 9293 §3.10.7.2), with SYN
//! cookies when the SYN queue is full (RFC 4987 §3.6), TIME-WAIT reopened
//! by a new SYN (RFC 6191), and CLOSED (§3.10.7.1), which answers resets.

use tcplab_wire::tcp::{self, Flags, SeqNumber};
use tcplab_wire::Protocol;

use super::config::SocketOptions;
use super::emit::announced_mss;
use super::state::{Opening, Phase, State};
use super::table::{TcpLayer, TcpSocket, Tuple};
use super::tcb::{Connection, Owner};
use crate::ip::{IpLayer, SendOptions};
use crate::slab::Key;
use crate::socket::PmtuDisc;
use crate::time::Instant;

/// How long after the last SYN-queue overflow an ACK to a listener is
/// checked as a cookie (two cookie periods).
const COOKIE_WINDOW_SECS: u64 = 128;

impl TcpLayer {
    /// Whether `seg` is a SYN that may reopen a connection in TIME-WAIT;
    /// returns the old SND.NXT, which the new ISS must exceed.
    pub(super) fn time_wait_reopen(&self, key: Key, seg: &tcp::Repr<'_>) -> Option<SeqNumber> {
        if !self.config.time_wait_reopen {
            return None;
        }
        let conn = self.conn(key)?;
        let f = seg.flags;
        if conn.state() != State::TimeWait || !f.syn() || f.ack() || f.rst() {
            return None;
        }
        // RFC 6191 §2: with timestamps on the new SYN (and ours to answer
        // it), a TSval above the last one seen proves the SYN new; an equal
        // one needs a higher sequence number too; without timestamps only
        // a sequence number above the old connection's counts.
        let newer_seq = seg.seq_number > conn.rcv.nxt();
        let ts = seg.timestamp.filter(|_| self.config.timestamps);
        let new = match (conn.neg.ts, ts) {
            (true, Some(ts)) => {
                super::tcb::ts_before(conn.ts.recent, ts.tsval)
                    || (ts.tsval == conn.ts.recent && newer_seq)
            }
            (false, Some(_)) => true,
            (_, None) => newer_seq,
        };
        let reopen = new && self.find_listener(conn.local(), conn.remote()).is_some();
        reopen.then_some(conn.snd.nxt())
    }

    /// RFC 9293 §3.10.7.2: LISTEN.
    pub(super) fn listen_input(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        lkey: Key,
        (local, remote): Tuple,
        seg: &tcp::Repr<'_>,
        reopen_after: Option<SeqNumber>,
    ) {
        let f = seg.flags;
        if f.rst() {
            return;
        }
        if f.ack() {
            if !f.syn() && self.cookie_ack(now, ip, lkey, (local, remote), seg) {
                return;
            }
            // FreeBSD drops a <SYN,ACK> to a listener without a word
            // (`TcpConfig::listen_reset_synack` off).
            if f.syn() && !self.config.listen_reset_synack {
                return;
            }
            let opts = self.listener_settings(lkey).1;
            self.send_rst(now, ip, (local, remote), seg.ack_number, None, &opts);
            return;
        }
        if !f.syn() {
            return;
        }
        // Linux discards a SYN with FIN at a listener (a scanner's probe;
        // `TcpConfig::listen_drop_synfin`), counting it nowhere netstat
        // shows.
        if f.fin() && self.config.listen_drop_synfin {
            return;
        }
        let Some(TcpSocket::Listener(l)) = self.sockets.get(lkey) else {
            return;
        };
        if l.full() {
            self.stats.listen_overflows += 1;
            self.stats.listen_drops += 1;
            return;
        }
        if l.embryos >= self.config.max_syn_backlog {
            // The SYN queue is full (a flood, or a busy server): answer
            // without keeping state, or drop if cookies are off.
            if self.config.syncookies {
                if let Some(l) = self.listener_mut(lkey) {
                    l.last_overflow = Some(now);
                }
                self.send_cookie(now, ip, lkey, (local, remote), seg);
            } else {
                self.stats.listen_drops += 1;
            }
            return;
        }
        let Ok(route) = ip.route_local(now, *remote.ip(), Some(*local.ip())) else {
            return;
        };
        let mut iss = self.isn(now, local, remote);
        if let Some(old) = reopen_after {
            // The new incarnation must start above the old one (RFC 6191).
            if iss <= old + 65535 {
                iss = old + 65536 * 2;
            }
        }
        let (congestion, opts) = self.listener_settings(lkey);
        let shared = self.shared();
        let mut conn = Connection::new(
            &self.config,
            &shared,
            Phase::SynReceived {
                opening: Opening::Passive,
                close_queued: false,
            },
            local,
            remote,
            iss,
            announced_mss(ip, &route, self.config.min_announced_mss),
            Owner::Listener {
                key: lkey,
                queued: false,
            },
            now,
            opts,
        );
        conn.ts.offset = self.ts_offset(local, remote);
        if let Some(c) = congestion {
            conn.algorithm = c;
        }
        let window = conn.rcv.syn_window();
        conn.rcv.synchronize(seg.seq_number, window);
        conn.snd
            .set_window(seg.seq_number, iss, u32::from(seg.window_len));
        {
            let link = ip.link_mtu(&route);
            let ctx = Self::ctx(
                &self.config,
                &mut self.stats,
                &mut self.challenge,
                now,
                Some((route.mtu, link)),
            );
            conn.negotiate(&ctx, seg);
        }
        // Text in the SYN is not queued: without an acknowledgment for it,
        // the peer sends it again once the connection is established.
        conn.counters.segs_in = 1;
        let key = self.add_connection(conn);
        if let Some(l) = self.listener_mut(lkey) {
            l.embryos += 1;
        }
        self.reschedule(key);
    }

    /// A SYN-ACK whose ISS is a cookie, sent without creating anything. It
    /// announces our MSS and no other option.
    fn send_cookie(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        lkey: Key,
        (local, remote): Tuple,
        syn: &tcp::Repr<'_>,
    ) {
        let opts = self.listener_settings(lkey).1;
        let Ok(route) = ip.route_local(now, *remote.ip(), Some(*local.ip())) else {
            return;
        };
        let peer_mss = super::input::peer_mss(syn);
        let (iss, _) = self
            .cookies
            .make(now, local, remote, syn.seq_number, peer_mss);
        let mut repr = tcp::Repr::new(
            local.port(),
            remote.port(),
            Flags::SYN | Flags::ACK,
            iss,
            syn.seq_number + 1,
        );
        repr.window_len = opts.recv_buffer(&self.config).min(65535) as u16;
        let mss = announced_mss(ip, &route, self.config.min_announced_mss);
        repr.max_seg_size = (!opts.no_options).then(|| opts.max_seg.map_or(mss, |m| m.min(mss)));
        repr.layout = self.config.option_layout;
        if self.send_raw(ip, &route, &repr, &opts) {
            self.stats.syncookies_sent += 1;
        }
    }

    /// An ACK to a listener: if the SYN queue overflowed lately, it may
    /// acknowledge a cookie. A valid one makes an ESTABLISHED connection
    /// (RFC 4987 §3.6); returns whether the segment was taken.
    fn cookie_ack(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        lkey: Key,
        (local, remote): Tuple,
        seg: &tcp::Repr<'_>,
    ) -> bool {
        let Some(TcpSocket::Listener(l)) = self.sockets.get(lkey) else {
            return false;
        };
        let recent = l
            .last_overflow
            .is_some_and(|t| now.saturating_since(t).as_secs() < COOKIE_WINDOW_SECS);
        if !self.config.syncookies || !recent {
            return false;
        }
        let full = l.full();
        let Some(peer_mss) = self
            .cookies
            .check(now, local, remote, seg.seq_number, seg.ack_number)
        else {
            self.stats.syncookies_failed += 1;
            return false;
        };
        if full {
            // Valid, but no room: drop it; the peer will retry.
            self.stats.listen_overflows += 1;
            self.stats.listen_drops += 1;
            return true;
        }
        let Ok(route) = ip.route_local(now, *remote.ip(), Some(*local.ip())) else {
            return true;
        };
        self.stats.syncookies_recv += 1;
        // (The connection is made now, established: Linux counts
        // PassiveOpens where the child socket is created.)
        self.stats.passive_opens += 1;
        let iss = seg.ack_number - 1;
        let (congestion, opts) = self.listener_settings(lkey);
        let shared = self.shared();
        let mut conn = Connection::new(
            &self.config,
            &shared,
            Phase::Established,
            local,
            remote,
            iss,
            announced_mss(ip, &route, self.config.min_announced_mss),
            Owner::Listener {
                key: lkey,
                queued: false,
            },
            now,
            opts,
        );
        conn.snd.assume_syn_acked();
        let window = conn.rcv.syn_window();
        conn.rcv.synchronize(seg.seq_number - 1, window);
        // The <SYN,ACK> the cookie answered acknowledged the SYN: the
        // last ACK sent (Linux's rcv_wup), as `negotiate` sets it.
        conn.ts.last_ack_sent = conn.rcv.nxt();
        conn.snd.set_wscale(0);
        conn.rcv.set_wscale(0);
        conn.offer_wscale = false;
        conn.seg.peer_mss = peer_mss;
        let link = ip.link_mtu(&route);
        conn.update_path(&self.config, route.mtu, link);
        if let Some(c) = congestion {
            conn.algorithm = c;
        }
        conn.reset_controller(false);
        conn.snd
            .set_window(seg.seq_number, seg.ack_number, u32::from(seg.window_len));
        let key = self.add_connection(conn);
        if let Some(l) = self.listener_mut(lkey) {
            l.embryos += 1;
        }
        self.on_established(key);
        // The ACK may carry data: the connection takes it like any segment.
        if !seg.payload.is_empty() || seg.flags.fin() {
            self.connection_input(now, ip, key, seg);
        } else {
            self.reschedule(key);
        }
        true
    }

    /// RFC 9293 §3.10.7.1: CLOSED — a segment for no connection and no
    /// listener gets a reset, unless it is one. `opts` are those of a
    /// socket bound to the address and not listening (the defaults if none).
    pub(super) fn closed_input(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        tuple: Tuple,
        seg: &tcp::Repr<'_>,
        opts: &SocketOptions,
    ) {
        if seg.flags.rst() {
            return;
        }
        if seg.flags.ack() {
            self.send_rst(now, ip, tuple, seg.ack_number, None, opts);
        } else {
            let ack = seg.seq_number + seg.segment_len();
            self.send_rst(now, ip, tuple, SeqNumber(0), Some(ack), opts);
        }
    }

    /// Send a reset directly: `<SEQ=seq><CTL=RST>` or, with `ack`,
    /// `<SEQ=seq><ACK=ack><CTL=RST,ACK>`, with the TTL and TOS of the
    /// socket it comes from.
    pub(crate) fn send_rst(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        tuple: Tuple,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
        opts: &SocketOptions,
    ) {
        self.send_rst_with(now, ip, tuple, seq, ack, opts, None);
    }

    /// A connection's own reset as it ends (`Connection::active_reset`),
    /// with the socket's TTL and TOS.
    pub(crate) fn send_reset(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        r: super::tcb::Reset,
        opts: &SocketOptions,
    ) {
        self.send_rst_with(now, ip, (r.local, r.remote), r.seq, Some(r.ack), opts, r.ts);
    }

    /// `send_rst`, with a timestamp option if `ts` (a connection's own
    /// reset: RFC 7323 §3.2 asks that TSopt SHOULD be sent in a RST).
    #[expect(
        clippy::too_many_arguments,
        reason = "a reset's every field, as send_rst plus the option"
    )]
    pub(crate) fn send_rst_with(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        (local, remote): Tuple,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
        opts: &SocketOptions,
        ts: Option<tcp::Timestamp>,
    ) {
        let Ok(route) = ip.route_local(now, *remote.ip(), Some(*local.ip())) else {
            return;
        };
        let mut flags = Flags::RST;
        if ack.is_some() {
            flags |= Flags::ACK;
        }
        let mut repr = tcp::Repr::new(
            local.port(),
            remote.port(),
            flags,
            seq,
            ack.unwrap_or(SeqNumber(0)),
        );
        repr.timestamp = ts;
        if self.send_raw(ip, &route, &repr, opts) {
            self.stats.out_rsts += 1;
        }
    }

    /// Send a segment that belongs to no connection through the IP layer.
    fn send_raw(
        &mut self,
        ip: &mut IpLayer,
        route: &crate::ip::RouteInfo,
        repr: &tcp::Repr<'_>,
        opts: &SocketOptions,
    ) -> bool {
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut tcp::Packet::new_unchecked(&mut bytes[..]),
            route.src,
            route.dst,
        );
        let send = SendOptions {
            protocol: Protocol::Tcp,
            ttl: opts.ttl.unwrap_or(ip.default_ttl),
            tos: opts.tos_sent(),
            pmtudisc: PmtuDisc::Want,
        };
        let sent = ip.send(route, send, &bytes).is_ok();
        if sent {
            self.stats.out_segs += 1;
        }
        sent
    }
}
