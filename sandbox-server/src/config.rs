//! Server configuration: one flat TOML file, every key also an environment
//! variable `PLAYGROUND_<KEY>` (upper case), and the common ones also CLI flags.
//!
//! Precedence, lowest first: built-in defaults, the TOML file, environment
//! variables, CLI flags. Every limit the server enforces lives here so an
//! operator can see and change it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client_addr::IpNet;
use crate::subnets::{Ipv4Net, SubnetPool};

/// How nodes whose image asks for the `docker` profile (Docker-in-Docker) get
/// the privileges `dockerd` needs. Only `isolated` is safe for strangers: with the
/// other two, root in a node is root on the host (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerProfile {
    /// The learner engine (`scripts/learner-engine.sh`): the engine must run with
    /// `userns-remap`, so every capability a node gets is one inside its user
    /// namespace; seccomp is `dind_seccomp_profile`, the cgroup namespace private,
    /// and the engine's runtime delegates the node's cgroups to it. The server
    /// refuses to start when the engine is not remapped.
    Isolated,
    /// `--privileged`. Host root for whoever has a shell in the node.
    Privileged,
    /// All capabilities but CAP_SYS_RESOURCE, seccomp/apparmor unconfined, the host's
    /// cgroup tree: for engines without userns-remap that refuse `--privileged`.
    /// Host root for whoever has a shell in the node.
    Capabilities,
}

/// When the Docker daemon inside a Docker-in-Docker node starts (the node image's
/// `PLAYGROUND_DOCKERD_START`, images/dind/rootfs/usr/local/bin/playground-dind-init).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DindDockerdStart {
    /// On the first connection to the node's Docker socket, as systemd's
    /// `docker.socket` does: a node nobody runs Docker in costs no dockerd and
    /// containerd (about 35 MB and a second of CPU each), and the first `docker`
    /// command waits about a second for the daemon.
    OnDemand,
    /// As the node starts, in the background.
    AtStart,
}

impl DindDockerdStart {
    /// The value the node image reads.
    pub fn as_str(self) -> &'static str {
        match self {
            DindDockerdStart::OnDemand => "on-demand",
            DindDockerdStart::AtStart => "at-start",
        }
    }
}

