//! Reading a command's output without holding all of it: [`OutputTail`]
//! keeps the last `keep_bytes` (errors come last) and tells the reader to
//! stop once `max_bytes` were read, so a script printing without end costs
//! the server at most about twice `keep_bytes`, never its whole output.
//! Every backend's `exec` reads through one.

use super::ExecOutput;

/// Marks output whose beginning was dropped.
pub const CUT_MARKER: &str = "[... output cut ...]\n";

/// How much of a command's output is kept, and how much is read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// The tail kept, in bytes (`max_script_output_bytes`).
    pub keep_bytes: usize,
    /// Reading stops, and the command is abandoned, past this many bytes
    /// (`max_script_read_bytes`).
    pub max_bytes: u64,
}

impl OutputLimits {
    pub fn of(config: &crate::config::Config) -> OutputLimits {
        OutputLimits {
            keep_bytes: config.max_script_output_bytes,
            max_bytes: config.max_script_read_bytes,
        }
    }
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits::of(&crate::config::Config::default())
    }
}

/// The last line of the output of a command that printed too much.
pub fn abandoned_note(max_bytes: u64) -> String {
    format!("(the output passed {max_bytes} bytes: the server stopped reading and abandoned the command)")
}

/// The tail of a command's output, as it is read.
pub struct OutputTail {
    limits: OutputLimits,
    /// At most `2 × keep_bytes`: trimmed to `keep_bytes` when it grows past that.
    buf: Vec<u8>,
    read: u64,
}

impl OutputTail {
    pub fn new(limits: OutputLimits) -> OutputTail {
        OutputTail {
            limits,
            buf: Vec::new(),
            read: 0,
        }
    }

    /// Takes the next chunk; `false` once more than `max_bytes` were read
    /// (the reader must stop: the command is abandoned).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        self.read += chunk.len() as u64;
        let keep = self.limits.keep_bytes;
        let chunk = &chunk[chunk.len().saturating_sub(keep)..];
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > 2 * keep {
            self.buf.drain(..self.buf.len() - keep);
        }
        !self.over_cap()
    }

    fn over_cap(&self) -> bool {
        self.read > self.limits.max_bytes
    }

    /// The result, with the command's exit code (`-1` when it was
    /// abandoned: it may still be running).
    pub fn finish(mut self, code: i64) -> ExecOutput {
        let keep = self.limits.keep_bytes;
        let cut = self.buf.len() > keep || self.read > self.buf.len() as u64;
        if self.buf.len() > keep {
            self.buf.drain(..self.buf.len() - keep);
        }
        let mut start = 0;
        if cut {
            // Start on a character, not inside one the cut split.
            while start < self.buf.len().min(3) && self.buf[start] & 0xC0 == 0x80 {
                start += 1;
            }
        }
        let text = String::from_utf8_lossy(&self.buf[start..]);
        let mut output = if cut {
            format!("{CUT_MARKER}{text}")
        } else {
            text.into_owned()
        };
        let abandoned = self.over_cap();
        if abandoned {
            if !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&abandoned_note(self.limits.max_bytes));
        }
        ExecOutput {
            code: if abandoned { -1 } else { code },
            output,
            abandoned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(keep_bytes: usize, max_bytes: u64) -> OutputLimits {
        OutputLimits {
            keep_bytes,
            max_bytes,
        }
    }

    #[test]
    fn short_output_is_kept_whole() {
        let mut tail = OutputTail::new(limits(10, 100));
        assert!(tail.push(b"abc"));
        assert!(tail.push(b"def"));
        let out = tail.finish(3);
        assert_eq!(
            (out.code, out.output.as_str(), out.abandoned),
            (3, "abcdef", false)
        );
    }

    #[test]
    fn long_output_keeps_its_tail_and_holds_little() {
        let mut tail = OutputTail::new(limits(4, 1 << 20));
        for i in 0..1000u32 {
            assert!(tail.push(format!("{:04}", i).as_bytes()));
            assert!(tail.buf.len() <= 8, "held {} bytes", tail.buf.len());
        }
        let out = tail.finish(0);
        assert_eq!(out.output, format!("{CUT_MARKER}0999"));
        assert!(!out.abandoned);
        // One chunk larger than what is kept.
        let mut tail = OutputTail::new(limits(4, 1 << 20));
        tail.push(b"0123456789");
        assert_eq!(tail.finish(0).output, format!("{CUT_MARKER}6789"));
    }

    #[test]
    fn past_the_cap_reading_stops_and_the_result_says_so() {
        let mut tail = OutputTail::new(limits(4, 10));
        assert!(tail.push(b"0123456789"), "at the cap is still fine");
        assert!(!tail.push(b"x"), "past it: stop");
        let out = tail.finish(0);
        assert!(out.abandoned);
        assert_eq!(out.code, -1, "an abandoned command has no exit code");
        assert_eq!(
            out.output,
            format!("{CUT_MARKER}789x\n{}", abandoned_note(10))
        );
    }

    #[test]
    fn a_character_split_by_the_cut_is_dropped_whole() {
        let mut tail = OutputTail::new(limits(4, 100));
        tail.push("aé€bc".as_bytes()); // € is 3 bytes; the cut splits it
        assert_eq!(tail.finish(0).output, format!("{CUT_MARKER}bc"));
    }
}
