//! `terminal-bench`: terminal latency and throughput, printed as one table.
//!
//! ```text
//! cargo run --release -p playground-e2e --bin terminal-bench [-- --peer --streamers 20]
//! ```
//!
//! Starts a release `sandbox-server` on loopback and measures:
//! 1. time from `POST /sessions` to the first prompt byte on the WebSocket (N sessions);
//! 2. keystroke echo round trip (200 single keys), median and p99, taken in turns
//!    with the same through a raw `docker exec` attach (the container PTY path alone);
//! 3. the same while `--streamers` other sessions stream output (`--stream-kib-per-s`
//!    each, one row per rate) to clients that ack every frame;
//! 4. throughput of `cat` of a large text file to a client that acks every frame,
//!    next to `docker exec -t NODE cat` of the same file (the container PTY ceiling);
//! 5. server memory (RSS) per idle session.
//!
//! With `--peer`, `tests/bench/peer.sh` does 2 and 4 through WeTTY (npm) on the same
//! machine in the same run, and its numbers stand in a column of their own.

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
    streamers: usize,
    stream_kib_per_s: Vec<usize>,
    peer: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        sessions: 20,
        echoes: 200,
        throughput_mb: 100,
        idle_sessions: 30,
        streamers: 20,
        stream_kib_per_s: vec![16, 64, 256],
        peer: false,
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
            "--streamers" => args.streamers = value()?,
            "--stream-kib-per-s" => {
                args.stream_kib_per_s = it
                    .next()
                    .context("--stream-kib-per-s needs numbers")?
                    .split(',')
                    .map(|n| n.trim().parse().context("--stream-kib-per-s needs numbers"))
                    .collect::<Result<_>>()?
            }
            "--peer" => args.peer = true,
            "-h" | "--help" => {
                println!(
                    "terminal-bench [--sessions N] [--echoes N] [--throughput-mb N] [--idle-sessions N]\n\
                     \x20              [--streamers N] [--stream-kib-per-s N] [--peer]\n\
                     --streamers: sessions streaming output during the second echo run (20; 0: skip)\n\
                     --stream-kib-per-s: what each of them prints per second, a list (16,64,256)\n\
                     --peer: also run tests/bench/peer.sh (WeTTY from npm) and show it side by side"
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

/// The container PTY path alone, with no web terminal in front of it: an exec of
/// `bash -l` with a TTY in `container`, attached straight to the Engine's socket the
/// way `docker exec -it` (and the server) attach. Returns the raw stream, at its prompt.
async fn raw_exec_shell(container: &str) -> Result<tokio::net::UnixStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = playground_e2e::engine_socket();
    let body = r#"{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"Cmd":["bash","-l"],"Env":["TERM=xterm-256color"],"WorkingDir":"/root"}"#;
    let mut s = tokio::net::UnixStream::connect(&socket).await?;
    s.write_all(
        format!(
            "POST /containers/{container}/exec HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n\
             Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).await?;
    let json = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .context("no exec reply")?;
    // A chunked body holds the JSON between its size lines.
    let start = json.find('{').context("no JSON in the exec reply")?;
    let end = json.rfind('}').context("no JSON in the exec reply")?;
    let id: serde_json::Value = serde_json::from_str(&json[start..=end])?;
    let id = id["Id"].as_str().context("no exec id")?.to_owned();
    let mut s = tokio::net::UnixStream::connect(&socket).await?;
    let body = r#"{"Detach":false,"Tty":true}"#;
    s.write_all(
        format!(
            "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n\
             Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.ends_with(b"# ") {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut buf))
            .await
            .context("no prompt from the raw exec")??;
        anyhow::ensure!(n > 0, "the raw exec closed");
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(s)
}

/// One single-key echo round trip on a raw exec stream.
async fn raw_echo_once(s: &mut tokio::net::UnixStream, key: u8) -> Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4096];
    let t0 = Instant::now();
    s.write_all(&[key]).await?;
    loop {
        let got = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .context("no echo from the raw exec")??;
        anyhow::ensure!(got > 0, "the raw exec closed");
        if buf[..got].contains(&key) {
            return Ok(t0.elapsed());
        }
    }
}

/// Ctrl-U on a raw exec stream, and what it printed read away.
async fn raw_clear_line(s: &mut tokio::net::UnixStream) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4096];
    s.write_all(b"\x15").await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Ok(Ok(got)) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
    {
        if got == 0 {
            break;
        }
    }
    Ok(())
}

/// One single-key echo round trip on `ws`.
async fn echo_once(ws: &mut Ws, key: u8) -> Result<Duration> {
    let t0 = Instant::now();
    send_input(ws, &[key]).await?;
    read_until(ws, &[key], Duration::from_secs(5)).await?;
    Ok(t0.elapsed())
}

/// Ctrl-U on `ws`, and what it printed read away, so the line never wraps.
async fn clear_line(ws: &mut Ws) -> Result<()> {
    send_input(ws, b"\x15").await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), ws.next()).await {}
    Ok(())
}

