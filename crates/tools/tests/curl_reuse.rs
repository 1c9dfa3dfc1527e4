//! curl against servers written for the test. One that closes a
//! kept-alive connection without saying so: a connection found readable when the next transfer would reuse it
//! is dead and not used ("seems to be dead"), and a request on a reused
//! connection that gets nothing back is asked again on a fresh one
//! ("Connection died, retrying a fresh connect"), as curl 7.88 does —
//! the lines below are what the real curl printed against the same
//! server on loopback. One whose heads are as large as curl takes, or
//! larger, and whose redirect names nowhere.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::{find, run_file_with, NET};
use tcplab_host::{Host, TcpListener, TcpStream};
use tcplab_sim::{Commands, Started};
use tcplab_tools::Tools;

/// The tools, plus `closer`: a server on port 8002 that answers each
/// connection's first request with `ok1` (keep-alive by HTTP/1.1's
/// default), then for a path starting `/imm` closes at once, for any
/// other reads the next request and closes without answering it.
struct Closer;

async fn read_head(s: &TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

impl Commands for Closer {
    fn check(&self, cmdline: &str) -> Result<(), String> {
        if cmdline == "closer" || cmdline == "heads" {
            return Ok(());
        }
        Tools.check(cmdline)
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        if cmdline == "heads" {
            return Ok(heads(host));
        }
        if cmdline != "closer" {
            return Tools.start(host, cmdline);
        }
        let pid = host.new_process("closer", cmdline);
        let h = host.clone();
        host.spawn(pid, async move {
            let listener =
                TcpListener::bind(&h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8002), 16)
                    .expect("binds");
            while let Ok(s) = listener.accept().await {
                h.spawn(pid, async move {
                    let Some(head) = read_head(&s).await else {
                        return;
                    };
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    // Corked, so that an immediate close's FIN rides on
                    // the response and reaches curl with its end (a FIN
                    // after data already on its way goes alone, and
                    // arrives just after it).
                    let imm = path.starts_with("/imm");
                    s.set_cork(imm);
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok1\n")
                        .await;
                    if !imm {
                        let _ = read_head(&s).await;
                    }
                    let _ = s.shutdown();
                });
            }
        });
        Ok(Started { pid, daemon: true })
    }
}

/// `heads`: on port 8007, `/count-N` answers with N short header fields,
/// `/size-N` with about N bytes of 1,000-byte fields, `/line-N` with one
/// field N bytes long, `/empty` a 302 with an empty Location; each with a
/// 3-byte body, then closes.
fn heads(host: &Host) -> Started {
    let pid = host.new_process("heads", "heads");
    let h = host.clone();
    host.spawn(pid, async move {
        let listener = TcpListener::bind(&h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8007), 16)
            .expect("binds");
        while let Ok(s) = listener.accept().await {
            let h2 = h.clone();
            h.spawn(pid, async move {
                let Some(head) = read_head(&s).await else {
                    return;
                };
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let n = |p: &str| path.strip_prefix(p).and_then(|n| n.parse::<usize>().ok());
                if path == "/p102" {
                    // An interim answer that is not 100, then the body
                    // awaited before the final answer.
                    let _ = s.write_all(b"HTTP/1.1 102 Processing\r\n\r\n").await;
                    let mut buf = [0u8; 64];
                    let got = s.read(&mut buf).await.unwrap_or(0);
                    let out = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{got:<2}\n"
                    );
                    let _ = s.write_all(out.as_bytes()).await;
                    let _ = s.shutdown();
                    return;
                }
                if path == "/excess" {
                    // Two bytes more than Content-Length, kept open.
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\nXY")
                        .await;
                    h2.sleep(std::time::Duration::from_secs(60)).await;
                    return;
                }
                if path == "/see" {
                    // See other, before any body was sent.
                    let _ = s
                        .write_all(b"HTTP/1.1 303 See Other\r\nLocation: /count-0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    let _ = s.shutdown();
                    return;
                }
                if let Some(k) = n("/stall-") {
                    // A header line that passes curl's bound, then silence.
                    let out = format!("HTTP/1.1 200 OK\r\nX-L: {}", "a".repeat(k));
                    let _ = s.write_all(out.as_bytes()).await;
                    h2.sleep(std::time::Duration::from_secs(60)).await;
                    return;
                }
                let mut out = String::from("HTTP/1.1 200 OK\r\n");
                if let Some(k) = n("/count-") {
                    for i in 0..k {
                        out.push_str(&format!("X-H{i}: v\r\n"));
                    }
                } else if let Some(k) = n("/size-") {
                    for i in 0..k / 1000 {
                        out.push_str(&format!("X-S{i}: {}\r\n", "a".repeat(990)));
                    }
                } else if let Some(k) = n("/line-") {
                    out.push_str(&format!("X-L: {}\r\n", "a".repeat(k)));
                } else if path == "/empty" {
                    out = "HTTP/1.1 302 Found\r\nLocation: \r\n".into();
                } else if path == "/fold" {
                    out.push_str("X-A: a\r\n b\r\n");
                } else if path == "/lower" {
                    out = "http/1.1 200 OK\r\n".into();
                }
                out.push_str("Content-Length: 3\r\nConnection: close\r\n\r\nok\n");
                let _ = s.write_all(out.as_bytes()).await;
                let _ = s.shutdown();
            });
        }
    });
    Started { pid, daemon: true }
}

