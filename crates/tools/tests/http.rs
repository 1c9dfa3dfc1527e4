//! curl against `serve http` in the reference network (tool-formats.md
//! §1.7): bodies, headers, -v traces, redirects, errors and exit codes,
//! keep-alive, chunked coding, concurrent clients, downloads to files.

mod common;

use common::{curls, run_in, www_net};

#[test]
fn bodies_headers_and_verbose_traces() {
    let r = curls(&[
        "curl http://server/hello.txt",
        "curl -v http://server/hello.txt",
        "curl -I http://server/hello.txt",
        "curl -i http://server/sub",
        "curl server",
    ]);
    assert_eq!(r[0].out(), "plain text file\n");
    assert_eq!(r[0].stderr, Vec::<String>::new());
    assert_eq!(r[1].out(), "plain text file\n");
    assert_eq!(
        r[1].stderr,
        [
            "*   Trying 10.99.3.2:80...",
            "* Connected to server (10.99.3.2) port 80 (#0)",
            "> GET /hello.txt HTTP/1.1\r",
            "> Host: server\r",
            "> User-Agent: curl/7.88.1\r",
            "> Accept: */*\r",
            "> \r",
            "< HTTP/1.1 200 OK\r",
            "< Server: tcplab-http/0.1\r",
            "< Date: Wed, 01 Jan 2025 00:00:02 GMT\r",
            "< Content-Type: text/plain\r",
            "< Content-Length: 16\r",
            "< \r",
            "* Connection #0 to host server left intact",
        ]
    );
    assert_eq!(
        r[2].out(),
        "HTTP/1.1 200 OK\r\nServer: tcplab-http/0.1\r\nDate: Wed, 01 Jan 2025 00:00:03 GMT\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n"
    );
    assert_eq!(
        r[3].out(),
        "HTTP/1.1 301 Moved Permanently\r\nServer: tcplab-http/0.1\r\nDate: Wed, 01 Jan 2025 00:00:04 GMT\r\nContent-Type: text/html\r\nLocation: /sub/\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(r[4].out(), "<html><body>hello from server</body></html>\n");
    assert!(r.iter().all(|x| x.exit == Some(0)));
}

#[test]
fn redirects_write_out_and_chunked_listings() {
    let r = curls(&[
        "curl -sSL -o /dev/null -w '%{http_code} %{url_effective} %{num_redirects} %{size_download}\\n' http://server/sub",
        "curl http://server/sub/",
        "curl -s -w '%{http_code}' -o /dev/null http://server/sub",
        "curl -s -o /dev/null -w '[%{redirect_url}] %header{location}' http://server/sub",
        "curl -sL -o /dev/null -w '[%{redirect_url}] %header{content-type}' http://server/sub",
    ]);
    // redirect_url: where the last response would lead; after -L has
    // followed it, nothing. %header{name}: the last response's field.
    assert_eq!(r[3].stdout, ["[http://server/sub/] /sub/"]);
    assert_eq!(r[4].stdout, ["[] text/html"]);
    assert_eq!(r[0].stdout, ["200 http://server/sub/ 1 140"]);
    // The listing is sent chunked; curl puts it back together.
    assert_eq!(
        r[1].out(),
        "<html><head><title>Index of /sub/</title></head><body>\n<h1>Index of /sub/</h1>\n<ul>\n<li><a href=\"a.txt\">a.txt</a></li>\n</ul>\n</body></html>\n"
    );
    assert_eq!(r[2].stdout, ["301"]);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let r = curls(&["curl -v http://server/hello.txt http://server/sub/a.txt"]);
    assert_eq!(r[0].stdout, ["plain text file", "a"]);
    let e = &r[0].stderr;
    assert_eq!(e.iter().filter(|l| l.starts_with("*   Trying")).count(), 1);
    assert!(e.contains(&"* Re-using existing connection #0 with host server".to_string()));
    assert_eq!(
        e.last().unwrap(),
        "* Connection #0 to host server left intact"
    );
    // After each transfer that keeps the connection, as libcurl says it.
    let intact = e
        .iter()
        .position(|l| l == "* Connection #0 to host server left intact")
        .unwrap();
    let reuse = e.iter().position(|l| l.starts_with("* Re-using")).unwrap();
    assert!(intact < reuse, "{e:?}");
}

/// A failed transfer under -v: the reason, then the connection going,
/// then curl's own line (curl 7.88).
#[test]
fn a_failure_closes_its_connection_under_verbose() {
    let r = curls(&["curl -v http://server:81/"]);
    let e = &r[0].stderr;
    let n = e.len();
    assert_eq!(r[0].exit, Some(7));
    assert_eq!(e[n - 2], "* Closing connection 0", "{e:?}");
    assert!(e[n - 3].starts_with("* Failed to connect to "), "{e:?}");
    assert!(
        e[n - 1].starts_with("curl: (7) Failed to connect to "),
        "{e:?}"
    );
}

#[test]
fn post_and_custom_headers() {
    let r = curls(&[
        "curl -v -X POST -d a=1 -d b=2 -H 'X-Test: yes' -o /tmp/form http://server/form",
        "curl -v -X POST -d a=1 -d b=2 http://server/form",
    ]);
    // To a terminal, curl's trace shows no data lines (tool_cb_dbg.c).
    assert_eq!(r[1].stdout, ["a=1&b=2"]);
    assert!(
        !r[1].stderr.iter().any(|l| l.contains("bytes data")),
        "{:?}",
        r[1].stderr
    );
    let e = &r[0].stderr;
    assert_eq!(
        e[0],
        "Note: Unnecessary use of -X or --request, POST is already inferred."
    );
    for want in [
        "> POST /form HTTP/1.1\r",
        "> X-Test: yes\r",
        "> Content-Length: 7\r",
        "> Content-Type: application/x-www-form-urlencoded\r",
        "} [7 bytes data]",
    ] {
        assert!(e.contains(&want.to_string()), "missing {want:?} in {e:?}");
    }
}

/// A time limit of zero is no limit, as in curl (`-m 0`, and
/// `--connect-timeout 0` keeps the default for connecting).
#[test]
fn zero_time_limits_mean_none() {
    let r = curls(&[
        "curl -sS -m 0 http://server/hello.txt",
        "curl -sS --connect-timeout 0 http://server/hello.txt",
    ]);
    for ran in &r {
        assert_eq!(ran.exit, Some(0), "{:?}", ran.stderr);
        assert!(!ran.stdout.is_empty());
    }
}

/// An output file that cannot be written: curl's warning (unless -s) and
/// error 23.
#[test]
fn an_output_file_that_cannot_be_written() {
    let r = curls(&[
        "curl -o / http://server/hello.txt",
        "curl -sS -o / http://server/hello.txt",
    ]);
    // As curl 7.88: the warning as the first piece arrives, the meter's
    // last row (what came), then the error.
    assert_eq!(r[0].exit, Some(23));
    let tail = &r[0].stderr[r[0].stderr.len() - 3..];
    assert_eq!(
        tail[0],
        "Warning: Failed to open the file /: Is a directory"
    );
    assert!(tail[1].starts_with("100    16  100    16"), "{tail:?}");
    assert_eq!(tail[2], "curl: (23) Failure writing output to destination");
    assert_eq!(
        (r[1].exit, r[1].stderr.as_slice()),
        (
            Some(23),
            &["curl: (23) Failure writing output to destination".to_string()][..]
        )
    );
}

/// RFC 9112 §9.3: HTTP/1.1 keeps the connection unless a side says
/// `Connection: close`; HTTP/1.0 closes unless it asks for keep-alive.
/// Two requests in one write: the second is answered only on a connection
/// the first kept.
#[test]
fn persistence_as_each_version_asks() {
    let two = |first: &str, second: &str| {
        format!(
            "printf '{first}\\r\\n\\r\\n{second}\\r\\n\\r\\n' | nc server 80",
            first = first.replace('|', "\\r\\n"),
            second = second.replace('|', "\\r\\n")
        )
    };
    let cmds = [
        two(
            "GET /hello.txt HTTP/1.1|Host: server",
            "GET /sub/a.txt HTTP/1.1|Host: server",
        ),
        two(
            "GET /hello.txt HTTP/1.1|Host: server|Connection: close",
            "GET /sub/a.txt HTTP/1.1|Host: server",
        ),
        two("GET /hello.txt HTTP/1.0", "GET /sub/a.txt HTTP/1.0"),
        two(
            "GET /hello.txt HTTP/1.0|Connection: keep-alive",
            "GET /sub/a.txt HTTP/1.0",
        ),
    ];
    let r = curls(&cmds.iter().map(String::as_str).collect::<Vec<_>>());
    let statuses = |i: usize| {
        r[i].stdout
            .iter()
            .filter(|l| l.starts_with("HTTP/1."))
            .count()
    };
    let says = |i: usize, v: &str| {
        r[i].stdout
            .iter()
            .any(|l| l == &format!("Connection: {v}\r"))
    };
    assert_eq!(statuses(0), 2, "{:?}", r[0].stdout);
    assert_eq!(statuses(1), 1, "{:?}", r[1].stdout);
    assert!(says(1, "close"));
    assert_eq!(statuses(2), 1, "{:?}", r[2].stdout);
    assert!(says(2, "close"));
    // A 1.1 server answers every 1.x request as HTTP/1.1 (RFC 9110 §2.5).
    assert!(
        r[2].stdout[0].starts_with("HTTP/1.1 200"),
        "{:?}",
        r[2].stdout
    );
    assert_eq!(statuses(3), 2, "{:?}", r[3].stdout);
    assert!(says(3, "keep-alive"));
}

/// open(2) does not make directories: `-o` into one that does not exist
/// fails as the root does, with ENOENT's words.
#[test]
fn an_output_file_in_a_missing_directory() {
    let r = curls(&[
        "curl -s -o /nope/x http://server/hello.txt",
        "curl -o /nope/x http://server/hello.txt",
        "curl -s -o /tmp/x http://server/hello.txt",
        "cat /tmp/x /nope/x",
    ]);
    assert_eq!(r[0].exit, Some(23));
    assert_eq!(r[0].stderr, Vec::<String>::new());
    let tail = &r[1].stderr[r[1].stderr.len() - 3..];
    assert_eq!(
        tail[0],
        "Warning: Failed to open the file /nope/x: No such file or directory"
    );
    assert_eq!(tail[2], "curl: (23) Failure writing output to destination");
    assert_eq!(r[2].exit, Some(0));
    assert_eq!(r[3].stdout, ["plain text file"]);
    assert_eq!(r[3].stderr, ["cat: /nope/x: No such file or directory"]);
    assert_eq!(r[3].exit, Some(1));
}

/// `-D`: each response's head as it arrived (a redirect's too), to
/// standard output before the body or to a file; `--resolve` answers for
/// its host and port before DNS, as curl -v tells.
#[test]
fn dump_header_and_resolve() {
    let r = curls(&[
        "curl -s -D - http://server/hello.txt",
        "curl -sL -D /tmp/h -o /dev/null http://server/sub",
        "cat /tmp/h",
        "curl -sv --resolve nowhere.test:80:10.99.3.2 http://nowhere.test/hello.txt",
        "curl -s --resolve nowhere.test:81:10.99.3.2 http://nowhere.test/hello.txt",
        "curl -s --resolve nowhere.test:80 http://server/hello.txt",
    ]);
    assert_eq!(
        r[0].out(),
        "HTTP/1.1 200 OK\r\nServer: tcplab-http/0.1\r\nDate: Wed, 01 Jan 2025 00:00:01 GMT\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\nplain text file\n"
    );
    assert_eq!(r[1].exit, Some(0));
    let heads: Vec<&String> = r[2]
        .stdout
        .iter()
        .filter(|l| l.starts_with("HTTP/"))
        .collect();
    assert_eq!(heads.len(), 2, "{:?}", r[2].stdout);
    assert!(heads[0].starts_with("HTTP/1.1 301") && heads[1].starts_with("HTTP/1.1 200"));
    assert_eq!(r[3].out(), "plain text file\n");
    assert_eq!(
        r[3].stderr[..3],
        [
            "* Added nowhere.test:80:10.99.3.2 to DNS cache",
            "* Hostname nowhere.test was found in DNS cache",
            "*   Trying 10.99.3.2:80...",
        ]
    );
    // Another port: not pinned, so DNS is asked (and knows no such name).
    assert_eq!(r[4].exit, Some(6));
    assert_eq!(r[5].exit, Some(49));
}

/// Several URLs as curl 7.88 runs them: `-o` goes with the first URL
/// only (the next body to standard output), the status is the last
/// transfer's; -v's lines stay under -s (only "curl: (N)" goes); a
/// response whose connection is kept says so before the next request of
/// a redirect and before "Maximum redirects", where nothing is closed.
#[test]
fn several_urls_outputs_statuses_and_verbose_order() {
    let r = curls(&[
        "curl -s -o /tmp/a http://server/hello.txt http://server/sub/a.txt",
        "cat /tmp/a",
        "curl -s http://server:81/ http://server/sub/a.txt",
        "curl -sv http://server:81/",
        "curl -sv -L --max-redirs 0 http://server/sub",
        "curl -sv -L http://server/sub -o /dev/null",
        "curl -sv --resolve '*:80:10.99.3.2' --resolve 'x:80:10.0.0.1,nope' http://any.test/",
        "curl -s -o /tmp/b http://server/sub/a.txt -o /tmp/c http://server/hello.txt",
        "cat /tmp/b /tmp/c",
        "curl -sv http://server/hello.txt ftp://server/ http://server:81/ http://server/sub/a.txt",
    ]);
    assert_eq!(r[0].stdout, ["a"]);
    assert_eq!(r[1].stdout, ["plain text file"]);
    assert_eq!(r[2].exit, Some(0), "the last transfer's status");
    let e = &r[3].stderr;
    assert!(
        e.iter()
            .any(|l| l.starts_with("* Failed to connect to server port 81")),
        "{e:?}"
    );
    assert_eq!(
        e.last().map(String::as_str),
        Some("* Closing connection 0"),
        "{e:?}"
    );
    let e = &r[4].stderr;
    assert_eq!(r[4].exit, Some(47));
    assert_eq!(
        e[e.len() - 2..],
        [
            "* Connection #0 to host server left intact",
            "* Maximum (0) redirects followed"
        ],
        "{e:?}"
    );
    let e = &r[5].stderr;
    let intact = e
        .iter()
        .position(|l| l == "* Connection #0 to host server left intact");
    let issue = e
        .iter()
        .position(|l| l.starts_with("* Issue another request to this URL:"));
    assert!(intact.is_some() && intact < issue, "{e:?}");
    let e = &r[6].stderr;
    assert_eq!(r[6].exit, Some(49));
    assert_eq!(
        e[..4],
        [
            "* Added *:80:10.99.3.2 to DNS cache",
            "* RESOLVE *:80 is wildcard, enabling wildcard checks",
            "* Resolve address 'nope' found illegal",
            "* Couldn't parse CURLOPT_RESOLVE entry 'x:80:10.0.0.1,nope'",
        ],
        "{e:?}"
    );
    assert_eq!(e.len(), 4, "no connection to close: {e:?}");
    // Each -o with its URL, in order.
    assert_eq!(r[8].stdout, ["a", "plain text file"]);
    // A bad URL leaves the kept connection alone; a name looked up once
    // is found in the run's DNS cache afterwards (the third URL closed
    // connection #0 to make its own).
    let e = &r[9].stderr;
    assert!(
        e.iter()
            .any(|l| l == "* Protocol \"ftp\" not supported or disabled in libcurl"),
        "{e:?}"
    );
    let closing: Vec<&String> = e
        .iter()
        .filter(|l| l.starts_with("* Closing connection"))
        .collect();
    assert_eq!(
        closing,
        [
            "* Closing connection -1",
            "* Closing connection 0",
            "* Closing connection 1"
        ],
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l == "* Connected to server (10.99.3.2) port 80 (#2)"),
        "{e:?}"
    );
    assert_eq!(
        e.iter()
            .filter(|l| *l == "* Hostname server was found in DNS cache")
            .count(),
        1,
        "{e:?}"
    );
    assert_eq!(r[9].exit, Some(0));
}

