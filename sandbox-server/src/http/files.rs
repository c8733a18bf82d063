//! Files in a node: `PUT /sessions/{id}/nodes/{node}/files?path=/abs/path`
//! uploads the request body as that file, `GET` with the same query downloads
//! one.
//!
//! Both go through [`Sessions::write_file`](crate::sessions::Sessions::write_file)
//! and [`Sessions::read_file`](crate::sessions::Sessions::read_file), which
//! stream; how the runtime moves the bytes (tar, on Docker) is its business.
//!
//! An upload with a `Content-Length` streams straight to Docker; one without
//! is spooled to a file first (up to `max_upload_bytes`, see [`super::spool`]),
//! so that a body that turns out too large writes nothing and memory stays
//! bounded.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{HeaderOrQuery, SessionNode};
use super::spool::{spool, SpoolError};
use super::state::AppState;
use crate::runtime::{ByteStream, NewFile};

/// Where uploads without a length are spooled, under `data_dir`.
const SPOOL_DIR: &str = "uploads";

/// Longest path accepted (Linux PATH_MAX).
const MAX_PATH: usize = 4096;

/// The file routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sessions/{id}/nodes/{node}/files",
            get(download).put(upload),
        )
        // The body is limited by `max_upload_bytes` here, not by the API's JSON limit.
        .layer(DefaultBodyLimit::disable())
}

#[derive(Deserialize)]
struct FileQuery {
    path: Option<String>,
    /// Octal permission bits of an uploaded file (default 644).
    mode: Option<String>,
}

/// What an upload answers.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Uploaded {
    pub path: String,
    pub size: u64,
    pub mode: String,
}

/// An absolute, normalised path: no `.`/`..` components, no empty ones
/// (`//`), no NUL, no trailing `/`.
pub fn check_path(path: Option<&str>) -> Result<&str, ApiError> {
    let path = path
        .ok_or_else(|| ApiError::BadRequest("missing ?path=/absolute/path/of/the/file".into()))?;
    let bad = |why: &str| Err(ApiError::BadRequest(format!("bad path {path:?}: {why}")));
    if !path.starts_with('/') {
        return bad("must be absolute (start with /)");
    }
    if path.len() > MAX_PATH || path.contains('\0') {
        return bad("too long or contains NUL");
    }
    let components: Vec<&str> = path[1..].split('/').collect();
    if path == "/" || path.ends_with('/') {
        return bad("names a directory; give a file path");
    }
    if components
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == ".." || c.len() > 255)
    {
        return bad("empty, `.` or `..` components are not allowed");
    }
    Ok(path)
}

fn parse_mode(mode: Option<&str>) -> Result<u32, ApiError> {
    match mode {
        None => Ok(0o644),
        Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| ApiError::BadRequest(format!("bad mode {m:?}: octal, as 755"))),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "file larger than the upload limit of {limit} bytes (max_upload_bytes); nothing was written"
    ))
}

/// The token may come in the query too: download links cannot send a header.
type FileNode = SessionNode<HeaderOrQuery>;

async fn upload(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    SessionNode { node, session, .. }: FileNode,
    req: Request,
) -> Result<Json<Uploaded>, ApiError> {
    let path = check_path(query.path.as_deref())?.to_owned();
    let mode = parse_mode(query.mode.as_deref())?;
    let limit = state.config.max_upload_bytes;
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let body = req.into_body().into_data_stream();
    let (size, content): (u64, ByteStream) = match length {
        Some(n) => (n, Box::pin(body.map_err(std::io::Error::other))),
        // No length: spool it to disk first, so "too large" writes nothing.
        None => spool(body, &state.config.data_dir.join(SPOOL_DIR), limit)
            .await
            .map_err(|e| match e {
                SpoolError::TooLarge(limit) => too_large(limit),
                SpoolError::Body(e) => ApiError::BadRequest(format!("reading body: {e}")),
                SpoolError::Io(e) => ApiError::Internal(format!("spooling an upload: {e}")),
            })?,
    };
    state
        .sessions
        .write_file(
            &session,
            &node,
            NewFile {
                path: path.clone(),
                mode,
                size,
                body: content,
            },
        )
        .await?;
    Ok(Json(Uploaded {
        path,
        size,
        mode: format!("{mode:o}"),
    }))
}

async fn download(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    SessionNode { node, session, .. }: FileNode,
) -> Result<Response, ApiError> {
    let path = check_path(query.path.as_deref())?.to_owned();
    let file = state.sessions.read_file(&session, &node, &path).await?;
    let filename = path.rsplit('/').next().unwrap_or("file").to_owned();
    let mut response = (StatusCode::OK, Body::from_stream(file.body)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert_eq!(check_path(Some("/root/a.txt")).unwrap(), "/root/a.txt");
        for bad in [
            "root/a", "/", "/root/", "/a//b", "/a/../b", "/a/./b", "", "/a\0b",
        ] {
            assert!(check_path(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(check_path(None).is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(parse_mode(None).unwrap(), 0o644);
        assert_eq!(parse_mode(Some("755")).unwrap(), 0o755);
        assert!(parse_mode(Some("9")).is_err());
        assert!(parse_mode(Some("77777")).is_err());
    }

    #[test]
    fn disposition_is_safe() {
        assert_eq!(
            content_disposition("a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22%2Etxt"
        );
    }
}
