//! Sessions on a [`FakeRuntime`]: no Docker, an in-memory SQLite store;
//! each test runs in milliseconds.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::api::{Progress, Step};
use protocol::terminal::{close_code, Event, NoticeLevel};

use super::*;
use crate::lessons::{
    builtin_shell, Asset, Capture, CapturePattern, Check, Lesson, LessonStep, NodeScript, OnEnter,
    Runnable, Script,
};
use crate::runtime::fake::{eventually, FakeRuntime};
use crate::runtime::{NewFile, OutputLimits};
use crate::store::SavedScreen;
use crate::terminal::Outbound;

const IP: &str = "192.0.2.1";

fn step(check: Option<&str>) -> LessonStep {
    LessonStep {
        view: Step {
            title: "a step".into(),
            markdown: String::new(),
            has_check: check.is_some(),
            hint: None,
            solution: None,
        },
        check: check.map(|node| Check {
            node: node.into(),
            script: Script {
                body: "test -e /root/done-marker".into(),
                timeout_secs: 5,
            },
            grader: None,
        }),
        on_enter: Default::default(),
        solution_script: None,
        text_blocks: Vec::new(),
        solution_blocks: Vec::new(),
    }
}

/// Steps 0 (no check), 1 (checked in node1), 2 (checked in a node the
/// session does not have); an asset in node1.
fn lesson() -> Lesson {
    let mut lesson = builtin_shell();
    lesson.summary.id = "checks".into();
    lesson.steps = vec![step(None), step(Some("node1")), step(Some("node9"))];
    lesson.assets = vec![Asset {
        node: "node1".into(),
        path: "/root/data/hello.txt".into(),
        mode: 0o600,
        content: b"hello asset".to_vec(),
    }];
    lesson.captures = vec![Capture {
        name: "WORD".into(),
        node: "node1".into(),
        pattern: CapturePattern::new(r"^word: (\w+)").unwrap(),
    }];
    lesson
}

/// A lesson with no nodes: an imported post to read only.
fn reading_lesson() -> Lesson {
    let mut lesson = builtin_shell();
    lesson.summary.id = "reading".into();
    lesson.summary.nodes.clear();
    lesson.nodes.clear();
    lesson.steps = vec![step(None)];
    lesson
}

/// Steps 0 and 1 with on-enter scripts (background and typed), step 2
/// without; the finish page types one.
fn entering_lesson() -> Lesson {
    let mut lesson = builtin_shell();
    lesson.summary.id = "entering".into();
    let on_enter = |n: usize| OnEnter {
        background: vec![NodeScript {
            node: "node1".into(),
            script: Script {
                body: format!("touch /tmp/background-{n}"),
                timeout_secs: 5,
            },
        }],
        typed: vec![Runnable {
            node: "node1".into(),
            code: format!("echo typed-{n}\n"),
            interrupt: false,
            fails: false,
            capture: None,
        }],
    };
    lesson.steps = vec![step(None), step(None), step(None)];
    lesson.steps[0].on_enter = on_enter(0);
    lesson.steps[1].on_enter = on_enter(1);
    lesson.finish_on_enter.typed = on_enter(3).typed;
    lesson
}

struct Setup {
    fake: Arc<FakeRuntime>,
    store: Store,
    sessions: Arc<Sessions>,
}

fn setup_with(config: Config) -> Setup {
    setup_on(FakeRuntime::new(), config)
}

fn setup_on(fake: Arc<FakeRuntime>, config: Config) -> Setup {
    let store = Store::open(Path::new(":memory:")).unwrap();
    let sessions = sessions_on(&fake, &store, config);
    Setup {
        fake,
        store,
        sessions,
    }
}

fn sessions_on(fake: &Arc<FakeRuntime>, store: &Store, config: Config) -> Arc<Sessions> {
    Arc::new(Sessions::new(
        Arc::new(config),
        fake.clone(),
        store.clone(),
        Arc::new(Catalog::new([
            lesson(),
            reading_lesson(),
            entering_lesson(),
        ])),
        Arc::new(Metrics::default()),
    ))
}

fn setup() -> Setup {
    setup_with(Config::default())
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<Outbound>) -> Outbound {
    tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("a frame within 2 s")
        .expect("the queue is open")
}

/// A client of the session's node1 terminal, its screen frame read.
async fn attached(session: &Session) -> crate::terminal::Attachment {
    let terminal = session.terminal("node1").unwrap();
    terminal.ensure_shell(None).await.unwrap();
    let mut client = terminal.attach().expect("a shell runs");
    assert!(matches!(next(&mut client.rx).await, Outbound::Output(_)));
    client
}

/// The error of a creation that must fail.
async fn refused(sessions: &Arc<Sessions>, lesson: &str, ip: &str) -> SessionError {
    sessions.create(lesson, ip).await.err().expect("refused")
}

fn record(id: &str, nodes: &[&str], expires_at: i64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        token_hash: hash_token(&format!("token-{id}")),
        lesson: "checks".into(),
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        client_ip: IP.into(),
        created_at: unix_now(),
        expires_at,
        progress: "{}".into(),
        seat: None,
    }
}

#[tokio::test]
async fn create_starts_nodes_copies_assets_and_stores_the_record() {
    let s = setup();
    let (session, token) = s.sessions.create("checks", IP).await.unwrap();
    let id = session.record.id.clone();
    assert_eq!(s.fake.node_running(&id, "node1"), Some(true));
    assert_eq!(
        s.fake.file(&id, "node1", "/root/data/hello.txt"),
        Some((0o600, b"hello asset".to_vec())),
        "assets go through write_file"
    );
    let stored = s.store.get(&id).await.unwrap().expect("a record");
    assert_eq!(stored.token_hash, hash_token(&token));
    assert_eq!(stored.nodes, vec!["node1"]);
    assert_eq!(s.sessions.live_count(), 1);
    assert!(s.sessions.authorize(&id, Some(&token)).is_ok());
}

