//! End-to-end tests of `sandbox-server` against real Docker: a real server
//! process, real containers, real WebSockets. Run with `cargo test -p playground-e2e`.
//! Without Docker they are skipped locally and fail when `CI=true`.

use std::time::Duration;

use playground_e2e::{
    docker, docker_objects, eventually, require_docker, shell_session, Server, Term,
};
use protocol::terminal::{close_code, ClientFrame, Event};
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn typing_echo_hello_reads_hello_back() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    assert_eq!(s.nodes.len(), 1);
    let mut term = server.prompt(&s, "node1").await.unwrap();
    assert_eq!(term.run("echo hello", T).await.unwrap(), "hello");
    assert_eq!(term.run("hostname", T).await.unwrap(), "node1");
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn resize_changes_stty_size() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    term.resize(132, 43).await.unwrap();
    assert_eq!(term.run("stty size", T).await.unwrap(), "43 132");
    // A burst (a window dragged): resizes within `resize_interval_ms` (100 ms)
    // are held, and the last size reaches the PTY when the interval ends.
    for cols in 91..=140 {
        term.resize(cols, 30).await.unwrap();
    }
    term.resize(90, 30).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(term.run("stty size", T).await.unwrap(), "30 90");
    // The screen mirror follows too.
    let screen = server.screen(&s, "node1").await.unwrap();
    assert!(screen.contains("30 90"), "{screen}");
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn reconnect_shows_the_previous_screen_once_then_live_output() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    term.run("echo marker-$((6*7))", T).await.unwrap();
    term.close().await;

    let mut again = server.terminal(&s, "node1").await.unwrap();
    again.drain(Duration::from_millis(500)).await.unwrap();
    // The command line and its output: each exactly once.
    assert_eq!(
        again.transcript.matches("marker-$((6*7))").count(),
        1,
        "{:?}",
        again.transcript
    );
    assert_eq!(
        again.transcript.matches("marker-42").count(),
        1,
        "{:?}",
        again.transcript
    );
    // A second client watching sees the same live output as the first.
    let mut watcher = server.terminal(&s, "node1").await.unwrap();
    watcher.drain(Duration::from_millis(300)).await.unwrap();
    again.type_text("echo live-$((2+3))\r").await.unwrap();
    again.wait_for("live-5", T).await.unwrap();
    watcher.wait_for("live-5", T).await.unwrap();
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn exit_sends_the_code_and_a_new_connection_gets_a_new_shell() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    term.type_text("exit 3\r").await.unwrap();
    let (events, close) = term.events_until_closed(T).await.unwrap();
    let exit = events.iter().rev().find_map(|e| match e {
        Event::Exit { code } => Some(*code),
        _ => None,
    });
    assert_eq!(exit, Some(3));
    assert_eq!(close.map(|c| c.0), Some(close_code::NORMAL));
    let mut term = server.terminal(&s, "node1").await.unwrap();
    assert_eq!(term.run("echo again", T).await.unwrap(), "again");
    server.delete_session(&s).await.unwrap();
}

/// What confines a process in a node, as the node's own `/proc` shows it:
/// user, capabilities, seccomp, no-new-privileges, cgroup, AppArmor.
const CONFINEMENT: &str = "grep --color=never -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/self/cgroup; cat /proc/self/attr/current 2>/dev/null; echo end-of-confinement";

/// The server holds a shell's PTY itself (`shell_pty = "auto"`, root next to
/// the Engine: `direct`), and that shell is confined exactly as a `docker
/// exec` into the same node is; the shell is the server's child, reaped with
/// its exit code.
#[tokio::test]
async fn a_shell_whose_pty_the_server_holds_is_confined_as_docker_exec_is() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    let log = server.log();
    let direct = log.contains("the server holds their PTYs");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(direct, "CI runs as root next to the Engine: {log}");
    }
    let in_terminal = term.run(CONFINEMENT, T).await.unwrap();
    let container = format!("pg-{}-node1", s.id);
    let by_exec = docker(&["exec", &container, "sh", "-c", CONFINEMENT]).unwrap();
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_owned())
            .take_while(|l| l != "end-of-confinement")
            .collect()
    };
    assert!(
        lines(&in_terminal).iter().any(|l| l.starts_with("CapEff:")),
        "{in_terminal}"
    );
    assert_eq!(lines(&in_terminal), lines(&by_exec));
    if direct {
        // The shell is a child of the server (a subreaper), on the node's PTY.
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", server.pid()))
                .unwrap_or_default();
        assert!(!children.trim().is_empty(), "no child of the server");
    }
    server.delete_session(&s).await.unwrap();
}

