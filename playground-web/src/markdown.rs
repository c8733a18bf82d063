//! Lesson Markdown to HTML, with the lesson dialect (`docs/lessons.md`):
//!
//! - a fenced block whose info string has `run=NODE` is runnable on that node
//!   (a Run button types it there and presses Enter); with `interrupt` too,
//!   Ctrl-C goes first; with `copy` it is copy-only (a Copy button);
//! - a link to `preview:NODE:PORT/path` opens the node's port through the web
//!   preview, `{origin}/preview/{session}/{node}/{port}/path` on the preview
//!   origin (never the app's), in a new tab.
//!
//! The result is one HTML string plus the list of code blocks; the buttons in
//! the HTML carry `data-block="N"` (an index into that list), and the page
//! handles their clicks by delegation, so code blocks inside lists work too.
//! Raw HTML in the source is shown as text, and only `http`, `https`,
//! `mailto`, `preview` and relative links are kept: lessons may come from
//! third-party repositories.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

/// What the button of a code block does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Type the code into `node`'s terminal and press Enter (after Ctrl-C if `interrupt`).
    Run { node: String, interrupt: bool },
    /// Copy the code to the clipboard.
    Copy,
    /// Plain code, no button.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// The language of the info string (`bash`), possibly empty.
    pub lang: String,
    /// The code, without the final newline.
    pub code: String,
    pub action: Action,
}

impl CodeBlock {
    /// The bytes a Run button types: lines joined by Enter, plus a final Enter.
    /// Ctrl-C (for `interrupt`) is not included: it must go first, on its own.
    pub fn keystrokes(&self) -> String {
        protocol::dialect::keystrokes(&self.code)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub blocks: Vec<CodeBlock>,
}

/// Splits a fenced block's info string into its language and action, in
/// words as the server reads them ([`protocol::dialect::info_words`]): spaces,
/// commas and braces separate them outside quotes, so
/// `bash run=node1 interrupt`, `{.bash run=node1}` and
/// `sh run=node1 capture=JOIN regex="docker swarm join .*"` all work.
pub fn parse_info(info: &str) -> (String, Action) {
    let mut lang = String::new();
    let mut run = None;
    let (mut interrupt, mut copy) = (false, false);
    for token in protocol::dialect::info_words(info) {
        if let Some(node) = token.strip_prefix("run=") {
            run = Some(node.to_owned());
        } else if token == "interrupt" {
            interrupt = true;
        } else if token == "copy" {
            copy = true;
        } else if token == "fails" {
            // For `lesson test` only: the block shows an error on purpose.
        } else if lang.is_empty() && !token.contains('=') {
            lang = token.trim_start_matches('.').to_owned();
        }
    }
    let action = match run {
        _ if copy => Action::Copy,
        Some(node) if !node.is_empty() => Action::Run { node, interrupt },
        _ => Action::None,
    };
    (lang, action)
}

/// What `preview:` links open: a session's previews, with the session's
/// preview token (a capability that opens those previews only, so the link
/// can carry it into a new tab, which cannot send the app's Bearer header).
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    pub session: &'a str,
    /// Empty when the app has none yet: the link then carries no token.
    pub token: &'a str,
    /// The preview origin, `http://localhost:8081` (the server's
    /// `preview_origin`); empty: a link on the app's origin, which the server
    /// redirects to the preview origin.
    pub origin: &'a str,
}

