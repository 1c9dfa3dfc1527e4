//! A recursive, caching resolver (the name server a LAN's hosts point
//! their `nameserver` at): `serve resolver --root ADDR...`.
//!
//! A query with RD set is resolved iteratively (RFC 1034 §5.3.3): from the
//! closest enclosing zone whose name servers the cache knows, else from
//! the root servers given, each server asked without recursion and each
//! referral followed to the child zone's servers (their glue, or their
//! names resolved in turn), CNAMEs followed to their targets. What comes
//! back is cached for its TTL (RFC 1035 §7.4): answers, referrals' NS
//! records and glue, and negative answers for the SOA's minimum (RFC 2308
//! §5). Answers go out with RA set, AA clear and the TTLs left (a cached
//! record counts down). A query without RD gets what the cache holds.
//!
//! Bounded against what the network sends: records are taken only from
//! inside the zone of the server that sent them (its bailiwick, RFC 5452
//! §6), the cache holds at most [`CACHE_MAX`] record sets and
//! [`RECORDS_MAX`] records (no set of more than [`SET_MAX`]), one query
//! follows at most [`MAX_STEPS`] referrals and CNAMEs and asks at most
//! [`MAX_ASKS`] servers, and at most [`IN_FLIGHT_MAX`] queries are resolved
//! at once: a newcomer takes the place of the oldest one in progress for
//! [`JOSTLE`] or more (which is dropped), or is dropped itself; the stub
//! asks again.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use tcplab_host::{timeout, Host};
use tcplab_stack::Instant;

use super::client::{query, QueryOptions};
use super::server::{UDP_EDNS_MAX, UDP_PLAIN_MAX};
use super::zone::key;

/// Record sets the cache holds at most.
pub const CACHE_MAX: usize = 10_000;
/// Records the cache holds at most, all sets together (a negative entry
/// counts one): a server cannot fill memory with sets of thousands.
pub const RECORDS_MAX: usize = 50_000;
/// Records one cached set holds at most; a larger set is answered but not
/// kept, and what was kept for its name and type goes (BIND 9.18.28's
/// `max-records-per-type` has the same limit, and refuses such a set).
pub const SET_MAX: usize = 100;
/// Referrals and CNAMEs one query follows at most.
pub const MAX_STEPS: usize = 16;
/// Servers one client query asks at most, counting every question asked
/// for it (also those resolving servers' names): a zone whose name
/// servers have no glue and names that never resolve cannot make one
/// question many (the NXNSAttack pattern).
pub const MAX_ASKS: usize = 48;
/// Names of glueless name servers resolved per referral at most.
const GLUELESS_MAX: usize = 2;
/// Queries resolved at once at most.
pub const IN_FLIGHT_MAX: usize = 64;
/// A question in progress for longer than this gives way to a new one
/// when every place is taken (Unbound's `jostle-timeout`, 200 ms): a
/// flood of questions that never resolve (a silent server) cannot lock
/// out the questions that resolve at once.
pub const JOSTLE: Duration = Duration::from_millis(200);
/// How long one client query may take in all before it is answered
/// SERVFAIL (BIND's resolver-query-timeout, 10 s): with the bound on
/// queries in flight, name servers that never answer hold a place for
/// this long at most, so they cannot keep other clients out.
pub const RESOLVE_DEADLINE: Duration = Duration::from_secs(10);
/// A TTL longer than this is cut to it (a week, as BIND's max-cache-ttl).
const TTL_MAX: u32 = 7 * 24 * 3600;
/// The cache's key for a name's absence whatever the type (type 0 is
/// reserved: no query asks for it).
const NO_NAME: RecordType = RecordType::ZERO;

/// How long a negative answer without an SOA is kept.
const NEGATIVE_DEFAULT: u32 = 60;

