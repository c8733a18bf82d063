//! Drafts for the tests of the importers' passes over a draft (`carry`,
//! `prose`): nodes `node1`..`nodeN`, one step per text.

use std::path::Path;

use super::draft::{Draft, DraftStep};
use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::Source;
use crate::lessons::{LessonNode, Resources};

/// A draft of `/l/post.md` with `nodes` dind nodes and a step per text of
/// `steps` (each starting at line 10).
pub fn draft(nodes: usize, steps: &[&str]) -> Draft {
    let mut d = Draft::new(Path::new("/l"), Path::new("/l/post.md"), 1);
    d.nodes = (1..=nodes)
        .map(|n| LessonNode {
            name: format!("node{n}"),
            image: "dind".into(),
            setup: None,
            resources: Resources::default(),
        })
        .collect();
    d.steps = steps
        .iter()
        .map(|t| DraftStep {
            source: Source::new(Path::new("/l/post.md"), t, 10),
            ..Default::default()
        })
        .collect();
    d
}

/// The text of step `step` of `d`, as it is now.
pub fn text(d: &Draft, step: usize) -> String {
    d.steps[step]
        .source
        .lines
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every diagnostic, as printed.
pub fn warnings(diags: &Diagnostics) -> Vec<String> {
    diags.items.iter().map(|d| d.to_string()).collect()
}
