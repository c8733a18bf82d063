//! An in-memory [`Runtime`] for unit tests: no Docker, everything in maps.
//!
//! - Sessions and nodes are entries in a map; tests can seed nodes (orphans,
//!   stopped nodes), remove them, and make the next `create_node` fail.
//! - A shell is a small "program" on the far end of tokio duplex pipes: it
//!   echoes what it reads, and its [`FakeShell`] handle makes it print bytes
//!   (blocking when the pipe is full, like a real PTY, so flow control shows)
//!   or exit with a code.
//! - `exec` answers with outputs scripted by a substring of the command.
//! - Files are a map from (session, node, path) to mode and bytes.
//! - Restarts, node creations (after the node exists) and execs can be held
//!   until a test releases them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use super::*;

/// Bytes the duplex pipe between terminal and fake program buffers each way.
const PIPE_BYTES: usize = 4096;

#[derive(Default)]
pub struct FakeRuntime {
    state: Mutex<FakeState>,
    output_limits: OutputLimits,
}

#[derive(Default)]
struct FakeState {
    /// Sessions prepared and not removed (their "network").
    prepared: BTreeSet<String>,
    /// (session, node) -> running.
    nodes: BTreeMap<(String, String), bool>,
    files: HashMap<(String, String, String), (u32, Vec<u8>)>,
    /// Command substring -> what `exec` answers: exit code and what it prints.
    exec_script: Vec<(String, i64, Bytes)>,
    exec_log: Vec<(String, String, Vec<String>)>,
    fail_create_node: usize,
    no_free_subnet: bool,
    subnets_contended: bool,
    shells: Vec<FakeShell>,
    restarts: Vec<(String, String)>,
    restart_gate: Option<Arc<Notify>>,
    create_gate: Option<Arc<Notify>>,
    exec_gate: Option<Arc<Notify>>,
    remove_gate: Option<Arc<Notify>>,
    removed: Vec<String>,
    /// Path -> what a node's inner Docker daemon answers (`inner_docker_get`).
    inner_docker: HashMap<String, (u16, Bytes)>,
}

fn key(session: &str, node: &str) -> (String, String) {
    (session.to_owned(), node.to_owned())
}

impl FakeRuntime {
    pub fn new() -> Arc<FakeRuntime> {
        Arc::new(FakeRuntime::default())
    }

