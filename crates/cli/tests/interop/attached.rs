//! `tcplab run --attach`: standard input and output of a command on the
//! stack, byte for byte, and Ctrl-C.

use super::*;

#[test]
fn attached_nc_forwards_standard_input_and_half_closes() {
    if !capable("attached_nc_forwards_standard_input_and_half_closes") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    // A kernel server that answers only after the client's half-close, so
    // the reply proves the EOF came through.
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.7.0.1', 9100)); s.listen(1)
c, _ = s.accept(); data = b''
while True:
    d = c.recv(65536)
    if not d: break
    data += d
c.sendall(b'got ' + data); c.close()
\"",
    );
    ns.wait_listen('t', 9100);
    let mut child = t.attach_child("nc 10.7.0.1 9100");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi\nthere\n")
        .unwrap();
    let o = finish(child, 10);
    reap(server, 5);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "got hi\nthere\n");
}

#[test]
fn binary_output_is_byte_exact() {
    if !capable("binary_output_is_byte_exact") {
        return;
    }
    let files = Files::new(300_000);
    let want = sha256(&files.path("big.bin"));
    let ns = Ns::new();
    let root = files.dir.to_string_lossy().into_owned();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &["--gateway", "10.7.0.1"], "serve echo");
    // nc -l on the stack, fed 100,000 random bytes by the kernel's nc.
    let part = files.path("part.bin");
    ns.sh(&format!(
        "head -c 100000 {} > {part}",
        files.path("big.bin")
    ));
    let child = t.attach_child("nc -l 9200");
    std::thread::sleep(Duration::from_millis(300));
    ns.sh(&format!("nc -N -w 5 10.7.0.2 9200 < {part}"));
    let o = finish(child, 10);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = files.path("nc-out.bin");
    std::fs::write(&got, &o.stdout).unwrap();
    assert_eq!(o.stdout.len(), 100_000);
    assert_eq!(sha256(&got), sha256(&part), "nc -l > file");
    // curl --output - to a file: the body unchanged, no refusal (stdout is
    // not a terminal).
    let mut server = ns.spawn_sh(&format!(
        "exec python3 -m http.server --bind 10.7.0.1 8300 --directory {root}"
    ));
    ns.wait_listen('t', 8300);
    let o = t.attach("curl -s --output - http://10.7.0.1:8300/big.bin");
    let _ = server.kill();
    let _ = server.wait();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = files.path("curl-out.bin");
    std::fs::write(&got, &o.stdout).unwrap();
    assert_eq!(sha256(&got), want, "curl --output - > file");
}

/// A command that only reads its standard input and writes it out (no
/// network to wake the stack's loop): a megabyte through `cat` comes back
/// whole. The input window filled at 64 KiB and the acknowledgement of
/// what `cat` had read waited for an event that never came.
#[test]
fn an_attached_filter_passes_a_megabyte_through() {
    if !capable("an_attached_filter_passes_a_megabyte_through") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut child = t.attach_child("cat");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let o = finish(child, 30);
    feeder.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout.len(), data.len());
    assert!(o.stdout == data, "cat changed the bytes");
}

