//! The HTTP layer: the REST API under `/api/v1`, the terminal WebSocket, the
//! web preview, health, metrics and the web app's static files. See
//! `docs/api.md`.
//!
//! Two routers, each served by its own listener: [`router`] (the app, on
//! `listen`) and [`preview_router`] (learners' web servers, on
//! `preview_listen`, an origin of its own).
//!
//! One module per route group; they share only [`state`], [`extract`] and
//! [`error`], never this module. Handlers parse (extractors authorise), call
//! one `Sessions` operation and map the result; session logic does not belong
//! here.

pub mod admin;
pub mod error;
pub mod extract;
pub mod files;
pub mod headers;
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
pub mod workshops;

use axum::extract::DefaultBodyLimit;
use axum::Router;

pub use state::AppState;

/// The app's router: the API (JSON bodies up to [`extract::MAX_JSON_BODY`];
/// file uploads have their own limit), operator routes, the web app as the
/// fallback, and `/preview/...` only as a redirect to the preview origin. The
/// app's security headers ([`headers`]) go on every answer.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(sessions::routes())
        .merge(terminal::routes())
        .merge(lessons::routes())
        .merge(admin::routes())
        .merge(workshops::routes())
        .fallback(ops::api_not_found)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY))
        .merge(files::routes());
    let router = Router::new()
        .nest(protocol::api::API_PREFIX, api)
        .merge(ops::routes())
        .merge(preview::app_routes());
    let router = ops::fallback(router, state.config.static_dir.as_deref());
    let app_headers = axum::middleware::from_fn_with_state(
        headers::AppHeaders::new(state.config.static_dir.as_deref()),
        headers::app_headers,
    );
    let host_mode = axum::middleware::from_fn_with_state(state.clone(), preview::app_middleware);
    router.layer(host_mode).layer(app_headers).with_state(state)
}

/// The preview listener's router: previews only (path mode, and host mode
/// and `Referer` redirects in the middleware in front), a 404 for anything
/// else.
pub fn preview_router(state: AppState) -> Router {
    let preview = axum::middleware::from_fn_with_state(state.clone(), preview::middleware);
    preview::routes().layer(preview).with_state(state)
}