/// The lines of `r`'s standard error that `keep` picks, in order.
fn stderr_lines(r: &common::Ran, keep: impl Fn(&str) -> bool) -> Vec<&str> {
    r.stderr
        .iter()
        .map(String::as_str)
        .filter(|l| keep(l))
        .collect()
}

fn run(cmd: &str) -> common::Ran {
    let server = if cmd.contains(":8007") {
        "heads"
    } else {
        "closer"
    };
    let text = format!(
        "{NET}\n[[file]]\non = \"client\"\npath = \"/tmp/up.txt\"\ntext = \"hello\"\n\
         [[file]]\non = \"client\"\npath = \"/tmp/two.txt\"\ntext = \"second\"\n\
         [[run]]\nat = \"0s\"\non = \"server\"\ncmd = \"{server}\"\n\
         [[run]]\nat = \"1s\"\non = \"client\"\ncmd = '''{cmd}'''\n"
    );
    let ran = run_file_with(&text, &Closer);
    find(&ran, "client", cmd, 0).clone()
}

#[test]
fn a_closed_keep_alive_connection_is_not_reused() {
    let r = run("curl -sv http://server:8002/imm http://server:8002/imm2");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok1", "ok1"], "{r:?}");
    let notes = stderr_lines(&r, |l| l.starts_with("* "));
    assert_eq!(
        notes,
        [
            "*   Trying 10.99.3.2:8002...",
            "* Connected to server (10.99.3.2) port 8002 (#0)",
            "* Connection #0 to host server left intact",
            "* Connection 0 seems to be dead",
            "* Closing connection 0",
            "* Hostname server was found in DNS cache",
            "*   Trying 10.99.3.2:8002...",
            "* Connected to server (10.99.3.2) port 8002 (#1)",
            "* Connection #1 to host server left intact",
        ],
        "{r:?}"
    );
}

#[test]
fn a_request_on_a_connection_that_died_is_asked_again() {
    let r = run("curl -sv http://server:8002/fin http://server:8002/fin2");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok1", "ok1"], "{r:?}");
    let notes = stderr_lines(&r, |l| l.starts_with("* ") || l.starts_with("> GET"));
    assert_eq!(
        notes,
        [
            "*   Trying 10.99.3.2:8002...",
            "* Connected to server (10.99.3.2) port 8002 (#0)",
            "> GET /fin HTTP/1.1\r",
            "* Connection #0 to host server left intact",
            "* Re-using existing connection #0 with host server",
            "> GET /fin2 HTTP/1.1\r",
            "* Connection died, retrying a fresh connect (retry count: 1)",
            "* Closing connection 0",
            "* Issue another request to this URL: 'http://server:8002/fin2'",
            "* Hostname server was found in DNS cache",
            "*   Trying 10.99.3.2:8002...",
            "* Connected to server (10.99.3.2) port 8002 (#1)",
            "> GET /fin2 HTTP/1.1\r",
            "* Connection #1 to host server left intact",
        ],
        "{r:?}"
    );
    // Without -v: the two bodies and nothing else, status 0 (it was 52,
    // "Empty reply from server").
    let r = run("curl -sS http://server:8002/fin http://server:8002/fin2");
    assert_eq!(
        (r.exit, r.stdout.clone(), r.stderr.clone()),
        (Some(0), vec!["ok1".to_string(), "ok1".into()], vec![])
    );
}

/// curl's bounds on a response head are per line (100 KiB, "Out of
/// memory") and in all (300 KiB, counted to the line that passes them),
/// not per field; the codes and words are the real curl's against the
/// same server.
#[test]
fn response_heads_as_large_as_curl_takes() {
    for (path, exit, err) in [
        ("count-3000", 0, ""),
        ("size-300000", 0, ""),
        (
            "size-310000",
            56,
            "curl: (56) Too large response headers: 307907 > 307200",
        ),
        ("line-102000", 0, ""),
        // A line of 102,400 bytes with its CRLF does not fit with curl's
        // NUL: one byte less does.
        ("line-102392", 0, ""),
        ("line-102393", 27, "curl: (27) Out of memory"),
        ("line-103000", 27, "curl: (27) Out of memory"),
        // Refused as it arrives, not after a timeout.
        ("stall-150000", 27, "curl: (27) Out of memory"),
    ] {
        let cmd = format!("curl -sS -m 10 -o /dev/null http://server:8007/{path}");
        let r = run(&cmd);
        assert_eq!(r.exit, Some(exit), "{path}: {r:?}");
        let want: Vec<String> = (!err.is_empty())
            .then(|| err.to_string())
            .into_iter()
            .collect();
        assert_eq!(r.stderr, want, "{path}");
    }
}

