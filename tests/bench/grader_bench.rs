//! `grader-bench`: what a grader check costs next to the shell check it
//! replaces, and the memory of graders running at once, printed as a table.
//!
//! ```text
//! cargo run --release -p playground-e2e --bin grader-bench [-- --checks 200 --concurrent 16]
//! ```
//!
//! Starts a release `sandbox-server` serving `tests/fixtures/graders`
//! (graders built first with `sandbox-server lesson build`) and measures:
//! 1. check latency (`POST .../check` to its answer, over loopback), p50 and
//!    p99, of one decision made twice on a dind node (the container `web`
//!    runs, and /root/marker says done): by a shell check in the node
//!    (`docker inspect` and `grep`) and by a grader in the server (the inner
//!    daemon's API and a file read through the node's root), both warm and passing;
//! 2. memory per running grader: the linear memory the grader of (1) had
//!    (`playground_grader_memory_bytes` of `/metrics`), and the server's RSS
//!    while N graders that loop (until their 2 s timeout) run at once, minus
//!    its RSS before.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use playground_e2e::{
    built_graders, docker, docker_available, metric, repo_root, Launch, Profile, Server,
};
use protocol::api::CreatedSession;
use serde_json::Value;

struct Args {
    checks: usize,
    concurrent: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        checks: 200,
        concurrent: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<usize> {
            it.next()
                .with_context(|| format!("{flag} needs a number"))?
                .parse()
                .with_context(|| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--checks" => args.checks = value()?,
            "--concurrent" => args.concurrent = value()?,
            "-h" | "--help" => {
                println!("grader-bench [--checks N] [--concurrent N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    ensure!(
        args.checks > 0 && args.concurrent > 0,
        "numbers must be positive"
    );
    Ok(args)
}

async fn check(server: &Server, s: &CreatedSession, step: usize) -> Result<(Duration, Value)> {
    let started = Instant::now();
    let (status, body) = server
        .call(
            "POST",
            &format!("/api/v1/sessions/{}/steps/{step}/check", s.id),
            Some(&s.token),
            None,
        )
        .await;
    let took = started.elapsed();
    ensure!(status == 200, "check {step}: {status} {body}");
    Ok((took, body))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `n` checks of `step` one after another; sorted latencies.
async fn latencies(
    server: &Server,
    s: &CreatedSession,
    step: usize,
    n: usize,
) -> Result<Vec<Duration>> {
    // Warm: the first check of a kind may pay for a cold cache.
    for _ in 0..3 {
        let (_, body) = check(server, s, step).await?;
        ensure!(body["passed"] == true, "step {step} does not pass: {body}");
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (took, body) = check(server, s, step).await?;
        ensure!(
            body["passed"] == true,
            "step {step} stopped passing: {body}"
        );
        out.push(took);
    }
    out.sort();
    Ok(out)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    ensure!(
        docker_available(),
        "grader-bench needs Docker (the learner engine)"
    );
    let fixtures = repo_root().join("tests/fixtures/graders");
    built_graders(&fixtures);
    let concurrent = args.concurrent.to_string();
    let server = Launch::default()
        .profile(Profile::Release)
        .envs(&[
            ("PLAYGROUND_LESSONS_DIRS", &fixtures.display().to_string()),
            ("PLAYGROUND_MAX_CHECKS_PER_SESSION", &concurrent),
            ("PLAYGROUND_MAX_CHECKS", &concurrent),
            ("RUST_LOG", "warn"),
        ])
        .start()
        .await?;

    // 1. Latency: the same decision by a shell check and by a grader.
    let s = server.create_session("grader-bench").await?;
    let node = format!("pg-{}-node1", s.id);
    // Wait for the inner daemon, start `web`, write the marker.
    let mut ready = false;
    for _ in 0..120 {
        if docker(&["exec", &node, "docker", "version"]).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(ready, "the inner Docker daemon of {node} did not start");
    docker(&[
        "exec",
        &node,
        "sh",
        "-c",
        "docker run -d --name web nginx >/dev/null && echo done > /root/marker",
    ])?;
    let shell = latencies(&server, &s, 0, args.checks).await?;
    let grader = latencies(&server, &s, 1, args.checks).await?;
    // Only that grader has run so far: its linear memory, from /metrics.
    let metrics = server.metrics().await;
    let (sum, count) = (
        metric(&metrics, "playground_grader_memory_bytes_sum"),
        metric(&metrics, "playground_grader_memory_bytes_count"),
    );
    ensure!(count > 0.0, "no grader memory in /metrics");
    let linear_kib = sum / count / 1024.0;

    // 2. Memory: N graders looping at once (until their 2 s timeout).
    let hostile = server.create_session("hostile-graders").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(server.pid())?;
    let mut running = Vec::new();
    for _ in 0..args.concurrent {
        let (server, s) = (&server, &hostile);
        running.push(async move { check(server, s, 1).await });
    }
    let sampler = async {
        let mut peak = 0;
        for _ in 0..15 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            peak = peak.max(rss_kib(server.pid()).unwrap_or(0));
        }
        peak
    };
    let (results, peak) = tokio::join!(futures_util::future::join_all(running), sampler);
    let mut timed_out = 0;
    for r in results {
        let (_, body) = r?;
        if body["output"]
            .as_str()
            .unwrap_or("")
            .contains("did not finish")
        {
            timed_out += 1;
        }
    }
    let per_grader_kib = peak.saturating_sub(before) / args.concurrent as u64;

    println!();
    println!(
        "grader-bench: {} checks each, warm, on a dind node (p50 / p99 / max)",
        args.checks
    );
    println!("| check | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (name, l) in [
        ("shell check in the node (docker inspect, grep)", &shell),
        (
            "grader in the server (inner daemon API, file read)",
            &grader,
        ),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            ms(percentile(l, 0.5)),
            ms(percentile(l, 0.99)),
            ms(*l.last().unwrap())
        );
    }
    println!();
    println!(
        "memory: linear memory of the grader above, {linear_kib:.0} KiB per check (mean of {count} checks, /metrics)"
    );
    println!(
        "memory: {} graders looping at once ({timed_out} stopped by their 2 s timeout): server RSS {} MiB before, {} MiB at peak, {} KiB per running grader",
        args.concurrent,
        before / 1024,
        peak / 1024,
        per_grader_kib
    );
    Ok(())
}
