//! traceroute's arguments as traceroute 2.1.2 (its CLIF library) reads
//! them: short and long options, their values and its error lines.

use std::time::Duration;

use super::{Method, TracerouteArgs};
use crate::args::{getopt, Opt};
use crate::Usage;

const USAGE: &str = "Usage:\n  traceroute [ -nFITU ] [ -f first_ttl ] [ -m max_ttl ] [ -N squeries ] [ -p port ] [ -w MAX,HERE,NEAR ] [ -q nqueries ] host [ packetlen ]\n  (long forms: --icmp --tcp --udp --dont-fragment --first= --max-hops= --sim-queries= --port= --queries= --wait=)";

fn bad(msg: String) -> Usage {
    Usage::new("traceroute", msg)
}

/// traceroute's complaint about an option argument it cannot read.
fn cannot(opt: char, v: &str) -> Usage {
    Usage {
        tool: "traceroute".into(),
        message: format!("Cannot handle `-{opt}' option with arg `{v}'"),
        usage: None,
        status: 2,
        help: None,
        bare: false,
    }
}

/// An option traceroute 2.1 has and this one lacks is said to be
/// unsupported; one neither has gets CLIF's line, which names the
/// argument's position: ``Bad option `-x' (argc 1)``.
fn bad_option(args: &[String], message: String) -> Usage {
    const REAL: &str = "46AdDeFf:g:Iil:M:m:N:nO:P:p:q:rs:Tt:UVw:z:";
    // The position CLIF names: the first argument (before `--`) that is
    // the option itself or a cluster holding it.
    let argc = |found: &dyn Fn(&str) -> bool| {
        args.iter()
            .take_while(|a| *a != "--")
            .position(|a| found(a))
            .map_or(1, |i| i + 1)
    };
    // A long option it does not know, as written (with its value).
    if let Some(name) = message
        .strip_prefix("unrecognized option '--")
        .and_then(|r| r.strip_suffix('\''))
    {
        let written = args.iter().find(|a| {
            a.strip_prefix("--")
                .is_some_and(|r| r.split('=').next() == Some(name))
        });
        let n = argc(&|a: &str| Some(a) == written.map(String::as_str));
        let message = match written.and_then(|w| w.split_once('=')) {
            Some((opt, value)) => {
                format!("Bad option `{opt}={value}' (with arg `{value}') (argc {n})")
            }
            None => format!("Bad option `--{name}' (argc {n})"),
        };
        return Usage {
            status: 2,
            ..Usage::new("traceroute", message)
        };
    }
    // An option given without the value it takes, with the value's name.
    if let Some(c) = message
        .strip_prefix("option requires an argument -- '")
        .and_then(|r| r.chars().next())
    {
        let n = argc(&|a: &str| a.starts_with('-') && !a.starts_with("--") && a.ends_with(c));
        return needs_value(c, n);
    }
    let said = crate::args::unsupported(message.clone(), REAL);
    let letter = message
        .strip_prefix("invalid option -- '")
        .and_then(|r| r.chars().next());
    let message = match letter {
        Some(c) if said == message => {
            let n = argc(&|a: &str| a.starts_with('-') && !a.starts_with("--") && a.contains(c));
            format!("Bad option `-{c}' (argc {n})")
        }
        _ => said,
    };
    Usage {
        status: 2,
        ..Usage::new("traceroute", message)
    }
}

/// Where CLIF counts an operand: its place among the arguments, from 1
/// (the last one written so, as operands come after options).
fn argv_index(args: &[String], operand: &str) -> usize {
    args.iter()
        .rposition(|a| a == operand)
        .map_or(args.len(), |i| i + 1)
}

/// CLIF's line for an option that did not get its value.
fn needs_value(c: char, argc: usize) -> Usage {
    let what = match c {
        'f' => "first_ttl",
        'm' => "max_ttl",
        'N' => "squeries",
        'p' => "port",
        'q' => "nqueries",
        'w' => "MAX,HERE,NEAR",
        _ => "value",
    };
    Usage {
        status: 2,
        ..Usage::new(
            "traceroute",
            format!("Option `-{c}' (argc {argc}) requires an argument: `-{c} {what}'"),
        )
    }
}

/// CLIF (traceroute's option parser) takes an option's value glued on
/// only when the option opens its argument (`-q1`); one inside a cluster
/// (`-nq1`) must end it and take the next argument as its value, else
/// it has none.
fn glued_in_a_cluster(args: &[String]) -> Result<(), Usage> {
    for (i, a) in args.iter().take_while(|a| *a != "--").enumerate() {
        let Some(letters) = a.strip_prefix('-').filter(|l| !l.starts_with('-')) else {
            continue;
        };
        for (j, c) in letters.char_indices() {
            let takes_value = "fmNpqw".contains(c);
            if j > 0 && takes_value && j + c.len_utf8() < letters.len() {
                return Err(needs_value(c, i + 1));
            }
            if takes_value {
                break;
            }
        }
    }
    Ok(())
}

