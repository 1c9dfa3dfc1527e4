//! Packet lines: which socket a line belongs to, sequence numbers between
//! script and live space (packetdrill's `socket.h` offsets), injected
//! segments built byte by byte, and sent segments checked field by field.

use std::net::SocketAddrV4;

use tcplab_wire::{checksum, Protocol};

use super::{
    Failure, Runner, Sent, Sock, SockState, GIVE_UP_STAR_US, GIVE_UP_US, LOCAL_IP, REMOTE_IP,
    SCRIPT_PORT,
};
use crate::{Flags, IcmpSpec, PacketSpec, Seq, TcpOption};

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WSCALE: u8 = 3;
const OPT_SACK_PERMITTED: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TS: u8 = 8;

/// The sequence-number offsets of one socket for one packet: remote space
/// (the peer's sequence numbers) and local space (the stack's).
struct Offsets {
    remote: u32,
    local: u32,
}

impl Sock {
    /// packetdrill's `local_seq_*` and `remote_seq_*` offsets; a SYN's own
    /// sequence numbers are absolute on the remote side and mapped to the
    /// script's ISN on the local side.
    fn offsets(&self, syn: bool) -> Offsets {
        if syn {
            Offsets {
                remote: 0,
                local: self.live_local_isn.wrapping_sub(self.script_local_isn),
            }
        } else {
            Offsets {
                remote: self.live_remote_isn,
                local: self.live_local_isn,
            }
        }
    }
}

fn seq_range(seq: &Seq) -> (u32, u32, bool, bool) {
    match *seq {
        Seq::Range {
            start,
            len,
            absolute,
            ..
        } => (start, len, absolute, false),
        Seq::Unchecked { len } => (0, len, false, true),
    }
}

/// A packet line as packetdrill prints it in a mismatch report.
fn describe_script(at: Option<i64>, p: &PacketSpec) -> String {
    let (start, len, _, unchecked) = seq_range(&p.seq);
    let mut s = match at {
        Some(t) => format!("{:9.6} ", t as f64 / 1e6),
        None => "        * ".to_string(),
    };
    s.push_str(&flag_letters(&p.flags));
    if unchecked {
        s.push_str(&format!(" ...({len})"));
    } else {
        s.push_str(&format!(" {start}:{}({len})", start.wrapping_add(len)));
    }
    if p.flags.ack {
        s.push_str(&format!(" ack {}", p.ack.unwrap_or(0)));
    }
    if let Some(w) = p.win {
        s.push_str(&format!(" win {w}"));
    }
    if let Some(u) = p.urg {
        s.push_str(&format!(" urg {u}"));
    }
    match &p.options {
        None => s.push_str(" <...>"),
        Some(o) if o.is_empty() => {}
        Some(o) => {
            let parts: Vec<String> = o.iter().map(option_text).collect();
            s.push_str(&format!(" <{}>", parts.join(",")));
        }
    }
    s
}

fn option_text(o: &TcpOption) -> String {
    match o {
        TcpOption::Nop => "nop".into(),
        TcpOption::Eol => "eol".into(),
        TcpOption::Mss(m) => format!("mss {m}"),
        TcpOption::WindowScale(w) => format!("wscale {w}"),
        TcpOption::SackPermitted => "sackOK".into(),
        TcpOption::Sack(blocks) => {
            let b: Vec<String> = blocks.iter().map(|(l, r)| format!("{l}:{r}")).collect();
            format!("sack {}", b.join(" "))
        }
        TcpOption::Timestamp { val, ecr, .. } => match val {
            Some(v) => format!("TS val {v} ecr {ecr}"),
            None => format!("TS val ... ecr {ecr}"),
        },
    }
}

/// Flags in packetdrill's order: F S R P . U E W.
fn flag_letters(f: &Flags) -> String {
    let mut s = String::new();
    for (on, c) in [
        (f.fin, 'F'),
        (f.syn, 'S'),
        (f.rst, 'R'),
        (f.psh, 'P'),
        (f.ack, '.'),
        (f.urg, 'U'),
        (f.ece, 'E'),
        (f.cwr, 'W'),
    ] {
        if on {
            s.push(c);
        }
    }
    s
}

fn flags_byte(f: &Flags) -> u8 {
    u8::from(f.fin)
        | u8::from(f.syn) << 1
        | u8::from(f.rst) << 2
        | u8::from(f.psh) << 3
        | u8::from(f.ack) << 4
        | u8::from(f.urg) << 5
        | u8::from(f.ece) << 6
        | u8::from(f.cwr) << 7
}

