//! `sandbox-server lesson test`: runs a lesson for real, the way a learner
//! would, for an author or an author's CI. One session on the real runtime;
//! for each step, its solution (see [`crate::lessons::LessonStep::solution`]),
//! each block typed into its node's terminal as the Run button types it and
//! waited for until the prompt comes back ([`typing`]); then its check, run
//! as the Check button runs it. `{{NAME}}` placeholders are filled in from
//! the values the session captured, as for a learner. Every block and check
//! is a row of a table (step, item, node, outcome, seconds), and the whole
//! run a [`LessonReport`] (`--json`). The session is removed at the end, also
//! on Ctrl-C.

pub mod judge;
pub mod typing;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::dialect::{placeholders, substitute};
use protocol::lesson_test::{
    ItemKind, ItemOutcome, ItemReport, LessonReport, StepOutcome, StepReport,
};

use crate::config::Config;
use crate::graders::GraderLimits;
use crate::lessons::{Catalog, Check, Lesson, LessonStep, Runnable, Script};
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::sessions::scripts::{run_check, run_script, Outcome};
use crate::sessions::{EndReason, Session, Sessions};
use crate::store::Store;
use typing::{Ending, NodeTerm};

/// Knobs of a test run.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// A block whose node's next block is an `interrupt` one is expected to
    /// keep running (a server, `ping`, `docker logs -f`): it gets this long,
    /// then is left running until that block's Ctrl-C stops it.
    pub interrupt_after: Duration,
    /// Longest any other block may take to give the prompt back.
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

/// Rows of the node's screen a failure shows.
const SCREEN_LINES: usize = 12;

/// Runs `lesson` in a fresh session; prints the table to `out`; returns the
/// report (a failed step ends the run: later steps build on it). An error
/// means the test could not run at all (no Docker).
pub async fn run(
    config: Arc<Config>,
    lesson: Lesson,
    options: &TestOptions,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<LessonReport> {
    use anyhow::Context;
    // An instance of its own: a server sharing the Docker host never takes
    // the test's containers for its orphans.
    let data = std::env::temp_dir().join(format!("pg-lesson-test-{}", std::process::id()));
    let own = Config {
        instance: format!("{}-lesson-test", config.instance),
        data_dir: data.clone(),
        ..(*config).clone()
    };
    let runtime = crate::runtime::connect(&own)
        .await
        .context("cannot reach the Docker Engine")?;
    let store = Store::open(&data.join("sessions.sqlite3"))?;
    let id = lesson.summary.id.clone();
    let catalog = Arc::new(Catalog::new([lesson.clone()]));
    let grader_limits = GraderLimits::of(&config);
    let sessions = Arc::new(
        Sessions::new(
            config,
            runtime.clone(),
            store,
            catalog,
            Arc::new(Metrics::default()),
        )
        .leaving_on_enter_to_caller(),
    );
    let started = Instant::now();
    let mut report = LessonReport {
        lesson: id.clone(),
        passed: false,
        seconds: 0.0,
        start_seconds: 0.0,
        steps: Vec::new(),
        error: None,
    };
    writeln!(
        out,
        "lesson {id}: starting a session with {} node(s)",
        lesson.nodes.len()
    )?;
    let session = match sessions.create(&id, "lesson-test").await {
        Ok((session, _token)) => session,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&data);
            writeln!(out, "  FAIL starting the session: {e}")?;
            report.error = Some(format!("starting the session: {e}"));
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    };
    let sid = session.record.id.clone();
    report.start_seconds = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "  session {sid} ready in {:.1} s",
        report.start_seconds
    )?;
    let mut runner = Runner {
        sessions: &sessions,
        session: session.clone(),
        runtime: runtime.as_ref(),
        shared_runtime: runtime.clone(),
        grader_limits,
        lesson: &lesson,
        options,
        terms: BTreeMap::new(),
    };
    let steps = tokio::select! {
        r = runner.run_steps(out) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Detach the test's clients before the session ends.
    drop(runner);
    let cleanup = sessions.end(&sid, EndReason::Deleted).await;
    let _ = std::fs::remove_dir_all(&data);
    if let Err(e) = cleanup {
        writeln!(out, "  removing session {sid}: {e}")?;
    }
    report.steps = steps?;
    let passed = report
        .steps
        .iter()
        .filter(|s| s.outcome == StepOutcome::Passed)
        .count();
    report.passed = passed == report.steps.len();
    report.seconds = started.elapsed().as_secs_f64();
    let count = |outcome| report.steps.iter().filter(|s| s.outcome == outcome).count();
    writeln!(
        out,
        "lesson {id}: {passed}/{} steps passed ({} failed, {} needs internet, {} skipped) in {:.1} s",
        report.steps.len(),
        count(StepOutcome::Failed),
        count(StepOutcome::NeedsInternet),
        count(StepOutcome::Skipped),
        report.seconds
    )?;
    Ok(report)
}

