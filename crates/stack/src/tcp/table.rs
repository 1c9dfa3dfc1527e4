//! The connection table: listeners, connections, demultiplexing, ISNs,
//! the timer set and the output queue.
//!
//! Connections are found by their four-tuple in a keyed hash map and
//! listeners by (address, port), so the cost of a segment does not grow with
//! the number of connections; timers live in one ordered set of (deadline,
//! connection), and connections with something to send in a queue that is
//! served round-robin, one segment each, so no connection can hold the
//! output (or the CPU) for itself.

use std::collections::{BTreeSet, VecDeque};
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use tcplab_wire::ipv4;
use tcplab_wire::tcp::{self, SeqNumber};

use super::compact::OptInstant;
use super::config::{SocketOptions, TcpConfig};
use super::conns::ConnTable;
use super::emit::build_segment;
use super::input::{ChallengeLimiter, Ctx, Outcome};
use super::state::State;
use super::syncookie::Cookies;
use super::tcb::{Connection, Owner, Shared};
use super::timers::Timer;
use super::timewait::TimeWait;
use crate::hash::{new_map, KeyedState, Map};
use crate::iface::IfaceId;
use crate::ip::{Destination, IpLayer};
use crate::ports::PortTable;
use crate::rand::Rng;
use crate::slab::{Key, Slab};
use crate::socket::{IcmpErrorReport, SocketError, SocketId, SocketKind, TcpHandle};
use crate::stats::TcpStats;
use crate::time::Instant;

mod checks;
mod wakeups;

/// A passive open: the LISTEN state (RFC 9293 §3.9.1 OPEN, passive).
#[derive(Debug)]
pub struct Listener {
    pub local: SocketAddrV4,
    /// Accept-queue length (the `listen()` backlog).
    pub backlog: usize,
    /// `listen(2)` was called; a socket only bound answers as CLOSED.
    pub listening: bool,
    /// Established connections waiting for `accept`.
    pub accept_queue: VecDeque<Key>,
    /// Connections in SYN-RECEIVED (the SYN queue).
    pub embryos: usize,
    /// Only this remote may connect (a fully specified passive OPEN).
    pub remote: Option<SocketAddrV4>,
    /// When the SYN queue last overflowed (cookies were sent): only then
    /// is an ACK to the listener checked as a cookie (as Linux does).
    pub(super) last_overflow: Option<Instant>,
    /// The congestion control its connections get (`TCP_CONGESTION` on
    /// the listener, inherited as on Linux); the stack's default if unset.
    pub congestion: Option<super::config::CongestionAlgorithm>,
    /// Options its connections inherit, and its resets carry.
    pub opts: SocketOptions,
}

impl Listener {
    /// The accept queue is full: more than the backlog wait, as Linux
    /// counts it (`sk_acceptq_is_full`: `listen(1)` queues two).
    pub fn full(&self) -> bool {
        self.accept_queue.len() > self.backlog
    }
}

/// A TCP socket: a listener or a connection.
#[derive(Debug)]
/// Both are boxed: the slab holds a pointer per socket, so a million
/// connections do not each pay for a listener's size in the table.
pub enum TcpSocket {
    Listener(Box<Listener>),
    Connection(Box<Connection>),
    /// A connection in TIME-WAIT that nobody can use any more, kept as a
    /// small record ([`TimeWait`]); it becomes a `Connection` again for
    /// anything that needs one ([`TcpLayer::wake`]).
    TimeWait(Box<TimeWait>),
}

/// A connection to read (`TcpLayer::view`).
pub(crate) enum ConnView<'a> {
    Block(&'a Connection),
    Revived(Box<Connection>),
}

impl std::ops::Deref for ConnView<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            ConnView::Block(c) => c,
            ConnView::Revived(c) => c,
        }
    }
}

/// A connection's two ends.
pub type Tuple = (SocketAddrV4, SocketAddrV4);

