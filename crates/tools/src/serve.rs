//! `serve KIND [--port N]`: the classic small services of a host, on TCP
//! and, where the RFC has a UDP form, UDP.
//!
//! * `echo` (RFC 862, port 7): sends back what it receives.
//! * `discard` (RFC 863, port 9): reads and drops; closes when the peer does.
//! * `chargen` (RFC 864, port 19): sends lines of rotating characters until
//!   the peer closes; over UDP, six lines in answer to each datagram.
//! * `daytime` (RFC 867, port 13): one line with the time, then closes.
//!
//! * `dns --zone FILE [--origin NAME]` (RFC 1035, port 53): an
//!   authoritative server for the zone in FILE, over UDP and TCP.
//! * `resolver --root ADDR...` (port 53): a recursive, caching resolver
//!   that starts from the root servers at ADDR ([`crate::dns::resolver`]).
//! * `http [--root DIR] [--log]` (RFC 9112, port 80): serves the files
//!   under DIR (default `/srv/www`); `--log` prints a line per request.
//! * `https [--cert FILE --key FILE [--chain FILE]]... [--tls-max 1.2 |
//!   --tlsv1.3]` (port 443): the same over TLS 1.2 and 1.3 (rustls), ALPN
//!   http/1.1, with the certificate in `--cert` (and the intermediates in
//!   `--chain`, sent after it; forget them and clients cannot build the
//!   path) or, without `--cert`, a self-signed certificate made at start
//!   for the host's name and addresses. Several `--cert` groups: the one
//!   whose names cover the client's SNI is sent, the first by default.
//!
//! Servers run until the run ends; every connection gets its own task, so
//! they serve clients concurrently.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use std::sync::Arc;

use tcplab_host::{timeout, Host, LocalListener, Output, Pid, TcpListener, TcpStream, UdpSocket};
use tcplab_tls::rustls;
use tcplab_tls::session::Identity;
use tcplab_tls::{Clock, Session, Version};

use crate::args::{getopt, Opt};
use crate::dns::zone::Zone;
use crate::http;
use crate::http::server::Site;
use crate::places::{Places, Slot};
use crate::select::select;
use crate::stream::Duplex;
use crate::tls::{Stream, TlsStream};
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Echo,
    Discard,
    Chargen,
    Daytime,
    /// Zone files (one per `--zone`), each for the zone its name or
    /// `$ORIGIN` names; `--origin` names the zone of a single file.
    Dns {
        zones: Vec<String>,
        origin: Option<String>,
    },
    /// A recursive resolver, from these root servers.
    Resolver {
        roots: Vec<Ipv4Addr>,
    },
    Http {
        root: String,
        /// `--root` was given (the default may be missing: every
        /// request then finds nothing).
        root_given: bool,
        log: bool,
        /// HTTPS: how the server speaks TLS.
        tls: Option<TlsArgs>,
    },
}

/// One certificate of `serve https`: `--cert FILE --key FILE [--chain
/// FILE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: String,
    pub key: String,
    /// Intermediates sent after the certificate.
    pub chain: Option<String>,
}

/// `serve https`'s TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsArgs {
    /// The certificates, each with its key and intermediates (PEM files);
    /// the first is the default, the others are chosen by SNI. None: a
    /// self-signed certificate made at start.
    pub certs: Vec<CertFiles>,
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    pub service: Service,
    pub port: u16,
    /// `--unix PATH`: serve on a local stream socket instead of TCP and UDP.
    pub unix: Option<String>,
}

const USAGE: &str = "usage: serve echo|discard|chargen|daytime [--port N | --unix PATH]\n       serve dns --zone FILE [--zone FILE ...] [--origin NAME] [--port N]\n       serve resolver --root ADDR [--root ADDR ...] [--port N]\n       serve http [--root DIR] [--log] [--port N]\n       serve https [--cert FILE --key FILE [--chain FILE]]... [--tls-max 1.2 | --tlsv1.3] [--root DIR] [--log] [--port N]";

