//! What handlers do to an authorised session, so that they never reach the
//! runtime or the store themselves: restart a node, run a step's check and
//! record a pass, read and set progress, read captured values, write and read
//! a node's files, and find where the web preview connects.

use std::net::IpAddr;
use std::sync::Arc;

use protocol::api::{CapturedValue, CheckResult};
use tokio::sync::OwnedSemaphorePermit;

use super::on_enter;
use super::progress::{self, Progress};
use super::scripts::run_check;
use super::{Session, SessionError, Sessions};
use crate::graders::GraderLimits;
use crate::lessons::Lesson;
use crate::runtime::{FileDownload, NewFile, RuntimeError};
use crate::terminal::{RestartError, Terminal};

/// Seconds a restarting node's processes get to stop before they are killed.
pub const RESTART_GRACE_SECS: i32 = 2;

impl Sessions {
    /// The session's node `node`, checked.
    fn node<'a>(
        &self,
        session: &'a Session,
        node: &str,
    ) -> Result<&'a Arc<Terminal>, SessionError> {
        session.terminal(node).ok_or_else(|| SessionError::NoNode {
            session: session.record.id.clone(),
            node: node.to_owned(),
        })
    }

    /// The lesson the session follows, while the catalog still serves it.
    fn lesson_of(&self, session: &Session) -> Result<Arc<Lesson>, SessionError> {
        self.catalog
            .get(&session.record.lesson)
            .ok_or_else(|| SessionError::NoLesson(session.record.lesson.clone()))
    }

    /// The learner's "Restart node": the node's processes restart, its files
    /// stay; its terminal's clients are asked to reconnect and get a new
    /// shell. [`SessionError::Busy`] while that node is already restarting.
    pub async fn restart_node(&self, session: &Session, node: &str) -> Result<(), SessionError> {
        let terminal = self.node(session, node)?;
        let id = &session.record.id;
        terminal
            .restart_node(self.runtime.restart_node(id, node, RESTART_GRACE_SECS))
            .await
            .map_err(|e| match e {
                RestartError::Busy => SessionError::Busy(node.to_owned()),
                RestartError::Runtime(e) => SessionError::Runtime(e),
            })?;
        tracing::info!(session = %id, node = %node, "node restarted");
        Ok(())
    }

    /// A place for one more check, in the session and on the server, held
    /// while the check runs; refused (not queued) when either is taken, so a
    /// learner clicking "check" over and over cannot pile execs up.
    fn check_slots(
        &self,
        session: &Session,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), SessionError> {
        let mine = session.checks.clone().try_acquire_owned().map_err(|_| {
            SessionError::ChecksBusy(format!(
                "{} checks are running in this session already",
                self.config.max_checks_per_session
            ))
        })?;
        let everyone = self.checks.clone().try_acquire_owned().map_err(|_| {
            SessionError::ChecksBusy(format!(
                "the server runs {} checks at once, all taken",
                self.config.max_checks
            ))
        })?;
        Ok((mine, everyone))
    }

    /// Runs the check of step `step` (from 0) in its node; a pass is recorded
    /// in the session's progress.
    pub async fn run_check(
        &self,
        session: &Session,
        step: usize,
    ) -> Result<CheckResult, SessionError> {
        session.touch();
        let lesson = self.lesson_of(session)?;
        let check = lesson
            .steps
            .get(step)
            .ok_or_else(|| SessionError::NoStep {
                lesson: lesson.summary.id.clone(),
                steps: lesson.steps.len(),
                step,
            })?
            .check
            .as_ref()
            .ok_or(SessionError::NoCheck(step))?;
        if check.grader.is_none() && session.terminal(&check.node).is_none() {
            return Err(SessionError::NoCheckNode(check.node.clone()));
        }
        let slots = self.check_slots(session)?;
        let id = &session.record.id;
        // In a task of its own that holds the slots until the check is
        // done: a client hanging up (dropping this future) frees no slot
        // while its check still runs.
        let (runtime, sid, task_check, limits, task_lesson) = (
            self.runtime.clone(),
            id.clone(),
            check.clone(),
            GraderLimits::of(&self.config),
            lesson.clone(),
        );
        let outcome = tokio::spawn(async move {
            let _slots = slots;
            run_check(runtime, &limits, &sid, &task_lesson, &task_check).await
        })
        .await
        .map_err(|e| RuntimeError::Backend(format!("the check stopped: {e}")))??;
        let mut output = outcome.output.clone();
        if outcome.timed_out && check.grader.is_none() {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&format!(
                "(the check did not finish within {} s)",
                check.script.timeout_secs
            ));
        }
        let passed = outcome.passed();
        if check.grader.is_some() {
            self.metrics.observe_grader(
                passed,
                outcome.timed_out,
                std::time::Duration::from_millis(outcome.millis),
                outcome.grader_memory_bytes,
            );
        }
        if passed {
            let mut current = session.progress.lock().await;
            let mut updated = current.clone();
            if progress::record_pass(&mut updated.learner, step) {
                self.store
                    .set_progress(id, progress::to_json(&updated))
                    .await?;
                *current = updated;
            }
        }
        tracing::debug!(session = %id, step, passed, millis = outcome.millis, "check");
        Ok(CheckResult {
            passed,
            output,
            millis: outcome.millis,
        })
    }

    /// The values the session's lesson captures (`capture=NAME`), each as its
    /// node's terminal output last gave it: what the web app fills `{{NAME}}`
    /// with before it types a block, and what `lesson test` fills it with.
    /// The server reads them from the output it streams (the trusted side,
    /// and the one that sees everything a node printed, scrolled away or not).
    pub fn captures(&self, session: &Session) -> Result<Vec<CapturedValue>, SessionError> {
        let lesson = self.lesson_of(session)?;
        Ok(lesson
            .captures
            .iter()
            .map(|c| CapturedValue {
                name: c.name.clone(),
                node: c.node.clone(),
                value: session.terminal(&c.node).and_then(|t| t.captured(&c.name)),
            })
            .collect())
    }

    /// The learner's progress.
    pub async fn progress(&self, session: &Session) -> Progress {
        session.progress.lock().await.learner.clone()
    }

    /// Stores the learner's progress by the rules of [`progress::accept`];
    /// returns what was stored. Reaching a step for the first time starts
    /// its on-enter scripts ([`Sessions::enter_step`]).
    pub async fn set_progress(
        &self,
        session: &Arc<Session>,
        wanted: Progress,
    ) -> Result<Progress, SessionError> {
        let lesson = self.lesson_of(session)?;
        let mut current = session.progress.lock().await;
        let accepted = progress::accept(
            &session.record.id,
            &current.learner,
            wanted,
            lesson.steps.len(),
            |n| lesson.steps[n].check.is_some(),
        )?;
        let mut updated = progress::Stored {
            learner: accepted.clone(),
            entered_steps: current.entered_steps.clone(),
        };
        let step = accepted.current_step;
        let enter = self.run_on_enter
            && lesson.on_enter(step).is_some_and(|e| !e.is_empty())
            && updated.enter(step);
        self.store
            .set_progress(&session.record.id, progress::to_json(&updated))
            .await?;
        *current = updated;
        drop(current);
        if enter {
            self.start_on_enter(session, &lesson, step);
        }
        Ok(accepted)
    }

    /// Starts step `n`'s on-enter scripts (the finish page's for `n` =
    /// its number of steps) unless this session started them before; the
    /// learner does not wait for them. Step 0's start with the session.
    pub async fn enter_step(
        &self,
        session: &Arc<Session>,
        lesson: &Lesson,
        n: usize,
    ) -> Result<(), SessionError> {
        if lesson.on_enter(n).is_none_or(|e| e.is_empty()) {
            return Ok(());
        }
        let mut current = session.progress.lock().await;
        let mut updated = current.clone();
        if !updated.enter(n) {
            return Ok(());
        }
        self.store
            .set_progress(&session.record.id, progress::to_json(&updated))
            .await?;
        *current = updated;
        drop(current);
        self.start_on_enter(session, lesson, n);
        Ok(())
    }

    fn start_on_enter(&self, session: &Arc<Session>, lesson: &Lesson, n: usize) {
        let Some(on_enter) = lesson.on_enter(n).cloned() else {
            return;
        };
        tracing::info!(session = %session.record.id, step = n, "running the step's on-enter scripts");
        tokio::spawn(on_enter::run(
            self.runtime.clone(),
            session.clone(),
            n,
            on_enter,
        ));
    }

    /// Writes `file` into the node, creating its parent directories.
    pub async fn write_file(
        &self,
        session: &Session,
        node: &str,
        file: NewFile,
    ) -> Result<(), SessionError> {
        self.node(session, node)?;
        let id = &session.record.id;
        let (path, size) = (file.path.clone(), file.size);
        self.runtime.write_file(id, node, file).await?;
        tracing::info!(session = %id, %node, %path, size, "file uploaded");
        Ok(())
    }

    /// Reads the regular file `path` of the node (following symbolic links).
    pub async fn read_file(
        &self,
        session: &Session,
        node: &str,
        path: &str,
    ) -> Result<FileDownload, SessionError> {
        self.node(session, node)?;
        Ok(self
            .runtime
            .read_file(&session.record.id, node, path)
            .await?)
    }

    /// Where the web preview connects for `node`; `refresh` asks the runtime
    /// again (a restarted node may have a new address).
    pub async fn preview_target(
        &self,
        session: &Session,
        node: &str,
        refresh: bool,
    ) -> Result<IpAddr, SessionError> {
        self.node(session, node)?;
        Ok(self
            .runtime
            .node_address(&session.record.id, node, refresh)
            .await?)
    }
}
