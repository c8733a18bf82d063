//! Sessions: creating them (shared network plus nodes), finding and
//! authorising them, ending them, reaping expired and idle ones, and
//! reconciling with the runtime after a restart.
//!
//! [`Sessions`] is the only door to session state: handlers never reach the
//! runtime or the store. Besides the life cycle here, it offers what handlers
//! do to a session (`operations.rs`: restart a node, run a check, read and set
//! progress, move files, find a preview target); `upkeep.rs` reaps, reconciles
//! and saves screens at shutdown. Errors are the domain's
//! ([`SessionError`]); the HTTP layer maps them. Lesson scripts run through
//! [`scripts`], progress rules live in [`progress`].
//!
//! A session lives in three places: the in-memory map here (with its
//! terminals), the SQLite [`Store`] (so it survives restarts), and the
//! runtime's labelled containers. Creation writes the runtime first, then the
//! store, then the map; removal takes the session out of the map, then deletes
//! its record, then removes its Docker objects, so a crash in between leaves
//! objects without a record, which [`Sessions::reconcile`] cleans up (a record
//! left with all its containers would have been served again). Creation, and
//! an ending a client asks for, run in a task of their own, so a client that
//! hangs up cannot cut them short; runtime objects that a failed clean-up (or
//! a panic) leaves behind are removed by the periodic [`Sessions::sweep`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::api::{CreatedSession, NodeInfo, SessionInfo};
use protocol::terminal::{close_code, Event, NoticeLevel};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod error;
mod on_enter;
mod operations;
mod pool;
pub mod progress;
pub mod scripts;
#[cfg(test)]
mod tests_on_fake_runtime;
mod upkeep;
mod workshops;

pub use error::SessionError;
pub use progress::Progress;
pub use upkeep::ReconcileReport;
pub use workshops::WorkshopView;

use crate::config::Config;
use crate::lessons::{Catalog, Lesson};
use crate::metrics::Metrics;
use crate::runtime::{NodeLimits, NodeSpec, Runtime, RuntimeError};
use crate::store::{Seat, SessionRecord, Store};
use crate::terminal::{CaptureRule, Terminal, TerminalSettings};

/// One live session.
pub struct Session {
    pub record: SessionRecord,
    /// The learner's progress (`record.progress` is its JSON at load); held
    /// while it changes, which writes it through to the store.
    progress: tokio::sync::Mutex<progress::Stored>,
    terminals: BTreeMap<String, Arc<Terminal>>,
    clients: AtomicUsize,
    /// Admin sockets watching this session's terminals (`?watch=1`).
    watchers: AtomicUsize,
    last_active: Mutex<Instant>,
    /// Unix seconds of the last keystroke, check or terminal connection, for
    /// operators (idleness is `last_active` and `clients`).
    last_active_at: AtomicI64,
    expiry_warned: AtomicBool,
    /// Checks that may run at once in this session (`max_checks_per_session`).
    checks: Arc<tokio::sync::Semaphore>,
}

impl Session {
    pub fn terminal(&self, node: &str) -> Option<&Arc<Terminal>> {
        self.terminals.get(node)
    }

    /// The expiry warning once the reaper has given it, for a client that
    /// connects afterwards (a broadcast reaches only the clients of that
    /// moment); None before.
    pub fn expiry_notice(&self) -> Option<Event> {
        self.expiry_warned
            .load(Ordering::Relaxed)
            .then(|| expiry_notice(self.record.expires_at - unix_now()))
    }

    /// The session as `GET /sessions/{id}` shows it; `preview_origin` is where
    /// its previews are served (the HTTP layer knows it).
    pub fn info(&self, preview_origin: String) -> SessionInfo {
        SessionInfo {
            id: self.record.id.clone(),
            lesson: self.record.lesson.clone(),
            created_at: rfc3339(self.record.created_at),
            expires_at: rfc3339(self.record.expires_at),
            nodes: self.nodes(),
            preview_token: self.preview_token(),
            preview_origin,
        }
    }

    /// The `201` body of a new (or rejoined) session, with its `token` (which
    /// only the caller has: the server keeps its hash).
    pub fn created(&self, token: String, preview_origin: String) -> CreatedSession {
        CreatedSession {
            id: self.record.id.clone(),
            token,
            lesson: self.record.lesson.clone(),
            expires_at: rfc3339(self.record.expires_at),
            nodes: self.nodes(),
            preview_token: self.preview_token(),
            preview_origin,
        }
    }