/// `-D` as curl 7.88 does it around failures: a file it cannot open stops
/// the transfer before it starts (23); a head that arrived stays in the
/// file when the transfer then fails (here: too many redirects).
/// `--resolve` entries in order: the last for a host and port wins, `-`
/// removes one, `*` answers for any host.
#[test]
fn dump_header_failures_and_resolve_order() {
    let r = curls(&[
        "curl -s -D /nope/h http://server/hello.txt",
        "curl -D /nope/h http://server/hello.txt",
        "curl -sL --max-redirs 0 -D /tmp/h http://server/sub",
        "cat /tmp/h",
        "curl -sv --resolve a.test:80:10.9.9.9 --resolve +a.test:80:10.99.3.2 http://a.test/hello.txt",
        "curl -s --resolve a.test:80:10.99.3.2 --resolve -a.test:80 http://a.test/hello.txt",
        "curl -s --resolve '*:80:10.99.3.2' http://any.test/hello.txt",
        "curl -sv --resolve -bad http://server/hello.txt",
    ]);
    assert_eq!(r[0].exit, Some(23));
    assert_eq!(r[0].stdout, Vec::<String>::new());
    assert_eq!(
        r[1].stderr,
        [
            "Warning: Failed to open /nope/h",
            "curl: (23) Failed writing received data to disk/application"
        ]
    );
    assert_eq!(r[2].exit, Some(47));
    assert!(
        r[3].stdout[0].starts_with("HTTP/1.1 301"),
        "{:?}",
        r[3].stdout
    );
    assert_eq!(r[4].out(), "plain text file\n");
    assert_eq!(
        r[4].stderr[..4],
        [
            "* Added a.test:80:10.9.9.9 to DNS cache",
            "* RESOLVE a.test:80 is - old addresses discarded",
            "* Added a.test:80:10.99.3.2 to DNS cache (non-permanent)",
            "* Hostname a.test was found in DNS cache",
        ]
    );
    assert_eq!(r[5].exit, Some(6), "removed: DNS is asked");
    assert_eq!(r[6].out(), "plain text file\n");
    assert_eq!(r[7].out(), "plain text file\n");
    assert_eq!(
        r[7].stderr[0],
        "* Bad syntax CURLOPT_RESOLVE removal entry '-bad'"
    );
}

