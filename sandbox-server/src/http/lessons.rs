//! Lesson routes of the REST API:
//! - `GET /api/v1/lessons` -> [`LessonSummary`] list
//! - `GET /api/v1/lessons/{id}` -> [`LessonDetail`]
//! - `POST /api/v1/sessions/{id}/steps/{n}/check` -> [`CheckResult`]
//! - `GET`/`PUT /api/v1/sessions/{id}/progress` -> [`Progress`]
//! - `GET /api/v1/sessions/{id}/captures` -> [`CapturedValue`] list
//!
//! Session routes need the session's bearer token, like the others.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{CapturedValue, CheckResult, LessonDetail, LessonSummary, Progress};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, AuthorizedSession};
use super::state::AppState;

/// The lesson routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lessons", get(list_lessons))
        .route("/lessons/{id}", get(get_lesson))
        .route("/sessions/{id}/steps/{n}/check", post(check_step))
        .route(
            "/sessions/{id}/progress",
            get(get_progress).put(put_progress),
        )
        .route("/sessions/{id}/captures", get(get_captures))
}

async fn list_lessons(State(state): State<AppState>) -> Json<Vec<LessonSummary>> {
    Json(state.catalog.summaries())
}

async fn get_lesson(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LessonDetail>, ApiError> {
    let lesson = state
        .catalog
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no lesson {id:?}")))?;
    Ok(Json(lesson.detail()))
}

#[derive(Deserialize)]
struct StepPath {
    n: String,
}

/// Runs the step's check in its node; a pass is recorded in the progress.
async fn check_step(
    State(state): State<AppState>,
    AuthorizedSession { session, .. }: AuthorizedSession,
    Path(StepPath { n }): Path<StepPath>,
) -> Result<Json<CheckResult>, ApiError> {
    let n: usize = n
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("step {n:?}: expected a step number from 0")))?;
    Ok(Json(state.sessions.run_check(&session, n).await?))
}

async fn get_progress(
    State(state): State<AppState>,
    AuthorizedSession { session, .. }: AuthorizedSession,
) -> Json<Progress> {
    Json(state.sessions.progress(&session).await)
}

/// Stores the learner's progress. Steps with a check become passed only by
/// passing it (`POST .../check`); a `PUT` may keep or drop them, not add them.
async fn put_progress(
    State(state): State<AppState>,
    AuthorizedSession { session, .. }: AuthorizedSession,
    ApiJson(wanted): ApiJson<Progress>,
) -> Result<Json<Progress>, ApiError> {
    Ok(Json(state.sessions.set_progress(&session, wanted).await?))
}

/// The values the lesson captures from its nodes' output, as last seen.
async fn get_captures(
    State(state): State<AppState>,
    AuthorizedSession { session, .. }: AuthorizedSession,
) -> Result<Json<Vec<CapturedValue>>, ApiError> {
    Ok(Json(state.sessions.captures(&session)?))
}
