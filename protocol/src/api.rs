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
}

/// Every error response: `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `too_large`, `too_many_sessions`, `server_full`,
    /// `preview_unreachable`, `runtime`, `internal`.
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
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
///   are plain code.
/// - a link to `preview:NODE:PORT/path` opens the node's port through the
///   web preview (`/preview/{session}/{node}/{port}/path`).
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