/// A transfer cut short by -m leaves what arrived in the output file, as
/// curl writing as data comes would, and says how much of how much.
#[test]
fn a_timed_out_download_leaves_its_part() {
    let slow = www_net().replacen("[[link]]", "[[link]]\nrate = \"10Mbit\"", 1);
    let r = run_in(
        &slow,
        &[
            ("0s", "server", "serve http"),
            (
                "1s",
                "client",
                "curl -sS -m 0.5 -o /part.bin http://server/big.bin",
            ),
            ("3s", "client", "sha256sum /part.bin"),
        ],
    );
    let curl = &r[1];
    assert_eq!(curl.exit, Some(28));
    let msg = &curl.stderr[0];
    let got: u64 = msg
        .strip_prefix("curl: (28) Operation timed out after 500 milliseconds with ")
        .and_then(|m| m.strip_suffix(" out of 2000000 bytes received"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{msg}"));
    assert!(got > 100_000 && got < 2_000_000, "{msg}");
    assert_eq!(r[2].exit, Some(0), "the part is there: {:?}", r[2].stderr);
    // Without -o, what arrived was already written to standard output.
    let r = run_in(
        &slow,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -s -m 0.5 http://server/big.bin"),
        ],
    );
    assert_eq!(r[1].exit, Some(28));
    assert!(!r[1].stdout.is_empty());
}

#[test]
fn errors_and_exit_codes() {
    let r = curls(&[
        "curl http://nosuch/",
        "curl http://server:8080/",
        "curl --connect-timeout 2 http://10.99.3.99/",
        "curl -f http://server/missing",
        "curl http://server/missing",
        "curl ftp://server/",
        "curl http://server/big.bin",
        "curl -s http://nosuch/",
        "curl -sS http://nosuch/",
        "curl -L --max-redirs 0 http://server/sub",
    ]);
    let err = |i: usize| (r[i].exit, r[i].stderr.last().cloned().unwrap_or_default());
    assert_eq!(
        err(0),
        (Some(6), "curl: (6) Could not resolve host: nosuch".into())
    );
    assert_eq!(
        err(1),
        (
            Some(7),
            "curl: (7) Failed to connect to server port 8080 after 0 ms: Couldn't connect to server".into()
        )
    );
    assert_eq!(
        err(2),
        (
            Some(28),
            "curl: (28) Failed to connect to 10.99.3.99 port 80 after 2000 ms: Timeout was reached"
                .into()
        )
    );
    assert_eq!(
        err(3),
        (
            Some(22),
            "curl: (22) The requested URL returned error: 404".into()
        )
    );
    assert_eq!(r[3].stdout, Vec::<String>::new(), "-f prints no error body");
    assert_eq!(r[4].exit, Some(0), "without -f a 404 is not an error");
    assert!(r[4].out().contains("404 Not Found"));
    assert_eq!(
        err(5),
        (
            Some(1),
            "curl: (1) Protocol \"ftp\" not supported or disabled in libcurl".into()
        )
    );
    // The warning's three lines and status 23, no line of curl's own
    // after them (curl 7.88.1).
    assert_eq!(r[6].exit, Some(23));
    assert!(r[6].stderr[0].starts_with("Warning: Binary output can mess up your terminal."));
    assert_eq!(r[6].stderr.len(), 3, "{:?}", r[6].stderr);
    assert_eq!((r[7].exit, r[7].stderr.len()), (Some(6), 0), "-s is silent");
    assert_eq!(
        err(8),
        (Some(6), "curl: (6) Could not resolve host: nosuch".into())
    );
    assert_eq!(
        err(9),
        (Some(47), "curl: (47) Maximum (0) redirects followed".into())
    );
    let usage = tcplab_tools::Command::parse("curl -W http://server/").unwrap_err();
    assert_eq!(
        (usage.status, usage.message.as_str()),
        (2, "option -W: is unknown")
    );
}

#[test]
fn download_to_a_file_with_a_progress_meter() {
    let net = www_net().replace(
        "ends = [\"client\", \"r1\"]\ndelay = \"100us\"",
        "ends = [\"client\", \"r1\"]\ndelay = \"100us\"\nrate = \"10Mbit\"",
    );
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -o /tmp/big.bin http://server/big.bin"),
            (
                "5s",
                "client",
                "curl -s -o /tmp/copy.bin http://server/big.bin",
            ),
        ],
    );
    let e = &r[1].stderr;
    assert_eq!(
        e[0],
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current"
    );
    // Rows redraw in place (each begins with a carriage return): the
    // transcript shows each as a line, as on a terminal, the first at 0.
    assert_eq!(
        e[2],
        "  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
    );
    // 2 MB at 10 Mbit/s: a row a second, the last one at 100%.
    assert!(e.len() >= 4, "{e:?}");
    assert!(
        e.last().unwrap().starts_with("100 1953k  100 1953k"),
        "{e:?}"
    );
    assert_eq!(r[1].stdout, Vec::<String>::new());
    assert_eq!(r[2].stderr, Vec::<String>::new(), "-s hides the meter");
}