const HELP: &str = "usage: serve echo|discard|chargen|daytime [--port N | --unix PATH]
       serve dns --zone FILE [--zone FILE ...] [--origin NAME] [--port N]
       serve resolver --root ADDR [--root ADDR ...] [--port N]
       serve http [--root DIR] [--log] [--port N]
       serve https [--cert FILE --key FILE [--chain FILE]]...
                   [--tls-max 1.2 | --tlsv1.3] [--root DIR] [--log] [--port N]

  echo      RFC 862 on port 7: sends back what it receives (TCP and UDP)
  discard   RFC 863 on port 9: reads and drops (TCP and UDP)
  chargen   RFC 864 on port 19: rotating lines of characters (TCP and UDP)
  daytime   RFC 867 on port 13: one line with the time (TCP and UDP)
  dns       an authoritative server for RFC 1035 zone files (UDP and TCP)
  resolver  a recursive, caching resolver starting from the root servers
            at ADDR: follows referrals and CNAMEs, caches answers for
            their TTL and negative answers for the SOA's minimum
  http      files under DIR (default /srv/www) over HTTP/1.1; --log prints
            a line per request
  https     the same over TLS 1.2 and 1.3 on port 443: --cert FILE is the
            server's certificate, --key FILE its key, --chain FILE the
            intermediates sent after it; several --cert groups are chosen
            by the name the client asks for (SNI), the first by default;
            without --cert a self-signed certificate for the host's name
            and addresses is made at start. --tls-max 1.2 or --tlsv1.3
            limits the versions

  --port N     listen on port N instead of the service's own
  --unix PATH  serve on a local stream socket instead
  -h, --help   this text

Servers run until stopped (Ctrl-C or the end of the scenario).";

