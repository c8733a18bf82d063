//! The hostile-learner suite (issue 8), against a real `sandbox-server` process
//! on real Docker: what a learner with a shell in a node tries, and what must fail.
//!
//! So far: nodes cannot reach the host. The host firewall (`scripts/setup.sh
//! firewall`, chain `PLAYGROUND-INPUT`) must be installed for the default pool
//! 10.210.0.0/16; the server refuses to start without it. The servers here listen
//! on every host address, as a published server does, so only the firewall
//! stands between a node and the server's port.
//!
//! Probes use `curl` from the learner's terminal (both images have it) with a
//! short timeout: a refused or timed-out connection is the pass.
//!
//! Without Docker these tests skip, except under `CI=true`, where they fail.

use std::process::Command;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use playground_e2e::{docker, node_exec, registry_running, require_docker, Launch, Server, Term};
use protocol::api::CreatedSession;

/// How long a probe waits for the host to answer.
const PROBE_SECS: u32 = 2;

/// A pool outside the installed rule (10.210.0.0/16), for the tests that need one.
const UNCOVERED_POOL: &str = "10.211.9.0/26";

/// The gateway of the session's network: the host's address nearest to a node.
fn session_gateway(s: &CreatedSession) -> String {
    docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &format!("pg-{}", s.id),
    ])
    .expect("inspecting the session network")
}

/// Every IPv4 address of the host but loopback (from a node, 127.0.0.1 is the node).
fn host_addresses() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("running ip addr");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|cidr| cidr.split('/').next())
        .filter(|a| !a.starts_with("127."))
        .map(str::to_owned)
        .collect()
}

/// A shell loop that tries every `addr:port` with `connect` (a command using `$a`
/// and `$p`) and prints one line each: `REACHED <addr>:<port>`, `blocked
/// <addr>:<port> (exit N)` when it failed with one of `refused` (the exit codes of
/// a refused or timed-out connection), or `ERROR` for any other failure (a probe
/// that cannot run must not pass as blocked).
fn probe_script(connect: &str, refused: &str, addrs: &[String], ports: &[u16]) -> String {
    let targets: Vec<String> = addrs
        .iter()
        .flat_map(|a| ports.iter().map(move |p| format!("{a}:{p}")))
        .collect();
    format!(
        "for t in {}; do a=${{t%:*}}; p=${{t#*:}}; \
         if {connect} >/dev/null 2>&1; then echo REACHED $t; else rc=$?; \
         case $rc in {refused}) echo blocked $t \"(exit $rc)\";; \
         *) echo ERROR $t \"(exit $rc)\";; esac; fi; done",
        targets.join(" ")
    )
}

/// Runs [`probe_script`] with `curl` (exit 7: refused, 28: timed out) in the
/// learner's terminal, asking each target for `/healthz`.
async fn probe(term: &mut Term, addrs: &[String], ports: &[u16]) -> String {
    let curl = format!("curl -s -m {PROBE_SECS} -o /dev/null http://$a:$p/healthz");
    let cmd = probe_script(&curl, "7|28", addrs, ports);
    let probes = (addrs.len() * ports.len()) as u64;
    let timeout = Duration::from_secs(u64::from(PROBE_SECS + 3) * probes + 10);
    term.run(&cmd, timeout).await.expect("probing from a node")
}

/// Asserts that every one of `probes` targets answered, none of them reached.
fn assert_all_blocked(from: &str, out: &str, probes: usize) {
    eprintln!("{from}:\n{out}");
    assert!(!out.contains("REACHED"), "{from} reached the host:\n{out}");
    assert_eq!(
        out.matches("blocked").count(),
        probes,
        "one answer per target from {from}:\n{out}"
    );
}

/// Another service on every address of the host: answers each connection with
/// `200 ok`, so a probe that reached it would say so.
async fn answering_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
        }
    });
    (port, task)
}

/// The error of a server started with one setting that must stop it; panics,
/// naming `what` was wrong, when it starts anyway.
async fn start_error((key, value): (&str, &str), what: &str) -> String {
    match Launch::default().env(key, value).start().await {
        Ok(_) => panic!("the server started with {what} ({key}={value})"),
        Err(e) => format!("{e:#}"),
    }
}