#[test]
fn concurrent_clients_are_served_at_once() {
    // A slow last hop, so that each 2 MB download takes over a second.
    let net = www_net().replace(
        "ends = [\"r2\", \"server\"]\ndelay = \"100us\"",
        "ends = [\"r2\", \"server\"]\ndelay = \"100us\"\nrate = \"10Mbit\"",
    );
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            (
                "1s",
                "client",
                "curl -s -o /tmp/a -w '%{size_download}' http://server/big.bin",
            ),
            (
                "1s",
                "r1",
                "curl -s -o /tmp/b -w '%{size_download}' http://server/big.bin",
            ),
            ("1500ms", "server", "ss -tn state established"),
        ],
    );
    assert_eq!(r[1].stdout, ["2000000"]);
    assert_eq!(r[2].stdout, ["2000000"]);
    let serving = r[3]
        .stdout
        .iter()
        .filter(|l| l.contains("10.99.3.2:80 "))
        .count();
    assert_eq!(serving, 2, "{:?}", r[3].stdout);
}

#[test]
fn the_server_checks_requests() {
    let r = curls(&[
        "printf 'GET / HTTP/1.1\\r\\n\\r\\n' | nc server 80",
        "printf 'GET /hello.txt HTTP/1.0\\r\\n\\r\\n' | nc server 80",
        "printf 'GET / HTTP/2.0\\r\\nHost: x\\r\\n\\r\\n' | nc server 80",
        "printf 'BREW /pot HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | nc server 80",
        // (curl itself takes the `..` out before sending: RFC 3986 §5.2.4.)
        "printf 'GET /../etc/passwd HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n0\\r\\n\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: gzip, chunked\\r\\n\\r\\n0\\r\\n\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 3\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n' | nc server 80",
        "printf 'GET http://x/hello.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n+5\\r\\nhello\\r\\n0\\r\\n\\r\\n' | nc server 80",
        "printf 'POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked, chunked\\r\\n\\r\\n0\\r\\n\\r\\n' | nc server 80",
        "printf 'GET /hello.txt HTTP/1.1\\r\\nHost: x\\r\\nContent(Length): 5\\r\\n\\r\\n' | nc server 80",
        "printf '\\nGET /hello.txt HTTP/1.1\\nHost: x\\nConnection: close\\n\\n' | nc server 80",
    ]);
    // nc prints the response unchanged, CRLF line ends included.
    let first = |i: usize| {
        let line = r[i].stdout.first().cloned().unwrap_or_default();
        line.trim_end_matches('\r').to_string()
    };
    assert_eq!(first(0), "HTTP/1.1 400 Bad Request", "no Host in HTTP/1.1");
    // RFC 9110 §2.5: a 1.1 server answers a 1.0 request as HTTP/1.1.
    assert_eq!(first(1), "HTTP/1.1 200 OK");
    assert_eq!(
        r[1].stdout.last().unwrap(),
        "plain text file",
        "then the server closed"
    );
    assert_eq!(first(2), "HTTP/1.1 505 HTTP Version Not Supported");
    assert_eq!(first(3), "HTTP/1.1 501 Not Implemented");
    assert!(r[3]
        .stdout
        .contains(&"Allow: GET, HEAD, POST\r".to_string()));
    assert_eq!(first(4), "HTTP/1.1 403 Forbidden");
    // RFC 9112 §6: a chunked request body is read (and echoed); another
    // coding is 501, both framings at once 400, a bad chunk 400.
    assert_eq!(first(5), "HTTP/1.1 200 OK");
    assert_eq!(r[5].stdout.last().unwrap(), "hello", "{:?}", r[5]);
    assert_eq!(first(6), "HTTP/1.1 501 Not Implemented");
    assert_eq!(first(7), "HTTP/1.1 400 Bad Request");
    // RFC 9112 §3.2.2: the absolute form is accepted.
    assert_eq!(first(8), "HTTP/1.1 200 OK");
    assert_eq!(r[8].stdout.last().unwrap(), "plain text file");
    assert_eq!(first(9), "HTTP/1.1 400 Bad Request");
    // §7.1: a chunk size is hex digits only; §6.1: chunked once; RFC
    // 9110 §5.1: a field name is a token.
    assert_eq!(first(10), "HTTP/1.1 400 Bad Request");
    assert_eq!(first(11), "HTTP/1.1 400 Bad Request");
    assert_eq!(first(12), "HTTP/1.1 400 Bad Request");
    // §2.2: an empty line before the request and bare LFs are read.
    assert_eq!(first(13), "HTTP/1.1 200 OK");
    assert_eq!(r[13].stdout.last().unwrap(), "plain text file");
}

