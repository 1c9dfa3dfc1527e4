//! nslookup against `serve dns`, and names resolved through DNS by the
//! other tools, in the reference network (tool-formats.md §1.6).

mod common;

use common::{after_service, dns_net, run_in, Ran, SERVE_DNS};

fn lookups(cmds: &[&str]) -> Vec<Ran> {
    after_service(&dns_net(), SERVE_DNS, cmds)
}

const HEADER: &str = "Server:\t\t10.99.3.2\nAddress:\t10.99.3.2#53\n\n";

/// What BIND's nslookup adds for each reply without the RA bit from a
/// server it took from resolv.conf (checked against BIND 9.18 and a
/// `recursion no` named on this machine). `serve dns` is authoritative
/// only, so it appears here; the reference samples of tool-formats.md
/// §1.6 were taken against dnsmasq, which sets RA, and have none.
const RA: &str = ";; Got recursion not available from 10.99.3.2\n";

#[test]
fn nslookup_prints_like_bind() {
    let r = lookups(&[
        "nslookup server.lab.test",
        "nslookup www.lab.test",
        "nslookup 10.99.2.2",
        "nslookup -type=MX lab.test",
        "nslookup -query=TXT lab.test 10.99.3.2",
        "nslookup multi",
        "nslookup -type=SRV _http._tcp.lab.test",
        "nslookup -type=NS lab.test",
        "nslookup -type=SOA lab.test",
    ]);
    let expect = [
        format!("{HEADER}Name:\tserver.lab.test\nAddress: 10.99.3.2\nName:\tserver.lab.test\nAddress: fd00:99::2\n\n"),
        // As in the reference capture: the alias once, then both addresses.
        format!("{HEADER}www.lab.test\tcanonical name = server.lab.test.\nName:\tserver.lab.test\nAddress: 10.99.3.2\nName:\tserver.lab.test\nAddress: fd00:99::2\n\n"),
        "2.2.99.10.in-addr.arpa\tname = r2.lab.test.\n\n".to_string(),
        format!("{HEADER}lab.test\tmail exchanger = 10 mail.lab.test.\n\n"),
        format!("{HEADER}lab.test\ttext = \"v=spf1 mx -all\"\n\n"),
        format!("{HEADER}Name:\tmulti.lab.test\nAddress: 10.99.3.10\nName:\tmulti.lab.test\nAddress: 10.99.3.11\n\n"),
        format!("{HEADER}_http._tcp.lab.test\tservice = 0 5 80 server.lab.test.\n\n"),
        format!("{HEADER}lab.test\tnameserver = ns.lab.test.\n\n"),
        format!("{HEADER}lab.test\n\torigin = ns.lab.test\n\tmail addr = hostmaster.lab.test\n\tserial = 2026112101\n\trefresh = 3600\n\tretry = 900\n\texpire = 604800\n\tminimum = 60\n\n"),
    ];
    // One warning per reply: two for the default A-then-AAAA lookups,
    // none when the server is named on the command line.
    let warnings = [2, 2, 1, 1, 0, 2, 1, 1, 1];
    for ((ran, want), n) in r.iter().zip(expect.iter()).zip(warnings) {
        assert_eq!(ran.exit, Some(0), "{}: {:?}", ran.cmdline, ran.stderr);
        assert_eq!(&ran.out().replace(RA, ""), want, "{}", ran.cmdline);
        assert_eq!(ran.out().matches(RA).count(), n, "{}", ran.cmdline);
    }
    // Where they go: as each reply comes, before the header and before
    // the AAAA half's lines (BIND 9.18 on this machine).
    assert_eq!(
        r[0].out(),
        format!("{RA}{HEADER}Name:\tserver.lab.test\nAddress: 10.99.3.2\n{RA}Name:\tserver.lab.test\nAddress: fd00:99::2\n\n")
    );
    assert_eq!(
        r[2].out(),
        format!("{RA}2.2.99.10.in-addr.arpa\tname = r2.lab.test.\n\n")
    );
}

#[test]
fn nslookup_errors_and_exit_codes() {
    let r = lookups(&[
        "nslookup nosuch.lab.test",
        "nslookup -type=MX server.lab.test",
        "nslookup example.com",
        "nslookup -timeout=1 -retry=1 server.lab.test 10.99.3.99",
        "nslookup -port=5353 server.lab.test 10.99.3.2",
        "nslookup 10.99.9.9",
        "nslookup dangling.lab.test",
        "nslookup -nosearch server 10.99.3.2",
        "nslookup -domain=lab.test -ndots=2 -norec server.lab 10.99.3.2",
    ]);
    // -nosearch asks for `server.` alone: outside the zone, refused.
    assert_eq!(r[7].exit, Some(1), "{:?}", r[7]);
    assert!(
        r[7].out()
            .ends_with("** server can't find server: REFUSED\n\n"),
        "{:?}",
        r[7]
    );
    // -domain= replaces the search list; -ndots=2 puts it before the name
    // as given, for a name of one dot.
    assert_eq!(r[8].exit, Some(1), "{:?}", r[8]);
    assert!(
        r[8].out().contains("server can't find server.lab"),
        "{:?}",
        r[8]
    );
    // A CNAME out of the server's zones: the AAAA half asks for its
    // target, which the server refuses (BIND 9.18, checked).
    assert_eq!(r[6].exit, Some(1));
    assert_eq!(
        r[6].out(),
        format!("{RA}{HEADER}dangling.lab.test\tcanonical name = nowhere.example.\n{RA}** server can't find nowhere.example: REFUSED\n\n")
    );
    // A reverse lookup that fails names the in-addr.arpa name it asked
    // for, as BIND's nslookup does (and prints no server header).
    assert_eq!(r[5].exit, Some(1));
    assert_eq!(
        r[5].out(),
        format!("{RA}** server can't find 9.9.99.10.in-addr.arpa: NXDOMAIN\n\n")
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[0].out(),
        format!("{RA}{HEADER}** server can't find nosuch.lab.test: NXDOMAIN\n\n")
    );
    assert_eq!(r[1].exit, Some(0));
    assert_eq!(
        r[1].out(),
        format!("{RA}{HEADER}*** Can't find server.lab.test: No answer\n\n")
    );
    assert_eq!(r[2].exit, Some(1));
    assert_eq!(
        r[2].out(),
        format!("{RA}{HEADER}** server can't find example.com: REFUSED\n\n")
    );
    assert_eq!(r[3].exit, Some(1));
    assert_eq!(
        r[3].stdout,
        [
            ";; communications error to 10.99.3.99#53: timed out",
            ";; no servers could be reached",
            ""
        ]
    );
    assert_eq!(r[4].exit, Some(1));
    assert_eq!(
        r[4].stdout,
        [
            ";; communications error to 10.99.3.2#5353: connection refused",
            ";; communications error to 10.99.3.2#5353: connection refused",
            ";; communications error to 10.99.3.2#5353: connection refused",
            ";; no servers could be reached",
            ""
        ]
    );
}

