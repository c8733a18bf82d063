//! The learner's progress through a lesson's steps.
//!
//! The server stores it (`GET`/`PUT .../progress`). These are the pure rules:
//! marking steps, clamping to the lesson.

use protocol::api::Progress;

/// Marks step `n` passed (idempotent, keeps the list ascending).
pub fn mark_passed(p: &mut Progress, n: usize) {
    if let Err(i) = p.passed_steps.binary_search(&n) {
        p.passed_steps.insert(i, n);
    }
}

pub fn is_passed(p: &Progress, n: usize) -> bool {
    p.passed_steps.binary_search(&n).is_ok()
}

/// Drops what does not fit a lesson of `steps` steps (a lesson edited since),
/// and sorts. `current_step == steps` means "finished" and is kept.
pub fn clamp(mut p: Progress, steps: usize) -> Progress {
    p.passed_steps.retain(|&n| n < steps);
    p.passed_steps.sort_unstable();
    p.passed_steps.dedup();
    p.current_step = p.current_step.min(steps);
    p
}

/// "2 of 5 steps done".
pub fn summary(p: &Progress, steps: usize) -> String {
    let done = p.passed_steps.iter().filter(|&&n| n < steps).count();
    format!("{done} of {steps} steps done")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marking_is_sorted_and_idempotent() {
        let mut p = Progress::default();
        mark_passed(&mut p, 3);
        mark_passed(&mut p, 1);
        mark_passed(&mut p, 3);
        assert_eq!(p.passed_steps, [1, 3]);
        assert!(is_passed(&p, 1) && !is_passed(&p, 2));
        assert_eq!(summary(&p, 4), "2 of 4 steps done");
    }

    #[test]
    fn clamps_to_the_lesson() {
        let p = Progress {
            current_step: 9,
            passed_steps: vec![5, 0, 0, 2],
        };
        let p = clamp(p, 3);
        assert_eq!(p.current_step, 3);
        assert_eq!(p.passed_steps, [0, 2]);
    }

    #[test]
    fn round_trips_as_json() {
        let mut m = Progress {
            current_step: 2,
            passed_steps: vec![0],
        };
        mark_passed(&mut m, 1);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"current_step":2,"passed_steps":[0,1]}"#);
        let empty: Progress = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Progress::default());
    }
}
