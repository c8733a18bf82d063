//! Loading lessons from the fixtures in `tests/fixtures/lessons`: the native
//! format, both importers, published labs in their own formats
//! (`published/`: play-with-docker posts and Killercoda scenarios written for
//! these tests, under a `playground.toml`), and broken lessons with the exact
//! messages `sandbox-server lesson check` prints.

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
    // The intro's background script runs as the learner reaches step 1,
    // step 2's as they reach step 2; no node has a setup script.
    assert!(l.nodes.iter().all(|n| n.setup.is_none()));
    let background = |n: usize| -> Vec<(&str, &str)> {
        l.steps[n]
            .on_enter
            .background
            .iter()
            .map(|s| (s.node.as_str(), s.script.body.trim()))
            .collect()
    };
    assert_eq!(background(0), vec![("node1", "mkdir -p /root/site")]);
    assert_eq!(background(1), vec![("node1", "sleep 1")]);
    assert!(l.steps.iter().all(|s| s.on_enter.typed.is_empty()));
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

/// Published labs, as their authors wrote them: `published/` holds a Jekyll
/// site of play-with-docker posts (`.markdown` and `.md`, some to read only;
/// its `about.md` page is no lab) and Killercoda scenarios (two hosts, a
/// course directory), under a `playground.toml` that names their node image.
/// Written for these tests.
#[test]
fn published_labs_load_as_they_are_and_what_is_not_mapped_is_warned_about() {
    let report = load("published");
    assert_eq!(report.found, 5);
    assert_eq!(report.diagnostics.errors(), 0, "{:#?}", report.diagnostics);
    assert_eq!(
        messages(&report, "published"),
        vec![
            "killercoda/course/k8s-lab/index.json:10: warning: backend \"kubernetes-kubeadm-2nodes\" is not available here; its 2 node(s) run \"dind\" (a Docker host, nothing more)",
            "killercoda/two-hosts/index.json:6: warning: index.json key \"files\" is not supported; ignored",
            "killercoda/two-hosts/index.json:34: warning: asset assets/gone.txt is not in the scenario; not copied",
            "pwd-site/_posts/2023-02-01-first-containers.markdown:10: warning: front matter key \"comments\" is not supported; ignored",
            "pwd-site/_posts/2023-02-01-first-containers.markdown:17: warning: embedded frame (https://video.example/embed/abc) cannot be shown here; it becomes a link",
            "pwd-site/_posts/2023-02-01-first-containers.markdown:35: warning: block for terminal 3, but the post has 2 terminal(s) (terms: 2); it becomes copy-only",
            "pwd-site/_posts/2023-03-09-reading-list.md: warning: lesson id \"reading-list\" is already used at pwd-site/_posts/2023-02-02-reading-list.md; this one is \"2023-03-09-reading-list\"",
        ]
    );
}

#[test]
fn a_markdown_post_gets_its_terminals_links_and_the_directorys_image() {
    let report = load("published");
    let l = lesson(&report, "first-containers");
    assert_eq!(l.summary.title, "Containers on two hosts");
    assert_eq!(l.summary.difficulty, "beginner");
    // `image: franela/dind` was play-with-docker's own: the directory's node image instead.
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert!(l.nodes.iter().all(|n| n.image == "lab/docker-host:1"));
    // Anchors are dropped from headings; HTML links and frames become Markdown.
    let titles: Vec<&str> = l.steps.iter().map(|s| s.view.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Before you start",
            "Task 1: Look around",
            "Task 2: A third host"
        ]
    );
    let first = &l.steps[0].view.markdown;
    assert!(
        first.contains("The [Docker documentation](https://docs.docker.com/) has more."),
        "{first}"
    );
    assert!(first.contains("[embedded content](https://video.example/embed/abc)"));
    // Blocks indented inside list items run too, on their terminal's node.
    let blocks: Vec<(&str, &str)> = l.steps[1]
        .text_blocks
        .iter()
        .map(|b| (b.node.as_str(), b.code.trim()))
        .collect();
    assert_eq!(blocks, vec![("node1", "brctl show"), ("node2", "hostname")]);
    // A terminal the post does not have: copy-only.
    assert!(l.steps[2].text_blocks.is_empty());
    assert!(l.steps[2].view.markdown.starts_with("```sh copy\n"));
}

