//! Typing blocks into a node's terminal the way the Run button does, and
//! telling when each one is done.
//!
//! The test is one more client of the node's [`Terminal`]: it attaches as a
//! browser tab does (and acknowledges what it reads, so flow control never
//! pauses the shell), and types with [`Terminal::input`], the path of the
//! WebSocket's input frames. Interactive programs get a real TTY, and a
//! program a block leaves open gets the next block, as a learner's would.
//!
//! **When is a block done?** Only the test session's own shell is changed,
//! never a learner's: when the test opens a node's terminal it types one line
//! that makes bash print an invisible marker before each prompt, an OSC
//! escape sequence (`ESC ] 6973 ; pg-NONCE ; P ; $? BEL`) that terminals and
//! the screen mirror ignore, with the last exit status; and one before each
//! continuation prompt (`PS2`, `...;C BEL`). Interactive bash shows exactly
//! one prompt (primary or continuation) after each line it reads, so a block
//! of N lines typed into the node's shell is done when the N-th marker
//! arrives: its status is the last command's, or the block is incomplete
//! (an unclosed quote or `if`) when that marker is a continuation. The nonce
//! is random, so no output can fake a marker.
//!
//! Lines a program reads instead (`docker run -it alpine sh` and what follows
//! it, `read`, a REPL) give no marker. Then the block is done when output has
//! been quiet for [`SETTLE`] and the screen shows a prompt: the shell's own
//! (its marker came and nothing after it but the prompt: the status is
//! known), or a program's (the cursor sits after `/ # `, `>>> `, `mysql> `,
//! `Password:`...: the block left the node in that program, status unknown).
//! Inside nested shells no marker is needed, and a program that never shows
//! a prompt runs into the block's timeout, gets Ctrl-C, and is reported.
//! Without bash (no marker ever comes) every block is judged by the screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::terminal::Event;
use rand::RngCore;

use crate::terminal::{Attachment, Outbound, Terminal};

/// Columns and rows of a test terminal: wide, so long commands rarely wrap.
pub const COLS: u16 = 120;
pub const ROWS: u16 = 40;

/// Quiet time after which a prompt on the screen means "waiting for input".
pub const SETTLE: Duration = Duration::from_millis(1000);
/// How often the screen is looked at while output is quiet.
const TICK: Duration = Duration::from_millis(100);
/// Pause after Ctrl-C before typing, as the web app makes (the line
/// discipline drops input queued before the signal is handled).
const AFTER_CTRL_C: Duration = Duration::from_millis(150);
/// Longest wait for the prompt after Ctrl-C.
const CTRL_C_WAIT: Duration = Duration::from_secs(3);
/// Longest wait for a new shell's first prompt.
const FIRST_PROMPT: Duration = Duration::from_secs(30);
/// Most output of one block kept for [`NodeTerm::output`] (its tail).
const MAX_OUTPUT: usize = 256 * 1024;
/// The OSC number of the markers (unassigned; terminals ignore it).
const OSC: &str = "6973";
/// Longest marker payload (`P;` and an exit status).
const MAX_PAYLOAD: usize = 16;

/// How a typed block ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The shell's prompt came back; the last command's exit status.
    Exited(i64),
    /// A program's prompt came back (the block left the node in it).
    Open,
    /// Still running at the deadline, which was expected (the next block
    /// interrupts it): nothing was sent.
    Running,
    /// The shell waits for the rest of a command (an unclosed quote,
    /// `if` without `fi`); it got Ctrl-C.
    Incomplete,
    /// No prompt by the deadline; it got Ctrl-C.
    TimedOut,
    /// The shell itself ended (a block typed `exit` into it), with this code;
    /// a new one was started, as the web app's reconnect does.
    ShellExited(i64),
}

/// What the marker scanner saw in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Prompt(i64),
    Continuation,
    Newline,
}

/// Finds the markers in output split anywhere.
struct Markers {
    prefix: Vec<u8>,
    matched: usize,
    payload: Vec<u8>,
    in_payload: bool,
}

