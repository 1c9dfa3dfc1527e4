//! A byte source and a byte sink, as scenario commands, for experiments
//! and benchmarks that need one bulk TCP flow per port (the goodput table,
//! the simulator's TCP benchmark).
//!
//! * `sink PORT` listens on PORT (5001 and up) and counts what it reads;
//! * `source HOST PORT` connects to HOST:PORT and writes for ever.

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcplab_host::{Host, TcpListener, TcpStream};

use crate::{Commands, Started};

/// The first sink port; sink `i` listens on `FIRST_PORT + i`.
pub const FIRST_PORT: u16 = 5001;

/// Bytes received by each sink, by port.
#[derive(Debug)]
pub struct BulkApps {
    received: Vec<Rc<Cell<u64>>>,
}

impl BulkApps {
    /// Counters for `sinks` sinks, on ports 5001, 5002, ...
    pub fn new(sinks: usize) -> BulkApps {
        BulkApps {
            received: (0..sinks).map(|_| Rc::new(Cell::new(0))).collect(),
        }
    }

    /// Bytes the sink on `FIRST_PORT + i` has read so far.
    pub fn received(&self, i: usize) -> u64 {
        self.received.get(i).map_or(0, |c| c.get())
    }

    /// Bytes read by every sink, in port order.
    pub fn all_received(&self) -> Vec<u64> {
        self.received.iter().map(|c| c.get()).collect()
    }
}

impl Commands for BulkApps {
    fn check(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn start(&self, host: &Host, cmdline: &str) -> Result<Started, String> {
        let words: Vec<&str> = cmdline.split_whitespace().collect();
        let pid = host.new_process(words.first().copied().unwrap_or(""), cmdline);
        match words.as_slice() {
            ["sink", port] => {
                let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
                let count = port
                    .checked_sub(FIRST_PORT)
                    .and_then(|i| self.received.get(usize::from(i)))
                    .ok_or_else(|| format!("no counter for port {port}"))?
                    .clone();
                let listener =
                    TcpListener::bind(host, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), 4)
                        .map_err(|e| e.to_string())?;
                host.spawn(pid, async move {
                    let Ok(stream) = listener.accept().await else {
                        return;
                    };
                    let mut buf = vec![0u8; 256 * 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        count.set(count.get() + n as u64);
                    }
                });
                Ok(Started { pid, daemon: true })
            }
            ["source", dst, port] => {
                let addr = host
                    .lookup(dst)
                    .ok_or_else(|| format!("unknown host {dst}"))?;
                let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
                let h = host.clone();
                host.spawn(pid, async move {
                    let Ok(stream) = TcpStream::connect(&h, SocketAddrV4::new(addr, port)).await
                    else {
                        return;
                    };
                    let chunk = vec![0u8; 256 * 1024];
                    while stream.write_all(&chunk).await.is_ok() {}
                });
                Ok(Started { pid, daemon: true })
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }
}