#[tokio::test]
async fn an_unknown_lesson_is_refused_before_anything_is_created() {
    let s = setup();
    let err = refused(&s.sessions, "nope", IP).await;
    assert!(matches!(err, SessionError::UnknownLesson(l) if l == "nope"));
    assert!(s.fake.list_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_lesson_to_read_only_gets_no_session_nor_a_warm_pool() {
    let s = setup_with(pooled_config(&[("reading", 2)]));
    let err = refused(&s.sessions, "reading", IP).await;
    assert!(
        matches!(&err, SessionError::ReadingOnly(l) if l == "reading"),
        "{err:?}"
    );
    assert_eq!(refill(&s.sessions).await, 0);
    assert!(s.fake.list_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn capacity_is_max_sessions() {
    let s = setup_with(Config {
        max_sessions: 2,
        ..Config::default()
    });
    s.sessions.create("checks", "192.0.2.1").await.unwrap();
    s.sessions.create("checks", "192.0.2.2").await.unwrap();
    let err = refused(&s.sessions, "checks", "192.0.2.3").await;
    assert!(
        matches!(err, SessionError::Full { live: 2, retry_after } if retry_after == Config::default().retry_after_secs),
        "{err:?}"
    );
    assert_eq!(s.sessions.live_count(), 2);
}

#[tokio::test]
async fn the_per_address_limit_counts_sessions_still_being_created() {
    let s = setup_with(Config {
        max_sessions_per_ip: 1,
        ..Config::default()
    });
    let pending = s.sessions.reserve(IP, "pending-id").unwrap();
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(matches!(err, SessionError::TooManySessions(1)), "{err:?}");
    s.sessions.create("checks", "192.0.2.99").await.unwrap();
    drop(pending);
    s.sessions.create("checks", IP).await.unwrap();
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(matches!(err, SessionError::TooManySessions(1)), "{err:?}");
}

#[tokio::test]
async fn a_failed_creation_cleans_up_and_releases_its_reservation() {
    let s = setup_with(Config {
        max_sessions_per_ip: 1,
        ..Config::default()
    });
    s.fake.fail_next_create_node();
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(
        matches!(err, SessionError::Runtime(RuntimeError::MissingImage(_))),
        "{err:?}"
    );
    let removed = s.fake.removed();
    assert_eq!(removed.len(), 1, "the failed session is removed");
    assert!(!s.fake.has_session(&removed[0]));
    assert!(s.store.all().await.unwrap().is_empty());
    assert_eq!(s.sessions.live_count(), 0);
    // The reservation is gone: the address may try again.
    s.sessions.create("checks", IP).await.unwrap();
}

/// The sessions that have a node in the fake.
async fn sessions_with_nodes(fake: &FakeRuntime) -> BTreeSet<String> {
    let nodes = fake.list_nodes().await.unwrap();
    nodes.into_iter().map(|n| n.session).collect()
}

#[tokio::test]
async fn a_creation_whose_caller_hangs_up_leaves_nothing_behind() {
    let s = setup_with(Config {
        max_sessions_per_ip: 1,
        ..Config::default()
    });
    let gate = s.fake.hold_create_node();
    // The client hangs up while its node is being created: the future is dropped.
    let hung_up =
        tokio::time::timeout(Duration::from_millis(100), s.sessions.create("checks", IP)).await;
    assert!(hung_up.is_err(), "the creation was still under way");
    let half_made = sessions_with_nodes(&s.fake).await;
    assert_eq!(half_made.len(), 1, "caught half-way: {half_made:?}");
    let id = half_made.into_iter().next().unwrap();
    gate.notify_one();
    eventually("the abandoned session is removed", || {
        s.fake.removed().contains(&id)
    })
    .await;
    for _ in 0..200 {
        if s.store.all().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(s.store.all().await.unwrap().is_empty(), "no record left");
    assert!(!s.fake.has_session(&id), "no node or network left");
    assert_eq!(s.sessions.live_count(), 0);
    assert_eq!(lock(&s.sessions.live).total(), 0, "no pending reservation");
    // The address's one slot is free again.
    gate.notify_one();
    s.sessions.create("checks", IP).await.unwrap();
}

#[tokio::test]
async fn creations_take_turns_and_one_whose_client_left_while_waiting_never_starts() {
    let s = setup_with(Config {
        max_concurrent_creations: 1,
        ..Config::default()
    });
    let gate = s.fake.hold_create_node();
    let create = |ip: &'static str| {
        let sessions = s.sessions.clone();
        tokio::spawn(async move { sessions.create("checks", ip).await })
    };
    let first = create("192.0.2.1");
    eventually("the first creation makes its node", || {
        s.fake.node_count() == 1
    })
    .await;
    let second = create("192.0.2.2");
    // A third client hangs up while its creation waits for a turn.
    let hung_up = tokio::time::timeout(
        Duration::from_millis(100),
        s.sessions.create("checks", "192.0.2.3"),
    )
    .await;
    assert!(hung_up.is_err(), "the third creation was still waiting");
    assert_eq!(
        sessions_with_nodes(&s.fake).await.len(),
        1,
        "the others wait while the first is under way"
    );

    gate.notify_one();
    let (first, _) = first.await.unwrap().unwrap();
    eventually(
        "the second creation makes its node once the first is done",
        || s.fake.node_count() == 2,
    )
    .await;
    gate.notify_one();
    let (second, _) = second.await.unwrap().unwrap();
    // The third's turn came and went: nothing was made for it, nothing removed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sessions_with_nodes(&s.fake).await,
        BTreeSet::from([first.record.id.clone(), second.record.id.clone()])
    );
    assert!(s.fake.removed().is_empty(), "{:?}", s.fake.removed());
    assert_eq!(s.sessions.live_count(), 2);
    assert_eq!(lock(&s.sessions.live).total(), 2, "no reservation left");
}

#[tokio::test]
async fn the_sweep_removes_orphans_but_not_live_sessions_or_creations_under_way() {
    let s = setup();
    let (live, _) = s.sessions.create("checks", IP).await.unwrap();
    s.fake.add_node("orphan", "node1", true);
    s.fake.add_leftover("leftover");
    let gate = s.fake.hold_create_node();
    let sessions = s.sessions.clone();
    let creating = tokio::spawn(async move { sessions.create("checks", "192.0.2.2").await });
    for _ in 0..200 {
        if sessions_with_nodes(&s.fake).await.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sessions_with_nodes(&s.fake).await.len(), 3, "mid-creation");

    assert_eq!(s.sessions.sweep().await.unwrap(), 2);
    assert!(!s.fake.has_session("orphan"));
    assert!(!s.fake.has_session("leftover"));
    assert_eq!(s.fake.node_running(&live.record.id, "node1"), Some(true));
    gate.notify_one();
    let (made, token) = creating.await.unwrap().unwrap();
    assert_eq!(s.fake.node_running(&made.record.id, "node1"), Some(true));
    assert!(s.sessions.authorize(&made.record.id, Some(&token)).is_ok());
    assert_eq!(
        s.sessions.sweep().await.unwrap(),
        0,
        "nothing else to sweep"
    );
}

#[tokio::test]
async fn no_free_subnet_is_being_full() {
    let s = setup();
    s.fake.run_out_of_subnets();
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(matches!(err, SessionError::Full { live: 0, .. }), "{err:?}");
}

#[tokio::test]
async fn subnets_taken_by_another_server_every_time_is_being_full_too() {
    let s = setup();
    s.fake.contend_for_subnets();
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(matches!(err, SessionError::Full { live: 0, .. }), "{err:?}");
}

#[tokio::test]
async fn authorize_checks_session_then_token_presence_then_token() {
    let s = setup();
    let (session, token) = s.sessions.create("checks", IP).await.unwrap();
    let id = &session.record.id;
    assert!(matches!(
        s.sessions.authorize("0000", Some(&token)),
        Err(SessionError::NoSession(_))
    ));
    assert!(matches!(
        s.sessions.authorize("0000", None),
        Err(SessionError::NoSession(_))
    ));
    assert!(matches!(
        s.sessions.authorize(id, None),
        Err(SessionError::Unauthorized)
    ));
    assert!(matches!(
        s.sessions.authorize(id, Some("")),
        Err(SessionError::Unauthorized)
    ));
    assert!(matches!(
        s.sessions.authorize(id, Some("wrong")),
        Err(SessionError::Forbidden)
    ));
    assert_eq!(
        s.sessions.authorize(id, Some(&token)).unwrap().record.id,
        *id
    );
}

#[tokio::test]
async fn end_tells_clients_removes_everything_and_is_idempotent() {
    let s = setup();
    let (session, token) = s.sessions.create("checks", IP).await.unwrap();
    let id = session.record.id.clone();
    let mut client = attached(&session).await;
    s.sessions.end(&id, EndReason::Deleted).await.unwrap();
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Close { code: close_code::NORMAL, reason } if reason == "session ended"
    ));
    assert!(!s.fake.has_session(&id));
    assert!(s.store.get(&id).await.unwrap().is_none());
    assert!(matches!(
        s.sessions.authorize(&id, Some(&token)),
        Err(SessionError::NoSession(_))
    ));
    s.sessions.end(&id, EndReason::Deleted).await.unwrap();
}

#[tokio::test]
async fn an_ending_asked_for_runs_to_the_end_when_the_client_hangs_up() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let id = session.record.id.clone();
    let gate = s.fake.hold_remove_session();
    // The request's future, dropped while the nodes are being removed (as
    // axum drops a handler whose client went away).
    let request = tokio::spawn({
        let (sessions, id) = (s.sessions.clone(), id.clone());
        async move { sessions.end_requested(&id).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.sessions.live_count(), 0, "out of the map at once");
    // The record goes before the nodes: a server stopped now would not serve
    // the session again at its next start (reconcile removes the nodes).
    assert!(
        s.store.get(&id).await.unwrap().is_none(),
        "the record is gone while the nodes are being removed"
    );
    request.abort();
    let _ = request.await;
    gate.notify_one();
    for _ in 0..100 {
        if !s.fake.has_session(&id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !s.fake.has_session(&id),
        "the nodes are removed all the same"
    );
}

#[tokio::test]
async fn the_reaper_ends_expired_sessions() {
    let s = setup_with(Config {
        session_lifetime_secs: 0,
        ..Config::default()
    });
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let mut client = attached(&session).await;
    let _connected = session.client_connected();
    s.sessions.reap().await;
    assert_eq!(s.sessions.live_count(), 0);
    assert!(!s.fake.has_session(&session.record.id));
    assert!(matches!(
        next(&mut client.rx).await,
        Outbound::Close { reason, .. } if reason == "session expired"
    ));
}

#[tokio::test]
async fn the_reaper_ends_idle_sessions_but_not_watched_ones() {
    let s = setup_with(Config {
        idle_timeout_secs: 0,
        ..Config::default()
    });
    let (watched, _) = s.sessions.create("checks", "192.0.2.1").await.unwrap();
    let (idle, _) = s.sessions.create("checks", "192.0.2.2").await.unwrap();
    let guard = watched.client_connected();
    s.sessions.reap().await;
    assert_eq!(s.sessions.live_count(), 1);
    assert!(s.fake.has_session(&watched.record.id));
    assert!(!s.fake.has_session(&idle.record.id));
    drop(guard);
    s.sessions.reap().await;
    assert_eq!(s.sessions.live_count(), 0, "idle once its last client left");
}

#[tokio::test]
async fn the_reaper_warns_once_before_expiry() {
    let s = setup_with(Config {
        session_lifetime_secs: 600,
        expiry_warning_secs: 600,
        ..Config::default()
    });
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let mut client = attached(&session).await;
    s.sessions.reap().await;
    match next(&mut client.rx).await {
        Outbound::Event(Event::Notice { level, message }) => {
            assert_eq!(level, NoticeLevel::Warning);
            assert_eq!(message, "This session ends in 10 minutes.");
        }
        other => panic!("expected a warning, got {other:?}"),
    }
    s.sessions.reap().await;
    assert_eq!(s.sessions.live_count(), 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), client.rx.recv())
            .await
            .is_err(),
        "warned once"
    );
}

#[tokio::test]
async fn a_client_connecting_after_the_warning_still_gets_it() {
    let s = setup_with(Config {
        session_lifetime_secs: 600,
        expiry_warning_secs: 600,
        ..Config::default()
    });
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    assert!(
        session.expiry_notice().is_none(),
        "no warning before the reaper's"
    );
    s.sessions.reap().await;
    match session.expiry_notice() {
        Some(Event::Notice { level, message }) => {
            assert_eq!(level, NoticeLevel::Warning);
            assert_eq!(message, "This session ends in 10 minutes.");
        }
        other => panic!("expected the warning, got {other:?}"),
    }
}

#[tokio::test]
async fn reconcile_restores_complete_sessions_and_starts_stopped_nodes() {
    let fake = FakeRuntime::new();
    let store = Store::open(Path::new(":memory:")).unwrap();
    store
        .insert(record("a1", &["node1"], unix_now() + 600))
        .await
        .unwrap();
    fake.add_node("a1", "node1", false);
    store
        .save_screens(
            "a1",
            vec![SavedScreen {
                node: "node1".into(),
                cols: 80,
                rows: 24,
                screen: b"before the restart".to_vec(),
            }],
        )
        .await
        .unwrap();
    let sessions = sessions_on(&fake, &store, Config::default());
    let report = sessions.reconcile().await.unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            workshops: 0,
            restored: 1,
            removed: 0,
            orphans_removed: 0
        }
    );
    assert_eq!(fake.node_running("a1", "node1"), Some(true));
    let session = sessions.authorize("a1", Some("token-a1")).unwrap();
    let screen = session.terminal("node1").unwrap().screen_text();
    assert!(screen.contains("before the restart"), "{screen}");
    assert!(
        store.take_screens("a1").await.unwrap().is_empty(),
        "used once"
    );
}

