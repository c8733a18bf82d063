//! The web preview and file transfer of a real `sandbox-server` process on
//! real Docker, one behaviour per test. Each test has its own server (4 MiB
//! upload limit, host-mode previews under `preview.test`) and `shell` session;
//! most start a static busybox `httpd` on port 8000 and an upgrade-speaking
//! echo server on port 9000 in it. Previews are fetched from the server's
//! preview listener (an origin of its own); the app's port serves none.
//!
//! Without Docker these tests skip, except under `CI=true`, where they fail.
//! The dind test also needs the registry mirror (`scripts/setup.sh registry`).
//! Run with `--nocapture` to see the measurements.

use std::time::{Duration, Instant};

use playground_e2e::{
    docker_available, error_code, node_exec, node_ip, registry_running, Launch, Server,
};
use protocol::api::CreatedSession;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UPLOAD_LIMIT: u64 = 4 * 1024 * 1024;

/// A CGI script: prints what the app received (method, cookies, prefix, body).
const CGI: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
                   echo \"method=$REQUEST_METHOD\"\necho \"cookie=$HTTP_COOKIE\"\n\
                   echo \"prefix=$HTTP_X_FORWARDED_PREFIX\"\nhead -c \"${CONTENT_LENGTH:-0}\"\n";

/// A CGI script whose answer tries to reach beyond its preview: cookies for the
/// whole host, a service worker scope of `/`, wiping the origin's data.
const OVERREACH: &str = "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\n'\n\
                         printf 'Set-Cookie: sid=1; Path=/; HttpOnly\\r\\n'\n\
                         printf 'Set-Cookie: wide=1; Domain=127.0.0.1; Path=/preview/\\r\\n'\n\
                         printf 'Set-Cookie: pg_preview=forged; Path=/\\r\\n'\n\
                         printf 'Set-Cookie: local=1\\r\\n'\n\
                         printf 'Service-Worker-Allowed: /\\r\\n'\n\
                         printf 'Clear-Site-Data: \"*\"\\r\\n\\r\\n<p>overreach</p>\\n'\n";

/// An upgrade-speaking server: answers 101, then echoes bytes.
const UPGRADE: &str = "#!/bin/sh\nwhile IFS= read -r line; do [ \"$line\" = \"$(printf '\\r')\" ] && break; done\n\
                       printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'\n\
                       exec cat\n";

/// A server with one `shell` session, seen from its node `node1`.
struct Node {
    server: Server,
    s: CreatedSession,
    bearer: String,
}

impl Node {
    /// A fresh server and session, or None when Docker is missing (skip).
    async fn start() -> Option<Node> {
        if !docker_available() {
            return None;
        }
        let server = Launch::default()
            .own_lessons()
            .env("PLAYGROUND_MAX_UPLOAD_BYTES", &UPLOAD_LIMIT.to_string())
            .env("PLAYGROUND_PREVIEW_HOST_SUFFIX", "preview.test")
            .start()
            .await
            .unwrap();
        let s = server.create_session("shell").await.unwrap();
        let bearer = format!("Bearer {}", s.token);
        Some(Node { server, s, bearer })
    }

    /// Like [`Node::start`], with a static busybox uploaded to
    /// `/usr/local/bin/busybox` (the base image has no web server).
    async fn with_busybox() -> Option<(Node, Vec<u8>)> {
        let node = Node::start().await?;
        let busybox = static_busybox();
        let started = Instant::now();
        let body = node
            .upload("/usr/local/bin/busybox&mode=755", busybox.clone())
            .await;
        let took = started.elapsed();
        assert_eq!(body["size"], busybox.len() as u64);
        eprintln!(
            "upload of {} bytes: {took:?} ({})",
            busybox.len(),
            rate(busybox.len(), took)
        );
        Some((node, busybox))
    }