/// One lesson's run: the session, and a terminal client per node used so far.
struct Runner<'a> {
    sessions: &'a Sessions,
    session: Arc<Session>,
    runtime: &'a dyn Runtime,
    /// The same runtime, for graders (which hold it while they run).
    shared_runtime: Arc<dyn Runtime>,
    grader_limits: GraderLimits,
    lesson: &'a Lesson,
    options: &'a TestOptions,
    terms: BTreeMap<String, NodeTerm>,
}

impl Runner<'_> {
    async fn run_steps(&mut self, out: &mut (dyn Write + Send)) -> anyhow::Result<Vec<StepReport>> {
        let total = self.lesson.steps.len();
        let mut reports: Vec<StepReport> = Vec::new();
        writeln!(
            out,
            "  {:<7} {:<11} {:<8} {:<14} {:>6}  what",
            "step", "item", "node", "outcome", "secs"
        )?;
        for (n, step) in self.lesson.steps.iter().enumerate() {
            let label = format!("{}/{total}", n + 1);
            let title = step.view.title.clone();
            // After a failed step the rest is skipped (it builds on it);
            // after one that needs the internet the next steps still run,
            // and say honestly what they can do without it.
            if reports.iter().any(|r| r.outcome == StepOutcome::Failed) {
                writeln!(out, "  skip step {label} {title:?}")?;
                reports.push(StepReport {
                    step: n + 1,
                    title,
                    outcome: StepOutcome::Skipped,
                    seconds: 0.0,
                    items: Vec::new(),
                    reason: None,
                });
                continue;
            }
            let started = Instant::now();
            let items = self.run_step(step, &label, out).await?;
            let failed = items.iter().find(|i| !i.outcome.is_success());
            let reason = failed.map(|i| {
                let what = match i.kind {
                    ItemKind::Block | ItemKind::Foreground => {
                        format!("{} {} on {}", i.kind.as_str(), i.index, i.node)
                    }
                    kind => format!("{} on {}", kind.as_str(), i.node),
                };
                format!(
                    "{what} {}: {}",
                    i.outcome.as_str().to_lowercase(),
                    i.detail.as_deref().unwrap_or("")
                )
            });
            let seconds = started.elapsed().as_secs_f64();
            let outcome = match failed.map(|i| i.outcome) {
                None => StepOutcome::Passed,
                Some(ItemOutcome::NeedsInternet) => StepOutcome::NeedsInternet,
                Some(_) => StepOutcome::Failed,
            };
            let word = match outcome {
                StepOutcome::Passed => "ok  ",
                StepOutcome::NeedsInternet => "NET ",
                _ => "FAIL",
            };
            match &reason {
                None => writeln!(out, "  {word} step {label} {title:?} ({seconds:.1} s)")?,
                Some(why) => writeln!(
                    out,
                    "  {word} step {label} {title:?} ({seconds:.1} s)\n{}",
                    indent(why, "    ")
                )?,
            }
            reports.push(StepReport {
                step: n + 1,
                title,
                outcome,
                seconds,
                items,
                reason,
            });
        }
        Ok(reports)
    }

    /// The check first (with `--check-fails-first`), the solution, the check;
    /// each item printed as it ends; stops at the first failure.
    async fn run_step(
        &mut self,
        step: &LessonStep,
        label: &str,
        out: &mut (dyn Write + Send),
    ) -> anyhow::Result<Vec<ItemReport>> {
        let mut items = Vec::new();
        let mut record = |item: ItemReport, out: &mut (dyn Write + Send)| -> anyhow::Result<bool> {
            writeln!(out, "{}", row(label, &item))?;
            let ok = item.outcome.is_success();
            items.push(item);
            Ok(ok)
        };
        // What a learner reaching the step starts: the background scripts
        // first (a foreground script may wait for what they make), then the
        // typed ones, each waited for like a block.
        for script in &step.on_enter.background {
            let o = run_script(
                self.runtime,
                &self.session.record.id,
                &script.node,
                &script.script,
                false,
            )
            .await?;
            let item = exec_item(
                ItemKind::Background,
                &script.node,
                &script.script.body,
                &o,
                o.passed(),
            );
            if !record(item, out)? {
                return Ok(items);
            }
        }
        for (k, typed) in step.on_enter.typed.iter().enumerate() {
            let mut item = self.block(k + 1, typed, false).await;
            item.kind = ItemKind::Foreground;
            if !record(item, out)? {
                return Ok(items);
            }
        }
        if let (true, Some(check)) = (self.options.check_fails_first, &step.check) {
            if !record(self.check(check, true).await?, out)? {
                return Ok(items);
            }
        }
        if let Some(script) = &step.solution_script {
            if !record(self.script(script).await?, out)? {
                return Ok(items);
            }
        } else {
            let blocks = step.solution();
            for (k, block) in blocks.iter().enumerate() {
                // The next block on the same node stops it with Ctrl-C: a
                // server on node1 while node2 talks to it, then Ctrl-C on node1.
                let expected_to_run = blocks[k + 1..]
                    .iter()
                    .find(|b| b.node == block.node)
                    .is_some_and(|b| b.interrupt);
                if !record(self.block(k + 1, block, expected_to_run).await, out)? {
                    return Ok(items);
                }
            }
        }
        if let Some(check) = &step.check {
            record(self.check(check, false).await?, out)?;
        }
        Ok(items)
    }

    /// Types one block into its node's terminal and judges how it ended.
    async fn block(&mut self, index: usize, block: &Runnable, expected_to_run: bool) -> ItemReport {
        let started = Instant::now();
        let mut item = ItemReport {
            kind: ItemKind::Block,
            index,
            node: block.node.clone(),
            outcome: ItemOutcome::Failed,
            exit_code: None,
            seconds: 0.0,
            summary: summary(&block.code),
            detail: None,
        };
        let (outcome, exit_code, detail) = match self.type_block(block, expected_to_run).await {
            Ok(judged) => judged,
            Err(why) => (ItemOutcome::Failed, None, Some(why)),
        };
        item.outcome = outcome;
        item.exit_code = exit_code;
        item.detail = detail;
        item.seconds = started.elapsed().as_secs_f64();
        item
    }

    async fn type_block(
        &mut self,
        block: &Runnable,
        expected_to_run: bool,
    ) -> Result<(ItemOutcome, Option<i64>, Option<String>), String> {
        let code = self.fill_in(&block.code)?;
        let timeout = if expected_to_run {
            self.options.interrupt_after
        } else {
            Duration::from_secs(self.options.block_timeout_secs)
        };
        let term = self.term(&block.node).await?;
        let in_program = term.in_program();
        let ending = term
            .run(&code, block.interrupt, timeout, expected_to_run)
            .await
            .map_err(|e| e.to_string())?;
        let tail = term.screen_tail(SCREEN_LINES);
        let output = term.output();
        let screen = || format!("its screen:\n{}", indent(&tail, "| "));
        if let Some(judged) = judge_output(block, &code, in_program, &ending, &output, &screen) {
            return Ok(judged);
        }
        let judged = match ending {
            Ending::Exited(code) if block.fails && code != 0 => (
                ItemOutcome::Ok,
                Some(code),
                Some(format!("exited {code}, as the block (`fails`) means it to")),
            ),
            Ending::Exited(0) if block.fails => (
                ItemOutcome::Failed,
                Some(0),
                Some(format!(
                    "the block is marked `fails` but its last command exited 0; {}",
                    screen()
                )),
            ),
            Ending::Exited(0) => (ItemOutcome::Ok, Some(0), None),
            Ending::Exited(code) => (
                ItemOutcome::Failed,
                Some(code),
                Some(format!("the last command exited {code}; {}", screen())),
            ),
            Ending::Open => (
                ItemOutcome::Open,
                None,
                Some("the prompt of a program came back, not the shell's: the next block is typed into it".into()),
            ),
            Ending::Running => (
                ItemOutcome::Running,
                None,
                Some(format!(
                    "still running after {} s, as expected: the next block interrupts it",
                    timeout.as_secs()
                )),
            ),
            Ending::Incomplete => (
                ItemOutcome::Failed,
                None,
                Some(format!(
                    "the shell waits for the rest of a command (an unclosed quote, `if` or `\\`); sent Ctrl-C; {}",
                    screen()
                )),
            ),
            Ending::TimedOut => (
                ItemOutcome::TimedOut,
                None,
                Some(format!(
                    "no prompt came back within {} s; sent Ctrl-C; {}",
                    timeout.as_secs(),
                    screen()
                )),
            ),
            Ending::ShellExited(code) => (
                ItemOutcome::Ok,
                Some(code),
                Some(format!("the shell exited ({code}); a new one was started, as the web app does")),
            ),
        };
        let (outcome, exit_code, mut detail) = judged;
        if let (true, Some(capture)) = (outcome.is_success(), &block.capture) {
            let node = self.session.terminal(&capture.node);
            match node.and_then(|t| t.captured(&capture.name)) {
                Some(value) => {
                    detail = Some(format!("captured {} = {value}", capture.name));
                }
                None => {
                    return Ok((
                        ItemOutcome::Failed,
                        exit_code,
                        Some(format!(
                            "capture={}: nothing {} printed matches regex {:?}; {}",
                            capture.name,
                            capture.node,
                            capture.pattern.0.as_str(),
                            screen()
                        )),
                    ))
                }
            }
        }
        Ok((outcome, exit_code, detail))
    }

    /// `code` with its placeholders filled in from the values the session
    /// captured, as the web app fills them in (`GET .../captures`).
    fn fill_in(&self, code: &str) -> Result<String, String> {
        let declared = |name: &str| self.lesson.captures.iter().any(|c| c.name == name);
        if !placeholders(code).any(|(_, name)| declared(name)) {
            return Ok(code.to_owned());
        }
        let values = self
            .sessions
            .captures(&self.session)
            .map_err(|e| e.to_string())?;
        for (_, name) in placeholders(code) {
            if let Some(v) = values.iter().find(|v| v.name == name && v.value.is_none()) {
                return Err(format!(
                    "{{{{{name}}}}} has no value: nothing {} printed has matched capture={name} yet",
                    v.node
                ));
            }
        }
        Ok(substitute(code, |name| {
            values
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.value.as_deref())
        }))
    }

    /// The node's terminal as the test types into it, opened on first use.
    async fn term(&mut self, node: &str) -> Result<&mut NodeTerm, String> {
        if !self.terms.contains_key(node) {
            let terminal = self
                .session
                .terminal(node)
                .ok_or_else(|| format!("the session has no node {node}"))?
                .clone();
            // Wait as a check would for the node to be ready (dockerd on
            // Docker-in-Docker nodes) before the first block is typed.
            let ready = Script {
                body: "true".into(),
                timeout_secs: 120,
            };
            run_script(self.runtime, &self.session.record.id, node, &ready, false)
                .await
                .map_err(|e| format!("{node} is not ready: {e}"))?;
            let term = NodeTerm::open(node, terminal)
                .await
                .map_err(|e| e.to_string())?;
            self.terms.insert(node.to_owned(), term);
        }
        Ok(self.terms.get_mut(node).expect("opened above"))
    }

    /// A `[[steps]] solution` script: run by exec like a check, since no
    /// learner types it.
    async fn script(&self, script: &Runnable) -> anyhow::Result<ItemReport> {
        let body = match self.fill_in(&script.code) {
            Ok(body) => body,
            Err(why) => {
                return Ok(ItemReport {
                    kind: ItemKind::Script,
                    index: 1,
                    node: script.node.clone(),
                    outcome: ItemOutcome::Failed,
                    exit_code: None,
                    seconds: 0.0,
                    summary: summary(&script.code),
                    detail: Some(why),
                })
            }
        };
        let run = Script {
            body,
            timeout_secs: self.options.block_timeout_secs,
        };
        let o = run_script(
            self.runtime,
            &self.session.record.id,
            &script.node,
            &run,
            true,
        )
        .await?;
        Ok(exec_item(
            ItemKind::Script,
            &script.node,
            &script.code,
            &o,
            o.passed(),
        ))
    }

    /// The step's check; `before` the solution it must fail.
    async fn check(&self, check: &Check, before: bool) -> anyhow::Result<ItemReport> {
        let o = run_check(
            self.shared_runtime.clone(),
            &self.grader_limits,
            &self.session.record.id,
            self.lesson,
            check,
        )
        .await?;
        let (kind, ok) = if before {
            (ItemKind::CheckBefore, !o.passed())
        } else {
            (ItemKind::Check, o.passed())
        };
        let what = match &check.grader {
            Some(grader) => format!("grader {}", grader.name),
            None => check.script.body.clone(),
        };
        let mut item = exec_item(kind, &check.node, &what, &o, ok);
        if before && !ok {
            item.detail = Some(format!(
                "the check passes before the solution ran: it checks nothing; it printed:\n{}",
                indent(o.output.trim_end(), "| ")
            ));
        }
        Ok(item)
    }
}

