//! The web preview and file transfer against real Docker: a server runs
//! in-process on a loopback port (18500-18599), sessions are real containers.
//!
//! Without Docker these tests skip, except under `CI=true`, where they fail.
//! The dind test also needs the registry mirror (`scripts/setup.sh registry`).
//! Run with `--nocapture` to see the measurements.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox_server::config::Config;
use sandbox_server::lessons::{builtin_shell, Catalog};
use sandbox_server::runtime::docker::DockerRuntime;
use sandbox_server::runtime::Runtime;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const UPLOAD_LIMIT: u64 = 4 * 1024 * 1024;

/// A server of its own `instance`, so other servers on this Docker host never
/// take its containers for orphans (and it never takes theirs). Dropping it
/// removes every container, network and volume of the instance.
struct TestServer {
    addr: SocketAddr,
    instance: String,
    runtime: DockerRuntime,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    data_dir: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_sandbox-server"))
            .args(["purge", "--instance", &self.instance, "--log", "warn"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn docker_missing(why: &str) -> Option<TestServer> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and Docker is not usable: {why}");
    }
    eprintln!("skipping: Docker is not usable here ({why})");
    None
}

/// A free loopback port in this suite's range, never the same twice in one
/// run (tests run in parallel: a port checked free is not bound yet).
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(18510);
    loop {
        let port = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(port < 18600, "no free port in 18510-18599");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn start(name: &str, extra_lesson_image: Option<&str>) -> Option<TestServer> {
    let instance = format!("pgtest-{name}-{}", std::process::id());
    let runtime =
        match DockerRuntime::connect(&instance, sandbox_server::config::DockerProfile::Auto, true)
            .await
        {
            Ok(r) => r,
            Err(e) => return docker_missing(&e.to_string()),
        };
    for image in ["playground/base:latest", "playground/dind:latest"] {
        let ok = std::process::Command::new("docker")
            .args(["image", "inspect", image])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return docker_missing(&format!("{image} missing (images/build.sh)"));
        }
    }
    let data_dir = std::env::temp_dir().join(&instance);
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let mut config = Config::load(None, Vec::<(String, String)>::new()).unwrap();
    config.instance = instance.clone();
    config.data_dir = data_dir.clone();
    config.lessons_dirs = vec![];
    config.max_upload_bytes = UPLOAD_LIMIT;
    config.preview_host_suffix = "preview.test".into();
    let port = free_port();
    config.listen = SocketAddr::from(([127, 0, 0, 1], port));
    let mut lessons = Vec::new();
    if let Some(image) = extra_lesson_image {
        let mut lesson = builtin_shell();
        lesson.summary.id = format!("preview-{image}");
        lesson.nodes[0].image = image.to_owned();
        lessons.push(lesson);
    }
    let catalog = Arc::new(Catalog::new(lessons));
    let task = tokio::spawn(async move {
        if let Err(e) = sandbox_server::app::serve(config, catalog).await {
            eprintln!("server stopped: {e:#}");
        }
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = TestServer {
        addr,
        instance,
        runtime,
        http,
        task,
        data_dir,
    };
    for _ in 0..200 {
        if let Ok(r) = server.http.get(server.url("/healthz")).send().await {
            if r.status().is_success() {
                return Some(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up on {addr}");
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a session; returns (id, token).
    async fn session(&self, lesson: &str) -> (String, String) {
        let r = self
            .http
            .post(self.url("/api/v1/sessions"))
            .json(&serde_json::json!({ "lesson": lesson }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn exec(&self, session: &str, script: &str) -> (i64, String) {
        let out = self
            .runtime
            .exec(
                session,
                "node1",
                &["sh".to_owned(), "-c".to_owned(), script.to_owned()],
            )
            .await
            .unwrap();
        (out.code, out.output)
    }
}

async fn error_code(r: reqwest::Response) -> String {
    let body: Value = r.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Sends raw bytes to the server, returns everything read until `until`
/// appears (or the peer closes).
async fn raw(addr: SocketAddr, request: &[u8], until: &[u8]) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer (413) and close before reading all of it.
    let _ = s.write_all(request).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.windows(until.len()).any(|w| w == until) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => break,
        }
    }
    (s, got)
}

fn static_busybox() -> Vec<u8> {
    let path = std::env::var("PLAYGROUND_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into());
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}: a static busybox is needed (scripts/setup.sh tools installs busybox-static)")
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_proxy_and_files_in_a_base_node() {
    let Some(server) = start("base", None).await else {
        return;
    };
    let (id, token) = server.session("shell").await;
    let bearer = format!("Bearer {token}");
    let files = server.url(&format!("/api/v1/sessions/{id}/nodes/node1/files"));

    // --- upload: a static busybox (the base image has no web server) ---
    let busybox = static_busybox();
    let started = Instant::now();
    let r = server
        .http
        .put(format!("{files}?path=/usr/local/bin/busybox&mode=755"))
        .header("authorization", &bearer)
        .body(busybox.clone())
        .send()
        .await
        .unwrap();
    let upload_time = started.elapsed();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["size"], busybox.len() as u64);
    eprintln!(
        "upload of {} bytes: {:?} ({:.1} MB/s)",
        busybox.len(),
        upload_time,
        busybox.len() as f64 / upload_time.as_secs_f64() / 1e6
    );
    // Read it back through the terminal-less exec.
    let (code, out) = server
        .exec(
            &id,
            "sha256sum /usr/local/bin/busybox | cut -d' ' -f1; stat -c %a /usr/local/bin/busybox",
        )
        .await;
    assert_eq!(code, 0, "{out}");
    let want = hex::encode(Sha256::digest(&busybox));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [&want[..], "755"]
    );

    // A text file into a directory that does not exist yet.
    let r = server
        .http
        .put(format!("{files}?path=/srv/www/index.html"))
        .header("authorization", &bearer)
        .body("<h1>hello preview</h1>\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cgi = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
               echo \"method=$REQUEST_METHOD\"\necho \"cookie=$HTTP_COOKIE\"\n\
               echo \"prefix=$HTTP_X_FORWARDED_PREFIX\"\nhead -c \"${CONTENT_LENGTH:-0}\"\n";
    let r = server
        .http
        .put(format!("{files}?path=/srv/www/cgi-bin/echo&mode=0755"))
        .header("authorization", &bearer)
        .body(cgi)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // An upgrade-speaking server: answers 101, then echoes bytes.
    let upgrade = "#!/bin/sh\nwhile IFS= read -r line; do [ \"$line\" = \"$(printf '\\r')\" ] && break; done\n\
                   printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'\n\
                   exec cat\n";
    let r = server
        .http
        .put(format!("{files}?path=/srv/upgrade.sh&mode=755"))
        .header("authorization", &bearer)
        .body(upgrade)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, out) = server
        .exec(
            &id,
            "mkdir -p /srv/www/sub && echo sub > /srv/www/sub/index.html && \
             busybox httpd -p 8000 -h /srv/www && \
             (busybox nc -ll -p 9000 -e /srv/upgrade.sh </dev/null >/dev/null 2>&1 &) && \
             for i in $(seq 50); do busybox wget -q -O /dev/null http://127.0.0.1:8000/ && break; sleep 0.1; done",
        )
        .await;
    assert_eq!(code, 0, "{out}");

    // --- preview: who may open it ---
    let page = server.url(&format!("/preview/{id}/node1/8000/"));
    let r = server.http.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "unauthorized");
    let r = server
        .http
        .get(&page)
        .header("authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
    let r = server
        .http
        .get(format!("{page}?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = server
        .http
        .get(server.url("/preview/0000000000000000/node1/8000/"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = server
        .http
        .get(server.url(&format!("/preview/{id}/node7/8000/")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Bearer opens it.
    let r = server
        .http
        .get(&page)
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("hello preview"));

    // ?token= once: a cookie for the session's previews, and a clean URL.
    let r = server
        .http
        .get(format!("{page}?a=1&token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert_eq!(
        cookie,
        format!("pg_preview={token}; Path=/preview/{id}/; HttpOnly; SameSite=Lax")
    );
    assert_eq!(
        r.headers()["location"],
        format!("/preview/{id}/node1/8000/?a=1").as_str()
    );
    let cookie_header = format!("a=1; pg_preview={token}");
    let r = server
        .http
        .get(&page)
        .header("cookie", &cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The app's redirect (`/sub` -> `/sub/`) stays under the prefix.
    let r = server
        .http
        .get(format!("{page}sub"))
        .header("cookie", &cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{:?}", r.headers());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("/preview/{id}/node1/8000/sub/")),
        "{location}"
    );
    // A preview page's absolute path goes back under its prefix.
    let r = server
        .http
        .get(server.url("/sub/"))
        .header("referer", &page)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"],
        format!("/preview/{id}/node1/8000/sub/").as_str()
    );

    // Host mode: the app lives at `/` of its own host name.
    let host = format!("8000-node1-{id}.preview.test:{}", server.addr.port());
    let r = server
        .http
        .get(server.url(&format!("/sub/?token={token}")))
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["set-cookie"],
        format!("pg_preview={token}; Path=/; HttpOnly; SameSite=Lax").as_str()
    );
    assert_eq!(r.headers()["location"], "/sub/");
    let r = server
        .http
        .get(server.url("/sub/"))
        .header("host", &host)
        .header("cookie", format!("pg_preview={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "sub\n");
    let r = server
        .http
        .get(server.url("/"))
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // POST with a streamed body; our cookie is not passed on, forwarding headers are.
    let payload: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = server
        .http
        .post(format!("{page}cgi-bin/echo"))
        .header("cookie", &cookie_header)
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("method=POST\ncookie=a=1\n"),
        "{}",
        &text[..80]
    );
    assert!(text.contains(&format!("prefix=/preview/{id}/node1/8000\n")));
    assert!(text.ends_with(std::str::from_utf8(&payload).unwrap()));

    // Upgrade (as WebSocket does): 101, then bytes both ways.
    let request = format!(
        "GET /preview/{id}/node1/9000/ws HTTP/1.1\r\nHost: {}\r\nAuthorization: {bearer}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    let (mut ws, head) = raw(server.addr, request.as_bytes(), b"\r\n\r\n").await;
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.write_all(b"ping through the tunnel\n").await.unwrap();
    let mut echo = vec![0u8; 24];
    tokio::time::timeout(Duration::from_secs(5), ws.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping through the tunnel\n");
    drop(ws);

    // Nothing on the port: a friendly 502, JSON or HTML.
    let closed = server.url(&format!("/preview/{id}/node1/8001/"));
    let r = server
        .http
        .get(&closed)
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(error_code(r).await, "preview_unreachable");
    let r = server
        .http
        .get(&closed)
        .header("authorization", &bearer)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Nothing on port 8001 in node1 yet"));

    // Latency: the proxy against the container directly.
    let ip = server
        .runtime
        .node_address(&id, "node1", false)
        .await
        .unwrap();
    let direct = format!("http://{ip}:8000/");
    let mut via_proxy = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let r = server
            .http
            .get(&page)
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        r.bytes().await.unwrap();
        via_proxy.push(t.elapsed());
        let t = Instant::now();
        server
            .http
            .get(&direct)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        plain.push(t.elapsed());
    }
    eprintln!(
        "GET / median: {:?} through the preview, {:?} straight to the node",
        median(via_proxy),
        median(plain)
    );

    // --- files: download, errors, limits ---
    let started = Instant::now();
    let r = server
        .http
        .get(format!("{files}?path=/usr/local/bin/busybox"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"busybox\"; filename*=UTF-8''busybox"
    );
    assert_eq!(
        r.headers()["content-length"],
        busybox.len().to_string().as_str()
    );
    let got = r.bytes().await.unwrap();
    let download_time = started.elapsed();
    assert!(got == busybox, "downloaded file differs");
    eprintln!(
        "download of {} bytes: {:?} ({:.1} MB/s)",
        got.len(),
        download_time,
        got.len() as f64 / download_time.as_secs_f64() / 1e6
    );
    // A symbolic link is followed (/bin/sh -> dash); `?token=` works for links.
    let r = server
        .http
        .get(format!("{files}?path=/bin/sh&token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"\x7fELF"));
    for (path, status) in [
        ("/nope/missing", 404),
        ("/etc", 400),
        ("etc/passwd", 400),
        ("/etc/../passwd", 400),
    ] {
        let r = server
            .http
            .get(format!("{files}?path={path}"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "GET {path}");
    }
    let r = server
        .http
        .get(format!("{files}?path=/etc/hostname"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .http
        .put(format!("{files}?path=/tmp/x"))
        .header("authorization", "Bearer nope")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = server
        .http
        .put(format!("{files}?path=relative/x"))
        .header("authorization", &bearer)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "bad_request");

    // Past the limit: 413, and nothing written (with and without a length).
    // With a length, 413 comes before any of the body is sent.
    let head = format!(
        "PUT /api/v1/sessions/{id}/nodes/node1/files?path=/tmp/big HTTP/1.1\r\nHost: x\r\n\
         Authorization: {bearer}\r\nContent-Length: {}\r\n\r\n",
        UPLOAD_LIMIT + 1
    );
    let (_, answer) = raw(server.addr, head.as_bytes(), b"}}").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");
    // Without one, the body is read up to the limit.
    let mut chunked = format!(
        "PUT /api/v1/sessions/{id}/nodes/node1/files?path=/tmp/big2 HTTP/1.1\r\nHost: x\r\n\
         Authorization: {bearer}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b'y'; 1 << 20];
    for i in 0..=UPLOAD_LIMIT >> 20 {
        // Four MiB, then one byte too many.
        let chunk = if i == UPLOAD_LIMIT >> 20 {
            &chunk[..1]
        } else {
            &chunk[..]
        };
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (_, answer) = raw(server.addr, &chunked, b"}}").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (code, out) = server
        .exec(&id, "test ! -e /tmp/big && test ! -e /tmp/big2")
        .await;
    assert_eq!(code, 0, "a refused upload left a file: {out}");

    // Just under the limit goes through.
    let fits: Vec<u8> = (0..UPLOAD_LIMIT as usize)
        .map(|i| (i % 251) as u8)
        .collect();
    let started = Instant::now();
    let r = server
        .http
        .put(format!("{files}?path=/tmp/fits.bin"))
        .header("authorization", &bearer)
        .body(fits.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = started.elapsed();
    eprintln!(
        "upload of {} bytes: {t:?} ({:.1} MB/s)",
        fits.len(),
        fits.len() as f64 / t.as_secs_f64() / 1e6
    );
    let (code, out) = server
        .exec(&id, "sha256sum /tmp/fits.bin | cut -d' ' -f1")
        .await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), hex::encode(Sha256::digest(&fits)));

    let r = server
        .http
        .delete(server.url(&format!("/api/v1/sessions/{id}")))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

fn registry_running() -> bool {
    std::process::Command::new("docker")
        .args([
            "container",
            "inspect",
            "-f",
            "{{.State.Running}}",
            "playground-registry",
        ])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true")
}

/// The course labs' path: nested Docker in a `dind` node pulls nginx from the
/// registry mirror (no public registry), publishes it, and the preview serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dind_node_pulls_nginx_from_the_mirror_and_the_preview_serves_it() {
    let Some(server) = start("dind", Some("dind")).await else {
        return;
    };
    if !registry_running() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("playground-registry is not running: scripts/setup.sh registry");
        }
        eprintln!("skipping: playground-registry is not running (scripts/setup.sh registry)");
        return;
    }
    let started = Instant::now();
    let (id, token) = server.session("preview-dind").await;
    let mut ready = false;
    for _ in 0..240 {
        let (code, _) = server.exec(&id, "test -e /run/playground-dind-ready").await;
        if code == 0 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, log) = server.exec(&id, "tail -n 20 /var/log/dockerd.log").await;
    assert!(ready, "dockerd in the node did not come up:\n{log}");
    eprintln!("dind node ready in {:?}", started.elapsed());
    let t = Instant::now();
    let (code, out) = server
        .exec(
            &id,
            "docker pull nginx 2>&1 && docker run -d -p 8080:80 nginx 2>&1",
        )
        .await;
    assert_eq!(code, 0, "{out}");
    eprintln!("docker pull nginx && docker run: {:?}", t.elapsed());

    let page = server.url(&format!("/preview/{id}/node1/8080/"));
    let mut last = String::new();
    for _ in 0..100 {
        let r = server
            .http
            .get(&page)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        last = r.text().await.unwrap();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last.contains("Welcome to nginx!"), "{last}");
}
