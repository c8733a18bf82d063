//! Workshops: an instructor's class. A workshop names a lesson and a number of
//! seats; learners join with its code and a name, and each gets a session of
//! that lesson on a seat instead of on their address's limit (a class behind
//! one NAT would otherwise stop at `max_sessions_per_ip`).
//!
//! - **Seats.** A seat is taken by a live session of the workshop (or a join
//!   under way) and freed when that session ends. A full workshop refuses
//!   joins (`WorkshopFull`); a browser that joined before and sends its
//!   session token back gets its session again without a new seat.
//! - **Ahead of the class.** Free seats count toward the warm pool's target
//!   for the workshop's lesson (`pool.rs`), so sessions are started in the
//!   background, within `max_sessions`, and a learner who joins is handed a
//!   ready one. When the workshop ends the extra pooled sessions are drained.
//! - **Lifetime.** A workshop lives `expires_in_secs` (at most
//!   `max_workshop_secs`); its sessions expire with it and are not reaped for
//!   idleness (a learner at lunch keeps their work). Ending a workshop ends
//!   its sessions. Workshops are stored, so they survive a restart.
//! - **Codes.** Eight characters of Crockford's base32 (digits and letters
//!   without I, L, O, U), shown as `XXXX-XXXX`: easy to read out loud, and
//!   typed without regard to case, dashes, or O/0 and I/L/1 mix-ups. 32^8 =
//!   2^40 codes; the HTTP layer lets a client make only
//!   `workshop_join_failures_per_minute` wrong guesses, so a client guessing
//!   for a workshop's whole lifetime (8 h by default) has about 5,000 tries
//!   against 10^12 codes.

use std::collections::HashMap;
use std::sync::Arc;

use protocol::admin::{AdminSession, Learner};
use protocol::join_code;
use rand::Rng;

use super::{lock, random_hex, rfc3339, unix_now, Claim, EndReason, Live, SessionError, Sessions};
use crate::store::{Seat, WorkshopRecord};

/// Longest learner name, in characters.
const MAX_NAME_CHARS: usize = 40;

/// A workshop with what its instructor's view shows.
pub struct WorkshopView {
    pub record: WorkshopRecord,
    /// Sessions ready in the pool for its free seats.
    pub ready_seats: usize,
    pub learners: Vec<Learner>,
}

/// A new random join code, normalized (no dash).
fn new_code() -> String {
    let mut rng = rand::rng();
    (0..join_code::LEN)
        .map(|_| join_code::ALPHABET[rng.random_range(0..join_code::ALPHABET.len())] as char)
        .collect()
}

