//! Firewalls and NAT on simulated routers: the lessons in `scenarios/`
//! checked for what they teach, and the behaviours one by one.

mod common;

use common::{find, run_file};

fn scenario(name: &str) -> String {
    let path = format!("{}/../../scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn acl_without_a_return_rule_breaks_the_handshake_and_the_rule_fixes_it() {
    let r = run_file(&scenario("acl.toml"));
    let url = "curl -sS --connect-timeout 5 http://10.99.1.2/";
    let before = find(&r, "client", url, 0);
    assert_eq!(before.exit, Some(28), "{before:?}");
    // The capture at the server shows SYN-ACKs going out, unanswered.
    let dump = find(&r, "web", "tcpdump -n -c 4 tcp port 80", 0);
    assert!(
        dump.stdout
            .iter()
            .filter(|l| l.contains("Flags [S.]"))
            .count()
            >= 2,
        "{dump:?}"
    );
    let after = find(&r, "client", url, 1);
    assert_eq!(
        (after.exit, after.stdout.as_slice()),
        (Some(0), &["through the ACL".to_string()][..])
    );
    let fw = &find(&r, "r1", "fw -L", 0).stdout;
    let star_out = fw
        .iter()
        .rposition(|l| l.trim_start().starts_with('*'))
        .unwrap();
    assert!(fw[star_out].trim_end().ends_with("5        300"), "{fw:?}");
}

#[test]
fn stateful_firewall_needs_one_rule() {
    let r = run_file(&scenario("firewall.toml"));
    assert_eq!(
        find(&r, "client", "curl -s http://10.99.1.2/", 0).stdout,
        ["through the firewall"]
    );
    assert_eq!(find(&r, "web", "ping -c 2 10.99.3.2", 0).exit, Some(0));
    let tr = &find(&r, "web", "traceroute -n -q 1 10.99.3.2", 0).stdout;
    assert_eq!(tr.len(), 4, "time exceeded passes as RELATED: {tr:?}");
    let nc = find(&r, "client", "nc -v -w 2 10.99.1.2 7", 0);
    assert_eq!(
        nc.stderr,
        ["nc: connect to 10.99.1.2 port 7 (tcp) timed out: Operation now in progress"]
    );
    assert_eq!(
        find(&r, "client", "ping -c 2 -W 1 10.99.1.2", 0).exit,
        Some(1)
    );
    let ct = &find(&r, "r1", "conntrack -L", 0);
    assert!(
        ct.stdout[0].starts_with("tcp      6 ")
            && ct.stdout[0].contains(" TIME_WAIT src=10.99.3.2 dst=10.99.1.2 ")
    );
    assert!(ct.stdout[0].ends_with("[ASSURED] mark=0 use=1"));
    assert!(ct.stderr[0].starts_with("conntrack v1.4.7 (conntrack-tools): "));
}

/// `fw -A` adds a security-group rule once: the same permission again
/// (in other words too) is refused, as AWS refuses a duplicate.
#[test]
fn fw_refuses_a_duplicate_security_group_rule() {
    let mut s = scenario("firewall.toml");
    for cmd in [
        "fw -A 10.99.1.1 sg-in allow icmp",
        "fw -A 10.99.1.1 sg-in icmp",
    ] {
        s.push_str(&format!(
            "\n[[run]]\nat = \"30s\"\non = \"r1\"\ncmd = \"{cmd}\"\n"
        ));
    }
    let r = run_file(&s);
    assert_eq!(
        find(&r, "r1", "fw -A 10.99.1.1 sg-in allow icmp", 0).exit,
        Some(0)
    );
    let again = find(&r, "r1", "fw -A 10.99.1.1 sg-in icmp", 0);
    assert_eq!(
        (again.exit, again.stderr.clone()),
        (
            Some(1),
            vec!["fw: 10.99.1.1: the rule is already in sg-in".to_string()]
        )
    );
}

#[test]
fn a_rejecting_firewall_resets_tcp_and_answers_udp_with_port_unreachable() {
    let text = scenario("firewall.toml")
        .replace(
            "outbound = [\"allow all\"]\n",
            "outbound = [\"allow all\"]\nreject = true\n",
        )
        .replace(
            "cmd = \"ping -c 2 -W 1 10.99.1.2\"",
            "cmd = \"traceroute -n -q 1 -m 5 10.99.1.2\"",
        );
    assert!(text.contains("reject = true"));
    let r = run_file(&text);
    // The router resets the SYN in the web server's name...
    let nc = find(&r, "client", "nc -v -w 2 10.99.1.2 7", 0);
    assert_eq!(
        nc.stderr,
        ["nc: connect to 10.99.1.2 port 7 (tcp) failed: Connection refused"]
    );
    assert_eq!(nc.exit, Some(1));
    // ...and answers a UDP probe with port unreachable from its own
    // address, as Linux's REJECT does: traceroute stops there.
    let tr = &find(&r, "client", "traceroute -n -q 1 -m 5 10.99.1.2", 0).stdout;
    assert_eq!(tr.len(), 4, "{tr:?}");
    assert!(tr[2].starts_with(" 2  10.99.2.1  "), "{tr:?}");
    assert!(tr[3].starts_with(" 3  10.99.2.1  "), "{tr:?}");
    let fw = find(&r, "r1", "fw -L", 0).stdout.join("\n");
    // The SYN, and traceroute's probes for hops 3, 4 and 5 (sent together).
    assert!(fw.contains("by security groups (4 rejected)"), "{fw}");
    assert!(
        fw.contains("(new flows into the subnet; the rest rejected):"),
        "{fw}"
    );
}

/// A port forward to a port the inside security group rejects: the reset
/// comes from the public address and port the client tried (Linux's
/// REJECT after DNAT too: the reply is un-DNATed), and the port
/// unreachable for a forwarded datagram quotes it with the TTL the router
/// took one from, as for a datagram sent to the inside address itself
/// (Linux decrements before the FORWARD hook).
#[test]
fn a_rejected_port_forward_answers_from_the_public_address() {
    let text = r#"
seed = 1
[[host]]
name = "web"
addr = "10.99.1.4/24"
gateway = "10.99.1.1"
[[host]]
name = "client"
addr = "10.99.3.2/24"
gateway = "10.99.3.1"
[[router]]
name = "r1"
addrs = ["10.99.1.1/24", "10.99.2.1/24"]
routes = ["10.99.3.0/24 via 10.99.2.2"]
[router.nat]
outside = "10.99.2.1"
inside = ["10.99.1.0/24"]
forward = ["tcp 2222 10.99.1.4:22", "udp 5353 10.99.1.4:53"]
[[router.firewall]]
iface = "10.99.1.1"
inbound = ["allow tcp port 80"]
outbound = ["allow all"]
reject = true
[[router]]
name = "r2"
addrs = ["10.99.2.2/24", "10.99.3.1/24"]
routes = ["10.99.1.0/24 via 10.99.2.1"]
[[link]]
ends = ["web", "r1"]
[[link]]
ends = ["r1", "r2"]
delay = "2ms"
[[link]]
ends = ["r2", "client"]
delay = "1ms"
[[run]]
at = "0.5s"
on = "client"
cmd = "tcpdump -n -v"
[[run]]
at = "1s"
on = "client"
cmd = "nc -v -w 3 10.99.2.1 2222"
[[run]]
at = "5s"
on = "client"
cmd = "nc -u -v -w 1 10.99.2.1 5353"
[[run]]
at = "7s"
on = "client"
cmd = "nc -u -v -w 1 10.99.1.4 53"
"#;
    let r = run_file(text);
    let nc = find(&r, "client", "nc -v -w 3 10.99.2.1 2222", 0);
    assert_eq!(
        nc.stderr,
        ["nc: connect to 10.99.2.1 port 2222 (tcp) failed: Connection refused"]
    );
    let dump = &find(&r, "client", "tcpdump -n -v", 0).stdout;
    for unreachable in [
        "10.99.2.1 udp port 5353 unreachable",
        "10.99.1.4 udp port 53 unreachable",
    ] {
        let at = dump
            .iter()
            .position(|l| l.contains(unreachable))
            .unwrap_or_else(|| panic!("no {unreachable}: {dump:#?}"));
        assert!(
            dump[at + 1].contains("(tos 0x0, ttl 62, "),
            "{}",
            dump[at + 1]
        );
    }
}

#[test]
fn nat_masquerade_forwarding_hairpin_and_traceroute() {
    // (With a capture on c through the hairpin's time: the router sends
    // c no redirect toward the inside server, as Linux's NAT drops
    // redirects for translated flows.)
    let text = format!(
        "{}\n[[run]]\nat = \"0s\"\non = \"c\"\ncmd = \"tcpdump -n icmp\"\n",
        scenario("nat.toml")
    );
    let r = run_file(&text);
    let icmp = &find(&r, "c", "tcpdump -n icmp", 0).stdout;
    assert!(!icmp.iter().any(|l| l.contains("redirect")), "{icmp:?}");
    // Outbound through masquerade; the server sees only the outside address.
    assert_eq!(
        find(&r, "a", "curl -s http://10.99.3.2/", 0).stdout,
        ["hello from the outside"]
    );
    assert_eq!(
        find(&r, "c", "curl -s http://10.99.3.2/", 0).stdout,
        ["hello from the outside"]
    );
    let log = &find(&r, "server", "serve http --log", 0).stdout;
    assert!(log.iter().all(|l| l.starts_with("10.99.2.1 ")), "{log:?}");
    // conntrack shows both tuples; the reply tuple goes to the outside address.
    let ct = &find(&r, "r1", "conntrack -L", 0).stdout;
    let echo: Vec<&String> = ct.iter().filter(|l| l.contains("dport=7 ")).collect();
    assert_eq!(echo.len(), 2, "{ct:?}");
    for l in &echo {
        assert!(l.contains(" ESTABLISHED src=10.99.1."), "{l}");
        assert!(l.contains("src=10.99.3.2 dst=10.99.2.1 sport=7 "), "{l}");
    }
    let ss = &find(&r, "server", "ss -tn state established", 0).stdout;
    assert!(ss[1..].iter().all(|l| l.contains("10.99.2.1:")), "{ss:?}");
    // Port forwarding: the inside server sees the real client.
    assert_eq!(
        find(&r, "server", "curl -s http://10.99.2.1:8080/", 0).stdout,
        ["hello from the inside web server"]
    );
    let web = &find(&r, "web", "serve http --log", 0).stdout;
    assert!(web[0].starts_with("10.99.3.2 "), "{web:?}");
    // Hairpinning: from inside too, and the server sees the outside address.
    assert_eq!(
        find(&r, "c", "curl -s http://10.99.2.1:8080/", 0).stdout,
        ["hello from the inside web server"]
    );
    assert!(web[1].starts_with("10.99.2.1 "), "{web:?}");
    // traceroute through the NAT: errors translated back to the inside.
    assert_eq!(
        find(&r, "a", "traceroute -n -q 1 10.99.3.2", 0).stdout[1..]
            .iter()
            .map(|l| l.split("  ").nth(1).unwrap_or_default().to_string())
            .collect::<Vec<_>>(),
        ["10.99.1.1", "10.99.2.2", "10.99.3.2"]
    );
}

#[test]
fn bad_rules_in_scenarios_name_the_line() {
    let base = scenario("nat.toml");
    for (bad, want) in [
        (
            "forward = [\"tcp 8080 10.99.1.4:80\"]",
            "forward = [\"tcp 8080 10.99.1.4\"]",
        ),
        ("outside = \"10.99.2.1\"", "outside = \"10.99.9.9\""),
        ("inside = [\"10.99.1.0/24\"]", "inside = [\"10.99.1.0/33\"]"),
    ] {
        let text = base.replace(bad, want);
        let e = tcplab_sim::load("nat.toml", &text).unwrap_err();
        let line = text.lines().position(|l| l.contains(want)).unwrap() + 1;
        assert_eq!(e.line, line, "{e}");
    }
    let acl = scenario("acl.toml").replace(
        "100 allow tcp from 0.0.0.0/0 port 80",
        "100 allow tcp form 0.0.0.0/0",
    );
    let e = tcplab_sim::load("acl.toml", &acl).unwrap_err();
    assert!(e.message.contains("unknown word `form`"), "{e}");
    let host = scenario("firewall.toml").replace("[[router.firewall]]", "[[host.firewall]]");
    assert!(tcplab_sim::load("f.toml", &host).is_err());
}

/// The NAT router's own ICMP errors about a datagram it translated quote
/// the datagram as it arrived (Linux translates them back as RELATED; RFC
/// 5508 §4.2, RFC 4787 REQ-13): its "fragmentation needed" for a reply
/// bound for a narrower inside link names the outside address and mapped
/// port, so the server's path-MTU discovery works through it. Before, the
/// quote held the inside address, the server could not match it, and the
/// download stalled.
#[test]
fn a_nat_routers_own_errors_quote_the_datagram_as_it_arrived() {
    let text = r#"
seed = 1
end = "30s"
[[host]]
name = "a"
addr = "10.99.0.2/24"
gateway = "10.99.0.1"
[[host]]
name = "server"
addr = "10.99.3.2/24"
gateway = "10.99.3.1"
[[router]]
name = "rin"
addrs = ["10.99.0.1/24", "10.99.1.2/24"]
routes = ["0.0.0.0/0 via 10.99.1.1"]
[[router]]
name = "r1"
addrs = ["10.99.1.1/24", "10.99.3.1/24"]
routes = ["10.99.0.0/24 via 10.99.1.2"]
[router.nat]
outside = "10.99.3.1"
inside = ["10.99.0.0/16"]
forward = ["tcp 2222 10.99.0.2:22", "tcp 8081 10.99.1.99:80"]
[[router.firewall]]
iface = "10.99.1.1"
inbound = ["allow tcp port 80"]
outbound = ["allow all"]
reject = true
[[link]]
ends = ["a", "rin"]
[[link]]
ends = ["rin", "r1"]
mtu = 1000
[[link]]
ends = ["r1", "server"]
delay = "2ms"
[[file]]
on = "server"
path = "/srv/www/big.bin"
size = "100KB"
[[run]]
at = "0s"
on = "server"
cmd = "serve http"
[[run]]
at = "1s"
on = "server"
cmd = "tcpdump -n -c 1 icmp"
[[run]]
at = "1s"
on = "a"
cmd = "curl -sS -m 10 -o /tmp/big.bin -w '%{size_download}\\n' http://10.99.3.2/big.bin"
[[run]]
at = "12s"
on = "server"
cmd = "nc -v -w 3 10.99.3.1 2222"
[[run]]
at = "16s"
on = "server"
cmd = "nc -v -w 8 10.99.3.1 8081"
"#;
    let r = run_file(text);
    let dump = &find(&r, "server", "tcpdump -n -c 1 icmp", 0).stdout;
    assert!(
        dump[0].ends_with(
            "IP 10.99.3.1 > 10.99.3.2: ICMP 10.99.3.1 unreachable - need to frag (mtu 1000), length 556"
        ),
        "{dump:?}"
    );
    let curl = find(
        &r,
        "a",
        "curl -sS -m 10 -o /tmp/big.bin -w '%{size_download}\\n' http://10.99.3.2/big.bin",
        0,
    );
    assert_eq!(
        (curl.exit, curl.stdout.as_slice()),
        (Some(0), &["100000".to_string()][..])
    );
    // A policy's reject of a port-forwarded flow: the reset comes from the
    // public address and port the client tried, so it is refused at once.
    let nc = find(&r, "server", "nc -v -w 3 10.99.3.1 2222", 0);
    assert_eq!(
        nc.stderr,
        ["nc: connect to 10.99.3.1 port 2222 (tcp) failed: Connection refused"]
    );
    // A port forward to an inside address nobody answers for: the NAT
    // router's own "host unreachable", made after the datagram left its
    // hooks, quotes the outside address and port the client tried (not
    // the inside one), so the client hears it.
    let nc = find(&r, "server", "nc -v -w 8 10.99.3.1 8081", 0);
    assert_eq!(
        nc.stderr,
        ["nc: connect to 10.99.3.1 port 8081 (tcp) failed: No route to host"]
    );
}

/// conntrack's filters as conntrack-tools takes them (the reference's
/// `conntrack -L -p tcp --dport 8000`), -C and -D; a refused connection
/// leaves no flow behind (Linux kills it on the RST).
#[test]
fn conntrack_filters_counts_and_deletes_flows() {
    let mut text = scenario("nat.toml");
    for (at, on, cmd) in [
        ("3.6s", "r1", "conntrack -L -p tcp --dport 7"),
        (
            "3.6s",
            "r1",
            "conntrack -L -p tcp --orig-port-dst 7 --src 10.99.1.3",
        ),
        ("3.6s", "r1", "conntrack -L -n 10.99.2.1 -p tcp"),
        ("3.6s", "r1", "conntrack -L -p icmp -o extended"),
        ("3.6s", "r1", "conntrack -C"),
        ("3.6s", "a", "nc 10.99.3.2 9999"),
        ("3.8s", "r1", "conntrack -L -p tcp --dport 9999"),
        ("3.9s", "r1", "conntrack -D -p tcp --dport 7"),
        ("3.9s", "r1", "conntrack -D -p tcp --dport 7"),
        ("3.95s", "r1", "conntrack -C"),
    ] {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = \"{cmd}\"\n"
        ));
    }
    let r = run_file(&text);
    let listed = |cmd: &str, n: usize| find(&r, "r1", cmd, n).stdout.clone();
    let echo = listed("conntrack -L -p tcp --dport 7", 0);
    assert_eq!(echo.len(), 2, "{echo:?}");
    assert!(echo
        .iter()
        .all(|l| l.starts_with("tcp      6 ") && l.contains(" dport=7 ")));
    let c = listed("conntrack -L -p tcp --orig-port-dst 7 --src 10.99.1.3", 0);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].contains("src=10.99.1.3 dst=10.99.3.2 "), "{c:?}");
    // Every outbound TCP flow is translated to the outside address.
    let snat = listed("conntrack -L -n 10.99.2.1 -p tcp", 0);
    assert!(snat.len() >= 2, "{snat:?}");
    let icmp = listed("conntrack -L -p icmp -o extended", 0);
    assert!(
        !icmp.is_empty() && icmp.iter().all(|l| l.starts_with("ipv4     2 icmp     1 ")),
        "{icmp:?}"
    );
    let count = |n: usize| -> usize { listed("conntrack -C", n)[0].parse().unwrap() };
    assert!(count(0) >= 4, "{:?}", listed("conntrack -C", 0));
    // Refused: the RST ended the flow at once.
    let refused = find(&r, "r1", "conntrack -L -p tcp --dport 9999", 0);
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert_eq!(
        refused.stderr,
        ["conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown."]
    );
    // -D prints what it deleted; nothing left to delete is status 1.
    let d = find(&r, "r1", "conntrack -D -p tcp --dport 7", 0);
    assert_eq!((d.stdout.len(), d.exit), (2, Some(0)), "{d:?}");
    assert_eq!(
        d.stderr,
        ["conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted."]
    );
    let again = find(&r, "r1", "conntrack -D -p tcp --dport 7", 1);
    assert_eq!(again.exit, Some(1), "{again:?}");
    assert_eq!(count(1), count(0) - 2);
}

