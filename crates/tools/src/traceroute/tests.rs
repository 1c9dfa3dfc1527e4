//! traceroute's unit tests: arguments as traceroute 2.1 reads them, waits, lines.

use super::*;
use crate::Usage;

fn parse(s: &str) -> Result<TracerouteArgs, Usage> {
    TracerouteArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
}

#[test]
fn options() {
    let a = parse("-n -I -q 2 -m 5 -f 2 -w 1,2,3 -N 1 server 100").unwrap();
    assert!(a.numeric);
    assert_eq!(a.method, Method::Icmp);
    assert_eq!(
        (a.queries, a.first_ttl, a.max_ttl, a.sim_queries),
        (2, 2, 5, 1)
    );
    assert_eq!(a.wait_max, Duration::from_secs(1));
    assert_eq!((a.wait_here, a.wait_near), (2.0, 3.0));
    let w = parse("-w 2 server").unwrap();
    assert_eq!(
        (w.wait_max, w.wait_here, w.wait_near),
        (Duration::from_secs(2), 0.0, 0.0)
    );
    let w = parse("-w 2,3 server").unwrap();
    assert_eq!((w.wait_here, w.wait_near), (3.0, 0.0));
    let w = parse("server").unwrap();
    assert_eq!((w.wait_here, w.wait_near), (3.0, 10.0));
    assert_eq!(a.packet_len, Some(100));
    assert_eq!(a.probe_len(), 100);
    let t = parse("-T -p 443 server").unwrap();
    assert_eq!(
        (t.method, t.port, t.probe_len()),
        (Method::Tcp, Some(443), 60)
    );
    // Any unsigned number, carried in the probes' 16 bits (traceroute
    // 2.1.2 traces to port 4464 for -p 70000).
    assert_eq!(parse("-p 70000 server").unwrap().port, Some(4464));
}

