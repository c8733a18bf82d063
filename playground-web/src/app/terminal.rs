//! The `Terminal` component: one xterm.js terminal bound to one node's
//! terminal WebSocket (frames of `protocol::terminal`).
//!
//! - Output bytes go from the socket to `term.write(Uint8Array, callback)`;
//!   the callbacks feed [`AckCounter`], which sends `0x02` ack frames.
//! - Every (re)connect starts with the server's repaint of the screen, so the
//!   terminal is reset (`ESC c`) just before it: no blank screen, no duplicates.
//! - A dropped socket reconnects with backoff; a socket closed because the
//!   session ended (or refused for it) reports [`TermEvent::SessionGone`].
//! - The terminal fits its element (ResizeObserver + fit addon) and sends
//!   resize frames.
//! - Copy: Ctrl+C with a selection, Ctrl+Shift+C; paste: Ctrl+V,
//!   Ctrl+Shift+V (browser clipboard events, handled by xterm).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Object, Reflect, Uint8Array};
use protocol::terminal::{close_code, ClientFrame, Event, NoticeLevel, ServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlElement, KeyboardEvent, ResizeObserver};
use yew::prelude::*;

use super::api;
use super::dom;
use super::xterm;
use crate::backoff;
use crate::flow::AckCounter;

/// What a terminal tells its page.
#[derive(Debug, Clone, PartialEq)]
pub enum TermEvent {
    Notice {
        level: NoticeLevel,
        message: String,
    },
    /// The session ended or the token no longer opens it.
    SessionGone,
}

/// Connection state shown over the terminal.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting { attempt: u32, in_ms: u32 },
    Exited { code: i64 },
    Gone,
    Failed(String),
}

/// A live terminal, for the page to type into (Run buttons).
#[derive(Clone)]
pub struct TermHandle(Rc<Inner>);

impl PartialEq for TermHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl TermHandle {
    /// Types `text` as if the learner did; with `interrupt`, Ctrl-C first and a
    /// short pause (the line discipline drops input queued before a SIGINT).
    pub fn type_text(&self, text: String, interrupt: bool) {
        let weak = Rc::downgrade(&self.0);
        if !interrupt {
            self.0.input(text.as_bytes());
            return;
        }
        self.0.input(b"\x03");
        spawn_local(async move {
            TimeoutFuture::new(150).await;
            if let Some(inner) = weak.upgrade() {
                inner.input(text.as_bytes());
            }
        });
    }

    pub fn focus(&self) {
        self.0.term.focus();
    }
}

struct Inner {
    session: String,
    token: String,
    node: String,
    term: xterm::Terminal,
    fit: xterm::FitAddon,
    host: HtmlElement,
    acks: RefCell<AckCounter>,
    /// Frames for the current socket; None while disconnected.
    tx: RefCell<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Input typed while disconnected, sent on the next connect.
    pending_input: RefCell<Vec<u8>>,
    /// The next output frame is the server's repaint: reset first.
    repaint_next: Cell<bool>,
    /// Set after the shell exited: the next key reconnects (new shell).
    wake_on_key: RefCell<Option<oneshot::Sender<()>>>,
    alive: Cell<bool>,
    on_status: Callback<Status>,
    on_event: Callback<TermEvent>,
    /// JS callbacks that must live as long as the terminal.
    closures: RefCell<Vec<Box<dyn std::any::Any>>>,
    write_done: RefCell<Option<Closure<dyn FnMut()>>>,
    observer: RefCell<Option<ResizeObserver>>,
    webgl: RefCell<Option<xterm::WebglAddon>>,
}

impl Inner {
    fn send(&self, frame: ClientFrame) -> bool {
        match self.tx.borrow().as_ref() {
            Some(tx) => tx.unbounded_send(frame.encode()).is_ok(),
            None => false,
        }
    }

