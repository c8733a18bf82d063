//! Renders lesson Markdown (see `crate::markdown`) and handles its Run and
//! Copy buttons by delegation.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::Element;
use yew::prelude::*;

use super::dom;
use crate::markdown::{self, Action, CodeBlock, Preview};

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub md: AttrValue,
    /// Session id for `preview:` links.
    #[prop_or_default]
    pub session: Option<AttrValue>,
    /// The session's preview token, carried by `preview:` links.
    #[prop_or_default]
    pub preview_token: AttrValue,
    /// The preview origin (`http://host:8081`) `preview:` links point to; empty:
    /// the app's own, which redirects there.
    #[prop_or_default]
    pub preview_origin: AttrValue,
    /// A Run button was pressed.
    pub on_run: Callback<CodeBlock>,
    #[prop_or_default]
    pub class: Classes,
}

#[function_component(Markdown)]
pub fn markdown_view(p: &Props) -> Html {
    let rendered = use_memo(
        (
            p.md.clone(),
            p.session.clone(),
            p.preview_token.clone(),
            p.preview_origin.clone(),
        ),
        |(md, session, token, origin)| {
            let preview = session.as_deref().map(|session| Preview {
                session,
                token,
                origin,
            });
            markdown::render(md, preview)
        },
    );
    let onclick = {
        let rendered: Rc<markdown::Rendered> = rendered.clone();
        let on_run = p.on_run.clone();
        Callback::from(move |e: MouseEvent| {
            let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
                return;
            };
            let Ok(Some(button)) = target.closest("button[data-block]") else {
                return;
            };
            let Some(block) = button
                .get_attribute("data-block")
                .and_then(|v| v.parse::<usize>().ok())
                .and_then(|i| rendered.blocks.get(i))
            else {
                return;
            };
            match &block.action {
                Action::Run { .. } => {
                    on_run.emit(block.clone());
                    flash(&button, "Sent ✓");
                }
                Action::Copy => {
                    let ok = dom::copy_text(&block.code);
                    flash(&button, if ok { "Copied ✓" } else { "Copy failed" });
                }
                Action::None => {}
            }
        })
    };
    html! {
        <div class={classes!("md", p.class.clone())} {onclick}>
            { Html::from_html_unchecked(AttrValue::from(rendered.html.clone())) }
        </div>
    }
}

/// Shows `text` on a button for a moment (announced by screen readers via
/// the live region of the step).
fn flash(button: &Element, text: &str) {
    if button.get_attribute("data-label").is_none() {
        let _ = button.set_attribute("data-label", &button.inner_html());
    }
    button.set_text_content(Some(text));
    let button = button.clone();
    gloo_timers::callback::Timeout::new(1500, move || {
        if let Some(label) = button.get_attribute("data-label") {
            button.set_inner_html(&label);
        }
    })
    .forget();
}
