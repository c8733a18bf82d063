//! The host side of `graders/wit/grader.wit`: what a grader may ask about
//! its session, answered from the runtime (the container engine), never by
//! trusting a program in a node except for `exec`, which says so. Every
//! call is counted against `max_host_calls`, its answer bounded by
//! `max_host_bytes`, and its time by `host_call_timeout` and the check's
//! deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::run::GraderContext;
use crate::runtime::{Runtime, RuntimeError, RuntimeResult};

/// Bindings generated from the WIT: the `Grader` world, its `Verdict`, and
/// the `host` interface's types and `Host` trait.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "../graders/wit",
        world: "grader",
        imports: { default: async },
        exports: { default: async },
    });
}

use bindings::playground::grader::host::{self, Error, ExecOutput, HttpResponse, Node};

/// The store's data while a grader runs.
pub(super) struct HostState {
    ctx: GraderContext,
    deadline: Instant,
    /// Host calls made so far.
    pub calls: u32,
    pub memory: MemoryLimit,
}

impl HostState {
    pub fn new(ctx: GraderContext, deadline: Instant) -> HostState {
        let memory = MemoryLimit {
            max_bytes: ctx.limits.memory_bytes,
            exceeded: false,
            peak_bytes: 0,
        };
        HostState {
            ctx,
            deadline,
            calls: 0,
            memory,
        }
    }

    /// Counts a call and runs it within its time limit.
    async fn call<T>(&mut self, work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        if self.calls >= self.ctx.limits.max_host_calls {
            return Err(Error::TooManyCalls);
        }
        self.calls += 1;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let limit = left.min(self.ctx.limits.host_call_timeout);
        tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// What a call takes into its future: the runtime, the session, and
    /// the largest answer it may read.
    fn reach(&self) -> (Arc<dyn Runtime>, String, u64) {
        (
            self.ctx.runtime.clone(),
            self.ctx.session.clone(),
            self.ctx.limits.max_host_bytes,
        )
    }

    /// `node`, when it is one of the session's.
    fn node(&self, node: &str) -> Result<String, Error> {
        if self.ctx.nodes.iter().any(|n| n == node) {
            Ok(node.to_owned())
        } else {
            Err(Error::NotFound(format!(
                "node {node} (this session has {})",
                self.ctx.nodes.join(", ")
            )))
        }
    }
}

/// The memory limit of one grader; remembers that it refused a growth, so
/// the trap that follows is reported as "too much memory".
pub(super) struct MemoryLimit {
    max_bytes: usize,
    pub exceeded: bool,
    /// The most linear memory the grader had (its memories' sizes, summed
    /// over growths: a component's one memory in practice).
    pub peak_bytes: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        20
    }

    fn tables(&self) -> usize {
        20
    }

    fn memories(&self) -> usize {
        4
    }
}

/// A runtime error in the words of the WIT `error` variant.
fn host_error(e: RuntimeError) -> Error {
    match e {
        RuntimeError::NoSuchNode { node, .. } => Error::NotFound(format!("node {node}")),
        RuntimeError::NoSuchPath(path) => Error::NotFound(path),
        RuntimeError::TooLarge(limit) => Error::TooLarge(limit),
        RuntimeError::NoAddress { node, .. } => {
            Error::Failed(format!("node {node} has no address on the session network"))
        }
        other => Error::Failed(other.to_string()),
    }
}

fn answer<T>(result: RuntimeResult<T>) -> Result<T, Error> {
    result.map_err(host_error)
}

/// The Engine API paths a grader may GET from an inner daemon: reading
/// state only (no `/exec`, nothing that changes anything). `/events` only
/// with `until=`: the daemon answers when that time comes, which is how a
/// grader, which has no clock, waits (`Node::wait_for` of the guest crate);
/// an endless stream is refused.
const DOCKER_GET_ALLOWED: &[&str] = &[
    "events",
    "_ping",
    "info",
    "version",
    "containers",
    "images",
    "networks",
    "volumes",
    "services",
    "tasks",
    "nodes",
    "swarm",
    "secrets",
    "configs",
    "system",
];

/// Checks a `docker-get` path: absolute, no `..`, no control characters,
/// an optional `/v1.NN` version prefix, then an allowed first segment.
fn docker_path(path: &str) -> Result<(), Error> {
    let denied = |why: &str| Err(Error::Denied(format!("docker-get {path:?}: {why}")));
    if !path.starts_with('/') || path.len() > 2048 {
        return denied("the path must start with / (at most 2048 bytes)");
    }
    if path.chars().any(|c| c.is_control() || c == ' ' || c == '#') {
        return denied("no spaces or control characters");
    }
    let route = path.split('?').next().unwrap_or_default();
    if route.split('/').any(|s| s == ".." || s == ".") {
        return denied("no . or .. segments");
    }
    let mut segments = route.trim_start_matches('/').split('/');
    let mut first = segments.next().unwrap_or_default();
    if first.starts_with("v1.") {
        first = segments.next().unwrap_or_default();
    }
    if !DOCKER_GET_ALLOWED.contains(&first) {
        return denied(&format!(
            "only reads of {} are allowed",
            DOCKER_GET_ALLOWED.join(", ")
        ));
    }
    if first == "system" && segments.next() != Some("df") {
        return denied("of /system only /system/df is allowed");
    }
    if first == "events" {
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let until = query.split('&').any(|kv| {
            kv.strip_prefix("until=").is_some_and(|t| {
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
        });
        if !until || segments.next().is_some() {
            return denied("/events only with until=UNIX-TIME (it answers when that time comes)");
        }
    }
    Ok(())
}

/// Checks an `http-get` path (origin form: absolute, no spaces).
fn http_path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/')
        || path.len() > 2048
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(Error::Denied(format!(
            "http-get {path:?}: the path must start with / and hold no spaces"
        )));
    }
    Ok(())
}

