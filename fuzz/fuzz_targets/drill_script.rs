//! A packetdrill script parser must turn any text into a script or an
//! error naming a line, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = tcplab_drill::parse(&text, &["STANDARD"]) {
        assert!(e.line >= 1);
    }
});
