//! The pieces of the lesson page shown around or instead of the workspace:
//! the back link and a full-page message with actions ("starting", "full",
//! "ended", "lesson not found", ...).

use yew::prelude::*;

use super::super::{link_to, Nav};
use crate::route::Route;

/// "← Lessons", back to the catalog.
pub fn back_link(nav: &Nav) -> Html {
    html! {
        <a class="brand back" href="/" onclick={link_to(nav, Route::Catalog)}>{ "← Lessons" }</a>
    }
}

/// A full-page message with actions.
pub fn screen(nav: &Nav, heading: &str, body: Html, actions: Html) -> Html {
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
