//! The lesson API and lesson loading of a real `sandbox-server` process on
//! real Docker: lesson detail, checks, progress that survives a restart,
//! setup scripts and assets, reloading edited lessons, and values captured
//! from a node's output.
//!
//! Each test runs its own server serving only its own lessons directory (see
//! [`Launch::own_lessons`]). Without Docker these tests skip, except under `CI=true`.

use std::path::Path;
use std::time::{Duration, Instant};

use playground_e2e::{container, docker, repo_root, require_docker, Launch, Server};
use serde_json::{json, Value};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `bash -c script` in a container; its stdout. The command must succeed.
fn bash(container: &str, script: &str) -> String {
    docker(&["exec", container, "bash", "-c", script]).unwrap()
}

/// Polls `GET path` until `ok` accepts the answer; panics with `what` after 10 s.
async fn wait_for(
    server: &Server,
    path: &str,
    token: Option<&str>,
    what: &str,
    ok: impl Fn(u16, &Value) -> bool,
) -> (Duration, Value) {
    let started = Instant::now();
    loop {
        let (status, body) = server.call("GET", path, token, None).await;
        if ok(status, &body) {
            return (started.elapsed(), body);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server whose lessons directory gets a copy of `lessons/linux-basics`
/// after it started (so it shows up on the watcher's next poll), once served.
async fn serving_linux_basics() -> (Server, Value) {
    let server = Launch::default().own_lessons().start().await.unwrap();
    copy_dir(
        &repo_root().join("lessons/linux-basics"),
        &server.lessons_dir().join("linux-basics"),
    );
    let (_, detail) = wait_for(
        &server,
        "/api/v1/lessons/linux-basics",
        None,
        "lesson never appeared",
        |s, _| s == 200,
    )
    .await;
    (server, detail)
}

/// A new session of `lesson`: its id and token.
async fn new_session(server: &Server, lesson: &str) -> (String, String) {
    let body = json!({ "lesson": lesson }).to_string();
    let (status, created) = server
        .call("POST", "/api/v1/sessions", None, Some(&body))
        .await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

/// A `linux-basics` session: its id and token.
async fn linux_basics_session(server: &Server) -> (String, String) {
    let started = Instant::now();
    let session = new_session(server, "linux-basics").await;
    eprintln!(
        "session with setup script and asset created in {} ms",
        started.elapsed().as_millis()
    );
    session
}

fn progress_path(id: &str) -> String {
    format!("/api/v1/sessions/{id}/progress")
}

fn check_path(id: &str, step: &str) -> String {
    format!("/api/v1/sessions/{id}/steps/{step}/check")
}

/// Does what step 0 asks (a note in `~/notes`), then runs its check: it passes.
async fn pass_step_0(server: &Server, id: &str, token: &str) -> Value {
    bash(
        &container(id, "node1"),
        "mkdir -p ~/notes && echo 'my first note' > ~/notes/today.txt",
    );
    let (status, result) = server
        .call("POST", &check_path(id, "0"), Some(token), None)
        .await;
    assert_eq!((status, &result["passed"]), (200, &json!(true)), "{result}");
    result
}

#[tokio::test]
async fn lesson_detail_shows_steps_and_solutions_but_not_checks() {
    require_docker!();
    let (server, detail) = serving_linux_basics().await;
    assert_eq!(
        detail["title"],
        "Linux basics: files, pipes and a second machine"
    );
    assert_eq!(detail["nodes"], json!(["node1", "node2"]));
    assert_eq!(detail["steps"].as_array().unwrap().len(), 3);
    assert_eq!(detail["steps"][0]["has_check"], true);
    let markdown = detail["steps"][0]["markdown"].as_str().unwrap();
    assert!(markdown.contains("```sh run=node1"));
    assert!(
        !markdown.contains("check="),
        "checks are not shown: {markdown}"
    );
    assert!(detail["steps"][2]["solution"]
        .as_str()
        .unwrap()
        .contains("nohup nc"));

    let (status, body) = server
        .call("GET", "/api/v1/lessons/no-such-lesson", None, None)
        .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}

#[tokio::test]
async fn assets_and_setup_scripts_are_in_place_before_the_learner() {
    require_docker!();
    let (server, _) = serving_linux_basics().await;
    let (id, _) = linux_basics_session(&server).await;
    let node1 = container(&id, "node1");
    assert!(bash(&node1, "cat /root/words.txt").contains("container"));
    assert!(bash(&node1, "cat /etc/motd").contains("This is node1"));
}

#[tokio::test]
async fn a_check_fails_until_the_step_is_done_then_passes_and_counts() {
    require_docker!();
    let (server, _) = serving_linux_basics().await;
    let (id, token) = linux_basics_session(&server).await;
    let t = Some(token.as_str());
    assert_eq!(
        server.call("GET", &progress_path(&id), t, None).await,
        (200, json!({"current_step": 0, "passed_steps": []}))
    );
    let (status, result) = server.call("POST", &check_path(&id, "0"), t, None).await;
    assert_eq!(status, 200);
    assert_eq!(result["passed"], false);
    assert!(
        result["output"]
            .as_str()
            .unwrap()
            .contains("no directory /root/notes"),
        "{result}"
    );

    let result = pass_step_0(&server, &id, &token).await;
    assert!(result["output"]
        .as_str()
        .unwrap()
        .contains("Found your note"));
    eprintln!("a passing check took {} ms", result["millis"]);
    assert_eq!(
        server.call("GET", &progress_path(&id), t, None).await.1,
        json!({"current_step": 0, "passed_steps": [0]})
    );
}

#[tokio::test]
async fn progress_moves_on_but_checked_steps_pass_only_by_their_check() {
    require_docker!();
    let (mut server, _) = serving_linux_basics().await;
    let (id, token) = linux_basics_session(&server).await;
    let (t, progress) = (Some(token.as_str()), progress_path(&id));
    pass_step_0(&server, &id, &token).await;
    let (status, body) = server
        .call(
            "PUT",
            &progress,
            t,
            Some(r#"{"current_step":1,"passed_steps":[0]}"#),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"current_step": 1, "passed_steps": [0]}))
    );
    let (status, body) = server
        .call(
            "PUT",
            &progress,
            t,
            Some(r#"{"current_step":1,"passed_steps":[0,1]}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step 1 has a check"),
        "{body}"
    );
    let (status, body) = server
        .call("PUT", &progress, t, Some(r#"{"current_step":9}"#))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    assert_eq!(
        server.call("PUT", &progress, t, Some("not json")).await.0,
        400
    );

    // A restart: the session and its progress come back from the database.
    server.restart().await.unwrap();
    let (_, body) = wait_for(&server, &progress, t, "progress after a restart", |s, _| {
        s == 200
    })
    .await;
    assert_eq!(body, json!({"current_step": 1, "passed_steps": [0]}));
    assert_eq!(
        server
            .call("DELETE", &format!("/api/v1/sessions/{id}"), t, None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn unknown_steps_bad_step_numbers_and_missing_or_wrong_tokens_are_refused() {
    require_docker!();
    let (server, _) = serving_linux_basics().await;
    let (id, token) = linux_basics_session(&server).await;
    let t = Some(token.as_str());
    for (method, path, token, status) in [
        ("POST", check_path(&id, "3"), t, 404),
        ("POST", check_path(&id, "x"), t, 400),
        ("POST", check_path(&id, "0"), None, 401),
        ("GET", progress_path(&id), Some("wrong"), 403),
        ("GET", progress_path("nope"), t, 404),
    ] {
        assert_eq!(
            server.call(method, &path, token, None).await.0,
            status,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn edited_lessons_are_reloaded_and_broken_ones_refused() {
    require_docker!();
    let server = Launch::default().own_lessons().start().await.unwrap();
    let lesson = server.lessons_dir().join("hello-web");
    copy_dir(
        &repo_root().join("sandbox-server/tests/fixtures/lessons/good/hello-web"),
        &lesson,
    );
    let path = "/api/v1/lessons/hello-web";
    wait_for(&server, path, None, "new lesson served", |s, _| s == 200).await;
    let toml = std::fs::read_to_string(lesson.join("lesson.toml")).unwrap();
    std::fs::write(
        lesson.join("lesson.toml"),
        toml.replace("Serve a web page", "Serve a page, edited"),
    )
    .unwrap();
    let (took, _) = wait_for(&server, path, None, "edited title", |s, b| {
        s == 200 && b["title"] == "Serve a page, edited"
    })
    .await;
    eprintln!("an edit was served after {} ms", took.as_millis());
    std::fs::write(
        lesson.join("steps/01-serve.md"),
        "# Broken\n\n```sh run=node7\nls\n",
    )
    .unwrap();
    wait_for(&server, path, None, "broken lesson refused", |s, _| {
        s == 404
    })
    .await;
    let log = server.log();
    assert!(
        log.contains("steps/01-serve.md:3: run= names unknown node \"node7\""),
        "{log}"
    );
    assert!(
        log.contains("steps/01-serve.md:3: code block is never closed"),
        "{log}"
    );
    std::fs::write(lesson.join("steps/01-serve.md"), "# Fixed\n\nText.\n").unwrap();
    wait_for(&server, path, None, "fixed lesson served", |s, b| {
        s == 200 && b["steps"][0]["title"] == "Fixed"
    })
    .await;
}

/// The resident memory of process `pid`, in KiB (`VmRSS` of `/proc/PID/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_check_printing_150_mb_is_cut_and_the_server_stays_small() {
    require_docker!();
    let server = Launch::default().own_lessons().start().await.unwrap();
    let dir = server.lessons_dir().join("loud-check");
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"loud-check\"\ntitle = \"A loud check\"\n\n[[nodes]]\nname = \"node1\"\nimage = \"base\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("steps/01-loud.md"),
        "# Loud\n\n```sh check=node1 timeout=60\nhead -c 150000000 /dev/zero | tr '\\0' x\necho\necho the end\nyes louder\n```\n",
    )
    .unwrap();
    wait_for(
        &server,
        "/api/v1/lessons/loud-check",
        None,
        "lesson never appeared",
        |s, _| s == 200,
    )
    .await;
    let (id, token) = new_session(&server, "loud-check").await;

    let before = rss_kib(server.pid());
    let started = Instant::now();
    let (status, result) = server
        .call("POST", &check_path(&id, "0"), Some(&token), None)
        .await;
    let took = started.elapsed();
    let after = rss_kib(server.pid());
    assert_eq!(status, 200, "{result}");
    let output = result["output"].as_str().unwrap();
    eprintln!(
        "a check printing 150 MB: answered in {} ms with {} bytes; server RSS {} -> {} KiB",
        took.as_millis(),
        output.len(),
        before,
        after
    );
    assert_eq!(result["passed"], false, "an abandoned check fails");
    assert!(
        output.starts_with("[... output cut ...]\n"),
        "{}",
        &output[..80]
    );
    assert!(
        output.ends_with("the server stopped reading and abandoned the command)"),
        "{}",
        &output[output.len() - 200..]
    );
    assert!(output.len() <= 64 * 1024 + 200, "{} bytes", output.len());
    // Reading it whole raised the server's memory by 141 MiB.
    assert!(
        after.saturating_sub(before) < 24 * 1024,
        "server RSS grew from {before} to {after} KiB"
    );
    let (status, _) = server.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    // The command is stopped, not left printing until its timeout (60 s).
    let mut left = String::new();
    for _ in 0..50 {
        let (_, out) =
            playground_e2e::node_exec(&id, "node1", "pgrep -a '^(tr|yes|head)$' || true");
        left = out;
        if left.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left.trim(), "", "the check's processes still run");
}

/// `GET .../captures`: a value the lesson captures comes from what its node
/// prints, also when the learner types the command by hand; the route needs
/// the session's token like the others.
#[tokio::test]
async fn captured_values_come_from_what_a_node_prints() {
    require_docker!();
    let server = Launch::default().own_lessons().start().await.unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures/lesson-test/carry-ip"),
        &server.lessons_dir().join("carry-ip"),
    );
    let (_, detail) = wait_for(
        &server,
        "/api/v1/lessons/carry-ip",
        None,
        "lesson never appeared",
        |s, _| s == 200,
    )
    .await;
    assert_eq!(
        detail["captures"],
        json!([{"name": "NODE1_IP", "node": "node1"}])
    );
    let session = server.create_session("carry-ip").await.unwrap();
    let (id, token) = (session.id.clone(), session.token.clone());
    let path = format!("/api/v1/sessions/{id}/captures");
    let (status, _) = server.call("GET", &path, None, None).await;
    assert_eq!(status, 401);
    let (status, values) = server.call("GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{values}");
    assert_eq!(
        values,
        json!([{"name": "NODE1_IP", "node": "node1", "value": null}])
    );
    let mut term = server.prompt(&session, "node1").await.unwrap();
    let printed = term
        .run("hostname -i", Duration::from_secs(10))
        .await
        .unwrap();
    let ip = printed
        .lines()
        .map(str::trim)
        .find(|l| l.split('.').count() == 4 && l.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .unwrap_or_else(|| panic!("no address in {printed:?}"))
        .to_owned();
    let (_, values) = wait_for(&server, &path, Some(&token), "no value", |_, v| {
        !v[0]["value"].is_null()
    })
    .await;
    assert_eq!(values[0]["value"], json!(ip));
}

/// A Killercoda scenario's page scripts on a live server: the intro's run as
/// the session starts (its foreground typed into the terminal, where the
/// learner sees it), a step's when the learner's progress first reaches it,
/// never twice, and the finish page's when they finish.
#[tokio::test]
async fn step_scripts_run_when_the_learner_first_reaches_each_step() {
    require_docker!();
    let server = Launch::default().own_lessons().start().await.unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures/lesson-test/step-scripts"),
        &server.lessons_dir().join("step-scripts"),
    );
    wait_for(
        &server,
        "/api/v1/lessons/step-scripts",
        None,
        "lesson never appeared",
        |s, _| s == 200,
    )
    .await;
    let session = server.create_session("step-scripts").await.unwrap();
    let (id, token) = (session.id.clone(), session.token.clone());
    let node1 = container(&id, "node1");
    let t = Duration::from_secs(20);
    // The intro's foreground waits for its background, then greets.
    let mut term = server.terminal(&session, "node1").await.unwrap();
    term.wait_for("greeting-21", t).await.unwrap();
    assert_eq!(bash(&node1, "cat /tmp/prepared").trim(), "prepared");
    // Step 2's background has not run yet.
    assert!(bash(&node1, "ls /tmp/visits 2>&1 || true").contains("No such"));
    // Reaching step 2 counts a visit and types its foreground.
    let put = |step: usize| {
        let body = json!({"current_step": step, "passed_steps": []}).to_string();
        let (server, path, token) = (&server, progress_path(&id), token.clone());
        async move {
            let (status, stored) = server.call("PUT", &path, Some(&token), Some(&body)).await;
            assert_eq!(status, 200, "{stored}");
        }
    };
    put(1).await;
    term.wait_for("second-step-42", t).await.unwrap();
    // The foreground was typed into the learner's shell: its `cd` stays.
    let out = term.run("pwd", t).await.unwrap();
    assert!(out.contains("/tmp"), "{out}");
    // Back and forth: the step's scripts ran once.
    for step in [0, 1, 0, 1] {
        put(step).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bash(&node1, "cat /tmp/visits").trim(), "visit");
    // One past the last step is the finish page: its background runs.
    put(2).await;
    let started = Instant::now();
    while bash(&node1, "ls /tmp/finished 2>/dev/null || true").is_empty() {
        assert!(started.elapsed() < t, "the finish page's script never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, progress) = server
        .call("GET", &progress_path(&id), Some(&token), None)
        .await;
    assert_eq!(progress, json!({"current_step": 2, "passed_steps": []}));
}
