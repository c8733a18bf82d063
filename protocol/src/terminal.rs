//! Binary frames of the terminal WebSocket (`.../nodes/{node}/terminal`).
//!
//! Every frame is one WebSocket *binary* message whose first byte is its type.
//!
//! Client to server:
//! - `0x00` input: the rest is bytes for the shell, as typed.
//! - `0x01` resize: `cols: u16`, `rows: u16`, big-endian (exactly 5 bytes).
//! - `0x02` ack: `u32` big-endian, the number of output bytes rendered since the
//!   previous ack (exactly 5 bytes). The server pauses reading the PTY while a
//!   client has more than [`FLOW_HIGH_WATER`] bytes unacknowledged, and resumes
//!   once every client is under [`FLOW_LOW_WATER`].
//!
//! Server to client:
//! - `0x00` output: the rest is bytes for the terminal emulator.
//! - `0x01` event: the rest is one JSON [`Event`].
//!
//! Decoding borrows from the message: no copy, no allocation for input bytes.

use serde::{Deserialize, Serialize};

pub const TYPE_INPUT: u8 = 0x00;
pub const TYPE_RESIZE: u8 = 0x01;
pub const TYPE_ACK: u8 = 0x02;
pub const TYPE_OUTPUT: u8 = 0x00;
pub const TYPE_EVENT: u8 = 0x01;

/// Unacknowledged output above which the server stops reading the PTY.
pub const FLOW_HIGH_WATER: u64 = 2 * 1024 * 1024;
/// Unacknowledged output below which the server reads the PTY again.
pub const FLOW_LOW_WATER: u64 = 512 * 1024;

