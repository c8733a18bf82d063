//! Problems found while loading lessons, as `file:line: message`, so an
//! author's editor can jump to them. Errors keep a lesson from being served;
//! warnings (mostly importers saying what they could not map) do not.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// From 1; 0 when the problem is about the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        match self.severity {
            Severity::Error => write!(f, ": {}", self.message),
            Severity::Warning => write!(f, ": warning: {}", self.message),
        }
    }
}

/// Collects the problems of one lesson.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.push(Severity::Error, file, line, message.into());
    }

    pub fn warn(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.push(Severity::Warning, file, line, message.into());
    }

    fn push(&mut self, severity: Severity, file: &Path, line: usize, message: String) {
        self.items.push(Diagnostic {
            severity,
            file: file.to_owned(),
            line,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.items.len() - self.errors()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The first line of `text` containing `needle`, or 0: for formats whose
/// parser gives no positions (JSON values), good enough to point an author at.
pub fn line_containing(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_file_line_message() {
        let mut d = Diagnostics::default();
        d.error(Path::new("a/lesson.toml"), 3, "unknown node \"node9\"");
        d.warn(Path::new("a/index.json"), 0, "ignored");
        assert_eq!(
            d.items[0].to_string(),
            "a/lesson.toml:3: unknown node \"node9\""
        );
        assert_eq!(d.items[1].to_string(), "a/index.json: warning: ignored");
        assert_eq!((d.errors(), d.warnings()), (1, 1));
        assert_eq!(line_of_offset("a\nb\nc", 2), 2);
        assert_eq!(line_containing("x\n\"y\": 1\n", "\"y\""), 2);
    }
}
