//! tcpdump's lines in the reference network: service names, no IP header
//! fields without -v, DNS decoded, -t, -w and the closing counts.

mod common;

use common::{dns_net, run_in, www_net, SERVE_DNS};

#[test]
fn lines_name_services_and_leave_out_the_ip_header() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -c 3 tcp port 80"),
            ("500ms", "server", "tcpdump -t -n -c 2 tcp port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
        ],
    );
    // Without -n, host names (the hosts table here) and service names.
    let dump = &r[1].stdout;
    assert!(
        dump[0].starts_with("00:00:01.000000 IP client.")
            && dump[0].contains(" > server.http: Flags [S], seq "),
        "{dump:?}"
    );
    assert!(dump[1].contains(" IP server.http > client."), "{dump:?}");
    assert!(dump.iter().all(|l| !l.contains("[DF]")), "{dump:?}");
    assert_eq!(
        r[1].stderr,
        [
            "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode",
            "listening on eth0, link-type RAW (Raw IP), snapshot length 262144 bytes",
            "3 packets captured",
            "3 packets received by filter",
            "0 packets dropped by kernel",
        ]
    );
    // -t: no timestamp; -n: addresses and ports as numbers.
    assert!(
        r[2].stdout[0].starts_with("IP 10.99.1.2.")
            && r[2].stdout[0].contains(" > 10.99.3.2.80: Flags [S]"),
        "{:?}",
        r[2].stdout
    );
}

#[test]
fn dns_is_decoded() {
    let r = run_in(
        &dns_net(),
        &[
            SERVE_DNS,
            ("500ms", "client", "tcpdump -n -c 2 udp port 53"),
            ("1s", "client", "nslookup -type=A server.lab.test"),
        ],
    );
    let dump = &r[1].stdout;
    let (q, a) = (&dump[0], &dump[1]);
    let id = q
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split('+').next())
        .unwrap();
    assert!(
        q.ends_with(&format!(" > 10.99.3.2.53: {id}+ A? server.lab.test. (33)")),
        "{dump:?}"
    );
    assert!(
        a.contains("IP 10.99.3.2.53 > 10.99.1.2.")
            && a.ends_with(&format!(": {id}*- 1/0/0 A 10.99.3.2 (49)")),
        "{dump:?}"
    );
}

/// -vv: a response's question, its authority section (the SOA of a
/// negative answer, with its fields, which -v shows too) and the sequence
/// number of a pure ACK (print-domain.c, print-tcp.c).
#[test]
fn very_verbose_shows_every_section_and_every_sequence_number() {
    let r = run_in(
        &format!("{}{}", dns_net(), &www_net()[common::NET.len()..]),
        &[
            SERVE_DNS,
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -n -vv -c 2 udp port 53"),
            ("500ms", "client", "tcpdump -n -vv -c 3 tcp port 80"),
            ("1s", "client", "nslookup -type=A nothing.lab.test"),
            (
                "2s",
                "client",
                "curl -s -o /dev/null http://10.99.3.2/hello.txt",
            ),
        ],
    );
    let dns = &r[2].stdout;
    assert!(
        dns[3].ends_with(
            " NXDomain*- q: A? nothing.lab.test. 0/1/0 ns: lab.test. SOA ns.lab.test. \
             hostmaster.lab.test. 2026112101 3600 900 604800 60 (84)"
        ),
        "{dns:?}"
    );
    let tcp = &r[3].stdout;
    assert!(
        tcp[5].contains(": Flags [.], cksum 0x")
            && tcp[5].contains("(correct), seq 1, ack 1, win "),
        "{tcp:?}"
    );
}

