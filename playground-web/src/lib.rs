//! The learner's web app. See `docs/web.md`.
//!
//! The modules at the top are plain Rust (no browser APIs) and are unit tested
//! natively with `cargo test -p playground-web`. The browser app itself
//! (`app`: Yew components, gloo HTTP/WebSocket/timers, the xterm.js binding)
//! only builds for `wasm32`.

pub mod backoff;
pub mod captures;
pub mod catalog;
pub mod flow;
pub mod markdown;
pub mod progress;
pub mod route;
pub mod timefmt;
pub mod workshop;

#[cfg(target_arch = "wasm32")]
mod app;

/// Mounts the app on `<body>`.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
