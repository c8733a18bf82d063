//! Loading lessons from the fixtures in `tests/fixtures/lessons`: the native
//! format, both importers, and broken lessons with the exact messages
//! `sandbox-server lesson check` prints.

use std::path::{Path, PathBuf};

use sandbox_server::lessons::loader::{load_dirs, LoadReport};
use sandbox_server::lessons::Lesson;
use sandbox_server::runtime::NodeLimits;

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lessons")
        .join(sub)
}

fn load(sub: &str) -> LoadReport {
    load_dirs(&[fixtures(sub)])
}

fn lesson<'a>(report: &'a LoadReport, id: &str) -> &'a Lesson {
    report
        .lessons
        .iter()
        .find(|l| l.summary.id == id)
        .unwrap_or_else(|| panic!("no lesson {id}: {:#?}", report.diagnostics))
}

/// Diagnostics as printed, with the fixture root cut off.
fn messages(report: &LoadReport, sub: &str) -> Vec<String> {
    let root = format!("{}/", fixtures(sub).display());
    report
        .diagnostics
        .items
        .iter()
        .map(|d| d.to_string().replace(&root, ""))
        .collect()
}

#[test]
fn good_fixtures_load_without_errors() {
    let report = load("good");
    assert_eq!(report.found, 4);
    assert_eq!(report.diagnostics.errors(), 0, "{:#?}", report.diagnostics);
    let ids: Vec<&str> = report
        .lessons
        .iter()
        .map(|l| l.summary.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["hello-web", "katacoda-web", "native-hello", "swarm-intro"]
    );
}

#[test]
fn native_lesson() {
    let report = load("good");
    let l = lesson(&report, "native-hello");
    assert_eq!(l.summary.title, "Hello, files");
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert_eq!(l.summary.difficulty, "beginner");
    assert_eq!(l.summary.minutes, 5);
    assert_eq!(
        l.intro,
        "Two nodes: `node1` has a greeting in `/srv`, `node2` is empty."
    );
    assert_eq!(
        l.nodes[0].setup.as_ref().unwrap().body.trim(),
        "mkdir -p /srv/www"
    );
    assert_eq!(l.nodes[1].image, "base");
    let defaults = NodeLimits {
        memory_bytes: 512 << 20,
        nano_cpus: 1_000_000_000,
        pids: 512,
    };
    assert_eq!(l.nodes[0].limits(&defaults), defaults);
    assert_eq!(
        l.nodes[1].limits(&defaults),
        NodeLimits {
            memory_bytes: 256 << 20,
            nano_cpus: 500_000_000,
            pids: 100,
        }
    );
    assert_eq!(l.assets.len(), 1);
    assert_eq!(l.assets[0].path, "/srv/greeting.txt");
    assert_eq!(l.assets[0].mode, 0o640);
    assert_eq!(l.assets[0].content, b"hello from the fixture\n");

    let s1 = &l.steps[0];
    assert_eq!(s1.view.title, "Make a file");
    assert!(s1.view.has_check);
    assert!(!s1.view.markdown.contains("check="), "{}", s1.view.markdown);
    assert_eq!(s1.view.hint.as_deref(), Some("`cp` copies files."));
    assert_eq!(s1.check.as_ref().unwrap().script.timeout_secs, 5);
    assert_eq!(s1.solution().len(), 1);

    let s2 = &l.steps[1];
    assert_eq!(s2.view.title, "Serve it");
    let check = s2.check.as_ref().unwrap();
    assert_eq!(
        (check.node.as_str(), check.script.timeout_secs),
        ("node2", 10)
    );
    assert!(check.script.body.contains("curl"));
    // The text has a long-running block and an interrupt; the solution section wins.
    assert_eq!(s2.text_blocks.len(), 2);
    assert!(s2.text_blocks[1].interrupt);
    assert_eq!(s2.solution().len(), 1);
    assert!(s2.solution()[0].code.contains("busybox httpd"));
    assert!(s2.view.markdown.contains("```sh copy"));
    assert!(s2.view.markdown.contains("(preview:node1:8000/index.html)"));
    assert!(s2
        .view
        .solution
        .as_deref()
        .unwrap()
        .contains("busybox httpd"));

    let detail = l.detail();
    assert_eq!(detail.steps.len(), 2);
    let json = serde_json::to_value(&detail).unwrap();
    assert_eq!(json["id"], "native-hello");
    assert_eq!(json["steps"][1]["has_check"], true);
}

