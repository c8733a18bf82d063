//! Reconnect delays: exponential backoff with a cap and jitter.

/// First delay after a dropped connection, in milliseconds.
pub const BASE_MS: u32 = 250;
/// Longest delay between attempts, in milliseconds.
pub const MAX_MS: u32 = 8_000;

/// Delay before reconnect attempt `attempt` (0 for the first), given a jitter
/// source `jitter` in `0.0..1.0`. The delay doubles per attempt up to
/// [`MAX_MS`] and is spread over 75%..100% of that so that many tabs dropped
/// at once do not come back in lockstep.
pub fn delay_ms(attempt: u32, jitter: f64) -> u32 {
    let full = BASE_MS.saturating_mul(1u32 << attempt.min(16)).min(MAX_MS);
    let jitter = jitter.clamp(0.0, 1.0);
    (f64::from(full) * (0.75 + 0.25 * jitter)) as u32
}

/// Parses an HTTP `Retry-After` header given in seconds; a date or garbage
/// gives None.
pub fn parse_retry_after(value: &str) -> Option<u32> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        assert_eq!(delay_ms(0, 1.0), 250);
        assert_eq!(delay_ms(1, 1.0), 500);
        assert_eq!(delay_ms(2, 1.0), 1000);
        assert_eq!(delay_ms(5, 1.0), 8000);
        assert_eq!(delay_ms(60, 1.0), 8000);
        assert_eq!(delay_ms(0, 0.0), 187);
        assert!(delay_ms(3, 0.5) >= 1500 && delay_ms(3, 0.5) <= 2000);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("30"), Some(30));
        assert_eq!(parse_retry_after(" 5 "), Some(5));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
