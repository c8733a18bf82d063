//! `terminal-bench`: the numbers issue #2 asks for, printed as a table.
//!
//! ```text
//! cargo run --release -p playground-e2e --bin terminal-bench [-- --throughput-mb 100 --sessions 20]
//! ```
//!
//! Starts a release `sandbox-server` on loopback and measures:
//! 1. time from `POST /sessions` to the first prompt byte on the WebSocket (N sessions);
//! 2. keystroke echo round trip (200 single keys), median and p99;
//! 3. throughput of `cat` of a large text file to a client that acks every frame,
//!    next to `docker exec -t NODE cat` of the same file (the container PTY ceiling);
//! 4. server memory (RSS) per idle session.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use playground_e2e::{docker, docker_available, Profile, Server};
use protocol::api::CreatedSession;
use protocol::terminal::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

struct Args {
    sessions: usize,
    echoes: usize,
    throughput_mb: usize,
    idle_sessions: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        sessions: 20,
        echoes: 200,
        throughput_mb: 100,
        idle_sessions: 30,
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
            "--sessions" => args.sessions = value()?,
            "--echoes" => args.echoes = value()?,
            "--throughput-mb" => args.throughput_mb = value()?,
            "--idle-sessions" => args.idle_sessions = value()?,
            "-h" | "--help" => {
                println!(
                    "terminal-bench [--sessions N] [--echoes N] [--throughput-mb N] [--idle-sessions N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(args)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &Server, id: &str, token: &str) -> Result<Ws> {
    let url = server.ws_url(&format!(
        "/api/v1/sessions/{id}/nodes/node1/terminal?token={token}"
    ));
    let (ws, _) = tokio_tungstenite::connect_async(&url).await?;
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_nodelay(true)?;
    }
    Ok(ws)
}

/// Reads output frames (acking each) until `done` says the accumulated tail matches.
async fn read_until(ws: &mut Ws, needle: &[u8], timeout: Duration) -> Result<u64> {
    let deadline = Instant::now() + timeout;
    let mut tail: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .context("timed out")?
            .context("socket closed")??;
        if let Message::Binary(data) = msg {
            if let ServerFrame::Output(bytes) = ServerFrame::decode(&data)? {
                total += bytes.len() as u64;
                ws.send(Message::Binary(
                    ClientFrame::Ack(bytes.len() as u32).encode().into(),
                ))
                .await?;
                tail.extend_from_slice(bytes);
                if tail.windows(needle.len()).any(|w| w == needle) {
                    return Ok(total);
                }
                let keep = needle.len().max(1) - 1;
                if tail.len() > keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
}

async fn send_input(ws: &mut Ws, text: &[u8]) -> Result<()> {
    ws.send(Message::Binary(ClientFrame::Input(text).encode().into()))
        .await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// A new `shell` session and its terminal, read up to the first prompt.
async fn session_at_prompt(server: &Server) -> Result<(CreatedSession, Ws)> {
    let s = server.create_session("shell").await?;
    let mut ws = connect(server, &s.id, &s.token).await?;
    read_until(&mut ws, b"# ", Duration::from_secs(30)).await?;
    Ok((s, ws))
}

/// A release server that admits `limit` sessions, all from this one client.
async fn start_server(limit: &str) -> Result<Server> {
    Server::start_with(
        Profile::Release,
        &[
            ("PLAYGROUND_MAX_SESSIONS", limit),
            ("PLAYGROUND_MAX_SESSIONS_PER_IP", limit),
            ("PLAYGROUND_SESSION_CREATIONS_PER_MINUTE", limit),
        ],
        &[],
    )
    .await
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    if !docker_available() {
        bail!("terminal-bench needs Docker and the session images (scripts/setup.sh)");
    }
    let limit = (args.sessions + args.idle_sessions + 4).to_string();
    let server = start_server(&limit).await?;
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // 1. POST /sessions to first prompt byte.
    let mut starts = Vec::new();
    for _ in 0..args.sessions {
        let t0 = Instant::now();
        let (s, mut ws) = session_at_prompt(&server).await?;
        starts.push(t0.elapsed());
        let _ = ws.close(None).await;
        server.delete_session(&s).await?;
    }
    let first = starts[0];
    starts.sort();
    rows.push((
        "POST /sessions -> first prompt byte".into(),
        format!(
            "median {} (p90 {}, first {}; n={})",
            ms(percentile(&starts, 0.5)),
            ms(percentile(&starts, 0.9)),
            ms(first),
            starts.len()
        ),
        "< 1 s".into(),
    ));

    // 2. Keystroke echo round trip.
    let (s, mut ws) = session_at_prompt(&server).await?;
    let mut echoes = Vec::new();
    for i in 0..args.echoes {
        let key = [b'a' + (i % 26) as u8];
        let t0 = Instant::now();
        send_input(&mut ws, &key).await?;
        read_until(&mut ws, &key, Duration::from_secs(5)).await?;
        echoes.push(t0.elapsed());
        if i % 50 == 49 {
            // Ctrl-U clears the line so it never wraps.
            send_input(&mut ws, b"\x15").await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ws.next()).await
            {
            }
        }
    }
    send_input(&mut ws, b"\x15").await?;
    echoes.sort();
    rows.push((
        "keystroke echo round trip".into(),
        format!(
            "p50 {}, p99 {} (n={})",
            ms(percentile(&echoes, 0.5)),
            ms(percentile(&echoes, 0.99)),
            echoes.len()
        ),
        "p50 < 1 ms, p99 < 2 ms".into(),
    ));

    // 3. Throughput of cat of a large text file.
    let container = format!("pg-{}-node1", s.id);
    let raw = args.throughput_mb * 1_000_000 * 3 / 4;
    docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        &format!("head -c {raw} /dev/urandom | base64 -w 100 > /tmp/big && sync"),
    ])?;
    let size: u64 = docker(&["exec", &container, "stat", "-c", "%s", "/tmp/big"])?.parse()?;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await {}
    let t0 = Instant::now();
    send_input(&mut ws, b"cat /tmp/big; echo THROUGHPUT''-DONE\r").await?;
    let got = read_until(&mut ws, b"THROUGHPUT-DONE", Duration::from_secs(300)).await?;
    let took = t0.elapsed();
    let ours = got as f64 / took.as_secs_f64() / 1e6;
    // The container PTY path alone, the same way `docker exec -it` reads it.
    let t1 = Instant::now();
    let status = playground_e2e::docker_cli()
        .args(["exec", "-t", &container, "cat", "/tmp/big"])
        .stdout(std::process::Stdio::null())
        .status()?;
    let ceiling_took = t1.elapsed();
    let ceiling = size as f64 / ceiling_took.as_secs_f64() / 1e6;
    rows.push((
        format!("cat of {} MB to an acking client", size / 1_000_000),
        format!("{ours:.1} MB/s ({:.2} s)", took.as_secs_f64()),
        "≥ ttyd + docker exec -it (~33 MB/s here)".into(),
    ));
    rows.push((
        "same file, `docker exec -t cat` alone (PTY ceiling)".into(),
        format!(
            "{ceiling:.1} MB/s ({:.2} s){}",
            ceiling_took.as_secs_f64(),
            if status.success() { "" } else { " [failed]" }
        ),
        "reference".into(),
    ));
    let _ = ws.close(None).await;
    server.delete_session(&s).await?;

    drop(server);

    // 4. Memory per idle session, on a fresh server process (one that streamed
    // 100 MB has freed memory its allocator hands out again, which would hide
    // the sessions' own). Each session's shell runs and a client has seen its
    // screen once, so its terminal and screen mirror exist.
    let server = start_server(&limit).await?;
    let (warm, mut ws) = session_at_prompt(&server).await?;
    let _ = ws.close(None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(server.pid())?;
    let mut idle = Vec::new();
    for _ in 0..args.idle_sessions {
        let (s, mut ws) = session_at_prompt(&server).await?;
        let _ = ws.close(None).await;
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(server.pid())?;
    rows.push((
        "server RSS per idle session".into(),
        format!(
            "{:.0} KiB ({} sessions with a shell each: {} -> {} KiB)",
            (after.saturating_sub(before)) as f64 / args.idle_sessions as f64,
            args.idle_sessions,
            before,
            after
        ),
        "-".into(),
    ));
    for s in idle.iter().chain(std::iter::once(&warm)) {
        server.delete_session(s).await?;
    }

    println!("\n| measure | result | target |\n|---|---|---|");
    for (what, result, target) in rows {
        println!("| {what} | {result} | {target} |");
    }
    Ok(())
}
