//! The lesson catalog: what sessions can be started for, and which nodes each
//! gets. Lessons come from directories on disk (see `docs/lessons.md`); a
//! built-in `shell` lesson (one `base` node) is always there.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use protocol::api::LessonSummary;

/// A node a lesson asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonNode {
    /// `node1`, `node2`, ...: the hostname and the name in the API.
    pub name: String,
    /// Image name (`base`, `dind`) or full reference.
    pub image: String,
}

/// A lesson as the session layer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    pub summary: LessonSummary,
    pub nodes: Vec<LessonNode>,
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
    pub fn replace(&self, lessons: impl IntoIterator<Item = Lesson>) {
        let mut map = BTreeMap::new();
        let builtin = builtin_shell();
        map.insert(builtin.summary.id.clone(), Arc::new(builtin));
        for lesson in lessons {
            map.insert(lesson.summary.id.clone(), Arc::new(lesson));
        }
        *self.lessons.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
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
        }],
    }
}
