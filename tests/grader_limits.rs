//! Graders on a real server and real Docker: what a grader sees (files
//! through the engine, inspect data, the inner Docker daemon of a dind node,
//! a node's port), and what happens when a grader misbehaves (loops,
//! allocates without end, panics, calls the host without end, answers with
//! a huge message): each check fails with a message that says why, and the
//! server stays healthy. Also: `lesson build` refuses a grader that imports
//! WASI, and nothing of a grader reaches the learner.
//!
//! The fixture lessons are in `fixtures/graders/` (built here with
//! `sandbox-server lesson build`). Without Docker these tests skip, except
//! under `CI=true`.

use std::process::Command;

use playground_e2e::{
    built_graders, container, docker, node_exec, repo_root, require_docker, server_binary, Launch,
    Profile, Server,
};
use serde_json::Value;

fn fixtures() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/graders")
}

/// A server serving the grader fixtures, built.
async fn server() -> Server {
    built_graders(&fixtures());
    Launch::default()
        .env("PLAYGROUND_LESSONS_DIRS", &fixtures().display().to_string())
        .start()
        .await
        .unwrap()
}

/// Runs the check of `step`; its JSON answer (status must be 200).
async fn check(server: &Server, id: &str, token: &str, step: usize) -> Value {
    let (status, body) = server
        .call(
            "POST",
            &format!("/api/v1/sessions/{id}/steps/{step}/check"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "check {step}: {body}");
    body
}

#[tokio::test]
async fn misbehaving_graders_fail_their_check_and_the_server_stays_healthy() {
    require_docker!();
    let server = server().await;
    let s = server.create_session("hostile-graders").await.unwrap();

    let looped = check(&server, &s.id, &s.token, 1).await;
    assert_eq!(looped["passed"], false, "{looped}");
    assert!(
        looped["output"]
            .as_str()
            .unwrap()
            .contains("did not finish within 2 s"),
        "{looped}"
    );
    let millis = looped["millis"].as_u64().unwrap();
    assert!((1900..6000).contains(&millis), "stopped after {millis} ms");

    let hog = check(&server, &s.id, &s.token, 2).await;
    assert_eq!(hog["passed"], false, "{hog}");
    assert!(
        hog["output"]
            .as_str()
            .unwrap()
            .contains("used more than 64 MiB of memory"),
        "{hog}"
    );

    let panicked = check(&server, &s.id, &s.token, 3).await;
    assert_eq!(panicked["passed"], false, "{panicked}");
    assert!(
        panicked["output"].as_str().unwrap().contains("panicked"),
        "{panicked}"
    );

    let chatty = check(&server, &s.id, &s.token, 4).await;
    assert_eq!(
        chatty["output"], "call 101 was refused: the grader made too many calls",
        "{chatty}"
    );

    let loud = check(&server, &s.id, &s.token, 5).await;
    let message = loud["output"].as_str().unwrap();
    assert!(message.starts_with("start xxx"), "{loud}");
    assert!(message.len() <= 4096 + 16, "{} bytes", message.len());

    // The server lives on: its health, and a grader that answers normally.
    let (status, _) = server.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    let facts = check(&server, &s.id, &s.token, 0).await;
    assert_eq!(facts["passed"], false, "{facts}");
    let metrics = server.metrics().await;
    for name in [
        "playground_grader_checks_total",
        "playground_grader_memory_bytes_count",
    ] {
        assert!(metrics.contains(name), "no {name}:\n{metrics}");
    }
}

#[tokio::test]
async fn a_grader_reads_facts_from_the_engine_not_from_programs_in_the_node() {
    require_docker!();
    let server = server().await;
    let s = server.create_session("hostile-graders").await.unwrap();
    let facts = check(&server, &s.id, &s.token, 0).await;
    let text = facts["output"].as_str().unwrap();
    assert!(text.starts_with("marker=none; running=true;"), "{facts}");
    assert!(text.contains("node9: not found: node node9"), "{facts}");
    assert!(text.contains("/events: denied"), "{facts}");
    assert!(
        text.contains("/info: no Docker daemon answers in node1"),
        "{facts}"
    );

    // The learner forges the tools a script check would use (and writes the
    // marker as the forged tools would print it): the grader runs none of
    // them; it reads the file through the engine's archive API.
    let node = container(&s.id, "node1");
    docker(&[
        "exec",
        &node,
        "/bin/dash",
        "-c",
        "for t in cat sh bash test grep; do printf '#!/bin/sh\\necho done\\n' > /usr/local/bin/$t; chmod +x /usr/local/bin/$t; done",
    ])
    .unwrap();
    let forged = check(&server, &s.id, &s.token, 0).await;
    assert_eq!(forged["passed"], false, "{forged}");
    // A link pointing at a host path resolves inside the node: the host's
    // file with the right content is not what the grader reads.
    let host_file = std::env::temp_dir().join(format!("pg-host-marker-{}", std::process::id()));
    std::fs::write(&host_file, "done\n").unwrap();
    let link = format!("ln -s {} /root/marker", host_file.display());
    docker(&["exec", &node, "/bin/dash", "-c", &link]).unwrap();
    let linked = check(&server, &s.id, &s.token, 0).await;
    let _ = std::fs::remove_file(&host_file);
    assert!(
        linked["output"]
            .as_str()
            .unwrap()
            .starts_with("marker=none;"),
        "{linked}"
    );
    docker(&[
        "exec",
        &node,
        "/bin/dash",
        "-c",
        "rm /root/marker && echo done > /root/marker",
    ])
    .unwrap();
    let done = check(&server, &s.id, &s.token, 0).await;
    assert_eq!(done["passed"], true, "{done}");
    assert!(
        done["output"].as_str().unwrap().starts_with("marker=done;"),
        "{done}"
    );
}

#[tokio::test]
async fn a_grader_asks_the_docker_daemon_inside_a_dind_node() {
    require_docker!();
    let server = server().await;
    let s = server.create_session("dind-grader").await.unwrap();
    let before = check(&server, &s.id, &s.token, 0).await;
    assert_eq!(
        before["output"], "There is no container named web yet.",
        "{before}"
    );
    // A forged `docker` in the node changes nothing: the server talks to the
    // daemon's socket itself.
    let (code, out) = node_exec(
        &s.id,
        "node1",
        "printf '#!/bin/sh\\necho web\\n' > /usr/local/bin/docker.fake && docker run -d --name web -p 8080:80 nginx >/dev/null && mv /usr/local/bin/docker.fake /usr/local/bin/docker && chmod +x /usr/local/bin/docker",
    );
    assert_eq!(code, 0, "{out}");
    let mut after = Value::Null;
    for _ in 0..20 {
        after = check(&server, &s.id, &s.token, 0).await;
        if after["passed"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(after["passed"], true, "{after}");
    assert!(
        after["output"]
            .as_str()
            .unwrap()
            .starts_with("web runs nginx and port 8080 answers"),
        "{after}"
    );
}

#[tokio::test]
async fn learners_never_see_graders() {
    require_docker!();
    let server = server().await;
    let (status, detail) = server
        .call("GET", "/api/v1/lessons/hostile-graders", None, None)
        .await;
    assert_eq!(status, 200);
    let text = detail.to_string();
    for secret in ["graders/", "wasm", "playground_grader", "fn check"] {
        assert!(
            !text.contains(secret),
            "the lesson detail shows {secret:?}: {text}"
        );
    }
    assert!(text.contains("\"has_check\":true"), "{text}");
    let s = server.create_session("hostile-graders").await.unwrap();
    let (_, found) = node_exec(
        &s.id,
        "node1",
        "find / -xdev \\( -name 'grader.wasm' -o -name 'Cargo.toml' -o -path '*graders*' \\) 2>/dev/null | head",
    );
    assert_eq!(found.trim(), "", "grader files in the node");
}

#[test]
fn lesson_build_refuses_a_grader_that_imports_wasi() {
    let dir = repo_root().join("tests/fixtures/graders-bad");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let out = Command::new(server_binary(Profile::Debug))
        .args(["lesson", "build"])
        .arg(&dir)
        .arg("--target-dir")
        .arg(target.join("graders"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("imports wasi:")
            && stderr.contains("may import only playground:grader/host"),
        "{stderr}"
    );
    // Nothing was written for the server to load, and `lesson check` says so.
    assert!(!dir.join("uses-std/graders/wasi/grader.wasm").exists());
    let check = Command::new(server_binary(Profile::Debug))
        .args(["lesson", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success());
    assert!(stdout.contains("is not built"), "{stdout}");
}
