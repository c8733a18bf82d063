//! Terminals on a [`FakeRuntime`]: shells are fake programs on duplex pipes
//! that echo input and print or exit when told, so streaming, flow control,
//! exits and restarts run without Docker.

use std::sync::Arc;
use std::time::Duration;

use protocol::terminal::{close_code, Event, NoticeLevel};
use tokio::sync::mpsc::Receiver;

use super::*;
use crate::runtime::fake::{eventually, FakeRuntime, FakeShell};

const SESSION: &str = "s1";
const NODE: &str = "node1";

fn settings() -> TerminalSettings {
    TerminalSettings {
        shell: vec!["bash".into()],
        flow_high_water: 1 << 30,
        flow_low_water: 1 << 20,
        client_queue_frames: 1024,
        max_clients: 4,
        max_cells: 100_000,
        captures: Vec::new().into(),
    }
}

/// A terminal on a fake runtime with its node, no shell started yet.
fn terminal_without_shell(settings: TerminalSettings) -> (Arc<FakeRuntime>, Arc<Terminal>) {
    let fake = FakeRuntime::new();
    fake.add_node(SESSION, NODE, true);
    let terminal = Terminal::new(
        SESSION,
        NODE,
        fake.clone(),
        settings,
        Arc::new(Metrics::default()),
    );
    (fake, terminal)
}

/// A terminal with a running fake shell.
async fn terminal_with(settings: TerminalSettings) -> (Arc<FakeRuntime>, Arc<Terminal>, FakeShell) {
    let (fake, terminal) = terminal_without_shell(settings);
    terminal.ensure_shell(Some((100, 30))).await.unwrap();
    let shell = fake.shells().pop().expect("a shell opened");
    (fake, terminal, shell)
}

async fn terminal() -> (Arc<FakeRuntime>, Arc<Terminal>, FakeShell) {
    terminal_with(settings()).await
}

async fn next(rx: &mut Receiver<Outbound>) -> Outbound {
    tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("a frame within 2 s")
        .expect("the queue is open")
}

/// Output frames until their text contains `want`; returns all of it.
async fn output_until(rx: &mut Receiver<Outbound>, want: &str) -> String {
    let mut text = String::new();
    while !text.contains(want) {
        match next(rx).await {
            Outbound::Output(b) => text.push_str(&String::from_utf8_lossy(&b)),
            other => panic!("expected output, got {other:?} after {text:?}"),
        }
    }
    text
}

/// A new client, its screen frame read.
async fn attach(terminal: &Terminal) -> Attachment {
    let mut client = terminal.attach().expect("a shell runs");
    screen_frame(next(&mut client.rx).await);
    client
}

