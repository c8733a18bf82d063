//! JSON bodies of the operator routes (`/api/v1/admin/...`, opened by the
//! admin token) and of workshops (`/api/v1/workshops/...`: created, read and
//! ended with the admin token; joined by learners with the workshop's code).
//! See `docs/api.md`.

use serde::{Deserialize, Serialize};

use crate::api::{NodeInfo, Progress};

/// Response of `GET /api/v1/admin/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSessions {
    /// Every live session, oldest first.
    pub sessions: Vec<AdminSession>,
}

/// A live session as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    pub id: String,
    pub lesson: String,
    /// The workshop the session belongs to, if a learner joined one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workshop: Option<String>,
    /// The name the learner gave when joining a workshop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
    /// The client's address as the server counts it (an IPv6 client by /64).
    pub client_ip: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// RFC 3339, UTC: the last keystroke, check or terminal connection.
    pub last_active_at: String,
    /// Terminal sockets of the learner open now (watchers not counted).
    pub connected: usize,
    /// Admin sockets watching the session's terminals now.
    pub watchers: usize,
    pub nodes: Vec<NodeInfo>,
    pub progress: Progress,
    /// Steps of the lesson as the server serves it now: `progress.current_step`
    /// equal to it is the finish page. 0 when the lesson is gone from the catalog.
    #[serde(default)]
    pub steps: usize,
}

/// Body of `POST /api/v1/workshops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkshopRequest {
    /// The lesson every learner of the workshop gets.
    pub lesson: String,
    /// How many learners may hold a session at once.
    pub seats: u32,
    /// The workshop's lifetime; its sessions end with it. The server's
    /// `max_workshop_secs` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
}

/// A workshop: response of `POST /api/v1/workshops` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workshop {
    pub id: String,
    /// What learners type or follow to join, as `XXXX-XXXX` (see docs/api.md).
    pub code: String,
    pub lesson: String,
    pub seats: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// The web app's join page for the code, on the origin the request came to.
    pub join_url: String,
}

/// Response of `GET /api/v1/workshops/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkshopDetail {
    #[serde(flatten)]
    pub workshop: Workshop,
    /// Sessions started ahead for seats nobody has taken yet, ready now.
    pub ready_seats: usize,
    /// Learners holding a seat, in the order they joined.
    pub learners: Vec<Learner>,
}

/// Response of `GET /api/v1/workshops` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workshops {
    pub workshops: Vec<Workshop>,
}

/// A learner of a workshop, as the instructor's grid shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learner {
    pub name: String,
    pub session: String,
    pub nodes: Vec<NodeInfo>,
    /// The step the learner is on (from 0).
    pub current_step: usize,
    /// Steps passed, ascending.
    pub passed_steps: Vec<usize>,
    /// RFC 3339, UTC: the last keystroke, check or terminal connection.
    pub last_active_at: String,
    /// Terminal sockets of the learner open now.
    pub connected: usize,
}

/// Body of `POST /api/v1/workshops/{code}/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Shown to the instructor; 1 to 40 characters, unique in the workshop.
    pub name: String,
    /// The session token this browser got when it joined before: a learner
    /// who comes back gets that session again instead of a new seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_reject_unknown_fields_and_take_optional_ones() {
        let w: CreateWorkshopRequest =
            serde_json::from_str(r#"{"lesson":"shell","seats":20}"#).unwrap();
        assert_eq!(w.expires_in_secs, None);
        assert!(
            serde_json::from_str::<CreateWorkshopRequest>(r#"{"lesson":"a","seats":1,"x":1}"#)
                .is_err()
        );
        let j: JoinRequest = serde_json::from_str(r#"{"name":"Ada"}"#).unwrap();
        assert_eq!(j.token, None);
        assert!(serde_json::from_str::<JoinRequest>(r#"{"name":"Ada","seat":1}"#).is_err());
    }

    #[test]
    fn workshop_detail_is_the_workshop_plus_its_learners() {
        let detail = WorkshopDetail {
            workshop: Workshop {
                id: "w1".into(),
                code: "ABCD-EFGH".into(),
                lesson: "shell".into(),
                seats: 2,
                created_at: "2026-12-01T00:00:00Z".into(),
                expires_at: "2026-12-01T08:00:00Z".into(),
                join_url: "http://localhost:8080/join/ABCD-EFGH".into(),
            },
            ready_seats: 1,
            learners: vec![],
        };
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["code"], "ABCD-EFGH");
        assert_eq!(json["ready_seats"], 1);
        let back: WorkshopDetail = serde_json::from_value(json).unwrap();
        assert_eq!(back, detail);
    }
}
