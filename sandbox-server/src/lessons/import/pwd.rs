//! Importer for play-with-docker training-site posts: one Markdown file
//! (`.md` or `.markdown`) with YAML front matter (`title`, `terms`, `image`,
//! `tags`, ...). Blocks whose info string is `.term1`, `.term2`... (or that
//! carry a kramdown `{:data-term=".term1"}` line) run on node1, node2...;
//! links with `data-term` and `data-port` (HTML or kramdown attributes)
//! become preview links; other HTML goes through [`super::html`]. Sections
//! split on the post's top headings become steps. A post with `terms: 0`
//! (a landing page, a reading-only post) is a lesson with no nodes.
//!
//! The front matter parser is a small hand parser for the flat keys these
//! posts use (scalars, `[a, b]` lists and `- item` lists), not general YAML.

use std::collections::BTreeMap;
use std::path::Path;

use protocol::api::LessonSummary;

use super::draft::{
    id_from_name, nested_fence_closes, nested_fence_open, read_file, Draft, DraftStep,
};
use super::html;
use super::settings::ImportSettings;
use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{Fence, Source};
use crate::lessons::{LessonNode, Resources};

/// Nodes a post may ask for.
const MAX_TERMS: usize = 8;

/// Front matter keys that only style the site; dropping them loses nothing a learner needs.
const COSMETIC_KEYS: &[&str] = &[
    "layout",
    "date",
    "author",
    "authors",
    "permalink",
    "img",
    "type",
    "redirect_from",
    "excerpt",
    "description",
    "categories",
    "category",
    "level",
];

/// The image play-with-docker's instances ran: here, the directory's node image.
const PWD_IMAGE: &str = "franela/dind";

/// Does `path` start with a `---` front matter block?
pub fn has_front_matter(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|t| t.lines().next().is_some_and(|l| l.trim_end() == "---"))
        .unwrap_or(false)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Scalar(String),
    List(Vec<String>),
}

impl Value {
    fn scalar(&self) -> String {
        match self {
            Value::Scalar(s) => s.clone(),
            Value::List(l) => l.join(", "),
        }
    }

    fn list(&self) -> Vec<String> {
        match self {
            Value::Scalar(s) if s.is_empty() => vec![],
            Value::Scalar(s) => vec![s.clone()],
            Value::List(l) => l.clone(),
        }
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_owned();
        }
    }
    s.to_owned()
}

/// Parses the front matter lines: key -> (value, line).
fn front_matter(
    lines: &[(usize, &str)],
    file: &Path,
    diags: &mut Diagnostics,
) -> BTreeMap<String, (Value, usize)> {
    let mut out: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    let mut last: Option<String> = None;
    for (n, line) in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(item) = trimmed.strip_prefix("- ") {
            match last.as_ref().and_then(|k| out.get_mut(k)) {
                Some((Value::List(l), _)) => l.push(unquote(item)),
                Some((v @ Value::Scalar(_), _)) if v.scalar().is_empty() => {
                    *v = Value::List(vec![unquote(item)])
                }
                _ => diags.warn(file, *n, "front matter list item without a key; ignored"),
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            diags.warn(
                file,
                *n,
                format!("front matter line {trimmed:?} is not `key: value`; ignored"),
            );
            continue;
        };
        if line.starts_with(' ') {
            diags.warn(
                file,
                *n,
                format!(
                    "nested front matter key {:?} is not supported; ignored",
                    key.trim()
                ),
            );
            continue;
        }
        let value = value.trim();
        let value = if value.starts_with('[') && value.ends_with(']') {
            Value::List(
                value[1..value.len() - 1]
                    .split(',')
                    .map(unquote)
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        } else {
            Value::Scalar(unquote(value))
        };
        out.insert(key.trim().to_owned(), (value, *n));
        last = Some(key.trim().to_owned());
    }
    out
}

/// Loads the post `file`; its nodes run `settings.node_image` unless the
/// post names another image.
pub fn load(file: &Path, settings: &ImportSettings, diags: &mut Diagnostics) -> Option<Draft> {
    let text = read_file(file, diags)?;
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
    let (meta_lines, body_lines) = split_front_matter(&lines, file, diags)?;
    let meta = Meta(front_matter(meta_lines, file, diags));
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut draft = Draft::new(dir, file, 0);
    if let Some((id, line)) = meta.get("id") {
        draft.summary.id = id.scalar();
        draft.id_at.1 = line;
    } else {
        draft.summary.id = id_from_file(file);
        let dated = file
            .file_stem()
            .map(|s| id_from_name(&s.to_string_lossy()))
            .filter(|d| *d != draft.summary.id);
        draft.id_if_taken = dated;
    }
    meta.describe(&mut draft.summary, file, diags);
    let terms = meta.terms(file, diags);
    let image = meta.image(settings);
    meta.unsupported_keys(file, diags);
    draft.nodes = (1..=terms)
        .map(|n| LessonNode {
            name: format!("node{n}"),
            image: image.clone(),
            setup: None,
            resources: Resources::default(),
        })
        .collect();
    let body = convert(file, body_lines, terms, diags);
    split_steps(body, &draft.summary.title.clone(), &mut draft);
    super::carry::map_join_commands(&mut draft, diags);
    super::prose::map_prose(&mut draft, diags);
    Some(draft)
}

/// Numbered lines of the post: (line number, text).
type Lines<'l, 't> = &'l [(usize, &'t str)];

