//! The lesson API and lesson loading of a real `sandbox-server` process on
//! real Docker: lesson detail, checks, progress that survives a restart,
//! setup scripts and assets, and reloading edited lessons.
//!
//! Each server runs on its own loopback port (18400-18499) with its own data
//! directory and `instance` label; everything it creates is removed at the
//! end. Without Docker these tests skip, except under `CI=true`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", "playground/base:latest"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Docker or playground/base is not available");
        }
        eprintln!("SKIPPED: Docker or playground/base:latest is not available");
    }
    ok
}

fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(18400);
    loop {
        let port = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(port < 18500, "no free port in 18400-18499");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A server process; dropping it stops it and removes its containers and files.
struct Server {
    child: Option<Child>,
    port: u16,
    instance: String,
    dir: PathBuf,
}

impl Server {
    /// Starts a server serving `dir/lessons`, storing sessions in `dir/data`.
    fn start(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("pg-lesson-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lessons")).unwrap();
        let mut server = Server {
            child: None,
            port: free_port(),
            instance: format!("pgtest-lessons-{name}-{}", std::process::id()),
            dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_sandbox-server"))
            .args(["--log", "sandbox_server=debug,info", "serve", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--lessons")
            .arg(self.dir.join("lessons"))
            .env("PLAYGROUND_INSTANCE", &self.instance)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while request(self.port, "GET", "/healthz", None, None).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not come up; see {}",
                self.dir.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process with SIGTERM (sessions stay) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (status, body) = request(self.port, method, path, token, body).unwrap();
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or(Value::String(body))
        };
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new(env!("CARGO_BIN_EXE_sandbox-server"))
            .args(["purge", "--instance", &self.instance, "--log", "warn"])
            .stdout(std::process::Stdio::null())
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

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

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn docker_exec(container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", container, "bash", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn checks_and_progress_survive_a_restart() {
    if !docker_available() {
        return;
    }
    let mut server = Server::start("progress");
    copy_dir(
        &repo().join("lessons/linux-basics"),
        &server.dir.join("lessons/linux-basics"),
    );
    // The server loaded an empty directory; the copy shows up on the next poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let (status, body) = server.call("GET", "/api/v1/lessons/linux-basics", None, None);
        if status == 200 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "lesson never appeared: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
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

    let (status, body) = server.call("GET", "/api/v1/lessons/no-such-lesson", None, None);
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));

    let started = Instant::now();
    let (status, created) = server.call(
        "POST",
        "/api/v1/sessions",
        None,
        Some(r#"{"lesson":"linux-basics"}"#),
    );
    assert_eq!(status, 201, "{created}");
    eprintln!(
        "session with setup script and asset created in {} ms",
        started.elapsed().as_millis()
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    let node1 = format!("pg-{id}-node1");
    // The asset and the setup script are there before the learner is.
    assert!(docker_exec(&node1, "cat /root/words.txt").contains("container"));
    assert!(docker_exec(&node1, "cat /etc/motd").contains("This is node1"));

    let t = Some(token.as_str());
    let progress = format!("/api/v1/sessions/{id}/progress");
    let check = |n: &str| format!("/api/v1/sessions/{id}/steps/{n}/check");
    assert_eq!(
        server.call("GET", &progress, t, None),
        (200, json!({"current_step": 0, "passed_steps": []}))
    );

    let (status, result) = server.call("POST", &check("0"), t, None);
    assert_eq!(status, 200);
    assert_eq!(result["passed"], false);
    assert!(
        result["output"]
            .as_str()
            .unwrap()
            .contains("no directory /root/notes"),
        "{result}"
    );

    docker_exec(
        &node1,
        "mkdir -p ~/notes && echo 'my first note' > ~/notes/today.txt",
    );
    let (status, result) = server.call("POST", &check("0"), t, None);
    assert_eq!((status, &result["passed"]), (200, &json!(true)), "{result}");
    assert!(result["output"]
        .as_str()
        .unwrap()
        .contains("Found your note"));
    eprintln!("a passing check took {} ms", result["millis"]);
    assert_eq!(
        server.call("GET", &progress, t, None).1,
        json!({"current_step": 0, "passed_steps": [0]})
    );

    // Progress: the learner moves on; checked steps pass only by their check.
    let (status, body) = server.call(
        "PUT",
        &progress,
        t,
        Some(r#"{"current_step":1,"passed_steps":[0]}"#),
    );
    assert_eq!(
        (status, body),
        (200, json!({"current_step": 1, "passed_steps": [0]}))
    );
    let (status, body) = server.call(
        "PUT",
        &progress,
        t,
        Some(r#"{"current_step":1,"passed_steps":[0,1]}"#),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step 1 has a check"),
        "{body}"
    );
    let (status, body) = server.call("PUT", &progress, t, Some(r#"{"current_step":9}"#));
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    assert_eq!(server.call("PUT", &progress, t, Some("not json")).0, 400);

    // Unknown steps, bad step numbers, missing and wrong tokens.
    assert_eq!(server.call("POST", &check("3"), t, None).0, 404);
    assert_eq!(server.call("POST", &check("x"), t, None).0, 400);
    assert_eq!(server.call("POST", &check("0"), None, None).0, 401);
    assert_eq!(server.call("GET", &progress, Some("wrong"), None).0, 403);
    assert_eq!(
        server
            .call("GET", "/api/v1/sessions/nope/progress", t, None)
            .0,
        404
    );

    // A restart: the session and its progress come back from the database.
    server.stop();
    server.spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server.call("GET", &progress, t, None);
        if status == 200 {
            assert_eq!(body, json!({"current_step": 1, "passed_steps": [0]}));
            break;
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server
            .call("DELETE", &format!("/api/v1/sessions/{id}"), t, None)
            .0,
        204
    );
}

#[test]
fn edited_lessons_are_reloaded_and_broken_ones_refused() {
    if !docker_available() {
        return;
    }
    let server = Server::start("reload");
    let lesson = server.dir.join("lessons/hello-web");
    copy_dir(
        &repo().join("sandbox-server/tests/fixtures/lessons/good/hello-web"),
        &lesson,
    );
    let wait_for = |what: &str, ok: &dyn Fn(u16, &Value) -> bool| {
        let started = Instant::now();
        loop {
            let (status, body) = server.call("GET", "/api/v1/lessons/hello-web", None, None);
            if ok(status, &body) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what}: {status} {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("new lesson served", &|s, _| s == 200);
    let toml = std::fs::read_to_string(lesson.join("lesson.toml")).unwrap();
    std::fs::write(
        lesson.join("lesson.toml"),
        toml.replace("Serve a web page", "Serve a page, edited"),
    )
    .unwrap();
    let took = wait_for("edited title", &|s, b| {
        s == 200 && b["title"] == "Serve a page, edited"
    });
    eprintln!("an edit was served after {} ms", took.as_millis());
    std::fs::write(
        lesson.join("steps/01-serve.md"),
        "# Broken\n\n```sh run=node7\nls\n",
    )
    .unwrap();
    wait_for("broken lesson refused", &|s, _| s == 404);
    let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap();
    assert!(
        log.contains("steps/01-serve.md:3: run= names unknown node \"node7\""),
        "{log}"
    );
    assert!(
        log.contains("steps/01-serve.md:3: code block is never closed"),
        "{log}"
    );
    std::fs::write(lesson.join("steps/01-serve.md"), "# Fixed\n\nText.\n").unwrap();
    wait_for("fixed lesson served", &|s, b| {
        s == 200 && b["steps"][0]["title"] == "Fixed"
    });
}