/// What the block's output says beyond its ending: typed into a program
/// that does not know its command (it was left open by an earlier block;
/// the lesson probably needs an `exit` first), or failed because the node
/// has no internet.
fn judge_output(
    block: &Runnable,
    code: &str,
    in_program: bool,
    ending: &Ending,
    output: &str,
    screen: &dyn Fn() -> String,
) -> Option<(ItemOutcome, Option<i64>, Option<String>)> {
    let status = match ending {
        Ending::Exited(code) => Some(*code),
        _ => None,
    };
    let failed = match ending {
        Ending::Exited(code) => *code != 0 && !block.fails,
        Ending::TimedOut => true,
        _ => false,
    };
    if in_program && (failed || *ending == Ending::Open) {
        if let Some(line) = judge::unknown_command(code, output) {
            return Some((
                ItemOutcome::Failed,
                status,
                Some(format!(
                    "typed into a program an earlier block left open, which does not know it ({line:?}): the lesson probably needs an `exit` block first; {}",
                    screen()
                )),
            ));
        }
    }
    if failed {
        if let Some(line) = judge::needs_internet(output) {
            return Some((
                ItemOutcome::NeedsInternet,
                status,
                Some(format!(
                    "it needs the internet, which this node cannot reach ({line:?}); {}",
                    screen()
                )),
            ));
        }
    }
    None
}

