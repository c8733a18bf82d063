//! The REST API (`protocol::api`, and `protocol::admin` for the operator's
//! routes and workshops) over gloo-net.

use gloo_net::http::{Request, RequestBuilder, Response};
use protocol::admin::{
    AdminSession, AdminSessions, CreateWorkshopRequest, JoinRequest, Workshop, WorkshopDetail,
    Workshops,
};
use protocol::api::{
    CapturedValue, CheckResult, CreateSessionRequest, CreatedSession, ErrorBody, ErrorCode,
    LessonDetail, LessonSummary, Progress, SessionInfo, API_PREFIX,
};
use serde::de::DeserializeOwned;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with an error status.
    Status {
        status: u16,
        code: ErrorCode,
        message: String,
        /// Seconds, from `Retry-After` (503 when the playground is full).
        retry_after: Option<u32>,
    },
    /// No answer (server down, network gone) or an unreadable one.
    Network(String),
}

impl ApiError {
    /// The error code of a server answer (none for a network failure).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            ApiError::Network(_) => None,
        }
    }

    /// The session is gone or this token does not open it.
    pub fn session_gone(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::NotFound)
        )
    }

    /// The admin token was missing or is not the server's.
    pub fn admin_refused(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::Unauthorized | ErrorCode::Forbidden)
        )
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Status { message, .. } => message.clone(),
            ApiError::Network(e) => format!("cannot reach the server ({e})"),
        }
    }
}

fn url(path: &str) -> String {
    format!("{API_PREFIX}{path}")
}

fn authed(req: RequestBuilder, token: &str) -> RequestBuilder {
    req.header("Authorization", &format!("Bearer {token}"))
}

/// Sends a request that carries the session's token.
async fn send_authed(req: RequestBuilder, token: &str) -> Result<Response, gloo_net::Error> {
    authed(req, token).send().await
}

async fn check(resp: Result<Response, gloo_net::Error>) -> Result<Response, ApiError> {
    let resp = resp.map_err(|e| ApiError::Network(e.to_string()))?;
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| crate::backoff::parse_retry_after(&v));
    let (code, message) = match resp.json::<ErrorBody>().await {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (ErrorCode::Unknown, format!("HTTP {status}")),
    };
    Err(ApiError::Status {
        status,
        code,
        message,
        retry_after,
    })
}

