//! [`Runtime`] on a Docker Engine, through bollard, except the terminal
//! stream itself, which is hijacked straight from the Engine's socket (see
//! [`hijack_exec`]): raw PTY bytes, no decoding, 64 KiB reads. Files go
//! through the Engine's archive API (`files.rs`).
//!
//! Bollard's errors stop here: they become [`RuntimeError::Backend`] (or a
//! variant with a meaning, such as a 404 becoming [`RuntimeError::NoSuchNode`]).

mod disk;
mod files;
mod inner;
mod pty;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, HostConfigCgroupnsModeEnum, Ipam,
    IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    RemoveContainerOptions, RemoveVolumeOptions, ResizeExecOptions, RestartContainerOptions,
};
use bollard::Docker;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::*;
use crate::config::{DindDockerdStart, DockerProfile, ShellPty};
use crate::subnets::{AllocError, Attempt, Ipv4Net, SubnetPool};
pub use disk::{DiskLimits, VolumeBound};

/// The host-wide registry mirror container (`scripts/setup.sh registry` starts it).
/// Every session network gets it attached under the alias [`REGISTRY_ALIAS`], so
/// nested Docker in nodes pulls from `registry:5000` even on `internal` networks.
pub const REGISTRY_CONTAINER: &str = "playground-registry";
/// The name nodes reach the registry mirror by.
pub const REGISTRY_ALIAS: &str = "registry";

/// Which Engine to use and how Docker-in-Docker nodes run on it (from
/// [`crate::config::Config`]).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub socket: PathBuf,
    pub docker_profile: DockerProfile,
    pub dind_seccomp_profile: PathBuf,
    pub network_internal: bool,
    /// Size of each node's writable layer in MiB; 0: none.
    pub node_disk_mib: u64,
    /// Size of each Docker-in-Docker volume in MiB; 0: none.
    pub dind_volume_mib: u64,
    /// Refuse to connect when a nonzero size above cannot be applied.
    pub require_disk_quota: bool,
    /// When the nested dockerd of Docker-in-Docker nodes starts.
    pub dind_dockerd_start: DindDockerdStart,
    /// Who holds the PTY of a learner's shell.
    pub shell_pty: ShellPty,
    /// The `runc` of direct shells.
    pub runc_path: PathBuf,
    /// Where direct shells' console sockets live a moment (the server's data
    /// directory's `pty/`).
    pub pty_dir: PathBuf,
}

/// What a learner's shell gets on top of the container's environment.
const SHELL_ENV: &[&str] = &[
    "TERM=xterm-256color",
    "COLORTERM=truecolor",
    "SHELL=/bin/bash",
];

pub struct DockerRuntime {
    docker: Docker,
    /// Value of [`LABEL_INSTANCE`] on everything this server creates.
    instance: String,
    socket: PathBuf,
    network_internal: bool,
    /// What `docker`-profile nodes use.
    docker_profile: DockerProfile,
    /// `seccomp=<profile JSON>` for Docker-in-Docker nodes under [`DockerProfile::Isolated`].
    dind_seccomp: Option<String>,
    /// Node addresses on their session networks, by container name (web preview).
    addresses: Mutex<HashMap<String, IpAddr>>,
    /// Container attached to every session network as `registry`; `None`: no mirror.
    registry_container: Option<String>,
    /// Where session networks get their subnets; `None`: Docker's default pools.
    subnets: Option<SubnetPool>,
    /// How much of an `exec`'s output is kept and read.
    output_limits: OutputLimits,
    /// The disk limits nodes get (those the engine can apply).
    disk: DiskLimits,
    /// When the nested dockerd of Docker-in-Docker nodes starts.
    dind_dockerd_start: DindDockerdStart,
    /// Shells whose PTY the server holds; `None`: through the Engine.
    direct_pty: Option<pty::DirectPty>,
    /// A node whose runc state was not found was reported (once).
    direct_pty_missed: std::sync::atomic::AtomicBool,
}

