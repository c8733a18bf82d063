//! The new-workshop form: lesson (from the catalog), seats and an optional
//! duration. On success the page opens the workshop, which shows its code.

use protocol::admin::{CreateWorkshopRequest, Workshop};
use protocol::api::LessonSummary;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::super::api;
use super::AdminCtx;

/// Durations offered, in minutes; empty: the server's longest.
const DURATIONS: &[(u32, &str)] = &[
    (30, "30 minutes"),
    (60, "1 hour"),
    (90, "1.5 hours"),
    (120, "2 hours"),
    (180, "3 hours"),
    (240, "4 hours"),
    (360, "6 hours"),
    (480, "8 hours"),
];

#[derive(Properties, PartialEq)]
pub struct Props {
    pub on_created: Callback<Workshop>,
}

#[function_component(CreateWorkshop)]
pub fn create_workshop(p: &Props) -> Html {
    let admin = use_context::<AdminCtx>().expect("AdminCtx");
    let lessons = use_state(|| None::<Result<Vec<LessonSummary>, String>>);
    let (lesson, seats, duration) = (use_node_ref(), use_node_ref(), use_node_ref());
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    {
        let lessons = lessons.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                lessons.set(Some(api::lessons().await.map_err(|e| e.message())));
            });
            || ()
        });
    }
    let onsubmit = {
        let (lesson, seats, duration) = (lesson.clone(), seats.clone(), duration.clone());
        let (error, busy, on_created) = (error.clone(), busy.clone(), p.on_created.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let lesson = lesson
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            let seats = seats
                .cast::<HtmlInputElement>()
                .and_then(|i| i.value().trim().parse::<u32>().ok());
            let minutes = duration
                .cast::<HtmlSelectElement>()
                .and_then(|s| s.value().parse::<u64>().ok());
            let Some(seats) = seats.filter(|&n| n > 0) else {
                error.set(Some("Seats: a whole number, at least 1.".into()));
                return;
            };
            if lesson.is_empty() {
                error.set(Some("Pick a lesson.".into()));
                return;
            }
            let request = CreateWorkshopRequest {
                lesson,
                seats,
                expires_in_secs: minutes.map(|m| m * 60),
            };
            busy.set(true);
            error.set(None);
            let (admin, error, busy, on_created) = (
                admin.clone(),
                error.clone(),
                busy.clone(),
                on_created.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let result = api::create_workshop(&admin.token, &request).await;
                busy.set(false);
                match result {
                    Ok(w) => on_created.emit(w),
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    Err(e) => error.set(Some(format!(
                        "The workshop could not be created: {}",
                        e.message()
                    ))),
                }
            });
        })
    };
    let options = match &*lessons {
        None => {
            html! { <option value="" disabled=true selected=true>{ "Loading lessons…" }</option> }
        }
        Some(Err(e)) => {
            html! { <option value="" disabled=true selected=true>{ format!("Lessons could not be loaded: {e}") }</option> }
        }
        Some(Ok(list)) => html! {
            { for list.iter().map(|l| html! {
                <option value={l.id.clone()}>{ format!("{} ({})", l.title, l.id) }</option>
            }) }
        },
    };
    html! {
        <form class="panel create-workshop" onsubmit={onsubmit} aria-labelledby="create-h">
            <h3 id="create-h">{ "New workshop" }</h3>
            <label class="field">
                <span>{ "Lesson" }</span>
                <select ref={lesson} name="lesson" data-testid="workshop-lesson" required=true>{ options }</select>
            </label>
            <div class="field-row">
                <label class="field">
                    <span>{ "Seats" }</span>
                    <input ref={seats} type="number" name="seats" data-testid="workshop-seats"
                           min="1" step="1" value="20" required=true inputmode="numeric" />
                </label>
                <label class="field">
                    <span>{ "Duration" }</span>
                    <select ref={duration} name="duration" data-testid="workshop-duration">
                        <option value="" selected=true>{ "Longest allowed" }</option>
                        { for DURATIONS.iter().map(|(m, label)| html! {
                            <option value={m.to_string()}>{ *label }</option>
                        }) }
                    </select>
                </label>
            </div>
            <p class="muted help">
                { "Sessions for the seats start in the background, so learners get a prompt at once. The workshop's sessions end with it." }
            </p>
            <p class="form-error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
            <button class="btn primary" type="submit" data-testid="workshop-create" disabled={*busy}>
                { if *busy { "Creating…" } else { "Create workshop" } }
            </button>
        </form>
    }
}