#[test]
fn writes_pcap_files_and_counts_at_the_end() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -w /tmp/web.pcap -c 4 port 80"),
            ("500ms", "server", "tcpdump -w /srv/all.pcap port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
            ("3s", "client", "sha256sum /tmp/web.pcap"),
            ("3s", "server", "cmp -s /srv/all.pcap /srv/www/hello.txt"),
        ],
    );
    // Written, not printed.
    assert_eq!(r[1].exit, Some(0));
    assert!(r[1].stdout.is_empty(), "{:?}", r[1].stdout);
    // Writing a file, tcpdump names itself on the line (no "verbose
    // output suppressed" line came first).
    assert_eq!(
        r[1].stderr,
        [
            "tcpdump: listening on eth0, link-type RAW (Raw IP), snapshot length 262144 bytes",
            "4 packets captured",
            "4 packets received by filter",
            "0 packets dropped by kernel",
        ]
    );
    assert_eq!(r[4].exit, Some(0), "{:?}", r[4]);
    // A capture without -c keeps its file whole as it goes (cmp finds it
    // and finds it different: status 1, not 2).
    assert_eq!(r[5].exit, Some(1), "{:?}", r[5]);
    // It runs until the end of the run, which stops it as Ctrl-C would:
    // its counts then (tcpdump prints them on SIGINT and exits 0). (The
    // server's FIN carries its ACK of curl's, as Linux's does: ten.)
    assert_eq!(
        r[2].stderr,
        [
            "tcpdump: listening on eth0, link-type RAW (Raw IP), snapshot length 262144 bytes",
            "10 packets captured",
            "10 packets received by filter",
            "0 packets dropped by kernel",
        ]
    );
    assert_eq!(r[2].exit, Some(0), "{:?}", r[2]);
    // Stopped while writing, it prints no newline on standard output (it
    // might be the capture file: `tcpdump -w -`).
    assert!(r[2].stdout.is_empty(), "{:?}", r[2].stdout);
}

/// -v: the IP header in brackets, the rest on an indented line, TCP and
/// UDP checksums checked; -X: hex and ASCII from the IP header on; -A:
/// the packet as text (the HTTP request readable).
#[test]
fn verbose_hex_and_ascii() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "server", "tcpdump -t -n -v -c 1 tcp port 80"),
            ("500ms", "server", "tcpdump -t -n -X -c 1 tcp port 80"),
            ("500ms", "server", "tcpdump -t -n -A -c 3 tcp dst port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
        ],
    );
    let v = &r[1].stdout;
    assert!(
        v[0].starts_with("IP (tos 0x0, ttl 62, id ")
            && v[0].contains(", offset 0, flags [DF], proto TCP (6), length 60)"),
        "{v:?}"
    );
    assert!(
        v[1].starts_with("    10.99.1.2.")
            && v[1].contains(": Flags [S], cksum 0x")
            && v[1].contains(" (correct), seq "),
        "{v:?}"
    );
    assert!(
        !r[1].stderr[0].contains("verbose output suppressed"),
        "{:?}",
        r[1].stderr
    );
    let x = &r[2].stdout;
    assert!(x[1].starts_with("\t0x0000:  4500 003c "), "{x:?}");
    assert!(x[2].starts_with("\t0x0010:  0a63 0302 "), "{x:?}");
    // 60 bytes: three full lines and one of 12, hex padded to the ASCII column.
    assert_eq!(x.len(), 5, "{x:?}");
    assert_eq!(x[1].len(), x[4].len() + 4, "{x:?}");
    // The third packet to port 80 is the request: its text is readable.
    let a = &r[3].stdout;
    assert!(
        a.iter().any(|l| l.ends_with("GET /hello.txt HTTP/1.1")),
        "{a:?}"
    );
}

/// SACK blocks are printed on the same relative scale as the ACK number
/// (tcpdump subtracts the same base), the blocks side by side; with -S
/// everything is absolute.
#[test]
fn sack_blocks_are_relative_like_the_ack() {
    let net = r#"
seed = 2
[[host]]
name = "a"
addr = "10.0.1.2/24"
[[host]]
name = "b"
addr = "10.0.1.3/24"
[[link]]
ends = ["a", "b"]
delay = "5ms"
loss = "3%"
"#;
    let r = common::run_in(
        net,
        &[
            ("0s", "b", "serve discard"),
            ("0.5s", "a", "tcpdump -n -c 400 tcp"),
            ("1s", "a", "transfer -s 300K b"),
        ],
    );
    let sacks: Vec<&String> = r[1]
        .stdout
        .iter()
        .filter(|l| l.contains(",sack "))
        .collect();
    assert!(!sacks.is_empty(), "the loss makes SACKs");
    for l in sacks {
        // ", ack N, ... sack K {L:R}...": every edge just above the ACK.
        let ack: u64 = l
            .split(", ack ")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        // (A D-SACK block lies below the ACK: near it all the same.)
        let blocks = l.split(",sack ").nth(1).unwrap();
        let blocks = blocks.split_once(' ').unwrap().1;
        for edge in blocks
            .split(['{', '}', ':', ']'])
            .filter_map(|t| t.parse::<u64>().ok())
        {
            assert!(edge + 400_000 > ack && edge < ack + 400_000, "{l}");
        }
        assert!(!blocks.contains("} {"), "{l}");
    }
}