    /// A fake whose `exec` keeps and reads output within `limits`.
    pub fn with_output_limits(limits: OutputLimits) -> Arc<FakeRuntime> {
        Arc::new(FakeRuntime {
            output_limits: limits,
            ..FakeRuntime::default()
        })
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `create_node` fails (a missing image, say).
    pub fn fail_next_create_node(&self) {
        self.state().fail_create_node += 1;
    }

    /// `prepare_session` reports the subnet pool exhausted.
    pub fn run_out_of_subnets(&self) {
        self.state().no_free_subnet = true;
    }

    /// `prepare_session` reports every block it tried taken by another server.
    pub fn contend_for_subnets(&self) {
        self.state().subnets_contended = true;
    }

    /// A node that exists as if left from an earlier run.
    /// What every node's inner Docker daemon answers to `GET path`
    /// (unset paths answer 404).
    pub fn answer_inner_docker(&self, path: &str, status: u16, body: &str) {
        self.state()
            .inner_docker
            .insert(path.to_owned(), (status, Bytes::from(body.to_owned())));
    }

    pub fn add_node(&self, session: &str, node: &str, running: bool) {
        self.state().nodes.insert(key(session, node), running);
    }

    /// A session's shared objects without nodes (a crash before its nodes).
    pub fn add_leftover(&self, session: &str) {
        self.state().prepared.insert(session.to_owned());
    }

    /// The node disappears, as if removed behind the server's back.
    pub fn lose_node(&self, session: &str, node: &str) {
        self.state().nodes.remove(&key(session, node));
    }

    /// Whether the node exists and runs; `None` when it does not exist.
    pub fn node_running(&self, session: &str, node: &str) -> Option<bool> {
        self.state().nodes.get(&key(session, node)).copied()
    }

    /// How many nodes exist now, in every session.
    pub fn node_count(&self) -> usize {
        self.state().nodes.len()
    }

    /// Whether anything of the session exists.
    pub fn has_session(&self, session: &str) -> bool {
        let st = self.state();
        st.prepared.contains(session) || st.nodes.keys().any(|(s, _)| s == session)
    }

    /// Sessions `remove_session` was called for, in order.
    pub fn removed(&self) -> Vec<String> {
        self.state().removed.clone()
    }

    /// `exec` of a command whose words contain `needle` prints `output`
    /// and exits with `code`.
    pub fn script_exec(&self, needle: &str, code: i64, output: impl Into<Bytes>) {
        self.state()
            .exec_script
            .push((needle.to_owned(), code, output.into()));
    }

    /// Every `exec` so far: session, node, command.
    pub fn exec_log(&self) -> Vec<(String, String, Vec<String>)> {
        self.state().exec_log.clone()
    }

    /// Every shell opened so far, oldest first.
    pub fn shells(&self) -> Vec<FakeShell> {
        self.state().shells.clone()
    }

    /// The nodes restarted so far.
    pub fn restarts(&self) -> Vec<(String, String)> {
        self.state().restarts.clone()
    }

    /// Restarts wait until the returned notify is signalled (once per restart).
    pub fn hold_restarts(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.state().restart_gate = Some(gate.clone());
        gate
    }

    /// `create_node` makes its node, then waits until the returned notify is
    /// signalled (once per node): a creation caught half-way.
    pub fn hold_create_node(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.state().create_gate = Some(gate.clone());
        gate
    }

    /// `exec` waits (after it is logged) until the returned notify is
    /// signalled, once per exec: scripts caught running.
    pub fn hold_exec(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.state().exec_gate = Some(gate.clone());
        gate
    }

    /// `remove_session` waits until the returned notify is signalled, once
    /// per removal: an ending caught half-way.
    pub fn hold_remove_session(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        self.state().remove_gate = Some(gate.clone());
        gate
    }

    /// A file as stored: mode and content.
    pub fn file(&self, session: &str, node: &str, path: &str) -> Option<(u32, Vec<u8>)> {
        self.state()
            .files
            .get(&(session.to_owned(), node.to_owned(), path.to_owned()))
            .cloned()
    }

    fn require_node(&self, session: &str, node: &str) -> RuntimeResult<()> {
        match self.node_running(session, node) {
            Some(true) => Ok(()),
            _ => Err(RuntimeError::NoSuchNode {
                session: session.to_owned(),
                node: node.to_owned(),
            }),
        }
    }
}

/// Polls `done` (letting the fake's spawned programs and the code under
/// test run) until it holds; fails the test after 2 s.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not within 2 s: {what}");
}

/// Waits at a test's gate, if one is set.
async fn pass(gate: Option<Arc<Notify>>) {
    if let Some(gate) = gate {
        gate.notified().await;
    }
}

/// What a test tells a fake shell's program.
enum Command {
    Print(Bytes),
    Exit(i64),
}

/// A test's handle on one fake shell.
#[derive(Clone)]
pub struct FakeShell {
    pub session: String,
    pub node: String,
    commands: mpsc::UnboundedSender<Command>,
    input: Arc<Mutex<Vec<u8>>>,
    sizes: Arc<Mutex<Vec<(u16, u16)>>>,
}

impl FakeShell {
    /// The program writes `bytes` to the terminal.
    pub fn print(&self, bytes: impl Into<Bytes>) {
        let _ = self.commands.send(Command::Print(bytes.into()));
    }

    /// The program exits with `code`: its output ends.
    pub fn exit(&self, code: i64) {
        let _ = self.commands.send(Command::Exit(code));
    }

    /// Everything the program has read from the terminal.
    pub fn input(&self) -> Vec<u8> {
        self.input.lock().unwrap().clone()
    }

    /// Every size the PTY was given (cols, rows), the opening size first.
    pub fn sizes(&self) -> Vec<(u16, u16)> {
        self.sizes.lock().unwrap().clone()
    }
}

/// Reads input (as a PTY does, even while output is blocked), records it
/// and queues its echo.
async fn read_input(
    mut pty: tokio::io::ReadHalf<tokio::io::DuplexStream>,
    echo: mpsc::UnboundedSender<Command>,
    input: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = pty.read(&mut buf).await {
        input.lock().unwrap().extend_from_slice(&buf[..n]);
        let _ = echo.send(Command::Print(Bytes::copy_from_slice(&buf[..n])));
    }
}