#[tokio::test]
async fn reconcile_removes_expired_incomplete_and_orphaned_sessions() {
    let fake = FakeRuntime::new();
    let store = Store::open(Path::new(":memory:")).unwrap();
    let now = unix_now();
    store
        .insert(record("expired", &["node1"], now - 1))
        .await
        .unwrap();
    fake.add_node("expired", "node1", true);
    store
        .insert(record("partial", &["node1", "node2"], now + 600))
        .await
        .unwrap();
    fake.add_node("partial", "node1", true);
    fake.add_node("orphan", "node1", true);
    fake.add_leftover("leftover");
    let sessions = sessions_on(&fake, &store, Config::default());
    let report = sessions.reconcile().await.unwrap();
    // As before this change, a removed record's nodes are found again as
    // orphans (removing them twice is harmless): 2 real orphans + 2 records.
    assert_eq!(
        report,
        ReconcileReport {
            workshops: 0,
            restored: 0,
            removed: 2,
            orphans_removed: 4
        }
    );
    for id in ["expired", "partial", "orphan", "leftover"] {
        assert!(!fake.has_session(id), "{id} removed");
    }
    assert!(store.all().await.unwrap().is_empty());
    assert_eq!(sessions.live_count(), 0);
}

#[tokio::test]
async fn shutdown_saves_screens_for_the_next_start() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let mut client = attached(&session).await;
    s.fake.shells()[0].print("still here");
    let terminal = session.terminal("node1").unwrap();
    for _ in 0..100 {
        if terminal.screen_text().contains("still here") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.sessions.shutdown().await;
    let saved = s.store.take_screens(&session.record.id).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert!(String::from_utf8_lossy(&saved[0].screen).contains("still here"));
    loop {
        if let Outbound::Close { code, .. } = next(&mut client.rx).await {
            assert_eq!(code, close_code::GOING_AWAY);
            break;
        }
    }
}