/// pcap-filter's fuller grammar reaches the tool: header bytes with
/// pcap's names, parentheses and `src or dst`, quoted as a shell would.
#[test]
fn filters_on_header_bytes_and_grouping() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "500ms",
                "client",
                "tcpdump -t -n 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0'",
            ),
            (
                "500ms",
                "server",
                "tcpdump -t -n -c 1 '(icmp or udp) or (src or dst port 80 and tcp[13] = 0x12)'",
            ),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
        ],
    );
    let syn_fin = &r[1].stdout;
    // SYN, SYN-ACK, and the client's FIN (the run ends before the
    // server's): no segment without SYN or FIN. Stopped by the run's end
    // as by a signal, tcpdump ends with an empty line on stdout.
    assert_eq!(syn_fin.len(), 4, "{syn_fin:?}");
    assert_eq!(syn_fin[3], "", "{syn_fin:?}");
    assert!(syn_fin[0].contains("Flags [S],"), "{syn_fin:?}");
    assert!(syn_fin[1].contains("Flags [S.],"), "{syn_fin:?}");
    assert!(syn_fin[2].contains("Flags [F.],"), "{syn_fin:?}");
    assert_eq!(r[2].stdout.len(), 1, "{:?}", r[2].stdout);
    assert!(
        r[2].stdout[0].starts_with("IP 10.99.3.2.80 > 10.99.1.2."),
        "{:?}",
        r[2].stdout
    );
    assert!(r[2].stdout[0].contains("Flags [S.],"), "{:?}", r[2].stdout);
}

/// -q: TCP and UDP as protocol and length; later fragments as tcpdump 4.99
/// prints them (addresses and the protocol, by number with -n); -tt the
/// seconds since the epoch.
#[test]
fn quiet_lines_fragments_and_epoch_stamps() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -q -t -c 2 tcp port 80"),
            ("500ms", "server", "tcpdump -n -tt -c 3 icmp"),
            ("500ms", "server", "tcpdump -c 2 icmp"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
            ("2s", "client", "ping -c 1 -s 3000 server"),
        ],
    );
    let q = &r[1].stdout;
    assert!(
        q[0].starts_with("IP client.") && q[0].ends_with(" > server.http: tcp 0"),
        "{q:?}"
    );
    let frags = &r[2].stdout;
    assert_eq!(frags.len(), 3, "{frags:?}");
    assert!(
        frags[0].starts_with("1735689602.")
            && frags[0].contains(" IP 10.99.1.2 > 10.99.3.2: ICMP echo request, id "),
        "{frags:?}"
    );
    assert!(
        frags[1].ends_with(" IP 10.99.1.2 > 10.99.3.2: ip-proto-1"),
        "{frags:?}"
    );
    assert!(!frags.iter().any(|l| l.contains("(frag")), "{frags:?}");
    // Without -n, /etc/protocols' name.
    assert!(
        r[3].stdout[1].ends_with(" IP client > server: icmp"),
        "{:?}",
        r[3].stdout
    );
}

/// The loopback can be captured: `-i lo` sees each looped datagram once
/// (libpcap drops the outgoing copy), `-i any` names it `lo In`; the
/// default interface is still the first one that is not the loopback.
#[test]
fn the_loopback_is_captured() {
    let r = run_in(
        &www_net(),
        &[
            ("500ms", "client", "tcpdump -n -t -i lo -c 2"),
            ("500ms", "client", "tcpdump -n -t -i any -c 2 icmp"),
            ("500ms", "client", "tcpdump -n -t -c 1"),
            ("1s", "client", "ping -c 1 127.0.0.1"),
            ("2s", "client", "ping -c 1 server"),
        ],
    );
    let lo = &r[0].stdout;
    assert_eq!(lo.len(), 2, "{lo:?}");
    assert!(
        lo[0].starts_with("IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id ")
            && lo[0].ends_with(", seq 1, length 64"),
        "{lo:?}"
    );
    assert!(lo[1].contains(": ICMP echo reply, id "), "{lo:?}");
    assert!(
        r[0].stderr[1].starts_with("listening on lo, link-type EN10MB (Ethernet)"),
        "{:?}",
        r[0].stderr
    );
    assert!(
        r[1].stdout[0].starts_with("lo    In  IP 127.0.0.1 > 127.0.0.1: ICMP echo request"),
        "{:?}",
        r[1].stdout
    );
    assert!(
        r[2].stdout[0].contains("IP 10.99.1.2 > 10.99.3.2: ICMP echo request"),
        "{:?}",
        r[2].stdout
    );
}

