//! The block structure of step Markdown from pulldown-cmark's offset
//! iterator (the parser the web app renders with), mapped back to the
//! source's lines: which lines are fenced code (with its info and code),
//! indented code, or the start of a heading.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use super::Source;

/// A fenced code block, by line index into [`Source::lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FencedBlock {
    /// The line with the opening fence.
    pub(super) first: usize,
    /// The line with the closing fence, or the block's last line when it is
    /// never closed.
    pub(super) last: usize,
    pub(super) info: String,
    /// The code, without the indentation of a list item or the `>` of a
    /// block quote, and without its final line break.
    pub(super) code: String,
    pub(super) closed: bool,
    /// The opening fence's characters (```` ``` ````, `~~~~`, ...).
    pub(super) marker: String,
}

/// What pulldown-cmark finds in a source, by line index.
#[derive(Debug, Default)]
pub(super) struct Outline {
    /// Fenced code blocks, in order.
    pub(super) fences: Vec<FencedBlock>,
    /// Lines where a heading starts.
    pub(super) headings: Vec<bool>,
    /// Lines inside an indented code block.
    pub(super) indented: Vec<bool>,
}

/// The options the web app renders lesson Markdown with.
fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Parses the source's lines as one document and maps every block found
/// back to line indices.
pub(super) fn outline(src: &Source) -> Outline {
    let mut text = String::new();
    let mut starts = Vec::with_capacity(src.lines.len());
    for (_, line) in &src.lines {
        starts.push(text.len());
        text.push_str(line);
        text.push('\n');
    }
    // The index of the line holding byte `offset`.
    let line_at = |offset: usize| starts.partition_point(|s| *s <= offset).saturating_sub(1);
    let lines_of = |r: &Range<usize>| line_at(r.start)..=line_at(r.end.max(r.start + 1) - 1);
    let mut out = Outline {
        headings: vec![false; src.lines.len()],
        indented: vec![false; src.lines.len()],
        ..Default::default()
    };
    let mut fence: Option<FencedBlock> = None;
    for (event, range) in Parser::new_ext(&text, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let raw = &text[range.clone()];
                let lines = lines_of(&range);
                fence = Some(FencedBlock {
                    first: *lines.start(),
                    last: *lines.end(),
                    info: info.trim().to_owned(),
                    code: String::new(),
                    // A closed block's range ends with its closing fence;
                    // an unclosed one runs to the end of a line.
                    closed: lines.start() != lines.end() && !raw.ends_with('\n'),
                    marker: raw.chars().take_while(|c| *c == '`' || *c == '~').collect(),
                });
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Indented)) => {
                for i in lines_of(&range) {
                    out.indented[i] = true;
                }
            }
            Event::Text(t) => {
                if let Some(f) = fence.as_mut() {
                    f.code.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(mut f) = fence.take() {
                    if f.code.ends_with('\n') {
                        f.code.pop();
                    }
                    out.fences.push(f);
                }
            }
            Event::Start(Tag::Heading { .. }) => out.headings[line_at(range.start)] = true,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Offsets come back as indices of the source's lines, whatever line
    /// numbers the lines carry (an importer's converted text skips some).
    #[test]
    fn blocks_map_to_line_indices() {
        let mut src = Source::new(Path::new("s.md"), "# T\n- x\n\n  ~~~sh\n  a\n  ~~~\n", 10);
        src.push(40, "    indented");
        src.push(41, "```");
        src.push(42, "open");
        let o = outline(&src);
        let fences: Vec<_> = o
            .fences
            .iter()
            .map(|f| {
                (
                    f.first,
                    f.last,
                    f.code.as_str(),
                    f.closed,
                    f.marker.as_str(),
                )
            })
            .collect();
        assert_eq!(
            fences,
            vec![(3, 5, "a", true, "~~~"), (7, 8, "open", false, "```")]
        );
        assert_eq!(
            o.headings,
            [true, false, false, false, false, false, false, false, false]
        );
        // Four spaces inside the list item are a paragraph, not indented code.
        assert!(!o.indented[6]);
    }
}