    /// Like [`Node::with_busybox`], serving `/srv/www` (an index page, `sub/`
    /// and the CGI echo) on port 8000 and the upgrade echo on port 9000.
    async fn serving() -> Option<Node> {
        let (node, _) = Node::with_busybox().await?;
        // A text file into a directory that does not exist yet.
        node.upload("/srv/www/index.html", "<h1>hello preview</h1>\n")
            .await;
        node.upload("/srv/www/cgi-bin/echo&mode=0755", CGI).await;
        node.upload("/srv/www/cgi-bin/overreach&mode=0755", OVERREACH)
            .await;
        node.upload("/srv/upgrade.sh&mode=755", UPGRADE).await;
        let (code, out) = node.exec(
            "mkdir -p /srv/www/sub && echo sub > /srv/www/sub/index.html && \
             busybox httpd -p 8000 -h /srv/www && \
             (busybox nc -ll -p 9000 -e /srv/upgrade.sh </dev/null >/dev/null 2>&1 &) && \
             for i in $(seq 50); do busybox wget -q -O /dev/null http://127.0.0.1:8000/ && break; sleep 0.1; done",
        );
        assert_eq!(code, 0, "{out}");
        Some(node)
    }

    fn id(&self) -> &str {
        &self.s.id
    }

    fn token(&self) -> &str {
        &self.s.token
    }

    /// The files URL of node1; `query` follows `?path=`.
    fn files(&self, query: &str) -> String {
        self.server.url(&format!(
            "/api/v1/sessions/{}/nodes/node1/files?path={query}",
            self.s.id
        ))
    }

    /// The preview URL of `port` in node1 (path mode, on the preview origin),
    /// ending in `/`.
    fn preview(&self, port: u16) -> String {
        self.server
            .preview_url(&format!("/preview/{}/node1/{port}/", self.s.id))
    }

    /// The `Cookie` header a browser sends after the token redirect.
    fn cookie(&self) -> String {
        format!("a=1; pg_preview={}", self.s.token)
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.server.http.get(url)
    }

    fn get_authorized(&self, url: &str) -> reqwest::RequestBuilder {
        self.get(url).header("authorization", &self.bearer)
    }

    /// `PUT` a file with the session's token; asserts 200, returns the answer.
    async fn upload(&self, query: &str, body: impl Into<reqwest::Body>) -> Value {
        let r = self
            .server
            .http
            .put(self.files(query))
            .header("authorization", &self.bearer)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "PUT {query}");
        r.json().await.unwrap()
    }

    fn exec(&self, script: &str) -> (i32, String) {
        node_exec(&self.s.id, "node1", script)
    }

    /// Asserts the file at `path` in the node has the SHA-256 of `bytes`.
    fn assert_same_bytes(&self, path: &str, bytes: &[u8]) {
        let (code, out) = self.exec(&format!("sha256sum {path} | cut -d' ' -f1"));
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.trim(), format!("{:x}", Sha256::digest(bytes)));
    }
}

fn static_busybox() -> Vec<u8> {
    let path = std::env::var("PLAYGROUND_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into());
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}: a static busybox is needed (scripts/setup.sh tools installs busybox-static)")
    })
}

fn rate(bytes: usize, took: Duration) -> String {
    format!("{:.1} MB/s", bytes as f64 / took.as_secs_f64() / 1e6)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn send(req: reqwest::RequestBuilder) -> reqwest::Response {
    req.send().await.expect("the server answers")
}

#[tokio::test]
async fn an_uploaded_binary_keeps_its_bytes_and_mode_and_the_session_ends() {
    let Some((node, busybox)) = Node::with_busybox().await else {
        return;
    };
    // Read it back through the terminal-less exec.
    let (code, out) = node.exec(
        "sha256sum /usr/local/bin/busybox | cut -d' ' -f1; stat -c %a /usr/local/bin/busybox",
    );
    assert_eq!(code, 0, "{out}");
    let want = format!("{:x}", Sha256::digest(&busybox));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [&want[..], "755"]
    );
    let r = send(
        node.server
            .http
            .delete(node.server.url(&format!("/api/v1/sessions/{}", node.id())))
            .header("authorization", &node.bearer),
    )
    .await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn a_preview_needs_the_sessions_token_and_an_existing_node() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let page = node.preview(8000);
    let r = send(node.get(&page)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "unauthorized");
    let r = send(node.get(&page).header("authorization", "Bearer nope")).await;
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
    let r = send(node.get(&format!("{page}?token=nope"))).await;
    assert_eq!(r.status(), 403);
    let other_session = node
        .server
        .preview_url("/preview/0000000000000000/node1/8000/");
    assert_eq!(
        send(node.get_authorized(&other_session)).await.status(),
        404
    );
    let other_node = node
        .server
        .preview_url(&format!("/preview/{}/node7/8000/", node.id()));
    assert_eq!(send(node.get_authorized(&other_node)).await.status(), 404);

    // Bearer opens it.
    let r = send(node.get_authorized(&page)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("hello preview"));
}

