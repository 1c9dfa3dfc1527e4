//! The DNS server's answer to arbitrary bytes: an answer or nothing, never
//! a panic; answers over UDP never exceed what the client can take.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tcplab_tools::dns::server::{respond, UDP_EDNS_MAX};
use tcplab_tools::dns::zone::Zone;

fn zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut text = String::from("$TTL 60\n@ SOA ns hm 1 1 1 1 1\n@ NS ns\n@ MX 10 mail\nns A 10.0.0.1\nmail A 10.0.0.2\nwww CNAME ns\nt TXT \"hello\"\n");
        for i in 0..40 {
            text.push_str(&format!("big A 10.0.1.{i}\n"));
        }
        vec![Zone::parse("fuzz", &text, Some("lab.test")).expect("valid zone")]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = respond(zones(), data, true) {
        assert!(reply.len() <= usize::from(UDP_EDNS_MAX));
    }
    let _ = respond(zones(), data, false);
});
