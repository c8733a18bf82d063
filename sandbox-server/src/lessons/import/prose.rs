//! Instructions in imported labs' prose that a runnable block can carry, on
//! a draft in the dialect already (`run=nodeN`), so every importer can call
//! it (like [`super::carry`]):
//!
//! - after a runnable block that starts an interactive program (`docker run
//!   -it alpine sh`, `docker exec -ti web bash`, `kubectl exec -it`), a
//!   paragraph telling the learner to leave it (type `exit`, Ctrl-D) gets a
//!   runnable `exit` block on the same node right after it, unless the lab
//!   gives one there already: the learner has a Run button for it, and
//!   `lesson test` leaves the program as the learner would;
//! - a paragraph saying the next command gives an error ("you'll get an
//!   error", "this will fail", "returns an error") marks the runnable block
//!   right after it `fails`: `lesson test` then expects a non-zero exit.
//!
//! What cannot be mapped is a warning: a paragraph that asks to leave a
//! program no runnable block before it started, a paragraph announcing an
//! error with no runnable block right after it.

use super::draft::Draft;
use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{fence_closes, fence_open, parse_info, Fence, Source};

/// A fence opening, also indented inside a list item (importers keep a
/// block's indentation, and its closing fence at the opening's).
fn opens(line: &str) -> Option<Fence> {
    fence_open(line.trim_start())
}

fn closes(line: &str, fence: &Fence) -> bool {
    fence_closes(line.trim_start(), fence)
}

/// Maps the prose instructions of `draft` (see the module doc).
pub fn map_prose(draft: &mut Draft, diags: &mut Diagnostics) {
    // The node whose last runnable block left it in an interactive program,
    // and that block's indentation.
    let mut open: Option<(usize, String)> = None;
    let sources = draft
        .intro
        .iter_mut()
        .chain(draft.steps.iter_mut().map(|s| &mut s.source))
        .chain(draft.finish.iter_mut());
    for source in sources {
        map_source(source, &mut open, diags);
    }
}

/// A runnable fence met in the source.
struct Block {
    node: usize,
    code: Vec<String>,
}

fn runnable(opening: &str, body: &[(usize, String)]) -> Option<Block> {
    let fence = opens(opening)?;
    let node = parse_info(&fence.info)
        .run?
        .strip_prefix("node")?
        .parse::<usize>()
        .ok()?;
    let code = body
        .iter()
        .map(|(_, l)| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    Some(Block { node, code })
}

fn map_source(source: &mut Source, open: &mut Option<(usize, String)>, diags: &mut Diagnostics) {
    let lines = std::mem::take(&mut source.lines);
    let mut out: Vec<(usize, String)> = Vec::with_capacity(lines.len());
    // Where the fence of the runnable block right after `i` opens (only
    // blank lines between), if there is one.
    let next_block = |from: usize| -> Option<(usize, Block)> {
        let j = (from..lines.len()).find(|&j| !lines[j].1.trim().is_empty())?;
        let fence = opens(&lines[j].1)?;
        let end = (j + 1..lines.len())
            .find(|&k| closes(&lines[k].1, &fence))
            .unwrap_or(lines.len());
        runnable(&lines[j].1, &lines[(j + 1).min(end)..end]).map(|b| (j, b))
    };
    // The fence to mark `fails` (its index in `lines`).
    let mut mark_fails: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = &lines[i];
        if let Some(fence) = opens(line) {
            let end = (i + 1..lines.len())
                .find(|&j| closes(&lines[j].1, &fence))
                .unwrap_or(lines.len());
            let body = &lines[(i + 1).min(end)..end];
            let mut opening = line.clone();
            if let Some(block) = runnable(line, body) {
                if mark_fails.take() == Some(i) && !parse_info(&fence.info).fails {
                    opening.push_str(" fails");
                }
                let indent = &line[..line.len() - line.trim_start().len()];
                let here = open.as_ref().is_some_and(|(k, _)| *k == block.node);
                if block.code.last().is_some_and(|l| starts_interactive(l)) {
                    *open = Some((block.node, indent.to_owned()));
                } else if here && block.code.iter().any(|l| is_exit(l)) {
                    *open = None;
                }
            }
            out.push((*n, opening));
            out.extend(body.iter().cloned());
            out.extend(lines.get(end).cloned());
            i = end + 1;
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            out.push((*n, line.clone()));
            i += 1;
            continue;
        }
        // A paragraph: up to a blank line, a fence or a heading.
        let end = (i..lines.len())
            .find(|&j| {
                let l = &lines[j].1;
                l.trim().is_empty() || l.starts_with('#') || opens(l).is_some()
            })
            .unwrap_or(lines.len());
        let text = lines[i..end]
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.extend(lines[i..end].iter().cloned());
        let last = lines[end - 1].0;
        let following = next_block(end);
        if says_exit(&text) {
            let exit_follows = following
                .as_ref()
                .is_some_and(|(_, b)| b.code.first().is_some_and(|l| is_exit(l)));
            match open.take() {
                _ if exit_follows => {}
                Some((node, indent)) => {
                    out.push((last, String::new()));
                    out.push((last, format!("{indent}```sh run=node{node}")));
                    out.push((last, format!("{indent}exit")));
                    out.push((last, format!("{indent}```")));
                }
                None => diags.warn(
                    &source.file,
                    *n,
                    "this paragraph asks to leave a program, but no runnable block before it starts an interactive one: no `exit` block is added",
                ),
            }
        }
        if says_error(&text) {
            match &following {
                Some((j, _)) => mark_fails = Some(*j),
                None => diags.warn(
                    &source.file,
                    *n,
                    "this paragraph says a command gives an error, but no runnable block follows it: nothing is marked `fails`",
                ),
            }
        }
        i = end;
    }
    source.lines = out;
}