impl ServeArgs {
    pub fn parse(args: &[String]) -> Result<ServeArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("serve", HELP.into(), true, 0));
        }
        let (opts, rest) = getopt(
            args,
            "p:",
            &[
                "port=", "zone=", "origin=", "root=", "log", "unix=", "cert=", "key=", "chain=",
                "tls-max=", "tlsv1.3",
            ],
        )
        .map_err(|e| Usage::with_usage("serve", e, USAGE))?;
        let Some(kind) = rest.first() else {
            return Err(Usage::with_usage("serve", "what to serve?".into(), USAGE));
        };
        let (service, default_port) = match kind.as_str() {
            "echo" => (Service::Echo, 7),
            "discard" => (Service::Discard, 9),
            "chargen" => (Service::Chargen, 19),
            "daytime" => (Service::Daytime, 13),
            "http" | "www" => (
                Service::Http {
                    root: "/srv/www".into(),
                    root_given: false,
                    log: false,
                    tls: None,
                },
                80,
            ),
            "https" => (
                Service::Http {
                    root: "/srv/www".into(),
                    root_given: false,
                    log: false,
                    tls: Some(TlsArgs {
                        certs: Vec::new(),
                        versions: vec![Version::Tls13, Version::Tls12],
                    }),
                },
                443,
            ),
            "dns" | "domain" => (
                Service::Dns {
                    zones: Vec::new(),
                    origin: None,
                },
                53,
            ),
            "resolver" => (Service::Resolver { roots: Vec::new() }, 53),
            other => {
                return Err(Usage::with_usage(
                    "serve",
                    format!("unknown service `{other}`"),
                    USAGE,
                ))
            }
        };
        if rest.len() > 1 {
            return Err(Usage::with_usage(
                "serve",
                format!("unexpected argument `{}`", rest[1]),
                USAGE,
            ));
        }
        let mut service = service;
        let mut port = default_port;
        let mut unix = None;
        // Options that cannot go together: --port with --unix, --tls-max
        // with --tlsv1.3.
        let (mut port_given, mut tls_max, mut tls13) = (false, false, false);
        for o in opts {
            let (name, v) = match o {
                Opt::Short(c, v) => (c.to_string(), v.unwrap_or_default()),
                Opt::Long(n, v) => (n, v.unwrap_or_default()),
            };
            match (name.as_str(), &mut service) {
                ("p" | "port", _) => {
                    port_given = true;
                    port = v
                        .parse()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| Usage::new("serve", format!("invalid port `{v}`")))?
                }
                ("zone", Service::Dns { zones, .. }) => zones.push(v),
                ("origin", Service::Dns { origin, .. }) => *origin = Some(v),
                ("root", Service::Resolver { roots }) => match v.parse::<Ipv4Addr>() {
                    Ok(a) if !a.is_unspecified() && !a.is_broadcast() => roots.push(a),
                    _ => {
                        return Err(Usage::new(
                            "serve",
                            format!("--root takes a name server's IPv4 address, not `{v}`"),
                        ))
                    }
                },
                (
                    "root",
                    Service::Http {
                        root, root_given, ..
                    },
                ) => {
                    if !v.starts_with('/') {
                        return Err(Usage::new(
                            "serve",
                            format!("--root needs an absolute path, not `{v}`"),
                        ));
                    }
                    *root = v;
                    *root_given = true;
                }
                ("log", Service::Http { log, .. }) => *log = true,
                ("cert", Service::Http { tls: Some(t), .. }) => t.certs.push(CertFiles {
                    cert: v,
                    key: String::new(),
                    chain: None,
                }),
                ("key" | "chain", Service::Http { tls: Some(t), .. }) => {
                    let Some(last) = t.certs.last_mut() else {
                        return Err(Usage::with_usage(
                            "serve",
                            format!("--{name} follows the --cert it belongs to"),
                            USAGE,
                        ));
                    };
                    if name == "key" {
                        last.key = v;
                    } else {
                        last.chain = Some(v);
                    }
                }
                ("tls-max", Service::Http { tls: Some(t), .. }) => match v.as_str() {
                    _ if tls13 => return Err(conflict("--tls-max", "--tlsv1.3")),
                    "1.2" => {
                        tls_max = true;
                        t.versions = vec![Version::Tls12]
                    }
                    "1.3" => {
                        tls_max = true;
                        t.versions = vec![Version::Tls13, Version::Tls12]
                    }
                    _ => {
                        return Err(Usage::new(
                            "serve",
                            format!("--tls-max takes 1.2 or 1.3, not `{v}`"),
                        ))
                    }
                },
                ("tlsv1.3", Service::Http { tls: Some(t), .. }) => {
                    if tls_max {
                        return Err(conflict("--tls-max", "--tlsv1.3"));
                    }
                    tls13 = true;
                    t.versions = vec![Version::Tls13]
                }
                (
                    "unix",
                    Service::Echo | Service::Discard | Service::Chargen | Service::Daytime,
                ) => unix = Some(v),
                (other, _) => {
                    return Err(Usage::with_usage(
                        "serve",
                        format!("--{other} does not apply to `{kind}`"),
                        USAGE,
                    ))
                }
            }
        }
        if port_given && unix.is_some() {
            return Err(conflict("--port", "--unix"));
        }
        if let Service::Http { tls: Some(t), .. } = &service {
            if let Some(c) = t.certs.iter().find(|c| c.key.is_empty()) {
                return Err(Usage::with_usage(
                    "serve",
                    format!("--cert {} needs its --key", c.cert),
                    USAGE,
                ));
            }
        }
        if let Service::Resolver { roots } = &service {
            if roots.is_empty() {
                return Err(Usage::with_usage(
                    "serve",
                    "serve resolver needs --root ADDR".into(),
                    USAGE,
                ));
            }
        }
        if let Service::Dns { zones, origin } = &service {
            if zones.is_empty() {
                return Err(Usage::with_usage(
                    "serve",
                    "serve dns needs --zone FILE".into(),
                    USAGE,
                ));
            }
            if origin.is_some() && zones.len() > 1 {
                return Err(Usage::with_usage(
                    "serve",
                    "--origin names the zone of a single --zone file".into(),
                    USAGE,
                ));
            }
        }
        Ok(ServeArgs {
            service,
            port,
            unix,
        })
    }
}

/// Two options that exclude each other.
fn conflict(a: &str, b: &str) -> Usage {
    Usage::with_usage("serve", format!("{a} and {b} cannot go together"), USAGE)
}