/// WebSocket close codes the server uses (RFC 6455 section 7.4.1).
pub mod close_code {
    /// The shell exited or the session ended.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame of unknown type, a text frame, or a frame of the wrong length.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A socket over a server limit (sockets per terminal or per session).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame larger than the server's limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server could not start a shell (the close reason says why).
    pub const INTERNAL_ERROR: u16 = 1011;
    /// A client so far behind that its queue overflowed, or a node restarting;
    /// reconnecting repaints the screen.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// A frame sent by the client, borrowing its payload from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFrame<'a> {
    Input(&'a [u8]),
    Resize { cols: u16, rows: u16 },
    Ack(u32),
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty frame")]
    Empty,
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    #[error("{kind} frame must be {expected} bytes, got {got}")]
    BadLength {
        kind: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("terminal size {cols}x{rows} out of range (1..=1000)")]
    BadSize { cols: u16, rows: u16 },
}

/// Largest terminal dimension accepted in a resize frame.
pub const MAX_TERMINAL_DIMENSION: u16 = 1000;

impl<'a> ClientFrame<'a> {
    /// Parses one binary message.
    pub fn decode(msg: &'a [u8]) -> Result<Self, FrameError> {
        let (&kind, rest) = msg.split_first().ok_or(FrameError::Empty)?;
        match kind {
            TYPE_INPUT => Ok(ClientFrame::Input(rest)),
            TYPE_RESIZE => {
                let b: [u8; 4] = rest.try_into().map_err(|_| FrameError::BadLength {
                    kind: "resize",
                    expected: 5,
                    got: msg.len(),
                })?;
                let cols = u16::from_be_bytes([b[0], b[1]]);
                let rows = u16::from_be_bytes([b[2], b[3]]);
                if cols == 0
                    || rows == 0
                    || cols > MAX_TERMINAL_DIMENSION
                    || rows > MAX_TERMINAL_DIMENSION
                {
                    return Err(FrameError::BadSize { cols, rows });
                }
                Ok(ClientFrame::Resize { cols, rows })
            }
            TYPE_ACK => {
                let b: [u8; 4] = rest.try_into().map_err(|_| FrameError::BadLength {
                    kind: "ack",
                    expected: 5,
                    got: msg.len(),
                })?;
                Ok(ClientFrame::Ack(u32::from_be_bytes(b)))
            }
            other => Err(FrameError::UnknownType(other)),
        }
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match *self {
            ClientFrame::Input(bytes) => {
                out.reserve(1 + bytes.len());
                out.push(TYPE_INPUT);
                out.extend_from_slice(bytes);
            }
            ClientFrame::Resize { cols, rows } => {
                out.push(TYPE_RESIZE);
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
            }
            ClientFrame::Ack(n) => {
                out.push(TYPE_ACK);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

/// A JSON event, the payload of a server frame of type `0x01`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The shell exited; the socket closes after this event. Connecting again
    /// starts a new shell.
    Exit { code: i64 },
    /// Something the learner should see outside the terminal (the session
    /// expires soon, the node restarted, ...).
    Notice { level: NoticeLevel, message: String },
    /// How many operators watch the session's terminals (read-only, with the
    /// admin token and `?watch=1`), sent to the learner's sockets when it
    /// changes and on connecting while it is above 0.
    Watchers { count: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
}

/// A frame sent by the server, borrowing its payload from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    Output(&'a [u8]),
    Event(Event),
}

impl<'a> ServerFrame<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self, FrameError> {
        let (&kind, rest) = msg.split_first().ok_or(FrameError::Empty)?;
        match kind {
            TYPE_OUTPUT => Ok(ServerFrame::Output(rest)),
            TYPE_EVENT => serde_json::from_slice(rest)
                .map(ServerFrame::Event)
                .map_err(|_| FrameError::UnknownType(kind)),
            other => Err(FrameError::UnknownType(other)),
        }
    }
}

/// Encodes an output frame: the type byte, then `bytes`.
pub fn encode_output(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + bytes.len());
    out.push(TYPE_OUTPUT);
    out.extend_from_slice(bytes);
    out
}

/// Encodes an event frame.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let mut out = vec![TYPE_EVENT];
    serde_json::to_writer(&mut out, event).expect("events always serialize");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip() {
        for frame in [
            ClientFrame::Input(b"echo hi\r"),
            ClientFrame::Input(b""),
            ClientFrame::Resize {
                cols: 120,
                rows: 40,
            },
            ClientFrame::Ack(65536),
        ] {
            let bytes = frame.encode();
            assert_eq!(ClientFrame::decode(&bytes).unwrap(), frame);
        }
    }

    #[test]
    fn resize_is_big_endian() {
        assert_eq!(
            ClientFrame::Resize {
                cols: 0x0102,
                rows: 0x0304
            }
            .encode(),
            [1, 1, 2, 3, 4]
        );
    }

    #[test]
    fn malformed_client_frames_are_refused() {
        assert_eq!(ClientFrame::decode(&[]), Err(FrameError::Empty));
        assert_eq!(
            ClientFrame::decode(&[7, 1]),
            Err(FrameError::UnknownType(7))
        );
        assert!(matches!(
            ClientFrame::decode(&[1, 0, 80]),
            Err(FrameError::BadLength { kind: "resize", .. })
        ));
        assert!(matches!(
            ClientFrame::decode(&[2, 0, 0, 0, 0, 0]),
            Err(FrameError::BadLength { kind: "ack", .. })
        ));
        assert_eq!(
            ClientFrame::decode(&[1, 0, 0, 0, 24]),
            Err(FrameError::BadSize { cols: 0, rows: 24 })
        );
    }

    #[test]
    fn events_have_a_type_tag() {
        let bytes = encode_event(&Event::Exit { code: 130 });
        assert_eq!(&bytes[1..], br#"{"type":"exit","code":130}"#);
        assert_eq!(
            ServerFrame::decode(&bytes).unwrap(),
            ServerFrame::Event(Event::Exit { code: 130 })
        );
        assert_eq!(
            ServerFrame::decode(&encode_output(b"x")).unwrap(),
            ServerFrame::Output(b"x")
        );
    }
}