#[test]
fn a_post_with_no_terminals_is_a_lesson_to_read_with_no_nodes() {
    let report = load("published");
    let l = lesson(&report, "reading-list");
    assert!(l.nodes.is_empty() && l.summary.nodes.is_empty());
    assert_eq!(l.steps.len(), 1);
    assert!(l.steps[0].view.markdown.contains("Pick the next lab"));
    // A second post of the same name, another day: its dated name.
    let later = lesson(&report, "2023-03-09-reading-list");
    assert_eq!(later.summary.title, "Where to go next, spring edition");
}

#[test]
fn a_killercoda_scenario_maps_hosts_assets_scripts_verify_folds_and_answers() {
    let report = load("published");
    let l = lesson(&report, "two-hosts");
    assert_eq!(l.summary.title, "Ping between two hosts");
    assert_eq!(l.summary.minutes, 15);
    // host02 (assets, {{execute HOST2}}) is node2; `ubuntu` is a Docker host.
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert!(l.nodes.iter().all(|n| n.image == "lab/docker-host:1"));
    // The intro's scripts run as the learner reaches step 1 (the session
    // starts): its background unseen, its foreground typed into node1's
    // terminal. Step 2's background runs as they reach step 2.
    assert!(l.nodes.iter().all(|n| n.setup.is_none()));
    let first = &l.steps[0].on_enter;
    assert_eq!(first.background.len(), 1);
    assert_eq!(first.background[0].node, "node1");
    assert_eq!(
        first.background[0].script.body.trim(),
        "mkdir -p /root/notes"
    );
    assert_eq!(first.typed.len(), 1);
    assert_eq!(first.typed[0].node, "node1");
    assert_eq!(first.typed[0].code.trim(), "echo \"hosts ready\"");
    let second = &l.steps[1].on_enter;
    assert_eq!(
        second.background[0].script.body.trim(),
        "touch /root/notes/step2-started"
    );
    assert!(second.typed.is_empty() && l.finish_on_enter.is_empty());
    // A fold on the intro page stays in place; credits are linked.
    assert!(l
        .intro
        .contains("**Why two hosts?**\n\nBecause one host cannot ping"));
    assert!(l
        .intro
        .ends_with("Credits: <https://example.org/fixture-author>"));
    assert_eq!(l.finish, "Both hosts answered each other.");
    // Assets per host: globs, `**` keeps the tree, symbolic and octal modes; gone.txt is missing.
    let assets: Vec<(&str, &str, u32)> = l
        .assets
        .iter()
        .map(|a| (a.node.as_str(), a.path.as_str(), a.mode))
        .collect();
    assert_eq!(
        assets,
        vec![
            ("node1", "/usr/local/bin/greet.sh", 0o755),
            ("node1", "/usr/local/bin/helper.sh", 0o755),
            ("node1", "/root/conf/app/settings.toml", 0o644),
            ("node1", "/root/conf/top.conf", 0o644),
            ("node2", "/etc/motd.txt", 0o600),
        ]
    );

    let s1 = &l.steps[0];
    assert_eq!(s1.view.title, "Name the hosts");
    let check = s1.check.as_ref().unwrap();
    assert_eq!(check.node, "node1");
    assert!(check.script.body.contains("/root/notes/name.txt"));
    let nodes: Vec<&str> = s1.text_blocks.iter().map(|b| b.node.as_str()).collect();
    assert_eq!(nodes, vec!["node1", "node2", "node1"]);
    // <details> folds: the tip is the hint, the solution the solution (runnable).
    assert!(s1
        .view
        .hint
        .as_deref()
        .unwrap()
        .contains("`hostname` prints the name"));
    assert!(
        !s1.view.markdown.contains("details"),
        "{}",
        s1.view.markdown
    );
    assert!(!s1.view.markdown.contains("<br>"), "{}", s1.view.markdown);
    assert_eq!(s1.solution_blocks.len(), 1);
    assert_eq!(
        s1.solution()[0].code.trim(),
        "hostname > /root/notes/name.txt"
    );

    // Katacoda's answer file is the step's solution; traffic links are previews.
    let s2 = &l.steps[1];
    assert!(!s2.view.has_check);
    assert_eq!(s2.solution()[0].code.trim(), "ping -c 3 node2");
    assert!(s2.view.markdown.contains("[port 8080](preview:node2:8080)"));
}

#[test]
fn a_course_directory_is_searched_and_its_settings_override_the_parents() {
    let report = load("published");
    let l = lesson(&report, "k8s-lab");
    // `kubernetes-kubeadm-2nodes`: two nodes, on the course's image (warned above).
    assert_eq!(l.summary.nodes, vec!["node1", "node2"]);
    assert!(l.nodes.iter().all(|n| n.image == "dind"));
}

