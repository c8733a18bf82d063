//! One bounded HTTP/1.1 GET over a stream the caller connected: what a
//! grader's `http-get` (a TCP connection to a node's port) and `docker-get`
//! (a dind node's inner Docker socket) send. The body is read up to a limit
//! and no further, so an answer that never ends costs at most that much.

use bytes::{Bytes, BytesMut};
use http_body_util_lite::collect_limited;
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// An answer: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Bytes,
}

/// Why a GET gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("bad request path {0:?}")]
    BadPath(String),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
}

/// Sends `GET path` with `Host: host` over `io` and reads the answer, its
/// body up to `max_bytes` (more is [`FetchError::TooLarge`]).
pub async fn get<S>(io: S, host: &str, path: &str, max_bytes: u64) -> Result<Fetched, FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = Request::get(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "playground-grader")
        .header(hyper::header::CONNECTION, "close")
        .body(String::new())
        .map_err(|_| FetchError::BadPath(path.to_owned()))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(io)).await?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let answer = async {
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = collect_limited(response.into_body(), max_bytes).await?;
        Ok(Fetched { status, body })
    }
    .await;
    driver.abort();
    answer
}

/// Reading a body frame by frame without a dependency for it.
mod http_body_util_lite {
    use super::*;
    use hyper::body::{Body, Incoming};
    use std::pin::Pin;

    pub async fn collect_limited(mut body: Incoming, max_bytes: u64) -> Result<Bytes, FetchError> {
        let mut out = BytesMut::new();
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            let Some(frame) = frame else { break };
            if let Ok(data) = frame?.into_data() {
                if (out.len() + data.len()) as u64 > max_bytes {
                    return Err(FetchError::TooLarge(max_bytes));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one canned answer on one end of a duplex pipe.
    async fn serve(answer: &'static [u8]) -> tokio::io::DuplexStream {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = server.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /x HTTP/1.1\r\n"));
            server.write_all(answer).await.unwrap();
            let _ = server.shutdown().await;
        });
        client
    }

    #[tokio::test]
    async fn reads_status_and_body() {
        let io = serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n").await;
        let got = get(io, "node1", "/x", 100).await.unwrap();
        assert_eq!(got.status, 404);
        assert_eq!(&got.body[..], b"nope\n");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let io = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789").await;
        let err = get(io, "node1", "/x", 9).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge(9)), "{err}");
    }
}