/// The URL of a `preview:NODE:PORT/path` link, with `?token=` (the server
/// turns it into a cookie and redirects to the clean URL), or None when the
/// link is not a preview link or is malformed.
pub fn preview_url(dest: &str, preview: Preview) -> Option<String> {
    let rest = dest.strip_prefix("preview:")?;
    let (node, rest) = rest.split_once(':')?;
    let (port, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let valid_node = !node.is_empty()
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    if !valid_node {
        return None;
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let (path, fragment) = match path.find('#') {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    let token = match preview.token {
        "" => String::new(),
        token => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{sep}token={}", query_encode(token))
        }
    };
    let origin = preview.origin.trim_end_matches('/');
    let origin = if origin.starts_with("http://") || origin.starts_with("https://") {
        origin
    } else {
        ""
    };
    let session = preview.session;
    Some(format!(
        "{origin}/preview/{session}/{node}/{port}/{path}{token}{fragment}"
    ))
}

/// `value` percent-encoded for a query (the server issues hex, but a link
/// must not break on anything else).
fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn safe_href(dest: &str) -> bool {
    let lower = dest.trim().to_ascii_lowercase();
    match lower.find(':') {
        // No scheme, or a colon only after a path/query/fragment start: relative.
        None => true,
        Some(i) if lower[..i].contains(['/', '?', '#']) => true,
        Some(_) => ["http:", "https:", "mailto:"]
            .iter()
            .any(|s| lower.starts_with(s)),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn block_html(index: usize, block: &CodeBlock) -> String {
    let lang_class = if block.lang.is_empty() {
        String::new()
    } else {
        format!(r#" class="language-{}""#, escape(&block.lang))
    };
    let first_line = block.code.lines().next().unwrap_or("");
    let (kind, button) = match &block.action {
        Action::Run { node, interrupt } => (
            "run",
            format!(
                r#"<button type="button" class="btn btn-run" data-testid="run" data-block="{index}" aria-label="Run on {node}{ctrlc}: {cmd}" title="Type this into {node} and press Enter">&#9654; Run<span class="on-node"> on {node}</span></button>"#,
                node = escape(node),
                ctrlc = if *interrupt { " (after Ctrl-C)" } else { "" },
                cmd = escape(first_line),
            ),
        ),
        Action::Copy => (
            "copy",
            format!(
                r#"<button type="button" class="btn btn-copy" data-testid="copy" data-block="{index}" aria-label="Copy: {cmd}">Copy</button>"#,
                cmd = escape(first_line),
            ),
        ),
        Action::None => ("plain", String::new()),
    };
    format!(
        r#"<div class="code code-{kind}"><pre><code{lang_class}>{code}</code></pre>{button}</div>"#,
        code = escape(&block.code),
    )
}

/// Renders lesson Markdown. `preview` turns `preview:` links into web preview
/// URLs; without it they render as plain text.
pub fn render(md: &str, preview: Option<Preview>) -> Rendered {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut blocks = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    // Inside a fenced or indented code block: (info, code so far).
    let mut code: Option<(String, String)> = None;
    // For each open link, whether its end must be replaced (preview or dropped).
    let mut links: Vec<Option<&'static str>> = Vec::new();
    for event in Parser::new_ext(md, options) {
        if let Some((_, text)) = code.as_mut() {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let (info, mut text) = code.take().expect("inside a code block");
                    if text.ends_with('\n') {
                        text.pop();
                    }
                    let (lang, action) = parse_info(&info);
                    let block = CodeBlock {
                        lang,
                        code: text,
                        action,
                    };
                    events.push(Event::Html(CowStr::from(block_html(blocks.len(), &block))));
                    blocks.push(block);
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((info, String::new()));
            }
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                if dest_url.starts_with("preview:") {
                    match preview.and_then(|p| preview_url(&dest_url, p)) {
                        Some(url) => {
                            events.push(Event::InlineHtml(CowStr::from(format!(
                                r#"<a class="preview-link" href="{}" target="_blank" rel="noopener">"#,
                                escape(&url)
                            ))));
                            links.push(Some("</a>"));
                        }
                        None => {
                            events.push(Event::InlineHtml(CowStr::from(
                                r#"<span class="preview-link">"#,
                            )));
                            links.push(Some("</span>"));
                        }
                    }
                } else if !safe_href(&dest_url) {
                    events.push(Event::InlineHtml(CowStr::from("<span>")));
                    links.push(Some("</span>"));
                } else if dest_url.starts_with("http:") || dest_url.starts_with("https:") {
                    events.push(Event::InlineHtml(CowStr::from(format!(
                        r#"<a href="{}" target="_blank" rel="noopener noreferrer"{}>"#,
                        escape(&dest_url),
                        if title.is_empty() {
                            String::new()
                        } else {
                            format!(r#" title="{}""#, escape(&title))
                        }
                    ))));
                    links.push(Some("</a>"));
                } else {
                    events.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                    links.push(None);
                }
            }
            Event::End(TagEnd::Link) => match links.pop().flatten() {
                Some(close) => events.push(Event::InlineHtml(CowStr::from(close))),
                None => events.push(Event::End(TagEnd::Link)),
            },
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) if safe_href(&dest_url) => events.push(Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })),
            Event::Start(Tag::Image { .. }) => {
                events.push(Event::Start(Tag::Image {
                    link_type: pulldown_cmark::LinkType::Inline,
                    dest_url: CowStr::from(""),
                    title: CowStr::from(""),
                    id: CowStr::from(""),
                }));
            }
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Rendered { html, blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(session: &'a str, token: &'a str) -> Preview<'a> {
        Preview {
            session,
            token,
            origin: "",
        }
    }

    #[test]
    fn info_strings() {
        assert_eq!(
            parse_info("bash run=node1"),
            (
                "bash".into(),
                Action::Run {
                    node: "node1".into(),
                    interrupt: false
                }
            )
        );
        assert_eq!(
            parse_info("run=node2 interrupt"),
            (
                String::new(),
                Action::Run {
                    node: "node2".into(),
                    interrupt: true
                }
            )
        );
        assert_eq!(
            parse_info("bash run=node1 copy"),
            ("bash".into(), Action::Copy)
        );
        assert_eq!(parse_info("yaml,copy"), ("yaml".into(), Action::Copy));
        assert_eq!(
            parse_info("{.sh run=node1}"),
            (
                "sh".into(),
                Action::Run {
                    node: "node1".into(),
                    interrupt: false
                }
            )
        );
        assert_eq!(parse_info("python"), ("python".into(), Action::None));
        assert_eq!(parse_info(""), (String::new(), Action::None));
        // A quoted value with spaces is one word, never the language.
        assert_eq!(
            parse_info(r#"run=node1 capture=JOIN regex="docker swarm join .*""#),
            (
                String::new(),
                Action::Run {
                    node: "node1".into(),
                    interrupt: false
                }
            )
        );
    }

    #[test]
    fn runnable_copy_and_plain_blocks() {
        let md = "# Step\n\nRun this:\n\n```bash run=node1\necho hello\nls\n```\n\n\
                  Copy that:\n\n```copy\nexport A=1\n```\n\n```\nplain <b>\n```\n";
        let s1 = at("s1", "t");
        let r = render(md, Some(s1));
        assert_eq!(r.blocks.len(), 3);
        assert_eq!(r.blocks[0].code, "echo hello\nls");
        assert_eq!(r.blocks[0].keystrokes(), "echo hello\rls\r");
        assert_eq!(
            r.blocks[0].action,
            Action::Run {
                node: "node1".into(),
                interrupt: false
            }
        );
        assert_eq!(r.blocks[1].action, Action::Copy);
        assert_eq!(r.blocks[2].action, Action::None);
        assert!(r.html.contains("<h1>Step</h1>"));
        assert!(r.html.contains(r#"data-testid="run" data-block="0""#));
        assert!(r.html.contains(r#"data-testid="copy" data-block="1""#));
        assert_eq!(r.html.matches("<button").count(), 2);
        assert!(r.html.contains("plain &lt;b&gt;"));
        assert!(r.html.contains(r#"<code class="language-bash">echo hello"#));
    }

    #[test]
    fn code_blocks_inside_lists_keep_the_list_whole() {
        let md = "1. First\n\n   ```sh run=node1\n   whoami\n   ```\n\n2. Second\n";
        let r = render(md, None);
        assert_eq!(r.blocks.len(), 1);
        assert_eq!(r.blocks[0].code, "whoami");
        assert!(r.html.starts_with("<ol>"));
        assert!(r.html.trim_end().ends_with("</ol>"));
    }

    #[test]
    fn preview_links() {
        let abc = at("abc", "f00d");
        assert_eq!(
            preview_url("preview:node1:8080/index.html", abc).as_deref(),
            Some("/preview/abc/node1/8080/index.html?token=f00d")
        );
        assert_eq!(
            preview_url("preview:node2:80", abc).as_deref(),
            Some("/preview/abc/node2/80/?token=f00d")
        );
        assert_eq!(
            preview_url("preview:node2:80/a?b=1#top", abc).as_deref(),
            Some("/preview/abc/node2/80/a?b=1&token=f00d#top"),
            "the token joins the query, before the fragment"
        );
        assert_eq!(
            preview_url("preview:node2:80/#top", abc).as_deref(),
            Some("/preview/abc/node2/80/?token=f00d#top")
        );
        let odd = at("abc", "a&b=c");
        assert_eq!(
            preview_url("preview:node2:80", odd).as_deref(),
            Some("/preview/abc/node2/80/?token=a%26b%3Dc")
        );
        let tokenless = at("abc", "");
        assert_eq!(
            preview_url("preview:node2:80/x", tokenless).as_deref(),
            Some("/preview/abc/node2/80/x")
        );
        assert_eq!(preview_url("preview:node2:http", abc), None);
        assert_eq!(preview_url("preview:../x:80", abc), None);
        let s9 = at("s9", "cap");
        let r = render("Open [the app](preview:node1:8080/x?y=1).", Some(s9));
        assert!(
            r.html.contains(
                r#"<a class="preview-link" href="/preview/s9/node1/8080/x?y=1&amp;token=cap" target="_blank""#
            ),
            "{}",
            r.html
        );
        let r = render("Open [the app](preview:node1:8080/).", None);
        assert!(!r.html.contains("<a"), "{}", r.html);
        assert!(r.html.contains("the app"));
    }

    #[test]
    fn preview_links_point_at_the_preview_origin() {
        let on = |origin| Preview {
            session: "abc",
            token: "f00d",
            origin,
        };
        assert_eq!(
            preview_url("preview:node1:8080/x", on("http://localhost:8081")).as_deref(),
            Some("http://localhost:8081/preview/abc/node1/8080/x?token=f00d")
        );
        assert_eq!(
            preview_url("preview:node1:80", on("https://preview.example.com/")).as_deref(),
            Some("https://preview.example.com/preview/abc/node1/80/?token=f00d")
        );
        // Anything but an http(s) origin: the app's own, which redirects.
        assert_eq!(
            preview_url("preview:node1:80", on("javascript:alert(1)//")).as_deref(),
            Some("/preview/abc/node1/80/?token=f00d")
        );
        let r = render(
            "[site](preview:node1:80/)",
            Some(on("http://127.0.0.1:8081")),
        );
        assert!(
            r.html
                .contains(r#"href="http://127.0.0.1:8081/preview/abc/node1/80/?token=f00d""#),
            "{}",
            r.html
        );
    }

    #[test]
    fn raw_html_and_script_links_are_neutralised() {
        let r = render(
            "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://example.com)",
            None,
        );
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(!r.html.contains("javascript:"), "{}", r.html);
        assert!(r
            .html
            .contains(r#"<a href="https://example.com" target="_blank""#));
    }
}
