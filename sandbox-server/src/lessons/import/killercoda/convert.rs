//! Rewrites a scenario's Markdown into the step dialect, line for line so
//! every line keeps its source line: `{{exec}}` actions become runnable
//! blocks, traffic placeholders preview links.

use std::path::Path;

use super::super::draft::{nested_fence_closes, nested_fence_open};
use super::super::html;
use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{Fence, Source};

/// `host01`, `HOST2`, `client` -> node number.
pub(super) fn host_node(host: &str) -> Option<usize> {
    let lower = host.to_ascii_lowercase();
    if lower == "client" {
        return Some(1);
    }
    lower.strip_prefix("host")?.parse().ok().filter(|n| *n > 0)
}

/// What an action suffix asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Exec { node: usize, interrupt: bool },
    Copy,
}

/// Converts the scenario's Markdown files, noting the nodes they target.
pub(super) struct Converter<'a> {
    pub(super) diags: &'a mut Diagnostics,
    /// Highest node number the text targets.
    pub(super) max_node: usize,
    warned_terminals: bool,
}

impl<'a> Converter<'a> {
    /// A converter reporting into `diags`; the text targets node1 so far.
    pub(super) fn new(diags: &'a mut Diagnostics) -> Self {
        Converter {
            diags,
            max_node: 1,
            warned_terminals: false,
        }
    }

