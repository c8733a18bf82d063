//! Workshops as the web app shows them: a learner's step strip and what a
//! failed join tells the learner (join codes are `protocol::join_code`). Plain Rust, tested natively.

use protocol::api::ErrorCode;

/// One step of a learner's strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMark {
    Passed,
    /// The step the learner is on, not passed yet.
    Current,
    Todo,
}

/// The strip of a lesson of `steps` steps for a learner who passed `passed`
/// and is on `current` (`steps` when finished).
pub fn step_strip(passed: &[usize], current: usize, steps: usize) -> Vec<StepMark> {
    (0..steps)
        .map(|n| {
            if passed.contains(&n) {
                StepMark::Passed
            } else if n == current {
                StepMark::Current
            } else {
                StepMark::Todo
            }
        })
        .collect()
}

/// "2/5": steps passed of the lesson's (passes beyond it are not counted).
pub fn passed_label(passed: &[usize], steps: usize) -> String {
    let done = passed.iter().filter(|&&n| n < steps).count();
    format!("{done}/{steps}")
}

/// What a learner reads when joining failed with `code`; `message` is the
/// server's own words, used where they say more than a code can.
pub fn join_error(code: Option<ErrorCode>, message: &str) -> String {
    match code {
        Some(ErrorCode::NotFound) => {
            "No open workshop has this code. Check the code with your instructor: the workshop may have ended.".into()
        }
        Some(ErrorCode::WorkshopFull) => {
            "This workshop is full: every seat is taken. Ask your instructor for a seat.".into()
        }
        Some(ErrorCode::Conflict) => {
            "Someone in this workshop already uses this name. Add an initial or pick another one.".into()
        }
        Some(ErrorCode::BadRequest) => format!("Please check your name: {message}."),
        Some(ErrorCode::RateLimited) => {
            "Too many wrong codes from this network. Wait a minute, then try again.".into()
        }
        Some(ErrorCode::ServerFull) => {
            "The playground is full right now. Try again in a minute, or tell your instructor.".into()
        }
        Some(_) => format!("Joining failed: {message}"),
        None => format!("Joining failed: {message}. Check your connection and try again."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_mark_passed_current_and_todo() {
        use StepMark::*;
        assert_eq!(step_strip(&[0, 2], 1, 4), [Passed, Current, Passed, Todo]);
        // On a passed step, or finished: nothing is "current".
        assert_eq!(step_strip(&[0], 0, 2), [Passed, Todo]);
        assert_eq!(step_strip(&[0, 1], 2, 2), [Passed, Passed]);
        assert_eq!(passed_label(&[0, 1, 7], 5), "2/5");
        assert_eq!(passed_label(&[], 3), "0/3");
    }

    #[test]
    fn join_errors_are_told_apart_by_code() {
        assert!(join_error(Some(ErrorCode::NotFound), "x").contains("No open workshop"));
        assert!(join_error(Some(ErrorCode::WorkshopFull), "x").contains("full"));
        assert!(join_error(Some(ErrorCode::Conflict), "x").contains("already uses this name"));
        assert_eq!(
            join_error(Some(ErrorCode::BadRequest), "a name has 1 to 40 characters"),
            "Please check your name: a name has 1 to 40 characters."
        );
        assert!(join_error(None, "offline").contains("connection"));
    }
}
