//! Write a grader: a WebAssembly component the playground server runs to
//! decide whether a learner did a lesson step. A grader is a small `no_std`
//! library crate in the lesson (`graders/NAME/`), built by
//! `sandbox-server lesson build` for `wasm32-wasip2`:
//!
//! ```ignore
//! #![no_std]
//! use playground_grader::prelude::*;
//!
//! fn check() -> Verdict {
//!     let node = node("node1");
//!     match node.image("mysite:1.0") {
//!         Ok(Some(_)) => pass("mysite:1.0 is built."),
//!         Ok(None) => fail("There is no image mysite:1.0 yet."),
//!         Err(e) => fail(format!("Could not look at node1's images: {e}")),
//!     }
//! }
//!
//! playground_grader::grader!(check);
//! ```
//!
//! Graders are `no_std` (with `alloc`) so that the component imports the
//! host interface and nothing else: no WASI, so no files, clock, sockets or
//! environment. This crate supplies the allocator, the panic handler (a panic
//! traps: the check fails with "the grader crashed") and JSON
//! ([`serde_json`]). See docs/graders.md.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

pub use serde_json::{self, Value};

/// The bindings `wit-bindgen` makes from `graders/wit/grader.wit`.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "grader",
        pub_export_macro: true,
        export_macro_name: "export_grader",
        default_bindings_module: "playground_grader::bindings",
    });
}

use bindings::playground::grader::host;

/// What a grader's `check` returns: passed or not, and the message the
/// learner reads under the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub message: String,
}

/// The step is done; `message` says what the grader saw.
pub fn pass(message: impl Into<String>) -> Verdict {
    Verdict {
        passed: true,
        message: message.into(),
    }
}

/// The step is not done; `message` tells the learner what is missing.
pub fn fail(message: impl Into<String>) -> Verdict {
    Verdict {
        passed: false,
        message: message.into(),
    }
}

impl From<Verdict> for bindings::Verdict {
    fn from(v: Verdict) -> Self {
        bindings::Verdict {
            passed: v.passed,
            message: v.message,
        }
    }
}

/// Why a host call gave no answer (the WIT `error` variant, with messages
/// a learner can read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No such node, file, container, ...
    NotFound(String),
    /// The answer was larger than this many bytes.
    TooLarge(u64),
    /// The call took longer than its time limit.
    Timeout,
    /// The grader made all the calls one check may make.
    TooManyCalls,
    /// Not a request a grader may make.
    Denied(String),
    /// The engine, the node or the network failed.
    Failed(String),
}

impl From<host::Error> for Error {
    fn from(e: host::Error) -> Self {
        match e {
            host::Error::NotFound(what) => Error::NotFound(what),
            host::Error::TooLarge(limit) => Error::TooLarge(limit),
            host::Error::Timeout => Error::Timeout,
            host::Error::TooManyCalls => Error::TooManyCalls,
            host::Error::Denied(why) => Error::Denied(why),
            host::Error::Failed(why) => Error::Failed(why),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(what) => write!(f, "not found: {what}"),
            Error::TooLarge(limit) => write!(f, "the answer is larger than {limit} bytes"),
            Error::Timeout => f.write_str("the call timed out"),
            Error::TooManyCalls => f.write_str("the grader made too many calls"),
            Error::Denied(why) => write!(f, "denied: {why}"),
            Error::Failed(why) => f.write_str(why),
        }
    }
}

/// The answer of a host call.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// An HTTP answer (of [`Node::http_get`] or [`Node::docker_get`]).
pub type Response = host::HttpResponse;

/// How a command ended ([`Node::exec`]).
pub type ExecOutput = host::ExecOutput;

/// A node's facts as the engine reports them ([`nodes`]).
pub type NodeInfo = host::Node;

/// Every node of the session.
pub fn nodes() -> Vec<NodeInfo> {
    host::nodes()
}

/// A node of the session, by its name in the lesson.
pub fn node(name: &str) -> Node {
    Node {
        name: name.to_string(),
    }
}

/// A node of the session; each method is one host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
}

