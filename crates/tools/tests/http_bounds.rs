//! The HTTP server's bounds against clients that would hold it: a TLS
//! handshake, a request head trickled a line at a time and a body trickled
//! a byte at a time are each cut off 60 s after they began (not when the
//! bytes stop), idle connections 60 s after they opened, and no more than
//! `MAX_CONNECTIONS` are served at once — with every place taken, a new
//! connection takes the place of the one waiting longest for a request,
//! or else of a response stalled longest (a client that never reads), so
//! such clients cannot lock others out.

mod common;

use std::cell::RefCell;
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::time::Duration;

use tcplab_host::{timeout, Host, TcpStream};
use tcplab_sim::{load_checked, Commands, Sim, SimOptions, Started};
use tcplab_stack::Instant;
use tcplab_tools::http::server::{FIRST_REQUEST, MAX_CONNECTIONS};
use tcplab_tools::Tools;

/// What each client saw: (command, when each of its connections opened
/// and when the server closed it, what it read first).
type Log = Rc<RefCell<Vec<(String, Vec<(Instant, Instant)>, String)>>>;

/// The tools, plus clients written for this test:
/// `hold N` opens N connections to server:80 one after the other and
/// sends nothing; `trickle-head AFTER` opens one, waits AFTER seconds, then
/// sends a request head one header line every 10 s, forever; `trickle-body`
/// sends a whole POST head and then its 100-byte body a byte every 10 s;
/// `trickle-tls` opens one to server:443 and sends a TLS handshake
/// record a byte every 10 s; `get` asks for /hello.txt and reads the
/// answer; `hog N` opens N connections that each ask for /big.bin and
/// never read; `sip N` the same, reading 1 KiB every 5 s; `drink N` the
/// same, reading 12 KiB every half second (a response that keeps moving).
struct Clients(Log);

impl Commands for Clients {
    fn check(&self, cmdline: &str) -> Result<(), String> {
        match cmdline.split_whitespace().next() {
            Some(
                "hold" | "hog" | "sip" | "drink" | "trickle-head" | "trickle-body" | "trickle-tls"
                | "get",
            ) => Ok(()),
            _ => Tools.check(cmdline),
        }
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        let words: Vec<String> = cmdline.split_whitespace().map(String::from).collect();
        if !matches!(
            words[0].as_str(),
            "hold"
                | "hog"
                | "sip"
                | "drink"
                | "trickle-head"
                | "trickle-body"
                | "trickle-tls"
                | "get"
        ) {
            return Tools.start(host, cmdline);
        }
        let pid = host.new_process(&words[0], cmdline);
        let (h, log, cmd) = (host.clone(), self.0.clone(), cmdline.to_string());
        let port = if words[0] == "trickle-tls" { 443 } else { 80 };
        let server = SocketAddrV4::new(host.lookup("server").expect("server"), port);
        host.spawn(pid, async move {
            let mut closed = Vec::new();
            let mut first = String::new();
            match words[0].as_str() {
                "hold" | "hog" | "sip" | "drink" => {
                    // Each connection waits for its close in a task of its
                    // own, so each close is seen when it happens. A hog
                    // asks for a large file first and then only waits to
                    // be closed, reading nothing (its window shuts).
                    let n: usize = words[1].parse().expect("a count");
                    let times: Rc<RefCell<Vec<(Instant, Instant)>>> = Rc::default();
                    for _ in 0..n {
                        let s = TcpStream::connect(&h, server).await.expect("connects");
                        if words[0] != "hold" {
                            let _ = s
                                .write_all(b"GET /big.bin HTTP/1.1\r\nHost: server\r\n\r\n")
                                .await;
                        }
                        let (h2, times, opened) = (h.clone(), times.clone(), h.now());
                        if words[0] != "hold" {
                            // Held to the end of the run: a hog never
                            // reads, a sip reads a little every 5 s, a
                            // drink 12 KiB every half second.
                            let (every, take) = match words[0].as_str() {
                                "hog" => (Duration::from_secs(5), 0),
                                "sip" => (Duration::from_secs(5), 1024),
                                _ => (Duration::from_millis(500), 12 * 1024),
                            };
                            h.spawn(pid, async move {
                                let mut buf = [0u8; 1024];
                                loop {
                                    h2.sleep(every).await;
                                    let mut got = 0;
                                    while got < take {
                                        match s.read(&mut buf).await {
                                            Ok(n) if n > 0 => got += n,
                                            _ => break,
                                        }
                                    }
                                }
                            });
                            times.borrow_mut().push((opened, opened));
                            continue;
                        }
                        h.spawn(pid, async move {
                            let mut buf = [0u8; 64];
                            let _ = s.read(&mut buf).await;
                            times.borrow_mut().push((opened, h2.now()));
                        });
                    }
                    while times.borrow().len() < n {
                        h.sleep(Duration::from_millis(100)).await;
                    }
                    closed = times.take();
                    if words[0] != "hold" {
                        // The process lives on with its connections (an
                        // exiting process's tasks stop and their sockets
                        // close).
                        log.borrow_mut().push((cmd, closed, first));
                        std::future::pending::<()>().await;
                        unreachable!();
                    }
                }
                "trickle-head" | "trickle-body" | "trickle-tls" => {
                    let s = TcpStream::connect(&h, server).await.expect("connects");
                    let opened = h.now();
                    let lines: Vec<Vec<u8>> = if words[0] == "trickle-tls" {
                        // A handshake record's header announcing 512
                        // bytes, then those bytes one at a time.
                        std::iter::once(b"\x16\x03\x01\x02\x00".to_vec())
                            .chain(std::iter::repeat_n(b"\x01".to_vec(), 512))
                            .collect()
                    } else if words[0] == "trickle-head" {
                        let after: u64 = words[1].parse().expect("seconds");
                        h.sleep(Duration::from_secs(after)).await;
                        std::iter::once(b"GET /hello.txt HTTP/1.1\r\n".to_vec())
                            .chain((0..).map(|i| format!("X-Line-{i}: a\r\n").into_bytes()))
                            .take(1000)
                            .collect()
                    } else {
                        std::iter::once(
                            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".to_vec(),
                        )
                        .chain(std::iter::repeat_n(b"z".to_vec(), 100))
                        .collect()
                    };
                    for line in lines {
                        if s.write_all(&line).await.is_err() {
                            break;
                        }
                        let mut buf = [0u8; 256];
                        match timeout(&h, Duration::from_secs(10), s.read(&mut buf)).await {
                            Err(_) => continue,
                            Ok(Ok(n)) => {
                                first = String::from_utf8_lossy(&buf[..n]).into_owned();
                                break;
                            }
                            Ok(Err(_)) => break,
                        }
                    }
                    closed.push((opened, h.now()));
                }
                _ => {
                    let s = TcpStream::connect(&h, server).await.expect("connects");
                    let opened = h.now();
                    let _ = s
                        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: server\r\n\r\n")
                        .await;
                    let mut buf = [0u8; 256];
                    if let Ok(n) = s.read(&mut buf).await {
                        first = String::from_utf8_lossy(&buf[..n])
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string();
                    }
                    closed.push((opened, h.now()));
                }
            }
            log.borrow_mut().push((cmd, closed, first));
            h.set_exit(pid, 0);
        });
        Ok(Started { pid, daemon: false })
    }
}