/// The item of a script run by exec.
fn exec_item(kind: ItemKind, node: &str, code: &str, o: &Outcome, ok: bool) -> ItemReport {
    let output = o.output.trim_end();
    let detail = if ok {
        None
    } else {
        let how = if o.timed_out {
            "timed out".to_owned()
        } else {
            format!("exited {}", o.code)
        };
        Some(if output.is_empty() {
            how
        } else {
            format!("{how}; it printed:\n{}", indent(output, "| "))
        })
    };
    ItemReport {
        kind,
        index: 1,
        node: node.to_owned(),
        outcome: match (ok, o.timed_out) {
            (true, _) => ItemOutcome::Ok,
            (false, _)
                if kind != ItemKind::CheckBefore && judge::needs_internet(output).is_some() =>
            {
                ItemOutcome::NeedsInternet
            }
            (false, true) => ItemOutcome::TimedOut,
            (false, false) => ItemOutcome::Failed,
        },
        exit_code: Some(o.code),
        seconds: o.millis as f64 / 1000.0,
        summary: summary(code),
        detail,
    }
}

/// A row of the table (plus a line for a successful item's detail).
fn row(step: &str, item: &ItemReport) -> String {
    let name = match item.kind {
        ItemKind::Block => format!("block {}", item.index),
        kind => kind.as_str().to_owned(),
    };
    let mut row = format!(
        "  {step:<7} {name:<11} {:<8} {:<14} {:>6.1}  {}",
        item.node,
        item.outcome.as_str(),
        item.seconds,
        item.summary
    );
    if let (true, Some(detail)) = (item.outcome.is_success(), &item.detail) {
        row.push_str(&format!(
            "\n  {:<7} {}",
            "",
            indent(detail, "  ").trim_start()
        ));
    }
    row
}

/// The first line of a block, cut to fit a table row.
fn summary(code: &str) -> String {
    let lines: Vec<&str> = code.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines.first().map_or("", |l| l.trim());
    let mut s: String = first.chars().take(60).collect();
    if first.chars().count() > 60 {
        s.push('…');
    }
    if lines.len() > 1 {
        s.push_str(&format!(" (+{} more)", lines.len() - 1));
    }
    s
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_the_item_and_cut_long_blocks() {
        let item = ItemReport {
            kind: ItemKind::Block,
            index: 2,
            node: "node1".into(),
            outcome: ItemOutcome::Open,
            exit_code: None,
            seconds: 1.25,
            summary: summary(&format!(
                "docker run -it alpine sh\n\n{}\nexit",
                "x".repeat(80)
            )),
            detail: Some("left in a program".into()),
        };
        assert_eq!(item.summary, "docker run -it alpine sh (+2 more)");
        assert_eq!(
            row("1/3", &item),
            "  1/3     block 2     node1    open              1.2  docker run -it alpine sh (+2 more)\n          left in a program"
        );
        assert_eq!(summary(&"y".repeat(70)).chars().count(), 61);
    }
}
