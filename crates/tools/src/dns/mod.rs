//! DNS: zones and an authoritative server, a recursive caching resolver,
//! a stub resolver, and the
//! presentation forms nslookup prints. Message encoding and decoding is
//! hickory-proto's; everything about transport (UDP with retries, TCP on
//! truncation, RFC 1035 §4.2) is ours.

pub mod client;
pub mod resolver;
pub mod server;
pub mod zone;

use hickory_proto::rr::Name;

/// A name in master-file text as BIND's `dns_name_totext` and glibc's
/// `ns_name_ntop` write it (RFC 1035 §5.1): the characters special in a
/// zone file (`"` `(` `)` `.` `;` `\` `@` `$`) after a backslash, bytes
/// outside printable ASCII as `\DDD` in decimal; a trailing dot when the
/// name is absolute; the root is `.`.
pub fn name_text(name: &Name) -> String {
    if name.is_root() {
        return ".".into();
    }
    let mut s = String::new();
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        for &b in label {
            match b {
                b'"' | b'(' | b')' | b'.' | b';' | b'\\' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(char::from(b));
                }
                0x21..=0x7e => s.push(char::from(b)),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
    }
    if name.is_fqdn() {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes as BIND prints them: decimal `\DDD`, special characters
    /// after a backslash.
    #[test]
    fn names_print_with_decimal_escapes() {
        let name = Name::from_labels([&b"a\x00.\xff"[..], b"com"]).unwrap();
        assert_eq!(name_text(&name), "a\\000\\.\\255.com.");
        let name = Name::from_labels([&b"caf\xe9"[..], b"esc", b"test"]).unwrap();
        assert_eq!(name_text(&name), "caf\\233.esc.test.");
        let name = Name::from_labels([&b"x@y$z;\"()\\"[..]]).unwrap();
        assert_eq!(name_text(&name), "x\\@y\\$z\\;\\\"\\(\\)\\\\.");
        assert_eq!(name_text(&Name::root()), ".");
    }
}