/// `n` single-key echo round trips through the playground and through the raw
/// exec, taken in turns so that both see the same moments of the machine's load;
/// each sorted.
async fn paired_echo_round_trips(
    ws: &mut Ws,
    raw: &mut tokio::net::UnixStream,
    n: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let mut ours = Vec::with_capacity(n);
    let mut theirs = Vec::with_capacity(n);
    for i in 0..n {
        let key = b'a' + (i % 26) as u8;
        ours.push(echo_once(ws, key).await?);
        theirs.push(raw_echo_once(raw, key).await?);
        if i % 50 == 49 {
            clear_line(ws).await?;
            raw_clear_line(raw).await?;
        }
    }
    clear_line(ws).await?;
    raw_clear_line(raw).await?;
    ours.sort();
    theirs.sort();
    Ok((ours, theirs))
}

fn echo_summary(echoes: &[Duration]) -> String {
    format!(
        "p50 {}, p90 {}, p99 {}, max {} (n={})",
        ms(percentile(echoes, 0.5)),
        ms(percentile(echoes, 0.9)),
        ms(percentile(echoes, 0.99)),
        ms(*echoes.last().expect("echoes")),
        echoes.len()
    )
}

/// Sessions whose shells print `kib_per_s` KiB per second each (100-byte lines, a
/// burst every 10 ms) to clients that ack every frame, until dropped.
struct Streamers {
    sessions: Vec<CreatedSession>,
    readers: Vec<tokio::task::JoinHandle<u64>>,
    started: Instant,
}

