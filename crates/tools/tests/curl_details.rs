//! curl's finer points against `serve http`, each checked against curl
//! 7.88.1: where -i's heads go, files it cannot read, odd headers, the
//! meter's rows on failures and cuts, redirects of a custom POST, its
//! socket's keep-alive, and the server's limits on a request's head.

mod common;

use common::{curls, curls_in, run_in, www_net};

/// -i and -I with -o: the heads go into the file, before the body (and
/// into /dev/null with it), as curl's header callback writes them to the
/// same output; with -L every response's head, in order.
#[test]
fn included_heads_go_where_the_body_goes() {
    let r = curls(&[
        "curl -s -I -o /tmp/h http://server/hello.txt",
        "cat /tmp/h",
        "curl -s -i -o /tmp/b http://server/hello.txt",
        "cat /tmp/b",
        "curl -s -i -o /dev/null http://server/hello.txt",
        "curl -s -i -L -o /tmp/l http://server/sub",
        "cat /tmp/l",
    ]);
    for k in [0, 2, 4, 5] {
        assert_eq!((r[k].exit, r[k].stdout.len()), (Some(0), 0), "{:?}", r[k]);
    }
    assert_eq!(r[1].stdout[0], "HTTP/1.1 200 OK\r");
    assert_eq!(r[1].stdout.last().map(String::as_str), Some("\r"));
    assert_eq!(r[3].stdout[0], "HTTP/1.1 200 OK\r");
    assert_eq!(
        r[3].stdout[r[3].stdout.len() - 2..],
        ["\r", "plain text file"]
    );
    let l = &r[6].stdout;
    assert!(l[0].starts_with("HTTP/1.1 301"), "{l:?}");
    assert_eq!(
        l.iter().filter(|x| x.starts_with("HTTP/1.1 ")).count(),
        2,
        "{l:?}"
    );
}

/// Files curl cannot read, as curl 7.88.1 answers (each checked against
/// it): `-d @FILE` warns and posts nothing; `-T FILE` says so in two
/// lines (under -s too) and fails with 26; `-w @FILE` takes the format
/// from the file, or warns without a line end; `-O` without a file name
/// in the URL is 23 after its own line. A header with neither colon nor
/// semicolon is left out; the user's Host takes curl's place (first);
/// -v names the user of Basic auth.
#[test]
fn unreadable_files_odd_headers_and_auth_as_curl_does() {
    let net = www_net()
        + "[[file]]\non = \"client\"\npath = \"/tmp/fmt\"\ntext = \"code=%{http_code}\"\n";
    let r = curls_in(&net, &[
        "curl -sS -d @/nope http://server/hello.txt -o /dev/null -w %{size_upload}",
        "curl -d @/nope -s http://server/hello.txt -o /dev/null",
        "curl -s -T /nope http://server/x",
        "curl -s -w @/tmp/fmt http://server/hello.txt -o /dev/null",
        "curl -w @/nope -o /dev/null http://server/hello.txt",
        "curl -O http://server/",
        "curl -sv -o /dev/null -H 'Bad header' -H 'User-Agent: me' -H 'Host: other' -u al:pw http://server/hello.txt",
    ]);
    assert_eq!(
        (r[0].exit, r[0].stdout.clone()),
        (Some(0), vec!["0".to_string()])
    );
    assert!(
        r[0].stderr.is_empty(),
        "-sS keeps warnings quiet: {:?}",
        r[0]
    );
    assert_eq!(r[2].exit, Some(26));
    assert_eq!(
        r[2].stderr,
        [
            "curl: Can't open '/nope'!",
            "curl: try 'curl --help' or 'curl --manual' for more information"
        ]
    );
    assert_eq!(r[3].stdout, ["code=200"], "{:?}", r[3]);
    assert_eq!(r[4].exit, Some(0));
    assert!(
        r[4].stderr[0].starts_with("Warning: Failed to read /nope  % Total"),
        "{:?}",
        r[4].stderr
    );
    assert_eq!(r[5].exit, Some(23));
    assert_eq!(
        r[5].stderr,
        [
            "curl: Remote file name has no length!",
            "curl: (23) Failed writing received data to disk/application"
        ]
    );
    let sent: Vec<&String> = r[6].stderr.iter().filter(|l| l.starts_with("> ")).collect();
    assert_eq!(
        sent,
        [
            "> GET /hello.txt HTTP/1.1\r",
            "> Host: other\r",
            "> Authorization: Basic YWw6cHc=\r",
            "> Accept: */*\r",
            "> User-Agent: me\r",
            "> \r"
        ]
    );
    assert!(
        r[6].stderr
            .iter()
            .any(|l| l == "* Server auth using Basic with user 'al'"),
        "{:?}",
        r[6].stderr
    );
}