impl Markers {
    fn new(nonce: &str) -> Markers {
        Markers {
            prefix: format!("\x1b]{OSC};pg-{nonce};").into_bytes(),
            matched: 0,
            payload: Vec::with_capacity(MAX_PAYLOAD),
            in_payload: false,
        }
    }

    fn feed(&mut self, bytes: &[u8], seen: &mut impl FnMut(Seen)) {
        for &b in bytes {
            if self.in_payload {
                if b == 0x07 {
                    self.in_payload = false;
                    match self.payload.as_slice() {
                        [b'C'] => seen(Seen::Continuation),
                        [b'P', b';', status @ ..] => {
                            let status = std::str::from_utf8(status)
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(-1);
                            seen(Seen::Prompt(status));
                        }
                        _ => {}
                    }
                    self.payload.clear();
                } else if self.payload.len() < MAX_PAYLOAD {
                    self.payload.push(b);
                } else {
                    self.in_payload = false;
                    self.payload.clear();
                }
            } else if b == self.prefix[self.matched] {
                self.matched += 1;
                if self.matched == self.prefix.len() {
                    self.matched = 0;
                    self.in_payload = true;
                }
            } else {
                // The prefix holds ESC only first: a mismatch restarts there.
                self.matched = usize::from(b == self.prefix[0]);
                if b == b'\n' {
                    seen(Seen::Newline);
                }
            }
        }
    }
}

/// The line that makes bash mark its prompts, typed once into a test
/// session's shell. A leading space keeps it out of the history; it clears
/// the screen after itself, so what a failure shows is the lesson's.
fn marker_setup(nonce: &str) -> String {
    format!(
        " __pg_mark() {{ printf '\\033]{OSC};pg-{nonce};%s\\007' \"$1\"; }}; \
         PROMPT_COMMAND='__pg_mark \"P;$?\"'\"${{PROMPT_COMMAND:+; $PROMPT_COMMAND}}\"; \
         PS2='\\[\\033]{OSC};pg-{nonce};C\\007\\]> '; printf '\\033[H\\033[2J'\r"
    )
}

/// Whether the text left of the cursor reads like a program waiting for
/// input: a prompt ends in `#`, `$`, `>`, `:`, `?` or `]` and a space
/// (`/ # `, `>>> `, `Password: `, `[y/N] `). The space tells it from a
/// progress line that stalls (`0% [Working]`); `%` is left out (`12% `).
pub fn looks_like_prompt(left_of_cursor: &str) -> bool {
    left_of_cursor.ends_with(' ')
        && left_of_cursor
            .trim_end()
            .ends_with(['#', '$', '>', ':', '?', ']'])
}

/// What happened since a block was typed.
struct Progress {
    /// Markers of prompts, in order.
    prompts: Vec<Seen>,
    /// A newline came after the last prompt marker (something ran and printed).
    newline_after_prompt: bool,
    last_output: Option<Instant>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            prompts: Vec::new(),
            newline_after_prompt: false,
            last_output: None,
        }
    }

    fn see(&mut self, seen: Seen) {
        match seen {
            Seen::Newline => self.newline_after_prompt = true,
            marker => {
                self.prompts.push(marker);
                self.newline_after_prompt = false;
            }
        }
    }

    /// Done by markers alone: the shell prompted once per line typed.
    fn by_markers(&self, lines: usize) -> Option<Ending> {
        if self.prompts.len() < lines {
            return None;
        }
        match self.prompts.last() {
            Some(Seen::Prompt(status)) => Some(Ending::Exited(*status)),
            _ => Some(Ending::Incomplete),
        }
    }

    /// Whether output has been quiet for [`SETTLE`] (after some came).
    fn settled(&self) -> bool {
        self.last_output.is_some_and(|t| t.elapsed() >= SETTLE)
    }
}

/// One node's terminal as the test types into it.
pub struct NodeTerm {
    node: String,
    terminal: Arc<Terminal>,
    client: Attachment,
    markers: Markers,
    nonce: String,
    /// The shell prints the markers (bash).
    marked: bool,
    /// What the last block printed (its tail), escapes included.
    output: Vec<u8>,
    /// The last block left the node in a program (its ending was `Open`).
    in_program: bool,
}