#[test]
fn nslookup_no_answer_only_when_neither_type_has_one_and_bad_options_go_on() {
    let r = lookups(&[
        "nslookup v6only.lab.test",
        "nslookup lab.test",
        "nslookup -type=BOGUS -de server.lab.test",
        "nslookup -type=TXT www.lab.test",
    ]);
    // BIND 9.18: an AAAA-only name shows its address and no "No answer"
    // for the missing A; a name with neither says so once.
    assert_eq!(
        r[0].out(),
        format!("{RA}{HEADER}{RA}Name:\tv6only.lab.test\nAddress: fd00:99::6\n\n")
    );
    assert_eq!(
        r[1].out(),
        format!("{RA}{HEADER}{RA}*** Can't find lab.test: No answer\n\n")
    );
    assert_eq!(r[1].exit, Some(0));
    // Unknown types and options are reported, and the lookup goes on.
    assert_eq!(r[2].exit, Some(0));
    assert_eq!(
        r[2].out(),
        format!("unknown query type: BOGUS\n*** Invalid option: de\n{RA}{HEADER}Name:\tserver.lab.test\nAddress: 10.99.3.2\n{RA}Name:\tserver.lab.test\nAddress: fd00:99::2\n\n")
    );
    // The alias is the answer; no "No answer" after it.
    assert_eq!(
        r[3].out(),
        format!("{RA}{HEADER}www.lab.test\tcanonical name = server.lab.test.\n\n")
    );
    // Too many arguments: BIND's usage on standard error, status 1.
    let u = tcplab_tools::Command::parse("nslookup a b c").unwrap_err();
    assert_eq!(u.status, 1);
    assert!(u.printed().0.starts_with("Usage:\n   nslookup [-opt ...]"));
}

#[test]
fn truncated_answers_are_asked_again_over_tcp() {
    let mut net = dns_net();
    let mut zone = String::from("$TTL 0\n@ SOA ns.lab.test. hm.lab.test. 1 1 1 1 1\n");
    for i in 1..=60 {
        zone.push_str(&format!("big A 10.99.4.{i}\n"));
    }
    net.push_str(&format!(
        "\n[[file]]\non = \"server\"\npath = \"/etc/bind/db.big.test\"\ntext = \"\"\"\n{zone}\"\"\"\n"
    ));
    let r = run_in(
        &net,
        &[
            ("0s", "server", "serve dns --zone /etc/bind/db.big.test"),
            ("500ms", "client", "tcpdump -n -c 4 port 53"),
            ("1s", "client", "nslookup -type=A big.big.test"),
        ],
    );
    let dump = &r[1].stdout;
    assert!(
        dump[0].contains("UDP") || dump[0].contains(".53: "),
        "{dump:?}"
    );
    assert!(
        dump.iter()
            .any(|l| l.contains("Flags [S]") && l.ends_with("length 0")),
        "the client opened a TCP connection: {dump:?}"
    );
    let out = &r[2].stdout;
    assert_eq!(r[2].exit, Some(0));
    assert_eq!(out[0], ";; Truncated, retrying in TCP mode.");
    assert_eq!(out[1], RA.trim_end());
    assert_eq!(out[2], "Server:\t\t10.99.3.2");
    assert_eq!(
        out.iter()
            .filter(|l| l.starts_with("Address: 10.99.4."))
            .count(),
        60
    );
}

#[test]
fn tools_resolve_names_through_dns() {
    let r = lookups(&[
        "ping -c 1 www",
        "traceroute server.lab.test",
        "nc -z -v mail.lab.test 25",
        "ping -c 1 nowhere.lab.test",
        "ping -c 1 ''",
    ]);
    // The client has name servers, so its hosts table knows only itself:
    // every other name and address goes through DNS.
    // The canonical name, as iputils prints getaddrinfo's AI_CANONNAME:
    // the end of the CNAME chain, fully qualified.
    assert_eq!(
        r[0].stdout[0],
        "PING server.lab.test (10.99.3.2) 56(84) bytes of data."
    );
    assert_eq!(r[0].stdout[3], "--- server.lab.test ping statistics ---");
    assert!(
        r[0].stdout[1].starts_with("64 bytes from server.lab.test (10.99.3.2): icmp_seq=1"),
        "{:?}",
        r[0].stdout
    );
    assert_eq!(
        r[1].stdout,
        [
            "traceroute to server.lab.test (10.99.3.2), 30 hops max, 60 byte packets",
            " 1  r1.lab.test (10.99.1.1)  0.200 ms  0.200 ms  0.200 ms",
            " 2  r2.lab.test (10.99.2.2)  0.600 ms  0.600 ms  0.600 ms",
            " 3  server.lab.test (10.99.3.2)  0.800 ms  0.800 ms  0.800 ms",
        ]
    );
    assert_eq!(r[3].exit, Some(2));
    assert_eq!(
        r[3].stderr,
        ["ping: nowhere.lab.test: Name or service not known"]
    );
    // An empty name is no name: not asked for (glibc's getaddrinfo
    // answers EAI_NONAME at once, where a question would have ended in
    // "Temporary failure in name resolution").
    assert_eq!(
        (r[4].exit, r[4].stderr.as_slice()),
        (
            Some(2),
            &["ping: : Name or service not known".to_string()][..]
        )
    );
}

