//! The step Markdown dialect every lesson format ends up in (see
//! `docs/lessons.md` and [`protocol::api::LessonDetail`]): fenced blocks with
//! `run=NODE` (plus `interrupt`) or `copy`, `check=NODE` blocks that hold the
//! step's check, `## Hint` and `## Solution` sections, and
//! `preview:NODE:PORT/path` links.
//!
//! The block structure (which lines are fenced or indented code, which are
//! headings) comes from pulldown-cmark, the parser the web app renders with,
//! so both agree on what a block is, also inside lists and block quotes.
//! Every diagnostic must point at the line an author wrote, also for text an
//! importer converted: the parser's byte offsets are mapped back to the
//! source's lines (each line carries its source line number), and the
//! step's text is cut into sections by whole lines, keeping what the author
//! wrote byte for byte.

mod outline;

use std::path::{Path, PathBuf};

use outline::{outline, FencedBlock};

use protocol::dialect::{info_words, is_capture_name, MAX_CAPTURE_NAME};

use super::diag::Diagnostics;
use super::{Capture, CapturePattern, Check, Runnable, Script, DEFAULT_CHECK_TIMEOUT_SECS};

/// Longest check timeout a lesson may ask for.
pub const MAX_CHECK_TIMEOUT_SECS: u64 = 600;

/// Text to parse, each line with its line number in `file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    pub lines: Vec<(usize, String)>,
}

impl Source {
    /// `text` as found in `file`, numbered from `first_line`.
    pub fn new(file: &Path, text: &str, first_line: usize) -> Source {
        Source {
            file: file.to_owned(),
            lines: text
                .lines()
                .enumerate()
                .map(|(i, l)| (first_line + i, l.to_owned()))
                .collect(),
        }
    }

    pub fn push(&mut self, line: usize, text: impl Into<String>) {
        self.lines.push((line, text.into()));
    }

    /// Line number of the first line, or 1.
    pub fn first_line(&self) -> usize {
        self.lines.first().map_or(1, |(n, _)| *n)
    }
}

/// An opening code fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub ch: char,
    pub len: usize,
    pub info: String,
}

/// The fence a line opens, if any (CommonMark: up to three spaces, then at
/// least three backticks or tildes; a backtick fence's info has no backtick).
pub fn fence_open(line: &str) -> Option<Fence> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some(Fence {
        ch,
        len,
        info: info.to_owned(),
    })
}

/// Does `line` close `fence`?
pub fn fence_closes(line: &str, fence: &Fence) -> bool {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return false;
    }
    let len = trimmed.chars().take_while(|c| *c == fence.ch).count();
    len >= fence.len && trimmed[len..].trim().is_empty()
}

/// The attributes of a fenced block's info string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockInfo {
    pub lang: Option<String>,
    pub run: Option<String>,
    pub interrupt: bool,
    /// `fails`: the block shows an error on purpose (a worker refusing a
    /// manager's command); `lesson test` expects a non-zero exit.
    pub fails: bool,
    pub copy: bool,
    pub check: Option<String>,
    pub timeout: Option<String>,
    pub file: Option<String>,
    /// `capture=NAME`: the block's output gives the value `{{NAME}}`.
    pub capture: Option<String>,
    /// `regex="..."`: which part of the output is the captured value.
    pub regex: Option<String>,
    /// Words the dialect does not know.
    pub unknown: Vec<String>,
}

