//! The native lesson format: `lesson.toml` plus step Markdown files
//! (`steps/*.md` in name order, or the `[[steps]]` list). See `docs/lessons.md`.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::draft::{read_asset, read_file, title_from_file, Draft, DraftStep};
use crate::lessons::diag::{line_containing, line_of_offset, Diagnostics};
use crate::lessons::markdown::{read_relative, resolve_relative, Source, MAX_CHECK_TIMEOUT_SECS};
use crate::lessons::{
    Asset, Check, LessonNode, NodeScript, OnEnter, Resources, Runnable, Script,
    DEFAULT_CHECK_TIMEOUT_SECS, DEFAULT_ON_ENTER_TIMEOUT_SECS, DEFAULT_SETUP_TIMEOUT_SECS,
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
    /// The step's grader: a crate directory of the lesson, built by
    /// `sandbox-server lesson build` (instead of a check script or block).
    #[serde(default)]
    grader: Option<Spanned<String>>,
    /// Script file run unseen in the step's node when a learner first
    /// reaches the step (Killercoda's step `background`).
    #[serde(default)]
    background: Option<Spanned<String>>,
    /// Script file typed into the step's node's terminal when a learner
    /// first reaches the step (Killercoda's step `foreground`).
    #[serde(default)]
    foreground: Option<Spanned<String>>,
}

/// Reads `dir/lesson.toml` and the files it names.
pub fn load(dir: &Path, diags: &mut Diagnostics) -> Option<Draft> {
    let file = dir.join("lesson.toml");
    let text = read_file(&file, diags)?;
    let toml = Manifest {
        dir,
        file: &file,
        text: &text,
    };
    let LessonToml {
        id,
        title,
        summary,
        difficulty,
        minutes,
        tags,
        intro,
        finish,
        nodes,
        assets,
        steps,
    } = toml.parse(diags)?;
    let mut draft = Draft::new(dir, &file, toml.line(&id));
    draft.summary.id = id.into_inner();
    draft.summary.title = title;
    draft.summary.summary = summary;
    draft.summary.minutes = minutes;
    draft.summary.tags = tags;
    if let Some(d) = difficulty {
        draft.summary.difficulty = toml.difficulty(d, diags);
    }
    if nodes.is_empty() {
        // Only imported posts may be read without machines; here it is a slip.
        diags.error(
            &file,
            line_containing(&text, "nodes"),
            "the lesson has no nodes (add a [[nodes]] table)",
        );
    }
    draft.nodes = nodes.into_iter().map(|n| toml.node(n, diags)).collect();
    let names: Vec<String> = draft.nodes.iter().map(|n| n.name.clone()).collect();
    draft.assets = assets
        .into_iter()
        .filter_map(|a| toml.asset(a, &names, diags))
        .collect();
    draft.intro = toml.page(intro, "intro.md", diags);
    draft.finish = toml.page(finish, "finish.md", diags);
    draft.steps = match steps {
        Some(steps) => steps
            .into_iter()
            .filter_map(|s| toml.listed_step(s, &names, diags))
            .collect(),
        None => toml.step_files(diags),
    };
    Some(draft)
}

/// `lesson.toml` being loaded: where it is and its text, so every problem
/// points at the line of the key it is about.
struct Manifest<'a> {
    dir: &'a Path,
    file: &'a Path,
    text: &'a str,
}

