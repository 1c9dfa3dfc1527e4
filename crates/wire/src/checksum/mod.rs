//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! The checksum is the 16-bit one's complement of the one's complement sum of
//! the data taken as 16-bit big-endian words. One's complement addition is
//! associative and commutative and can be carried out on wider words with an
//! end-around carry (RFC 1071 §2(B)), which is what [`sum`] does, eight bytes
//! at a time.

use std::net::Ipv4Addr;

use crate::ip::Protocol;

/// One's complement sum of `data` (not complemented), folded to 16 bits.
///
/// An odd trailing byte is padded with a zero byte, as RFC 1071 requires.
pub fn data(data: &[u8]) -> u16 {
    fold(sum(data))
}

/// One's complement sum of `data` in a 64-bit accumulator (end-around carry).
pub fn sum(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let (s, carry) = acc.overflowing_add(u64::from_be_bytes(word));
        acc = s + u64::from(carry);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Left-align the remainder in a big-endian word: an odd final byte is
        // the high byte of a 16-bit word padded with zero.
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        let (s, carry) = acc.overflowing_add(u64::from_be_bytes(word));
        acc = s + u64::from(carry);
    }
    acc
}

/// Fold a 64-bit one's complement accumulator to 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    acc = (acc >> 32) + (acc & 0xffff_ffff);
    acc = (acc >> 32) + (acc & 0xffff_ffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc as u16
}

/// One's complement sum of several partial sums.
pub fn combine(parts: &[u16]) -> u16 {
    fold(parts.iter().map(|&p| u64::from(p)).sum())
}

/// Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293 §3.1).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol, length: u32) -> u16 {
    let mut acc: u64 = 0;
    acc += u64::from(u32::from(src) >> 16) + u64::from(u32::from(src) & 0xffff);
    acc += u64::from(u32::from(dst) >> 16) + u64::from(u32::from(dst) & 0xffff);
    acc += u64::from(u8::from(protocol));
    acc += u64::from(length >> 16) + u64::from(length & 0xffff);
    fold(acc)
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data
/// changed from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
///
/// Unlike eqn. 2 of RFC 1141 this never produces `0x0000` from a non-zero sum
/// when the true result is `0xffff`, the corner case RFC 1624 §3 is about.
pub fn update_word(checksum: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// RFC 1624 update for a changed 32-bit field (an IPv4 address, a sequence
/// number): two 16-bit word updates.
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update_word(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update_word(c, old as u16, new as u16)
}

#[cfg(test)]
mod tests;
