//! The runner on small scripts: what passes, and what each kind of
//! mismatch reports (packetdrill's wording, the line, the dumps).

use tcplab_drill::run::{run_text, Failure, Profile, RunOptions};

const HEADER: &str = "--ip_version=ipv4\n--tolerance_usecs=10000\n";

/// An active open and close without timestamps or window scaling, so
/// every field of every segment is known.
const HANDSHAKE: &str = "\
 0.00 `sysctl -w net.inet.tcp.rfc1323=0`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.00 > S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK>
+0.05 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
+0.00 > . 1:1(0) ack 1 win 65535
+0.00 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0.00 write(3, ..., 100) = 100
+0.00 > P. 1:101(100) ack 1 win 65535
+0.05 < . 1:1(0) ack 101 win 65535
+0.00 close(3) = 0
+0.00 > F. 101:101(0) ack 1 win 65535
+0.05 < F. 1:1(0) ack 102 win 65535
+0.00 > . 102:102(0) ack 2 win 65535
+0.00 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`
";

fn run(body: &str) -> Result<(), Failure> {
    run_with(body, &RunOptions::default())
}

fn run_with(body: &str, options: &RunOptions) -> Result<(), Failure> {
    run_text(&format!("{HEADER}{body}"), options)
        .expect("the script parses")
        .result
}

/// The line number in the full script of `body`'s line `n` (1-based).
fn line(n: usize) -> usize {
    HEADER.lines().count() + n
}

#[test]
fn a_handshake_transfer_and_close_pass_whatever_the_isn() {
    // The stack's ISN depends on the seed; the script's numbers are
    // relative to it, so every seed must pass.
    for seed in 0..20 {
        let options = RunOptions {
            seed,
            ..Default::default()
        };
        if let Err(f) = run_with(HANDSHAKE, &options) {
            panic!("seed {seed}: line {}: {} {:?}", f.line, f.message, f.detail);
        }
    }
}

#[test]
fn a_wrong_flag_is_reported_like_packetdrill() {
    let body = HANDSHAKE.replace("> P. 1:101(100)", "> . 1:101(100)");
    let f = run(&body).unwrap_err();
    assert_eq!(f.line, line(11));
    assert_eq!(
        f.message,
        "error handling packet: live packet field tcp_psh: expected: 0 (0x0) vs actual: 1 (0x1)"
    );
    assert_eq!(f.detail.len(), 2);
    assert!(f.detail[0].starts_with("script packet:  0.050000 . 1:101(100) ack 1 win 65535"));
    assert!(f.detail[1].starts_with("actual packet:  0.050000 P. 1:101(100) ack 1 win 65535"));
}

#[test]
fn sequence_window_and_options_are_checked() {
    let seq = HANDSHAKE.replace("> P. 1:101(100)", "> P. 2:102(100)");
    assert!(run(&seq)
        .unwrap_err()
        .message
        .contains("tcp_seq: expected: 2"));
    let win = HANDSHAKE.replace("> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1 win 1000");
    assert!(run(&win).unwrap_err().message.contains("tcp_window"));
    // A missing `win` leaves the window unchecked.
    let nowin = HANDSHAKE.replace("> . 1:1(0) ack 1 win 65535", "> . 1:1(0) ack 1");
    run(&nowin).unwrap();
    let opts = HANDSHAKE.replace(
        "<mss 1460,nop,nop,sackOK>\n+0.05",
        "<mss 1460,sackOK,nop,nop>\n+0.05",
    );
    let f = run(&opts).unwrap_err();
    assert!(
        f.message.contains("bad outbound TCP options"),
        "{}",
        f.message
    );
    // `<...>` leaves the options unchecked.
    let any = HANDSHAKE.replace("<mss 1460,nop,nop,sackOK>\n+0.05", "<...>\n+0.05");
    run(&any).unwrap();
    // No option list means no options.
    let none = HANDSHAKE.replace(
        "win 65535 <mss 1460,nop,nop,sackOK>\n+0.05",
        "win 65535\n+0.05",
    );
    assert!(run(&none)
        .unwrap_err()
        .message
        .contains("ipv4_total_length"));
}

#[test]
fn timing_is_checked_both_ways_with_the_tolerance() {
    // The data goes at once; a line that expects it 0.5 s later fails.
    let late = HANDSHAKE.replace("+0.00 > P. 1:101(100)", "+0.50 > P. 1:101(100)");
    let f = run(&late).unwrap_err();
    assert!(
        f.message.starts_with("error handling packet: timing error: expected outbound packet at 0.550000 sec but happened at 0.050000 sec"),
        "{}",
        f.message
    );
    // Within the tolerance (10 ms) it passes.
    let close = HANDSHAKE.replace("+0.00 > P. 1:101(100)", "+0.008 > P. 1:101(100)");
    run(&close).unwrap();
    // `*` matches any time.
    let any = HANDSHAKE.replace("+0.00 > P. 1:101(100)", "* > P. 1:101(100)");
    run(&any).unwrap();
}

/// The tolerance is the larger of the microseconds and a share of the
/// time since the previous event: 5 % unless the script or the command
/// line says otherwise (packetdrill's run.c; 5 % in its FreeBSD build).
#[test]
fn the_tolerance_grows_with_the_gap_by_a_percentage() {
    // RTT 100 ms, so the data's RTO is 300 ms: its retransmission comes
    // at 0.400 s, 15 ms before a line that expects it 315 ms after the
    // first send.
    let body = "\
 0.00 `sysctl -w net.inet.tcp.rfc1323=0`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.00 > S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK>
+0.10 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
+0.00 > . 1:1(0) ack 1 win 65535
+0.00 write(3, ..., 1000) = 1000
+0.00 > P. 1:1001(1000) ack 1 win 65535
+0.315 > P. 1:1001(1000) ack 1 win 65535
";
    let script =
        |options: &str| format!("--ip_version=ipv4\n--tolerance_usecs=1000\n{options}{body}");
    let run = |text: &str, options: &RunOptions| run_text(text, options).unwrap().result;
    // 5 % of 315 ms is 15.75 ms.
    run(&script(""), &RunOptions::default()).unwrap();
    run(&script("--tolerance_percent=5\n"), &RunOptions::default()).unwrap();
    let f = run(&script("--tolerance_percent=4\n"), &RunOptions::default()).unwrap_err();
    assert!(
        f.message.contains("tolerance 0.012600 sec"),
        "{}",
        f.message
    );
    let strict = RunOptions {
        tolerance_percent: Some(0.0),
        ..RunOptions::default()
    };
    let f = run(&script(""), &strict).unwrap_err();
    assert!(f.message.contains("timing error"), "{}", f.message);
    // A bad percentage is an error at its line.
    let f = run(&script("--tolerance_percent=101\n"), &RunOptions::default()).unwrap_err();
    assert_eq!(f.line, 3);
    assert!(tcplab_drill::run::check_tolerance(None, Some(100.5)).is_err());
    assert!(tcplab_drill::run::check_tolerance(Some(-1), None).is_err());
    assert!(tcplab_drill::run::check_tolerance(Some(0), Some(12.5)).is_ok());
}

#[test]
fn system_call_results_and_errnos_are_compared() {
    let f =
        run(&HANDSHAKE.replace("write(3, ..., 100) = 100", "write(3, ..., 100) = 99")).unwrap_err();
    assert_eq!(
        f.message,
        "runtime error in write call: Expected result 99 but got 100"
    );
    let f = run(&HANDSHAKE.replace("= -1 EINPROGRESS", "= -1 ECONNREFUSED")).unwrap_err();
    assert!(
        f.message
            .contains("Expected errno 61 (ECONNREFUSED) but got 36 (EINPROGRESS)"),
        "{}",
        f.message
    );
    let f = run(&HANDSHAKE.replace("write(3,", "write(9,")).unwrap_err();
    assert!(f.message.contains("unable to find socket with script fd 9"));
    let f = run(&HANDSHAKE.replace("write(3, ..., 100) = 100", "splice(3) = 0")).unwrap_err();
    assert!(f.message.contains("Unknown system call: 'splice'"));
}

#[test]
fn shell_lines_are_interpreted_and_unknown_ones_fail_with_their_line() {
    let f = run(&HANDSHAKE.replace("grep -c TIME_WAIT | grep 1", "grep -c TIME_WAIT | grep 0"))
        .unwrap_err();
    assert_eq!(f.line, line(17));
    assert!(
        f.message.contains("1 sockets in TIME_WAIT, expected 0"),
        "{}",
        f.message
    );
    let f =
        run(&HANDSHAKE.replace("`sysctl -w net.inet.tcp.rfc1323=0`", "`rm -rf /`")).unwrap_err();
    assert_eq!(f.line, line(1));
    assert!(
        f.message.contains("not a command tcplab interprets"),
        "{}",
        f.message
    );
    let f = run(&HANDSHAKE.replace("rfc1323=0", "nosuch=1")).unwrap_err();
    assert!(f
        .message
        .contains("sysctl net.inet.tcp.nosuch: not a setting tcplab knows"));
    let f = run(&HANDSHAKE.replace("TCPI_ESTABLISHED", "TCPI_SYN_SENT")).unwrap_err();
    assert_eq!(f.line, line(9));
    assert!(
        f.message.contains("tcpi_state = ESTABLISHED"),
        "{}",
        f.message
    );
}

#[test]
fn a_passive_open_maps_the_peer_isn_and_answers_a_reset() {
    let body = "\
 0.00 `sysctl -w net.inet.tcp.rfc1323=0`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.00 bind(3, ..., ...) = 0
+0.00 listen(3, 1) = 0
+0.00 < S 1000:1000(0) win 65535 <mss 1460,nop,nop,sackOK>
+0.00 > S. 0:0(0) ack 1001 win 65535 <mss 1460,nop,nop,sackOK>
+0.05 < . 1:1(0) ack 1 win 65535
+0.00 accept(3, ..., ...) = 4
+0.00 < P. 1:11(10) ack 1 win 65535
+0.00 recv(4, ..., 100, MSG_PEEK) = 10
+0.00 read(4, ..., 100) = 10
+0.00 > . 1:1(0) ack 11 win 65535
+0.00 < R. 11:11(0) ack 1 win 65535
+0.00 read(4, ..., 100) = -1 ECONNRESET (Connection reset by peer)
+0.00 close(4) = 0
+0.00 close(3) = 0
";
    run(body).unwrap();
}

#[test]
fn the_freebsd_profile_sends_what_the_suite_expects() {
    let options = RunOptions {
        profile: Profile::FreeBsd,
        ..Default::default()
    };
    let body = "\
 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0.00 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0.10 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
+0.00 > . 1:1(0) ack 1 win 65535
+0.00 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65700], [4]) = 0
+0.00 close(3) = 0
";
    run_with(body, &options).unwrap();
    // The default profile lays the SYN out as Linux does.
    assert!(run(body).is_err());
}

#[test]
fn the_same_script_and_seed_give_the_same_log() {
    let options = RunOptions {
        verbose: true,
        seed: 7,
        ..Default::default()
    };
    let text = format!("{HEADER}{HANDSHAKE}");
    let a = run_text(&text, &options).unwrap();
    let b = run_text(&text, &options).unwrap();
    assert!(a.result.is_ok());
    assert_eq!(a.log, b.log);
    assert_eq!(a.log.len(), HANDSHAKE.lines().count());
}

#[test]
fn ranges_blocking_calls_and_unchecked_or_absolute_sequence_numbers() {
    // A blocking connect (`T1...T2`) returns when the handshake completes;
    // its return time is checked against T2.
    let blocking = "\
 0.00 `sysctl -w net.inet.tcp.rfc1323=0`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 0.10...0.30 connect(3, ..., ...) = 0
+0.00 > S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK>
 0.30 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
+0.00 > . 1:1(0) ack 1 win 65535
+0.00 close(3) = 0
";
    run(blocking).unwrap();
    let f = run(&blocking.replace("0.10...0.30", "0.10...0.20")).unwrap_err();
    assert_eq!(f.line, line(3));
    assert!(
        f.message
            .contains("expected system call return at 0.200000 sec but happened at 0.300000 sec"),
        "{}",
        f.message
    );
    // A blocking call still under way when the script ends.
    let unanswered: String = blocking.lines().take(4).map(|l| format!("{l}\n")).collect();
    let f = run(&unanswered).unwrap_err();
    assert!(
        f.message.contains("blocking system call is in progress"),
        "{}",
        f.message
    );

    // A time range accepts anything within it (plus the tolerance).
    let range = HANDSHAKE.replace("+0.00 > P. 1:101(100)", "+0.00~+0.30 > P. 1:101(100)");
    run(&range).unwrap();
    let late = HANDSHAKE.replace("+0.00 > P. 1:101(100)", "+0.20~+0.30 > P. 1:101(100)");
    assert!(run(&late).unwrap_err().message.contains("in time range"));

    // `...(L)`: the sequence number is not checked; `N:M(L)!` is absolute,
    // so the live ISN (not 0) makes a relative 1 fail.
    let unchecked = HANDSHAKE.replace("> P. 1:101(100)", "> P. ...(100)");
    run(&unchecked).unwrap();
    let absolute = HANDSHAKE.replace("> P. 1:101(100)", "> P. 1:101(100)!");
    assert!(run(&absolute).unwrap_err().message.contains("tcp_seq"));
}

#[test]
fn so_linger_zero_makes_close_an_abort() {
    let body = HANDSHAKE
        .replace(
            "+0.00 close(3) = 0\n+0.00 > F. 101:101(0) ack 1 win 65535\n+0.05 < F. 1:1(0) ack 102 win 65535\n+0.00 > . 102:102(0) ack 2 win 65535\n+0.00 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`\n",
            "+0.00 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n+0.00 close(3) = 0\n+0.00 > R. 101:101(0) ack 1 win 0\n",
        );
    assert!(body.contains("SO_LINGER"));
    run(&body).unwrap();
}

