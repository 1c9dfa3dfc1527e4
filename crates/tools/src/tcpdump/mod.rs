//! `tcpdump`: print what crosses a host's interfaces, one line a packet, as
//! tcpdump 4.99 does.
//!
//! ```text
//! tcpdump [-AnqStvX#] [-c COUNT] [--count] [-i IFACE] [-r FILE|-] [-w FILE|-] [EXPRESSION]
//! ```
//!
//! Lines come from [`print`]: addresses as host names and ports as
//! service names unless `-n` (names from the hosts table, then DNS, whose
//! queries are on the wire as tcpdump's own are), TCP sequence numbers
//! relative to the bases the first segment with ACK of a conversation
//! gives, as print-tcp.c takes them (absolute with `-S`), DNS decoded.
//! EXPRESSION is pcap-filter's language
//! for IPv4 ([`filter`]): `tcp`, `udp`, `icmp`, `ip proto N`, `host`,
//! `net`, `port`, `portrange` with `src`, `dst`, `src or dst`, `src and
//! dst`, `greater N`, `less N`, header bytes (`tcp[tcpflags] & tcp-syn !=
//! 0`), `and`, `or`, `not` and parentheses. Timestamps are the host's wall clock
//! (in a simulation 2025-01-01 plus the time since its start), in UTC:
//! none with `-t`, epoch seconds with `-tt`, the time since the previous
//! packet with `-ttt`, with the date `-tttt`, since the first `-ttttt`.
//! `-q` shows TCP and UDP as protocol and length. `-X` and `-A` add the packet's bytes in hex and text, `-v` the IP
//! header's fields, `-e` the link-level header. `-w FILE` writes a pcap
//! file (raw IP) to the host's file system instead of printing (added to
//! every 64 KiB and after a quiet second; a full disk ends the capture).
//! Ctrl-C ends it with tcpdump's counts on standard error. `-r FILE` reads
//! such a file back (filtered, printed; with `-w`, the selected packets
//! written to another). `-w -` writes the pcap to standard output and
//! `-r -` reads it from standard input; `-#` numbers the lines;
//! `--count` counts the packets instead of printing them.

mod filter;
pub mod print;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use std::time::Duration;
use tcplab_host::{Host, Output, Stdin, TapDirection};
use tcplab_stack::IfaceId;

use tcplab_wire::pcap::{LinkType, PcapReader, PcapWriter};

use crate::args::{getopt, Opt};
use crate::select::{select, Either};
use crate::Usage;
use filter::Filter;
use print::{Printer, Style};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpdumpArgs {
    pub count: Option<u64>,
    pub iface: Option<String>,
    pub absolute: bool,
    /// `-n`: ports as numbers.
    pub numeric: bool,
    /// `-t` counted: 0 the time of day, 1 none, 2 seconds since the
    /// epoch, 3 the time since the previous packet, 4 the date and time,
    /// 5 the time since the first packet.
    pub time_format: u8,
    /// `-q`: the transport protocol and length only.
    pub quiet: bool,
    /// `-w FILE`: write the packets to a pcap file.
    pub write: Option<String>,
    /// `-r FILE`: read packets from a pcap file instead of capturing.
    pub read: Option<String>,
    /// `-v`, counted; `-X` hex and ASCII; `-A` ASCII.
    pub verbose: u8,
    pub hex: bool,
    pub ascii: bool,
    /// `-x`: the packet in hex only.
    pub hex_only: bool,
    /// `-e`: the link-level header (`ip: ` on a raw IP link).
    pub link_header: bool,
    /// `-s N`: the snapshot length (0: the default, 262144).
    pub snaplen: u32,
    /// `-#` (`--number`): each line starts with the packet's number.
    pub number: bool,
    /// `--count`: the packets counted, not printed.
    pub count_only: bool,
    /// `-U` (`--packet-buffered`): with `-w`, each packet's record goes
    /// out as soon as it is captured, not when the buffer fills.
    pub packet_buffered: bool,
    pub filter: Vec<String>,
}