/// With the flow table full of established connections, a new flow is
/// dropped before any rule sees it and counted as that — in `fw -L`'s
/// own column and `conntrack -S`'s `drop=` — not as NAT's drop or an
/// invalid packet.
#[test]
fn a_full_flow_table_drop_is_counted_as_such() {
    let mut text = String::from(
        r#"
seed = 4
[[host]]
name = "a"
addr = "10.99.1.2/24"
gateway = "10.99.1.1"
[[host]]
name = "server"
addr = "10.99.2.2/24"
gateway = "10.99.2.1"
[[router]]
name = "r1"
addrs = ["10.99.1.1/24", "10.99.2.1/24"]
conntrack_max = 16
[router.nat]
outside = "10.99.2.1"
inside = ["10.99.1.0/24"]
[[link]]
ends = ["a", "r1"]
delay = "100us"
[[link]]
ends = ["r1", "server"]
delay = "1ms"
[[run]]
at = "0s"
on = "server"
cmd = "serve echo"
"#,
    );
    for i in 0..16 {
        text.push_str(&format!(
            "[[run]]\nat = \"{}ms\"\non = \"a\"\ncmd = \"nc -w 20 10.99.2.2 7\"\n",
            1000 + 10 * i
        ));
    }
    text.push_str(
        "[[run]]\nat = \"2s\"\non = \"a\"\ncmd = \"nc -v -w 2 10.99.2.2 7\"\n\
         [[run]]\nat = \"5s\"\non = \"r1\"\ncmd = \"conntrack -S\"\n\
         [[run]]\nat = \"5s\"\non = \"r1\"\ncmd = \"fw -L\"\n",
    );
    let r = run_file(&text);
    let late = find(&r, "a", "nc -v -w 2 10.99.2.2 7", 0);
    assert_eq!(late.exit, Some(1), "{late:?}");
    let stats = find(&r, "r1", "conntrack -S", 0).stdout.join("\n");
    let fw = find(&r, "r1", "fw -L", 0).stdout.join("\n");
    // The SYN and its retransmissions within nc's two seconds.
    let drops: String = stats
        .split("drop=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    assert!(drops.parse::<u32>().is_ok_and(|n| n >= 2), "{stats}");
    assert!(stats.contains(" invalid=0 "), "{stats}");
    assert!(
        fw.contains(&format!("0 by NAT, {drops} with the flow table full;")),
        "{fw}"
    );
}
