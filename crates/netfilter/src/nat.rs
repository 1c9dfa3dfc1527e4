//! NAT: masquerade (source NAT to the outside interface's address) with
//! endpoint-independent mapping, configurable filtering, port forwarding
//! (destination NAT) and hairpinning.
//!
//! The behaviour, in the terms of RFC 4787 and RFC 5382:
//!
//! * **Mapping** is endpoint-independent (RFC 4787 REQ-1, RFC 5382 REQ-1):
//!   an inside address and port keeps one outside port for every
//!   destination while any of its flows lives. The inside port is kept when
//!   it is free; otherwise a free port of the same class (1–511, 600–1023
//!   for 512–1023, 1024–65535, as Linux's `nf_nat_l4proto_unique_tuple`;
//!   REQ-3) is taken from a pseudo-random start. One outside
//!   port never serves two inside endpoints (no port overloading, REQ-3).
//! * **Filtering** of unsolicited inbound packets to a mapped port is one
//!   of endpoint-independent (any remote may send), address-dependent
//!   (remotes the inside endpoint has sent to) or address-and-port-
//!   dependent (only the exact remote endpoint: Linux's behaviour, the
//!   default).
//! * **Port forwarding** maps a protocol and port of the outside address
//!   to an inside address and port.
//! * **Hairpinning** (RFC 4787 REQ-9, RFC 5382 REQ-8): an inside host may
//!   reach a forwarded port on the outside address, or another inside
//!   endpoint's mapping when the filtering admits it (judged as from the
//!   sender's own outside address and port); the flow is also
//!   source-translated, so the inside peer sees the outside address and
//!   the sender's mapped port, and replies through the router.
//! * Mappings live as long as their flows, the flows admitted through
//!   them from outside included; flows expire by the connection tracker's
//!   timeouts (UDP 5 minutes once a stream, TCP established 5 days,
//!   transitory 4 minutes: RFC 4787 REQ-5, RFC 5382 REQ-5).
//! * ICMP errors about translated flows are translated, the quoted header
//!   included (RFC 5508; RFC 5382 REQ-9); ICMP never ends a mapping.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcplab_wire::Cidr;

use crate::packet::{ICMP, TCP, UDP};

/// How unsolicited inbound packets to a mapped port are filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filtering {
    EndpointIndependent,
    AddressDependent,
    #[default]
    AddressAndPortDependent,
}

impl Filtering {
    pub fn parse(s: &str) -> Result<Filtering, String> {
        Ok(match s {
            "endpoint-independent" | "eif" => Filtering::EndpointIndependent,
            "address-dependent" | "adf" => Filtering::AddressDependent,
            "address-and-port-dependent" | "apdf" => Filtering::AddressAndPortDependent,
            other => {
                return Err(format!(
                    "`{other}` is not a filtering behaviour (endpoint-independent, \
                     address-dependent, address-and-port-dependent)"
                ))
            }
        })
    }
}

impl fmt::Display for Filtering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Filtering::EndpointIndependent => "endpoint-independent",
            Filtering::AddressDependent => "address-dependent",
            Filtering::AddressAndPortDependent => "address-and-port-dependent",
        })
    }
}

/// A port forward: `PROTO PORT ADDR:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortForward {
    pub proto: u8,
    pub port: u16,
    pub to: SocketAddrV4,
    /// New flows that tried it (accepted or later dropped by a filter).
    pub attempts: u64,
}

