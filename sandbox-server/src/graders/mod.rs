//! Graders: lesson checks as WebAssembly components the server runs
//! in-process under wasmtime, so that a learner (root in their nodes) can
//! neither read a check nor fake it. See docs/graders.md.
//!
//! - `mod.rs`: the one [`GraderEngine`] of the process (wasmtime's engine, an
//!   epoch ticker, the compiled-component cache) and [`Grader`], a compiled,
//!   verified component (imports the host interface only, exports `check`).
//! - `host.rs`: the host interface of `graders/wit/grader.wit`, answered
//!   from the runtime, every call bounded and counted.
//! - `run.rs`: one check: a fresh store with a memory limit, epoch
//!   interruption, the step's timeout; traps become a failed check.
//! - `build.rs`: `sandbox-server lesson build`, cargo for `wasm32-wasip2`.

pub mod build;
mod host;
mod run;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;

pub use run::{run_check, GraderContext, GraderLimits, GraderOutcome};

/// The file a grader's directory holds once built (`lesson build`).
pub const COMPONENT_FILE: &str = "grader.wasm";
/// The one interface a grader may import.
pub const HOST_INTERFACE: &str = "playground:grader/host@0.1.0";
/// The one function a grader must export.
pub const CHECK_EXPORT: &str = "check";
/// How often the engine's epoch advances: the granularity at which a
/// running grader yields and its deadline is checked.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a grader cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GraderError {
    #[error("grader {dir} is not built (no {file}): run `sandbox-server lesson build` on the lesson directory")]
    NotBuilt { dir: String, file: &'static str },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a WebAssembly component: {reason}")]
    NotAComponent { path: String, reason: String },
    #[error("{path} imports {import}, but a grader may import only {HOST_INTERFACE}")]
    ForbiddenImport { path: String, import: String },
    #[error("{path} does not export a function `check` (build it with `playground_grader::grader!(check);`)")]
    NoCheck { path: String },
}

/// A compiled grader, ready to run: verified to import nothing but
/// [`HOST_INTERFACE`] and to export `check`.
#[derive(Clone)]
pub struct Grader {
    /// The grader's directory as the lesson names it (`graders/image-built`).
    pub name: String,
    /// SHA-256 of the component's bytes, hex.
    pub digest: String,
    component: Component,
}

impl fmt::Debug for Grader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grader")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish()
    }
}

impl PartialEq for Grader {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.digest == other.digest
    }
}

impl Eq for Grader {}

/// Wasmtime's engine with the settings every grader runs under, and where
/// compiled components are cached. One per process ([`GraderEngine::global`]):
/// lessons load their graders through it and checks run on it.
pub struct GraderEngine {
    engine: wasmtime::Engine,
    cache_dir: RwLock<Option<PathBuf>>,
}

impl GraderEngine {
    /// The process's engine, made on first use.
    pub fn global() -> &'static GraderEngine {
        static ENGINE: OnceLock<GraderEngine> = OnceLock::new();
        ENGINE.get_or_init(|| GraderEngine::new().expect("wasmtime engine"))
    }

    fn new() -> wasmtime::Result<GraderEngine> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Small guards: a grader is a short program, and many may run at once.
        config.max_wasm_stack(512 * 1024);
        let engine = wasmtime::Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("grader-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                match ticker.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            })
            .expect("spawning the grader epoch thread");
        Ok(GraderEngine {
            engine,
            cache_dir: RwLock::new(None),
        })
    }

    /// Keeps compiled components in `dir` (made 0700 if missing), so a
    /// restart does not compile them again. Without it every load compiles.
    pub fn set_cache_dir(&self, dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        *self.cache_dir.write().unwrap_or_else(|e| e.into_inner()) = Some(dir.to_path_buf());
        Ok(())
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Loads the built grader of `dir` (its [`COMPONENT_FILE`]); `name` is how
    /// the lesson names it.
    pub fn load_dir(&self, dir: &Path, name: &str) -> Result<Grader, GraderError> {
        let file = dir.join(COMPONENT_FILE);
        if !file.is_file() {
            return Err(GraderError::NotBuilt {
                dir: dir.display().to_string(),
                file: COMPONENT_FILE,
            });
        }
        let bytes = std::fs::read(&file).map_err(|source| GraderError::Read {
            path: file.display().to_string(),
            source,
        })?;
        self.load(&bytes, name, &file.display().to_string())
    }

    /// Compiles (or takes from the cache) and verifies a component.
    pub fn load(&self, bytes: &[u8], name: &str, path: &str) -> Result<Grader, GraderError> {
        let digest = hex::encode(Sha256::digest(bytes));
        let component = self.compile(bytes, &digest, path)?;
        verify(&self.engine, &component, path)?;
        Ok(Grader {
            name: name.to_owned(),
            digest,
            component,
        })
    }

    fn compile(&self, bytes: &[u8], digest: &str, path: &str) -> Result<Component, GraderError> {
        let not_a_component = |e: wasmtime::Error| GraderError::NotAComponent {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let cache_dir = self
            .cache_dir
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(cache_dir) = cache_dir else {
            return Component::new(&self.engine, bytes).map_err(not_a_component);
        };
        let cached = cache_dir.join(format!("{digest}.cwasm"));
        if cached.is_file() {
            // SAFETY: the cache directory is the server's own (0700, under
            // its data directory), written only below from the output of
            // `precompile_component`; wasmtime checks that the file was
            // made by a compatible engine and refuses it otherwise.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::debug!(file = %cached.display(), "compiled grader not reusable: {e:#}")
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(not_a_component)?;
        let temp = cache_dir.join(format!("{digest}.cwasm.{}", std::process::id()));
        if std::fs::write(&temp, &compiled)
            .and_then(|()| std::fs::rename(&temp, &cached))
            .is_err()
        {
            let _ = std::fs::remove_file(&temp);
            tracing::warn!(dir = %cache_dir.display(), "cannot cache compiled graders there");
        }
        // SAFETY: `compiled` was made by this engine a moment ago.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(not_a_component)
    }
}

/// A grader imports [`HOST_INTERFACE`] and nothing else (no WASI: no
/// files, clock, sockets or environment), and exports the function `check`.
fn verify(engine: &wasmtime::Engine, component: &Component, path: &str) -> Result<(), GraderError> {
    let ty = component.component_type();
    for (import, _) in ty.imports(engine) {
        if import != HOST_INTERFACE {
            return Err(GraderError::ForbiddenImport {
                path: path.to_owned(),
                import: import.to_owned(),
            });
        }
    }
    let exports_check = ty.exports(engine).any(|(name, item)| {
        name == CHECK_EXPORT && matches!(item.ty, ComponentItem::ComponentFunc(_))
    });
    if !exports_check {
        return Err(GraderError::NoCheck {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// A shared, compiled grader as a lesson holds it.
pub type SharedGrader = Arc<Grader>;