#[test]
fn remote_name_saves_where_curl_would() {
    let net = www_net();
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -s -O http://server/hello.txt"),
            ("2s", "client", "serve http --root / --port 8080"),
            ("3s", "server", "curl -s http://client:8080/hello.txt"),
            ("4s", "client", "curl -s -O http://server/"),
        ],
    );
    assert_eq!(r[1].exit, Some(0));
    assert_eq!(r[3].stdout, ["plain text file"]);
    assert_eq!(r[4].exit, Some(23));
}

#[test]
fn write_out_variables_json_and_unknown_names() {
    let r = curls(&[
        "curl -s -o /dev/null -w '%{num_connects} %{http_version} %{method} %{num_headers}\\n' http://server/hello.txt",
        "curl -s -o /dev/null -w '%{nope}|%{http_code}' http://server/hello.txt",
        "curl -s -o /dev/null -w '%{json}' http://server/hello.txt",
        "curl -s -w '%{json}' http://server:8080/",
    ]);
    assert_eq!(r[0].stdout, ["1 1.1 GET 4"]);
    assert_eq!(r[1].stdout, ["|200"]);
    assert_eq!(
        r[1].stderr,
        ["curl: unknown --write-out variable: 'nope'"],
        "warned even with -s, as curl does"
    );
    let json = &r[2].stdout[0];
    for field in [
        "{\"certs\":\"\",\"content_type\":\"text/plain\",\"errormsg\":null,\"exitcode\":0,\"filename_effective\":\"/dev/null\",",
        ",\"http_code\":200,\"http_connect\":0,\"http_version\":\"1.1\",\"local_ip\":\"10.99.1.2\",",
        ",\"method\":\"GET\",\"num_certs\":0,\"num_connects\":1,\"num_headers\":4,\"num_redirects\":0,",
        ",\"redirect_url\":null,\"referer\":null,\"remote_ip\":\"10.99.3.2\",\"remote_port\":80,\"response_code\":200,\"scheme\":\"HTTP\",\"size_download\":16,",
        ",\"url\":\"http://server/hello.txt\",\"url_effective\":\"http://server/hello.txt\",\"urlnum\":0,\"curl_version\":\"libcurl/7.88.1\"}",
    ] {
        assert!(json.contains(field), "{field} in {json}");
    }
    let failed = &r[3].stdout[0];
    assert!(
        failed.contains("\"errormsg\":\"Failed to connect to server port 8080 after 0 ms: Couldn't connect to server\",\"exitcode\":7,\"filename_effective\":null,"),
        "{failed}"
    );
    assert!(failed.contains(",\"num_connects\":0,"), "{failed}");
    assert!(failed.contains(",\"scheme\":null,"), "{failed}");
}

