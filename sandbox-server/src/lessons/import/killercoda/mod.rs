//! Importer for Killercoda (and older Katacoda) scenarios: a directory with
//! `index.json` and the Markdown and scripts it names. Converts to the step
//! dialect: `{{exec}}`/`{{execute}}` (with `interrupt`, `HOSTn` and `Tn`
//! targets) become runnable blocks, `{{copy}}` copy-only blocks, and the
//! traffic placeholders (`{{TRAFFIC_HOST1_80}}`, Katacoda's
//! `https://[[HOST_SUBDOMAIN]]-80-[[KATACODA_HOST]]...`) preview links;
//! `<details>` folds become the step's hint and solution. Each host
//! (`host01`, `host02`...) is a node. A page's `background` and
//! `foreground` scripts run when a learner first reaches it (`OnEnter`; the
//! intro's with the first step's). Whatever has no equivalent is reported
//! as a warning, and so is an asset `index.json` lists but the scenario does
//! not contain (Killercoda serves such scenarios; so does this server).
//!
//! This file reads `index.json` and the files it names; `convert.rs` rewrites
//! the scenario's Markdown.

mod convert;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use protocol::api::LessonSummary;

use super::draft::{id_from_name, read_asset, read_file, Draft, DraftStep};
use super::settings::ImportSettings;
use crate::lessons::diag::{line_containing, Diagnostics};
use crate::lessons::markdown::{read_relative, Source};
use crate::lessons::{
    Asset, Check, LessonNode, NodeScript, OnEnter, Resources, Runnable, Script,
    DEFAULT_CHECK_TIMEOUT_SECS, DEFAULT_ON_ENTER_TIMEOUT_SECS,
};
use convert::{host_node, Converter, Fold};

#[derive(Deserialize, Default)]
struct Index {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    difficulty: String,
    /// "10 minutes", or a number of minutes.
    #[serde(default)]
    time: Value,
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
    /// Katacoda: a Markdown file with the step's answer (its solution).
    #[serde(default)]
    answer: Option<String>,
    /// Katacoda: a link crediting the author, shown on the intro.
    #[serde(default)]
    credits: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Backend {
    #[serde(default)]
    imageid: String,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct AssetJson {
    file: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    chmod: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
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

/// Loads the scenario in `dir`; Docker-host nodes run `settings.node_image`.
pub fn load(dir: &Path, settings: &ImportSettings, diags: &mut Diagnostics) -> Option<Draft> {
    let file = dir.join("index.json");
    let text = read_file(&file, diags)?;
    let index: Index = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            diags.error(&file, e.line(), format!("invalid index.json: {e}"));
            return None;
        }
    };
    let sc = Scenario {
        dir,
        file: &file,
        text: &text,
    };
    let mut draft = Draft::new(dir, &file, 0);
    draft.summary = sc.summary(&index, diags);
    sc.unsupported_keys(&index, diags);
    let mut conv = Converter::new(diags);
    let intro = &index.details.intro;
    let (intro_text, intro_scripts) = sc.intro(intro, &mut conv);
    draft.intro = intro_text;
    for (n, step) in index.details.steps.iter().enumerate() {
        draft.steps.extend(sc.step(n + 1, step, &mut conv));
    }
    let (finish_text, finish_scripts) = sc.finish(&index.details.finish, &mut conv);
    draft.finish = finish_text;
    draft.finish_on_enter = finish_scripts;
    // Killercoda runs the intro's scripts as the scenario starts and the
    // first step's as the learner starts it: both when a session starts
    // here (its Start button is the intro's), the intro's first.
    let first = match draft.steps.first_mut() {
        Some(step) => &mut step.on_enter,
        None => &mut draft.finish_on_enter,
    };
    *first = intro_scripts.then(std::mem::take(first));
    for (host, list) in &index.details.assets {
        draft.assets.extend(sc.assets(host, list, &mut conv));
    }
    for key in index.backend.iter().flat_map(|b| b.other.keys()) {
        sc.warn_key("backend", key, conv.diags);
    }
    draft.nodes = sc.nodes(index.backend.as_ref(), settings, &mut conv);
    super::carry::map_join_commands(&mut draft, conv.diags);
    Some(draft)
}

/// The scenario being loaded: its directory, and `index.json` with its text
/// so problems point at the line naming what they are about.
struct Scenario<'a> {
    dir: &'a Path,
    file: &'a Path,
    text: &'a str,
}