#[test]
fn katacoda_scenario_is_converted() {
    let report = load("good");
    let l = lesson(&report, "katacoda-web");
    assert_eq!(l.summary.title, "A tiny web server");
    assert_eq!(l.summary.difficulty, "beginner");
    assert_eq!(l.summary.minutes, 10);
    // HOST2 and TRAFFIC_HOST2 make a second node; "ubuntu" has Docker, so dind.
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert!(l.nodes.iter().all(|n| n.image == "dind"));
    assert_eq!(
        l.nodes[0].setup.as_ref().unwrap().body.trim(),
        "mkdir -p /root/site"
    );
    assert_eq!(
        l.intro,
        "# Welcome\n\nIn this scenario you write a page and serve it."
    );
    assert_eq!(l.finish, "Done: you served a page.");
    // Only *.sh assets, executable, under ~/bin.
    assert_eq!(l.assets.len(), 1);
    assert_eq!(l.assets[0].path, "/root/bin/serve.sh");
    assert_eq!(l.assets[0].mode, 0o755);

    let s1 = &l.steps[0];
    assert_eq!(s1.view.title, "Write a page");
    assert_eq!(
        s1.view.markdown,
        "Write a page:\n\n```sh run=node1\necho '<h1>hi</h1>' > /root/site/index.html\n```\n\nCheck what you wrote with\n```sh run=node1\ncat /root/site/index.html\n```\n.\n\n```sh copy\nls -l /root/site\n```"
    );
    assert!(s1.check.as_ref().unwrap().script.body.contains("<h1>"));

    let s2 = &l.steps[1];
    assert!(!s2.view.has_check);
    assert!(s2.view.markdown.contains("```sh run=node2\ncd /root/site"));
    assert!(s2
        .view
        .markdown
        .contains("```sh run=node2 interrupt\necho done\n```"));
    assert!(s2
        .view
        .markdown
        .contains("[the site](preview:node2:80/index.html)"));
    assert!(s2.view.markdown.contains("was\npreview:node2:80/ too."));

    let warnings = messages(&report, "good");
    for expected in [
        "katacoda-web/step1/text.md:5: warning: terminal target T2: Katacoda's extra terminals share one machine; here every node has one terminal, so it runs in node1",
        "katacoda-web/step2/text.md:12: warning: placeholder {{HOST_IP}} has no equivalent here; left as is",
        "katacoda-web/index.json:20: warning: step 2: background scripts of later steps are not run (the playground runs setup scripts only when nodes start)",
    ] {
        assert!(warnings.iter().any(|w| w == expected), "missing {expected:?} in {warnings:#?}");
    }
}

#[test]
fn pwd_post_is_converted() {
    let report = load("good");
    let l = lesson(&report, "swarm-intro");
    assert_eq!(l.summary.title, "Swarm in two nodes");
    assert_eq!(
        l.summary.summary,
        "Make a swarm of two nodes and run a service."
    );
    assert_eq!(l.summary.tags, vec!["swarm", "networking"]);
    assert_eq!(l.summary.difficulty, "beginner");
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert_eq!(l.intro, "A swarm needs a manager and a worker.");
    let titles: Vec<&str> = l.steps.iter().map(|s| s.view.title.as_str()).collect();
    assert_eq!(titles, vec!["Initialise", "Join", "Run a service"]);
    assert_eq!(l.steps[0].text_blocks[0].node, "node1");
    assert_eq!(l.steps[1].text_blocks[0].node, "node2");
    // The join command node1 printed, carried to node2 (import/carry.rs).
    assert_eq!(l.steps[1].text_blocks[0].code, "{{SWARM_JOIN}}");
    assert_eq!(
        l.steps[0].text_blocks[0]
            .capture
            .as_ref()
            .map(|c| c.name.as_str()),
        Some("SWARM_JOIN")
    );
    let last = &l.steps[2].view.markdown;
    assert!(last.contains("[open it](preview:node1:80)"), "{last}");
    assert!(
        last.contains("[open the docs](preview:node2:8080/docs)"),
        "{last}"
    );
    let warnings = messages(&report, "good");
    assert!(warnings.contains(
        &"pwd-posts/2024-03-01-swarm-intro.md:10: warning: front matter key \"comments\" is not supported; ignored".to_string()
    ));
    assert!(warnings.contains(
        &"pwd-posts/2024-03-01-swarm-intro.md:41: warning: Jekyll/Liquid tag has no equivalent here; left as is".to_string()
    ));
}