/// The lesson scenarios/dns-resolver.toml, run as the lab runs it: what
/// each command printed, in start order per host.
fn resolver_lesson() -> Vec<Ran> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/dns-resolver.toml"
    );
    common::run_file(&std::fs::read_to_string(path).expect("the lesson"))
}

/// RFC 2308 §5: the resolver keeps an NXDOMAIN for min(SOA TTL, SOA
/// MINIMUM) — 60 s for lab.test. — answering from its cache within that
/// time and asking the zone's server again after it.
#[test]
fn a_resolver_caches_nxdomain_for_the_soa_minimum() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/dns-resolver.toml"
    );
    let mut text = std::fs::read_to_string(path).expect("the lesson");
    // The lesson asks for nosuch.lab.test at 66 s; ask again 14 s and 64 s
    // later.
    for at in ["80s", "130s"] {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"resolv\"\ncmd = \"tcpdump -n -c 2 udp port 53\"\n\
             [[run]]\nat = \"{at}\"\non = \"client\"\ncmd = \"nslookup nosuch.lab.test\"\n"
        ));
    }
    let r = common::run_file(&text);
    let dumps: Vec<&Ran> = r
        .iter()
        .filter(|x| x.host == "resolv" && x.cmdline == "tcpdump -n -c 2 udp port 53")
        .collect();
    assert_eq!(dumps.len(), 2);
    let (cached, expired) = (&dumps[0].stdout, &dumps[1].stdout);
    assert!(
        cached[1].contains("10.0.0.53.53 > 10.0.0.10."),
        "from the cache: {cached:?}"
    );
    assert!(cached[1].contains("NXDomain"), "{cached:?}");
    assert!(
        expired[1].contains(" > 10.0.0.3.53: "),
        "asked again: {expired:?}"
    );
    let answers: Vec<&Ran> = r
        .iter()
        .filter(|x| x.host == "client" && x.cmdline == "nslookup nosuch.lab.test")
        .collect();
    assert_eq!(answers.len(), 3);
    for a in answers {
        assert!(a
            .stdout
            .join("\n")
            .contains("** server can't find nosuch.lab.test: NXDOMAIN"));
    }
}

/// The DNS hierarchy walked by hand (the lesson's first part): a root
/// server delegating `test.`, a TLD server delegating `lab.test.`, and the
/// zone's own server. Asked without recursion, each parent refers to its
/// child (RFC 1034 §4.3.2 step 3b: no answer, not authoritative, the
/// child's NS records and their glue), which BIND's nslookup shows under
/// "Authoritative answers can be found from:" for any type but an
/// address; the last server answers.
#[test]
fn referrals_lead_down_the_hierarchy() {
    let r = resolver_lesson();
    let by_hand: Vec<String> = r
        .iter()
        .filter(|x| x.cmdline.starts_with("nslookup -norecurse"))
        .map(|x| x.stdout.join("\n"))
        .collect();
    assert_eq!(by_hand.len(), 3);
    assert!(
        by_hand[0].ends_with(
            "Authoritative answers can be found from:\ntest\tnameserver = ns.test.\nns.test\tinternet address = 10.0.0.2\n"
        ),
        "{}",
        by_hand[0]
    );
    assert!(
        by_hand[1].contains(
            "lab.test\tnameserver = ns.lab.test.\nns.lab.test\tinternet address = 10.0.0.3"
        ),
        "{}",
        by_hand[1]
    );
    // An address lookup shows no authority section, and the zone's own
    // server answers it with authority.
    assert!(
        !by_hand[2].contains("Authoritative answers"),
        "{}",
        by_hand[2]
    );
    assert!(!by_hand[2].contains("Non-authoritative"), "{}", by_hand[2]);
    assert!(
        by_hand[2].contains("Name:\twww.lab.test\nAddress: 10.0.0.80"),
        "{}",
        by_hand[2]
    );
}

/// The lesson's second part: a recursive resolver between the stub and
/// the hierarchy. The first lookup walks root, TLD and zone server
/// (iterative questions, RD clear); the one a minute later is answered
/// from the cache without asking anyone, its TTL counted down; a name
/// that does not exist comes back NXDOMAIN. The resolver's answers are
/// not authoritative and say recursion is available.
#[test]
fn a_resolver_walks_the_hierarchy_once_then_answers_from_its_cache() {
    let r = resolver_lesson();
    let dumps: Vec<&Ran> = r
        .iter()
        .filter(|x| x.host == "resolv" && x.cmdline.starts_with("tcpdump"))
        .collect();
    let (walk, cached) = (&dumps[0].stdout, &dumps[1].stdout);
    let asked = |dump: &Vec<String>, server: &str| -> Vec<String> {
        dump.iter()
            .filter(|l| l.contains(" 10.0.0.53.") && l.contains(&format!(" > {server}")))
            .cloned()
            .collect()
    };
    // The walk: one iterative question to each level, no RD ('+').
    for server in ["10.0.0.1.53", "10.0.0.2.53", "10.0.0.3.53"] {
        let q = asked(walk, server);
        assert!(!q.is_empty(), "{server} never asked: {walk:?}");
        assert!(q.iter().all(|l| !l.contains('+')), "{q:?}");
    }
    assert_eq!(
        asked(walk, "10.0.0.1.53").len(),
        1,
        "the root asked once: {walk:?}"
    );
    // Answers carry RA (no '-' after the id) and not AA (no '*').
    assert!(
        walk.iter().any(|l| l.contains("10.0.0.53.53 > 10.0.0.10.")
            && l.contains(" 1/0/0 A 10.0.0.80")
            && !l.contains('*')
            && !l.contains("- ")),
        "{walk:?}"
    );
    // A minute later: only the stub's packets.
    assert_eq!(cached.len(), 4, "{cached:?}");
    assert!(
        cached.iter().all(|l| l.contains("10.0.0.10.")),
        "{cached:?}"
    );
    let lookups: Vec<String> = r
        .iter()
        .filter(|x| {
            x.host == "client"
                && x.cmdline.starts_with("nslookup")
                && !x.cmdline.contains("-norecurse")
        })
        .map(|x| x.stdout.join("\n"))
        .collect();
    for text in &lookups[..2] {
        assert!(
            text.contains("Non-authoritative answer:\nName:\twww.lab.test\nAddress: 10.0.0.80"),
            "{text}"
        );
    }
    assert!(lookups[2].contains("** server can't find nosuch.lab.test: NXDOMAIN"));
    // The TTL counts down: 5 minutes, then 4 a minute later.
    let seen: Vec<String> = r
        .iter()
        .filter(|x| x.host == "client" && x.cmdline.starts_with("tcpdump"))
        .flat_map(|x| x.stdout.clone())
        .filter(|l| l.contains(" A 10.0.0.80"))
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("www.lab.test. [5m] A 10.0.0.80"),
        "{seen:?}"
    );
    assert!(
        seen[1].contains("www.lab.test. [4m] A 10.0.0.80"),
        "{seen:?}"
    );
}

