//! A real `sandbox-server` process on a loopback port (and its previews on a
//! second one, their own origin) with its own data directory and `instance`
//! label, and one HTTP client to talk to it: the REST API, raw bytes for what
//! a client library will not send, terminals, previews.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use protocol::api::CreatedSession;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::docker::{docker_available, purge_instance, sweep_stale_test_instances};
use crate::repo_root;
use crate::term::Term;

/// Which build of the server to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    #[default]
    Debug,
    Release,
}

/// Builds the server binary once per test process (a no-op when fresh), so a
/// test never runs a stale binary.
pub fn server_binary(profile: Profile) -> PathBuf {
    static DEBUG: OnceLock<PathBuf> = OnceLock::new();
    static RELEASE: OnceLock<PathBuf> = OnceLock::new();
    let cell = match profile {
        Profile::Debug => &DEBUG,
        Profile::Release => &RELEASE,
    };
    cell.get_or_init(|| {
        let root = repo_root();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root).args([
            "build",
            "-q",
            "-p",
            "sandbox-server",
            "--bin",
            "sandbox-server",
        ]);
        if profile == Profile::Release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building sandbox-server failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target
            .join(match profile {
                Profile::Debug => "debug",
                Profile::Release => "release",
            })
            .join("sandbox-server")
    })
    .clone()
}

/// Builds the graders under `dir` (`sandbox-server lesson build`, into the
/// shared `target/graders`) once per test process and directory, so a test
/// never runs a stale grader; panics when a grader does not build.
pub fn built_graders(dir: &std::path::Path) {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(dir) {
        return;
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let status = Command::new(server_binary(Profile::Debug))
        .args(["lesson", "build"])
        .arg(dir)
        .arg("--target-dir")
        .arg(target.join("graders"))
        .status()
        .expect("running sandbox-server lesson build");
    assert!(
        status.success(),
        "building the graders of {} failed",
        dir.display()
    );
    built.insert(dir.to_path_buf());
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port")
}

/// How to start a server: `Launch::default().env(..).start()`.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    profile: Profile,
    env: Vec<(String, String)>,
    args: Vec<String>,
    own_lessons: bool,
    on_all_addresses: bool,
}

impl Launch {
    /// A `PLAYGROUND_*` (or any) environment variable for the server.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Several variables, as [`Launch::env`].
    pub fn envs(self, env: &[(&str, &str)]) -> Launch {
        env.iter().fold(self, |l, (k, v)| l.env(k, v))
    }

    /// Extra command-line arguments after `serve`.
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn profile(mut self, profile: Profile) -> Launch {
        self.profile = profile;
        self
    }

    /// Serves only the lessons in [`Server::lessons_dir`] (empty at start; the
    /// server's watcher picks up what a test writes there) instead of `lessons/`.
    pub fn own_lessons(mut self) -> Launch {
        self.own_lessons = true;
        self
    }

    /// Listens on every address of the host (`0.0.0.0`), not only loopback, as a
    /// published server does: what a node could reach without the host firewall.
    /// The test itself still talks to it over loopback.
    pub fn on_all_addresses(mut self) -> Launch {
        self.on_all_addresses = true;
        self
    }