/// What the cache knows of one (name, type).
#[derive(Debug, Clone)]
enum Cached {
    /// The record set, as it came (TTLs as given).
    Records(Vec<Record>),
    /// A set a referral carried (the parent's NS records for a child
    /// zone, their glue): good for finding the servers, never given as an
    /// answer, and never in the place of a set an answer brought (RFC
    /// 2181 §5.4.1).
    Referral(Vec<Record>),
    /// The name does not exist (NXDOMAIN), or has no data of the type.
    Missing {
        nxdomain: bool,
        soa: Option<Box<Record>>,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    what: Cached,
    stored: Instant,
    expires: Instant,
}

impl Entry {
    /// What the entry counts towards [`RECORDS_MAX`].
    fn weight(&self) -> usize {
        match &self.what {
            Cached::Records(v) | Cached::Referral(v) => v.len().max(1),
            Cached::Missing { .. } => 1,
        }
    }
}

/// The resolver's state: root hints and the cache.
#[derive(Debug)]
pub struct Resolver {
    host: Host,
    roots: Vec<Ipv4Addr>,
    cache: RefCell<BTreeMap<(String, RecordType), Entry>>,
    /// Records in the cache, all entries together ([`Entry::weight`]).
    records: Cell<usize>,
    in_flight: Cell<usize>,
    /// The questions in progress, oldest first: when each began, and its
    /// signal to give way.
    flights: RefCell<std::collections::VecDeque<(Instant, Rc<GiveWay>)>>,
    /// Questions dropped because every place was taken by a young one,
    /// and ones that gave way.
    pub dropped: Cell<u64>,
    pub jostled: Cell<u64>,
}

/// The signal a question in progress waits on beside its work: set when
/// a newcomer takes its place.
#[derive(Debug, Default)]
pub struct GiveWay {
    given: Cell<bool>,
    waker: RefCell<Option<std::task::Waker>>,
}

impl GiveWay {
    fn give(&self) {
        self.given.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Ready once the place is given away.
    async fn given(&self) {
        std::future::poll_fn(|cx| {
            if self.given.get() {
                std::task::Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// The outcome of a resolution.
struct Resolved {
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

impl Resolved {
    fn fail() -> Resolved {
        Resolved {
            rcode: ResponseCode::ServFail,
            answers: Vec::new(),
            authority: Vec::new(),
        }
    }
}

impl Resolver {
    pub fn new(host: Host, roots: Vec<Ipv4Addr>) -> Resolver {
        Resolver {
            host,
            roots,
            cache: RefCell::new(BTreeMap::new()),
            records: Cell::new(0),
            in_flight: Cell::new(0),
            flights: RefCell::new(std::collections::VecDeque::new()),
            dropped: Cell::new(0),
            jostled: Cell::new(0),
        }
    }

    /// The cached entry for (`k`, `t`), if still live; with the seconds
    /// left.
    fn cached(&self, k: &str, t: RecordType) -> Option<(Cached, u32)> {
        let now = self.host.now();
        let mut cache = self.cache.borrow_mut();
        let e = cache.get(&(k.to_string(), t))?;
        if e.expires <= now {
            if let Some(gone) = cache.remove(&(k.to_string(), t)) {
                self.records.set(self.records.get() - gone.weight());
            }
            return None;
        }
        let left = e.expires.saturating_since(now).as_secs() as u32;
        Some((e.what.clone(), left))
    }

    /// [`Self::cached`], or the name's absence whatever the type (an
    /// NXDOMAIN for another type of it, RFC 2308 §5).
    fn cached_or_absent(&self, k: &str, t: RecordType) -> Option<(Cached, u32)> {
        self.cached(k, t).or_else(|| {
            self.cached(k, NO_NAME)
                .filter(|(c, _)| matches!(c, Cached::Missing { nxdomain: true, .. }))
        })
    }

    /// Records of the entry with their TTLs counted down to `left`.
    fn counted(records: &[Record], left: u32) -> Vec<Record> {
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.ttl = r.ttl.min(left);
                r
            })
            .collect()
    }

    fn store(&self, k: String, t: RecordType, what: Cached, ttl: u32) {
        let now = self.host.now();
        let ttl = ttl.min(TTL_MAX);
        if ttl == 0 {
            return;
        }
        let entry = Entry {
            what,
            stored: now,
            expires: now + Duration::from_secs(u64::from(ttl)),
        };
        let w = entry.weight();
        let mut cache = self.cache.borrow_mut();
        let mut total = self.records.get();
        if let Some(old) = cache.remove(&(k.clone(), t)) {
            total -= old.weight();
        }
        if w > SET_MAX {
            self.records.set(total);
            return;
        }
        if cache.len() >= CACHE_MAX || total + w > RECORDS_MAX {
            cache.retain(|_, e| e.expires > now);
            total = cache.values().map(Entry::weight).sum();
        }
        while cache.len() >= CACHE_MAX || total + w > RECORDS_MAX {
            // Still full of live entries: the one stored first goes.
            let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.stored)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(gone) = cache.remove(&oldest) {
                total -= gone.weight();
            }
        }
        cache.insert((k, t), entry);
        self.records.set(total + w);
    }

    /// Cache every record set of `records` that a server for `zone` may
    /// speak for ([`believed`]).
    fn store_sets(&self, records: &[Record], zone: &str) {
        for ((owner, t), set) in believed(records, zone) {
            // (Type 0 is no data: it keys a name's absence here.)
            if t == NO_NAME {
                continue;
            }
            let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(0);
            // The name exists after all: its absence goes.
            self.forget(&owner, NO_NAME);
            self.store(owner, t, Cached::Records(set), ttl);
        }
    }

    fn forget(&self, k: &str, t: RecordType) {
        if let Some(gone) = self.cache.borrow_mut().remove(&(k.to_string(), t)) {
            self.records.set(self.records.get() - gone.weight());
        }
    }

    /// [`Self::store_sets`] for what a referral carried, ranked below
    /// answers: a set an answer brought stays.
    fn store_referral(&self, records: &[Record], zone: &str) {
        for ((owner, t), set) in believed(records, zone) {
            if t == NO_NAME {
                continue;
            }
            if let Some((Cached::Records(_), _)) = self.cached(&owner, t) {
                continue;
            }
            let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(0);
            self.store(owner, t, Cached::Referral(set), ttl);
        }
    }

    /// A set to find servers with: an answer's or a referral's.
    fn servers_set(&self, k: &str, t: RecordType) -> Option<Vec<Record>> {
        match self.cached(k, t)? {
            (Cached::Records(v) | Cached::Referral(v), _) => Some(v),
            _ => None,
        }
    }

    /// The closest enclosing zone of `k` whose servers' addresses the
    /// cache knows: the zone, and the addresses.
    fn closest_servers(&self, k: &str) -> Option<(String, Vec<Ipv4Addr>)> {
        let mut zone = k.to_string();
        loop {
            if let Some(ns) = self.servers_set(&zone, RecordType::NS) {
                let addrs = self.addresses_of(&ns);
                if !addrs.is_empty() {
                    return Some((zone, addrs));
                }
            }
            if zone == "." {
                return None;
            }
            zone = parent(&zone);
        }
    }

    /// The cached addresses of the targets of NS records.
    fn addresses_of(&self, ns: &[Record]) -> Vec<Ipv4Addr> {
        let mut out = Vec::new();
        for r in ns {
            let RData::NS(target) = &r.data else { continue };
            if let Some(a) = self.servers_set(&key(&target.0), RecordType::A) {
                out.extend(a.iter().filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                }));
            }
        }
        out
    }

    /// Resolve (`name`, `t`) iteratively. `depth` counts the resolutions
    /// of server names this one started (bounded, so a loop of glueless
    /// delegations ends); `asks` is what the client's query may still ask
    /// of servers, shared by them all.
    async fn resolve(
        &self,
        name: &Name,
        t: RecordType,
        depth: u32,
        asks: &Cell<usize>,
    ) -> Resolved {
        let mut answers: Vec<Record> = Vec::new();
        let mut k = key(name);
        'names: for _ in 0..MAX_STEPS {
            // What the cache holds: the data, an alias, or the absence (a
            // referral's copy of the data is no answer: the zone's own
            // servers are asked for it).
            let held = self
                .cached_or_absent(&k, t)
                .filter(|(c, _)| !matches!(c, Cached::Referral(_)));
            if let Some((c, left)) = held {
                return match c {
                    Cached::Records(rs) => {
                        answers.extend(Self::counted(&rs, left));
                        Resolved {
                            rcode: ResponseCode::NoError,
                            answers,
                            authority: Vec::new(),
                        }
                    }
                    Cached::Referral(_) => unreachable!("filtered above"),
                    Cached::Missing { nxdomain, soa } => Resolved {
                        rcode: if nxdomain {
                            ResponseCode::NXDomain
                        } else {
                            ResponseCode::NoError
                        },
                        answers,
                        authority: soa.map(|s| Self::counted(&[*s], left)).unwrap_or_default(),
                    },
                };
            }
            // (ANY takes a CNAME as the answer, as below.)
            if t != RecordType::CNAME && t != RecordType::ANY {
                if let Some((Cached::Records(rs), left)) = self.cached(&k, RecordType::CNAME) {
                    if let Some(RData::CNAME(target)) = rs.first().map(|r| &r.data) {
                        answers.extend(Self::counted(&rs, left));
                        k = key(&target.0);
                        continue 'names;
                    }
                }
            }
            let (mut zone, mut servers) = self
                .closest_servers(&k)
                .unwrap_or_else(|| (".".to_string(), self.roots.clone()));
            // Whether the walk restarted from the roots (cached servers that
            // no longer answer).
            let mut from_roots = zone == ".";
            let Ok(qname) = Name::from_ascii(&k) else {
                return Resolved::fail();
            };
            // Down the referrals until a server answers for the name.
            let mut step = 0;
            loop {
                step += 1;
                if step > MAX_STEPS {
                    return Resolved::fail();
                }
                let mut reply = None;
                for addr in servers.iter().take(4) {
                    if asks.get() == 0 {
                        return Resolved::fail();
                    }
                    asks.set(asks.get() - 1);
                    let opts = QueryOptions {
                        timeout: Duration::from_secs(2),
                        tries: 2,
                        tcp: false,
                        recurse: false,
                        edns: None,
                    };
                    let server = SocketAddrV4::new(*addr, 53);
                    if let Some(r) = query(&self.host, server, &qname, t, opts, &mut |_| {}).await {
                        let m = r.message;
                        let code = m.metadata.response_code;
                        // An answer, a referral or an authoritative denial;
                        // anything else is a lame server: ask the next.
                        let usable = code == ResponseCode::NXDomain
                            || (code == ResponseCode::NoError
                                && (m.metadata.authoritative
                                    || !m.answers.is_empty()
                                    || m.authorities
                                        .iter()
                                        .any(|r| matches!(r.data, RData::NS(_)))));
                        if usable {
                            reply = Some(m);
                            break;
                        }
                    }
                }
                let Some(m) = reply else {
                    if !from_roots {
                        // The servers the cache knew did not answer: start
                        // again from the roots.
                        from_roots = true;
                        zone = ".".to_string();
                        servers = self.roots.clone();
                        continue;
                    }
                    return Resolved::fail();
                };
                let code = m.metadata.response_code;
                // Records from outside the server's zone are not believed.
                self.store_sets(&m.answers, &zone);
                let soa = m
                    .authorities
                    .iter()
                    .find(|r| matches!(r.data, RData::SOA(_)) && in_zone(&key(&r.name), &zone))
                    .cloned();
                if code == ResponseCode::NXDomain {
                    // RFC 6604: the code is about the end of the CNAME
                    // chain the answer holds (inside the server's zone).
                    let end = nxdomain_chain(&m.answers, k.clone(), &zone, &mut answers);
                    let ttl = negative_ttl(soa.as_ref());
                    let missing = Cached::Missing {
                        nxdomain: true,
                        soa: soa.clone().map(Box::new),
                    };
                    if let Some(end) = end {
                        // RFC 2308 §5: the name does not exist, whatever
                        // type is asked next.
                        self.store(end.clone(), NO_NAME, missing.clone(), ttl);
                        self.store(end, t, missing, ttl);
                    }
                    return Resolved {
                        rcode: ResponseCode::NXDomain,
                        answers,
                        authority: soa.into_iter().collect(),
                    };
                }
                let here: Vec<&Record> = m
                    .answers
                    .iter()
                    .filter(|r| key(&r.name) == k && in_zone(&k, &zone))
                    .collect();
                // ANY takes whatever the name has (a CNAME among it: RFC
                // 1034 §4.3.2 follows no alias a query of any type matches).
                let wanted = |r: &Record| t == RecordType::ANY || r.record_type() == t;
                if here.iter().any(|r| wanted(r)) {
                    let set: Vec<Record> = here
                        .iter()
                        .filter(|r| wanted(r))
                        .map(|r| (*r).clone())
                        .collect();
                    answers.extend(set);
                    return Resolved {
                        rcode: ResponseCode::NoError,
                        answers,
                        authority: Vec::new(),
                    };
                }
                if let Some(c) = here.iter().find(|r| matches!(r.data, RData::CNAME(_))) {
                    answers.push((*c).clone());
                    let RData::CNAME(target) = &c.data else {
                        unreachable!("matched above")
                    };
                    k = key(&target.0);
                    continue 'names;
                }
                // A referral: NS records for a zone below the one asked
                // and above the name.
                let cut = m.authorities.iter().find_map(|r| match &r.data {
                    RData::NS(_) => {
                        let owner = key(&r.name);
                        (owner != zone && in_zone(&owner, &zone) && in_zone(&k, &owner))
                            .then_some(owner)
                    }
                    _ => None,
                });
                let Some(cut) = cut else {
                    if m.metadata.authoritative {
                        // No data of the type (NODATA).
                        let ttl = negative_ttl(soa.as_ref());
                        let missing = Cached::Missing {
                            nxdomain: false,
                            soa: soa.clone().map(Box::new),
                        };
                        self.store(k.clone(), t, missing, ttl);
                        return Resolved {
                            rcode: ResponseCode::NoError,
                            answers,
                            authority: soa.into_iter().collect(),
                        };
                    }
                    // Neither an answer nor a referral: a lame server.
                    return Resolved::fail();
                };
                let ns: Vec<Record> = m
                    .authorities
                    .iter()
                    .filter(|r| key(&r.name) == cut && matches!(r.data, RData::NS(_)))
                    .cloned()
                    .collect();
                self.store_referral(&ns, &zone);
                // Glue: only addresses of names inside the zone that
                // referred (the parent holds glue only for its own names).
                let glue: Vec<Record> = m
                    .additionals
                    .iter()
                    .filter(|r| matches!(r.data, RData::A(_)))
                    .cloned()
                    .collect();
                self.store_referral(&glue, &zone);
                let mut next = self.addresses_of(&ns);
                if next.is_empty() && depth < 3 {
                    // Glueless: resolve the servers' names first (a few).
                    for r in ns.iter().take(GLUELESS_MAX) {
                        let RData::NS(target) = &r.data else { continue };
                        let got =
                            Box::pin(self.resolve(&target.0, RecordType::A, depth + 1, asks)).await;
                        next.extend(got.answers.iter().filter_map(|r| match &r.data {
                            RData::A(a) => Some(a.0),
                            _ => None,
                        }));
                        if !next.is_empty() {
                            break;
                        }
                    }
                }
                if next.is_empty() {
                    return Resolved::fail();
                }
                zone = cut;
                servers = next;
            }
        }
        Resolved::fail()
    }

    /// The answer to one query, or `None` to drop it (not a query, or too
    /// many in progress).
    pub async fn respond(&self, request: &[u8], udp: bool) -> Option<Vec<u8>> {
        let query = Message::from_vec(request).ok()?;
        if query.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
        reply.metadata.recursion_desired = query.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        let [q] = &query.queries[..] else {
            reply.metadata.response_code = ResponseCode::FormErr;
            return reply.to_vec().ok();
        };
        reply.add_query(q.clone());
        // Type 0 is reserved (RFC 6895 §3.1), and keys a name's absence
        // in the cache: no question asks for it.
        if q.query_type() == NO_NAME {
            reply.metadata.response_code = ResponseCode::FormErr;
            return reply.to_vec().ok();
        }
        if query.metadata.op_code != OpCode::Query || q.query_class() != DNSClass::IN {
            reply.metadata.response_code = ResponseCode::NotImp;
            return reply.to_vec().ok();
        }
        let now = self.host.now();
        if self.in_flight.get() >= IN_FLIGHT_MAX {
            // Every place taken: the oldest question, if it has had its
            // JOSTLE, gives way (dropped unanswered: its client asks
            // again); else the newcomer is dropped.
            let mut flights = self.flights.borrow_mut();
            let oldest = flights
                .iter()
                .position(|(at, g)| !g.given.get() && now.saturating_since(*at) >= JOSTLE);
            match oldest.and_then(|k| flights.remove(k)) {
                Some((_, g)) => {
                    g.give();
                    self.jostled.set(self.jostled.get() + 1);
                }
                None => {
                    self.dropped.set(self.dropped.get() + 1);
                    return None;
                }
            }
        }
        let _flight = Flight::new(&self.in_flight);
        let out = if query.metadata.recursion_desired {
            let asks = Cell::new(MAX_ASKS);
            let give_way = Rc::new(GiveWay::default());
            self.flights.borrow_mut().push_back((now, give_way.clone()));
            let _listed = Listed(&self.flights, give_way.clone());
            let work = self.resolve(q.name(), q.query_type(), 0, &asks);
            let bounded = timeout(&self.host, RESOLVE_DEADLINE, work);
            match crate::select::select(bounded, give_way.given()).await {
                crate::select::Either::Left(r) => r.unwrap_or_else(|_| Resolved::fail()),
                crate::select::Either::Right(()) => return None,
            }
        } else {
            self.cache_only(q.name(), q.query_type())
        };
        reply.metadata.response_code = out.rcode;
        reply.add_answers(out.answers);
        reply.add_authorities(out.authority);
        // RFC 6891 §7: an OPT in the question, an OPT in the answer.
        if query.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(UDP_EDNS_MAX);
            reply.set_edns(edns);
        }
        let bytes = reply.to_vec().ok()?;
        let limit = query.edns.as_ref().map_or(UDP_PLAIN_MAX, |e| {
            usize::from(e.max_payload().clamp(512, UDP_EDNS_MAX))
        });
        if udp && bytes.len() > limit {
            return reply.truncate().to_vec().ok();
        }
        Some(bytes)
    }

