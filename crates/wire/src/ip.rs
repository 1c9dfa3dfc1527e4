//! Things shared by the IP-layer formats: the protocol number and CIDR prefixes.

use core::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The IPv4 "Protocol" field (IANA protocol numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Icmp,
    Tcp,
    Udp,
    /// Any other protocol number, kept as it was.
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(value: u8) -> Self {
        match value {
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            other => Protocol::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(value: Protocol) -> Self {
        match value {
            Protocol::Icmp => 1,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Icmp => f.write_str("icmp"),
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Unknown(n) => write!(f, "ip-proto-{n}"),
        }
    }
}

/// An IPv4 address with a prefix length, as in `10.0.1.2/24`.
///
/// The address keeps its host bits: `10.0.1.2/24` is an interface address in
/// the network `10.0.1.0/24` (see [`Cidr::network`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    address: Ipv4Addr,
    prefix_len: u8,
}

/// Why a string is not a CIDR prefix. The messages are written for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` has no prefix length (write it as ADDRESS/LENGTH, e.g. 10.0.1.2/24)")]
    MissingPrefix(String),
    #[error("`{0}` is not an IPv4 address")]
    BadAddress(String),
    #[error("`{0}` is not a prefix length between 0 and 32")]
    BadPrefix(String),
}

impl Cidr {
    /// A prefix; `None` when `prefix_len > 32`.
    pub const fn new(address: Ipv4Addr, prefix_len: u8) -> Option<Cidr> {
        if prefix_len > 32 {
            None
        } else {
            Some(Cidr {
                address,
                prefix_len,
            })
        }
    }

    /// The /32 prefix holding exactly `address`.
    pub const fn host(address: Ipv4Addr) -> Cidr {
        Cidr {
            address,
            prefix_len: 32,
        }
    }

    pub const fn address(&self) -> Ipv4Addr {
        self.address
    }

    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a 32-bit integer.
    pub const fn mask_bits(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network this address belongs to, host bits cleared.
    pub fn network(&self) -> Cidr {
        Cidr {
            address: Ipv4Addr::from(u32::from(self.address) & self.mask_bits()),
            prefix_len: self.prefix_len,
        }
    }

    /// The directed broadcast address of the network; `None` for /31 and /32,
    /// which have none (RFC 3021).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            None
        } else {
            Some(Ipv4Addr::from(u32::from(self.address) | !self.mask_bits()))
        }
    }

    /// Whether `addr` lies in this prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        (u32::from(addr) ^ u32::from(self.address)) & self.mask_bits() == 0
    }

    /// Whether every address of `other` lies in this prefix.
    pub fn contains_prefix(&self, other: &Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains(other.address)
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains_prefix(other) || other.contains_prefix(self)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| CidrError::MissingPrefix(s.to_string()))?;
        let address = addr
            .parse::<Ipv4Addr>()
            .map_err(|_| CidrError::BadAddress(addr.to_string()))?;
        let prefix_len = len
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 32)
            .ok_or_else(|| CidrError::BadPrefix(len.to_string()))?;
        Ok(Cidr {
            address,
            prefix_len,
        })
    }
}

/// Whether an address can be the source of a datagram from the network:
/// not unspecified, multicast, limited broadcast or class E (RFC 1122
/// §3.2.1.3, RFC 1812 §5.3.7). Loopback is judged by the receiver, which
/// knows the interface.
pub fn is_unicast_source(addr: Ipv4Addr) -> bool {
    !(addr.is_unspecified()
        || addr.is_multicast()
        || addr.is_broadcast()
        || addr.octets()[0] >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let c: Cidr = "10.0.1.2/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.1.2/24");
        assert_eq!(c.network().to_string(), "10.0.1.0/24");
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(10, 0, 1, 255)));
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(c.contains(Ipv4Addr::new(10, 0, 1, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 2, 1)));
    }

    #[test]
    fn edges() {
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(255, 1, 2, 3)));
        assert_eq!(all.mask_bits(), 0);
        let host: Cidr = "192.0.2.1/32".parse().unwrap();
        assert!(host.contains(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(!host.contains(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(host.broadcast(), None);
        let p2p: Cidr = "10.0.12.0/31".parse().unwrap();
        assert_eq!(p2p.broadcast(), None);
    }

    #[test]
    fn overlap() {
        let a: Cidr = "10.0.0.0/8".parse().unwrap();
        let b: Cidr = "10.9.0.1/16".parse().unwrap();
        let c: Cidr = "11.0.0.0/8".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            "10.0.0.1".parse::<Cidr>(),
            Err(CidrError::MissingPrefix("10.0.0.1".into()))
        );
        assert_eq!(
            "10.0.0.300/8".parse::<Cidr>(),
            Err(CidrError::BadAddress("10.0.0.300".into()))
        );
        assert_eq!(
            "10.0.0.1/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix("33".into()))
        );
    }
}