#[tokio::test]
async fn a_second_restart_of_a_node_is_busy() {
    let s = Arc::new(setup());
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let gate = s.fake.hold_restarts();
    let first = tokio::spawn({
        let (s, session) = (s.clone(), session.clone());
        async move { s.sessions.restart_node(&session, "node1").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = s
        .sessions
        .restart_node(&session, "node1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SessionError::Busy(n) if n == "node1"),
        "{err:?}"
    );
    gate.notify_one();
    first.await.unwrap().unwrap();
    assert_eq!(s.fake.restarts().len(), 1);
    // Free again once done.
    gate.notify_one();
    s.sessions.restart_node(&session, "node1").await.unwrap();
    assert!(matches!(
        s.sessions.restart_node(&session, "node7").await,
        Err(SessionError::NoNode { .. })
    ));
}

#[tokio::test]
async fn run_check_records_a_pass_in_progress_and_the_store() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    s.fake.script_exec("done-marker", 1, "not yet\n");
    let failed = s.sessions.run_check(&session, 1).await.unwrap();
    assert!(!failed.passed);
    assert_eq!(failed.output, "not yet\n");
    assert!(s.sessions.progress(&session).await.passed_steps.is_empty());

    let s2 = setup();
    let (session, _) = s2.sessions.create("checks", IP).await.unwrap();
    s2.fake.script_exec("done-marker", 0, "ok");
    assert!(s2.sessions.run_check(&session, 1).await.unwrap().passed);
    assert_eq!(s2.sessions.progress(&session).await.passed_steps, vec![1]);
    let stored = s2.store.get(&session.record.id).await.unwrap().unwrap();
    assert_eq!(progress::from_json(&stored.progress).passed_steps, vec![1]);
}

#[tokio::test]
async fn check_output_is_read_through_a_bounded_tail_and_cut_at_the_cap() {
    let limits = OutputLimits {
        keep_bytes: 1024,
        max_bytes: 64 * 1024,
    };
    let s = setup_on(FakeRuntime::with_output_limits(limits), Config::default());
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let mut long = vec![b'.'; 32 * 1024];
    long.extend_from_slice(b"\nthe last line\n");
    s.fake.script_exec("done-marker", 0, long);
    let kept = s.sessions.run_check(&session, 1).await.unwrap();
    assert!(kept.passed, "under the cap the exit code counts");
    assert!(kept.output.starts_with("[... output cut ...]\n"));
    assert!(kept.output.ends_with("\nthe last line\n"));
    assert!(
        kept.output.len() <= 1024 + 32,
        "{} bytes",
        kept.output.len()
    );

    // A check that prints without end (1 MiB here) is stopped at the cap and fails.
    let s = setup_on(FakeRuntime::with_output_limits(limits), Config::default());
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    s.fake.script_exec("done-marker", 0, vec![b'y'; 1 << 20]);
    let stopped = s.sessions.run_check(&session, 1).await.unwrap();
    assert!(!stopped.passed, "an abandoned check never passes");
    assert!(
        stopped.output.contains("passed 65536 bytes"),
        "{}",
        &stopped.output[stopped.output.len() - 120..]
    );
    assert!(
        stopped.output.len() <= 1024 + 200,
        "{} bytes",
        stopped.output.len()
    );
    assert!(s.sessions.progress(&session).await.passed_steps.is_empty());
}

#[tokio::test]
async fn checks_at_once_are_limited_per_session_and_in_total() {
    let s = setup_with(Config {
        max_checks_per_session: 2,
        max_checks: 3,
        ..Config::default()
    });
    let (a, _) = s.sessions.create("checks", "192.0.2.1").await.unwrap();
    let (b, _) = s.sessions.create("checks", "192.0.2.2").await.unwrap();
    let gate = s.fake.hold_exec();
    let start = |session: &Arc<Session>| {
        let (sessions, session) = (s.sessions.clone(), session.clone());
        tokio::spawn(async move { sessions.run_check(&session, 1).await })
    };
    let running = [start(&a), start(&a), start(&b)];
    let execs = || s.fake.exec_log().len();
    eventually("three checks running", || execs() == 3).await;

    let err = s.sessions.run_check(&a, 1).await.unwrap_err();
    assert!(
        matches!(&err, SessionError::ChecksBusy(m) if m.contains("this session")),
        "{err:?}"
    );
    let err = s.sessions.run_check(&b, 1).await.unwrap_err();
    assert!(
        matches!(&err, SessionError::ChecksBusy(m) if m.contains("server")),
        "{err:?}"
    );
    assert_eq!(execs(), 3, "refused checks never reach the node");

    for _ in &running {
        gate.notify_one();
    }
    for check in running {
        check.await.unwrap().unwrap();
    }
    gate.notify_one();
    s.sessions
        .run_check(&a, 1)
        .await
        .expect("slots are free again");
}

#[tokio::test]
async fn a_check_whose_client_hangs_up_keeps_its_slot_until_it_ends() {
    let s = setup_with(Config {
        max_checks_per_session: 1,
        ..Config::default()
    });
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let gate = s.fake.hold_exec();
    let hung_up = tokio::time::timeout(
        Duration::from_millis(100),
        s.sessions.run_check(&session, 1),
    )
    .await;
    assert!(hung_up.is_err(), "the check was still running");
    let err = s.sessions.run_check(&session, 1).await.unwrap_err();
    assert!(matches!(err, SessionError::ChecksBusy(_)), "{err:?}");
    gate.notify_one();
    eventually("the slot is free", || {
        session.checks.available_permits() == 1
    })
    .await;
    gate.notify_one();
    s.sessions.run_check(&session, 1).await.unwrap();
}

#[tokio::test]
async fn run_check_refuses_missing_steps_checks_and_nodes() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    assert!(matches!(
        s.sessions.run_check(&session, 0).await,
        Err(SessionError::NoCheck(0))
    ));
    assert!(matches!(
        s.sessions.run_check(&session, 9).await,
        Err(SessionError::NoStep {
            steps: 3,
            step: 9,
            ..
        })
    ));
    assert!(matches!(
        s.sessions.run_check(&session, 2).await,
        Err(SessionError::NoCheckNode(n)) if n == "node9"
    ));
    assert!(s
        .fake
        .exec_log()
        .iter()
        .all(|(_, _, cmd)| !cmd.join(" ").contains("done-marker")));
}

#[tokio::test]
async fn set_progress_follows_the_rules_and_is_stored() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let wanted = |current_step, passed: &[usize]| Progress {
        current_step,
        passed_steps: passed.to_vec(),
    };
    let err = s
        .sessions
        .set_progress(&session, wanted(1, &[1]))
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::Invalid(_)), "{err:?}");
    assert!(matches!(
        s.sessions.set_progress(&session, wanted(4, &[])).await,
        Err(SessionError::Invalid(_))
    ));
    let stored = s
        .sessions
        .set_progress(&session, wanted(1, &[0, 0]))
        .await
        .unwrap();
    assert_eq!(stored, wanted(1, &[0]));
    assert_eq!(s.sessions.progress(&session).await, wanted(1, &[0]));
    let record = s.store.get(&session.record.id).await.unwrap().unwrap();
    assert_eq!(progress::from_json(&record.progress), wanted(1, &[0]));
    // A passed check may be kept afterwards.
    s.fake.script_exec("done-marker", 0, "");
    s.sessions.run_check(&session, 1).await.unwrap();
    let kept = s
        .sessions
        .set_progress(&session, wanted(2, &[0, 1]))
        .await
        .unwrap();
    assert_eq!(kept, wanted(2, &[0, 1]));
}

