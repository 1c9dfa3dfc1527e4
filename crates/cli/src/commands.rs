//! The simulator starts commands through the tools crate.

use tcplab_sim::Commands as _;
pub use tcplab_tools::Tools;

/// A command checker for scenario loading.
pub fn check(cmdline: &str) -> Result<(), String> {
    Tools.check(cmdline)
}