/// Who holds the PTY of a learner's shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShellPty {
    /// `direct` where it works (the server is root and finds runc and the
    /// Engine's runc state), else `engine`.
    Auto,
    /// The server: `runc exec --console-socket` hands it the PTY, and
    /// keystrokes and output pass no other process (the shortest path).
    Direct,
    /// The Engine: `docker exec` attach, through dockerd and the shim.
    Engine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of this playground on the Docker host: every container, network and
    /// volume is labelled with it, and only objects with this label are served,
    /// reconciled or removed. Give each server on a shared host its own.
    pub instance: String,
    /// Address the HTTP server listens on. Loopback by default: publish it with
    /// `0.0.0.0:8080` or behind a reverse proxy (README.md, "Publishing").
    pub listen: SocketAddr,
    /// Address of the preview listener: previews (`/preview/...` and host mode) are
    /// served here only, on an origin of their own, never on `listen` (a learner's page
    /// must not run on the app's origin). Another port is another origin: no DNS needed.
    pub preview_listen: SocketAddr,
    /// Base URL preview links point to when the preview listener is published under
    /// another name (a reverse proxy, a domain of its own), e.g.
    /// `https://preview.example.com`: scheme, host and optional port, no path. Empty:
    /// links are built from the request's `Host` with the port of `preview_listen`.
    pub preview_public_url: String,
    /// Directory for the session database (`sessions.sqlite3`).
    pub data_dir: PathBuf,
    /// Directory with the built web app (`trunk build` output); none serves only the API.
    pub static_dir: Option<PathBuf>,
    /// Directories with lessons: each is one lesson or holds one lesson per sub-directory.
    pub lessons_dirs: Vec<PathBuf>,
    /// Docker image names without a `/` or `:` (as `base`) become `<image_prefix><name>:latest`.
    pub image_prefix: String,

    /// A session is removed this long after it was created.
    pub session_lifetime_secs: u64,
    /// A session with no terminal connected for this long is removed.
    pub idle_timeout_secs: u64,
    /// Learners get a notice in their terminals this long before their session expires.
    pub expiry_warning_secs: u64,
    /// How often expiry and idleness are checked.
    pub reap_interval_secs: u64,
    /// How often containers, networks and volumes of this instance that no live
    /// session owns (and no creation under way) are removed.
    pub sweep_interval_secs: u64,

    /// Live sessions at most; beyond it `POST /sessions` answers 503 with `Retry-After`.
    pub max_sessions: usize,
    /// Live sessions per client IP at most; beyond it 429.
    pub max_sessions_per_ip: usize,
    /// Sessions a client may create per minute (a token bucket of this size); beyond it 429.
    pub session_creations_per_minute: u32,
    /// Session creations (network, nodes, setup, first shells) running at once at most;
    /// more wait their turn, first come first served. Starting containers is CPU-bound
    /// in the Engine, so a burst started all at once finishes all at once, late; in turns
    /// the first learners get their prompt early and the burst ends no later.
    pub max_concurrent_creations: usize,
    /// Connections open at once at most (WebSockets included); more wait to be accepted.
    pub max_connections: usize,
    /// A connection whose request headers take longer than this is closed.
    pub header_read_timeout_secs: u64,
    /// Take the client IP from `X-Forwarded-For` when the peer is in `trusted_proxies`:
    /// the rightmost entry not added by a trusted proxy.
    pub trust_forwarded_for: bool,
    /// Networks of the reverse proxies whose `X-Forwarded-For` entries are believed.
    pub trusted_proxies: Vec<String>,
    /// `Retry-After` seconds sent with 503 when the server is full.
    pub retry_after_secs: u64,

    /// Memory per node in MiB; swap is not allowed on top of it.
    pub node_memory_mib: u64,
    /// CPUs per node (fractions allowed).
    pub node_cpus: f64,
    /// Processes per node at most.
    pub node_pids: i64,
    /// Size of each node's writable layer in MiB (Docker's `storage_opt size`); 0: no limit.
    /// Applied only where the engine can (overlay2 on XFS with project quotas).
    pub node_disk_mib: u64,
    /// Size of the `/var/lib/docker` volume of each Docker-in-Docker node in MiB; 0: no
    /// limit. Docker's volume `size` where the engine has project quotas, else the learner
    /// engine's runtime (a file system of this size per volume).
    pub dind_volume_mib: u64,
    /// Refuse to start when a nonzero `node_disk_mib` or `dind_volume_mib` cannot be
    /// applied on this engine (otherwise: a warning, and that limit is not applied).
    pub require_disk_quota: bool,
    /// When the Docker daemon inside a Docker-in-Docker node starts: `on-demand` (on
    /// first use) or `at-start`.
    pub dind_dockerd_start: DindDockerdStart,
    /// Who holds the PTY of a learner's shell: `auto`, `direct` or `engine`.
    pub shell_pty: ShellPty,
    /// The `runc` the `direct` shells are started with (the Engine's runtime).
    pub runc_path: PathBuf,
    /// The Docker Engine's API socket: the learner engine by default, never the
    /// host's main daemon (scripts/learner-engine.sh).
    pub engine_socket: PathBuf,
    /// Privilege profile for `docker`-profile nodes.
    pub docker_profile: DockerProfile,
    /// Seccomp profile (JSON) of Docker-in-Docker nodes under the `isolated` profile
    /// (Docker's default plus the system calls a nested dockerd needs).
    pub dind_seccomp_profile: PathBuf,
    /// Session networks get no route out (nodes reach each other only).
    pub network_internal: bool,
    /// IPv4 network session networks take a /27 each from (2048 sessions in a /16);
    /// empty: Docker's default pools, which hold only about 30 networks.
    pub session_subnet_pool: String,
    /// Refuse to start unless the iptables chain `PLAYGROUND-INPUT` drops traffic from
    /// `session_subnet_pool` to the host (`scripts/setup.sh firewall`); see docs/security.md.
    pub require_host_firewall: bool,

    /// Largest WebSocket message accepted from a client, in bytes.
    pub max_frame_bytes: usize,
    /// Unacknowledged output bytes per client above which the PTY is not read.
    pub flow_high_water_bytes: u64,
    /// Unacknowledged output bytes per client below which reading resumes.
    pub flow_low_water_bytes: u64,
    /// Output frames queued per client; a client that falls this far behind is disconnected.
    pub client_queue_frames: usize,
    /// Command started as the terminal shell in a node.
    pub shell: Vec<String>,
    /// A terminal socket that does not take a frame within this many seconds is dropped.
    pub send_timeout_secs: u64,
    /// Sockets open at once on one terminal at most; more are closed with `1008`.
    pub max_sockets_per_terminal: usize,
    /// Sockets open at once on all the terminals of one session at most; more get `1008`.
    pub max_sockets_per_session: usize,
    /// Largest terminal size in cells (`cols * rows`): bounds the screen mirror
    /// and the repaint every new socket gets.
    pub max_terminal_cells: u32,
    /// A socket's resizes reach the PTY at most once per this many milliseconds
    /// (the last size wins): each one is a runtime API call.
    pub resize_interval_ms: u64,

    /// Lesson checks running at once in one session at most; one more is refused (409).
    pub max_checks_per_session: usize,
    /// Lesson checks running at once on the server at most; one more is refused (409).
    pub max_checks: usize,
    /// Output kept from a check or setup script (its tail), in bytes.
    pub max_script_output_bytes: usize,
    /// A check or setup script that prints more than this many bytes is abandoned
    /// and fails, its result marked as cut.
    pub max_script_read_bytes: u64,

    /// Memory a grader may grow to (its linear memory), in MiB; a grader that
    /// asks for more is stopped and its check fails.
    pub grader_memory_mib: u64,
    /// Host calls one grader check may make; more are refused (`too-many-calls`).
    pub grader_max_host_calls: u32,
    /// Largest answer of one host call to a grader (a file, an HTTP body,
    /// inspect data), in bytes; larger answers are refused (`too-large`).
    pub grader_max_host_bytes: u64,
    /// Seconds one host call of a grader may take (never beyond the step's timeout).
    pub grader_host_call_timeout_secs: u64,
    /// Longest message a grader's verdict keeps, in bytes; more is cut.
    pub grader_max_message_bytes: usize,
    /// Where compiled graders are cached. None: `<data_dir>/grader-cache`.
    pub grader_cache_dir: Option<PathBuf>,

    /// Largest file accepted by `PUT .../files`, in bytes; larger uploads get 413 and
    /// nothing is written.
    pub max_upload_bytes: u64,
    /// Base domain of the host-based web preview: `{port}-{node}-{session}.<this>` serves
    /// that port at `/` (for apps that must live at the root; needs wildcard DNS to this
    /// server). Empty: only the path-based `/preview/{session}/{node}/{port}/`.
    pub preview_host_suffix: String,

    /// Ready sessions kept per lesson (the warm pool): `POST /sessions` hands one out
    /// at once and the server builds a new one in the background. A table
    /// (`[warm_pool]` then `shell = 2`) or a string `"shell=2,docker-basics=1"`
    /// (`PLAYGROUND_WARM_POOL`). Pooled sessions count toward `max_sessions`; their
    /// lifetime starts at hand-out. Empty by default: no containers run that nobody asked for.
    #[serde(deserialize_with = "warm_pool_from_table_or_string")]
    pub warm_pool: BTreeMap<String, usize>,

    /// File holding the admin token (operator routes, workshops, watching terminals).
    /// None: `<data_dir>/admin-token`. Created with a random token (mode 0600) when it
    /// does not exist; the server logs its path, never the token.
    pub admin_token_file: Option<PathBuf>,
    /// Most seats one workshop may have.
    pub max_workshop_seats: u32,
    /// Longest lifetime of a workshop (its sessions end with it), and the lifetime of
    /// one created without `expires_in_secs`.
    pub max_workshop_secs: u64,
    /// Most workshops open at once.
    pub max_workshops: usize,
    /// Start sessions for a workshop's free seats ahead of its learners (in the
    /// warm pool, within `max_sessions`), so a learner who joins gets a prompt at once.
    pub workshop_prestart: bool,
    /// Joins with a wrong workshop code one client may make per minute (a token
    /// bucket); the next one gets 429. Joins with a right code are never counted,
    /// so a class behind one address joins at once.
    pub workshop_join_failures_per_minute: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance: "playground".into(),
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            preview_listen: "127.0.0.1:8081".parse().expect("valid default address"),
            preview_public_url: String::new(),
            data_dir: PathBuf::from(".state"),
            static_dir: None,
            lessons_dirs: vec![PathBuf::from("lessons")],
            image_prefix: "playground/".into(),
            session_lifetime_secs: 2 * 60 * 60,
            idle_timeout_secs: 15 * 60,
            expiry_warning_secs: 5 * 60,
            reap_interval_secs: 10,
            sweep_interval_secs: 60,
            max_sessions: 40,
            max_sessions_per_ip: 3,
            session_creations_per_minute: 10,
            max_concurrent_creations: 4,
            max_connections: 1024,
            header_read_timeout_secs: 10,
            trust_forwarded_for: false,
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1/128".into()],
            retry_after_secs: 60,
            node_memory_mib: 512,
            node_cpus: 1.0,
            node_pids: 512,
            node_disk_mib: 2048,
            dind_volume_mib: 4096,
            require_disk_quota: false,
            engine_socket: PathBuf::from("/run/playground-engine/docker.sock"),
            docker_profile: DockerProfile::Isolated,
            dind_dockerd_start: DindDockerdStart::OnDemand,
            shell_pty: ShellPty::Auto,
            runc_path: "runc".into(),
            dind_seccomp_profile: PathBuf::from("/etc/playground-engine/seccomp-dind.json"),
            network_internal: true,
            session_subnet_pool: "10.210.0.0/16".into(),
            require_host_firewall: true,
            max_frame_bytes: 64 * 1024,
            flow_high_water_bytes: protocol::terminal::FLOW_HIGH_WATER,
            flow_low_water_bytes: protocol::terminal::FLOW_LOW_WATER,
            client_queue_frames: 4096,
            shell: vec!["/bin/bash".into(), "-l".into()],
            max_checks_per_session: 2,
            max_checks: 16,
            max_script_output_bytes: 64 * 1024,
            max_script_read_bytes: 16 * 1024 * 1024,
            grader_memory_mib: 64,
            grader_max_host_calls: 100,
            grader_max_host_bytes: 1024 * 1024,
            grader_host_call_timeout_secs: 10,
            grader_max_message_bytes: 4096,
            grader_cache_dir: None,
            send_timeout_secs: 30,
            max_sockets_per_terminal: 4,
            max_sockets_per_session: 16,
            max_terminal_cells: 100_000,
            resize_interval_ms: 100,
            max_upload_bytes: 64 * 1024 * 1024,
            preview_host_suffix: String::new(),
            warm_pool: BTreeMap::new(),
            admin_token_file: None,
            max_workshop_seats: 100,
            max_workshop_secs: 8 * 60 * 60,
            max_workshops: 20,
            workshop_prestart: true,
            workshop_join_failures_per_minute: 10,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Keys whose default is "none", so they are missing from the defaults table.
