use super::*;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// `-n` and nothing else.
pub(super) fn numeric_style() -> Style {
    Style {
        numeric: true,
        absolute: false,
        verbose: 0,
        quiet: false,
        link: false,
    }
}

/// An IPv4 header (no options) over `body`, with its checksum; the
/// total length `claimed`, or the real one.
fn v4(
    proto: u8,
    ttl: u8,
    src: [u8; 4],
    dst: [u8; 4],
    body: &[u8],
    claimed: Option<u16>,
) -> Vec<u8> {
    let total = claimed.unwrap_or((20 + body.len()) as u16);
    let mut b = vec![0x45, 0, 0, 0, 0, 7, 0, 0, ttl, proto, 0, 0];
    b[2..4].copy_from_slice(&total.to_be_bytes());
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    let sum = !tcplab_wire::checksum::data(&b);
    b[10..12].copy_from_slice(&sum.to_be_bytes());
    b.extend_from_slice(body);
    b
}

/// -v opens the datagram an ICMP error quotes (print-icmp.c): after a
/// tab, its header and its line; a quote cut short reads its lengths
/// from its header; -e leaves out the "IP " in both; a quote is not
/// opened within a quote; without -v, one line.
#[test]
fn icmp_errors_show_the_datagram_they_quote() {
    // An echo request of 1,028 bytes, of which 8 bytes of ICMP are
    // quoted by "need to frag".
    let echo = [8, 0, 0xf7, 0xfe, 0, 1, 0, 1];
    let inner = v4(1, 64, [10, 0, 1, 2], [10, 0, 2, 2], &echo, Some(1028));
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x02, 0x40];
    icmp.extend_from_slice(&inner);
    let sum = !tcplab_wire::checksum::data(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let outer = v4(1, 64, [10, 0, 1, 1], [10, 0, 1, 2], &icmp, None);
    let style = Style {
        verbose: 1,
        ..numeric_style()
    };
    let mut p = Printer::default();
    let text = p.line(&outer, style);
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with(
            "    10.0.1.1 > 10.0.1.2: ICMP 10.0.2.2 unreachable - need to frag (mtu 576)"
        ),
        "{text}"
    );
    assert_eq!(
        lines[2],
        "\tIP (tos 0x0, ttl 64, id 7, offset 0, flags [none], proto ICMP (1), length 1028)"
    );
    assert_eq!(
        lines[3],
        "    10.0.1.2 > 10.0.2.2: ICMP echo request, id 1, seq 1, length 1008"
    );
    let text = p.line(
        &outer,
        Style {
            link: true,
            ..style
        },
    );
    assert!(text.starts_with("(tos 0x0, ttl 64"), "{text}");
    assert!(text.contains("\n\t(tos 0x0, ttl 64, id 7"), "{text}");
    assert_eq!(
        p.line(
            &outer,
            Style {
                verbose: 0,
                ..style
            }
        )
        .lines()
        .count(),
        1
    );
    // A quote too short to hold a header: the error is not decoded,
    // and nothing is opened.
    let mut short = icmp[..8 + 12].to_vec();
    short[2..4].copy_from_slice(&[0, 0]);
    let sum = !tcplab_wire::checksum::data(&short);
    short[2..4].copy_from_slice(&sum.to_be_bytes());
    let outer = v4(1, 64, [10, 0, 1, 1], [10, 0, 1, 2], &short, None);
    let text = p.line(&outer, style);
    assert!(text.ends_with("ICMP type 3, length 20"), "{text}");
    // A quote whose header is not IPv4's: said, not decoded.
    let mut bad = icmp.clone();
    bad[8] = 0x65;
    let sum = {
        bad[2..4].copy_from_slice(&[0, 0]);
        !tcplab_wire::checksum::data(&bad)
    };
    bad[2..4].copy_from_slice(&sum.to_be_bytes());
    let outer = v4(1, 64, [10, 0, 1, 1], [10, 0, 1, 2], &bad, None);
    let text = p.line(&outer, style);
    assert!(!text.contains("echo request"), "{text}");
}

