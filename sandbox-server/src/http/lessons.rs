//! Lesson routes of the REST API:
//! - `GET /api/v1/lessons` -> [`LessonSummary`] list
//! - `GET /api/v1/lessons/{id}` -> [`LessonDetail`]
//! - `POST /api/v1/sessions/{id}/steps/{n}/check` -> [`CheckResult`]
//! - `GET`/`PUT /api/v1/sessions/{id}/progress` -> [`Progress`]
//!
//! Session routes need the session's bearer token, like the others.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::api::{CheckResult, LessonDetail, LessonSummary, Progress};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, AuthorizedSession, SessionLesson};
use super::state::AppState;
use crate::lessons::exec::run_script;

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

fn parse_progress(json: &str) -> Progress {
    serde_json::from_str(json).unwrap_or_default()
}

#[derive(Deserialize)]
struct StepPath {
    n: String,
}

async fn check_step(
    State(state): State<AppState>,
    SessionLesson {
        id,
        session,
        lesson,
    }: SessionLesson,
    Path(StepPath { n }): Path<StepPath>,
) -> Result<Json<CheckResult>, ApiError> {
    let n: usize = n
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("step {n:?}: expected a step number from 0")))?;
    let step = lesson.steps.get(n).ok_or_else(|| {
        ApiError::NotFound(format!(
            "lesson {:?} has {} steps (numbered from 0); no step {n}",
            lesson.summary.id,
            lesson.steps.len()
        ))
    })?;
    let check = step
        .check
        .as_ref()
        .ok_or_else(|| ApiError::NotFound(format!("step {n} has no check")))?;
    if session.terminal(&check.node).is_none() {
        return Err(ApiError::NotFound(format!(
            "the check runs in {:?}, which this session does not have",
            check.node
        )));
    }
    let outcome = run_script(
        state.sessions.runtime().as_ref(),
        &id,
        &check.node,
        &check.script,
        false,
    )
    .await?;
    let mut output = outcome.output.clone();
    if outcome.timed_out {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&format!(
            "(the check did not finish within {} s)",
            check.script.timeout_secs
        ));
    }
    let passed = outcome.passed();
    if passed {
        let mut current = session.progress.lock().await;
        let mut progress = parse_progress(&current);
        if !progress.passed_steps.contains(&n) {
            progress.passed_steps.push(n);
            progress.passed_steps.sort_unstable();
            save_progress(&state, &id, &mut current, &progress).await?;
        }
    }
    tracing::debug!(session = %id, step = n, passed, millis = outcome.millis, "check");
    Ok(Json(CheckResult {
        passed,
        output,
        millis: outcome.millis,
    }))
}

async fn get_progress(AuthorizedSession { session, .. }: AuthorizedSession) -> Json<Progress> {
    let current = session.progress.lock().await;
    Json(parse_progress(&current))
}

/// Stores the learner's progress. Steps with a check become passed only by
/// passing it (`POST .../check`); a `PUT` may keep or drop them, not add them.
async fn put_progress(
    State(state): State<AppState>,
    opened: SessionLesson,
    ApiJson(mut wanted): ApiJson<Progress>,
) -> Result<Json<Progress>, ApiError> {
    let SessionLesson { id, lesson, .. } = &opened;
    let steps = lesson.steps.len();
    if wanted.current_step >= steps.max(1) {
        return Err(ApiError::BadRequest(format!(
            "current_step {}: this lesson has {steps} steps (numbered from 0)",
            wanted.current_step
        )));
    }
    wanted.passed_steps.sort_unstable();
    wanted.passed_steps.dedup();
    if let Some(bad) = wanted.passed_steps.iter().find(|&&s| s >= steps) {
        return Err(ApiError::BadRequest(format!(
            "passed_steps: no step {bad} (this lesson has {steps}, numbered from 0)"
        )));
    }
    let mut current = opened.session.progress.lock().await;
    let stored = parse_progress(&current);
    if let Some(unchecked) = wanted
        .passed_steps
        .iter()
        .find(|&&s| lesson.steps[s].check.is_some() && !stored.passed_steps.contains(&s))
    {
        return Err(ApiError::BadRequest(format!(
            "step {unchecked} has a check: it becomes passed by POST /api/v1/sessions/{id}/steps/{unchecked}/check"
        )));
    }
    save_progress(&state, id, &mut current, &wanted).await?;
    Ok(Json(wanted))
}

/// Writes `progress` through to the store, then to the session's copy
/// (`current`, whose lock the caller holds).
async fn save_progress(
    state: &AppState,
    id: &str,
    current: &mut String,
    progress: &Progress,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(progress).expect("progress serializes");
    state
        .sessions
        .store()
        .set_progress(id, json.clone())
        .await?;
    *current = json;
    Ok(())
}
