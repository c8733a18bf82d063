//! Web preview: HTTP and WebSocket to a port inside a node, so a learner can
//! open the web server they started, with no wildcard DNS.
//!
//! Previews are served by a listener of their own (`preview_listen`), so a
//! learner's page never runs on the app's origin: it cannot register a service
//! worker over the app, read what the app keeps in storage, or clear its site
//! data. The app's listener answers `/preview/...` with a redirect to the same
//! path on the preview origin ([`app_routes`]), so old links keep working.
//!
//! Path mode (always on): `/preview/{session}/{node}/{port}/{path}` goes to
//! `http://{node address}:{port}/{path}`. Host mode (config
//! `preview_host_suffix`): `{port}-{node}-{session}.<suffix>` goes to the same
//! place with the path unchanged, for apps that must live at `/`.
//!
//! What a preview's answer may do is narrowed (all previews of path mode share
//! one origin): `Set-Cookie` is kept under the preview's own path prefix and
//! host-only, `Service-Worker-Allowed` and `Clear-Site-Data` are dropped, and
//! service worker scripts (`Service-Worker: script`) are refused.
//!
//! The server reaches a node at its address on the session network: the host
//! owns the bridge's gateway address, so host-to-container traffic is local
//! delivery, not forwarding, and works on `internal: true` networks too (they
//! only drop forwarded traffic). See `docs/preview.md`.
//!
//! A preview opens with the session's preview token (the capability lesson
//! links carry: it opens nothing else, see
//! [`preview_token`](crate::sessions::preview_token)) or its session token
//! (API clients): `Authorization: Bearer`, or `?token=` once, which sets an
//! HttpOnly cookie scoped to the session's previews
//! (`Path=/preview/{session}/`), so the page's own sub-resources, links and
//! WebSockets load without a token in every URL.
//!
//! Each request gets its own upstream connection (a node is one bridge hop
//! away; a pool would only save a SYN): a failed connect is known before the
//! request body is consumed, so a stale address can be refreshed and retried.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::error::ApiError;
use super::extract::{
    authorize, bearer, node_terminal, preview_origin, preview_tokens, PREVIEW_COOKIE,
};
use super::state::AppState;
use crate::sessions::{Access, Session};
/// How long connecting to a node may take; a stopped container's address
/// does not answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The path-mode preview routes, served by the preview listener only.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/preview/{session}/{node}/{port}", any(path_mode))
        .route("/preview/{session}/{node}/{port}/", any(path_mode))
        .route("/preview/{session}/{node}/{port}/{*rest}", any(path_mode))
        .fallback(not_a_preview)
}

/// `/preview/...` on the app's listener: never served there, redirected to
/// the same path and query on the preview origin (a learner's old link, or
/// one from a client that does not know `preview_origin`, keeps working).
pub fn app_routes() -> Router<AppState> {
    Router::new()
        .route("/preview", any(moved_to_preview_origin))
        .route("/preview/", any(moved_to_preview_origin))
        .route("/preview/{*rest}", any(moved_to_preview_origin))
}

/// Middleware in front of every route of the preview listener: service
/// worker scripts are refused, host-mode previews served, and requests for
/// absolute paths (`/style.css`) made by a preview page sent back under the
/// page's own preview prefix.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(refused) = refuse_service_worker(req.headers()) {
        return refused;
    }
    let suffix = &state.config.preview_host_suffix;
    if !suffix.is_empty() {
        if let Some((port, node, session)) = host_target(req.headers(), suffix) {
            let target = Target {
                session,
                node,
                port,
                prefix: String::new(),
                cookie_path: "/".into(),
            };
            let rest = req.uri().path().to_owned();
            return proxy(&state, target, rest, req).await;
        }
    }
    if let Some(location) = referer_redirect(&req) {
        return redirect(StatusCode::TEMPORARY_REDIRECT, &location, None);
    }
    next.run(req).await
}

/// Middleware in front of the app's listener: a host-mode preview name that
/// reaches it (DNS or a proxy still pointing at the app's port) gets a 404
/// that says where previews are served, not the app under a learner's name.
pub async fn app_middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let suffix = &state.config.preview_host_suffix;
    if !suffix.is_empty() && host_target(req.headers(), suffix).is_some() {
        return ApiError::NotFound(format!(
            "host-mode previews are served by the preview listener (preview_listen, port {}), \
             not by the app's: point *.{} at it",
            state.config.preview_listen.port(),
            suffix.trim_start_matches('.')
        ))
        .into_response();
    }
    next.run(req).await
}