/// tcpdump's usage lines for the options it has here.
const USAGE: &str =
    "Usage: tcpdump [-AehlnpqStUvVxX#] [ -c count ] [--count] [ -i interface ] [ -r file ] [ -s snaplen ] [ -w file ] [ expression ]";

/// `tcpdump -h`: the version lines and the usage, on standard output.
const HELP: &str = "tcpdump version 4.99.3 (tcplab)
Usage: tcpdump [-AehlnpqStUvVxX#] [ -c count ] [--count] [ -i interface ] [ -r file ] [ -s snaplen ] [ -w file ] [ expression ]";

impl TcpdumpArgs {
    /// How lines are printed.
    fn style(&self) -> Style {
        Style {
            numeric: self.numeric,
            absolute: self.absolute,
            verbose: self.verbose,
            quiet: self.quiet,
            link: self.link_header,
        }
    }

    pub fn parse(args: &[String]) -> Result<TcpdumpArgs, Usage> {
        // tcpdump 4.99's letters, for options tcplab's tcpdump lacks.
        const REAL: &str = "aAbB:c:C:dDeE:fF:G:hHi:Ij:JKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#";
        let (opts, rest) = getopt(
            args,
            "c:i:lnSqthUVw:r:vXAxeps:#",
            &[
                "help",
                "version",
                "immediate-mode",
                "packet-buffered",
                "number",
                "count",
            ],
        )
        .map_err(|e| Usage {
            status: 1,
            ..Usage::with_usage("tcpdump", crate::args::unsupported(e, REAL), USAGE)
        })?;
        let mut a = TcpdumpArgs {
            count: None,
            iface: None,
            absolute: false,
            numeric: false,
            time_format: 0,
            quiet: false,
            write: None,
            read: None,
            verbose: 0,
            hex: false,
            ascii: false,
            hex_only: false,
            link_header: false,
            snaplen: 262_144,
            number: false,
            count_only: false,
            packet_buffered: false,
            // tcpdump joins its operands into one expression and splits
            // it again: `tcpdump 'tcp && port 80'` (one quoted word) and
            // `tcpdump tcp and port 80` are the same filter.
            filter: rest
                .iter()
                .flat_map(|w| w.split_whitespace().map(str::to_owned))
                .collect(),
        };
        for o in opts {
            let (c, v) = match o {
                Opt::Short(c, v) => (c, v.unwrap_or_default()),
                Opt::Long(l, _) if l == "help" => ('h', String::new()),
                // Printed lines already go out as they come (as -l and
                // --immediate-mode ask).
                Opt::Long(l, _) if l == "immediate-mode" => continue,
                Opt::Long(l, _) if l == "packet-buffered" => ('U', String::new()),
                Opt::Long(l, _) if l == "number" => ('#', String::new()),
                Opt::Long(l, _) if l == "count" => {
                    a.count_only = true;
                    continue;
                }
                // --version: the version lines alone (print_version).
                Opt::Long(_, _) => {
                    let version = HELP.lines().next().unwrap_or_default();
                    return Err(Usage::help("tcpdump", version.into(), true, 0));
                }
            };
            match c {
                'h' | 'V' => return Err(Usage::help("tcpdump", HELP.into(), true, 0)),
                'c' => {
                    a.count = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| Usage {
                        status: 1,
                        ..Usage::new("tcpdump", format!("invalid packet count {v}"))
                    })?)
                }
                'i' => a.iface = Some(v),
                'S' => a.absolute = true,
                'n' => a.numeric = true,
                't' => a.time_format = a.time_format.saturating_add(1),
                'q' => a.quiet = true,
                // Line-buffered: every printed line already goes out as
                // written.
                'l' => {}
                'U' => a.packet_buffered = true,
                'w' => a.write = Some(v),
                'r' => a.read = Some(v),
                'v' => a.verbose = a.verbose.saturating_add(1),
                'X' => a.hex = true,
                'A' => a.ascii = true,
                'x' => a.hex_only = true,
                'e' => a.link_header = true,
                '#' => a.number = true,
                // Promiscuous mode or not: a host's capture sees what its
                // interface sends and receives either way.
                'p' => {}
                's' => {
                    let n: u32 = v.parse().map_err(|_| Usage {
                        status: 1,
                        ..Usage::new("tcpdump", format!("invalid snaplen {v}"))
                    })?;
                    // No datagram is longer than 65535 bytes: a snapshot
                    // that long or longer (or 0, the default) cuts none.
                    // Shorter ones would cut packets, which this tcpdump
                    // does not do.
                    if n != 0 && n < 65_535 {
                        return Err(Usage {
                            status: 1,
                            ..Usage::new(
                                "tcpdump",
                                format!("snaplen {n} would truncate packets, which is not supported (use -s 0)"),
                            )
                        });
                    }
                    a.snaplen = if n == 0 { 262_144 } else { n };
                }
                _ => {}
            }
        }
        if a.time_format > 5 {
            return Err(Usage {
                status: 1,
                ..Usage::new(
                    "tcpdump",
                    "only -t, -tt, -ttt, -tttt and -ttttt are supported".into(),
                )
            });
        }
        Filter::parse(&a.filter).map_err(|e| Usage {
            status: 1,
            ..Usage::new("tcpdump", e)
        })?;
        Ok(a)
    }
}