/// Prints (echoes included) and exits on command; records the exit code.
/// Exiting drops the program's end of the pipe, which ends the terminal's output.
async fn run_program(
    pty: tokio::io::DuplexStream,
    echo: mpsc::UnboundedSender<Command>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    input: Arc<Mutex<Vec<u8>>>,
    exit: Arc<Mutex<Option<i64>>>,
) {
    let (reader, mut writer) = tokio::io::split(pty);
    let reading = tokio::spawn(read_input(reader, echo, input));
    while let Some(command) = commands.recv().await {
        match command {
            Command::Print(bytes) => {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            Command::Exit(code) => {
                *exit.lock().unwrap() = Some(code);
                break;
            }
        }
    }
    reading.abort();
}

struct FakeControl {
    sizes: Arc<Mutex<Vec<(u16, u16)>>>,
    exit: Arc<Mutex<Option<i64>>>,
}

#[async_trait]
impl ShellControl for FakeControl {
    async fn resize(&self, cols: u16, rows: u16) -> RuntimeResult<()> {
        self.sizes.lock().unwrap().push((cols, rows));
        Ok(())
    }

    async fn exit_code(&self) -> RuntimeResult<Option<i64>> {
        Ok(*self.exit.lock().unwrap())
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn prepare_session(&self, session: &str, _expires_at: i64) -> RuntimeResult<()> {
        let mut st = self.state();
        if st.no_free_subnet {
            return Err(RuntimeError::NoFreeSubnet("10.99.0.0/16".into()));
        }
        if st.subnets_contended {
            return Err(RuntimeError::SubnetsContended("10.99.0.0/16".into()));
        }
        st.prepared.insert(session.to_owned());
        Ok(())
    }

    async fn create_node(&self, spec: &NodeSpec) -> RuntimeResult<()> {
        let gate = {
            let mut st = self.state();
            if st.fail_create_node > 0 {
                st.fail_create_node -= 1;
                return Err(RuntimeError::MissingImage(spec.image.clone()));
            }
            st.nodes.insert(key(&spec.session, &spec.node), true);
            st.create_gate.clone()
        };
        pass(gate).await;
        Ok(())
    }

    async fn start_node(&self, session: &str, node: &str) -> RuntimeResult<()> {
        match self.state().nodes.get_mut(&key(session, node)) {
            Some(running) => {
                *running = true;
                Ok(())
            }
            None => Err(RuntimeError::NoSuchNode {
                session: session.to_owned(),
                node: node.to_owned(),
            }),
        }
    }

    async fn restart_node(&self, session: &str, node: &str, _grace: i32) -> RuntimeResult<()> {
        self.require_node(session, node)?;
        let gate = self.state().restart_gate.clone();
        pass(gate).await;
        self.state().restarts.push(key(session, node));
        Ok(())
    }

    async fn remove_session(&self, session: &str) -> RuntimeResult<()> {
        let gate = self.state().remove_gate.clone();
        pass(gate).await;
        let mut st = self.state();
        st.prepared.remove(session);
        st.nodes.retain(|(s, _), _| s != session);
        st.files.retain(|(s, _, _), _| s != session);
        st.removed.push(session.to_owned());
        Ok(())
    }

    async fn list_nodes(&self) -> RuntimeResult<Vec<FoundNode>> {
        Ok(self
            .state()
            .nodes
            .iter()
            .map(|((session, node), running)| FoundNode {
                session: session.clone(),
                node: node.clone(),
                running: *running,
            })
            .collect())
    }

    async fn list_session_leftovers(&self) -> RuntimeResult<Vec<String>> {
        Ok(self.state().prepared.iter().cloned().collect())
    }

    async fn open_shell(
        &self,
        session: &str,
        node: &str,
        _cmd: &[String],
        cols: u16,
        rows: u16,
    ) -> RuntimeResult<Shell> {
        self.require_node(session, node)?;
        let (terminal_end, program_end) = tokio::io::duplex(PIPE_BYTES);
        let (tx, rx) = mpsc::unbounded_channel();
        let input = Arc::new(Mutex::new(Vec::new()));
        let sizes = Arc::new(Mutex::new(vec![(cols, rows)]));
        let exit = Arc::new(Mutex::new(None));
        tokio::spawn(run_program(
            program_end,
            tx.clone(),
            rx,
            input.clone(),
            exit.clone(),
        ));
        self.state().shells.push(FakeShell {
            session: session.to_owned(),
            node: node.to_owned(),
            commands: tx,
            input,
            sizes: sizes.clone(),
        });
        let (output, input) = tokio::io::split(terminal_end);
        Ok(Shell {
            output: Box::pin(output),
            input: Box::pin(input),
            initial_output: Bytes::new(),
            control: Box::new(FakeControl { sizes, exit }),
        })
    }

    async fn exec(&self, session: &str, node: &str, cmd: &[String]) -> RuntimeResult<ExecOutput> {
        self.require_node(session, node)?;
        let (answer, gate) = {
            let mut st = self.state();
            st.exec_log
                .push((session.to_owned(), node.to_owned(), cmd.to_vec()));
            let answer = st
                .exec_script
                .iter()
                .find(|(needle, ..)| cmd.iter().any(|word| word.contains(needle.as_str())))
                .map(|(_, code, out)| (*code, out.clone()));
            (answer, st.exec_gate.clone())
        };
        pass(gate).await;
        let (code, printed) = answer.unwrap_or_default();
        // Read as a backend reads a stream: chunk by chunk, through the tail.
        let mut tail = OutputTail::new(self.output_limits);
        for chunk in printed.chunks(PIPE_BYTES) {
            if !tail.push(chunk) {
                break;
            }
        }
        Ok(tail.finish(code))
    }

    async fn node_address(
        &self,
        session: &str,
        node: &str,
        _refresh: bool,
    ) -> RuntimeResult<IpAddr> {
        self.require_node(session, node)?;
        let st = self.state();
        let index = st.nodes.keys().position(|k| *k == key(session, node));
        Ok(IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            0,
            2 + index.unwrap_or(0) as u8,
        )))
    }

    async fn write_file(&self, session: &str, node: &str, file: NewFile) -> RuntimeResult<()> {
        self.require_node(session, node)?;
        let NewFile {
            path,
            mode,
            size,
            mut body,
        } = file;
        let mut content = Vec::new();
        while let Some(chunk) = body.next().await {
            content.extend_from_slice(&chunk?);
        }
        if content.len() as u64 != size {
            return Err(RuntimeError::Backend(format!(
                "fake: {} bytes announced, {} sent",
                size,
                content.len()
            )));
        }
        self.state()
            .files
            .insert((session.to_owned(), node.to_owned(), path), (mode, content));
        Ok(())
    }

    async fn read_file(
        &self,
        session: &str,
        node: &str,
        path: &str,
    ) -> RuntimeResult<FileDownload> {
        self.require_node(session, node)?;
        let (_, content) = self.file(session, node, path).ok_or_else(|| {
            RuntimeError::NoSuchPath(format!("{node}: no such file or directory: {path}"))
        })?;
        Ok(FileDownload {
            size: content.len() as u64,
            body: Box::pin(futures_util::stream::iter([Ok(Bytes::from(content))])),
        })
    }

    async fn inspect_node(&self, session: &str, node: &str) -> RuntimeResult<NodeFacts> {
        let running = self
            .node_running(session, node)
            .ok_or_else(|| RuntimeError::NoSuchNode {
                session: session.to_owned(),
                node: node.to_owned(),
            })?;
        let address = if running {
            self.node_address(session, node, false).await.ok()
        } else {
            None
        };
        Ok(NodeFacts {
            image: "fake".into(),
            running,
            address,
            inspect_json: serde_json::json!({
                "Name": format!("/{}", container_name(session, node)),
                "State": { "Running": running },
                "Config": { "Image": "fake" },
            })
            .to_string(),
        })
    }

    async fn inner_docker_get(
        &self,
        session: &str,
        node: &str,
        path: &str,
        max_bytes: u64,
    ) -> RuntimeResult<crate::http_fetch::Fetched> {
        self.require_node(session, node)?;
        let (status, body) = self
            .state()
            .inner_docker
            .get(path)
            .cloned()
            .unwrap_or((404, Bytes::from_static(b"{\"message\":\"not found\"}")));
        if body.len() as u64 > max_bytes {
            return Err(RuntimeError::TooLarge(max_bytes));
        }
        Ok(crate::http_fetch::Fetched { status, body })
    }
}
