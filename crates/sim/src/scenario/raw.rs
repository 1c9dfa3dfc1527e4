//! The scenario file as written: what serde reads, with spans for errors.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Error, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// A key written as one table (`[host.tcp]`, or inline): a list of tables
/// (`[[host.tcp]]`) is refused in words that name the mistake, not as the
/// first field's type error serde would report.
fn one_table<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    struct One<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for One<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("one table")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
            Err(A::Error::custom(
                "expected one table, in single brackets (such as [host.tcp]), found a list of tables in double brackets",
            ))
        }
    }
    d.deserialize_map(One(PhantomData)).map(Some)
}

/// [`one_table`] for a key whose position is kept ([`Spanned`]).
fn one_spanned_table<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Spanned<T>>, D::Error> {
    struct One<T>(T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for One<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            one_table(d).map(|t| One(t.expect("one_table gives a value")))
        }
    }
    let s = Spanned::<One<T>>::deserialize(d)?;
    let span = s.span();
    Ok(Some(Spanned::new(span, s.into_inner().0)))
}

/// A key written as a list of tables (`[[host]]`, one per entry): one
/// table (`[host]`) is refused in words that say so.
fn tables<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct List<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for List<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tables")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<T>, A::Error> {
            Err(A::Error::custom(
                "expected a list of tables, each in double brackets (such as [[host]]), found one table in single brackets",
            ))
        }
    }
    d.deserialize_seq(List(PhantomData))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
    pub(super) seed: Option<u64>,
    pub(super) ladder: Option<bool>,
    pub(super) end: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) host: Vec<RawNode>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) router: Vec<RawNode>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) link: Vec<RawLink>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) lan: Vec<RawLan>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) run: Vec<RawRun>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) file: Vec<RawFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) name: Spanned<String>,
    pub(super) addr: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) addrs: Vec<Spanned<String>>,
    pub(super) gateway: Option<Spanned<String>>,
    pub(super) routes: Option<Vec<Spanned<String>>>,
    pub(super) icmp_ratelimit: Option<Spanned<String>>,
    pub(super) send_redirects: Option<bool>,
    pub(super) accept_redirects: Option<bool>,
    pub(super) ttl: Option<Spanned<i64>>,
    #[serde(default, deserialize_with = "one_table")]
    pub(super) tcp: Option<RawTcp>,
    pub(super) nameservers: Option<Vec<Spanned<String>>>,
    pub(super) search: Option<Vec<Spanned<String>>>,
    #[serde(default, deserialize_with = "one_spanned_table")]
    pub(super) nat: Option<Spanned<RawNat>>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) acl: Vec<Spanned<RawAcl>>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) firewall: Vec<Spanned<RawFirewall>>,
    pub(super) conntrack_max: Option<Spanned<i64>>,
    pub(super) conntrack_tcp_loose: Option<Spanned<bool>>,
    pub(super) conntrack_timeouts: Option<Spanned<String>>,
}

/// A router's packet policy, wherever it is written (a `[[router]]` of a
/// scenario, or a rules file of `tcplab route`).
pub(super) struct RawRules<'r> {
    pub(super) nat: Option<&'r Spanned<RawNat>>,
    pub(super) acl: &'r [Spanned<RawAcl>],
    pub(super) firewall: &'r [Spanned<RawFirewall>],
    pub(super) conntrack_max: Option<&'r Spanned<i64>>,
    pub(super) conntrack_tcp_loose: Option<&'r Spanned<bool>>,
    pub(super) conntrack_timeouts: Option<&'r Spanned<String>>,
}

/// A rules file (`tcplab route RULES.toml`): the policy keys of a router.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRulesFile {
    #[serde(default, deserialize_with = "one_spanned_table")]
    pub(super) nat: Option<Spanned<RawNat>>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) acl: Vec<Spanned<RawAcl>>,
    #[serde(default, deserialize_with = "tables")]
    pub(super) firewall: Vec<Spanned<RawFirewall>>,
    pub(super) conntrack_max: Option<Spanned<i64>>,
    pub(super) conntrack_tcp_loose: Option<Spanned<bool>>,
    pub(super) conntrack_timeouts: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNat {
    /// The outside interface, by its address.
    pub(super) outside: Spanned<String>,
    pub(super) inside: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) forward: Vec<Spanned<String>>,
    pub(super) filtering: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAcl {
    pub(super) iface: Spanned<String>,
    #[serde(default)]
    pub(super) inbound: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) outbound: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFirewall {
    pub(super) iface: Spanned<String>,
    #[serde(default)]
    pub(super) inbound: Vec<Spanned<String>>,
    /// Left out: everything allowed out, as a new security group's one
    /// default outbound rule; `[]` allows nothing.
    pub(super) outbound: Option<Vec<Spanned<String>>>,
    pub(super) reject: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) on: Spanned<String>,
    pub(super) path: Spanned<String>,
    pub(super) text: Option<String>,
    pub(super) size: Option<Spanned<String>>,
}