impl DockerRuntime {
    /// Waits (at most a minute) until container `id` is gone, while another
    /// removal of it is under way. Err(()) if it is still there then.
    async fn until_removed(&self, id: &str) -> Result<(), ()> {
        for _ in 0..300 {
            match self.docker.inspect_container(id, None).await {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(()),
                _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
        Err(())
    }

    /// Connects to the Engine on `options.socket` and negotiates the API
    /// version. Under [`DockerProfile::Isolated`] it refuses an Engine that
    /// runs without `userns-remap` (root in a node would be root on the host)
    /// and loads the Docker-in-Docker seccomp profile. It finds out which disk
    /// limits the engine can apply ([`disk`]) and logs the others (or, with
    /// `require_disk_quota`, refuses).
    pub async fn connect(instance: &str, options: &EngineOptions) -> RuntimeResult<DockerRuntime> {
        let socket = options.socket.clone();
        let unreachable = |e: bollard::errors::Error| {
            RuntimeError::Backend(format!(
                "no Docker Engine answers on {} ({e}): start the learner engine with scripts/setup.sh engine",
                socket.display()
            ))
        };
        let docker =
            Docker::connect_with_unix(&socket.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
                .map_err(unreachable)?
                .negotiate_version()
                .await
                .map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        let info = docker.info().await?;
        let mut dind_seccomp = None;
        match options.docker_profile {
            DockerProfile::Isolated => {
                let remapped = info
                    .security_options
                    .iter()
                    .flatten()
                    .any(|o| o.contains("name=userns"));
                if !remapped {
                    return Err(RuntimeError::Backend(format!(
                        "the Docker Engine on {} runs without userns-remap, so root in a node would be root on this host; \
                         start the learner engine (scripts/setup.sh engine) or, knowing that, set docker_profile = \"capabilities\" (docs/security.md)",
                        socket.display()
                    )));
                }
                dind_seccomp = Some(load_seccomp_profile(&options.dind_seccomp_profile)?);
            }
            DockerProfile::Privileged | DockerProfile::Capabilities => tracing::warn!(
                profile = ?options.docker_profile,
                "Docker-in-Docker nodes run with the {:?} profile: root in such a node is root on this host. Use docker_profile = \"isolated\" for learners you do not trust (docs/security.md)",
                options.docker_profile
            ),
        }
        let disk = Self::disk_limits(&docker, &info, instance, options).await?;
        let direct_pty = match options.shell_pty {
            ShellPty::Engine => {
                tracing::info!("shells: through the Engine (docker exec; shell_pty = \"engine\")");
                None
            }
            wanted => match pty::DirectPty::new(&options.runc_path, &options.pty_dir) {
                Ok(direct) => {
                    tracing::info!(
                        "shells: the server holds their PTYs (runc exec; shell_pty = \"{}\")",
                        if wanted == ShellPty::Auto {
                            "auto"
                        } else {
                            "direct"
                        }
                    );
                    Some(direct)
                }
                Err(e) if wanted == ShellPty::Direct => {
                    return Err(RuntimeError::Backend(format!(
                        "shell_pty = \"direct\" cannot work here: {e} (use \"auto\" or \"engine\")"
                    )))
                }
                Err(e) => {
                    tracing::info!("shells: through the Engine (docker exec), since {e}");
                    None
                }
            },
        };
        Ok(DockerRuntime {
            docker,
            instance: instance.to_owned(),
            socket,
            network_internal: options.network_internal,
            docker_profile: options.docker_profile,
            dind_seccomp,
            addresses: Mutex::new(HashMap::new()),
            registry_container: Some(REGISTRY_CONTAINER.to_owned()),
            subnets: None,
            output_limits: OutputLimits::default(),
            disk,
            dind_dockerd_start: options.dind_dockerd_start,
            direct_pty,
            direct_pty_missed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A shell whose PTY the server holds ([`pty`]); `Ok(None)` when this
    /// node cannot have one (no direct shells, or its runc state was not
    /// found): the caller goes through the Engine.
    async fn open_direct_shell(
        &self,
        session: &str,
        node: &str,
        cmd: &[String],
        cols: u16,
        rows: u16,
    ) -> RuntimeResult<Option<Shell>> {
        let Some(direct) = &self.direct_pty else {
            return Ok(None);
        };
        let no_node = || RuntimeError::NoSuchNode {
            session: session.to_owned(),
            node: node.to_owned(),
        };
        let container = match self
            .docker
            .inspect_container(&container_name(session, node), None)
            .await
        {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Err(no_node()),
            r => r?,
        };
        let state = container.state.unwrap_or_default();
        let (Some(id), Some(pid), Some(true)) = (container.id, state.pid, state.running) else {
            return Err(no_node());
        };
        // A node that is there and running whose direct shell fails (runc
        // refused, or timed out on a saturated machine) still gets a shell:
        // through the Engine, as before, with the reason in the log.
        let shell = match direct
            .open(&id, pid, cmd, SHELL_ENV, "/root", (cols, rows))
            .await
        {
            Ok(shell) => shell,
            Err(e) => {
                tracing::warn!(
                    session,
                    node,
                    "a direct shell failed, so this one goes through the Engine: {e}"
                );
                return Ok(None);
            }
        };
        if shell.is_none()
            && !self
                .direct_pty_missed
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(session, node, "no runc state found for this node's container: its shells (and any others like it) go through the Engine");
        }
        Ok(shell)
    }

    /// The disk limits of `options` this engine can apply; logs what it applies and
    /// what it cannot (an error instead, with `require_disk_quota`).
    async fn disk_limits(
        docker: &Docker,
        info: &bollard::models::SystemInfo,
        instance: &str,
        options: &EngineOptions,
    ) -> RuntimeResult<DiskLimits> {
        let (node, volume) = (options.node_disk_mib, options.dind_volume_mib);
        if node == 0 && volume == 0 {
            tracing::info!(
                "disk: node_disk_mib and dind_volume_mib are 0: nodes' disk use is not limited"
            );
            return Ok(DiskLimits::default());
        }
        let support = disk::probe(docker, info, instance, node > 0, volume > 0).await;
        let (limits, missing) = disk::plan(node, volume, &support);
        if options.require_disk_quota && !missing.is_empty() {
            return Err(RuntimeError::Backend(format!(
                "require_disk_quota is set and the Docker Engine on {} cannot apply every disk limit: {} (docs/security.md, \"Disk\")",
                options.socket.display(),
                missing.join("; ")
            )));
        }
        for why in &missing {
            tracing::warn!("disk: {why} (docs/security.md, \"Disk\")");
        }
        tracing::info!("disk: {}", limits.describe());
        Ok(limits)
    }

    /// Session networks take their subnets from `pool` (see [`super::subnets`]).
    pub fn with_subnet_pool(mut self, pool: Option<SubnetPool>) -> Self {
        self.subnets = pool;
        self
    }

    pub fn with_output_limits(mut self, limits: OutputLimits) -> Self {
        self.output_limits = limits;
        self
    }

    /// Creates the network `request` describes on a free block of `pool`
    /// ([`SubnetPool::allocate`]): concurrent creations of this server lease
    /// different blocks; a block another server took between the listing and
    /// the creation is refused by Docker ([`is_subnet_conflict`]) and another
    /// one is tried.
    async fn create_network_in_pool(
        &self,
        pool: &SubnetPool,
        request: impl Fn(Option<Ipam>) -> NetworkCreateRequest,
    ) -> RuntimeResult<()> {
        let create = |block: Ipv4Net| {
            let ipam = Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(block.to_string()),
                    gateway: Some(block.gateway().to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            let network = request(Some(ipam));
            async move {
                match self.docker.create_network(network).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_subnet_conflict(&e) => {
                        tracing::debug!("{block} was taken meanwhile: {e}");
                        Err(Attempt::Conflict)
                    }
                    Err(e) => Err(Attempt::Failed(RuntimeError::from(e))),
                }
            }
        };
        match pool.allocate(|| self.taken_subnets(), create).await {
            Ok(_) => Ok(()),
            Err(AllocError::Full) => Err(RuntimeError::NoFreeSubnet(pool.pool().to_string())),
            Err(AllocError::Contended) => {
                Err(RuntimeError::SubnetsContended(pool.pool().to_string()))
            }
            Err(AllocError::Failed(e)) => Err(e),
        }
    }

    /// The IPv4 subnets of every Docker network on the host.
    async fn taken_subnets(&self) -> RuntimeResult<Vec<Ipv4Net>> {
        let networks = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await?;
        Ok(networks
            .iter()
            .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
            .flatten()
            .filter_map(|c| c.subnet.as_deref()?.parse().ok())
            .collect())
    }

    /// Which container to attach to session networks as the registry mirror
    /// (default [`REGISTRY_CONTAINER`]); `None` attaches nothing.
    pub fn with_registry_container(mut self, container: Option<String>) -> Self {
        self.registry_container = container;
        self
    }

    fn addresses(&self) -> std::sync::MutexGuard<'_, HashMap<String, IpAddr>> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches the registry mirror to a session network. A missing registry
    /// container is normal (not set up); sessions work without it.
    async fn connect_registry(&self, session: &str) {
        let Some(registry) = &self.registry_container else {
            return;
        };
        let result = self
            .docker
            .connect_network(
                &network_name(session),
                NetworkConnectRequest {
                    container: registry.clone(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(vec![REGISTRY_ALIAS.to_owned()]),
                        ..Default::default()
                    }),
                },
            )
            .await;
        match result {
            Ok(()) => {}
            // Another Docker-in-Docker node of the session attached it first.
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if message.contains("already exists") => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => tracing::debug!(
                "no {registry} container: session {session} has no registry mirror (scripts/setup.sh registry)"
            ),
            Err(e) => tracing::warn!(session, "attaching the registry mirror {registry}: {e}"),
        }
    }

    fn labels(&self, session: &str, expires_at: i64) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_INSTANCE.to_owned(), self.instance.clone()),
            (LABEL_SESSION.to_owned(), session.to_owned()),
            (LABEL_EXPIRES.to_owned(), expires_at.to_string()),
        ])
    }

