//! The Docker host as the tests see it, through the `docker` CLI only (never
//! the server's own runtime code): is it usable, what objects a session left,
//! commands inside a node, and clean-up of test instances.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{bail, Result};

use crate::server::{server_binary, Profile};

/// The learner engine's socket, as the server finds it by default
/// (`engine_socket`; `PLAYGROUND_ENGINE_SOCKET` overrides both).
pub fn engine_socket() -> String {
    std::env::var("PLAYGROUND_ENGINE_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/run/playground-engine/docker.sock".to_owned())
}

/// The `docker` CLI, talking to the learner engine (never the host's main daemon).
pub fn docker_cli() -> Command {
    let mut command = Command::new("docker");
    command.env("DOCKER_HOST", format!("unix://{}", engine_socket()));
    command
}

/// The images every session needs (`scripts/setup.sh docker images` builds them).
const IMAGES: [&str; 2] = ["playground/base:latest", "playground/dind:latest"];

/// True when `ok`. When not: panics under `CI=true` (tests must run there),
/// otherwise prints that the test is skipped and why.
fn required(ok: bool, what: &str, fix: &str) -> bool {
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}: run {fix}");
        }
        eprintln!("SKIPPED: {what} (run {fix})");
    }
    ok
}

/// True when Docker answers and has the session images. Without them: panics
/// when `CI=true`, otherwise prints why and returns false so the caller can return.
pub fn docker_available() -> bool {
    let ok = docker_cli()
        .args(["image", "inspect"])
        .args(IMAGES)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    required(
        ok,
        "Docker or the session images are not available",
        "scripts/setup.sh docker engine images",
    )
}

/// True when the registry mirror that nested Docker pulls through is up.
/// Without it: panics when `CI=true`, otherwise prints why and returns false.
pub fn registry_running() -> bool {
    let ok = docker_cli()
        .args([
            "container",
            "inspect",
            "-f",
            "{{.State.Running}}",
            "playground-registry",
        ])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true");
    required(
        ok,
        "the registry mirror is not running",
        "scripts/setup.sh registry",
    )
}

/// `docker` with arguments; stdout trimmed. Fails on a non-zero exit.
pub fn docker(args: &[&str]) -> Result<String> {
    let out = docker_cli().args(args).output()?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The container of `node` in `session` (the server's naming, as an operator sees it).
pub fn container(session: &str, node: &str) -> String {
    format!("pg-{session}-{node}")
}

/// Runs `sh -c script` in a node (in `/root`, as the server's checks do);
/// returns the exit code and stdout followed by stderr.
pub fn node_exec(session: &str, node: &str, script: &str) -> (i32, String) {
    let out = docker_cli()
        .args(["exec", "-w", "/root", &container(session, node)])
        .args(["sh", "-c", script])
        .output()
        .expect("running docker exec");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The address of a node on its session network.
pub fn node_ip(session: &str, node: &str) -> Result<String> {
    docker(&[
        "container",
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"pg-{session}\").IPAddress}}}}"),
        &container(session, node),
    ])
}

/// Names of Docker objects (containers, networks, volumes) labelled with `session`.
pub fn docker_objects(session: &str) -> Vec<String> {
    labelled_objects(&format!("io.playground.session={session}"))
}

/// Names of every container, network and volume labelled with a server's
/// `instance` (`container NAME`, `network NAME`, `volume NAME`): what it leaves.
pub fn instance_objects(instance: &str) -> Vec<String> {
    labelled_objects(&format!("io.playground.instance={instance}"))
}

/// `KIND NAME` of every container, network and volume with the label `label` (`key=value`).
fn labelled_objects(label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    let mut names = Vec::new();
    for (kind, list, name) in [
        ("container", ["ps", "-a"], "{{.Names}}"),
        ("network", ["network", "ls"], "{{.Name}}"),
        ("volume", ["volume", "ls"], "{{.Name}}"),
    ] {
        let format = format!("{kind} {name}");
        let out = docker_cli()
            .args(list)
            .args(["--filter", &filter, "--format", &format])
            .output()
            .expect("docker");
        names.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    names
}

/// Removes every Docker object of a server instance (`sandbox-server purge`).
pub fn purge_instance(profile: Profile, instance: &str) {
    let _ = Command::new(server_binary(profile))
        .args(["purge", "--instance", instance, "--log", "warn"])
        .stdout(Stdio::null())
        .status();
}

/// Once per test process: purges the instances of earlier test runs whose
/// process is gone (killed, or crashed before its clean-up), so leftovers never
/// pile up on the Docker host. Test instances carry their process id:
/// `e2e-{pid}-{port}`, `pgtest-{name}-{pid}`, `browser-test-{pid}`.
pub(crate) fn sweep_stale_test_instances(profile: Profile) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(out) = docker(&[
            "network",
            "ls",
            "--filter",
            "label=io.playground.managed=true",
            "--format",
            "{{.Label \"io.playground.instance\"}}",
        ]) else {
            return;
        };
        let mut instances: Vec<&str> = out.lines().collect();
        instances.sort();
        instances.dedup();
        for instance in instances {
            let is_test = ["e2e-", "pgtest-", "browser-test-"]
                .iter()
                .any(|p| instance.starts_with(p));
            let pids: Vec<&str> = instance
                .split('-')
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .collect();
            let alive = pids.iter().any(|pid| Path::new("/proc").join(pid).exists());
            if is_test && !pids.is_empty() && !alive {
                purge_instance(profile, instance);
            }
        }
    });
}
