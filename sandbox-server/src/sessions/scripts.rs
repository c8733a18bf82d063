//! Running lesson scripts in nodes: setup scripts and assets when a session
//! starts, checks when a learner asks, solutions in `lesson test`. Scripts go
//! through [`Runtime::exec`] and assets through [`Runtime::write_file`] (the
//! same path as a learner's upload), so both work on any runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::graders::{GraderContext, GraderLimits};
use crate::lessons::{Asset, Check, Lesson, Script};
use crate::runtime::{NewFile, Runtime, RuntimeError};

/// Extra seconds the server waits beyond a script's own timeout before giving up on it.
const GRACE_SECS: u64 = 10;

/// Runs a script the way lessons expect: bash when the node has it (else
/// sh), killed by coreutils `timeout` after its limit, and on Docker-in-Docker
/// nodes only once their `dockerd` is ready (the playground's image touches
/// `/run/playground-dind-ready`; one without its init script, as the official
/// `docker:dind` an operator may name in `playground.toml`, is ready when
/// `docker version` answers).
const WRAPPER: &str = r#"t=$1; s=$2; flags=$3
if command -v dockerd >/dev/null 2>&1 && [ ! -e /run/playground-dind-ready ]; then
  i=0; while [ ! -e /run/playground-dind-ready ] && [ $i -lt 120 ]; do
    if [ ! -e /usr/local/bin/playground-dind-init ] && docker version >/dev/null 2>&1; then break; fi
    sleep 0.25; i=$((i+1)); done
fi
if command -v bash >/dev/null 2>&1; then sh=bash; else sh=sh; fi
if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 "$t" "$sh" $flags "$s"; fi
exec "$sh" $flags "$s""#;

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i64,
    pub output: String,
    pub timed_out: bool,
    pub millis: u64,
    /// A grader's most linear memory, in bytes (0 for a script).
    pub grader_memory_bytes: u64,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.code == 0 && !self.timed_out
    }
}

/// Runs `script` in `node`; `login` uses a login shell (`bash -lc`), as a terminal would.
pub async fn run_script(
    runtime: &dyn Runtime,
    session: &str,
    node: &str,
    script: &Script,
    login: bool,
) -> Result<Outcome, RuntimeError> {
    let started = Instant::now();
    let cmd: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        WRAPPER.into(),
        "sh".into(),
        script.timeout_secs.to_string(),
        script.body.clone(),
        if login { "-lc" } else { "-c" }.into(),
    ];
    let limit = Duration::from_secs(script.timeout_secs + GRACE_SECS);
    let (code, output, timed_out) =
        match tokio::time::timeout(limit, runtime.exec(session, node, &cmd)).await {
            Ok(result) => {
                let out = result?;
                // 124: `timeout` killed it; 137: killed after the grace period.
                let timed_out = out.code == 124 || out.code == 137;
                (out.code, out.output, timed_out)
            }
            Err(_) => (-1, String::new(), true),
        };
    Ok(Outcome {
        code,
        // Already bounded: the runtime read it through an `OutputTail`.
        output,
        timed_out,
        millis: started.elapsed().as_millis() as u64,
        grader_memory_bytes: 0,
    })
}

/// Runs a step's check in session `session` of `lesson`: its script in its
/// node, or its grader in the server (the outcome's exit code is then 0 for
/// a pass, 1 for a fail, and its output the grader's message).
pub async fn run_check(
    runtime: Arc<dyn Runtime>,
    limits: &GraderLimits,
    session: &str,
    lesson: &Lesson,
    check: &Check,
) -> Result<Outcome, RuntimeError> {
    let Some(grader) = &check.grader else {
        return run_script(runtime.as_ref(), session, &check.node, &check.script, false).await;
    };
    let ctx = GraderContext {
        runtime,
        session: session.to_owned(),
        nodes: lesson.nodes.iter().map(|n| n.name.clone()).collect(),
        limits: limits.clone(),
    };
    let timeout = Duration::from_secs(check.script.timeout_secs);
    let out = crate::graders::run_check(grader, ctx, timeout).await;
    tracing::debug!(grader = %grader.name, passed = out.passed, calls = out.host_calls, memory = out.memory_bytes, millis = out.millis, "grader");
    Ok(Outcome {
        code: if out.passed { 0 } else { 1 },
        output: out.message,
        timed_out: out.timed_out,
        millis: out.millis,
        grader_memory_bytes: out.memory_bytes,
    })
}

/// Why a session's nodes could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("copying {path} into {node} failed: {source}")]
    Asset {
        node: String,
        path: String,
        source: RuntimeError,
    },
    #[error("setup script of {node} failed (exit {code}): {output}")]
    Setup {
        node: String,
        code: i64,
        output: String,
    },
    #[error("setup script of {node} did not finish within {secs} s")]
    SetupTimeout { node: String, secs: u64 },
}

/// Copies the lesson's assets into the session's nodes, then runs each
/// node's setup script (nodes in parallel).
pub async fn provision(
    runtime: &dyn Runtime,
    session: &str,
    lesson: &Lesson,
) -> Result<(), ProvisionError> {
    let jobs = lesson.nodes.iter().map(|node| async move {
        for asset in lesson.assets.iter().filter(|a| a.node == node.name) {
            copy_asset(runtime, session, asset).await?;
        }
        if let Some(setup) = &node.setup {
            let out = run_script(runtime, session, &node.name, setup, false).await?;
            if out.timed_out {
                return Err(ProvisionError::SetupTimeout {
                    node: node.name.clone(),
                    secs: setup.timeout_secs,
                });
            }
            if out.code != 0 {
                return Err(ProvisionError::Setup {
                    node: node.name.clone(),
                    code: out.code,
                    output: out.output.trim().to_owned(),
                });
            }
        }
        Ok(())
    });
    for result in futures_util::future::join_all(jobs).await {
        result?;
    }
    Ok(())
}

/// Writes one asset into its node, parent directories included.
async fn copy_asset(
    runtime: &dyn Runtime,
    session: &str,
    asset: &Asset,
) -> Result<(), ProvisionError> {
    let content = bytes::Bytes::from(asset.content.clone());
    let file = NewFile {
        path: asset.path.clone(),
        mode: asset.mode,
        size: content.len() as u64,
        body: Box::pin(futures_util::stream::iter([Ok(content)])),
    };
    runtime
        .write_file(session, &asset.node, file)
        .await
        .map_err(|source| ProvisionError::Asset {
            node: asset.node.clone(),
            path: asset.path.clone(),
            source,
        })
}
