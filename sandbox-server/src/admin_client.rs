//! `sandbox-server admin ...`: the operator's commands against a running
//! server, over its HTTP API with the admin token. A plain HTTP/1.1 client on
//! one connection per request (the server is usually on this machine, on
//! loopback); for a server behind TLS, use the same API with curl (docs/api.md).

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Body;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use protocol::admin::AdminSessions;
use protocol::api::{ErrorBody, API_PREFIX};

/// Longest answer read.
const MAX_RESPONSE: usize = 16 << 20;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("server URL {0:?}: expected http://HOST:PORT")]
    BadUrl(String),
    #[error("cannot reach the server at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the server answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the server: {0}")]
    BadAnswer(String),
}

/// A running server and the admin token that opens it.
pub struct AdminClient {
    /// `host:port`
    authority: String,
    token: String,
}

impl AdminClient {
    /// A client of the server at `url` (`http://host:port`, no path).
    pub fn new(url: &str, token: String) -> Result<AdminClient, AdminClientError> {
        let bad = || AdminClientError::BadUrl(url.to_owned());
        let authority = url
            .trim_end_matches('/')
            .strip_prefix("http://")
            .ok_or_else(bad)?;
        if authority.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        Ok(AdminClient {
            authority: authority.to_owned(),
            token,
        })
    }

    /// `GET /admin/sessions`.
    pub async fn sessions(&self) -> Result<AdminSessions, AdminClientError> {
        let body = self.request(Method::GET, "/admin/sessions").await?;
        serde_json::from_slice(&body).map_err(|e| AdminClientError::BadAnswer(e.to_string()))
    }

    /// `DELETE /admin/sessions/{id}`.
    pub async fn end(&self, id: &str) -> Result<(), AdminClientError> {
        let id: String =
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        self.request(Method::DELETE, &format!("/admin/sessions/{id}"))
            .await
            .map(drop)
    }

    async fn request(&self, method: Method, path: &str) -> Result<Vec<u8>, AdminClientError> {
        let url = format!("http://{}{API_PREFIX}{path}", self.authority);
        let unreachable = |message: String| AdminClientError::Unreachable {
            url: url.clone(),
            message,
        };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&self.authority)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
            tokio::spawn(conn);
            let request = Request::builder()
                .method(method)
                .uri(format!("{API_PREFIX}{path}"))
                .header(hyper::header::HOST, &self.authority)
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", self.token),
                )
                .body(Body::empty())
                .map_err(|e| AdminClientError::BadUrl(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = response.status();
            let body = axum::body::to_bytes(Body::new(response.into_body()), MAX_RESPONSE)
                .await
                .map_err(|e| AdminClientError::BadAnswer(e.to_string()))?;
            Ok::<_, AdminClientError>((status, body))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))??;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " (is this the token of that server? see admin_token_file)"
            }
            _ => "",
        };
        Err(AdminClientError::Refused {
            status: status.as_u16(),
            message: format!("{message}{hint}"),
        })
    }
}

/// The sessions as a table for people: one line each, newest activity visible.
pub fn sessions_table(sessions: &AdminSessions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16}  {:<20}  {:<20}  {:<15}  {:<8}  {:<20}  {:<20}",
        "ID", "LESSON", "LEARNER", "CLIENT", "STEP", "EXPIRES", "LAST ACTIVE"
    );
    for s in &sessions.sessions {
        let learner = match (&s.learner, &s.workshop) {
            (Some(name), Some(w)) => format!("{name} ({w})"),
            _ => "-".into(),
        };
        let steps = step_cell(s);
        let _ = writeln!(
            out,
            "{:<16}  {:<20}  {:<20}  {:<15}  {:<8}  {:<20}  {:<20}",
            s.id,
            truncate(&s.lesson, 20),
            truncate(&learner, 20),
            truncate(&s.client_ip, 15),
            steps,
            s.expires_at,
            s.last_active_at
        );
    }
    let _ = write!(out, "{} live session(s)", sessions.sessions.len());
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Where the learner is: "2/5" (step 2 of 5), "done" on the finish page,
/// "2" when the lesson is gone from the catalog.
fn step_cell(s: &protocol::admin::AdminSession) -> String {
    let step = s.progress.current_step;
    match s.steps {
        0 => (step + 1).to_string(),
        steps if step >= steps => "done".into(),
        steps => format!("{}/{steps}", step + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_origins_are_taken() {
        assert!(AdminClient::new("http://127.0.0.1:8080", "t".into()).is_ok());
        assert!(AdminClient::new("http://localhost:8080/", "t".into()).is_ok());
        for bad in ["127.0.0.1:8080", "https://x", "http://", "http://a/b"] {
            assert!(AdminClient::new(bad, "t".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_table_has_a_line_per_session_and_a_total() {
        let sessions = AdminSessions { sessions: vec![] };
        let table = sessions_table(&sessions);
        assert!(table.starts_with("ID"));
        assert!(table.ends_with("0 live session(s)"));
    }

    #[test]
    fn the_step_column_says_which_step_of_how_many_or_done() {
        let session = |current_step, steps| protocol::admin::AdminSession {
            id: "s".into(),
            lesson: "l".into(),
            workshop: None,
            learner: None,
            client_ip: "127.0.0.1".into(),
            created_at: String::new(),
            expires_at: String::new(),
            last_active_at: String::new(),
            connected: 0,
            watchers: 0,
            nodes: vec![],
            progress: protocol::api::Progress {
                current_step,
                passed_steps: vec![],
            },
            steps,
        };
        assert_eq!(step_cell(&session(1, 5)), "2/5");
        assert_eq!(step_cell(&session(5, 5)), "done", "the finish page");
        assert_eq!(
            step_cell(&session(1, 0)),
            "2",
            "a lesson gone from the catalog"
        );
        let table = sessions_table(&AdminSessions {
            sessions: vec![session(5, 5)],
        });
        assert!(table.contains(" done "), "{table}");
    }
}
