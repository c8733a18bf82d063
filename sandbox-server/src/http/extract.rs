//! Axum extractors: who is asking (a session opened by its token, one of the
//! session's nodes, the lesson it follows, the client's address) and JSON
//! bodies whose rejection is an [`ApiError`].
//!
//! Authorisation keeps one order everywhere: an unknown session is 404 first,
//! then a missing token 401, then a wrong token 403 (see
//! [`Sessions::authorize`](crate::sessions::Sessions::authorize)).

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;
use super::state::AppState;
use crate::client_addr::{client_address, ClientKey};
use crate::config::Config;
use crate::sessions::{Access, Session};
use crate::terminal::Terminal;

/// Largest JSON request body accepted.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Name of the cookie that carries a session token to its previews.
pub const PREVIEW_COOKIE: &str = "pg_preview";

/// Where a route takes the session token from.
pub trait TokenSource {
    /// The token the request offers, if any.
    fn token(parts: &Parts) -> Result<Option<String>, ApiError>;
}

/// `Authorization: Bearer <token>` only: the REST calls.
pub struct Header;

/// The header, else `?token=`: for what a browser opens without headers (the
/// terminal WebSocket, `/screen`, file download links and uploads).
pub struct HeaderOrQuery;

impl TokenSource for Header {
    fn token(parts: &Parts) -> Result<Option<String>, ApiError> {
        Ok(bearer(&parts.headers).map(str::to_owned))
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl TokenSource for HeaderOrQuery {
    fn token(parts: &Parts) -> Result<Option<String>, ApiError> {
        let Query(query) = Query::<TokenQuery>::try_from_uri(&parts.uri)
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        Ok(bearer(&parts.headers).map(str::to_owned).or(query.token))
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The session `id`, opened for `access` by the first of `tokens` that opens
/// it. With no token the answer is 404 (unknown session) or 401; with only
/// wrong ones, 403.
pub fn authorize<'a>(
    state: &AppState,
    id: &str,
    tokens: impl IntoIterator<Item = &'a str>,
    access: Access,
) -> Result<Arc<Session>, ApiError> {
    let mut tokens = tokens.into_iter();
    let mut result = state.sessions.authorize_for(id, tokens.next(), access);
    for token in tokens {
        if result.is_ok() {
            break;
        }
        result = state.sessions.authorize_for(id, Some(token), access);
    }
    Ok(result?)
}

/// The terminal of `node` in `session`: 404 when the session has no such node.
pub fn node_terminal(session: &Session, node: &str) -> Result<Arc<Terminal>, ApiError> {
    session.terminal(node).cloned().ok_or_else(|| {
        ApiError::NotFound(format!(
            "session {} has no node {node:?}",
            session.record.id
        ))
    })
}

/// The tokens a preview request offers: the header, else `?token=` (cut from
/// the query by the caller), else every `pg_preview` cookie (a browser sends
/// several when cookies of more than one path match).
pub fn preview_tokens(headers: &HeaderMap, query_token: Option<&str>) -> Vec<String> {
    match bearer(headers).or(query_token) {
        Some(token) => vec![token.to_owned()],
        None => cookie_values(headers, PREVIEW_COOKIE),
    }
}

/// Values of cookie `name` in the request (a browser may send several).
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim().to_owned())
        })
        .collect()
}

fn bad_path(rejection: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// The session named by the path's `{id}`, opened by a token from `T`.
pub struct AuthorizedSession<T = Header> {
    pub id: String,
    pub session: Arc<Session>,
    source: PhantomData<fn() -> T>,
}

#[derive(Deserialize)]
struct SessionPath {
    id: String,
}

impl<T: TokenSource> FromRequestParts<AppState> for AuthorizedSession<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(SessionPath { id }) = Path::from_request_parts(parts, state)
            .await
            .map_err(bad_path)?;
        let token = T::token(parts)?;
        let session = authorize(state, &id, token.as_deref(), Access::Full)?;
        Ok(AuthorizedSession {
            id,
            session,
            source: PhantomData,
        })
    }
}

/// An [`AuthorizedSession`] and the node named by the path's `{node}`.
pub struct SessionNode<T = Header> {
    pub id: String,
    pub node: String,
    pub session: Arc<Session>,
    pub terminal: Arc<Terminal>,
    source: PhantomData<fn() -> T>,
}

#[derive(Deserialize)]
struct NodePath {
    node: String,
}

impl<T: TokenSource> FromRequestParts<AppState> for SessionNode<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthorizedSession { id, session, .. } =
            AuthorizedSession::<T>::from_request_parts(parts, state).await?;
        let Path(NodePath { node }) = Path::from_request_parts(parts, state)
            .await
            .map_err(bad_path)?;
        let terminal = node_terminal(&session, &node)?;
        Ok(SessionNode {
            id,
            node,
            session,
            terminal,
            source: PhantomData,
        })
    }
}

/// The origin previews are served on, as this request's client reaches it (see
/// [`preview_origin`]): `http://localhost:8081` for an app at `http://localhost:8080`.
pub struct PreviewOrigin(pub String);

impl FromRequestParts<AppState> for PreviewOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(PreviewOrigin(preview_origin(&state.config, &parts.headers)))
    }
}

