//! `session-bench`: how fast sessions start and what they cost the host,
//! printed as a table (issue 8 asks for these before and after the learner
//! engine; issue 12 for the burst).
//!
//! ```text
//! cargo run --release -p playground-e2e --bin session-bench [-- --sessions 30 --lesson docker-1-first-containers]
//! cargo run --release -p playground-e2e --bin session-bench -- --burst [--base 100 --dind 50]
//! cargo run --release -p playground-e2e --bin session-bench -- --workshop 20 [--workshop-lesson shell]
//! ```
//!
//! Starts a release `sandbox-server` on loopback. The default mode measures, for
//! a lesson whose first node is a `dind` node:
//! 1. one session at a time, `POST /sessions` to the first prompt byte (median of `--single`);
//! 2. `--sessions` created at once, each to its first prompt (p50, p90, max);
//! 3. host memory per session once every nested dockerd is up (`MemAvailable`
//!    before and after, over the sessions), and the nodes' own cgroup usage.
//!
//! `--burst` requests `--base` sessions of `--base-lesson` (`shell`) at once,
//! deletes them all, then `--dind` sessions of `--lesson` at once (a list such as
//! `30,50` runs one burst of each size), then, with `--pool N`, N sessions of `--lesson`
//! at once from a warm pool of N on a fresh server (once the pool is full), and for each
//! burst reports: how many were served (201 and a prompt), refused (`503` with
//! `Retry-After`), and anything else (other statuses, a `503` without
//! `Retry-After`, no answer or no prompt within `--timeout` seconds); p50 and p99
//! of `POST` to the first prompt byte; the host's peak memory use (the low point
//! of `MemAvailable`, sampled every 100 ms from the burst to `--settle` seconds,
//! default 5, after its last answer, below its value before the burst);
//! where the server's creation time went (from its `session created` log lines);
//! and the objects left on the engine once every session is deleted (should be 0).
//! `max_sessions` is the larger burst plus 4 unless `--max-sessions` says
//! otherwise (lower it to see refusals).
//!
//! `--memory` (`bench/dind_memory.rs`): where one Docker-in-Docker node's memory goes,
//! by process, with the nested dockerd started at once and on first use.
//!
//! `--workshop N` (`bench/workshop.rs`): N learners join one workshop at once, join
//! to first prompt (p50, p99), without and with the seats started ahead.
//!
//! The engine is the server's (`PLAYGROUND_ENGINE_SOCKET`, `PLAYGROUND_DOCKER_PROFILE`
//! pass through), so the same bench measures the host's main daemon with
//! `PLAYGROUND_ENGINE_SOCKET=/var/run/docker.sock PLAYGROUND_DOCKER_PROFILE=capabilities`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use playground_e2e::{docker, docker_available, node_exec, Profile, Server};
use protocol::api::CreatedSession;

mod burst;
mod dind_memory;
mod workshop;

