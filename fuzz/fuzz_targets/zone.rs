//! The zone-file reader on arbitrary text: a zone or an error naming a
//! line, never a panic; lookups in whatever it read never panic either.
#![no_main]

use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(zone) = tcplab_tools::dns::zone::Zone::parse("fuzz", text, Some("lab.test")) {
        for r in zone.records().take(16) {
            let _ = zone.lookup(&r.name, RecordType::A);
            let _ = zone.lookup(&r.name, RecordType::ANY);
        }
        if let Ok(n) = Name::from_ascii("nosuch.lab.test.") {
            let _ = zone.lookup(&n, RecordType::MX);
        }
    }
});