/// Run a server; returns only if it cannot start.
pub async fn run(host: Host, pid: Pid, a: ServeArgs, mut err: Output) -> i32 {
    if let Service::Resolver { roots } = &a.service {
        return crate::dns::resolver::run(host, pid, roots.clone(), a.port, err).await;
    }
    if let Service::Dns { zones, origin } = &a.service {
        let mut parsed = Vec::new();
        for zone in zones {
            let text = match host.fs().read(zone) {
                Ok(t) => t,
                Err(e) => {
                    err.line(format!("serve: cannot read zone: {e}"));
                    return 1;
                }
            };
            let text = String::from_utf8_lossy(&text);
            let origin = origin.clone().or_else(|| zone_name_of(zone));
            match Zone::parse(zone, &text, origin.as_deref()) {
                Ok(z) => parsed.push(z),
                Err(e) => {
                    err.line(format!("serve: {e}"));
                    return 1;
                }
            }
        }
        return crate::dns::server::run(host, pid, parsed, a.port, err).await;
    }
    if let Some(path) = &a.unix {
        // As servers do at start: a stale socket file from an earlier run
        // is removed; a live one is not (that path is in use).
        if tcplab_host::stale_local(&host, path) {
            tcplab_host::unlink_local(&host, path);
        }
        let listener = match LocalListener::bind(&host, path, 128) {
            Ok(l) => l,
            Err(e) => {
                err.line(format!("serve: cannot listen on {path}: {e}"));
                return 1;
            }
        };
        let places = Places::new(&host, SMALL_MAX);
        loop {
            let Ok(stream) = listener.accept().await else {
                return 1;
            };
            let Some(slot) = places.admit(None) else {
                continue;
            };
            let h = host.clone();
            let service = a.service.clone();
            host.spawn(pid, async move {
                let serve = connection(h, stream, service, &slot);
                let _ = select(serve, slot.evicted()).await;
            });
        }
    }
    let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.port);
    if let Service::Http {
        root,
        root_given,
        log,
        tls,
    } = &a.service
    {
        // A directory named that is not there: a mistake to say at once
        // rather than a 404 for every request.
        if *root_given && !host.fs().is_dir(root) {
            let why = if host.fs().read(root).is_ok() {
                "Not a directory"
            } else {
                "No such file or directory"
            };
            err.line(format!("serve: --root {root}: {why}"));
            return 1;
        }
        let tls = match tls {
            Some(t) => match https_config(&host, t) {
                Ok(c) => Some(c),
                Err(e) => {
                    err.line(format!("serve: {e}"));
                    return 1;
                }
            },
            None => None,
        };
        let listener = match TcpListener::bind(&host, local, 128) {
            Ok(l) => l,
            Err(e) => {
                err.line(format!("serve: cannot listen on TCP port {}: {e}", a.port));
                return 1;
            }
        };
        let site = Rc::new(Site {
            host: host.clone(),
            root: root.clone(),
            log: log.then(|| RefCell::new(host.stdout(pid))),
            places: crate::places::Places::new(&host, http::server::MAX_CONNECTIONS),
            bodies: std::cell::Cell::new(0),
        });
        loop {
            let Ok(stream) = listener.accept().await else {
                return 1;
            };
            // With every place busy the connection is closed at once
            // (dropped); see `admit` for whose place a newcomer takes.
            let Some(slot) = http::server::admit(&site, &stream) else {
                continue;
            };
            match &tls {
                None => {
                    let site = site.clone();
                    host.spawn(pid, async move {
                        let serve = http::server::connection(site, Stream::Plain(stream), &slot);
                        // Evicted: the connection is dropped (closed).
                        let _ = select(serve, slot.evicted()).await;
                    });
                }
                Some((config, clock)) => {
                    let site = site.clone();
                    let (config, clock) = (config.clone(), clock.clone());
                    host.spawn(pid, async move {
                        let serve = https_connection(site, stream, config, clock, &slot);
                        let _ = select(serve, slot.evicted()).await;
                    });
                }
            }
        }
    }
    let listener = match TcpListener::bind(&host, local, 128) {
        Ok(l) => l,
        Err(e) => {
            err.line(format!("serve: cannot listen on TCP port {}: {e}", a.port));
            return 1;
        }
    };
    if matches!(
        a.service,
        Service::Echo | Service::Discard | Service::Daytime | Service::Chargen
    ) {
        match UdpSocket::bind(&host, local) {
            Ok(sock) => {
                let h = host.clone();
                let service = a.service.clone();
                host.spawn(pid, async move { udp(h, sock, service).await });
            }
            Err(e) => {
                err.line(format!("serve: cannot bind UDP port {}: {e}", a.port));
                return 1;
            }
        }
    }
    // At most SMALL_MAX connections at once (a process's default file
    // limit on Linux is 1024), so that a flood of connections cannot take
    // all the host's memory; with all taken, a newcomer takes the place of
    // the connection silent longest, else of one that has stopped reading
    // (`Places`).
    let places = Places::new(&host, SMALL_MAX);
    loop {
        let Ok(stream) = listener.accept().await else {
            return 1;
        };
        let Some(slot) = places.admit(stream.peer_addr().map(|a| *a.ip())) else {
            continue;
        };
        let h = host.clone();
        let service = a.service.clone();
        host.spawn(pid, async move {
            let serve = connection(h, stream, service, &slot);
            let _ = select(serve, slot.evicted()).await;
        });
    }
}

