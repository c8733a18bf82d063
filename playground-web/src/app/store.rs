//! What the browser keeps: the session of each lesson (session storage, so a
//! reload rejoins it) and a local copy of the progress (local storage, used
//! while the server has no progress route).

use gloo_storage::{LocalStorage, SessionStorage, Storage};
use protocol::api::{CreatedSession, Progress};

fn session_key(lesson: &str) -> String {
    format!("playground.session.{lesson}")
}

fn progress_key(session: &str) -> String {
    format!("playground.progress.{session}")
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

pub fn local_progress(session: &str) -> Option<Progress> {
    LocalStorage::get(progress_key(session)).ok()
}

pub fn save_local_progress(session: &str, progress: &Progress) {
    let _ = LocalStorage::set(progress_key(session), progress);
}