/// The answer to `/preview/...` on the app's origin: `307` to the preview
/// origin, same method, path and query.
async fn moved_to_preview_origin(State(state): State<AppState>, req: Request) -> Response {
    let origin = preview_origin(&state.config, req.headers());
    let path = req
        .uri()
        .path_and_query()
        .map_or("/preview/", |p| p.as_str());
    let location = format!("{origin}{path}");
    let mut response = redirect(StatusCode::TEMPORARY_REDIRECT, &location, None);
    *response.body_mut() = Body::from(format!(
        "Previews are served on their own origin, {origin}, never on the playground's: {location}\n"
    ));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Whatever the preview listener has no route for.
async fn not_a_preview() -> ApiError {
    ApiError::NotFound(
        "this is the playground's preview origin: it serves /preview/{session}/{node}/{port}/ \
         only (the playground itself is on another origin)"
            .into(),
    )
}

/// A service worker script is never fetched from a preview: a worker would
/// control every later page of its scope on the preview origin, which path
/// mode shares between all sessions.
fn refuse_service_worker(headers: &HeaderMap) -> Option<Response> {
    let script = headers
        .get("service-worker")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"script"));
    script.then(|| {
        ApiError::NotAllowed(
            "service workers cannot be registered on a preview (the preview origin is shared; \
             a worker would take over other pages)"
                .into(),
        )
        .into_response()
    })
}

/// Where a preview request goes.
struct Target {
    session: String,
    node: String,
    port: u16,
    /// What the app's paths are mounted under (`/preview/s/n/p`, or empty in host mode).
    prefix: String,
    /// Path attribute of the token cookie.
    cookie_path: String,
}

async fn path_mode(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(tail) = path.strip_prefix("/preview/") else {
        return ApiError::NotFound("no such page".into()).into_response();
    };
    let mut parts = tail.splitn(4, '/');
    let (Some(session), Some(node), Some(port)) = (parts.next(), parts.next(), parts.next()) else {
        return ApiError::NotFound("no such page".into()).into_response();
    };
    let Some(port) = port.parse::<u16>().ok().filter(|p| *p != 0) else {
        return ApiError::BadRequest(format!("{port:?} is not a port number (1-65535)"))
            .into_response();
    };
    let prefix = format!("/preview/{session}/{node}/{port}");
    let Some(rest) = parts.next() else {
        // `/preview/s/n/8080` -> `/preview/s/n/8080/`, so the page's relative
        // links resolve under the prefix.
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        return redirect(
            StatusCode::PERMANENT_REDIRECT,
            &format!("{prefix}/{query}"),
            None,
        );
    };
    let target = Target {
        cookie_path: format!("/preview/{session}/"),
        session: session.to_owned(),
        node: node.to_owned(),
        port,
        prefix,
    };
    let rest = format!("/{rest}");
    proxy(&state, target, rest, req).await
}