    /// Docker filter for this instance's objects, of one session or all.
    fn filter(&self, session: Option<&str>) -> HashMap<String, Vec<String>> {
        let mut labels = vec![format!("{LABEL_INSTANCE}={}", self.instance)];
        if let Some(s) = session {
            labels.push(format!("{LABEL_SESSION}={s}"));
        }
        HashMap::from([("label".to_owned(), labels)])
    }

    fn docker_volume(session: &str, node: &str) -> String {
        format!("pg-{session}-{node}-docker")
    }

    /// The host config of a node: base nodes keep a few capabilities (their
    /// image's `io.playground.capabilities`, or [`DEFAULT_CAPABILITIES`]);
    /// Docker-in-Docker nodes get what `dockerd` needs under `docker_profile`.
    fn host_config(&self, spec: &NodeSpec, image_labels: &HashMap<String, String>) -> HostConfig {
        let mut hc = HostConfig {
            memory: Some(spec.limits.memory_bytes),
            // Equal to memory: no swap on top of it.
            memory_swap: Some(spec.limits.memory_bytes),
            nano_cpus: Some(spec.limits.nano_cpus),
            pids_limit: Some(spec.limits.pids),
            storage_opt: self.disk.storage_opt(),
            init: Some(true),
            network_mode: Some(network_name(&spec.session)),
            security_opt: Some(vec!["no-new-privileges".into()]),
            // On an internal network no outside name resolves, and Docker's
            // embedded DNS lets such queries time out rather than fail: with
            // the resolver's defaults every `ping example.com`, and every
            // `docker pull` in a dind node (dockerd looks up Docker Hub before
            // it asks the mirror), waits 10 to 20 s. Fail after 1 s instead.
            dns_options: self
                .network_internal
                .then(|| vec!["timeout:1".into(), "attempts:1".into()]),
            ..Default::default()
        };
        if !wants_docker(image_labels) {
            let caps = image_labels
                .get(IMAGE_LABEL_CAPABILITIES)
                .map(|c| {
                    c.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty() && s != "ALL")
                        .collect()
                })
                .unwrap_or_else(|| DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect());
            hc.cap_drop = Some(vec!["ALL".into()]);
            hc.cap_add = Some(caps);
            return hc;
        }
        // Docker-in-Docker: dockerd needs its own storage (overlay on overlay fails).
        hc.binds = Some(vec![format!(
            "{}:/var/lib/docker",
            Self::docker_volume(&spec.session, &spec.node)
        )]);
        // A fresh /run per start: no stale dockerd or containerd pid files.
        hc.tmpfs = Some(HashMap::from([("/run".into(), String::new())]));
        match self.docker_profile {
            DockerProfile::Isolated => {
                // Every capability, but of the node's user namespace (the engine
                // remaps root to an unprivileged host uid): mount, namespaces and
                // the like work on the node's own things only.
                hc.cap_add = Some(vec!["ALL".into()]);
                let seccomp = self.dind_seccomp.as_deref().unwrap_or_default();
                hc.security_opt = Some(vec![
                    "no-new-privileges".into(),
                    format!("seccomp={seccomp}"),
                    // AppArmor's docker-default forbids mount; where AppArmor
                    // is off, this changes nothing.
                    "apparmor=unconfined".into(),
                ]);
                // A nested runc mounts a fresh /proc, which the kernel refuses
                // under masked paths (`systempaths=unconfined` in the CLI; the
                // API wants empty lists). Writes to /proc/sys stay refused: the
                // files belong to the host's root, not the node's.
                hc.masked_paths = Some(Vec::new());
                hc.readonly_paths = Some(Vec::new());
                // Its own cgroup tree; the engine's runtime (runc-delegate)
                // hands the node's cgroup directories to the node's root.
                hc.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::PRIVATE);
            }
            DockerProfile::Privileged => hc.privileged = Some(true),
            DockerProfile::Capabilities => {
                hc.cap_add = Some(vec!["ALL".into()]);
                hc.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
                hc.security_opt = Some(vec![
                    "no-new-privileges".into(),
                    "seccomp=unconfined".into(),
                    "apparmor=unconfined".into(),
                ]);
                hc.masked_paths = Some(Vec::new());
                hc.readonly_paths = Some(Vec::new());
                hc.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::HOST);
                hc.binds
                    .as_mut()
                    .expect("set above")
                    .push("/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
            }
        }
        hc
    }

    /// Kills a running exec and everything it started. The Engine has no call
    /// for that, so: the exec's process id as the host sees it, translated to
    /// the node's own pid namespace (`NSpid` in `/proc/PID/status`), then a
    /// `kill` of that process group from inside the node. Scripts run under
    /// coreutils `timeout`, which leads a process group of its own; a command
    /// that leads none is killed alone.
    async fn kill_exec(&self, session: &str, node: &str, exec_id: &str) -> RuntimeResult<()> {
        let info = self.docker.inspect_exec(exec_id).await?;
        if info.running != Some(true) {
            return Ok(());
        }
        let host_pid = info
            .pid
            .filter(|p| *p > 0)
            .ok_or_else(|| RuntimeError::Backend("the exec has no process id".into()))?;
        let status = tokio::fs::read_to_string(format!("/proc/{host_pid}/status"))
            .await
            .map_err(|e| RuntimeError::Backend(format!("/proc/{host_pid}/status: {e}")))?;
        let pid = node_pid(&status).ok_or_else(|| {
            RuntimeError::Backend(format!("/proc/{host_pid}/status has no NSpid"))
        })?;
        let kill = format!("kill -KILL -- -{pid} 2>/dev/null || kill -KILL {pid}");
        let exec = self
            .docker
            .create_exec(
                &container_name(session, node),
                CreateExecOptions {
                    cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), kill]),
                    ..Default::default()
                },
            )
            .await?;
        self.docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await?;
        Ok(())
    }

    async fn create_and_start(
        &self,
        spec: &NodeSpec,
        image_labels: &HashMap<String, String>,
    ) -> Result<(), bollard::errors::Error> {
        let name = container_name(&spec.session, &spec.node);
        let mut labels = self.labels(&spec.session, spec.expires_at);
        labels.insert(LABEL_NODE.into(), spec.node.clone());
        let network = network_name(&spec.session);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.node.clone()),
            labels: Some(labels),
            env: self.node_env(image_labels),
            host_config: Some(self.host_config(spec, image_labels)),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network,
                    EndpointSettings {
                        aliases: Some(vec![spec.node.clone()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await?;
        self.docker.start_container(&name, None).await?;
        Ok(())
    }

    /// What a Docker-in-Docker node's environment tells the engine's runtime
    /// (scripts/engine/runc-delegate): delegate the node's cgroups to its root
    /// (isolated profile) and the size of its Docker volume; and its init when to
    /// start dockerd.
    fn node_env(&self, image_labels: &HashMap<String, String>) -> Option<Vec<String>> {
        if !wants_docker(image_labels) {
            return None;
        }
        let env: Vec<String> = (self.docker_profile == DockerProfile::Isolated)
            .then(|| "PLAYGROUND_DELEGATE_CGROUP=1".to_owned())
            .into_iter()
            .chain(self.disk.dind_env())
            .chain(std::iter::once(format!(
                "PLAYGROUND_DOCKERD_START={}",
                self.dind_dockerd_start.as_str()
            )))
            .collect();
        Some(env)
    }
}

impl From<bollard::errors::Error> for RuntimeError {
    fn from(e: bollard::errors::Error) -> Self {
        RuntimeError::Backend(format!("docker: {e}"))
    }
}

/// Did Docker refuse a network because its subnet overlaps an existing
/// network's? Docker 20.10 answers 403 "Pool overlaps with other one on this
/// address space" (its IPAM), or "... networks have overlapping IPv4" (the
/// bridge driver).
fn is_subnet_conflict(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { message, .. } if message.contains("overlap")
    )
}

