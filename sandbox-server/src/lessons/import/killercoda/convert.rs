//! Rewrites a scenario's Markdown into the step dialect, line for line so
//! every line keeps its source line: `{{exec}}` actions become runnable
//! blocks, traffic placeholders preview links.

use std::path::Path;

use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{fence_open, Source};

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

    /// Converts one Markdown file of the scenario to the dialect, line for line.
    pub(super) fn convert(&mut self, file: &Path, text: &str) -> Source {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Source {
            file: file.to_owned(),
            lines: Vec::new(),
        };
        let mut i = 0;
        while i < lines.len() {
            let n = i + 1;
            if let Some(fence) = fence_open(lines[i]) {
                let marker = fence.ch.to_string().repeat(fence.len);
                let mut j = i + 1;
                let mut action = None;
                while j < lines.len() {
                    let t = lines[j].trim_start();
                    let k = t.chars().take_while(|c| *c == fence.ch).count();
                    if k >= fence.len {
                        let rest = t[k..].trim();
                        if rest.is_empty() {
                            break;
                        }
                        if rest.starts_with("{{") {
                            action = self.action(rest, file, j + 1);
                            break;
                        }
                    }
                    j += 1;
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
                for (k, line) in lines
                    .iter()
                    .enumerate()
                    .take(j.min(lines.len()))
                    .skip(i + 1)
                {
                    if line.contains("{{") || line.contains("[[HOST") {
                        self.diags.warn(
                            file,
                            k + 1,
                            "placeholder inside a code block is not replaced",
                        );
                    }
                    out.push(k + 1, *line);
                }
                if j < lines.len() {
                    out.push(j + 1, marker);
                }
                i = j + 1;
                continue;
            }
            self.convert_line(file, n, lines[i], &mut out);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> (Vec<String>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let mut conv = Converter::new(&mut diags);
        let src = conv.convert(Path::new("t.md"), text);
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
}
