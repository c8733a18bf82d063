//! The draggable divider between the steps and the terminals. It reports the
//! new width of the steps pane (percent of its parent, the workspace); the page
//! keeps the width. Arrow keys move it when focused; Home and End go to the ends.

use wasm_bindgen::JsCast;
use web_sys::Element;
use yew::prelude::*;

/// The steps pane stays between these widths (percent).
const MIN_SPLIT: f64 = 20.0;
const MAX_SPLIT: f64 = 80.0;

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    /// Width of the steps pane, percent of the workspace.
    pub split: f64,
    pub on_split: Callback<f64>,
}

pub enum Msg {
    DragStart(PointerEvent),
    DragMove(PointerEvent),
    DragEnd,
    Key(KeyboardEvent),
}

pub struct Divider {
    dragging: bool,
    node: NodeRef,
}

impl Component for Divider {
    type Message = Msg;
    type Properties = Props;

    fn create(_ctx: &Context<Self>) -> Self {
        Divider {
            dragging: false,
            node: NodeRef::default(),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        let split = match msg {
            Msg::DragStart(e) => {
                if let Some(t) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) {
                    let _ = t.set_pointer_capture(e.pointer_id());
                }
                e.prevent_default();
                self.dragging = true;
                return true;
            }
            Msg::DragEnd => {
                self.dragging = false;
                return true;
            }
            Msg::DragMove(e) => {
                if !self.dragging {
                    return false;
                }
                let Some(ws) = self.node.cast::<Element>().and_then(|d| d.parent_element()) else {
                    return false;
                };
                let rect = ws.get_bounding_client_rect();
                if rect.width() <= 0.0 {
                    return false;
                }
                (f64::from(e.client_x()) - rect.left()) / rect.width() * 100.0
            }
            Msg::Key(e) => {
                let delta = match e.key().as_str() {
                    "ArrowLeft" => -5.0,
                    "ArrowRight" => 5.0,
                    "Home" => -100.0,
                    "End" => 100.0,
                    _ => return false,
                };
                e.prevent_default();
                ctx.props().split + delta
            }
        };
        ctx.props().on_split.emit(split.clamp(MIN_SPLIT, MAX_SPLIT));
        false
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <div class={classes!("divider", self.dragging.then_some("dragging"))} ref={self.node.clone()}
                 role="separator" aria-orientation="vertical" aria-label="Resize the steps and terminal panels"
                 aria-valuenow={format!("{:.0}", ctx.props().split)} aria-valuemin="20" aria-valuemax="80"
                 tabindex="0"
                 onpointerdown={link.callback(Msg::DragStart)}
                 onpointermove={link.callback(Msg::DragMove)}
                 onpointerup={link.callback(|_| Msg::DragEnd)}
                 onpointercancel={link.callback(|_| Msg::DragEnd)}
                 onkeydown={link.callback(Msg::Key)}></div>
        }
    }
}
