//! Operator access and workshops on a real `sandbox-server` and the learner
//! engine: the admin token (its file, every admin route refusing learners and
//! strangers), a class of 20 joining from one address, seats, rejoining,
//! progress in the instructor's view, watching a learner's terminal
//! read-only, ending sessions and workshops, the `admin` commands. Without
//! Docker it skips, except under `CI=true`.

use std::time::Duration;

use playground_e2e::{require_docker, server_binary, Launch, Profile, Server, TermEvent};
use protocol::api::CreatedSession;
use protocol::terminal::{close_code, Event};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(20);

fn admin_token(server: &Server) -> String {
    server
        .admin_token()
        .expect("the server made its admin token file")
}

/// Opens a workshop of `lesson` with `seats` seats; its JSON.
async fn open_workshop(server: &Server, admin: &str, lesson: &str, seats: u32) -> Value {
    let body = json!({ "lesson": lesson, "seats": seats, "expires_in_secs": 3600 }).to_string();
    let (status, workshop) = server
        .call("POST", "/api/v1/workshops", Some(admin), Some(&body))
        .await;
    assert_eq!(status, 201, "{workshop}");
    workshop
}

/// `POST /workshops/{code}/join` as `name` (with a rejoin `token`); status and body.
async fn join(server: &Server, code: &str, name: &str, token: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "name": name });
    if let Some(token) = token {
        body["token"] = json!(token);
    }
    server
        .call(
            "POST",
            &format!("/api/v1/workshops/{code}/join"),
            None,
            Some(&body.to_string()),
        )
        .await
}

/// The HTTP status a WebSocket upgrade to `url` is refused with (101 when accepted).
async fn upgrade_status(url: &str) -> u16 {
    use tokio_tungstenite::tungstenite::Error;
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => 101,
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("connecting {url}: {e}"),
    }
}

