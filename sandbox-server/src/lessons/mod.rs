//! Lessons: the catalog being served, the lesson model, and where lessons
//! come from. Lessons live in directories on disk (see `docs/lessons.md`):
//! the native format ([`import::native`]), Killercoda/Katacoda scenarios
//! ([`import::killercoda`]) and play-with-docker training posts
//! ([`import::pwd`]) each become a draft that [`assemble`] turns into one
//! [`Lesson`]; [`loader`] finds them. A built-in `shell` lesson (one `base`
//! node) is always there.
//!
//! Nothing here depends on sessions, the store or the configuration: from
//! outside this module it uses only [`crate::runtime`] (`NodeLimits` here,
//! the `Runtime` trait in `exec`).

pub mod assemble;
pub mod diag;
pub mod import;
pub mod loader;
pub mod markdown;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use protocol::api::{CaptureInfo, LessonDetail, LessonSummary, Step};

use crate::runtime::NodeLimits;

/// Seconds a check may run when the lesson does not say.
pub const DEFAULT_CHECK_TIMEOUT_SECS: u64 = 30;
/// Seconds a node's setup script may run when the lesson does not say.
pub const DEFAULT_SETUP_TIMEOUT_SECS: u64 = 120;
/// Seconds a step's background script may run: it runs while the learner
/// reads, and installs may take minutes.
pub const DEFAULT_ON_ENTER_TIMEOUT_SECS: u64 = 600;

/// A node a lesson asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonNode {
    /// `node1`, `node2`, ...: the hostname and the name in the API.
    pub name: String,
    /// Image name (`base`, `dind`) or full reference.
    pub image: String,
    /// Shell script run in the node once it has started, before the learner gets it.
    pub setup: Option<Script>,
    /// Resources the lesson asks for instead of the server's defaults
    /// (`node_memory_mib`, `node_cpus`, `node_pids`): a Swarm lesson needs more
    /// than a shell lesson.
    pub resources: Resources,
}

/// Per-node resource overrides; `None` keeps the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_mib: Option<u64>,
    /// Thousandths of a CPU.
    pub millicpus: Option<u64>,
    pub pids: Option<i64>,
}

impl LessonNode {
    /// The node's limits: the lesson's overrides on top of the server's defaults.
    pub fn limits(&self, defaults: &NodeLimits) -> NodeLimits {
        let r = &self.resources;
        NodeLimits {
            memory_bytes: r
                .memory_mib
                .map_or(defaults.memory_bytes, |m| (m * 1024 * 1024) as i64),
            nano_cpus: r
                .millicpus
                .map_or(defaults.nano_cpus, |m| (m * 1_000_000) as i64),
            pids: r.pids.unwrap_or(defaults.pids),
        }
    }
}

/// A shell script with a time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub body: String,
    pub timeout_secs: u64,
}

/// A file copied into a node when the session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub node: String,
    /// Absolute path inside the node.
    pub path: String,
    /// Unix permission bits.
    pub mode: u32,
    pub content: Vec<u8>,
}

/// A step's check: a script run in a node (exit 0 passes), or a grader the
/// server runs (`[[steps]] grader = ...`; see `crate::graders`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The node a script runs in (a grader may look at every node).
    pub node: String,
    /// The script; for a grader, only its timeout counts (the body is empty).
    pub script: Script,
    /// Set when the check is a grader: the server runs it, not a node, and
    /// learners never see it.
    pub grader: Option<crate::graders::SharedGrader>,
}

/// A runnable code block: what the Run button types into a node's terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runnable {
    pub node: String,
    /// The code as written: `{{NAME}}` placeholders are filled in when it runs.
    pub code: String,
    /// Ctrl-C is sent first (the block before it is expected to keep running).
    pub interrupt: bool,
    /// It shows an error on purpose: `lesson test` expects its last command
    /// to exit non-zero.
    pub fails: bool,
    /// The value this block's output gives (`capture=NAME regex="..."`).
    pub capture: Option<Capture>,
}