/// -e prints the link header (print-raw.c's `ip: `, the loopback's zero
/// Ethernet header), -x the bytes in hex, -s 0 and -p are accepted; a
/// snapshot that would cut packets is refused with one line, and -e on
/// the cooked `any` capture prints its header. HTTP on port 80 is named, as tcpdump does.
#[test]
fn link_headers_hex_snaplen_and_http() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -n -t -e -p -s 0 -c 1 icmp"),
            ("500ms", "client", "tcpdump -n -t -e -i lo -c 1"),
            ("500ms", "client", "tcpdump -n -t -x -s 65535 -c 1 icmp"),
            ("500ms", "client", "tcpdump -n -e -i any -c 1"),
            (
                "500ms",
                "server",
                "tcpdump -n -t -c 4 'tcp port 80 and tcp[13] & 8 != 0'",
            ),
            ("1s", "client", "ping -c 1 server"),
            ("1s", "client", "ping -c 1 127.0.0.1"),
            (
                "2s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
        ],
    );
    assert!(
        r[1].stdout[0].starts_with("ip: 10.99.1.2 > 10.99.3.2: ICMP echo request"),
        "{:?}",
        r[1].stdout
    );
    assert!(
        r[1].stderr[1].ends_with("snapshot length 262144 bytes"),
        "{:?}",
        r[1].stderr
    );
    assert!(
        r[2].stdout[0].starts_with(
            "00:00:00:00:00:00 > 00:00:00:00:00:00, ethertype IPv4 (0x0800), length 98: 127.0.0.1 > 127.0.0.1: ICMP echo request"
        ),
        "{:?}",
        r[2].stdout
    );
    let x = &r[3].stdout;
    assert!(
        x[0].starts_with("IP 10.99.1.2 > 10.99.3.2: ICMP echo request"),
        "{x:?}"
    );
    assert!(x[1].starts_with("\t0x0000:  4500 0054 "), "{x:?}");
    assert_eq!(x.len(), 1 + 84usize.div_ceil(16), "{x:?}");
    assert!(
        r[3].stderr[1].ends_with("snapshot length 65535 bytes"),
        "{:?}",
        r[3].stderr
    );
    // The cooked header of `any` (print-sll.c, checked against tcpdump
    // 4.99 on a TUN device): the name in five columns, the direction,
    // the interface index, no link address on a link without one, and
    // the length with the header's 20 bytes.
    assert_eq!(r[4].exit, Some(0), "{:?}", r[4].stderr);
    let cooked = r[4].stdout[0].split_once(' ').map_or("", |(_, rest)| rest);
    assert!(
        cooked.starts_with("eth0  Out ifindex 2 ethertype IPv4 (0x0800), length 104: 10.99.1.2 > 10.99.3.2: ICMP echo request"),
        "{:?}",
        r[4].stdout
    );
    // The request and the response carry PSH: their first lines.
    let http = &r[5].stdout;
    assert!(
        http[0].ends_with(": HTTP: GET /hello.txt HTTP/1.1"),
        "{http:?}"
    );
    assert!(http[1].contains(": HTTP: HTTP/1.1 200 OK"), "{http:?}");
    let u = tcplab_tools::Command::parse("tcpdump -s 96").unwrap_err();
    assert_eq!(u.status, 1);
}

