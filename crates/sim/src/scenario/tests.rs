use super::*;
use crate::impair::LossModel;

const GOOD: &str = r#"
seed = 7
title = "two routers"

[[host]]
name = "client"
addr = "10.0.1.2/24"
gateway = "10.0.1.1"

[[host]]
name = "server"
addr = "10.0.2.2/24"
gateway = "10.0.2.1"

[[router]]
name = "r1"
addrs = ["10.0.1.1/24", "10.0.12.1/30"]

[[router]]
name = "r2"
addrs = ["10.0.12.2/30", "10.0.2.1/24"]

[[link]]
ends = ["client", "r1"]
delay = "5ms"
rate = "100Mbit"

[[link]]
ends = ["r1", "r2"]
mtu = 576
loss = "1%"
[link.reverse]
loss = "gemodel 1% 10%"

[[link]]
ends = ["r2", "server"]

[[run]]
at = "1s"
on = "client"
cmd = "ping -c 3 server"

[[run]]
at = "0s"
say = "hello"
"#;

fn err(text: &str) -> ScenarioError {
    load("t.toml", text).unwrap_err()
}

#[test]
fn loads_the_design_sketch() {
    let s = load("t.toml", GOOD).unwrap();
    assert_eq!(s.seed, 7);
    assert_eq!(s.nodes.len(), 4);
    assert_eq!(s.segments.len(), 3);
    assert_eq!(s.segments[1].name, "r1-r2");
    assert_eq!(s.segments[1].sending[0].mtu, 576);
    assert_eq!(s.segments[1].sending[0].loss, LossModel::Random(0.01));
    assert!(matches!(
        s.segments[1].sending[1].loss,
        LossModel::GilbertElliott { .. }
    ));
    assert_eq!(s.segments[0].sending[0].delay, Duration::from_millis(5));
    assert_eq!(s.segments[0].sending[1].rate, Some(100_000_000));
    // r1's second interface is on the r1-r2 link and has its MTU.
    let r1 = &s.nodes[2];
    assert_eq!(r1.ifaces[1].segment, Some(1));
    assert_eq!(r1.ifaces[1].mtu, 576);
    assert_eq!(r1.routes, None, "router routes are computed");
    assert_eq!(s.timeline[0].action, Action::Say("hello".into()));
    assert_eq!(s.timeline[1].at, Duration::from_secs(1));
}

#[test]
fn unknown_key_names_the_line() {
    let text = GOOD.replace("rate = \"100Mbit\"", "rate = \"100Mbit\"\nspeed = 3");
    let e = err(&text);
    assert_eq!(e.line, 27);
    assert!(e.message.contains("unknown field `speed`"), "{e}");
    assert!(e.to_string().starts_with("t.toml:27:"), "{e}");
}

#[test]
fn unknown_congestion_control_names_the_choices_and_the_line() {
    let text = GOOD.replace(
        "gateway = \"10.0.1.1\"\n",
        "gateway = \"10.0.1.1\"\n[host.tcp]\ncongestion = \"vegas\"\n",
    );
    let e = err(&text);
    assert_eq!(
        e.message,
        "unknown congestion control `vegas` (newreno, cubic, bbr or bbr1)"
    );
    let line = text.lines().position(|l| l.contains("vegas")).unwrap() + 1;
    assert_eq!(e.line, line);
    let bbr1 = GOOD.replace(
        "gateway = \"10.0.1.1\"\n",
        "gateway = \"10.0.1.1\"\n[host.tcp]\ncongestion = \"bbr1\"\n",
    );
    let s = load("t.toml", &bbr1).unwrap();
    assert_eq!(
        s.nodes[0].tcp.congestion,
        tcplab_stack::tcp::CongestionAlgorithm::Bbr1
    );
}

#[test]
fn unknown_host_in_link() {
    let text = GOOD.replace("ends = [\"r2\", \"server\"]", "ends = [\"r2\", \"sever\"]");
    let e = err(&text);
    assert_eq!(e.message, "no host or router named `sever`");
    assert_eq!(e.line, 36);
}

