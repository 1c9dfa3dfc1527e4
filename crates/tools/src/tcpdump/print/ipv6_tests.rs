use super::*;

/// An IPv6 packet from `fe80::1` to `dst` with `next` header and body.
fn v6(dst: [u8; 16], next: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 255]);
    let mut src = [0u8; 16];
    src[0] = 0xfe;
    src[1] = 0x80;
    src[15] = 1;
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(body);
    p
}

/// What a Linux kernel sends on a new TUN device, as tcpdump prints it.
#[test]
fn the_kernels_ipv6_is_printed_as_tcpdump_does() {
    let all_routers: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let rs = v6(
        all_routers,
        58,
        &[133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
    );
    let mut p = Printer::default();
    let style = super::tests::numeric_style();
    assert_eq!(
        p.line(&rs, style),
        "IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 16"
    );
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(
        p.line(&v6(all_routers, 58, &ns), style),
        "IP6 fe80::1 > ff02::2: ICMP6, neighbor solicitation, who has fe80::9, length 24"
    );
    // MLDv2 behind a hop-by-hop header (the router alert).
    let mut mld = vec![58, 0, 5, 2, 0, 0, 1, 0];
    mld.extend_from_slice(&[143, 0, 0, 0, 0, 0, 0, 1]);
    mld.extend_from_slice(&[
        4, 0, 0, 0, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb,
    ]);
    let mldv2: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16];
    assert_eq!(
        p.line(&v6(mldv2, 0, &mld), style),
        "IP6 fe80::1 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"
    );
    // Cut short: said, not a panic.
    assert_eq!(p.line(&rs[..30], style), "IP6 [truncated, 30 bytes]");
}