struct Args {
    lesson: String,
    single: usize,
    sessions: usize,
    burst: bool,
    base: usize,
    dind: Vec<usize>,
    pool: usize,
    base_lesson: String,
    max_sessions: Option<usize>,
    timeout: u64,
    settle: u64,
    workshop: usize,
    workshop_lesson: String,
    memory: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        lesson: "docker-1-first-containers".into(),
        single: 5,
        sessions: 30,
        burst: false,
        base: 100,
        dind: vec![50],
        pool: 0,
        base_lesson: "shell".into(),
        max_sessions: None,
        timeout: 120,
        settle: 5,
        workshop: 0,
        workshop_lesson: "shell".into(),
        memory: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let number = |v: String| -> Result<usize> {
            v.parse()
                .with_context(|| format!("{flag} needs a number, not {v:?}"))
        };
        match flag.as_str() {
            "--lesson" => args.lesson = value()?,
            "--single" => args.single = number(value()?)?,
            "--sessions" => args.sessions = number(value()?)?,
            "--burst" => args.burst = true,
            "--base" => args.base = number(value()?)?,
            "--dind" => {
                args.dind = value()?
                    .split(',')
                    .map(|n| number(n.trim().to_owned()))
                    .collect::<Result<_>>()?
            }
            "--pool" => args.pool = number(value()?)?,
            "--base-lesson" => args.base_lesson = value()?,
            "--max-sessions" => args.max_sessions = Some(number(value()?)?),
            "--timeout" => args.timeout = number(value()?)? as u64,
            "--settle" => args.settle = number(value()?)? as u64,
            "--workshop" => args.workshop = number(value()?)?,
            "--workshop-lesson" => args.workshop_lesson = value()?,
            "--memory" => args.memory = true,
            "-h" | "--help" => {
                println!(
                    "session-bench [--lesson ID] [--single N] [--sessions N]\n\
                     session-bench --burst [--base N] [--dind N[,N...]] [--pool N] [--base-lesson ID] \
                     [--lesson ID] [--max-sessions N] [--timeout SECS] [--settle SECS]\n\
                     session-bench --workshop N [--workshop-lesson ID]\n\
                     session-bench --memory [--lesson ID]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if args.single == 0 || args.sessions == 0 || args.timeout == 0 {
        bail!("--single, --sessions and --timeout must be positive");
    }
    Ok(args)
}

/// `POST /sessions` for `lesson`, then node1's terminal up to its first prompt.
async fn session_at_prompt(server: &Server, lesson: &str) -> Result<(CreatedSession, Duration)> {
    let t0 = Instant::now();
    let s = server.create_session(lesson).await?;
    tokio::time::timeout(Duration::from_secs(120), burst::first_prompt(server, &s))
        .await
        .context("no prompt within 120 s")??;
    Ok((s, t0.elapsed()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mem_available_kib() -> Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemAvailable")
}

/// The memory cgroup usage of a node's container, in KiB (cgroup v1 or v2).
fn node_cgroup_kib(session: &str) -> Option<u64> {
    let id = docker(&["inspect", "-f", "{{.Id}}", &format!("pg-{session}-node1")]).ok()?;
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &id]).ok()?;
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")
        } else if controllers.is_empty()
            && std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        {
            format!("/sys/fs/cgroup{path}/memory.current")
        } else {
            continue;
        };
        if let Ok(v) = std::fs::read_to_string(file) {
            return v.trim().parse::<u64>().ok().map(|b| b / 1024);
        }
    }
    None
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    if !docker_available() {
        bail!("session-bench needs Docker and the session images (scripts/setup.sh)");
    }
    if args.burst {
        return burst::run(&args).await;
    }
    if args.workshop > 0 {
        return workshop::run(&args).await;
    }
    if args.memory {
        return dind_memory::run(&args).await;
    }
    let limit = (args.sessions + 4).to_string();
    let server = Server::start_with(
        Profile::Release,
        &[
            ("PLAYGROUND_MAX_SESSIONS", &limit),
            ("PLAYGROUND_MAX_SESSIONS_PER_IP", &limit),
            ("PLAYGROUND_SESSION_CREATIONS_PER_MINUTE", &limit),
        ],
        &[],
    )
    .await?;
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. One at a time.
    let mut single = Vec::new();
    for _ in 0..args.single {
        let (s, took) = session_at_prompt(&server, &args.lesson).await?;
        single.push(took);
        server.delete_session(&s).await?;
    }
    let first = single[0];
    single.sort();
    rows.push((
        format!("one {} session -> first prompt", args.lesson),
        format!(
            "median {} (first {}, min {}, max {}; {} runs)",
            secs(percentile(&single, 0.5)),
            secs(first),
            secs(single[0]),
            secs(*single.last().unwrap()),
            single.len()
        ),
    ));

    // 2. All at once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = mem_available_kib()?;
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..args.sessions)
        .map(|_| {
            let server = &server;
            let lesson = args.lesson.as_str();
            async move { session_at_prompt(server, lesson).await }
        })
        .collect();
    let results = futures_util::future::join_all(tasks).await;
    let wall = t0.elapsed();
    let mut sessions = Vec::new();
    let mut times = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok((s, took)) => {
                sessions.push(s);
                times.push(took);
            }
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    times.sort();
    if times.is_empty() {
        bail!("no session started: {failed:?}");
    }
    rows.push((
        format!("{} sessions at once -> first prompt", args.sessions),
        format!(
            "p50 {}, p90 {}, max {} (all in {}; {} failed{})",
            secs(percentile(&times, 0.5)),
            secs(percentile(&times, 0.9)),
            secs(*times.last().unwrap()),
            secs(wall),
            failed.len(),
            failed.first().map(|e| format!(": {e}")).unwrap_or_default()
        ),
    ));

    // 3. Memory, once every nested dockerd is up. `docker version` starts it where
    // it starts on demand (as a learner's first `docker` command would).
    let ready = "for i in $(seq 480); do docker version >/dev/null 2>&1 && exit 0; sleep 0.25; done; exit 1";
    let t_ready = Instant::now();
    let mut not_ready = 0;
    for s in &sessions {
        if node_exec(&s.id, "node1", ready).0 != 0 {
            not_ready += 1;
        }
    }
    rows.push((
        "nested dockerd answering in every node (`docker version`)".into(),
        format!(
            "{} after the last prompt ({not_ready} never ready)",
            secs(t_ready.elapsed())
        ),
    ));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = mem_available_kib()?;
    let n = sessions.len() as u64;
    let per_session_mib = before.saturating_sub(after) as f64 / n as f64 / 1024.0;
    let cgroup: Vec<u64> = sessions
        .iter()
        .filter_map(|s| node_cgroup_kib(&s.id))
        .collect();
    let cgroup_mib = if cgroup.is_empty() {
        "n/a".to_owned()
    } else {
        format!(
            "{:.1} MiB",
            cgroup.iter().sum::<u64>() as f64 / cgroup.len() as f64 / 1024.0
        )
    };
    rows.push((
        "host memory per session (MemAvailable drop)".into(),
        format!(
            "{per_session_mib:.1} MiB ({} sessions: {} -> {} MiB available)",
            n,
            before / 1024,
            after / 1024
        ),
    ));
    rows.push(("node cgroup memory per session".into(), cgroup_mib));
    for s in &sessions {
        server.delete_session(s).await?;
    }

    println!("\n| measure | result |\n|---|---|");
    for (what, result) in rows {
        println!("| {what} | {result} |");
    }
    Ok(())
}
