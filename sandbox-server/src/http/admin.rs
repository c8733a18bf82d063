//! Operator routes, opened by the admin token (`Authorization: Bearer`): every
//! live session, and ending one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use protocol::admin::AdminSessions;

use super::error::ApiError;
use super::extract::Admin;
use super::state::AppState;

/// The operator routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sessions", get(list_sessions))
        .route("/admin/sessions/{id}", delete(end_session))
}

/// `GET /admin/sessions`: every live session, oldest first.
async fn list_sessions(_: Admin, State(state): State<AppState>) -> Json<AdminSessions> {
    Json(AdminSessions {
        sessions: state.sessions.admin_sessions().await,
    })
}

/// `DELETE /admin/sessions/{id}`: ends the session (its learner's terminals
/// are told); 404 when no such session is live.
async fn end_session(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.sessions.get_for_operator(&id)?;
    state.sessions.end_requested(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
