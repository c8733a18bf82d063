//! The terminals pane: one tab per node (the ARIA tab pattern: arrow keys,
//! Home and End move between tabs) and one `Terminal` per node. Hidden
//! terminals stay connected. The page keeps which tab is active, because the
//! session bar and the Run buttons need it too. The operator's watch panel
//! uses it read-only (`watch`).

use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

use super::super::dom;
use super::super::terminal::{TermEvent, TermHandle, Terminal};

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub session: AttrValue,
    /// The session's token; the admin token with `watch`.
    pub token: AttrValue,
    pub nodes: Vec<AttrValue>,
    /// Read-only terminals: an operator watching.
    #[prop_or_default]
    pub watch: bool,
    /// The active tab's node.
    pub tab: AttrValue,
    /// A tab was chosen: by a click (true: focus its terminal) or a key
    /// (false: the focus moves to the tab).
    pub on_tab: Callback<(AttrValue, bool)>,
    pub on_ready: Callback<(String, Option<TermHandle>)>,
    pub on_event: Callback<TermEvent>,
}

/// The tab a key moves to from tab `i` of `count`, if the key moves at all.
fn tab_after_key(key: &str, i: usize, count: usize) -> Option<usize> {
    match key {
        "ArrowRight" => Some((i + 1) % count),
        "ArrowLeft" => Some((i + count - 1) % count),
        "Home" => Some(0),
        "End" => Some(count - 1),
        _ => None,
    }
}

fn focus_tab(node: &str) {
    if let Some(doc) = dom::window().document() {
        if let Some(el) = doc.get_element_by_id(&format!("tab-{node}")) {
            if let Ok(el) = el.dyn_into::<HtmlElement>() {
                let _ = el.focus();
            }
        }
    }
}

#[function_component(Workspace)]
pub fn workspace(p: &Props) -> Html {
    let onkeydown = {
        let (nodes, tab, on_tab) = (p.nodes.clone(), p.tab.clone(), p.on_tab.clone());
        Callback::from(move |e: KeyboardEvent| {
            let i = nodes.iter().position(|n| *n == tab).unwrap_or(0);
            let Some(j) = tab_after_key(&e.key(), i, nodes.len()) else {
                return;
            };
            e.prevent_default();
            on_tab.emit((nodes[j].clone(), false));
            focus_tab(&nodes[j]);
        })
    };
    html! {
        <section class="terminals-pane" aria-label="Terminals">
            <div class="tabs" role="tablist" aria-label="Machines" {onkeydown}>
                { for p.nodes.iter().map(|n| {
                    let active = *n == p.tab;
                    let name = n.clone();
                    html! {
                        <button role="tab" class={classes!("tab", active.then_some("active"))}
                                id={format!("tab-{n}")} aria-selected={active.to_string()}
                                aria-controls={format!("panel-{n}")} tabindex={if active { "0" } else { "-1" }}
                                data-testid="node-tab" data-node={n.clone()}
                                onclick={p.on_tab.reform(move |_| (name.clone(), true))}>{ n.clone() }</button>
                    }
                }) }
            </div>
            <div class="term-stack">
                { for p.nodes.iter().map(|n| html! {
                    <Terminal key={format!("{}-{n}", p.session)} session={p.session.clone()}
                              token={p.token.clone()} node={n.clone()}
                              active={*n == p.tab} watch={p.watch}
                              on_ready={p.on_ready.clone()}
                              on_event={p.on_event.clone()} />
                }) }
            </div>
        </section>
    }
}
