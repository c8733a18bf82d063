//! Routes for operators and the browser: `/healthz`, `/metrics`, the built web
//! app, and the 404 fallbacks.

use std::path::Path;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

use super::error::ApiError;
use super::state::AppState;
use crate::metrics;

/// `/healthz` and `/metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
}

/// What answers paths no route matches: the web app when `static_dir` is set,
/// else a JSON 404.
pub fn fallback(router: Router<AppState>, static_dir: Option<&Path>) -> Router<AppState> {
    match static_dir {
        Some(dir) => router.fallback_service(static_files(dir)),
        None => router.fallback(not_found),
    }
}

/// The built web app; paths that are not files get `index.html` with status
/// 200, so the app's own routes (`/lessons/{id}`) survive a reload.
fn static_files(dir: &Path) -> ServeDir<ServeFile> {
    ServeDir::new(dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(dir.join("index.html")).precompressed_gzip())
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state
            .metrics
            .render(state.sessions.live_count(), &state.sessions.pool_ready()),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such page".into())
}

/// Paths under `/api/v1` that no route matches.
pub async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API route; see docs/api.md".into())
}
