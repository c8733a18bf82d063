//! Disk quotas (issue 8, docs/security.md "Disk"), against a real `sandbox-server` on the
//! learner engine: a learner who fills a node's disk stops at the node's limit, gets
//! "No space left on device", and nothing outside the node fills up.
//!
//! Each test starts its server with `require_disk_quota = true` and only the limit it
//! tests, so a server that cannot apply it refuses to start. What the engine can do
//! depends on the host: the Docker-in-Docker volume is bounded wherever the learner engine
//! runs (its runtime mounts a file system of that size, or Docker's volume `size` on XFS
//! with project quotas); the writable layer only where the engine's data-root is XFS with
//! project quotas (a kernel with CONFIG_XFS_QUOTA). Which of them this host must have is
//! `PLAYGROUND_E2E_DISK_QUOTA`: a comma-separated list of `dind` and `node` (default under
//! `CI=true`: `dind`; `none` expects nothing). An expected limit that cannot be applied
//! fails the test; one not expected is skipped with the reason.

use std::time::Duration;

use playground_e2e::{docker_objects, eventually, node_exec, require_docker, Launch, Server};
use protocol::api::CreatedSession;

const MIB: u64 = 1024 * 1024;

/// Whether this host must apply the limit `kind` (`dind` or `node`).
fn expected(kind: &str) -> bool {
    let list = std::env::var("PLAYGROUND_E2E_DISK_QUOTA").unwrap_or_else(|_| {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            "dind".into()
        } else {
            String::new()
        }
    });
    list.split(',').any(|k| k.trim() == kind)
}

/// A server that applies the limit `env` sets, or None (skip) when the engine cannot and
/// the limit is not [`expected`].
async fn server_with(kind: &str, env: &[(&str, &str)]) -> Option<Server> {
    let result = Launch::default()
        .own_lessons()
        .env("PLAYGROUND_REQUIRE_DISK_QUOTA", "true")
        .envs(env)
        .start()
        .await;
    match result {
        Ok(server) => Some(server),
        Err(e) => {
            let e = format!("{e:#}");
            assert!(
                e.contains("require_disk_quota"),
                "the server did not start for another reason: {e}"
            );
            assert!(
                !expected(kind),
                "PLAYGROUND_E2E_DISK_QUOTA expects `{kind}` but the engine cannot apply it: {e}"
            );
            eprintln!("SKIPPED: the engine cannot apply the `{kind}` disk limit here: {e}");
            None
        }
    }
}

