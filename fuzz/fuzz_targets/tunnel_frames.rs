//! The tunnels' 2-byte-length deframer on arbitrary bytes, cut at
//! arbitrary points: frames within the limit, bounded memory, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_tools::tunnel::framing::Deframer;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let limit = 68 + usize::from(cut) * 8;
    let mut d = Deframer::new(limit);
    for chunk in rest.chunks(usize::from(cut % 61) + 1) {
        d.push(chunk, &mut |f| assert!(!f.is_empty() && f.len() <= limit));
        assert!(d.buffered() <= limit + 2);
    }
});
