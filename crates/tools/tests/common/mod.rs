//! Run tool commands in a small simulated network and collect what each
//! printed, for output-format tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use tcplab_host::Stream;
use tcplab_sim::{load_checked, Commands, Sim, SimOptions, TranscriptEvent};
use tcplab_tools::Tools;

/// The network of the reference captures: a client and a server with two
/// routers between them, plus a LAN host behind r2 for local traffic.
///
/// ```text
/// client 10.99.1.2 ── r1 ── r2 ── server 10.99.3.2
/// ```
pub const NET: &str = r#"
seed = 1

[[host]]
name = "client"
addr = "10.99.1.2/24"
gateway = "10.99.1.1"

[[host]]
name = "server"
addr = "10.99.3.2/24"
gateway = "10.99.3.1"

[[router]]
name = "r1"
addrs = ["10.99.1.1/24", "10.99.2.1/24"]

[[router]]
name = "r2"
addrs = ["10.99.2.2/24", "10.99.3.1/24"]

[[link]]
ends = ["client", "r1"]
delay = "100us"

[[link]]
ends = ["r1", "r2"]
delay = "200us"

[[link]]
ends = ["r2", "server"]
delay = "100us"
"#;

/// What one command printed, and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Ran {
    pub host: String,
    pub cmdline: String,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub exit: Option<i32>,
}

impl Ran {
    pub fn out(&self) -> String {
        let mut s = self.stdout.join("\n");
        s.push('\n');
        s
    }
}

/// (host, pid, stream, text)
type Line = (String, u32, Stream, String);

/// `net` with a service started at 0 s (`serve`), then `cmds` on
/// `client` one a second from 1 s: each command's result, the service's
/// left out.
pub fn after_service(net: &str, serve: (&str, &str, &str), cmds: &[&str]) -> Vec<Ran> {
    let times: Vec<String> = (0..cmds.len()).map(|i| format!("{}s", i + 1)).collect();
    let mut runs = vec![serve];
    for (i, c) in cmds.iter().enumerate() {
        runs.push((times[i].as_str(), "client", c));
    }
    let mut r = run_in(net, &runs);
    r.remove(0);
    r
}

/// `serve http` on `server` in `net`, then curl commands (see
/// [`after_service`]).
pub fn curls_in(net: &str, cmds: &[&str]) -> Vec<Ran> {
    after_service(net, ("0s", "server", "serve http"), cmds)
}

/// [`curls_in`] in the network of [`www_net`].
pub fn curls(cmds: &[&str]) -> Vec<Ran> {
    curls_in(&www_net(), cmds)
}

/// Run `NET` (or another network) plus `runs`, a list of
/// `(time, host, command)`; returns each command's result in start order.
pub fn run_in(net: &str, runs: &[(&str, &str, &str)]) -> Vec<Ran> {
    let mut text = net.to_string();
    for (at, on, cmd) in runs {
        text.push_str(&format!(
            "\n[[run]]\nat = \"{at}\"\non = \"{on}\"\ncmd = '''{cmd}'''\n"
        ));
    }
    let mut ran = run_file(&text);
    // Start order: the order of `runs`.
    let mut ordered = Vec::new();
    for (_, on, cmd) in runs {
        if let Some(i) = ran.iter().position(|r| r.host == *on && r.cmdline == *cmd) {
            ordered.push(ran.remove(i));
        }
    }
    ordered
}

/// Run a whole scenario file; every command's result, by host then start.
pub fn run_file(text: &str) -> Vec<Ran> {
    run_file_with(text, &Tools)
}

