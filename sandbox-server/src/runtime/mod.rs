//! Container runtimes: where session nodes run.
//!
//! The session layer talks to a [`Runtime`] only, in session words (prepare a
//! session, create a node, open a shell, write a file), never in a backend's:
//! no bollard type appears in the trait or in [`RuntimeError`], shells carry
//! their own [`ShellControl`], and files move as plain byte streams (tar stays
//! inside the Docker backend). [`docker::DockerRuntime`] is the first
//! implementation (a Kubernetes one can follow); `fake::FakeRuntime` (tests
//! only) keeps everything in memory. [`connect`] is the one factory.
//!
//! A runtime labels everything it creates with [`LABEL_SESSION`] and friends
//! so the server can find its own objects again after a restart.

pub mod docker;
#[cfg(test)]
pub mod fake;
mod output;

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Config;
pub use output::{OutputLimits, OutputTail};

/// Marks every object this server created.
pub const LABEL_MANAGED: &str = "io.playground.managed";
/// Which server instance owns an object, so several playgrounds (or test
/// servers) can share one Docker host without taking each other's objects
/// for orphans.
pub const LABEL_INSTANCE: &str = "io.playground.instance";
/// The session id an object belongs to.
pub const LABEL_SESSION: &str = "io.playground.session";
/// The node name (`node1`, ...) of a container.
pub const LABEL_NODE: &str = "io.playground.node";
/// Unix seconds after which the object may be removed.
pub const LABEL_EXPIRES: &str = "io.playground.expires";
/// Image label: `default` or `docker` (needs the Docker-in-Docker privilege profile).
pub const IMAGE_LABEL_PROFILE: &str = "io.playground.profile";
/// Image label: comma-separated capabilities a `default` node keeps.
pub const IMAGE_LABEL_CAPABILITIES: &str = "io.playground.capabilities";

/// Capabilities a node keeps when its image declares none: Docker's defaults
/// without MKNOD, which learners never need.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SYS_CHROOT",
    "AUDIT_WRITE",
];

/// Resource limits of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLimits {
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids: i64,
}

/// What to create for one node of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub session: String,
    pub node: String,
    /// Full image reference.
    pub image: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub limits: NodeLimits,
}

/// A node container the runtime found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundNode {
    pub session: String,
    pub node: String,
    pub running: bool,
}

/// A shell with a terminal in a node: the two directions of its PTY (raw
/// bytes both ways) and a handle that resizes it and reads its exit code.
pub struct Shell {
    pub output: Pin<Box<dyn AsyncRead + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    /// Output that arrived together with the connection set-up.
    pub initial_output: Bytes,
    pub control: Box<dyn ShellControl>,
}

/// What a terminal does to its shell besides reading and writing: the
/// backend keeps whatever id it needs inside.
#[async_trait]
pub trait ShellControl: Send + Sync + 'static {
    /// Resizes the shell's PTY.
    async fn resize(&self, cols: u16, rows: u16) -> RuntimeResult<()>;
    /// The shell's exit code once it has exited; `None` while it runs.
    async fn exit_code(&self) -> RuntimeResult<Option<i64>>;
}

/// Output and exit code of a command run to completion (or abandoned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code; `-1` when the command was abandoned.
    pub code: i64,
    /// The tail of stdout and stderr ([`OutputLimits::keep_bytes`]), marked
    /// when cut.
    pub output: String,
    /// The command printed more than [`OutputLimits::max_bytes`]: reading
    /// stopped there and the command was left to its own timeout.
    pub abandoned: bool,
}

/// What the engine says of a node: facts a learner cannot change from
/// inside it (graders read them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// The image the node runs, as the engine names it.
    pub image: String,
    pub running: bool,
    /// Its address on the session network, while it has one.
    pub address: Option<IpAddr>,
    /// The backend's whole description of the node as JSON (on Docker,
    /// the container's inspect data).
    pub inspect_json: String,
}

/// Bytes streaming in or out of a node; an `Err` item aborts the transfer.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A file going into a node: its absolute path, permission bits and
/// content; `body` must yield exactly `size` bytes, else nothing is stored.
pub struct NewFile {
    pub path: String,
    pub mode: u32,
    pub size: u64,
    pub body: ByteStream,
}

/// A file read from a node: its size, then exactly that many bytes.
pub struct FileDownload {
    pub size: u64,
    pub body: ByteStream,
}