#[test]
fn errors_read_like_traceroute() {
    assert_eq!(
        parse("-q 11 h").unwrap_err().message,
        "no more than 10 probes per hop"
    );
    assert_eq!(
        parse("-m 300 h").unwrap_err().message,
        "max hops cannot be more than 255"
    );
    assert_eq!(
        parse("-f 9 -m 5 h").unwrap_err().message,
        "first hop out of range"
    );
    assert_eq!(
        parse("-w x h").unwrap_err().message,
        "Cannot handle `-w' option with arg `x' (argc 2)"
    );
    assert_eq!(
        parse("-n -wx h").unwrap_err().message,
        "Cannot handle `-w' option with arg `x' (argc 2)"
    );
    assert_eq!(
        parse("-f x h").unwrap_err().message,
        "Cannot handle `-f' option with arg `x' (argc 2)"
    );
    // traceroute 2.1.2's words, checked: numbers it cannot wait by, an
    // operand too many, a packet length that is not a number.
    assert_eq!(
        parse("-w -1 h").unwrap_err().message,
        "bad wait specifications `-1,0,0' used"
    );
    assert_eq!(
        parse("-w 2,-1 h").unwrap_err().message,
        "bad wait specifications `2,-1,0' used"
    );
    assert_eq!(
        parse("server 1 2").unwrap_err().message,
        "Extra arg `2' (position 3, argc 3)"
    );
    assert_eq!(
        parse("-n server 1 2").unwrap_err().message,
        "Extra arg `2' (position 3, argc 4)"
    );
    assert_eq!(
        parse("-n server x").unwrap_err().message,
        "Cannot handle \"packetlen\" cmdline arg `x' on position 2 (argc 3)"
    );
    // Multipliers of an RTT too large for a Duration are refused, not
    // a panic when the first reply comes.
    assert!(parse("-w 5,1e300 h").is_err() && parse("-w 5,3,1e300 h").is_err());
    assert!(parse("-n")
        .unwrap_err()
        .message
        .contains("missing argument"));
    // Bare, the help (exit 0), as traceroute 2.1.
    assert_eq!(parse("").unwrap_err().status, 0);
    // A value glued on inside a cluster is none, as CLIF reads it; at
    // the cluster's end the next argument is the value.
    assert_eq!(
        parse("-nq1 h").unwrap_err().message,
        "Option `-q' (argc 1) requires an argument: `-q nqueries'"
    );
    assert_eq!(
        parse("-I -nm5 h").unwrap_err().message,
        "Option `-m' (argc 2) requires an argument: `-m max_ttl'"
    );
    assert_eq!(parse("-nq 1 h").unwrap().queries, 1);
    assert_eq!(parse("-q1 -n h").unwrap().queries, 1);
    // CLIF's words for an option traceroute does not have, naming
    // the argument; one it has and this one lacks, unsupported.
    assert_eq!(
        parse("-n -Z h").unwrap_err().message,
        "Bad option `-Z' (argc 2)"
    );
    assert_eq!(
        parse("-r h").unwrap_err().message,
        "option -r is not supported in tcplab"
    );
    // -V and --version: the version, on standard output, status 0.
    for v in ["-V", "--version"] {
        let u = parse(v).unwrap_err();
        assert_eq!(u.status, 0);
        assert_eq!(
            u.printed(),
            (
                "Modern traceroute for Linux, version 2.1.2\nCopyright (c) 2016  Dmitry Butskoy,   License: GPL v2 or any later\n".to_string(),
                true
            )
        );
    }
    // Its errors do not name it (ex_error, CLIF).
    assert_eq!(
        parse("-m 0 h").unwrap_err().printed(),
        ("first hop out of range\n".to_string(), false)
    );
    assert_eq!(
        parse("--foo h").unwrap_err().message,
        "Bad option `--foo' (argc 1)"
    );
    assert_eq!(
        parse("-n --foo=3 h").unwrap_err().message,
        "Bad option `--foo=3' (with arg `3') (argc 2)"
    );
    // traceroute 2.1's long names for the short options, the value
    // after `=`; the ones this traceroute lacks, unsupported.
    let a = parse("--icmp --max-hops=5 --queries=1 --first=2 --wait=1 --port=99 h").unwrap();
    assert_eq!(
        (a.method, a.max_ttl, a.queries, a.first_ttl, a.port),
        (Method::Icmp, 5, 1, 2, Some(99))
    );
    assert_eq!(
        parse("--tcp --dont-fragment h").unwrap().method,
        Method::Tcp
    );
    assert_eq!(
        parse("--sport=1234 h").unwrap_err().message,
        "option --sport is not supported in tcplab"
    );
    assert_eq!(
        parse("--mtu h").unwrap_err().message,
        "option --mtu is not supported in tcplab"
    );
    // CLIF wants `=` before a long option's value.
    let u = parse("-n --queries 1 h").unwrap_err();
    assert_eq!(
        (u.status, u.message.as_str()),
        (
            2,
            "Option `--queries' (argc 2) requires an argument: `--queries=nqueries'"
        )
    );
    assert_eq!(
        parse("-n -m").unwrap_err().message,
        "Option `-m' (argc 2) requires an argument: `-m max_ttl'"
    );
    assert_eq!(
        parse("h 70000").unwrap_err().message,
        "too big packetlen 70000 specified"
    );
    assert_eq!(
        parse("-m 0 h").unwrap_err().message,
        "first hop out of range"
    );
}

#[test]
fn unreachable_annotations() {
    assert_eq!(unreachable_note(0, 0).as_deref(), Some("!N"));
    assert_eq!(unreachable_note(1, 0).as_deref(), Some("!H"));
    assert_eq!(unreachable_note(2, 0).as_deref(), Some("!P"));
    assert_eq!(unreachable_note(3, 0), None);
    assert_eq!(unreachable_note(4, 1400).as_deref(), Some("!F-1400"));
    assert_eq!(unreachable_note(13, 0).as_deref(), Some("!X"));
}
