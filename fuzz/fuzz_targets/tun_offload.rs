//! What a TUN device with offloads reads and writes, on arbitrary bytes:
//! the offload header in front of what the kernel hands over (a checksum
//! to complete where the header says), and segments joined for the
//! kernel to cut. Never a panic; a joined write never exceeds an IPv4
//! datagram and always holds at least its header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_tun::gso::Coalescer;
use tcplab_tun::vnet;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let mut read = rest.to_vec();
    let _ = vnet::receive(&mut read);
    let mut join = Coalescer::default();
    for piece in rest.chunks(usize::from(cut).max(20)) {
        if !join.push(piece) {
            if let Some(w) = join.take() {
                assert!(w.len() >= vnet::LEN && w.len() - vnet::LEN <= 65_535);
            }
            let _ = join.push(piece);
        }
    }
    if let Some(w) = join.take() {
        assert!(w.len() >= vnet::LEN && w.len() - vnet::LEN <= 65_535);
    }
});