/// [`run_file`] with commands of the test's own beside the tools.
pub fn run_file_with(text: &str, commands: &dyn Commands) -> Vec<Ran> {
    let scenario = load_checked("test.toml", text, &|c| commands.check(c))
        .unwrap_or_else(|e| panic!("scenario: {e}"));
    let mut sim = Sim::new(&scenario, &SimOptions::default()).expect("build");
    let lines: Rc<RefCell<Vec<Line>>> = Rc::default();
    let sink = lines.clone();
    sim.set_sink(Rc::new(move |ev: &TranscriptEvent| {
        if let TranscriptEvent::Output(l) = ev {
            sink.borrow_mut()
                .push((l.host.to_string(), l.pid, l.stream, l.text.clone()));
        }
    }));
    sim.run(commands);
    let mut ran = Vec::new();
    for host in sim.hosts() {
        for p in host.processes() {
            let mut r = Ran {
                host: host.name().to_string(),
                cmdline: p.cmdline.clone(),
                exit: p.exit,
                ..Ran::default()
            };
            for (h, pid, stream, text) in lines.borrow().iter() {
                if *h == r.host && *pid == p.pid {
                    match stream {
                        Stream::Stdout => r.stdout.push(text.clone()),
                        Stream::Stderr => r.stderr.push(text.clone()),
                    }
                }
            }
            ran.push(r);
        }
    }
    ran
}

/// The `n`th (from 0) run of `cmdline` on `host`.
pub fn find<'a>(ran: &'a [Ran], host: &str, cmdline: &str, n: usize) -> &'a Ran {
    ran.iter()
        .filter(|r| r.host == host && r.cmdline == cmdline)
        .nth(n)
        .unwrap_or_else(|| panic!("no run {n} of `{cmdline}` on {host}"))
}

pub fn run(runs: &[(&str, &str, &str)]) -> Vec<Ran> {
    run_in(NET, runs)
}

/// Run one command on `host` of `NET` (after `setup` commands at time 0).
pub fn one(setup: &[(&str, &str)], host: &str, cmd: &str) -> Ran {
    let mut runs: Vec<(&str, &str, &str)> = setup.iter().map(|(h, c)| ("0s", *h, *c)).collect();
    runs.push(("100ms", host, cmd));
    run(&runs).pop().expect("the command ran")
}

/// The zones of the reference captures: `lab.test` and its reverse zone,
/// served by `server`; `client` uses it as its name server.
pub const ZONES: &str = r#"
[[file]]
on = "server"
path = "/etc/bind/db.lab.test"
text = """
$TTL 0
@       IN SOA ns.lab.test. hostmaster.lab.test. 2026112101 3600 900 604800 60
        IN NS  ns
        IN MX  10 mail
        IN TXT "v=spf1 mx -all"
ns      IN A   10.99.3.2
server  IN A   10.99.3.2
        IN AAAA fd00:99::2
v6only  IN AAAA fd00:99::6
r1      IN A   10.99.1.1
r2      IN A   10.99.2.2
mail    IN A   10.99.3.3
www     IN CNAME server
dangling IN CNAME nowhere.example.
multi   IN A   10.99.3.10
        IN A   10.99.3.11
_http._tcp IN SRV 0 5 80 server
"""

[[file]]
on = "server"
path = "/etc/bind/db.99.10.in-addr.arpa"
text = """
$TTL 0
@       IN SOA ns.lab.test. hostmaster.lab.test. 1 3600 900 604800 60
        IN NS  ns.lab.test.
1.1     IN PTR r1.lab.test.
2.2     IN PTR r2.lab.test.
2.3     IN PTR server.lab.test.
"""
"#;

/// `NET` with `ZONES`, `client` resolving through `server`, and the name
/// server started at time 0.
pub fn dns_net() -> String {
    NET.replace(
        "gateway = \"10.99.1.1\"",
        "gateway = \"10.99.1.1\"\nnameservers = [\"10.99.3.2\"]\nsearch = [\"lab.test\"]",
    ) + ZONES
}

pub const SERVE_DNS: (&str, &str, &str) = (
    "0s",
    "server",
    "serve dns --zone /etc/bind/db.lab.test --zone /etc/bind/db.99.10.in-addr.arpa",
);

/// Documents for `serve http` on `server`.
pub const WWW: &str = r#"
[[file]]
on = "server"
path = "/srv/www/hello.txt"
text = "plain text file\n"

[[file]]
on = "server"
path = "/srv/www/index.html"
text = "<html><body>hello from server</body></html>\n"

[[file]]
on = "server"
path = "/srv/www/sub/a.txt"
text = "a\n"

[[file]]
on = "server"
path = "/srv/www/big.bin"
size = "2MB"
"#;

pub fn www_net() -> String {
    format!("{NET}{WWW}")
}