/// Whether a line is `exit` (or `exit N`, `logout`).
fn is_exit(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    matches!(words.as_slice(), ["exit"] | ["exit", _] | ["logout"])
}

/// Whether a command line starts an interactive program: `docker` (or
/// `podman`, `nerdctl`, `kubectl`) `run`/`exec`/`attach` with a TTY and
/// stdin (`-it`, `-ti`, `-i -t`, `--interactive --tty`), not detached.
pub fn starts_interactive(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let tool = words
        .iter()
        .position(|w| *w != "sudo")
        .map(|k| &words[k..])
        .unwrap_or(&[]);
    let Some((first, rest)) = tool.split_first() else {
        return false;
    };
    if !["docker", "podman", "nerdctl", "kubectl"].contains(first) {
        return false;
    }
    if !rest.iter().any(|w| ["run", "exec", "attach"].contains(w)) {
        return false;
    }
    if *first != "kubectl" && rest.first() == Some(&"attach") {
        return true;
    }
    let (mut i, mut t, mut d) = (false, false, false);
    for w in rest {
        match *w {
            "--interactive" => i = true,
            "--tty" => t = true,
            "--detach" => d = true,
            "--" => break,
            short if short.starts_with('-') && !short.starts_with("--") => {
                let flags = &short[1..];
                // `-e X=1`, `-p 80:80`: only letter groups are flags.
                if flags.chars().all(|c| c.is_ascii_alphabetic()) {
                    i |= flags.contains('i');
                    t |= flags.contains('t');
                    d |= flags.contains('d');
                }
            }
            _ => {}
        }
    }
    i && t && !d
}

/// Whether a paragraph tells the learner to leave a program: type `exit`,
/// Ctrl-D.
fn says_exit(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("`exit`")
        || t.contains("type exit")
        || t.contains("typing exit")
        || t.contains("exit out of")
        || ["ctrl-d", "ctrl+d", "control-d", "^d"]
            .iter()
            .any(|k| t.contains(k))
}

/// Whether a paragraph says the next command gives an error.
fn says_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase().replace('’', "'");
    [
        "you'll get an error",
        "you will get an error",
        "you'll see an error",
        "you will see an error",
        "will give an error",
        "gives an error",
        "returns an error",
        "will return an error",
        "will fail",
        "should fail",
        "is expected to fail",
        "results in an error",
    ]
    .iter()
    .any(|k| t.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::import::test_drafts::{draft, text, warnings};

    #[test]
    fn interactive_commands() {
        for line in [
            "docker run -it alpine sh",
            "docker container run -ti --rm busybox",
            "sudo docker exec -i -t web bash",
            "docker run --interactive --tty --rm ubuntu bash",
            "docker container exec -it -e A=1 web sh",
            "kubectl exec -it pod -- sh",
            "docker attach web",
        ] {
            assert!(starts_interactive(line), "{line}");
        }
        for line in [
            "docker run -dit alpine sh",
            "docker run -it -d alpine",
            "docker run alpine ls -lt",
            "docker ps",
            "echo docker run -it",
            "docker run -p 80:80 -e T=1 nginx",
        ] {
            assert!(!starts_interactive(line), "{line}");
        }
    }

    #[test]
    fn an_exit_instruction_after_an_interactive_block_becomes_a_block() {
        let mut d = draft(
            2,
            &[
                "```sh run=node2\ndocker run -it alpine sh\n```\n\nLook around, then leave with `exit`.\n\n```sh run=node2\ndocker ps\n```\n",
                // Given by the lab already: nothing is added.
                "```sh run=node1\ndocker exec -ti web sh\n```\nType `exit` when done:\n\n```sh run=node1\nexit\n```\n",
            ],
        );
        let mut diags = Diagnostics::default();
        map_prose(&mut d, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", warnings(&diags));
        assert_eq!(
            text(&d, 0),
            "```sh run=node2\ndocker run -it alpine sh\n```\n\nLook around, then leave with `exit`.\n\n```sh run=node2\nexit\n```\n\n```sh run=node2\ndocker ps\n```"
        );
        assert_eq!(text(&d, 1).matches("exit\n").count(), 1, "{}", text(&d, 1));
        // The inserted lines point at the paragraph.
        assert!(d.steps[0]
            .source
            .lines
            .iter()
            .any(|(n, l)| l == "exit" && *n == 14));
    }

    #[test]
    fn an_announced_error_marks_the_next_block() {
        let mut d = draft(
            2,
            &["On a worker this gives an error; try it:\n\n```sh run=node2\ndocker node ls\n```\n\n```sh run=node1\ndocker node ls\n```\n"],
        );
        let mut diags = Diagnostics::default();
        map_prose(&mut d, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", warnings(&diags));
        assert_eq!(
            text(&d, 0),
            "On a worker this gives an error; try it:\n\n```sh run=node2 fails\ndocker node ls\n```\n\n```sh run=node1\ndocker node ls\n```"
        );
    }

    #[test]
    fn what_cannot_be_mapped_is_a_warning() {
        let mut d = draft(
            1,
            &["Press Ctrl-D to leave.\n\nAnother port will fail.\n\n```\nnot runnable\n```\n"],
        );
        let mut diags = Diagnostics::default();
        map_prose(&mut d, &mut diags);
        assert_eq!(
            warnings(&diags),
            vec![
                "/l/post.md:10: warning: this paragraph asks to leave a program, but no runnable block before it starts an interactive one: no `exit` block is added",
                "/l/post.md:12: warning: this paragraph says a command gives an error, but no runnable block follows it: nothing is marked `fails`",
            ]
        );
        assert!(!text(&d, 0).contains("fails"));
    }
}
