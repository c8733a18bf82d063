//! The full-page messages the lesson page shows instead of a session:
//! loading, the lesson's intro with Start, starting, full, ended, errors and
//! "lesson not found"; and the back link they share with the session bar.

use yew::prelude::*;

use super::super::markdown_view::Markdown;
use super::super::{dom, link_to, Nav};
use crate::route::Route;

/// "← Lessons", back to the catalog.
pub fn back_link(nav: &Nav) -> Html {
    html! {
        <a class="brand back" href="/" onclick={link_to(nav, Route::Catalog)}>{ "← Lessons" }</a>
    }
}

/// A full-page message with actions.
fn screen(nav: &Nav, heading: &str, body: Html, actions: Html) -> Html {
    html! {
        <>
        <header class="topbar">{ back_link(nav) }</header>
        <main id="main" class="page narrow screen">
            <h1>{ heading.to_owned() }</h1>
            { body }
            <div class="actions">{ actions }</div>
        </main>
        </>
    }
}

fn start_button(label: &str, on_start: &Callback<MouseEvent>) -> Html {
    html! {
        <button class="btn primary" data-testid="start" onclick={on_start.clone()}>{ label.to_owned() }</button>
    }
}

fn start_or_back(nav: &Nav, label: &str, on_start: &Callback<MouseEvent>) -> Html {
    html! {
        <>
        { start_button(label, on_start) }
        <a class="btn" href="/" onclick={link_to(nav, Route::Catalog)}>{ "Back to lessons" }</a>
        </>
    }
}

pub fn not_found(nav: &Nav, id: &str) -> Html {
    screen(
        nav,
        "Lesson not found",
        html! { <p>{ format!("There is no lesson called “{id}”.") }</p> },
        html! {
            <a class="btn primary" href="/" onclick={link_to(nav, Route::Catalog)}>{ "See all lessons" }</a>
        },
    )
}

pub fn load_failed(nav: &Nav, error: &str) -> Html {
    screen(
        nav,
        "The lesson could not be loaded",
        html! { <p>{ error.to_owned() }</p> },
        html! { <button class="btn primary" onclick={Callback::from(|_| {
            let _ = dom::window().location().reload();
        })}>{ "Reload" }</button> },
    )
}

/// Waiting for the lesson, or for the saved session (`rejoining`).
pub fn loading(nav: &Nav, title: &str, rejoining: bool) -> Html {
    screen(
        nav,
        if title.is_empty() {
            "Loading…"
        } else {
            title
        },
        html! { <p class="muted" role="status">{
            if rejoining { "Rejoining your session…" } else { "Loading the lesson…" }
        }</p> },
        html! {},
    )
}

/// No session yet: the lesson's summary and intro, and Start.
pub fn intro(
    nav: &Nav,
    title: &str,
    summary: String,
    intro: String,
    on_start: &Callback<MouseEvent>,
) -> Html {
    screen(
        nav,
        title,
        html! {
            <>
            <p class="lead">{ summary }</p>
            if !intro.is_empty() {
                <Markdown md={intro} on_run={Callback::noop()} />
            }
            </>
        },
        start_button("Start", on_start),
    )
}

pub fn starting(nav: &Nav, title: &str) -> Html {
    screen(
        nav,
        title,
        html! { <p class="muted" role="status"><span class="spinner" aria-hidden="true"></span>{ "Starting your machines…" }</p> },
        html! {},
    )
}

/// The playground is full: the server's message and the time to the retry.
pub fn full(nav: &Nav, message: &str, secs: i64, on_start: &Callback<MouseEvent>) -> Html {
    screen(
        nav,
        "The playground is full",
        html! {
            <>
            <p>{ message.to_owned() }</p>
            <p role="status">{ format!("Trying again in {secs} s…") }</p>
            </>
        },
        start_button("Try again now", on_start),
    )
}

/// The session is over. One joined in a workshop (`workshop`, its code) is
/// offered the workshop again rather than a session of one's own.
pub fn ended(
    nav: &Nav,
    reason: &str,
    workshop: Option<&str>,
    on_start: &Callback<MouseEvent>,
) -> Html {
    let actions = match workshop {
        Some(code) => {
            let route = Route::Join {
                code: code.to_owned(),
            };
            html! {
                <>
                <a class="btn primary" data-testid="rejoin" href={route.path()} onclick={link_to(nav, route.clone())}>
                    { "Rejoin the workshop" }
                </a>
                <a class="btn" href="/" onclick={link_to(nav, Route::Catalog)}>{ "Back to lessons" }</a>
                </>
            }
        }
        None => start_or_back(nav, "Start a new session", on_start),
    };
    screen(
        nav,
        "This session has ended",
        html! { <p>{ reason.to_owned() }</p> },
        actions,
    )
}

pub fn error(nav: &Nav, error: &str, on_start: &Callback<MouseEvent>) -> Html {
    screen(
        nav,
        "Something went wrong",
        html! { <p role="alert">{ error.to_owned() }</p> },
        start_or_back(nav, "Try again", on_start),
    )
}
