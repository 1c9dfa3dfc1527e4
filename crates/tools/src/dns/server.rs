//! An authoritative name server for a set of zones, over UDP and TCP (RFC
//! 1035 §4.2): `serve dns --zone FILE [--zone FILE ...]`.
//!
//! Each query goes to the zone that is the closest enclosing one of its
//! name (none: REFUSED) and gets that zone's answer (see [`Zone::lookup`]) with AA set and
//! RA clear (it does not recurse). A UDP answer larger than the client can
//! take (512 bytes, or its EDNS payload size up to 1232) goes out with TC
//! set and no records, and the client asks again over TCP (RFC 7766). A
//! query that does not parse gets FORMERR when its ID can be read, and is
//! dropped otherwise; opcodes other than QUERY get NOTIMP.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

use tcplab_host::{timeout, Host, Output, Pid, TcpListener, TcpStream, UdpSocket};
use tcplab_stack::PmtuDisc;

use super::zone::{Rcode, Zone};
use crate::places::{Places, Slot};
use crate::select::select;

/// The largest UDP answer without EDNS (RFC 1035 §4.2.1).
pub const UDP_PLAIN_MAX: usize = 512;
/// The largest UDP answer we send even if a client offers more (the DNS
/// flag day 2020 value, which avoids fragmentation).
pub const UDP_EDNS_MAX: u16 = 1232;
/// A TCP client that sends nothing for this long is dropped (RFC 7766 §6.2.3
/// suggests seconds).
pub const TCP_IDLE: Duration = Duration::from_secs(10);
/// TCP connections served at once (RFC 7766 §6.2.2: a server should
/// limit them), so idle or trickling clients cannot hold unbounded
/// memory; with every place taken, a newcomer takes the place of the
/// connection waiting longest for its next query (`Places`), so clients
/// that keep connections open with a query now and then cannot lock
/// others out.
pub const TCP_MAX: usize = 128;

/// The zone that encloses `name` most closely.
fn zone_for<'z>(zones: &'z [Zone], name: &hickory_proto::rr::Name) -> Option<&'z Zone> {
    let k = super::zone::key(name);
    zones
        .iter()
        .filter(|z| k == z.origin || z.origin == "." || k.ends_with(&format!(".{}", z.origin)))
        .max_by_key(|z| z.origin.len())
}

/// Build the response to `request`; `udp` limits its size. `None`: drop it.
pub fn respond(zones: &[Zone], request: &[u8], udp: bool) -> Option<Vec<u8>> {
    let Ok(query) = Message::from_vec(request) else {
        // Answer FORMERR if at least the header is there (RFC 1035 §4.1.1).
        if request.len() >= 12 && request[2] & 0x80 == 0 {
            let id = u16::from_be_bytes([request[0], request[1]]);
            return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
        return None;
    };
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let id = query.metadata.id;
    let mut reply = Message::response(id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    let limit = match &query.edns {
        Some(e) => {
            let mut edns = Edns::new();
            edns.set_max_payload(UDP_EDNS_MAX);
            reply.set_edns(edns);
            usize::from(e.max_payload().clamp(512, UDP_EDNS_MAX))
        }
        None => UDP_PLAIN_MAX,
    };
    if query.metadata.op_code != OpCode::Query {
        reply.metadata.response_code = ResponseCode::NotImp;
        return reply.to_vec().ok();
    }
    let [q] = &query.queries[..] else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply.to_vec().ok();
    };
    reply.add_query(q.clone());
    // RFC 6891 §6.1.3: an EDNS version above ours (0) is answered BADVERS,
    // with our version in the OPT record.
    if query.edns.as_ref().is_some_and(|e| e.version() != 0) {
        reply.metadata.response_code = ResponseCode::BADVERS;
        return reply.to_vec().ok();
    }
    // Zone transfers (RFC 5936) are not served: refused, as a server
    // whose allow-transfer lists nobody answers.
    if matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR) {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply.to_vec().ok();
    }
    if q.query_class() != DNSClass::IN {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply.to_vec().ok();
    }
    let Some(zone) = zone_for(zones, q.name()) else {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply.to_vec().ok();
    };
    let answer = zone.lookup(q.name(), q.query_type());
    reply.metadata.authoritative = answer.authoritative;
    reply.metadata.response_code = match answer.rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::Refused => ResponseCode::Refused,
    };
    reply.add_answers(answer.answers);
    reply.add_authorities(answer.authority);
    reply.add_additionals(answer.additional);
    let bytes = reply.to_vec().ok()?;
    if udp && bytes.len() > limit {
        let mut cut = reply.truncate();
        cut.metadata.authoritative = answer.authoritative;
        return cut.to_vec().ok();
    }
    Some(bytes)
}