#[tokio::test]
async fn a_token_in_the_query_sets_a_cookie_and_redirects_to_the_clean_url() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let (id, token, page) = (node.id(), node.token(), node.preview(8000));
    let r = send(node.get(&format!("{page}?a=1&token={token}"))).await;
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
    let r = send(node.get(&page).header("cookie", node.cookie())).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_preview_token_reaches_the_nodes_web_server_and_is_refused_by_the_api() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let (id, preview, page) = (node.id(), &node.s.preview_token, node.preview(8000));
    assert!(!preview.is_empty() && *preview != node.s.token);
    // What a lesson link does: `?token=` becomes the cookie, then the page loads.
    let r = send(node.get(&format!("{page}?token={preview}"))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["set-cookie"].to_str().unwrap(),
        format!("pg_preview={preview}; Path=/preview/{id}/; HttpOnly; SameSite=Lax")
    );
    let cookie = format!("pg_preview={preview}");
    let r = send(node.get(&page).header("cookie", cookie)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("hello preview"));
    let bearer = format!("Bearer {preview}");
    let r = send(node.get(&page).header("authorization", &bearer)).await;
    assert_eq!(r.status(), 200);

    // The same value opens nothing of the API: the session, its files.
    let session_url = node.server.url(&format!("/api/v1/sessions/{id}"));
    let r = send(node.get(&session_url).header("authorization", &bearer)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
    let r = send(node.get(&node.files(&format!("/srv/www/index.html&token={preview}")))).await;
    assert_eq!(r.status(), 403);
    // A reloaded app gets the same capability from the session's info.
    let info: protocol::api::SessionInfo = send(node.get_authorized(&session_url))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&info.preview_token, preview);
    // And where previews are: the preview listener, as the app was reached.
    assert_eq!(node.s.preview_origin, node.server.preview_origin());
    assert_eq!(info.preview_origin, node.server.preview_origin());
}

#[tokio::test]
async fn the_apps_origin_serves_no_preview_and_redirects_old_links_to_the_preview_origin() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let (id, preview) = (node.id(), &node.s.preview_token);
    let path = format!("/preview/{id}/node1/8000/?a=1&token={preview}");
    // An old link (or one from a client that ignores preview_origin): the same
    // path and query on the preview origin, and nothing of the learner's page.
    for request in [
        node.get(&node.server.url(&path)),
        node.get_authorized(&node.server.url(&format!("/preview/{id}/node1/8000/")))
            .header("cookie", node.cookie()),
        node.server
            .http
            .post(
                node.server
                    .url(&format!("/preview/{id}/node1/8000/cgi-bin/echo")),
            )
            .header("authorization", &node.bearer)
            .body("posted"),
    ] {
        let r = send(request).await;
        assert_eq!(r.status(), 307);
        assert!(r.headers().get("set-cookie").is_none());
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&node.server.preview_origin()),
            "{location}"
        );
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("hello preview") && !body.contains("method="),
            "{body}"
        );
    }
    let r = send(node.get(&node.server.url(&path))).await;
    assert_eq!(
        r.headers()["location"],
        node.server.preview_url(&path).as_str()
    );
    // Followed, the link works as before: token to cookie, then the page.
    let r = send(node.get(&node.server.preview_url(&path))).await;
    assert_eq!(r.status(), 303);
    let r = send(
        node.get(&node.preview(8000))
            .header("cookie", format!("pg_preview={preview}")),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("hello preview"));

    // The preview listener serves previews only: none of the app's routes.
    for path in ["/api/v1/lessons", "/healthz", "/"] {
        let r = send(node.get(&node.server.preview_url(path))).await;
        assert_eq!(r.status(), 404, "{path} on the preview origin");
    }
    // And the app cannot be framed by it (nor by any other origin).
    let r = send(node.get(&node.server.url("/api/v1/lessons"))).await;
    assert_eq!(r.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(
        r.headers()["content-security-policy"],
        "frame-ancestors 'self'"
    );
}