/// The bytes of one script option; SACK edges moved by `sack_offset`, the
/// TS ecr through `ts_ecr`.
fn one_option(
    o: &TcpOption,
    sack_offset: u32,
    ts_ecr: &dyn Fn(u32, bool) -> Result<u32, String>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match o {
        TcpOption::Nop => out.push(OPT_NOP),
        TcpOption::Eol => out.push(OPT_EOL),
        TcpOption::Mss(m) => {
            out.extend([OPT_MSS, 4]);
            out.extend(m.to_be_bytes());
        }
        TcpOption::WindowScale(w) => out.extend([OPT_WSCALE, 3, *w]),
        TcpOption::SackPermitted => out.extend([OPT_SACK_PERMITTED, 2]),
        TcpOption::Sack(blocks) => {
            if blocks.len() > 4 {
                return Err(format!("{} SACK blocks: at most 4 fit", blocks.len()));
            }
            out.extend([OPT_SACK, 2 + 8 * blocks.len() as u8]);
            for (l, r) in blocks {
                out.extend(l.wrapping_add(sack_offset).to_be_bytes());
                out.extend(r.wrapping_add(sack_offset).to_be_bytes());
            }
        }
        TcpOption::Timestamp {
            val,
            ecr,
            ecr_absolute,
        } => {
            out.extend([OPT_TS, 10]);
            out.extend(val.unwrap_or(0).to_be_bytes());
            out.extend(ts_ecr(*ecr, *ecr_absolute)?.to_be_bytes());
        }
    }
    Ok(out)
}

/// Option bytes of a script list, which must pad the header to whole
/// words and fit its 40 bytes.
fn option_bytes(
    options: &[TcpOption],
    sack_offset: u32,
    ts_ecr: &dyn Fn(u32, bool) -> Result<u32, String>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for o in options {
        out.extend(one_option(o, sack_offset, ts_ecr)?);
    }
    if out.len() % 4 != 0 {
        return Err(format!(
            "TCP options are not padded correctly to ensure that the TCP header is a multiple of 4 bytes: {} bytes of options",
            out.len()
        ));
    }
    if out.len() > 40 {
        return Err(format!("TCP options too long: {} bytes", out.len()));
    }
    Ok(out)
}

/// Each option of a raw list as (kind, whole option bytes); NOP and EOL
/// are one byte each and do not end the walk (`tcp_options_iterator.c`).
fn walk_options(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let kind = bytes[i];
        if kind == OPT_EOL || kind == OPT_NOP {
            out.push((kind, &bytes[i..i + 1]));
            i += 1;
            continue;
        }
        let len = *bytes
            .get(i + 1)
            .ok_or_else(|| format!("TCP option {kind} has no length"))? as usize;
        if len < 2 || i + len > bytes.len() {
            return Err(format!("TCP option {kind} has a bad length {len}"));
        }
        out.push((kind, &bytes[i..i + len]));
        i += len;
    }
    Ok(out)
}

