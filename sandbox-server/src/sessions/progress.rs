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
    #[error("current_step {current}: this lesson has {steps} steps (numbered from 0)")]
    NoCurrentStep { current: usize, steps: usize },
    #[error("passed_steps: no step {step} (this lesson has {steps}, numbered from 0)")]
    NoPassedStep { step: usize, steps: usize },
    #[error("step {step} has a check: it becomes passed by POST /api/v1/sessions/{session}/steps/{step}/check")]
    Unchecked { session: String, step: usize },
}

/// The progress stored as JSON; anything unreadable counts as no progress.
pub fn from_json(json: &str) -> Progress {
    serde_json::from_str(json).unwrap_or_default()
}

pub fn to_json(progress: &Progress) -> String {
    serde_json::to_string(progress).expect("progress serializes")
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
/// `current_step` and every passed step must exist (an empty lesson has step
/// 0), passed steps come back sorted without duplicates, and a step with a
/// check stays out unless `stored` has it passed already.
pub fn accept(
    session: &str,
    stored: &Progress,
    mut wanted: Progress,
    steps: usize,
    has_check: impl Fn(usize) -> bool,
) -> Result<Progress, ProgressError> {
    if wanted.current_step >= steps.max(1) {
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
            accept("s", &Progress::default(), progress(4, &[]), 4, checked),
            Err(ProgressError::NoCurrentStep {
                current: 4,
                steps: 4
            })
        );
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
        let p = progress(2, &[0, 1]);
        assert_eq!(from_json(&to_json(&p)), p);
        assert_eq!(from_json("not json"), Progress::default());
    }
}
