//! Files in a node: `PUT /sessions/{id}/nodes/{node}/files?path=/abs/path`
//! uploads the request body as that file, `GET` with the same query downloads
//! one.
//!
//! Both go through Docker's archive API (bollard's `upload_to_container` and
//! `download_from_container`, what `docker cp` uses), not exec: it needs no
//! tool in the image, works on any node, and streams. The archive API speaks
//! tar, so this module writes a one-file tar around the upload as it streams
//! through, and reads the single entry out of the download.
//!
//! An upload with a `Content-Length` streams straight to Docker; one without
//! is buffered first (up to `max_upload_bytes`), so that a body that turns
//! out too large writes nothing.

use std::pin::Pin;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{HeaderOrQuery, SessionNode};
use super::state::AppState;
use crate::runtime::ArchiveDownload;

/// Tar block size.
const BLOCK: usize = 512;
/// Longest path accepted (Linux PATH_MAX).
const MAX_PATH: usize = 4096;
/// Symbolic links followed on download before giving up.
const MAX_LINKS: usize = 8;

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
    SessionNode { id, node, .. }: FileNode,
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
    let (size, content): (u64, FileBody) = match length {
        Some(n) => (n, Box::pin(body.map_err(std::io::Error::other))),
        None => {
            // No length: read it all first, so "too large" writes nothing.
            let mut buf = BytesMut::new();
            let mut body = body;
            while let Some(chunk) = body.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::BadRequest(format!("reading body: {e}")))?;
                if (buf.len() + chunk.len()) as u64 > limit {
                    return Err(too_large(limit));
                }
                buf.extend_from_slice(&chunk);
            }
            let buf = buf.freeze();
            (
                buf.len() as u64,
                Box::pin(futures_util::stream::iter([Ok(buf)])),
            )
        }
    };
    let entry = path.trim_start_matches('/');
    let tar = tar_stream(entry, mode, size, content);
    // Unpacked at `/`: the entry's missing parent directories are created.
    state
        .sessions
        .runtime()
        .put_archive(&id, &node, "/", Box::pin(tar))
        .await?;
    tracing::info!(session = %id, %node, %path, size, "file uploaded");
    Ok(Json(Uploaded {
        path,
        size,
        mode: format!("{mode:o}"),
    }))
}

type FileBody = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A tar archive holding one regular file `name` (relative) of `size` bytes.
/// An item is an error when the content is longer or shorter than `size`,
/// which aborts the upload rather than storing a wrong file.
fn tar_stream(
    name: &str,
    mode: u32,
    size: u64,
    content: FileBody,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let mut head = Vec::with_capacity(3 * BLOCK);
    if name.len() > 100 {
        // GNU long name: an `L` entry whose data is the name.
        let long = format!("{name}\0");
        head.extend_from_slice(&tar_header("././@LongLink", 0o644, long.len() as u64, b'L'));
        head.extend_from_slice(long.as_bytes());
        head.resize(head.len().next_multiple_of(BLOCK), 0);
    }
    head.extend_from_slice(&tar_header(name, mode, size, b'0'));
    let padding = (size.next_multiple_of(BLOCK as u64) - size) as usize;
    let body = content.scan(0u64, move |counted, chunk| {
        let item = chunk.and_then(|chunk| {
            *counted += chunk.len() as u64;
            if *counted > size {
                Err(std::io::Error::other("body longer than Content-Length"))
            } else if *counted == size && !chunk.is_empty() {
                // The file is complete: its padding and two zero blocks end the archive.
                let mut last = BytesMut::with_capacity(chunk.len() + padding + 2 * BLOCK);
                last.extend_from_slice(&chunk);
                last.resize(chunk.len() + padding + 2 * BLOCK, 0);
                Ok(last.freeze())
            } else {
                Ok(chunk)
            }
        });
        futures_util::future::ready(Some(item))
    });
    let body = body.take_while({
        let mut failed = false;
        move |item| {
            let go = !failed;
            failed |= item.is_err();
            futures_util::future::ready(go)
        }
    });
    // An empty file has no chunk to end the archive with.
    let end_of_empty = (size == 0).then(|| Ok(Bytes::from(vec![0u8; 2 * BLOCK])));
    futures_util::stream::iter([Ok(Bytes::from(head))])
        .chain(futures_util::stream::iter(end_of_empty))
        .chain(body)
}

/// A ustar header block.
fn tar_header(name: &str, mode: u32, size: u64, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let name = name.as_bytes();
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    let mtime = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

/// Zero-padded octal digits, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

async fn download(
    State(state): State<AppState>,
    Query(query): Query<FileQuery>,
    SessionNode { id, node, .. }: FileNode,
) -> Result<Response, ApiError> {
    let mut path = check_path(query.path.as_deref())?.to_owned();
    let runtime = state.sessions.runtime();
    for _ in 0..=MAX_LINKS {
        let archive = runtime.get_archive(&id, &node, &path);
        let (entry, rest) = read_entry(archive).await?;
        match entry.kind {
            b'0' | 0 | b'7' => {
                let filename = path.rsplit('/').next().unwrap_or("file").to_owned();
                let body = Body::from_stream(take(rest, entry.size));
                let mut response = (StatusCode::OK, body).into_response();
                let h = response.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.size));
                if let Ok(v) = HeaderValue::from_str(&content_disposition(&filename)) {
                    h.insert(header::CONTENT_DISPOSITION, v);
                }
                return Ok(response);
            }
            b'2' => {
                // A symbolic link: follow it, as `cat` would.
                let target = entry.link;
                path = if target.starts_with('/') {
                    target
                } else {
                    let dir = &path[..path.rfind('/').unwrap_or(0)];
                    format!("{dir}/{target}")
                };
                path = normalise(&path);
            }
            b'5' => {
                return Err(ApiError::BadRequest(format!(
                    "{path} is a directory; download a file"
                )))
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{path} is not a regular file"
                )))
            }
        }
    }
    Err(ApiError::BadRequest(format!(
        "{} leads through more than {MAX_LINKS} symbolic links",
        query.path.unwrap_or_default()
    )))
}