    fn input(&self, bytes: &[u8]) {
        if let Some(tx) = self.wake_on_key.borrow_mut().take() {
            // The shell had exited: this key starts a new one (and is not typed).
            let _ = tx.send(());
            return;
        }
        if !self.send(ClientFrame::Input(bytes)) {
            let mut pending = self.pending_input.borrow_mut();
            if pending.len() + bytes.len() <= 64 * 1024 {
                pending.extend_from_slice(bytes);
            }
        }
    }

    fn fit(&self) {
        if self.host.client_width() > 0 && self.host.client_height() > 0 {
            let _ = self.fit.fit();
        }
    }

    fn url(&self) -> String {
        dom::ws_url(&format!(
            "{}/sessions/{}/nodes/{}/terminal?token={}&cols={}&rows={}",
            protocol::api::API_PREFIX,
            dom::encode(&self.session),
            dom::encode(&self.node),
            dom::encode(&self.token),
            self.term.cols().clamp(1, 1000),
            self.term.rows().clamp(1, 1000),
        ))
    }

    /// One binary message from the server. Returns the exit code on `exit`.
    fn on_message(&self, msg: &[u8]) -> Option<i64> {
        match ServerFrame::decode(msg) {
            Ok(ServerFrame::Output(bytes)) => {
                if self.repaint_next.replace(false) {
                    self.term.write_str("\x1bc");
                }
                self.acks.borrow_mut().written(bytes.len() as u32);
                let data = Uint8Array::from(bytes);
                if let Some(done) = self.write_done.borrow().as_ref() {
                    self.term.write_bytes(&data, done.as_ref().unchecked_ref());
                }
                None
            }
            Ok(ServerFrame::Event(Event::Exit { code })) => Some(code),
            Ok(ServerFrame::Event(Event::Notice { level, message })) => {
                self.on_event.emit(TermEvent::Notice { level, message });
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
}

fn terminal_options() -> Object {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("cursorBlink", true.into());
    set("allowProposedApi", true.into());
    set("scrollback", 5000.into());
    set("fontSize", 14.into());
    set(
        "fontFamily",
        "ui-monospace, 'DejaVu Sans Mono', 'Cascadia Mono', Menlo, Consolas, monospace".into(),
    );
    set("rightClickSelectsWord", true.into());
    let theme = Object::new();
    for (k, v) in [
        ("background", "#0f1419"),
        ("foreground", "#e6e6e6"),
        ("cursor", "#f0f0f0"),
        ("selectionBackground", "#3d5a80"),
    ] {
        let _ = Reflect::set(&theme, &k.into(), &v.into());
    }
    set("theme", theme.into());
    o
}

/// Builds the xterm.js terminal in `host` and starts its connection loop.
fn open(
    host: HtmlElement,
    session: String,
    token: String,
    node: String,
    on_status: Callback<Status>,
    on_event: Callback<TermEvent>,
) -> Result<TermHandle, String> {
    if !xterm::loaded() {
        return Err("the terminal scripts (xterm.js) did not load".into());
    }
    let err = |e: JsValue| format!("{e:?}");
    let term = xterm::Terminal::new(&terminal_options()).map_err(err)?;
    let fit = xterm::new_addon::<xterm::FitAddon>("FitAddon").map_err(err)?;
    term.load_addon(&fit).map_err(err)?;
    if let Ok(unicode) = xterm::new_addon::<xterm::Unicode11Addon>("Unicode11Addon") {
        if term.load_addon(&unicode).is_ok() {
            term.unicode().set_active_version("11");
        }
    }
    if let Ok(links) = xterm::new_addon::<xterm::WebLinksAddon>("WebLinksAddon") {
        let _ = term.load_addon(&links);
    }
    term.open(&host);
    // Test hook: the browser tests read the screen from the terminal's buffer
    // (the WebGL renderer draws to a canvas, not to the DOM).
    let _ = Reflect::set(&host, &"__xterm".into(), &term);
    let inner = Rc::new(Inner {
        session,
        token,
        node,
        term: term.clone(),
        fit,
        host: host.clone(),
        acks: RefCell::default(),
        tx: RefCell::new(None),
        pending_input: RefCell::default(),
        repaint_next: Cell::new(true),
        wake_on_key: RefCell::new(None),
        alive: Cell::new(true),
        on_status,
        on_event,
        closures: RefCell::default(),
        write_done: RefCell::new(None),
        observer: RefCell::new(None),
        webgl: RefCell::new(None),
    });

    // WebGL renderer when the browser has it; xterm's DOM renderer otherwise
    // (and again after a lost context).
    // `localStorage["playground.renderer"] = "dom"` forces the DOM renderer.
    let force_dom = <gloo_storage::LocalStorage as gloo_storage::Storage>::raw()
        .get_item("playground.renderer")
        .ok()
        .flatten()
        .as_deref()
        == Some("dom");
    let webgl = if force_dom {
        None
    } else {
        xterm::new_addon::<xterm::WebglAddon>("WebglAddon").ok()
    };
    if let Some(webgl) = webgl {
        if term.load_addon(&webgl).is_ok() {
            let weak = Rc::downgrade(&inner);
            let lost = Closure::<dyn FnMut()>::new(move || {
                if let Some(inner) = weak.upgrade() {
                    if let Some(addon) = inner.webgl.borrow_mut().take() {
                        addon.dispose_addon();
                    }
                }
            });
            webgl.on_context_loss(lost.as_ref().unchecked_ref());
            inner.closures.borrow_mut().push(Box::new(lost));
            *inner.webgl.borrow_mut() = Some(webgl);
        }
    }

    let weak = Rc::downgrade(&inner);
    *inner.write_done.borrow_mut() = Some(Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            inner.rendered();
        }
    }));

