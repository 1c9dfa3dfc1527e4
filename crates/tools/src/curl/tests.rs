//! curl's own tests: option parsing, the meter's and -w's formats.

use super::args::DataKind;
use super::report::{max5, time8};
use super::*;
use crate::Usage;

fn parse(s: &str) -> Result<CurlArgs, Usage> {
    CurlArgs::parse(&crate::args::split(s).unwrap())
}

#[test]
fn options() {
    let a =
        parse("-sSL -o /tmp/x -w '%{http_code}\\n' -H 'X-A: 1' -d a=1 -d b=2 http://h/").unwrap();
    assert!(a.silent && a.show_error && a.follow);
    assert_eq!(a.outputs, [Some("/tmp/x".to_string())]);
    assert_eq!(a.headers, ["X-A: 1"]);
    assert_eq!(
        a.data,
        [
            (DataKind::Ascii, "a=1".to_string()),
            (DataKind::Ascii, "b=2".to_string())
        ]
    );
    assert_eq!(a.urls, ["http://h/"]);
}

#[test]
fn usage_errors() {
    assert_eq!(
        parse("http://h/ -W").unwrap_err().message,
        "option -W: is unknown"
    );
    assert_eq!(parse("-s").unwrap_err().message, "no URL specified!");
    // With no arguments at all, only where help is (curl 7.88.1).
    let bare = CurlArgs::parse(&[]).unwrap_err();
    assert_eq!(
        (bare.status, bare.printed().0.as_str()),
        (
            2,
            "curl: try 'curl --help' or 'curl --manual' for more information\n"
        )
    );
    assert!(parse("-I -d x http://h/")
        .unwrap_err()
        .message
        .contains("only select one"));
    assert!(parse("-m abc http://h/").is_err());
    // curl 7.88's words, checked; a huge limit and nan are no limit.
    for (args, says) in [
        (
            "-m -1 http://h/",
            "option -m: expected a positive numerical parameter",
        ),
        ("-m 1e308 http://h/", "option -m: too large number"),
        (
            "-m abc http://h/",
            "option -m: expected a proper numerical parameter",
        ),
    ] {
        assert_eq!(parse(args).unwrap_err().message, says, "{args}");
    }
    assert!(parse("-m 99999999999 http://h/")
        .unwrap()
        .max_time
        .is_some());
    assert_eq!(
        parse("-m 0x10 http://h/").unwrap().max_time,
        Some(Duration::from_secs(16))
    );
    assert!(
        parse("-m '5 ' http://h/").is_err(),
        "curl refuses a trailing space"
    );
    assert_eq!(
        parse("--connect-timeout nan http://h/")
            .unwrap()
            .connect_timeout,
        None
    );
}

