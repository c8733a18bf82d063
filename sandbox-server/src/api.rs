//! HTTP routes: the REST API under `/api/v1`, the terminal WebSocket, health,
//! metrics, and the web app's static files. See `docs/api.md`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::api::{CreateSessionRequest, CreatedSession, LessonSummary, SessionInfo};
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use crate::config::Config;
use crate::error::ApiError;
use crate::lessons::Catalog;
use crate::metrics::Metrics;
use crate::sessions::{rfc3339, EndReason, Session, Sessions};
use crate::terminal_ws;

/// Largest JSON request body accepted.
const MAX_JSON_BODY: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: Arc<Sessions>,
    pub catalog: Arc<Catalog>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/lessons", get(list_lessons))
        .route("/sessions", axum::routing::post(create_session))
        .route("/sessions/{id}", get(get_session).delete(delete_session))
        .route(
            "/sessions/{id}/nodes/{node}/terminal",
            get(terminal_ws::upgrade),
        )
        .route("/sessions/{id}/nodes/{node}/screen", get(screen))
        .route(
            "/sessions/{id}/nodes/{node}/restart",
            axum::routing::post(restart_node),
        )
        .merge(crate::lesson_api::routes())
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .merge(crate::files::routes());
    let router = Router::new()
        .nest(protocol::api::API_PREFIX, api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::preview::routes());
    let router = match &state.config.static_dir {
        Some(dir) => router.fallback_service(static_files(dir)),
        None => router.fallback(not_found),
    };
    let preview = axum::middleware::from_fn_with_state(state.clone(), crate::preview::middleware);
    router.layer(preview).with_state(state)
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

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.sessions.live_count()),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such page".into())
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API route; see docs/api.md".into())
}

async fn list_lessons(State(state): State<AppState>) -> Json<Vec<LessonSummary>> {
    Json(state.catalog.summaries())
}

/// The client's address: the peer, or behind a trusted proxy the first
/// `X-Forwarded-For` entry.
pub fn client_ip(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> String {
    if config.trust_forwarded_for {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_owned();
        }
    }
    peer.ip().to_string()
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn create_session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<CreateSessionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    let Json(request) = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body over {MAX_JSON_BODY} bytes"))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    let ip = client_ip(&state.config, peer, &headers);
    let (session, token) = state.sessions.create(&request.lesson, &ip).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSession {
            id: session.record.id.clone(),
            token,
            lesson: session.record.lesson.clone(),
            expires_at: rfc3339(session.record.expires_at),
            nodes: session.nodes(),
        }),
    ))
}

fn authorized(state: &AppState, id: &str, headers: &HeaderMap) -> Result<Arc<Session>, ApiError> {
    Ok(state.sessions.authorize(id, bearer(headers))?)
}

async fn get_session(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    Ok(Json(authorized(&state, &id, &headers)?.info()))
}

async fn delete_session(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorized(&state, &id, &headers)?;
    state.sessions.end(&id, EndReason::Deleted).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn screen(
    State(state): State<AppState>,
    UrlPath((id, node)): UrlPath<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).or(query.token.as_deref());
    let session = state.sessions.authorize(&id, token)?;
    let terminal = session
        .terminal(&node)
        .ok_or_else(|| ApiError::NotFound(format!("session {id} has no node {node:?}")))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        terminal.screen_text(),
    )
        .into_response())
}

/// `POST .../nodes/{node}/restart`: the learner's "Restart node". The node's
/// processes restart, its files stay; terminals are asked to reconnect and get
/// a new shell. 409 while that node is already restarting.
async fn restart_node(
    State(state): State<AppState>,
    UrlPath((id, node)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let session = state.sessions.authorize(&id, bearer(&headers))?;
    state.sessions.restart_node(&session, &node).await?;
    Ok(StatusCode::NO_CONTENT)
}
