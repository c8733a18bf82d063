//! Turns an importer's [`Draft`] into a [`Lesson`]: validates the id and the
//! node names, parses every page and step in the Markdown dialect, and merges
//! checks defined outside the Markdown.

use std::path::PathBuf;

use protocol::api::Step;
use protocol::dialect::placeholders;

use super::diag::Diagnostics;
use super::import::draft::{Draft, DraftStep};
use super::markdown::{self, Context, Kind, Source};
use super::{Capture, Lesson, LessonStep, Runnable};

/// Parses every step of `draft` and builds the lesson. Problems go to `diags`.
pub fn assemble(draft: Draft, diags: &mut Diagnostics) -> Lesson {
    check_id(&draft, diags);
    let names: Vec<String> = draft.nodes.iter().map(|n| n.name.clone()).collect();
    check_node_names(&draft, &names, diags);
    let ctx = Context {
        nodes: &names,
        dir: &draft.dir,
    };
    // Every runnable block with its file and line, in the order a learner
    // meets them: intro, steps, finish.
    let mut runnables = Vec::new();
    let intro = page(&draft.intro, &ctx, &mut runnables, diags);
    let steps = draft
        .steps
        .into_iter()
        .map(|step| assemble_step(step, &ctx, &mut runnables, diags))
        .collect();
    let finish = page(&draft.finish, &ctx, &mut runnables, diags);
    let captures = captures(&runnables, diags);
    let mut summary = draft.summary;
    summary.nodes = names;
    Lesson {
        summary,
        nodes: draft.nodes,
        intro,
        finish,
        finish_on_enter: draft.finish_on_enter,
        steps,
        assets: draft.assets,
        source: Some(draft.dir),
        captures,
    }
}

/// A runnable block and where it starts.
struct Located {
    file: PathBuf,
    line: usize,
    block: Runnable,
}