#[test]
fn urls() {
    let u = Url::parse("http://Server.Lab.Test:8080/a/b?x=1#frag").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.target.as_str()),
        ("server.lab.test", 8080, "/a/b?x=1")
    );
    assert_eq!(Url::parse("server").unwrap().target, "/");
    assert_eq!(Url::parse("ftp://x/").unwrap_err().code, 1);
    let tls = Url::parse("https://x/p").unwrap();
    assert_eq!(
        (tls.tls, tls.port, tls.authority().as_str()),
        (true, 443, "x")
    );
    assert_eq!(tls.join("//y/q").unwrap().to_text(), "https://y/q");
    assert_eq!(
        Url::parse("https://x:8443/").unwrap().to_text(),
        "https://x:8443/"
    );
    assert_eq!(Url::parse("http://x:99999/").unwrap_err().code, 3);
    assert_eq!(Url::parse("http://x:8a/").unwrap_err().code, 3);
    assert_eq!(Url::parse("http://10.0.0.1:80:80/").unwrap_err().code, 3);
    // An empty port is the scheme's; 0 and leading zeros are taken.
    assert_eq!(Url::parse("http://x:/").unwrap().port, 80);
    assert_eq!(Url::parse("http://x:0/").unwrap().port, 0);
    assert_eq!(
        Url::parse("https://x:00443/").unwrap().to_text(),
        "https://x/"
    );
    // IPv6 literals, bracketed.
    let v6 = Url::parse("http://[::1]:8080/a").unwrap();
    assert!(v6.is_ipv6());
    assert_eq!(
        (v6.host.as_str(), v6.to_text().as_str()),
        ("::1", "http://[::1]:8080/a")
    );
    assert_eq!(Url::parse("http://[0:0::1]/").unwrap().host, "::1");
    for bad in ["http://[::1/", "http://[nope]/", "http://[::1]x/"] {
        assert_eq!(Url::parse(bad).unwrap_err().code, 3, "{bad}");
    }
    // Credentials in the URL: kept as written, sent decoded.
    let u = Url::parse("http://al%69ce:s%3Acret@h/x").unwrap();
    assert_eq!(
        (u.host.as_str(), u.to_text().as_str()),
        ("h", "http://al%69ce:s%3Acret@h/x")
    );
    assert_eq!(u.credentials().unwrap(), b"alice:s:cret");
    assert_eq!(
        Url::parse("http://bob@h/").unwrap().credentials().unwrap(),
        b"bob:"
    );
    assert_eq!(Url::parse("http://h/").unwrap().credentials(), None);
    for bad in ["http://a@b@h/", "http://a b@h/", "http://a\tb@h/"] {
        assert_eq!(Url::parse(bad).unwrap_err().code, 3, "{bad}");
    }
    // IPv4 addresses in curl's other spellings become dotted quads.
    for (written, host) in [
        ("167772674", "10.0.2.2"),
        ("0x0a000202", "10.0.2.2"),
        ("010.0.2.2", "8.0.2.2"),
        ("10.514", "10.0.2.2"),
        ("10.0.0x202", "10.0.2.2"),
        ("0", "0.0.0.0"),
        ("10.0.2.2", "10.0.2.2"),
        // Not addresses: names.
        ("256.1.1.1", "256.1.1.1"),
        ("10.0.0.0.1", "10.0.0.0.1"),
        ("08.1.1.1", "08.1.1.1"),
        ("0x", "0x"),
        ("10.0.2.2x", "10.0.2.2x"),
        ("4294967296", "4294967296"),
        ("1.16777216", "1.16777216"),
    ] {
        let u = Url::parse(&format!("http://{written}/")).unwrap();
        assert_eq!(u.host, host, "{written}");
    }
    assert_eq!(Url::parse("http:///").unwrap_err().code, 3);
    let base = Url::parse("http://h/dir/page?q").unwrap();
    assert_eq!(base.join("/abs").unwrap().target, "/abs");
    assert_eq!(base.join("rel").unwrap().target, "/dir/rel");
    // RFC 3986 §5.2: dot segments removed, the fragment never sent, a
    // query-only or empty reference keeps the path.
    for (reference, target) in [
        ("../a/b?x=1#frag", "/a/b?x=1"),
        ("./c", "/dir/c"),
        ("..", "/"),
        ("../../../x", "/x"),
        ("?y", "/dir/page?y"),
        ("#top", "/dir/page?q"),
        ("/a/./b/../c/.", "/a/c/"),
        ("g/..?k=/../", "/dir/?k=/../"),
        ("/r?u=http://x/y", "/r?u=http://x/y"),
        // A space goes out encoded, as curl 7.88.1 sent it: %20 in the
        // path, + in the query; a byte past ASCII as %xx.
        ("/echo with space", "/echo%20with%20space"),
        ("/a b?c d", "/a%20b?c+d"),
        ("/caf\u{e9}?q=a b", "/caf%c3%a9?q=a+b"),
    ] {
        assert_eq!(base.join(reference).unwrap().target, target, "{reference}");
    }
    // A control character: a target curl cannot parse.
    for (reference, part) in [("/a\tb", "path"), ("/a?b\tc", "query")] {
        let e = base.join(reference).unwrap_err();
        assert_eq!(e.code, 3);
        assert_eq!(
            e.message,
            format!("The redirect target URL could not be parsed: Bad {part}")
        );
    }
    for (url, target) in [
        ("http://h/x/../a/b", "/a/b"),
        ("http://h/a/./b", "/a/b"),
        ("http://h/..", "/"),
        ("http://h/a/b/..", "/a/"),
        ("http://h//a", "//a"),
        ("http://h/a?../b", "/a?../b"),
    ] {
        assert_eq!(Url::parse(url).unwrap().target, target, "{url}");
    }
    assert_eq!(
        base.join("http://o:81/x").unwrap().to_text(),
        "http://o:81/x"
    );
}