/// The timestamp before a line, with its space, as tcpdump's `ts_print`
/// writes it for each `-t` count (UTC: tcplab's hosts keep no time zone).
fn timestamp(format: u8, micros: u64, reference: &mut Option<u64>) -> String {
    match format {
        1 => String::new(),
        2 => format!("{}.{:06} ", micros / 1_000_000, micros % 1_000_000),
        3 | 5 => {
            let base = *reference.get_or_insert(micros);
            if format == 3 {
                *reference = Some(micros);
            }
            let (sign, delta) = if micros < base {
                ('-', base - micros)
            } else {
                (' ', micros - base)
            };
            format!("{sign}{} ", stamp(delta))
        }
        4 => {
            let days = (micros / 86_400_000_000) as i64;
            let (y, m, d) = crate::http::civil_from_days(days);
            format!("{y:04}-{m:02}-{d:02} {} ", stamp(micros))
        }
        _ => format!("{} ", stamp(micros)),
    }
}

fn stamp(micros: u64) -> String {
    let secs = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        micros % 1_000_000
    )
}

/// A buffer the pcap writer writes into and the saver reads.
#[derive(Debug, Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The pcap file being written: records wait in a small buffer (as
/// stdio's) and are added to the end of the file on the host's file
/// system when it fills, after a quiet second, and at the end; the file
/// system's copy is the only whole one.
struct Dump {
    path: String,
    buf: Shared,
    writer: PcapWriter<Shared>,
    /// Whether the file was made (truncated) yet.
    made: bool,
}

/// What a dump holds before adding it to the file.
const DUMP_BUFFER: usize = 64 << 10;

impl Dump {
    fn new(path: &str, snaplen: u32) -> Dump {
        let buf = Shared::default();
        // tcpdump's header carries its default snapshot length.
        let writer = PcapWriter::with_snaplen(buf.clone(), LinkType::Raw, snaplen)
            .expect("writing to memory");
        Dump {
            path: path.to_string(),
            buf,
            writer,
            made: false,
        }
    }

    /// Whether records wait in the buffer.
    fn pending(&self) -> bool {
        !self.buf.0.borrow().is_empty()
    }

    /// Write what waits: the first time the file is made (or emptied)
    /// with it, then added to; `-w -` writes to standard output.
    fn save(&mut self, host: &Host, out: &mut Output, err: &mut Output) -> bool {
        let mut bytes = self.buf.0.borrow_mut();
        if self.path == "-" {
            out.write_bytes(&bytes);
            bytes.clear();
            return true;
        }
        let result = if self.made {
            if bytes.is_empty() {
                Ok(())
            } else {
                host.fs().append(&self.path, &bytes)
            }
        } else {
            host.fs().write(&self.path, &bytes)
        };
        bytes.clear();
        self.made = true;
        if let Err(e) = result {
            // (The file system's error names the path.)
            err.line(format!("tcpdump: {e}"));
            return false;
        }
        true
    }
}

