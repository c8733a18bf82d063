//! One live terminal per node: the shell's PTY, a screen mirror, and the
//! clients watching it.
//!
//! ```text
//!  PTY output ──pump──▶ vt100 mirror ──▶ each client's bounded queue ──▶ WebSocket
//!  WebSocket input ───────────────────────────────────────────────────▶ PTY input
//! ```
//!
//! - **Reconnect without loss or duplicates.** A client that attaches gets the
//!   mirror's current screen, then the live stream, both under one lock, so no
//!   output falls between the two or arrives twice.
//! - **Flow control.** Each client acknowledges what it rendered. While any
//!   client has more than the high mark unacknowledged, the pump stops reading
//!   the PTY (so `cat` of a huge file blocks in the container, not in memory),
//!   and resumes once every client is under the low mark. Input never waits on
//!   output, so Ctrl-C gets through at once.
//! - **Bounded.** A client whose queue is full is dropped; it reconnects and
//!   gets the screen repainted.
//! - **The mirror does not slow the stream.** Parsing output into the mirror
//!   costs about as much as reading it, so the pump only queues chunks for the
//!   mirror and one low-priority thread parses them for every terminal
//!   (`terminal/mirror_thread.rs`). Whoever needs the screen (a new
//!   client, `/screen`, a resize) first parses what is still queued, holding the
//!   state lock and then the parser lock (always in that order), so the screen
//!   it sees is exactly the output sent before that moment.
//! - **Any runtime.** The shell comes from [`Runtime::open_shell`] with its
//!   own [`ShellControl`] (resize, exit code), so nothing here knows how the
//!   backend names its shells; the unit tests run on a fake runtime.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::terminal::{close_code, Event, NoticeLevel};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::metrics::Metrics;
use crate::runtime::{Runtime, RuntimeError, ShellControl};
use crate::store::SavedScreen;

mod capture;
mod mirror_thread;
#[cfg(test)]
mod tests_on_fake_runtime;

pub use capture::CaptureRule;
use capture::Scanner;

/// Written below a screen restored after a server restart, where the new
/// shell's prompt follows.
const RESTORED_NOTE: &[u8] =
    b"\x1b[0m\r\n\x1b[2m[the playground restarted: this is a new shell]\x1b[0m\r\n";

/// Size of one PTY read.
const READ_CHUNK: usize = 64 * 1024;
/// Output the mirror may lag behind before the pump parses it itself.
const MIRROR_LAG_MAX: usize = 1024 * 1024;

/// Why a node restart did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error("the node is already restarting")]
    Busy,
    #[error(transparent)]
    Runtime(RuntimeError),
}

/// Why a client could not attach.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttachError {
    /// No shell runs (it exited just now): start another and try again.
    #[error("no shell runs")]
    NoShell,
    /// The terminal has `max` clients already.
    #[error("this terminal has {max} sockets open already, the most allowed; close one")]
    Full { max: usize },
}

