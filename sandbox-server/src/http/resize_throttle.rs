//! Resizes from one terminal socket, at most one per interval.
//!
//! Each resize that reaches the PTY is a runtime API call (a Docker
//! `exec resize`), and a client may send thousands per second (a window
//! dragged, or a hostile loop). The first resize after a quiet interval goes
//! through at once; later ones within the interval are held, and only the last
//! held size is applied when the interval ends, so the PTY ends at the size
//! the client last asked for.

use std::time::Duration;

use tokio::time::Instant;

/// A terminal size: (cols, rows).
pub type Size = (u16, u16);

/// The resize state of one socket.
#[derive(Debug)]
pub struct ResizeThrottle {
    interval: Duration,
    /// When the next resize may reach the PTY.
    next: Option<Instant>,
    /// The last size asked for while the interval ran.
    held: Option<Size>,
}

impl ResizeThrottle {
    pub fn new(interval: Duration) -> ResizeThrottle {
        ResizeThrottle {
            interval,
            next: None,
            held: None,
        }
    }

    /// A resize arrived at `now`: the size to apply at once, or None when it
    /// is held until [`ResizeThrottle::due_at`].
    pub fn offer(&mut self, size: Size, now: Instant) -> Option<Size> {
        match self.next {
            Some(next) if now < next => {
                self.held = Some(size);
                None
            }
            _ => {
                self.next = Some(now + self.interval);
                self.held = None;
                Some(size)
            }
        }
    }

    /// When the held size is due; None when nothing is held.
    pub fn due_at(&self) -> Option<Instant> {
        self.held.and(self.next)
    }

    /// The held size, once it is due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Size> {
        let due = self.due_at()?;
        if now < due {
            return None;
        }
        self.next = Some(now + self.interval);
        self.held.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    #[test]
    fn a_burst_applies_the_first_size_at_once_and_the_last_when_due() {
        let mut throttle = ResizeThrottle::new(INTERVAL);
        let start = Instant::now();
        let mut applied = Vec::new();
        // 1000 resizes within 50 ms.
        for i in 0..1000u16 {
            let now = start + Duration::from_micros(50 * u64::from(i));
            applied.extend(throttle.offer((80 + i % 100, 24), now));
        }
        assert_eq!(
            applied,
            vec![(80, 24)],
            "only the first goes through at once"
        );
        let due = throttle.due_at().expect("the last size is held");
        assert_eq!(due, start + INTERVAL);
        assert_eq!(throttle.take_due(due - Duration::from_millis(1)), None);
        assert_eq!(throttle.take_due(due), Some((80 + 999 % 100, 24)));
        assert_eq!(throttle.due_at(), None, "nothing held any more");
    }

    #[test]
    fn a_resize_after_a_quiet_interval_goes_through_at_once() {
        let mut throttle = ResizeThrottle::new(INTERVAL);
        let start = Instant::now();
        assert_eq!(throttle.offer((100, 30), start), Some((100, 30)));
        assert_eq!(throttle.offer((120, 40), start + INTERVAL), Some((120, 40)));
        assert_eq!(throttle.due_at(), None);
    }

    #[test]
    fn a_held_size_applied_starts_a_new_interval() {
        let mut throttle = ResizeThrottle::new(INTERVAL);
        let start = Instant::now();
        throttle.offer((100, 30), start);
        throttle.offer((110, 30), start + Duration::from_millis(10));
        let due = throttle.due_at().unwrap();
        assert_eq!(throttle.take_due(due), Some((110, 30)));
        // Right after, a new resize waits again.
        assert_eq!(
            throttle.offer((120, 30), due + Duration::from_millis(1)),
            None
        );
        assert_eq!(throttle.due_at(), Some(due + INTERVAL));
    }
}
