//! Test support: start a real `sandbox-server` process on a loopback port with
//! its own data directory, talk to its REST API, and drive terminals over
//! real WebSockets.
//!
//! Everything here needs a running Docker Engine and the session images.
//! [`docker_available`] decides what to do without one: skip locally, fail
//! when `CI=true`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use protocol::api::CreatedSession;
use protocol::terminal::{ClientFrame, Event, ServerFrame};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

/// True when Docker answers. Without it: panics when `CI=true` (tests must run
/// there), otherwise prints why and returns false so the caller can return.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Docker is not available: run scripts/setup.sh docker images");
        }
        eprintln!("SKIPPED: Docker is not available (run scripts/setup.sh docker images)");
    }
    ok
}

/// Which build of the server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
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

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port")
}

/// A running server process. Killed (SIGKILL) on drop; its sessions are then
/// removed from Docker by [`Server::cleanup`] or the next test's reconcile.
pub struct Server {
    child: Option<Child>,
    /// The server's `instance` label value: unique per test server.
    pub instance: String,
    pub port: u16,
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    profile: Profile,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a debug server with `PLAYGROUND_*` overrides in `env`.
    pub async fn start(env: &[(&str, &str)]) -> Result<Server> {
        Self::start_with(Profile::Debug, env, &[]).await
    }

    pub async fn start_with(
        profile: Profile,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Server> {
        let port = free_port();
        let data_dir = std::env::temp_dir().join(format!("pg-e2e-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let instance = format!("e2e-{}-{port}", std::process::id());
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("PLAYGROUND_INSTANCE".into(), instance.clone()));
        let mut server = Server {
            child: None,
            instance,
            port,
            data_dir,
            env,
            args: args.iter().map(|a| a.to_string()).collect(),
            profile,
            http: reqwest::Client::new(),
        };
        sweep_stale_test_instances(profile);
        server.spawn().await?;
        Ok(server)
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
            .arg(format!("127.0.0.1:{}", self.port))
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

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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

    /// Stops the server and starts it again with the same data directory and port.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
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
        let r = self
            .http
            .post(self.url("/api/v1/sessions"))
            .json(&serde_json::json!({ "lesson": lesson }))
            .send()
            .await?;
        let status = r.status();
        let body = r.text().await?;
        if status.as_u16() != 201 {
            bail!("POST /sessions: {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    pub async fn delete_session(&self, s: &CreatedSession) -> Result<u16> {
        Ok(self
            .http
            .delete(self.url(&format!("/api/v1/sessions/{}", s.id)))
            .bearer_auth(&s.token)
            .send()
            .await?
            .status()
            .as_u16())
    }

    /// Opens node's terminal.
    pub async fn terminal(&self, s: &CreatedSession, node: &str) -> Result<Term> {
        Term::connect(&self.ws_url(&format!(
            "/api/v1/sessions/{}/nodes/{node}/terminal?token={}",
            s.id, s.token
        )))
        .await
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
fn sweep_stale_test_instances(profile: Profile) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(out) = Command::new("docker")
            .args([
                "network",
                "ls",
                "--filter",
                "label=io.playground.managed=true",
                "--format",
                "{{.Label \"io.playground.instance\"}}",
            ])
            .output()
        else {
            return;
        };
        let mut instances: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
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
                purge_instance(profile, &instance);
            }
        }
    });
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a terminal socket delivered, as a test sees it.
#[derive(Debug)]
pub enum TermEvent {
    Output(Vec<u8>),
    Event(Event),
    Closed(Option<(u16, String)>),
}

/// A terminal WebSocket client. Acknowledges output as it reads it, like a
/// browser that renders promptly, unless `auto_ack` is off.
pub struct Term {
    ws: Ws,
    /// Everything output so far, lossily decoded.
    pub transcript: String,
    pub auto_ack: bool,
    pub received_bytes: u64,
    pub closed: Option<Option<(u16, String)>>,
}

impl Term {
    pub async fn connect(url: &str) -> Result<Term> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting {url}"))?;
        if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_nodelay(true)?;
        }
        Ok(Term {
            ws,
            transcript: String::new(),
            auto_ack: true,
            received_bytes: 0,
            closed: None,
        })
    }

    pub async fn send_frame(&mut self, frame: ClientFrame<'_>) -> Result<()> {
        self.ws.send(Message::Binary(frame.encode().into())).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, msg: Message) -> Result<()> {
        self.ws.send(msg).await?;
        Ok(())
    }

