//! Finds lessons in directories, loads each with the importer its files call
//! for, and reports every problem. A directory is a lesson when it holds
//! `lesson.toml` (native), `index.json` (Killercoda/Katacoda) or Markdown
//! files (`.md`, `.markdown`) with YAML front matter (play-with-docker posts,
//! one lesson each). A configured directory may be one lesson or hold
//! lessons in sub-directories, a few levels down (a Killercoda repository
//! groups scenarios into course directories); a Jekyll site's lessons are
//! its `_posts/`. A `playground.toml` on the way
//! sets what imported lessons below it run on ([`ImportSettings`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::assemble::assemble;
use super::diag::{Diagnostics, Severity};
use super::import::settings::ImportSettings;
use super::import::{killercoda, native, pwd};
use super::{Catalog, Lesson};

/// How many directory levels under a configured directory are searched for
/// lessons (a scenario in a course directory of a repository is level 2).
const MAX_DEPTH: usize = 3;

/// A lesson found on disk, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Native(PathBuf),
    Killercoda(PathBuf),
    /// A play-with-docker post: the Markdown file.
    Pwd(PathBuf),
}

impl Found {
    /// The lesson's directory, or its file for a post.
    pub fn path(&self) -> &Path {
        match self {
            Found::Native(p) | Found::Killercoda(p) | Found::Pwd(p) => p,
        }
    }
}

/// The lessons `dir` itself is, by its files.
pub fn detect(dir: &Path) -> Vec<Found> {
    if dir.join("lesson.toml").is_file() {
        return vec![Found::Native(dir.to_owned())];
    }
    if dir.join("index.json").is_file() {
        return vec![Found::Killercoda(dir.to_owned())];
    }
    let mut posts: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_markdown(p) && pwd::has_front_matter(p))
        .collect();
    posts.sort();
    posts.into_iter().map(Found::Pwd).collect()
}

/// `.md` and `.markdown`: Jekyll sites name their posts either way.
fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "md" || e == "markdown")
}

/// A lesson as loaded, before its id is claimed.
pub struct Loaded {
    pub lesson: Lesson,
    /// Where its id is written.
    pub id_at: (PathBuf, usize),
    /// The id to use if this one is taken ([`Draft::id_if_taken`](super::import::draft::Draft)).
    pub id_if_taken: Option<String>,
}

/// Loads one found lesson with the settings of its directory; `None` when it
/// could not be read at all.
pub fn load_found(
    found: &Found,
    settings: &ImportSettings,
    diags: &mut Diagnostics,
) -> Option<Loaded> {
    let mut draft = match found {
        Found::Native(dir) => native::load(dir, diags)?,
        Found::Killercoda(dir) => killercoda::load(dir, settings, diags)?,
        Found::Pwd(file) => pwd::load(file, settings, diags)?,
    };
    let id_at = draft.id_at.clone();
    let id_if_taken = draft.id_if_taken.take();
    Some(Loaded {
        lesson: assemble(draft, diags),
        id_at,
        id_if_taken,
    })
}

/// How one found lesson fared: a line of `lesson check --summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonOutcome {
    /// The lesson's directory, or its file for a post.
    pub source: PathBuf,
    /// Its id, when it could be read that far.
    pub id: Option<String>,
    /// Served: read, and no errors.
    pub served: bool,
    pub errors: usize,
    pub warnings: usize,
}

/// What loading a set of directories gave.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Lessons without errors, to serve.
    pub lessons: Vec<Lesson>,
    /// Every problem, errors and warnings, in load order.
    pub diagnostics: Diagnostics,
    /// How many lessons were found (served or not).
    pub found: usize,
    /// Each found lesson's outcome, in load order.
    pub outcomes: Vec<LessonOutcome>,
}

/// Loads every lesson in `dirs` (each a lesson or a directory of lessons).
/// Lessons with errors are left out; a later lesson reusing an id is an error.
pub fn load_dirs(dirs: &[PathBuf]) -> LoadReport {
    let mut report = LoadReport::default();
    let mut ids = Ids::new();
    for dir in dirs {
        for (found, settings) in find(dir, &mut report.diagnostics) {
            report.found += 1;
            let mut diags = Diagnostics::default();
            let mut loaded = load_found(&found, &settings, &mut diags);
            if let Some(loaded) = &mut loaded {
                claim_id(&mut ids, loaded, &mut diags);
            }
            let lesson = loaded.map(|l| l.lesson);
            let ok = !diags.has_errors();
            report.outcomes.push(LessonOutcome {
                source: found.path().to_owned(),
                id: lesson.as_ref().map(|l| l.summary.id.clone()),
                served: ok && lesson.is_some(),
                errors: diags.errors(),
                warnings: diags.warnings(),
            });
            report.diagnostics.extend(diags);
            if let (Some(lesson), true) = (lesson, ok) {
                report.lessons.push(lesson);
            }
        }
    }
    report
}

/// The lessons `dir` holds, each with the settings of its directory: `dir`
/// itself, else the lessons under it. A missing directory is an error.
fn find(dir: &Path, diags: &mut Diagnostics) -> Vec<(Found, ImportSettings)> {
    if !dir.is_dir() {
        diags.error(dir, 0, "lessons directory not found or not readable");
        return Vec::new();
    }
    search(dir, &ImportSettings::default(), 0, diags)
}