/// A learner's name, trimmed, or why it is refused.
fn clean_name(name: &str) -> Result<String, SessionError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(SessionError::BadName(format!(
            "a name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(SessionError::BadName(
            "a name has no control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// The key of a learner's name in `Live::joining_names`.
pub(super) fn name_key(seat: &Seat) -> String {
    format!("{}\0{}", seat.workshop, seat.learner.to_lowercase())
}

/// Whether `seat` may be taken: the workshop is open, has a free seat, and
/// nobody in it (or joining it) has the name. `live` is the locked map.
pub(super) fn admit_seat(live: &Live, seat: &Seat) -> Result<(), SessionError> {
    let workshop = live
        .workshops
        .get(&seat.workshop)
        .filter(|w| w.expires_at > unix_now())
        .ok_or(SessionError::NoWorkshop)?;
    let wanted = seat.learner.to_lowercase();
    let taken_name = live.sessions.values().any(|s| {
        s.record
            .seat
            .as_ref()
            .is_some_and(|x| x.workshop == seat.workshop && x.learner.to_lowercase() == wanted)
    }) || live.joining_names.contains(&name_key(seat));
    if taken_name {
        return Err(SessionError::NameTaken(seat.learner.clone()));
    }
    if taken_seats(live, &seat.workshop) >= workshop.seats as usize {
        return Err(SessionError::WorkshopFull(workshop.seats));
    }
    Ok(())
}

/// Seats of workshop `id` taken: its live sessions and joins under way.
fn taken_seats(live: &Live, id: &str) -> usize {
    let seated = live
        .sessions
        .values()
        .filter(|s| s.record.seat.as_ref().is_some_and(|x| x.workshop == id))
        .count();
    seated + live.joining.get(id).copied().unwrap_or(0)
}

/// Free seats of the open workshops, by lesson.
pub(super) fn free_seats(live: &Live, now: i64) -> HashMap<String, usize> {
    let mut free: HashMap<String, usize> = HashMap::new();
    for w in live.workshops.values().filter(|w| w.expires_at > now) {
        let left = (w.seats as usize).saturating_sub(taken_seats(live, &w.id));
        *free.entry(w.lesson.clone()).or_default() += left;
    }
    free
}

impl Sessions {
    /// Opens a workshop of `lesson` with `seats` seats for `expires_in_secs`
    /// (`max_workshop_secs` when None); its sessions start in the background.
    pub async fn create_workshop(
        &self,
        lesson: &str,
        seats: u32,
        expires_in_secs: Option<u64>,
    ) -> Result<WorkshopRecord, SessionError> {
        match self.catalog.get(lesson) {
            None => return Err(SessionError::UnknownLesson(lesson.to_owned())),
            // Nothing to start for a lesson read without a session.
            Some(l) if l.nodes.is_empty() => {
                return Err(SessionError::ReadingOnly(lesson.to_owned()))
            }
            Some(_) => {}
        }
        let max_seats = self.config.max_workshop_seats;
        if seats == 0 || seats > max_seats {
            return Err(SessionError::BadWorkshop(format!(
                "seats must be between 1 and {max_seats} (max_workshop_seats)"
            )));
        }
        let max_secs = self.config.max_workshop_secs;
        let lifetime = expires_in_secs.unwrap_or(max_secs);
        if lifetime < 60 || lifetime > max_secs {
            return Err(SessionError::BadWorkshop(format!(
                "expires_in_secs must be between 60 and {max_secs} (max_workshop_secs)"
            )));
        }
        let now = unix_now();
        let record = {
            let mut live = lock(&self.live);
            let open = live
                .workshops
                .values()
                .filter(|w| w.expires_at > now)
                .count();
            if open >= self.config.max_workshops {
                return Err(SessionError::TooManyWorkshops(open));
            }
            // A code unlike every open workshop's (2^40 of them: a clash is rare).
            let code = std::iter::repeat_with(new_code)
                .find(|c| !live.workshops.values().any(|w| &w.code == c))
                .expect("an endless iterator finds one");
            let record = WorkshopRecord {
                id: random_hex(8),
                code,
                lesson: lesson.to_owned(),
                seats,
                created_at: now,
                expires_at: now + lifetime as i64,
            };
            live.workshops
                .insert(record.id.clone(), Arc::new(record.clone()));
            record
        };
        if let Err(e) = self.store.insert_workshop(record.clone()).await {
            lock(&self.live).workshops.remove(&record.id);
            return Err(e.into());
        }
        tracing::info!(workshop = %record.id, lesson, seats, "workshop opened");
        self.pool_wake.notify_one();
        Ok(record)
    }

    /// The open workshops, oldest first.
    pub fn workshops(&self) -> Vec<WorkshopRecord> {
        let now = unix_now();
        let mut all: Vec<WorkshopRecord> = lock(&self.live)
            .workshops
            .values()
            .filter(|w| w.expires_at > now)
            .map(|w| (**w).clone())
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    /// Workshop `id` with its learners, for the instructor.
    pub async fn workshop_view(&self, id: &str) -> Result<WorkshopView, SessionError> {
        let (record, sessions, ready) = {
            let live = lock(&self.live);
            let record = live
                .workshops
                .get(id)
                .filter(|w| w.expires_at > unix_now())
                .map(|w| (**w).clone())
                .ok_or(SessionError::NoWorkshop)?;
            let mut sessions: Vec<_> = live
                .sessions
                .values()
                .filter(|s| s.record.seat.as_ref().is_some_and(|x| x.workshop == id))
                .cloned()
                .collect();
            sessions.sort_by(|a, b| {
                (a.record.created_at, &a.record.id).cmp(&(b.record.created_at, &b.record.id))
            });
            let free = (record.seats as usize).saturating_sub(taken_seats(&live, id));
            let pooled = live.pooled.get(&record.lesson).map_or(0, Vec::len);
            (record, sessions, free.min(pooled))
        };
        let mut learners = Vec::with_capacity(sessions.len());
        for session in sessions {
            let progress = session.progress.lock().await.learner.clone();
            learners.push(Learner {
                name: session
                    .record
                    .seat
                    .as_ref()
                    .map(|s| s.learner.clone())
                    .unwrap_or_default(),
                session: session.record.id.clone(),
                nodes: session.nodes(),
                current_step: progress.current_step,
                passed_steps: progress.passed_steps,
                last_active_at: rfc3339(session.last_active_at()),
                connected: session.connected(),
            });
        }
        Ok(WorkshopView {
            record,
            ready_seats: ready,
            learners,
        })
    }

    /// Ends workshop `id` and every session of it. 404 when it is not open.
    /// Runs to the end on a task of its own even if the caller goes away
    /// (see [`Sessions::end_requested`]).
    pub async fn end_workshop(self: &Arc<Self>, id: &str) -> Result<(), SessionError> {
        let removed = lock(&self.live).workshops.remove(id);
        if removed.is_none() {
            return Err(SessionError::NoWorkshop);
        }
        let (this, id) = (self.clone(), id.to_owned());
        super::to_completion(async move { this.close_workshop(&id).await }).await
    }

    /// Deletes a workshop taken out of the map: its sessions, then its record.
    async fn close_workshop(&self, id: &str) -> Result<(), SessionError> {
        let seated: Vec<String> = lock(&self.live)
            .sessions
            .values()
            .filter(|s| s.record.seat.as_ref().is_some_and(|x| x.workshop == id))
            .map(|s| s.record.id.clone())
            .collect();
        for session in &seated {
            if let Err(e) = self.end(session, EndReason::WorkshopEnded).await {
                tracing::error!(%session, "ending a session of a workshop: {e}");
            }
        }
        self.store.delete_workshop(id).await?;
        self.pool_wake.notify_one();
        tracing::info!(workshop = %id, sessions = seated.len(), "workshop ended");
        Ok(())
    }

    /// Ends the workshops whose time is up (the reaper's pass).
    pub(super) async fn end_expired_workshops(&self) {
        let now = unix_now();
        let expired: Vec<String> = {
            let mut live = lock(&self.live);
            let ids: Vec<String> = live
                .workshops
                .values()
                .filter(|w| w.expires_at <= now)
                .map(|w| w.id.clone())
                .collect();
            for id in &ids {
                live.workshops.remove(id);
            }
            ids
        };
        for id in expired {
            if let Err(e) = self.close_workshop(&id).await {
                tracing::error!(workshop = %id, "ending an expired workshop: {e}");
            }
        }
    }

    /// Loads the stored workshops after a start; expired ones are deleted.
    pub(super) async fn restore_workshops(&self) -> Result<usize, SessionError> {
        let now = unix_now();
        let mut kept = 0;
        for record in self.store.all_workshops().await? {
            if record.expires_at <= now {
                self.store.delete_workshop(&record.id).await?;
                continue;
            }
            kept += 1;
            lock(&self.live)
                .workshops
                .insert(record.id.clone(), Arc::new(record));
        }
        Ok(kept)
    }

    /// A learner joins the workshop whose code is `code` under `name`, from
    /// `ip`. With `token`, the session token this browser got when it joined
    /// before, the learner gets that session back (their seat, their name);
    /// otherwise a new session on a free seat. The answer is a session and
    /// its token, as [`Sessions::create`] gives.
    pub async fn join_workshop(
        self: &Arc<Self>,
        code: &str,
        name: &str,
        token: Option<&str>,
        ip: &str,
    ) -> Result<(Arc<super::Session>, String), SessionError> {
        let code = join_code::parse(code).ok_or(SessionError::NoWorkshop)?;
        let workshop = lock(&self.live)
            .workshops
            .values()
            .find(|w| w.code == code && w.expires_at > unix_now())
            .cloned()
            .ok_or(SessionError::NoWorkshop)?;
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            let hash = super::hash_token(token);
            let mine = lock(&self.live)
                .sessions
                .values()
                .find(|s| {
                    s.record
                        .seat
                        .as_ref()
                        .is_some_and(|x| x.workshop == workshop.id)
                        && bool::from(subtle::ConstantTimeEq::ct_eq(
                            hash.as_bytes(),
                            s.record.token_hash.as_bytes(),
                        ))
                })
                .cloned();
            if let Some(session) = mine {
                session.touch();
                return Ok((session, token.to_owned()));
            }
        }
        let seat = Seat {
            workshop: workshop.id.clone(),
            learner: clean_name(name)?,
        };
        let claim = Claim::Seat {
            seat,
            expires_at: workshop.expires_at,
        };
        self.create_for(&workshop.lesson, ip, claim).await
    }

    /// Every live session as an operator sees it, oldest first.
    pub async fn admin_sessions(&self) -> Vec<AdminSession> {
        let mut sessions: Vec<_> = lock(&self.live).sessions.values().cloned().collect();
        sessions.sort_by(|a, b| {
            (a.record.created_at, &a.record.id).cmp(&(b.record.created_at, &b.record.id))
        });
        let mut out = Vec::with_capacity(sessions.len());
        for s in sessions {
            let progress = s.progress.lock().await.learner.clone();
            out.push(AdminSession {
                id: s.record.id.clone(),
                lesson: s.record.lesson.clone(),
                workshop: s.record.seat.as_ref().map(|x| x.workshop.clone()),
                learner: s.record.seat.as_ref().map(|x| x.learner.clone()),
                client_ip: s.record.client_ip.clone(),
                created_at: rfc3339(s.record.created_at),
                expires_at: rfc3339(s.record.expires_at),
                last_active_at: rfc3339(s.last_active_at()),
                connected: s.connected(),
                watchers: s.watchers(),
                nodes: s.nodes(),
                progress: protocol::api::Progress {
                    current_step: progress.current_step,
                    passed_steps: progress.passed_steps,
                },
                steps: self
                    .catalog
                    .get(&s.record.lesson)
                    .map_or(0, |lesson| lesson.steps.len()),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_codes_are_eight_readable_characters() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(join_code::parse(&code).as_deref(), Some(code.as_str()));
            let shown = join_code::display(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(join_code::parse(&shown.to_lowercase()), Some(code.clone()));
            assert!(!code.contains(['I', 'L', 'O', 'U']), "{code}");
        }
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(clean_name("  Ada L. ").unwrap(), "Ada L.");
        assert_eq!(clean_name("Zoë 🚀").unwrap(), "Zoë 🚀");
        assert!(clean_name("   ").is_err());
        assert!(clean_name(&"x".repeat(41)).is_err());
        assert!(clean_name(&"é".repeat(40)).is_ok(), "characters, not bytes");
        assert!(clean_name("a\u{1b}[2J").is_err());
    }
}
