//! Graders (docs/graders.md) on a real server and real Docker: the checks of
//! the Docker course labs are WebAssembly components the server runs, which
//! look at a node from outside (its Docker daemon, its files through the
//! engine, its ports). A learner who forges every tool a shell check would
//! call (`sh`, `bash`, `docker`, `grep`, `curl`, `test`, `cat` printing `ok`)
//! passes none of them; a step done for real passes, forged tools or not; and
//! learners never see a grader (not in the lesson detail, never in a node).
//!
//! The labs' graders are built first with `sandbox-server lesson build`. The
//! server serves the repository's `lessons/`. Without Docker these tests skip,
//! except under `CI=true`.

use playground_e2e::{
    built_graders, container, docker, node_exec, registry_running, repo_root, require_docker,
    Launch, Server,
};
use serde_json::{json, Value};

/// The labs whose every check is a grader, and their number of steps.
const LABS: [(&str, usize); 2] = [("docker-3-build-and-share", 7), ("docker-4-networking", 5)];

/// The programs a forger replaces: everything the labs' shell checks called.
const FORGED: [&str; 7] = ["sh", "bash", "docker", "grep", "curl", "test", "cat"];

/// `sandbox-server lesson build` for each lab (once per test process);
/// every grader of the lab then has its `grader.wasm`.
fn build_graders() {
    for (lab, _) in LABS {
        let dir = repo_root().join("lessons").join(lab);
        built_graders(&dir);
        let graders = std::fs::read_dir(dir.join("graders")).unwrap();
        for grader in graders.map(|e| e.unwrap().path()) {
            if grader.file_name().unwrap() != "common" {
                assert!(
                    grader.join("grader.wasm").is_file(),
                    "lesson build made no {}/grader.wasm",
                    grader.display()
                );
            }
        }
    }
}

/// A server of the repository's lessons, with the labs' graders built.
async fn serving() -> Server {
    build_graders();
    let server = Launch::default().start().await.unwrap();
    for (lab, _) in LABS {
        let (status, body) = server
            .call("GET", &format!("/api/v1/lessons/{lab}"), None, None)
            .await;
        assert_eq!(status, 200, "{lab} is not served: {body}\n{}", server.log());
    }
    server
}