impl Scenario<'_> {
    /// The first line of `index.json` containing `needle`.
    fn line(&self, needle: &str) -> usize {
        line_containing(self.text, needle)
    }

    /// The line where the string value `value` is written.
    fn line_of_value(&self, value: &str) -> usize {
        self.line(&format!("\"{value}\""))
    }

    /// Id (from the directory), title, description, difficulty and minutes.
    fn summary(&self, index: &Index, diags: &mut Diagnostics) -> LessonSummary {
        let id = id_from_dir(self.dir);
        let title = if index.title.is_empty() {
            diags.warn(self.file, 0, "no title; using the directory name");
            id.clone()
        } else {
            index.title.clone()
        };
        let difficulty = match index.difficulty.to_ascii_lowercase().as_str() {
            d @ ("beginner" | "intermediate" | "advanced") => d.to_owned(),
            "" => String::new(),
            other => {
                diags.warn(
                    self.file,
                    self.line("\"difficulty\""),
                    format!(
                        "difficulty {other:?} is not beginner, intermediate or advanced; left out"
                    ),
                );
                String::new()
            }
        };
        let minutes = match &index.time {
            Value::Null => Some(0),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(t) if t.trim().is_empty() => Some(0),
            Value::String(t) => t.split_whitespace().next().and_then(|n| n.parse().ok()),
            _ => None,
        }
        .unwrap_or_else(|| {
            diags.warn(
                self.file,
                self.line("\"time\""),
                format!("time {} is not a number of minutes; left out", index.time),
            );
            0
        });
        LessonSummary {
            id,
            title,
            summary: index.description.clone(),
            nodes: Vec::new(),
            difficulty,
            minutes,
            tags: Vec::new(),
        }
    }

    /// Warns about top-level and `details` keys that are neither known nor cosmetic.
    fn unsupported_keys(&self, index: &Index, diags: &mut Diagnostics) {
        for key in index.other.keys().chain(index.details.other.keys()) {
            if !COSMETIC_KEYS.contains(&key.as_str()) {
                self.warn_key("index.json", key, diags);
            }
        }
    }

    /// Warns that `where_` has the key `key` this importer ignores.
    fn warn_key(&self, where_: &str, key: &str, diags: &mut Diagnostics) {
        diags.warn(
            self.file,
            self.line_of_value(key),
            format!("{where_} key {key:?} is not supported; ignored"),
        );
    }

    /// A page's text file, converted to the dialect; `None` (reported) when
    /// it cannot be read.
    fn read_page(&self, path: &str, fold: Fold, conv: &mut Converter<'_>) -> Option<Source> {
        match read_relative(self.dir, path) {
            Ok(t) => Some(conv.convert(&self.dir.join(path), &t, fold)),
            Err(m) => {
                conv.diags.error(
                    self.file,
                    self.line_of_value(path),
                    format!("text file {m}"),
                );
                None
            }
        }
    }

    /// A script a page names (`what`: background, foreground, verify);
    /// `None` when it names none or (reported) it cannot be read.
    fn script(
        &self,
        path: &Option<String>,
        what: &str,
        conv: &mut Converter<'_>,
    ) -> Option<String> {
        let path = path.as_ref()?;
        match read_relative(self.dir, path) {
            Ok(t) => Some(t),
            Err(m) => {
                conv.diags.error(
                    self.file,
                    self.line_of_value(path),
                    format!("{what} script {m}"),
                );
                None
            }
        }
    }

    /// The intro's text and scripts.
    fn intro(&self, intro: &Page, conv: &mut Converter<'_>) -> (Option<Source>, OnEnter) {
        let mut source = intro
            .text
            .as_deref()
            .and_then(|p| self.read_page(p, Fold::Inline, conv));
        if let (Some(source), Some(credits)) = (&mut source, &intro.credits) {
            let at = self.line_of_value(credits);
            source.push(at, "");
            source.push(at, format!("Credits: <{credits}>"));
        }
        for key in intro.other.keys() {
            self.warn_key("intro", key, conv.diags);
        }
        (source, self.page_scripts(intro, conv))
    }

    /// A page's `background` and `foreground` scripts, both on node1 (the
    /// first host, where Killercoda runs them): run unseen, and typed into
    /// its terminal, when a learner first reaches the page.
    fn page_scripts(&self, page: &Page, conv: &mut Converter<'_>) -> OnEnter {
        OnEnter {
            background: self
                .script(&page.background, "background", conv)
                .into_iter()
                .map(|body| NodeScript {
                    node: "node1".into(),
                    script: Script {
                        body,
                        timeout_secs: DEFAULT_ON_ENTER_TIMEOUT_SECS,
                    },
                })
                .collect(),
            typed: self
                .script(&page.foreground, "foreground", conv)
                .into_iter()
                .map(|code| Runnable::of_script("node1", code))
                .collect(),
        }
    }

    /// Step `n` (from 1): its text, its verify script as the check on
    /// node1, its scripts run when a learner reaches it. `None` when the
    /// text is missing or unreadable.
    fn step(&self, n: usize, step: &Page, conv: &mut Converter<'_>) -> Option<DraftStep> {
        let Some(text_path) = &step.text else {
            conv.diags
                .error(self.file, 0, format!("step {n} has no \"text\" file"));
            return None;
        };
        let mut source = self.read_page(text_path, Fold::Sections, conv)?;
        if let Some(answer) = &step.answer {
            self.append_answer(&mut source, answer, conv);
        }
        let check = self.script(&step.verify, "verify", conv).map(|body| Check {
            node: "node1".into(),
            script: Script {
                body,
                timeout_secs: DEFAULT_CHECK_TIMEOUT_SECS,
            },
            grader: None,
        });
        for key in step.other.keys() {
            self.warn_key("step", key, conv.diags);
        }
        Some(DraftStep {
            source,
            fallback_title: if step.title.is_empty() {
                format!("Step {n}")
            } else {
                step.title.clone()
            },
            check,
            solution_script: None,
            on_enter: self.page_scripts(step, conv),
        })
    }

    /// Appends Katacoda's answer file to the step's `## Solution` section
    /// (which its text's folds may have started; it comes last).
    fn append_answer(&self, source: &mut Source, answer: &str, conv: &mut Converter<'_>) {
        let Some(answer_src) = self.read_page(answer, Fold::Inline, conv) else {
            return;
        };
        let at = answer_src.lines.first().map_or(0, |(n, _)| *n);
        if !source.lines.iter().any(|(_, l)| l == "## Solution") {
            source.push(at, "");
            source.push(at, "## Solution");
        }
        source.push(at, "");
        source.lines.extend(answer_src.lines);
    }

    /// The finish page's text and scripts.
    fn finish(&self, finish: &Page, conv: &mut Converter<'_>) -> (Option<Source>, OnEnter) {
        let source = finish
            .text
            .as_deref()
            .and_then(|p| self.read_page(p, Fold::Inline, conv));
        for key in finish.other.keys() {
            self.warn_key("finish", key, conv.diags);
        }
        (source, self.page_scripts(finish, conv))
    }

    /// The assets of one host: files under `assets/` (`*` and `**`
    /// wildcards expanded), copied into `target` in that host's node, each
    /// under its path below the pattern's last directory without wildcards
    /// (`conf/app.yaml` lands in `target/app.yaml`, `**` keeps the tree). A
    /// file listed but missing is a warning: the rest of the lesson loads.
    fn assets(&self, host: &str, list: &[AssetJson], conv: &mut Converter<'_>) -> Vec<Asset> {
        let Some(node) = host_node(host) else {
            conv.diags.warn(
                self.file,
                self.line_of_value(host),
                format!("assets for {host:?}: unknown host; not copied"),
            );
            return Vec::new();
        };
        conv.max_node = conv.max_node.max(node);
        let assets_dir = self.dir.join("assets");
        let mut out = Vec::new();
        for asset in list {
            let at = self.line_of_value(&asset.file);
            for key in asset.other.keys() {
                conv.diags.warn(
                    self.file,
                    at,
                    format!("asset key {key:?} is not supported; ignored"),
                );
            }
            let mode = self.asset_mode(asset.chmod.as_deref(), at, conv.diags);
            let target = asset_target(&asset.target);
            let matched = expand(&assets_dir, &asset.file);
            if matched.is_empty() {
                conv.diags.warn(
                    self.file,
                    at,
                    format!(
                        "asset assets/{} is not in the scenario; not copied",
                        asset.file
                    ),
                );
            }
            for (name, below) in matched {
                match read_asset(&assets_dir, &name) {
                    Ok(content) => out.push(Asset {
                        node: format!("node{node}"),
                        path: format!("{}/{}", target.trim_end_matches('/'), below),
                        mode,
                        content,
                    }),
                    Err(m) => {
                        conv.diags
                            .warn(self.file, at, format!("asset assets/{m}; not copied"))
                    }
                }
            }
        }
        out
    }

    /// An asset's `chmod` as permission bits on top of 0644 (octal, or
    /// symbolic as `+x`, `u+x`, `go-w`), warned about at line `at` when not
    /// understood.
    fn asset_mode(&self, chmod: Option<&str>, at: usize, diags: &mut Diagnostics) -> u32 {
        let chmod = chmod.unwrap_or("").trim();
        if chmod.is_empty() {
            return DEFAULT_ASSET_MODE;
        }
        parse_chmod(chmod, DEFAULT_ASSET_MODE).unwrap_or_else(|| {
            diags.warn(
                self.file,
                at,
                format!("chmod {chmod:?} is not understood; the file gets 0644"),
            );
            DEFAULT_ASSET_MODE
        })
    }

    /// The nodes: as many as the backend has or the text targets (a host
    /// of the assets counts), all on one image: for Killercoda's machines,
    /// Docker hosts, the directory's node image; node1 runs the collected
    /// `setup` scripts.
    fn nodes(
        &self,
        backend: Option<&Backend>,
        settings: &ImportSettings,
        conv: &mut Converter<'_>,
    ) -> Vec<LessonNode> {
        let backend_id = backend.map(|b| b.imageid.as_str()).unwrap_or("");
        let backend_nodes = backend_id
            .split('-')
            .find_map(|part| {
                part.strip_suffix("nodes")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .unwrap_or(1);
        let image = match backend_id {
            "" => "base".to_owned(),
            i if i.contains("docker") || i.contains("ubuntu") => settings.node_image.clone(),
            i => {
                conv.diags.warn(
                    self.file,
                    self.line("\"imageid\""),
                    format!(
                        "backend {i:?} is not available here; its {backend_nodes} node(s) run {:?} (a Docker host, nothing more)",
                        settings.node_image
                    ),
                );
                settings.node_image.clone()
            }
        };
        let count = conv.max_node.max(backend_nodes);
        (1..=count)
            .map(|n| LessonNode {
                name: format!("node{n}"),
                image: image.clone(),
                setup: None,
                resources: Resources::default(),
            })
            .collect()
    }
}

/// What an asset gets without `chmod`.
const DEFAULT_ASSET_MODE: u32 = 0o644;

/// Files one asset pattern may expand to: more is a mistake (or a tree that
/// does not belong in a lesson).
const MAX_ASSET_MATCHES: usize = 1000;

/// `chmod`'s mode argument applied to `base`: octal (`755`, `0640`) or
/// symbolic clauses (`+x`, `u+x,go-w`, `a=r`); `None` when it is neither.
fn parse_chmod(chmod: &str, base: u32) -> Option<u32> {
    if chmod.chars().all(|c| c.is_ascii_digit()) {
        return u32::from_str_radix(chmod, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = base;
    for clause in chmod.split(',') {
        let op_at = clause.find(['+', '-', '='])?;
        let (who, rest) = clause.split_at(op_at);
        let (op, perms) = rest.split_at(1);
        let mut who_bits = 0;
        for c in who.chars() {
            who_bits |= match c {
                'u' => 0o700,
                'g' => 0o070,
                'o' => 0o007,
                'a' => 0o777,
                _ => return None,
            };
        }
        if who_bits == 0 {
            // No `ugoa`: all, except what the usual umask (022) keeps.
            who_bits = 0o755;
        }
        let mut perm_bits = 0;
        for c in perms.chars() {
            perm_bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                _ => return None,
            };
        }
        let bits = who_bits & perm_bits;
        mode = match op {
            "+" => mode | bits,
            "-" => mode & !bits,
            _ => (mode & !who_bits) | bits,
        };
    }
    Some(mode)
}

/// Where an asset goes: `~` is `/root`, and relative or empty targets are under `/root`.
fn asset_target(target: &str) -> String {
    let mut target = target.replace('~', "/root");
    if target.is_empty() {
        target = "/root".into();
    }
    if !target.starts_with('/') {
        target = format!("/root/{target}");
    }
    target
}

/// The files under `dir` matching `pattern` (`*` within a name, `**` for
/// any number of directories), sorted, each as (its path below `dir`, its
/// path below the pattern's last directory without wildcards). A pattern
/// without wildcards names one file. Empty when nothing matches.
fn expand(dir: &Path, pattern: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let fixed = parts.iter().take_while(|p| !p.contains('*')).count();
    if fixed == parts.len() {
        let name = parts.last().copied().unwrap_or("");
        return if dir.join(pattern).is_file() {
            vec![(pattern.to_owned(), name.to_owned())]
        } else {
            Vec::new()
        };
    }
    let prefix = parts[..fixed].join("/");
    let mut files = Vec::new();
    walk(&dir.join(&prefix), "", &mut files);
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .filter(|below| {
            let path: Vec<&str> = below.split('/').collect();
            matches(&parts[fixed..], &path)
        })
        .map(|below| {
            let full = if prefix.is_empty() {
                below.clone()
            } else {
                format!("{prefix}/{below}")
            };
            (full, below)
        })
        .collect();
    out.sort();
    out
}

/// Collects the files under `dir` (paths relative to where the walk
/// started, prefixed by `rel`), up to [`MAX_ASSET_MATCHES`].
fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if out.len() >= MAX_ASSET_MATCHES {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&entry.path(), &rel, out),
            Ok(t) if t.is_file() => out.push(rel),
            _ => {}
        }
    }
}