/// A process's id in its innermost pid namespace, from its `/proc/PID/status`
/// (`NSpid:` lists it in each namespace, outermost first).
fn node_pid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Does this image ask for the `docker` profile (Docker-in-Docker)?
fn wants_docker(image_labels: &HashMap<String, String>) -> bool {
    image_labels
        .get(IMAGE_LABEL_PROFILE)
        .is_some_and(|p| p == "docker")
}

/// Reads a seccomp profile and checks it is JSON; returns it as text, the form
/// the Engine API takes (`seccomp=<JSON>`).
fn load_seccomp_profile(path: &std::path::Path) -> RuntimeResult<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        RuntimeError::Backend(format!(
            "dind_seccomp_profile {}: {e} (scripts/setup.sh engine writes it)",
            path.display()
        ))
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        RuntimeError::Backend(format!(
            "dind_seccomp_profile {}: not JSON: {e}",
            path.display()
        ))
    })?;
    if json.get("syscalls").is_none_or(|s| !s.is_array()) {
        return Err(RuntimeError::Backend(format!(
            "dind_seccomp_profile {}: not a seccomp profile (no \"syscalls\" list)",
            path.display()
        )));
    }
    // Kernel keys are counted per host user and every node's root is the same
    // one: a node allowed to make keys could use up the quota and stop every
    // other learner's containers from starting (docs/security.md).
    let allowed_keyring_call = json["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().into_iter().flatten())
        .filter_map(|name| name.as_str())
        .find(|name| KEYRING_SYSCALLS.contains(name));
    if let Some(call) = allowed_keyring_call {
        return Err(RuntimeError::Backend(format!(
            "dind_seccomp_profile {}: allows {call}, with which one learner could stop every other learner's nodes from starting; rerun scripts/setup.sh engine, which rewrites it",
            path.display()
        )));
    }
    // Compact: it travels in every Docker-in-Docker node's create request.
    Ok(json.to_string())
}

