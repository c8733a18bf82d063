//! Session creation per client, rate-limited by a token bucket.
//!
//! `max_sessions_per_ip` bounds how many sessions a client holds at once, but
//! not how fast it churns them: create, delete, create again, each time
//! networks and containers started and removed. The bucket holds `per_minute`
//! tokens, refills at `per_minute` a minute, and each creation takes one; an
//! empty bucket answers 429 with the seconds until the next token. A request
//! refused before anything started (an unknown lesson, a full server) gives
//! its token back, so a client polling for a lesson is not locked out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before full ones (clients idle long enough) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by client.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` tokens at most, refilled at `per_minute` a minute.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter {
            capacity: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client` at `now`, or says how long until one is there.
    pub fn take(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < self.capacity);
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }

    /// Whether `client` has a token at `now`, without taking it; else how
    /// long until one is there.
    pub fn peek(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = buckets
            .get(client)
            .map_or(self.capacity, |b| self.refilled(*b, now));
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }

    /// Returns the token of a creation that started nothing.
    pub fn give_back(&self, client: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = buckets.get_mut(client) {
            bucket.tokens = (bucket.tokens + 1.0).min(self.capacity);
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_gets_the_capacity_then_waits_for_refills() {
        let limiter = RateLimiter::per_minute(10);
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(limiter.take("1.2.3.4", start), Ok(()), "creation {i}");
        }
        let wait = limiter.take("1.2.3.4", start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(6), "one token every 6 s");
        // Another client has its own bucket.
        assert_eq!(limiter.take("5.6.7.8", start), Ok(()));
        // After the wait, exactly one more.
        let later = start + wait;
        assert_eq!(limiter.take("1.2.3.4", later), Ok(()));
        assert!(limiter.take("1.2.3.4", later).is_err());
    }

    #[test]
    fn peeking_takes_nothing() {
        let limiter = RateLimiter::per_minute(2);
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.peek("c", now), Ok(()), "a new client has tokens");
        }
        limiter.take("c", now).unwrap();
        limiter.take("c", now).unwrap();
        assert_eq!(limiter.peek("c", now), Err(Duration::from_secs(30)));
    }

    #[test]
    fn a_token_given_back_can_be_taken_again() {
        let limiter = RateLimiter::per_minute(1);
        let now = Instant::now();
        limiter.take("c", now).unwrap();
        assert!(limiter.take("c", now).is_err());
        limiter.give_back("c");
        limiter.take("c", now).unwrap();
        limiter.give_back("c");
        limiter.give_back("c");
        limiter.take("c", now).unwrap();
        assert!(limiter.take("c", now).is_err(), "never above the capacity");
    }

    #[test]
    fn an_idle_client_is_back_to_a_full_bucket_and_no_more() {
        let limiter = RateLimiter::per_minute(3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take("c", start).unwrap();
        }
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            limiter.take("c", much_later).unwrap();
        }
        assert!(limiter.take("c", much_later).is_err());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_clients_came() {
        let limiter = RateLimiter::per_minute(10);
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            limiter.take(&format!("c{i}"), start).unwrap();
        }
        let later = start + Duration::from_secs(60);
        limiter.take("new", later).unwrap();
        let kept = limiter.buckets.lock().unwrap().len();
        assert_eq!(kept, 1, "only the new client's bucket is kept");
    }
}