/// Without `-n`, find the names of the packet's addresses not looked up
/// before, as tcpdump's `ipaddr_string` asks `getnameinfo`: the hosts
/// table, then DNS (whose queries go on the wire and may be captured, as
/// with the real tcpdump — the reason people give it `-n`). Each address
/// is looked up once.
async fn name_addresses(host: &Host, printer: &mut Printer, style: Style, bytes: &[u8]) {
    if style.numeric {
        return;
    }
    let addrs = printer.unnamed(bytes, style);
    printer.make_room(addrs.len());
    for addr in addrs {
        let name = crate::resolve::reverse(host, addr).await;
        printer.learn(addr, name);
    }
}

/// What prints each packet's lines, live or from a file.
struct Print<'a> {
    a: &'a TcpdumpArgs,
    style: Style,
    printer: &'a mut Printer,
    /// -ttt's previous packet, -ttttt's first.
    reference: &'a mut Option<u64>,
    /// The capture is of the loopback, whose link type is Ethernet.
    ether: bool,
    /// The capture is of `any` (Linux cooked v2): the link header, with
    /// -e, is in `where_`.
    cooked: bool,
    /// The packet's number (from 1), for `-#`.
    number: u64,
}

impl Print<'_> {
    /// The packet `bytes` that passed at `wall` (since the epoch), after
    /// `where_` (-i any's interface and direction).
    fn packet(
        &mut self,
        out: &mut Output,
        wall: Duration,
        where_: &str,
        bytes: &[u8],
        wire: usize,
    ) {
        let line = self.printer.line_of(bytes, wire, self.style);
        let micros = u64::try_from(wall.as_micros()).unwrap_or(u64::MAX);
        // print.c: `-#`'s number in five columns and two spaces, before
        // the timestamp.
        let mut text = if self.a.number {
            format!("{:5}  ", self.number)
        } else {
            String::new()
        };
        text.push_str(&timestamp(self.a.time_format, micros, self.reference));
        text.push_str(where_);
        // -e: the link-level header — print-raw.c's "ip: " on a raw IP
        // link; on the loopback, whose frames are Ethernet with zero
        // addresses, print-ether.c's line (a cooked capture's is in
        // `where_`).
        if self.a.link_header && !self.cooked {
            if self.ether {
                text.push_str(&format!(
                    "00:00:00:00:00:00 > 00:00:00:00:00:00, ethertype IPv4 (0x0800), length {}: ",
                    bytes.len() + 14
                ));
            } else {
                text.push_str("ip: ");
            }
        }
        text.push_str(&line);
        for l in text.split('\n') {
            out.line(l);
        }
        // -X wins over -x, and both over -A, as in tcpdump.
        if self.a.hex {
            for l in print::hex_and_ascii(bytes) {
                out.line(l);
            }
        } else if self.a.hex_only {
            for l in print::hex_only(bytes) {
                out.line(l);
            }
        } else if self.a.ascii {
            for l in print::ascii(bytes) {
                out.line(l);
            }
        }
    }
}

/// The filter, its host names looked up first as libpcap looks them up
/// when it compiles one (`host server`); `None` once it has said which
/// name is unknown.
async fn compile(host: &Host, a: &TcpdumpArgs, err: &mut Output) -> Option<Filter> {
    let mut known = std::collections::BTreeMap::new();
    for name in Filter::host_names(&a.filter) {
        match crate::resolve::lookup(host, &name).await {
            Ok(addr) => {
                known.insert(name, addr);
            }
            Err(_) => {
                err.line(format!("tcpdump: unknown host '{name}'"));
                return None;
            }
        }
    }
    let hosts = |n: &str| {
        known
            .get(n)
            .copied()
            .ok_or_else(|| format!("unknown host '{n}'"))
    };
    Some(Filter::parse_with(&a.filter, &hosts).unwrap_or_default())
}