    /// Without RD: only what the cache holds (BIND and Unbound answer
    /// from their caches so); a question the cache cannot answer is
    /// refused, as Knot Resolver's refuse_nord does — never an empty
    /// NOERROR, which would say the name has no data of the type.
    fn cache_only(&self, name: &Name, t: RecordType) -> Resolved {
        let k = key(name);
        let (rcode, answers, authority) = match self.cached_or_absent(&k, t) {
            Some((Cached::Records(rs), left)) => {
                (ResponseCode::NoError, Self::counted(&rs, left), Vec::new())
            }
            Some((Cached::Missing { nxdomain, soa }, left)) => (
                if nxdomain {
                    ResponseCode::NXDomain
                } else {
                    ResponseCode::NoError
                },
                Vec::new(),
                soa.map(|s| Self::counted(&[*s], left)).unwrap_or_default(),
            ),
            // (A referral's copy is no answer either.)
            None | Some((Cached::Referral(_), _)) => {
                (ResponseCode::Refused, Vec::new(), Vec::new())
            }
        };
        Resolved {
            rcode,
            answers,
            authority,
        }
    }
}

/// The record sets of `records` whose owner is inside `zone` (class IN):
/// what a server for `zone` may be believed about (its bailiwick, RFC 5452
/// §6); a record about any other name is dropped, so a server cannot
/// plant an answer for a zone it does not serve.
fn believed(records: &[Record], zone: &str) -> BTreeMap<(String, RecordType), Vec<Record>> {
    let mut sets: BTreeMap<(String, RecordType), Vec<Record>> = BTreeMap::new();
    for r in records {
        let owner = key(&r.name);
        let t = r.record_type();
        if r.dns_class != DNSClass::IN || t == RecordType::OPT || !in_zone(&owner, zone) {
            continue;
        }
        sets.entry((owner, t)).or_default().push(r.clone());
    }
    sets
}

/// A question's entry in the list of those in progress, taken out when
/// it ends (or its future is dropped).
struct Listed<'a>(
    &'a RefCell<std::collections::VecDeque<(Instant, Rc<GiveWay>)>>,
    Rc<GiveWay>,
);

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().retain(|(_, g)| !Rc::ptr_eq(g, &self.1));
    }
}