#[tokio::test]
async fn a_preview_cannot_set_cookies_or_workers_beyond_its_own_prefix() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let id = node.id();
    let r = send(
        node.get(&format!("{}cgi-bin/overreach", node.preview(8000)))
            .header("cookie", node.cookie()),
    )
    .await;
    assert_eq!(r.status(), 200);
    let prefix = format!("/preview/{id}/node1/8000");
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        cookies,
        [
            format!("sid=1; Path={prefix}/; HttpOnly").as_str(),
            format!("wide=1; Path={prefix}/preview/").as_str(),
            "local=1",
        ],
        "host-only, under the preview's prefix, and never our own cookie"
    );
    assert!(r.headers().get("service-worker-allowed").is_none());
    assert!(r.headers().get("clear-site-data").is_none());
    assert!(r.headers().get("x-frame-options").is_none());
    assert!(r.text().await.unwrap().contains("overreach"));
    // A service worker script is refused, with the session's own token too.
    let r = send(
        node.get(&format!("{}sw.js", node.preview(8000)))
            .header("cookie", node.cookie())
            .header("service-worker", "script"),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
}

#[tokio::test]
async fn the_apps_redirects_and_absolute_paths_stay_under_the_prefix() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let (id, page) = (node.id(), node.preview(8000));
    // The app's redirect (`/sub` -> `/sub/`) stays under the prefix.
    let r = send(
        node.get(&format!("{page}sub"))
            .header("cookie", node.cookie()),
    )
    .await;
    assert_eq!(r.status(), 302, "{:?}", r.headers());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("/preview/{id}/node1/8000/sub/")),
        "{location}"
    );
    // A preview page's absolute path goes back under its prefix.
    let r = send(
        node.get(&node.server.preview_url("/sub/"))
            .header("referer", &page),
    )
    .await;
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"],
        format!("/preview/{id}/node1/8000/sub/").as_str()
    );
}

#[tokio::test]
async fn host_mode_serves_the_app_at_the_root_of_its_own_host_name() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let token = node.token();
    let host = format!(
        "8000-node1-{}.preview.test:{}",
        node.id(),
        node.server.preview_port
    );
    let r = send(
        node.get(&node.server.preview_url(&format!("/sub/?token={token}")))
            .header("host", &host),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["set-cookie"],
        format!("pg_preview={token}; Path=/; HttpOnly; SameSite=Lax").as_str()
    );
    assert_eq!(r.headers()["location"], "/sub/");
    let r = send(
        node.get(&node.server.preview_url("/sub/"))
            .header("host", &host)
            .header("cookie", format!("pg_preview={token}")),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "sub\n");
    let r = send(
        node.get(&node.server.preview_url("/"))
            .header("host", &host),
    )
    .await;
    assert_eq!(r.status(), 401);
    // The app's port does not serve the name: it says where previews are.
    let app_host = format!("8000-node1-{}.preview.test:{}", node.id(), node.server.port);
    let r = send(
        node.get(&node.server.url("/sub/"))
            .header("host", &app_host)
            .header("cookie", format!("pg_preview={token}")),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("preview listener"));
}

#[tokio::test]
async fn a_streamed_post_gets_forwarding_headers_but_not_our_cookie() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let payload: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = send(
        node.server
            .http
            .post(format!("{}cgi-bin/echo", node.preview(8000)))
            .header("cookie", node.cookie())
            .body(payload.clone()),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("method=POST\ncookie=a=1\n"),
        "{}",
        &text[..80]
    );
    assert!(text.contains(&format!("prefix=/preview/{}/node1/8000\n", node.id())));
    assert!(text.ends_with(std::str::from_utf8(&payload).unwrap()));
}