/// Parses `sh run=node1 interrupt` and friends, split into words as the web
/// app splits them ([`protocol::dialect::info_words`]: values may be quoted).
/// The first word is the language unless it is one of the dialect's own words.
pub fn parse_info(info: &str) -> BlockInfo {
    let mut out = BlockInfo::default();
    for (i, word) in info_words(info).into_iter().enumerate() {
        match word.split_once('=') {
            Some(("run", v)) => out.run = Some(v.to_owned()),
            Some(("check", v)) => out.check = Some(v.to_owned()),
            Some(("timeout", v)) => out.timeout = Some(v.to_owned()),
            Some(("file", v)) => out.file = Some(v.to_owned()),
            Some(("capture", v)) => out.capture = Some(v.to_owned()),
            Some(("regex", v)) => out.regex = Some(v.to_owned()),
            None if word == "interrupt" => out.interrupt = true,
            None if word == "fails" => out.fails = true,
            None if word == "copy" => out.copy = true,
            None if i == 0 => out.lang = Some(word.trim_start_matches('.').to_owned()),
            _ => out.unknown.push(word),
        }
    }
    out
}

/// What the parser needs to know about the lesson.
pub struct Context<'a> {
    pub nodes: &'a [String],
    /// The lesson's directory: `file=` paths are relative to it.
    pub dir: &'a Path,
}

impl Context<'_> {
    fn knows(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n == node)
    }

    fn node_list(&self) -> String {
        self.nodes.join(", ")
    }
}

/// A parsed step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedStep {
    /// The first line's `# Heading`, if the step starts with one.
    pub title: Option<String>,
    pub markdown: String,
    pub hint: Option<String>,
    pub solution: Option<String>,
    pub check: Option<Check>,
    pub text_blocks: Vec<Runnable>,
    pub solution_blocks: Vec<Runnable>,
    /// Where each runnable block starts (its opening fence's line) and the
    /// block, captures and placeholders included, in order, wherever it is
    /// (hint and page blocks too: the web app runs them): what the lesson's
    /// checks of captures across steps need ([`super::assemble`]).
    pub runnables: Vec<(usize, Runnable)>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Section {
    #[default]
    Text,
    Hint,
    Solution,
}

/// Whether the text is a step (title, sections, checks) or a page (intro, finish).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Step,
    Page,
}

/// Parses one step (or page) and reports every problem into `diags`.
pub fn parse(src: &Source, kind: Kind, ctx: &Context<'_>, diags: &mut Diagnostics) -> ParsedStep {
    let outline = outline(src);
    let mut fences = outline.fences.into_iter().peekable();
    let mut step = StepParser {
        src,
        kind,
        ctx,
        out: ParsedStep::default(),
        sections: Sections::default(),
        seen_content: false,
    };
    let mut i = 0;
    while i < src.lines.len() {
        while fences.next_if(|f| f.first < i).is_some() {}
        if let Some(fence) = fences.next_if(|f| f.first == i) {
            i = fence.last + 1;
            step.fenced(fence, diags);
            continue;
        }
        if !(outline.headings[i] && step.heading(i, diags)) {
            step.text(i, outline.indented[i], diags);
        }
        i += 1;
    }
    step.finish()
}

/// One step being parsed, line by line, with the outline's blocks.
struct StepParser<'a> {
    src: &'a Source,
    kind: Kind,
    ctx: &'a Context<'a>,
    out: ParsedStep,
    sections: Sections,
    /// Whether anything but blank lines came yet (a title must come first).
    seen_content: bool,
}