/// Connections the small services (echo, discard, chargen, daytime) serve
/// at once.
pub const SMALL_MAX: usize = 1024;

/// A small service gives up a client that takes nothing it sends for this
/// long (one that sends and never reads would hold its place for ever).
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Write all of `data`, each piece within [`STALL`]; false if it could not.
async fn write_within(host: &Host, stream: &impl Duplex, mut data: &[u8], slot: &Slot) -> bool {
    while !data.is_empty() {
        match timeout(host, STALL, stream.write(data)).await {
            Ok(Ok(n)) => {
                data = &data[n..];
                slot.moved(n);
            }
            _ => return false,
        }
    }
    true
}

type ServerTls = (Arc<rustls::ServerConfig>, Clock);

/// The server's TLS configuration: the files given, or a self-signed
/// certificate for the host's name and addresses, made now.
fn https_config(host: &Host, t: &TlsArgs) -> Result<ServerTls, String> {
    let read = |path: &str| {
        host.fs()
            .read(path)
            .map(|d| d.to_vec())
            // (The file system's error names the path.)
            .map_err(|e| format!("cannot read {e}"))
    };
    let mut identities = Vec::new();
    for c in &t.certs {
        let mut chain = read(&c.cert)?;
        tcplab_tls::pem_certificates(&chain).map_err(|e| format!("{}: {e}", c.cert))?;
        if let Some(extra) = &c.chain {
            let more = read(extra)?;
            // A chain file with no certificate would send none; one that
            // does not parse is named itself, not the --cert file.
            for der in tcplab_tls::pem_certificates(&more).map_err(|e| format!("{extra}: {e}"))? {
                tcplab_tls::x509_text(&der).map_err(|e| format!("{extra}: {e}"))?;
            }
            if !chain.ends_with(b"\n") {
                chain.push(b'\n');
            }
            chain.extend_from_slice(&more);
        }
        let id = Identity {
            chain_pem: chain,
            key_pem: read(&c.key)?,
        };
        // What is wrong, with the file it is in.
        tcplab_tls::check_identity(&id).map_err(|(part, e)| match part {
            tcplab_tls::Part::Certificate => format!("{}: {e}", c.cert),
            tcplab_tls::Part::Key => format!("{}: {e}", c.key),
            tcplab_tls::Part::Both => format!("{} and {}: {e}", c.cert, c.key),
        })?;
        identities.push(id);
    }
    if identities.is_empty() {
        let mut sans = vec![host.name().to_string()];
        host.with_stack(|s| {
            for i in s.interfaces() {
                for a in &i.addrs {
                    sans.push(a.address().to_string());
                }
            }
        });
        let mut key_seed = [0u8; 32];
        host.fill_random(&mut key_seed)?;
        // A fresh serial with each fresh key: browsers refuse a second
        // certificate with the issuer and serial of one they saw.
        let mut serial = [0u8; 8];
        host.fill_random(&mut serial)?;
        let now = i64::try_from(host.wall_clock().as_secs()).unwrap_or(i64::MAX);
        let made = tcplab_tls::pki::make(&tcplab_tls::Request {
            role: tcplab_tls::Role::Leaf,
            common_name: host.name().to_string(),
            sans,
            not_before: now,
            not_after: now.saturating_add(365 * 86_400),
            key_seed,
            // Over a real network, a key browsers take (none takes
            // Ed25519); in the simulator Ed25519, whose signatures the seed
            // repeats.
            key_kind: if host.uses_os_random() {
                tcplab_tls::KeyKind::EcdsaP256
            } else {
                tcplab_tls::KeyKind::Ed25519
            },
            // Positive and never zero (RFC 5280 §4.1.2.2).
            serial: (u64::from_be_bytes(serial) >> 1).max(1),
            issuer: None,
        })?;
        identities.push(Identity {
            chain_pem: made.cert_pem.into_bytes(),
            key_pem: made.key_pem.into_bytes(),
        });
    }
    crate::tls::server(host, &identities, &t.versions)
}