#[test]
fn slow_and_surplus_clients_are_bounded() {
    // With the body's connection, every place is taken.
    let holders = MAX_CONNECTIONS - 1;
    let mut text = common::www_net();
    let runs = [
        ("0s", "serve http".to_string()),
        ("0s", "serve https".to_string()),
        ("1s", "trickle-tls".to_string()),
        ("1s", "trickle-body".to_string()),
        ("2s", format!("hold {holders}")),
        ("20s", "get".to_string()),
        ("25s", "trickle-head 5".to_string()),
        ("100s", "get".to_string()),
    ];
    for (at, cmd) in &runs {
        let on = if cmd.starts_with("serve") {
            "server"
        } else {
            "client"
        };
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = '''{cmd}'''\n"
        ));
    }
    let log: Log = Rc::default();
    let clients = Clients(log.clone());
    let scenario = load_checked("bounds.toml", &text, &|c| clients.check(c))
        .unwrap_or_else(|e| panic!("scenario: {e}"));
    let mut sim = Sim::new(&scenario, &SimOptions::default()).expect("build");
    sim.run(&clients);
    let log = log.borrow();
    let of = |cmd: &str| {
        log.iter()
            .filter(|(c, ..)| c == cmd)
            .map(|(_, closed, first)| (closed.clone(), first.clone()))
            .collect::<Vec<_>>()
    };
    let secs = |t: &(Instant, Instant)| t.1.total_micros() as f64 / 1e6;
    let limit = FIRST_REQUEST.as_secs_f64();

    // The body began at 1 s and came on a byte every 10 s: cut at 61 s.
    let body = of("trickle-body");
    assert_eq!(body.len(), 1, "{log:?}");
    let t = secs(&body[0].0[0]);
    assert!(
        (1.0 + limit..1.0 + limit + 1.0).contains(&t),
        "body cut at {t} s"
    );
    // The head began at 30 s (the connection, opened at 25 s, idle
    // before): cut at 90 s, while its lines were still coming.
    // The TLS handshake began at 1 s, a byte every 10 s: cut at 61 s.
    let tls = of("trickle-tls");
    let t = secs(&tls[0].0[0]);
    assert!(
        (1.0 + limit..1.0 + limit + 1.0).contains(&t),
        "handshake cut at {t} s"
    );
    let head = of("trickle-head 5");
    let t = secs(&head[0].0[0]);
    assert!(
        (30.0 + limit..30.0 + limit + 1.0).contains(&t),
        "head cut at {t} s"
    );
    // The idle connections, opened from 2 s on: each closed 60 s after it
    // opened — but the first, the one waiting longest for a request when
    // the request at 20 s found every place taken: it gave its place.
    let mut held = of(&format!("hold {holders}"))[0].0.clone();
    held.sort_by_key(|(opened, _)| *opened);
    let evicted = held.remove(0);
    assert!((20.0..20.1).contains(&secs(&evicted)), "{evicted:?}");
    for (opened, closed) in held {
        let lasted = closed.saturating_since(opened).as_secs_f64();
        assert!(
            (limit..limit + 0.1).contains(&lasted),
            "an idle connection opened at {opened:?} lasted {lasted} s"
        );
    }
    // So the request at 20 s is served although every place was taken,
    // and the one at 100 s too.
    let gets = of("get");
    assert_eq!(gets.len(), 2, "{log:?}");
    for get in &gets {
        assert_eq!(get.1, "HTTP/1.1 200 OK", "{get:?}");
    }
}