/// Authorises the request for the target's session, then forwards it.
async fn proxy(state: &AppState, target: Target, path: String, req: Request) -> Response {
    let (query, query_token) = split_token(req.uri().query());
    let has_header_token = bearer(req.headers()).is_some();
    let tokens = preview_tokens(req.headers(), query_token.as_deref());
    let opened = authorize(
        state,
        &target.session,
        tokens.iter().map(String::as_str),
        Access::Preview,
    )
    .and_then(|session| node_terminal(&session, &target.node).map(|_| session));
    let session = match opened {
        Ok(session) => session,
        Err(e) => return e.into_response(),
    };
    let upstream_path = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    // A token in the URL becomes a cookie; for a page load, the URL is
    // cleaned at once so the token stays out of history, logs and Referer.
    let set_cookie = query_token.as_ref().map(|token| {
        HeaderValue::from_str(&format!(
            "{PREVIEW_COOKIE}={token}; Path={}; HttpOnly; SameSite=Lax",
            target.cookie_path
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    });
    if query_token.is_some() && matches!(*req.method(), Method::GET | Method::HEAD) {
        return redirect(
            StatusCode::SEE_OTHER,
            &format!("{}{upstream_path}", target.prefix),
            set_cookie,
        );
    }
    let mut response = forward(
        state,
        &session,
        &target,
        upstream_path,
        req,
        has_header_token,
    )
    .await;
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Sends the request to the node and streams the answer back; upgrades
/// (WebSocket) become a byte pipe between the two connections.
async fn forward(
    state: &AppState,
    session: &Session,
    target: &Target,
    upstream_path: String,
    mut req: Request,
    strip_authorization: bool,
) -> Response {
    let (node, port) = (&target.node, target.port);
    let mut ip = match state.sessions.preview_target(session, node, false).await {
        Ok(ip) => ip,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let stream = match connect(ip, port).await {
        Ok(stream) => stream,
        Err(first) => {
            // The container may have restarted with another address.
            match state.sessions.preview_target(session, node, true).await {
                Ok(fresh) if fresh != ip => {
                    ip = fresh;
                    match connect(ip, port).await {
                        Ok(stream) => stream,
                        Err(e) => return unreachable(&req, node, port, &e),
                    }
                }
                _ => return unreachable(&req, node, port, &first),
            }
        }
    };
    let upgrade = wants_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (parts, body) = req.into_parts();
    let mut upstream = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(&upstream_path)
        .body(body)
        .expect("method and path come from a valid request");
    let headers = upstream.headers_mut();
    copy_end_to_end(&parts.headers, headers, upgrade);
    if strip_authorization {
        headers.remove(header::AUTHORIZATION);
    }
    strip_cookie(headers, PREVIEW_COOKIE);
    add_forwarded(headers, &parts.headers, peer, &target.prefix);

    let (mut sender, conn) = match hyper::client::conn::http1::Builder::new()
        .handshake::<_, Body>(TokioIo::new(stream))
        .await
    {
        Ok(pair) => pair,
        Err(e) => return unreachable_message(&parts.headers, node, port, &e.to_string()),
    };
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("preview connection: {e}");
        }
    });
    let mut response = match sender.send_request(upstream).await {
        Ok(response) => response,
        Err(e) => return unreachable_message(&parts.headers, node, port, &e.to_string()),
    };

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return unreachable_message(&parts.headers, node, port, "unexpected 101 response");
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, app)) => {
                    let (mut client, mut app) = (TokioIo::new(client), TokioIo::new(app));
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut app).await;
                }
                Err(e) => tracing::debug!("preview upgrade: {e}"),
            }
        });
        let (mut head, _) = response.into_parts();
        confine_response_headers(&mut head.headers, &target.prefix);
        return Response::from_parts(head, Body::empty());
    }

    let (mut head, body) = response.into_parts();
    let connection_named = connection_tokens(&head.headers);
    for name in HOP_BY_HOP.iter().chain(connection_named.iter()) {
        head.headers.remove(name);
    }
    confine_response_headers(&mut head.headers, &target.prefix);
    if let Some(location) = head
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| {
            rewrite_location(
                loc,
                &target.prefix,
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok()),
                &SocketAddr::new(ip, port).to_string(),
            )
        })
        .and_then(|loc| HeaderValue::from_str(&loc).ok())
    {
        head.headers.insert(header::LOCATION, location);
    }
    Response::from_parts(head, Body::new(body))
}

async fn connect(ip: IpAddr, port: u16) -> std::io::Result<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((ip, port)))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {CONNECT_TIMEOUT:?}"),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Headers that describe one connection, not the message (RFC 9110 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Header names listed in `Connection` (also hop-by-hop).
fn connection_tokens(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_tokens(headers).contains(&header::UPGRADE)
}

