//! ss's unit tests: timers and shutdown arrows.

mod timer_tests {
    use super::super::timer_left;
    use std::time::Duration;

    /// iproute2 6.1's print_ms_timer, value by value (checked against the
    /// real ss on this machine: `timer:(on,004ms,0)`, `(on,1.048ms,6)`).
    #[test]
    fn times_left_read_as_iproute2_writes_them() {
        for (ms, want) in [
            (4, "004ms"),
            (65, "065ms"),
            (544, "544ms"),
            (1048, "1.048ms"),
            (3300, "3.300ms"),
            (9580, "9.580ms"),
            (10_000, "10sec"),
            (59_999, "59sec"),
            (60_000, "1min"),
            (152_000, "2min32sec"),
            (152_500, "2min32sec"),
            (672_000, "11min"),
            (799_580, "13min"),
            (0, ""),
        ] {
            assert_eq!(timer_left(Duration::from_millis(ms)), want, "{ms} ms");
        }
    }
}

mod details_tests {
    use super::super::details;
    use crate::sockets::{Netid, SockRow, SockState};
    use tcplab_stack::tcp::State as TcpState;

    fn row(state: TcpState, held: bool) -> SockRow {
        SockRow {
            netid: Netid::Tcp,
            state: SockState::Tcp(state),
            recv_q: 0,
            send_q: 0,
            local: "10.0.0.1:80".parse().unwrap(),
            peer: Some("10.0.0.2:5000".parse().unwrap()),
            process: held.then(|| ("nc".to_string(), 7, 3)),
            timer: None,
            info: None,
            unix: None,
            sk: 0x1001,
            pmtu: 1500,
            advmss: 1460,
            buffers: (0, 0),
            listener_cc: None,
        }
    }

    /// Linux's sk_shutdown arrows: open both ways, half closed either
    /// way, an orphan shut both ways, and none where Linux keeps no full
    /// socket (SYN-RECV, TIME-WAIT, an orphan's FIN-WAIT-2).
    #[test]
    fn shutdown_arrows_as_linux_shows_them() {
        let arrows = |state, held| {
            let d = details(&row(state, held));
            d.rsplit_once(' ')
                .map(|(_, a)| a.to_string())
                .filter(|a| a.len() == 3 && !a.contains(':'))
        };
        assert_eq!(arrows(TcpState::Established, true).as_deref(), Some("<->"));
        assert_eq!(arrows(TcpState::CloseWait, true).as_deref(), Some("-->"));
        assert_eq!(arrows(TcpState::FinWait2, true).as_deref(), Some("<--"));
        assert_eq!(arrows(TcpState::FinWait1, false).as_deref(), Some("---"));
        assert_eq!(arrows(TcpState::LastAck, false).as_deref(), Some("---"));
        assert_eq!(arrows(TcpState::FinWait2, false), None);
        assert_eq!(arrows(TcpState::SynReceived, false), None);
        assert_eq!(arrows(TcpState::TimeWait, false), None);
        // An accepted-but-unclaimed connection (no process yet) is open.
        assert_eq!(arrows(TcpState::Established, false).as_deref(), Some("<->"));
    }
}