#[tokio::test]
async fn reaching_a_step_the_first_time_runs_its_background_and_types_its_foreground() {
    let s = setup();
    let (session, _) = s.sessions.create("entering", IP).await.unwrap();
    let ran = |what: &str| {
        s.fake
            .exec_log()
            .iter()
            .filter(|(_, _, cmd)| cmd.join(" ").contains(what))
            .count()
    };
    // Step 0 is reached as the session starts: its background runs, and its
    // foreground is typed once the shell shows a prompt.
    eventually("step 0's background ran", || ran("/tmp/background-0") == 1).await;
    eventually("a shell", || !s.fake.shells().is_empty()).await;
    let shell = s.fake.shells()[0].clone();
    assert!(shell.input().is_empty(), "nothing typed before the prompt");
    shell.print("root@node1:~# ");
    eventually("step 0's foreground typed", || {
        shell.input() == b"echo typed-0\r"
    })
    .await;
    let wanted = |current_step| Progress {
        current_step,
        passed_steps: Vec::new(),
    };
    s.sessions.set_progress(&session, wanted(1)).await.unwrap();
    eventually("step 1's background ran", || ran("/tmp/background-1") == 1).await;
    // The echo moved the cursor to a new line: the next script waits for
    // the prompt to come back.
    assert_eq!(shell.input(), b"echo typed-0\r", "typed at no prompt");
    shell.print("\r\ntyped-0\r\nroot@node1:~# ");
    eventually("step 1's foreground typed", || {
        shell.input().ends_with(b"echo typed-1\r")
    })
    .await;
    // Back and forth: nothing runs twice; a step without scripts runs none.
    for step in [0, 1, 2, 1] {
        s.sessions
            .set_progress(&session, wanted(step))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((ran("/tmp/background-0"), ran("/tmp/background-1")), (1, 1));
    assert_eq!(shell.input(), b"echo typed-0\recho typed-1\r");
    // The finish page (step = number of steps) is reached like a step.
    shell.print("\r\ntyped-1\r\nroot@node1:~# ");
    s.sessions.set_progress(&session, wanted(3)).await.unwrap();
    eventually("the finish page's foreground typed", || {
        shell.input().ends_with(b"echo typed-3\r")
    })
    .await;
    // What ran is stored with the progress, so a restarted server keeps it;
    // the learner's view of the progress does not show it.
    let record = s.store.get(&session.record.id).await.unwrap().unwrap();
    assert_eq!(
        progress::stored_from_json(&record.progress).entered_steps,
        vec![0, 1, 3]
    );
    assert_eq!(s.sessions.progress(&session).await, wanted(3));
}

#[tokio::test]
async fn files_and_preview_targets_go_through_the_session() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let file = NewFile {
        path: "/tmp/x".into(),
        mode: 0o644,
        size: 3,
        body: Box::pin(futures_util::stream::iter([Ok(bytes::Bytes::from_static(
            b"abc",
        ))])),
    };
    s.sessions
        .write_file(&session, "node1", file)
        .await
        .unwrap();
    let file = s
        .sessions
        .read_file(&session, "node1", "/tmp/x")
        .await
        .unwrap();
    assert_eq!(file.size, 3);
    assert!(matches!(
        s.sessions.read_file(&session, "node1", "/nope").await,
        Err(SessionError::Runtime(RuntimeError::NoSuchPath(_)))
    ));
    assert!(matches!(
        s.sessions.read_file(&session, "node2", "/tmp/x").await,
        Err(SessionError::NoNode { .. })
    ));
    assert!(s
        .sessions
        .preview_target(&session, "node1", false)
        .await
        .is_ok());
    s.fake.lose_node(&session.record.id, "node1");
    assert!(matches!(
        s.sessions.preview_target(&session, "node1", true).await,
        Err(SessionError::Runtime(RuntimeError::NoSuchNode { .. }))
    ));
}