/// The lesson's captures, one per name, checked across the whole lesson: a
/// name captured twice must mean the same (node and pattern); a `{{NAME}}`
/// no block captures, or that comes before the first block capturing it,
/// is reported (it would be typed as is, or have no value yet).
fn captures(runnables: &[Located], diags: &mut Diagnostics) -> Vec<Capture> {
    let mut declared: Vec<(Capture, &Located)> = Vec::new();
    for at in runnables {
        let Some(capture) = &at.block.capture else {
            continue;
        };
        match declared.iter().find(|(c, _)| c.name == capture.name) {
            Some((first, _)) if first == capture => {}
            Some((first, where_)) => diags.error(
                &at.file,
                at.line,
                format!(
                    "capture={} differs from the one at {}:{} (node {}, regex {:?}): one name, one value",
                    capture.name,
                    where_.file.display(),
                    where_.line,
                    first.node,
                    first.pattern.0.as_str()
                ),
            ),
            None => declared.push((capture.clone(), at)),
        }
    }
    for (i, at) in runnables.iter().enumerate() {
        for (_, name) in placeholders(&at.block.code) {
            let first = runnables
                .iter()
                .position(|r| r.block.capture.as_ref().is_some_and(|c| c.name == name));
            match first {
                // Only in a lesson that captures values, where it is likely a slip:
                // other lessons keep whatever braces their commands use.
                None if !declared.is_empty() => diags.warn(
                    &at.file,
                    at.line,
                    format!("{{{{{name}}}}} is typed as is: no block captures {name} (add capture={name} regex=\"...\" to the block that prints it)"),
                ),
                Some(first) if first >= i => diags.warn(
                    &at.file,
                    at.line,
                    format!(
                        "{{{{{name}}}}} comes before the block that captures it ({}:{}): it has no value yet when this block runs",
                        runnables[first].file.display(),
                        runnables[first].line
                    ),
                ),
                _ => {}
            }
        }
    }
    declared.into_iter().map(|(c, _)| c).collect()
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

/// The intro or finish page's Markdown (empty when the lesson has none);
/// its runnable blocks go to `runnables`.
fn page(
    src: &Option<Source>,
    ctx: &Context<'_>,
    runnables: &mut Vec<Located>,
    diags: &mut Diagnostics,
) -> String {
    let Some(src) = src else {
        return String::new();
    };
    let parsed = markdown::parse(src, Kind::Page, ctx, diags);
    locate(src, parsed.runnables, runnables);
    parsed.markdown
}

fn locate(src: &Source, blocks: Vec<(usize, Runnable)>, into: &mut Vec<Located>) {
    into.extend(blocks.into_iter().map(|(line, block)| Located {
        file: src.file.clone(),
        line,
        block,
    }));
}

/// Parses one step; a check defined outside the Markdown (lesson.toml,
/// index.json) wins over a check block, which is reported.
fn assemble_step(
    step: DraftStep,
    ctx: &Context<'_>,
    runnables: &mut Vec<Located>,
    diags: &mut Diagnostics,
) -> LessonStep {
    let parsed = markdown::parse(&step.source, Kind::Step, ctx, diags);
    locate(&step.source, parsed.runnables, runnables);
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
    let on_enter = &step.on_enter;
    let nodes = on_enter.background.iter().map(|s| &s.node);
    for node in nodes.chain(on_enter.typed.iter().map(|r| &r.node)) {
        if !ctx.nodes.contains(node) {
            diags.error(
                &step.source.file,
                0,
                format!("the step's on-enter script runs in unknown node {node:?}"),
            );
        }
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
        on_enter: step.on_enter,
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

    use std::path::Path;

    use crate::lessons::{LessonNode, Resources};

    /// A lesson with nodes node1 and node2 and these steps.
    fn lesson(steps: &[&str]) -> (Lesson, Vec<String>) {
        let mut draft = Draft::new(Path::new("/l"), Path::new("/l/lesson.toml"), 1);
        draft.summary.id = "l".into();
        draft.nodes = ["node1", "node2"]
            .iter()
            .map(|n| LessonNode {
                name: (*n).into(),
                image: "base".into(),
                setup: None,
                resources: Resources::default(),
            })
            .collect();
        draft.steps = steps
            .iter()
            .enumerate()
            .map(|(i, text)| DraftStep {
                source: Source::new(Path::new(&format!("{}.md", i + 1)), text, 1),
                fallback_title: "Step".into(),
                check: None,
                solution_script: None,
                on_enter: Default::default(),
            })
            .collect();
        let mut diags = Diagnostics::default();
        let lesson = assemble(draft, &mut diags);
        (lesson, diags.items.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn captures_are_declared_once_and_shown_in_the_detail() {
        let (lesson, diags) = lesson(&[
            "```sh run=node1 capture=JOIN regex=\"docker swarm join .*\"\ndocker swarm init\n```\n",
            "```sh run=node1 capture=JOIN regex=\"docker swarm join .*\"\ndocker swarm join-token worker\n```\n```sh run=node2\n{{JOIN}}\n```\n",
        ]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(lesson.captures.len(), 1);
        let detail = lesson.detail();
        assert_eq!(detail.captures.len(), 1);
        assert_eq!(
            (
                detail.captures[0].name.as_str(),
                detail.captures[0].node.as_str()
            ),
            ("JOIN", "node1")
        );
        assert_eq!(lesson.steps[1].text_blocks[1].code, "{{JOIN}}");
    }

    #[test]
    fn capture_mistakes_across_steps_are_reported() {
        let (_, diags) = lesson(&[
            "```sh run=node2\nping {{IP}} {{NOPE}} '{{.Name}}'\n```\n",
            "```sh run=node1 capture=IP regex=\"\\d+\\.\\d+\\.\\d+\\.\\d+\"\nhostname -i\n```\n```sh run=node2 capture=IP regex=x\nhostname -i\n```\n",
        ]);
        assert_eq!(diags.len(), 3, "{diags:#?}");
        assert!(
            diags[0].starts_with("2.md:4: capture=IP differs from the one at 2.md:1 (node node1"),
            "{}",
            diags[0]
        );
        assert_eq!(diags[1], "1.md:1: warning: {{IP}} comes before the block that captures it (2.md:1): it has no value yet when this block runs");
        assert_eq!(diags[2], "1.md:1: warning: {{NOPE}} is typed as is: no block captures NOPE (add capture=NOPE regex=\"...\" to the block that prints it)");
    }

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