#[test]
fn meter_fields() {
    assert_eq!(max5(16), "   16");
    assert_eq!(max5(123_456), " 120k");
    assert_eq!(max5(10 * 1024 * 1024 + 512 * 1024), "10.5M");
    assert_eq!(time8(0), "--:--:--");
    assert_eq!(time8(5), " 0:00:05");
    assert_eq!(
        Meter::row(16, 16, 0, 0, Duration::from_millis(10), 4000, true),
        "100    16  100    16    0     0   1600      0 --:--:-- --:--:-- --:--:--  4000"
    );
    // A size not known (chunked): "% Received" stays 0 and the last row's
    // "% Total" counts what came, as curl's; done in no time, a speed.
    assert_eq!(
        Meter::row(0, 140, 0, 0, Duration::ZERO, 0, true),
        "100   140    0   140    0     0   133M      0 --:--:-- --:--:-- --:--:--     0"
    );
}

/// A coded body through the decoder as it arrives, in pieces: each
/// coding, a chain of them undone last first, a stream cut short or not
/// coded at all (61), an unknown coding (61 at the first body byte, as
/// curl defers it), more than five (61), and bodies that inflate a
/// thousandfold — once or twice — handed on a step at a time, never
/// whole.
fn decoded(encoding: &str, data: &[u8], piece: usize) -> Result<Vec<u8>, Failure> {
    let code = |stop: body::Stop<()>| match stop {
        body::Stop::Decode(f) => f,
        body::Stop::Sink(()) => Failure::new(0, "sink".into()),
    };
    let mut d = body::Decoder::new(encoding)?;
    let mut out = Vec::new();
    let mut each = |b: &[u8]| -> Result<(), ()> {
        out.extend_from_slice(b);
        Ok(())
    };
    for p in data.chunks(piece.max(1)) {
        d.feed(p, &mut each).map_err(code)?;
    }
    d.finish(&mut each).map_err(code)?;
    Ok(out)
}

/// What `encoding` makes of `data`: the bytes it hands on, and the most
/// at once.
fn inflated(encoding: &str, data: &[u8]) -> (usize, usize) {
    let mut d = body::Decoder::new(encoding).unwrap();
    let (mut total, mut largest) = (0usize, 0usize);
    let mut each = |b: &[u8]| -> Result<(), ()> {
        total += b.len();
        largest = largest.max(b.len());
        Ok(())
    };
    assert!(d.feed(data, &mut each).is_ok());
    assert!(d.finish(&mut each).is_ok());
    (total, largest)
}

#[test]
fn compressed_bodies_are_decoded() {
    use std::io::Write;
    let gzip = |data: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    };
    let packed = gzip(b"hello, hello, hello");
    for piece in [1, 7, 1 << 20] {
        assert_eq!(
            decoded("gzip", &packed, piece).unwrap(),
            b"hello, hello, hello"
        );
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(b"abc").unwrap();
    assert_eq!(decoded("deflate", &z.finish().unwrap(), 2).unwrap(), b"abc");
    // gzip applied twice, listed twice (curl 7.88 undoes both).
    assert_eq!(
        decoded("gzip, gzip", &gzip(&packed), 5).unwrap(),
        b"hello, hello, hello"
    );
    assert_eq!(decoded("identity", b"as is", 2).unwrap(), b"as is");
    assert_eq!(decoded("gzip", b"not gzip", 3).unwrap_err().code, 61);
    assert_eq!(
        decoded("gzip", &packed[..packed.len() - 4], 3)
            .unwrap_err()
            .code,
        61
    );
    // An unknown coding: curl 7.88's words at the first body byte; an
    // empty body goes through.
    let e = decoded("frob", b"x", 1).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (61, "Unrecognized content encoding type. libcurl understands deflate, gzip content encodings.")
    );
    assert_eq!(decoded("frob", b"", 1).unwrap(), b"");
    let e = body::Decoder::new("gzip,gzip,gzip,gzip,gzip,gzip")
        .err()
        .unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (61, "Reject response due to more than 5 content encodings")
    );
    // 64 MiB of zeros in about 64 KiB: no step hands on more than about
    // a megabyte. Twice gzipped, 64 MiB in a few hundred bytes: the same.
    let zeros = vec![0u8; 64 << 20];
    let once = gzip(&zeros);
    assert_eq!(inflated("gzip", &once).0, 64 << 20);
    assert!(inflated("gzip", &once).1 <= 2 << 20);
    let twice = gzip(&once);
    assert!(twice.len() < 4096, "{}", twice.len());
    let (total, largest) = inflated("gzip, gzip", &twice);
    assert_eq!(total, 64 << 20);
    assert!(largest <= 2 << 20, "{largest}");
}

