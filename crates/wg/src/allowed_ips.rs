//! Allowed IPs: the prefixes that bind inner addresses to a peer.
//!
//! Paper §2 ("Cryptokey Routing"): on send, the destination address picks the
//! peer by longest-prefix match; on receive, the inner source address must be
//! one the sending peer is allowed to use. IPv4 only: inner IPv6 packets are
//! dropped and counted.

use core::fmt;
use core::str::FromStr;
use std::net::Ipv4Addr;

/// An IPv4 prefix such as `10.0.0.0/24`. The address is kept masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowedIp {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// Why an allowed-IP text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllowedIpParseError {
    #[error("allowed IP is not an IPv4 address")]
    BadAddress,
    #[error("allowed IP prefix length is not a number from 0 to 32")]
    BadPrefix,
}

impl AllowedIp {
    /// Builds a prefix, masking away host bits as `wg` does.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<AllowedIp> {
        if prefix > 32 {
            return None;
        }
        Some(AllowedIp {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// True when `ip` falls inside this prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for AllowedIp {
    type Err = AllowedIpParseError;
    /// `a.b.c.d/n`, or a bare address meaning `/32`.
    fn from_str(s: &str) -> Result<AllowedIp, AllowedIpParseError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| AllowedIpParseError::BadAddress)?;
        let prefix = match prefix {
            None => 32,
            Some(p) => p
                .parse::<u8>()
                .map_err(|_| AllowedIpParseError::BadPrefix)?,
        };
        AllowedIp::new(addr, prefix).ok_or(AllowedIpParseError::BadPrefix)
    }
}

impl fmt::Display for AllowedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}
