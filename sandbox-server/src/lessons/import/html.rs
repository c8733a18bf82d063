//! Raw HTML in published lessons. The web app shows raw HTML as text (lesson
//! text never becomes markup on the app's origin), so the tags published labs
//! use for links, images, emphasis, line breaks and anchors become Markdown
//! here; an embedded frame becomes a link, with a warning; any other tag is
//! left as text, with a warning. Code spans are left alone.

use std::path::Path;

use crate::lessons::diag::Diagnostics;

/// HTML elements: a `<word` that is none of these (`<your-name>`, `<EOF`)
/// is prose, not markup.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "body",
    "br",
    "button",
    "center",
    "code",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "script",
    "small",
    "span",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "video",
];

/// Tags that only style text: dropped, their content kept.
const STYLE_ONLY: &[&str] = &["span", "font", "center", "div", "p", "small", "u"];

/// One tag of a line: `<name attrs>` or `</name>`, at `start..end`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Tag<'a> {
    pub name: String,
    pub closing: bool,
    pub attrs: &'a str,
    pub start: usize,
    pub end: usize,
}

/// The HTML tag starting at byte `at` of `line` (which is `<`), if it is one.
pub(super) fn tag_at(line: &str, at: usize) -> Option<Tag<'_>> {
    let rest = line.get(at + 1..)?;
    let (closing, rest) = match rest.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = rest[..name_len].to_ascii_lowercase();
    if !ELEMENTS.contains(&name.as_str()) {
        return None;
    }
    let after = &rest[name_len..];
    if !(after.starts_with('>') || after.starts_with(' ') || after.starts_with('/')) {
        return None;
    }
    let close = after.find('>')?;
    let attrs = after[..close].trim().trim_end_matches('/').trim();
    let end = line.len() - after.len() + close + 1;
    Some(Tag {
        name,
        closing,
        attrs,
        start: at,
        end,
    })
}

/// The value of attribute `name` in `attrs` (quoted or not).
pub(super) fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut search = 0;
    while let Some(p) = attrs[search..].find(name).map(|p| p + search) {
        let before_ok = p == 0 || attrs[..p].ends_with(|c: char| c.is_whitespace());
        let rest = &attrs[p + name.len()..];
        if before_ok {
            if let Some(value) = rest.trim_start().strip_prefix('=') {
                let value = value.trim_start();
                let q = value.chars().next()?;
                return if q == '"' || q == '\'' {
                    value[1..].find(q).map(|e| &value[1..1 + e])
                } else {
                    Some(value.split(char::is_whitespace).next().unwrap_or(""))
                };
            }
        }
        search = p + name.len();
    }
    None
}

/// Rewrites the HTML of one Markdown line (line `n` of `file`) outside code
/// spans. A line indented as code (four spaces, a tab) is left as it is.
pub fn rewrite_line(file: &Path, n: usize, line: &str, diags: &mut Diagnostics) -> String {
    if line.starts_with("    ") || line.starts_with('\t') {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len());
    let mut warned = false;
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        if rest.starts_with('`') {
            // A code span: copy it whole (up to a run of as many backticks).
            let ticks = rest.chars().take_while(|c| *c == '`').count();
            let fence = &rest[..ticks];
            let end = rest[ticks..]
                .find(fence)
                .map_or(rest.len(), |e| ticks + e + ticks);
            out.push_str(&rest[..end]);
            i += end;
            continue;
        }
        let Some(tag) = rest.starts_with('<').then(|| tag_at(line, i)).flatten() else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        i = rewrite_tag(file, n, line, &tag, &mut out, &mut warned, diags);
    }
    out
}