    /// Converts one Markdown file of the scenario to the dialect, line for
    /// line; `<details>` folds become what `fold` says.
    pub(super) fn convert(&mut self, file: &Path, text: &str, fold: Fold) -> Source {
        let numbered: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.to_owned()))
            .collect();
        let lines = fold_details(file, &numbered, fold, self.diags);
        let mut out = Source {
            file: file.to_owned(),
            lines: Vec::new(),
        };
        let mut i = 0;
        while i < lines.len() {
            let (n, line) = (lines[i].0, lines[i].1.as_str());
            if let Some((indent, fence)) = nested_fence_open(line) {
                let marker = format!("{indent}{}", fence.ch.to_string().repeat(fence.len));
                let mut j = i + 1;
                let mut action = None;
                while j < lines.len() {
                    match fence_end(&lines[j].1, &fence) {
                        Some("") => break,
                        Some(suffix) => {
                            action = self.action(suffix, file, lines[j].0);
                            break;
                        }
                        None => j += 1,
                    }
                }
                let lang = fence.info.split_whitespace().next().unwrap_or("");
                let info = match action {
                    Some(Action::Exec { node, interrupt }) => format!(
                        "{} run=node{node}{}",
                        if lang.is_empty() { "sh" } else { lang },
                        if interrupt { " interrupt" } else { "" }
                    ),
                    Some(Action::Copy) => {
                        format!("{} copy", if lang.is_empty() { "sh" } else { lang })
                            .trim()
                            .to_owned()
                    }
                    None => fence.info.clone(),
                };
                out.push(n, format!("{marker}{info}").trim_end().to_owned());
                for (k, line) in lines.iter().take(j.min(lines.len())).skip(i + 1) {
                    if line.contains("{{") || line.contains("[[HOST") {
                        self.diags.warn(
                            file,
                            *k,
                            "placeholder inside a code block is not replaced",
                        );
                    }
                    out.push(*k, line.as_str());
                }
                if j < lines.len() {
                    out.push(lines[j].0, marker);
                }
                i = j + 1;
                continue;
            }
            let line = html::rewrite_line(file, n, line, self.diags);
            self.convert_line(file, n, &line, &mut out);
            i += 1;
        }
        out
    }

    /// Turns inline `` `cmd`{{exec}} `` into blocks and replaces placeholders.
    fn convert_line(&mut self, file: &Path, n: usize, line: &str, out: &mut Source) {
        let mut rest = line;
        let mut emitted_block = false;
        while let Some(p) = rest.find("`{{") {
            let Some(start) = rest[..p].rfind('`') else {
                break;
            };
            let Some(end) = rest[p..].find("}}").map(|e| p + e + 2) else {
                break;
            };
            let code = &rest[start + 1..p];
            let suffix = &rest[p + 1..end];
            let action = self.action(suffix, file, n);
            let before = &rest[..start];
            let before_trim = before.trim();
            let is_marker = before_trim.is_empty()
                || before_trim == "-"
                || before_trim == "*"
                || before_trim
                    .trim_end_matches('.')
                    .chars()
                    .all(|c| c.is_ascii_digit());
            match action {
                Some(a) => {
                    if !is_marker {
                        let text = self.placeholders(file, n, before.trim_end());
                        out.push(n, text);
                    }
                    let info = match a {
                        Action::Exec { node, interrupt } => {
                            format!(
                                "sh run=node{node}{}",
                                if interrupt { " interrupt" } else { "" }
                            )
                        }
                        Action::Copy => "sh copy".to_owned(),
                    };
                    out.push(n, format!("```{info}"));
                    out.push(n, code);
                    out.push(n, "```");
                    emitted_block = true;
                }
                None => {
                    // Not an action we know (`{{open}}` and friends): keep the code span.
                    let text = self.placeholders(file, n, &rest[..p + 1]);
                    out.push(n, text);
                }
            }
            rest = &rest[end..];
        }
        if !(emitted_block && rest.trim().is_empty()) {
            let text = self.placeholders(file, n, rest);
            out.push(n, text);
        }
    }

    /// Parses `{{exec interrupt T2}}`; warns about what it cannot map.
    fn action(&mut self, suffix: &str, file: &Path, n: usize) -> Option<Action> {
        let inner = suffix
            .trim()
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim();
        let mut words = inner.split_whitespace();
        let verb = words.next().unwrap_or("");
        match verb {
            // `{{}}`: a code span without Killercoda's copy-on-click; plain code here too.
            "" => None,
            "exec" | "execute" => {
                let mut node = 1;
                let mut interrupt = false;
                for w in words {
                    let lower = w.to_ascii_lowercase();
                    if lower == "interrupt" {
                        interrupt = true;
                    } else if let Some(h) = host_node(&lower) {
                        node = h;
                        self.max_node = self.max_node.max(h);
                    } else if lower
                        .strip_prefix('t')
                        .is_some_and(|t| t.parse::<usize>().is_ok())
                    {
                        if !self.warned_terminals {
                            self.diags.warn(file, n, format!(
                                "terminal target {w}: Katacoda's extra terminals share one machine; here every node has one terminal, so it runs in node1"
                            ));
                            self.warned_terminals = true;
                        }
                    } else {
                        self.diags.warn(
                            file,
                            n,
                            format!("{{{{{verb} {w}}}}}: {w:?} is not understood; ignored"),
                        );
                    }
                }
                Some(Action::Exec { node, interrupt })
            }
            "copy" => Some(Action::Copy),
            other => {
                self.diags.warn(
                    file,
                    n,
                    format!("{{{{{other}}}}} has no equivalent here; kept as plain code"),
                );
                None
            }
        }
    }

    /// Traffic placeholders to preview links; warns about the rest.
    fn placeholders(&mut self, file: &Path, n: usize, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        // Katacoda: https://[[HOST_SUBDOMAIN]]-80-[[KATACODA_HOST]].environments.katacoda.com/path
        while let Some(p) = rest.find("https://[[HOST") {
            out.push_str(&rest[..p]);
            let after = &rest[p + "https://[[HOST".len()..];
            let mapped = (|| {
                let (host, after) = after.split_once("_SUBDOMAIN]]-")?;
                let node = if host.is_empty() {
                    1
                } else {
                    host.parse().ok()?
                };
                let (port, after) = after.split_once("-[[KATACODA_HOST]]")?;
                let port: u16 = port.parse().ok()?;
                let after = after
                    .strip_prefix(".environments.katacoda.com")
                    .unwrap_or(after);
                Some((node, port, after))
            })();
            match mapped {
                Some((node, port, after)) => {
                    self.max_node = self.max_node.max(node);
                    out.push_str(&format!("preview:node{node}:{port}"));
                    rest = after;
                }
                None => {
                    out.push_str("https://[[HOST");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(p) = rest.find("{{") {
            result.push_str(&rest[..p]);
            let Some(e) = rest[p..].find("}}") else {
                result.push_str(&rest[p..]);
                rest = "";
                break;
            };
            let name = &rest[p + 2..p + e];
            let mapped = name
                .strip_prefix("TRAFFIC_HOST")
                .and_then(|r| r.split_once('_'))
                .and_then(|(h, port)| Some((h.parse::<usize>().ok()?, port.parse::<u16>().ok()?)));
            match mapped {
                Some((node, port)) => {
                    self.max_node = self.max_node.max(node);
                    result.push_str(&format!("preview:node{node}:{port}"));
                }
                None => {
                    self.diags.warn(
                        file,
                        n,
                        format!("placeholder {{{{{name}}}}} has no equivalent here; left as is"),
                    );
                    result.push_str(&rest[p..p + e + 2]);
                }
            }
            rest = &rest[p + e + 2..];
        }
        result.push_str(rest);
        if result.contains("[[") && result.contains("]]") {
            self.diags.warn(
                file,
                n,
                "Katacoda [[...]] placeholder has no equivalent here; left as is",
            );
        }
        result
    }
}

/// What a scenario file's `<details>` folds become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    /// A step: folds whose summary says "solution" (or "answer") go to the
    /// step's `## Solution`, the others to its `## Hint`, each under its
    /// summary in bold; both are shown folded, as on Killercoda.
    Sections,
    /// The intro or finish page (no hint or solution there): each fold's
    /// summary in bold, then its content, where it stood.
    Inline,
}

/// Where a line ends the fenced block `fence`: `Some("")` for a plain
/// closing fence, `Some("{{exec}}")` for one carrying an action.
pub(super) fn fence_end<'l>(line: &'l str, fence: &Fence) -> Option<&'l str> {
    if nested_fence_closes(line, fence) {
        return Some("");
    }
    let t = line.trim_start();
    let k = t.chars().take_while(|c| *c == fence.ch).count();
    let rest = t[k..].trim();
    (k >= fence.len && rest.starts_with("{{")).then_some(rest)
}

