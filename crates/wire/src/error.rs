/// Why a buffer could not be read as a packet.
///
/// These describe the *bytes*, never the caller: a peer's malformed packet is
/// dropped and counted by the stack, not reported as an error to anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than a length the packet itself claims.
    #[error("truncated packet")]
    Truncated,
    /// A field holds a value the format does not allow.
    #[error("malformed packet")]
    Malformed,
}

/// Result of parsing untrusted bytes.
pub type Result<T> = core::result::Result<T, Error>;