impl Runnable {
    /// A script file's code as a block: no `interrupt`, not expected to
    /// fail, capturing nothing (a solution or a step's foreground script).
    pub fn of_script(node: &str, code: String) -> Runnable {
        Runnable {
            node: node.to_owned(),
            code,
            interrupt: false,
            fails: false,
            capture: None,
        }
    }
}

/// A value captured from a node's terminal output: the last match of
/// `pattern` in a line the node printed (its first group, if it has one),
/// which `{{name}}` in a runnable block stands for. See [`protocol::dialect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub name: String,
    pub node: String,
    pub pattern: CapturePattern,
}

/// A compiled `regex=`; two are equal when their source is (lessons are
/// compared on reload).
#[derive(Debug, Clone)]
pub struct CapturePattern(pub regex::Regex);

impl PartialEq for CapturePattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for CapturePattern {}

/// Largest compiled size of a `regex=` (the regex crate's own limit is 10 MiB):
/// each terminal of a lesson holds its patterns.
pub const MAX_CAPTURE_REGEX_BYTES: usize = 256 * 1024;

impl CapturePattern {
    /// Compiles `regex=` as a lesson gives it; the error says why it is refused.
    pub fn new(source: &str) -> Result<CapturePattern, String> {
        let regex = regex::RegexBuilder::new(source)
            .size_limit(MAX_CAPTURE_REGEX_BYTES)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
                e => e.to_string(),
            })?;
        if regex.captures_len() > 2 {
            return Err(
                "use at most one group `( )`: its match is the value (`(?: )` groups do not count)"
                    .into(),
            );
        }
        Ok(CapturePattern(regex))
    }

    /// The value in `line`: the last match (its group, if any), trimmed;
    /// None when nothing or only blanks match.
    pub fn find(&self, line: &str) -> Option<String> {
        let caps = self.0.captures_iter(line).last()?;
        let m = caps.get(1).or_else(|| caps.get(0))?;
        let value = m.as_str().trim();
        (!value.is_empty()).then(|| value.to_owned())
    }
}

/// A script and the node it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScript {
    pub node: String,
    pub script: Script,
}

/// What runs once per session when a learner first reaches a step or the
/// finish page (Killercoda's per-step `background` and `foreground`
/// scripts). Step 1 is reached when the session starts; a step jumped to
/// is reached, the steps jumped over are not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnEnter {
    /// Run in their nodes unseen, one after the other, as setup scripts
    /// are; a failure is logged and never ends the session.
    pub background: Vec<NodeScript>,
    /// Typed into their nodes' terminals as the Run button types a block,
    /// so the learner sees them run (and what they leave, a `cd`, stays).
    pub typed: Vec<Runnable>,
}

impl OnEnter {
    pub fn is_empty(&self) -> bool {
        self.background.is_empty() && self.typed.is_empty()
    }

    /// These scripts, then `next`'s.
    pub fn then(mut self, next: OnEnter) -> OnEnter {
        self.background.extend(next.background);
        self.typed.extend(next.typed);
        self
    }
}

/// One step: what the learner sees plus what only the server needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonStep {
    pub view: Step,
    pub check: Option<Check>,
    /// What runs when a learner first reaches the step.
    pub on_enter: OnEnter,
    /// A script that solves the step (`lesson test` runs it instead of the blocks).
    pub solution_script: Option<Runnable>,
    /// Runnable blocks of the step's text, in order.
    pub text_blocks: Vec<Runnable>,
    /// Runnable blocks of the step's solution section, in order.
    pub solution_blocks: Vec<Runnable>,
}

impl LessonStep {
    /// What `lesson test` runs to solve the step: the solution script, else
    /// the solution section's runnable blocks, else the text's.
    pub fn solution(&self) -> Vec<Runnable> {
        if let Some(script) = &self.solution_script {
            vec![script.clone()]
        } else if !self.solution_blocks.is_empty() {
            self.solution_blocks.clone()
        } else {
            self.text_blocks.clone()
        }
    }
}

