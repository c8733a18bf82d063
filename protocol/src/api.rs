//! JSON bodies of the REST API. Field names are the wire names.

use serde::{Deserialize, Serialize};

/// Prefix of every REST route.
pub const API_PREFIX: &str = "/api/v1";

/// One entry of `GET /api/v1/lessons`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonSummary {
    pub id: String,
    pub title: String,
    pub summary: String,
    /// Names of the nodes a session of this lesson gets (`node1`, `node2`, ...).
    pub nodes: Vec<String>,
    /// `beginner`, `intermediate` or `advanced`; empty when the lesson does not say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub difficulty: String,
    /// Estimated minutes to complete; 0 when the lesson does not say.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minutes: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Body of `POST /api/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    pub lesson: String,
}

/// A node of a session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
}

/// Response of `POST /api/v1/sessions` (201). The token is only ever shown here:
/// the server keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSession {
    pub id: String,
    pub token: String,
    pub lesson: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub nodes: Vec<NodeInfo>,
    /// Opens this session's web previews (`?token=` or the `pg_preview`
    /// cookie) and nothing else: safe to put in a link. Empty in a session a
    /// client saved before the field existed (it asks `GET /sessions/{id}`).
    #[serde(default)]
    pub preview_token: String,
    /// Where previews are served, an origin of their own (never the app's):
    /// `http://localhost:8081`, or the server's `preview_public_url`. Links are
    /// `{preview_origin}/preview/{id}/{node}/{port}/{path}`. Empty in a session
    /// a client saved before the field existed.
    #[serde(default)]
    pub preview_origin: String,
}

/// Response of `GET /api/v1/sessions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub lesson: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub nodes: Vec<NodeInfo>,
    /// As in [`CreatedSession::preview_token`], for a client that reloads.
    pub preview_token: String,
    /// As in [`CreatedSession::preview_origin`].
    #[serde(default)]
    pub preview_origin: String,
}

/// Every error response: `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable and machine-readable; clients match on it, never on the status.
    pub code: ErrorCode,
    /// For people; may change between versions.
    pub message: String,
}

/// The `code` of an error response. Each has one HTTP status (see
/// [`ErrorCode::status`]); the wire form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or names something invalid.
    BadRequest,
    /// 401: no token was sent.
    Unauthorized,
    /// 403: the token does not open that session.
    Forbidden,
    /// 404: no such session, node, lesson, step, file or route.
    NotFound,
    /// 409: the operation is already under way (a node restarting), or a
    /// name is taken (a workshop learner's).
    Conflict,
    /// 409: every seat of the workshop is taken.
    WorkshopFull,
    /// 413: a body or upload over its limit.
    TooLarge,
    /// 429: this client has as many live sessions as it may.
    TooManySessions,
    /// 429 with `Retry-After`: this client creates sessions too fast.
    RateLimited,
    /// 503 with `Retry-After`: the playground is full.
    ServerFull,
    /// 502: nothing answered on the previewed port.
    PreviewUnreachable,
    /// 502: the container runtime failed.
    Runtime,
    /// 500: a fault of the server.
    Internal,
    /// A code this build does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::WorkshopFull => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::TooManySessions | ErrorCode::RateLimited => 429,
            ErrorCode::ServerFull => 503,
            ErrorCode::PreviewUnreachable | ErrorCode::Runtime => 502,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
        }
    }

    /// The wire name (`not_found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::WorkshopFull => "workshop_full",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::PreviewUnreachable => "preview_unreachable",
            ErrorCode::Runtime => "runtime",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_summary_omits_empty_optional_fields() {
        let s = LessonSummary {
            id: "shell".into(),
            title: "Shell".into(),
            summary: "A shell".into(),
            nodes: vec!["node1".into()],
            difficulty: String::new(),
            minutes: 0,
            tags: vec![],
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"id":"shell","title":"Shell","summary":"A shell","nodes":["node1"]}"#
        );
        let back: LessonSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn error_codes_have_snake_case_names_and_unknown_ones_parse() {
        let body = ErrorBody::new(ErrorCode::TooManySessions, "no");
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"code":"too_many_sessions","message":"no"}}"#
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::PreviewUnreachable).unwrap(),
            ErrorCode::PreviewUnreachable.as_str()
        );
        let newer: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"from_the_future","message":"x"}}"#).unwrap();
        assert_eq!(newer.error.code, ErrorCode::Unknown);
        assert_eq!(ErrorCode::ServerFull.status(), 503);
    }

    #[test]
    fn create_request_rejects_unknown_fields() {
        assert!(serde_json::from_str::<CreateSessionRequest>(r#"{"lesson":"a","x":1}"#).is_err());
        assert!(serde_json::from_str::<CreateSessionRequest>(r#"{"lesson":"a"}"#).is_ok());
    }
}

/// Response of `GET /api/v1/lessons/{id}`: the summary plus every step.
///
/// Step Markdown is one dialect whatever the lesson's source format
/// (importers convert to it), documented in `docs/lessons.md`:
/// - a fenced block whose info string has `run=NODE` is runnable on that
///   node (a Run button types it there and presses Enter); with `interrupt`
///   too, Ctrl-C is sent first; with `copy` it is copy-only. Other blocks
///   are plain code. `capture=NAME regex="..."` on a runnable block names a
///   value its node prints; `{{NAME}}` in a runnable block stands for it
///   ([`LessonDetail::captures`], [`crate::dialect`]).
/// - a link to `preview:NODE:PORT/path` opens the node's port through the
///   web preview (`{preview_origin}/preview/{session}/{node}/{port}/path`,
///   on the preview origin, see [`CreatedSession::preview_origin`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonDetail {
    #[serde(flatten)]
    pub summary: LessonSummary,
    /// Markdown shown before the first step; may be empty.
    #[serde(default)]
    pub intro: String,
    pub steps: Vec<Step>,
    /// Markdown shown after the last step; may be empty.
    #[serde(default)]
    pub finish: String,
    /// The values blocks capture from a node's output (`capture=NAME`), which
    /// `{{NAME}}` in a runnable block stands for: the web app fills them in
    /// from `GET /sessions/{id}/captures` before it types such a block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<CaptureInfo>,
}

/// A value a lesson captures from a node's terminal output (see
/// [`crate::dialect`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureInfo {
    /// The placeholder's name: `JOIN` for `{{JOIN}}`.
    pub name: String,
    /// The node whose output it comes from.
    pub node: String,
}

/// One entry of `GET /api/v1/sessions/{id}/captures`: a captured value as the
/// server last saw it in the node's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedValue {
    pub name: String,
    pub node: String,
    /// None until the node printed something that matches.
    pub value: Option<String>,
}

/// One step of a lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub title: String,
    /// The step's text, in the Markdown dialect above.
    pub markdown: String,
    /// Whether `POST .../steps/{n}/check` has a check to run.
    pub has_check: bool,
    /// Markdown, folded until the learner opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Markdown, folded until the learner opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
}

/// Response of `POST /api/v1/sessions/{id}/steps/{n}/check` (`n` from 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub passed: bool,
    /// What the check printed, for the learner.
    pub output: String,
    /// Milliseconds the check took.
    pub millis: u64,
}

/// The learner's progress in a session: `GET` and `PUT
/// /api/v1/sessions/{id}/progress`. Stored by the server, so it survives a
/// page reload and a browser restart. A passed check marks its step passed on
/// the server side too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The step the learner is on (from 0).
    #[serde(default)]
    pub current_step: usize,
    /// Steps whose check passed (or, without a check, that the learner finished), ascending.
    #[serde(default)]
    pub passed_steps: Vec<usize>,
}
