//! A workshop's join code and link, large enough to read on a projector from
//! the back of a room (big monospace type, high contrast), with Copy link and
//! Present, which fills the screen with them (Escape or Close leaves).

use gloo_timers::callback::Timeout;
use protocol::admin::Workshop;
use yew::prelude::*;

use super::super::dom;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub workshop: Workshop,
}

#[function_component(Projector)]
pub fn projector(p: &Props) -> Html {
    let presenting = use_state(|| false);
    let copied = use_state(|| None::<&'static str>);
    let copy = |text: String, what: &'static str| {
        let copied = copied.clone();
        Callback::from(move |_: MouseEvent| {
            let ok = dom::copy_text(&text);
            copied.set(Some(if ok { what } else { "failed" }));
            let copied = copied.clone();
            Timeout::new(2500, move || copied.set(None)).forget();
        })
    };
    let toggle = {
        let presenting = presenting.clone();
        Callback::from(move |_: MouseEvent| presenting.set(!*presenting))
    };
    let onkeydown = {
        let presenting = presenting.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" && *presenting {
                presenting.set(false);
            }
        })
    };
    let w = &p.workshop;
    let status = match *copied {
        Some("failed") => "Copying failed: select the link and copy it by hand.",
        Some("link") => "Join link copied.",
        Some(_) => "Code copied.",
        None => "",
    };
    html! {
        <section class={classes!("projector", presenting.then_some("presenting"))}
                 aria-label="How learners join" {onkeydown}>
            <div class="projector-body">
                <p class="projector-label">{ "Open this link" }</p>
                <p class="join-url"><a href={w.join_url.clone()} data-testid="join-url">{ link_text(&w.join_url) }</a></p>
                <p class="projector-label">{ "or go to " }<span class="mono">{ "/join" }</span>{ " and type the code" }</p>
                <p class="join-code" data-testid="workshop-code">
                    { w.code.clone() }
                </p>
            </div>
            <div class="projector-actions">
                <button class="btn" onclick={copy(w.join_url.clone(), "link")}>{ "Copy link" }</button>
                <button class="btn" onclick={copy(w.code.clone(), "code")}>{ "Copy code" }</button>
                <button class="btn" onclick={toggle} aria-pressed={presenting.to_string()}>
                    { if *presenting { "Close full screen" } else { "Present full screen" } }
                </button>
                <span class="copied" role="status">{ status }</span>
            </div>
        </section>
    }
}

/// The join link with its path kept on one line: a long link wraps after
/// the origin, never inside the code.
fn link_text(url: &str) -> Html {
    match url.find("/join/") {
        Some(i) => html! {
            <>{ url[..i].to_owned() }<wbr /><span class="nowrap">{ url[i..].to_owned() }</span></>
        },
        None => html! { { url.to_owned() } },
    }
}
