//! `/admin/workshops/{id}`: one workshop. Its code and link for the projector,
//! its learners (polled every 2 s: steps passed, activity, online), Watch
//! (read-only terminals) and End per learner, and End workshop.

use std::collections::HashSet;

use protocol::admin::{Learner, WorkshopDetail};
use protocol::api::ErrorCode;
use yew::prelude::*;

use super::super::{api, dom, link_to, set_title, Nav};
use super::learners::LearnerCard;
use super::projector::Projector;
use super::watch::WatchPanel;
use super::{use_ticks, AdminCtx};
use crate::route::Route;
use crate::timefmt;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub id: AttrValue,
}

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(WorkshopDetail),
    /// Ended, expired or never there.
    Gone,
    Failed(String),
}

/// Whom the instructor watches.
#[derive(Clone, PartialEq)]
struct Watching {
    session: AttrValue,
    name: AttrValue,
    nodes: Vec<AttrValue>,
}

#[function_component(WorkshopView)]
pub fn workshop_view(p: &Props) -> Html {
    let admin = use_context::<AdminCtx>().expect("AdminCtx");
    let nav = use_context::<Nav>().expect("Nav context");
    let ticks = use_ticks(2000);
    let refresh = use_state(|| 0u32);
    let load = use_state_eq(|| Load::Loading);
    let steps = use_state_eq(Vec::<AttrValue>::new);
    let watching = use_state(|| None::<Watching>);
    let ending = use_state(HashSet::<String>::new);
    let notice = use_state(|| None::<String>);
    {
        let (load, admin, id) = (load.clone(), admin.clone(), p.id.to_string());
        use_effect_with((ticks, *refresh), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match api::workshop(&admin.token, &id).await {
                    Ok(w) => load.set(Load::Loaded(w)),
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    Err(e) if e.code() == Some(ErrorCode::NotFound) => load.set(Load::Gone),
                    // A missed poll keeps the last view; the next one retries.
                    Err(e) if matches!(*load, Load::Loaded(_)) => {
                        web_sys::console::warn_1(&format!("workshop: {}", e.message()).into())
                    }
                    Err(e) => load.set(Load::Failed(e.message())),
                }
            });
            || ()
        });
    }
    // The lesson's steps, once: how many there are and their titles.
    let lesson = match &*load {
        Load::Loaded(w) => w.workshop.lesson.clone(),
        _ => String::new(),
    };
    {
        let steps = steps.clone();
        use_effect_with(lesson, move |lesson| {
            if !lesson.is_empty() {
                let lesson = lesson.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(detail) = api::lesson(&lesson).await {
                        set_title(&format!(
                            "Workshop · {} · Container Playground",
                            detail.summary.title
                        ));
                        steps.set(detail.steps.into_iter().map(|s| s.title.into()).collect());
                    }
                });
            }
            || ()
        });
    }
    let on_watch = {
        let watching = watching.clone();
        Callback::from(move |l: Learner| {
            watching.set(Some(Watching {
                session: l.session.into(),
                name: l.name.into(),
                nodes: l.nodes.into_iter().map(|n| n.name.into()).collect(),
            }))
        })
    };
    let on_end = {
        let (admin, ending, notice, refresh, watching) = (
            admin.clone(),
            ending.clone(),
            notice.clone(),
            refresh.clone(),
            watching.clone(),
        );
        Callback::from(move |l: Learner| {
            let mut now_ending = (*ending).clone();
            now_ending.insert(l.session.clone());
            ending.set(now_ending);
            if watching.as_ref().is_some_and(|w| w.session == l.session) {
                watching.set(None);
            }
            let (admin, notice, refresh) = (admin.clone(), notice.clone(), refresh.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::admin_end_session(&admin.token, &l.session).await {
                    Ok(()) => notice.set(Some(format!("{}'s session ended.", l.name))),
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    Err(e) => notice.set(Some(format!(
                        "Could not end {}'s session: {}",
                        l.name,
                        e.message()
                    ))),
                }
                refresh.set(*refresh + 1);
            });
        })
    };
    let end_workshop = {
        let (admin, notice, go, id) = (
            admin.clone(),
            notice.clone(),
            nav.go.clone(),
            p.id.to_string(),
        );
        Callback::from(move |_: MouseEvent| {
            let sure = dom::window()
                .confirm_with_message(
                    "End this workshop? Every learner's session ends and the code stops working.",
                )
                .unwrap_or(true);
            if !sure {
                return;
            }
            let (admin, notice, go, id) = (admin.clone(), notice.clone(), go.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::end_workshop(&admin.token, &id).await {
                    Ok(()) => go.emit((Route::Admin, false)),
                    Err(e) if e.admin_refused() => admin.refused.emit(()),
                    Err(e) => {
                        notice.set(Some(format!("Could not end the workshop: {}", e.message())))
                    }
                }
            });
        })
    };

    let w = match &*load {
        Load::Loading => {
            return html! { <main id="main" class="page"><p class="muted" role="status">{ "Loading the workshop…" }</p></main> }
        }
        Load::Gone => {
            return html! {
                <main id="main" class="page narrow screen">
                    <h1>{ "This workshop has ended" }</h1>
                    <p>{ "It was ended or its time ran out; its sessions are gone." }</p>
                    <div class="actions">
                        <a class="btn primary" href="/admin" onclick={link_to(&nav, Route::Admin)}>{ "Back to admin" }</a>
                    </div>
                </main>
            }
        }
        Load::Failed(e) => {
            return html! {
                <main id="main" class="page narrow screen">
                    <h1>{ "The workshop could not be loaded" }</h1>
                    <p role="alert">{ e.clone() }</p>
                </main>
            }
        }
        Load::Loaded(w) => w,
    };
    let now = dom::now_ms();
    let left = timefmt::parse_rfc3339_ms(&w.workshop.expires_at)
        .map(|t| ((t as f64 - now) / 1000.0).ceil() as i64)
        .unwrap_or(0);
    let taken = w.learners.len();
    let watch_panel = watching.as_ref().map(|v| {
        let watching = watching.clone();
        html! {
            <WatchPanel key={v.session.to_string()} session={v.session.clone()} name={v.name.clone()}
                        nodes={v.nodes.clone()} on_close={Callback::from(move |_| watching.set(None))} />
        }
    });
    html! {
        <main id="main" class="page wide admin-workshop">
            <div class="workshop-title">
                <h1>{ "Workshop " }<span class="nowrap">{ w.workshop.code.clone() }</span></h1>
                <span class="muted">{ w.workshop.lesson.clone() }</span>
                <span class="spacer"></span>
                <button class="btn danger" data-testid="workshop-end" onclick={end_workshop}>{ "End workshop" }</button>
            </div>
            <Projector workshop={w.workshop.clone()} />
            <p class="workshop-stats" role="status">
                { format!(
                    "{taken} of {} seats taken · {} ready to start at once · ends in {}",
                    w.workshop.seats,
                    w.ready_seats,
                    timefmt::format_left(left)
                ) }
            </p>
            <p class="muted" role="status">{ (*notice).clone().unwrap_or_default() }</p>
            <section aria-labelledby="learners-h">
                <h2 id="learners-h">{ format!("Learners ({taken})") }</h2>
                if w.learners.is_empty() {
                    <p class="muted">{ "Nobody has joined yet. Learners open the link above and type their name." }</p>
                } else {
                    <ul class="learners">
                        { for w.learners.iter().map(|l| html! {
                            <LearnerCard key={l.session.clone()} learner={l.clone()} steps={(*steps).clone()} {now}
                                         watched={watching.as_ref().is_some_and(|v| v.session == l.session)}
                                         ending={ending.contains(&l.session)}
                                         on_watch={on_watch.clone()} on_end={on_end.clone()} />
                        }) }
                    </ul>
                }
            </section>
            { for watch_panel }
        </main>
    }
}
