//! A learner's terminals, read-only, one tab per node: the `Workspace` of the
//! lesson page with `watch` (the admin token, `?watch=1`; nothing typed or
//! resized is sent). The learner's page shows that someone watches. A dialog
//! over the workshop view; Close or Escape ends the watching.

use web_sys::HtmlElement;
use yew::prelude::*;

use super::super::lesson::workspace::Workspace;
use super::AdminCtx;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub session: AttrValue,
    pub name: AttrValue,
    pub nodes: Vec<AttrValue>,
    pub on_close: Callback<()>,
}

#[function_component(WatchPanel)]
pub fn watch_panel(p: &Props) -> Html {
    let admin = use_context::<AdminCtx>().expect("AdminCtx");
    let tab = use_state(|| p.nodes.first().cloned().unwrap_or_default());
    let close_button = use_node_ref();
    {
        let close_button = close_button.clone();
        use_effect_with(p.session.clone(), move |_| {
            if let Some(el) = close_button.cast::<HtmlElement>() {
                let _ = el.focus();
            }
            || ()
        });
    }
    let on_tab = {
        let tab = tab.clone();
        Callback::from(move |(node, _focus): (AttrValue, bool)| tab.set(node))
    };
    let onkeydown = {
        let on_close = p.on_close.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                e.prevent_default();
                on_close.emit(());
            }
        })
    };
    let close = p.on_close.reform(|_: MouseEvent| ());
    html! {
        <div class="watch-backdrop">
            <section class="watch-panel" role="dialog" aria-modal="true" aria-labelledby="watch-title"
                     data-testid="watch-panel" data-session={p.session.clone()} {onkeydown}>
                <header class="watch-head">
                    <h2 id="watch-title">{ format!("Watching {}", p.name) }</h2>
                    <span class="badge">{ "read-only" }</span>
                    <span class="spacer"></span>
                    <button ref={close_button} class="btn" data-testid="watch-close" onclick={close}>{ "Close" }</button>
                </header>
                <Workspace session={p.session.clone()} token={admin.token.clone()} nodes={p.nodes.clone()}
                           tab={(*tab).clone()} watch=true {on_tab}
                           on_ready={Callback::noop()} on_event={Callback::noop()} />
            </section>
        </div>
    }
}