    pub async fn start(self) -> Result<Server> {
        let port = free_port();
        let preview_port = loop {
            let p = free_port();
            if p != port {
                break p;
            }
        };
        let data_dir = std::env::temp_dir().join(format!("pg-e2e-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let instance = format!("e2e-{}-{port}", std::process::id());
        let mut env = self.env;
        env.push(("PLAYGROUND_INSTANCE".into(), instance.clone()));
        // One cache of compiled graders for every test server, so each start
        // does not compile the shipped lessons' graders again.
        if !env.iter().any(|(k, _)| k == "PLAYGROUND_GRADER_CACHE_DIR") {
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| repo_root().join("target"));
            env.insert(
                0,
                (
                    "PLAYGROUND_GRADER_CACHE_DIR".into(),
                    target.join("grader-cache").display().to_string(),
                ),
            );
        }
        let lessons_dir = data_dir.join("lessons");
        if self.own_lessons {
            std::fs::create_dir_all(&lessons_dir).context("creating the lessons directory")?;
            env.push((
                "PLAYGROUND_LESSONS_DIRS".into(),
                lessons_dir.display().to_string(),
            ));
        }
        let mut server = Server {
            child: None,
            instance,
            port,
            preview_port,
            data_dir,
            lessons_dir,
            env,
            args: self.args,
            on_all_addresses: self.on_all_addresses,
            profile: self.profile,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // The server closes connections idle for `header_read_timeout_secs`
                // (10 s); reusing one just as it closes fails the request.
                .pool_idle_timeout(Duration::from_secs(5))
                .build()?,
        };
        sweep_stale_test_instances(self.profile);
        server.spawn().await?;
        Ok(server)
    }
}

/// A running server process. Killed (SIGKILL) on drop; everything of its
/// instance is then removed from Docker.
pub struct Server {
    child: Option<Child>,
    /// The server's `instance` label value: unique per test server.
    pub instance: String,
    pub port: u16,
    /// The port of the preview listener (`--preview-listen`): previews are
    /// served there only, on an origin of their own.
    pub preview_port: u16,
    pub data_dir: PathBuf,
    lessons_dir: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    on_all_addresses: bool,
    profile: Profile,
    /// The one HTTP client; it does not follow redirects, so tests see them.
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a debug server with `PLAYGROUND_*` overrides in `env`.
    pub async fn start(env: &[(&str, &str)]) -> Result<Server> {
        Launch::default().envs(env).start().await
    }

