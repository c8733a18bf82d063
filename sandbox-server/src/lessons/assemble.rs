//! Turns an importer's [`Draft`] into a [`Lesson`]: validates the id and the
//! node names, parses every page and step in the Markdown dialect, and merges
//! checks defined outside the Markdown.

use protocol::api::Step;

use super::diag::Diagnostics;
use super::import::draft::{Draft, DraftStep};
use super::markdown::{self, Context, Kind, Source};
use super::{Lesson, LessonStep};

/// Parses every step of `draft` and builds the lesson. Problems go to `diags`.
pub fn assemble(draft: Draft, diags: &mut Diagnostics) -> Lesson {
    check_id(&draft, diags);
    let names: Vec<String> = draft.nodes.iter().map(|n| n.name.clone()).collect();
    check_node_names(&draft, &names, diags);
    let ctx = Context {
        nodes: &names,
        dir: &draft.dir,
    };
    let intro = page(&draft.intro, &ctx, diags);
    let finish = page(&draft.finish, &ctx, diags);
    let steps = draft
        .steps
        .into_iter()
        .map(|step| assemble_step(step, &ctx, diags))
        .collect();
    let mut summary = draft.summary;
    summary.nodes = names;
    Lesson {
        summary,
        nodes: draft.nodes,
        intro,
        finish,
        steps,
        assets: draft.assets,
        source: Some(draft.dir),
    }
}

/// Reports an id the API and the store cannot take, where the id is written.
fn check_id(draft: &Draft, diags: &mut Diagnostics) {
    let (id_file, id_line) = &draft.id_at;
    if !valid_id(&draft.summary.id) {
        diags.error(
            id_file,
            *id_line,
            format!(
                "lesson id {:?}: use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit (at most 64)",
                draft.summary.id
            ),
        );
    }
}

/// Reports node names that are no hostname, and names declared twice. A
/// lesson may have no nodes: an imported post to read only.
fn check_node_names(draft: &Draft, names: &[String], diags: &mut Diagnostics) {
    let id_file = &draft.id_at.0;
    for (i, name) in names.iter().enumerate() {
        if !valid_node_name(name) {
            diags.error(
                id_file,
                0,
                format!("node name {name:?}: use lower-case letters, digits and '-' (a hostname, at most 32)"),
            );
        }
        if names[..i].contains(name) {
            diags.error(id_file, 0, format!("node {name:?} is declared twice"));
        }
    }
}

/// The intro or finish page's Markdown (empty when the lesson has none).
fn page(src: &Option<Source>, ctx: &Context<'_>, diags: &mut Diagnostics) -> String {
    src.as_ref()
        .map(|s| markdown::parse(s, Kind::Page, ctx, diags).markdown)
        .unwrap_or_default()
}

/// Parses one step; a check defined outside the Markdown (lesson.toml,
/// index.json) wins over a check block, which is reported.
fn assemble_step(step: DraftStep, ctx: &Context<'_>, diags: &mut Diagnostics) -> LessonStep {
    let parsed = markdown::parse(&step.source, Kind::Step, ctx, diags);
    let mut check = parsed.check;
    if let Some(outside) = step.check {
        if check.is_some() {
            diags.error(
                &step.source.file,
                0,
                "this step has a check block and a check script elsewhere; keep one",
            );
        }
        if !ctx.nodes.contains(&outside.node) {
            diags.error(
                &step.source.file,
                0,
                format!("check in unknown node {:?}", outside.node),
            );
        }
        check = Some(outside);
    }
    let view = Step {
        title: parsed.title.unwrap_or(step.fallback_title),
        markdown: parsed.markdown,
        has_check: check.is_some(),
        hint: parsed.hint,
        solution: parsed.solution,
    };
    LessonStep {
        view,
        check,
        solution_script: step.solution_script,
        text_blocks: parsed.text_blocks,
        solution_blocks: parsed.solution_blocks,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_node_names() {
        assert!(valid_id("linux-basics"));
        assert!(valid_id("k8s.intro_2"));
        assert!(!valid_id("Linux"));
        assert!(!valid_id("-x"));
        assert!(valid_node_name("node1"));
        assert!(!valid_node_name("Node 1"));
    }
}