const UPLOADS: &str = r#"
[[file]]
on = "client"
path = "/tmp/form.txt"
text = "a\r\nb\n"
"#;

#[test]
fn data_from_files_auth_referer_compression_and_notes() {
    let net = format!("{}{UPLOADS}", www_net());
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -s -d @/tmp/form.txt http://server/"),
            ("2s", "client", "curl -s --data-binary @/tmp/form.txt http://server/"),
            ("3s", "client", "curl -s --data-raw @/tmp/form.txt http://server/"),
            (
                "4s",
                "client",
                "curl -sv -o /dev/null -u alice:secret -e http://ref.test/ --compressed http://server/hello.txt",
            ),
            ("5s", "client", "curl -v -X POST -d x -o /dev/null http://server/"),
            ("6s", "client", "curl -sv -X POST -d x -o /dev/null http://server/"),
            ("7s", "client", "curl -h"),
        ],
    );
    // -d @file drops CR and LF; --data-binary sends the file unchanged;
    // --data-raw does not read files.
    assert_eq!(r[1].out(), "ab\n");
    assert_eq!(r[2].stdout.join("\n"), "a\r\nb");
    assert_eq!(r[3].stdout, ["@/tmp/form.txt"]);
    let sent: Vec<&String> = r[4].stderr.iter().filter(|l| l.starts_with("> ")).collect();
    assert_eq!(
        sent,
        [
            "> GET /hello.txt HTTP/1.1\r",
            "> Host: server\r",
            "> Authorization: Basic YWxpY2U6c2VjcmV0\r",
            "> User-Agent: curl/7.88.1\r",
            "> Accept: */*\r",
            "> Accept-Encoding: deflate, gzip\r",
            "> Referer: http://ref.test/\r",
            "> \r",
        ]
    );
    assert_eq!(
        r[5].stderr[0],
        "Note: Unnecessary use of -X or --request, POST is already inferred."
    );
    assert!(
        !r[6].stderr.iter().any(|l| l.starts_with("Note:")),
        "-s silences curl's notes: {:?}",
        r[6].stderr
    );
    assert_eq!(r[7].exit, Some(0));
    assert_eq!(r[7].stdout[0], "Usage: curl [options...] <url>");
    assert_eq!(r[7].stderr.len(), 0);
}

#[test]
fn timeouts_worded_as_curl_7_88_words_them() {
    // TCP's own give-up: r2 drops the SYNs silently (an ACL), and the
    // client tries only twice.
    let net = www_net().replace(
        "gateway = \"10.99.1.1\"\n",
        "gateway = \"10.99.1.1\"\n\n[host.tcp]\nsyn_retries = 1\n",
    ) + r#"
[[router.acl]]
iface = "10.99.3.1"
inbound = ["100 deny tcp port 81", "200 allow all"]
outbound = ["100 allow all"]
"#;
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -sS -m 1 http://server:81/"),
            ("5s", "client", "curl -sS http://server:81/"),
        ],
    );
    assert_eq!(
        (r[1].exit, r[1].stderr.as_slice()),
        (
            Some(28),
            &["curl: (28) Connection timed out after 1000 milliseconds".to_string()][..]
        )
    );
    assert_eq!(r[2].exit, Some(28));
    assert!(
        r[2].stderr[0].starts_with("curl: (28) Failed to connect to server port 81 after ")
            && r[2].stderr[0].ends_with(" ms: Couldn't connect to server"),
        "{:?}",
        r[2].stderr
    );
}

