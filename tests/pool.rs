//! The warm pool (`warm_pool`) on a real `sandbox-server` and the learner
//! engine: sessions are served from the pool and work, the pool refills,
//! pooled sessions outlive the idle timeout unreaped, and editing a lesson
//! drains its pool (the next session runs the new setup script).
//!
//! Prints POST-to-first-terminal-byte and POST-to-prompt times of pooled
//! hand-outs (not asserted: the machine is shared). Without Docker it skips,
//! except under `CI=true`.

use std::time::{Duration, Instant};

use playground_e2e::{metric, require_docker, Launch, Server, TermEvent};

/// Waits (up to 60 s) until `lesson`'s pool holds `n` ready sessions.
async fn pool_ready(server: &Server, lesson: &str, n: f64) {
    let series = format!("playground_pool_ready{{lesson=\"{lesson}\"}}");
    let started = Instant::now();
    loop {
        if metric(&server.metrics().await, &series) >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{lesson}'s pool never had {n} ready: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_lesson(server: &Server, version: &str) {
    let dir = server.lessons_dir().join("pooled");
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"pooled\"\ntitle = \"Pooled\"\nsummary = \"A pooled lesson.\"\n\
         difficulty = \"beginner\"\nminutes = 1\n\n[[nodes]]\nname = \"node1\"\n\
         image = \"base\"\nsetup = \"setup.sh\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("setup.sh"),
        format!("echo {version} > /root/version\n"),
    )
    .unwrap();
    std::fs::write(dir.join("steps/01-look.md"), "# Look\n\nText.\n").unwrap();
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
async fn sessions_come_from_the_pool_which_refills_outlives_idleness_and_drains_on_reload() {
    require_docker!();
    let mut server = Launch::default()
        .own_lessons()
        .envs(&[
            ("PLAYGROUND_WARM_POOL", "shell=1,pooled=1"),
            ("PLAYGROUND_IDLE_TIMEOUT_SECS", "3"),
            ("PLAYGROUND_REAP_INTERVAL_SECS", "1"),
        ])
        .start()
        .await
        .unwrap();
    write_lesson(&server, "v1");
    pool_ready(&server, "shell", 1.0).await;
    pool_ready(&server, "pooled", 1.0).await;

    // Pooled longer than the idle timeout, under a reaper running every second.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let m = server.metrics().await;
    assert_eq!(
        metric(&m, "playground_sessions_reaped_total{reason=\"idle\"}"),
        0.0
    );
    assert_eq!(metric(&m, "playground_pool_ready{lesson=\"shell\"}"), 1.0);

    // Hand-outs: POST, terminal, first byte, prompt; then refill.
    let (mut first_byte, mut prompt) = (Vec::new(), Vec::new());
    let rounds = 8;
    for round in 0..rounds {
        pool_ready(&server, "shell", 1.0).await;
        let started = Instant::now();
        let session = server.create_session("shell").await.unwrap();
        let mut term = server.terminal(&session, "node1").await.unwrap();
        loop {
            match term.next(Duration::from_secs(10)).await.unwrap() {
                Some(TermEvent::Output(bytes)) if !bytes.is_empty() => break,
                Some(TermEvent::Closed(c)) => panic!("closed: {c:?}"),
                None => panic!("no output within 10 s"),
                _ => {}
            }
        }
        first_byte.push(started.elapsed().as_micros());
        // The first frame (the repaint of the screen) may hold the prompt already.
        term.wait_for_from(0, "# ", Duration::from_secs(10))
            .await
            .unwrap();
        prompt.push(started.elapsed().as_micros());
        if round == 0 {
            // It works.
            let out = term
                .run("echo pooled-$((6*7))", Duration::from_secs(10))
                .await
                .unwrap();
            assert!(out.contains("pooled-42"), "{out}");
        }
        term.close().await;
        assert_eq!(server.delete_session(&session).await.unwrap(), 204);
    }
    let m = server.metrics().await;
    assert_eq!(
        metric(&m, "playground_pool_handouts_total"),
        rounds as f64,
        "{m}"
    );
    assert_eq!(metric(&m, "playground_pool_misses_total"), 0.0, "{m}");
    first_byte.sort_unstable();
    prompt.sort_unstable();
    eprintln!(
        "warm pool, shell, {rounds} hand-outs: POST to first terminal byte p50 {:.1} ms max {:.1} ms; \
         POST to prompt p50 {:.1} ms max {:.1} ms",
        percentile(&first_byte, 0.5) as f64 / 1000.0,
        *first_byte.last().unwrap() as f64 / 1000.0,
        percentile(&prompt, 0.5) as f64 / 1000.0,
        *prompt.last().unwrap() as f64 / 1000.0,
    );

    // Editing the lesson drains its pool; the next session is of the new version.
    write_lesson(&server, "v2");
    let started = Instant::now();
    while metric(&server.metrics().await, "playground_pool_drained_total") < 1.0 {
        assert!(started.elapsed() < Duration::from_secs(20), "never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool_ready(&server, "pooled", 1.0).await;
    let session = server.create_session("pooled").await.unwrap();
    let mut term = server.prompt(&session, "node1").await.unwrap();
    let out = term
        .run("cat /root/version", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(out.contains("v2"), "{out}");
    let m = server.metrics().await;
    assert_eq!(
        metric(&m, "playground_pool_handouts_total"),
        rounds as f64 + 1.0
    );

    // A restart removes the pooled leftovers and fills the pool again.
    term.close().await;
    server.restart().await.unwrap();
    pool_ready(&server, "shell", 1.0).await;
    // Without colours (the log has ANSI escapes around field names).
    let mut log = String::new();
    let mut in_escape = false;
    for c in server.log().chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => log.push(c),
        }
    }
    let removed: usize = log
        .rsplit("orphans_removed=")
        .next()
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        removed >= 2,
        "the pooled sessions of the last run are removed: {log}"
    );
}