impl Streamers {
    async fn start(server: &Server, n: usize, kib_per_s: usize) -> Result<Streamers> {
        let lines_per_tick = (kib_per_s * 1024 / 100 / 100).max(1);
        let program = format!(
            "perl -e '$|=1; $l=(\"x\" x 99).\"\\n\"; while(1){{print $l x {lines_per_tick}; select(undef,undef,undef,0.01)}}'\r"
        );
        let mut sessions = Vec::new();
        let mut readers = Vec::new();
        let mut started = Instant::now();
        for _ in 0..n {
            let (s, mut ws) = session_at_prompt(server).await?;
            send_input(&mut ws, program.as_bytes()).await?;
            readers.push(tokio::spawn(async move {
                let mut total = 0u64;
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Binary(data) = msg {
                        if let Ok(ServerFrame::Output(bytes)) = ServerFrame::decode(&data) {
                            total += bytes.len() as u64;
                            let ack = ClientFrame::Ack(bytes.len() as u32).encode();
                            if ws.send(Message::Binary(ack.into())).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                total
            }));
            sessions.push(s);
            started = Instant::now();
        }
        Ok(Streamers {
            sessions,
            readers,
            started,
        })
    }

    /// Stops them; the KiB/s they delivered in all (from when the last one started
    /// until the first was stopped; the others stream a little longer).
    async fn stop(self, server: &Server) -> Result<f64> {
        let took = self.started.elapsed();
        for s in &self.sessions {
            server.delete_session(s).await?;
        }
        let mut total = 0;
        for r in self.readers {
            total += r.await.unwrap_or(0);
        }
        Ok(total as f64 / 1024.0 / took.as_secs_f64())
    }
}

/// What `tests/bench/peer.sh --json` measured through WeTTY.
#[derive(serde::Deserialize)]
struct Peer {
    echo_p50_ms: f64,
    echo_p99_ms: f64,
    echoes: usize,
    mb_per_s: f64,
    seconds: f64,
    ceiling_mb_per_s: f64,
    ceiling_seconds: f64,
    file_mb: u64,
}

fn run_peer(args: &Args) -> Result<Peer> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/peer.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(["--json", "--throughput-mb", &args.throughput_mb.to_string()])
        .args(["--echoes", &args.echoes.to_string()])
        .env(
            "DOCKER_HOST",
            format!("unix://{}", playground_e2e::engine_socket()),
        )
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running tests/bench/peer.sh")?;
    if !out.status.success() {
        bail!("tests/bench/peer.sh failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).context("reading peer.sh --json")
}

/// One row of the table: what, the playground, WeTTY, the `docker exec` ceiling, target.
type Row = [String; 5];

// One thread, like the browser tab a learner has: the client's own thread
// hops would otherwise show up in the round trips.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    if !docker_available() {
        bail!("terminal-bench needs Docker and the session images (scripts/setup.sh)");
    }
    let limit = (args.sessions + args.idle_sessions + args.streamers + 4).to_string();
    let server = start_server(&limit).await?;
    let mut rows: Vec<Row> = Vec::new();
    let dash = || "-".to_string();

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
    rows.push([
        "POST /sessions -> first prompt byte (no warm pool)".into(),
        format!(
            "median {} (p90 {}, first {}; n={})",
            ms(percentile(&starts, 0.5)),
            ms(percentile(&starts, 0.9)),
            ms(first),
            starts.len()
        ),
        dash(),
        dash(),
        "< 1 s".into(),
    ]);

    // 2. Keystroke echo round trip, then the same with other sessions streaming.
    let (s, mut ws) = session_at_prompt(&server).await?;
    let container = format!("pg-{}-node1", s.id);
    let mut raw = raw_exec_shell(&container).await?;
    let (echoes, raw_echoes) = paired_echo_round_trips(&mut ws, &mut raw, args.echoes).await?;
    let echo_row = rows.len();
    rows.push([
        "keystroke echo round trip".into(),
        echo_summary(&echoes),
        dash(),
        echo_summary(&raw_echoes),
        "p99 ≤ 1 ms, and ≤ the peer's".into(),
    ]);
    for &rate in args.stream_kib_per_s.iter().filter(|_| args.streamers > 0) {
        let streamers = Streamers::start(&server, args.streamers, rate).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (loaded, raw_loaded) = paired_echo_round_trips(&mut ws, &mut raw, args.echoes).await?;
        let delivered = streamers.stop(&server).await?;
        rows.push([
            format!(
                "echo while {} other sessions stream {rate} KiB/s each",
                args.streamers
            ),
            format!(
                "{} (they got about {delivered:.0} KiB/s in all)",
                echo_summary(&loaded)
            ),
            dash(),
            echo_summary(&raw_loaded),
            "p99 ≤ 2 ms".into(),
        ]);
    }
    drop(raw);

    // 3. Throughput of cat of a large text file.
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
    let cat_row = rows.len();
    rows.push([
        format!("cat of {} MB to an acking client", size / 1_000_000),
        format!("{ours:.1} MB/s ({:.2} s)", took.as_secs_f64()),
        dash(),
        format!(
            "{ceiling:.1} MB/s ({:.2} s){}",
            ceiling_took.as_secs_f64(),
            if status.success() { "" } else { " [failed]" }
        ),
        "≥ the `docker exec -t cat` ceiling".into(),
    ]);
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
    rows.push([
        "server RSS per idle session".into(),
        format!(
            "{:.0} KiB ({} sessions with a shell each: {} -> {} KiB)",
            (after.saturating_sub(before)) as f64 / args.idle_sessions.max(1) as f64,
            args.idle_sessions,
            before,
            after
        ),
        dash(),
        dash(),
        dash(),
    ]);
    for s in idle.iter().chain(std::iter::once(&warm)) {
        server.delete_session(s).await?;
    }
    drop(server);

    // 5. The peer, on the same machine right after.
    if args.peer {
        let peer = run_peer(&args)?;
        rows[echo_row][2] = format!(
            "p50 {:.2} ms, p99 {:.2} ms (n={})",
            peer.echo_p50_ms, peer.echo_p99_ms, peer.echoes
        );
        rows[cat_row][2] = format!(
            "{:.1} MB/s ({:.2} s, {} MB)",
            peer.mb_per_s, peer.seconds, peer.file_mb
        );
        rows[cat_row][3] += &format!(
            "; in the peer's run: {:.1} MB/s ({:.2} s)",
            peer.ceiling_mb_per_s, peer.ceiling_seconds
        );
    }

    println!(
        "\n| measure | playground | WeTTY 3.2.0 + `docker exec -it`{} | the container PTY path alone (`docker exec -t`) | target |\n|---|---|---|---|---|",
        if args.peer { "" } else { " (--peer)" }
    );
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
    Ok(())
}