/// The lessons in `dir` (at `depth` under a configured directory) and below
/// it. Each sub-directory with no lesson anywhere below is warned about
/// once, at its top.
fn search(
    dir: &Path,
    inherited: &ImportSettings,
    depth: usize,
    diags: &mut Diagnostics,
) -> Vec<(Found, ImportSettings)> {
    let Some(settings) = inherited.for_dir(dir, diags) else {
        return Vec::new();
    };
    // A Jekyll site (play-with-docker's training site): its labs are its
    // posts; its pages (about, contributing) and layouts are not lessons.
    let posts = dir.join("_posts");
    if dir.join("_config.yml").is_file() && posts.is_dir() {
        return search(&posts, &settings, depth, diags);
    }
    let here = detect(dir);
    if !here.is_empty() {
        return here.into_iter().map(|f| (f, settings.clone())).collect();
    }
    if depth >= MAX_DEPTH {
        return Vec::new();
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect();
    subdirs.sort();
    let mut found = Vec::new();
    for sub in subdirs {
        let errors_before = diags.errors();
        let below = search(&sub, &settings, depth + 1, diags);
        if below.is_empty() && diags.errors() == errors_before {
            diags.warn(
                &sub,
                0,
                "not a lesson (no lesson.toml, index.json or Markdown with front matter); skipped",
            );
        }
        found.extend(below);
    }
    found
}

/// Lesson ids already served, with where each is written.
type Ids = BTreeMap<String, (PathBuf, usize)>;

/// Records that the lesson `loaded` is served under its id, or reports the
/// id as a duplicate of an earlier lesson's. An id the importer made up
/// gives way to its alternative, with a warning. A lesson with errors
/// claims no id.
fn claim_id(ids: &mut Ids, loaded: &mut Loaded, diags: &mut Diagnostics) {
    let (here, here_line) = &loaded.id_at;
    let id = loaded.lesson.summary.id.clone();
    if let Some((file, line)) = ids.get(&id) {
        let first = match line {
            0 => file.display().to_string(),
            n => format!("{}:{n}", file.display()),
        };
        match loaded
            .id_if_taken
            .take()
            .filter(|alt| !ids.contains_key(alt))
        {
            Some(alt) => {
                diags.warn(
                    here,
                    *here_line,
                    format!("lesson id {id:?} is already used at {first}; this one is {alt:?}"),
                );
                loaded.lesson.summary.id = alt;
            }
            None => {
                diags.error(
                    here,
                    *here_line,
                    format!("duplicate lesson id {id:?}: already used at {first}"),
                );
                return;
            }
        }
    }
    if !diags.has_errors() {
        ids.insert(loaded.lesson.summary.id.clone(), loaded.id_at.clone());
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// A cheap summary of every file under `dirs` (path, size, mtime): when it
/// changes, something an author edited changed.
pub fn fingerprint(dirs: &[PathBuf]) -> Fingerprint {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            out.push((path, u64::MAX, None));
            continue;
        };
        out.push((path.clone(), meta.len(), meta.modified().ok()));
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| !is_hidden(p)),
                );
            }
        }
        if out.len() > 100_000 {
            break;
        }
    }
    out.sort();
    out
}

/// Logs a load report: every problem as `file:line: message`.
pub fn log_report(report: &LoadReport) {
    for d in &report.diagnostics.items {
        match d.severity {
            Severity::Error => tracing::error!("lesson not served: {d}"),
            Severity::Warning => tracing::warn!("{d}"),
        }
    }
    tracing::info!(
        served = report.lessons.len(),
        found = report.found,
        errors = report.diagnostics.errors(),
        warnings = report.diagnostics.warnings(),
        "lessons loaded"
    );
}

/// The type [`fingerprint`] returns.
pub type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// Loads `dirs` into a new catalog, logging every problem; also returns the
/// files' fingerprint as of before the load, for [`watch`].
pub fn load_catalog(dirs: &[PathBuf]) -> (Catalog, Fingerprint) {
    let print = fingerprint(dirs);
    let report = load_dirs(dirs);
    log_report(&report);
    (Catalog::new(report.lessons), print)
}

/// Reloads `dirs` into `catalog` whenever a file under them changes from
/// `last` (polled every `interval`, so authors see edits within seconds).
/// Runs until the task is dropped.
pub async fn watch(
    dirs: Vec<PathBuf>,
    catalog: Arc<Catalog>,
    interval: Duration,
    last: Fingerprint,
) {
    let mut last = Some(last);
    loop {
        tokio::time::sleep(interval).await;
        let dirs2 = dirs.clone();
        let print = tokio::task::spawn_blocking(move || fingerprint(&dirs2))
            .await
            .unwrap_or_default();
        if last.as_ref() != Some(&print) {
            if last.is_some() {
                tracing::info!("lesson files changed; reloading");
            }
            let dirs2 = dirs.clone();
            if let Ok(report) = tokio::task::spawn_blocking(move || load_dirs(&dirs2)).await {
                log_report(&report);
                catalog.replace(report.lessons);
            }
            last = Some(print);
        }
    }
}