/// The front matter lines (between the `---` lines) and the body after
/// them; `None` (reported) when the front matter is never closed.
fn split_front_matter<'l, 't>(
    lines: Lines<'l, 't>,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<(Lines<'l, 't>, Lines<'l, 't>)> {
    let Some(end) = lines
        .iter()
        .skip(1)
        .position(|(_, l)| l.trim_end() == "---")
    else {
        diags.error(
            file,
            1,
            "front matter is never closed (add a line with ---)",
        );
        return None;
    };
    let end = end + 1;
    Some((&lines[1..end], &lines[end + 1..]))
}

/// The parsed front matter: key -> (value, line).
struct Meta(BTreeMap<String, (Value, usize)>);

impl Meta {
    fn get(&self, key: &str) -> Option<(Value, usize)> {
        self.0.get(key).cloned()
    }

    fn value(&self, key: &str) -> Option<Value> {
        self.get(key).map(|(v, _)| v)
    }

    /// Title (an error when missing), summary, tags, difficulty (from
    /// `categories` or `level`; other values become tags) and minutes.
    fn describe(&self, summary: &mut LessonSummary, file: &Path, diags: &mut Diagnostics) {
        summary.title = match self.value("title") {
            Some(v) => v.scalar(),
            None => {
                diags.error(file, 1, "front matter has no title");
                String::new()
            }
        };
        summary.summary = self
            .value("description")
            .or_else(|| self.value("excerpt"))
            .map(|v| v.scalar())
            .unwrap_or_default();
        let mut tags = self.value("tags").map(|v| v.list()).unwrap_or_default();
        for level in ["categories", "category"]
            .into_iter()
            .flat_map(|key| self.value(key).map(|v| v.list()).unwrap_or_default())
            .chain(self.value("level").map(|v| v.scalar()))
        {
            let lower = level.to_ascii_lowercase();
            if matches!(lower.as_str(), "beginner" | "intermediate" | "advanced") {
                summary.difficulty = lower;
            } else if !tags.contains(&level) {
                tags.push(level);
            }
        }
        summary.tags = tags;
        summary.minutes = self
            .value("time")
            .and_then(|v| {
                v.scalar()
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0);
    }

    /// How many nodes (`terms`, default 1; 0 for a post to read only),
    /// reported when out of range.
    fn terms(&self, file: &Path, diags: &mut Diagnostics) -> usize {
        let Some((v, n)) = self.get("terms") else {
            return 1;
        };
        match v.scalar().parse::<usize>() {
            Ok(t) if t <= MAX_TERMS => t,
            _ => {
                diags.error(
                    file,
                    n,
                    format!(
                        "terms: {:?}: expected a number of nodes from 0 to {MAX_TERMS}",
                        v.scalar()
                    ),
                );
                1
            }
        }
    }

    /// The nodes' image: the directory's node image (by default `dind`:
    /// these posts are about Docker), also for play-with-docker's own
    /// `franela/dind`; another image the post names is used as it is.
    fn image(&self, settings: &ImportSettings) -> String {
        self.value("image")
            .map(|v| v.scalar())
            .filter(|s| !s.is_empty() && !s.starts_with(PWD_IMAGE))
            .unwrap_or_else(|| settings.node_image.clone())
    }

    /// Warns about keys that are neither used nor cosmetic.
    fn unsupported_keys(&self, file: &Path, diags: &mut Diagnostics) {
        for (key, (_, n)) in &self.0 {
            let known = matches!(
                key.as_str(),
                "id" | "title" | "tags" | "terms" | "image" | "time"
            );
            if !known && !COSMETIC_KEYS.contains(&key.as_str()) {
                diags.warn(
                    file,
                    *n,
                    format!("front matter key {key:?} is not supported; ignored"),
                );
            }
        }
    }
}

/// The id of a post without an `id` key: its file name without a Jekyll date.
fn id_from_file(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Jekyll posts: 2017-01-10-name.md.
    let bytes = stem.as_bytes();
    let dated = bytes.len() > 11
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && bytes[10] == b'-';
    let name = if dated { &stem[11..] } else { &stem[..] };
    id_from_name(name)
}

/// `.term2` (also inside `{:...}` or `data-term=".term2"`) -> 2.
fn term_number(text: &str) -> Option<usize> {
    let p = text.find(".term")?;
    let digits: String = text[p + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn attr<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let p = text.find(&format!("{name}="))?;
    let rest = &text[p + name.len() + 1..];
    let q = rest.chars().next()?;
    if q == '"' || q == '\'' {
        let rest = &rest[1..];
        rest.find(q).map(|e| &rest[..e])
    } else {
        Some(
            rest.split(|c: char| c.is_whitespace() || c == '>' || c == '}')
                .next()
                .unwrap_or(""),
        )
    }
}

/// The info string of a block the post runs in terminal `term`: runnable on
/// that node when the post has it (`terms`), else copy-only, reported.
fn term_block_info(
    marker: &str,
    term: usize,
    terms: usize,
    file: &Path,
    n: usize,
    diags: &mut Diagnostics,
) -> String {
    if (1..=terms).contains(&term) {
        return format!("{marker}sh run=node{term}");
    }
    diags.warn(
        file,
        n,
        format!(
            "block for terminal {term}, but the post has {terms} terminal(s) (terms: {terms}); it becomes copy-only"
        ),
    );
    format!("{marker}sh copy")
}

/// Converts the post body to the dialect, line for line; blocks name nodes
/// up to `terms`.
fn convert(file: &Path, lines: &[(usize, &str)], terms: usize, diags: &mut Diagnostics) -> Source {
    let mut out = Source {
        file: file.to_owned(),
        lines: Vec::new(),
    };
    let mut i = 0;
    let mut last_open: Option<usize> = None;
    let mut just_closed = false;
    while i < lines.len() {
        let (n, line) = lines[i];
        if let Some((indent, fence)) = nested_fence_open(line) {
            let marker = format!("{indent}{}", fence.ch.to_string().repeat(fence.len));
            let info = match term_number(&fence.info) {
                Some(t) => term_block_info(&marker, t, terms, file, n, diags),
                None => line.to_owned(),
            };
            last_open = Some(out.lines.len());
            out.push(n, info);
            let mut j = i + 1;
            while j < lines.len() && !nested_fence_closes(lines[j].1, &fence) {
                out.push(lines[j].0, lines[j].1);
                j += 1;
            }
            if j < lines.len() {
                // At the opening's indentation: posts indent the two
                // differently inside list items, which Jekyll forgave.
                out.push(lines[j].0, marker.as_str());
            }
            i = j + 1;
            just_closed = true;
            continue;
        }
        let trimmed = line.trim();
        // A kramdown attribute line right after a block: `{:data-term=".term1"}`.
        if just_closed && trimmed.starts_with("{:") && trimmed.ends_with('}') {
            if let (Some(t), Some(open)) = (term_number(trimmed), last_open) {
                let (ln, opening) = out.lines[open].clone();
                let (indent, f) = nested_fence_open(&opening).expect("an opening fence");
                let marker = format!("{indent}{}", f.ch.to_string().repeat(f.len));
                out.lines[open] = (ln, term_block_info(&marker, t, terms, file, n, diags));
            } else {
                diags.warn(
                    file,
                    n,
                    format!("block attributes {trimmed} are not supported; dropped"),
                );
            }
            i += 1;
            just_closed = false;
            continue;
        }
        just_closed = false;
        out.push(n, links(file, n, line, diags));
        i += 1;
    }
    out
}

/// What a link's `data-term` and `data-port` attributes ask for.
enum TermPort<'a> {
    /// A preview of this node number and port.
    Both(usize, &'a str),
    /// One of them only, or a bad port.
    Partial,
    Neither,
}

impl<'a> TermPort<'a> {
    /// Reads the attributes from an HTML tag or kramdown `{:...}` attributes.
    fn of(attrs: &'a str) -> Self {
        match (
            attr(attrs, "data-term").and_then(term_number),
            attr(attrs, "data-port"),
        ) {
            (Some(t), Some(port)) if port.parse::<u16>().is_ok() => TermPort::Both(t, port),
            (None, None) => TermPort::Neither,
            _ => TermPort::Partial,
        }
    }
}

/// HTML and kramdown links with `data-term`/`data-port` -> preview links.
fn links(file: &Path, n: usize, line: &str, diags: &mut Diagnostics) -> String {
    let mut out = String::new();
    let mut rest = line;
    // HTML anchors.
    while let Some(p) = rest.find("<a ") {
        let Some(close_tag) = rest[p..].find('>').map(|e| p + e) else {
            break;
        };
        let Some(end) = rest[close_tag..].find("</a>").map(|e| close_tag + e) else {
            break;
        };
        let tag = &rest[p..close_tag];
        let label = &rest[close_tag + 1..end];
        out.push_str(&rest[..p]);
        match TermPort::of(tag) {
            TermPort::Both(t, port) => {
                let href = attr(tag, "href")
                    .filter(|h| h.starts_with('/'))
                    .unwrap_or("");
                out.push_str(&format!("[{label}](preview:node{t}:{port}{href})"));
            }
            TermPort::Partial => {
                diags.warn(
                    file,
                    n,
                    "link with data-term or data-port but not both (or a bad port); kept as HTML",
                );
                out.push_str(&rest[p..end + 4]);
            }
            TermPort::Neither => out.push_str(&rest[p..end + 4]),
        }
        rest = &rest[end + 4..];
    }
    out.push_str(rest);
    // Kramdown: [label](href){:data-term=".term1"}{:data-port="80"}
    let text = out;
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(p) = rest.find("){:") {
        let Some(open) = rest[..p].rfind("](") else {
            break;
        };
        let mut attrs_end = p + 1;
        while rest[attrs_end..].starts_with("{:") {
            match rest[attrs_end..].find('}') {
                Some(e) => attrs_end += e + 1,
                None => break,
            }
        }
        let attrs = &rest[p + 1..attrs_end];
        let href = &rest[open + 2..p];
        out.push_str(&rest[..open]);
        match TermPort::of(attrs) {
            TermPort::Both(t, port) => {
                let path = if href.starts_with('/') { href } else { "" };
                out.push_str(&format!("](preview:node{t}:{port}{path})"));
            }
            _ => {
                diags.warn(
                    file,
                    n,
                    format!("link attributes {attrs} are not supported; dropped"),
                );
                out.push_str(&rest[open..=p]);
            }
        }
        rest = &rest[attrs_end..];
    }
    out.push_str(rest);
    if out.contains("{%") || out.contains("{{") {
        diags.warn(
            file,
            n,
            "Jekyll/Liquid tag has no equivalent here; left as is",
        );
    }
    html::rewrite_line(file, n, &out, diags)
}

/// Splits the body on its top-level headings: text before the first is the
/// intro, each section a step titled by its heading.
fn split_steps(body: Source, title: &str, draft: &mut Draft) {
    let mut in_fence: Option<Fence> = None;
    let mut headings = Vec::new();
    for (i, (_, line)) in body.lines.iter().enumerate() {
        if let Some(f) = &in_fence {
            if nested_fence_closes(line, f) {
                in_fence = None;
            }
            continue;
        }
        if let Some((_, f)) = nested_fence_open(line) {
            in_fence = Some(f);
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if (1..=2).contains(&level) && line[level..].starts_with(' ') {
            headings.push((i, level));
        }
    }
    let level = if headings.iter().any(|(_, l)| *l == 1) {
        1
    } else {
        2
    };
    let cuts: Vec<usize> = headings
        .iter()
        .filter(|(_, l)| *l == level)
        .map(|(i, _)| *i)
        .collect();
    let section = |from: usize, to: usize| Source {
        file: body.file.clone(),
        lines: body.lines[from..to].to_vec(),
    };
    if cuts.is_empty() {
        draft.steps.push(DraftStep {
            source: body.clone(),
            fallback_title: title.to_owned(),
            ..Default::default()
        });
        return;
    }
    let intro = section(0, cuts[0]);
    if intro.lines.iter().any(|(_, l)| !l.trim().is_empty()) {
        draft.intro = Some(intro);
    }
    for (k, &start) in cuts.iter().enumerate() {
        let end = cuts.get(k + 1).copied().unwrap_or(body.lines.len());
        let heading = body.lines[start]
            .1
            .trim_start_matches('#')
            .trim()
            .to_owned();
        draft.steps.push(DraftStep {
            source: section(start + 1, end),
            fallback_title: heading,
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(text: &str) -> (Vec<String>, Diagnostics) {
        let mut d = Diagnostics::default();
        let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
        let s = convert(Path::new("p.md"), &lines, 2, &mut d);
        (s.lines.into_iter().map(|(_, l)| l).collect(), d)
    }

    #[test]
    fn term_blocks_and_links() {
        let (lines, d) = conv(
            "```.term2\ndocker ps\n```\n```\nls\n```\n{:data-term=\".term1\"}\nSee <a href=\"#\" data-term=\".term1\" data-port=\"8080\">the app</a>.\n[Site](/about){:data-term=\".term2\"}{:data-port=\"80\"}",
        );
        assert_eq!(
            lines,
            vec![
                "```sh run=node2",
                "docker ps",
                "```",
                "```sh run=node1",
                "ls",
                "```",
                "See [the app](preview:node1:8080).",
                "[Site](preview:node2:80/about)",
            ]
        );
        assert!(d.items.is_empty(), "{:?}", d.items);
    }

    #[test]
    fn front_matter_keys() {
        let mut d = Diagnostics::default();
        let text = "title: \"Swarm\"\ntags: [docker, swarm]\nterms: 3\ncategories:\n  - beginner\nweird: 1";
        let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 2, l)).collect();
        let m = front_matter(&lines, Path::new("p.md"), &mut d);
        assert_eq!(m["title"].0, Value::Scalar("Swarm".into()));
        assert_eq!(m["tags"].0.list(), vec!["docker", "swarm"]);
        assert_eq!(m["categories"].0.list(), vec!["beginner"]);
        assert_eq!(m["weird"].1, 7);
        assert_eq!(
            id_from_file(Path::new("2017-01-10-Swarm mode.md")),
            "swarm-mode"
        );
    }
}
