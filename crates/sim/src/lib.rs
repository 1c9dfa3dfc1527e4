//! The deterministic simulated internetwork.
//!
//! Hosts and routers (each a [`tcplab_host::Host`] around a stack) joined by
//! point-to-point links and LANs that have an MTU, propagation delay, a rate
//! with a drop-tail queue, and seeded impairments (loss, bursty loss,
//! duplication, reordering, corruption, jitter), each per direction. Time is
//! virtual and jumps to the next event; one seed drives every random choice,
//! so a run is reproducible to the byte, captures included.
//!
//! Scenarios come from TOML files ([`scenario::load`]); commands on the
//! timeline are started through the [`Commands`] trait, which the tools
//! crate implements (the simulator does not know any tool).
#![forbid(unsafe_code)]

/// What a link does to packets (the `tcplab-link` crate).
pub use tcplab_link as impair;
pub mod bulk;
pub mod record;
pub mod routing;
pub mod scenario;
pub mod segment;
pub mod units;

mod policy;
mod sim;

pub use impair::{DirStats, LinkParams, LossModel};
pub use policy::netfilter_for;
pub use record::{Fate, PacketRecord, Recording};
pub use scenario::{
    load, load_checked, load_rules, printable, Action, FilterSpec, ParamFields, Scenario,
    ScenarioError,
};
pub use sim::{
    generated, os_words, BuildError, Commands, LinkReport, Outcome, Sim, SimOptions, Started,
    TranscriptEvent, TranscriptSink, DEFAULT_END, NEIGHBOUR_TIMEOUT, NO_PROGRESS_WORK,
    TRANSCRIPT_KEEP_BYTES,
};
