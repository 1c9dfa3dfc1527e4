//! ICMP echo sockets ("ping sockets"): what Linux offers as
//! `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`.
//!
//! Each socket owns an echo identifier, taken from the port table the way a
//! UDP socket takes a port, so replies and the errors that quote its
//! requests find their way back to it. Requests are built by the stack from
//! the sequence number and payload the application gives.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use crate::hash::{new_map, Map};
use crate::rand::Rng;
use crate::slab::{Key, Slab};
use crate::socket::{PingHandle, PingMessage, PmtuDisc};

/// One echo socket.
#[derive(Debug, Clone)]
pub struct PingSocket {
    pub ident: u16,
    /// Source address to use, if bound.
    pub local: Option<Ipv4Addr>,
    pub ttl: Option<u8>,
    pub tos: u8,
    pub pmtudisc: PmtuDisc,
    pub(crate) rx: VecDeque<PingMessage>,
    pub(crate) rx_bytes: usize,
    pub rcvbuf: usize,
    pub sent: u64,
    /// SO_BROADCAST: requests to a broadcast address may be sent.
    pub broadcast: bool,
}

impl PingSocket {
    pub fn recv_queue(&self) -> usize {
        self.rx_bytes
    }
}

/// All echo sockets of a host.
#[derive(Debug)]
pub struct PingLayer {
    pub(crate) sockets: Slab<PingSocket>,
    by_ident: Map<u16, Key>,
}

impl PingLayer {
    pub fn new(rng: &mut Rng) -> PingLayer {
        PingLayer {
            sockets: Slab::default(),
            by_ident: new_map(rng),
        }
    }

    pub fn insert(&mut self, rcvbuf: usize) -> PingHandle {
        PingHandle(self.sockets.insert(PingSocket {
            ident: 0,
            local: None,
            ttl: None,
            tos: 0,
            pmtudisc: PmtuDisc::Want,
            rx: VecDeque::new(),
            rx_bytes: 0,
            rcvbuf,
            sent: 0,
            broadcast: false,
        }))
    }

    pub fn set_ident(&mut self, h: PingHandle, ident: u16) {
        if let Some(s) = self.sockets.get_mut(h.0) {
            s.ident = ident;
            self.by_ident.insert(ident, h.0);
        }
    }

    pub fn remove(&mut self, h: PingHandle) -> Option<PingSocket> {
        let s = self.sockets.remove(h.0)?;
        if self.by_ident.get(&s.ident) == Some(&h.0) {
            self.by_ident.remove(&s.ident);
        }
        Some(s)
    }

    pub fn get(&self, h: PingHandle) -> Option<&PingSocket> {
        self.sockets.get(h.0)
    }

    pub fn get_mut(&mut self, h: PingHandle) -> Option<&mut PingSocket> {
        self.sockets.get_mut(h.0)
    }

    pub fn lookup(&self, ident: u16) -> Option<PingHandle> {
        self.by_ident.get(&ident).map(|k| PingHandle(*k))
    }

    /// Queue a message; false when the buffer is full.
    pub fn deliver(&mut self, h: PingHandle, msg: PingMessage) -> bool {
        let Some(s) = self.sockets.get_mut(h.0) else {
            return false;
        };
        let len = match &msg {
            PingMessage::Reply { data, .. } => data.len() + 8,
            PingMessage::Error { .. } => 64,
        };
        if s.rx_bytes > 0 && s.rx_bytes + len > s.rcvbuf {
            return false;
        }
        s.rx_bytes += len;
        s.rx.push_back(msg);
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = (PingHandle, &PingSocket)> {
        self.sockets.iter().map(|(k, s)| (PingHandle(k), s))
    }
}
