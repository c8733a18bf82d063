//! The warm pool: ready sessions per lesson (`warm_pool`), handed out on
//! `POST /sessions` and refilled in the background.
//!
//! A pooled session has everything but a learner: network, nodes, assets,
//! setup scripts, and a shell running in each terminal. It lives only in
//! `Live::pooled` and the runtime: no record in the store, no token, not in
//! `Live::sessions`, so no request can open it, the reaper never sees it,
//! and a restart leaves its objects without a record, which `reconcile`
//! removes (the pool is rebuilt, not kept).
//!
//! Hand-out ([`Sessions::hand_out`]) writes the record with a fresh token,
//! the client's address, and `created_at`/`expires_at` from that moment; the
//! session's idle clock starts then too. Docker's `io.playground.expires`
//! label of a pooled session keeps the value of its build (labels cannot
//! change): nothing reads it back, the store's `expires_at` is the truth.
//!
//! Pooled sessions count toward `max_sessions` but toward no client's limits.
//! A request that finds the server full while another lesson's sessions sit
//! in the pool takes the room of one of them. Each pooled session remembers
//! the `Arc<Lesson>` it was built from; the catalog keeps the `Arc` of a
//! lesson a reload leaves unchanged, so a session whose lesson changed (or
//! went away) is never handed out: it is drained on the next request or pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::terminal::close_code;

use super::{
    hash_token, lock, random_hex, release_one, unix_now, workshops, Claim, Live, Reservation,
    Session, SessionError, Sessions,
};
use crate::lessons::Lesson;
use crate::store::SessionRecord;
use crate::terminal::Terminal;

/// How often the filler looks at the pool without being woken (a lesson
/// reload, a build that failed).
const POOL_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// A lesson whose pooled build failed is not tried again for this long.
const POOL_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One ready session in the pool.
pub(super) struct Pooled {
    pub(super) id: String,
    /// The lesson as it was when the session was built.
    pub(super) lesson: Arc<Lesson>,
    pub(super) terminals: BTreeMap<String, Arc<Terminal>>,
}

/// A place in the pool for a session being built: released when the build
/// ends, however it ends (after the session is in the pool, if it got there).
struct Filling {
    sessions: Arc<Sessions>,
    lesson: String,
    id: String,
}

impl Drop for Filling {
    fn drop(&mut self) {
        let mut live = lock(&self.sessions.live);
        live.creating.remove(&self.id);
        release_one(&mut live.filling, &self.lesson);
    }
}

impl Sessions {
    /// Capacity for a session of `lesson` for `ip`: a ready one from the pool
    /// when there is one (it counts already, so a full server still serves
    /// it), else a reservation for a new one, made room for by removing a
    /// pooled session of another lesson when the server is full.
    pub(super) fn reserve_or_take(
        self: &Arc<Self>,
        ip: &str,
        id: &str,
        lesson: &Arc<Lesson>,
        claim: Claim,
    ) -> Result<(Reservation, Option<Pooled>), SessionError> {
        let lesson_id = &lesson.summary.id;
        let mut discard = Vec::new();
        let mut live = lock(&self.live);
        // Sessions of a lesson that has changed since they were built go.
        if let Some(ready) = live.pooled.get_mut(lesson_id) {
            let (fresh, stale): (Vec<_>, Vec<_>) = std::mem::take(ready)
                .into_iter()
                .partition(|p| Arc::ptr_eq(&p.lesson, lesson));
            *ready = fresh;
            discard.extend(stale);
        }
        let taken = match self.admit(&live, ip, &claim) {
            Err(e) => Err(e),
            Ok(()) => match live.pooled.get_mut(lesson_id).and_then(Vec::pop) {
                Some(pooled) => {
                    // It stays counted: as being handed out now.
                    claim.count_in(&mut live, ip, &pooled.id);
                    let reservation = Reservation {
                        sessions: self.clone(),
                        ip: ip.to_owned(),
                        id: pooled.id.clone(),
                        claim,
                    };
                    Ok((reservation, Some(pooled)))
                }
                None => {
                    if self.pool_target(&live, lesson_id) > 0 {
                        self.metrics.pool_misses.inc();
                    }
                    // Room the pool holds is the learners' first.
                    if live.total() >= self.config.max_sessions {
                        if let Some(victim) = live.pooled.values_mut().find_map(Vec::pop) {
                            discard.push(victim);
                        }
                    }
                    self.reserve_locked(&mut live, ip, id, claim)
                        .map(|r| (r, None))
                }
            },
        };
        drop(live);
        self.discard_pooled(discard);
        taken
    }

    /// Ready sessions wanted for each lesson: its `warm_pool` count, plus the
    /// seats of open workshops of that lesson nobody has taken yet (a
    /// workshop starts its learners' sessions ahead of them).
    pub(super) fn pool_targets(&self, live: &Live) -> BTreeMap<String, usize> {
        let mut targets = self.config.warm_pool.clone();
        if self.config.workshop_prestart {
            for (lesson, free) in workshops::free_seats(live, unix_now()) {
                *targets.entry(lesson).or_default() += free;
            }
        }
        targets
    }

