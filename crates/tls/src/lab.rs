//! Where TLS takes its time and randomness from.
//!
//! Over TUN: the operating system ([`Entropy::Os`], ring's own provider).
//!
//! In the simulator: **a LABORATORY provider that must never be used
//! outside the simulator.** ring's cipher suites and signature checks, but
//! every random byte (hello randoms, session ids, ticket ids) and every
//! ephemeral X25519 key from a ChaCha20 stream seeded from the scenario's
//! seed, so the same seed gives byte-identical captures. Anyone who knows
//! the seed can recompute every key of the run: that is the point in a
//! lesson, and the reason it is unfit for anything else.
//!
//! ring's X25519 draws its private key from the operating system inside
//! `start()`, out of the provider's reach, so the lab replaces the key
//! exchange group with x25519-dalek fed from the stream. Signatures stay
//! deterministic because the lab's certificates are Ed25519 (an ECDSA or
//! RSA-PSS key loaded in the lab would sign with ring's randomness).
//!
//! Time: [`Clock`] holds the host's wall clock (virtual in the simulator),
//! set by whoever drives the session before each step; rustls reads it to
//! check certificate validity.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use rustls::{Error, NamedGroup, PeerMisbehaved};

/// The randomness a TLS configuration draws from.
#[derive(Clone, PartialEq, Eq)]
pub enum Entropy {
    /// The operating system's (over TUN).
    Os,
    /// LABORATORY ONLY: a stream from these 32 bytes (the host's seeded
    /// randomness in the simulator).
    Seeded([u8; 32]),
}

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entropy::Os => f.write_str("Os"),
            Entropy::Seeded(_) => f.write_str("Seeded(..)"),
        }
    }
}

/// The crypto provider for `entropy`.
pub fn provider(entropy: &Entropy) -> Arc<CryptoProvider> {
    match entropy {
        Entropy::Os => Arc::new(rustls::crypto::ring::default_provider()),
        Entropy::Seeded(seed) => {
            // rustls holds these as `&'static dyn`: one small value leaked
            // per configuration (per curl run, per server), never per
            // connection.
            let stream: &'static LabStream = Box::leak(Box::new(LabStream {
                rng: Mutex::new(ChaCha20Rng::from_seed(*seed)),
            }));
            let kx: &'static LabX25519 = Box::leak(Box::new(LabX25519 { stream }));
            Arc::new(CryptoProvider {
                kx_groups: vec![kx],
                secure_random: stream,
                ..rustls::crypto::ring::default_provider()
            })
        }
    }
}

/// LABORATORY ONLY: the seeded stream behind `secure_random` and the key
/// exchange.
#[derive(Debug)]
struct LabStream {
    rng: Mutex<ChaCha20Rng>,
}

impl LabStream {
    fn fill_bytes(&self, out: &mut [u8]) {
        // A poisoned lock still holds a usable generator.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        rng.fill_bytes(out);
    }
}

impl SecureRandom for LabStream {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.fill_bytes(buf);
        Ok(())
    }
}

/// LABORATORY ONLY: X25519 (RFC 7748) with its private scalar from the
/// seeded stream.
#[derive(Debug)]
struct LabX25519 {
    stream: &'static LabStream,
}

impl SupportedKxGroup for LabX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut sk = [0u8; 32];
        self.stream.fill_bytes(&mut sk);
        let secret = x25519_dalek::StaticSecret::from(sk);
        let public = x25519_dalek::PublicKey::from(&secret);
        Ok(Box::new(LabX25519Active { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct LabX25519Active {
    secret: x25519_dalek::StaticSecret,
    public: x25519_dalek::PublicKey,
}

impl ActiveKeyExchange for LabX25519Active {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| PeerMisbehaved::InvalidKeyShare)?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // RFC 8446 §7.4.2: an all-zero shared secret (a small-order point
        // from the peer) aborts the handshake.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// The time rustls sees: microseconds since the Unix epoch, set by the
/// driver from the host's wall clock (virtual in the simulator).
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    pub fn new(since_unix_epoch: Duration) -> Clock {
        let c = Clock::default();
        c.set(since_unix_epoch);
        c
    }

    pub fn set(&self, since_unix_epoch: Duration) {
        let micros = u64::try_from(since_unix_epoch.as_micros()).unwrap_or(u64::MAX);
        self.0.store(micros, Ordering::Relaxed);
    }

    /// Seconds since the Unix epoch.
    pub fn secs(&self) -> u64 {
        self.0.load(Ordering::Relaxed) / 1_000_000
    }
}

impl TimeProvider for Clock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_micros(
            self.0.load(Ordering::Relaxed),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8446 §7.4.2 and RFC 7748 §6.1 (MUST): a peer key share that is
    /// a small-order point (u = 0 or u = 1) makes the shared secret all
    /// zeros, and the handshake is aborted; an honest share completes.
    #[test]
    fn an_all_zero_x25519_secret_is_refused() {
        let p = provider(&Entropy::Seeded([7; 32]));
        let kx = p.kx_groups[0];
        for small in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            let Err(err) = kx.start().unwrap().complete(&small) else {
                panic!("a small-order point was accepted");
            };
            assert_eq!(err, PeerMisbehaved::InvalidKeyShare.into());
        }
        let (a, b) = (kx.start().unwrap(), kx.start().unwrap());
        let b_pub = b.pub_key().to_vec();
        let a_pub = a.pub_key().to_vec();
        let (Ok(s1), Ok(s2)) = (a.complete(&b_pub), b.complete(&a_pub)) else {
            panic!("an honest key share was refused");
        };
        assert_eq!(s1.secret_bytes(), s2.secret_bytes());
        assert!(s1.secret_bytes().iter().any(|&x| x != 0));
    }
}