    /// The capability that opens this session's previews only ([`preview_token`]).
    pub fn preview_token(&self) -> String {
        preview_token(&self.record.token_hash)
    }

    /// Notes activity now (a keystroke, a check, a connection): what operators
    /// see as "last active". One relaxed store, cheap enough per input frame.
    pub fn touch(&self) {
        self.last_active_at.store(unix_now(), Ordering::Relaxed);
    }

    /// Unix seconds of the last [`Session::touch`].
    pub fn last_active_at(&self) -> i64 {
        self.last_active_at.load(Ordering::Relaxed)
    }

    /// The learner's terminal sockets open now.
    pub fn connected(&self) -> usize {
        self.clients.load(Ordering::SeqCst)
    }

    /// Admin sockets watching now.
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::SeqCst)
    }

    /// The "someone is watching" event for a learner's socket that connects
    /// while someone watches; None when nobody does.
    pub fn watchers_notice(&self) -> Option<Event> {
        match self.watchers() {
            0 => None,
            n => Some(Event::Watchers { count: n as u32 }),
        }
    }

    /// Marks an admin watching until the guard drops; every terminal of the
    /// session is told how many watch, each time it changes. A watcher is not
    /// a client: it keeps no session from being reaped for idleness.
    pub fn watch(self: &Arc<Self>) -> WatchGuard {
        let n = self.watchers.fetch_add(1, Ordering::SeqCst) + 1;
        self.announce_watchers(n);
        WatchGuard {
            session: self.clone(),
        }
    }

    fn announce_watchers(&self, count: usize) {
        let event = Event::Watchers {
            count: count as u32,
        };
        for terminal in self.terminals.values() {
            terminal.broadcast(event.clone());
        }
    }

    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.record
            .nodes
            .iter()
            .map(|n| NodeInfo { name: n.clone() })
            .collect()
    }

    /// Marks a terminal client connected until the guard drops; a session
    /// with no client for `idle_timeout_secs` is reaped.
    pub fn client_connected(self: &Arc<Self>) -> ClientGuard {
        self.clients.fetch_add(1, Ordering::SeqCst);
        ClientGuard {
            session: self.clone(),
        }
    }

    /// Like [`Session::client_connected`], but None when `max` clients are
    /// connected already (the per-session socket cap).
    pub fn try_client_connected(self: &Arc<Self>, max: usize) -> Option<ClientGuard> {
        self.clients
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(ClientGuard {
            session: self.clone(),
        })
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.clients.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(lock(&self.last_active).elapsed())
    }
}

pub struct ClientGuard {
    session: Arc<Session>,
}

/// An admin watching a session ([`Session::watch`]).
pub struct WatchGuard {
    session: Arc<Session>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let n = self.session.watchers.fetch_sub(1, Ordering::SeqCst) - 1;
        self.session.announce_watchers(n);
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        *lock(&self.session.last_active) = Instant::now();
        self.session.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a session ended, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Deleted,
    Expired,
    Idle,
    /// Created for a client that left before it got the token.
    Abandoned,
    /// Its workshop was ended by the instructor, or expired.
    WorkshopEnded,
}

impl EndReason {
    fn message(self) -> &'static str {
        match self {
            EndReason::Deleted => "session ended",
            EndReason::Expired => "session expired",
            EndReason::Idle => "session ended after inactivity",
            EndReason::Abandoned => "session abandoned while being created",
            EndReason::WorkshopEnded => "the workshop has ended",
        }
    }
}

#[derive(Default)]
struct Live {
    sessions: HashMap<String, Arc<Session>>,
    /// Sessions being created, by client IP: they count against the limits.
    pending: HashMap<String, usize>,
    /// Ids of sessions being created: they have runtime objects before they
    /// are in `sessions`, and the sweep must leave those alone.
    creating: HashSet<String>,
    /// The warm pool (`pool.rs`): ready sessions nobody holds yet, by lesson.
    /// Not in `sessions`: no token opens them and the reaper never sees them.
    pooled: HashMap<String, Vec<pool::Pooled>>,
    /// Pooled sessions being built, by lesson (their ids are in `creating`).
    filling: HashMap<String, usize>,
    /// Open workshops by id (`workshops.rs`).
    workshops: HashMap<String, Arc<crate::store::WorkshopRecord>>,
    /// Joins under way, by workshop id: they count against its seats.
    joining: HashMap<String, usize>,
    /// Names of the joins under way, as `workshop\0lowercase name`.
    joining_names: HashSet<String>,
}

