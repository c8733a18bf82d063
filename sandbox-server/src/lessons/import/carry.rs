//! Values carried between nodes in imported labs: published labs print a
//! join command on one node and tell the learner to copy it into the others
//! ("Copy the join command ... and paste it in the other terminal"). This
//! maps that onto captures (`docs/lessons.md`, "Values carried between
//! nodes"), on a draft in the dialect already, so every importer can call it:
//!
//! - the runnable block that prints the command (`docker swarm init`,
//!   `docker swarm join-token worker|manager`, `kubeadm token create
//!   --print-join-command`) gets `capture=NAME regex="..."`;
//! - a runnable block on another node that is the command with a made-up
//!   token (`docker swarm join --token <token> <ip>:2377`) becomes `{{NAME}}`;
//! - after the paragraph that says to copy or paste it, a `{{NAME}}` block
//!   is added for each node it names (`node2`, `2nd terminal`), or for every
//!   other node when it names none (`the other terminal`).
//!
//! What cannot be mapped is a warning: a printed command nothing uses (a
//! learner copies it by hand), a copy instruction with no printing block
//! before it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::draft::Draft;
use crate::lessons::diag::Diagnostics;
use crate::lessons::markdown::{fence_closes, fence_open, parse_info, Source};

/// A kind of join command labs carry from one node to others.
struct Join {
    /// The capture name.
    name: &'static str,
    /// The `regex=` that finds the command in the output.
    regex: &'static str,
    /// Whether a block's code prints the command.
    printed_by: fn(&str) -> bool,
    /// Whether a block's code is the command itself (with a token the lab made up).
    is_join: fn(&str) -> bool,
    /// What the command is called in a copy instruction.
    keyword: &'static str,
}

const JOINS: &[Join] = &[
    Join {
        name: "SWARM_JOIN",
        regex: r"docker swarm join --token \S+ \S+",
        printed_by: |code| {
            code.contains("docker swarm init")
                || (code.contains("docker swarm join-token") && !code.contains(" -q"))
        },
        is_join: |code| code.starts_with("docker swarm join ") && code.contains("--token"),
        keyword: "join",
    },
    Join {
        name: "KUBEADM_JOIN",
        regex: r"kubeadm join \S+ --token \S+ --discovery-token-ca-cert-hash \S+",
        printed_by: |code| code.contains("--print-join-command"),
        is_join: |code| code.starts_with("kubeadm join ") && code.contains("--token"),
        keyword: "join",
    },
];

/// Maps the join commands of `draft` (see the module doc). Call it on a
/// draft whose blocks are in the dialect already (`run=nodeN`).
pub fn map_join_commands(draft: &mut Draft, diags: &mut Diagnostics) {
    let nodes = draft.nodes.len();
    // Copy instructions met, by where they are: mapped by some kind of join?
    let mut instructions: BTreeMap<(PathBuf, usize), bool> = BTreeMap::new();
    for join in JOINS {
        let mut state = State::default();
        let sources = draft
            .intro
            .iter_mut()
            .chain(draft.steps.iter_mut().map(|s| &mut s.source))
            .chain(draft.finish.iter_mut());
        for source in sources {
            map_source(source, join, nodes, &mut state, &mut instructions);
        }
        if let Some(at) = &state.captured {
            if !state.used && nodes > 1 {
                diags.warn(
                    &at.file,
                    at.line,
                    format!(
                        "this block prints a join command no block runs: a learner copies it by hand (it is captured as {name}; a block `{{{{{name}}}}}` with run=nodeN would run it)",
                        name = join.name
                    ),
                );
            }
        }
    }
    if nodes > 1 {
        for ((file, line), _) in instructions.iter().filter(|(_, mapped)| !**mapped) {
            diags.warn(
                file,
                *line,
                "copying a join command between terminals is not mapped: no runnable block before this prints one",
            );
        }
    }
}

/// Where the printing block is.
struct At {
    file: std::path::PathBuf,
    line: usize,
    /// Its node's number.
    node: usize,
}

/// What one kind of join has met so far, across the draft's sources.
#[derive(Default)]
struct State {
    captured: Option<At>,
    /// A copy instruction after the printing block is still to come.
    awaiting_instruction: bool,
    used: bool,
    /// Nodes that run the command already.
    joined: BTreeSet<usize>,
}

