//! `sandbox-server lesson test`: runs a lesson for real, the way an author's
//! CI would. One session on the real runtime; for each step its solution
//! (see [`crate::lessons::LessonStep::solution`]) and then its check; pass/fail and
//! timing per step; the session is removed at the end, also on Ctrl-C.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::lessons::{Catalog, Lesson, Script};
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::sessions::scripts::{run_script, Outcome};
use crate::sessions::{EndReason, Sessions};
use crate::store::Store;

/// Knobs of a test run.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// A block followed by an `interrupt` block is expected to keep running
    /// (a server, `ping`, `docker logs -f`): it gets this long, then is stopped.
    pub interrupt_after: Duration,
    /// Longest any other solution block may run.
    pub block_timeout_secs: u64,
    /// Also run each check before the solution and require it to fail, so a
    /// check that always passes is caught.
    pub check_fails_first: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            interrupt_after: Duration::from_secs(3),
            block_timeout_secs: 300,
            check_fails_first: false,
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    Passed,
    Failed(String),
    Skipped,
}

/// Runs `lesson` in a fresh session; prints progress to `out`; returns the
/// step results (a failed step ends the run: later steps build on it).
pub async fn run(
    config: Arc<Config>,
    lesson: Lesson,
    options: &TestOptions,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Vec<StepResult>> {
    use anyhow::Context;
    // An instance of its own: a server sharing the Docker host never takes
    // the test's containers for its orphans.
    let own = Config {
        instance: format!("{}-lesson-test", config.instance),
        ..(*config).clone()
    };
    let runtime = crate::runtime::connect(&own)
        .await
        .context("cannot reach the Docker Engine")?;
    let data = std::env::temp_dir().join(format!("pg-lesson-test-{}", std::process::id()));
    let store = Store::open(&data.join("sessions.sqlite3"))?;
    let id = lesson.summary.id.clone();
    let catalog = Arc::new(Catalog::new([lesson.clone()]));
    let sessions = Arc::new(Sessions::new(
        config,
        runtime.clone(),
        store,
        catalog,
        Arc::new(Metrics::default()),
    ));
    let started = Instant::now();
    writeln!(
        out,
        "lesson {id}: starting a session with {} node(s)",
        lesson.nodes.len()
    )?;
    let (session, _token) = sessions
        .create(&id, "lesson-test")
        .await
        .map_err(|e| anyhow::anyhow!("starting the session: {e}"))?;
    let sid = session.record.id.clone();
    writeln!(
        out,
        "  session {sid} ready in {:.1} s",
        started.elapsed().as_secs_f64()
    )?;
    let steps = tokio::select! {
        r = run_steps(runtime.as_ref(), &sid, &lesson, options, out) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let cleanup = sessions.end(&sid, EndReason::Deleted).await;
    let _ = std::fs::remove_dir_all(&data);
    if let Err(e) = cleanup {
        writeln!(out, "  removing session {sid}: {e}")?;
    }
    let steps = steps?;
    let passed = steps.iter().filter(|s| **s == StepResult::Passed).count();
    writeln!(
        out,
        "lesson {id}: {passed}/{} steps passed in {:.1} s",
        steps.len(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(steps)
}

async fn run_steps(
    runtime: &dyn Runtime,
    sid: &str,
    lesson: &Lesson,
    options: &TestOptions,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Vec<StepResult>> {
    let total = lesson.steps.len();
    let mut results = Vec::new();
    for (n, step) in lesson.steps.iter().enumerate() {
        let label = format!("step {}/{total} {:?}", n + 1, step.view.title);
        if results.iter().any(|r| matches!(r, StepResult::Failed(_))) {
            writeln!(out, "  skip {label}")?;
            results.push(StepResult::Skipped);
            continue;
        }
        let step_started = Instant::now();
        let mut failure = None;
        if options.check_fails_first {
            if let Some(check) = &step.check {
                let before = run_script(runtime, sid, &check.node, &check.script, false).await?;
                if before.passed() {
                    failure = Some(
                        "the check passes before the solution ran: it checks nothing".to_owned(),
                    );
                }
            }
        }
        let blocks = step.solution();
        let solution_started = Instant::now();
        for (k, block) in blocks.iter().enumerate() {
            if failure.is_some() {
                break;
            }
            let long_running = blocks.get(k + 1).is_some_and(|b| b.interrupt);
            let timeout_secs = if long_running {
                options.interrupt_after.as_secs().max(1)
            } else {
                options.block_timeout_secs
            };
            let script = Script {
                body: block.code.clone(),
                timeout_secs,
            };
            let result = run_script(runtime, sid, &block.node, &script, true).await?;
            if long_running && result.timed_out {
                continue;
            }
            if !result.passed() {
                failure = Some(format!(
                    "solution block {} on {} {}:\n{}\n{}",
                    k + 1,
                    block.node,
                    describe(&result),
                    indent(&block.code, "    $ "),
                    indent(result.output.trim_end(), "    | "),
                ));
            }
        }
        let solution_ms = solution_started.elapsed().as_millis();
        let mut check_ms = 0;
        if failure.is_none() {
            if let Some(check) = &step.check {
                let result = run_script(runtime, sid, &check.node, &check.script, false).await?;
                check_ms = result.millis;
                if !result.passed() {
                    failure = Some(format!(
                        "check on {} {}:\n{}",
                        check.node,
                        describe(&result),
                        indent(result.output.trim_end(), "    | ")
                    ));
                }
            }
        }
        let timing = format!(
            "{:.1} s: solution {} block(s) {solution_ms} ms, check {}",
            step_started.elapsed().as_secs_f64(),
            blocks.len(),
            if step.check.is_some() {
                format!("{check_ms} ms")
            } else {
                "none".into()
            }
        );
        match failure {
            None => {
                writeln!(out, "  ok   {label} ({timing})")?;
                results.push(StepResult::Passed);
            }
            Some(why) => {
                writeln!(out, "  FAIL {label} ({timing})\n    {why}")?;
                results.push(StepResult::Failed(why));
            }
        }
    }
    Ok(results)
}

fn describe(o: &Outcome) -> String {
    if o.timed_out {
        "timed out".into()
    } else {
        format!("exited {}", o.code)
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
