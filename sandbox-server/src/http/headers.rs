//! Security headers of the app's listener (never of previews, which are the
//! learner's pages and keep working as they are).
//!
//! Every answer: `X-Frame-Options: SAMEORIGIN` and a CSP with
//! `frame-ancestors 'self'`, so no other origin (a preview page above all: it
//! is another origin) can frame the app and click or read through it.
//! Pages (`text/html`, the web app) get the whole policy: scripts from the
//! app's origin and the inline loader `trunk` writes into `index.html` (by its
//! SHA-256, read from the file, refreshed when the file changes), WebAssembly
//! (`'wasm-unsafe-eval'`), the app's own API and terminal sockets, styles inline
//! too (xterm.js writes `<style>` elements, the layout sets `style`), and
//! images from anywhere (lessons show remote images).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy of every answer that is not a page.
const FRAME_ANCESTORS: &str = "frame-ancestors 'self'";

/// What the middleware needs: where the web app's `index.html` is, and the
/// hashes of its inline scripts as of its last change.
pub struct AppHeaders {
    index: Option<PathBuf>,
    inline_scripts: Mutex<Option<(SystemTime, String)>>,
}

impl AppHeaders {
    /// For the web app in `static_dir` (none: only the API is served).
    pub fn new(static_dir: Option<&Path>) -> Arc<AppHeaders> {
        Arc::new(AppHeaders {
            index: static_dir.map(|d| d.join("index.html")),
            inline_scripts: Mutex::new(None),
        })
    }

    /// `'sha256-...'` of each inline script of `index.html`, space separated;
    /// read again when the file's modification time changes.
    fn inline_script_hashes(&self) -> String {
        let Some(index) = &self.index else {
            return String::new();
        };
        let Ok(modified) = std::fs::metadata(index).and_then(|m| m.modified()) else {
            return String::new();
        };
        let mut cached = self
            .inline_scripts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((at, hashes)) = cached.as_ref() {
            if *at == modified {
                return hashes.clone();
            }
        }
        let hashes = std::fs::read_to_string(index)
            .map(|html| script_hashes(&html))
            .unwrap_or_default();
        *cached = Some((modified, hashes.clone()));
        hashes
    }

    /// The policy of the app's pages, for a client that reached it as `host`.
    fn page_policy(&self, host: Option<&str>) -> String {
        let scripts = self.inline_script_hashes();
        // `'self'` covers same-origin WebSockets in CSP 3; older engines need them named.
        let sockets = host
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .map(|h| format!(" ws://{h} wss://{h}"))
            .unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{sep}{scripts}; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data: http: https:; \
             font-src 'self' data:; connect-src 'self'{sockets}; object-src 'none'; \
             base-uri 'self'; form-action 'self'; {FRAME_ANCESTORS}",
            sep = if scripts.is_empty() { "" } else { " " },
        )
    }
}

/// The middleware of the app's listener.
pub async fn app_headers(State(app): State<Arc<AppHeaders>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(req).await;
    let policy = if is_html(response.headers()) {
        app.page_policy(host.as_deref())
    } else {
        FRAME_ANCESTORS.to_owned()
    };
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"))
}

/// `'sha256-<base64>'` of the text of every `<script>` without `src` in `html`.
fn script_hashes(html: &str) -> String {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let open = &rest[..open_end];
        let body_and_more = &rest[open_end + 1..];
        let Some(close) = body_and_more.find("</script") else {
            break;
        };
        if !has_src(open) {
            let digest = Sha256::digest(&body_and_more.as_bytes()[..close]);
            let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
            hashes.push(format!("'sha256-{b64}'"));
        }
        rest = &body_and_more[close..];
    }
    hashes.join(" ")
}

/// Whether the attributes of a `<script ...` tag include `src`.
fn has_src(open_tag: &str) -> bool {
    open_tag
        .split(|c: char| c.is_ascii_whitespace())
        .any(|attr| {
            attr.eq_ignore_ascii_case("src") || attr.to_ascii_lowercase().starts_with("src=")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_allowed_by_their_hash_and_others_by_their_origin() {
        let html = "<script src=\"/x.js\" defer integrity=\"sha384-a\"></script>\n\
                    <script type=\"module\">import init from '/a.js';\nawait init();\n</script>\
                    <p>text</p><SCRIPT>other()</SCRIPT>";
        let body = "import init from '/a.js';\nawait init();\n";
        let want = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        let hashes = script_hashes(html);
        assert!(hashes.starts_with(&format!("'sha256-{want}'")), "{hashes}");
        // Tags are matched as trunk writes them (lower case); the upper-case one is not a script to us.
        assert_eq!(hashes.matches("sha256-").count(), 1, "{hashes}");
        assert_eq!(script_hashes("<p>none</p>"), "");
    }

    #[test]
    fn pages_get_the_whole_policy_and_nothing_is_framed_by_another_origin() {
        let dir = std::env::temp_dir().join(format!("pg-csp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<script>boot()</script>").unwrap();
        let app = AppHeaders::new(Some(&dir));
        let policy = app.page_policy(Some("localhost:8080"));
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"),
            "{policy}"
        );
        assert!(policy.contains("connect-src 'self' ws://localhost:8080 wss://localhost:8080;"));
        assert!(policy.ends_with("frame-ancestors 'self'"), "{policy}");
        // A host that could break out of the header is not named.
        let policy = app.page_policy(Some("x; script-src *"));
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        // Without a web app: no hash, still a valid policy.
        let api_only = AppHeaders::new(None).page_policy(None);
        assert!(
            api_only.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{api_only}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