/// One query being resolved, counted in `in_flight` for as long as it
/// lives (also if its future is dropped unfinished).
struct Flight<'a>(&'a Cell<usize>);

impl<'a> Flight<'a> {
    fn new(count: &'a Cell<usize>) -> Flight<'a> {
        count.set(count.get() + 1);
        Flight(count)
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Whether the name `k` is `zone` or below it (both as [`key`] makes
/// them).
fn in_zone(k: &str, zone: &str) -> bool {
    zone == "." || k == zone || k.ends_with(&format!(".{zone}"))
}

/// `www.lab.test.` → `lab.test.`; `test.` → `.`.
fn parent(k: &str) -> String {
    match k.trim_end_matches('.').split_once('.') {
        Some((_, rest)) => format!("{rest}."),
        None => ".".to_string(),
    }
}

/// How long a negative answer is kept: the SOA's TTL, at most its minimum
/// (RFC 2308 §5).
fn negative_ttl(soa: Option<&Record>) -> u32 {
    match soa {
        Some(r) => match &r.data {
            RData::SOA(s) => r.ttl.min(s.minimum),
            _ => NEGATIVE_DEFAULT,
        },
        None => NEGATIVE_DEFAULT,
    }
}

/// Serve the resolver on UDP and TCP `port` until the run ends.
pub async fn run(
    host: Host,
    pid: tcplab_host::Pid,
    roots: Vec<Ipv4Addr>,
    port: u16,
    err: tcplab_host::Output,
) -> i32 {
    let resolver = Rc::new(Resolver::new(host.clone(), roots));
    super::server::serve(
        host,
        pid,
        super::server::Backend::Resolver(resolver),
        port,
        err,
    )
    .await
}

/// The name an NXDOMAIN answer for `k` says does not exist: the end of
/// the CNAME chain the answer holds (RFC 6604 §2), followed while a server
/// for `zone` may speak for the names; the chain's links are added to
/// `answers`. None when the chain leads out of the zone: only a name
/// inside the server's zone may be said not to exist (RFC 5452 §6: a
/// chain leading out of it must not plant NXDOMAIN for another's name).
fn nxdomain_chain(
    records: &[Record],
    k: String,
    zone: &str,
    answers: &mut Vec<Record>,
) -> Option<String> {
    let mut end = k;
    for _ in 0..8 {
        let link = records.iter().find(|r| {
            key(&r.name) == end && in_zone(&end, zone) && matches!(r.data, RData::CNAME(_))
        });
        let Some(RData::CNAME(target)) = link.map(|r| &r.data) else {
            break;
        };
        answers.extend(link.cloned());
        end = key(&target.0);
    }
    in_zone(&end, zone).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_zones() {
        assert_eq!(parent("www.lab.test."), "lab.test.");
        assert_eq!(parent("test."), ".");
        assert!(in_zone("www.lab.test.", "lab.test."));
        assert!(in_zone("lab.test.", "lab.test."));
        assert!(!in_zone("xlab.test.", "lab.test."));
        assert!(in_zone("anything.", "."));
    }

    /// A server for lab.test. is believed about lab.test. and below, not
    /// about another zone (an off-path answer planted in its reply).
    #[test]
    fn only_records_inside_the_servers_zone_are_believed() {
        let a = |name: &str, ip: [u8; 4]| {
            Record::from_rdata(
                Name::from_ascii(name).unwrap(),
                300,
                RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::from(ip))),
            )
        };
        let records = [
            a("www.lab.test.", [10, 0, 0, 80]),
            a("WWW.Lab.Test.", [10, 0, 0, 81]),
            a("www.bank.test.", [6, 6, 6, 6]),
            a("test.", [6, 6, 6, 7]),
        ];
        let sets = believed(&records, "lab.test.");
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[&("www.lab.test.".to_string(), RecordType::A)].len(), 2);
        // The root may speak for anything.
        assert_eq!(believed(&records, ".").len(), 3);
    }

    fn cname(name: &str, target: &str) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            300,
            RData::CNAME(hickory_proto::rr::rdata::CNAME(
                Name::from_ascii(target).unwrap(),
            )),
        )
    }

    /// RFC 6604 §2 and RFC 5452 §6: an NXDOMAIN is about the end of the
    /// CNAME chain, followed only while the server may speak for the
    /// names; the end is cached as missing only inside the server's zone,
    /// so a hostile server for lab.test. cannot make www.bank.test.
    /// vanish from the cache.
    #[test]
    fn an_nxdomain_chain_ends_where_the_servers_zone_ends() {
        let records = [
            cname("a.lab.test.", "b.lab.test."),
            cname("b.lab.test.", "www.bank.test."),
            cname("www.bank.test.", "c.lab.test."),
        ];
        let mut answers = Vec::new();
        let end = nxdomain_chain(&records, "a.lab.test.".into(), "lab.test.", &mut answers);
        assert_eq!(end, None, "www.bank.test. is not lab.test.'s to deny");
        assert_eq!(answers.len(), 2, "the links inside the zone");
        // A chain inside the zone ends at its last name, which is planted.
        let records = [cname("a.lab.test.", "gone.lab.test.")];
        let mut answers = Vec::new();
        let end = nxdomain_chain(&records, "a.lab.test.".into(), "lab.test.", &mut answers);
        assert_eq!(end.as_deref(), Some("gone.lab.test."));
        // No chain: the name asked.
        let end = nxdomain_chain(&[], "x.lab.test.".into(), "lab.test.", &mut Vec::new());
        assert_eq!(end.as_deref(), Some("x.lab.test."));
        // A loop stops after eight links.
        let records = [
            cname("p.lab.test.", "q.lab.test."),
            cname("q.lab.test.", "p.lab.test."),
        ];
        let mut answers = Vec::new();
        let end = nxdomain_chain(&records, "p.lab.test.".into(), "lab.test.", &mut answers);
        assert_eq!(answers.len(), 8);
        assert_eq!(end.as_deref(), Some("p.lab.test."));
    }

    fn a_set(name: &str, n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| {
                Record::from_rdata(
                    Name::from_ascii(name).unwrap(),
                    600,
                    RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::from(i as u32))),
                )
            })
            .collect()
    }

    /// The cache is bounded in records, not only in sets: sets of a
    /// hundred from a hostile zone push the oldest out at RECORDS_MAX,
    /// a set of more than SET_MAX is not kept, and the count stays true
    /// through replacement.
    #[test]
    fn the_cache_is_bounded_in_records() {
        let stack = tcplab_stack::Stack::new(tcplab_stack::Config::default());
        let r = Resolver::new(Host::new("resolver", stack), Vec::new());
        for i in 0..(RECORDS_MAX / SET_MAX + 50) {
            let name = format!("x{i}.evil.test.");
            r.store(
                name.clone(),
                RecordType::A,
                Cached::Records(a_set(&name, SET_MAX)),
                600,
            );
        }
        assert_eq!(r.records.get(), RECORDS_MAX);
        let counted: usize = r.cache.borrow().values().map(Entry::weight).sum();
        assert_eq!(counted, RECORDS_MAX);
        assert!(
            r.cached("x0.evil.test.", RecordType::A).is_none(),
            "the oldest went"
        );
        // A set too large is not kept, and takes the old one's place:
        // gone.
        let small = a_set("big.evil.test.", 1);
        r.store(
            "big.evil.test.".into(),
            RecordType::A,
            Cached::Records(small),
            600,
        );
        let big = a_set("big.evil.test.", SET_MAX + 1);
        r.store(
            "big.evil.test.".into(),
            RecordType::A,
            Cached::Records(big),
            600,
        );
        assert!(r.cached("big.evil.test.", RecordType::A).is_none());
        // Replacing a set counts the new one instead of the old.
        let last = format!("x{}.evil.test.", RECORDS_MAX / SET_MAX + 49);
        r.store(
            last.clone(),
            RecordType::A,
            Cached::Records(a_set(&last, 1)),
            600,
        );
        // (The small set made room by pushing out one set of a hundred,
        // and went with the big one; the last set now counts one.)
        assert_eq!(r.records.get(), RECORDS_MAX - 2 * SET_MAX + 1);
        let counted: usize = r.cache.borrow().values().map(Entry::weight).sum();
        assert_eq!(counted, r.records.get());
    }
}