    let weak = Rc::downgrade(&inner);
    let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
        if let Some(inner) = weak.upgrade() {
            inner.input(data.as_bytes());
        }
    });
    term.on_data(on_data.as_ref().unchecked_ref());
    let weak = Rc::downgrade(&inner);
    let on_binary = Closure::<dyn FnMut(String)>::new(move |data: String| {
        if let Some(inner) = weak.upgrade() {
            let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
            inner.input(&bytes);
        }
    });
    term.on_binary(on_binary.as_ref().unchecked_ref());
    let weak = Rc::downgrade(&inner);
    let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
        let get = |k: &str| {
            Reflect::get(&size, &k.into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u16
        };
        if let Some(inner) = weak.upgrade() {
            let (cols, rows) = (get("cols"), get("rows"));
            if cols > 0 && rows > 0 {
                inner.send(ClientFrame::Resize { cols, rows });
            }
        }
    });
    term.on_resize(on_resize.as_ref().unchecked_ref());
    let weak = Rc::downgrade(&inner);
    let on_key = Closure::<dyn FnMut(KeyboardEvent) -> bool>::new(move |ev: KeyboardEvent| {
        let Some(inner) = weak.upgrade() else {
            return true;
        };
        let key = ev.key().to_ascii_lowercase();
        if !(ev.ctrl_key() && !ev.alt_key() && !ev.meta_key()) {
            return true;
        }
        match (key.as_str(), ev.shift_key()) {
            // Ctrl+Shift+C is the devtools shortcut in Chromium: copy ourselves.
            ("c", true) => {
                if ev.type_() == "keydown" && inner.term.has_selection() {
                    dom::copy_text(&inner.term.get_selection());
                }
                ev.prevent_default();
                false
            }
            // Ctrl+C with a selection: the browser's copy (xterm fills the clipboard).
            ("c", false) if inner.term.has_selection() => false,
            // Paste: let the browser fire its paste event, which xterm handles.
            ("v", _) => false,
            _ => true,
        }
    });
    term.attach_custom_key_event_handler(on_key.as_ref().unchecked_ref());
    inner.closures.borrow_mut().push(Box::new(on_data));
    inner.closures.borrow_mut().push(Box::new(on_binary));
    inner.closures.borrow_mut().push(Box::new(on_resize));
    inner.closures.borrow_mut().push(Box::new(on_key));

    inner.fit();
    let weak = Rc::downgrade(&inner);
    let on_box = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            inner.fit();
        }
    });
    if let Ok(observer) = ResizeObserver::new(on_box.as_ref().unchecked_ref()) {
        observer.observe(&host);
        *inner.observer.borrow_mut() = Some(observer);
    }
    inner.closures.borrow_mut().push(Box::new(on_box));

    spawn_local(connection_loop(Rc::downgrade(&inner)));
    Ok(TermHandle(inner))
}