/// -r: a file written with -w read back, filtered as if captured; with -w
/// too, the selected packets go to another file; errors in tcpdump's words.
#[test]
fn reads_pcap_files_back() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -w /tmp/web.pcap -c 6 port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
            ("3s", "client", "tcpdump -n -r /tmp/web.pcap"),
            (
                "3s",
                "client",
                "tcpdump -n -r /tmp/web.pcap -w /tmp/syn.pcap 'tcp[tcpflags] & tcp-syn != 0'",
            ),
            ("4s", "client", "tcpdump -n -tt -r /tmp/syn.pcap"),
            ("4s", "client", "tcpdump -r /tmp/nosuch.pcap"),
            ("4s", "client", "tcpdump -r /tmp/hello.txt"),
            (
                "2s",
                "client",
                "curl -s -o /tmp/hello.txt http://server/hello.txt",
            ),
        ],
    );
    let all = &r[3];
    assert_eq!(all.exit, Some(0), "{all:?}");
    assert_eq!(
        all.stderr,
        ["reading from file /tmp/web.pcap, link-type RAW (Raw IP), snapshot length 262144"]
    );
    assert_eq!(all.stdout.len(), 6, "{:?}", all.stdout);
    assert!(
        all.stdout[0].starts_with("00:00:01.000000 IP 10.99.1.2.")
            && all.stdout[0].contains(" > 10.99.3.2.80: Flags [S], seq "),
        "{:?}",
        all.stdout
    );
    assert!(r[4].stdout.is_empty(), "{:?}", r[4]);
    let syn = &r[5];
    assert_eq!(syn.stdout.len(), 2, "{syn:?}");
    assert!(
        syn.stdout[0].starts_with("1735689601.000000 IP 10.99.1.2."),
        "{syn:?}"
    );
    assert!(syn.stdout[1].contains(": Flags [S.], seq "), "{syn:?}");
    assert_eq!(r[6].exit, Some(1));
    assert_eq!(
        r[6].stderr,
        ["tcpdump: /tmp/nosuch.pcap: No such file or directory"]
    );
    assert_eq!(r[7].exit, Some(1));
    assert_eq!(r[7].stderr, ["tcpdump: unknown file format"]);
}

/// A capture that starts inside a connection takes its relative bases as
/// print-tcp.c does, from the first segment with ACK it prints: that one
/// is absolute, its ACK less one is the other side's base (so the reply
/// starts at `seq 1` and acknowledges the request's length).
#[test]
fn a_capture_begun_mid_connection_takes_its_bases_from_the_first_ack() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            (
                "500ms",
                "client",
                "tcpdump -n -c 2 tcp port 80 and greater 100",
            ),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
        ],
    );
    let dump = &r[1].stdout;
    assert_eq!(dump.len(), 2, "{dump:?}");
    let field = |line: &str, name: &str| -> String {
        let rest = line.split(name).nth(1).unwrap_or_else(|| panic!("{line}"));
        rest.split([',', ' ']).next().unwrap().to_string()
    };
    // The request: absolute numbers, both of them.
    let seq = field(&dump[0], ", seq ");
    let (start, end) = seq.split_once(':').unwrap();
    let (start, end): (u32, u32) = (start.parse().unwrap(), end.parse().unwrap());
    let len = end.wrapping_sub(start);
    assert!(start > 1_000_000 || end < start, "{}", dump[0]);
    assert!(
        field(&dump[0], ", ack ").parse::<u32>().unwrap() > 1_000_000,
        "{}",
        dump[0]
    );
    // The reply: relative to the request's ACK less one, and acknowledging
    // the request from the request's own base.
    assert!(dump[1].contains(", seq 1:"), "{}", dump[1]);
    assert_eq!(field(&dump[1], ", ack "), len.to_string(), "{}", dump[1]);
}

/// A capture that is still running keeps its file whole once traffic has
/// been quiet for a second: a reader then sees every packet.
#[test]
fn a_running_capture_saves_after_a_quiet_second() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -w /tmp/live.pcap port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
            ("3s", "client", "tcpdump -n -r /tmp/live.pcap"),
        ],
    );
    let read = &r[3];
    assert_eq!(read.exit, Some(0), "{read:?}");
    // The whole exchange, the FINs included.
    assert!(read.stdout.len() >= 8, "{:?}", read.stdout);
    assert!(
        read.stdout
            .iter()
            .filter(|l| l.contains("Flags [F"))
            .count()
            >= 2,
        "{:?}",
        read.stdout
    );
}