/// Why a runtime operation failed, in words no backend owns: a backend maps
/// its own errors into these (anything without a meaning of its own becomes
/// [`RuntimeError::Backend`]).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The backend failed in a way the session layer cannot act on.
    #[error("{0}")]
    Backend(String),
    #[error("image {0} is not available; build it with images/build.sh")]
    MissingImage(String),
    #[error("node {node} of session {session} does not exist")]
    NoSuchNode { session: String, node: String },
    #[error("terminal connection: {0}")]
    Io(#[from] std::io::Error),
    /// The backend refused to connect a terminal to a shell.
    #[error("the runtime refused to attach the terminal: {0}")]
    Attach(String),
    /// A path asked for in a node (file download or upload) does not exist.
    #[error("{0}")]
    NoSuchPath(String),
    /// The runtime refused a file operation (say, a file where a directory
    /// must be, or a download of a directory).
    #[error("{0}")]
    BadPath(String),
    /// The node is not attached to its session network (so the preview cannot reach it).
    #[error("node {node} of session {session} has no address on the session network")]
    NoAddress { session: String, node: String },
    /// Every subnet of `session_subnet_pool` is in use: no room for another session.
    #[error("no free subnet left in session_subnet_pool {0}")]
    NoFreeSubnet(String),
    /// Every block of `session_subnet_pool` tried was taken by someone else
    /// (another server sharing the pool) between listing and creating.
    #[error("every free block of session_subnet_pool {0} tried was taken by another server first")]
    SubnetsContended(String),
    /// An answer was larger than the caller's limit, in bytes.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(u64),
}

pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// Where session nodes run. Every method names a session and (where it
/// matters) a node; how a backend maps them onto its objects is its own
/// business, so a second backend (Kubernetes) can fill the same seam.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Prepares what a session's nodes share before any node exists (on
    /// Docker: its private network, with the registry mirror attached).
    /// [`RuntimeError::NoFreeSubnet`] means the host has no room for another session;
    /// [`RuntimeError::SubnetsContended`], no room at this moment.
    async fn prepare_session(&self, session: &str, expires_at: i64) -> RuntimeResult<()>;
    /// Creates and starts one node of a prepared session, reachable by its
    /// name from the session's other nodes.
    async fn create_node(&self, spec: &NodeSpec) -> RuntimeResult<()>;
    /// Starts a node that exists but is stopped.
    async fn start_node(&self, session: &str, node: &str) -> RuntimeResult<()>;
    /// Restarts a node: its processes are stopped (after `grace_secs`, killed)
    /// and its command runs again; its files stay.
    async fn restart_node(&self, session: &str, node: &str, grace_secs: i32) -> RuntimeResult<()>;
    /// Removes everything of the session (nodes and what they share). Idempotent.
    async fn remove_session(&self, session: &str) -> RuntimeResult<()>;
    /// Every node this server created, running or not.
    async fn list_nodes(&self) -> RuntimeResult<Vec<FoundNode>>;
    /// Every session id that still has shared objects (nodes or not).
    async fn list_session_leftovers(&self) -> RuntimeResult<Vec<String>>;
    /// Starts `cmd` in the node with a PTY of the given size.
    async fn open_shell(
        &self,
        session: &str,
        node: &str,
        cmd: &[String],
        cols: u16,
        rows: u16,
    ) -> RuntimeResult<Shell>;
    /// Runs a command without a terminal and waits for it (lesson checks,
    /// setup scripts). Its output is read through an [`OutputTail`] with
    /// the runtime's [`OutputLimits`]: never held whole, and no longer read
    /// past the cap.
    async fn exec(&self, session: &str, node: &str, cmd: &[String]) -> RuntimeResult<ExecOutput>;
    /// The node's address on its session network, for the web preview to
    /// connect to. Cached per node; `refresh` asks the runtime again (a
    /// restarted node may have a new address).
    async fn node_address(&self, session: &str, node: &str, refresh: bool)
        -> RuntimeResult<IpAddr>;
    /// Writes `file` into the node, creating missing parent directories.
    async fn write_file(&self, session: &str, node: &str, file: NewFile) -> RuntimeResult<()>;
    /// Reads the regular file `path` (absolute) of the node, following
    /// symbolic links as `cat` would. [`RuntimeError::NoSuchPath`] when it
    /// does not exist, [`RuntimeError::BadPath`] when it is no regular file.
    async fn read_file(&self, session: &str, node: &str, path: &str)
        -> RuntimeResult<FileDownload>;
    /// The regular file `path` of the node, whole, at most `max_bytes`
    /// ([`RuntimeError::TooLarge`] past it): what a grader reads. No program
    /// of the node runs. By default through [`Runtime::read_file`]; a
    /// backend may read faster where it can.
    async fn read_node_file(
        &self,
        session: &str,
        node: &str,
        path: &str,
        max_bytes: u64,
    ) -> RuntimeResult<Bytes> {
        let file = self.read_file(session, node, path).await?;
        collect_file(file, max_bytes).await
    }
    /// What the engine says of the node (graders' `inspect` and `nodes`).
    async fn inspect_node(&self, session: &str, node: &str) -> RuntimeResult<NodeFacts>;
    /// A GET of `path` on the Docker Engine API of the Docker daemon that
    /// runs inside the node (a Docker-in-Docker node), made by the server
    /// itself without running any program of the node; the body is read up
    /// to `max_bytes` ([`RuntimeError::TooLarge`] past it).
    async fn inner_docker_get(
        &self,
        session: &str,
        node: &str,
        path: &str,
        max_bytes: u64,
    ) -> RuntimeResult<crate::http_fetch::Fetched>;
}