/// `-w MAX[,HERE[,NEAR]]`. As traceroute 2.1's set_wait_specs, the factors
/// not given are 0 (not used): `-w 2` waits the whole 2 s for every probe,
/// where the default (5,3,10) may cut a wait short.
fn parse_wait(v: &str) -> Result<(f64, f64, f64), Usage> {
    let mut parts = v.split([',', '/']);
    let num = |s: Option<&str>, d: f64| -> Result<f64, Usage> {
        match s {
            None => Ok(d),
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| cannot('w', v)),
        }
    };
    let max = num(parts.next(), 5.0)?;
    let here = num(parts.next(), 0.0)?;
    let near = num(parts.next(), 0.0)?;
    if parts.next().is_some() {
        return Err(cannot('w', v));
    }
    // traceroute's set_wait_specs: numbers, but not ones it can wait by.
    if max < 0.0 || here < 0.0 || near < 0.0 {
        return Err(bad(format!(
            "bad wait specifications `{},{},{}' used",
            crate::format::g(max),
            crate::format::g(here),
            crate::format::g(near)
        )));
    }
    // Bounded so that a multiple of an RTT stays a Duration.
    if max > 1e6 || here > 1e6 || near > 1e6 {
        return Err(cannot('w', v));
    }
    Ok((max, here, near))
}

/// Where CLIF counts an option's value: the argument that holds it, from
/// 1 (`-w x` is the value's own argument, `-wx` the option's).
fn value_argc(args: &[String], opt: char, value: &str) -> usize {
    for (i, a) in args.iter().take_while(|a| *a != "--").enumerate() {
        if *a == format!("-{opt}{value}") {
            return i + 1;
        }
        if a.starts_with('-') && a.ends_with(opt) && args.get(i + 1).is_some_and(|n| n == value) {
            return i + 2;
        }
    }
    1
}

impl TracerouteArgs {
    pub fn parse(args: &[String]) -> Result<TracerouteArgs, Usage> {
        Self::parse_args(args).map_err(|mut u| {
            // CLIF adds where the value it could not handle was.
            let cannot = u
                .message
                .strip_prefix("Cannot handle `-")
                .and_then(|r| r.split_once("' option with arg `"))
                .and_then(|(o, v)| Some((o.chars().next()?, v.strip_suffix('\'')?.to_string())));
            if let Some((opt, value)) = cannot {
                u.message = format!("{} (argc {})", u.message, value_argc(args, opt, &value));
            }
            // traceroute's errors (ex_error, CLIF) do not name it.
            u.bare = true;
            u
        })
    }

