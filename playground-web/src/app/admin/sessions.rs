//! Every live session (`GET /admin/sessions`, polled every 3 s) in a table,
//! each row with End: the session's machines are removed at once and its
//! learner's page says the session has ended.

use std::collections::HashSet;
use std::rc::Rc;

use protocol::admin::{AdminSession, Workshop};
use yew::prelude::*;

use super::super::{api, dom};
use super::{use_ticks, AdminCtx};
use crate::timefmt;

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The open workshops, to name a session's workshop by its code.
    pub workshops: Rc<Vec<Workshop>>,
}

#[function_component(SessionsTable)]
pub fn sessions_table(p: &Props) -> Html {
    let admin = use_context::<AdminCtx>().expect("AdminCtx");
    let ticks = use_ticks(3000);
    let refresh = use_state(|| 0u32);
    let rows = use_state_eq(|| None::<Result<Vec<AdminSession>, String>>);
    // Sessions being ended: their End button waits.
    let ending = use_state(HashSet::<String>::new);
    let notice = use_state(|| None::<String>);
    {
        let (rows, admin) = (rows.clone(), admin.clone());
        use_effect_with((ticks, *refresh), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match api::admin_sessions(&admin.token).await {
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    r => rows.set(Some(r.map_err(|e| e.message()))),
                }
            });
            || ()
        });
    }
    let end = {
        let (admin, ending, notice, refresh) = (
            admin.clone(),
            ending.clone(),
            notice.clone(),
            refresh.clone(),
        );
        Callback::from(move |id: String| {
            let mut now_ending = (*ending).clone();
            now_ending.insert(id.clone());
            ending.set(now_ending);
            let (admin, notice, refresh) = (admin.clone(), notice.clone(), refresh.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::admin_end_session(&admin.token, &id).await {
                    Ok(()) => notice.set(Some(format!("Session {id} ended."))),
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    Err(e) => notice.set(Some(format!("Could not end {id}: {}", e.message()))),
                }
                refresh.set(*refresh + 1);
            });
        })
    };
    let now = dom::now_ms();
    let secs_since = |t: &str| {
        timefmt::parse_rfc3339_ms(t)
            .map(|t| ((now - t as f64) / 1000.0).floor() as i64)
            .unwrap_or(0)
    };
    let body = match &*rows {
        None => html! { <p class="muted" role="status">{ "Loading…" }</p> },
        Some(Err(e)) => {
            html! { <p class="form-error" role="alert">{ format!("Could not load the sessions: {e}") }</p> }
        }
        Some(Ok(list)) if list.is_empty() => html! { <p class="muted">{ "No live sessions." }</p> },
        Some(Ok(list)) => html! {
            <div class="table-wrap">
                <table class="sessions">
                    <thead>
                        <tr>
                            <th scope="col">{ "Session" }</th>
                            <th scope="col">{ "Lesson" }</th>
                            <th scope="col">{ "Learner" }</th>
                            <th scope="col">{ "Client" }</th>
                            <th scope="col">{ "Progress" }</th>
                            <th scope="col">{ "Expires" }</th>
                            <th scope="col">{ "Last active" }</th>
                            <th scope="col"><span class="sr-only">{ "Actions" }</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        { for list.iter().map(|s| {
                            let learner = learner_cell(s, &p.workshops);
                            let left = -secs_since(&s.expires_at);
                            let id = s.id.clone();
                            let busy = ending.contains(&s.id);
                            html! {
                                <tr data-testid="session-row" data-session={s.id.clone()}>
                                    <td data-label="Session"><span class="mono">{ s.id.clone() }</span></td>
                                    <td data-label="Lesson">{ s.lesson.clone() }</td>
                                    <td data-label="Learner">{ learner }</td>
                                    <td data-label="Client">
                                        <span class="mono">{ s.client_ip.clone() }</span>
                                        <br /><span class="muted">{ client_state(s) }</span>
                                    </td>
                                    <td data-label="Progress">{ progress_cell(s) }</td>
                                    <td data-label="Expires" title={s.expires_at.clone()}>
                                        { format!("in {}", timefmt::format_left(left)) }
                                    </td>
                                    <td data-label="Last active" title={s.last_active_at.clone()}>
                                        { timefmt::ago(secs_since(&s.last_active_at)) }
                                    </td>
                                    <td>
                                        <button class="btn danger small" data-testid="end-session" disabled={busy}
                                                aria-label={format!("End session {}", s.id)}
                                                title="End now: the machines are removed, the learner sees that the session ended"
                                                onclick={end.reform(move |_| id.clone())}>
                                            { if busy { "Ending…" } else { "End" } }
                                        </button>
                                    </td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        },
    };
    let count = match &*rows {
        Some(Ok(list)) => format!(" ({})", list.len()),
        _ => String::new(),
    };
    html! {
        <section class="admin-section" aria-labelledby="sessions-h">
            <h2 id="sessions-h">{ format!("Live sessions{count}") }</h2>
            <p class="muted help">
                { "Refreshed every few seconds. End removes a session's machines at once; its learner's page says the session has ended." }
            </p>
            <p class="muted" role="status">{ (*notice).clone().unwrap_or_default() }</p>
            { body }
        </section>
    }
}

/// The learner's name and workshop code, or "anonymous".
fn learner_cell(s: &AdminSession, workshops: &[Workshop]) -> Html {
    let workshop = s.workshop.as_ref().map(|id| {
        workshops
            .iter()
            .find(|w| &w.id == id)
            .map(|w| w.code.clone())
            .unwrap_or_else(|| id.clone())
    });
    match (&s.learner, workshop) {
        (Some(name), Some(code)) => html! {
            <>{ name.clone() }<br /><span class="muted">{ format!("workshop {code}") }</span></>
        },
        (None, Some(code)) => html! { <span class="muted">{ format!("workshop {code}") }</span> },
        (Some(name), None) => html! { { name.clone() } },
        (None, None) => html! { <span class="muted">{ "anonymous" }</span> },
    }
}

/// "2 terminals open · watched", "offline".
fn client_state(s: &AdminSession) -> String {
    let mut parts = vec![match s.connected {
        0 => "offline".to_owned(),
        1 => "1 terminal open".to_owned(),
        n => format!("{n} terminals open"),
    }];
    if s.watchers > 0 {
        parts.push("watched".into());
    }
    parts.join(" · ")
}

/// "step 2 of 5 · 1 passed", or "finished · 3 passed" on the finish page.
fn progress_cell(s: &AdminSession) -> String {
    let passed = s.progress.passed_steps.len();
    let step = s.progress.current_step;
    match s.steps {
        0 => format!("step {} · {passed} passed", step + 1),
        steps if step >= steps => format!("finished · {passed} passed"),
        steps => format!("step {} of {steps} · {passed} passed", step + 1),
    }
}
