//! The HTTP head parser on arbitrary bytes: a head or an error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(head) = tcplab_tools::http::parse_head(data) {
        let _ = head.content_length();
        let _ = head.is_chunked();
        let _ = head.has_token("connection", "close");
    }
});