#[test]
fn bad_cidr() {
    let e = err(&GOOD.replace("10.0.2.2/24", "10.0.2.300/24"));
    assert_eq!(e.message, "`10.0.2.300` is not an IPv4 address");
    assert_eq!(e.line, 12);
    let e = err(&GOOD.replace("10.0.2.2/24", "10.0.2.2"));
    assert!(e.message.contains("no prefix length"), "{e}");
    let e = err(&GOOD.replace("10.0.2.2/24", "10.0.2.0/24"));
    assert!(e.message.contains("network address"), "{e}");
}

#[test]
fn overlapping_and_duplicate_addresses() {
    let e = err(&GOOD.replace("addr = \"10.0.2.2/24\"", "addr = \"10.0.1.2/24\""));
    assert_eq!(e.message, "10.0.1.2 is already the address of `client`");
    let e = err(&GOOD.replace(
        "addrs = [\"10.0.1.1/24\", \"10.0.12.1/30\"]",
        "addrs = [\"10.0.1.1/24\", \"10.0.1.129/25\"]",
    ));
    assert!(
        e.message.contains("overlaps 10.0.1.1/24 on the same node"),
        "{e}"
    );
}

#[test]
fn link_without_shared_subnet() {
    let e = err(&GOOD.replace("ends = [\"client\", \"r1\"]", "ends = [\"client\", \"r2\"]"));
    assert!(e.message.contains("shares no subnet"), "{e}");
}

/// The same network written with different prefix lengths at the two
/// ends is named as that, not as two subnets that share nothing.
#[test]
fn link_ends_with_different_prefix_lengths() {
    let text = GOOD.replacen("addr = \"10.0.1.2/24\"", "addr = \"10.0.1.2/16\"", 1);
    assert_ne!(text, GOOD);
    let e = err(&text);
    assert!(
        e.message
            .contains("on one network with different prefix lengths"),
        "{e}"
    );
}

#[test]
fn interface_on_two_links() {
    let text = format!("{GOOD}\n[[link]]\nends = [\"client\", \"r1\"]\n");
    let e = err(&text);
    assert!(
        e.message.contains("already attached to another link"),
        "{e}"
    );
}

#[test]
fn bad_units_and_values() {
    let e = err(&GOOD.replace("delay = \"5ms\"", "delay = \"5\""));
    assert!(e.message.contains("no unit"), "{e}");
    let e = err(&GOOD.replace("loss = \"1%\"", "loss = \"1\""));
    assert!(e.message.contains("percentage"), "{e}");
    let e = err(&GOOD.replace("mtu = 576", "mtu = 40"));
    assert!(e.message.contains("68"), "{e}");
    let e = err(&GOOD.replace("delay = \"5ms\"", "reorder = \"5%\""));
    assert!(e.message.contains("reorder needs a delay"), "{e}");
}

/// Reordering needs a delay whenever it is on: a change that takes the
/// delay away from a reordering link is refused at its place, and one
/// that turns reordering on where a delay already is, is taken.
#[test]
fn reordering_keeps_its_delay_through_changes() {
    let reordering = GOOD.replace("delay = \"5ms\"", "delay = \"5ms\"\nreorder = \"10%\"");
    let e = err(&format!(
        "{reordering}\n[[run]]\nat = \"2s\"\nlink = \"client-r1\"\nset = {{ delay = \"0ms\" }}\n"
    ));
    assert!(
        e.message
            .starts_with("reorder needs a delay (the link keeps its reordering)"),
        "{e}"
    );
    let ok = format!(
        "{GOOD}\n[[run]]\nat = \"2s\"\nlink = \"client-r1\"\nset = {{ reorder = \"10%\" }}\n"
    );
    assert!(load("t.toml", &ok).is_ok());
    // Both in one change, in either order of time.
    let ok = format!(
        "{reordering}\n[[run]]\nat = \"2s\"\nlink = \"client-r1\"\nset = {{ delay = \"0ms\", reorder = \"0%\" }}\n"
    );
    assert!(load("t.toml", &ok).is_ok());
}