/// -v checks an ICMP message's checksum (print-icmp.c) and gives the
/// value it should have had; without -v nothing is said.
#[test]
fn a_wrong_icmp_checksum_is_named_under_verbose() {
    let mut reply = vec![0, 0, 0, 0, 0, 1, 0, 1, 0xaa, 0xbb];
    let good = !tcplab_wire::checksum::data(&reply);
    reply[2..4].copy_from_slice(&(good ^ 0x0400).to_be_bytes());
    let packet = v4(1, 64, [10, 0, 0, 2], [10, 0, 0, 1], &reply, None);
    let style = Style {
        verbose: 1,
        ..numeric_style()
    };
    let mut p = Printer::default();
    let text = p.line(&packet, style);
    let want = format!(" (wrong icmp cksum {:x} (->{good:x})!)", good ^ 0x0400);
    assert!(text.ends_with(&want), "{text}");
    assert!(!p
        .line(
            &packet,
            Style {
                verbose: 0,
                ..style
            }
        )
        .contains("wrong"));
    reply[2..4].copy_from_slice(&good.to_be_bytes());
    let packet = v4(1, 64, [10, 0, 0, 2], [10, 0, 0, 1], &reply, None);
    assert!(!p.line(&packet, style).contains("wrong"));
}

#[test]
fn hex_and_ascii_as_tcpdump_prints_them() {
    let lines = hex_and_ascii(b"GET / HTTP/1.1\r\nHost");
    assert_eq!(
        lines,
        [
            "\t0x0000:  4745 5420 2f20 4854 5450 2f31 2e31 0d0a  GET./.HTTP/1.1..",
            "\t0x0010:  486f 7374                                Host",
        ]
    );
    // -A: CR LF is one line break; a CR at the very end is dropped.
    assert_eq!(ascii(b"a b\r\n\x01c\r"), ["a b", ".c"]);
}

/// -v's IP header: the ECN codepoint after the TOS, a bad header
/// checksum with the right one.
#[test]
fn verbose_ip_header_with_ecn_and_a_bad_checksum() {
    let mut h = vec![
        0x45, 0x03, 0x00, 0x14, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1, 10, 0,
        0, 2,
    ];
    let mut p = ipv4::Packet::new_unchecked(&mut h[..]);
    p.fill_checksum();
    let good = p.checksum();
    p.set_checksum(0x1234);
    let ip = ipv4::Packet::new_checked(&h[..]).unwrap();
    assert_eq!(
        ip_header(&ip),
        format!(
            "(tos 0x3,CE, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 20, bad cksum 1234 (->{good:x})!)"
        )
    );
}

#[test]
fn dns_questions_and_answers_as_tcpdump_prints_them() {
    let name = Name::from_ascii("server.lab.test.").unwrap();
    let mut q = Message::new(11833, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name.clone(), RecordType::A));
    let bytes = q.to_vec().unwrap();
    assert_eq!(dns(&bytes, 0), "11833+ A? server.lab.test. (33)");
    let mut r = Message::new(11833, MessageType::Response, OpCode::Query);
    r.metadata.authoritative = true;
    r.metadata.recursion_available = true;
    r.add_query(Query::query(name.clone(), RecordType::A));
    r.add_answer(Record::from_rdata(
        name,
        3725,
        RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::new(10, 99, 3, 2))),
    ));
    let bytes = r.to_vec().unwrap();
    assert_eq!(dns(&bytes, 0), "11833* 1/0/0 A 10.99.3.2 (49)");
    // -v names the owner, -vvv adds the TTL as unsigned_relts_print.
    assert_eq!(
        dns(&bytes, 1),
        "11833* 1/0/0 server.lab.test. A 10.99.3.2 (49)"
    );
    assert_eq!(
        dns(&bytes, 3),
        "11833* q: A? server.lab.test. 1/0/0 server.lab.test. [1h2m5s] A 10.99.3.2 (49)"
    );
    assert_eq!(relts(0), "0s");
    assert_eq!(relts(86_400 + 60), "1d1m");
    // -vv: a reply repeats its question (ns_qprint's " q:").
    assert_eq!(
        dns(&bytes, 2),
        "11833* q: A? server.lab.test. 1/0/0 server.lab.test. A 10.99.3.2 (49)"
    );
}