    pub async fn type_text(&mut self, text: &str) -> Result<()> {
        self.send_frame(ClientFrame::Input(text.as_bytes())).await
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<()> {
        self.send_frame(ClientFrame::Resize { cols, rows }).await
    }

    /// The next thing the socket delivers, or None after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Result<Option<TermEvent>> {
        if let Some(closed) = &self.closed {
            return Ok(Some(TermEvent::Closed(closed.clone())));
        }
        let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => {
                self.closed = Some(None);
                return Ok(Some(TermEvent::Closed(None)));
            }
            Ok(Some(Err(e))) => {
                self.closed = Some(None);
                let _ = e;
                return Ok(Some(TermEvent::Closed(None)));
            }
            Ok(Some(Ok(msg))) => msg,
        };
        match msg {
            Message::Binary(data) => match ServerFrame::decode(&data)? {
                ServerFrame::Output(bytes) => {
                    self.received_bytes += bytes.len() as u64;
                    self.transcript.push_str(&String::from_utf8_lossy(bytes));
                    if self.auto_ack {
                        self.send_frame(ClientFrame::Ack(bytes.len() as u32))
                            .await?;
                    }
                    Ok(Some(TermEvent::Output(bytes.to_vec())))
                }
                ServerFrame::Event(e) => Ok(Some(TermEvent::Event(e))),
            },
            Message::Close(frame) => {
                let c = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                self.closed = Some(c.clone());
                Ok(Some(TermEvent::Closed(c)))
            }
            _ => Ok(Some(TermEvent::Output(Vec::new()))),
        }
    }

    /// Reads until the transcript (from `from` on) contains `needle`.
    pub async fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let start = self.transcript.len();
        self.wait_for_from(start, needle, timeout).await
    }

    /// Like [`Term::wait_for`], searching the transcript from byte `from`.
    pub async fn wait_for_from(
        &mut self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.transcript[from.min(self.transcript.len())..].find(needle) {
                let end = from + pos + needle.len();
                return Ok(self.transcript[from..end].to_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out waiting for {needle:?}; transcript tail: {:?}",
                    tail(&self.transcript, 600)
                );
            }
            if let Some(TermEvent::Closed(c)) = self.next(left).await? {
                bail!(
                    "socket closed ({c:?}) while waiting for {needle:?}; transcript tail: {:?}",
                    tail(&self.transcript, 600)
                );
            }
        }
    }

    /// Runs `cmd` in the shell and returns what it printed between two markers.
    pub async fn run(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        let n = MARK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (begin, end) = (format!("BEGIN{n}Z"), format!("END{n}Z"));
        // Markers are printed with a quote split inside, so the echoed command
        // line never matches them.
        let line = format!("echo BEGIN{n}''Z; {cmd}; echo END{n}''Z\r");
        let from = self.transcript.len();
        self.type_text(&line).await?;
        let out = self.wait_for_from(from, &end, timeout).await?;
        let body = out
            .rfind(&begin)
            .map(|p| &out[p + begin.len()..out.len() - end.len()])
            .unwrap_or("");
        Ok(body.trim().replace('\r', ""))
    }

    /// Reads until the socket closes; returns its close code and reason.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<Option<(u16, String)>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("socket still open after {timeout:?}");
            }
            if let Some(TermEvent::Closed(c)) = self.next(left).await? {
                return Ok(c);
            }
        }
    }

    /// Reads whatever arrives until the socket is quiet for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Result<()> {
        while let Some(ev) = self.next(quiet).await? {
            if matches!(ev, TermEvent::Closed(_)) {
                break;
            }
        }
        Ok(())
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: CloseCode::Normal,
                    reason: "bye".into(),
                },
            )))
            .await;
    }
}

static MARK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Names of Docker objects (containers, networks, volumes) labelled with `session`.
pub fn docker_objects(session: &str) -> Vec<String> {
    let label = format!("label=io.playground.session={session}");
    let mut names = Vec::new();
    for args in [
        vec![
            "ps",
            "-a",
            "--filter",
            &label,
            "--format",
            "container {{.Names}}",
        ],
        vec![
            "network",
            "ls",
            "--filter",
            &label,
            "--format",
            "network {{.Name}}",
        ],
        vec![
            "volume",
            "ls",
            "--filter",
            &label,
            "--format",
            "volume {{.Name}}",
        ],
    ] {
        let out = Command::new("docker").args(&args).output().expect("docker");
        names.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    names
}

/// `docker` with arguments; stdout trimmed. Fails on a non-zero exit.
pub fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker").args(args).output()?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f()
}
