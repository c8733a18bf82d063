//! The admin login: one field for the admin token. The token is tried
//! (`GET /admin/sessions`) before it is kept, so a wrong one is told at once
//! and the field stays for another try.

use protocol::api::ErrorCode;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::super::api;

#[derive(Properties, PartialEq)]
pub struct Props {
    /// A token the server accepted.
    pub on_token: Callback<String>,
    /// Why the form shows again (a saved token was refused).
    #[prop_or_default]
    pub note: Option<String>,
}

#[function_component(Login)]
pub fn login(p: &Props) -> Html {
    let input = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(el) = input.cast::<HtmlInputElement>() {
                let _ = el.focus();
            }
            || ()
        });
    }
    let onsubmit = {
        let (input, error, busy, on_token) = (
            input.clone(),
            error.clone(),
            busy.clone(),
            p.on_token.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(el) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let token = el.value().trim().to_owned();
            if token.is_empty() {
                error.set(Some("Enter the admin token.".into()));
                let _ = el.focus();
                return;
            }
            busy.set(true);
            let (error, busy, on_token, input) =
                (error.clone(), busy.clone(), on_token.clone(), input.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = api::admin_sessions(&token).await;
                busy.set(false);
                match result {
                    Ok(_) => on_token.emit(token),
                    Err(e) => {
                        error.set(Some(match e.code() {
                            Some(ErrorCode::Forbidden | ErrorCode::Unauthorized) => {
                                "That is not the admin token. Copy it again from the server's admin-token file (in its data directory) and retry.".into()
                            }
                            _ => format!("Could not sign in: {}", e.message()),
                        }));
                        if let Some(el) = input.cast::<HtmlInputElement>() {
                            el.select();
                            let _ = el.focus();
                        }
                    }
                }
            });
        })
    };
    let message = (*error).clone().or_else(|| p.note.clone());
    html! {
        <main id="main" class="page narrow screen">
            <h1>{ "Admin" }</h1>
            <p class="lead">{ "Sign in with the admin token to see every session and run workshops." }</p>
            <form class="login-form" data-testid="admin-login" {onsubmit}>
                <label class="field">
                    <span>{ "Admin token" }</span>
                    <input ref={input} type="password" name="token" autocomplete="current-password"
                           spellcheck="false" required=true aria-describedby="login-help login-error"
                           aria-invalid={error.is_some().to_string()} />
                </label>
                <p id="login-help" class="muted help">
                    { "The server keeps it in the file " }<code>{ "admin-token" }</code>
                    { " of its data directory. It stays in this tab until you sign out or close the tab." }
                </p>
                <p id="login-error" class="form-error" role="alert">
                    { message.unwrap_or_default() }
                </p>
                <div class="actions">
                    <button class="btn primary" type="submit" disabled={*busy}>
                        { if *busy { "Checking…" } else { "Sign in" } }
                    </button>
                </div>
            </form>
        </main>
    }
}