    fn parse_args(args: &[String]) -> Result<TracerouteArgs, Usage> {
        // Debian's traceroute: --help prints the usage on stderr and exits
        // 0 (-h is a bad option there).
        if crate::asks_help(args, false) {
            return Err(Usage::help("traceroute", USAGE.into(), false, 0));
        }
        // -V / --version, on standard output.
        if args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "-V" || a == "--version")
        {
            return Err(Usage::help(
                "traceroute",
                "Modern traceroute for Linux, version 2.1.2\nCopyright (c) 2016  Dmitry Butskoy,   License: GPL v2 or any later".into(),
                true,
                0,
            ));
        }
        // With no arguments at all, traceroute 2.1 prints its help (on
        // stderr, exit 0) as for --help.
        if args.is_empty() {
            return Err(Usage::help("traceroute", USAGE.into(), false, 0));
        }
        glued_in_a_cluster(args)?;
        // traceroute 2.1's long options this one lacks (its man page):
        // said to be unsupported rather than CLIF's "Bad option".
        const LONG_NOT_HERE: [&str; 18] = [
            "sport",
            "mtu",
            "back",
            "tos",
            "flowlabel",
            "interface",
            "source",
            "gateway",
            "sendwait",
            "extensions",
            "as-path-lookups",
            "module",
            "options",
            "fwmark",
            "debug",
            "type",
            "dccp",
            "protocol",
        ];
        // CLIF takes a long option's value only after `=`.
        const WITH_VALUE: [(&str, &str); 6] = [
            ("first", "first_ttl"),
            ("max-hops", "max_ttl"),
            ("sim-queries", "squeries"),
            ("port", "port"),
            ("queries", "nqueries"),
            ("wait", "MAX,HERE,NEAR"),
        ];
        for (i, a) in args.iter().take_while(|a| *a != "--").enumerate() {
            let Some(name) = a
                .strip_prefix("--")
                .map(|n| n.split('=').next().unwrap_or(n))
            else {
                continue;
            };
            if let Some((_, value)) = WITH_VALUE.iter().find(|(n, _)| *n == name) {
                if !a.contains('=') {
                    return Err(Usage {
                        status: 2,
                        bare: true,
                        ..Usage::new(
                            "traceroute",
                            format!(
                                "Option `--{name}' (argc {}) requires an argument: `--{name}={value}'",
                                i + 1
                            ),
                        )
                    });
                }
            }
            if LONG_NOT_HERE.contains(&name) {
                return Err(Usage {
                    status: 2,
                    ..Usage::new(
                        "traceroute",
                        format!("option --{name} is not supported in tcplab"),
                    )
                });
            }
        }
        // -4: IPv4, which is all this traceroute speaks. The long options
        // are traceroute 2.1's names for the short ones.
        let (opts, operands) = getopt(
            args,
            "4nFITUf:m:N:p:q:w:",
            &[
                "icmp",
                "tcp",
                "udp",
                "dont-fragment",
                "first=",
                "max-hops=",
                "sim-queries=",
                "port=",
                "queries=",
                "wait=",
            ],
        )
        .map_err(|e| bad_option(args, e))?;
        let opts = opts.into_iter().map(|o| match o {
            Opt::Long(name, v) => {
                let c = match name.as_str() {
                    "icmp" => 'I',
                    "tcp" => 'T',
                    "udp" => 'U',
                    "dont-fragment" => 'F',
                    "first" => 'f',
                    "max-hops" => 'm',
                    "sim-queries" => 'N',
                    "port" => 'p',
                    "queries" => 'q',
                    _ => 'w',
                };
                Opt::Short(c, v)
            }
            short => short,
        });
        let mut a = TracerouteArgs {
            method: Method::Udp,
            first_ttl: 1,
            max_ttl: 30,
            queries: 3,
            wait_max: Duration::from_secs(5),
            wait_here: 3.0,
            wait_near: 10.0,
            sim_queries: 16,
            port: None,
            numeric: false,
            dont_frag: false,
            packet_len: None,
            target: String::new(),
        };
        for o in opts {
            let Opt::Short(c, v) = o else { continue };
            let v = v.unwrap_or_default();
            let int = |v: &str| v.parse::<u64>().map_err(|_| cannot(c, v));
            match c {
                'n' => a.numeric = true,
                'F' => a.dont_frag = true,
                'I' => a.method = Method::Icmp,
                'T' => a.method = Method::Tcp,
                'U' => a.method = Method::UdpFixed,
                'f' => {
                    a.first_ttl =
                        u8::try_from(int(&v)?).map_err(|_| bad("first hop out of range".into()))?
                }
                'm' => {
                    a.max_ttl = u8::try_from(int(&v)?)
                        .map_err(|_| bad("max hops cannot be more than 255".into()))?
                }
                'N' => a.sim_queries = int(&v)?.clamp(1, 1000) as usize,
                // CLIF_set_uint takes any unsigned number; the probes
                // carry it in 16 bits (70000 is port 4464).
                'p' => a.port = Some((int(&v)? & 0xffff) as u16),
                'q' => {
                    let q = int(&v)?;
                    if q == 0 || q > 10 {
                        return Err(bad("no more than 10 probes per hop".into()));
                    }
                    a.queries = q as usize;
                }
                'w' => {
                    let (max, here, near) = parse_wait(&v)?;
                    a.wait_max = Duration::from_secs_f64(max);
                    a.wait_here = here;
                    a.wait_near = near;
                }
                _ => {}
            }
        }
        // traceroute checks the first hop against the maximum first, so
        // `-m 0` is a first hop out of range.
        if a.first_ttl == 0 || a.first_ttl > a.max_ttl {
            return Err(bad("first hop out of range".into()));
        }
        match operands.as_slice() {
            [] => {
                return Err(Usage::with_usage(
                    "traceroute",
                    "Specify \"host\" missing argument.".into(),
                    USAGE,
                ))
            }
            [t] => a.target = t.clone(),
            [t, len] => {
                a.target = t.clone();
                let n: usize = len.parse().map_err(|_| {
                    bad(format!(
                        "Cannot handle \"packetlen\" cmdline arg `{len}' on position 2 (argc {})",
                        argv_index(args, len)
                    ))
                })?;
                if n > 65000 {
                    return Err(bad(format!("too big packetlen {n} specified")));
                }
                a.packet_len = Some(n);
            }
            [_, _, extra, ..] => {
                // CLIF names the first argument too many, and where.
                return Err(bad(format!(
                    "Extra arg `{extra}' (position 3, argc {})",
                    argv_index(args, extra)
                )));
            }
        }
        Ok(a)
    }

    /// The size of each probe datagram, IP header included.
    pub(super) fn probe_len(&self) -> usize {
        match self.method {
            // A SYN with the options Linux sends (MSS, SACK-permitted,
            // timestamps, window scale): 20 + 20 + 20 bytes.
            Method::Tcp => 60,
            _ => self.packet_len.unwrap_or(60).max(28),
        }
    }
}