impl StepParser<'_> {
    /// A fenced block: validated and recorded; its lines stay in the
    /// current section unless it is a check.
    fn fenced(&mut self, fence: FencedBlock, diags: &mut Diagnostics) {
        let file = &self.src.file;
        let lineno = self.src.lines[fence.first].0;
        if !fence.closed {
            diags.error(
                file,
                lineno,
                format!(
                    "code block is never closed (add a line with {})",
                    fence.marker
                ),
            );
        }
        let info = parse_info(&fence.info);
        let section = self.sections.current;
        let keep = block(
            &info,
            fence.code,
            lineno,
            self.kind,
            section,
            self.ctx,
            file,
            &mut self.out,
            diags,
        );
        if keep {
            for (_, l) in &self.src.lines[fence.first..=fence.last] {
                self.sections.push(l);
            }
        }
        self.seen_content = true;
    }

    /// A line where a heading starts: the step's title when it comes first,
    /// or the start of a section (`## Hint`, `## Solution`; any other
    /// heading of level 1 or 2 goes back to the text). Returns whether the
    /// line was taken (else it is text). Only ATX headings at the start of
    /// a line count: a setext underline or an indented `#` stays text.
    fn heading(&mut self, i: usize, diags: &mut Diagnostics) -> bool {
        let (lineno, line) = &self.src.lines[i];
        let Some((level, heading)) = heading(line) else {
            return false;
        };
        if self.kind != Kind::Step || level > 2 {
            return false;
        }
        if level == 1 && !self.seen_content && self.out.title.is_none() {
            self.out.title = Some(heading.to_owned());
            return true;
        }
        let name = heading.trim_end_matches(':').trim().to_ascii_lowercase();
        let next = match name.as_str() {
            "hint" | "hints" => Section::Hint,
            "solution" => Section::Solution,
            _ => {
                self.sections.current = Section::Text;
                return false;
            }
        };
        let taken = match next {
            Section::Hint => self.out.hint.is_some() || !self.sections.hint.is_empty(),
            _ => !self.sections.solution.is_empty(),
        };
        if taken {
            diags.error(
                &self.src.file,
                *lineno,
                format!("a second `## {heading}` section"),
            );
        }
        self.sections.current = next;
        true
    }

    /// Any other line: kept in the current section; its `preview:` links
    /// are checked unless it is indented code (shown as is, no link).
    fn text(&mut self, i: usize, indented_code: bool, diags: &mut Diagnostics) {
        let (lineno, line) = &self.src.lines[i];
        if !line.trim().is_empty() {
            self.seen_content = true;
        }
        if !indented_code {
            check_previews(line, *lineno, self.ctx, &self.src.file, diags);
        }
        self.sections.push(line);
    }

    fn finish(self) -> ParsedStep {
        let mut out = self.out;
        out.markdown = join(&self.sections.text);
        let hint = join(&self.sections.hint);
        out.hint = (!hint.is_empty()).then_some(hint);
        let solution = join(&self.sections.solution);
        out.solution = (!solution.is_empty()).then_some(solution);
        out
    }
}

/// The lines of a step's text, hint and solution, and which one is being read.
#[derive(Default)]
struct Sections {
    current: Section,
    text: Vec<String>,
    hint: Vec<String>,
    solution: Vec<String>,
}

impl Sections {
    fn push(&mut self, line: &str) {
        let target = match self.current {
            Section::Text => &mut self.text,
            Section::Hint => &mut self.hint,
            Section::Solution => &mut self.solution,
        };
        target.push(line.to_owned());
    }
}

