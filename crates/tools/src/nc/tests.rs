//! nc's command line, as Debian's netcat-openbsd 1.219 takes it.

use super::*;

fn parse(s: &str) -> Result<NcArgs, Usage> {
    NcArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
}

#[test]
fn forms() {
    let a = parse("-v server 80").unwrap();
    assert_eq!(
        (a.host.as_deref(), a.ports, a.verbose),
        (Some("server"), (80, 80), true)
    );
    let a = parse("-zv server 20-25").unwrap();
    assert!(a.scan);
    assert_eq!(a.ports, (20, 25));
    let a = parse("-l 7000").unwrap();
    assert!(a.listen);
    assert_eq!(a.ports, (7000, 7000));
    let a = parse("-l -p 7001").unwrap();
    assert_eq!(a.ports, (7001, 7001));
    let a = parse("-l 127.0.0.1 9000").unwrap();
    assert_eq!(
        (a.host.as_deref(), a.ports),
        (Some("127.0.0.1"), (9000, 9000))
    );
    let e = parse("-l -s 127.0.0.1 9000").unwrap_err();
    assert!(e.usage.is_some_and(|u| u.starts_with("usage: nc ")));
    let a = parse("server http").unwrap();
    assert_eq!(a.ports, (80, 80));
    let a = parse("-lU /tmp/s.sock").unwrap();
    assert_eq!((a.listen, a.unix.as_deref()), (true, Some("/tmp/s.sock")));
    let a = parse("-4 -q 2 -s 10.0.0.1 -p 4000 server 80").unwrap();
    assert_eq!(a.quit, Some(Duration::from_secs(2)));
    assert_eq!(a.source, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(a.source_port, Some(4000));
    // nc takes -w 0 (no timeout) and -p 0 (any port), checked.
    let a = parse("-w 0 -p 0 server 80").unwrap();
    assert_eq!((a.wait, a.source_port), (None, Some(0)));
}

#[test]
fn mistakes() {
    // As Debian's netcat-openbsd 1.219 answers each.
    let e = parse("server").unwrap_err();
    assert_eq!(e.message, "missing port number");
    assert_eq!(e.usage, None);
    assert_eq!(e.status, 1);
    let bare = parse("").unwrap_err();
    assert_eq!((bare.message.as_str(), bare.status), ("", 1));
    assert!(bare.usage.is_some_and(|u| u.starts_with("usage: nc ")));
    assert_eq!(parse("-l").unwrap_err().message, "missing port number");
    for (args, want) in [
        ("server 0", "port number too small: 0"),
        ("server 70000", "port number too large: 70000"),
        (
            "server 99999999999999999999999",
            "port number too large: 99999999999999999999999",
        ),
        ("server 0-3", "port number too small: 0"),
        ("-n server http", "port number invalid: http"),
        ("server nosuchservice", "port number invalid: nosuchservice"),
    ] {
        assert_eq!(parse(args).unwrap_err().message, want, "{args}");
    }
    // A range high to low is swapped; a listener's port 0 is any.
    assert_eq!(parse("server 9-2").unwrap().ports, (2, 9));
    assert_eq!(parse("-l 0").unwrap().ports, (0, 0));
    // Several ports and ranges, as OpenBSD nc takes them.
    let a = parse("-zv server http 20 23-22").unwrap();
    assert_eq!(a.each_port().collect::<Vec<_>>(), [80, 20, 22, 23]);
    assert_eq!(
        parse("server 1 x").unwrap_err().message,
        "port number invalid: x"
    );
    // Whole seconds in range, in OpenBSD's words (no panic on a
    // number too large for a Duration).
    for (args, want) in [
        ("-w x server 1", "timeout invalid: x"),
        ("-w 1e20 server 1", "timeout invalid: 1e20"),
        ("-w 1.5 server 1", "timeout invalid: 1.5"),
        ("-w 3000000 server 1", "timeout too large: 3000000"),
        ("-w -1 server 1", "timeout too small: -1"),
        (
            "-w 99999999999999999999 server 1",
            "timeout too large: 99999999999999999999",
        ),
        ("-q 1e20 server 1", "quit timer invalid: 1e20"),
        (
            "-q 18446744073709551615 server 1",
            "quit timer too large: 18446744073709551615",
        ),
    ] {
        assert_eq!(parse(args).unwrap_err().message, want, "{args}");
    }
    assert_eq!(
        parse("-w 2147483 server 1").unwrap().wait,
        Some(Duration::from_secs(2147483))
    );
    // A negative -q waits for ever, as no -q does.
    assert_eq!(parse("-q -1 server 1").unwrap().quit, None);
    assert!(parse("-l").unwrap_err().message.contains("missing port"));
    // As Debian's netcat-openbsd 1.219 answers each (checked): -U
    // without a path is the usage alone, -lU its own words.
    let u = parse("-U").unwrap_err();
    assert_eq!((u.message.as_str(), u.usage.is_some()), ("", true));
    for (args, want) in [
        ("-lU", "missing socket pathname"),
        ("-lz 9000", "cannot use -z and -l"),
        ("-k server 9", "must use -l with -k"),
        ("-zv server domain-http", "port number invalid: domain-http"),
        ("-zv server 80-http", "port number invalid: http"),
        ("-zv server netbios-ns", "port number invalid: netbios-ns"),
        (
            "-p abc server 7",
            "getaddrinfo: Servname not supported for ai_socktype",
        ),
        (
            "-s banana server 7",
            "getaddrinfo: Name or service not known",
        ),
    ] {
        let e = parse(args).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.status, e.usage),
            (want, 1, None),
            "{args}"
        );
    }
    assert!(parse("-l -p 9000 9001").unwrap_err().usage.is_some());
    assert_eq!(parse("-l -p 9000").unwrap().ports, (9000, 9000));
    // -z with -U is taken (netcat-openbsd 1.219 connects and closes).
    assert!(parse("-zU /x").is_ok());
    // An option nc does not have, in getopt's words, with the usage;
    // one OpenBSD's has and this one lacks, said to be unsupported.
    let e = parse("-j server 80").unwrap_err();
    assert_eq!(e.message, "invalid option -- 'j'");
    assert!(e.usage.is_some());
    assert_eq!(e.status, 1);
    let e = parse("-x proxy server 80").unwrap_err();
    assert_eq!(e.message, "option -x is not supported in tcplab");
    // -n: names are not looked up, services neither.
    assert!(parse("-n server http").is_err());
}

#[test]
fn help_goes_to_standard_error_with_status_0() {
    let h = parse("-h").unwrap_err();
    assert_eq!(h.status, 0);
    assert!(h
        .help
        .as_ref()
        .is_some_and(|(text, to_stdout)| { !to_stdout && text.starts_with("OpenBSD netcat") }));
}
