//! The filter language's tests: parsing, matching, lengths, arithmetic.

use super::*;

fn f(s: &str) -> Filter {
    Filter::parse(&[s.to_string()]).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn bad(s: &str) -> String {
    Filter::parse(&[s.to_string()]).expect_err(s)
}

/// An IPv4 datagram of `proto` from 10.0.0.1:`sport` to
/// 10.0.0.2:`dport`, 40 bytes.
pub(crate) fn packet(proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[3] = 40;
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p
}

#[test]
fn filters_parse_and_match_as_pcap_reads_them() {
    let (tcp80, udp80, tcp22) = (
        packet(6, 1000, 80),
        packet(17, 1000, 80),
        packet(6, 1000, 22),
    );
    let icmp = packet(1, 0, 0);
    let m = |expr: &str, p: &[u8]| f(expr).matches(p);
    assert!(m("", &icmp));
    assert!(m("tcp and port 80", &tcp80) && !m("tcp and port 80", &udp80));
    assert!(m("icmp or udp", &icmp) && m("icmp or udp", &udp80) && !m("icmp or udp", &tcp80));
    // A protocol qualifies the port after it, and `not` covers both.
    assert!(m("tcp port 80", &tcp80) && !m("tcp port 80", &udp80));
    assert!(!m("not tcp port 80", &tcp80));
    assert!(m("not tcp port 80", &udp80) && m("not tcp port 80", &tcp22));
    assert!(!m("not tcp src port 1000", &tcp22) && m("not tcp src port 1000", &udp80));
    assert!(m("udp src port 1000 or not icmp", &udp80));
    assert!(m("not not tcp && ! dst host 10.0.0.9", &tcp22));
    assert!(!m("! dst host 10.0.0.2", &tcp22));
    // Left to right, equal precedence: (icmp or udp) and port 80.
    assert!(!m("icmp or udp and port 80", &icmp));
    assert!(m("icmp or udp and port 80", &udp80));
    assert!(m("port 22 and tcp or icmp", &icmp));
    assert!(Filter::parse(&["port".to_string()]).is_err());
    assert!(Filter::parse(&["frobs".to_string()]).is_err());
    assert!(Filter::parse(&["greater".to_string()]).is_err());
    for bad in [
        "tcp and",
        "and tcp",
        "tcp or",
        "not",
        "tcp udp",
        "port 80 host 10.0.0.1",
        "tcp not udp",
        "src tcp",
        "src",
        "tcp and or udp",
        "port 80 tcp",
    ] {
        let words: Vec<String> = bad.split_whitespace().map(String::from).collect();
        assert!(Filter::parse(&words).is_err(), "{bad}");
    }
    // libpcap's words first, then where.
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(String::from).collect() };
    assert_eq!(
        Filter::parse(&words("tcp and")).unwrap_err(),
        "can't parse filter expression: syntax error (it ends after `and`)"
    );
    assert!(Filter::parse(&words("tcp udp"))
        .unwrap_err()
        .starts_with("can't parse filter expression: syntax error"));
}

/// libpcap's words for numbers and ports it cannot take (tcpdump 4.99.3
/// on a TUN device, checked), and the protocols an IPv4 capture never
/// holds: `ip6` and `arp` are filters that match nothing, Ethernet
/// addresses are refused on a link without them.
#[test]
fn numbers_ports_and_other_protocols_as_libpcap_says() {
    let parse = |f: &str| Filter::parse(&[f.to_string()]);
    assert_eq!(
        parse("port 99999").unwrap_err(),
        "illegal port number 99999 > 65535"
    );
    assert_eq!(
        parse("tcp[tcpflags] & 0xffffffffff != 0").unwrap_err(),
        "number 0xffffffffff overflows 32 bits"
    );
    assert_eq!(
        parse("len > 99999999999999999999").unwrap_err(),
        "number 99999999999999999999 overflows 32 bits"
    );
    assert_eq!(parse("port foo").unwrap_err(), "unknown port 'foo'");
    assert!(parse("port http").is_ok() && parse("udp port domain").is_ok());
    assert_eq!(
        parse("ether host 1:2:3:4:5:6").unwrap_err(),
        "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel"
    );
    for nothing in [
        "ip6",
        "arp",
        "ip6 and tcp",
        "arp host 10.0.1.3",
        "ip6 host ::1",
        "ip6 proto 6",
        "ip6 src or dst host ::1",
        "rarp src 10.0.0.1 and tcp",
    ] {
        let f = parse(nothing).unwrap();
        assert!(!f.matches(&packet(6, 1000, 80)), "{nothing}");
    }
    assert!(parse("ip6 or tcp").unwrap().matches(&packet(6, 1000, 80)));
    // What a raw IP link can never pass (libpcap: "expression rejects all
    // packets"): ARP, alone or where only it could let a packet through.
    for (filter, rejects) in [
        ("arp", true),
        ("rarp and tcp", true),
        ("not not arp", true),
        ("arp or tcp", false),
        ("ip6", false),
        ("not arp", false),
        ("tcp", false),
    ] {
        assert_eq!(
            parse(filter).unwrap().rejects_all_raw(),
            rejects,
            "{filter}"
        );
    }
}