/// Captured values come from the node's terminal output, also for a
/// session rebuilt after a restart (its terminals capture what the lesson says).
#[tokio::test]
async fn captured_values_are_read_from_the_nodes_output() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let values = |session: &Session| s.sessions.captures(session).unwrap();
    assert_eq!(
        values(&session),
        vec![protocol::api::CapturedValue {
            name: "WORD".into(),
            node: "node1".into(),
            value: None
        }]
    );
    let mut client = attached(&session).await;
    let shell = s.fake.shells().pop().unwrap();
    shell.print("word: hello\r\n");
    while !matches!(next(&mut client.rx).await, Outbound::Output(b) if b.ends_with(b"\r\n")) {}
    assert_eq!(values(&session)[0].value.as_deref(), Some("hello"));
    let rebuilt = s.sessions.make_session(session.record.clone());
    assert_eq!(values(&rebuilt)[0].value, None);
    let mut client = attached(&rebuilt).await;
    s.fake.shells().pop().unwrap().print("word: again\r\n");
    while !matches!(next(&mut client.rx).await, Outbound::Output(b) if b.ends_with(b"\r\n")) {}
    assert_eq!(values(&rebuilt)[0].value.as_deref(), Some("again"));
}

// The warm pool (pool.rs).

fn pooled_config(pool: &[(&str, usize)]) -> Config {
    Config {
        warm_pool: pool.iter().map(|(l, n)| (l.to_string(), *n)).collect(),
        ..Config::default()
    }
}

/// Ids of the ready sessions of `lesson` in the pool.
fn pooled_ids(sessions: &Sessions, lesson: &str) -> Vec<String> {
    lock(&sessions.live)
        .pooled
        .get(lesson)
        .map(|ready| ready.iter().map(|p| p.id.clone()).collect())
        .unwrap_or_default()
}

async fn refill(sessions: &Arc<Sessions>) -> usize {
    sessions.refill(&mut HashMap::new()).await
}

#[tokio::test]
async fn a_pooled_session_is_ready_and_handed_out_with_a_fresh_token_and_the_clients_address() {
    let s = setup_with(pooled_config(&[("checks", 1)]));
    assert_eq!(refill(&s.sessions).await, 1);
    assert_eq!(refill(&s.sessions).await, 0, "full already");
    let [id] = <[String; 1]>::try_from(pooled_ids(&s.sessions, "checks")).unwrap();
    // Ready: node running, assets in place, a shell started; yet nobody can open it.
    assert_eq!(s.fake.node_running(&id, "node1"), Some(true));
    assert!(s.fake.file(&id, "node1", "/root/data/hello.txt").is_some());
    assert_eq!(s.fake.shells().len(), 1);
    assert!(
        s.store.get(&id).await.unwrap().is_none(),
        "no record while pooled"
    );
    let err = s.sessions.authorize(&id, Some("anything")).err().unwrap();
    assert!(matches!(err, SessionError::NoSession(_)), "{err:?}");
    assert_eq!(s.sessions.pool_ready(), vec![("checks".to_owned(), 1)]);

    let (session, token) = s.sessions.create("checks", IP).await.unwrap();
    assert_eq!(session.record.id, id, "served from the pool");
    assert_eq!(session.record.client_ip, IP);
    let stored = s
        .store
        .get(&id)
        .await
        .unwrap()
        .expect("a record at hand-out");
    assert_eq!(stored.token_hash, hash_token(&token));
    assert_eq!(stored.client_ip, IP);
    assert!(s.sessions.authorize(&id, Some(&token)).is_ok());
    assert_eq!(s.sessions.metrics.pool_handouts.get(), 1);
    assert_eq!(s.sessions.metrics.pool_misses.get(), 0);
    // The shell started in the pool is the one the learner gets.
    let _client = attached(&session).await;
    assert_eq!(s.fake.shells().len(), 1, "no second shell");
    assert_eq!(s.sessions.pool_ready(), vec![("checks".to_owned(), 0)]);

    // Refilled with another session; the next request is a hand-out too.
    assert_eq!(refill(&s.sessions).await, 1);
    let next = pooled_ids(&s.sessions, "checks");
    assert_eq!(next.len(), 1);
    assert_ne!(next[0], id);
    let (other, other_token) = s.sessions.create("checks", "192.0.2.2").await.unwrap();
    assert_eq!(other.record.id, next[0]);
    assert_ne!(other_token, token);
    // A lesson without a pool, or an empty pool, is built as before (a miss).
    let (built, _) = s.sessions.create("checks", "192.0.2.3").await.unwrap();
    assert!(s.store.get(&built.record.id).await.unwrap().is_some());
    assert_eq!(s.sessions.metrics.pool_misses.get(), 1);
    s.sessions.create("shell", "192.0.2.3").await.unwrap();
    assert_eq!(s.sessions.metrics.pool_misses.get(), 1, "shell has no pool");
    assert_eq!(s.sessions.metrics.pool_handouts.get(), 2);
}

#[tokio::test]
async fn the_pool_counts_toward_max_sessions_but_toward_no_clients_limit() {
    let s = setup_with(Config {
        max_sessions: 3,
        max_sessions_per_ip: 1,
        ..pooled_config(&[("checks", 2)])
    });
    assert_eq!(refill(&s.sessions).await, 2);
    // The pool is no client's: this address still has its one session.
    let (mine, _) = s.sessions.create("shell", IP).await.unwrap();
    assert_eq!(s.sessions.metrics.pool_handouts.get(), 0);
    let err = refused(&s.sessions, "checks", IP).await;
    assert!(matches!(err, SessionError::TooManySessions(1)), "{err:?}");
    assert_eq!(
        pooled_ids(&s.sessions, "checks").len(),
        2,
        "a refusal takes nothing"
    );
    // Full (1 live + 2 pooled): a pooled lesson is still served, from the pool.
    let (handed, _) = s.sessions.create("checks", "192.0.2.2").await.unwrap();
    assert_eq!(s.sessions.metrics.pool_handouts.get(), 1);
    assert_eq!(refill(&s.sessions).await, 0, "no room to refill");
    // Full again (2 live + 1 pooled): another lesson takes the pooled session's room.
    let pooled = pooled_ids(&s.sessions, "checks");
    let (built, _) = s.sessions.create("shell", "192.0.2.3").await.unwrap();
    assert_eq!(s.sessions.metrics.pool_drained.get(), 1);
    eventually("the pooled session is removed", || {
        s.fake.removed().contains(&pooled[0])
    })
    .await;
    assert_eq!(lock(&s.sessions.live).total(), 3);
    let err = refused(&s.sessions, "shell", "192.0.2.4").await;
    assert!(matches!(err, SessionError::Full { .. }), "{err:?}");
    for id in [&mine.record.id, &handed.record.id, &built.record.id] {
        s.sessions.end(id, EndReason::Deleted).await.unwrap();
    }
    assert_eq!(refill(&s.sessions).await, 2, "room again");
}

