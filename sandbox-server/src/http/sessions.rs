//! Session routes: create, read and end a session; a node's screen as text;
//! the learner's "Restart node".
//!
//! Handlers parse (the extractors authorise), call one `Sessions` operation
//! and shape the answer. Session logic does not belong here.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{CreateSessionRequest, CreatedSession, SessionInfo};

use super::error::ApiError;
use super::extract::{
    ApiJson, AuthorizedSession, ClientIp, HeaderOrQuery, PreviewOrigin, SessionNode,
};
use super::state::AppState;

/// The session routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", post(create_session))
        .route("/sessions/{id}", get(get_session).delete(delete_session))
        .route("/sessions/{id}/nodes/{node}/screen", get(screen))
        .route("/sessions/{id}/nodes/{node}/restart", post(restart_node))
}

async fn create_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PreviewOrigin(preview_origin): PreviewOrigin,
    ApiJson(request): ApiJson<CreateSessionRequest>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    state
        .creations
        .take(&ip, std::time::Instant::now())
        .map_err(|wait| ApiError::RateLimited(wait.as_secs_f64().ceil() as u64))?;
    let (session, token) = match state.sessions.create(&request.lesson, &ip).await {
        Ok(created) => created,
        Err(e) => {
            let e = ApiError::from(e);
            // Refused before anything started: the token was not used.
            if e.status().is_client_error() || e.status() == StatusCode::SERVICE_UNAVAILABLE {
                state.creations.give_back(&ip);
            }
            return Err(e);
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(session.created(token, preview_origin)),
    ))
}

async fn get_session(
    PreviewOrigin(preview_origin): PreviewOrigin,
    AuthorizedSession { session, .. }: AuthorizedSession,
) -> Json<SessionInfo> {
    Json(session.info(preview_origin))
}

async fn delete_session(
    State(state): State<AppState>,
    AuthorizedSession { id, .. }: AuthorizedSession,
) -> Result<StatusCode, ApiError> {
    state.sessions.end_requested(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../nodes/{node}/screen`: the node's screen as plain text (the mirror).
async fn screen(node: SessionNode<HeaderOrQuery>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        node.terminal.screen_text(),
    )
        .into_response()
}

/// `POST .../nodes/{node}/restart`: the learner's "Restart node". The node's
/// processes restart, its files stay; terminals are asked to reconnect and get
/// a new shell. 409 while that node is already restarting.
async fn restart_node(
    State(state): State<AppState>,
    SessionNode { node, session, .. }: SessionNode,
) -> Result<StatusCode, ApiError> {
    state.sessions.restart_node(&session, &node).await?;
    Ok(StatusCode::NO_CONTENT)
}