/// Validates one fenced block and records what it means; returns whether
/// the block stays in the learner's text (check blocks do not).
#[allow(clippy::too_many_arguments)]
fn block(
    info: &BlockInfo,
    code: String,
    line: usize,
    kind: Kind,
    section: Section,
    ctx: &Context<'_>,
    file: &Path,
    out: &mut ParsedStep,
    diags: &mut Diagnostics,
) -> bool {
    for word in &info.unknown {
        diags.warn(
            file,
            line,
            format!("unknown code block attribute {word:?} (known: run=NODE, interrupt, fails, copy, capture=NAME, regex=\"...\", check=NODE, timeout=SECS, file=PATH)"),
        );
    }
    if let Some(node) = &info.check {
        if kind == Kind::Page {
            diags.error(
                file,
                line,
                "a check belongs in a step, not in the intro or finish page",
            );
            return false;
        }
        if info.run.is_some() || info.copy || info.interrupt || info.capture.is_some() {
            diags.error(
                file,
                line,
                "a check block cannot also be run=, copy, interrupt or capture=",
            );
        }
        if !ctx.knows(node) {
            diags.error(
                file,
                line,
                format!(
                    "check in unknown node {node:?} (nodes: {})",
                    ctx.node_list()
                ),
            );
        }
        let timeout_secs = match &info.timeout {
            None => DEFAULT_CHECK_TIMEOUT_SECS,
            Some(t) => match t.parse::<u64>() {
                Ok(t) if (1..=MAX_CHECK_TIMEOUT_SECS).contains(&t) => t,
                _ => {
                    diags.error(
                        file,
                        line,
                        format!("timeout={t}: expected whole seconds from 1 to {MAX_CHECK_TIMEOUT_SECS}"),
                    );
                    DEFAULT_CHECK_TIMEOUT_SECS
                }
            },
        };
        let body = match &info.file {
            Some(path) => {
                if !code.trim().is_empty() {
                    diags.warn(
                        file,
                        line,
                        "a check block with file= should be empty; its text is ignored",
                    );
                }
                match read_relative(ctx.dir, path) {
                    Ok(text) => text,
                    Err(message) => {
                        diags.error(file, line, format!("check script {message}"));
                        String::new()
                    }
                }
            }
            None => code,
        };
        if body.trim().is_empty() && info.file.is_none() {
            diags.error(file, line, "the check block is empty");
        }
        if out.check.is_some() {
            diags.error(file, line, "a step has one check; this is the second");
        }
        out.check = Some(Check {
            node: node.clone(),
            script: Script { body, timeout_secs },
            grader: None,
        });
        return false;
    }
    if info.timeout.is_some() || info.file.is_some() {
        diags.warn(
            file,
            line,
            "timeout= and file= only apply to check blocks; ignored",
        );
    }
    if let Some(node) = &info.run {
        if info.copy {
            diags.error(file, line, "a block is either run=NODE or copy, not both");
        }
        if !ctx.knows(node) {
            diags.error(
                file,
                line,
                format!(
                    "run= names unknown node {node:?} (nodes: {})",
                    ctx.node_list()
                ),
            );
        }
        let runnable = Runnable {
            node: node.clone(),
            code,
            interrupt: info.interrupt,
            fails: info.fails,
            capture: capture(info, node, line, file, diags),
        };
        out.runnables.push((line, runnable.clone()));
        match section {
            Section::Text => out.text_blocks.push(runnable),
            Section::Solution => out.solution_blocks.push(runnable),
            Section::Hint => {}
        }
    } else {
        if info.interrupt {
            diags.error(
                file,
                line,
                "interrupt needs run=NODE (Ctrl-C goes to that node)",
            );
        }
        if info.fails {
            diags.warn(file, line, "fails only applies with run=NODE; ignored");
        }
        if info.capture.is_some() {
            diags.error(
                file,
                line,
                "capture= needs run=NODE (the value comes from that node's output)",
            );
        } else if info.regex.is_some() {
            diags.warn(file, line, "regex= only applies with capture=NAME; ignored");
        }
    }
    true
}

/// The capture a runnable block on `node` declares, validated: a name
/// `{{NAME}}` can stand for, and a pattern that compiles.
fn capture(
    info: &BlockInfo,
    node: &str,
    line: usize,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<Capture> {
    let Some(name) = &info.capture else {
        if info.regex.is_some() {
            diags.warn(file, line, "regex= only applies with capture=NAME; ignored");
        }
        return None;
    };
    if !is_capture_name(name) {
        diags.error(
            file,
            line,
            format!("capture={name}: a name is upper-case letters, digits and _, starting with a letter (at most {MAX_CAPTURE_NAME}), as in capture=JOIN"),
        );
        return None;
    }
    let Some(source) = &info.regex else {
        diags.error(
            file,
            line,
            format!("capture={name} needs regex=\"...\": the part of {node}'s output that is the value (quote it if it has spaces)"),
        );
        return None;
    };
    match CapturePattern::new(source) {
        Ok(pattern) => Some(Capture {
            name: name.clone(),
            node: node.to_owned(),
            pattern,
        }),
        Err(why) => {
            diags.error(file, line, format!("regex={source:?}: {why}"));
            None
        }
    }
}

/// Reads `path` relative to `dir`, refusing paths that leave it.
pub fn read_relative(dir: &Path, path: &str) -> Result<String, String> {
    let full = resolve_relative(dir, path)?;
    std::fs::read_to_string(&full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("{path} not found")
        } else {
            format!("{path}: {e}")
        }
    })
}

