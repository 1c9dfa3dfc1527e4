//! Name resolution for the tools: the host's hosts table first, then DNS
//! when the host has a resolver configured.

use std::net::Ipv4Addr;

use tcplab_host::Host;

/// Why a name did not resolve, as `getaddrinfo` would say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// `EAI_NONAME`: the name does not exist.
    #[error("Name or service not known")]
    NoName,
    /// `EAI_AGAIN`: no server answered.
    #[error("Temporary failure in name resolution")]
    Again,
}

/// A dotted quad, or a name from the hosts table or DNS.
pub async fn lookup(host: &Host, name: &str) -> Result<Ipv4Addr, ResolveError> {
    if let Ok(addr) = name.parse::<Ipv4Addr>() {
        return Ok(addr);
    }
    host.lookup(name).ok_or(ResolveError::NoName)
}

/// The name of an address (`getnameinfo` with `NI_NAMEREQD`), if any.
pub async fn reverse(host: &Host, addr: Ipv4Addr) -> Option<String> {
    host.reverse(addr)
}
