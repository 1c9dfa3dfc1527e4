//! `wg`: WireGuard keys and status, as wireguard-tools' `wg` prints them.
//!
//! ```text
//! wg genkey                 a private key (base64)
//! wg genpsk                 a preshared key
//! echo KEY | wg pubkey      the public key of a private key
//! wg [show [IFACE | all]]   the WireGuard tunnels of this host
//! ```
//!
//! Keys are drawn from the host's randomness: the operating system's over
//! TUN, the scenario's seed in the simulator (reproducible, and so only for
//! the laboratory).

use tcplab_host::{Host, Output, Stdin};
use tcplab_wg::{Entropy, PresharedKey, PrivateKey};

use crate::tunnel::wg::{ago, bytes, entropy, WgStatus};
use crate::Usage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WgArgs {
    Genkey,
    Genpsk,
    Pubkey,
    Show(Option<String>),
    /// `wg show interfaces`: the names of the WireGuard interfaces.
    Interfaces,
    Version,
}

/// What `wg --version` says.
const VERSION: &str = "wg (tcplab): the commands of wireguard-tools v1.0.20210914";

/// A key's length in base64, and how much input `wg pubkey` reads at most.
const KEY_BASE64: usize = 44;
const PUBKEY_INPUT_MAX: usize = 4096;

const USAGE: &str = "Usage: wg <cmd> [<args>]

Available subcommands:
  show: Shows the current configuration and device information
  genkey: Generates a new private key and writes it to stdout
  genpsk: Generates a new preshared key and writes it to stdout
  pubkey: Reads a private key from stdin and writes a public key to stdout
You may pass `--help' to any of these subcommands to view usage.";

/// What `wg show IFACE` may be asked for alone.
const SHOW_FIELDS: &[&str] = &[
    "public-key",
    "private-key",
    "listen-port",
    "fwmark",
    "peers",
    "preshared-keys",
    "endpoints",
    "allowed-ips",
    "latest-handshakes",
    "transfer",
    "persistent-keepalive",
    "dump",
];

const SHOW_USAGE: &str = "Usage: wg show { <interface> | all | interfaces } [public-key | \
private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | \
latest-handshakes | transfer | persistent-keepalive | dump]";

impl WgArgs {
    pub fn parse(args: &[String]) -> Result<WgArgs, Usage> {
        if crate::asks_help(args, true) {
            return Err(Usage::help("wg", USAGE.into(), true, 0));
        }
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["help"] => Err(Usage::help("wg", USAGE.into(), true, 0)),
            ["version" | "--version" | "-v"] => Ok(WgArgs::Version),
            ["show", "interfaces"] => Ok(WgArgs::Interfaces),
            [] | ["show"] | ["show", "all"] => Ok(WgArgs::Show(None)),
            ["show", iface] => Ok(WgArgs::Show(Some(iface.to_string()))),
            ["genkey"] => Ok(WgArgs::Genkey),
            ["genpsk"] => Ok(WgArgs::Genpsk),
            ["pubkey"] => Ok(WgArgs::Pubkey),
            // A known subcommand given more than it takes: its own usage
            // line alone, as wg prints it.
            [sub @ ("genkey" | "genpsk" | "pubkey"), ..] => Err(Usage {
                status: 1,
                ..Usage::with_usage("wg", String::new(), &format!("Usage: wg {sub}"))
            }),
            ["show", _, field] if SHOW_FIELDS.contains(field) => Err(Usage {
                status: 1,
                ..Usage::new(
                    "wg",
                    format!("`wg show ... {field}` is not supported in tcplab"),
                )
            }),
            ["show", ..] => Err(Usage {
                status: 1,
                ..Usage::with_usage("wg", String::new(), SHOW_USAGE)
            }),
            // wireguard-tools' other subcommands: a device is configured
            // here when it is made (`tunnel wg`).
            [other @ ("showconf" | "set" | "setconf" | "addconf" | "syncconf"), ..] => {
                Err(Usage {
                    status: 1,
                    ..Usage::new(
                        "wg",
                        format!(
                            "`wg {other}` is not supported in tcplab (`tunnel wg` configures a device when it makes it)"
                        ),
                    )
                })
            }
            [other, ..] => Err(Usage {
                status: 1,
                ..Usage::with_usage("wg", format!("Invalid subcommand: `{other}'"), USAGE)
            }),
        }
    }

    pub fn reads_stdin(&self) -> bool {
        matches!(self, WgArgs::Pubkey)
    }
}