/// A new session of `lesson`: its id and token.
async fn new_session(server: &Server, lesson: &str) -> (String, String) {
    let body = json!({ "lesson": lesson }).to_string();
    let (status, created) = server
        .call("POST", "/api/v1/sessions", None, Some(&body))
        .await;
    assert_eq!(status, 201, "{created}\n{}", server.log());
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

/// Runs step `n`'s check (numbered from 0); the `CheckResult`.
async fn check(server: &Server, id: &str, token: &str, n: usize) -> Value {
    let (status, result) = server
        .call(
            "POST",
            &format!("/api/v1/sessions/{id}/steps/{n}/check"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "check of step {n}: {result}");
    result
}

fn output(result: &Value) -> &str {
    result["output"].as_str().unwrap_or("")
}

/// `/bin/sh -c script` in a node, by absolute path (the forged `sh` in
/// /usr/local/bin comes first on PATH); its stdout. It must succeed.
fn real_sh(session: &str, node: &str, script: &str) -> String {
    docker(&[
        "exec",
        "-w",
        "/root",
        &container(session, node),
        "/bin/sh",
        "-c",
        script,
    ])
    .unwrap()
}

/// Does what a root learner can do to fool a shell check: a script printing
/// `ok` and exiting 0 in /usr/local/bin (first on PATH) for every tool the
/// checks call, and over /usr/bin/docker itself (the real one kept aside).
fn forge_tools(session: &str, node: &str) {
    let names = FORGED.join(" ");
    real_sh(
        session,
        node,
        &format!(
            "printf '#!/bin/sh\\necho ok\\nexit 0\\n' > /tmp/fake && chmod 755 /tmp/fake && \
             for t in {names}; do cp /tmp/fake /usr/local/bin/$t; done && \
             if [ -e /usr/bin/docker ]; then mv /usr/bin/docker /usr/bin/docker.real; fi && \
             cp /tmp/fake /usr/bin/docker"
        ),
    );
    // From the learner's shell, the tools now lie.
    let (code, said) = node_exec(
        session,
        node,
        "docker ps; grep -q x /nonexistent; test -f /nope",
    );
    assert_eq!((code, said.trim()), (0, "ok"), "the forgery is in place");
}

#[tokio::test]
async fn forged_tools_pass_no_grader_backed_step() {
    require_docker!();
    let server = serving().await;
    let mut passed = Vec::new();
    for (lab, steps) in LABS {
        let (id, token) = new_session(&server, lab).await;
        let nodes: &[&str] = if lab == "docker-4-networking" {
            &["node1", "node2"]
        } else {
            &["node1"]
        };
        for node in nodes {
            forge_tools(&id, node);
        }
        for n in 0..steps {
            let result = check(&server, &id, &token, n).await;
            eprintln!(
                "{lab} step {n} with forged tools: passed={} {:?}",
                result["passed"],
                output(&result)
            );
            assert_ne!(output(&result).trim(), "ok", "{lab} step {n}: {result}");
            if result["passed"] != json!(false) {
                passed.push(format!("{lab} step {n}: {}", output(&result)));
            }
        }
        let (_, progress) = server
            .call(
                "GET",
                &format!("/api/v1/sessions/{id}/progress"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(progress["passed_steps"], json!([]), "{lab}: {progress}");
    }
    assert!(
        passed.is_empty(),
        "forged tools passed these checks:\n{}",
        passed.join("\n")
    );
}

#[tokio::test]
async fn a_grader_backed_step_passes_once_done_for_real() {
    require_docker!();
    let server = serving().await;
    let (id, token) = new_session(&server, "docker-3-build-and-share").await;

    let before = check(&server, &id, &token, 0).await;
    assert_eq!(before["passed"], false, "{before}");
    assert!(
        output(&before).contains("There is no /root/site/Dockerfile yet."),
        "{before}"
    );

    // A Dockerfile whose first line is not FROM nginx.
    real_sh(
        &id,
        "node1",
        "printf 'FROM alpine\\nCOPY index.html /usr/share/nginx/html/\\n' > /root/site/Dockerfile",
    );
    let wrong = check(&server, &id, &token, 0).await;
    assert_eq!(wrong["passed"], false, "{wrong}");
    assert!(
        output(&wrong).contains("should start with: FROM nginx (it starts with: FROM alpine)"),
        "{wrong}"
    );

    // The step's own Dockerfile.
    real_sh(
        &id,
        "node1",
        "printf '# my site\\nFROM nginx\\nRUN sleep 3 && date > /usr/share/nginx/html/built.txt\\n\
         COPY index.html style.css /usr/share/nginx/html/\\n' > /root/site/Dockerfile",
    );
    let done = check(&server, &id, &token, 0).await;
    assert_eq!(done["passed"], true, "{done}");
    assert!(
        output(&done).contains("Your Dockerfile starts from nginx and copies the site into it."),
        "{done}"
    );
    eprintln!("a passing grader took {} ms", done["millis"]);
    let (_, progress) = server
        .call(
            "GET",
            &format!("/api/v1/sessions/{id}/progress"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(progress["passed_steps"], json!([0]), "{progress}");

    if !registry_running() {
        return;
    }
    // Step 2: the image, whose index.html the grader reads from the image's
    // layers in the node's Docker storage.
    let built = real_sh(
        &id,
        "node1",
        "cd /root/site && docker build -q -t mysite:1.0 . 2>&1",
    );
    eprintln!("docker build: {built}");
    let image = check(&server, &id, &token, 1).await;
    assert_eq!(image["passed"], true, "{image}");
    assert!(output(&image).contains("mysite:1.0 is built"), "{image}");

    // The grader compares for real: an edit of the site after the build shows.
    real_sh(
        &id,
        "node1",
        "sed -i 's|<h1>.*</h1>|<h1>Edited</h1>|' /root/site/index.html",
    );
    let edited = check(&server, &id, &token, 1).await;
    assert_eq!(edited["passed"], false, "{edited}");
    assert!(
        output(&edited).contains("differs from /root/site/index.html"),
        "{edited}"
    );
    real_sh(
        &id,
        "node1",
        "cd /root/site && docker build -q -t mysite:1.0 . >/dev/null 2>&1",
    );

    // Forged tools change nothing for a step done for real: it still passes.
    forge_tools(&id, "node1");
    let still = check(&server, &id, &token, 1).await;
    assert_eq!(still["passed"], true, "{still}");
}

/// What a node holds that could be a grader: `.wasm` files, files or
/// directories named like one, lesson files, grader source.
fn grader_traces(session: &str, node: &str) -> String {
    real_sh(
        session,
        node,
        "find / \\( -path /proc -o -path /sys \\) -prune -o \
           \\( -name '*.wasm' -o -iname '*grader*' -o -name lesson.toml -o -name Cargo.toml \\) -print; \
         grep -rIl -e playground_grader -e 'grader!(' -e 'fn check()' \
           /root /tmp /opt /srv /home /etc /usr/local /var /run 2>/dev/null; true",
    )
}

#[tokio::test]
async fn learners_never_see_the_graders() {
    require_docker!();
    let server = serving().await;
    for (lab, steps) in LABS {
        let (status, detail) = server
            .call("GET", &format!("/api/v1/lessons/{lab}"), None, None)
            .await;
        assert_eq!(status, 200, "{detail}");
        let text = detail.to_string();
        for trace in ["grader", ".wasm", "playground_grader", "check=", "fn check"] {
            assert!(
                !text.contains(trace),
                "the lesson detail of {lab} shows {trace:?}: {text}"
            );
        }
        let listed = detail["steps"].as_array().unwrap();
        assert_eq!(listed.len(), steps, "{lab}: {detail}");
        for (n, step) in listed.iter().enumerate() {
            assert_eq!(
                step["has_check"], true,
                "{lab} step {n} has a check: {step}"
            );
        }
    }

    // Nothing of a grader lands in a node, before or after a check ran.
    let (id, token) = new_session(&server, "docker-3-build-and-share").await;
    let before = grader_traces(&id, "node1");
    assert_eq!(before.trim(), "", "grader traces in a fresh node");
    for n in 0..3 {
        check(&server, &id, &token, n).await;
    }
    let after = grader_traces(&id, "node1");
    assert_eq!(
        after.trim(),
        "",
        "grader traces in the node after checks ran"
    );
}
