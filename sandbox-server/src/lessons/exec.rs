//! Running lesson scripts in nodes: setup scripts and assets when a session
//! starts, checks when a learner asks, solutions in `lesson test`. All go
//! through [`Runtime::exec`], so they work on any runtime.

use std::time::{Duration, Instant};

use super::{Asset, Lesson, Script};
use crate::runtime::{Runtime, RuntimeError};

/// Most output kept from one script (the tail: errors come last).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Base64 characters per exec when copying an asset (an argument may be at most 128 KiB).
const ASSET_CHUNK: usize = 96 * 1024;
/// Extra seconds the server waits beyond a script's own timeout before giving up on it.
const GRACE_SECS: u64 = 10;

/// Runs a script the way lessons expect: bash when the node has it (else
/// sh), killed by coreutils `timeout` after its limit, and on Docker-in-Docker
/// nodes only once their `dockerd` is ready (the image touches
/// `/run/playground-dind-ready`).
const WRAPPER: &str = r#"t=$1; s=$2; flags=$3
if command -v dockerd >/dev/null 2>&1 && [ ! -e /run/playground-dind-ready ]; then
  i=0; while [ ! -e /run/playground-dind-ready ] && [ $i -lt 120 ]; do sleep 0.25; i=$((i+1)); done
fi
if command -v bash >/dev/null 2>&1; then sh=bash; else sh=sh; fi
if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 "$t" "$sh" $flags "$s"; fi
exec "$sh" $flags "$s""#;

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i64,
    pub output: String,
    pub timed_out: bool,
    pub millis: u64,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.code == 0 && !self.timed_out
    }
}

/// Runs `script` in `node`; `login` uses a login shell (`bash -lc`), as a terminal would.
pub async fn run_script(
    runtime: &dyn Runtime,
    session: &str,
    node: &str,
    script: &Script,
    login: bool,
) -> Result<Outcome, RuntimeError> {
    let started = Instant::now();
    let cmd: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        WRAPPER.into(),
        "sh".into(),
        script.timeout_secs.to_string(),
        script.body.clone(),
        if login { "-lc" } else { "-c" }.into(),
    ];
    let limit = Duration::from_secs(script.timeout_secs + GRACE_SECS);
    let (code, output, timed_out) =
        match tokio::time::timeout(limit, runtime.exec(session, node, &cmd)).await {
            Ok(result) => {
                let out = result?;
                // 124: `timeout` killed it; 137: killed after the grace period.
                let timed_out = out.code == 124 || out.code == 137;
                (out.code, out.output, timed_out)
            }
            Err(_) => (-1, String::new(), true),
        };
    Ok(Outcome {
        code,
        output: tail(output, MAX_OUTPUT_BYTES),
        timed_out,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// The last `max` bytes of `s` (on a character boundary), marked when cut.
fn tail(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[... output cut ...]\n{}", &s[start..])
}

/// Why a session's nodes could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("copying {path} into {node} failed (exit {code}): {output}")]
    Asset {
        node: String,
        path: String,
        code: i64,
        output: String,
    },
    #[error("setup script of {node} failed (exit {code}): {output}")]
    Setup {
        node: String,
        code: i64,
        output: String,
    },
    #[error("setup script of {node} did not finish within {secs} s")]
    SetupTimeout { node: String, secs: u64 },
}

/// Copies the lesson's assets into the session's nodes, then runs each
/// node's setup script (nodes in parallel).
pub async fn provision(
    runtime: &dyn Runtime,
    session: &str,
    lesson: &Lesson,
) -> Result<(), ProvisionError> {
    let jobs = lesson.nodes.iter().map(|node| async move {
        for asset in lesson.assets.iter().filter(|a| a.node == node.name) {
            copy_asset(runtime, session, asset).await?;
        }
        if let Some(setup) = &node.setup {
            let out = run_script(runtime, session, &node.name, setup, false).await?;
            if out.timed_out {
                return Err(ProvisionError::SetupTimeout {
                    node: node.name.clone(),
                    secs: setup.timeout_secs,
                });
            }
            if out.code != 0 {
                return Err(ProvisionError::Setup {
                    node: node.name.clone(),
                    code: out.code,
                    output: out.output.trim().to_owned(),
                });
            }
        }
        Ok(())
    });
    for result in futures_util::future::join_all(jobs).await {
        result?;
    }
    Ok(())
}

/// Writes one asset through `exec` and base64, in chunks that fit an argument.
pub async fn copy_asset(
    runtime: &dyn Runtime,
    session: &str,
    asset: &Asset,
) -> Result<(), ProvisionError> {
    let encoded = base64(&asset.content);
    let chunks: Vec<&str> = if encoded.is_empty() {
        vec![""]
    } else {
        encoded
            .as_bytes()
            .chunks(ASSET_CHUNK)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let script = if i == 0 {
            r#"mkdir -p "$(dirname "$1")" && printf %s "$2" | base64 -d > "$1" && chmod "$3" "$1""#
        } else {
            r#"printf %s "$2" | base64 -d >> "$1""#
        };
        let cmd: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            asset.path.clone(),
            (*chunk).to_owned(),
            format!("{:o}", asset.mode),
        ];
        let out = runtime.exec(session, &asset.node, &cmd).await?;
        if out.code != 0 {
            return Err(ProvisionError::Asset {
                node: asset.node.clone(),
                path: asset.path.clone(),
                code: out.code,
                output: out.output.trim().to_owned(),
            });
        }
    }
    Ok(())
}

/// Standard base64 with padding (what coreutils `base64 -d` reads); small
/// enough not to need a crate.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abc".into(), 10), "abc");
        let t = tail("0123456789".into(), 4);
        assert!(t.ends_with("6789"), "{t}");
    }
}