#[test]
fn timeline_errors() {
    let e = err(&GOOD.replace("on = \"client\"", "on = \"nobody\""));
    assert_eq!(e.message, "no host or router named `nobody`");
    let e = err(&GOOD.replace("say = \"hello\"", "cmd = \"x\""));
    assert!(e.message.contains("needs `on` and `cmd`, or `say`"), "{e}");
}

#[test]
fn a_link_name_given_twice_is_an_error_and_made_names_get_numbers() {
    let named = GOOD
        .replace(
            "[[link]]\nends = [\"client\", \"r1\"]",
            "[[link]]\nname = \"same\"\nends = [\"client\", \"r1\"]",
        )
        .replace(
            "[[link]]\nends = [\"r2\", \"server\"]",
            "[[link]]\nname = \"same\"\nends = [\"r2\", \"server\"]",
        );
    let e = err(&named);
    assert_eq!(e.message, "there is already a link or LAN named `same`");
    let e = err(&GOOD.replace(
        "[[link]]\nends = [\"r2\", \"server\"]",
        "[[link]]\nname = \"../x\"\nends = [\"r2\", \"server\"]",
    ));
    assert!(
        e.message.starts_with("`../x` cannot name a link or LAN"),
        "{e}"
    );
    // A given name may not be the one another link gets by default: a
    // run entry's `link = "client-r1"` would change the wrong link.
    let e = err(&GOOD.replace(
        "[[link]]\nends = [\"r2\", \"server\"]",
        "[[link]]\nname = \"client-r1\"\nends = [\"r2\", \"server\"]",
    ));
    assert_eq!(
        e.message,
        "`client-r1` is the name the link between client and r1 gets by default: give this one another name"
    );
    // Made names that repeat each other (two links between the same
    // nodes) are numbered.
    let two = r#"
[[host]]
name = "a"
addrs = ["10.0.1.1/24", "10.0.2.1/24"]
[[host]]
name = "b"
addrs = ["10.0.1.2/24", "10.0.2.2/24"]
[[link]]
ends = ["a:10.0.1.1", "b:10.0.1.2"]
[[link]]
ends = ["a:10.0.2.1", "b:10.0.2.2"]
"#;
    let s = load("t.toml", two).unwrap();
    let names: Vec<&str> = s.segments.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a-b", "a-b-2"]);
    // Made from different ends, the same name is an error: which link
    // `a-b-c` means would be a guess.
    let clash = r#"
[[host]]
name = "a-b"
addr = "10.0.1.1/24"
[[host]]
name = "c"
addrs = ["10.0.1.2/24", "10.0.2.2/24"]
[[host]]
name = "a"
addr = "10.0.2.1/24"
[[link]]
ends = ["a-b", "c"]
[[link]]
ends = ["a", "b-c"]
[[host]]
name = "b-c"
addr = "10.0.2.3/24"
"#;
    let e = load("t.toml", clash).unwrap_err();
    assert_eq!(
        e.message,
        "the links between a-b and c and between a and b-c both get the name `a-b-c` by default: give one a `name`"
    );
    assert_eq!(e.line, 14, "{e}");
    let named = clash.replace(
        "ends = [\"a\", \"b-c\"]",
        "name = \"ab\"\nends = [\"a\", \"b-c\"]",
    );
    assert!(load("t.toml", &named).is_ok());
}

#[test]
fn an_entry_after_the_end_would_never_run() {
    let e = err(&GOOD.replace("seed = 7", "seed = 7\nend = \"500ms\""));
    assert_eq!(e.message, "at 1s is after the scenario's end (500ms)");
    assert_eq!(e.line, 40, "{e}");
    assert!(load(
        "t.toml",
        &GOOD.replace("seed = 7", "seed = 7\nend = \"1s\"")
    )
    .is_ok());
    // Without `end`, the default hour is the limit.
    let e = err(&GOOD.replace("at = \"1s\"", "at = \"2h\""));
    assert_eq!(
        e.message,
        "at 2h is after the default end (3600 s; set `end` to run longer)"
    );
}

