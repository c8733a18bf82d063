//! Running one check: a fresh store per check (nothing is shared between two
//! checks or two learners), a memory limit, epoch interruption so that the
//! step's timeout can stop a grader that loops, and every failure of the
//! grader turned into a failed check with a message, never into a server
//! error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::Store;

use super::host::{bindings, HostState};
use super::{Grader, GraderEngine};
use crate::config::Config;
use crate::runtime::Runtime;

/// The limits every grader runs under (configuration keys `grader_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraderLimits {
    /// Linear memory a grader may grow to, in bytes.
    pub memory_bytes: usize,
    /// Host calls one check may make.
    pub max_host_calls: u32,
    /// The largest answer of one host call (a file, a body, inspect data).
    pub max_host_bytes: u64,
    /// How long one host call may take (never beyond the check's deadline).
    pub host_call_timeout: Duration,
    /// The longest message a verdict keeps; more is cut.
    pub max_message_bytes: usize,
}

impl GraderLimits {
    pub fn of(config: &Config) -> GraderLimits {
        GraderLimits {
            memory_bytes: (config.grader_memory_mib as usize) << 20,
            max_host_calls: config.grader_max_host_calls,
            max_host_bytes: config.grader_max_host_bytes,
            host_call_timeout: Duration::from_secs(config.grader_host_call_timeout_secs),
            max_message_bytes: config.grader_max_message_bytes,
        }
    }
}

/// What a grader sees: one session's nodes, through the runtime.
#[derive(Clone)]
pub struct GraderContext {
    pub runtime: Arc<dyn Runtime>,
    pub session: String,
    /// The session's node names, in the lesson's order: the only nodes a
    /// grader can name.
    pub nodes: Vec<String>,
    pub limits: GraderLimits,
}

/// How a grader's check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraderOutcome {
    pub passed: bool,
    /// The grader's message, or what went wrong with the grader.
    pub message: String,
    /// The check did not finish within its timeout.
    pub timed_out: bool,
    /// Host calls the grader made.
    pub host_calls: u32,
    /// The most linear memory the grader had, in bytes.
    pub memory_bytes: u64,
    pub millis: u64,
}

/// Runs `grader`'s `check` for the session of `ctx`, within `timeout`.
pub async fn run_check(grader: &Grader, ctx: GraderContext, timeout: Duration) -> GraderOutcome {
    let started = Instant::now();
    let deadline = started + timeout;
    let engine = GraderEngine::global().wasmtime();
    let max_message = ctx.limits.max_message_bytes;
    let memory_limit = ctx.limits.memory_bytes;
    let mut store = Store::new(engine, HostState::new(ctx, deadline));
    store.limiter(|state| &mut state.memory);
    // Yield to the executor at every epoch tick: a grader that loops never
    // holds a worker thread for longer than a tick, and the timeout below
    // can drop it.
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);

    let result = tokio::time::timeout(timeout, call_check(&mut store, grader)).await;
    let state = store.data();
    let host_calls = state.calls;
    let memory_bytes = state.memory.peak_bytes as u64;
    let (passed, message, timed_out) = match result {
        Ok(Ok(verdict)) => (verdict.passed, cut(verdict.message, max_message), false),
        Ok(Err(_)) if state.memory.exceeded => (
            false,
            format!(
                "The grader {} used more than {} MiB of memory and was stopped.",
                grader.name,
                memory_limit >> 20
            ),
            false,
        ),
        Ok(Err(e)) => {
            tracing::info!(grader = %grader.name, "grader failed: {e:#}");
            (
                false,
                format!("The grader {} crashed: {}", grader.name, trap_reason(&e)),
                false,
            )
        }
        Err(_) => (
            false,
            format!(
                "The grader {} did not finish within {} s.",
                grader.name,
                timeout.as_secs()
            ),
            true,
        ),
    };
    GraderOutcome {
        passed,
        message,
        timed_out,
        host_calls,
        memory_bytes,
        millis: started.elapsed().as_millis() as u64,
    }
}

async fn call_check(
    store: &mut Store<HostState>,
    grader: &Grader,
) -> wasmtime::Result<bindings::Verdict> {
    let instance = grader.pre.instantiate_async(&mut *store).await?;
    instance.call_check(&mut *store).await
}

/// A component linked to the host interface once, when it loads, so a
/// check only instantiates it.
pub(super) fn prepare(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> wasmtime::Result<bindings::GraderPre<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    bindings::Grader::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    bindings::GraderPre::new(linker.instantiate_pre(component)?)
}

/// A trap's reason in a learner's words, without wasm backtraces.
fn trap_reason(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            "it panicked (a `panic!`, an `unwrap` on an error, or out of memory)".into()
        }
        Some(wasmtime::Trap::StackOverflow) => "its stack overflowed".into(),
        Some(trap) => trap.to_string(),
        None => {
            let text = format!("{e}");
            text.lines().next().unwrap_or("unknown error").to_owned()
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(" [...]");
    text
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short".into(), 10), "short");
        assert_eq!(cut("ééé".into(), 3), "é [...]");
    }
}
