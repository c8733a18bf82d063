//! The native lesson format: `lesson.toml` plus step Markdown files
//! (`steps/*.md` in name order, or the `[[steps]]` list). See `docs/lessons.md`.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::diag::{line_of_offset, Diagnostics};
use super::loader::{title_from_file, Draft, DraftStep, MAX_ASSET_BYTES};
use super::markdown::{read_relative, resolve_relative, Source, MAX_CHECK_TIMEOUT_SECS};
use super::{
    Asset, Check, LessonNode, Resources, Runnable, Script, DEFAULT_CHECK_TIMEOUT_SECS,
    DEFAULT_SETUP_TIMEOUT_SECS,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonToml {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    difficulty: Option<Spanned<String>>,
    #[serde(default)]
    minutes: u32,
    #[serde(default)]
    tags: Vec<String>,
    /// Markdown file shown before the first step (default `intro.md` when it exists).
    #[serde(default)]
    intro: Option<Spanned<String>>,
    /// Markdown file shown after the last step (default `finish.md` when it exists).
    #[serde(default)]
    finish: Option<Spanned<String>>,
    nodes: Vec<NodeToml>,
    #[serde(default)]
    assets: Vec<AssetToml>,
    #[serde(default)]
    steps: Option<Vec<StepToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeToml {
    name: Spanned<String>,
    #[serde(default = "default_image")]
    image: String,
    /// Script file run in the node when it starts.
    #[serde(default)]
    setup: Option<Spanned<String>>,
    #[serde(default)]
    setup_timeout: Option<Spanned<u64>>,
    /// Memory in MiB instead of the server's `node_memory_mib`.
    #[serde(default)]
    memory_mib: Option<Spanned<u64>>,
    /// CPUs instead of the server's `node_cpus`.
    #[serde(default)]
    cpus: Option<Spanned<f64>>,
    /// Process limit instead of the server's `node_pids`.
    #[serde(default)]
    pids: Option<Spanned<i64>>,
}

fn default_image() -> String {
    "base".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetToml {
    /// File in the lesson directory.
    file: Spanned<String>,
    node: Spanned<String>,
    /// Absolute path in the node; ending in `/` means "into this directory".
    to: Spanned<String>,
    /// Octal permission bits, as a string: `"0755"`.
    #[serde(default)]
    mode: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepToml {
    file: Spanned<String>,
    /// Check script file (instead of a check block in the Markdown).
    #[serde(default)]
    check: Option<Spanned<String>>,
    /// Node the check and solution scripts run in (default: the first node).
    #[serde(default)]
    node: Option<Spanned<String>>,
    #[serde(default)]
    timeout: Option<Spanned<u64>>,
    /// Script that solves the step, for `lesson test`.
    #[serde(default)]
    solution: Option<Spanned<String>>,
}

/// Reads `dir/lesson.toml` and the files it names.
pub fn load(dir: &Path, diags: &mut Diagnostics) -> Option<Draft> {
    let file = dir.join("lesson.toml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            diags.error(&file, 0, format!("cannot read: {e}"));
            return None;
        }
    };
    let at = |offset: usize| line_of_offset(&text, offset);
    let toml: LessonToml = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map_or(0, |s| at(s.start));
            diags.error(&file, line, e.message().trim().to_owned());
            return None;
        }
    };
    let mut draft = Draft {
        dir: dir.to_owned(),
        id_at: (file.clone(), at(toml.id.span().start)),
        ..Default::default()
    };
    draft.summary.id = toml.id.into_inner();
    draft.summary.title = toml.title;
    draft.summary.summary = toml.summary;
    draft.summary.minutes = toml.minutes;
    draft.summary.tags = toml.tags;
    if let Some(d) = toml.difficulty {
        if !matches!(
            d.get_ref().as_str(),
            "beginner" | "intermediate" | "advanced" | ""
        ) {
            diags.error(
                &file,
                at(d.span().start),
                format!(
                    "difficulty {:?}: expected beginner, intermediate or advanced",
                    d.get_ref()
                ),
            );
        }
        draft.summary.difficulty = d.into_inner();
    }
    for node in toml.nodes {
        let setup = node.setup.and_then(|path| {
            let line = at(path.span().start);
            match read_relative(dir, path.get_ref()) {
                Ok(body) => Some(Script {
                    body,
                    timeout_secs: node
                        .setup_timeout
                        .as_ref()
                        .map_or(DEFAULT_SETUP_TIMEOUT_SECS, |t| *t.get_ref()),
                }),
                Err(message) => {
                    diags.error(&file, line, format!("setup script {message}"));
                    None
                }
            }
        });
        let mut resources = Resources::default();
        if let Some(m) = &node.memory_mib {
            if !(16..=65536).contains(m.get_ref()) {
                diags.error(
                    &file,
                    at(m.span().start),
                    "memory_mib: expected 16 to 65536",
                );
            }
            resources.memory_mib = Some(*m.get_ref());
        }
        if let Some(c) = &node.cpus {
            let cpus = *c.get_ref();
            if !(0.01..=64.0).contains(&cpus) {
                diags.error(&file, at(c.span().start), "cpus: expected 0.01 to 64");
            }
            resources.millicpus = Some((cpus * 1000.0).round().max(1.0) as u64);
        }
        if let Some(p) = &node.pids {
            if !(16..=1_000_000).contains(p.get_ref()) {
                diags.error(&file, at(p.span().start), "pids: expected 16 to 1000000");
            }
            resources.pids = Some(*p.get_ref());
        }
        if node.image.trim().is_empty() {
            diags.error(&file, at(node.name.span().start), "node image is empty");
        }
        draft.nodes.push(LessonNode {
            name: node.name.into_inner(),
            image: node.image,
            setup,
            resources,
        });
    }
    let names: Vec<String> = draft.nodes.iter().map(|n| n.name.clone()).collect();
    let first_node = names.first().cloned().unwrap_or_default();
    let known = |node: &Spanned<String>, diags: &mut Diagnostics| {
        if !names.contains(node.get_ref()) {
            diags.error(
                &file,
                at(node.span().start),
                format!(
                    "unknown node {:?} (nodes: {})",
                    node.get_ref(),
                    names.join(", ")
                ),
            );
        }
    };
    for asset in toml.assets {
        known(&asset.node, diags);
        let line = at(asset.file.span().start);
        let mode = match &asset.mode {
            None => 0o644,
            Some(m) => u32::from_str_radix(m.get_ref().trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .unwrap_or_else(|| {
                    diags.error(
                        &file,
                        at(m.span().start),
                        format!(
                            "mode {:?}: expected octal permission bits such as \"0755\"",
                            m.get_ref()
                        ),
                    );
                    0o644
                }),
        };
        let to = asset.to.get_ref();
        if !to.starts_with('/') {
            diags.error(
                &file,
                at(asset.to.span().start),
                format!("to = {to:?}: must be an absolute path in the node"),
            );
        }
        let path = if to.ends_with('/') {
            let name = Path::new(asset.file.get_ref())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{to}{name}")
        } else {
            to.clone()
        };
        match read_asset(dir, asset.file.get_ref()) {
            Ok(content) => draft.assets.push(Asset {
                node: asset.node.into_inner(),
                path,
                mode,
                content,
            }),
            Err(message) => diags.error(&file, line, format!("asset {message}")),
        }
    }
    let page = |key: Option<Spanned<String>>, default: &str, diags: &mut Diagnostics| match key {
        Some(path) => match read_relative(dir, path.get_ref()) {
            Ok(text) => Some(Source::new(&dir.join(path.get_ref()), &text, 1)),
            Err(message) => {
                diags.error(&file, at(path.span().start), message);
                None
            }
        },
        None => std::fs::read_to_string(dir.join(default))
            .ok()
            .map(|text| Source::new(&dir.join(default), &text, 1)),
    };
    draft.intro = page(toml.intro, "intro.md", diags);
    draft.finish = page(toml.finish, "finish.md", diags);
    match toml.steps {
        Some(steps) => {
            for step in steps {
                let line = at(step.file.span().start);
                let node = match &step.node {
                    Some(n) => {
                        known(n, diags);
                        n.get_ref().clone()
                    }
                    None => first_node.clone(),
                };
                let script = |path: &Spanned<String>, what: &str, diags: &mut Diagnostics| {
                    read_relative(dir, path.get_ref())
                        .map_err(|m| {
                            diags.error(&file, at(path.span().start), format!("{what} script {m}"))
                        })
                        .ok()
                };
                let timeout_secs = match &step.timeout {
                    None => DEFAULT_CHECK_TIMEOUT_SECS,
                    Some(t) if (1..=MAX_CHECK_TIMEOUT_SECS).contains(t.get_ref()) => *t.get_ref(),
                    Some(t) => {
                        diags.error(
                            &file,
                            at(t.span().start),
                            format!("timeout = {}: expected whole seconds from 1 to {MAX_CHECK_TIMEOUT_SECS}", t.get_ref()),
                        );
                        DEFAULT_CHECK_TIMEOUT_SECS
                    }
                };
                let check = step
                    .check
                    .as_ref()
                    .and_then(|p| script(p, "check", diags))
                    .map(|body| Check {
                        node: node.clone(),
                        script: Script { body, timeout_secs },
                    });
                let solution_script = step
                    .solution
                    .as_ref()
                    .and_then(|p| script(p, "solution", diags))
                    .map(|code| Runnable {
                        node: node.clone(),
                        code,
                        interrupt: false,
                    });
                let path = step.file.get_ref();
                let source = match read_relative(dir, path) {
                    Ok(text) => Source::new(&dir.join(path), &text, 1),
                    Err(message) => {
                        diags.error(&file, line, format!("step file {message}"));
                        continue;
                    }
                };
                draft.steps.push(DraftStep {
                    source,
                    fallback_title: title_from_file(Path::new(path)),
                    check,
                    solution_script,
                });
            }
        }
        None => {
            let mut files: Vec<_> = std::fs::read_dir(dir.join("steps"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md"))
                .collect();
            files.sort();
            if files.is_empty() {
                diags.warn(
                    &file,
                    0,
                    "no steps: add steps/NN-name.md files or [[steps]] entries",
                );
            }
            for path in files {
                match std::fs::read_to_string(&path) {
                    Ok(text) => draft.steps.push(DraftStep {
                        source: Source::new(&path, &text, 1),
                        fallback_title: title_from_file(&path),
                        ..Default::default()
                    }),
                    Err(e) => diags.error(&path, 0, format!("cannot read: {e}")),
                }
            }
        }
    }
    Some(draft)
}

/// Reads an asset file, refusing paths outside the lesson and files over [`MAX_ASSET_BYTES`].
pub fn read_asset(dir: &Path, path: &str) -> Result<Vec<u8>, String> {
    let full = resolve_relative(dir, path)?;
    let meta = std::fs::metadata(&full).map_err(|_| format!("{path} not found"))?;
    if !meta.is_file() {
        return Err(format!("{path} is not a file"));
    }
    if meta.len() > MAX_ASSET_BYTES {
        return Err(format!(
            "{path} is {} bytes; assets are at most {MAX_ASSET_BYTES}",
            meta.len()
        ));
    }
    std::fs::read(&full).map_err(|e| format!("{path}: {e}"))
}