fn map_source(
    source: &mut Source,
    join: &Join,
    nodes: usize,
    state: &mut State,
    instructions: &mut BTreeMap<(PathBuf, usize), bool>,
) {
    let lines = std::mem::take(&mut source.lines);
    let mut out: Vec<(usize, String)> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = &lines[i];
        if let Some(fence) = fence_open(line) {
            let end = (i + 1..lines.len())
                .find(|&j| fence_closes(&lines[j].1, &fence))
                .unwrap_or(lines.len());
            let body = &lines[(i + 1).min(end)..end];
            let code: Vec<&str> = body
                .iter()
                .map(|(_, l)| l.trim())
                .filter(|l| !l.is_empty())
                .collect();
            let info = parse_info(&fence.info);
            let node = info
                .run
                .as_deref()
                .and_then(|r| r.strip_prefix("node"))
                .and_then(|k| k.parse::<usize>().ok());
            let mut opening = line.clone();
            let mut body = body.to_vec();
            if let Some(k) = node {
                let printing = (join.printed_by)(&code.join("\n"));
                let same_node = state.captured.as_ref().is_none_or(|at| at.node == k);
                if printing && info.capture.is_none() && same_node {
                    opening = format!("{line} capture={} regex=\"{}\"", join.name, join.regex);
                    if state.captured.is_none() {
                        state.captured = Some(At {
                            file: source.file.clone(),
                            line: *n,
                            node: k,
                        });
                    }
                    state.awaiting_instruction = true;
                } else if let (Some(at), [only]) = (&state.captured, code.as_slice()) {
                    if at.node != k && (join.is_join)(only) {
                        let first = body.first().map_or(*n, |(m, _)| *m);
                        body = vec![(first, format!("{{{{{}}}}}", join.name))];
                        state.joined.insert(k);
                        state.used = true;
                    }
                }
            }
            out.push((*n, opening));
            out.extend(body);
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
                l.trim().is_empty() || l.starts_with('#') || fence_open(l).is_some()
            })
            .unwrap_or(lines.len());
        let paragraph: Vec<&str> = lines[i..end].iter().map(|(_, l)| l.as_str()).collect();
        let text = paragraph.join(" ");
        out.extend(lines[i..end].iter().cloned());
        if is_copy_instruction(&text, join.keyword) {
            let last = lines[end - 1].0;
            let mapped = instructions.entry((source.file.clone(), *n)).or_default();
            *mapped |= state.captured.is_some();
            // "...then run it here:" with the block right after: that block
            // is where it goes (mapped above if it is a made-up command).
            let block_follows = lines[end..]
                .iter()
                .find(|(_, l)| !l.trim().is_empty())
                .and_then(|(_, l)| fence_open(l))
                .is_some_and(|f| parse_info(&f.info).run.is_some());
            match &state.captured {
                Some(at) if state.awaiting_instruction && !block_follows => {
                    state.awaiting_instruction = false;
                    let targets: Vec<usize> = targets(&text, nodes)
                        .into_iter()
                        .filter(|t| *t != at.node && !state.joined.contains(t))
                        .collect();
                    for t in &targets {
                        out.push((last, String::new()));
                        out.push((last, format!("```sh run=node{t}")));
                        out.push((last, format!("{{{{{}}}}}", join.name)));
                        out.push((last, "```".into()));
                        state.joined.insert(*t);
                        state.used = true;
                    }
                }
                _ => {}
            }
        }
        i = end;
    }
    source.lines = out;
}

/// Whether a paragraph tells the learner to copy a join command elsewhere.
fn is_copy_instruction(text: &str, keyword: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains(keyword) && (t.contains("copy") || t.contains("paste"))
}