#[tokio::test]
async fn an_upgrade_answers_101_then_carries_bytes_both_ways() {
    let Some(node) = Node::serving().await else {
        return;
    };
    // As WebSocket does.
    let request = format!(
        "GET /preview/{}/node1/9000/ws HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        node.id(),
        node.server.preview_addr(),
        node.bearer
    );
    let (mut ws, head) = node
        .server
        .raw_preview(request.as_bytes(), b"\r\n\r\n")
        .await;
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.write_all(b"ping through the tunnel\n").await.unwrap();
    let mut echo = vec![0u8; 24];
    tokio::time::timeout(Duration::from_secs(5), ws.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping through the tunnel\n");
}

#[tokio::test]
async fn nothing_on_the_port_answers_a_friendly_502_in_json_or_html() {
    let Some(node) = Node::start().await else {
        return;
    };
    let closed = node.preview(8001);
    let r = send(node.get_authorized(&closed)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(error_code(r).await, "preview_unreachable");
    let r = send(node.get_authorized(&closed).header("accept", "text/html")).await;
    assert_eq!(r.status(), 502);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Nothing on port 8001 in node1 yet"));
}

/// A measurement, no assertion: the proxy against the container directly.
#[tokio::test]
async fn preview_latency_against_the_node_directly() {
    let Some(node) = Node::serving().await else {
        return;
    };
    let page = node.preview(8000);
    let direct = format!("http://{}:8000/", node_ip(node.id(), "node1").unwrap());
    let mut via_proxy = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        send(node.get_authorized(&page))
            .await
            .bytes()
            .await
            .unwrap();
        via_proxy.push(t.elapsed());
        let t = Instant::now();
        send(node.get(&direct)).await.bytes().await.unwrap();
        plain.push(t.elapsed());
    }
    eprintln!(
        "GET / median: {:?} through the preview, {:?} straight to the node",
        median(via_proxy),
        median(plain)
    );
}

#[tokio::test]
async fn a_download_is_an_attachment_with_its_length_and_the_same_bytes() {
    let Some((node, busybox)) = Node::with_busybox().await else {
        return;
    };
    let started = Instant::now();
    let r = send(node.get_authorized(&node.files("/usr/local/bin/busybox"))).await;
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
    let took = started.elapsed();
    assert!(got == busybox, "downloaded file differs");
    eprintln!(
        "download of {} bytes: {took:?} ({})",
        got.len(),
        rate(got.len(), took)
    );
}

#[tokio::test]
async fn a_download_follows_symbolic_links_and_takes_the_token_in_the_query() {
    let Some(node) = Node::start().await else {
        return;
    };
    // /bin/sh -> dash
    let r = send(node.get(&node.files(&format!("/bin/sh&token={}", node.token())))).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"\x7fELF"));
}

#[tokio::test]
async fn bad_file_paths_and_missing_or_wrong_tokens_are_refused() {
    let Some(node) = Node::start().await else {
        return;
    };
    for (path, status) in [
        ("/nope/missing", 404),
        ("/etc", 400),
        ("etc/passwd", 400),
        ("/etc/../passwd", 400),
    ] {
        let r = send(node.get_authorized(&node.files(path))).await;
        assert_eq!(r.status(), status, "GET {path}");
    }
    let r = send(node.get(&node.files("/etc/hostname"))).await;
    assert_eq!(r.status(), 401);
    let put = |path: &str| node.server.http.put(node.files(path)).body("x");
    let r = send(put("/tmp/x").header("authorization", "Bearer nope")).await;
    assert_eq!(r.status(), 403);
    let r = send(put("relative/x").header("authorization", &node.bearer)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "bad_request");
}

