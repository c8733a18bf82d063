//! The HTTP layer: the REST API under `/api/v1`, the terminal WebSocket, the
//! web preview, health, metrics and the web app's static files. See
//! `docs/api.md`.
//!
//! One module per route group; they share only [`state`], [`extract`] and
//! [`error`], never this module. Handlers parse (extractors authorise), call
//! one `Sessions` operation and map the result; session logic does not belong
//! here.

pub mod error;
pub mod extract;
pub mod files;
pub mod lessons;
pub mod listener;
pub mod ops;
pub mod preview;
pub mod rate_limit;
mod resize_throttle;
pub mod sessions;
mod spool;
pub mod state;
pub mod terminal;
#[cfg(test)]
mod tests_preview_token;

use axum::extract::DefaultBodyLimit;
use axum::Router;

pub use state::AppState;

/// The whole router: the API (JSON bodies up to [`extract::MAX_JSON_BODY`];
/// file uploads have their own limit), the preview routes and operator
/// routes, the web app as the fallback, and the preview middleware in front
/// of everything (host-mode previews and `Referer` redirects come first).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(sessions::routes())
        .merge(terminal::routes())
        .merge(lessons::routes())
        .fallback(ops::api_not_found)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY))
        .merge(files::routes());
    let router = Router::new()
        .nest(protocol::api::API_PREFIX, api)
        .merge(ops::routes())
        .merge(preview::routes());
    let router = ops::fallback(router, state.config.static_dir.as_deref());
    let preview = axum::middleware::from_fn_with_state(state.clone(), preview::middleware);
    router.layer(preview).with_state(state)
}