/// libpcap refuses a constant divisor of zero and a constant shift of
/// more than 31 bits when it compiles the filter, not at match time.
#[test]
fn constant_divisors_and_shifts_are_checked() {
    let parse = |f: &str| Filter::parse(&[f.to_string()]);
    assert_eq!(parse("ip[0:4] / 0 = 1").unwrap_err(), "division by zero");
    assert_eq!(parse("len % 0 = 1").unwrap_err(), "modulus by zero");
    assert_eq!(
        parse("ip[0] << 99 = 1").unwrap_err(),
        "shift by more than 31 bits"
    );
    assert_eq!(
        parse("ip[0] >> 32 = 1").unwrap_err(),
        "shift by more than 31 bits"
    );
    assert!(parse("ip[0] << 31 = 0").is_ok());
    assert!(parse("len / 2 > 10").is_ok());
    // Not a constant: judged per packet, as in libpcap.
    assert!(parse("len / (ip[0] & 0) = 1").is_ok());
}

#[test]
fn lengths() {
    // A 40-byte TCP/IP header with no payload.
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[3] = 40;
    p[8] = 64;
    p[9] = 6;
    assert!(f("greater 40").matches(&p));
    assert!(!f("greater 41").matches(&p));
    assert!(f("less 40").matches(&p));
    assert!(!f("tcp and less 39").matches(&p));
}

/// A TCP packet from 10.0.0.1:1000 to 10.0.0.2:80 with `flags`.
fn tcp_flags(flags: u8) -> Vec<u8> {
    let mut p = packet(6, 1000, 80);
    p[33] = flags;
    p
}

#[test]
fn parentheses_group_and_not_binds_tightest() {
    let (tcp80, udp80, tcp22) = (
        packet(6, 1000, 80),
        packet(17, 1000, 80),
        packet(6, 1000, 22),
    );
    let icmp = packet(1, 0, 0);
    let e = "tcp and (port 80 or port 22)";
    assert!(f(e).matches(&tcp80) && f(e).matches(&tcp22) && !f(e).matches(&udp80));
    let e = "icmp or (udp and port 80)";
    assert!(f(e).matches(&icmp) && f(e).matches(&udp80) && !f(e).matches(&tcp80));
    let e = "not (tcp or udp)";
    assert!(f(e).matches(&icmp) && !f(e).matches(&tcp80));
    // Written without spaces, and nested.
    assert!(f("((tcp))&&(port 22||port 23)").matches(&tcp22));
    assert!(f("!(port 80)").matches(&tcp22));
    for e in ["(tcp", "tcp)", "()", "tcp and (", ") tcp", "(port 80 or)"] {
        bad(e);
    }
}

#[test]
fn src_or_dst_and_repeated_qualifiers() {
    let p = packet(6, 1000, 80); // 10.0.0.1:1000 -> 10.0.0.2:80
    assert!(f("src or dst host 10.0.0.1").matches(&p));
    assert!(f("dst or src host 10.0.0.2").matches(&p));
    assert!(!f("src and dst host 10.0.0.1").matches(&p));
    assert!(f("src and dst host 10.0.0.1").matches(&{
        let mut q = p.clone();
        q[16..20].copy_from_slice(&[10, 0, 0, 1]);
        q
    }));
    assert!(f("tcp src or dst port 80").matches(&p));
    assert!(!f("src and dst port 80").matches(&p));
    // `src host A or dst host B` is two primitives, not one qualifier.
    assert!(f("src host 10.0.0.9 or dst host 10.0.0.2").matches(&p));
    // A bare value takes the qualifiers before it.
    assert!(f("port 22 or 80").matches(&p));
    assert!(!f("tcp dst port 22 or 1000").matches(&p));
    assert!(f("tcp src port 22 or 1000").matches(&p));
    assert!(!f("udp port 22 or 80").matches(&p));
    assert!(f("host 10.0.0.9 or 10.0.0.2").matches(&p));
    assert!(!f("host 10.0.0.1 and not 10.0.0.2").matches(&p));
    assert!(f("src 10.0.0.1").matches(&p) && !f("dst 10.0.0.1").matches(&p));
    // Nothing to repeat.
    bad("80");
    bad("tcp or 80");
}