/// Clients that ask for a large file and never read, or read a little now
/// and then, hold every place; their responses stall (the windows shut,
/// or open by less than `PROGRESS` in `STALLED`) and a newcomer takes the
/// place of the one stalled longest: the request is served rather than
/// refused for as long as they hold on.
#[test]
fn stalled_responses_give_their_places_to_newcomers() {
    // Long after the hogs came, and soon after (a second is `STALLED`: a
    // flood must renew every place faster than that to lock others out).
    for at in ["30s", "3s"] {
        assert_eq!(served_among_hogs(at), "HTTP/1.1 200 OK", "a get at {at}");
    }
}

/// Responses that all keep moving hold every place, all for one client;
/// a newcomer from another address takes the place of one of them (its
/// address holds fewer places than the flood's), so however fast and
/// well-behaved a flood from one address is, others get in.
#[test]
fn a_flood_from_one_address_gives_places_to_others() {
    let runs = [
        ("1s", "client", format!("drink {MAX_CONNECTIONS}")),
        ("4s", "other", "get".to_string()),
    ];
    assert_eq!(
        get_among(&runs, 10),
        "HTTP/1.1 200 OK",
        "a get from another address"
    );
}

/// What a `get` at `at` receives while hogs and sippers hold every place.
fn served_among_hogs(at: &str) -> String {
    let runs = [
        ("1s", "client", format!("hog {}", MAX_CONNECTIONS / 2)),
        ("1s", "client", format!("sip {}", MAX_CONNECTIONS / 2)),
        (at, "client", "get".to_string()),
    ];
    get_among(&runs, 40)
}

/// What the `get` among `runs` receives (the server starts at 0 s; the
/// run ends at `secs`), on `common::www_net` with a second client host,
/// `other`, behind r1.
fn get_among(runs: &[(&str, &str, String)], secs: u64) -> String {
    // Small socket buffers everywhere, so that 512 stalled responses stay
    // small.
    let small = "\n[host.tcp]\nsend_buffer = 8192\nrecv_buffer = 8192\n";
    let mut text = common::www_net()
        .replace(
            "gateway = \"10.99.1.1\"\n",
            &format!("gateway = \"10.99.1.1\"\n{small}"),
        )
        .replace(
            "gateway = \"10.99.3.1\"\n",
            &format!("gateway = \"10.99.3.1\"\n{small}"),
        )
        .replace(
            "addrs = [\"10.99.1.1/24\", \"10.99.2.1/24\"]",
            "addrs = [\"10.99.1.1/24\", \"10.99.2.1/24\", \"10.99.4.1/24\"]",
        );
    text.push_str(
        "\n[[host]]\nname = \"other\"\naddr = \"10.99.4.2/24\"\ngateway = \"10.99.4.1\"\n\
         \n[[link]]\nends = [\"other\", \"r1\"]\ndelay = \"100us\"\n",
    );
    let serve = ("0s", "server", "serve http".to_string());
    for (at, on, cmd) in std::iter::once(&serve).chain(runs) {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = \"{cmd}\"\n"
        ));
    }
    let log: Log = Rc::default();
    let clients = Clients(log.clone());
    let scenario = load_checked("hogs.toml", &text, &|c| clients.check(c))
        .unwrap_or_else(|e| panic!("scenario: {e}\n{text}"));
    let mut sim = Sim::new(&scenario, &SimOptions::default()).expect("build");
    sim.run_until(Instant::ZERO + Duration::from_secs(secs), &clients);
    let log = log.borrow();
    let get = log
        .iter()
        .find(|(c, ..)| c == "get")
        .expect("the get ended");
    get.2.clone()
}