impl Node {
    /// The engine's inspect data of this node's container.
    pub fn inspect(&self) -> Result<Value> {
        let text = host::inspect(&self.name).map_err(Error::from)?;
        parse(text.as_bytes())
    }

    /// A file's bytes, read by the engine (no command runs in the node).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        host::read_file(&self.name, path).map_err(Error::from)
    }

    /// A file as text (invalid UTF-8 replaced), or `None` when it does not exist.
    pub fn read_text(&self, path: &str) -> Result<Option<String>> {
        match host::read_file(&self.name, path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(host::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// An HTTP GET to `port` of this node, made by the server.
    pub fn http_get(&self, port: u16, path: &str) -> Result<Response> {
        host::http_get(&self.name, port, path).map_err(Error::from)
    }

    /// Runs `argv` in the node. Learner-influenced: prefer the other calls.
    pub fn exec(&self, argv: &[&str]) -> Result<ExecOutput> {
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        host::exec(&self.name, &argv).map_err(Error::from)
    }

    /// A GET of the node's inner Docker Engine API (Docker-in-Docker
    /// nodes): the raw answer.
    pub fn docker_get(&self, path: &str) -> Result<Response> {
        host::docker_get(&self.name, path).map_err(Error::from)
    }

    /// A GET of the inner Docker Engine API as JSON: `None` on 404.
    pub fn docker_json(&self, path: &str) -> Result<Option<Value>> {
        let answer = host::docker_get(&self.name, path).map_err(Error::from)?;
        match answer.status {
            200..=299 => parse(&answer.body).map(Some),
            404 => Ok(None),
            status => Err(Error::Failed(alloc::format!(
                "the Docker daemon in {} answered {status}: {}",
                self.name,
                engine_message(&answer.body)
            ))),
        }
    }

    /// Every container of the inner daemon, running or not
    /// (`/containers/json?all=1`).
    pub fn containers(&self) -> Result<Vec<Value>> {
        self.list("/containers/json?all=1")
    }

    /// A container of the inner daemon by name or id (its inspect data), or `None`.
    pub fn container(&self, name: &str) -> Result<Option<Value>> {
        self.docker_json(&alloc::format!("/containers/{}/json", escape(name)))
    }

    /// An image of the inner daemon by reference (`mysite:1.0`), or `None`.
    pub fn image(&self, reference: &str) -> Result<Option<Value>> {
        self.docker_json(&alloc::format!("/images/{}/json", escape(reference)))
    }

    /// Every image of the inner daemon.
    pub fn images(&self) -> Result<Vec<Value>> {
        self.list("/images/json")
    }

    /// A network of the inner daemon by name or id, or `None`.
    pub fn network(&self, name: &str) -> Result<Option<Value>> {
        self.docker_json(&alloc::format!("/networks/{}", escape(name)))
    }

    /// Every network of the inner daemon.
    pub fn networks(&self) -> Result<Vec<Value>> {
        self.list("/networks")
    }

    /// Every Swarm service (the daemon must be a Swarm manager).
    pub fn services(&self) -> Result<Vec<Value>> {
        self.list("/services")
    }

    /// Every task of the Swarm.
    pub fn tasks(&self) -> Result<Vec<Value>> {
        self.list("/tasks")
    }

    /// Every node of the Swarm (the daemon must be a Swarm manager).
    pub fn swarm_nodes(&self) -> Result<Vec<Value>> {
        self.list("/nodes")
    }

    /// The daemon's `/info` (Swarm state under `Swarm`).
    pub fn info(&self) -> Result<Value> {
        self.docker_json("/info")?
            .ok_or_else(|| Error::NotFound("/info".to_string()))
    }

    /// A file of an image of the inner daemon (`image` is its inspect data,
    /// from [`Node::image`]), read from the image's layers in the daemon's
    /// storage with [`Node::read_file`]: no container runs. The layers are
    /// the directories of `GraphDriver/Data` (`UpperDir`, then each of
    /// `LowerDir`), as `overlay2` and `fuse-overlayfs` lay them out; the
    /// topmost layer that has the file wins. `None` when no layer has it.
    /// One host call per layer looked at.
    pub fn image_file(&self, image: &Value, path: &str) -> Result<Option<Vec<u8>>> {
        let data = at(image, "GraphDriver/Data");
        let Some(upper) = at(data, "UpperDir").as_str() else {
            let driver = at(image, "GraphDriver/Name").as_str().unwrap_or("unknown");
            return Err(Error::Failed(alloc::format!(
                "the Docker daemon in {} stores images with the {driver} driver, whose layers \
                 a grader cannot read (overlay2 is needed)",
                self.name
            )));
        };
        let lower = at(data, "LowerDir").as_str().unwrap_or("");
        let path = path.trim_start_matches('/');
        for dir in core::iter::once(upper).chain(lower.split(':').filter(|d| !d.is_empty())) {
            match host::read_file(&self.name, &alloc::format!("{dir}/{path}")) {
                Ok(bytes) => return Ok(Some(bytes)),
                Err(host::Error::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// The inner daemon's clock (`SystemTime` of `/info`), in seconds since
    /// the Unix epoch. A grader has no clock of its own (no WASI).
    pub fn daemon_clock(&self) -> Result<i64> {
        let info = self.info()?;
        let text = at(&info, "SystemTime").as_str().unwrap_or("");
        unix_seconds(text).ok_or_else(|| {
            Error::Failed(alloc::format!(
                "the Docker daemon in {} reports no usable time ({text:?})",
                self.name
            ))
        })
    }

    /// Returns when the inner daemon's clock reads `unix` (or at once when
    /// it is past): a `GET /events?until=...` that the daemon answers when
    /// that time comes, filtered on an event type nothing here makes
    /// (`config`), so the answer is empty. This is how a grader waits.
    /// A call's time limit (`grader_host_call_timeout_secs`) caps one wait.
    pub fn wait_until(&self, unix: i64) -> Result<()> {
        // filters={"type":["config"]}
        let path =
            alloc::format!("/events?until={unix}&filters=%7B%22type%22%3A%5B%22config%22%5D%7D");
        let answer = host::docker_get(&self.name, &path).map_err(Error::from)?;
        match answer.status {
            200..=299 => Ok(()),
            status => Err(Error::Failed(alloc::format!(
                "the Docker daemon in {} answered {status} to /events: {}",
                self.name,
                engine_message(&answer.body)
            ))),
        }
    }

    /// Calls `probe` until `done` accepts what it returns or about `seconds`
    /// have passed on the inner daemon's clock, waiting between tries
    /// ([`Node::wait_until`], every 2 s or `seconds / 20`, whichever is
    /// longer, so a long wait costs at most about 40 host calls besides the
    /// probes). Returns the last probe's value: the caller judges it and
    /// words the message. A probe's error ends the wait with that error.
    /// When waiting itself fails (the daemon's clock or `/events` cannot be
    /// had), the last value is returned at once: the check then judges what
    /// it saw, as without waiting.
    pub fn wait_for<T>(
        &self,
        seconds: u32,
        mut probe: impl FnMut() -> Result<T>,
        done: impl Fn(&T) -> bool,
    ) -> Result<T> {
        let value = probe()?;
        if done(&value) || seconds == 0 {
            return Ok(value);
        }
        let Ok(start) = self.daemon_clock() else {
            return Ok(value);
        };
        let step = core::cmp::max(2, seconds.div_ceil(20)) as i64;
        let mut value = value;
        let mut waited = 0i64;
        while waited < seconds as i64 {
            waited = core::cmp::min(waited + step, seconds as i64);
            if self.wait_until(start + waited).is_err() {
                return Ok(value);
            }
            value = probe()?;
            if done(&value) {
                break;
            }
        }
        Ok(value)
    }

    fn list(&self, path: &str) -> Result<Vec<Value>> {
        match self.docker_json(path)? {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(Error::Failed(alloc::format!(
                "{path} of {} is not a list",
                self.name
            ))),
            None => Ok(Vec::new()),
        }
    }
}

/// The `message` of a Docker Engine error body, else the body as text.
fn engine_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

fn parse(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Failed(alloc::format!("the answer is not JSON: {e}")))
}

/// Percent-encodes what a path segment may not hold (`/` of an image
/// reference such as `localhost:5000/mysite` stays: the Engine API takes it).
fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b':'
            | b'/'
            | b'@' => out.push(b as char),
            _ => out.push_str(&alloc::format!("%{b:02X}")),
        }
    }
    out
}

/// Seconds since the Unix epoch of an RFC 3339 time as Docker prints it
/// (`2024-05-01T10:00:00.123456789Z`, or with an offset `+02:00`); the
/// fraction is dropped. `None` when it is not such a time.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A JSON value at a `/`-separated path (`"State/Running"`), or `Null`.
pub fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    let mut here = value;
    for key in path.split('/').filter(|k| !k.is_empty()) {
        here = match here {
            Value::Object(map) => map.get(key).unwrap_or(&NULL),
            Value::Array(items) => key
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .unwrap_or(&NULL),
            _ => &NULL,
        };
    }
    here
}

/// Facts read off the inner daemon's answers: a container's inspect data
/// ([`Node::container`]) or an entry of a list ([`Node::containers`]).
pub mod docker {
    use super::{at, Value};
    use alloc::string::String;
    use alloc::vec::Vec;

    /// Whether a container's inspect data says it runs (`State/Running`).
    pub fn running(container: &Value) -> bool {
        at(container, "State/Running").as_bool() == Some(true)
    }

    /// The ports of the Docker host a container publishes, from its inspect
    /// data (`NetworkSettings/Ports`: the bindings in force while it runs)
    /// or a list entry (`Ports/*/PublicPort`).
    pub fn host_ports(container: &Value) -> Vec<u16> {
        let mut ports = Vec::new();
        if let Some(map) = at(container, "NetworkSettings/Ports").as_object() {
            for binding in map.values().filter_map(Value::as_array).flatten() {
                if let Some(port) = at(binding, "HostPort")
                    .as_str()
                    .and_then(|p| p.parse().ok())
                {
                    ports.push(port);
                }
            }
        }
        if let Some(list) = at(container, "Ports").as_array() {
            for p in list {
                if let Some(port) = at(p, "PublicPort")
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                {
                    ports.push(port);
                }
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// A container's address on a network (`NetworkSettings/Networks/NAME/IPAddress`),
    /// when it is attached to it with one.
    pub fn address_on<'a>(container: &'a Value, network: &str) -> Option<&'a str> {
        at(container, "NetworkSettings/Networks")
            .get(network)
            .and_then(|n| n.get("IPAddress"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
    }

    /// The names of a container list entry, without Docker's leading `/`.
    pub fn names(entry: &Value) -> Vec<String> {
        at(entry, "Names")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|n| String::from(n.trim_start_matches('/')))
            .collect()
    }
}

/// Text helpers for what graders compare.
pub mod text {
    /// Whether `haystack` contains `needle`, ignoring ASCII case (`grep -i`).
    pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    }

    /// `text` without trailing newlines, as the shell's `$(...)` keeps it.
    pub fn trim_newlines(text: &str) -> &str {
        text.trim_end_matches(['\n', '\r'])
    }

    /// The lines of `text` that contain `needle`, ignoring ASCII case
    /// (`grep -i needle`), trimmed and joined by newlines.
    pub fn lines_with(text: &str, needle: &str) -> alloc::string::String {
        let lines: alloc::vec::Vec<&str> = text
            .lines()
            .filter(|l| contains_ignore_case(l, needle))
            .map(str::trim)
            .collect();
        lines.join("\n")
    }
}

/// What most graders use: the verdict, the calls, `String`, `Vec`, `format!`.
pub mod prelude {
    pub use crate::text::{contains_ignore_case, lines_with, trim_newlines};
    pub use crate::{at, docker, fail, node, nodes, pass, unix_seconds, Error, Node, Result};
    pub use crate::{IntoVerdict, Value, Verdict};
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

/// What a grader's `check` may return: a [`Verdict`], or a
/// `Result<Verdict>` so that host calls can use `?` (an error fails the
/// check, saying what could not be looked at).
pub trait IntoVerdict {
    fn into_verdict(self) -> Verdict;
}

impl IntoVerdict for Verdict {
    fn into_verdict(self) -> Verdict {
        self
    }
}

impl IntoVerdict for Result<Verdict> {
    fn into_verdict(self) -> Verdict {
        self.unwrap_or_else(|e| fail(alloc::format!("The check could not look at your work: {e}")))
    }
}

/// Makes `check` (a `fn() -> Verdict` or `fn() -> Result<Verdict>`) the
/// component's export: `playground_grader::grader!(check);` once, in the
/// grader's `lib.rs`.
#[macro_export]
macro_rules! grader {
    ($check:path) => {
        struct PlaygroundGrader;
        impl $crate::bindings::Guest for PlaygroundGrader {
            fn check() -> $crate::bindings::Verdict {
                let verdict: $crate::Verdict = $crate::IntoVerdict::into_verdict($check());
                verdict.into()
            }
        }
        $crate::bindings::export_grader!(PlaygroundGrader with_types_in $crate::bindings);
    };
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    //! What a `no_std` component needs: an allocator, the canonical ABI's
    //! `cabi_realloc`, and a panic handler (a trap).

    // `memcmp`, `memcpy` and friends, which `core` calls, from the target's
    // own C library (an archive: only those functions are linked, and they
    // import nothing).
    #[link(name = "c")]
    extern "C" {}

    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }

    /// The canonical ABI's allocation entry point: where the host copies
    /// strings and lists it passes in.
    #[no_mangle]
    unsafe extern "C" fn cabi_realloc(
        old: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        use alloc::alloc::{alloc, realloc, Layout};
        if old_len == 0 {
            if new_len == 0 {
                return align as *mut u8;
            }
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-12-01T22:42:16.124210936Z"),
            Some(1_796_164_936)
        );
        assert_eq!(unix_seconds("2000-02-29T12:00:00+02:00"), Some(951_818_400));
        assert_eq!(
            unix_seconds("2000-02-29T12:00:00.5-01:30"),
            Some(951_831_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-12-01",
            "2026-13-01T00:00:00Z",
            "2026-12-01T00:00:00",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn container_facts_and_text() {
        let c: Value = serde_json::from_str(
            r#"{"State":{"Running":true},"NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"443/tcp":null},
               "Networks":{"bridge":{"IPAddress":"172.17.0.2"},"mynet":{"IPAddress":""}}}}"#,
        )
        .unwrap();
        assert!(docker::running(&c));
        assert_eq!(docker::host_ports(&c), [8080]);
        assert_eq!(docker::address_on(&c, "bridge"), Some("172.17.0.2"));
        assert_eq!(docker::address_on(&c, "mynet"), None);
        let entry: Value = serde_json::from_str(
            r#"{"Names":["/web"],"Ports":[{"PrivatePort":80,"PublicPort":8081}]}"#,
        )
        .unwrap();
        assert_eq!(docker::names(&entry), ["web"]);
        assert_eq!(docker::host_ports(&entry), [8081]);
        assert!(text::contains_ignore_case("<H1>Hi</H1>", "<h1>"));
        assert_eq!(text::trim_newlines("a\n\n"), "a");
        assert_eq!(text::lines_with("x\n  <h1>A</h1>\ny", "<H1>"), "<h1>A</h1>");
    }

    #[test]
    fn paths_pick_json_values() {
        let v: Value =
            serde_json::from_str(r#"{"State":{"Running":true},"A":[1,{"b":2}]}"#).unwrap();
        assert_eq!(at(&v, "State/Running"), &Value::Bool(true));
        assert_eq!(at(&v, "A/1/b"), &Value::from(2));
        assert_eq!(at(&v, "A/7"), &Value::Null);
    }
}