/// What answers the queries: zones (an authoritative server) or a
/// recursive resolver.
#[derive(Debug, Clone)]
pub enum Backend {
    Zones(Rc<[Zone]>),
    Resolver(Rc<super::resolver::Resolver>),
}

impl Backend {
    async fn respond(&self, request: &[u8], udp: bool) -> Option<Vec<u8>> {
        match self {
            Backend::Zones(z) => respond(z, request, udp),
            Backend::Resolver(r) => r.respond(request, udp).await,
        }
    }
}

/// Serve `zone` on UDP and TCP `port` until the run ends.
pub async fn run(host: Host, pid: Pid, zones: Vec<Zone>, port: u16, err: Output) -> i32 {
    serve(host, pid, Backend::Zones(Rc::from(zones)), port, err).await
}

/// Answer queries on UDP and TCP `port` until the run ends. A resolver's
/// UDP queries are each answered by a task of their own (a resolution
/// waits on other servers); a zone's at once.
pub async fn serve(host: Host, pid: Pid, backend: Backend, port: u16, mut err: Output) -> i32 {
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let udp = match UdpSocket::bind(&host, local) {
        Ok(s) => {
            // No DF on answers, as named sends them (IP_PMTUDISC_OMIT).
            s.set_pmtudisc(PmtuDisc::Dont);
            Rc::new(s)
        }
        Err(e) => {
            err.line(format!("serve: cannot bind UDP port {port}: {e}"));
            return 1;
        }
    };
    let listener = match TcpListener::bind(&host, local, 64) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("serve: cannot listen on TCP port {port}: {e}"));
            return 1;
        }
    };
    {
        let backend = backend.clone();
        let h = host.clone();
        host.spawn(pid, async move {
            while let Ok(d) = udp.recv_from().await {
                match &backend {
                    Backend::Zones(z) => {
                        if let Some(reply) = respond(z, &d.data, true) {
                            let _ = udp.send_to(&reply, d.from);
                        }
                    }
                    Backend::Resolver(_) => {
                        let (udp, backend) = (udp.clone(), backend.clone());
                        h.spawn(pid, async move {
                            if let Some(reply) = backend.respond(&d.data, true).await {
                                let _ = udp.send_to(&reply, d.from);
                            }
                        });
                    }
                }
            }
        });
    }
    let places = Places::new(&host, TCP_MAX);
    loop {
        let Ok(stream) = listener.accept().await else {
            return 1;
        };
        // Every place busy answering: closed as it comes.
        let Some(slot) = places.admit(stream.peer_addr().map(|a| *a.ip())) else {
            continue;
        };
        let h = host.clone();
        let backend = backend.clone();
        host.spawn(pid, async move {
            let serve = tcp_connection(h, &stream, backend, &slot);
            let _ = select(serve, slot.evicted()).await;
            let _ = stream.shutdown();
        });
    }
}