#[test]
fn broken_lessons_are_refused_with_every_problem() {
    let report = load("broken");
    assert_eq!(report.found, 4);
    // Only the first of the two lessons sharing an id is served.
    let ids: Vec<&str> = report
        .lessons
        .iter()
        .map(|l| l.summary.id.as_str())
        .collect();
    assert_eq!(ids, vec!["same-id"]);
    assert_eq!(report.lessons[0].summary.title, "First");
    assert_eq!(
        messages(&report, "broken"),
        vec![
            "bad-refs/lesson.toml:3: difficulty \"easy\": expected beginner, intermediate or advanced",
            "bad-refs/lesson.toml:7: setup script setup.sh not found",
            "bad-refs/lesson.toml:11: unknown node \"node3\" (nodes: node1)",
            "bad-refs/lesson.toml:10: asset missing.txt not found",
            "bad-refs/lesson.toml:16: check script checks/none.sh not found",
            "bad-refs/lesson.toml:19: step file steps/02-missing.md not found",
            "bad-refs/steps/01-ok.md:3: run= names unknown node \"node2\" (nodes: node1)",
            "bad-refs/steps/01-ok.md:7: preview:node1:http: expected preview:NODE:PORT/path with a port from 1 to 65535",
            "bad-refs/steps/01-ok.md:9: code block is never closed (add a line with ```)",
            "bad-toml/lesson.toml:6: invalid basic string, expected `\"`",
            "dup-b/lesson.toml:1: duplicate lesson id \"same-id\": already used at dup-a/lesson.toml:1",
        ]
    );
}

#[test]
fn a_single_lesson_directory_loads_too() {
    let report = load_dirs(&[fixtures("good/native-hello")]);
    assert_eq!(report.lessons.len(), 1);
    let report = load_dirs(&[fixtures("does-not-exist")]);
    assert_eq!(report.diagnostics.errors(), 1);
}

#[test]
fn cli_check_prints_problems_and_exits_non_zero() {
    let bin = env!("CARGO_BIN_EXE_sandbox-server");
    let out = std::process::Command::new(bin)
        .args(["lesson", "check"])
        .arg(fixtures("broken"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 11, "{stdout}");
    assert!(stdout.contains("bad-toml/lesson.toml:6: invalid basic string"));
    let out = std::process::Command::new(bin)
        .args(["lesson", "check"])
        .arg(fixtures("good"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The complete example in docs/lessons.md is the `hello-web` fixture, file for file.
#[test]
fn docs_example_is_the_hello_web_fixture() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lessons.md"))
            .unwrap();
    let mut compared = 0;
    let mut rest = docs.as_str();
    while let Some(p) = rest.find("`lessons/hello-web/") {
        let after = &rest[p + "`lessons/hello-web/".len()..];
        let name_end = after.find('`').unwrap();
        let name = &after[..name_end];
        let block = after[name_end..].strip_prefix("`:\n\n");
        rest = &after[name_end..];
        let Some(block) = block else { continue };
        let fence_len = block.chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(fence_len);
        let body_start = block.find('\n').unwrap() + 1;
        let body_end = block[body_start..].find(&format!("\n{fence}\n")).unwrap();
        let body = format!("{}\n", &block[body_start..body_start + body_end]);
        let file = fixtures("good/hello-web").join(name);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            body,
            "{} differs from docs/lessons.md",
            file.display()
        );
        compared += 1;
    }
    assert_eq!(compared, 4);
}