/// A capture many times the writer's buffer reaches the file whole: a
/// reader in the middle sees what was written so far, and at the end the
/// file holds every packet the capture counted.
#[test]
fn a_long_capture_is_written_whole() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -w /tmp/big.pcap port 80"),
            ("1s", "client", "curl -s -o /dev/null http://server/big.bin"),
            ("3s", "client", "tcpdump -n -r /tmp/big.pcap -c 3"),
            ("4s", "client", "curl -s -o /dev/null http://server/big.bin"),
            ("7s", "client", "tcpdump -n -r /tmp/big.pcap"),
        ],
    );
    // The capture runs on to the end (interrupted as Ctrl-C would); the
    // last reader comes after a quiet second.
    let captured: usize = r[1]
        .stderr
        .iter()
        .find_map(|l| l.strip_suffix(" packets captured"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {r:?}"));
    // Two 2 MB downloads: well over a thousand segments each way.
    assert!(captured > 2_000, "{captured}");
    let early = &r[3];
    assert_eq!(early.exit, Some(0), "{early:?}");
    assert_eq!(early.stdout.len(), 3, "{early:?}");
    let read = r.last().unwrap();
    assert_eq!(read.exit, Some(0), "{read:?}");
    assert_eq!(read.stdout.len(), captured, "{:?}", read.stderr);
}

/// On an interface without a link layer, libpcap refuses a filter only
/// ARP could pass; the loopback (Ethernet) and `any` take it, and match
/// nothing an IPv4 network carries.
#[test]
fn arp_on_a_raw_link_rejects_all_packets() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "client", "tcpdump -n -i eth0 arp"),
            ("0s", "client", "tcpdump -n -c 1 -i eth0 'arp or icmp'"),
            ("1s", "client", "ping -c 1 server"),
        ],
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[0].stderr.last().map(String::as_str),
        Some("tcpdump: expression rejects all packets")
    );
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert!(r[1].stdout[0].contains("ICMP echo request"), "{:?}", r[1]);
}

/// A raw-IP pcap of two UDP datagrams 10.0.0.1:5000 > 10.0.0.2:`port`,
/// 4 bytes each (ids 1 and 2), at 1 s and at `second_ms`.
fn udp_pcap(port: u8, second_ms: u64) -> Vec<u8> {
    let udp = |id: u8| -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 32, 0, id, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0,
            port, 0, 12, 0, 0, b'a', b'b', b'c', b'd',
        ];
        let sum = tcplab_wire::checksum::fold(tcplab_wire::checksum::sum(&p[..20]));
        p[10..12].copy_from_slice(&(!sum).to_be_bytes());
        p
    };
    let mut w =
        tcplab_wire::pcap::PcapWriter::new(Vec::new(), tcplab_wire::pcap::LinkType::Raw).unwrap();
    w.write_packet(std::time::Duration::from_secs(1), &udp(1))
        .unwrap();
    w.write_packet(std::time::Duration::from_millis(second_ms), &udp(2))
        .unwrap();
    w.into_inner()
}

/// `-r -` reads the pcap from standard input (the second half of
/// `tcpdump -w - | tcpdump -r -`), `-#` numbers the lines as print.c does
/// (five columns, two spaces), `--count` counts instead of printing, and
/// `-w -` writes the pcap to standard output rather than to a file named
/// `-`.
#[test]
fn pcaps_through_standard_streams_numbers_and_counts() {
    // Two UDP datagrams 10.0.0.1:5000 > 10.0.0.2:53 with 4 bytes each.
    let pcap = udp_pcap(53, 1500);
    let escaped: String = pcap.iter().map(|b| format!("\\{b:03o}")).collect();
    let r = run_in(
        &www_net(),
        &[
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump -n -t -# -r -"),
            ),
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump --count -r - udp"),
            ),
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump --count -r - tcp"),
            ),
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump -r - -w - -c 1"),
            ),
            ("2s", "client", "cat /-"),
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump -r - arp"),
            ),
            (
                "1s",
                "client",
                &format!("printf '{escaped}' | tcpdump --count -r - -w /tmp/c.pcap"),
            ),
            ("2s", "client", "tcpdump -n -t -r /tmp/c.pcap"),
        ],
    );
    // --count with -w still writes every packet (count_mode only stops
    // the printing), and says how many.
    assert_eq!(r[6].stdout, ["2 packets"], "{:?}", r[6]);
    assert_eq!(r[7].stdout.len(), 2, "{:?}", r[7]);
    // libpcap refuses, for a raw-IP file, a filter only ARP could pass.
    assert_eq!(
        (r[5].exit, r[5].stderr.last().map(String::as_str)),
        (Some(1), Some("tcpdump: expression rejects all packets"))
    );
    let numbered = &r[0];
    assert_eq!(numbered.exit, Some(0), "{numbered:?}");
    assert_eq!(
        numbered.stderr,
        ["reading from file -, link-type RAW (Raw IP), snapshot length 65535"]
    );
    // (Four bytes to port 53 are DNS to tcpdump, too short for its header.)
    assert_eq!(
        numbered.stdout,
        [
            "    1  IP 10.0.0.1.5000 > 10.0.0.2.53: domain [length 4 < 12] (invalid)",
            "    2  IP 10.0.0.1.5000 > 10.0.0.2.53: domain [length 4 < 12] (invalid)"
        ]
    );
    assert_eq!(r[1].stdout, ["2 packets"], "{:?}", r[1]);
    assert_eq!(r[2].stdout, ["0 packets"], "{:?}", r[2]);
    // One record to standard output: the 24-byte file header, 16 bytes
    // of record header and the 32-byte datagram (the transcript shows
    // binary bytes as they decode, so only their presence is checked).
    let written = &r[3];
    assert_eq!(written.exit, Some(0), "{written:?}");
    assert!(!written.stdout.concat().is_empty(), "{written:?}");
    assert_eq!(r[4].exit, Some(1), "no file named '-': {:?}", r[4]);
}

