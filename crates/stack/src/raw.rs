//! Raw IP sockets: what Linux offers as `socket(AF_INET, SOCK_RAW, proto)`.
//!
//! A raw socket sends datagrams whose transport header the application
//! builds itself (the stack adds the IP header), and receives a copy of
//! every datagram of its protocol addressed to this host, after reassembly
//! and before the protocol's own handling, exactly as Linux's
//! `raw_v4_input` does. The stack still handles each datagram normally: a
//! SYN-ACK seen by a raw TCP socket also reaches TCP, which answers with a
//! reset because no connection asked for it. This is what `traceroute -T`
//! and port scanners are built on.
//!
//! Receive queues are bounded by the socket's buffer like any datagram
//! socket; what does not fit is dropped and counted.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use tcplab_wire::Protocol;

use crate::slab::Slab;
use crate::socket::{PmtuDisc, RawHandle, SocketKind};

/// A datagram a raw socket received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDatagram {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The transport header and data (the IP payload).
    pub payload: Vec<u8>,
    /// When it arrived (`SO_TIMESTAMP`).
    pub received: crate::time::Instant,
}

/// One raw socket.
#[derive(Debug, Clone)]
pub struct RawSocket {
    pub protocol: Protocol,
    pub ttl: Option<u8>,
    pub pmtudisc: PmtuDisc,
    /// Ports reserved in the port table for this socket (for probes that
    /// need source ports nobody else uses), with the table each is in.
    pub ports: Vec<(SocketKind, u16)>,
    pub(crate) rx: VecDeque<RawDatagram>,
    pub(crate) rx_bytes: usize,
    pub rcvbuf: usize,
    /// Datagrams that did not fit the receive buffer.
    pub drops: u64,
    pub sent: u64,
}

impl RawSocket {
    pub fn recv_queue(&self) -> usize {
        self.rx_bytes
    }
}

/// All raw sockets of a host.
#[derive(Debug, Default)]
pub struct RawLayer {
    pub(crate) sockets: Slab<RawSocket>,
}

impl RawLayer {
    pub fn insert(&mut self, protocol: Protocol, rcvbuf: usize) -> RawHandle {
        RawHandle(self.sockets.insert(RawSocket {
            protocol,
            ttl: None,
            pmtudisc: PmtuDisc::Want,
            ports: Vec::new(),
            rx: VecDeque::new(),
            rx_bytes: 0,
            rcvbuf,
            drops: 0,
            sent: 0,
        }))
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    pub fn get(&self, h: RawHandle) -> Option<&RawSocket> {
        self.sockets.get(h.0)
    }

    pub fn get_mut(&mut self, h: RawHandle) -> Option<&mut RawSocket> {
        self.sockets.get_mut(h.0)
    }

    pub fn remove(&mut self, h: RawHandle) -> Option<RawSocket> {
        self.sockets.remove(h.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (RawHandle, &RawSocket)> {
        self.sockets.iter().map(|(k, s)| (RawHandle(k), s))
    }

    /// Give a copy of a datagram to every socket of its protocol; returns
    /// the sockets that got one.
    pub fn deliver(&mut self, protocol: Protocol, datagram: &RawDatagram) -> Vec<RawHandle> {
        let mut woken = Vec::new();
        for (k, s) in self.sockets.iter_mut() {
            if s.protocol != protocol {
                continue;
            }
            let len = datagram.payload.len() + 20;
            if s.rx_bytes > 0 && s.rx_bytes + len > s.rcvbuf {
                s.drops += 1;
                continue;
            }
            s.rx_bytes += len;
            s.rx.push_back(datagram.clone());
            woken.push(RawHandle(k));
        }
        woken
    }

    pub fn pop(&mut self, h: RawHandle) -> Option<RawDatagram> {
        let s = self.sockets.get_mut(h.0)?;
        let d = s.rx.pop_front()?;
        s.rx_bytes = s.rx_bytes.saturating_sub(d.payload.len() + 20);
        Some(d)
    }
}