fn screen_frame(frame: Outbound) -> String {
    match frame {
        Outbound::Output(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected the screen first, got {other:?}"),
    }
}

#[tokio::test]
async fn attach_gets_the_current_screen_then_live_output() {
    let (_, terminal, shell) = terminal().await;
    shell.print("before attach");
    eventually("output in the mirror", || {
        terminal.screen_text().contains("before attach")
    })
    .await;
    let mut client = terminal.attach().unwrap();
    assert!(screen_frame(next(&mut client.rx).await).contains("before attach"));
    shell.print("after attach");
    let live = output_until(&mut client.rx, "after attach").await;
    assert!(!live.contains("before attach"), "no duplicate: {live:?}");
}

#[tokio::test]
async fn the_mirror_thread_parses_output_without_anyone_asking() {
    let (_, terminal, shell) = terminal().await;
    let mut client = attach(&terminal).await;
    shell.print("parsed off the pump's path");
    output_until(&mut client.rx, "parsed off").await;
    // Nobody reads the screen: the mirror thread alone empties the queue.
    eventually("the mirror thread parsed the output", || {
        let st = terminal.state();
        st.unparsed_bytes == 0 && !st.mirror_queued
    })
    .await;
    let mirror = terminal.mirror.lock().unwrap();
    assert!(mirror
        .parser
        .screen()
        .contents()
        .contains("parsed off the pump's path"));
}

#[tokio::test]
async fn a_late_client_gets_the_screen_repainted() {
    let (_, terminal, shell) = terminal().await;
    let mut first = terminal.attach().unwrap();
    next(&mut first.rx).await;
    shell.print("one\r\ntwo\r\n");
    output_until(&mut first.rx, "two").await;
    let mut late = terminal.attach().unwrap();
    let screen = screen_frame(next(&mut late.rx).await);
    assert!(
        screen.contains("one") && screen.contains("two"),
        "{screen:?}"
    );
    assert_eq!(terminal.clients(), 2);
}

#[tokio::test]
async fn detach_removes_the_client() {
    let (_, terminal, shell) = terminal().await;
    let mut client = attach(&terminal).await;
    terminal.detach(client.id);
    assert_eq!(terminal.clients(), 0);
    shell.print("unseen");
    eventually("output parsed", || {
        terminal.screen_text().contains("unseen")
    })
    .await;
    assert!(
        client.rx.try_recv().is_err(),
        "a detached client gets nothing"
    );
}

#[tokio::test]
async fn input_reaches_the_shell_and_its_echo_the_clients() {
    let (_, terminal, shell) = terminal().await;
    let mut client = attach(&terminal).await;
    terminal.input(b"echo hi\r").await.unwrap();
    eventually("input read by the program", || {
        shell.input() == b"echo hi\r"
    })
    .await;
    output_until(&mut client.rx, "echo hi").await;
}

#[tokio::test]
async fn resize_reaches_the_shell_and_the_mirror() {
    let (_, terminal, shell) = terminal().await;
    assert_eq!(shell.sizes(), vec![(100, 30)], "opened at the asked size");
    terminal.resize(120, 40).await.unwrap();
    assert_eq!(shell.sizes().last(), Some(&(120, 40)));
    assert_eq!(
        terminal.snapshot().map(|s| (s.cols, s.rows)),
        Some((120, 40))
    );
}

#[tokio::test]
async fn a_resize_over_the_cell_limit_changes_nothing() {
    let (_, terminal, shell) = terminal().await;
    let err = terminal.resize(1000, 1000).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResizeError::TooLarge {
                cols: 1000,
                rows: 1000,
                max_cells: 100_000
            }
        ),
        "{err}"
    );
    assert_eq!(shell.sizes(), vec![(100, 30)], "the PTY kept its size");
    assert_eq!(
        terminal.snapshot().map(|s| (s.cols, s.rows)),
        Some((100, 30)),
        "the mirror kept its size"
    );
    terminal
        .resize(500, 200)
        .await
        .expect("exactly the limit is allowed");
}

#[tokio::test]
async fn a_shell_asked_for_at_an_oversized_size_opens_at_the_default() {
    let (fake, terminal) = terminal_without_shell(settings());
    terminal.ensure_shell(Some((1000, 1000))).await.unwrap();
    let shell = fake.shells().pop().expect("a shell opened");
    assert_eq!(shell.sizes(), vec![(DEFAULT_COLS, DEFAULT_ROWS)]);
}

/// The worst repaint a client can make the server queue: every cell of the
/// largest screen with colours of its own. Measured: see the assertion.
#[tokio::test]
async fn the_repaint_of_the_largest_screen_stays_bounded() {
    let (_, terminal, _shell) = terminal().await;
    terminal.resize(500, 200).await.unwrap();
    let mut screen = String::new();
    for row in 0..200u32 {
        for col in 0..500u32 {
            let (fg, bg) = ((row * 500 + col) % 256, (col * 7 + row) % 256);
            screen.push_str(&format!("\x1b[1;4;38;5;{fg};48;5;{bg}m\u{2588}"));
        }
    }
    // Straight into the mirror: the fake's pipe would take minutes for 3 MB
    // in a debug build.
    terminal.mirror.lock().unwrap().process(screen.as_bytes());
    let client = terminal.attach().unwrap();
    let mut rx = client.rx;
    let repaint = screen_frame(next(&mut rx).await).len();
    // Measured 2,162,918 bytes: 100,000 cells at about 22 bytes each. The same
    // screen at 1000x1000, which the protocol allows, would be ten times that.
    assert!(repaint < 3 << 20, "repaint of {repaint} bytes");
    eprintln!("largest repaint: {repaint} bytes");
}

