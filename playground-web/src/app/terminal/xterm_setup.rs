//! The xterm.js side of a terminal: creating it with its options and addons
//! (fit, Unicode 11, web links, WebGL), keeping it fitted to its element, and
//! the copy/paste keys. It knows nothing of sockets: typed input and size
//! changes go to the callbacks given to [`Screen::listen`].

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent, ResizeObserver};

use super::super::dom;
use super::super::xterm;

/// One xterm.js terminal opened in its host element.
pub struct Screen {
    term: xterm::Terminal,
    fit: xterm::FitAddon,
    host: HtmlElement,
    /// Shared with the context-loss callback, which disposes of it.
    webgl: Rc<RefCell<Option<xterm::WebglAddon>>>,
    observer: RefCell<Option<ResizeObserver>>,
    /// JS callbacks that must live as long as the terminal.
    closures: RefCell<Vec<Box<dyn Any>>>,
}

/// The terminal's options; `read_only` takes no input and shows no blinking cursor.
fn terminal_options(read_only: bool) -> Object {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("cursorBlink", (!read_only).into());
    set("disableStdin", read_only.into());
    set("allowProposedApi", true.into());
    set("scrollback", 5000.into());
    set("fontSize", 14.into());
    set(
        "fontFamily",
        "ui-monospace, 'DejaVu Sans Mono', 'Cascadia Mono', Menlo, Consolas, monospace".into(),
    );
    set("rightClickSelectsWord", true.into());
    let theme = Object::new();
    for (k, v) in [
        ("background", "#0f1419"),
        ("foreground", "#e6e6e6"),
        ("cursor", "#f0f0f0"),
        ("selectionBackground", "#3d5a80"),
    ] {
        let _ = Reflect::set(&theme, &k.into(), &v.into());
    }
    set("theme", theme.into());
    o
}

/// `localStorage["playground.renderer"] = "dom"` forces xterm's DOM renderer.
fn dom_renderer_forced() -> bool {
    <gloo_storage::LocalStorage as gloo_storage::Storage>::raw()
        .get_item("playground.renderer")
        .ok()
        .flatten()
        .as_deref()
        == Some("dom")
}

impl Screen {
    /// Creates the terminal in `host` with its addons, and keeps it fitted to
    /// `host` from now on; `read_only` for a terminal that only watches.
    pub fn create(host: HtmlElement, read_only: bool) -> Result<Screen, String> {
        if !xterm::loaded() {
            return Err("the terminal scripts (xterm.js) did not load".into());
        }
        let err = |e: JsValue| format!("{e:?}");
        let term = xterm::Terminal::new(&terminal_options(read_only)).map_err(err)?;
        let fit = xterm::new_addon::<xterm::FitAddon>("FitAddon").map_err(err)?;
        term.load_addon(&fit).map_err(err)?;
        if let Ok(unicode) = xterm::new_addon::<xterm::Unicode11Addon>("Unicode11Addon") {
            if term.load_addon(&unicode).is_ok() {
                term.unicode().set_active_version("11");
            }
        }
        if let Ok(links) = xterm::new_addon::<xterm::WebLinksAddon>("WebLinksAddon") {
            let _ = term.load_addon(&links);
        }
        term.open(&host);
        // Test hook: the browser tests read the screen from the terminal's buffer
        // (the WebGL renderer draws to a canvas, not to the DOM).
        let _ = Reflect::set(&host, &"__xterm".into(), &term);
        let screen = Screen {
            term,
            fit,
            host,
            webgl: Rc::default(),
            observer: RefCell::new(None),
            closures: RefCell::default(),
        };
        screen.load_webgl();
        screen.observe_size();
        Ok(screen)
    }

    /// WebGL renderer when the browser has it; xterm's DOM renderer otherwise
    /// (and again after a lost context).
    fn load_webgl(&self) {
        if dom_renderer_forced() {
            return;
        }
        let Ok(webgl) = xterm::new_addon::<xterm::WebglAddon>("WebglAddon") else {
            return;
        };
        if self.term.load_addon(&webgl).is_err() {
            return;
        }
        let slot = Rc::downgrade(&self.webgl);
        let lost = Closure::<dyn FnMut()>::new(move || {
            if let Some(addon) = slot.upgrade().and_then(|s| s.borrow_mut().take()) {
                addon.dispose_addon();
            }
        });
        webgl.on_context_loss(lost.as_ref().unchecked_ref());
        self.keep(lost);
        *self.webgl.borrow_mut() = Some(webgl);
    }