/// print-http.c through txtproto_print: a request or response line
/// after "HTTP: ", every text line under -v, "HTTP" alone for a
/// segment of a body.
#[test]
fn http_lines_as_tcpdump_prints_them() {
    let req = b"GET /hello.txt HTTP/1.1\r\nHost: server\r\nAccept: */*\r\n\r\n";
    let line = |data: &[u8], v: u8| {
        let mut s = String::new();
        app_layer(&mut s, 40000, 80, data, v);
        s
    };
    assert_eq!(line(req, 0), ": HTTP: GET /hello.txt HTTP/1.1");
    assert_eq!(
        line(req, 1),
        format!(
            ": HTTP, length: {}\n\tGET /hello.txt HTTP/1.1\n\tHost: server\n\tAccept: */*\n\t",
            req.len()
        )
    );
    assert_eq!(
        line(b"HTTP/1.1 404 Not Found\r\n", 0),
        ": HTTP: HTTP/1.1 404 Not Found"
    );
    // A body's segment, a method in lower case (recognised), binary.
    assert_eq!(line(b"<h1>hello</h1>\n", 0), ": HTTP");
    assert_eq!(line(b"get / HTTP/1.0\r\n", 0), ": HTTP: get / HTTP/1.0");
    assert_eq!(line(b"GET /\x01\r\n", 0), ": HTTP");
    // A line cut off at the segment's end is printed as far as it goes,
    // marked as cut short (as a POST's body without a newline is).
    assert_eq!(
        line(b"POST /form HTTP/1.1\r\nContent-Le", 1).lines().last(),
        Some("\tContent-Le [|http]")
    );
    assert_eq!(line(b"GET / HTTP/1.1", 0), ": HTTP: GET / HTTP/1.1 [|http]");
    // Port 8080 too; other ports nothing.
    let mut s = String::new();
    app_layer(&mut s, 8080, 50000, b"HTTP/1.1 200 OK\r\n", 0);
    assert_eq!(s, ": HTTP: HTTP/1.1 200 OK");
    let mut s = String::new();
    app_layer(&mut s, 7, 50000, b"HTTP/1.1 200 OK\r\n", 0);
    assert_eq!(s, "");
}

/// DNS over TCP (print-domain.c with over_tcp): the two-byte length,
/// checked, then the message after a space.
#[test]
fn dns_over_tcp_as_tcpdump_prints_it() {
    let mut q = Message::new(43920, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(
        Name::from_ascii("pool.lab.test.").unwrap(),
        RecordType::A,
    ));
    let msg = q.to_vec().unwrap();
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&msg);
    let line = |data: &[u8]| {
        let mut s = String::new();
        app_layer(&mut s, 50276, 53, data, 0);
        s
    };
    assert_eq!(line(&framed), " 43920+ A? pool.lab.test. (31)");
    assert_eq!(
        line(&framed[..10]),
        " [prefix length(31) != length(8)] (invalid)"
    );
    assert_eq!(line(&[0]), " [DNS over TCP: length 1 < 2] (invalid)");
}

#[test]
fn hex_only_as_tcpdump_x_prints_it() {
    assert_eq!(
        hex_only(b"GET / HTTP/1.1\r\nHost!"),
        [
            "\t0x0000:  4745 5420 2f20 4854 5450 2f31 2e31 0d0a",
            "\t0x0010:  486f 7374 21",
        ]
    );
}

/// -vv shows a query's and a response's additional records with the EDNS
/// OPT record last (UDPsize, DO, the options by name); the payloads and
/// the lines are dig's queries and named's answers as tcpdump 4.99 -vv
/// printed them.
#[test]
fn edns_as_tcpdump_prints_it() {
    let cases = [
        ("e9070120000100000000000106736572766572036c61620474657374000001000100002904d000000000000c000a0008652ab9f388284df0",
         "59655+ [1au] A? server.lab.test. ar: . OPT UDPsize=1232 [COOKIE 652ab9f388284df0] (56)"),
        ("e9078500000100010000000106736572766572036c616204746573740000010001c00c000100010000012c00040a00020200002904d000000000001c000a0018652ab9f388284df0010000006b155151c4057810d16176ba",
         "59655*- q: A? server.lab.test. 1/0/1 server.lab.test. A 10.0.2.2 ar: . OPT UDPsize=1232 [COOKIE 652ab9f388284df0 010000006b155151c4057810d16176ba] (88)"),
        ("c79801200001000000000001036c6162047465737400000f000100002904d000008000001700080007000118000a0102000a00082936a479cc35cbc9",
         "51096+ [1au] MX? lab.test. ar: . OPT UDPsize=1232 DO [ECS 10.1.2.0/24/0,COOKIE 2936a479cc35cbc9] (60)"),
        ("c79885000001000100000002036c6162047465737400000f0001c00c000f00010000012c000b000a06736572766572c00cc028000100010000012c00040a00020200002904d0000080000027000a00182936a479cc35cbc9010000006b155151f82645f38a9ab2a300080007000118000a0102",
         "51096*- q: MX? lab.test. 1/0/2 lab.test. MX server.lab.test. 10 ar: server.lab.test. A 10.0.2.2, . OPT UDPsize=1232 DO [COOKIE 2936a479cc35cbc9 010000006b155151f82645f38a9ab2a3,ECS 10.1.2.0/24/0] (115)"),
    ];
    for (payload, line) in cases {
        assert_eq!(dns(&hex(payload), 2), line);
    }
    // Without -vv: the counts only.
    assert_eq!(
        dns(&hex(cases[0].0), 0),
        "59655+ [1au] A? server.lab.test. (56)"
    );
    assert_eq!(edns_option(12, &[0; 5]), "PADDING (5)");
    assert_eq!(edns_option(11, &[0, 25]), "KEEPALIVE 2.5 sec");
    assert_eq!(
        edns_option(5, &[8, 13, 99]),
        "DAU RSASHA256 ECDSAP256SHA256 Alg_99"
    );
    assert_eq!(edns_option(10, &[1, 2, 3]), "COOKIE (invalid)");
    assert_eq!(edns_option(300, &[0xab]), "Opt300 ab");
}

