//! `session-bench --memory`: where a Docker-in-Docker session's memory goes (issue 12,
//! "Memory per session"), with the nested dockerd started as the node starts
//! (`dind_dockerd_start = "at-start"`) and on first use (`"on-demand"`, the default)
//! before and after the learner's first `docker` command.
//!
//! For each state it reads, in node1 of one session of `--lesson`: every process's
//! anonymous memory (`RssAnon`: its heap and stacks, what it costs alone) and
//! proportional set size (PSS: that plus its share of mapped files such as its binary,
//! which nodes of one image share through the page cache), summed by command name; the
//! node's memory cgroup (`usage`, which includes page cache, and its `rss`); and how
//! long the first `docker version` took.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use playground_e2e::{node_exec, Profile, Server};

use super::{node_cgroup_kib, session_at_prompt, Args};

/// (RssAnon, PSS) in KiB of every process in the node, by command name.
fn memory_by_command(session: &str) -> Result<BTreeMap<String, (u64, u64)>> {
    let script = r#"for p in /proc/[0-9]*; do
  c=$(tr ' ' _ <$p/comm 2>/dev/null) || continue
  k=$(awk '/^Pss:/ {print $2}' $p/smaps_rollup 2>/dev/null)
  a=$(awk '/^RssAnon:/ {print $2}' $p/status 2>/dev/null)
  [ -n "$k" ] && [ -n "$a" ] && echo "$c $a $k"
done"#;
    let (code, out) = node_exec(session, "node1", script);
    anyhow::ensure!(code == 0, "reading /proc in the node failed: {out}");
    let mut by = BTreeMap::new();
    for line in out.lines() {
        let mut words = line.split(' ');
        let (Some(comm), Some(anon), Some(pss)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        // The reading itself (this script's shell, awk, tr) is not the node's.
        if matches!(comm, "awk" | "tr" | "sh") {
            continue;
        }
        let entry = by.entry(comm.to_owned()).or_insert((0, 0));
        entry.0 += anon.parse::<u64>().unwrap_or(0);
        entry.1 += pss.parse::<u64>().unwrap_or(0);
    }
    Ok(by)
}

/// The node's memory cgroup `rss` (anonymous memory, no page cache), KiB; cgroup v1.
fn node_cgroup_rss_kib(session: &str) -> Option<u64> {
    let (_, out) = node_exec(
        session,
        "node1",
        "awk '$1 == \"total_rss\" {print $2}' /sys/fs/cgroup/memory/memory.stat 2>/dev/null",
    );
    out.trim().parse::<u64>().ok().map(|b| b / 1024)
}

/// One column of the table.
struct State {
    name: String,
    /// (anonymous, PSS) in KiB by command.
    memory: BTreeMap<String, (u64, u64)>,
    cgroup_kib: Option<u64>,
    cgroup_rss_kib: Option<u64>,
    note: String,
}

fn measure(session: &str, name: &str, note: String) -> Result<State> {
    Ok(State {
        name: name.to_owned(),
        memory: memory_by_command(session)?,
        cgroup_kib: node_cgroup_kib(session),
        cgroup_rss_kib: node_cgroup_rss_kib(session),
        note,
    })
}

/// The first `docker version` in the node that answers, timed (`poll`: try again
/// until dockerd, starting with the node, answers; otherwise one try, which must
/// start dockerd); then waits until the bundled images are loaded (the init's
/// after-start work) and things settle.
fn first_docker_command(session: &str, poll: bool) -> Result<Duration> {
    let t0 = Instant::now();
    let command = if poll {
        "for i in $(seq 600); do docker version >/dev/null 2>&1 && exit 0; sleep 0.1; done; docker version"
    } else {
        "docker version >/dev/null"
    };
    let (code, out) = node_exec(session, "node1", command);
    let took = t0.elapsed();
    anyhow::ensure!(code == 0, "docker version failed in the node: {out}");
    let (_, _) = node_exec(
        session,
        "node1",
        "for i in $(seq 100); do docker image inspect busybox >/dev/null 2>&1 && break; sleep 0.1; done",
    );
    std::thread::sleep(Duration::from_secs(3));
    Ok(took)
}

async fn one_mode(args: &Args, mode: &str) -> Result<Vec<State>> {
    let server = Server::start_with(
        Profile::Release,
        &[("PLAYGROUND_DIND_DOCKERD_START", mode)],
        &[],
    )
    .await?;
    let (s, _) = session_at_prompt(&server, &args.lesson).await?;
    let mut states = Vec::new();
    if mode == "on-demand" {
        tokio::time::sleep(Duration::from_secs(3)).await;
        states.push(measure(
            &s.id,
            "on-demand, before any `docker` command",
            String::new(),
        )?);
        let took = first_docker_command(&s.id, false)?;
        states.push(measure(
            &s.id,
            "on-demand, after the first `docker` command",
            format!("first `docker version` {:.2} s", took.as_secs_f64()),
        )?);
    } else {
        let took = first_docker_command(&s.id, true)?;
        states.push(measure(
            &s.id,
            "at-start, dockerd up",
            format!(
                "dockerd answered {:.2} s after the prompt",
                took.as_secs_f64()
            ),
        )?);
    }
    server.delete_session(&s).await?;
    Ok(states)
}

pub async fn run(args: &Args) -> Result<()> {
    let mut states = one_mode(args, "at-start").await?;
    states.extend(one_mode(args, "on-demand").await?);

    let kib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
    let mut commands: Vec<&String> = states.iter().flat_map(|s| s.memory.keys()).collect();
    commands.sort();
    commands.dedup();
    // Largest first, by the most any state shows.
    commands.sort_by_key(|c| {
        std::cmp::Reverse(
            states
                .iter()
                .map(|s| s.memory.get(*c).map_or(0, |v| v.1))
                .max(),
        )
    });
    println!(
        "\n| memory of node1 of one `{}` session | {} |",
        args.lesson,
        states
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(states.len()));
    for c in &commands {
        println!(
            "| `{c}`: anonymous / PSS | {} |",
            states
                .iter()
                .map(|s| {
                    s.memory
                        .get(*c)
                        .map(|(anon, pss)| format!("{} / {}", kib(*anon), kib(*pss)))
                        .unwrap_or_else(|| "-".into())
                })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let row = |what: &str, f: &dyn Fn(&State) -> String| {
        println!(
            "| {what} | {} |",
            states.iter().map(f).collect::<Vec<_>>().join(" | ")
        );
    };
    row("**all processes: anonymous / PSS**", &|s| {
        let anon = s.memory.values().map(|v| v.0).sum();
        let pss = s.memory.values().map(|v| v.1).sum();
        format!("**{} / {}**", kib(anon), kib(pss))
    });
    row("node cgroup `rss` (anonymous memory)", &|s| {
        s.cgroup_rss_kib.map(kib).unwrap_or_else(|| "n/a".into())
    });
    row("node cgroup usage (with page cache)", &|s| {
        s.cgroup_kib.map(kib).unwrap_or_else(|| "n/a".into())
    });
    row("first `docker` command", &|s| {
        if s.note.is_empty() {
            "-".into()
        } else {
            s.note.clone()
        }
    });
    Ok(())
}
