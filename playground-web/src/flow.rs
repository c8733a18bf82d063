//! Flow control on the client side: acknowledging rendered output.
//!
//! Every output frame is handed to xterm.js with a write callback; xterm calls
//! the callbacks in order once the bytes are parsed and rendered. The server
//! needs the count of rendered bytes (`0x02` ack frames, see
//! `protocol::terminal`). Acking every tiny echo costs a frame per keystroke,
//! which is fine; acking every 64 KiB chunk of a big `cat` is also fine. What
//! must not happen is holding back acks while nothing else is in flight, or the
//! server would wait forever: so an ack goes out when enough has piled up or
//! when xterm has caught up with everything written.

use std::collections::VecDeque;

/// Send an ack at the latest when this many rendered bytes are unacknowledged.
pub const ACK_EVERY: u32 = 64 * 1024;

/// Bookkeeping for one terminal: which writes are in flight (for which
/// connection), and what has been rendered but not acknowledged yet.
#[derive(Debug, Default)]
pub struct AckCounter {
    /// (connection generation, bytes) of writes not yet rendered, oldest first.
    in_flight: VecDeque<(u64, u32)>,
    /// Rendered bytes of the current connection not acknowledged yet.
    pending: u32,
    /// The current connection; writes of older connections are never acked.
    generation: u64,
}

impl AckCounter {
    /// A new connection starts: nothing of the old one is acknowledged on it.
    pub fn new_connection(&mut self) -> u64 {
        self.generation += 1;
        self.pending = 0;
        self.generation
    }

    /// `n` output bytes were handed to the terminal.
    pub fn written(&mut self, n: u32) {
        self.in_flight.push_back((self.generation, n));
    }

    /// The terminal rendered the oldest write in flight. Returns the count to
    /// acknowledge now, if any.
    pub fn rendered(&mut self) -> Option<u32> {
        let (generation, n) = self.in_flight.pop_front()?;
        if generation != self.generation {
            return None;
        }
        self.pending = self.pending.saturating_add(n);
        let caught_up = !self.in_flight.iter().any(|(g, _)| *g == self.generation);
        if self.pending > 0 && (self.pending >= ACK_EVERY || caught_up) {
            Some(std::mem::take(&mut self.pending))
        } else {
            None
        }
    }

    /// Bytes of the current connection written but not yet rendered.
    pub fn unrendered(&self) -> u64 {
        self.in_flight
            .iter()
            .filter(|(g, _)| *g == self.generation)
            .map(|(_, n)| u64::from(*n))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::terminal::{ClientFrame, FLOW_HIGH_WATER};

    #[test]
    fn single_echo_is_acked_at_once() {
        let mut c = AckCounter::default();
        c.new_connection();
        c.written(3);
        assert_eq!(c.rendered(), Some(3));
        assert_eq!(c.rendered(), None);
    }

    #[test]
    fn a_burst_is_acked_in_batches_and_fully() {
        let mut c = AckCounter::default();
        c.new_connection();
        for _ in 0..100 {
            c.written(10_000);
        }
        let mut acked = 0u64;
        let mut acks = 0;
        for _ in 0..100 {
            if let Some(n) = c.rendered() {
                assert!(n >= ACK_EVERY || c.unrendered() == 0);
                acked += u64::from(n);
                acks += 1;
            }
        }
        assert_eq!(acked, 1_000_000);
        assert!(acks < 20, "{acks} acks");
        // The server's pause mark is far above one batch: it never stalls on us.
        assert!(u64::from(ACK_EVERY) * 2 < FLOW_HIGH_WATER);
    }

    #[test]
    fn writes_of_an_old_connection_are_not_acked_on_the_new_one() {
        let mut c = AckCounter::default();
        c.new_connection();
        c.written(500);
        c.new_connection();
        c.written(7);
        assert_eq!(c.rendered(), None, "the old connection's 500 bytes");
        assert_eq!(c.rendered(), Some(7));
    }

    #[test]
    fn acks_encode_as_protocol_frames() {
        let mut c = AckCounter::default();
        c.new_connection();
        c.written(65_536);
        let n = c.rendered().unwrap();
        assert_eq!(ClientFrame::Ack(n).encode(), [2, 0, 1, 0, 0]);
        assert_eq!(
            ClientFrame::Resize { cols: 80, rows: 24 }.encode(),
            [1, 0, 80, 0, 24]
        );
        assert_eq!(ClientFrame::Input(b"ls\r").encode(), b"\0ls\r");
    }
}