#[test]
fn gateway_must_be_on_link() {
    let e = err(&GOOD.replace("gateway = \"10.0.1.1\"", "gateway = \"10.0.9.1\""));
    assert!(
        e.message.contains("not on any of `client`'s subnets"),
        "{e}"
    );
}

#[test]
fn toml_syntax_error() {
    let e = err("[[host]\nname = 1");
    assert_eq!(e.line, 1);
}

/// Names that differ only in case are one DNS name; sizes that would make
/// a scenario load for minutes are refused at the entry past the limit.
#[test]
fn names_ignore_case_and_sizes_are_bounded() {
    let e = err("[[host]]\nname = \"a\"\naddr = \"10.0.0.1/24\"\n[[host]]\nname = \"A\"\naddr = \"10.0.0.2/24\"\n");
    assert_eq!(e.line, 5);
    assert!(e.message.contains("differ only in case"), "{}", e.message);
    let mut many = String::new();
    for i in 0..1001 {
        many.push_str(&format!(
            "[[host]]\nname = \"h{i}\"\naddr = \"10.{}.{}.1/24\"\n",
            i / 256,
            i % 256
        ));
    }
    let e = err(&many);
    assert_eq!(e.line, 1000 * 3 + 2);
    assert!(e.message.contains("at most 1000"), "{}", e.message);
    let mut runs = GOOD.to_string();
    for _ in 0..10_000 {
        runs.push_str("[[run]]\nat = \"1s\"\nsay = \"x\"\n");
    }
    assert!(err(&runs)
        .message
        .contains("more than 10000 [[run]] entries"));
}

/// Single and double brackets mixed up are named as such, at the line of
/// the header — not as the first field's type error.
#[test]
fn brackets_mixed_up_are_named() {
    let e = err("[host]\nname = \"a\"\naddr = \"10.0.0.1/24\"\n");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(
        e.message.contains("expected a list of tables"),
        "{}",
        e.message
    );
    let text = GOOD.replacen(
        "[[run]]",
        "[[host.tcp]]\ncongestion = \"bbr\"\n\n[[run]]",
        1,
    );
    let e = err(&text);
    assert!(
        e.message.contains("expected one table, in single brackets"),
        "{}",
        e.message
    );
    assert_eq!(text.lines().nth(e.line - 1), Some("[[host.tcp]]"));
    let text = GOOD.replacen("[[run]]", "[[link.forward]]\ndelay = \"1ms\"\n\n[[run]]", 1);
    assert!(err(&text).message.contains("expected one table"));
    let acl = "[[host]]\nname = \"a\"\naddr = \"10.0.0.1/24\"\n[[router]]\nname = \"r\"\n\
               addrs = [\"10.0.0.2/24\", \"10.1.0.1/24\"]\n[router.acl]\niface = \"10.0.0.2\"\n\
               inbound = [\"100 allow all\"]\n";
    let e = err(acl);
    assert_eq!(e.line, 7);
    assert!(
        e.message.contains("expected a list of tables"),
        "{}",
        e.message
    );
    load("t.toml", &acl.replace("[router.acl]", "[[router.acl]]")).unwrap();
    // In single brackets it is what the key takes.
    let text = GOOD.replacen("[[run]]", "[link.forward]\ndelay = \"1ms\"\n\n[[run]]", 1);
    load("t.toml", &text).unwrap();
}

