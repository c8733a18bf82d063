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

/// The split for a key press, if the key moves the divider.
fn split_after_key(split: f64, key: &str) -> Option<f64> {
    let delta = match key {
        "ArrowLeft" => -5.0,
        "ArrowRight" => 5.0,
        "Home" => -100.0,
        "End" => 100.0,
        _ => return None,
    };
    Some(split + delta)
}

/// The split for a pointer at `x`, from the divider's parent (the workspace).
fn split_at(divider: &NodeRef, x: i32) -> Option<f64> {
    let workspace = divider.cast::<Element>()?.parent_element()?;
    let rect = workspace.get_bounding_client_rect();
    (rect.width() > 0.0).then(|| (f64::from(x) - rect.left()) / rect.width() * 100.0)
}

#[function_component(Divider)]
pub fn divider(p: &Props) -> Html {
    let dragging = use_state(|| false);
    let node = use_node_ref();
    let emit = {
        let on_split = p.on_split.clone();
        move |split: f64| on_split.emit(split.clamp(MIN_SPLIT, MAX_SPLIT))
    };
    let onpointerdown = {
        let dragging = dragging.clone();
        Callback::from(move |e: PointerEvent| {
            if let Some(t) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) {
                let _ = t.set_pointer_capture(e.pointer_id());
            }
            e.prevent_default();
            dragging.set(true);
        })
    };
    let onpointermove = {
        let (dragging, node, emit) = (dragging.clone(), node.clone(), emit.clone());
        Callback::from(move |e: PointerEvent| {
            if *dragging {
                if let Some(split) = split_at(&node, e.client_x()) {
                    emit(split);
                }
            }
        })
    };
    let drag_end = {
        let dragging = dragging.clone();
        Callback::from(move |_: PointerEvent| dragging.set(false))
    };
    let onkeydown = {
        let split = p.split;
        Callback::from(move |e: KeyboardEvent| {
            if let Some(split) = split_after_key(split, &e.key()) {
                e.prevent_default();
                emit(split);
            }
        })
    };
    html! {
        <div class={classes!("divider", dragging.then_some("dragging"))} ref={node}
             role="separator" aria-orientation="vertical" aria-label="Resize the steps and terminal panels"
             aria-valuenow={format!("{:.0}", p.split)} aria-valuemin="20" aria-valuemax="80"
             tabindex="0"
             {onpointerdown} {onpointermove}
             onpointerup={drag_end.clone()} onpointercancel={drag_end}
             {onkeydown}></div>
    }
}