#[tokio::test]
async fn a_pooled_session_is_never_reaped_and_its_lifetime_starts_at_hand_out() {
    let s = setup_with(Config {
        session_lifetime_secs: 1,
        idle_timeout_secs: 1,
        ..pooled_config(&[("checks", 1)])
    });
    refill(&s.sessions).await;
    let id = pooled_ids(&s.sessions, "checks").remove(0);
    let built_at = unix_now();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Older than its lifetime and idle timeout, with no client: still pooled.
    s.sessions.reap().await;
    assert_eq!(pooled_ids(&s.sessions, "checks"), vec![id.clone()]);
    assert!(s.fake.has_session(&id));
    assert_eq!(s.sessions.sweep().await.unwrap(), 0, "the sweep leaves it");

    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    assert_eq!(session.record.id, id);
    let now = unix_now();
    assert!(
        session.record.created_at >= built_at + 2,
        "{session:?}",
        session = session.record
    );
    assert!(session.record.created_at <= now);
    assert_eq!(session.record.expires_at, session.record.created_at + 1);
    let stored = s.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.created_at, stored.expires_at),
        (session.record.created_at, session.record.expires_at)
    );
    assert!(
        session.idle_for().unwrap() < Duration::from_secs(1),
        "idle clock from hand-out"
    );
}

#[tokio::test]
async fn a_lesson_reload_drains_that_lessons_pool_only() {
    let s = setup_with(pooled_config(&[("checks", 1), ("shell", 1)]));
    assert_eq!(refill(&s.sessions).await, 2);
    let old_checks = pooled_ids(&s.sessions, "checks").remove(0);
    let shell = pooled_ids(&s.sessions, "shell").remove(0);
    // The same lessons again: nothing drains.
    s.sessions.catalog.replace([lesson()]);
    assert_eq!(s.sessions.drain_stale(), 0);
    // `checks` changes: its pooled session is never handed out.
    let mut changed = lesson();
    changed.intro = "a new version".into();
    s.sessions.catalog.replace([changed.clone()]);
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    assert_ne!(
        session.record.id, old_checks,
        "not the old version's session"
    );
    assert_eq!(s.sessions.metrics.pool_drained.get(), 1);
    assert_eq!(s.sessions.metrics.pool_misses.get(), 1);
    eventually("the old version's session is removed", || {
        s.fake.removed().contains(&old_checks)
    })
    .await;
    // The filler drains too, and refills with the new version.
    assert_eq!(refill(&s.sessions).await, 1);
    let new_checks = pooled_ids(&s.sessions, "checks").remove(0);
    changed.intro = "a third version".into();
    s.sessions.catalog.replace([changed]);
    assert_eq!(refill(&s.sessions).await, 1);
    assert!(!pooled_ids(&s.sessions, "checks").contains(&new_checks));
    assert_eq!(
        pooled_ids(&s.sessions, "shell"),
        vec![shell],
        "shell untouched"
    );
    assert_eq!(s.sessions.metrics.pool_drained.get(), 2);
}

#[tokio::test]
async fn a_restart_removes_pooled_leftovers_and_the_pool_is_rebuilt() {
    let s = setup_with(pooled_config(&[("checks", 1)]));
    refill(&s.sessions).await;
    let old = pooled_ids(&s.sessions, "checks").remove(0);
    let (kept, _) = s.sessions.create("checks", IP).await.unwrap();
    refill(&s.sessions).await;
    let leftover = pooled_ids(&s.sessions, "checks").remove(0);
    // The next start: the same runtime and store, a new server.
    let again = sessions_on(&s.fake, &s.store, pooled_config(&[("checks", 1)]));
    let report = again.reconcile().await.unwrap();
    assert_eq!((report.restored, report.orphans_removed), (1, 1));
    assert_eq!(kept.record.id, old);
    assert!(!s.fake.has_session(&leftover));
    assert!(s.fake.has_session(&old));
    assert_eq!(refill(&again).await, 1);
}

// Workshops.

/// A workshop of `checks` with `seats` seats, open for an hour; its code.
async fn workshop(sessions: &Arc<Sessions>, seats: u32) -> (String, String) {
    let w = sessions
        .create_workshop("checks", seats, Some(3600))
        .await
        .unwrap();
    (w.id, protocol::join_code::display(&w.code))
}

async fn join(
    sessions: &Arc<Sessions>,
    code: &str,
    name: &str,
) -> Result<(Arc<Session>, String), SessionError> {
    sessions.join_workshop(code, name, None, IP).await
}

#[tokio::test]
async fn a_class_behind_one_address_joins_on_seats_not_on_its_limit() {
    let s = setup_with(Config {
        max_sessions_per_ip: 2,
        ..Config::default()
    });
    let (id, code) = workshop(&s.sessions, 4).await;
    for name in ["Ada", "Grace", "Linus", "Ken"] {
        let (session, _) = join(&s.sessions, &code, name).await.unwrap();
        let seat = session.record.seat.as_ref().unwrap();
        assert_eq!(
            (seat.workshop.as_str(), seat.learner.as_str()),
            (id.as_str(), name)
        );
        assert_eq!(session.record.lesson, "checks");
    }
    assert!(matches!(
        join(&s.sessions, &code, "Barbara").await,
        Err(SessionError::WorkshopFull(4))
    ));
    // The address's own limit is untouched by the seats.
    s.sessions.create("checks", IP).await.unwrap();
    s.sessions.create("checks", IP).await.unwrap();
    assert!(matches!(
        refused(&s.sessions, "checks", IP).await,
        SessionError::TooManySessions(2)
    ));
    // An ended session frees its seat.
    let learners = s.sessions.workshop_view(&id).await.unwrap().learners;
    assert_eq!(learners.len(), 4);
    s.sessions
        .end(&learners[0].session, EndReason::Deleted)
        .await
        .unwrap();
    join(&s.sessions, &code, "Barbara").await.unwrap();
}