/// Why a node's terminal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TypingError {
    #[error("starting the shell on {node}: {why}")]
    Shell { node: String, why: String },
}

impl NodeTerm {
    /// Starts (or joins) the node's shell at the test's size, attaches, and
    /// makes the shell mark its prompts.
    pub async fn open(node: &str, terminal: Arc<Terminal>) -> Result<NodeTerm, TypingError> {
        let mut nonce = [0u8; 6];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let client = attach(node, &terminal).await?;
        let mut term = NodeTerm {
            node: node.to_owned(),
            markers: Markers::new(&nonce),
            nonce,
            terminal,
            client,
            marked: false,
            output: Vec::new(),
            in_program: false,
        };
        term.mark_prompts().await?;
        Ok(term)
    }

    /// Types the marker setup and waits for the first marker; without one
    /// (no bash) blocks are judged by the screen alone.
    async fn mark_prompts(&mut self) -> Result<(), TypingError> {
        self.input(marker_setup(&self.nonce).as_bytes()).await?;
        let deadline = Instant::now() + FIRST_PROMPT;
        let mut progress = Progress::new();
        self.marked = false;
        while Instant::now() < deadline {
            match self.next_output(deadline, &mut progress).await {
                Some(Ok(())) if !progress.prompts.is_empty() => {
                    self.marked = true;
                    return Ok(());
                }
                Some(Ok(())) => {}
                Some(Err(code)) => {
                    return Err(TypingError::Shell {
                        node: self.node.clone(),
                        why: format!("the shell exited ({code}) at once"),
                    })
                }
                None => break,
            }
        }
        tracing::warn!(node = %self.node, "no prompt marker: the shell is not bash; blocks are judged by the screen only");
        Ok(())
    }

    /// Whether the shell marks its prompts (exit statuses are known).
    pub fn marked(&self) -> bool {
        self.marked
    }

    /// Whether the last block left the node in a program, so the next one is
    /// typed into it.
    pub fn in_program(&self) -> bool {
        self.in_program
    }

    /// What the last block printed (the echo of what was typed included),
    /// as plain text.
    pub fn output(&self) -> String {
        super::judge::plain_text(&self.output)
    }

    /// The node's screen, the last `lines` non-empty rows.
    pub fn screen_tail(&self, lines: usize) -> String {
        let text = self.terminal.screen_text();
        let rows: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        rows[rows.len().saturating_sub(lines)..].join("\n")
    }

    async fn input(&self, bytes: &[u8]) -> Result<(), TypingError> {
        self.terminal
            .input(bytes)
            .await
            .map_err(|e| TypingError::Shell {
                node: self.node.clone(),
                why: e.to_string(),
            })
    }

    /// Waits for the next output (scanned into `progress`) until `deadline`:
    /// Some(Ok) after output, Some(Err(code)) when the shell ended, None at
    /// the deadline.
    async fn next_output(
        &mut self,
        deadline: Instant,
        progress: &mut Progress,
    ) -> Option<Result<(), i64>> {
        loop {
            let frame = tokio::time::timeout_at(deadline.into(), self.client.rx.recv())
                .await
                .ok()?;
            match frame {
                Some(Outbound::Output(bytes)) => {
                    self.terminal.ack(
                        self.client.id,
                        u32::try_from(bytes.len()).unwrap_or(u32::MAX),
                    );
                    self.markers.feed(&bytes, &mut |seen| progress.see(seen));
                    self.output.extend_from_slice(&bytes);
                    if self.output.len() > MAX_OUTPUT {
                        let cut = self.output.len() - MAX_OUTPUT;
                        self.output.drain(..cut);
                    }
                    progress.last_output = Some(Instant::now());
                    return Some(Ok(()));
                }
                Some(Outbound::Event(Event::Exit { code })) => return Some(Err(code)),
                Some(Outbound::Event(_)) => {}
                // Closed without an exit event (a restart, the session ending).
                Some(Outbound::Close { .. }) | None => return Some(Err(-1)),
            }
        }
    }

