//! The small servers and the transfer tool: how long they wait, what they
//! count.

mod common;

use common::{run, run_in, www_net};

#[test]
fn transfer_receives_exactly_the_size_asked_for() {
    // chargen never stops sending; the count is what was asked, not what
    // the last read happened to bring.
    let r = run(&[
        ("0s", "server", "serve chargen"),
        ("1s", "client", "transfer -r -s 200K server"),
    ]);
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert!(
        r[1].stdout[0].starts_with("transfer: received 200000 bytes from server:19 in "),
        "{:?}",
        r[1].stdout
    );
}

#[test]
fn http_server_waits_for_a_first_request_longer_than_between_requests() {
    // nc connects and sends nothing (its input is a terminal nobody types
    // into): the server keeps the new connection 60 s, as Apache's
    // Timeout, not the 5 s of the keep-alive timer.
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("1s", "client", "nc server 80"),
            ("10s", "server", "ss -tn state established"),
            ("65s", "server", "ss -tn state established"),
        ],
    );
    assert_eq!(
        r[2].stdout.len(),
        2,
        "still open at 10 s: {:?}",
        r[2].stdout
    );
    assert!(r[2].stdout[1].contains("10.99.3.2:80"), "{:?}", r[2].stdout);
    assert_eq!(r[3].stdout.len(), 1, "closed by 65 s: {:?}", r[3].stdout);
    assert_eq!(r[1].exit, Some(0));
}
