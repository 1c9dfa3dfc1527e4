//! A stub resolver's transport: one question to one server, over UDP with
//! retries, then over TCP when the answer was truncated (RFC 1035 §4.2,
//! RFC 7766 §5). Answers are accepted only if their ID, source and question
//! match what was asked (RFC 5452 §9.1).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use tcplab_host::{timeout, Host, TcpStream, UdpSocket};
use tcplab_stack::{PmtuDisc, SocketError};

use super::server::read_exact;
use super::zone::key;

/// How to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// How long to wait for each try.
    pub timeout: Duration,
    /// Tries over UDP before giving up.
    pub tries: u32,
    /// Ask over TCP from the start (`nslookup -vc`, `dig +tcp`).
    pub tcp: bool,
    /// Set RD (recursion desired).
    pub recurse: bool,
    /// Offer EDNS with this UDP payload size (RFC 6891), or not at all.
    pub edns: Option<u16>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            timeout: Duration::from_secs(5),
            tries: 3,
            tcp: false,
            recurse: true,
            edns: None,
        }
    }
}

/// Why one try failed, as nslookup reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryError {
    TimedOut,
    Refused,
    Unreachable,
    /// The socket could not be connected to the server: no route (BIND's
    /// "UDP setup ... failed").
    NoRoute,
    /// The UDP answer was truncated: the question goes again over TCP.
    Truncated,
}

impl fmt::Display for TryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryError::TimedOut => "timed out",
            TryError::Refused => "connection refused",
            TryError::Unreachable => "host unreachable",
            TryError::NoRoute => "network unreachable",
            TryError::Truncated => "truncated",
        })
    }
}

/// An answer, and how it came.
#[derive(Debug, Clone)]
pub struct Response {
    pub message: Message,
    pub tcp: bool,
    /// Size of the answer in bytes.
    pub size: usize,
}

/// Ask `server` one question. `failed` hears about every try that failed,
/// and about a truncated answer before the question goes over TCP.
pub async fn query(
    host: &Host,
    server: SocketAddrV4,
    name: &Name,
    qtype: RecordType,
    opts: QueryOptions,
    failed: &mut dyn FnMut(TryError),
) -> Option<Response> {
    let id = host.with_stack(|s| s.random_u64()) as u16;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = opts.recurse;
    msg.add_query(Query::query(name.clone(), qtype));
    if let Some(p) = opts.edns {
        let mut e = Edns::new();
        e.set_max_payload(p);
        msg.set_edns(e);
    }
    let request = msg.to_vec().ok()?;
    if !opts.tcp {
        match udp(host, server, &request, name, qtype, opts, failed).await {
            Some(r) if r.message.metadata.truncation => failed(TryError::Truncated),
            other => return other,
        }
    }
    for _ in 0..opts.tries.max(1) {
        match timeout(host, opts.timeout, tcp(host, server, &request)).await {
            Ok(Ok(bytes)) => {
                if let Some(m) = accept(&bytes, id, name, qtype) {
                    return Some(Response {
                        message: m,
                        tcp: true,
                        size: bytes.len(),
                    });
                }
                failed(TryError::TimedOut);
            }
            Ok(Err(e)) => {
                failed(try_error(e));
                if e == SocketError::ConnectionRefused {
                    continue;
                }
            }
            Err(_) => failed(TryError::TimedOut),
        }
    }
    None
}

fn try_error(e: SocketError) -> TryError {
    match e {
        SocketError::ConnectionRefused => TryError::Refused,
        SocketError::HostUnreachable | SocketError::NetworkUnreachable => TryError::Unreachable,
        _ => TryError::TimedOut,
    }
}

/// Is this the answer to our question?
fn accept(bytes: &[u8], id: u16, name: &Name, qtype: RecordType) -> Option<Message> {
    let m = Message::from_vec(bytes).ok()?;
    let q = m.queries.first();
    let matches = m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && q.is_some_and(|q| key(q.name()) == key(name) && q.query_type() == qtype);
    matches.then_some(m)
}