/// Tries at removing one container or network of a session before the
/// ending fails (and the sweep is left to finish it), and the pause after the
/// first failure (doubled after the second).
const REMOVE_TRIES: u32 = 3;
const REMOVE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether `e` is the Engine answering with HTTP `status`.
fn has_status(e: &bollard::errors::Error, status: u16) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code, .. } if *status_code == status)
}

/// Runs `remove` (of `what`, one object of `session`) until it is done,
/// Docker's 404 counting as done (already gone). A forced removal can fail for
/// a moment under load (a kill's exit event late, a mount still busy, a
/// network's endpoints not yet gone): a failure that is `retryable` is logged
/// and tried again, [`REMOVE_TRIES`] times in all.
async fn removing<F, Fut>(
    session: &str,
    what: &str,
    retryable: impl Fn(&bollard::errors::Error) -> bool,
    mut remove: F,
) -> Result<(), bollard::errors::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), bollard::errors::Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match remove().await {
            Ok(()) => return Ok(()),
            Err(e) if has_status(&e, 404) => return Ok(()),
            Err(e) if tries < REMOVE_TRIES && retryable(&e) => {
                tracing::warn!(session, "removing {what} failed, trying again: {e}");
                tokio::time::sleep(REMOVE_RETRY_DELAY * tries).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The kernel keyring's system calls, which a node's seccomp profile must refuse.
const KEYRING_SYSCALLS: [&str; 3] = ["keyctl", "add_key", "request_key"];

#[async_trait]
impl Runtime for DockerRuntime {
    async fn prepare_session(&self, session: &str, expires_at: i64) -> RuntimeResult<()> {
        let request = |ipam: Option<Ipam>| NetworkCreateRequest {
            name: network_name(session),
            driver: Some("bridge".into()),
            internal: Some(self.network_internal),
            labels: Some(self.labels(session, expires_at)),
            ipam,
            ..Default::default()
        };
        let started = std::time::Instant::now();
        match &self.subnets {
            None => {
                self.docker.create_network(request(None)).await?;
            }
            Some(pool) => self.create_network_in_pool(pool, request).await?,
        }
        // The Engine creates networks one at a time however many creations run
        // at once (docs/performance.md): this shows how long each waited.
        tracing::debug!(
            session,
            network_ms = started.elapsed().as_millis() as u64,
            "session network ready"
        );
        Ok(())
    }

    async fn create_node(&self, spec: &NodeSpec) -> RuntimeResult<()> {
        let image = match self.docker.inspect_image(&spec.image).await {
            Ok(image) => image,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Err(RuntimeError::MissingImage(spec.image.clone())),
            Err(e) => return Err(e.into()),
        };
        let image_labels = image.config.and_then(|c| c.labels).unwrap_or_default();
        if !wants_docker(&image_labels) {
            return Ok(self.create_and_start(spec, &image_labels).await?);
        }
        // Only nested Docker pulls through the registry mirror, so only sessions
        // with a Docker-in-Docker node get it attached, while the node starts: the
        // Engine attaches one network at a time, the largest wait of a burst of
        // creations when every session waited for it first (docs/performance.md).
        let node = async {
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(Self::docker_volume(&spec.session, &spec.node)),
                    labels: Some(self.labels(&spec.session, spec.expires_at)),
                    driver_opts: self.disk.volume_driver_opts(),
                    ..Default::default()
                })
                .await?;
            self.create_and_start(spec, &image_labels).await
        };
        let started = std::time::Instant::now();
        let registry = async {
            self.connect_registry(&spec.session).await;
            started.elapsed()
        };
        let (node, registry_took) = tokio::join!(node, registry);
        tracing::debug!(
            session = spec.session,
            registry_ms = registry_took.as_millis() as u64,
            "registry mirror attached"
        );
        Ok(node?)
    }

    async fn start_node(&self, session: &str, node: &str) -> RuntimeResult<()> {
        self.addresses().remove(&container_name(session, node));
        match self
            .docker
            .start_container(&container_name(session, node), None)
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn restart_node(&self, session: &str, node: &str, grace_secs: i32) -> RuntimeResult<()> {
        let name = container_name(session, node);
        self.addresses().remove(&name);
        self.docker
            .restart_container(
                &name,
                Some(RestartContainerOptions {
                    t: Some(grace_secs),
                    ..Default::default()
                }),
            )
            .await?;
        Ok(())
    }

    async fn remove_session(&self, session: &str) -> RuntimeResult<()> {
        let prefix = container_name(session, "");
        self.addresses()
            .retain(|name, _| !name.starts_with(&prefix));
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(self.filter(Some(session))),
                ..Default::default()
            }))
            .await?;
        let removals = containers
            .into_iter()
            .filter_map(|c| c.id)
            .map(|id| async move {
                let what = format!("node container {id}");
                let remove = || {
                    self.docker.remove_container(
                        &id,
                        Some(RemoveContainerOptions {
                            force: true,
                            v: true,
                            ..Default::default()
                        }),
                    )
                };
                // "Removal already in progress" is not tried again: it is
                // one a previous server started before it stopped (reconcile
                // at the next start), or a concurrent ending. Wait for it to
                // finish, or the network and volumes cannot go.
                match removing(session, &what, |e| !has_status(e, 409), remove).await {
                    Err(e) if has_status(&e, 409) => self.until_removed(&id).await.map_err(|()| e),
                    removed => removed,
                }
            });
        for result in futures_util::future::join_all(removals).await {
            result?;
        }
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(self.filter(Some(session))),
            }))
            .await?;
        for network in networks.into_iter().filter_map(|n| n.id) {
            // The registry mirror is not the session's: detach it, or the
            // network cannot be removed ("has active endpoints").
            if let Some(registry) = &self.registry_container {
                let _ = self
                    .docker
                    .disconnect_network(
                        &network,
                        NetworkDisconnectRequest {
                            container: registry.clone(),
                            force: Some(true),
                        },
                    )
                    .await;
            }
            // "Has active endpoints" for a moment after its containers went.
            removing(
                session,
                "the session network",
                |_| true,
                || self.docker.remove_network(&network),
            )
            .await?;
        }
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(self.filter(Some(session))),
            }))
            .await?;
        for volume in volumes.volumes.unwrap_or_default() {
            match self
                .docker
                .remove_volume(&volume.name, Some(RemoveVolumeOptions { force: true }))
                .await
            {
                Ok(())
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn list_nodes(&self) -> RuntimeResult<Vec<FoundNode>> {
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(self.filter(None)),
                ..Default::default()
            }))
            .await?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels?;
                Some(FoundNode {
                    session: labels.get(LABEL_SESSION)?.clone(),
                    node: labels.get(LABEL_NODE)?.clone(),
                    running: c.state.is_some_and(|s| s.to_string() == "running"),
                })
            })
            .collect())
    }

    async fn list_session_leftovers(&self) -> RuntimeResult<Vec<String>> {
        let mut sessions = Vec::new();
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(self.filter(None)),
            }))
            .await?;
        sessions.extend(
            networks
                .into_iter()
                .filter_map(|n| n.labels?.get(LABEL_SESSION).cloned()),
        );
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(self.filter(None)),
            }))
            .await?;
        sessions.extend(
            volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.labels.get(LABEL_SESSION).cloned()),
        );
        sessions.sort();
        sessions.dedup();
        Ok(sessions)
    }

    async fn open_shell(
        &self,
        session: &str,
        node: &str,
        cmd: &[String],
        cols: u16,
        rows: u16,
    ) -> RuntimeResult<Shell> {
        if let Some(shell) = self
            .open_direct_shell(session, node, cmd, cols, rows)
            .await?
        {
            return Ok(shell);
        }
        let exec = self
            .docker
            .create_exec(
                &container_name(session, node),
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    env: Some(SHELL_ENV.iter().map(|e| (*e).to_owned()).collect()),
                    cmd: Some(cmd.to_vec()),
                    working_dir: Some("/root".to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404 | 409,
                    ..
                } => RuntimeError::NoSuchNode {
                    session: session.to_owned(),
                    node: node.to_owned(),
                },
                e => e.into(),
            })?;
        let (stream, initial_output) = hijack_exec(&self.socket, &exec.id).await?;
        let (output, input) = stream.into_split();
        let control = ExecControl {
            docker: self.docker.clone(),
            exec_id: exec.id,
        };
        // The PTY exists once the exec started; size it before the first prompt.
        // Under a burst of starts the Engine may not know the exec's process yet
        // for a moment ("404: no such exec", seen with 100 sessions at once): try
        // again briefly, and never fail a running shell over its size, which the
        // client's resize sets anyway.
        let mut attempt = 0;
        while let Err(e) = control.resize(cols, rows).await {
            attempt += 1;
            if attempt == 5 {
                tracing::warn!(
                    session,
                    node,
                    "sizing a new shell: {e}; it keeps its size until the next resize"
                );
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
        }
        Ok(Shell {
            output: Box::pin(output),
            input: Box::pin(input),
            initial_output,
            control: Box::new(control),
        })
    }

    async fn exec(&self, session: &str, node: &str, cmd: &[String]) -> RuntimeResult<ExecOutput> {
        let exec = self
            .docker
            .create_exec(
                &container_name(session, node),
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    working_dir: Some("/root".to_owned()),
                    ..Default::default()
                },
            )
            .await?;
        let mut tail = OutputTail::new(self.output_limits);
        if let StartExecResults::Attached {
            output: mut out, ..
        } = self
            .docker
            .start_exec(&exec.id, Some(StartExecOptions::default()))
            .await?
        {
            while let Some(chunk) = out.next().await {
                if !tail.push(&chunk?.into_bytes()) {
                    // Over the cap: hang up, and stop the command.
                    tracing::warn!(
                        session,
                        node,
                        "exec output over max_script_read_bytes; stopping it"
                    );
                    drop(out);
                    if let Err(e) = self.kill_exec(session, node, &exec.id).await {
                        tracing::warn!(session, node, "stopping an abandoned exec: {e}");
                    }
                    return Ok(tail.finish(-1));
                }
            }
        }
        let code = self
            .docker
            .inspect_exec(&exec.id)
            .await?
            .exit_code
            .unwrap_or(-1);
        Ok(tail.finish(code))
    }

    async fn node_address(
        &self,
        session: &str,
        node: &str,
        refresh: bool,
    ) -> RuntimeResult<IpAddr> {
        let name = container_name(session, node);
        if !refresh {
            if let Some(ip) = self.addresses().get(&name) {
                return Ok(*ip);
            }
        }
        let info = self.inspect_node_container(session, node).await?;
        let ip = session_address(&info, session).ok_or_else(|| RuntimeError::NoAddress {
            session: session.to_owned(),
            node: node.to_owned(),
        })?;
        self.addresses().insert(name, ip);
        Ok(ip)
    }

    async fn write_file(&self, session: &str, node: &str, file: NewFile) -> RuntimeResult<()> {
        files::write_file(&self.docker, session, node, file).await
    }

    async fn read_file(
        &self,
        session: &str,
        node: &str,
        path: &str,
    ) -> RuntimeResult<FileDownload> {
        files::read_file(&self.docker, session, node, path).await
    }

    async fn read_node_file(
        &self,
        session: &str,
        node: &str,
        path: &str,
        max_bytes: u64,
    ) -> RuntimeResult<bytes::Bytes> {
        // Through the node's root as the kernel sees it (microseconds);
        // through the archive API (100-200 ms) where that cannot be used.
        let info = self.inspect_node_container(session, node).await?;
        let pid = info.state.and_then(|s| s.pid).unwrap_or(0);
        let owned = path.to_owned();
        let fast = tokio::task::spawn_blocking(move || inner::read_in_root(pid, &owned, max_bytes))
            .await
            .map_err(|e| RuntimeError::Backend(e.to_string()))?;
        match fast {
            Ok(content) => Ok(bytes::Bytes::from(content)),
            Err(inner::ReadInRoot::NotFound) => Err(RuntimeError::NoSuchPath(format!(
                "{node}: no such file or directory: {path}"
            ))),
            Err(inner::ReadInRoot::NotRegular) => Err(RuntimeError::BadPath(format!(
                "{node}: {path} is not a regular file"
            ))),
            Err(inner::ReadInRoot::TooLarge) => Err(RuntimeError::TooLarge(max_bytes)),
            Err(inner::ReadInRoot::Other(e)) => {
                tracing::debug!(node, path, "reading through the archive API: {e}");
                let file = files::read_file(&self.docker, session, node, path).await?;
                collect_file(file, max_bytes).await
            }
        }
    }

    async fn inspect_node(&self, session: &str, node: &str) -> RuntimeResult<NodeFacts> {
        let info = self.inspect_node_container(session, node).await?;
        let inspect_json = serde_json::to_string(&info)
            .map_err(|e| RuntimeError::Backend(format!("inspect data: {e}")))?;
        let state = info.state.as_ref();
        let address = session_address(&info, session);
        Ok(NodeFacts {
            image: info
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            running: state.and_then(|s| s.running).unwrap_or(false),
            address,
            inspect_json,
        })
    }

    async fn inner_docker_get(
        &self,
        session: &str,
        node: &str,
        path: &str,
        max_bytes: u64,
    ) -> RuntimeResult<crate::http_fetch::Fetched> {
        let info = self.inspect_node_container(session, node).await?;
        // Only a node of a Docker-in-Docker image waits for its daemon.
        let dind = info
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(IMAGE_LABEL_PROFILE))
            .is_some_and(|p| p == "docker");
        let pid = info.state.and_then(|s| s.pid).unwrap_or(0);
        // A daemon still starting (a fresh node) has no socket yet, or one
        // that refuses: wait for it a while, as script checks do.
        let waited = std::time::Instant::now();
        let stream = loop {
            let attempt = tokio::task::spawn_blocking(move || {
                inner::connect_in_root(pid, inner::INNER_SOCKET)
            })
            .await
            .map_err(|e| RuntimeError::Backend(e.to_string()))?;
            match attempt {
                Ok(stream) => break stream,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                    ) && dind
                        && waited.elapsed() < inner::STARTING_DAEMON_WAIT =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => {
                    return Err(RuntimeError::Backend(format!(
                        "no Docker daemon answers in {node} ({} in the node: {e})",
                        inner::INNER_SOCKET
                    )))
                }
            }
        };
        stream.set_nonblocking(true)?;
        let stream = UnixStream::from_std(stream)?;
        crate::http_fetch::get(stream, "docker", path, max_bytes)
            .await
            .map_err(|e| match e {
                crate::http_fetch::FetchError::TooLarge(n) => RuntimeError::TooLarge(n),
                e => RuntimeError::Backend(format!("the Docker daemon in {node}: {e}")),
            })
    }
}

