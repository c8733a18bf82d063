//! The preview token over HTTP, on a [`FakeRuntime`]: it opens the session's
//! previews (the `?token=` redirect that sets the cookie) and nothing else,
//! neither the API nor the terminal socket. Served by the real listener, so
//! the WebSocket upgrade reaches the token check.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::listener::{serve, ListenerLimits};
use super::rate_limit::RateLimiter;
use super::{router, AppState};
use crate::config::Config;
use crate::lessons::{builtin_shell, Catalog};
use crate::metrics::Metrics;
use crate::runtime::fake::FakeRuntime;
use crate::sessions::Sessions;
use crate::store::Store;

/// A server on a loopback port with one `shell` session: (address, id,
/// session token, preview token). The server stops with the test's runtime.
async fn server_with_a_session() -> (String, String, String, String) {
    let config = Arc::new(Config::default());
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
    let state = AppState {
        creations: Arc::new(RateLimiter::per_minute(config.session_creations_per_minute)),
        config,
        sessions,
        catalog,
        metrics,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let limits = ListenerLimits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(5),
    };
    tokio::spawn(serve(
        listener,
        router(state),
        limits,
        std::future::pending(),
    ));
    let preview_token = session.preview_token();
    (addr, session.record.id.clone(), token, preview_token)
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
    let (addr, id, token, preview) = server_with_a_session().await;
    assert_eq!(preview.len(), 64, "hex of a SHA-256");
    assert_ne!(preview, token);

    // The preview: `?token=` is taken, set as the cookie, and the URL cleaned.
    let page = format!("/preview/{id}/node1/8080/a");
    let head = expect(&addr, &format!("{page}?token={preview}"), "", 303).await;
    let cookie = format!("pg_preview={preview}; Path=/preview/{id}/; HttpOnly");
    assert!(head.contains(&cookie), "{head}");
    assert!(head.contains(&format!("location: {page}\r\n")), "{head}");
    // The session token still opens previews (API clients), a wrong one does not.
    expect(&addr, &format!("{page}?token={token}"), "", 303).await;
    let wrong = "0".repeat(64);
    expect(&addr, &format!("{page}?token={wrong}"), "", 403).await;
    // Past the token check, a node the session lacks is 404, from a cookie too.
    let cookie = format!("Cookie: pg_preview={preview}\r\n");
    expect(&addr, &format!("/preview/{id}/node9/8080/"), &cookie, 404).await;

    // The API: the preview token is refused, the session token opens it.
    let session_url = format!("/api/v1/sessions/{id}");
    let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");
    expect(&addr, &session_url, &bearer(&preview), 403).await;
    expect(&addr, &session_url, &bearer(&token), 200).await;

    // The terminal socket: refused with the preview token, in the query or the header.
    let terminal = format!("/api/v1/sessions/{id}/nodes/node1/terminal");
    expect(
        &addr,
        &format!("{terminal}?token={preview}"),
        WEBSOCKET,
        403,
    )
    .await;
    let upgrade_with_bearer = format!("{WEBSOCKET}{}", bearer(&preview));
    expect(&addr, &terminal, &upgrade_with_bearer, 403).await;
    // The session token opens it.
    expect(&addr, &format!("{terminal}?token={token}"), WEBSOCKET, 101).await;
}