/// Appends what `tag` becomes to `out`; returns where to go on in `line`.
fn rewrite_tag(
    file: &Path,
    n: usize,
    line: &str,
    tag: &Tag<'_>,
    out: &mut String,
    warned: &mut bool,
    diags: &mut Diagnostics,
) -> usize {
    let name = tag.name.as_str();
    match (name, tag.closing) {
        ("br", _) => {}
        ("em" | "i", _) => out.push('*'),
        ("strong" | "b", _) => out.push_str("**"),
        (style, _) if STYLE_ONLY.contains(&style) => {}
        ("img", false) => {
            let src = attr(tag.attrs, "src").unwrap_or("");
            let alt = attr(tag.attrs, "alt").unwrap_or("");
            out.push_str(&format!("![{alt}]({src})"));
        }
        ("a", false) => {
            let close = line[tag.end..].find("</a>").map(|e| tag.end + e);
            match (attr(tag.attrs, "href"), close) {
                // An anchor (`<a name="x"></a>`): a jump target, nothing to read.
                (None, Some(close)) if line[tag.end..close].trim().is_empty() => {
                    return close + "</a>".len();
                }
                (Some(href), Some(close)) => {
                    let label = rewrite_line(file, n, &line[tag.end..close], diags);
                    let label = if label.trim().is_empty() {
                        href.to_owned()
                    } else {
                        label.trim().to_owned()
                    };
                    out.push_str(&format!("[{label}]({href})"));
                    return close + "</a>".len();
                }
                _ => return keep(file, n, line, tag, out, warned, diags),
            }
        }
        ("iframe", false) => {
            let src = attr(tag.attrs, "src").unwrap_or("");
            diags.warn(
                file,
                n,
                format!("embedded frame ({src}) cannot be shown here; it becomes a link"),
            );
            out.push_str(&format!("[embedded content]({src})"));
        }
        ("iframe", true) => {}
        _ => return keep(file, n, line, tag, out, warned, diags),
    }
    tag.end
}

/// Leaves `tag` as text, warning once per line.
fn keep(
    file: &Path,
    n: usize,
    line: &str,
    tag: &Tag<'_>,
    out: &mut String,
    warned: &mut bool,
    diags: &mut Diagnostics,
) -> usize {
    if !*warned {
        diags.warn(
            file,
            n,
            format!(
                "raw HTML <{}{}> has no Markdown equivalent here; shown as text",
                if tag.closing { "/" } else { "" },
                tag.name
            ),
        );
        *warned = true;
    }
    out.push_str(&line[tag.start..tag.end]);
    tag.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(line: &str) -> (String, Vec<String>) {
        let mut d = Diagnostics::default();
        let out = rewrite_line(Path::new("t.md"), 3, line, &mut d);
        (out, d.items.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn common_tags_become_markdown() {
        assert_eq!(rw("## <a name=\"t1\"></a>Task 1").0, "## Task 1");
        assert_eq!(
            rw("go to <a href=\"https://x.test/a\">the <em>site</em></a>.").0,
            "go to [the *site*](https://x.test/a)."
        );
        assert_eq!(rw("one<br>two<br/>").0, "onetwo");
        assert_eq!(
            rw("<span><em>Note</em></span> <img src=\"p.png\" alt=\"a pic\" width=\"60\">").0,
            "*Note* ![a pic](p.png)"
        );
        assert_eq!(
            rw("keep `<b>code</b>` and <your-name>").0,
            "keep `<b>code</b>` and <your-name>"
        );
    }

    #[test]
    fn frames_and_other_tags_are_warned_about() {
        let (out, w) = rw("<iframe width=\"5\" src=\"https://v.test/e\"></iframe>");
        assert_eq!(out, "[embedded content](https://v.test/e)");
        assert_eq!(w, vec!["t.md:3: warning: embedded frame (https://v.test/e) cannot be shown here; it becomes a link"]);
        let (out, w) = rw("<table><tr><td>x</td></tr></table>");
        assert_eq!(out, "<table><tr><td>x</td></tr></table>");
        assert_eq!(
            w,
            vec![
                "t.md:3: warning: raw HTML <table> has no Markdown equivalent here; shown as text"
            ]
        );
    }

    #[test]
    fn attributes() {
        assert_eq!(attr("href=\"a\" data-href='b'", "href"), Some("a"));
        assert_eq!(attr("data-href='b' href=c", "href"), Some("c"));
        assert_eq!(attr("x", "href"), None);
    }
}
