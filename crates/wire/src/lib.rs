//! Packet formats for tcplab: IPv4, ICMPv4, UDP and TCP (with options), the
//! Internet checksum (including RFC 1624 incremental update), the classic
//! libpcap file format and a one-line tcpdump-style printer.
//!
//! Every format comes in two layers, in the manner of smoltcp's `wire`:
//!
//! * a zero-copy **packet view** (`ipv4::Packet<T: AsRef<[u8]>>`) whose byte
//!   offsets live in one `mod field`. Untrusted bytes enter only through
//!   `new_checked`, which validates every length the accessors rely on, so no
//!   accessor can panic afterwards;
//! * a validated **representation** (`ipv4::Repr`) with `parse`, `buffer_len`
//!   and `emit`. `parse(emit(r)) == r` for every representation (property
//!   tests in `tests/roundtrip.rs`).
//!
//! Checksums are *not* verified by `Repr::parse`: the caller verifies them
//! with the view's `verify_checksum` so that it can count bad checksums apart
//! from malformed packets (RFC 1122 §3.2.1.2, §4.1.3.4, RFC 9293 §3.1).
//!
//! Deliberately left out: IPv6, IP options other than skipping them (their
//! length is honoured), link-layer framing (tcplab's links carry raw IPv4).
#![forbid(unsafe_code)]

#[macro_use]
mod macros;

pub mod checksum;
pub mod icmpv4;
pub mod ip;
pub mod ipv4;
pub mod pcap;
pub mod pretty;
pub mod tcp;
pub mod udp;

mod error;

pub use error::{Error, Result};
pub use ip::{Cidr, CidrError, Protocol};
pub use pretty::PacketDisplay;