impl Live {
    /// Everything that counts toward `max_sessions`: live sessions, creations
    /// and hand-outs under way, and the warm pool, ready or being built.
    fn total(&self) -> usize {
        self.sessions.len()
            + self.pending.values().sum::<usize>()
            + self.pooled.values().map(Vec::len).sum::<usize>()
            + self.filling.values().sum::<usize>()
            + self.joining.values().sum::<usize>()
    }

    /// Sessions `ip` holds or is being given, workshop seats apart (a class
    /// behind one address joins on seats, not on the address's limit).
    fn for_ip(&self, ip: &str) -> usize {
        self.sessions
            .values()
            .filter(|s| s.record.client_ip == ip && s.record.seat.is_none())
            .count()
            + self.pending.get(ip).copied().unwrap_or(0)
    }
}

pub struct Sessions {
    config: Arc<Config>,
    runtime: Arc<dyn Runtime>,
    store: Store,
    catalog: Arc<Catalog>,
    metrics: Arc<Metrics>,
    live: Mutex<Live>,
    /// Checks that may run at once on the server (`max_checks`).
    checks: Arc<tokio::sync::Semaphore>,
    /// Creations that may run at once (`max_concurrent_creations`); fair, so
    /// creations take turns in the order they came.
    creations: Arc<tokio::sync::Semaphore>,
    /// Wakes the pool's filler (a session was handed out).
    pool_wake: tokio::sync::Notify,
    /// Whether reaching a step starts its on-enter scripts (false for
    /// `lesson test`, which runs them itself to wait for and report them).
    run_on_enter: bool,
}

/// Whose a new session is, and so which limit it counts against.
#[derive(Debug, Clone)]
enum Claim {
    /// An anonymous visitor: `max_sessions_per_ip`, `session_lifetime_secs`.
    Visitor,
    /// A workshop learner: the workshop's seats, its lifetime.
    Seat { seat: Seat, expires_at: i64 },
}

impl Claim {
    /// Counts a session being created under this claim in `live`.
    fn count_in(&self, live: &mut Live, ip: &str, id: &str) {
        match self {
            Claim::Visitor => *live.pending.entry(ip.to_owned()).or_default() += 1,
            Claim::Seat { seat, .. } => {
                *live.joining.entry(seat.workshop.clone()).or_default() += 1;
                live.joining_names.insert(workshops::name_key(seat));
            }
        }
        live.creating.insert(id.to_owned());
    }

    /// The seat and the expiry of a session under this claim created `now`.
    fn record_fields(&self, now: i64, lifetime_secs: u64) -> (Option<Seat>, i64) {
        match self {
            Claim::Visitor => (None, now + lifetime_secs as i64),
            Claim::Seat { seat, expires_at } => (Some(seat.clone()), *expires_at),
        }
    }
}

/// A creation's turn to run (`max_concurrent_creations`); the next waiting
/// creation starts when it is dropped.
struct CreationTurn {
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// How long the creation waited for it.
    waited: Duration,
}

/// Releases a capacity reservation (and the id's "being created" mark) when
/// creation ends, however it ends.
struct Reservation {
    sessions: Arc<Sessions>,
    ip: String,
    id: String,
    claim: Claim,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut live = lock(&self.sessions.live);
        live.creating.remove(&self.id);
        match &self.claim {
            Claim::Visitor => release_one(&mut live.pending, &self.ip),
            Claim::Seat { seat, .. } => {
                release_one(&mut live.joining, &seat.workshop);
                live.joining_names.remove(&workshops::name_key(seat));
            }
        }
    }
}

