//! Lesson routes of the REST API (merged into [`crate::api::router`]):
//! - `GET /api/v1/lessons/{id}` -> [`LessonDetail`]
//! - `POST /api/v1/sessions/{id}/steps/{n}/check` -> [`CheckResult`]
//! - `GET`/`PUT /api/v1/sessions/{id}/progress` -> [`Progress`]
//!
//! Session routes need the session's bearer token, like the others.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{CheckResult, LessonDetail, Progress};

use crate::api::{bearer, AppState};
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lessons/{id}", get(get_lesson))
        .route("/sessions/{id}/steps/{n}/check", post(check_step))
        .route(
            "/sessions/{id}/progress",
            get(get_progress).put(put_progress),
        )
}

async fn get_lesson(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<LessonDetail>, ApiError> {
    let lesson = state
        .catalog
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no lesson {id:?}")))?;
    Ok(Json(lesson.detail()))
}

async fn check_step(
    State(state): State<AppState>,
    UrlPath((id, n)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<CheckResult>, ApiError> {
    let session = state.sessions.authorize(&id, bearer(&headers))?;
    let n: usize = n
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("step {n:?}: expected a step number from 0")))?;
    Ok(Json(state.sessions.run_check(&session, n).await?))
}

async fn get_progress(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<Progress>, ApiError> {
    let session = state.sessions.authorize(&id, bearer(&headers))?;
    Ok(Json(state.sessions.progress(&session).await))
}

/// Stores the learner's progress. Steps with a check become passed only by
/// passing it (`POST .../check`); a `PUT` may keep or drop them, not add them.
async fn put_progress(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Result<Json<Progress>, JsonRejection>,
) -> Result<Json<Progress>, ApiError> {
    let session = state.sessions.authorize(&id, bearer(&headers))?;
    let Json(wanted) = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("progress body too large".into())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    Ok(Json(state.sessions.set_progress(&session, wanted).await?))
}