/// The node numbers a copy instruction names (`node2`, `term2`, `2nd
/// terminal`, `second terminal`), within `1..=nodes`; every node when it
/// names none.
fn targets(text: &str, nodes: usize) -> BTreeSet<usize> {
    let t = text.to_ascii_lowercase();
    let mut named = BTreeSet::new();
    for prefix in ["node", "term", "terminal "] {
        for (at, _) in t.match_indices(prefix) {
            let digits: String = t[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(k) = digits.parse::<usize>() {
                named.insert(k);
            }
        }
    }
    const ORDINALS: &[(&str, usize)] = &[
        ("2nd", 2),
        ("second", 2),
        ("3rd", 3),
        ("third", 3),
        ("4th", 4),
        ("fourth", 4),
        ("5th", 5),
        ("fifth", 5),
    ];
    for (word, k) in ORDINALS {
        if t.contains(&format!("{word} terminal")) || t.contains(&format!("{word} node")) {
            named.insert(*k);
        }
    }
    named.retain(|k| (1..=nodes).contains(k));
    if named.is_empty() {
        (1..=nodes).collect()
    } else {
        named
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::import::test_drafts::{draft, text, warnings};

    /// play-with-docker's Swarm posts: init on node1, then "copy the join
    /// command ... paste it in the other terminal".
    #[test]
    fn a_copy_instruction_becomes_a_block_on_the_other_node() {
        let mut d = draft(
            2,
            &["## Init your swarm\n\n```sh run=node1\ndocker swarm init --advertise-addr $(hostname -i)\n```\n\nCopy the join command (*watch out for newlines*) output\nand paste it in the other terminal.\n\n## Next\n"],
        );
        let mut diags = Diagnostics::default();
        map_join_commands(&mut d, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", warnings(&diags));
        assert_eq!(
            text(&d, 0),
            "## Init your swarm\n\n```sh run=node1 capture=SWARM_JOIN regex=\"docker swarm join --token \\S+ \\S+\"\ndocker swarm init --advertise-addr $(hostname -i)\n```\n\nCopy the join command (*watch out for newlines*) output\nand paste it in the other terminal.\n\n```sh run=node2\n{{SWARM_JOIN}}\n```\n\n## Next"
        );
        // Inserted lines point at the instruction's last line.
        assert!(d.steps[0]
            .source
            .lines
            .iter()
            .any(|(n, l)| l == "{{SWARM_JOIN}}" && *n == 17));
    }

    #[test]
    fn named_terminals_and_made_up_join_blocks() {
        let mut d = draft(
            3,
            &[
                "```sh run=node1\ndocker swarm join-token worker\n```\nCopy the \"docker swarm join...\" command and paste it in the 2nd terminal window.\n",
                "```sh run=node3\ndocker swarm join --token SWMTKN-1-xxxx 192.168.0.10:2377\n```\n",
            ],
        );
        let mut diags = Diagnostics::default();
        map_join_commands(&mut d, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", warnings(&diags));
        assert!(
            text(&d, 0).ends_with("```sh run=node2\n{{SWARM_JOIN}}\n```"),
            "{}",
            text(&d, 0)
        );
        assert!(!text(&d, 0).contains("run=node3"));
        assert_eq!(text(&d, 1), "```sh run=node3\n{{SWARM_JOIN}}\n```");
    }

    #[test]
    fn what_cannot_be_mapped_is_a_warning() {
        let mut d = draft(
            2,
            &[
                "Copy the join command into node2.\n\n```sh run=node1\ndocker swarm init\n```\n\nWe stay on node1.\n",
            ],
        );
        let mut diags = Diagnostics::default();
        map_join_commands(&mut d, &mut diags);
        assert_eq!(
            warnings(&diags),
            vec![
                "/l/post.md:12: warning: this block prints a join command no block runs: a learner copies it by hand (it is captured as SWARM_JOIN; a block `{{SWARM_JOIN}}` with run=nodeN would run it)",
                "/l/post.md:10: warning: copying a join command between terminals is not mapped: no runnable block before this prints one",
            ]
        );
        // A one-node lesson has nowhere to carry it: nothing to say.
        let mut d = draft(1, &["```sh run=node1\ndocker swarm init\n```\n"]);
        let mut diags = Diagnostics::default();
        map_join_commands(&mut d, &mut diags);
        assert!(diags.items.is_empty());
        assert!(text(&d, 0).contains("capture=SWARM_JOIN"));
    }

    /// "Copy it, then run it here:" and a block: the block is the target,
    /// nothing is added.
    #[test]
    fn an_instruction_before_a_block_adds_nothing() {
        let mut d = draft(
            2,
            &["```sh run=node1\ndocker swarm init\n```\nCopy the join command, then run it here:\n\n```sh run=node2\ndocker swarm join --token TOKEN node1:2377\n```\n"],
        );
        let mut diags = Diagnostics::default();
        map_join_commands(&mut d, &mut diags);
        assert!(diags.items.is_empty(), "{:?}", warnings(&diags));
        assert_eq!(
            text(&d, 0).matches("{{SWARM_JOIN}}").count(),
            1,
            "{}",
            text(&d, 0)
        );
    }

    #[test]
    fn targets_named_or_all() {
        assert_eq!(targets("paste it into node2 and node3", 3), [2, 3].into());
        assert_eq!(targets("the third terminal", 3), [3].into());
        assert_eq!(targets("the other terminals", 3), [1, 2, 3].into());
        assert_eq!(targets("node7", 3), [1, 2, 3].into());
    }
}