/// Copies the end-to-end headers; for an upgrade, `Connection: upgrade` and
/// `Upgrade` go along.
fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap, upgrade: bool) {
    let connection_named = connection_tokens(from);
    for (name, value) in from {
        if HOP_BY_HOP.contains(name) || *name == header::UPGRADE {
            continue;
        }
        if connection_named.contains(name) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
    if upgrade {
        to.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(value) = from.get(header::UPGRADE) {
            to.insert(header::UPGRADE, value.clone());
        }
    }
}

/// `X-Forwarded-For/Host/Proto/Prefix`, so apps that honour them build right URLs.
fn add_forwarded(to: &mut HeaderMap, from: &HeaderMap, peer: Option<IpAddr>, prefix: &str) {
    if let Some(peer) = peer {
        let value = match from.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(previous) => format!("{previous}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            to.insert("x-forwarded-for", value);
        }
    }
    if let Some(host) = from.get(header::HOST) {
        to.insert("x-forwarded-host", host.clone());
    }
    if !from.contains_key("x-forwarded-proto") {
        to.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if !prefix.is_empty() {
        if let Ok(value) = HeaderValue::from_str(prefix) {
            to.insert("x-forwarded-prefix", value);
        }
    }
}

/// The request's query without `token=...`, and that token (percent-decoded).
fn split_token(query: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(query) = query else {
        return (None, None);
    };
    let mut token = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(value) if token.is_none() => {
                token = Some(
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let rest = (!kept.is_empty()).then(|| kept.join("&"));
    (rest, token.filter(|t| !t.is_empty()))
}

/// What a preview's answer may not do to the preview origin, which path mode
/// shares between every session's previews: widen a service worker's scope
/// (`Service-Worker-Allowed`), wipe the origin's storage (`Clear-Site-Data`),
/// or set cookies outside its own prefix (see [`confine_cookie`]).
fn confine_response_headers(headers: &mut HeaderMap, prefix: &str) {
    headers.remove("service-worker-allowed");
    headers.remove("clear-site-data");
    let cookies: Vec<String> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| confine_cookie(v, prefix))
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// An app's `Set-Cookie`, kept to its own preview: host-only (no `Domain`),
/// and in path mode with a `Path` under `prefix` (`Path=/` becomes
/// `Path={prefix}/`, as its redirects are rewritten; without a `Path` the
/// browser's default is the request's directory, already under the prefix).
/// None for our own cookie's name or a cookie without a name.
fn confine_cookie(value: &str, prefix: &str) -> Option<String> {
    let mut attributes = value.split(';');
    let pair = attributes.next()?.trim();
    let name = pair.split_once('=').map_or(pair, |(name, _)| name).trim();
    if name.is_empty() || name == PREVIEW_COOKIE {
        return None;
    }
    let mut kept = vec![pair.to_owned()];
    for attribute in attributes.map(str::trim).filter(|a| !a.is_empty()) {
        let (key, path) = match attribute.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim()),
            None => (attribute, ""),
        };
        if key.eq_ignore_ascii_case("domain") {
            continue;
        }
        if key.eq_ignore_ascii_case("path") && !prefix.is_empty() {
            // A path that is not absolute is ignored by browsers (the default applies).
            if path.starts_with('/') {
                let inside = path == prefix || path.starts_with(&format!("{prefix}/"));
                let path = if inside {
                    path.to_owned()
                } else {
                    format!("{prefix}{path}")
                };
                kept.push(format!("Path={path}"));
            }
            continue;
        }
        kept.push(attribute.to_owned());
    }
    Some(kept.join("; "))
}

/// Removes our cookie from what the app sees (the app has no business with the token).
fn strip_cookie(headers: &mut HeaderMap, name: &str) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').map(|(k, _)| k) != Some(name))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// A redirect from the app, made to point under the preview prefix: `/x`
/// becomes `{prefix}/x`, and an absolute URL naming the app's own host
/// (the Host we passed on, or the node address) loses its origin.
fn rewrite_location(
    location: &str,
    prefix: &str,
    host: Option<&str>,
    upstream: &str,
) -> Option<String> {
    if location.starts_with('/') && !location.starts_with("//") {
        if prefix.is_empty() || location == prefix || location.starts_with(&format!("{prefix}/")) {
            return None;
        }
        return Some(format!("{prefix}{location}"));
    }
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let own = Some(authority) == host
        || authority == upstream
        || host.is_some_and(|h| authority.split(':').next() == h.split(':').next());
    if !own {
        return None;
    }
    if !prefix.is_empty() && (path == prefix || path.starts_with(&format!("{prefix}/"))) {
        return Some(path);
    }
    Some(format!("{prefix}{path}"))
}

/// `{port}-{node}-{session}.<suffix>` in the Host header.
fn host_target(headers: &HeaderMap, suffix: &str) -> Option<(u16, String, String)> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
    let label = host.strip_suffix(&suffix)?.strip_suffix('.')?;
    if label.contains('.') {
        return None;
    }
    let (port, rest) = label.split_once('-')?;
    let (node, session) = rest.rsplit_once('-')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    if node.is_empty() || session.is_empty() {
        return None;
    }
    Some((port, node.to_owned(), session.to_owned()))
}

/// A preview page asked for an absolute path (`<img src="/logo.png">`): send
/// it under the page's prefix. Only for GET/HEAD from a same-origin preview
/// page (the preview listener serves nothing else than previews, so any other
/// path of its origin is the app's).
fn referer_redirect(req: &Request) -> Option<String> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let path = req.uri().path();
    if path.starts_with("/preview/") {
        return None;
    }
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let (authority, referer_path) = rest.split_at(rest.find('/')?);
    if authority != host {
        return None;
    }
    let tail = referer_path.strip_prefix("/preview/")?;
    let mut parts = tail.splitn(4, '/');
    let (session, node, port) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    port.parse::<u16>().ok()?;
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Some(format!("/preview/{session}/{node}/{port}{path}{query}"))
}