pub async fn run(host: Host, a: WgArgs, stdin: Stdin, mut out: Output, mut err: Output) -> i32 {
    match a {
        WgArgs::Genkey => {
            let mut e = entropy(&host);
            out.line(PrivateKey::generate(&mut *e as &mut dyn Entropy).to_string());
            0
        }
        WgArgs::Genpsk => {
            let mut e = entropy(&host);
            out.line(PresharedKey::generate(&mut *e as &mut dyn Entropy).to_string());
            0
        }
        WgArgs::Pubkey => {
            // As wireguard-tools' pubkey.c: the first 44 bytes are the key
            // (leading spaces are not skipped), then only whitespace (or
            // NULs) may follow; what it reads is bounded here.
            let mut input = Vec::new();
            let mut buf = [0u8; 1024];
            while input.len() <= PUBKEY_INPUT_MAX {
                let n = stdin.read(&mut buf).await;
                if n == 0 {
                    break;
                }
                input.extend_from_slice(&buf[..n]);
            }
            if input.len() < KEY_BASE64 {
                err.line("wg: Key is not the correct length or format");
                return 1;
            }
            let (key, rest) = input.split_at(KEY_BASE64);
            let trailing = rest
                .iter()
                .any(|&c| c != 0 && !c.is_ascii_whitespace() && c != 0x0b);
            if trailing || input.len() > PUBKEY_INPUT_MAX {
                err.line("wg: Trailing characters found after key");
                return 1;
            }
            match String::from_utf8_lossy(key).parse::<PrivateKey>() {
                Ok(k) => {
                    out.line(k.public_key().to_string());
                    0
                }
                Err(_) => {
                    err.line("wg: Key is not the correct length or format");
                    1
                }
            }
        }
        WgArgs::Version => {
            out.line(VERSION);
            0
        }
        WgArgs::Interfaces => {
            let names: Vec<String> = host
                .tunnels()
                .into_iter()
                .filter(|t| {
                    t.status
                        .as_ref()
                        .is_some_and(|s| s.as_any().downcast_ref::<WgStatus>().is_some())
                })
                .map(|t| t.name.clone())
                .collect();
            if !names.is_empty() {
                out.line(names.join(" "));
            }
            0
        }
        WgArgs::Show(iface) => show(&host, iface.as_deref(), &mut out, &mut err),
    }
}

fn show(host: &Host, only: Option<&str>, out: &mut Output, err: &mut Output) -> i32 {
    let tunnels: Vec<_> = host
        .tunnels()
        .into_iter()
        .filter(|t| only.is_none_or(|n| t.name == n))
        .collect();
    let mut shown = 0;
    for t in &tunnels {
        let Some(status) = &t.status else { continue };
        let Some(wg) = status.as_any().downcast_ref::<WgStatus>() else {
            continue;
        };
        if shown > 0 {
            out.line("");
        }
        shown += 1;
        let d = wg.device.borrow();
        out.line(format!("interface: {}", t.name));
        out.line(format!("  public key: {}", d.public_key()));
        out.line("  private key: (hidden)");
        out.line(format!("  listening port: {}", wg.listen_port));
        // wireguard-tools' pretty print sorts the peers (show.c's
        // peer_cmp): those with a handshake first, the newest first; the
        // others after, here in the order configured.
        let mut peers: Vec<_> = d.peers().collect();
        peers.sort_by_key(|p| std::cmp::Reverse(p.latest_handshake));
        for p in peers {
            out.line("");
            out.line(format!("peer: {}", p.public_key));
            if p.has_preshared_key {
                out.line("  preshared key: (hidden)");
            }
            if let Some(e) = p.endpoint {
                out.line(format!("  endpoint: {e}"));
            }
            let ips: Vec<String> = p.allowed_ips.iter().map(ToString::to_string).collect();
            out.line(format!(
                "  allowed ips: {}",
                if ips.is_empty() {
                    "(none)".to_string()
                } else {
                    ips.join(", ")
                }
            ));
            if let Some(t) = p.latest_handshake {
                out.line(format!("  latest handshake: {}", ago(host.wall_clock(), t)));
            }
            if p.rx_bytes > 0 || p.tx_bytes > 0 {
                out.line(format!(
                    "  transfer: {} received, {} sent",
                    bytes(p.rx_bytes),
                    bytes(p.tx_bytes)
                ));
            }
            if let Some(k) = p.persistent_keepalive {
                out.line(format!(
                    "  persistent keepalive: every {}",
                    crate::tunnel::wg::seconds_text(u64::from(k))
                ));
            }
            if p.handshake_failed {
                out.line("  (handshake gave up after 90 seconds: peer unreachable)");
            }
        }
    }
    if let (Some(_), 0) = (only, shown) {
        // wireguard-tools names only the error (strerror(ENODEV)).
        err.line("Unable to access interface: No such device");
        return 1;
    }
    0
}