impl host::Host for HostState {
    async fn nodes(&mut self) -> Vec<Node> {
        let names = self.ctx.nodes.clone();
        let (runtime, session, _) = self.reach();
        let facts = self
            .call(async {
                let mut out = Vec::with_capacity(names.len());
                for name in &names {
                    let node = match runtime.inspect_node(&session, name).await {
                        Ok(f) => Node {
                            name: name.clone(),
                            image: f.image,
                            running: f.running,
                            address: f.address.map(|a| a.to_string()),
                        },
                        Err(_) => Node {
                            name: name.clone(),
                            image: String::new(),
                            running: false,
                            address: None,
                        },
                    };
                    out.push(node);
                }
                Ok(out)
            })
            .await;
        facts.unwrap_or_default()
    }

    async fn inspect(&mut self, node: String) -> Result<String, Error> {
        let node = self.node(&node)?;
        let (runtime, session, max) = self.reach();
        self.call(async move {
            let facts = answer(runtime.inspect_node(&session, &node).await)?;
            if facts.inspect_json.len() as u64 > max {
                return Err(Error::TooLarge(max));
            }
            Ok(facts.inspect_json)
        })
        .await
    }

    async fn read_file(&mut self, node: String, path: String) -> Result<Vec<u8>, Error> {
        let node = self.node(&node)?;
        if !path.starts_with('/') {
            return Err(Error::Denied(format!(
                "read-file {path:?}: the path must be absolute"
            )));
        }
        let (runtime, session, max) = self.reach();
        self.call(async move {
            let content = answer(runtime.read_node_file(&session, &node, &path, max).await)?;
            Ok(content.to_vec())
        })
        .await
    }

    async fn docker_get(&mut self, node: String, path: String) -> Result<HttpResponse, Error> {
        let node = self.node(&node)?;
        docker_path(&path)?;
        let (runtime, session, max) = self.reach();
        self.call(async move {
            let got = answer(runtime.inner_docker_get(&session, &node, &path, max).await)?;
            Ok(HttpResponse {
                status: got.status,
                body: got.body.to_vec(),
            })
        })
        .await
    }

    async fn http_get(
        &mut self,
        node: String,
        port: u16,
        path: String,
    ) -> Result<HttpResponse, Error> {
        let node = self.node(&node)?;
        http_path(&path)?;
        if port == 0 {
            return Err(Error::Denied("http-get: port 0".into()));
        }
        let (runtime, session, max) = self.reach();
        self.call(async move {
            let ip = answer(runtime.node_address(&session, &node, false).await)?;
            let stream = tokio::net::TcpStream::connect((ip, port))
                .await
                .map_err(|e| Error::Failed(format!("connecting to port {port} of {node}: {e}")))?;
            let host = format!("{node}:{port}");
            match crate::http_fetch::get(stream, &host, &path, max).await {
                Ok(got) => Ok(HttpResponse {
                    status: got.status,
                    body: got.body.to_vec(),
                }),
                Err(crate::http_fetch::FetchError::TooLarge(n)) => Err(Error::TooLarge(n)),
                Err(e) => Err(Error::Failed(format!("port {port} of {node}: {e}"))),
            }
        })
        .await
    }

    async fn exec(&mut self, node: String, argv: Vec<String>) -> Result<ExecOutput, Error> {
        let node = self.node(&node)?;
        if argv.is_empty() || argv.iter().map(|a| a.len()).sum::<usize>() > 64 * 1024 {
            return Err(Error::Denied(
                "exec: argv must be non-empty and under 64 KiB".into(),
            ));
        }
        let (runtime, session, _) = self.reach();
        self.call(async move {
            let out = answer(runtime.exec(&session, &node, &argv).await)?;
            Ok(ExecOutput {
                exit_code: out.code,
                output: out.output,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_get_reads_state_only() {
        for ok in [
            "/containers/json?all=1",
            "/v1.47/containers/web/json",
            "/images/localhost:5000/mysite:2.0/json",
            "/info",
            "/nodes",
            "/system/df",
            "/events?until=1796164936&filters=%7B%22type%22%3A%5B%22config%22%5D%7D",
        ] {
            assert!(docker_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "containers/json",
            "/events",
            "/events?since=0",
            "/events?until=",
            "/events?until=soon",
            "/events/x?until=1",
            "/containers/../exec/1/json",
            "/system/events",
            "/v1.47/exec/abc/json",
            "/containers/json?x=1 2",
            "/session",
        ] {
            assert!(matches!(docker_path(bad), Err(Error::Denied(_))), "{bad}");
        }
    }
}
