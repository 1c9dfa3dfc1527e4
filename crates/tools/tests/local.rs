//! Local (AF_UNIX) sockets: nc -U both ways, ss -x and netstat -x.

mod common;

use common::run;

#[test]
fn stream_sockets_with_half_close_and_listings() {
    let r = run(&[
        ("0s", "server", "nc -lU /tmp/demo.sock"),
        ("0s", "server", "ss -xl"),
        ("0s", "server", "netstat -lx"),
        (
            "1s",
            "server",
            "printf 'hello\\nlocal\\n' | nc -U /tmp/demo.sock",
        ),
        ("2s", "server", "ss -xl"),
    ]);
    assert_eq!(r[0].stdout, ["hello", "local"]);
    assert_eq!(r[0].exit, Some(0));
    assert_eq!(r[3].exit, Some(0));
    assert_eq!(
        r[1].stdout,
        [
            "Netid State  Recv-Q Send-Q  Local Address:Port  Peer Address:PortProcess",
            "u_str LISTEN 0      5      /tmp/demo.sock 40000            * 0          ",
        ]
    );
    assert_eq!(
        r[2].stdout,
        [
            "Active UNIX domain sockets (only servers)",
            "Proto RefCnt Flags       Type       State         I-Node   Path",
            "unix  2      [ ACC ]     STREAM     LISTENING     40000    /tmp/demo.sock",
        ]
    );
    // The listener is gone once nc took its one connection and ended.
    assert_eq!(r[4].stdout.len(), 1, "{:?}", r[4].stdout);
}

#[test]
fn connected_pairs_show_each_others_inode() {
    let r = run(&[
        ("0s", "server", "nc -lkU /tmp/s"),
        ("1s", "server", "nc -w 5 -U /tmp/s"),
        ("2s", "server", "ss -xp"),
    ]);
    let rows = &r[2].stdout;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[1].starts_with("u_str ESTAB"), "{rows:?}");
    // Client 40001 <-> server side 40002: each lists the other.
    assert!(
        rows[1].contains("* 40001 ") && rows[1].contains("* 40002"),
        "{rows:?}"
    );
    assert!(
        rows[2].contains("/tmp/s 40002") && rows[2].contains("* 40001"),
        "{rows:?}"
    );
    assert!(rows[1].contains("users:((\"nc\",pid="), "{rows:?}");
}

#[test]
fn datagrams_keep_their_boundaries() {
    let r = run(&[
        ("0s", "server", "nc -luU /tmp/dg"),
        ("1s", "server", "echo one | nc -uU /tmp/dg"),
        ("2s", "server", "echo two | nc -uU /tmp/dg"),
        ("3s", "server", "ss -xa"),
    ]);
    assert_eq!(r[0].stdout, ["one", "two"]);
    assert!(
        r[3].stdout
            .iter()
            .any(|l| l.starts_with("u_dgr UNCONN") && l.contains("/tmp/dg ")),
        "{:?}",
        r[3].stdout
    );
}

#[test]
fn errors_are_the_kernels() {
    let r = run(&[
        ("0s", "server", "nc -U /tmp/nobody"),
        ("0s", "server", "nc -luU /tmp/dgram"),
        ("1s", "server", "nc -U /tmp/dgram"),
        ("1s", "server", "serve echo --unix /tmp/dgram"),
        // A listener that has gone leaves its socket file: connecting is
        // refused, not "no such file" (Linux).
        ("2s", "server", "nc -lU /tmp/gone"),
        ("3s", "server", "echo hi | nc -U /tmp/gone"),
        ("4s", "server", "nc -U /tmp/gone"),
        // nc -lU unlinks the path first: it replaces the stale file; so
        // does a server starting (a live one it leaves alone, above).
        ("5s", "server", "serve echo --unix /tmp/gone"),
        ("6s", "server", "echo back | nc -U /tmp/gone"),
        // A socket file is made in a directory, which must be there.
        ("7s", "server", "nc -lU /nonexist/dir/s"),
        ("7s", "server", "serve echo --unix /nonexist/dir/s"),
        ("7s", "server", "nc -lU rel/x"),
        // A name a directory or a file already has is in use.
        ("8s", "server", "nc -lU /"),
        ("8s", "server", "nc -luU /etc"),
        // -z with -U: the connect alone (netcat-openbsd 1.219, checked).
        ("9s", "server", "nc -vzU /tmp/gone"),
        ("9s", "server", "nc -zU /tmp/nobody"),
    ]);
    assert_eq!(
        (r[14].exit, r[14].stdout.len(), r[14].stderr.len()),
        (Some(0), 0, 0),
        "{:?}",
        r[14]
    );
    assert_eq!(r[15].stderr, ["nc: /tmp/nobody: No such file or directory"]);
    assert_eq!(r[15].exit, Some(1));
    assert_eq!(r[0].stderr, ["nc: /tmp/nobody: No such file or directory"]);
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[2].stderr,
        ["nc: /tmp/dgram: Protocol wrong type for socket"]
    );
    assert_eq!(
        r[3].stderr,
        ["serve: cannot listen on /tmp/dgram: Address already in use"]
    );
    assert_eq!(r[4].stdout, ["hi"]);
    assert_eq!(r[6].stderr, ["nc: /tmp/gone: Connection refused"]);
    assert_eq!(r[6].exit, Some(1));
    assert_eq!(r[8].stdout, ["back"], "{:?}", r[8]);
    // OpenBSD nc names no path here (err(1, NULL)).
    assert_eq!(r[9].stderr, ["nc: No such file or directory"]);
    assert_eq!(r[9].exit, Some(1));
    assert_eq!(
        r[10].stderr,
        ["serve: cannot listen on /nonexist/dir/s: No such file or directory"]
    );
    assert_eq!(r[11].stderr, ["nc: No such file or directory"]);
    assert_eq!(r[12].stderr, ["nc: Address already in use"]);
    assert_eq!(r[12].exit, Some(1));
    assert_eq!(r[13].stderr, ["nc: Address already in use"], "{:?}", r[13]);
}

/// The rate in a `transfer` summary line, in Gbit/s.
fn gbits(line: &str) -> f64 {
    let rate = line.rsplit(": ").next().unwrap();
    rate.trim_end_matches(" Gbit/s").parse().unwrap()
}

#[test]
fn local_sockets_beat_tcp_over_loopback() {
    let r = run(&[
        ("0s", "server", "serve discard --unix /run/discard.sock"),
        ("0s", "server", "serve discard"),
        ("1s", "server", "transfer -s 10MB -U /run/discard.sock"),
        ("2s", "server", "transfer -s 10MB 127.0.0.1"),
    ]);
    let local = gbits(&r[2].stdout[0]);
    let tcp = gbits(&r[3].stdout[0]);
    // Calibrated on Linux, where the ratio is 2–3.5 (crates/sim LOCAL_COST).
    assert!(local > 2.0 * tcp, "local {local} Gbit/s, tcp {tcp} Gbit/s");
    assert!((10.0..20.0).contains(&tcp), "tcp over lo {tcp} Gbit/s");
    assert!(
        r[3].stdout[1].contains("retransmitted 0"),
        "{:?}",
        r[3].stdout
    );
}