/// How one socket ended.
enum Ended {
    Exited(i64),
    Closed { code: Option<u16>, got_data: bool },
}

async fn connection_loop(weak: Weak<Inner>) {
    let mut attempt: u32 = 0;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if !inner.alive.get() {
            return;
        }
        inner.on_status.emit(if attempt == 0 {
            Status::Connecting
        } else {
            Status::Reconnecting { attempt, in_ms: 0 }
        });
        let ended = match WebSocket::open(&inner.url()) {
            Err(e) => {
                web_sys::console::warn_1(&format!("websocket: {e}").into());
                Ended::Closed {
                    code: None,
                    got_data: false,
                }
            }
            Ok(ws) => {
                let (mut sink, mut stream) = ws.split();
                let (tx, mut rx) = mpsc::unbounded::<Vec<u8>>();
                inner.acks.borrow_mut().new_connection();
                inner.repaint_next.set(true);
                let pending = std::mem::take(&mut *inner.pending_input.borrow_mut());
                if !pending.is_empty() {
                    let _ = tx.unbounded_send(ClientFrame::Input(&pending).encode());
                }
                *inner.tx.borrow_mut() = Some(tx);
                spawn_local(async move {
                    while let Some(frame) = rx.next().await {
                        if sink.send(Message::Bytes(frame)).await.is_err() {
                            break;
                        }
                    }
                    let _ = sink.close().await;
                });
                drop(inner);
                let mut got_data = false;
                let mut code = None;
                let mut exit = None;
                while let Some(msg) = stream.next().await {
                    let Some(inner) = weak.upgrade() else { return };
                    match msg {
                        Ok(Message::Bytes(bytes)) => {
                            if !got_data {
                                got_data = true;
                                attempt = 0;
                                inner.on_status.emit(Status::Connected);
                            }
                            if let Some(c) = inner.on_message(&bytes) {
                                exit = Some(c);
                            }
                        }
                        Ok(Message::Text(_)) => {}
                        Err(WebSocketError::ConnectionClose(ev)) => code = Some(ev.code),
                        Err(_) => {}
                    }
                }
                match exit {
                    Some(c) => Ended::Exited(c),
                    None => Ended::Closed { code, got_data },
                }
            }
        };
        let Some(inner) = weak.upgrade() else { return };
        inner.tx.borrow_mut().take();
        if !inner.alive.get() {
            return;
        }
        match ended {
            Ended::Exited(code) => {
                inner.term.write_str(&format!(
                    "\r\n\x1b[2m[the shell exited with code {code}; press any key for a new one]\x1b[0m\r\n"
                ));
                inner.on_status.emit(Status::Exited { code });
                let (tx, rx) = oneshot::channel();
                *inner.wake_on_key.borrow_mut() = Some(tx);
                drop(inner);
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
                if suspicious {
                    let (id, token) = (inner.session.clone(), inner.token.clone());
                    drop(inner);
                    match api::session(&id, &token).await {
                        Err(e) if e.session_gone() => {
                            if let Some(inner) = weak.upgrade() {
                                inner.on_status.emit(Status::Gone);
                                inner.on_event.emit(TermEvent::SessionGone);
                            }
                            return;
                        }
                        _ => {}
                    }
                } else {
                    drop(inner);
                }
            }
        }
        let delay = backoff::delay_ms(attempt, js_sys::Math::random());
        attempt += 1;
        if let Some(inner) = weak.upgrade() {
            inner.on_status.emit(Status::Reconnecting {
                attempt,
                in_ms: delay,
            });
        }
        TimeoutFuture::new(delay).await;
    }
}

