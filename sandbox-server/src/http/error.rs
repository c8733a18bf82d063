//! Errors as the HTTP API reports them: a status and a JSON body
//! `{"error":{"code","message"}}`.
//!
//! This is the one place where errors meet HTTP: each [`ApiError`] variant has
//! one [`ErrorCode`] (the status comes with the code, from `protocol`), and the
//! lower layers' errors (`RuntimeError`, `StoreError`, axum's JSON rejection)
//! are converted here, so no other module picks a status or a code.

use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::api::{ErrorBody, ErrorCode};

use crate::runtime::RuntimeError;
use crate::sessions::SessionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing token: send `Authorization: Bearer <token>` (or `?token=` on a WebSocket)")]
    Unauthorized,
    #[error("this token does not open that session")]
    Forbidden,
    /// An operator route with a token that is not the admin token.
    #[error("this token is not the admin token")]
    NotAdmin,
    /// 403 for what is never allowed, whatever the token (a service worker
    /// script on a preview).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    WorkshopFull(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("this address already has {0} live sessions; end one first")]
    TooManySessions(usize),
    #[error("the playground is full ({0} live sessions); try again in {1} s")]
    Full(usize, u64),
    #[error("this address creates sessions too fast; try again in {0} s")]
    RateLimited(u64),
    /// Nothing answered on a previewed port (the learner's server is not up).
    #[error("{0}")]
    PreviewUnreachable(String),
    #[error("container runtime: {0}")]
    Runtime(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().status()).expect("error codes have valid statuses")
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Forbidden | ApiError::NotAdmin | ApiError::NotAllowed(_) => {
                ErrorCode::Forbidden
            }
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::WorkshopFull(_) => ErrorCode::WorkshopFull,
            ApiError::TooLarge(_) => ErrorCode::TooLarge,
            ApiError::TooManySessions(_) => ErrorCode::TooManySessions,
            ApiError::Full(..) => ErrorCode::ServerFull,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::PreviewUnreachable(_) => ErrorCode::PreviewUnreachable,
            ApiError::Runtime(_) => ErrorCode::Runtime,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// A JSON body axum could not take: over `limit` bytes (413), or not the
    /// expected JSON (400, with serde's reason).
    pub fn from_json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("request body over {limit} bytes"))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}

/// The domain's errors as the API reports them (the status and code follow
/// from the variant chosen here).
impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NoSession(_)
            | SessionError::NoNode { .. }
            | SessionError::NoLesson(_)
            | SessionError::NoStep { .. }
            | SessionError::NoCheck(_)
            | SessionError::NoCheckNode(_)
            | SessionError::NoWorkshop => ApiError::NotFound(e.to_string()),
            SessionError::UnknownLesson(_)
            | SessionError::ReadingOnly(_)
            | SessionError::Invalid(_)
            | SessionError::BadName(_)
            | SessionError::BadWorkshop(_) => ApiError::BadRequest(e.to_string()),
            SessionError::TooManyWorkshops(_) | SessionError::NameTaken(_) => {
                ApiError::Conflict(e.to_string())
            }
            SessionError::WorkshopFull(_) => ApiError::WorkshopFull(e.to_string()),
            SessionError::Unauthorized => ApiError::Unauthorized,
            SessionError::Forbidden => ApiError::Forbidden,
            SessionError::Full { live, retry_after } => ApiError::Full(live, retry_after),
            SessionError::TooManySessions(n) => ApiError::TooManySessions(n),
            // 409, as for a restart under way: the client waits for a check
            // to finish (its own, or anyone's) and tries again.
            SessionError::Busy(_) | SessionError::ChecksBusy(_) => {
                ApiError::Conflict(e.to_string())
            }
            SessionError::CreationAborted => ApiError::Internal(e.to_string()),
            SessionError::Runtime(e) => e.into(),
            SessionError::Setup(e) => ApiError::Runtime(e.to_string()),
            SessionError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::MissingImage(_) => ApiError::Internal(e.to_string()),
            RuntimeError::NoSuchNode { .. } => ApiError::NotFound(e.to_string()),
            // Only file operations report these (a path in a node).
            RuntimeError::NoSuchPath(m) => ApiError::NotFound(m),
            RuntimeError::BadPath(m) => ApiError::BadRequest(m),
            e => ApiError::Runtime(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            // Being full is the limit working, and an unreachable preview is
            // the learner's server not running yet: neither is a fault.
            ApiError::Full(..) => tracing::warn!(code = self.code().as_str(), "{self}"),
            ApiError::PreviewUnreachable(_) => {}
            _ if self.status().is_server_error() => {
                tracing::error!(code = self.code().as_str(), "{self}")
            }
            _ => {}
        }
        let mut response = (
            self.status(),
            Json(ErrorBody::new(self.code(), self.to_string())),
        )
            .into_response();
        if let ApiError::Full(_, retry_after) | ApiError::RateLimited(retry_after) = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.to_string()).expect("digits are a valid header"),
            );
        }
        response
    }
}
