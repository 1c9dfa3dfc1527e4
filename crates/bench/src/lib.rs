//! See benches/tcp_vs_smoltcp.rs.
