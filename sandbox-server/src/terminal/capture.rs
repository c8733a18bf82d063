//! Values captured from a terminal's output (`capture=NAME regex="..."` in a
//! lesson; see `docs/lessons.md`).
//!
//! The mirror task feeds every output chunk here as it parses it for the
//! screen, so capturing never slows the pump. Output is cut into the lines a
//! program printed (escape sequences dropped, `\r` and backspace applied the
//! way they redraw a line), each line is matched against the node's
//! patterns, and the last match is kept per name. Lines, not the screen: a
//! long join command that wraps on a narrow screen is still one line, and a
//! value printed long ago (scrolled away) is still known.
//!
//! Bounded: a line keeps its first [`MAX_LINE_BYTES`]; one buffer is reused;
//! no allocation per byte. A value can never hold a control character, so
//! filling it into a block cannot press Enter or Ctrl-C.

use std::collections::HashMap;
use std::sync::Arc;

use crate::lessons::CapturePattern;

/// The longest line looked at (the rest of a longer line is ignored).
pub const MAX_LINE_BYTES: usize = 4096;

/// A value one node's output gives.
#[derive(Debug, Clone)]
pub struct CaptureRule {
    pub name: String,
    pub pattern: CapturePattern,
}

/// Where the scanner is in an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// ESC and intermediate bytes (`ESC ( B`).
    Intermediate,
    /// ESC `[`: parameters until a final byte.
    Csi,
    /// ESC `]`, `P`, `X`, `^` or `_`: a string until BEL or ESC `\`.
    Text,
    /// ESC inside such a string: `\` ends it.
    TextEnd,
}

/// Cuts output into lines and keeps the last value each rule found.
pub struct Scanner {
    rules: Arc<[CaptureRule]>,
    line: Vec<u8>,
    /// A `\r` came: the next printed byte starts the line over.
    carriage_return: bool,
    escape: Escape,
    values: HashMap<String, String>,
}

impl Scanner {
    /// A scanner for `rules`; None when there are none (nothing to do).
    pub fn new(rules: Arc<[CaptureRule]>) -> Option<Scanner> {
        if rules.is_empty() {
            return None;
        }
        Some(Scanner {
            rules,
            line: Vec::with_capacity(256),
            carriage_return: false,
            escape: Escape::None,
            values: HashMap::new(),
        })
    }

    /// The last value captured for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Scans plain text line by line (a screen restored after a restart).
    pub fn scan_text(&mut self, text: &str) {
        for line in text.lines() {
            self.match_line(line);
        }
    }

    /// Feeds output bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.escape {
                Escape::None => self.byte(b),
                Escape::Start => {
                    self.escape = match b {
                        b'[' => Escape::Csi,
                        b']' | b'P' | b'X' | b'^' | b'_' => Escape::Text,
                        0x20..=0x2f => Escape::Intermediate,
                        _ => Escape::None,
                    }
                }
                Escape::Intermediate => {
                    if !(0x20..=0x2f).contains(&b) {
                        self.escape = Escape::None;
                    }
                }
                Escape::Csi => {
                    if (0x40..=0x7e).contains(&b) {
                        self.escape = Escape::None;
                    }
                }
                Escape::Text => match b {
                    0x07 => self.escape = Escape::None,
                    0x1b => self.escape = Escape::TextEnd,
                    _ => {}
                },
                Escape::TextEnd => {
                    self.escape = if b == b'\\' {
                        Escape::None
                    } else {
                        Escape::Text
                    }
                }
            }
        }
    }

    /// One byte outside an escape sequence.
    fn byte(&mut self, b: u8) {
        match b {
            0x1b => self.escape = Escape::Start,
            b'\n' => {
                self.end_line();
            }
            b'\r' => self.carriage_return = true,
            0x08 => {
                // Backspace: drop the last character (all of its UTF-8 bytes).
                while let Some(last) = self.line.pop() {
                    if last & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            b'\t' | 0x20.. if b != 0x7f => {
                if std::mem::take(&mut self.carriage_return) {
                    self.line.clear();
                }
                if self.line.len() < MAX_LINE_BYTES {
                    self.line.push(b);
                }
            }
            _ => {}
        }
    }

    fn end_line(&mut self) {
        self.carriage_return = false;
        let line = std::mem::take(&mut self.line);
        self.match_line(&String::from_utf8_lossy(&line));
        self.line = line;
        self.line.clear();
    }

    fn match_line(&mut self, line: &str) {
        for rule in self.rules.iter() {
            if let Some(value) = rule.pattern.find(line) {
                self.values.insert(rule.name.clone(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner(rules: &[(&str, &str)]) -> Scanner {
        let rules: Vec<CaptureRule> = rules
            .iter()
            .map(|(name, re)| CaptureRule {
                name: (*name).into(),
                pattern: CapturePattern::new(re).unwrap(),
            })
            .collect();
        Scanner::new(rules.into()).unwrap()
    }

    #[test]
    fn no_rules_no_scanner() {
        assert!(Scanner::new(Vec::new().into()).is_none());
    }

    #[test]
    fn the_last_match_of_a_printed_line_is_kept() {
        let mut s = scanner(&[
            ("JOIN", r"docker swarm join --token \S+ \S+"),
            ("IP", r"^\s*(\d+\.\d+\.\d+\.\d+)\s*$"),
        ]);
        s.feed(b"Swarm initialized.\r\n\r\n    docker swarm join --token SWMTKN-1-abc 10.0.0.2:2377\r\n");
        assert_eq!(
            s.value("JOIN"),
            Some("docker swarm join --token SWMTKN-1-abc 10.0.0.2:2377")
        );
        assert_eq!(s.value("IP"), None);
        // Split anywhere, with colours and a title escape in the middle.
        for chunk in [
            &b"\x1b[1;32mroot@node1\x1b[0m:~# hostname -i\r\n10.0"[..],
            b".0.",
            b"3\x1b]0;title\x07\r",
            b"\n",
        ] {
            s.feed(chunk);
        }
        assert_eq!(s.value("IP"), Some("10.0.0.3"));
        // A later match replaces the value.
        s.feed(b"10.0.0.9\n");
        assert_eq!(s.value("IP"), Some("10.0.0.9"));
    }

    #[test]
    fn redrawn_lines_and_backspaces_count_as_shown() {
        let mut s = scanner(&[("V", r"^value: (\w+)$")]);
        s.feed(b"progress 10%\rvalue: ab\x08\x08cd\r\n");
        assert_eq!(s.value("V"), Some("cd"));
        // A value never holds control characters or escape sequences.
        s.feed(b"value: \x1b[31mx\x07y\x1b[0m\n");
        assert_eq!(s.value("V"), Some("xy"));
    }

    #[test]
    fn long_lines_are_cut_and_screens_scanned() {
        let mut s = scanner(&[("T", r"token=(\w+)")]);
        let mut long = vec![b'x'; MAX_LINE_BYTES];
        long.extend_from_slice(b" token=late\n");
        s.feed(&long);
        assert_eq!(s.value("T"), None);
        s.scan_text("old screen\ntoken=restored\n");
        assert_eq!(s.value("T"), Some("restored"));
    }
}