/// A node container's address on its session's network, if it has one.
fn session_address(
    info: &bollard::models::ContainerInspectResponse,
    session: &str,
) -> Option<IpAddr> {
    info.network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .and_then(|n| n.get(&network_name(session)))
        .and_then(|endpoint| endpoint.ip_address.as_deref())
        .and_then(|ip| ip.parse::<IpAddr>().ok())
}

impl DockerRuntime {
    /// The inspect data of a node's container; 404 is [`RuntimeError::NoSuchNode`].
    async fn inspect_node_container(
        &self,
        session: &str,
        node: &str,
    ) -> RuntimeResult<bollard::models::ContainerInspectResponse> {
        self.docker
            .inspect_container(&container_name(session, node), None)
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => RuntimeError::NoSuchNode {
                    session: session.to_owned(),
                    node: node.to_owned(),
                },
                e => e.into(),
            })
    }
}

/// A shell is a Docker exec: resized and inspected by its id.
struct ExecControl {
    docker: Docker,
    exec_id: String,
}

#[async_trait]
impl ShellControl for ExecControl {
    async fn resize(&self, cols: u16, rows: u16) -> RuntimeResult<()> {
        self.docker
            .resize_exec(
                &self.exec_id,
                ResizeExecOptions {
                    h: i32::from(rows),
                    w: i32::from(cols),
                },
            )
            .await?;
        Ok(())
    }