#[test]
fn socket_options_read_back_what_was_set() {
    let body = "\
 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [0], [4]) = 0
+0.00 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.00 getsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], [4]) = 0
+0.00 setsockopt(3, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0
+0.00 getsockopt(3, SOL_SOCKET, SO_KEEPALIVE, [1], [4]) = 0
+0.00 getsockopt(3, IPPROTO_TCP, TCP_NODELAY, [0], [4]) = 0
+0.00 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
+0.00 getsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0
+0.00 close(3) = 0
";
    run(body).unwrap();
    let f = run(&body.replace("SO_REUSEADDR, [1], [4]", "SO_REUSEADDR, [0], [4]")).unwrap_err();
    assert!(
        f.message.contains("optval: expected: 0 actual: 1"),
        "{}",
        f.message
    );
}

/// With `--tcp_ts_tick_usecs`, a sent TS val is checked: the first one
/// is the baseline, later ones may be off by the tolerance at most
/// (packetdrill's verify_outbound_tcp_option); without it, TS vals are
/// not compared.
#[test]
fn ts_vals_are_checked_with_a_tick() {
    let script = |tick: bool, later: u32| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n{}\
 0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 bind(3, ..., ...) = 0
+0.00 listen(3, 1) = 0
+0.00 < S 0:0(0) win 20000 <mss 1000,sackOK,TS val 5000 ecr 0>
+0.00 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 0 ecr 5000>
+0.05 < . 1:1(0) ack 1 win 20000 <nop,nop,TS val 5050 ecr 0>
+0.00 accept(3, ..., ...) = 4
+0.10 < P. 1:101(100) ack 1 win 20000 <nop,nop,TS val 5151 ecr 0>
+0.00 > . 1:1(0) ack 101 <nop,nop,TS val {later} ecr 5151>
",
            if tick {
                "--tcp_ts_tick_usecs=1000\n"
            } else {
                ""
            }
        )
    };
    let result = |text: String| {
        run_text(&text, &RunOptions::default())
            .expect("the script parses")
            .result
    };
    // 150 ms after the SYN-ACK's: TS val 150 in script space.
    assert!(result(script(true, 150)).is_ok());
    let f = result(script(true, 400)).unwrap_err();
    assert!(
        f.message
            .contains("bad outbound TCP timestamp value, tolerance 10000"),
        "{}",
        f.message
    );
    assert!(result(script(false, 400)).is_ok(), "no tick: not compared");
}

/// One `>` line of several segments' length matches segments the stack
/// sent together (one burst); two writes 100 ms apart are two packets, as
/// packetdrill sees them.
#[test]
fn a_long_outbound_line_joins_only_segments_sent_together() {
    let script = |second_write_after: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n\
 0.00 `sysctl -w net.inet.tcp.rfc1323=0`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 bind(3, ..., ...) = 0
+0.00 listen(3, 1) = 0
+0.00 < S 0:0(0) win 65535 <mss 1000,nop,nop,sackOK>
+0.00 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
+0.05 < . 1:1(0) ack 1 win 65535
+0.00 accept(3, ..., ...) = 4
+0.00 write(4, ..., 1000) = 1000
{second_write_after} write(4, ..., 1000) = 1000
+0.00 > P. 1:2001(2000) ack 1 win 65535
"
        )
    };
    let result = |text: String| {
        run_text(&text, &RunOptions::default())
            .expect("the script parses")
            .result
    };
    assert!(result(script("+0.1")).is_err(), "two sends 100 ms apart");
}
