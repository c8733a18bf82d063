//! A step's on-enter scripts ([`OnEnter`]), run once per session when a
//! learner first reaches the step: the background scripts by exec, one after
//! another, as setup scripts run; the typed ones into their node's terminal,
//! as the Run button types a block, so the learner sees them. Both start at
//! once, as Killercoda starts a step's background and foreground scripts (a
//! foreground script that waits for its background's marker file works).
//!
//! Nothing here ends a session or answers a request: a learner moving to a
//! step never waits for it, and a failure is logged for the author.

use std::sync::Arc;
use std::time::Duration;

use crate::lessons::OnEnter;
use crate::runtime::Runtime;

use super::scripts::run_script;
use super::Session;

/// How long a typed script waits for its node's shell to show a prompt.
const PROMPT_WAIT: Duration = Duration::from_secs(10);

/// Runs `on_enter` (step `step`'s, for the log) in `session` to the end.
pub async fn run(runtime: Arc<dyn Runtime>, session: Arc<Session>, step: usize, on_enter: OnEnter) {
    let id = session.record.id.clone();
    let typed = async {
        for block in &on_enter.typed {
            let Some(terminal) = session.terminal(&block.node) else {
                tracing::warn!(session = %id, step, node = %block.node, "on-enter script for a node the session does not have");
                continue;
            };
            if let Err(e) = terminal.ensure_shell(None).await {
                tracing::warn!(session = %id, step, node = %block.node, "on-enter script not typed: starting a shell: {e}");
                continue;
            }
            // Typed before the shell's first prompt, the keys would be
            // echoed ahead of it; a shell that shows none in time gets them
            // anyway (they wait in the terminal).
            let waited = tokio::time::Instant::now();
            while terminal.prompt_line().trim().is_empty() && waited.elapsed() < PROMPT_WAIT {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let keys = protocol::dialect::keystrokes(&block.code);
            match terminal.input(keys.as_bytes()).await {
                Ok(()) => {
                    tracing::info!(session = %id, step, node = %block.node, "on-enter script typed")
                }
                Err(e) => {
                    tracing::warn!(session = %id, step, node = %block.node, "on-enter script not typed: {e}")
                }
            }
        }
    };
    let background = async {
        for script in &on_enter.background {
            match run_script(runtime.as_ref(), &id, &script.node, &script.script, false).await {
                Ok(o) if o.passed() => {
                    tracing::info!(session = %id, step, node = %script.node, millis = o.millis, "on-enter background script done")
                }
                Ok(o) => tracing::warn!(
                    session = %id, step, node = %script.node, code = o.code, timed_out = o.timed_out,
                    "on-enter background script failed: {}",
                    tail(&o.output)
                ),
                Err(e) => {
                    tracing::warn!(session = %id, step, node = %script.node, "on-enter background script not run: {e}")
                }
            }
        }
    };
    tokio::join!(typed, background);
}

/// The last lines of a script's output, for a log line.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.trim_end().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
