//! The simulator starts commands through the tools crate.

use tcplab_host::Host;
use tcplab_sim::{Commands, Started};

/// Every tool of `tcplab_tools`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tools;

impl Commands for Tools {
    fn check(&self, cmdline: &str) -> Result<(), String> {
        tcplab_tools::check(cmdline).map_err(|u| u.to_string())
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        tcplab_tools::start(host, cmdline)
            .map(|s| Started {
                pid: s.pid,
                daemon: s.daemon,
            })
            .map_err(|u| u.to_string())
    }
}

/// A command checker for scenario loading.
pub fn check(cmdline: &str) -> Result<(), String> {
    Tools.check(cmdline)
}