/// curl's clock stops when the body is in, not when its FIN has been
/// acknowledged: a request on a connection that closes after it takes
/// the handshake's round trip and the request's, two in all (the
/// textbook's "non-persistent HTTP: 2 RTT"), also over HTTP/1.0.
#[test]
fn time_total_ends_with_the_body_not_the_close() {
    let r = curls(&[
        "curl -s -o /dev/null -H 'Connection: close' -w '%{time_connect} %{time_total}\\n' http://server/hello.txt",
        "curl -s -o /dev/null -0 -w '%{time_connect} %{time_total}\\n' http://server/hello.txt",
    ]);
    for ran in &r {
        let t: Vec<f64> = ran.stdout[0]
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        let (connect, total) = (t[0], t[1]);
        assert!(connect > 0.0005, "{ran:?}");
        assert!(total < 2.3 * connect, "one round trip too many: {ran:?}");
    }
}

/// `--limit-rate` reads no faster than the rate on average, as curl
/// does, by leaving the socket unread: the receive buffer fills, the
/// server sees a zero window and probes it (flow control to watch), and
/// the download takes what the rate says.
#[test]
fn limit_rate_paces_the_reader_and_closes_the_window() {
    let net = www_net();
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            // The client's zero-window advertisements, and the server's
            // one-byte probes of the shut window (IP length 20 + 32 + 1).
            ("1s", "server", "tcpdump -n -c 2 tcp dst port 80 and tcp[14:2] = 0"),
            ("1s", "server", "tcpdump -n -c 2 tcp src port 80 and ip[2:2] = 53"),
            (
                "1s",
                "client",
                "curl -s -o /tmp/big --limit-rate 20K -w '%{size_download} %{speed_download}\\n' http://server/big.bin",
            ),
        ],
    );
    let w: Vec<f64> = r[3].stdout[0]
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(w[0], 2_000_000.0, "{:?}", r[3]);
    // 2 MB at 20 KiB/s: about 98 s. As curl's, the wait before a read is
    // judged on what was read before it, so the average may run over by
    // the last read.
    let rate = 20.0 * 1024.0;
    assert!(w[1] <= rate * 1.01 && w[1] > rate * 0.95, "{:?}", r[3]);
    assert_eq!(r[1].stdout.len(), 2, "the window never closed: {:?}", r[1]);
    for probe in &r[2].stdout {
        // (A byte of the body on port 80: tcpdump names the protocol.)
        assert!(probe.ends_with(", length 1: HTTP"), "{probe}");
    }
    assert_eq!(r[2].stdout.len(), 2, "no window probes: {:?}", r[2]);
}

/// curl writes a body to its file as it arrives: a transfer to a file it
/// cannot make stops at the first piece (not after the whole download),
/// one to /dev/null keeps nothing, and a large download is whole on disk.
#[test]
fn bodies_are_written_as_they_arrive() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "1s",
                "client",
                "curl -sS -o /nope/x -w '%{size_download}' http://server/big.bin",
            ),
            (
                "2s",
                "client",
                "curl -sS -o /tmp/big.bin -w '%{size_download}' http://server/big.bin",
            ),
            ("3s", "client", "sha256sum /tmp/big.bin"),
            ("3s", "server", "sha256sum /srv/www/big.bin"),
        ],
    );
    let r = &r[1..];
    assert_eq!(r[0].exit, Some(23));
    let got: u64 = r[0].stdout[0].parse().unwrap();
    assert!(got > 0 && got < 100_000, "stopped early: {got} bytes");
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1].stderr);
    assert_eq!(r[1].stdout, ["2000000"]);
    let sum = |i: usize| {
        r[i].stdout[0]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(sum(2), sum(3), "the server's bytes");
}

/// A server that does not answer in HTTP/1 (an echo, a character
/// generator) gets curl 7.88's refusal of HTTP/0.9, told from the first
/// bytes.
#[test]
fn a_reply_that_is_not_http_is_http09_refused() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve echo"),
            ("0s", "server", "serve chargen"),
            ("1s", "client", "curl -sS http://server:7/"),
            ("2s", "client", "curl -sS -o /dev/null http://server:19/"),
        ],
    );
    for ran in &r[2..4] {
        assert_eq!(ran.exit, Some(1), "{ran:?}");
        assert_eq!(
            ran.stderr,
            ["curl: (1) Received HTTP/0.9 when not allowed"],
            "{}",
            ran.cmdline
        );
    }
}

/// A `--root` that is not there (or is a file) is said at once, status 1,
/// rather than a 404 for every request.
#[test]
fn a_missing_root_is_said_at_once() {
    let net = www_net();
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http --root /nonexistent --port 8080"),
            (
                "0s",
                "server",
                "serve http --root /srv/www/hello.txt --port 8081",
            ),
        ],
    );
    assert_eq!(r[0].exit, Some(1), "{:?}", r[0]);
    assert_eq!(
        r[0].stderr,
        ["serve: --root /nonexistent: No such file or directory"]
    );
    assert_eq!(
        r[1].stderr,
        ["serve: --root /srv/www/hello.txt: Not a directory"],
        "{:?}",
        r[1]
    );
}