fn close(inner: &Inner) {
    inner.alive.set(false);
    inner.tx.borrow_mut().take();
    inner.wake_on_key.borrow_mut().take();
    if let Some(o) = inner.observer.borrow_mut().take() {
        o.disconnect();
    }
    inner.term.dispose();
    inner.write_done.borrow_mut().take();
    inner.closures.borrow_mut().clear();
}

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub session: AttrValue,
    pub token: AttrValue,
    pub node: AttrValue,
    /// The visible tab; hidden terminals stay connected.
    pub active: bool,
    pub on_ready: Callback<(String, Option<TermHandle>)>,
    pub on_event: Callback<TermEvent>,
}

pub enum Msg {
    Status(Status),
}

pub struct Terminal {
    host: NodeRef,
    handle: Option<TermHandle>,
    status: Status,
}

impl Component for Terminal {
    type Message = Msg;
    type Properties = Props;

    fn create(_ctx: &Context<Self>) -> Self {
        Terminal {
            host: NodeRef::default(),
            handle: None,
            status: Status::Connecting,
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Status(s) => {
                let changed = s != self.status;
                self.status = s;
                changed
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let p = ctx.props();
        let (class, text) = match &self.status {
            Status::Connected => ("ok", String::new()),
            Status::Connecting => ("info", "Connecting…".to_owned()),
            Status::Reconnecting { in_ms, .. } if *in_ms > 0 => (
                "warn",
                format!(
                    "Connection lost. Reconnecting in {:.1} s…",
                    f64::from(*in_ms) / 1000.0
                ),
            ),
            Status::Reconnecting { .. } => ("warn", "Reconnecting…".to_owned()),
            Status::Exited { code } => (
                "info",
                format!(
                    "The shell exited (code {code}). Press a key in the terminal for a new one."
                ),
            ),
            Status::Gone => ("warn", "The session has ended.".to_owned()),
            Status::Failed(e) => ("error", format!("The terminal could not start: {e}")),
        };
        html! {
            <div class="term-pane" data-testid="terminal" data-node={p.node.clone()}
                 id={format!("panel-{}", p.node)} role="tabpanel"
                 aria-labelledby={format!("tab-{}", p.node)} hidden={!p.active}>
                if !text.is_empty() {
                    <div class={classes!("term-status", class)} role="status">{ text }</div>
                }
                <div class="term-host" ref={self.host.clone()}></div>
            </div>
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        if ctx.props().active && !old.active {
            if let Some(h) = &self.handle {
                h.0.fit();
            }
        }
        true
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        if !first_render {
            return;
        }
        let p = ctx.props();
        let Some(host) = self.host.cast::<HtmlElement>() else {
            return;
        };
        let link = ctx.link().clone();
        let on_status = Callback::from(move |s| link.send_message(Msg::Status(s)));
        match open(
            host,
            p.session.to_string(),
            p.token.to_string(),
            p.node.to_string(),
            on_status,
            p.on_event.clone(),
        ) {
            Ok(handle) => {
                p.on_ready.emit((p.node.to_string(), Some(handle.clone())));
                self.handle = Some(handle);
            }
            Err(e) => ctx.link().send_message(Msg::Status(Status::Failed(e))),
        }
    }

    fn destroy(&mut self, ctx: &Context<Self>) {
        ctx.props()
            .on_ready
            .emit((ctx.props().node.to_string(), None));
        if let Some(h) = self.handle.take() {
            close(&h.0);
        }
    }
}
