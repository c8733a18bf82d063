//! Disk limits of nodes (`node_disk_mib`, `dind_volume_mib`): what the Engine can apply,
//! found out once at connect ([`probe`], [`plan`]), and the create options that apply it
//! ([`DiskLimits`]). See docs/security.md, "Disk".
//!
//! - **A node's writable layer**: `storage_opt size`. Docker 20.10 honours it with overlay2
//!   only over XFS mounted with project quotas (`pquota`), and refuses the container
//!   elsewhere. (btrfs would take it too, but a learner escapes a btrfs qgroup limit by
//!   creating a subvolume of their own, which any user may: it is not used.)
//! - **The `/var/lib/docker` volume of a Docker-in-Docker node**: Docker's local volume
//!   option `size` (the same project quotas); or else the learner engine's runtime
//!   (`scripts/engine/runc-delegate`), which mounts a file system of that size on the volume
//!   when the node starts. The engine says it can with the label
//!   [`ENGINE_LABEL_VOLUME_SIZE`] (`scripts/learner-engine.sh` sets it), and the node asks
//!   through the environment variable [`VOLUME_MIB_ENV`].
//!
//! A limit the engine cannot apply is left out with a warning at start (or the server
//! refuses to start, with `require_disk_quota`): node creation never fails for it.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, SystemInfo, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, ListImagesOptions, RemoveContainerOptions, RemoveVolumeOptions,
};
use bollard::Docker;

/// The engine label (`docker info`) of an engine whose runtime sizes Docker-in-Docker
/// volumes on request ([`VOLUME_MIB_ENV`]).
pub const ENGINE_LABEL_VOLUME_SIZE: &str = "io.playground.dind-volume-size=runtime";
/// The environment variable by which a node asks the engine's runtime for a volume size.
pub const VOLUME_MIB_ENV: &str = "PLAYGROUND_DOCKER_VOLUME_MIB";

const MIB: u64 = 1024 * 1024;
/// The size the probes ask for.
const PROBE_BYTES: u64 = 64 * MIB;

/// How the `/var/lib/docker` volume of a Docker-in-Docker node is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeBound {
    /// Not at all.
    #[default]
    None,
    /// Docker's local volume option `size`, in bytes (project quotas).
    Docker { bytes: u64 },
    /// The engine's runtime mounts a file system of this many MiB on the volume.
    Runtime { mib: u64 },
}

/// The disk limits every node gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskLimits {
    /// `storage_opt size` of every node's writable layer; `None`: no limit.
    pub writable_layer_bytes: Option<u64>,
    /// The Docker-in-Docker volume.
    pub dind_volume: VolumeBound,
}

impl DiskLimits {
    /// The container's `storage_opt`, when its writable layer is bounded.
    pub fn storage_opt(&self) -> Option<HashMap<String, String>> {
        self.writable_layer_bytes
            .map(|bytes| HashMap::from([("size".to_owned(), bytes.to_string())]))
    }

    /// The options of a Docker-in-Docker volume, when Docker bounds it.
    pub fn volume_driver_opts(&self) -> Option<HashMap<String, String>> {
        match self.dind_volume {
            VolumeBound::Docker { bytes } => {
                Some(HashMap::from([("size".to_owned(), bytes.to_string())]))
            }
            VolumeBound::None | VolumeBound::Runtime { .. } => None,
        }
    }

    /// The environment entry of a Docker-in-Docker node, when the engine's runtime bounds
    /// its volume.
    pub fn dind_env(&self) -> Option<String> {
        match self.dind_volume {
            VolumeBound::Runtime { mib } => Some(format!("{VOLUME_MIB_ENV}={mib}")),
            VolumeBound::None | VolumeBound::Docker { .. } => None,
        }
    }

    /// One line for the log: what is bounded.
    pub fn describe(&self) -> String {
        let layer = match self.writable_layer_bytes {
            Some(b) => format!("writable layers {} MiB each", b / MIB),
            None => "writable layers not limited".to_owned(),
        };
        let volume = match self.dind_volume {
            VolumeBound::None => "Docker-in-Docker volumes not limited".to_owned(),
            VolumeBound::Docker { bytes } => format!(
                "Docker-in-Docker volumes {} MiB each (Docker's volume size)",
                bytes / MIB
            ),
            VolumeBound::Runtime { mib } => format!(
                "Docker-in-Docker volumes {mib} MiB each (a file system per volume, by the engine's runtime)"
            ),
        };
        format!("{layer}; {volume}")
    }
}

