//! `tcplab drill`: tcplab's own scripts pass; a failing script exits 1 with
//! packetdrill's report; a malformed one exits 2 with one line naming the
//! file and line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tcplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcplab"))
        .args(args)
        .output()
        .expect("tcplab runs")
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill")
}

/// How many `.pkt` scripts `dir` holds (not below it).
fn scripts_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pkt")
        })
        .count()
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcplab-drill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_projects_own_scripts_pass() {
    let dir = scripts();
    let out = tcplab(&["drill", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let n = scripts_in(&dir);
    assert!(n >= 4, "only {n} scripts in tests/drill");
    assert_eq!(stdout.trim_end(), format!("{n} passed, 0 failed"));
}

#[test]
fn a_failing_script_exits_1_with_packetdrills_report() {
    let good = std::fs::read_to_string(scripts().join("zero-window-probe.pkt")).unwrap();
    // The first probe carries one byte; expect none.
    let bad = good.replacen(
        "> . 1:2(1) ack 1 win 65535",
        "> . 1:1(0) ack 1 win 65535",
        1,
    );
    assert_ne!(good, bad);
    let p = temp("bad-probe.pkt", &bad);
    let out = tcplab(&["drill", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("{}:", p.display()))
            && first.contains(
                ": error handling packet: live packet field ipv4_total_length: expected: 40"
            ),
        "{stderr}"
    );
    assert!(stderr.contains("\nscript packet: "), "{stderr}");
    assert!(stderr.contains("\nactual packet: "), "{stderr}");
}

#[test]
fn a_malformed_script_exits_2_naming_file_and_line() {
    let p = temp(
        "malformed.pkt",
        "--ip_version=ipv4\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0)\n",
    );
    let out = tcplab(&["drill", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}:3: parse error: window must be specified for inbound packets",
            p.display()
        )
    );
    let out = tcplab(&["drill", "--profile", "nosuch", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tcplab: --profile nosuch"));
    let out = tcplab(&["drill", "/nonexistent/x.pkt"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A script written for IPv6 is counted apart, not run and not failed;
/// an empty directory is named in the error.
#[test]
fn ipv6_scripts_are_not_applicable() {
    let v6 = temp(
        "v6.pkt",
        "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
    );
    let dir = v6.parent().unwrap().to_path_buf();
    let out = tcplab(&["drill", v6.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: not applicable: --ip_version=ipv6: tcplab is an IPv4 stack\n",
            v6.display()
        )
    );
    let own = scripts().join("zero-window-probe.pkt");
    let out = tcplab(&["drill", v6.to_str().unwrap(), own.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .ends_with("1 passed, 0 failed, 1 not applicable (IPv6)\n"),
        "{out:?}"
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = tcplab(&["drill", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("tcplab: no .pkt scripts found in {}\n", empty.display())
    );
}

/// A reader that leaves early (`| head -1`) ends the output quietly; a
/// standard output that cannot be written (a full disk) is one line and
/// status 2 — never a panic.
#[test]
fn output_to_a_closed_pipe_or_a_full_disk() {
    use std::io::Read;
    use std::process::Stdio;
    // More than a pipe holds (64 KiB): the writes after the reader left
    // fail with EPIPE.
    let mut text = String::from("+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    for _ in 0..20_000 {
        text.push_str("+0 %{ print(12345) }%\n");
    }
    let many = temp("print-many.pkt", &text);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcplab"))
        .arg("drill")
        .arg(&many)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then hang up.
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tcplab"))
            .args(["drill", "--verbose"])
            .arg(scripts().join("nagle.pkt"))
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "tcplab: cannot write standard output: No space left on device\n"
        );
    }
}

/// A directory reached twice through a symbolic link back up the tree is
/// read once: each script runs once.
#[cfg(unix)]
#[test]
fn a_symlink_loop_runs_each_script_once() {
    let dir = std::env::temp_dir().join(format!("tcplab-drill-loop-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    for name in ["zero-window-probe.pkt", "cork.pkt"] {
        let text = std::fs::read_to_string(scripts().join(name)).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }
    let _ = std::os::unix::fs::symlink("..", sub.join("up"));
    let out = tcplab(&["drill", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let n = scripts_in(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.trim_end(), format!("{n} passed, 0 failed"));
}

/// A link to nothing among a directory's scripts is one script that
/// cannot be read: said and counted, while the others run.
#[cfg(unix)]
#[test]
fn a_dangling_link_is_one_unreadable_script() {
    let dir = std::env::temp_dir().join(format!("tcplab-drill-dangling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(scripts().join("cork.pkt")).unwrap();
    std::fs::write(dir.join("cork.pkt"), text).unwrap();
    let _ = std::os::unix::fs::symlink("/nonexistent/x.pkt", dir.join("x.pkt"));
    let out = tcplab(&["drill", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    assert!(
        stdout.contains("1 passed, 0 failed, 1 malformed"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("x.pkt"), "{stderr}");
}

/// `-D NAME=VALUE` makes the word NAME stand for VALUE, as packetdrill's
/// lexer does: the same script passes with the right value and fails with
/// a wrong one; a definition that is no name is refused in one line.
#[test]
fn a_defined_name_stands_for_its_value() {
    let p = temp(
        "defined.pkt",
        "--ip_version=ipv4\n--tolerance_usecs=10000\n\
         0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
         +0.00 bind(3, ..., ...) = 0\n\
         +0.00 listen(3, BACKLOG) = 0\n\
         +0.00 < S 0:0(0) win 65535 <mss PEER_MSS,nop,nop,sackOK>\n\
         +0.00 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>\n\
         +0.05 < . 1:1(0) ack 1 win 65535\n\
         +0.00 accept(3, ..., ...) = 4\n\
         +0.00 write(4, ..., 2000) = 2000\n\
         +0.00 > . 1:END(SENT) ack 1\n",
    );
    let path = p.to_str().unwrap();
    let run = |defs: &[&str]| {
        let mut args = vec!["drill"];
        for d in defs {
            args.extend(["-D", d]);
        }
        args.push(path);
        tcplab(&args)
    };
    let out = run(&["BACKLOG=1", "PEER_MSS=0x3e8", "SENT=1000", "END=1001"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A 1,000-byte MSS, not 1,200: the first segment is not 1,200 long.
    let out = run(&["BACKLOG=1", "PEER_MSS=1000", "SENT=1200", "END=1201"]);
    assert_eq!(out.status.code(), Some(1));
    // Undefined, PEER_MSS is a word where the MSS's number goes.
    let out = run(&["BACKLOG=1", "SENT=1000", "END=1001"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["=5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "tcplab: -D =5: expected NAME or NAME=VALUE, NAME of letters, digits and _"
    );
}

/// A byte that is not UTF-8 in a comment (a Latin-1 name, say) is no
/// error, as for packetdrill's byte-wise lexer; outside a comment the
/// parse error names its line.
#[test]
fn bytes_that_are_not_utf8() {
    let good = std::fs::read(scripts().join("accept-on-a-connection.pkt")).unwrap();
    let dir = std::env::temp_dir().join(format!("tcplab-drill-latin1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut commented = b"// Copyright J\xfcrgen\n".to_vec();
    commented.extend_from_slice(&good);
    let p = dir.join("latin1-comment.pkt");
    std::fs::write(&p, &commented).unwrap();
    let out = tcplab(&["drill", p.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut outside = good.clone();
    outside.extend_from_slice(b"+0.00 close(4) = 0 \xfc\n");
    let q = dir.join("latin1-outside.pkt");
    std::fs::write(&q, &outside).unwrap();
    let out = tcplab(&["drill", q.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let lines = good.iter().filter(|&&c| c == b'\n').count() + 1;
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "{}:{lines}: parse error: a character outside ASCII",
            q.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A socket or accept call the script expects to fail that succeeds is
/// reported with the fd it got, as packetdrill reports the live fd.
#[test]
fn an_unexpected_new_fd_is_reported_by_number() {
    let good = std::fs::read_to_string(scripts().join("accept-on-a-connection.pkt")).unwrap();
    let bad = good.replace(
        "accept(3, ..., ...) = 4",
        "accept(3, ..., ...) = -1 EAGAIN (x)",
    );
    assert_ne!(good, bad);
    let p = temp("accept-succeeds.pkt", &bad);
    let out = tcplab(&["drill", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runtime error in accept call: Expected result -1 but got 4"),
        "{stderr}"
    );
}
