//! Container runtimes: where session nodes run.
//!
//! The session layer talks to a [`Runtime`] only; [`docker::DockerRuntime`]
//! is the first implementation (a Kubernetes one can follow). A runtime
//! labels everything it creates with [`LABEL_SESSION`] and friends so the
//! server can find its own objects again after a restart.

pub mod docker;
pub mod subnets;

use std::net::IpAddr;
use std::pin::Pin;

use async_trait::async_trait;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite};

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

/// A shell with a terminal in a node: its id (for resize and exit code) and
/// the two directions of its PTY, raw bytes both ways.
pub struct Shell {
    pub id: String,
    pub output: Pin<Box<dyn AsyncRead + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    /// Output that arrived together with the connection set-up.
    pub initial_output: bytes::Bytes,
}

/// Output and exit code of a command run to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub code: i64,
    pub output: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error("image {0} is not available; build it with images/build.sh")]
    MissingImage(String),
    #[error("node {node} of session {session} does not exist")]
    NoSuchNode { session: String, node: String },
    #[error("terminal connection to docker: {0}")]
    Io(#[from] std::io::Error),
    #[error("docker refused to attach the terminal: {0}")]
    Attach(String),
    /// A path asked for in a node (file download or upload) does not exist.
    #[error("{0}")]
    NoSuchPath(String),
    /// The runtime refused a file operation (say, a file where a directory must be).
    #[error("{0}")]
    BadPath(String),
    /// The node is not attached to its session network (so the preview cannot reach it).
    #[error("node {node} of session {session} has no address on the session network")]
    NoAddress { session: String, node: String },
    /// Every subnet of `session_subnet_pool` is in use: no room for another session.
    #[error("no free subnet left in session_subnet_pool {0}")]
    NoFreeSubnet(String),
}

/// A tar archive going into a node; an `Err` item aborts the upload.
pub type ArchiveUpload = Pin<Box<dyn Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>>;
/// A tar archive coming out of a node; errors (no such path) arrive as the first item.
pub type ArchiveDownload = Pin<Box<dyn Stream<Item = RuntimeResult<bytes::Bytes>> + Send>>;

pub type RuntimeResult<T> = Result<T, RuntimeError>;

#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Creates the session's private network.
    async fn create_network(&self, session: &str, expires_at: i64) -> RuntimeResult<()>;
    /// Creates and starts one node on the session's network, reachable by its name.
    async fn create_node(&self, spec: &NodeSpec) -> RuntimeResult<()>;
    /// Starts a node that exists but is stopped.
    async fn start_node(&self, session: &str, node: &str) -> RuntimeResult<()>;
    /// Restarts a node: its processes are stopped (after `grace_secs`, killed)
    /// and its command runs again; its files stay.
    async fn restart_node(&self, session: &str, node: &str, grace_secs: i32) -> RuntimeResult<()>;
    /// Removes every container, network and volume of the session. Idempotent.
    async fn remove_session(&self, session: &str) -> RuntimeResult<()>;
    /// Every node container this server created, running or not.
    async fn list_nodes(&self) -> RuntimeResult<Vec<FoundNode>>;
    /// Every session id that still has a network or volume (containers or not).
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
    async fn resize_shell(&self, shell_id: &str, cols: u16, rows: u16) -> RuntimeResult<()>;
    /// The exit code of a shell, once it has exited.
    async fn shell_exit_code(&self, shell_id: &str) -> RuntimeResult<Option<i64>>;
    /// Runs a command without a terminal and waits for it (lesson checks, setup scripts).
    async fn exec(&self, session: &str, node: &str, cmd: &[String]) -> RuntimeResult<ExecOutput>;
    /// The node's address on its session network, for the web preview to
    /// connect to. Cached per node; `refresh` asks the runtime again (a
    /// restarted container may have a new address).
    async fn node_address(&self, session: &str, node: &str, refresh: bool)
        -> RuntimeResult<IpAddr>;
    /// Unpacks the tar archive `tar` into the directory `dir` of the node (file upload).
    async fn put_archive(
        &self,
        session: &str,
        node: &str,
        dir: &str,
        tar: ArchiveUpload,
    ) -> RuntimeResult<()>;
    /// A tar archive of `path` in the node, as `docker cp` makes it (file download).
    fn get_archive(&self, session: &str, node: &str, path: &str) -> ArchiveDownload;
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
    let mut sessions: std::collections::BTreeSet<String> = runtime
        .list_nodes()
        .await?
        .into_iter()
        .map(|n| n.session)
        .collect();
    sessions.extend(runtime.list_session_leftovers().await?);
    for session in &sessions {
        runtime.remove_session(session).await?;
    }
    Ok(sessions.len())
}
