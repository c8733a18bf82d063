//! The parts of the lesson Markdown dialect (`docs/lessons.md`) that the
//! server and the web app must read the same way, so they live here once:
//!
//! - what a Run button types ([`keystrokes`]);
//! - the words of a fenced block's info string ([`info_words`]): separated by
//!   spaces, commas and braces, except inside quotes, so an attribute value
//!   may hold spaces (`regex="docker swarm join .*"`);
//! - `{{NAME}}` placeholders for values captured from a node's output
//!   ([`placeholders`], [`substitute`]). A block with `capture=NAME` declares
//!   one; any runnable block may then use `{{NAME}}`, which is filled in
//!   when it runs (the Run button, `lesson test`).
//!
//! Placeholder names are upper case (`[A-Z][A-Z0-9_]*`), and only names a
//! lesson declares are ever replaced: Go templates (`{{.State.Status}}`,
//! `{{json .}}`) and other braces in shell code stay as they are.

/// The bytes a Run button types for a block: its lines joined by Enter (`\r`),
/// plus a final Enter. A final newline of the block is not a line of its
/// own. Ctrl-C (for `interrupt`) is not included: it must go first, on its own.
pub fn keystrokes(code: &str) -> String {
    let code = code.strip_suffix('\n').unwrap_or(code);
    let mut s = code.replace("\r\n", "\n").replace('\n', "\r");
    s.push('\r');
    s
}

/// Longest capture name.
pub const MAX_CAPTURE_NAME: usize = 64;

/// Splits an info string (`bash run=node1 capture=JOIN regex="a b"`) into
/// words. Spaces, commas and braces separate words outside quotes; a `"` or
/// `'` quotes up to the same quote (a backslash before it keeps it in the
/// word), and the quotes themselves are dropped: `regex="a b"` is the word
/// `regex=a b`. An unclosed quote runs to the end.
pub fn info_words(info: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether the current word has started (a `""` value is a word too).
    let mut started = false;
    let mut chars = info.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                started = true;
                while let Some(q) = chars.next() {
                    if q == '\\' && chars.peek() == Some(&c) {
                        word.push(c);
                        chars.next();
                    } else if q == c {
                        break;
                    } else {
                        word.push(q);
                    }
                }
            }
            c if c.is_whitespace() || matches!(c, ',' | '{' | '}') => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// Whether `name` can be a capture name: an upper-case letter, then upper-case
/// letters, digits and `_`, at most [`MAX_CAPTURE_NAME`] long.
pub fn is_capture_name(name: &str) -> bool {
    name.len() <= MAX_CAPTURE_NAME
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The `{{NAME}}` placeholders in `code`, in order, with their byte ranges
/// (braces included). Only well-formed names count (see [`is_capture_name`]).
pub fn placeholders(code: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(found) = code[at..].find("{{") {
            let start = at + found;
            let name_start = start + 2;
            let end = code[name_start..]
                .find("}}")
                .map(|e| name_start + e)
                .filter(|&e| is_capture_name(&code[name_start..e]));
            match end {
                Some(end) => {
                    at = end + 2;
                    return Some((start..end + 2, &code[name_start..end]));
                }
                // Not a placeholder: look again from the next character, so
                // `{{{NAME}}` still finds `{{NAME}}`.
                None => at = start + 1,
            }
        }
        None
    })
}

/// `code` with each `{{NAME}}` for which `value` gives a value replaced by it;
/// the others are left as they are.
pub fn substitute<'v>(code: &str, mut value: impl FnMut(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(code.len());
    let mut copied = 0;
    for (range, name) in placeholders(code) {
        if let Some(v) = value(name) {
            out.push_str(&code[copied..range.start]);
            out.push_str(v);
            copied = range.end;
        }
    }
    out.push_str(&code[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_words_split_outside_quotes() {
        assert_eq!(
            info_words(r#"bash run=node1 capture=JOIN regex="docker swarm join .*""#),
            vec![
                "bash",
                "run=node1",
                "capture=JOIN",
                "regex=docker swarm join .*"
            ]
        );
        assert_eq!(info_words("{.sh run=node1}"), vec![".sh", "run=node1"]);
        assert_eq!(
            info_words("sh,run=node2 , copy"),
            vec!["sh", "run=node2", "copy"]
        );
        assert_eq!(
            info_words(r#"regex='a "b"' x="c \" d" y="""#),
            vec![r#"regex=a "b""#, r#"x=c " d"#, "y="]
        );
        // A backslash before anything but the closing quote stays.
        assert_eq!(info_words(r#"regex="\S+\.\d""#), vec![r"regex=\S+\.\d"]);
        assert_eq!(info_words(r#"a="unclosed b"#), vec!["a=unclosed b"]);
        assert!(info_words("  ").is_empty());
    }

    #[test]
    fn keystrokes_are_lines_and_enter() {
        assert_eq!(keystrokes("echo hello\nls"), "echo hello\rls\r");
        assert_eq!(keystrokes("a\r\nb\n"), "a\rb\r");
        assert_eq!(keystrokes(""), "\r");
    }

    #[test]
    fn capture_names() {
        assert!(is_capture_name("JOIN"));
        assert!(is_capture_name("NODE1_IP"));
        assert!(!is_capture_name("join"));
        assert!(!is_capture_name("_X"));
        assert!(!is_capture_name("1X"));
        assert!(!is_capture_name(".State"));
        assert!(!is_capture_name(""));
        assert!(!is_capture_name(&"A".repeat(MAX_CAPTURE_NAME + 1)));
    }

    #[test]
    fn placeholders_are_found_and_go_templates_are_not() {
        let code =
            "{{JOIN}} && docker inspect -f '{{.State.Status}}' x {{json .}} {{ IP }} {{{IP}}}";
        let found: Vec<_> = placeholders(code).map(|(_, n)| n).collect();
        assert_eq!(found, vec!["JOIN", "IP"]);
        let (range, _) = placeholders("x {{A}}").next().unwrap();
        assert_eq!(range, 2..7);
        assert_eq!(placeholders("{{A").count(), 0);
    }

    #[test]
    fn substitution_replaces_known_names_only() {
        let code = "ping -c1 {{IP}}; echo {{OTHER}} '{{.Name}}' {{IP}}";
        let out = substitute(code, |n| (n == "IP").then_some("10.0.0.2"));
        assert_eq!(
            out,
            "ping -c1 10.0.0.2; echo {{OTHER}} '{{.Name}}' 10.0.0.2"
        );
        assert_eq!(
            substitute("no placeholders", |_| Some("x")),
            "no placeholders"
        );
        // A value is inserted as is, never scanned again.
        assert_eq!(substitute("{{A}}", |_| Some("{{A}}")), "{{A}}");
    }
}