/// `tcpdump -r FILE`: the packets of a pcap file (raw IPv4, as `-w` and
/// `tcplab lab --pcap` write them), filtered and printed as if captured —
/// or, with `-w`, the selected ones written to another file.
async fn read_file(
    host: &Host,
    a: &TcpdumpArgs,
    path: &str,
    stdin: &Stdin,
    out: &mut Output,
    err: &mut Output,
) -> i32 {
    let Some(filter) = compile(host, a, err).await else {
        return 1;
    };
    // `-r -`: the pcap on standard input (`tcpdump -w - | tcpdump -r -`),
    // read as it comes, so packets print while the writer still runs.
    let whole;
    let opened = if path == "-" {
        Source::stream(stdin).await
    } else {
        whole = match host.fs().read(path) {
            Ok(b) => b,
            Err(e) => {
                // (The file system's error names the path.)
                err.line(format!("tcpdump: {e}"));
                return 1;
            }
        };
        PcapReader::new(&whole[..]).map(Source::Whole)
    };
    let mut source = match opened {
        Ok(s) => s,
        Err(e) => {
            // libpcap's words (`unknown file format`, `truncated dump
            // file; ...`); a pcapng file is named, with the path.
            if e.to_string().starts_with("a pcapng") {
                err.line(format!("tcpdump: {path}: {e}"));
            } else {
                err.line(format!("tcpdump: {e}"));
            }
            return 1;
        }
    };
    let (link_type, snaplen) = source.format();
    let link = match link_type {
        101 => "RAW (Raw IP)",
        228 => "IPV4 (Raw IPv4)",
        other => {
            err.line(format!(
                "tcpdump: {path}: link-type {other} is not one tcplab reads (raw IPv4 only)"
            ));
            return 1;
        }
    };
    // libpcap compiles the filter for the file's link type: on raw IP one
    // only ARP could pass passes nothing, and is refused.
    if filter.rejects_all_raw() {
        err.line("tcpdump: expression rejects all packets");
        return 1;
    }
    err.line(format!(
        "reading from file {path}, link-type {link}, snapshot length {snaplen}"
    ));
    let style = a.style();
    let mut printer = Printer::default();
    let mut reference = None;
    let mut dump = a.write.as_deref().map(|p| Dump::new(p, a.snaplen));
    let mut seen = 0u64;
    let mut status = 0;
    loop {
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
        let record = match source.next().await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                // libpcap's complaint about a file cut short, or a record
                // it cannot hold.
                err.line(format!("tcpdump: pcap_loop: {e}"));
                status = 1;
                break;
            }
        };
        if !filter.matches(&record.data) {
            continue;
        }
        seen += 1;
        // --count only counts what would be printed: with -w the packets
        // are still written (tcpdump checks count_mode in print_packet).
        match dump.as_mut() {
            Some(d) => {
                let _ = d.writer.write_packet(record.timestamp, &record.data);
                let due = a.packet_buffered || d.buf.0.borrow().len() >= DUMP_BUFFER;
                if due && !d.save(host, out, err) {
                    return 1;
                }
            }
            None if a.count_only => {}
            None => {
                name_addresses(host, &mut printer, style, &record.data).await;
                let mut p = Print {
                    a,
                    style,
                    printer: &mut printer,
                    reference: &mut reference,
                    ether: false,
                    cooked: false,
                    number: seen,
                };
                // The length on the wire: a record cut by a snapshot
                // length is not a damaged datagram.
                let wire = usize::try_from(record.orig_len).unwrap_or(usize::MAX);
                p.packet(
                    out,
                    record.timestamp,
                    "",
                    &record.data,
                    wire.max(record.data.len()),
                );
            }
        }
    }
    if let Some(d) = dump.as_mut() {
        if !d.save(host, out, err) {
            return 1;
        }
    }
    // --count: tcpdump's one line for a file, on standard output.
    if a.count_only {
        out.line(format!("{seen} packet{}", if seen == 1 { "" } else { "s" }));
    }
    status
}

