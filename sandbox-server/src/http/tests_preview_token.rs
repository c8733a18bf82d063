//! The preview token and the preview origin over HTTP, on a [`FakeRuntime`]:
//! the token opens the session's previews (the `?token=` redirect that sets
//! the cookie) and nothing else, neither the API nor the terminal socket; the
//! previews are served by their own listener only, the app's answers
//! `/preview/...` with a redirect there. Served by the real listeners, so the
//! WebSocket upgrade reaches the token check.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::listener::{serve, ListenerLimits};
use super::{preview_router, router, AppState};
use crate::admin_token::AdminToken;
use crate::config::Config;
use crate::lessons::{builtin_shell, Catalog};
use crate::metrics::Metrics;
use crate::runtime::fake::FakeRuntime;
use crate::sessions::Sessions;
use crate::store::Store;

/// The app's and the preview's listeners on loopback ports, and one `shell`
/// session.
struct Served {
    /// `host:port` of the app.
    app: String,
    /// `host:port` of the previews.
    preview: String,
    id: String,
    token: String,
    preview_token: String,
}

/// Serves both routers with one `shell` session; they stop with the test's runtime.
async fn server_with_a_session() -> Served {
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let preview_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Arc::new(Config {
        listen: app_listener.local_addr().unwrap(),
        preview_listen: preview_listener.local_addr().unwrap(),
        ..Config::default()
    });
    let catalog = Arc::new(Catalog::new([builtin_shell()]));
    let metrics = Arc::new(Metrics::default());
    let sessions = Arc::new(Sessions::new(
        config.clone(),
        FakeRuntime::new(),
        Store::open(Path::new(":memory:")).unwrap(),
        catalog.clone(),
        metrics.clone(),
    ));
    let (session, token) = sessions.create("shell", "192.0.2.1").await.unwrap();
    let state = AppState::new(
        config.clone(),
        sessions,
        catalog,
        metrics,
        AdminToken::from_value("test-admin-token"),
    );
    let limits = ListenerLimits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(5),
    };
    tokio::spawn(serve(
        app_listener,
        router(state.clone()),
        limits,
        std::future::pending(),
    ));
    tokio::spawn(serve(
        preview_listener,
        preview_router(state),
        limits,
        std::future::pending(),
    ));
    Served {
        app: config.listen.to_string(),
        preview: config.preview_listen.to_string(),
        id: session.record.id.clone(),
        token,
        preview_token: session.preview_token(),
    }
}

