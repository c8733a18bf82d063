//! The terminal WebSocket: binary frames (see `protocol::terminal`) between
//! one browser tab and a node's [`Terminal`].
//!
//! One task per socket selects between the client's queue (output, events)
//! and the socket (input, resize, ack). Bad frames close this socket with a
//! code and a reason; nothing else is disturbed.
//!
//! With `?watch=1` and the admin token (`?token=` or the header), an operator
//! watches: output and the repaint as a learner gets them, read-only (input
//! and resize frames are ignored, acks count for flow control). A watcher is
//! not one of the learner's clients: it keeps no session from idling out and
//! takes no slot of `max_sockets_per_session`, but one of the terminal's
//! `max_sockets_per_terminal`. The learner's sockets get `Event::Watchers`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use protocol::terminal::{close_code, encode_event, encode_output, ClientFrame};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{authorize, check_admin, node_terminal, HeaderOrQuery, TokenSource};
use super::resize_throttle::{ResizeThrottle, Size};
use super::state::AppState;
use crate::sessions::{Access, ClientGuard, Session, WatchGuard};
use crate::terminal::{AttachError, Outbound, Terminal};

/// Largest output message built by coalescing queued chunks.
const COALESCE_MAX: usize = 256 * 1024;

/// Close code for "the server could not start the shell".
const INTERNAL_ERROR: u16 = close_code::INTERNAL_ERROR;

/// The terminal route, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/sessions/{id}/nodes/{node}/terminal", get(upgrade))
}

/// Size for a shell started by this connection (the client's terminal size),
/// and whether an operator only watches.
#[derive(Deserialize)]
struct SizeQuery {
    cols: Option<u16>,
    rows: Option<u16>,
    /// `1` (or `true`): watch read-only, with the admin token.
    watch: Option<String>,
}

#[derive(Deserialize)]
struct TerminalPath {
    id: String,
    node: String,
}

/// Who holds a terminal socket; the guard counts them while the socket lives.
enum Peer {
    /// The session's learner (its token): a client of the session.
    Learner { _guard: ClientGuard },
    /// An operator watching (the admin token), read-only.
    Watcher { _guard: WatchGuard },
}

/// Limits of one socket, from the server config.
struct SocketLimits {
    max_frame: usize,
    resize_interval: Duration,
    send_timeout: Duration,
    max_per_session: usize,
}

/// Checks the socket (auth, size), then hands it to [`serve`]. The query and
/// the upgrade are checked before the token, as they always were.
async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<SizeQuery>,
    ws: WebSocketUpgrade,
    axum::extract::Path(TerminalPath { id, node }): axum::extract::Path<TerminalPath>,
    parts: axum::http::request::Parts,
) -> Result<Response, ApiError> {
    let token = HeaderOrQuery::token(&parts)?;
    let watch = match query.watch.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "watch={other:?}: expected 1 or 0"
            )))
        }
    };
    // An operator's token is checked before the session is looked up, so
    // nobody without it learns which sessions exist; a learner's keeps the
    // usual order (unknown session, then no token, then a wrong one).
    let session = if watch {
        check_admin(&state, token.as_deref())?;
        state.sessions.get_for_operator(&id)?
    } else {
        authorize(&state, &id, token.as_deref(), Access::Full)?
    };
    let terminal = node_terminal(&session, &node)?;
    let size = match (query.cols, query.rows) {
        (Some(c), Some(r)) => {
            let ok = |n: u16| (1..=protocol::terminal::MAX_TERMINAL_DIMENSION).contains(&n);
            if !ok(c) || !ok(r) {
                return Err(ApiError::BadRequest(format!(
                    "terminal size {c}x{r} out of range (1..=1000)"
                )));
            }
            terminal
                .check_size(c, r)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Some((c, r))
        }
        _ => None,
    };
    let limits = SocketLimits {
        max_frame: state.config.max_frame_bytes,
        resize_interval: Duration::from_millis(state.config.resize_interval_ms),
        send_timeout: Duration::from_secs(state.config.send_timeout_secs),
        max_per_session: state.config.max_sockets_per_session,
    };
    let max_frame = limits.max_frame;
    state.metrics.terminal_connections.inc();
    // The transport limit sits above ours, so an oversized frame reaches our
    // check and gets a proper close code instead of a dropped connection.
    let transport_limit = max_frame.saturating_mul(4).max(1 << 20);
    Ok(ws
        .max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        .on_upgrade(move |socket| serve(socket, session, terminal, size, limits, watch)))
}

