//! TCP tests: a two-endpoint harness on a clock that jumps to the next
//! deadline, and segment-level tests that feed crafted segments to one stack.

mod claims;
mod cork;
mod interleave;
mod options;
mod pair;
mod recovery;
mod regressions;
mod reuseport;
mod review;
mod segments;
mod segments_send;
mod segments_sync;
mod sockopts;
mod table;
mod timers;
mod timewait;
mod trace;
mod transfer;