/// `shell_pty = "engine"`: shells through `docker exec` attach still echo,
/// resize and report their exit code.
#[tokio::test]
async fn shells_through_the_engine_echo_resize_and_report_their_exit() {
    let Some((server, s)) = shell_session(&[("PLAYGROUND_SHELL_PTY", "engine")]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    assert!(
        server.log().contains("shells: through the Engine"),
        "{}",
        server.log()
    );
    assert_eq!(term.run("echo via-$((40+2))", T).await.unwrap(), "via-42");
    term.resize(100, 33).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(term.run("stty size", T).await.unwrap(), "33 100");
    term.type_text("exit 4\r").await.unwrap();
    let (events, _) = term.events_until_closed(T).await.unwrap();
    let exit = events.iter().rev().find_map(|e| match e {
        Event::Exit { code } => Some(*code),
        _ => None,
    });
    assert_eq!(exit, Some(4));
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn restart_node_keeps_files_ends_processes_and_terminals_reconnect() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.terminal(&s, "node1").await.unwrap();
    term.run(
        "echo kept > /root/file; nohup sleep 1000 >/dev/null 2>&1 & echo started",
        T,
    )
    .await
    .unwrap();
    let restart = |node: &str, token: &str| {
        server
            .http
            .post(server.url(&format!("/api/v1/sessions/{}/nodes/{node}/restart", s.id)))
            .bearer_auth(token)
            .send()
    };
    // Two at once: one restarts, the other is told it is already happening.
    let (a, b) = tokio::join!(restart("node1", &s.token), restart("node1", &s.token));
    let mut codes = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    codes.sort();
    assert_eq!(codes, [204, 409]);
    // The connected terminal was told, then asked to reconnect.
    let (events, close) = term.events_until_closed(T).await.unwrap();
    let notice = events.iter().rev().find_map(|e| match e {
        Event::Notice { message, .. } => Some(message.as_str()),
        _ => None,
    });
    assert_eq!(notice, Some("node1 is restarting"));
    assert_eq!(close.map(|c| c.0), Some(close_code::TRY_AGAIN_LATER));
    let mut term = server.terminal(&s, "node1").await.unwrap();
    let out = term
        .run("cat /root/file; pgrep -fc 'sleep 1000'", T)
        .await
        .unwrap();
    assert_eq!(out, "kept\n0", "files stay, processes are gone");
    // Unknown node, bad token.
    let r = restart("node9", &s.token).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = restart("node1", "wrong").await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn api_errors_have_the_documented_status_and_body() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let http = &server.http;
    let get = |path: String, token: Option<&str>| {
        let mut req = http.get(server.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let path = format!("/api/v1/sessions/{}", s.id);
    assert_eq!(get(path.clone(), None).await, (401, "unauthorized".into()));
    assert_eq!(
        get(path.clone(), Some("wrong")).await,
        (403, "forbidden".into())
    );
    assert_eq!(
        get("/api/v1/sessions/nope".into(), Some(&s.token)).await,
        (404, "not_found".into())
    );
    assert_eq!(
        get(format!("{path}/nodes/node9/screen"), Some(&s.token)).await,
        (404, "not_found".into())
    );
    let ok = http
        .get(server.url(&path))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let info: protocol::api::SessionInfo = ok.json().await.unwrap();
    assert_eq!(info.lesson, "shell");

    // Bad bodies: 400 with a message, 413 when too large; nothing is created.
    let post = |body: String| {
        let req = http
            .post(server.url("/api/v1/sessions"))
            .header("content-type", "application/json")
            .body(body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post("{not json".into()).await, 400);
    assert_eq!(post(r#"{"lesson":"no-such-lesson"}"#.into()).await, 400);
    assert_eq!(post(r#"{"lesson":"shell","extra":1}"#.into()).await, 400);
    assert_eq!(
        post(format!(r#"{{"lesson":"{}"}}"#, "x".repeat(100_000))).await,
        413
    );

    // A terminal of an unknown node or with a bad token is refused before upgrading.
    let bad = Term::connect(&server.ws_url(&format!(
        "/api/v1/sessions/{}/nodes/node1/terminal?token=wrong",
        s.id
    )))
    .await;
    assert!(bad.is_err());
    assert_eq!(server.delete_session(&s).await.unwrap(), 204);
    assert_eq!(get(path, Some(&s.token)).await.0, 404);
}

#[tokio::test]
async fn malformed_and_oversized_frames_close_only_that_socket() {
    let Some((server, s)) = shell_session(&[("PLAYGROUND_MAX_FRAME_BYTES", "4096")]).await else {
        return;
    };

    let cases: Vec<(Message, u16)> = vec![
        (
            Message::Binary(vec![0x7f, 1, 2].into()),
            close_code::UNSUPPORTED_DATA,
        ),
        (
            Message::Binary(vec![0x01, 0, 80].into()),
            close_code::UNSUPPORTED_DATA,
        ),
        (
            Message::Binary(vec![0x01, 0, 0, 0, 24].into()),
            close_code::UNSUPPORTED_DATA,
        ),
        (Message::Binary(vec![].into()), close_code::UNSUPPORTED_DATA),
        (Message::Text("ls\r".into()), close_code::UNSUPPORTED_DATA),
        (
            Message::Binary(vec![0u8; 10_000].into()),
            close_code::MESSAGE_TOO_BIG,
        ),
    ];
    let mut healthy = server.prompt(&s, "node1").await.unwrap();
    for (msg, want) in cases {
        let mut term = server.terminal(&s, "node1").await.unwrap();
        term.drain(Duration::from_millis(100)).await.unwrap();
        term.send_raw(msg.clone()).await.unwrap();
        let close = term.wait_closed(T).await.unwrap();
        assert_eq!(
            close.as_ref().map(|c| c.0),
            Some(want),
            "{msg:?} -> {close:?}"
        );
        assert!(!close.unwrap().1.is_empty(), "a close reason is given");
    }
    // The other client and the shell are unaffected.
    assert_eq!(
        healthy.run("echo still-here", T).await.unwrap(),
        "still-here"
    );
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn flow_control_pauses_a_client_that_does_not_ack_and_ctrl_c_still_works() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    term.auto_ack = false;
    let before = term.received_bytes;
    // Endless output: without flow control this would flood the socket.
    term.type_text("yes flood-flood-flood-flood\r")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    term.drain(Duration::from_millis(500)).await.unwrap();
    let got = term.received_bytes - before;
    let high = protocol::terminal::FLOW_HIGH_WATER;
    assert!(got > high / 2, "output flowed at first: {got}");
    assert!(
        got < high + 512 * 1024,
        "output stopped near the high mark: {got}"
    );
    // Still paused a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    term.drain(Duration::from_millis(300)).await.unwrap();
    let paused_at = term.received_bytes;
    assert!(paused_at - before < high + 512 * 1024);
    // Ctrl-C goes through while output is paused; acking lets the rest drain.
    term.type_text("\x03").await.unwrap();
    term.send_frame(ClientFrame::Ack((paused_at - before) as u32))
        .await
        .unwrap();
    term.auto_ack = true;
    term.type_text("echo after-$((1+1))\r").await.unwrap();
    term.wait_for("after-2", T).await.unwrap();
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn expired_sessions_are_removed_with_their_containers_and_network() {
    let Some((server, s)) = shell_session(&[
        ("PLAYGROUND_SESSION_LIFETIME_SECS", "4"),
        ("PLAYGROUND_REAP_INTERVAL_SECS", "1"),
        ("PLAYGROUND_EXPIRY_WARNING_SECS", "3"),
    ])
    .await
    else {
        return;
    };
    assert!(
        docker_objects(&s.id).len() >= 2,
        "container and network exist"
    );
    let mut term = server.terminal(&s, "node1").await.unwrap();
    let (events, close) = term
        .events_until_closed(Duration::from_secs(15))
        .await
        .unwrap();
    let warned = events
        .iter()
        .any(|e| matches!(e, Event::Notice { message, .. } if message.contains("ends in")));
    assert!(warned, "a warning came before the end");
    assert_eq!(close.map(|c| c.1), Some("session expired".to_owned()));
    assert!(eventually(Duration::from_secs(10), || docker_objects(&s.id).is_empty()).await);
    let r = server
        .http
        .get(server.url(&format!("/api/v1/sessions/{}", s.id)))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("playground_sessions_reaped_total{reason=\"expired\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn idle_sessions_are_reaped_but_watched_ones_stay() {
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_IDLE_TIMEOUT_SECS", "3"),
        ("PLAYGROUND_REAP_INTERVAL_SECS", "1"),
    ])
    .await
    .unwrap();
    let idle = server.create_session("shell").await.unwrap();
    let watched = server.create_session("shell").await.unwrap();
    let mut term = server.prompt(&watched, "node1").await.unwrap();
    assert!(
        eventually(Duration::from_secs(15), || docker_objects(&idle.id)
            .is_empty())
        .await
    );
    assert!(
        !docker_objects(&watched.id).is_empty(),
        "a session with a client is not idle"
    );
    assert_eq!(term.run("echo alive", T).await.unwrap(), "alive");
    // Once its client leaves, it goes too.
    term.close().await;
    assert!(
        eventually(Duration::from_secs(15), || docker_objects(&watched.id)
            .is_empty())
        .await
    );
}

#[tokio::test]
async fn a_restarted_server_serves_old_sessions_and_removes_orphans() {
    let Some((mut server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.terminal(&s, "node1").await.unwrap();
    term.run("echo before > /root/state", T).await.unwrap();
    // An orphan: labelled as ours, but no record owns it.
    let orphan = "0rphan0rphan0001";
    docker(&[
        "run",
        "-d",
        "--name",
        &format!("pg-{orphan}-node1"),
        "--label",
        "io.playground.managed=true",
        "--label",
        &format!("io.playground.instance={}", server.instance),
        "--label",
        &format!("io.playground.session={orphan}"),
        "--label",
        "io.playground.node=node1",
        "playground/base:latest",
        "sleep",
        "infinity",
    ])
    .unwrap();
    docker(&[
        "network",
        "create",
        "--label",
        "io.playground.managed=true",
        "--label",
        &format!("io.playground.instance={}", server.instance),
        "--label",
        &format!("io.playground.session={orphan}"),
        &format!("pg-{orphan}"),
    ])
    .unwrap();

    // SIGTERM: terminals are told to come back; the process exits cleanly.
    let stopping = tokio::spawn(async move {
        let close = term.wait_closed(Duration::from_secs(15)).await;
        close.unwrap().map(|c| c.0)
    });
    server.restart().await.unwrap();
    assert_eq!(stopping.await.unwrap(), Some(close_code::GOING_AWAY));

    assert!(
        docker_objects(orphan).is_empty(),
        "orphan removed: {:?}",
        docker_objects(orphan)
    );
    let r = server
        .http
        .get(server.url(&format!("/api/v1/sessions/{}", s.id)))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the old token still works");
    let mut term = server.terminal(&s, "node1").await.unwrap();
    // The screen from before the restart is repainted (once), with a note that
    // the shell is new, and the new shell works below it.
    term.wait_for("this is a new shell", T).await.unwrap();
    assert_eq!(term.run("cat /root/state", T).await.unwrap(), "before");
    let screen = server.screen(&s, "node1").await.unwrap();
    assert_eq!(
        screen.matches("BEGIN1Z").count(),
        1,
        "the old screen (the first command's output), once:\n{screen}"
    );
    assert!(
        screen.find("BEGIN1Z").unwrap() < screen.find("this is a new shell").unwrap(),
        "{screen}"
    );
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn session_limits_answer_503_with_retry_after_and_429_per_ip() {
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_MAX_SESSIONS", "2"),
        ("PLAYGROUND_MAX_SESSIONS_PER_IP", "1"),
        ("PLAYGROUND_RETRY_AFTER_SECS", "42"),
    ])
    .await
    .unwrap();
    let first = server.create_session("shell").await.unwrap();
    let r = server.post_session("shell").await;
    assert_eq!(r.status().as_u16(), 429);
    server.delete_session(&first).await.unwrap();

    let server = Server::start(&[("PLAYGROUND_MAX_SESSIONS", "1")])
        .await
        .unwrap();
    let only = server.create_session("shell").await.unwrap();
    let r = server.post_session("shell").await;
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "server_full");
    server.delete_session(&only).await.unwrap();
    // Freed capacity is usable again.
    let again = server.create_session("shell").await.unwrap();
    server.delete_session(&again).await.unwrap();
}

#[tokio::test]
async fn session_networks_take_small_subnets_from_the_pool_so_many_sessions_fit() {
    require_docker!();
    // A pool of two /27 blocks: two sessions fit, the third is told to come back.
    // It lies outside the host firewall's pool (10.210.0.0/16), hence the opt-out;
    // tests/hostile.rs covers the firewall.
    let server = Server::start(&[
        ("PLAYGROUND_SESSION_SUBNET_POOL", "10.211.7.0/26"),
        ("PLAYGROUND_REQUIRE_HOST_FIREWALL", "false"),
        ("PLAYGROUND_RETRY_AFTER_SECS", "7"),
    ])
    .await
    .unwrap();
    let a = server.create_session("shell").await.unwrap();
    let b = server.create_session("shell").await.unwrap();
    let subnet = |id: &str| {
        docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            &format!("pg-{id}"),
        ])
        .unwrap()
    };
    let mut subnets = [subnet(&a.id), subnet(&b.id)];
    subnets.sort();
    assert_eq!(subnets, ["10.211.7.0/27", "10.211.7.32/27"]);
    let r = server.post_session("shell").await;
    assert_eq!(r.status().as_u16(), 503, "pool exhausted is full");
    assert_eq!(r.headers()["retry-after"], "7");
    server.delete_session(&a).await.unwrap();
    server.delete_session(&b).await.unwrap();
    drop(server);

    // With the default pool, more sessions than Docker's own address pools
    // hold (about 30 networks) all start.
    let server = Server::start(&[
        ("PLAYGROUND_MAX_SESSIONS", "40"),
        ("PLAYGROUND_MAX_SESSIONS_PER_IP", "40"),
        ("PLAYGROUND_SESSION_CREATIONS_PER_MINUTE", "40"),
    ])
    .await
    .unwrap();
    let mut sessions = Vec::new();
    for _ in 0..36 {
        sessions.push(server.create_session("shell").await.unwrap());
    }
    let mut term = server.terminal(&sessions[35], "node1").await.unwrap();
    assert_eq!(term.run("echo last-one", T).await.unwrap(), "last-one");
    for s in &sessions {
        server.delete_session(s).await.unwrap();
    }
}

#[tokio::test]
async fn nodes_run_with_the_configured_limits_and_a_fork_bomb_or_memory_hog_stays_contained() {
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_NODE_MEMORY_MIB", "128"),
        ("PLAYGROUND_NODE_PIDS", "64"),
        ("PLAYGROUND_NODE_CPUS", "0.5"),
    ])
    .await
    .unwrap();
    let victim = server.create_session("shell").await.unwrap();
    let bystander = server.create_session("shell").await.unwrap();
    let name = format!("pg-{}-node1", victim.id);
    let inspect = docker(&[
        "inspect", "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Init}}",
        &name,
    ])
    .unwrap();
    assert_eq!(
        inspect,
        "134217728 134217728 500000000 64 [ALL] [no-new-privileges] true"
    );

    let mut bad = server.prompt(&victim, "node1").await.unwrap();
    // Memory hog: `tail` buffers an endless line until the OOM killer stops it.
    let out = bad
        .run("tail /dev/zero; echo status=$?", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        out.contains("status=137"),
        "killed by the OOM killer: {out}"
    );
    // Fork bomb: the pids limit holds it; the node survives.
    bad.type_text(":(){ :|:& };:\r").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut good = server.terminal(&bystander, "node1").await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(good.run("echo fine", T).await.unwrap(), "fine");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bystander answered in {:?}",
        started.elapsed()
    );
    assert!(server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let pids: u64 = docker(&["inspect", "--format", "{{.State.Pid}}", &name])
        .map(|_| {
            docker(&["top", &name, "-o", "pid"])
                .unwrap()
                .lines()
                .count() as u64
        })
        .unwrap();
    assert!(pids <= 64 + 1, "pids limit holds: {pids}");
    server.delete_session(&victim).await.unwrap();
    server.delete_session(&bystander).await.unwrap();
}

#[tokio::test]
async fn nodes_reach_each_other_by_name_but_not_another_session() {
    require_docker!();
    let server = Server::start(&[]).await.unwrap();
    // linux-basics (from lessons/) has two nodes.
    let a = server.create_session("linux-basics").await.unwrap();
    let b = server.create_session("shell").await.unwrap();
    let ip_a = docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &format!("pg-{}-node1", a.id),
    ])
    .unwrap();
    let mut term_b = server.terminal(&b, "node1").await.unwrap();
    let out = term_b
        .run(
            &format!(
                "ping -c1 -W1 {ip_a} >/dev/null 2>&1; echo rc=$?; echo names=$(timeout 3 getent hosts node2 | wc -l)"
            ),
            T,
        )
        .await
        .unwrap();
    assert!(
        out.starts_with("rc=1") || out.starts_with("rc=2"),
        "other session unreachable: {out}"
    );
    assert!(
        out.ends_with("names=0"),
        "the other session's node2 does not resolve here: {out}"
    );
    let mut term_a = server.terminal(&a, "node1").await.unwrap();
    let out = term_a
        .run("ping -c1 -W2 node2 >/dev/null && echo node2-ok", T)
        .await
        .unwrap();
    assert_eq!(out, "node2-ok");
    let mut term_a2 = server.terminal(&a, "node2").await.unwrap();
    let out = term_a2
        .run("ping -c1 -W2 node1 >/dev/null && echo node1-ok", T)
        .await
        .unwrap();
    assert_eq!(out, "node1-ok");
    server.delete_session(&a).await.unwrap();
    server.delete_session(&b).await.unwrap();
}

#[tokio::test]
async fn metrics_count_sessions_and_terminal_bytes() {
    let Some((server, s)) = shell_session(&[]).await else {
        return;
    };
    let mut term = server.terminal(&s, "node1").await.unwrap();
    term.run("echo counted", T).await.unwrap();
    let text = server.metrics().await;
    assert!(text.contains("playground_sessions_live 1"), "{text}");
    assert!(
        text.contains("playground_sessions_created_total 1"),
        "{text}"
    );
    assert!(
        text.contains("playground_session_start_seconds_count 1"),
        "{text}"
    );
    let out_bytes: u64 = text
        .lines()
        .find(|l| l.starts_with("playground_terminal_bytes_total{direction=\"out\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap();
    assert!(out_bytes > 10);
    server.delete_session(&s).await.unwrap();
}

/// Names of the containers and networks labelled with the server's `instance`.
fn instance_objects(server: &Server) -> Vec<String> {
    let label = format!("label=io.playground.instance={}", server.instance);
    let containers = docker(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
    let networks = docker(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    [containers.unwrap(), networks.unwrap()]
        .iter()
        .flat_map(|list| list.lines().map(str::to_owned))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[tokio::test]
async fn a_client_hanging_up_during_creation_leaves_nothing_running() {
    require_docker!();
    use tokio::io::AsyncWriteExt;
    let server = Server::start(&[("PLAYGROUND_MAX_SESSIONS_PER_IP", "1")])
        .await
        .unwrap();
    let body = r#"{"lesson":"shell"}"#;
    let request = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    // Hang up once the session's network exists, while its node is being made.
    assert!(
        eventually(Duration::from_secs(10), || !instance_objects(&server)
            .is_empty())
        .await,
        "creation began"
    );
    drop(client);
    assert!(
        eventually(Duration::from_secs(15), || instance_objects(&server)
            .is_empty())
        .await,
        "left behind: {:?}",
        instance_objects(&server)
    );
    let server_metrics = server.metrics().await;
    assert!(
        server_metrics.contains("playground_sessions_deleted_total 1"),
        "the abandoned session was created, then ended: {server_metrics}"
    );
    // Nothing counts against the limits any more: the address's one session fits.
    let s = server.create_session("shell").await.unwrap();
    server.delete_session(&s).await.unwrap();
}

#[tokio::test]
async fn the_sweep_removes_labelled_containers_no_session_owns() {
    require_docker!();
    let server = Server::start(&[("PLAYGROUND_SWEEP_INTERVAL_SECS", "1")])
        .await
        .unwrap();
    let live = server.create_session("shell").await.unwrap();
    let orphan = format!("orphan-{}", server.instance);
    let labels = [
        "io.playground.managed=true".to_owned(),
        format!("io.playground.instance={}", server.instance),
        format!("io.playground.session={orphan}"),
        "io.playground.node=node1".to_owned(),
    ];
    let mut args = vec!["run", "-d", "--name"];
    let name = format!("pg-{orphan}-node1");
    args.push(&name);
    for label in &labels {
        args.extend(["--label", label.as_str()]);
    }
    args.extend(["playground/base:latest", "sleep", "300"]);
    docker(&args).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || docker_objects(&orphan)
            .is_empty())
        .await,
        "the orphan is swept: {:?}",
        docker_objects(&orphan)
    );
    assert!(
        !docker_objects(&live.id).is_empty(),
        "a live session is not swept"
    );
    assert_eq!(server.delete_session(&live).await.unwrap(), 204);
}

/// A client that opens connections and sends half a request on each holds
/// them only until the header-read timeout, and the connection cap keeps it
/// from taking more sockets than that: with the cap full, a whole request
/// waits for a slot instead of adding a connection.
#[tokio::test]
async fn half_sent_requests_are_closed_and_connections_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_HEADER_READ_TIMEOUT_SECS", "2"),
        ("PLAYGROUND_MAX_CONNECTIONS", "20"),
    ])
    .await
    .unwrap();
    let started = Instant::now();
    let mut half_sent = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        half_sent.push(s);
    }
    // The cap is full: this request is answered only once slots free up.
    let healthz = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "answered after {waited:?}, before the half-sent connections timed out"
    );
    for (i, mut s) in half_sent.into_iter().enumerate() {
        let mut buf = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            // Whatever the server says (maybe nothing), it then closes.
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "half-sent connection {i} still open");
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "all closed within the timeout plus a margin, not a minute"
    );
}

/// Creating sessions is rate-limited per client, and behind a proxy the
/// client is the address the proxy saw, not the first `X-Forwarded-For`
/// entry, which the client writes itself.
#[tokio::test]
async fn session_creation_is_rate_limited_per_client_behind_a_proxy_too() {
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_SESSION_CREATIONS_PER_MINUTE", "2"),
        ("PLAYGROUND_MAX_SESSIONS_PER_IP", "10"),
        ("PLAYGROUND_TRUST_FORWARDED_FOR", "true"),
    ])
    .await
    .unwrap();
    let post = |forwarded_for: Option<&'static str>| {
        let mut request = server
            .http
            .post(server.url("/api/v1/sessions"))
            .json(&serde_json::json!({ "lesson": "shell" }));
        if let Some(xff) = forwarded_for {
            request = request.header("x-forwarded-for", xff);
        }
        request.send()
    };
    let mut created = Vec::new();
    for _ in 0..2 {
        let r = post(None).await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
        created.push(r.json::<protocol::api::CreatedSession>().await.unwrap());
    }
    let r = post(None).await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // Behind the (loopback) proxy, 203.0.113.9 is a client of its own; the
    // first entry is whatever the client wrote, and changing it does not help.
    for xff in ["1.1.1.1, 203.0.113.9", "2.2.2.2, 203.0.113.9"] {
        let r = post(Some(xff)).await.unwrap();
        assert_eq!(r.status().as_u16(), 201, "{xff}");
        created.push(r.json().await.unwrap());
    }
    let r = post(Some("3.3.3.3, 203.0.113.9")).await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        429,
        "the client-written entry is not the client"
    );
    for s in &created {
        server.delete_session(s).await.unwrap();
    }
}