async fn serve(
    socket: WebSocket,
    session: Arc<Session>,
    terminal: Arc<Terminal>,
    size: Option<Size>,
    limits: SocketLimits,
    watch: bool,
) {
    let max_frame = limits.max_frame;
    let (sink, mut stream) = socket.split();
    let mut sink = Sender {
        sink,
        timeout: limits.send_timeout,
    };
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: close_reason(reason).into(),
        }))
    };
    // A watcher never sizes the learner's terminal.
    let size = if watch { None } else { size };
    let session_slot = if watch {
        Peer::Watcher {
            _guard: session.watch(),
        }
    } else {
        let Some(slot) = session.try_client_connected(limits.max_per_session) else {
            let reason = format!(
                "this session has {} sockets open already, the most allowed; close one",
                limits.max_per_session
            );
            let _ = sink.send(close(close_code::POLICY_VIOLATION, reason)).await;
            return;
        };
        session.touch();
        Peer::Learner { _guard: slot }
    };
    // Turned away before it can start or resize the shell for the others. Its
    // session slot is given back before the client hears why, so a client that
    // opens another socket on the close frame finds the slot free.
    if let Err(e) = terminal.check_room() {
        drop(session_slot);
        let _ = sink
            .send(close(close_code::POLICY_VIOLATION, e.to_string()))
            .await;
        return;
    }
    let attachment = {
        let mut attempt = 0;
        loop {
            if let Err(e) = terminal.ensure_shell(size).await {
                tracing::warn!(session = %session.record.id, "cannot start a shell: {e}");
                let _ = sink
                    .send(close(INTERNAL_ERROR, format!("cannot start a shell: {e}")))
                    .await;
                return;
            }
            if let Some((cols, rows)) = size {
                let _ = terminal.resize(cols, rows).await;
            }
            match terminal.attach() {
                Ok(a) => break a,
                Err(e @ AttachError::Full { .. }) => {
                    drop(session_slot);
                    let _ = sink
                        .send(close(close_code::POLICY_VIOLATION, e.to_string()))
                        .await;
                    return;
                }
                // The shell exited between starting and attaching: start another.
                Err(AttachError::NoShell) if attempt < 3 => attempt += 1,
                Err(AttachError::NoShell) => {
                    let _ = sink
                        .send(close(INTERNAL_ERROR, "the shell keeps exiting".into()))
                        .await;
                    return;
                }
            }
        }
    };
    let client = attachment.id;
    let mut rx = attachment.rx;
    let notices = match session_slot {
        Peer::Learner { .. } => [session.expiry_notice(), session.watchers_notice()],
        Peer::Watcher { .. } => [None, None],
    };
    for notice in notices.into_iter().flatten() {
        if sink
            .send(Message::Binary(Bytes::from(encode_event(&notice))))
            .await
            .is_err()
        {
            terminal.detach(client);
            return;
        }
    }
    // What coalescing took off the queue but could not join to output.
    let mut held: Option<Outbound> = None;
    let mut resizes = ResizeThrottle::new(limits.resize_interval);
    let closing: Option<Closing> = loop {
        let resize_due = resizes.due_at();
        tokio::select! {
            _ = sleep_until(resize_due), if resize_due.is_some() => {
                if let Some(size) = resizes.take_due(tokio::time::Instant::now()) {
                    resize(&terminal, size).await;
                }
            }
            out = next_outbound(&mut held, &mut rx) => match out {
                Some(Outbound::Output(bytes)) => {
                    // Coalesce output already queued into one message: a client
                    // that is behind gets fewer, larger frames (and sends fewer acks).
                    let mut frame = encode_output(&bytes);
                    while frame.len() < COALESCE_MAX {
                        match rx.try_recv() {
                            Ok(Outbound::Output(more)) => frame.extend_from_slice(&more),
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Some(e) = sink.send(Message::Binary(Bytes::from(frame))).await.err() {
                        break after_failed_send(e);
                    }
                }
                Some(Outbound::Event(event)) => {
                    if let Some(e) = sink.send(Message::Binary(Bytes::from(encode_event(&event)))).await.err() {
                        break after_failed_send(e);
                    }
                }
                Some(Outbound::Close { code, reason }) => break Some(Closing::Frame(code, reason)),
                None => break Some(Closing::Frame(
                    close_code::TRY_AGAIN_LATER,
                    "this client fell too far behind; reconnect to repaint".into(),
                )),
            },
            msg = stream.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Binary(data))) => {
                    if data.len() > max_frame {
                        break Some(Closing::Frame(
                            close_code::MESSAGE_TOO_BIG,
                            format!("frame of {} bytes is over the limit of {max_frame}", data.len()),
                        ));
                    }
                    match ClientFrame::decode(&data) {
                        // A watcher's keys and sizes are dropped: it only watches.
                        Ok(ClientFrame::Input(_) | ClientFrame::Resize { .. }) if watch => {}
                        Ok(ClientFrame::Input(bytes)) => {
                            session.touch();
                            if let Err(e) = terminal.input(bytes).await {
                                tracing::debug!("terminal input: {e}");
                            }
                        }
                        Ok(ClientFrame::Resize { cols, rows }) => {
                            if let Err(e) = terminal.check_size(cols, rows) {
                                break Some(Closing::Frame(close_code::UNSUPPORTED_DATA, format!("bad frame: {e}")));
                            }
                            if let Some(size) = resizes.offer((cols, rows), tokio::time::Instant::now()) {
                                resize(&terminal, size).await;
                            }
                        }
                        Ok(ClientFrame::Ack(count)) => terminal.ack(client, count),
                        Err(e) => break Some(Closing::Frame(close_code::UNSUPPORTED_DATA, format!("bad frame: {e}"))),
                    }
                }
                Some(Ok(Message::Text(_))) => break Some(Closing::Frame(
                    close_code::UNSUPPORTED_DATA,
                    "text frames are not accepted; send binary frames".into(),
                )),
                Some(Ok(_)) => {}
            },
        }
    };
    terminal.detach(client);
    match closing {
        // A stalled client would stall the close frame too.
        Some(Closing::Stalled) => return,
        Some(Closing::Frame(code, reason)) => {
            let _ = sink.send(close(code, reason)).await;
        }
        None => {}
    }
    let _ = sink.close().await;
}

