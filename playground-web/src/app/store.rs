//! What the browser keeps:
//! - the session of each lesson, in session storage, so a reload rejoins it
//!   (progress is kept by the server only);
//! - the session a learner got by joining a workshop, in local storage under
//!   the workshop's code, so the same browser visiting the join link again
//!   gets that session back (the server checks its token);
//! - the admin token, in session storage: entered once per tab.

use gloo_storage::{LocalStorage, SessionStorage, Storage};
use protocol::api::CreatedSession;
use protocol::join_code;
use serde::{Deserialize, Serialize};

fn session_key(lesson: &str) -> String {
    format!("playground.session.{lesson}")
}

pub fn saved_session(lesson: &str) -> Option<CreatedSession> {
    SessionStorage::get(session_key(lesson)).ok()
}

pub fn save_session(session: &CreatedSession) {
    let _ = SessionStorage::set(session_key(&session.lesson), session);
}

pub fn forget_session(lesson: &str) {
    SessionStorage::delete(session_key(lesson));
}

/// A seat this browser took in a workshop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// The name the learner joined under.
    pub name: String,
    pub session: String,
    /// The session token: sent on the next join to get the session back.
    pub token: String,
    pub lesson: String,
}

fn workshop_of_key(lesson: &str) -> String {
    format!("playground.session-workshop.{lesson}")
}

/// The workshop code the lesson's saved session was joined with, if it was.
pub fn session_workshop(lesson: &str) -> Option<String> {
    SessionStorage::get(workshop_of_key(lesson)).ok()
}

/// Notes (Some) or forgets (None) that the lesson's session came from a workshop.
pub fn set_session_workshop(lesson: &str, code: Option<&str>) {
    match code {
        Some(code) => {
            let _ = SessionStorage::set(workshop_of_key(lesson), code);
        }
        None => SessionStorage::delete(workshop_of_key(lesson)),
    }
}

fn joined_key(code: &str) -> String {
    format!("playground.workshop.{}", join_code::fold(code))
}

pub fn joined(code: &str) -> Option<Joined> {
    LocalStorage::get(joined_key(code)).ok()
}

pub fn save_joined(code: &str, joined: &Joined) {
    let _ = LocalStorage::set(joined_key(code), joined);
}

const ADMIN_TOKEN_KEY: &str = "playground.admin-token";

pub fn admin_token() -> Option<String> {
    SessionStorage::get::<String>(ADMIN_TOKEN_KEY)
        .ok()
        .filter(|t| !t.is_empty())
}

pub fn save_admin_token(token: &str) {
    let _ = SessionStorage::set(ADMIN_TOKEN_KEY, token);
}

pub fn forget_admin_token() {
    SessionStorage::delete(ADMIN_TOKEN_KEY);
}
