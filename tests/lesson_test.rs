//! `sandbox-server lesson test` through the terminal path, on the fixture
//! lessons of `tests/fixtures/lesson-test/` (real Docker, base nodes): a value
//! captured on node1 and filled into a block on node2; blocks typed into a
//! nested shell and out of it (and one that fails on purpose); a block that
//! never gives the prompt back (it gets Ctrl-C and fails the lesson, with a
//! clear reason); a block the shell waits to see completed. Each run reads
//! the `--json` report, whose shape is `protocol::lesson_test`.

use std::process::{Command, Output};

use playground_e2e::{docker_available, repo_root, server_binary, Profile};
use protocol::lesson_test::{ItemKind, ItemOutcome, ItemReport, StepOutcome, TestReport};

/// `lesson test --json --only ID` on the fixtures, plus `extra` flags: the
/// exit status, the report (stdout) and the table (stderr).
fn lesson_test(id: &str, extra: &[&str]) -> (Output, TestReport, String) {
    let dir = repo_root().join("tests/fixtures/lesson-test");
    let out = Command::new(server_binary(Profile::Debug))
        .args([
            "lesson",
            "test",
            dir.to_str().unwrap(),
            "--json",
            "--only",
            id,
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running sandbox-server");
    let table = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: TestReport = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is no report ({e}):\n{}\n{table}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out, report, table)
}

/// The items of the lesson's first step.
fn first_step(report: &TestReport) -> &[ItemReport] {
    &report.lessons[0].steps[0].items
}

#[test]
fn a_value_captured_on_node1_is_filled_in_on_node2() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("carry-ip", &["--check-fails-first"]);
    assert!(out.status.success(), "{table}");
    assert!(report.passed && report.lessons[0].passed, "{table}");
    let items = first_step(&report);
    let kinds: Vec<(ItemKind, ItemOutcome)> = items.iter().map(|i| (i.kind, i.outcome)).collect();
    assert_eq!(
        kinds,
        vec![
            (ItemKind::CheckBefore, ItemOutcome::Ok),
            (ItemKind::Block, ItemOutcome::Ok),
            (ItemKind::Block, ItemOutcome::Ok),
            (ItemKind::Check, ItemOutcome::Ok),
        ],
        "{table}"
    );
    let captured = items[1].detail.as_deref().unwrap_or_default();
    assert!(captured.starts_with("captured NODE1_IP = "), "{table}");
    assert_eq!(items[2].node, "node2");
    assert_eq!(items[2].exit_code, Some(0), "{table}");
    assert!(
        table.contains("step") && table.contains("outcome") && table.contains("1/1 steps passed"),
        "{table}"
    );
}

#[test]
fn blocks_go_into_a_nested_shell_and_out_of_it() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("interactive", &[]);
    assert!(out.status.success(), "{table}");
    let outcomes: Vec<ItemOutcome> = first_step(&report).iter().map(|i| i.outcome).collect();
    // `sh` and the block typed into it leave the node at the nested prompt;
    // `exit` gives the first shell's prompt back, with its status.
    assert_eq!(
        outcomes,
        vec![
            ItemOutcome::Open,
            ItemOutcome::Open,
            ItemOutcome::Ok,
            ItemOutcome::Ok,
            ItemOutcome::Ok,
            ItemOutcome::Ok
        ],
        "{table}"
    );
    // The block marked `fails` failed, as it should.
    assert_ne!(first_step(&report)[4].exit_code, Some(0), "{table}");
    assert!(report.passed, "{table}");
}

