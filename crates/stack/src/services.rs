//! Well-known service names, as `/etc/services` (Debian's netbase) lists the
//! IANA assignments people meet, for `ss` and `netstat` without `-n`.

/// Which transport a name is registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

struct Service {
    port: u16,
    tcp: bool,
    udp: bool,
    name: &'static str,
    what: &'static str,
}

const fn both(port: u16, name: &'static str, what: &'static str) -> Service {
    Service {
        port,
        tcp: true,
        udp: true,
        name,
        what,
    }
}
const fn tcp(port: u16, name: &'static str, what: &'static str) -> Service {
    Service {
        port,
        tcp: true,
        udp: false,
        name,
        what,
    }
}
const fn udp(port: u16, name: &'static str, what: &'static str) -> Service {
    Service {
        port,
        tcp: false,
        udp: true,
        name,
        what,
    }
}

static SERVICES: &[Service] = &[
    tcp(1, "tcpmux", "TCP port service multiplexer"),
    both(7, "echo", "echo back what is received (RFC 862)"),
    both(9, "discard", "discard what is received (RFC 863)"),
    both(11, "systat", "active users"),
    both(13, "daytime", "current date and time (RFC 867)"),
    tcp(15, "netstat", "network status"),
    both(17, "qotd", "quote of the day"),
    both(19, "chargen", "character generator (RFC 864)"),
    tcp(20, "ftp-data", "FTP data connection"),
    tcp(21, "ftp", "File Transfer Protocol control"),
    tcp(22, "ssh", "Secure Shell"),
    tcp(23, "telnet", "Telnet"),
    tcp(25, "smtp", "Simple Mail Transfer Protocol"),
    both(37, "time", "time protocol (RFC 868)"),
    tcp(43, "whois", "WHOIS"),
    both(49, "tacacs", "TACACS login host protocol"),
    both(53, "domain", "Domain Name System"),
    udp(67, "bootps", "DHCP/BOOTP server"),
    udp(68, "bootpc", "DHCP/BOOTP client"),
    udp(69, "tftp", "Trivial File Transfer Protocol"),
    tcp(70, "gopher", "Gopher"),
    tcp(79, "finger", "Finger"),
    tcp(80, "http", "World Wide Web HTTP"),
    both(88, "kerberos", "Kerberos v5"),
    tcp(110, "pop3", "Post Office Protocol v3"),
    both(111, "sunrpc", "RPC portmapper"),
    tcp(113, "auth", "ident authentication service"),
    tcp(119, "nntp", "Network News Transfer Protocol"),
    udp(123, "ntp", "Network Time Protocol"),
    both(135, "epmap", "DCE endpoint resolution"),
    udp(137, "netbios-ns", "NETBIOS name service"),
    udp(138, "netbios-dgm", "NETBIOS datagram service"),
    tcp(139, "netbios-ssn", "NETBIOS session service"),
    tcp(143, "imap2", "Internet Message Access Protocol (imap)"),
    udp(161, "snmp", "Simple Net Mgmt Protocol"),
    udp(162, "snmp-trap", "SNMP traps"),
    tcp(179, "bgp", "Border Gateway Protocol"),
    tcp(194, "irc", "Internet Relay Chat"),
    both(389, "ldap", "Lightweight Directory Access Protocol"),
    both(443, "https", "HTTP over TLS"),
    tcp(445, "microsoft-ds", "Microsoft Naked CIFS"),
    udp(500, "isakmp", "IPsec key management"),
    udp(514, "syslog", "BSD syslogd"),
    tcp(515, "printer", "line printer spooler"),
    tcp(554, "rtsp", "Real Time Streaming Protocol"),
    tcp(587, "submission", "mail message submission"),
    both(631, "ipp", "Internet Printing Protocol"),
    tcp(636, "ldaps", "LDAP over TLS"),
    tcp(873, "rsync", "rsync"),
    tcp(993, "imaps", "IMAP over TLS"),
    tcp(995, "pop3s", "POP-3 over TLS"),
    tcp(1080, "socks", "SOCKS proxy server"),
    both(1194, "openvpn", "OpenVPN"),
    tcp(1433, "ms-sql-s", "Microsoft SQL Server"),
    udp(1812, "radius", "RADIUS"),
    both(2049, "nfs", "Network File System"),
    tcp(3306, "mysql", "MySQL"),
    tcp(3389, "ms-wbt-server", "Remote Desktop Protocol"),
    both(5060, "sip", "Session Initiation Protocol"),
    tcp(5222, "xmpp-client", "Jabber client connection"),
    udp(5353, "mdns", "Multicast DNS"),
    tcp(5432, "postgresql", "PostgreSQL database"),
    tcp(6000, "x11", "X Window System"),
    tcp(6379, "redis", "Redis key-value store"),
    tcp(8080, "http-alt", "WWW caching service"),
    both(33434, "traceroute", "first traceroute probe port"),
];

/// The service name of a port, as `/etc/services` spells it.
pub fn name(port: u16, transport: Transport) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|s| {
            s.port == port
                && matches!(transport, Transport::Tcp if s.tcp)
                    | matches!(transport, Transport::Udp if s.udp)
        })
        .map(|s| s.name)
}

/// What the service is, in a few words.
pub fn description(port: u16) -> Option<&'static str> {
    SERVICES.iter().find(|s| s.port == port).map(|s| s.what)
}

/// The port of a service name ("http" → 80); accepts the common aliases
/// `www`, `dns`, `imap` and `dhcp`.
pub fn port(name: &str, transport: Transport) -> Option<u16> {
    let name = match name {
        "www" => "http",
        "dns" => "domain",
        "imap" => "imap2",
        "dhcp" => "bootps",
        other => other,
    };
    SERVICES
        .iter()
        .find(|s| {
            s.name == name
                && matches!(transport, Transport::Tcp if s.tcp)
                    | matches!(transport, Transport::Udp if s.udp)
        })
        .map(|s| s.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_names() {
        assert_eq!(name(80, Transport::Tcp), Some("http"));
        assert_eq!(name(53, Transport::Udp), Some("domain"));
        assert_eq!(name(53, Transport::Tcp), Some("domain"));
        assert_eq!(name(123, Transport::Udp), Some("ntp"));
        assert_eq!(name(123, Transport::Tcp), None);
        assert_eq!(name(8080, Transport::Tcp), Some("http-alt"));
        assert_eq!(name(9000, Transport::Tcp), None);
        assert_eq!(port("https", Transport::Tcp), Some(443));
        assert_eq!(port("dhcp", Transport::Udp), Some(67));
        assert_eq!(port("imap", Transport::Tcp), Some(143));
        assert_eq!(port("nope", Transport::Tcp), None);
    }

    #[test]
    fn table_is_sorted_without_duplicates() {
        for w in SERVICES.windows(2) {
            assert!(w[0].port < w[1].port, "{} then {}", w[0].port, w[1].port);
        }
    }
}