/// `dir/path`, if `path` is relative and stays inside `dir`.
pub fn resolve_relative(dir: &Path, path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "{path}: must be a path inside the lesson directory"
        ));
    }
    Ok(dir.join(p))
}

/// `(level, text)` of an ATX heading.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    Some((level, rest.trim().trim_end_matches('#').trim()))
}

/// Reports `preview:` links that name an unknown node or a bad port.
fn check_previews(
    line: &str,
    lineno: usize,
    ctx: &Context<'_>,
    file: &Path,
    diags: &mut Diagnostics,
) {
    let mut rest = line;
    while let Some(pos) = rest.find("preview:") {
        let after = &rest[pos + "preview:".len()..];
        rest = after;
        if after.starts_with(char::is_whitespace) || after.is_empty() {
            continue;
        }
        let target: String = after
            .chars()
            .take_while(|c| !matches!(c, ')' | '>' | '"' | '\'' | ' '))
            .collect();
        match parse_preview(&target) {
            Some((node, _, _)) if !ctx.knows(node) => diags.error(
                file,
                lineno,
                format!(
                    "preview link to unknown node {node:?} (nodes: {})",
                    ctx.node_list()
                ),
            ),
            Some(_) => {}
            None => diags.error(
                file,
                lineno,
                format!(
                    "preview:{target}: expected preview:NODE:PORT/path with a port from 1 to 65535"
                ),
            ),
        }
    }
}

/// Splits `NODE:PORT/path` into its parts.
pub fn parse_preview(target: &str) -> Option<(&str, u16, &str)> {
    let (node, rest) = target.split_once(':')?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let port: u16 = rest[..digits].parse().ok().filter(|p| *p > 0)?;
    let path = &rest[digits..];
    if node.is_empty() || !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((node, port, path))
}