/// Longest close reason: a close frame's payload is at most 125 bytes, two
/// of them the code (RFC 6455, 5.5); a longer one is a protocol error to
/// the client, which then never learns why.
const MAX_CLOSE_REASON: usize = 123;

/// `reason` cut to [`MAX_CLOSE_REASON`] bytes at a character boundary,
/// ending in "…" when cut (the whole of it is in the server's log).
fn close_reason(reason: String) -> String {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    let mut end = MAX_CLOSE_REASON - '…'.len_utf8();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

/// How the socket loop ended, when the client is to be told.
enum Closing {
    /// A close frame with this code and reason.
    Frame(u16, String),
    /// The client did not take a frame within the send timeout: it is dropped
    /// without a close frame (which it would not take either).
    Stalled,
}

/// The socket's sending half, every send bounded by the send timeout: a
/// client that does not read would otherwise hold its task, its queue and
/// its place on the terminal for as long as it liked.
struct Sender {
    sink: SplitSink<WebSocket, Message>,
    timeout: Duration,
}

/// Why a message was not sent.
enum SendError {
    /// The socket is closed or broken.
    Closed,
    /// The client did not take it within the send timeout.
    Stalled,
}

impl Sender {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SendError::Closed),
            Err(_) => Err(SendError::Stalled),
        }
    }

    async fn close(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.sink.close()).await;
    }
}

/// What a failed send means for the socket loop.
fn after_failed_send(e: SendError) -> Option<Closing> {
    match e {
        SendError::Closed => None,
        SendError::Stalled => Some(Closing::Stalled),
    }
}

/// Resizes the terminal; a failure (the shell just exited) only is logged.
async fn resize(terminal: &Terminal, (cols, rows): Size) {
    if let Err(e) = terminal.resize(cols, rows).await {
        tracing::debug!("terminal resize: {e}");
    }
}

/// Sleeps until `at`; only polled when `at` is Some.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// The next item for the client: the one coalescing held back, else the queue's.
async fn next_outbound(
    held: &mut Option<Outbound>,
    rx: &mut tokio::sync::mpsc::Receiver<Outbound>,
) -> Option<Outbound> {
    match held.take() {
        Some(out) => Some(out),
        None => rx.recv().await,
    }
}

#[cfg(test)]
mod close_reason_tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame_and_are_cut_on_a_character() {
        assert_eq!(close_reason("short".into()), "short");
        let long = "é".repeat(100);
        let cut = close_reason(long);
        assert!(cut.len() <= MAX_CLOSE_REASON, "{}", cut.len());
        assert!(cut.ends_with('…') && cut.starts_with("éé"));
        let exact = "x".repeat(MAX_CLOSE_REASON);
        assert_eq!(close_reason(exact.clone()), exact);
    }
}
