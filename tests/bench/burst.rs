//! `session-bench --burst`: many sessions requested at once (issue 12, "Bursts").
//! See the crate's doc comment for what it reports.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use playground_e2e::{instance_objects, metric, Profile, Server};
use protocol::api::CreatedSession;
use protocol::terminal::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use super::{mem_available_kib, percentile, secs, Args};

/// How one request of a burst ended.
enum Outcome {
    /// 201, then the first prompt after this long (from the `POST`).
    Served(CreatedSession, Duration),
    /// 503 with `Retry-After`.
    Refused,
    /// Anything else: what happened (and the session, when one was created).
    Failed(String, Option<CreatedSession>),
}

/// `POST /sessions`, then node1's terminal up to its first prompt.
async fn request(server: &Server, lesson: &str, timeout: Duration) -> Outcome {
    let t0 = Instant::now();
    let response = match tokio::time::timeout(timeout, server.post_session(lesson)).await {
        Ok(r) => r,
        Err(_) => return Outcome::Failed(format!("no answer to POST within {timeout:?}"), None),
    };
    let status = response.status().as_u16();
    if status == 503 {
        return if response.headers().contains_key("retry-after") {
            Outcome::Refused
        } else {
            Outcome::Failed("503 without Retry-After".into(), None)
        };
    }
    let body = response.text().await.unwrap_or_default();
    if status != 201 {
        return Outcome::Failed(format!("{status}: {body}"), None);
    }
    let s: CreatedSession = match serde_json::from_str(&body) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("201 with a body that is no session: {e}"), None),
    };
    let left = timeout.saturating_sub(t0.elapsed());
    match tokio::time::timeout(left, first_prompt(server, &s)).await {
        Ok(Ok(())) => Outcome::Served(s, t0.elapsed()),
        Ok(Err(e)) => Outcome::Failed(format!("session {}: {e:#}", s.id), Some(s)),
        Err(_) => Outcome::Failed(
            format!("session {}: no prompt within {timeout:?}", s.id),
            Some(s),
        ),
    }
}