    async fn exit_code(&self) -> RuntimeResult<Option<i64>> {
        let info = self.docker.inspect_exec(&self.exec_id).await?;
        Ok(if info.running == Some(true) {
            None
        } else {
            info.exit_code
        })
    }
}

/// Starts exec `id` attached, the way `docker exec -it` does: an HTTP/1.1
/// upgrade on the Engine's socket, after which the socket carries the PTY's
/// raw bytes both ways. Returns the socket and any output that came with the
/// response head.
async fn hijack_exec(
    socket: &std::path::Path,
    id: &str,
) -> RuntimeResult<(UnixStream, bytes::Bytes)> {
    let mut stream = UnixStream::connect(socket).await?;
    let body = r#"{"Detach":false,"Tty":true}"#;
    let request = format!(
        "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n\
         Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(4096);
    let head_end = loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(RuntimeError::Attach("docker closed the connection".into()));
        }
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(RuntimeError::Attach("response head too long".into()));
        }
    };
    let head = buf.split_to(head_end);
    let status_line = head[..]
        .split(|&b| b == b'\r')
        .next()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    // "HTTP/1.1 101 UPGRADED" (or 200 OK from older engines, then raw stream).
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status != "101" && status != "200" {
        return Err(RuntimeError::Attach(format!(
            "{status_line}: {}",
            String::from_utf8_lossy(&buf).trim()
        )));
    }
    Ok((stream, buf.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_conflicts_are_told_from_other_failures() {
        let refusal =
            |status_code: u16, message: &str| bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.to_owned(),
            };
        // What the learner engine (Docker 20.10.24) answered to a second network
        // on the same /27, created at the same moment as the first.
        assert!(is_subnet_conflict(&refusal(
            403,
            "Pool overlaps with other one on this address space"
        )));
        assert!(is_subnet_conflict(&refusal(
            403,
            "cannot create network x (br-x): conflicts with network y (br-y): networks have overlapping IPv4"
        )));
        assert!(!is_subnet_conflict(&refusal(
            500,
            "context deadline exceeded"
        )));
        assert!(!is_subnet_conflict(
            &bollard::errors::Error::RequestTimeoutError
        ));
    }

    #[test]
    fn node_pid_is_the_innermost_namespace_id() {
        let status = "Name:\ttimeout\nTgid:\t4242\nNSpid:\t4242\t17\nPPid:\t1\n";
        assert_eq!(node_pid(status), Some(17));
        assert_eq!(node_pid("NSpid:\t4242\n"), Some(4242));
        assert_eq!(node_pid("Name:\tx\n"), None);
    }

    #[test]
    fn a_seccomp_profile_must_be_json_with_a_syscalls_list() {
        let dir = std::env::temp_dir().join(format!("pg-seccomp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("profile.json");

        let err = load_seccomp_profile(&dir.join("missing.json")).unwrap_err();
        assert!(err.to_string().contains("scripts/setup.sh engine"), "{err}");

        std::fs::write(&path, "{ not json").unwrap();
        let err = load_seccomp_profile(&path).unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");

        std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#).unwrap();
        let err = load_seccomp_profile(&path).unwrap_err();
        assert!(err.to_string().contains("syscalls"), "{err}");

        // A profile written before the keyring calls were refused again.
        std::fs::write(
            &path,
            r#"{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["keyctl", "pivot_root"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let err = load_seccomp_profile(&path).unwrap_err();
        assert!(err.to_string().contains("allows keyctl"), "{err}");
        assert!(err.to_string().contains("scripts/setup.sh engine"), "{err}");

        std::fs::write(
            &path,
            "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": []\n}\n",
        )
        .unwrap();
        assert_eq!(
            load_seccomp_profile(&path).unwrap(),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}"#
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A runtime that never talks to an Engine (bollard connects lazily, but wants
    /// the socket's path to exist when the client is made).
    fn runtime(profile: DockerProfile, disk: DiskLimits) -> DockerRuntime {
        let socket = std::env::temp_dir().join(format!(
            "pg-no-engine-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&socket, b"").unwrap();
        let docker =
            Docker::connect_with_unix(&socket.to_string_lossy(), 5, bollard::API_DEFAULT_VERSION)
                .unwrap();
        std::fs::remove_file(&socket).unwrap();
        DockerRuntime {
            docker,
            instance: "t".into(),
            socket,
            network_internal: true,
            docker_profile: profile,
            dind_seccomp: Some("{}".into()),
            addresses: Mutex::new(HashMap::new()),
            registry_container: None,
            subnets: None,
            output_limits: OutputLimits::default(),
            disk,
            dind_dockerd_start: DindDockerdStart::OnDemand,
            direct_pty: None,
            direct_pty_missed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn spec() -> NodeSpec {
        NodeSpec {
            session: "s1".into(),
            node: "node1".into(),
            image: "playground/dind:latest".into(),
            expires_at: 0,
            limits: NodeLimits {
                memory_bytes: 512 << 20,
                nano_cpus: 1_000_000_000,
                pids: 512,
            },
        }
    }

    fn labels(profile: &str) -> HashMap<String, String> {
        HashMap::from([(IMAGE_LABEL_PROFILE.to_owned(), profile.to_owned())])
    }

    #[test]
    fn every_node_gets_the_writable_layer_size_when_the_engine_applies_it() {
        let disk = DiskLimits {
            writable_layer_bytes: Some(256 << 20),
            dind_volume: VolumeBound::None,
        };
        let rt = runtime(DockerProfile::Isolated, disk);
        for image in ["default", "docker"] {
            let hc = rt.host_config(&spec(), &labels(image));
            assert_eq!(
                hc.storage_opt,
                Some(HashMap::from([("size".into(), "268435456".into())])),
                "{image}"
            );
        }
        let rt = runtime(DockerProfile::Isolated, DiskLimits::default());
        assert_eq!(rt.host_config(&spec(), &labels("docker")).storage_opt, None);
    }

    #[test]
    fn dind_nodes_are_told_their_volume_size_cgroup_delegation_and_dockerd_start() {
        let disk = DiskLimits {
            writable_layer_bytes: None,
            dind_volume: VolumeBound::Runtime { mib: 1024 },
        };
        let rt = runtime(DockerProfile::Isolated, disk);
        assert_eq!(
            rt.node_env(&labels("docker")),
            Some(vec![
                "PLAYGROUND_DELEGATE_CGROUP=1".to_owned(),
                "PLAYGROUND_DOCKER_VOLUME_MIB=1024".to_owned(),
                "PLAYGROUND_DOCKERD_START=on-demand".to_owned(),
            ])
        );
        assert_eq!(rt.node_env(&labels("default")), None);
        // Other profiles: no cgroup delegation, the size still.
        let mut rt = runtime(DockerProfile::Capabilities, disk);
        rt.dind_dockerd_start = DindDockerdStart::AtStart;
        assert_eq!(
            rt.node_env(&labels("docker")),
            Some(vec![
                "PLAYGROUND_DOCKER_VOLUME_MIB=1024".to_owned(),
                "PLAYGROUND_DOCKERD_START=at-start".to_owned(),
            ])
        );
        // Docker sizes the volume itself: nothing for the runtime.
        let rt = runtime(
            DockerProfile::Capabilities,
            DiskLimits {
                writable_layer_bytes: None,
                dind_volume: VolumeBound::Docker { bytes: 1 << 30 },
            },
        );
        assert_eq!(
            rt.node_env(&labels("docker")),
            Some(vec!["PLAYGROUND_DOCKERD_START=on-demand".to_owned()])
        );
    }
}