/// Every TCP socket of a host.
#[derive(Debug)]
pub struct TcpLayer {
    pub config: TcpConfig,
    /// What connections share of `config` (refreshed when a connection
    /// opens, should `config` have changed).
    shared: Arc<Shared>,
    pub(crate) sockets: Slab<TcpSocket>,
    conns: ConnTable,
    /// The sockets bound to each (address, port) and not connected: one,
    /// or several that share it with `SO_REUSEPORT`, in the order they
    /// bound (a socket that leaves is replaced by the last, as in Linux's
    /// reuseport group).
    listeners: Map<SocketAddrV4, Vec<Key>>,
    /// Sockets in `listeners`.
    listener_count: usize,
    timers: BTreeSet<(Instant, Key)>,
    /// Wake-ups of connections in TIME-WAIT, in deadline order: every
    /// connection enters it for the same 2·MSL, so deadlines come in
    /// order and a queue keeps them without the ordered set's insert per
    /// closed connection (a busy client has thousands). Entries are not
    /// removed when their connection goes or is filed again; one whose
    /// connection no longer has that wake-up is skipped when it comes due.
    /// A deadline earlier than the last queued (MSL changed) goes to
    /// `timers` instead, so the queue stays in order.
    time_wait: VecDeque<(Instant, Key)>,
    /// TIME-WAIT records revived since output was last drained: put back
    /// (`settle`) then, whichever call or segment revived them.
    woken: Vec<Key>,
    /// Connections made orphans by a close, some perhaps gone since
    /// (pruned when the list reaches `TcpConfig::max_orphans`).
    pub(super) orphans: Vec<Key>,
    /// Connections that may have output, each once (`Connection::marked`).
    dirty: VecDeque<Key>,
    /// Debug builds check `Connection::may_send_more`: a connection it
    /// said had nothing more is asked once anyway when `poll_transmit`
    /// runs dry, and must have nothing, unless something marked it in
    /// between (`check_idle`). The queue's order is not touched.
    #[cfg(debug_assertions)]
    idle_checks: Vec<Key>,
    /// Sockets whose application should look again.
    pub(crate) events: Vec<SocketId>,
    isn_key: KeyedState,
    pub(super) cookies: Cookies,
    pub(super) challenge: ChallengeLimiter,
    pub stats: TcpStats,
    /// Ports of removed connections, for the stack to release.
    pub(crate) freed_ports: Vec<(u16, SocketId)>,
    /// Buffer storage of finished connections, for new ones (bounded).
    pool: Vec<Vec<u8>>,
    /// Record connections for a report (`set_tracing`), and what removed
    /// connections recorded, not yet taken.
    pub(super) tracing: bool,
    pub(super) trace: Vec<super::trace::Pending>,
}

/// Buffers kept for reuse at most.
const POOL_LIMIT: usize = 16;

/// What `poll_transmit` produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitted {
    /// A segment for a link, in the caller's buffer.
    Link { iface: IfaceId, next_hop: Ipv4Addr },
    /// A segment to this host, queued on the loopback; or fragments queued
    /// on the IP layer's output.
    Queued,
}

impl TcpLayer {
    pub fn new(config: TcpConfig, rng: &mut Rng) -> TcpLayer {
        let challenge = ChallengeLimiter::new(config.challenge_ack_limit);
        TcpLayer {
            shared: Arc::new(Shared::from(&config)),
            config,
            sockets: Slab::default(),
            conns: ConnTable::new(rng),
            listeners: new_map(rng),
            listener_count: 0,
            timers: BTreeSet::new(),
            time_wait: VecDeque::new(),
            woken: Vec::new(),
            orphans: Vec::new(),
            dirty: VecDeque::new(),
            #[cfg(debug_assertions)]
            idle_checks: Vec::new(),
            events: Vec::new(),
            // RFC 6528: the secret key of F().
            isn_key: KeyedState::new(rng),
            cookies: Cookies::new(KeyedState::new(rng)),
            challenge,
            stats: TcpStats::default(),
            freed_ports: Vec::new(),
            pool: Vec::new(),
            tracing: false,
            trace: Vec::new(),
        }
    }

    /// The settings connections share, as `config` says now.
    pub(super) fn shared(&mut self) -> Arc<Shared> {
        let now = Shared::from(&self.config);
        if *self.shared != now {
            self.shared = Arc::new(now);
        }
        Arc::clone(&self.shared)
    }