/// An empty Location is not followed (curl: 302, no redirect, status 0).
#[test]
fn an_empty_location_is_not_followed() {
    let r = run("curl -sSL -w '%{http_code} %{num_redirects}' http://server:8007/empty");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok", "302 0"], "{r:?}");
}

/// Responses curl takes though they are old-fashioned: a folded header
/// line (RFC 9112 §5.2: a user agent replaces the fold with a space) and
/// a status line in lower case.
#[test]
fn folded_headers_and_a_lower_case_status_line_are_read() {
    for path in ["fold", "lower"] {
        let r = run(&format!(
            "curl -sS -w ' %{{http_code}} %{{header_json}}' http://server:8007/{path}"
        ));
        assert_eq!(r.exit, Some(0), "{path}: {r:?}");
        assert!(r.stdout.join("\n").starts_with("ok\n 200"), "{path}: {r:?}");
        if path == "fold" {
            assert!(r.stdout.join("").contains("\"x-a\":[\"a b\"]"), "{r:?}");
        }
    }
}

/// An upload waiting for `100 Continue` goes after curl's second even when
/// another interim answer (102) came first; HTTP/1.0 has no chunked
/// upload (curl's 25); a request asked again counts its upload once.
#[test]
fn expect_waits_across_other_interim_answers() {
    let r = run("echo hello | curl -sS -m 5 -T - -w ' %{size_upload}' http://server:8007/p102");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert!(r.stdout.join("\n").ends_with(" 6"), "{r:?}");
    let r = run("echo hi | curl -sS -0 -T - http://server:8007/x");
    assert_eq!(r.exit, Some(25), "{r:?}");
    assert_eq!(
        r.stderr,
        ["curl: (25) Chunky upload is not supported by HTTP 1.0"]
    );
    let r = run(
        "curl -sS -d hello -w ' %{size_upload}' http://server:8002/fin http://server:8002/fin2",
    );
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok1", " 5ok1", " 5"], "{r:?}");
}

/// Bytes past a body's Content-Length: curl says so and does not use the
/// connection again (the next answer is read on a fresh one). A 303 to an
/// upload: curl switches to GET.
#[test]
fn excess_bytes_close_and_303_switches_an_upload_to_get() {
    let r = run("curl -sv http://server:8007/excess http://server:8007/count-0");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok", "ok"], "{r:?}");
    let notes = stderr_lines(&r, |l| l.starts_with("* E") || l.contains("(#"));
    assert_eq!(
        notes,
        [
            "* Connected to server (10.99.3.2) port 8007 (#0)",
            "* Excess found in a read: excess = 2, size = 3, maxdownload = 3, bytecount = 3",
            "* Connected to server (10.99.3.2) port 8007 (#1)",
        ],
        "{r:?}"
    );
    let r = run("echo hi | curl -sSvL -T - http://server:8007/see");
    assert_eq!(r.exit, Some(0), "{r:?}");
    assert_eq!(r.stdout, ["ok"], "{r:?}");
    assert!(r.stderr.contains(&"* Switch to GET".to_string()), "{r:?}");
    assert!(
        r.stderr.contains(&"> GET /count-0 HTTP/1.1\r".to_string()),
        "{r:?}"
    );
}

/// Each -T goes to the URL in its place (a URL past the last -T is a
/// GET), and a URL whose path ends in `/` gets the file's name.
#[test]
fn each_upload_goes_to_its_own_url() {
    let r = run(
        "curl -sv -T /tmp/up.txt -T /tmp/two.txt http://server:8007/dir/ http://server:8007/b http://server:8007/c",
    );
    let sent = stderr_lines(&r, |l| {
        l.starts_with("> PUT") || l.starts_with("> GET") || l.starts_with("> Content-Length")
    });
    assert_eq!(
        sent,
        [
            "> PUT /dir/up.txt HTTP/1.1\r",
            "> Content-Length: 5\r",
            "> PUT /b HTTP/1.1\r",
            "> Content-Length: 6\r",
            "> GET /c HTTP/1.1\r",
        ],
        "{r:?}"
    );
}