#[tokio::test]
async fn an_upload_past_the_limit_is_refused_and_writes_nothing() {
    let Some(node) = Node::start().await else {
        return;
    };
    let put = |path: &str, headers: &str| {
        format!(
            "PUT /api/v1/sessions/{}/nodes/node1/files?path={path} HTTP/1.1\r\nHost: x\r\n\
             Authorization: {}\r\n{headers}\r\n",
            node.id(),
            node.bearer
        )
    };
    // With a length, 413 comes before any of the body is sent.
    let head = put(
        "/tmp/big",
        &format!("Content-Length: {}\r\n", UPLOAD_LIMIT + 1),
    );
    let (_, answer) = node.server.raw(head.as_bytes(), b"}}").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");
    // Without one, the body is read up to the limit.
    let mut chunked = put(
        "/tmp/big2",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
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
    let (_, answer) = node.server.raw(&chunked, b"}}").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (code, out) = node.exec("test ! -e /tmp/big && test ! -e /tmp/big2");
    assert_eq!(code, 0, "a refused upload left a file: {out}");
}

/// Peak resident memory of a process, in bytes (`VmHWM`).
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

/// An upload without `Content-Length` (chunked) is spooled to disk, not held
/// in memory: 48 MiB raise the server's peak memory by far less than that.
#[tokio::test]
async fn a_chunked_upload_does_not_sit_in_server_memory() {
    if !docker_available() {
        return;
    }
    const SIZE: usize = 48 << 20;
    let server = Launch::default()
        .env("PLAYGROUND_MAX_UPLOAD_BYTES", &(64u64 << 20).to_string())
        .start()
        .await
        .unwrap();
    let s = server.create_session("shell").await.unwrap();
    let node = Node {
        bearer: format!("Bearer {}", s.token),
        server,
        s,
    };
    let mut chunked = format!(
        "PUT /api/v1/sessions/{}/nodes/node1/files?path=/tmp/chunked.bin HTTP/1.1\r\n\
         Host: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        node.id(),
        node.bearer
    )
    .into_bytes();
    let chunk = vec![b'z'; 1 << 20];
    for _ in 0..SIZE >> 20 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let before = peak_memory(node.server.pid());
    let (_, answer) = node.server.raw(&chunked, b"}").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let grew = peak_memory(node.server.pid()).saturating_sub(before);
    eprintln!(
        "peak server memory grew by {} KiB for a {} MiB chunked upload",
        grew >> 10,
        SIZE >> 20
    );
    assert!(grew < (SIZE / 4) as u64, "peak memory grew by {grew} bytes");
    let (code, out) = node.exec("stat -c %s /tmp/chunked.bin");
    assert_eq!((code, out.trim()), (0, SIZE.to_string().as_str()));
    node.server.delete_session(&node.s).await.unwrap();
}

#[tokio::test]
async fn an_upload_just_under_the_limit_goes_through() {
    let Some(node) = Node::start().await else {
        return;
    };
    let fits: Vec<u8> = (0..UPLOAD_LIMIT as usize)
        .map(|i| (i % 251) as u8)
        .collect();
    let started = Instant::now();
    node.upload("/tmp/fits.bin", fits.clone()).await;
    let took = started.elapsed();
    eprintln!(
        "upload of {} bytes: {took:?} ({})",
        fits.len(),
        rate(fits.len(), took)
    );
    node.assert_same_bytes("/tmp/fits.bin", &fits);
}

/// The course labs' path: nested Docker in a `dind` node pulls nginx from the
/// registry mirror (no public registry), publishes it, and the preview serves it.
#[tokio::test]
async fn dind_node_pulls_nginx_from_the_mirror_and_the_preview_serves_it() {
    if !docker_available() {
        return;
    }
    let server = Launch::default().own_lessons().start().await.unwrap();
    if !registry_running() {
        return;
    }
    write_dind_lesson(&server);
    let started = Instant::now();
    let s = create_when_served(&server, "preview-dind").await;
    let dind = |script: &str| node_exec(&s.id, "node1", script);
    let mut ready = false;
    for _ in 0..240 {
        if dind("test -e /run/playground-dind-ready").0 == 0 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, log) = dind("tail -n 20 /var/log/dockerd.log");
    assert!(ready, "dockerd in the node did not come up:\n{log}");
    eprintln!("dind node ready in {:?}", started.elapsed());
    let t = Instant::now();
    let (code, out) = dind("docker pull nginx 2>&1 && docker run -d -p 8080:80 nginx 2>&1");
    assert_eq!(code, 0, "{out}");
    eprintln!("docker pull nginx && docker run: {:?}", t.elapsed());

    let page = server.preview_url(&format!("/preview/{}/node1/8080/", s.id));
    let mut last = String::new();
    for _ in 0..100 {
        let r = send(server.http.get(&page).bearer_auth(&s.token)).await;
        let status = r.status();
        last = r.text().await.unwrap();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last.contains("Welcome to nginx!"), "{last}");
}

/// A lesson `preview-dind`: the built-in shell, on a `dind` node.
fn write_dind_lesson(server: &Server) {
    let dir = server.lessons_dir().join("preview-dind");
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"preview-dind\"\ntitle = \"Nested Docker\"\n\n\
         [[nodes]]\nname = \"node1\"\nimage = \"dind\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("steps/01-shell.md"), "# Shell\n\nA shell.\n").unwrap();
}

/// Creates a session of `lesson` once the server's watcher serves it.
async fn create_when_served(server: &Server, lesson: &str) -> CreatedSession {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match server.create_session(lesson).await {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("{e:#}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
