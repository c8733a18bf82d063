//! `sandbox-server lesson build DIR`: compiles every grader crate of the
//! lessons under DIR (`<lesson>/graders/<name>/Cargo.toml`) to a component
//! with cargo for `wasm32-wasip2`, writes it to `<name>/grader.wasm`, and
//! loads it the way the server will (verified, compiled, cached), so a
//! grader that imports more than the host interface fails the build.
//!
//! Graders depend on `playground-grader = "0.1"`; the build points that at
//! the guest crate of this playground (`--sdk`, else the copy next to the
//! sources it was built from) with a cargo `[patch]`, so a lesson published
//! anywhere builds against the server that runs it. All graders share one
//! cargo target directory, so their dependencies compile once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{GraderEngine, COMPONENT_FILE};

/// The target graders are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Where `lesson build` finds what it needs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The `playground-grader` guest crate.
    pub sdk: PathBuf,
    /// Cargo's target directory, shared by every grader.
    pub target_dir: PathBuf,
}

/// Why a grader did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{manifest}: {reason}")]
    Manifest { manifest: String, reason: String },
    #[error("running cargo: {0} (is Rust installed? scripts/setup.sh rust)")]
    Cargo(std::io::Error),
    #[error("cargo build of {dir} failed (exit {code}); see its output above")]
    Failed { dir: String, code: i32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Load(#[from] super::GraderError),
}

/// A built grader.
#[derive(Debug, Clone)]
pub struct Built {
    pub dir: PathBuf,
    pub bytes: u64,
    pub millis: u64,
}

/// The guest crate next to the sources this binary was built from, if it is
/// still there.
pub fn default_sdk() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../graders/guest");
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// Every grader crate under `root`: a directory with a `Cargo.toml` whose
/// parent is named `graders`, up to five levels down (a directory of
/// lessons, a lesson, or one grader). Sorted, so builds run in a stable order.
pub fn find(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if is_grader(dir) {
            out.push(dir.to_path_buf());
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.');
            if path.is_dir() && !hidden && name != "target" && name != "node_modules" {
                walk(&path, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, 5, &mut out);
    // A crate the graders depend on by path (`graders/common/`, code a lab's
    // graders share) is no grader: cargo builds it as their dependency.
    let shared: Vec<PathBuf> = out.iter().flat_map(|dir| path_dependencies(dir)).collect();
    out.retain(|dir| {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        !shared.contains(&dir)
    });
    out.sort();
    out
}

/// The directories of the path dependencies of the crate `dir`
/// (`[dependencies]` entries with `path = ...`), canonical; none when its
/// manifest cannot be read.
fn path_dependencies(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return Vec::new();
    };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return Vec::new();
    };
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .into_iter()
        .flat_map(|deps| deps.values())
        .filter_map(|dep| dep.get("path").and_then(|p| p.as_str()))
        .filter_map(|path| dir.join(path).canonicalize().ok())
        .collect()
}

fn is_grader(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
        && dir
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "graders")
}

/// The library file cargo makes for the crate of `manifest`.
fn artifact_name(manifest: &Path) -> Result<String, BuildError> {
    let bad = |reason: String| BuildError::Manifest {
        manifest: manifest.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(manifest).map_err(|e| bad(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let package = table
        .get("package")
        .and_then(|p| p.as_table())
        .ok_or_else(|| bad("no [package]".into()))?;
    let name = package
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| bad("no package name".into()))?;
    let lib = table.get("lib").and_then(|l| l.as_table());
    let cdylib = lib
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Err(bad(
            "a grader is a library with crate-type = [\"cdylib\"] under [lib]".into(),
        ));
    }
    let lib_name = lib
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or(name);
    Ok(format!("{}.wasm", lib_name.replace('-', "_")))
}

/// Builds the grader crate `dir` and loads the result as the server would.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built, BuildError> {
    let started = Instant::now();
    let manifest = dir.join("Cargo.toml");
    let artifact = artifact_name(&manifest)?;
    let sdk = options.sdk.canonicalize()?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--config")
        .arg(format!(
            "patch.crates-io.playground-grader.path={:?}",
            sdk.display().to_string()
        ))
        // Small components: optimised for size, no unwinding.
        .arg("--config")
        .arg("profile.release.opt-level=\"s\"")
        .arg("--config")
        .arg("profile.release.panic=\"abort\"")
        .arg("--config")
        .arg("profile.release.strip=true")
        .env("CARGO_TARGET_DIR", &options.target_dir)
        .status()
        .map_err(BuildError::Cargo)?;
    if !status.success() {
        return Err(BuildError::Failed {
            dir: dir.display().to_string(),
            code: status.code().unwrap_or(-1),
        });
    }
    let built = options
        .target_dir
        .join(TARGET)
        .join("release")
        .join(&artifact);
    let bytes = std::fs::read(&built)?;
    // Loaded (verified and compiled) before it replaces the old one.
    GraderEngine::global().load(
        &bytes,
        &dir.display().to_string(),
        &built.display().to_string(),
    )?;
    let out = dir.join(COMPONENT_FILE);
    let temp = dir.join(format!(".{COMPONENT_FILE}.{}", std::process::id()));
    std::fs::write(&temp, &bytes)?;
    std::fs::rename(&temp, &out)?;
    Ok(Built {
        dir: dir.to_path_buf(),
        bytes: bytes.len() as u64,
        millis: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_grader_crates_under_lessons() {
        let root = std::env::temp_dir().join(format!("grader-find-{}", std::process::id()));
        let a = root.join("lab/graders/a");
        let b = root.join("other/lab2/graders/b");
        let not = root.join("lab/tools/c");
        for d in [&a, &b, &not] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("Cargo.toml"), "").unwrap();
        }
        assert_eq!(find(&root), vec![a.clone(), b]);
        assert_eq!(find(&a), vec![a]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_library_the_graders_share_is_no_grader() {
        let root = std::env::temp_dir().join(format!("grader-shared-{}", std::process::id()));
        let graders = root.join("lab/graders");
        for (name, manifest) in [
            ("common", "[package]\nname = \"common\"\n"),
            (
                "a",
                "[package]\nname = \"a\"\n[lib]\ncrate-type = [\"cdylib\"]\n\
                 [dependencies]\ncommon = { path = \"../common\" }\n",
            ),
            ("b", "[package]\nname = \"b\"\n"),
        ] {
            std::fs::create_dir_all(graders.join(name)).unwrap();
            std::fs::write(graders.join(name).join("Cargo.toml"), manifest).unwrap();
        }
        // b is no cdylib either, but nothing depends on it: a grader (its
        // build then says what is wrong).
        assert_eq!(find(&root), vec![graders.join("a"), graders.join("b")]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_grader_must_be_a_cdylib() {
        let dir = std::env::temp_dir().join(format!("grader-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"image-built\"\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        assert_eq!(artifact_name(&manifest).unwrap(), "image_built.wasm");
        std::fs::write(&manifest, "[package]\nname = \"x\"\n").unwrap();
        let err = artifact_name(&manifest).unwrap_err().to_string();
        assert!(err.contains("cdylib"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