    /// Give a connection pooled storage for both its buffers.
    pub(crate) fn provide_buffers(&mut self, key: Key) {
        let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
            return;
        };
        for ring in [conn.snd.buffer_mut(), conn.rcv.buffer_mut()] {
            if !ring.has_storage() {
                if let Some(storage) = self.pool.pop() {
                    if let Some(back) = ring.provide(storage) {
                        self.pool.push(back);
                    }
                }
            }
        }
    }

    /// Take back the buffers of a connection that cannot use them any more
    /// (TIME-WAIT, CLOSED): nothing can be sent, and nobody will read.
    pub(crate) fn reclaim_buffers(&mut self, key: Key) {
        let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
            return;
        };
        let unread = !conn.rcv.buffer().is_empty();
        let finished = match conn.state() {
            State::TimeWait | State::Closed => !unread || conn.orphaned(),
            _ => false,
        };
        if !finished {
            return;
        }
        conn.rcv.clear_out_of_order();
        let taken = [
            conn.snd.buffer_mut().take_storage(),
            conn.rcv.buffer_mut().take_storage(),
        ];
        // Only storage of the host's sizes is kept: a socket that asked for
        // a larger buffer does not leave it behind in the pool.
        let largest = self.config.recv_buffer.max(self.config.send_buffer);
        for storage in taken.into_iter().flatten() {
            if self.pool.len() < POOL_LIMIT && storage.capacity() <= largest {
                self.pool.push(storage);
            }
        }
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
    /// secretkey), M a timer ticking every 4 microseconds.
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNumber {
        let f = self.isn_key.hash_one((local, remote)) as u32;
        let m = (now.total_micros() / 4) as u32;
        SeqNumber(m.wrapping_add(f).wrapping_add(self.config.isn_offset))
    }

    /// The offset of TSvals towards one host (RFC 7323 §5.4 allows one per
    /// connection; one per address pair, as Linux, keeps TSvals to a host
    /// increasing across connections, which RFC 6191 relies on).
    pub(super) fn ts_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        self.isn_key.hash_one((*local.ip(), *remote.ip(), 7323u16)) as u32
    }

    /// What a listener's connections inherit: its congestion control (if
    /// set) and its options.
    pub(super) fn listener_settings(
        &self,
        key: Key,
    ) -> (Option<super::config::CongestionAlgorithm>, SocketOptions) {
        match self.sockets.get(key) {
            Some(TcpSocket::Listener(l)) => (l.congestion, l.opts),
            _ => (None, SocketOptions::default()),
        }
    }

    /// The connection at `key` if it is a whole control block (not a
    /// TIME-WAIT record: see `conn_mut`).
    pub(crate) fn conn(&self, key: Key) -> Option<&Connection> {
        match self.sockets.get(key)? {
            TcpSocket::Connection(c) => Some(c),
            TcpSocket::Listener(_) | TcpSocket::TimeWait(_) => None,
        }
    }

    /// The connection at `key` to look at, however it is kept: a TIME-WAIT
    /// record is seen through a control block rebuilt from a copy.
    pub(crate) fn view(&self, key: Key) -> Option<ConnView<'_>> {
        match self.sockets.get(key)? {
            TcpSocket::Connection(c) => Some(ConnView::Block(c)),
            TcpSocket::TimeWait(tw) => Some(ConnView::Revived(
                Box::new(TimeWait::clone(tw)).revive(&self.config),
            )),
            TcpSocket::Listener(_) => None,
        }
    }

    /// The connection at `key`, as a whole control block (a TIME-WAIT
    /// record is revived).
    pub(crate) fn conn_mut(&mut self, key: Key) -> Option<&mut Connection> {
        self.wake(key);
        match self.sockets.get_mut(key)? {
            TcpSocket::Connection(c) => Some(c),
            TcpSocket::Listener(_) | TcpSocket::TimeWait(_) => None,
        }
    }

    /// A TIME-WAIT record becomes a control block again, in place (the
    /// handle stays): a segment, a timer or a call needs one.
    pub(crate) fn wake(&mut self, key: Key) {
        if !matches!(self.sockets.get(key), Some(TcpSocket::TimeWait(_))) {
            return;
        }
        let config = &self.config;
        self.sockets.map_in_place(key, |s| match s {
            TcpSocket::TimeWait(tw) => TcpSocket::Connection(tw.revive(config)),
            other => other,
        });
        self.woken.push(key);
    }

    /// A connection in TIME-WAIT that nobody can use any more and that
    /// owes nothing goes back to its small record (not while the stack
    /// records connections for a report: the trail needs the block).
    /// `TimeWait::keep` decides; this only spares it the other states.
    pub(crate) fn settle(&mut self, key: Key) {
        // Linux's tcp_max_tw_buckets: with the queue of TIME-WAIT
        // deadlines past the limit (it may also hold a few left by
        // connections gone early: a cautious count), a closed connection
        // entering TIME-WAIT is gone at once instead.
        let over = self.time_wait.len() > self.config.max_time_wait
            && matches!(self.sockets.get(key), Some(TcpSocket::Connection(c))
                if c.state() == State::TimeWait && c.owner != Owner::App);
        if over {
            self.stats.time_wait_overflow += 1;
            self.remove(key);
            return;
        }
        if !self.config.compact_time_wait || self.tracing {
            return;
        }
        let ready = matches!(self.sockets.get(key), Some(TcpSocket::Connection(c))
            if c.state() == State::TimeWait);
        if !ready {
            return;
        }
        self.sockets.map_in_place(key, |s| match s {
            TcpSocket::Connection(c) => match TimeWait::keep(c) {
                Ok(tw) => TcpSocket::TimeWait(tw),
                Err(c) => TcpSocket::Connection(c),
            },
            other => other,
        });
    }

    pub(crate) fn listener_mut(&mut self, key: Key) -> Option<&mut Listener> {
        match self.sockets.get_mut(key)? {
            TcpSocket::Listener(l) => Some(l),
            TcpSocket::Connection(_) | TcpSocket::TimeWait(_) => None,
        }
    }

    pub(crate) fn find(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<Key> {
        self.conns.get(&(local, remote))
    }

    /// The sockets bound to `local` (then to its port on any address) that
    /// would take a segment from `remote`, listening or only bound.
    fn bound_sockets(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> impl Iterator<Item = (Key, &Listener)> + '_ {
        let wildcard = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port());
        [local, wildcard]
            .into_iter()
            .filter_map(move |addr| self.listeners.get(&addr))
            .flatten()
            .filter_map(move |&key| match self.sockets.get(key) {
                Some(TcpSocket::Listener(l)) if l.remote.is_none_or(|r| r == remote) => {
                    Some((key, &**l))
                }
                _ => None,
            })
    }

    /// The socket bound to `local` that would take a segment from
    /// `remote`: listening or only bound.
    fn find_bound(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<&Listener> {
        self.bound_sockets(local, remote).next().map(|(_, l)| l)
    }

    /// The listening socket for `local` that would take a SYN from
    /// `remote`: one bound to that address before one bound to any; among
    /// several sharing the port (`SO_REUSEPORT`), the one a keyed hash of
    /// the two ends picks, scaled to the group as Linux's
    /// `reuseport_select_sock` does, so each connection's SYNs (and its
    /// retransmitted ones) always meet the same listener.
    pub(crate) fn find_listener(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<Key> {
        let wildcard = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port());
        for addr in [local, wildcard] {
            let Some(group) = self.listeners.get(&addr) else {
                continue;
            };
            let listening = |key: &&Key| {
                matches!(self.sockets.get(**key), Some(TcpSocket::Listener(l))
                    if l.listening && l.remote.is_none_or(|r| r == remote))
            };
            let n = group.iter().filter(listening).count();
            if n == 0 {
                continue;
            }
            let pick = if n == 1 {
                0
            } else {
                let hash = self.listeners.hasher().hash_one((local, remote)) as u32;
                ((u64::from(hash) * n as u64) >> 32) as usize
            };
            return group.iter().filter(listening).nth(pick).copied();
        }
        None
    }

    /// Whether the listener for `local` would take a new SYN now.
    fn listener_has_room(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        let Some(key) = self.find_listener(local, remote) else {
            return false;
        };
        match self.sockets.get(key) {
            Some(TcpSocket::Listener(l)) => {
                !l.full() && (l.embryos < self.config.max_syn_backlog || self.config.syncookies)
            }
            _ => false,
        }
    }

    pub(crate) fn register_listener(&mut self, local: SocketAddrV4, key: Key) {
        self.listeners.entry(local).or_default().push(key);
        self.listener_count += 1;
    }

    pub(crate) fn add_connection(&mut self, mut conn: Connection) -> Key {
        if self.tracing {
            conn.start_trail();
        }
        let tuple = (conn.local(), conn.remote());
        let key = self.sockets.insert(TcpSocket::Connection(Box::new(conn)));
        self.conns.insert(tuple, key);
        self.mark(key);
        key
    }

    /// Put `conn` into the slot `key` reserved for it.
    pub(crate) fn register_connection(&mut self, key: Key, mut conn: Connection) {
        if self.tracing {
            conn.start_trail();
        }
        let tuple = (conn.local(), conn.remote());
        // Whatever the slot held must not leave a wake-up filed for the key.
        if let Some(TcpSocket::Connection(old)) = self.sockets.get(key) {
            if let Some(t) = old.scheduled.get() {
                self.timers.remove(&(t, key));
            }
        }
        if let Some(slot) = self.sockets.get_mut(key) {
            match slot {
                // A placeholder's box is reused (no allocation per connect).
                TcpSocket::Connection(old) => **old = conn,
                _ => *slot = TcpSocket::Connection(Box::new(conn)),
            }
            self.conns.insert(tuple, key);
            self.mark(key);
        }
    }

    /// The connection has something to do: look at it in `poll_transmit`.
    /// A flag on the connection keeps it in the queue once, without a hash
    /// set to consult per segment.
    pub(crate) fn mark(&mut self, key: Key) {
        #[cfg(debug_assertions)]
        self.idle_checks.retain(|k| *k != key);
        if let Some(TcpSocket::Connection(c)) = self.sockets.get_mut(key) {
            if !c.marked {
                c.marked = true;
                self.dirty.push_back(key);
            }
        }
    }

    pub(crate) fn notify(&mut self, key: Key) {
        self.events.push(TcpHandle(key).id());
    }

    /// Whether any connection may have a segment to send.
    pub fn has_output(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The context of a call on a connection towards `remote`.
    pub(super) fn ctx<'a>(
        config: &'a TcpConfig,
        stats: &'a mut TcpStats,
        challenge: &'a mut ChallengeLimiter,
        now: Instant,
        mtus: Option<(usize, usize)>,
    ) -> Ctx<'a> {
        Ctx {
            now,
            config,
            stats,
            challenge,
            mtus,
        }
    }

    /// Path MTU towards `remote` as far as this host knows it, and the MTU
    /// of the first link.
    pub(super) fn path_mtu(
        ip: &IpLayer,
        now: Instant,
        local: Ipv4Addr,
        remote: Ipv4Addr,
    ) -> (usize, usize) {
        ip.route_local(now, remote, Some(local))
            .map_or((576, 576), |r| {
                let link = ip.link_mtu(&r);
                (r.mtu, link)
            })
    }

    // --- input ---------------------------------------------------------------

    /// A segment arrived (RFC 9293 §3.10.7).
    pub fn input(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        ip_repr: &ipv4::Repr,
        dest: Destination,
        payload: &[u8],
    ) {
        self.stats.in_segs += 1;
        let Ok(packet) = tcp::Packet::new_checked(payload) else {
            self.stats.in_errs += 1;
            return;
        };
        // RFC 9293 §3.1: a segment with a bad checksum is discarded.
        if !packet.verify_checksum(ip_repr.src_addr, ip_repr.dst_addr) {
            self.stats.in_csum_errors += 1;
            return;
        }
        let Ok(seg) = tcp::Repr::parse(&packet) else {
            self.stats.in_errs += 1;
            return;
        };
        // RFC 1122 §4.2.3.10: never for a broadcast or multicast address.
        if dest != Destination::Local {
            self.stats.in_errs += 1;
            return;
        }
        let local = SocketAddrV4::new(ip_repr.dst_addr, seg.dst_port);
        let remote = SocketAddrV4::new(ip_repr.src_addr, seg.src_port);
        // A connection that ended is gone for the network even while the
        // application still holds its handle (Linux and BSD unhash it): its
        // segments meet a listener or CLOSED (RFC 9293 §3.10.7.1).
        let found = self
            .find(local, remote)
            .filter(|&k| self.conn(k).is_none_or(|c| c.state() != State::Closed));
        if let Some(key) = found {
            self.wake(key);
        }
        // Whether this segment reopens a connection in TIME-WAIT (asked
        // once: drop_synfin and the reopening below both need it).
        let reopen = found.and_then(|k| self.time_wait_reopen(k, &seg));
        // BSD's drop_synfin: SYN and FIN together are dropped unseen where
        // they could open a connection (LISTEN, SYN-SENT, no socket, and
        // TIME-WAIT where this one would reopen it).
        if self.config.drop_synfin && seg.flags.syn() && seg.flags.fin() {
            let opening = match found.and_then(|k| self.conn(k).map(|c| c.state())) {
                None => true,
                Some(State::SynSent) => true,
                Some(State::TimeWait) => reopen.is_some(),
                Some(_) => false,
            };
            if opening {
                self.stats.in_errs += 1;
                return;
            }
        }
        let mut reopen_after = None;
        if let Some(key) = found {
            match reopen {
                // A listener with no room would drop the SYN: keep the old
                // incarnation's TIME-WAIT then.
                Some(_) if !self.listener_has_room(local, remote) => {
                    self.stats.listen_drops += 1;
                    return;
                }
                Some(snd_nxt) => {
                    // RFC 1122 §4.2.2.13 / RFC 6191: a new SYN above the old
                    // sequence space reopens from TIME-WAIT.
                    self.remove(key);
                    self.stats.time_wait_recycled += 1;
                    reopen_after = Some(snd_nxt);
                }
                None => {
                    self.connection_input(now, ip, key, &seg);
                    return;
                }
            }
        }
        if let Some(lkey) = self.find_listener(local, remote) {
            self.listen_input(now, ip, lkey, (local, remote), &seg, reopen_after);
            return;
        }
        // No listener: CLOSED, or a socket bound and not listening (whose
        // options the reset carries).
        let opts = self
            .find_bound(local, remote)
            .map_or_else(SocketOptions::default, |l| l.opts);
        self.closed_input(now, ip, (local, remote), &seg, &opts);
    }

    pub(super) fn connection_input(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        key: Key,
        seg: &tcp::Repr<'_>,
    ) {
        // A listener's accept queue is full: drop the ACK that would complete
        // the handshake, so the peer retransmits later (Linux).
        if let Some(conn) = self.conn(key) {
            if conn.state() == State::SynReceived && seg.flags.ack() && !seg.flags.rst() {
                if let Some(parent) = conn.parent() {
                    if let Some(TcpSocket::Listener(l)) = self.sockets.get(parent) {
                        if l.full() {
                            self.stats.listen_overflows += 1;
                            self.stats.listen_drops += 1;
                            return;
                        }
                    }
                }
            }
        }
        let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
            return;
        };
        // Only a SYN-ACK in SYN-SENT needs the path (its options set the
        // MSS); the route is not looked up for every segment.
        let mtus = (conn.state() == State::SynSent)
            .then(|| Self::path_mtu(ip, now, *conn.local.ip(), *conn.remote.ip()));
        let mut ctx = Self::ctx(
            &self.config,
            &mut self.stats,
            &mut self.challenge,
            now,
            mtus,
        );
        let outcome = conn.on_segment(&mut ctx, seg);
        let (local, remote) = (conn.local, conn.remote);
        self.after_input(now, ip, key, local, remote, outcome);
    }

    fn after_input(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        key: Key,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        outcome: Outcome,
    ) {
        if let Some((seq, ack)) = outcome.rst {
            let opts = self
                .conn(key)
                .map_or_else(SocketOptions::default, |c| *c.opts);
            self.send_rst(now, ip, (local, remote), seq, ack, &opts);
        }
        if outcome.established {
            self.on_established(key);
        }
        if outcome.notify {
            self.notify(key);
        }
        self.mark(key);
        self.reschedule(key);
        self.reclaim_buffers(key);
        if outcome.discard {
            self.remove(key);
        } else {
            self.reap(key);
        }
    }

    /// A connection completed its handshake: buffers from the pool; a passive
    /// one goes into its listener's accept queue.
    pub(super) fn on_established(&mut self, key: Key) {
        self.provide_buffers(key);
        let (parent, keep_alive) = match self.conn(key) {
            Some(c) => (c.parent(), c.keepalive.on),
            None => return,
        };
        if keep_alive {
            self.arm_keepalive(key);
        }
        let Some(parent) = parent else { return };
        if let Some(l) = self.listener_mut(parent) {
            l.embryos = l.embryos.saturating_sub(1);
            l.accept_queue.push_back(key);
        }
        if let Some(c) = self.conn_mut(key) {
            c.owner = Owner::Listener {
                key: parent,
                queued: true,
            };
        }
        self.events.push(TcpHandle(parent).id());
    }

    /// Start keep-alive on a synchronized connection (one still opening
    /// starts it when established; a closed one never).
    pub(crate) fn arm_keepalive(&mut self, key: Key) {
        let config = &self.config;
        if let Some(TcpSocket::Connection(c)) = self.sockets.get_mut(key) {
            let time = c.opts.keepalive_time(config);
            if c.state().synchronized() && c.state() != State::TimeWait {
                let at = c.last_recv + time;
                c.timers.set(Timer::KeepAlive, at);
            }
        }
        self.reschedule(key);
    }

    /// An ICMP error quoting a segment from `local` to `remote` with
    /// sequence number `seq` (RFC 5927, RFC 1191).
    pub fn icmp_error(
        &mut self,
        now: Instant,
        ip: &IpLayer,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: SeqNumber,
        report: &IcmpErrorReport,
    ) {
        let Some(key) = self.find(local, remote) else {
            return;
        };
        self.icmp_error_at(now, ip, key, seq, report);
        // A TIME-WAIT record revived to hear it is kept small again.
        self.settle(key);
    }

    /// Whether an ICMP error quoting a segment from `local` to `remote`
    /// with sequence number `seq` may concern data in flight (RFC 5927
    /// §4.1: SND.UNA =< SEG.SEQ < SND.NXT on a connection of that tuple).
    pub fn icmp_in_flight(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: SeqNumber,
    ) -> bool {
        let Some(conn) = self.find(local, remote).and_then(|k| self.conn(k)) else {
            return false;
        };
        let (una, nxt) = (conn.snd.una(), conn.snd.nxt());
        una <= seq && seq < nxt.max(una + 1)
    }

    fn icmp_error_at(
        &mut self,
        now: Instant,
        ip: &IpLayer,
        key: Key,
        seq: SeqNumber,
        report: &IcmpErrorReport,
    ) {
        let config = self.config.clone();
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        let (local, remote) = (conn.local, conn.remote);
        // RFC 5927 §4.1: only errors about data in flight count.
        let (una, nxt) = (conn.snd.una(), conn.snd.nxt());
        if !(una <= seq && seq < nxt.max(una + 1)) {
            return;
        }
        if report.message() == tcplab_wire::icmpv4::Message::DstUnreachable && report.code == 4 {
            // RFC 1191 §6.4: a smaller path MTU; resend what no longer fits
            // in smaller segments, without treating it as congestion.
            let (path, link) = Self::path_mtu(ip, now, *local.ip(), *remote.ip());
            let old = conn.seg.mss;
            conn.update_path(&config, path, link);
            if conn.seg.mss < old {
                let limit = conn.seg.mss + 1;
                conn.snd.queue_mut().mark_lost_if(|r| r.len() > limit);
            }
            self.mark(key);
            return;
        }
        // An error about our SYN itself, in SYN-SENT: the attempt is over
        // unless configured otherwise (RFC 9293 §3.9.2.2's hard errors,
        // SHLD-26; BSD's icmp_may_rst, Linux's tcp_v4_err).
        if conn.state() == State::SynSent && seq == una {
            use tcplab_wire::icmpv4::Message;
            // Protocol and port unreachable (RFC 1122's hard errors) and
            // "administratively prohibited" (RFC 1812 §5.2.7.1) refuse; a
            // TTL that ran out says the host cannot be reached. Net and host
            // unreachable are soft (routing may recover): they abort only
            // with RFC 5461's reaction, Linux's.
            let hard_code = matches!(
                (report.message(), report.code),
                (Message::DstUnreachable, 2 | 3 | 9 | 10 | 13) | (Message::TimeExceeded, 0)
            );
            let hard = if hard_code {
                config.syn_sent_icmp_abort.then(|| match report.message() {
                    Message::TimeExceeded => SocketError::HostUnreachable,
                    _ => SocketError::ConnectionRefused,
                })
            } else if config.syn_sent_icmp_abort
                && config.syn_sent_soft_abort
                && matches!(
                    (report.message(), report.code),
                    (Message::DstUnreachable, 0..=15) | (Message::TimeExceeded, _)
                )
            {
                // (Linux ignores unreachable codes past 15; with the hard
                // errors themselves kept soft, so are these.)
                report.socket_error()
            } else {
                None
            };
            if let Some(error) = hard {
                conn.fail(error);
                conn.enter_closed(now);
                self.stats.attempt_fails += 1;
                self.mark(key);
                // The application waiting on connect hears of it now (it
                // used to hear nothing, and waited for ever).
                self.notify(key);
                return;
            }
        }
        // RFC 9293 §3.9.2.2 (MUST-56, SHLD-25) and RFC 5927 §5.2: everything
        // else is soft: kept, reported only if the connection then times
        // out.
        if let Some(e) = report.socket_error() {
            conn.soft_error = Some(e);
        }
    }

    // --- output --------------------------------------------------------------

    /// Write the next segment into `buf`. Connections take turns, one
    /// segment each.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        ip: &mut IpLayer,
        buf: &mut Vec<u8>,
    ) -> Option<Emitted> {
        while let Some(key) = self.dirty.pop_front() {
            let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) else {
                continue;
            };
            conn.marked = false;
            let before = conn.counters;
            let nxt_before = conn.snd.nxt();
            let lowat_full = conn.notsent_lowat().is_some() && conn.send_room() == 0;
            let rto_head_owed = conn.rec.rto_head;
            let Some(plan) = conn.next_segment(now) else {
                self.reschedule(key);
                self.reap(key);
                continue;
            };
            let more = conn.may_send_more();
            let retrans = conn.counters.retrans_segs.wrapping_sub(before.retrans_segs);
            let fast = conn.counters.fast_retrans.wrapping_sub(before.fast_retrans);
            let probe = conn.counters.loss_probes.wrapping_sub(before.loss_probes);
            let new_data = conn.snd.nxt() != nxt_before;
            let rto_head = rto_head_owed && !conn.rec.rto_head;
            // RFC 1213's tcpOutSegs, as Linux counts it: every segment but
            // one that only sends again what was sent before.
            if retrans == 0 || new_data {
                self.stats.out_segs += 1;
            }
            if new_data && (plan.data_len > 0 || plan.flags.fin()) {
                self.stats.orig_data_sent += 1;
            }
            if retrans > 0 && plan.flags.syn() {
                self.stats.syn_retrans += 1;
            } else if retrans > fast && probe == 0 && !rto_head {
                // A repair after a timeout (in the loss state), other than
                // the timeout's own resend of the first segment.
                self.stats.slow_start_retrans += 1;
            }
            self.stats.retrans_segs += u64::from(retrans);
            self.stats.fast_retransmits += u64::from(fast);
            self.stats.dsack_sent +=
                u64::from(conn.counters.dsack_sent.wrapping_sub(before.dsack_sent));
            self.stats.loss_probes +=
                u64::from(conn.counters.loss_probes.wrapping_sub(before.loss_probes));
            // Sending brought the unsent bytes below TCP_NOTSENT_LOWAT:
            // the socket became writable without an ACK.
            let writable = lowat_full && conn.send_room() > 0;
            let (local, remote) = (conn.local, conn.remote);
            if writable {
                // (`notify`, on the one field free to borrow here.)
                self.events.push(TcpHandle(key).id());
            }
            let route = match ip.route_local(now, *remote.ip(), Some(*local.ip())) {
                Ok(r) => r,
                Err(_) => {
                    ip.stats.out_no_routes += 1;
                    conn.soft_error = Some(SocketError::NetworkUnreachable);
                    self.mark(key);
                    self.reschedule(key);
                    continue;
                }
            };
            let layout = self.config.option_layout;
            let (snd, opts) = (&conn.snd, &conn.opts);
            build_segment(buf, ip, &route, (local, remote), &plan, snd, layout, opts);
            // It may have more: back of the line. One that surely has
            // none is done with for now, as its next turn would find.
            if more {
                self.mark(key);
            } else {
                #[cfg(debug_assertions)]
                self.idle_checks.push(key);
            }
            self.reschedule(key);
            if !more {
                self.reap(key);
            }
            let link_mtu = ip.link_mtu(&route);
            if route.iface == IfaceId::LOOPBACK {
                // (Counted as sent on `lo` by build_segment already.)
                let mut copy = ip.buffer();
                copy.extend_from_slice(buf);
                ip.push_loopback(copy);
                return Some(Emitted::Queued);
            }
            if buf.len() > link_mtu {
                // DF is off (a path below the minimum MTU): fragment here.
                let bytes = std::mem::take(buf);
                ip.transmit(route.iface, route.next_hop, bytes);
                return Some(Emitted::Queued);
            }
            return Some(Emitted::Link {
                iface: route.iface,
                next_hop: route.next_hop,
            });
        }
        #[cfg(debug_assertions)]
        self.check_idle(now);
        // Nothing left to send: records revived meanwhile (by a segment
        // that needed no answer, a call on a closed handle, an ICMP error)
        // become records again.
        let mut woken = std::mem::take(&mut self.woken);
        for key in woken.drain(..) {
            self.settle(key);
        }
        self.woken = woken;
        None
    }

    // --- removal -------------------------------------------------------------

    /// Free a connection nobody will look at again.
    pub(crate) fn reap(&mut self, key: Key) {
        let free = self
            .conn(key)
            .is_some_and(|c| c.state() == State::Closed && c.owner != Owner::App);
        if free {
            self.remove(key);
        } else {
            self.settle(key);
        }
    }

    /// Remove a socket from every table.
    pub(crate) fn remove(&mut self, key: Key) -> Option<TcpSocket> {
        if let Some(TcpSocket::Connection(conn)) = self.sockets.get_mut(key) {
            if conn.state() != State::Closed {
                // The socket goes: when its clocks stop matters to nobody.
                let at = conn.last_recv;
                conn.enter_closed(at);
            }
            if conn.owner == Owner::App {
                conn.owner = Owner::Orphan;
            }
        }
        self.reclaim_buffers(key);
        let mut socket = self.sockets.remove(key)?;
        if let TcpSocket::Connection(c) = &mut socket {
            self.keep_trail(c);
        }
        match &socket {
            TcpSocket::Connection(c) => {
                // A new connection may have taken the tuple of one that
                // ended while its handle was held: leave it.
                let tuple = (c.local, c.remote);
                if self.conns.get(&tuple) == Some(key) {
                    self.conns.remove(&tuple);
                }
                self.freed_ports.push((c.local.port(), TcpHandle(key).id()));
                if let Some(t) = c.scheduled.get() {
                    self.timers.remove(&(t, key));
                }
                if let Owner::Listener {
                    key: parent,
                    queued,
                } = c.owner
                {
                    if let Some(TcpSocket::Listener(l)) = self.sockets.get_mut(parent) {
                        if queued {
                            l.accept_queue.retain(|k| *k != key);
                        } else {
                            l.embryos = l.embryos.saturating_sub(1);
                        }
                    }
                }
            }
            TcpSocket::Listener(l) => {
                if let Some(group) = self.listeners.get_mut(&l.local) {
                    if let Some(i) = group.iter().position(|k| *k == key) {
                        group.swap_remove(i);
                        self.listener_count -= 1;
                    }
                    if group.is_empty() {
                        self.listeners.remove(&l.local);
                    }
                }
                self.freed_ports.push((l.local.port(), TcpHandle(key).id()));
            }
            TcpSocket::TimeWait(tw) => {
                self.conns.remove(&(tw.local, tw.remote));
                self.freed_ports
                    .push((tw.local.port(), TcpHandle(key).id()));
                if let Some(t) = tw.scheduled.get() {
                    self.timers.remove(&(t, key));
                }
            }
        }
        Some(socket)
    }

    /// Give the ports of removed sockets back to the port table.
    pub(crate) fn release_ports(&mut self, ports: &mut PortTable) {
        for (port, owner) in self.freed_ports.drain(..) {
            ports.release(SocketKind::Tcp, port, owner);
        }
    }

    /// Bytes of buffer storage held by connections and the pool.
    pub fn buffer_bytes(&self) -> usize {
        let held: usize = self
            .sockets
            .iter()
            .map(|(_, s)| match s {
                TcpSocket::Connection(c) => c.snd.buffer().allocated() + c.rcv.buffer().allocated(),
                TcpSocket::TimeWait(tw) => tw.allocated(),
                TcpSocket::Listener(_) => 0,
            })
            .sum();
        held + self.pool.iter().map(Vec::len).sum::<usize>()
    }

    /// Connections in ESTABLISHED or CLOSE-WAIT (RFC 4022 tcpCurrEstab).
    pub fn current_established(&self) -> u64 {
        self.sockets
            .iter()
            .filter(|(_, s)| {
                matches!(s, TcpSocket::Connection(c) if matches!(c.state(), State::Established | State::CloseWait))
            })
            .count() as u64
    }

    pub fn iter(&self) -> impl Iterator<Item = (TcpHandle, &TcpSocket)> {
        self.sockets.iter().map(|(k, s)| (TcpHandle(k), s))
    }

    pub fn len(&self) -> usize {
        self.conns.len() + self.listener_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