/// Bytes from hex text.
fn hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// The response code tcpdump names: the header's four bits, extended by
/// the OPT record's upper eight (RFC 6891 §6.1.3). The lines are what
/// tcpdump 4.99.3 printed for these payloads (crafted, written to a pcap).
#[test]
fn extended_response_codes_as_tcpdump_names_them() {
    let cases = [
        (
            "1234810000010000000000010161000001000100002904d0010000000000",
            "4660 BadVers- 0/0/1 (30)",
        ),
        (
            "1234810f000100000000000001610000010001",
            "4660 NoChange- 0/0/0 (19)",
        ),
        (
            "1234810100010000000000010161000001000100002904d0010000000000",
            "4660Resp17- 0/0/1 (30)",
        ),
        (
            "1234810000010000000000010161000001000100002904d0020000000000",
            "4660 Resp32- 0/0/1 (30)",
        ),
        (
            "1234810000010000000000010161000001000100002904d0ff0000000000",
            "4660 Resp4080- 0/0/1 (30)",
        ),
        (
            "12348105000100000000000001610000010001",
            "4660 Refused- 0/0/0 (19)",
        ),
    ];
    for (payload, line) in cases {
        assert_eq!(dns(&hex(payload), 0), line, "{payload}");
    }
    // An OPT record the walk cannot reach leaves the header's bits.
    let cut = hex("1234810000010000000000010161");
    assert_eq!(dns(&cut, 0), "4660- [|domain]");
}

/// tcpdump 4.99.3's print-udp.c: the ports from four bytes on, the length from the UDP
/// header — a first fragment carries only the start of its datagram —
/// and a datagram shorter than its header says is a bad length.
#[test]
fn udp_lengths_come_from_the_udp_header() {
    let udp = |ulen: u16, body: usize| {
        let mut b = vec![0xcf, 0xf1, 0x27, 0x0f, 0, 0, 0, 0];
        b[4..6].copy_from_slice(&ulen.to_be_bytes());
        b.resize(8 + body, b'x');
        b
    };
    let line = |packet: &[u8]| Printer::default().line(packet, numeric_style());
    let mut first = v4(
        17,
        64,
        [10, 0, 1, 2],
        [10, 0, 2, 2],
        &udp(20_009, 1_472),
        None,
    );
    first[6] = 0x20; // more fragments
    first[10..12].copy_from_slice(&[0, 0]);
    let sum = !tcplab_wire::checksum::data(&first[..20]);
    first[10..12].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        line(&first),
        "IP 10.0.1.2.53233 > 10.0.2.2.9999: UDP, length 20001"
    );
    let short = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &udp(108, 20), None);
    assert_eq!(
        line(&short),
        "IP 10.0.1.2.53233 > 10.0.2.2.9999: UDP, bad length 100 > 20"
    );
    let whole = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &udp(28, 20), None);
    assert_eq!(
        line(&whole),
        "IP 10.0.1.2.53233 > 10.0.2.2.9999: UDP, length 20"
    );
    let tiny = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &[0xcf, 0xf1], None);
    assert_eq!(line(&tiny), "IP 10.0.1.2 > 10.0.2.2:  [|udp]");
    let six = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &udp(8, 0)[..6], None);
    assert_eq!(
        line(&six),
        "IP 10.0.1.2.53233 > 10.0.2.2.9999: truncated-udp 6"
    );
    let bad = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &udp(4, 0), None);
    assert_eq!(
        line(&bad),
        "IP 10.0.1.2.53233 > 10.0.2.2.9999: truncated-udplength 4"
    );
}

