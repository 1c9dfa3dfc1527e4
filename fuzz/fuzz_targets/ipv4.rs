//! IPv4 view, representation, printer and fragmentation on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_wire::{ipv4, PacketDisplay};

fuzz_target!(|data: &[u8]| {
    let _ = PacketDisplay(data).to_string();
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = p.verify_checksum();
        let _ = p.options();
        let _ = p.payload();
        if let Ok(repr) = ipv4::Repr::parse(&p) {
            let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
            repr.emit(&mut ipv4::Packet::new_unchecked(&mut out[..]));
            let again = ipv4::Packet::new_checked(&out[..]).expect("emitted packet parses");
            assert_eq!(ipv4::Repr::parse(&again).expect("emitted repr parses"), repr);
        }
        for mtu in [68usize, 296, 576, 1500] {
            let _ = tcplab_stack::ip::fragment(data, mtu);
        }
    }
});
