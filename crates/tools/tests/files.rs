//! cat, sha256sum and cmp on a host's files: what arrived is what was sent
//! (coreutils' and diffutils' output and exit statuses).

mod common;

use common::{run_in, www_net};

const CLIENT_FILES: &str = r#"
[[file]]
on = "client"
path = "/tmp/same.txt"
text = "plain text file\n"

[[file]]
on = "client"
path = "/tmp/other.txt"
text = "plain test file\nmore\n"

[[file]]
on = "client"
path = "/tmp/short.txt"
text = "plain"

[[file]]
on = "client"
path = "/tmp/sums"
text = "a9f5e2b5a5e3a2b5a0e9d0d6c7b8a9f5e2b5a5e3a2b5a0e9d0d6c7b8a9f5e2b5  /tmp/same.txt\n"
"#;

#[test]
fn what_arrived_is_what_was_sent() {
    let net = format!("{}{CLIENT_FILES}", www_net());
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve http"),
            (
                "1s",
                "client",
                "curl -s -o /tmp/got.txt http://server/hello.txt",
            ),
            ("2s", "server", "sha256sum /srv/www/hello.txt"),
            ("2s", "client", "sha256sum /tmp/got.txt /tmp/nosuch"),
            ("3s", "client", "cmp /tmp/got.txt /tmp/same.txt"),
            ("3s", "client", "cmp /tmp/got.txt /tmp/other.txt"),
            ("4s", "client", "cmp -s /tmp/got.txt /tmp/other.txt"),
            ("4s", "client", "cmp /tmp/got.txt /tmp/short.txt"),
            ("5s", "client", "cmp /tmp/got.txt /tmp/nosuch"),
            ("5s", "client", "echo hi | sha256sum"),
            ("6s", "client", "sha256sum -c /tmp/sums"),
            ("6s", "client", "cmp -l /tmp/got.txt /tmp/other.txt"),
        ],
    );
    let server_line = &r[2].stdout[0];
    assert_eq!(r[2].exit, Some(0));
    assert!(
        server_line.ends_with("  /srv/www/hello.txt"),
        "{server_line}"
    );
    let hash = &server_line[..64];
    assert_eq!(r[3].stdout, [format!("{hash}  /tmp/got.txt")]);
    assert_eq!(
        (r[3].exit, r[3].stderr.as_slice()),
        (
            Some(1),
            &["sha256sum: /tmp/nosuch: No such file or directory".to_string()][..]
        )
    );
    assert_eq!((r[4].exit, r[4].out()), (Some(0), "\n".to_string()));
    assert_eq!(
        (r[5].exit, r[5].stdout.as_slice()),
        (
            Some(1),
            &["/tmp/got.txt /tmp/other.txt differ: byte 9, line 1".to_string()][..]
        )
    );
    assert_eq!((r[6].exit, r[6].stdout.len()), (Some(1), 0));
    assert_eq!(
        (r[7].exit, r[7].stderr.as_slice()),
        (
            Some(1),
            &["cmp: EOF on /tmp/short.txt after byte 5, in line 1".to_string()][..]
        )
    );
    assert_eq!(
        (r[8].exit, r[8].stderr.as_slice()),
        (
            Some(2),
            &["cmp: /tmp/nosuch: No such file or directory".to_string()][..]
        )
    );
    assert_eq!(
        r[9].stdout,
        ["98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4  -"]
    );
    assert_eq!(r[10].exit, Some(1));
    assert_eq!(r[10].stdout, ["/tmp/same.txt: FAILED"]);
    assert_eq!(
        r[10].stderr,
        ["sha256sum: WARNING: 1 computed checksum did NOT match"]
    );
    assert_eq!(
        r[11].stdout,
        [" 9 170 163"],
        "-l: byte number, then both bytes in octal"
    );
    assert_eq!(r[11].stderr, ["cmp: EOF on /tmp/got.txt after byte 16"]);
}

#[test]
fn usage_as_coreutils_and_diffutils_word_it() {
    for (cmd, status, msg) in [
        ("cmp", 2, "missing operand after 'cmp'"),
        ("cmp -x a b", 2, "invalid option -- 'x'"),
        ("cmp a b c", 2, "invalid --ignore-initial value 'c'"),
        ("sha256sum -x", 1, "invalid option -- 'x'"),
    ] {
        let u = tcplab_tools::Command::parse(cmd).unwrap_err();
        assert_eq!((u.status, u.message.as_str()), (status, msg), "{cmd}");
    }
    let help = tcplab_tools::Command::parse("cmp --help").unwrap_err();
    assert_eq!((help.status, help.help.unwrap().1), (0, true));
}

/// cat as GNU cat without options: each file in turn, `-` (or none) the
/// standard input; a file it cannot read is named on stderr, the others
/// still printed, status 1.
#[test]
fn cat_prints_files_and_standard_input() {
    let net = format!("{}{CLIENT_FILES}", www_net());
    let r = run_in(
        &net,
        &[
            (
                "1s",
                "client",
                "echo piped | cat /tmp/short.txt - /nope /tmp/same.txt",
            ),
            ("2s", "client", "printf 'x\\ny\\n' | cat"),
            ("3s", "client", "cat /tmp"),
        ],
    );
    assert_eq!(r[0].stdout, ["plainpiped", "plain text file"]);
    assert_eq!(r[0].stderr, ["cat: /nope: No such file or directory"]);
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        (r[1].stdout.as_slice(), r[1].exit),
        (&["x".to_string(), "y".to_string()][..], Some(0))
    );
    assert_eq!(r[2].stderr, ["cat: /tmp: Is a directory"]);
}