/// Takes one off `key`'s count in `counts`, forgetting the key at zero (the
/// counts of creations per address and of pool builds per lesson).
fn release_one(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

impl Sessions {
    pub fn new(
        config: Arc<Config>,
        runtime: Arc<dyn Runtime>,
        store: Store,
        catalog: Arc<Catalog>,
        metrics: Arc<Metrics>,
    ) -> Sessions {
        Sessions {
            checks: Arc::new(tokio::sync::Semaphore::new(config.max_checks)),
            creations: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_creations)),
            config,
            runtime,
            store,
            catalog,
            metrics,
            live: Mutex::new(Live::default()),
            pool_wake: tokio::sync::Notify::new(),
            run_on_enter: true,
        }
    }

    /// These sessions, leaving each step's on-enter scripts to the caller
    /// (`lesson test`, which types them itself to wait for and report them).
    pub fn leaving_on_enter_to_caller(mut self) -> Sessions {
        self.run_on_enter = false;
        self
    }

    pub fn live_count(&self) -> usize {
        lock(&self.live).sessions.len()
    }

    fn terminal_settings(&self) -> TerminalSettings {
        TerminalSettings {
            shell: self.config.shell.clone(),
            flow_high_water: self.config.flow_high_water_bytes,
            flow_low_water: self.config.flow_low_water_bytes,
            client_queue_frames: self.config.client_queue_frames,
            max_clients: self.config.max_sockets_per_terminal,
            max_cells: self.config.max_terminal_cells,
            captures: Vec::new().into(),
        }
    }

    fn make_session(&self, record: SessionRecord) -> Arc<Session> {
        // The lesson as served now (a session restored after a restart follows
        // the current text); none if it is gone, and then nothing is captured.
        let lesson = self.catalog.get(&record.lesson);
        let terminals = self.new_terminals(&record.id, &record.nodes, lesson.as_deref());
        self.assemble(record, terminals)
    }

    /// One terminal per node of session `id`, no shell started yet, each
    /// capturing what `lesson` captures from its node's output.
    fn new_terminals(
        &self,
        id: &str,
        nodes: &[String],
        lesson: Option<&Lesson>,
    ) -> BTreeMap<String, Arc<Terminal>> {
        let settings = self.terminal_settings();
        nodes
            .iter()
            .map(|node| {
                let captures: Vec<CaptureRule> = lesson
                    .map(|l| l.captures.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| c.node == *node)
                    .map(|c| CaptureRule {
                        name: c.name.clone(),
                        pattern: c.pattern.clone(),
                    })
                    .collect();
                let terminal = Terminal::new(
                    id,
                    node,
                    self.runtime.clone(),
                    TerminalSettings {
                        captures: captures.into(),
                        ..settings.clone()
                    },
                    self.metrics.clone(),
                );
                (node.clone(), terminal)
            })
            .collect()
    }

    /// A session of `record` with `terminals` (which may run shells already);
    /// its idle clock starts now.
    fn assemble(
        &self,
        record: SessionRecord,
        terminals: BTreeMap<String, Arc<Terminal>>,
    ) -> Arc<Session> {
        Arc::new(Session {
            progress: tokio::sync::Mutex::new(progress::stored_from_json(&record.progress)),
            record,
            terminals,
            clients: AtomicUsize::new(0),
            watchers: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            last_active_at: AtomicI64::new(unix_now()),
            expiry_warned: AtomicBool::new(false),
            checks: Arc::new(tokio::sync::Semaphore::new(
                self.config.max_checks_per_session,
            )),
        })
    }

    #[cfg(test)]
    fn reserve(self: &Arc<Self>, ip: &str, id: &str) -> Result<Reservation, SessionError> {
        let mut live = lock(&self.live);
        self.admit(&live, ip, &Claim::Visitor)?;
        self.reserve_locked(&mut live, ip, id, Claim::Visitor)
    }

    /// Whether `claim` may have another session: a visitor within
    /// `max_sessions_per_ip`, a learner within the seats of the workshop
    /// under a name nobody there has. `live` is the locked map.
    fn admit(&self, live: &Live, ip: &str, claim: &Claim) -> Result<(), SessionError> {
        match claim {
            Claim::Visitor => {
                let mine = live.for_ip(ip);
                if mine >= self.config.max_sessions_per_ip {
                    self.metrics.sessions_rejected_ip.inc();
                    return Err(SessionError::TooManySessions(mine));
                }
                Ok(())
            }
            Claim::Seat { seat, .. } => workshops::admit_seat(live, seat),
        }
    }

    /// A reservation for a new session `id` of `ip` under `claim` (admitted
    /// already), within `max_sessions`; `live` is the locked map.
    fn reserve_locked(
        self: &Arc<Self>,
        live: &mut Live,
        ip: &str,
        id: &str,
        claim: Claim,
    ) -> Result<Reservation, SessionError> {
        let total = live.total();
        if total >= self.config.max_sessions {
            self.metrics.sessions_rejected_full.inc();
            return Err(SessionError::Full {
                live: total,
                retry_after: self.config.retry_after_secs,
            });
        }
        claim.count_in(live, ip, id);
        Ok(Reservation {
            sessions: self.clone(),
            ip: ip.to_owned(),
            id: id.to_owned(),
            claim,
        })
    }

    /// Creates a session of `lesson` for a client at `ip`; returns it and its token.
    ///
    /// Cancel-safe: the work runs in a task of its own, so a caller that
    /// stops waiting (a client hanging up mid-request) cannot leave it half
    /// done. The task either records the session fully or removes what it
    /// made; a session nobody took the token of is ended at once.
    pub async fn create(
        self: &Arc<Self>,
        lesson: &str,
        ip: &str,
    ) -> Result<(Arc<Session>, String), SessionError> {
        self.create_for(lesson, ip, Claim::Visitor).await
    }

    /// [`Sessions::create`] under `claim` (a visitor's limits, or a workshop seat).
    async fn create_for(
        self: &Arc<Self>,
        lesson: &str,
        ip: &str,
        claim: Claim,
    ) -> Result<(Arc<Session>, String), SessionError> {
        let lesson = self
            .catalog
            .get(lesson)
            .ok_or_else(|| SessionError::UnknownLesson(lesson.to_owned()))?;
        if lesson.nodes.is_empty() {
            return Err(SessionError::ReadingOnly(lesson.summary.id.clone()));
        }
        let id = random_hex(8);
        let (reservation, pooled) = self.reserve_or_take(ip, &id, &lesson, claim)?;
        let (mut taken, result) = tokio::sync::oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let created = match pooled {
                Some(pooled) => this.hand_out(pooled, reservation).await,
                None => {
                    // A client that leaves while its creation waits for a turn
                    // costs nothing more.
                    let turn = tokio::select! {
                        turn = this.creation_turn() => turn,
                        _ = taken.closed() => {
                            tracing::info!(session = %reservation.id, "the client left while its creation waited for a turn");
                            return;
                        }
                    };
                    this.build(lesson.clone(), reservation, turn).await
                }
            };
            // The learner reaches the first step as the session starts.
            if let (Ok((session, _)), true) = (&created, this.run_on_enter) {
                if let Err(e) = this.enter_step(session, &lesson, 0).await {
                    tracing::warn!(session = %session.record.id, "starting the first step's scripts: {e}");
                }
            }
            if let Err(Ok((session, _))) = taken.send(created) {
                tracing::info!(session = %session.record.id, "the client left before its session was ready");
                if let Err(e) = this.end(&session.record.id, EndReason::Abandoned).await {
                    tracing::error!(session = %session.record.id, "ending an abandoned session: {e}");
                }
            }
        });
        result
            .await
            .unwrap_or_else(|_| Err(SessionError::CreationAborted))
    }

    /// The body of [`Sessions::create`]: runtime objects, the record, the map.
    /// The reservation is held until the session is in the map or its
    /// objects are removed.
    async fn build(
        &self,
        lesson: Arc<Lesson>,
        reservation: Reservation,
        turn: CreationTurn,
    ) -> Result<(Arc<Session>, String), SessionError> {
        let ip = reservation.ip.clone();
        let id = reservation.id.clone();
        let started = Instant::now();
        let token = random_hex(24);
        let now = unix_now();
        let (seat, expires_at) = reservation
            .claim
            .record_fields(now, self.config.session_lifetime_secs);
        let waited = turn.waited;
        let took = self.provision(&id, &lesson, expires_at).await?;
        let record = SessionRecord {
            id: id.clone(),
            token_hash: hash_token(&token),
            lesson: lesson.summary.id.clone(),
            nodes: lesson.nodes.iter().map(|n| n.name.clone()).collect(),
            client_ip: ip.clone(),
            created_at: now,
            expires_at,
            progress: "{}".into(),
            seat,
        };
        let step = Instant::now();
        if let Err(e) = self.store.insert(record.clone()).await {
            let _ = self.runtime.remove_session(&id).await;
            return Err(e.into());
        }
        let store_took = step.elapsed();
        let session = self.make_session(record);
        lock(&self.live)
            .sessions
            .insert(id.clone(), session.clone());
        // After the insert (never under the same lock: the drop takes it), so the
        // session is counted at least once at every moment.
        drop(reservation);
        // The learner waited for the turn too.
        let took_all = waited + started.elapsed();
        self.metrics.observe_start(took_all);
        self.metrics.sessions_created.inc();
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::info!(
            session = %id,
            lesson = %session.record.lesson,
            %ip,
            took_ms = ms(took_all),
            queued_ms = ms(waited),
            network_ms = ms(took[0]),
            nodes_ms = ms(took[1]),
            provision_ms = ms(took[2]),
            store_ms = ms(store_took),
            "session created"
        );
        // Start the shells now, so the first prompt is waiting when the browser
        // connects; the creation's turn ends when they have started.
        let turn = Arc::new(turn);
        for terminal in session.terminals.values() {
            let terminal = terminal.clone();
            let turn = turn.clone();
            tokio::spawn(async move {
                if let Err(e) = terminal.ensure_shell(None).await {
                    tracing::warn!("starting a shell early: {e}");
                }
                drop(turn);
            });
        }
        Ok((session, token))
    }

    /// Waits until a creation may start (`max_concurrent_creations`), first
    /// come first served. The creation holds the turn until its first shells
    /// have started.
    async fn creation_turn(&self) -> CreationTurn {
        let asked = Instant::now();
        let permit = self
            .creations
            .clone()
            .acquire_owned()
            .await
            .expect("the creations semaphore is never closed");
        CreationTurn {
            _permit: permit,
            waited: asked.elapsed(),
        }
    }

    /// The runtime objects of session `id`: network, nodes, assets and setup
    /// scripts; called in a creation's turn. On failure, what was made is
    /// removed. Returns how long the network, the nodes and the provisioning
    /// took.
    async fn provision(
        &self,
        id: &str,
        lesson: &Lesson,
        expires_at: i64,
    ) -> Result<[Duration; 3], SessionError> {
        let id = id.to_owned();
        let limits = NodeLimits {
            memory_bytes: (self.config.node_memory_mib * 1024 * 1024) as i64,
            nano_cpus: (self.config.node_cpus * 1e9) as i64,
            pids: self.config.node_pids,
        };
        // How long each step took (network, nodes, provisioning), for the log:
        // where a burst of creations waits (docs/performance.md).
        let mut took = [Duration::ZERO; 3];
        let build = async {
            let step = Instant::now();
            self.runtime
                .prepare_session(&id, expires_at)
                .await
                .map_err(|e| match e {
                    // Out of addresses is being full, whatever `max_sessions` says.
                    RuntimeError::NoFreeSubnet(_) | RuntimeError::SubnetsContended(_) => {
                        if matches!(e, RuntimeError::NoFreeSubnet(_)) {
                            tracing::warn!(
                                "{e}: raise session_subnet_pool's size or lower max_sessions"
                            );
                        } else {
                            tracing::warn!("{e}: give each server a pool of its own");
                        }
                        SessionError::Full {
                            live: lock(&self.live).sessions.len(),
                            retry_after: self.config.retry_after_secs,
                        }
                    }
                    e => SessionError::Runtime(e),
                })?;
            took[0] = step.elapsed();
            let step = Instant::now();
            let nodes = lesson.nodes.iter().map(|n| {
                let spec = NodeSpec {
                    session: id.clone(),
                    node: n.name.clone(),
                    image: self.config.image_ref(&n.image),
                    expires_at,
                    limits: n.limits(&limits),
                };
                async move { self.runtime.create_node(&spec).await }
            });
            for result in futures_util::future::join_all(nodes).await {
                result?;
            }
            took[1] = step.elapsed();
            let step = Instant::now();
            // Assets and setup scripts, before the learner gets the nodes.
            scripts::provision(self.runtime.as_ref(), &id, lesson).await?;
            took[2] = step.elapsed();
            Ok::<(), SessionError>(())
        };
        if let Err(e) = build.await {
            tracing::warn!(session = %id, "creating session failed: {e}");
            if let Err(cleanup) = self.runtime.remove_session(&id).await {
                tracing::error!(session = %id, "cleaning up a failed session: {cleanup}");
            }
            return Err(e);
        }
        Ok(took)
    }

    /// The session `id`, if `token` (the session token) opens it: the API,
    /// terminals and files. Unknown session first, then a missing token, then
    /// a wrong one.
    pub fn authorize(&self, id: &str, token: Option<&str>) -> Result<Arc<Session>, SessionError> {
        self.authorize_for(id, token, Access::Full)
    }

    /// The live session `id`, for an operator the HTTP layer has checked (the
    /// admin token): no session token asked.
    pub fn get_for_operator(&self, id: &str) -> Result<Arc<Session>, SessionError> {
        lock(&self.live)
            .sessions
            .get(id)
            .cloned()
            .ok_or_else(|| SessionError::NoSession(id.to_owned()))
    }

    /// The session `id`, if `token` opens it for `access`; same error order
    /// as [`Sessions::authorize`].
    pub fn authorize_for(
        &self,
        id: &str,
        token: Option<&str>,
        access: Access,
    ) -> Result<Arc<Session>, SessionError> {
        let session = lock(&self.live)
            .sessions
            .get(id)
            .cloned()
            .ok_or_else(|| SessionError::NoSession(id.to_owned()))?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(SessionError::Unauthorized)?;
        let hash = &session.record.token_hash;
        let is_session_token = bool::from(hash_token(token).as_bytes().ct_eq(hash.as_bytes()));
        let is_preview_token = access == Access::Preview
            && bool::from(token.as_bytes().ct_eq(preview_token(hash).as_bytes()));
        if is_session_token || is_preview_token {
            Ok(session)
        } else {
            Err(SessionError::Forbidden)
        }
    }

    /// [`Sessions::end`] as a client asks for it (`DELETE`): on a task of its
    /// own, so it runs to the end even if the client hangs up. A handler's
    /// future is dropped then, and an ending cut short between the map and
    /// the store left the record behind: a restart served the session again.
    pub async fn end_requested(self: &Arc<Self>, id: &str) -> Result<(), SessionError> {
        let (this, id) = (self.clone(), id.to_owned());
        to_completion(async move { this.end(&id, EndReason::Deleted).await }).await
    }

    /// Ends a session: its clients are told, its record deleted, its
    /// containers, network and volumes removed. Idempotent.
    pub async fn end(&self, id: &str, reason: EndReason) -> Result<(), SessionError> {
        let session = lock(&self.live).sessions.remove(id);
        if let Some(session) = &session {
            // Out of the map, the session has ended for everyone: count it now,
            // not after the clean-up (which a failure would skip; reconcile
            // finishes that).
            let counter = match reason {
                EndReason::Deleted | EndReason::Abandoned | EndReason::WorkshopEnded => {
                    &self.metrics.sessions_deleted
                }
                EndReason::Expired => &self.metrics.sessions_reaped_expired,
                EndReason::Idle => &self.metrics.sessions_reaped_idle,
            };
            counter.inc();
            for terminal in session.terminals.values() {
                terminal.close(close_code::NORMAL, reason.message()).await;
            }
        }
        // The record goes before the Docker objects: a server stopped while
        // they are being removed (a dind node takes seconds) must not find
        // the record at its next start and serve the session again. Objects
        // without a record are what reconcile and the sweep remove.
        let forgotten = self.store.delete(id).await;
        self.runtime.remove_session(id).await?;
        forgotten?;
        if session.is_some() {
            tracing::info!(session = %id, ?reason, "session ended");
        }
        Ok(())
    }
}

