//! The real kernel's numbers that the simulator's CPU costs are calibrated
//! against: bulk transfer through a unix stream socket and through TCP on
//! 127.0.0.1, 64 KiB writes, 2 GiB each, three rounds.
//!
//! `cargo run -p tcplab-bench --release --bin lo-vs-unix`
#![allow(clippy::print_stdout, clippy::disallowed_methods)]
// This binary measures the machine: it reads the real clock on purpose.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

const TOTAL: usize = 2 << 30;
const CHUNK: usize = 64 * 1024;

fn pump<R: Read + Send + 'static, W: Write>(reader: R, mut writer: W) -> std::io::Result<f64> {
    let sink = std::thread::spawn(move || -> std::io::Result<usize> {
        let mut reader = reader;
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(got);
            }
            got += n;
        }
    });
    let block = vec![0x5au8; CHUNK];
    let start = Instant::now();
    let mut sent = 0;
    while sent < TOTAL {
        writer.write_all(&block)?;
        sent += CHUNK;
    }
    drop(writer);
    let got = sink.join().expect("reader thread")?;
    assert_eq!(got, TOTAL);
    Ok(TOTAL as f64 * 8.0 / start.elapsed().as_secs_f64())
}

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("tcplab-lo-vs-unix-{}.sock", std::process::id()));
    println!("64 KiB writes, {} MiB per run", TOTAL >> 20);
    for round in 1..=3 {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let client = UnixStream::connect(&path)?;
        let (server, _) = listener.accept()?;
        let unix = pump(server, client)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        let tcp = pump(server, client)?;
        println!(
            "round {round}: unix stream {:.1} Gbit/s, tcp 127.0.0.1 {:.1} Gbit/s, ratio {:.2}",
            unix / 1e9,
            tcp / 1e9,
            unix / tcp
        );
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}