/// The meter of a failed transfer, as curl 7.88.1 draws it (checked): a
/// refused connect ends with a last row after the first (each begun with
/// a carriage return), then the error on a line of its own; a name that
/// did not resolve leaves the first row unended, the error right after.
#[test]
fn a_failed_transfer_ends_the_meter_as_curl_does() {
    let r = curls(&[
        "curl -o /dev/null http://server:81/",
        "curl -o /dev/null http://nosuch.invalid/",
    ]);
    let row = "  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0";
    assert_eq!(r[0].exit, Some(7));
    // (The transcript splits lines at carriage returns too.)
    assert_eq!(r[0].stderr.len(), 5, "{:#?}", r[0].stderr);
    assert_eq!(r[0].stderr[2..4], [row, row]);
    assert!(r[0].stderr[4].starts_with("curl: (7) Failed to connect"));
    assert_eq!(r[1].exit, Some(6));
    // (One row only; the transcript shows the unended row and the error
    // as two lines.)
    assert_eq!(
        r[1].stderr[2..],
        [row, "curl: (6) Could not resolve host: nosuch.invalid"],
        "{:#?}",
        r[1].stderr
    );
}

/// -X POST with -d through a 301: curl keeps the method it was told but
/// sends the body only to the first URL; after an HTTP/1.0 answer the
/// request that follows the redirect is HTTP/1.0 too (curl 7.88.1).
#[test]
fn a_custom_post_keeps_its_method_but_not_its_body_through_a_301() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.0 301 Moved\r\nLocation: http://server/hello.txt\r\nContent-Length: 0\r\n\r\n' | nc -l 8081",
            ),
            (
                "1s",
                "client",
                "curl -sv -o /dev/null -L -X POST -d x=1 http://server:8081/",
            ),
        ],
    );
    let sent: Vec<&String> = r[2]
        .stderr
        .iter()
        .filter(|l| l.starts_with("> POST") || l.starts_with("> Content-Length"))
        .collect();
    assert_eq!(
        sent,
        [
            "> POST / HTTP/1.1\r",
            "> Content-Length: 3\r",
            "> POST /hello.txt HTTP/1.0\r"
        ],
        "{:#?}",
        r[2].stderr
    );
}

/// -f reads none of an error's body (curl fails at its head): the
/// meter's last row shows the length and nothing received, and
/// `size_download` is 0; -I's last row shows the HEAD's Content-Length
/// (curl 7.88.1, checked).
#[test]
fn the_meter_of_f_and_head_shows_the_length_not_a_body() {
    let r = curls(&[
        "curl -f -o /dev/null -w %{size_download} http://server/nope",
        "curl -I -o /dev/null http://server/hello.txt",
    ]);
    assert_eq!(
        (r[0].exit, r[0].stdout.clone()),
        (Some(22), vec!["0".to_string()])
    );
    let last = &r[0].stderr[r[0].stderr.len() - 2];
    assert!(last.starts_with("  0   "), "{:#?}", r[0].stderr);
    let fields: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(&fields[..4], &["0", fields[1], "0", "0"]);
    assert_ne!(fields[1], "0", "the error page's length: {last}");
    let rows = &r[1].stderr;
    let fields: Vec<&str> = rows.last().unwrap().split_whitespace().collect();
    assert_eq!(&fields[..4], &["0", "16", "0", "0"], "{rows:#?}");
}

