//! The `Terminal` component: one xterm.js terminal bound to one node's
//! terminal WebSocket. `xterm_setup` creates and fits the xterm.js terminal
//! and handles its copy/paste keys; `socket` connects, reconnects, and moves
//! frames and flow-control acks. This module is the Yew side: the status line
//! over the terminal, and the handle the page types into.
//!
//! With `watch`, the terminal is read-only: an operator watching a learner's
//! node with the admin token (`?watch=1`). Nothing typed is sent, no size is
//! sent (the learner's terminal keeps its own), and xterm.js takes no input.

mod socket;
mod xterm_setup;

use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use protocol::terminal::NoticeLevel;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlElement;
use yew::prelude::*;

use socket::{Socket, Target};
use xterm_setup::Screen;

/// What a terminal tells its page.
#[derive(Debug, Clone, PartialEq)]
pub enum TermEvent {
    Notice {
        level: NoticeLevel,
        message: String,
    },
    /// The session ended or the token no longer opens it.
    SessionGone,
    /// How many operators watch the session, as `node`'s socket last heard
    /// (0 again whenever that socket reconnects, until the server says more).
    Watchers {
        node: String,
        count: u32,
    },
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
pub struct TermHandle(Rc<Socket>);

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
            if let Some(socket) = weak.upgrade() {
                socket.input(text.as_bytes());
            }
        });
    }

    pub fn focus(&self) {
        self.0.screen.focus();
    }
}

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub session: AttrValue,
    /// The session's token; the admin token with `watch`.
    pub token: AttrValue,
    pub node: AttrValue,
    /// Read-only: an operator watching (see the module docs).
    #[prop_or_default]
    pub watch: bool,
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
            Status::Exited { code } if p.watch => (
                "info",
                format!("The shell exited (code {code}). Watching again when a new one starts…"),
            ),
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
            <div class={classes!("term-pane", p.watch.then_some("watching"))} data-testid="terminal" data-node={p.node.clone()}
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
                h.0.screen.fit();
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
        let target = Target {
            session: p.session.to_string(),
            token: p.token.to_string(),
            node: p.node.to_string(),
            watch: p.watch,
            on_status: Callback::from(move |s| link.send_message(Msg::Status(s))),
            on_event: p.on_event.clone(),
        };
        match Screen::create(host, p.watch) {
            Ok(screen) => {
                let handle = TermHandle(Socket::start(screen, target));
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
            h.0.close();
        }
    }
}
