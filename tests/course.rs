//! The shipped lessons, run for real: `sandbox-server lesson check` on every
//! lesson in `lessons/`, and `sandbox-server lesson test --check-fails-first`
//! on each Docker course lab. A lab's own solution is its test: each runnable
//! block runs in a real session on real Docker (dind nodes pulling through the
//! registry mirror), then the step's check must pass, and it must have failed
//! before the solution ran.

use std::path::PathBuf;
use std::process::{Command, Output};

use playground_e2e::{
    built_graders, docker_available, registry_running, repo_root, server_binary, Profile,
};

fn lessons_dir() -> PathBuf {
    repo_root().join("lessons")
}

/// Runs `sandbox-server` with `args`, the shipped lessons' graders built first.
fn run(args: &[&str]) -> Output {
    built_graders(&lessons_dir());
    Command::new(server_binary(Profile::Debug))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running sandbox-server")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `lesson test --check-fails-first` on the lesson in `lessons/{dir}`.
fn lesson_test(dir: &str) -> Output {
    let path = lessons_dir().join(dir);
    assert!(path.is_dir(), "{} is missing", path.display());
    run(&[
        "lesson",
        "test",
        path.to_str().unwrap(),
        "--check-fails-first",
    ])
}

/// Runs one lab with `lesson test --check-fails-first` and asserts every step passed.
fn lab(dir: &str) {
    if !docker_available() || !registry_running() {
        return;
    }
    let out = lesson_test(dir);
    let report = text(&out);
    println!("{report}");
    assert!(out.status.success(), "lesson test {dir} failed:\n{report}");
    assert!(
        !report.contains("FAIL") && report.contains("steps passed"),
        "{report}"
    );
}

#[test]
fn every_shipped_lesson_passes_lesson_check_without_warnings() {
    let out = run(&["lesson", "check", lessons_dir().to_str().unwrap()]);
    let report = text(&out);
    assert!(out.status.success(), "lesson check failed:\n{report}");
    assert!(
        report.contains(" 0 error(s), 0 warning(s)") && !report.contains(": warning:"),
        "shipped lessons must load without warnings:\n{report}"
    );
    for id in [
        "linux-basics",
        "docker-1-first-containers",
        "docker-2-interactive-detached",
        "docker-3-build-and-share",
        "docker-4-networking",
        "docker-5-swarm",
        "docker-6-vms-vs-containers",
    ] {
        assert!(
            lessons_dir().join(id).join("lesson.toml").is_file(),
            "lessons/{id} is missing"
        );
    }
}

#[test]
fn lab_linux_basics() {
    if !docker_available() {
        return;
    }
    let out = lesson_test("linux-basics");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn lab_1_first_containers() {
    lab("docker-1-first-containers");
}

#[test]
fn lab_2_interactive_and_detached_containers() {
    lab("docker-2-interactive-detached");
}

#[test]
fn lab_3_build_and_share_an_image() {
    lab("docker-3-build-and-share");
}

#[test]
fn lab_4_networking() {
    lab("docker-4-networking");
}

#[test]
fn lab_5_swarm() {
    lab("docker-5-swarm");
}

#[test]
fn lab_6_vms_versus_containers() {
    lab("docker-6-vms-vs-containers");
}