#[tokio::test]
async fn a_terminal_takes_at_most_max_clients_sockets() {
    let (_, terminal, _shell) = terminal().await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(attach(&terminal).await);
    }
    assert_eq!(terminal.attach().err(), Some(AttachError::Full { max: 4 }));
    assert_eq!(terminal.check_room(), Err(AttachError::Full { max: 4 }));
    assert_eq!(terminal.clients(), 4, "the refused one left nothing behind");
    terminal.detach(clients.pop().unwrap().id);
    attach(&terminal).await;
    assert_eq!(terminal.clients(), 4);
}

#[tokio::test]
async fn flow_control_pauses_above_the_high_mark_and_resumes_after_acks() {
    let (_, terminal, shell) = terminal_with(TerminalSettings {
        flow_high_water: 1000,
        flow_low_water: 100,
        ..settings()
    })
    .await;
    let mut client = terminal.attach().unwrap();
    let screen = match next(&mut client.rx).await {
        Outbound::Output(b) => b.len() as u32,
        other => panic!("{other:?}"),
    };
    terminal.ack(client.id, screen);
    const TOTAL: usize = 50_000;
    shell.print(vec![b'x'; TOTAL]);
    let mut received = 0usize;
    let mut unacked = 0usize;
    let mut pauses = 0;
    while received < TOTAL {
        match tokio::time::timeout(Duration::from_millis(150), client.rx.recv()).await {
            Ok(Some(Outbound::Output(b))) => {
                received += b.len();
                unacked += b.len();
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => {
                // Nothing more arrives: paused with more than the high mark unacknowledged.
                assert!(unacked > 1000, "paused at {unacked} unacked");
                assert!(terminal.state().paused);
                pauses += 1;
                terminal.ack(client.id, unacked as u32);
                unacked = 0;
            }
        }
    }
    assert_eq!(received, TOTAL);
    assert!(
        pauses >= 2,
        "the stream paused and resumed ({pauses} pauses)"
    );
}

#[tokio::test]
async fn input_passes_while_output_is_paused() {
    let (_, terminal, shell) = terminal_with(TerminalSettings {
        flow_high_water: 10,
        flow_low_water: 5,
        ..settings()
    })
    .await;
    let _client = attach(&terminal).await; // attached, never acking
    shell.print(vec![b'y'; 20_000]);
    eventually("paused", || terminal.state().paused).await;
    terminal.input(b"\x03").await.unwrap();
    eventually("Ctrl-C read", || shell.input() == b"\x03").await;
}

#[tokio::test]
async fn a_client_whose_queue_overflows_is_dropped() {
    let (_, terminal, shell) = terminal_with(TerminalSettings {
        client_queue_frames: 2,
        ..settings()
    })
    .await;
    let mut client = terminal.attach().unwrap();
    for text in ["a", "b", "c", "d"] {
        shell.print(text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("client dropped", || terminal.clients() == 0).await;
    let mut frames = 0;
    while let Some(frame) = client.rx.recv().await {
        assert!(matches!(frame, Outbound::Output(_)));
        frames += 1;
    }
    assert_eq!(frames, 2, "what fit in the queue, then the queue closed");
    let mut again = terminal.attach().unwrap();
    assert!(
        screen_frame(next(&mut again.rx).await).contains("abcd"),
        "a reconnect repaints"
    );
}

#[tokio::test]
async fn an_exit_sends_exit_then_close() {
    let (_, terminal, shell) = terminal().await;
    let mut client = attach(&terminal).await;
    shell.exit(3);
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Event(Event::Exit { code: 3 })
    ));
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Close { code: close_code::NORMAL, reason } if reason == "shell exited"
    ));
    assert!(terminal.attach().is_err(), "no shell runs");
}