async fn healthy(server: &Server) -> bool {
    match server.http.get(server.url("/healthz")).send().await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn nodes_cannot_reach_the_host_yet_previews_dns_and_the_mirror_still_work() {
    require_docker!();
    let server = Launch::default().on_all_addresses().start().await.unwrap();
    // node1 runs Docker-in-Docker, node2 is a plain base node.
    let s = server.create_session("docker-4-networking").await.unwrap();
    let mut addrs = vec![session_gateway(&s), "172.17.0.1".to_owned()];
    addrs.extend(host_addresses());
    addrs.sort();
    addrs.dedup();

    // Not only the server: anything listening on the host.
    let (other_port, other) = answering_listener().await;
    // The app's port, the previews' and another service's.
    let ports = [server.port, server.preview_port, other_port];
    let probes = addrs.len() * ports.len();

    for node in ["node1", "node2"] {
        let mut term = server.prompt(&s, node).await.unwrap();
        let out = probe(&mut term, &addrs, &ports).await;
        assert_all_blocked(node, &out, probes);
        // Docker's embedded DNS (in the node's own namespace) still names the peers.
        let other = if node == "node1" { "node2" } else { "node1" };
        let dns = term
            .run(
                &format!("getent hosts {other} >/dev/null && echo PEER-OK"),
                Duration::from_secs(15),
            )
            .await
            .unwrap();
        assert!(dns.contains("PEER-OK"), "{node} -> {other}: {dns}");
        term.close().await;
    }
    if registry_running() {
        // The mirror is on the session network too: nested Docker pulls through it.
        let (code, out) = node_exec(
            &s.id,
            "node1",
            "curl -s -m 5 -o /dev/null -w '%{http_code}' http://registry:5000/v2/",
        );
        assert_eq!((code, out.as_str()), (0, "200"), "the registry mirror");
        // A container of the nested Docker leaves node1 with node1's address: blocked too.
        // (Inside node1, 172.17.0.1 is node1's own docker0, not the host.)
        let ready = "for i in $(seq 240); do test -e /run/playground-dind-ready && exit 0; \
                     sleep 0.25; done; exit 1";
        assert_eq!(
            node_exec(&s.id, "node1", ready).0,
            0,
            "nested dockerd came up"
        );
        // busybox nc (the stand-in's wget crashes): exit 0 connected, 1 could not.
        let nc = format!("nc -w {PROBE_SECS} $a $p </dev/null");
        let script = probe_script(&nc, "1", &addrs, &ports);
        let (code, out) = node_exec(
            &s.id,
            "node1",
            &format!("docker run --rm busybox sh -c '{script}' 2>&1"),
        );
        assert_eq!(code, 0, "{out}");
        assert_all_blocked("a container in node1", &out, probes);
    }
    other.abort();
    assert!(healthy(&server).await, "the server stays healthy");

    // Host to node still works: the preview proxy's replies are ESTABLISHED.
    // The base image has no web server: the host's static busybox serves a page.
    docker(&[
        "cp",
        "/bin/busybox",
        &format!("pg-{}-node2:/usr/local/bin/busybox", s.id),
    ])
    .expect("copying busybox into node2 (scripts/setup.sh tools installs busybox-static)");
    let (code, out) = node_exec(
        &s.id,
        "node2",
        "mkdir -p /srv/www && echo 'hello from node2' > /srv/www/index.html && \
         busybox httpd -p 8000 -h /srv/www && \
         for i in $(seq 50); do busybox wget -q -O /dev/null http://127.0.0.1:8000/ && exit 0; \
         sleep 0.1; done; exit 1",
    );
    assert_eq!(code, 0, "starting a web server in node2: {out}");
    let r = server
        .http
        .get(server.preview_url(&format!("/preview/{}/node2/8000/", s.id)))
        .header("Cookie", format!("pg_preview={}", s.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "hello from node2\n");
    server.delete_session(&s).await.unwrap();
}

/// The control of the test above: on a pool the rule does not cover, with the
/// check turned off, the same probe reaches the server. So "blocked" above is the
/// firewall's doing, not a probe that cannot connect at all.
#[tokio::test]
async fn without_the_rule_a_node_reaches_the_server_which_is_why_the_check_exists() {
    require_docker!();
    let server = Launch::default()
        .on_all_addresses()
        .env("PLAYGROUND_SESSION_SUBNET_POOL", UNCOVERED_POOL)
        .env("PLAYGROUND_REQUIRE_HOST_FIREWALL", "false")
        .start()
        .await
        .unwrap();
    let s = server.create_session("shell").await.unwrap();
    let mut term = server.prompt(&s, "node1").await.unwrap();
    let (other_port, other) = answering_listener().await;
    let out = probe(
        &mut term,
        &[session_gateway(&s)],
        &[server.port, other_port],
    )
    .await;
    assert_eq!(out.matches("REACHED").count(), 2, "{out}");
    other.abort();
    term.close().await;
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn the_server_refuses_to_start_when_the_rule_does_not_cover_its_pool() {
    require_docker!();
    let err = start_error(
        ("PLAYGROUND_SESSION_SUBNET_POOL", UNCOVERED_POOL),
        "nodes able to reach the host",
    )
    .await;
    assert!(err.contains("scripts/setup.sh firewall"), "{err}");
    assert!(err.contains(UNCOVERED_POOL), "{err}");
}

/// `p FILE` opens FILE for appending and closes it again: it writes nothing, so
/// a probe that succeeds harms nothing. Prints `OPEN FILE`, `refused FILE`, or
/// `absent FILE` (never created: `>>` on a missing file would create it).
const OPEN_PROBE: &str = r#"p() { if [ ! -e "$1" ]; then echo "absent $1"; elif (exec 3>>"$1") 2>/dev/null; then echo "OPEN $1"; else echo "refused $1"; fi; }"#;

/// The escape primitives of a root shell in a container, each probed without
/// being fired (issue 8; docs/security.md):
/// - host sysctls and the crash handler (`core_pattern` runs a program as host root),
/// - cgroup v1 `release_agent` (runs a program as host root when a cgroup empties),
///   in the mounted hierarchies and in a new one the node would mount itself,
/// - the node's own `devices.allow` (opens host devices) and limit files,
/// - a device node for the host's first disk, opened for reading,
/// - the uid the node's root has on the host,
/// - a kernel keyring of its own (keys are counted per host user, and every node's
///   root is the same one: a node that could make keys could use up the quota and
///   stop every other learner's nodes and shells from starting).
fn escape_probes() -> String {
    format!(
        r#"{OPEN_PROBE}
for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sys/vm/overcommit_memory \
         /proc/sysrq-trigger /sys/kernel/uevent_helper /sys/fs/cgroup/*/release_agent \
         /sys/fs/cgroup/devices/devices.allow /sys/fs/cgroup/memory/memory.limit_in_bytes \
         /sys/fs/cgroup/pids/pids.max; do p "$f"; done
mkdir -p /tmp/pg-probe-cg
if mount -t cgroup -o none,name=pgprobe cgroup /tmp/pg-probe-cg 2>/dev/null; then
  echo "OPEN new-cgroup-hierarchy"; p /tmp/pg-probe-cg/release_agent; umount /tmp/pg-probe-cg
else echo "refused new-cgroup-hierarchy"; fi
disk=$(awk 'NR > 2 && $4 !~ /[0-9]$/ {{ print $1, $2; exit }}' /proc/partitions)
if [ -z "$disk" ]; then echo "absent host-disk"
elif mknod /tmp/pg-probe-disk b $disk 2>/dev/null && (exec 3</tmp/pg-probe-disk) 2>/dev/null; then
  echo "OPEN host-disk"
else echo "refused host-disk"; fi
rm -f /tmp/pg-probe-disk
case $(uname -m) in x86_64) keyctl=250 ;; aarch64) keyctl=219 ;; *) keyctl= ;; esac
if [ -z "$keyctl" ] || ! command -v perl >/dev/null; then echo "absent kernel-keyring"
elif perl -e "exit(syscall($keyctl, 1, 0) < 0 ? 1 : 0)"; then echo "OPEN kernel-keyring"
else echo "refused kernel-keyring"; fi
echo "root-is-host-uid $(awk '$1 == 0 {{ print $2 }}' /proc/self/uid_map)"
"#
    )
}

/// Asserts the output of [`escape_probes`]: nothing opened, the primitives that
/// must be there were there and refused, and root is not the host's root.
fn assert_no_escape(from: &str, out: &str) {
    eprintln!("{from}:\n{out}");
    // Line starts only: a terminal also echoes the script, which says "OPEN" too.
    let out = without_escapes(out);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(
        !lines.iter().any(|l| l.starts_with("OPEN ")),
        "{from} opened an escape primitive:\n{out}"
    );
    for must in [
        "refused /proc/sys/kernel/core_pattern",
        "refused /proc/sys/vm/overcommit_memory",
        "refused /sys/fs/cgroup/devices/devices.allow",
        "refused /sys/fs/cgroup/memory/memory.limit_in_bytes",
        "refused new-cgroup-hierarchy",
        "refused host-disk",
    ] {
        assert!(lines.contains(&must), "{from}: expected '{must}':\n{out}");
    }
    let uid = out
        .lines()
        .find_map(|l| l.strip_prefix("root-is-host-uid "))
        .unwrap_or_else(|| panic!("{from}: no uid map line:\n{out}"));
    let uid: u64 = uid
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{from}: {out}"));
    assert!(uid >= 1000, "{from}: root in the node is host uid {uid}");
}

#[tokio::test]
async fn escapes_from_nodes_and_nested_containers_are_refused() {
    require_docker!();
    let server = Launch::default().start().await.unwrap();
    // node1 runs Docker-in-Docker (all capabilities, of its user namespace), node2 is a
    // base node. Both through the learner's terminal.
    let s = server.create_session("docker-4-networking").await.unwrap();
    let script = escape_probes();
    for node in ["node1", "node2"] {
        let mut term = server.prompt(&s, node).await.unwrap();
        let out = term
            .run(
                &format!("{script}echo PROBES''-DONE"),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert!(out.contains("PROBES-DONE"), "{node}: {out}");
        assert_no_escape(node, &out);
        assert!(
            without_escapes(&out)
                .lines()
                .any(|l| l.trim() == "refused kernel-keyring"),
            "{node}: the kernel keyring was not refused:\n{out}"
        );
        term.close().await;
    }

    // Inside node1 the learner is root of its own Docker: a nested container with
    // every capability and no seccomp gets no further.
    let ready = "for i in $(seq 240); do test -e /run/playground-dind-ready && exit 0; \
                 sleep 0.25; done; exit 1";
    assert_eq!(
        node_exec(&s.id, "node1", ready).0,
        0,
        "nested dockerd came up"
    );
    std::fs::write(
        std::env::temp_dir().join(format!("pg-probe-{}.sh", s.id)),
        &script,
    )
    .unwrap();
    docker(&[
        "cp",
        &std::env::temp_dir()
            .join(format!("pg-probe-{}.sh", s.id))
            .to_string_lossy(),
        &format!("pg-{}-node1:/tmp/probe.sh", s.id),
    ])
    .unwrap();
    let (_, out) = node_exec(
        &s.id,
        "node1",
        "docker run --rm --cap-add ALL --security-opt seccomp=unconfined \
         --security-opt apparmor=unconfined -v /tmp/probe.sh:/probe.sh busybox sh /probe.sh 2>&1",
    );
    assert_no_escape("a nested container with every capability", &out);
    // `--privileged` inside a node does not start at all: it would mount /sys
    // read-write, which the node's user namespace may not.
    let (code, out) = node_exec(
        &s.id,
        "node1",
        "docker run --rm --privileged -v /tmp/probe.sh:/probe.sh busybox sh /probe.sh 2>&1",
    );
    assert!(!out.lines().any(|l| l.starts_with("OPEN ")), "{out}");
    assert_ne!(code, 0, "a privileged nested container started: {out}");

    assert!(healthy(&server).await, "the server stays healthy");
    server.delete_session(&s).await.unwrap();
    let left = playground_e2e::docker_objects(&s.id);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `text` without terminal control sequences (`ESC [ ... letter`).
fn without_escapes(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
}

/// The control of the test above: the same probe, run by root on the host (not in
/// a node), opens `core_pattern`. So "refused" above is the isolation's doing, not
/// a probe that cannot open anything. It only opens the file and closes it.
#[test]
fn the_escape_probe_opens_core_pattern_as_host_root() {
    if !nix_is_root() {
        eprintln!("SKIPPED: needs root (the CI user is root)");
        return;
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{OPEN_PROBE}\np /proc/sys/kernel/core_pattern"))
        .output()
        .expect("sh");
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.trim(), "OPEN /proc/sys/kernel/core_pattern");
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test]
async fn the_server_refuses_to_start_without_the_learner_engine_or_its_seccomp_profile() {
    require_docker!();
    let err = start_error(
        (
            "PLAYGROUND_ENGINE_SOCKET",
            "/run/playground-engine/missing.sock",
        ),
        "no engine",
    )
    .await;
    assert!(err.contains("/run/playground-engine/missing.sock"), "{err}");
    assert!(err.contains("scripts/setup.sh engine"), "{err}");

    let err = start_error(
        (
            "PLAYGROUND_DIND_SECCOMP_PROFILE",
            "/nonexistent/seccomp.json",
        ),
        "no dind seccomp profile",
    )
    .await;
    assert!(err.contains("/nonexistent/seccomp.json"), "{err}");
}
