//! What every importer produces and shares: the [`Draft`] of a lesson (its
//! Markdown still unparsed, each line keeping its source line) and the small
//! helpers importers have in common.

use std::path::{Path, PathBuf};

use protocol::api::LessonSummary;

use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{fence_closes, fence_open, resolve_relative, Fence, Source};
use crate::lessons::{Asset, Check, LessonNode, OnEnter, Runnable};

/// Largest asset file copied into a node.
pub const MAX_ASSET_BYTES: u64 = 1024 * 1024;

/// A lesson in any format, before its Markdown is parsed: what importers produce.
#[derive(Debug)]
pub struct Draft {
    pub summary: LessonSummary,
    /// Where the id was set, for duplicate-id messages.
    pub id_at: (PathBuf, usize),
    /// The id to use instead when the id, made by the importer (not written
    /// by the author), is another lesson's: two posts of a blog may share a
    /// name on different dates.
    pub id_if_taken: Option<String>,
    pub nodes: Vec<LessonNode>,
    pub intro: Option<Source>,
    pub finish: Option<Source>,
    /// What runs when a learner first reaches the finish page.
    pub finish_on_enter: OnEnter,
    pub steps: Vec<DraftStep>,
    pub assets: Vec<Asset>,
    /// The lesson's directory.
    pub dir: PathBuf,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            summary: LessonSummary {
                id: String::new(),
                title: String::new(),
                summary: String::new(),
                nodes: Vec::new(),
                difficulty: String::new(),
                minutes: 0,
                tags: Vec::new(),
            },
            id_at: Default::default(),
            id_if_taken: None,
            nodes: Vec::new(),
            intro: None,
            finish: None,
            finish_on_enter: OnEnter::default(),
            steps: Vec::new(),
            assets: Vec::new(),
            dir: PathBuf::new(),
        }
    }
}

impl Draft {
    /// An empty draft of the lesson in `dir`, its id set in `id_file` at `id_line`.
    pub fn new(dir: &Path, id_file: &Path, id_line: usize) -> Draft {
        Draft {
            dir: dir.to_owned(),
            id_at: (id_file.to_owned(), id_line),
            ..Default::default()
        }
    }
}

/// One step before parsing.
#[derive(Debug, Default)]
pub struct DraftStep {
    pub source: Source,
    /// Used when the Markdown does not start with a `# Title`.
    pub fallback_title: String,
    /// A check defined outside the Markdown (lesson.toml, index.json).
    pub check: Option<Check>,
    pub solution_script: Option<Runnable>,
    /// What runs when a learner first reaches the step.
    pub on_enter: OnEnter,
}

/// The fence `line` opens at any indentation, and that indentation:
/// published posts indent blocks inside list items by four spaces or more,
/// which pulldown-cmark (and so the dialect) reads as a block of the item.
pub fn nested_fence_open(line: &str) -> Option<(&str, Fence)> {
    let trimmed = line.trim_start_matches(' ');
    let indent = &line[..line.len() - trimmed.len()];
    fence_open(trimmed).map(|f| (indent, f))
}

/// Does `line` close `fence`, at any indentation?
pub fn nested_fence_closes(line: &str, fence: &Fence) -> bool {
    fence_closes(line.trim_start_matches(' '), fence)
}

/// "01-first-steps.md" -> "First steps".
pub fn title_from_file(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let words = stem
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_' || c == '.')
        .replace(['-', '_'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stem,
    }
}

/// A lesson id made of a file or directory name: lower case, anything but
/// letters, digits, `-`, `_` and `.` turned into `-`.
pub fn id_from_name(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
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

/// Reads a whole file an importer starts from; `None` (reported) when it cannot.
pub fn read_file(file: &Path, diags: &mut Diagnostics) -> Option<String> {
    match std::fs::read_to_string(file) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.error(file, 0, format!("cannot read: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_file_names() {
        assert_eq!(
            title_from_file(Path::new("steps/01-first-steps.md")),
            "First steps"
        );
        assert_eq!(title_from_file(Path::new("intro.md")), "Intro");
    }
}