#[tokio::test]
async fn restart_tells_clients_and_a_late_old_pump_keeps_the_new_shell() {
    let (fake, terminal, old) = terminal().await;
    let mut client = attach(&terminal).await;
    terminal.restart_node(async { Ok(()) }).await.unwrap();
    match next(&mut client.rx).await {
        Outbound::Event(Event::Notice { level, message }) => {
            assert_eq!(level, NoticeLevel::Info);
            assert_eq!(message, "node1 is restarting");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Close {
            code: close_code::TRY_AGAIN_LATER,
            ..
        }
    ));
    terminal.ensure_shell(None).await.unwrap();
    let new = fake.shells().pop().unwrap();
    assert_eq!(fake.shells().len(), 2, "a new shell");
    let mut client = attach(&terminal).await;
    // The old shell's stream ends only now: its pump must not clear the new shell.
    old.exit(0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(terminal.attach().is_ok(), "the new shell still runs");
    terminal.input(b"new").await.unwrap();
    eventually("input reaches the new shell", || new.input() == b"new").await;
    assert!(old.input().is_empty());
    // The new shell's client was neither told of an exit nor closed.
    while let Ok(frame) = client.rx.try_recv() {
        assert!(matches!(frame, Outbound::Output(_)), "{frame:?}");
    }
}

#[tokio::test]
async fn close_tells_clients_and_stops_new_shells() {
    let (fake, terminal, _) = terminal().await;
    let mut client = attach(&terminal).await;
    terminal.close(close_code::GOING_AWAY, "bye").await;
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Close { code: close_code::GOING_AWAY, reason } if reason == "bye"
    ));
    assert!(terminal.attach().is_err());
    terminal.ensure_shell(None).await.unwrap();
    assert_eq!(fake.shells().len(), 1, "no shell after close");
}

#[tokio::test]
async fn a_snapshot_restores_below_a_note_in_a_new_terminal() {
    let (fake, terminal, shell) = terminal().await;
    shell.print("saved text");
    eventually("output parsed", || {
        terminal.screen_text().contains("saved text")
    })
    .await;
    let saved = terminal.snapshot().expect("a shell ran");
    assert_eq!((saved.cols, saved.rows), (100, 30));
    let fresh = Terminal::new(
        SESSION,
        NODE,
        fake.clone(),
        settings(),
        Arc::new(Metrics::default()),
    );
    assert!(
        fresh.snapshot().is_none(),
        "nothing ran in a fresh terminal"
    );
    fresh.restore(&saved);
    let text = fresh.screen_text();
    assert!(text.contains("saved text"), "{text}");
    assert!(text.contains("the playground restarted"), "{text}");
    // The first shell continues below the saved screen instead of clearing it.
    fresh.ensure_shell(None).await.unwrap();
    assert!(fresh.screen_text().contains("saved text"));
}

/// Settings of a terminal whose output gives `IP`.
fn capturing() -> TerminalSettings {
    TerminalSettings {
        captures: vec![CaptureRule {
            name: "IP".into(),
            pattern: crate::lessons::CapturePattern::new(r"^(\d+\.\d+\.\d+\.\d+)$").unwrap(),
        }]
        .into(),
        ..settings()
    }
}

/// Values come from the output as it streams (wrapped or scrolled away, a
/// line is a line), count everything sent before the question, and survive
/// a new shell and a restart (as far as the saved screen shows them).
#[tokio::test]
async fn captured_values_come_from_the_output() {
    let (fake, terminal, shell) = terminal_with(capturing()).await;
    assert_eq!(terminal.captured("IP"), None);
    shell.print("$ hostname -i\r\n10.1.0.");
    shell.print("2\r\n");
    eventually("the line reached the terminal", || {
        terminal.captured("IP").is_some()
    })
    .await;
    assert_eq!(terminal.captured("IP").as_deref(), Some("10.1.0.2"));
    for i in 0..100 {
        shell.print(format!("line {i}\r\n"));
    }
    shell.print("10.1.0.3\r\n$ ");
    eventually("the new value", || {
        terminal.captured("IP").as_deref() == Some("10.1.0.3")
    })
    .await;
    assert_eq!(terminal.prompt_line(), "$ ");
    assert_eq!(terminal.captured("OTHER"), None);
    let saved = terminal.snapshot().unwrap();
    // A new shell keeps the values.
    shell.exit(0);
    eventually("the shell gone", || terminal.attach().is_err()).await;
    terminal.ensure_shell(None).await.unwrap();
    assert_eq!(terminal.captured("IP").as_deref(), Some("10.1.0.3"));
    // A terminal restored after a restart finds them on the saved screen.
    let fresh = Terminal::new(
        SESSION,
        NODE,
        fake.clone(),
        capturing(),
        Arc::new(Metrics::default()),
    );
    fresh.restore(&saved);
    assert_eq!(fresh.captured("IP").as_deref(), Some("10.1.0.3"));
}