/// A zone whose name servers have no glue and whose names lead only to
/// more of the same (the NXNSAttack pattern) costs one client question a
/// bounded number of questions upstream (`MAX_ASKS`, shared by the
/// nested resolutions of the servers' names), then SERVFAIL.
#[test]
fn a_glueless_maze_costs_a_bounded_number_of_questions() {
    let mut root = String::from("$ORIGIN .\n$TTL 3600\n@ IN SOA a.root. h.root. 1 3600 900 604800 60\n@ IN NS a.root.\na.root. IN A 10.0.0.1\n");
    for i in 0..20 {
        root.push_str(&format!(
            "evil. IN NS ns{i}.void.\nvoid. IN NS ns{i}.evil.\n"
        ));
    }
    let scenario = format!(
        r#"
seed = 1
[[host]]
name = "client"
addr = "10.0.0.10/24"
nameservers = ["10.0.0.53"]
[[host]]
name = "resolv"
addr = "10.0.0.53/24"
[[host]]
name = "root"
addr = "10.0.0.1/24"
[[lan]]
members = ["client", "resolv", "root"]
delay = "1ms"
[[file]]
on = "root"
path = "/etc/bind/db.root"
text = """
{root}"""
[[run]]
at = "0s"
on = "root"
cmd = "serve dns --zone /etc/bind/db.root"
[[run]]
at = "0s"
on = "resolv"
cmd = "serve resolver --root 10.0.0.1"
[[run]]
at = "1s"
on = "resolv"
cmd = "tcpdump -n -c 10000 src host 10.0.0.53 and udp dst port 53"
[[run]]
at = "2s"
on = "client"
cmd = "nslookup -timeout=60 www.evil"
"#
    );
    let r = common::run_file(&scenario);
    let dump = r.iter().find(|x| x.cmdline.starts_with("tcpdump")).unwrap();
    let asked = dump.stdout.len();
    assert!(
        asked > 0 && asked <= tcplab_tools::dns::resolver::MAX_ASKS,
        "{asked} questions"
    );
    let lookup = r
        .iter()
        .find(|x| x.cmdline.starts_with("nslookup"))
        .unwrap();
    assert!(
        lookup.stdout.iter().any(|l| l.contains("SERVFAIL")),
        "{:?}",
        lookup.stdout
    );
}

/// A zone whose name servers never answer holds a client's question for
/// `RESOLVE_DEADLINE` at most, then SERVFAIL: silent servers cannot keep
/// the resolver's places (and its other clients) for minutes.
/// A client, a resolver and a root whose zone delegates `dark.` to four
/// servers nothing reaches (their link loses everything), the name
/// servers started: the runs of a test go after it.
fn dark_zone() -> String {
    let mut root = String::from("$ORIGIN .\n$TTL 3600\n@ IN SOA a.root. h.root. 1 3600 900 604800 60\n@ IN NS a.root.\na.root. IN A 10.0.0.1\n");
    for i in 0..4 {
        root.push_str(&format!(
            "dark. IN NS ns{i}.dark.\nns{i}.dark. IN A 10.0.1.{}\n",
            10 + i
        ));
    }
    format!(
        r#"
seed = 1
[[host]]
name = "client"
addr = "10.0.0.10/24"
nameservers = ["10.0.0.53"]
[[host]]
name = "resolv"
addr = "10.0.0.53/24"
gateway = "10.0.0.254"
[[host]]
name = "root"
addr = "10.0.0.1/24"
[[router]]
name = "r"
addrs = ["10.0.0.254/24", "10.0.1.1/24"]
[[host]]
name = "void"
addr = "10.0.1.10/24"
[[lan]]
members = ["client", "resolv", "root", "r"]
delay = "1ms"
[[link]]
ends = ["r", "void"]
loss = "100%"
[[file]]
on = "root"
path = "/etc/bind/db.root"
text = """
{root}"""
[[run]]
at = "0s"
on = "root"
cmd = "serve dns --zone /etc/bind/db.root"
[[run]]
at = "0s"
on = "resolv"
cmd = "serve resolver --root 10.0.0.1"
"#
    )
}

#[test]
fn silent_name_servers_cost_the_deadline_then_servfail() {
    let scenario = dark_zone()
        + "[[run]]\nat = \"2s\"\non = \"client\"\ncmd = \"nslookup -timeout=11 -retry=1 www.dark\"\n";
    let r = common::run_file(&scenario);
    let lookup = r
        .iter()
        .find(|x| x.cmdline.starts_with("nslookup"))
        .unwrap();
    // One try of 11 s: the answer comes within it, at the deadline, and
    // BIND's nslookup says the lone server's SERVFAIL before the result.
    assert_eq!(
        lookup.stdout[..2],
        [
            ";; Got SERVFAIL reply from 10.0.0.53",
            "Server:\t\t10.0.0.53"
        ],
        "{lookup:?}"
    );
    assert!(
        lookup
            .stdout
            .iter()
            .any(|l| l == "** server can't find www.dark: SERVFAIL"),
        "{lookup:?}"
    );
    assert!(tcplab_tools::dns::resolver::RESOLVE_DEADLINE.as_secs() < 11);
}

