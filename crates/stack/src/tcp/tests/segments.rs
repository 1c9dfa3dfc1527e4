//! Segment-level tests (filled in below).
