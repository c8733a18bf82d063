//! The thin wasm-bindgen layer over xterm.js 6 and its addons, loaded as
//! classic scripts by `index.html` (globals `Terminal`, `FitAddon.FitAddon`,
//! `WebglAddon.WebglAddon`, `WebLinksAddon.WebLinksAddon`,
//! `Unicode11Addon.Unicode11Addon`). Only `terminal/xterm_setup.rs` uses it.

use js_sys::{Function, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

#[wasm_bindgen]
extern "C" {
    /// `Terminal` of `@xterm/xterm`.
    #[derive(Clone)]
    pub type Terminal;

    #[wasm_bindgen(constructor, catch)]
    pub fn new(options: &Object) -> Result<Terminal, JsValue>;

    #[wasm_bindgen(method)]
    pub fn open(this: &Terminal, parent: &HtmlElement);

    /// Writes raw bytes (UTF-8 is decoded by xterm); `callback` runs once they are parsed.
    #[wasm_bindgen(method, js_name = write)]
    pub fn write_bytes(this: &Terminal, data: &Uint8Array, callback: &Function);

    #[wasm_bindgen(method, js_name = write)]
    pub fn write_str(this: &Terminal, data: &str);

    #[wasm_bindgen(method, js_name = loadAddon, catch)]
    pub fn load_addon(this: &Terminal, addon: &JsValue) -> Result<(), JsValue>;

    #[wasm_bindgen(method)]
    pub fn focus(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn reset(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn dispose(this: &Terminal);

    #[wasm_bindgen(method, getter)]
    pub fn cols(this: &Terminal) -> u16;

    #[wasm_bindgen(method, getter)]
    pub fn rows(this: &Terminal) -> u16;

    #[wasm_bindgen(method, js_name = getSelection)]
    pub fn get_selection(this: &Terminal) -> String;

    #[wasm_bindgen(method, js_name = hasSelection)]
    pub fn has_selection(this: &Terminal) -> bool;

    /// `onData(cb)`: typed text (and pasted text), as a JS string.
    #[wasm_bindgen(method, js_name = onData)]
    pub fn on_data(this: &Terminal, callback: &Function) -> JsValue;

    /// `onBinary(cb)`: non-UTF-8 input (some mouse reports), one char per byte.
    #[wasm_bindgen(method, js_name = onBinary)]
    pub fn on_binary(this: &Terminal, callback: &Function) -> JsValue;

    /// `onResize(cb)`: `{cols, rows}` after a resize.
    #[wasm_bindgen(method, js_name = onResize)]
    pub fn on_resize(this: &Terminal, callback: &Function) -> JsValue;

    /// The handler sees every key event first; returning false makes xterm
    /// ignore it (the browser's default, such as copy or paste, still happens).
    #[wasm_bindgen(method, js_name = attachCustomKeyEventHandler)]
    pub fn attach_custom_key_event_handler(this: &Terminal, handler: &Function);

    #[wasm_bindgen(method, getter)]
    pub fn unicode(this: &Terminal) -> Unicode;

    pub type Unicode;

    #[wasm_bindgen(method, setter, js_name = activeVersion)]
    pub fn set_active_version(this: &Unicode, version: &str);

    #[derive(Clone)]
    pub type FitAddon;

    #[wasm_bindgen(method, catch)]
    pub fn fit(this: &FitAddon) -> Result<(), JsValue>;

    pub type WebglAddon;

    #[wasm_bindgen(method, js_name = onContextLoss)]
    pub fn on_context_loss(this: &WebglAddon, callback: &Function) -> JsValue;

    #[wasm_bindgen(method, js_name = dispose)]
    pub fn dispose_addon(this: &WebglAddon);

    pub type WebLinksAddon;

    pub type Unicode11Addon;
}

/// Whether the xterm.js scripts have loaded (they are `defer`red).
pub fn loaded() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("Terminal"))
        .map(|v| v.is_function())
        .unwrap_or(false)
}

/// `new globalThis[name][name]()`: how the UMD builds of the addons export
/// their classes (`new FitAddon.FitAddon()`).
pub fn new_addon<T: JsCast>(name: &str) -> Result<T, JsValue> {
    let ns = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(name))?;
    let class = js_sys::Reflect::get(&ns, &JsValue::from_str(name))?;
    let class: Function = class
        .dyn_into()
        .map_err(|_| JsValue::from_str(&format!("{name} is not loaded")))?;
    Ok(js_sys::Reflect::construct(&class, &js_sys::Array::new())?.unchecked_into())
}
