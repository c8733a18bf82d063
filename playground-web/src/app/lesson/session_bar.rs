//! The session bar: the lesson's title, the time left (and the warning banner
//! in the last minutes), the "instructor is watching" badge, Restart for the
//! active tab's machine, and End session.
//! Restart and End ask for confirmation and call the API themselves; the page
//! hears of the outcome through `on_notice` and `on_lost`.

use protocol::terminal::NoticeLevel;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::super::{api, dom, Nav};
use super::screens::back_link;
use crate::timefmt;

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub session: AttrValue,
    pub token: AttrValue,
    pub title: AttrValue,
    /// The active tab's node, which Restart restarts.
    pub node: AttrValue,
    /// Seconds until the session expires.
    pub secs_left: i64,
    /// An operator watches the terminals (read-only) now.
    pub watched: bool,
    pub on_notice: Callback<(NoticeLevel, String)>,
    /// The session is over; the reason to show.
    pub on_lost: Callback<String>,
}

fn confirmed(question: &str) -> bool {
    dom::window().confirm_with_message(question).unwrap_or(true)
}

fn restart(p: &Props) -> Callback<MouseEvent> {
    let p = p.clone();
    Callback::from(move |_| {
        let node = p.node.to_string();
        if !confirmed(&format!(
            "Restart {node}? Its running programs stop; its files stay."
        )) {
            return;
        }
        let p = p.clone();
        spawn_local(async move {
            match api::restart_node(&p.session, &p.token, &node).await {
                Ok(()) => p
                    .on_notice
                    .emit((NoticeLevel::Info, format!("{node} restarted."))),
                Err(e) if e.session_gone() => p.on_lost.emit("The session has ended.".into()),
                Err(e) => p.on_notice.emit((
                    NoticeLevel::Warning,
                    format!("Could not restart {node}: {}", e.message()),
                )),
            }
        });
    })
}

fn end(p: &Props) -> Callback<MouseEvent> {
    let p = p.clone();
    Callback::from(move |_| {
        if !confirmed("End this session? Its machines and everything on them are removed.") {
            return;
        }
        let p = p.clone();
        spawn_local(async move {
            match api::end_session(&p.session, &p.token).await {
                Ok(()) => p
                    .on_lost
                    .emit("You ended the session; its machines were removed.".into()),
                Err(e) if e.session_gone() => p.on_lost.emit("The session has ended.".into()),
                Err(e) => p.on_notice.emit((
                    NoticeLevel::Warning,
                    format!("Could not end the session: {}", e.message()),
                )),
            }
        });
    })
}

#[function_component(SessionBar)]
pub fn session_bar(p: &Props) -> Html {
    let nav = use_context::<Nav>().expect("Nav context");
    let left = p.secs_left;
    let warn = left <= timefmt::WARN_SECS;
    html! {
        <>
        <header class="topbar session-bar">
            { back_link(&nav) }
            <span class="lesson-title" title={p.title.clone()}>{ p.title.clone() }</span>
            <span class="spacer"></span>
            <span class="watched-slot" role="status" aria-live="polite">
                if p.watched {
                    <span class="badge watched" data-testid="watched"
                          title="Your instructor sees your terminals (read-only): they cannot type in them.">
                        { "Your instructor is watching" }
                    </span>
                }
            </span>
            <div class={classes!("clock", warn.then_some("warn"))} role="timer"
                 aria-label={format!("Time left: {}", timefmt::describe_left(left))}>
                { timefmt::format_left(left) }<span class="clock-unit">{ " left" }</span>
            </div>
            <button class="btn" data-testid="restart-node" title="Restart this machine: its programs stop, its files stay"
                    onclick={restart(p)}>{ format!("Restart {}", p.node) }</button>
            <button class="btn danger" onclick={end(p)}>{ "End session" }</button>
        </header>
        if warn && left > 0 {
            <div class="banner warn" role="alert">
                { format!("Your session ends in {}. Anything on its machines is removed then.", timefmt::format_left(left)) }
            </div>
        }
        </>
    }
}