#[test]
fn explicit_interface_choice() {
    let text = GOOD.replace(
        "ends = [\"r1\", \"r2\"]",
        "ends = [\"r1:10.0.12.1\", \"r2:10.0.12.2\"]",
    );
    let s = load("t.toml", &text).unwrap();
    assert_eq!(s.segments[1].members, vec![(2, 1), (3, 0)]);
    let text = GOOD.replace(
        "ends = [\"r1\", \"r2\"]",
        "ends = [\"r1:10.0.12.9\", \"r2\"]",
    );
    assert!(err(&text).message.contains("has no address 10.0.12.9"));
}

#[test]
fn resolver_settings_and_files() {
    let text = GOOD
        .replace(
            "gateway = \"10.0.1.1\"",
            "gateway = \"10.0.1.1\"\nnameservers = [\"10.0.2.2\"]\nsearch = [\"Lab.Test.\"]",
        )
        .replace(
            "[[run]]\nat = \"1s\"",
            "[[file]]\non = \"server\"\npath = \"/srv/www/big.bin\"\nsize = \"2MB\"\n\n[[file]]\non = \"server\"\npath = \"/etc/lab.zone\"\ntext = \"x\"\n\n[[run]]\nat = \"1s\"",
        );
    let s = load("t.toml", &text).unwrap();
    assert_eq!(s.nodes[0].nameservers, [Ipv4Addr::new(10, 0, 2, 2)]);
    assert_eq!(s.nodes[0].search, ["lab.test"]);
    assert_eq!(
        s.files[0],
        FileSpec {
            node: 1,
            path: "/srv/www/big.bin".into(),
            content: FileContent::Generated(2_000_000)
        }
    );
    assert_eq!(s.files[1].content, FileContent::Text("x".into()));
}

#[test]
fn bad_resolver_settings_and_files() {
    let ns = |v: &str| {
        err(&GOOD.replace(
            "gateway = \"10.0.1.1\"",
            &format!("gateway = \"10.0.1.1\"\n{v}"),
        ))
    };
    let e = ns("nameservers = [\"10.0.2\"]");
    assert_eq!(e.message, "`10.0.2` is not an IPv4 address");
    assert_eq!(e.line, 9, "the nameservers line");
    let e = ns("search = [\"lab..test\"]");
    assert_eq!(e.message, "`lab..test` is not a domain name");
    let file = |body: &str| err(&format!("{GOOD}\n[[file]]\n{body}\n"));
    let e = file("on = \"server\"\npath = \"srv/x\"\ntext = \"a\"");
    assert_eq!(e.message, "`srv/x` is not an absolute path");
    let e = file("on = \"nobody\"\npath = \"/x\"\ntext = \"a\"");
    assert_eq!(e.message, "no host or router named `nobody`");
    let e = file("on = \"server\"\npath = \"/x\"");
    assert!(e.message.contains("exactly one of `text` or `size`"), "{e}");
    let e = file("on = \"server\"\npath = \"/x\"\nsize = \"ten\"");
    assert!(e.message.contains("is not a size"), "{e}");
    let e = file("on = \"server\"\npath = \"/x\"\nsize = \"2GB\"");
    assert_eq!(
        e.message,
        "`2GB` is more than a generated file's limit, 1GiB"
    );
    let e = file("on = \"server\"\npath = \"/a/../../x\"\ntext = \"a\"");
    assert_eq!(e.message, "`/a/../../x` goes above `/`");
    let e = file("on = \"server\"\npath = \"/x/\"\ntext = \"a\"");
    assert_eq!(e.message, "`/x/` names a directory, not a file");
    let e = file("on = \"server\"\npath = \"/etc/./\"\ntext = \"a\"");
    assert_eq!(e.message, "`/etc/./` names a directory, not a file");
    let e = file("on = \"server\"\npath = \"/tmp\"\ntext = \"a\"");
    assert_eq!(e.message, "`/tmp` is a directory on every host, not a file");
    // One path cannot be a file and a directory of another.
    let two = |a: &str, b: &str| {
        err(&format!(
            "{GOOD}\n[[file]]\non = \"server\"\npath = \"{a}\"\ntext = \"1\"\n\
             [[file]]\non = \"server\"\npath = \"{b}\"\ntext = \"2\"\n"
        ))
        .message
    };
    assert_eq!(
        two("/x", "/x/y"),
        "`/x/y` and `/x` cannot both be files on this node"
    );
    assert_eq!(
        two("/x/y", "/x"),
        "`/x` and `/x/y` cannot both be files on this node"
    );
    // On different nodes, or side by side, they can.
    assert!(load(
        "t.toml",
        &format!(
            "{GOOD}\n[[file]]\non = \"server\"\npath = \"/x\"\ntext = \"1\"\n\
             [[file]]\non = \"client\"\npath = \"/x/y\"\ntext = \"2\"\n\
             [[file]]\non = \"server\"\npath = \"/xy\"\ntext = \"3\"\n"
        )
    )
    .is_ok());
}