#[test]
fn broken_settings_keep_the_lessons_below_them_out() {
    let report = load("bad-settings");
    assert_eq!(report.found, 0);
    assert_eq!(
        messages(&report, "bad-settings"),
        vec!["playground.toml:2: unknown field `image`, expected `node_image`"]
    );
}

#[test]
fn a_native_lesson_still_needs_nodes() {
    let dir = std::env::temp_dir().join(format!("pg-no-nodes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    std::fs::write(
        dir.join("lesson.toml"),
        "id = \"empty\"\ntitle = \"Empty\"\nnodes = []\n",
    )
    .unwrap();
    std::fs::write(dir.join("steps/01-a.md"), "# A\n\nText.\n").unwrap();
    let report = load_dirs(std::slice::from_ref(&dir));
    let got: Vec<String> = report
        .diagnostics
        .items
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        got,
        vec![format!(
            "{}: the lesson has no nodes (add a [[nodes]] table)",
            dir.join("lesson.toml:3").display()
        )]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_check_summary_prints_one_line_per_lesson_and_the_totals() {
    let bin = env!("CARGO_BIN_EXE_sandbox-server");
    let out = std::process::Command::new(bin)
        .args(["lesson", "check", "--summary"])
        .arg(fixtures("published"))
        .arg(fixtures("broken"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let root = format!(
        "{}/",
        fixtures("").display().to_string().trim_end_matches('/')
    );
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&root, "");
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        vec![
            "loaded k8s-lab 0 error(s), 1 warning(s) published/killercoda/course/k8s-lab",
            "loaded two-hosts 0 error(s), 2 warning(s) published/killercoda/two-hosts",
            "loaded first-containers 0 error(s), 3 warning(s) published/pwd-site/_posts/2023-02-01-first-containers.markdown",
            "loaded reading-list 0 error(s), 0 warning(s) published/pwd-site/_posts/2023-02-02-reading-list.md",
            "loaded 2023-03-09-reading-list 0 error(s), 1 warning(s) published/pwd-site/_posts/2023-03-09-reading-list.md",
            "FAILED bad-refs 9 error(s), 0 warning(s) broken/bad-refs",
            "FAILED ? 1 error(s), 0 warning(s) broken/bad-toml",
            "loaded same-id 0 error(s), 0 warning(s) broken/dup-a",
            "FAILED same-id 1 error(s), 0 warning(s) broken/dup-b",
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("9 lesson(s) found, 6 valid; 11 error(s), 7 warning(s)"),
        "{stderr}"
    );
}

/// play-with-docker prose the importer maps onto blocks (import/prose.rs):
/// "type `exit`" after an interactive block becomes an `exit` block on its
/// node, an announced error marks the next block `fails`, and what cannot
/// be mapped is a warning. The fixture post is written for this test.
#[test]
fn pwd_prose_becomes_exit_blocks_and_expected_failures() {
    let report = load("pwd-prose");
    assert_eq!(report.diagnostics.errors(), 0, "{:#?}", report.diagnostics);
    let l = lesson(&report, "shells-and-errors");
    let blocks = |step: usize| -> Vec<(String, String, bool)> {
        l.steps[step]
            .text_blocks
            .iter()
            .map(|b| (b.node.clone(), b.code.clone(), b.fails))
            .collect()
    };
    let b = |node: &str, code: &str, fails: bool| (node.to_owned(), code.to_owned(), fails);
    assert_eq!(
        blocks(0),
        vec![
            b("node1", "docker run -it --rm busybox sh", false),
            b("node1", "exit", false),
            b("node1", "docker ps -a", false),
        ]
    );
    assert_eq!(
        blocks(1),
        vec![
            b(
                "node2",
                "docker container run --interactive --tty --rm alpine ash",
                false
            ),
            b("node2", "exit", false),
            b("node1", "docker run -ti busybox", false),
            b("node1", "exit", false),
        ]
    );
    assert_eq!(blocks(2), vec![b("node2", "docker node ls", true)]);
    assert_eq!(
        messages(&report, "pwd-prose"),
        vec![
            "_posts/2024-05-01-shells-and-errors.markdown:55: warning: this paragraph says a command gives an error, but no runnable block follows it: nothing is marked `fails`",
            "_posts/2024-05-01-shells-and-errors.markdown:57: warning: this paragraph asks to leave a program, but no runnable block before it starts an interactive one: no `exit` block is added",
        ]
    );
}
