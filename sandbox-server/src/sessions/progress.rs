//! The learner's progress through a lesson and its rules: which step they are
//! on, which steps they passed. A step with a check becomes passed only by
//! passing that check ([`record_pass`]); a learner's own update
//! ([`accept`]) may keep or drop such a step, never add it.
//!
//! Stored as JSON in the session record; in memory it is typed.

pub use protocol::api::Progress;

/// Why a progress update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgressError {
    #[error("current_step {current}: this lesson has {steps} steps (numbered from 0; {steps} means finished)")]
    NoCurrentStep { current: usize, steps: usize },
    #[error("passed_steps: no step {step} (this lesson has {steps}, numbered from 0)")]
    NoPassedStep { step: usize, steps: usize },
    #[error("step {step} has a check: it becomes passed by POST /api/v1/sessions/{session}/steps/{step}/check")]
    Unchecked { session: String, step: usize },
}

/// What the store keeps of a session's progress: the learner's, and the
/// steps whose on-enter scripts ran (the server's own record, in the same
/// JSON: a learner's update never touches it).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    #[serde(flatten)]
    pub learner: Progress,
    /// Steps (the finish page as `steps`) whose on-enter scripts were
    /// started, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entered_steps: Vec<usize>,
}

impl Stored {
    /// Marks step `n` entered; false when it already was.
    pub fn enter(&mut self, n: usize) -> bool {
        match self.entered_steps.binary_search(&n) {
            Ok(_) => false,
            Err(at) => {
                self.entered_steps.insert(at, n);
                true
            }
        }
    }
}

/// The learner's progress stored as JSON; anything unreadable counts as no
/// progress.
pub fn from_json(json: &str) -> Progress {
    stored_from_json(json).learner
}

/// All of the stored progress; anything unreadable counts as none.
pub fn stored_from_json(json: &str) -> Stored {
    serde_json::from_str(json).unwrap_or_default()
}

pub fn to_json(stored: &Stored) -> String {
    serde_json::to_string(stored).expect("progress serializes")
}

/// Marks `step` passed (its check passed); false when it already was.
pub fn record_pass(progress: &mut Progress, step: usize) -> bool {
    if progress.passed_steps.contains(&step) {
        return false;
    }
    progress.passed_steps.push(step);
    progress.passed_steps.sort_unstable();
    true
}

/// The progress a learner may store instead of `stored`, in a lesson of
/// `steps` steps where `has_check(n)` tells whether step `n` has a check:
/// `current_step` must be a step or `steps` (the learner finished: the web
/// app's finish page), every passed step must exist, passed steps come back
/// sorted without duplicates, and a step with a check stays out unless
/// `stored` has it passed already.
pub fn accept(
    session: &str,
    stored: &Progress,
    mut wanted: Progress,
    steps: usize,
    has_check: impl Fn(usize) -> bool,
) -> Result<Progress, ProgressError> {
    if wanted.current_step > steps {
        return Err(ProgressError::NoCurrentStep {
            current: wanted.current_step,
            steps,
        });
    }
    wanted.passed_steps.sort_unstable();
    wanted.passed_steps.dedup();
    if let Some(&step) = wanted.passed_steps.iter().find(|&&s| s >= steps) {
        return Err(ProgressError::NoPassedStep { step, steps });
    }
    if let Some(&step) = wanted
        .passed_steps
        .iter()
        .find(|&&s| has_check(s) && !stored.passed_steps.contains(&s))
    {
        return Err(ProgressError::Unchecked {
            session: session.to_owned(),
            step,
        });
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(current_step: usize, passed_steps: &[usize]) -> Progress {
        Progress {
            current_step,
            passed_steps: passed_steps.to_vec(),
        }
    }

    /// Steps 0..4, of which 1 and 3 have checks.
    fn checked(n: usize) -> bool {
        n == 1 || n == 3
    }

    #[test]
    fn passed_steps_are_sorted_and_deduplicated() {
        let got = accept("s", &progress(0, &[]), progress(2, &[2, 0, 2]), 4, checked);
        assert_eq!(got, Ok(progress(2, &[0, 2])));
    }

    #[test]
    fn steps_out_of_range_are_refused() {
        assert_eq!(
            accept("s", &Progress::default(), progress(5, &[]), 4, checked),
            Err(ProgressError::NoCurrentStep {
                current: 5,
                steps: 4
            })
        );
        // One past the last step is the finish page.
        assert!(accept("s", &Progress::default(), progress(4, &[]), 4, checked).is_ok());
        assert_eq!(
            accept("s", &Progress::default(), progress(0, &[7]), 4, checked),
            Err(ProgressError::NoPassedStep { step: 7, steps: 4 })
        );
        // A lesson without steps still has a step 0 to be on.
        assert!(accept("s", &Progress::default(), progress(0, &[]), 0, checked).is_ok());
    }

    #[test]
    fn a_checked_step_is_passed_only_by_its_check() {
        let err = accept("s", &progress(0, &[]), progress(1, &[1]), 4, checked).unwrap_err();
        assert_eq!(
            err,
            ProgressError::Unchecked {
                session: "s".into(),
                step: 1
            }
        );
        assert!(err.to_string().contains("/api/v1/sessions/s/steps/1/check"));
        // Once passed by its check, it may be kept or dropped.
        let stored = progress(1, &[1]);
        assert_eq!(
            accept("s", &stored, progress(2, &[1]), 4, checked),
            Ok(progress(2, &[1]))
        );
        assert_eq!(
            accept("s", &stored, progress(2, &[]), 4, checked),
            Ok(progress(2, &[]))
        );
    }

    #[test]
    fn record_pass_adds_once_in_order() {
        let mut p = progress(0, &[3]);
        assert!(record_pass(&mut p, 1));
        assert!(!record_pass(&mut p, 1));
        assert_eq!(p.passed_steps, vec![1, 3]);
    }

    #[test]
    fn json_round_trips_and_garbage_is_no_progress() {
        let mut stored = Stored {
            learner: progress(2, &[0, 1]),
            entered_steps: Vec::new(),
        };
        assert_eq!(
            to_json(&stored),
            r#"{"current_step":2,"passed_steps":[0,1]}"#
        );
        assert!(stored.enter(2) && stored.enter(0) && !stored.enter(2));
        let json = to_json(&stored);
        assert_eq!(stored_from_json(&json), stored);
        assert_eq!(from_json(&json), progress(2, &[0, 1]));
        assert_eq!(stored.entered_steps, vec![0, 2]);
        assert_eq!(from_json("not json"), Progress::default());
    }
}