/// Mistakes the loader once let through or placed badly (a black-box
/// review): each is one line at the place it names.
#[test]
fn more_mistakes_at_their_place() {
    // rto_min above rto_max: at rto_min's line.
    let e = err(&GOOD.replace(
        "gateway = \"10.0.1.1\"",
        "gateway = \"10.0.1.1\"\n[host.tcp]\nrto_min = \"10h\"",
    ));
    assert_eq!(
        (e.line, e.message.as_str()),
        (10, "rto_min (36000s) is larger than rto_max (120s)")
    );
    // A second route to the same destination.
    let e = err(&GOOD.replace(
        "gateway = \"10.0.1.1\"",
        "gateway = \"10.0.1.1\"\nroutes = [\"default via 10.0.1.1\"]",
    ));
    assert_eq!(
        e.message,
        "a second route to 0.0.0.0/0 on `client` (ip route add refuses it: File exists)"
    );
    let e = err(&GOOD.replace(
        "gateway = \"10.0.1.1\"",
        "routes = [\"10.9.0.0/16 via 10.0.1.1\", \"10.9.0.0/16 via 10.0.1.1\"]",
    ));
    assert!(
        e.message.starts_with("a second route to 10.9.0.0/16"),
        "{e}"
    );
    // A change that changes nothing.
    let e = err(&format!(
        "{GOOD}\n[[run]]\nat = \"2s\"\nlink = \"client-r1\"\nset = {{}}\n"
    ));
    assert!(e.message.starts_with("`set` changes nothing"), "{e}");
    // A number beyond TOML's integers.
    let e = err(&GOOD.replace("seed = 7", "seed = 99999999999999999999"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "number too large (at most 9223372036854775807 here)")
    );
    // A control character the TOML parser refuses without a word is named.
    for (c, code) in [('\r', "000D"), ('\0', "0000")] {
        let e = err(&GOOD.replace("title = \"two routers\"", &format!("# a{c}b")));
        assert_eq!(
            (e.line, e.message),
            (
                3,
                format!("control character U+{code} is not allowed in TOML here (only tab is)")
            )
        );
    }
    // An empty title is none; control characters are escaped.
    let s = load("t.toml", &GOOD.replace("\"two routers\"", "\"  \"")).unwrap();
    assert_eq!(s.title, None);
    let s = load(
        "t.toml",
        &GOOD.replace("\"two routers\"", "\"a\\u001b[2Jb\""),
    )
    .unwrap();
    assert_eq!(s.title.as_deref(), Some("a\\u{1b}[2Jb"));
}