/// A lesson as the server needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    pub summary: LessonSummary,
    pub nodes: Vec<LessonNode>,
    /// Markdown shown before the first step.
    pub intro: String,
    /// Markdown shown after the last step.
    pub finish: String,
    /// What runs when a learner first reaches the finish page.
    pub finish_on_enter: OnEnter,
    pub steps: Vec<LessonStep>,
    pub assets: Vec<Asset>,
    /// Where it was loaded from; none for the built-in lesson.
    pub source: Option<PathBuf>,
    /// Every value a block captures, once per name, in the order declared.
    pub captures: Vec<Capture>,
}

impl Lesson {
    /// What runs when a learner first reaches step `n` (`steps.len()` is
    /// the finish page); None past it.
    pub fn on_enter(&self, n: usize) -> Option<&OnEnter> {
        match self.steps.get(n) {
            Some(step) => Some(&step.on_enter),
            None if n == self.steps.len() => Some(&self.finish_on_enter),
            None => None,
        }
    }

    /// The lesson as `GET /api/v1/lessons/{id}` shows it.
    pub fn detail(&self) -> LessonDetail {
        LessonDetail {
            summary: self.summary.clone(),
            intro: self.intro.clone(),
            steps: self.steps.iter().map(|s| s.view.clone()).collect(),
            finish: self.finish.clone(),
            captures: self
                .captures
                .iter()
                .map(|c| CaptureInfo {
                    name: c.name.clone(),
                    node: c.node.clone(),
                })
                .collect(),
        }
    }
}

/// The lessons being served. Cheap to read; replaced whole on reload.
pub struct Catalog {
    lessons: RwLock<Arc<BTreeMap<String, Arc<Lesson>>>>,
}

impl Catalog {
    /// A catalog holding `lessons` plus the built-in `shell` lesson.
    pub fn new(lessons: impl IntoIterator<Item = Lesson>) -> Catalog {
        let catalog = Catalog {
            lessons: RwLock::new(Arc::new(BTreeMap::new())),
        };
        catalog.replace(lessons);
        catalog
    }

    /// Replaces the served lessons (the built-in one stays unless overridden).
    ///
    /// A lesson equal to the one served keeps its `Arc`, so `Arc::ptr_eq`
    /// tells whether a lesson changed across a reload (the warm pool drains
    /// only the lessons that did).
    pub fn replace(&self, lessons: impl IntoIterator<Item = Lesson>) {
        let mut map = BTreeMap::new();
        let builtin = builtin_shell();
        map.insert(builtin.summary.id.clone(), builtin);
        for lesson in lessons {
            map.insert(lesson.summary.id.clone(), lesson);
        }
        let mut served = self.lessons.write().unwrap_or_else(|e| e.into_inner());
        let map = map
            .into_iter()
            .map(|(id, lesson)| {
                let lesson = match served.get(&id) {
                    Some(old) if **old == lesson => old.clone(),
                    _ => Arc::new(lesson),
                };
                (id, lesson)
            })
            .collect();
        *served = Arc::new(map);
    }

    pub fn get(&self, id: &str) -> Option<Arc<Lesson>> {
        self.lessons
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn summaries(&self) -> Vec<LessonSummary> {
        self.lessons
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|l| l.summary.clone())
            .collect()
    }
}

/// A plain shell on one `base` node: the lesson that always exists.
pub fn builtin_shell() -> Lesson {
    Lesson {
        summary: LessonSummary {
            id: "shell".into(),
            title: "Free shell".into(),
            summary: "A Debian shell in a fresh container, with nothing to follow.".into(),
            nodes: vec!["node1".into()],
            difficulty: "beginner".into(),
            minutes: 0,
            tags: vec!["shell".into()],
        },
        nodes: vec![LessonNode {
            name: "node1".into(),
            image: "base".into(),
            setup: None,
            resources: Resources::default(),
        }],
        intro: String::new(),
        finish: String::new(),
        finish_on_enter: OnEnter::default(),
        steps: Vec::new(),
        assets: Vec::new(),
        source: None,
        captures: Vec::new(),
    }
}
