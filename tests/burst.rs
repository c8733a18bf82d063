//! Many sessions requested at once (issue 12, "Bursts"): below `max_sessions` none
//! may be refused, which needs subnet allocation that is right under concurrency,
//! within one server and between servers sharing `session_subnet_pool`; and once
//! they are deleted nothing may be left on the Docker host. Run with
//! `cargo test -p playground-e2e --test burst`.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use playground_e2e::{docker, docker_objects, instance_objects, require_docker, Server};
use protocol::api::CreatedSession;

const LIMITS: [(&str, &str); 3] = [
    ("PLAYGROUND_MAX_SESSIONS", "80"),
    ("PLAYGROUND_MAX_SESSIONS_PER_IP", "80"),
    ("PLAYGROUND_SESSION_CREATIONS_PER_MINUTE", "200"),
];

/// `n` `shell` sessions requested at once; each the session or the refusal
/// (status and body), or a timeout.
async fn burst(server: &Server, n: usize) -> Vec<Result<CreatedSession, String>> {
    join_all((0..n).map(|_| async {
        match tokio::time::timeout(Duration::from_secs(90), server.create_session("shell")).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("no answer within 90 s".to_owned()),
        }
    }))
    .await
}

/// The subnet of a session's network.
fn subnet(session: &str) -> String {
    docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        &format!("pg-{session}"),
    ])
    .unwrap()
}

/// Before the fix (with 12 sessions held on b and 50 at once) 23 requests were
/// refused with `503 server_full`: each creation listed the host's
/// networks, then tried the free blocks from a cursor that moved one block per
/// creation and started at block 0 in every server, at most 8 of them. Where
/// that cursor lagged behind blocks in use (another server's, or a restarted
/// server's own), concurrent creations all tried the same first free blocks;
/// each collision cost a try ("Pool overlaps with other one on this address
/// space"), and after 8 the creation was refused as `server_full`.
#[tokio::test]
async fn a_burst_of_sessions_on_two_servers_sharing_the_pool_all_start_and_leave_nothing() {
    require_docker!();
    let started = Instant::now();
    let (a, b) = tokio::join!(Server::start(&LIMITS), Server::start(&LIMITS));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Server b holds a run of blocks first, one session after the other.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(b.create_session("shell").await.unwrap());
    }
    // Then both at once: 40 on a, 8 more on b.
    let (on_a, on_b) = tokio::join!(burst(&a, 40), burst(&b, 8));
    let burst_took = started.elapsed();
    let mut sessions: Vec<(&Server, CreatedSession)> = held.into_iter().map(|s| (&b, s)).collect();
    let mut refused = Vec::new();
    for (server, result) in on_a
        .into_iter()
        .map(|r| (&a, r))
        .chain(on_b.into_iter().map(|r| (&b, r)))
    {
        match result {
            Ok(s) => sessions.push((server, s)),
            Err(e) => refused.push(e),
        }
    }
    assert!(
        refused.is_empty(),
        "{} of 48 requests refused below max_sessions, first: {}\n--- server a:\n{}",
        refused.len(),
        refused[0],
        a.log()
    );
    assert_eq!(sessions.len(), 56);
    let mut subnets: Vec<String> = sessions.iter().map(|(_, s)| subnet(&s.id)).collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 56, "one block per session");
    // They work: the last one of the burst has a shell.
    let (server, last) = sessions.last().unwrap();
    let mut term = server.prompt(last, "node1").await.unwrap();
    assert_eq!(
        term.run("echo burst-ok", Duration::from_secs(20))
            .await
            .unwrap(),
        "burst-ok"
    );
    drop(term);

    let deleted = join_all(
        sessions
            .iter()
            .map(|(server, s)| async move { server.delete_session(s).await.unwrap() }),
    )
    .await;
    assert!(deleted.iter().all(|status| *status == 204), "{deleted:?}");
    for (_, s) in &sessions {
        assert_eq!(
            docker_objects(&s.id),
            Vec::<String>::new(),
            "session {}",
            s.id
        );
    }
    for server in [&a, &b] {
        assert_eq!(instance_objects(&server.instance), Vec::<String>::new());
    }
    eprintln!(
        "56 sessions created (48 at once) in {burst_took:?}, all removed after {:?}",
        started.elapsed()
    );
}
