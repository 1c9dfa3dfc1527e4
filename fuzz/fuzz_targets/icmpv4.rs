//! ICMPv4 parsing, quotes and display; round trip of what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_wire::icmpv4;

fuzz_target!(|data: &[u8]| {
    let _ = icmpv4::Quote::parse(data).map(|q| (q.ports(), q.echo()));
    if let Ok(p) = icmpv4::Packet::new_checked(data) {
        let _ = p.verify_checksum();
        if let Ok(repr) = icmpv4::Repr::parse(&p) {
            let _ = repr.to_string();
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut icmpv4::Packet::new_unchecked(&mut out[..]));
            let again = icmpv4::Packet::new_checked(&out[..]).expect("emitted message parses");
            assert_eq!(icmpv4::Repr::parse(&again).expect("emitted repr parses"), repr);
        }
    }
});
