//! Where randomness comes from: always the caller.
//!
//! The protocol needs random bytes for ephemeral keys (paper §5.4.2), sender
//! indices (§5.4.2), the cookie secret (§5.4.7), timer jitter (§6.1) and key
//! generation. This crate never reads OS randomness on its own: a [`Device`]
//! owns a `Box<dyn Entropy>` handed in by the driver.
//!
//! [`Device`]: crate::Device

use core::fmt;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// A source of random bytes.
pub trait Entropy {
    /// Fills `out` entirely with random bytes.
    fn fill(&mut self, out: &mut [u8]);
}

impl<E: Entropy + ?Sized> Entropy for Box<E> {
    fn fill(&mut self, out: &mut [u8]) {
        (**self).fill(out);
    }
}

/// LABORATORY entropy for the simulator and tests: a ChaCha20 stream seeded
/// from a `u64`.
///
/// The same seed gives the same bytes, so a simulated run is reproducible
/// byte for byte. Sixty-four bits of seed are guessable: never use this for a
/// tunnel that carries real traffic — use [`OsEntropy`].
pub struct SeededEntropy {
    rng: ChaCha20Rng,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> SeededEntropy {
        SeededEntropy {
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }
}

impl fmt::Debug for SeededEntropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededEntropy(..)")
    }
}

/// The operating system's random source (`getrandom`), for real tunnels.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, out: &mut [u8]) {
        // A Linux kernel without getrandom(2) or /dev/urandom cannot run a
        // tunnel safely at all; there is nothing sensible to fall back to.
        getrandom::getrandom(out).expect("the operating system's random source failed");
    }
}

/// Reads a little-endian `u32` from the source.
pub(crate) fn next_u32(e: &mut dyn Entropy) -> u32 {
    let mut b = [0u8; 4];
    e.fill(&mut b);
    u32::from_le_bytes(b)
}

/// Thirty-two random bytes.
pub(crate) fn bytes32(e: &mut dyn Entropy) -> [u8; 32] {
    let mut b = [0u8; 32];
    e.fill(&mut b);
    b
}