const OPTIONAL_STRING_KEYS: &[&str] = &["static_dir", "admin_token_file", "grader_cache_dir"];

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "PLAYGROUND_";

impl Config {
    /// Defaults, then `file` (when given), then `PLAYGROUND_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::load_with(file, env, |_| {})
    }

    /// As [`Config::load`], with `overrides` (the command line's flags) applied
    /// last, before the values are checked together.
    pub fn load_with(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: impl FnOnce(&mut Config),
    ) -> Result<Config, ConfigError> {
        let mut table = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let from_file: toml::Table =
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?;
            // Check key names and types against the struct before merging, so a typo
            // names the file rather than a merged table.
            Config::deserialize(toml::Value::Table(merge(table.clone(), from_file.clone())))
                .map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?;
            table = merge(table, from_file);
        }
        for (var, raw) in env {
            let Some(key) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if key == "config" {
                continue;
            }
            // Optional keys are absent from the defaults table; they hold strings.
            let optional = OPTIONAL_STRING_KEYS
                .contains(&key.as_str())
                .then(|| toml::Value::String(String::new()));
            let Some(current) = table.get(&key).cloned().or(optional) else {
                // Not ours (the scripts use PLAYGROUND_* for their own settings):
                // `unknown_env` lists these so `serve` can warn about typos.
                continue;
            };
            let value = env_value(&current, &raw).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
            table.insert(key, value);
        }
        let mut config = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // An empty path means "none", never "the current directory".
        for path in [
            &mut config.static_dir,
            &mut config.admin_token_file,
            &mut config.grader_cache_dir,
        ] {
            if path.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
                *path = None;
            }
        }
        overrides(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// The `PLAYGROUND_*` variables in `env` that name no configuration key:
    /// probably typos, or settings of the setup scripts.
    pub fn unknown_env(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let known = toml::Table::try_from(Config::default()).unwrap_or_default();
        env.into_iter()
            .filter_map(|(var, _)| {
                let key = var.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                let ours = key == "config"
                    || known.contains_key(&key)
                    || OPTIONAL_STRING_KEYS.contains(&key.as_str());
                (!ours).then_some(var)
            })
            .collect()
    }

    /// Checks the values together ([`Config::load`] calls it).
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        self.check_preview_listen()?;
        self.preview_public_origin()?;
        if self.flow_low_water_bytes >= self.flow_high_water_bytes {
            return bad("flow_low_water_bytes must be below flow_high_water_bytes");
        }
        if self.max_frame_bytes < 16 {
            return bad("max_frame_bytes must be at least 16");
        }
        if self.node_cpus <= 0.0 || self.node_memory_mib < 16 || self.node_pids < 16 {
            return bad("node_cpus must be positive, node_memory_mib and node_pids at least 16");
        }
        // Small sizes leave no room for a nested dockerd's own files (or a package install).
        const MAX_DISK_MIB: u64 = 16 << 20; // 16 TiB
        if self.node_disk_mib != 0 && !(64..=MAX_DISK_MIB).contains(&self.node_disk_mib) {
            return bad("node_disk_mib must be 0 (no limit) or between 64 and 16777216");
        }
        if self.dind_volume_mib != 0 && !(256..=MAX_DISK_MIB).contains(&self.dind_volume_mib) {
            return bad("dind_volume_mib must be 0 (no limit) or between 256 and 16777216");
        }
        if self.shell.is_empty() {
            return bad("shell must name a command");
        }
        if self.session_lifetime_secs == 0
            || self.reap_interval_secs == 0
            || self.sweep_interval_secs == 0
        {
            return bad(
                "session_lifetime_secs, reap_interval_secs and sweep_interval_secs must be positive",
            );
        }
        if self.grader_memory_mib == 0 || self.grader_memory_mib > 4096 {
            return bad("grader_memory_mib must be between 1 and 4096");
        }
        if self.grader_max_host_calls == 0
            || self.grader_max_host_bytes == 0
            || self.grader_host_call_timeout_secs == 0
            || self.grader_max_message_bytes == 0
        {
            return bad("grader_max_host_calls, grader_max_host_bytes, grader_host_call_timeout_secs and grader_max_message_bytes must be positive");
        }
        if self.max_concurrent_creations == 0 {
            return bad("max_concurrent_creations must be positive");
        }
        if self.max_checks_per_session == 0 || self.max_checks == 0 {
            return bad("max_checks_per_session and max_checks must be positive");
        }
        if self.max_script_output_bytes == 0
            || (self.max_script_read_bytes as usize) < self.max_script_output_bytes
        {
            return bad("max_script_read_bytes must be at least max_script_output_bytes (> 0)");
        }
        // The tar header of an upload holds the size in 11 octal digits.
        if self.max_upload_bytes == 0 || self.max_upload_bytes >= 8 << 30 {
            return bad("max_upload_bytes must be between 1 and 8 GiB");
        }
        if self.client_queue_frames == 0 {
            return bad("client_queue_frames must be positive");
        }
        if self.session_creations_per_minute == 0 {
            return bad("session_creations_per_minute must be positive");
        }
        if self.max_connections == 0 || self.header_read_timeout_secs == 0 {
            return bad("max_connections and header_read_timeout_secs must be positive");
        }
        if self.max_sockets_per_terminal == 0 || self.send_timeout_secs == 0 {
            return bad("max_sockets_per_terminal and send_timeout_secs must be positive");
        }
        if self.max_sockets_per_session < self.max_sockets_per_terminal {
            return bad("max_sockets_per_session must be at least max_sockets_per_terminal");
        }
        // The web app's smallest terminal must fit.
        if self.max_terminal_cells < 80 * 24 {
            return bad("max_terminal_cells must be at least 1920 (80x24)");
        }
        if self.max_workshop_seats == 0
            || self.max_workshop_secs == 0
            || self.workshop_join_failures_per_minute == 0
        {
            return bad(
                "max_workshop_seats, max_workshop_secs and workshop_join_failures_per_minute \
                 must be positive",
            );
        }
        let pooled: usize = self.warm_pool.values().sum();
        if pooled > self.max_sessions {
            return Err(ConfigError::Invalid(format!(
                "warm_pool keeps {pooled} sessions ready, more than max_sessions ({})",
                self.max_sessions
            )));
        }
        self.subnet_pool()?;
        self.trusted_proxy_nets()?;
        Ok(())
    }

    /// `preview_listen` must be another origin than `listen`: another port, unless
    /// both name distinct addresses and `preview_public_url` says where previews are.
    fn check_preview_listen(&self) -> Result<(), ConfigError> {
        let (app, preview) = (self.listen, self.preview_listen);
        if app.port() != preview.port() {
            return Ok(());
        }
        let distinct_addresses = app.ip() != preview.ip()
            && !app.ip().is_unspecified()
            && !preview.ip().is_unspecified();
        if distinct_addresses && !self.preview_public_url.trim().is_empty() {
            return Ok(());
        }
        Err(ConfigError::Invalid(format!(
            "preview_listen ({preview}) must differ from listen ({app}): previews are served \
             on an origin of their own, by default the same host on another port (8081)"
        )))
    }

    /// `preview_public_url` without a trailing `/` (`https://preview.example.com`), or
    /// None when it is empty; an error when it is not an http(s) origin.
    pub fn preview_public_origin(&self) -> Result<Option<String>, ConfigError> {
        let url = self.preview_public_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let bad = || {
            ConfigError::Invalid(format!(
                "preview_public_url {url:?}: expected an origin such as \
                 https://preview.example.com (http or https, a host, an optional port, no path)"
            ))
        };
        let url = url.strip_suffix('/').unwrap_or(url);
        let authority = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let valid = !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !valid {
            return Err(bad());
        }
        Ok(Some(url.to_owned()))
    }

    /// The pool of `session_subnet_pool`; None when it is empty (Docker's
    /// default pools). An error names what is wrong with it.
    pub fn subnet_pool(&self) -> Result<Option<SubnetPool>, ConfigError> {
        let pool = self.session_subnet_pool.trim();
        if pool.is_empty() {
            return Ok(None);
        }
        pool.parse::<Ipv4Net>()
            .and_then(SubnetPool::new)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("session_subnet_pool: {e}")))
    }

    /// `trusted_proxies`, parsed; an error names the bad entry.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|n| n.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| ConfigError::Invalid(format!("trusted_proxies: {e}")))
    }

    /// Where compiled graders are cached: `grader_cache_dir`, else `<data_dir>/grader-cache`.
    pub fn grader_cache_dir(&self) -> PathBuf {
        self.grader_cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("grader-cache"))
    }

    /// The file of the admin token: `admin_token_file`, else `<data_dir>/admin-token`.
    pub fn admin_token_path(&self) -> PathBuf {
        self.admin_token_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("admin-token"))
    }

    /// The path of the session database.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("sessions.sqlite3")
    }

    /// The full image reference for a lesson's image name.
    pub fn image_ref(&self, name: &str) -> String {
        if name.contains('/') || name.contains(':') {
            name.to_owned()
        } else {
            format!("{}{}:latest", self.image_prefix, name)
        }
    }
}