    fn pool_target(&self, live: &Live, lesson: &str) -> usize {
        self.pool_targets(live).get(lesson).copied().unwrap_or(0)
    }

    /// Gives pooled session `pooled` to the holder of `reservation`: a fresh
    /// token, the client's address, its lifetime and idle clock from now.
    pub(super) async fn hand_out(
        &self,
        pooled: Pooled,
        reservation: Reservation,
    ) -> Result<(Arc<Session>, String), SessionError> {
        let started = Instant::now();
        let (ip, id) = (reservation.ip.clone(), pooled.id.clone());
        let token = random_hex(24);
        let now = unix_now();
        let (seat, expires_at) = reservation
            .claim
            .record_fields(now, self.config.session_lifetime_secs);
        let record = SessionRecord {
            id: id.clone(),
            token_hash: hash_token(&token),
            lesson: pooled.lesson.summary.id.clone(),
            nodes: pooled.lesson.nodes.iter().map(|n| n.name.clone()).collect(),
            client_ip: ip.clone(),
            created_at: now,
            expires_at,
            progress: "{}".into(),
            seat,
        };
        if let Err(e) = self.store.insert(record.clone()).await {
            close_terminals(&pooled.terminals).await;
            let _ = self.runtime.remove_session(&id).await;
            return Err(e.into());
        }
        let session = self.assemble(record, pooled.terminals);
        lock(&self.live)
            .sessions
            .insert(id.clone(), session.clone());
        drop(reservation);
        self.pool_wake.notify_one();
        self.metrics.observe_start(started.elapsed());
        self.metrics.sessions_created.inc();
        self.metrics.pool_handouts.inc();
        tracing::info!(session = %id, lesson = %session.record.lesson, %ip, took_ms = started.elapsed().as_millis() as u64, "session handed out from the warm pool");
        Ok((session, token))
    }

    /// Ready sessions per lesson of `warm_pool`, for `/metrics`.
    pub fn pool_ready(&self) -> Vec<(String, usize)> {
        let live = lock(&self.live);
        let mut lessons: Vec<String> = self.pool_targets(&live).into_keys().collect();
        lessons.extend(live.pooled.keys().cloned());
        lessons.sort();
        lessons.dedup();
        lessons
            .into_iter()
            .map(|lesson| {
                let ready = live.pooled.get(&lesson).map_or(0, Vec::len);
                (lesson, ready)
            })
            .collect()
    }

    /// Whether `id` is a session in the pool (ready), for the sweep.
    pub(super) fn is_pooled(live: &super::Live, id: &str) -> bool {
        live.pooled.values().flatten().any(|p| p.id == id)
    }

