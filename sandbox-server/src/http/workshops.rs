//! Workshop routes: an instructor (the admin token) opens, reads and ends a
//! workshop; learners join it with its code and a name, and get a session as
//! `POST /sessions` gives one.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::admin::{CreateWorkshopRequest, JoinRequest, Workshop, WorkshopDetail, Workshops};
use protocol::api::CreatedSession;

use super::error::ApiError;
use super::extract::{Admin, ApiJson, AppOrigin, ClientIp, PreviewOrigin};
use super::state::AppState;
use crate::sessions::{rfc3339, SessionError};
use crate::store::WorkshopRecord;

/// The workshop routes, nested under `/api/v1`. `{id}` is a workshop's id,
/// except in `.../join`, where it is the code learners were given.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workshops", post(create).get(list))
        .route("/workshops/{id}", get(detail).delete(end))
        .route("/workshops/{id}/join", post(join))
}

/// A stored workshop as the API shows it, its join link on `origin`.
fn workshop(record: &WorkshopRecord, origin: &str) -> Workshop {
    let code = protocol::join_code::display(&record.code);
    Workshop {
        id: record.id.clone(),
        join_url: format!("{origin}/join/{code}"),
        code,
        lesson: record.lesson.clone(),
        seats: record.seats,
        created_at: rfc3339(record.created_at),
        expires_at: rfc3339(record.expires_at),
    }
}

/// `POST /workshops` (admin): opens a workshop; 201 with its code and link.
async fn create(
    _: Admin,
    State(state): State<AppState>,
    AppOrigin(origin): AppOrigin,
    ApiJson(request): ApiJson<CreateWorkshopRequest>,
) -> Result<(StatusCode, Json<Workshop>), ApiError> {
    let record = state
        .sessions
        .create_workshop(&request.lesson, request.seats, request.expires_in_secs)
        .await?;
    Ok((StatusCode::CREATED, Json(workshop(&record, &origin))))
}

/// `GET /workshops` (admin): the open workshops.
async fn list(
    _: Admin,
    State(state): State<AppState>,
    AppOrigin(origin): AppOrigin,
) -> Json<Workshops> {
    Json(Workshops {
        workshops: state
            .sessions
            .workshops()
            .iter()
            .map(|w| workshop(w, &origin))
            .collect(),
    })
}

/// `GET /workshops/{id}` (admin): the workshop and its learners.
async fn detail(
    _: Admin,
    State(state): State<AppState>,
    AppOrigin(origin): AppOrigin,
    Path(id): Path<String>,
) -> Result<Json<WorkshopDetail>, ApiError> {
    let view = state.sessions.workshop_view(&id).await?;
    Ok(Json(WorkshopDetail {
        workshop: workshop(&view.record, &origin),
        ready_seats: view.ready_seats,
        learners: view.learners,
    }))
}

/// `DELETE /workshops/{id}` (admin): ends the workshop and its sessions; 204.
async fn end(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.sessions.end_workshop(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /workshops/{code}/join`: a session on a seat of the workshop, 201 as
/// `POST /sessions` answers. Not counted against the address's session limit
/// or creation rate (a class shares one address); a client that has made
/// `workshop_join_failures_per_minute` joins with wrong codes gets 429.
async fn join(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PreviewOrigin(preview_origin): PreviewOrigin,
    Path(code): Path<String>,
    ApiJson(request): ApiJson<JoinRequest>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    let now = Instant::now();
    if let Err(wait) = state.join_failures.peek(&ip, now) {
        return Err(ApiError::RateLimited(wait.as_secs_f64().ceil() as u64));
    }
    let joined = state
        .sessions
        .join_workshop(&code, &request.name, request.token.as_deref(), &ip)
        .await;
    let (session, token) = match joined {
        Ok(joined) => joined,
        Err(e @ SessionError::NoWorkshop) => {
            // A wrong guess costs a token; the next one past the limit is 429.
            let _ = state.join_failures.take(&ip, now);
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(session.created(token, preview_origin)),
    ))
}
