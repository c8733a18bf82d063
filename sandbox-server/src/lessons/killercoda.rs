//! Importer for Killercoda (and older Katacoda) scenarios: a directory with
//! `index.json` and the Markdown and scripts it names. Converts to the step
//! dialect: `{{exec}}`/`{{execute}}` (with `interrupt`, `HOSTn` and `Tn`
//! targets) become runnable blocks, `{{copy}}` copy-only blocks, and the
//! traffic placeholders (`{{TRAFFIC_HOST1_80}}`, Katacoda's
//! `https://[[HOST_SUBDOMAIN]]-80-[[KATACODA_HOST]]...`) preview links.
//! Whatever has no equivalent is reported as a warning.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::diag::{line_containing, Diagnostics};
use super::loader::{Draft, DraftStep};
use super::markdown::{fence_open, read_relative, Source};
use super::native::read_asset;
use super::{
    Asset, Check, LessonNode, Resources, Script, DEFAULT_CHECK_TIMEOUT_SECS,
    DEFAULT_SETUP_TIMEOUT_SECS,
};

#[derive(Deserialize, Default)]
struct Index {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    difficulty: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    details: Details,
    #[serde(default)]
    backend: Option<Backend>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    intro: Page,
    #[serde(default)]
    steps: Vec<Page>,
    #[serde(default)]
    finish: Page,
    #[serde(default)]
    assets: BTreeMap<String, Vec<AssetJson>>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// The intro, a step or the finish page.
#[derive(Deserialize, Default)]
struct Page {
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    verify: Option<String>,
    /// Katacoda called it `courseData`.
    #[serde(default, alias = "courseData")]
    background: Option<String>,
    /// Katacoda called it `code`.
    #[serde(default, alias = "code")]
    foreground: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Backend {
    #[serde(default)]
    imageid: String,
}

#[derive(Deserialize)]
struct AssetJson {
    file: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    chmod: Option<String>,
}

/// Keys that only style the original site; dropping them loses nothing a learner needs.
const COSMETIC_KEYS: &[&str] = &[
    "icon",
    "type",
    "pathwayTitle",
    "private",
    "author",
    "interface",
    "environment",
    "uilayout",
];

/// Loads the scenario in `dir`.
pub fn load(dir: &Path, diags: &mut Diagnostics) -> Option<Draft> {
    let file = dir.join("index.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            diags.error(&file, 0, format!("cannot read: {e}"));
            return None;
        }
    };
    let index: Index = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            diags.error(&file, e.line(), format!("invalid index.json: {e}"));
            return None;
        }
    };
    let line = |needle: &str| line_containing(&text, needle);
    let mut draft = Draft {
        dir: dir.to_owned(),
        id_at: (file.clone(), 0),
        ..Default::default()
    };
    draft.summary.id = id_from_dir(dir);
    draft.summary.title = if index.title.is_empty() {
        diags.warn(&file, 0, "no title; using the directory name");
        draft.summary.id.clone()
    } else {
        index.title.clone()
    };
    draft.summary.summary = index.description.clone();
    draft.summary.difficulty = match index.difficulty.to_ascii_lowercase().as_str() {
        d @ ("beginner" | "intermediate" | "advanced") => d.to_owned(),
        "" => String::new(),
        other => {
            diags.warn(
                &file,
                line("\"difficulty\""),
                format!("difficulty {other:?} is not beginner, intermediate or advanced; left out"),
            );
            String::new()
        }
    };
    draft.summary.minutes = index
        .time
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for key in index.other.keys().chain(index.details.other.keys()) {
        if !COSMETIC_KEYS.contains(&key.as_str()) {
            diags.warn(
                &file,
                line(&format!("\"{key}\"")),
                format!("index.json key {key:?} is not supported; ignored"),
            );
        }
    }
    let mut conv = Converter {
        dir,
        diags,
        max_node: 1,
        warned_terminals: false,
    };
    let read_page = |path: &str, conv: &mut Converter<'_>| -> Option<Source> {
        match read_relative(dir, path) {
            Ok(t) => Some(conv.convert(&dir.join(path), &t)),
            Err(m) => {
                conv.diags.error(
                    &file,
                    line(&format!("\"{path}\"")),
                    format!("text file {m}"),
                );
                None
            }
        }
    };
    let mut setup = String::new();
    let script = |path: &Option<String>, what: &str, conv: &mut Converter<'_>| -> Option<String> {
        let path = path.as_ref()?;
        match read_relative(dir, path) {
            Ok(t) => Some(t),
            Err(m) => {
                conv.diags.error(
                    &file,
                    line(&format!("\"{path}\"")),
                    format!("{what} script {m}"),
                );
                None
            }
        }
    };
    // Intro: its text, and its scripts run when the nodes start.
    let intro = &index.details.intro;
    draft.intro = intro.text.as_deref().and_then(|p| read_page(p, &mut conv));
    if let Some(s) = script(&intro.background, "background", &mut conv) {
        setup.push_str(&s);
        setup.push('\n');
    }
    if let Some(s) = script(&intro.foreground, "foreground", &mut conv) {
        conv.diags.warn(&file, line(&format!("\"{}\"", intro.foreground.as_deref().unwrap_or(""))),
            "the intro's foreground script runs as node1's setup script (not visibly in the terminal)");
        setup.push_str(&s);
        setup.push('\n');
    }
    for key in intro.other.keys() {
        conv.diags.warn(
            &file,
            line(&format!("\"{key}\"")),
            format!("intro key {key:?} is not supported; ignored"),
        );
    }
    for (n, step) in index.details.steps.iter().enumerate() {
        let Some(text_path) = &step.text else {
            conv.diags
                .error(&file, 0, format!("step {} has no \"text\" file", n + 1));
            continue;
        };
        let Some(source) = read_page(text_path, &mut conv) else {
            continue;
        };
        let check = script(&step.verify, "verify", &mut conv).map(|body| Check {
            node: "node1".into(),
            script: Script {
                body,
                timeout_secs: DEFAULT_CHECK_TIMEOUT_SECS,
            },
        });
        for (what, path) in [
            ("background", &step.background),
            ("foreground", &step.foreground),
        ] {
            let Some(body) = script(path, what, &mut conv) else {
                continue;
            };
            let at = line(&format!("\"{}\"", path.as_deref().unwrap_or("")));
            if n == 0 && intro.background.is_none() && intro.foreground.is_none() {
                conv.diags.warn(&file, at, format!("the first step's {what} script runs as node1's setup script when the nodes start"));
                setup.push_str(&body);
                setup.push('\n');
            } else {
                conv.diags.warn(&file, at, format!("step {}: {what} scripts of later steps are not run (the playground runs setup scripts only when nodes start)", n + 1));
            }
        }
        for key in step.other.keys() {
            conv.diags.warn(
                &file,
                line(&format!("\"{key}\"")),
                format!("step key {key:?} is not supported; ignored"),
            );
        }
        draft.steps.push(DraftStep {
            source,
            fallback_title: if step.title.is_empty() {
                format!("Step {}", n + 1)
            } else {
                step.title.clone()
            },
            check,
            solution_script: None,
        });
    }
    let finish = &index.details.finish;
    draft.finish = finish.text.as_deref().and_then(|p| read_page(p, &mut conv));
    if finish.background.is_some() || finish.foreground.is_some() {
        conv.diags.warn(
            &file,
            line("\"finish\""),
            "scripts of the finish page are not run",
        );
    }
    // Assets: files under assets/, copied into a directory of a host.
    for (host, list) in &index.details.assets {
        let Some(node) = host_node(host) else {
            conv.diags.warn(
                &file,
                line(&format!("\"{host}\"")),
                format!("assets for {host:?}: unknown host; not copied"),
            );
            continue;
        };
        conv.max_node = conv.max_node.max(node);
        for asset in list {
            let at = line(&format!("\"{}\"", asset.file));
            let mode = match asset.chmod.as_deref() {
                None | Some("") => 0o644,
                Some("+x") | Some("a+x") | Some("u+x") => 0o755,
                Some(m) => u32::from_str_radix(m, 8).unwrap_or_else(|_| {
                    conv.diags.warn(
                        &file,
                        at,
                        format!("chmod {m:?} is not understood; the file gets 0644"),
                    );
                    0o644
                }),
            };
            let mut target = asset.target.replace('~', "/root");
            if target.is_empty() {
                target = "/root".into();
            }
            if !target.starts_with('/') {
                target = format!("/root/{target}");
            }
            for name in expand(&dir.join("assets"), &asset.file) {
                match read_asset(&dir.join("assets"), &name) {
                    Ok(content) => draft.assets.push(Asset {
                        node: format!("node{node}"),
                        path: format!("{}/{}", target.trim_end_matches('/'), name),
                        mode,
                        content,
                    }),
                    Err(m) => conv.diags.error(&file, at, format!("asset assets/{m}")),
                }
            }
        }
    }
    // Nodes: as many as the backend has or the text targets.
    let image = index
        .backend
        .as_ref()
        .map(|b| b.imageid.as_str())
        .unwrap_or("");
    let backend_nodes = image
        .split('-')
        .find_map(|part| {
            part.strip_suffix("nodes")
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(1);
    let image_name = match image {
        "" => "base",
        i if i.contains("docker") || i.contains("ubuntu") => "dind",
        i => {
            conv.diags.warn(&file, line("\"imageid\""), format!("backend {i:?} is not available here; nodes run the dind image (Debian with Docker)"));
            "dind"
        }
    };
    let count = conv.max_node.max(backend_nodes);
    for n in 1..=count {
        draft.nodes.push(LessonNode {
            name: format!("node{n}"),
            image: image_name.into(),
            setup: (n == 1 && !setup.trim().is_empty()).then(|| Script {
                body: setup.clone(),
                timeout_secs: DEFAULT_SETUP_TIMEOUT_SECS,
            }),
            resources: Resources::default(),
        });
    }
    Some(draft)
}

/// `host01`, `HOST2`, `client` -> node number.
fn host_node(host: &str) -> Option<usize> {
    let lower = host.to_ascii_lowercase();
    if lower == "client" {
        return Some(1);
    }
    lower.strip_prefix("host")?.parse().ok().filter(|n| *n > 0)
}

/// File names in `dir` matching `pattern` (`*` wildcards, no sub-directories);
/// a pattern without `*` is returned as is (a missing file is reported by the reader).
fn expand(dir: &Path, pattern: &str) -> Vec<String> {
    if !pattern.contains('*') {
        return vec![pattern.to_owned()];
    }
    let (sub, name_pattern) = match pattern.rsplit_once('/') {
        Some((s, n)) => (Some(s), n),
        None => (None, pattern),
    };
    let base = sub.map_or(dir.to_owned(), |s| dir.join(s));
    let mut names: Vec<String> = std::fs::read_dir(&base)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| wildcard(name_pattern, n))
        .map(|n| match sub {
            Some(s) => format!("{s}/{n}"),
            None => n,
        })
        .collect();
    names.sort();
    names
}

fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i) && wildcard(tail, &name[head.len() + i..])
                })
        }
    }
}

fn id_from_dir(dir: &Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "scenario".into());
    let id: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    id.trim_start_matches(['-', '_', '.']).to_owned()
}

/// What an action suffix asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Exec { node: usize, interrupt: bool },
    Copy,
}

struct Converter<'a> {
    dir: &'a Path,
    diags: &'a mut Diagnostics,
    /// Highest node number the text targets.
    max_node: usize,
    warned_terminals: bool,
}

impl Converter<'_> {
    /// Converts one Markdown file of the scenario to the dialect, line for line.
    fn convert(&mut self, file: &Path, text: &str) -> Source {
        let _ = self.dir;
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Source {
            file: file.to_owned(),
            lines: Vec::new(),
        };
        let mut i = 0;
        while i < lines.len() {
            let n = i + 1;
            if let Some(fence) = fence_open(lines[i]) {
                let marker = fence.ch.to_string().repeat(fence.len);
                let mut j = i + 1;
                let mut action = None;
                while j < lines.len() {
                    let t = lines[j].trim_start();
                    let k = t.chars().take_while(|c| *c == fence.ch).count();
                    if k >= fence.len {
                        let rest = t[k..].trim();
                        if rest.is_empty() {
                            break;
                        }
                        if rest.starts_with("{{") {
                            action = self.action(rest, file, j + 1);
                            break;
                        }
                    }
                    j += 1;
                }
                let lang = fence.info.split_whitespace().next().unwrap_or("");
                let info = match action {
                    Some(Action::Exec { node, interrupt }) => format!(
                        "{} run=node{node}{}",
                        if lang.is_empty() { "sh" } else { lang },
                        if interrupt { " interrupt" } else { "" }
                    ),
                    Some(Action::Copy) => {
                        format!("{} copy", if lang.is_empty() { "sh" } else { lang })
                            .trim()
                            .to_owned()
                    }
                    None => fence.info.clone(),
                };
                out.push(n, format!("{marker}{info}").trim_end().to_owned());
                for (k, line) in lines
                    .iter()
                    .enumerate()
                    .take(j.min(lines.len()))
                    .skip(i + 1)
                {
                    if line.contains("{{") || line.contains("[[HOST") {
                        self.diags.warn(
                            file,
                            k + 1,
                            "placeholder inside a code block is not replaced",
                        );
                    }
                    out.push(k + 1, *line);
                }
                if j < lines.len() {
                    out.push(j + 1, marker);
                }
                i = j + 1;
                continue;
            }
            self.convert_line(file, n, lines[i], &mut out);
            i += 1;
        }
        out
    }

    /// Turns inline `` `cmd`{{exec}} `` into blocks and replaces placeholders.
    fn convert_line(&mut self, file: &Path, n: usize, line: &str, out: &mut Source) {
        let mut rest = line;
        let mut emitted_block = false;
        while let Some(p) = rest.find("`{{") {
            let Some(start) = rest[..p].rfind('`') else {
                break;
            };
            let Some(end) = rest[p..].find("}}").map(|e| p + e + 2) else {
                break;
            };
            let code = &rest[start + 1..p];
            let suffix = &rest[p + 1..end];
            let action = self.action(suffix, file, n);
            let before = &rest[..start];
            let before_trim = before.trim();
            let is_marker = before_trim.is_empty()
                || before_trim == "-"
                || before_trim == "*"
                || before_trim
                    .trim_end_matches('.')
                    .chars()
                    .all(|c| c.is_ascii_digit());
            match action {
                Some(a) => {
                    if !is_marker {
                        let text = self.placeholders(file, n, before.trim_end());
                        out.push(n, text);
                    }
                    let info = match a {
                        Action::Exec { node, interrupt } => {
                            format!(
                                "sh run=node{node}{}",
                                if interrupt { " interrupt" } else { "" }
                            )
                        }
                        Action::Copy => "sh copy".to_owned(),
                    };
                    out.push(n, format!("```{info}"));
                    out.push(n, code);
                    out.push(n, "```");
                    emitted_block = true;
                }
                None => {
                    // Not an action we know (`{{open}}` and friends): keep the code span.
                    let text = self.placeholders(file, n, &rest[..p + 1]);
                    out.push(n, text);
                }
            }
            rest = &rest[end..];
        }
        if !(emitted_block && rest.trim().is_empty()) {
            let text = self.placeholders(file, n, rest);
            out.push(n, text);
        }
    }

    /// Parses `{{exec interrupt T2}}`; warns about what it cannot map.
    fn action(&mut self, suffix: &str, file: &Path, n: usize) -> Option<Action> {
        let inner = suffix
            .trim()
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim();
        let mut words = inner.split_whitespace();
        let verb = words.next().unwrap_or("");
        match verb {
            "exec" | "execute" => {
                let mut node = 1;
                let mut interrupt = false;
                for w in words {
                    let lower = w.to_ascii_lowercase();
                    if lower == "interrupt" {
                        interrupt = true;
                    } else if let Some(h) = host_node(&lower) {
                        node = h;
                        self.max_node = self.max_node.max(h);
                    } else if lower
                        .strip_prefix('t')
                        .is_some_and(|t| t.parse::<usize>().is_ok())
                    {
                        if !self.warned_terminals {
                            self.diags.warn(file, n, format!(
                                "terminal target {w}: Katacoda's extra terminals share one machine; here every node has one terminal, so it runs in node1"
                            ));
                            self.warned_terminals = true;
                        }
                    } else {
                        self.diags.warn(
                            file,
                            n,
                            format!("{{{{{verb} {w}}}}}: {w:?} is not understood; ignored"),
                        );
                    }
                }
                Some(Action::Exec { node, interrupt })
            }
            "copy" => Some(Action::Copy),
            other => {
                self.diags.warn(
                    file,
                    n,
                    format!("{{{{{other}}}}} has no equivalent here; kept as plain code"),
                );
                None
            }
        }
    }

    /// Traffic placeholders to preview links; warns about the rest.
    fn placeholders(&mut self, file: &Path, n: usize, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        // Katacoda: https://[[HOST_SUBDOMAIN]]-80-[[KATACODA_HOST]].environments.katacoda.com/path
        while let Some(p) = rest.find("https://[[HOST") {
            out.push_str(&rest[..p]);
            let after = &rest[p + "https://[[HOST".len()..];
            let mapped = (|| {
                let (host, after) = after.split_once("_SUBDOMAIN]]-")?;
                let node = if host.is_empty() {
                    1
                } else {
                    host.parse().ok()?
                };
                let (port, after) = after.split_once("-[[KATACODA_HOST]]")?;
                let port: u16 = port.parse().ok()?;
                let after = after
                    .strip_prefix(".environments.katacoda.com")
                    .unwrap_or(after);
                Some((node, port, after))
            })();
            match mapped {
                Some((node, port, after)) => {
                    self.max_node = self.max_node.max(node);
                    out.push_str(&format!("preview:node{node}:{port}"));
                    rest = after;
                }
                None => {
                    out.push_str("https://[[HOST");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(p) = rest.find("{{") {
            result.push_str(&rest[..p]);
            let Some(e) = rest[p..].find("}}") else {
                result.push_str(&rest[p..]);
                rest = "";
                break;
            };
            let name = &rest[p + 2..p + e];
            let mapped = name
                .strip_prefix("TRAFFIC_HOST")
                .and_then(|r| r.split_once('_'))
                .and_then(|(h, port)| Some((h.parse::<usize>().ok()?, port.parse::<u16>().ok()?)));
            match mapped {
                Some((node, port)) => {
                    self.max_node = self.max_node.max(node);
                    result.push_str(&format!("preview:node{node}:{port}"));
                }
                None => {
                    self.diags.warn(
                        file,
                        n,
                        format!("placeholder {{{{{name}}}}} has no equivalent here; left as is"),
                    );
                    result.push_str(&rest[p..p + e + 2]);
                }
            }
            rest = &rest[p + e + 2..];
        }
        result.push_str(rest);
        if result.contains("[[") && result.contains("]]") {
            self.diags.warn(
                file,
                n,
                "Katacoda [[...]] placeholder has no equivalent here; left as is",
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> (Vec<String>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let mut conv = Converter {
            dir: Path::new("."),
            diags: &mut diags,
            max_node: 1,
            warned_terminals: false,
        };
        let src = conv.convert(Path::new("t.md"), text);
        (src.lines.into_iter().map(|(_, l)| l).collect(), diags)
    }

    #[test]
    fn inline_and_fenced_actions() {
        let (lines, diags) = convert(
            "Run `ls -l`{{exec}} now.\n\n```\ntop\n```{{exec}}\n\n`q`{{execute interrupt HOST2}}\n\n`echo x`{{copy}}",
        );
        assert_eq!(
            lines,
            vec![
                "Run",
                "```sh run=node1",
                "ls -l",
                "```",
                " now.",
                "",
                "```sh run=node1",
                "top",
                "```",
                "",
                "```sh run=node2 interrupt",
                "q",
                "```",
                "",
                "```sh copy",
                "echo x",
                "```",
            ]
        );
        assert!(diags.items.is_empty(), "{:?}", diags.items);
    }

    #[test]
    fn traffic_placeholders_become_preview_links() {
        let (lines, diags) = convert(
            "[app]({{TRAFFIC_HOST1_8080}}/x) and https://[[HOST2_SUBDOMAIN]]-80-[[KATACODA_HOST]].environments.katacoda.com/y {{TRAFFIC_SELECTOR}}",
        );
        assert_eq!(
            lines,
            vec!["[app](preview:node1:8080/x) and preview:node2:80/y {{TRAFFIC_SELECTOR}}"]
        );
        assert_eq!(diags.warnings(), 1);
        assert!(diags.items[0].message.contains("TRAFFIC_SELECTOR"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "a.sh"));
        assert!(wildcard("*.sh", "a.sh"));
        assert!(!wildcard("*.sh", "a.txt"));
        assert!(wildcard("a*b*c", "axxbyyc"));
    }
}