/// Length-prefixed queries on one connection, answered in order, until
/// the client closes or idles.
async fn tcp_connection(host: Host, stream: &TcpStream, backend: Backend, slot: &Slot) {
    loop {
        slot.waiting();
        let mut len = [0u8; 2];
        match timeout(&host, TCP_IDLE, read_exact(stream, &mut len)).await {
            Ok(Ok(true)) => {}
            _ => break,
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        // The message too within the idle time: a client that announces a
        // length and trickles (or never sends) the bytes is dropped.
        if !matches!(
            timeout(&host, TCP_IDLE, read_exact(stream, &mut msg)).await,
            Ok(Ok(true))
        ) {
            break;
        }
        slot.busy();
        let Some(reply) = backend.respond(&msg, false).await else {
            break;
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            break;
        };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.shutdown();
    let _ = timeout(&host, TCP_IDLE, stream.flush()).await;
}

/// Fill `buf`; `Ok(false)` if the stream ended first.
pub async fn read_exact(
    stream: &TcpStream,
    buf: &mut [u8],
) -> Result<bool, tcplab_stack::SocketError> {
    let mut got = 0;
    while got < buf.len() {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn zone() -> Vec<Zone> {
        let mut text = String::from("$TTL 60\n@ SOA ns hm 1 1 1 1 1\nns A 10.0.0.1\n");
        for i in 0..60 {
            text.push_str(&format!("big A 10.0.1.{i}\n"));
        }
        vec![
            Zone::parse("z", &text, Some("lab.test")).unwrap(),
            Zone::parse(
                "r",
                "$TTL 60\n@ SOA ns.lab.test. hm.lab.test. 1 1 1 1 1\n1.0.0 PTR ns.lab.test.\n",
                Some("10.in-addr.arpa"),
            )
            .unwrap(),
        ]
    }

    fn ask(name: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        if let Some(p) = edns {
            let mut e = Edns::new();
            e.set_max_payload(p);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn answers_and_truncates() {
        let z = zone();
        let r = Message::from_vec(
            &respond(&z, &ask("ns.lab.test.", RecordType::A, None), true).unwrap(),
        )
        .unwrap();
        assert_eq!(r.metadata.id, 7);
        assert!(r.metadata.authoritative && !r.metadata.recursion_available);
        assert_eq!(r.answers.len(), 1);
        // 60 A records do not fit 512 bytes: TC and nothing else.
        let bytes = respond(&z, &ask("big.lab.test.", RecordType::A, None), true).unwrap();
        assert!(bytes.len() <= UDP_PLAIN_MAX);
        let r = Message::from_vec(&bytes).unwrap();
        assert!(r.metadata.truncation);
        assert!(r.answers.is_empty());
        // EDNS with 1232 bytes holds them; TCP always does.
        let r = Message::from_vec(
            &respond(&z, &ask("big.lab.test.", RecordType::A, Some(4096)), true).unwrap(),
        )
        .unwrap();
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 60);
        let r = Message::from_vec(
            &respond(&z, &ask("big.lab.test.", RecordType::A, None), false).unwrap(),
        )
        .unwrap();
        assert_eq!(r.answers.len(), 60);
    }

    #[test]
    fn errors() {
        let z = zone();
        let r = Message::from_vec(
            &respond(&z, &ask("x.lab.test.", RecordType::A, None), true).unwrap(),
        )
        .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        let r = Message::from_vec(
            &respond(&z, &ask("example.com.", RecordType::A, None), true).unwrap(),
        )
        .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        let r = Message::from_vec(
            &respond(
                &z,
                &ask("1.0.0.10.in-addr.arpa.", RecordType::PTR, None),
                true,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(r.answers.len(), 1, "the second zone answers its names");
        // Garbage after a valid header: FORMERR with the same ID.
        let mut junk = vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xff];
        let r = Message::from_vec(&respond(&z, &junk, true).unwrap()).unwrap();
        assert_eq!(
            (r.metadata.id, r.metadata.response_code),
            (0x1234, ResponseCode::FormErr)
        );
        junk.truncate(5);
        assert_eq!(respond(&z, &junk, true), None);
        // Two questions: FORMERR (RFC 9619: QDCOUNT is at most one).
        let mut two = Message::new(8, MessageType::Query, OpCode::Query);
        two.add_query(Query::query(
            Name::from_ascii("ns.lab.test.").unwrap(),
            RecordType::A,
        ));
        two.add_query(Query::query(
            Name::from_ascii("big.lab.test.").unwrap(),
            RecordType::A,
        ));
        let r = Message::from_vec(&respond(&z, &two.to_vec().unwrap(), true).unwrap()).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        // RFC 6891 §6.1.3: EDNS version 1 is BADVERS, the OPT saying 0.
        let mut v1 = Message::new(9, MessageType::Query, OpCode::Query);
        v1.add_query(Query::query(
            Name::from_ascii("ns.lab.test.").unwrap(),
            RecordType::A,
        ));
        let mut e = Edns::new();
        e.set_version(1);
        v1.set_edns(e);
        let r = Message::from_vec(&respond(&z, &v1.to_vec().unwrap(), true).unwrap()).unwrap();
        assert_eq!(u16::from(r.metadata.response_code), 16);
        assert_eq!(r.edns.as_ref().map(|e| e.version()), Some(0));
        assert!(r.answers.is_empty());
        // No zone transfers.
        let r = Message::from_vec(
            &respond(&z, &ask("lab.test.", RecordType::AXFR, None), false).unwrap(),
        )
        .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        assert!(r.answers.is_empty());
    }
}