/// The base URL of preview links (no trailing `/`): `preview_public_url` when set,
/// else `http://` + the host name the client used (its `Host` header) + the port of
/// `preview_listen`. Previews are never served on the app's own origin.
pub fn preview_origin(config: &Config, headers: &HeaderMap) -> String {
    if let Ok(Some(origin)) = config.preview_public_origin() {
        return origin;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_name)
        .map(str::to_owned)
        .unwrap_or_else(|| match config.preview_listen.ip() {
            ip if ip.is_unspecified() => "localhost".to_owned(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        });
    match config.preview_listen.port() {
        80 => format!("http://{host}"),
        port => format!("http://{host}:{port}"),
    }
}

/// The host name of a `Host` header without its port (`[::1]` keeps its
/// brackets); None when it is not a plain name or address.
fn host_name(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        &host[..=host.find(']')?]
    } else {
        host.split(':').next()?
    };
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    (!name.is_empty() && plain && (name.starts_with('[') || !name.contains(':'))).then_some(name)
}

/// An operator: the request carries the admin token as `Authorization:
/// Bearer`. No token is 401; any other token (a learner's too) is 403. Put
/// it first among a handler's extractors, so nobody without the token learns
/// whether a session or workshop exists.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_admin(state, bearer(&parts.headers))
    }
}

/// Whether `token` is the admin token: 401 when absent or empty, 403 when wrong.
pub fn check_admin(state: &AppState, token: Option<&str>) -> Result<Admin, ApiError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    if state.admin.matches(token) {
        Ok(Admin)
    } else {
        Err(ApiError::NotAdmin)
    }
}

/// The app's origin as the client reached it (`http://host:port`), for links
/// the server hands out (a workshop's join link): `https` when a trusted proxy
/// says so in `X-Forwarded-Proto` (with `trust_forwarded_for`).
pub struct AppOrigin(pub String);

impl FromRequestParts<AppState> for AppOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .map(str::to_owned)
            .unwrap_or_else(|| state.config.listen.to_string());
        let https = state.config.trust_forwarded_for
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        let scheme = if https { "https" } else { "http" };
        Ok(AppOrigin(format!("{scheme}://{host}")))
    }
}

/// The client's address (see [`client_ip`]).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::Internal(rejection.body_text()))?;
        Ok(ClientIp(client_ip(&state.config, peer, &parts.headers)))
    }
}

/// The client's key for per-client limits: the peer, or with
/// `trust_forwarded_for` the rightmost `X-Forwarded-For` entry not added by a
/// trusted proxy (see [`crate::client_addr`]); IPv6 grouped by /64.
pub fn client_ip(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> String {
    let ip = if config.trust_forwarded_for {
        // Validated at load; an unparsable list trusts nobody.
        let trusted = config.trusted_proxy_nets().unwrap_or_default();
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        client_address(peer.ip(), Some(&forwarded), &trusted)
    } else {
        peer.ip()
    };
    ClientKey::of(ip).into_string()
}

/// A JSON body; a body over [`MAX_JSON_BODY`] is 413 `too_large`, one that is
/// not the expected JSON 400 `bad_request`, both in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(value)| ApiJson(value))
            .map_err(|rejection| ApiError::from_json_rejection(rejection, MAX_JSON_BODY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn preview_tokens_prefer_the_header_then_the_query_then_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pg_preview=tok; b=2"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("pg_preview=old"));
        assert_eq!(cookie_values(&h, PREVIEW_COOKIE), vec!["tok", "old"]);
        assert_eq!(preview_tokens(&h, None), vec!["tok", "old"]);
        assert_eq!(preview_tokens(&h, Some("q")), vec!["q"]);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer hd"));
        assert_eq!(preview_tokens(&h, Some("q")), vec!["hd"]);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.9:4000".parse().unwrap();
        let mut h = HeaderMap::new();
        // The client wrote 1.2.3.4; the proxy appended the address it saw.
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static(" 1.2.3.4, 203.0.113.5"),
        );
        let mut config = Config::default();
        assert_eq!(client_ip(&config, proxy, &h), "127.0.0.1");
        config.trust_forwarded_for = true;
        assert_eq!(client_ip(&config, proxy, &h), "203.0.113.5");
        assert_eq!(
            client_ip(&config, stranger, &h),
            "198.51.100.9",
            "only a trusted proxy's header counts"
        );
        h.insert("x-forwarded-for", HeaderValue::from_static(""));
        assert_eq!(client_ip(&config, proxy, &h), "127.0.0.1");
        // Two header lines are one list.
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("2001:db8:0:7::42"),
        );
        assert_eq!(client_ip(&config, proxy, &h), "2001:db8:0:7::/64");
    }

    #[test]
    fn the_preview_origin_is_the_clients_host_on_the_preview_port() {
        let mut config = Config::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost:8080"));
        assert_eq!(preview_origin(&config, &h), "http://localhost:8081");
        h.insert(header::HOST, HeaderValue::from_static("pg.example.org"));
        assert_eq!(preview_origin(&config, &h), "http://pg.example.org:8081");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(preview_origin(&config, &h), "http://[::1]:8081");
        // Nothing usable in the header: the listener's own address.
        h.insert(header::HOST, HeaderValue::from_static("evil/x:80"));
        assert_eq!(preview_origin(&config, &h), "http://127.0.0.1:8081");
        h.remove(header::HOST);
        assert_eq!(preview_origin(&config, &h), "http://127.0.0.1:8081");
        config.preview_listen = "0.0.0.0:80".parse().unwrap();
        assert_eq!(preview_origin(&config, &h), "http://localhost");
        config.preview_public_url = "https://preview.example.com/".into();
        h.insert(header::HOST, HeaderValue::from_static("localhost:8080"));
        assert_eq!(preview_origin(&config, &h), "https://preview.example.com");
    }

    #[test]
    fn bearer_needs_the_scheme() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  tok "),
        );
        assert_eq!(bearer(&h), Some("tok"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic tok"));
        assert_eq!(bearer(&h), None);
    }
}
