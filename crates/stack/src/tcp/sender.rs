//! The send side of a connection: RFC 9293 §3.3.1's send sequence
//! variables, the send buffer and the retransmission queue, behind methods
//! that keep SND.UNA ≤ SND.NXT and the queue exactly covering the bytes in
//! between.
//!
//! Sequence space on this side is ISS (the SYN), then the data, then our
//! FIN once the application closed; each is sent whenever it is
//! unacknowledged and due, whatever the state. SND.NXT is the next sequence
//! number never sent before; it only moves forward. (What BSD calls
//! SND.MAX is therefore SND.NXT here; retransmissions come from the queue.)

use tcplab_wire::tcp::SeqNumber;

use super::buffer::Ring;
use super::rtx::{Delivery, RateSnap, RtxQueue};
use crate::time::Instant;

/// Send sequence variables, buffer and queue.
#[derive(Debug, Clone)]
pub struct Sender {
    iss: SeqNumber,
    una: SeqNumber,
    nxt: SeqNumber,
    /// Send window (already scaled) and the largest ever offered
    /// (MAX.SND.WND of RFC 5961 §5).
    wnd: u32,
    max_wnd: u32,
    /// Segment sequence and acknowledgment numbers of the last window update.
    wl1: SeqNumber,
    wl2: SeqNumber,
    /// Shift applied to the peer's window field (RFC 7323 §2).
    wscale: u8,
    /// Urgent pointer: the byte after the last urgent byte (RFC 6093).
    up: Option<SeqNumber>,
    /// Where our FIN sits, once the application closed.
    fin: Option<SeqNumber>,
    /// The SYN went out, and was acknowledged. Kept as flags: a comparison
    /// with ISS flips after 2^31 bytes of sequence space.
    syn_sent: bool,
    syn_acked: bool,
    /// Bytes from `buf_seq` on: unacknowledged and unsent data.
    buf: Ring,
    buf_seq: SeqNumber,
    rtx: RtxQueue,
}

/// What an acceptable new acknowledgment did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Sequence space newly acknowledged (SYN and FIN included).
    pub acked: usize,
    /// Data bytes newly acknowledged.
    pub data: usize,
}

impl Sender {
    pub fn new(iss: SeqNumber, buffer: usize) -> Sender {
        Sender {
            iss,
            una: iss,
            nxt: iss,
            wnd: 0,
            max_wnd: 0,
            wl1: SeqNumber(0),
            wl2: SeqNumber(0),
            wscale: 0,
            up: None,
            fin: None,
            syn_sent: false,
            syn_acked: false,
            buf: Ring::new(buffer),
            buf_seq: iss + 1,
            rtx: RtxQueue::default(),
        }
    }

    pub fn iss(&self) -> SeqNumber {
        self.iss
    }
    pub fn una(&self) -> SeqNumber {
        self.una
    }
    pub fn nxt(&self) -> SeqNumber {
        self.nxt
    }
    pub fn wnd(&self) -> u32 {
        self.wnd
    }
    pub fn max_wnd(&self) -> u32 {
        self.max_wnd
    }
    pub fn wscale(&self) -> u8 {
        self.wscale
    }
    pub fn up(&self) -> Option<SeqNumber> {
        self.up
    }
    pub fn fin(&self) -> Option<SeqNumber> {
        self.fin
    }
    pub fn buffer(&self) -> &Ring {
        &self.buf
    }
    pub fn buffer_mut(&mut self) -> &mut Ring {
        &mut self.buf
    }
    pub fn queue(&self) -> &RtxQueue {
        &self.rtx
    }
    pub fn queue_mut(&mut self) -> &mut RtxQueue {
        &mut self.rtx
    }

    /// Whether our SYN has been acknowledged.
    pub fn syn_acked(&self) -> bool {
        self.syn_acked
    }

    /// Whether our SYN went out at least once.
    pub fn syn_sent(&self) -> bool {
        self.syn_sent
    }