async fn udp(
    host: &Host,
    server: SocketAddrV4,
    request: &[u8],
    name: &Name,
    qtype: RecordType,
    opts: QueryOptions,
    failed: &mut dyn FnMut(TryError),
) -> Option<Response> {
    let id = u16::from_be_bytes([request[0], request[1]]);
    let Ok(sock) = UdpSocket::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)) else {
        failed(TryError::Unreachable);
        return None;
    };
    // No DF, as BIND's tools and servers send UDP (IP_PMTUDISC_OMIT: a
    // large answer is fragmented rather than lost to a small link).
    sock.set_pmtudisc(PmtuDisc::Dont);
    // Connected, so that a port unreachable comes back as "refused".
    if sock.connect(server).is_err() {
        failed(TryError::NoRoute);
        return None;
    }
    for _ in 0..opts.tries.max(1) {
        if let Err(e) = sock.send(request) {
            failed(match e {
                tcplab_stack::SendError::Pending(s) => try_error(s),
                _ => TryError::Unreachable,
            });
            continue;
        }
        let deadline = host.now() + opts.timeout;
        loop {
            let left = deadline.saturating_since(host.now());
            match timeout(host, left, sock.recv_from()).await {
                Ok(Ok(d)) => {
                    if d.from != server {
                        continue;
                    }
                    if let Some(m) = accept(&d.data, id, name, qtype) {
                        return Some(Response {
                            message: m,
                            tcp: false,
                            size: d.data.len(),
                        });
                    }
                }
                Ok(Err(e)) => {
                    failed(try_error(e));
                    break;
                }
                Err(_) => {
                    failed(TryError::TimedOut);
                    break;
                }
            }
        }
    }
    None
}

async fn tcp(host: &Host, server: SocketAddrV4, request: &[u8]) -> Result<Vec<u8>, SocketError> {
    let stream = TcpStream::connect(host, server).await?;
    let len = u16::try_from(request.len()).map_err(|_| SocketError::MessageTooLong)?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream.write_all(&framed).await?;
    let mut lenb = [0u8; 2];
    if !read_exact(&stream, &mut lenb).await? {
        return Err(SocketError::ConnectionReset);
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lenb))];
    if !read_exact(&stream, &mut buf).await? {
        return Err(SocketError::ConnectionReset);
    }
    let _ = stream.shutdown();
    Ok(buf)
}

/// The name of a reverse lookup: `2.2.99.10.in-addr.arpa.` (RFC 1035 §3.5).
pub fn reverse_name(addr: Ipv4Addr) -> Name {
    let o = addr.octets();
    Name::from_ascii(format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]))
        .expect("a valid name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: u16, response: bool, name: &str, qtype: RecordType) -> Vec<u8> {
        let kind = if response {
            MessageType::Response
        } else {
            MessageType::Query
        };
        let mut m = Message::new(id, kind, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    /// RFC 5452 §9.1: only the answer to our question counts — its ID,
    /// a response, the one question asked (names compare without case);
    /// the source is the connected socket's peer (the stack delivers
    /// nothing else: `a_connected_udp_socket_hears_only_its_peer`).
    #[test]
    fn an_answer_must_match_the_question() {
        let name = Name::from_ascii("www.lab.test.").unwrap();
        let a = RecordType::A;
        assert!(accept(&answer(7, true, "www.lab.test.", a), 7, &name, a).is_some());
        assert!(accept(&answer(7, true, "WWW.Lab.Test.", a), 7, &name, a).is_some());
        for (bytes, why) in [
            (answer(8, true, "www.lab.test.", a), "another ID"),
            (
                answer(7, false, "www.lab.test.", a),
                "a query, not a response",
            ),
            (answer(7, true, "ftp.lab.test.", a), "another name"),
            (
                answer(7, true, "www.lab.test.", RecordType::MX),
                "another type",
            ),
            (vec![0, 7, 0x80], "garbage"),
        ] {
            assert!(accept(&bytes, 7, &name, a).is_none(), "{why}");
        }
        let mut two = Message::new(7, MessageType::Response, OpCode::Query);
        two.add_query(Query::query(name.clone(), a));
        two.add_query(Query::query(name.clone(), a));
        assert!(
            accept(&two.to_vec().unwrap(), 7, &name, a).is_none(),
            "two questions"
        );
    }
}