#[test]
fn basic_credentials() {
    assert_eq!(base64(b"alice:secret"), "YWxpY2U6c2VjcmV0");
    assert_eq!(base64(b"a:b"), "YTpi");
    assert_eq!(base64(b"ab"), "YWI=");
}

#[test]
fn write_out_variables() {
    let s = Stats {
        http_code: 200,
        url_effective: "http://h/".into(),
        size_download: 9,
        total: Duration::from_micros(2289),
        ..Stats::default()
    };
    let text = |w: report::WriteOut| -> Vec<(bool, String)> { w.parts };
    assert_eq!(
        text(write_out(
            "%{http_code} %{url_effective} %{time_total} %{size_download}\\n",
            &s,
            0
        )),
        [(false, "200 http://h/ 0.002289 9\n".to_string())]
    );
    let w = write_out("100%% %{nope}%{stderr}e%{stdout}o", &s, 0);
    assert_eq!(w.warnings, ["nope"]);
    assert_eq!(
        w.parts,
        [
            (false, "100% ".to_string()),
            (true, "e".to_string()),
            (false, "o".to_string())
        ]
    );
    // %{onerror}: the rest only after a failed transfer.
    assert_eq!(
        write_out("a%{onerror}b", &s, 0).parts,
        [(false, "a".to_string())]
    );
    assert_eq!(
        write_out("a%{onerror}b", &s, 7).parts,
        [(false, "ab".to_string())]
    );
    // Unclosed: the text as written (curl 7.88's ourWriteOut).
    for unclosed in ["%{http_code", "%{json", "%{", "%header{", "a %header{x"] {
        let w = write_out(unclosed, &s, 0);
        assert_eq!(w.parts, [(false, unclosed.to_string())], "{unclosed}");
        assert!(w.warnings.is_empty(), "{unclosed}");
    }
    let json = write_out("%{json}", &Stats::default(), 7).parts[0]
        .1
        .clone();
    assert!(
        json.starts_with("{\"certs\":\"\",\"content_type\":null,\"errormsg\":null,\"exitcode\":7,"),
        "{json}"
    );
    assert!(json.contains(",\"http_code\":0,"), "{json}");
    assert!(
        json.ends_with(",\"urlnum\":0,\"curl_version\":\"libcurl/7.88.1\"}"),
        "{json}"
    );
    // %header{name} (case-insensitive, repeated fields joined) and
    // %{header_json}, as curl 7.84 and later print them.
    let s = Stats {
        headers: vec![
            ("Server".into(), "tcplab-http/0.1".into()),
            ("Set-Cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
        ],
        ..Stats::default()
    };
    assert_eq!(
        write_out("%header{server}|%header{SET-COOKIE}|%header{none}", &s, 0).parts,
        [(false, "tcplab-http/0.1|a=1, b=2|".to_string())]
    );
    assert_eq!(
        write_out("%{header_json}", &s, 0).parts,
        [(
            false,
            "{\"server\":[\"tcplab-http/0.1\"],\n\"set-cookie\":[\"a=1\",\"b=2\"]\n}".to_string()
        )]
    );
}
