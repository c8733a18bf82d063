//! The report of `sandbox-server lesson test --json`: what an author's CI (or
//! any program) reads instead of the human table. One [`TestReport`] per run,
//! one [`LessonReport`] per lesson, one [`StepReport`] per step, one
//! [`ItemReport`] per block typed, script or check run. Documented in
//! `docs/lessons.md`; fields are only ever added.

use serde::{Deserialize, Serialize};

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub lessons: Vec<LessonReport>,
    /// Every lesson passed.
    pub passed: bool,
}

/// One lesson, run in a session of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonReport {
    pub lesson: String,
    /// Every step passed.
    pub passed: bool,
    /// Seconds from the start to the end of the lesson's run, the session's
    /// start included.
    pub seconds: f64,
    /// Seconds the session took to start.
    pub start_seconds: f64,
    pub steps: Vec<StepReport>,
    /// Why the lesson could not run at all (its session did not start); the
    /// steps are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Passed,
    Failed,
    /// Not run: an earlier step failed, and later steps build on it.
    Skipped,
    /// A block or check failed because the node could not reach the internet
    /// (see [`ItemOutcome::NeedsInternet`]). Not passed; the next steps still
    /// run (they may fail for lack of what it would have fetched).
    NeedsInternet,
}

/// One step: its solution's blocks, then its check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// From 1.
    pub step: usize,
    pub title: String,
    pub outcome: StepOutcome,
    pub seconds: f64,
    pub items: Vec<ItemReport>,
    /// Why the step failed: the failing item and what its node's screen showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A runnable block, typed into its node's terminal as the Run button does.
    Block,
    /// A `[[steps]] solution` script, run by exec (no learner types it).
    Script,
    /// The step's check, run by exec as the Check button does.
    Check,
    /// With `--check-fails-first`: the check before the solution, which must fail.
    CheckBefore,
    /// A background script the step runs as a learner reaches it, by exec.
    Background,
    /// A script the step types into its node's terminal as a learner
    /// reaches it (Killercoda's foreground script).
    Foreground,
}

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// The shell's prompt came back and the last command exited 0; a check passed;
    /// a check run first failed, as it should.
    Ok,
    /// The block left its node in a program that waits for input (`docker run
    /// -it alpine sh`, a REPL): its prompt came back, not the shell's; the next
    /// block is typed into it, as a learner's would be. No exit status.
    Open,
    /// Still running when the next block, an `interrupt` one, stopped it with
    /// Ctrl-C, as the lesson means it to (a server, `ping`, `docker logs -f`).
    Running,
    /// A non-zero exit, a failed check, a check that passed before the
    /// solution, a value that could not be captured or filled in, a block the
    /// shell waits to see completed (an unclosed quote).
    Failed,
    /// No prompt came back within the block's timeout: it got Ctrl-C.
    TimedOut,
    /// Failed (a non-zero exit, a timeout) and its output shows it tried to
    /// reach the internet and could not: a name that does not resolve, a
    /// network that is unreachable, a fetch that failed (`git clone` from
    /// GitHub, an image not in the registry mirror, `apt-get install`).
    /// Not a success; reported apart so the numbers stay honest.
    NeedsInternet,
}

/// One block, script or check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemReport {
    pub kind: ItemKind,
    /// The block's number in the step's solution, from 1 (1 for the others).
    pub index: usize,
    pub node: String,
    pub outcome: ItemOutcome,
    /// The exit status, when known (the shell's `$?` after a block, a check's code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub seconds: f64,
    /// The block's first line, to recognise it.
    pub summary: String,
    /// More about the outcome: values captured, why it failed, the screen's last lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ItemOutcome {
    /// Whether the lesson may go on after this item.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            ItemOutcome::Ok | ItemOutcome::Open | ItemOutcome::Running
        )
    }

    /// The word the human table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOutcome::Ok => "ok",
            ItemOutcome::Open => "open",
            ItemOutcome::Running => "running",
            ItemOutcome::Failed => "FAILED",
            ItemOutcome::TimedOut => "TIMED OUT",
            ItemOutcome::NeedsInternet => "NEEDS INTERNET",
        }
    }
}

impl StepOutcome {
    /// The word the human table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Passed => "passed",
            StepOutcome::Failed => "failed",
            StepOutcome::Skipped => "skipped",
            StepOutcome::NeedsInternet => "needs internet",
        }
    }
}

impl ItemKind {
    /// The word the human table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Block => "block",
            ItemKind::Script => "script",
            ItemKind::Check => "check",
            ItemKind::CheckBefore => "check first",
            ItemKind::Background => "background",
            ItemKind::Foreground => "foreground",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_json_shape() {
        let report = TestReport {
            passed: false,
            lessons: vec![LessonReport {
                lesson: "hello".into(),
                passed: false,
                seconds: 2.5,
                start_seconds: 1.0,
                error: None,
                steps: vec![StepReport {
                    step: 1,
                    title: "Say hello".into(),
                    outcome: StepOutcome::Failed,
                    seconds: 1.5,
                    reason: Some("block 1 timed out".into()),
                    items: vec![ItemReport {
                        kind: ItemKind::CheckBefore,
                        index: 1,
                        node: "node1".into(),
                        outcome: ItemOutcome::TimedOut,
                        exit_code: None,
                        seconds: 1.5,
                        summary: "sleep 100".into(),
                        detail: None,
                    }],
                }],
            }],
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains(r#""outcome":"failed""#), "{json}");
        assert!(json.contains(r#""kind":"check_before","index":1,"node":"node1","outcome":"timed_out","seconds":1.5"#), "{json}");
        assert!(
            !json.contains("exit_code") && !json.contains(r#""error""#),
            "{json}"
        );
        let back: TestReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        assert_eq!(
            serde_json::to_string(&(StepOutcome::NeedsInternet, ItemOutcome::NeedsInternet))
                .unwrap(),
            r#"["needs_internet","needs_internet"]"#
        );
    }
}