/// Runs `work` on a task of its own and waits for it: dropping the caller
/// does not stop it half-way. Ok(()) if the runtime cancelled it (shutting
/// down; `reconcile` finishes what it left).
async fn to_completion(
    work: impl std::future::Future<Output = Result<(), SessionError>> + Send + 'static,
) -> Result<(), SessionError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Ok(()),
    }
}

/// "This session ends in N minutes.", for `left` seconds (rounded up).
fn expiry_notice(left: i64) -> Event {
    let minutes = (left.max(0) + 59) / 60;
    Event::Notice {
        level: NoticeLevel::Warning,
        message: format!(
            "This session ends in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a token is asked to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything of the session: only the session token.
    Full,
    /// The session's web previews only: the session token or its preview token.
    Preview,
}

/// The preview capability of the session whose token hashes to `token_hash`:
/// it opens that session's previews and nothing else, so a lesson link can
/// carry it into a new tab (and its history) without giving away the
/// terminals or the API. Derived from what the store keeps (no schema
/// change, stable across restarts); the API never accepts it, since the API
/// compares the hash of what it is given with `token_hash`, and nobody can
/// find a token whose hash is `token_hash` from this value.
pub fn preview_token(token_hash: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"preview\0");
    hasher.update(token_hash.as_bytes());
    hex::encode(hasher.finalize())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
