//! Finds lessons in directories, loads each with the importer its files call
//! for, and reports every problem. A directory is a lesson when it holds
//! `lesson.toml` (native), `index.json` (Killercoda/Katacoda) or Markdown
//! files with YAML front matter (play-with-docker posts, one lesson each).
//! A configured directory may be one lesson or hold one lesson per
//! sub-directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::assemble::assemble;
use super::diag::{Diagnostics, Severity};
use super::import::{killercoda, native, pwd};
use super::{Catalog, Lesson};

/// A lesson found on disk, by format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Native(PathBuf),
    Killercoda(PathBuf),
    /// A play-with-docker post: the Markdown file.
    Pwd(PathBuf),
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
        .filter(|p| p.extension().is_some_and(|e| e == "md") && pwd::has_front_matter(p))
        .collect();
    posts.sort();
    posts.into_iter().map(Found::Pwd).collect()
}

/// Loads one found lesson; `None` when it could not be read at all. Also
/// returns where its id is written.
pub fn load_found(found: &Found, diags: &mut Diagnostics) -> Option<(Lesson, (PathBuf, usize))> {
    let draft = match found {
        Found::Native(dir) => native::load(dir, diags)?,
        Found::Killercoda(dir) => killercoda::load(dir, diags)?,
        Found::Pwd(file) => pwd::load(file, diags)?,
    };
    let at = draft.id_at.clone();
    Some((assemble(draft, diags), at))
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
}

/// Loads every lesson in `dirs` (each a lesson or a directory of lessons).
/// Lessons with errors are left out; a later lesson reusing an id is an error.
pub fn load_dirs(dirs: &[PathBuf]) -> LoadReport {
    let mut report = LoadReport::default();
    let mut ids = Ids::new();
    for dir in dirs {
        for found in find(dir, &mut report.diagnostics) {
            report.found += 1;
            let mut diags = Diagnostics::default();
            let lesson = load_found(&found, &mut diags);
            if let Some((lesson, at)) = &lesson {
                claim_id(&mut ids, &lesson.summary.id, at, &mut diags);
            }
            let ok = !diags.has_errors();
            report.diagnostics.extend(diags);
            if let (Some((lesson, _)), true) = (lesson, ok) {
                report.lessons.push(lesson);
            }
        }
    }
    report
}

/// The lessons `dir` holds: itself, else each of its sub-directories that
/// is one (the others are warned about). A missing directory is an error.
fn find(dir: &Path, diags: &mut Diagnostics) -> Vec<Found> {
    let found = detect(dir);
    if !found.is_empty() {
        return found;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        diags.error(dir, 0, "lessons directory not found or not readable");
        return found;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect();
    subdirs.sort();
    let mut found = Vec::new();
    for sub in subdirs {
        let here = detect(&sub);
        if here.is_empty() {
            diags.warn(
                &sub,
                0,
                "not a lesson (no lesson.toml, index.json or Markdown with front matter); skipped",
            );
        }
        found.extend(here);
    }
    found
}

/// Lesson ids already served, with where each is written.
type Ids = BTreeMap<String, (PathBuf, usize)>;

/// Records that the lesson with `id` (written at `at`) is served, or
/// reports the id as a duplicate of an earlier lesson's. A lesson with
/// errors claims no id.
fn claim_id(ids: &mut Ids, id: &str, at: &(PathBuf, usize), diags: &mut Diagnostics) {
    let (here, here_line) = at;
    if let Some((file, line)) = ids.get(id) {
        diags.error(
            here,
            *here_line,
            format!(
                "duplicate lesson id {id:?}: already used at {}:{line}",
                file.display()
            ),
        );
    } else if !diags.has_errors() {
        ids.insert(id.to_owned(), at.clone());
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