/// What the Engine can bound; an `Err` says why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSupport {
    /// `storage_opt size` on containers.
    pub writable_layer: Result<(), String>,
    /// The local volume option `size`.
    pub volume_size: Result<(), String>,
    /// The engine's runtime sizes volumes ([`ENGINE_LABEL_VOLUME_SIZE`]).
    pub runtime_volume: bool,
}

/// The limits to apply for the sizes asked for (MiB, 0: none), and one message for each
/// that cannot be applied, saying why.
pub fn plan(
    node_disk_mib: u64,
    dind_volume_mib: u64,
    support: &DiskSupport,
) -> (DiskLimits, Vec<String>) {
    let mut limits = DiskLimits::default();
    let mut missing = Vec::new();
    if node_disk_mib > 0 {
        match &support.writable_layer {
            Ok(()) => limits.writable_layer_bytes = Some(node_disk_mib * MIB),
            Err(why) => missing.push(format!(
                "node_disk_mib = {node_disk_mib} is not applied, nodes' writable layers are not limited: {why}"
            )),
        }
    }
    if dind_volume_mib > 0 {
        limits.dind_volume = match (&support.volume_size, support.runtime_volume) {
            (Ok(()), _) => VolumeBound::Docker {
                bytes: dind_volume_mib * MIB,
            },
            (Err(_), true) => VolumeBound::Runtime {
                mib: dind_volume_mib,
            },
            (Err(why), false) => {
                missing.push(format!(
                    "dind_volume_mib = {dind_volume_mib} is not applied, Docker-in-Docker volumes are not limited: {why}; \
                     and the engine's runtime cannot size them (no engine label {ENGINE_LABEL_VOLUME_SIZE}: \
                     start the learner engine with scripts/learner-engine.sh start)"
                ));
                VolumeBound::None
            }
        };
    }
    (limits, missing)
}

/// Finds out what the Engine can bound, trying only what is asked for: a volume with the
/// `size` option, and a container (created, never started) with `storage_opt size`, both
/// removed at once. Named `pg-disk-probe-{instance}`, labelled with the instance.
pub async fn probe(
    docker: &Docker,
    info: &SystemInfo,
    instance: &str,
    writable_layer: bool,
    volume: bool,
) -> DiskSupport {
    let name = format!("pg-disk-probe-{instance}");
    let labels = HashMap::from([
        (crate::runtime::LABEL_MANAGED.to_owned(), "true".to_owned()),
        (
            crate::runtime::LABEL_INSTANCE.to_owned(),
            instance.to_owned(),
        ),
    ]);
    let not_asked = || Err("not asked for".to_owned());
    let volume_size = if volume {
        probe_volume(docker, &name, &labels).await
    } else {
        not_asked()
    };
    let writable_layer = if writable_layer {
        match layer_backing(info) {
            Ok(()) => probe_container(docker, &name, &labels).await,
            Err(why) => Err(why),
        }
    } else {
        not_asked()
    };
    let runtime_volume = info
        .labels
        .as_ref()
        .is_some_and(|l| l.iter().any(|l| l == ENGINE_LABEL_VOLUME_SIZE));
    DiskSupport {
        writable_layer,
        volume_size,
        runtime_volume,
    }
}

/// Ok when the storage driver can take `storage_opt size` safely: overlay2 on XFS (then it
/// depends on project quotas, which only the probe tells).
fn layer_backing(info: &SystemInfo) -> Result<(), String> {
    let driver = info.driver.as_deref().unwrap_or("unknown");
    let backing = info
        .driver_status
        .iter()
        .flatten()
        .find(|kv| kv.first().is_some_and(|k| k == "Backing Filesystem"))
        .and_then(|kv| kv.get(1))
        .map(String::as_str)
        .unwrap_or("unknown");
    if driver != "overlay2" {
        return Err(format!(
            "the engine's storage driver is {driver}; per-node sizes need overlay2 on XFS with project quotas"
        ));
    }
    if backing != "xfs" {
        return Err(format!(
            "the engine's data-root is on {backing}; per-node sizes need XFS mounted with project quotas (pquota)"
        ));
    }
    Ok(())
}

fn docker_message(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            format!("the engine says \"{message}\"")
        }
        e => e.to_string(),
    }
}