fn redirect(status: StatusCode, location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn unreachable(req: &Request, node: &str, port: u16, e: &std::io::Error) -> Response {
    let why = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => e.to_string(),
    };
    unreachable_message(req.headers(), node, port, &why)
}

/// 502 when nothing answers on the port: an HTML page for browsers, the
/// API's JSON error otherwise.
fn unreachable_message(headers: &HeaderMap, node: &str, port: u16, why: &str) -> Response {
    let error = ApiError::PreviewUnreachable(format!(
        "nothing is answering on port {port} in {node} ({why}); start a server there, listening on 0.0.0.0:{port}, then reload"
    ));
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Nothing on port {port} yet</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}\
             code{{background:#eee;padding:.1em .3em}}</style></head><body>\
             <h1>Nothing on port {port} in {node} yet</h1>\
             <p>The preview could not connect ({why}).</p>\
             <p>Start a web server in <code>{node}</code> that listens on <code>0.0.0.0:{port}</code> \
             (for example <code>docker run -d -p {port}:80 nginx</code>), then reload this page.</p>\
             </body></html>",
            why = html_escape(why),
            node = html_escape(node),
        );
        return (
            error.status(),
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
    }
    error.into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_leaves_the_query() {
        assert_eq!(split_token(None), (None, None));
        assert_eq!(
            split_token(Some("token=abc")),
            (None, Some("abc".to_owned()))
        );
        assert_eq!(
            split_token(Some("a=1&token=a%2Bb&b=2")),
            (Some("a=1&b=2".to_owned()), Some("a+b".to_owned()))
        );
        assert_eq!(split_token(Some("a=1")), (Some("a=1".to_owned()), None));
    }

    #[test]
    fn cookies_are_stripped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pg_preview=tok; b=2"),
        );
        strip_cookie(&mut h, PREVIEW_COOKIE);
        assert_eq!(h.get(header::COOKIE).unwrap(), "a=1; b=2");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("pg_preview=tok"));
        strip_cookie(&mut h, PREVIEW_COOKIE);
        assert!(h.get(header::COOKIE).is_none());
    }

    #[test]
    fn redirects_stay_under_the_prefix() {
        let p = "/preview/s/node1/8080";
        let up = "172.20.0.2:8080";
        assert_eq!(
            rewrite_location("/docs/", p, Some("pg.test"), up).as_deref(),
            Some("/preview/s/node1/8080/docs/")
        );
        assert_eq!(
            rewrite_location("/preview/s/node1/8080/x", p, None, up),
            None
        );
        assert_eq!(
            rewrite_location("http://pg.test/docs/?a=1", p, Some("pg.test"), up).as_deref(),
            Some("/preview/s/node1/8080/docs/?a=1")
        );
        assert_eq!(
            rewrite_location("http://pg.test:8080/docs", p, Some("pg.test"), up).as_deref(),
            Some("/preview/s/node1/8080/docs")
        );
        assert_eq!(
            rewrite_location("http://172.20.0.2:8080", p, Some("pg.test"), up).as_deref(),
            Some("/preview/s/node1/8080/")
        );
        assert_eq!(
            rewrite_location("https://example.com/x", p, Some("pg.test"), up),
            None
        );
        assert_eq!(rewrite_location("docs/", p, Some("pg.test"), up), None);
        assert_eq!(
            rewrite_location("http://172.20.0.2:8080/x", "", Some("h"), up).as_deref(),
            Some("/x")
        );
    }

    #[test]
    fn cookies_stay_in_their_own_preview() {
        let p = "/preview/s/node1/8080";
        let confine = |c: &str| confine_cookie(c, p);
        assert_eq!(
            confine("sid=1; Path=/; HttpOnly").as_deref(),
            Some("sid=1; Path=/preview/s/node1/8080/; HttpOnly")
        );
        assert_eq!(
            confine("sid=1; path=/admin; Domain=pg.test; Secure").as_deref(),
            Some("sid=1; Path=/preview/s/node1/8080/admin; Secure")
        );
        // Already under the prefix (an app that honours X-Forwarded-Prefix): kept.
        assert_eq!(
            confine("a=b; Path=/preview/s/node1/8080/x").as_deref(),
            Some("a=b; Path=/preview/s/node1/8080/x")
        );
        // Another session's or port's previews are outside.
        assert_eq!(
            confine("a=b; Path=/preview/t/node1/8080/").as_deref(),
            Some("a=b; Path=/preview/s/node1/8080/preview/t/node1/8080/")
        );
        assert_eq!(
            confine("a=b; Path=/preview/s/node1/80800").as_deref(),
            Some("a=b; Path=/preview/s/node1/8080/preview/s/node1/80800")
        );
        // No Path, or one the browser ignores: its default is under the prefix.
        assert_eq!(
            confine("a=b; Max-Age=60").as_deref(),
            Some("a=b; Max-Age=60")
        );
        assert_eq!(confine("a=b; Path=x").as_deref(), Some("a=b"));
        // Our own cookie is never the app's to set.
        assert_eq!(confine("pg_preview=x; Path=/"), None);
        assert_eq!(confine("=x"), None);
        // Host mode: the whole host is the preview's, but no Domain.
        assert_eq!(
            confine_cookie("a=b; Path=/; Domain=.preview.test", "").as_deref(),
            Some("a=b; Path=/")
        );
    }

    #[test]
    fn what_a_preview_may_not_say_is_dropped() {
        let mut h = HeaderMap::new();
        h.insert("service-worker-allowed", HeaderValue::from_static("/"));
        h.insert("clear-site-data", HeaderValue::from_static("\"*\""));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("pg_preview=x"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        confine_response_headers(&mut h, "/preview/s/n/80");
        assert!(h.get("service-worker-allowed").is_none());
        assert!(h.get("clear-site-data").is_none());
        assert_eq!(h[header::CONTENT_TYPE], "text/html");
        let cookies: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; Path=/preview/s/n/80/", "b=2"]);
    }

    #[test]
    fn service_worker_scripts_are_refused() {
        let mut h = HeaderMap::new();
        assert!(refuse_service_worker(&h).is_none());
        h.insert("service-worker", HeaderValue::from_static("script"));
        let refused = refuse_service_worker(&h).expect("refused");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn host_mode_names() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("8080-node1-ab12.preview.pg.test:443"),
        );
        assert_eq!(
            host_target(&h, "preview.pg.test"),
            Some((8080, "node1".into(), "ab12".into()))
        );
        assert_eq!(host_target(&h, "other.test"), None);
        h.insert(header::HOST, HeaderValue::from_static("preview.pg.test"));
        assert_eq!(host_target(&h, "preview.pg.test"), None);
        h.insert(
            header::HOST,
            HeaderValue::from_static("x-node1-ab.preview.pg.test"),
        );
        assert_eq!(host_target(&h, "preview.pg.test"), None);
    }

    #[test]
    fn absolute_paths_from_preview_pages_go_back_under_the_prefix() {
        let req = |path: &str, referer: &str| {
            axum::http::Request::builder()
                .uri(path)
                .header(header::HOST, "pg.test")
                .header(header::REFERER, referer)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            referer_redirect(&req(
                "/style.css?v=1",
                "http://pg.test/preview/s/node1/8080/"
            )),
            Some("/preview/s/node1/8080/style.css?v=1".into())
        );
        assert_eq!(
            referer_redirect(&req(
                "/api/v1/items",
                "http://pg.test/preview/s/node1/8080/"
            )),
            Some("/preview/s/node1/8080/api/v1/items".into()),
            "the preview origin has no API of its own"
        );
        assert_eq!(
            referer_redirect(&req(
                "/preview/t/node1/80/",
                "http://pg.test/preview/s/node1/8080/"
            )),
            None
        );
        assert_eq!(
            referer_redirect(&req(
                "/style.css",
                "http://other.test/preview/s/node1/8080/"
            )),
            None
        );
        assert_eq!(
            referer_redirect(&req("/style.css", "http://pg.test/")),
            None
        );
    }
}