/// One HTTPS connection: the handshake (within the time a first request
/// may take), then HTTP over it.
async fn https_connection(
    site: Rc<Site>,
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    clock: Clock,
    slot: &http::server::Slot,
) {
    let Ok(session) = Session::server(config) else {
        return;
    };
    let tls = TlsStream::new(&site.host, tcp, session, clock);
    match timeout(&site.host, http::server::FIRST_REQUEST, tls.handshake()).await {
        Ok(Ok(())) => {
            http::server::connection(site, Stream::Tls(Box::new(tls)), slot).await;
        }
        Ok(Err(e)) => {
            if let Some(log) = &site.log {
                let who = tls
                    .tcp()
                    .peer_addr()
                    .map_or("-".to_string(), |p| p.ip().to_string());
                log.borrow_mut().line(format!(
                    "{who} - - [{}] TLS handshake failed: {}",
                    http::http_date(site.host.wall_clock().as_micros() as u64),
                    crate::tls::handshake_failure(&e)
                ));
            }
            let _ = tls.tcp().shutdown();
        }
        // Dropping the stream closes the connection.
        Err(_) => {}
    }
}

/// Serve one connection of a small service; `slot` hears what it does
/// (waiting for input, or sending), for `Places` to choose whom a
/// newcomer replaces.
async fn connection(host: Host, stream: impl Duplex, service: Service, slot: &Slot) {
    // The read buffer starts small and doubles while reads fill it (to 32
    // KiB), so an idle connection holds little and a busy one reads much.
    let mut buf = vec![0u8; 2048];
    let grow = |buf: &mut Vec<u8>, n: usize| {
        if n == buf.len() && buf.len() < 32 * 1024 {
            buf.resize(buf.len() * 2, 0);
        }
    };
    match service {
        Service::Echo => {
            while let Ok(n) = stream.read(&mut buf).await {
                slot.busy();
                if n == 0 || !write_within(&host, &stream, &buf[..n], slot).await {
                    break;
                }
                slot.waiting();
                grow(&mut buf, n);
            }
            let _ = stream.shutdown();
            let _ = timeout(&host, STALL, stream.flush()).await;
        }
        Service::Discard => {
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                // Waiting for more from now: a client that keeps sending
                // is never the one silent longest.
                slot.waiting();
                grow(&mut buf, n);
            }
        }
        Service::Chargen => {
            slot.busy();
            let pattern: Rc<Vec<u8>> = Rc::new(chargen_block());
            let mut offset = 0;
            loop {
                let chunk = &pattern[offset..offset + 74 * 95];
                match timeout(&host, STALL, stream.write(chunk)).await {
                    Ok(Ok(n)) => {
                        offset = (offset + n) % (74 * 95);
                        slot.moved(n);
                    }
                    _ => break,
                }
            }
        }
        Service::Daytime => {
            slot.busy();
            let _ = write_within(&host, &stream, daytime(&host).as_bytes(), slot).await;
            let _ = stream.shutdown();
            let _ = timeout(&host, STALL, stream.flush()).await;
        }
        Service::Dns { .. } | Service::Resolver { .. } | Service::Http { .. } => {}
    }
}

async fn udp(host: Host, sock: UdpSocket, service: Service) {
    let mut turn = 0usize;
    while let Ok(d) = sock.recv_from().await {
        match service {
            Service::Echo => {
                let _ = sock.send_to(&d.data, d.from);
            }
            Service::Daytime => {
                let _ = sock.send_to(daytime(&host).as_bytes(), d.from);
            }
            // RFC 864: a datagram of up to 512 characters answers each
            // one received; here six whole lines (444 bytes), rotating.
            Service::Chargen => {
                let block = chargen_block();
                let line = (turn % 95) * 74;
                turn += 1;
                let _ = sock.send_to(&block[line..line + 6 * 74], d.from);
            }
            Service::Discard
            | Service::Dns { .. }
            | Service::Resolver { .. }
            | Service::Http { .. } => {}
        }
    }
}

/// The zone a file is for, from its name: `/etc/bind/db.lab.test` and
/// `lab.test.zone` are for `lab.test` (`--origin` or `$ORIGIN` override).
fn zone_name_of(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let name = file
        .strip_prefix("db.")
        .or_else(|| file.strip_suffix(".zone"))?;
    (!name.is_empty()).then(|| name.to_string())
}