/// Sends a GET with `headers` and returns the head of the answer.
async fn get(addr: &str, path: &str, headers: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Up to the end of the head: an upgraded socket stays open after it.
    let mut answer = Vec::new();
    let read_head = async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match tcp.read(&mut buf).await.unwrap() {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read_head)
        .await
        .expect("an answer within 5 s");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Sends a GET with `headers` and returns the body of the answer (read to the end).
async fn get_body(addr: &str, path: &str, headers: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    assert!(!head.contains("transfer-encoding: chunked"), "{head}");
    body.to_owned()
}

/// Sends a GET with `headers`, asserts the answer's status; returns its head.
async fn expect(addr: &str, path: &str, headers: &str, want: u16) -> String {
    let head = get(addr, path, headers).await;
    let status = head.split(' ').nth(1).unwrap_or_default();
    assert_eq!(status, want.to_string(), "GET {path}: {head}");
    head
}

const WEBSOCKET: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[tokio::test]
async fn the_preview_token_opens_the_preview_and_not_the_api_or_the_terminal() {
    let Served {
        app,
        preview: previews,
        id,
        token,
        preview_token: preview,
    } = server_with_a_session().await;
    assert_eq!(preview.len(), 64, "hex of a SHA-256");
    assert_ne!(preview, token);

    // The preview: `?token=` is taken, set as the cookie, and the URL cleaned.
    let page = format!("/preview/{id}/node1/8080/a");
    let head = expect(&previews, &format!("{page}?token={preview}"), "", 303).await;
    let cookie = format!("pg_preview={preview}; Path=/preview/{id}/; HttpOnly");
    assert!(head.contains(&cookie), "{head}");
    assert!(head.contains(&format!("location: {page}\r\n")), "{head}");
    // The session token still opens previews (API clients), a wrong one does not.
    expect(&previews, &format!("{page}?token={token}"), "", 303).await;
    let wrong = "0".repeat(64);
    expect(&previews, &format!("{page}?token={wrong}"), "", 403).await;
    // Past the token check, a node the session lacks is 404, from a cookie too.
    let cookie = format!("Cookie: pg_preview={preview}\r\n");
    expect(
        &previews,
        &format!("/preview/{id}/node9/8080/"),
        &cookie,
        404,
    )
    .await;

    // The API: the preview token is refused, the session token opens it.
    let session_url = format!("/api/v1/sessions/{id}");
    let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");
    expect(&app, &session_url, &bearer(&preview), 403).await;
    expect(&app, &session_url, &bearer(&token), 200).await;

    // The terminal socket: refused with the preview token, in the query or the header.
    let terminal = format!("/api/v1/sessions/{id}/nodes/node1/terminal");
    expect(&app, &format!("{terminal}?token={preview}"), WEBSOCKET, 403).await;
    let upgrade_with_bearer = format!("{WEBSOCKET}{}", bearer(&preview));
    expect(&app, &terminal, &upgrade_with_bearer, 403).await;
    // The session token opens it.
    expect(&app, &format!("{terminal}?token={token}"), WEBSOCKET, 101).await;
}

#[tokio::test]
async fn previews_are_served_on_their_own_origin_only() {
    let Served {
        app,
        preview: previews,
        id,
        token,
        preview_token,
    } = server_with_a_session().await;
    let page = format!("/preview/{id}/node1/8080/a?x=1&token={preview_token}");

    // The app's listener serves no preview: it sends the same path and query there.
    let head = expect(&app, &page, "", 307).await;
    assert!(
        head.contains(&format!("location: http://{previews}{page}\r\n")),
        "{head}"
    );
    assert!(!head.contains("set-cookie"), "{head}");
    // With a token in the header too: nothing is proxied on the app's origin.
    let bearer = format!("Authorization: Bearer {token}\r\n");
    expect(&app, &format!("/preview/{id}/node1/8080/"), &bearer, 307).await;

    // The API tells the web app where previews are, as the client reached the app.
    let body = get_body(&app, &format!("/api/v1/sessions/{id}"), &bearer).await;
    let info: protocol::api::SessionInfo = serde_json::from_str(&body).unwrap();
    assert_eq!(info.preview_origin, format!("http://{previews}"));

    // The preview listener serves previews and nothing of the app.
    for path in ["/api/v1/lessons", "/healthz", "/metrics", "/"] {
        expect(&previews, path, "", 404).await;
    }
    expect(&previews, &page, "", 303).await;

    // A service worker script is refused before anything else, token or not.
    let cookie = format!("Cookie: pg_preview={preview_token}\r\nService-Worker: script\r\n");
    let head = expect(
        &previews,
        &format!("/preview/{id}/node1/8080/sw.js"),
        &cookie,
        403,
    )
    .await;
    assert!(head.contains("content-type: application/json"), "{head}");

    // The app cannot be framed by another origin (a preview page above all).
    for path in ["/healthz", &format!("/api/v1/sessions/{id}")] {
        let head = expect(&app, path, &bearer, 200).await;
        assert!(head.contains("x-frame-options: SAMEORIGIN"), "{head}");
        assert!(
            head.contains("content-security-policy: frame-ancestors 'self'"),
            "{head}"
        );
    }
    // Previews are the learner's pages: none of the app's headers.
    let head = expect(&previews, &page, "", 303).await;
    assert!(!head.contains("x-frame-options"), "{head}");
    assert!(!head.contains("content-security-policy"), "{head}");
}
