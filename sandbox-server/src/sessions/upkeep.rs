//! Keeping sessions in order over time: the reaper (expiry, idleness, the
//! expiry warning), the sweep (runtime objects no session owns), reconciling
//! the store with the runtime after a start, and saving screens when the
//! server stops.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use protocol::terminal::close_code;

use super::{expiry_notice, lock, unix_now, EndReason, Session, SessionError, Sessions};
use crate::store::SavedScreen;

impl Sessions {
    /// One pass of the reaper: ends expired workshops, expired and idle
    /// sessions (workshop sessions are never idle: they end with their
    /// workshop), warns those about to expire.
    pub async fn reap(&self) {
        self.end_expired_workshops().await;
        let now = unix_now();
        let idle_limit = Duration::from_secs(self.config.idle_timeout_secs);
        let sessions: Vec<Arc<Session>> = lock(&self.live).sessions.values().cloned().collect();
        for session in sessions {
            let id = &session.record.id;
            let reason = if now >= session.record.expires_at {
                Some(EndReason::Expired)
            } else if session.record.seat.is_none()
                && session.idle_for().is_some_and(|idle| idle >= idle_limit)
            {
                Some(EndReason::Idle)
            } else {
                None
            };
            if let Some(reason) = reason {
                if let Err(e) = self.end(id, reason).await {
                    tracing::error!(session = %id, "reaping: {e}");
                }
                continue;
            }
            let left = session.record.expires_at - now;
            if left <= self.config.expiry_warning_secs as i64
                && !session.expiry_warned.swap(true, Ordering::Relaxed)
            {
                let notice = expiry_notice(left);
                for terminal in session.terminals.values() {
                    terminal.broadcast(notice.clone());
                }
            }
        }
    }

    /// Removes the runtime objects (containers, networks, volumes) of this
    /// instance that no live session owns and no creation under way is
    /// making: what a failed clean-up, a crash mid-creation or a panic left.
    /// Returns how many sessions' objects it removed.
    ///
    /// The listing comes first and the map is read after it, under one lock:
    /// a creation registers its id before it makes any object and leaves
    /// `creating` only once it is in `sessions` (or its objects are gone), so
    /// every id listed is in one of the two sets while it is wanted.
    pub async fn sweep(&self) -> Result<usize, SessionError> {
        let found = crate::runtime::sessions_present(self.runtime.as_ref()).await?;
        let orphans: Vec<String> = {
            let live = lock(&self.live);
            found
                .into_iter()
                .filter(|id| {
                    !live.sessions.contains_key(id)
                        && !live.creating.contains(id)
                        && !Sessions::is_pooled(&live, id)
                })
                .collect()
        };
        for id in &orphans {
            tracing::warn!(session = %id, "sweeping runtime objects no session owns");
            self.runtime.remove_session(id).await?;
        }
        Ok(orphans.len())
    }

    /// Runs [`Sessions::reap`] every `reap_interval_secs` and
    /// [`Sessions::sweep`] every `sweep_interval_secs` until `stop` fires.
    pub async fn run_reaper(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let every = |secs| {
            let mut tick = tokio::time::interval(Duration::from_secs(secs));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        };
        let mut reap = every(self.config.reap_interval_secs);
        let mut sweep = every(self.config.sweep_interval_secs);
        loop {
            tokio::select! {
                _ = reap.tick() => self.reap().await,
                _ = sweep.tick() => {
                    if let Err(e) = self.sweep().await {
                        tracing::error!("sweeping: {e}");
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// Brings the store and the runtime into agreement after a start:
    /// sessions whose nodes all exist are served again; expired or broken
    /// sessions and containers no record owns are removed.
    pub async fn reconcile(&self) -> Result<ReconcileReport, SessionError> {
        let now = unix_now();
        let mut report = ReconcileReport::default();
        let mut found: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for node in self.runtime.list_nodes().await? {
            found
                .entry(node.session)
                .or_default()
                .push((node.node, node.running));
        }
        report.workshops = self.restore_workshops().await?;
        let mut kept = HashSet::new();
        for record in self.store.all().await? {
            let id = record.id.clone();
            let nodes = found.get(&id);
            let complete = nodes.is_some_and(|nodes| {
                record
                    .nodes
                    .iter()
                    .all(|want| nodes.iter().any(|(have, _)| have == want))
            });
            // A session of a workshop that has ended (while the server was down) ends too.
            let orphaned_seat = record
                .seat
                .as_ref()
                .is_some_and(|seat| !lock(&self.live).workshops.contains_key(&seat.workshop));
            if record.expires_at <= now || !complete || orphaned_seat {
                self.runtime.remove_session(&id).await?;
                self.store.delete(&id).await?;
                report.removed += 1;
                continue;
            }
            for (node, running) in nodes.into_iter().flatten() {
                if !running {
                    self.runtime.start_node(&id, node).await?;
                }
            }
            let session = self.make_session(record);
            for saved in self.store.take_screens(&id).await? {
                if let Some(terminal) = session.terminals.get(&saved.node) {
                    terminal.restore(&saved);
                }
            }
            lock(&self.live).sessions.insert(id.clone(), session);
            kept.insert(id);
            report.restored += 1;
        }
        let mut orphans: HashSet<String> = found.into_keys().collect();
        orphans.extend(self.runtime.list_session_leftovers().await?);
        for id in orphans.difference(&kept) {
            self.runtime.remove_session(id).await?;
            report.orphans_removed += 1;
        }
        Ok(report)
    }

    /// The server is stopping: every client is told; sessions stay for the
    /// next start, and so do their screens, which the next start repaints.
    pub async fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> = lock(&self.live).sessions.values().cloned().collect();
        for session in sessions {
            let screens: Vec<SavedScreen> = session
                .terminals
                .values()
                .filter_map(|t| t.snapshot())
                .collect();
            if !screens.is_empty() {
                if let Err(e) = self.store.save_screens(&session.record.id, screens).await {
                    tracing::warn!(session = %session.record.id, "saving screens: {e}");
                }
            }
            for terminal in session.terminals.values() {
                terminal
                    .close(
                        close_code::GOING_AWAY,
                        "server restarting; reconnect shortly",
                    )
                    .await;
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Open workshops loaded from the store.
    pub workshops: usize,
    pub restored: usize,
    pub removed: usize,
    pub orphans_removed: usize,
}