/// Does the path (by components) match the pattern's components?
fn matches(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            matches(&pattern[1..], path) || (!path.is_empty() && matches(pattern, &path[1..]))
        }
        (Some(p), Some(name)) => wildcard(p, name) && matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// Does `name` match `pattern`, where `*` stands for any characters?
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

/// The id of the scenario in `dir`: its directory's name.
fn id_from_dir(dir: &Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "scenario".into());
    id_from_name(&name)
        .trim_start_matches(['-', '_', '.'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "a.sh"));
        assert!(wildcard("*.sh", "a.sh"));
        assert!(!wildcard("*.sh", "a.txt"));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(matches(&["**", "*.json"], &["a", "b", "c.json"]));
        assert!(matches(&["**", "*.json"], &["c.json"]));
        assert!(matches(&["**"], &["a", "b"]));
        assert!(!matches(&["*"], &["a", "b"]));
        assert!(matches(&["app*", "*.*"], &["app2", "x.y"]));
    }

    #[test]
    fn chmod_modes() {
        assert_eq!(parse_chmod("+x", 0o644), Some(0o755));
        assert_eq!(parse_chmod("u+x", 0o644), Some(0o744));
        assert_eq!(parse_chmod("+w", 0o444), Some(0o644));
        assert_eq!(parse_chmod("a+w", 0o644), Some(0o666));
        assert_eq!(parse_chmod("go-r,u=rwx", 0o644), Some(0o700));
        assert_eq!(parse_chmod("0600", 0o644), Some(0o600));
        assert_eq!(parse_chmod("755", 0o644), Some(0o755));
        assert_eq!(parse_chmod("x+", 0o644), None);
        assert_eq!(parse_chmod("+s", 0o644), None);
    }
}
