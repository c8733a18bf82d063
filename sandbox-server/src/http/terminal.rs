//! The terminal WebSocket: binary frames (see `protocol::terminal`) between
//! one browser tab and a node's [`Terminal`].
//!
//! One task per socket selects between the client's queue (output, events)
//! and the socket (input, resize, ack). Bad frames close this socket with a
//! code and a reason; nothing else is disturbed.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::terminal::{close_code, encode_event, encode_output, ClientFrame};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{HeaderOrQuery, SessionNode};
use super::state::AppState;
use crate::sessions::Session;
use crate::terminal::{Outbound, Terminal};

/// Largest output message built by coalescing queued chunks.
const COALESCE_MAX: usize = 256 * 1024;

/// Close code for "the server could not start the shell".
const INTERNAL_ERROR: u16 = close_code::INTERNAL_ERROR;

/// The terminal route, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/sessions/{id}/nodes/{node}/terminal", get(upgrade))
}

/// Size for a shell started by this connection (the client's terminal size).
#[derive(Deserialize)]
struct SizeQuery {
    cols: Option<u16>,
    rows: Option<u16>,
}

/// Checks the socket (auth, size), then hands it to [`serve`]. The query and
/// the upgrade are checked before the token, as they always were.
async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<SizeQuery>,
    ws: WebSocketUpgrade,
    SessionNode {
        session, terminal, ..
    }: SessionNode<HeaderOrQuery>,
) -> Result<Response, ApiError> {
    let size = match (query.cols, query.rows) {
        (Some(c), Some(r)) => {
            let ok = |n: u16| (1..=protocol::terminal::MAX_TERMINAL_DIMENSION).contains(&n);
            if !ok(c) || !ok(r) {
                return Err(ApiError::BadRequest(format!(
                    "terminal size {c}x{r} out of range (1..=1000)"
                )));
            }
            Some((c, r))
        }
        _ => None,
    };
    let max_frame = state.config.max_frame_bytes;
    state.metrics.terminal_connections.inc();
    // The transport limit sits above ours, so an oversized frame reaches our
    // check and gets a proper close code instead of a dropped connection.
    let transport_limit = max_frame.saturating_mul(4).max(1 << 20);
    Ok(ws
        .max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        .on_upgrade(move |socket| serve(socket, session, terminal, size, max_frame)))
}

async fn serve(
    socket: WebSocket,
    session: Arc<Session>,
    terminal: Arc<Terminal>,
    size: Option<(u16, u16)>,
    max_frame: usize,
) {
    let _client = session.client_connected();
    let (mut sink, mut stream) = socket.split();
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    let attachment = {
        let mut attempt = 0;
        loop {
            if let Err(e) = terminal.ensure_shell(size).await {
                let _ = sink
                    .send(close(INTERNAL_ERROR, format!("cannot start a shell: {e}")))
                    .await;
                return;
            }
            if let Some((cols, rows)) = size {
                let _ = terminal.resize(cols, rows).await;
            }
            match terminal.attach() {
                Some(a) => break a,
                // The shell exited between starting and attaching: start another.
                None if attempt < 3 => attempt += 1,
                None => {
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
    if let Some(notice) = session.expiry_notice() {
        let _ = sink
            .send(Message::Binary(Bytes::from(encode_event(&notice))))
            .await;
    }
    // What coalescing took off the queue but could not join to output.
    let mut held: Option<Outbound> = None;
    let closing: Option<(u16, String)> = loop {
        tokio::select! {
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
                    if sink.send(Message::Binary(Bytes::from(frame))).await.is_err() {
                        break None;
                    }
                }
                Some(Outbound::Event(event)) => {
                    if sink.send(Message::Binary(Bytes::from(encode_event(&event)))).await.is_err() {
                        break None;
                    }
                }
                Some(Outbound::Close { code, reason }) => break Some((code, reason)),
                None => break Some((
                    close_code::TRY_AGAIN_LATER,
                    "this client fell too far behind; reconnect to repaint".into(),
                )),
            },
            msg = stream.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Binary(data))) => {
                    if data.len() > max_frame {
                        break Some((
                            close_code::MESSAGE_TOO_BIG,
                            format!("frame of {} bytes is over the limit of {max_frame}", data.len()),
                        ));
                    }
                    match ClientFrame::decode(&data) {
                        Ok(ClientFrame::Input(bytes)) => {
                            if let Err(e) = terminal.input(bytes).await {
                                tracing::debug!("terminal input: {e}");
                            }
                        }
                        Ok(ClientFrame::Resize { cols, rows }) => {
                            if let Err(e) = terminal.resize(cols, rows).await {
                                tracing::debug!("terminal resize: {e}");
                            }
                        }
                        Ok(ClientFrame::Ack(count)) => terminal.ack(client, count),
                        Err(e) => break Some((close_code::UNSUPPORTED_DATA, format!("bad frame: {e}"))),
                    }
                }
                Some(Ok(Message::Text(_))) => break Some((
                    close_code::UNSUPPORTED_DATA,
                    "text frames are not accepted; send binary frames".into(),
                )),
                Some(Ok(_)) => {}
            },
        }
    };
    terminal.detach(client);
    if let Some((code, reason)) = closing {
        let _ = sink.send(close(code, reason)).await;
    }
    let _ = sink.close().await;
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