#[tokio::test]
async fn names_are_unique_in_a_workshop_and_a_token_gets_its_session_back() {
    let s = setup();
    let (_, code) = workshop(&s.sessions, 3).await;
    let (ada, token) = join(&s.sessions, &code, "Ada").await.unwrap();
    assert!(matches!(
        join(&s.sessions, &code, " ada ").await,
        Err(SessionError::NameTaken(_))
    ));
    assert!(matches!(
        join(&s.sessions, &code, "").await,
        Err(SessionError::BadName(_))
    ));
    // The same browser comes back (its token), typed in lower case.
    let (again, same) = s
        .sessions
        .join_workshop(&code.to_lowercase(), "whatever", Some(&token), IP)
        .await
        .unwrap();
    assert_eq!(again.record.id, ada.record.id);
    assert_eq!(same, token);
    // Another workshop's token (or a wrong one) is a new join, not Ada's session.
    let (other, _) = s
        .sessions
        .join_workshop(&code, "Grace", Some("not-a-token"), IP)
        .await
        .unwrap();
    assert_ne!(other.record.id, ada.record.id);
    assert_eq!(s.sessions.live_count(), 2);
}

#[tokio::test]
async fn wrong_or_ended_workshops_are_not_found_and_ending_one_ends_its_sessions() {
    let s = setup();
    assert!(matches!(
        join(&s.sessions, "ABCD-EFGH", "Ada").await,
        Err(SessionError::NoWorkshop)
    ));
    assert!(matches!(
        join(&s.sessions, "not a code", "Ada").await,
        Err(SessionError::NoWorkshop)
    ));
    let (id, code) = workshop(&s.sessions, 2).await;
    let (ada, _) = join(&s.sessions, &code, "Ada").await.unwrap();
    let mut client = attached(&ada).await;
    let (mine, _) = s.sessions.create("checks", IP).await.unwrap();
    s.sessions.end_workshop(&id).await.unwrap();
    match next(&mut client.rx).await {
        Outbound::Close { code, reason } => {
            assert_eq!(code, close_code::NORMAL);
            assert!(reason.contains("workshop has ended"), "{reason}");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    assert!(!s.fake.has_session(&ada.record.id));
    assert!(s.fake.has_session(&mine.record.id), "other sessions stay");
    assert!(matches!(
        join(&s.sessions, &code, "Grace").await,
        Err(SessionError::NoWorkshop)
    ));
    assert!(matches!(
        s.sessions.end_workshop(&id).await,
        Err(SessionError::NoWorkshop)
    ));
    assert!(s.store.all_workshops().await.unwrap().is_empty());
}

#[tokio::test]
async fn workshops_are_bounded_by_their_settings() {
    let s = setup_with(Config {
        max_workshop_seats: 10,
        max_workshop_secs: 3600,
        max_workshops: 1,
        ..Config::default()
    });
    let err = |r: Result<crate::store::WorkshopRecord, SessionError>| r.err().unwrap();
    assert!(matches!(
        err(s.sessions.create_workshop("nope", 1, None).await),
        SessionError::UnknownLesson(_)
    ));
    for (seats, secs) in [(0, None), (11, None), (1, Some(3601)), (1, Some(10))] {
        assert!(matches!(
            err(s.sessions.create_workshop("checks", seats, secs).await),
            SessionError::BadWorkshop(_)
        ));
    }
    let w = s
        .sessions
        .create_workshop("checks", 10, None)
        .await
        .unwrap();
    assert_eq!(
        w.expires_at - w.created_at,
        3600,
        "max_workshop_secs by default"
    );
    assert!(matches!(
        err(s.sessions.create_workshop("checks", 1, None).await),
        SessionError::TooManyWorkshops(1)
    ));
}

#[tokio::test]
async fn free_seats_are_started_ahead_and_handed_to_learners() {
    let s = setup();
    let (id, code) = workshop(&s.sessions, 3).await;
    assert_eq!(refill(&s.sessions).await, 3, "one per free seat");
    assert_eq!(s.sessions.workshop_view(&id).await.unwrap().ready_seats, 3);
    let ready = pooled_ids(&s.sessions, "checks");
    let (ada, _) = join(&s.sessions, &code, "Ada").await.unwrap();
    assert!(ready.contains(&ada.record.id), "handed a ready session");
    assert_eq!(refill(&s.sessions).await, 0, "two seats, two ready");
    let view = s.sessions.workshop_view(&id).await.unwrap();
    assert_eq!((view.ready_seats, view.learners.len()), (2, 1));
    // The workshop ends: its ready sessions are drained.
    s.sessions.end_workshop(&id).await.unwrap();
    refill(&s.sessions).await;
    assert!(pooled_ids(&s.sessions, "checks").is_empty());
    assert_eq!(s.sessions.metrics.pool_drained.get(), 2);
}

#[tokio::test]
async fn workshop_sessions_expire_with_it_never_idle_and_survive_a_restart() {
    let s = setup_with(Config {
        idle_timeout_secs: 0,
        ..Config::default()
    });
    let (id, code) = workshop(&s.sessions, 2).await;
    let (ada, _) = join(&s.sessions, &code, "Ada").await.unwrap();
    let view = s.sessions.workshop_view(&id).await.unwrap();
    assert_eq!(ada.record.expires_at, view.record.expires_at);
    let (visitor, _) = s.sessions.create("checks", IP).await.unwrap();
    s.sessions.reap().await;
    assert!(s.sessions.authorize(&visitor.record.id, None).is_err());
    assert_eq!(
        s.sessions.live_count(),
        1,
        "the visitor idled out, Ada did not"
    );
    // A new server on the same store and runtime.
    let again = sessions_on(&s.fake, &s.store, Config::default());
    let report = again.reconcile().await.unwrap();
    assert_eq!((report.workshops, report.restored), (1, 1));
    assert_eq!(
        again.workshop_view(&id).await.unwrap().learners[0].name,
        "Ada"
    );
    assert!(matches!(
        join(&again, &code, "ADA").await,
        Err(SessionError::NameTaken(_))
    ));
}

#[tokio::test]
async fn watchers_are_announced_to_the_learner_and_are_not_clients() {
    let s = setup();
    let (session, _) = s.sessions.create("checks", IP).await.unwrap();
    let mut client = attached(&session).await;
    assert_eq!(session.watchers_notice(), None);
    let guard = session.watch();
    match next(&mut client.rx).await {
        Outbound::Event(Event::Watchers { count }) => assert_eq!(count, 1),
        other => panic!("expected watchers, got {other:?}"),
    }
    assert_eq!(
        session.watchers_notice(),
        Some(Event::Watchers { count: 1 })
    );
    assert_eq!(session.connected(), 0, "a watcher is no client");
    drop(guard);
    match next(&mut client.rx).await {
        Outbound::Event(Event::Watchers { count }) => assert_eq!(count, 0),
        other => panic!("expected watchers, got {other:?}"),
    }
    let sessions = s.sessions.admin_sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, session.record.id);
    assert_eq!(
        (sessions[0].watchers, sessions[0].learner.clone()),
        (0, None)
    );
}