/// A client that stops reading is dropped after `send_timeout_secs`: its
/// task does not wait on it for ever. Flow control's high mark is raised
/// here so output keeps coming until the socket's buffers are full.
#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_after_the_send_timeout() {
    let Some((server, s)) = shell_session(&[
        ("PLAYGROUND_SEND_TIMEOUT_SECS", "2"),
        ("PLAYGROUND_FLOW_HIGH_WATER_BYTES", "1073741824"),
    ])
    .await
    else {
        return;
    };
    let mut term = server.prompt(&s, "node1").await.unwrap();
    term.type_text("yes stalled-stalled-stalled\r")
        .await
        .unwrap();
    // Read nothing while the buffers fill and the timeout runs.
    tokio::time::sleep(Duration::from_secs(8)).await;
    // What was buffered arrives, then the socket ends (no close frame: the
    // client took none); without the timeout, output would go on and on.
    term.auto_ack = false;
    let closed = term.wait_closed(Duration::from_secs(10)).await;
    assert!(closed.is_ok(), "{closed:?}");
    // The terminal is fine: a new socket gets a prompt.
    let mut again = server.terminal(&s, "node1").await.unwrap();
    again.type_text("\x03").await.unwrap();
    assert_eq!(again.run("echo back", T).await.unwrap(), "back");
    server.delete_session(&s).await.unwrap();
}