    /// Fits now and whenever the host element changes size.
    fn observe_size(&self) {
        self.fit();
        let (fit, host) = (self.fit.clone(), self.host.clone());
        let on_box = Closure::<dyn FnMut()>::new(move || fit_to(&fit, &host));
        if let Ok(observer) = ResizeObserver::new(on_box.as_ref().unchecked_ref()) {
            observer.observe(&self.host);
            *self.observer.borrow_mut() = Some(observer);
        }
        self.keep(on_box);
    }

    /// Sends what the learner types (and pastes) to `on_input`, and the new
    /// size after each resize to `on_resize`; handles the copy/paste keys.
    pub fn listen(
        &self,
        on_input: impl Fn(&[u8]) + 'static,
        on_resize: impl Fn(u16, u16) + 'static,
    ) {
        let on_input = Rc::new(on_input);
        let input = on_input.clone();
        let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| input(data.as_bytes()));
        self.term.on_data(on_data.as_ref().unchecked_ref());
        let on_binary = Closure::<dyn FnMut(String)>::new(move |data: String| {
            let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
            on_input(&bytes);
        });
        self.term.on_binary(on_binary.as_ref().unchecked_ref());
        let on_size = Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let get = |k: &str| {
                Reflect::get(&size, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0) as u16
            };
            let (cols, rows) = (get("cols"), get("rows"));
            if cols > 0 && rows > 0 {
                on_resize(cols, rows);
            }
        });
        self.term.on_resize(on_size.as_ref().unchecked_ref());
        let term = self.term.clone();
        let on_key = Closure::<dyn FnMut(KeyboardEvent) -> bool>::new(move |ev: KeyboardEvent| {
            copy_paste_key(&term, &ev)
        });
        self.term
            .attach_custom_key_event_handler(on_key.as_ref().unchecked_ref());
        self.keep(on_data);
        self.keep(on_binary);
        self.keep(on_size);
        self.keep(on_key);
    }

    fn keep<T: Any>(&self, closure: T) {
        self.closures.borrow_mut().push(Box::new(closure));
    }

    /// Fits the terminal to its element, unless that is hidden (zero-sized).
    pub fn fit(&self) {
        fit_to(&self.fit, &self.host);
    }

    pub fn focus(&self) {
        self.term.focus();
    }

    pub fn cols(&self) -> u16 {
        self.term.cols()
    }

    pub fn rows(&self) -> u16 {
        self.term.rows()
    }

    /// Writes raw output; `done` runs once xterm has parsed it.
    pub fn write_bytes(&self, bytes: &[u8], done: &Function) {
        self.term.write_bytes(&Uint8Array::from(bytes), done);
    }

    pub fn write_str(&self, text: &str) {
        self.term.write_str(text);
    }

    /// Stops observing, disposes of the terminal and drops its callbacks.
    pub fn dispose(&self) {
        if let Some(o) = self.observer.borrow_mut().take() {
            o.disconnect();
        }
        self.term.dispose();
        self.closures.borrow_mut().clear();
    }
}

fn fit_to(fit: &xterm::FitAddon, host: &HtmlElement) {
    if host.client_width() > 0 && host.client_height() > 0 {
        let _ = fit.fit();
    }
}

/// The copy/paste keys. Returns whether xterm should handle the key itself.
fn copy_paste_key(term: &xterm::Terminal, ev: &KeyboardEvent) -> bool {
    if !(ev.ctrl_key() && !ev.alt_key() && !ev.meta_key()) {
        return true;
    }
    match (ev.key().to_ascii_lowercase().as_str(), ev.shift_key()) {
        // Ctrl+Shift+C is the devtools shortcut in Chromium: copy ourselves.
        ("c", true) => {
            if ev.type_() == "keydown" && term.has_selection() {
                dom::copy_text(&term.get_selection());
            }
            ev.prevent_default();
            false
        }
        // Ctrl+C with a selection: the browser's copy (xterm fills the clipboard).
        ("c", false) if term.has_selection() => false,
        // Paste: let the browser fire its paste event, which xterm handles.
        ("v", _) => false,
        _ => true,
    }
}