    pub async fn start_with(
        profile: Profile,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Server> {
        Launch::default()
            .profile(profile)
            .envs(env)
            .args(args)
            .start()
            .await
    }

    async fn spawn(&mut self) -> Result<()> {
        let log = std::fs::create_dir_all(&self.data_dir)
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.data_dir.join("server.log"))
            })
            .context("creating the server log")?;
        let mut cmd = Command::new(server_binary(self.profile));
        cmd.current_dir(repo_root())
            .arg("serve")
            .arg("--listen")
            .arg(if self.on_all_addresses {
                format!("0.0.0.0:{}", self.port)
            } else {
                self.addr()
            })
            .arg("--preview-listen")
            .arg(if self.on_all_addresses {
                format!("0.0.0.0:{}", self.preview_port)
            } else {
                self.preview_addr()
            })
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().context("starting sandbox-server")?);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "server exited with {status} during start-up:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "server did not answer /healthz within 30 s:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// The lessons directory of a server started with [`Launch::own_lessons`].
    pub fn lessons_dir(&self) -> PathBuf {
        self.lessons_dir.clone()
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `host:port` of the preview listener.
    pub fn preview_addr(&self) -> String {
        format!("127.0.0.1:{}", self.preview_port)
    }

    /// The origin previews are served on, as the API gives it to a client
    /// that reaches the app at [`Server::url`].
    pub fn preview_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.preview_port)
    }

    /// A URL on the preview origin.
    pub fn preview_url(&self, path: &str) -> String {
        format!("{}{path}", self.preview_origin())
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGTERM, then wait for the process to exit (at most 15 s).
    pub async fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("server not running")?;
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("server ignored SIGTERM for 15 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The file of the server's admin token (made at its first start).
    pub fn admin_token_file(&self) -> PathBuf {
        self.data_dir.join("admin-token")
    }

    /// The server's admin token, read from [`Server::admin_token_file`].
    pub fn admin_token(&self) -> Result<String> {
        let file = self.admin_token_file();
        let token = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the admin token {}", file.display()))?;
        Ok(token.trim().to_owned())
    }

    /// Stops the server and starts it again with the same data directory and port.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    /// One JSON API call: `method path` with an optional bearer token and body
    /// (sent as `application/json`). Returns the status and the body as JSON
    /// (a string when it is not JSON, null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let r = req.send().await.expect("the server answers");
        let status = r.status().as_u16();
        let text = r.text().await.expect("a body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Sends raw bytes (for requests a client library will not make); returns
    /// the open connection and everything read until `until` appeared, the
    /// peer closed, or 10 s passed.
    pub async fn raw(&self, request: &[u8], until: &[u8]) -> (TcpStream, Vec<u8>) {
        self.raw_to(&self.addr(), request, until).await
    }

    /// As [`Server::raw`], to the preview listener.
    pub async fn raw_preview(&self, request: &[u8], until: &[u8]) -> (TcpStream, Vec<u8>) {
        self.raw_to(&self.preview_addr(), request, until).await
    }

    async fn raw_to(&self, addr: &str, request: &[u8], until: &[u8]) -> (TcpStream, Vec<u8>) {
        let mut s = TcpStream::connect(addr).await.expect("connecting");
        // The server may answer (413) and close before reading all of it.
        let _ = s.write_all(request).await;
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !got.windows(until.len()).any(|w| w == until) && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
        (s, got)
    }

    /// `POST /api/v1/sessions` for `lesson`, whatever the answer (for tests of refusals).
    pub async fn post_session(&self, lesson: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/sessions"))
            .json(&serde_json::json!({ "lesson": lesson }))
            .send()
            .await
            .expect("the server answers")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a text body")
    }

    pub async fn create_session(&self, lesson: &str) -> Result<CreatedSession> {
        let r = self.post_session(lesson).await;
        let status = r.status();
        let body = r.text().await?;
        if status.as_u16() != 201 {
            bail!("POST /sessions: {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// A server error is explained on stderr: its body and the server's log
    /// lines of the session.
    pub async fn delete_session(&self, s: &CreatedSession) -> Result<u16> {
        let response = self
            .http
            .delete(self.url(&format!("/api/v1/sessions/{}", s.id)))
            .bearer_auth(&s.token)
            .send()
            .await?;
        let status = response.status().as_u16();
        if status >= 500 {
            let body = response.text().await.unwrap_or_default();
            let log = self.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(&s.id)).collect();
            eprintln!(
                "deleting session {} answered {status}: {body}\nserver log of it:\n{}",
                s.id,
                lines.join("\n")
            );
        }
        Ok(status)
    }

    /// Opens node's terminal.
    pub async fn terminal(&self, s: &CreatedSession, node: &str) -> Result<Term> {
        Term::connect(&self.ws_url(&format!(
            "/api/v1/sessions/{}/nodes/{node}/terminal?token={}",
            s.id, s.token
        )))
        .await
    }

    /// Opens node's terminal and reads up to the shell's first prompt.
    pub async fn prompt(&self, s: &CreatedSession, node: &str) -> Result<Term> {
        let mut term = self.terminal(s, node).await?;
        term.wait_for("# ", Duration::from_secs(20)).await?;
        Ok(term)
    }

    pub async fn screen(&self, s: &CreatedSession, node: &str) -> Result<String> {
        Ok(self
            .http
            .get(self.url(&format!("/api/v1/sessions/{}/nodes/{node}/screen", s.id)))
            .bearer_auth(&s.token)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }
}

/// A server started with `env` and one `shell` session on it; None when
/// Docker is missing (see [`docker_available`]: the test returns, or fails under `CI=true`).
pub async fn shell_session(env: &[(&str, &str)]) -> Option<(Server, CreatedSession)> {
    if !docker_available() {
        return None;
    }
    let server = Server::start(env).await.expect("starting the server");
    let s = server
        .create_session("shell")
        .await
        .expect("creating a shell session");
    Some((server, s))
}

/// The `error.code` of an API error answer.
pub async fn error_code(r: reqwest::Response) -> String {
    let body: Value = r.json().await.expect("a JSON error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever the test left (a failed assertion skips its clean-up).
        purge_instance(self.profile, &self.instance);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// The value of the sample `series` (a metric name with its labels, as printed)
/// in the Prometheus text of `/metrics`; 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