/// RFC 7766 §6.2.1: a TCP connection carries several queries, answered in
/// turn; RFC 7766 §6.2.3 / 1035 §4.2.2: the server closes a connection
/// left idle (10 s here).
#[test]
fn tcp_connections_carry_several_queries_then_idle_out() {
    // Two framed questions (IDs 1 and 2) for ns.lab.test A, one write.
    let q = |id: &str| {
        format!(
            r"\x00\x1d\x00\x{id}\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02ns\x03lab\x04test\x00\x00\x01\x00\x01"
        )
    };
    let cmd = format!("printf '{}{}' | nc server 53", q("01"), q("02"));
    let r = run_in(
        &dns_net(),
        &[
            SERVE_DNS,
            ("500ms", "client", "tcpdump -n -tttt 'tcp port 53'"),
            ("1s", "client", &cmd),
            // Connected, asking nothing (-d: no input).
            ("2s", "client", "nc -d server 53"),
        ],
    );
    let dump = &r[1].stdout;
    let from_server: Vec<&String> = dump
        .iter()
        .filter(|l| l.contains(" IP 10.99.3.2.53 > "))
        .collect();
    // Both answers, 45 bytes each with its prefix, in one segment (which
    // tcpdump, reading one message per segment, calls invalid).
    assert!(
        from_server
            .iter()
            .any(|l| l.contains("length 94 [prefix length(45) != length(92)]")),
        "{dump:#?}"
    );
    assert!(r[2].stdout.join("").contains("lab"), "{:?}", r[2].stdout);
    // The idle connection: the server's FIN ten seconds after it opened.
    let port = |l: &str| {
        l.split(" > 10.99.1.2.")
            .nth(1)
            .and_then(|p| p.split(':').next())
            .map(str::to_string)
    };
    let fins: Vec<&&String> = from_server
        .iter()
        .filter(|l| l.contains("Flags [F"))
        .collect();
    assert_eq!(fins.len(), 2, "{dump:#?}");
    assert!(fins[1].starts_with("2025-01-01 00:00:12.00"), "{}", fins[1]);
    assert_ne!(port(fins[0]), port(fins[1]));
    assert_eq!(r[3].exit, Some(0));
}

/// With every TCP place held by connections that ask nothing (or ask
/// now and then), a new client is still answered: it takes the place of
/// the one waiting longest for its next query (RFC 7766 §6.2.2 bounds
/// the connections; the bound must not lock clients out).
#[test]
fn held_tcp_connections_do_not_lock_clients_out() {
    let max = tcplab_tools::dns::server::TCP_MAX;
    let mut runs: Vec<(String, &str, String)> = Vec::new();
    for i in 0..max {
        runs.push((
            format!("{}ms", 1000 + i),
            "client",
            format!("nc -d -w {} server 53", 30 + i),
        ));
    }
    runs.push((
        "2s".into(),
        "client",
        "nslookup -vc ns.lab.test 10.99.3.2".into(),
    ));
    let mut all: Vec<(&str, &str, &str)> = vec![SERVE_DNS];
    all.extend(runs.iter().map(|(a, b, c)| (a.as_str(), *b, c.as_str())));
    let r = run_in(&dns_net(), &all);
    let lookup = r.last().unwrap();
    assert_eq!(lookup.exit, Some(0), "{lookup:?}");
    assert!(
        lookup.stdout.iter().any(|l| l.contains("Address: 10.99.")),
        "{lookup:?}"
    );
}

/// netstat names the addresses it shows as getnameinfo does: through DNS
/// when the host has name servers (net-tools asks once per address);
/// not with -n.
#[test]
fn netstat_names_peers_through_dns() {
    let r = run_in(
        &dns_net(),
        &[
            SERVE_DNS,
            ("0s", "server", "nc -l 7777"),
            ("1s", "client", "nc server.lab.test 7777"),
            ("2s", "client", "netstat -t"),
            ("3s", "client", "netstat -tn"),
        ],
    );
    let row = |out: &[String]| out.iter().find(|l| l.contains("ESTABLISHED")).cloned();
    let named = row(&r[3].stdout).expect("a connection");
    assert!(named.contains(" server.lab.test:7777 "), "{named}");
    assert!(named.contains(" client:"), "{named}");
    let numeric = row(&r[4].stdout).expect("a connection");
    assert!(
        numeric.contains(" 10.99.3.2:7777 ") && numeric.contains(" 10.99.1.2:"),
        "{numeric}"
    );
}

/// A server named on the command line is shown as it was given, with the
/// address it had (BIND 9.18's nslookup).
#[test]
fn nslookup_shows_a_named_server_by_its_name() {
    let r = lookups(&["nslookup -type=A server.lab.test ns.lab.test"]);
    assert_eq!(
        r[0].out(),
        "Server:\t\tns.lab.test\nAddress:\t10.99.3.2#53\n\nName:\tserver.lab.test\nAddress: 10.99.3.2\n\n"
    );
}

/// The AAAA half of a default lookup asks for the end of the A answer's
/// CNAME chain, as BIND 9.18's nslookup does (seen on the wire).
#[test]
fn the_aaaa_half_asks_for_the_canonical_name() {
    let r = run_in(
        &dns_net(),
        &[
            SERVE_DNS,
            ("500ms", "client", "tcpdump -n -c 4 udp port 53"),
            ("1s", "client", "nslookup www.lab.test"),
        ],
    );
    let dump = &r[1].stdout;
    assert!(dump[0].contains(" A? www.lab.test. "), "{dump:?}");
    assert!(dump[2].contains(" AAAA? server.lab.test. "), "{dump:?}");
    // What it prints is the same: the alias once, then both addresses.
    assert!(r[2]
        .out()
        .contains("www.lab.test\tcanonical name = server.lab.test."));
    assert!(r[2].out().contains("Address: fd00:99::2"));
}