/// `warm_pool` from a table (`shell = 2`) or a string (`"shell=2,other=1"`).
fn warm_pool_from_table_or_string<'de, D>(de: D) -> Result<BTreeMap<String, usize>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Table(BTreeMap<String, usize>),
        Text(String),
    }
    match Form::deserialize(de)? {
        Form::Table(table) => Ok(table),
        Form::Text(text) => parse_warm_pool(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses `"lesson=N,lesson=N"` (spaces allowed, empty entries skipped).
pub fn parse_warm_pool(text: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut pool = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (lesson, n) = entry
            .split_once('=')
            .ok_or_else(|| format!("warm_pool entry {entry:?}: expected lesson=N"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("warm_pool entry {entry:?}: N must be a whole number"))?;
        let lesson = lesson.trim();
        if lesson.is_empty() {
            return Err(format!("warm_pool entry {entry:?}: no lesson"));
        }
        pool.insert(lesson.to_owned(), n);
    }
    Ok(pool)
}

fn merge(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (k, v) in over {
        base.insert(k, v);
    }
    base
}

/// Parses an environment value into the type the key already has.
fn env_value(current: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    use toml::Value;
    Ok(match current {
        Value::String(_) => Value::String(raw.to_owned()),
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| "expected an integer")?),
        Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| "expected a number")?),
        Value::Boolean(_) => Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err("expected true or false".into()),
        }),
        // Lists: comma separated (`PLAYGROUND_LESSONS_DIRS=lessons,/srv/more`).
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        // Tables (`warm_pool`): their key's own string form, `a=1,b=2`.
        Value::Table(_) => Value::String(raw.to_owned()),
        _ => return Err("this key cannot be set from the environment".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variable alone makes loading fail, with an error naming its key.
    fn each_refused_naming_its_key(bad: &[(&str, &str)]) {
        for &(var, value) in bad {
            let err = Config::load(None, env(&[(var, value)])).unwrap_err();
            let key = var.trim_start_matches("PLAYGROUND_").to_lowercase();
            assert!(err.to_string().contains(&key), "{var}={value}: {err}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None, vec![]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.node_memory_mib, 512);
        assert_eq!(c.session_lifetime_secs, 7200);
        // Safe by default: reachable from this machine only, and not without the host firewall.
        assert!(c.listen.ip().is_loopback());
        assert!(c.require_host_firewall);
    }

    #[test]
    fn env_overrides_file_and_defaults() {
        let dir = std::env::temp_dir().join(format!("pg-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "max_sessions = 7\nnode_cpus = 0.5\n").unwrap();
        let c = Config::load(
            Some(&file),
            env(&[
                ("PLAYGROUND_MAX_SESSIONS", "9"),
                ("PLAYGROUND_LESSONS_DIRS", "a, b"),
                ("PLAYGROUND_NETWORK_INTERNAL", "false"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(c.max_sessions, 9);
        assert_eq!(c.node_cpus, 0.5);
        assert!(!c.network_internal);
        assert_eq!(c.lessons_dirs, vec![PathBuf::from("a"), PathBuf::from("b")]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        // An unknown variable does not stop the server (the scripts have
        // PLAYGROUND_* settings of their own); `serve` warns about it.
        let vars = env(&[("PLAYGROUND_MAX_SESION", "9"), ("PLAYGROUND_CONFIG", "x")]);
        assert_eq!(Config::load(None, vars.clone()).unwrap(), Config::default());
        assert_eq!(Config::unknown_env(vars), vec!["PLAYGROUND_MAX_SESION"]);
        let err = Config::load(None, env(&[("PLAYGROUND_MAX_SESSIONS", "many")])).unwrap_err();
        assert!(err.to_string().contains("expected an integer"), "{err}");
        let dir = std::env::temp_dir().join(format!("pg-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "max_sesions = 7\n").unwrap();
        let err = Config::load(Some(&file), vec![]).unwrap_err();
        assert!(err.to_string().contains("max_sesions"), "{err}");
    }

    #[test]
    fn warm_pool_is_a_table_or_a_string_and_fits_in_max_sessions() {
        assert!(Config::default().warm_pool.is_empty());
        let c = Config::load(None, env(&[("PLAYGROUND_WARM_POOL", "shell=2, other = 1")])).unwrap();
        let want: BTreeMap<String, usize> = [("other".into(), 1), ("shell".into(), 2)].into();
        assert_eq!(c.warm_pool, want);
        let dir = std::env::temp_dir().join(format!("pg-config-pool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[warm_pool]\nshell = 2\nother = 1\n").unwrap();
        assert_eq!(Config::load(Some(&file), vec![]).unwrap().warm_pool, want);
        std::fs::write(&file, "warm_pool = \"shell=2,other=1\"\n").unwrap();
        assert_eq!(Config::load(Some(&file), vec![]).unwrap().warm_pool, want);
        // The effective configuration prints and reads back.
        let printed = toml::to_string(&c).unwrap();
        let back: Config = toml::from_str(&printed).unwrap();
        assert_eq!(back.warm_pool, want);
        for bad in ["shell", "shell=x", "=2"] {
            let err = Config::load(None, env(&[("PLAYGROUND_WARM_POOL", bad)])).unwrap_err();
            assert!(err.to_string().contains("warm_pool"), "{bad}: {err}");
        }
        let err = Config::load(
            None,
            env(&[
                ("PLAYGROUND_WARM_POOL", "shell=5"),
                ("PLAYGROUND_MAX_SESSIONS", "4"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_sessions"), "{err}");
    }

    #[test]
    fn check_and_script_output_limits_must_make_sense() {
        each_refused_naming_its_key(&[
            ("PLAYGROUND_SWEEP_INTERVAL_SECS", "0"),
            ("PLAYGROUND_MAX_CHECKS", "0"),
            ("PLAYGROUND_MAX_CHECKS_PER_SESSION", "0"),
            ("PLAYGROUND_MAX_SCRIPT_OUTPUT_BYTES", "0"),
            ("PLAYGROUND_MAX_SCRIPT_READ_BYTES", "1000"),
            ("PLAYGROUND_MAX_WORKSHOP_SEATS", "0"),
            ("PLAYGROUND_MAX_WORKSHOP_SECS", "0"),
            ("PLAYGROUND_WORKSHOP_JOIN_FAILURES_PER_MINUTE", "0"),
        ]);
    }

    #[test]
    fn the_admin_token_lives_in_the_data_dir_unless_a_file_is_named() {
        let c = Config::load(None, env(&[("PLAYGROUND_DATA_DIR", "/srv/pg")])).unwrap();
        assert_eq!(c.admin_token_path(), PathBuf::from("/srv/pg/admin-token"));
        let c = Config::load(
            None,
            env(&[("PLAYGROUND_ADMIN_TOKEN_FILE", "/etc/playground/admin")]),
        )
        .unwrap();
        assert_eq!(c.admin_token_path(), PathBuf::from("/etc/playground/admin"));
        let c = Config::load(None, env(&[("PLAYGROUND_ADMIN_TOKEN_FILE", "")])).unwrap();
        assert_eq!(c.admin_token_path(), PathBuf::from(".state/admin-token"));
    }

    #[test]
    fn disk_limits_are_zero_or_big_enough() {
        let c = Config::default();
        assert_eq!((c.node_disk_mib, c.dind_volume_mib), (2048, 4096));
        assert!(!c.require_disk_quota);
        let c = Config::load(
            None,
            env(&[
                ("PLAYGROUND_NODE_DISK_MIB", "0"),
                ("PLAYGROUND_DIND_VOLUME_MIB", "0"),
                ("PLAYGROUND_REQUIRE_DISK_QUOTA", "yes"),
            ]),
        )
        .unwrap();
        assert_eq!((c.node_disk_mib, c.dind_volume_mib), (0, 0));
        assert!(c.require_disk_quota);
        each_refused_naming_its_key(&[
            ("PLAYGROUND_NODE_DISK_MIB", "10"),
            ("PLAYGROUND_DIND_VOLUME_MIB", "100"),
            ("PLAYGROUND_DIND_VOLUME_MIB", "99999999"),
        ]);
    }

    #[test]
    fn an_empty_static_dir_means_none() {
        let c = Config::load(None, env(&[("PLAYGROUND_STATIC_DIR", "")])).unwrap();
        assert_eq!(c.static_dir, None);
        let c = Config::load(None, env(&[("PLAYGROUND_STATIC_DIR", "dist")])).unwrap();
        assert_eq!(c.static_dir, Some(PathBuf::from("dist")));
    }

    #[test]
    fn previews_listen_on_an_origin_of_their_own() {
        let c = Config::default();
        assert_eq!(c.preview_listen.to_string(), "127.0.0.1:8081");
        assert!(c.preview_listen.ip().is_loopback());
        assert_eq!(c.preview_public_origin().unwrap(), None);
        let c = Config::load(
            None,
            env(&[
                ("PLAYGROUND_PREVIEW_LISTEN", "0.0.0.0:9001"),
                (
                    "PLAYGROUND_PREVIEW_PUBLIC_URL",
                    "https://preview.example.com/",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.preview_listen.to_string(), "0.0.0.0:9001");
        assert_eq!(
            c.preview_public_origin().unwrap().as_deref(),
            Some("https://preview.example.com")
        );
        // The app's own address, or its port on an overlapping address: refused.
        for (listen, preview) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("127.0.0.1:8080", "127.0.0.2:8080"),
        ] {
            let err = Config::load(
                None,
                env(&[
                    ("PLAYGROUND_LISTEN", listen),
                    ("PLAYGROUND_PREVIEW_LISTEN", preview),
                ]),
            )
            .unwrap_err();
            assert!(err.to_string().contains("preview_listen"), "{err}");
        }
        // A flag fixes what the file or the environment would clash with.
        let clash = env(&[("PLAYGROUND_LISTEN", "127.0.0.1:8081")]);
        assert!(Config::load(None, clash.clone()).is_err());
        let c = Config::load_with(None, clash, |c| {
            c.preview_listen = "127.0.0.1:8082".parse().unwrap();
        })
        .unwrap();
        assert_eq!(c.preview_listen.port(), 8082);
        // The same port on another address is another origin only with its own name.
        Config::load(
            None,
            env(&[
                ("PLAYGROUND_LISTEN", "127.0.0.1:8080"),
                ("PLAYGROUND_PREVIEW_LISTEN", "127.0.0.2:8080"),
                ("PLAYGROUND_PREVIEW_PUBLIC_URL", "http://127.0.0.2:8080"),
            ]),
        )
        .unwrap();
        for bad in [
            "preview.example.com",
            "ftp://preview.example.com",
            "https://preview.example.com/sub",
            "https://",
            "https://preview.example.com?x=1",
        ] {
            let err =
                Config::load(None, env(&[("PLAYGROUND_PREVIEW_PUBLIC_URL", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("preview_public_url"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn image_names_get_the_prefix() {
        let c = Config::default();
        assert_eq!(c.image_ref("base"), "playground/base:latest");
        assert_eq!(c.image_ref("nginx:1.25"), "nginx:1.25");
        assert_eq!(c.image_ref("reg.local/x"), "reg.local/x");
    }
}
