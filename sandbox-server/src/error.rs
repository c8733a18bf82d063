//! Errors as the HTTP API reports them: a status and a JSON body
//! `{"error":{"code","message"}}`. Lower layers have their own typed errors and
//! convert into [`ApiError`] at the edge.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::api::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing token: send `Authorization: Bearer <token>` (or `?token=` on a WebSocket)")]
    Unauthorized,
    #[error("this token does not open that session")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("this address already has {0} live sessions; end one first")]
    TooManySessions(usize),
    #[error("the playground is full ({0} live sessions); try again in {1} s")]
    Full(usize, u64),
    #[error("container runtime: {0}")]
    Runtime(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManySessions(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Full(..) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Runtime(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Forbidden => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::TooLarge(_) => ErrorCode::TooLarge,
            ApiError::TooManySessions(_) => ErrorCode::TooManySessions,
            ApiError::Full(..) => ErrorCode::ServerFull,
            ApiError::Runtime(_) => ErrorCode::Runtime,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            // Being full is the limit working, not a fault.
            ApiError::Full(..) => tracing::warn!(code = self.code().as_str(), "{self}"),
            _ if self.status().is_server_error() => tracing::error!(code = self.code().as_str(), "{self}"),
            _ => {}
        }
        let mut response = (
            self.status(),
            Json(ErrorBody::new(self.code(), self.to_string())),
        )
            .into_response();
        if let ApiError::Full(_, retry_after) = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.to_string()).expect("digits are a valid header"),
            );
        }
        response
    }
}