/// `nslookup -debug` against the zone BIND 9.18's own `named` served for
/// the expected text (a `recursion no` named on 127.0.0.1 in a network
/// namespace, its address replaced by 10.0.2.2): each response's
/// sections between dashed lines before what nslookup makes of it; with
/// a search list, every name tried is a lookup shown whole.
#[test]
fn nslookup_debug_shows_each_response_as_bind_does() {
    let net = r#"
[[host]]
name = "client"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"
nameservers = ["10.0.2.2"]
search = ["lab.test"]
[[host]]
name = "server"
addr = "10.0.2.2/24"
gateway = "10.0.2.1"
[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.2.1/24"]
[[link]]
ends = ["client", "r1"]
[[link]]
ends = ["r1", "server"]
[[file]]
on = "server"
path = "/z"
text = """
$ORIGIN lab.test.
$TTL 300
@       IN SOA ns.lab.test. hostmaster.lab.test. 2026112101 3600 900 604800 60
        IN NS  ns
        IN MX  10 server
ns      IN A   10.0.2.2
server  IN A   10.0.2.2
www     IN CNAME server
"""
[[file]]
on = "server"
path = "/r"
text = """
$ORIGIN 2.0.10.in-addr.arpa.
$TTL 300
@ IN SOA ns.lab.test. hostmaster.lab.test. 1 3600 900 604800 60
  IN NS ns.lab.test.
2 IN PTR server.lab.test.
"""
"#;
    let r = run_in(
        net,
        &[
            ("0s", "server", "serve dns --zone /z --zone /r"),
            ("1s", "client", "nslookup -debug www.lab.test 10.0.2.2"),
            ("2s", "client", "nslookup -deb -type=mx lab.test 10.0.2.2"),
            ("3s", "client", "nslookup -debug 10.0.2.9 10.0.2.2"),
            ("4s", "client", "nslookup -debug nosuch"),
            (
                "5s",
                "client",
                "nslookup -debug -nodebug server.lab.test 10.0.2.2",
            ),
        ],
    );
    let header = "Server:\t\t10.0.2.2\nAddress:\t10.0.2.2#53\n\n";
    let soa = "    ->  lab.test\n\torigin = ns.lab.test\n\tmail addr = hostmaster.lab.test\n\tserial = 2026112101\n\trefresh = 3600\n\tretry = 900\n\texpire = 604800\n\tminimum = 60\n\tttl = 60\n";
    let ra = ";; Got recursion not available from 10.0.2.2\n";
    let expect = [
        format!(
            "{header}------------\n    QUESTIONS:\n\twww.lab.test, type = A, class = IN\n    ANSWERS:\n    ->  www.lab.test\n\tcanonical name = server.lab.test.\n\tttl = 300\n    ->  server.lab.test\n\tinternet address = 10.0.2.2\n\tttl = 300\n    AUTHORITY RECORDS:\n    ADDITIONAL RECORDS:\n------------\nwww.lab.test\tcanonical name = server.lab.test.\nName:\tserver.lab.test\nAddress: 10.0.2.2\n------------\n    QUESTIONS:\n\tserver.lab.test, type = AAAA, class = IN\n    ANSWERS:\n    AUTHORITY RECORDS:\n{soa}    ADDITIONAL RECORDS:\n------------\n\n"
        ),
        format!(
            "{header}------------\n    QUESTIONS:\n\tlab.test, type = MX, class = IN\n    ANSWERS:\n    ->  lab.test\n\tmail exchanger = 10 server.lab.test.\n\tttl = 300\n    AUTHORITY RECORDS:\n    ADDITIONAL RECORDS:\n    ->  server.lab.test\n\tinternet address = 10.0.2.2\n\tttl = 300\n------------\nlab.test\tmail exchanger = 10 server.lab.test.\n\n"
        ),
        "------------\n    QUESTIONS:\n\t9.2.0.10.in-addr.arpa, type = PTR, class = IN\n    ANSWERS:\n    AUTHORITY RECORDS:\n    ->  2.0.10.in-addr.arpa\n\torigin = ns.lab.test\n\tmail addr = hostmaster.lab.test\n\tserial = 1\n\trefresh = 3600\n\tretry = 900\n\texpire = 604800\n\tminimum = 60\n\tttl = 60\n    ADDITIONAL RECORDS:\n------------\n** server can't find 9.2.0.10.in-addr.arpa: NXDOMAIN\n\n".to_string(),
        format!(
            "{ra}{header}------------\n    QUESTIONS:\n\tnosuch.lab.test, type = A, class = IN\n    ANSWERS:\n    AUTHORITY RECORDS:\n{soa}    ADDITIONAL RECORDS:\n------------\n** server can't find nosuch.lab.test: NXDOMAIN\n{ra}{header}------------\n    QUESTIONS:\n\tnosuch, type = A, class = IN\n    ANSWERS:\n    AUTHORITY RECORDS:\n    ADDITIONAL RECORDS:\n------------\n** server can't find nosuch: REFUSED\n\n"
        ),
        format!("{header}Name:\tserver.lab.test\nAddress: 10.0.2.2\n\n"),
    ];
    for (ran, want) in r[1..].iter().zip(expect.iter()) {
        assert_eq!(&ran.out(), want, "{}", ran.cmdline);
    }
    assert_eq!(
        r[1..].iter().map(|x| x.exit).collect::<Vec<_>>(),
        [Some(0), Some(0), Some(1), Some(1), Some(0)]
    );
}

/// DNS over UDP leaves without DF both ways, as BIND's nslookup and named
/// send it (IP_PMTUDISC_OMIT; checked in a capture of dig and named).
#[test]
fn dns_datagrams_carry_no_df() {
    let r = run_in(
        &dns_net(),
        &[
            SERVE_DNS,
            ("500ms", "client", "tcpdump -v -n -c 2 udp port 53"),
            ("1s", "client", "nslookup -type=A server.lab.test"),
        ],
    );
    let headers: Vec<&String> = r[1].stdout.iter().filter(|l| l.contains(" IP (")).collect();
    assert_eq!(headers.len(), 2, "{:?}", r[1].stdout);
    for h in headers {
        assert!(h.contains(", flags [none], proto UDP (17)"), "{h}");
    }
}

/// With a silent first name server, nslookup says each try that timed
/// out and takes the second server's answer (BIND's nslookup walks the
/// resolv.conf list), and the tools' resolver moves on after one wait of
/// 5 s, as glibc asks each server once per attempt (not each server all
/// its attempts first).
#[test]
fn a_silent_first_name_server_is_passed_over() {
    let net = dns_net().replace(
        "nameservers = [\"10.99.3.2\"]",
        "nameservers = [\"10.99.3.99\", \"10.99.3.2\"]",
    );
    let r = run_in(
        &net,
        &[
            SERVE_DNS,
            (
                "1s",
                "client",
                "nslookup -timeout=1 -retry=2 -type=A server",
            ),
            (
                "10s",
                "client",
                "curl -s -o /dev/null -w %{time_namelookup} http://server.lab.test:9/",
            ),
        ],
    );
    assert_eq!(r[1].exit, Some(0), "{:?}", r[1]);
    assert_eq!(
        r[1].out(),
        format!(
            ";; communications error to 10.99.3.99#53: timed out\n\
             ;; communications error to 10.99.3.99#53: timed out\n\
             {RA}{HEADER}Name:\tserver.lab.test\nAddress: 10.99.3.2\n\n"
        )
    );
    assert_eq!(r[2].exit, Some(7), "{:?}", r[2]);
    let took: f64 = r[2].stdout[0].parse().unwrap();
    assert!((5.0..5.1).contains(&took), "{took}");
}

/// A name with two addresses, the first refusing: nc and curl try the
/// next address as getaddrinfo lists them (netcat's remote_connect,
/// libcurl's trynextip), saying each failure with -v; libcurl gives each
/// address but the last half the connect time left.
#[test]
fn nc_and_curl_try_each_address_of_a_name() {
    let net = dns_net().replace(
        "multi   IN A",
        "dual    IN A   10.99.2.2\n        IN A   10.99.3.2\nmulti   IN A",
    );
    let r = run_in(
        &net,
        &[
            SERVE_DNS,
            ("0s", "server", "serve http"),
            ("1s", "client", "nc -zv dual 80"),
            ("2s", "client", "curl -sv -o /dev/null http://dual/"),
            (
                "3s",
                "client",
                "curl -sS --connect-timeout 3 -v http://multi/",
            ),
            (
                "10s",
                "client",
                "curl -sS --resolve x:80:10.99.2.2,10.99.1.1 http://x/",
            ),
        ],
    );
    assert_eq!(r[2].exit, Some(0), "{:?}", r[2]);
    assert_eq!(
        r[2].stderr,
        [
            "nc: connect to dual (10.99.2.2) port 80 (tcp) failed: Connection refused",
            "Connection to dual (10.99.3.2) 80 port [tcp/http] succeeded!"
        ]
    );
    assert_eq!(r[3].exit, Some(0), "{:?}", r[3]);
    let at = r[3]
        .stderr
        .iter()
        .position(|l| l == "*   Trying 10.99.2.2:80...")
        .unwrap_or_else(|| panic!("{:?}", r[3].stderr));
    assert_eq!(
        r[3].stderr[at + 1..at + 4],
        [
            "* connect to 10.99.2.2 port 80 failed: Connection refused",
            "*   Trying 10.99.3.2:80...",
            "* Connected to dual (10.99.3.2) port 80 (#0)"
        ]
    );
    assert_eq!(r[4].exit, Some(28), "{:?}", r[4]);
    let lines: Vec<&String> = r[4]
        .stderr
        .iter()
        .filter(|l| l.contains("Trying") || l.contains("move on") || l.starts_with("curl:"))
        .collect();
    assert_eq!(
        lines,
        [
            "*   Trying 10.99.3.10:80...",
            "* ipv4 connect timeout after 1500ms, move on!",
            "*   Trying 10.99.3.11:80...",
            "* ipv4 connect timeout after 1500ms, move on!",
            "curl: (28) Failed to connect to multi port 80 after 3000 ms: Timeout was reached"
        ]
    );
    assert_eq!(r[5].exit, Some(7), "{:?}", r[5]);
    assert_eq!(
        r[5].stderr,
        ["curl: (7) Failed to connect to x port 80 after 0 ms: Couldn't connect to server"]
    );
}

/// BIND's nslookup names the search-list name a REFUSED answer was for,
/// and prints the server header for an address asked with -type=PTR
/// (only the default lookup of an address leaves it out).
#[test]
fn nslookup_names_the_refused_search_name_and_heads_ptr_lookups() {
    let net = dns_net().replace(
        "search = [\"lab.test\"]",
        "search = [\"other.test\", \"lab.test\"]",
    );
    let r = run_in(
        &net,
        &[
            SERVE_DNS,
            ("1s", "client", "nslookup server"),
            ("2s", "client", "nslookup -type=PTR 10.99.2.2 10.99.3.2"),
        ],
    );
    assert_eq!(r[1].exit, Some(1));
    assert_eq!(
        r[1].out(),
        format!("{RA}{HEADER}** server can't find server.other.test: REFUSED\n\n")
    );
    assert_eq!(
        r[2].out(),
        format!("{HEADER}2.2.99.10.in-addr.arpa\tname = r2.lab.test.\n\n")
    );
}

/// A flood of questions that never resolve (every server of `dark.`
/// silent) takes every place the resolver has; a question that resolves
/// at once still gets its answer, taking the place of the oldest one in
/// progress for 200 ms or more (Unbound's jostle), which is dropped.
#[test]
fn a_flood_of_silent_questions_does_not_lock_out_others() {
    let mut scenario = dark_zone();
    for i in 0..80 {
        scenario.push_str(&format!(
            "[[run]]\nat = \"2s\"\non = \"client\"\ncmd = \"nslookup -timeout=20 -retry=1 x{i}.dark\"\n"
        ));
    }
    scenario.push_str(
        "[[run]]\nat = \"3s\"\non = \"client\"\ncmd = \"nslookup -timeout=2 -retry=1 a.root\"\n",
    );
    let r = common::run_file(&scenario);
    let legit = r.iter().find(|x| x.cmdline.ends_with("a.root")).unwrap();
    assert_eq!(legit.exit, Some(0), "{legit:?}");
    assert!(
        legit.stdout.iter().any(|l| l == "Address: 10.0.0.1"),
        "{legit:?}"
    );
}

/// When no server answers, BIND's nslookup gives each but the last its
/// tries and the last one try (measured against BIND 9.18).
#[test]
fn with_every_server_silent_the_last_gets_one_try() {
    let net = dns_net().replace(
        "nameservers = [\"10.99.3.2\"]",
        "nameservers = [\"10.99.3.99\", \"10.99.3.98\"]",
    );
    let r = run_in(
        &net,
        &[(
            "1s",
            "client",
            "nslookup -timeout=1 -retry=2 -type=A server",
        )],
    );
    assert_eq!(r[0].exit, Some(1));
    assert_eq!(
        r[0].stdout,
        [
            ";; communications error to 10.99.3.99#53: timed out",
            ";; communications error to 10.99.3.99#53: timed out",
            ";; communications error to 10.99.3.98#53: timed out",
            ";; no servers could be reached",
            ""
        ]
    );
}

/// The resolver after the lesson: an NXDOMAIN it holds answers for every
/// type of the name (RFC 2308 §5: MX asked within the minute goes nowhere
/// upstream); a question without recursion it cannot answer from its
/// cache is refused, never an empty NOERROR; ANY returns what the name
/// has.
#[test]
fn a_resolver_answers_nxdomain_for_any_type_refuses_what_it_cannot_and_passes_any() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/dns-resolver.toml"
    );
    let mut text = std::fs::read_to_string(path).expect("the lesson");
    for (at, on, cmd) in [
        ("70s", "resolv", "tcpdump -n -c 2 udp port 53"),
        ("70s", "client", "nslookup -type=MX nosuch.lab.test"),
        ("75s", "client", "nslookup -norecurse other.lab.test"),
        ("80s", "client", "nslookup -type=ANY www.lab.test"),
        (
            "85s",
            "resolv",
            "tcpdump -n -c 1 udp port 53 and host 10.0.0.3",
        ),
        ("85s", "client", "nslookup -type=NS lab.test"),
    ] {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = \"{cmd}\"\n"
        ));
    }
    let r = common::run_file(&text);
    let one = |host: &str, cmd: &str| {
        r.iter()
            .find(|x| x.host == host && x.cmdline == cmd)
            .unwrap()
    };
    let dump = &one("resolv", "tcpdump -n -c 2 udp port 53").stdout;
    assert!(
        dump[1].contains("10.0.0.53.53 > 10.0.0.10."),
        "from the cache: {dump:?}"
    );
    assert!(dump[1].contains("NXDomain"), "{dump:?}");
    let mx = one("client", "nslookup -type=MX nosuch.lab.test");
    assert!(
        mx.stdout
            .join("\n")
            .contains("** server can't find nosuch.lab.test: NXDOMAIN"),
        "{mx:?}"
    );
    let norec = one("client", "nslookup -norecurse other.lab.test");
    assert!(
        norec
            .stdout
            .join("\n")
            .contains("** server can't find other.lab.test: REFUSED"),
        "{norec:?}"
    );
    let any = one("client", "nslookup -type=ANY www.lab.test");
    assert!(
        any.stdout.iter().any(|l| l.starts_with("Address: 10.")),
        "{any:?}"
    );
    // The parent's referral held lab.test's NS set; the answer comes from
    // the zone's own server (RFC 2181 §5.4.1), which is asked for it.
    let child = &one("resolv", "tcpdump -n -c 1 udp port 53 and host 10.0.0.3").stdout;
    assert!(
        child[0].contains("> 10.0.0.3.53: ") && child[0].contains(" NS? lab.test. "),
        "{child:?}"
    );
    let ns = one("client", "nslookup -type=NS lab.test");
    assert!(
        ns.stdout.iter().any(|l| l.contains("nameserver = ")),
        "{ns:?}"
    );
}

