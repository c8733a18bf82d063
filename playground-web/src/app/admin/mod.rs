//! The operator's pages, opened by the admin token (entered once, kept in
//! session storage for the tab):
//! - `/admin` (`Overview`): create a workshop, the open workshops, and every
//!   live session with End;
//! - `/admin/workshops/{id}` (`WorkshopView`): the join code and link for
//!   the projector, the learners' progress (polled), Watch and End.
//!
//! `AdminPage` only holds the token: without one (or after the server
//! refused it) it shows `Login`. Components with one job each: `login`,
//! `create` (the new-workshop form), `workshops` (the open ones),
//! `sessions` (the sessions table), `projector` (code and link, large),
//! `learners` (a learner's card), `watch` (read-only terminals).

mod create;
mod learners;
mod login;
mod projector;
mod sessions;
mod watch;
mod workshop;
mod workshops;

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use yew::prelude::*;

use super::{link_to, set_title, store, Nav};
use crate::route::Route;
use login::Login;

/// What every admin component needs: the token, and what to do when the
/// server refuses it (back to the login form).
#[derive(Clone, PartialEq)]
pub struct AdminCtx {
    pub token: AttrValue,
    pub refused: Callback<()>,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The workshop to show; the overview when None.
    #[prop_or_default]
    pub workshop: Option<AttrValue>,
}

#[function_component(AdminPage)]
pub fn admin_page(p: &Props) -> Html {
    let nav = use_context::<Nav>().expect("Nav context");
    let token = use_state(store::admin_token);
    // Why the login form shows again, if the server refused a saved token.
    let refused_note = use_state(|| None::<String>);
    use_effect_with((), |_| {
        set_title("Admin · Container Playground");
        || ()
    });
    let on_token = {
        let (token, note) = (token.clone(), refused_note.clone());
        Callback::from(move |t: String| {
            store::save_admin_token(&t);
            note.set(None);
            token.set(Some(t));
        })
    };
    let Some(t) = (*token).clone() else {
        return html! {
            <>
            <header class="topbar">
                <a class="brand" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Container Playground" }</a>
                <span class="muted">{ "Admin" }</span>
            </header>
            <Login {on_token} note={(*refused_note).clone()} />
            </>
        };
    };
    let refused = {
        let (token, note) = (token.clone(), refused_note.clone());
        Callback::from(move |_| {
            store::forget_admin_token();
            note.set(Some(
                "The server refused the saved admin token (it may have been replaced). Enter it again."
                    .into(),
            ));
            token.set(None);
        })
    };
    let sign_out = {
        let token = token.clone();
        Callback::from(move |_| {
            store::forget_admin_token();
            token.set(None);
        })
    };
    let ctx = AdminCtx {
        token: t.into(),
        refused,
    };
    let page = match &p.workshop {
        Some(id) => html! { <workshop::WorkshopView key={id.to_string()} id={id.clone()} /> },
        None => html! { <Overview /> },
    };
    html! {
        <ContextProvider<AdminCtx> context={ctx}>
            <header class="topbar admin-bar">
                if p.workshop.is_some() {
                    <a class="brand back" href="/admin" onclick={link_to(&nav, Route::Admin)}>{ "← Admin" }</a>
                } else {
                    <a class="brand" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Container Playground" }</a>
                    <span class="muted">{ "Admin" }</span>
                }
                <span class="spacer"></span>
                <button class="btn" onclick={sign_out}
                        title="Forget the admin token in this tab">{ "Sign out" }</button>
            </header>
            { page }
        </ContextProvider<AdminCtx>>
    }
}

/// `/admin`: workshops (create, the open ones) and the sessions table.
#[function_component(Overview)]
fn overview() -> Html {
    let admin = use_context::<AdminCtx>().expect("AdminCtx");
    let nav = use_context::<Nav>().expect("Nav context");
    let ticks = use_ticks(5000);
    let list = use_state_eq(|| None::<Result<Vec<protocol::admin::Workshop>, String>>);
    {
        let (list, admin) = (list.clone(), admin.clone());
        use_effect_with(ticks, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match super::api::workshops(&admin.token).await {
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    r => list.set(Some(r.map_err(|e| e.message()))),
                }
            });
            || ()
        });
    }
    let on_created = {
        let go = nav.go.clone();
        Callback::from(move |w: protocol::admin::Workshop| {
            go.emit((Route::AdminWorkshop { id: w.id }, false))
        })
    };
    let workshops = match &*list {
        Some(Ok(w)) => Rc::new(w.clone()),
        _ => Rc::new(Vec::new()),
    };
    html! {
        <main id="main" class="page admin">
            <h1>{ "Admin" }</h1>
            <section class="admin-section" aria-labelledby="workshops-h">
                <h2 id="workshops-h">{ "Workshops" }</h2>
                <div class="admin-columns">
                    <create::CreateWorkshop {on_created} />
                    <workshops::OpenWorkshops list={(*list).clone()} />
                </div>
            </section>
            <sessions::SessionsTable workshops={workshops} />
        </main>
    }
}

/// A number that goes up every `ms` milliseconds while the component lives:
/// effects that depend on it run again (polling).
#[hook]
pub fn use_ticks(ms: u32) -> u32 {
    let ticks = use_state_eq(|| 0u32);
    {
        let set = ticks.setter();
        use_effect_with(ms, move |&ms| {
            let count = Rc::new(Cell::new(0u32));
            let interval = Interval::new(ms, move || {
                count.set(count.get().wrapping_add(1));
                set.set(count.get());
            });
            move || drop(interval)
        });
    }
    *ticks
}
