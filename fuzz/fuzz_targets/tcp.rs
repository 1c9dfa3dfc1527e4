//! TCP header and option parsing, option printing and round trip.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use tcplab_wire::tcp;

fuzz_target!(|data: &[u8]| {
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    if let Ok(p) = tcp::Packet::new_checked(data) {
        let _ = p.verify_checksum(src, dst);
        let mut s = String::new();
        let _ = tcp::write_options(&mut s, p.options());
        if let Ok(repr) = tcp::Repr::parse(&p) {
            let _ = repr.to_string();
            if repr.options_fit() {
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut tcp::Packet::new_unchecked(&mut out[..]), src, dst);
                let again = tcp::Packet::new_checked(&out[..]).expect("emitted segment parses");
                assert!(again.verify_checksum(src, dst));
                assert_eq!(tcp::Repr::parse(&again).expect("emitted repr parses"), repr);
            }
        }
    }
});
