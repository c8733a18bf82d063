//! The browser app: a tiny router over the pages: the catalog, a lesson,
//! joining a workshop, and the operator's admin pages.

mod admin;
mod api;
mod catalog;
mod dom;
mod join;
mod lesson;
mod markdown_view;
mod store;
mod terminal;
mod xterm;

use gloo_events::EventListener;
use yew::prelude::*;

use crate::route::Route;

/// Navigation for every component: push a route (and whether the lesson
/// page should start a session at once, as the catalog's Start button asks),
/// or replace the current one (a page that only leads to another, such as
/// joining a workshop, so Back does not land on it again).
#[derive(Clone, PartialEq)]
pub struct Nav {
    pub go: Callback<(Route, bool)>,
    pub replace: Callback<Route>,
}

fn current_route() -> Route {
    Route::parse(&dom::window().location().pathname().unwrap_or_default())
}

#[function_component(App)]
pub fn app() -> Html {
    // (route, autostart)
    let route = use_state(|| (current_route(), false));
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = EventListener::new(&dom::window(), "popstate", move |_| {
                route.set((current_route(), false));
            });
            move || drop(listener)
        });
    }
    let go = {
        let route = route.clone();
        Callback::from(move |(to, autostart): (Route, bool)| {
            if let Ok(history) = dom::window().history() {
                let _ =
                    history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&to.path()));
            }
            dom::window().scroll_to_with_x_and_y(0.0, 0.0);
            route.set((to, autostart));
        })
    };
    let replace = {
        let route = route.clone();
        Callback::from(move |to: Route| {
            if let Ok(history) = dom::window().history() {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&to.path()),
                );
            }
            dom::window().scroll_to_with_x_and_y(0.0, 0.0);
            route.set((to, false));
        })
    };
    let nav = Nav { go, replace };
    let page = match &route.0 {
        Route::Catalog => html! { <catalog::Catalog /> },
        Route::Lesson { id } => html! {
            <lesson::LessonPage key={id.clone()} id={AttrValue::from(id.clone())} autostart={route.1} />
        },
        Route::Join { code } => html! {
            <join::JoinPage key={code.clone()} code={AttrValue::from(code.clone())} />
        },
        Route::Admin => html! { <admin::AdminPage /> },
        Route::AdminWorkshop { id } => html! {
            <admin::AdminPage workshop={Some(AttrValue::from(id.clone()))} />
        },
        Route::NotFound => html! {
            <main id="main" class="page narrow">
                <h1>{ "Page not found" }</h1>
                <p><a href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Back to the lessons" }</a></p>
            </main>
        },
    };
    html! {
        <ContextProvider<Nav> context={nav}>
            <a class="skip-link" href="#main">{ "Skip to content" }</a>
            { page }
        </ContextProvider<Nav>>
    }
}

/// `onclick` for an `<a href>` that navigates inside the app (plain clicks
/// only; Ctrl/middle clicks open a new tab as usual).
pub fn link_to(nav: &Nav, to: Route) -> Callback<MouseEvent> {
    let go = nav.go.clone();
    Callback::from(move |e: MouseEvent| {
        if e.button() == 0 && !(e.ctrl_key() || e.meta_key() || e.shift_key() || e.alt_key()) {
            e.prevent_default();
            go.emit((to.clone(), false));
        }
    })
}

pub fn set_title(title: &str) {
    if let Some(doc) = dom::window().document() {
        doc.set_title(title);
    }
}