/// The printer's memory is bounded under a flood of conversations (a
/// spoofed ACK from every port): past BASES_MAX it starts afresh, and
/// so does the table of names past NAMES_MAX.
#[test]
fn the_printers_memory_is_bounded() {
    let mut p = Printer::default();
    for i in 0..(BASES_MAX + 10) as u32 {
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&((i % 60_000) as u16 + 1).to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&i.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x10; // ACK
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        p.line(&v4(6, 64, src, [10, 0, 0, 1], &tcp, None), numeric_style());
        assert!(p.bases.len() <= 2 * BASES_MAX);
    }
    for i in 0..(NAMES_MAX + 10) as u32 {
        p.make_room(2);
        p.learn(Ipv4Addr::from(2 * i), None);
        p.learn(Ipv4Addr::from(2 * i + 1), None);
        assert!(p.names.len() <= NAMES_MAX);
    }
}

/// A damaged IPv4 datagram or TCP header reads in tcpdump 4.99's words
/// (print-ip.c's ipN_print and ip_print, print-tcp.c's header checks),
/// in the order tcpdump checks.
#[test]
fn damaged_datagrams_read_in_tcpdumps_words() {
    let line = |packet: &[u8]| Printer::default().line(packet, numeric_style());
    let (a, b) = ([10, 0, 1, 2], [10, 0, 2, 2]);
    assert_eq!(line(&[]), "truncated-ip 0");
    assert_eq!(line(&[0x55; 24]), "unknown ip 5");
    assert_eq!(line(&[0x45, 0, 0, 20, 0, 0]), "IP  [|ip]");
    let mut short_header = v4(6, 64, a, b, &[], None);
    short_header[0] = 0x44;
    assert_eq!(line(&short_header), "IP bad-hlen 16");
    assert_eq!(line(&v4(6, 64, a, b, &[], Some(12))), "IP bad-len 12");
    // A TCP header with its data offset and flags, and nothing else.
    let tcp = |offset: u8, flags: u8| {
        let mut t = vec![
            0x30,
            0x39,
            0,
            80,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            offset << 4,
            flags,
        ];
        t.resize(20, 0);
        t
    };
    let cut = v4(6, 64, a, b, &tcp(5, 0x02), Some(60));
    assert_eq!(
        line(&cut),
        "IP truncated-ip - 20 bytes missing! 10.0.1.2.12345 > 10.0.2.2.80: Flags [S], seq 1:21, win 0, length 20"
    );
    assert_eq!(
        line(&v4(6, 64, a, b, &[0x30, 0x39], None)),
        "IP 10.0.1.2 > 10.0.2.2: [|tcp]"
    );
    assert_eq!(
        line(&v4(6, 64, a, b, &tcp(5, 0x02)[..12], None)),
        "IP 10.0.1.2.12345 > 10.0.2.2.80:  [|tcp]"
    );
    assert_eq!(
        line(&v4(6, 64, a, b, &tcp(3, 0x02), None)),
        "IP 10.0.1.2.12345 > 10.0.2.2.80:  tcp 8 [bad hdr length 12 - too short, < 20]"
    );
    assert_eq!(
        line(&v4(6, 64, a, b, &tcp(15, 0x12), None)),
        "IP 10.0.1.2.12345 > 10.0.2.2.80: Flags [S.] [bad hdr length 60 - too long, > 20]"
    );
}

/// A record cut by a snapshot length (a file from a capture with `-s`):
/// nothing is "missing" from the datagram, and a transport header cut
/// short prints as tcpdump's bounds checks print it, not decoded from
/// zeros.
#[test]
fn a_snapshot_cut_is_not_a_damaged_datagram() {
    let (a, b) = ([10, 0, 1, 2], [10, 0, 2, 2]);
    let mut tcp = vec![0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 5 << 4, 0x18];
    tcp.resize(20, 0);
    tcp.extend([7u8; 1400]);
    let whole = v4(6, 64, a, b, &tcp, None);
    let mut p = Printer::default();
    let style = numeric_style();
    // 96 bytes of 1,440 captured: the header whole, the data cut.
    let line = p.line_of(&whole[..96], whole.len(), style);
    assert!(
        line.starts_with("IP 10.0.1.2.12345 > 10.0.2.2.80: Flags [P.], seq 1:1401"),
        "{line}"
    );
    // 30 captured: ten bytes of the TCP header.
    assert_eq!(
        p.line_of(&whole[..30], whole.len(), style),
        "IP 10.0.1.2.12345 > 10.0.2.2.80:  [|tcp]"
    );
    // What the wire lacked is still said.
    let line = p.line_of(&whole[..30], 30, style);
    assert!(
        line.starts_with("IP truncated-ip - 1410 bytes missing! "),
        "{line}"
    );
}

