//! The open workshops, each a link to its view (code, learners).

use protocol::admin::Workshop;
use yew::prelude::*;

use super::super::{dom, link_to, Nav};
use crate::route::Route;
use crate::timefmt;

#[derive(Properties, PartialEq)]
pub struct Props {
    /// None while loading; the error's message when it failed.
    pub list: Option<Result<Vec<Workshop>, String>>,
}

#[function_component(OpenWorkshops)]
pub fn open_workshops(p: &Props) -> Html {
    let nav = use_context::<Nav>().expect("Nav context");
    let body = match &p.list {
        None => html! { <p class="muted" role="status">{ "Loading…" }</p> },
        Some(Err(e)) => {
            html! { <p class="form-error" role="alert">{ format!("Could not load the workshops: {e}") }</p> }
        }
        Some(Ok(list)) if list.is_empty() => {
            html! { <p class="muted">{ "No workshop is open. Create one to get a join code." }</p> }
        }
        Some(Ok(list)) => {
            let now = dom::now_ms();
            html! {
                <ul class="workshop-list">
                    { for list.iter().map(|w| {
                        let route = Route::AdminWorkshop { id: w.id.clone() };
                        let left = timefmt::parse_rfc3339_ms(&w.expires_at)
                            .map(|t| ((t as f64 - now) / 1000.0).ceil() as i64)
                            .unwrap_or(0);
                        html! {
                            <li data-testid="workshop-item" data-workshop={w.id.clone()}>
                                <a href={route.path()} onclick={link_to(&nav, route.clone())}
                                   aria-label={format!("Workshop {} ({}), open", w.code, w.lesson)}>
                                    <span class="mono code-small">{ w.code.clone() }</span>
                                </a>
                                <span>{ w.lesson.clone() }</span>
                                <span class="muted">{ format!("{} seats · ends in {}", w.seats, timefmt::format_left(left)) }</span>
                            </li>
                        }
                    }) }
                </ul>
            }
        }
    };
    html! {
        <section class="panel" aria-labelledby="open-h">
            <h3 id="open-h">{ "Open workshops" }</h3>
            { body }
        </section>
    }
}