/// curl's socket has keep-alive on, after 60 s idle (the tool's
/// default, --keepalive-time 60): `ss -o` shows the timer while curl
/// waits for an answer that does not come.
#[test]
fn curls_connection_keeps_alive_after_a_minute_idle() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "nc -l 8080"),
            ("1s", "client", "curl -s -m 100 http://server:8080/"),
            ("11s", "client", "ss -tno state established"),
            ("80s", "client", "ss -tno state established"),
        ],
    );
    let timer = |k: usize| r[k].stdout.iter().find(|l| l.contains("timer:")).cloned();
    assert!(
        timer(2).is_some_and(|l| l.contains("timer:(keepalive,50sec,0)")),
        "{:?}",
        r[2].stdout
    );
    assert!(
        timer(3).is_some_and(|l| l.contains("timer:(keepalive,")),
        "{:?}",
        r[3].stdout
    );
}

/// A transfer cut short by -m in the middle of its body still ends the
/// meter with a last row (what came), as curl's multi_done draws it; and
/// with -i and two URLs each -o file holds its own transfer only.
#[test]
fn a_cut_transfer_ends_the_meter_and_each_url_has_its_file() {
    let r = curls(&[
        "curl -m 2.5 --limit-rate 100K -o /dev/null http://server/big.bin",
        "curl -s -i -o /tmp/b http://server/hello.txt -o /tmp/b http://server/sub/a.txt",
        "cat /tmp/b",
    ]);
    assert_eq!(r[0].exit, Some(28));
    let e = &r[0].stderr;
    // The first row, one a second (1 s, 2 s), and the last at the cut.
    let rows: Vec<&String> = e
        .iter()
        .filter(|l| l.contains("--:--:--") || l.contains("0:00:"))
        .collect();
    assert_eq!(rows.len(), 4, "{e:#?}");
    assert_ne!(rows[3], rows[2], "{e:#?}");
    assert!(
        e.last()
            .unwrap()
            .starts_with("curl: (28) Operation timed out"),
        "{e:#?}"
    );
    assert_eq!(r[2].stdout[0], "HTTP/1.1 200 OK\r");
    assert_eq!(r[2].stdout.last().map(String::as_str), Some("a"));
    assert_eq!(
        r[2].stdout
            .iter()
            .filter(|l| l.starts_with("HTTP/"))
            .count(),
        1,
        "{:?}",
        r[2].stdout
    );
}

/// A request line past the head's limit is 414 (URI Too Long), a head
/// whose fields pass it 431, as Apache tells them apart.
#[test]
fn a_long_target_is_414_and_long_fields_431() {
    let long = "a".repeat(70_000);
    let r = curls(&[
        &format!("curl -s -o /dev/null -w %{{http_code}} http://server/{long}"),
        &format!("curl -s -o /dev/null -w %{{http_code}} -H 'X-Long: {long}' http://server/"),
    ]);
    assert_eq!(r[0].stdout, ["414"]);
    assert_eq!(r[1].stdout, ["431"]);
}