/// A file cut short is read up to the cut and then reported in libpcap's
/// words, status 1 (tcpdump 4.99.3, libpcap 1.10.3); an empty one and a
/// pcapng one say what they are.
#[test]
fn a_capture_cut_short_says_where() {
    let pcap = udp_pcap(9, 2000);
    let esc = |b: &[u8]| -> String { b.iter().map(|b| format!("\\{b:03o}")).collect() };
    // Cut inside the second record's header (11 of its 16 bytes).
    let cut = esc(&pcap[..24 + 48 + 11]);
    let r = run_in(
        &www_net(),
        &[
            (
                "1s",
                "client",
                &format!("printf '{cut}' | tcpdump -n -t -r -"),
            ),
            ("1s", "client", "printf '' | tcpdump -n -r -"),
            (
                "1s",
                "client",
                "printf '\\012\\015\\015\\012\\034\\000\\000\\000' | tcpdump -n -r -",
            ),
        ],
    );
    assert_eq!(r[0].exit, Some(1), "{:?}", r[0]);
    assert_eq!(
        r[0].stdout,
        ["IP 10.0.0.1.5000 > 10.0.0.2.9: UDP, length 4"]
    );
    assert_eq!(
        r[0].stderr.last().map(String::as_str),
        Some("tcpdump: pcap_loop: truncated dump file; tried to read 16 header bytes, only got 11")
    );
    assert_eq!(r[1].exit, Some(1), "{:?}", r[1]);
    assert_eq!(
        r[1].stderr,
        ["tcpdump: truncated dump file; tried to read 4 file header bytes, only got 0"]
    );
    assert_eq!(r[2].exit, Some(1), "{:?}", r[2]);
    assert!(
        r[2].stderr[0].starts_with("tcpdump: -: a pcapng file, which tcplab does not read"),
        "{:?}",
        r[2]
    );
}

/// -U: each record goes to the file as its packet is captured, so a
/// reader sees the packets at once; without it they wait in the buffer
/// (until it fills, a quiet second passes, or the capture ends).
#[test]
fn packet_buffered_writes_each_record_at_once() {
    let r = run_in(
        &www_net(),
        &[
            ("0s", "server", "serve http"),
            ("500ms", "client", "tcpdump -U -w /tmp/u.pcap port 80"),
            ("500ms", "client", "tcpdump -w /tmp/b.pcap port 80"),
            (
                "1s",
                "client",
                "curl -s -o /dev/null http://server/hello.txt",
            ),
            ("1.3s", "client", "tcpdump -n -r /tmp/u.pcap"),
            ("1.3s", "client", "tcpdump -n -r /tmp/b.pcap"),
        ],
    );
    assert_eq!(r[4].exit, Some(0), "{:?}", r[4]);
    assert!(r[4].stdout.len() >= 8, "{:?}", r[4]);
    // The buffered one has written its file's header, no record yet.
    assert_eq!(r[5].exit, Some(0), "{:?}", r[5]);
    assert!(r[5].stdout.is_empty(), "{:?}", r[5]);
}