async fn probe_volume(
    docker: &Docker,
    name: &str,
    labels: &HashMap<String, String>,
) -> Result<(), String> {
    let remove = || docker.remove_volume(name, Some(RemoveVolumeOptions { force: true }));
    let _ = remove().await;
    let created = docker
        .create_volume(VolumeCreateRequest {
            name: Some(name.to_owned()),
            driver: Some("local".into()),
            driver_opts: Some(HashMap::from([(
                "size".to_owned(),
                PROBE_BYTES.to_string(),
            )])),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await;
    let _ = remove().await;
    created.map(|_| ()).map_err(docker_message)
}

async fn probe_container(
    docker: &Docker,
    name: &str,
    labels: &HashMap<String, String>,
) -> Result<(), String> {
    let images = docker
        .list_images(None::<ListImagesOptions>)
        .await
        .map_err(docker_message)?;
    let Some(image) = images.into_iter().next() else {
        return Err("the engine has no image to try storage_opt with".to_owned());
    };
    let remove = || {
        docker.remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
    };
    let _ = remove().await;
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_owned()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(image.id),
                labels: Some(labels.clone()),
                network_disabled: Some(true),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    storage_opt: DiskLimits {
                        writable_layer_bytes: Some(PROBE_BYTES),
                        ..Default::default()
                    }
                    .storage_opt(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    let _ = remove().await;
    created.map(|_| ()).map_err(docker_message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support(layer: bool, volume: bool, runtime: bool) -> DiskSupport {
        let r = |ok: bool, why: &str| if ok { Ok(()) } else { Err(why.to_owned()) };
        DiskSupport {
            writable_layer: r(layer, "no pquota"),
            volume_size: r(volume, "no quota support"),
            runtime_volume: runtime,
        }
    }

    #[test]
    fn what_the_engine_can_do_is_applied_and_the_rest_named() {
        // XFS with project quotas: Docker bounds both.
        let (l, missing) = plan(2048, 4096, &support(true, true, true));
        assert!(missing.is_empty());
        assert_eq!(l.writable_layer_bytes, Some(2048 * MIB));
        assert_eq!(l.dind_volume, VolumeBound::Docker { bytes: 4096 * MIB });

        // This kernel (no XFS quotas) with the learner engine: only the volume, by the runtime.
        let (l, missing) = plan(2048, 4096, &support(false, false, true));
        assert_eq!(l.writable_layer_bytes, None);
        assert_eq!(l.dind_volume, VolumeBound::Runtime { mib: 4096 });
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0].contains("node_disk_mib = 2048") && missing[0].contains("no pquota"),
            "{missing:?}"
        );

        // Another engine: nothing, and both named.
        let (l, missing) = plan(2048, 4096, &support(false, false, false));
        assert_eq!(l, DiskLimits::default());
        assert_eq!(missing.len(), 2);
        assert!(missing[1].contains(ENGINE_LABEL_VOLUME_SIZE), "{missing:?}");

        // 0 asks for nothing, so nothing is missing.
        let (l, missing) = plan(0, 0, &support(false, false, false));
        assert_eq!(l, DiskLimits::default());
        assert!(missing.is_empty());
    }

    #[test]
    fn the_options_say_the_sizes_in_bytes_or_mib() {
        let docker = DiskLimits {
            writable_layer_bytes: Some(2048 * MIB),
            dind_volume: VolumeBound::Docker { bytes: 4096 * MIB },
        };
        assert_eq!(
            docker.storage_opt(),
            Some(HashMap::from([("size".into(), "2147483648".into())]))
        );
        assert_eq!(
            docker.volume_driver_opts(),
            Some(HashMap::from([("size".into(), "4294967296".into())]))
        );
        assert_eq!(docker.dind_env(), None);

        let runtime = DiskLimits {
            writable_layer_bytes: None,
            dind_volume: VolumeBound::Runtime { mib: 512 },
        };
        assert_eq!(runtime.storage_opt(), None);
        assert_eq!(runtime.volume_driver_opts(), None);
        assert_eq!(
            runtime.dind_env().as_deref(),
            Some("PLAYGROUND_DOCKER_VOLUME_MIB=512")
        );
        assert!(runtime.describe().contains("512 MiB each"));
    }

    #[test]
    fn only_overlay2_on_xfs_is_tried_for_writable_layers() {
        let info = |driver: &str, fs: &str| SystemInfo {
            driver: Some(driver.into()),
            driver_status: Some(vec![
                vec!["Backing Filesystem".into(), fs.into()],
                vec!["Supports d_type".into(), "true".into()],
            ]),
            ..Default::default()
        };
        assert_eq!(layer_backing(&info("overlay2", "xfs")), Ok(()));
        let err = layer_backing(&info("overlay2", "extfs")).unwrap_err();
        assert!(err.contains("on extfs") && err.contains("pquota"), "{err}");
        let err = layer_backing(&info("btrfs", "btrfs")).unwrap_err();
        assert!(err.contains("storage driver is btrfs"), "{err}");
    }
}