/// A Killercoda scenario's page scripts run as a learner reaches each
/// step: the background ones first (reported, by exec), then the foreground
/// ones typed into the terminal, whose `cd` the step's block relies on.
#[test]
fn each_steps_background_and_foreground_scripts_run_before_its_blocks() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("step-scripts", &[]);
    assert!(out.status.success(), "{table}");
    let kinds = |step: usize| -> Vec<(ItemKind, ItemOutcome)> {
        report.lessons[0].steps[step]
            .items
            .iter()
            .map(|i| (i.kind, i.outcome))
            .collect()
    };
    let ok = ItemOutcome::Ok;
    let expected = vec![
        (ItemKind::Background, ok),
        (ItemKind::Foreground, ok),
        (ItemKind::Block, ok),
        (ItemKind::Check, ok),
    ];
    // Step 1 runs the intro's scripts (the intro's Start is the session's).
    assert_eq!(kinds(0), expected, "{table}");
    assert_eq!(kinds(1), expected, "{table}");
    assert!(
        table.contains("background") && table.contains("foreground"),
        "{table}"
    );
}

#[test]
fn a_block_that_hangs_gets_ctrl_c_and_fails_the_lesson() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("hang", &["--block-timeout", "3"]);
    assert!(!out.status.success(), "{table}");
    assert!(!report.passed);
    let lesson = &report.lessons[0];
    assert_eq!(lesson.steps[0].outcome, StepOutcome::Failed);
    assert_eq!(
        lesson.steps[1].outcome,
        StepOutcome::Skipped,
        "later steps build on it"
    );
    let block = &lesson.steps[0].items[0];
    assert_eq!(block.outcome, ItemOutcome::TimedOut, "{table}");
    assert!(
        (3.0..20.0).contains(&block.seconds),
        "stopped at its timeout: {table}"
    );
    let detail = block.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("no prompt came back within 3 s; sent Ctrl-C")
            && detail.contains("sleep 1000"),
        "the reason and the screen: {detail}"
    );
    // Ctrl-C reached the program: the shell's prompt is back below it.
    assert!(detail.trim_end().ends_with('#'), "{detail}");
    assert!(
        !detail.contains("__pg_mark"),
        "the test's own setup is not shown: {detail}"
    );
    assert!(
        table.contains("TIMED OUT") && table.contains("FAIL step 1/2"),
        "{table}"
    );
}

#[test]
fn a_block_the_shell_waits_to_see_completed_fails() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("unclosed", &[]);
    assert!(!out.status.success(), "{table}");
    let block = &first_step(&report)[0];
    assert_eq!(block.outcome, ItemOutcome::Failed, "{table}");
    assert!(
        block
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("the shell waits for the rest of a command"),
        "{table}"
    );
    // Well before the default timeout: the continuation prompt told at once.
    assert!(block.seconds < 30.0, "{table}");
}

#[test]
fn a_block_that_needs_the_internet_is_reported_apart_and_the_run_goes_on() {
    if !docker_available() {
        return;
    }
    let (out, report, table) = lesson_test("offline", &["--block-timeout", "60"]);
    assert!(!out.status.success(), "not passed: {table}");
    let lesson = &report.lessons[0];
    assert!(!lesson.passed);
    let outcomes: Vec<StepOutcome> = lesson.steps.iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            StepOutcome::NeedsInternet,
            StepOutcome::Passed,
            StepOutcome::Failed
        ],
        "{table}"
    );
    let clone = &lesson.steps[0].items[0];
    assert_eq!(clone.outcome, ItemOutcome::NeedsInternet, "{table}");
    assert!(
        clone
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("github.com"),
        "{table}"
    );
    // `sh` is left open, and the next block is a command it does not know.
    let items = &lesson.steps[2].items;
    assert_eq!(items[0].outcome, ItemOutcome::Open, "{table}");
    assert_eq!(items[1].outcome, ItemOutcome::Failed, "{table}");
    assert!(
        items[1]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("typed into a program an earlier block left open"),
        "{table}"
    );
    assert!(
        table.contains("NEEDS INTERNET")
            && table.contains("NET  step 1/3")
            && table.contains("1/3 steps passed (1 failed, 1 needs internet, 0 skipped)"),
        "{table}"
    );
}