/// What curl 7.88.1 does with a server's odder answers and its own URLs
/// (each checked against it): a 100 Continue before the answer is passed
/// over (RFC 9110 §15.2), header lines ending in a bare LF are read (RFC
/// 9112 §2.2), `.` and `..` leave the path before it is sent and a
/// redirect's fragment never goes on the wire (RFC 3986 §5.2), and
/// `-X HEAD` only renames the method: curl still waits for the body the
/// head announces (-I is what asks for none).
#[test]
fn interim_answers_bare_lfs_dot_segments_and_a_renamed_head() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' | nc -l 8081",
            ),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.1 200 OK\nContent-Length: 3\nConnection: close\n\nabc' | nc -l 8082",
            ),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.1 302 Found\r\nLocation: http://server/d/../sub/./a.txt#frag\r\nContent-Length: 0\r\n\r\n' | nc -l 8083",
            ),
            ("1s", "client", "curl -sS http://server:8081/"),
            ("1s", "client", "curl -sS http://server:8082/"),
            ("1s", "client", "curl -sS http://server/x/../hello.txt"),
            ("1s", "client", "curl -sSv -L http://server:8083/d/e"),
            (
                "1s",
                "client",
                "curl -sS -X HEAD -m 3 http://server/hello.txt",
            ),
            ("1s", "client", "curl -sSI http://server/hello.txt"),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.1 303 See Other\r\nLocation: http://server/hello.txt\r\nContent-Length: 0\r\n\r\n' | nc -l 8084",
            ),
            (
                "1s",
                "client",
                "curl -sv -o /dev/null -L -d x=1 http://server:8084/",
            ),
            (
                "0s",
                "server",
                r"printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' | nc -l 8085",
            ),
            ("1s", "client", "curl -si http://server:8085/"),
        ],
    );
    // -i shows the interim head too, before the final one.
    let heads: Vec<&String> = r[13]
        .stdout
        .iter()
        .filter(|l| l.starts_with("HTTP/"))
        .collect();
    assert_eq!(
        heads,
        ["HTTP/1.1 100 Continue\r", "HTTP/1.1 200 OK\r"],
        "{:?}",
        r[13]
    );
    // A POST redirected by a 303 goes on as a GET, said as curl says it.
    let e = &r[11].stderr;
    let issue = e
        .iter()
        .position(|l| l.starts_with("* Issue another request"));
    assert!(issue.is_some(), "{e:?}");
    assert_eq!(e[issue.unwrap() + 1], "* Switch to GET", "{e:?}");
    assert_eq!(r[4].stdout, ["abc"], "{:?}", r[4]);
    assert_eq!((r[4].exit, r[5].exit), (Some(0), Some(0)));
    assert_eq!(r[5].stdout, ["abc"], "{:?}", r[5]);
    assert_eq!(r[6].stdout, ["plain text file"], "{:?}", r[6]);
    let sent: Vec<&String> = r[7]
        .stderr
        .iter()
        .filter(|l| l.starts_with("> GET"))
        .collect();
    assert_eq!(
        sent,
        ["> GET /d/e HTTP/1.1\r", "> GET /sub/a.txt HTTP/1.1\r"],
        "{:#?}",
        r[7]
    );
    assert_eq!(r[7].stdout, ["a"]);
    assert_eq!(r[8].exit, Some(28), "{:?}", r[8]);
    assert_eq!(
        r[8].stderr,
        ["curl: (28) Operation timed out after 3000 milliseconds with 0 out of 16 bytes received"]
    );
    assert_eq!(r[9].exit, Some(0), "{:?}", r[9]);
}

/// A server's malformed answers, each in curl 7.88.1's words and exit
/// code (checked against it with the same bytes).
#[test]
fn malformed_answers_in_curls_words() {
    let answers = [
        (
            8091,
            r"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ),
        (
            8092,
            r"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        ),
        (8093, r"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
        (8094, r"HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n"),
        (8095, r"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        (
            8096,
            r"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        ),
        (
            8097,
            r"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\nthis is not gzip at!",
        ),
    ];
    let servers: Vec<String> = answers
        .iter()
        .map(|(port, text)| format!("printf '{text}' | nc -l {port}"))
        .collect();
    let clients: Vec<String> = answers
        .iter()
        .map(|(port, _)| format!("curl -sS --compressed http://server:{port}/"))
        .collect();
    let mut runs: Vec<(&str, &str, &str)> = Vec::new();
    for s in &servers {
        runs.push(("0s", "server", s));
    }
    for c in &clients {
        runs.push(("1s", "client", c));
    }
    let r = run_in(&www_net(), &runs);
    let got: Vec<(Option<i32>, String)> = r[answers.len()..]
        .iter()
        .map(|c| (c.exit, c.stderr.join("|")))
        .collect();
    let want = [
        (
            56,
            "curl: (56) Illegal or missing hexadecimal sequence in chunked-encoding",
        ),
        (
            18,
            "curl: (18) transfer closed with outstanding read data remaining",
        ),
        (1, "curl: (1) Unsupported response code in HTTP response"),
        (8, "curl: (8) Header without colon"),
        (8, "curl: (8) Invalid Content-Length: value"),
        (0, ""),
        (
            61,
            "curl: (61) Error while processing content unencoding: incorrect header check",
        ),
    ];
    for (i, ((exit, err), (code, text))) in got.iter().zip(want).enumerate() {
        assert_eq!((*exit, err.as_str()), (Some(code), text), "answer {i}");
    }
    // The last Content-Length wins, as curl reads them.
    assert_eq!(r[answers.len() + 5].stdout, ["hello"]);
}
