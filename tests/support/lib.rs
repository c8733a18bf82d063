//! Test support: start a real `sandbox-server` process on a loopback port with
//! its own data directory ([`Server`], [`Launch`]), talk to its REST API and
//! preview over HTTP, drive terminals over real WebSockets ([`Term`]), and look
//! at Docker through its CLI ([`docker`], [`node_exec`], [`docker_objects`]).
//!
//! This is the one helper of every suite in this crate; none reaches into the
//! server's code. Everything here needs a running Docker Engine and the session
//! images. [`docker_available`] decides what to do without them: skip locally,
//! fail when `CI=true`.

mod docker;
mod server;
mod term;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use docker::{
    container, docker, docker_available, docker_cli, docker_objects, engine_socket,
    instance_objects, node_exec, node_ip, purge_instance, registry_running,
};
pub use server::{
    built_graders, error_code, free_port, metric, server_binary, shell_session, Launch, Profile,
    Server,
};
pub use term::{Term, TermEvent};

/// Returns from the calling test when [`docker_available`] says to skip.
#[macro_export]
macro_rules! require_docker {
    () => {
        if !$crate::docker_available() {
            return;
        }
    };
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f()
}
