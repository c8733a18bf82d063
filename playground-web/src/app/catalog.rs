//! The catalog: every lesson with title, summary, difficulty, duration and
//! tags; search and filters; Start (or Resume) buttons.

use protocol::api::LessonSummary;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{api, link_to, set_title, store, Nav};
use crate::catalog::{all_difficulties, all_tags, duration_label, Filter};
use crate::route::Route;

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(Vec<LessonSummary>),
    Failed(String),
}

#[function_component(Catalog)]
pub fn catalog() -> Html {
    let nav = use_context::<Nav>().expect("Nav context");
    let load = use_state(|| Load::Loading);
    let filter = use_state(Filter::default);
    let reload = use_state(|| 0u32);
    {
        let load = load.clone();
        use_effect_with(*reload, move |_| {
            set_title("Lessons · Container Playground");
            wasm_bindgen_futures::spawn_local(async move {
                load.set(match api::lessons().await {
                    Ok(l) => Load::Loaded(l),
                    Err(e) => Load::Failed(e.message()),
                });
            });
            || ()
        });
    }

    let on_text = set_field(&filter, |f, v| f.text = v)
        .reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    let on_difficulty = set_field(&filter, |f, v| f.difficulty = v).reform(select_value);
    let on_tag = set_field(&filter, |f, v| f.tag = v).reform(select_value);

    let body = match &*load {
        Load::Loading => html! { <p class="muted" role="status">{ "Loading lessons…" }</p> },
        Load::Failed(e) => {
            let reload = reload.clone();
            html! {
                <div class="notice error" role="alert">
                    <p>{ format!("The lessons could not be loaded: {e}") }</p>
                    <button class="btn" onclick={Callback::from(move |_| reload.set(*reload + 1))}>{ "Try again" }</button>
                </div>
            }
        }
        Load::Loaded(lessons) => {
            let shown = filter.apply(lessons);
            let difficulties = all_difficulties(lessons);
            let tags = all_tags(lessons);
            html! {
                <>
                <form class="filters" role="search" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                    <label class="field grow">
                        <span>{ "Search" }</span>
                        <input type="search" placeholder="docker, networking, …" value={filter.text.clone()}
                               oninput={on_text} aria-controls="lesson-list" />
                    </label>
                    { select_field("Difficulty", &filter.difficulty, &difficulties, capitalize, on_difficulty) }
                    { select_field("Topic", &filter.tag, &tags, str::to_owned, on_tag) }
                </form>
                <p class="muted count" role="status" aria-live="polite">
                    { format!("{} of {} lessons", shown.len(), lessons.len()) }
                </p>
                <ul class="cards" id="lesson-list">
                    { for shown.into_iter().map(|l| card(&nav, l)) }
                </ul>
                </>
            }
        }
    };

    html! {
        <>
        <header class="topbar">
            <a class="brand" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Container Playground" }</a>
        </header>
        <main id="main" class="page">
            <h1>{ "Lessons" }</h1>
            <p class="lead">{ "Hands-on lessons with real shells in your browser. Pick one and press Start: your machines are ready in seconds." }</p>
            { body }
        </main>
        </>
    }
}

/// A callback that sets one field of the filter to the value it is given.
fn set_field(
    filter: &UseStateHandle<Filter>,
    set: impl Fn(&mut Filter, String) + 'static,
) -> Callback<String> {
    let filter = filter.clone();
    Callback::from(move |value: String| {
        let mut next = (*filter).clone();
        set(&mut next, value);
        filter.set(next);
    })
}

/// A filter's drop-down: "Any", then each of `values` shown with `label`;
/// nothing when there are no values.
fn select_field(
    name: &str,
    selected: &str,
    values: &[String],
    label: fn(&str) -> String,
    onchange: Callback<Event>,
) -> Html {
    if values.is_empty() {
        return html! {};
    }
    html! {
        <label class="field">
            <span>{ name.to_owned() }</span>
            <select {onchange} aria-controls="lesson-list">
                <option value="" selected={selected.is_empty()}>{ "Any" }</option>
                { for values.iter().map(|v| html! {
                    <option value={v.clone()} selected={selected == v.as_str()}>{ label(v) }</option>
                }) }
            </select>
        </label>
    }
}

fn select_value(e: Event) -> String {
    e.target_unchecked_into::<HtmlSelectElement>().value()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn card(nav: &Nav, l: &LessonSummary) -> Html {
    let resume = store::saved_session(&l.id).is_some();
    let route = Route::Lesson { id: l.id.clone() };
    let start = {
        let go = nav.go.clone();
        let route = route.clone();
        Callback::from(move |_| go.emit((route.clone(), true)))
    };
    let title_id = format!("lesson-{}", l.id);
    let reading = l.nodes.is_empty();
    let nodes = match l.nodes.len() {
        0 => "Text only".to_owned(),
        1 => "1 machine".to_owned(),
        n => format!("{n} machines"),
    };
    let action = match (reading, resume) {
        (true, _) => "Read",
        (false, true) => "Resume",
        (false, false) => "Start",
    };
    html! {
        <li class="card" data-testid="lesson-card" data-lesson={l.id.clone()} aria-labelledby={title_id.clone()}>
            <h2 id={title_id}>
                <a href={route.path()} onclick={link_to(nav, route.clone())}>{ l.title.clone() }</a>
            </h2>
            <p class="summary">{ l.summary.clone() }</p>
            <p class="meta">
                if !l.difficulty.is_empty() {
                    <span class={classes!("badge", format!("level-{}", l.difficulty))}>{ capitalize(&l.difficulty) }</span>
                }
                if let Some(d) = duration_label(l.minutes) {
                    <span class="badge plain" title="Estimated time">{ d }</span>
                }
                <span class="badge plain">{ nodes }</span>
            </p>
            if !l.tags.is_empty() {
                <ul class="tags" aria-label="Topics">
                    { for l.tags.iter().map(|t| html! { <li class="tag">{ t.clone() }</li> }) }
                </ul>
            }
            <div class="card-actions">
                <button class="btn primary" data-testid="start" onclick={start}
                        aria-label={format!("{action} {}", l.title)}>
                    { action }
                </button>
            </div>
        </li>
    }
}
