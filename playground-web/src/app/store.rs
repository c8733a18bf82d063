//! What the browser keeps: the session of each lesson, in session storage, so
//! a reload rejoins it. Progress is kept by the server only.

use gloo_storage::{SessionStorage, Storage};
use protocol::api::CreatedSession;

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