    /// Types `code` as the Run button does (Ctrl-C first with `interrupt`)
    /// and waits until it is done or `timeout` passes. A block that is
    /// `expected_to_run` (the next one interrupts it) is left running at the
    /// deadline; any other gets Ctrl-C.
    pub async fn run(
        &mut self,
        code: &str,
        interrupt: bool,
        timeout: Duration,
        expected_to_run: bool,
    ) -> Result<Ending, TypingError> {
        let ending = self
            .type_and_wait(code, interrupt, timeout, expected_to_run)
            .await?;
        match ending {
            Ending::Open => self.in_program = true,
            Ending::Exited(_) | Ending::ShellExited(_) => self.in_program = false,
            // Ctrl-C may or may not have left the program: as it was.
            Ending::Running | Ending::Incomplete | Ending::TimedOut => {}
        }
        Ok(ending)
    }

    async fn type_and_wait(
        &mut self,
        code: &str,
        interrupt: bool,
        timeout: Duration,
        expected_to_run: bool,
    ) -> Result<Ending, TypingError> {
        if interrupt {
            self.interrupt().await?;
        }
        let keys = protocol::dialect::keystrokes(code);
        let lines = keys.matches('\r').count();
        let mut progress = Progress::new();
        let deadline = Instant::now() + timeout;
        self.output.clear();
        self.input(keys.as_bytes()).await?;
        loop {
            let tick = (Instant::now() + TICK).min(deadline);
            match self.next_output(tick, &mut progress).await {
                Some(Ok(())) if self.marked => {
                    if let Some(ending) = progress.by_markers(lines) {
                        if ending == Ending::Incomplete {
                            self.interrupt().await?;
                        }
                        return Ok(ending);
                    }
                }
                Some(Ok(())) => {}
                Some(Err(code)) => {
                    self.reopen().await?;
                    return Ok(Ending::ShellExited(code));
                }
                None => {}
            }
            if progress.settled() {
                if let Some(ending) = self.at_a_prompt(&progress) {
                    return Ok(ending);
                }
            }
            if Instant::now() >= deadline {
                if expected_to_run {
                    return Ok(Ending::Running);
                }
                self.interrupt().await?;
                return Ok(Ending::TimedOut);
            }
        }
    }

    /// With output quiet: the shell's prompt (its marker last, and nothing
    /// printed on a new line since) or a program's prompt on the screen.
    fn at_a_prompt(&self, progress: &Progress) -> Option<Ending> {
        if let (Some(Seen::Prompt(status)), false) =
            (progress.prompts.last(), progress.newline_after_prompt)
        {
            return Some(Ending::Exited(*status));
        }
        looks_like_prompt(&self.terminal.prompt_line()).then_some(Ending::Open)
    }

    /// Ctrl-C, then what follows it settles: the shell's prompt comes back,
    /// or output stays quiet for a moment (a program that only redraws), at
    /// most [`CTRL_C_WAIT`].
    pub async fn interrupt(&mut self) -> Result<(), TypingError> {
        self.input(b"\x03").await?;
        tokio::time::sleep(AFTER_CTRL_C).await;
        let deadline = Instant::now() + CTRL_C_WAIT;
        let mut progress = Progress::new();
        progress.last_output = Some(Instant::now());
        loop {
            let quiet = progress
                .last_output
                .map_or(deadline, |t| t + Duration::from_millis(500))
                .min(deadline);
            match self.next_output(quiet, &mut progress).await {
                Some(Ok(()))
                    if progress
                        .prompts
                        .iter()
                        .any(|p| matches!(p, Seen::Prompt(_))) =>
                {
                    return Ok(())
                }
                Some(Ok(())) => {}
                Some(Err(_)) => return self.reopen().await,
                None => return Ok(()),
            }
        }
    }