async fn json<T: DeserializeOwned>(resp: Result<Response, gloo_net::Error>) -> Result<T, ApiError> {
    check(resp)
        .await?
        .json()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

pub async fn lessons() -> Result<Vec<LessonSummary>, ApiError> {
    json(Request::get(&url("/lessons")).send().await).await
}

pub async fn lesson(id: &str) -> Result<LessonDetail, ApiError> {
    json(Request::get(&url(&format!("/lessons/{id}"))).send().await).await
}

pub async fn create_session(lesson: &str) -> Result<CreatedSession, ApiError> {
    let body = CreateSessionRequest {
        lesson: lesson.to_owned(),
    };
    let req = Request::post(&url("/sessions"))
        .json(&body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    json(req.send().await).await
}

pub async fn session(id: &str, token: &str) -> Result<SessionInfo, ApiError> {
    json(send_authed(Request::get(&url(&format!("/sessions/{id}"))), token).await).await
}

pub async fn end_session(id: &str, token: &str) -> Result<(), ApiError> {
    let resp = send_authed(Request::delete(&url(&format!("/sessions/{id}"))), token).await;
    check(resp).await.map(|_| ())
}

/// Restarts one node of the session (its processes; its files stay).
pub async fn restart_node(id: &str, token: &str, node: &str) -> Result<(), ApiError> {
    let path = format!("/sessions/{id}/nodes/{node}/restart");
    check(send_authed(Request::post(&url(&path)), token).await)
        .await
        .map(|_| ())
}

pub async fn check_step(id: &str, token: &str, step: usize) -> Result<CheckResult, ApiError> {
    let path = format!("/sessions/{id}/steps/{step}/check");
    json(send_authed(Request::post(&url(&path)), token).await).await
}

pub async fn progress(id: &str, token: &str) -> Result<Progress, ApiError> {
    let path = format!("/sessions/{id}/progress");
    json(send_authed(Request::get(&url(&path)), token).await).await
}

pub async fn put_progress(id: &str, token: &str, progress: &Progress) -> Result<(), ApiError> {
    let req = authed(
        Request::put(&url(&format!("/sessions/{id}/progress"))),
        token,
    )
    .json(progress)
    .map_err(|e| ApiError::Network(e.to_string()))?;
    check(req.send().await).await.map(|_| ())
}

/// The values the lesson captures from the session's nodes, as last printed.
pub async fn captures(id: &str, token: &str) -> Result<Vec<CapturedValue>, ApiError> {
    let path = format!("/sessions/{id}/captures");
    json(send_authed(Request::get(&url(&path)), token).await).await
}

/// Sends a JSON body with a bearer token, when there is one.
async fn send_json<B: serde::Serialize>(
    req: RequestBuilder,
    token: Option<&str>,
    body: &B,
) -> Result<Response, ApiError> {
    let req = match token {
        Some(t) => authed(req, t),
        None => req,
    };
    let req = req
        .json(body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    check(req.send().await).await
}

async fn parse<T: DeserializeOwned>(resp: Response) -> Result<T, ApiError> {
    resp.json()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

// --- Workshops: joining (a learner) -----------------------------------------------------

/// Joins the workshop with `code` as `name`; with `token`, the session token
/// this browser got on an earlier join, the server gives that session back.
pub async fn join_workshop(
    code: &str,
    name: &str,
    token: Option<String>,
) -> Result<CreatedSession, ApiError> {
    let body = JoinRequest {
        name: name.to_owned(),
        token,
    };
    let path = format!("/workshops/{}/join", encode_segment(code));
    parse(send_json(Request::post(&url(&path)), None, &body).await?).await
}

// --- Operator routes (the admin token) --------------------------------------------------

/// Every live session.
pub async fn admin_sessions(admin: &str) -> Result<Vec<AdminSession>, ApiError> {
    let all: AdminSessions =
        json(send_authed(Request::get(&url("/admin/sessions")), admin).await).await?;
    Ok(all.sessions)
}

/// Ends a session as the operator; its learner's page shows it ended.
pub async fn admin_end_session(admin: &str, id: &str) -> Result<(), ApiError> {
    let path = format!("/admin/sessions/{}", encode_segment(id));
    check(send_authed(Request::delete(&url(&path)), admin).await)
        .await
        .map(|_| ())
}

/// Whether session `id` is still live (for a watching terminal that lost its socket).
pub async fn admin_session_live(admin: &str, id: &str) -> Result<bool, ApiError> {
    Ok(admin_sessions(admin).await?.iter().any(|s| s.id == id))
}

pub async fn workshops(admin: &str) -> Result<Vec<Workshop>, ApiError> {
    let all: Workshops = json(send_authed(Request::get(&url("/workshops")), admin).await).await?;
    Ok(all.workshops)
}

pub async fn create_workshop(
    admin: &str,
    request: &CreateWorkshopRequest,
) -> Result<Workshop, ApiError> {
    parse(send_json(Request::post(&url("/workshops")), Some(admin), request).await?).await
}

pub async fn workshop(admin: &str, id: &str) -> Result<WorkshopDetail, ApiError> {
    let path = format!("/workshops/{}", encode_segment(id));
    json(send_authed(Request::get(&url(&path)), admin).await).await
}

/// Ends the workshop and every session of it.
pub async fn end_workshop(admin: &str, id: &str) -> Result<(), ApiError> {
    let path = format!("/workshops/{}", encode_segment(id));
    check(send_authed(Request::delete(&url(&path)), admin).await)
        .await
        .map(|_| ())
}

/// Percent-encodes one path segment.
fn encode_segment(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}