/// `a/./b/../c` -> `a/c` (for link targets).
fn normalise(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
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

/// The first file entry of a tar archive.
struct Entry {
    kind: u8,
    size: u64,
    link: String,
}

/// Reads headers (skipping pax and GNU extension entries, whose values it
/// applies) up to the first real entry. Returns it and the stream positioned
/// at its data.
async fn read_entry(mut archive: ArchiveDownload) -> Result<(Entry, TarRest), ApiError> {
    let mut buf = BytesMut::new();
    let mut long_name_link: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut pax_link: Option<String> = None;
    loop {
        fill(&mut archive, &mut buf, BLOCK).await?;
        let h = buf.split_to(BLOCK);
        if h.iter().all(|&b| b == 0) {
            return Err(ApiError::NotFound("empty archive from the node".into()));
        }
        let size = parse_octal(&h[124..136]);
        let kind = h[156];
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                let padded = (size as usize).next_multiple_of(BLOCK);
                if padded > 1 << 20 {
                    return Err(ApiError::Internal("oversized tar extension header".into()));
                }
                fill(&mut archive, &mut buf, padded).await?;
                let data = buf.split_to(padded);
                let data = &data[..size as usize];
                match kind {
                    b'x' => {
                        for (key, value) in pax_records(data) {
                            match key.as_str() {
                                "size" => pax_size = value.parse().ok(),
                                "linkpath" => pax_link = Some(value),
                                _ => {}
                            }
                        }
                    }
                    b'K' => {
                        long_name_link = Some(
                            String::from_utf8_lossy(data)
                                .trim_end_matches('\0')
                                .to_owned(),
                        )
                    }
                    _ => {}
                }
            }
            _ => {
                let link = pax_link.or(long_name_link).unwrap_or_else(|| {
                    String::from_utf8_lossy(&h[157..257])
                        .trim_end_matches('\0')
                        .to_owned()
                });
                let entry = Entry {
                    kind,
                    size: pax_size.unwrap_or(size),
                    link,
                };
                return Ok((
                    entry,
                    TarRest {
                        buffered: buf.freeze(),
                        archive,
                    },
                ));
            }
        }
    }
}

/// `"%d key=value\n"` records of a pax header.
fn pax_records(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .filter_map(|line| {
            let (_, kv) = line.split_once(' ')?;
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Octal (or GNU base-256) number field.
fn parse_octal(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        return field[1..]
            .iter()
            .fold(0u64, |n, &b| (n << 8) | u64::from(b));
    }
    let text = String::from_utf8_lossy(field);
    u64::from_str_radix(text.trim_matches(|c: char| c == '\0' || c == ' '), 8).unwrap_or(0)
}

async fn fill(archive: &mut ArchiveDownload, buf: &mut BytesMut, n: usize) -> Result<(), ApiError> {
    while buf.len() < n {
        match archive.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(e.into()),
            None => return Err(ApiError::Internal("truncated archive from the node".into())),
        }
    }
    Ok(())
}

/// The archive after an entry's header.
struct TarRest {
    buffered: Bytes,
    archive: ArchiveDownload,
}

/// The next `size` bytes of the archive, as a body stream.
fn take(rest: TarRest, size: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(
        (Some(rest.buffered), rest.archive, size),
        |(mut pending, mut archive, left)| async move {
            if left == 0 {
                return None;
            }
            let chunk = match pending.take().filter(|b| !b.is_empty()) {
                Some(b) => b,
                None => match archive.next().await {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        return Some((
                            Err(std::io::Error::other(e.to_string())),
                            (None, archive, 0),
                        ))
                    }
                    None => {
                        return Some((
                            Err(std::io::Error::other("archive ended early")),
                            (None, archive, 0),
                        ))
                    }
                },
            };
            let n = (chunk.len() as u64).min(left) as usize;
            Some((Ok(chunk.slice(..n)), (None, archive, left - n as u64)))
        },
    )
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
    fn headers_round_trip() {
        let h = tar_header("root/x.txt", 0o644, 12345, b'0');
        assert_eq!(parse_octal(&h[124..136]), 12345);
        assert_eq!(parse_octal(&h[100..108]), 0o644);
        assert_eq!(&h[..10], b"root/x.txt");
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        assert_eq!(u64::from(sum), parse_octal(&h[148..156]));
    }

    #[test]
    fn links_normalise() {
        assert_eq!(normalise("/etc/../usr/./bin/x"), "/usr/bin/x");
        assert_eq!(normalise("/a/b/../../.."), "/");
    }

    #[test]
    fn disposition_is_safe() {
        assert_eq!(
            content_disposition("a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22%2Etxt"
        );
    }
}
