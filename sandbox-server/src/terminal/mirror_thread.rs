//! The one thread that parses every terminal's output into its screen mirror.
//!
//! Parsing output into a `vt100` screen costs about as much CPU as forwarding it,
//! and none of it is on a keystroke's path: the mirror is read only when a client
//! attaches (the repaint), for `/screen`, on a resize and for captures. So it runs
//! off the async workers, on a thread of its own with a lower CPU priority (nice
//! [`NICE`]): when the machine is busy (many sessions printing at once), the kernel
//! runs the workers that forward keystrokes and their echoes first, and the mirrors
//! catch up in the time left. A terminal whose mirror falls more than
//! [`super::MIRROR_LAG_MAX`] behind is parsed by its own pump instead, so the
//! backlog stays bounded however busy the machine is.
//!
//! A terminal is queued at most once at a time (its `mirror_queued` flag), so a
//! burst of output costs one wake-up of this thread, not one per chunk.

use std::sync::mpsc::{channel, Sender};
use std::sync::{OnceLock, Weak};

use super::Terminal;

/// The parser thread's niceness: below the server's workers (0), above nothing
/// that matters; a thread holding a mirror lock still gets the CPU in time.
const NICE: libc::c_int = 10;

/// The parser thread's queue (a `Sender` is shared by every pump as it is).
static QUEUE: OnceLock<Sender<Weak<Terminal>>> = OnceLock::new();

/// Asks the parser thread to parse what `terminal` has queued.
pub(super) fn queue(terminal: Weak<Terminal>) {
    // The thread never ends while the process runs; should it have, the pump
    // parses once the backlog reaches its bound.
    let _ = QUEUE.get_or_init(start).send(terminal);
}

fn start() -> Sender<Weak<Terminal>> {
    let (tx, rx) = channel::<Weak<Terminal>>();
    std::thread::Builder::new()
        .name("terminal-mirror".into())
        .spawn(move || {
            // SAFETY: setpriority on this thread (who = 0 with PRIO_PROCESS means
            // the calling thread on Linux); lowering one's own priority needs no
            // privilege, and a failure only leaves the thread at normal priority.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
            }
            while let Ok(terminal) = rx.recv() {
                if let Some(terminal) = terminal.upgrade() {
                    terminal.parse_queued();
                }
            }
        })
        .expect("starting the terminal-mirror thread");
    tx
}