impl Manifest<'_> {
    /// The line a value was written on.
    fn line<T>(&self, value: &Spanned<T>) -> usize {
        line_of_offset(self.text, value.span().start)
    }

    /// Reports `message` at the line of `value`.
    fn error<T>(&self, value: &Spanned<T>, message: impl Into<String>, diags: &mut Diagnostics) {
        diags.error(self.file, self.line(value), message);
    }

    /// Parses the TOML; a syntax error or unknown key is reported at its line.
    fn parse(&self, diags: &mut Diagnostics) -> Option<LessonToml> {
        toml::from_str(self.text)
            .map_err(|e| {
                let line = e.span().map_or(0, |s| line_of_offset(self.text, s.start));
                diags.error(self.file, line, e.message().trim().to_owned());
            })
            .ok()
    }

    /// The difficulty, reported unless it is one the web app shows.
    fn difficulty(&self, d: Spanned<String>, diags: &mut Diagnostics) -> String {
        if !matches!(
            d.get_ref().as_str(),
            "beginner" | "intermediate" | "advanced" | ""
        ) {
            self.error(
                &d,
                format!(
                    "difficulty {:?}: expected beginner, intermediate or advanced",
                    d.get_ref()
                ),
                diags,
            );
        }
        d.into_inner()
    }

    /// One `[[nodes]]` entry: its setup script read, its resources checked.
    fn node(&self, node: NodeToml, diags: &mut Diagnostics) -> LessonNode {
        let setup = node.setup.as_ref().and_then(|path| {
            let body = self.script(path, "setup", diags)?;
            Some(Script {
                body,
                timeout_secs: node
                    .setup_timeout
                    .as_ref()
                    .map_or(DEFAULT_SETUP_TIMEOUT_SECS, |t| *t.get_ref()),
            })
        });
        let resources = self.resources(&node, diags);
        if node.image.trim().is_empty() {
            self.error(&node.name, "node image is empty", diags);
        }
        LessonNode {
            name: node.name.into_inner(),
            image: node.image,
            setup,
            resources,
        }
    }

    /// A node's resource overrides, each reported when out of range.
    fn resources(&self, node: &NodeToml, diags: &mut Diagnostics) -> Resources {
        let mut resources = Resources::default();
        if let Some(m) = &node.memory_mib {
            if !(16..=65536).contains(m.get_ref()) {
                self.error(m, "memory_mib: expected 16 to 65536", diags);
            }
            resources.memory_mib = Some(*m.get_ref());
        }
        if let Some(c) = &node.cpus {
            let cpus = *c.get_ref();
            if !(0.01..=64.0).contains(&cpus) {
                self.error(c, "cpus: expected 0.01 to 64", diags);
            }
            resources.millicpus = Some((cpus * 1000.0).round().max(1.0) as u64);
        }
        if let Some(p) = &node.pids {
            if !(16..=1_000_000).contains(p.get_ref()) {
                self.error(p, "pids: expected 16 to 1000000", diags);
            }
            resources.pids = Some(*p.get_ref());
        }
        resources
    }

    /// Reports `node` unless it is one of `names`.
    fn known_node(&self, node: &Spanned<String>, names: &[String], diags: &mut Diagnostics) {
        if !names.contains(node.get_ref()) {
            self.error(
                node,
                format!(
                    "unknown node {:?} (nodes: {})",
                    node.get_ref(),
                    names.join(", ")
                ),
                diags,
            );
        }
    }

    /// One `[[assets]]` entry, read from the lesson directory; `None` when
    /// the file cannot be read.
    fn asset(&self, asset: AssetToml, names: &[String], diags: &mut Diagnostics) -> Option<Asset> {
        self.known_node(&asset.node, names, diags);
        let mode = self.asset_mode(asset.mode.as_ref(), diags);
        let to = asset.to.get_ref();
        if !to.starts_with('/') {
            self.error(
                &asset.to,
                format!("to = {to:?}: must be an absolute path in the node"),
                diags,
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
        match read_asset(self.dir, asset.file.get_ref()) {
            Ok(content) => Some(Asset {
                node: asset.node.into_inner(),
                path,
                mode,
                content,
            }),
            Err(message) => {
                self.error(&asset.file, format!("asset {message}"), diags);
                None
            }
        }
    }

    /// An asset's `mode = "0755"` (default 0644), reported when not octal bits.
    fn asset_mode(&self, mode: Option<&Spanned<String>>, diags: &mut Diagnostics) -> u32 {
        let Some(m) = mode else {
            return 0o644;
        };
        u32::from_str_radix(m.get_ref().trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .unwrap_or_else(|| {
                self.error(
                    m,
                    format!(
                        "mode {:?}: expected octal permission bits such as \"0755\"",
                        m.get_ref()
                    ),
                    diags,
                );
                0o644
            })
    }

    /// The intro or finish page: the file the key names (reported when
    /// missing), else `default` when it exists.
    fn page(
        &self,
        key: Option<Spanned<String>>,
        default: &str,
        diags: &mut Diagnostics,
    ) -> Option<Source> {
        match key {
            Some(path) => match read_relative(self.dir, path.get_ref()) {
                Ok(text) => Some(Source::new(&self.dir.join(path.get_ref()), &text, 1)),
                Err(message) => {
                    self.error(&path, message, diags);
                    None
                }
            },
            None => std::fs::read_to_string(self.dir.join(default))
                .ok()
                .map(|text| Source::new(&self.dir.join(default), &text, 1)),
        }
    }

    /// A script file a key names; `None` (reported) when it cannot be read.
    fn script(
        &self,
        path: &Spanned<String>,
        what: &str,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        read_relative(self.dir, path.get_ref())
            .map_err(|m| self.error(path, format!("{what} script {m}"), diags))
            .ok()
    }

    /// The built grader of the crate directory `path`, loaded (compiled and
    /// verified: it imports the host interface only and exports `check`).
    fn grader(
        &self,
        path: &Spanned<String>,
        diags: &mut Diagnostics,
    ) -> Option<crate::graders::SharedGrader> {
        let dir = resolve_relative(self.dir, path.get_ref())
            .map_err(|m| self.error(path, format!("grader {m}"), diags))
            .ok()?;
        if !dir.join("Cargo.toml").is_file() && !dir.join(crate::graders::COMPONENT_FILE).is_file()
        {
            self.error(
                path,
                format!(
                    "grader {}: no such grader crate (a directory with Cargo.toml)",
                    path.get_ref()
                ),
                diags,
            );
            return None;
        }
        crate::graders::GraderEngine::global()
            .load_dir(&dir, path.get_ref())
            .map(std::sync::Arc::new)
            .map_err(|e| self.error(path, e.to_string(), diags))
            .ok()
    }

    /// One `[[steps]]` entry: its Markdown, check and solution scripts (run
    /// in its node, default the first); `None` when the Markdown cannot be read.
    fn listed_step(
        &self,
        step: StepToml,
        names: &[String],
        diags: &mut Diagnostics,
    ) -> Option<DraftStep> {
        let node = match &step.node {
            Some(n) => {
                self.known_node(n, names, diags);
                n.get_ref().clone()
            }
            None => names.first().cloned().unwrap_or_default(),
        };
        let timeout_secs = self.check_timeout(step.timeout.as_ref(), diags);
        let mut check = step
            .check
            .as_ref()
            .and_then(|p| self.script(p, "check", diags))
            .map(|body| Check {
                node: node.clone(),
                script: Script { body, timeout_secs },
                grader: None,
            });
        if let Some(path) = &step.grader {
            if check.is_some() {
                self.error(
                    path,
                    "a step has a check script or a grader, not both",
                    diags,
                );
            }
            check = self.grader(path, diags).map(|grader| Check {
                node: node.clone(),
                script: Script {
                    body: String::new(),
                    timeout_secs,
                },
                grader: Some(grader),
            });
        }
        let solution_script = step
            .solution
            .as_ref()
            .and_then(|p| self.script(p, "solution", diags))
            .map(|code| Runnable::of_script(&node, code));
        let on_enter = OnEnter {
            background: step
                .background
                .as_ref()
                .and_then(|p| self.script(p, "background", diags))
                .into_iter()
                .map(|body| NodeScript {
                    node: node.clone(),
                    script: Script {
                        body,
                        timeout_secs: DEFAULT_ON_ENTER_TIMEOUT_SECS,
                    },
                })
                .collect(),
            typed: step
                .foreground
                .as_ref()
                .and_then(|p| self.script(p, "foreground", diags))
                .into_iter()
                .map(|code| Runnable::of_script(&node, code))
                .collect(),
        };
        let path = step.file.get_ref();
        let source = match read_relative(self.dir, path) {
            Ok(text) => Source::new(&self.dir.join(path), &text, 1),
            Err(message) => {
                self.error(&step.file, format!("step file {message}"), diags);
                return None;
            }
        };
        Some(DraftStep {
            source,
            fallback_title: title_from_file(Path::new(path)),
            check,
            solution_script,
            on_enter,
        })
    }

    /// A step's check `timeout` (default [`DEFAULT_CHECK_TIMEOUT_SECS`]),
    /// reported when out of range.
    fn check_timeout(&self, timeout: Option<&Spanned<u64>>, diags: &mut Diagnostics) -> u64 {
        match timeout {
            None => DEFAULT_CHECK_TIMEOUT_SECS,
            Some(t) if (1..=MAX_CHECK_TIMEOUT_SECS).contains(t.get_ref()) => *t.get_ref(),
            Some(t) => {
                self.error(
                    t,
                    format!(
                        "timeout = {}: expected whole seconds from 1 to {MAX_CHECK_TIMEOUT_SECS}",
                        t.get_ref()
                    ),
                    diags,
                );
                DEFAULT_CHECK_TIMEOUT_SECS
            }
        }
    }

    /// Without `[[steps]]`: every `steps/*.md` in name order.
    fn step_files(&self, diags: &mut Diagnostics) -> Vec<DraftStep> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.join("steps"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        files.sort();
        if files.is_empty() {
            diags.warn(
                self.file,
                0,
                "no steps: add steps/NN-name.md files or [[steps]] entries",
            );
        }
        files
            .into_iter()
            .filter_map(|path| {
                let text = read_file(&path, diags)?;
                Some(DraftStep {
                    source: Source::new(&path, &text, 1),
                    fallback_title: title_from_file(&path),
                    ..Default::default()
                })
            })
            .collect()
    }
}