/// One `<details>` fold of a scenario file.
struct Details {
    /// Line of `<details>`.
    line: usize,
    summary: String,
    content: Vec<(usize, String)>,
}

impl Details {
    fn is_solution(&self) -> bool {
        let s = self.summary.to_ascii_lowercase();
        s.contains("solution") || s.contains("answer")
    }
}

/// Cuts the `<details>` folds (outside code blocks) out of `lines` and
/// puts them where `fold` says. A step whose text already has a `## Hint`
/// or `## Solution` heading keeps its folds in place (as [`Fold::Inline`]).
fn fold_details(
    file: &Path,
    lines: &[(usize, String)],
    fold: Fold,
    diags: &mut Diagnostics,
) -> Vec<(usize, String)> {
    let has_sections = lines.iter().any(|(_, l)| {
        let h = l.trim_start_matches('#');
        l.starts_with("## ")
            && matches!(
                h.trim().to_ascii_lowercase().as_str(),
                "hint" | "hints" | "solution"
            )
    });
    let fold = if has_sections { Fold::Inline } else { fold };
    let mut out = Vec::new();
    let mut hints: Vec<Details> = Vec::new();
    let mut solutions: Vec<Details> = Vec::new();
    let mut fence: Option<Fence> = None;
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = (lines[i].0, lines[i].1.as_str());
        if let Some(f) = &fence {
            if fence_end(line, f).is_some() {
                fence = None;
            }
        } else if let Some((_, f)) = nested_fence_open(line) {
            fence = Some(f);
        } else if starts_details(line) {
            match read_details(lines, i) {
                Some((details, next, closed)) => {
                    if !closed {
                        diags.warn(
                            file,
                            n,
                            "<details> is never closed (no </details>): it runs to the end of the file, as in a browser",
                        );
                    }
                    i = next;
                    match fold {
                        Fold::Inline => inline(details, &mut out),
                        Fold::Sections if details.is_solution() => solutions.push(details),
                        Fold::Sections => hints.push(details),
                    }
                    continue;
                }
                None => diags.warn(file, n, "<details tag without its >; shown as text"),
            }
        }
        out.push((n, line.to_owned()));
        i += 1;
    }
    for (heading, folds) in [("## Hint", hints), ("## Solution", solutions)] {
        let Some(first) = folds.first() else { continue };
        out.push((first.line, String::new()));
        out.push((first.line, heading.to_owned()));
        let titled = heading == "## Hint" || folds.len() > 1;
        for details in folds {
            if titled {
                out.push((details.line, String::new()));
                out.push((details.line, format!("**{}**", details.summary)));
            }
            out.push((details.line, String::new()));
            out.extend(details.content);
        }
    }
    out
}

/// A fold shown in place: its summary in bold, then its content.
fn inline(details: Details, out: &mut Vec<(usize, String)>) {
    out.push((details.line, format!("**{}**", details.summary)));
    out.push((details.line, String::new()));
    out.extend(details.content);
}

fn starts_details(line: &str) -> bool {
    line.trim_start()
        .to_ascii_lowercase()
        .starts_with("<details")
}

