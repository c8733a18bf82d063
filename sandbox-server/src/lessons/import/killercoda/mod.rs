//! Importer for Killercoda (and older Katacoda) scenarios: a directory with
//! `index.json` and the Markdown and scripts it names. Converts to the step
//! dialect: `{{exec}}`/`{{execute}}` (with `interrupt`, `HOSTn` and `Tn`
//! targets) become runnable blocks, `{{copy}}` copy-only blocks, and the
//! traffic placeholders (`{{TRAFFIC_HOST1_80}}`, Katacoda's
//! `https://[[HOST_SUBDOMAIN]]-80-[[KATACODA_HOST]]...`) preview links.
//! Whatever has no equivalent is reported as a warning.
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
use crate::lessons::diag::{line_containing, Diagnostics};
use crate::lessons::markdown::{read_relative, Source};
use crate::lessons::{
    Asset, Check, LessonNode, Resources, Script, DEFAULT_CHECK_TIMEOUT_SECS,
    DEFAULT_SETUP_TIMEOUT_SECS,
};
use convert::{host_node, Converter};

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
    let mut setup = String::new();
    let intro = &index.details.intro;
    draft.intro = sc.intro(intro, &mut setup, &mut conv);
    // The first step's scripts start the nodes when the intro has none.
    let intro_has_scripts = intro.background.is_some() || intro.foreground.is_some();
    for (n, step) in index.details.steps.iter().enumerate() {
        let setup = (n == 0 && !intro_has_scripts).then_some(&mut setup);
        draft.steps.extend(sc.step(n + 1, step, setup, &mut conv));
    }
    draft.finish = sc.finish(&index.details.finish, &mut conv);
    for (host, list) in &index.details.assets {
        draft.assets.extend(sc.assets(host, list, &mut conv));
    }
    draft.nodes = sc.nodes(index.backend.as_ref(), setup, &mut conv);
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
        let minutes = index
            .time
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
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
    fn read_page(&self, path: &str, conv: &mut Converter<'_>) -> Option<Source> {
        match read_relative(self.dir, path) {
            Ok(t) => Some(conv.convert(&self.dir.join(path), &t)),
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

    /// The intro's text; its scripts are appended to node1's `setup`.
    fn intro(&self, intro: &Page, setup: &mut String, conv: &mut Converter<'_>) -> Option<Source> {
        let source = intro.text.as_deref().and_then(|p| self.read_page(p, conv));
        if let Some(s) = self.script(&intro.background, "background", conv) {
            setup.push_str(&s);
            setup.push('\n');
        }
        if let Some(s) = self.script(&intro.foreground, "foreground", conv) {
            conv.diags.warn(self.file, self.line_of_value(intro.foreground.as_deref().unwrap_or("")),
                "the intro's foreground script runs as node1's setup script (not visibly in the terminal)");
            setup.push_str(&s);
            setup.push('\n');
        }
        for key in intro.other.keys() {
            self.warn_key("intro", key, conv.diags);
        }
        source
    }

    /// Step `n` (from 1): its text, its verify script as the check on
    /// node1; its scripts go to `setup` when given one (the first step of a
    /// scenario whose intro has none), else they are reported as not run.
    /// `None` when the text is missing or unreadable.
    fn step(
        &self,
        n: usize,
        step: &Page,
        mut setup: Option<&mut String>,
        conv: &mut Converter<'_>,
    ) -> Option<DraftStep> {
        let Some(text_path) = &step.text else {
            conv.diags
                .error(self.file, 0, format!("step {n} has no \"text\" file"));
            return None;
        };
        let source = self.read_page(text_path, conv)?;
        let check = self.script(&step.verify, "verify", conv).map(|body| Check {
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
            let Some(body) = self.script(path, what, conv) else {
                continue;
            };
            let at = self.line_of_value(path.as_deref().unwrap_or(""));
            match setup.as_deref_mut() {
                Some(setup) => {
                    conv.diags.warn(self.file, at, format!("the first step's {what} script runs as node1's setup script when the nodes start"));
                    setup.push_str(&body);
                    setup.push('\n');
                }
                None => conv.diags.warn(self.file, at, format!("step {n}: {what} scripts of later steps are not run (the playground runs setup scripts only when nodes start)")),
            }
        }
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
        })
    }

    /// The finish page's text; its scripts are reported as not run.
    fn finish(&self, finish: &Page, conv: &mut Converter<'_>) -> Option<Source> {
        let source = finish.text.as_deref().and_then(|p| self.read_page(p, conv));
        if finish.background.is_some() || finish.foreground.is_some() {
            conv.diags.warn(
                self.file,
                self.line("\"finish\""),
                "scripts of the finish page are not run",
            );
        }
        source
    }

    /// The assets of one host: files under `assets/` (wildcards expanded),
    /// copied into a directory of that host's node.
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
            let mode = self.asset_mode(asset.chmod.as_deref(), at, conv.diags);
            let target = asset_target(&asset.target);
            for name in expand(&assets_dir, &asset.file) {
                match read_asset(&assets_dir, &name) {
                    Ok(content) => out.push(Asset {
                        node: format!("node{node}"),
                        path: format!("{}/{}", target.trim_end_matches('/'), name),
                        mode,
                        content,
                    }),
                    Err(m) => conv.diags.error(self.file, at, format!("asset assets/{m}")),
                }
            }
        }
        out
    }

    /// An asset's `chmod` as permission bits (default 0644; `+x` is 0755),
    /// warned about at line `at` when not understood.
    fn asset_mode(&self, chmod: Option<&str>, at: usize, diags: &mut Diagnostics) -> u32 {
        match chmod {
            None | Some("") => 0o644,
            Some("+x") | Some("a+x") | Some("u+x") => 0o755,
            Some(m) => u32::from_str_radix(m, 8).unwrap_or_else(|_| {
                diags.warn(
                    self.file,
                    at,
                    format!("chmod {m:?} is not understood; the file gets 0644"),
                );
                0o644
            }),
        }
    }

    /// The nodes: as many as the backend has or the text targets, all on
    /// one image; node1 runs the collected `setup` scripts.
    fn nodes(
        &self,
        backend: Option<&Backend>,
        setup: String,
        conv: &mut Converter<'_>,
    ) -> Vec<LessonNode> {
        let image = backend.map(|b| b.imageid.as_str()).unwrap_or("");
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
                conv.diags.warn(self.file, self.line("\"imageid\""), format!("backend {i:?} is not available here; nodes run the dind image (Debian with Docker)"));
                "dind"
            }
        };
        let count = conv.max_node.max(backend_nodes);
        (1..=count)
            .map(|n| LessonNode {
                name: format!("node{n}"),
                image: image_name.into(),
                setup: (n == 1 && !setup.trim().is_empty()).then(|| Script {
                    body: setup.clone(),
                    timeout_secs: DEFAULT_SETUP_TIMEOUT_SECS,
                }),
                resources: Resources::default(),
            })
            .collect()
    }
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
    }
}
