//! The terminal's WebSocket: connect, reconnect with backoff, frames of
//! `protocol::terminal`, and flow-control acks.
//!
//! - Output bytes go from the socket to the screen with a callback that feeds
//!   [`AckCounter`], which sends `0x02` ack frames.
//! - Every (re)connect starts with the server's repaint of the screen, so the
//!   terminal is reset (`ESC c`) just before it: no blank screen, no duplicates.
//! - A dropped socket reconnects with backoff; a socket closed because the
//!   session ended (or refused for it) reports [`TermEvent::SessionGone`].
//! - Watching (`Target::watch`, the admin token): the URL asks for `watch=1`
//!   and no size, and nothing typed or resized is sent.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures::channel::{mpsc, oneshot};
use futures::future::{self, Either};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use protocol::terminal::{close_code, ClientFrame, Event, ServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use yew::Callback;

use super::super::{api, dom};
use super::xterm_setup::Screen;
use super::{Status, TermEvent};
use crate::backoff;
use crate::flow::AckCounter;

/// Input typed while disconnected is kept up to this size and sent on the
/// next connect.
const MAX_PENDING_INPUT: usize = 64 * 1024;

/// Which terminal to connect to, and who hears about it.
pub struct Target {
    pub session: String,
    pub token: String,
    pub node: String,
    /// Read-only, with the admin token in `token`.
    pub watch: bool,
    pub on_status: Callback<Status>,
    pub on_event: Callback<TermEvent>,
}

/// One node's terminal: its screen and the connection feeding it.
pub struct Socket {
    target: Target,
    pub screen: Screen,
    acks: RefCell<AckCounter>,
    /// Frames for the current socket; None while disconnected.
    tx: RefCell<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Input typed while disconnected, sent on the next connect.
    pending_input: RefCell<Vec<u8>>,
    /// The next output frame is the server's repaint: reset first.
    repaint_next: Cell<bool>,
    /// Set after the shell exited: the next key reconnects (new shell).
    wake_on_key: RefCell<Option<oneshot::Sender<()>>>,
    /// Dropped by `close`: ends the current socket at once. (gloo closes a
    /// WebSocket only when both of its halves are dropped, and the reading
    /// half would otherwise wait for the next message: an idle terminal
    /// closed by its page kept its socket, and a watcher kept watching.)
    stop: RefCell<Option<oneshot::Sender<()>>>,
    alive: Cell<bool>,
    /// Runs when xterm has parsed a write: counts it for the next ack.
    write_done: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Socket {
    /// Wires `screen`'s input to the socket and starts the connection loop.
    pub fn start(screen: Screen, target: Target) -> Rc<Socket> {
        let socket = Rc::new(Socket {
            target,
            screen,
            acks: RefCell::default(),
            tx: RefCell::new(None),
            pending_input: RefCell::default(),
            repaint_next: Cell::new(true),
            wake_on_key: RefCell::new(None),
            stop: RefCell::new(None),
            alive: Cell::new(true),
            write_done: RefCell::new(None),
        });
        let weak = Rc::downgrade(&socket);
        *socket.write_done.borrow_mut() = Some(Closure::<dyn FnMut()>::new(move || {
            if let Some(socket) = weak.upgrade() {
                socket.rendered();
            }
        }));
        if socket.target.watch {
            // Copy keys only: a watcher's keys and sizes stay in its browser.
            socket.screen.listen(|_| {}, |_, _| {});
        } else {
            let (on_input, on_resize) = (Rc::downgrade(&socket), Rc::downgrade(&socket));
            socket.screen.listen(
                move |bytes| {
                    if let Some(socket) = on_input.upgrade() {
                        socket.input(bytes);
                    }
                },
                move |cols, rows| {
                    if let Some(socket) = on_resize.upgrade() {
                        socket.send(ClientFrame::Resize { cols, rows });
                    }
                },
            );
        }
        spawn_local(connection_loop(Rc::downgrade(&socket)));
        socket
    }

    fn send(&self, frame: ClientFrame) -> bool {
        match self.tx.borrow().as_ref() {
            Some(tx) => tx.unbounded_send(frame.encode()).is_ok(),
            None => false,
        }
    }

    /// Types `bytes` into the shell (kept for the next connect while there is none).
    pub fn input(&self, bytes: &[u8]) {
        if self.target.watch {
            return;
        }
        if let Some(tx) = self.wake_on_key.borrow_mut().take() {
            // The shell had exited: this key starts a new one (and is not typed).
            let _ = tx.send(());
            return;
        }
        if !self.send(ClientFrame::Input(bytes)) {
            let mut pending = self.pending_input.borrow_mut();
            if pending.len() + bytes.len() <= MAX_PENDING_INPUT {
                pending.extend_from_slice(bytes);
            }
        }
    }

    fn url(&self) -> String {
        let t = &self.target;
        if t.watch {
            return dom::ws_url(&format!(
                "{}/sessions/{}/nodes/{}/terminal?token={}&watch=1",
                protocol::api::API_PREFIX,
                dom::encode(&t.session),
                dom::encode(&t.node),
                dom::encode(&t.token),
            ));
        }
        dom::ws_url(&format!(
            "{}/sessions/{}/nodes/{}/terminal?token={}&cols={}&rows={}",
            protocol::api::API_PREFIX,
            dom::encode(&t.session),
            dom::encode(&t.node),
            dom::encode(&t.token),
            self.screen.cols().clamp(1, 1000),
            self.screen.rows().clamp(1, 1000),
        ))
    }

    /// One binary message from the server. Returns the exit code on `exit`.
    fn on_message(&self, msg: &[u8]) -> Option<i64> {
        match ServerFrame::decode(msg) {
            Ok(ServerFrame::Output(bytes)) => {
                if self.repaint_next.replace(false) {
                    self.screen.write_str("\x1bc");
                }
                self.acks.borrow_mut().written(bytes.len() as u32);
                if let Some(done) = self.write_done.borrow().as_ref() {
                    self.screen
                        .write_bytes(bytes, done.as_ref().unchecked_ref());
                }
                None
            }
            Ok(ServerFrame::Event(Event::Exit { code })) => Some(code),
            Ok(ServerFrame::Event(Event::Notice { level, message })) => {
                self.target
                    .on_event
                    .emit(TermEvent::Notice { level, message });
                None
            }
            Ok(ServerFrame::Event(Event::Watchers { count })) => {
                self.target.on_event.emit(TermEvent::Watchers {
                    node: self.target.node.clone(),
                    count,
                });
                None
            }
            Err(_) => None,
        }
    }

    fn rendered(&self) {
        let ack = self.acks.borrow_mut().rendered();
        if let Some(n) = ack {
            self.send(ClientFrame::Ack(n));
        }
    }

    /// Ends the connection loop and disposes of the screen.
    pub fn close(&self) {
        self.alive.set(false);
        self.tx.borrow_mut().take();
        self.stop.borrow_mut().take();
        self.wake_on_key.borrow_mut().take();
        self.screen.dispose();
        self.write_done.borrow_mut().take();
    }

    /// Connects a new socket: its frames go out through `tx` from now on,
    /// after what was typed while disconnected. The second receiver ends
    /// when the terminal is closed.
    fn connected(&self) -> (mpsc::UnboundedReceiver<Vec<u8>>, oneshot::Receiver<()>) {
        let (tx, rx) = mpsc::unbounded::<Vec<u8>>();
        let (stop_tx, stop_rx) = oneshot::channel();
        *self.stop.borrow_mut() = Some(stop_tx);
        self.acks.borrow_mut().new_connection();
        self.repaint_next.set(true);
        let pending = std::mem::take(&mut *self.pending_input.borrow_mut());
        if !pending.is_empty() {
            let _ = tx.unbounded_send(ClientFrame::Input(&pending).encode());
        }
        *self.tx.borrow_mut() = Some(tx);
        // The server says again who watches, if anyone, right after connecting.
        self.target.on_event.emit(TermEvent::Watchers {
            node: self.target.node.clone(),
            count: 0,
        });
        (rx, stop_rx)
    }

    /// Whether the session is gone, asked after a suspicious close: with the
    /// session's token, or the operator's list when watching. None when the
    /// server could not tell (retry).
    async fn session_gone(session: String, token: String, watch: bool) -> bool {
        if watch {
            matches!(api::admin_session_live(&token, &session).await, Ok(false))
        } else {
            matches!(api::session(&session, &token).await, Err(e) if e.session_gone())
        }
    }
}

/// How one socket ended.
enum Ended {
    Exited(i64),
    Closed { code: Option<u16>, got_data: bool },
}

async fn connection_loop(weak: Weak<Socket>) {
    let mut attempt: u32 = 0;
    loop {
        let Some(socket) = weak.upgrade() else { return };
        if !socket.alive.get() {
            return;
        }
        socket.target.on_status.emit(if attempt == 0 {
            Status::Connecting
        } else {
            Status::Reconnecting { attempt, in_ms: 0 }
        });
        let ended = match WebSocket::open(&socket.url()) {
            Err(e) => {
                web_sys::console::warn_1(&format!("websocket: {e}").into());
                Ended::Closed {
                    code: None,
                    got_data: false,
                }
            }
            Ok(ws) => {
                let (rx, stop) = socket.connected();
                drop(socket);
                match run_socket(&weak, ws, rx, stop, &mut attempt).await {
                    Some(ended) => ended,
                    None => return,
                }
            }
        };
        let Some(socket) = weak.upgrade() else { return };
        socket.tx.borrow_mut().take();
        if !socket.alive.get() {
            return;
        }
        match ended {
            Ended::Exited(code) if socket.target.watch => {
                // The learner's next key starts a new shell; look again shortly.
                socket.screen.write_str(&format!(
                    "\r\n\x1b[2m[the shell exited with code {code}]\x1b[0m\r\n"
                ));
                socket.target.on_status.emit(Status::Exited { code });
                drop(socket);
                TimeoutFuture::new(3000).await;
                attempt = 0;
                continue;
            }
            Ended::Exited(code) => {
                socket.screen.write_str(&format!(
                    "\r\n\x1b[2m[the shell exited with code {code}; press any key for a new one]\x1b[0m\r\n"
                ));
                socket.target.on_status.emit(Status::Exited { code });
                let (tx, rx) = oneshot::channel();
                *socket.wake_on_key.borrow_mut() = Some(tx);
                drop(socket);
                if rx.await.is_err() {
                    return;
                }
                attempt = 0;
                continue;
            }
            Ended::Closed { code, got_data } => {
                // A normal close or a refused handshake may mean the session is
                // over: ask the API before retrying.
                let suspicious = code == Some(close_code::NORMAL) || !got_data;
                let t = &socket.target;
                let (id, token, watch) = (t.session.clone(), t.token.clone(), t.watch);
                drop(socket);
                if suspicious && Socket::session_gone(id, token, watch).await {
                    if let Some(socket) = weak.upgrade() {
                        socket.target.on_status.emit(Status::Gone);
                        socket.target.on_event.emit(TermEvent::SessionGone);
                    }
                    return;
                }
            }
        }
        let delay = backoff::delay_ms(attempt, js_sys::Math::random());
        attempt += 1;
        if let Some(socket) = weak.upgrade() {
            socket.target.on_status.emit(Status::Reconnecting {
                attempt,
                in_ms: delay,
            });
        }
        TimeoutFuture::new(delay).await;
    }
}

/// Pumps one open socket until it closes: frames from `rx` out, messages in.
/// None when the terminal went away meanwhile (or `stop` says it did: the
/// socket is dropped, which closes it).
async fn run_socket(
    weak: &Weak<Socket>,
    ws: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    mut stop: oneshot::Receiver<()>,
    attempt: &mut u32,
) -> Option<Ended> {
    let (mut sink, mut stream) = ws.split();
    spawn_local(async move {
        while let Some(frame) = rx.next().await {
            if sink.send(Message::Bytes(frame)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut got_data = false;
    let mut code = None;
    let mut exit = None;
    loop {
        let msg = match future::select(stream.next(), &mut stop).await {
            Either::Left((Some(msg), _)) => msg,
            Either::Left((None, _)) => break,
            Either::Right(_) => return None,
        };
        let socket = weak.upgrade()?;
        match msg {
            Ok(Message::Bytes(bytes)) => {
                if !got_data {
                    got_data = true;
                    *attempt = 0;
                    socket.target.on_status.emit(Status::Connected);
                }
                if let Some(c) = socket.on_message(&bytes) {
                    exit = Some(c);
                }
            }
            Ok(Message::Text(_)) => {}
            Err(WebSocketError::ConnectionClose(ev)) => code = Some(ev.code),
            Err(_) => {}
        }
    }
    Some(match exit {
        Some(c) => Ended::Exited(c),
        None => Ended::Closed { code, got_data },
    })
}