/// The fold opening at `lines[at]`, the index after its `</details>`, and
/// whether there is one (a browser closes a fold left open at the end of the
/// page; so does this). `None` when the tag itself is not closed by `>`.
/// Nested folds stay in its content.
fn read_details(lines: &[(usize, String)], at: usize) -> Option<(Details, usize, bool)> {
    // The fold's text from just after `<details ...>`, one entry per line.
    let first = &lines[at].1;
    let open_end = first.find('>')? + 1;
    let mut rest: Vec<(usize, String)> = vec![(lines[at].0, first[open_end..].to_owned())];
    rest.extend(lines[at + 1..].iter().cloned());
    let mut depth = 1;
    let mut close = None;
    let mut fence: Option<Fence> = None;
    for (k, (_, line)) in rest.iter().enumerate() {
        if let Some(f) = &fence {
            if fence_end(line, f).is_some() {
                fence = None;
            }
            continue;
        }
        if let Some((_, f)) = nested_fence_open(line) {
            fence = Some(f);
            continue;
        }
        let lower = line.to_ascii_lowercase();
        depth += lower.matches("<details").count();
        depth -= lower.matches("</details>").count().min(depth);
        if depth == 0 {
            close = Some(k);
            break;
        }
    }
    let closed = close.is_some();
    let close = close.unwrap_or(rest.len() - 1);
    let mut body: Vec<(usize, String)> = rest[..=close].to_vec();
    if closed {
        let last = body.last_mut().expect("the closing line");
        let cut = last
            .1
            .to_ascii_lowercase()
            .rfind("</details>")
            .expect("found above");
        last.1.truncate(cut);
    }
    // The summary: from `<summary>` to `</summary>`, maybe over lines.
    let joined: String = body.iter().map(|(_, l)| format!("{l}\n")).collect();
    let lower = joined.to_ascii_lowercase();
    let (summary, mut skip) = match (lower.find("<summary"), lower.find("</summary>")) {
        (Some(s), Some(e)) if s < e => {
            let text_start = joined[s..].find('>').map_or(e, |g| s + g + 1).min(e);
            (
                joined[text_start..e].trim().to_owned(),
                e + "</summary>".len(),
            )
        }
        _ => ("Details".to_owned(), 0),
    };
    // Drop the characters up to the summary's end, line by line.
    let mut content = Vec::new();
    for (n, line) in body {
        let len = line.len() + 1;
        if skip >= len {
            skip -= len;
            continue;
        }
        content.push((n, line[skip..].to_owned()));
        skip = 0;
    }
    while content.first().is_some_and(|(_, l)| l.trim().is_empty()) {
        content.remove(0);
    }
    while content.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        content.pop();
    }
    let summary = if summary.is_empty() {
        "Details".to_owned()
    } else {
        summary
    };
    Some((
        Details {
            line: lines[at].0,
            summary,
            content,
        },
        at + close + 1,
        closed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> (Vec<String>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let mut conv = Converter::new(&mut diags);
        let src = conv.convert(Path::new("t.md"), text, Fold::Sections);
        (src.lines.into_iter().map(|(_, l)| l).collect(), diags)
    }

    #[test]
    fn inline_and_fenced_actions() {
        let (lines, diags) = convert(
            "Run `ls -l`{{exec}} now.\n\n```\ntop\n```{{exec}}\n\n`q`{{execute interrupt HOST2}}\n\n`echo x`{{copy}}",
        );
        assert_eq!(
            lines,
            vec![
                "Run",
                "```sh run=node1",
                "ls -l",
                "```",
                " now.",
                "",
                "```sh run=node1",
                "top",
                "```",
                "",
                "```sh run=node2 interrupt",
                "q",
                "```",
                "",
                "```sh copy",
                "echo x",
                "```",
            ]
        );
        assert!(diags.items.is_empty(), "{:?}", diags.items);
    }

    #[test]
    fn traffic_placeholders_become_preview_links() {
        let (lines, diags) = convert(
            "[app]({{TRAFFIC_HOST1_8080}}/x) and https://[[HOST2_SUBDOMAIN]]-80-[[KATACODA_HOST]].environments.katacoda.com/y {{TRAFFIC_SELECTOR}}",
        );
        assert_eq!(
            lines,
            vec!["[app](preview:node1:8080/x) and preview:node2:80/y {{TRAFFIC_SELECTOR}}"]
        );
        assert_eq!(diags.warnings(), 1);
        assert!(diags.items[0].message.contains("TRAFFIC_SELECTOR"));
    }
    #[test]
    fn details_folds_become_the_hint_and_the_solution() {
        let mut diags = Diagnostics::default();
        let mut conv = Converter::new(&mut diags);
        let text = "Text\n<br>\n<details><summary>Tip 1</summary>\nUse ls.\n</details>\n\n<details>\n<summary>Solution</summary>\n\n`ls`{{exec}}\n";
        let src = conv.convert(Path::new("t.md"), text, Fold::Sections);
        let lines: Vec<&str> = src.lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lines.join("\n"),
            "Text\n\n\n\n## Hint\n\n**Tip 1**\n\nUse ls.\n\n## Solution\n\n```sh run=node1\nls\n```"
        );
        // Each line keeps the line it came from: the solution's block is line 10.
        assert_eq!(src.lines.last().unwrap().0, 10);
        // The solution fold is never closed: it runs to the end, with a warning.
        assert_eq!(diags.warnings(), 1);
        assert!(diags.items[0].message.contains("never closed"));
        assert_eq!(diags.items[0].line, 7);
    }
}
