//! `/join/{code}` (and `/join`): a learner joins a workshop with its code and
//! a name, and lands on the lesson page with the session, kept where the
//! lesson page looks for it (`store::save_session`). The seat is also kept in
//! local storage under the code: coming back to the link sends its token, and
//! the server gives the same session back.

use protocol::api::CreatedSession;
use protocol::join_code;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::api::{self, ApiError};
use super::{link_to, set_title, store, Nav};
use crate::route::Route;
use crate::workshop::join_error;

#[derive(Properties, PartialEq)]
pub struct Props {
    /// From the link; empty at `/join`.
    pub code: AttrValue,
}

#[derive(Clone, PartialEq)]
enum Phase {
    Form,
    Joining,
    /// Coming back with a saved seat: asking for it again.
    Rejoining(String),
}

/// Keeps the seat and the session, then opens the lesson.
fn joined(nav: &Nav, code: &str, name: &str, s: CreatedSession) {
    store::save_joined(
        code,
        &store::Joined {
            name: name.to_owned(),
            session: s.id.clone(),
            token: s.token.clone(),
            lesson: s.lesson.clone(),
        },
    );
    store::save_session(&s);
    store::set_session_workshop(&s.lesson, Some(code));
    // Replaced, not pushed: Back from the lesson must not rejoin at once.
    nav.replace.emit(Route::Lesson { id: s.lesson });
}

#[function_component(JoinPage)]
pub fn join_page(p: &Props) -> Html {
    let nav = use_context::<Nav>().expect("Nav context");
    let saved = use_memo(p.code.clone(), |code| store::joined(code));
    let phase = use_state(|| match saved.as_ref() {
        Some(s) => Phase::Rejoining(s.name.clone()),
        None => Phase::Form,
    });
    let error = use_state(|| None::<String>);
    let (code_ref, name_ref) = (use_node_ref(), use_node_ref());
    // Coming back: ask for the saved seat; on failure, the form.
    {
        let (nav, phase, error, code, saved) = (
            nav.clone(),
            phase.clone(),
            error.clone(),
            p.code.to_string(),
            saved.clone(),
        );
        use_effect_with((), move |_| {
            set_title("Join a workshop · Container Playground");
            if let Some(seat) = (*saved).clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    match api::join_workshop(&code, &seat.name, Some(seat.token.clone())).await {
                        Ok(s) => joined(&nav, &code, &seat.name, s),
                        Err(e) => {
                            error.set(Some(join_error(e.code(), &e.message())));
                            phase.set(Phase::Form);
                        }
                    }
                });
            }
            || ()
        });
    }
    // The first field to fill gets the focus.
    {
        let (code_ref, name_ref, empty_code) =
            (code_ref.clone(), name_ref.clone(), p.code.is_empty());
        use_effect_with(*phase == Phase::Form, move |&form| {
            let target = if empty_code { code_ref } else { name_ref };
            if form {
                if let Some(el) = target.cast::<HtmlInputElement>() {
                    let _ = el.focus();
                }
            }
            || ()
        });
    }
    let onsubmit = {
        let (nav, phase, error) = (nav.clone(), phase.clone(), error.clone());
        let (code_ref, name_ref) = (code_ref.clone(), name_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value().trim().to_owned())
                    .unwrap_or_default()
            };
            let (code, name) = (value(&code_ref), value(&name_ref));
            let focus = |r: &NodeRef| {
                if let Some(i) = r.cast::<HtmlInputElement>() {
                    let _ = i.focus();
                }
            };
            if code.is_empty() {
                error.set(Some(
                    "Enter the workshop code your instructor gave you.".into(),
                ));
                focus(&code_ref);
                return;
            }
            if name.is_empty() {
                error.set(Some(
                    "Enter your name: your instructor sees it next to your progress.".into(),
                ));
                focus(&name_ref);
                return;
            }
            // A seat this browser has in that workshop (the code may have been typed).
            let token = store::joined(&code).map(|s| s.token);
            phase.set(Phase::Joining);
            error.set(None);
            let (nav, phase, error, name_ref) =
                (nav.clone(), phase.clone(), error.clone(), name_ref.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::join_workshop(&code, &name, token).await {
                    Ok(s) => joined(&nav, &code, &name, s),
                    Err(e) => {
                        error.set(Some(join_error(e.code(), &e.message())));
                        phase.set(Phase::Form);
                        if matches!(e, ApiError::Status { .. }) {
                            if let Some(i) = name_ref.cast::<HtmlInputElement>() {
                                let _ = i.focus();
                            }
                        }
                    }
                }
            });
        })
    };
    let busy = *phase != Phase::Form;
    let body = match &*phase {
        Phase::Rejoining(name) => html! {
            <p class="muted" role="status"><span class="spinner" aria-hidden="true"></span>
                { format!("Welcome back, {name}. Getting your session…") }</p>
        },
        _ => html! {
            <form class="join-form" {onsubmit} novalidate=true>
                <label class="field">
                    <span>{ "Workshop code" }</span>
                    <input ref={code_ref} class="code-input mono" name="code" data-testid="join-code"
                           value={join_code::display(&p.code)} autocomplete="off" autocapitalize="characters"
                           spellcheck="false" placeholder="ABCD-EFGH" aria-describedby="join-error" />
                </label>
                <label class="field">
                    <span>{ "Your name" }</span>
                    <input ref={name_ref} name="name" data-testid="join-name" maxlength="40"
                           autocomplete="name" placeholder="As your instructor should see it"
                           value={saved.as_ref().as_ref().map(|s| s.name.clone()).unwrap_or_default()}
                           aria-describedby="join-error" />
                </label>
                <p id="join-error" class="form-error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
                <div class="actions">
                    <button class="btn primary big" type="submit" data-testid="join-submit" disabled={busy}>
                        if *phase == Phase::Joining {
                            <span class="spinner" aria-hidden="true"></span>{ "Joining…" }
                        } else {
                            { "Join" }
                        }
                    </button>
                </div>
            </form>
        },
    };
    html! {
        <>
        <header class="topbar">
            <a class="brand" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Container Playground" }</a>
        </header>
        <main id="main" class="page narrow screen join-page">
            <h1>{ "Join a workshop" }</h1>
            <p class="lead">{ "Type your name and press Join: your machines are ready in seconds. Your instructor sees your name and how far you got." }</p>
            { body }
        </main>
        </>
    }
}