#[tokio::test]
async fn every_admin_route_wants_the_admin_token_from_its_private_file() {
    require_docker!();
    let mut server = Launch::default().start().await.unwrap();
    let admin = admin_token(&server);
    assert_eq!(admin.len(), 64, "32 random bytes, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.admin_token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(server.log().contains("admin-token"), "the path is logged");
    assert!(!server.log().contains(&admin), "the token never is");

    let learner = server.create_session("shell").await.unwrap();
    let routes = [
        ("GET", "/api/v1/admin/sessions".to_owned(), None),
        (
            "DELETE",
            format!("/api/v1/admin/sessions/{}", learner.id),
            None,
        ),
        (
            "POST",
            "/api/v1/workshops".to_owned(),
            Some(r#"{"lesson":"shell","seats":2}"#),
        ),
        ("GET", "/api/v1/workshops".to_owned(), None),
        ("GET", "/api/v1/workshops/0123456789abcdef".to_owned(), None),
        (
            "DELETE",
            "/api/v1/workshops/0123456789abcdef".to_owned(),
            None,
        ),
    ];
    for (method, path, body) in &routes {
        for (token, status, code) in [
            (None, 401, "unauthorized"),
            (Some(learner.token.as_str()), 403, "forbidden"),
            (Some("wrong-token"), 403, "forbidden"),
            (Some(""), 401, "unauthorized"),
        ] {
            let (got, answer) = server.call(method, path, token, *body).await;
            assert_eq!(
                (got, answer["error"]["code"].as_str().unwrap_or("")),
                (status, code),
                "{method} {path} with {token:?}: {answer}"
            );
        }
    }
    // Watching takes the admin token too: not the learner's, and nobody
    // without it learns whether a session exists.
    let watch = |id: &str, token: &str| {
        server.ws_url(&format!(
            "/api/v1/sessions/{id}/nodes/node1/terminal?watch=1&token={token}"
        ))
    };
    assert_eq!(
        upgrade_status(&watch(&learner.id, &learner.token)).await,
        403
    );
    assert_eq!(upgrade_status(&watch("nosuchsession", "wrong")).await, 403);
    assert_eq!(upgrade_status(&watch("nosuchsession", &admin)).await, 404);
    let bad = server.ws_url(&format!(
        "/api/v1/sessions/{}/nodes/node1/terminal?watch=yes&token={admin}",
        learner.id
    ));
    assert_eq!(upgrade_status(&bad).await, 400);
    // Nothing was ended by all that.
    let (status, _) = server
        .call(
            "GET",
            &format!("/api/v1/sessions/{}", learner.id),
            Some(&learner.token),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // With the token: the session is listed, then ended.
    let (status, list) = server
        .call("GET", "/api/v1/admin/sessions", Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{list}");
    assert_eq!(sessions[0]["id"], learner.id.as_str());
    assert_eq!(sessions[0]["lesson"], "shell");
    assert_eq!(sessions[0]["client_ip"], "127.0.0.1");
    assert!(sessions[0].get("learner").is_none());
    let end = format!("/api/v1/admin/sessions/{}", learner.id);
    let (status, body) = server.call("DELETE", &end, Some(&admin), None).await;
    assert_eq!(status, 204, "{body}\nserver log:\n{}", server.log());
    assert_eq!(server.call("DELETE", &end, Some(&admin), None).await.0, 404);

    // The token survives a restart (the file is kept).
    server.restart().await.unwrap();
    assert_eq!(admin_token(&server), admin);
    let (status, _) = server
        .call("GET", "/api/v1/admin/sessions", Some(&admin), None)
        .await;
    assert_eq!(status, 200);
}

/// Writes a two-step lesson `class` (base image; step 1 checks for
/// `/root/done`) into the server's lessons folder and waits until it is served.
async fn write_class_lesson(server: &Server) {
    let dir = server.lessons_dir().join("class");
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"class\"\ntitle = \"Class\"\nsummary = \"Two steps.\"\n\n\
         [[nodes]]\nname = \"node1\"\nimage = \"base\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("steps/01-look.md"), "# Look\n\nRead this.\n").unwrap();
    std::fs::write(
        dir.join("steps/02-touch.md"),
        "# Touch\n\n```bash run=node1\ntouch /root/done\n```\n\n\
         ```sh check=node1 timeout=5\ntest -f /root/done\n```\n",
    )
    .unwrap();
    for _ in 0..100 {
        let (_, lessons) = server.call("GET", "/api/v1/lessons", None, None).await;
        if lessons
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == "class")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the class lesson was never served: {}", server.log());
}

#[tokio::test]
async fn a_class_of_twenty_joins_from_one_address_on_its_seats() {
    require_docker!();
    let server = Launch::default()
        .own_lessons()
        .envs(&[("PLAYGROUND_MAX_SESSIONS", "30")])
        .start()
        .await
        .unwrap();
    write_class_lesson(&server).await;
    let admin = admin_token(&server);
    let workshop = open_workshop(&server, &admin, "class", 20).await;
    let code = workshop["code"].as_str().unwrap().to_owned();
    let id = workshop["id"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");
    assert!(
        workshop["join_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/join/{code}")),
        "{workshop}"
    );

    // 20 joins at once from 127.0.0.1, whose own limit is 3 sessions.
    let joins = (0..20).map(|i| {
        let server = &server;
        let code = code.clone();
        async move { join(server, &code, &format!("learner {i}"), None).await }
    });
    let answers = futures_util::future::join_all(joins).await;
    let mut learners: Vec<CreatedSession> = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, 201, "{body}");
        learners.push(serde_json::from_value(body).unwrap());
    }
    let mut ids: Vec<&str> = learners.iter().map(|l| l.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "20 sessions");

    // Full: a clear error. A name already there: another one.
    let (status, body) = join(&server, &code, "late", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("workshop_full"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("20 seats"));
    // The same browser coming back (its token) gets its session, seats full or not,
    // with the code typed any way.
    let (status, again) = join(
        &server,
        &code.to_lowercase().replace('-', ""),
        "",
        Some(&learners[3].token),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], learners[3].id.as_str());
    assert_eq!(again["token"], learners[3].token.as_str());
    // The address's own limit is untouched: a visitor there still gets sessions.
    server.create_session("class").await.unwrap();

    // A learner passes the checked step; the instructor sees it.
    let mut term = server.prompt(&learners[0], "node1").await.unwrap();
    term.run("touch /root/done", T).await.unwrap();
    let check = format!("/api/v1/sessions/{}/steps/1/check", learners[0].id);
    let (status, body) = server
        .call("POST", &check, Some(&learners[0].token), None)
        .await;
    assert_eq!(
        (status, body["passed"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, detail) = server
        .call(
            "GET",
            &format!("/api/v1/workshops/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let rows = detail["learners"].as_array().unwrap();
    assert_eq!(rows.len(), 20);
    let ada = rows
        .iter()
        .find(|l| l["session"] == learners[0].id.as_str())
        .unwrap();
    assert_eq!(ada["name"], "learner 0");
    assert_eq!(ada["passed_steps"], json!([1]));
    let others_passed = rows
        .iter()
        .filter(|l| l["passed_steps"] != json!([]))
        .count();
    assert_eq!(others_passed, 1, "only she passed");
    assert_eq!(ada["connected"], 1);
    // The sessions table names the workshop and the learner.
    let (_, list) = server
        .call("GET", "/api/v1/admin/sessions", Some(&admin), None)
        .await;
    let row = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == learners[0].id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["progress"]["passed_steps"], json!([1]));
    assert_eq!(
        (row["workshop"].as_str(), row["learner"].as_str()),
        (Some(id.as_str()), Some("learner 0"))
    );

    // Ending the workshop ends its sessions and its code.
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/api/v1/workshops/{id}"),
                Some(&admin),
                None
            )
            .await
            .0,
        204
    );
    let (_, close) = term.events_until_closed(T).await.unwrap();
    let (close_code, reason) = close.expect("a close frame");
    assert_eq!(close_code, close_code::NORMAL);
    assert!(reason.contains("workshop has ended"), "{reason}");
    let (status, body) = join(&server, &code, "after", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, list) = server
        .call("GET", "/api/v1/admin/sessions", Some(&admin), None)
        .await;
    assert_eq!(
        list["sessions"].as_array().unwrap().len(),
        1,
        "the visitor's only"
    );
}

#[tokio::test]
async fn wrong_codes_are_limited_and_bad_requests_are_explained() {
    require_docker!();
    let server = Launch::default()
        .envs(&[("PLAYGROUND_WORKSHOP_JOIN_FAILURES_PER_MINUTE", "3")])
        .start()
        .await
        .unwrap();
    let admin = admin_token(&server);
    let workshop = open_workshop(&server, &admin, "shell", 2).await;
    let code = workshop["code"].as_str().unwrap();
    for bad in [
        r#"{"lesson":"nope","seats":2}"#,
        r#"{"lesson":"shell","seats":0}"#,
        r#"{"lesson":"shell","seats":2,"x":1}"#,
    ] {
        let (status, body) = server
            .call("POST", "/api/v1/workshops", Some(&admin), Some(bad))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = join(&server, code, "  ", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, _) = join(&server, code, "Ada", None).await;
    assert_eq!(status, 201);
    let (status, body) = join(&server, code, "ADA", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    // Wrong guesses: three, then 429 with Retry-After, even for the right code.
    for guess in ["AAAA-AAAA", "BBBB-BBBB", "not a code"] {
        assert_eq!(join(&server, guess, "Eve", None).await.0, 404);
    }
    let r = server
        .http
        .post(server.url(&format!("/api/v1/workshops/{code}/join")))
        .json(&json!({ "name": "Eve" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn an_instructor_watches_a_terminal_read_only_and_the_learner_is_told() {
    require_docker!();
    let server = Launch::default().start().await.unwrap();
    let admin = admin_token(&server);
    let learner = server.create_session("shell").await.unwrap();
    let mut term = server.prompt(&learner, "node1").await.unwrap();
    let url = server.ws_url(&format!(
        "/api/v1/sessions/{}/nodes/node1/terminal?watch=1&token={admin}",
        learner.id
    ));
    let mut watcher = playground_e2e::Term::connect(&url).await.unwrap();
    // The watcher gets the repaint: the prompt is there.
    watcher.wait_for("# ", T).await.unwrap();
    // The learner is told.
    let watchers = |events: &[TermEvent]| {
        events.iter().rev().find_map(|e| match e {
            TermEvent::Event(Event::Watchers { count }) => Some(*count),
            _ => None,
        })
    };
    let mut seen = Vec::new();
    while watchers(&seen) != Some(1) {
        let event = term.next(T).await.unwrap().expect("an event within 20 s");
        seen.push(event);
    }
    // What the learner types, the watcher sees.
    let out = term.run("echo watched-$((6*7))", T).await.unwrap();
    assert!(out.contains("watched-42"), "{out}");
    watcher.wait_for("watched-42", T).await.unwrap();
    // What the watcher types or resizes goes nowhere.
    watcher
        .type_text("touch /tmp/from-watcher\r")
        .await
        .unwrap();
    watcher.resize(20, 5).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = term
        .run("ls /tmp/from-watcher 2>&1; stty size", T)
        .await
        .unwrap();
    assert!(out.contains("No such file"), "{out}");
    assert!(!out.contains("5 20"), "the learner's size is kept: {out}");
    // A learner connecting later is told at once.
    let mut second = server.terminal(&learner, "node1").await.unwrap();
    let mut first_events = Vec::new();
    while watchers(&first_events).is_none() {
        first_events.push(second.next(T).await.unwrap().expect("an event"));
    }
    assert_eq!(watchers(&first_events), Some(1));
    second.close().await;
    // The watcher leaves: the learner is told 0.
    watcher.close().await;
    let mut seen = Vec::new();
    while watchers(&seen) != Some(0) {
        seen.push(term.next(T).await.unwrap().expect("an event within 20 s"));
    }
    // The admin list shows the connected learner and no watcher now. The
    // second learner's close travels on its own socket, so the server may
    // count it a moment after the watcher's event: ask until it settles.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (_, list) = server
            .call("GET", "/api/v1/admin/sessions", Some(&admin), None)
            .await;
        let (connected, watching) = (
            list["sessions"][0]["connected"].clone(),
            list["sessions"][0]["watchers"].clone(),
        );
        if connected == 1 && watching == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the admin list still shows {connected} connected, {watching} watching: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_admin_commands_list_and_end_sessions_of_a_running_server() {
    require_docker!();
    let server = Launch::default().start().await.unwrap();
    let learner = server.create_session("shell").await.unwrap();
    let token_file = server.admin_token_file();
    let admin = |args: &[&str], token_file: &std::path::Path| {
        let out = std::process::Command::new(server_binary(Profile::Debug))
            .arg("admin")
            .args(args)
            .arg("--url")
            .arg(server.url(""))
            .arg("--token-file")
            .arg(token_file)
            .output()
            .expect("running sandbox-server admin");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = admin(&["sessions"], &token_file);
    assert!(ok, "{err}");
    assert!(out.contains(&learner.id), "{out}");
    assert!(out.contains("1 live session(s)"), "{out}");
    let (ok, out, err) = admin(&["sessions", "--json"], &token_file);
    assert!(ok, "{err}");
    let parsed: protocol::admin::AdminSessions = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed.sessions[0].id, learner.id);
    // The lesson's step count, so the finish page is told from the last step
    // ("shell" is a free terminal: no steps, so the table shows the step alone).
    let (status, lesson) = server
        .call("GET", "/api/v1/lessons/shell", None, None)
        .await;
    assert_eq!(status, 200);
    let steps = lesson["steps"].as_array().map_or(0, Vec::len);
    assert_eq!(parsed.sessions[0].steps, steps, "{out}");
    let (_, table, _) = admin(&["sessions"], &token_file);
    let step = if steps == 0 {
        " 1 ".to_owned()
    } else {
        format!(" 1/{steps} ")
    };
    assert!(table.contains(&step), "{table}");
    // A wrong token is refused and says what to check.
    let wrong = server.data_dir.join("wrong-token");
    std::fs::write(&wrong, "a-wrong-but-long-enough-token\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (ok, _, err) = admin(&["sessions"], &wrong);
    assert!(!ok);
    assert!(
        err.contains("403") && err.contains("admin_token_file"),
        "{err}"
    );
    let (ok, out, err) = admin(&["end", &learner.id], &token_file);
    assert!(ok, "{err}");
    assert!(out.contains("ended"), "{out}");
    let (status, _) = server
        .call(
            "GET",
            &format!("/api/v1/sessions/{}", learner.id),
            Some(&learner.token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (ok, _, err) = admin(&["end", &learner.id], &token_file);
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
}