#[test]
fn networks_and_port_ranges() {
    let p = packet(6, 1000, 80);
    assert!(f("net 10.0.0.0/24").matches(&p));
    assert!(f("src net 10").matches(&p) && f("dst net 10.0").matches(&p));
    assert!(!f("net 192.168.0.0/16").matches(&p));
    assert!(f("net 0.0.0.0/0").matches(&p));
    assert!(bad("net 10.0.0.1/24").contains("non-network bits"));
    bad("net 10.0.0.0/33");
    bad("net 300");
    assert!(f("portrange 20-80").matches(&p) && f("portrange 80-20").matches(&p));
    assert!(!f("dst portrange 81-1000").matches(&p));
    assert!(f("tcp src portrange 999-1001").matches(&p));
    bad("portrange 80");
    bad("icmp port 80");
    assert!(f("ip proto 17").matches(&packet(17, 1, 2)));
    assert!(f("ip proto \\tcp").matches(&p) && !f("ip proto udp").matches(&p));
    assert!(f("ip and tcp").matches(&p));
    // pcap-filter(7)'s other ways to write them: a short network before
    // its length, a network and its mask, `proto` without `ip`, the
    // multicast range.
    assert!(f("net 10/8").matches(&p) && f("src net 10.0/16").matches(&p));
    assert!(!f("net 192.168/16").matches(&p));
    assert!(f("net 10.0.0.0 mask 255.0.0.0").matches(&p));
    assert!(f("dst net 10.0.0.0 mask 255.255.255.0").matches(&p));
    assert!(!f("net 192.168.0.0 mask 255.255.0.0").matches(&p));
    assert!(bad("net 10.0.0.1 mask 255.0.0.0").contains("non-network bits"));
    assert_eq!(bad("net 10.0.0.0/33"), "mask length must be <= 32");
    assert!(f("proto 17").matches(&packet(17, 1, 2)) && !f("proto 17").matches(&p));
    assert!(f("proto \\tcp").matches(&p));
    let mut m = packet(17, 1, 2);
    m[16..20].copy_from_slice(&[224, 0, 0, 251]);
    assert!(f("ip multicast").matches(&m) && !f("ip multicast").matches(&p));
    m[16..20].copy_from_slice(&[255, 255, 255, 255]);
    assert!(f("ip multicast").matches(&m), "ip[16] >= 224");
    m[16..20].copy_from_slice(&[223, 255, 255, 255]);
    assert!(!f("ip multicast").matches(&m));
    assert!(bad("ip broadcast").contains("not supported in tcplab"));
    // A host as libpcap reads a number: decimal bytes, short is a network.
    assert!(f("host 010.0.0.1").matches(&p), "010 is 10 to libpcap");
    assert!(f("host 10.0").matches(&p) && !f("host 10.1").matches(&p));
    assert!(f("src 10.0.0.1").matches(&p));
    bad("host 10.0.0.256");
    bad("host 1.2.3.4.5");
}