/// Lines joined, without blank lines at either end.
fn join(lines: &[String]) -> String {
    let start = lines.iter().position(|l| !l.trim().is_empty());
    let end = lines.iter().rposition(|l| !l.trim().is_empty());
    match (start, end) {
        (Some(s), Some(e)) => lines[s..=e].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (ParsedStep, Diagnostics) {
        let nodes = vec!["node1".to_string(), "node2".to_string()];
        let ctx = Context {
            nodes: &nodes,
            dir: Path::new("/nonexistent"),
        };
        let mut diags = Diagnostics::default();
        let src = Source::new(Path::new("s.md"), text, 1);
        let parsed = parse(&src, Kind::Step, &ctx, &mut diags);
        (parsed, diags)
    }

    #[test]
    fn info_strings() {
        let i = parse_info("sh run=node1 interrupt");
        assert_eq!(i.lang.as_deref(), Some("sh"));
        assert_eq!(i.run.as_deref(), Some("node1"));
        assert!(i.interrupt);
        assert!(!i.fails);
        assert!(parse_info("sh run=node1 fails").fails);
        let i = parse_info("run=node2 copy x");
        assert_eq!(i.lang, None);
        assert!(i.copy);
        assert_eq!(i.unknown, vec!["x"]);
    }

    #[test]
    fn step_parts_are_separated() {
        let text = "# Say hello\n\nRun it:\n\n```sh run=node1\necho hi > /tmp/x\n```\n\nOpen [the app](preview:node2:8080/index.html).\n\n```sh check=node1 timeout=5\ntest -f /tmp/x\n```\n\n## Hint\n\nUse echo.\n\n## Solution\n\n````bash run=node1\necho hi > /tmp/x\n````\n";
        let (p, d) = parse_text(text);
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert_eq!(p.title.as_deref(), Some("Say hello"));
        assert!(p.markdown.starts_with("Run it:"));
        assert!(!p.markdown.contains("check="));
        assert!(p.markdown.ends_with("(preview:node2:8080/index.html)."));
        assert_eq!(p.hint.as_deref(), Some("Use echo."));
        assert!(p.solution.as_deref().unwrap().contains("echo hi"));
        let check = p.check.unwrap();
        assert_eq!(
            (check.node.as_str(), check.script.timeout_secs),
            ("node1", 5)
        );
        assert_eq!(check.script.body, "test -f /tmp/x");
        assert_eq!(p.text_blocks.len(), 1);
        assert_eq!(p.solution_blocks.len(), 1);
    }

    #[test]
    fn problems_name_their_lines() {
        let text = "# T\n```sh run=node9\nls\n```\n[x](preview:node3:80) [y](preview:node1:99999)\n```sh check=node1 timeout=0\ntrue\n```\n```sh interrupt\nx\n```\n```\nnever closed\n";
        let (_, d) = parse_text(text);
        let lines: Vec<String> = d.items.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "s.md:2: run= names unknown node \"node9\" (nodes: node1, node2)",
                "s.md:5: preview link to unknown node \"node3\" (nodes: node1, node2)",
                "s.md:5: preview:node1:99999: expected preview:NODE:PORT/path with a port from 1 to 65535",
                "s.md:6: timeout=0: expected whole seconds from 1 to 600",
                "s.md:9: interrupt needs run=NODE (Ctrl-C goes to that node)",
                "s.md:12: code block is never closed (add a line with ```)",
            ]
        );
    }

    fn runnables(blocks: &[Runnable]) -> Vec<(&str, &str)> {
        blocks
            .iter()
            .map(|b| (b.node.as_str(), b.code.as_str()))
            .collect()
    }

    /// A fence inside a list item is a block (as the web app shows it), its
    /// code without the item's indentation; a fence indented four spaces
    /// under a `1. ` item is one too (a line-based parser saw plain text).
    #[test]
    fn fences_inside_lists() {
        let text = "# T\n1. Start it:\n\n   ```sh run=node1\n   echo a\n     echo b\n   ```\n2. Then:\n\n    ```sh run=node2\n    ls\n    ```\n> ```sh run=node1\n> pwd\n> ```\n";
        let (p, d) = parse_text(text);
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert_eq!(
            runnables(&p.text_blocks),
            vec![
                ("node1", "echo a\n  echo b"),
                ("node2", "ls"),
                ("node1", "pwd")
            ]
        );
        // The text is kept byte for byte.
        assert_eq!(p.markdown, text.trim_end().trim_start_matches("# T\n"));
    }

    /// `~~~` fences work like backtick fences (and may hold backticks); a
    /// fence left open in a list item ends with the item, so what follows
    /// the list is still parsed.
    #[test]
    fn tilde_fences_and_unclosed_fences_in_lists() {
        let text = "~~~sh run=node1\necho ```\n~~~\n- ```sh run=node2\n  uname\n\nAfter [it](preview:node9:80).\n\n## Solution\n\n~~~~ run=node1\ntrue\n~~~~\n";
        let (p, d) = parse_text(text);
        let lines: Vec<String> = d.items.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "s.md:4: code block is never closed (add a line with ```)",
                "s.md:7: preview link to unknown node \"node9\" (nodes: node1, node2)",
            ]
        );
        assert_eq!(
            runnables(&p.text_blocks),
            // The blank line before the paragraph still belongs to the item.
            vec![("node1", "echo ```"), ("node2", "uname\n")]
        );
        assert_eq!(runnables(&p.solution_blocks), vec![("node1", "true")]);
    }

    /// Indented code is code: a fence or a `preview:` in it means nothing,
    /// and `#` lines in a fence or a setext underline make no section.
    #[test]
    fn indented_code_and_headings_in_code() {
        let text = "Text\n\n    ```sh run=node1\n    open preview:nowhere\n    ```\n\n```sh\n## Hint\n```\n\nHint\n----\n\n## Hint\n\nUse it.\n";
        let (p, d) = parse_text(text);
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert!(p.text_blocks.is_empty());
        assert!(p.markdown.contains("    open preview:nowhere\n"));
        assert!(p.markdown.ends_with("Hint\n----"));
        assert_eq!(p.hint.as_deref(), Some("Use it."));
    }

    /// `capture=NAME regex="..."` on a runnable block: the quoted pattern
    /// keeps its spaces; a group picks the value.
    #[test]
    fn capture_blocks() {
        let text = "```sh run=node1 capture=JOIN regex=\"docker swarm join --token \\S+ \\S+\"\ndocker swarm init\n```\n```sh run=node2 capture=IP regex='inet (\\S+)/'\nip a\n```\n";
        let (p, d) = parse_text(text);
        assert!(d.items.is_empty(), "{:?}", d.items);
        let join = p.text_blocks[0].capture.as_ref().unwrap();
        assert_eq!((join.name.as_str(), join.node.as_str()), ("JOIN", "node1"));
        assert_eq!(
            join.pattern
                .find("    docker swarm join --token SWMTKN-1-x 10.1.0.2:2377  "),
            Some("docker swarm join --token SWMTKN-1-x 10.1.0.2:2377".into())
        );
        let ip = p.text_blocks[1].capture.as_ref().unwrap();
        assert_eq!(
            ip.pattern.find("    inet 10.1.0.3/27 brd"),
            Some("10.1.0.3".into())
        );
        assert_eq!(ip.pattern.find("no address"), None);
        assert_eq!(p.runnables.len(), 2);
        assert_eq!(p.runnables[1].0, 4);
    }

    #[test]
    fn bad_captures_name_their_lines() {
        let text = "```sh run=node1 capture=join regex=x\nls\n```\n```sh run=node1 capture=A\nls\n```\n```sh capture=B regex=x\nls\n```\n```sh run=node1 capture=C regex=\"(a\"\nls\n```\n```sh run=node1 capture=D regex=\"(a)(b)\"\nls\n```\n```sh run=node1 regex=x\nls\n```\n```sh check=node1 capture=E regex=x\ntrue\n```\n";
        let (p, d) = parse_text(text);
        let lines: Vec<String> = d.items.iter().map(|d| d.to_string()).collect();
        assert_eq!(lines.len(), 7, "{lines:#?}");
        assert!(
            lines[0].starts_with("s.md:1: capture=join: a name is upper-case"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("s.md:4: capture=A needs regex=\"...\""),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[2],
            "s.md:7: capture= needs run=NODE (the value comes from that node's output)"
        );
        assert!(
            lines[3].starts_with("s.md:10: regex=\"(a\": regex parse error"),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].starts_with("s.md:13: regex=\"(a)(b)\": use at most one group"),
            "{}",
            lines[4]
        );
        assert_eq!(
            lines[5],
            "s.md:16: warning: regex= only applies with capture=NAME; ignored"
        );
        assert_eq!(
            lines[6],
            "s.md:19: a check block cannot also be run=, copy, interrupt or capture="
        );
        assert!(p.text_blocks.iter().all(|b| b.capture.is_none()));
    }

    #[test]
    fn previews_parse() {
        assert_eq!(parse_preview("node1:80"), Some(("node1", 80, "")));
        assert_eq!(parse_preview("node1:80/a?b"), Some(("node1", 80, "/a?b")));
        assert_eq!(parse_preview("node1"), None);
        assert_eq!(parse_preview("node1:0"), None);
        assert_eq!(parse_preview("node1:80x"), None);
    }
}
