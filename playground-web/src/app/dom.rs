//! Small browser helpers.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Copies text: the async Clipboard API where the page is a secure context,
/// else a hidden textarea and `execCommand("copy")` (plain-HTTP deployments).
pub fn copy_text(text: &str) -> bool {
    let w = window();
    if w.is_secure_context() {
        if let Ok(clipboard) = js_sys::Reflect::get(&w.navigator(), &"clipboard".into()) {
            if let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into()) {
                if let Some(write) = write.dyn_ref::<js_sys::Function>() {
                    if write.call1(&clipboard, &text.into()).is_ok() {
                        return true;
                    }
                }
            }
        }
    }
    let Some(doc) = w.document() else {
        return false;
    };
    let Ok(area) = doc.create_element("textarea") else {
        return false;
    };
    area.set_text_content(Some(text));
    let _ = area.set_attribute("style", "position:fixed;left:-9999px;top:0");
    let _ = area.set_attribute("aria-hidden", "true");
    let Some(body) = doc.body() else {
        return false;
    };
    let _ = body.append_child(&area);
    let active = doc.active_element();
    let ok = area
        .dyn_ref::<web_sys::HtmlTextAreaElement>()
        .map(|a| {
            a.select();
            let exec = js_sys::Reflect::get(&doc, &"execCommand".into()).ok();
            exec.and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call1(&doc, &JsValue::from_str("copy")).ok())
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        })
        .unwrap_or(false);
    area.remove();
    if let Some(el) = active.and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
    ok
}

/// `ws://` or `wss://` URL for a path on this page's server.
pub fn ws_url(path_and_query: &str) -> String {
    let loc = window().location();
    let scheme = if loc.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = loc.host().unwrap_or_default();
    format!("{scheme}://{host}{path_and_query}")
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}