/// Sockets are capped per terminal and per session: one over either cap is
/// closed with `1008` and a reason naming the cap; closing one makes room.
#[tokio::test]
async fn sockets_are_capped_per_terminal_and_per_session() {
    require_docker!();
    let server = Server::start(&[
        ("PLAYGROUND_MAX_SOCKETS_PER_TERMINAL", "2"),
        ("PLAYGROUND_MAX_SOCKETS_PER_SESSION", "3"),
    ])
    .await
    .unwrap();
    // linux-basics (from lessons/) has two nodes.
    let s = server.create_session("linux-basics").await.unwrap();
    let refused = |mut term: Term| async move { term.wait_closed(T).await.unwrap() };
    let _a1 = server.prompt(&s, "node1").await.unwrap();
    let a2 = server.prompt(&s, "node1").await.unwrap();
    let (code, reason) = refused(server.terminal(&s, "node1").await.unwrap())
        .await
        .expect("a close frame");
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("this terminal has 2 sockets"), "{reason}");

    let _b1 = server.prompt(&s, "node2").await.unwrap();
    let (code, reason) = refused(server.terminal(&s, "node2").await.unwrap())
        .await
        .expect("a close frame");
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("this session has 3 sockets"), "{reason}");

    a2.close().await;
    // The server lets the closed socket go a moment later.
    let mut b2 = None;
    for _ in 0..50 {
        let mut term = server.terminal(&s, "node2").await.unwrap();
        match term.next(Duration::from_millis(500)).await.unwrap() {
            Some(playground_e2e::TermEvent::Closed(_)) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            _ => {
                b2 = Some(term);
                break;
            }
        }
    }
    assert!(b2.is_some(), "room again once a socket closed");
    server.delete_session(&s).await.unwrap();
}