impl PortForward {
    /// Read `tcp 8080 10.0.1.2:8000` (or `tcp 8080 -> 10.0.1.2:8000`).
    pub fn parse(text: &str) -> Result<PortForward, String> {
        let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "->").collect();
        let [proto, port, to] = &words[..] else {
            return Err(format!(
                "`{text}` is not a port forward (write e.g. \"tcp 8080 10.0.1.2:8000\")"
            ));
        };
        let proto = match proto.to_ascii_lowercase().as_str() {
            "tcp" => TCP,
            "udp" => UDP,
            other => return Err(format!("`{other}`: port forwards are for tcp or udp")),
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{port}` is not a port"))?;
        let to: SocketAddrV4 = to
            .parse()
            .map_err(|_| format!("`{to}` is not ADDRESS:PORT"))?;
        if to.port() == 0 {
            return Err(format!("`{to}` needs a port"));
        }
        Ok(PortForward {
            proto,
            port,
            to,
            attempts: 0,
        })
    }
}

/// NAT on a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// The outside interface (the stack's interface index).
    pub outside: usize,
    /// The outside address: what inside sources become.
    pub external: Ipv4Addr,
    /// Sources to translate; empty: every source not on the outside.
    pub inside: Vec<Cidr>,
    pub forwards: Vec<PortForward>,
    pub filtering: Filtering,
}

/// One inside endpoint's outside port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub external_port: u16,
    /// Flows using it.
    pub flows: usize,
    /// Remote endpoints it has sent to (for address-dependent filtering),
    /// the most recent [`REMOTES_KEPT`].
    pub remotes: BTreeSet<(Ipv4Addr, u16)>,
}

/// Remote endpoints remembered per mapping at most.
pub const REMOTES_KEPT: usize = 64;

/// The mapping table.
#[derive(Debug, Clone)]
pub struct Nat {
    pub config: NatConfig,
    /// (proto, inside address, inside port) → mapping.
    mappings: BTreeMap<(u8, Ipv4Addr, u16), Mapping>,
    /// (proto, outside port) → inside endpoint.
    by_port: BTreeMap<(u8, u16), (Ipv4Addr, u16)>,
    rng: u64,
    /// Allocations that found no free port.
    pub exhausted: u64,
}

impl Nat {
    pub fn new(config: NatConfig, seed: u64) -> Nat {
        Nat {
            config,
            mappings: BTreeMap::new(),
            by_port: BTreeMap::new(),
            rng: seed | 1,
            exhausted: 0,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Whether a source is translated on its way out.
    pub fn is_inside(&self, src: Ipv4Addr) -> bool {
        src != self.config.external
            && (self.config.inside.is_empty() || self.config.inside.iter().any(|c| c.contains(src)))
    }

    pub fn forward_for(&mut self, proto: u8, port: u16) -> Option<SocketAddrV4> {
        let f = self
            .config
            .forwards
            .iter_mut()
            .find(|f| f.proto == proto && f.port == port)?;
        f.attempts += 1;
        Some(f.to)
    }

    fn reserved(&self, proto: u8, port: u16) -> bool {
        self.by_port.contains_key(&(proto, port))
            || self
                .config
                .forwards
                .iter()
                .any(|f| f.proto == proto && f.port == port)
    }

    /// The outside port of an inside endpoint, creating the mapping if
    /// needed (one more flow uses it). `None` if no port is free.
    pub fn map(
        &mut self,
        proto: u8,
        inside: Ipv4Addr,
        port: u16,
        remote: (Ipv4Addr, u16),
    ) -> Option<u16> {
        let key = (proto, inside, port);
        if let Some(m) = self.mappings.get_mut(&key) {
            m.flows += 1;
            if m.remotes.len() >= REMOTES_KEPT {
                if let Some(first) = m.remotes.iter().next().copied() {
                    m.remotes.remove(&first);
                }
            }
            m.remotes.insert(remote);
            return Some(m.external_port);
        }
        let ext = if port != 0 && !self.reserved(proto, port) {
            port
        } else {
            // RFC 4787 REQ-3: stay in the port's class.
            let (lo, hi) = match port {
                0 if proto == ICMP => (1024u16, 65535u16),
                1..=511 => (1, 511),
                // Linux leaves 512-599 out of the class (historically the
                // ports rsh/rlogin-style services bind below).
                512..=1023 => (600, 1023),
                _ => (1024, 65535),
            };
            let span = u32::from(hi - lo) + 1;
            let start = (self.random() % u64::from(span)) as u32;
            // RFC 4787 REQ-4 (RECOMMENDED): keep the port's parity (RTP
            // and RTCP pairs) when a port of it is free, else any.
            let candidates = (0..span).map(|i| lo + ((start + i) % span) as u16);
            let found = candidates
                .clone()
                .find(|p| p % 2 == port % 2 && !self.reserved(proto, *p))
                .or_else(|| candidates.clone().find(|p| !self.reserved(proto, *p)));
            match found {
                Some(p) => p,
                None => {
                    self.exhausted += 1;
                    return None;
                }
            }
        };
        let mut remotes = BTreeSet::new();
        remotes.insert(remote);
        self.mappings.insert(
            key,
            Mapping {
                external_port: ext,
                flows: 1,
                remotes,
            },
        );
        self.by_port.insert((proto, ext), (inside, port));
        Some(ext)
    }

    /// A flow using the mapping of an inside endpoint ended.
    /// One more flow uses an existing mapping (one admitted through it
    /// from outside): the outside port stays the endpoint's while it lives
    /// (RFC 4787 REQ-3: no port overloading).
    pub fn hold(&mut self, proto: u8, inside: Ipv4Addr, port: u16) {
        if let Some(m) = self.mappings.get_mut(&(proto, inside, port)) {
            m.flows += 1;
        }
    }

    pub fn release(&mut self, proto: u8, inside: Ipv4Addr, port: u16) {
        let key = (proto, inside, port);
        let Some(m) = self.mappings.get_mut(&key) else {
            return;
        };
        m.flows = m.flows.saturating_sub(1);
        if m.flows == 0 {
            let ext = m.external_port;
            self.mappings.remove(&key);
            self.by_port.remove(&(proto, ext));
        }
    }

    /// The inside endpoint an unsolicited inbound packet from `remote` to
    /// outside port `port` may reach, by the filtering behaviour.
    pub fn inbound(
        &self,
        proto: u8,
        port: u16,
        remote: (Ipv4Addr, u16),
    ) -> Option<(Ipv4Addr, u16)> {
        let &(ip, p) = self.by_port.get(&(proto, port))?;
        let m = self.mappings.get(&(proto, ip, p))?;
        let allowed = match self.config.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => m.remotes.iter().any(|(a, _)| *a == remote.0),
            Filtering::AddressAndPortDependent => m.remotes.contains(&remote),
        };
        allowed.then_some((ip, p))
    }

    /// Whether `port` is the outside port of a live mapping.
    pub fn is_mapped(&self, proto: u8, port: u16) -> bool {
        self.by_port.contains_key(&(proto, port))
    }

    /// The outside port of an inside endpoint's mapping, if it has one.
    pub fn external_port(&self, proto: u8, inside: Ipv4Addr, port: u16) -> Option<u16> {
        self.mappings
            .get(&(proto, inside, port))
            .map(|m| m.external_port)
    }

    pub fn mappings(&self) -> impl Iterator<Item = (&(u8, Ipv4Addr, u16), &Mapping)> {
        self.mappings.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat(filtering: Filtering) -> Nat {
        Nat::new(
            NatConfig {
                outside: 1,
                external: Ipv4Addr::new(192, 0, 2, 1),
                inside: vec!["10.0.1.0/24".parse().unwrap()],
                forwards: vec![PortForward::parse("tcp 8080 10.0.1.2:8000").unwrap()],
                filtering,
            },
            7,
        )
    }

    const R1: (Ipv4Addr, u16) = (Ipv4Addr::new(198, 51, 100, 1), 53);
    const R2: (Ipv4Addr, u16) = (Ipv4Addr::new(198, 51, 100, 2), 53);

    #[test]
    fn endpoint_independent_mapping_keeps_the_port_when_free() {
        let mut n = nat(Filtering::default());
        let a = Ipv4Addr::new(10, 0, 1, 2);
        let b = Ipv4Addr::new(10, 0, 1, 3);
        assert_eq!(n.map(UDP, a, 40000, R1), Some(40000));
        // The same endpoint towards another remote: the same port (EIM).
        assert_eq!(n.map(UDP, a, 40000, R2), Some(40000));
        // Another inside host with the same port gets another one, in class.
        let other = n.map(UDP, b, 40000, R1).unwrap();
        assert_ne!(other, 40000);
        assert!(other >= 1024);
        // A low port stays low; the forwarded port is never handed out.
        let low = n.map(TCP, b, 8080, R1).unwrap();
        assert_ne!(low, 8080);
        assert!(low >= 1024, "8080 is in the 1024-65535 class");
        let privileged = n.map(UDP, b, 53, R1).unwrap();
        assert_eq!(privileged, 53);
        let privileged2 = n.map(UDP, a, 53, R1).unwrap();
        assert!((1..=511).contains(&privileged2) && privileged2 != 53);
        // 512-1023 maps into Linux's 600-1023.
        assert_eq!(n.map(TCP, a, 600, R1), Some(600));
        for i in 0..40u8 {
            let c = Ipv4Addr::new(10, 0, 3, i);
            let p = n.map(TCP, c, 600, R1).unwrap();
            assert!((600..=1023).contains(&p), "{p}");
        }
        // RFC 4787 REQ-4: a port that cannot be kept keeps its parity.
        assert_eq!((other % 2, low % 2, privileged2 % 2), (0, 0, 1));
        for i in 0..40u8 {
            let c = Ipv4Addr::new(10, 0, 2, i);
            assert_eq!(n.map(UDP, c, 40001, R1).map(|p| p % 2), Some(1), "{i}");
        }
        // Released when the last flow goes.
        n.release(UDP, a, 40000);
        assert!(n.mappings().any(|(k, _)| *k == (UDP, a, 40000)));
        n.release(UDP, a, 40000);
        assert!(!n.mappings().any(|(k, _)| *k == (UDP, a, 40000)));
    }

    #[test]
    fn filtering_behaviours() {
        let a = Ipv4Addr::new(10, 0, 1, 2);
        let stranger = (Ipv4Addr::new(203, 0, 113, 9), 9999);
        let same_host_other_port = (R1.0, 1234);
        for (f, from_stranger, from_same_host) in [
            (Filtering::EndpointIndependent, true, true),
            (Filtering::AddressDependent, false, true),
            (Filtering::AddressAndPortDependent, false, false),
        ] {
            let mut n = nat(f);
            let port = n.map(UDP, a, 40000, R1).unwrap();
            assert_eq!(
                n.inbound(UDP, port, stranger).is_some(),
                from_stranger,
                "{f}"
            );
            assert_eq!(
                n.inbound(UDP, port, same_host_other_port).is_some(),
                from_same_host,
                "{f}"
            );
            assert_eq!(n.inbound(UDP, port, R1), Some((a, 40000)), "{f}");
        }
    }

    #[test]
    fn forwards_parse() {
        let f = PortForward::parse("tcp 8080 -> 10.0.1.2:8000").unwrap();
        assert_eq!((f.proto, f.port, f.to.port()), (TCP, 8080, 8000));
        assert!(PortForward::parse("icmp 1 10.0.0.1:1").is_err());
        assert!(PortForward::parse("tcp 0 10.0.0.1:1").is_err());
        assert!(PortForward::parse("tcp 80 10.0.0.1").is_err());
    }
}