#[test]
fn rules_files_for_tcplab_route() {
    let ifaces = [Ipv4Addr::new(10, 9, 1, 1), Ipv4Addr::new(10, 9, 2, 1)];
    let good = r#"
[nat]
outside = "10.9.2.1"
inside = ["10.9.1.0/24"]
forward = ["tcp 8080 10.9.1.2:8000"]

[[firewall]]
iface = "10.9.1.1"
inbound = ["allow tcp port 8000", "allow icmp"]
outbound = ["allow all"]

[[acl]]
iface = "10.9.2.1"
inbound = ["100 deny udp port 9999", "200 allow all"]
outbound = ["100 allow all"]
"#;
    let f = load_rules("rules.toml", good, &ifaces).unwrap();
    let nat = f.nat.as_ref().unwrap();
    assert_eq!(nat.outside, 1);
    assert_eq!(nat.forwards.len(), 1);
    assert_eq!(f.groups.len(), 1);
    assert_eq!(f.groups[0].0, 0);
    assert_eq!(f.acls[0].0, 1);
    assert_eq!(f.conntrack_max, 65_536);
    assert!(f.tcp_loose, "Linux's default: mid-stream pickup");
    // A security group without `outbound` keeps the rule a new group is
    // made with, allow all; `outbound = []` allows nothing out.
    let open = "[[firewall]]\niface = \"10.9.1.1\"\ninbound = [\"allow tcp port 80\"]\n";
    let f = load_rules("rules.toml", open, &ifaces).unwrap();
    let all = tcplab_netfilter::SgRule::parse("allow all").unwrap();
    assert_eq!(f.groups[0].1.outbound, [all]);
    let shut = format!("{open}outbound = []\n");
    let f = load_rules("rules.toml", &shut, &ifaces).unwrap();
    assert!(f.groups[0].1.outbound.is_empty());
    let strict = format!("conntrack_tcp_loose = false\n{good}");
    assert!(
        !load_rules("rules.toml", &strict, &ifaces)
            .unwrap()
            .tcp_loose
    );
    // Timeouts: the NAT RFCs' raised ones by default, Linux's on request.
    assert_eq!(f.timeouts, tcplab_netfilter::Timeouts::default());
    let linux = format!("conntrack_timeouts = \"linux\"\n{good}");
    assert_eq!(
        load_rules("rules.toml", &linux, &ifaces).unwrap().timeouts,
        tcplab_netfilter::Timeouts::linux()
    );
    let bad = format!("conntrack_timeouts = \"bsd\"\n{good}");
    let e = load_rules("rules.toml", &bad, &ifaces).unwrap_err();
    assert!(e.message.ends_with("not `bsd`"), "{e}");
    // An empty file is a router that forwards everything.
    let f = load_rules("rules.toml", "", &ifaces).unwrap();
    assert!(f.nat.is_none() && f.acls.is_empty() && f.groups.is_empty());
    for (text, want) in [
        (
            "[nat]\noutside = \"10.9.3.1\"\n",
            "rules.toml:2:11: 10.9.3.1 is not one of this router's addresses",
        ),
        (
            "[[router]]\nname = \"r\"\n",
            "rules.toml:1:3: unknown field `router`",
        ),
        (
            "[[acl]]\niface = \"10.9.1.1\"\ninbound = [\"100 allow tcp prot 80\"]\n",
            "rules.toml:3:12:",
        ),
        (
            "conntrack_max = 3\n",
            "rules.toml:1:17: conntrack_max must be between",
        ),
        (
            "[nat]\noutside = \"10.9.2.1\"\ninside = [\"10.9.1.0/24\"]\nforward = [\"tcp 80 10.9.2.1:8080\"]\n",
            "rules.toml:4:12: 10.9.2.1 is this router's own address: forward to a host behind it",
        ),
        (
            "[nat]\noutside = \"10.9.2.1\"\nforward = [\"udp 53 10.9.1.2:53\", \"tcp 80 127.0.0.1:80\"]\n",
            "rules.toml:3:34: 127.0.0.1 is not a host address: forward to a host behind this router",
        ),
        (
            "[nat]\noutside = \"10.9.2.1\"\nforward = [\"tcp 80 0.0.0.0:80\"]\n",
            "rules.toml:3:12: 0.0.0.0 is not a host address",
        ),
        (
            "[nat]\noutside = \"10.9.2.1\"\nforward = [\"tcp 80 224.0.0.1:80\"]\n",
            "rules.toml:3:12: 224.0.0.1 is not a host address",
        ),
        (
            "[nat]\noutside = \"10.9.2.1\"\ninside = []\n",
            "rules.toml:1:1: `inside = []` lists nobody",
        ),
    ] {
        let e = load_rules("rules.toml", text, &ifaces).unwrap_err();
        assert!(e.to_string().starts_with(want), "{e}");
    }
}