/// TCP settings of a node, as written (`[host.tcp]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTcp {
    pub(super) msl: Option<Spanned<String>>,
    pub(super) rto_min: Option<Spanned<String>>,
    pub(super) rto_max: Option<Spanned<String>>,
    pub(super) delayed_ack: Option<Spanned<String>>,
    pub(super) send_buffer: Option<Spanned<i64>>,
    pub(super) recv_buffer: Option<Spanned<i64>>,
    pub(super) nagle: Option<bool>,
    pub(super) window_scaling: Option<bool>,
    pub(super) syn_retries: Option<Spanned<i64>>,
    pub(super) data_retries: Option<Spanned<i64>>,
    pub(super) keepalive_time: Option<Spanned<String>>,
    /// `newreno` (or `reno`), `cubic`, `bbr`, `bbr1`.
    pub(super) congestion: Option<Spanned<String>>,
    pub(super) sack: Option<bool>,
    pub(super) timestamps: Option<bool>,
    pub(super) rack: Option<bool>,
    pub(super) tlp: Option<bool>,
    pub(super) tw_reuse: Option<bool>,
    pub(super) nagle_minshall: Option<bool>,
    pub(super) quickack: Option<bool>,
    pub(super) slow_start_after_idle: Option<bool>,
    pub(super) push_at_burst_end: Option<bool>,
    /// Added to every ISN: to watch sequence numbers wrap.
    pub(super) isn_offset: Option<u32>,
}

/// Impairments of one direction, as written.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParams {
    pub(super) delay: Option<Spanned<String>>,
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<String>>,
    pub(super) queue: Option<Spanned<i64>>,
    pub(super) loss: Option<Spanned<String>>,
    pub(super) duplicate: Option<Spanned<String>>,
    pub(super) reorder: Option<Spanned<String>>,
    pub(super) corrupt: Option<Spanned<String>>,
    pub(super) drop: Option<Spanned<Vec<i64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLink {
    pub(super) ends: Spanned<Vec<Spanned<String>>>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) mtu: Option<Spanned<i64>>,
    pub(super) delay: Option<Spanned<String>>,
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<String>>,
    pub(super) queue: Option<Spanned<i64>>,
    pub(super) loss: Option<Spanned<String>>,
    pub(super) duplicate: Option<Spanned<String>>,
    pub(super) reorder: Option<Spanned<String>>,
    pub(super) corrupt: Option<Spanned<String>>,
    pub(super) drop: Option<Spanned<Vec<i64>>>,
    /// Overrides for what the first end sends.
    #[serde(default, deserialize_with = "one_table")]
    pub(super) forward: Option<RawParams>,
    /// Overrides for what the second end sends.
    #[serde(default, deserialize_with = "one_table")]
    pub(super) reverse: Option<RawParams>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLan {
    pub(super) name: Option<Spanned<String>>,
    pub(super) members: Spanned<Vec<Spanned<String>>>,
    pub(super) mtu: Option<Spanned<i64>>,
    pub(super) delay: Option<Spanned<String>>,
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<String>>,
    pub(super) queue: Option<Spanned<i64>>,
    pub(super) loss: Option<Spanned<String>>,
    pub(super) duplicate: Option<Spanned<String>>,
    pub(super) reorder: Option<Spanned<String>>,
    pub(super) corrupt: Option<Spanned<String>>,
    pub(super) drop: Option<Spanned<Vec<i64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    pub(super) at: Spanned<String>,
    pub(super) on: Option<Spanned<String>>,
    pub(super) cmd: Option<Spanned<String>>,
    pub(super) say: Option<String>,
    /// A link or LAN to change (with `down`, `up` or `set`).
    pub(super) link: Option<Spanned<String>>,
    pub(super) down: Option<bool>,
    pub(super) up: Option<bool>,
    /// `forward` (what the first end sends), `reverse`, or both if absent.
    pub(super) direction: Option<Spanned<String>>,
    /// New impairments for the link's directions.
    #[serde(default, deserialize_with = "one_table")]
    pub(super) set: Option<RawParams>,
    /// `add DEST via GATEWAY` or `del DEST` on the node `on`.
    pub(super) route: Option<Spanned<String>>,
}
