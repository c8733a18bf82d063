//! Uploads without a `Content-Length`, spooled to a file so memory stays
//! bounded.
//!
//! Such a body may turn out larger than `max_upload_bytes`, and a refused
//! upload must write nothing into the node, so it cannot stream straight
//! through. It used to be buffered whole in memory (64 MiB per request by
//! default); now it goes to an unnamed file under the data directory, the
//! limit checked as it is written, and is then streamed from there with the
//! size known. The file is unlinked as soon as it is open for reading, so
//! nothing is left on disk whatever happens to the request.

use std::io;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::runtime::ByteStream;

/// Size of one read from the spool file.
const READ_CHUNK: usize = 64 * 1024;

/// Why a body could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the body is over the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the body: {0}")]
    Body(String),
    #[error("spool file: {0}")]
    Io(#[from] io::Error),
}

/// Writes `body` to a new file in `dir` (created if missing), at most `limit`
/// bytes; returns its size and a stream of its bytes.
pub async fn spool<E: std::fmt::Display>(
    body: impl Stream<Item = Result<Bytes, E>>,
    dir: &Path,
    limit: u64,
) -> Result<(u64, ByteStream), SpoolError> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("upload-{:016x}", rand::random::<u64>()));
    let written = write_capped(body, &path, limit).await;
    let opened = match written {
        Ok(size) => tokio::fs::File::open(&path).await.map(|f| (size, f)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    // Unlinked now: the open file lives on until the stream is dropped.
    let _ = tokio::fs::remove_file(&path).await;
    let (size, file) = opened?;
    let stream = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        match file.read_buf(&mut buf).await? {
            0 => Ok(None),
            _ => Ok(Some((buf.freeze(), file))),
        }
    });
    Ok((size, Box::pin(stream)))
}

async fn write_capped<E: std::fmt::Display>(
    body: impl Stream<Item = Result<Bytes, E>>,
    path: &Path,
    limit: u64,
) -> Result<u64, SpoolError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await?;
    let mut size = 0u64;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| SpoolError::Body(e.to_string()))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(SpoolError::TooLarge(limit));
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    fn body(chunks: usize, len: usize) -> impl Stream<Item = Result<Bytes, io::Error>> {
        futures_util::stream::iter((0..chunks).map(move |i| Ok(Bytes::from(vec![i as u8; len]))))
    }

    fn dir(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("pg-spool-{name}-{}", std::process::id()))
    }

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    #[tokio::test]
    async fn a_body_under_the_limit_comes_back_whole_and_leaves_no_file() {
        let dir = dir("ok");
        let (size, stream) = spool(body(40, 100_000), &dir, 4_000_000).await.unwrap();
        assert_eq!(size, 4_000_000);
        assert_eq!(entries(&dir), 0, "unlinked once open");
        let bytes: Vec<Bytes> = stream.try_collect().await.unwrap();
        let all: Vec<u8> = bytes.concat();
        assert_eq!(all.len(), 4_000_000);
        assert!(all[..100_000].iter().all(|b| *b == 0));
        assert!(all[3_900_000..].iter().all(|b| *b == 39));
        assert!(
            bytes.iter().all(|b| b.len() <= READ_CHUNK),
            "read in chunks"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_leaves_no_file() {
        let dir = dir("over");
        let err = spool(body(41, 100_000), &dir, 4_000_000)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, SpoolError::TooLarge(4_000_000)), "{err}");
        assert_eq!(entries(&dir), 0);
    }

    #[tokio::test]
    async fn a_broken_body_leaves_no_file() {
        let dir = dir("broken");
        let broken = futures_util::stream::iter([
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("client went away")),
        ]);
        let err = spool(broken, &dir, 100).await.err().unwrap();
        assert!(matches!(err, SpoolError::Body(_)), "{err}");
        assert_eq!(entries(&dir), 0);
    }
}