    /// Whether our FIN was sent and acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin.is_some_and(|f| self.una > f)
    }

    /// One past the last data byte queued.
    pub fn data_end(&self) -> SeqNumber {
        self.buf_seq + self.buf.len()
    }

    /// Sequence space sent and not acknowledged.
    pub fn outstanding(&self) -> usize {
        self.nxt - self.una
    }

    /// Data queued and never sent.
    pub fn unsent(&self) -> usize {
        let end = self.data_end();
        if end > self.nxt {
            end - self.nxt
        } else {
            0
        }
    }

    /// The right edge of the send window: SND.UNA + SND.WND.
    pub fn wnd_end(&self) -> SeqNumber {
        self.una + self.wnd as usize
    }

    /// SEND: queue data; how much fitted.
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.fin.is_some() {
            return 0;
        }
        self.buf.push(data)
    }

    /// Mark everything queued so far urgent (RFC 6093).
    pub fn mark_urgent(&mut self) {
        self.up = Some(self.data_end());
    }

    /// CLOSE: our FIN follows the data queued so far.
    pub fn close(&mut self) {
        if self.fin.is_none() {
            self.fin = Some(self.data_end());
        }
    }

    /// Bytes of the buffer for `seq .. seq + len`, as up to two slices.
    pub fn payload(&self, seq: SeqNumber, len: usize) -> (&[u8], &[u8]) {
        if seq < self.buf_seq {
            return (&[], &[]);
        }
        self.buf.slices(seq - self.buf_seq, len)
    }

    /// How many data bytes lie in `start .. end` (the SYN and FIN take
    /// sequence space without data). Every comparison is between nearby
    /// numbers, never with ISS, so it holds across the whole space.
    pub fn data_in(&self, start: SeqNumber, end: SeqNumber) -> (SeqNumber, usize) {
        let from = if !self.syn_acked && start == self.iss {
            start + 1
        } else {
            start
        };
        let to = match self.fin {
            Some(f) => end.min(f),
            None => end,
        }
        .min(self.data_end());
        if to > from {
            (from, to - from)
        } else {
            (from, 0)
        }
    }

    /// A connection made from a SYN cookie: our SYN-ACK was sent and
    /// acknowledged before the connection existed.
    pub fn assume_syn_acked(&mut self) {
        debug_assert!(self.rtx.is_empty() && self.nxt == self.iss);
        self.nxt = self.iss + 1;
        self.una = self.nxt;
        self.syn_sent = true;
        self.syn_acked = true;
    }

    /// A first transmission of `start .. end`, which begins at SND.NXT,
    /// carrying `tsval`, with the rate sampler's snapshot.
    pub fn sent_new(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        now: Instant,
        tsval: u32,
        rate: RateSnap,
    ) {
        debug_assert_eq!(start, self.nxt, "new data starts at SND.NXT");
        debug_assert!(end > start);
        if start == self.iss && !self.syn_sent {
            self.syn_sent = true;
        }
        self.rtx.push(start, end, now, tsval, rate);
        self.nxt = end;
    }

    /// The last record, a zero-window probe's byte sent again as the
    /// window opened, took new data up to `end` along in its segment: it
    /// grows to hold them, so that a later retransmission resends the
    /// segment whole rather than the probe's byte alone.
    pub fn probe_grew(&mut self, end: SeqNumber) {
        debug_assert!(end > self.nxt);
        self.rtx.grow_last(end);
        self.nxt = end;
    }

    /// Take the peer's acknowledgment of `ack`, which must lie in
    /// (SND.UNA, SND.NXT]: the one place SND.UNA moves.
    pub fn acknowledge(&mut self, ack: SeqNumber, delivery: &mut Delivery) -> AckOutcome {
        debug_assert!(self.una < ack && ack <= self.nxt, "ACK outside the window");
        let ack = ack.min(self.nxt);
        if ack <= self.una {
            return AckOutcome::default();
        }
        let acked = ack - self.una;
        self.syn_acked = true;
        let data_acked = if ack > self.buf_seq {
            ack.min(self.data_end()) - self.buf_seq
        } else {
            0
        };
        self.buf.consume(data_acked);
        self.buf_seq += data_acked;
        self.una = ack;
        self.rtx.ack(ack, delivery);
        if self.up.is_some_and(|up| up <= self.una) {
            self.up = None;
        }
        AckOutcome {
            acked,
            data: data_acked,
        }
    }

    /// The window from a segment: taken if it is newer than the last update
    /// (RFC 9293 §3.10.7.4, fifth step: SND.WL1 < SEG.SEQ, or equal and
    /// SND.WL2 =< SEG.ACK), or if it acknowledged new data (`advanced`, as
    /// Linux's `tcp_may_update_window`): a retransmitted segment carries an
    /// old SEG.SEQ but a current window, and SND.UNA + SND.WND must never
    /// point past what the receiver offered. Only an ACK in SND.UNA =<
    /// SEG.ACK =< SND.NXT counts: the window is relative to SEG.ACK.
    /// Returns whether the window was taken.
    pub fn update_window(
        &mut self,
        seq: SeqNumber,
        ack: SeqNumber,
        field: u16,
        advanced: bool,
    ) -> bool {
        if ack < self.una || ack > self.nxt {
            return false;
        }
        if advanced || self.wl1 < seq || (self.wl1 == seq && self.wl2 <= ack) {
            self.set_window(seq.max(self.wl1), ack, u32::from(field) << self.wscale);
            true
        } else {
            false
        }
    }

    /// Set the window outright (the handshake, where it is never scaled).
    pub fn set_window(&mut self, seq: SeqNumber, ack: SeqNumber, wnd: u32) {
        self.wnd = wnd;
        self.max_wnd = self.max_wnd.max(wnd);
        self.wl1 = seq;
        self.wl2 = ack;
    }

    pub fn set_wscale(&mut self, shift: u8) {
        self.wscale = shift;
    }

    /// The connection closed: nothing more will be sent.
    pub fn discard(&mut self) {
        self.syn_sent = true;
        self.syn_acked = true;
        let n = self.buf.len();
        self.buf.consume(n);
        self.rtx.clear();
        self.up = None;
        match self.fin {
            // The FIN went out: it stays the last item of the space.
            Some(f) if f < self.nxt => {
                self.buf_seq = f;
                self.una = self.nxt;
            }
            // Anything never sent is dropped, a FIN with it.
            _ => {
                let end = self.nxt.max(self.buf_seq + n);
                self.fin = None;
                self.buf_seq = end;
                self.una = end;
                self.nxt = end;
            }
        }
    }

    /// The invariants of this side; a description of the first broken one.
    pub fn check(&self) -> Result<(), String> {
        if self.una > self.nxt {
            return Err(format!(
                "SND.UNA {:?} is beyond SND.NXT {:?}",
                self.una, self.nxt
            ));
        }

        if let Some(f) = self.fin {
            if self.data_end() != f {
                return Err(format!(
                    "data ends at {:?} but the FIN is at {f:?}",
                    self.data_end()
                ));
            }
            if self.nxt > f + 1 {
                return Err("sent beyond the FIN".into());
            }
        }
        let first_data = if self.syn_acked {
            self.una
        } else {
            self.iss + 1
        };
        if self.buf_seq > first_data {
            return Err(format!(
                "buffer starts at {:?}, after SND.UNA {:?}",
                self.buf_seq, self.una
            ));
        }
        if !self.syn_acked && self.una != self.iss {
            return Err("SND.UNA moved before the SYN was acknowledged".into());
        }
        if self.nxt > self.data_end() + usize::from(self.fin.is_some()) {
            return Err("sent beyond the queued data".into());
        }
        self.rtx.check(self.una, self.nxt)
    }
}