/// A host's own `/etc/hosts` (a scenario's `[[file]]`) is read first, as
/// glibc's files-then-dns order reads it: a name only it lists resolves,
/// and it wins over the network's table; other hosts do not see it.
#[test]
fn a_hosts_file_on_a_host_is_read_first() {
    let text = format!(
        "{}\n[[file]]\non = \"client\"\npath = \"/etc/hosts\"\ntext = \"# the client's own\\n10.99.3.2 alpha\\n10.99.3.2 www.example www\\n10.99.1.1 server\\n\"\n{}{}{}",
        common::NET,
        "[[run]]\nat = \"1s\"\non = \"client\"\ncmd = \"ping -c 1 www\"\n",
        "[[run]]\nat = \"2s\"\non = \"client\"\ncmd = \"ping -c 1 server\"\n",
        "[[run]]\nat = \"3s\"\non = \"server\"\ncmd = \"ping -c 1 www\"\n",
    );
    let r = common::run_file(&text);
    // Named by its line's first name, as glibc's canonical name (not by
    // the first name of the address, alpha).
    assert!(
        r[0].stdout[0].starts_with("PING www.example (10.99.3.2)"),
        "{:?}",
        r[0]
    );
    assert!(r[1].stdout[0].contains("(10.99.1.1)"), "{:?}", r[1]);
    assert_ne!(r[2].exit, Some(0), "{:?}", r[2]);
}
