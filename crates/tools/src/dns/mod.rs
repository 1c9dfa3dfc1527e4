//! DNS: zones and an authoritative server, a recursive caching resolver,
//! a stub resolver, and the
//! presentation forms nslookup prints. Message encoding and decoding is
//! hickory-proto's; everything about transport (UDP with retries, TCP on
//! truncation, RFC 1035 §4.2) is ours.

pub mod client;
pub mod resolver;
pub mod server;
pub mod zone;