/// `tcpdump -U -w - | tcpdump -r -` across two attached commands: the
/// reader prints each packet while the capture still runs (it reads its
/// standard input as it comes, not to its end), and ends when the
/// writer is stopped.
#[test]
fn a_piped_capture_is_read_as_it_comes() {
    if !capable("a_piped_capture_is_read_as_it_comes") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let mut writer = t.attach_child("tcpdump -U -w - icmp");
    let piped = writer.stdout.take().unwrap();
    let mut reader = Command::new("ip")
        .args(["netns", "exec", &t.ns_name, tcplab()])
        .args(["run", "--tun", &t.dev, "--attach", "--"])
        .args(["tcpdump", "-n", "-t", "-r", "-"])
        .stdin(Stdio::from(piped))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("attach runs");
    let out = reader.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    ns.sh("ping -c 2 -i 0.2 -W 2 10.7.0.2");
    let mut lines = Vec::new();
    while lines.len() < 4 {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    // All four while the writer still runs.
    kill(&writer, "-INT");
    let w = finish(writer, 10);
    let r = finish(reader, 10);
    assert_eq!(lines.len(), 4, "{lines:?} {} {}", text(&w), text(&r));
    assert!(
        lines[0].starts_with("IP 10.7.0.1 > 10.7.0.2: ICMP echo request"),
        "{lines:?}"
    );
    assert!(r.status.success(), "{}", text(&r));
}

#[test]
fn ctrl_c_on_an_attached_command_stops_it_on_the_stack() {
    if !capable("ctrl_c_on_an_attached_command_stops_it_on_the_stack") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    // ping prints its statistics and exits as iputils does.
    let ping = t.attach_child("ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(1200));
    kill(&ping, "-INT");
    let o = finish(ping, 5);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("--- 10.7.0.1 ping statistics ---"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // nc -l is stopped (130) and its port is free again.
    let nc = t.attach_child("nc -l 9300");
    std::thread::sleep(Duration::from_millis(300));
    let ss = String::from_utf8_lossy(&t.attach("ss -tln").stdout).into_owned();
    assert!(ss.contains(":9300"), "{ss}");
    kill(&nc, "-INT");
    let o = finish(nc, 5);
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let ss = String::from_utf8_lossy(&t.attach("ss -tln").stdout).into_owned();
    assert!(!ss.contains(":9300"), "{ss}");
    // SIGTERM likewise.
    let nc = t.attach_child("nc -l 9301");
    std::thread::sleep(Duration::from_millis(300));
    kill(&nc, "-TERM");
    let o = finish(nc, 5);
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    // ping handles SIGINT only (iputils): SIGTERM stops it, no statistics.
    let ping = t.attach_child("ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(700));
    kill(&ping, "-TERM");
    let o = finish(ping, 5);
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!out.contains("ping statistics"), "{out}");
}

/// Ctrl-\ (SIGQUIT) reaches ping, attached or as `tcplab run`'s own
/// command: iputils' status line on standard error, and ping goes on (a
/// Ctrl-C later prints its statistics, status 0; stopped by the SIGQUIT,
/// it would end with 131 and none).
#[test]
fn ctrl_backslash_makes_ping_print_its_status_and_go_on() {
    if !capable("ctrl_backslash_makes_ping_print_its_status_and_go_on") {
        return;
    }
    let check = |o: &Output| {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(out.contains("--- 10.7.0.1 ping statistics ---"), "{out}");
        assert!(
            err.contains(" packets, 0% loss, min/avg/ewma/max = "),
            "{err}"
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    };
    let ns = Ns::new();
    let mut t = Tcplab::start(&ns, "10.7.0.2/24", &[], "ping -i 0.2 10.7.0.1");
    let ping = t.attach_child("ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(700));
    kill(&ping, "-QUIT");
    kill(t.child.as_ref().expect("running"), "-QUIT");
    std::thread::sleep(Duration::from_millis(500));
    kill(&ping, "-INT");
    check(&finish(ping, 5));
    let run = t.child.take().expect("running");
    kill(&run, "-INT");
    check(&finish(run, 5));
}

#[test]
fn ctrl_c_on_tcplab_run_ends_the_command_like_the_tool() {
    if !capable("ctrl_c_on_tcplab_run_ends_the_command_like_the_tool") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "ping -i 0.2 10.7.0.1");
    std::thread::sleep(Duration::from_millis(1200));
    let o = t.stop();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("--- 10.7.0.1 ping statistics ---"), "{out}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A standard output whose reader went away (`| head -c 100`): curl, which
/// ignores SIGPIPE, fails the transfer with 23 as real curl does; ping,
/// which does not, is stopped by the signal (status 141).
#[test]
fn a_closed_standard_output_is_sigpipe() {
    if !capable("a_closed_standard_output_is_sigpipe") {
        return;
    }
    let files = Files::new(4 << 20);
    let ns = Ns::new();
    let root = files.dir.to_string_lossy().into_owned();
    let mut server = ns.spawn_sh(&format!(
        "exec python3 -m http.server --bind 0.0.0.0 8000 --directory {root}"
    ));
    ns.wait_listen('t', 8000);
    let dev = format!("tl{}x{}", std::process::id() % 100_000, unique());
    let run = format!("{} run --tun {dev} --addr 10.12.0.2/24 --", tcplab());
    let status = |cmd: &str| -> (i32, String) {
        // `sh` gives the last stage's status: ask bash for the first's.
        let o = ns
            .cmd("bash")
            .args([
                "-c",
                &format!("{run} {cmd} | head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}"),
            ])
            .output()
            .expect("bash runs");
        (
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = status("curl -sS http://10.12.0.1:8000/big.bin");
    assert_eq!(code, 23, "{err}");
    assert!(
        err.contains("curl: (23) Failure writing output to destination"),
        "{err}"
    );
    let (code, err) = status("ping -c 50 -i 0.2 10.12.0.1");
    assert_eq!(code, 141, "{err}");
    // tcpdump catches SIGPIPE: its counts, and status 0 (the kernel pings
    // the stack meanwhile, so there is more to print than head takes).
    let o = ns
        .cmd("bash")
        .args([
            "-c",
            &format!(
                "(sleep 0.5; ping -c 5 -i 0.2 10.12.0.2 > /dev/null) & {run} tcpdump -n -l | head -1 > /dev/null; echo ${{PIPESTATUS[0]}}; wait"
            ),
        ])
        .output()
        .expect("bash runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "{err}");
    assert!(err.contains("packets captured"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
}

/// The peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A command's standard input and output are pipes with a writer and a
/// reader at their pace: 100 MB piped into an attached `nc` towards a
/// kernel receiver that waits before reading, and 100 MB from the
/// kernel into an attached `nc -l` whose output nobody reads for a
/// while, each arrive whole — and the stack's process holds neither in
/// memory (before, each grew to the size of the transfer).
#[test]
fn slow_readers_hold_the_writers_back() {
    if !capable("slow_readers_hold_the_writers_back") {
        return;
    }
    const SIZE: usize = 100_000_000;
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let main_pid = t.child.as_ref().expect("running").id();
    // In: the kernel reads nothing for 3 s, then counts.
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.7.0.1', 9102)); s.listen(1)
c, _ = s.accept(); time.sleep(3); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    n += len(d)
print(n)
\"",
    );
    ns.wait_listen('t', 9102);
    let mut child = t.attach_child("nc -N 10.7.0.1 9102");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let block = vec![7u8; 1 << 20];
        for _ in 0..SIZE / block.len() {
            if stdin.write_all(&block).is_err() {
                return;
            }
        }
        let rest = SIZE % block.len();
        let _ = stdin.write_all(&block[..rest]);
    });
    let o = finish(child, 60);
    feeder.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let got = server.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        SIZE.to_string()
    );
    let after_in = peak_rss(main_pid);
    assert!(after_in < 60 << 20, "peak RSS {after_in} B feeding stdin");
    // Out: nc -l's standard output is read only after 3 s.
    let mut child = t.attach_child("nc -l 9202");
    std::thread::sleep(Duration::from_millis(300));
    let sender = ns.spawn_sh(&format!(
        "head -c {SIZE} /dev/zero | nc -N -w 30 10.7.0.2 9202"
    ));
    std::thread::sleep(Duration::from_secs(3));
    let mut out = child.stdout.take().unwrap();
    let mut n = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut out, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let o = finish(child, 30);
    reap(sender, 10);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(n, SIZE);
    let after_out = peak_rss(main_pid);
    assert!(
        after_out < 60 << 20,
        "peak RSS {after_out} B behind a slow stdout"
    );
}

/// An attached command's relative paths start in the directory it was
/// run from, not in the one of the `tcplab run` that owns the stack.
#[test]
fn attached_relative_paths_start_where_the_command_was_run() {
    if !capable("attached_relative_paths_start_where_the_command_was_run") {
        return;
    }
    let files = Files::new(10_000);
    let ns = Ns::new();
    let root = files.dir.to_string_lossy().into_owned();
    let t = Tcplab::start(
        &ns,
        "10.7.0.2/24",
        &[],
        &format!("serve http --root {root}"),
    );
    let here = files.dir.join("here");
    std::fs::create_dir_all(&here).unwrap();
    let o = Command::new("ip")
        .args(["netns", "exec", &t.ns_name, tcplab()])
        .args(["run", "--tun", &t.dev, "--attach", "--"])
        .args(["curl", "-sS", "-o", "rel.bin", "http://10.7.0.2/big.bin"])
        .current_dir(&here)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        sha256(&here.join("rel.bin").to_string_lossy()),
        sha256(&files.path("big.bin"))
    );
}

/// Ctrl-C reaches an attached command whose input is held back (its
/// receiver reads nothing, so the command stops reading its standard
/// input and the client keeps the rest): signals do not queue behind
/// input.
#[test]
fn ctrl_c_reaches_a_command_whose_input_is_held() {
    if !capable("ctrl_c_reaches_a_command_whose_input_is_held") {
        return;
    }
    let ns = Ns::new();
    let t = Tcplab::start(&ns, "10.7.0.2/24", &[], "serve echo");
    let server = ns.spawn_sh(
        "exec python3 -c \"
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.7.0.1', 9103)); s.listen(1)
c, _ = s.accept(); time.sleep(30)
\"",
    );
    ns.wait_listen('t', 9103);
    let mut child = t.attach_child("nc 10.7.0.1 9103");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let block = vec![1u8; 1 << 20];
        for _ in 0..50 {
            if stdin.write_all(&block).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    kill(&child, "-INT");
    let o = finish(child, 10);
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    feeder.join().unwrap();
    reap(server, 1);
}
