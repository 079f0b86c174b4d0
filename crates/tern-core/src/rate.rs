//! A rate in parts per second, as a token bucket: the SMPP server's per-account `--smpp-rate`
//! and an SMPP connector's `max_submits_per_sec` are both counted so. Pure: the caller passes
//! the time, so the rule is tested without a clock. A bucket kept in memory is a
//! [`TokenBucket`]; one kept in a store, shared by every node of a gateway, is a
//! [`StoredBucket`] taken from with [`take_stored`]: the same rule.

use std::time::{Duration, Instant};

/// A bucket holding at most one second's worth of parts, refilled continuously at `rate` per
/// second; it starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` parts per second (at least 1) at `now`.
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate.max(1));
        TokenBucket {
            rate,
            tokens: rate,
            at: now,
        }
    }

    /// An empty bucket of `rate` parts per second at `now`: a rate taken over from other
    /// holders (another node's share), who may have used this second's parts already.
    pub fn empty(rate: u32, now: Instant) -> TokenBucket {
        let mut bucket = TokenBucket::new(rate, now);
        bucket.tokens = 0.0;
        bucket
    }

    /// Whether it refills at `rate` parts per second (at least 1, as [`TokenBucket::new`]).
    pub fn refills_at(&self, rate: u32) -> bool {
        self.rate == f64::from(rate.max(1))
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = refilled(self.tokens, self.rate, elapsed);
        self.at = now.max(self.at);
    }

    /// Take `parts` at `now` if they fit (`true`); else take nothing (`false`).
    pub fn try_take(&mut self, parts: u32, now: Instant) -> bool {
        self.refill(now);
        let wanted = f64::from(parts);
        if self.tokens >= wanted {
            self.tokens -= wanted;
            true
        } else {
            false
        }
    }

    /// Take `parts` at `now`, going into debt if need be: how long the caller waits before it
    /// may send them (zero when they fit now). Callers that wait in turn are spaced at the rate.
    pub fn take_or_wait(&mut self, parts: u32, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= f64::from(parts);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// `tokens` of a bucket of `rate` per second after `elapsed` seconds: refilled at the rate, at
/// most one second's worth.
fn refilled(tokens: f64, rate: f64, elapsed: f64) -> f64 {
    (tokens + elapsed.max(0.0) * rate).min(rate)
}

/// A bucket as a store keeps it between takes: its tokens as of `at_ms` (milliseconds since
/// the epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredBucket {
    pub tokens: f64,
    pub at_ms: i64,
}

/// Take `parts` at `now_ms` from `stored`, a bucket of `rate` parts per second (`None`: a new
/// one, full), as [`TokenBucket::try_take`] does: whether they fit (nothing is taken when they
/// do not), and the bucket to store.
pub fn take_stored(
    stored: Option<StoredBucket>,
    rate: u32,
    parts: u32,
    now_ms: i64,
) -> (bool, StoredBucket) {
    let rate = f64::from(rate.max(1));
    let (tokens, at_ms) = match stored {
        Some(bucket) => (
            refilled(bucket.tokens, rate, (now_ms - bucket.at_ms) as f64 / 1000.0),
            now_ms.max(bucket.at_ms),
        ),
        None => (rate, now_ms),
    };
    let wanted = f64::from(parts);
    if tokens >= wanted {
        (
            true,
            StoredBucket {
                tokens: tokens - wanted,
                at_ms,
            },
        )
    } else {
        (false, StoredBucket { tokens, at_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_bucket_follows_the_same_rule() {
        let start = 1_000_000;
        let (taken, bucket) = take_stored(None, 3, 2, start);
        assert!(taken);
        let (taken, bucket) = take_stored(Some(bucket), 3, 1, start);
        assert!(taken);
        let (taken, bucket) = take_stored(Some(bucket), 3, 1, start);
        assert!(!taken);
        assert_eq!(bucket.tokens, 0.0);
        // A third of a second refills one part.
        let (taken, bucket) = take_stored(Some(bucket), 3, 1, start + 340);
        assert!(taken);
        let (taken, bucket) = take_stored(Some(bucket), 3, 1, start + 340);
        assert!(!taken);
        // Never more than a second's worth; a clock that went back refills nothing.
        let (taken, bucket) = take_stored(Some(bucket), 3, 4, start + 60_000);
        assert!(!taken);
        assert_eq!(bucket.tokens, 3.0);
        let (taken, bucket) = take_stored(Some(bucket), 3, 3, start + 59_000);
        assert!(taken);
        assert_eq!(bucket.at_ms, start + 60_000);
        // A new bucket that cannot hold the parts refuses them.
        assert!(!take_stored(None, 3, 4, start).0);
    }

    #[test]
    fn a_second_s_worth_then_the_refill() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, start);
        assert!(bucket.try_take(2, start));
        assert!(bucket.try_take(1, start));
        assert!(!bucket.try_take(1, start));
        // A third of a second refills one part.
        let later = start + Duration::from_millis(340);
        assert!(bucket.try_take(1, later));
        assert!(!bucket.try_take(1, later));
        // Never more than a second's worth.
        let much_later = start + Duration::from_secs(60);
        assert!(!bucket.try_take(4, much_later));
        assert!(bucket.try_take(3, much_later));
    }

    #[test]
    fn an_empty_bucket_refills_from_nothing() {
        let start = Instant::now();
        let mut bucket = TokenBucket::empty(4, start);
        assert!(!bucket.try_take(1, start));
        assert!(bucket.try_take(1, start + Duration::from_millis(250)));
        assert!(!bucket.try_take(1, start + Duration::from_millis(250)));
        assert!(bucket.refills_at(4));
        assert!(!bucket.refills_at(5));
        assert!(TokenBucket::new(0, start).refills_at(1));
    }

    #[test]
    fn waiting_senders_are_spaced_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        assert_eq!(bucket.take_or_wait(10, start), Duration::ZERO);
        assert_eq!(bucket.take_or_wait(1, start), Duration::from_millis(100));
        assert_eq!(bucket.take_or_wait(1, start), Duration::from_millis(200));
        let later = start + Duration::from_millis(200);
        assert_eq!(bucket.take_or_wait(1, later), Duration::from_millis(100));
    }
}