/// RFC 864's pattern: 72-character lines of the 95 printable characters,
/// each line starting one character later; doubled so any line is a slice.
fn chargen_block() -> Vec<u8> {
    let printable: Vec<u8> = (32u8..127).collect();
    let mut one = Vec::with_capacity(74 * 95);
    for start in 0..95 {
        for i in 0..72 {
            one.push(printable[(start + i) % 95]);
        }
        one.extend_from_slice(b"\r\n");
    }
    let mut twice = one.clone();
    twice.extend_from_slice(&one);
    twice
}

/// The time of day on the host's wall clock, in `ctime` form as inetd's
/// daytime sends it (RFC 867 leaves the format open). In the simulator the
/// wall clock starts at 2025-01-01 00:00 UTC (`tcplab_host::LAB_EPOCH`).
fn daytime(host: &Host) -> String {
    format!("{}\r\n", http::ctime(host.wall_clock().as_micros() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            ServeArgs::parse(&v("echo")).unwrap(),
            ServeArgs {
                service: Service::Echo,
                port: 7,
                unix: None
            }
        );
        assert_eq!(
            ServeArgs::parse(&v("discard --port 5001")).unwrap().port,
            5001
        );
        assert!(ServeArgs::parse(&v("gopher"))
            .unwrap_err()
            .message
            .contains("unknown service"));
        assert!(ServeArgs::parse(&v("echo --port 0")).is_err());
        assert_eq!(
            ServeArgs::parse(&v("dns --zone /etc/lab.zone")).unwrap(),
            ServeArgs {
                service: Service::Dns {
                    zones: vec!["/etc/lab.zone".into()],
                    origin: None
                },
                port: 53,
                unix: None
            }
        );
        assert!(ServeArgs::parse(&v("dns"))
            .unwrap_err()
            .message
            .contains("--zone"));
        assert!(ServeArgs::parse(&v("echo --zone x"))
            .unwrap_err()
            .message
            .contains("does not apply"));
        assert_eq!(
            zone_name_of("/etc/bind/db.lab.test").as_deref(),
            Some("lab.test")
        );
        assert_eq!(
            zone_name_of("/srv/lab.test.zone").as_deref(),
            Some("lab.test")
        );
        assert_eq!(zone_name_of("/srv/zonefile"), None);
    }

    #[test]
    fn https_certificates() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let a = ServeArgs::parse(&v(
            "https --cert a.pem --key a.key --chain i.pem --cert b.pem --key b.key --tls-max 1.2",
        ))
        .unwrap();
        assert_eq!(a.port, 443);
        let Service::Http { tls: Some(t), .. } = a.service else {
            panic!("https");
        };
        assert_eq!(
            t.certs,
            [
                CertFiles {
                    cert: "a.pem".into(),
                    key: "a.key".into(),
                    chain: Some("i.pem".into())
                },
                CertFiles {
                    cert: "b.pem".into(),
                    key: "b.key".into(),
                    chain: None
                }
            ]
        );
        assert_eq!(t.versions, [Version::Tls12]);
        let err = |s: &str| ServeArgs::parse(&v(s)).unwrap_err().message;
        assert!(err("https --cert a.pem").contains("needs its --key"));
        assert!(err("https --key a.key").contains("follows the --cert"));
        assert!(err("https --tls-max 1.1").contains("1.2 or 1.3"));
        assert_eq!(
            err("echo --port 7 --unix /s"),
            "--port and --unix cannot go together"
        );
        assert_eq!(
            err("echo --unix /s -p 7"),
            "--port and --unix cannot go together"
        );
        assert_eq!(
            err("https --tls-max 1.2 --tlsv1.3"),
            "--tls-max and --tlsv1.3 cannot go together"
        );
        assert_eq!(
            err("https --tlsv1.3 --tls-max 1.3"),
            "--tls-max and --tlsv1.3 cannot go together"
        );
        assert!(err("http --cert a.pem").contains("does not apply"));
    }

    #[test]
    fn chargen_lines() {
        let b = chargen_block();
        assert_eq!(&b[..3], b" !\"");
        assert_eq!(&b[72..74], b"\r\n");
        assert_eq!(b[74], b'!');
    }
}
