//! Building a simulation from a scenario: hosts and routers with their
//! stacks, files, routes and policies, links, captures and the timeline.

use tcplab_host::fs::{Disk, DEFAULT_DISK};
use tcplab_host::{MemFs, OutputChunk, ResolverConfig};
use tcplab_stack::{Config, Rng, Stack};

use super::*;
use crate::impair::Direction;
use crate::policy::netfilter_for;
use crate::routing::routes_for;
use crate::scenario::{FileContent, Scenario};
use crate::segment::Member;

impl Sim {
    /// Build the network of a scenario.
    pub fn new(scenario: &Scenario, options: &SimOptions) -> Result<Sim, BuildError> {
        let seed = options.seed.unwrap_or(scenario.seed);
        let mut rng = Rng::new(seed);
        let names = Rc::new(RefCell::new(Names::default()));
        // One disk for every host's files: the scenario's, and 1 GiB more
        // for what the run writes (curl -o, tcpdump -w, cert), so that
        // memory stays bounded whatever the tools are asked to save.
        let given: u64 = scenario
            .files
            .iter()
            .map(|f| match &f.content {
                FileContent::Text(t) => t.len() as u64,
                FileContent::Generated(n) => *n,
            })
            .sum();
        let disk = Rc::new(Disk::new(given + DEFAULT_DISK));
        let mut nodes = Vec::new();
        for (index, spec) in scenario.nodes.iter().enumerate() {
            let mut config = match spec.kind {
                NodeKind::Host => Config::default(),
                NodeKind::Router => Config::router(),
            };
            config.seed = rng.next_u64();
            if let Some(r) = spec.icmp_ratelimit {
                config.icmp_ratelimit = r;
            }
            if let Some(v) = spec.send_redirects {
                config.send_redirects = v;
            }
            if let Some(v) = spec.accept_redirects {
                config.accept_redirects = v;
            }
            if let Some(t) = spec.default_ttl {
                config.default_ttl = t;
            }
            config.tcp = spec.tcp.clone();
            config.loopback_cost = LOOPBACK_COST;
            let mut stack = Stack::new(config);
            let node_err = |message: String| BuildError::Node {
                node: spec.name.clone(),
                message,
            };
            for (i, iface) in spec.ifaces.iter().enumerate() {
                stack
                    .add_interface(&format!("eth{i}"), iface.addr, iface.mtu)
                    .map_err(|e| node_err(e.to_string()))?;
            }
            let (routes, computed) = match &spec.routes {
                Some(r) => (r.clone(), false),
                None => (routes_for(scenario, index), true),
            };
            for (dest, gw) in routes {
                match stack.add_route(dest, gw) {
                    Ok(()) => {}
                    // A computed route through a neighbour whose address
                    // this node cannot use as a gateway (subnets that
                    // overlap but differ): left out, as a routing
                    // protocol would not install it either.
                    Err(tcplab_stack::ConfigError::InvalidGateway(_)) if computed => {}
                    Err(e) => return Err(node_err(e.to_string())),
                }
            }
            if let Some(gw) = spec.gateway {
                stack
                    .set_default_gateway(gw)
                    .map_err(|e| node_err(e.to_string()))?;
            }
            let host = Host::new(&spec.name, stack);
            // A host that has name servers is like a real machine: its
            // hosts file knows only itself, and every other name comes from
            // DNS. The others share the network's hosts table.
            if spec.nameservers.is_empty() {
                host.set_names(names.clone());
            } else {
                let mut own = Names::default();
                for iface in &spec.ifaces {
                    own.add(&spec.name, iface.addr.address());
                }
                host.set_names(Rc::new(RefCell::new(own)));
            }
            host.set_resolver(ResolverConfig {
                nameservers: spec.nameservers.clone(),
                search: spec.search.clone(),
                ..ResolverConfig::default()
            });
            let fs = MemFs::on(disk.clone());
            for f in scenario.files.iter().filter(|f| f.node == index) {
                let data: Rc<[u8]> = match &f.content {
                    FileContent::Text(t) => Rc::from(t.as_bytes()),
                    FileContent::Generated(n) => generated(&f.path, *n),
                };
                fs.create(&f.path, data)
                    .map_err(|e| node_err(format!("cannot create {}: {e}", f.path)))?;
            }
            host.set_fs(Rc::new(fs));
            host.set_local_cost(LOCAL_COST);
            if let Some(f) = &spec.filter {
                // Interface 0 of the stack is loopback; scenario
                // interfaces follow.
                let ifaces: Vec<_> = spec
                    .ifaces
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        (
                            i + 1,
                            format!("eth{i} ({})", x.addr.address()),
                            x.addr.address(),
                        )
                    })
                    .collect();
                host.install_netfilter(netfilter_for(&ifaces, f, rng.next_u64()));
            }
            {
                let mut n = names.borrow_mut();
                for iface in &spec.ifaces {
                    n.add(&spec.name, iface.addr.address());
                }
            }
            nodes.push(SimNode {
                name: spec.name.clone(),
                kind: spec.kind,
                host,
                attachments: BTreeMap::new(),
                scheduled: None,
            });
        }
        let mut segments = Vec::new();
        for (si, spec) in scenario.segments.iter().enumerate() {
            let members: Vec<Member> = spec
                .members
                .iter()
                .map(|&(n, i)| Member {
                    node: n,
                    // Interface 0 is loopback; scenario interface i is i + 1.
                    iface: IfaceId(i + 1),
                    addr: scenario.nodes[n].ifaces[i].addr,
                })
                .collect();
            for (mi, m) in members.iter().enumerate() {
                nodes[m.node].attachments.insert(m.iface, (si, mi));
            }
            let dirs = spec
                .sending
                .iter()
                .map(|p| Direction::new(p.clone(), rng.fork()))
                .collect();
            let mut seg = Segment::new(spec.name.clone(), members, dirs);
            if let Some(dir) = &options.pcap_dir {
                seg.open_capture(dir)
                    .map_err(|source| BuildError::Capture {
                        path: dir
                            .join(format!("{}.pcap", spec.name))
                            .display()
                            .to_string(),
                        source,
                    })?;
            }
            segments.push(seg);
        }
        let mut segment_base = Vec::with_capacity(segments.len());
        let mut directions = 0;
        for seg in &segments {
            segment_base.push(directions);
            directions += seg.members.len();
        }
        let mut sim = Sim {
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            in_flight: (0..directions).map(|_| VecDeque::new()).collect(),
            resolving: BTreeMap::new(),
            segment_base,
            spare: Vec::new(),
            sent: Vec::new(),
            nodes,
            segments,
            timeline: scenario.timeline.clone(),
            timeline_done: 0,
            foreground: Vec::new(),
            background: Vec::new(),
            of_node: vec![Vec::new(); scenario.nodes.len()],
            exits_seen: vec![0; scenario.nodes.len()],
            started: 0,
            transcript: Rc::default(),
            sink: Rc::new(RefCell::new(None)),
            lines: Rc::default(),
            events: 0,
            instant: Instant::ZERO,
            instant_work: 0,
            no_progress_work: NO_PROGRESS_WORK,
            stuck: false,
            end: Instant::ZERO + scenario.end.unwrap_or(DEFAULT_END),
            seed,
            recording: options.record.then(Box::default),
        };
        if options.record {
            for node in &sim.nodes {
                node.host.with_stack(|s| s.set_tracing(true));
            }
        }
        let transcript = sim.transcript.clone();
        let sink_cell = sim.sink.clone();
        for node in &sim.nodes {
            let transcript = transcript.clone();
            let sink_cell = sink_cell.clone();
            let lines = sim.lines.clone();
            node.host.set_output(Rc::new(move |chunk: OutputChunk| {
                let done = lines.borrow_mut().feed(chunk);
                for line in done {
                    let ev = TranscriptEvent::Output(line);
                    if let Some(s) = sink_cell.borrow().as_ref() {
                        s(&ev);
                    }
                    transcript.borrow_mut().push(ev);
                }
            }));
        }
        for i in 0..sim.timeline.len() {
            let at = Instant::ZERO + sim.timeline[i].at;
            sim.schedule(at, EventKind::Timeline(i));
        }
        Ok(sim)
    }
}
