//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! The checksum is the 16-bit one's complement of the one's complement sum of
//! the data taken as 16-bit big-endian words. One's complement addition is
//! associative and commutative and can be carried out on wider words with an
//! end-around carry, or in any byte order with a swap at the end (RFC 1071
//! §2(B)); [`sum`] adds native-endian 16-bit words into 32-bit lanes
//! without carries, which vectorises.

use std::net::Ipv4Addr;

use crate::ip::Protocol;

/// One's complement sum of `data` (not complemented), folded to 16 bits.
///
/// An odd trailing byte is padded with a zero byte, as RFC 1071 requires.
#[inline]
pub fn data(data: &[u8]) -> u16 {
    fold(sum(data))
}

/// One's complement sum of `data`, folded into 16 bits and returned in a
/// 64-bit accumulator (so sums of pieces can be added before [`fold`]).
///
/// The bytes are read as native-endian 16-bit words, 64 bytes at a time,
/// each word widened into one of thirty-two 32-bit lanes. There is no
/// add-with-carry chain, and the compiler turns the loop into vector
/// unpacks and additions (the indexed form below, not a `zip` with
/// `chunks_exact`, is the one it vectorises). Adding each 32-bit word's two
/// halves into sixteen lanes, as this did before, cost shuffles; 32-bit
/// words into 64-bit lanes stayed scalar. One's complement sums do not
/// depend on byte order except for a final swap (RFC 1071 §2(B)), done on
/// the folded result.
pub fn sum(data: &[u8]) -> u64 {
    const BLOCK: usize = 64;
    const LANES: usize = BLOCK / 2;
    if data.len() < BLOCK {
        return u64::from(u16::from_be(fold(short_native(data))));
    }
    let mut total: u64 = 0;
    // A lane takes one 16-bit word per block: 2^16 blocks before it could
    // overflow 32 bits, so pieces of 2^18 bytes (4096 blocks) are safe.
    for piece in data.chunks(1 << 18) {
        let mut acc = [0u32; LANES];
        let mut blocks = piece.chunks_exact(BLOCK);
        for b in &mut blocks {
            let b: &[u8; BLOCK] = b.try_into().expect("chunks_exact gives whole blocks");
            for (i, lane) in acc.iter_mut().enumerate() {
                *lane += u32::from(u16::from_ne_bytes([b[2 * i], b[2 * i + 1]]));
            }
        }
        total += acc.iter().map(|&a| u64::from(a)).sum::<u64>();
        total += short_native(blocks.remainder());
    }
    // Native order to network order.
    u64::from(u16::from_be(fold(total)))
}

/// The sum of fewer than a block's bytes (a header, a tail), unfolded and
/// in native byte order, as [`sum`]'s lanes add: 32-bit words into a
/// 64-bit accumulator (a word's value is congruent to the sum of its two
/// halves modulo 0xffff, so [`fold`] gives the 16-bit sum). An odd final
/// byte is the high byte of a big-endian word padded with zero (RFC 1071).
/// Headers are most of what is summed per segment: this costs a handful of
/// additions instead of a padded 64-byte block.
fn short_native(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a, b, c] => {
            acc + u64::from(u16::from_ne_bytes([a, b])) + u64::from(u16::from_ne_bytes([c, 0]))
        }
        [a, b] => acc + u64::from(u16::from_ne_bytes([a, b])),
        [a] => acc + u64::from(u16::from_ne_bytes([a, 0])),
        _ => acc,
    }
}

/// Copy `src` into `dst` (of the same length) and return the one's
/// complement sum of the bytes copied, as [`sum`] would. Where the copied
/// bytes sit at an odd offset of the checksummed data, swap the result's
/// bytes ([`swap_odd`]) before adding it to the rest (RFC 1071 §2(B)).
///
/// A copy (the C library's, which uses the widest vector unit the machine
/// has) and then a sum of the bytes just written, still in the first-level
/// cache. One loop that copied and summed each 64-byte block with the same
/// lanes was no faster in the bulk benchmark (five alternating runs each),
/// so the simpler form stays.
///
/// # Panics
/// If the two lengths differ.
pub fn copy_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    assert_eq!(dst.len(), src.len(), "copy_sum: lengths differ");
    dst.copy_from_slice(src);
    sum(dst)
}

/// The sum of bytes that start at an odd offset of the checksummed data,
/// given their sum as if they started at an even one: the two bytes of the
/// folded sum swap places (RFC 1071 §2(B), byte-order independence).
#[inline]
pub fn swap_odd(partial: u64) -> u64 {
    u64::from(fold(partial).swap_bytes())
}

/// Fold a 64-bit one's complement accumulator to 16 bits.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    acc = (acc >> 32) + (acc & 0xffff_ffff);
    acc = (acc >> 32) + (acc & 0xffff_ffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc as u16
}

/// One's complement sum of several partial sums.
#[inline]
pub fn combine(parts: &[u16]) -> u16 {
    fold(parts.iter().map(|&p| u64::from(p)).sum())
}

/// Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293 §3.1).
#[inline]
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
#[inline]
pub fn update_word(checksum: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// RFC 1624 update for a changed 32-bit field (an IPv4 address, a sequence
/// number): two 16-bit word updates.
#[inline]
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update_word(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update_word(c, old as u16, new as u16)
}

#[cfg(test)]
mod tests;
