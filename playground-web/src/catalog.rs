//! Catalog search and filters.

use protocol::api::LessonSummary;

/// What the learner typed and picked above the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Free text: every word must appear in the title, summary, id or tags.
    pub text: String,
    /// `beginner`/`intermediate`/`advanced`, or empty for any.
    pub difficulty: String,
    /// A tag, or empty for any.
    pub tag: String,
}

impl Filter {
    pub fn matches(&self, lesson: &LessonSummary) -> bool {
        if !self.difficulty.is_empty() && !lesson.difficulty.eq_ignore_ascii_case(&self.difficulty)
        {
            return false;
        }
        if !self.tag.is_empty()
            && !lesson
                .tags
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&self.tag))
        {
            return false;
        }
        let haystack = format!(
            "{} {} {} {}",
            lesson.title,
            lesson.summary,
            lesson.id,
            lesson.tags.join(" ")
        )
        .to_lowercase();
        self.text
            .split_whitespace()
            .all(|word| haystack.contains(&word.to_lowercase()))
    }

    pub fn apply<'a>(&self, lessons: &'a [LessonSummary]) -> Vec<&'a LessonSummary> {
        lessons.iter().filter(|l| self.matches(l)).collect()
    }
}

/// Every tag used in the catalog, sorted, without duplicates.
pub fn all_tags(lessons: &[LessonSummary]) -> Vec<String> {
    let mut tags: Vec<String> = lessons
        .iter()
        .flat_map(|l| l.tags.iter().cloned())
        .collect();
    tags.sort_by_key(|t| t.to_lowercase());
    tags.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    tags
}

/// Every difficulty used, in the order beginner, intermediate, advanced, others.
pub fn all_difficulties(lessons: &[LessonSummary]) -> Vec<String> {
    let rank = |d: &str| match d {
        "beginner" => 0,
        "intermediate" => 1,
        "advanced" => 2,
        _ => 3,
    };
    let mut ds: Vec<String> = lessons
        .iter()
        .map(|l| l.difficulty.clone())
        .filter(|d| !d.is_empty())
        .collect();
    ds.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    ds.dedup();
    ds
}

/// "About 15 min", or nothing when the lesson does not say.
pub fn duration_label(minutes: u32) -> Option<String> {
    match minutes {
        0 => None,
        m if m < 60 => Some(format!("{m} min")),
        m if m % 60 == 0 => Some(format!("{} h", m / 60)),
        m => Some(format!("{} h {} min", m / 60, m % 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(id: &str, difficulty: &str, tags: &[&str]) -> LessonSummary {
        LessonSummary {
            id: id.into(),
            title: format!("Title of {id}"),
            summary: "Learn containers".into(),
            nodes: vec!["node1".into()],
            difficulty: difficulty.into(),
            minutes: 10,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn filters_by_words_difficulty_and_tag() {
        let all = vec![
            lesson("shell", "", &[]),
            lesson("docker-101", "beginner", &["docker"]),
            lesson("swarm", "advanced", &["docker", "Swarm"]),
        ];
        let ids = |f: &Filter| {
            f.apply(&all)
                .iter()
                .map(|l| l.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&Filter::default()).len(), 3);
        let f = Filter {
            text: "DOCKER contain".into(),
            ..Filter::default()
        };
        assert_eq!(ids(&f), ["docker-101", "swarm"]);
        let f = Filter {
            difficulty: "advanced".into(),
            ..Filter::default()
        };
        assert_eq!(ids(&f), ["swarm"]);
        let f = Filter {
            tag: "swarm".into(),
            ..Filter::default()
        };
        assert_eq!(ids(&f), ["swarm"]);
        assert_eq!(all_tags(&all), ["docker", "Swarm"]);
        assert_eq!(all_difficulties(&all), ["beginner", "advanced"]);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_label(0), None);
        assert_eq!(duration_label(15).as_deref(), Some("15 min"));
        assert_eq!(duration_label(90).as_deref(), Some("1 h 30 min"));
        assert_eq!(duration_label(120).as_deref(), Some("2 h"));
    }
}