/// Bodies from standard input (`-d @-`, `-T -`), an upload sent chunked
/// with `Expect: 100-continue` and the server's `100 Continue` before it
/// reads the body, a user's `Transfer-Encoding: chunked` (the body coded,
/// no Content-Length), and a request with two Host fields refused.
/// The request lines are what curl 7.88.1 sent for the same commands.
#[test]
fn bodies_from_standard_input_chunked_and_expect() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "1s",
                "client",
                "echo hello | curl -s --data-binary @- http://server/",
            ),
            ("2s", "client", "echo hello | curl -s -d @- http://server/"),
            (
                "3s",
                "client",
                "echo hello | curl -sv -T - http://server/up",
            ),
            (
                "4s",
                "client",
                "curl -sv -H 'Transfer-Encoding: chunked' -d hello http://server/",
            ),
            (
                "5s",
                "client",
                "printf 'GET / HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n' | nc server 80",
            ),
        ],
    );
    assert_eq!(r[1].stdout, ["hello"], "{:?}", r[1]);
    // -d drops the line end, --data-binary keeps it.
    assert_eq!(r[2].stdout, ["hello"], "{:?}", r[2]);
    let sent = |r: &common::Ran| -> Vec<String> {
        r.stderr
            .iter()
            .filter(|l| l.starts_with("> ") || l.starts_with("< HTTP"))
            .cloned()
            .collect()
    };
    assert_eq!(
        sent(&r[3]),
        [
            "> PUT /up HTTP/1.1\r",
            "> Host: server\r",
            "> User-Agent: curl/7.88.1\r",
            "> Accept: */*\r",
            "> Transfer-Encoding: chunked\r",
            "> Expect: 100-continue\r",
            "> \r",
            "< HTTP/1.1 100 Continue\r",
            "< HTTP/1.1 501 Not Implemented\r",
        ]
    );
    assert_eq!(
        sent(&r[4]),
        [
            "> POST / HTTP/1.1\r",
            "> Host: server\r",
            "> User-Agent: curl/7.88.1\r",
            "> Accept: */*\r",
            "> Transfer-Encoding: chunked\r",
            "> Content-Type: application/x-www-form-urlencoded\r",
            "> \r",
            "< HTTP/1.1 200 OK\r",
        ]
    );
    assert_eq!(r[4].stdout, ["hello"], "{:?}", r[4]);
    assert_eq!(r[5].stdout[0], "HTTP/1.1 400 Bad Request\r", "{:?}", r[5]);
}

/// A directory listing shows each name as text and links to it
/// percent-encoded (python's http.server does the same), so a name with
/// markup is not markup and one with `#` or `?` is reached.
#[test]
fn listings_escape_names() {
    let net = format!(
        "{}{}",
        www_net(),
        r##"
[[file]]
on = "server"
path = "/srv/www/esc/<b>x&y.txt"
text = "e\n"

[[file]]
on = "server"
path = "/srv/www/esc/hash#q?.txt"
text = "h\n"

[[file]]
on = "server"
path = "/srv/www/sp ace%/x.txt"
text = "x\n"

[[file]]
on = "server"
path = "/srv/www/evil\r\nSet-Cookie: a=1/x.txt"
text = "x\n"
"##
    );
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "curl -s http://server/esc/"),
            ("2s", "client", "curl -s http://server/esc/hash%23q%3F.txt"),
            ("3s", "client", "curl -s http://server/esc/%3Cb%3Ex%26y.txt"),
            ("4s", "client", "curl -sI 'http://server/sp%20ace%25?q=1'"),
            (
                "5s",
                "client",
                "curl -sI http://server/evil%0D%0ASet-Cookie:%20a=1",
            ),
        ],
    );
    // A directory's redirect names it percent-encoded, query kept: no
    // line end of a name reaches the header.
    assert!(
        r[4].stdout
            .contains(&"Location: /sp%20ace%25/?q=1\r".to_string()),
        "{:?}",
        r[4]
    );
    assert!(
        r[5].stdout
            .contains(&"Location: /evil%0D%0ASet-Cookie%3A%20a%3D1/\r".to_string()),
        "{:?}",
        r[5]
    );
    assert!(
        !r[5].stdout.iter().any(|l| l.starts_with("Set-Cookie")),
        "{:?}",
        r[5]
    );
    assert!(
        r[1].stdout.contains(
            &r#"<li><a href="%3Cb%3Ex%26y.txt">&lt;b&gt;x&amp;y.txt</a></li>"#.to_string()
        ),
        "{:?}",
        r[1]
    );
    assert!(
        r[1].stdout
            .contains(&r#"<li><a href="hash%23q%3F.txt">hash#q?.txt</a></li>"#.to_string()),
        "{:?}",
        r[1]
    );
    assert_eq!(r[2].stdout, ["h"]);
    assert_eq!(r[3].stdout, ["e"]);
}

/// A server that never says `100 Continue` (nc) gets the upload's body
/// after curl's second of waiting.
#[test]
fn an_upload_waits_a_second_for_100_continue() {
    let r = run_in(
        &format!("{}{UPLOADS}", www_net()),
        &[
            ("0s", "server", "nc -l -p 8080"),
            (
                "1s",
                "client",
                "curl -sv -m 3 -T /tmp/form.txt http://server:8080/up",
            ),
        ],
    );
    assert!(
        r[1].stderr
            .contains(&"> Expect: 100-continue\r".to_string()),
        "{:?}",
        r[1]
    );
    assert!(
        r[1].stderr
            .contains(&"* Done waiting for 100-continue".to_string()),
        "{:?}",
        r[1]
    );
    // The server read the head, then the body.
    assert_eq!(
        r[0].stdout.last().map(String::as_str),
        Some("b"),
        "{:?}",
        r[0]
    );
}

/// A file named with a trailing slash, as a directory, is not found (as
/// open(2) says ENOTDIR and python's http.server answers 404).
#[test]
fn a_file_named_as_a_directory_is_not_found() {
    let r = curls(&[
        "curl -s -o /dev/null -w %{http_code} http://server/hello.txt/",
        "curl -s -o /dev/null -w %{http_code} http://server/hello.txt",
    ]);
    assert_eq!(r[0].stdout, ["404"], "{:?}", r[0]);
    assert_eq!(r[1].stdout, ["200"], "{:?}", r[1]);
}