/// A dot inside a label prints as it is (tcpdump's fqdn_print escapes
/// none), unprintable bytes in fn_print_char's notation.
#[test]
fn dns_names_print_their_labels_bytes_as_tcpdump_does() {
    use hickory_proto::rr::Name;
    let n = Name::from_labels(vec![b"host.master".to_vec(), b"example".to_vec()]).unwrap();
    assert_eq!(dns_name(&n), "host.master.example.");
    let odd = Name::from_labels(vec![vec![b'a', 7, 0xe9]]).unwrap();
    assert_eq!(dns_name(&odd), "a^GM-i.");
    assert_eq!(dns_name(&Name::root()), ".");
}

/// What tcpdump 4.99.3 printed (`-n`, then `-vv`) for DNS messages that
/// are cut or are not DNS at all, sent to port 53: shorter than the
/// header, the header's words then `[|domain]` where the sections stop
/// parsing; a header alone with no question is whole.
#[test]
fn damaged_dns_as_tcpdump_prints_it() {
    assert_eq!(dns(b"hello\n", 0), "domain [length 6 < 12] (invalid)");
    assert_eq!(
        dns(b"hello world garbage!\n", 0),
        "26725 updateMA [b2&3=0x6c6c] [30575a] [28448q] [29292n] [25632au] [|domain]"
    );
    let cut_question = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03abc";
    assert_eq!(dns(cut_question, 0), "4660+ [|domain]");
    let empty = b"\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(dns(empty, 2), "4660+ [0q] (12)");
}

/// Port 53 over UDP is DNS to tcpdump whatever the datagram holds.
#[test]
fn a_short_datagram_to_port_53_is_invalid_dns() {
    let mut d = vec![0u8; 8];
    d.extend_from_slice(b"hello\n");
    let mut u = udp::Packet::new_unchecked(&mut d[..]);
    u.set_src_port(40000);
    u.set_dst_port(53);
    u.set_len(14);
    let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    u.fill_checksum(a, b);
    let mut s = String::new();
    udp_line(
        &mut s,
        (a, b),
        &(a.to_string(), b.to_string()),
        &d,
        Style::default(),
        false,
    );
    assert_eq!(
        s,
        "10.0.0.1.40000 > 10.0.0.2.domain: domain [length 6 < 12] (invalid)"
    );
}

/// Without -n an unreachable names the quoted destination, and a port
/// unreachable its port, as print-icmp.c does with ipaddr_string and
/// udpport_string (tcpdump 4.99.3: `ICMP b udp port domain unreachable`);
/// the printer asks for the quoted destination's name with the outer
/// addresses, even without -v.
#[test]
fn icmp_errors_name_what_they_quote() {
    let udp = [0xc3, 0x50, 0, 53, 0, 14, 0, 0];
    let inner = v4(17, 64, [10, 0, 1, 2], [10, 0, 2, 2], &udp, Some(34));
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&inner);
    let sum = !tcplab_wire::checksum::data(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let outer = v4(1, 64, [10, 0, 2, 2], [10, 0, 1, 2], &icmp, None);
    let style = Style {
        numeric: false,
        ..numeric_style()
    };
    let mut p = Printer::default();
    let asked = p.unnamed(&outer, style);
    assert_eq!(
        asked,
        [Ipv4Addr::new(10, 0, 2, 2), Ipv4Addr::new(10, 0, 1, 2)]
    );
    p.learn(Ipv4Addr::new(10, 0, 2, 2), Some("b".into()));
    p.learn(Ipv4Addr::new(10, 0, 1, 2), Some("a".into()));
    assert_eq!(
        p.line(&outer, style),
        "IP b > a: ICMP b udp port domain unreachable, length 36"
    );
    assert_eq!(
        p.line(&outer, numeric_style()),
        "IP 10.0.2.2 > 10.0.1.2: ICMP 10.0.2.2 udp port 53 unreachable, length 36"
    );
}