    /// A new shell after the old one ended, marked like the first.
    async fn reopen(&mut self) -> Result<(), TypingError> {
        self.terminal.detach(self.client.id);
        self.client = attach(&self.node, &self.terminal).await?;
        self.mark_prompts().await
    }
}

impl Drop for NodeTerm {
    fn drop(&mut self) {
        self.terminal.detach(self.client.id);
    }
}

/// Starts the shell if none runs, at the test's size, and attaches.
async fn attach(node: &str, terminal: &Arc<Terminal>) -> Result<Attachment, TypingError> {
    let failed = |why: String| TypingError::Shell {
        node: node.to_owned(),
        why,
    };
    // A shell that exited a moment ago may still be attached to: try twice.
    for _ in 0..2 {
        terminal
            .ensure_shell(Some((COLS, ROWS)))
            .await
            .map_err(|e| failed(e.to_string()))?;
        terminal
            .resize(COLS, ROWS)
            .await
            .map_err(|e| failed(e.to_string()))?;
        match terminal.attach() {
            Ok(client) => return Ok(client),
            Err(crate::terminal::AttachError::NoShell) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Err(failed("the shell keeps exiting".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(markers: &mut Markers, chunks: &[&[u8]]) -> Vec<Seen> {
        let mut seen = Vec::new();
        for chunk in chunks {
            markers.feed(chunk, &mut |s| seen.push(s));
        }
        seen
    }

    #[test]
    fn markers_are_found_across_chunks_and_fakes_are_not() {
        let mut m = Markers::new("abc");
        let seen = scan(
            &mut m,
            &[
                b"out\r\n\x1b]6973;pg-a",
                b"bc;P;12",
                b"7\x07root@node1:~# ",
                b"\x1b]6973;pg-xyz;P;0\x07\x1b\x1b]6973;pg-abc;C\x07> ",
                b"\x1b]6973;pg-abc;P;",
                b"\x07",
            ],
        );
        assert_eq!(
            seen,
            vec![
                Seen::Newline,
                Seen::Prompt(127),
                Seen::Continuation,
                Seen::Prompt(-1)
            ]
        );
        // A runaway payload is dropped, and scanning goes on.
        let long = format!("\x1b]6973;pg-abc;P;{}\x07x\n", "9".repeat(40));
        assert_eq!(scan(&mut m, &[long.as_bytes()]), vec![Seen::Newline]);
    }

    #[test]
    fn the_setup_line_prints_what_the_scanner_finds() {
        let line = marker_setup("n0nce");
        assert!(line.starts_with(' ') && line.ends_with('\r'));
        assert!(line.contains(r"printf '\033]6973;pg-n0nce;%s\007' "));
        assert!(line.contains(r"PS2='\[\033]6973;pg-n0nce;C\007\]> '"));
        // Its echo holds no marker: the escape is written as text.
        let mut m = Markers::new("n0nce");
        assert!(scan(&mut m, &[line.as_bytes()]).is_empty());
    }

    #[test]
    fn prompts_of_programs() {
        for prompt in [
            "/ # ",
            "$ ",
            ">>> ",
            "mysql> ",
            "Password: ",
            "Continue? [y/N] ",
            "inner$ ",
        ] {
            assert!(looks_like_prompt(prompt), "{prompt:?}");
        }
        for busy in [
            "",
            "Pulling fs layer",
            "Downloading 12% ",
            "0% [Working]",
            "hello ",
            "sh-5.2#",
        ] {
            assert!(!looks_like_prompt(busy), "{busy:?}");
        }
    }

    #[test]
    fn markers_count_lines() {
        let mut p = Progress::new();
        p.see(Seen::Continuation);
        assert_eq!(p.by_markers(2), None);
        p.see(Seen::Prompt(3));
        assert_eq!(p.by_markers(2), Some(Ending::Exited(3)));
        let mut p = Progress::new();
        p.see(Seen::Prompt(0));
        p.see(Seen::Continuation);
        assert_eq!(p.by_markers(2), Some(Ending::Incomplete));
        assert!(!p.newline_after_prompt);
        p.see(Seen::Newline);
        assert!(p.newline_after_prompt);
    }
}
