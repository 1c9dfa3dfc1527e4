//! A packetdrill script must turn into a script or an error naming a line,
//! and a script that parses must run to a verdict against the stack —
//! never a panic, whatever it says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplab_drill::run::{run, Profile, RunOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match tcplab_drill::parse(&text, &["STANDARD"]) {
        Err(e) => assert!(e.line >= 1),
        Ok(script) => {
            let profile = if data.len() % 2 == 0 {
                Profile::Tcplab
            } else {
                Profile::FreeBsd
            };
            let options = RunOptions {
                profile,
                ..RunOptions::default()
            };
            if let Err(f) = run(&script, &options).result {
                assert!(!f.message.is_empty());
            }
        }
    }
});