/// Where `-r` takes its records from: a file read whole, or standard
/// input as it comes (at most one record and one read held at a time).
enum Source<'a> {
    Whole(PcapReader<&'a [u8]>),
    Stream {
        stdin: &'a Stdin,
        /// The file's header, read first.
        reader: PcapReader<std::io::Cursor<Vec<u8>>>,
        /// What came after it: `held[at..]` is not taken yet (records are
        /// taken by moving `at`; the taken bytes go before the next read).
        held: Vec<u8>,
        at: usize,
        chunk: Vec<u8>,
        ended: bool,
    },
}

impl<'a> Source<'a> {
    /// Standard input's file header (libpcap's errors if it is not one).
    async fn stream(stdin: &'a Stdin) -> std::io::Result<Source<'a>> {
        let mut chunk = vec![0u8; 64 << 10];
        let mut held = Vec::new();
        let mut ended = false;
        while held.len() < 24 {
            let n = stdin.read(&mut chunk).await;
            if n == 0 {
                ended = true;
                break;
            }
            held.extend_from_slice(&chunk[..n]);
        }
        let rest = held.split_off(held.len().min(24));
        let reader = PcapReader::new(std::io::Cursor::new(held))?;
        Ok(Source::Stream {
            stdin,
            reader,
            held: rest,
            at: 0,
            chunk,
            ended,
        })
    }

    /// The file's link type and snapshot length.
    fn format(&self) -> (u32, u32) {
        match self {
            Source::Whole(r) => (r.link_type, r.snaplen),
            Source::Stream { reader, .. } => (reader.link_type, reader.snaplen),
        }
    }

    /// The next record, as soon as it is whole; `None` at the end.
    async fn next(&mut self) -> std::io::Result<Option<tcplab_wire::pcap::Record>> {
        let (stdin, reader, held, at, chunk, ended) = match self {
            Source::Whole(r) => return r.next_record(),
            Source::Stream {
                stdin,
                reader,
                held,
                at,
                chunk,
                ended,
            } => (stdin, reader, held, at, chunk, ended),
        };
        loop {
            let left = &held[*at..];
            let whole = reader.record_len(left).filter(|&n| left.len() >= n);
            if whole.is_some() || *ended {
                // A whole record, or what is left at the end (a clean end,
                // or libpcap's complaint about a record cut short).
                let mut rest = &left[..whole.unwrap_or(left.len())];
                let before = rest.len();
                let record = reader.record_from(&mut rest);
                *at += before - rest.len();
                return record;
            }
            held.drain(..*at);
            *at = 0;
            let n = stdin.read(chunk).await;
            if n == 0 {
                *ended = true;
            } else {
                held.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

pub async fn run(
    host: Host,
    a: TcpdumpArgs,
    stdin: Stdin,
    mut out: Output,
    mut err: Output,
) -> i32 {
    if let Some(path) = a.read.clone() {
        return read_file(&host, &a, &path, &stdin, &mut out, &mut err).await;
    }
    let Some(filter) = compile(&host, &a, &mut err).await else {
        return 1;
    };
    // Every interface, the loopback's too (its datagrams are tapped as
    // they cross it).
    let ifaces: Vec<(IfaceId, String, bool)> = host.with_stack(|s| {
        s.interfaces()
            .iter()
            .enumerate()
            .map(|(k, i)| (IfaceId(k), i.name.clone(), i.loopback))
            .collect()
    });
    // Without -i, tcpdump takes the first interface that is not the
    // loopback; here, with several, all of them.
    let outer: Vec<&(IfaceId, String, bool)> = ifaces.iter().filter(|i| !i.2).collect();
    let (only, any) = match &a.iface {
        Some(name) if name == "any" => (None, true),
        Some(name) => match ifaces.iter().find(|(_, n, _)| n == name) {
            Some((id, _, _)) => (Some(*id), false),
            None => {
                // pcap_open_live's error, then its detail on a line of
                // its own (tcpdump 4.99 with libpcap 1.10).
                err.line(format!("tcpdump: {name}: No such device exists"));
                err.line("(No such device exists)");
                return 1;
            }
        },
        None if outer.len() == 1 => (Some(outer[0].0), false),
        None => (None, true),
    };
    let loopback = only.is_some_and(|id| ifaces.iter().any(|i| i.0 == id && i.2));
    // libpcap's compiler: on a raw IP link (not the loopback's Ethernet,
    // not the cooked `any`) a filter only ARP could pass passes nothing.
    if only.is_some() && !loopback && filter.rejects_all_raw() {
        err.line("tcpdump: expression rejects all packets");
        return 1;
    }
    let tap = host.tap();
    let mut dump = a.write.as_deref().map(|p| Dump::new(p, a.snaplen));
    // (tcpdump says this whenever it prints without -v, --count too.)
    let quiet = dump.is_some();
    if !quiet && a.verbose == 0 {
        err.line("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode");
    }
    let shown_name = if any {
        "any".to_string()
    } else {
        a.iface.clone().unwrap_or_else(|| outer[0].1.clone())
    };
    // tcpdump names itself on this line only when it did not just print
    // the "verbose output suppressed" line (with -v, or writing a file).
    let prefix = if !quiet && a.verbose == 0 {
        ""
    } else {
        "tcpdump: "
    };
    // The file is created before the capture starts (as tcpdump opens it
    // with pcap_dump_open first): a path that cannot be written is the
    // only line.
    if let Some(d) = dump.as_mut() {
        if !d.save(&host, &mut out, &mut err) {
            return 1;
        }
    }
    err.line(format!(
        "{prefix}listening on {shown_name}, link-type {}, snapshot length {} bytes",
        if any {
            "LINUX_SLL2 (Linux cooked v2)"
        } else if loopback {
            // Linux's lo has Ethernet framing (all-zero addresses).
            "EN10MB (Ethernet)"
        } else {
            "RAW (Raw IP)"
        },
        a.snaplen
    ));
    // Ctrl-C and SIGTERM end the capture with the counts, as tcpdump's.
    let signals = host.current_pid().map(|p| host.catch_signals(p));
    // tcpdump's cleanup handles SIGPIPE too: `tcpdump | head` ends with
    // its counts and status 0.
    if let Some(p) = host.current_pid() {
        host.catch_sigpipe(p);
    }
    let stopped = || async {
        match &signals {
            Some(s) => {
                s.next().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let style = a.style();
    let mut printer = Printer::default();
    // -ttt's previous packet, -ttttt's first.
    let mut reference: Option<u64> = None;
    let mut seen = 0u64;
    let mut interrupted = false;
    loop {
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
        // With packets not yet saved, a quiet second saves them: a
        // capture that goes idle leaves its file whole for a reader.
        let pending = dump.as_ref().is_some_and(Dump::pending);
        let quiet = async {
            if pending {
                host.sleep_until(host.now() + Duration::from_secs(1)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let t = match select(select(tap.next(), quiet), stopped()).await {
            Either::Left(Either::Left(t)) => t,
            Either::Left(Either::Right(())) => {
                if let Some(d) = dump.as_mut() {
                    if !d.save(&host, &mut out, &mut err) {
                        return 1;
                    }
                }
                continue;
            }
            Either::Right(()) => {
                interrupted = true;
                break;
            }
        };
        if only.is_some_and(|i| i != t.iface) || !filter.matches(&t.bytes) {
            continue;
        }
        seen += 1;
        // The wall clock when the packet passed.
        let wall = host
            .wall_clock()
            .saturating_sub(host.now().saturating_since(t.time));
        if let Some(d) = dump.as_mut() {
            let _ = d.writer.write_packet(wall, &t.bytes);
            // A daemon is not told when a scenario ends: what waits is
            // written when the buffer fills and after a quiet second.
            let due = a.packet_buffered || d.buf.0.borrow().len() >= DUMP_BUFFER;
            if due && !d.save(&host, &mut out, &mut err) {
                return 1;
            }
            continue;
        }
        if a.count_only {
            continue;
        }
        let mut where_ = String::new();
        if any {
            // print-sll.c: the interface name in five columns, the
            // direction in three; with -e the rest of the cooked header —
            // the interface index, the link address when the interface has
            // one (the loopback's zeros; none on a link without a link
            // layer, as on a TUN device), the protocol and the length with
            // the header's 20 bytes.
            let (name, loopback) = ifaces
                .iter()
                .find(|(id, _, _)| *id == t.iface)
                .map_or(("?", false), |(_, n, lo)| (n.as_str(), *lo));
            let dir = if t.direction == TapDirection::In {
                "In "
            } else {
                "Out"
            };
            where_ = format!("{name:<5} {dir} ");
            if a.link_header {
                let _ = write!(where_, "ifindex {} ", t.iface.0 + 1);
                if loopback {
                    where_.push_str("00:00:00:00:00:00 ");
                }
                let _ = write!(
                    where_,
                    "ethertype IPv4 (0x0800), length {}: ",
                    t.bytes.len() + 20
                );
            }
        }
        name_addresses(&host, &mut printer, style, &t.bytes).await;
        let mut p = Print {
            a: &a,
            style,
            printer: &mut printer,
            reference: &mut reference,
            ether: loopback,
            cooked: any,
            number: seen,
        };
        p.packet(&mut out, wall, &where_, &t.bytes, t.bytes.len());
    }
    if let Some(d) = dump.as_mut() {
        if !d.save(&host, &mut out, &mut err) {
            return 1;
        }
    }
    // tcpdump ends a line it may have been printing with a newline on
    // standard output when a signal stops it (-c's normal end does not),
    // only when it was printing: with -w the output may be the capture
    // file itself (`-w -`), which a stray byte would cut short.
    if interrupted && dump.is_none() {
        out.line("");
    }
    err.line(format!(
        "{seen} packet{} captured",
        if seen == 1 { "" } else { "s" }
    ));
    err.line(format!(
        "{seen} packet{} received by filter",
        if seen == 1 { "" } else { "s" }
    ));
    let dropped = tap.dropped();
    err.line(format!(
        "{dropped} packet{} dropped by kernel",
        if dropped == 1 { "" } else { "s" }
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Filter {
        Filter::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    /// A quoted expression is split as tcpdump splits it, so the shell
    /// operators that must be quoted (`&&`, `||`) can be written.
    #[test]
    fn a_quoted_expression_is_split_into_words() {
        let crate::Tool::Tcpdump(a) = crate::Command::parse("tcpdump -n 'tcp && port 80'")
            .unwrap()
            .tool
        else {
            panic!("not tcpdump");
        };
        assert_eq!(a.filter, ["tcp", "&&", "port", "80"]);
        assert!(f("tcp && port 80").matches(&filter::tests::packet(6, 80, 9)));
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(3_723_000_042), "01:02:03.000042");
        // 2025-01-01 00:00:02.5 and 1.25 s later, for each -t count.
        let (t0, t1) = (1_735_689_602_500_000u64, 1_735_689_603_750_000u64);
        let each = |format: u8| {
            let mut r = None;
            [t0, t1, t1 + 1].map(|t| timestamp(format, t, &mut r))
        };
        assert_eq!(each(0)[0], "00:00:02.500000 ");
        assert_eq!(each(1)[0], "");
        assert_eq!(each(2)[1], "1735689603.750000 ");
        assert_eq!(
            each(3),
            [
                " 00:00:00.000000 ",
                " 00:00:01.250000 ",
                " 00:00:00.000001 "
            ]
        );
        assert_eq!(each(4)[0], "2025-01-01 00:00:02.500000 ");
        assert_eq!(each(5)[2], " 00:00:01.250001 ");
        let parse = |s: &str| {
            TcpdumpArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
        };
        assert_eq!(parse("-tttt").unwrap().time_format, 4);
        assert_eq!(parse("-t -t -t").unwrap().time_format, 3);
        assert_eq!(
            parse("-tttttt").unwrap_err().message,
            "only -t, -tt, -ttt, -tttt and -ttttt are supported"
        );
    }
}
