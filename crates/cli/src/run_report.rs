//! `tcplab run --report`: the report of a run on a real device, drawn
//! like a simulated one — the stack and the kernel as two hosts joined by
//! the TUN device.

use std::net::Ipv4Addr;
use std::path::Path;

use tcplab_host::LineSplitter;
use tcplab_sim::scenario::{IfaceSpec, NodeKind, NodeSpec, Scenario, SegmentSpec};
use tcplab_sim::{Fate, LinkParams, PacketRecord, Recording, TranscriptEvent};
use tcplab_stack::{Cidr, Instant};
use tcplab_tun::{RunOptions, TunRecording};

fn node(name: &str, addrs: Vec<Cidr>, mtu: usize) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        kind: NodeKind::Host,
        ifaces: addrs
            .into_iter()
            .map(|addr| IfaceSpec {
                addr,
                mtu,
                segment: Some(0),
            })
            .collect(),
        gateway: None,
        routes: None,
        icmp_ratelimit: None,
        send_redirects: None,
        accept_redirects: None,
        default_ttl: None,
        tcp: Default::default(),
        nameservers: Vec::new(),
        search: Vec::new(),
        filter: None,
    }
}

/// Write the report of a recorded run to `path`.
pub fn write(
    path: &Path,
    opts: &RunOptions,
    cmdline: &str,
    rec: &TunRecording,
) -> Result<(), String> {
    let dev = &opts.device;
    // A run that failed part-way has no end time: its last event is.
    let end = [
        rec.end,
        rec.packets
            .iter()
            .map(|p| p.time)
            .max()
            .unwrap_or(Instant::ZERO),
        rec.output
            .iter()
            .map(|c| c.time)
            .max()
            .unwrap_or(Instant::ZERO),
    ]
    .into_iter()
    .max()
    .unwrap_or(Instant::ZERO);
    // The kernel answers from its address on the device, and perhaps
    // from others (it routes for the namespace): each is one of its own.
    let mut kernel: Vec<Cidr> = Cidr::new(dev.peer, dev.addr.prefix_len())
        .into_iter()
        .collect();
    // (IPv4 only: the kernel's own IPv6 router solicitations cross the
    // device too, and their bytes 12-15 are no address.)
    for p in rec
        .packets
        .iter()
        .filter(|p| p.to_stack && p.head.first().is_some_and(|b| b >> 4 == 4))
    {
        if let Some(src) = p.head.get(12..16) {
            let a = Ipv4Addr::new(src[0], src[1], src[2], src[3]);
            let own = !(a.is_unspecified() || a.is_broadcast() || a.is_multicast());
            if own && a != dev.addr.address() && !kernel.iter().any(|c| c.address() == a) {
                if let Some(c) = Cidr::new(a, 32) {
                    kernel.push(c);
                }
            }
        }
    }
    let params = LinkParams {
        mtu: dev.mtu,
        ..opts.impair.clone().unwrap_or_default()
    };
    let scenario = Scenario {
        title: Some(format!("tcplab run -- {cmdline}")),
        description: Some(format!(
            "The stack ({}) on TUN device {}, the kernel ({}) at its other end.",
            dev.addr, dev.name, dev.peer
        )),
        ladder: false,
        seed: opts.seed,
        end: None,
        nodes: vec![
            node("tcplab", vec![dev.addr], dev.mtu),
            node("kernel", kernel, dev.mtu),
        ],
        segments: vec![SegmentSpec {
            name: dev.name.clone(),
            members: vec![(0, 0), (1, 0)],
            sending: vec![params.clone(), params],
        }],
        files: Vec::new(),
        timeline: Vec::new(),
    };
    let mut recording = Recording::default();
    recording.packets = rec
        .packets
        .iter()
        .map(|p| {
            let (from, to) = if p.to_stack { (1, 0) } else { (0, 1) };
            PacketRecord {
                time: p.time,
                link: 0,
                from,
                node: from,
                len: p.len,
                head: p.head.clone(),
                fate: if p.arrived.is_some() {
                    Fate::Delivered
                } else {
                    Fate::Lost
                },
                arrival: p.arrived.map(|t| (t, to)),
                queue: 0,
            }
        })
        .collect();
    recording.unrecorded = rec.unrecorded;
    recording.tcp = rec.tcp.iter().map(|e| (0, e.clone())).collect();
    recording.tcp_unrecorded = rec.tcp_unrecorded;

    let mut transcript = vec![TranscriptEvent::Command {
        time: Instant::ZERO,
        node: "tcplab".into(),
        cmdline: cmdline.into(),
        pid: None,
    }];
    let mut lines = LineSplitter::default();
    for chunk in &rec.output {
        transcript.extend(
            lines
                .feed(chunk.clone())
                .into_iter()
                .map(|l| TranscriptEvent::Output(on_stack(l))),
        );
    }
    transcript.extend(
        lines
            .finish(end)
            .into_iter()
            .map(|l| TranscriptEvent::Output(on_stack(l))),
    );
    let analysis = tcplab_report::analyse(tcplab_report::Input {
        scenario: &scenario,
        transcript: &transcript,
        recording: &recording,
        seed: opts.seed,
        end,
        real_time: true,
    });
    std::fs::write(path, tcplab_report::html(&analysis))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A line of the command's output, on the stack's host as the report
/// names it (the runtime's host is called after the device).
fn on_stack(mut line: tcplab_host::OutputLine) -> tcplab_host::OutputLine {
    line.host = "tcplab".into();
    line
}