/// A download's bytes, at most `max_bytes` ([`RuntimeError::TooLarge`] past it).
pub async fn collect_file(mut file: FileDownload, max_bytes: u64) -> RuntimeResult<Bytes> {
    use futures_util::StreamExt;
    if file.size > max_bytes {
        return Err(RuntimeError::TooLarge(max_bytes));
    }
    let mut out = bytes::BytesMut::with_capacity(file.size as usize);
    while let Some(chunk) = file.body.next().await {
        let chunk = chunk?;
        if (out.len() + chunk.len()) as u64 > max_bytes {
            return Err(RuntimeError::TooLarge(max_bytes));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Connects to the runtime the configuration names (today always the local
/// Docker Engine), the one way the server, `purge` and `lesson test` get theirs.
pub async fn connect(config: &Config) -> RuntimeResult<Arc<dyn Runtime>> {
    let pool = config
        .subnet_pool()
        .map_err(|e| RuntimeError::Backend(e.to_string()))?;
    let options = docker::EngineOptions {
        socket: config.engine_socket.clone(),
        docker_profile: config.docker_profile,
        dind_seccomp_profile: config.dind_seccomp_profile.clone(),
        network_internal: config.network_internal,
        node_disk_mib: config.node_disk_mib,
        dind_volume_mib: config.dind_volume_mib,
        require_disk_quota: config.require_disk_quota,
        dind_dockerd_start: config.dind_dockerd_start,
        shell_pty: config.shell_pty,
        runc_path: config.runc_path.clone(),
        pty_dir: config.data_dir.join("pty"),
    };
    let docker = docker::DockerRuntime::connect(&config.instance, &options)
        .await?
        .with_subnet_pool(pool)
        .with_output_limits(OutputLimits::of(config));
    if let Some(maxkeys) = std::fs::read_to_string("/proc/sys/kernel/keys/maxkeys")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
    {
        if let Some(warning) = key_quota_warning(maxkeys, config.max_sessions) {
            tracing::warn!("{warning}");
        }
    }
    Ok(Arc::new(docker))
}

/// Kernel keys each live session may hold: a session keyring per node and per
/// shell or check running in one (runc makes them), for a few nodes.
const KEYS_PER_SESSION: u64 = 10;

/// Why `max_sessions` may not fit in the kernel's key quota of one user
/// (`kernel.keys.maxkeys`): every learner node's root is the same host user,
/// and a container or shell that finds the quota used up does not start.
fn key_quota_warning(maxkeys: u64, max_sessions: usize) -> Option<String> {
    let wanted = max_sessions as u64 * KEYS_PER_SESSION;
    (maxkeys < wanted).then(|| {
        format!(
            "kernel.keys.maxkeys is {maxkeys}, about {} sessions' worth: beyond that, nodes and shells fail to start (\"unable to join session keyring: disk quota exceeded\"); max_sessions = {max_sessions} wants at least {wanted} (scripts/setup.sh engine raises it to 20000)",
            maxkeys / KEYS_PER_SESSION
        )
    })
}

/// Name of a node's container.
pub fn container_name(session: &str, node: &str) -> String {
    format!("pg-{session}-{node}")
}

/// Name of a session's network.
pub fn network_name(session: &str) -> String {
    format!("pg-{session}")
}

/// Removes every session of the runtime's instance (containers, networks,
/// volumes), records or not; returns how many sessions there were.
pub async fn purge(runtime: &dyn Runtime) -> RuntimeResult<usize> {
    let sessions = sessions_present(runtime).await?;
    for session in &sessions {
        runtime.remove_session(session).await?;
    }
    Ok(sessions.len())
}

/// Every session id the runtime holds objects of (nodes, or leftovers such as
/// a network or a volume), whether or not a record owns it.
pub async fn sessions_present(
    runtime: &dyn Runtime,
) -> RuntimeResult<std::collections::BTreeSet<String>> {
    let mut sessions: std::collections::BTreeSet<String> = runtime
        .list_nodes()
        .await?
        .into_iter()
        .map(|n| n.session)
        .collect();
    sessions.extend(runtime.list_session_leftovers().await?);
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linuxs_default_key_quota_is_too_small_for_the_default_max_sessions() {
        let warning = key_quota_warning(200, 40).expect("200 keys for 40 sessions");
        assert!(warning.contains("maxkeys is 200"), "{warning}");
        assert!(warning.contains("scripts/setup.sh engine"), "{warning}");
        assert_eq!(key_quota_warning(20000, 40), None);
        assert_eq!(key_quota_warning(20000, 2000), None);
        assert!(key_quota_warning(20000, 2001).is_some());
    }
}