#[test]
fn header_bytes_and_arithmetic() {
    let syn = tcp_flags(0x02);
    let ack = tcp_flags(0x10);
    let fin_ack = tcp_flags(0x11);
    let syn_only = "tcp[tcpflags] & tcp-syn != 0";
    assert!(f(syn_only).matches(&syn) && !f(syn_only).matches(&ack));
    let e = "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0";
    assert!(f(e).matches(&syn) && f(e).matches(&fin_ack) && !f(e).matches(&ack));
    assert!(f("tcp[13] = 2").matches(&syn) && f("tcp[13] == 0x11").matches(&fin_ack));
    // A parenthesis that opens arithmetic, not a group.
    assert!(f("(tcp[13] & 2) != 0").matches(&syn));
    assert!(f("(tcp[13] & 2) != 0 and port 80").matches(&syn));
    assert!(f("port 80 and (tcp[13] & 16 = 16)").matches(&ack));
    // Ports as 2-byte loads; the IP header's own fields.
    assert!(f("tcp[2:2] = 80 and tcp[0:2] == 1000").matches(&syn));
    assert!(f("ip[8] = 64 and ip[9] == 6 and ip[0] & 0xf = 5").matches(&syn));
    assert!(f("ip[12:4] = 0x0a000001").matches(&syn));
    assert!(f("len >= 40 and len <= 40 and len - 20 = 20").matches(&syn));
    assert!(f("len > 10 * 3 + 9").matches(&syn) && !f("len > 10 * (3 + 9)").matches(&syn));
    assert!(f("2 + 3 * 4 = 14 and 1 << 4 = 16 and 17 % 5 = 2").matches(&syn));
    // ICMP's names.
    let mut echo = packet(1, 0, 0);
    echo[20] = 8;
    assert!(f("icmp[icmptype] = icmp-echo").matches(&echo));
    assert!(f("icmp[icmptype] != icmp-echoreply").matches(&echo));
    // tcp[...] of a UDP packet: the relation is false.
    let udp = packet(17, 1000, 80);
    assert!(!f("tcp[13] = 0").matches(&udp) && f("not tcp[13] = 0").matches(&udp));
    // A load past the end rejects the packet, whatever surrounds it
    // (BPF returns 0); a division by a divisor that is zero at run
    // time too (a constant zero is refused when the filter is read).
    assert!(!f("tcp[100] = 0 or tcp").matches(&syn));
    assert!(!f("not tcp[100] = 1").matches(&syn));
    assert!(f("tcp or tcp[100] = 0").matches(&syn));
    assert!(!f("len / (len - len) = 0 or tcp").matches(&syn));
    for e in [
        "tcp[13:3] = 1",
        "tcp[13 = 1",
        "tcp[13]",
        "tcp[13] &",
        "len >",
        "len",
        "tcp[frobs] = 1",
        "tcp[13] = 2 2",
    ] {
        bad(e);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    for open in ["(", "not ", "! ", "- "] {
        // Too long to take at all; within the length, too deep.
        let e = format!("{}tcp", open.repeat(100_000));
        assert!(bad(&e).contains("too complex"), "{open}");
        let e = format!("{}tcp", open.repeat(500));
        assert!(bad(&e).contains("nested"), "{open}");
    }
    assert!(bad(&format!("{}tcp[1] = 1{}", "(".repeat(70), ")".repeat(70))).contains("nested"));
    assert!(f(&format!("{}tcp{}", "(".repeat(20), ")".repeat(20))).matches(&packet(6, 1, 2)));
    assert!(
        f(&format!("{}tcp[13] = 0{}", "(".repeat(30), ")".repeat(30))).matches(&packet(6, 1, 2))
    );
}

/// A long chain of operators is refused before it makes a tree too
/// deep to walk; one at the limit still evaluates.
#[test]
fn long_chains_are_bounded() {
    let many = format!("len = 0{}", " + 0".repeat(100_000));
    assert!(bad(&many).contains("too complex"));
    let ors = format!("port 1{}", " or 1".repeat(100_000));
    assert!(bad(&ors).contains("too complex"));
    // 2 + 2 * 511 = 1024 words: allowed, and evaluated in a debug
    // build's test thread without trouble.
    let longest = format!("port 80{}", " or 1".repeat(511));
    assert!(f(&longest).matches(&packet(6, 1000, 80)));
    let sum = format!("len = 40{}", " + 0".repeat(510));
    assert!(f(&sum).matches(&packet(6, 1000, 80)));
    // A bare value does not repeat qualifiers across a bare protocol
    // or a relation.
    bad("port 22 or tcp or 80");
    bad("port 22 or tcp[13] = 2 or 80");
}

#[test]
fn the_lexer_splits_operators_and_keeps_words() {
    assert_eq!(
        lex("tcp[13]&0x12!=0&&!(net 10.0.0.0/8||portrange 1-9)"),
        [
            "tcp",
            "[",
            "13",
            "]",
            "&",
            "0x12",
            "!=",
            "0",
            "&&",
            "!",
            "(",
            "net",
            "10.0.0.0/8",
            "||",
            "portrange",
            "1-9",
            ")"
        ]
    );
    assert_eq!(lex("len / 2"), ["len", "/", "2"]);
}

/// Any string parses to an answer or an error, and a filter that
/// parses evaluates on any bytes without panicking.
#[test]
fn arbitrary_text_and_bytes_never_panic() {
    let words = [
        "tcp",
        "udp",
        "icmp",
        "ip",
        "(",
        ")",
        "[",
        "]",
        ":",
        "and",
        "or",
        "not",
        "!",
        "&&",
        "||",
        "src",
        "dst",
        "host",
        "net",
        "port",
        "portrange",
        "10.0.0.1",
        "10.0.0.0/8",
        "80",
        "1-9",
        "len",
        "=",
        "!=",
        "<",
        ">=",
        "&",
        "|",
        "+",
        "-",
        "*",
        "/",
        "%",
        "<<",
        ">>",
        "4",
        "0",
        "tcpflags",
        "tcp-syn",
        "greater",
        "less",
        "proto",
        "0xffffffff",
        "99999999999",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..20_000 {
        let n = 1 + rnd(8);
        let text: Vec<&str> = (0..n).map(|_| words[rnd(words.len())]).collect();
        let text = text.join(" ");
        if let Ok(filter) = Filter::parse(std::slice::from_ref(&text)) {
            let mut p = packet([1, 6, 17][rnd(3)], rnd(65536) as u16, 80);
            p.truncate(20 + rnd(21));
            let _ = filter.matches(&p);
        }
    }
}

/// `host NAME` is looked up as libpcap looks names up when it compiles a
/// filter: the names are listed first, then each matches its address;
/// one nobody knows is libpcap's "unknown host".
#[test]
fn host_names_are_looked_up() {
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        Filter::host_names(&words(
            "host server and (src host client or port 80) and not host 10.0.0.9 or dst host server"
        )),
        ["client", "server"]
    );
    let hosts = |n: &str| match n {
        "server.lab" => Ok(Ipv4Addr::new(10, 0, 0, 2)),
        _ => Err(format!("unknown host '{n}'")),
    };
    let to_server = packet(6, 1000, 80);
    let f = Filter::parse_with(&words("dst host server.lab"), &hosts).unwrap();
    assert!(f.matches(&to_server));
    let f = Filter::parse_with(&words("src host server.lab"), &hosts).unwrap();
    assert!(!f.matches(&to_server));
    assert_eq!(
        Filter::parse_with(&words("host nosuch"), &hosts).unwrap_err(),
        "unknown host 'nosuch'"
    );
    // Checked as names only when nothing is looked up.
    assert!(Filter::parse(&words("host server")).is_ok());
    // libpcap promotes a short address to a network (tcpdump -d checked:
    // `and #0xffffff00`).
    assert!(Filter::parse(&words("host 10.0.0"))
        .unwrap()
        .matches(&packet(6, 1, 2)));
    assert!(Filter::parse(&words("host -x")).is_err());
}

/// An IPv6 packet of a raw-IP capture: `ip6`, `not ip`, its next header
/// and ports pass as pcap passes them; nothing that tests IPv4 does.
#[test]
fn ipv6_packets_pass_what_pcap_passes_them() {
    let v6 = |next: u8, sport: u16, dport: u16| -> Vec<u8> {
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&8u16.to_be_bytes());
        p[6] = next;
        p[7] = 64;
        p[40..42].copy_from_slice(&sport.to_be_bytes());
        p[42..44].copy_from_slice(&dport.to_be_bytes());
        p
    };
    let (rs, tcp80) = (v6(58, 0x8500, 0), v6(6, 1000, 80));
    let m = |expr: &str, p: &[u8]| f(expr).matches(p);
    for pass in [
        "ip6",
        "not ip",
        "icmp6",
        "ip6 and icmp6",
        "len = 48",
        "greater 40",
    ] {
        assert!(m(pass, &rs), "{pass}");
    }
    for fail in [
        "ip",
        "icmp",
        "tcp",
        "host 10.0.0.1",
        "not ip6",
        "ip[0] = 0x60",
        "ip6 host ::1",
        "ip proto 58",
        "ip proto \\icmp",
        "ip6 proto 6",
    ] {
        assert!(!m(fail, &rs), "{fail}");
    }
    assert!(m("tcp port 80", &tcp80) && m("ip6 and tcp", &tcp80) && !m("udp", &tcp80));
    assert!(m("ip6 proto 58", &rs) && m("proto 58", &rs) && m("ip6 proto \\tcp", &tcp80));
    assert!(!m("ip proto 6", &tcp80) && !m("ip port 80", &tcp80) && m("port 80", &tcp80));
    assert!(!m("tcp[13] = 0", &tcp80), "tcp[] is IPv4's");
    // And an IPv4 packet is not `ip6` or `icmp6`.
    let v4 = packet(6, 1000, 80);
    assert!(!m("ip6", &v4) && !m("icmp6", &v4) && m("not ip6", &v4));
    assert!(m("ip proto 6", &v4) && m("ip port 80", &v4) && !m("ip6 proto 6", &v4));
}

/// `port not 53`, `host not 10.0.0.1`: pcap's grammar negates the value.
#[test]
fn a_negated_value_negates_its_primitive() {
    let m = |expr: &str, p: &[u8]| f(expr).matches(p);
    let (dns, web) = (packet(17, 1000, 53), packet(6, 1000, 80));
    assert!(!m("port not 53", &dns) && m("port not 53", &web));
    assert!(m("udp port not 80", &dns) && !m("tcp port not 80", &web));
    assert!(!m("host not 10.0.0.1", &web) && m("host ! 10.0.0.9", &web));
    assert!(m("port not not 53", &dns));
}