/// An IPv4 header (no options) in front of `payload`, checksummed.
fn ipv4(
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    proto: u8,
    tos: u8,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut b = vec![0u8; 20];
    b[0] = 0x45;
    b[1] = tos;
    b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    b[8] = ttl;
    b[9] = proto;
    b[12..16].copy_from_slice(&src.octets());
    b[16..20].copy_from_slice(&dst.octets());
    let c = !checksum::data(&b);
    b[10..12].copy_from_slice(&c.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

fn ip_info(ip: &[(String, i64)], line: usize) -> Result<(u8, u8), Failure> {
    let (mut tos, mut ttl) = (0u8, 255u8);
    for (name, v) in ip {
        let byte =
            u8::try_from(*v).map_err(|_| Failure::at(line, format!("{name} {v}: out of range")))?;
        match name.as_str() {
            "tos" => tos = byte,
            "ttl" => ttl = byte,
            other => {
                return Err(Failure::at(
                    line,
                    format!("IP field `{other}` is not supported"),
                ))
            }
        }
    }
    Ok((tos, ttl))
}

impl Runner {
    /// The socket a script packet maps to, creating the passive child a
    /// listener (or a bare socket) gets for its first inbound packet
    /// (`find_or_create_socket_for_script_packet`).
    fn socket_for_inbound(&mut self, line: usize, p: &PacketSpec) -> Result<usize, Failure> {
        let sut = self
            .under_test
            .ok_or_else(|| Failure::at(line, "no matching socket for script packet"))?;
        let state = self.sockets[sut].state;
        if matches!(state, SockState::Listening | SockState::New) {
            let (start, _, _, _) = seq_range(&p.seq);
            let port = self.next_remote_port;
            self.next_remote_port = self.next_remote_port.wrapping_add(1).max(1024);
            let mut child = Sock::new(SockState::PassivePacketReceived);
            child.local = Some(SocketAddrV4::new(LOCAL_IP, SCRIPT_PORT));
            child.remote = Some(SocketAddrV4::new(REMOTE_IP, port));
            if state == SockState::Listening {
                child.script_remote_isn = start;
                child.live_remote_isn = start;
                child.parent = Some(sut);
            }
            self.sockets.push(child);
            let idx = self.sockets.len() - 1;
            self.under_test = Some(idx);
            return Ok(idx);
        }
        Ok(sut)
    }

    pub(super) fn inbound(&mut self, line: usize, p: &PacketSpec) -> Result<(), Failure> {
        let was_new = self
            .under_test
            .is_some_and(|s| self.sockets[s].state == SockState::New);
        let idx = self.socket_for_inbound(line, p)?;
        let s = &mut self.sockets[idx];
        match s.state {
            SockState::SynackSent if p.flags.ack => s.state = SockState::SynackAcked,
            SockState::SynSent if p.flags.syn && p.flags.ack => {
                let (start, _, _, _) = seq_range(&p.seq);
                s.script_remote_isn = start;
                s.live_remote_isn = start;
                s.state = SockState::SynAcked;
            }
            _ => {}
        }
        let s = &self.sockets[idx];
        let (local, remote) = match (s.local, s.remote) {
            (Some(l), Some(r)) => (l, r),
            _ => return Err(Failure::at(line, "no matching socket for script packet")),
        };
        // A bare socket's first packet maps with zero offsets.
        let off = if was_new {
            Offsets {
                remote: 0,
                local: 0,
            }
        } else {
            s.offsets(p.flags.syn)
        };
        let (start, len, absolute, _) = seq_range(&p.seq);
        let seq = if absolute {
            start
        } else {
            start.wrapping_add(off.remote)
        };
        let ack = match p.ack {
            Some(a) if p.flags.ack => a.wrapping_add(off.local),
            Some(a) => a,
            None => 0,
        };
        let ts_map = s.ts_map.clone();
        let ack_bit = p.flags.ack;
        let ecr = move |ecr: u32, absolute: bool| -> Result<u32, String> {
            if !ack_bit || absolute {
                return Ok(ecr);
            }
            ts_map
                .iter()
                .rev()
                .find(|(script, _)| *script == ecr)
                .map(|(_, live)| *live)
                .ok_or_else(|| format!("unable to find mapping for timestamp ecr {ecr}"))
        };
        let options = p.options.as_deref().unwrap_or(&[]);
        let opts = option_bytes(options, off.local, &ecr).map_err(|e| Failure::at(line, e))?;
        let (tos, ttl) = ip_info(&p.ip, line)?;
        // An IPv4 datagram holds at most 65,535 bytes.
        if u64::from(len) + 40 + opts.len() as u64 > 65_535 {
            return Err(Failure::at(
                line,
                format!("payload of {len} bytes does not fit in an IPv4 datagram"),
            ));
        }
        let urg = u16::try_from(p.urg.unwrap_or(0))
            .map_err(|_| Failure::at(line, "urg does not fit 16 bits"))?;
        let win = p.win.unwrap_or(0);
        let win = u16::try_from(win)
            .map_err(|_| Failure::at(line, format!("window {win} does not fit 16 bits")))?;
        let header = 20 + opts.len();
        let mut tcp = vec![0u8; header + len as usize];
        tcp[0..2].copy_from_slice(&remote.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&local.port().to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = ((header / 4) as u8) << 4;
        tcp[13] = flags_byte(&p.flags);
        tcp[14..16].copy_from_slice(&win.to_be_bytes());
        tcp[18..20].copy_from_slice(&urg.to_be_bytes());
        tcp[20..header].copy_from_slice(&opts);
        let pseudo =
            checksum::pseudo_header(*remote.ip(), *local.ip(), Protocol::Tcp, tcp.len() as u32);
        let c = checksum::combine(&[pseudo, checksum::data(&tcp)]);
        tcp[16..18].copy_from_slice(&(!c).to_be_bytes());
        let bytes = ipv4(*remote.ip(), *local.ip(), 6, tos, ttl, &tcp);
        self.log(line, || {
            format!(
                "< {}",
                describe_script(None, p).trim_start_matches("        * ")
            )
        });
        self.inject(&bytes)
    }

    /// Hand a datagram to the stack now and record what it answers.
    fn inject(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let now = self.stack_now();
        self.stack.handle_packet(now, self.iface, bytes);
        self.drain(self.now);
        self.check_blocking()
    }

    pub(super) fn inbound_icmp(&mut self, line: usize, i: &IcmpSpec) -> Result<(), Failure> {
        let sut = self
            .under_test
            .ok_or_else(|| Failure::at(line, "no socket for the ICMP message"))?;
        let s = &self.sockets[sut];
        let (local, remote) = match (s.local, s.remote) {
            (Some(l), Some(r)) => (l, r),
            _ => {
                return Err(Failure::at(
                    line,
                    "no connection to quote in the ICMP message",
                ))
            }
        };
        let (ty, code) =
            icmp_type_code(&i.kind, i.code.as_deref()).map_err(|e| Failure::at(line, e))?;
        let (start, len) = match i.quoted {
            Some(Seq::Range { start, len, .. }) => (start, len),
            Some(Seq::Unchecked { len }) => (0, len),
            None => (0, 0),
        };
        // The quoted datagram: our own segment, its seq in local space
        // (the non-SYN offset, as packetdrill does), header checksum 0.
        let total = u16::try_from(40 + u64::from(len))
            .map_err(|_| Failure::at(line, format!("quoted segment of {len} bytes is too long")))?;
        let mut quoted = vec![0u8; 20];
        quoted[0] = 0x45;
        quoted[2..4].copy_from_slice(&total.to_be_bytes());
        quoted[8] = 255;
        quoted[9] = 6;
        quoted[12..16].copy_from_slice(&local.ip().octets());
        quoted[16..20].copy_from_slice(&remote.ip().octets());
        quoted.extend(local.port().to_be_bytes());
        quoted.extend(remote.port().to_be_bytes());
        quoted.extend(start.wrapping_add(s.live_local_isn).to_be_bytes());
        let mut icmp = vec![ty, code, 0, 0, 0, 0, 0, 0];
        if let Some(mtu) = i.mtu {
            let mtu = u16::try_from(mtu)
                .map_err(|_| Failure::at(line, format!("mtu {mtu} does not fit 16 bits")))?;
            icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
        }
        icmp.extend(quoted);
        let c = checksum::data(&icmp);
        icmp[2..4].copy_from_slice(&(!c).to_be_bytes());
        let (tos, ttl) = ip_info(&i.ip, line)?;
        let bytes = ipv4(*remote.ip(), *local.ip(), 1, tos, ttl, &icmp);
        self.log(line, || {
            format!("< icmp {} {}", i.kind, i.code.as_deref().unwrap_or(""))
        });
        self.inject(&bytes)
    }

    /// Whether a sent datagram belongs to socket `idx`.
    fn belongs(&self, idx: usize, bytes: &[u8]) -> bool {
        let s = &self.sockets[idx];
        if bytes.len() < 40 || bytes[9] != 6 {
            return false;
        }
        let ihl = usize::from(bytes[0] & 0x0f) * 4;
        let Some(tcp) = bytes.get(ihl..ihl + 4) else {
            return false;
        };
        let src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
        let dst_ip = std::net::Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
        let remote_ok = s
            .remote
            .is_none_or(|r| *r.ip() == dst_ip && r.port() == dst_port);
        let src_ip = std::net::Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
        let local_ok = s
            .local
            .is_none_or(|l| l.port() == src_port && (l.ip().is_unspecified() || *l.ip() == src_ip));
        remote_ok && local_ok
    }

    /// The next segment the stack sends for the socket under test, by
    /// `deadline` (script time) or by the last timer before it.
    fn next_sent(&mut self, line: usize, deadline: Option<i64>) -> Result<Sent, Failure> {
        let sut = self
            .under_test
            .ok_or_else(|| Failure::at(line, "no matching socket for script packet"))?;
        loop {
            while let Some(pkt) = self.sent.pop_front() {
                if self.belongs(sut, &pkt.bytes) {
                    return Ok(pkt);
                }
            }
            let next = self.stack.poll_timeout().map(super::script_time);
            let limit = deadline.unwrap_or(self.now + GIVE_UP_STAR_US);
            match next {
                Some(t) if t <= limit => self.advance(t.max(self.now))?,
                _ => {
                    self.advance(limit.max(self.now))?;
                    if self.sent.is_empty() {
                        return Err(Failure::at(
                            line,
                            format!(
                                "timed out waiting for packet: nothing sent by {:.6} sec",
                                limit as f64 / 1e6
                            ),
                        ));
                    }
                }
            }
        }
    }

    pub(super) fn outbound(
        &mut self,
        line: usize,
        p: &PacketSpec,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<(), Failure> {
        // Outbound lines are not waited for: take the next segment.
        let gap = start.map_or(0, |s| s - self.prev_time);
        let tol = self.tolerance_for(gap);
        let deadline = end.map(|e| e + tol + GIVE_UP_US);
        let pkt = self.next_sent(line, deadline)?;
        let sut = self.under_test.unwrap_or(0);
        let pkt = self.coalesce(sut, pkt, seq_range(&p.seq).1);
        // Learn the live ISN from the first SYN or SYN-ACK.
        let (syn, ack_bit) = tcp_flags(&pkt.bytes);
        let (script_start, len, absolute, unchecked) = seq_range(&p.seq);
        {
            let live_seq = tcp_u32(&pkt.bytes, 4);
            let s = &mut self.sockets[sut];
            match s.state {
                SockState::ActiveConnecting if p.flags.syn && !p.flags.ack => {
                    s.state = SockState::SynSent;
                    s.script_local_isn = script_start;
                    if syn && !ack_bit {
                        s.live_local_isn = live_seq;
                        s.local = Some(SocketAddrV4::new(
                            std::net::Ipv4Addr::new(
                                pkt.bytes[12],
                                pkt.bytes[13],
                                pkt.bytes[14],
                                pkt.bytes[15],
                            ),
                            tcp_u16(&pkt.bytes, 0),
                        ));
                    }
                }
                SockState::PassivePacketReceived if p.flags.syn && p.flags.ack => {
                    if !unchecked {
                        s.script_local_isn = script_start;
                    }
                    if syn && ack_bit {
                        s.live_local_isn = live_seq;
                    }
                    s.state = SockState::SynackSent;
                }
                _ => {}
            }
        }
        self.now = self.now.max(pkt.at);
        let result = self.verify(sut, p, &pkt, absolute, unchecked, len);
        let result = result.and_then(|()| self.verify_time(start, end, tol, pkt.at));
        self.log(line, || {
            format!("> {}", describe_script(start, p).trim_start())
        });
        result.map_err(|message| {
            let actual = self.describe_live(sut, &pkt);
            Failure {
                line,
                message: format!("error handling packet: {message}"),
                detail: vec![
                    format!("script packet: {}", describe_script(start, p)),
                    format!("actual packet: {actual}"),
                ],
            }
        })?;
        Ok(())
    }

    /// Linux's packetdrill sees segmentation offload's super-segments:
    /// one outbound line may stand for several segments. As packetdrill
    /// does (`do_outbound_script_packet()`), a line with more data than
    /// the segment taken is matched against it and the segments that
    /// follow it for the socket, joined: each in sequence after the one
    /// before, with the same ACK, window, header length and flags but PSH,
    /// FIN and CWR, and all but the last as large as the first. The joined
    /// segment has the last one's header and time, the first one's
    /// sequence number and CWR (`aggregate_packets()`). A segment that
    /// does not fit stays queued, and the length check then fails.
    fn coalesce(&mut self, sut: usize, mut pkt: Sent, want_len: u32) -> Sent {
        let Some((first_hdr, first_len)) = data_segment(&pkt.bytes) else {
            return pkt;
        };
        if first_len == 0 || want_len as usize <= first_len {
            return pkt;
        }
        const LOOSE_FLAGS: u8 = 0x01 | 0x08 | 0x80; // FIN, PSH, CWR
        let same = |a: &[u8], b: &[u8]| {
            a[20 + 8..20 + 13] == b[20 + 8..20 + 13]
                && a[20 + 13] & !LOOSE_FLAGS == b[20 + 13] & !LOOSE_FLAGS
                && a[20 + 14..20 + 16] == b[20 + 14..20 + 16]
                && a[20 + 18..20 + 20] == b[20 + 18..20 + 20]
        };
        let mut next_seq = tcp_u32(&pkt.bytes, 4).wrapping_add(first_len as u32);
        let mut total = first_len;
        let mut last: Option<Sent> = None;
        while total < want_len as usize
            && last
                .as_ref()
                .is_none_or(|l| data_segment(&l.bytes).is_some_and(|(_, n)| n == first_len))
        {
            let Some(idx) = self.sent.iter().position(|n| self.belongs(sut, &n.bytes)) else {
                break;
            };
            let n = &self.sent[idx];
            let Some((nhdr, nlen)) = data_segment(&n.bytes) else {
                break;
            };
            // Sent in the same instant (one burst, as a TSO segment is
            // one send): a segment sent later is a packet of its own.
            let fits = nhdr == first_hdr
                && n.at == pkt.at
                && same(&pkt.bytes, &n.bytes)
                && tcp_u32(&n.bytes, 4) == next_seq
                && (1..=first_len).contains(&nlen)
                && pkt.bytes.len() + nlen <= 65_535;
            if !fits {
                break;
            }
            let n = self.sent.remove(idx).expect("the index was found");
            pkt.bytes.extend_from_slice(&n.bytes[nhdr..nhdr + nlen]);
            next_seq = next_seq.wrapping_add(nlen as u32);
            total += nlen;
            last = Some(n);
        }
        let Some(last) = last else {
            return pkt;
        };
        // The last segment's header (flags, options: its TS val), the
        // first one's CWR; the sequence number is the first one's already.
        let cwr = pkt.bytes[20 + 13] & 0x80;
        pkt.bytes[20 + 13] = (last.bytes[20 + 13] & !0x80) | cwr;
        pkt.bytes[40..first_hdr].copy_from_slice(&last.bytes[40..first_hdr]);
        pkt.at = last.at;
        let len = pkt.bytes.len() as u16;
        pkt.bytes[2..4].copy_from_slice(&len.to_be_bytes());
        pkt.bytes[10..12].copy_from_slice(&[0, 0]);
        let sum = !checksum::data(&pkt.bytes[..20]);
        pkt.bytes[10..12].copy_from_slice(&sum.to_be_bytes());
        pkt
    }

    fn verify_time(
        &self,
        start: Option<i64>,
        end: Option<i64>,
        tol: i64,
        at: i64,
    ) -> Result<(), String> {
        let (Some(s), Some(e)) = (start, end) else {
            return Ok(());
        };
        if at < s - tol || at > e + tol {
            let expected = if s == e {
                format!("at {:.6} sec", s as f64 / 1e6)
            } else {
                format!(
                    "in time range {:.6}~{:.6} sec",
                    s as f64 / 1e6,
                    e as f64 / 1e6
                )
            };
            return Err(format!(
                "timing error: expected outbound packet {expected} but happened at {:.6} sec; tolerance {:.6} sec",
                at as f64 / 1e6,
                tol as f64 / 1e6
            ));
        }
        Ok(())
    }

    /// Check a sent segment against the line, in packetdrill's order.
    fn verify(
        &mut self,
        sut: usize,
        p: &PacketSpec,
        pkt: &Sent,
        absolute: bool,
        unchecked: bool,
        len: u32,
    ) -> Result<(), String> {
        let b = &pkt.bytes;
        if checksum::data(&b[..20]) != 0xffff {
            return Err("bad outbound IP checksum".into());
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let tcp = &b[ihl..];
        let data_offset = usize::from(tcp[12] >> 4) * 4;
        if data_offset < 20 || data_offset > tcp.len() {
            return Err(format!(
                "malformed outbound TCP header (data offset {data_offset})"
            ));
        }
        let live_opts = &tcp[20..data_offset];
        let payload = &tcp[data_offset..];
        let s = &self.sockets[sut];
        let syn = tcp[13] & 0x02 != 0;
        let ack_bit = tcp[13] & 0x10 != 0;
        let off = s.offsets(syn);
        let live_seq = tcp_u32(b, 4);
        let seq = if absolute {
            live_seq
        } else {
            live_seq.wrapping_sub(off.local)
        };
        let mut ack = tcp_u32(b, 8);
        if ack_bit {
            ack = ack.wrapping_sub(off.remote);
        }
        let opt_len = match &p.options {
            None => live_opts.len(),
            Some(o) => option_bytes(o, 0, &|e, _| Ok(e))?.len(),
        };
        check_field("ipv4_version", 4, u32::from(b[0] >> 4))?;
        check_field("ipv4_protocol", 6, u32::from(b[9]))?;
        check_field("ipv4_header_length", 5, u32::from(b[0] & 0x0f))?;
        check_field(
            "ipv4_total_length",
            (20 + 20 + opt_len + len as usize) as u32,
            u32::from(u16::from_be_bytes([b[2], b[3]])),
        )?;
        for (name, v) in &p.ip {
            match name.as_str() {
                "tos" => check_field("tos", *v as u32, u32::from(b[1]))?,
                "ttl" => check_field("ttl", *v as u32, u32::from(b[8]))?,
                other => return Err(format!("IP field `{other}` is not supported")),
            }
        }
        check_field(
            "tcp_data_offset",
            ((20 + opt_len) / 4) as u32,
            u32::from(tcp[12] >> 4),
        )?;
        let f = tcp[13];
        for (name, want, bit) in [
            ("tcp_fin", p.flags.fin, 0x01),
            ("tcp_syn", p.flags.syn, 0x02),
            ("tcp_rst", p.flags.rst, 0x04),
            ("tcp_psh", p.flags.psh, 0x08),
            ("tcp_ack", p.flags.ack, 0x10),
            ("tcp_urg", p.flags.urg, 0x20),
            ("tcp_ece", p.flags.ece, 0x40),
            ("tcp_cwr", p.flags.cwr, 0x80),
        ] {
            check_field(name, u32::from(want), u32::from(f & bit != 0))?;
        }
        check_field("tcp_reserved_bits", 0, u32::from(tcp[12] & 0x0f))?;
        let (script_start, _, _, _) = seq_range(&p.seq);
        if !unchecked {
            check_field("tcp_seq", script_start, seq)?;
        }
        check_field("tcp_ack_seq", p.ack.unwrap_or(0), ack)?;
        if let Some(w) = p.win {
            check_field("tcp_window", w, u32::from(tcp_u16(b, 14)))?;
        }
        check_field("tcp_urg_ptr", p.urg.unwrap_or(0), u32::from(tcp_u16(b, 18)))?;
        if let Some(want) = &p.options {
            self.check_options(sut, want, live_opts, off.remote)?;
        }
        if payload.len() != len as usize || payload.iter().any(|&x| x != 0) {
            return Err("incorrect outbound data payload".into());
        }
        Ok(())
    }

    fn check_options(
        &mut self,
        sut: usize,
        want: &[TcpOption],
        live: &[u8],
        sack_offset: u32,
    ) -> Result<(), String> {
        let live = walk_options(live)?;
        // Expected options option by option (TS compared by kind only: its
        // val only with --tcp_ts_tick_usecs, its ecr never).
        let mut expected: Vec<(u8, Vec<u8>)> = Vec::new();
        for o in want {
            let bytes = one_option(o, 0, &|e, _| Ok(e))?;
            expected.push((bytes[0], bytes));
        }
        if expected.len() != live.len()
            || expected.iter().zip(&live).any(|((k, _), (lk, _))| k != lk)
        {
            return Err(format!(
                "bad outbound TCP options: expected <{}> but sent <{}>",
                want.iter().map(option_text).collect::<Vec<_>>().join(","),
                live_option_text(&live, sack_offset)
            ));
        }
        for ((kind, bytes), (_, lbytes)) in expected.iter().zip(&live) {
            match *kind {
                OPT_EOL | OPT_NOP => {}
                OPT_TS => {}
                k => {
                    if bytes.len() != lbytes.len() {
                        return Err(format!("bad lengths for outbound TCP option {k}"));
                    }
                    let mapped = if k == OPT_SACK {
                        unmap_sack(lbytes, sack_offset)
                    } else {
                        lbytes.to_vec()
                    };
                    if *bytes != mapped {
                        return Err(format!(
                            "bad value outbound TCP option {k}: expected <{}> but sent <{}>",
                            want.iter().map(option_text).collect::<Vec<_>>().join(","),
                            live_option_text(&live, sack_offset)
                        ));
                    }
                }
            }
        }
        // Remember script TS val → live TS val for inbound ecr mapping;
        // with --tcp_ts_tick_usecs, check the val: the first one sent is
        // the baseline, later ones are mapped into script space and may
        // be off by the tolerance at most (packetdrill's
        // verify_outbound_tcp_option).
        for (o, (kind, lbytes)) in want.iter().zip(&live) {
            if let (TcpOption::Timestamp { val: Some(v), .. }, OPT_TS) = (o, *kind) {
                if lbytes.len() == 10 {
                    let live_val = u32::from_be_bytes([lbytes[2], lbytes[3], lbytes[4], lbytes[5]]);
                    self.sockets[sut].ts_map.push((*v, live_val));
                    let (first_script, first_live) =
                        *self.sockets[sut].first_ts.get_or_insert((*v, live_val));
                    if let Some(tick) = self.ts_tick_usecs {
                        let mapped = first_script.wrapping_add(live_val.wrapping_sub(first_live));
                        let off = i64::from((mapped.wrapping_sub(*v) as i32).unsigned_abs());
                        if off.saturating_mul(tick) > self.tolerance {
                            return Err(format!(
                                "bad outbound TCP timestamp value, tolerance {}: expected TS val {v} but sent {mapped}",
                                self.tolerance
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A sent segment in script space, as packetdrill prints it.
    fn describe_live(&self, sut: usize, pkt: &Sent) -> String {
        let b = &pkt.bytes;
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let Some(tcp) = b.get(ihl..).filter(|t| t.len() >= 20) else {
            return format!("{:9.6} (not TCP)", pkt.at as f64 / 1e6);
        };
        let s = &self.sockets[sut];
        let f = tcp[13];
        let flags = Flags {
            fin: f & 0x01 != 0,
            syn: f & 0x02 != 0,
            rst: f & 0x04 != 0,
            psh: f & 0x08 != 0,
            ack: f & 0x10 != 0,
            urg: f & 0x20 != 0,
            ece: f & 0x40 != 0,
            cwr: f & 0x80 != 0,
        };
        let off = s.offsets(flags.syn);
        let data_offset = (usize::from(tcp[12] >> 4) * 4).clamp(20, tcp.len());
        let len = (tcp.len() - data_offset) as u32;
        let seq = tcp_u32(b, 4).wrapping_sub(off.local);
        let mut out = format!(
            "{:9.6} {} {seq}:{}({len})",
            pkt.at as f64 / 1e6,
            flag_letters(&flags),
            seq.wrapping_add(len)
        );
        if flags.ack {
            out.push_str(&format!(" ack {}", tcp_u32(b, 8).wrapping_sub(off.remote)));
        }
        out.push_str(&format!(" win {}", tcp_u16(b, 14)));
        if let Ok(opts) = walk_options(&tcp[20..data_offset]) {
            if !opts.is_empty() {
                out.push_str(&format!(" <{}>", live_option_text(&opts, off.remote)));
            }
        }
        out
    }
}

fn unmap_sack(bytes: &[u8], offset: u32) -> Vec<u8> {
    let mut out = bytes[..2].to_vec();
    for edge in bytes[2..].chunks_exact(4) {
        let v = u32::from_be_bytes([edge[0], edge[1], edge[2], edge[3]]);
        out.extend(v.wrapping_sub(offset).to_be_bytes());
    }
    out
}

fn live_option_text(opts: &[(u8, &[u8])], sack_offset: u32) -> String {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    opts.iter()
        .map(|(kind, b)| match (*kind, b.len()) {
            (OPT_EOL, _) => "eol".to_string(),
            (OPT_NOP, _) => "nop".to_string(),
            (OPT_MSS, 4) => format!("mss {}", u16::from_be_bytes([b[2], b[3]])),
            (OPT_WSCALE, 3) => format!("wscale {}", b[2]),
            (OPT_SACK_PERMITTED, 2) => "sackOK".to_string(),
            (OPT_TS, 10) => format!("TS val {} ecr {}", be32(&b[2..]), be32(&b[6..])),
            (OPT_SACK, n) if n >= 2 && (n - 2) % 8 == 0 => {
                let blocks: Vec<String> = b[2..]
                    .chunks_exact(8)
                    .map(|c| {
                        format!(
                            "{}:{}",
                            be32(&c[..4]).wrapping_sub(sack_offset),
                            be32(&c[4..]).wrapping_sub(sack_offset)
                        )
                    })
                    .collect();
                format!("sack {}", blocks.join(" "))
            }
            (k, _) => format!("kind {k}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A TCP segment in a 20-byte IPv4 header without SYN or RST: where its
/// payload starts and how long it is.
fn data_segment(b: &[u8]) -> Option<(usize, usize)> {
    if b.len() < 40 || b[0] != 0x45 || b[9] != 6 {
        return None;
    }
    let flags = b[20 + 13];
    if flags & 0x06 != 0 {
        return None;
    }
    let start = 20 + usize::from(b[20 + 12] >> 4) * 4;
    let total = usize::from(u16::from_be_bytes([b[2], b[3]])).min(b.len());
    (start <= total).then(|| (start, total - start))
}

fn check_field(name: &str, expected: u32, actual: u32) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "live packet field {name}: expected: {expected} ({expected:#x}) vs actual: {actual} ({actual:#x})"
        ))
    }
}

fn tcp_u32(b: &[u8], at: usize) -> u32 {
    let o = usize::from(b[0] & 0x0f) * 4 + at;
    b.get(o..o + 4)
        .map_or(0, |x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

fn tcp_u16(b: &[u8], at: usize) -> u16 {
    let o = usize::from(b[0] & 0x0f) * 4 + at;
    b.get(o..o + 2)
        .map_or(0, |x| u16::from_be_bytes([x[0], x[1]]))
}

fn tcp_flags(b: &[u8]) -> (bool, bool) {
    let o = usize::from(b[0] & 0x0f) * 4 + 13;
    let f = b.get(o).copied().unwrap_or(0);
    (f & 0x02 != 0, f & 0x10 != 0)
}

/// ICMP type and code by packetdrill's names (`icmp_packet.c`).
fn icmp_type_code(kind: &str, code: Option<&str>) -> Result<(u8, u8), String> {
    let numbered = |c: &str| c.strip_prefix("code_").and_then(|n| n.parse::<u8>().ok());
    let (ty, table): (u8, &[&str]) = match kind {
        "echo_reply" => (0, &[]),
        "unreachable" => (
            3,
            &[
                "net_unreachable",
                "host_unreachable",
                "protocol_unreachable",
                "port_unreachable",
                "frag_needed",
                "source_route_failed",
                "net_unknown",
                "host_unknown",
                "source_host_isolated",
                "net_prohibited",
                "host_prohibited",
                "net_unreachable_for_tos",
                "host_unreachable_for_tos",
                "packet_filtered",
                "precedence_violation",
                "precedence_cutoff",
            ],
        ),
        "source_quench" => (4, &[]),
        "redirect" => (5, &[]),
        "echo_request" => (8, &[]),
        "time_exceeded" => (11, &["ttl_exceeded_in_transit", "frag_reass_exceeded"]),
        "parameter_problem" => (12, &[]),
        other => match other
            .strip_prefix("type_")
            .and_then(|n| n.parse::<u8>().ok())
        {
            Some(t) => (t, &[]),
            None => return Err(format!("bad ICMP type {other}")),
        },
    };
    let code = match code {
        None => 0,
        Some(c) => match numbered(c) {
            Some(n) => n,
            None => table
                .iter()
                .position(|n| *n == c)
                .map(|i| i as u8)
                .ok_or_else(|| format!("bad ICMP code {c}"))?,
        },
    };
    Ok((ty, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_walk_counts_padding() {
        let bytes = [2, 4, 5, 180, 4, 2, 0, 0];
        let w = walk_options(&bytes).unwrap();
        let kinds: Vec<u8> = w.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [2, 4, 0, 0]);
        assert!(walk_options(&[2, 9, 0]).is_err());
    }

    #[test]
    fn option_lists_must_be_padded() {
        let ok = option_bytes(
            &[
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Eol,
                TcpOption::Eol,
            ],
            0,
            &|e, _| Ok(e),
        );
        assert_eq!(ok.unwrap(), [2, 4, 5, 180, 4, 2, 0, 0]);
        assert!(option_bytes(&[TcpOption::SackPermitted], 0, &|e, _| Ok(e)).is_err());
    }

    #[test]
    fn icmp_names() {
        assert_eq!(
            icmp_type_code("unreachable", Some("port_unreachable")),
            Ok((3, 3))
        );
        assert_eq!(
            icmp_type_code("unreachable", Some("frag_needed")),
            Ok((3, 4))
        );
        assert_eq!(icmp_type_code("time_exceeded", None), Ok((11, 0)));
        assert_eq!(
            icmp_type_code("parameter_problem", Some("code_1")),
            Ok((12, 1))
        );
        assert!(icmp_type_code("unreachable", Some("port")).is_err());
    }

    #[test]
    fn sack_edges_map_back_to_script_space() {
        let live = [5, 10, 0, 0, 1, 0, 0, 0, 1, 100];
        assert_eq!(unmap_sack(&live, 256), [5, 10, 0, 0, 0, 0, 0, 0, 0, 100]);
    }
}