/// Node1's terminal of `s`, read (and acknowledged) up to its first prompt.
pub(super) async fn first_prompt(server: &Server, s: &CreatedSession) -> Result<()> {
    let url = server.ws_url(&format!(
        "/api/v1/sessions/{}/nodes/node1/terminal?token={}",
        s.id, s.token
    ));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let mut tail = Vec::new();
    loop {
        let msg = ws.next().await.context("socket closed")??;
        if let Message::Close(frame) = &msg {
            anyhow::bail!(
                "socket closed before the prompt: {}",
                frame
                    .as_ref()
                    .map_or("no close frame".to_owned(), |f| format!(
                        "{} {}",
                        u16::from(f.code),
                        f.reason
                    ))
            );
        }
        if let Message::Binary(data) = msg {
            if let ServerFrame::Output(bytes) = ServerFrame::decode(&data)? {
                ws.send(Message::Binary(
                    ClientFrame::Ack(bytes.len() as u32).encode().into(),
                ))
                .await?;
                tail.extend_from_slice(bytes);
                if tail.windows(2).any(|w| w == b"# ") {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Samples `MemAvailable` every 100 ms until stopped; the lowest value seen.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    low: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl MemorySampler {
    fn start() -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let low = Arc::new(AtomicU64::new(u64::MAX));
        let task = tokio::spawn({
            let (stop, low) = (stop.clone(), low.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(kib) = mem_available_kib() {
                        low.fetch_min(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        MemorySampler { stop, low, task }
    }

    async fn low_point(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.low.load(Ordering::Relaxed)
    }
}

/// The step times in the server's log from byte `from` on (`session created`
/// and, at debug level, `session network ready` and `registry mirror attached`):
/// per step, the values seen.
fn creation_steps(log: &str, from: usize) -> Vec<(String, Vec<u64>)> {
    let steps = [
        ("session created", "took_ms"),
        ("session created", "queued_ms"),
        ("session created", "network_ms"),
        ("session network ready", "network_ms"),
        ("registry mirror attached", "registry_ms"),
        ("session created", "nodes_ms"),
        ("session created", "provision_ms"),
        ("session created", "store_ms"),
    ];
    let mut values: Vec<(String, Vec<u64>)> = steps
        .iter()
        .map(|(line, key)| (format!("{key} ({line})"), Vec::new()))
        .collect();
    for line in log.get(from..).unwrap_or_default().lines() {
        let Some(kind) = steps.iter().map(|(l, _)| *l).find(|l| line.contains(l)) else {
            continue;
        };
        for word in strip_ansi(line).split_whitespace() {
            if let Some((key, value)) = word.split_once('=') {
                let slot = steps.iter().position(|(l, k)| *l == kind && *k == key);
                if let (Some(slot), Ok(v)) = (slot, value.parse::<u64>()) {
                    values[slot].1.push(v);
                }
            }
        }
    }
    values
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ms_percentiles(mut values: Vec<u64>) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.sort_unstable();
    let at = |p: f64| values[((values.len() as f64 - 1.0) * p).round() as usize];
    format!("p50 {} ms, max {} ms", at(0.5), values[values.len() - 1])
}

/// One burst of `n` sessions of `lesson`; its rows of the table. `pooled`: the
/// server hands them out from a warm pool (which refills after the burst, so the
/// engine is not expected to be empty afterwards).
async fn one_burst(
    server: &Server,
    lesson: &str,
    n: usize,
    timeout: Duration,
    settle: Duration,
    pooled: bool,
) -> Result<Vec<(String, String)>> {
    let what = if pooled {
        format!("{n} × {lesson} at once from a warm pool of {n}")
    } else {
        format!("{n} × {lesson} at once")
    };
    let log_from = server.log().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = mem_available_kib()?;
    let sampler = MemorySampler::start();
    let t0 = Instant::now();
    let outcomes =
        futures_util::future::join_all((0..n).map(|_| request(server, lesson, timeout))).await;
    let wall = t0.elapsed();
    // The nodes go on starting after their first prompt (a nested dockerd):
    // memory is sampled a while longer, before anything is deleted.
    tokio::time::sleep(settle).await;
    let low = sampler.low_point().await;

    let mut served = Vec::new();
    let mut times = Vec::new();
    let mut refused = 0;
    let mut failed = Vec::new();
    // Created but never showed a prompt: deleted with the served ones.
    let mut unserved = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Served(s, took) => {
                served.push(s);
                times.push(took);
            }
            Outcome::Refused => refused += 1,
            Outcome::Failed(why, session) => {
                failed.push(why);
                unserved.extend(session);
            }
        }
    }
    times.sort();
    // What the server said of the sessions that failed: the cause is there.
    let log = server.log();
    for session in &unserved {
        let lines: Vec<&str> = log[log_from..]
            .lines()
            .filter(|l| l.contains(&session.id))
            .collect();
        eprintln!(
            "server log of failed session {}:\n{}",
            session.id,
            lines.join("\n")
        );
    }
    let mut rows = vec![(
        format!("{what}: served / refused (503 + Retry-After) / other"),
        format!(
            "{} / {refused} / {}{}",
            served.len(),
            failed.len(),
            failed
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ),
    )];
    rows.push((
        format!("{what}: POST -> first prompt byte"),
        if times.is_empty() {
            "-".into()
        } else {
            format!(
                "p50 {}, p99 {}, max {} (all answered in {})",
                secs(percentile(&times, 0.5)),
                secs(percentile(&times, 0.99)),
                secs(*times.last().expect("not empty")),
                secs(wall)
            )
        },
    ));
    let peak_mib = before.saturating_sub(low) as f64 / 1024.0;
    rows.push((
        format!(
            "{what}: peak host memory use (MemAvailable low point, to {} s after the last answer)",
            settle.as_secs()
        ),
        format!(
            "{peak_mib:.0} MiB ({:.1} MiB per served session; {} -> {} MiB available)",
            peak_mib / served.len().max(1) as f64,
            before / 1024,
            low / 1024
        ),
    ));
    for (step, values) in creation_steps(&server.log(), log_from) {
        if !values.is_empty() {
            rows.push((format!("{what}: server's {step}"), ms_percentiles(values)));
        }
    }

    // Every session deleted, all at once; then what is left of the instance.
    let t_delete = Instant::now();
    let created: Vec<&CreatedSession> = served.iter().chain(&unserved).collect();
    let deletions = futures_util::future::join_all(created.iter().map(|s| async move {
        match tokio::time::timeout(timeout, server.delete_session(s)).await {
            Ok(Ok(204)) => None,
            Ok(Ok(status)) => Some(format!("{}: {status}", s.id)),
            Ok(Err(e)) => Some(format!("{}: {e:#}", s.id)),
            Err(_) => Some(format!("{}: no answer within {timeout:?}", s.id)),
        }
    }))
    .await;
    let failed_deletes: Vec<String> = deletions.into_iter().flatten().collect();
    let deleted_in = t_delete.elapsed();
    if pooled {
        rows.push((
            format!("{what}: deletions"),
            format!(
                "{} in {}, {} failed (objects not counted: the pool refills)",
                created.len(),
                secs(deleted_in),
                failed_deletes.len()
            ),
        ));
        return Ok(rows);
    }
    let left = instance_objects(&server.instance);
    rows.push((
        format!("{what}: objects left after every session is deleted"),
        format!(
            "{} ({} deletions in {}, {} failed{}{})",
            left.len(),
            created.len(),
            secs(deleted_in),
            failed_deletes.len(),
            failed_deletes
                .first()
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default(),
            left.first()
                .map(|o| format!("; first left: {o}"))
                .unwrap_or_default()
        ),
    ));
    Ok(rows)
}

fn environment_row(limit: &str, args: &Args) -> (String, String) {
    (
        "setup".to_owned(),
        format!(
            "max_sessions {limit}, timeout {} s per request, {} CPUs, load average {}",
            args.timeout,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )
}

async fn burst_server(limit: &str, creations: &str, pool: Option<String>) -> Result<Server> {
    let mut env = vec![
        ("PLAYGROUND_MAX_SESSIONS", limit.to_owned()),
        ("PLAYGROUND_MAX_SESSIONS_PER_IP", limit.to_owned()),
        (
            "PLAYGROUND_SESSION_CREATIONS_PER_MINUTE",
            creations.to_owned(),
        ),
        // "session network ready" lines: network and registry times.
        (
            "RUST_LOG",
            "info,sandbox_server::runtime::docker=debug".to_owned(),
        ),
    ];
    if let Some(pool) = pool {
        env.push(("PLAYGROUND_WARM_POOL", pool));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(Profile::Release, &env, &[]).await
}

pub async fn run(args: &Args) -> Result<()> {
    let largest = args.dind.iter().copied().fold(args.base, usize::max);
    let limit = args.max_sessions.unwrap_or(largest + 4).to_string();
    let creations = (2 * (args.base + args.dind.iter().sum::<usize>()) + 4).to_string();
    let timeout = Duration::from_secs(args.timeout);
    let settle = Duration::from_secs(args.settle);
    let mut rows = Vec::new();
    if args.base > 0 || args.dind.iter().any(|&n| n > 0) {
        let server = burst_server(&limit, &creations, None).await?;
        rows.push(environment_row(&limit, args));
        if args.base > 0 {
            let burst = one_burst(
                &server,
                &args.base_lesson,
                args.base,
                timeout,
                settle,
                false,
            );
            rows.extend(burst.await?);
        }
        for &n in args.dind.iter().filter(|&&n| n > 0) {
            rows.extend(one_burst(&server, &args.lesson, n, timeout, settle, false).await?);
        }
    }
    if args.pool > 0 {
        // A fresh server whose pool holds `pool` sessions of the lesson, with room for
        // the burst and the pool's refill.
        let limit = (2 * args.pool + 4).to_string();
        let pool = format!("{}={}", args.lesson, args.pool);
        let server = burst_server(&limit, &creations, Some(pool)).await?;
        let series = format!("playground_pool_ready{{lesson=\"{}\"}}", args.lesson);
        let t0 = Instant::now();
        let deadline = Duration::from_secs(args.timeout.max(30) * args.pool as u64);
        while metric(&server.metrics().await, &series) < args.pool as f64 {
            anyhow::ensure!(
                t0.elapsed() < deadline,
                "the warm pool of {} never held {} sessions",
                args.lesson,
                args.pool
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        rows.push(environment_row(&limit, args));
        rows.push((
            format!("warm pool of {} × {}: full after", args.pool, args.lesson),
            format!("{} (built one at a time)", secs(t0.elapsed())),
        ));
        let burst = one_burst(&server, &args.lesson, args.pool, timeout, settle, true);
        rows.extend(burst.await?);
    }
    println!("\n| measure | result |\n|---|---|");
    for (what, result) in rows {
        println!("| {what} | {result} |");
    }
    Ok(())
}
