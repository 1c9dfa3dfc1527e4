//! Every tool's command line, with hostile values for every option letter:
//! parsing answers with a value or a usage error, never a panic (numbers
//! too large for a Duration, NaN, negative zero, empty strings...).

use tcplab_tools::Command;

const TOOLS: &[&str] = &[
    "ping",
    "traceroute",
    "nc",
    "serve",
    "transfer",
    "tcpdump",
    "ss",
    "netstat",
    "nslookup",
    "curl",
    "fw",
    "conntrack",
    "sha256sum",
    "cmp",
    "tunnel",
    "wg",
    "ip",
    "cert",
];

const VALUES: &[&str] = &[
    "1e20",
    "-1e20",
    "99999999999999999999",
    "18446744073709551616",
    "-1",
    "-0",
    "nan",
    "inf",
    "1e-400",
    "0x10",
    "0",
    "''",
    "4294967296",
    "2147483648",
    "65536",
    "1,1e300,1e300",
    "10.0.0.1/99",
    "é",
    // A character of several bytes where a parser may cut at byte 1 or 2.
    "xé",
    "–p",
    "-é",
];

#[test]
fn no_option_value_makes_a_parser_panic() {
    let letters = ('a'..='z').chain('A'..='Z').chain('0'..='9');
    let letters: Vec<char> = letters.collect();
    for tool in TOOLS {
        for &c in &letters {
            for v in VALUES {
                for line in [
                    format!("{tool} -{c} {v} 10.0.0.1"),
                    format!("{tool} -{c}{v} 10.0.0.1 80"),
                    format!("{tool} 10.0.0.1 -{c} {v}"),
                    format!("{tool} {v}"),
                    format!("{tool} -{c} 1 {v} {v}"),
                ] {
                    let r = std::panic::catch_unwind(|| {
                        let _ = Command::parse(&line);
                    });
                    assert!(r.is_ok(), "`{line}` panicked while parsing");
                }
            }
        }
    }
}

/// The long options that take numbers, with the same values.
#[test]
fn no_long_option_value_makes_a_parser_panic() {
    for opt in [
        "curl --limit-rate",
        "curl --connect-timeout",
        "curl --max-time",
        "curl --max-redirs",
        "curl --tls-max",
    ] {
        for v in VALUES {
            for line in [format!("{opt} {v} 10.0.0.1"), format!("{opt}={v} 10.0.0.1")] {
                let r = std::panic::catch_unwind(|| {
                    let _ = Command::parse(&line);
                });
                assert!(r.is_ok(), "`{line}` panicked while parsing");
            }
        }
    }
}
