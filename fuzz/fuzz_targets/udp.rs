//! UDP parsing and round trip.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tcplab_wire::udp;

fuzz_target!(|data: &[u8]| {
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    if let Ok(p) = udp::Packet::new_checked(data) {
        let _ = p.verify_checksum(src, dst);
        if let Ok(repr) = udp::Repr::parse(&p) {
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut udp::Packet::new_unchecked(&mut out[..]), src, dst);
            let again = udp::Packet::new_checked(&out[..]).expect("emitted datagram parses");
            assert!(again.verify_checksum(src, dst));
            assert_eq!(udp::Repr::parse(&again).expect("emitted repr parses"), repr);
        }
    }
});