#[test]
fn tcp_switches_per_host() {
    let text = GOOD.replace(
        "gateway = \"10.0.1.1\"\n",
        "gateway = \"10.0.1.1\"\n[host.tcp]\nsack = false\nnagle_minshall = false\ncongestion = \"bbr\"\nquickack = false\nslow_start_after_idle = false\npush_at_burst_end = false\n",
    );
    let s = load("t.toml", &text).unwrap();
    let (client, server) = (&s.nodes[0].tcp, &s.nodes[1].tcp);
    assert!(!client.sack && !client.nagle_minshall);
    assert!(!client.quickack && !client.slow_start_after_idle && !client.push_at_burst_end);
    assert!(server.quickack && server.slow_start_after_idle && server.push_at_burst_end);
    assert_eq!(
        client.congestion,
        tcplab_stack::tcp::CongestionAlgorithm::Bbr
    );
    assert!(server.sack && server.nagle_minshall, "defaults elsewhere");
}

/// Names that commands would misread are refused: an option (`-a`), a
/// number or an address (`123`, `10.1`).
#[test]
fn a_host_name_must_read_as_a_name() {
    for (name, says) in [
        ("-a", "would read it as an option"),
        ("123", "would read it as a number or an address"),
        ("10.1", "would read it as a number or an address"),
        ("localhost", "every host's own name"),
        ("LocalHost", "every host's own name"),
        ("a.localhost", "every host's own name"),
        (&"h".repeat(64), "at most 63 characters, this one 64"),
        (".a", "no leading, trailing or doubled `.`"),
        ("a.", "no leading, trailing or doubled `.`"),
        ("a..b", "no leading, trailing or doubled `.`"),
    ] {
        let e = err(&GOOD.replace("name = \"server\"", &format!("name = \"{name}\"")));
        assert!(e.message.contains(says), "{name}: {e}");
        assert_eq!(e.line, 11, "{e}");
    }
    assert!(load("t.toml", &GOOD.replace("\"server\"", "\"web-1\"")).is_ok());
    let longest = format!("\"{}\"", "h".repeat(63));
    assert!(load("t.toml", &GOOD.replace("\"server\"", &longest)).is_ok());
}

/// A gateway or a route's gateway must be a neighbour's address: not the
/// subnet's network or broadcast address, not the node's own.
#[test]
fn a_gateway_must_be_a_neighbours_address() {
    for (gw, says) in [
        ("10.0.1.255", "the broadcast address of its subnet"),
        ("10.0.1.0", "the network address of its subnet"),
        ("10.0.1.2", "`client`'s own address"),
    ] {
        let e = err(&GOOD.replace("gateway = \"10.0.1.1\"", &format!("gateway = \"{gw}\"")));
        assert!(e.message.contains(says), "{gw}: {e}");
        let e = err(&GOOD.replace(
            "gateway = \"10.0.1.1\"",
            &format!("routes = [\"10.0.2.0/24 via {gw}\"]"),
        ));
        assert!(e.message.contains(says), "{gw}: {e}");
    }
}

/// Interface addresses a host cannot have: "this network" (0/8) and the
/// reserved 240/4 with the limited broadcast, beside loopback and
/// multicast.
#[test]
fn reserved_addresses_cannot_be_an_interfaces() {
    for addr in [
        "0.0.0.1/8",
        "255.255.255.255/31",
        "240.0.0.1/24",
        "127.0.0.2/8",
    ] {
        let e = err(&GOOD.replace("addr = \"10.0.1.2/24\"", &format!("addr = \"{addr}\"")));
        assert!(
            e.message.contains("cannot be an interface address"),
            "{addr}: {e}"
        );
    }
}