/// Why a resize did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    /// More cells than `max_terminal_cells`: every attach would repaint that many.
    #[error("terminal size {cols}x{rows} is over the limit of {max_cells} cells")]
    TooLarge {
        cols: u16,
        rows: u16,
        max_cells: u32,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// What a client's WebSocket task sends, in order.
#[derive(Debug)]
pub enum Outbound {
    Output(Bytes),
    Event(Event),
    Close { code: u16, reason: String },
}

/// Knobs of a terminal, from the server config.
#[derive(Debug, Clone)]
pub struct TerminalSettings {
    pub shell: Vec<String>,
    pub flow_high_water: u64,
    pub flow_low_water: u64,
    pub client_queue_frames: usize,
    /// Clients (sockets) attached at once at most.
    pub max_clients: usize,
    /// Largest `cols * rows`: bounds the mirror and the repaint each attach queues.
    pub max_cells: u32,
    /// Values this node's output gives (the lesson's `capture=` blocks on
    /// this node); none for most terminals, which then scan nothing.
    pub captures: Arc<[CaptureRule]>,
}

pub struct Terminal {
    session: String,
    node: String,
    runtime: Arc<dyn Runtime>,
    settings: TerminalSettings,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    /// The screen mirror. Lock order: `state` first, then `mirror`.
    mirror: Mutex<Mirror>,
    /// Set while the node restarts ([`Terminal::restart_node`]).
    restarting: std::sync::atomic::AtomicBool,
    /// Held while a shell starts, so two clients arriving together start one.
    starting: tokio::sync::Mutex<()>,
    input: tokio::sync::Mutex<Option<Pin<Box<dyn AsyncWrite + Send>>>>,
    /// Wakes the pump when flow control lifts.
    resume: Notify,
}

struct State {
    /// Output sent to clients but not yet parsed into the mirror, oldest first.
    unparsed: Vec<Bytes>,
    unparsed_bytes: usize,
    /// This terminal waits in the mirror thread's queue.
    mirror_queued: bool,
    clients: HashMap<u64, Client>,
    next_client: u64,
    /// The running shell, if any: its control (resize, exit code) and a
    /// generation number, so a pump that ends late cannot clear a newer shell.
    shell: Option<(Arc<dyn ShellControl>, u64)>,
    generation: u64,
    paused: bool,
    closed: bool,
    /// The mirror holds a screen restored from before a server restart: the
    /// first shell draws below it instead of on a clean screen.
    restored: bool,
}

impl State {
    /// The output queued for the mirror, oldest first; the queue is left empty.
    fn take_unparsed(&mut self) -> Vec<Bytes> {
        self.unparsed_bytes = 0;
        std::mem::take(&mut self.unparsed)
    }
}

/// What output is parsed into, off the pump's path: the screen, and the
/// values captured from it.
struct Mirror {
    parser: vt100::Parser,
    /// None when the node captures nothing.
    captures: Option<Scanner>,
}

impl Mirror {
    fn process(&mut self, chunk: &[u8]) {
        self.parser.process(chunk);
        if let Some(scanner) = &mut self.captures {
            scanner.feed(chunk);
        }
    }
}

struct Client {
    tx: mpsc::Sender<Outbound>,
    unacked: u64,
}

/// A client's end of a terminal: frames to send, in order.
pub struct Attachment {
    pub id: u64,
    pub rx: mpsc::Receiver<Outbound>,
}

const DEFAULT_COLS: u16 = 80;
const DEFAULT_ROWS: u16 = 24;

impl Terminal {
    pub fn new(
        session: &str,
        node: &str,
        runtime: Arc<dyn Runtime>,
        settings: TerminalSettings,
        metrics: Arc<Metrics>,
    ) -> Arc<Terminal> {
        let captures = Scanner::new(settings.captures.clone());
        Arc::new(Terminal {
            session: session.to_owned(),
            node: node.to_owned(),
            runtime,
            settings,
            metrics,
            state: Mutex::new(State {
                unparsed: Vec::new(),
                unparsed_bytes: 0,
                mirror_queued: false,
                clients: HashMap::new(),
                next_client: 0,
                shell: None,
                generation: 0,
                paused: false,
                closed: false,
                restored: false,
            }),
            mirror: Mutex::new(Mirror {
                parser: vt100::Parser::new(DEFAULT_ROWS, DEFAULT_COLS, 0),
                captures,
            }),
            restarting: std::sync::atomic::AtomicBool::new(false),
            starting: tokio::sync::Mutex::new(()),
            input: tokio::sync::Mutex::new(None),
            resume: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mirror, with everything queued for it parsed. Takes the parser lock
    /// while `st` (the state lock) is held, so no output can slip in between.
    fn mirror_now(&self, st: &mut State) -> MutexGuard<'_, Mirror> {
        let mut mirror = self.mirror.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in st.take_unparsed() {
            mirror.process(&chunk);
        }
        mirror
    }

    /// Parses what is queued for the mirror (the mirror thread's work).
    fn parse_queued(&self) {
        let mut st = self.state();
        st.mirror_queued = false;
        if st.closed {
            return;
        }
        // Take the parser lock before releasing the state lock, so a reader
        // of the mirror waits for these chunks to be parsed.
        let mut mirror = self.mirror.lock().unwrap_or_else(|e| e.into_inner());
        let chunks = st.take_unparsed();
        drop(st);
        for chunk in &chunks {
            mirror.process(chunk);
        }
    }

    /// Starts the shell unless one runs. `size` (cols, rows) is used for a new shell.
    pub async fn ensure_shell(
        self: &Arc<Self>,
        size: Option<(u16, u16)>,
    ) -> Result<(), RuntimeError> {
        let _starting = self.starting.lock().await;
        let (cols, rows) = {
            let mut st = self.state();
            if st.shell.is_some() || st.closed {
                return Ok(());
            }
            let mut mirror = self.mirror_now(&mut st);
            // Callers check the size first; one over the limit is never used.
            let size = size.filter(|&(cols, rows)| self.check_size(cols, rows).is_ok());
            if let Some((cols, rows)) = size {
                mirror.parser.screen_mut().set_size(rows, cols);
            }
            let (rows, cols) = mirror.parser.screen().size();
            (cols, rows)
        };
        let shell = self
            .runtime
            .open_shell(&self.session, &self.node, &self.settings.shell, cols, rows)
            .await?;
        *self.input.lock().await = Some(shell.input);
        let control: Arc<dyn ShellControl> = Arc::from(shell.control);
        let generation = {
            let mut st = self.state();
            st.generation += 1;
            st.shell = Some((control.clone(), st.generation));
            st.take_unparsed();
            let mut mirror = self.mirror.lock().unwrap_or_else(|e| e.into_inner());
            if std::mem::take(&mut st.restored) {
                // The first shell after a restart continues below the saved screen.
                mirror.parser.screen_mut().set_size(rows, cols);
            } else {
                // A fresh shell draws on a clean screen (captured values stay).
                mirror.parser = vt100::Parser::new(rows, cols, 0);
            }
            drop(mirror);
            st.generation
        };
        if !shell.initial_output.is_empty() {
            self.distribute(shell.initial_output);
        }
        tokio::spawn(self.clone().pump(shell.output, control, generation));
        Ok(())
    }

    /// Adds a client: its queue starts with the current screen, then live
    /// output. Refused when no shell runs (it exited just now) or when
    /// `max_clients` are attached: each client holds a queue and a repaint.
    pub fn attach(&self) -> Result<Attachment, AttachError> {
        let mut st = self.state();
        if st.shell.is_none() || st.closed {
            return Err(AttachError::NoShell);
        }
        self.room_in(&st)?;
        let (tx, rx) = mpsc::channel(self.settings.client_queue_frames);
        let screen = Bytes::from(self.mirror_now(&mut st).parser.screen().state_formatted());
        let unacked = screen.len() as u64;
        tx.try_send(Outbound::Output(screen))
            .expect("a new queue has room");
        st.next_client += 1;
        let id = st.next_client;
        st.clients.insert(id, Client { tx, unacked });
        Ok(Attachment { id, rx })
    }

    /// Whether one more client may attach now (a hint: [`Terminal::attach`]
    /// checks again under the lock), so a socket over the cap can be turned
    /// away before it starts or resizes the shell.
    pub fn check_room(&self) -> Result<(), AttachError> {
        self.room_in(&self.state())
    }

    fn room_in(&self, st: &State) -> Result<(), AttachError> {
        if st.clients.len() >= self.settings.max_clients {
            return Err(AttachError::Full {
                max: self.settings.max_clients,
            });
        }
        Ok(())
    }

    pub fn detach(&self, client: u64) {
        let mut st = self.state();
        st.clients.remove(&client);
        self.maybe_resume(&mut st);
    }

    /// Number of clients attached now.
    pub fn clients(&self) -> usize {
        self.state().clients.len()
    }

    /// Writes typed bytes to the shell.
    pub async fn input(&self, bytes: &[u8]) -> Result<(), RuntimeError> {
        let mut input = self.input.lock().await;
        let Some(writer) = input.as_mut() else {
            return Ok(());
        };
        writer.write_all(bytes).await?;
        writer.flush().await?;
        self.metrics.terminal_bytes_in.inc_by(bytes.len() as u64);
        Ok(())
    }

    /// Refuses a size over `max_cells`, before any shell or mirror sees it.
    pub fn check_size(&self, cols: u16, rows: u16) -> Result<(), ResizeError> {
        let max_cells = self.settings.max_cells;
        if u32::from(cols) * u32::from(rows) > max_cells {
            return Err(ResizeError::TooLarge {
                cols,
                rows,
                max_cells,
            });
        }
        Ok(())
    }

    /// Resizes the mirror and the PTY; a size over the cell limit changes nothing.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), ResizeError> {
        self.check_size(cols, rows)?;
        let shell = {
            let mut st = self.state();
            self.mirror_now(&mut st)
                .parser
                .screen_mut()
                .set_size(rows, cols);
            st.shell.as_ref().map(|(control, _)| control.clone())
        };
        match shell {
            Some(control) => Ok(control.resize(cols, rows).await?),
            None => Ok(()),
        }
    }

    /// A client rendered `count` more bytes.
    pub fn ack(&self, client: u64, count: u32) {
        let mut st = self.state();
        if let Some(c) = st.clients.get_mut(&client) {
            c.unacked = c.unacked.saturating_sub(u64::from(count));
        }
        self.maybe_resume(&mut st);
    }

    fn maybe_resume(&self, st: &mut State) {
        if st.paused
            && st
                .clients
                .values()
                .all(|c| c.unacked <= self.settings.flow_low_water)
        {
            st.paused = false;
            self.resume.notify_one();
        }
    }

    /// Restarts the node under this terminal: clients are told and asked to
    /// reconnect, the shell is let go, and `restart` runs while new shells wait
    /// (a client that reconnects early gets a shell in the restarted node).
    /// Fails with [`RestartError::Busy`] while another restart runs.
    pub async fn restart_node<F>(&self, restart: F) -> Result<(), RestartError>
    where
        F: std::future::Future<Output = Result<(), RuntimeError>>,
    {
        /// Clears `restarting` however the restart ends, also when its future is
        /// dropped (the HTTP client went away mid-restart): a flag left set
        /// would refuse every later restart of this node.
        struct Restarting<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Restarting<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        if self.restarting.swap(true, Ordering::AcqRel) {
            return Err(RestartError::Busy);
        }
        let _restarting = Restarting(&self.restarting);
        let _starting = self.starting.lock().await;
        {
            let mut st = self.state();
            // The old pump sees another generation (none) and ends quietly.
            st.shell = None;
            st.paused = false;
            let notice = Event::Notice {
                level: NoticeLevel::Info,
                message: format!("{} is restarting", self.node),
            };
            for (_, c) in st.clients.drain() {
                let _ = c.tx.try_send(Outbound::Event(notice.clone()));
                let _ = c.tx.try_send(Outbound::Close {
                    code: close_code::TRY_AGAIN_LATER,
                    reason: "node restarting; reconnect".into(),
                });
            }
        }
        self.resume.notify_one();
        *self.input.lock().await = None;
        restart.await.map_err(RestartError::Runtime)
    }

    /// The screen, to save at shutdown; None when no shell ever ran here
    /// (nothing to show).
    pub fn snapshot(&self) -> Option<SavedScreen> {
        let mut st = self.state();
        if st.generation == 0 && !st.restored {
            return None;
        }
        let mirror = self.mirror_now(&mut st);
        let parser = &mirror.parser;
        let (rows, cols) = parser.screen().size();
        Some(SavedScreen {
            node: self.node.clone(),
            cols,
            rows,
            screen: parser.screen().state_formatted(),
        })
    }

    /// Puts a screen saved by [`Terminal::snapshot`] before a restart into the
    /// mirror, with a line saying the shell is new (its variables and working
    /// directory are gone). Only before the first shell starts.
    pub fn restore(&self, saved: &SavedScreen) {
        let mut st = self.state();
        if st.generation != 0 || saved.cols == 0 || saved.rows == 0 {
            return;
        }
        let mut parser = vt100::Parser::new(saved.rows, saved.cols, 0);
        parser.process(&saved.screen);
        parser.process(RESTORED_NOTE);
        let mut mirror = self.mirror.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(scanner) = &mut mirror.captures {
            // What was printed before the restart is known again as far as
            // the saved screen shows it.
            scanner.scan_text(&parser.screen().contents());
        }
        mirror.parser = parser;
        st.restored = true;
    }

    /// The screen as plain text, one line per row.
    pub fn screen_text(&self) -> String {
        let mut st = self.state();
        let text = self.mirror_now(&mut st).parser.screen().contents();
        text
    }

    /// The text left of the cursor on its row: what a program waiting for
    /// input shows as its prompt (`/ # `, `>>> `), or nothing.
    pub fn prompt_line(&self) -> String {
        let mut st = self.state();
        let mirror = self.mirror_now(&mut st);
        let screen = mirror.parser.screen();
        let (row, col) = screen.cursor_position();
        screen.contents_between(row, 0, row, col)
    }

    /// The value of capture `name` as this node's output last gave it,
    /// counting all output sent so far.
    pub fn captured(&self, name: &str) -> Option<String> {
        let mut st = self.state();
        let mirror = self.mirror_now(&mut st);
        mirror
            .captures
            .as_ref()
            .and_then(|s| s.value(name))
            .map(str::to_owned)
    }

    /// Sends an event to every client.
    pub fn broadcast(&self, event: Event) {
        let st = self.state();
        for c in st.clients.values() {
            let _ = c.tx.try_send(Outbound::Event(event.clone()));
        }
    }

    /// The session ended (or the server stops): tell every client with `code`
    /// and stop the shell's stream.
    pub async fn close(&self, code: u16, reason: &str) {
        {
            let mut st = self.state();
            st.closed = true;
            for (_, c) in st.clients.drain() {
                let _ = c.tx.try_send(Outbound::Close {
                    code,
                    reason: reason.to_owned(),
                });
            }
            st.paused = false;
        }
        self.resume.notify_one();
        *self.input.lock().await = None;
    }

    /// Feeds output to every client's queue and the mirror's.
    fn distribute(self: &Arc<Self>, chunk: Bytes) {
        let len = chunk.len() as u64;
        self.metrics.terminal_bytes_out.inc_by(len);
        let mut st = self.state();
        let high = self.settings.flow_high_water;
        let mut pause = false;
        st.clients.retain(|_, c| {
            if c.tx.try_send(Outbound::Output(chunk.clone())).is_err() {
                // Queue full or client gone: drop it; a reconnect repaints.
                return false;
            }
            c.unacked += len;
            pause |= c.unacked > high;
            true
        });
        if pause {
            st.paused = true;
        }
        st.unparsed_bytes += chunk.len();
        st.unparsed.push(chunk);
        if st.unparsed_bytes > MIRROR_LAG_MAX {
            // The mirror thread fell behind: catch up here, which slows the pump.
            drop(self.mirror_now(&mut st));
        } else if !st.mirror_queued {
            st.mirror_queued = true;
            drop(st);
            mirror_thread::queue(Arc::downgrade(self));
        }
    }

    /// Reads the shell's output until it ends, honouring flow control.
    async fn pump(
        self: Arc<Self>,
        mut output: Pin<Box<dyn tokio::io::AsyncRead + Send>>,
        control: Arc<dyn ShellControl>,
        generation: u64,
    ) {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            loop {
                let resumed = self.resume.notified();
                {
                    let st = self.state();
                    if st.closed {
                        return;
                    }
                    if !st.paused {
                        break;
                    }
                }
                resumed.await;
            }
            buf.reserve(READ_CHUNK);
            match output.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => self.distribute(buf.split().freeze()),
            }
        }
        // The stream ends a moment before the runtime records the exit code.
        let mut code = None;
        for _ in 0..20 {
            match control.exit_code().await {
                Ok(Some(c)) => {
                    code = Some(c);
                    break;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(25)).await,
                Err(_) => break,
            }
        }
        let code = code.unwrap_or(-1);
        // Hold `starting` so a new shell cannot start between clearing the
        // state and clearing the input.
        let _starting = self.starting.lock().await;
        {
            let mut st = self.state();
            if st.shell.as_ref().map(|(_, g)| *g) != Some(generation) {
                return;
            }
            st.shell = None;
            st.paused = false;
            for (_, c) in st.clients.drain() {
                let _ = c.tx.try_send(Outbound::Event(Event::Exit { code }));
                let _ = c.tx.try_send(Outbound::Close {
                    code: close_code::NORMAL,
                    reason: "shell exited".into(),
                });
            }
        }
        *self.input.lock().await = None;
        tracing::debug!(session = %self.session, node = %self.node, code, "shell exited");
    }
}
