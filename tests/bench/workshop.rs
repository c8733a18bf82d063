//! `session-bench --workshop N`: a class of N learners joining one workshop at
//! once, join to first prompt, with the workshop's seats started ahead
//! (`workshop_prestart = true`, waiting until every seat is ready) and without.
//! One server per case, so nothing of the first is left for the second.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use playground_e2e::{Profile, Server};
use protocol::api::CreatedSession;
use serde_json::{json, Value};

use super::{burst::first_prompt, percentile, secs, Args};

/// Join to first prompt of each of `n` learners joining workshop `code` at once, sorted.
async fn class_joins(server: &Server, code: &str, n: usize) -> Result<Vec<Duration>> {
    let joins = (0..n).map(|i| async move {
        let t0 = Instant::now();
        let body = json!({ "name": format!("learner {i}") }).to_string();
        let (status, answer) = server
            .call(
                "POST",
                &format!("/api/v1/workshops/{code}/join"),
                None,
                Some(&body),
            )
            .await;
        if status != 201 {
            bail!("join {i}: {status}: {answer}");
        }
        let s: CreatedSession = serde_json::from_value(answer)?;
        tokio::time::timeout(Duration::from_secs(180), first_prompt(server, &s))
            .await
            .context("no prompt within 180 s")??;
        Ok(t0.elapsed())
    });
    let mut took = Vec::with_capacity(n);
    for r in futures_util::future::join_all(joins).await {
        took.push(r?);
    }
    took.sort();
    Ok(took)
}

/// One case: a server, a workshop of `n` seats of `lesson`, (with prestart:
/// every seat ready), then the class joins. Its rows of the table.
async fn one_case(lesson: &str, n: usize, prestart: bool) -> Result<Vec<(String, String)>> {
    let limit = (n + 4).to_string();
    let server = Server::start_with(
        Profile::Release,
        &[
            ("PLAYGROUND_MAX_SESSIONS", &limit),
            (
                "PLAYGROUND_WORKSHOP_PRESTART",
                if prestart { "true" } else { "false" },
            ),
        ],
        &[],
    )
    .await?;
    let admin = server.admin_token()?;
    let body = json!({ "lesson": lesson, "seats": n, "expires_in_secs": 3600 }).to_string();
    let (status, workshop) = server
        .call("POST", "/api/v1/workshops", Some(&admin), Some(&body))
        .await;
    if status != 201 {
        bail!("POST /workshops: {status}: {workshop}");
    }
    let (id, code) = (
        workshop["id"].as_str().unwrap_or_default().to_owned(),
        workshop["code"].as_str().unwrap_or_default().to_owned(),
    );
    let mut rows = Vec::new();
    let case = if prestart {
        "seats started ahead"
    } else {
        "no seats started ahead"
    };
    if prestart {
        let t0 = Instant::now();
        loop {
            let (_, detail): (u16, Value) = server
                .call(
                    "GET",
                    &format!("/api/v1/workshops/{id}"),
                    Some(&admin),
                    None,
                )
                .await;
            if detail["ready_seats"].as_u64() == Some(n as u64) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60 * n as u64) {
                bail!("the seats were never all ready: {detail}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        rows.push((
            format!("workshop of {n} {lesson} seats: all started ahead"),
            format!("{} after the workshop was opened", secs(t0.elapsed())),
        ));
    }
    let took = class_joins(&server, &code, n).await?;
    rows.push((
        format!("{n} learners join at once, {case}: join to first prompt"),
        format!(
            "p50 {}, p99 {}, max {}",
            secs(percentile(&took, 0.5)),
            secs(percentile(&took, 0.99)),
            secs(*took.last().unwrap())
        ),
    ));
    server
        .call(
            "DELETE",
            &format!("/api/v1/workshops/{id}"),
            Some(&admin),
            None,
        )
        .await;
    Ok(rows)
}

pub async fn run(args: &Args) -> Result<()> {
    let n = args.workshop;
    let mut rows = Vec::new();
    rows.extend(one_case(&args.workshop_lesson, n, false).await?);
    rows.extend(one_case(&args.workshop_lesson, n, true).await?);
    println!("\n| measure | result |\n|---|---|");
    for (what, result) in rows {
        println!("| {what} | {result} |");
    }
    Ok(())
}