    /// Keeps the pool filled until `stop` fires: a pass on every hand-out,
    /// workshop change and every [`POOL_CHECK_INTERVAL`].
    pub async fn run_pool(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        for lesson in self.config.warm_pool.keys() {
            match self.catalog.get(lesson) {
                None => {
                    tracing::warn!(%lesson, "warm_pool names a lesson the catalog does not serve (yet)")
                }
                Some(l) if l.nodes.is_empty() => {
                    tracing::warn!(%lesson, "warm_pool names a lesson with no machines; nothing to keep warm")
                }
                Some(_) => {}
            }
        }
        let mut failed: HashMap<String, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(POOL_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.pool_wake.notified() => {}
                _ = stop.changed() => return,
            }
            failed.retain(|_, at| at.elapsed() < POOL_RETRY_AFTER);
            self.refill(&mut failed).await;
        }
    }

    /// One pass: drains sessions of changed lessons and those beyond their
    /// lesson's target (a workshop ended), then builds sessions one at a time
    /// until each lesson has its target ([`Sessions::pool_targets`], within
    /// `max_sessions`), skipping lessons in `failed`. Returns how many it built.
    pub async fn refill(self: &Arc<Self>, failed: &mut HashMap<String, Instant>) -> usize {
        self.drain_stale();
        self.drain_excess();
        let mut built = 0;
        let targets = self.pool_targets(&lock(&self.live));
        for (lesson_id, &want) in &targets {
            if failed.contains_key(lesson_id) {
                continue;
            }
            // A lesson to read only has no session to keep warm.
            let Some(lesson) = self.catalog.get(lesson_id).filter(|l| !l.nodes.is_empty()) else {
                continue;
            };
            while let Some(filling) = self.reserve_fill(lesson_id, want) {
                match self.build_pooled(lesson.clone(), filling).await {
                    Ok(()) => built += 1,
                    Err(e) => {
                        tracing::warn!(lesson = %lesson_id, "building a pooled session: {e}");
                        failed.insert(lesson_id.clone(), Instant::now());
                        break;
                    }
                }
            }
        }
        built
    }

    /// A place for one more pooled session of `lesson`, if it has fewer than
    /// `want` (and than its target now: learners may have joined since the
    /// pass began) and the server has room.
    fn reserve_fill(self: &Arc<Self>, lesson: &str, want: usize) -> Option<Filling> {
        let mut live = lock(&self.live);
        let want = want.min(self.pool_target(&live, lesson));
        let have = live.pooled.get(lesson).map_or(0, Vec::len)
            + live.filling.get(lesson).copied().unwrap_or(0);
        if have >= want || live.total() >= self.config.max_sessions {
            return None;
        }
        let id = random_hex(8);
        *live.filling.entry(lesson.to_owned()).or_default() += 1;
        live.creating.insert(id.clone());
        Some(Filling {
            sessions: self.clone(),
            lesson: lesson.to_owned(),
            id,
        })
    }

    /// Builds one pooled session: runtime objects, then a shell in each
    /// terminal; then puts it in the pool (unless its lesson changed meanwhile).
    async fn build_pooled(
        self: &Arc<Self>,
        lesson: Arc<Lesson>,
        filling: Filling,
    ) -> Result<(), SessionError> {
        let started = Instant::now();
        let id = filling.id.clone();
        let expires_at = unix_now() + self.config.session_lifetime_secs as i64;
        let turn = self.creation_turn().await;
        self.provision(&id, &lesson, expires_at).await?;
        let nodes: Vec<String> = lesson.nodes.iter().map(|n| n.name.clone()).collect();
        let terminals = self.new_terminals(&id, &nodes, Some(&lesson));
        let shells = terminals.values().map(|t| t.ensure_shell(None));
        let started_shells: Result<Vec<()>, _> = futures_util::future::join_all(shells)
            .await
            .into_iter()
            .collect();
        drop(turn);
        let pooled = Pooled {
            id: id.clone(),
            lesson: lesson.clone(),
            terminals,
        };
        if let Err(e) = started_shells {
            self.discard_pooled(vec![pooled]);
            return Err(SessionError::Runtime(
                crate::runtime::RuntimeError::Backend(format!("starting a shell: {e}")),
            ));
        }
        let current = self
            .catalog
            .get(&lesson.summary.id)
            .is_some_and(|now| Arc::ptr_eq(&now, &lesson));
        if !current {
            self.discard_pooled(vec![pooled]);
            return Ok(());
        }
        lock(&self.live)
            .pooled
            .entry(lesson.summary.id.clone())
            .or_default()
            .push(pooled);
        drop(filling);
        tracing::info!(session = %id, lesson = %lesson.summary.id, took_ms = started.elapsed().as_millis() as u64, "pooled session ready");
        Ok(())
    }

    /// Takes the sessions of changed or removed lessons out of the pool and
    /// removes them. Returns how many.
    pub fn drain_stale(&self) -> usize {
        let stale: Vec<Pooled> = {
            let mut live = lock(&self.live);
            let mut stale = Vec::new();
            for (lesson_id, ready) in live.pooled.iter_mut() {
                let current = self.catalog.get(lesson_id);
                let (fresh, old): (Vec<_>, Vec<_>) = std::mem::take(ready)
                    .into_iter()
                    .partition(|p| current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &p.lesson)));
                *ready = fresh;
                stale.extend(old);
            }
            stale
        };
        let n = stale.len();
        if n > 0 {
            tracing::info!(sessions = n, "draining pooled sessions of changed lessons");
        }
        self.discard_pooled(stale);
        n
    }

    /// Takes ready sessions beyond their lesson's target out of the pool (a
    /// workshop ended or `warm_pool` shrank) and removes them. Returns how many.
    pub fn drain_excess(&self) -> usize {
        let excess: Vec<Pooled> = {
            let mut live = lock(&self.live);
            let targets = self.pool_targets(&live);
            let mut excess = Vec::new();
            for (lesson, ready) in live.pooled.iter_mut() {
                let want = targets.get(lesson).copied().unwrap_or(0);
                if ready.len() > want {
                    excess.extend(ready.drain(want..));
                }
            }
            excess
        };
        let n = excess.len();
        if n > 0 {
            tracing::info!(
                sessions = n,
                "draining pooled sessions nobody needs any more"
            );
        }
        self.discard_pooled(excess);
        n
    }

    /// Removes pooled sessions already out of the pool, in the background;
    /// counted as drained. (A sweep meanwhile may remove them too: removal
    /// is idempotent.)
    fn discard_pooled(&self, pooled: Vec<Pooled>) {
        if pooled.is_empty() {
            return;
        }
        self.metrics.pool_drained.inc_by(pooled.len() as u64);
        let runtime = self.runtime.clone();
        tokio::spawn(async move {
            for p in pooled {
                close_terminals(&p.terminals).await;
                if let Err(e) = runtime.remove_session(&p.id).await {
                    tracing::warn!(session = %p.id, "removing a pooled session: {e}");
                }
            }
        });
    }
}

async fn close_terminals(terminals: &BTreeMap<String, Arc<Terminal>>) {
    for terminal in terminals.values() {
        terminal
            .close(close_code::NORMAL, "session removed from the pool")
            .await;
    }
}
