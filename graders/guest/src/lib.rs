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

/// What most graders use: the verdict, the calls, `String`, `Vec`, `format!`.
pub mod prelude {
    pub use crate::{at, fail, node, nodes, pass, Error, Node, Result, Value, Verdict};
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

/// Makes `check` (a `fn() -> Verdict`) the component's export:
/// `playground_grader::grader!(check);` once, in the grader's `lib.rs`.
#[macro_export]
macro_rules! grader {
    ($check:path) => {
        struct PlaygroundGrader;
        impl $crate::bindings::Guest for PlaygroundGrader {
            fn check() -> $crate::bindings::Verdict {
                let verdict: $crate::Verdict = $check();
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