/// A lesson with one Docker-in-Docker node (node1) and one base node (node2).
async fn session(server: &Server) -> CreatedSession {
    let dir = server.lessons_dir().join("disk");
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"disk\"\ntitle = \"Disk\"\n\n[[nodes]]\nname = \"node1\"\nimage = \"dind\"\n\n\
         [[nodes]]\nname = \"node2\"\nimage = \"base\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("steps/01-fill.md"), "# Fill\n\nFill the disk.\n").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match server.create_session("disk").await {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() > deadline => panic!("{e:#}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Writes up to `mib` MiB of zeros to `file` in a node; returns dd's output and the size
/// the file reached.
fn fill(s: &CreatedSession, node: &str, file: &str, mib: u64) -> (String, u64) {
    let (_, out) = node_exec(
        &s.id,
        node,
        &format!(
            "dd if=/dev/zero of={file} bs=1M count={mib} 2>&1; sync; stat -c 'SIZE %s' {file}"
        ),
    );
    let size = out
        .lines()
        .find_map(|l| l.strip_prefix("SIZE "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no size in: {out}"));
    (out, size)
}

fn assert_stopped_at(what: &str, out: &str, size: u64, limit_mib: u64) {
    eprintln!("{what}: stopped at {} MiB of {limit_mib} MiB", size / MIB);
    assert!(
        out.contains("No space left on device"),
        "{what}: no ENOSPC:\n{out}"
    );
    assert!(
        size <= limit_mib * MIB && size >= limit_mib * MIB / 2,
        "{what}: {size} bytes written with a limit of {limit_mib} MiB:\n{out}"
    );
}

#[tokio::test]
async fn filling_the_docker_volume_of_a_dind_node_stops_at_its_limit() {
    require_docker!();
    const LIMIT: u64 = 512;
    let Some(server) = server_with(
        "dind",
        &[
            ("PLAYGROUND_DIND_VOLUME_MIB", &LIMIT.to_string()),
            ("PLAYGROUND_NODE_DISK_MIB", "0"),
        ],
    )
    .await
    else {
        return;
    };
    let s = session(&server).await;
    // The learner has used Docker before filling its disk: the nested dockerd (which
    // starts on the first `docker` command) is up with its bundled busybox image.
    let ready = "for i in $(seq 240); do docker image inspect busybox >/dev/null 2>&1 && exit 0; \
                 sleep 0.25; done; exit 1";
    assert_eq!(
        node_exec(&s.id, "node1", ready).0,
        0,
        "nested dockerd came up"
    );

    let (out, size) = fill(&s, "node1", "/var/lib/docker/fill", 2 * LIMIT);
    assert_stopped_at("/var/lib/docker of a dind node", &out, size, LIMIT);
    // Nested Docker is out of room too: the container is refused or cannot write.
    let (_, out) = node_exec(
        &s.id,
        "node1",
        "docker run --rm busybox dd if=/dev/zero of=/x bs=1M count=16 2>&1",
    );
    assert!(
        out.to_lowercase().contains("no space left on device"),
        "a nested container wrote on a full disk: {out}"
    );
    // The rest of the node, the other node and the server are fine.
    let (code, out) = node_exec(&s.id, "node2", "echo fine > /root/f && cat /root/f");
    assert_eq!((code, out.trim()), (0, "fine"));
    assert!(server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success()));

    // Room again once the file is gone; a restart keeps the volume's files (and its size).
    let (code, out) = node_exec(
        &s.id,
        "node1",
        "rm /var/lib/docker/fill && echo kept > /var/lib/docker/keep && docker run --rm busybox echo nested-ok 2>&1",
    );
    assert_eq!((code, out.trim()), (0, "nested-ok"));
    let (status, body) = server
        .call(
            "POST",
            &format!("/api/v1/sessions/{}/nodes/node1/restart", s.id),
            Some(&s.token),
            None,
        )
        .await;
    assert!(status < 300, "restart: {status} {body}");
    assert!(
        eventually(Duration::from_secs(60), || node_exec(&s.id, "node1", ready)
            .0
            == 0)
        .await,
        "node1 came back"
    );
    let (code, out) = node_exec(
        &s.id,
        "node1",
        "cat /var/lib/docker/keep && df -m --output=size /var/lib/docker | tail -n 1",
    );
    assert_eq!(code, 0, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("kept"));
    let size_mib: u64 = lines.next().unwrap().trim().parse().unwrap();
    assert!(size_mib <= LIMIT, "{out}");

    // Ending the session removes the volume: nothing is left behind.
    assert_eq!(server.delete_session(&s).await.unwrap(), 204);
    assert!(
        eventually(Duration::from_secs(20), || docker_objects(&s.id).is_empty()).await,
        "left behind: {:?}",
        docker_objects(&s.id)
    );
}

#[tokio::test]
async fn filling_the_writable_layer_of_a_node_stops_at_its_limit() {
    require_docker!();
    const LIMIT: u64 = 256;
    let Some(server) = server_with(
        "node",
        &[
            ("PLAYGROUND_NODE_DISK_MIB", &LIMIT.to_string()),
            ("PLAYGROUND_DIND_VOLUME_MIB", "0"),
        ],
    )
    .await
    else {
        return;
    };
    let s = session(&server).await;
    for node in ["node2", "node1"] {
        let (out, size) = fill(&s, node, "/root/fill", 2 * LIMIT);
        assert_stopped_at(&format!("the writable layer of {node}"), &out, size, LIMIT);
        let (code, out) = node_exec(
            &s.id,
            node,
            "rm /root/fill && echo room > /root/f && cat /root/f",
        );
        assert_eq!((code, out.trim()), (0, "room"));
    }
    assert_eq!(server.delete_session(&s).await.unwrap(), 204);
}
